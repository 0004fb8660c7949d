/*
 * test_overflow.c — a task's stack overflow is caught by its guard page and
 * reported with the task's id, name and spawn site before the process
 * aborts; and a million tasks can be alive at once with default settings.
 * Each case runs in a child process.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static int depth_sink;

__attribute__((noinline)) static int recurse(int n)
{
    volatile char frame[512];
    frame[0] = (char)n;
    if (n < 0) /* never: keeps the compiler from calling this endless */
        return 0;
    int r = recurse(n + 1) + frame[0];
    depth_sink = r;
    return r;
}

static void overflow_task(void *arg)
{
    (void)arg;
    recurse(0);
}

/* The report must name the line of this weft_go_opts call. */
enum { OVERFLOW_SPAWN_LINE = __LINE__ + 1 };
static int spawn_overflow(const struct weft_task_opts *o) { return weft_go_opts(o, overflow_task, NULL); }

static void child_overflow(void)
{
    struct weft_task_opts o = {.name = "deep-recursion", .stack_size = 32 * 1024};
    weft_init(NULL);
    spawn_overflow(&o);
    weft_sleep(30 * WEFT_SEC);
    _exit(0); /* not reached: the overflow aborts first */
}

/* Run fn in a child; capture its stderr; return its wait status. */
static int run_child(void (*fn)(void), char *err, size_t errsz)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        fn();
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < errsz && (r = read(p[0], err + n, errsz - 1 - n)) > 0)
        n += (size_t)r;
    err[n] = 0;
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static void test_stack_overflow_is_reported_with_spawn_site(void **state)
{
    (void)state;
    char err[4096];
    int st = run_child(child_overflow, err, sizeof err);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    assert_non_null(strstr(err, "stack overflow in task"));
    assert_non_null(strstr(err, "deep-recursion"));
    char site[64];
    snprintf(site, sizeof site, "test_overflow.c:%d", OVERFLOW_SPAWN_LINE);
    if (!strstr(err, site))
        fail_msg("report lacks spawn site %s:\n%s", site, err);
}

/* ---- a million live tasks ----------------------------------------------- */

static weft_chan *gate, *gone;
static void wait_gate(void *arg)
{
    (void)arg;
    weft_chan_recv(gate, NULL);
    weft_chan_send(gone, NULL);
}

static void test_a_million_tasks_live_at_once(void **state)
{
    (void)state;
    const char *scale = getenv("WEFT_MILLION");
    size_t n = scale ? (size_t)atol(scale) : 1000000;
    assert_int_equal(weft_init(NULL), 0);
    WT_LEAK_BEGIN();
    gate = weft_chan_make(0, 0);
    gone = weft_chan_make(0, 4096);
    for (size_t i = 0; i < n; i++)
        if (weft_go(wait_gate, NULL) != 0)
            fail_msg("spawn %zu of %zu failed", i, n);
    assert_int_equal(weft_num_tasks(), n);
    assert_int_equal(weft_chan_close(gate), 0);
    assert_int_equal(wt_wait_n(gone, n), n);
    weft_chan_release(gate);
    weft_chan_release(gone);
    WT_LEAK_END();
    assert_int_equal(weft_shutdown(), 0);
}

int main(int argc, char **argv)
{
    bool million = argc > 1 && strcmp(argv[1], "million") == 0;
    const struct CMUnitTest overflow[] = {
        cmocka_unit_test(test_stack_overflow_is_reported_with_spawn_site),
    };
    const struct CMUnitTest big[] = {
        cmocka_unit_test(test_a_million_tasks_live_at_once),
    };
    return million ? cmocka_run_group_tests(big, NULL, NULL)
                   : cmocka_run_group_tests(overflow, NULL, NULL);
}
