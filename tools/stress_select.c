/*
 * stress_select.c — the "select" scenario.
 *
 * T tasks share K channels (random capacities).  Each task runs selects of
 * 1..6 random cases: sends and receives on random channels (the same
 * channel may appear several times, in both directions), NULL-channel
 * cases, and always a receive on the round's quit channel; the deadline is
 * Go's default (0), a short timeout, or none.  Now and then a task closes
 * a random channel; a task that sees a channel closed drops it from its
 * view (the nil-channel idiom).  The driver ends the round by closing quit,
 * waits for every task, then drains what is left in the buffers.
 *
 * Invariants: the returned index is a case with a channel, or -1 with
 * ETIMEDOUT only for a finite deadline and never before it; a send case
 * that proceeded with ok delivered its value exactly once, one with !ok
 * never; a receive with ok got an intact value, in per-sender order for
 * that channel; a receive with !ok zeroed its buffer and the channel stays
 * closed and empty; cases that did not proceed are untouched; at most one
 * close per channel succeeds; misuse gets EINVAL.
 */
#include "stress.h"

enum { SL_MAX_CHANS = 4, SL_MAX_CASES = 7 };

struct sl_round {
    struct scenario *sc;
    uint64_t rseed;
    int K, T, nvals;
    size_t esize;
    bool closing;
    weft_chan *c[SL_MAX_CHANS];
    size_t cap[SL_MAX_CHANS];
    atomic_int closes_ok[SL_MAX_CHANS];
    weft_chan *quit;           /* elem 0, closed by the driver to end the round */
    weft_chan *all_done;       /* elem 0, cap 1: the last finished task signals */
    atomic_int finished;
    uint8_t *status;           /* [T * nvals] */
    atomic_uchar *rcpt;        /* [T * nvals] */
    int64_t *last;             /* [(T + 1) * K * T]: receiver, channel, sender */
};

struct sl_task {
    struct sl_round *rd;
    int id;
    int iters;
    uint64_t rseed;
};

static void record(struct sl_round *rd, int receiver, int k, const unsigned char *buf)
{
    struct scenario *sc = rd->sc;
    uint32_t s, seq;
    uint64_t tag;
    if (!msg_read(buf, rd->esize, rd->rseed, &s, &seq, &tag)) {
        CHECK(sc, false, "received a corrupt value on channel %d (sender %u seq %u)", k, s, seq);
        return;
    }
    if ((int)s >= rd->T || (int)seq >= rd->nvals) {
        CHECK(sc, false, "value (%u,%u) out of range", s, seq);
        return;
    }
    unsigned prev = atomic_fetch_add(&rd->rcpt[(size_t)s * rd->nvals + seq], 1);
    CHECK(sc, prev == 0, "value (%u,%u) received %u times", s, seq, prev + 1);
    int64_t *last = &rd->last[((size_t)receiver * rd->K + k) * rd->T + s];
    CHECK(sc, (int64_t)seq > *last,
          "FIFO: receiver %d got seq %u from sender %u on channel %d after seq %lld", receiver,
          seq, s, k, (long long)*last);
    *last = seq;
}

static int chan_index(struct sl_round *rd, weft_chan *c)
{
    for (int k = 0; k < rd->K; k++)
        if (rd->c[k] == c)
            return k;
    return -1;
}

static void sl_task_fn(void *arg)
{
    struct sl_task *t = arg;
    struct sl_round *rd = t->rd;
    struct scenario *sc = rd->sc;
    struct rng r = {t->rseed};
    weft_chan *view[SL_MAX_CHANS];
    memcpy(view, rd->c, sizeof view);
    unsigned char sendbuf[MSG_MAX], savebuf[MSG_MAX];
    unsigned char rbuf[SL_MAX_CASES][MSG_MAX];
    int seq = 0;
    for (int it = 0; it < t->iters && seq < rd->nvals && !stress_stopping(); it++) {
        weft_case cs[SL_MAX_CASES];
        int n = (int)rng_range(&r, 1, SL_MAX_CASES - 1);
        int quit_at = (int)rng_below(&r, (uint64_t)n + 1);
        msg_fill(sendbuf, rd->esize, rd->rseed, (uint32_t)t->id, (uint32_t)seq);
        memcpy(savebuf, sendbuf, rd->esize);
        int m = 0;
        bool has_send = false;
        for (int i = 0; i < n + 1; i++) {
            if (i == quit_at) {
                cs[m++] = WEFT_CASE_RECV(rd->quit, NULL);
                continue;
            }
            unsigned x = (unsigned)rng_below(&r, 10);
            weft_chan *c = x == 9 ? NULL : view[rng_below(&r, (uint64_t)rd->K)];
            if (x < 5) {
                cs[m] = WEFT_CASE_SEND(c, sendbuf);
                has_send |= c != NULL;
            } else {
                memset(rbuf[m], 0xa5, rd->esize);
                cs[m] = WEFT_CASE_RECV(c, rbuf[m]);
            }
            cs[m].ok = rng_chance(&r, 1, 2);
            m++;
        }
        int64_t deadline;
        switch (rng_below(&r, 10)) {
        case 0: case 1: case 2:
            deadline = 0;
            break;
        case 3: case 4: case 5:
            deadline = weft_deadline(rng_range(&r, 1, 300) * WEFT_US);
            break;
        default:
            deadline = WEFT_FOREVER;
            break;
        }
        int k = weft_select(cs, (size_t)m, deadline);
        if (k < 0) {
            int e = -k;
            CHECK(sc, e == ETIMEDOUT, "select returned -%d", e);
            CHECK(sc, deadline != WEFT_FOREVER, "select without deadline timed out");
            int64_t now = weft_now();
            CHECK(sc, now >= deadline, "select timed out %lld ns early",
                  (long long)(deadline - now));
            for (int i = 0; i < m; i++)
                if (cs[i].dir == WEFT_RECV && cs[i].val)
                    CHECK(sc, all_bytes(cs[i].val, rd->esize, 0xa5),
                          "timed-out select wrote into case %d", i);
            if (deadline == 0 && rng_chance(&r, 1, 2))
                weft_yield();
            continue;
        }
        if (k >= m) {
            CHECK(sc, k < m, "select returned %d of %d cases", k, m);
            continue;
        }
        CHECK(sc, cs[k].chan != NULL, "select chose case %d, whose channel is NULL", k);
        CHECK(sc, all_bytes(sendbuf, rd->esize, 0) == false &&
                      memcmp(sendbuf, savebuf, rd->esize) == 0,
              "select modified the value of a send case");
        for (int i = 0; i < m; i++)
            if (i != k && cs[i].dir == WEFT_RECV && cs[i].val)
                CHECK(sc, all_bytes(cs[i].val, rd->esize, 0xa5),
                      "select wrote into case %d, chose %d", i, k);
        if (cs[k].chan == rd->quit) {
            CHECK(sc, !cs[k].ok, "quit case proceeded with ok");
            break;
        }
        OPS(sc, 1);
        int ck = chan_index(rd, cs[k].chan);
        if (ck < 0) {
            CHECK(sc, ck >= 0, "select chose a case on an unknown channel");
            continue;
        }
        if (cs[k].dir == WEFT_SEND) {
            CHECK(sc, has_send, "a send case proceeded though none had a channel");
            rd->status[(size_t)t->id * rd->nvals + seq] = cs[k].ok ? 1 : 2;
            seq++;
            if (!cs[k].ok) {
                CHECK(sc, weft_chan_try_send(cs[k].chan, sendbuf) == EPIPE,
                      "send case saw a closed channel, try_send is not EPIPE");
                view[ck] = NULL;
            }
        } else if (cs[k].ok) {
            record(rd, t->id, ck, cs[k].val);
        } else {
            CHECK(sc, all_bytes(cs[k].val, rd->esize, 0), "receive on closed did not zero val");
            CHECK(sc, weft_chan_try_recv(cs[k].chan, NULL) == EPIPE,
                  "receive case saw closed and drained, try_recv is not EPIPE");
            view[ck] = NULL;
        }
        if (rd->closing && rng_chance(&r, 1, 300)) {
            int victim = (int)rng_below(&r, (uint64_t)rd->K);
            int rc = weft_chan_close(rd->c[victim]);
            if (rc == 0)
                atomic_fetch_add(&rd->closes_ok[victim], 1);
            else
                CHECK(sc, rc == EPIPE, "close returned %d", rc);
        }
        if (rng_chance(&r, 1, 128))
            stress_jitter(&r, 100);
    }
    if (atomic_fetch_add(&rd->finished, 1) + 1 == rd->T)
        CHECK(sc, weft_chan_try_send(rd->all_done, NULL) == 0, "all_done signal failed");
}

static void misuse_checks(struct scenario *sc)
{
    weft_case bad[2] = {WEFT_CASE_RECV(NULL, NULL), WEFT_CASE_RECV(NULL, NULL)};
    bad[1].dir = (enum weft_dir)7;
    weft_chan *c = weft_chan_make(8, 1);
    bad[1].chan = c;
    CHECK(sc, weft_select(bad, 2, 0) == -EINVAL,
          "select with a bad dir is not -EINVAL");
    CHECK(sc, weft_select(NULL, 1, 0) == -EINVAL,
          "select(NULL, 1) is not -EINVAL");
    int64_t dl = weft_deadline(50 * WEFT_US);
    CHECK(sc, weft_select(NULL, 0, dl) == -ETIMEDOUT,
          "select of no cases with a deadline is not -ETIMEDOUT");
    CHECK(sc, weft_now() >= dl, "empty select returned before its deadline");
    weft_case nulls[3] = {WEFT_CASE_RECV(NULL, NULL), WEFT_CASE_SEND(NULL, NULL),
                          WEFT_CASE_RECV(NULL, NULL)};
    CHECK(sc, weft_select(nulls, 3, 0) == -ETIMEDOUT,
          "select of NULL cases with default is not -ETIMEDOUT");
    dl = weft_deadline(30 * WEFT_US);
    CHECK(sc, weft_select(nulls, 3, dl) == -ETIMEDOUT,
          "select of NULL cases with a deadline is not -ETIMEDOUT");
    CHECK(sc, weft_now() >= dl, "select of NULL cases returned before its deadline");
    /* The same channel in both directions: send goes to the buffer, and the
     * receive case then sees it. */
    uint64_t v = 7, out = 0;
    weft_case dup[2] = {WEFT_CASE_SEND(c, &v), WEFT_CASE_RECV(c, &out)};
    CHECK(sc, weft_select(dup, 2, 0) == 0 && dup[0].ok, "send case on an empty buffer not chosen");
    CHECK(sc, weft_select(dup, 2, 0) == 1 && dup[1].ok && out == 7,
          "receive case on a full buffer not chosen");
    weft_chan_release(c);
}

void sc_select_round(struct scenario *sc, struct rng *r)
{
    struct sl_round *rd = calloc(1, sizeof *rd);
    if (!rd)
        abort();
    rd->sc = sc;
    rd->rseed = rng_next(r);
    rd->K = (int)rng_range(r, 1, SL_MAX_CHANS);
    rd->T = (int)rng_range(r, 2, SCALE(12));
    rd->esize = pick_esize(r);
    rd->closing = rng_chance(r, 1, 3);
    int iters = 10 + (int)rng_below(r, (uint64_t)SCALE(3000));
    rd->nvals = iters;
    for (int k = 0; k < rd->K; k++) {
        rd->cap[k] = pick_cap(r);
        rd->c[k] = weft_chan_make(rd->esize, rd->cap[k]);
        if (!rd->c[k])
            abort();
    }
    rd->quit = weft_chan_make(0, 0);
    rd->all_done = weft_chan_make(0, 1);
    rd->status = calloc((size_t)rd->T * rd->nvals, 1);
    rd->rcpt = calloc((size_t)rd->T * rd->nvals, sizeof *rd->rcpt);
    size_t nlast = (size_t)(rd->T + 1) * rd->K * rd->T;
    rd->last = malloc(nlast * sizeof *rd->last);
    struct sl_task *tasks = calloc((size_t)rd->T, sizeof *tasks);
    if (!rd->quit || !rd->all_done || !rd->status || !rd->rcpt || !rd->last || !tasks)
        abort();
    for (size_t i = 0; i < nlast; i++)
        rd->last[i] = -1;
    if (rng_chance(r, 1, 8))
        misuse_checks(sc);

    struct crew crew;
    crew_init(&crew, rd->T);
    int threads = rng_chance(r, 1, 5) ? 1 : 0;
    for (int i = 0; i < rd->T; i++) {
        tasks[i] = (struct sl_task){.rd = rd, .id = i, .iters = (int)rng_range(r, 1, iters),
                                    .rseed = rng_next(r)};
        if (crew_go(&crew, "select.task", sl_task_fn, &tasks[i], threads > 0 && rng_chance(r, 1, 4)))
            threads--;
    }
    /* Let them run until all are done or the round's time is up. */
    PHASE(sc, "select: run");
    weft_case w = WEFT_CASE_RECV(rd->all_done, NULL);
    int64_t round_ns = rng_range(r, 1, 80) * WEFT_MS;
    int64_t until = weft_deadline(round_ns);
    if (until > g_end)
        until = g_end;
    int k = weft_select(&w, 1, until);
    CHECK(sc, k == 0 || k == -ETIMEDOUT, "waiting for all_done failed");
    CHECK(sc, weft_chan_close(rd->quit) == 0, "close of quit failed");
    PHASE(sc, "select: join");
    crew_wait(&crew);

    /* Drain the buffers; the drainer is receiver T. */
    PHASE(sc, "select: verify");
    unsigned char buf[MSG_MAX];
    for (int c = 0; c < rd->K; c++) {
        int rc;
        while ((rc = weft_chan_try_recv(rd->c[c], buf)) == 0)
            record(rd, rd->T, c, buf);
        CHECK(sc, rc == EAGAIN || rc == EPIPE, "drain try_recv returned %d", rc);
        CHECK(sc, weft_chan_len(rd->c[c]) == 0, "len %zu after drain", weft_chan_len(rd->c[c]));
        CHECK(sc, atomic_load(&rd->closes_ok[c]) <= 1, "channel %d closed %d times", c,
              atomic_load(&rd->closes_ok[c]));
    }
    int bad = 0;
    for (int s = 0; s < rd->T; s++)
        for (int q = 0; q < rd->nvals; q++) {
            size_t i = (size_t)s * rd->nvals + q;
            unsigned got = atomic_load(&rd->rcpt[i]);
            bool ok = rd->status[i] == 1 ? got == 1 : got == 0;
            if (!ok && bad++ < 5)
                CHECK(sc, ok, "value (%d,%d): send case %s, received %u times", s, q,
                      rd->status[i] == 1 ? "ok" : rd->status[i] == 2 ? "!ok (closed)" : "not run",
                      got);
        }
    CHECK(sc, bad == 0, "%d values lost or duplicated", bad);
    for (int c = 0; c < rd->K; c++)
        weft_chan_release(rd->c[c]);
    weft_chan_release(rd->quit);
    weft_chan_release(rd->all_done);
    free(rd->status);
    free(rd->rcpt);
    free(rd->last);
    free(tasks);
    free(rd);
}
