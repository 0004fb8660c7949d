/*
 * test_ctx.c — contexts (Go's context package): cancellation, deadlines,
 * values, after_func, sleep_ctx, reference counting and lifetime, and the
 * races between cancel, creation, release and deadline timers.
 *
 * Every test is bracketed by CT_BEGIN()/CT_END(): the live-task count comes
 * back to its start value (testutil.h's leak bracket), no runtime timer is
 * left queued, and every context allocated by the test has been freed
 * (weft__ctx_live(), an internal counter).  Time assertions are lower
 * bounds only; nothing is synchronised by sleeping.
 *
 * Built twice (tests/ctx.cmake): test_ctx, and test_ctx_churn (label slow)
 * with WT_CTX_CHURN_FULL, which runs the 10-million-children memory test
 * at full size.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "ctxutil.h"

/* Internal counters (not public API; the symbols are in the library). */
size_t weft__ctx_children(weft_ctx *ctx);
uint64_t weft__next_task_id(void);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CT_SANITIZED 1
#endif
#endif

typedef int64_t i64;

#ifdef WT_CTX_CHURN_FULL
#pragma GCC diagnostic ignored "-Wunused-function" /* only the churn test runs */
#endif

/* ------------------------------------------------------------------ */
/* Bracket and helpers                                                 */
/* ------------------------------------------------------------------ */

#define CT_BEGIN() WT_CTX_BEGIN()
#define CT_END() WT_CTX_END()

/* Is the done channel closed right now (never blocks)? */
static bool is_closed(weft_chan *d) { return d && weft_chan_try_recv(d, NULL) == EPIPE; }

static bool is_done(weft_ctx *c)
{
    weft_chan *d = weft_ctx_done(c);
    return weft_ctx_err(c) != 0 && is_closed(d);
}

/* Is ctx done right now, and consistently so (err and done channel)? */
static void check_state(weft_ctx *c, int want_err)
{
    WT_CHECK_INT_EQ(weft_ctx_err(c), want_err);
    weft_chan *d = weft_ctx_done(c);
    WT_CHECK(d != NULL);
    WT_CHECK_INT_EQ(weft_chan_try_recv(d, NULL), want_err ? EPIPE : EAGAIN);
}

/* ================================================================== */
/* Background, bad arguments                                           */
/* ================================================================== */

static void background_body(void *arg)
{
    (void)arg;
    weft_ctx *bg = weft_ctx_background();
    WT_CHECK(bg != NULL);
    WT_CHECK(weft_ctx_background() == bg);
    WT_CHECK(weft_ctx_done(bg) == NULL);
    WT_CHECK_INT_EQ(weft_ctx_err(bg), 0);
    WT_CHECK(weft_ctx_deadline(bg) == WEFT_FOREVER);
    WT_CHECK(weft_ctx_retain(bg) == bg);
    weft_ctx_release(bg); /* no-ops */
    weft_ctx_release(bg);
    weft_ctx_cancel(bg);  /* not cancelable: no-op */
    WT_CHECK_INT_EQ(weft_ctx_err(bg), 0);
    int key;
    WT_CHECK(weft_ctx_value(bg, &key) == NULL);
    WT_CHECK_INT_EQ(weft_sleep_ctx(bg, 1), 0);

    /* A value over background can never be done either. */
    weft_ctx *v = weft_ctx_with_value(bg, &key, &key);
    WT_CHECK(v != NULL);
    WT_CHECK(weft_ctx_done(v) == NULL);
    WT_CHECK_INT_EQ(weft_ctx_err(v), 0);
    WT_CHECK(weft_ctx_deadline(v) == WEFT_FOREVER);
    weft_ctx_cancel(v); /* not cancelable: no-op */
    WT_CHECK_INT_EQ(weft_ctx_err(v), 0);
    weft_ctx_release(v);
}

static void test_background_is_never_done_and_not_refcounted(void **state)
{
    CT_BEGIN();
    run_both(background_body, NULL);
    CT_END();
}

static void noop_fn(void *arg) { (void)arg; }

static void test_null_parent_and_null_key_are_einval(void **state)
{
    CT_BEGIN();
    int key;
    errno = 0;
    assert_null(weft_ctx_with_cancel(NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_deadline(NULL, WEFT_FOREVER));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_timeout(NULL, WEFT_SEC));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_value(NULL, &key, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_value(weft_ctx_background(), NULL, &key));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(weft_ctx_after_func(NULL, noop_fn, NULL), EINVAL);
    assert_int_equal(weft_ctx_after_func(weft_ctx_background(), NULL, NULL), EINVAL);
    assert_int_equal(weft_ctx_err(NULL), EINVAL);
    assert_null(weft_ctx_done(NULL));
    assert_null(weft_ctx_value(NULL, &key));
    assert_null(weft_ctx_retain(NULL));
    weft_ctx_release(NULL);
    weft_ctx_cancel(NULL);
    /* A value key must be non-NULL for lookups too. */
    weft_ctx *v = weft_ctx_with_value(weft_ctx_background(), &key, &key);
    assert_null(weft_ctx_value(v, NULL));
    weft_ctx_release(v);
    CT_END();
}

/* ================================================================== */
/* Cancel                                                              */
/* ================================================================== */

struct waiter_arg {
    weft_chan *done;   /* the ctx's done channel */
    weft_chan *report; /* receives the recv result */
};

static void done_waiter(void *p)
{
    struct waiter_arg *w = p;
    int rc = weft_chan_recv(w->done, NULL);
    WT_CHECK_INT_EQ(weft_chan_send(w->report, &rc), 0);
}

static void *done_waiter_thread(void *p)
{
    done_waiter(p);
    return NULL;
}

static void cancel_body(void *arg)
{
    (void)arg;
    weft_ctx *c = weft_ctx_with_cancel(weft_ctx_background());
    WT_CHECK(c != NULL);
    WT_CHECK_INT_EQ(weft_ctx_err(c), 0);
    WT_CHECK(weft_ctx_deadline(c) == WEFT_FOREVER);
    weft_chan *d = weft_ctx_done(c);
    WT_CHECK(d != NULL);
    WT_CHECK(weft_ctx_done(c) == d); /* created once */
    WT_CHECK_INT_EQ(weft_chan_cap(d), 0);

    /* Blocked receivers (a task and a plain thread) are woken by cancel. */
    struct waiter_arg w = {d, weft_chan_make(sizeof(int), 2)};
    WT_CHECK_INT_EQ(weft_go(done_waiter, &w), 0);
    pthread_t th;
    WT_CHECK_INT_EQ(pthread_create(&th, NULL, done_waiter_thread, &w), 0);
    wt_settle();
    WT_CHECK_INT_EQ(weft_chan_len(w.report), 0);
    check_state(c, 0);

    weft_ctx_cancel(c);
    check_state(c, ECANCELED);
    for (int i = 0; i < 2; i++) {
        int rc = -1;
        WT_CHECK_INT_EQ(wt_recv_within(w.report, &rc, WT_LIVENESS_NS), 0);
        WT_CHECK_INT_EQ(rc, EPIPE);
    }
    pthread_join(th, NULL);
    weft_chan_release(w.report);

    /* Idempotent. */
    weft_ctx_cancel(c);
    weft_ctx_cancel(c);
    check_state(c, ECANCELED);
    WT_CHECK(weft_ctx_done(c) == d);
    weft_ctx_release(c);

    /* A done channel first asked for after the cancel is born closed. */
    c = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx_cancel(c);
    WT_CHECK_INT_EQ(weft_ctx_err(c), ECANCELED);
    d = weft_ctx_done(c);
    WT_CHECK(is_closed(d));
    WT_CHECK_INT_EQ(weft_chan_recv(d, NULL), EPIPE);
    weft_ctx_release(c);
}

static void test_cancel_closes_done_sets_err_and_is_idempotent(void **state)
{
    CT_BEGIN();
    run_both(cancel_body, NULL);
    CT_END();
}

/* A tree of mixed contexts: canceling one node reaches exactly its
 * descendants, synchronously. */
enum { TREE_N = 600 };

struct tree {
    weft_ctx *c[TREE_N];
    int parent[TREE_N];
    int kind[TREE_N]; /* 0 cancel, 1 value, 2 far deadline, 3 timeout past parent's */
};

static bool tree_desc(const struct tree *t, int i, int anc)
{
    for (; i >= 0; i = t->parent[i])
        if (i == anc)
            return true;
    return false;
}

static void tree_body(void *arg)
{
    wt_rng rng = wt_rng_make((uint64_t)(uintptr_t)arg + 1);
    struct tree *t = calloc(1, sizeof *t);
    static int key;
    t->c[0] = weft_ctx_with_cancel(weft_ctx_background());
    t->parent[0] = -1;
    for (int i = 1; i < TREE_N; i++) {
        int p = (int)wt_rand_n(&rng, (uint64_t)i);
        int k = (int)wt_rand_n(&rng, 4);
        t->parent[i] = p;
        t->kind[i] = k;
        switch (k) {
        case 0: t->c[i] = weft_ctx_with_cancel(t->c[p]); break;
        case 1: t->c[i] = weft_ctx_with_value(t->c[p], &key, t->c[p]); break;
        case 2: t->c[i] = weft_ctx_with_timeout(t->c[p], 3600 * WEFT_SEC); break;
        default: t->c[i] = weft_ctx_with_deadline(t->c[p], WEFT_FOREVER - 1); break;
        }
        WT_CHECK(t->c[i] != NULL);
        if (wt_rand_n(&rng, 2))
            WT_CHECK(weft_ctx_done(t->c[i]) != NULL); /* some channels exist before */
    }
    /* Cancel a cancelable node in the middle. */
    int m;
    do
        m = 1 + (int)wt_rand_n(&rng, TREE_N - 1);
    while (t->kind[m] == 1);
    weft_ctx_cancel(t->c[m]);
    for (int i = 0; i < TREE_N; i++) {
        bool in = tree_desc(t, i, m);
        WT_CHECK_MSG(weft_ctx_err(t->c[i]) == (in ? ECANCELED : 0), "node %d (anc %d) err %d", i,
                     m, weft_ctx_err(t->c[i]));
        WT_CHECK(is_closed(weft_ctx_done(t->c[i])) == in);
    }
    /* Value lookups see the nearest binding. */
    for (int i = 1; i < TREE_N; i++) {
        int j = i;
        while (j >= 0 && t->kind[j] != 1)
            j = t->parent[j];
        void *want = j >= 0 ? t->c[t->parent[j]] : NULL;
        WT_CHECK(weft_ctx_value(t->c[i], &key) == want);
    }
    weft_ctx_cancel(t->c[0]);
    for (int i = 0; i < TREE_N; i++) {
        WT_CHECK(is_done(t->c[i]));
        WT_CHECK_INT_EQ(weft_ctx_err(t->c[i]), ECANCELED);
    }
    /* Release in random order: parents go before children sometimes; the
     * memory stays until the last child is gone. */
    for (int i = TREE_N - 1; i > 0; i--) {
        int j = (int)wt_rand_n(&rng, (uint64_t)i + 1);
        weft_ctx *tmp = t->c[i];
        t->c[i] = t->c[j];
        t->c[j] = tmp;
    }
    for (int i = 0; i < TREE_N; i++)
        weft_ctx_release(t->c[i]);
    free(t);
}

static void test_cancel_reaches_exactly_the_descendants_synchronously(void **state)
{
    CT_BEGIN();
    for (uintptr_t seed = 0; seed < 6; seed++) {
        tree_body((void *)seed);
        wt_assert_no_failures();
        wt_run_in_task(tree_body, (void *)(seed + 100));
        wt_assert_no_failures();
    }
    CT_END();
}

/* A chain far deeper than a task's stack could recurse: cancel and the
 * cascade of frees are iterative. */
enum { CHAIN = 200000 };

static void deep_chain_body(void *arg)
{
    (void)arg;
    static int key;
    weft_ctx **v = malloc(CHAIN * sizeof *v);
    weft_ctx *top = weft_ctx_with_value(weft_ctx_background(), &key, v);
    weft_ctx *root = weft_ctx_with_cancel(top);
    weft_ctx_release(top); /* root needs it: stays */
    v[0] = root;
    weft_ctx_release(weft_ctx_retain(root)); /* borrowed release: nothing happens */
    for (int i = 1; i < CHAIN; i++) {
        v[i] = (i % 3 == 1) ? weft_ctx_with_value(v[i - 1], &v[i], NULL)
                            : weft_ctx_with_cancel(v[i - 1]);
        WT_CHECK(v[i] != NULL);
    }
    WT_CHECK(weft_ctx_value(v[CHAIN - 1], &key) == v);
    weft_chan *leaf_done = weft_ctx_done(v[CHAIN - 1]);
    weft_ctx_cancel(root);
    WT_CHECK(is_closed(leaf_done));
    WT_CHECK_INT_EQ(weft_ctx_err(v[CHAIN - 1]), ECANCELED);
    WT_CHECK_INT_EQ(weft_ctx_err(v[CHAIN / 2]), ECANCELED);
    /* Root first: all memory stays until the leaf goes, then the whole
     * chain is freed in one cascade. */
    for (int i = 0; i < CHAIN; i++)
        weft_ctx_release(v[i]);
    free(v);
}

static void test_deep_chain_cancels_and_frees_without_recursion(void **state)
{
    CT_BEGIN();
    wt_run_in_task(deep_chain_body, NULL); /* on a task's small stack */
    CT_END();
}

static void test_cancel_of_a_child_leaves_the_parent_and_siblings_alone(void **state)
{
    CT_BEGIN();
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *a = weft_ctx_with_cancel(p), *b = weft_ctx_with_cancel(p);
    weft_ctx *a1 = weft_ctx_with_cancel(a);
    assert_int_equal(weft__ctx_children(p), 2);
    weft_ctx_cancel(a);
    assert_int_equal(weft_ctx_err(a), ECANCELED);
    assert_int_equal(weft_ctx_err(a1), ECANCELED);
    assert_int_equal(weft_ctx_err(p), 0);
    assert_int_equal(weft_ctx_err(b), 0);
    /* A canceled child is unlinked from its parent at once. */
    assert_int_equal(weft__ctx_children(p), 1);
    assert_int_equal(weft__ctx_children(a), 0);
    weft_ctx_release(a1);
    weft_ctx_release(a);
    weft_ctx_release(b);
    assert_int_equal(weft__ctx_children(p), 0);
    weft_ctx_release(p);
    CT_END();
}

/* ================================================================== */
/* Born done                                                           */
/* ================================================================== */

static void born_done_body(void *arg)
{
    (void)arg;
    int key;
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *pv = weft_ctx_with_value(p, &key, NULL);
    weft_ctx_cancel(p);
    weft_ctx *kids[4] = {weft_ctx_with_cancel(p), weft_ctx_with_timeout(pv, WEFT_SEC),
                         weft_ctx_with_deadline(p, 0), weft_ctx_with_value(pv, &key, &key)};
    for (int i = 0; i < 4; i++) {
        WT_CHECK(kids[i] != NULL);
        /* Born done with the parent's error (ECANCELED even for a deadline
         * already past: the parent's error came first). */
        check_state(kids[i], ECANCELED);
        weft_ctx *gk = weft_ctx_with_cancel(kids[i]);
        check_state(gk, ECANCELED);
        weft_ctx_release(gk);
    }
    WT_CHECK_INT_EQ(weft__ctx_children(p), 0); /* born done: never linked */
    for (int i = 0; i < 4; i++)
        weft_ctx_release(kids[i]);
    weft_ctx_release(pv);
    weft_ctx_release(p);

    /* Under a timed-out parent: ETIMEDOUT. */
    weft_ctx *t = weft_ctx_with_deadline(weft_ctx_background(), 0);
    check_state(t, ETIMEDOUT);
    weft_ctx *tk = weft_ctx_with_cancel(t);
    check_state(tk, ETIMEDOUT);
    weft_ctx_cancel(tk); /* already done: its error stays */
    check_state(tk, ETIMEDOUT);
    weft_ctx_release(tk);
    weft_ctx_release(t);
}

static void test_children_of_a_done_parent_are_born_done(void **state)
{
    CT_BEGIN();
    run_both(born_done_body, NULL);
    CT_END();
}

/* ================================================================== */
/* Deadlines                                                           */
/* ================================================================== */

static void deadline_body(void *arg)
{
    (void)arg;
    /* Past deadlines: born timed out, no timer. */
    int64_t past[3] = {0, weft_now() - 1, INT64_MIN};
    for (int i = 0; i < 3; i++) {
        weft_ctx *c = weft_ctx_with_deadline(weft_ctx_background(), past[i]);
        WT_CHECK(c != NULL);
        check_state(c, ETIMEDOUT);
        WT_CHECK(weft_ctx_deadline(c) == past[i]);
        weft_ctx_release(c);
    }
    weft_ctx *z = weft_ctx_with_timeout(weft_ctx_background(), 0);
    check_state(z, ETIMEDOUT);
    weft_ctx_release(z);
    z = weft_ctx_with_timeout(weft_ctx_background(), -WEFT_SEC);
    check_state(z, ETIMEDOUT);
    weft_ctx_release(z);

    /* A timeout fires: not early, ETIMEDOUT reaches every descendant
     * (through a value and a plain cancel context). */
    int key;
    const int64_t d = 15 * WEFT_MS;
    int64_t t0 = weft_now();
    weft_ctx *t = weft_ctx_with_timeout(weft_ctx_background(), d);
    int64_t dl = weft_ctx_deadline(t);
    WT_CHECK_INT_GE(dl, t0 + d);
    WT_CHECK_INT_LE(dl, weft_now() + d);
    weft_ctx *tv = weft_ctx_with_value(t, &key, NULL);
    weft_ctx *tc = weft_ctx_with_cancel(tv);
    weft_ctx *later = weft_ctx_with_deadline(tc, dl + WEFT_SEC);   /* later: parent's */
    weft_ctx *sooner = weft_ctx_with_deadline(tc, dl - 1); /* sooner: its own */
    WT_CHECK(weft_ctx_deadline(tv) == dl);
    WT_CHECK(weft_ctx_deadline(tc) == dl);
    WT_CHECK(weft_ctx_deadline(later) == dl);
    WT_CHECK(weft_ctx_deadline(sooner) == dl - 1);
    /* Not done before its deadline (a slow build may already be past it:
     * then done is all it may be). */
    int early = weft_ctx_err(tc);
    if (early != 0)
        WT_CHECK_INT_GE(weft_now(), dl - 1);
    WT_CHECK_INT_EQ(weft_chan_recv(weft_ctx_done(tc), NULL), EPIPE);
    WT_CHECK_INT_GE(weft_now(), dl - 1);
    WT_CHECK_INT_EQ(weft_ctx_err(tc), ETIMEDOUT);
    WT_CHECK_INT_EQ(weft_chan_recv(weft_ctx_done(later), NULL), EPIPE);
    WT_CHECK_INT_GE(weft_now(), dl);
    check_state(t, ETIMEDOUT);
    check_state(tv, ETIMEDOUT);
    check_state(later, ETIMEDOUT);
    check_state(sooner, ETIMEDOUT);
    /* Cancel after the deadline keeps ETIMEDOUT. */
    weft_ctx_cancel(later);
    check_state(later, ETIMEDOUT);
    weft_ctx_release(sooner);
    weft_ctx_release(later);
    weft_ctx_release(tc);
    weft_ctx_release(tv);
    weft_ctx_release(t);

    /* Canceled before its deadline: ECANCELED, and the timer is gone. */
    size_t pending = weft__timers_pending();
    weft_ctx *c = weft_ctx_with_timeout(weft_ctx_background(), 3600 * WEFT_SEC);
    WT_CHECK_INT_GE(weft__timers_pending(), pending + 1);
    weft_ctx_cancel(c);
    check_state(c, ECANCELED);
    weft_ctx_release(c);
}

static void test_deadline_fires_and_propagates_etimedout(void **state)
{
    CT_BEGIN();
    run_both(deadline_body, NULL);
    CT_END();
}

static void test_release_before_the_deadline_cancels_the_timer(void **state)
{
    CT_BEGIN();
    size_t base = weft__timers_pending();
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *cs[64];
    for (int i = 0; i < 64; i++)
        cs[i] = weft_ctx_with_timeout(i % 2 ? p : weft_ctx_background(), 3600 * WEFT_SEC + i);
    assert_int_equal(weft__timers_pending(), base + 64);
    for (int i = 0; i < 64; i += 2)
        weft_ctx_release(cs[i]);
    assert_int_equal(weft__timers_pending(), base + 32);
    /* Canceling the parent stops the children's timers too. */
    weft_ctx_cancel(p);
    assert_int_equal(weft__timers_pending(), base);
    for (int i = 1; i < 64; i += 2) {
        assert_int_equal(weft_ctx_err(cs[i]), ECANCELED);
        weft_ctx_release(cs[i]);
    }
    weft_ctx_release(p);
    CT_END();
}

/* ================================================================== */
/* Values                                                              */
/* ================================================================== */

static void test_value_lookup_walks_to_the_nearest_binding(void **state)
{
    CT_BEGIN();
    int k1, k2, k3, a, b, c;
    weft_ctx *v1 = weft_ctx_with_value(weft_ctx_background(), &k1, &a);
    weft_ctx *cc = weft_ctx_with_cancel(v1);
    weft_ctx *v2 = weft_ctx_with_value(cc, &k2, &b);
    weft_ctx *v3 = weft_ctx_with_value(v2, &k1, &c); /* shadows k1 */
    weft_ctx *nul = weft_ctx_with_value(v3, &k3, NULL);
    assert_ptr_equal(weft_ctx_value(v1, &k1), &a);
    assert_ptr_equal(weft_ctx_value(cc, &k1), &a);
    assert_ptr_equal(weft_ctx_value(v2, &k1), &a);
    assert_ptr_equal(weft_ctx_value(v2, &k2), &b);
    assert_ptr_equal(weft_ctx_value(v3, &k1), &c);
    assert_ptr_equal(weft_ctx_value(nul, &k2), &b);
    assert_null(weft_ctx_value(nul, &k3));
    assert_null(weft_ctx_value(cc, &k2));
    /* Values share their cancelable ancestor's done state. */
    assert_ptr_equal(weft_ctx_done(v3), weft_ctx_done(cc));
    assert_null(weft_ctx_done(v1));
    weft_ctx_cancel(v3); /* a value is not cancelable: no-op */
    assert_int_equal(weft_ctx_err(cc), 0);
    /* Values survive their creator's release while a child needs them. */
    weft_ctx_release(v1);
    weft_ctx_release(v2);
    assert_ptr_equal(weft_ctx_value(nul, &k2), &b);
    assert_ptr_equal(weft_ctx_value(nul, &k1), &c);
    weft_ctx_release(v3);
    weft_ctx_cancel(cc);
    assert_int_equal(weft_ctx_err(nul), ECANCELED);
    assert_ptr_equal(weft_ctx_value(cc, &k1), &a);
    weft_ctx_release(cc);
    assert_ptr_equal(weft_ctx_value(nul, &k1), &c);
    weft_ctx_release(nul);
    CT_END();
}

/* ================================================================== */
/* References and lifetime                                             */
/* ================================================================== */

static void test_release_semantics(void **state)
{
    CT_BEGIN();
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *c = weft_ctx_with_cancel(p);
    weft_ctx *gc = weft_ctx_with_cancel(c);
    assert_int_equal(weft__ctx_children(p), 1);
    /* A borrowed reference cancels nothing. */
    assert_ptr_equal(weft_ctx_retain(c), c);
    weft_ctx_release(c);
    assert_int_equal(weft_ctx_err(c), 0);
    assert_int_equal(weft__ctx_children(p), 1);
    /* The last one cancels it (and its descendants), unlinks it from the
     * parent at once, and keeps its memory while gc needs it. */
    size_t live = weft__ctx_live();
    weft_ctx_release(c);
    assert_int_equal(weft_ctx_err(gc), ECANCELED);
    assert_int_equal(weft_ctx_err(p), 0);
    assert_int_equal(weft__ctx_children(p), 0);
    assert_int_equal(weft__ctx_live(), live);
    weft_ctx_release(gc); /* frees gc, then c */
    assert_int_equal(weft__ctx_live(), live - 2);
    /* A released context that is already done cancels nothing new. */
    weft_ctx *t = weft_ctx_with_deadline(p, 0);
    weft_ctx *tk = weft_ctx_with_cancel(t);
    weft_ctx_release(t);
    assert_int_equal(weft_ctx_err(tk), ETIMEDOUT);
    weft_ctx_release(tk);
    assert_int_equal(weft_ctx_err(p), 0);
    weft_ctx_release(p);
    CT_END();
}

static void test_creating_and_canceling_contexts_spawns_no_task(void **state)
{
    CT_BEGIN();
    uint64_t id0 = weft__next_task_id();
    size_t n0 = weft_num_tasks();
    int key;
    weft_ctx *p = weft_ctx_with_timeout(weft_ctx_background(), 3600 * WEFT_SEC);
    weft_ctx *v = weft_ctx_with_value(p, &key, NULL);
    weft_ctx *c = weft_ctx_with_cancel(v);
    weft_ctx *t = weft_ctx_with_timeout(c, 1);
    assert_non_null(weft_ctx_done(t));
    assert_int_equal(weft_chan_recv(weft_ctx_done(t), NULL), EPIPE); /* its deadline fires */
    weft_ctx_cancel(p);
    weft_ctx_release(t);
    weft_ctx_release(c);
    weft_ctx_release(v);
    weft_ctx_release(p);
    assert_int_equal(weft__next_task_id(), id0);
    assert_int_equal(weft_num_tasks(), n0);
    CT_END();
}

/* 10 million short-lived children of one long-lived parent: nothing grows.
 * Checked by the parent's child count and the live-context count at every
 * checkpoint, and (unsanitized builds) by the resident set size. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

#ifdef WT_CTX_CHURN_FULL
#define CHURN_N 10000000L
#else
#define CHURN_N 1000000L
#endif

static void test_long_lived_parent_with_millions_of_released_children_does_not_grow(void **state)
{
    CT_BEGIN();
    int key;
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *pv = weft_ctx_with_value(p, &key, NULL);
    size_t live0 = weft__ctx_live();
    long rss0 = 0;
    for (long i = 0; i < CHURN_N; i++) {
        weft_ctx *c;
        switch (i & 3) {
        case 0: c = weft_ctx_with_cancel(p); break;
        case 1: c = weft_ctx_with_value(pv, &key, &key); break;
        case 2: c = weft_ctx_with_timeout(pv, 3600 * WEFT_SEC); break;
        default: c = weft_ctx_with_cancel(pv); break;
        }
        if (!c)
            fail_msg("context %ld: out of memory", i);
        if ((i & 7) == 3)
            weft_ctx_done(c); /* some have a done channel */
        weft_ctx_release(c);
        if (i == CHURN_N / 10)
            rss0 = rss_kib();
        if ((i & 0xfffff) == 0) {
            assert_int_equal(weft__ctx_children(p), 0);
            assert_int_equal(weft__ctx_live(), live0);
        }
    }
    assert_int_equal(weft__ctx_children(p), 0);
    assert_int_equal(weft__ctx_live(), live0);
    assert_int_equal(weft__timers_pending(), 0);
    long grown = rss_kib() - rss0;
#ifndef CT_SANITIZED
    /* Leaking even 16 bytes per child would be > 14 MiB here. */
    if (grown > 8 * 1024)
        fail_msg("resident set grew by %ld KiB over %ld children", grown, CHURN_N * 9 / 10);
#else
    (void)grown;
#endif
    assert_int_equal(weft_ctx_err(p), 0);
    weft_ctx_release(pv);
    weft_ctx_release(p);
    CT_END();
}

/* ================================================================== */
/* after_func                                                          */
/* ================================================================== */

struct af {
    atomic_int runs;
    weft_chan *sig;
    weft_ctx *ctx; /* checked done when fn runs */
};

static void af_fn(void *p)
{
    struct af *a = p;
    WT_CHECK(a->ctx == NULL || weft_ctx_err(a->ctx) != 0);
    WT_CHECK(weft_self() != 0); /* in a task */
    atomic_fetch_add(&a->runs, 1);
    WT_CHECK_INT_EQ(weft_chan_send(a->sig, NULL), 0);
}

static void after_func_body(void *arg)
{
    (void)arg;
    struct af a = {0, weft_chan_make(0, 64), NULL};
    int key;

    /* Registered on a live context: nothing is spawned until it is done. */
    weft_ctx *c = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *cv = weft_ctx_with_value(c, &key, NULL);
    a.ctx = c;
    uint64_t id0 = weft__next_task_id();
    WT_CHECK_INT_EQ(weft_ctx_after_func(c, af_fn, &a), 0);
    WT_CHECK_INT_EQ(weft_ctx_after_func(c, af_fn, &a), 0);
    WT_CHECK_INT_EQ(weft_ctx_after_func(cv, af_fn, &a), 0); /* through a value */
    wt_settle();
    WT_CHECK(weft__next_task_id() == id0);
    WT_CHECK_INT_EQ(atomic_load(&a.runs), 0);
    weft_ctx_cancel(c);
    WT_CHECK_INT_EQ(wt_wait_n(a.sig, 3), 3); /* once per registration */
    WT_CHECK(weft__next_task_id() == id0 + 3);
    weft_ctx_cancel(c);
    weft_ctx_release(cv);
    weft_ctx_release(c);
    WT_CHECK(weft__next_task_id() == id0 + 3);
    WT_CHECK_INT_EQ(atomic_load(&a.runs), 3);

    /* Already done: runs at once. */
    c = weft_ctx_with_deadline(weft_ctx_background(), 0);
    a.ctx = c;
    WT_CHECK_INT_EQ(weft_ctx_after_func(c, af_fn, &a), 0);
    WT_CHECK_INT_EQ(wt_wait_n(a.sig, 1), 1);
    weft_ctx_release(c);

    /* The last release cancels, which runs it. */
    c = weft_ctx_with_cancel(weft_ctx_background());
    a.ctx = NULL;
    WT_CHECK_INT_EQ(weft_ctx_after_func(c, af_fn, &a), 0);
    weft_ctx_release(c);
    WT_CHECK_INT_EQ(wt_wait_n(a.sig, 1), 1);

    /* A deadline runs it; so does an ancestor's cancel. */
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *t = weft_ctx_with_timeout(p, 2 * WEFT_MS);
    weft_ctx *k = weft_ctx_with_cancel(p);
    a.ctx = NULL;
    WT_CHECK_INT_EQ(weft_ctx_after_func(t, af_fn, &a), 0);
    WT_CHECK_INT_EQ(weft_ctx_after_func(k, af_fn, &a), 0);
    WT_CHECK_INT_EQ(wt_wait_n(a.sig, 1), 1);
    WT_CHECK_INT_EQ(weft_ctx_err(t), ETIMEDOUT);
    weft_ctx_cancel(p);
    WT_CHECK_INT_EQ(wt_wait_n(a.sig, 1), 1);
    weft_ctx_release(k);
    weft_ctx_release(t);
    weft_ctx_release(p);

    /* A context that can never be done never runs it. */
    id0 = weft__next_task_id();
    weft_ctx *bv = weft_ctx_with_value(weft_ctx_background(), &key, NULL);
    WT_CHECK_INT_EQ(weft_ctx_after_func(weft_ctx_background(), af_fn, &a), 0);
    WT_CHECK_INT_EQ(weft_ctx_after_func(bv, af_fn, &a), 0);
    weft_ctx_release(bv);
    WT_CHECK(weft__next_task_id() == id0);

    WT_CHECK_INT_EQ(atomic_load(&a.runs), 7);
    WT_CHECK_INT_EQ(weft_chan_len(a.sig), 0);
    weft_chan_release(a.sig);
}

static void test_after_func_runs_once_per_registration_only_once_done(void **state)
{
    CT_BEGIN();
    run_both(after_func_body, NULL);
    CT_END();
}

/* ================================================================== */
/* sleep_ctx                                                           */
/* ================================================================== */

struct canceler {
    weft_ctx *ctx;
    weft_chan *go; /* receive before canceling */
};

static void canceler_task(void *p)
{
    struct canceler *cc = p;
    /* Its own reference: the sleeper may be woken, release the context and
     * return (cc is on its stack) before weft_ctx_cancel returns here. */
    weft_ctx *ctx = cc->ctx;
    WT_CHECK_INT_EQ(weft_chan_recv(cc->go, NULL), 0);
    weft_ctx_cancel(ctx);
    weft_ctx_release(ctx);
}

static void sleep_ctx_body(void *arg)
{
    (void)arg;
    weft_ctx *c = weft_ctx_with_cancel(weft_ctx_background());
    /* Runs to its end with a live context. */
    int64_t t0 = weft_now();
    WT_CHECK_INT_EQ(weft_sleep_ctx(c, 5 * WEFT_MS), 0);
    WT_CHECK_INT_GE(weft_now(), t0 + 5 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_sleep_ctx(c, 0), 0);
    WT_CHECK_INT_EQ(weft_sleep_ctx(NULL, WEFT_MS), 0);

    /* Cut short by a cancel from another task. */
    struct canceler cc = {weft_ctx_retain(c), weft_chan_make(0, 1)};
    WT_CHECK_INT_EQ(weft_go(canceler_task, &cc), 0);
    WT_CHECK_INT_EQ(weft_chan_send(cc.go, NULL), 0);
    t0 = weft_now();
    WT_CHECK_INT_EQ(weft_sleep_ctx(c, 3600 * WEFT_SEC), ECANCELED);
    WT_CHECK_INT_EQ(weft_sleep_ctx(c, 3600 * WEFT_SEC), ECANCELED); /* already done */
    WT_CHECK_INT_EQ(weft_sleep_ctx(c, 0), ECANCELED);
    weft_chan_release(cc.go);
    weft_ctx_release(c);

    /* Cut short by the context's deadline. */
    weft_ctx *t = weft_ctx_with_timeout(weft_ctx_background(), 5 * WEFT_MS);
    int64_t dl = weft_ctx_deadline(t);
    WT_CHECK_INT_EQ(weft_sleep_ctx(t, 3600 * WEFT_SEC), ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
    weft_ctx_release(t);
}

static void test_sleep_ctx_sleeps_or_returns_the_context_error(void **state)
{
    CT_BEGIN();
    run_both(sleep_ctx_body, NULL);
    CT_END();
}

/* ================================================================== */
/* Races                                                               */
/* ================================================================== */

/* Cancel racing child creation: a child is either linked before the
 * cancel reaches the parent's list (and canceled by it) or born done. */
enum { RC_CREATORS = 4, RC_PER = 400 };

struct race_create {
    weft_ctx *p;
    atomic_int cancel_returned;
    weft_ctx *kids[RC_CREATORS][RC_PER];
    bool after[RC_CREATORS][RC_PER];
    weft_chan *done;
    int round;
};

struct creator_arg {
    struct race_create *r;
    int id;
};

static void rc_creator(void *p)
{
    struct creator_arg *ca = p;
    struct race_create *r = ca->r;
    int key;
    for (int i = 0; i < RC_PER; i++) {
        bool after = atomic_load(&r->cancel_returned);
        weft_ctx *c;
        switch ((i + r->round) % 4) {
        case 0: c = weft_ctx_with_cancel(r->p); break;
        case 1: c = weft_ctx_with_timeout(r->p, 3600 * WEFT_SEC); break;
        case 2: {
            weft_ctx *v = weft_ctx_with_value(r->p, &key, NULL);
            c = weft_ctx_with_cancel(v);
            weft_ctx_release(v);
            break;
        }
        default: c = weft_ctx_with_value(r->p, &key, NULL); break;
        }
        WT_CHECK(c != NULL);
        if (after)
            WT_CHECK_INT_EQ(weft_ctx_err(c), ECANCELED); /* born done */
        r->kids[ca->id][i] = c;
        r->after[ca->id][i] = after;
        if (i % 16 == 0)
            weft_yield();
    }
    WT_CHECK_INT_EQ(weft_chan_send(r->done, NULL), 0);
}

static void rc_canceler(void *p)
{
    struct race_create *r = p;
    for (int i = 0; i < r->round * 7 % 50; i++)
        weft_yield();
    weft_ctx_cancel(r->p);
    atomic_store(&r->cancel_returned, 1);
    WT_CHECK_INT_EQ(weft_chan_send(r->done, NULL), 0);
}

static void test_cancel_racing_child_creation(void **state)
{
    CT_BEGIN();
    struct race_create *r = calloc(1, sizeof *r);
    struct creator_arg ca[RC_CREATORS];
    r->done = weft_chan_make(0, RC_CREATORS + 1);
    for (int round = 0; round < 30; round++) {
        r->round = round;
        r->p = weft_ctx_with_cancel(weft_ctx_background());
        atomic_store(&r->cancel_returned, 0);
        for (int k = 0; k < RC_CREATORS; k++) {
            ca[k] = (struct creator_arg){r, k};
            assert_int_equal(weft_go(rc_creator, &ca[k]), 0);
        }
        assert_int_equal(weft_go(rc_canceler, r), 0);
        assert_int_equal(wt_wait_n(r->done, RC_CREATORS + 1), RC_CREATORS + 1);
        /* Every child, linked or born, is done now; none is still linked. */
        for (int k = 0; k < RC_CREATORS; k++)
            for (int i = 0; i < RC_PER; i++) {
                if (weft_ctx_err(r->kids[k][i]) != ECANCELED ||
                    !is_closed(weft_ctx_done(r->kids[k][i])))
                    fail_msg("round %d: child %d/%d not canceled", round, k, i);
            }
        assert_int_equal(weft__ctx_children(r->p), 0);
        for (int k = 0; k < RC_CREATORS; k++)
            for (int i = 0; i < RC_PER; i++)
                weft_ctx_release(r->kids[k][i]);
        weft_ctx_release(r->p);
        wt_assert_no_failures();
    }
    weft_chan_release(r->done);
    free(r);
    CT_END();
}

/* Release racing cancel (of the parent and of the children themselves),
 * with deadline timers armed: no use after free (ASan), nothing leaks. */
enum { RR_KIDS = 300 };

struct race_release {
    weft_ctx *p;
    weft_ctx *kids[RR_KIDS];
    weft_chan *done;
    int round;
};

static void rr_releaser(void *p)
{
    struct race_release *r = p;
    for (int i = 0; i < RR_KIDS; i++) {
        weft_ctx_release(r->kids[i]);
        if (i % 32 == 0)
            weft_yield();
    }
    WT_CHECK_INT_EQ(weft_chan_send(r->done, NULL), 0);
}

static void rr_parent_canceler(void *p)
{
    struct race_release *r = p;
    for (int i = 0; i < r->round % 20; i++)
        weft_yield();
    weft_ctx_cancel(r->p);
    WT_CHECK_INT_EQ(weft_chan_send(r->done, NULL), 0);
}

static void rr_kid_canceler(void *p)
{
    struct race_release *r = p;
    /* Holds its own reference to each kid, dropped right after canceling
     * it: this release and rr_releaser's race to be the last one. */
    for (int i = RR_KIDS - 1; i >= 0; i--) {
        weft_ctx_cancel(r->kids[i]);
        WT_CHECK_INT_EQ(weft_ctx_err(r->kids[i]), ECANCELED);
        weft_ctx_release(r->kids[i]);
    }
    WT_CHECK_INT_EQ(weft_chan_send(r->done, NULL), 0);
}

static void test_release_racing_cancel(void **state)
{
    CT_BEGIN();
    struct race_release *r = calloc(1, sizeof *r);
    r->done = weft_chan_make(0, 3);
    for (int round = 0; round < 60; round++) {
        r->round = round;
        r->p = weft_ctx_with_cancel(weft_ctx_background());
        for (int i = 0; i < RR_KIDS; i++) {
            weft_ctx *c = (i % 3 == 0) ? weft_ctx_with_timeout(r->p, 3600 * WEFT_SEC)
                                       : weft_ctx_with_cancel(r->p);
            r->kids[i] = c;
            /* Grandchildren keep some kids' memory alive past their release. */
            if (i % 5 == 0)
                weft_ctx_release(weft_ctx_with_cancel(c));
            if (i % 2)
                weft_ctx_done(c);
            weft_ctx_retain(c); /* rr_kid_canceler's reference */
        }
        assert_int_equal(weft_go(rr_releaser, r), 0);
        assert_int_equal(weft_go(rr_parent_canceler, r), 0);
        assert_int_equal(weft_go(rr_kid_canceler, r), 0);
        assert_int_equal(wt_wait_n(r->done, 3), 3);
        assert_int_equal(weft__ctx_children(r->p), 0);
        assert_int_equal(weft_ctx_err(r->p), ECANCELED);
        weft_ctx_release(r->p);
        wt_assert_no_failures();
    }
    weft_chan_release(r->done);
    free(r);
    CT_END();
}

/* Deadlines firing while their contexts are being released, canceled, and
 * while an ancestor with a deadline of its own is canceled: the callbacks
 * and the cancel walk contend for the same locks. */
struct race_deadline {
    atomic_int seed;
    weft_chan *done;
};

static void rd_worker(void *p)
{
    struct race_deadline *r = p;
    wt_rng rng = wt_rng_make((uint64_t)atomic_fetch_add(&r->seed, 1));
    for (int i = 0; i < 3000; i++) {
        int64_t d = (int64_t)wt_rand_n(&rng, 40) * WEFT_US;
        weft_ctx *root = weft_ctx_with_timeout(weft_ctx_background(), d);
        weft_ctx *a = weft_ctx_with_timeout(root, d + (int64_t)wt_rand_n(&rng, 20) * WEFT_US - 10 * WEFT_US);
        weft_ctx *b = weft_ctx_with_timeout(a, (int64_t)wt_rand_n(&rng, 40) * WEFT_US);
        weft_ctx *c = weft_ctx_with_cancel(b);
        if (wt_rand_n(&rng, 2))
            weft_ctx_done(b);
        /* Spin a random while (no sleeping: we want the firing to race). */
        for (uint64_t spin = wt_rand_n(&rng, 20000); spin > 0; spin--)
            __asm__ __volatile__("" ::: "memory");
        switch (wt_rand_n(&rng, 4)) {
        case 0: weft_ctx_cancel(root); break;
        case 1: weft_ctx_cancel(a); break;
        case 2: weft_ctx_cancel(c); break;
        default: break;
        }
        weft_ctx *order[4] = {root, a, b, c};
        int first = (int)wt_rand_n(&rng, 4);
        for (int k = 0; k < 4; k++)
            weft_ctx_release(order[(first + k) % 4]);
    }
    WT_CHECK_INT_EQ(weft_chan_send(r->done, NULL), 0);
}

static void *rd_thread(void *p)
{
    rd_worker(p);
    return NULL;
}

static void test_deadline_firing_while_being_released_or_canceled(void **state)
{
    CT_BEGIN();
    struct race_deadline r = {0, weft_chan_make(0, 8)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, rd_thread, &r), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(weft_go(rd_worker, &r), 0);
    assert_int_equal(wt_wait_n(r.done, 4), 4);
    pthread_join(th, NULL);
    weft_chan_release(r.done);
    CT_END();
}

/* Cancellation is synchronous even when a descendant is being canceled by
 * someone else at the same moment: when weft_ctx_cancel(root) returns, the
 * whole subtree is done. */
struct race_sync {
    weft_ctx *mid;
    weft_chan *go, *done;
};

static void rs_mid_canceler(void *p)
{
    struct race_sync *r = p;
    WT_CHECK_INT_EQ(weft_chan_recv(r->go, NULL), 0);
    weft_ctx_cancel(r->mid);
    WT_CHECK_INT_EQ(weft_chan_send(r->done, NULL), 0);
}

static void test_cancel_is_synchronous_against_a_concurrent_descendant_cancel(void **state)
{
    CT_BEGIN();
    struct race_sync r = {NULL, weft_chan_make(0, 1), weft_chan_make(0, 1)};
    for (int round = 0; round < 2000; round++) {
        weft_ctx *root = weft_ctx_with_cancel(weft_ctx_background());
        r.mid = weft_ctx_with_cancel(root);
        weft_ctx *leaves[8];
        weft_ctx *prev = r.mid;
        for (int i = 0; i < 8; i++) {
            leaves[i] = weft_ctx_with_cancel(i % 2 ? prev : r.mid);
            prev = leaves[i];
        }
        assert_int_equal(weft_go(rs_mid_canceler, &r), 0);
        assert_int_equal(weft_chan_send(r.go, NULL), 0);
        weft_ctx_cancel(root);
        for (int i = 0; i < 8; i++)
            if (!is_done(leaves[i]))
                fail_msg("round %d: leaf %d not done when cancel(root) returned", round, i);
        assert_int_equal(wt_wait_n(r.done, 1), 1);
        for (int i = 0; i < 8; i++)
            weft_ctx_release(leaves[i]);
        weft_ctx_release(r.mid);
        weft_ctx_release(root);
    }
    weft_chan_release(r.go);
    weft_chan_release(r.done);
    CT_END();
}

/* Many tasks and threads blocked on one context's done channel, in
 * selects, recv_ctx and sleep_ctx, are all released by one cancel. */
enum { FAN = 40 };

struct fan {
    weft_ctx *ctx;
    weft_chan *never, *out;
    atomic_int mode;
};

static void fan_waiter(void *p)
{
    struct fan *f = p;
    int m = atomic_fetch_add(&f->mode, 1) % 3;
    int rc;
    if (m == 0)
        rc = weft_chan_recv_ctx(f->never, NULL, f->ctx);
    else if (m == 1)
        rc = weft_sleep_ctx(f->ctx, 3600 * WEFT_SEC);
    else
        rc = weft_chan_recv(weft_ctx_done(f->ctx), NULL) == EPIPE ? weft_ctx_err(f->ctx) : -1;
    WT_CHECK_INT_EQ(weft_chan_send(f->out, &rc), 0);
}

static void *fan_thread(void *p)
{
    fan_waiter(p);
    return NULL;
}

static void test_one_cancel_releases_every_kind_of_waiter(void **state)
{
    CT_BEGIN();
    struct fan f = {weft_ctx_with_cancel(weft_ctx_background()), weft_chan_make(0, 0),
                    weft_chan_make(sizeof(int), FAN + 3), 0};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fan_thread, &f), 0);
    for (int i = 0; i < FAN; i++)
        assert_int_equal(weft_go(fan_waiter, &f), 0);
    wt_settle();
    assert_int_equal(weft_chan_len(f.out), 0);
    weft_ctx_cancel(f.ctx);
    for (int i = 0; i < FAN + 3; i++) {
        int rc = -1;
        assert_int_equal(wt_recv_within(f.out, &rc, WT_LIVENESS_NS), 0);
        assert_int_equal(rc, ECANCELED);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    weft_ctx_release(f.ctx);
    weft_chan_release(f.never);
    weft_chan_release(f.out);
    CT_END();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#ifndef WT_CTX_CHURN_FULL
        cmocka_unit_test(test_background_is_never_done_and_not_refcounted),
        cmocka_unit_test(test_null_parent_and_null_key_are_einval),
        cmocka_unit_test(test_cancel_closes_done_sets_err_and_is_idempotent),
        cmocka_unit_test(test_cancel_reaches_exactly_the_descendants_synchronously),
        cmocka_unit_test(test_deep_chain_cancels_and_frees_without_recursion),
        cmocka_unit_test(test_cancel_of_a_child_leaves_the_parent_and_siblings_alone),
        cmocka_unit_test(test_children_of_a_done_parent_are_born_done),
        cmocka_unit_test(test_deadline_fires_and_propagates_etimedout),
        cmocka_unit_test(test_release_before_the_deadline_cancels_the_timer),
        cmocka_unit_test(test_value_lookup_walks_to_the_nearest_binding),
        cmocka_unit_test(test_release_semantics),
        cmocka_unit_test(test_creating_and_canceling_contexts_spawns_no_task),
        cmocka_unit_test(test_after_func_runs_once_per_registration_only_once_done),
        cmocka_unit_test(test_sleep_ctx_sleeps_or_returns_the_context_error),
        cmocka_unit_test(test_cancel_racing_child_creation),
        cmocka_unit_test(test_release_racing_cancel),
        cmocka_unit_test(test_deadline_firing_while_being_released_or_canceled),
        cmocka_unit_test(test_cancel_is_synchronous_against_a_concurrent_descendant_cancel),
        cmocka_unit_test(test_one_cancel_releases_every_kind_of_waiter),
#endif
        cmocka_unit_test(test_long_lived_parent_with_millions_of_released_children_does_not_grow),
    };
    return cmocka_run_group_tests(tests, wt_group_setup, wt_group_teardown);
}
