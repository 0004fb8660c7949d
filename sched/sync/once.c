/*
 * once.c — weft_once: run a function exactly once (Go's sync.Once).
 *
 * Fast path: one acquire load of _done.  Slow path: the mutex serialises
 * callers; the first runs fn and publishes _done, the others park on the
 * mutex until it returned, then see _done and leave.  _runner records the
 * task running fn so that a recursive call from inside fn, which Go would
 * deadlock on, is EDEADLK.
 */
#include <errno.h>

#include "internal.h"
#include "sync/sync.h"

static inline weft__aword *o_done(weft_once *o) { return (weft__aword *)&o->_done; }
static inline weft__aword *o_runner(weft_once *o) { return (weft__aword *)&o->_runner; }

int weft_once_do(weft_once *o, weft_fn fn, void *arg)
{
    if (WEFT__UNLIKELY(!o || !fn))
        return EINVAL;
    /* acquire: pairs with the release store below, so fn's effects are
     * visible to every caller that sees _done. */
    if (WEFT__LIKELY(weft__load_acq(o_done(o))))
        return 0;
    weft__task *self = weft__current();
    if (WEFT__UNLIKELY(!self))
        return ENOMEM;
    /* relaxed: only equal to self if self stored it (program order). */
    if ((weft__task *)weft__load_relaxed(o_runner(o)) == self)
        return EDEADLK;
    int r = weft__mutex_lock_why(&o->_mu, WEFT__WAIT_ONCE, o, WEFT__CALLER());
    if (r)
        return r;
    if (!weft__load_relaxed(o_done(o))) { /* relaxed: written only under the mutex */
        weft__store_relaxed(o_runner(o), (AO_t)self); /* relaxed: read by self only (above) */
        fn(arg);
        weft__store_relaxed(o_runner(o), 0); /* relaxed: as above */
        /* release: see the acquire load above. */
        weft__store_rel(o_done(o), 1);
    }
    weft_mutex_unlock(&o->_mu);
    return 0;
}
