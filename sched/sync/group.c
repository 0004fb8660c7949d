/*
 * group.c — weft_group, Go's errgroup (golang.org/x/sync/errgroup).
 *
 *  - weft_group_init: the group's context is weft_ctx_with_cancel(parent);
 *    every task gets it.  A zero-initialised group works too (Go's zero
 *    Group): tasks get the background context and an error cancels nothing.
 *  - The first non-zero result wins a CAS on _err and cancels the context.
 *  - weft_group_wait waits on _wg, then cancels and releases the context
 *    (Go's `g.cancel(g.err)`) and returns the first error.  An initialised
 *    group is then spent: weft_group_go on it is EINVAL until it is
 *    initialised again.
 *  - weft_group_set_limit(n): a channel of capacity n is the semaphore (Go
 *    uses the same): weft_group_go sends before spawning, blocking while n
 *    tasks hold a slot, and each task receives its slot back just before it
 *    signals the WaitGroup.
 * A task's last touch of the group is weft_wg_done: weft_group_wait may
 * return and the group's memory go away right after it.
 */
#include <errno.h>

#include "internal.h"
#include "sync/sync.h"

enum { G_ZERO = 0, G_INIT = 1, G_WAITED = 2 };

struct gtask {
    weft_group *g;
    weft_group_fn fn;
    void *arg;
};

static inline weft__aword *g_err(weft_group *g) { return (weft__aword *)&g->_err; }

static void group_task(void *p)
{
    struct gtask *t = p; /* the task's own copy */
    weft_group *g = t->g;
    weft_ctx *ctx = g->_ctx ? g->_ctx : weft_ctx_background();
    int r = t->fn(ctx, t->arg);
    if (r && weft__cas_full(g_err(g), 0, (AO_t)(unsigned)r) && g->_ctx)
        weft_ctx_cancel(g->_ctx);
    if (g->_sem)
        weft_chan_recv(g->_sem, NULL); /* give the slot back */
    weft_wg_done(&g->_wg);          /* last touch of g */
}

int weft_group_init(weft_group *g, weft_ctx *parent)
{
    if (!g || !parent)
        return EINVAL;
    weft_ctx *ctx = weft_ctx_with_cancel(parent);
    if (!ctx)
        return weft__errno_get();
    *g = (weft_group)WEFT_GROUP_INIT;
    g->_ctx = ctx;
    g->_state = G_INIT;
    return 0;
}

int weft_group_set_limit(weft_group *g, int n)
{
    /* acquire: as in weft_group_go_at. */
    if (!g || n == 0 || weft__iload_acq(&g->_state) == G_WAITED || weft__wg_count(&g->_wg) != 0)
        return EINVAL;
    weft_chan *sem = NULL;
    if (n > 0) {
        sem = weft_chan_make(0, (size_t)n);
        if (!sem)
            return ENOMEM;
    }
    weft_chan_release(g->_sem);
    g->_sem = sem;
    g->_limit = n > 0 ? n : 0;
    return 0;
}

#undef weft_group_go

/* pc: the user's call site, recorded if the limit makes it block. */
static int group_go(weft_group *g, weft_group_fn fn, void *arg, const char *fn_name,
                    const char *file, int line, const char *func, const void *pc)
{
    /* acquire: pairs with the CAS in weft_group_wait.  Calling go while
     * wait is returning is a misuse either way (as in Go). */
    if (!g || !fn || weft__iload_acq(&g->_state) == G_WAITED)
        return EINVAL;
    if (g->_sem) {
        int r = weft__chan_send_pc(g->_sem, NULL, pc); /* blocks while the limit is reached */
        if (r)
            return r;
    }
    int r = weft_wg_add(&g->_wg, 1);
    if (r == 0) {
        struct gtask t = {g, fn, arg};
        r = weft__spawn(NULL, group_task, NULL, &t, sizeof t, fn_name, file, line, func, true,
                        NULL);
        if (r)
            weft_wg_done(&g->_wg);
    }
    if (r && g->_sem)
        weft_chan_try_recv(g->_sem, NULL);
    return r;
}

int weft_group_go_at(weft_group *g, weft_group_fn fn, void *arg, const char *fn_name,
                     const char *file, int line, const char *func)
{
    return group_go(g, fn, arg, fn_name, file, line, func, WEFT__CALLER());
}

int weft_group_go(weft_group *g, weft_group_fn fn, void *arg)
{
    return group_go(g, fn, arg, NULL, NULL, 0, NULL, WEFT__CALLER());
}

int weft_group_wait(weft_group *g)
{
    if (!g)
        return EINVAL;
    int r = weft__wg_wait_why(&g->_wg, WEFT__WAIT_GROUP, g, WEFT__CALLER());
    if (r)
        return r;
    /* acquire: the winning task's CAS happens-before its wg_done, which
     * happens-before our return from the wait; acquire keeps the load after. */
    int err = (int)(unsigned)weft__load_acq(g_err(g));
    /* Several waiters may return together: the one that wins the CAS
     * releases (acquire on the load: only a hint, the CAS decides). */
    if (weft__iload_acq(&g->_state) == G_INIT && weft__icas_full(&g->_state, G_INIT, G_WAITED)) {
        weft_ctx_cancel(g->_ctx);
        weft_ctx_release(g->_ctx);
        g->_ctx = NULL;
        weft_chan_release(g->_sem);
        g->_sem = NULL;
        g->_limit = 0;
    }
    return err;
}
