/* mutex_contended: 4 tasks each do n/4 lock / counter++ / unlock on one
 * weft_mutex; ns per op.  Go twin: go/main.go mutex_contended. */
#include "bench_common.h"

enum { T = 4 };

struct mc {
    weft_mutex mu;
    weft_wg wg;
    int64_t per;
    int64_t counter;
};

static void hammer(void *arg)
{
    struct mc *m = arg;
    for (int64_t i = 0; i < m->per; i++) {
        BENCH_CHECK(weft_mutex_lock(&m->mu));
        m->counter++;
        BENCH_CHECK(weft_mutex_unlock(&m->mu));
    }
    BENCH_CHECK(weft_wg_done(&m->wg));
}

static int run(void *arg)
{
    struct bench *b = arg;
    struct mc m = {WEFT_MUTEX_INIT, WEFT_WG_INIT, b->n / T, 0};
    int64_t n = m.per * T;
    int64_t t0 = weft_now();
    for (int k = 0; k < T; k++) {
        BENCH_CHECK(weft_wg_add(&m.wg, 1));
        BENCH_CHECK(weft_go(hammer, &m));
    }
    BENCH_CHECK(weft_wg_wait(&m.wg));
    b->value = bench_ns_per(t0, n);
    b->ops = n;
    if (m.counter != n)
        bench_fail("mutex_contended: counter %lld, want %lld", (long long)m.counter, (long long)n);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "mutex_contended", .unit = "ns/op", .n = 10000000};
    return bench_main(argc, argv, &b, run);
}
