/*
 * chan.h — channel internals shared by chan.c, select.c, timer_chan.c and
 * the diagnostics.
 *
 * Invariants (under c->lock), as in Go's chan.go:
 *  - at least one of sendq and recvq is empty, except that both may hold
 *    sudogs of select operations that are themselves being decided;
 *  - for a buffered channel, qcount > 0 implies recvq is empty, and
 *    qcount < cap implies sendq is empty;
 *  - once closed, sendq and recvq are empty: close wakes every waiter.
 * Fields that fast paths read without the lock (closed, qcount, the queue
 * heads) are atomic words written only under the lock.
 *
 * The lock word doubles as a sequence count (internal.h): held while a
 * holder may be changing that state, and moved by every release.  A
 * non-blocking select reads every channel's lock word, their states, then
 * every word again: the same free words prove all the states held at one
 * instant, so its "nothing ready" answer is linearisable without taking a
 * lock.  (A holder parks with the lock held and has it released after its
 * switch, so for that moment readers see it held and take the locked way.)
 */
#ifndef WEFT_CHAN_H
#define WEFT_CHAN_H

#include "internal.h"

/* A task's place in a channel's wait queue (Go's sudog).  It lives on the
 * waiting task's stack: the task is parked while it is queued.
 *
 * queued is written only under the channel's lock, but a select's owner
 * reads it without that lock once it wakes (chan/select.c), to skip the
 * channels whose sudog a waker already took: so a waker that takes a
 * sudog it will not hand off (a select it lost the claim for, or one a
 * close drops) clears queued as its very last access to it, with release
 * ordering, and the owner that reads 0 (acquire) may return and reuse its
 * stack at once. */
typedef struct weft__sudog {
    weft__task *task;
    struct weft__sudog *next, *prev;
    void *elem;            /* value to send, or where to receive (may be NULL) */
    weft_chan *chan;
    int case_index;        /* select: which case this is */
    bool is_select;        /* wakers must win weft__claim() first */
    volatile unsigned char queued; /* still linked in a queue: see below */
    bool success;          /* a value moved (false: woken by close) */
} weft__sudog;

typedef struct weft__waitq {
    weft__aword first;     /* weft__sudog *, read lock-free by fast paths */
    weft__sudog *last;
} weft__waitq;

struct weft_chan {
    weft__lock lock;
    weft__aword closed;
    weft__aword qcount;    /* buffered elements */
    size_t cap;
    size_t elemsize;
    size_t sendx, recvx;   /* ring indices */
    unsigned char *buf;
    weft__waitq recvq, sendq;
    weft__aword refs;
    bool orphaned;         /* last reference dropped while tasks waited */
    const char *file;      /* creation site */
    int line;
};

/* ---- locking: every holder of c->lock goes through these ---- */
static inline void weft__chan_lock(weft_chan *c)
{
    weft__lock_acquire(&c->lock);
    /* The held word must be visible before any state change it covers (an
     * acquire RMW orders later loads, not later stores, on every machine:
     * this is the seqlock writer's barrier; free on x86). */
    AO_nop_write();
}
static inline void weft__chan_unlock(weft_chan *c) { weft__lock_release(&c->lock); }

/* ---- wait queues (lock held) ---- */

/* A plain (not select) waiter's sudog: only the fields a waker reads are
 * set (links and queued are waitq_push's; case_index is select's only). */
static inline void weft__sudog_init(weft__sudog *sg, weft__task *t, void *elem, weft_chan *c)
{
    sg->task = t;
    sg->elem = elem;
    sg->chan = c;
    sg->is_select = false;
    sg->success = false;
}

static inline void weft__waitq_push(weft__waitq *q, weft__sudog *sg)
{
    sg->next = NULL;
    sg->prev = q->last;
    if (q->last)
        q->last->next = sg;
    else
        weft__store_relaxed(&q->first, (AO_t)sg); /* read lock-free as a hint */
    q->last = sg;
    weft__cstore_relaxed(&sg->queued, 1); /* under the lock */
}

static inline void weft__waitq_remove(weft__waitq *q, weft__sudog *sg)
{
    if (!weft__cload_relaxed(&sg->queued)) /* under the lock */
        return;
    if (sg->prev)
        sg->prev->next = sg->next;
    else
        weft__store_relaxed(&q->first, (AO_t)sg->next);
    if (sg->next)
        sg->next->prev = sg->prev;
    else
        q->last = sg->prev;
    sg->next = sg->prev = NULL;
    weft__cstore_relaxed(&sg->queued, 0);
}

/* First waiter that can be woken (select waiters already decided are
 * dropped on the way), or NULL. */
static inline weft__sudog *weft__waitq_take(weft__waitq *q)
{
    for (;;) {
        weft__sudog *sg = (weft__sudog *)weft__load_relaxed(&q->first);
        if (!sg)
            return NULL;
        /* Unlink the head. */
        weft__sudog *nx = sg->next;
        weft__store_relaxed(&q->first, (AO_t)nx);
        if (nx)
            nx->prev = NULL;
        else
            q->last = NULL;
        sg->next = NULL;
        /* A select waiter may already have been won by another channel or
         * its deadline: drop it, and clear queued last (see above). */
        if (sg->is_select) {
            weft__task *t = sg->task;
            if (!weft__claim(t)) {
                weft__cstore_rel(&sg->queued, 0);
                continue;
            }
            t->wait_data = sg;
        }
        weft__cstore_relaxed(&sg->queued, 0); /* ours to hand off: its owner does not look */
        return sg;
    }
}


/* Transfers with the lock held; they unlock c and ready sg's task. */
void weft__chan_send_to(weft_chan *c, weft__sudog *sg, const void *elem);
void weft__chan_recv_from(weft_chan *c, weft__sudog *sg, void *out);
/* Buffer helpers (lock held).  qcount is read lock-free as a hint (hence
 * atomic); only lock holders write it, so relaxed suffices: the unlock's
 * release publishes it with the rest. */
static inline void weft__chan_buf_put(weft_chan *c, const void *elem)
{
    weft__copy_elem(c->buf + c->sendx * c->elemsize, elem, c->elemsize);
    if (++c->sendx == c->cap)
        c->sendx = 0;
    weft__store_relaxed(&c->qcount, weft__load_relaxed(&c->qcount) + 1);
}

static inline void weft__chan_buf_take(weft_chan *c, void *out)
{
    if (c->elemsize && out)
        weft__copy_elem(out, c->buf + c->recvx * c->elemsize, c->elemsize);
    if (++c->recvx == c->cap)
        c->recvx = 0;
    weft__store_relaxed(&c->qcount, weft__load_relaxed(&c->qcount) - 1);
}
/* Free a channel nobody references and nobody waits on any more. */
void weft__chan_free(weft_chan *c);
/* Could the channel's waiters be woken by anyone?  (orphaned: no) */
bool weft__chan_orphaned(const weft_chan *c);

static inline void weft__chan_zero(const weft_chan *c, void *out)
{
    if (out && c->elemsize)
        __builtin_memset(out, 0, c->elemsize);
}

#endif
