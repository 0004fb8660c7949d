/*
 * test_errno.c — no weft call that can park reports through errno, and
 * none leaves errno changed.
 *
 * A task that parks may resume on another worker thread, and glibc's
 * __errno_location is declared const: compiled C may keep the first
 * thread's errno address across the call, so errno read the ordinary way
 * after such a call can be another thread's.  Hence weft_select returns
 * -ETIMEDOUT / -EINVAL / -ENOMEM, the other blocking calls return errno
 * values, and errno itself is left alone.  These tests read errno the way
 * ordinary C does (plain `errno`, compiled with optimisation) and check:
 *
 *  - the reproduction: selects timing out in tasks that migrate
 *    between two workers always return -ETIMEDOUT (before the change they
 *    returned -1 and left the reason in errno, which read wrong about one
 *    time in forty after a migration);
 *  - on a plain thread (errno is that thread's own) every blocking call,
 *    timing out or woken, returns with errno exactly as it went in —
 *    futex waits used to leave EAGAIN or ETIMEDOUT in it;
 *  - inside a task, errno re-read through a fresh call after each blocking
 *    call is the task's own value (weft saves and restores it per task).
 */
#include "testutil.h"

#include <sched.h>
#include <unistd.h>

enum { SENTINEL = 4242 };

/* The calling thread, through a call the compiler cannot merge with an
 * earlier one: a task may have moved since. */
__attribute__((noinline)) static pthread_t this_thread(void)
{
    __asm__ __volatile__("" ::: "memory");
    return pthread_self();
}

/* ------------------------------------------------------------------ */
/* The reproduction: timeouts beside migrations                        */
/* ------------------------------------------------------------------ */

enum { ROUNDS = 400 };

struct migr {
    weft_chan *never; /* nobody sends */
    weft_wg selecting, yielding;
    atomic_int stop;
    atomic_long migrations, wrong;
};

static void selecting(void *p)
{
    struct migr *m = p;
    for (int i = 0; i < ROUNDS; i++) {
        weft_case cs[1] = {WEFT_CASE_RECV(m->never, NULL)};
        pthread_t before = this_thread();
        /* The program then read errno, the ordinary way: after a
         * migration that reads the first thread's errno (a data race with
         * whatever runs there now, which gcc's TSan reports); the result
         * is what carries the answer now. */
        int r = weft_select(cs, 1, weft_now() + 20 * WEFT_US);
        if (r != -ETIMEDOUT)
            atomic_fetch_add(&m->wrong, 1);
        if (!pthread_equal(before, this_thread()))
            atomic_fetch_add(&m->migrations, 1);
        if (i % 4 == 3)
            weft_yield(); /* queued behind a yielder: a thief may take it */
    }
    weft_wg_done(&m->selecting);
}

static void yielding(void *p)
{
    struct migr *m = p;
    /* Mostly busy, now and then asleep: an idle worker steals. */
    for (unsigned i = 0; !atomic_load(&m->stop); i++) {
        weft_yield();
        if (i % 16 == 15)
            weft_sleep(30 * WEFT_US);
    }
    weft_wg_done(&m->yielding);
}

/* Two tasks select with 20 µs deadlines beside two yielding tasks on two
 * workers (the program): every select returns -ETIMEDOUT. */
static void test_select_timeouts_are_results_even_across_migrations(void **state)
{
    WT_LEAK_BEGIN();
    weft_chan *never = weft_chan_make(0, 0);
    assert_non_null(never);
    long migrations = 0, wrong = 0;
    /* Rounds until some select did resume on another thread (the case
     * under test), bounded: the scheduler decides where tasks run. */
    int64_t dl = weft_deadline(WT_LIVENESS_NS / 2);
    int rounds = 0;
    do {
        struct migr m = {.never = never};
        assert_int_equal(weft_wg_add(&m.selecting, 2), 0);
        assert_int_equal(weft_wg_add(&m.yielding, 2), 0);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(weft_go(selecting, &m), 0);
            assert_int_equal(weft_go(yielding, &m), 0);
        }
        assert_int_equal(weft_wg_wait(&m.selecting), 0);
        atomic_store(&m.stop, 1);
        assert_int_equal(weft_wg_wait(&m.yielding), 0);
        migrations += atomic_load(&m.migrations);
        wrong += atomic_load(&m.wrong);
        rounds++;
    } while (migrations == 0 && weft_now() < dl);
    assert_int_equal(wrong, 0);
    fprintf(stderr, "[  INFO    ] %ld of %d timed-out selects resumed on another thread\n",
            migrations, 2 * ROUNDS * rounds);
    assert_true(migrations > 0); /* else the test proved nothing */
    weft_chan_release(never);
    WT_LEAK_END();
}

/* ------------------------------------------------------------------ */
/* Every blocking call leaves errno alone                              */
/* ------------------------------------------------------------------ */

/* Partners that make the calls below block for a moment and then wake:
 * they wait first, so the caller most likely parks (if it does not, the
 * call still must not touch errno). */
struct partner {
    weft_chan *c;
    weft_mutex *mu;
    weft_wg *wg;
    int fd;
};

static void write_later(void *p)
{
    struct partner *k = p;
    weft_sleep(2 * WEFT_MS);
    (void)weft_write(k->fd, "x", 1, WEFT_FOREVER);
}

/* Runs on a helper thread: its errno is not the caller's. */
static void clobber_errno(void *p)
{
    (void)p;
    errno = EIO;
}

static void nap(void *p)
{
    (void)p;
    weft_sleep(WEFT_MS);
}

static void send_later(void *p)
{
    struct partner *k = p;
    weft_sleep(2 * WEFT_MS);
    (void)weft_chan_send(k->c, NULL);
}

static void recv_later(void *p)
{
    struct partner *k = p;
    weft_sleep(2 * WEFT_MS);
    (void)weft_chan_recv(k->c, NULL);
}

static void unlock_later(void *p)
{
    struct partner *k = p;
    weft_sleep(2 * WEFT_MS);
    (void)weft_mutex_unlock(k->mu);
}

static void done_later(void *p)
{
    struct partner *k = p;
    weft_sleep(2 * WEFT_MS);
    (void)weft_wg_done(k->wg);
}

static void slow_once(void *p)
{
    (void)p;
    weft_sleep(2 * WEFT_MS);
}

static int group_fails_later(weft_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    weft_sleep(2 * WEFT_MS);
    return 7;
}

static void once_racer(void *p) { (void)weft_once_do(p, slow_once, NULL); }

/* errno through calls the compiler cannot merge with earlier ones: in a
 * task the thread (and its errno) may have changed since the last call. */
__attribute__((noinline)) static int errno_now(void)
{
    __asm__ __volatile__("" ::: "memory");
    return errno;
}

__attribute__((noinline)) static void errno_put(int e)
{
    __asm__ __volatile__("" ::: "memory");
    errno = e;
}

/* Check errno after each call: on a plain thread, read the ordinary way
 * (the thread's own errno, wherever the compiler keeps its address); in a
 * task, through a fresh call (the task may have moved; an ordinary read
 * could be another thread's errno: the hazard itself).  check(line). */
typedef void (*errno_check)(int line);

static void check_plain(int line)
{
    int got = errno;
    if (got != SENTINEL)
        fail_msg("line %d: errno %d after the call, %d before", line, got, SENTINEL);
}

static void check_task(int line)
{
    int now = errno_now();
    WT_CHECK_MSG(now == SENTINEL, "line %d: task errno %d after the call, %d before", line, now,
                 SENTINEL);
}

/* CALL is run with errno set to SENTINEL; its result must be WANT. */
#define EXPECT_ERRNO_KEPT(check, call, want)                                   \
    do {                                                                       \
        errno_put(SENTINEL);                                                   \
        long long wt_r = (long long)(call);                                    \
        check(__LINE__);                                                       \
        WT_CHECK_MSG(wt_r == (long long)(want), "line %d: %s = %lld, want %lld", \
                     __LINE__, #call, wt_r, (long long)(want));                \
    } while (0)

static void every_blocking_call(errno_check check)
{
    weft_chan *u = weft_chan_make(0, 0);
    struct partner k = {.c = u};
    weft_case cs[1] = {WEFT_CASE_RECV(u, NULL)};

    /* Timeouts: timed futex waits on a plain thread, timers in a task. */
    EXPECT_ERRNO_KEPT(check, weft_select(cs, 1, weft_deadline(2 * WEFT_MS)), -ETIMEDOUT);
    EXPECT_ERRNO_KEPT(check, weft_select(NULL, 0, weft_deadline(WEFT_MS)), -ETIMEDOUT);
    EXPECT_ERRNO_KEPT(check, weft_select(cs, 1, 0), -ETIMEDOUT);
    EXPECT_ERRNO_KEPT(check, weft_select(NULL, 1, 0), -EINVAL);
    EXPECT_ERRNO_KEPT(check, weft_sleep(WEFT_MS), 0);
    weft_ctx *tmo = weft_ctx_with_timeout(weft_ctx_background(), 2 * WEFT_MS);
    WT_CHECK(tmo != NULL);
    EXPECT_ERRNO_KEPT(check, weft_chan_recv_ctx(u, NULL, tmo), ETIMEDOUT);
    EXPECT_ERRNO_KEPT(check, weft_sleep_ctx(tmo, WEFT_SEC), ETIMEDOUT);
    weft_ctx_release(tmo);

    /* Woken by a partner. */
    WT_CHECK_INT_EQ(weft_go(send_later, &k), 0);
    EXPECT_ERRNO_KEPT(check, weft_chan_recv(u, NULL), 0);
    WT_CHECK_INT_EQ(weft_go(recv_later, &k), 0);
    EXPECT_ERRNO_KEPT(check, weft_chan_send(u, NULL), 0);
    WT_CHECK_INT_EQ(weft_go(send_later, &k), 0);
    EXPECT_ERRNO_KEPT(check, weft_select(cs, 1, WEFT_FOREVER), 0);
    weft_ctx *never = weft_ctx_with_cancel(weft_ctx_background());
    WT_CHECK_INT_EQ(weft_go(send_later, &k), 0);
    EXPECT_ERRNO_KEPT(check, weft_chan_recv_ctx(u, NULL, never), 0);

    weft_mutex mu = WEFT_MUTEX_INIT;
    k.mu = &mu;
    WT_CHECK_INT_EQ(weft_mutex_lock(&mu), 0);
    WT_CHECK_INT_EQ(weft_go(unlock_later, &k), 0); /* hands the lock over... */
    EXPECT_ERRNO_KEPT(check, weft_mutex_lock(&mu), 0);
    WT_CHECK_INT_EQ(weft_mutex_unlock(&mu), 0);

    weft_wg wg = WEFT_WG_INIT;
    k.wg = &wg;
    WT_CHECK_INT_EQ(weft_wg_add(&wg, 1), 0);
    WT_CHECK_INT_EQ(weft_go(done_later, &k), 0);
    EXPECT_ERRNO_KEPT(check, weft_wg_wait(&wg), 0);
    WT_CHECK_INT_EQ(weft_wg_add(&wg, 1), 0);
    WT_CHECK_INT_EQ(weft_go(done_later, &k), 0);
    EXPECT_ERRNO_KEPT(check, weft_wg_wait_ctx(&wg, never), 0);

    weft_once once = WEFT_ONCE_INIT;
    WT_CHECK_INT_EQ(weft_go(once_racer, &once), 0);
    EXPECT_ERRNO_KEPT(check, weft_once_do(&once, slow_once, NULL), 0);

    weft_group g;
    WT_CHECK_INT_EQ(weft_group_init(&g, never), 0);
    WT_CHECK_INT_EQ(weft_group_set_limit(&g, 1), 0);
    EXPECT_ERRNO_KEPT(check, weft_group_go(&g, group_fails_later, NULL), 0);
    EXPECT_ERRNO_KEPT(check, weft_group_go(&g, group_fails_later, NULL), 0); /* waits for the slot */
    EXPECT_ERRNO_KEPT(check, weft_group_wait(&g), 7);

    /* A leak check that has to wait (a task sleeps until it returns). */
    uint64_t mark = weft_leak_mark();
    WT_CHECK_INT_EQ(weft_go(slow_once, NULL), 0);
    EXPECT_ERRNO_KEPT(check, weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);

    /* I/O: a read that times out, one woken by a writer, a wait, a
     * blocking call on the helper pool. */
    int p[2];
    WT_CHECK_INT_EQ(pipe(p), 0);
    char c;
    EXPECT_ERRNO_KEPT(check, weft_read(p[0], &c, 1, weft_deadline(2 * WEFT_MS)), -ETIMEDOUT);
    k.fd = p[1];
    WT_CHECK_INT_EQ(weft_go(write_later, &k), 0);
    EXPECT_ERRNO_KEPT(check, weft_read(p[0], &c, 1, WEFT_FOREVER), 1);
    EXPECT_ERRNO_KEPT(check, weft_fd_wait(p[1], WEFT_OUT, WEFT_FOREVER), 0);
    EXPECT_ERRNO_KEPT(check, weft_write(p[1], "y", 1, WEFT_FOREVER), 1);
    EXPECT_ERRNO_KEPT(check, weft_read(p[0], &c, 1, 0), 1);
    EXPECT_ERRNO_KEPT(check, weft_blocking(clobber_errno, NULL), 0);
    EXPECT_ERRNO_KEPT(check, weft_fd_close(p[0]), 0);
    EXPECT_ERRNO_KEPT(check, weft_fd_close(p[1]), 0);

    /* Nothing is left: once_racer may still be on its way out. */
    weft_ctx_release(never);
    weft_chan_release(u);
}

static void in_task(void *p)
{
    (void)p;
    every_blocking_call(check_task);
}

/* On a plain thread every blocking call, timing out or woken, returns
 * with errno as it was. */
static void test_blocking_calls_leave_a_plain_threads_errno_alone(void **state)
{
    WT_LEAK_BEGIN();
    every_blocking_call(check_plain);
    WT_LEAK_END();
}

/* Inside a task every blocking call returns with the task's errno as it
 * was (wherever the task resumed). */
static void test_blocking_calls_leave_a_tasks_errno_alone(void **state)
{
    WT_LEAK_BEGIN();
    wt_run_in_task(in_task, NULL);
    WT_LEAK_END();
}

static int run_main(void *p)
{
    (void)p;
    weft_go(nap, NULL);
    weft_sleep(WEFT_MS);
    return 5;
}

/* Starting, running and stopping the runtime (threads, stacks, probes of
 * what the kernel supports) leave the caller's errno as it was. */
static void test_life_cycle_calls_leave_errno_alone(void **state)
{
    (void)state;
    struct weft_config cfg = {.workers = 2};
    errno = SENTINEL;
    assert_int_equal(weft_shutdown(), 0);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(weft_run(run_main, NULL), 5);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(weft_init(&cfg), 0);
    assert_int_equal(errno, SENTINEL);
    weft_yield();
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(weft_shutdown(), 0);
    assert_int_equal(errno, SENTINEL);
    /* Lazy start by the first call. */
    assert_int_equal(weft_go(nap, NULL), 0);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(weft_shutdown(), 0);
    assert_int_equal(weft_init(&cfg), 0); /* for the tests after this one */
    assert_int_equal(errno, SENTINEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_timeouts_are_results_even_across_migrations),
        cmocka_unit_test(test_blocking_calls_leave_a_plain_threads_errno_alone),
        cmocka_unit_test(test_blocking_calls_leave_a_tasks_errno_alone),
        cmocka_unit_test(test_life_cycle_calls_leave_errno_alone),
    };
    struct weft_config cfg = {.workers = 2};
    if (weft_init(&cfg) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, wt_group_teardown);
}
