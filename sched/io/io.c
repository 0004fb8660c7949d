/*
 * io.c — the public I/O calls: read, write, accept, connect and waits that
 * park the calling task (or block a plain thread) instead of the worker.
 *
 * Each call tries the operation first on the non-blocking descriptor and
 * waits on the poller (sched/netpoll.c) only when it would block, then
 * tries again: readiness is edge-triggered and may be spurious.  These
 * calls can park, so a task may come back on another worker thread: errno
 * is read through weft__errno_get (never through an address the compiler
 * could keep from before the park), results are returned, and the
 * caller's errno is put back as it was.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netpoll.h"

/* Fairness.  A connection whose peer keeps up never makes its task park:
 * each read finds data (or an edge that came meanwhile), and the task
 * would keep its worker while a thousand other connections wait — Go
 * preempts such a goroutine after 10 ms; weft's tasks are cooperative.
 * So a task that completes IO_STREAK calls in a row without parking yields
 * to the global queue's tail: behind the tasks the poller readied, which
 * wait there, not behind its worker's own queue (there a few hot
 * connections took turns while the polled ones got one turn in 61
 * schedules: p50 190 µs beside a p99 of 156 ms, some connections never
 * served, at 1 000 connections on 1 worker).  Seen with the echo
 * benchmark, 100 connections, 1 worker: without it one connection made
 * 1 000 round trips while another made 71 in the same half second, a p50
 * of 39 µs beside a p99 of 48 ms.  8 bounds a task's turn to a few
 * round trips; 1 to 8 measured alike within this machine's noise. */
enum { IO_STREAK = 8 };

static inline void io_turn(void)
{
    weft__worker *w = weft__cur_worker();
    weft__task *t = w ? *(weft__task **)w : NULL;
    if (t && ++t->io_streak >= IO_STREAK) {
        t->io_streak = 0;
        weft__yield_global();
    }
}

static int check_ctx(weft_ctx *ctx)
{
    if (!ctx)
        return EINVAL;
    return weft_ctx_err(ctx);
}

/* The public wait: the descriptor goes non-blocking as with every other
 * call here (a user's read after a spurious edge must not block the
 * worker), and its present readiness counts, not only new edges. */
static int fd_wait_pub(int fd, int events, int64_t deadline, weft_ctx *ctx, const void *pc)
{
    if (fd < 0)
        return EBADF;
    if (events == 0 || (events & ~(WEFT_IN | WEFT_OUT)))
        return EINVAL;
    int saved = weft__errno_get();
    int r = weft__fd_prepare(fd);
    if (!r)
        r = weft__fd_wait(fd, events, deadline, ctx, pc, true);
    weft__errno_set(saved);
    return r;
}

int weft_fd_wait(int fd, int events, int64_t deadline)
{
    return fd_wait_pub(fd, events, deadline, NULL, WEFT__CALLER());
}

int weft_fd_wait_ctx(weft_ctx *ctx, int fd, int events)
{
    if (!ctx)
        return EINVAL;
    return fd_wait_pub(fd, events, WEFT_FOREVER, ctx, WEFT__CALLER());
}

/* An operation failed with e: 0 to try it again (interrupted, or the
 * descriptor became ready for events), else the errno value to return. */
static int retry_or_fail(int e, int fd, int events, int64_t deadline, weft_ctx *ctx,
                         const void *pc)
{
    if (e == EINTR)
        return 0;
    if (e != EAGAIN && e != EWOULDBLOCK)
        return e;
    return weft__fd_wait(fd, events, deadline, ctx, pc, false);
}

/* ---- read -------------------------------------------------------------------- */

static ssize_t do_read(int fd, void *buf, size_t n, int64_t deadline, weft_ctx *ctx,
                       const void *pc)
{
    if (fd < 0)
        return -EBADF;
    if (!buf && n)
        return -EINVAL;
    int saved = weft__errno_get();
    int e = weft__fd_prepare(fd);
    ssize_t r = -e;
    while (!e) {
        r = read(fd, buf, n);
        if (r >= 0) {
            io_turn();
            break;
        }
        e = retry_or_fail(weft__errno_get(), fd, WEFT_IN, deadline, ctx, pc);
        r = -e;
    }
    weft__errno_set(saved);
    return r;
}

ssize_t weft_read(int fd, void *buf, size_t n, int64_t deadline)
{
    return do_read(fd, buf, n, deadline, NULL, WEFT__CALLER());
}

ssize_t weft_read_ctx(weft_ctx *ctx, int fd, void *buf, size_t n)
{
    int e = check_ctx(ctx);
    if (e)
        return -e;
    return do_read(fd, buf, n, WEFT_FOREVER, ctx, WEFT__CALLER());
}

/* ---- write ------------------------------------------------------------------- */

/* One write: send(MSG_NOSIGNAL) on sockets (no SIGPIPE for a peer that
 * went away), write(2) on anything else. */
static ssize_t write_once(int fd, const void *p, size_t n)
{
    if (!weft__fd_not_socket(fd)) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r >= 0 || weft__errno_get() != ENOTSOCK)
            return r;
        weft__fd_set_not_socket(fd);
    }
    return write(fd, p, n);
}

static ssize_t do_write(int fd, const void *buf, size_t n, int64_t deadline, weft_ctx *ctx,
                        const void *pc)
{
    if (fd < 0)
        return -EBADF;
    if (!buf && n)
        return -EINVAL;
    if ((ssize_t)n < 0)
        return -EINVAL;
    int saved = weft__errno_get();
    int e = weft__fd_prepare(fd);
    size_t done = 0;
    while (!e) {
        ssize_t r = write_once(fd, (const char *)buf + done, n - done);
        if (r >= 0) {
            done += (size_t)r;
            if (done == n) {
                io_turn();
                break;
            }
            continue; /* a short write: the buffer filled up; try once more */
        }
        e = retry_or_fail(weft__errno_get(), fd, WEFT_OUT, deadline, ctx, pc);
    }
    weft__errno_set(saved);
    return e ? -e : (ssize_t)n;
}

ssize_t weft_write(int fd, const void *buf, size_t n, int64_t deadline)
{
    return do_write(fd, buf, n, deadline, NULL, WEFT__CALLER());
}

ssize_t weft_write_ctx(weft_ctx *ctx, int fd, const void *buf, size_t n)
{
    int e = check_ctx(ctx);
    if (e)
        return -e;
    return do_write(fd, buf, n, WEFT_FOREVER, ctx, WEFT__CALLER());
}

/* ---- accept ------------------------------------------------------------------- */

static int do_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline,
                     weft_ctx *ctx, const void *pc)
{
    if (fd < 0)
        return -EBADF;
    if (addr && !len)
        return -EINVAL;
    int saved = weft__errno_get();
    int e = weft__fd_prepare(fd);
    int r = -e;
    while (!e) {
        r = accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (r >= 0) {
            /* The number may have named a file weft waited on before. */
            weft__fd_fresh(r, true);
            io_turn();
            break;
        }
        e = weft__errno_get();
        /* A connection that died in the backlog is not the listener's
         * error (Go retries ECONNABORTED too). */
        e = e == ECONNABORTED ? 0 : retry_or_fail(e, fd, WEFT_IN, deadline, ctx, pc);
        r = -e;
    }
    weft__errno_set(saved);
    return r;
}

int weft_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline)
{
    return do_accept(fd, addr, len, deadline, NULL, WEFT__CALLER());
}

int weft_accept_ctx(weft_ctx *ctx, int fd, struct sockaddr *addr, socklen_t *len)
{
    int e = check_ctx(ctx);
    if (e)
        return -e;
    return do_accept(fd, addr, len, WEFT_FOREVER, ctx, WEFT__CALLER());
}

/* ---- connect ------------------------------------------------------------------- */

static int do_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline,
                      weft_ctx *ctx, const void *pc)
{
    if (fd < 0)
        return -EBADF;
    if (!addr)
        return -EINVAL;
    int saved = weft__errno_get();
    int e = weft__fd_prepare(fd);
    if (!e && connect(fd, addr, len) < 0) {
        e = weft__errno_get();
        /* EINTR: the connection goes on in the background, as EINPROGRESS. */
        if (e == EINPROGRESS || e == EINTR || e == EAGAIN) {
            for (;;) {
                e = weft__fd_wait(fd, WEFT_OUT, deadline, ctx, pc, false);
                if (e)
                    break;
                int err = 0;
                socklen_t l = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) {
                    e = weft__errno_get();
                    break;
                }
                if (err != 0 && err != EINPROGRESS && err != EALREADY && err != EINTR) {
                    e = err;
                    break;
                }
                /* SO_ERROR is 0 while still connecting too: a spurious
                 * edge is told from a made connection by the peer's name. */
                struct sockaddr_storage peer;
                socklen_t pl = sizeof peer;
                if (err == 0 && getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
                    break;
            }
        } else if (e == EISCONN) {
            e = 0;
        }
    }
    weft__errno_set(saved);
    return -e;
}

int weft_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline)
{
    return do_connect(fd, addr, len, deadline, NULL, WEFT__CALLER());
}

int weft_connect_ctx(weft_ctx *ctx, int fd, const struct sockaddr *addr, socklen_t len)
{
    int e = check_ctx(ctx);
    if (e)
        return -e;
    return do_connect(fd, addr, len, WEFT_FOREVER, ctx, WEFT__CALLER());
}
