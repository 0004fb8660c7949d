/*
 * weft.h — the one public header of weft, a Go-style CSP runtime for C.
 *
 * Green tasks on an M:N scheduler, channels, select, timers, contexts,
 * WaitGroup / Mutex / Once / errgroup, and leak diagnostics.
 *
 * Conventions (see docs/API.md for the full contract):
 *  - Functions that can fail return 0 or an errno value (the pthread
 *    convention); errno itself is not touched.  Constructors return NULL and
 *    set errno.
 *  - Time is int64_t nanoseconds.  Durations are relative; deadlines are
 *    absolute on weft_now()'s monotonic clock.  WEFT_FOREVER never expires;
 *    any deadline <= weft_now() means "do not wait".
 *  - Every blocking call works inside a task (parks the task, not the worker
 *    thread) and on a plain OS thread (blocks that thread without spinning).
 */
#ifndef WEFT_H
#define WEFT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/*  Time                                                                  */
/* ===================================================================== */

#define WEFT_FOREVER INT64_MAX
#define WEFT_NS ((int64_t)1)
#define WEFT_US ((int64_t)1000)
#define WEFT_MS ((int64_t)1000000)
#define WEFT_SEC ((int64_t)1000000000)

/* Monotonic clock (CLOCK_MONOTONIC) in nanoseconds. */
int64_t weft_now(void);

/* now + duration, saturating at WEFT_FOREVER (a negative duration gives a
 * deadline in the past). */
int64_t weft_deadline(int64_t duration);

/* ===================================================================== */
/*  Runtime                                                               */
/* ===================================================================== */

struct weft_config {
    int workers;       /* worker threads; 0: CPUs usable (env WEFT_PROCS overrides) */
    size_t stack_size; /* default task stack; 0: 64 KiB (env WEFT_STACK_SIZE) */
    bool pin_workers;  /* pin each worker to one CPU (hwloc) */
};

/* Start the runtime.  cfg may be NULL; zero fields take defaults.
 * Returns 0, EBUSY if already running, EINVAL for negative fields, ENOMEM or
 * EAGAIN if threads or memory could not be had.  Any other API used before
 * weft_init starts the runtime with defaults. */
int weft_init(const struct weft_config *cfg);

/* Stop the runtime.  Waits briefly for live tasks; never hangs and never
 * frees memory under a live task.  Returns the number of tasks still alive
 * (reported with a task dump on stderr), 0 when clean.  The runtime can be
 * initialised again afterwards.  From inside a task it returns EDEADLK.
 * Timers and timeout contexts still queued are dropped (never fire); they
 * may still be stopped, canceled and released afterwards. */
int weft_shutdown(void);

/* Start the runtime (if needed), run main_fn(arg) as a task, wait for it,
 * shut down and return main_fn's result.  Returns EDEADLK if every task
 * became blocked with nothing able to wake them (after reporting it). */
int weft_run(int (*main_fn)(void *), void *arg);

/* ===================================================================== */
/*  Tasks                                                                 */
/* ===================================================================== */

typedef void (*weft_fn)(void *arg);

struct weft_task_opts {
    const char *name;  /* shown in dumps; not copied, must outlive the task */
    size_t stack_size; /* 0: the runtime default */
};

/* Spawn a task running fn(arg) (Go's `go fn(arg)`).  Callable from any
 * thread.  Returns 0, ENOMEM, or EINVAL if fn is NULL. */
int weft_go(weft_fn fn, void *arg);
/* As weft_go, but copies size bytes at arg into the task; fn receives a
 * pointer to the copy, which lives as long as the task. */
int weft_go_copy(weft_fn fn, const void *arg, size_t size);
/* As weft_go with a name and stack size (o may be NULL). */
int weft_go_opts(const struct weft_task_opts *o, weft_fn fn, void *arg);

/* Call-site recording variants: the macros below pass __FILE__/__LINE__. */
int weft_go_at(weft_fn fn, void *arg, const char *fn_name, const char *file, int line,
               const char *func);
int weft_go_copy_at(weft_fn fn, const void *arg, size_t size, const char *fn_name,
                    const char *file, int line, const char *func);
int weft_go_opts_at(const struct weft_task_opts *o, weft_fn fn, void *arg, const char *fn_name,
                    const char *file, int line, const char *func);
#define weft_go(fn, arg) weft_go_at((fn), (arg), #fn, __FILE__, __LINE__, __func__)
#define weft_go_copy(fn, arg, size) \
    weft_go_copy_at((fn), (arg), (size), #fn, __FILE__, __LINE__, __func__)
#define weft_go_opts(o, fn, arg) weft_go_opts_at((o), (fn), (arg), #fn, __FILE__, __LINE__, __func__)

/* Let other runnable tasks run.  On a plain thread: sched_yield(). */
void weft_yield(void);
/* Sleep for duration ns (<= 0 returns at once).  Returns 0. */
int weft_sleep(int64_t duration);
/* Current task id (> 0), or 0 on a thread that is not a task. */
uint64_t weft_self(void);
/* Live tasks: spawned and not yet returned (runtime.NumGoroutine minus the
 * weft_run main task and internal tasks). */
size_t weft_num_tasks(void);

/* ===================================================================== */
/*  Channels                                                              */
/* ===================================================================== */

typedef struct weft_chan weft_chan;
struct weft_ctx;

/* Make a channel of elements of elem_size bytes (0: signal-only) with
 * capacity cap (0: unbuffered).  Returns one reference, or NULL with errno
 * ENOMEM or EINVAL (size overflow). */
weft_chan *weft_chan_make(size_t elem_size, size_t cap);
weft_chan *weft_chan_make_at(size_t elem_size, size_t cap, const char *file, int line);
#define weft_chan_make(es, cap) weft_chan_make_at((es), (cap), __FILE__, __LINE__)

/* Add a reference; returns c (NULL passes through). */
weft_chan *weft_chan_retain(weft_chan *c);
/* Drop a reference.  The last one frees the channel once no task is blocked
 * on it; tasks still blocked then can never be woken and are reported as
 * certainly leaked. */
void weft_chan_release(weft_chan *c);

/* Send *elem (blocks until a receiver takes it or buffer space frees).
 * 0 | EPIPE (closed) | EINVAL (c NULL, or elem NULL with elem_size > 0). */
int weft_chan_send(weft_chan *c, const void *elem);
/* Receive into *out (out may be NULL to discard).  0 | EPIPE (closed and
 * drained; *out zeroed) | EINVAL. */
int weft_chan_recv(weft_chan *c, void *out);
/* Non-blocking variants: 0 | EAGAIN (would block) | EPIPE | EINVAL. */
int weft_chan_try_send(weft_chan *c, const void *elem);
int weft_chan_try_recv(weft_chan *c, void *out);
/* Blocking variants that give up when ctx is done: + ECANCELED | ETIMEDOUT.
 * ctx NULL means no context. */
int weft_chan_send_ctx(weft_chan *c, const void *elem, struct weft_ctx *ctx);
int weft_chan_recv_ctx(weft_chan *c, void *out, struct weft_ctx *ctx);
/* Close: wakes every blocked receiver and sender.  0 | EPIPE (already
 * closed) | EINVAL. */
int weft_chan_close(weft_chan *c);
/* Buffered elements / capacity (0 for NULL). */
size_t weft_chan_len(const weft_chan *c);
size_t weft_chan_cap(const weft_chan *c);

/* ===================================================================== */
/*  Select                                                                */
/* ===================================================================== */

enum weft_dir { WEFT_SEND = 1, WEFT_RECV = 2 };

typedef struct weft_case {
    weft_chan *chan;   /* NULL: never ready */
    enum weft_dir dir;
    void *val;         /* SEND: element to send; RECV: where to store (may be NULL) */
    bool ok;           /* out: true if a value moved, false if the channel was closed */
} weft_case;

#define WEFT_CASE_SEND(ch, ptr) ((weft_case){.chan = (ch), .dir = WEFT_SEND, .val = (void *)(ptr)})
#define WEFT_CASE_RECV(ch, ptr) ((weft_case){.chan = (ch), .dir = WEFT_RECV, .val = (void *)(ptr)})

/* Wait until one case can proceed, perform it and return its index (>= 0).
 * Among several ready cases one is chosen uniformly at random; a select
 * that parks queues on its channels in random order too.  Otherwise it
 * returns a negative errno value and leaves errno alone:
 *   -ETIMEDOUT  the deadline passed first (deadline <= now is Go's `default:`)
 *   -EINVAL     cases NULL with n > 0, n > 65535, a bad dir, or a SEND case
 *               with val NULL on a channel with elements
 *   -ENOMEM     a select of more than 8 cases could not allocate, or a plain
 *               thread's wait record could not be made
 * A caller may resume on another worker thread, where the errno its code
 * reads can be another thread's (glibc's __errno_location is const, so a
 * compiler may keep the first thread's errno address across the call):
 * that is why nothing that can park reports through errno.
 * n == 0 with WEFT_FOREVER blocks forever (`select {}`). */
int weft_select(weft_case *cases, size_t n, int64_t deadline);

/* ===================================================================== */
/*  Timers                                                                */
/* ===================================================================== */

typedef struct weft_timer weft_timer;

/* One-shot timer (Go time.NewTimer): after duration its channel (cap 1)
 * receives one int64_t, weft_now() at firing.  NULL + errno on failure. */
weft_timer *weft_timer_make(int64_t duration);
/* Ticker (Go time.NewTicker): a tick every period (> 0, else EINVAL);
 * ticks are dropped for a slow receiver. */
weft_timer *weft_ticker_make(int64_t period);
/* The timer's channel (owned by the timer; retain it to keep it past stop). */
weft_chan *weft_timer_chan(weft_timer *t);
/* Re-arm: a timer fires after duration, a ticker gets period = duration
 * (> 0).  0 | EINVAL. */
int weft_timer_reset(weft_timer *t, int64_t duration);
/* Stop and free.  Nothing arrives on the channel after this returns. */
void weft_timer_stop(weft_timer *t);

/* ===================================================================== */
/*  Contexts                                                              */
/* ===================================================================== */

typedef struct weft_ctx weft_ctx;

/* The root context: never done; retain/release are no-ops. */
weft_ctx *weft_ctx_background(void);
/* Derived contexts: each returns one reference, or NULL with errno EINVAL
 * (parent NULL; key NULL for with_value) or ENOMEM.  Children of a done
 * parent are born done with its error.  A deadline later than the parent's
 * reports the parent's; one <= weft_now() is born done with ETIMEDOUT.
 * Creating or canceling contexts spawns no task. */
weft_ctx *weft_ctx_with_cancel(weft_ctx *parent);
weft_ctx *weft_ctx_with_deadline(weft_ctx *parent, int64_t deadline);
weft_ctx *weft_ctx_with_timeout(weft_ctx *parent, int64_t duration);
weft_ctx *weft_ctx_with_value(weft_ctx *parent, const void *key, void *val);
/* The value bound to key by ctx or its nearest ancestor, or NULL. */
void *weft_ctx_value(weft_ctx *ctx, const void *key);
/* Cancel ctx and every descendant (synchronously: done closed and err set
 * everywhere when it returns) with ECANCELED.  Idempotent; a context that
 * is already done keeps its error.  A no-op on the background context and
 * on value contexts, which are not cancelable. */
void weft_ctx_cancel(weft_ctx *ctx);
/* A channel (elem_size 0) closed once ctx is done: made on first use, the
 * same one every time, owned by the context (valid while the caller holds
 * a reference).  NULL if ctx can never be done. */
weft_chan *weft_ctx_done(weft_ctx *ctx);
/* 0 | ECANCELED | ETIMEDOUT (EINVAL for NULL). */
int weft_ctx_err(weft_ctx *ctx);
/* The effective deadline, WEFT_FOREVER if none. */
int64_t weft_ctx_deadline(weft_ctx *ctx);
/* Run fn(arg) in a new task once ctx is done (at once if it already is),
 * once per registration.  A context that can never be done never runs it.
 * 0 | EINVAL | ENOMEM.  The macro records the call site as the task's spawn
 * site (for dumps and leak reports). */
int weft_ctx_after_func(weft_ctx *ctx, weft_fn fn, void *arg);
int weft_ctx_after_func_at(weft_ctx *ctx, weft_fn fn, void *arg, const char *fn_name,
                           const char *file, int line, const char *func);
#define weft_ctx_after_func(ctx, fn, arg) \
    weft_ctx_after_func_at((ctx), (fn), (arg), #fn, __FILE__, __LINE__, __func__)
weft_ctx *weft_ctx_retain(weft_ctx *ctx);
/* Drop a reference; the last one cancels a cancelable context that is not
 * yet done and detaches it from its parent at once; its memory goes when no
 * child still needs it.  Releasing more often than referenced aborts with a
 * message (as does retaining a released context). */
void weft_ctx_release(weft_ctx *ctx);
/* Sleep for duration or until ctx is done: 0 | ECANCELED | ETIMEDOUT.
 * ctx NULL: weft_sleep.  duration <= 0: the context's error now. */
int weft_sleep_ctx(weft_ctx *ctx, int64_t duration);

/* ===================================================================== */
/*  Sync: WaitGroup, Mutex, Once, errgroup                                */
/* ===================================================================== */

/* Internal fields (leading underscore) are private to weft.  An all-zero
 * object is a valid initial state for every type below. */
typedef struct weft_wg {
    size_t _state;     /* counter << 1 | has-waiters (atomic) */
    unsigned _lock;    /* guards _waiters */
    void *_waiters;
} weft_wg;
#define WEFT_WG_INIT {0, 0, NULL}

/* Add delta (may be negative).  EINVAL if the counter would go negative. */
int weft_wg_add(weft_wg *wg, int64_t delta);
/* weft_wg_add(wg, -1). */
int weft_wg_done(weft_wg *wg);
/* Block until the counter is zero.  0 | EINVAL. */
int weft_wg_wait(weft_wg *wg);
/* As weft_wg_wait, giving up when ctx is done: + ECANCELED | ETIMEDOUT. */
int weft_wg_wait_ctx(weft_wg *wg, weft_ctx *ctx);

typedef struct weft_mutex {
    unsigned _lock;    /* guards the waiter queue */
    unsigned _state;   /* 0 unlocked, 1 locked, more: waiters (atomic; sched/sync/mutex.c) */
    void *_head;       /* FIFO of parked lockers */
    void *_tail;
} weft_mutex;
#define WEFT_MUTEX_INIT {0, 0, NULL, NULL}

/* Lock; parks the task (not the worker) under contention.  Waiters get
 * the mutex in FIFO order; a running locker may take it ahead of the
 * first waiter (as in Go's normal mode), but at most 256 times, and not
 * once that waiter has waited 1 ms and lost again: then it is handed to
 * the waiter (weft does not preempt, so a waiter that cannot run could
 * not apply Go's 1 ms alone: the count bounds that case). */
int weft_mutex_lock(weft_mutex *m);
/* 0 | EBUSY if held. */
int weft_mutex_trylock(weft_mutex *m);
/* 0 | EPERM if not locked. */
int weft_mutex_unlock(weft_mutex *m);

typedef struct weft_once {
    size_t _done;      /* 1 once fn returned (atomic) */
    size_t _runner;    /* the task running fn, for EDEADLK (atomic) */
    weft_mutex _mu;
} weft_once;
#define WEFT_ONCE_INIT {0, 0, WEFT_MUTEX_INIT}

/* Run fn(arg) exactly once per weft_once; concurrent callers wait until it
 * returned.  0 | EINVAL (o or fn NULL) | EDEADLK (called again from inside
 * fn by the same task, which Go would deadlock on). */
int weft_once_do(weft_once *o, weft_fn fn, void *arg);

typedef int (*weft_group_fn)(weft_ctx *ctx, void *arg);
typedef struct weft_group {
    weft_ctx *_ctx;    /* the group's context (NULL: zero-value group) */
    weft_wg _wg;       /* tasks of the group not yet returned */
    size_t _err;       /* first non-zero result (atomic) */
    int _limit;        /* 0: no limit */
    unsigned _state;   /* 0 zero value, 1 initialised, 2 waited (atomic) */
    weft_chan *_sem;   /* capacity _limit: one slot per running task */
} weft_group;
#define WEFT_GROUP_INIT {NULL, WEFT_WG_INIT, 0, 0, 0, NULL}

/* Init an errgroup whose tasks get a child of parent that is canceled by
 * the first non-zero result.  0 | EINVAL | ENOMEM.  A zero-initialised
 * group (WEFT_GROUP_INIT) also works, like Go's zero Group: its tasks get
 * the background context and an error cancels nothing. */
int weft_group_init(weft_group *g, weft_ctx *parent);
/* At most n (> 0) tasks at once; n < 0: no limit.  EINVAL otherwise or if
 * tasks are running. */
int weft_group_set_limit(weft_group *g, int n);
/* Spawn fn(ctx, arg); blocks while the limit is reached.  0 | EINVAL (g or
 * fn NULL, or the group was already waited for: init it again) | ENOMEM.
 * The macro records the call site as the task's spawn site. */
int weft_group_go(weft_group *g, weft_group_fn fn, void *arg);
int weft_group_go_at(weft_group *g, weft_group_fn fn, void *arg, const char *fn_name,
                     const char *file, int line, const char *func);
#define weft_group_go(g, fn, arg) \
    weft_group_go_at((g), (fn), (arg), #fn, __FILE__, __LINE__, __func__)
/* Wait for every task; returns the first non-zero result (0 if none) and
 * cancels and releases the group's context (EINVAL if g is NULL). */
int weft_group_wait(weft_group *g);

/* ===================================================================== */
/*  I/O: file descriptors that park tasks, not threads                   */
/* ===================================================================== */

/* A task waiting for a descriptor parks; the runtime's poller (one epoll
 * instance, polled by an idle worker, by busy workers between tasks, and by
 * the monitor) readies it.  On a plain thread the same calls block that
 * thread without spinning.  These calls can park, so none of them reports
 * through errno: weft_fd_wait* return 0 or an errno value; the others
 * return a count or descriptor (>= 0) or a negative errno value.
 *
 * A descriptor used here is switched to non-blocking mode (O_NONBLOCK) on
 * first use and registered with the poller; close it with weft_fd_close,
 * which wakes its waiters and forgets the registration (a descriptor closed
 * with plain close(2) and reused may leave a waiter on the new one
 * unwoken until its deadline).  Regular files are always ready (epoll does
 * not poll them): use weft_blocking for slow file I/O.
 *
 * Dumps show a task here as "io wait" with "io wait fd N (read)"; such a
 * task is never "certainly leaked", and deadlock detection and leak checks
 * count it as one the world outside may wake (a peer may write).
 *
 * A raw blocking call weft cannot see (read(2) on a blocking descriptor, a
 * lock of another library) holds its worker.  After 20 ms the monitor
 * hands that worker's queued tasks to the others; when every worker is so
 * held in the kernel while work waits, it starts a spare worker (at most
 * twice the workers, 64), which stays for the runtime's life. */
#define WEFT_IN 1  /* readable (or EOF, error, hang-up) */
#define WEFT_OUT 2 /* writable (or error, hang-up) */

/* Wait until fd is ready for events (WEFT_IN, WEFT_OUT, or both: either
 * one, as poll(2)), the deadline passes, or fd is closed with
 * weft_fd_close.  Present readiness counts (a descriptor with data is
 * ready at once, also with a deadline in the past); a wake-up may still be
 * spurious (another reader took the data first): retry the operation and
 * wait again on EAGAIN.  0 | ETIMEDOUT | EBADF (not open, or closed while
 * waiting) | EINVAL (events not a subset of WEFT_IN|WEFT_OUT, or empty) |
 * ENOMEM | an epoll_ctl errno value. */
int weft_fd_wait(int fd, int events, int64_t deadline);
/* As weft_fd_wait, until ctx is done: 0 | ECANCELED | ETIMEDOUT (a
 * deadline context) | EBADF | EINVAL (also for a NULL ctx) | ENOMEM.
 * Every _ctx call below also returns the context's error at once if it is
 * already done, and -EINVAL for a NULL ctx. */
int weft_fd_wait_ctx(weft_ctx *ctx, int fd, int events);

/* read(2) of up to n bytes, parking until some arrive: the count (0 at
 * end of file), or -ETIMEDOUT, -ECANCELED (_ctx), -EBADF, -EINVAL,
 * -ECONNRESET, ... (any negative errno of read(2) but EAGAIN/EINTR). */
ssize_t weft_read(int fd, void *buf, size_t n, int64_t deadline);
ssize_t weft_read_ctx(weft_ctx *ctx, int fd, void *buf, size_t n);
/* write(2) of all n bytes, parking while the peer is slow: n, or a
 * negative errno value (-ETIMEDOUT, -ECANCELED, -EPIPE, -ECONNRESET, ...).
 * On failure a prefix of buf may have been written; weft never raises
 * SIGPIPE for a socket (MSG_NOSIGNAL). */
ssize_t weft_write(int fd, const void *buf, size_t n, int64_t deadline);
ssize_t weft_write_ctx(weft_ctx *ctx, int fd, const void *buf, size_t n);
/* accept4(2) on a listening socket: a new descriptor, non-blocking and
 * close-on-exec, or a negative errno value.  addr/len may be NULL. */
int weft_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline);
int weft_accept_ctx(weft_ctx *ctx, int fd, struct sockaddr *addr, socklen_t *len);
/* connect(2) on a socket, parking until the connection is made: 0 or a
 * negative errno value (-ECONNREFUSED, -ETIMEDOUT, ...). */
int weft_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline);
int weft_connect_ctx(weft_ctx *ctx, int fd, const struct sockaddr *addr, socklen_t len);

/* Wake every task and thread waiting on fd (they return EBADF), forget
 * fd's registration, and close(2) it.  A waiter that arrives after the
 * descriptor number is reused never sees a stale wake-up (sequence numbers,
 * as Go's pollDesc).  0 or close(2)'s errno value (EBADF if fd is not
 * open). */
int weft_fd_close(int fd);

/* Run fn(arg) on a bounded pool of helper threads while the calling task
 * parks (file I/O, getaddrinfo, a foreign blocking library): the worker
 * stays free for other tasks.  On a plain thread fn runs right there.
 * fn must not park in weft itself (it runs on a plain thread: weft calls
 * there block that thread, which is allowed but holds a pool slot).
 * Pool size: env WEFT_BLOCKING_THREADS (default 64); calls beyond it
 * queue.  0 | EINVAL (fn NULL) | ENOMEM | EAGAIN (no thread could be
 * started and none is running). */
int weft_blocking(void (*fn)(void *), void *arg);

/* ===================================================================== */
/*  Leaks and diagnostics                                                 */
/* ===================================================================== */

/* Write every live task (Go's goroutine dump), tasks in the same situation
 * grouped (Go's goroutine?debug=1), largest group first:
 *
 *   task 7 consume [chan recv, 1503 ms]:
 *       waiting on channel 0x5581c0 made at app.c:31 (unbuffered, 4-byte elements)
 *       blocked at /src/app.c:40 in consume()
 *       #0 0x55d1c3a1b2c3 in consume at /src/app.c:40
 *       #1 0x55d1c3a1b400 in run_stage at /src/app.c:52
 *       spawned at app.c:33 in start_consumer()
 *   1000 tasks handle [chan recv, 12-1500 ms]:
 *       ids 8-1007
 *       waiting on 1000 different channels made at app.c:60 (unbuffered, signal-only)
 *       ...
 *
 * id (or "N tasks" and every id, as ranges); name, or the entry function
 * as written at the weft_go call; state (runnable, running, or what it is
 * parked in: chan send, chan recv, select, sleep, wg wait, mutex, once,
 * ctx wait, errgroup); how long it has been parked; the channel(s) it
 * waits on with their creation site (file:line), or the
 * WaitGroup/mutex/context address; the line of the caller's code that
 * blocked (the public blocking call it is in); its stack from there out,
 * function, file and line per frame (libdw; dladdr names without it; at
 * most 32 addresses; needs frame pointers: see docs/leaks.md); and the
 * spawn site file:line with the spawning function.  Tasks are grouped when
 * all of that but ids, waiting times and object addresses is the same.  A
 * task parked on a channel whose last reference was dropped is marked
 * "certainly leaked".  weft_run's main task is tagged [weft_run main].
 * Environment WEFT_BACKTRACE=0: no blocking line and no stacks.  Tasks are
 * copied first and printed (and symbolized) with no lock held; safe from
 * any thread and concurrently with spawns, exits, channel frees and stacks
 * being reused.  Returns the number of tasks written, -1 if out is NULL. */
int weft_dump_tasks(FILE *out);
/* The same as one JSON document, one object per task (not grouped):
 *   {"weft_task_dump":1,"now_ns":..,"live":..,"count":..,"not_shown":..,
 *    "tasks":[{"id":7,"name":null,"fn":"consume",
 *              "spawned_at":{"file":"app.c","line":33,"func":"start_consumer"},
 *              "internal":false,"main":false,"state":"parked","wait":"chan recv",
 *              "waited_ms":1503,
 *              "waiting_on":[{"kind":"channel","addr":"0x5581c0",
 *                             "made_at":{"file":"app.c","line":31},"cap":0,"len":0,
 *                             "elem_size":4,"closed":false,"orphaned":false}],
 *              "more_channels":0,"certainly_leaked":false,
 *              "blocked_at":{"file":"/src/app.c","line":40,"func":"consume",
 *                            "pc":"0x55d1c3a1b2c3"},
 *              "stack":[{"pc":"0x55d1c3a1b2c3","func":"consume","file":"/src/app.c",
 *                        "line":40,"module":"app"}, ...],
 *              "stack_truncated":false}]}
 * "state" is runnable, running or parked; "wait" is null unless parked;
 * "blocked_at" is null and "stack" empty unless parked.  A stack entry's
 * func/file are null when unknown (line 0); an inlined call is an entry of
 * its own, with the pc of the function it was inlined into and
 * "inlined":true; "blocked_at" has "tail_call":true when the entry
 * function blocked in its last statement (a tail call: its first line). */
int weft_dump_tasks_json(FILE *out);

/* A mark: tasks spawned after it are checked by weft_leak_check. */
uint64_t weft_leak_mark(void);
/* Check that every task spawned (weft_go*) since mark returned: waits up to
 * timeout ns until each has returned or is durably blocked, and returns how
 * many did not return, reporting each (as weft_dump_tasks does, under a
 * one-line summary) on report when it is not NULL.  Tasks spawned before
 * the mark, internal tasks and the caller itself are not checked.
 * Durably blocked: parked on a channel nothing references any more
 * ("certainly leaked"), or parked while nothing can make progress: every
 * task parked, no timer queued, no plain thread inside weft that returns
 * by itself, and no OS thread in the process that weft does not know (one
 * that never entered weft may still send, close or cancel).  So a leak is
 * reported as soon as the runtime settles, not after the timeout; the
 * timeout bounds the wait for tasks that keep running or sleeping, and for
 * threads outside weft (join them first, or have them call
 * weft_thread_ignore(), to get the early verdict).  Works on a plain
 * thread (blocks it on a futex) and inside a task (the task parks while a
 * helper thread waits; the worker thread is never blocked).  See
 * docs/leaks.md and <weft_test.h>. */
size_t weft_leak_check(uint64_t mark, int64_t timeout, FILE *report);

/* Deadlock: every live task is parked with nothing able to wake it: no
 * timer queued, no plain thread inside weft that returns by itself, and
 * every OS thread of the process known to weft (its own threads, plain
 * threads blocked inside weft, threads declared with weft_thread_ignore).
 * While any other thread exists — it may still send, close or cancel —
 * nothing is reported; the runtime looks again (backing off to once a
 * second) so a deadlock left behind when that thread exits is still found.
 *  - Inside weft_run (when its main task is parked too) the runtime writes
 *    "weft: all tasks are asleep - deadlock!", a task dump and "weft: end
 *    of deadlock report" on stderr, and weft_run returns EDEADLK.
 *  - Elsewhere it is a deadlock when, in addition, a plain thread is
 *    blocked inside weft for good (e.g. main() in weft_chan_recv): the same
 *    report is written; the blocked thread stays blocked.
 * Each deadlock is reported once.  A hook set here replaces the report
 * (hook NULL: the default); it is called on a worker thread (or on the
 * plain thread about to block) and must not block; weft_dump_tasks is safe
 * in it.  Inside weft_run, weft_run still returns EDEADLK after it. */
typedef void (*weft_deadlock_hook)(void *arg);
void weft_set_deadlock_hook(weft_deadlock_hook hook, void *arg);

/* Declare the calling plain thread as one that never wakes a task: it
 * never sends on, closes or receives from a channel tasks use, cancels no
 * context they wait on, and spawns nothing — a watchdog, a signal-waiting
 * thread, a helper of some other library.  Leak checks and deadlock
 * detection then count it as known (see weft_leak_check) and can give
 * their verdicts before a timeout while it runs.  Holds until the thread
 * exits.  A declared thread that does wake a task can make a verdict
 * wrong.  0 | EINVAL (called from a task) | an errno value from
 * pthread_key_create/pthread_setspecific.  Idempotent. */
int weft_thread_ignore(void);

/* Opt-in: on SIGQUIT (Ctrl-\), write "weft: SIGQUIT: task dump", a task
 * dump and "weft: end of task dump" on stderr, and keep running.  The
 * handler only writes to a pipe; a helper thread does the dump, so a signal
 * arriving anywhere (even inside weft's own locks) is safe.  false restores
 * the previous disposition.  0 or an errno value. */
int weft_dump_on_sigquit(bool enable);

struct weft_stats {
    uint64_t spawned;  /* tasks ever spawned (internal ones too) */
    uint64_t exited;   /* tasks that returned (internal ones too) */
    uint64_t live;     /* weft_num_tasks() */
    uint64_t parked;   /* of those, parked now (a registry walk) */
    uint64_t switches; /* context switches (approximate while running) */
    uint64_t steals;   /* tasks stolen between workers */
    uint64_t workers;  /* worker threads (0 when the runtime is stopped) */
};
/* Fill *out (each field read on its own, not one atomic snapshot).
 * 0 | EINVAL.  Not concurrently with weft_shutdown. */
int weft_stats(struct weft_stats *out);

/* ===================================================================== */
/*  Testing hooks: allocator replacement and failure injection            */
/* ===================================================================== */

/* Where the runtime gets memory and threads; a test can make the Nth call
 * at a site fail to prove out-of-memory paths (they return ENOMEM / EAGAIN
 * and leave the runtime usable). */
enum weft_fail_site {
    WEFT_FAIL_ALLOC = 0,  /* malloc/calloc/realloc of runtime objects */
    WEFT_FAIL_MMAP = 1,   /* task stack mappings */
    WEFT_FAIL_THREAD = 2, /* worker thread creation */
    WEFT_FAIL_POLL = 3,   /* epoll_create1 / epoll_ctl / the poller's eventfd */
    WEFT_FAIL_SITES
};
/* The nth call (1-based) from now at site fails once; 0 cancels.
 * 0 | EINVAL. */
int weft_fail_nth(enum weft_fail_site site, long nth);

struct weft_allocator {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
};
/* Replace the allocator (NULL: libc's).  Only while the runtime is not
 * running: 0 | EBUSY | EINVAL. */
int weft_set_allocator(const struct weft_allocator *a);

/* ---- Inline fast paths ----------------------------------------------------
 * The uncontended mutex lock and unlock are one atomic instruction each
 * (Go's compiler inlines the same paths of sync.Mutex); a call around each
 * cost a sixth of the pair's time (bench/mutex; WaitGroup's fast paths
 * gained nothing from inlining and stay calls).  Each macro evaluates its
 * argument once and falls back to the slow path of the function of the
 * same name, which the parentheses around the name keep from expanding:
 * (weft_mutex_lock)(m) is always the call, and &weft_mutex_lock the
 * function.  Define WEFT_NO_INLINE before including weft.h to call the
 * functions everywhere.  The state encoding is the one documented at
 * weft_mutex; the library itself is built with WEFT__BUILDING. */
/* Not API: the inline paths' fallbacks once their CAS failed (the
 * functions would try the same CAS again first).  NULL is checked
 * before. */
int weft__mutex_lock_contended(weft_mutex *m);
int weft__mutex_unlock_contended(weft_mutex *m);

#if !defined(WEFT_NO_INLINE) && !defined(WEFT__BUILDING)
#include <atomic_ops.h>

#define WEFT__ALWAYS_INLINE static inline __attribute__((always_inline))

WEFT__ALWAYS_INLINE int weft__mutex_lock_fast(weft_mutex *m)
{
    if (!m)
        return (weft_mutex_lock)(m); /* EINVAL */
    /* acquire: the critical section stays after the lock. */
    if (AO_int_compare_and_swap_acquire(&m->_state, 0, 1))
        return 0;
    return weft__mutex_lock_contended(m);
}

WEFT__ALWAYS_INLINE int weft__mutex_unlock_fast(weft_mutex *m)
{
    if (!m)
        return (weft_mutex_unlock)(m); /* EINVAL */
    /* release: the critical section happens-before the next lock. */
    if (AO_int_compare_and_swap_release(&m->_state, 1, 0))
        return 0;
    return weft__mutex_unlock_contended(m);
}

#define weft_mutex_lock(m) weft__mutex_lock_fast(m)
#define weft_mutex_unlock(m) weft__mutex_unlock_fast(m)
#endif

#ifdef __cplusplus
}
#endif
#endif /* WEFT_H */
