/*
 * ctx.c — contexts (Go's context package): cancellation, deadlines and
 * values, propagated down a tree.
 *
 * Kinds.  The background context is a static singleton that is never done.
 * A *cancelable* context (with_cancel, with_deadline, with_timeout) has its
 * own done state, done channel, waiters and after_func registrations; a
 * deadline one also owns a runtime timer.  A *value* context has none of
 * these: like Go's valueCtx it delegates done/err/waiting to its nearest
 * cancelable ancestor (c->canc), which is NULL when there is none (then it
 * can never be done).
 *
 * The propagation tree.  Every cancelable context is linked into the
 * children list of its nearest cancelable ancestor (c->up), skipping value
 * contexts, exactly like Go's parentCancelCtx.  Cancel marks a context done
 * (err, done channel closed, timer stopped, waiters readied, after_funcs
 * collected), unlinks its children and does the same to each, depth first,
 * *holding the lock of every context on the path from the root to the one
 * being marked* (Go holds them through its recursion; here the walk is
 * iterative, following ->up back, so a deep chain cannot overflow a task's
 * stack).  Holding the path is what makes cancellation synchronous even
 * against a concurrent cancel of a descendant: whoever reaches a context
 * second waits for its lock, and by then the first canceller has finished
 * that context's whole subtree.  A child created under a parent takes the
 * parent's lock to check "done?" and link itself in one step, so it is
 * either born done or linked before the parent's cancel reaches the list.
 *
 * Lifetime.  refs counts the users' references (constructors return one,
 * retain adds one).  holds counts what keeps the memory: 1 for the users
 * as a whole, plus 1 for every context created with this one as its
 * parent (values are looked up through ->parent, so a child needs its
 * whole ancestor chain).  The last release cancels a cancelable context
 * (Go's `defer cancel()`), unlinks it from ->up at once (so a long-lived
 * parent's list holds only live children), and drops the users' hold; the
 * memory goes when holds reaches zero, which in turn drops the hold on the
 * parent.  A context canceled by weft_ctx_cancel or by its deadline is
 * unlinked from ->up as well; one canceled through an ancestor was
 * unlinked by that ancestor's walk.
 *
 * Deadline timers.  A deadline context's timer callback runs on a worker's
 * scheduler context and cancels the context with ETIMEDOUT.  The memory
 * outlives any callback: freeing calls weft__timer_cancel, which waits a
 * callback in flight out, and only ever runs with no lock held.  Everything
 * that runs *under* context locks uses weft__timer_cancel_nowait instead:
 * a deadline callback of a descendant may be waiting for a lock that the
 * canceller holds, and waiting for it there would deadlock.
 *
 * LOCK ORDER (outer first):
 *   ctx lock, down the propagation tree (a context before the cancelable
 *     contexts linked under it; never an ancestor's while holding a
 *     descendant's — unlinking from ->up is done with no ctx lock held)
 *   → wg lock (weft_wg_wait_ctx holds its context's lock and the wg's lock
 *     across its park; nobody else holds both)
 *   → channel lock (closing the done channel)
 *   → timer heap lock (starting / cancel_nowait of a deadline timer)
 *   → scheduler locks (weft__ready of a waiter).
 * Never with a ctx lock held: freeing a context (weft__timer_cancel may
 * wait), weft__spawn of after_func tasks, or anything that can park.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "internal.h"
#include "ctx/ctx.h"

enum { K_BACKGROUND = 0, K_CANCEL, K_VALUE };

struct after {
    struct after *next;
    weft_fn fn;
    void *arg;
    const char *fn_name, *file, *func;
    int line;
};

struct weft_ctx {
    weft__lock lock;          /* guards the fields marked (L) */
    unsigned char kind;       /* immutable */
    bool has_timer;           /* immutable: owns a deadline timer */
    bool attached;            /* linked in up->kids (guarded by up->lock) */
    weft__aword refs;         /* users' references */
    weft__aword holds;        /* 1 for the users + 1 per child */
    weft__aword err;          /* 0 | ECANCELED | ETIMEDOUT; written once (L), read lock-free */
    weft__aword done;         /* weft_chan *, created lazily (L), read lock-free */
    struct weft_ctx *parent;  /* immutable; NULL for background */
    struct weft_ctx *canc;    /* immutable: self if cancelable, else nearest cancelable ancestor */
    struct weft_ctx *up;      /* immutable: the cancelable ancestor whose kids list links us */
    struct weft_ctx *kids;    /* (L) cancelable children */
    struct weft_ctx *sib_next, *sib_prev; /* link in up->kids (guarded by up->lock) */
    weft__ctx_waiter *waiters; /* (L) */
    struct after *afters;     /* (L) */
    const void *key;          /* immutable (values) */
    void *val;
    int64_t deadline;         /* immutable: effective deadline */
    weft__timer timer;        /* used only when has_timer */
};

static struct weft_ctx bg_ctx = {.kind = K_BACKGROUND, .deadline = WEFT_FOREVER};
static weft__aword ctx_live; /* allocated, not yet freed */

static void ctx_fire(weft__timer *tm, void *arg);

/* ---- small helpers ----------------------------------------------------------- */

static inline bool is_bg(const weft_ctx *c) { return c->kind == K_BACKGROUND; }

/* up->lock held. */
static void kid_link(weft_ctx *up, weft_ctx *k)
{
    k->sib_prev = NULL;
    k->sib_next = up->kids;
    if (up->kids)
        up->kids->sib_prev = k;
    up->kids = k;
    k->attached = true;
}

/* up->lock held, k attached under up. */
static void kid_unlink(weft_ctx *up, weft_ctx *k)
{
    if (k->sib_prev)
        k->sib_prev->sib_next = k->sib_next;
    else
        up->kids = k->sib_next;
    if (k->sib_next)
        k->sib_next->sib_prev = k->sib_prev;
    k->sib_next = k->sib_prev = NULL;
    k->attached = false;
}

/* c->lock held. */
static void waiter_unlink(weft_ctx *c, weft__ctx_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        c->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

/* ---- cancellation ---------------------------------------------------------- */

/* c->lock held, c not done: make it done with err.  Nothing here blocks:
 * closing the done channel and readying waiters only take leaf locks; the
 * timer is unqueued without waiting for a callback in flight (see the lock
 * order above).  after_func registrations move to *afters, to be spawned
 * once every lock is released. */
static void mark_done(weft_ctx *c, int err, struct after **afters)
{
    /* release: a lock-free reader that sees err sees the context's state
     * before it (pairs with the acquire in weft_ctx_err). */
    weft__store_rel(&c->err, (AO_t)err);
    weft_chan *d = (weft_chan *)weft__load_relaxed(&c->done); /* relaxed: written under c->lock */
    if (d)
        weft_chan_close(d);
    if (c->has_timer)
        weft__timer_cancel_nowait(&c->timer);
    while (c->waiters) {
        weft__ctx_waiter *w = c->waiters;
        waiter_unlink(c, w);
        w->err = err;
        /* Under c->lock: the waiter cannot leave (weft__ctx_wait_end needs
         * the lock), so w stays valid even if we lose the claim. */
        if (weft__claim(w->task)) {
            w->fired = true;
            weft__ready(w->task);
        }
    }
    if (c->afters) {
        struct after *a = c->afters;
        while (a->next)
            a = a->next;
        a->next = *afters;
        *afters = c->afters;
        c->afters = NULL;
    }
}

/* root->lock held and root not done: mark root and every descendant done,
 * depth first, holding the locks of the path root → current (see the file
 * comment).  Returns with root->lock still held and every other lock it
 * took released. */
static void cancel_tree(weft_ctx *root, int err, struct after **afters)
{
    mark_done(root, err, afters);
    weft_ctx *cur = root;
    for (;;) {
        weft_ctx *k = cur->kids;
        if (k) {
            kid_unlink(cur, k);
            weft__lock_acquire(&k->lock);
            /* relaxed: err is written only under k->lock. */
            if (!weft__load_relaxed(&k->err)) {
                mark_done(k, err, afters);
                cur = k;
                continue;
            }
            /* Done by its own cancel, not yet unlinked: that canceller held
             * k's lock through k's subtree, so the subtree is done. */
            weft__lock_release(&k->lock);
            continue;
        }
        if (cur == root)
            return;
        weft_ctx *up = cur->up; /* immutable; still locked by us */
        weft__lock_release(&cur->lock);
        cur = up;
    }
}

static void run_afters(struct after *a)
{
    while (a) {
        struct after *next = a->next;
        int r = weft__spawn(NULL, a->fn, a->arg, NULL, 0, a->fn_name, a->file, a->line, a->func,
                            true, NULL);
        if (r)
            fprintf(stderr, "weft: weft_ctx_after_func (%s:%d): cannot spawn its task: %s\n",
                    a->file ? a->file : "?", a->line, strerror(r));
        weft__free(a);
        a = next;
    }
}

/* Unlink c from its cancelable ancestor's list, if still linked.  No ctx
 * lock may be held (this takes an ancestor's). */
static void detach(weft_ctx *c)
{
    weft_ctx *up = c->up;
    if (!up)
        return;
    weft__lock_acquire(&up->lock);
    if (c->attached)
        kid_unlink(up, c);
    weft__lock_release(&up->lock);
}

/* Cancel the cancelable context c (and its subtree) with err; no-op if it
 * is done already.  Called with no lock held; the caller keeps c alive. */
static void cancel_ctx(weft_ctx *c, int err)
{
    struct after *afters = NULL;
    weft__lock_acquire(&c->lock);
    if (!weft__load_relaxed(&c->err)) /* relaxed: written only under c->lock */
        cancel_tree(c, err, &afters);
    weft__lock_release(&c->lock);
    detach(c);
    run_afters(afters);
}

/* Deadline timer callback (a worker's scheduler context; must not block).
 * c's memory outlives it: free_ctx waits for it with weft__timer_cancel. */
static void ctx_fire(weft__timer *tm, void *arg)
{
    (void)tm;
    cancel_ctx(arg, ETIMEDOUT);
}

/* ---- life cycle --------------------------------------------------------------- */

static void free_ctx(weft_ctx *c)
{
    /* Done already (the last release canceled it), so the timer is not
     * queued; wait out a callback that may still be running. */
    if (c->has_timer)
        weft__timer_cancel(&c->timer);
    weft_chan *d = (weft_chan *)weft__load_acq(&c->done); /* acquire: we are the last user */
    if (d)
        weft_chan_release(d);
    WEFT__ASSERT(!c->kids && !c->waiters && !c->afters);
    weft__free(c);
    weft__fetch_add_full(&ctx_live, (AO_t)-1);
}

/* Drop one hold; free what reaches zero, walking up the parent chain
 * (iteratively: a long chain of released contexts frees in one loop).
 * No lock may be held. */
static void unhold(weft_ctx *c)
{
    while (c && !is_bg(c)) {
        /* full: every use of c by the holder happens-before the free. */
        if (weft__fetch_add_full(&c->holds, (AO_t)-1) != 1)
            return;
        weft_ctx *parent = c->parent;
        free_ctx(c);
        c = parent;
    }
}

static weft_ctx *new_ctx(weft_ctx *parent, int kind, bool has_timer)
{
    weft_ctx *c = weft__calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->kind = (unsigned char)kind;
    c->has_timer = has_timer;
    c->refs = 1;
    c->holds = 1;
    c->parent = parent;
    c->deadline = parent->deadline;
    if (!is_bg(parent)) {
        /* relaxed: the caller holds a reference to parent, so its holds
         * cannot reach zero concurrently; the decrement that frees is full. */
        weft__fetch_add_relaxed(&parent->holds, 1);
    }
    weft__fetch_add_relaxed(&ctx_live, 1); /* relaxed: a statistic */
    return c;
}

weft_ctx *weft_ctx_background(void) { return &bg_ctx; }

weft_ctx *weft_ctx_retain(weft_ctx *ctx)
{
    /* relaxed: the caller already holds one (so it cannot hit zero now). */
    if (ctx && !is_bg(ctx) && WEFT__UNLIKELY(weft__fetch_add_relaxed(&ctx->refs, 1) == 0))
        weft__panic(__FILE__, __LINE__, "weft_ctx_retain: context %p was already released",
                    (void *)ctx);
    return ctx;
}

void weft_ctx_release(weft_ctx *ctx)
{
    if (!ctx || is_bg(ctx))
        return;
    /* full: the holder's uses happen-before the cancel and free below. */
    AO_t old = weft__fetch_add_full(&ctx->refs, (AO_t)-1);
    if (WEFT__UNLIKELY(old == 0))
        weft__panic(__FILE__, __LINE__, "weft_ctx_release: context %p released more often "
                    "than it was referenced", (void *)ctx);
    if (old != 1)
        return;
    if (ctx->kind == K_CANCEL)
        cancel_ctx(ctx, ECANCELED); /* cancels if not done; unlinks from ->up */
    unhold(ctx);
}

/* with_cancel (deadline == WEFT_FOREVER) and with_deadline. */
static weft_ctx *make_cancel(weft_ctx *parent, int64_t deadline)
{
    if (!parent) {
        errno = EINVAL;
        return NULL;
    }
    /* A deadline later than the parent's reports the parent's and needs no
     * timer: the parent's fires first (Go returns WithCancel here too). */
    bool has_timer = deadline < parent->deadline;
    if (has_timer && deadline > 0) {
        /* Its timer needs a running runtime: start it now, or fail. */
        int r = weft__ensure_init();
        if (r) {
            errno = r;
            return NULL;
        }
    }
    weft_ctx *c = new_ctx(parent, K_CANCEL, has_timer);
    if (!c)
        return NULL;
    c->canc = c;
    if (has_timer) {
        c->deadline = deadline;
        weft__timer_init(&c->timer, ctx_fire, c);
    }
    weft_ctx *up = parent->canc;
    c->up = up;
    if (up) {
        /* Check "parent done?" and link in one step under its lock: a
         * concurrent cancel of up either sees c in its list or c sees its
         * error (born done). */
        weft__lock_acquire(&up->lock);
        AO_t e = weft__load_relaxed(&up->err); /* relaxed: written under up->lock */
        if (e)
            weft__store_relaxed(&c->err, e); /* relaxed: c is not published yet */
        else
            kid_link(up, c);
        weft__lock_release(&up->lock);
    }
    if (has_timer) {
        if (deadline <= weft_now()) {
            cancel_ctx(c, ETIMEDOUT); /* "do not wait": born timed out (no-op if born done) */
        } else {
            /* c is linked now and up's cancel may reach it: start the timer
             * under c's lock unless that cancel came first (a timer started
             * before it is unqueued by its mark_done). */
            weft__lock_acquire(&c->lock);
            if (!weft__load_relaxed(&c->err)) /* relaxed: written under c->lock */
                weft__timer_start(&c->timer, deadline, 0);
            weft__lock_release(&c->lock);
        }
    }
    return c;
}

weft_ctx *weft_ctx_with_cancel(weft_ctx *parent) { return make_cancel(parent, WEFT_FOREVER); }

weft_ctx *weft_ctx_with_deadline(weft_ctx *parent, int64_t deadline)
{
    return make_cancel(parent, deadline);
}

weft_ctx *weft_ctx_with_timeout(weft_ctx *parent, int64_t duration)
{
    return make_cancel(parent, weft_deadline(duration));
}

weft_ctx *weft_ctx_with_value(weft_ctx *parent, const void *key, void *val)
{
    if (!parent || !key) {
        errno = EINVAL;
        return NULL;
    }
    weft_ctx *c = new_ctx(parent, K_VALUE, false);
    if (!c)
        return NULL;
    c->canc = parent->canc;
    c->key = key;
    c->val = val;
    return c;
}

/* ---- queries ------------------------------------------------------------------ */

void *weft_ctx_value(weft_ctx *ctx, const void *key)
{
    if (!key)
        return NULL;
    /* The chain is immutable and kept alive by the holds. */
    for (weft_ctx *c = ctx; c; c = c->parent)
        if (c->kind == K_VALUE && c->key == key)
            return c->val;
    return NULL;
}

void weft_ctx_cancel(weft_ctx *ctx)
{
    if (ctx && ctx->kind == K_CANCEL)
        cancel_ctx(ctx, ECANCELED);
}

weft_chan *weft_ctx_done(weft_ctx *ctx)
{
    if (!ctx || !ctx->canc)
        return NULL;
    weft_ctx *c = ctx->canc;
    /* acquire: pairs with the release store below (the channel is fully
     * built when seen). */
    weft_chan *d = (weft_chan *)weft__load_acq(&c->done);
    if (WEFT__LIKELY(d != NULL))
        return d;
    weft__lock_acquire(&c->lock);
    d = (weft_chan *)weft__load_relaxed(&c->done); /* relaxed: written under c->lock */
    if (!d) {
        d = weft_chan_make(0, 0);
        if (d) {
            if (weft__load_relaxed(&c->err)) /* relaxed: written under c->lock */
                weft_chan_close(d);
            weft__store_rel(&c->done, (AO_t)d); /* release: see above */
        }
    }
    weft__lock_release(&c->lock);
    return d; /* NULL only if out of memory */
}

int weft_ctx_err(weft_ctx *ctx)
{
    if (!ctx)
        return EINVAL;
    if (!ctx->canc)
        return 0;
    /* acquire: pairs with the release in mark_done. */
    return (int)weft__load_acq(&ctx->canc->err);
}

int64_t weft_ctx_deadline(weft_ctx *ctx) { return ctx ? ctx->deadline : WEFT_FOREVER; }

#undef weft_ctx_after_func

int weft_ctx_after_func_at(weft_ctx *ctx, weft_fn fn, void *arg, const char *fn_name,
                           const char *file, int line, const char *func)
{
    if (!ctx || !fn)
        return EINVAL;
    weft_ctx *c = ctx->canc;
    if (!c)
        return 0; /* can never be done: fn never runs (Go's AfterFunc on Background) */
    struct after *a = weft__malloc(sizeof *a);
    if (!a)
        return ENOMEM;
    *a = (struct after){NULL, fn, arg, fn_name, file, func, line};
    weft__lock_acquire(&c->lock);
    if (!weft__load_relaxed(&c->err)) { /* relaxed: written under c->lock */
        a->next = c->afters;
        c->afters = a;
        a = NULL;
    }
    weft__lock_release(&c->lock);
    if (!a)
        return 0;
    int r = weft__spawn(NULL, fn, arg, NULL, 0, fn_name, file, line, func, true, NULL);
    weft__free(a);
    return r;
}

int weft_ctx_after_func(weft_ctx *ctx, weft_fn fn, void *arg)
{
    return weft_ctx_after_func_at(ctx, fn, arg, NULL, NULL, 0, NULL);
}

/* ---- waiting ------------------------------------------------------------------- */

int weft__ctx_wait_begin(weft_ctx *ctx, weft__ctx_waiter *w, weft__task *self)
{
    memset(w, 0, sizeof *w);
    weft_ctx *c = ctx->canc;
    if (!c)
        return 0;
    weft__lock_acquire(&c->lock);
    int e = (int)weft__load_relaxed(&c->err); /* relaxed: written under c->lock */
    if (e) {
        weft__lock_release(&c->lock);
        return e;
    }
    w->c = c;
    w->task = self;
    w->prev = NULL;
    w->next = c->waiters;
    if (c->waiters)
        c->waiters->prev = w;
    c->waiters = w;
    w->queued = true;
    w->locked = true;
    return 0;
}

void weft__ctx_wait_unlock(weft__ctx_waiter *w) { weft__lock_release(&w->c->lock); }

void weft__ctx_wait_drop(weft__ctx_waiter *w)
{
    /* c->lock held since wait_begin: nobody can have fired w. */
    waiter_unlink(w->c, w);
}

void weft__ctx_wait_end(weft__ctx_waiter *w)
{
    if (!w->locked)
        return;
    weft__lock_acquire(&w->c->lock);
    if (w->queued)
        waiter_unlink(w->c, w);
    weft__lock_release(&w->c->lock);
}

static void unlock_waiter(void *p) { weft__ctx_wait_unlock(p); }

int weft__ctx_park_until(weft_ctx *ctx, int64_t deadline, const void *pc)
{
    weft__task *self = weft__current();
    if (WEFT__UNLIKELY(!self))
        return ENOMEM;
    /* Before any waker can see us (weft__park_ex's contract). */
    weft__store_full(&self->wake, WEFT__WAKE_NONE);
    weft__ctx_waiter w;
    int e = weft__ctx_wait_begin(ctx, &w, self);
    if (e)
        return e;
    if (!w.locked) {
        if (deadline != WEFT_FOREVER)
            weft__sleep_pc(deadline - weft_now(), pc);
        return 0;
    }
    weft__set_wait_pc(self, pc);
    weft__park_ex(WEFT__WAIT_CTX, ctx, unlock_waiter, &w, deadline);
    weft__ctx_wait_end(&w);
    return w.fired ? w.err : 0;
}

int weft_sleep_ctx(weft_ctx *ctx, int64_t duration)
{
    if (!ctx)
        return weft__sleep_pc(duration, WEFT__CALLER());
    if (duration <= 0)
        return weft_ctx_err(ctx);
    return weft__ctx_park_until(ctx, weft_deadline(duration), WEFT__CALLER());
}

bool weft__ctx_can_be_done(weft_ctx *ctx) { return ctx && ctx->canc; }

/* ---- diagnostics ---------------------------------------------------------------- */

/* acquire: a test that sees the count drop sees the frees before it. */
size_t weft__ctx_live(void) { return (size_t)weft__load_acq(&ctx_live); }

size_t weft__ctx_children(weft_ctx *ctx)
{
    if (!ctx || ctx->kind != K_CANCEL)
        return 0;
    size_t n = 0;
    weft__lock_acquire(&ctx->lock);
    for (weft_ctx *k = ctx->kids; k; k = k->sib_next)
        n++;
    weft__lock_release(&ctx->lock);
    return n;
}

size_t weft__ctx_waiters(weft_ctx *ctx)
{
    weft_ctx *c = ctx ? ctx->canc : NULL;
    if (!c)
        return 0;
    size_t n = 0;
    weft__lock_acquire(&c->lock);
    for (weft__ctx_waiter *w = c->waiters; w; w = w->next)
        n++;
    weft__lock_release(&c->lock);
    return n;
}
