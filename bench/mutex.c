/* mutex: uncontended weft_mutex lock / counter++ / unlock in one task;
 * ns per op.  Go twin: go/main.go mutex (sync.Mutex). */
#include "bench_common.h"

static int64_t counter;

static int run(void *arg)
{
    struct bench *b = arg;
    weft_mutex mu = WEFT_MUTEX_INIT;
    counter = 0;
    int64_t t0 = weft_now();
    for (int64_t i = 0; i < b->n; i++) {
        BENCH_CHECK(weft_mutex_lock(&mu));
        counter++;
        BENCH_CHECK(weft_mutex_unlock(&mu));
    }
    b->value = bench_ns_per(t0, b->n);
    b->ops = b->n;
    if (counter != b->n)
        bench_fail("mutex: counter %lld, want %lld", (long long)counter, (long long)b->n);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "mutex", .unit = "ns/op", .n = 30000000};
    return bench_main(argc, argv, &b, run);
}
