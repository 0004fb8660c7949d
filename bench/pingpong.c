/* pingpong: two tasks, two unbuffered int64 channels; ns per round trip.
 * Go twin: go/main.go pingpong. */
#include "bench_common.h"

struct pp {
    weft_chan *ping, *pong;
    int64_t n;
    weft_wg wg; /* joins the echo task: it reads *p until it returns */
};

static void echo(void *arg)
{
    struct pp *p = arg;
    for (int64_t i = 0; i < p->n; i++) {
        int64_t v;
        BENCH_CHECK(weft_chan_recv(p->ping, &v));
        BENCH_CHECK(weft_chan_send(p->pong, &v));
    }
    BENCH_CHECK(weft_wg_done(&p->wg));
}

static int run(void *arg)
{
    struct bench *b = arg;
    struct pp p = {weft_chan_make(sizeof(int64_t), 0), weft_chan_make(sizeof(int64_t), 0), b->n,
                   WEFT_WG_INIT};
    BENCH_CHECK_PTR(p.ping);
    BENCH_CHECK_PTR(p.pong);
    BENCH_CHECK(weft_wg_add(&p.wg, 1));
    BENCH_CHECK(weft_go(echo, &p));
    int64_t t0 = weft_now();
    for (int64_t i = 0; i < b->n; i++) {
        int64_t v;
        BENCH_CHECK(weft_chan_send(p.ping, &i));
        BENCH_CHECK(weft_chan_recv(p.pong, &v));
        if (v != i)
            bench_fail("pingpong: got %lld, want %lld", (long long)v, (long long)i);
    }
    b->value = bench_ns_per(t0, b->n);
    b->ops = b->n;
    BENCH_CHECK(weft_wg_wait(&p.wg));
    weft_chan_release(p.ping);
    weft_chan_release(p.pong);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "pingpong", .unit = "ns/op", .n = 500000};
    return bench_main(argc, argv, &b, run);
}
