/*
 * park.c — the one way anything blocks in weft.
 *
 * A task parks by recording why, arranging for its lock(s) to be released
 * by the next context once its own registers are saved (the after-switch
 * hook, Go's gopark unlockf), and switching away.  A plain OS thread parks
 * on a futex in its stand-in task record instead.  weft__ready() undoes
 * either.  Channels, select, timers, WaitGroup, Mutex and contexts all
 * block through here, so the wait reason recorded here is what dumps show.
 */
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <time.h>

#include "worker.h"

static const char *const wait_names[WEFT__WAIT_COUNT] = {
    [WEFT__WAIT_NONE] = "running",     [WEFT__WAIT_CHAN_SEND] = "chan send",
    [WEFT__WAIT_CHAN_RECV] = "chan recv", [WEFT__WAIT_SELECT] = "select",
    [WEFT__WAIT_SLEEP] = "sleep",      [WEFT__WAIT_WG] = "wg wait",
    [WEFT__WAIT_MUTEX] = "mutex",      [WEFT__WAIT_ONCE] = "once",
    [WEFT__WAIT_CTX] = "ctx wait",     [WEFT__WAIT_GROUP] = "errgroup",
    [WEFT__WAIT_FOREVER] = "select (no cases)", [WEFT__WAIT_IO] = "io wait",
    [WEFT__WAIT_BLOCKING] = "blocking call",
};

const char *weft__wait_name(enum weft__wait w)
{
    return (unsigned)w < WEFT__WAIT_COUNT && wait_names[w] ? wait_names[w] : "?";
}

int64_t weft_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * WEFT_SEC + ts.tv_nsec;
}

int64_t weft__now_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * WEFT_SEC + ts.tv_nsec;
}

int64_t weft_deadline(int64_t duration)
{
    int64_t now = weft_now();
    if (duration > 0 && now > WEFT_FOREVER - duration)
        return WEFT_FOREVER;
    return now + duration;
}

static inline void record_wait(weft__task *t, enum weft__wait why, const void *obj)
{
    /* relaxed: read only by dumps, which tolerate a stale view. */
    weft__store_relaxed(&t->wait_reason, (AO_t)why);
    weft__store_relaxed(&t->wait_obj, (AO_t)obj);
    t->wait_ticks = weft__ticks();
}

/* Tick rate, calibrated against CLOCK_MONOTONIC over the whole time since
 * the first conversion (a long baseline makes the ratio precise). */
static struct {
    pthread_mutex_t mu;
    uint64_t t0;
    int64_t ns0;
} calib = {PTHREAD_MUTEX_INITIALIZER, 0, 0};

int64_t weft__ticks_to_ns(uint64_t delta)
{
#if defined(__aarch64__)
    uint64_t f;
    __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(f));
    return f ? (int64_t)((double)delta * 1e9 / (double)f) : (int64_t)delta;
#elif defined(__x86_64__)
    pthread_mutex_lock(&calib.mu);
    if (!calib.t0) {
        calib.t0 = weft__ticks();
        calib.ns0 = weft_now();
        /* First use: a short baseline so the first answer is usable. */
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    uint64_t t1 = weft__ticks();
    int64_t ns1 = weft_now();
    double rate = (double)(t1 - calib.t0) / (double)(ns1 - calib.ns0); /* ticks per ns */
    pthread_mutex_unlock(&calib.mu);
    return rate > 0 ? (int64_t)((double)delta / rate) : 0;
#else
    return (int64_t)delta;
#endif
}

int64_t weft__task_waited_ns(const weft__task *t)
{
    uint64_t now = weft__ticks();
    uint64_t then = t->wait_ticks;
    return now > then ? weft__ticks_to_ns(now - then) : 0;
}

static void deadline_fire(weft__timer *tm, void *arg)
{
    weft__task *t = arg;
    if (weft__cas_full(&t->wake, WEFT__WAKE_NONE, WEFT__WAKE_TIMEOUT))
        weft__ready(t);
}

/* Plain threads blocked inside weft until a deadline (they come back by
 * themselves), and plain threads readied but not yet back from their park:
 * deadlock detection and leak checks must not take either for asleep. */
weft__aword weft__threads_timed;
weft__aword weft__threads_woken;

/* A plain thread: block on the futex in its stand-in record. */
static int thread_park(weft__task *t, void (*unlock)(void *), void *arg, int64_t deadline)
{
    bool timed = deadline != WEFT_FOREVER;
    weft__thread_known_push(); /* it wakes nothing while blocked here */
    weft__fetch_add_full(&weft__threads_blocked, 1);
    if (timed)
        weft__fetch_add_full(&weft__threads_timed, 1);
    if (unlock)
        unlock(arg);
    /* Blocked for good unless a task wakes us: if every worker is idle,
     * this may be the step that completes a deadlock. */
    if (!timed && weft__load_acq(&weft__S.nidle) == (AO_t)weft__nworkers() &&
        weft__check_deadlock() != WEFT_FOREVER)
        weft__wakep(); /* an idle worker takes over looking again later */
    int r = WEFT__WAKE_NONE;
    for (;;) {
        if (weft__iload_acq(&t->thread_wake))
            break;
        if (weft__futex_wait(&t->thread_wake, 0, deadline) == ETIMEDOUT) {
            if (weft__cas_full(&t->wake, WEFT__WAKE_NONE, WEFT__WAKE_TIMEOUT)) {
                r = WEFT__WAKE_TIMEOUT;
                break;
            }
            deadline = WEFT_FOREVER; /* a waker claimed us: its ready() is coming */
        }
    }
    if (r != WEFT__WAKE_TIMEOUT) {
        weft__istore_rel(&t->thread_wake, 0);
        r = (int)weft__load_acq(&t->wake);
        weft__fetch_add_full(&weft__threads_woken, (AO_t)-1); /* counted by our waker */
    }
    if (timed)
        weft__fetch_add_full(&weft__threads_timed, (AO_t)-1);
    weft__fetch_add_full(&weft__threads_blocked, (AO_t)-1);
    weft__thread_known_pop();
    return r;
}

int weft__park_ex(enum weft__wait why, const void *obj, void (*unlock)(void *), void *arg,
                  int64_t deadline)
{
    weft__worker *w = weft__cur_worker();
    weft__task *self = w ? w->cur : weft__current();
    WEFT__ASSERT(self != NULL); /* parking in a timer callback is a bug */
    record_wait(self, why, obj);
    if (!w) {
        int r = thread_park(self, unlock, arg, deadline);
        weft__store_relaxed(&self->wait_reason, WEFT__WAIT_NONE);
        return r;
    }
    weft__timer tm;
    w->after_fn = unlock;
    w->after_arg = arg;
    if (deadline != WEFT_FOREVER) {
        weft__timer_init(&tm, deadline_fire, self);
        /* The heap lock stays held through the switch, so the timer cannot
         * fire (and ready us) before our registers are saved. */
        w->after_lock = weft__timer_start_locked(&tm, deadline);
    }
    weft__store_rel(&self->state, WEFT__TASK_PARKED);
    weft__schedule_out(w, self);
    if (deadline != WEFT_FOREVER)
        weft__timer_cancel(&tm); /* also waits out a callback in flight */
    weft__store_relaxed(&self->wait_reason, WEFT__WAIT_NONE);
    return (int)weft__load_acq(&self->wake);
}

static void unlock_one(void *lk) { weft__lock_release(lk); }

void weft__park_on(weft__worker *w, weft__task *self, enum weft__wait why, const void *obj,
                   weft__lock *lk)
{
    if (WEFT__UNLIKELY(!w)) {
        weft__park_ex(why, obj, lk ? unlock_one : NULL, lk, WEFT_FOREVER);
        return;
    }
    record_wait(self, why, obj);
    w->after_lock = lk; /* released by the next context, no indirect call */
    weft__store_rel(&self->state, WEFT__TASK_PARKED);
    weft__schedule_out(w, self);
    /* wait_reason is left as is: dumps read it only while state is PARKED. */
}

void weft__park(enum weft__wait why, const void *obj, weft__lock *lk)
{
    weft__park_ex(why, obj, lk ? unlock_one : NULL, lk, WEFT_FOREVER);
}

int weft__park_until(enum weft__wait why, const void *obj, weft__lock *lk, int64_t deadline)
{
    return weft__park_ex(why, obj, lk ? unlock_one : NULL, lk, deadline);
}

void weft__ready(weft__task *t) { weft__ready_on(weft__cur_worker(), t); }

static inline __attribute__((always_inline)) int ready_on(weft__worker *w, weft__task *t);

void weft__ready_on(weft__worker *w, weft__task *t) { (void)ready_on(w, t); }

/* Every call in it is a tail call, so it is a leaf and keeps no frame
 * (-momit-leaf-frame-pointer): the helpers below return 0 for that. */
int weft__ready_ret0(weft__worker *w, weft__task *t) { return ready_on(w, t); }

/* The task a readied one displaced from runnext goes to the run queue.
 * An idle worker is woken only once work piles up here: a single
 * displaced task runs on this worker as soon as the chain of hand-offs it
 * belongs to blocks (a select serving a few producers displaces one at
 * each receive), and a worker woken to steal it only moves the partners
 * apart, so that every later hand-off crosses CPUs.  Two or more queued
 * (a fan-out) are worth another worker.  Out of line so that the hand-off
 * path keeps no frame.  Returns 0. */
static __attribute__((noinline)) int ready_displaced(weft__worker *w, weft__task *old)
{
    weft__runq_put_or_global(w, old);
    /* Our own ring: tail is owner-written (relaxed), head is advanced by
     * thieves too (acquire, as in runq.c). */
    if (weft__load_relaxed(&w->runq_tail) - weft__load_acq(&w->runq_head) >= 2)
        weft__wakep();
    return 0;
}

/* A plain thread blocked in a weft call.  Returns 0. */
static __attribute__((noinline)) int ready_thread(weft__task *t)
{
    /* Counted before the wake, so nobody sees the thread neither blocked
     * nor woken; it uncounts itself once back. */
    weft__fetch_add_full(&weft__threads_woken, 1);
    /* release: the waker's hand-off writes happen-before the wake. */
    weft__istore_full(&t->thread_wake, 1);
    weft__futex_wake(&t->thread_wake, 1);
    return 0;
}

/* Readied from the scheduler context or a plain thread: queued, and an
 * idle worker woken for it.  Returns 0. */
__attribute__((noinline)) int weft__ready_queued(weft__worker *w, weft__task *t)
{
    if (w)
        weft__runq_put_or_global(w, t);
    else
        weft__gq_put(t);
    weft__wakep();
    return 0;
}

static inline __attribute__((always_inline)) int ready_on(weft__worker *w, weft__task *t)
{
    if (t->is_thread)
        return ready_thread(t);
    weft__store_rel(&t->state, WEFT__TASK_RUNNABLE);
    if (w && w->cur) {
        /* Readied by a running task: it runs next on this worker, where its
         * data is hot, as soon as the waker blocks.  No other worker is
         * woken for it (that would bounce it across CPUs); a task it
         * displaces from runnext goes to the queue, where others may steal. */
        AO_t old = weft__runnext_put(w, t);
        if (old)
            return ready_displaced(w, (weft__task *)old);
        return 0;
    }
    return weft__ready_queued(w, t);
}

void weft__readyq_init(struct weft__readyq *q, weft__worker *w)
{
    /* In the scheduler context (a timer callback) there is no running task
     * to queue behind: use the global queue, as weft__ready_on does. */
    *q = (struct weft__readyq){.w = w && w->cur ? w : NULL};
}

void weft__readyq_add(struct weft__readyq *q, weft__task *t)
{
    if (t->is_thread) {
        t->next = q->threads; /* unused by a thread's stand-in otherwise */
        q->threads = t;
        return;
    }
    /* release: the waker's hand-off writes happen-before the task runs
     * (the run queue's release store of tail, or the global queue's lock,
     * publishes the state to whoever dequeues it). */
    weft__store_rel(&t->state, WEFT__TASK_RUNNABLE);
    q->tasks++;
    if (q->w && weft__runq_put(q->w, t))
        return;
    t->next = NULL;
    t->gq_ahead = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    /* The task chained WEFT__GQ_AHEAD ago points here (still in cache). */
    weft__task **slot = &q->recent[q->n % WEFT__GQ_AHEAD];
    if (q->n >= WEFT__GQ_AHEAD)
        (*slot)->gq_ahead = t;
    *slot = t;
    q->n++;
}

void weft__readyq_flush(struct weft__readyq *q)
{
    if (q->n)
        weft__gq_put_batch(q->head, q->tail, q->n);
    for (weft__task *t = q->threads, *nx; t; t = nx) {
        nx = t->next; /* read before the thread can run and reuse its record */
        weft__ready_on(q->w, t);
    }
    /* One wake-up for the batch: a woken worker that finds work wakes the
     * next (the spinning rule in worker.c), so several get going as needed. */
    if (q->tasks)
        weft__wakep();
    *q = (struct weft__readyq){.w = q->w};
}

/* Switch out as runnable; requeue(self) runs on the next context, once
 * our registers are saved, and puts us where we are to wait. */
static inline void yield_to(weft__worker *w, weft__task *self, void (*requeue)(void *))
{
    weft__store_rel(&self->state, WEFT__TASK_RUNNABLE);
    w->after_fn = requeue;
    w->after_arg = self;
    weft__schedule_out(w, self);
}

void weft_yield(void)
{
    weft__worker *w = weft__cur_worker();
    if (!w || !w->cur) {
        sched_yield();
        return;
    }
    weft__task *self = w->cur;
    /* Nothing else to run here or in the global queue: switching out would
     * only come straight back (through the scheduler context, twice).  The
     * scheduling budget still sends every 61st yield through the full path,
     * where this worker's timers (and the global queue) are looked at.
     * relaxed: a hint; work that arrives a moment later is run at the next
     * yield or switch, as it would be had it arrived just after this one. */
    if (WEFT__LIKELY(w->sched_budget > 1) && weft__load_relaxed(&w->runnext) == 0 &&
        weft__runq_empty(w) && weft__load_relaxed(&weft__S.gq_len) == 0) {
        w->sched_budget--;
        return;
    }
    yield_to(w, self, (void (*)(void *))weft__yield_requeue);
}

static void requeue_global(void *t)
{
    weft__gq_put(t);
    weft__wakep();
}

void weft__yield_global(void)
{
    weft__worker *w = weft__cur_worker();
    if (w && w->cur)
        yield_to(w, w->cur, requeue_global);
}

void weft__yield_requeue(weft__task *t)
{
    weft__worker *w = weft__cur_worker();
    weft__runq_put_or_global(w, t);
    weft__wakep();
}

int weft_sleep(int64_t duration) { return weft__sleep_pc(duration, WEFT__CALLER()); }

int weft__sleep_pc(int64_t duration, const void *pc)
{
    if (duration <= 0)
        return 0;
    int64_t deadline = weft_deadline(duration);
    weft__task *self = weft__current();
    if (!self || self->is_thread) {
        struct timespec ts = {deadline / WEFT_SEC, deadline % WEFT_SEC};
        weft__fetch_add_full(&weft__threads_blocked, 1);
        weft__fetch_add_full(&weft__threads_timed, 1);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        weft__fetch_add_full(&weft__threads_timed, (AO_t)-1);
        weft__fetch_add_full(&weft__threads_blocked, (AO_t)-1);
        return 0;
    }
    weft__store_full(&self->wake, WEFT__WAKE_NONE);
    weft__set_wait_pc(self, pc);
    weft__park_ex(WEFT__WAIT_SLEEP, NULL, NULL, NULL, deadline);
    return 0;
}
