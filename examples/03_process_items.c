/*
 * 03_process_items.c — "Use WaitGroups to wait for tasks to finish."
 *
 * One task per item.  weft_go_copy copies the item into the task (Go's
 * `go func(i Item){...}(item)`), so no pointer into the loop escapes.
 * Errors go to a channel buffered for every item, so no task can block on
 * it; it is closed after the wait, and drained.
 *
 * Run: ./build/examples/03_process_items
 */
#include <errno.h>
#include <stdio.h>

#include <weft.h>

#include "patterns.h"

int process_item(item it) { return it.weight < 0 ? ITEM_ERROR : 0; }

struct job {
    item it;        /* a copy */
    weft_wg *wg;
    weft_chan *errs;
};

static void process_one(void *arg)
{
    struct job *j = arg;
    int err = process_item(j->it);
    if (err)
        weft_chan_send(j->errs, &err); /* never blocks: room for every item */
    weft_wg_done(j->wg);                /* defer wg.Done() */
}

int process_items(const item *items, size_t n)
{
    weft_wg wg = WEFT_WG_INIT;
    weft_chan *errs = weft_chan_make(sizeof(int), n);
    if (!errs)
        return ENOMEM;
    int spawn_err = 0;
    for (size_t i = 0; i < n; i++) {
        weft_wg_add(&wg, 1);
        struct job j = {items[i], &wg, errs};
        int r = weft_go_copy(process_one, &j, sizeof j);
        if (r) {
            weft_wg_done(&wg);
            spawn_err = r;
            break;
        }
    }
    weft_wg_wait(&wg); /* wait for all tasks */
    weft_chan_close(errs);
    int first = 0, err;
    while (weft_chan_recv(errs, &err) == 0) /* for err := range errCh */
        if (!first)
            first = err;
    weft_chan_release(errs);
    return first ? first : spawn_err;
}

#ifndef WEFT_EXAMPLE_NO_MAIN
int main(void)
{
    enum { N = 1000 };
    static item items[N];
    for (int i = 0; i < N; i++)
        items[i] = (item){i, i};
    uint64_t mark = weft_leak_mark();
    int r = process_items(items, N);
    printf("%d items, all good: process_items returned %d\n", N, r);
    items[417].weight = -1;
    int r2 = process_items(items, N);
    printf("%d items, one bad: process_items returned %d (%s)\n", N, r2,
           r2 == ITEM_ERROR ? "its error" : "unexpected");
    size_t leaked = weft_leak_check(mark, 5 * WEFT_SEC, stdout);
    printf("%zu task%s leaked\n", leaked, leaked == 1 ? "" : "s");
    return r == 0 && r2 == ITEM_ERROR && leaked == 0 ? 0 : 1;
}
#endif
