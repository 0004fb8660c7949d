/*
 * lock.c — futex-backed mutex for weft's short critical sections, the futex
 * wrappers, and the internal panic.
 *
 * Lock word: 0 free, 1 held, 2 held and someone may sleep on the futex
 * (Drepper, "Futexes are tricky", mutex #3).  We spin a little first since
 * holders run only a few dozen instructions.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

enum { WEFT__LOCK_SPINS = 128 };

int weft__futex_wait(weft__aint *word, unsigned expect, int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    int op = FUTEX_WAIT_PRIVATE;
    if (deadline != WEFT_FOREVER) {
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
        ts.tv_sec = deadline / WEFT_SEC;
        ts.tv_nsec = deadline % WEFT_SEC;
        if (deadline < 0)
            ts.tv_sec = 0, ts.tv_nsec = 0;
        tsp = &ts;
        op = FUTEX_WAIT_BITSET_PRIVATE;
    }
    /* Plain threads block here inside public calls, which never report
     * through errno: the caller's errno must come out as it went in. */
    int saved = errno;
    long r = syscall(SYS_futex, word, op, expect, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
    int e = r == -1 ? errno : 0;
    errno = saved;
    return e == ETIMEDOUT ? ETIMEDOUT : 0;
}

void weft__futex_wake(weft__aint *word, int n)
{
    int saved = errno;
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
    errno = saved;
}

void weft__lock_slow(weft__lock *l)
{
    for (int i = 0; i < WEFT__LOCK_SPINS; i++) {
        if (weft__iload_relaxed(&l->word) == 0 && weft__icas_acq(&l->word, 0, 1))
            return;
        weft__cpu_relax();
    }
    /* Mark the lock contended; whoever held it will wake one sleeper. */
    while (weft__ixchg_full(&l->word, 2) != 0)
        weft__futex_wait(&l->word, 2, WEFT_FOREVER);
}

void weft__unlock_slow(weft__lock *l)
{
    /* The word was 2: sleepers may wait on it.  Free it and wake one. */
    weft__istore_rel(&l->word, 0);
    weft__futex_wake(&l->word, 1);
}

void weft__panic(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "weft: fatal: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

__attribute__((noinline)) int weft__errno_get(void) { return errno; }
__attribute__((noinline)) void weft__errno_set(int e) { errno = e; }
