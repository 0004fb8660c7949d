/*
 * stress_ctx.c — the "ctx" scenario.
 *
 * A round builds a random context tree (with_cancel, with_deadline — some
 * already past —, with_timeout, with_value) and keeps a model of it: each
 * node's parent, effective deadline, values, and a flag set just before
 * anyone cancels it.  Waiters block on random nodes in every way there is
 * (done channel, recv_ctx, send_ctx, sleep_ctx, select on done, wg_wait_ctx),
 * after_func callbacks are registered, then a few cancellers cancel random
 * nodes while a churn task creates and releases short-lived children and a
 * racer retains and releases borrowed references.  The round then tests
 * "the last release cancels" (also racing a cancel of the parent), cancels
 * the root and releases everything in random order.
 *
 * Invariants: deadline = min(own, parent's); values resolve to the nearest
 * binding; children of a done parent are born done; when weft_ctx_cancel
 * returns, the node and every descendant are done (err set, done channel
 * closed); a node is never done without cause (ECANCELED needs a cancelled
 * ancestor-or-self, ETIMEDOUT needs its deadline passed); waiters wake
 * with the context's error; releasing a borrowed reference cancels
 * nothing, releasing the last one cancels the subtree; every after_func
 * runs exactly once, after its context is done; misuse is EINVAL.
 */
#include "stress.h"

enum { CK_CANCEL, CK_DEADLINE, CK_TIMEOUT, CK_VALUE };
enum { NKEYS = 4 };
static const char keys[NKEYS + 1] = "kkkk"; /* &keys[NKEYS] is bound nowhere */

struct cx_node {
    weft_ctx *c;
    int parent;                /* -1: background */
    int kind;
    int64_t eff;               /* effective deadline */
    atomic_int canceled;       /* set before a cancel (or last release) of this node */
};

struct cx_after {
    struct cx_round *rd;
    int idx;
    weft_ctx *c;               /* a reference for the callback */
    atomic_int ran;
};

struct cx_round {
    struct scenario *sc;
    int N;
    struct cx_node *nodes;
    weft_chan *never_r, *never_s;  /* nobody sends to / receives from them */
    weft_wg wg_never;              /* counter 1 until the end of the round */
    struct cx_after *afters;
    int nafters;
    atomic_int afters_ran;
};

static bool is_cancelable(int kind) { return kind != CK_VALUE; }

static bool chain_canceled(struct cx_round *rd, int i)
{
    for (int j = i; j >= 0; j = rd->nodes[j].parent)
        if (atomic_load(&rd->nodes[j].canceled))
            return true;
    return false;
}

static bool descends(struct cx_round *rd, int d, int a)
{
    for (int j = d; j >= 0; j = rd->nodes[j].parent)
        if (j == a)
            return true;
    return false;
}

static void *expected_value(struct cx_round *rd, int i, int key)
{
    (void)rd;
    /* Values are bound as (void *)(node index + 1) on key index % NKEYS. */
    for (int j = i; j >= 0; j = rd->nodes[j].parent)
        if (rd->nodes[j].kind == CK_VALUE && j % NKEYS == key)
            return (void *)(intptr_t)(j + 1);
    return NULL;
}

/* Is node i's current error justified by the model? */
static void check_err(struct cx_round *rd, int i, int e, const char *where)
{
    struct scenario *sc = rd->sc;
    int64_t now = weft_now();
    if (e == 0) {
        CHECK(sc, !chain_canceled(rd, i), "%s: node %d not done though it or an ancestor was "
              "canceled", where, i);
    } else if (e == ECANCELED) {
        CHECK(sc, chain_canceled(rd, i), "%s: node %d is ECANCELED, nothing canceled it", where,
              i);
    } else if (e == ETIMEDOUT) {
        CHECK(sc, now >= rd->nodes[i].eff, "%s: node %d is ETIMEDOUT %lld ns before its deadline",
              where, i, (long long)(rd->nodes[i].eff - now));
    } else {
        CHECK(sc, false, "%s: node %d has err %d", where, i, e);
    }
}

static void check_done_subtree(struct cx_round *rd, int a, const char *where)
{
    struct scenario *sc = rd->sc;
    for (int d = a; d < rd->N; d++) {
        if (!descends(rd, d, a))
            continue;
        int e = weft_ctx_err(rd->nodes[d].c);
        CHECK(sc, e == ECANCELED || e == ETIMEDOUT, "%s: node %d (under %d) has err %d", where, d,
              a, e);
        weft_chan *dc = weft_ctx_done(rd->nodes[d].c);
        CHECK(sc, dc && weft_chan_try_recv(dc, NULL) == EPIPE,
              "%s: done channel of node %d (under %d) is not closed", where, d, a);
    }
}

/* ---- building ------------------------------------------------------------------ */

static void make_node(struct cx_round *rd, struct rng *r, int i)
{
    struct scenario *sc = rd->sc;
    struct cx_node *n = &rd->nodes[i];
    n->parent = i == 0 ? -1 : (int)rng_below(r, (uint64_t)i);
    weft_ctx *parent = n->parent < 0 ? weft_ctx_background() : rd->nodes[n->parent].c;
    int64_t peff = n->parent < 0 ? WEFT_FOREVER : rd->nodes[n->parent].eff;
    unsigned x = (unsigned)rng_below(r, 100);
    n->kind = i == 0 ? (x < 60 ? CK_CANCEL : CK_DEADLINE)
                     : x < 40 ? CK_CANCEL : x < 55 ? CK_DEADLINE : x < 70 ? CK_TIMEOUT : CK_VALUE;
    int pe = weft_ctx_err(parent);
    int64_t t0 = weft_now(), d = 0, dl = 0;
    switch (n->kind) {
    case CK_CANCEL:
        n->c = weft_ctx_with_cancel(parent);
        break;
    case CK_DEADLINE:
        dl = t0 + rng_range(r, i == 0 ? 5000 : -2000, 40000) * WEFT_US;
        n->c = weft_ctx_with_deadline(parent, dl);
        break;
    case CK_TIMEOUT:
        d = rng_range(r, 0, 40000) * WEFT_US;
        n->c = weft_ctx_with_timeout(parent, d);
        break;
    default:
        n->c = weft_ctx_with_value(parent, &keys[i % NKEYS], (void *)(intptr_t)(i + 1));
        break;
    }
    int64_t t1 = weft_now();
    if (!n->c) {
        fprintf(stderr, "weft-stress: context constructor failed: %s\n", strerror(stress_errno()));
        abort();
    }
    OPS(sc, 1);
    int64_t got = weft_ctx_deadline(n->c);
    switch (n->kind) {
    case CK_DEADLINE:
        CHECK(sc, got == (dl < peff ? dl : peff), "with_deadline: deadline %lld, expected %lld",
              (long long)got, (long long)(dl < peff ? dl : peff));
        break;
    case CK_TIMEOUT:
        CHECK(sc, got == peff || (got < peff && got >= t0 + d && got <= t1 + d),
              "with_timeout(%lld): deadline %lld, parent's %lld, window [%lld, %lld]",
              (long long)d, (long long)got, (long long)peff, (long long)(t0 + d),
              (long long)(t1 + d));
        break;
    default:
        CHECK(sc, got == peff, "kind %d: deadline %lld, parent's %lld", n->kind, (long long)got,
              (long long)peff);
        break;
    }
    n->eff = got;
    for (int k = 0; k <= NKEYS; k++) {
        void *want = k < NKEYS ? expected_value(rd, i, k) : NULL;
        void *v = weft_ctx_value(n->c, &keys[k]);
        CHECK(sc, v == want, "node %d: value of key %d is %p, expected %p", i, k, v, want);
    }
    int e = weft_ctx_err(n->c);
    if (pe)
        CHECK(sc, e != 0, "child of a done parent (err %d) is not born done", pe);
    /* A past deadline of its own makes it born done.  (One later than a
     * past parent deadline does not: like Go, the child then waits for the
     * parent's timer, which may not have fired yet.) */
    if (n->kind == CK_DEADLINE && dl <= t0 && dl < peff)
        CHECK(sc, e != 0, "with_deadline in the past is not born done");
    check_err(rd, i, e, "creation");
    CHECK(sc, weft_ctx_done(n->c) != NULL, "node %d has no done channel", i);
    if (rng_chance(r, 1, 4)) { /* a borrowed reference cancels nothing */
        CHECK(sc, weft_ctx_retain(n->c) == n->c, "retain does not return its context");
        weft_ctx_release(n->c);
        check_err(rd, i, weft_ctx_err(n->c), "borrowed release");
    }
}

/* ---- waiters ----------------------------------------------------------------- */

struct cx_waiter {
    struct cx_round *rd;
    int idx, how;
    int64_t d;
};

static void waiter(void *arg)
{
    struct cx_waiter *w = arg;
    struct cx_round *rd = w->rd;
    struct scenario *sc = rd->sc;
    weft_ctx *c = rd->nodes[w->idx].c; /* our own reference, taken by the driver */
    int rc = 0;
    uint64_t x = 0;
    switch (w->how) {
    case 0:
        rc = weft_chan_recv(weft_ctx_done(c), NULL);
        CHECK(sc, rc == EPIPE, "recv on done returned %d", rc);
        rc = weft_ctx_err(c);
        break;
    case 1:
        rc = weft_chan_recv_ctx(rd->never_r, &x, c);
        break;
    case 2:
        rc = weft_chan_send_ctx(rd->never_s, &x, c);
        break;
    case 3:
        rc = weft_sleep_ctx(c, 3600 * WEFT_SEC);
        break;
    case 4: {
        weft_case cs[2] = {WEFT_CASE_RECV(rd->never_r, &x), WEFT_CASE_RECV(weft_ctx_done(c), NULL)};
        int k = weft_select(cs, 2, WEFT_FOREVER);
        CHECK(sc, k == 1 && !cs[1].ok, "select on done returned %d", k);
        rc = weft_ctx_err(c);
        break;
    }
    case 5: {
        int64_t t0 = weft_now();
        rc = weft_sleep_ctx(c, w->d);
        if (rc == 0) {
            CHECK(sc, weft_now() - t0 >= w->d, "sleep_ctx returned 0 early");
            OPS(sc, 1);
            weft_ctx_release(c);
            return;
        }
        break;
    }
    default:
        rc = weft_wg_wait_ctx(&rd->wg_never, c);
        break;
    }
    int e = weft_ctx_err(c);
    CHECK(sc, rc == e && e != 0, "waiter kind %d on node %d returned %d, ctx err %d", w->how,
          w->idx, rc, e);
    check_err(rd, w->idx, e, "waiter");
    OPS(sc, 1);
    weft_ctx_release(c);
}

static void after_fn(void *arg)
{
    struct cx_after *a = arg;
    struct cx_round *rd = a->rd;
    int prev = atomic_fetch_add(&a->ran, 1);
    CHECK(rd->sc, prev == 0, "after_func of node %d ran %d times", a->idx, prev + 1);
    int e = weft_ctx_err(a->c);
    CHECK(rd->sc, e == ECANCELED || e == ETIMEDOUT, "after_func ran with ctx err %d", e);
    weft_ctx_release(a->c);
    OPS(rd->sc, 1);
    atomic_fetch_add(&rd->afters_ran, 1); /* last touch of rd */
}

/* ---- cancellers, churn, borrowed references -------------------------------------- */

struct cx_actor {
    struct cx_round *rd;
    uint64_t rseed;
    int n;
};

static int pick_cancelable(struct cx_round *rd, struct rng *r)
{
    for (int tries = 0; tries < 8; tries++) {
        int i = (int)rng_below(r, (uint64_t)rd->N);
        if (is_cancelable(rd->nodes[i].kind))
            return i;
    }
    return 0;
}

static void canceller(void *arg)
{
    struct cx_actor *a = arg;
    struct cx_round *rd = a->rd;
    struct rng r = {a->rseed};
    for (int k = 0; k < a->n; k++) {
        stress_jitter(&r, 2000);
        int i = pick_cancelable(rd, &r);
        atomic_store(&rd->nodes[i].canceled, 1);
        weft_ctx_cancel(rd->nodes[i].c);
        OPS(rd->sc, 1);
        check_done_subtree(rd, i, "after cancel");
    }
}

static void churn(void *arg)
{
    struct cx_actor *a = arg;
    struct cx_round *rd = a->rd;
    struct scenario *sc = rd->sc;
    struct rng r = {a->rseed};
    for (int k = 0; k < a->n && !stress_stopping(); k++) {
        int i = (int)rng_below(&r, (uint64_t)rd->N);
        weft_ctx *p = rd->nodes[i].c;
        int pe = weft_ctx_err(p);
        weft_ctx *c;
        switch (rng_below(&r, 3)) {
        case 0:
            c = weft_ctx_with_cancel(p);
            break;
        case 1:
            c = weft_ctx_with_timeout(p, rng_range(&r, 0, 2000) * WEFT_US);
            break;
        default:
            c = weft_ctx_with_value(p, &keys[NKEYS], NULL);
            break;
        }
        if (!c) {
            CHECK(sc, c != NULL, "constructor failed: %d", stress_errno());
            continue;
        }
        if (pe)
            CHECK(sc, weft_ctx_err(c) != 0, "child of a done parent is not born done");
        if (rng_chance(&r, 1, 8))
            stress_jitter(&r, 100);
        weft_ctx_release(c);
        OPS(sc, 1);
    }
}

static void borrower(void *arg)
{
    struct cx_actor *a = arg;
    struct cx_round *rd = a->rd;
    struct rng r = {a->rseed};
    for (int k = 0; k < a->n; k++) {
        int i = (int)rng_below(&r, (uint64_t)rd->N);
        weft_ctx *c = weft_ctx_retain(rd->nodes[i].c);
        if (rng_chance(&r, 1, 4))
            weft_yield();
        weft_ctx_release(c);
        OPS(rd->sc, 1);
    }
}

/* ---- the last release cancels ------------------------------------------------- */

struct rel_race {
    weft_ctx *release_me, *cancel_me;
};

static void rel_task(void *arg) { weft_ctx_release(((struct rel_race *)arg)->release_me); }
static void cancel_task(void *arg) { weft_ctx_cancel(((struct rel_race *)arg)->cancel_me); }

static void last_release(struct cx_round *rd, struct rng *r)
{
    struct scenario *sc = rd->sc;
    int x = pick_cancelable(rd, r);
    weft_ctx *X = rd->nodes[x].c;
    weft_ctx *P = weft_ctx_with_cancel(X);
    weft_ctx *Q = P ? weft_ctx_with_cancel(P) : NULL;
    weft_ctx *V = Q ? weft_ctx_with_value(Q, &keys[NKEYS], (void *)&keys[0]) : NULL;
    if (!V) {
        CHECK(sc, V != NULL, "constructor failed");
        return;
    }
    weft_ctx_retain(P);
    weft_ctx_release(P); /* borrowed: cancels nothing */
    CHECK(sc, weft_ctx_err(P) == 0 || weft_ctx_err(X) != 0,
          "releasing a borrowed reference canceled the context");
    if (rng_chance(r, 1, 2)) {
        weft_ctx_release(P); /* the last: cancels P and Q */
        CHECK(sc, weft_ctx_err(Q) != 0, "releasing the parent's last reference left the child "
              "running");
        weft_chan *dq = weft_ctx_done(Q);
        CHECK(sc, dq && weft_chan_try_recv(dq, NULL) == EPIPE, "child's done is not closed");
    } else {
        /* The last release racing a cancel of P's parent. */
        struct rel_race rr = {P, X};
        atomic_store(&rd->nodes[x].canceled, 1);
        struct crew crew;
        crew_init(&crew, 2);
        crew_go(&crew, "ctx.release", rel_task, &rr, false);
        crew_go(&crew, "ctx.cancel", cancel_task, &rr, rng_chance(r, 1, 4));
        crew_wait(&crew);
        CHECK(sc, weft_ctx_err(Q) != 0, "child alive after release racing cancel");
        check_done_subtree(rd, x, "release racing cancel");
    }
    CHECK(sc, weft_ctx_value(V, &keys[NKEYS]) == (void *)&keys[0],
          "value lost after the parent was released");
    CHECK(sc, weft_ctx_err(V) != 0, "value child of a canceled context is not done");
    OPS(sc, 1);
    if (rng_chance(r, 1, 2)) {
        weft_ctx_release(Q);
        weft_ctx_release(V);
    } else {
        weft_ctx_release(V);
        weft_ctx_release(Q);
    }
}

/* ---- the round ---------------------------------------------------------------- */

static void misuse_checks(struct scenario *sc)
{
    weft_ctx *bg = weft_ctx_background();
    CHECK(sc, bg != NULL, "no background context");
    CHECK(sc, weft_ctx_done(bg) == NULL, "background has a done channel");
    CHECK(sc, weft_ctx_err(bg) == 0, "background has an error");
    CHECK(sc, weft_ctx_deadline(bg) == WEFT_FOREVER, "background has a deadline");
    weft_ctx_cancel(bg);
    weft_ctx_release(bg);
    CHECK(sc, weft_ctx_retain(bg) == bg && weft_ctx_err(bg) == 0, "background was canceled");
    CHECK(sc, weft_ctx_with_cancel(NULL) == NULL && stress_errno() == EINVAL,
          "with_cancel(NULL) is not NULL/EINVAL");
    CHECK(sc, weft_ctx_with_value(bg, NULL, NULL) == NULL && stress_errno() == EINVAL,
          "with_value(key NULL) is not NULL/EINVAL");
    weft_ctx *v = weft_ctx_with_value(bg, &keys[0], NULL);
    CHECK(sc, v && weft_ctx_done(v) == NULL, "a value over background has a done channel");
    weft_ctx_release(v);
}

void sc_ctx_round(struct scenario *sc, struct rng *r)
{
    struct cx_round *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    rd->sc = sc;
    rd->N = (int)rng_range(r, 2, SCALE(24));
    rd->nodes = calloc((size_t)rd->N, sizeof *rd->nodes);
    rd->never_r = weft_chan_make(8, 0);
    rd->never_s = weft_chan_make(8, 0);
    if (!rd->nodes || !rd->never_r || !rd->never_s)
        abort();
    weft_wg_add(&rd->wg_never, 1);
    if (rng_chance(r, 1, 8))
        misuse_checks(sc);

    PHASE(sc, "ctx: build");
    for (int i = 0; i < rd->N; i++)
        make_node(rd, r, i);

    /* Waiters and after_funcs. */
    int nw = (int)rng_range(r, 0, 2 * rd->N);
    if (nw > SCALE(48))
        nw = SCALE(48);
    struct cx_waiter *ws = calloc((size_t)nw + 1, sizeof *ws);
    rd->nafters = (int)rng_range(r, 0, rd->N);
    rd->afters = calloc((size_t)rd->nafters + 2, sizeof *rd->afters);
    if (!ws || !rd->afters)
        abort();
    struct crew waiters;
    crew_init(&waiters, nw);
    int threads = rng_chance(r, 1, 4) ? 2 : 0;
    for (int i = 0; i < nw; i++) {
        ws[i] = (struct cx_waiter){rd, (int)rng_below(r, (uint64_t)rd->N), (int)rng_below(r, 7),
                                   rng_range(r, 0, 5000) * WEFT_US};
        weft_ctx_retain(rd->nodes[ws[i].idx].c);
        if (crew_go(&waiters, "ctx.waiter", waiter, &ws[i], threads > 0 && rng_chance(r, 1, 4)))
            threads--;
    }
    int registered = 0;
    for (int i = 0; i < rd->nafters; i++) {
        int idx = (int)rng_below(r, (uint64_t)rd->N);
        struct cx_after *a = &rd->afters[i];
        *a = (struct cx_after){.rd = rd, .idx = idx, .c = weft_ctx_retain(rd->nodes[idx].c)};
        int rc = weft_ctx_after_func(a->c, after_fn, a);
        CHECK(sc, rc == 0, "after_func returned %d", rc);
        if (rc)
            weft_ctx_release(a->c);
        else
            registered++;
    }

    /* Cancellers, churn and borrowers. */
    PHASE(sc, "ctx: cancel");
    struct cx_actor actors[5];
    struct crew crew;
    crew_init(&crew, 5);
    int nc = (int)rng_range(r, 1, 3);
    for (int i = 0; i < nc; i++) {
        actors[i] = (struct cx_actor){rd, rng_next(r), (int)rng_range(r, 0, 4)};
        crew_go(&crew, "ctx.canceller", canceller, &actors[i], rng_chance(r, 1, 6));
    }
    actors[nc] = (struct cx_actor){rd, rng_next(r), (int)rng_range(r, 0, SCALE(400))};
    crew_go(&crew, "ctx.churn", churn, &actors[nc], false);
    actors[nc + 1] = (struct cx_actor){rd, rng_next(r), (int)rng_range(r, 0, SCALE(200))};
    crew_go(&crew, "ctx.borrower", borrower, &actors[nc + 1], false);
    crew_wait(&crew);

    PHASE(sc, "ctx: model check");
    for (int i = 0; i < rd->N; i++)
        check_err(rd, i, weft_ctx_err(rd->nodes[i].c), "model");
    if (rng_chance(r, 1, 2))
        last_release(rd, r);

    /* End: cancel the root, everything is done. */
    PHASE(sc, "ctx: cancel root");
    atomic_store(&rd->nodes[0].canceled, 1);
    weft_ctx_cancel(rd->nodes[0].c);
    check_done_subtree(rd, 0, "root cancel");
    /* Born done, and an after_func on a done context runs at once. */
    weft_ctx *late = weft_ctx_with_cancel(rd->nodes[rd->N - 1].c);
    CHECK(sc, late && weft_ctx_err(late) != 0, "child of a canceled tree is not born done");
    if (late) {
        struct cx_after *a = &rd->afters[rd->nafters];
        *a = (struct cx_after){.rd = rd, .idx = rd->N - 1, .c = weft_ctx_retain(late)};
        if (weft_ctx_after_func(late, after_fn, a) == 0)
            registered++;
        else
            weft_ctx_release(late);
        weft_ctx_release(late);
    }
    PHASE(sc, "ctx: join waiters");
    crew_wait(&waiters);
    PHASE(sc, "ctx: wait for after_funcs");
    int64_t give_up = weft_deadline(20 * WEFT_SEC);
    while (atomic_load(&rd->afters_ran) < registered && weft_now() < give_up)
        weft_sleep(100 * WEFT_US);
    CHECK(sc, atomic_load(&rd->afters_ran) == registered, "%d of %d after_funcs ran",
          atomic_load(&rd->afters_ran), registered);
    if (atomic_load(&rd->afters_ran) != registered) {
        /* Do not free what a late callback would use. */
        return;
    }

    PHASE(sc, "ctx: release");
    /* Release in random order: a child may outlive its parent's reference. */
    int *order = malloc((size_t)rd->N * sizeof *order);
    if (!order)
        abort();
    for (int i = 0; i < rd->N; i++)
        order[i] = i;
    for (int i = rd->N - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < rd->N; i++)
        weft_ctx_release(rd->nodes[order[i]].c);
    weft_wg_done(&rd->wg_never);
    weft_chan_release(rd->never_r);
    weft_chan_release(rd->never_s);
    free(order);
    free(ws);
    free(rd->afters);
    free(rd->nodes);
    free(rd);
}
