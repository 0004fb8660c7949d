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
 * A worker that has not scheduled for 20 ms is held by its task: a long
 * computation, or a raw blocking call (read(2) on a blocking descriptor, a
 * lock of another library) that weft cannot see.  Its queued tasks are
 * handed to the global queue (Go's handoffp), where any worker takes them;
 * and when every worker is held so, and its thread sleeps in the kernel
 * (/proc/self/task/TID/stat says S or D) while work waits, a spare worker
 * is started to run it (weft__spare_start).  A computing worker gets no
 * spare: another thread would only compete for its CPU.
 *
 * Nobody polling the I/O poller for 10 ms: the monitor polls (netpoll.h).
 *
 * It looks every millisecond while workers are busy, backs off to 20 ms
 * when nothing is running, then sleeps until a worker wakes up, so an idle
 * runtime stays idle.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <time.h>

#include "netpoll.h"
#include "worker.h"

enum { SYSMON_MIN_NS = 1000 * 1000, SYSMON_MAX_NS = 20 * 1000 * 1000,
       SYSMON_HANDOFF_NS = 20 * 1000 * 1000 };

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

/* What the monitor remembers of a worker between looks. */
struct seen {
    AO_t tick;     /* sched_tick at the last look */
    int64_t since; /* when it last changed */
};

/* Is this thread asleep in the kernel (state S or D)?  Read only on the
 * rare path: a worker that has not scheduled for 20 ms. */
static bool thread_sleeps(int tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the name may contain anything */
    return p && p[1] == ' ' && (p[2] == 'S' || p[2] == 'D');
}

static bool needs_help(weft__worker *w, struct seen *s, int64_t now)
{
    AO_t tick = weft__load_relaxed(&w->sched_tick);
    bool stuck = tick == s->tick && !weft__load_acq(&w->is_idle);
    if (tick != s->tick || !s->since)
        s->since = now;
    s->tick = tick;
    if (!stuck)
        return false;
    return weft__load_acq(&w->runnext) != 0 ||
           weft__load_acq(&w->runq_head) != weft__load_acq(&w->runq_tail) ||
           (int64_t)weft__load_relaxed(&w->timers.next_when) <= now;
}

static bool timers_due(int64_t now, int n)
{
    for (int i = 0; i < n; i++)
        if ((int64_t)weft__load_relaxed(&weft__S.workers[i]->timers.next_when) <= now)
            return true;
    return false;
}

/* Every worker busy and none polling: look at the poller ourselves now
 * and then, so I/O waiters are not left for as long as the tasks run. */
enum { SYSMON_POLL_NS = 10 * 1000 * 1000 };

static void poll_if_forgotten(int64_t now)
{
    if (weft__netpoll_wanted() &&
        now - (int64_t)weft__load_relaxed(&weft__netpoll_last) >= SYSMON_POLL_NS)
        weft__netpoll_to_global();
}

static void *sysmon_main(void *arg)
{
    (void)arg;
    struct seen *last = calloc((size_t)weft__S.nslots, sizeof *last);
    if (!last)
        return NULL;
    weft__thread_known_push(); /* weft's own: it readies nothing a task waits for */
    int64_t delay = SYSMON_MIN_NS;
    while (!weft__iload_acq(&sysmon_stop)) {
        unsigned seq = weft__iload_acq(&sysmon_wake_seq);
        int64_t now = weft_now();
        bool busy = false, help = false, all_held = true;
        int n = weft__nworkers();
        for (int i = 0; i < n; i++) {
            weft__worker *w = weft__S.workers[i];
            if (!weft__load_acq(&w->is_idle))
                busy = true;
            if (needs_help(w, &last[i], now))
                help = true;
            if (weft__load_acq(&w->is_idle) || now - last[i].since < SYSMON_HANDOFF_NS) {
                all_held = false;
                continue;
            }
            /* Held for 20 ms: its queue goes where others can take it. */
            if (weft__runq_handoff(w))
                help = true;
            if (all_held && !thread_sleeps((int)weft__iload_acq(&w->tid)))
                all_held = false;
        }
        if (help && weft__load_acq(&weft__S.nidle) > 0)
            weft__wakep();
        /* Every worker asleep in the kernel, and work waiting (queued,
         * due timers on their heaps, or I/O nobody polls): one more
         * worker, and another next time if that is not enough. */
        if (all_held && weft__load_acq(&weft__S.nidle) == 0 &&
            weft__load_acq(&weft__S.nspinning) == 0 &&
            (weft__load_acq(&weft__S.gq_len) || timers_due(now, n) ||
             (weft__netpoll_wanted() && !weft__load_relaxed(&weft__netpoll_owner))) &&
            weft__spare_start() == 0) {
            for (int i = 0; i < n; i++)
                last[i].since = now; /* give the spare 20 ms before another */
        }
        poll_if_forgotten(now);
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
