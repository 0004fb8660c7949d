/*
 * test_handoff.c — a worker held by a raw blocking call (one weft cannot
 * see: read(2) on a blocking pipe) does not freeze the runtime.  The
 * monitor hands the held worker's queue to the global queue after 20 ms,
 * and when every worker sleeps in the kernel while work waits it starts a
 * spare worker (sched/sysmon.c, weft__spare_start).
 *
 * Each test runs the runtime with one or two workers and holds every one
 * of them in read(2) on a pipe only the test thread writes, after the
 * work that must still run was queued behind them.  No sleep synchronises
 * anything: the test waits (bounded) for the work's completion signal and
 * only then releases the pipe; without a spare the work could only
 * complete after the release, which the test checks did not happen.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "testutil.h"

struct held {
    int rd;               /* blocking pipe: read(2) holds the worker */
    atomic_int entered;   /* tasks inside the raw read */
    atomic_int released;  /* tasks whose read returned */
};

static void raw_reader(void *p)
{
    struct held *h = p;
    atomic_fetch_add(&h->entered, 1);
    char c;
    ssize_t r;
    do
        r = read(h->rd, &c, 1);
    while (r == -1 && errno == EINTR);
    atomic_fetch_add(&h->released, 1);
}

struct work {
    weft_chan *done;
    struct held *h;
    atomic_int ran_while_held; /* finished before any reader was released */
};

/* Owns a reference to each channel (the pinger may release its own first). */
static void ponger(void *p)
{
    weft_chan *const *c = p;
    weft_chan *in = c[0], *out = c[1];
    int v;
    while (weft_chan_recv(in, &v) == 0)
        weft_chan_send(out, &v);
    weft_chan_release(in);
    weft_chan_release(out);
}

/* Work that needs a worker: a sleep (a timer on some worker's heap), then
 * 100 round trips with a task of its own, then the completion signal. */
static void pinger(void *p)
{
    struct work *w = p;
    weft_sleep(WEFT_MS);
    weft_chan *c[2] = {weft_chan_make(sizeof(int), 0), weft_chan_make(sizeof(int), 0)};
    WT_CHECK(c[0] && c[1]);
    weft_chan_retain(c[0]);
    weft_chan_retain(c[1]);
    WT_CHECK_INT_EQ(weft_go_copy(ponger, c, sizeof c), 0);
    for (int i = 0; i < 100; i++) {
        int v = i, got = -1;
        WT_CHECK_INT_EQ(weft_chan_send(c[0], &v), 0);
        WT_CHECK_INT_EQ(weft_chan_recv(c[1], &got), 0);
        WT_CHECK_INT_EQ(got, i);
    }
    weft_chan_close(c[0]); /* the ponger returns */
    weft_chan_release(c[0]);
    weft_chan_release(c[1]);
    if (atomic_load(&w->h->released) == 0)
        atomic_fetch_add(&w->ran_while_held, 1);
    WT_CHECK_INT_EQ(weft_chan_send(w->done, NULL), 0);
}

/* Hold every one of `workers` workers in read(2), then run the work. */
static void run_held(int workers)
{
    struct weft_config cfg = {.workers = workers};
    assert_int_equal(weft_init(&cfg), 0);
    {
        WT_LEAK_BEGIN();
        int p[2];
        assert_int_equal(pipe(p), 0);
        struct held h = {.rd = p[0]};
        for (int i = 0; i < workers; i++)
            assert_int_equal(weft_go(raw_reader, &h), 0);
        /* A worker inside a raw read cannot run anything else, so n tasks
         * inside it hold n distinct workers: all of them. */
        int64_t dl = weft_deadline(WT_LIVENESS_NS);
        while (atomic_load(&h.entered) < workers && weft_now() < dl)
            wt_os_sleep_ns(WEFT_MS);
        assert_int_equal(atomic_load(&h.entered), workers);

        struct work w = {.done = weft_chan_make(0, 1), .h = &h};
        assert_non_null(w.done);
        assert_int_equal(weft_go(pinger, &w), 0);
        weft_case cs[] = {WEFT_CASE_RECV(w.done, NULL)};
        int got = weft_select(cs, 1, weft_deadline(WT_LIVENESS_NS / 2));
        int ran = atomic_load(&w.ran_while_held);
        struct weft_stats st;
        assert_int_equal(weft_stats(&st), 0);

        /* Release the readers whatever happened, so nothing outlives the test. */
        for (int i = 0; i < workers; i++)
            assert_int_equal(write(p[1], "x", 1), 1);
        if (got != 0) /* the work still finishes once the workers are free */
            assert_int_equal(weft_chan_recv(w.done, NULL), 0);
        dl = weft_deadline(WT_LIVENESS_NS);
        while (atomic_load(&h.released) < workers && weft_now() < dl)
            wt_os_sleep_ns(WEFT_MS);

        assert_int_equal(got, 0);   /* the work completed ... */
        assert_int_equal(ran, 1);   /* ... while every worker was held */
        assert_true(st.workers > (uint64_t)workers); /* on a spare */
        weft_chan_release(w.done);
        close(p[0]);
        close(p[1]);
        WT_LEAK_END();
    }
    assert_int_equal(weft_shutdown(), 0);
}

static void test_one_worker_held_by_a_raw_read_gets_a_spare(void **state)
{
    (void)state;
    run_held(1);
}

static void test_every_worker_held_by_raw_reads_gets_a_spare(void **state)
{
    (void)state;
    run_held(2);
}

/* The spare is an ordinary worker afterwards: the runtime still shuts
 * down cleanly and starts again with the configured count. */
static void test_restart_after_spares_has_the_configured_workers(void **state)
{
    (void)state;
    run_held(1);
    struct weft_config cfg = {.workers = 1};
    assert_int_equal(weft_init(&cfg), 0);
    struct weft_stats st;
    assert_int_equal(weft_stats(&st), 0);
    assert_int_equal(st.workers, 1);
    assert_int_equal(weft_shutdown(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_worker_held_by_a_raw_read_gets_a_spare),
        cmocka_unit_test(test_every_worker_held_by_raw_reads_gets_a_spare),
        cmocka_unit_test(test_restart_after_spares_has_the_configured_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
