/*
 * stress_sync.c — the "mutex", "wg", "once" and "group" scenarios.
 *
 * mutex: tasks (and sometimes plain threads) lock random mutexes of a
 *   small set, with lock or trylock, and inside the critical section check
 *   that nobody else is in it (a volatile owner field), then increment a
 *   plain, non-atomic counter with a yield or sleep in the middle of the
 *   read-modify-write.  Invariants: owner is free on entry and still ours
 *   on exit; every counter equals the number of acquisitions of its mutex;
 *   trylock of a held mutex is EBUSY; unlock of an unlocked one is EPERM.
 * wg: generations of work on one WaitGroup: Add(n) split in random chunks,
 *   workers that Add for nested children before they are Done, several
 *   waiters (tasks and threads), one with wait_ctx and a short timeout.
 *   Invariants: a Wait returns only when every added item is done; a
 *   timed-out wait_ctx returns the context's error; Add below zero is
 *   EINVAL and changes nothing.
 * once: many callers (tasks and threads) of one weft_once at once; fn runs
 *   exactly once and every caller returns after fn returned.
 * group: an errgroup with or without SetLimit; tasks return 0, one
 *   designated first error, or a later error only after seeing the group's
 *   context canceled.  Invariants: Wait returns the designated first error
 *   (0 if none); at most limit tasks run at once; every Go'd task runs;
 *   after the first error the context is canceled with ECANCELED.
 */
#include "stress.h"

/* ---- mutex ------------------------------------------------------------------ */

enum { MX_MAX = 4 };

struct mx_round {
    struct scenario *sc;
    int M;
    weft_mutex mu[MX_MAX];
    volatile uint64_t owner[MX_MAX];   /* 0 or the holder's id */
    uint64_t counter[MX_MAX];          /* plain: protected by mu */
    atomic_uint_fast64_t acquired[MX_MAX];
};

struct mx_worker {
    struct mx_round *rd;
    uint64_t id;
    int iters;
    uint64_t rseed;
};

static void mx_worker_fn(void *arg)
{
    struct mx_worker *w = arg;
    struct mx_round *rd = w->rd;
    struct scenario *sc = rd->sc;
    struct rng r = {w->rseed};
    for (int i = 0; i < w->iters && !stress_stopping(); i++) {
        int k = (int)rng_below(&r, (uint64_t)rd->M);
        weft_mutex *m = &rd->mu[k];
        if (rng_chance(&r, 1, 3)) {
            int rc;
            int spins = 0;
            while ((rc = weft_mutex_trylock(m)) == EBUSY && spins++ < 50)
                weft_yield();
            if (rc == EBUSY)
                rc = weft_mutex_lock(m);
            CHECK(sc, rc == 0, "trylock/lock returned %d", rc);
        } else {
            int rc = weft_mutex_lock(m);
            CHECK(sc, rc == 0, "lock returned %d", rc);
        }
        CHECK(sc, rd->owner[k] == 0, "mutex %d: entered while %" PRIu64 " holds it", k,
              (uint64_t)rd->owner[k]);
        rd->owner[k] = w->id;
        uint64_t v = rd->counter[k];
        switch (rng_below(&r, 8)) {
        case 0:
            weft_yield();
            break;
        case 1:
            weft_sleep(rng_range(&r, 0, 50) * WEFT_US);
            break;
        case 2:
            CHECK(sc, weft_mutex_trylock(m) == EBUSY, "trylock of a held mutex is not EBUSY");
            break;
        default:
            break;
        }
        rd->counter[k] = v + 1;
        CHECK(sc, rd->owner[k] == w->id, "mutex %d: owner changed to %" PRIu64
              " inside the critical section", k, (uint64_t)rd->owner[k]);
        rd->owner[k] = 0;
        atomic_fetch_add_explicit(&rd->acquired[k], 1, memory_order_relaxed);
        CHECK(sc, weft_mutex_unlock(m) == 0, "unlock failed");
        OPS(sc, 1);
        if (rng_chance(&r, 1, 16))
            stress_jitter(&r, 30);
    }
}

void sc_mutex_round(struct scenario *sc, struct rng *r)
{
    struct mx_round *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    rd->sc = sc;
    rd->M = (int)rng_range(r, 1, MX_MAX);
    for (int k = 0; k < rd->M; k++)
        rd->mu[k] = (weft_mutex)WEFT_MUTEX_INIT;
    /* Misuse: unlock of an unlocked mutex. */
    CHECK(sc, weft_mutex_unlock(&rd->mu[0]) == EPERM, "unlock of an unlocked mutex is not EPERM");
    int n = (int)rng_range(r, 2, SCALE(16));
    int iters = (int)rng_range(r, 1, SCALE(500));
    struct mx_worker *ws = calloc((size_t)n, sizeof *ws);
    if (!ws)
        abort();
    struct crew crew;
    crew_init(&crew, n);
    int threads = rng_chance(r, 1, 4) ? (int)rng_range(r, 1, 2) : 0;
    PHASE(sc, "mutex: run");
    for (int i = 0; i < n; i++) {
        ws[i] = (struct mx_worker){rd, (uint64_t)i + 1, (int)rng_range(r, 1, iters), rng_next(r)};
        if (crew_go(&crew, "mutex.worker", mx_worker_fn, &ws[i], threads > 0 && rng_chance(r, 1, 3)))
            threads--;
    }
    crew_wait(&crew);
    PHASE(sc, "mutex: verify");
    for (int k = 0; k < rd->M; k++) {
        CHECK(sc, rd->counter[k] == atomic_load(&rd->acquired[k]),
              "mutex %d: counter %" PRIu64 ", %" PRIu64 " acquisitions (lost updates)", k,
              rd->counter[k], (uint64_t)atomic_load(&rd->acquired[k]));
        CHECK(sc, weft_mutex_trylock(&rd->mu[k]) == 0, "free mutex: trylock failed");
        CHECK(sc, weft_mutex_unlock(&rd->mu[k]) == 0, "unlock failed");
    }
    free(ws);
    free(rd);
}

/* ---- wg ---------------------------------------------------------------------- */

struct wg_round {
    struct scenario *sc;
    weft_wg wg;
    atomic_int_fast64_t added, done;
    uint64_t rseed;
};

struct wg_item {
    struct wg_round *rd;
    uint64_t rseed;
    int depth;
};

static void wg_work(void *arg)
{
    struct wg_item it = *(struct wg_item *)arg; /* a go_copy'd item */
    struct wg_round *rd = it.rd;
    struct scenario *sc = rd->sc;
    struct rng r = {it.rseed};
    stress_jitter(&r, 200);
    /* Nested work: Add before our own Done, as Go requires. */
    if (it.depth < 3 && rng_chance(&r, 1, 4)) {
        int k = (int)rng_range(&r, 1, 3);
        atomic_fetch_add(&rd->added, k);
        CHECK(sc, weft_wg_add(&rd->wg, k) == 0, "nested add failed");
        for (int i = 0; i < k; i++) {
            struct wg_item child = {rd, rng_next(&r), it.depth + 1};
            int rc = weft_go_copy(wg_work, &child, sizeof child);
            CHECK(sc, rc == 0, "spawn failed: %d", rc);
            if (rc)
                wg_work(&child);
        }
    }
    atomic_fetch_add(&rd->done, 1);
    OPS(sc, 1);
    CHECK(sc, weft_wg_done(&rd->wg) == 0, "done failed");
}

struct wg_waiter {
    struct wg_round *rd;
    int kind;
    int64_t timeout;
};

static void wg_waiter_fn(void *arg)
{
    struct wg_waiter *w = arg;
    struct wg_round *rd = w->rd;
    struct scenario *sc = rd->sc;
    if (w->kind == 1) {
        weft_ctx *ctx = weft_ctx_with_timeout(weft_ctx_background(), w->timeout);
        int rc = ctx ? weft_wg_wait_ctx(&rd->wg, ctx) : ENOMEM;
        if (rc == 0) {
            CHECK(sc, atomic_load(&rd->done) == atomic_load(&rd->added),
                  "wait_ctx returned with %" PRIdFAST64 " of %" PRIdFAST64 " items done",
                  atomic_load(&rd->done), atomic_load(&rd->added));
        } else {
            CHECK(sc, rc == ETIMEDOUT && weft_ctx_err(ctx) == ETIMEDOUT,
                  "wait_ctx returned %d, ctx err %d", rc, ctx ? weft_ctx_err(ctx) : -1);
        }
        weft_ctx_release(ctx);
        OPS(sc, 1);
        return;
    }
    int rc = weft_wg_wait(&rd->wg);
    CHECK(sc, rc == 0, "wait returned %d", rc);
    CHECK(sc, atomic_load(&rd->done) == atomic_load(&rd->added),
          "wait returned with %" PRIdFAST64 " of %" PRIdFAST64 " items done",
          atomic_load(&rd->done), atomic_load(&rd->added));
    OPS(sc, 1);
}

void sc_wg_round(struct scenario *sc, struct rng *r)
{
    struct wg_round *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    rd->sc = sc;
    rd->wg = (weft_wg)WEFT_WG_INIT;
    /* Misuse: below zero is EINVAL and changes nothing; wait on zero returns. */
    CHECK(sc, weft_wg_add(&rd->wg, -1) == EINVAL, "add(-1) on zero is not EINVAL");
    CHECK(sc, weft_wg_done(&rd->wg) == EINVAL, "done on zero is not EINVAL");
    CHECK(sc, weft_wg_wait(&rd->wg) == 0, "wait on zero failed");
    CHECK(sc, weft_wg_add(&rd->wg, 2) == 0 && weft_wg_add(&rd->wg, -3) == EINVAL &&
                  weft_wg_add(&rd->wg, -2) == 0,
          "add below zero changed the counter");
    int gens = (int)rng_range(r, 1, 5);
    for (int g = 0; g < gens; g++) {
        int n = (int)rng_range(r, 0, SCALE(60));
        int nw = (int)rng_range(r, 1, 4);
        struct wg_waiter ws[4];
        struct crew waiters;
        crew_init(&waiters, nw);
        /* Add in chunks, some before the waiters start and some after (at
         * least one before: a waiter that found the counter at zero would
         * race the next add). */
        int early = n ? (int)rng_range(r, 1, n) : 0;
        atomic_fetch_add(&rd->added, early);
        CHECK(sc, weft_wg_add(&rd->wg, early) == 0, "add failed");
        for (int i = 0; i < nw; i++) {
            ws[i] = (struct wg_waiter){rd, rng_chance(r, 1, 4) ? 1 : 0,
                                       rng_range(r, 0, 2000) * WEFT_US};
            crew_go(&waiters, "wg.waiter", wg_waiter_fn, &ws[i], rng_chance(r, 1, 5));
        }
        int late = n - early;
        atomic_fetch_add(&rd->added, late);
        CHECK(sc, weft_wg_add(&rd->wg, late) == 0, "add failed");
        PHASE(sc, "wg: work");
        for (int i = 0; i < n; i++) {
            struct wg_item it = {rd, rng_next(r), 0};
            int rc = weft_go_copy(wg_work, &it, sizeof it);
            CHECK(sc, rc == 0, "spawn failed: %d", rc);
            if (rc)
                wg_work(&it);
        }
        PHASE(sc, "wg: wait");
        CHECK(sc, weft_wg_wait(&rd->wg) == 0, "driver wait failed");
        CHECK(sc, atomic_load(&rd->done) == atomic_load(&rd->added),
              "wait returned with %" PRIdFAST64 " of %" PRIdFAST64 " items done",
              atomic_load(&rd->done), atomic_load(&rd->added));
        crew_wait(&waiters);
    }
    free(rd);
}

/* ---- once --------------------------------------------------------------------- */

struct once_round {
    struct scenario *sc;
    weft_once once;
    atomic_int runs;
    atomic_int finished;       /* fn returned */
    int64_t hold_us;
};

static void once_fn(void *arg)
{
    struct once_round *rd = arg;
    int prev = atomic_fetch_add(&rd->runs, 1);
    CHECK(rd->sc, prev == 0, "once fn ran %d times", prev + 1);
    if (rd->hold_us)
        weft_sleep(rd->hold_us * WEFT_US); /* others pile up behind it */
    else
        weft_yield();
    CHECK(rd->sc, weft_once_do(&rd->once, once_fn, rd) == EDEADLK,
          "recursive once_do is not EDEADLK");
    atomic_store(&rd->finished, 1);
}

static void once_caller(void *arg)
{
    struct once_round *rd = arg;
    int rc = weft_once_do(&rd->once, once_fn, rd);
    CHECK(rd->sc, rc == 0, "once_do returned %d%s", rc,
          weft_self() ? "" : " (on a plain thread)");
    CHECK(rd->sc, atomic_load(&rd->finished) == 1, "once_do returned before fn finished");
    CHECK(rd->sc, atomic_load(&rd->runs) == 1, "fn ran %d times", atomic_load(&rd->runs));
    OPS(rd->sc, 1);
}

void sc_once_round(struct scenario *sc, struct rng *r)
{
    struct once_round *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    rd->sc = sc;
    rd->once = (weft_once)WEFT_ONCE_INIT;
    rd->hold_us = rng_chance(r, 1, 2) ? rng_range(r, 0, 500) : 0;
    CHECK(sc, weft_once_do(NULL, once_fn, rd) == EINVAL, "once_do(NULL) is not EINVAL");
    int n = (int)rng_range(r, 1, SCALE(24));
    struct crew crew;
    crew_init(&crew, n);
    int threads = rng_chance(r, 1, 4) ? 1 : 0;
    for (int i = 0; i < n; i++)
        if (crew_go(&crew, "once.caller", once_caller, rd, threads > 0 && rng_chance(r, 1, 3)))
            threads--;
    crew_wait(&crew);
    CHECK(sc, atomic_load(&rd->runs) == 1, "fn ran %d times", atomic_load(&rd->runs));
    free(rd);
}

/* ---- group -------------------------------------------------------------------- */


enum { G_ZERO, G_FIRST, G_FOLLOW };

struct gr_round {
    struct scenario *sc;
    int limit;                 /* 0: none */
    atomic_int running, max_running, ran;
    int first_err;
};

struct gr_task {
    struct gr_round *rd;
    int role;
    uint64_t rseed;
};

static int gr_fn(weft_ctx *ctx, void *arg)
{
    struct gr_task *t = arg;
    struct gr_round *rd = t->rd;
    struct scenario *sc = rd->sc;
    struct rng r = {t->rseed};
    int now = atomic_fetch_add(&rd->running, 1) + 1;
    int m = atomic_load(&rd->max_running);
    while (now > m && !atomic_compare_exchange_weak(&rd->max_running, &m, now))
        ;
    if (rd->limit)
        CHECK(sc, now <= rd->limit, "%d group tasks running, limit %d", now, rd->limit);
    CHECK(sc, ctx != NULL, "group task got no context");
    atomic_fetch_add(&rd->ran, 1);
    stress_jitter(&r, 300);
    int ret = 0;
    if (t->role == G_FIRST) {
        ret = rd->first_err;
    } else if (t->role == G_FOLLOW) {
        /* Return an error only once the first one canceled the group. */
        int rc = weft_chan_recv(weft_ctx_done(ctx), NULL);
        CHECK(sc, rc == EPIPE, "recv on the group's done returned %d", rc);
        CHECK(sc, weft_ctx_err(ctx) == ECANCELED, "group ctx err %d after the first error",
              weft_ctx_err(ctx));
        ret = rd->first_err + 1 + (int)rng_below(&r, 5);
    }
    atomic_fetch_sub(&rd->running, 1);
    OPS(sc, 1);
    return ret;
}

void sc_group_round(struct scenario *sc, struct rng *r)
{
    struct gr_round *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    rd->sc = sc;
    weft_group g;
    weft_ctx *parent = rng_chance(r, 1, 2) ? weft_ctx_background() : weft_ctx_with_cancel(weft_ctx_background());
    int rc = weft_group_init(&g, parent);
    CHECK(sc, rc == 0, "group_init returned %d", rc);
    if (rc) {
        free(rd);
        return;
    }
    CHECK(sc, weft_group_set_limit(&g, 0) == EINVAL, "set_limit(0) is not EINVAL");
    if (rng_chance(r, 1, 2)) {
        rd->limit = (int)rng_range(r, 1, 6);
        CHECK(sc, weft_group_set_limit(&g, rd->limit) == 0, "set_limit failed");
    }
    int n = (int)rng_range(r, 1, SCALE(40));
    bool with_err = rng_chance(r, 2, 3);
    int first_at = with_err ? (int)rng_below(r, (uint64_t)n) : n;
    rd->first_err = 1000 + (int)rng_below(r, 1000);
    struct gr_task *ts = calloc((size_t)n, sizeof *ts);
    if (!ts)
        abort();
    PHASE(sc, "group: go");
    for (int i = 0; i < n; i++) {
        int role = i < first_at ? G_ZERO : i == first_at ? G_FIRST
                                                         : rng_chance(r, 1, 2) ? G_FOLLOW : G_ZERO;
        ts[i] = (struct gr_task){rd, role, rng_next(r)};
        rc = weft_group_go(&g, gr_fn, &ts[i]);
        CHECK(sc, rc == 0, "group_go returned %d", rc);
    }
    if (rd->limit && rng_chance(r, 1, 2))
        CHECK(sc, weft_group_set_limit(&g, 2) == EINVAL || atomic_load(&rd->running) == 0,
              "set_limit with tasks running is not EINVAL");
    PHASE(sc, "group: wait");
    rc = weft_group_wait(&g);
    CHECK(sc, rc == (with_err ? rd->first_err : 0), "group_wait returned %d, expected %d", rc,
          with_err ? rd->first_err : 0);
    CHECK(sc, atomic_load(&rd->ran) == n, "%d of %d group tasks ran", atomic_load(&rd->ran), n);
    CHECK(sc, atomic_load(&rd->running) == 0, "group tasks still running after wait");
    if (rd->limit)
        CHECK(sc, atomic_load(&rd->max_running) <= rd->limit, "max %d running, limit %d",
              atomic_load(&rd->max_running), rd->limit);
    CHECK(sc, weft_group_go(&g, gr_fn, &ts[0]) == EINVAL, "group_go after wait is not EINVAL");
    CHECK(sc, weft_ctx_err(parent) == 0, "the group canceled its parent");
    weft_ctx_release(parent);
    free(ts);
    free(rd);
}

