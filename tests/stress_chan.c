/*
 * stress_chan.c — many tasks (and a few plain threads) randomly sending,
 * receiving, selecting (blocking, non-blocking and with deadlines), and
 * closing over a shared pool of channels.
 *
 * Invariants checked after every round:
 *  - every value whose send returned 0 (or whose send case was chosen with
 *    ok = true) was received exactly once; every other value (send returned
 *    EPIPE/EAGAIN, select chose another case or timed out) was never
 *    received;
 *  - the sum of sent values equals the sum of received values;
 *  - every receive that reported "closed" zeroed its output;
 *  - each channel was closed successfully exactly once;
 *  - weft_num_tasks() is back to its value before the round.
 *
 * Environment: WEFT_STRESS_SEED (printed; default from the clock) fixes
 * each worker's sequence of decisions (the interleaving is the scheduler's);
 * WEFT_STRESS_SCALE (default 1) multiplies the operations per worker.
 *
 * A random program can deadlock legitimately (every worker blocked in a
 * plain send or receive with no partner left).  The main thread watches the
 * count of completed operations; when it stops moving for a while, or when
 * every worker has finished, it closes all channels, which must wake every
 * blocked operation.  A lost wake-up still shows: the value it concerned is
 * then either received without its send succeeding, or sent without being
 * received.
 */
#include <unistd.h>

#include "testutil.h"

typedef int64_t i64;

enum {
    NCHAN = 8,
    NTASKS = 16,
    NTHREADS = 2,
    NWORKERS = NTASKS + NTHREADS,
    BASE_OPS = 20000,
    ROUNDS = 6,
};

enum { ST_UNSENT = 0, ST_SENT = 1, ST_REFUSED = 2 };

struct stress {
    weft_chan *ch[NCHAN];
    weft_chan *finished;
    size_t ops;                  /* per worker */
    uint64_t close_ppm;          /* per-operation chance of a close, per million */
    uint64_t seed;
    atomic_uchar *status;        /* [NWORKERS * ops]: ST_* per value id */
    atomic_uchar *received;      /* [NWORKERS * ops] */
    atomic_uint_fast64_t ops_done;
    atomic_int closes_ok[NCHAN];
    atomic_llong sent_sum, recv_sum;
    atomic_long counts[8];       /* per-op statistics, printed */
};

struct worker {
    struct stress *st;
    int id;
};

enum { OP_SEND, OP_RECV, OP_TRY_SEND, OP_TRY_RECV, OP_SELECT, OP_CLOSE, OP_YIELD };

static void note_received(struct stress *st, i64 v)
{
    i64 n = (i64)(NWORKERS * st->ops);
    if (v < 1 || v > n) {
        WT_CHECK_MSG(0, "received a value never sent: %lld", (long long)v);
        return;
    }
    int before = atomic_fetch_add(&st->received[v - 1], 1);
    WT_CHECK_MSG(before == 0, "value %lld received twice", (long long)v);
    atomic_fetch_add(&st->recv_sum, v);
}

static void note_sent(struct stress *st, i64 v, int rc)
{
    atomic_store(&st->status[v - 1], rc == 0 ? ST_SENT : ST_REFUSED);
    if (rc == 0)
        atomic_fetch_add(&st->sent_sum, v);
}

static void worker_run(struct worker *w)
{
    struct stress *st = w->st;
    wt_rng rng = wt_rng_make(st->seed * 1000003u + (uint64_t)w->id);
    i64 next = (i64)w->id * (i64)st->ops + 1; /* this worker's value ids */
    const i64 last = next + (i64)st->ops - 1;
    for (size_t op = 0; op < st->ops && next <= last; op++) {
        weft_chan *c = st->ch[wt_rand_n(&rng, NCHAN)];
        uint64_t r = wt_rand_n(&rng, 1000000);
        int kind = r < 150000   ? OP_SEND
                   : r < 300000 ? OP_RECV
                   : r < 450000 ? OP_TRY_SEND
                   : r < 600000 ? OP_TRY_RECV
                   : r < 970000 ? OP_SELECT
                   : r < 970000 + st->close_ppm ? OP_CLOSE
                                                : OP_YIELD;
        atomic_fetch_add(&st->counts[kind], 1);
        switch (kind) {
        case OP_SEND:
        case OP_TRY_SEND: {
            i64 v = next++;
            int rc = kind == OP_SEND ? weft_chan_send(c, &v) : weft_chan_try_send(c, &v);
            WT_CHECK_MSG(rc == 0 || rc == EPIPE || (kind == OP_TRY_SEND && rc == EAGAIN),
                         "send kind %d returned %d", kind, rc);
            note_sent(st, v, rc);
            break;
        }
        case OP_RECV:
        case OP_TRY_RECV: {
            i64 v = -1;
            int rc = kind == OP_RECV ? weft_chan_recv(c, &v) : weft_chan_try_recv(c, &v);
            if (rc == 0)
                note_received(st, v);
            else if (rc == EPIPE)
                WT_CHECK_INT_EQ(v, 0);
            else
                WT_CHECK_MSG(kind == OP_TRY_RECV && rc == EAGAIN, "recv kind %d returned %d",
                             kind, rc);
            break;
        }
        case OP_SELECT: {
            weft_case cs[4];
            i64 vals[4];
            size_t n = 1 + wt_rand_n(&rng, 4);
            bool any_real = false;
            for (size_t i = 0; i < n; i++) {
                weft_chan *ci = wt_rand_n(&rng, 12) == 0 ? NULL : st->ch[wt_rand_n(&rng, NCHAN)];
                any_real |= ci != NULL;
                if (wt_rand_n(&rng, 2) && next <= last) {
                    vals[i] = next++;
                    cs[i] = (weft_case)WEFT_CASE_SEND(ci, &vals[i]);
                } else {
                    vals[i] = -1;
                    cs[i] = (weft_case)WEFT_CASE_RECV(ci, &vals[i]);
                }
            }
            uint64_t dk = wt_rand_n(&rng, 4);
            int64_t dl = dk == 0 ? 0
                         : dk == 3 && any_real
                             ? WEFT_FOREVER
                             : weft_deadline((int64_t)wt_rand_n(&rng, 500) * WEFT_US);
            int idx = weft_select(cs, n, dl);
            if (idx < 0) {
                WT_CHECK_INT_EQ(idx, -ETIMEDOUT);
                WT_CHECK_INT_GE(weft_now(), dl);
            } else {
                WT_CHECK_MSG((size_t)idx < n && cs[idx].chan != NULL,
                             "select chose %d of %zu (a NULL case?)", idx, n);
            }
            for (size_t i = 0; i < n; i++) {
                if (cs[i].dir == WEFT_SEND) {
                    if ((int)i == idx)
                        note_sent(st, vals[i], cs[i].ok ? 0 : EPIPE);
                    else
                        note_sent(st, vals[i], EAGAIN); /* offered, not sent */
                } else if ((int)i == idx) {
                    if (cs[i].ok)
                        note_received(st, vals[i]);
                    else
                        WT_CHECK_INT_EQ(vals[i], 0);
                } else {
                    WT_CHECK_MSG(vals[i] == -1, "case %zu not chosen but its val changed", i);
                }
            }
            break;
        }
        case OP_CLOSE: {
            int rc = weft_chan_close(c);
            WT_CHECK_MSG(rc == 0 || rc == EPIPE, "close returned %d", rc);
            if (rc == 0)
                for (int i = 0; i < NCHAN; i++)
                    if (st->ch[i] == c)
                        atomic_fetch_add(&st->closes_ok[i], 1);
            break;
        }
        default:
            weft_yield();
        }
        atomic_fetch_add(&st->ops_done, 1);
    }
}

static void worker_task(void *p)
{
    struct worker *w = p;
    worker_run(w);
    WT_CHECK_INT_EQ(weft_chan_send(w->st->finished, NULL), 0);
}

static void *worker_thread(void *p)
{
    worker_task(p);
    return NULL;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    return strtoull(s, NULL, 0);
}

static void test_random_channel_program_conserves_every_value(void **state)
{
    WT_LEAK_BEGIN();
    uint64_t seed = env_u64("WEFT_STRESS_SEED", (uint64_t)weft_now() ^ (uint64_t)getpid());
    uint64_t scale = env_u64("WEFT_STRESS_SCALE", 1);
    if (scale == 0)
        scale = 1;
    print_message("stress_chan: WEFT_STRESS_SEED=%" PRIu64 " WEFT_STRESS_SCALE=%" PRIu64 "\n",
                  seed, scale);

    struct stress *st = calloc(1, sizeof *st);
    assert_non_null(st);
    st->ops = BASE_OPS * scale;
    /* About half the channels get closed by a worker during a round, at
     * random times; the main thread closes the rest at the end. */
    st->close_ppm = 1 + (uint64_t)NCHAN / 2 * 1000000 / (NWORKERS * st->ops);
    size_t nvals = NWORKERS * st->ops;
    st->status = calloc(nvals, sizeof(atomic_uchar));
    st->received = calloc(nvals, sizeof(atomic_uchar));
    assert_non_null(st->status);
    assert_non_null(st->received);

    wt_rng rng = wt_rng_make(seed);
    const size_t caps[] = {0, 0, 1, 2, 8};
    for (int round = 0; round < ROUNDS; round++) {
        size_t tasks_before = weft_num_tasks();
        memset(st->status, 0, nvals);
        memset(st->received, 0, nvals);
        atomic_store(&st->ops_done, 0);
        atomic_store(&st->sent_sum, 0);
        atomic_store(&st->recv_sum, 0);
        st->seed = seed + (uint64_t)round;
        for (int i = 0; i < NCHAN; i++) {
            atomic_store(&st->closes_ok[i], 0);
            st->ch[i] = weft_chan_make(sizeof(i64), caps[wt_rand_n(&rng, 5)]);
            assert_non_null(st->ch[i]);
        }
        st->finished = weft_chan_make(0, NWORKERS);

        struct worker ws[NWORKERS];
        pthread_t th[NTHREADS];
        for (int i = 0; i < NWORKERS; i++) {
            ws[i] = (struct worker){st, i};
            if (i < NTASKS)
                assert_int_equal(weft_go(worker_task, &ws[i]), 0);
            else
                assert_int_equal(pthread_create(&th[i - NTASKS], NULL, worker_thread, &ws[i]), 0);
        }

        /* Watch: all finished, or stalled (legitimately deadlocked). */
        int finished = 0;
        bool closed_all = false;
        uint64_t last_ops = 0;
        int64_t last_change = weft_now(), hard_deadline = weft_deadline(120 * WEFT_SEC);
        while (finished < NWORKERS) {
            weft_case cs[1] = {WEFT_CASE_RECV(st->finished, NULL)};
            if (weft_select(cs, 1, weft_deadline(10 * WEFT_MS)) == 0) {
                finished++;
                continue;
            }
            uint64_t cur = atomic_load(&st->ops_done);
            int64_t now = weft_now();
            if (cur != last_ops) {
                last_ops = cur;
                last_change = now;
            } else if (!closed_all && now - last_change > 100 * WEFT_MS) {
                for (int i = 0; i < NCHAN; i++)
                    if (weft_chan_close(st->ch[i]) == 0)
                        atomic_fetch_add(&st->closes_ok[i], 1);
                closed_all = true;
            }
            if (now > hard_deadline)
                fail_msg("round %d: %d of %d workers finished after 120 s "
                         "(closed_all=%d): blocked operations were not woken",
                         round, finished, NWORKERS, closed_all);
        }
        for (int i = 0; i < NTHREADS; i++)
            assert_int_equal(pthread_join(th[i], NULL), 0);
        wt_assert_no_failures();

        /* Close what is still open and drain what is still buffered. */
        size_t drained = 0;
        for (int i = 0; i < NCHAN; i++) {
            if (weft_chan_close(st->ch[i]) == 0)
                atomic_fetch_add(&st->closes_ok[i], 1);
            i64 v = -1;
            int rc;
            while ((rc = weft_chan_recv(st->ch[i], &v)) == 0) {
                note_received(st, v);
                drained++;
            }
            assert_int_equal(rc, EPIPE);
            assert_int_equal(v, 0);
            assert_int_equal(atomic_load(&st->closes_ok[i]), 1);
        }
        wt_assert_no_failures();

        size_t sent = 0, refused = 0, recvd = 0;
        for (size_t i = 0; i < nvals; i++) {
            int s = atomic_load(&st->status[i]), r = atomic_load(&st->received[i]);
            sent += s == ST_SENT;
            refused += s == ST_REFUSED;
            recvd += r;
            if (r != (s == ST_SENT))
                fail_msg("round %d seed %" PRIu64 ": value %zu: status %d (1 sent, 2 refused, "
                         "0 never offered) but received %d times",
                         round, seed, i + 1, s, r);
        }
        assert_int_equal(sent, recvd);
        assert_int_equal(atomic_load(&st->sent_sum), atomic_load(&st->recv_sum));
        print_message("round %d: %zu sent, %zu refused, %zu drained at the end, "
                      "stall-close %s\n",
                      round, sent, refused, drained, closed_all ? "yes" : "no");

        for (int i = 0; i < NCHAN; i++)
            weft_chan_release(st->ch[i]);
        weft_chan_release(st->finished);
        assert_int_equal(wt_await_num_tasks(tasks_before, WT_LIVENESS_NS), tasks_before);
    }
    print_message("ops: send %ld recv %ld try_send %ld try_recv %ld select %ld close %ld "
                  "yield %ld\n",
                  atomic_load(&st->counts[OP_SEND]), atomic_load(&st->counts[OP_RECV]),
                  atomic_load(&st->counts[OP_TRY_SEND]), atomic_load(&st->counts[OP_TRY_RECV]),
                  atomic_load(&st->counts[OP_SELECT]), atomic_load(&st->counts[OP_CLOSE]),
                  atomic_load(&st->counts[OP_YIELD]));
    free(st->status);
    free(st->received);
    free(st);
    WT_LEAK_END();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_channel_program_conserves_every_value),
    };
    return cmocka_run_group_tests(tests, wt_group_setup, wt_group_teardown);
}
