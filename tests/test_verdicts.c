/*
 * test_verdicts.c — leak checks and deadlock detection are never wrong
 * beside threads weft cannot see (sched/threads.c, sched/diag/).
 *
 * "Nothing can wake these tasks" may be said before a timeout only when
 * every OS thread of the process is known to weft: a plain thread that
 * never entered weft may still send, close or cancel.  So:
 *   - beside such a thread a leak check waits (for the tasks, for the
 *     thread to go, or for its timeout) and a real leak is still reported
 *     by the timeout, saying why it could not tell sooner;
 *   - weft_run never reports a deadlock while such a thread exists, and
 *     does once it has gone without waking anyone;
 *   - a thread declared with weft_thread_ignore() counts as known, so the
 *     early verdicts work beside it.
 * Whole programs run in child processes (this binary re-run as --child).
 *
 * The outside threads here sleep (nanosleep) or block on a pipe on
 * purpose: being outside weft for a while is the situation under test.
 * No assertion depends on how long anything takes.
 */
#include "testutil.h"
#include "childutil.h"

#include <weft_test.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void recv_once(void *p) { (void)weft_chan_recv(p, NULL); }

static void os_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A thread outside weft: sleeps, then sends on a channel (or not). */
struct outside {
    pthread_t th;
    weft_chan *c; /* borrowed; NULL: send nothing */
    long sleep_ms;
    int pipe_fd;  /* >= 0: block reading it instead of sleeping */
    bool ignore;  /* declare itself with weft_thread_ignore() first */
    int ignore_rc;
};

static void *outside_main(void *p)
{
    struct outside *o = p;
    if (o->ignore)
        __atomic_store_n(&o->ignore_rc, weft_thread_ignore(), __ATOMIC_RELEASE);
    if (o->pipe_fd >= 0) {
        char b;
        while (read(o->pipe_fd, &b, 1) < 0 && errno == EINTR)
            ;
    } else {
        os_sleep_ms(o->sleep_ms);
    }
    if (o->c)
        (void)weft_chan_send(o->c, NULL);
    return NULL;
}

static void outside_start(struct outside *o)
{
    assert_int_equal(pthread_create(&o->th, NULL, outside_main, o), 0);
}

static char *leak_report(uint64_t mark, int64_t timeout, size_t *n)
{
    struct mem m;
    *n = weft_leak_check(mark, timeout, mem_open(&m));
    return mem_close(&m);
}

/* ------------------------------------------------------------------ */
/* Leak checks                                                         */
/* ------------------------------------------------------------------ */

/* A task waits for a send that a thread outside weft makes after 100 ms:
 * the check waits for it instead of calling it leaked at once. */
static void test_leak_check_waits_for_a_thread_outside_weft(void **state)
{
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(0, 0);
    assert_int_equal(weft_go(recv_once, c), 0);
    struct outside o = {.c = c, .sleep_ms = 100, .pipe_fd = -1};
    outside_start(&o);
    int64_t t0 = weft_now();
    size_t n;
    char *report = leak_report(mark, WT_LIVENESS_NS, &n);
    int64_t took = weft_now() - t0;
    if (n)
        fprintf(stderr, "%s", report);
    assert_int_equal(n, 0);
    fprintf(stderr, "[  INFO    ] settled after %lld ms (the outside thread sent at 100 ms)\n",
            (long long)(took / WEFT_MS));
    free(report);
    assert_int_equal(pthread_join(o.th, NULL), 0);
    weft_chan_release(c);
}

/* A real leak beside a thread outside weft is still reported, by the
 * timeout, and the report says why it could not be told sooner. */
static void test_real_leak_beside_an_outside_thread_is_reported_by_the_timeout(void **state)
{
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(0, 0);
    assert_int_equal(weft_go(recv_once, c), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct outside o = {.pipe_fd = p[0]};
    outside_start(&o);
    size_t n;
    int64_t timeout = 300 * WEFT_MS, t0 = weft_now();
    char *report = leak_report(mark, timeout, &n);
    assert_true(weft_now() - t0 >= timeout); /* it waited: the thread might have sent */
    assert_int_equal(n, 1);
    assert_contains(report, "recv_once [chan recv, ");
    assert_contains(report, "timed out after");
    assert_contains(report, "a thread outside weft might");
    free(report);
    /* Once the outside thread is gone, the same leak settles early. */
    assert_int_equal(close(p[1]), 0);
    assert_int_equal(pthread_join(o.th, NULL), 0);
    report = leak_report(mark, WT_LIVENESS_NS, &n);
    assert_int_equal(n, 1);
    assert_contains(report, "nothing inside weft can wake it");
    free(report);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(weft_chan_close(c), 0);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_chan_release(c);
}

/* A thread declared with weft_thread_ignore() is known: a leak beside it
 * is reported as soon as the runtime settles, not at the timeout (the
 * report of a timed-out check would say "timed out"). */
static void test_declared_thread_keeps_leak_verdicts_early(void **state)
{
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(0, 0);
    assert_int_equal(weft_go(recv_once, c), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct outside o = {.pipe_fd = p[0], .ignore = true, .ignore_rc = -1};
    outside_start(&o);
    /* Until the thread has declared itself, a check could not settle. */
    while (__atomic_load_n(&o.ignore_rc, __ATOMIC_ACQUIRE) < 0)
        sched_yield();
    assert_int_equal(o.ignore_rc, 0);
    size_t n;
    char *report = leak_report(mark, WT_LIVENESS_NS, &n);
    assert_int_equal(n, 1);
    assert_contains(report, "nothing inside weft can wake it");
    free(report);
    assert_int_equal(close(p[1]), 0);
    assert_int_equal(pthread_join(o.th, NULL), 0);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(weft_chan_close(c), 0);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_chan_release(c);
}

static void ignore_in_task(void *p) { *(int *)p = weft_thread_ignore(); }

/* weft_thread_ignore() is for plain threads: a task (which runs on a
 * worker, already weft's own) gets EINVAL; a second call is a no-op. */
static void test_thread_ignore_arguments(void **state)
{
    WT_LEAK_BEGIN();
    int rc = -1;
    wt_run_in_task(ignore_in_task, &rc);
    assert_int_equal(rc, EINVAL);
    struct outside o = {.ignore = true, .ignore_rc = -1, .pipe_fd = -1};
    outside_start(&o);
    assert_int_equal(pthread_join(o.th, NULL), 0);
    assert_int_equal(o.ignore_rc, 0);
    WT_LEAK_END();
}

/* ------------------------------------------------------------------ */
/* Deadlock detection, whole programs                                  */
/* ------------------------------------------------------------------ */

static int run_child_expect(const char *mode, int want_exit, struct child *c)
{
    child_start(c, mode);
    int st = child_finish(c);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != want_exit)
        child_dump_on_failure(c);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), want_exit);
    return st;
}

/* weft_run's main task receives on a channel that a pthread, created just
 * before and not yet inside weft, sends on later: no deadlock. */
static void test_weft_run_waits_for_a_thread_outside_weft(void **state)
{
    struct child c;
    run_child_expect("run-outside-sender", 0, &c);
    assert_contains(c.o.buf, "weft_run returned 42");
    assert_not_contains(c.e.buf, "deadlock");
    child_free(&c);
}

/* The outside thread exits without sending: now nothing can wake main,
 * and the deadlock is reported (once) and weft_run returns EDEADLK. */
static void test_weft_run_deadlock_is_reported_once_the_outside_thread_is_gone(void **state)
{
    struct child c;
    run_child_expect("run-outside-exits", 0, &c);
    char rc[32];
    snprintf(rc, sizeof rc, "weft_run returned %d", EDEADLK);
    assert_contains(c.o.buf, rc);
    assert_int_equal(count_of(c.e.buf, "weft: all tasks are asleep - deadlock!"), 1);
    child_free(&c);
}

/* A declared thread, blocked for good outside weft, does not hide a
 * deadlock. */
static void test_weft_run_deadlock_beside_a_declared_thread(void **state)
{
    struct child c;
    run_child_expect("run-declared", 0, &c);
    char rc[32];
    snprintf(rc, sizeof rc, "weft_run returned %d", EDEADLK);
    assert_contains(c.o.buf, rc);
    assert_int_equal(count_of(c.e.buf, "weft: all tasks are asleep - deadlock!"), 1);
    child_free(&c);
}

static bool err_has_deadlock(struct child *c, const void *arg)
{
    (void)arg;
    return strstr(c->e.buf, "weft: end of deadlock report") != NULL;
}

/* Outside weft_run: main() blocked for good in weft while every task is
 * asleep and no thread outside weft exists is a certain deadlock, reported
 * on stderr by default (the program stays blocked; the test kills it). */
static void test_plain_thread_deadlock_is_reported_by_default(void **state)
{
    struct child c;
    child_start(&c, "plain-deadlock");
    bool seen = child_read(&c, err_has_deadlock, NULL);
    if (!seen)
        child_dump_on_failure(&c);
    assert_true(seen);
    assert_int_equal(kill(c.pid, SIGKILL), 0);
    int st = child_finish(&c);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(count_of(c.e.buf, "weft: all tasks are asleep - deadlock!"), 1);
    assert_contains(c.e.buf, "a plain thread is blocked inside weft");
    assert_contains(c.e.buf, "recv_once [chan recv, ");
    child_free(&c);
}

/* ... but not while a thread outside weft may still wake the tasks. */
static void test_plain_thread_blocked_beside_an_outside_thread_is_not_a_deadlock(void **state)
{
    struct child c;
    run_child_expect("plain-outside", 0, &c);
    assert_contains(c.o.buf, "plain-outside done");
    assert_not_contains(c.e.buf, "deadlock");
    child_free(&c);
}

/* ------------------------------------------------------------------ */
/* Child modes                                                         */
/* ------------------------------------------------------------------ */

static int main_outside_sender(void *arg)
{
    (void)arg;
    weft_chan *c = weft_chan_make(0, 0);
    struct outside o = {.c = c, .sleep_ms = 50, .pipe_fd = -1};
    if (pthread_create(&o.th, NULL, outside_main, &o) != 0)
        return 1;
    int r = weft_chan_recv(c, NULL); /* only the outside thread sends */
    pthread_join(o.th, NULL);
    weft_chan_release(c);
    return r == 0 ? 42 : 2;
}

static int main_outside_exits(void *arg)
{
    (void)arg;
    weft_chan *c = weft_chan_make(0, 0);
    struct outside o = {.c = NULL, .sleep_ms = 50, .pipe_fd = -1};
    if (pthread_create(&o.th, NULL, outside_main, &o) != 0)
        return 1;
    pthread_detach(o.th);
    (void)weft_chan_recv(c, NULL); /* nobody will ever send */
    return 3;
}

static int main_declared(void *arg)
{
    (void)arg;
    static int p[2];
    if (pipe(p) != 0)
        return 1;
    static struct outside o;
    o = (struct outside){.pipe_fd = p[0], .ignore = true, .ignore_rc = -1};
    if (pthread_create(&o.th, NULL, outside_main, &o) != 0)
        return 1;
    weft_chan *c = weft_chan_make(0, 0);
    weft_go(recv_once, c);
    (void)weft_chan_recv(c, NULL); /* neither task sends */
    return 3;
}

static int run_child(const char *mode)
{
    if (!strcmp(mode, "run-outside-sender") || !strcmp(mode, "run-outside-exits") ||
        !strcmp(mode, "run-declared")) {
        int (*fn)(void *) = !strcmp(mode, "run-outside-sender")  ? main_outside_sender
                            : !strcmp(mode, "run-outside-exits") ? main_outside_exits
                                                                 : main_declared;
        int r = weft_run(fn, NULL);
        printf("weft_run returned %d\n", r);
        return !strcmp(mode, "run-outside-sender") ? (r == 42 ? 0 : 1) : (r == EDEADLK ? 0 : 1);
    }
    if (!strcmp(mode, "plain-deadlock")) {
        weft_chan *c = weft_chan_make(0, 0), *d = weft_chan_make(0, 0);
        weft_go(recv_once, c);
        weft_chan_recv(d, NULL); /* nobody will ever send */
        return 1;
    }
    if (!strcmp(mode, "plain-outside")) {
        weft_chan *c = weft_chan_make(0, 0), *d = weft_chan_make(0, 0);
        weft_go(recv_once, c);
        struct outside o = {.c = d, .sleep_ms = 100, .pipe_fd = -1};
        if (pthread_create(&o.th, NULL, outside_main, &o) != 0)
            return 1;
        weft_chan_recv(d, NULL); /* blocked in weft; the outside thread sends */
        pthread_join(o.th, NULL);
        weft_chan_close(c);
        puts("plain-outside done");
        return weft_shutdown();
    }
    fprintf(stderr, "unknown child mode %s\n", mode);
    return 3;
}

static int verdict_group_setup(void **state)
{
    struct weft_config cfg = {.workers = 2};
    return weft_init(&cfg) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--child"))
        return run_child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leak_check_waits_for_a_thread_outside_weft),
        cmocka_unit_test(test_real_leak_beside_an_outside_thread_is_reported_by_the_timeout),
        cmocka_unit_test(test_declared_thread_keeps_leak_verdicts_early),
        cmocka_unit_test(test_thread_ignore_arguments),
        cmocka_unit_test(test_weft_run_waits_for_a_thread_outside_weft),
        cmocka_unit_test(test_weft_run_deadlock_is_reported_once_the_outside_thread_is_gone),
        cmocka_unit_test(test_weft_run_deadlock_beside_a_declared_thread),
        cmocka_unit_test(test_plain_thread_deadlock_is_reported_by_default),
        cmocka_unit_test(test_plain_thread_blocked_beside_an_outside_thread_is_not_a_deadlock),
    };
    return cmocka_run_group_tests(tests, verdict_group_setup, wt_group_teardown);
}
