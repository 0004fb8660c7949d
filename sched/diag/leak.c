/*
 * leak.c — weft_leak_mark / weft_leak_check: did every task spawned after
 * a mark return?
 *
 * The check waits until each checked task has returned or is *durably*
 * blocked, up to the timeout, and never guesses from elapsed time:
 *   - a task parked on a channel that has no reference left can never be
 *     woken (certainly leaked) — it stops the wait by itself;
 *   - otherwise parked tasks are durably blocked once nothing can make
 *     progress (weft__diag_scan's quiescence: every task parked, no timer
 *     queued, every worker idle, no plain thread inside weft that comes
 *     back by itself, and every OS thread of the process known to weft —
 *     a thread outside weft may still send, close or cancel).  While such
 *     a thread exists the check waits: for it to exit (or enter weft),
 *     for the tasks to return, or for the timeout.
 * The checked tasks are those spawned (by weft_go*, counted in
 * weft_num_tasks) with an id >= mark, except the caller itself.
 *
 * Waiting.  A plain thread blocks on the exit epoch's futex
 * (weft__wait_exit), which moves on every task exit while a waiter is
 * registered (weft__exit_watch_begin) and every time the
 * runtime goes idle (weft__check_deadlock pokes it); each wake-up re-scans.
 * Only while a plain thread is blocked inside weft with a deadline (whose
 * return nobody signals) does it also re-scan every LEAK_PLAIN_RESCAN, and
 * while a thread outside weft exists (whose exit nobody signals) from
 * every millisecond backing off to LEAK_PLAIN_RESCAN.
 *
 * A task must not block its worker thread, and a task that keeps waking up
 * to look would keep the runtime from settling (each wake-up makes another
 * worker spin for work for a moment).  So inside a task the check runs on
 * a helper thread, exactly as above, while the calling task parks on a
 * channel for the verdict; only if the thread cannot be created does the
 * task re-scan between weft_sleep steps instead.
 */
#include <pthread.h>

#include "diag.h"

enum {
    LEAK_TASK_STEP_MIN = 1,   /* ms */
    LEAK_TASK_STEP = 16,      /* ms */
    LEAK_PLAIN_RESCAN = 200,  /* ms */
    LEAK_OUTSIDE_FIRST = 1,   /* ms: first re-look while threads outside weft exist */
};

uint64_t weft_leak_mark(void) { return weft__next_task_id(); }

static bool settled(const struct weft__diag_scan *s)
{
    return s->checked == 0 || s->checked == s->checked_certain || s->quiescent;
}

static int64_t deadline_after(int64_t now, int64_t timeout)
{
    if (timeout <= 0)
        return now;
    return timeout > WEFT_FOREVER - now ? WEFT_FOREVER : now + timeout;
}

static void wait_on_thread(struct weft__diag_scan *s, int64_t deadline);

static void wait_polling(struct weft__diag_scan *s, int64_t deadline, const void *pc)
{
    int64_t step = LEAK_TASK_STEP_MIN * WEFT_MS;
    for (;;) {
        weft__diag_scan(s);
        int64_t now = weft_now();
        if (settled(s) || now >= deadline)
            return;
        weft__sleep_pc(deadline - now < step ? deadline - now : step, pc);
        if (step < LEAK_TASK_STEP * WEFT_MS)
            step *= 2;
    }
}

struct helper {
    struct weft__diag_scan *s;
    int64_t deadline;
    weft_chan *verdict; /* the helper's own reference */
};

static void *helper_main(void *p)
{
    struct helper h = *(struct helper *)p; /* the caller's stack frame ends with our send */
    weft__thread_known_push(); /* weft's own: it wakes only the caller, at the end */
    wait_on_thread(h.s, h.deadline);
    weft__thread_known_pop();
    (void)weft_chan_send(h.verdict, NULL); /* cap 1: never blocks */
    weft_chan_release(h.verdict);
    return NULL;
}

/* pc: the user's call of weft_leak_check, for dumps taken meanwhile. */
static void wait_in_task(struct weft__diag_scan *s, int64_t deadline, const void *pc)
{
    weft_chan *verdict = weft_chan_make_at(0, 1, __FILE__, __LINE__);
    struct helper h = {s, deadline, weft_chan_retain(verdict)};
    pthread_t th;
    int r = verdict ? weft__thread_create(&th, helper_main, &h) : ENOMEM;
    if (r == 0)
        pthread_detach(th);
    if (r) {
        weft_chan_release(verdict);
        weft_chan_release(verdict);
        wait_polling(s, deadline, pc);
        return;
    }
    /* The helper wrote *s before its send; the receive orders it for us. */
    (void)weft__chan_recv_pc(verdict, NULL, pc);
    weft_chan_release(verdict);
}

static void wait_on_thread(struct weft__diag_scan *s, int64_t deadline)
{
    weft__fetch_add_full(&weft__diag_leak_waiters, 1);
    weft__exit_watch_begin();
    int64_t outside_step = LEAK_OUTSIDE_FIRST * WEFT_MS;
    for (;;) {
        /* The epoch is read before the scan: whatever happens after the
         * scan moves it, and the wait below returns at once. */
        unsigned epoch = weft__iload_acq(&weft__exit_epoch);
        weft__diag_scan(s);
        int64_t now = weft_now();
        if (settled(s) || now >= deadline)
            break;
        /* Nobody signals the return of a plain thread blocked with a
         * deadline, nor the exit of a thread outside weft: look again. */
        int64_t step = WEFT_FOREVER;
        if (!s->quiet_plain)
            step = LEAK_PLAIN_RESCAN * WEFT_MS;
        if (s->outside_threads) {
            step = outside_step;
            if (outside_step < LEAK_PLAIN_RESCAN * WEFT_MS)
                outside_step *= 2;
            if (outside_step > LEAK_PLAIN_RESCAN * WEFT_MS)
                outside_step = LEAK_PLAIN_RESCAN * WEFT_MS; /* the cap docs/leaks.md gives */
        } else {
            outside_step = LEAK_OUTSIDE_FIRST * WEFT_MS;
        }
        int64_t until = deadline - now > step ? now + step : deadline;
        weft__wait_exit(epoch, until);
    }
    weft__exit_watch_end();
    weft__fetch_add_full(&weft__diag_leak_waiters, (AO_t)-1);
}

struct leak_filter {
    uint64_t mark, self;
};

static bool is_checked(const weft__task *t, void *arg)
{
    const struct leak_filter *f = arg;
    return t->counted && t->id >= f->mark && t->id != f->self;
}

static void print_report(FILE *out, const struct weft__diag_task *v, size_t n, size_t lost,
                         uint64_t mark, int64_t waited, const struct weft__diag_scan *s)
{
    size_t certain = 0;
    for (size_t i = 0; i < n; i++)
        certain += weft__diag_certainly_leaked(&v[i]);
    size_t total = n + lost;
    fprintf(out, "weft: leak check: %zu task%s spawned since mark %llu did not return ", total,
            total == 1 ? "" : "s", (unsigned long long)mark);
    if (certain == total)
        fprintf(out, "(waited %lld ms; blocked on channels nothing references)\n",
                (long long)(waited / WEFT_MS));
    else if (s->quiescent)
        fprintf(out, "(waited %lld ms; nothing inside weft can wake %s)\n",
                (long long)(waited / WEFT_MS), total == 1 ? "it" : "them");
    else if (s->outside_threads)
        fprintf(out, "(timed out after %lld ms; nothing inside weft can wake %s, but a thread "
                     "outside weft might: join it before checking, or declare it with "
                     "weft_thread_ignore)\n",
                (long long)(waited / WEFT_MS), total == 1 ? "it" : "them");
    else
        fprintf(out, "(timed out after %lld ms)\n", (long long)(waited / WEFT_MS));
    weft__diag_print_tasks(out, v, n);
    if (lost)
        fprintf(out, "(%zu more not shown: out of memory)\n", lost);
    fflush(out);
}

size_t weft_leak_check(uint64_t mark, int64_t timeout, FILE *report)
{
    int64_t start = weft_now();
    int64_t deadline = deadline_after(start, timeout);
    uint64_t self = weft_self();
    struct weft__diag_scan s = {.mark = mark, .self = self};
    if (!self)
        weft__thread_known_push(); /* it wakes no task until the check returns */
    if (deadline <= start)
        weft__diag_scan(&s); /* no waiting: one look */
    else if (self)
        wait_in_task(&s, deadline, WEFT__CALLER());
    else
        wait_on_thread(&s, deadline);
    if (!self)
        weft__thread_known_pop();
    if (s.checked == 0)
        return 0;
    /* Report what is alive now (a task may have returned since the scan). */
    struct leak_filter f = {mark, self};
    struct weft__diag_task *v;
    size_t lost;
    size_t n = weft__diag_collect(is_checked, &f, &v, &lost);
    if (!v) { /* out of memory: report the count only */
        if (report)
            fprintf(report, "weft: leak check: %zu tasks spawned since mark %llu did not return "
                            "(out of memory listing them)\n",
                    s.checked, (unsigned long long)mark);
        return s.checked;
    }
    if (n + lost && report)
        print_report(report, v, n, lost, mark, weft_now() - start, &s);
    weft__free(v);
    return n + lost;
}
