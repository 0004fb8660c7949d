/* skynet: the classic benchmark — 1M tasks (iterations = number of leaves,
 * a power of 10) in a 10-ary tree; each leaf sends its ordinal, each inner
 * node makes its own unbuffered channel, spawns its 10 children, sums what
 * they send and sends the sum up.  ms total.  Go twin: go/main.go skynet. */
#include "bench_common.h"

struct node {
    weft_chan *c;
    int64_t num, size, div;
};

static void skynet(void *arg)
{
    struct node *a = arg;
    if (a->size == 1) {
        BENCH_CHECK(weft_chan_send(a->c, &a->num));
        return;
    }
    weft_chan *rc = weft_chan_make(sizeof(int64_t), 0);
    BENCH_CHECK_PTR(rc);
    for (int64_t i = 0; i < a->div; i++) {
        struct node child = {rc, a->num + i * (a->size / a->div), a->size / a->div, a->div};
        BENCH_CHECK(weft_go_copy(skynet, &child, sizeof child));
    }
    int64_t sum = 0, v;
    for (int64_t i = 0; i < a->div; i++) {
        BENCH_CHECK(weft_chan_recv(rc, &v));
        sum += v;
    }
    weft_chan_release(rc);
    BENCH_CHECK(weft_chan_send(a->c, &sum));
}

static int run(void *arg)
{
    struct bench *b = arg;
    weft_chan *c = weft_chan_make(sizeof(int64_t), 0);
    BENCH_CHECK_PTR(c);
    int64_t sum;
    int64_t t0 = weft_now();
    struct node root = {c, 0, b->n, 10};
    BENCH_CHECK(weft_go_copy(skynet, &root, sizeof root));
    BENCH_CHECK(weft_chan_recv(c, &sum));
    b->value = (double)(weft_now() - t0) / 1e6;
    b->ops = b->n;
    if (sum != b->n * (b->n - 1) / 2)
        bench_fail("skynet: sum %lld, want %lld (n must be a power of 10)", (long long)sum,
                   (long long)(b->n * (b->n - 1) / 2));
    weft_chan_release(c);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "skynet", .unit = "ms", .n = 1000000};
    return bench_main(argc, argv, &b, run);
}
