/* spawn: spawn n tasks that only call weft_wg_done, join them with a
 * WaitGroup (add 1 per spawn); ns per spawn.  Go twin: go/main.go spawn. */
#include "bench_common.h"

static void child(void *arg)
{
    BENCH_CHECK(weft_wg_done(arg));
}

static int run(void *arg)
{
    struct bench *b = arg;
    weft_wg wg = WEFT_WG_INIT;
    int64_t t0 = weft_now();
    for (int64_t i = 0; i < b->n; i++) {
        BENCH_CHECK(weft_wg_add(&wg, 1));
        BENCH_CHECK(weft_go(child, &wg));
    }
    BENCH_CHECK(weft_wg_wait(&wg));
    b->value = bench_ns_per(t0, b->n);
    b->ops = b->n;
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "spawn", .unit = "ns/op", .n = 1000000};
    return bench_main(argc, argv, &b, run);
}
