/* mpmc: 4 producers x 4 consumers on one channel of cap 128; ns per message.
 * Main waits for the producers, closes, waits for the consumers.
 * mpmc_unbuf (CAP=0): the same on an unbuffered channel, where every
 * message is a hand-off between a parked partner and a running one, on
 * whichever workers they are (the blocking, cross-worker shape).
 * Go twins: go/main.go mpmc, mpmc_unbuf. */
#include "bench_common.h"

#ifndef CAP
#define CAP 128
#endif
#ifndef NAME
#define NAME "mpmc"
#endif

enum { P = 4, C = 4 };

struct mp {
    weft_chan *ch;
    int64_t per;
    weft_wg prod, cons;
    int64_t sums[C];
};

struct who {
    struct mp *m;
    int64_t id;
};

static void producer(void *arg)
{
    struct who *w = arg;
    struct mp *m = w->m;
    for (int64_t i = 0; i < m->per; i++) {
        int64_t v = w->id * m->per + i;
        BENCH_CHECK(weft_chan_send(m->ch, &v));
    }
    BENCH_CHECK(weft_wg_done(&m->prod));
}

static void consumer(void *arg)
{
    struct who *w = arg;
    struct mp *m = w->m;
    int64_t s = 0, v;
    int rc;
    while ((rc = weft_chan_recv(m->ch, &v)) == 0)
        s += v;
    if (rc != EPIPE)
        bench_fail(NAME ": recv returned %d", rc);
    m->sums[w->id] = s;
    BENCH_CHECK(weft_wg_done(&m->cons));
}

static int run(void *arg)
{
    struct bench *b = arg;
    struct mp m = {.ch = weft_chan_make(sizeof(int64_t), CAP), .per = b->n / P,
                   .prod = WEFT_WG_INIT, .cons = WEFT_WG_INIT};
    BENCH_CHECK_PTR(m.ch);
    int64_t n = m.per * P;
    int64_t t0 = weft_now();
    for (int64_t c = 0; c < C; c++) {
        BENCH_CHECK(weft_wg_add(&m.cons, 1));
        struct who w = {&m, c};
        BENCH_CHECK(weft_go_copy(consumer, &w, sizeof w));
    }
    for (int64_t p = 0; p < P; p++) {
        BENCH_CHECK(weft_wg_add(&m.prod, 1));
        struct who w = {&m, p};
        BENCH_CHECK(weft_go_copy(producer, &w, sizeof w));
    }
    BENCH_CHECK(weft_wg_wait(&m.prod));
    BENCH_CHECK(weft_chan_close(m.ch));
    BENCH_CHECK(weft_wg_wait(&m.cons));
    b->value = bench_ns_per(t0, n);
    b->ops = n;
    int64_t sum = 0;
    for (int c = 0; c < C; c++)
        sum += m.sums[c];
    if (sum != n * (n - 1) / 2)
        bench_fail(NAME ": sum %lld, want %lld", (long long)sum, (long long)(n * (n - 1) / 2));
    weft_chan_release(m.ch);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = NAME, .unit = "ns/op", .n = 2000000};
    return bench_main(argc, argv, &b, run);
}
