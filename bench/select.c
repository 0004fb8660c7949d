/* select2 / select4 (NCASES = 2 or 4): a receive select over NCASES
 * buffered (cap 1) channels that are all ready; the chosen channel is
 * refilled at once with a plain send (never blocks), so every select sees
 * NCASES ready cases.  ns per select (including the refill send).
 * Go twin: go/main.go select2 / select4. */
#include "bench_common.h"

#ifndef NCASES
#define NCASES 2
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

static int run(void *arg)
{
    struct bench *b = arg;
    weft_chan *ch[NCASES];
    int64_t vals[NCASES];
    weft_case cases[NCASES];
    int64_t counts[NCASES] = {0};
    for (int i = 0; i < NCASES; i++) {
        ch[i] = weft_chan_make(sizeof(int64_t), 1);
        BENCH_CHECK_PTR(ch[i]);
        int64_t v = i;
        BENCH_CHECK(weft_chan_send(ch[i], &v));
        cases[i] = WEFT_CASE_RECV(ch[i], &vals[i]);
    }
    int64_t t0 = weft_now();
    for (int64_t i = 0; i < b->n; i++) {
        int k = weft_select(cases, NCASES, WEFT_FOREVER);
        if (k < 0 || k >= NCASES)
            bench_fail("select: returned %d", k);
        counts[k]++;
        BENCH_CHECK(weft_chan_send(ch[k], &vals[k]));
    }
    b->value = bench_ns_per(t0, b->n);
    b->ops = b->n;
    for (int i = 0; i < NCASES; i++) {
        if (counts[i] < b->n / NCASES / 2)
            fprintf(stderr, "%s: warning: case %d chosen %lld of %lld times\n", b->name, i,
                    (long long)counts[i], (long long)b->n);
        weft_chan_release(ch[i]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "select" STR(NCASES), .unit = "ns/op", .n = 2000000};
    return bench_main(argc, argv, &b, run);
}
