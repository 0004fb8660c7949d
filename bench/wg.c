/* wg: weft_wg_add(1) / weft_wg_done / weft_wg_wait in one task — the
 * uncontended cost of a WaitGroup's whole life cycle per task joined;
 * ns per cycle.  Go twin: go/main.go wg (sync.WaitGroup). */
#include "bench_common.h"

static int run(void *arg)
{
    struct bench *b = arg;
    weft_wg wg = WEFT_WG_INIT;
    int64_t t0 = weft_now();
    for (int64_t i = 0; i < b->n; i++) {
        BENCH_CHECK(weft_wg_add(&wg, 1));
        BENCH_CHECK(weft_wg_done(&wg));
        BENCH_CHECK(weft_wg_wait(&wg));
    }
    b->value = bench_ns_per(t0, b->n);
    b->ops = b->n;
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "wg", .unit = "ns/op", .n = 20000000};
    return bench_main(argc, argv, &b, run);
}
