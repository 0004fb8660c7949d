/*
 * patterns.h — the seed's four leak-avoidance patterns, translated to weft
 * (see README.md).  Each example file defines its pattern and a main() that
 * demonstrates it; tests/test_examples.c links the same files with
 * WEFT_EXAMPLE_NO_MAIN and checks each pattern's promise.
 */
#ifndef WEFT_EXAMPLES_PATTERNS_H
#define WEFT_EXAMPLES_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

#include <weft.h>

/* 01_leaky_vs_proper.c */
/* Bad: starts a task that loops receiving on a channel nobody ever sends
 * on or closes.  The task can never exit. */
void leaky_function(void);
/* Good: the task also selects on ctx's done channel and returns once ctx
 * is canceled. */
int proper_function(weft_ctx *ctx);
/* Values the proper task processed (for the tests). */
extern _Atomic long proper_processed;

/* 02_close_on_exit.c */
/* Start a consumer that owns the returned channel (one reference is the
 * caller's, to send on and release).  When ctx is done the consumer exits
 * through its cleanup labels and closes the channel, so a sender still
 * trying is told EPIPE instead of blocking forever.  NULL + errno on
 * failure.  *processed counts the values it handled. */
weft_chan *start_consumer(weft_ctx *ctx, _Atomic long *processed);

/* 03_process_items.c */
typedef struct item {
    int id;
    int weight;
} item;
/* Process every item in its own task (weft_go_copy: no pointer into the
 * loop escapes), wait for all with a WaitGroup, collect errors through a
 * buffered channel closed after the wait.  Returns the first error seen
 * (in channel order), 0 if none. */
int process_items(const item *items, size_t n);
/* The error process_items reports for a failing item. */
#define ITEM_ERROR EILSEQ
/* Whether an item fails (the pattern's processItem(i) error case). */
int process_item(item it);

/* 04_worker.c */
typedef struct worker worker;
worker *worker_new(void);      /* NULL + errno */
int worker_start(worker *w);   /* one more task working until worker_stop */
void worker_stop(worker *w);   /* cancel, then wait for every started task */
void worker_free(worker *w);   /* after worker_stop */
long worker_work_done(worker *w);

#endif
