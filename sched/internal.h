/*
 * internal.h — weft__ declarations shared across modules (sched, chan, ctx,
 * sync, diag).  Nothing here is public API.
 *
 * Vocabulary (see sched/README.md): a *task* is a green thread with its own
 * stack; a *worker* is an OS thread running tasks; a task *parks* when it
 * blocks and is made *ready* (runnable) by whoever unblocks it.  A plain OS
 * thread that is not a task blocks through the same park/ready pair, on a
 * futex instead of a context switch.
 */
#ifndef WEFT_SCHED_INTERNAL_H
#define WEFT_SCHED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "weft.h"
#include "atomic.h"
#include "switch.h"

#define WEFT__LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define WEFT__CACHELINE 64

/* Always-on check of an internal invariant: a broken one aborts loudly. */
#define WEFT__ASSERT(cond)                                                        \
    do {                                                                          \
        if (WEFT__UNLIKELY(!(cond)))                                              \
            weft__panic(__FILE__, __LINE__, "assertion failed: %s", #cond);       \
    } while (0)

__attribute__((noreturn, format(printf, 3, 4))) void weft__panic(const char *file, int line,
                                                                 const char *fmt, ...);

/* ------------------------------------------------------------------ */
/* Locks: a futex mutex that spins briefly first (sched/lock.c).       */
/* Critical sections in weft are a few dozen instructions; the futex   */
/* path only matters when a holder was preempted by the OS.            */
/*                                                                     */
/* The word is also a sequence count, so that lock-free readers can    */
/* tell whether anything a holder guards changed under them (a non-    */
/* blocking select's snapshot, chan/select.c): bit 0 held, bit 1 a     */
/* sleeper may wait on the futex, bits 2.. count the releases.  Each   */
/* release adds 3, which clears bit 0 and carries one into the count   */
/* with bit 1 kept.  A reader that sees the same even word before and  */
/* after its reads saw no holder at work in between (2^30 releases     */
/* would have to fit into its few loads for the count to come round).  */
/* ------------------------------------------------------------------ */
typedef struct weft__lock {
    weft__aint word; /* count << 2 | sleepers << 1 | held */
} weft__lock;
#define WEFT__LOCK_INIT {0}
#define WEFT__LOCK_HELD 1u
#define WEFT__LOCK_SLEEPERS 2u

void weft__lock_slow(weft__lock *l);
void weft__unlock_slow(weft__lock *l);
/* Always inlined: gcc treats paths to a noreturn call (a task's exit) as
 * cold and would call these there, a dozen instructions on every exit. */
static inline __attribute__((always_inline)) bool weft__lock_try(weft__lock *l)
{
    /* relaxed: only a hint for the CAS, which decides (acquire: the
     * critical section must not float above the lock). */
    unsigned v = weft__iload_relaxed(&l->word);
    return !(v & WEFT__LOCK_HELD) && weft__icas_acq(&l->word, v, v | WEFT__LOCK_HELD);
}
static inline __attribute__((always_inline)) void weft__lock_acquire(weft__lock *l)
{
    if (WEFT__UNLIKELY(!weft__lock_try(l)))
        weft__lock_slow(l);
}
static inline __attribute__((always_inline)) void weft__lock_release(weft__lock *l)
{
    /* While the lock is held only its holder changes the word, except a
     * waiter about to sleep, which sets SLEEPERS by CAS.  So the release
     * is a plain store of the word plus 3 (bit 0 cleared, the count up,
     * SLEEPERS kept), not a locked instruction.  A sleeper that marks
     * itself between our load and our store loses its mark to the store
     * and is not woken, which is why a sleeper's futex wait has a timeout
     * (lock.c).  relaxed: our own word; release: the critical section
     * happens-before the next holder's (and before a reader's second look
     * at the word). */
    unsigned v = weft__iload_relaxed(&l->word);
    weft__istore_rel(&l->word, v + 3);
    if (WEFT__UNLIKELY(v & WEFT__LOCK_SLEEPERS))
        weft__unlock_slow(l);
}

/* Held right now?  (acquire: a caller that sees it free also sees what
 * the last holder did.) */
static inline bool weft__lock_held(weft__lock *l)
{
    return weft__iload_acq(&l->word) & WEFT__LOCK_HELD;
}

/* Futex wrappers (sched/lock.c).  timeout_abs: absolute CLOCK_MONOTONIC ns,
 * WEFT_FOREVER for none.  Returns 0, or ETIMEDOUT. */
int weft__futex_wait(weft__aint *word, unsigned expect, int64_t deadline);
void weft__futex_wake(weft__aint *word, int n);

/* ------------------------------------------------------------------ */
/* Wait reasons: what a parked task waits on (for dumps and deadlock).  */
/* ------------------------------------------------------------------ */
enum weft__wait {
    WEFT__WAIT_NONE = 0,
    WEFT__WAIT_CHAN_SEND,
    WEFT__WAIT_CHAN_RECV,
    WEFT__WAIT_SELECT,
    WEFT__WAIT_SLEEP,
    WEFT__WAIT_WG,
    WEFT__WAIT_MUTEX,
    WEFT__WAIT_ONCE,
    WEFT__WAIT_CTX,
    WEFT__WAIT_GROUP,
    WEFT__WAIT_FOREVER, /* select {} */
    WEFT__WAIT_IO,      /* weft_fd_wait and the I/O calls: obj is fd << 2 | WEFT_IN/OUT */
    WEFT__WAIT_BLOCKING, /* weft_blocking: obj is the function */
    WEFT__WAIT_COUNT
};
const char *weft__wait_name(enum weft__wait w);

/* Task states (t->state).  Who owns the stack: RUNNING — the worker running
 * it; RUNNABLE — whoever dequeues it; PARKED — nobody until ready(). */
enum weft__state {
    WEFT__TASK_RUNNABLE = 1,
    WEFT__TASK_RUNNING,
    WEFT__TASK_PARKED,
    WEFT__TASK_DEAD,
};

/* Result of a wait that can be won by several parties (select cases, a
 * deadline timer): t->wake is CASed from 0 to one of these. */
enum { WEFT__WAKE_NONE = 0, WEFT__WAKE_CASE = 1, WEFT__WAKE_TIMEOUT = 2 };

typedef struct weft__worker weft__worker;
struct weft__timer;

typedef struct weft__task {
    struct weft__frame frame;   /* saved registers while not running */
    struct weft__task *next;    /* run/global queue link */
    /* A task WEFT__GQ_AHEAD links further along the global queue, set by
     * whoever chained them (or NULL): only ever prefetched, never read
     * through, since it may be stale (runq.c, weft__gq_get). */
    struct weft__task *gq_ahead;
    weft__aword state;          /* enum weft__state */
    uint64_t id;
    weft_fn fn;
    void *arg;
    int saved_errno;            /* errno survives switches and migration */
    bool is_thread;             /* a plain OS thread's stand-in, not a task */
    bool counted;               /* counts in weft_num_tasks */
    bool is_main;               /* weft_run's main task */
    bool stack_pooled;          /* stack from the default-size pool (stack.c) */
    unsigned io_streak;         /* I/O calls done in a row without parking (sched/io) */
    /* What it waits on; written by the task itself before it parks, read
     * racily by dumps (hence atomic words). */
    weft__aword wait_reason;    /* enum weft__wait */
    weft__aword wait_obj;       /* object pointer, interpreted per reason */
#define WEFT__WAIT_CHANS 4
    weft__aword wait_nchans;    /* select: channels it waits on (stored after the slots) */
    weft__aword wait_chans[WEFT__WAIT_CHANS]; /* select: the first of them, for dumps */
    uint64_t wait_ticks;        /* weft__ticks() when it parked: see weft__task_waited_ns */
    weft__aword wait_pc;        /* where the user blocked: see weft__set_wait_pc */
    /* Selects and deadline waits: who won the wake-up. */
    weft__aword wake;           /* WEFT__WAKE_* */
    void *wait_data;            /* the winning sudog, for select */
    /* Plain threads block on this futex word. */
    weft__aint thread_wake;
    /* Spawn site and naming, for dumps and leak reports. */
    const char *name;
    const char *fn_name;
    const char *file;
    const char *func;
    int line;
    int shard;                  /* registry shard */
    uint32_t reg_slot;          /* its slot in the shard (task.c) */
    /* Stack this task runs on (the task record lives at its top). */
    void *stack_lo;             /* lowest usable address */
    size_t stack_size;          /* usable bytes */
    struct weft__stack *stack;
    void *copy;                 /* weft_go_copy payload (inside the stack) */
    void *tsan_fiber;           /* ThreadSanitizer fiber, when built with it */
    void *asan_fake_stack;      /* AddressSanitizer fake-stack save slot */
} weft__task;

/* Start the cache misses of a task that runs soon: its record and the
 * frames right below it (the record sits at the top of the task's stack,
 * sched/stack.c, and the stack grows down from it).  A task parked for long
 * has all of them cold, each line a miss and its page a TLB miss: when a
 * close or cancel readies thousands, taking them one miss at a time was
 * most of the time they took to run (bench/cancel_fanout).  The depth is a
 * fixed guess, not the task's saved stack pointer, which is itself in the
 * record being fetched: 18 lines cover a task parked in weft_select from
 * its entry point (1 120 bytes, x86-64 Release).  A prefetch never faults,
 * so a stale task pointer only wastes it. */
#define WEFT__PREFETCH_BELOW 18
static inline void weft__task_prefetch(const weft__task *t)
{
    const char *r = (const char *)t;
    for (size_t i = 0; i < (sizeof(weft__task) + 63) / 64; i++)
        __builtin_prefetch(r + 64 * i);
    for (int i = 1; i <= WEFT__PREFETCH_BELOW; i++)
        __builtin_prefetch(r - 64 * i);
}

/* ------------------------------------------------------------------ */
/* Scheduler entry points (sched/worker.c, sched/park.c).              */
/* ------------------------------------------------------------------ */

/* Start the runtime with defaults if it is not running.  0 or an errno. */
int weft__ensure_init(void);

/* The task running on this thread, or this plain thread's stand-in (created
 * on first use).  Never NULL except when out of memory at first use.  Not
 * inlinable: a thread-local address must not be cached across a switch. */
weft__task *weft__current(void);
/* The current worker, or NULL on a thread that is not a worker.
 *
 * It is read afresh at every call: after a switch the same code may run on
 * another thread, and a compiler is free to keep the address of a thread-
 * local variable (or the thread pointer) in a register across calls, which
 * is exactly what must not happen here.  On x86-64 and aarch64 the read is
 * one asm volatile load relative to the thread register itself (%fs /
 * tpidr_el0), which the compiler can neither merge with another nor move
 * across the switch (a call, with side effects as unknown as its own);
 * the variable is initial-exec (worker.c) so its offset is a link-time
 * constant found through the GOT.  Elsewhere, a call that cannot be
 * inlined does the same job. */
extern __thread struct weft__worker *weft__tls_worker;
struct weft__worker *weft__cur_worker_slow(void);
static inline struct weft__worker *weft__cur_worker(void)
{
#if defined(__x86_64__)
    struct weft__worker *w;
    __asm__ __volatile__("movq weft__tls_worker@gottpoff(%%rip), %0\n\t"
                         "movq %%fs:(%0), %0"
                         : "=r"(w));
    return w;
#elif defined(__aarch64__)
    struct weft__worker *w;
    uintptr_t tp, off;
    __asm__ __volatile__("mrs %1, tpidr_el0\n\t"
                         "adrp %2, :gottprel:weft__tls_worker\n\t"
                         "ldr %2, [%2, #:gottprel_lo12:weft__tls_worker]\n\t"
                         "ldr %0, [%1, %2]"
                         : "=r"(w), "=&r"(tp), "=&r"(off));
    return w;
#else
    return weft__cur_worker_slow();
#endif
}

/* Park the caller until weft__ready() is called for it.  lk, if not NULL, is
 * released only after the caller's registers are saved, so a waker that
 * finds the caller under lk can never ready it too early. */
void weft__park(enum weft__wait why, const void *obj, weft__lock *lk);

/* The general form.  unlock(arg), if not NULL, runs once the caller is
 * off its stack (Go's gopark unlockf).  With a deadline other than
 * WEFT_FOREVER the caller also wakes at the deadline; then whoever wakes it
 * must first win weft__claim() (t->wake must be WEFT__WAKE_NONE on entry).
 * Returns t->wake: WEFT__WAKE_CASE or WEFT__WAKE_TIMEOUT (WEFT__WAKE_NONE
 * for a plain park woken by weft__ready without a claim). */
int weft__park_ex(enum weft__wait why, const void *obj, void (*unlock)(void *), void *arg,
                  int64_t deadline);

/* As weft__park, with a deadline (see weft__park_ex). */
int weft__park_until(enum weft__wait why, const void *obj, weft__lock *lk, int64_t deadline);

/* The blocking call site.  A public blocking entry point passes
 * WEFT__CALLER() (its return address: the instruction after the user's
 * call) down to where it parks, which records it with weft__set_wait_pc
 * just before parking; dumps symbolize it to the user's file:line.  weft
 * code that blocks through another public call uses that call's weft__*_pc
 * form and passes its own caller's address on, so the recorded site is
 * always the user's line, never weft's. */
#define WEFT__CALLER() ((const void *)__builtin_return_address(0))
static inline void weft__set_wait_pc(weft__task *t, const void *pc)
{
    /* relaxed: dumps read it only after an acquire load of PARKED, which
     * the park stores with release after this. */
    weft__store_relaxed(&t->wait_pc, (AO_t)pc);
}
/* The public blocking calls with the call site passed in. */
int weft__chan_send_pc(weft_chan *c, const void *elem, const void *pc);
int weft__chan_recv_pc(weft_chan *c, void *out, const void *pc);
int weft__select_pc(weft_case *cases, size_t n, int64_t deadline, const void *pc);
int weft__sleep_pc(int64_t duration, const void *pc);

/* Claim a task parked with weft__park_until (or a select): true if the
 * caller won and must ready it. */
static inline bool weft__claim(weft__task *t)
{
    /* full: the winner's writes to the task's wait data must be visible to
     * the task once it runs, and losers must see the win. */
    return weft__cas_full(&t->wake, WEFT__WAKE_NONE, WEFT__WAKE_CASE);
}

/* Copy one channel element: small fixed sizes become plain moves. */
static inline void weft__copy_elem(void *dst, const void *src, size_t n)
{
    /* One word is by far the commonest element (ints, pointers): a
     * predicted branch, not the jump table the switch compiles to. */
    if (WEFT__LIKELY(n == 8)) {
        __builtin_memcpy(dst, src, 8);
        return;
    }
    switch (n) {
    case 0:
        return;
    case 1:
        __builtin_memcpy(dst, src, 1);
        return;
    case 2:
        __builtin_memcpy(dst, src, 2);
        return;
    case 4:
        __builtin_memcpy(dst, src, 4);
        return;
    case 8:
        __builtin_memcpy(dst, src, 8);
        return;
    case 16:
        __builtin_memcpy(dst, src, 16);
        return;
    default:
        __builtin_memcpy(dst, src, n);
    }
}

/* Stacks guarded only by a canary exist (checked at every switch). */
extern bool weft__canary_in_use __attribute__((visibility("hidden"))); /* read at every switch */

/* Yield to every task waiting anywhere: the caller goes to the global
 * queue's tail, behind tasks the poller readied (Go's preemption does the
 * same with a goroutine that ran too long).  No-op on a plain thread. */
void weft__yield_global(void);

/* Make a parked task runnable (or wake a parked plain thread). */
void weft__ready(weft__task *t);

/* Many tasks made runnable at once (a close or a cancel waking every
 * waiter): weft__readyq_add stores each task's state and queues it on the
 * caller's run queue while it has room, chaining the rest (and plain
 * threads, whose wake is a syscall) for weft__readyq_flush, which puts the
 * chain on the global queue in one lock round, wakes the threads and wakes
 * an idle worker once for the whole batch.  Adding may be done under the
 * lock that made the waiters' decision (each added task has parked: its
 * registers are saved); flush after releasing it.  w: weft__cur_worker()
 * of the caller, NULL on a plain thread (or in the scheduler context). */
#define WEFT__GQ_AHEAD 8

struct weft__readyq {
    struct weft__worker *w;
    weft__task *head, *tail; /* tasks that did not fit the local run queue */
    size_t n;
    weft__task *recent[WEFT__GQ_AHEAD]; /* the last chained, for gq_ahead */
    weft__task *threads;     /* plain threads to wake */
    size_t tasks;            /* tasks added (queued here or chained) */
};
void weft__readyq_init(struct weft__readyq *q, struct weft__worker *w);
void weft__readyq_add(struct weft__readyq *q, weft__task *t);
void weft__readyq_flush(struct weft__readyq *q);

/* Hot-path forms for code that already looked the worker up (it must not
 * reuse w after the call: the task may resume on another worker).  w is
 * weft__cur_worker(), self its running task; w NULL means a plain thread. */
struct weft__worker;
void weft__park_on(struct weft__worker *w, weft__task *self, enum weft__wait why,
                   const void *obj, weft__lock *lk);
void weft__ready_on(struct weft__worker *w, weft__task *t);
/* weft__ready_on returning 0: a hand-off that ends `return
 * weft__ready_ret0(w, t);` is a tail call, so the channel operation's fast
 * path keeps nothing alive across it (no callee-saved registers to save). */
int weft__ready_ret0(struct weft__worker *w, weft__task *t);
/* Readied, RUNNABLE already, from the scheduler context or a plain thread
 * (w NULL): queued on w or globally, and an idle worker woken for it.
 * Returns 0. */
int weft__ready_queued(struct weft__worker *w, weft__task *t);
/* The running task and its worker in one thread-local read.  The running
 * task is the first field of a worker (asserted in worker.h). */
static inline weft__task *weft__self_on(struct weft__worker **wp)
{
    struct weft__worker *w = weft__cur_worker();
    *wp = w;
    return WEFT__LIKELY(w != NULL) ? *(weft__task **)w : weft__current();
}

/* ------------------------------------------------------------------ */
/* Timers (sched/timer.c): callbacks run on a worker's scheduler       */
/* context; they must not block.                                       */
/* ------------------------------------------------------------------ */
typedef void (*weft__timer_fn)(struct weft__timer *tm, void *arg);
typedef struct weft__timer {
    int64_t when;
    int64_t period;            /* > 0: re-armed after each firing */
    weft__timer_fn fn;
    void *arg;
    weft__aword heap;          /* struct weft__timerheap * it is queued in */
    size_t index;              /* position in that heap (under its lock) */
    weft__aword running;       /* callback in progress */
    weft__aword stopped;       /* canceled: do not re-arm a periodic timer */
} weft__timer;

void weft__timer_init(weft__timer *tm, weft__timer_fn fn, void *arg);
/* Queue tm to fire at when (absolute).  Re-arming a queued timer moves it. */
void weft__timer_start(weft__timer *tm, int64_t when, int64_t period);
/* Unqueue tm and wait until a callback in progress has returned.  Returns
 * true if the timer was still queued (it will not fire).  Never call it
 * from tm's own callback. */
bool weft__timer_cancel(weft__timer *tm);
/* Unqueue tm without waiting for a callback in progress: true if it was
 * queued.  For callers that may run inside another timer callback (ctx
 * cancellation); they must keep tm's memory alive by other means until
 * the callback is surely over. */
bool weft__timer_cancel_nowait(weft__timer *tm);
/* True while tm's callback runs. */
bool weft__timer_running(weft__timer *tm);
/* Timers queued right now (for deadlock detection). */
size_t weft__timers_pending(void);

/* Coarse monotonic clock (a few ms resolution, cheap). */
int64_t weft__now_coarse(void);

/* A cycle counter for stamping parks: one instruction on x86-64 (invariant
 * TSC) and aarch64 (the generic timer), the coarse clock elsewhere.  Only
 * differences are meaningful; weft__ticks_to_ns converts them. */
static inline uint64_t weft__ticks(void)
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    return (uint64_t)weft__now_coarse();
#endif
}
int64_t weft__ticks_to_ns(uint64_t delta);
/* How long t has been parked, in ns (meaningful while it is parked). */
int64_t weft__task_waited_ns(const weft__task *t);

/* ------------------------------------------------------------------ */
/* Tasks and registry (sched/task.c).                                  */
/* ------------------------------------------------------------------ */
/* Spawn with full control (internal tasks pass counted=false). */
/* errno, read and written through a call the compiler cannot see into:
 * glibc declares __errno_location const, so its address could otherwise be
 * cached across a switch that moved the task to another thread. */
int weft__errno_get(void);
void weft__errno_set(int e);

int weft__spawn(const struct weft_task_opts *o, weft_fn fn, void *arg, const void *copy,
                size_t copy_size, const char *fn_name, const char *file, int line,
                const char *func, bool counted, weft__task **out);
/* Visit every live task while holding the registry locks: the task record
 * stays valid during the call.  The callback must not block. */
void weft__for_each_task(void (*visit)(weft__task *t, void *arg), void *arg);
/* Id of the next task to be spawned (leak marks). */
uint64_t weft__next_task_id(void);
/* Plain threads (never tasks) waiting for tasks to exit: leak checks and
 * shutdown.  An exit bumps weft__exit_epoch and wakes the futex only while
 * such a waiter is registered, so that the common exit pays no atomic for
 * it.  A waiter therefore registers (weft__exit_watch_begin) before its
 * first look at the tasks and stays registered until it stops waiting;
 * between looks it reads the epoch, looks, and blocks in weft__wait_exit
 * until the epoch moves past what it read or the deadline passes.  Why no
 * exit is missed is written at task_exit (task.c). */
extern weft__aint weft__exit_epoch;
extern weft__aword weft__exit_waiters;
void weft__exit_watch_begin(void);
void weft__exit_watch_end(void);
void weft__wait_exit(unsigned seen_epoch, int64_t deadline);

/* Tasks alive, internal ones too, and the counted ones among them
 * (weft_num_tasks), in one word: one atomic add per spawn and per exit
 * keeps both, and they agree at every instant.  All in the low half,
 * counted in the high half (a 64-bit word: 2^32 tasks would need 16 TiB
 * of stacks). */
#define WEFT__ALIVE_INTERNAL ((AO_t)1)
#define WEFT__ALIVE_COUNTED (((AO_t)1 << 32) | 1u)
_Static_assert(sizeof(AO_t) >= 8, "the alive word holds two 32-bit counts");
static inline uint64_t weft__alive_all(AO_t alive) { return alive & 0xffffffffu; }
static inline uint64_t weft__alive_counted(AO_t alive) { return alive >> 32; }

/* Counters read by weft_stats and deadlock detection.  Spawns are counted
 * by the task ids handed out (weft__spawned_count), exits by each worker on
 * its own line (weft__exited_count): a global counter of each cost every
 * spawn and exit a locked instruction on a shared line. */
struct weft__counters {
    weft__aword alive; /* WEFT__ALIVE_*: every spawn and exit writes it */
    /* Rarely written: off alive's line. */
    __attribute__((aligned(WEFT__CACHELINE))) weft__aword spawn_failed; /* ids taken by failed spawns */
    weft__aword exited_retired; /* exits counted by workers since freed (shutdown) */
    weft__aword steals;
};
extern struct weft__counters weft__ctr;
uint64_t weft__switch_count(void);
uint64_t weft__spawned_count(void);
uint64_t weft__exited_count(void);
int weft__worker_count(void);

/* Deadlock detection (sched/diag): called by the last worker to go idle
 * when no task can run and no timer is queued, and by a plain thread about
 * to block for good.  Returns when to look again (a verdict was refused
 * only because a thread outside weft exists, which may exit without waking
 * anyone), or WEFT_FOREVER. */
int64_t weft__check_deadlock(void);
/* Free p later if a diagnostic may be reading it (sched/diag/dump.c):
 * true if it took p, false if the caller must free it now. */
bool weft__diag_defer_free(void *p);
/* weft_run: is a main task running, and end it with EDEADLK. */
bool weft__run_active(void);
void weft__run_deadlock(void);
/* Plain threads blocked inside weft right now; of them, those blocked
 * until a deadline or sleeping; and plain threads readied by a waker and
 * not yet back from their park (sched/park.c). */
extern weft__aword weft__threads_blocked;
extern weft__aword weft__threads_timed;
extern weft__aword weft__threads_woken;

/* Threads weft knows cannot wake a task right now (sched/threads.c): a
 * thread pushes itself while it is one (weft's own threads for their whole
 * run, plain threads while blocked inside weft) and pops itself before it
 * stops being one; nesting per thread.  Early "nothing can wake it"
 * verdicts need weft__threads_all_known(): every OS thread of the process
 * known at one instant.  weft__thread_made() records that weft started a
 * thread (ThreadSanitizer's background thread exists from then on). */
void weft__thread_known_push(void);
void weft__thread_known_pop(void);
void weft__thread_made(void);
bool weft__threads_all_known(void);

/* Allocation and thread creation that tests can make fail (sched/alloc.c). */
#include <pthread.h>
void *weft__malloc(size_t n);
void *weft__calloc(size_t n, size_t size);
void *weft__realloc(void *p, size_t n);
void weft__free(void *p);
void *weft__mmap(size_t len, int flags); /* anonymous read-write; MAP_FAILED on failure */
int weft__thread_create(pthread_t *th, void *(*fn)(void *), void *arg);
bool weft__runtime_running(void);

/* Random numbers: per-worker or per-thread xorshift, not crypto. */
/* xorshift64* on a per-OS-thread state (a task that moves between threads
 * draws from whichever it is on: as random).  Not inlined: the state's
 * thread-local address must be taken afresh at each call, never kept by a
 * caller across a switch. */
uint64_t weft__rand64(void);
uint32_t weft__rand(void);
static inline uint32_t weft__rand_n(uint32_t n) { return (uint32_t)(((uint64_t)weft__rand() * n) >> 32); }

#endif
