/*
 * lock.c — futex-backed mutex for weft's short critical sections, the futex
 * wrappers, and the internal panic.
 *
 * Lock word (internal.h): bit 0 held, bit 1 someone may sleep on the
 * futex, the rest a release count.  Drepper's mutex #3 ("Futexes are
 * tricky") with the count beside it: a thread that slept takes the lock
 * with the sleepers bit set again, since others may still sleep and the
 * releaser that woke it cleared the bit; a futex wait whose word moved in
 * the meantime (a release, a new sleeper) returns at once and retries.  We
 * spin first since holders run only a few dozen instructions.
 *
 * The release is a plain store (internal.h, weft__lock_release), not a
 * locked instruction: only the holder writes a held word, save a waiter
 * marking SLEEPERS, and a mark that races the store is lost, so a sleeper
 * never sleeps longer than WEFT__LOCK_NAP_NS before it looks again.  Each
 * channel operation takes and drops its channel's lock, so the locked
 * release was a third to a half of a buffered send's or receive's time:
 * bench/mpmc at 2 workers 64.7 → 35.4 ns per message, select2 46 → 37 ns.
 *
 * The spin backs off exponentially (1, 2, 4 ... 1024 pauses between looks,
 * twelve looks, ~3 000 pauses in all before the futex).  The lock word
 * shares its cache line with the state it guards (a channel's counts and
 * indices): a waiter that looks after every pause pulls the line away from
 * the holder in the middle of its critical section, so under contention
 * every operation paid several line transfers.  Backing off lets a holder
 * run a burst of operations with the line in its own cache.  Measured at
 * 2 workers (bench/mpmc.c, 4 producers and 4 consumers on one channel):
 * 150–250 ns per message with one pause between looks, 61 ns with this
 * back-off (mpmc_unbuf: 320 → 90 ns).
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

enum { WEFT__LOCK_SPINS = 12, WEFT__LOCK_MAX_DELAY = 1024 };
/* Longest sleep on the futex before a sleeper looks at the lock again. */
#define WEFT__LOCK_NAP_NS (250 * WEFT_US)

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
    for (int i = 0, delay = 1; i < WEFT__LOCK_SPINS; i++) {
        if (weft__lock_try(l))
            return;
        for (int k = 0; k < delay; k++)
            weft__cpu_relax();
        if (delay < WEFT__LOCK_MAX_DELAY)
            delay <<= 1;
    }
    for (;;) {
        unsigned v = weft__iload_relaxed(&l->word);
        if (!(v & WEFT__LOCK_HELD)) {
            /* acquire: as weft__lock_try.  Sleepers marked: see above. */
            if (weft__icas_acq(&l->word, v, v | WEFT__LOCK_HELD | WEFT__LOCK_SLEEPERS))
                return;
            continue;
        }
        /* full: the mark must be in the word before we sleep on it, so
         * the holder's release sees it and wakes us. */
        if (!(v & WEFT__LOCK_SLEEPERS) && !weft__icas_full(&l->word, v, v | WEFT__LOCK_SLEEPERS))
            continue;
        /* Not forever: a release that raced our mark wakes nobody. */
        weft__futex_wait(&l->word, v | WEFT__LOCK_SLEEPERS, weft_now() + WEFT__LOCK_NAP_NS);
    }
}

void weft__unlock_slow(weft__lock *l)
{
    /* Released with the sleepers bit set: clear it and wake one, who
     * sets it again when it takes the lock (others may still sleep). */
    unsigned v;
    do
        v = weft__iload_relaxed(&l->word);
    while ((v & WEFT__LOCK_SLEEPERS) &&
           !weft__icas_full(&l->word, v, v & ~WEFT__LOCK_SLEEPERS));
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
