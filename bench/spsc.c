/* spsc: one producer, one consumer, buffered channel of cap 1024; ns per
 * message.  The producer closes the channel; the consumer (main task)
 * receives until EPIPE.  Go twin: go/main.go spsc. */
#include "bench_common.h"

struct sp {
    weft_chan *ch;
    int64_t n;
    weft_wg wg; /* joins the producer (untimed): it uses *s until it returns */
};

static void producer(void *arg)
{
    struct sp *s = arg;
    for (int64_t i = 0; i < s->n; i++)
        BENCH_CHECK(weft_chan_send(s->ch, &i));
    BENCH_CHECK(weft_chan_close(s->ch));
    BENCH_CHECK(weft_wg_done(&s->wg));
}

static int run(void *arg)
{
    struct bench *b = arg;
    struct sp s = {weft_chan_make(sizeof(int64_t), 1024), b->n, WEFT_WG_INIT};
    BENCH_CHECK_PTR(s.ch);
    int64_t sum = 0, v;
    int64_t t0 = weft_now();
    BENCH_CHECK(weft_wg_add(&s.wg, 1));
    BENCH_CHECK(weft_go(producer, &s));
    int rc;
    while ((rc = weft_chan_recv(s.ch, &v)) == 0)
        sum += v;
    b->value = bench_ns_per(t0, b->n);
    b->ops = b->n;
    BENCH_CHECK(weft_wg_wait(&s.wg));
    if (rc != EPIPE)
        bench_fail("spsc: recv returned %d", rc);
    if (sum != b->n * (b->n - 1) / 2)
        bench_fail("spsc: sum %lld, want %lld", (long long)sum, (long long)(b->n * (b->n - 1) / 2));
    weft_chan_release(s.ch);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "spsc", .unit = "ns/op", .n = 5000000};
    return bench_main(argc, argv, &b, run);
}
