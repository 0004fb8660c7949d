/*
 * wg.c — WaitGroup (Go's sync.WaitGroup), errors instead of panics.
 *
 * State: one atomic word, counter << 1 | W, where W ("has waiters") is set
 * exactly while the waiter list is non-empty.  W and the list change only
 * under wg->_lock, so the invariant is kept by lock holders; the counter
 * changes by CAS, with or without the lock.  Invariant: W implies
 * counter > 0 (the transition of the counter to zero with W set happens
 * under the lock and clears W and empties the list in the same step).
 *
 *  - add of a positive delta: one fetch-and-add (it can never end a
 *    generation; past the range it is taken back, see weft_wg_add).
 *  - done (any decrease) with no waiter: one CAS on the state word (the
 *    CAS loop retries only when another add raced it).  A decrease is a
 *    CAS, not a fetch-and-add, so that reaching zero with W set, and a
 *    misuse's negative count, are never visible to anyone.
 *  - add that brings the counter to zero with W set: under the lock, CAS
 *    the state to 0 (counter 0, W clear) and detach the whole list, then
 *    ready the waiters after unlocking.  A waiter that arrives after that
 *    CAS sees either counter 0 (returns at once) or a new generation's
 *    counter (waits for that one), never a stale list: the list detached
 *    belongs exactly to the generation that just ended.
 *  - wait with counter > 0: under the lock, set W (CAS, so a concurrent
 *    transition to zero is seen), link weft__current() into the list and
 *    park with the lock released after the switch (weft__park).
 *  - wait_ctx: the same, but the waiter is also registered with the
 *    context (ctx/ctx.h) and both wakers must win weft__claim() before
 *    readying it.  See weft_wg_wait_ctx.
 *  - A wait that finds the counter at zero must not return while an add
 *    that ended the generation still touches the wg (see wg_quiesce):
 *    callers free a WaitGroup as soon as wait returns.
 *
 * Counter range: 0 .. INT64_MAX >> 1 (2^62 - 1); an add that would leave
 * it negative or above that is EINVAL and leaves the counter as it was
 * (an increase past the top is undone: for that moment waiters only see
 * a larger count).
 *
 * Memory order: every read-modify-write on the state word is a full CAS
 * (seq-cst) except the common add's and done's, a release fetch-and-add
 * or CAS (see wg_add_cas), so
 * a done() happens-before the return of the wait() it releases whether
 * that wait returned by the fast path (acquire load below) or was
 * readied.
 */
#include <errno.h>

#include "internal.h"
#include "ctx/ctx.h"
#include "sync/sync.h"

_Static_assert(sizeof(((weft_wg *)0)->_state) == sizeof(AO_t), "wg state is an AO_t");
_Static_assert(sizeof(((weft_wg *)0)->_lock) == sizeof(weft__lock), "wg lock is a weft__lock");

#define WG_W ((AO_t)1)
#define WG_MAX (INT64_MAX >> 1)

static inline weft__aword *wg_state(weft_wg *wg) { return (weft__aword *)&wg->_state; }
static inline weft__lock *wg_lock(weft_wg *wg) { return (weft__lock *)&wg->_lock; }
static inline int64_t wg_count(AO_t s) { return (int64_t)(s >> 1); }

/* A parked waiter; lives on the waiting task's stack. */
struct wg_waiter {
    struct wg_waiter *next, *prev;
    weft__task *task;
    bool claim;  /* wait_ctx: the waker must win weft__claim() */
    bool queued; /* still linked (under the lock) */
};

static void list_push(weft_wg *wg, struct wg_waiter *w)
{
    struct wg_waiter *head = wg->_waiters;
    w->prev = NULL;
    w->next = head;
    if (head)
        head->prev = w;
    wg->_waiters = w;
    w->queued = true;
}

static void list_remove(weft_wg *wg, struct wg_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        wg->_waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

/* Lock held, the list just detached from wg: keep the waiters this waker
 * may ready (plain waiters, and wait_ctx waiters whose claim it won) in a
 * singly linked list through ->next.  A waiter whose claim was lost is
 * dropped here, under the lock: its task removes nothing (queued is false)
 * and may return, so its node must not be touched after the unlock. */
static struct wg_waiter *claim_all(struct wg_waiter *list)
{
    struct wg_waiter *keep = NULL;
    while (list) {
        struct wg_waiter *w = list;
        list = w->next;
        w->queued = false;
        w->prev = NULL;
        if (w->claim && !weft__claim(w->task))
            continue;
        w->next = keep;
        keep = w;
    }
    return keep;
}

static void ready_all(struct wg_waiter *keep)
{
    while (keep) {
        struct wg_waiter *w = keep;
        keep = w->next;        /* read before the task can run and pop its stack */
        weft__ready(w->task);
    }
}

/* new counter value, or -1 if below zero or above max. */
static inline int64_t wg_new(AO_t s, int64_t delta, int64_t max)
{
    int64_t n;
    if (__builtin_add_overflow(wg_count(s), delta, &n) || n < 0 || n > max)
        return -1;
    return n;
}

/* The add that ends a generation with waiters (out of line: the common
 * add is one atomic instruction with no frame). */
static __attribute__((noinline)) int wg_add_slow(weft_wg *wg, int64_t delta, int64_t max)
{
    weft__lock_acquire(wg_lock(wg));
    struct wg_waiter *list = NULL;
    for (;;) {
        AO_t s = weft__load_relaxed(wg_state(wg)); /* relaxed: the CAS below validates it */
        int64_t n = wg_new(s, delta, max);
        if (n < 0) {
            weft__lock_release(wg_lock(wg));
            return EINVAL;
        }
        if (n == 0 && (s & WG_W)) {
            if (!weft__cas_full(wg_state(wg), s, 0))
                continue;
            list = wg->_waiters;
            wg->_waiters = NULL;
            list = claim_all(list);
            break;
        }
        if (weft__cas_full(wg_state(wg), s, ((AO_t)n << 1) | (s & WG_W)))
            break;
    }
    weft__lock_release(wg_lock(wg));
    ready_all(list);
    return 0;
}

/* Any add by CAS: the counter moves only if the result is in 0..max. */
static int wg_add_cas(weft_wg *wg, int64_t delta, int64_t max)
{
    /* relaxed: only a guess for the CAS, which re-validates. */
    AO_t s = weft__load_relaxed(wg_state(wg));
    for (;;) {
        int64_t n = wg_new(s, delta, max);
        if (WEFT__UNLIKELY(n < 0))
            return EINVAL;
        if (WEFT__UNLIKELY(n == 0 && (s & WG_W)))
            return wg_add_slow(wg, delta, max);
        /* release, not full: this CAS wakes nobody and reads nothing
         * another task wrote, so nothing of theirs must become visible
         * to us (no acquire); what must be published is our own past:
         * a done() happens-before the return of any wait() that reads
         * the counter it left (that wait's acquire load reads this
         * store or a later one in the word's modification order, and a
         * later one is a read-modify-write, which continues the release
         * sequence).  A wait that parks is readied under the lock by the
         * add that ends the generation, which is full. */
        if (weft__cas_rel(wg_state(wg), s, ((AO_t)n << 1) | (s & WG_W)))
            return 0;
        s = weft__load_relaxed(wg_state(wg)); /* relaxed: as above */
    }
}

/* The largest increase made by one fetch-and-add: with every add below
 * it, even 2^30 racing adds that each overshoot WG_MAX (and undo it)
 * cannot carry the counter out of its 63 bits. */
#define WG_XADD_MAX ((int64_t)1 << 31)

int weft_wg_add(weft_wg *wg, int64_t delta)
{
    if (WEFT__UNLIKELY(!wg))
        return EINVAL;
    if (WEFT__LIKELY(delta > 0 && delta <= WG_XADD_MAX)) {
        /* An increase never ends a generation, so it needs neither the
         * old value nor a CAS: one fetch-and-add (Go's Add is the same
         * instruction).  It is a read-modify-write like the CAS it
         * replaces, so every CAS elsewhere still sees the word change
         * under it and retries.  release: as in wg_add_cas. */
        AO_t old = weft__fetch_add_rel(wg_state(wg), (AO_t)delta << 1);
        if (WEFT__LIKELY(wg_count(old) <= WG_MAX - delta))
            return 0;
        /* Past WG_MAX: take it back.  The counter held too much for a
         * moment; a waiter that saw it only waits, and if the undo is
         * what brings the counter to zero it wakes the waiters, as any
         * done would.  No upper bound for the undo (another overshoot
         * may be in flight); it cannot go below zero, since our increase
         * is still in the counter. */
        int err = wg_add_cas(wg, -delta, INT64_MAX);
        WEFT__ASSERT(err == 0);
        return EINVAL;
    }
    return wg_add_cas(wg, delta, WG_MAX);
}

int weft_wg_done(weft_wg *wg)
{
    if (WEFT__UNLIKELY(!wg))
        return EINVAL;
    return wg_add_cas(wg, -1, WG_MAX);
}

/* Lock held.  Set W unless the counter is zero: true if the caller must
 * wait (W is set), false if the counter is zero. */
static bool wg_mark_waiting(weft_wg *wg)
{
    for (;;) {
        /* acquire: on zero the caller returns, and every done() that got
         * it there must happen-before that (it was not under the lock). */
        AO_t s = weft__load_acq(wg_state(wg));
        if (wg_count(s) == 0)
            return false;
        if ((s & WG_W) || weft__cas_full(wg_state(wg), s, s | WG_W))
            return true;
    }
}

/* Lock held, w just unlinked: clear W if the list became empty. */
static void wg_clear_if_empty(weft_wg *wg)
{
    if (wg->_waiters)
        return;
    for (;;) {
        AO_t s = weft__load_relaxed(wg_state(wg)); /* relaxed: validated by the CAS */
        if (!(s & WG_W) || weft__cas_full(wg_state(wg), s, s & ~WG_W))
            return;
    }
}

/* The counter is zero: may the caller return (and free the wg)?  An add
 * that ended a generation with waiters set the state to zero under the
 * lock and still touches the wg (the list head, the lock word) until it
 * releases the lock.  A waiter arriving in that window must not return
 * before that, since it may free the wg at once (the usual pattern for a
 * WaitGroup on the stack).  The lock word is read after the state
 * (acquire), so if it reads 0 the add's unlock has happened; otherwise
 * take and drop the lock to wait it out. */
static inline void wg_quiesce(weft_wg *wg)
{
    /* acquire: ordered after the caller's acquire load of the state, and
     * the waker's critical section happens-before our return. */
    if (WEFT__UNLIKELY(weft__lock_held(wg_lock(wg)))) {
        weft__lock_acquire(wg_lock(wg));
        weft__lock_release(wg_lock(wg));
    }
}

int weft_wg_wait(weft_wg *wg)
{
    /* The counter already zero, nobody in the lock: return at once (the
     * checks of weft__wg_wait_why, with no frame). */
    if (WEFT__LIKELY(wg != NULL) && wg_count(weft__load_acq(wg_state(wg))) == 0 &&
        !weft__lock_held(wg_lock(wg)))
        return 0;
    return weft__wg_wait_why(wg, WEFT__WAIT_WG, wg, WEFT__CALLER());
}

int64_t weft__wg_count(weft_wg *wg)
{
    /* acquire: as in weft_wg_wait. */
    return wg_count(weft__load_acq(wg_state(wg)));
}

int weft__wg_wait_why(weft_wg *wg, enum weft__wait why, const void *obj, const void *pc)
{
    if (WEFT__UNLIKELY(!wg))
        return EINVAL;
    /* acquire: seeing the counter at zero, the effects of every done()
     * that brought it there are visible to the caller. */
    if (wg_count(weft__load_acq(wg_state(wg))) == 0) {
        wg_quiesce(wg);
        return 0;
    }
    weft__task *self = weft__current();
    if (WEFT__UNLIKELY(!self))
        return ENOMEM;
    weft__lock_acquire(wg_lock(wg));
    if (!wg_mark_waiting(wg)) {
        weft__lock_release(wg_lock(wg));
        return 0;
    }
    struct wg_waiter me = {.task = self};
    list_push(wg, &me);
    /* Readied by the add that ends this generation, after it unlinked us. */
    weft__set_wait_pc(self, pc);
    weft__park(why, obj, wg_lock(wg));
    return 0;
}

/* ---- wait_ctx ------------------------------------------------------------
 *
 * The waiter is linked in two places: the wg's list (claim = true) and the
 * context's waiter list (weft__ctx_wait_begin, which returns with the
 * context's lock held).  It parks holding both locks, released after its
 * switch, so neither waker can see it before it is parked.  Each waker
 * must win weft__claim(task) before readying it, so exactly one does.
 * If the counter is zero once both locks are held, it does not park and
 * unlinks from the context before releasing that lock: a waiter left
 * linked while it runs could be claimed and readied by a cancel.
 * Lock order: context lock → wg lock (nobody else holds both).
 *
 * This is select's discipline without a channel: a one-shot waiter record
 * on the context is cheaper than creating the done channel and running a
 * select, and the context's cancel path already walks its waiters under
 * its lock (ctx/ctx.c).
 */
struct wg_ctx_unlock {
    weft_wg *wg;
    weft__ctx_waiter *cw;
};

static void wg_ctx_unlock(void *p)
{
    struct wg_ctx_unlock *u = p;
    weft__lock_release(wg_lock(u->wg));
    weft__ctx_wait_unlock(u->cw);
}

int weft_wg_wait_ctx(weft_wg *wg, weft_ctx *ctx)
{
    if (WEFT__UNLIKELY(!wg))
        return EINVAL;
    if (!ctx)
        return weft__wg_wait_why(wg, WEFT__WAIT_WG, wg, WEFT__CALLER());
    /* acquire: as in weft_wg_wait. */
    if (wg_count(weft__load_acq(wg_state(wg))) == 0) {
        wg_quiesce(wg);
        return 0;
    }
    weft__task *self = weft__current();
    if (WEFT__UNLIKELY(!self))
        return ENOMEM;
    /* t->wake must be NONE before any waker can see us. */
    weft__store_full(&self->wake, WEFT__WAKE_NONE);
    weft__ctx_waiter cw;
    int err = weft__ctx_wait_begin(ctx, &cw, self);
    if (err)
        return err; /* already done */
    if (!cw.locked)
        /* ctx can never be done */
        return weft__wg_wait_why(wg, WEFT__WAIT_WG, wg, WEFT__CALLER());
    weft__lock_acquire(wg_lock(wg));
    if (!wg_mark_waiting(wg)) {
        /* The counter reached zero after the check above: leave without
         * parking.  Unlink from the context before its lock goes: a cancel
         * that took the lock and found us would win the claim and ready
         * this task while it runs, putting it on two workers at once. */
        weft__lock_release(wg_lock(wg));
        weft__ctx_wait_drop(&cw);
        weft__ctx_wait_unlock(&cw);
        return 0;
    }
    struct wg_waiter me = {.task = self, .claim = true};
    list_push(wg, &me);
    struct wg_ctx_unlock u = {wg, &cw};
    weft__set_wait_pc(self, WEFT__CALLER());
    weft__park_ex(WEFT__WAIT_WG, wg, wg_ctx_unlock, &u, WEFT_FOREVER);
    /* Woken by exactly one of the two; unlink from both. */
    weft__ctx_wait_end(&cw);
    weft__lock_acquire(wg_lock(wg));
    if (me.queued) {
        list_remove(wg, &me);
        wg_clear_if_empty(wg);
    }
    weft__lock_release(wg_lock(wg));
    return cw.fired ? cw.err : 0;
}
