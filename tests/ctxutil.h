/*
 * ctxutil.h — the test bracket shared by test_ctx.c and test_sync.c: on
 * top of testutil.h's task-leak check, a test must leave no timer queued
 * and no context alive that was not alive when it began; and run_both runs
 * a body on the test's own (plain) thread and then inside a task.
 */
#ifndef WEFT_CTXUTIL_H
#define WEFT_CTXUTIL_H

#include "testutil.h"

size_t weft__timers_pending(void);
size_t weft__ctx_live(void);

static void wt__ctx_end(size_t ctxs)
{
    /* A canceled context's last holder may still be dropping it: wait for
     * the count (bounded by the liveness limit), then assert it. */
    int64_t dl = weft_now() + WT_LIVENESS_NS;
    while ((weft__timers_pending() != 0 || weft__ctx_live() != ctxs) && weft_now() < dl)
        wt_os_sleep_ns(WEFT_MS);
    assert_int_equal(weft__timers_pending(), 0);
    assert_int_equal(weft__ctx_live(), ctxs);
}

#define WT_CTX_BEGIN()                                                         \
    WT_LEAK_BEGIN();                                                           \
    const size_t wt__ctxs = weft__ctx_live()
#define WT_CTX_END()                                                           \
    do {                                                                       \
        WT_LEAK_END();                                                         \
        wt__ctx_end(wt__ctxs);                                                 \
    } while (0)

__attribute__((unused)) static void run_both(void (*body)(void *), void *arg)
{
    body(arg);
    wt_assert_no_failures();
    wt_run_in_task(body, arg);
    wt_assert_no_failures();
}

#endif
