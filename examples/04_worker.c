/*
 * 04_worker.c — the proper cleanup pattern: a worker with Start and Stop.
 *
 * Stop cancels the worker's context and waits on its WaitGroup, so when it
 * returns no task it started is still working.  weft tasks are not
 * preempted: a loop that polls its context with a non-blocking select (Go's
 * `default:`) must yield between units of work, or it would keep its
 * worker thread to itself.
 *
 * Run: ./build/examples/04_worker
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

#include "patterns.h"

struct worker {
    weft_ctx *ctx;
    weft_wg wg;
    _Atomic long work_done;
};

worker *worker_new(void)
{
    worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->ctx = weft_ctx_with_cancel(weft_ctx_background());
    if (!w->ctx) {
        free(w);
        return NULL;
    }
    return w;
}

static void worker_loop(void *arg)
{
    worker *w = arg;
    weft_chan *done = weft_ctx_done(w->ctx);
    for (;;) {
        weft_case cases[] = {WEFT_CASE_RECV(done, NULL)};
        if (weft_select(cases, 1, 0) == 0) /* deadline 0: Go's default: */
            break;                         /* <-ctx.Done() */
        atomic_fetch_add(&w->work_done, 1); /* do work */
        weft_yield();
    }
    weft_wg_done(&w->wg); /* defer w.wg.Done() */
}

int worker_start(worker *w)
{
    weft_wg_add(&w->wg, 1);
    int r = weft_go(worker_loop, w);
    if (r)
        weft_wg_done(&w->wg);
    return r;
}

void worker_stop(worker *w)
{
    weft_ctx_cancel(w->ctx); /* signal the tasks to stop */
    weft_wg_wait(&w->wg);    /* wait for them to finish */
}

void worker_free(worker *w)
{
    weft_ctx_release(w->ctx);
    free(w);
}

long worker_work_done(worker *w) { return atomic_load(&w->work_done); }

#ifndef WEFT_EXAMPLE_NO_MAIN
int main(void)
{
    size_t before = weft_num_tasks();
    uint64_t mark = weft_leak_mark();
    worker *w = worker_new();
    if (!w)
        return 1;
    for (int i = 0; i < 4; i++)
        worker_start(w);
    weft_sleep(20 * WEFT_MS); /* let it work for a while */
    worker_stop(w);
    printf("4 tasks did %ld units of work before Stop\n", worker_work_done(w));
    worker_free(w);
    size_t leaked = weft_leak_check(mark, 5 * WEFT_SEC, stdout);
    printf("%zu task%s leaked; live tasks: %zu before, %zu after\n", leaked,
           leaked == 1 ? "" : "s", before, weft_num_tasks());
    return leaked == 0 && weft_num_tasks() == before ? 0 : 1;
}
#endif
