/*
 * test_select.c — weft_select (and the _ctx channel operations when the
 * library has contexts), in the spirit of Go's select tests
 * (runtime/chan_test.go TestSelectFairness, TestNonblockSelectRace,
 * TestSelfSelect, TestSelectDuplicateChannel, TestSelectStress).
 *
 * Fairness tests use a ±5 sigma bound on each case's count: with a fair
 * select a spurious failure has probability below 1e-6 per case.
 */
#include <math.h>

#include "testutil.h"

typedef int64_t i64;

static void run_both(void (*body)(void *), void *arg)
{
    body(arg);
    wt_assert_no_failures();
    wt_run_in_task(body, arg);
    wt_assert_no_failures();
}

/* ================================================================== */
/* Readiness                                                           */
/* ================================================================== */

static void ready_case_body(void *arg)
{
    (void)arg;
    weft_chan *a = weft_chan_make(sizeof(i64), 1), *b = weft_chan_make(sizeof(i64), 1),
              *c = weft_chan_make(sizeof(i64), 1);
    i64 v = 17, ra = -1, rb = -1, rc = -1;
    WT_CHECK_INT_EQ(weft_chan_send(b, &v), 0);
    for (int trial = 0; trial < 50; trial++) {
        weft_case cs[3] = {WEFT_CASE_RECV(a, &ra), WEFT_CASE_RECV(b, &rb),
                           WEFT_CASE_RECV(c, &rc)};
        int i = weft_select(cs, 3, WEFT_FOREVER);
        WT_CHECK_INT_EQ(i, 1);
        WT_CHECK(cs[1].ok);
        WT_CHECK_INT_EQ(rb, 17 + trial);
        WT_CHECK_INT_EQ(ra, -1); /* cases that did not proceed are untouched */
        WT_CHECK_INT_EQ(rc, -1);
        v = 18 + trial;
        WT_CHECK_INT_EQ(weft_chan_send(b, &v), 0);
    }
    /* A send case is ready when its buffer has room. */
    WT_CHECK_INT_EQ(weft_chan_send(a, &v), 0); /* a full, b full, c empty */
    i64 s = 555;
    weft_case cs[3] = {WEFT_CASE_SEND(a, &s), WEFT_CASE_SEND(b, &s), WEFT_CASE_SEND(c, &s)};
    WT_CHECK_INT_EQ(weft_select(cs, 3, 0), 2);
    WT_CHECK(cs[2].ok);
    WT_CHECK_INT_EQ(weft_chan_len(c), 1);
    WT_CHECK_INT_EQ(weft_chan_recv(c, &rc), 0);
    WT_CHECK_INT_EQ(rc, 555);
    weft_chan_release(a);
    weft_chan_release(b);
    weft_chan_release(c);
}

static void test_select_proceeds_with_the_only_ready_case(void **state)
{
    WT_LEAK_BEGIN();
    run_both(ready_case_body, NULL);
    WT_LEAK_END();
}

/* A parked select is woken by a sender, a receiver, a plain thread or a
 * task, and moves exactly the value offered. */
struct wake {
    weft_chan *a, *b, *done;
};

static void select_waiter(void *p)
{
    struct wake *w = p;
    i64 ra = -1, out = 99;
    for (int round = 0; round < 200; round++) {
        weft_case cs[2] = {WEFT_CASE_RECV(w->a, &ra), WEFT_CASE_SEND(w->b, &out)};
        int i = weft_select(cs, 2, WEFT_FOREVER);
        if (round % 2 == 0) {
            WT_CHECK_INT_EQ(i, 0);
            WT_CHECK(cs[0].ok);
            WT_CHECK_INT_EQ(ra, round);
        } else {
            WT_CHECK_INT_EQ(i, 1);
            WT_CHECK(cs[1].ok);
        }
        out++;
    }
    WT_CHECK_INT_EQ(weft_chan_send(w->done, NULL), 0);
}

static void test_parked_select_is_woken_by_a_sender_or_a_receiver(void **state)
{
    WT_LEAK_BEGIN();
    struct wake w = {weft_chan_make(sizeof(i64), 0), weft_chan_make(sizeof(i64), 0),
                     weft_chan_make(0, 1)};
    assert_int_equal(weft_go(select_waiter, &w), 0);
    for (i64 round = 0; round < 200; round++) {
        if (round % 2 == 0) {
            assert_int_equal(weft_chan_send(w.a, &round), 0);
        } else {
            i64 got = -1;
            assert_int_equal(weft_chan_recv(w.b, &got), 0);
            assert_int_equal(got, 99 + round);
        }
    }
    assert_int_equal(wt_wait_n(w.done, 1), 1);
    weft_chan_release(w.a);
    weft_chan_release(w.b);
    weft_chan_release(w.done);
    WT_LEAK_END();
}

/* ================================================================== */
/* Fairness                                                            */
/* ================================================================== */

static void assert_uniform(const long *counts, int k, long trials, const char *what)
{
    double p = 1.0 / k, mean = trials * p, sigma = sqrt(trials * p * (1 - p));
    long lo = (long)floor(mean - 5 * sigma), hi = (long)ceil(mean + 5 * sigma);
    for (int i = 0; i < k; i++) {
        if (counts[i] < lo || counts[i] > hi)
            print_error("%s: case %d chosen %ld of %ld times (expected %ld..%ld)\n", what, i,
                        counts[i], trials, lo, hi);
        assert_in_range(counts[i], lo, hi);
    }
}

/* k always-ready receive cases on k buffered channels (or on one channel
 * k times): each case must be chosen about 1/k of the time. */
static void fairness_recv(int k, bool same_channel, long trials)
{
    weft_chan *ch[4];
    for (int i = 0; i < k; i++) {
        ch[i] = (same_channel && i > 0) ? ch[0] : weft_chan_make(sizeof(i64), 4);
        i64 v = same_channel ? 0 : i;
        if (!same_channel || i == 0)
            assert_int_equal(weft_chan_send(ch[i], &v), 0);
    }
    long counts[4] = {0};
    for (long t = 0; t < trials; t++) {
        i64 got[4] = {-1, -1, -1, -1};
        weft_case cs[4];
        for (int i = 0; i < k; i++)
            cs[i] = (weft_case)WEFT_CASE_RECV(ch[i], &got[i]);
        int idx = weft_select(cs, (size_t)k, WEFT_FOREVER);
        assert_in_range(idx, 0, k - 1);
        assert_true(cs[idx].ok);
        counts[idx]++;
        assert_int_equal(weft_chan_send(ch[idx], &got[idx]), 0); /* refill */
    }
    assert_uniform(counts, k, trials, same_channel ? "recv, same channel" : "recv");
    if (!same_channel) /* the values stayed where they belong */
        for (int i = 0; i < k; i++) {
            i64 v = -1;
            assert_int_equal(weft_chan_len(ch[i]), 1);
            assert_int_equal(weft_chan_recv(ch[i], &v), 0);
            assert_int_equal(v, i);
        }
    for (int i = 0; i < (same_channel ? 1 : k); i++)
        weft_chan_release(ch[i]);
}

static void test_select_chooses_uniformly_among_two_ready_recv_cases(void **state)
{
    fairness_recv(2, false, 20000);
}

static void test_select_chooses_uniformly_among_four_ready_recv_cases(void **state)
{
    fairness_recv(4, false, 40000);
}

static void test_select_chooses_uniformly_among_cases_on_the_same_channel(void **state)
{
    fairness_recv(2, true, 20000);
    fairness_recv(4, true, 40000);
}

static void test_select_chooses_uniformly_among_ready_send_cases(void **state)
{
    enum { K = 4, TRIALS = 40000 };
    weft_chan *ch[K];
    for (int i = 0; i < K; i++)
        ch[i] = weft_chan_make(sizeof(i64), 1);
    long counts[K] = {0};
    i64 vals[K] = {10, 11, 12, 13};
    for (long t = 0; t < TRIALS; t++) {
        weft_case cs[K];
        for (int i = 0; i < K; i++)
            cs[i] = (weft_case)WEFT_CASE_SEND(ch[i], &vals[i]);
        int idx = weft_select(cs, K, 0);
        assert_in_range(idx, 0, K - 1);
        counts[idx]++;
        i64 v = -1;
        assert_int_equal(weft_chan_try_recv(ch[idx], &v), 0);
        assert_int_equal(v, vals[idx]);
        for (int i = 0; i < K; i++)
            assert_int_equal(weft_chan_len(ch[i]), 0);
    }
    assert_uniform(counts, K, TRIALS, "send");
    for (int i = 0; i < K; i++)
        weft_chan_release(ch[i]);
}

/* A select that parks enqueues its cases in random order: with two send
 * cases on one unbuffered channel, a receiver arriving later takes either
 * case's value about half of the time.  (If the receiver happens to arrive
 * first, the select sees both cases ready and must choose at random too.) */
struct parked_fair {
    weft_chan *c, *done;
    long trials;
};

static void parked_fair_sender(void *p)
{
    struct parked_fair *pf = p;
    i64 v0 = 0, v1 = 1;
    for (long t = 0; t < pf->trials; t++) {
        weft_case cs[2] = {WEFT_CASE_SEND(pf->c, &v0), WEFT_CASE_SEND(pf->c, &v1)};
        int idx = weft_select(cs, 2, WEFT_FOREVER);
        WT_CHECK(idx == 0 || idx == 1);
    }
    WT_CHECK_INT_EQ(weft_chan_send(pf->done, NULL), 0);
}

static void test_parked_select_is_not_biased_between_its_cases(void **state)
{
    WT_LEAK_BEGIN();
    struct parked_fair pf = {weft_chan_make(sizeof(i64), 0), weft_chan_make(0, 1), 4000};
    assert_int_equal(weft_go(parked_fair_sender, &pf), 0);
    long counts[2] = {0};
    for (long t = 0; t < pf.trials; t++) {
        i64 v = -1;
        assert_int_equal(weft_chan_recv(pf.c, &v), 0);
        assert_in_range(v, 0, 1);
        counts[v]++;
    }
    assert_int_equal(wt_wait_n(pf.done, 1), 1);
    assert_uniform(counts, 2, pf.trials, "parked select, send cases on one channel");
    weft_chan_release(pf.c);
    weft_chan_release(pf.done);
    WT_LEAK_END();
}

/* ================================================================== */
/* Same channel in several cases, both directions                       */
/* ================================================================== */

static void same_channel_body(void *arg)
{
    (void)arg;
    i64 s = 7, r = -1;
    /* Buffered, cap 1, empty: only the send can proceed. */
    weft_chan *c = weft_chan_make(sizeof(i64), 1);
    weft_case cs[2] = {WEFT_CASE_SEND(c, &s), WEFT_CASE_RECV(c, &r)};
    WT_CHECK_INT_EQ(weft_select(cs, 2, WEFT_FOREVER), 0);
    WT_CHECK(cs[0].ok);
    WT_CHECK_INT_EQ(weft_chan_len(c), 1);
    /* Full: only the receive can proceed, and it gets the value. */
    cs[0] = (weft_case)WEFT_CASE_SEND(c, &s);
    cs[1] = (weft_case)WEFT_CASE_RECV(c, &r);
    WT_CHECK_INT_EQ(weft_select(cs, 2, WEFT_FOREVER), 1);
    WT_CHECK(cs[1].ok);
    WT_CHECK_INT_EQ(r, 7);
    WT_CHECK_INT_EQ(weft_chan_len(c), 0);
    /* Two receive cases on one value: exactly one proceeds. */
    WT_CHECK_INT_EQ(weft_chan_send(c, &s), 0);
    i64 r0 = -1, r1 = -1;
    weft_case two[2] = {WEFT_CASE_RECV(c, &r0), WEFT_CASE_RECV(c, &r1)};
    int idx = weft_select(two, 2, 0);
    WT_CHECK(idx == 0 || idx == 1);
    WT_CHECK_INT_EQ(idx == 0 ? r0 : r1, 7);
    WT_CHECK_INT_EQ(idx == 0 ? r1 : r0, -1);
    WT_CHECK_INT_EQ(weft_chan_len(c), 0);
    weft_chan_release(c);

    /* Unbuffered: a select never rendezvous with itself (Go TestSelfSelect). */
    weft_chan *u = weft_chan_make(sizeof(i64), 0);
    cs[0] = (weft_case)WEFT_CASE_SEND(u, &s);
    cs[1] = (weft_case)WEFT_CASE_RECV(u, &r);
    WT_CHECK_INT_EQ(weft_select(cs, 2, 0), -ETIMEDOUT);
    int64_t dl = weft_deadline(20 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_select(cs, 2, dl), -ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
    /* ... and left no waiter behind. */
    WT_CHECK_INT_EQ(weft_chan_try_send(u, &s), EAGAIN);
    WT_CHECK_INT_EQ(weft_chan_try_recv(u, &r), EAGAIN);
    weft_chan_release(u);
}

static void test_select_allows_same_channel_in_several_cases_and_both_directions(void **state)
{
    WT_LEAK_BEGIN();
    run_both(same_channel_body, NULL);
    WT_LEAK_END();
}

/* Two selects, each with a send and a receive case on the same unbuffered
 * channel, must pair with each other (Go TestSelfSelect, two goroutines). */
struct self_select {
    weft_chan *c, *done;
    i64 id;
    int rounds;
};

static void self_select_task(void *p)
{
    struct self_select *ss = p;
    for (int i = 0; i < ss->rounds; i++) {
        i64 out = ss->id, in = -1;
        weft_case cs[2] = {WEFT_CASE_SEND(ss->c, &out), WEFT_CASE_RECV(ss->c, &in)};
        int idx = weft_select(cs, 2, WEFT_FOREVER);
        WT_CHECK(idx == 0 || idx == 1);
        if (idx == 1)
            WT_CHECK_MSG(in != ss->id, "select %lld received its own value", (long long)ss->id);
    }
    WT_CHECK_INT_EQ(weft_chan_send(ss->done, NULL), 0);
}

static void test_two_selects_with_send_and_recv_on_one_channel_pair_with_each_other(void **state)
{
    WT_LEAK_BEGIN();
    weft_chan *c = weft_chan_make(sizeof(i64), 0), *done = weft_chan_make(0, 2);
    struct self_select a = {c, done, 1, 2000}, b = {c, done, 2, 2000};
    assert_int_equal(weft_go(self_select_task, &a), 0);
    assert_int_equal(weft_go(self_select_task, &b), 0);
    assert_int_equal(wt_wait_n(done, 2), 2);
    weft_chan_release(c);
    weft_chan_release(done);
    WT_LEAK_END();
}

/* ================================================================== */
/* NULL channels, no cases, deadlines                                  */
/* ================================================================== */

static void null_case_body(void *arg)
{
    (void)arg;
    weft_chan *c = weft_chan_make(sizeof(i64), 1);
    i64 v = 3, r = -1, s = 4;
    for (int trial = 0; trial < 100; trial++) {
        WT_CHECK_INT_EQ(weft_chan_send(c, &v), 0);
        weft_case cs[3] = {WEFT_CASE_RECV(NULL, &r), WEFT_CASE_SEND(NULL, &s),
                           WEFT_CASE_RECV(c, &r)};
        WT_CHECK_INT_EQ(weft_select(cs, 3, WEFT_FOREVER), 2);
        WT_CHECK_INT_EQ(r, 3);
    }
    /* Only NULL cases: nothing is ever ready. */
    weft_case cs[2] = {WEFT_CASE_RECV(NULL, &r), WEFT_CASE_SEND(NULL, &s)};
    WT_CHECK_INT_EQ(weft_select(cs, 2, 0), -ETIMEDOUT);
    int64_t dl = weft_deadline(20 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_select(cs, 2, dl), -ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
    weft_chan_release(c);
}

static void test_select_null_channel_case_is_never_ready(void **state)
{
    WT_LEAK_BEGIN();
    run_both(null_case_body, NULL);
    WT_LEAK_END();
}

static void no_case_body(void *arg)
{
    (void)arg;
    WT_CHECK_INT_EQ(weft_select(NULL, 0, 0), -ETIMEDOUT);
    weft_case unused[1];
    WT_CHECK_INT_EQ(weft_select(unused, 0, weft_now() - WEFT_SEC), -ETIMEDOUT);
    int64_t dl = weft_deadline(20 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_select(NULL, 0, dl), -ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
}

static void test_select_with_no_cases_times_out_at_the_deadline(void **state)
{
    WT_LEAK_BEGIN();
    run_both(no_case_body, NULL);
    WT_LEAK_END();
}

static void default_body(void *arg)
{
    (void)arg;
    weft_chan *u = weft_chan_make(sizeof(i64), 0), *b = weft_chan_make(sizeof(i64), 1);
    i64 r = -1, s = 1;
    const int64_t past[] = {0, -1, INT64_MIN, weft_now() - 1, weft_now()};
    for (size_t k = 0; k < sizeof past / sizeof past[0]; k++) {
        weft_case cs[3] = {WEFT_CASE_RECV(u, &r), WEFT_CASE_SEND(u, &s), WEFT_CASE_RECV(b, &r)};
        WT_CHECK_INT_EQ(weft_select(cs, 3, past[k]), -ETIMEDOUT);
        WT_CHECK_INT_EQ(r, -1);
    }
    /* A ready case is taken rather than the default. */
    WT_CHECK_INT_EQ(weft_chan_send(b, &s), 0);
    weft_case cs[3] = {WEFT_CASE_RECV(u, &r), WEFT_CASE_SEND(u, &s), WEFT_CASE_RECV(b, &r)};
    WT_CHECK_INT_EQ(weft_select(cs, 3, 0), 2);
    WT_CHECK_INT_EQ(r, 1);
    weft_chan_release(u);
    weft_chan_release(b);
}

static void test_select_with_past_deadline_is_the_default_branch(void **state)
{
    WT_LEAK_BEGIN();
    run_both(default_body, NULL);
    WT_LEAK_END();
}

static void future_deadline_body(void *arg)
{
    (void)arg;
    weft_chan *u = weft_chan_make(sizeof(i64), 0), *full = weft_chan_make(sizeof(i64), 1);
    i64 r = -1, s = 1;
    WT_CHECK_INT_EQ(weft_chan_send(full, &s), 0);
    for (int k = 0; k < 3; k++) {
        int64_t dl = weft_deadline((k + 1) * 10 * WEFT_MS);
        weft_case cs[3] = {WEFT_CASE_RECV(u, &r), WEFT_CASE_SEND(u, &s),
                           WEFT_CASE_SEND(full, &s)};
        WT_CHECK_INT_EQ(weft_select(cs, 3, dl), -ETIMEDOUT);
        WT_CHECK_INT_GE(weft_now(), dl);
    }
    /* The timed-out select left no waiter behind on any channel. */
    WT_CHECK_INT_EQ(weft_chan_try_send(u, &s), EAGAIN);
    WT_CHECK_INT_EQ(weft_chan_try_recv(u, &r), EAGAIN);
    WT_CHECK_INT_EQ(weft_chan_len(full), 1);
    WT_CHECK_INT_EQ(weft_chan_try_recv(full, &r), 0);
    WT_CHECK_INT_EQ(weft_chan_try_recv(full, &r), EAGAIN);
    weft_chan_release(u);
    weft_chan_release(full);
}

static void test_select_with_future_deadline_times_out_after_it_and_leaves_no_waiter(void **state)
{
    WT_LEAK_BEGIN();
    run_both(future_deadline_body, NULL);
    WT_LEAK_END();
}

/* ================================================================== */
/* Closed channels                                                     */
/* ================================================================== */

static void closed_body(void *arg)
{
    (void)arg;
    weft_chan *open = weft_chan_make(sizeof(i64), 0), *closed = weft_chan_make(sizeof(i64), 2);
    i64 v = 5, r = -1;
    WT_CHECK_INT_EQ(weft_chan_send(closed, &v), 0);
    WT_CHECK_INT_EQ(weft_chan_close(closed), 0);

    /* Send case on a closed channel: ready, ok = false, nothing queued. */
    weft_case cs[2] = {WEFT_CASE_RECV(open, &r), WEFT_CASE_SEND(closed, &v)};
    cs[1].ok = true;
    WT_CHECK_INT_EQ(weft_select(cs, 2, WEFT_FOREVER), 1);
    WT_CHECK(!cs[1].ok);
    WT_CHECK_INT_EQ(weft_chan_len(closed), 1);

    /* Receive: the buffered value first (ok), then zeroed with ok = false. */
    weft_case rc[2] = {WEFT_CASE_RECV(open, &r), WEFT_CASE_RECV(closed, &r)};
    WT_CHECK_INT_EQ(weft_select(rc, 2, WEFT_FOREVER), 1);
    WT_CHECK(rc[1].ok);
    WT_CHECK_INT_EQ(r, 5);
    for (int i = 0; i < 3; i++) {
        r = -1;
        rc[1].ok = true;
        WT_CHECK_INT_EQ(weft_select(rc, 2, 0), 1);
        WT_CHECK(!rc[1].ok);
        WT_CHECK_INT_EQ(r, 0);
    }
    /* val may be NULL. */
    weft_case nv[1] = {WEFT_CASE_RECV(closed, NULL)};
    WT_CHECK_INT_EQ(weft_select(nv, 1, 0), 0);
    WT_CHECK(!nv[0].ok);
    weft_chan_release(open);
    weft_chan_release(closed);
}

static void test_select_on_closed_channel_is_ready_with_ok_false_and_zeroed_value(void **state)
{
    WT_LEAK_BEGIN();
    run_both(closed_body, NULL);
    WT_LEAK_END();
}

struct closed_wake {
    weft_chan *a, *b, *results;
    enum weft_dir dir;
};
struct closed_wake_result {
    int idx;
    bool ok;
    i64 val;
};

static void closed_wake_task(void *p)
{
    struct closed_wake *cw = p;
    struct closed_wake_result res;
    i64 va = 0x1111, vb = 0x2222;
    weft_case cs[2] = {{cw->a, cw->dir, &va, true}, {cw->b, cw->dir, &vb, true}};
    res.idx = weft_select(cs, 2, WEFT_FOREVER);
    res.ok = res.idx >= 0 ? cs[res.idx].ok : true;
    res.val = res.idx == 0 ? va : vb;
    WT_CHECK_INT_EQ(weft_chan_send(cw->results, &res), 0);
}

/* Parked selects (receiving or sending) are all woken by a close, with
 * ok = false (and a zeroed value for receives). */
static void test_close_wakes_every_parked_select(void **state)
{
    WT_LEAK_BEGIN();
    enum { N = 12 };
    for (int d = 0; d < 2; d++) {
        struct closed_wake cw = {weft_chan_make(sizeof(i64), 0), weft_chan_make(sizeof(i64), 0),
                                 weft_chan_make(sizeof(struct closed_wake_result), N),
                                 d == 0 ? WEFT_RECV : WEFT_SEND};
        for (int i = 0; i < N; i++)
            assert_int_equal(weft_go(closed_wake_task, &cw), 0);
        wt_settle();
        assert_int_equal(weft_chan_len(cw.results), 0);
        assert_int_equal(weft_chan_close(cw.b), 0);
        for (int i = 0; i < N; i++) {
            struct closed_wake_result res;
            assert_int_equal(wt_recv_within(cw.results, &res, WT_LIVENESS_NS), 0);
            assert_int_equal(res.idx, 1);
            assert_false(res.ok);
            if (cw.dir == WEFT_RECV)
                assert_int_equal(res.val, 0);
        }
        /* a was never involved: nobody waits on it any more. */
        i64 v = 1;
        assert_int_equal(weft_chan_try_send(cw.a, &v), EAGAIN);
        assert_int_equal(weft_chan_try_recv(cw.a, &v), EAGAIN);
        weft_chan_release(cw.a);
        weft_chan_release(cw.b);
        weft_chan_release(cw.results);
    }
    WT_LEAK_END();
}

/* ================================================================== */
/* Exactly one case proceeds when several become ready concurrently     */
/* ================================================================== */

struct once {
    weft_chan *a, *b, *results, *done;
};
struct once_result {
    int idx;
    i64 val;
};

static void once_selector(void *p)
{
    struct once *o = p;
    i64 va = -1, vb = -1;
    weft_case cs[2] = {WEFT_CASE_RECV(o->a, &va), WEFT_CASE_RECV(o->b, &vb)};
    struct once_result r;
    r.idx = weft_select(cs, 2, WEFT_FOREVER);
    r.val = r.idx == 0 ? va : vb;
    WT_CHECK(r.idx < 0 || cs[r.idx].ok);
    WT_CHECK_INT_EQ(r.idx == 0 ? vb : va, -1); /* the other case moved nothing */
    WT_CHECK_INT_EQ(weft_chan_send(o->results, &r), 0);
}

static void once_sender_a(void *p)
{
    struct once *o = p;
    i64 v = 100;
    WT_CHECK_INT_EQ(weft_chan_send(o->a, &v), 0);
    WT_CHECK_INT_EQ(weft_chan_send(o->done, NULL), 0);
}

static void once_sender_b(void *p)
{
    struct once *o = p;
    i64 v = 200;
    WT_CHECK_INT_EQ(weft_chan_send(o->b, &v), 0);
    WT_CHECK_INT_EQ(weft_chan_send(o->done, NULL), 0);
}

static void test_select_wakes_exactly_once_when_two_channels_become_ready_together(void **state)
{
    WT_LEAK_BEGIN();
    enum { ROUNDS = 1000 };
    for (size_t cap = 0; cap <= 1; cap++) {
        struct once o = {weft_chan_make(sizeof(i64), cap), weft_chan_make(sizeof(i64), cap),
                         weft_chan_make(sizeof(struct once_result), 1), weft_chan_make(0, 2)};
        long picked[2] = {0};
        for (int round = 0; round < ROUNDS; round++) {
            assert_int_equal(weft_go(once_selector, &o), 0);
            if (round % 2) /* vary whether the selector has parked */
                for (int i = 0; i < 8; i++)
                    weft_yield();
            assert_int_equal(weft_go(once_sender_a, &o), 0);
            assert_int_equal(weft_go(once_sender_b, &o), 0);
            struct once_result r;
            assert_int_equal(wt_recv_within(o.results, &r, WT_LIVENESS_NS), 0);
            assert_in_range(r.idx, 0, 1);
            assert_int_equal(r.val, r.idx == 0 ? 100 : 200);
            picked[r.idx]++;
            /* The other value was not lost: it is still there for us. */
            i64 other = -1;
            assert_int_equal(wt_recv_within(r.idx == 0 ? o.b : o.a, &other, WT_LIVENESS_NS), 0);
            assert_int_equal(other, r.idx == 0 ? 200 : 100);
            assert_int_equal(wt_wait_n(o.done, 2), 2);
            /* And nothing more moved. */
            assert_int_equal(weft_chan_try_recv(o.a, NULL), EAGAIN);
            assert_int_equal(weft_chan_try_recv(o.b, NULL), EAGAIN);
        }
        /* Which case wins depends on the interleaving (not a contract
         * property): reported, not asserted. */
        print_message("cap %zu: select took a %ld times, b %ld times\n", cap, picked[0],
                      picked[1]);
        weft_chan_release(o.a);
        weft_chan_release(o.b);
        weft_chan_release(o.results);
        weft_chan_release(o.done);
    }
    WT_LEAK_END();
}

/* Go's TestNonblockSelectRace: at every instant at least one of c1, c2
 * holds a value (this thread fills c2 before it empties c1), so a
 * non-blocking select over both must always find one ready.  A select that
 * polls its cases without seeing one consistent state can miss both. */
struct nb_race {
    weft_chan *c1, *c2, *results;
};

static void nb_race_selector(void *p)
{
    struct nb_race *nr = p;
    weft_case cs[2] = {WEFT_CASE_RECV(nr->c1, NULL), WEFT_CASE_RECV(nr->c2, NULL)};
    int idx = weft_select(cs, 2, 0);
    WT_CHECK_INT_EQ(weft_chan_send(nr->results, &idx), 0);
}

static void test_nonblocking_select_never_misses_both_of_two_alternately_ready_channels(
    void **state)
{
    WT_LEAK_BEGIN();
    for (int i = 0; i < 4000; i++) {
        struct nb_race nr = {weft_chan_make(sizeof(i64), 1), weft_chan_make(sizeof(i64), 1),
                             weft_chan_make(sizeof(int), 1)};
        i64 v = 1;
        assert_int_equal(weft_chan_send(nr.c1, &v), 0);
        assert_int_equal(weft_go(nb_race_selector, &nr), 0);
        assert_int_equal(weft_chan_send(nr.c2, &v), 0);
        weft_case cs[1] = {WEFT_CASE_RECV(nr.c1, NULL)};
        int took_c1 = weft_select(cs, 1, 0) == 0;
        int idx = -2;
        assert_int_equal(wt_recv_within(nr.results, &idx, WT_LIVENESS_NS), 0);
        if (idx < 0)
            fail_msg("iteration %d: non-blocking select found neither channel ready", i);
        /* Two values, each taken at most once: the selector's and ours. */
        size_t left = weft_chan_len(nr.c1) + weft_chan_len(nr.c2);
        assert_int_equal(left + 1 + (size_t)took_c1, 2);
        if (took_c1)
            assert_int_equal(idx, 1);
        weft_chan_release(nr.c1);
        weft_chan_release(nr.c2);
        weft_chan_release(nr.results);
    }
    WT_LEAK_END();
}

/* ================================================================== */
/* Bad arguments, plain threads                                        */
/* ================================================================== */

static void test_select_bad_arguments_are_einval_and_move_nothing(void **state)
{
    assert_int_equal(weft_select(NULL, 1, 0), -EINVAL);
    assert_int_equal(weft_select(NULL, 3, WEFT_FOREVER), -EINVAL);

    weft_chan *c = weft_chan_make(sizeof(i64), 1);
    i64 v = 9, r = -1;
    assert_int_equal(weft_chan_send(c, &v), 0);
    const int bad[] = {0, 3, -1, 42};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        weft_case cs[2] = {WEFT_CASE_RECV(c, &r), {c, (enum weft_dir)bad[k], &r, false}};
        errno = 0;
        assert_int_equal(weft_select(cs, 2, WEFT_FOREVER), -EINVAL);
        assert_int_equal(errno, 0); /* errno untouched */
        /* The valid, ready case did not proceed either. */
        assert_int_equal(weft_chan_len(c), 1);
        assert_int_equal(r, -1);
        /* Also when the bad case comes first. */
        weft_case cs2[2] = {{c, (enum weft_dir)bad[k], &r, false}, WEFT_CASE_RECV(c, &r)};
        errno = 0;
        assert_int_equal(weft_select(cs2, 2, 0), -EINVAL);
        assert_int_equal(errno, 0); /* errno untouched */
        assert_int_equal(weft_chan_len(c), 1);
    }
    weft_chan_release(c);
}

struct thread_select {
    weft_chan *in, *out, *done;
};

static void ts_producer(void *p)
{
    struct thread_select *ts = p;
    for (i64 i = 0; i < 1000; i++)
        WT_CHECK_INT_EQ(weft_chan_send(ts->in, &i), 0);
    WT_CHECK_INT_EQ(weft_chan_send(ts->done, NULL), 0);
}

static void ts_consumer(void *p)
{
    struct thread_select *ts = p;
    for (i64 i = 0; i < 1000; i++) {
        i64 v = -1;
        WT_CHECK_INT_EQ(weft_chan_recv(ts->out, &v), 0);
        WT_CHECK_INT_EQ(v, -i);
    }
    WT_CHECK_INT_EQ(weft_chan_send(ts->done, NULL), 0);
}

/* A plain thread selects between receiving from one task and sending to
 * another, parking as a thread (not a task) whenever neither is ready. */
static void thread_select_body(void *p)
{
    struct thread_select *ts = p;
    WT_CHECK_INT_EQ(weft_self(), 0);
    i64 next_in = 0, next_out = 0, pending[1000];
    size_t head = 0, tail = 0;
    while (next_in < 1000 || next_out < 1000) {
        i64 r = -1, s = tail > head ? -pending[head] : 0;
        weft_case cs[2] = {WEFT_CASE_RECV(next_in < 1000 ? ts->in : NULL, &r),
                           WEFT_CASE_SEND(tail > head ? ts->out : NULL, &s)};
        int idx = weft_select(cs, 2, WEFT_FOREVER);
        if (idx == 0) {
            WT_CHECK_INT_EQ(r, next_in);
            pending[tail++] = r;
            next_in++;
        } else if (idx == 1) {
            head++;
            next_out++;
        } else {
            WT_CHECK_MSG(0, "select returned %d", idx);
            break;
        }
    }
    /* And a timeout on a plain thread. */
    int64_t dl = weft_deadline(10 * WEFT_MS);
    weft_case cs[1] = {WEFT_CASE_RECV(ts->in, NULL)};
    WT_CHECK_INT_EQ(weft_select(cs, 1, dl), -ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
}

static void test_select_from_a_plain_thread_parks_and_wakes(void **state)
{
    WT_LEAK_BEGIN();
    struct thread_select ts = {weft_chan_make(sizeof(i64), 0), weft_chan_make(sizeof(i64), 0),
                               weft_chan_make(0, 2)};
    assert_int_equal(weft_go(ts_producer, &ts), 0);
    assert_int_equal(weft_go(ts_consumer, &ts), 0);
    wt_run_in_thread(thread_select_body, &ts);
    wt_assert_no_failures();
    assert_int_equal(wt_wait_n(ts.done, 2), 2);
    weft_chan_release(ts.in);
    weft_chan_release(ts.out);
    weft_chan_release(ts.done);
    WT_LEAK_END();
}

/* ================================================================== */
/* send_ctx / recv_ctx (only when the library has contexts)            */
/* ================================================================== */
#ifdef WEFT_TEST_HAVE_CTX

struct ctx_cancel {
    weft_ctx *ctx;
    weft_chan *done;
};

static void ctx_canceler(void *p)
{
    struct ctx_cancel *cc = p;
    for (int i = 0; i < 100; i++)
        weft_yield();
    weft_ctx_cancel(cc->ctx);
    WT_CHECK_INT_EQ(weft_chan_send(cc->done, NULL), 0);
}

static void ctx_ops_body(void *arg)
{
    (void)arg;
    weft_chan *u = weft_chan_make(sizeof(i64), 0), *b = weft_chan_make(sizeof(i64), 1);
    i64 v = 4, r = -1;
    /* NULL ctx: a plain operation. */
    WT_CHECK_INT_EQ(weft_chan_send_ctx(b, &v, NULL), 0);
    WT_CHECK_INT_EQ(weft_chan_recv_ctx(b, &r, NULL), 0);
    WT_CHECK_INT_EQ(r, 4);
    /* A never-done ctx on a ready channel. */
    WT_CHECK_INT_EQ(weft_chan_send_ctx(b, &v, weft_ctx_background()), 0);
    WT_CHECK_INT_EQ(weft_chan_recv_ctx(b, &r, weft_ctx_background()), 0);

    /* Already canceled, nothing ready. */
    weft_ctx *c = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx_cancel(c);
    WT_CHECK_INT_EQ(weft_chan_send_ctx(u, &v, c), ECANCELED);
    WT_CHECK_INT_EQ(weft_chan_recv_ctx(u, &r, c), ECANCELED);
    weft_ctx_release(c);

    /* Canceled while parked, by another task. */
    for (int dir = 0; dir < 2; dir++) {
        struct ctx_cancel cc = {weft_ctx_with_cancel(weft_ctx_background()), weft_chan_make(0, 1)};
        WT_CHECK_INT_EQ(weft_go(ctx_canceler, &cc), 0);
        int rc = dir ? weft_chan_send_ctx(u, &v, cc.ctx) : weft_chan_recv_ctx(u, &r, cc.ctx);
        WT_CHECK_INT_EQ(rc, ECANCELED);
        WT_CHECK_INT_EQ(wt_wait_n(cc.done, 1), 1);
        weft_ctx_release(cc.ctx);
        weft_chan_release(cc.done);
        /* No stale waiter is left on u. */
        WT_CHECK_INT_EQ(weft_chan_try_send(u, &v), EAGAIN);
        WT_CHECK_INT_EQ(weft_chan_try_recv(u, &r), EAGAIN);
    }

    /* Deadline. */
    weft_ctx *t = weft_ctx_with_timeout(weft_ctx_background(), 20 * WEFT_MS);
    int64_t dl = weft_ctx_deadline(t);
    WT_CHECK_INT_EQ(weft_chan_recv_ctx(u, &r, t), ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
    WT_CHECK_INT_EQ(weft_chan_send_ctx(u, &v, t), ETIMEDOUT);
    weft_ctx_release(t);

    /* Closed beats a live ctx. */
    weft_ctx *live = weft_ctx_with_cancel(weft_ctx_background());
    WT_CHECK_INT_EQ(weft_chan_close(u), 0);
    r = -1;
    WT_CHECK_INT_EQ(weft_chan_recv_ctx(u, &r, live), EPIPE);
    WT_CHECK_INT_EQ(r, 0);
    WT_CHECK_INT_EQ(weft_chan_send_ctx(u, &v, live), EPIPE);
    weft_ctx_release(live);
    weft_chan_release(u);
    weft_chan_release(b);
}

static void test_chan_ctx_operations_give_up_when_the_context_is_done(void **state)
{
    WT_LEAK_BEGIN();
    run_both(ctx_ops_body, NULL);
    WT_LEAK_END();
}
#endif /* WEFT_TEST_HAVE_CTX */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_proceeds_with_the_only_ready_case),
        cmocka_unit_test(test_parked_select_is_woken_by_a_sender_or_a_receiver),
        cmocka_unit_test(test_select_chooses_uniformly_among_two_ready_recv_cases),
        cmocka_unit_test(test_select_chooses_uniformly_among_four_ready_recv_cases),
        cmocka_unit_test(test_select_chooses_uniformly_among_cases_on_the_same_channel),
        cmocka_unit_test(test_select_chooses_uniformly_among_ready_send_cases),
        cmocka_unit_test(test_parked_select_is_not_biased_between_its_cases),
        cmocka_unit_test(test_select_allows_same_channel_in_several_cases_and_both_directions),
        cmocka_unit_test(test_two_selects_with_send_and_recv_on_one_channel_pair_with_each_other),
        cmocka_unit_test(test_select_null_channel_case_is_never_ready),
        cmocka_unit_test(test_select_with_no_cases_times_out_at_the_deadline),
        cmocka_unit_test(test_select_with_past_deadline_is_the_default_branch),
        cmocka_unit_test(test_select_with_future_deadline_times_out_after_it_and_leaves_no_waiter),
        cmocka_unit_test(test_select_on_closed_channel_is_ready_with_ok_false_and_zeroed_value),
        cmocka_unit_test(test_close_wakes_every_parked_select),
        cmocka_unit_test(test_select_wakes_exactly_once_when_two_channels_become_ready_together),
        cmocka_unit_test(
            test_nonblocking_select_never_misses_both_of_two_alternately_ready_channels),
        cmocka_unit_test(test_select_bad_arguments_are_einval_and_move_nothing),
        cmocka_unit_test(test_select_from_a_plain_thread_parks_and_wakes),
#ifdef WEFT_TEST_HAVE_CTX
        cmocka_unit_test(test_chan_ctx_operations_give_up_when_the_context_is_done),
#endif
    };
    return cmocka_run_group_tests(tests, wt_group_setup, wt_group_teardown);
}
