/*
 * bench_common.h — shared scaffolding of weft's benchmark programs.
 *
 * Every program takes `[iterations] [workers]` (0 or absent: the program's
 * default count / the runtime's default worker count, env WEFT_PROCS), runs
 * its workload in a main task under weft_run, and prints ONE line on stdout:
 *
 *   RESULT name=<bench> workers=<n> value=<float> unit=<unit> ops=<n>
 *
 * Anything the runtime gets wrong (an unexpected error code, a wrong sum)
 * makes the program print a diagnostic on stderr and exit non-zero, so that
 * bench/run.py reports the benchmark as failed instead of printing a number.
 */
#ifndef WEFT_BENCH_COMMON_H
#define WEFT_BENCH_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

struct bench {
    const char *name;
    const char *unit;
    int64_t n;      /* iterations (or tasks) */
    int workers;    /* as requested; 0: the runtime default */
    double value;   /* set by the workload */
    int64_t ops;    /* set by the workload */
};

/* Abort the benchmark when a weft call returns an unexpected error code. */
#define BENCH_CHECK(expr)                                                        \
    do {                                                                         \
        int bench_rc_ = (expr);                                                  \
        if (bench_rc_ != 0)                                                      \
            bench_fail("%s:%d: %s returned %d (%s)", __FILE__, __LINE__, #expr,  \
                       bench_rc_, strerror(bench_rc_));                          \
    } while (0)

#define BENCH_CHECK_PTR(expr)                                                    \
    do {                                                                         \
        if ((expr) == NULL)                                                      \
            bench_fail("%s:%d: %s returned NULL (errno %d, %s)", __FILE__,       \
                       __LINE__, #expr, errno, strerror(errno));                 \
    } while (0)

__attribute__((noreturn, format(printf, 1, 2))) static inline void bench_fail(const char *fmt, ...);

static inline void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(3);
}

static inline int64_t bench_arg(int argc, char **argv, int i, int64_t dflt)
{
    if (argc <= i)
        return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(argv[i], &end, 10);
    if (errno || *end || v < 0) {
        fprintf(stderr, "usage: %s [iterations] [workers]\n", argv[0]);
        exit(2);
    }
    return v ? (int64_t)v : dflt;
}

static inline int bench_effective_workers(int requested)
{
    if (requested > 0)
        return requested;
    const char *e = getenv("WEFT_PROCS");
    if (e && atoi(e) > 0)
        return atoi(e);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static inline double bench_ns_per(int64_t t0, int64_t ops)
{
    return (double)(weft_now() - t0) / (double)ops;
}

/* Parse args, start the runtime with the requested workers, run fn(b) as the
 * main task, print the RESULT line.  Returns the process exit status. */
static inline int bench_main(int argc, char **argv, struct bench *b, int (*fn)(void *))
{
    b->n = bench_arg(argc, argv, 1, b->n);
    b->workers = (int)bench_arg(argc, argv, 2, 0);
    struct weft_config cfg = {.workers = b->workers};
    int rc = weft_init(&cfg);
    if (rc)
        bench_fail("weft_init(workers=%d) returned %d (%s)", b->workers, rc, strerror(rc));
    rc = weft_run(fn, b);
    if (rc)
        bench_fail("%s: weft_run returned %d (%s)", b->name, rc, strerror(rc));
    printf("RESULT name=%s workers=%d value=%.3f unit=%s ops=%lld\n", b->name,
           bench_effective_workers(b->workers), b->value, b->unit, (long long)b->ops);
    fflush(stdout);
    return 0;
}

/* A "Vm...:" field of /proc/self/status, in KiB (-1 if unreadable). */
static inline long bench_proc_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t fl = strlen(field);
    long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

#endif /* WEFT_BENCH_COMMON_H */
