/*
 * ctx.h — context internals used outside ctx/ (WaitGroup's wait_ctx, and
 * tests).  Nothing here is public API.
 *
 * A waiter record lets a blocking primitive wake on "context done" without
 * creating the context's done channel: the waiter is linked into the
 * context's waiter list, parks with the context's lock released after its
 * switch, and the cancel path readies it if it wins weft__claim().  The
 * primitive's own waker must win weft__claim() too, so exactly one of them
 * readies the task (select's discipline).
 */
#ifndef WEFT_CTX_CTX_H
#define WEFT_CTX_CTX_H

#include "internal.h"

typedef struct weft__ctx_waiter {
    struct weft__ctx_waiter *next, *prev;
    struct weft_ctx *c;  /* the cancelable context it is linked into */
    weft__task *task;
    int err;             /* the context's error, when fired */
    bool locked;         /* wait_begin returned with c's lock held */
    bool queued;         /* linked (under c's lock) */
    bool fired;          /* the cancel path won the claim and readied the task */
} weft__ctx_waiter;

/* Register w for the current task self (whose self->wake the caller has
 * reset to WEFT__WAKE_NONE).  Returns:
 *  - the context's error if it is already done (nothing registered);
 *  - 0 with w->locked false if the context can never be done (nothing
 *    registered: wait without it);
 *  - 0 with w->locked true: registered, and the context's lock is held;
 *    the caller must release it with weft__ctx_wait_unlock (normally from
 *    its park unlock function) and, once awake, call weft__ctx_wait_end.
 *    A caller that decides not to park must first weft__ctx_wait_drop:
 *    released with w still linked, the lock lets a cancel claim and ready
 *    a task that is running. */
int weft__ctx_wait_begin(struct weft_ctx *ctx, weft__ctx_waiter *w, weft__task *self);
void weft__ctx_wait_unlock(weft__ctx_waiter *w);
/* The context's lock still held since wait_begin: unlink w without
 * parking.  Then release the lock with weft__ctx_wait_unlock; there is no
 * weft__ctx_wait_end to call. */
void weft__ctx_wait_drop(weft__ctx_waiter *w);
/* Unlink w if the cancel path has not.  After it, w->fired and w->err are
 * stable. */
void weft__ctx_wait_end(weft__ctx_waiter *w);

/* Park the current task until ctx is done or the deadline passes.
 * 0 at the deadline, else the context's error.  pc: the user's call site
 * (for dumps). */
int weft__ctx_park_until(struct weft_ctx *ctx, int64_t deadline, const void *pc);

/* Whether ctx has a cancelable ancestor (or is one): false means it can
 * never be done and weft_ctx_done(ctx) is NULL by design. */
bool weft__ctx_can_be_done(struct weft_ctx *ctx);

/* Diagnostics and tests: contexts allocated and not yet freed, the
 * cancelable children linked under ctx right now, and the waiter records
 * linked into ctx's cancelable context (ctx->canc) right now. */
size_t weft__ctx_live(void);
size_t weft__ctx_children(struct weft_ctx *ctx);
size_t weft__ctx_waiters(struct weft_ctx *ctx);

#endif
