/*
 * blocking.c — weft_blocking: run a blocking function on a helper thread
 * while the calling task parks, so the worker stays free.
 *
 * A bounded pool (env WEFT_BLOCKING_THREADS, default 64) of plain threads,
 * started on demand; a thread idle for 10 s exits.  Calls beyond the bound
 * queue in FIFO order.  The job record lives on the parked task's stack:
 * the task queues it under the pool mutex and parks with that mutex
 * released after its switch, so a pool thread can only take the job once
 * the task is off its stack; the thread reads what it needs, runs fn, and
 * readies the task as its last touch of the job.
 *
 * Leak and deadlock verdicts: a pool thread waiting for work is one of
 * weft's own (known) threads; while it runs user code it is not, and the
 * job counts in weft__blocking_inflight, so nothing is declared stuck
 * while a blocking function may still come back and wake something.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "netpoll.h"

struct job {
    struct job *next;
    void (*fn)(void *);
    void *arg;
    weft__task *task;
};

enum { POOL_DEFAULT = 64, POOL_MAX = 4096 };
#define POOL_IDLE_NS (10 * WEFT_SEC)

/* A weft__lock, not a pthread mutex: the parking task takes it and the
 * next context on its worker releases it (after the switch), which a
 * mutex with an owner would not allow. */
static struct {
    weft__lock lock;
    weft__aint seq; /* futex word idle threads sleep on; bumped per new job */
    struct job *head, *tail;
    int threads, idle, max;
    int wakes; /* idle threads woken for a job and not yet back under the lock */
} pool = {.lock = WEFT__LOCK_INIT};

static int pool_max(void)
{
    const char *s = getenv("WEFT_BLOCKING_THREADS");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == 0 && v > 0 && v <= POOL_MAX)
            return (int)v;
    }
    return POOL_DEFAULT;
}

static void *pool_main(void *unused)
{
    (void)unused;
    weft__thread_known_push(); /* waiting for work: it wakes nobody */
    weft__lock_acquire(&pool.lock);
    int64_t idle_until = weft_now() + POOL_IDLE_NS;
    for (;;) {
        struct job *j = pool.head;
        if (!j) {
            if (weft_now() >= idle_until)
                break;
            unsigned seq = weft__iload_acq(&pool.seq);
            pool.idle++;
            weft__lock_release(&pool.lock);
            /* A job queued after the read above bumped seq: no sleep. */
            weft__futex_wait(&pool.seq, seq, idle_until);
            weft__lock_acquire(&pool.lock);
            pool.idle--;
            if (pool.wakes > 0)
                pool.wakes--; /* whichever thread wakes takes one */
            continue;
        }
        pool.head = j->next;
        if (!pool.head)
            pool.tail = NULL;
        weft__lock_release(&pool.lock);
        void (*fn)(void *) = j->fn;
        void *arg = j->arg;
        weft__task *t = j->task;
        weft__thread_known_pop(); /* user code: it may wake anything */
        fn(arg);
        weft__thread_known_push();
        weft__ready(t); /* the last touch of the job: it lives on t's stack */
        weft__fetch_add_full(&weft__blocking_inflight, (AO_t)-1);
        weft__lock_acquire(&pool.lock);
        idle_until = weft_now() + POOL_IDLE_NS;
    }
    pool.threads--;
    weft__lock_release(&pool.lock);
    weft__thread_known_pop();
    return NULL;
}

/* Under pool.lock: a thread for a newly queued job, if none is idle. */
static int pool_grow(void)
{
    if (pool.idle > pool.wakes) { /* an idle thread nobody has woken yet */
        pool.wakes++;
        weft__ifetch_add_full(&pool.seq, 1);
        weft__futex_wake(&pool.seq, 1);
        return 0;
    }
    if (pool.threads >= pool.max)
        return 0; /* queued: the next thread to finish takes it */
    pthread_t th;
    /* Signals stay with the application's threads, as for workers. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = weft__thread_create(&th, pool_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r == 0) {
        pthread_detach(th);
        pool.threads++;
    }
    return pool.threads > 0 ? 0 : r;
}

static void pool_unlock(void *unused)
{
    (void)unused;
    weft__lock_release(&pool.lock);
}

int weft_blocking(void (*fn)(void *), void *arg)
{
    if (!fn)
        return EINVAL;
    weft__worker *w = weft__cur_worker();
    weft__task *self = w ? *(weft__task **)w : NULL;
    if (!self) {
        /* A plain thread: blocking it is what it asked for.  errno as in a
         * task, where fn runs on another thread: the caller's stays. */
        int saved = errno;
        fn(arg);
        errno = saved;
        return 0;
    }
    struct job j = {NULL, fn, arg, self};
    weft__lock_acquire(&pool.lock);
    if (!pool.max)
        pool.max = pool_max();
    if (pool.tail)
        pool.tail->next = &j;
    else
        pool.head = &j;
    pool.tail = &j;
    int r = pool_grow();
    if (r) {
        /* No thread at all: take the job back (nobody else saw it). */
        pool.head = pool.tail = NULL;
        weft__lock_release(&pool.lock);
        return r;
    }
    weft__fetch_add_full(&weft__blocking_inflight, 1);
    weft__set_wait_pc(self, WEFT__CALLER());
    weft__park_ex(WEFT__WAIT_BLOCKING, (const void *)(uintptr_t)fn, pool_unlock, NULL, WEFT_FOREVER);
    return 0;
}
