/*
 * 02_close_on_exit.c — "Close channels to signal task completion."
 *
 * Go's `defer close(ch)` becomes cleanup labels in reverse order of
 * acquisition, reached by every way out of the task.  The consumer owns its
 * input channel; closing it on exit means a producer that is still sending
 * gets EPIPE instead of blocking forever (which would leak the producer).
 *
 * Run: ./build/examples/02_close_on_exit
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

#include "patterns.h"

struct consumer_args {
    weft_ctx *ctx;       /* references owned by the task */
    weft_chan *ch;
    _Atomic long *processed;
};

static void consumer(void *arg)
{
    struct consumer_args *a = arg;
    long *scratch = malloc(64 * sizeof *scratch); /* some per-task resource */
    if (!scratch)
        goto out_close;
    weft_chan *done = weft_ctx_done(a->ctx);
    for (;;) {
        long val;
        weft_case cases[] = {WEFT_CASE_RECV(done, NULL), WEFT_CASE_RECV(a->ch, &val)};
        int i = weft_select(cases, 2, WEFT_FOREVER);
        if (i != 1 || !cases[1].ok)
            break; /* canceled, an error (i < 0), or the channel closed under us */
        scratch[val & 63] = val;
        atomic_fetch_add(a->processed, 1);
    }
    free(scratch);
out_close:
    weft_chan_close(a->ch); /* defer close(ch): senders now get EPIPE */
    weft_chan_release(a->ch);
    weft_ctx_release(a->ctx);
}

weft_chan *start_consumer(weft_ctx *ctx, _Atomic long *processed)
{
    weft_chan *ch = weft_chan_make(sizeof(long), 0);
    if (!ch)
        return NULL;
    struct consumer_args a = {weft_ctx_retain(ctx), weft_chan_retain(ch), processed};
    int r = weft_go_copy(consumer, &a, sizeof a);
    if (r) {
        weft_chan_release(a.ch);
        weft_ctx_release(a.ctx);
        weft_chan_release(ch);
        errno = r;
        return NULL;
    }
    return ch; /* the caller's reference */
}

#ifndef WEFT_EXAMPLE_NO_MAIN
int main(void)
{
    static _Atomic long processed;
    uint64_t mark = weft_leak_mark();
    weft_ctx *ctx = weft_ctx_with_cancel(weft_ctx_background());
    weft_chan *ch = ctx ? start_consumer(ctx, &processed) : NULL;
    if (!ch)
        return 1;
    for (long v = 1; v <= 3; v++)
        weft_chan_send(ch, &v);
    weft_ctx_cancel(ctx);
    /* Keep sending: each send is either taken or, once the consumer has
     * gone, answered with EPIPE because it closed the channel on exit. */
    long v = 4, extra = 0;
    int r;
    while ((r = weft_chan_send(ch, &v)) == 0)
        extra++;
    printf("consumer handled %ld values; the next send returned %s\n", (long)processed,
           r == EPIPE ? "EPIPE (closed on exit)" : "an unexpected error");
    weft_chan_release(ch);
    weft_ctx_release(ctx);
    size_t leaked = weft_leak_check(mark, 5 * WEFT_SEC, stdout);
    printf("%zu task%s leaked\n", leaked, leaked == 1 ? "" : "s");
    return r == EPIPE && leaked == 0 ? 0 : 1;
}
#endif
