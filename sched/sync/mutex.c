/*
 * mutex.c — weft_mutex: barging with a bounded pass count, FIFO wake-up.
 *
 * State word (_state):
 *   LOCKED   held.
 *   QUEUED   the queue of parked lockers is not empty; set and cleared
 *            only under the queue lock (_lock), so under that lock QUEUED
 *            and "queue not empty" are the same thing.
 *   WOKEN    one waiter has been taken off the queue and readied, and has
 *            not yet got the mutex; no other is woken meanwhile.
 *   HANDOFF  (with LOCKED and WOKEN) held on behalf of the woken waiter,
 *            which owns the mutex when it runs.
 *   pass     (the bits above, PASS_ONE each) acquisitions that bypassed a
 *            waiter since a waiter last got the mutex.
 *
 * Why barging: a strict hand-off (every unlock gives the mutex to the
 * queue head) turns contention into a convoy, one task switch per
 * acquisition, a fixed cost of ~50 ns that no running locker can avoid:
 * at 2 workers it ran 2x slower than Go's sync.Mutex (bench/
 * mutex_contended).  So, as in Go's normal mode, an unlock with waiters
 * releases the mutex and wakes the queue head, and whoever is running
 * (spinning lockers, or the locker that just unlocked) may take it first.
 *
 * Why a pass bound besides Go's 1 ms starvation timer: weft does not
 * preempt, so a task that relocks in a loop without blocking would keep a
 * woken waiter on its own worker from ever running, and the waiter could
 * not notice its own starvation.  So the unlocker counts too: once PASSES
 * acquisitions have bypassed a waiter, the next unlock hands the mutex
 * over (to the woken waiter through HANDOFF, or to the queue head
 * directly), and the next locker parks, which lets the waiter run.
 * The first waiter in line (woken, or the queue head) is therefore
 * passed at most WEFT__MUTEX_MAX_PASSES times, the count restarting for
 * the next one when it gets the mutex; waiters get the mutex in their
 * queue order (a woken waiter that loses goes back to the front), so the
 * k-th in line is passed at most k * WEFT__MUTEX_MAX_PASSES times.  Go's
 * time bound is kept too, where the waiter can apply it: a woken waiter
 * that loses after waiting 1 ms spends the count at once, so the next
 * unlock hands it the mutex (a holder that parks while holding passes a
 * waiter slowly: 256 passes of a 100 us sleep would be 26 ms).
 *
 *  - lock, uncontended: CAS 0 → LOCKED.  unlock, uncontended: CAS LOCKED →
 *    0 (weft.h inlines both).
 *  - lock, contended: spin while LOCKED (not HANDOFF), taking the mutex as
 *    soon as it is free; then under the queue lock set QUEUED, append, and
 *    park (the queue lock is released after the switch).
 *  - unlock with WOKEN: one CAS (release, or set HANDOFF once the pass
 *    count is spent).  With QUEUED and no WOKEN: under the queue lock pop
 *    the head and wake it (release, WOKEN) or hand it the mutex (pass
 *    count spent: the state stays LOCKED and the waiter wakes owning it).
 *
 * Like Go's sync.Mutex a weft_mutex is not tied to a task: any task or
 * thread may unlock it.  Unlocking an unlocked mutex is EPERM.
 */
#include <errno.h>

#include "internal.h"
#include "sync/sync.h"

_Static_assert(sizeof(((weft_mutex *)0)->_lock) == sizeof(weft__lock), "mutex lock word");
_Static_assert(sizeof(((weft_mutex *)0)->_state) == sizeof(weft__aint), "mutex state word");

enum {
    M_LOCKED = 1,
    M_QUEUED = 2,
    M_WOKEN = 4,
    M_HANDOFF = 8,
    M_PASS_SHIFT = 4,
    M_PASS_ONE = 1 << M_PASS_SHIFT,
    M_FLAGS = M_PASS_ONE - 1,
    M_SPINS = 64,
};

struct m_waiter {
    struct m_waiter *next;
    weft__task *task;
    uint64_t since; /* weft__ticks() when it first queued */
    bool handed;    /* the unlock that readied it handed it the mutex */
};

/* A woken waiter that loses a race after waiting this long makes the next
 * unlock hand it the mutex (Go's starvation threshold). */
#define M_STARVE_NS (1000 * 1000)

_Static_assert(WEFT__MUTEX_MAX_PASSES >= 1 &&
                   WEFT__MUTEX_MAX_PASSES <= (~0u >> M_PASS_SHIFT),
               "the pass count fits the state word");

const unsigned weft__mutex_max_passes = WEFT__MUTEX_MAX_PASSES;

static inline weft__aint *m_state(weft_mutex *m) { return (weft__aint *)&m->_state; }
static inline weft__lock *m_lock(weft_mutex *m) { return (weft__lock *)&m->_lock; }
static inline unsigned m_passes(unsigned s) { return s >> M_PASS_SHIFT; }

/* The state after a locker takes the free mutex s: one more pass if it
 * bypasses a waiter (saturating: a third party's unlock of a handed-off
 * mutex, see unlock, can leave the count spent with nobody handed it). */
static inline unsigned m_barge(unsigned s)
{
    s |= M_LOCKED;
    if ((s & (M_QUEUED | M_WOKEN)) && m_passes(s) < WEFT__MUTEX_MAX_PASSES)
        s += M_PASS_ONE;
    return s;
}

/* One try to take the mutex as a locker that is not a waiter. */
static inline bool m_try_barge(weft_mutex *m, unsigned s)
{
    /* acquire: the critical section must not float above the lock. */
    return !(s & M_LOCKED) && weft__icas_acq(m_state(m), s, m_barge(s));
}

/* The woken waiter's loop after its park: take the mutex (free, or handed
 * to it), else spin a little, else go back to the front of the queue and
 * park again.  Returns once it owns the mutex. */
static int m_wait_woken(weft_mutex *m, struct m_waiter *me, enum weft__wait why, const void *obj,
                        const void *pc)
{
    for (;;) {
        if (me->handed)
            return 0;
        for (int i = 0;; i++) {
            unsigned s = weft__iload_relaxed(m_state(m)); /* relaxed: each use is a CAS */
            /* Taking it ends this waiter's bypass: WOKEN and the count go.
             * acquire: the handing unlock's release CAS set HANDOFF, and
             * its critical section happens-before ours. */
            if (s & M_HANDOFF) {
                if (weft__icas_acq(m_state(m), s, s & ~(M_HANDOFF | M_WOKEN) & M_FLAGS))
                    return 0;
                continue;
            }
            if (!(s & M_LOCKED)) {
                if (weft__icas_acq(m_state(m), s, (s | M_LOCKED) & ~M_WOKEN & M_FLAGS))
                    return 0;
                continue;
            }
            if (i >= M_SPINS)
                break;
            weft__cpu_relax();
        }
        /* Lost to a barger: back to the front, WOKEN cleared so the next
         * unlock wakes (or, with the count spent, hands off to) us again.
         * Having waited M_STARVE_NS, spend the count: a holder that parks
         * while holding the mutex (a sleep, a channel) passes us far more
         * slowly than a tight loop does, and 256 such passes could take
         * seconds. */
        bool starving = weft__ticks_to_ns(weft__ticks() - me->since) >= M_STARVE_NS;
        weft__lock_acquire(m_lock(m));
        unsigned s;
        for (;;) {
            s = weft__iload_relaxed(m_state(m)); /* relaxed: validated by the CAS */
            if ((s & M_HANDOFF) || !(s & M_LOCKED))
                break;
            unsigned nv = (s | M_QUEUED) & ~M_WOKEN;
            if (starving)
                nv = (nv & M_FLAGS) | ((unsigned)WEFT__MUTEX_MAX_PASSES << M_PASS_SHIFT);
            if (weft__icas_full(m_state(m), s, nv))
                break;
        }
        if ((s & M_HANDOFF) || !(s & M_LOCKED)) {
            weft__lock_release(m_lock(m));
            continue; /* still WOKEN: try again */
        }
        me->handed = false;
        me->next = m->_head;
        m->_head = me;
        if (!m->_tail)
            m->_tail = me;
        weft__set_wait_pc(me->task, pc);
        weft__park(why, obj, m_lock(m));
    }
}

/* The lock when the first CAS failed (or m is NULL). */
static __attribute__((noinline)) int mutex_lock_slow(weft_mutex *m, enum weft__wait why,
                                                     const void *obj, const void *pc)
{
    if (WEFT__UNLIKELY(!m))
        return EINVAL;
    /* Spin while another running locker holds it; not while it is handed
     * to a woken waiter, which may not be running at all. */
    for (int i = 0; i < M_SPINS; i++) {
        unsigned s = weft__iload_relaxed(m_state(m)); /* relaxed: a hint; the CAS decides */
        if (m_try_barge(m, s))
            return 0;
        if (s & M_HANDOFF)
            break;
        weft__cpu_relax();
    }
    weft__task *self = weft__current();
    if (WEFT__UNLIKELY(!self))
        return ENOMEM;
    weft__lock_acquire(m_lock(m));
    for (;;) {
        unsigned s = weft__iload_relaxed(m_state(m)); /* relaxed: each branch is a CAS */
        if (!(s & M_LOCKED)) {
            if (m_try_barge(m, s)) {
                weft__lock_release(m_lock(m));
                return 0;
            }
        } else if ((s & M_QUEUED) || weft__icas_full(m_state(m), s, s | M_QUEUED)) {
            break;
        }
    }
    struct m_waiter me = {NULL, self, weft__ticks(), false};
    if (m->_tail)
        ((struct m_waiter *)m->_tail)->next = &me;
    else
        m->_head = &me;
    m->_tail = &me;
    /* Readied by an unlock that woke us or handed us the mutex. */
    weft__set_wait_pc(self, pc);
    weft__park(why, obj, m_lock(m));
    return m_wait_woken(m, &me, why, obj, pc);
}

int weft__mutex_lock_why(weft_mutex *m, enum weft__wait why, const void *obj, const void *pc)
{
    /* acquire: the critical section must not float above the lock. */
    if (WEFT__LIKELY(m != NULL) && WEFT__LIKELY(weft__icas_acq(m_state(m), 0, M_LOCKED)))
        return 0;
    return mutex_lock_slow(m, why, obj, pc);
}

int weft_mutex_lock(weft_mutex *m)
{
    /* Uncontended: one CAS and no frame (the call site is read only when
     * the lock has to wait). */
    if (WEFT__LIKELY(m != NULL) && WEFT__LIKELY(weft__icas_acq(m_state(m), 0, M_LOCKED)))
        return 0;
    return mutex_lock_slow(m, WEFT__WAIT_MUTEX, m, WEFT__CALLER());
}

/* weft.h's inline lock after its CAS failed: straight to the slow path,
 * without a second CAS on a line another CPU most likely holds. */
int weft__mutex_lock_contended(weft_mutex *m)
{
    return mutex_lock_slow(m, WEFT__WAIT_MUTEX, m, WEFT__CALLER());
}

int weft_mutex_trylock(weft_mutex *m)
{
    if (WEFT__UNLIKELY(!m))
        return EINVAL;
    for (;;) {
        unsigned s = weft__iload_relaxed(m_state(m)); /* relaxed: the CAS decides */
        if (s & M_LOCKED)
            return EBUSY;
        if (m_try_barge(m, s))
            return 0;
    }
}

static __attribute__((noinline)) int mutex_unlock_slow(weft_mutex *m);

int weft_mutex_unlock(weft_mutex *m)
{
    if (WEFT__UNLIKELY(!m))
        return EINVAL;
    /* release: the critical section happens-before the next lock's
     * acquire CAS, which reads this store. */
    if (WEFT__LIKELY(weft__icas_rel(m_state(m), M_LOCKED, 0)))
        return 0;
    return mutex_unlock_slow(m);
}

/* weft.h's inline unlock after its CAS failed (m is not NULL there). */
int weft__mutex_unlock_contended(weft_mutex *m) { return mutex_unlock_slow(m); }

/* Unlock with waiters (or of a mutex that is not locked). */
static int mutex_unlock_slow(weft_mutex *m)
{
    for (;;) {
        /* Lock-free cases first.  Every CAS here is release: it publishes
         * the critical section to whoever takes the mutex next (a barger's
         * or the woken waiter's acquire CAS reads it or a later RMW). */
        unsigned s = weft__iload_relaxed(m_state(m)); /* relaxed: the CAS validates */
        unsigned nv;
        /* A word weft never writes (garbage, a stale copy): abort loudly
         * rather than corrupt the queue. */
        WEFT__ASSERT(m_passes(s) <= WEFT__MUTEX_MAX_PASSES);
        WEFT__ASSERT(!(s & M_HANDOFF) || (s & (M_LOCKED | M_WOKEN)) == (M_LOCKED | M_WOKEN));
        if (!(s & M_LOCKED))
            return EPERM;
        if (s & M_HANDOFF)
            /* Handed to the woken waiter, and unlocked by a third party
             * before it ran (any task may unlock): it will find the mutex
             * free instead and compete for it. */
            nv = s & ~(M_LOCKED | M_HANDOFF);
        else if (!(s & (M_QUEUED | M_WOKEN)))
            nv = 0; /* nobody waits: the pass count goes too */
        else if (s & M_WOKEN)
            nv = m_passes(s) >= WEFT__MUTEX_MAX_PASSES ? s | M_HANDOFF : s & ~M_LOCKED;
        else
            break; /* QUEUED, nobody woken: wake the head */
        if (weft__icas_rel(m_state(m), s, nv))
            return 0;
    }
    weft__lock_acquire(m_lock(m));
    struct m_waiter *w;
    for (;;) {
        /* relaxed: validated by the CAS.  Under the queue lock, while we
         * hold the mutex, only a racing unlock (misuse) or a woken waiter
         * going back to the queue (needs WOKEN: not set) changes it. */
        unsigned s = weft__iload_relaxed(m_state(m));
        if (!(s & M_LOCKED) || (s & (M_WOKEN | M_HANDOFF)) || !(s & M_QUEUED)) {
            weft__lock_release(m_lock(m));
            return mutex_unlock_slow(m); /* only after a racing unlock */
        }
        w = m->_head;
        WEFT__ASSERT(w != NULL);
        unsigned rest = w->next ? M_QUEUED : 0;
        bool hand = m_passes(s) >= WEFT__MUTEX_MAX_PASSES;
        /* Hand over: stays LOCKED, the count restarts for the next head.
         * Wake: released, WOKEN, the count goes on (the woken waiter is
         * the one being passed). */
        unsigned nv = hand ? M_LOCKED | rest : rest | M_WOKEN | (s & ~M_FLAGS);
        if (weft__icas_full(m_state(m), s, nv)) {
            w->handed = hand;
            break;
        }
    }
    m->_head = w->next;
    if (!m->_head)
        m->_tail = NULL;
    weft__task *t = w->task; /* w lives on t's stack: read before t runs */
    weft__lock_release(m_lock(m));
    weft__ready(t);
    return 0;
}

size_t weft__mutex_waiters(weft_mutex *m)
{
    size_t n = 0;
    weft__lock_acquire(m_lock(m));
    for (struct m_waiter *w = m->_head; w; w = w->next)
        n++;
    if (weft__iload_acq(m_state(m)) & M_WOKEN)
        n++;
    weft__lock_release(m_lock(m));
    return n;
}
