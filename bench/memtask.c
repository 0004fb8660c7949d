/* memtask: memory per parked task.  Spawn n tasks that each mark a
 * "started" WaitGroup and block receiving on one signal-only channel; once
 * all started (+20 ms for the last ones to park) read VmHWM (peak RSS) and
 * report (peak - baseline VmRSS) / n bytes per task; then close the channel
 * and join them.  Go twin: go/main.go memtask. */
#include "bench_common.h"

struct mt {
    weft_chan *ch;
    weft_wg started, exited;
};

static void parked(void *arg)
{
    struct mt *m = arg;
    BENCH_CHECK(weft_wg_done(&m->started));
    int rc = weft_chan_recv(m->ch, NULL);
    if (rc != EPIPE)
        bench_fail("memtask: recv returned %d, want EPIPE", rc);
    BENCH_CHECK(weft_wg_done(&m->exited));
}

static int run(void *arg)
{
    struct bench *b = arg;
    struct mt m = {weft_chan_make(0, 0), WEFT_WG_INIT, WEFT_WG_INIT};
    BENCH_CHECK_PTR(m.ch);
    long base = bench_proc_status_kb("VmRSS");
    BENCH_CHECK(weft_wg_add(&m.started, b->n));
    BENCH_CHECK(weft_wg_add(&m.exited, b->n));
    for (int64_t i = 0; i < b->n; i++)
        BENCH_CHECK(weft_go(parked, &m));
    BENCH_CHECK(weft_wg_wait(&m.started));
    BENCH_CHECK(weft_sleep(20 * WEFT_MS)); /* let the last ones park */
    long rss = bench_proc_status_kb("VmRSS"), hwm = bench_proc_status_kb("VmHWM");
    fprintf(stderr, "memtask: baseline %ld KiB, rss %ld KiB, peak %ld KiB\n", base, rss, hwm);
    if (base < 0 || hwm < 0)
        bench_fail("memtask: cannot read /proc/self/status");
    b->value = (double)(hwm - base) * 1024.0 / (double)b->n;
    b->ops = b->n;
    BENCH_CHECK(weft_chan_close(m.ch));
    BENCH_CHECK(weft_wg_wait(&m.exited));
    weft_chan_release(m.ch);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "memtask", .unit = "bytes/task", .n = 1000000};
    return bench_main(argc, argv, &b, run);
}
