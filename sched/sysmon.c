/*
 * sysmon.c — the runtime's monitor thread (Go's sysmon, much smaller).
 *
 * A task readied by a running task goes to that worker's runnext slot and
 * no idle worker is woken for it: usually the waker blocks soon and the
 * woken task runs right there, with its data hot.  If instead the waker
 * keeps computing, the readied task (and anything queued behind it, and
 * that worker's timers) would wait while other CPUs sleep.  The monitor
 * notices a worker that has not scheduled since its last look and still
 * has work or due timers queued, and wakes an idle worker, which steals
 * it (a stale victim's runnext included: see steal_work).
 *
 * It looks every millisecond while workers are busy, backs off to 20 ms
 * when nothing is running, then sleeps until a worker wakes up, so an idle
 * runtime stays idle.
 */
#include <signal.h>
#include <time.h>

#include "worker.h"

enum { SYSMON_MIN_NS = 1000 * 1000, SYSMON_MAX_NS = 20 * 1000 * 1000 };

static pthread_t sysmon_thread;
static bool sysmon_started;
static weft__aint sysmon_stop;
static weft__aint sysmon_backed_off; /* sleeping longer than the minimum */
static weft__aint sysmon_wake_seq;   /* futex word: bumped to wake the monitor */

static void sysmon_kick(void)
{
    weft__ifetch_add_full(&sysmon_wake_seq, 1);
    weft__futex_wake(&sysmon_wake_seq, 1);
}

void weft__sysmon_poke(void)
{
    /* A worker woke from a sleep: look again soon rather than after a
     * backed-off delay.  Cheap when the monitor is already attentive.  The
     * monitor reads the sequence before its scan and sleeps on that value,
     * so a poke during the scan is never lost. */
    if (weft__iload_acq(&sysmon_backed_off) && weft__icas_full(&sysmon_backed_off, 1, 0))
        sysmon_kick();
}

static bool needs_help(weft__worker *w, AO_t *last_tick, int64_t now)
{
    AO_t tick = weft__load_relaxed(&w->sched_tick);
    bool stuck = tick == *last_tick && !weft__load_acq(&w->is_idle);
    *last_tick = tick;
    if (!stuck)
        return false;
    return weft__load_acq(&w->runnext) != 0 ||
           weft__load_acq(&w->runq_head) != weft__load_acq(&w->runq_tail) ||
           (int64_t)weft__load_relaxed(&w->timers.next_when) <= now;
}

static void *sysmon_main(void *arg)
{
    (void)arg;
    int n = weft__S.nworkers;
    AO_t *last = calloc((size_t)n, sizeof *last);
    if (!last)
        return NULL;
    weft__thread_known_push(); /* weft's own: it readies nothing a task waits for */
    int64_t delay = SYSMON_MIN_NS;
    while (!weft__iload_acq(&sysmon_stop)) {
        unsigned seq = weft__iload_acq(&sysmon_wake_seq);
        int64_t now = weft_now();
        bool busy = false, help = false;
        for (int i = 0; i < n; i++) {
            weft__worker *w = weft__S.workers[i];
            if (!weft__load_acq(&w->is_idle))
                busy = true;
            if (needs_help(w, &last[i], now))
                help = true;
        }
        if (help && weft__load_acq(&weft__S.nidle) > 0)
            weft__wakep();
        weft__stack_trim(256);
        /* Busy: look again in a millisecond.  Idle: back off, and once
         * every worker has been idle for the longest delay, sleep until a
         * worker wakes up and pokes us (an idle runtime stays asleep). */
        if (busy)
            delay = SYSMON_MIN_NS;
        else if (delay >= SYSMON_MAX_NS)
            delay = WEFT_FOREVER;
        else
            delay = delay * 2 > SYSMON_MAX_NS ? SYSMON_MAX_NS : delay * 2;
        weft__istore_full(&sysmon_backed_off, delay > SYSMON_MIN_NS);
        if (weft__iload_acq(&sysmon_stop))
            break;
        weft__futex_wait(&sysmon_wake_seq, seq,
                         delay == WEFT_FOREVER ? WEFT_FOREVER : weft_now() + delay);
        if (delay == WEFT_FOREVER)
            delay = SYSMON_MIN_NS; /* poked: a worker is busy again */
    }
    free(last);
    weft__thread_known_pop();
    return NULL;
}

int weft__sysmon_start(void)
{
    if (weft__S.nworkers < 2)
        return 0; /* nobody to hand work to */
    weft__istore_full(&sysmon_stop, 0);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = weft__thread_create(&sysmon_thread, sysmon_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sysmon_started = r == 0;
    return r;
}

void weft__sysmon_stop(void)
{
    if (!sysmon_started)
        return;
    weft__istore_full(&sysmon_stop, 1);
    sysmon_kick();
    pthread_join(sysmon_thread, NULL);
    sysmon_started = false;
}
