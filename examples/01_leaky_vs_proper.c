/*
 * 01_leaky_vs_proper.c — "Never start a task without knowing when and how
 * it will stop."
 *
 * leaky_function starts a task that receives forever on a channel that is
 * never closed: it blocks for good, and weft_leak_check reports it with its
 * spawn site and what it waits on.  proper_function's task also selects on
 * its context's done channel, so canceling the context ends it.
 *
 * Run: ./build/examples/01_leaky_vs_proper
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <weft.h>

#include "patterns.h"

_Atomic long proper_processed;

static void process(int val) { (void)val; }

/* ---- Bad: the task never exits ---- */

static void leaky_loop(void *arg)
{
    weft_chan *ch = arg; /* this task owns the reference */
    int val;
    /* Blocks forever: nobody sends on ch, and nobody will ever close it. */
    while (weft_chan_recv(ch, &val) == 0)
        process(val);
    weft_chan_release(ch);
}

void leaky_function(void)
{
    weft_chan *ch = weft_chan_make(sizeof(int), 0);
    if (!ch)
        return;
    if (weft_go(leaky_loop, ch) != 0)
        weft_chan_release(ch);
    /* ch is never closed: the task blocks forever. */
}

/* ---- Good: the task exits when its context is canceled ---- */

struct proper_args {
    weft_ctx *ctx; /* a reference owned by the task */
    weft_chan *ch; /* likewise */
};

static void proper_loop(void *arg)
{
    struct proper_args *a = arg;
    weft_chan *done = weft_ctx_done(a->ctx);
    int val;
    for (;;) {
        weft_case cases[] = {WEFT_CASE_RECV(done, NULL), WEFT_CASE_RECV(a->ch, &val)};
        int i = weft_select(cases, 2, WEFT_FOREVER);
        if (i == 0)
            break; /* <-ctx.Done(): the task exits cleanly */
        if (i == 1 && cases[1].ok) {
            process(val);
            atomic_fetch_add(&proper_processed, 1);
        }
    }
    weft_chan_release(a->ch);
    weft_ctx_release(a->ctx);
}

int proper_function(weft_ctx *ctx)
{
    struct proper_args a = {weft_ctx_retain(ctx), weft_chan_make(sizeof(int), 0)};
    int r = a.ch ? weft_go_copy(proper_loop, &a, sizeof a) : ENOMEM;
    if (r) {
        weft_chan_release(a.ch);
        weft_ctx_release(a.ctx);
    }
    return r;
}

#ifndef WEFT_EXAMPLE_NO_MAIN
int main(void)
{
    puts("== leaky_function: the task never exits ==");
    uint64_t mark = weft_leak_mark();
    leaky_function();
    size_t leaked = weft_leak_check(mark, 5 * WEFT_SEC, stdout);

    puts("\n== proper_function: the task exits once its context is canceled ==");
    weft_ctx *ctx = weft_ctx_with_cancel(weft_ctx_background());
    if (!ctx)
        return 1;
    mark = weft_leak_mark();
    if (proper_function(ctx) != 0)
        return 1;
    weft_ctx_cancel(ctx); /* Go's cancel() */
    weft_ctx_release(ctx);
    size_t proper_leaked = weft_leak_check(mark, 5 * WEFT_SEC, stdout);
    printf("proper_function: %zu task%s leaked\n", proper_leaked, proper_leaked == 1 ? "" : "s");

    /* The leaked task is still blocked when the process exits. */
    return leaked == 1 && proper_leaked == 0 ? 0 : 1;
}
#endif
