/*
 * worker.h — worker threads and their run queues (sched/ only).
 *
 * Lock order (outer first): channel locks (by address) → timer heap lock →
 * scheduler idle lock → global run queue lock → stack pool lock.
 * Run queue slots and runnext are lock-free.
 */
#ifndef WEFT_SCHED_WORKER_H
#define WEFT_SCHED_WORKER_H

#include <pthread.h>

#include "internal.h"

#define WEFT__RUNQ_SIZE 256u /* power of two; Go uses the same */
/* Direct switches between scheduler passes (timers, the global queue,
 * fairness to the run queue: worker.c).  Go uses the same period. */
#define WEFT__SCHED_BUDGET 61

/* A 4-ary min-heap of timers, one per worker (sched/timer.c). */
typedef struct weft__timerheap {
    weft__lock lock;
    weft__timer **slots;
    size_t len, cap;
    weft__aword next_when;     /* earliest deadline, INT64_MAX if empty (racy hint) */
    struct weft__worker *owner;
} weft__timerheap;

typedef struct weft__worker {
    /* Owner-only, hot. */
    weft__task *cur;                 /* running task, NULL in the scheduler */
    struct weft__frame sched_frame;  /* the worker thread's own stack */
    void (*after_fn)(void *);        /* run by whichever context resumes next */
    void *after_arg;
    weft__lock *after_lock;          /* and a lock to release (timer heap) */
    bool spinning;                   /* counted in weft__S.nspinning */
    void *asan_fake_stack;           /* scheduler context's ASan save slot */
    void *tsan_fiber;                /* scheduler context's TSan fiber */
    void *sched_stack_lo;            /* the thread's own stack, for ASan */
    size_t sched_stack_size;
    int sched_budget;                /* direct switches left before a scheduler pass */
    bool fair_pass;                  /* this pass was forced by the budget (worker.c) */
    AO_t fair_head;                  /* runq_head at the last such pass */
    int *errno_ptr;                  /* this worker thread's errno */
    weft__aword sched_tick;          /* schedules so far; thieves read it */
    int id;
    uint64_t switches;
    weft__aword exited;              /* tasks that returned here; only the owner writes */
    struct weft__stackcache *stacks;

    /* Run queue: single producer (owner), multiple consumers (owner and
     * thieves).  head is advanced by CAS, tail only by the owner. */
    __attribute__((aligned(WEFT__CACHELINE))) weft__aword runq_head;
    __attribute__((aligned(WEFT__CACHELINE))) weft__aword runq_tail;
    weft__aword runq[WEFT__RUNQ_SIZE]; /* weft__task *; atomic: thieves read slots racily */
    /* On a line of its own: the owner writes it at nearly every hand-off
     * and spawn, while an idle worker polls head and tail every
     * microsecond; sharing tail's line, each poll cost the owner a miss. */
    __attribute__((aligned(WEFT__CACHELINE))) weft__aword runnext; /* weft__task *, CASed by owner and thieves */

    /* Idle parking. */
    __attribute__((aligned(WEFT__CACHELINE))) weft__aint park_word;
    weft__aword is_idle;
    weft__aword sleep_until;         /* deadline the idle worker sleeps to */
    weft__aword in_poll;             /* sleeping in epoll_wait, not on park_word */
    struct weft__worker *idle_next;

    weft__timerheap timers;

    pthread_t thread;
    int cpu;                         /* pinned CPU (os index) or -1 */
    int *steal_order;                /* victims, nearest cache first */
    int steal_n;                     /* entries in steal_order */
    bool spare;                      /* started by the monitor for a blocked worker */
    weft__aint tid;                  /* its OS thread id (the monitor reads its state) */
    int steal_near;                  /* how many share the nearest level */
    /* What this worker, as a thief, last saw of each victim's scheduling
     * (worker.c, steal_verdict); owner-only. */
    struct weft__steal_seen {
        AO_t tick;                   /* the victim's sched_tick at `at` */
        int64_t at;                  /* start of the current look, ns */
        int verdict;                 /* last: 1 steal, 0 undecided, -1 leave */
    } steal_seen[64];
} weft__worker;

_Static_assert(offsetof(weft__worker, cur) == 0, "weft__self_on reads cur at offset 0");

/* Global scheduler state (sched/worker.c). */
typedef struct weft__sched {
    weft__worker **workers;          /* room for the base workers and every spare */
    weft__aint nworkers;             /* workers started: the base ones, then spares */
    int nbase;                       /* workers started by weft_init */
    int nslots;                      /* room in workers[] */
    size_t default_stack;
    bool pin;
    weft__aword running;             /* 1 between init and shutdown */
    weft__aword stopping;

    /* Global run queue: a FIFO under a lock, for tasks readied off-worker
     * and runq overflow. */
    __attribute__((aligned(WEFT__CACHELINE))) weft__lock gq_lock;
    weft__task *gq_head, *gq_tail;
    weft__aword gq_len;

    /* Idle workers and spinning workers (Go's rule: at most one worker
     * is woken while another is already spinning for work). */
    __attribute__((aligned(WEFT__CACHELINE))) weft__lock idle_lock;
    weft__worker *idle_list;
    weft__aword nidle;
    weft__aword nspinning;
} weft__sched;

extern weft__sched weft__S;

/* Workers in workers[] right now.  acquire: a spare's record is complete
 * before the count that includes it is published (sched/worker.c); loops
 * over workers read it once and see a prefix of a growing array. */
static inline int weft__nworkers(void) { return (int)weft__iload_acq(&weft__S.nworkers); }

/* runq.c */
bool weft__runq_put(weft__worker *w, weft__task *t);     /* false: full */
void weft__runq_put_or_global(weft__worker *w, weft__task *t);
weft__task *weft__runq_get(weft__worker *w);
/* The head of w's ring only, leaving runnext where it is. */
weft__task *weft__runq_get_queued(weft__worker *w);
/* runq_get's first look, inline for the switch path: the partner a running
 * task just readied waits in runnext. */
static inline weft__task *weft__runq_get_fast(weft__worker *w)
{
    AO_t next = weft__load_relaxed(&w->runnext);
    /* acquire: the task's frame was written before it was published. */
    if (WEFT__LIKELY(next != 0) && weft__cas_acq(&w->runnext, next, 0))
        return (weft__task *)next;
    return weft__runq_get(w);
}
/* Put t in w's runnext (w's own thread only); returns the task it
 * displaced, or 0.  Others only ever empty the slot (thieves and the
 * monitor CAS it to 0), never fill it: so a slot the owner finds empty
 * stays empty until the owner's own store, and a release store publishes
 * t (its frame was written before) as the exchange did, without a locked
 * instruction.  Only a full slot needs the exchange, which tells whether
 * its task was taken meanwhile.  No caller needs a full barrier here:
 * the owner runs runnext itself, and a wake-up for it (weft__wakep) has
 * its own. */
static inline AO_t weft__runnext_put(weft__worker *w, weft__task *t)
{
    AO_t old = weft__load_relaxed(&w->runnext);
    if (WEFT__LIKELY(old == 0)) {
        weft__store_rel(&w->runnext, (AO_t)t);
        return 0;
    }
    return weft__xchg_full(&w->runnext, (AO_t)t);
}
weft__task *weft__runq_steal(weft__worker *thief, weft__worker *victim, bool take_runnext);
bool weft__runq_empty(weft__worker *w);
/* Move all of victim's queued tasks (runnext too) to the global queue:
 * its thread is blocked in the kernel (sysmon.c).  Returns how many. */
size_t weft__runq_handoff(weft__worker *victim);
void weft__gq_put(weft__task *t);
void weft__gq_put_batch(weft__task *head, weft__task *tail, size_t n);
weft__task *weft__gq_get(weft__worker *w, size_t max);

/* worker.c */
void weft__wakep(void);
void weft__worker_wake(weft__worker *w);
void weft__schedule_out(weft__worker *w, weft__task *self); /* switch to next work */
/* The same for a task that returned (state DEAD, after_fn set to free its
 * stack): its context is not saved, and this does not return. */
__attribute__((noreturn)) void weft__schedule_exit(weft__worker *w, weft__task *self);
void weft__run_after(weft__worker *w);
void weft__yield_requeue(weft__task *t);
void weft__run_child_first(weft__worker *w, weft__task *parent, weft__task *child);
int weft__spare_start(void);

/* timer.c */
void weft__timerheap_init(weft__timerheap *h, weft__worker *owner);
void weft__timerheap_destroy(weft__timerheap *h);
void weft__timerheap_detach_all(weft__timerheap *h);
int64_t weft__timers_run(weft__timerheap *h, int64_t now);   /* returns next deadline */
int64_t weft__timerheap_next(weft__timerheap *h);
/* Start tm on the caller's heap and return with that heap's lock held
 * (park_until releases it after the switch). */
weft__lock *weft__timer_start_locked(weft__timer *tm, int64_t when);

/* stack.c */
struct weft__stack;
int weft__stack_global_init(void);
void weft__stack_global_fini(void);
struct weft__stackcache *weft__stackcache_new(void);
void weft__stackcache_free(struct weft__stackcache *c);
/* Allocate a stack of at least size usable bytes; its top holds room for
 * reserve bytes (the task record).  Returns the base of that reserve;
 * *pooled says which pool it came from, to be given back to
 * weft__stack_free (kept by the caller so that the free need not read the
 * handle). */
void *weft__stack_alloc(size_t size, size_t reserve, void **lo, size_t *usable,
                        struct weft__stack **handle, bool *pooled);
void weft__stack_free(struct weft__stack *s, bool pooled);
void weft__stack_trim(int max);
bool weft__stack_is_guard_fault(void *addr, weft__task **owner);
bool weft__stack_canary_ok(weft__task *t);

/* task.c */
void weft__task_entry(void);
void weft__tasks_reset(void);

#endif
