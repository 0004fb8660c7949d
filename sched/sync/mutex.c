/*
 * mutex.c — weft_mutex: a task mutex with FIFO hand-off.
 *
 * State word (_state): 0 unlocked, 1 locked, 2 locked and the queue is not
 * empty.  The queue and the 1 → 2 / 2 → 1 transitions change only under
 * the queue lock (_lock, a weft__lock), so under that lock "state == 2"
 * and "queue not empty" are the same thing.
 *
 *  - lock, uncontended: CAS 0 → 1.  unlock, uncontended: CAS 1 → 0.
 *  - lock, contended: spin briefly while the state is 1 (held, nobody
 *    queued: taking it when it frees bypasses nobody), then, under the
 *    queue lock, turn 1 into 2 (or see 0 and take it), append the caller
 *    to the queue and park (the queue lock is released after the switch).
 *  - unlock with state 2: under the queue lock, pop the first waiter and
 *    hand it the mutex directly: the state stays locked (2, or 1 if the
 *    queue became empty), so no newcomer can barge in between, and the
 *    waiter wakes up owning it.  Waiters are served strictly in arrival
 *    order: nobody starves (Go's starvation mode, always on once queued).
 *
 * Like Go's sync.Mutex a weft_mutex is not tied to a task: any task or
 * thread may unlock it.  Unlocking an unlocked mutex is EPERM.
 */
#include <errno.h>

#include "internal.h"
#include "sync/sync.h"

_Static_assert(sizeof(((weft_mutex *)0)->_lock) == sizeof(weft__lock), "mutex lock word");
_Static_assert(sizeof(((weft_mutex *)0)->_state) == sizeof(weft__aint), "mutex state word");

enum { M_UNLOCKED = 0, M_LOCKED = 1, M_QUEUED = 2, M_SPINS = 64 };

struct m_waiter {
    struct m_waiter *next;
    weft__task *task;
};

static inline weft__aint *m_state(weft_mutex *m) { return (weft__aint *)&m->_state; }
static inline weft__lock *m_lock(weft_mutex *m) { return (weft__lock *)&m->_lock; }

/* The lock when the first CAS failed (or m is NULL). */
static __attribute__((noinline)) int mutex_lock_slow(weft_mutex *m, enum weft__wait why,
                                                     const void *obj, const void *pc)
{
    if (WEFT__UNLIKELY(!m))
        return EINVAL;
    /* Spin only while held with nobody queued (see the header comment). */
    for (int i = 0; i < M_SPINS; i++) {
        /* relaxed: a hint; the CAS (acquire, as above) decides. */
        unsigned s = weft__iload_relaxed(m_state(m));
        if (s == M_UNLOCKED && weft__icas_acq(m_state(m), M_UNLOCKED, M_LOCKED))
            return 0;
        if (s == M_QUEUED)
            break;
        weft__cpu_relax();
    }
    weft__task *self = weft__current();
    if (WEFT__UNLIKELY(!self))
        return ENOMEM;
    weft__lock_acquire(m_lock(m));
    for (;;) {
        /* relaxed: each branch is validated by a CAS. */
        unsigned s = weft__iload_relaxed(m_state(m));
        if (s == M_UNLOCKED) {
            if (weft__icas_full(m_state(m), M_UNLOCKED, M_LOCKED)) {
                weft__lock_release(m_lock(m));
                return 0;
            }
        } else if (s == M_QUEUED || weft__icas_full(m_state(m), M_LOCKED, M_QUEUED)) {
            break;
        }
    }
    struct m_waiter me = {NULL, self};
    if (m->_tail)
        ((struct m_waiter *)m->_tail)->next = &me;
    else
        m->_head = &me;
    m->_tail = &me;
    /* Readied by the unlock that handed us the mutex. */
    weft__set_wait_pc(self, pc);
    weft__park(why, obj, m_lock(m));
    return 0;
}

int weft__mutex_lock_why(weft_mutex *m, enum weft__wait why, const void *obj, const void *pc)
{
    /* acquire: the critical section must not float above the lock. */
    if (WEFT__LIKELY(m != NULL) && WEFT__LIKELY(weft__icas_acq(m_state(m), M_UNLOCKED, M_LOCKED)))
        return 0;
    return mutex_lock_slow(m, why, obj, pc);
}

int weft_mutex_lock(weft_mutex *m)
{
    /* Uncontended: one CAS and no frame (the call site is read only when
     * the lock has to wait). */
    if (WEFT__LIKELY(m != NULL) && WEFT__LIKELY(weft__icas_acq(m_state(m), M_UNLOCKED, M_LOCKED)))
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
    /* acquire: as in lock. */
    return weft__icas_acq(m_state(m), M_UNLOCKED, M_LOCKED) ? 0 : EBUSY;
}

static __attribute__((noinline)) int mutex_unlock_slow(weft_mutex *m);

int weft_mutex_unlock(weft_mutex *m)
{
    if (WEFT__UNLIKELY(!m))
        return EINVAL;
    /* release: the critical section happens-before the next lock's
     * acquire CAS, which reads this store. */
    if (WEFT__LIKELY(weft__icas_rel(m_state(m), M_LOCKED, M_UNLOCKED)))
        return 0;
    return mutex_unlock_slow(m);
}

/* weft.h's inline unlock after its CAS failed (m is not NULL there). */
int weft__mutex_unlock_contended(weft_mutex *m) { return mutex_unlock_slow(m); }

/* Unlock of a mutex with a queue (or not locked at all). */
static int mutex_unlock_slow(weft_mutex *m)
{
    weft__lock_acquire(m_lock(m));
    struct m_waiter *w = NULL;
    for (;;) {
        /* relaxed: under the queue lock only 1 → 0 (a racing unlock, which
         * is misuse) or our own stores can change a non-zero state. */
        unsigned s = weft__iload_relaxed(m_state(m));
        if (s == M_UNLOCKED) {
            weft__lock_release(m_lock(m));
            return EPERM;
        }
        if (s == M_LOCKED) {
            if (weft__icas_full(m_state(m), M_LOCKED, M_UNLOCKED))
                break;
            continue;
        }
        /* M_QUEUED: nobody else can change the state while we hold the
         * queue lock (every other transition out of 2 needs it). */
        w = m->_head;
        WEFT__ASSERT(w != NULL);
        m->_head = w->next;
        if (!m->_head) {
            m->_tail = NULL;
            weft__istore_full(m_state(m), M_LOCKED); /* handed off; queue empty */
        }
        break;
    }
    weft__lock_release(m_lock(m));
    if (w)
        weft__ready(w->task); /* it now owns the mutex */
    return 0;
}

size_t weft__mutex_waiters(weft_mutex *m)
{
    size_t n = 0;
    weft__lock_acquire(m_lock(m));
    for (struct m_waiter *w = m->_head; w; w = w->next)
        n++;
    weft__lock_release(m_lock(m));
    return n;
}
