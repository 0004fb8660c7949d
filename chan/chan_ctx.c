/*
 * chan_ctx.c — channel operations that give up when a context is done.
 *
 * Each is a two-case weft_select: the operation itself and a receive on the
 * context's done channel.  A context that can never be done (NULL,
 * background, values over background) makes it the plain operation.  As in
 * Go's `select { case ch <- v: ...; case <-ctx.Done(): ... }`, when both are
 * ready one is chosen at random.
 */
#include <errno.h>

#include "chan/chan.h"
#include "ctx/ctx.h"

/* The ctx's done channel, or NULL for "no context" (*err = 0), or NULL with
 * *err set (already done but the channel could not be made, or ENOMEM). */
static weft_chan *done_of(weft_ctx *ctx, int *err)
{
    *err = 0;
    if (!ctx || !weft__ctx_can_be_done(ctx))
        return NULL;
    weft_chan *d = weft_ctx_done(ctx);
    if (!d) {
        *err = weft_ctx_err(ctx);
        if (!*err)
            *err = ENOMEM;
    }
    return d;
}

/* pc: the user's call site (for dumps). */
static int op_ctx(weft_chan *c, enum weft_dir dir, void *val, weft_ctx *ctx, const void *pc)
{
    int err;
    weft_chan *d = done_of(ctx, &err);
    if (err)
        return err;
    if (!d)
        return dir == WEFT_SEND ? weft__chan_send_pc(c, val, pc) : weft__chan_recv_pc(c, val, pc);
    weft_case cs[2] = {{.chan = c, .dir = dir, .val = val}, WEFT_CASE_RECV(d, NULL)};
    int i = weft__select_pc(cs, 2, WEFT_FOREVER, pc);
    if (i < 0)
        return -i;
    if (i == 1) {
        int e = weft_ctx_err(ctx);
        return e ? e : ECANCELED; /* closed done channel: err is set before the close */
    }
    return cs[0].ok ? 0 : EPIPE;
}

int weft_chan_send_ctx(weft_chan *c, const void *elem, weft_ctx *ctx)
{
    if (WEFT__UNLIKELY(!c || (!elem && c->elemsize)))
        return EINVAL;
    return op_ctx(c, WEFT_SEND, (void *)elem, ctx, WEFT__CALLER());
}

int weft_chan_recv_ctx(weft_chan *c, void *out, weft_ctx *ctx)
{
    if (WEFT__UNLIKELY(!c))
        return EINVAL;
    return op_ctx(c, WEFT_RECV, out, ctx, WEFT__CALLER());
}
