/*
 * test_sync.c — WaitGroup, Mutex, Once and errgroup (Go's sync.WaitGroup,
 * sync.Mutex, sync.Once, x/sync/errgroup), errors instead of panics.
 *
 * Every test is bracketed: the live-task count comes back to its start
 * value, no runtime timer is left queued and no context leaks.  Nothing is
 * synchronised by sleeping; wt_settle() only raises the odds that a waiter
 * is parked when the interesting event happens.  No speed assertions.
 */
#include <stdatomic.h>

#include "ctxutil.h"

/* Internal helpers (not public API; the symbols are in the library). */
size_t weft__mutex_waiters(weft_mutex *m);
extern const unsigned weft__mutex_max_passes;
int64_t weft__wg_count(weft_wg *wg);

#define ST_BEGIN() WT_CTX_BEGIN()
#define ST_END() WT_CTX_END()

/* ================================================================== */
/* WaitGroup                                                           */
/* ================================================================== */

static weft_wg static_wg = WEFT_WG_INIT;

struct wg_work {
    weft_wg *wg;
    atomic_int *count;
    int yields;
};

static void wg_worker(void *p)
{
    struct wg_work *w = p;
    for (int i = 0; i < w->yields; i++)
        weft_yield();
    atomic_fetch_add(w->count, 1);
    WT_CHECK_INT_EQ(weft_wg_done(w->wg), 0);
}

static void wg_basic_body(void *arg)
{
    (void)arg;
    /* Zero counter: wait returns at once (static, zeroed and stack wgs). */
    weft_wg zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    WT_CHECK_INT_EQ(weft_wg_wait(&static_wg), 0);
    WT_CHECK_INT_EQ(weft_wg_wait(&zeroed), 0);
    weft_wg wg = WEFT_WG_INIT;
    WT_CHECK_INT_EQ(weft_wg_wait(&wg), 0);
    WT_CHECK_INT_EQ(weft_wg_add(&wg, 0), 0);
    WT_CHECK_INT_EQ(weft_wg_wait(&wg), 0);

    atomic_int count = 0;
    struct wg_work w = {&wg, &count, 20};
    enum { N = 100 };
    WT_CHECK_INT_EQ(weft_wg_add(&wg, N), 0);
    for (int i = 0; i < N; i++)
        WT_CHECK_INT_EQ(weft_go(wg_worker, &w), 0);
    WT_CHECK_INT_EQ(weft_wg_wait(&wg), 0);
    WT_CHECK_INT_EQ(atomic_load(&count), N); /* every done happened before wait returned */

    /* NULL. */
    WT_CHECK_INT_EQ(weft_wg_add(NULL, 1), EINVAL);
    WT_CHECK_INT_EQ(weft_wg_done(NULL), EINVAL);
    WT_CHECK_INT_EQ(weft_wg_wait(NULL), EINVAL);
    WT_CHECK_INT_EQ(weft_wg_wait_ctx(NULL, NULL), EINVAL);
}

static void test_wg_waits_for_every_done(void **state)
{
    ST_BEGIN();
    run_both(wg_basic_body, NULL);
    ST_END();
}

static void test_wg_negative_counter_is_einval_and_changes_nothing(void **state)
{
    ST_BEGIN();
    weft_wg wg = WEFT_WG_INIT;
    assert_int_equal(weft_wg_done(&wg), EINVAL);
    assert_int_equal(weft_wg_add(&wg, -1), EINVAL);
    assert_int_equal(weft_wg_wait(&wg), 0);
    assert_int_equal(weft_wg_add(&wg, 2), 0);
    assert_int_equal(weft_wg_add(&wg, -3), EINVAL); /* unchanged: still 2 */
    assert_int_equal(weft_wg_add(&wg, INT64_MIN), EINVAL);
    assert_int_equal(weft_wg_add(&wg, INT64_MAX), EINVAL); /* overflow */
    assert_int_equal(weft_wg_done(&wg), 0);
    atomic_int count = 0;
    struct wg_work w = {&wg, &count, 50};
    assert_int_equal(weft_go(wg_worker, &w), 0);
    assert_int_equal(weft_wg_wait(&wg), 0); /* 2 - 1 - 1 = 0 */
    assert_int_equal(atomic_load(&count), 1);
    assert_int_equal(weft_wg_done(&wg), EINVAL);
    assert_int_equal(weft_wg_add(&wg, -2), EINVAL);
    /* A large counter within range works and can be brought back down. */
    assert_int_equal(weft_wg_add(&wg, (INT64_MAX >> 1)), 0);
    assert_int_equal(weft_wg_add(&wg, 1), EINVAL);
    assert_int_equal(weft_wg_add(&wg, -(INT64_MAX >> 1)), 0);
    assert_int_equal(weft_wg_wait(&wg), 0);
    ST_END();
}

/* An increase is one fetch-and-add, taken back when it passes the top of
 * the range: racing overshoots (tasks and a thread), waiters and the done
 * that brings the counter to zero lose nothing.  Every overshoot is
 * EINVAL or, once the counter is low enough, succeeds and is undone by
 * its caller; the waiters all return; the counter ends at zero. */
enum { WGO_D = 1 << 30, WGO_TRIES = 3000 };

struct wgo {
    weft_wg wg;
    atomic_int einval, ok, waited;
    weft_chan *done;
};

static void wgo_overshoot(void *p)
{
    struct wgo *o = p;
    for (int i = 0; i < WGO_TRIES; i++) {
        int rc = weft_wg_add(&o->wg, WGO_D);
        if (rc == 0) {
            atomic_fetch_add(&o->ok, 1);
            WT_CHECK_INT_EQ(weft_wg_add(&o->wg, -WGO_D), 0);
        } else {
            WT_CHECK_INT_EQ(rc, EINVAL);
            atomic_fetch_add(&o->einval, 1);
        }
        if (i % 64 == 0)
            weft_yield();
    }
    WT_CHECK_INT_EQ(weft_chan_send(o->done, NULL), 0);
}

static void *wgo_thread(void *p)
{
    wgo_overshoot(p);
    return NULL;
}

static void wgo_waiter(void *p)
{
    struct wgo *o = p;
    WT_CHECK_INT_EQ(weft_wg_wait(&o->wg), 0);
    atomic_fetch_add(&o->waited, 1);
    WT_CHECK_INT_EQ(weft_chan_send(o->done, NULL), 0);
}

static void test_wg_add_past_the_top_is_undone_under_races(void **state)
{
    ST_BEGIN();
    const int64_t top = INT64_MAX >> 1, start = top - WGO_D + 1; /* one overshoot too many */
    for (int round = 0; round < 5; round++) {
        struct wgo o = {.wg = WEFT_WG_INIT, .done = weft_chan_make(0, 8)};
        assert_int_equal(weft_wg_add(&o.wg, start), 0);
        assert_int_equal(weft_wg_add(&o.wg, WGO_D), EINVAL);
        assert_int_equal(weft__wg_count(&o.wg), start);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, wgo_thread, &o), 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(weft_go(wgo_overshoot, &o), 0);
        for (int i = 0; i < 2; i++)
            assert_int_equal(weft_go(wgo_waiter, &o), 0);
        for (int i = 0; i < 20 * (round + 1); i++)
            weft_yield();
        assert_int_equal(weft_wg_add(&o.wg, -start), 0); /* to zero, racing */
        assert_int_equal(wt_wait_n(o.done, 6), 6);
        pthread_join(th, NULL);
        assert_int_equal(atomic_load(&o.waited), 2);
        assert_int_equal(atomic_load(&o.einval) + atomic_load(&o.ok), 4 * WGO_TRIES);
        assert_int_equal(weft__wg_count(&o.wg), 0);
        assert_int_equal(weft_wg_wait(&o.wg), 0);
        weft_chan_release(o.done);
        wt_assert_no_failures();
    }
    ST_END();
}

/* Waiters and done-ers on plain threads, mixed with tasks. */
struct wg_mixed {
    weft_wg work, go;
    atomic_int done_count;
    atomic_int waiters_returned;
    int per_thread;
};

static void *wg_thread_doner(void *p)
{
    struct wg_mixed *m = p;
    WT_CHECK_INT_EQ(weft_wg_wait(&m->go), 0);
    for (int i = 0; i < m->per_thread; i++) {
        atomic_fetch_add(&m->done_count, 1);
        WT_CHECK_INT_EQ(weft_wg_done(&m->work), 0);
    }
    return NULL;
}

static void *wg_thread_waiter(void *p)
{
    struct wg_mixed *m = p;
    WT_CHECK_INT_EQ(weft_wg_wait(&m->work), 0);
    WT_CHECK_INT_EQ(atomic_load(&m->done_count), 4 * m->per_thread + 20);
    atomic_fetch_add(&m->waiters_returned, 1);
    return NULL;
}

static void wg_task_waiter(void *p)
{
    wg_thread_waiter(p);
}

static void wg_task_doner(void *p)
{
    struct wg_mixed *m = p;
    WT_CHECK_INT_EQ(weft_wg_wait(&m->go), 0);
    atomic_fetch_add(&m->done_count, 1);
    WT_CHECK_INT_EQ(weft_wg_done(&m->work), 0);
}

static void test_wg_from_plain_threads_and_tasks(void **state)
{
    ST_BEGIN();
    for (int round = 0; round < 20; round++) {
        struct wg_mixed m = {WEFT_WG_INIT, WEFT_WG_INIT, 0, 0, 500};
        assert_int_equal(weft_wg_add(&m.work, 4 * m.per_thread + 20), 0);
        assert_int_equal(weft_wg_add(&m.go, 1), 0);
        pthread_t doners[4], waiters[3];
        for (int i = 0; i < 4; i++)
            assert_int_equal(pthread_create(&doners[i], NULL, wg_thread_doner, &m), 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(pthread_create(&waiters[i], NULL, wg_thread_waiter, &m), 0);
        for (int i = 0; i < 20; i++)
            assert_int_equal(weft_go(wg_task_doner, &m), 0);
        for (int i = 0; i < 5; i++)
            assert_int_equal(weft_go(wg_task_waiter, &m), 0);
        if (round % 2)
            wt_settle(); /* let waiters park on go */
        assert_int_equal(weft_wg_done(&m.go), 0);
        assert_int_equal(weft_wg_wait(&m.work), 0); /* this thread waits too */
        for (int i = 0; i < 4; i++)
            pthread_join(doners[i], NULL);
        for (int i = 0; i < 3; i++)
            pthread_join(waiters[i], NULL);
        assert_int_equal(wt_await_num_tasks(wt__leak.tasks, WT_LIVENESS_NS), wt__leak.tasks);
        assert_int_equal(atomic_load(&m.waiters_returned), 8);
        wt_assert_no_failures();
    }
    ST_END();
}

/* Reuse: generation after generation, with waiters parked in each; a
 * waiter of one generation is never released by a later one's counter
 * nor held by it. */
struct wg_gen {
    weft_wg wg;
    atomic_int gen_done;  /* done-ers finished in the current generation */
    int n;
    weft_chan *back;
};

static void wg_gen_waiter(void *p)
{
    struct wg_gen *g = p;
    WT_CHECK_INT_EQ(weft_wg_wait(&g->wg), 0);
    WT_CHECK_INT_EQ(atomic_load(&g->gen_done), g->n);
    WT_CHECK_INT_EQ(weft_chan_send(g->back, NULL), 0);
}

static void wg_gen_doner(void *p)
{
    struct wg_gen *g = p;
    weft_yield();
    atomic_fetch_add(&g->gen_done, 1);
    WT_CHECK_INT_EQ(weft_wg_done(&g->wg), 0);
    WT_CHECK_INT_EQ(weft_chan_send(g->back, NULL), 0);
}

static void test_wg_reuse_after_wait_returns(void **state)
{
    ST_BEGIN();
    struct wg_gen g = {WEFT_WG_INIT, 0, 8, weft_chan_make(0, 64)};
    for (int gen = 0; gen < 300; gen++) {
        atomic_store(&g.gen_done, 0);
        assert_int_equal(weft_wg_add(&g.wg, g.n), 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(weft_go(wg_gen_waiter, &g), 0);
        for (int i = 0; i < g.n; i++)
            assert_int_equal(weft_go(wg_gen_doner, &g), 0);
        assert_int_equal(weft_wg_wait(&g.wg), 0);
        assert_int_equal(atomic_load(&g.gen_done), g.n);
        assert_int_equal(wt_wait_n(g.back, 3 + g.n), 3 + g.n);
    }
    weft_chan_release(g.back);
    wt_assert_no_failures();
    ST_END();
}

/* The usual pattern: a WaitGroup on the waiter's stack (here: heap memory
 * freed at once) goes away as soon as wait returns, while the last done
 * may still be inside weft_wg_done.  ASan turns a touch after that into a
 * failure. */
static void wg_free_doner(void *p)
{
    WT_CHECK_INT_EQ(weft_wg_done(p), 0);
}

static void wg_free_body(void *arg)
{
    (void)arg;
#ifdef WT_TSAN_BUILD
    enum { ROUNDS = 500 }; /* each spawn is a TSan fiber: slow */
#else
    enum { ROUNDS = 2000 };
#endif
    for (int round = 0; round < ROUNDS; round++) {
        weft_wg *wg = malloc(sizeof *wg);
        *wg = (weft_wg)WEFT_WG_INIT;
        int n = 1 + round % 4;
        WT_CHECK_INT_EQ(weft_wg_add(wg, n), 0);
        for (int i = 0; i < n; i++)
            WT_CHECK_INT_EQ(weft_go(wg_free_doner, wg), 0);
        WT_CHECK_INT_EQ(weft_wg_wait(wg), 0);
        free(wg);
    }
}

static void test_wg_can_be_freed_as_soon_as_wait_returns(void **state)
{
    ST_BEGIN();
    run_both(wg_free_body, NULL);
    ST_END();
}

/* wait_ctx. */
struct wgc {
    weft_wg *wg;
    weft_ctx *ctx;
    weft_chan *out;
};

static void wgc_waiter(void *p)
{
    struct wgc *w = p;
    int rc = weft_wg_wait_ctx(w->wg, w->ctx);
    WT_CHECK_INT_EQ(weft_chan_send(w->out, &rc), 0);
}

static void *wgc_thread(void *p)
{
    wgc_waiter(p);
    return NULL;
}

static void wg_ctx_body(void *arg)
{
    (void)arg;
    weft_wg wg = WEFT_WG_INIT;
    weft_ctx *bg = weft_ctx_background();
    /* Counter zero: 0 whatever the ctx. */
    weft_ctx *dead = weft_ctx_with_cancel(bg);
    weft_ctx_cancel(dead);
    WT_CHECK_INT_EQ(weft_wg_wait_ctx(&wg, dead), 0);
    WT_CHECK_INT_EQ(weft_wg_wait_ctx(&wg, NULL), 0);
    /* Counter non-zero, ctx already done: its error at once. */
    WT_CHECK_INT_EQ(weft_wg_add(&wg, 1), 0);
    WT_CHECK_INT_EQ(weft_wg_wait_ctx(&wg, dead), ECANCELED);
    weft_ctx *past = weft_ctx_with_deadline(bg, 0);
    WT_CHECK_INT_EQ(weft_wg_wait_ctx(&wg, past), ETIMEDOUT);
    weft_ctx_release(past);

    /* Canceled while parked (tasks and a plain thread), and the counter is
     * untouched: the wg works normally afterwards. */
    weft_ctx *c = weft_ctx_with_cancel(bg);
    struct wgc w = {&wg, c, weft_chan_make(sizeof(int), 8)};
    pthread_t th;
    WT_CHECK_INT_EQ(pthread_create(&th, NULL, wgc_thread, &w), 0);
    for (int i = 0; i < 4; i++)
        WT_CHECK_INT_EQ(weft_go(wgc_waiter, &w), 0);
    wt_settle();
    WT_CHECK_INT_EQ(weft_chan_len(w.out), 0);
    weft_ctx_cancel(c);
    for (int i = 0; i < 5; i++) {
        int rc = -1;
        WT_CHECK_INT_EQ(wt_recv_within(w.out, &rc, WT_LIVENESS_NS), 0);
        WT_CHECK_INT_EQ(rc, ECANCELED);
    }
    pthread_join(th, NULL);
    weft_ctx_release(c);

    /* The counter reaching zero wins over a live ctx. */
    c = weft_ctx_with_cancel(bg);
    w.ctx = c;
    for (int i = 0; i < 4; i++)
        WT_CHECK_INT_EQ(weft_go(wgc_waiter, &w), 0);
    WT_CHECK_INT_EQ(pthread_create(&th, NULL, wgc_thread, &w), 0);
    wt_settle();
    WT_CHECK_INT_EQ(weft_wg_done(&wg), 0);
    for (int i = 0; i < 5; i++) {
        int rc = -1;
        WT_CHECK_INT_EQ(wt_recv_within(w.out, &rc, WT_LIVENESS_NS), 0);
        WT_CHECK_INT_EQ(rc, 0);
    }
    pthread_join(th, NULL);
    weft_ctx_cancel(c); /* nobody is registered any more */
    weft_ctx_release(c);

    /* A deadline; a never-done ctx is a plain wait. */
    WT_CHECK_INT_EQ(weft_wg_add(&wg, 1), 0);
    weft_ctx *t = weft_ctx_with_timeout(bg, 5 * WEFT_MS);
    int64_t dl = weft_ctx_deadline(t);
    WT_CHECK_INT_EQ(weft_wg_wait_ctx(&wg, t), ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
    weft_ctx_release(t);
    w.ctx = bg;
    WT_CHECK_INT_EQ(weft_go(wgc_waiter, &w), 0);
    wt_settle();
    WT_CHECK_INT_EQ(weft_wg_done(&wg), 0);
    int rc = -1;
    WT_CHECK_INT_EQ(wt_recv_within(w.out, &rc, WT_LIVENESS_NS), 0);
    WT_CHECK_INT_EQ(rc, 0);
    WT_CHECK_INT_EQ(weft_wg_wait(&wg), 0);
    weft_ctx_release(dead);
    weft_chan_release(w.out);
}

static void test_wg_wait_ctx_gives_up_when_the_context_is_done(void **state)
{
    ST_BEGIN();
    run_both(wg_ctx_body, NULL);
    ST_END();
}

/* done and cancel at the same moment: each waiter gets exactly one
 * answer (0 or ECANCELED), nobody hangs, nothing stays registered. */
struct wgr {
    weft_wg wg;
    weft_ctx *ctx;
    weft_chan *go, *out;
};

static void wgr_doner(void *p)
{
    struct wgr *r = p;
    WT_CHECK_INT_EQ(weft_chan_recv(r->go, NULL), 0);
    WT_CHECK_INT_EQ(weft_wg_done(&r->wg), 0);
}

static void wgr_canceler(void *p)
{
    struct wgr *r = p;
    weft_ctx *ctx = r->ctx; /* our own reference (retained for us) */
    WT_CHECK_INT_EQ(weft_chan_recv(r->go, NULL), 0);
    weft_ctx_cancel(ctx);
    weft_ctx_release(ctx);
}

static void wgr_waiter(void *p)
{
    struct wgr *r = p;
    int rc = weft_wg_wait_ctx(&r->wg, r->ctx);
    WT_CHECK_MSG(rc == 0 || rc == ECANCELED, "wait_ctx = %d", rc);
    WT_CHECK_INT_EQ(weft_chan_send(r->out, &rc), 0);
}

static void test_wg_wait_ctx_racing_done_and_cancel(void **state)
{
    ST_BEGIN();
    struct wgr r = {WEFT_WG_INIT, NULL, weft_chan_make(0, 0), weft_chan_make(sizeof(int), 8)};
    int wins[2] = {0, 0};
    for (int round = 0; round < 1500; round++) {
        r.ctx = weft_ctx_with_cancel(weft_ctx_background());
        assert_int_equal(weft_wg_add(&r.wg, 1), 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(weft_go(wgr_waiter, &r), 0);
        assert_int_equal(weft_go(wgr_doner, &r), 0);
        weft_ctx_retain(r.ctx);
        assert_int_equal(weft_go(wgr_canceler, &r), 0);
        if (round % 3 == 0)
            wt_settle();
        assert_int_equal(weft_chan_send(r.go, NULL), 0);
        assert_int_equal(weft_chan_send(r.go, NULL), 0);
        for (int i = 0; i < 3; i++) {
            int rc = -1;
            assert_int_equal(wt_recv_within(r.out, &rc, WT_LIVENESS_NS), 0);
            wins[rc == 0]++;
        }
        assert_int_equal(weft_wg_wait(&r.wg), 0); /* the counter went to zero */
        weft_ctx_release(r.ctx);
        wt_assert_no_failures();
    }
    assert_int_equal(wt_await_num_tasks(wt__leak.tasks, WT_LIVENESS_NS), wt__leak.tasks);
    weft_chan_release(r.go);
    weft_chan_release(r.out);
    ST_END();
}

/* ================================================================== */
/* Mutex                                                               */
/* ================================================================== */

static weft_mutex static_mu = WEFT_MUTEX_INIT;

static void mutex_basic_body(void *arg)
{
    (void)arg;
    weft_mutex m = WEFT_MUTEX_INIT;
    WT_CHECK_INT_EQ(weft_mutex_unlock(&m), EPERM);
    WT_CHECK_INT_EQ(weft_mutex_lock(&m), 0);
    WT_CHECK_INT_EQ(weft_mutex_trylock(&m), EBUSY);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&m), 0);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&m), EPERM);
    WT_CHECK_INT_EQ(weft_mutex_trylock(&m), 0);
    WT_CHECK_INT_EQ(weft_mutex_trylock(&m), EBUSY);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&m), 0);
    WT_CHECK_INT_EQ(weft_mutex_lock(&static_mu), 0);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&static_mu), 0);
    weft_mutex z;
    memset(&z, 0, sizeof z);
    WT_CHECK_INT_EQ(weft_mutex_lock(&z), 0);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&z), 0);
    WT_CHECK_INT_EQ(weft_mutex_lock(NULL), EINVAL);
    WT_CHECK_INT_EQ(weft_mutex_trylock(NULL), EINVAL);
    WT_CHECK_INT_EQ(weft_mutex_unlock(NULL), EINVAL);
}

static void test_mutex_lock_trylock_unlock_and_errors(void **state)
{
    ST_BEGIN();
    run_both(mutex_basic_body, NULL);
    ST_END();
}

/* Mutual exclusion under contention, tasks and threads together. */
struct mx {
    weft_mutex mu;
    long counter; /* plain: protected by mu */
    int inside;   /* plain: must never exceed 1 */
    int iters;
    weft_chan *done;
};

static void mx_worker(void *p)
{
    struct mx *m = p;
    for (int i = 0; i < m->iters; i++) {
        WT_CHECK_INT_EQ(i % 7 ? weft_mutex_lock(&m->mu)
                              : (weft_mutex_trylock(&m->mu) == 0 ? 0 : weft_mutex_lock(&m->mu)),
                        0);
        int in = ++m->inside;
        WT_CHECK_INT_EQ(in, 1);
        long c = m->counter;
        if (i % 5 == 0)
            weft_yield(); /* parked or rescheduled while holding it */
        m->counter = c + 1;
        m->inside--;
        WT_CHECK_INT_EQ(weft_mutex_unlock(&m->mu), 0);
    }
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0);
}

static void *mx_thread(void *p)
{
    mx_worker(p);
    return NULL;
}

static void test_mutex_excludes_under_contention(void **state)
{
    ST_BEGIN();
    struct mx m = {WEFT_MUTEX_INIT, 0, 0, 3000, weft_chan_make(0, 16)};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, mx_thread, &m), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(weft_go(mx_worker, &m), 0);
    assert_int_equal(wt_wait_n(m.done, 10), 10);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(m.counter, 10L * m.iters);
    assert_int_equal(weft__mutex_waiters(&m.mu), 0);
    assert_int_equal(weft_mutex_trylock(&m.mu), 0);
    assert_int_equal(weft_mutex_unlock(&m.mu), 0);
    weft_chan_release(m.done);
    ST_END();
}

/* lock parks the task, not the worker: with far more blocked lockers than
 * workers, another task still runs and releases the holder. */
struct mp {
    weft_mutex mu;
    weft_chan *release, *done;
};

static void mp_holder(void *p)
{
    struct mp *m = p;
    WT_CHECK_INT_EQ(weft_mutex_lock(&m->mu), 0);
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0); /* holding it */
    WT_CHECK_INT_EQ(weft_chan_recv(m->release, NULL), 0);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&m->mu), 0);
}

static void mp_locker(void *p)
{
    struct mp *m = p;
    WT_CHECK_INT_EQ(weft_mutex_lock(&m->mu), 0);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&m->mu), 0);
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0);
}

static void mp_releaser(void *p)
{
    struct mp *m = p;
    WT_CHECK_INT_EQ(weft_chan_send(m->release, NULL), 0);
}

static void test_mutex_lock_parks_the_task_not_the_worker(void **state)
{
    ST_BEGIN();
    enum { LOCKERS = 32 };
    struct mp m = {WEFT_MUTEX_INIT, weft_chan_make(0, 0), weft_chan_make(0, LOCKERS + 1)};
    assert_int_equal(weft_go(mp_holder, &m), 0);
    assert_int_equal(wt_wait_n(m.done, 1), 1);
    for (int i = 0; i < LOCKERS; i++)
        assert_int_equal(weft_go(mp_locker, &m), 0);
    /* Wait (bounded) until all of them are queued on the mutex. */
    int64_t dl = weft_now() + WT_LIVENESS_NS;
    while (weft__mutex_waiters(&m.mu) != LOCKERS && weft_now() < dl)
        wt_os_sleep_ns(WEFT_MS);
    assert_int_equal(weft__mutex_waiters(&m.mu), LOCKERS);
    /* Every worker would be stuck if lock blocked threads. */
    assert_int_equal(weft_go(mp_releaser, &m), 0);
    assert_int_equal(wt_wait_n(m.done, LOCKERS), LOCKERS);
    weft_chan_release(m.release);
    weft_chan_release(m.done);
    ST_END();
}

/* FIFO hand-off: waiters acquire in the order they queued. */
struct mf {
    weft_mutex mu;
    int order[64];
    int n;
    weft_chan *done;
};

struct mf_arg {
    struct mf *m;
    int id;
};

static void mf_locker(void *p)
{
    struct mf_arg *a = p;
    WT_CHECK_INT_EQ(weft_mutex_lock(&a->m->mu), 0);
    a->m->order[a->m->n++] = a->id;
    WT_CHECK_INT_EQ(weft_mutex_unlock(&a->m->mu), 0);
    WT_CHECK_INT_EQ(weft_chan_send(a->m->done, NULL), 0);
}

static void *mf_thread(void *p)
{
    mf_locker(p);
    return NULL;
}

static void test_mutex_serves_waiters_in_fifo_order(void **state)
{
    ST_BEGIN();
    enum { N = 24 };
    struct mf m = {.mu = WEFT_MUTEX_INIT, .done = weft_chan_make(0, N)};
    struct mf_arg args[N];
    pthread_t th[N];
    bool is_thread[N];
    for (int round = 0; round < 10; round++) {
        m.n = 0;
        assert_int_equal(weft_mutex_lock(&m.mu), 0);
        for (int i = 0; i < N; i++) {
            args[i] = (struct mf_arg){&m, i};
            is_thread[i] = (i + round) % 6 == 0;
            if (is_thread[i])
                assert_int_equal(pthread_create(&th[i], NULL, mf_thread, &args[i]), 0);
            else
                assert_int_equal(weft_go(mf_locker, &args[i]), 0);
            /* The next one is started only once this one is queued. */
            int64_t dl = weft_now() + WT_LIVENESS_NS;
            while (weft__mutex_waiters(&m.mu) != (size_t)i + 1 && weft_now() < dl)
                weft_yield();
            assert_int_equal(weft__mutex_waiters(&m.mu), i + 1);
        }
        assert_int_equal(weft_mutex_unlock(&m.mu), 0);
        assert_int_equal(wt_wait_n(m.done, N), N);
        for (int i = 0; i < N; i++)
            if (is_thread[i])
                pthread_join(th[i], NULL);
        assert_int_equal(m.n, N);
        for (int i = 0; i < N; i++)
            assert_int_equal(m.order[i], i);
    }
    weft_chan_release(m.done);
    ST_END();
}

/* No starvation: a greedy task that relocks in a tight loop, never
 * yielding between unlock and lock, cannot keep a queued task out.  A
 * running locker may take the mutex ahead of a waiter (barging), but at
 * most weft__mutex_max_passes times: then the mutex is handed over and the
 * greedy task's next lock parks, even on one worker with no preemption. */
struct ms {
    weft_mutex mu;
    atomic_int victim_got;
    atomic_int victim_started;
    long greedy_after;  /* greedy iterations after the victim queued */
    weft_chan *done;
};

static void ms_greedy(void *p)
{
    struct ms *m = p;
    long after = 0;
    for (long i = 0; i < 100000000L && !atomic_load(&m->victim_got); i++) {
        WT_CHECK_INT_EQ(weft_mutex_lock(&m->mu), 0);
        /* Now and then let the victim run while we hold it (so the test
         * means something on a single worker too: no preemption). */
        if (i % 1024 == 0)
            weft_yield();
        if (weft__mutex_waiters(&m->mu) > 0)
            after++;
        WT_CHECK_INT_EQ(weft_mutex_unlock(&m->mu), 0);
    }
    m->greedy_after = after;
    WT_CHECK(atomic_load(&m->victim_got));
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0);
}

static void ms_victim(void *p)
{
    struct ms *m = p;
    atomic_store(&m->victim_started, 1);
    WT_CHECK_INT_EQ(weft_mutex_lock(&m->mu), 0);
    atomic_store(&m->victim_got, 1);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&m->mu), 0);
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0);
}

/* Barging, counted exactly.  With one worker (the woken waiter cannot run
 * unless the barger lets it), the task that unlocks with a waiter queued
 * may take the mutex again weft__mutex_max_passes times, no more: then
 * the unlock hands it to the waiter, trylock is EBUSY, and the waiter owns
 * it when it runs, with no further unlock.  Round 0 hands over through the
 * woken waiter (it never runs before); round 1 lets it run halfway while
 * the mutex is held, so it loses, goes back to the queue, and is handed
 * the mutex from there. */
struct mb {
    weft_mutex mu;
    atomic_int got;
    weft_chan *done;
};

static void mb_waiter(void *p)
{
    struct mb *b = p;
    WT_CHECK_INT_EQ(weft_mutex_lock(&b->mu), 0);
    atomic_store(&b->got, 1);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&b->mu), 0);
    WT_CHECK_INT_EQ(weft_chan_send(b->done, NULL), 0);
}

static void mb_barge_rounds(void *p)
{
    struct mb *b = p;
    for (int round = 0; round < 2; round++) {
        atomic_store(&b->got, 0);
        WT_CHECK_INT_EQ(weft_mutex_lock(&b->mu), 0);
        WT_CHECK_INT_EQ(weft_go(mb_waiter, b), 0);
        int64_t dl = weft_now() + WT_LIVENESS_NS;
        while (weft__mutex_waiters(&b->mu) != 1 && weft_now() < dl)
            weft_yield(); /* the waiter runs, spins, queues and parks */
        WT_CHECK_INT_EQ(weft__mutex_waiters(&b->mu), 1);
        WT_CHECK_INT_EQ(weft_mutex_unlock(&b->mu), 0); /* wakes it */
        unsigned passes = 0;
        while (passes <= weft__mutex_max_passes && weft_mutex_trylock(&b->mu) == 0) {
            passes++;
            WT_CHECK_INT_EQ(weft__mutex_waiters(&b->mu), 1); /* woken or queued */
            if (round == 1 && passes == weft__mutex_max_passes / 2 + 1)
                weft_yield(); /* holding it: the waiter runs, loses, requeues */
            WT_CHECK_INT_EQ(atomic_load(&b->got), 0);
            WT_CHECK_INT_EQ(weft_mutex_unlock(&b->mu), 0);
        }
        WT_CHECK_INT_EQ(passes, weft__mutex_max_passes);
        WT_CHECK_INT_EQ(weft_mutex_trylock(&b->mu), EBUSY); /* handed over */
        WT_CHECK_INT_EQ(atomic_load(&b->got), 0);
        WT_CHECK_INT_EQ(wt_wait_n(b->done, 1), 1); /* lets the waiter run */
        WT_CHECK_INT_EQ(atomic_load(&b->got), 1);
        WT_CHECK_INT_EQ(weft__mutex_waiters(&b->mu), 0);
        WT_CHECK_INT_EQ(weft_mutex_trylock(&b->mu), 0); /* and it is free */
        WT_CHECK_INT_EQ(weft_mutex_unlock(&b->mu), 0);
    }
}

static void test_mutex_bypasses_a_waiter_a_bounded_number_of_times(void **state)
{
    (void)state;
    wt_restart_with_workers(1);
    {
        ST_BEGIN();
        struct mb b = {WEFT_MUTEX_INIT, 0, weft_chan_make(0, 1)};
        wt_run_in_task(mb_barge_rounds, &b);
        weft_chan_release(b.done);
        wt_assert_no_failures();
        ST_END();
    }
    wt_restore_default_workers();
}

/* Go's TestMutexFairness, with the passes counted: a holder that parks
 * while holding (a 100 us sleep) and relocks at once passes a waiter
 * slowly, so the count bound alone would keep the waiter out for 256 such
 * holds (26 ms each time); a waiter that loses after waiting 1 ms is
 * handed the mutex by the next unlock.  The sleeps are the workload (a
 * holder parked in the critical section), not synchronisation; a slower
 * machine only makes the passes fewer. */
struct mfair {
    weft_mutex mu;
    atomic_int stop, waiting, passes, max_passes;
    weft_chan *done;
};

static void mfair_hog(void *p)
{
    struct mfair *f = p;
    while (!atomic_load(&f->stop)) {
        WT_CHECK_INT_EQ(weft_mutex_lock(&f->mu), 0);
        if (atomic_load(&f->waiting))
            atomic_fetch_add(&f->passes, 1);
        WT_CHECK_INT_EQ(weft_sleep(100 * WEFT_US), 0);
        WT_CHECK_INT_EQ(weft_mutex_unlock(&f->mu), 0);
    }
    WT_CHECK_INT_EQ(weft_chan_send(f->done, NULL), 0);
}

static void mfair_waiter(void *p)
{
    struct mfair *f = p;
    for (int i = 0; i < 10; i++) {
        WT_CHECK_INT_EQ(weft_sleep(100 * WEFT_US), 0);
        atomic_store(&f->passes, 0);
        atomic_store(&f->waiting, 1);
        WT_CHECK_INT_EQ(weft_mutex_lock(&f->mu), 0);
        atomic_store(&f->waiting, 0);
        int n = atomic_load(&f->passes);
        if (n > atomic_load(&f->max_passes))
            atomic_store(&f->max_passes, n);
        WT_CHECK_INT_EQ(weft_mutex_unlock(&f->mu), 0);
    }
    atomic_store(&f->stop, 1);
    WT_CHECK_INT_EQ(weft_chan_send(f->done, NULL), 0);
}

static void test_mutex_waiter_starved_for_1ms_is_handed_the_mutex(void **state)
{
    ST_BEGIN();
    struct mfair f = {.mu = WEFT_MUTEX_INIT, .done = weft_chan_make(0, 2)};
    assert_int_equal(weft_go(mfair_hog, &f), 0);
    assert_int_equal(weft_go(mfair_waiter, &f), 0);
    assert_int_equal(wt_wait_n(f.done, 2), 2);
    wt_assert_no_failures();
    /* ~1 ms of 100 us holds, plus the races around it; reaching half the
     * count bound would take 13 ms of holds. */
    if (weft__mutex_max_passes >= 64)
        assert_true(atomic_load(&f.max_passes) < (int)weft__mutex_max_passes / 2);
    weft_chan_release(f.done);
    ST_END();
}

/* weft.h's inline fast paths (macros named like the functions) and the
 * functions are one mutex: either may lock and the other unlock; a macro
 * evaluates its argument once; the parenthesised name and a pointer reach
 * the function.  Under
 * WEFT_NO_INLINE (test_sync_calls) the same lines call the functions. */
static void test_mutex_inline_fast_paths_and_functions_are_interchangeable(void **state)
{
    ST_BEGIN();
    int (*lock_fn)(weft_mutex *) = weft_mutex_lock;
    int (*unlock_fn)(weft_mutex *) = weft_mutex_unlock;
    weft_mutex mus[2] = {WEFT_MUTEX_INIT, WEFT_MUTEX_INIT};
    int i = 0;
    assert_int_equal(weft_mutex_lock(&mus[i++]), 0); /* argument once */
    assert_int_equal(i, 1);
    assert_int_equal(weft_mutex_trylock(&mus[0]), EBUSY);
    assert_int_equal(weft_mutex_trylock(&mus[1]), 0);
    assert_int_equal((weft_mutex_unlock)(&mus[0]), 0);
    assert_int_equal(weft_mutex_unlock(&mus[--i + 1]), 0);
    assert_int_equal(i, 0);
    assert_int_equal(lock_fn(&mus[0]), 0);
    assert_int_equal(weft_mutex_unlock(&mus[0]), 0);
    assert_int_equal(weft_mutex_unlock(&mus[0]), EPERM);
    assert_int_equal(unlock_fn(&mus[0]), EPERM);
    assert_int_equal(weft_mutex_lock(NULL), EINVAL);
    assert_int_equal(weft_mutex_unlock(NULL), EINVAL);
    ST_END();
}

static void test_mutex_does_not_starve_a_waiter(void **state)
{
    ST_BEGIN();
    for (int round = 0; round < 20; round++) {
        struct ms m = {WEFT_MUTEX_INIT, 0, 0, 0, weft_chan_make(0, 2)};
        assert_int_equal(weft_go(ms_greedy, &m), 0);
        assert_int_equal(weft_go(ms_victim, &m), 0);
        assert_int_equal(wt_wait_n(m.done, 2), 2);
        /* Once the victim waits, the greedy task holds the mutex at most
         * once (when the victim queued) plus once per allowed pass. */
        assert_true(m.greedy_after <= (long)weft__mutex_max_passes + 1);
        weft_chan_release(m.done);
        wt_assert_no_failures();
    }
    ST_END();
}

/* ================================================================== */
/* Once                                                                */
/* ================================================================== */

struct once_state {
    weft_once once;
    atomic_int runs;
    atomic_int finished; /* set at the end of fn */
    atomic_int callers_ok;
    weft_chan *done;
};

static void once_fn(void *p)
{
    struct once_state *s = p;
    atomic_fetch_add(&s->runs, 1);
    for (int i = 0; i < 50; i++)
        weft_yield(); /* let the others pile up */
    atomic_store(&s->finished, 1);
}

static void once_caller(void *p)
{
    struct once_state *s = p;
    WT_CHECK_INT_EQ(weft_once_do(&s->once, once_fn, s), 0);
    /* fn has returned before any caller does. */
    WT_CHECK_INT_EQ(atomic_load(&s->finished), 1);
    atomic_fetch_add(&s->callers_ok, 1);
    WT_CHECK_INT_EQ(weft_chan_send(s->done, NULL), 0);
}

static void *once_thread(void *p)
{
    once_caller(p);
    return NULL;
}

static void test_once_runs_exactly_once_under_contention(void **state)
{
    ST_BEGIN();
    enum { TASKS = 30, THREADS = 3 };
    for (int round = 0; round < 30; round++) {
        struct once_state s = {WEFT_ONCE_INIT, 0, 0, 0, weft_chan_make(0, TASKS + THREADS)};
        pthread_t th[THREADS];
        for (int i = 0; i < THREADS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, once_thread, &s), 0);
        for (int i = 0; i < TASKS; i++)
            assert_int_equal(weft_go(once_caller, &s), 0);
        assert_int_equal(wt_wait_n(s.done, TASKS + THREADS), TASKS + THREADS);
        for (int i = 0; i < THREADS; i++)
            pthread_join(th[i], NULL);
        assert_int_equal(atomic_load(&s.runs), 1);
        assert_int_equal(atomic_load(&s.callers_ok), TASKS + THREADS);
        /* Later calls: nothing. */
        assert_int_equal(weft_once_do(&s.once, once_fn, &s), 0);
        assert_int_equal(atomic_load(&s.runs), 1);
        weft_chan_release(s.done);
        wt_assert_no_failures();
    }
    ST_END();
}

static weft_once rec_once = WEFT_ONCE_INIT;
static int rec_inner = -1;
static void rec_fn(void *p)
{
    (void)p;
    rec_inner = weft_once_do(&rec_once, rec_fn, NULL);
}
static void count_fn(void *p) { (*(int *)p)++; }

static void once_errors_body(void *arg)
{
    (void)arg;
    weft_once o = WEFT_ONCE_INIT;
    int n = 0;
    WT_CHECK_INT_EQ(weft_once_do(NULL, count_fn, &n), EINVAL);
    WT_CHECK_INT_EQ(weft_once_do(&o, NULL, &n), EINVAL);
    WT_CHECK_INT_EQ(weft_once_do(&o, count_fn, &n), 0);
    WT_CHECK_INT_EQ(weft_once_do(&o, count_fn, &n), 0);
    WT_CHECK_INT_EQ(n, 1);
    weft_once o2;
    memset(&o2, 0, sizeof o2);
    WT_CHECK_INT_EQ(weft_once_do(&o2, count_fn, &n), 0);
    WT_CHECK_INT_EQ(n, 2);
}

static void test_once_errors_and_recursion(void **state)
{
    ST_BEGIN();
    run_both(once_errors_body, NULL);
    /* Called again from inside fn: EDEADLK instead of Go's deadlock. */
    assert_int_equal(weft_once_do(&rec_once, rec_fn, NULL), 0);
    assert_int_equal(rec_inner, EDEADLK);
    ST_END();
}

/* ================================================================== */
/* errgroup                                                            */
/* ================================================================== */

static int key_a;

struct gq {
    atomic_int ran;
    atomic_int running, max_running;
    weft_ctx *seen;       /* a retained reference to the group's ctx */
    weft_chan *gate;      /* limit test: tasks wait here */
    int fail_at;          /* task index that fails (-1: none) */
};

struct gq_arg {
    struct gq *q;
    int i;
};

static int g_ok(weft_ctx *ctx, void *p)
{
    struct gq *q = p;
    WT_CHECK(ctx != NULL);
    WT_CHECK(weft_ctx_value(ctx, &key_a) == &key_a); /* a child of the parent */
    WT_CHECK_INT_EQ(weft_ctx_err(ctx), 0);
    atomic_fetch_add(&q->ran, 1);
    return 0;
}

static void group_ok_body(void *arg)
{
    (void)arg;
    struct gq q = {0};
    weft_ctx *parent = weft_ctx_with_value(weft_ctx_background(), &key_a, &key_a);
    weft_group g;
    WT_CHECK_INT_EQ(weft_group_init(&g, parent), 0);
    for (int i = 0; i < 50; i++)
        WT_CHECK_INT_EQ(weft_group_go(&g, g_ok, &q), 0);
    WT_CHECK_INT_EQ(weft_group_wait(&g), 0);
    WT_CHECK_INT_EQ(atomic_load(&q.ran), 50);
    /* Spent: go again is EINVAL until re-initialised. */
    WT_CHECK_INT_EQ(weft_group_go(&g, g_ok, &q), EINVAL);
    WT_CHECK_INT_EQ(weft_group_wait(&g), 0);
    WT_CHECK_INT_EQ(weft_group_init(&g, parent), 0);
    WT_CHECK_INT_EQ(weft_group_go(&g, g_ok, &q), 0);
    WT_CHECK_INT_EQ(weft_group_wait(&g), 0);
    WT_CHECK_INT_EQ(atomic_load(&q.ran), 51);
    /* An empty group. */
    WT_CHECK_INT_EQ(weft_group_init(&g, parent), 0);
    WT_CHECK_INT_EQ(weft_group_wait(&g), 0);
    weft_ctx_release(parent);
}

static void test_group_runs_every_task_with_a_child_context(void **state)
{
    ST_BEGIN();
    run_both(group_ok_body, NULL);
    ST_END();
}

static int g_fail_or_wait(weft_ctx *ctx, void *p)
{
    struct gq_arg *a = p;
    struct gq *q = a->q;
    if (a->i == 0) {
        /* Keep a reference to look at the context after wait. */
        q->seen = weft_ctx_retain(ctx);
    }
    if (a->i == q->fail_at)
        return 42 + a->i;
    /* The others block until the group is canceled by the failure. */
    int rc = weft_chan_recv(weft_ctx_done(ctx), NULL);
    WT_CHECK_INT_EQ(rc, EPIPE);
    WT_CHECK_INT_EQ(weft_ctx_err(ctx), ECANCELED);
    return -1; /* a later error: ignored */
}

static void group_err_body(void *arg)
{
    (void)arg;
    enum { N = 20 };
    for (int fail = 0; fail < N; fail += 7) {
        struct gq q = {.fail_at = fail};
        struct gq_arg args[N];
        weft_ctx *parent = weft_ctx_with_cancel(weft_ctx_background());
        weft_group g;
        WT_CHECK_INT_EQ(weft_group_init(&g, parent), 0);
        for (int i = 0; i < N; i++) {
            args[i] = (struct gq_arg){&q, i};
            WT_CHECK_INT_EQ(weft_group_go(&g, g_fail_or_wait, &args[i]), 0);
        }
        WT_CHECK_INT_EQ(weft_group_wait(&g), 42 + fail); /* the first error */
        WT_CHECK(q.seen != NULL);
        WT_CHECK_INT_EQ(weft_ctx_err(q.seen), ECANCELED);
        WT_CHECK_INT_EQ(weft_ctx_err(parent), 0); /* the parent is untouched */
        weft_ctx_release(q.seen);
        weft_ctx_release(parent);
    }
}

static void test_group_first_error_cancels_the_group_and_is_returned(void **state)
{
    ST_BEGIN();
    run_both(group_err_body, NULL);
    ST_END();
}

static int g_wait_parent(weft_ctx *ctx, void *p)
{
    (void)p;
    return weft_chan_recv(weft_ctx_done(ctx), NULL) == EPIPE ? 0 : 1;
}

static void test_group_context_is_canceled_with_its_parent(void **state)
{
    ST_BEGIN();
    weft_ctx *parent = weft_ctx_with_cancel(weft_ctx_background());
    weft_group g;
    assert_int_equal(weft_group_init(&g, parent), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(weft_group_go(&g, g_wait_parent, NULL), 0);
    weft_ctx_cancel(parent);
    assert_int_equal(weft_group_wait(&g), 0);
    weft_ctx_release(parent);
    ST_END();
}

static int g_count(weft_ctx *ctx, void *p)
{
    (void)ctx;
    struct gq *q = p;
    int now = atomic_fetch_add(&q->running, 1) + 1;
    int mx = atomic_load(&q->max_running);
    while (now > mx && !atomic_compare_exchange_weak(&q->max_running, &mx, now)) {
    }
    for (int i = 0; i < 20; i++)
        weft_yield();
    atomic_fetch_sub(&q->running, 1);
    atomic_fetch_add(&q->ran, 1);
    return 0;
}

static void group_limit_body(void *arg)
{
    (void)arg;
    for (int limit = 1; limit <= 4; limit++) {
        struct gq q = {0};
        weft_group g;
        WT_CHECK_INT_EQ(weft_group_init(&g, weft_ctx_background()), 0);
        WT_CHECK_INT_EQ(weft_group_set_limit(&g, limit), 0);
        for (int i = 0; i < 60; i++)
            WT_CHECK_INT_EQ(weft_group_go(&g, g_count, &q), 0);
        WT_CHECK_INT_EQ(weft_group_wait(&g), 0);
        WT_CHECK_INT_EQ(atomic_load(&q.ran), 60);
        WT_CHECK_INT_LE(atomic_load(&q.max_running), limit);
        WT_CHECK_INT_GE(atomic_load(&q.max_running), 1);
    }
}

static void test_group_limit_bounds_running_tasks(void **state)
{
    ST_BEGIN();
    run_both(group_limit_body, NULL);
    ST_END();
}

/* weft_group_go blocks while the limit is reached. */
struct gb {
    weft_group g;
    weft_chan *gate;
    atomic_int second_go_returned;
    weft_chan *done;
};

static int g_gated(weft_ctx *ctx, void *p)
{
    (void)ctx;
    struct gb *b = p;
    WT_CHECK_INT_EQ(weft_chan_recv(b->gate, NULL), 0);
    return 0;
}

static void gb_spawner(void *p)
{
    struct gb *b = p;
    WT_CHECK_INT_EQ(weft_group_go(&b->g, g_gated, b), 0);
    atomic_store(&b->second_go_returned, 1);
    WT_CHECK_INT_EQ(weft_chan_send(b->done, NULL), 0);
}

static void test_group_go_blocks_while_the_limit_is_reached(void **state)
{
    ST_BEGIN();
    struct gb b = {.gate = weft_chan_make(0, 0), .done = weft_chan_make(0, 1)};
    assert_int_equal(weft_group_init(&b.g, weft_ctx_background()), 0);
    assert_int_equal(weft_group_set_limit(&b.g, 1), 0);
    assert_int_equal(weft_group_go(&b.g, g_gated, &b), 0); /* holds the one slot */
    assert_int_equal(weft_group_set_limit(&b.g, 2), EINVAL); /* tasks running */
    assert_int_equal(weft_go(gb_spawner, &b), 0);
    wt_settle();
    assert_int_equal(atomic_load(&b.second_go_returned), 0); /* still blocked */
    assert_int_equal(weft_chan_send(b.gate, NULL), 0);         /* first task ends */
    assert_int_equal(wt_wait_n(b.done, 1), 1);
    assert_int_equal(atomic_load(&b.second_go_returned), 1);
    assert_int_equal(weft_chan_send(b.gate, NULL), 0);
    assert_int_equal(weft_group_wait(&b.g), 0);
    weft_chan_release(b.gate);
    weft_chan_release(b.done);
    ST_END();
}

/* Several goroutines may Wait on one group (Go allows it): each gets the
 * first error; the context is released once. */
struct gw {
    weft_group *g;
    weft_chan *out;
};

static void gw_waiter(void *p)
{
    struct gw *w = p;
    int rc = weft_group_wait(w->g);
    WT_CHECK_INT_EQ(weft_chan_send(w->out, &rc), 0);
}

static int g_slow_fail(weft_ctx *ctx, void *p)
{
    (void)ctx;
    for (int i = 0; i < 100; i++)
        weft_yield();
    return (int)(intptr_t)p;
}

static void test_group_wait_from_several_waiters(void **state)
{
    ST_BEGIN();
    for (int round = 0; round < 50; round++) {
        weft_group g;
        struct gw w = {&g, weft_chan_make(sizeof(int), 4)};
        assert_int_equal(weft_group_init(&g, weft_ctx_background()), 0);
        assert_int_equal(weft_group_go(&g, g_slow_fail, (void *)(intptr_t)0), 0);
        assert_int_equal(weft_group_go(&g, g_slow_fail, (void *)(intptr_t)77), 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(weft_go(gw_waiter, &w), 0);
        assert_int_equal(weft_group_wait(&g), 77);
        for (int i = 0; i < 3; i++) {
            int rc = -1;
            assert_int_equal(wt_recv_within(w.out, &rc, WT_LIVENESS_NS), 0);
            assert_int_equal(rc, 77);
        }
        weft_chan_release(w.out);
    }
    ST_END();
}

static int g_ret(weft_ctx *ctx, void *p)
{
    (void)ctx;
    return (int)(intptr_t)p;
}

static void test_group_bad_arguments_and_zero_value(void **state)
{
    ST_BEGIN();
    weft_group g;
    assert_int_equal(weft_group_init(NULL, weft_ctx_background()), EINVAL);
    assert_int_equal(weft_group_init(&g, NULL), EINVAL);
    assert_int_equal(weft_group_init(&g, weft_ctx_background()), 0);
    assert_int_equal(weft_group_set_limit(NULL, 1), EINVAL);
    assert_int_equal(weft_group_set_limit(&g, 0), EINVAL);
    assert_int_equal(weft_group_set_limit(&g, 3), 0);
    assert_int_equal(weft_group_set_limit(&g, -1), 0); /* no limit again */
    assert_int_equal(weft_group_go(NULL, g_ret, NULL), EINVAL);
    assert_int_equal(weft_group_go(&g, NULL, NULL), EINVAL);
    assert_int_equal(weft_group_wait(NULL), EINVAL);
    assert_int_equal(weft_group_wait(&g), 0);

    /* Zero value: background ctx for tasks, errors recorded. */
    weft_group z = WEFT_GROUP_INIT;
    for (int i = 0; i < 10; i++)
        assert_int_equal(weft_group_go(&z, g_ret, (void *)(intptr_t)(i == 3 ? 9 : 0)), 0);
    assert_int_equal(weft_group_wait(&z), 9);
    /* Still usable: like Go's zero Group, it keeps its first error. */
    assert_int_equal(weft_group_go(&z, g_ret, (void *)(intptr_t)5), 0);
    assert_int_equal(weft_group_wait(&z), 9);
    ST_END();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wg_waits_for_every_done),
        cmocka_unit_test(test_wg_negative_counter_is_einval_and_changes_nothing),
        cmocka_unit_test(test_wg_add_past_the_top_is_undone_under_races),
        cmocka_unit_test(test_wg_from_plain_threads_and_tasks),
        cmocka_unit_test(test_wg_reuse_after_wait_returns),
        cmocka_unit_test(test_wg_can_be_freed_as_soon_as_wait_returns),
        cmocka_unit_test(test_wg_wait_ctx_gives_up_when_the_context_is_done),
        cmocka_unit_test(test_wg_wait_ctx_racing_done_and_cancel),
        cmocka_unit_test(test_mutex_lock_trylock_unlock_and_errors),
        cmocka_unit_test(test_mutex_excludes_under_contention),
        cmocka_unit_test(test_mutex_lock_parks_the_task_not_the_worker),
        cmocka_unit_test(test_mutex_serves_waiters_in_fifo_order),
        cmocka_unit_test(test_mutex_does_not_starve_a_waiter),
        cmocka_unit_test(test_mutex_bypasses_a_waiter_a_bounded_number_of_times),
        cmocka_unit_test(test_mutex_waiter_starved_for_1ms_is_handed_the_mutex),
        cmocka_unit_test(test_mutex_inline_fast_paths_and_functions_are_interchangeable),
        cmocka_unit_test(test_once_runs_exactly_once_under_contention),
        cmocka_unit_test(test_once_errors_and_recursion),
        cmocka_unit_test(test_group_runs_every_task_with_a_child_context),
        cmocka_unit_test(test_group_first_error_cancels_the_group_and_is_returned),
        cmocka_unit_test(test_group_context_is_canceled_with_its_parent),
        cmocka_unit_test(test_group_limit_bounds_running_tasks),
        cmocka_unit_test(test_group_go_blocks_while_the_limit_is_reached),
        cmocka_unit_test(test_group_wait_from_several_waiters),
        cmocka_unit_test(test_group_bad_arguments_and_zero_value),
    };
    return cmocka_run_group_tests(tests, wt_group_setup, wt_group_teardown);
}
