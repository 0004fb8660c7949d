/* select_default: a receive select over 2 empty unbuffered channels with
 * deadline 0 (Go's `default:`); ns per select.
 * Go twin: go/main.go select_default (two cases + default, so Go runs a real
 * selectgo rather than a single non-blocking receive). */
#include "bench_common.h"

static int run(void *arg)
{
    struct bench *b = arg;
    weft_chan *c0 = weft_chan_make(sizeof(int64_t), 0), *c1 = weft_chan_make(sizeof(int64_t), 0);
    BENCH_CHECK_PTR(c0);
    BENCH_CHECK_PTR(c1);
    weft_case cases[2] = {WEFT_CASE_RECV(c0, NULL), WEFT_CASE_RECV(c1, NULL)};
    int64_t misses = 0, other = 0;
    int64_t t0 = weft_now();
    for (int64_t i = 0; i < b->n; i++) {
        int k = weft_select(cases, 2, 0);
        misses += k == -ETIMEDOUT;
        other += k != -ETIMEDOUT;
    }
    b->value = bench_ns_per(t0, b->n);
    b->ops = b->n;
    if (misses != b->n)
        bench_fail("select_default: %lld defaults of %lld", (long long)misses, (long long)b->n);
    if (other)
        bench_fail("select_default: %lld results other than -ETIMEDOUT", (long long)other);
    weft_chan_release(c0);
    weft_chan_release(c1);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "select_default", .unit = "ns/op", .n = 5000000};
    return bench_main(argc, argv, &b, run);
}
