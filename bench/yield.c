/* yield: two tasks each call weft_yield n times; ns per yield (2n yields).
 * Go twin: go/main.go yield (runtime.Gosched). */
#include "bench_common.h"

struct y {
    int64_t n;
    weft_wg wg;
};

static void yielder(void *arg)
{
    struct y *y = arg;
    for (int64_t i = 0; i < y->n; i++)
        weft_yield();
    BENCH_CHECK(weft_wg_done(&y->wg));
}

static int run(void *arg)
{
    struct bench *b = arg;
    struct y y = {b->n, WEFT_WG_INIT};
    int64_t t0 = weft_now();
    for (int k = 0; k < 2; k++) {
        BENCH_CHECK(weft_wg_add(&y.wg, 1));
        BENCH_CHECK(weft_go(yielder, &y));
    }
    BENCH_CHECK(weft_wg_wait(&y.wg));
    b->value = bench_ns_per(t0, 2 * b->n);
    b->ops = 2 * b->n;
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "yield", .unit = "ns/op", .n = 1000000};
    return bench_main(argc, argv, &b, run);
}
