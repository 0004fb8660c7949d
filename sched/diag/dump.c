/*
 * dump.c — weft_dump_tasks: every live task, what it waits on and since
 * when (Go's goroutine dump, with the waited-on object's creation site).
 */
#include "../chan/chan.h"
#include "internal.h"

static const char *state_name(weft__task *t)
{
    switch ((int)weft__load_acq(&t->state)) {
    case WEFT__TASK_RUNNABLE:
        return "runnable";
    case WEFT__TASK_RUNNING:
        return "running";
    case WEFT__TASK_PARKED:
        return weft__wait_name((enum weft__wait)weft__load_relaxed(&t->wait_reason));
    case WEFT__TASK_DEAD:
        return "dead";
    }
    return "?";
}

struct dump_ctx {
    FILE *out;
    int count;
    int64_t now;
};

static void dump_one(weft__task *t, void *arg)
{
    struct dump_ctx *d = arg;
    d->count++;
    fprintf(d->out, "task %llu", (unsigned long long)t->id);
    if (t->name)
        fprintf(d->out, " \"%s\"", t->name);
    else if (t->fn_name)
        fprintf(d->out, " %s", t->fn_name);
    fprintf(d->out, " [%s", state_name(t));
    if (weft__load_acq(&t->state) == WEFT__TASK_PARKED) {
        int64_t ms = weft__task_waited_ns(t) / WEFT_MS;
        fprintf(d->out, ", %lld ms", (long long)(ms < 0 ? 0 : ms));
    }
    fprintf(d->out, "]\n");
    if (weft__load_acq(&t->state) == WEFT__TASK_PARKED) {
        enum weft__wait why = (enum weft__wait)weft__load_relaxed(&t->wait_reason);
        const void *obj = (const void *)weft__load_relaxed(&t->wait_obj);
        if ((why == WEFT__WAIT_CHAN_SEND || why == WEFT__WAIT_CHAN_RECV ||
             why == WEFT__WAIT_SELECT) && obj) {
            const weft_chan *c = obj;
            fprintf(d->out, "    waiting on channel %p made at %s:%d%s\n", obj,
                    c->file ? c->file : "?", c->line,
                    c->orphaned ? " (no references left: certainly leaked)" : "");
        } else if (obj) {
            fprintf(d->out, "    waiting on %p\n", obj);
        }
    }
    fprintf(d->out, "    spawned at %s:%d", t->file ? t->file : "?", t->line);
    if (t->func)
        fprintf(d->out, " in %s()", t->func);
    fprintf(d->out, "\n");
}

int weft_dump_tasks(FILE *out)
{
    if (!out)
        return -1;
    struct dump_ctx d = {out, 0, weft__now_coarse()};
    weft__for_each_task(dump_one, &d);
    fflush(out);
    return d.count;
}
