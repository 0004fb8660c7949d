/*
 * stress_timer.c — the "timer" scenario.
 *
 * A round runs a few actors at once, each one of:
 *  - oneshot:    make(d), receive, reset after firing, receive again;
 *  - reset-seq:  a chain of resets (some before the timer fired), each
 *                followed or not by a receive;
 *  - stop-race:  a task blocked receiving on the (retained) channel while
 *                the owner stops the timer around its expiry;
 *  - ticker:     receive ticks (a slow receiver makes it drop some),
 *                sometimes reset the period;
 *  - reset-race: one task keeps resetting a timer while others receive
 *                from its channel, then the timer is stopped.
 *
 * Invariants (Go 1.23 semantics, which weft follows): a timer's value is
 * the time it fired, never before its deadline and never after the moment
 * it is received; after reset(d) called at t, the next value received is
 * >= t + d (no stale value from the old setting); after stop returns,
 * nothing arrives, even much later; a one-shot timer fires at most once per
 * setting; the i-th tick after make/reset at t is >= t + i * period, ticks
 * strictly increase; bad periods get EINVAL.  Lateness is reported, not
 * checked (a loaded machine is slow, not wrong).
 */
#include "stress.h"

struct tm_actor {
    struct scenario *sc;
    int kind;
    uint64_t rseed;
};

static int64_t recv_time(struct scenario *sc, weft_chan *c, int64_t *fired)
{
    int rc = weft_chan_recv(c, fired);
    CHECK(sc, rc == 0, "recv on a timer channel returned %d", rc);
    int64_t now = weft_now();
    CHECK(sc, *fired <= now, "timer value %lld is after its receipt %lld", (long long)*fired,
          (long long)now);
    return now;
}

static void oneshot(struct scenario *sc, struct rng *r)
{
    int64_t d = rng_range(r, -100, 2000) * WEFT_US;
    int64_t t0 = weft_now();
    weft_timer *t = weft_timer_make(d);
    CHECK(sc, t != NULL, "weft_timer_make failed: %d", stress_errno());
    if (!t)
        return;
    int64_t v;
    int64_t now = recv_time(sc, weft_timer_chan(t), &v);
    CHECK(sc, v >= t0 + d, "timer(%lld us) fired %lld ns early", (long long)(d / WEFT_US),
          (long long)(t0 + d - v));
    LATE(sc, now - (t0 + d > t0 ? t0 + d : t0));
    OPS(sc, 1);
    /* A one-shot timer fires once. */
    if (rng_chance(r, 1, 3)) {
        weft_sleep(rng_range(r, 0, 300) * WEFT_US);
        CHECK(sc, weft_chan_try_recv(weft_timer_chan(t), &v) == EAGAIN,
              "one-shot timer fired twice");
    }
    /* Reset after firing re-arms it. */
    d = rng_range(r, 0, 1000) * WEFT_US;
    int64_t t1 = weft_now();
    CHECK(sc, weft_timer_reset(t, d) == 0, "reset failed");
    now = recv_time(sc, weft_timer_chan(t), &v);
    CHECK(sc, v >= t1 + d, "re-armed timer fired %lld ns early", (long long)(t1 + d - v));
    LATE(sc, now - (t1 + d));
    OPS(sc, 1);
    weft_timer_stop(t);
}

static void reset_seq(struct scenario *sc, struct rng *r)
{
    weft_timer *t = weft_timer_make(rng_range(r, 0, 3000) * WEFT_US);
    CHECK(sc, t != NULL, "weft_timer_make failed: %d", stress_errno());
    if (!t)
        return;
    weft_chan *c = weft_timer_chan(t);
    int n = (int)rng_range(r, 1, 12);
    for (int i = 0; i < n; i++) {
        stress_jitter(r, 1500);
        int64_t d = rng_range(r, -200, 2000) * WEFT_US;
        int64_t t0 = weft_now();
        CHECK(sc, weft_timer_reset(t, d) == 0, "reset failed");
        OPS(sc, 1);
        int64_t v;
        switch (rng_below(r, 3)) {
        case 0: { /* wait for it */
            int64_t now = recv_time(sc, c, &v);
            CHECK(sc, v >= t0 + d, "after reset(%lld us) the timer fired %lld ns early "
                  "(stale value?)", (long long)(d / WEFT_US), (long long)(t0 + d - v));
            LATE(sc, now - (t0 + d > t0 ? t0 + d : t0));
            break;
        }
        case 1: /* peek */
            if (weft_chan_try_recv(c, &v) == 0)
                CHECK(sc, v >= t0 + d, "after reset a stale value was received (%lld ns early)",
                      (long long)(t0 + d - v));
            break;
        default: /* reset again with the timer pending (or fired, unread) */
            break;
        }
    }
    weft_timer_stop(t);
}

struct racer {
    struct scenario *sc;
    weft_chan *c, *quit;
    int64_t got[64];
    int n;
};

static void racer_fn(void *arg)
{
    struct racer *x = arg;
    for (;;) {
        int64_t v = -1;
        weft_case cs[2] = {WEFT_CASE_RECV(x->c, &v), WEFT_CASE_RECV(x->quit, NULL)};
        int k = weft_select(cs, 2, WEFT_FOREVER);
        if (k != 0)
            break;
        CHECK(x->sc, cs[0].ok, "timer channel closed?");
        CHECK(x->sc, v <= weft_now(), "timer value from the future");
        if (x->n < 64)
            x->got[x->n] = v;
        x->n++;
    }
}

static void stop_race(struct scenario *sc, struct rng *r)
{
    int64_t d = rng_range(r, 0, 1000) * WEFT_US;
    int64_t t0 = weft_now();
    weft_timer *t = weft_timer_make(d);
    if (!t) {
        CHECK(sc, t != NULL, "weft_timer_make failed: %d", stress_errno());
        return;
    }
    weft_chan *c = weft_chan_retain(weft_timer_chan(t));
    struct racer x = {.sc = sc, .c = c, .quit = weft_chan_make(0, 0)};
    struct crew crew;
    crew_init(&crew, 1);
    crew_go(&crew, "timer.racer", racer_fn, &x, rng_chance(r, 1, 8));
    /* Stop around the expiry. */
    weft_sleep(rng_range(r, 0, d / WEFT_US + 200) * WEFT_US);
    weft_timer_stop(t);
    int64_t stopped = weft_now();
    OPS(sc, 1);
    int64_t v;
    CHECK(sc, weft_chan_try_recv(c, &v) == EAGAIN, "a value is buffered after stop returned");
    weft_chan_close(x.quit);
    crew_wait(&crew);
    CHECK(sc, x.n <= 1, "a stopped one-shot timer delivered %d values", x.n);
    if (x.n >= 1)
        CHECK(sc, x.got[0] >= t0 + d && x.got[0] <= stopped,
              "racer got %lld, timer set for %lld, stopped at %lld", (long long)x.got[0],
              (long long)(t0 + d), (long long)stopped);
    /* Nothing arrives after stop, even past the old deadline. */
    int64_t after = t0 + d + 300 * WEFT_US - weft_now();
    if (after > 0)
        weft_sleep(after);
    CHECK(sc, weft_chan_try_recv(c, &v) == EAGAIN, "a stopped timer delivered a value later");
    weft_chan_release(c);
    weft_chan_release(x.quit);
}

static void ticker(struct scenario *sc, struct rng *r)
{
    int64_t p = rng_range(r, 100, 3000) * WEFT_US;
    int64_t t0 = weft_now();
    weft_timer *tk = weft_ticker_make(p);
    if (!tk) {
        CHECK(sc, tk != NULL, "weft_ticker_make failed: %d", stress_errno());
        return;
    }
    weft_chan *c = weft_timer_chan(tk);
    int n = (int)rng_range(r, 1, 10);
    int64_t prev = 0;
    int i = 0; /* ticks received since t0 */
    for (int j = 0; j < n; j++) {
        if (rng_chance(r, 1, 6)) {
            int64_t np = rng_range(r, 100, 3000) * WEFT_US;
            t0 = weft_now();
            CHECK(sc, weft_timer_reset(tk, np) == 0, "ticker reset failed");
            p = np;
            i = 0;
        }
        if (rng_chance(r, 1, 4))
            weft_sleep(rng_range(r, 0, 3 * p / WEFT_US) * WEFT_US); /* drop some ticks */
        int64_t v;
        int64_t now = recv_time(sc, c, &v);
        i++;
        CHECK(sc, v > prev, "ticks not increasing: %lld after %lld", (long long)v,
              (long long)prev);
        CHECK(sc, v >= t0 + i * p, "tick %d of period %lld us came %lld ns early", i,
              (long long)(p / WEFT_US), (long long)(t0 + i * p - v));
        (void)now;
        prev = v;
        OPS(sc, 1);
    }
    CHECK(sc, weft_timer_reset(tk, 0) == EINVAL, "ticker reset(0) is not EINVAL");
    weft_timer_stop(tk);
}

static void reset_race(struct scenario *sc, struct rng *r)
{
    weft_timer *t = weft_timer_make(rng_range(r, 0, 2000) * WEFT_US);
    if (!t) {
        CHECK(sc, t != NULL, "weft_timer_make failed: %d", stress_errno());
        return;
    }
    weft_chan *c = weft_chan_retain(weft_timer_chan(t));
    weft_chan *quit = weft_chan_make(0, 0);
    int nr = (int)rng_range(r, 1, 3);
    struct racer xs[3];
    struct crew crew;
    crew_init(&crew, nr);
    for (int i = 0; i < nr; i++) {
        xs[i] = (struct racer){.sc = sc, .c = c, .quit = quit};
        crew_go(&crew, "timer.racer", racer_fn, &xs[i], false);
    }
    int resets = (int)rng_range(r, 1, 20);
    for (int i = 0; i < resets; i++) {
        stress_jitter(r, 500);
        CHECK(sc, weft_timer_reset(t, rng_range(r, -100, 1000) * WEFT_US) == 0, "reset failed");
        OPS(sc, 1);
    }
    stress_jitter(r, 1500);
    weft_timer_stop(t);
    int64_t stopped = weft_now();
    weft_chan_close(quit);
    crew_wait(&crew);
    int got = 0;
    for (int i = 0; i < nr; i++) {
        got += xs[i].n;
        for (int j = 0; j < xs[i].n && j < 64; j++)
            CHECK(sc, xs[i].got[j] <= stopped, "value fired after stop returned");
    }
    CHECK(sc, got <= resets + 1, "%d values from a one-shot timer set %d times", got,
          resets + 1);
    int64_t v;
    CHECK(sc, weft_chan_try_recv(c, &v) == EAGAIN, "a value is buffered after stop returned");
    weft_chan_release(c);
    weft_chan_release(quit);
}

static void (*const kinds[])(struct scenario *, struct rng *) = {oneshot, reset_seq, stop_race,
                                                                 ticker, reset_race};

static void actor(void *arg)
{
    struct tm_actor *a = arg;
    struct rng r = {a->rseed};
    kinds[a->kind](a->sc, &r);
}

void sc_timer_round(struct scenario *sc, struct rng *r)
{
    /* Misuse. */
    errno = 0;
    CHECK(sc, weft_ticker_make(0) == NULL && stress_errno() == EINVAL,
          "ticker_make(0) is not NULL/EINVAL");
    CHECK(sc, weft_timer_reset(NULL, 1) == EINVAL, "reset(NULL) is not EINVAL");
    CHECK(sc, weft_timer_chan(NULL) == NULL, "timer_chan(NULL) is not NULL");
    weft_timer_stop(NULL);

    int n = (int)rng_range(r, 1, SCALE(8));
    struct tm_actor *as = calloc((size_t)n, sizeof *as);
    if (!as)
        abort();
    struct crew crew;
    crew_init(&crew, n);
    PHASE(sc, "timer: actors");
    for (int i = 0; i < n; i++) {
        as[i] = (struct tm_actor){.sc = sc, .kind = (int)rng_below(r, 5), .rseed = rng_next(r)};
        crew_go(&crew, "timer.actor", actor, &as[i], rng_chance(r, 1, 10));
    }
    crew_wait(&crew);
    free(as);
}
