/*
 * test_wg_ctx_window.c — weft_wg_wait_ctx when the counter reaches zero
 * after its lock-free check but before its check under the locks.
 *
 * By then the waiter is registered with the context (weft__ctx_wait_begin
 * returned with the context's lock held) and has nothing to wait for: it
 * must leave without parking.  A cancel may take the context's lock the
 * moment the waiter releases it.  If the waiter is still linked then, the
 * cancel wins weft__claim() and readies a task that is running: it gets
 * queued while it runs, and two workers end up on its stack at once.
 * Under qemu-user that was the aarch64 leg's silent exit 255 in
 * test_wg_wait_ctx_racing_done_and_cancel (see sched/sync/wg.c).
 *
 * The window is a few instructions wide.  This test makes it happen every
 * time by interposing two internal calls with the linker's --wrap
 * (tests/ctx.cmake), so only calls from other files of the library are
 * redirected, here those from sched/sync/wg.c:
 *  - right after weft__ctx_wait_begin registers the waiter, the last
 *    weft_wg_done runs, so the check under the locks finds zero;
 *  - right after the waiter releases the context's lock
 *    (weft__ctx_wait_unlock), the hook counts the waiters still linked and,
 *    if there are none, cancels the context, as a canceller on another
 *    worker could at that instant.  (With the waiter still linked, the
 *    cancel would ready a running task and crash this binary, so the hook
 *    only records the count.)
 * Both the wait on the test's own thread and the wait from a task are run.
 */
#include "ctxutil.h"

/* Internal (not public API; the symbols are in the library). */
size_t weft__ctx_waiters(weft_ctx *ctx);
int __real_weft__ctx_wait_begin(weft_ctx *ctx, void *w, void *self);
void __real_weft__ctx_wait_unlock(void *w);
int __wrap_weft__ctx_wait_begin(weft_ctx *ctx, void *w, void *self);
void __wrap_weft__ctx_wait_unlock(void *w);

/* The hooks act only while win.ctx is set, and only once each. */
static struct {
    _Atomic(weft_ctx *) ctx;
    weft_wg *wg;
    atomic_int begins;  /* registrations with ctx seen */
    atomic_int unlocks; /* releases of ctx's lock after that registration */
    atomic_long linked; /* waiters still linked when the lock was released */
} win;

int __wrap_weft__ctx_wait_begin(weft_ctx *ctx, void *w, void *self)
{
    int r = __real_weft__ctx_wait_begin(ctx, w, self);
    if (r == 0 && ctx == atomic_load(&win.ctx) && atomic_fetch_add(&win.begins, 1) == 0)
        WT_CHECK_INT_EQ(weft_wg_done(win.wg), 0); /* the counter reaches zero now */
    return r;
}

void __wrap_weft__ctx_wait_unlock(void *w)
{
    __real_weft__ctx_wait_unlock(w);
    weft_ctx *ctx = atomic_load(&win.ctx);
    if (!ctx || atomic_load(&win.begins) != 1 || atomic_fetch_add(&win.unlocks, 1) != 0)
        return;
    size_t n = weft__ctx_waiters(ctx);
    atomic_store(&win.linked, (long)n);
    if (n == 0)
        weft_ctx_cancel(ctx);
}

static void zero_path_body(void *arg)
{
    (void)arg;
    weft_wg wg = WEFT_WG_INIT;
    weft_ctx *ctx = weft_ctx_with_cancel(weft_ctx_background());
    WT_CHECK(ctx != NULL);
    WT_CHECK_INT_EQ(weft_wg_add(&wg, 1), 0);
    win.wg = &wg;
    atomic_store(&win.begins, 0);
    atomic_store(&win.unlocks, 0);
    atomic_store(&win.linked, -1);
    atomic_store(&win.ctx, ctx);
    int rc = weft_wg_wait_ctx(&wg, ctx);
    atomic_store(&win.ctx, NULL);
    int begins = atomic_load(&win.begins), unlocks = atomic_load(&win.unlocks);
    long linked = atomic_load(&win.linked);
    /* The counter was zero before the cancel: the wait reports success. */
    WT_CHECK_INT_EQ(rc, 0);
    WT_CHECK_INT_EQ(begins, 1);
    WT_CHECK_INT_EQ(unlocks, 1); /* it left through the zero path */
    /* The point of the test: unlinked before the lock was released. */
    WT_CHECK_INT_EQ(linked, 0);
    WT_CHECK_INT_EQ(weft__ctx_waiters(ctx), 0);
    WT_CHECK_INT_EQ(weft_ctx_err(ctx), ECANCELED); /* the cancel in the window ran */
    WT_CHECK_INT_EQ(weft_wg_wait(&wg), 0);
    /* Both still consistent: a new generation's wait on the canceled
     * context gives up at once.  (The cancel is a no-op unless the hook
     * skipped it.) */
    weft_ctx_cancel(ctx);
    WT_CHECK_INT_EQ(weft_wg_add(&wg, 1), 0);
    WT_CHECK_INT_EQ(weft_wg_wait_ctx(&wg, ctx), ECANCELED);
    WT_CHECK_INT_EQ(weft_wg_done(&wg), 0);
    WT_CHECK_INT_EQ(weft_wg_wait(&wg), 0);
    weft_ctx_release(ctx);
}

static void test_wg_wait_ctx_zero_path_unlinks_before_a_cancel_can_see_it(void **state)
{
    (void)state;
    WT_CTX_BEGIN();
    run_both(zero_path_body, NULL);
    WT_CTX_END();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wg_wait_ctx_zero_path_unlinks_before_a_cancel_can_see_it),
    };
    return cmocka_run_group_tests(tests, wt_group_setup, wt_group_teardown);
}
