/*
 * test_misuse.c — bad input gets a clear error (issue 6).
 *
 * Every public function of <weft.h> is called with NULL, zero, negative,
 * huge and (where it can be detected) already-closed / already-stopped
 * arguments.  Each call must give exactly the result documented in
 * include/weft.h and docs/API.md, and the runtime must stay usable
 * afterwards (a channel round trip through a task still works, the bad call
 * had no partial effect).  docs/misuse.md lists every case in one table.
 *
 * Functions that abort on purpose (releasing a context more often than it
 * was referenced, retaining a released one) are called only in a forked
 * child, whose abort and message are checked.
 *
 * Where the library does not do what the header documents, the test still
 * asserts the documented behaviour and the case is marked
 *     DISCREPANCY(<function>): <what>
 * in a comment (grep for it), so that it is easy to find and to fix.
 *
 * Two groups:
 *  - lifecycle: starts with the runtime stopped; weft_init / weft_shutdown /
 *    weft_run / weft_set_allocator / environment variables, and the forked
 *    abort cases (forked while the runtime is stopped, so the child inherits
 *    no worker thread).
 *  - api: everything else, inside one runtime (wt_group_setup/teardown);
 *    each test is bracketed by WT_LEAK_BEGIN/END.
 */
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* ================================================================== */
/* Helpers                                                             */
/* ================================================================== */

static void noop(void *arg) { (void)arg; }

static int ret_int(void *arg) { return (int)(intptr_t)arg; }

/* Sends 42 on the channel it was given a reference to, then drops it. */
static void send42(void *p)
{
    weft_chan *c = p;
    int v = 42;
    WT_CHECK_INT_EQ(weft_chan_send(c, &v), 0);
    weft_chan_release(c);
}

/* The runtime still works: a fresh task sends on a fresh channel and this
 * thread (or task) receives it within the liveness bound.  The sender has
 * returned when this returns (the live-task count is back), so the next
 * test's leak bracket does not see it. */
static void check_usable(void)
{
    size_t n0 = weft_num_tasks();
    weft_chan *c = weft_chan_make(sizeof(int), 0);
    WT_CHECK(c != NULL);
    if (!c)
        return;
    WT_CHECK_INT_EQ(weft_go(send42, weft_chan_retain(c)), 0);
    int v = 0;
    WT_CHECK_INT_EQ(wt_recv_within(c, &v, WT_LIVENESS_NS), 0);
    WT_CHECK_INT_EQ(v, 42);
    weft_chan_release(c);
    int64_t dl = weft_deadline(WT_LIVENESS_NS);
    while (weft_num_tasks() > n0 && weft_now() < dl)
        weft_sleep(100 * WEFT_US); /* parks a task, sleeps a plain thread */
    WT_CHECK_INT_LE(weft_num_tasks(), n0);
}

static void assert_usable(void)
{
    check_usable();
    wt_assert_no_failures();
}

/* A channel still moves values (after bad calls on it). */
static void assert_chan_works(weft_chan *c)
{
    assert_true(weft_chan_cap(c) >= 1);
    int v = 7, w = 0;
    assert_int_equal(weft_chan_try_send(c, &v), 0);
    assert_int_equal(weft_chan_try_recv(c, &w), 0);
    assert_int_equal(w, 7);
}

static uint64_t workers_now(void)
{
    struct weft_stats st;
    assert_int_equal(weft_stats(&st), 0);
    return st.workers;
}

/* Bound on "returns at once" (far above any scheduling delay). */
#define AT_ONCE_NS (2 * WEFT_SEC)

/* ================================================================== */
/* Lifecycle group (runtime stopped at the start of each test)         */
/* ================================================================== */

static void test_shutdown_when_not_running_is_zero(void **state)
{
    (void)state;
    assert_int_equal(weft_shutdown(), 0);
    assert_int_equal(weft_shutdown(), 0);
    /* weft_stats on a stopped runtime is fine (and starts nothing). */
    assert_int_equal(workers_now(), 0);
    assert_int_equal(weft_num_tasks(), 0);
    assert_int_equal(weft_self(), 0);
}

static void test_init_rejects_negative_workers(void **state)
{
    (void)state;
    struct weft_config cfg = {.workers = -1};
    assert_int_equal(weft_init(&cfg), EINVAL);
    assert_int_equal(workers_now(), 0); /* nothing was started */
    cfg.workers = INT_MIN;
    assert_int_equal(weft_init(&cfg), EINVAL);
    assert_int_equal(workers_now(), 0);
    /* Still startable afterwards. */
    assert_int_equal(weft_init(NULL), 0);
    assert_true(workers_now() >= 1);
    assert_usable();
    assert_int_equal(weft_shutdown(), 0);
}

static void test_init_huge_workers_fails_cleanly(void **state)
{
    (void)state;
    /* Documented: EINVAL for bad fields, ENOMEM/EAGAIN when threads cannot
     * be had.  Any of those, never INT_MAX threads and never a crash. */
    struct weft_config cfg = {.workers = INT_MAX};
    int r = weft_init(&cfg);
    if (r == 0) {
        /* Clamped to something sane is acceptable too. */
        assert_true(workers_now() >= 1 && workers_now() <= 4096);
        assert_usable();
        assert_int_equal(weft_shutdown(), 0);
    } else {
        assert_true(r == EINVAL || r == ENOMEM || r == EAGAIN);
        assert_int_equal(workers_now(), 0);
    }
    assert_int_equal(weft_init(NULL), 0);
    assert_usable();
    assert_int_equal(weft_shutdown(), 0);
}

static void test_init_twice_is_ebusy(void **state)
{
    (void)state;
    assert_int_equal(weft_init(NULL), 0);
    uint64_t w = workers_now();
    assert_int_equal(weft_init(NULL), EBUSY);
    struct weft_config cfg = {.workers = 1};
    assert_int_equal(weft_init(&cfg), EBUSY);
    assert_int_equal(workers_now(), w); /* the running runtime is untouched */
    /* A bad config while running: EBUSY or EINVAL, nothing changes. */
    cfg.workers = -1;
    int r = weft_init(&cfg);
    assert_true(r == EBUSY || r == EINVAL);
    assert_int_equal(workers_now(), w);
    assert_usable();
    assert_int_equal(weft_shutdown(), 0);
    assert_int_equal(weft_shutdown(), 0); /* already stopped */
    /* Any API starts it again with defaults. */
    assert_usable();
    assert_true(workers_now() >= 1);
    assert_int_equal(weft_shutdown(), 0);
}

/* A stack size that can never be mapped: either weft_init refuses it with
 * EINVAL or tasks can still be spawned (clamped).  The header documents
 * only "0 | EBUSY | EINVAL for negative fields | ENOMEM | EAGAIN"; a
 * runtime that starts but can never spawn a task is not one of them. */
static void test_init_huge_stack_size(void **state)
{
    (void)state;
    struct weft_config cfg = {.stack_size = SIZE_MAX};
    int r = weft_init(&cfg);
    if (r != 0) {
        assert_int_equal(r, EINVAL);
        assert_int_equal(workers_now(), 0);
        return;
    }
    /* DISCREPANCY(weft_init): stack_size = SIZE_MAX is accepted (0), and then
     * every weft_go* returns EINVAL (not a documented weft_go result for a
     * non-NULL fn), so the runtime is started but unusable. */
    int g = weft_go(noop, NULL);
    weft_shutdown();
    assert_int_equal(g, 0);
}

/* Environment overrides (WEFT_PROCS, WEFT_STACK_SIZE) with nonsense
 * values: ignored or clamped, and the runtime works. */
struct env_case {
    const char *name, *value;
};

static void test_env_overrides_with_bad_values(void **state)
{
    (void)state;
    static const struct env_case cases[] = {
        {"WEFT_PROCS", "abc"},
        {"WEFT_PROCS", "-3"},
        {"WEFT_PROCS", "0"},
        {"WEFT_PROCS", "1"},
        {"WEFT_STACK_SIZE", "abc"},
        {"WEFT_STACK_SIZE", "-1"},
        {"WEFT_STACK_SIZE", "0"},
        {"WEFT_STACK_SIZE", "1"}, /* clamped up to the minimum */
    };
    char *saved_procs = getenv("WEFT_PROCS") ? strdup(getenv("WEFT_PROCS")) : NULL;
    char *saved_stack = getenv("WEFT_STACK_SIZE") ? strdup(getenv("WEFT_STACK_SIZE")) : NULL;
    unsetenv("WEFT_PROCS");
    unsetenv("WEFT_STACK_SIZE");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].name, cases[i].value, 1);
        int r = weft_init(NULL);
        if (r != 0)
            fail_msg("%s=%s: weft_init = %d", cases[i].name, cases[i].value, r);
        uint64_t w = workers_now();
        if (w < 1 || w > 1024)
            fail_msg("%s=%s: %llu workers", cases[i].name, cases[i].value,
                     (unsigned long long)w);
        assert_usable();
        assert_int_equal(weft_shutdown(), 0);
        unsetenv(cases[i].name);
    }
    if (saved_procs)
        setenv("WEFT_PROCS", saved_procs, 1);
    if (saved_stack)
        setenv("WEFT_STACK_SIZE", saved_stack, 1);
    free(saved_procs);
    free(saved_stack);
}

/* weft_run(NULL, ...) must not crash.  The header lists no error for it;
 * the contract's "bad arguments return EINVAL" applies. */
static void test_run_null_main_is_einval(void **state)
{
    (void)state;
    assert_int_equal(weft_run(NULL, NULL), EINVAL);
    assert_int_equal(weft_run(ret_int, (void *)(intptr_t)7), 7);
    assert_int_equal(workers_now(), 0); /* weft_run shut it down */
}

static void *fake_malloc(size_t n) { return malloc(n); }
static void *fake_calloc(size_t n, size_t s) { return calloc(n, s); }
static void *fake_realloc(void *p, size_t n) { return realloc(p, n); }
static void fake_free(void *p) { free(p); }

static void test_set_allocator_errors(void **state)
{
    (void)state;
    struct weft_allocator good = {fake_malloc, fake_calloc, fake_realloc, fake_free};
    struct weft_allocator partial = good;
    partial.free = NULL;
    /* Stopped: NULL restores libc's, an incomplete table is EINVAL. */
    assert_int_equal(weft_set_allocator(NULL), 0);
    assert_int_equal(weft_set_allocator(&partial), EINVAL);
    partial = good;
    partial.malloc = NULL;
    assert_int_equal(weft_set_allocator(&partial), EINVAL);
    assert_int_equal(weft_set_allocator(&good), 0);
    assert_int_equal(weft_set_allocator(NULL), 0);
    /* Running: EBUSY (an incomplete table may be EINVAL first). */
    assert_int_equal(weft_init(NULL), 0);
    assert_int_equal(weft_set_allocator(&good), EBUSY);
    assert_int_equal(weft_set_allocator(NULL), EBUSY);
    int r = weft_set_allocator(&partial);
    assert_true(r == EINVAL || r == EBUSY);
    assert_usable();
    assert_int_equal(weft_shutdown(), 0);
    assert_int_equal(weft_set_allocator(NULL), 0);
}

/* ---- aborts, in a forked child ----------------------------------------- */

/* Run fn in a forked child with stderr captured; return the wait status.
 * Forked while the runtime is stopped: the child has one thread. */
static int run_child(void (*fn)(void), char *err, size_t errsz)
{
    assert_int_equal(weft_shutdown(), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        /* cmocka's handlers would longjmp back into the parent's test
         * runner: a crash must kill the child, visibly. */
        signal(SIGABRT, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        fn();
        _exit(0);
    }
    close(p[1]);
    /* Keep the start; drain the rest (a child writing into a closed pipe
     * would die of SIGPIPE instead of its own fate). */
    size_t n = 0;
    ssize_t r;
    char sink[4096];
    while ((r = read(p[0], n + 1 < errsz ? err + n : sink,
                     n + 1 < errsz ? errsz - 1 - n : sizeof sink)) > 0)
        if (n + 1 < errsz)
            n += (size_t)r;
    err[n] = 0;
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static void assert_aborted_with(int st, const char *err, const char *msg)
{
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
        fail_msg("child did not abort (status %#x); stderr:\n%s", st, err);
    if (!strstr(err, msg))
        fail_msg("abort message lacks \"%s\"; stderr:\n%s", msg, err);
}

/* Out-of-range numbers in the environment, each in a forked child (the
 * undefined behaviour below kills a sanitizer build, and a child keeps the
 * parent's environment clean).  Documented: the override sets the value;
 * a nonsense value must not make weft_init fail or the runtime unusable.
 * DISCREPANCY(weft_init, env): the value is parsed with strtol into a long
 * and then cast to int (WEFT_PROCS) or used as is (WEFT_STACK_SIZE):
 * "2147483648" becomes a negative worker count (weft_init fails with ENOMEM
 * from calloc of a negative size; ASan: calloc-overflow), and
 * "99999999999999999999" (LONG_MAX) becomes a stack size every weft_go
 * rejects with EINVAL.  "9223372036854775807k" overflows a signed multiply
 * (undefined behaviour; UBSan: "signed integer overflow"). */
static const struct env_case env_out_of_range[] = {
    {"WEFT_PROCS", "2147483648"},
    {"WEFT_PROCS", "99999999999999999999"},
    {"WEFT_STACK_SIZE", "99999999999999999999"},
    {"WEFT_STACK_SIZE", "9223372036854775807k"},
};
static size_t env_case_index;

static void child_env_out_of_range(void)
{
    const struct env_case *c = &env_out_of_range[env_case_index];
    unsetenv("WEFT_PROCS");
    unsetenv("WEFT_STACK_SIZE");
    setenv(c->name, c->value, 1);
    int r = weft_init(NULL);
    if (r != 0) {
        fprintf(stderr, "weft_init = %d", r);
        _exit(1);
    }
    struct weft_stats st;
    weft_stats(&st);
    int g = weft_go(noop, NULL);
    if (st.workers < 1 || st.workers > 1024 || g != 0) {
        fprintf(stderr, "%llu workers, weft_go = %d", (unsigned long long)st.workers, g);
        _exit(2);
    }
    _exit(weft_shutdown() == 0 ? 0 : 3);
}

static void test_env_overrides_out_of_range(void **state)
{
    (void)state;
    char failures[2048] = "";
    for (env_case_index = 0; env_case_index < sizeof env_out_of_range / sizeof env_out_of_range[0];
         env_case_index++) {
        char err[200];
        int st = run_child(child_env_out_of_range, err, sizeof err);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            continue;
        /* One line of the child's stderr: a sanitizer's verdict if any. */
        char *msg = strstr(err, "ERROR: ");
        if (!msg)
            msg = strstr(err, "runtime error: ");
        if (!msg)
            msg = err;
        msg[strcspn(msg, "\n")] = 0;
        char line[300];
        snprintf(line, sizeof line, " [%s=%s: %s%s]", env_out_of_range[env_case_index].name,
                 env_out_of_range[env_case_index].value,
                 WIFSIGNALED(st) ? "killed by a signal: " : "", msg);
        strncat(failures, line, sizeof failures - strlen(failures) - 1);
    }
    if (failures[0])
        fail_msg("bad environment values broke the runtime:%s", failures);
}

/* The parent is still alive (a child holds it), so its count is readable
 * and the second release is detected rather than a use after free. */
static void child_ctx_over_release(void)
{
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *k = weft_ctx_with_cancel(p);
    (void)k;
    weft_ctx_release(p);
    weft_ctx_release(p); /* one more than referenced: aborts */
}

static void test_ctx_release_more_than_referenced_aborts(void **state)
{
    (void)state;
    char err[4096];
    int st = run_child(child_ctx_over_release, err, sizeof err);
    assert_aborted_with(st, err, "released more often than it was referenced");
    assert_non_null(strstr(err, "weft: fatal:"));
}

static void child_ctx_retain_after_release(void)
{
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx *k = weft_ctx_with_cancel(p);
    (void)k;
    weft_ctx_release(p);
    weft_ctx_retain(p); /* resurrecting a released context: aborts */
}

static void test_ctx_retain_after_release_aborts(void **state)
{
    (void)state;
    char err[4096];
    int st = run_child(child_ctx_retain_after_release, err, sizeof err);
    assert_aborted_with(st, err, "was already released");
}

/* Releasing the background context or NULL any number of times is a
 * no-op (not an abort): the child must exit normally. */
static void child_release_background_many_times(void)
{
    for (int i = 0; i < 1000; i++) {
        weft_ctx_release(weft_ctx_background());
        weft_ctx_release(NULL);
        weft_ctx_retain(weft_ctx_background());
    }
    weft_ctx *c = weft_ctx_with_cancel(weft_ctx_background());
    _exit(c && weft_ctx_err(c) == 0 && weft_ctx_err(weft_ctx_background()) == 0 ? 0 : 3);
}

static void test_background_release_is_a_noop_not_an_abort(void **state)
{
    (void)state;
    char err[4096];
    int st = run_child(child_release_background_many_times, err, sizeof err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child status %#x; stderr:\n%s", st, err);
}

/* A mutex whose state word holds a value weft never writes (garbage, or a
 * stale copy): unlock fails an internal assertion and aborts loudly rather
 * than corrupting the queue.  0xdeadbeef: a pass count over the bound and
 * HANDOFF without WOKEN; 3: locked with waiters queued but an empty queue
 * (a copy of a mutex that had waiters). */
static unsigned corrupt_mutex_state;

static void child_corrupted_mutex_unlock(void)
{
    weft_mutex m = WEFT_MUTEX_INIT;
    m._state = corrupt_mutex_state;
    weft_mutex_unlock(&m);
}

static void test_corrupted_mutex_aborts(void **state)
{
    (void)state;
    const unsigned bad[] = {0xdeadbeefu, 3u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[4096];
        corrupt_mutex_state = bad[i];
        int st = run_child(child_corrupted_mutex_unlock, err, sizeof err);
        assert_aborted_with(st, err, "assertion failed");
    }
}

/* A context with a deadline made while the runtime cannot start (thread
 * creation fails): the header documents NULL + errno (ENOMEM) for a
 * constructor that cannot get its resources, and weft_init reports the
 * same failure as EAGAIN.
 * DISCREPANCY(weft_ctx_with_timeout / weft_ctx_with_deadline): the deadline
 * timer starts the runtime, and when that fails it aborts ("timer started
 * without a runtime") instead of returning NULL. */
static void child_deadline_ctx_without_runtime(void)
{
    if (weft_fail_nth(WEFT_FAIL_THREAD, 1) != 0)
        _exit(10);
    errno = 0;
    weft_ctx *c = weft_ctx_with_timeout(weft_ctx_background(), 10 * WEFT_SEC);
    int e = errno;
    weft_fail_nth(WEFT_FAIL_THREAD, 0);
    if (c) {
        /* Also fine: it got a runtime after all (a retry succeeded). */
        weft_ctx_release(c);
        weft_shutdown();
        _exit(0);
    }
    _exit(e == ENOMEM || e == EAGAIN ? 0 : 20);
}

static void test_deadline_ctx_when_the_runtime_cannot_start(void **state)
{
    (void)state;
    char err[4096];
    int st = run_child(child_deadline_ctx_without_runtime, err, sizeof err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("weft_ctx_with_timeout with no runtime: child status %#x (want NULL + "
                 "ENOMEM/EAGAIN, no abort); stderr:\n%s",
                 st, err);
}

/* A timer, a ticker or a context deadline still armed when the runtime
 * shuts down, stopped / released afterwards (with or without a new
 * weft_init first): the runtime must not touch the freed workers' timer
 * heaps.  Nothing in the header forbids it, weft_shutdown promises never to
 * free memory under a live task, and the contract says misuse is never a
 * silent corruption.
 * DISCREPANCY(weft_timer_stop / weft_ctx_release after weft_shutdown): the
 * timer is still linked to a heap inside a freed worker; stopping it (or
 * releasing / cancelling the context) is a use after free (SIGSEGV in
 * Debug; heap-use-after-free under -DWEFT_ASAN=ON). */
static int armed_kind;   /* 0 timer, 1 ticker, 2 context with a timeout */
static int armed_reinit; /* weft_init again before stopping */

static void child_armed_across_shutdown(void)
{
    if (weft_init(NULL) != 0)
        _exit(10);
    weft_timer *t = NULL;
    weft_ctx *c = NULL;
    if (armed_kind == 0)
        t = weft_timer_make(10 * WEFT_SEC);
    else if (armed_kind == 1)
        t = weft_ticker_make(10 * WEFT_SEC);
    else
        c = weft_ctx_with_timeout(weft_ctx_background(), 10 * WEFT_SEC);
    if (!t && !c)
        _exit(11);
    if (weft_shutdown() != 0)
        _exit(12);
    if (armed_reinit && weft_init(NULL) != 0)
        _exit(13);
    weft_timer_stop(t);
    if (c) {
        weft_ctx_cancel(c);
        weft_ctx_release(c);
    }
    /* The runtime (re)starts and its timers work. */
    weft_timer *u = weft_timer_make(0);
    int64_t at;
    if (!u || weft_chan_recv(weft_timer_chan(u), &at) != 0)
        _exit(14);
    weft_timer_stop(u);
    if (weft_shutdown() != 0)
        _exit(15);
    _exit(0);
}

static void test_timers_stopped_after_shutdown(void **state)
{
    (void)state;
    static const char *const kind[] = {"weft_timer_stop(timer)", "weft_timer_stop(ticker)",
                                       "weft_ctx_release(timeout ctx)"};
    char failures[2048] = "";
    for (armed_kind = 0; armed_kind < 3; armed_kind++) {
        for (armed_reinit = 0; armed_reinit < 2; armed_reinit++) {
            char err[4096];
            int st = run_child(child_armed_across_shutdown, err, sizeof err);
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                continue;
            const char *asan = strstr(err, "ERROR: AddressSanitizer: ");
            char verdict[64] = "";
            if (asan)
                snprintf(verdict, sizeof verdict, " (%.*s)", (int)strcspn(asan + 25, " \n"),
                         asan + 25);
            char line[200];
            snprintf(line, sizeof line, " [%s after weft_shutdown%s: %s %d%s]", kind[armed_kind],
                     armed_reinit ? " + weft_init" : "",
                     WIFSIGNALED(st) ? "killed by signal" : "exit",
                     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), verdict);
            strncat(failures, line, sizeof failures - strlen(failures) - 1);
        }
    }
    if (failures[0])
        fail_msg("objects armed across shutdown:%s", failures);
}

/* ================================================================== */
/* API group (one runtime)                                             */
/* ================================================================== */

/* ---- time ------------------------------------------------------------- */

static void test_deadline_saturates_and_is_overflow_safe(void **state)
{
    (void)state;
    int64_t before = weft_now();
    assert_true(before >= 0);
    assert_int_equal(weft_deadline(WEFT_FOREVER), WEFT_FOREVER);
    assert_int_equal(weft_deadline(WEFT_FOREVER - 1), WEFT_FOREVER);
    assert_int_equal(weft_deadline(WEFT_FOREVER - before / 2), WEFT_FOREVER);
    int64_t d0 = weft_deadline(0);
    int64_t dneg = weft_deadline(-WEFT_SEC);
    int64_t dmin = weft_deadline(INT64_MIN);
    int64_t dmin1 = weft_deadline(INT64_MIN + 1);
    int64_t after = weft_now();
    assert_true(d0 >= before && d0 <= after);
    assert_true(dneg >= before - WEFT_SEC && dneg <= after - WEFT_SEC);
    /* now + INT64_MIN: in the past, no overflow (now >= 0). */
    assert_true(dmin <= 0);
    assert_true(dmin >= INT64_MIN);
    assert_true(dmin >= before + INT64_MIN && dmin <= after + INT64_MIN);
    assert_true(dmin1 <= 0);
    assert_true(weft_now() >= after); /* monotonic */
}

struct sleep_arg {
    int dummy;
};

static void sleeps_return_at_once(void *arg)
{
    (void)arg;
    int64_t t0 = weft_now();
    WT_CHECK_INT_EQ(weft_sleep(0), 0);
    WT_CHECK_INT_EQ(weft_sleep(-1), 0);
    WT_CHECK_INT_EQ(weft_sleep(-WEFT_SEC), 0);
    WT_CHECK_INT_EQ(weft_sleep(INT64_MIN), 0);
    WT_CHECK_INT_EQ(weft_sleep(1), 0);
    WT_CHECK(weft_now() - t0 < AT_ONCE_NS);
    weft_yield();
}

static void test_sleep_zero_negative_and_int64_min_return_at_once(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    sleeps_return_at_once(NULL);   /* plain thread */
    wt_assert_no_failures();
    wt_run_in_task(sleeps_return_at_once, NULL);
    WT_LEAK_END();
}

static void thread_self_is_zero(void *arg)
{
    (void)arg;
    WT_CHECK_INT_EQ(weft_self(), 0);
    weft_yield(); /* sched_yield on a plain thread */
}

static void test_self_and_yield_off_a_task(void **state)
{
    (void)state;
    assert_int_equal(weft_self(), 0);
    weft_yield();
    wt_run_in_thread(thread_self_is_zero, NULL);
    wt_assert_no_failures();
}

/* ---- tasks ------------------------------------------------------------- */

static void test_go_null_fn_is_einval(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    size_t n = weft_num_tasks();
    int x = 1;
    assert_int_equal(weft_go(NULL, NULL), EINVAL);
    assert_int_equal(weft_go(NULL, &x), EINVAL);
    assert_int_equal(weft_go_copy(NULL, &x, sizeof x), EINVAL);
    assert_int_equal(weft_go_opts(NULL, NULL, NULL), EINVAL);
    struct weft_task_opts o = {.name = "x"};
    assert_int_equal(weft_go_opts(&o, NULL, NULL), EINVAL);
    assert_int_equal(weft_go_at(NULL, NULL, NULL, NULL, 0, NULL), EINVAL);
    assert_int_equal(weft_num_tasks(), n); /* nothing was spawned */
    assert_usable();
    WT_LEAK_END();
}

static weft_chan *copy_seen;
static void report_copy(void *arg)
{
    int v = arg ? *(int *)arg : -1;
    WT_CHECK_INT_EQ(weft_chan_send(copy_seen, &v), 0);
}

static void test_go_copy_null_arg_and_huge_size(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    size_t n = weft_num_tasks();
    assert_int_equal(weft_go_copy(report_copy, NULL, sizeof(int)), EINVAL);
    assert_int_equal(weft_go_copy(report_copy, NULL, SIZE_MAX), EINVAL);
    assert_int_equal(weft_num_tasks(), n);
    /* A huge copy size: refused (EINVAL, or ENOMEM: it cannot be had),
     * never a crash or a wrapped size. */
    int x = 5;
    int r = weft_go_copy(report_copy, &x, SIZE_MAX);
    assert_true(r == EINVAL || r == ENOMEM);
    r = weft_go_copy(report_copy, &x, SIZE_MAX / 2);
    assert_true(r == EINVAL || r == ENOMEM);
    assert_int_equal(weft_num_tasks(), n);
    /* NULL with size 0 is fine: fn gets NULL (nothing to copy). */
    copy_seen = weft_chan_make(sizeof(int), 2);
    assert_non_null(copy_seen);
    assert_int_equal(weft_go_copy(report_copy, NULL, 0), 0);
    assert_int_equal(weft_go_copy(report_copy, &x, sizeof x), 0);
    int a = 0, b = 0;
    assert_int_equal(wt_recv_within(copy_seen, &a, WT_LIVENESS_NS), 0);
    assert_int_equal(wt_recv_within(copy_seen, &b, WT_LIVENESS_NS), 0);
    assert_true((a == -1 && b == 5) || (a == 5 && b == -1));
    weft_chan_release(copy_seen);
    assert_usable();
    WT_LEAK_END();
}

static weft_chan *ran_chan;
static void ran(void *arg)
{
    (void)arg;
    WT_CHECK_INT_EQ(weft_chan_send(ran_chan, NULL), 0);
}

static void test_go_opts_defaults_and_clamps(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    ran_chan = weft_chan_make(0, 8);
    assert_non_null(ran_chan);
    assert_int_equal(weft_go_opts(NULL, ran, NULL), 0);
    struct weft_task_opts o = {0};
    assert_int_equal(weft_go_opts(&o, ran, NULL), 0);
    o.stack_size = 1; /* clamped up to the minimum */
    o.name = "tiny";
    assert_int_equal(weft_go_opts(&o, ran, NULL), 0);
    assert_int_equal(wt_wait_n(ran_chan, 3), 3);
    /* The three have sent, but may still be on their way out: count from
     * when they are gone. */
    size_t n = wt_await_num_tasks(wt__leak.tasks, WT_LIVENESS_NS);
    assert_int_equal(n, wt__leak.tasks);
    /* A stack that can never be mapped: refused, nothing counted. */
    o.stack_size = SIZE_MAX;
    int r = weft_go_opts(&o, ran, NULL);
    assert_true(r == EINVAL || r == ENOMEM);
    o.stack_size = SIZE_MAX / 2;
    r = weft_go_opts(&o, ran, NULL);
    assert_true(r == EINVAL || r == ENOMEM);
    assert_int_equal(weft_num_tasks(), n);
    weft_chan_release(ran_chan);
    assert_usable();
    WT_LEAK_END();
}

/* The *_at entry points with NULL site strings: tasks and channels work
 * and a dump of them does not crash. */
static weft_chan *gate;
static void wait_gate(void *arg)
{
    (void)arg;
    WT_CHECK_INT_EQ(weft_chan_recv(gate, NULL), EPIPE);
}

static void test_at_variants_with_null_sites(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    gate = weft_chan_make_at(0, 0, NULL, 0);
    assert_non_null(gate);
    assert_int_equal(weft_go_at(wait_gate, NULL, NULL, NULL, 0, NULL), 0);
    assert_int_equal(weft_go_at(wait_gate, NULL, NULL, NULL, -5, NULL), 0);
    struct weft_task_opts o = {.name = NULL};
    assert_int_equal(weft_go_opts_at(&o, wait_gate, NULL, NULL, NULL, INT_MIN, NULL), 0);
    int x = 1;
    assert_int_equal(weft_go_copy_at(wait_gate, &x, sizeof x, NULL, NULL, 0, NULL), 0);
    wt_settle();
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_true(weft_dump_tasks(f) >= 4);
    long len = ftell(f);
    assert_true(len > 0);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    assert_non_null(strstr(text, "an unrecorded site"));
    free(text);
    assert_true(weft_dump_tasks_json(f) >= 4);
    fclose(f);
    assert_int_equal(weft_chan_close(gate), 0);
    weft_chan_release(gate);
    WT_LEAK_END();
}

static void shutdown_in_task(void *arg)
{
    (void)arg;
    /* "Must not be called from inside a task": it must refuse, not hang or
     * stop the workers under itself. */
    WT_CHECK_INT_NE(weft_shutdown(), 0);
    check_usable();
}

static void test_shutdown_from_a_task_is_refused(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    wt_run_in_task(shutdown_in_task, NULL);
    assert_true(workers_now() >= 1);
    assert_usable();
    WT_LEAK_END();
}

static void run_nested(void *arg)
{
    (void)arg;
    /* weft_run from a task just runs main_fn; the runtime keeps going. */
    WT_CHECK_INT_EQ(weft_run(ret_int, (void *)(intptr_t)9), 9);
    WT_CHECK_INT_EQ(weft_run(NULL, NULL), EINVAL);
    check_usable();
}

static void test_run_nested_in_a_task(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    wt_run_in_task(run_nested, NULL);
    assert_true(workers_now() >= 1);
    WT_LEAK_END();
}

static void test_init_while_running_is_ebusy(void **state)
{
    (void)state;
    assert_int_equal(weft_init(NULL), EBUSY);
    struct weft_config cfg = {.workers = 3};
    assert_int_equal(weft_init(&cfg), EBUSY);
    assert_usable();
}

/* ---- channels ---------------------------------------------------------- */

static void test_chan_make_overflowing_sizes(void **state)
{
    (void)state;
    const struct {
        size_t es, cap;
    } bad[] = {
        {SIZE_MAX, 2},
        {SIZE_MAX, SIZE_MAX},
        {1, SIZE_MAX},
        {8, SIZE_MAX / 8},
        {SIZE_MAX / 2 + 1, 2},
        {(size_t)1 << 32, (size_t)1 << 32},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        weft_chan *c = weft_chan_make(bad[i].es, bad[i].cap);
        if (c || errno != EINVAL)
            fail_msg("weft_chan_make(%zu, %zu) = %p, errno %d (want NULL, EINVAL)", bad[i].es,
                     bad[i].cap, (void *)c, errno);
    }
    /* An element too big to ever copy, even unbuffered: refused. */
    errno = 0;
    assert_null(weft_chan_make(SIZE_MAX, 0));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_chan_make(((size_t)1 << 30) + 1, 0));
    assert_int_equal(errno, EINVAL);
    /* 1 GiB elements, unbuffered: no buffer is allocated, so it is made. */
    weft_chan *big = weft_chan_make((size_t)1 << 30, 0);
    assert_non_null(big);
    assert_int_equal(weft_chan_cap(big), 0);
    weft_chan_release(big);
    assert_usable();
}

static void test_chan_make_signal_only_with_huge_cap(void **state)
{
    (void)state;
    /* elem_size 0 needs no buffer: any capacity is fine (as in Go). */
    weft_chan *c = weft_chan_make(0, SIZE_MAX);
    assert_non_null(c);
    assert_int_equal(weft_chan_cap(c), SIZE_MAX);
    assert_int_equal(weft_chan_try_send(c, NULL), 0);
    assert_int_equal(weft_chan_send(c, NULL), 0);
    assert_int_equal(weft_chan_len(c), 2);
    assert_int_equal(weft_chan_recv(c, NULL), 0);
    assert_int_equal(weft_chan_try_recv(c, NULL), 0);
    assert_int_equal(weft_chan_try_recv(c, NULL), EAGAIN);
    weft_chan_release(c);
}

static void test_chan_null_channel_is_einval(void **state)
{
    (void)state;
    int v = 1;
    assert_int_equal(weft_chan_send(NULL, &v), EINVAL);
    assert_int_equal(weft_chan_send(NULL, NULL), EINVAL);
    assert_int_equal(weft_chan_recv(NULL, &v), EINVAL);
    assert_int_equal(weft_chan_recv(NULL, NULL), EINVAL);
    assert_int_equal(weft_chan_try_send(NULL, &v), EINVAL);
    assert_int_equal(weft_chan_try_recv(NULL, &v), EINVAL);
    assert_int_equal(weft_chan_send_ctx(NULL, &v, NULL), EINVAL);
    assert_int_equal(weft_chan_recv_ctx(NULL, &v, NULL), EINVAL);
    assert_int_equal(weft_chan_send_ctx(NULL, &v, weft_ctx_background()), EINVAL);
    assert_int_equal(weft_chan_recv_ctx(NULL, &v, weft_ctx_background()), EINVAL);
    assert_int_equal(weft_chan_close(NULL), EINVAL);
    assert_int_equal(weft_chan_len(NULL), 0);
    assert_int_equal(weft_chan_cap(NULL), 0);
    assert_null(weft_chan_retain(NULL));
    weft_chan_release(NULL); /* no-op */
    assert_int_equal(v, 1);  /* untouched */
    assert_usable();
}

static void test_chan_null_elem(void **state)
{
    (void)state;
    weft_chan *c = weft_chan_make(sizeof(int), 2);
    assert_non_null(c);
    /* NULL elem with elem_size > 0: EINVAL, nothing enqueued. */
    assert_int_equal(weft_chan_send(c, NULL), EINVAL);
    assert_int_equal(weft_chan_try_send(c, NULL), EINVAL);
    assert_int_equal(weft_chan_send_ctx(c, NULL, NULL), EINVAL);
    assert_int_equal(weft_chan_send_ctx(c, NULL, weft_ctx_background()), EINVAL);
    assert_int_equal(weft_chan_len(c), 0);
    /* NULL out is allowed: the value is discarded. */
    int v = 3;
    assert_int_equal(weft_chan_send(c, &v), 0);
    assert_int_equal(weft_chan_send(c, &v), 0);
    assert_int_equal(weft_chan_recv(c, NULL), 0);
    assert_int_equal(weft_chan_try_recv(c, NULL), 0);
    assert_int_equal(weft_chan_send(c, &v), 0);
    assert_int_equal(weft_chan_recv_ctx(c, NULL, NULL), 0);
    assert_int_equal(weft_chan_len(c), 0);
    assert_chan_works(c);
    weft_chan_release(c);

    /* Signal-only: elem may be NULL (or anything, it is not read). */
    weft_chan *s = weft_chan_make(0, 1);
    assert_non_null(s);
    assert_int_equal(weft_chan_send(s, NULL), 0);
    assert_int_equal(weft_chan_recv(s, NULL), 0);
    assert_int_equal(weft_chan_try_send(s, &v), 0);
    int out = 99;
    assert_int_equal(weft_chan_try_recv(s, &out), 0);
    assert_int_equal(out, 99); /* zero bytes written */
    weft_chan_release(s);
}

static void test_chan_closed(void **state)
{
    (void)state;
    weft_chan *c = weft_chan_make(sizeof(int), 2);
    assert_non_null(c);
    int v = 11;
    assert_int_equal(weft_chan_send(c, &v), 0);
    assert_int_equal(weft_chan_close(c), 0);
    /* Close twice: EPIPE (Go: panic). */
    assert_int_equal(weft_chan_close(c), EPIPE);
    assert_int_equal(weft_chan_close(c), EPIPE);
    /* Send on closed: EPIPE (Go: panic), nothing enqueued. */
    assert_int_equal(weft_chan_send(c, &v), EPIPE);
    assert_int_equal(weft_chan_try_send(c, &v), EPIPE);
    assert_int_equal(weft_chan_send_ctx(c, &v, NULL), EPIPE);
    assert_int_equal(weft_chan_send_ctx(c, &v, weft_ctx_background()), EPIPE);
    weft_ctx *live = weft_ctx_with_cancel(weft_ctx_background());
    assert_non_null(live);
    assert_int_equal(weft_chan_send_ctx(c, &v, live), EPIPE);
    /* A NULL elem is still EINVAL first. */
    assert_int_equal(weft_chan_send(c, NULL), EINVAL);
    assert_int_equal(weft_chan_len(c), 1);
    /* The buffered value is still delivered, then EPIPE with *out zeroed. */
    int out = -1;
    assert_int_equal(weft_chan_recv(c, &out), 0);
    assert_int_equal(out, 11);
    out = -1;
    assert_int_equal(weft_chan_recv(c, &out), EPIPE);
    assert_int_equal(out, 0);
    out = -1;
    assert_int_equal(weft_chan_try_recv(c, &out), EPIPE);
    assert_int_equal(out, 0);
    out = -1;
    assert_int_equal(weft_chan_recv_ctx(c, &out, live), EPIPE);
    assert_int_equal(out, 0);
    assert_int_equal(weft_chan_recv(c, NULL), EPIPE);
    assert_int_equal(weft_chan_try_recv(c, NULL), EPIPE);
    weft_ctx_release(live);
    weft_chan_release(c);
    assert_usable();
}

static void test_chan_ctx_done_contexts(void **state)
{
    (void)state;
    weft_chan *c = weft_chan_make(sizeof(int), 0); /* never ready: no peer */
    assert_non_null(c);
    int v = 1;
    weft_ctx *canceled = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx_cancel(canceled);
    assert_int_equal(weft_chan_send_ctx(c, &v, canceled), ECANCELED);
    assert_int_equal(weft_chan_recv_ctx(c, &v, canceled), ECANCELED);
    weft_ctx *expired = weft_ctx_with_deadline(weft_ctx_background(), 0);
    assert_non_null(expired);
    assert_int_equal(weft_chan_send_ctx(c, &v, expired), ETIMEDOUT);
    assert_int_equal(weft_chan_recv_ctx(c, &v, expired), ETIMEDOUT);
    weft_ctx *short_ctx = weft_ctx_with_timeout(weft_ctx_background(), 2 * WEFT_MS);
    assert_int_equal(weft_chan_recv_ctx(c, &v, short_ctx), ETIMEDOUT);
    weft_ctx_release(short_ctx);
    weft_ctx_release(expired);
    weft_ctx_release(canceled);
    assert_int_equal(weft_chan_len(c), 0);
    weft_chan_release(c);
    assert_usable();
}

/* ---- select ------------------------------------------------------------ */

static void test_select_null_cases_is_einval(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(weft_select(NULL, 1, 0), -EINVAL);
    assert_int_equal(errno, 0); /* errno untouched */
    errno = 0;
    /* Must not block: the arguments are checked first. */
    assert_int_equal(weft_select(NULL, 1, WEFT_FOREVER), -EINVAL);
    errno = 0;
    assert_int_equal(weft_select(NULL, SIZE_MAX, WEFT_FOREVER), -EINVAL);
    assert_int_equal(errno, 0); /* errno untouched */
    /* NULL with n == 0 is an empty select: default branch. */
    errno = 0;
    assert_int_equal(weft_select(NULL, 0, 0), -ETIMEDOUT);
    assert_int_equal(errno, 0); /* errno untouched */
    assert_usable();
}

static void test_select_too_many_cases_is_einval(void **state)
{
    (void)state;
    size_t n = (size_t)UINT16_MAX + 1;
    weft_case *cs = calloc(n, sizeof *cs);
    assert_non_null(cs);
    for (size_t i = 0; i < n; i++)
        cs[i] = WEFT_CASE_RECV(NULL, NULL);
    errno = 0;
    assert_int_equal(weft_select(cs, n, WEFT_FOREVER), -EINVAL); /* must not block */
    assert_int_equal(errno, 0); /* errno untouched */
    /* The largest accepted select: all NULL cases, default branch. */
    errno = 0;
    assert_int_equal(weft_select(cs, n - 1, 0), -ETIMEDOUT);
    assert_int_equal(errno, 0); /* errno untouched */
    free(cs);
    assert_usable();
}

static void test_select_bad_dir_is_einval_without_side_effect(void **state)
{
    (void)state;
    weft_chan *c = weft_chan_make(sizeof(int), 1);
    assert_non_null(c);
    int v = 5, out = 0;
    assert_int_equal(weft_chan_send(c, &v), 0);
    const int dirs[] = {0, 3, -1, 4, INT_MAX};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        /* Case 0 is ready; case 1 is bad: nothing may happen. */
        weft_case cs[2] = {WEFT_CASE_RECV(c, &out), {.chan = c, .dir = (enum weft_dir)dirs[i]}};
        errno = 0;
        assert_int_equal(weft_select(cs, 2, WEFT_FOREVER), -EINVAL);
        assert_int_equal(errno, 0); /* errno untouched */
        /* A bad dir on a NULL (disabled) case is still a bad argument. */
        weft_case nc[2] = {WEFT_CASE_RECV(c, &out), {.chan = NULL, .dir = (enum weft_dir)dirs[i]}};
        errno = 0;
        assert_int_equal(weft_select(nc, 2, 0), -EINVAL);
        assert_int_equal(errno, 0); /* errno untouched */
    }
    assert_int_equal(out, 0);
    assert_int_equal(weft_chan_len(c), 1); /* the value was not taken */
    assert_int_equal(weft_chan_recv(c, &out), 0);
    assert_int_equal(out, 5);
    assert_chan_works(c);
    weft_chan_release(c);
}

static void test_select_send_case_null_val(void **state)
{
    (void)state;
    /* Consistent with weft_chan_send: a NULL element for elem_size > 0 is
     * EINVAL (the header's select comment names only NULL cases and bad
     * dir; docs/misuse.md lists this one too). */
    weft_chan *c = weft_chan_make(sizeof(int), 1);
    assert_non_null(c);
    weft_case cs[1] = {WEFT_CASE_SEND(c, NULL)};
    errno = 0;
    assert_int_equal(weft_select(cs, 1, 0), -EINVAL);
    assert_int_equal(errno, 0); /* errno untouched */
    assert_int_equal(weft_chan_len(c), 0);
    /* Signal-only channel: NULL val is fine. */
    weft_chan *s = weft_chan_make(0, 1);
    weft_case ss[1] = {WEFT_CASE_SEND(s, NULL)};
    assert_int_equal(weft_select(ss, 1, 0), 0);
    assert_true(ss[0].ok);
    /* RECV with NULL val: allowed, discards. */
    int v = 4;
    assert_int_equal(weft_chan_send(c, &v), 0);
    weft_case rc[1] = {WEFT_CASE_RECV(c, NULL)};
    assert_int_equal(weft_select(rc, 1, 0), 0);
    assert_true(rc[0].ok);
    assert_chan_works(c);
    weft_chan_release(s);
    weft_chan_release(c);
}

static void select_deadlines_body(void *arg)
{
    (void)arg;
    const int64_t past[] = {0, -1, INT64_MIN, INT64_MIN + 1, 1};
    int64_t t0 = weft_now();
    for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
        /* n == 0, deadline passed: the default branch at once. */
        errno = 0;
        WT_CHECK_INT_EQ(weft_select(NULL, 0, past[i]), -ETIMEDOUT);
        weft_case none[1] = {0};
        errno = 0;
        WT_CHECK_INT_EQ(weft_select(none, 0, past[i]), -ETIMEDOUT);
        /* Only NULL (never ready) cases. */
        weft_case nc[2] = {WEFT_CASE_RECV(NULL, NULL), WEFT_CASE_SEND(NULL, NULL)};
        errno = 0;
        WT_CHECK_INT_EQ(weft_select(nc, 2, past[i]), -ETIMEDOUT);
    }
    /* A deadline a moment in the past (positive). */
    errno = 0;
    WT_CHECK_INT_EQ(weft_select(NULL, 0, weft_now() - 1), -ETIMEDOUT);
    WT_CHECK(weft_now() - t0 < AT_ONCE_NS);
    /* n == 0 with a near deadline: waits for it, then ETIMEDOUT. */
    int64_t dl = weft_deadline(3 * WEFT_MS);
    errno = 0;
    WT_CHECK_INT_EQ(weft_select(NULL, 0, dl), -ETIMEDOUT);
    WT_CHECK(weft_now() >= dl);
    /* A ready case with WEFT_FOREVER or a past deadline proceeds. */
    weft_chan *c = weft_chan_make(sizeof(int), 1);
    int v = 8, out = 0;
    WT_CHECK_INT_EQ(weft_chan_send(c, &v), 0);
    weft_case rc[2] = {WEFT_CASE_RECV(NULL, NULL), WEFT_CASE_RECV(c, &out)};
    WT_CHECK_INT_EQ(weft_select(rc, 2, INT64_MIN), 1);
    WT_CHECK(rc[1].ok);
    WT_CHECK_INT_EQ(out, 8);
    WT_CHECK_INT_EQ(weft_chan_send(c, &v), 0);
    WT_CHECK_INT_EQ(weft_select(rc, 2, WEFT_FOREVER), 1);
    weft_chan_release(c);
}

static void test_select_deadlines_zero_negative_int64_min(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    select_deadlines_body(NULL);
    wt_assert_no_failures();
    wt_run_in_task(select_deadlines_body, NULL);
    WT_LEAK_END();
}

static void test_select_on_closed_channels(void **state)
{
    (void)state;
    weft_chan *c = weft_chan_make(sizeof(int), 0);
    assert_non_null(c);
    assert_int_equal(weft_chan_close(c), 0);
    int out = -1, v = 1;
    /* RECV on closed: ready, ok = false, val zeroed. */
    weft_case rc[1] = {WEFT_CASE_RECV(c, &out)};
    rc[0].ok = true;
    assert_int_equal(weft_select(rc, 1, 0), 0);
    assert_false(rc[0].ok);
    assert_int_equal(out, 0);
    /* SEND on closed: ready, ok = false (Go panics). */
    weft_case sc[1] = {WEFT_CASE_SEND(c, &v)};
    sc[0].ok = true;
    assert_int_equal(weft_select(sc, 1, WEFT_FOREVER), 0);
    assert_false(sc[0].ok);
    weft_chan_release(c);
    assert_usable();
}

/* ---- timers ------------------------------------------------------------ */

static void test_ticker_nonpositive_period_is_einval(void **state)
{
    (void)state;
    const int64_t bad[] = {0, -1, -WEFT_SEC, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        weft_timer *t = weft_ticker_make(bad[i]);
        if (t || errno != EINVAL)
            fail_msg("weft_ticker_make(%lld) = %p, errno %d", (long long)bad[i], (void *)t,
                     errno);
    }
    /* A ticker that never ticks is fine. */
    weft_timer *t = weft_ticker_make(WEFT_FOREVER);
    assert_non_null(t);
    int64_t at;
    assert_int_equal(weft_chan_try_recv(weft_timer_chan(t), &at), EAGAIN);
    weft_timer_stop(t);
    assert_usable();
}

static void test_timer_null(void **state)
{
    (void)state;
    assert_null(weft_timer_chan(NULL));
    assert_int_equal(weft_timer_reset(NULL, 1), EINVAL);
    assert_int_equal(weft_timer_reset(NULL, 0), EINVAL);
    assert_int_equal(weft_timer_reset(NULL, -1), EINVAL);
    weft_timer_stop(NULL); /* no crash */
    assert_usable();
}

static void test_timer_past_durations_fire_at_once(void **state)
{
    (void)state;
    const int64_t d[] = {0, -1, -WEFT_SEC, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        int64_t t0 = weft_now();
        weft_timer *t = weft_timer_make(d[i]);
        assert_non_null(t);
        int64_t at = 0;
        assert_int_equal(wt_recv_within(weft_timer_chan(t), &at, AT_ONCE_NS), 0);
        assert_true(at >= t0);
        /* Reset to a past duration: fires again at once. */
        assert_int_equal(weft_timer_reset(t, d[i]), 0);
        assert_int_equal(wt_recv_within(weft_timer_chan(t), &at, AT_ONCE_NS), 0);
        weft_timer_stop(t);
    }
}

static void test_timer_forever_never_fires(void **state)
{
    (void)state;
    const int64_t d[] = {WEFT_FOREVER, WEFT_FOREVER - 1};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        weft_timer *t = weft_timer_make(d[i]);
        assert_non_null(t);
        int64_t at;
        weft_case rc[1] = {WEFT_CASE_RECV(weft_timer_chan(t), &at)};
        errno = 0;
        assert_int_equal(weft_select(rc, 1, weft_deadline(5 * WEFT_MS)), -ETIMEDOUT);
        assert_int_equal(errno, 0); /* errno untouched */
        /* Reset from forever to now: fires. */
        assert_int_equal(weft_timer_reset(t, 0), 0);
        assert_int_equal(wt_recv_within(weft_timer_chan(t), &at, AT_ONCE_NS), 0);
        /* And back to forever: silent. */
        assert_int_equal(weft_timer_reset(t, WEFT_FOREVER), 0);
        assert_int_equal(weft_chan_try_recv(weft_timer_chan(t), &at), EAGAIN);
        weft_timer_stop(t);
    }
}

static void test_ticker_reset_nonpositive_is_einval_and_keeps_ticking(void **state)
{
    (void)state;
    weft_timer *t = weft_ticker_make(WEFT_MS);
    assert_non_null(t);
    assert_int_equal(weft_timer_reset(t, 0), EINVAL);
    assert_int_equal(weft_timer_reset(t, -1), EINVAL);
    assert_int_equal(weft_timer_reset(t, INT64_MIN), EINVAL);
    int64_t at;
    for (int i = 0; i < 3; i++)
        assert_int_equal(wt_recv_within(weft_timer_chan(t), &at, AT_ONCE_NS), 0);
    weft_timer_stop(t);
}

static void test_ticker_tiny_period(void **state)
{
    (void)state;
    /* 1 ns: ticks are dropped for the slow receiver, nothing spins forever,
     * stop returns and nothing arrives after it. */
    weft_timer *t = weft_ticker_make(1);
    assert_non_null(t);
    int64_t at;
    for (int i = 0; i < 5; i++)
        assert_int_equal(wt_recv_within(weft_timer_chan(t), &at, AT_ONCE_NS), 0);
    weft_chan *c = weft_chan_retain(weft_timer_chan(t));
    weft_timer_stop(t);
    assert_int_equal(weft_chan_try_recv(c, &at), EAGAIN);
    weft_chan_release(c);
    assert_usable();
}

/* ---- contexts ---------------------------------------------------------- */

static int key_a, key_b;

static void test_ctx_null_parent_and_key_are_einval(void **state)
{
    (void)state;
    errno = 0;
    assert_null(weft_ctx_with_cancel(NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_deadline(NULL, weft_deadline(WEFT_SEC)));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_deadline(NULL, 0));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_timeout(NULL, WEFT_SEC));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_value(NULL, &key_a, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_value(weft_ctx_background(), NULL, &key_b));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(weft_ctx_with_value(NULL, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_usable();
}

static void after_fn(void *arg) { (void)arg; }

static void test_ctx_queries_on_null_and_background(void **state)
{
    (void)state;
    weft_ctx *bg = weft_ctx_background();
    assert_non_null(bg);
    /* NULL context. */
    assert_null(weft_ctx_value(NULL, &key_a));
    assert_null(weft_ctx_value(NULL, NULL));
    assert_int_equal(weft_ctx_err(NULL), EINVAL);
    assert_null(weft_ctx_done(NULL));
    assert_int_equal(weft_ctx_deadline(NULL), WEFT_FOREVER);
    weft_ctx_cancel(NULL); /* no-op */
    assert_null(weft_ctx_retain(NULL));
    weft_ctx_release(NULL); /* no-op */
    assert_int_equal(weft_ctx_after_func(NULL, after_fn, NULL), EINVAL);
    /* Background: never done. */
    assert_null(weft_ctx_done(bg));
    assert_int_equal(weft_ctx_err(bg), 0);
    assert_int_equal(weft_ctx_deadline(bg), WEFT_FOREVER);
    assert_null(weft_ctx_value(bg, &key_a));
    assert_null(weft_ctx_value(bg, NULL));
    weft_ctx_cancel(bg); /* not cancelable: no-op */
    assert_int_equal(weft_ctx_err(bg), 0);
    assert_null(weft_ctx_done(bg));
    assert_ptr_equal(weft_ctx_retain(bg), bg);
    weft_ctx_release(bg);
    weft_ctx_release(bg);
    weft_ctx_release(bg); /* more releases than retains: no-op for bg */
    assert_int_equal(weft_ctx_err(bg), 0);
    /* after_func on background: accepted, never runs. */
    assert_int_equal(weft_ctx_after_func(bg, after_fn, NULL), 0);
    assert_int_equal(weft_ctx_after_func(bg, NULL, NULL), EINVAL);
    /* A value context over background: not cancelable, never done. */
    weft_ctx *v = weft_ctx_with_value(bg, &key_a, &key_b);
    assert_non_null(v);
    assert_ptr_equal(weft_ctx_value(v, &key_a), &key_b);
    assert_null(weft_ctx_value(v, NULL));
    assert_null(weft_ctx_value(v, &key_b));
    assert_null(weft_ctx_done(v));
    weft_ctx_cancel(v);
    assert_int_equal(weft_ctx_err(v), 0);
    weft_ctx_release(v);
    /* Another new context still works after all this. */
    weft_ctx *c = weft_ctx_with_cancel(bg);
    assert_non_null(c);
    assert_int_equal(weft_ctx_err(c), 0);
    weft_ctx_cancel(c);
    weft_ctx_cancel(c); /* idempotent */
    assert_int_equal(weft_ctx_err(c), ECANCELED);
    weft_ctx_release(c);
}

static void test_ctx_deadlines_zero_negative_huge(void **state)
{
    (void)state;
    weft_ctx *bg = weft_ctx_background();
    const int64_t past[] = {0, -1, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
        weft_ctx *d = weft_ctx_with_deadline(bg, past[i]);
        assert_non_null(d);
        assert_int_equal(weft_ctx_err(d), ETIMEDOUT);
        weft_chan *done = weft_ctx_done(d);
        assert_non_null(done);
        assert_int_equal(weft_chan_try_recv(done, NULL), EPIPE);
        weft_ctx_cancel(d); /* keeps ETIMEDOUT */
        assert_int_equal(weft_ctx_err(d), ETIMEDOUT);
        weft_ctx_release(d);
        weft_ctx *t = weft_ctx_with_timeout(bg, past[i]);
        assert_non_null(t);
        assert_int_equal(weft_ctx_err(t), ETIMEDOUT);
        weft_ctx_release(t);
    }
    /* WEFT_FOREVER / INT64_MAX durations: never time out. */
    weft_ctx *f = weft_ctx_with_deadline(bg, WEFT_FOREVER);
    assert_non_null(f);
    assert_int_equal(weft_ctx_deadline(f), WEFT_FOREVER);
    assert_int_equal(weft_ctx_err(f), 0);
    weft_ctx *g = weft_ctx_with_timeout(bg, WEFT_FOREVER);
    assert_non_null(g);
    assert_int_equal(weft_ctx_deadline(g), WEFT_FOREVER);
    assert_int_equal(weft_ctx_err(g), 0);
    weft_ctx *h = weft_ctx_with_timeout(bg, WEFT_FOREVER - 1);
    assert_non_null(h);
    assert_int_equal(weft_ctx_deadline(h), WEFT_FOREVER);
    assert_int_equal(weft_ctx_err(h), 0);
    weft_ctx_release(h);
    weft_ctx_release(g);
    weft_ctx_release(f);
}

static void test_ctx_children_of_done_parents(void **state)
{
    (void)state;
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx_cancel(p);
    weft_ctx *k = weft_ctx_with_cancel(p);
    assert_non_null(k);
    assert_int_equal(weft_ctx_err(k), ECANCELED);
    weft_ctx *v = weft_ctx_with_value(p, &key_a, NULL);
    assert_non_null(v);
    assert_int_equal(weft_ctx_err(v), ECANCELED);
    assert_non_null(weft_ctx_done(v));
    weft_ctx *d = weft_ctx_with_deadline(p, INT64_MIN);
    assert_non_null(d);
    assert_int_equal(weft_ctx_err(d), ECANCELED); /* born done with the parent's error */
    weft_ctx_release(d);
    weft_ctx_release(v);
    weft_ctx_release(k);
    weft_ctx_release(p);
}

static void sleep_ctx_body(void *arg)
{
    (void)arg;
    weft_ctx *bg = weft_ctx_background();
    int64_t t0 = weft_now();
    WT_CHECK_INT_EQ(weft_sleep_ctx(NULL, 0), 0);
    WT_CHECK_INT_EQ(weft_sleep_ctx(NULL, -1), 0);
    WT_CHECK_INT_EQ(weft_sleep_ctx(NULL, INT64_MIN), 0);
    WT_CHECK_INT_EQ(weft_sleep_ctx(bg, 0), 0);
    WT_CHECK_INT_EQ(weft_sleep_ctx(bg, INT64_MIN), 0);
    weft_ctx *c = weft_ctx_with_cancel(bg);
    weft_ctx_cancel(c);
    WT_CHECK_INT_EQ(weft_sleep_ctx(c, 0), ECANCELED);
    WT_CHECK_INT_EQ(weft_sleep_ctx(c, INT64_MIN), ECANCELED);
    WT_CHECK_INT_EQ(weft_sleep_ctx(c, WEFT_FOREVER), ECANCELED);
    weft_ctx_release(c);
    weft_ctx *e = weft_ctx_with_deadline(bg, 0);
    WT_CHECK_INT_EQ(weft_sleep_ctx(e, WEFT_FOREVER), ETIMEDOUT);
    WT_CHECK_INT_EQ(weft_sleep_ctx(e, -1), ETIMEDOUT);
    weft_ctx_release(e);
    WT_CHECK(weft_now() - t0 < AT_ONCE_NS);
    /* WEFT_FOREVER sleep ends with the context. */
    weft_ctx *s = weft_ctx_with_timeout(bg, 2 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_sleep_ctx(s, WEFT_FOREVER), ETIMEDOUT);
    weft_ctx_release(s);
}

static void test_sleep_ctx_edge_durations(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    wt_run_in_task(sleep_ctx_body, NULL);
    /* On a plain thread too (weft_sleep_ctx is a blocking call). */
    sleep_ctx_body(NULL);
    WT_LEAK_END();
}

static void test_ctx_after_func_bad_args(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    weft_ctx *c = weft_ctx_with_cancel(weft_ctx_background());
    assert_int_equal(weft_ctx_after_func(c, NULL, NULL), EINVAL);
    assert_int_equal(weft_ctx_after_func_at(c, NULL, NULL, NULL, NULL, 0, NULL), EINVAL);
    assert_int_equal(weft_ctx_after_func_at(NULL, after_fn, NULL, NULL, NULL, 0, NULL), EINVAL);
    /* NULL site strings are fine. */
    ran_chan = weft_chan_make(0, 2);
    assert_int_equal(weft_ctx_after_func_at(c, ran, NULL, NULL, NULL, 0, NULL), 0);
    weft_ctx_cancel(c);
    assert_int_equal(wt_wait_n(ran_chan, 1), 1);
    /* Registration on a done context runs at once. */
    assert_int_equal(weft_ctx_after_func(c, ran, NULL), 0);
    assert_int_equal(wt_wait_n(ran_chan, 1), 1);
    weft_chan_release(ran_chan);
    weft_ctx_release(c);
    WT_LEAK_END();
}

/* ---- WaitGroup --------------------------------------------------------- */

static void test_wg_null_is_einval(void **state)
{
    (void)state;
    assert_int_equal(weft_wg_add(NULL, 1), EINVAL);
    assert_int_equal(weft_wg_add(NULL, 0), EINVAL);
    assert_int_equal(weft_wg_add(NULL, -1), EINVAL);
    assert_int_equal(weft_wg_done(NULL), EINVAL);
    assert_int_equal(weft_wg_wait(NULL), EINVAL);
    assert_int_equal(weft_wg_wait_ctx(NULL, NULL), EINVAL);
    assert_int_equal(weft_wg_wait_ctx(NULL, weft_ctx_background()), EINVAL);
}

static void test_wg_negative_counter_is_einval_and_unchanged(void **state)
{
    (void)state;
    weft_wg wg = WEFT_WG_INIT;
    /* done without add: Go panics "negative WaitGroup counter". */
    assert_int_equal(weft_wg_done(&wg), EINVAL);
    assert_int_equal(weft_wg_add(&wg, -1), EINVAL);
    assert_int_equal(weft_wg_add(&wg, INT64_MIN), EINVAL);
    assert_int_equal(weft_wg_wait(&wg), 0); /* still zero */
    assert_int_equal(weft_wg_add(&wg, 0), 0);
    assert_int_equal(weft_wg_add(&wg, 2), 0);
    assert_int_equal(weft_wg_add(&wg, -3), EINVAL); /* 2 - 3 < 0 */
    assert_int_equal(weft_wg_add(&wg, INT64_MIN), EINVAL);
    /* The counter is still 2. */
    weft_ctx *e = weft_ctx_with_deadline(weft_ctx_background(), 0);
    assert_int_equal(weft_wg_wait_ctx(&wg, e), ETIMEDOUT);
    assert_int_equal(weft_wg_done(&wg), 0);
    assert_int_equal(weft_wg_wait_ctx(&wg, e), ETIMEDOUT);
    assert_int_equal(weft_wg_done(&wg), 0);
    assert_int_equal(weft_wg_wait(&wg), 0);
    assert_int_equal(weft_wg_wait_ctx(&wg, e), 0); /* zero: returns at once */
    assert_int_equal(weft_wg_wait_ctx(&wg, NULL), 0);
    assert_int_equal(weft_wg_done(&wg), EINVAL);
    weft_ctx_release(e);
}

static void test_wg_huge_delta_overflow_is_einval_and_unchanged(void **state)
{
    (void)state;
    /* The header documents EINVAL only for a negative result; a counter
     * that cannot hold the sum must not wrap either (docs/misuse.md). */
    weft_wg wg = WEFT_WG_INIT;
    assert_int_equal(weft_wg_add(&wg, 1), 0);
    int r = weft_wg_add(&wg, INT64_MAX);
    assert_int_equal(r, EINVAL);
    assert_int_equal(weft_wg_done(&wg), 0);
    assert_int_equal(weft_wg_done(&wg), EINVAL); /* it was 1, not wrapped */
    assert_int_equal(weft_wg_wait(&wg), 0);
}

/* ---- Mutex ------------------------------------------------------------- */

static void test_mutex_misuse(void **state)
{
    (void)state;
    assert_int_equal(weft_mutex_lock(NULL), EINVAL);
    assert_int_equal(weft_mutex_trylock(NULL), EINVAL);
    assert_int_equal(weft_mutex_unlock(NULL), EINVAL);
    weft_mutex m = WEFT_MUTEX_INIT;
    /* Unlock of an unlocked mutex: EPERM (Go: fatal error). */
    assert_int_equal(weft_mutex_unlock(&m), EPERM);
    assert_int_equal(weft_mutex_unlock(&m), EPERM);
    /* It is still unlocked and works. */
    assert_int_equal(weft_mutex_trylock(&m), 0);
    assert_int_equal(weft_mutex_trylock(&m), EBUSY); /* held */
    assert_int_equal(weft_mutex_unlock(&m), 0);
    assert_int_equal(weft_mutex_unlock(&m), EPERM); /* double unlock */
    assert_int_equal(weft_mutex_lock(&m), 0);
    assert_int_equal(weft_mutex_trylock(&m), EBUSY);
    assert_int_equal(weft_mutex_unlock(&m), 0);
    /* A zeroed mutex is a valid unlocked one. */
    weft_mutex z;
    memset(&z, 0, sizeof z);
    assert_int_equal(weft_mutex_unlock(&z), EPERM);
    assert_int_equal(weft_mutex_trylock(&z), 0);
    assert_int_equal(weft_mutex_unlock(&z), 0);
}

/* ---- Once -------------------------------------------------------------- */

static int once_runs;
static void count_once(void *arg)
{
    (void)arg;
    once_runs++;
}

static weft_once rec_once;
static int rec_inner;
static void recurse_once(void *arg)
{
    (void)arg;
    rec_inner = weft_once_do(&rec_once, recurse_once, NULL);
}

static void once_recursion_body(void *arg)
{
    (void)arg;
    rec_once = (weft_once)WEFT_ONCE_INIT;
    rec_inner = -1;
    WT_CHECK_INT_EQ(weft_once_do(&rec_once, recurse_once, NULL), 0);
    WT_CHECK_INT_EQ(rec_inner, EDEADLK); /* Go would deadlock */
    WT_CHECK_INT_EQ(weft_once_do(&rec_once, recurse_once, NULL), 0); /* done */
}

static void test_once_misuse(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    weft_once o = WEFT_ONCE_INIT;
    assert_int_equal(weft_once_do(NULL, count_once, NULL), EINVAL);
    assert_int_equal(weft_once_do(NULL, NULL, NULL), EINVAL);
    assert_int_equal(weft_once_do(&o, NULL, NULL), EINVAL);
    /* The bad call did not consume the once. */
    once_runs = 0;
    assert_int_equal(weft_once_do(&o, count_once, NULL), 0);
    assert_int_equal(weft_once_do(&o, count_once, NULL), 0);
    assert_int_equal(once_runs, 1);
    assert_int_equal(weft_once_do(&o, NULL, NULL), EINVAL); /* still EINVAL after */
    /* Recursion from inside fn: EDEADLK, on a plain thread and in a task. */
    once_recursion_body(NULL);
    wt_assert_no_failures();
    wt_run_in_task(once_recursion_body, NULL);
    WT_LEAK_END();
}

/* ---- errgroup ---------------------------------------------------------- */

static int gfn_ret(weft_ctx *ctx, void *arg)
{
    (void)ctx;
    return (int)(intptr_t)arg;
}

static int gfn_block(weft_ctx *ctx, void *arg)
{
    weft_chan *c = arg;
    (void)ctx;
    weft_chan_recv(c, NULL);
    return 0;
}

static int gfn_ctx_err(weft_ctx *ctx, void *arg)
{
    (void)arg;
    return weft_ctx_err(ctx);
}

static void test_group_misuse(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    weft_group g;
    assert_int_equal(weft_group_init(NULL, weft_ctx_background()), EINVAL);
    assert_int_equal(weft_group_init(&g, NULL), EINVAL);
    assert_int_equal(weft_group_set_limit(NULL, 1), EINVAL);
    assert_int_equal(weft_group_go(NULL, gfn_ret, NULL), EINVAL);
    assert_int_equal(weft_group_go_at(NULL, gfn_ret, NULL, NULL, NULL, 0, NULL), EINVAL);
    assert_int_equal(weft_group_wait(NULL), EINVAL);

    assert_int_equal(weft_group_init(&g, weft_ctx_background()), 0);
    assert_int_equal(weft_group_go(&g, NULL, NULL), EINVAL);
    /* Limit 0 is EINVAL; negative means no limit. */
    assert_int_equal(weft_group_set_limit(&g, 0), EINVAL);
    assert_int_equal(weft_group_set_limit(&g, -1), 0);
    assert_int_equal(weft_group_set_limit(&g, INT_MIN), 0);
    assert_int_equal(weft_group_set_limit(&g, INT_MAX), 0);
    assert_int_equal(weft_group_set_limit(&g, 1), 0);
    /* Changing the limit while tasks run: EINVAL. */
    weft_chan *gate2 = weft_chan_make(0, 0);
    assert_int_equal(weft_group_go(&g, gfn_block, gate2), 0);
    assert_int_equal(weft_group_set_limit(&g, 2), EINVAL);
    assert_int_equal(weft_group_set_limit(&g, -1), EINVAL);
    assert_int_equal(weft_chan_close(gate2), 0);
    assert_int_equal(weft_group_go_at(&g, gfn_ret, (void *)(intptr_t)6, NULL, NULL, 0, NULL), 0);
    assert_int_equal(weft_group_wait(&g), 6);
    /* Waited: go is EINVAL (init it again); wait again keeps the result. */
    assert_int_equal(weft_group_go(&g, gfn_ret, NULL), EINVAL);
    assert_int_equal(weft_group_wait(&g), 6);
    int r = weft_group_set_limit(&g, 1);
    assert_int_equal(r, EINVAL);
    /* Re-init works. */
    assert_int_equal(weft_group_init(&g, weft_ctx_background()), 0);
    assert_int_equal(weft_group_go(&g, gfn_ret, NULL), 0);
    assert_int_equal(weft_group_wait(&g), 0);
    weft_chan_release(gate2);

    /* A done parent: tasks run with a done context. */
    weft_ctx *p = weft_ctx_with_cancel(weft_ctx_background());
    weft_ctx_cancel(p);
    assert_int_equal(weft_group_init(&g, p), 0);
    assert_int_equal(weft_group_go(&g, gfn_ctx_err, NULL), 0);
    assert_int_equal(weft_group_wait(&g), ECANCELED);
    weft_ctx_release(p);

    /* Zero value (WEFT_GROUP_INIT) with bad arguments too. */
    weft_group z = WEFT_GROUP_INIT;
    assert_int_equal(weft_group_go(&z, NULL, NULL), EINVAL);
    assert_int_equal(weft_group_set_limit(&z, 0), EINVAL);
    assert_int_equal(weft_group_wait(&z), 0); /* nothing ran */
    WT_LEAK_END();
}

/* ---- diagnostics ------------------------------------------------------- */

static void test_diag_null_outputs(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    assert_int_equal(weft_dump_tasks(NULL), -1);
    assert_int_equal(weft_dump_tasks_json(NULL), -1);
    assert_int_equal(weft_stats(NULL), EINVAL);
    struct weft_stats st;
    assert_int_equal(weft_stats(&st), 0);
    assert_true(st.workers >= 1);
    weft_set_deadlock_hook(NULL, NULL); /* the default report */
    assert_int_equal(weft_dump_on_sigquit(false), 0); /* not enabled: no-op */
    assert_int_equal(weft_dump_on_sigquit(false), 0);
    assert_usable();
    WT_LEAK_END();
}

static void test_leak_check_edge_arguments(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    uint64_t m = weft_leak_mark();
    int64_t t0 = weft_now();
    /* Nothing spawned since m: 0 at once, whatever the timeout. */
    assert_int_equal(weft_leak_check(m, 0, NULL), 0);
    assert_int_equal(weft_leak_check(m, -1, NULL), 0);
    assert_int_equal(weft_leak_check(m, INT64_MIN, NULL), 0);
    assert_int_equal(weft_leak_check(m, WEFT_FOREVER, NULL), 0);
    assert_int_equal(weft_leak_check(UINT64_MAX, WEFT_FOREVER, NULL), 0);
    assert_int_equal(weft_leak_check(UINT64_MAX, WEFT_FOREVER, stderr), 0);
    assert_true(weft_now() - t0 < AT_ONCE_NS);
    /* A task blocked for good, NULL report: counted, no crash. */
    gate = weft_chan_make(0, 0);
    assert_int_equal(weft_go(wait_gate, NULL), 0);
    assert_int_equal(weft_leak_check(m, 5 * WEFT_SEC, NULL), 1);
    assert_int_equal(weft_leak_check(m, INT64_MIN, NULL), 1);
    assert_int_equal(weft_chan_close(gate), 0);
    weft_chan_release(gate);
    WT_LEAK_END();
}

static void test_fail_nth_bad_site_and_count(void **state)
{
    (void)state;
    assert_int_equal(weft_fail_nth(WEFT_FAIL_SITES, 1), EINVAL);
    assert_int_equal(weft_fail_nth((enum weft_fail_site)-1, 1), EINVAL);
    assert_int_equal(weft_fail_nth((enum weft_fail_site)INT_MAX, 1), EINVAL);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, -1), EINVAL);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, LONG_MIN), EINVAL);
    /* 0 cancels; a far-away count can be set and cancelled. */
    assert_int_equal(weft_fail_nth(WEFT_FAIL_ALLOC, 0), 0);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_MMAP, LONG_MAX), 0);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_MMAP, 0), 0);
    assert_int_equal(weft_fail_nth(WEFT_FAIL_THREAD, 0), 0);
    assert_usable();
}

/* ================================================================== */

int main(int argc, char **argv)
{
    /* An optional argument filters the tests by name (cmocka pattern). */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest lifecycle[] = {
        cmocka_unit_test(test_shutdown_when_not_running_is_zero),
        cmocka_unit_test(test_init_rejects_negative_workers),
        cmocka_unit_test(test_init_huge_workers_fails_cleanly),
        cmocka_unit_test(test_init_twice_is_ebusy),
        cmocka_unit_test(test_init_huge_stack_size),
        cmocka_unit_test(test_env_overrides_with_bad_values),
        cmocka_unit_test(test_env_overrides_out_of_range),
        cmocka_unit_test(test_run_null_main_is_einval),
        cmocka_unit_test(test_set_allocator_errors),
        cmocka_unit_test(test_ctx_release_more_than_referenced_aborts),
        cmocka_unit_test(test_ctx_retain_after_release_aborts),
        cmocka_unit_test(test_background_release_is_a_noop_not_an_abort),
        cmocka_unit_test(test_timers_stopped_after_shutdown),
        cmocka_unit_test(test_corrupted_mutex_aborts),
        cmocka_unit_test(test_deadline_ctx_when_the_runtime_cannot_start),
    };
    const struct CMUnitTest api[] = {
        cmocka_unit_test(test_deadline_saturates_and_is_overflow_safe),
        cmocka_unit_test(test_sleep_zero_negative_and_int64_min_return_at_once),
        cmocka_unit_test(test_self_and_yield_off_a_task),
        cmocka_unit_test(test_go_null_fn_is_einval),
        cmocka_unit_test(test_go_copy_null_arg_and_huge_size),
        cmocka_unit_test(test_go_opts_defaults_and_clamps),
        cmocka_unit_test(test_at_variants_with_null_sites),
        cmocka_unit_test(test_shutdown_from_a_task_is_refused),
        cmocka_unit_test(test_run_nested_in_a_task),
        cmocka_unit_test(test_init_while_running_is_ebusy),
        cmocka_unit_test(test_chan_make_overflowing_sizes),
        cmocka_unit_test(test_chan_make_signal_only_with_huge_cap),
        cmocka_unit_test(test_chan_null_channel_is_einval),
        cmocka_unit_test(test_chan_null_elem),
        cmocka_unit_test(test_chan_closed),
        cmocka_unit_test(test_chan_ctx_done_contexts),
        cmocka_unit_test(test_select_null_cases_is_einval),
        cmocka_unit_test(test_select_too_many_cases_is_einval),
        cmocka_unit_test(test_select_bad_dir_is_einval_without_side_effect),
        cmocka_unit_test(test_select_send_case_null_val),
        cmocka_unit_test(test_select_deadlines_zero_negative_int64_min),
        cmocka_unit_test(test_select_on_closed_channels),
        cmocka_unit_test(test_ticker_nonpositive_period_is_einval),
        cmocka_unit_test(test_timer_null),
        cmocka_unit_test(test_timer_past_durations_fire_at_once),
        cmocka_unit_test(test_timer_forever_never_fires),
        cmocka_unit_test(test_ticker_reset_nonpositive_is_einval_and_keeps_ticking),
        cmocka_unit_test(test_ticker_tiny_period),
        cmocka_unit_test(test_ctx_null_parent_and_key_are_einval),
        cmocka_unit_test(test_ctx_queries_on_null_and_background),
        cmocka_unit_test(test_ctx_deadlines_zero_negative_huge),
        cmocka_unit_test(test_ctx_children_of_done_parents),
        cmocka_unit_test(test_sleep_ctx_edge_durations),
        cmocka_unit_test(test_ctx_after_func_bad_args),
        cmocka_unit_test(test_wg_null_is_einval),
        cmocka_unit_test(test_wg_negative_counter_is_einval_and_unchanged),
        cmocka_unit_test(test_wg_huge_delta_overflow_is_einval_and_unchanged),
        cmocka_unit_test(test_mutex_misuse),
        cmocka_unit_test(test_once_misuse),
        cmocka_unit_test(test_group_misuse),
        cmocka_unit_test(test_diag_null_outputs),
        cmocka_unit_test(test_leak_check_edge_arguments),
        cmocka_unit_test(test_fail_nth_bad_site_and_count),
    };
    int failed = cmocka_run_group_tests_name("misuse_lifecycle", lifecycle, NULL, NULL);
    failed += cmocka_run_group_tests_name("misuse_api", api, wt_group_setup, wt_group_teardown);
    return failed;
}
