/*
 * stats.c — weft_stats: counters of the runtime, for monitoring and tests.
 * Each field is read on its own (the set is not one atomic snapshot).
 */
#include "diag.h"

static void count_parked(weft__task *t, void *arg)
{
    uint64_t *n = arg;
    if (t->counted && weft__load_acq(&t->state) == WEFT__TASK_PARKED)
        (*n)++;
}

int weft_stats(struct weft_stats *out)
{
    if (!out)
        return EINVAL;
    out->spawned = weft__spawned_count();
    out->exited = weft__exited_count();
    out->live = weft__alive_counted(weft__load_acq(&weft__ctr.alive));
    out->parked = 0;
    weft__for_each_task(count_parked, &out->parked);
    WEFT__DIAG_RACY_BEGIN();
    out->switches = weft__switch_count();
    WEFT__DIAG_RACY_END();
    out->steals = weft__load_acq(&weft__ctr.steals);
    out->workers = (uint64_t)weft__worker_count();
    return 0;
}
