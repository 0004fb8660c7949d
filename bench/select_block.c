/* select_block2 / select_block4 (NCASES = 2 or 4): NCASES producer tasks,
 * each sending n/NCASES int64 values on its own unbuffered channel; main
 * receives all n through a select over the NCASES channels.  Unlike
 * select2/4 (always-ready buffered channels, one task) every select here
 * may park and every value is a hand-off between tasks that may run on
 * different workers: the blocking shape.  Sum checked.  ns per select.
 * Go twin: go/main.go select_block2 / select_block4. */
#include "bench_common.h"

#ifndef NCASES
#define NCASES 2
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

struct prod {
    weft_chan *ch;
    int64_t first, count;
    weft_wg *wg;
};

static void producer(void *arg)
{
    struct prod *p = arg;
    for (int64_t i = 0; i < p->count; i++) {
        int64_t v = p->first + i;
        BENCH_CHECK(weft_chan_send(p->ch, &v));
    }
    BENCH_CHECK(weft_wg_done(p->wg));
}

static int run(void *arg)
{
    struct bench *b = arg;
    int64_t per = b->n / NCASES, n = per * NCASES;
    weft_chan *ch[NCASES];
    int64_t vals[NCASES];
    weft_case cases[NCASES];
    weft_wg wg = WEFT_WG_INIT;
    int64_t t0 = weft_now();
    for (int i = 0; i < NCASES; i++) {
        ch[i] = weft_chan_make(sizeof(int64_t), 0);
        BENCH_CHECK_PTR(ch[i]);
        cases[i] = WEFT_CASE_RECV(ch[i], &vals[i]);
        BENCH_CHECK(weft_wg_add(&wg, 1));
        struct prod p = {ch[i], i * per, per, &wg};
        BENCH_CHECK(weft_go_copy(producer, &p, sizeof p));
    }
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) {
        int k = weft_select(cases, NCASES, WEFT_FOREVER);
        if (k < 0 || k >= NCASES || !cases[k].ok)
            bench_fail("select_block: returned %d", k);
        sum += vals[k];
    }
    b->value = bench_ns_per(t0, n);
    b->ops = n;
    BENCH_CHECK(weft_wg_wait(&wg));
    if (sum != n * (n - 1) / 2)
        bench_fail("select_block: sum %lld, want %lld", (long long)sum, (long long)(n * (n - 1) / 2));
    for (int i = 0; i < NCASES; i++)
        weft_chan_release(ch[i]);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "select_block" STR(NCASES), .unit = "ns/op", .n = 1000000};
    return bench_main(argc, argv, &b, run);
}
