/*
 * netpoll.h — the poller: one epoll instance that readies tasks parked on
 * file descriptors (sched/ only; the public calls are in sched/io/).
 *
 * Who polls (Go's netpoll discipline):
 *  - an idle worker blocks in epoll_wait until its next timer instead of
 *    sleeping on its futex, while any task or thread waits on I/O; one
 *    worker at a time (weft__netpoll_owner); weft__worker_wake breaks it
 *    out through an eventfd;
 *  - a worker whose queues ran dry polls without blocking before it steals,
 *    and a busy worker polls every so often between tasks;
 *  - the monitor polls if nobody has for 10 ms.
 * A poll returns the readied tasks as a chain (through t->next, state
 * RUNNABLE) for the caller to queue; plain threads are woken inside.
 */
#ifndef WEFT_SCHED_NETPOLL_H
#define WEFT_SCHED_NETPOLL_H

#include "internal.h"

/* Tasks and plain threads parked in weft_fd_wait* right now.  A parked I/O
 * waiter can be woken by the world outside the process: while there is one,
 * no deadlock or leak verdict is given. */
extern weft__aword weft__io_waiters;
/* weft_blocking calls in flight (their functions may ready anything). */
extern weft__aword weft__blocking_inflight;
/* 1 while a worker is blocked in epoll_wait. */
extern weft__aword weft__netpoll_owner;
/* weft_now() of the last poll (any kind), for rate limits. */
extern weft__aword weft__netpoll_last;

/* Anything for a poller to do? */
static inline bool weft__netpoll_wanted(void)
{
    /* relaxed: a hint; the Dekker pairs that matter are in worker.c and
     * weft__fd_wait (a waiter counts itself with a full barrier, then
     * checks for a blocked poller). */
    return weft__load_relaxed(&weft__io_waiters) != 0;
}

/* Poll once: wait for events until deadline (<= now: do not block; the
 * caller owns weft__netpoll_owner when it blocks).  Returns the chain of
 * readied tasks and their number in *n. */
weft__task *weft__netpoll(int64_t deadline, size_t *n);
/* Poll without blocking (unless a poller is blocked already) and queue
 * what it readied at the global queue's tail, behind every task already
 * waiting, waking a worker for it: for busy workers and the monitor. */
void weft__netpoll_to_global(void);
/* Make a blocked poller return now (cheap when one is already coming). */
void weft__netpoll_break(void);

/* The wait behind every public I/O call: 0 | ETIMEDOUT | ECANCELED |
 * EBADF | EINVAL | ENOMEM | an epoll_ctl errno.  ctx may be NULL. */
/* level: the caller has not just seen EAGAIN from the operation, so the
 * descriptor's present readiness is looked at too (a poll(2)); the
 * operations' own waits pass false and rely on edges alone. */
int weft__fd_wait(int fd, int events, int64_t deadline, weft_ctx *ctx, const void *pc,
                  bool level);
/* The descriptor is about to be used by weft's I/O calls: make it
 * non-blocking once.  0 or an errno value (EBADF). */
int weft__fd_prepare(int fd);
/* A fresh descriptor from accept4/socket: whatever weft remembered about
 * an earlier file with the same number is forgotten. */
void weft__fd_fresh(int fd, bool nonblocking);
/* Is fd known not to be a socket (send(2) answered ENOTSOCK)? */
bool weft__fd_not_socket(int fd);
void weft__fd_set_not_socket(int fd);

/* Failure injection (sched/alloc.c): true if this call at site must fail. */
bool weft__fail_injected(enum weft_fail_site site);

#endif
