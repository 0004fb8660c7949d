/*
 * test_failinject.c — out-of-memory and thread-creation failures return
 * ENOMEM / EAGAIN and leave the runtime fully usable: nothing leaked, no
 * blocked task lost.  Uses weft_fail_nth and weft_set_allocator.
 */
#include "testutil.h"

/* A counting allocator: every runtime allocation is matched by a free. */
static atomic_long live_allocs;
static void *cnt_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&live_allocs, 1);
    return p;
}
static void *cnt_calloc(size_t n, size_t s)
{
    void *p = calloc(n, s);
    if (p)
        atomic_fetch_add(&live_allocs, 1);
    return p;
}
static void *cnt_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q && !p)
        atomic_fetch_add(&live_allocs, 1);
    return q;
}
static void cnt_free(void *p)
{
    if (p)
        atomic_fetch_sub(&live_allocs, 1);
    free(p);
}

static void test_channel_make_reports_enomem_and_recovers(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, 1), 0);
    errno = 0;
    assert_null(weft_chan_make(sizeof(int), 4));
    assert_int_equal(errno, ENOMEM);
    weft_chan *c = weft_chan_make(sizeof(int), 4);
    assert_non_null(c);
    int v = 7;
    assert_int_equal(weft_chan_send(c, &v), 0);
    assert_int_equal(weft_chan_recv(c, &v), 0);
    assert_int_equal(v, 7);
    weft_chan_release(c);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_SITES, 1), EINVAL);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, -1), EINVAL);
    WT_LEAK_END();
}

static weft_chan *ran;
static void report(void *arg)
{
    (void)arg;
    WT_CHECK_INT_EQ(weft_chan_send(ran, NULL), 0);
}

static void test_spawn_reports_enomem_when_no_stack_can_be_mapped(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    ran = weft_chan_make(0, 8);
    /* A non-default stack size always gets a fresh mapping. */
    struct weft_task_opts o = {.name = "big", .stack_size = 256 * 1024};
    size_t before = weft_num_tasks();
    assert_int_equal(weft_fail_nth(WEFT_FAIL_MMAP, 1), 0);
    assert_int_equal(weft_go_opts(&o, report, NULL), ENOMEM);
    assert_int_equal(weft_num_tasks(), before); /* a failed spawn is not counted */
    assert_int_equal(weft_go_opts(&o, report, NULL), 0);
    assert_int_equal(wt_wait_n(ran, 1), 1);
    weft_chan_release(ran);
    WT_LEAK_END();
}

static void test_large_select_reports_enomem_and_moves_nothing(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    enum { N = 20 };
    weft_chan *c[N];
    weft_case cases[N];
    int vals[N];
    for (int i = 0; i < N; i++) {
        c[i] = weft_chan_make(sizeof(int), 1);
        cases[i] = WEFT_CASE_RECV(c[i], &vals[i]);
    }
    int v = 99;
    assert_int_equal(weft_chan_send(c[5], &v), 0);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, 1), 0);
    errno = 0;
    assert_int_equal(weft_select(cases, N, WEFT_FOREVER), -ENOMEM);
    assert_int_equal(errno, 0); /* errno untouched */
    assert_int_equal(weft_chan_len(c[5]), 1); /* the value is still there */
    assert_int_equal(weft_select(cases, N, WEFT_FOREVER), 5);
    assert_int_equal(vals[5], 99);
    for (int i = 0; i < N; i++)
        weft_chan_release(c[i]);
    WT_LEAK_END();
}

static void test_timer_make_reports_enomem(void **state)
{
    (void)state;
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, 1), 0);
    errno = 0;
    assert_null(weft_timer_make(WEFT_MS));
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, 2), 0); /* the timer's channel */
    errno = 0;
    assert_null(weft_timer_make(WEFT_MS));
    assert_int_equal(errno, ENOMEM);
    weft_timer *t = weft_timer_make(WEFT_MS);
    assert_non_null(t);
    int64_t when;
    assert_int_equal(weft_chan_recv(weft_timer_chan(t), &when), 0);
    weft_timer_stop(t);
}

struct thread_op {
    int rc_block, rc_try;
};
static void thread_blocking_op(void *arg)
{
    struct thread_op *op = arg;
    weft_chan *c = weft_chan_make(0, 0);
    int v;
    /* The first blocking call of a plain thread allocates its wait record. */
    weft_fail_nth(WEFT_FAIL_ALLOC, 1);
    op->rc_try = weft_chan_try_recv(c, &v);
    op->rc_block = weft_chan_recv(c, &v);
    weft_fail_nth(WEFT_FAIL_ALLOC, 0);
    weft_chan_release(c);
}

static void test_plain_thread_wait_record_failure_is_enomem(void **state)
{
    (void)state;
    struct thread_op op = {0, 0};
    wt_run_in_thread(thread_blocking_op, &op);
    assert_int_equal(op.rc_try, EAGAIN);
    assert_int_equal(op.rc_block, ENOMEM);
}

static void test_init_failures_leave_runtime_restartable(void **state)
{
    (void)state;
    assert_int_equal(weft_shutdown(), 0);
    struct weft_config cfg = {.workers = 2};
    assert_int_equal(weft_fail_nth(WEFT_FAIL_THREAD, 2), 0); /* the second worker */
    assert_int_equal(weft_init(&cfg), EAGAIN);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, 1), 0);
    assert_int_equal(weft_init(&cfg), ENOMEM);
    assert_int_equal(weft_init(&cfg), 0);
    weft_chan *c = weft_chan_make(0, 1);
    assert_int_equal(weft_chan_send(c, NULL), 0);
    weft_chan_release(c);
}

/* Fail every allocation in turn during a small workload: each failure is
 * reported as an error, and afterwards the runtime still works. */
static weft_chan *sweep_done;
static void sweep_child(void *arg)
{
    weft_chan *c = arg;
    int v;
    while (weft_chan_recv(c, &v) == 0)
        ;
    weft_chan_send(sweep_done, NULL);
}

static int sweep_workload(void)
{
    int failures = 0;
    weft_chan *c = weft_chan_make(sizeof(int), 2);
    if (!c)
        return 1;
    int spawned = 0;
    for (int i = 0; i < 3; i++) {
        if (weft_go(sweep_child, c) == 0)
            spawned++;
        else
            failures++;
    }
    for (int i = 0; i < 10; i++)
        if (spawned && weft_chan_send(c, &i) != 0)
            failures++;
    weft_timer *t = weft_timer_make(WEFT_US);
    if (t) {
        int64_t when;
        weft_chan_recv(weft_timer_chan(t), &when);
        weft_timer_stop(t);
    } else {
        failures++;
    }
    weft_chan_close(c);
    for (int i = 0; i < spawned; i++)
        weft_chan_recv(sweep_done, NULL);
    weft_chan_release(c);
    return failures;
}

static void test_every_allocation_failure_is_survivable(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    sweep_done = weft_chan_make(0, 8);
    int hit = 0;
    for (long n = 1; n <= 12; n++) {
        weft_fail_nth(WEFT_FAIL_ALLOC, n);
        hit += sweep_workload() > 0;
        weft_fail_nth(WEFT_FAIL_ALLOC, 0);
    }
    assert_true(hit > 0); /* some failures landed inside the workload */
    assert_int_equal(sweep_workload(), 0);
    weft_chan_release(sweep_done);
    WT_LEAK_END();
}

static void test_replaced_allocator_sees_every_free(void **state)
{
    (void)state;
    assert_int_equal(weft_shutdown(), 0);
    struct weft_allocator a = {cnt_malloc, cnt_calloc, cnt_realloc, cnt_free};
    struct weft_allocator bad = {cnt_malloc, NULL, cnt_realloc, cnt_free};
    assert_int_equal(weft_set_allocator(&bad), EINVAL);
    assert_int_equal(weft_set_allocator(&a), 0);
    long base = atomic_load(&live_allocs);
    assert_int_equal(weft_init(NULL), 0);
    assert_int_equal(weft_set_allocator(NULL), EBUSY);
    sweep_done = weft_chan_make(0, 8);
    assert_int_equal(sweep_workload(), 0);
    weft_chan_release(sweep_done);
    assert_int_equal(weft_shutdown(), 0);
    assert_int_equal(atomic_load(&live_allocs), base);
    assert_int_equal(weft_set_allocator(NULL), 0);
    assert_int_equal(weft_init(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_make_reports_enomem_and_recovers),
        cmocka_unit_test(test_spawn_reports_enomem_when_no_stack_can_be_mapped),
        cmocka_unit_test(test_large_select_reports_enomem_and_moves_nothing),
        cmocka_unit_test(test_timer_make_reports_enomem),
        cmocka_unit_test(test_plain_thread_wait_record_failure_is_enomem),
        cmocka_unit_test(test_init_failures_leave_runtime_restartable),
        cmocka_unit_test(test_every_allocation_failure_is_survivable),
        cmocka_unit_test(test_replaced_allocator_sees_every_free),
    };
    return cmocka_run_group_tests(tests, wt_group_setup, wt_group_teardown);
}
