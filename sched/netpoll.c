/*
 * netpoll.c — the poller: file descriptors that park tasks, not threads.
 *
 * One epoll instance for the process, created on first use and kept for
 * its lifetime (across weft_shutdown/weft_init), with every descriptor
 * registered once, edge-triggered for both directions (Go's netpoll).  Each
 * descriptor number has a poll descriptor (weft__pd) in a table indexed by
 * fd that never shrinks, so an event for a closed descriptor finds memory
 * that is still valid; the event carries the pd's sequence number, bumped
 * whenever weft_fd_close (or a fresh accept on the same number) retires the
 * old file, so a stale event is recognised and dropped (Go's pollDesc
 * fdseq).
 *
 * Readiness lives in the pd under its lock: waiters (records on their
 * stacks) in one list with the events each wants, and the edges that came
 * while nobody waited.  A waiter parks with the pd lock released after its
 * switch (the after-switch unlock of sched/park.c), so whoever finds it in
 * the list under the lock finds it parked; the waker must also win
 * weft__claim(), since a deadline timer or a context may wake it first.
 *
 * Lock order: context lock → pd lock → timer heap lock (park_until) → the
 * scheduler's locks.  epoll_ctl runs under a pd lock (once per descriptor).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ctx/ctx.h"
#include "netpoll.h"
#include "worker.h"

weft__aword weft__io_waiters;
weft__aword weft__blocking_inflight;
weft__aword weft__netpoll_owner;
weft__aword weft__netpoll_last;

/* ---- poll descriptors ------------------------------------------------------ */

struct pd_waiter {
    struct pd_waiter *next, *prev;
    weft__task *task;
    int events;   /* WEFT_IN | WEFT_OUT it waits for */
    int result;   /* set by the waker that won the claim: 0 or EBADF */
    bool queued;  /* linked in the pd's list (under its lock) */
};

enum { HINT_NONBLOCK = 1u, HINT_NOTSOCK = 2u };

typedef struct weft__pd {
    weft__lock lock;
    uint32_t seq;             /* the file's generation under this number */
    bool registered;          /* in the epoll set for this seq */
    bool always_ready;        /* epoll refuses it (a regular file): never wait */
    unsigned char ready;      /* edges (WEFT_IN/OUT) that came while nobody waited */
    weft__aint hints;         /* HINT_*: read without the lock, written under it */
    struct pd_waiter *waiters;
} weft__pd;

/* fd → pd: a directory of chunks, allocated on first use and never freed
 * (events may name any number that was ever registered).  They come from
 * calloc, not the replaceable allocator: they outlive the runtime, and a
 * static pointer keeps them reachable for LeakSanitizer. */
enum { PD_CHUNK_SHIFT = 10, PD_CHUNK = 1 << PD_CHUNK_SHIFT, PD_DIR = 1 << 14 };
#define PD_MAX_FD ((long)PD_DIR * PD_CHUNK) /* 16 M descriptors */
static weft__aword pd_dir[PD_DIR];
static pthread_mutex_t pd_grow_mu = PTHREAD_MUTEX_INITIALIZER;

static weft__pd *pd_get(int fd)
{
    if (WEFT__UNLIKELY(fd < 0 || (long)fd >= PD_MAX_FD))
        return NULL;
    /* acquire: the chunk's zeroed contents were written before publication. */
    weft__pd *chunk = (weft__pd *)weft__load_acq(&pd_dir[fd >> PD_CHUNK_SHIFT]);
    return chunk ? &chunk[fd & (PD_CHUNK - 1)] : NULL;
}

/* The pd of fd, made if needed.  NULL: fd out of range (EBADF) or out of
 * memory (ENOMEM), said in *err. */
static weft__pd *pd_make(int fd, int *err)
{
    weft__pd *pd = pd_get(fd);
    if (WEFT__LIKELY(pd != NULL))
        return pd;
    if (fd < 0 || (long)fd >= PD_MAX_FD) {
        *err = EBADF;
        return NULL;
    }
    pthread_mutex_lock(&pd_grow_mu);
    weft__aword *slot = &pd_dir[fd >> PD_CHUNK_SHIFT];
    if (!weft__load_acq(slot)) {
        weft__pd *chunk = calloc(PD_CHUNK, sizeof *chunk); /* zero is a valid pd */
        if (chunk)
            weft__store_rel(slot, (AO_t)chunk);
    }
    pthread_mutex_unlock(&pd_grow_mu);
    pd = pd_get(fd);
    if (!pd)
        *err = ENOMEM;
    return pd;
}

static void waiter_link(weft__pd *pd, struct pd_waiter *w)
{
    w->prev = NULL;
    w->next = pd->waiters;
    if (pd->waiters)
        pd->waiters->prev = w;
    pd->waiters = w;
    w->queued = true;
}

static void waiter_unlink(weft__pd *pd, struct pd_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        pd->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->queued = false;
}

/* Tasks and threads a waker readies once it has dropped the pd lock. */
struct wakelist {
    weft__task *tasks, *tasks_tail;
    weft__task *threads;
    size_t ntasks;
};

static void wakelist_push(struct wakelist *l, weft__task *t)
{
    if (t->is_thread) {
        t->next = l->threads;
        l->threads = t;
        return;
    }
    /* release: the waiter's result is written before the task can run
     * (whoever dequeues it acquires through the queue). */
    weft__store_rel(&t->state, WEFT__TASK_RUNNABLE);
    t->next = NULL;
    if (l->tasks_tail)
        l->tasks_tail->next = t;
    else
        l->tasks = t;
    l->tasks_tail = t;
    l->ntasks++;
}

/* Wake the waiters of pd interested in ev with result; edges nobody took
 * are remembered (when remember).  Under pd->lock. */
static void pd_wake(weft__pd *pd, int ev, int result, bool remember, struct wakelist *l)
{
    int woke = 0;
    for (struct pd_waiter *w = pd->waiters, *nx; w; w = nx) {
        nx = w->next;
        if (!(w->events & ev))
            continue;
        waiter_unlink(pd, w);
        /* A deadline or a context may have won already: then the waiter
         * is running (or about to), finds itself unlinked and goes. */
        if (weft__claim(w->task)) {
            w->result = result;
            woke |= w->events & ev;
            wakelist_push(l, w->task);
        }
    }
    if (remember)
        pd->ready |= (unsigned char)(ev & ~woke);
}

/* The descriptor number now names another file (or none): forget the old
 * one and send its waiters away with EBADF.  Under pd->lock. */
static void pd_retire(weft__pd *pd, unsigned hints, struct wakelist *l)
{
    pd->seq++;
    pd->registered = false;
    pd->always_ready = false;
    pd->ready = 0;
    weft__istore_rel(&pd->hints, hints);
    pd_wake(pd, WEFT_IN | WEFT_OUT, EBADF, false, l);
}

/* ---- the epoll instance ------------------------------------------------------ */

#define BREAK_TAG UINT64_MAX /* the eventfd's event; no (seq, fd) pair has it */

static int epfd = -1, evfd = -1;
static weft__aword np_ready;
static weft__aword break_pending;
static pthread_mutex_t np_init_mu = PTHREAD_MUTEX_INITIALIZER;

static int netpoll_init_slow(void)
{
    pthread_mutex_lock(&np_init_mu);
    int r = 0;
    if (!weft__load_acq(&np_ready)) {
        int ep = -1, ev = -1;
        if (weft__fail_injected(WEFT_FAIL_POLL))
            r = ENOMEM;
        else if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
            r = errno;
        else if (weft__fail_injected(WEFT_FAIL_POLL))
            r = ENOMEM;
        else if ((ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
            r = errno;
        else {
            /* Level-triggered: a break written before the poller blocks
             * still makes its epoll_wait return. */
            struct epoll_event e = {.events = EPOLLIN, .data.u64 = BREAK_TAG};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0)
                r = errno;
        }
        if (r) {
            if (ev >= 0)
                close(ev);
            if (ep >= 0)
                close(ep);
        } else {
            epfd = ep;
            evfd = ev;
            /* release: the descriptors are set before anyone sees ready. */
            weft__store_rel(&np_ready, 1);
        }
    }
    pthread_mutex_unlock(&np_init_mu);
    return r;
}

static inline int netpoll_init(void)
{
    /* acquire: pairs with the release above. */
    return WEFT__LIKELY(weft__load_acq(&np_ready)) ? 0 : netpoll_init_slow();
}

/* Register pd's descriptor if it is not yet.  Under pd->lock. */
static int pd_register(weft__pd *pd, int fd)
{
    if (WEFT__LIKELY(pd->registered))
        return 0;
    if (weft__fail_injected(WEFT_FAIL_POLL))
        return ENOMEM;
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                            .data.u64 = (uint64_t)pd->seq << 32 | (uint32_t)fd};
    int r = 0;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
        r = errno;
        if (r == EEXIST) /* this very file, registered under an older seq */
            r = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e) < 0 ? errno : 0;
        else if (r == EPERM) { /* a regular file or directory: always ready */
            pd->always_ready = true;
            r = 0;
        }
    }
    if (!r)
        pd->registered = true;
    return r;
}

void weft__netpoll_break(void)
{
    if (!weft__load_acq(&np_ready))
        return;
    /* One write per poll: the poller clears the flag after draining. */
    if (weft__load_relaxed(&break_pending) || !weft__cas_full(&break_pending, 0, 1))
        return;
    uint64_t one = 1;
    ssize_t r;
    int saved = errno;
    do
        r = write(evfd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
    errno = saved;
}

static int epoll_wait_until(struct epoll_event *evs, int max, int64_t deadline)
{
    int64_t now = deadline == WEFT_FOREVER ? 0 : weft_now();
    if (deadline != WEFT_FOREVER && deadline <= now)
        return epoll_wait(epfd, evs, max, 0);
    if (deadline == WEFT_FOREVER)
        return epoll_wait(epfd, evs, max, -1);
    /* Nanosecond timeouts where the kernel has them (5.11+): a worker's
     * next timer must not be late by a millisecond of rounding. */
    static weft__aword no_pwait2;
    int64_t d = deadline - now;
    if (!weft__load_relaxed(&no_pwait2)) {
        struct timespec ts = {d / WEFT_SEC, d % WEFT_SEC};
        int n = epoll_pwait2(epfd, evs, max, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        weft__store_relaxed(&no_pwait2, 1); /* relaxed: a cache of a fact */
    }
    int64_t ms = (d + WEFT_MS - 1) / WEFT_MS;
    return epoll_wait(epfd, evs, max, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

enum { POLL_BATCH = 128 };

weft__task *weft__netpoll(int64_t deadline, size_t *n)
{
    *n = 0;
    if (!weft__load_acq(&np_ready))
        return NULL;
    struct epoll_event evs[POLL_BATCH];
    int saved = errno;
    int got = epoll_wait_until(evs, POLL_BATCH, deadline);
    errno = saved;
    /* relaxed: a rate-limit hint for other pollers. */
    weft__store_relaxed(&weft__netpoll_last, (AO_t)weft_now());
    struct wakelist l = {0};
    for (int i = 0; i < got; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag == BREAK_TAG) {
            uint64_t v;
            saved = errno;
            ssize_t r = read(evfd, &v, sizeof v);
            (void)r; /* EAGAIN: another poller drained it */
            errno = saved;
            /* After the drain: a break in between found the flag set and
             * wrote nothing, but this poll is returning anyway. */
            weft__store_full(&break_pending, 0);
            continue;
        }
        int fd = (int)(uint32_t)tag;
        weft__pd *pd = pd_get(fd);
        if (!pd)
            continue;
        uint32_t e = evs[i].events;
        int ev = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            ev |= WEFT_IN;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            ev |= WEFT_OUT;
        weft__lock_acquire(&pd->lock);
        if (pd->seq == (uint32_t)(tag >> 32)) /* else: an event of a retired file */
            pd_wake(pd, ev, 0, true, &l);
        weft__lock_release(&pd->lock);
    }
    for (weft__task *t = l.threads, *nx; t; t = nx) {
        nx = t->next; /* read before the thread can run and reuse its record */
        weft__ready_on(NULL, t);
    }
    *n = l.ntasks;
    return l.tasks;
}

void weft__netpoll_to_global(void)
{
    if (weft__load_relaxed(&weft__netpoll_owner))
        return; /* a blocked poller gets the events */
    size_t n;
    weft__task *list = weft__netpoll(0, &n);
    if (!list)
        return;
    weft__task *tail = list;
    while (tail->next)
        tail = tail->next;
    weft__gq_put_batch(list, tail, n);
    weft__wakep();
}

/* ---- waiting ------------------------------------------------------------------ */

struct wait_unlock {
    weft__pd *pd;
    weft__ctx_waiter *cw;
};

static void wait_unlock(void *p)
{
    /* Both read before the first release: once the pd lock is free a
     * waker may ready the task, which may return and reuse its stack (where
     * *u lives) before we touch it again.  The context's lock still holds
     * off a cancel until the second release; the waiter record itself
     * stays valid until the task runs, which needs one of the two wakers. */
    struct wait_unlock *u = p;
    weft__lock *pdl = &u->pd->lock;
    weft__ctx_waiter *cw = u->cw;
    weft__lock_release(pdl);
    if (cw)
        weft__ctx_wait_unlock(cw);
}

static void wake_list(struct wakelist *l)
{
    if (l->ntasks) {
        struct weft__readyq q;
        weft__readyq_init(&q, weft__cur_worker());
        for (weft__task *t = l->tasks, *nx; t; t = nx) {
            nx = t->next;
            weft__readyq_add(&q, t);
        }
        weft__readyq_flush(&q);
    }
    for (weft__task *t = l->threads, *nx; t; t = nx) {
        nx = t->next;
        weft__ready_on(NULL, t);
    }
}

/* The descriptor's readiness right now (level, not edge): 0 if ready for
 * one of events, EAGAIN if not, EBADF if it is not open. */
static int ready_now(int fd, int events)
{
    struct pollfd p = {.fd = fd, .events = (short)(((events & WEFT_IN) ? POLLIN | POLLRDHUP : 0) |
                                                   ((events & WEFT_OUT) ? POLLOUT : 0))};
    int saved = errno;
    int n = poll(&p, 1, 0);
    errno = saved;
    if (n <= 0)
        return EAGAIN; /* EINTR or ENOMEM: let the poller answer */
    if (p.revents & POLLNVAL)
        return EBADF;
    return 0; /* ready, or HUP/ERR: the next operation will say */
}

int weft__fd_wait(int fd, int events, int64_t deadline, weft_ctx *ctx, const void *pc,
                  bool level)
{
    if (fd < 0)
        return EBADF;
    if (events == 0 || (events & ~(WEFT_IN | WEFT_OUT)))
        return EINVAL;
    int r = weft__ensure_init();
    if (r)
        return r;
    if ((r = netpoll_init()))
        return r;
    weft__pd *pd = pd_make(fd, &r);
    if (!pd)
        return r;
    weft__task *self = weft__current();
    if (WEFT__UNLIKELY(!self))
        return ENOMEM;
    /* t->wake must be NONE before any waker can find us. */
    weft__store_full(&self->wake, WEFT__WAKE_NONE);
    weft__ctx_waiter cw;
    bool with_ctx = false;
    if (ctx) {
        if ((r = weft__ctx_wait_begin(ctx, &cw, self)))
            return r; /* already done */
        with_ctx = cw.locked;
    }
    weft__lock_acquire(&pd->lock);
    r = pd_register(pd, fd);
    bool park = false;
    if (!r) {
        if (pd->always_ready || (pd->ready & events)) {
            pd->ready &= (unsigned char)~events; /* this waiter takes the edge */
        } else if (level && (r = ready_now(fd, events)) != EAGAIN) {
            /* Ready now (or not open), edge or no edge.  Under the lock: an
             * edge after the look finds us linked below, or sets ready. */
        } else if (deadline <= weft_now()) {
            r = ETIMEDOUT;
        } else {
            r = 0;
            park = true;
        }
    }
    if (!park) {
        weft__lock_release(&pd->lock);
        if (with_ctx) {
            weft__ctx_wait_drop(&cw);
            weft__ctx_wait_unlock(&cw);
        }
        return r;
    }
    struct pd_waiter me = {.task = self, .events = events};
    waiter_link(pd, &me);
    /* full: counted before anyone can look for a poller, and before a
     * worker deciding between epoll and its futex reads the count. */
    weft__fetch_add_full(&weft__io_waiters, 1);
    /* A task's own worker goes on to poll once it has nothing else; a
     * plain thread has no worker: make sure one is awake to poll. */
    if (self->is_thread && !weft__load_full(&weft__netpoll_owner))
        weft__wakep();
    struct wait_unlock u = {pd, with_ctx ? &cw : NULL};
    weft__set_wait_pc(self, pc);
    int how = weft__park_ex(WEFT__WAIT_IO, (const void *)(((uintptr_t)fd << 2) | (unsigned)events),
                            wait_unlock, &u, deadline);
    self->io_streak = 0; /* it gave others their turn (sched/io/io.c) */
    if (with_ctx)
        weft__ctx_wait_end(&cw);
    weft__lock_acquire(&pd->lock);
    if (me.queued)
        waiter_unlink(pd, &me);
    weft__lock_release(&pd->lock);
    weft__fetch_add_full(&weft__io_waiters, (AO_t)-1);
    if (with_ctx && cw.fired)
        return cw.err;
    if (how == WEFT__WAKE_TIMEOUT)
        return ETIMEDOUT;
    return me.result;
}

/* ---- descriptor life cycle ------------------------------------------------------ */

int weft__fd_prepare(int fd)
{
    int r = 0;
    weft__pd *pd = pd_make(fd, &r);
    if (!pd)
        return r;
    /* relaxed: a cache; a stale miss costs one more fcntl. */
    if (WEFT__LIKELY(weft__iload_relaxed(&pd->hints) & HINT_NONBLOCK))
        return 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return errno;
    weft__lock_acquire(&pd->lock);
    weft__istore_rel(&pd->hints, weft__iload_relaxed(&pd->hints) | HINT_NONBLOCK);
    weft__lock_release(&pd->lock);
    return 0;
}

bool weft__fd_not_socket(int fd)
{
    weft__pd *pd = pd_get(fd);
    return pd && (weft__iload_relaxed(&pd->hints) & HINT_NOTSOCK);
}

void weft__fd_set_not_socket(int fd)
{
    weft__pd *pd = pd_get(fd);
    if (!pd)
        return;
    weft__lock_acquire(&pd->lock);
    weft__istore_rel(&pd->hints, weft__iload_relaxed(&pd->hints) | HINT_NOTSOCK);
    weft__lock_release(&pd->lock);
}

void weft__fd_fresh(int fd, bool nonblocking)
{
    int err;
    weft__pd *pd = pd_make(fd, &err);
    if (!pd)
        return;
    struct wakelist l = {0};
    weft__lock_acquire(&pd->lock);
    pd_retire(pd, nonblocking ? HINT_NONBLOCK : 0, &l);
    weft__lock_release(&pd->lock);
    wake_list(&l);
}

int weft_fd_close(int fd)
{
    if (fd < 0)
        return EBADF;
    int saved = weft__errno_get();
    weft__pd *pd = pd_get(fd);
    struct wakelist l = {0};
    int r = 0;
    if (pd) {
        /* Held across close(2): a wait on the number that close frees for
         * reuse must find the pd retired, not half-way. */
        weft__lock_acquire(&pd->lock);
        if (pd->registered && !pd->always_ready)
            epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); /* before close: after it the number may be another file's */
        pd_retire(pd, 0, &l);
    }
    if (close(fd) < 0) {
        r = weft__errno_get();
        if (r == EINTR)
            r = 0; /* Linux closed it anyway */
    }
    if (pd)
        weft__lock_release(&pd->lock);
    wake_list(&l);
    weft__errno_set(saved);
    return r;
}
