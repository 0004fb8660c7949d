/*
 * test_examples.c — each of the seed's patterns (examples/) keeps its
 * promise.  The example sources are linked in with WEFT_EXAMPLE_NO_MAIN.
 *
 *  1. leaky_function's task is reported leaked, with its spawn site
 *     (file:line of the weft_go in examples/01_leaky_vs_proper.c), its
 *     wait reason and the line it is blocked at (the receive in
 *     leaky_loop); proper_function's task is gone once its context is
 *     canceled.
 *  2. The consumer closes its channel on the way out, so a sender gets
 *     EPIPE instead of blocking forever.
 *  3. process_items spawns one task per item, waits for all and reports
 *     the first error; no task is left.
 *  4. Worker Stop cancels and waits; the task count is back at the mark.
 */
#include "testutil.h"

#include <weft_test.h>

#include "patterns.h"

#ifndef WEFT_EXAMPLES_DIR
#error "WEFT_EXAMPLES_DIR must name the examples directory"
#endif

/* Memory that a task leaked on purpose keeps (its channel) is referenced
 * only from that task's stack, which LeakSanitizer does not scan: allocate
 * it with leak detection off. */
#if defined(__SANITIZE_ADDRESS__)
#define WT_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WT_HAVE_LSAN 1
#endif
#endif
#ifdef WT_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#define WT_LEAKED_ON_PURPOSE(stmt)                                              \
    do {                                                                      \
        __lsan_disable();                                                     \
        stmt;                                                                 \
        __lsan_enable();                                                      \
    } while (0)
#else
#define WT_LEAKED_ON_PURPOSE(stmt) stmt
#endif

/* Tasks leaked on purpose (leaky_function's). */
static int leaked_forever;

/* The line of examples/<file> that contains needle (first match). */
static int line_of(const char *file, const char *needle)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", WEFT_EXAMPLES_DIR, file);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[512];
    int line = 0, found = 0;
    while (fgets(buf, sizeof buf, f)) {
        line++;
        if (strstr(buf, needle)) {
            found = line;
            break;
        }
    }
    fclose(f);
    assert_true(found > 0);
    return found;
}

static char *leak_report(uint64_t mark, size_t *n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    *n = weft_leak_check(mark, WT_LIVENESS_NS, f);
    fclose(f);
    return buf;
}

#define assert_contains(hay, needle)                                            \
    do {                                                                      \
        if (!strstr((hay), (needle)))                                         \
            fail_msg("expected \"%s\" in:\n%s", (needle), (hay));             \
    } while (0)

/* 1a: the leaky task is reported, naming where it was spawned and what it
 * waits on, as soon as it is durably blocked. */
static void test_leaky_function_is_reported_with_spawn_site_and_wait_reason(void **state)
{
    uint64_t mark = weft_leak_mark();
    WT_LEAKED_ON_PURPOSE(leaky_function());
    leaked_forever++;
    size_t n;
    char *report = leak_report(mark, &n);
    assert_int_equal(n, 1);
    char site[128];
    snprintf(site, sizeof site, "01_leaky_vs_proper.c:%d in leaky_function()",
             line_of("01_leaky_vs_proper.c", "weft_go(leaky_loop, ch)"));
    assert_contains(report, site);
    assert_contains(report, "leaky_loop [chan recv, ");
    snprintf(site, sizeof site, "made at %s/01_leaky_vs_proper.c:%d", WEFT_EXAMPLES_DIR,
             line_of("01_leaky_vs_proper.c", "weft_chan *ch = weft_chan_make(sizeof(int), 0);"));
    assert_contains(report, site);
    assert_contains(report, "nothing inside weft can wake it");
#ifdef WT_HAVE_LIBDW
    /* Where in leaky_loop it is stuck: the receive, in user code. */
    snprintf(site, sizeof site, "blocked at %s/01_leaky_vs_proper.c:%d in leaky_loop()",
             WEFT_EXAMPLES_DIR, line_of("01_leaky_vs_proper.c", "while (weft_chan_recv(ch, &val) == 0)"));
    assert_contains(report, site);
#endif
    free(report);
}

/* 1b: the proper task exits once its context is canceled. */
static void test_proper_function_is_clean_after_cancel(void **state)
{
    size_t before = weft_num_tasks();
    uint64_t mark = weft_leak_mark();
    weft_ctx *ctx = weft_ctx_with_cancel(weft_ctx_background());
    assert_non_null(ctx);
    assert_int_equal(proper_function(ctx), 0);
    /* Still running while the context is live: it is blocked in its select
     * (settled), not gone. */
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, NULL), 1);
    weft_ctx_cancel(ctx);
    weft_ctx_release(ctx);
    assert_no_task_leaks(mark);
    assert_int_equal(weft_num_tasks(), before);
}

/* 2: closing on exit turns a sender's would-be-forever block into EPIPE. */
static void test_consumer_closes_its_channel_on_exit(void **state)
{
    static _Atomic long processed;
    uint64_t mark = weft_leak_mark();
    weft_ctx *ctx = weft_ctx_with_cancel(weft_ctx_background());
    assert_non_null(ctx);
    weft_chan *ch = start_consumer(ctx, &processed);
    assert_non_null(ch);
    for (long v = 0; v < 3; v++)
        assert_int_equal(weft_chan_send(ch, &v), 0);
    weft_ctx_cancel(ctx);
    long v = 99;
    int r;
    int64_t dl = weft_now() + WT_LIVENESS_NS;
    while ((r = weft_chan_send(ch, &v)) == 0 && weft_now() < dl) {
    }
    assert_int_equal(r, EPIPE);
    assert_true(atomic_load(&processed) >= 3);
    /* Also when the sender is already blocked as the consumer leaves. */
    weft_ctx *ctx2 = weft_ctx_with_cancel(weft_ctx_background());
    weft_chan *ch2 = start_consumer(ctx2, &processed);
    assert_non_null(ch2);
    weft_ctx_cancel(ctx2);
    while ((r = weft_chan_send(ch2, &v)) == 0) {
    }
    assert_int_equal(r, EPIPE);
    weft_chan_release(ch);
    weft_chan_release(ch2);
    weft_ctx_release(ctx);
    weft_ctx_release(ctx2);
    assert_no_task_leaks(mark);
}

/* 3: one task per item; the first error comes back; nothing is left. */
static void test_process_items_waits_for_all_and_reports_errors(void **state)
{
    enum { N = 5000 };
    static item items[N];
    for (int i = 0; i < N; i++)
        items[i] = (item){i, i % 17};
    size_t before = weft_num_tasks();
    uint64_t mark = weft_leak_mark();
    assert_int_equal(process_items(items, N), 0);
    assert_int_equal(process_items(items, 0), 0);
    items[1234].weight = -5;
    items[4321].weight = -1;
    assert_int_equal(process_items(items, N), ITEM_ERROR);
    assert_no_task_leaks(mark);
    assert_int_equal(weft_num_tasks(), before);
    struct weft_stats st;
    assert_int_equal(weft_stats(&st), 0);
    assert_true(st.spawned >= 2 * N);
}

/* 3, from inside a task (WaitGroup and channels park the task). */
static void process_items_in_task(void *p)
{
    item items[64];
    for (int i = 0; i < 64; i++)
        items[i] = (item){i, i == 63 ? -1 : 1};
    *(int *)p = process_items(items, 64);
}

static void test_process_items_inside_a_task(void **state)
{
    uint64_t mark = weft_leak_mark();
    int r = -1;
    wt_run_in_task(process_items_in_task, &r);
    assert_int_equal(r, ITEM_ERROR);
    assert_no_task_leaks(mark);
}

/* 4: Stop cancels the workers and waits: the count returns to the mark. */
static void test_worker_stop_returns_the_task_count_to_the_mark(void **state)
{
    size_t before = weft_num_tasks();
    uint64_t mark = weft_leak_mark();
    worker *w = worker_new();
    assert_non_null(w);
    for (int i = 0; i < 8; i++)
        assert_int_equal(worker_start(w), 0);
    assert_int_equal(weft_num_tasks(), before + 8);
    worker_stop(w);
    long done = worker_work_done(w);
    assert_true(done >= 0);
    worker_free(w);
    assert_no_task_leaks(mark);
    assert_int_equal(weft_num_tasks(), before);
}

static int group_setup(void **state)
{
    struct weft_config cfg = {.workers = 2};
    return weft_init(&cfg) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    assert_int_equal(weft_shutdown(), leaked_forever);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaky_function_is_reported_with_spawn_site_and_wait_reason),
        cmocka_unit_test(test_proper_function_is_clean_after_cancel),
        cmocka_unit_test(test_consumer_closes_its_channel_on_exit),
        cmocka_unit_test(test_process_items_waits_for_all_and_reports_errors),
        cmocka_unit_test(test_process_items_inside_a_task),
        cmocka_unit_test(test_worker_stop_returns_the_task_count_to_the_mark),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
