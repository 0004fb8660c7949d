/* cancel_fanout: n tasks block in a two-case select on one context's done
 * channel and on a channel nobody sends on; time from weft_ctx_cancel until a
 * WaitGroup sees every task exit, ms.  All tasks have started (+20 ms for
 * the last ones to park) before the clock starts.
 * Go twin: go/main.go cancel_fanout (context.WithCancel). */
#include "bench_common.h"

struct cf {
    weft_chan *done, *work;
    weft_wg started, exited;
};

static void waiter(void *arg)
{
    struct cf *c = arg;
    BENCH_CHECK(weft_wg_done(&c->started));
    weft_case cases[2] = {WEFT_CASE_RECV(c->done, NULL), WEFT_CASE_RECV(c->work, NULL)};
    int k = weft_select(cases, 2, WEFT_FOREVER);
    if (k != 0)
        bench_fail("cancel_fanout: select returned %d, want 0", k);
    BENCH_CHECK(weft_wg_done(&c->exited));
}

static int run(void *arg)
{
    struct bench *b = arg;
    weft_ctx *ctx = weft_ctx_with_cancel(weft_ctx_background());
    BENCH_CHECK_PTR(ctx);
    struct cf c = {weft_ctx_done(ctx), weft_chan_make(sizeof(int64_t), 0), WEFT_WG_INIT,
                   WEFT_WG_INIT};
    BENCH_CHECK_PTR(c.done);
    BENCH_CHECK_PTR(c.work);
    BENCH_CHECK(weft_wg_add(&c.started, b->n));
    BENCH_CHECK(weft_wg_add(&c.exited, b->n));
    for (int64_t i = 0; i < b->n; i++)
        BENCH_CHECK(weft_go(waiter, &c));
    BENCH_CHECK(weft_wg_wait(&c.started));
    BENCH_CHECK(weft_sleep(20 * WEFT_MS)); /* let the last ones park */
    int64_t t0 = weft_now();
    weft_ctx_cancel(ctx);
    BENCH_CHECK(weft_wg_wait(&c.exited));
    b->value = (double)(weft_now() - t0) / 1e6;
    b->ops = b->n;
    if (weft_ctx_err(ctx) != ECANCELED)
        bench_fail("cancel_fanout: ctx err %d, want ECANCELED", weft_ctx_err(ctx));
    weft_chan_release(c.work);
    weft_ctx_release(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "cancel_fanout", .unit = "ms", .n = 100000};
    return bench_main(argc, argv, &b, run);
}
