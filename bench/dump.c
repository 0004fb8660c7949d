/* dump: what a task dump of many parked tasks costs (issue 14).
 *
 *   bench_dump [tasks] [workers]        (default 100000 tasks)
 *
 * Parks `tasks` tasks, spread over four blocking call sites two calls deep
 * (so four groups), then times (CPU time of the dumping thread), writing to
 * /dev/null:
 *   - the first text dump (cold: the symbolizer reads the debug info),
 *   - text and JSON dumps once warm (best of 3),
 *   - the same without the per-dump address cache (each frame of each task
 *     resolved on its own: what the cache saves).
 * With WEFT_BACKTRACE=0 in the environment the dumps have no stacks (the
 * cost without them).  Not part of bench/run.py (no Go twin); prints a
 * table and one RESULT line (warm text dump, ms).
 */
#include <stdbool.h>
#include <time.h>

#include "bench_common.h"

/* Measurement switch inside the library (sched/diag/stack.h). */
extern bool weft__symtab_nocache;

static weft_chan *never;

#define SITE(name)                                                                   \
    __attribute__((noinline)) static int name##_wait(void)                           \
    {                                                                                \
        int r = weft_chan_recv(never, NULL);                                         \
        return r + 1;                                                                \
    }                                                                                \
    static void name(void *p)                                                        \
    {                                                                                \
        (void)p;                                                                     \
        int r = name##_wait();                                                       \
        if (r != EPIPE + 1)                                                          \
            bench_fail("%s: receive returned %d", #name, r - 1);                     \
    }
SITE(site_a)
SITE(site_b)
SITE(site_c)
SITE(site_d)
static weft_fn sites[] = {site_a, site_b, site_c, site_d};

/* CPU time of the calling thread, ns: the dump (and its symbolization) runs
 * on it, and on a loaded machine this varies far less than wall time. */
static int64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * WEFT_SEC + ts.tv_nsec;
}

static double ms_of(int (*dump)(FILE *), FILE *out)
{
    int64_t t0 = thread_ns();
    if (dump(out) < 0)
        bench_fail("dump failed");
    return (double)(thread_ns() - t0) / 1e6;
}

static double best_of(int k, int (*dump)(FILE *), FILE *out)
{
    double best = 1e300;
    for (int i = 0; i < k; i++) {
        double t = ms_of(dump, out);
        best = t < best ? t : best;
    }
    return best;
}

/* One function per measurement, so that `valgrind --tool=callgrind` and
 * `callgrind_annotate --inclusive=yes` give each one's instruction count
 * (deterministic, unlike time on a shared machine). */
#define MEASURE(name, k, dump, nocache)                                              \
    __attribute__((noinline)) static double name(FILE *out)                          \
    {                                                                                \
        weft__symtab_nocache = nocache;                                              \
        double t = best_of(k, dump, out);                                            \
        weft__symtab_nocache = false;                                                \
        return t;                                                                    \
    }
MEASURE(text_cold, 1, weft_dump_tasks, false)
MEASURE(text_warm, 3, weft_dump_tasks, false)
MEASURE(json_warm, 3, weft_dump_tasks_json, false)
MEASURE(text_nocache, 1, weft_dump_tasks, true)
MEASURE(json_nocache, 1, weft_dump_tasks_json, true)

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 0;
    int workers = argc > 2 ? atoi(argv[2]) : 0;
    if (n <= 0)
        n = 100000;
    struct weft_config cfg = {.workers = workers, .stack_size = 16 * 1024};
    BENCH_CHECK(weft_init(&cfg));
    never = weft_chan_make(0, 0);
    BENCH_CHECK_PTR(never);
    uint64_t mark = weft_leak_mark();
    for (int64_t i = 0; i < n; i++)
        BENCH_CHECK(weft_go(sites[i % 4], NULL));
    if ((int64_t)weft_leak_check(mark, 120 * WEFT_SEC, NULL) != n)
        bench_fail("the tasks did not all park");
    FILE *null = fopen("/dev/null", "w");
    if (!null)
        bench_fail("/dev/null: %s", strerror(errno));
    const char *bt = getenv("WEFT_BACKTRACE");
    bool off = bt && !strcmp(bt, "0");
    double cold = text_cold(null);
    double text = text_warm(null);
    double json = json_warm(null);
    double text_nc = text_nocache(null);
    double json_nc = json_nocache(null);
    fclose(null);
    printf("dump of %lld parked tasks (4 groups, %s), ms of CPU time:\n", (long long)n,
           off ? "WEFT_BACKTRACE=0: no stacks" : "with stacks");
    printf("  text, first (cold symbolizer) %10.1f\n", cold);
    printf("  text, warm                    %10.1f\n", text);
    printf("  json, warm                    %10.1f\n", json);
    printf("  text, no address cache        %10.1f\n", text_nc);
    printf("  json, no address cache        %10.1f\n", json_nc);
    printf("RESULT name=dump workers=%d value=%.1f unit=ms ops=%lld\n", workers, text,
           (long long)n);
    fflush(stdout);
    weft_chan_close(never);
    if (weft_leak_check(mark, 120 * WEFT_SEC, NULL) != 0)
        bench_fail("tasks left");
    weft_chan_release(never);
    return weft_shutdown();
}
