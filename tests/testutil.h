/*
 * testutil.h — small helpers shared by weft's channel, select, timer and
 * stress tests (tests/test_chan.c, test_select.c, test_timer.c,
 * stress_chan.c).  Header-only: every test binary is one translation unit.
 *
 * Three things live here:
 *
 *  1. Checks usable off the test's own thread.  cmocka's assert_* macros
 *     longjmp back into the test function; calling them inside a weft task
 *     (another stack, maybe another OS thread) or a helper pthread would
 *     corrupt everything.  Code running in a task or helper thread uses
 *     WT_CHECK* instead: the first failure is recorded (expression, both
 *     operands, file:line) and the test function, back on its own thread,
 *     turns it into a cmocka failure with wt_assert_no_failures() (which
 *     WT_LEAK_END() also calls).
 *
 *  2. The leak bracket.  WT_LEAK_BEGIN() at the start of a test and
 *     WT_LEAK_END() at its end prove the test left no task behind: the
 *     number of live tasks must come back to its value at the start (Go's
 *     runtime.NumGoroutine check), and when the library has the leak
 *     checker (sched/diag/leak.c, detected by tests/chan.cmake and passed as
 *     WEFT_TEST_HAVE_LEAK) weft_leak_check must also report no task spawned
 *     after the mark.  A task may still be between its last channel
 *     operation and its return when the test body ends, so the count is
 *     awaited with a generous deadline: the deadline bounds a hang, it is
 *     never what makes the test pass.
 *
 *  3. Running a body as a task or on a plain thread (wt_run_in_task,
 *     wt_run_in_thread), waiting for N spawned tasks through a done channel,
 *     bounded receives, and a small PRNG.
 *
 * No helper here uses sleeping as synchronisation.  wt_settle() gives tasks
 * a chance to reach a blocking call before the test proceeds; it only
 * raises the odds that the interesting interleaving (a parked waiter) is
 * exercised, and every test stays correct whatever it does.
 */
#ifndef WEFT_TESTUTIL_H
#define WEFT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above. */
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft.h>

/* How long a test waits for something that must happen (a liveness bound,
 * far above any expected time: a correct runtime never gets near it). */
#define WT_LIVENESS_NS (20 * WEFT_SEC)

/* The most tasks a test keeps alive at once in this build (tests scale
 * their big cases down to it).  ThreadSanitizer keeps a fiber with its own
 * trace buffers per live task: clang's runtime runs out of mappings near
 * 100 000 of them, and gcc's (libtsan) counts fibers as threads and dies
 * above 8128 ("Thread limit exceeded"). */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#define WT_TSAN_BUILD 1
#define WT_MAX_LIVE_TASKS 4000
#elif defined(__SANITIZE_THREAD__)
#define WT_TSAN_BUILD 1
#define WT_MAX_LIVE_TASKS 20000
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WT_TSAN_BUILD 1
#define WT_MAX_LIVE_TASKS 20000
#endif
#endif
#ifndef WT_MAX_LIVE_TASKS
#define WT_MAX_LIVE_TASKS 1000000
#endif
#define WT_SCALED_TASKS(n) ((n) < WT_MAX_LIVE_TASKS ? (n) : WT_MAX_LIVE_TASKS)

/* ------------------------------------------------------------------ */
/* 1. Checks from tasks and helper threads                            */
/* ------------------------------------------------------------------ */

static atomic_int wt__failures;
static atomic_int wt__first_claimed;
static char wt__first_failure[1024];
static atomic_int wt__first_ready;

__attribute__((format(printf, 3, 4))) static void wt__fail(const char *file, int line,
                                                           const char *fmt, ...)
{
    atomic_fetch_add(&wt__failures, 1);
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Every failure goes to stderr; the first is kept for the assertion. */
    fprintf(stderr, "[  CHECK   ] %s:%d: %s (task %" PRIu64 ")\n", file, line, msg,
            weft_self());
    if (atomic_exchange(&wt__first_claimed, 1) == 0) {
        snprintf(wt__first_failure, sizeof wt__first_failure, "%s:%d: %s", file, line, msg);
        atomic_store(&wt__first_ready, 1);
    }
}

#define WT_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            wt__fail(__FILE__, __LINE__, "check failed: %s", #cond);           \
    } while (0)

#define WT_CHECK_MSG(cond, ...)                                                \
    do {                                                                       \
        if (!(cond))                                                           \
            wt__fail(__FILE__, __LINE__, __VA_ARGS__);                         \
    } while (0)

#define WT__CHECK_CMP(a, op, b)                                                \
    do {                                                                       \
        long long wt__a = (long long)(a), wt__b = (long long)(b);              \
        if (!(wt__a op wt__b))                                                 \
            wt__fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a, #op, #b, \
                     wt__a, wt__b);                                            \
    } while (0)

#define WT_CHECK_INT_EQ(a, b) WT__CHECK_CMP(a, ==, b)
#define WT_CHECK_INT_NE(a, b) WT__CHECK_CMP(a, !=, b)
#define WT_CHECK_INT_GE(a, b) WT__CHECK_CMP(a, >=, b)
#define WT_CHECK_INT_LE(a, b) WT__CHECK_CMP(a, <=, b)

/* On the test's own thread: fail the cmocka test if any WT_CHECK failed
 * since the last call, and reset the record. */
static void wt_assert_no_failures(void)
{
    int n = atomic_exchange(&wt__failures, 0);
    if (n == 0)
        return;
    char first[sizeof wt__first_failure] = "(first failure not recorded)";
    if (atomic_load(&wt__first_ready))
        memcpy(first, wt__first_failure, sizeof first);
    atomic_store(&wt__first_ready, 0);
    atomic_store(&wt__first_claimed, 0);
    fail_msg("%d check(s) failed in tasks/threads; first: %s", n, first);
}

/* ------------------------------------------------------------------ */
/* Small utilities                                                     */
/* ------------------------------------------------------------------ */

/* errno read through a call that cannot be merged with an earlier read:
 * a task may resume on another worker thread, and __errno_location() is a
 * const function the compiler may otherwise hoist across the call. */
__attribute__((noinline, unused)) static int wt_errno(void)
{
    __asm__ __volatile__("" ::: "memory");
    return errno;
}

/* A real (thread-blocking) sleep for helper code that must not depend on
 * weft: used only to pace polling loops, never as synchronisation. */
__attribute__((unused)) static void wt_os_sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / WEFT_SEC), (long)(ns % WEFT_SEC)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* xorshift64* — deterministic per seed, good enough for test decisions. */
typedef struct wt_rng {
    uint64_t s;
} wt_rng;
__attribute__((unused)) static wt_rng wt_rng_make(uint64_t seed)
{
    wt_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
    if (r.s == 0)
        r.s = 1;
    return r;
}
__attribute__((unused)) static uint64_t wt_rand(wt_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}
/* Uniform in [0, n). */
__attribute__((unused)) static uint64_t wt_rand_n(wt_rng *r, uint64_t n)
{
    return n ? wt_rand(r) % n : 0;
}

/* Give other tasks a chance to reach their blocking call (coverage only;
 * no test relies on it for correctness). */
__attribute__((unused)) static void wt_settle(void)
{
    for (int i = 0; i < 64; i++)
        weft_yield();
    weft_sleep(5 * WEFT_MS);
}

/* Receive with a liveness bound: 0 | EPIPE | ETIMEDOUT (never expected). */
__attribute__((unused)) static int wt_recv_within(weft_chan *c, void *out, int64_t timeout)
{
    weft_case cs[1] = {WEFT_CASE_RECV(c, out)};
    int i = weft_select(cs, 1, weft_deadline(timeout));
    if (i < 0)
        return -i;
    return cs[0].ok ? 0 : EPIPE;
}

/* Receive n signals from done (each task sends one when finished), within
 * the liveness bound.  Returns how many arrived. */
__attribute__((unused)) static size_t wt_wait_n_until(weft_chan *done, size_t n, int64_t dl)
{
    size_t got = 0;
    while (got < n) {
        weft_case cs[1] = {WEFT_CASE_RECV(done, NULL)};
        if (weft_select(cs, 1, dl) != 0 || !cs[0].ok)
            break;
        got++;
    }
    return got;
}

__attribute__((unused)) static size_t wt_wait_n(weft_chan *done, size_t n)
{
    return wt_wait_n_until(done, n, weft_deadline(WT_LIVENESS_NS));
}

/* ------------------------------------------------------------------ */
/* 2. The leak bracket                                                 */
/* ------------------------------------------------------------------ */

typedef struct wt_leak {
    size_t tasks;
    uint64_t mark;
} wt_leak;

__attribute__((unused)) static wt_leak wt__leak_begin(void)
{
    wt_leak l = {weft_num_tasks(), 0};
#ifdef WEFT_TEST_HAVE_LEAK
    l.mark = weft_leak_mark();
#endif
    return l;
}

/* Waits (bounded) for the live-task count to come back to its start value. */
__attribute__((unused)) static size_t wt_await_num_tasks(size_t want, int64_t timeout)
{
    int64_t dl = weft_now() + timeout;
    size_t n;
    while ((n = weft_num_tasks()) != want && weft_now() < dl) {
        weft_yield();
        wt_os_sleep_ns(WEFT_MS);
    }
    return n;
}

__attribute__((unused)) static void wt__leak_end(const wt_leak *l)
{
#ifdef WEFT_TEST_HAVE_LEAK
    size_t leaked = weft_leak_check(l->mark, WT_LIVENESS_NS, stderr);
    assert_int_equal(leaked, 0);
#endif
    size_t n = wt_await_num_tasks(l->tasks, WT_LIVENESS_NS);
    assert_int_equal(n, l->tasks);
    wt_assert_no_failures();
}

#define WT_LEAK_BEGIN() const wt_leak wt__leak = wt__leak_begin()
#define WT_LEAK_END() wt__leak_end(&wt__leak)

/* ------------------------------------------------------------------ */
/* 3. Running a body as a task or on a plain thread                    */
/* ------------------------------------------------------------------ */

struct wt__run {
    void (*fn)(void *);
    void *arg;
    weft_chan *done;
};

static void wt__task_trampoline(void *p)
{
    struct wt__run *r = p;
    r->fn(r->arg);
    int rc = weft_chan_send(r->done, NULL);
    WT_CHECK_INT_EQ(rc, 0);
}

/* Run fn(arg) as a weft task and wait (from this thread) until it is done. */
__attribute__((unused)) static void wt_run_in_task(void (*fn)(void *), void *arg)
{
    struct wt__run r = {fn, arg, weft_chan_make(0, 1)};
    assert_non_null(r.done);
    assert_int_equal(weft_go(wt__task_trampoline, &r), 0);
    assert_int_equal(wt_wait_n(r.done, 1), 1);
    weft_chan_release(r.done);
}

static void *wt__thread_trampoline(void *p)
{
    struct wt__run *r = p;
    r->fn(r->arg);
    return NULL;
}

/* Run fn(arg) on a new plain OS thread (not a task) and join it. */
__attribute__((unused)) static void wt_run_in_thread(void (*fn)(void *), void *arg)
{
    struct wt__run r = {fn, arg, NULL};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wt__thread_trampoline, &r), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
}

/* Restart the group's runtime with `workers` workers for one test (none
 * of the group's tasks may be alive), and restore the default after. */
__attribute__((unused)) static void wt_restart_with_workers(int workers)
{
    int live = weft_shutdown();
    if (live != 0)
        fail_msg("weft_shutdown() before restarting with %d worker(s): %d task(s) alive",
                 workers, live);
    struct weft_config cfg = {.workers = workers};
    assert_int_equal(weft_init(&cfg), 0);
}

__attribute__((unused)) static void wt_restore_default_workers(void)
{
    assert_int_equal(weft_shutdown(), 0);
    assert_int_equal(weft_init(NULL), 0);
}

/* Group fixtures: every binary runs its tests inside one runtime. */
__attribute__((unused)) static int wt_group_setup(void **state)
{
    (void)state;
    int rc = weft_init(NULL);
    if (rc != 0) {
        fprintf(stderr, "weft_init(NULL) = %d\n", rc);
        return -1;
    }
    return 0;
}

__attribute__((unused)) static int wt_group_teardown(void **state)
{
    (void)state;
    int rc = weft_shutdown();
    assert_int_equal(rc, 0);
    return 0;
}

#endif /* WEFT_TESTUTIL_H */
