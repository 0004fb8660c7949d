/*
 * chan.c — channels: make, send, receive, close, and their try and
 * context variants.
 *
 * The shape is Go's chan.go: one lock per channel; a sender that finds a
 * parked receiver copies straight into the receiver's destination and
 * readies it (and vice versa), so an unbuffered hand-off is one copy, one
 * lock round and one ready; a woken task is handed to the waker's runnext
 * slot and runs as soon as the waker blocks, on the same CPU.
 */
#include <errno.h>
#include <string.h>

#include "chan.h"
#include "sanitize.h"


/* ---- hand-offs to a parked partner --------------------------------------- */

/* send_to / recv_from for callers that already know their worker (the
 * channel operations); the exported forms below look it up (select). */
static inline int send_to_on(weft__worker *w, weft_chan *c, weft__sudog *sg, const void *elem)
{
    if (sg->elem)
        weft__copy_elem(sg->elem, elem, c->elemsize);
    sg->success = true;
    weft__task *t = sg->task;
    weft__chan_unlock(c);
    return weft__ready_ret0(w, t);
}

static inline int recv_from_on(weft__worker *w, weft_chan *c, weft__sudog *sg, void *out)
{
    if (c->cap == 0) {
        if (out)
            weft__copy_elem(out, sg->elem, c->elemsize);
    } else {
        /* The buffer is full (a sender is waiting): take its head and put
         * the sender's value at its tail, which is the same slot. */
        weft__chan_buf_take(c, out);
        weft__chan_buf_put(c, sg->elem);
    }
    sg->success = true;
    weft__task *t = sg->task;
    weft__chan_unlock(c);
    return weft__ready_ret0(w, t);
}

void weft__chan_send_to(weft_chan *c, weft__sudog *sg, const void *elem)
{
    send_to_on(weft__cur_worker(), c, sg, elem);
}

void weft__chan_recv_from(weft_chan *c, weft__sudog *sg, void *out)
{
    recv_from_on(weft__cur_worker(), c, sg, out);
}

/* ---- life cycle ----------------------------------------------------------- */

#undef weft_chan_make

weft_chan *weft_chan_make_at(size_t elem_size, size_t cap, const char *file, int line)
{
    int r = weft__ensure_init(); /* any API use starts the runtime */
    if (WEFT__UNLIKELY(r)) {
        errno = r;
        return NULL;
    }
    if (elem_size && cap > (SIZE_MAX - sizeof(weft_chan)) / elem_size) {
        errno = EINVAL;
        return NULL;
    }
    if (elem_size > (1u << 30)) {
        errno = EINVAL;
        return NULL;
    }
    size_t bytes = sizeof(weft_chan) + elem_size * cap;
    weft_chan *c = weft__calloc(1, bytes);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->cap = cap;
    c->elemsize = elem_size;
    c->buf = (unsigned char *)(c + 1);
    c->refs = 1;
    c->file = file;
    c->line = line;
    return c;
}

weft_chan *weft_chan_make(size_t elem_size, size_t cap)
{
    return weft_chan_make_at(elem_size, cap, NULL, 0);
}

weft_chan *weft_chan_retain(weft_chan *c)
{
    if (c)
        weft__fetch_add_relaxed(&c->refs, 1); /* relaxed: the caller already holds a reference */
    return c;
}

/* A diagnostic may be reading a channel a task was parked on: such a
 * reader holds off the free (sched/diag/diag.h). */
const int weft__chan_frees_deferred = 1;
void weft__chan_free(weft_chan *c)
{
    if (!weft__diag_defer_free(c))
        weft__free(c);
}

bool weft__chan_orphaned(const weft_chan *c) { return c->orphaned; }

void weft_chan_release(weft_chan *c)
{
    if (!c)
        return;
    /* full: every use of c by this holder happens-before the free. */
    if (weft__fetch_add_full(&c->refs, (AO_t)-1) != 1)
        return;
    weft__chan_lock(c);
    bool waiters = weft__load_relaxed(&c->recvq.first) || weft__load_relaxed(&c->sendq.first);
    if (waiters) {
        c->orphaned = true; /* freed by the last select that leaves it */
        WEFT__LSAN_KEEP(c);
    }
    weft__chan_unlock(c);
    if (!waiters)
        weft__chan_free(c);
}

size_t weft_chan_len(const weft_chan *c)
{
    return c ? (size_t)weft__load_acq(&((weft_chan *)c)->qcount) : 0;
}

size_t weft_chan_cap(const weft_chan *c) { return c ? c->cap : 0; }

/* ---- send ----------------------------------------------------------------- */

/* Lock-free test that a send cannot proceed now (Go's full()).  Used only
 * by non-blocking sends: see weft_chan_try_send. */
static inline bool chan_full(weft_chan *c)
{
    if (c->cap == 0)
        return weft__load_acq(&c->recvq.first) == 0;
    return weft__load_acq(&c->qcount) == c->cap;
}

static inline bool chan_empty(weft_chan *c)
{
    if (c->cap == 0)
        return weft__load_acq(&c->sendq.first) == 0;
    return weft__load_acq(&c->qcount) == 0;
}

/* The blocking halves, out of line: the hand-off and buffer paths above
 * them then need no stack frame of their own.  Called with c locked; pc is
 * the blocking call site to record. */
static __attribute__((noinline)) int send_park(weft__worker *w, weft_chan *c, const void *elem,
                                               const void *pc)
{
    weft__task *self = w ? *(weft__task **)w : weft__current(); /* see weft__self_on */
    if (WEFT__UNLIKELY(!self)) {
        weft__chan_unlock(c);
        return ENOMEM;
    }
    weft__sudog me;
    weft__sudog_init(&me, self, (void *)elem, c);
    weft__waitq_push(&c->sendq, &me);
    weft__set_wait_pc(self, pc);
    weft__park_on(w, self, WEFT__WAIT_CHAN_SEND, c, &c->lock);
    /* Woken by a receiver (success) or by close. */
    return me.success ? 0 : EPIPE;
}

/* block: 0 try, 1 block.  pc: the blocking call site to record if the
 * caller parks; NULL for the return address of the public entry point this
 * is inlined into (read only when parking: one load from its frame).
 * Returns 0, EPIPE or EAGAIN. */
static inline __attribute__((always_inline)) int send_locked(weft__worker *w, weft_chan *c,
                                                             const void *elem, bool block,
                                                             const void *pc)
{
    if (WEFT__UNLIKELY(weft__load_relaxed(&c->closed))) {
        weft__chan_unlock(c);
        return EPIPE;
    }
    weft__sudog *sg = weft__waitq_take(&c->recvq);
    if (sg)
        return send_to_on(w, c, sg, elem);
    if (weft__load_relaxed(&c->qcount) < c->cap) {
        weft__chan_buf_put(c, elem);
        weft__chan_unlock(c);
        return 0;
    }
    if (!block) {
        weft__chan_unlock(c);
        return EAGAIN;
    }
    return send_park(w, c, elem, pc ? pc : WEFT__CALLER());
}

/* The channel's lock was held: wait for it here, out of line. */
static __attribute__((noinline)) int send_contended(weft_chan *c, const void *elem, bool block,
                                                    const void *pc)
{
    weft__lock_slow(&c->lock);
    AO_nop_write(); /* as in weft__chan_lock */
    return send_locked(weft__cur_worker(), c, elem, block, pc);
}

/* block: 0 try, 1 block.  pc: the blocking call site to record if the
 * caller parks; NULL for the return address of the public entry point this
 * is inlined into (read only when parking).  Returns 0, EPIPE or EAGAIN.
 * Every call on the way (the hand-off's ready, the parking, a contended
 * lock) is a tail call, so the common paths need no stack frame. */
static inline __attribute__((always_inline)) int chan_send(weft_chan *c, const void *elem,
                                                           bool block, const void *pc)
{
    if (WEFT__UNLIKELY(!weft__lock_try(&c->lock)))
        return send_contended(c, elem, block, pc ? pc : WEFT__CALLER());
    AO_nop_write(); /* as in weft__chan_lock */
    return send_locked(weft__cur_worker(), c, elem, block, pc);
}

int weft__chan_send_pc(weft_chan *c, const void *elem, const void *pc)
{
    if (WEFT__UNLIKELY(!c || (!elem && c->elemsize)))
        return EINVAL;
    return chan_send(c, elem, true, pc);
}

int weft_chan_send(weft_chan *c, const void *elem)
{
    if (WEFT__UNLIKELY(!c || (!elem && c->elemsize)))
        return EINVAL;
    return chan_send(c, elem, true, NULL);
}

int weft_chan_try_send(weft_chan *c, const void *elem)
{
    if (WEFT__UNLIKELY(!c || (!elem && c->elemsize)))
        return EINVAL;
    /* Fast path without the lock (Go's chansend): closed is read before
     * full.  closed never goes back to 0, so if it was 0 when read and the
     * channel was full at the later read, there was a moment when it was
     * open and full: returning EAGAIN is linearisable at that moment. */
    if (!weft__load_acq(&c->closed) && chan_full(c))
        return EAGAIN;
    return chan_send(c, elem, false, NULL);
}

/* ---- receive -------------------------------------------------------------- */

static inline __attribute__((always_inline)) int recv_locked(weft__worker *w, weft_chan *c,
                                                             void *out, bool block, const void *pc)
{
    weft__sudog *sg = weft__waitq_take(&c->sendq);
    if (sg)
        return recv_from_on(w, c, sg, out);
    if (weft__load_relaxed(&c->qcount) > 0) {
        weft__chan_buf_take(c, out);
        weft__chan_unlock(c);
        return 0;
    }
    if (weft__load_relaxed(&c->closed)) {
        weft__chan_unlock(c);
        weft__chan_zero(c, out);
        return EPIPE;
    }
    if (!block) {
        weft__chan_unlock(c);
        return EAGAIN;
    }
    /* Parking is the common end of a receive (a consumer waits for its
     * producer): inline, unlike send_park. */
    weft__task *self = w ? *(weft__task **)w : weft__current(); /* see weft__self_on */
    if (WEFT__UNLIKELY(!self)) {
        weft__chan_unlock(c);
        return ENOMEM;
    }
    weft__sudog me;
    weft__sudog_init(&me, self, out, c);
    weft__waitq_push(&c->recvq, &me);
    weft__set_wait_pc(self, pc ? pc : WEFT__CALLER());
    weft__park_on(w, self, WEFT__WAIT_CHAN_RECV, c, &c->lock);
    if (me.success)
        return 0;
    weft__chan_zero(c, out); /* close zeroed it already; keep it explicit */
    return EPIPE;
}

static __attribute__((noinline)) int recv_contended(weft_chan *c, void *out, bool block,
                                                    const void *pc)
{
    weft__lock_slow(&c->lock);
    AO_nop_write(); /* as in weft__chan_lock */
    return recv_locked(weft__cur_worker(), c, out, block, pc);
}

/* block, pc: as for chan_send. */
static inline __attribute__((always_inline)) int chan_recv(weft_chan *c, void *out, bool block,
                                                           const void *pc)
{
    if (WEFT__UNLIKELY(!weft__lock_try(&c->lock)))
        return recv_contended(c, out, block, pc ? pc : WEFT__CALLER());
    AO_nop_write(); /* as in weft__chan_lock */
    return recv_locked(weft__cur_worker(), c, out, block, pc);
}

int weft__chan_recv_pc(weft_chan *c, void *out, const void *pc)
{
    if (WEFT__UNLIKELY(!c))
        return EINVAL;
    return chan_recv(c, out, true, pc);
}

int weft_chan_recv(weft_chan *c, void *out)
{
    if (WEFT__UNLIKELY(!c))
        return EINVAL;
    return chan_recv(c, out, true, NULL);
}

int weft_chan_try_recv(weft_chan *c, void *out)
{
    if (WEFT__UNLIKELY(!c))
        return EINVAL;
    /* Fast path (Go's chanrecv): if the channel looks empty, check closed;
     * an open channel that was empty when observed gives EAGAIN.  A closed
     * one must be re-checked for emptiness, since a value could have been
     * buffered between the two reads and must still be delivered. */
    if (chan_empty(c)) {
        if (!weft__load_acq(&c->closed))
            return EAGAIN;
        if (chan_empty(c)) {
            weft__chan_zero(c, out);
            return EPIPE;
        }
    }
    return chan_recv(c, out, false, NULL);
}

/* ---- close ---------------------------------------------------------------- */

/* Wake every waiter of q with "closed" (lock held): the whole queue is
 * detached at once, then walked in chunks.  Each waiter's sudog and task
 * live on its own stack, a page per task apart, so a close of thousands
 * of waiters is a chain of cache and TLB misses.  The first pass over a
 * chunk only follows the links, from both ends of the queue at once (the
 * two loads do not depend on each other, so two misses are in flight, not
 * one), and prefetches each task's record, so that the claims and
 * wake-ups of the second pass overlap their misses instead of paying them
 * one after another behind each locked instruction.  Each task is made
 * runnable at once (its park completed: we hold the lock it released
 * after its switch) and queued in one batch (weft__readyq).  The order of
 * the wake-ups is not FIFO; nothing can tell, since they are one event. */
static void wake_all(weft_chan *c, weft__waitq *q, bool recv, struct weft__readyq *rq)
{
    enum { CHUNK = 32 }; /* even: the walk takes two at a time */
    weft__sudog *front = (weft__sudog *)weft__load_relaxed(&q->first);
    weft__sudog *back = q->last;
    weft__store_relaxed(&q->first, 0);
    q->last = NULL;
    while (front) {
        weft__sudog *chunk[CHUNK];
        int n = 0;
        while (front && n < CHUNK) {
            __builtin_prefetch(front->task, 1);
            chunk[n++] = front;
            if (front == back) {
                front = NULL; /* the ends met on this one */
                break;
            }
            weft__sudog *next_front = front->next;
            weft__sudog *next_back = back->prev;
            __builtin_prefetch(back->task, 1);
            chunk[n++] = back;
            front = next_front == back ? NULL : next_front; /* met between */
            back = next_back;
        }
        for (int i = 0; i < n; i++) {
            weft__sudog *s = chunk[i];
            weft__task *t = s->task;
            /* A select waiter may already have been won elsewhere (another
             * channel, its deadline): then it is not ours to wake, and
             * clearing queued is the last touch (chan.h). */
            if (s->is_select) {
                if (!weft__claim(t)) {
                    weft__cstore_rel(&s->queued, 0);
                    continue;
                }
                t->wait_data = s;
            }
            if (recv)
                weft__chan_zero(c, s->elem);
            s->success = false;
            weft__cstore_relaxed(&s->queued, 0);
            /* s is on t's stack: not touched once t is queued. */
            weft__readyq_add(rq, t);
        }
    }
}

int weft_chan_close(weft_chan *c)
{
    if (WEFT__UNLIKELY(!c))
        return EINVAL;
    weft__chan_lock(c);
    if (weft__load_relaxed(&c->closed)) {
        weft__chan_unlock(c);
        return EPIPE;
    }
    /* release: a lock-free reader that sees closed also sees the buffer
     * state that preceded it. */
    weft__store_rel(&c->closed, 1);
    struct weft__readyq rq;
    weft__readyq_init(&rq, weft__cur_worker());
    wake_all(c, &c->recvq, true, &rq);
    wake_all(c, &c->sendq, false, &rq);
    weft__chan_unlock(c);
    weft__readyq_flush(&rq);
    return 0;
}
