/*
 * worker.c — worker threads, the scheduling loop, idle parking, and the
 * runtime's life cycle (init, shutdown, run).
 *
 * Spinning rule (Go's): a worker looking for work to steal is "spinning".
 * Whoever makes work available wakes an idle worker only if nobody is
 * spinning; the last spinner to find work wakes a replacement.  A worker
 * that stops spinning re-checks every queue after announcing itself idle,
 * and every producer re-checks the idle count after publishing work (full
 * barriers on both sides), so a wake-up is never lost.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netpoll.h"
#include "sanitize.h"
#include "worker.h"

weft__sched weft__S;

/* The worker running on this thread (NULL on other threads).  Initial-exec
 * so that weft__cur_worker can read it with one instruction relative to the
 * thread pointer (internal.h). */
__thread weft__worker *weft__tls_worker __attribute__((tls_model("initial-exec")));
#define tls_worker weft__tls_worker
static __thread weft__task *tls_thread_task;
static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t thread_task_key;
static pthread_once_t thread_task_once = PTHREAD_ONCE_INIT;

weft__aword weft__threads_blocked;

int weft__topology_workers(int *cpus, int max);        /* topology.c */
int weft__topology_steal_order(weft__worker **ws, int n); /* topology.c */
int weft__topology_pin(int cpu);
int weft__signal_thread_init(void);                   /* signal.c */
void weft__signal_thread_fini(void);
int weft__signal_global_init(void);
int weft__sysmon_start(void);                         /* sysmon.c */
void weft__sysmon_stop(void);
void weft__sysmon_poke(void);

/* ---- thread-local access (never inlined: see internal.h) ---------------- */

__attribute__((noinline)) weft__worker *weft__cur_worker_slow(void)
{
    weft__worker *w = tls_worker;
    __asm__ __volatile__("" ::: "memory");
    return w;
}

static void thread_task_free(void *p) { weft__free(p); }
static void thread_task_key_init(void) { pthread_key_create(&thread_task_key, thread_task_free); }

__attribute__((noinline)) weft__task *weft__current(void)
{
    weft__worker *w = weft__cur_worker();
    if (w)
        return w->cur; /* NULL in the scheduler context */
    weft__task *t = tls_thread_task;
    if (WEFT__UNLIKELY(!t)) {
        t = weft__calloc(1, sizeof *t);
        if (!t)
            return NULL;
        t->is_thread = true;
        pthread_once(&thread_task_once, thread_task_key_init);
        pthread_setspecific(thread_task_key, t);
        tls_thread_task = t;
    }
    return t;
}

/* The random state of this OS thread (see internal.h). */
static __thread uint64_t tls_rng __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) uint64_t weft__rand64(void)
{
    uint64_t x = tls_rng;
    if (WEFT__UNLIKELY(x == 0))
        x = (uint64_t)weft_now() ^ (uint64_t)(uintptr_t)&tls_rng ^ 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tls_rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint32_t weft__rand(void) { return (uint32_t)(weft__rand64() >> 32); }

int weft__worker_count(void) { return weft__nworkers(); }

bool weft__runtime_running(void) { return weft__load_acq(&weft__S.running) != 0; }

uint64_t weft__switch_count(void)
{
    uint64_t n = 0;
    for (int i = 0; i < weft__nworkers(); i++)
        n += weft__S.workers[i]->switches; /* racy sum, for statistics */
    return n;
}

uint64_t weft__exited_count(void)
{
    uint64_t n = weft__load_acq(&weft__ctr.exited_retired);
    for (int i = 0; i < weft__nworkers(); i++)
        n += weft__load_acq(&weft__S.workers[i]->exited);
    return n;
}

/* ---- switching ----------------------------------------------------------- */

static inline void run_after(weft__worker *w)
{
    void (*fn)(void *) = w->after_fn;
    weft__lock *lk = w->after_lock;
    if (fn) {
        w->after_fn = NULL;
        fn(w->after_arg);
    }
    if (lk) {
        w->after_lock = NULL;
        weft__lock_release(lk);
    }
}

void weft__run_after(weft__worker *w) { run_after(w); }

/* The sanitizers' side of a switch from the running context (task self,
 * or the scheduler when self is NULL) to task `to` (or the scheduler).
 * Always inlined: as a function of its own, under TSan, its exit would pop
 * a shadow frame from the fiber it switched to (one per task exit, until
 * that fiber's shadow stack underflows). */
static inline __attribute__((always_inline)) void switch_announce(weft__worker *w, weft__task *self, weft__task *to)
{
#ifdef WEFT__ASAN
    bool dying = self && weft__load_relaxed(&self->state) == WEFT__TASK_DEAD;
    void **save = self ? &self->asan_fake_stack : &w->asan_fake_stack;
    if (to)
        WEFT__ASAN_START(dying ? NULL : save, to->stack_lo, to->stack_size);
    else
        WEFT__ASAN_START(dying ? NULL : save, w->sched_stack_lo, w->sched_stack_size);
#endif
#ifdef WEFT__TSAN
    __tsan_switch_to_fiber(to ? to->tsan_fiber : w->tsan_fiber, 0);
#endif
    (void)w, (void)self, (void)to;
}

/* Switch from the running context to `to` (as above).  Returns when the
 * caller's context is resumed, possibly on another worker. */
static inline void switch_to(weft__worker *w, weft__task *self, weft__task *to)
{
    switch_announce(w, self, to);
    weft__switch(self ? &self->frame : &w->sched_frame, to ? &to->frame : &w->sched_frame);
#ifdef WEFT__ASAN
    {
        weft__worker *nw = weft__cur_worker();
        WEFT__ASAN_FINISH(self ? self->asan_fake_stack : nw->asan_fake_stack);
    }
#endif
}

void weft__overflow_report(weft__task *t, const char *how); /* signal.c */

/* What runs after self stops running here: a task from the local queue,
 * or NULL for the scheduler loop (every WEFT__SCHED_BUDGET-th time, so
 * that a pair of tasks handing work to each other does not starve timers
 * and the global queue). */
static inline weft__task *next_after(weft__worker *w, weft__task *self)
{
    weft__task *next = NULL;
    /* relaxed: thieves only compare it for change (see steal_work). */
    weft__store_relaxed(&w->sched_tick, weft__load_relaxed(&w->sched_tick) + 1);
    if (WEFT__UNLIKELY(weft__canary_in_use) && !weft__stack_canary_ok(self))
        weft__overflow_report(self, "stack canary overwritten");
    if (WEFT__LIKELY(--w->sched_budget > 0)) {
        next = weft__runq_get_fast(w);
    } else {
        w->sched_budget = WEFT__SCHED_BUDGET;
        w->fair_pass = true;
    }
    w->switches++;
    if (next) {
        w->cur = next;
        weft__store_relaxed(&next->state, WEFT__TASK_RUNNING);
    } else {
        w->cur = NULL;
    }
    return next;
}

void weft__schedule_out(weft__worker *w, weft__task *self)
{
    weft__task *next = next_after(w, self);
    /* errno belongs to the task: save it from this thread's errno and put
     * it into the errno of whichever thread resumes us. */
    self->saved_errno = *w->errno_ptr;
    switch_to(w, self, next);
    /* Resumed, perhaps on another worker thread. */
    w = weft__cur_worker();
    *w->errno_ptr = self->saved_errno;
    run_after(w);
}

void weft__schedule_exit(weft__worker *w, weft__task *self)
{
    weft__task *next = next_after(w, self);
    switch_announce(w, self, next);
    weft__jump(next ? &next->frame : &w->sched_frame);
}

/* Runs on the child's stack right after the switch: the parent's
 * registers are saved, so it may now be made runnable (and stolen). */
static void park_parent_next(void *arg)
{
    weft__worker *w = weft__cur_worker();
    AO_t old = weft__runnext_put(w, arg);
    if (old)
        weft__runq_put_or_global(w, (weft__task *)old);
    /* Another worker may steal the parent (skynet's trees spread so), so
     * an idle one is woken; but without weft__wakep's full fence first
     * when none is idle by a plain look.  The fence orders a push before
     * that look for work nobody else would take: here the parent waits
     * on this very worker, which runs it as soon as the child parks or
     * returns (and if the child never does, the monitor wakes a thief for
     * a worker that stopped scheduling: sysmon.c).  A worker going idle
     * that the look misses only leaves a moment of parallelism unused.
     * relaxed: only a hint. */
    if (weft__load_relaxed(&weft__S.nidle) != 0)
        weft__wakep();
}

void weft__run_child_first(weft__worker *w, weft__task *parent, weft__task *child)
{
    if (WEFT__UNLIKELY(w->sched_budget <= 1)) {
        /* A scheduler pass is due (timers, global queue): queue the child
         * and yield, which takes that pass and then runs the child. */
        weft__runq_put_or_global(w, child);
        weft_yield();
        return;
    }
    w->sched_budget--;
    weft__store_rel(&parent->state, WEFT__TASK_RUNNABLE);
    weft__store_relaxed(&w->sched_tick, weft__load_relaxed(&w->sched_tick) + 1);
    w->after_fn = park_parent_next;
    w->after_arg = parent;
    w->switches++;
    w->cur = child;
    weft__store_relaxed(&child->state, WEFT__TASK_RUNNING);
    parent->saved_errno = *w->errno_ptr;
    switch_to(w, parent, child);
    w = weft__cur_worker();
    *w->errno_ptr = parent->saved_errno;
    run_after(w);
}

/* ---- idle workers and wake-ups ------------------------------------------ */

static bool idle_remove(weft__worker *w)
{
    bool found = false;
    weft__lock_acquire(&weft__S.idle_lock);
    for (weft__worker **p = &weft__S.idle_list; *p; p = &(*p)->idle_next) {
        if (*p == w) {
            *p = w->idle_next;
            weft__store_full(&weft__S.nidle, weft__load_relaxed(&weft__S.nidle) - 1);
            found = true;
            break;
        }
    }
    weft__store_relaxed(&w->is_idle, 0);
    weft__lock_release(&weft__S.idle_lock);
    return found;
}

void weft__worker_wake(weft__worker *w)
{
    /* full, then read in_poll: Dekker with the poller, which publishes
     * in_poll, then reads park_word before it blocks in epoll_wait.
     * Either it sees our 1 and does not block, or we see it polling and
     * break its epoll_wait. */
    weft__istore_full(&w->park_word, 1);
    if (weft__load_full(&w->in_poll))
        weft__netpoll_break();
    else
        weft__futex_wake(&w->park_word, 1);
}

/* Tasks a poll readied: the first is for the caller to run, the rest go to
 * its run queue, where idle workers woken for them may steal. */
static weft__task *take_polled(weft__worker *w, weft__task *list, size_t n)
{
    if (!list)
        return NULL;
    for (weft__task *t = list->next, *nx; t; t = nx) {
        nx = t->next;
        weft__runq_put_or_global(w, t);
    }
    if (n > 1)
        weft__wakep();
    return list;
}

/* Poll without blocking, unless a worker is blocked in epoll_wait already
 * (it gets the events). */
static weft__task *poll_now(weft__worker *w)
{
    if (weft__load_relaxed(&weft__netpoll_owner))
        return NULL;
    size_t n;
    weft__task *list = weft__netpoll(0, &n);
    return take_polled(w, list, n);
}

/* A busy worker looks at the poller at most this often between tasks, and
 * queues what it finds behind everything already waiting (the global
 * queue's tail): I/O that became ready is served in turn, never ahead of
 * tasks queued before it — a connection served just now must not come
 * back to the front while others wait (a p99 of seconds with 10 000
 * connections, measured).  One whose queues ran dry looks every time. */
enum { WEFT__BUSY_POLL_NS = 1000 * 1000 };


void weft__wakep(void)
{
    /* full: our queue push must be visible before we read the idle count
     * (the idle path publishes nidle, then re-reads the queues). */
    weft__fence_full();
    if (weft__load_relaxed(&weft__S.nidle) == 0)
        return;
    if (weft__load_relaxed(&weft__S.nspinning) != 0)
        return;
    if (!weft__cas_full(&weft__S.nspinning, 0, 1))
        return;
    weft__lock_acquire(&weft__S.idle_lock);
    weft__worker *w = weft__S.idle_list;
    if (w) {
        weft__S.idle_list = w->idle_next;
        weft__store_full(&weft__S.nidle, weft__load_relaxed(&weft__S.nidle) - 1);
        weft__store_relaxed(&w->is_idle, 0);
    }
    weft__lock_release(&weft__S.idle_lock);
    if (!w) {
        weft__fetch_add_full(&weft__S.nspinning, (AO_t)-1);
        return;
    }
    weft__worker_wake(w); /* it starts out spinning, counted above */
}

/* Stealing moves a task, and every line it touches, to another CPU: it
 * pays where the victim would not get to the task soon itself.  A victim
 * whose sched_tick keeps moving runs short tasks and gets through its
 * queue on its own (within two budget periods at worst: a budget pass
 * sends even a runnext chain behind a queue that did not move); taking
 * tasks from it splits partners that hand values to each other (a select
 * and its producers), so that every later hand-off crosses CPUs: at 2 workers
 * bench/select_block.c (4 producers) measured 0.85 steals per message and
 * 3x the single-worker time.  So a thief watches a victim for
 * WEFT__STEAL_LOOK_NS first: if the victim did not switch at all meanwhile
 * (it runs one long task), or its queue would take longer than
 * WEFT__STEAL_DRAIN_NS at the rate it switched, the thief steals;
 * otherwise it leaves the queue to its owner until the next look says
 * otherwise.  A queue half full or more is always worth taking half of,
 * and the monitor wakes a thief for a worker that stops scheduling
 * (sysmon.c).  (Watching the queue's head instead of the switches, or
 * counting the budget's worst case into the estimate, steals from the
 * select above again: its producers sit in the queue for microseconds at
 * a time while the select takes their values.) */
enum { WEFT__STEAL_LOOK_NS = 2000, WEFT__STEAL_DRAIN_NS = 10000 };

/* Should w steal from v's run queue, which holds len tasks, at now?
 * 1 yes, -1 no (v gets to them soon), 0 not decided yet (look again). */
static int steal_verdict(weft__worker *w, weft__worker *v, AO_t len, int64_t now)
{
    if (len >= WEFT__RUNQ_SIZE / 2 || v->id >= 64)
        return 1;
    struct weft__steal_seen *s = &w->steal_seen[v->id];
    /* relaxed: only compared for change. */
    AO_t tick = weft__load_relaxed(&v->sched_tick);
    int64_t el = now - s->at;
    if (el > 4 * WEFT__STEAL_LOOK_NS || el < 0) {
        /* Nobody looked lately: start a fresh look. */
        s->at = now;
        s->tick = tick;
        return s->verdict = 0;
    }
    if (el < WEFT__STEAL_LOOK_NS)
        return s->verdict; /* the last look's verdict stands meanwhile */
    AO_t switched = tick - s->tick;
    s->at = now;
    s->tick = tick;
    /* len switches at el / switched each, compared without dividing. */
    bool slow = switched == 0 || (double)len * (double)el > (double)switched * WEFT__STEAL_DRAIN_NS;
    return s->verdict = slow ? 1 : -1;
}

/* Work for w: the global queue, or a queue steal_verdict says to take
 * (with undecided, also one it has not decided on yet). */
static bool work_to_take(weft__worker *w, int64_t now, bool undecided)
{
    if (weft__load_acq(&weft__S.gq_len))
        return true;
    for (int i = 0; i < weft__nworkers(); i++) {
        weft__worker *v = weft__S.workers[i];
        AO_t h = weft__load_acq(&v->runq_head);
        AO_t tl = weft__load_acq(&v->runq_tail);
        if (h != tl && v == w)
            return true; /* a timer we ran readied it */
        if (h != tl) {
            int verdict = steal_verdict(w, v, tl - h, now);
            if (verdict > 0 || (undecided && verdict == 0))
                return true;
        }
    }
    return false;
}

static weft__task *steal_work(weft__worker *w, int64_t *now)
{
    int n = w->steal_n + 1; /* spares started later are not in the order */
    if (n <= 1)
        return NULL;
    AO_t ticks[64];
    for (int attempt = 0; attempt < 4; attempt++) {
        int near = w->steal_near > 0 ? w->steal_near : 1;
        int start = (int)weft__rand_n((uint32_t)near);
        for (int k = 0; k < n - 1; k++) {
            int pos = k < near ? (start + k) % near : k;
            weft__worker *v = weft__S.workers[w->steal_order[pos]];
            int vi = v->id;
            if (attempt == 0 && vi < 64)
                ticks[vi] = weft__load_relaxed(&v->sched_tick);
            /* Take the victim's runnext only on the last round and only if
             * the victim has not scheduled since the first: its running
             * task is busy, not about to block and run it itself. */
            bool stale = attempt == 3 && vi < 64 && weft__load_relaxed(&v->sched_tick) == ticks[vi];
            AO_t h = weft__load_acq(&v->runq_head);
            AO_t tl = weft__load_acq(&v->runq_tail);
            weft__task *t = NULL;
            if (h != tl && steal_verdict(w, v, tl - h, *now) > 0)
                t = weft__runq_steal(w, v, false);
            else if (h == tl && stale)
                t = weft__runq_steal(w, v, true); /* its runnext, if still there */
            if (t)
                return t;
            if ((int64_t)weft__load_relaxed(&v->timers.next_when) <= *now) {
                weft__timers_run(&v->timers, *now);
                if ((t = weft__runq_get(w)))
                    return t;
            }
        }
        if (attempt == 2)
            *now = weft_now();
    }
    return NULL;
}

enum { WEFT__IDLE_SPIN_NS = 50 * 1000 };

static bool idle_spin(weft__worker *w)
{
    int64_t until = weft_now() + WEFT__IDLE_SPIN_NS;
    for (;;) {
        for (int i = 0; i < 64; i++)
            weft__cpu_relax();
        int64_t now = weft_now();
        if (work_to_take(w, now, true) || weft__load_acq(&weft__S.stopping))
            return true;
        if ((int64_t)weft__load_relaxed(&w->timers.next_when) <= now)
            return true;
        if (now >= until)
            return false;
    }
}

/* Find a task to run, sleeping while there is none.  NULL: shutting down. */
static weft__task *find_runnable(weft__worker *w)
{
    bool spinning = w->spinning;
    weft__task *t = NULL;
    for (;;) {
        if (weft__load_acq(&weft__S.stopping))
            break;
        int64_t now = weft_now();
        if ((int64_t)weft__load_relaxed(&w->timers.next_when) <= now)
            weft__timers_run(&w->timers, now);
        AO_t tick = weft__load_relaxed(&w->sched_tick) + 1;
        weft__store_relaxed(&w->sched_tick, tick);
        if (tick % 61 == 0 && (t = weft__gq_get(w, 1)))
            break;
        /* I/O that became ready while this worker was busy. */
        if (WEFT__UNLIKELY(weft__netpoll_wanted()) &&
            now - (int64_t)weft__load_relaxed(&weft__netpoll_last) >= WEFT__BUSY_POLL_NS)
            weft__netpoll_to_global();
        /* A pass the switch budget forced, finding the queue's head where
         * the last such pass left it, sends the task in runnext behind the
         * queue and runs the queue's head: tasks handing control to each
         * other through runnext (a pair, or a task and the children it
         * spawns and readies) would otherwise run on while every task
         * queued behind them waits.  Go bounds such a chain by its time
         * slice, which it inherits, and then queues it at the tail.  A
         * queue that moves is left alone: sending its partners around it
         * costs a workload like bench/select_block.c two thirds more time. */
        if (w->fair_pass) {
            w->fair_pass = false;
            /* relaxed: our own ring's ends, compared for change only
             * (runq_get_queued decides). */
            AO_t h = weft__load_relaxed(&w->runq_head);
            bool stuck = h == w->fair_head && h != weft__load_relaxed(&w->runq_tail);
            w->fair_head = h;
            if (stuck && (t = weft__runq_get_queued(w))) {
                AO_t next = weft__load_relaxed(&w->runnext);
                /* acquire: as in weft__runq_get. */
                if (next && weft__cas_acq(&w->runnext, next, 0))
                    weft__runq_put_or_global(w, (weft__task *)next);
                break;
            }
        }
        if ((t = weft__runq_get(w)))
            break;
        if ((t = weft__gq_get(w, WEFT__RUNQ_SIZE / 2)))
            break;
        /* Before stealing: Go's findrunnable does the same. */
        if (WEFT__UNLIKELY(weft__netpoll_wanted()) && (t = poll_now(w)))
            break;
        if (!spinning) {
            /* Spin only while spinners are fewer than half the busy workers. */
            AO_t ns = weft__load_relaxed(&weft__S.nspinning);
            AO_t busy = (AO_t)weft__nworkers() - weft__load_relaxed(&weft__S.nidle);
            if (2 * ns < busy) {
                weft__fetch_add_full(&weft__S.nspinning, 1);
                spinning = true;
            }
        }
        if (spinning && (t = steal_work(w, &now)))
            break;
        /* A short bounded spin before sleeping: producers hand work over
         * in bursts, and a futex sleep + wake costs microseconds on both
         * sides.  While we spin, wakep() sees us and wakes nobody. */
        if (spinning && idle_spin(w))
            continue;

        /* Nothing to do: announce idleness, then look once more. */
        weft__lock_acquire(&weft__S.idle_lock);
        w->idle_next = weft__S.idle_list;
        weft__S.idle_list = w;
        weft__store_full(&weft__S.nidle, weft__load_relaxed(&weft__S.nidle) + 1);
        weft__store_relaxed(&w->is_idle, 1);
        weft__istore_full(&w->park_word, 0);
        weft__lock_release(&weft__S.idle_lock);
        if (spinning) {
            spinning = false;
            weft__fetch_add_full(&weft__S.nspinning, (AO_t)-1);
        }
        weft__fence_full();
        if (work_to_take(w, weft_now(), false) || weft__load_acq(&weft__S.stopping)) {
            if (!idle_remove(w))
                spinning = true; /* a waker picked us and counted us */
            continue;
        }
        weft__stack_trim(64); /* idle time is when pages go back to the kernel */
        int64_t deadline = weft__timerheap_next(&w->timers);
        if (deadline == WEFT_FOREVER &&
            weft__load_acq(&weft__S.nidle) == (AO_t)weft__nworkers())
            deadline = weft__check_deadlock(); /* usually WEFT_FOREVER */
        weft__store_rel(&w->sleep_until, (AO_t)deadline);
        /* full (the CAS): I/O waiters count themselves with a full barrier
         * and then wake an idle worker if no poller is blocked: either we
         * see them here, or they see us idle (nidle, published above). */
        if (weft__load_full(&weft__io_waiters) &&
            weft__cas_full(&weft__netpoll_owner, 0, 1)) {
            /* The poller: sleep in epoll_wait instead of on park_word. */
            size_t n = 0;
            weft__task *list = NULL;
            weft__store_full(&w->in_poll, 1);
            if (weft__iload_acq(&w->park_word) == 0)
                list = weft__netpoll(deadline, &n);
            weft__store_full(&w->in_poll, 0);
            weft__store_full(&weft__netpoll_owner, 0);
            weft__store_rel(&w->sleep_until, (AO_t)WEFT_FOREVER);
            if (!idle_remove(w))
                spinning = true;
            weft__sysmon_poke();
            if ((t = take_polled(w, list, n)))
                break;
            continue;
        }
        while (weft__iload_acq(&w->park_word) == 0) {
            if (weft__futex_wait(&w->park_word, 0, deadline) == ETIMEDOUT)
                break;
        }
        weft__store_rel(&w->sleep_until, (AO_t)WEFT_FOREVER);
        if (!idle_remove(w))
            spinning = true;
        weft__sysmon_poke();
    }
    if (spinning) {
        /* The last spinner to find work wakes another to keep looking. */
        if (weft__fetch_add_full(&weft__S.nspinning, (AO_t)-1) == 1 && t)
            weft__wakep();
    }
    w->spinning = false;
    return t;
}

static void *worker_main(void *arg)
{
    weft__worker *w = arg;
    tls_worker = w;
    weft__istore_rel(&w->tid, (unsigned)gettid()); /* read by the monitor */
    w->errno_ptr = &errno;
    weft__thread_known_push();
    weft__signal_thread_init();
    if (weft__S.pin && w->cpu >= 0)
        weft__topology_pin(w->cpu);
#ifdef WEFT__TSAN
    w->tsan_fiber = __tsan_get_current_fiber();
#endif
    {
        pthread_attr_t a;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            pthread_attr_getstack(&a, &w->sched_stack_lo, &w->sched_stack_size);
            pthread_attr_destroy(&a);
        }
    }
    for (;;) {
        weft__task *t = find_runnable(w);
        if (!t)
            break;
        w->cur = t;
        weft__store_relaxed(&t->state, WEFT__TASK_RUNNING);
        w->switches++;
        switch_to(w, NULL, t);
        weft__run_after(w);
    }
    struct weft__stackcache *c = w->stacks;
    w->stacks = NULL;
    weft__stackcache_free(c);
    weft__signal_thread_fini();
    tls_worker = NULL;
    weft__thread_known_pop();
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------- */

/* A positive integer from the environment, with an optional k/m suffix, no
 * larger than max; anything else (garbage, zero, negative, out of range)
 * is ignored and dflt used. */
static long long env_long(const char *name, long long dflt, long long max)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || v <= 0)
        return dflt;
    long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    if (*end != 0 || v > max / mul)
        return dflt;
    return v * mul;
}

enum { WEFT__DEFAULT_STACK = 64 * 1024, WEFT__MAX_WORKERS = 1024, WEFT__MAX_SPARES = 64 };

static weft__worker *worker_new(int id, int cpu)
{
    weft__worker *w;
    if (posix_memalign((void **)&w, WEFT__CACHELINE, sizeof *w) != 0)
        return NULL;
    memset(w, 0, sizeof *w);
    w->id = id;
    w->cpu = cpu;
    w->sleep_until = (AO_t)WEFT_FOREVER;
    /* Allocated here, before the thread starts, not by the thread: a
     * worker starting late must not take an allocation failure a test
     * injected for something else (test_failinject saw 1 run in 300). */
    w->stacks = weft__stackcache_new();
    if (!w->stacks) {
        free(w);
        return NULL;
    }
    weft__timerheap_init(&w->timers, w);
    return w;
}

static int worker_start(weft__worker *w)
{
    /* Workers take no asynchronous signals: a user's handler must not
     * run in the middle of a switch.  Faults stay unblocked (a blocked
     * SIGSEGV kills the process before our overflow report). */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGTRAP);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = weft__thread_create(&w->thread, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* Start one more worker because every worker is blocked in the kernel
 * (a raw read(2), a lock of another library) while work waits (Go's
 * handoffp starts a new M for the P; here the spare is a whole worker).
 * It stays for the runtime's life, an ordinary idle worker once the
 * burst is over; at most WEFT__MAX_SPARES (or 2x the workers) exist.
 * Called only by the monitor thread, so spares are added one at a time.
 * 0, or EAGAIN when no room or thread is left. */
int weft__spare_start(void)
{
    int n = weft__nworkers();
    if (n >= weft__S.nslots || weft__load_acq(&weft__S.stopping))
        return EAGAIN;
    /* A record left by a failed start is reused. */
    weft__worker *w = weft__S.workers[n];
    if (!w && !(w = weft__S.workers[n] = worker_new(n, -1)))
        return EAGAIN;
    w->spare = true;
    weft__free(w->steal_order);
    w->steal_order = weft__calloc((size_t)n, sizeof(int));
    if (!w->steal_order)
        return EAGAIN;
    for (int i = 0; i < n; i++)
        w->steal_order[i] = i;
    w->steal_n = n;
    w->steal_near = n;
    /* It starts spinning, as a worker woken by weft__wakep does, so it
     * looks for the work it was started for before it can sleep. */
    w->spinning = true;
    weft__fetch_add_full(&weft__S.nspinning, 1);
    /* release (in the store): the record is complete before it is counted. */
    weft__istore_rel(&weft__S.nworkers, (unsigned)(n + 1));
    if (worker_start(w) != 0) {
        /* Counted for a moment with empty queues and no thread: nothing
         * was queued on it (only its own thread queues locally), so taking
         * the count back loses nothing.  The record waits for a retry. */
        weft__istore_rel(&weft__S.nworkers, (unsigned)n);
        w->spinning = false;
        weft__fetch_add_full(&weft__S.nspinning, (AO_t)-1);
        return EAGAIN;
    }
    return 0;
}
#define WEFT__MAX_STACK ((size_t)1 << 30) /* 1 GiB: more is surely a mistake */

static void free_workers(int n)
{
    (void)n;
    /* Spare slots too: a record may wait there after a failed start. */
    for (int i = 0; i < weft__S.nslots; i++) {
        weft__worker *w = weft__S.workers[i];
        if (!w)
            continue;
        /* Timers still queued (a ticker main never stopped, a timeout
         * context never released) are dropped: they will not fire, and a
         * later stop or cancel must find them in no heap. */
        /* Its count of exits outlives it, for weft_stats. */
        weft__fetch_add_full(&weft__ctr.exited_retired, weft__load_acq(&w->exited));
        weft__timerheap_detach_all(&w->timers);
        weft__timerheap_destroy(&w->timers);
        weft__stackcache_free(w->stacks); /* a worker that never ran still has it */
        weft__free(w->steal_order);
        free(w); /* posix_memalign'd */
    }
    weft__free(weft__S.workers);
    weft__S.workers = NULL;
    weft__istore_rel(&weft__S.nworkers, 0);
    weft__S.nbase = weft__S.nslots = 0;
}

static int do_init(const struct weft_config *cfg)
{
    if (cfg && (cfg->workers < 0 || cfg->workers > WEFT__MAX_WORKERS ||
                cfg->stack_size > WEFT__MAX_STACK))
        return EINVAL;
    int cpus[WEFT__MAX_WORKERS];
    int ncpu = weft__topology_workers(cpus, WEFT__MAX_WORKERS);
    if (ncpu < 1)
        ncpu = 1, cpus[0] = -1;
    int n = (cfg && cfg->workers) ? cfg->workers
                                  : (int)env_long("WEFT_PROCS", ncpu, WEFT__MAX_WORKERS);
    size_t stack = (cfg && cfg->stack_size)
                       ? cfg->stack_size
                       : (size_t)env_long("WEFT_STACK_SIZE", WEFT__DEFAULT_STACK, WEFT__MAX_STACK);
    if (stack < 16 * 1024)
        stack = 16 * 1024;
    weft__S.default_stack = stack;
    weft__S.pin = cfg && cfg->pin_workers;
    weft__store_full(&weft__S.stopping, 0);
    weft__S.gq_head = weft__S.gq_tail = NULL;
    weft__store_full(&weft__S.gq_len, 0);
    weft__S.idle_list = NULL;
    weft__store_full(&weft__S.nidle, 0);
    weft__store_full(&weft__S.nspinning, 0);
    int r = weft__stack_global_init();
    if (r)
        return r;
    weft__signal_global_init();
    int slots = n + (n < WEFT__MAX_SPARES / 2 ? 2 * n : WEFT__MAX_SPARES);
    weft__S.workers = weft__calloc((size_t)slots, sizeof *weft__S.workers);
    if (!weft__S.workers)
        return ENOMEM;
    weft__S.nslots = slots;
    weft__S.nbase = n;
    for (int i = 0; i < n; i++) {
        weft__worker *w = worker_new(i, cpus[i % ncpu]);
        if (!w) {
            free_workers(i);
            return ENOMEM;
        }
        weft__S.workers[i] = w;
        weft__istore_rel(&weft__S.nworkers, (unsigned)(i + 1));
    }
    if (weft__topology_steal_order(weft__S.workers, n) != 0) {
        free_workers(n);
        return ENOMEM;
    }
    /* Workers must see a complete scheduler before they start. */
    weft__store_full(&weft__S.running, 1);
    for (int i = 0; i < n; i++) {
        r = worker_start(weft__S.workers[i]);
        if (r != 0) {
            weft__store_full(&weft__S.stopping, 1);
            for (int j = 0; j < i; j++)
                weft__worker_wake(weft__S.workers[j]);
            for (int j = 0; j < i; j++)
                pthread_join(weft__S.workers[j]->thread, NULL);
            weft__store_full(&weft__S.running, 0);
            free_workers(n);
            return EAGAIN;
        }
    }
    weft__sysmon_start(); /* best effort: without it only latency suffers */
    return 0;
}

/* Starting the runtime makes system calls that set errno on the way (a
 * probe of guard pages answers EFAULT by design): the caller's errno is
 * put back, as every weft call promises. */
int weft_init(const struct weft_config *cfg)
{
    int saved = errno;
    pthread_mutex_lock(&init_mu);
    int r = weft__load_acq(&weft__S.running) ? EBUSY : do_init(cfg);
    pthread_mutex_unlock(&init_mu);
    errno = saved;
    return r;
}

int weft__ensure_init(void)
{
    if (WEFT__LIKELY(weft__load_acq(&weft__S.running)))
        return 0;
    int saved = errno;
    pthread_mutex_lock(&init_mu);
    int r = weft__load_acq(&weft__S.running) ? 0 : do_init(NULL);
    pthread_mutex_unlock(&init_mu);
    errno = saved;
    return r;
}

enum { WEFT__SHUTDOWN_GRACE_MS = 200 };

static int shutdown_locked(void);

int weft_shutdown(void)
{
    int saved = errno;
    int r = shutdown_locked();
    errno = saved;
    return r;
}

static int shutdown_locked(void)
{
    pthread_mutex_lock(&init_mu);
    if (!weft__load_acq(&weft__S.running)) {
        pthread_mutex_unlock(&init_mu);
        return 0;
    }
    if (weft__cur_worker()) {
        pthread_mutex_unlock(&init_mu);
        return EDEADLK; /* a task cannot stop the workers it runs on */
    }
    /* Give tasks that are finishing a moment to return. */
    int64_t deadline = weft_deadline(WEFT__SHUTDOWN_GRACE_MS * WEFT_MS);
    weft__exit_watch_begin();
    for (;;) {
        unsigned epoch = weft__iload_acq(&weft__exit_epoch);
        if (weft__alive_all(weft__load_acq(&weft__ctr.alive)) == 0 || weft_now() >= deadline)
            break;
        weft__wait_exit(epoch, deadline);
    }
    weft__exit_watch_end();
    size_t alive = (size_t)weft__alive_all(weft__load_acq(&weft__ctr.alive));
    if (alive) {
        fprintf(stderr, "weft: shutdown with %zu task%s still alive:\n", alive,
                alive == 1 ? "" : "s");
        weft_dump_tasks(stderr);
    }
    weft__sysmon_stop();
    weft__store_full(&weft__S.stopping, 1);
    for (int i = 0; i < weft__nworkers(); i++)
        weft__worker_wake(weft__S.workers[i]);
    for (int i = 0; i < weft__nworkers(); i++)
        pthread_join(weft__S.workers[i]->thread, NULL);
    /* Tasks still alive keep their stacks and records: nothing is freed
     * under them.  Queued ones are dropped from the queues. */
    int n = weft__nworkers();
    free_workers(n);
    weft__S.gq_head = weft__S.gq_tail = NULL;
    weft__store_full(&weft__S.gq_len, 0);
    weft__store_full(&weft__S.running, 0);
    pthread_mutex_unlock(&init_mu);
    return (int)(alive > (size_t)INT32_MAX ? INT32_MAX : alive);
}

/* ---- weft_run -------------------------------------------------------------- */

/* 0 while weft_run's main task runs, 1 once it returned, 2 on deadlock. */
static weft__aint run_state;
static weft__aword run_active;

struct run_main {
    int (*fn)(void *);
    void *arg;
    int result;
};

static void run_trampoline(void *p)
{
    struct run_main *m = p;
    m->result = m->fn(m->arg);
    weft__istore_full(&run_state, 1);
    weft__futex_wake(&run_state, 1);
}

bool weft__run_active(void) { return weft__load_acq(&run_active) != 0; }

void weft__run_deadlock(void)
{
    if (weft__icas_full(&run_state, 0, 2))
        weft__futex_wake(&run_state, 1);
}

int weft_run(int (*main_fn)(void *), void *arg)
{
    if (!main_fn)
        return EINVAL;
    if (weft__cur_worker())
        return main_fn(arg); /* already inside the runtime */
    int r = weft__ensure_init();
    if (r)
        return r;
    int saved = errno;
    struct run_main m = {main_fn, arg, 0};
    weft__istore_full(&run_state, 0);
    weft__store_full(&run_active, 1);
    weft__task *t;
    r = weft__spawn(NULL, run_trampoline, &m, NULL, 0, "main", __FILE__, __LINE__, __func__,
                    false, &t);
    if (r) {
        weft__store_full(&run_active, 0);
        errno = saved;
        return r;
    }
    unsigned st;
    weft__thread_known_push(); /* blocked here: it wakes no task until main returns */
    while ((st = weft__iload_acq(&run_state)) == 0)
        weft__futex_wait(&run_state, 0, WEFT_FOREVER);
    weft__thread_known_pop();
    weft__store_full(&run_active, 0);
    int result = st == 2 ? EDEADLK : m.result;
    weft_shutdown();
    errno = saved;
    return result;
}
