/*
 * stress_chan.c — the channel engine behind the "chan", "try" and "close"
 * scenarios.
 *
 * A round has 1..3 channels (random capacity, random element size).  Each
 * channel has its own senders and receivers; every participant uses one
 * kind of operation (blocking, try with a blocking fallback, a one-channel
 * select padded with NULL and never-ready cases, or the _ctx variant) and
 * some run on plain OS threads.  Each value is tagged (sender, seq).  When
 * a channel's last sender is done it closes the channel; a closer may race
 * with the senders and close it early, so sends fail with EPIPE.
 *
 * Invariants: every send that returned 0 is received exactly once, every
 * send that returned EPIPE is never received; values arrive intact, on
 * the channel they were sent on, and in per-sender order at each receiver;
 * per-channel counts and tag sums match; exactly one close succeeds; a
 * drained closed channel answers EPIPE (zeroing *out) to every receive;
 * len <= cap.
 */
#include "stress.h"

enum mode { M_BLOCK, M_TRY, M_SELECT, M_CTX, M_NMODES };

struct cs_chan {
    weft_chan *c;
    size_t cap;
    atomic_int senders_left;
    atomic_int closes_ok;
    atomic_uint_fast64_t sent_n, sent_sum, recv_n, recv_sum;
};

struct cs_round {
    struct scenario *sc;
    uint64_t rseed;
    int nchan, S, R, nvals;
    size_t esize;
    struct cs_chan *ch;
    int *sender_chan;          /* [S] */
    uint8_t *status;           /* [S * nvals]: 0 not sent, 1 sent (0), 2 EPIPE */
    atomic_uchar *rcpt;        /* [S * nvals]: times received */
    int64_t *last;             /* [R * S]: last seq received from each sender */
};

struct cs_party {
    struct cs_round *rd;
    int id;                    /* sender or receiver index */
    int chan;
    enum mode mode;
    int giveup;                /* try/default-select attempts before blocking */
    uint64_t rseed;
    weft_chan *never;          /* private: only this party's selects use it, so
                                * its cases are never ready (a select never
                                * pairs its own send and receive cases) */
};

struct cs_closer {
    struct cs_round *rd;
    int chan;
    int how;
    int64_t delay_us;
    uint64_t target;           /* close once this many values were received */
};

static const char *mode_name[M_NMODES] = {"block", "try", "select", "ctx"};

/* ---- one operation of each kind ------------------------------------------------ */

static int64_t pick_deadline(struct rng *r)
{
    switch (rng_below(r, 4)) {
    case 0:
        return 0; /* default: */
    case 1:
        return weft_deadline(rng_range(r, 1, 300) * WEFT_US);
    default:
        return WEFT_FOREVER;
    }
}

/* A select whose only live case is (c, dir, val), padded with NULL cases
 * and cases on a channel that is never ready.  Returns 0, EPIPE, or
 * ETIMEDOUT (deadline passed first). */
static int select_one(struct scenario *sc, struct rng *r, weft_chan *c, weft_chan *never,
                      enum weft_dir dir, void *val, int64_t deadline)
{
    weft_case cs[5];
    int n = (int)rng_range(r, 1, 5);
    int live = (int)rng_below(r, (uint64_t)n);
    unsigned char scratch[4][MSG_MAX];
    for (int i = 0; i < n; i++) {
        if (i == live) {
            cs[i] = (weft_case){.chan = c, .dir = dir, .val = val};
            continue;
        }
        enum weft_dir d = rng_chance(r, 1, 2) ? WEFT_SEND : WEFT_RECV;
        weft_chan *pad = rng_chance(r, 1, 2) ? NULL : never;
        void *buf = scratch[i < live ? i : i - 1];
        memset(buf, 0x5a, MSG_MIN);
        cs[i] = (weft_case){.chan = pad, .dir = d, .val = buf};
    }
    int k = weft_select(cs, (size_t)n, deadline);
    if (k < 0) {
        int e = -k;
        CHECK(sc, e == ETIMEDOUT, "select returned -%d", e);
        CHECK(sc, deadline != WEFT_FOREVER, "select with no deadline timed out");
        int64_t now = weft_now();
        CHECK(sc, now >= deadline, "select timed out %lld ns before its deadline",
              (long long)(deadline - now));
        return ETIMEDOUT;
    }
    CHECK(sc, k == live, "select chose case %d (channel %p), only case %d can be ready", k,
          (void *)cs[k < n && k >= 0 ? k : 0].chan, live);
    for (int i = 0; i < n; i++)
        if (i != live && cs[i].dir == WEFT_RECV)
            CHECK(sc, all_bytes(cs[i].val, MSG_MIN, 0x5a), "select wrote into case %d's buffer",
                  i);
    return cs[live].ok ? 0 : EPIPE;
}

static int do_send(struct cs_party *p, struct rng *r, const void *buf)
{
    struct scenario *sc = p->rd->sc;
    struct cs_chan *ch = &p->rd->ch[p->chan];
    switch (p->mode) {
    case M_TRY:
        for (int spins = 0;; spins++) {
            int rc = weft_chan_try_send(ch->c, buf);
            if (rc != EAGAIN)
                return rc;
            if (spins >= p->giveup)
                return weft_chan_send(ch->c, buf);
            if ((spins & 3) == 3)
                weft_yield();
        }
    case M_SELECT:
        for (int tries = 0;; tries++) {
            int64_t dl = tries >= p->giveup ? WEFT_FOREVER : pick_deadline(r);
            int rc = select_one(sc, r, ch->c, p->never, WEFT_SEND, (void *)buf, dl);
            if (rc != ETIMEDOUT)
                return rc;
            if (dl == 0)
                weft_yield();
        }
    case M_CTX:
        for (int tries = 0;; tries++) {
            if (tries >= p->giveup || rng_chance(r, 1, 2))
                return weft_chan_send_ctx(ch->c, buf, rng_chance(r, 1, 2) ? NULL
                                                                          : weft_ctx_background());
            weft_ctx *ctx = weft_ctx_with_timeout(weft_ctx_background(),
                                                  rng_range(r, 0, 200) * WEFT_US);
            if (!ctx) {
                CHECK(sc, ctx != NULL, "weft_ctx_with_timeout failed: %d", stress_errno());
                continue;
            }
            int rc = weft_chan_send_ctx(ch->c, buf, ctx);
            if (rc == ETIMEDOUT)
                CHECK(sc, weft_ctx_err(ctx) == ETIMEDOUT,
                      "send_ctx gave ETIMEDOUT, ctx err is %d", weft_ctx_err(ctx));
            weft_ctx_release(ctx);
            if (rc != ETIMEDOUT)
                return rc;
        }
    default:
        return weft_chan_send(ch->c, buf);
    }
}

static int do_recv(struct cs_party *p, struct rng *r, void *buf)
{
    struct scenario *sc = p->rd->sc;
    struct cs_chan *ch = &p->rd->ch[p->chan];
    switch (p->mode) {
    case M_TRY:
        for (int spins = 0;; spins++) {
            int rc = weft_chan_try_recv(ch->c, buf);
            if (rc != EAGAIN)
                return rc;
            if (spins >= p->giveup)
                return weft_chan_recv(ch->c, buf);
            if ((spins & 3) == 3)
                weft_yield();
        }
    case M_SELECT:
        for (int tries = 0;; tries++) {
            int64_t dl = tries >= p->giveup ? WEFT_FOREVER : pick_deadline(r);
            int rc = select_one(sc, r, ch->c, p->never, WEFT_RECV, buf, dl);
            if (rc != ETIMEDOUT)
                return rc;
            if (dl == 0)
                weft_yield();
        }
    case M_CTX:
        for (int tries = 0;; tries++) {
            if (tries >= p->giveup || rng_chance(r, 1, 2))
                return weft_chan_recv_ctx(ch->c, buf, NULL);
            weft_ctx *ctx = weft_ctx_with_timeout(weft_ctx_background(),
                                                  rng_range(r, 0, 200) * WEFT_US);
            if (!ctx) {
                CHECK(sc, ctx != NULL, "weft_ctx_with_timeout failed: %d", stress_errno());
                continue;
            }
            int rc = weft_chan_recv_ctx(ch->c, buf, ctx);
            if (rc == ETIMEDOUT)
                CHECK(sc, weft_ctx_err(ctx) == ETIMEDOUT,
                      "recv_ctx gave ETIMEDOUT, ctx err is %d", weft_ctx_err(ctx));
            weft_ctx_release(ctx);
            if (rc != ETIMEDOUT)
                return rc;
        }
    default:
        return weft_chan_recv(ch->c, buf);
    }
}

/* ---- participants ---------------------------------------------------------------- */

static void close_chan(struct cs_round *rd, struct cs_chan *ch, const char *who)
{
    int rc = weft_chan_close(ch->c);
    if (rc == 0)
        atomic_fetch_add(&ch->closes_ok, 1);
    else
        CHECK(rd->sc, rc == EPIPE, "close by %s returned %d", who, rc);
}

static void sender(void *arg)
{
    struct cs_party *p = arg;
    struct cs_round *rd = p->rd;
    struct scenario *sc = rd->sc;
    struct cs_chan *ch = &rd->ch[p->chan];
    struct rng r = {p->rseed};
    unsigned char buf[MSG_MAX];
    for (int seq = 0; seq < rd->nvals && !stress_stopping(); seq++) {
        msg_fill(buf, rd->esize, rd->rseed, (uint32_t)p->id, (uint32_t)seq);
        int rc = do_send(p, &r, buf);
        size_t len = weft_chan_len(ch->c);
        CHECK(sc, len <= ch->cap, "len %zu > cap %zu", len, ch->cap);
        if (rc == 0) {
            rd->status[(size_t)p->id * rd->nvals + seq] = 1;
            atomic_fetch_add_explicit(&ch->sent_n, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&ch->sent_sum, msg_tag(rd->rseed, p->id, seq),
                                      memory_order_relaxed);
            OPS(sc, 1);
            if (rng_chance(&r, 1, 64))
                stress_jitter(&r, 50);
            continue;
        }
        rd->status[(size_t)p->id * rd->nvals + seq] = 2;
        CHECK(sc, rc == EPIPE, "%s send returned %d", mode_name[p->mode], rc);
        /* Closed is for ever. */
        CHECK(sc, weft_chan_try_send(ch->c, buf) == EPIPE, "try_send after EPIPE is not EPIPE");
        CHECK(sc, weft_chan_send(ch->c, buf) == EPIPE, "send after EPIPE is not EPIPE");
        break;
    }
    if (atomic_fetch_sub(&ch->senders_left, 1) == 1)
        close_chan(rd, ch, "last sender");
}

static void receiver(void *arg)
{
    struct cs_party *p = arg;
    struct cs_round *rd = p->rd;
    struct scenario *sc = rd->sc;
    struct cs_chan *ch = &rd->ch[p->chan];
    struct rng r = {p->rseed};
    unsigned char buf[MSG_MAX];
    int64_t *last = rd->last + (size_t)p->id * rd->S;
    for (;;) {
        memset(buf, 0xa5, rd->esize);
        int rc = do_recv(p, &r, buf);
        if (rc == 0) {
            uint32_t s, seq;
            uint64_t tag;
            if (!msg_read(buf, rd->esize, rd->rseed, &s, &seq, &tag)) {
                CHECK(sc, false, "%s recv got a corrupt value (sender %u seq %u)",
                      mode_name[p->mode], s, seq);
                continue;
            }
            CHECK(sc, (int)s < rd->S && (int)seq < rd->nvals, "value (%u,%u) out of range", s,
                  seq);
            if ((int)s >= rd->S || (int)seq >= rd->nvals)
                continue;
            CHECK(sc, rd->sender_chan[s] == p->chan,
                  "value (%u,%u) of channel %d received on channel %d", s, seq, rd->sender_chan[s],
                  p->chan);
            unsigned prev = atomic_fetch_add(&rd->rcpt[(size_t)s * rd->nvals + seq], 1);
            CHECK(sc, prev == 0, "value (%u,%u) received %u times", s, seq, prev + 1);
            CHECK(sc, (int64_t)seq > last[s],
                  "FIFO: receiver %d got seq %u from sender %u after seq %lld", p->id, seq, s,
                  (long long)last[s]);
            last[s] = seq;
            atomic_fetch_add_explicit(&ch->recv_n, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&ch->recv_sum, tag, memory_order_relaxed);
            OPS(sc, 1);
            if (rng_chance(&r, 1, 64))
                stress_jitter(&r, 50);
            continue;
        }
        CHECK(sc, rc == EPIPE, "%s recv returned %d", mode_name[p->mode], rc);
        if (p->mode == M_BLOCK || p->mode == M_SELECT)
            CHECK(sc, all_bytes(buf, rd->esize, 0), "%s recv EPIPE did not zero *out",
                  mode_name[p->mode]);
        /* Closed and drained is for ever: nobody can send any more. */
        memset(buf, 0xa5, rd->esize);
        CHECK(sc, weft_chan_recv(ch->c, buf) == EPIPE, "recv after EPIPE is not EPIPE");
        CHECK(sc, all_bytes(buf, rd->esize, 0), "recv EPIPE did not zero *out");
        CHECK(sc, weft_chan_try_recv(ch->c, buf) == EPIPE, "try_recv after EPIPE is not EPIPE");
        CHECK(sc, weft_chan_len(ch->c) == 0, "closed drained channel has len %zu",
              weft_chan_len(ch->c));
        break;
    }
}

static void closer(void *arg)
{
    struct cs_closer *cl = arg;
    struct cs_round *rd = cl->rd;
    struct cs_chan *ch = &rd->ch[cl->chan];
    switch (cl->how) {
    case 0: /* at once */
        break;
    case 1:
        weft_yield();
        break;
    case 2:
        weft_sleep(cl->delay_us * WEFT_US);
        break;
    default: /* once some values went through (or every sender is done) */
        while (atomic_load(&ch->recv_n) < cl->target && atomic_load(&ch->senders_left) > 0)
            weft_yield();
        break;
    }
    close_chan(rd, ch, "closer");
}

/* ---- the round --------------------------------------------------------------- */

struct chan_plan {
    int max_chans, max_senders, max_receivers, max_vals;
    int closer_pct;            /* chance of a racing closer per channel */
    int mode_w[M_NMODES];      /* weights of the operation kinds */
    int giveup_max;
    int thread_pct;            /* chance that a round uses plain threads */
};

static enum mode pick_mode(struct rng *r, const struct chan_plan *pl)
{
    int tot = 0;
    for (int i = 0; i < M_NMODES; i++)
        tot += pl->mode_w[i];
    int x = (int)rng_below(r, (uint64_t)tot);
    for (int i = 0; i < M_NMODES; i++) {
        if (x < pl->mode_w[i]) {
            return (enum mode)i;
        }
        x -= pl->mode_w[i];
    }
    return M_BLOCK;
}

static void chan_round(struct scenario *sc, struct rng *r, const struct chan_plan *pl)
{
    struct cs_round rd = {.sc = sc, .rseed = rng_next(r)};
    rd.nchan = (int)rng_range(r, 1, pl->max_chans);
    rd.esize = pick_esize(r);
    int per_s[3], per_r[3];
    for (int k = 0; k < rd.nchan; k++) {
        per_s[k] = (int)rng_range(r, 1, SCALE(pl->max_senders));
        per_r[k] = (int)rng_range(r, 1, SCALE(pl->max_receivers));
        rd.S += per_s[k];
        rd.R += per_r[k];
    }
    /* Values per sender: log-uniform, so short and long rounds both happen. */
    int maxv = SCALE(pl->max_vals);
    rd.nvals = (int)rng_range(r, 1, 1 + (int64_t)rng_below(r, (uint64_t)maxv));
    if ((int64_t)rd.nvals * rd.S > (int64_t)SCALE(20000))
        rd.nvals = SCALE(20000) / rd.S + 1;

    rd.ch = calloc((size_t)rd.nchan, sizeof *rd.ch);
    rd.sender_chan = calloc((size_t)rd.S, sizeof *rd.sender_chan);
    rd.status = calloc((size_t)rd.S * rd.nvals, 1);
    rd.rcpt = calloc((size_t)rd.S * rd.nvals, sizeof *rd.rcpt);
    rd.last = malloc((size_t)rd.R * rd.S * sizeof *rd.last);
    struct cs_party *parties = calloc((size_t)(rd.S + rd.R), sizeof *parties);
    struct cs_closer *closers = calloc((size_t)rd.nchan, sizeof *closers);
    if (!rd.ch || !rd.sender_chan || !rd.status || !rd.rcpt || !rd.last || !parties || !closers)
        abort();
    for (size_t i = 0; i < (size_t)rd.R * rd.S; i++)
        rd.last[i] = -1;

    for (int k = 0; k < rd.nchan; k++) {
        struct cs_chan *ch = &rd.ch[k];
        ch->cap = pick_cap(r);
        ch->c = weft_chan_make(rd.esize, ch->cap);
        CHECK(sc, ch->c != NULL, "weft_chan_make failed: %d", stress_errno());
        if (!ch->c)
            abort();
        CHECK(sc, weft_chan_cap(ch->c) == ch->cap, "cap %zu, made with %zu",
              weft_chan_cap(ch->c), ch->cap);
        atomic_store(&ch->senders_left, per_s[k]);
    }

    int threads = rng_below(r, 100) < (uint64_t)pl->thread_pct ? (int)rng_range(r, 1, 2) : 0;
    int total = rd.S + rd.R + rd.nchan;
    struct crew crew;
    crew_init(&crew, total);
    PHASE(sc, "chan: start");
    int si = 0, ri = 0;
    for (int k = 0; k < rd.nchan; k++) {
        /* Receivers first half the time, senders first otherwise. */
        bool recv_first = rng_chance(r, 1, 2);
        for (int pass = 0; pass < 2; pass++) {
            bool recv = (pass == 0) == recv_first;
            int n = recv ? per_r[k] : per_s[k];
            for (int j = 0; j < n; j++) {
                struct cs_party *p = &parties[recv ? rd.S + ri : si];
                *p = (struct cs_party){.rd = &rd, .id = recv ? ri : si, .chan = k,
                                       .mode = pick_mode(r, pl),
                                       .giveup = (int)rng_range(r, 0, pl->giveup_max),
                                       .rseed = rng_next(r),
                                       .never = weft_chan_make(rd.esize, 0)};
                if (!p->never)
                    abort();
                if (!recv)
                    rd.sender_chan[si] = k;
                bool th = threads > 0 && rng_chance(r, 1, 3);
                if (crew_go(&crew, recv ? "chan.receiver" : "chan.sender", recv ? receiver : sender,
                            p, th))
                    threads--;
                if (recv)
                    ri++;
                else
                    si++;
            }
        }
        if (rng_below(r, 100) < (uint64_t)pl->closer_pct) {
            closers[k] = (struct cs_closer){.rd = &rd, .chan = k, .how = (int)rng_below(r, 4),
                                            .delay_us = rng_range(r, 0, 500),
                                            .target = rng_below(r, (uint64_t)rd.nvals * per_s[k])};
            bool th = threads > 0 && rng_chance(r, 1, 2);
            if (crew_go(&crew, "chan.closer", closer, &closers[k], th))
                threads--;
        }
    }
    PHASE(sc, "chan: wait for senders and receivers");
    crew_wait(&crew);
    PHASE(sc, "chan: verify");

    /* Every value: sent (0) <=> received exactly once. */
    int bad = 0;
    for (int s = 0; s < rd.S; s++)
        for (int q = 0; q < rd.nvals; q++) {
            size_t i = (size_t)s * rd.nvals + q;
            unsigned got = atomic_load(&rd.rcpt[i]);
            bool ok = rd.status[i] == 1 ? got == 1 : got == 0;
            if (!ok && bad++ < 5)
                CHECK(sc, ok, "value (%d,%d): send %s, received %u times (chan %d cap %zu)", s, q,
                      rd.status[i] == 1 ? "returned 0"
                                        : rd.status[i] == 2 ? "returned EPIPE" : "not attempted",
                      got, rd.sender_chan[s], rd.ch[rd.sender_chan[s]].cap);
        }
    CHECK(sc, bad == 0, "%d values lost or duplicated (%d senders x %d values)", bad, rd.S,
          rd.nvals);
    for (int k = 0; k < rd.nchan; k++) {
        struct cs_chan *ch = &rd.ch[k];
        CHECK(sc, atomic_load(&ch->closes_ok) == 1, "channel %d closed successfully %d times", k,
              atomic_load(&ch->closes_ok));
        CHECK(sc, atomic_load(&ch->sent_n) == atomic_load(&ch->recv_n),
              "channel %d (cap %zu): %" PRIu64 " sent, %" PRIu64 " received", k, ch->cap,
              (uint64_t)atomic_load(&ch->sent_n), (uint64_t)atomic_load(&ch->recv_n));
        CHECK(sc, atomic_load(&ch->sent_sum) == atomic_load(&ch->recv_sum),
              "channel %d: sums of sent and received tags differ", k);
        CHECK(sc, weft_chan_len(ch->c) == 0, "channel %d: len %zu after drain", k,
              weft_chan_len(ch->c));
        CHECK(sc, weft_chan_close(ch->c) == EPIPE, "second close is not EPIPE");
        weft_chan_release(ch->c);
    }
    for (int i = 0; i < rd.S + rd.R; i++)
        weft_chan_release(parties[i].never);
    free(rd.ch);
    free(rd.sender_chan);
    free(rd.status);
    free(rd.rcpt);
    free(rd.last);
    free(parties);
    free(closers);
}

static void misuse_checks(struct scenario *sc)
{
    weft_chan *c = weft_chan_make(8, 1);
    if (!c)
        return;
    CHECK(sc, weft_chan_send(NULL, "x") == EINVAL, "send on NULL is not EINVAL");
    CHECK(sc, weft_chan_recv(NULL, NULL) == EINVAL, "recv on NULL is not EINVAL");
    CHECK(sc, weft_chan_try_send(NULL, "x") == EINVAL, "try_send on NULL is not EINVAL");
    CHECK(sc, weft_chan_try_recv(NULL, NULL) == EINVAL, "try_recv on NULL is not EINVAL");
    CHECK(sc, weft_chan_close(NULL) == EINVAL, "close of NULL is not EINVAL");
    CHECK(sc, weft_chan_send(c, NULL) == EINVAL, "send of NULL elem is not EINVAL");
    uint64_t v = 42, out = 0;
    CHECK(sc, weft_chan_try_recv(c, &out) == EAGAIN, "try_recv on empty is not EAGAIN");
    CHECK(sc, weft_chan_try_send(c, &v) == 0, "try_send with room failed");
    CHECK(sc, weft_chan_try_send(c, &v) == EAGAIN, "try_send on full is not EAGAIN");
    CHECK(sc, weft_chan_len(c) == 1, "len %zu, expected 1", weft_chan_len(c));
    CHECK(sc, weft_chan_close(c) == 0, "close failed");
    CHECK(sc, weft_chan_try_send(c, &v) == EPIPE, "try_send on closed is not EPIPE");
    CHECK(sc, weft_chan_recv(c, &out) == 0 && out == 42, "buffered value lost by close");
    CHECK(sc, weft_chan_recv(c, NULL) == EPIPE, "recv on closed drained is not EPIPE");
    CHECK(sc, weft_chan_len(NULL) == 0 && weft_chan_cap(NULL) == 0, "len/cap of NULL not 0");
    weft_chan *u = weft_chan_make(0, 0);
    CHECK(sc, u && weft_chan_try_send(u, NULL) == EAGAIN,
          "try_send on unbuffered without receiver is not EAGAIN");
    weft_chan_release(u);
    /* retain/release */
    CHECK(sc, weft_chan_retain(c) == c, "retain does not return its channel");
    weft_chan_release(c);
    CHECK(sc, weft_chan_retain(NULL) == NULL, "retain(NULL) is not NULL");
    weft_chan_release(c);
}

void sc_chan_round(struct scenario *sc, struct rng *r)
{
    static const struct chan_plan pl = {
        .max_chans = 3, .max_senders = 4, .max_receivers = 4, .max_vals = 2000,
        .closer_pct = 25, .mode_w = {4, 2, 3, 2}, .giveup_max = 64, .thread_pct = 20,
    };
    if (rng_chance(r, 1, 8))
        misuse_checks(sc);
    chan_round(sc, r, &pl);
}

void sc_try_round(struct scenario *sc, struct rng *r)
{
    static const struct chan_plan pl = {
        .max_chans = 2, .max_senders = 4, .max_receivers = 4, .max_vals = 2000,
        .closer_pct = 15, .mode_w = {1, 8, 1, 0}, .giveup_max = 4000, .thread_pct = 10,
    };
    chan_round(sc, r, &pl);
}

void sc_close_round(struct scenario *sc, struct rng *r)
{
    static const struct chan_plan pl = {
        .max_chans = 1, .max_senders = 8, .max_receivers = 8, .max_vals = 300,
        .closer_pct = 100, .mode_w = {3, 1, 4, 2}, .giveup_max = 8, .thread_pct = 25,
    };
    chan_round(sc, r, &pl);
}
