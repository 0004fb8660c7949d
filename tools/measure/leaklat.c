/* leaklat.c — how long weft_leak_check takes to give its verdict, with and
 * without a thread outside weft (the figures in issue 11's closing note).
 * Not built by CMake; see tools/measure/README.md.
 *
 *   leaklat [reps=10] [timeout_ms=1000]
 *
 * Cases (each rep fresh; main() is a plain thread calling weft_leak_check):
 *  a  one task really leaked (recv on a channel main still holds), no outside thread
 *  b  same, plus a plain pthread that never entered weft (blocked in read())
 *  c  same as b, but the thread called weft_thread_ignore() first
 *  d  every task returned, no outside thread
 *  e  every task returned, an outside thread present
 *  g  like b, but the outside thread exits (without sending) 300 ms into the check
 *  h  the defect 2: an outside thread sleeps 100 ms, then sends to the task (0 leaked is right)
 *  f  like a, but weft_leak_check called from inside a task (helper-thread path);
 *     main waits in weft_chan_recv (a plain thread parked inside weft)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void recv_once(void *p) { (void)weft_chan_recv(p, NULL); }
static void send_once(void *p) { (void)weft_chan_send(p, NULL); }

struct outside {
    pthread_t th;
    weft_chan *c;
    int fd;
    int ignore;
    volatile int ready;
};

static void *outside_main(void *p)
{
    struct outside *o = p;
#ifndef OLD_WEFT
    if (o->ignore == 1 && weft_thread_ignore() != 0)
        abort();
#endif
    __atomic_store_n(&o->ready, 1, __ATOMIC_RELEASE);
    if (o->ignore >= 2) {
        struct timespec ts = {0, (o->ignore == 2 ? 300 : 100) * 1000000L};
        nanosleep(&ts, NULL);
        if (o->ignore == 3)
            (void)weft_chan_send(o->c, NULL);
        return NULL;
    }
    char b;
    while (read(o->fd, &b, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

static int pipefd[2];
static struct outside out;

static void outside_start2(int ignore, weft_chan *c)
{
    if (pipe(pipefd))
        abort();
    out = (struct outside){.fd = pipefd[0], .ignore = ignore, .c = c};
    if (pthread_create(&out.th, NULL, outside_main, &out))
        abort();
    while (!__atomic_load_n(&out.ready, __ATOMIC_ACQUIRE))
        sched_yield();
}

static void outside_start(int ignore) { outside_start2(ignore, NULL); }

static void outside_stop(void)
{
    close(pipefd[1]);
    pthread_join(out.th, NULL);
    close(pipefd[0]);
}

static FILE *devnull;
static int64_t timeout_ns;

struct in_task {
    uint64_t mark;
    size_t n;
    double ms;
    weft_chan *done;
};

static void check_in_task(void *p)
{
    struct in_task *t = p;
    double t0 = now_ms();
    t->n = weft_leak_check(t->mark, timeout_ns, devnull);
    t->ms = now_ms() - t0;
    (void)weft_chan_send(t->done, NULL);
}

/* One rep of a case; returns ms, sets *n to the verdict. */
static double one(char kase, size_t *n)
{
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(0, 0);
    double ms;
    if (kase == 'b' || kase == 'e')
        outside_start(0);
    if (kase == 'c')
        outside_start(1);
    if (kase == 'g')
        outside_start(2);
    if (kase == 'h')
        outside_start2(3, c);
    if (kase == 'd' || kase == 'e') {
        weft_go(send_once, c);
        weft_chan_recv(c, NULL); /* the task returns right after */
        /* let it finish returning, so the check sees it gone or nearly */
    } else {
        weft_go(recv_once, c);
    }
    if (kase == 'f') {
        struct in_task t = {.mark = mark, .done = weft_chan_make(0, 0)};
        weft_go(check_in_task, &t);
        weft_chan_recv(t.done, NULL);
        weft_chan_release(t.done);
        *n = t.n; /* the checking task itself is not checked (it is the caller) */
        ms = t.ms;
    } else {
        double t0 = now_ms();
        *n = weft_leak_check(mark, timeout_ns, devnull);
        ms = now_ms() - t0;
    }
    if (kase == 'b' || kase == 'c' || kase == 'e' || kase == 'g' || kase == 'h')
        outside_stop();
    /* clean up: wake the leaked task */
    weft_chan_close(c);
    if (weft_leak_check(mark, 5 * WEFT_SEC, stderr) != 0)
        abort();
    weft_chan_release(c);
    return ms;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 10;
    timeout_ns = (argc > 2 ? atoll(argv[2]) : 1000) * WEFT_MS;
    const char *cases = argc > 3 ? argv[3] : "abcdef";
    struct weft_config cfg = {.workers = 2};
    if (weft_init(&cfg))
        return 1;
    devnull = fopen("/dev/null", "w");
    printf("timeout %lld ms, %d reps, 2 workers; ms: median min max; verdicts\n",
           (long long)(timeout_ns / WEFT_MS), reps);
    for (const char *k = cases; *k; k++) {
        double *v = calloc(reps, sizeof *v);
        size_t nmin = (size_t)-1, nmax = 0;
        for (int i = 0; i < reps; i++) {
            size_t n;
            v[i] = one(*k, &n);
            if (n < nmin) nmin = n;
            if (n > nmax) nmax = n;
        }
        qsort(v, reps, sizeof *v, cmpd);
        double med = reps % 2 ? v[reps / 2] : (v[reps / 2 - 1] + v[reps / 2]) / 2;
        printf("case %c: median %8.3f  min %8.3f  max %8.3f ms   leaked=%zu..%zu\n", *k, med, v[0],
               v[reps - 1], nmin, nmax);
        fflush(stdout);
        free(v);
    }
    fclose(devnull);
    return weft_shutdown();
}
