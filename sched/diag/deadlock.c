/*
 * deadlock.c — "all tasks are asleep - deadlock!" and the quiescence scan
 * that leak checks share.
 *
 * The last worker to go idle with no timer of its own calls
 * weft__check_deadlock().  Nothing inside weft can make progress when,
 * all at one moment:
 *   - every task is parked (none runnable or running) and the run queues
 *     and runnext slots are empty;
 *   - no timer is queued on any worker (a timer can ready a task, cancel a
 *     context, send a tick) and every worker is idle (a worker running a
 *     timer callback is not idle);
 *   - no plain thread blocked inside weft can come back by itself (one
 *     sleeping, or waiting with a deadline) or has been readied and not yet
 *     returned;
 *   - no task or thread waits on a file descriptor (a peer may write) and
 *     no weft_blocking function is running (it may return and wake);
 *   - and none of the above changed while we looked: every worker's
 *     sched_tick, bumped on each scheduling pass, is the same before and
 *     after the walk, so no task ran while it was in progress.
 * A task readied during the walk is either seen RUNNABLE, or queued (the
 * ready stores RUNNABLE before queuing), or already running on a worker
 * that is no longer idle, or it ran and parked again and moved a tick.
 *
 * Plain threads *outside* weft are invisible: one may be about to send to a
 * parked task.  So:
 *   - inside weft_run, as in Go, the tasks are the program: if weft_run's
 *     main task is parked too, it is a deadlock; weft_run returns EDEADLK;
 *   - elsewhere, a deadlock is declared only when a plain thread is blocked
 *     inside weft for good (it can never be woken by a task), and the
 *     hook set by weft_set_deadlock_hook decides (default: report once).
 *     Telling a plain thread blocked for good from one sleeping needs
 *     sched/park.c to count them (weft__threads_timed, weft__threads_woken);
 *     without those counters this case is never declared.
 *
 * Every call also pokes plain threads waiting in weft__wait_exit: an idle
 * runtime is what a leak check waits for when tasks stop without exiting.
 */
#include "diag.h"
#include "netpoll.h"
#include "worker.h"

weft__aword weft__diag_leak_waiters;

void weft__diag_deadlock_anchor(void) {} /* see dump.c */

/* Counted by sched/park.c when it provides them (weak: absent is NULL):
 * plain threads blocked inside weft with a deadline or sleeping, and plain
 * threads readied but not yet back from their park. */
extern weft__aword weft__threads_timed __attribute__((weak));
extern weft__aword weft__threads_woken __attribute__((weak));

static bool have_thread_counters(void)
{
    return &weft__threads_timed != NULL && &weft__threads_woken != NULL;
}

void weft__diag_poke_waiters(void)
{
    /* Unconditionally (this runs once per idle spell, not per exit): a
     * waiter that read the epoch before this must find it moved. */
    weft__ifetch_add_full(&weft__exit_epoch, 1);
    if (weft__load_full(&weft__exit_waiters))
        weft__futex_wake(&weft__exit_epoch, 1 << 30);
}

/* ---- the scan ----------------------------------------------------------------- */

static void scan_visit(weft__task *t, void *arg)
{
    struct weft__diag_scan *s = arg;
    s->live++;
    if (t->id == s->self)
        return;
    /* acquire: see weft__diag_snap. */
    bool parked = weft__load_acq(&t->state) == WEFT__TASK_PARKED;
    if (!parked)
        s->active++;
    else if (weft__diag_is_main(t))
        s->main_parked = true;
    if (t->counted && t->id >= s->mark) {
        s->checked++;
        if (parked && weft__diag_task_certain(t))
            s->checked_certain++;
    }
}

static AO_t ticks_sum(void)
{
    AO_t sum = 0;
    for (int i = 0; i < weft__nworkers(); i++)
        sum += weft__load_relaxed(&weft__S.workers[i]->sched_tick);
    return sum;
}

static bool queues_empty(void)
{
    if (weft__load_acq(&weft__S.gq_len))
        return false;
    for (int i = 0; i < weft__nworkers(); i++) {
        weft__worker *w = weft__S.workers[i];
        if (weft__load_acq(&w->runq_head) != weft__load_acq(&w->runq_tail) ||
            weft__load_acq(&w->runnext))
            return false;
    }
    return true;
}

static bool timers_queued(void)
{
    for (int i = 0; i < weft__nworkers(); i++)
        if ((int64_t)weft__load_acq(&weft__S.workers[i]->timers.next_when) != WEFT_FOREVER)
            return true;
    return false;
}

/* A task or thread waiting on a descriptor can be woken from outside the
 * process (a peer writes), and a weft_blocking function may return and
 * wake anything: neither is ever "asleep for good". */
static bool outside_wakers(void)
{
    return weft__load_acq(&weft__io_waiters) != 0 ||
           weft__load_acq(&weft__blocking_inflight) != 0;
}

static bool plain_threads_quiet(void)
{
    if (have_thread_counters())
        return weft__load_acq(&weft__threads_timed) == 0 &&
               weft__load_acq(&weft__threads_woken) == 0;
    /* Without the counters a blocked plain thread may be sleeping. */
    return weft__load_acq(&weft__threads_blocked) == 0;
}

void weft__diag_scan(struct weft__diag_scan *s)
{
    s->checked = s->checked_certain = s->live = s->active = 0;
    s->main_parked = s->quiescent = s->outside_threads = false;
    bool running = weft__load_acq(&weft__S.running) && !weft__load_acq(&weft__S.stopping);
    AO_t t0 = running ? ticks_sum() : 0;
    /* full: the ticks are read before any task state. */
    weft__fence_full();
    weft__diag_enter();
    weft__for_each_task(scan_visit, s);
    weft__diag_exit();
    s->quiet_plain = plain_threads_quiet();
    if (!running) {
        /* No worker: nothing queued can ever run (shutdown dropped it), but
         * a thread outside weft may still close or send. */
        s->outside_threads = s->quiet_plain && !weft__threads_all_known();
        s->quiescent = s->quiet_plain && !s->outside_threads;
        return;
    }
    if (s->active || !queues_empty() || timers_queued() || !s->quiet_plain || outside_wakers())
        return;
    /* The caller's own worker is busy running it when it is a task. */
    AO_t want_idle = (AO_t)weft__nworkers() - (weft_self() ? 1 : 0);
    if (weft__load_acq(&weft__S.nidle) < want_idle)
        return;
    /* Inside weft nothing can move.  A thread weft does not know may still
     * wake a task: the verdict needs every thread of the process known
     * (sched/threads.c), at an instant inside the window the two tick
     * sums bracket. */
    weft__fence_full();
    bool all_known = weft__threads_all_known();
    weft__fence_full();
    if (ticks_sum() != t0)
        return;
    s->outside_threads = !all_known;
    s->quiescent = all_known;
}

/* ---- deadlock ----------------------------------------------------------------- */

static weft__lock hook_lock = WEFT__LOCK_INIT;
static weft_deadlock_hook user_hook;
static void *user_hook_arg;

void weft_set_deadlock_hook(weft_deadlock_hook hook, void *arg)
{
    weft__lock_acquire(&hook_lock);
    user_hook = hook;
    user_hook_arg = arg;
    weft__lock_release(&hook_lock);
}

/* One deadlock is reported once: it is identified by the task switches,
 * spawns and exits that led to it (none happen while it lasts). */
struct signature {
    uint64_t spawned, exited, switches;
};
static struct signature last_reported;
static weft__lock check_lock = WEFT__LOCK_INIT;
static weft__aword recheck;

static struct signature signature_now(void)
{
    struct signature g = {weft__spawned_count(), weft__exited_count(), 0};
    WEFT__DIAG_RACY_BEGIN();
    g.switches = weft__switch_count();
    WEFT__DIAG_RACY_END();
    return g;
}

static void report(bool in_run)
{
    fputs("weft: all tasks are asleep - deadlock!\n", stderr);
    if (!in_run)
        fputs("weft: (a plain thread is blocked inside weft and no task can wake it)\n", stderr);
    fputc('\n', stderr);
    weft_dump_tasks(stderr);
    fputs("weft: end of deadlock report\n", stderr);
    fflush(stderr);
}

/* A plain thread blocked inside weft that nothing but a task could wake. */
static bool plain_thread_stuck(void)
{
    return have_thread_counters() && weft__load_acq(&weft__threads_blocked) >
                                         weft__load_acq(&weft__threads_timed);
}

/* A verdict refused only because a thread outside weft exists is looked
 * at again later: that thread may exit without waking anyone, and then
 * nothing else would ever make the runtime look.  Backs off from 10 ms to
 * 1 s; any activity starts over.  Under check_lock. */
enum { RECHECK_FIRST_MS = 10, RECHECK_MAX_MS = 1000 };
static int64_t recheck_at = WEFT_FOREVER, recheck_step;

static int64_t recheck_later(void)
{
    int64_t now = weft_now();
    if (recheck_at != WEFT_FOREVER && now < recheck_at)
        return recheck_at; /* asked again before the last one was due */
    recheck_step = recheck_step ? recheck_step * 2 : RECHECK_FIRST_MS * WEFT_MS;
    if (recheck_step > RECHECK_MAX_MS * WEFT_MS)
        recheck_step = RECHECK_MAX_MS * WEFT_MS;
    return recheck_at = now + recheck_step;
}

static int64_t no_recheck(void)
{
    recheck_at = WEFT_FOREVER;
    recheck_step = 0;
    return WEFT_FOREVER;
}

static int64_t check_once(void)
{
    bool in_run = weft__run_active();
    if ((!in_run && !plain_thread_stuck()) || !plain_threads_quiet())
        return no_recheck();
    /* Twice: the second walk re-verifies the first found no transient. */
    struct weft__diag_scan s = {.mark = UINT64_MAX, .self = 0};
    for (int pass = 0; pass < 2; pass++) {
        weft__diag_scan(&s);
        if (s.live == 0 || (!s.quiescent && !s.outside_threads))
            return no_recheck();
        if (in_run ? !s.main_parked : !plain_thread_stuck())
            return no_recheck();
        if (weft__load_acq(&weft__diag_leak_waiters))
            return no_recheck();
        if (s.outside_threads)
            return recheck_later(); /* settled, but not provably for good */
    }
    no_recheck();
    struct signature g = signature_now();
    if (g.spawned == last_reported.spawned && g.exited == last_reported.exited &&
        g.switches == last_reported.switches)
        return WEFT_FOREVER;
    last_reported = g;
    weft__lock_acquire(&hook_lock);
    weft_deadlock_hook hook = user_hook;
    void *arg = user_hook_arg;
    weft__lock_release(&hook_lock);
    /* Every thread of the process is known and none can wake a task: the
     * verdict is certain, inside weft_run or not. */
    if (hook)
        hook(arg);
    else
        report(in_run);
    if (in_run)
        weft__run_deadlock();
    return WEFT_FOREVER;
}

int64_t weft__check_deadlock(void)
{
    weft__diag_poke_waiters();
    /* Cheap tests first: this runs every time the runtime goes idle. */
    if (!weft__load_acq(&weft__S.running) || weft__load_acq(&weft__S.stopping))
        return WEFT_FOREVER;
    if (weft__alive_all(weft__load_acq(&weft__ctr.alive)) == 0 || timers_queued() || outside_wakers() ||
        weft__load_acq(&weft__diag_leak_waiters))
        return WEFT_FOREVER;
    /* Two workers can go idle at once: one checks, and checks again if
     * another asked meanwhile. */
    int64_t again = WEFT_FOREVER;
    weft__store_full(&recheck, 1);
    while (weft__load_acq(&recheck) && weft__lock_try(&check_lock)) {
        weft__store_full(&recheck, 0);
        again = check_once();
        weft__lock_release(&check_lock);
    }
    return again;
}
