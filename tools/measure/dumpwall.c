/* dumpwall.c: wall-clock time of weft_dump_tasks / _json with N parked tasks (issue 14 figures) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <weft.h>
static weft_chan *never;
__attribute__((noinline)) static int wait_here(void) { int r = weft_chan_recv(never, NULL); return r + 1; }
static void parked(void *p) { (void)p; (void)wait_here(); }
static double ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000; int reps = argc > 2 ? atoi(argv[2]) : 5;
    struct weft_config cfg = {.workers = 2, .stack_size = 16 * 1024};
    if (weft_init(&cfg)) return 1;
    never = weft_chan_make(0, 0);
    uint64_t mark = weft_leak_mark();
    for (long i = 0; i < n; i++) if (weft_go(parked, NULL)) return 1;
    if ((long)weft_leak_check(mark, 120 * WEFT_SEC, NULL) != n) return 2;
    FILE *null = fopen("/dev/null", "w");
    for (int k = 0; k < 2; k++) {
        double v[64];
        for (int i = 0; i < reps; i++) { double t0 = ms(); k ? weft_dump_tasks_json(null) : weft_dump_tasks(null); v[i] = ms() - t0; }
        qsort(v, reps, sizeof v[0], cmpd);
        printf("%s dump of %ld parked tasks, wall ms: median %.1f min %.1f max %.1f (%d runs, first included)\n", k ? "json" : "text", n, v[reps / 2], v[0], v[reps - 1], reps);
    }
    weft_chan_close(never);
    weft_leak_check(mark, 120 * WEFT_SEC, NULL);
    return weft_shutdown();
}
