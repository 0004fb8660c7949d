/*
 * test_io.c — descriptors that park tasks, not threads (weft.h, "I/O"):
 * weft_fd_wait(_ctx), weft_read/write/accept/connect(_ctx), weft_fd_close,
 * weft_blocking, the WEFT_FAIL_POLL failure site, and how I/O waits show
 * in dumps, leak checks and deadlock detection.
 *
 * Every test is bracketed (ctxutil.h): no task left behind, no runtime
 * timer left queued, no context leaked.  Nothing is synchronised by
 * sleeping.  A test that needs a task to be parked in an I/O call before it
 * acts waits until weft_stats() counts it parked (an "eventually" check:
 * a task blocked on an idle descriptor must park, not spin).  Deadlines
 * are only checked for "never early" (weft_now() >= deadline when
 * ETIMEDOUT is returned) and, through the liveness bound, for "eventually".
 * No assertion is about speed.  Helper tasks wait with a liveness deadline
 * (never WEFT_FOREVER) unless the test is about waiting forever, so a
 * broken poller fails a check instead of hanging the binary.
 *
 * Descriptors that went through weft are closed with weft_fd_close, so no
 * test leaves a registration behind for a later test's reused number.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ctxutil.h"
#include "childutil.h"

#define IO_BEGIN() WT_CTX_BEGIN()
#define IO_END() WT_CTX_END()

/* A deadline for waits that must end by themselves long before it.  A
 * quarter of the liveness bound: a body run by wt_run_in_task/run_both
 * that fails then ends before the harness stops waiting for it, so no
 * stray task outlives its test and corrupts the next one. */
#define LIVE_DL() weft_deadline(WT_LIVENESS_NS / 4)

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Pace a polling loop: park when in a task, sleep the thread otherwise. */
static void pace(void)
{
    if (weft_self())
        weft_sleep(WEFT_MS);
    else
        wt_os_sleep_ns(WEFT_MS);
}

/* Wait (bounded) until at least n counted tasks are parked.  Tests only
 * count tasks that can park in nothing but the I/O call under test, and
 * the caller (running) is never counted. */
static bool await_parked(uint64_t n)
{
    int64_t dl = LIVE_DL();
    for (;;) {
        struct weft_stats st;
        if (weft_stats(&st) == 0 && st.parked >= n)
            return true;
        if (weft_now() >= dl)
            return false;
        pace();
    }
}

/* wt_wait_n with LIVE_DL's bound. */
static size_t wait_n(weft_chan *done, size_t n) { return wt_wait_n_until(done, n, LIVE_DL()); }

static int mkpipe(int p[2]) { return pipe2(p, O_CLOEXEC); }

static int mksockpair(int s[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s); }

static bool is_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl != -1 && (fl & O_NONBLOCK);
}

static bool is_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl != -1 && (fl & FD_CLOEXEC);
}

static bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

/* A blocking TCP listener on 127.0.0.1 and an ephemeral port; *addr gets
 * its address.  -1 on failure. */
static int tcp_listener(struct sockaddr_in *addr, int backlog)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0)
        return -1;
    int one = 1;
    (void)setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr->sin_port = 0;
    socklen_t len = sizeof *addr;
    if (bind(l, (struct sockaddr *)addr, sizeof *addr) != 0 || listen(l, backlog) != 0 ||
        getsockname(l, (struct sockaddr *)addr, &len) != 0) {
        close(l);
        return -1;
    }
    return l;
}

static int tcp_socket(void) { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }

/* Read exactly n bytes (several weft_reads); returns n or the first
 * non-positive result. */
static ssize_t read_full(int fd, void *buf, size_t n, int64_t dl)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = weft_read(fd, (char *)buf + got, n - got, dl);
        if (r <= 0)
            return r;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

/* Bytes for writes that are meant to fill a socket's buffer. */
static char filler[4 << 20];

/* One I/O call, run in a task (op_task) or right here (op_call). */
enum op_kind {
    OP_WAIT,
    OP_WAIT_CTX,
    OP_READ,
    OP_READ_CTX,
    OP_WRITE,
    OP_WRITE_CTX,
    OP_ACCEPT,
    OP_ACCEPT_CTX,
};

struct op {
    enum op_kind kind;
    int fd;
    int events;
    int64_t deadline;
    weft_ctx *ctx;
    void *buf;
    size_t n;
    weft_chan *done; /* op_task sends one signal here when finished */
    long long rc;    /* the call's result */
    int64_t ended;   /* weft_now() right after it returned */
};

static void op_call(struct op *o)
{
    switch (o->kind) {
    case OP_WAIT:
        o->rc = weft_fd_wait(o->fd, o->events, o->deadline);
        break;
    case OP_WAIT_CTX:
        o->rc = weft_fd_wait_ctx(o->ctx, o->fd, o->events);
        break;
    case OP_READ:
        o->rc = weft_read(o->fd, o->buf, o->n, o->deadline);
        break;
    case OP_READ_CTX:
        o->rc = weft_read_ctx(o->ctx, o->fd, o->buf, o->n);
        break;
    case OP_WRITE:
        o->rc = weft_write(o->fd, o->buf, o->n, o->deadline);
        break;
    case OP_WRITE_CTX:
        o->rc = weft_write_ctx(o->ctx, o->fd, o->buf, o->n);
        break;
    case OP_ACCEPT:
        o->rc = weft_accept(o->fd, NULL, NULL, o->deadline);
        break;
    case OP_ACCEPT_CTX:
        o->rc = weft_accept_ctx(o->ctx, o->fd, NULL, NULL);
        break;
    }
    o->ended = weft_now();
}

static void op_task(void *p)
{
    struct op *o = p;
    op_call(o);
    WT_CHECK_INT_EQ(weft_chan_send(o->done, NULL), 0);
}

/* ================================================================== */
/* Readiness                                                           */
/* ================================================================== */

struct waiter {
    int fd;
    weft_chan *done;
    int rc;
    char got;
    int spurious;
};

/* Waits for WEFT_IN and reads one byte; readiness may be spurious
 * (edge-triggered), so EAGAIN means wait again. */
static void in_waiter(void *p)
{
    struct waiter *w = p;
    int64_t dl = LIVE_DL();
    for (;;) {
        w->rc = weft_fd_wait(w->fd, WEFT_IN, dl);
        if (w->rc != 0)
            break;
        ssize_t r = read(w->fd, &w->got, 1);
        if (r == 1)
            break;
        WT_CHECK_MSG(r == -1 && wt_errno() == EAGAIN, "read after readiness: %zd errno %d", r,
                     wt_errno());
        if (r != -1)
            break;
        w->spurious++;
    }
    WT_CHECK_INT_EQ(weft_chan_send(w->done, NULL), 0);
}

static void readiness_body(void *arg)
{
    (void)arg;
    weft_chan *done = weft_chan_make(0, 4);
    WT_CHECK(done != NULL);

    /* A pipe: WEFT_IN becomes ready when another party writes. */
    int p[2];
    WT_CHECK_INT_EQ(mkpipe(p), 0);
    struct waiter w = {.fd = p[0], .done = done};
    WT_CHECK_INT_EQ(weft_go(in_waiter, &w), 0);
    WT_CHECK(await_parked(1));
    WT_CHECK_INT_EQ(weft_write(p[1], "k", 1, LIVE_DL()), 1);
    WT_CHECK_INT_EQ(wait_n(done, 1), 1);
    WT_CHECK_INT_EQ(w.rc, 0);
    WT_CHECK_INT_EQ(w.got, 'k');
    /* The descriptor was switched to non-blocking mode on first use. */
    WT_CHECK(is_nonblocking(p[0]));

    /* Nothing more was written: a non-blocking check says so. */
    WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, weft_now()), ETIMEDOUT);
    WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, 0), ETIMEDOUT);
    /* Data present: ready at once, also with a deadline in the past. */
    WT_CHECK_INT_EQ(write(p[1], "z", 1), 1);
    WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, 0), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, LIVE_DL()), 0);
    char c = 0;
    WT_CHECK_INT_EQ(weft_read(p[0], &c, 1, 0), 1);
    WT_CHECK_INT_EQ(c, 'z');
    /* The write end of an empty pipe is writable. */
    WT_CHECK_INT_EQ(weft_fd_wait(p[1], WEFT_OUT, weft_now()), 0);
    WT_CHECK_INT_EQ(weft_fd_close(p[0]), 0);
    WT_CHECK_INT_EQ(weft_fd_close(p[1]), 0);

    /* A socket pair: WEFT_OUT is ready at once on an empty socket, with
     * or without time to wait; WEFT_IN is not; both together are. */
    int s[2];
    WT_CHECK_INT_EQ(mksockpair(s), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(s[0], WEFT_OUT, weft_now() - 1), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(s[0], WEFT_OUT, LIVE_DL()), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(s[0], WEFT_IN, weft_now()), ETIMEDOUT);
    WT_CHECK_INT_EQ(weft_fd_wait(s[0], WEFT_IN | WEFT_OUT, LIVE_DL()), 0);
    /* And WEFT_IN on a socket: a task waits, the peer writes. */
    struct waiter ws = {.fd = s[0], .done = done};
    WT_CHECK_INT_EQ(weft_go(in_waiter, &ws), 0);
    WT_CHECK(await_parked(1));
    WT_CHECK_INT_EQ(weft_write(s[1], "q", 1, LIVE_DL()), 1);
    WT_CHECK_INT_EQ(wait_n(done, 1), 1);
    WT_CHECK_INT_EQ(ws.rc, 0);
    WT_CHECK_INT_EQ(ws.got, 'q');
    WT_CHECK_INT_EQ(weft_fd_close(s[0]), 0);
    WT_CHECK_INT_EQ(weft_fd_close(s[1]), 0);
    weft_chan_release(done);
}

static void test_fd_wait_returns_once_data_is_written_and_out_is_ready_at_once(void **state)
{
    IO_BEGIN();
    run_both(readiness_body, NULL);
    IO_END();
}

/* ================================================================== */
/* EOF, partial reads, RST                                             */
/* ================================================================== */

static void eof_body(void *arg)
{
    (void)arg;
    weft_chan *done = weft_chan_make(0, 4);
    char buf[16];

    /* A reader parked on an empty pipe gets 0 when the write end closes. */
    int p[2];
    WT_CHECK_INT_EQ(mkpipe(p), 0);
    struct op o = {.kind = OP_READ, .fd = p[0], .deadline = LIVE_DL(), .buf = buf,
                   .n = sizeof buf, .done = done};
    WT_CHECK_INT_EQ(weft_go(op_task, &o), 0);
    WT_CHECK(await_parked(1));
    WT_CHECK_INT_EQ(weft_fd_close(p[1]), 0);
    WT_CHECK_INT_EQ(wait_n(done, 1), 1);
    WT_CHECK_INT_EQ(o.rc, 0);
    /* And again: end of file stays end of file. */
    WT_CHECK_INT_EQ(weft_read(p[0], buf, sizeof buf, LIVE_DL()), 0);
    WT_CHECK_INT_EQ(weft_fd_close(p[0]), 0);

    /* A socket: data, then the peer shuts down writing: the data, then 0. */
    int s[2];
    WT_CHECK_INT_EQ(mksockpair(s), 0);
    struct op r = {.kind = OP_READ, .fd = s[0], .deadline = LIVE_DL(), .buf = buf,
                   .n = sizeof buf, .done = done};
    WT_CHECK_INT_EQ(weft_go(op_task, &r), 0);
    WT_CHECK(await_parked(1));
    WT_CHECK_INT_EQ(weft_write(s[1], "abc", 3, LIVE_DL()), 3);
    WT_CHECK_INT_EQ(wait_n(done, 1), 1);
    WT_CHECK_INT_EQ(r.rc, 3);
    WT_CHECK(memcmp(buf, "abc", 3) == 0);
    WT_CHECK_INT_EQ(shutdown(s[1], SHUT_WR), 0);
    WT_CHECK_INT_EQ(weft_read(s[0], buf, sizeof buf, LIVE_DL()), 0);
    /* The peer closes completely: still 0. */
    WT_CHECK_INT_EQ(weft_fd_close(s[1]), 0);
    WT_CHECK_INT_EQ(weft_read(s[0], buf, sizeof buf, LIVE_DL()), 0);
    WT_CHECK_INT_EQ(weft_fd_close(s[0]), 0);
    weft_chan_release(done);
}

static void test_read_returns_zero_at_end_of_file(void **state)
{
    IO_BEGIN();
    run_both(eof_body, NULL);
    IO_END();
}

static void partial_body(void *arg)
{
    (void)arg;
    for (int kind = 0; kind < 2; kind++) {
        int f[2];
        WT_CHECK_INT_EQ(kind ? mksockpair(f) : mkpipe(f), 0);
        WT_CHECK_INT_EQ(weft_write(f[1], "0123456789", 10, LIVE_DL()), 10);
        char got[16] = {0};
        size_t have = 0;
        int reads = 0;
        while (have < 10 && reads < 100) {
            char b[8];
            memset(b, '#', sizeof b);
            ssize_t r = weft_read(f[0], b, 4, LIVE_DL());
            WT_CHECK_MSG(r >= 1 && r <= 4, "weft_read(n=4) = %zd", r);
            if (r < 1 || r > 4)
                break;
            WT_CHECK_INT_EQ(b[4], '#'); /* nothing beyond n written */
            memcpy(got + have, b, (size_t)r);
            have += (size_t)r;
            reads++;
        }
        WT_CHECK_INT_EQ(have, 10);
        WT_CHECK_INT_GE(reads, 3);
        WT_CHECK(memcmp(got, "0123456789", 10) == 0);
        /* Drained: a non-blocking read finds nothing. */
        WT_CHECK_INT_EQ(weft_read(f[0], got, 4, 0), -ETIMEDOUT);
        /* n == 0 writes nothing and succeeds. */
        WT_CHECK_INT_EQ(weft_write(f[1], got, 0, LIVE_DL()), 0);
        WT_CHECK_INT_EQ(weft_fd_close(f[0]), 0);
        WT_CHECK_INT_EQ(weft_fd_close(f[1]), 0);
    }
}

static void test_partial_reads_return_at_most_n_and_the_rest_arrives(void **state)
{
    IO_BEGIN();
    run_both(partial_body, NULL);
    IO_END();
}

/* A TCP loopback connection: *client (connected with weft_connect) and
 * *server (accepted with weft_accept). */
static void tcp_pair(int *client, int *server)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a, 8);
    assert_true(l >= 0);
    int c = tcp_socket();
    assert_true(c >= 0);
    assert_int_equal(weft_connect(c, (struct sockaddr *)&a, sizeof a, LIVE_DL()), 0);
    int s = weft_accept(l, NULL, NULL, LIVE_DL());
    assert_true(s >= 0);
    assert_int_equal(weft_fd_close(l), 0);
    *client = c;
    *server = s;
}

static void rst_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(weft_fd_close(fd), 0);
}

static void test_read_after_peer_reset_is_econnreset(void **state)
{
    IO_BEGIN();
    weft_chan *done = weft_chan_make(0, 1);
    char buf[16];

    /* A task parked in weft_read when the reset arrives. */
    int c, s;
    tcp_pair(&c, &s);
    struct op o = {.kind = OP_READ, .fd = c, .deadline = LIVE_DL(), .buf = buf,
                   .n = sizeof buf, .done = done};
    assert_int_equal(weft_go(op_task, &o), 0);
    assert_true(await_parked(1));
    rst_close(s);
    assert_int_equal(wait_n(done, 1), 1);
    assert_int_equal(o.rc, -ECONNRESET);
    assert_int_equal(weft_fd_close(c), 0);

    /* The reset arrived before the read (plain thread, then a task). */
    for (int in_task = 0; in_task < 2; in_task++) {
        tcp_pair(&c, &s);
        rst_close(s);
        struct op r = {.kind = OP_READ, .fd = c, .deadline = LIVE_DL(), .buf = buf,
                       .n = sizeof buf, .done = done};
        if (in_task) {
            assert_int_equal(weft_go(op_task, &r), 0);
            assert_int_equal(wait_n(done, 1), 1);
        } else {
            op_call(&r);
        }
        assert_int_equal(r.rc, -ECONNRESET);
        assert_int_equal(weft_fd_close(c), 0);
    }
    weft_chan_release(done);
    IO_END();
}

/* Writing to a socket whose peer is gone is -EPIPE, and never SIGPIPE
 * (which would kill this process: its disposition is the default here). */
static void epipe_body(void *arg)
{
    (void)arg;
    int s[2];
    WT_CHECK_INT_EQ(mksockpair(s), 0);
    WT_CHECK_INT_EQ(weft_fd_close(s[1]), 0);
    WT_CHECK_INT_EQ(weft_write(s[0], "x", 1, LIVE_DL()), -EPIPE);
    WT_CHECK_INT_EQ(weft_write(s[0], filler, sizeof filler, LIVE_DL()), -EPIPE);
    WT_CHECK_INT_EQ(weft_fd_close(s[0]), 0);
}

static void test_write_to_a_closed_peer_is_epipe_without_sigpipe(void **state)
{
    IO_BEGIN();
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigemptyset(&dfl.sa_mask);
    assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
    run_both(epipe_body, NULL);
    assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
    IO_END();
}

/* ================================================================== */
/* Large writes against a slow reader                                  */
/* ================================================================== */

struct big {
    int fd;
    size_t total;      /* expected bytes */
    size_t chunk;      /* reader's read size */
    bool watch_parked; /* reader looks whether the writer is parked */
    weft_chan *done;
    uint64_t hash;
    size_t got;
    ssize_t eof;
    atomic_int saw_parked;
};

static void slow_reader(void *p)
{
    struct big *b = p;
    char *buf = malloc(b->chunk);
    WT_CHECK(buf != NULL);
    uint64_t h = FNV_INIT;
    int64_t dl = weft_deadline(3 * WT_LIVENESS_NS); /* the whole transfer */
    unsigned k = 0;
    while (buf && b->got < b->total) {
        ssize_t r = weft_read(b->fd, buf, b->chunk, dl);
        WT_CHECK_MSG(r > 0 && (size_t)r <= b->chunk, "weft_read = %zd after %zu bytes", r,
                     b->got);
        if (r <= 0)
            break;
        h = fnv1a(h, buf, (size_t)r);
        b->got += (size_t)r;
        /* Slow: give the writer every chance to run (and park). */
        weft_yield();
        if (b->watch_parked && (++k & 15) == 0) {
            /* Only the writer can be parked while this task runs. */
            struct weft_stats st;
            if (weft_stats(&st) == 0 && st.parked >= 1)
                atomic_store(&b->saw_parked, 1);
        }
    }
    b->hash = h;
    if (buf)
        b->eof = weft_read(b->fd, buf, b->chunk, dl);
    free(buf);
    WT_CHECK_INT_EQ(weft_chan_send(b->done, NULL), 0);
}

struct big_w {
    int fd;
    const char *src;
    size_t n;
    ssize_t rc;
    weft_chan *done;
};

static void writer_task(void *p)
{
    struct big_w *w = p;
    w->rc = weft_write(w->fd, w->src, w->n, weft_deadline(3 * WT_LIVENESS_NS));
    /* Closing the write end gives the reader its end of file. */
    WT_CHECK_INT_EQ(weft_fd_close(w->fd), 0);
    WT_CHECK_INT_EQ(weft_chan_send(w->done, NULL), 0);
}

static void test_large_write_to_a_slow_reader_arrives_intact(void **state)
{
    IO_BEGIN();
    const size_t total = 8u << 20;
    char *src = malloc(total);
    assert_non_null(src);
    wt_rng rng = wt_rng_make(12);
    for (size_t i = 0; i < total; i += 8) {
        uint64_t v = wt_rand(&rng);
        memcpy(src + i, &v, 8);
    }
    uint64_t want = fnv1a(FNV_INIT, src, total);
    weft_chan *done = weft_chan_make(0, 2);

    /* 8 MiB from a task: one weft_write call, the reader reading 1000
     * bytes at a time; the writer must park while the socket is full. */
    int s[2];
    assert_int_equal(mksockpair(s), 0);
    struct big b = {.fd = s[1], .total = total, .chunk = 1000, .watch_parked = true,
                    .done = done};
    struct big_w w = {.fd = s[0], .src = src, .n = total, .done = done};
    assert_int_equal(weft_go(writer_task, &w), 0);
    assert_int_equal(weft_go(slow_reader, &b), 0);
    assert_int_equal(wt_wait_n_until(done, 2, weft_deadline(3 * WT_LIVENESS_NS)), 2);
    wt_assert_no_failures();
    assert_int_equal(w.rc, (ssize_t)total);
    assert_int_equal(b.got, total);
    assert_true(b.hash == want);
    assert_int_equal(b.eof, 0);
    assert_true(atomic_load(&b.saw_parked));
    assert_int_equal(weft_fd_close(s[1]), 0);

    /* 1 MiB from the plain test thread (blocks it while the socket is
     * full), a task reading 777 bytes at a time. */
    const size_t part = 1u << 20;
    assert_int_equal(mksockpair(s), 0);
    struct big b2 = {.fd = s[1], .total = part, .chunk = 777, .done = done};
    assert_int_equal(weft_go(slow_reader, &b2), 0);
    assert_int_equal(weft_write(s[0], src, part, LIVE_DL()), (ssize_t)part);
    assert_int_equal(weft_fd_close(s[0]), 0);
    assert_int_equal(wait_n(done, 1), 1);
    assert_int_equal(b2.got, part);
    assert_true(b2.hash == fnv1a(FNV_INIT, src, part));
    assert_int_equal(b2.eof, 0);
    assert_int_equal(weft_fd_close(s[1]), 0);

    free(src);
    weft_chan_release(done);
    IO_END();
}

/* ================================================================== */
/* Deadlines                                                           */
/* ================================================================== */

static void deadline_body(void *arg)
{
    (void)arg;
    int p[2], s[2];
    WT_CHECK_INT_EQ(mkpipe(p), 0);
    WT_CHECK_INT_EQ(mksockpair(s), 0);
    char buf[8];

    /* An idle pipe: -ETIMEDOUT, never before the deadline. */
    int64_t dl = weft_deadline(20 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_read(p[0], buf, sizeof buf, dl), -ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
    dl = weft_deadline(20 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, dl), ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);

    /* A full socket: the write times out too (a prefix went out). */
    dl = weft_deadline(20 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_write(s[0], filler, sizeof filler, dl), -ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
    dl = weft_deadline(20 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_fd_wait(s[0], WEFT_OUT, dl), ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);

    /* Deadlines in the past: a non-blocking check. */
    const int64_t past[] = {weft_now(), weft_now() - WEFT_SEC, 0, INT64_MIN};
    for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
        WT_CHECK_INT_EQ(weft_read(p[0], buf, sizeof buf, past[i]), -ETIMEDOUT);
        WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, past[i]), ETIMEDOUT);
        WT_CHECK_INT_EQ(weft_fd_wait(p[1], WEFT_OUT, past[i]), 0);
        WT_CHECK_INT_EQ(write(p[1], "ab", 2), 2);
        WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, past[i]), 0);
        WT_CHECK_INT_EQ(weft_read(p[0], buf, sizeof buf, past[i]), 2);
        WT_CHECK_INT_EQ(weft_write(p[1], "cd", 2, past[i]), 2); /* room: no wait needed */
        WT_CHECK_INT_EQ(weft_read(p[0], buf, sizeof buf, past[i]), 2);
        WT_CHECK(memcmp(buf, "cd", 2) == 0);
    }
    /* A socket that stays full: non-blocking write check fails at once. */
    WT_CHECK_INT_EQ(weft_write(s[0], "x", 1, 0), -ETIMEDOUT);
    WT_CHECK_INT_EQ(weft_fd_wait(s[0], WEFT_OUT, 0), ETIMEDOUT);

    WT_CHECK_INT_EQ(weft_fd_close(p[0]), 0);
    WT_CHECK_INT_EQ(weft_fd_close(p[1]), 0);
    WT_CHECK_INT_EQ(weft_fd_close(s[0]), 0);
    WT_CHECK_INT_EQ(weft_fd_close(s[1]), 0);
}

static void test_deadlines_are_never_early_and_past_deadlines_do_not_wait(void **state)
{
    IO_BEGIN();
    run_both(deadline_body, NULL);
    IO_END();
}

/* ================================================================== */
/* Contexts                                                            */
/* ================================================================== */

/* Four kinds of I/O wait on one context, each in its own task: a read and
 * a readiness wait on idle pipes, a write to a full socket, an accept on a
 * listener nobody connects to.  Returns after they all ended. */
struct ctx_ops {
    int p[2], q[2], s[2], l;
    struct op ops[4];
    weft_chan *done;
    char buf[8];
};

static void ctx_ops_start(struct ctx_ops *c, weft_ctx *ctx)
{
    memset(c, 0, sizeof *c);
    struct sockaddr_in a;
    assert_int_equal(mkpipe(c->p), 0);
    assert_int_equal(mkpipe(c->q), 0);
    assert_int_equal(mksockpair(c->s), 0);
    c->l = tcp_listener(&a, 4);
    assert_true(c->l >= 0);
    c->done = weft_chan_make(0, 4);
    /* Fill the socket first so the write parks. */
    assert_int_equal(weft_write(c->s[0], filler, sizeof filler, weft_deadline(5 * WEFT_MS)),
                     -ETIMEDOUT);
    c->ops[0] = (struct op){.kind = OP_READ_CTX, .fd = c->p[0], .ctx = ctx, .buf = c->buf,
                            .n = sizeof c->buf, .done = c->done};
    c->ops[1] = (struct op){.kind = OP_WAIT_CTX, .fd = c->q[0], .events = WEFT_IN, .ctx = ctx,
                            .done = c->done};
    c->ops[2] = (struct op){.kind = OP_WRITE_CTX, .fd = c->s[0], .ctx = ctx, .buf = filler,
                            .n = sizeof filler, .done = c->done};
    c->ops[3] = (struct op){.kind = OP_ACCEPT_CTX, .fd = c->l, .ctx = ctx, .done = c->done};
    for (int i = 0; i < 4; i++)
        assert_int_equal(weft_go(op_task, &c->ops[i]), 0);
}

static void ctx_ops_finish(struct ctx_ops *c)
{
    assert_int_equal(wait_n(c->done, 4), 4);
    weft_chan_release(c->done);
    int fds[] = {c->p[0], c->p[1], c->q[0], c->q[1], c->s[0], c->s[1], c->l};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        assert_int_equal(weft_fd_close(fds[i]), 0);
}

static void canceler(void *p)
{
    /* Not synchronisation: the waiter gets ECANCELED whether it is
     * already waiting or not; this only makes waiting the likely case. */
    weft_sleep(10 * WEFT_MS);
    weft_ctx_cancel(p);
}

static void test_ctx_cancel_and_timeout_end_io_waits(void **state)
{
    IO_BEGIN();
    struct ctx_ops c;

    /* Canceled while every task is parked: ECANCELED for each. */
    weft_ctx *ctx = weft_ctx_with_cancel(weft_ctx_background());
    assert_non_null(ctx);
    ctx_ops_start(&c, ctx);
    assert_true(await_parked(4));
    for (int i = 0; i < 4; i++)
        assert_int_equal(c.ops[i].rc, 0); /* none returned yet */
    weft_ctx_cancel(ctx);
    ctx_ops_finish(&c);
    assert_int_equal(c.ops[0].rc, -ECANCELED);
    assert_int_equal(c.ops[1].rc, ECANCELED);
    assert_int_equal(c.ops[2].rc, -ECANCELED);
    assert_int_equal(c.ops[3].rc, -ECANCELED);
    weft_ctx_release(ctx);

    /* A timeout context: ETIMEDOUT, never before its deadline. */
    ctx = weft_ctx_with_timeout(weft_ctx_background(), 30 * WEFT_MS);
    assert_non_null(ctx);
    int64_t dl = weft_ctx_deadline(ctx);
    ctx_ops_start(&c, ctx);
    ctx_ops_finish(&c);
    assert_int_equal(c.ops[0].rc, -ETIMEDOUT);
    assert_int_equal(c.ops[1].rc, ETIMEDOUT);
    assert_int_equal(c.ops[2].rc, -ETIMEDOUT);
    assert_int_equal(c.ops[3].rc, -ETIMEDOUT);
    for (int i = 0; i < 4; i++)
        assert_true(c.ops[i].ended >= dl);
    weft_ctx_release(ctx);

    /* The plain test thread: a timeout, then a cancel from a task, then a
     * context canceled before the call. */
    int p[2];
    char buf[4];
    assert_int_equal(mkpipe(p), 0);
    ctx = weft_ctx_with_timeout(weft_ctx_background(), 20 * WEFT_MS);
    dl = weft_ctx_deadline(ctx);
    assert_int_equal(weft_read_ctx(ctx, p[0], buf, sizeof buf), -ETIMEDOUT);
    assert_true(weft_now() >= dl);
    assert_int_equal(weft_fd_wait_ctx(ctx, p[0], WEFT_IN), ETIMEDOUT);
    weft_ctx_release(ctx);

    ctx = weft_ctx_with_cancel(weft_ctx_background());
    assert_int_equal(weft_go(canceler, ctx), 0);
    assert_int_equal(weft_read_ctx(ctx, p[0], buf, sizeof buf), -ECANCELED);
    assert_int_equal(weft_fd_wait_ctx(ctx, p[0], WEFT_IN), ECANCELED);
    assert_int_equal(wt_await_num_tasks(wt__leak.tasks, WT_LIVENESS_NS), wt__leak.tasks);
    weft_ctx_release(ctx);

    /* Data and a live context: the read just works. */
    ctx = weft_ctx_with_cancel(weft_ctx_background());
    assert_int_equal(write(p[1], "ok", 2), 2);
    assert_int_equal(weft_read_ctx(ctx, p[0], buf, sizeof buf), 2);
    assert_int_equal(weft_write_ctx(ctx, p[1], "go", 2), 2);
    assert_int_equal(weft_fd_wait_ctx(ctx, p[0], WEFT_IN), 0);
    assert_int_equal(weft_read_ctx(ctx, p[0], buf, sizeof buf), 2);
    assert_memory_equal(buf, "go", 2);
    weft_ctx_cancel(ctx);
    assert_int_equal(weft_read_ctx(ctx, p[0], buf, sizeof buf), -ECANCELED);
    weft_ctx_release(ctx);
    assert_int_equal(weft_fd_close(p[0]), 0);
    assert_int_equal(weft_fd_close(p[1]), 0);
    IO_END();
}

/* ================================================================== */
/* weft_fd_close wakes waiters; fd reuse                               */
/* ================================================================== */

struct thread_op {
    struct op op;
    atomic_int tid; /* set just before the call */
};

static void *thread_waiter(void *p)
{
    struct thread_op *t = p;
    atomic_store(&t->tid, (int)gettid());
    op_call(&t->op);
    return NULL;
}

/* Is thread tid of this process asleep (state S or D in /proc)? */
static bool thread_sleeping(int tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')'); /* the name may hold spaces */
    return rp && rp[1] == ' ' && (rp[2] == 'S' || rp[2] == 'D');
}

/* Wait (bounded) until the plain thread running t is blocked in its call:
 * its only sleeping point after setting tid is weft's wait (its descriptor
 * is non-blocking); two samples a few ms apart rule out a passing
 * lock wait.  Without this, closing the descriptor could race with the
 * thread's own read(2) (ThreadSanitizer rightly reports that). */
static bool await_thread_blocked(struct thread_op *t)
{
    int64_t dl = LIVE_DL();
    int seen = 0;
    while (weft_now() < dl) {
        int tid = atomic_load(&t->tid);
        seen = tid && thread_sleeping(tid) ? seen + 1 : 0;
        if (seen >= 3)
            return true;
        wt_os_sleep_ns(2 * WEFT_MS);
    }
    return false;
}

static void test_fd_close_wakes_every_waiter_with_ebadf(void **state)
{
    IO_BEGIN();
    int p[2], s[2];
    assert_int_equal(mkpipe(p), 0);
    assert_int_equal(mksockpair(s), 0);
    weft_chan *done = weft_chan_make(0, 8);
    char bufs[3][8];
    weft_ctx *bg = weft_ctx_background();
    int64_t dl = LIVE_DL();
    struct op ops[] = {
        {.kind = OP_WAIT, .fd = p[0], .events = WEFT_IN, .deadline = dl},
        {.kind = OP_WAIT, .fd = p[0], .events = WEFT_IN, .deadline = dl},
        {.kind = OP_WAIT, .fd = p[0], .events = WEFT_IN, .deadline = WEFT_FOREVER},
        {.kind = OP_WAIT_CTX, .fd = p[0], .events = WEFT_IN, .ctx = bg},
        {.kind = OP_READ, .fd = p[0], .deadline = dl, .buf = bufs[0], .n = 8},
        {.kind = OP_READ_CTX, .fd = p[0], .ctx = bg, .buf = bufs[1], .n = 8},
        /* a writer parked on a full socket */
        {.kind = OP_WRITE, .fd = s[0], .deadline = dl, .buf = filler, .n = sizeof filler},
    };
    enum { NT = sizeof ops / sizeof ops[0] };
    for (int i = 0; i < NT; i++) {
        ops[i].done = done;
        assert_int_equal(weft_go(op_task, &ops[i]), 0);
    }
    /* And a plain thread waiting on the pipe too. */
    struct thread_op th = {
        .op = {.kind = OP_READ, .fd = p[0], .deadline = dl, .buf = bufs[2], .n = 8}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, thread_waiter, &th), 0);
    assert_true(await_parked(NT));
    assert_true(await_thread_blocked(&th));

    assert_int_equal(weft_fd_close(p[0]), 0);
    assert_int_equal(weft_fd_close(s[0]), 0);
    assert_int_equal(wait_n(done, NT), NT);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < NT; i++) {
        bool is_wait = ops[i].kind == OP_WAIT || ops[i].kind == OP_WAIT_CTX;
        if (ops[i].rc != (is_wait ? EBADF : -EBADF))
            fail_msg("waiter %d (kind %d) returned %lld, not %sEBADF", i, ops[i].kind,
                     ops[i].rc, is_wait ? "" : "-");
    }
    assert_int_equal(th.op.rc, -EBADF);
    /* Closed for real; a second close is EBADF. */
    assert_false(is_open(p[0]));
    assert_false(is_open(s[0]));
    assert_int_equal(weft_fd_close(p[0]), EBADF);
    assert_int_equal(weft_fd_close(p[1]), 0);
    assert_int_equal(weft_fd_close(s[1]), 0);
    weft_chan_release(done);
    IO_END();
}

struct delayed_write {
    int fd;
    weft_chan *done;
};

/* Writes one byte once the task that waits for it is parked. */
static void write_when_parked(void *p)
{
    struct delayed_write *d = p;
    WT_CHECK(await_parked(1));
    WT_CHECK_INT_EQ(weft_write(d->fd, "n", 1, LIVE_DL()), 1);
    WT_CHECK_INT_EQ(weft_chan_send(d->done, NULL), 0);
}

/* Give fd's (free) number to a new pipe's read end (pipe2 takes the
 * lowest free numbers; if that is not fd, dup3 onto it is a reuse of the
 * number all the same); the new write end goes to *w. */
static void reuse_number(int fd, int *w)
{
    int q[2];
    WT_CHECK_INT_EQ(mkpipe(q), 0);
    if (q[0] != fd) { /* usually the lowest free number is fd itself */
        WT_CHECK_INT_EQ(dup3(q[0], fd, O_CLOEXEC), fd);
        WT_CHECK_INT_EQ(close(q[0]), 0);
    }
    *w = q[1];
}

static void reuse_body(void *arg)
{
    (void)arg;
    weft_chan *done = weft_chan_make(0, 2);
    for (int round = 0; round < 3; round++) {
        /* The old descriptor, closed while nothing waits on it: (0) a pipe
         * registered and waited on, its data left unread; (1) a socket
         * whose readable edge arrives with nobody waiting for it (the
         * poller notes it as pending readiness).  Or (2) with a waiter
         * parked on it when it is closed. */
        int a[2];
        WT_CHECK_INT_EQ(round == 1 ? mksockpair(a) : mkpipe(a), 0);
        int fd = a[0];
        if (round == 0) {
            WT_CHECK_INT_EQ(write(a[1], "old", 3), 3);
            WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_IN, LIVE_DL()), 0);
            WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_IN, LIVE_DL()), 0);
        } else if (round == 1) {
            WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_OUT, LIVE_DL()), 0); /* registers it */
            /* A task waiting on another pipe keeps the poller polling. */
            int x[2];
            WT_CHECK_INT_EQ(mkpipe(x), 0);
            struct op o = {.kind = OP_WAIT, .fd = x[0], .events = WEFT_IN, .deadline = LIVE_DL(),
                           .done = done};
            WT_CHECK_INT_EQ(weft_go(op_task, &o), 0);
            WT_CHECK(await_parked(1));
            WT_CHECK_INT_EQ(write(a[1], "old", 3), 3);
            /* Not synchronisation: lets the poller see the edge first. */
            weft_sleep(20 * WEFT_MS);
            WT_CHECK_INT_EQ(write(x[1], "x", 1), 1);
            WT_CHECK_INT_EQ(wait_n(done, 1), 1);
            WT_CHECK_INT_EQ(o.rc, 0);
            WT_CHECK_INT_EQ(weft_fd_close(x[0]), 0);
            WT_CHECK_INT_EQ(weft_fd_close(x[1]), 0);
        } else {
            struct op o = {.kind = OP_WAIT, .fd = fd, .events = WEFT_IN, .deadline = LIVE_DL(),
                           .done = done};
            WT_CHECK_INT_EQ(weft_go(op_task, &o), 0);
            WT_CHECK(await_parked(1));
            WT_CHECK_INT_EQ(weft_fd_close(fd), 0);
            WT_CHECK_INT_EQ(wait_n(done, 1), 1);
            WT_CHECK_INT_EQ(o.rc, EBADF);
        }
        if (round != 2)
            WT_CHECK_INT_EQ(weft_fd_close(fd), 0); /* nothing waits on it */
        WT_CHECK_INT_EQ(weft_fd_close(a[1]), 0);

        /* The new descriptor under the same number: nothing written, so
         * no wake-up (a stale readiness or registration would show). */
        int w;
        reuse_number(fd, &w);
        int64_t dl = weft_deadline(30 * WEFT_MS);
        WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_IN, dl), ETIMEDOUT);
        WT_CHECK_INT_GE(weft_now(), dl);
        char buf[8];
        WT_CHECK_INT_EQ(weft_read(fd, buf, sizeof buf, weft_deadline(10 * WEFT_MS)), -ETIMEDOUT);
        /* Something written while we wait: the wait succeeds. */
        struct delayed_write d = {w, done};
        WT_CHECK_INT_EQ(weft_go(write_when_parked, &d), 0);
        WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_IN, LIVE_DL()), 0);
        WT_CHECK_INT_EQ(wait_n(done, 1), 1);
        WT_CHECK_INT_EQ(weft_read(fd, buf, sizeof buf, LIVE_DL()), 1);
        WT_CHECK_INT_EQ(buf[0], 'n');
        WT_CHECK_INT_EQ(weft_fd_close(fd), 0);
        WT_CHECK_INT_EQ(weft_fd_close(w), 0);
    }
    weft_chan_release(done);
}

static void test_reused_fd_number_gets_no_stale_wakeup(void **state)
{
    IO_BEGIN();
    /* In a task only: the poller's registrations are what a reused number
     * could confuse (a plain thread waits with poll(2)), and
     * write_when_parked needs the waiter to be a task it can see parked. */
    wt_run_in_task(reuse_body, NULL);
    wt_assert_no_failures();
    IO_END();
}

/* ================================================================== */
/* accept / connect on loopback TCP                                    */
/* ================================================================== */

struct acceptor {
    int l;
    weft_chan *done;
    struct sockaddr_in peer;
    socklen_t peer_len;
    int fd;
    bool nonblock, cloexec;
};

static void accept_and_answer(void *p)
{
    struct acceptor *a = p;
    a->peer_len = sizeof a->peer;
    a->fd = weft_accept(a->l, (struct sockaddr *)&a->peer, &a->peer_len, LIVE_DL());
    WT_CHECK_INT_GE(a->fd, 0);
    if (a->fd >= 0) {
        a->nonblock = is_nonblocking(a->fd);
        a->cloexec = is_cloexec(a->fd);
        char buf[5];
        WT_CHECK_INT_EQ(read_full(a->fd, buf, 5, LIVE_DL()), 5);
        WT_CHECK(memcmp(buf, "hello", 5) == 0);
        WT_CHECK_INT_EQ(weft_write(a->fd, "world", 5, LIVE_DL()), 5);
        WT_CHECK_INT_EQ(weft_fd_close(a->fd), 0);
    }
    WT_CHECK_INT_EQ(weft_chan_send(a->done, NULL), 0);
}

static void accept_connect_body(void *arg)
{
    (void)arg;
    struct sockaddr_in la;
    int l = tcp_listener(&la, 8);
    WT_CHECK_INT_GE(l, 0);
    struct acceptor a = {.l = l, .done = weft_chan_make(0, 1)};
    WT_CHECK_INT_EQ(weft_go(accept_and_answer, &a), 0);

    int c = tcp_socket(); /* blocking until weft switches it */
    WT_CHECK_INT_GE(c, 0);
    WT_CHECK_INT_EQ(weft_connect(c, (struct sockaddr *)&la, sizeof la, LIVE_DL()), 0);
    WT_CHECK(is_nonblocking(c));
    struct sockaddr_in me, peer;
    socklen_t ml = sizeof me, pl = sizeof peer;
    WT_CHECK_INT_EQ(getsockname(c, (struct sockaddr *)&me, &ml), 0);
    WT_CHECK_INT_EQ(getpeername(c, (struct sockaddr *)&peer, &pl), 0);
    WT_CHECK_INT_EQ(peer.sin_port, la.sin_port);
    WT_CHECK_INT_EQ(weft_write(c, "hello", 5, LIVE_DL()), 5);
    char buf[8];
    WT_CHECK_INT_EQ(read_full(c, buf, 5, LIVE_DL()), 5);
    WT_CHECK(memcmp(buf, "world", 5) == 0);
    WT_CHECK_INT_EQ(weft_read(c, buf, sizeof buf, LIVE_DL()), 0); /* server closed */
    WT_CHECK_INT_EQ(wait_n(a.done, 1), 1);

    /* The accepted descriptor: non-blocking, close-on-exec; the address
     * weft_accept filled in is this client's. */
    WT_CHECK(a.nonblock);
    WT_CHECK(a.cloexec);
    WT_CHECK_INT_EQ(a.peer_len, sizeof(struct sockaddr_in));
    WT_CHECK_INT_EQ(a.peer.sin_family, AF_INET);
    WT_CHECK_INT_EQ(a.peer.sin_port, me.sin_port);
    WT_CHECK_INT_EQ(a.peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    WT_CHECK(is_nonblocking(l));

    /* A connection already queued: accept returns it without waiting,
     * addr/len NULL. */
    int c2 = tcp_socket();
    WT_CHECK_INT_EQ(weft_connect(c2, (struct sockaddr *)&la, sizeof la, LIVE_DL()), 0);
    int s2 = weft_accept(l, NULL, NULL, LIVE_DL());
    WT_CHECK_INT_GE(s2, 0);
    WT_CHECK(is_nonblocking(s2) && is_cloexec(s2));
    WT_CHECK_INT_EQ(weft_fd_close(s2), 0);
    WT_CHECK_INT_EQ(weft_fd_close(c2), 0);

    WT_CHECK_INT_EQ(weft_fd_close(c), 0);
    WT_CHECK_INT_EQ(weft_fd_close(l), 0);
    weft_chan_release(a.done);
}

static void test_accept_and_connect_on_loopback(void **state)
{
    IO_BEGIN();
    run_both(accept_connect_body, NULL);
    IO_END();
}

static void refused_body(void *arg)
{
    (void)arg;
    /* A port that was just bound and released: nobody listens there. */
    int b = tcp_socket();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    WT_CHECK_INT_EQ(bind(b, (struct sockaddr *)&a, sizeof a), 0);
    WT_CHECK_INT_EQ(getsockname(b, (struct sockaddr *)&a, &len), 0);
    WT_CHECK_INT_EQ(close(b), 0);
    int c = tcp_socket();
    WT_CHECK_INT_EQ(weft_connect(c, (struct sockaddr *)&a, sizeof a, LIVE_DL()), -ECONNREFUSED);
    WT_CHECK_INT_EQ(weft_fd_close(c), 0);
    /* The _ctx form too. */
    c = tcp_socket();
    WT_CHECK_INT_EQ(weft_connect_ctx(weft_ctx_background(), c, (struct sockaddr *)&a, sizeof a),
                    -ECONNREFUSED);
    WT_CHECK_INT_EQ(weft_fd_close(c), 0);
}

static void test_connect_to_a_closed_port_is_econnrefused(void **state)
{
    IO_BEGIN();
    run_both(refused_body, NULL);
    IO_END();
}

static void accept_deadline_body(void *arg)
{
    (void)arg;
    struct sockaddr_in la;
    int l = tcp_listener(&la, 8);
    WT_CHECK_INT_GE(l, 0);
    int64_t dl = weft_deadline(20 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_accept(l, NULL, NULL, dl), -ETIMEDOUT);
    WT_CHECK_INT_GE(weft_now(), dl);
    WT_CHECK_INT_EQ(weft_accept(l, NULL, NULL, 0), -ETIMEDOUT);
    WT_CHECK_INT_EQ(weft_fd_close(l), 0);
}

static void test_accept_with_nobody_connecting_times_out_never_early(void **state)
{
    IO_BEGIN();
    run_both(accept_deadline_body, NULL);
    IO_END();
}

/* A listener with a backlog of 0 that nobody accepts on: once its queue
 * is full the kernel drops further SYNs, so a connect waits (SYN
 * retransmission) and its deadline ends it. */
static void connect_deadline_body(void *arg)
{
    (void)arg;
    struct sockaddr_in la;
    int l = tcp_listener(&la, 0);
    WT_CHECK_INT_GE(l, 0);
    int cs[32];
    int n = 0, timed_out = 0;
    for (; n < 32 && !timed_out; n++) {
        cs[n] = tcp_socket();
        int64_t dl = weft_deadline(30 * WEFT_MS);
        int rc = weft_connect(cs[n], (struct sockaddr *)&la, sizeof la, dl);
        if (rc == 0)
            continue;
        WT_CHECK_INT_EQ(rc, -ETIMEDOUT);
        WT_CHECK_INT_GE(weft_now(), dl);
        timed_out = 1;
    }
    if (!timed_out)
        fprintf(stderr, "[  NOTE    ] 32 connects to a listener with backlog 0 all succeeded: "
                        "connect deadline not exercised on this kernel\n");
    for (int i = 0; i < n; i++)
        WT_CHECK_INT_EQ(weft_fd_close(cs[i]), 0);
    WT_CHECK_INT_EQ(weft_fd_close(l), 0);
}

static void test_connect_to_a_full_backlog_times_out_never_early(void **state)
{
    IO_BEGIN();
    run_both(connect_deadline_body, NULL);
    IO_END();
}

/* ================================================================== */
/* 10 000 loopback connections at once                                 */
/* ================================================================== */

struct many {
    struct sockaddr_in addr;
    int l, n;
    weft_chan *tokens; /* a client holds one until its first echo is back */
    weft_chan *gate;   /* closed once every connection was echoed once */
    weft_chan *done;   /* one signal per client, per server task, listener */
    atomic_int echoed;
    atomic_int server_open;
    atomic_int server_open_at_gate;
};

static struct many *many_g;

static void echo_conn(void *p)
{
    struct many *m = many_g;
    int fd = *(int *)p;
    atomic_fetch_add(&m->server_open, 1);
    char buf[64];
    int64_t dl = weft_deadline(6 * WT_LIVENESS_NS);
    for (;;) {
        ssize_t r = weft_read(fd, buf, sizeof buf, dl);
        if (r == 0)
            break;
        WT_CHECK_MSG(r > 0, "server read: %zd", r);
        if (r < 0)
            break;
        ssize_t w = weft_write(fd, buf, (size_t)r, dl);
        WT_CHECK_INT_EQ(w, r);
        if (w != r)
            break;
    }
    WT_CHECK_INT_EQ(weft_fd_close(fd), 0);
    atomic_fetch_sub(&m->server_open, 1);
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0);
}

static void listener_task(void *p)
{
    struct many *m = p;
    int64_t dl = weft_deadline(6 * WT_LIVENESS_NS);
    for (int i = 0; i < m->n; i++) {
        int fd = weft_accept(m->l, NULL, NULL, dl);
        WT_CHECK_MSG(fd >= 0, "accept #%d: %d", i, fd);
        if (fd < 0)
            break;
        int rc = weft_go_copy(echo_conn, &fd, sizeof fd);
        WT_CHECK_INT_EQ(rc, 0);
    }
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0);
}

static bool echo_round(int fd, int i, int round, int64_t dl)
{
    char msg[32], back[32];
    int len = snprintf(msg, sizeof msg, "c%d-r%d\n", i, round);
    ssize_t w = weft_write(fd, msg, (size_t)len, dl);
    WT_CHECK_MSG(w == len, "client %d write: %zd", i, w);
    ssize_t r = read_full(fd, back, (size_t)len, dl);
    WT_CHECK_MSG(r == len, "client %d read: %zd", i, r);
    WT_CHECK_MSG(r != len || memcmp(msg, back, (size_t)len) == 0, "client %d: echo differs", i);
    return w == len && r == len;
}

static void many_client(void *p)
{
    struct many *m = many_g;
    int i = *(int *)p;
    int64_t dl = weft_deadline(6 * WT_LIVENESS_NS);
    WT_CHECK_INT_EQ(weft_chan_send(m->tokens, NULL), 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    WT_CHECK_MSG(fd >= 0, "client %d: socket: errno %d", i, wt_errno());
    int rc = fd >= 0 ? weft_connect(fd, (struct sockaddr *)&m->addr, sizeof m->addr, dl) : -1;
    WT_CHECK_MSG(rc == 0, "client %d: connect: %d", i, rc);
    bool ok = rc == 0 && echo_round(fd, i, 0, dl);
    WT_CHECK_INT_EQ(weft_chan_recv(m->tokens, NULL), 0);
    /* Everyone connected and echoed once: every connection is open now. */
    if (atomic_fetch_add(&m->echoed, 1) + 1 == m->n) {
        atomic_store(&m->server_open_at_gate, atomic_load(&m->server_open));
        WT_CHECK_INT_EQ(weft_chan_close(m->gate), 0);
    }
    WT_CHECK_INT_EQ(weft_chan_recv(m->gate, NULL), EPIPE);
    if (ok)
        (void)echo_round(fd, i, 1, dl);
    if (fd >= 0)
        WT_CHECK_INT_EQ(weft_fd_close(fd), 0);
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0);
}

static void test_ten_thousand_loopback_connections_at_once(void **state)
{
    IO_BEGIN();
    int n = 10000;
    struct rlimit old, rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    rl = old;
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 20500) {
        long fit = ((long)rl.rlim_max - 100) / 2;
        n = fit < n ? (int)fit : n;
        fprintf(stderr,
                "[  NOTE    ] RLIMIT_NOFILE hard limit %ld < 20500: using %d connections "
                "(2 descriptors each)\n",
                (long)rl.rlim_max, n);
    }
#ifdef WT_TSAN_BUILD
    /* ThreadSanitizer: two live tasks (fibers) per connection, and every
     * syscall intercepted: a quarter of the build's live-task limit
     * (testutil.h) keeps it far below the fiber limit and within its
     * time budget (5000 connections with clang, 1000 with gcc). */
    if (n > WT_MAX_LIVE_TASKS / 4)
        n = WT_MAX_LIVE_TASKS / 4;
    fprintf(stderr, "[  NOTE    ] ThreadSanitizer build: using %d connections\n", n);
#endif
    assert_true(n > 0);

    struct many m = {.n = n};
    many_g = &m;
    m.l = tcp_listener(&m.addr, 4096);
    assert_true(m.l >= 0);
    m.tokens = weft_chan_make(0, 256);
    m.gate = weft_chan_make(0, 0);
    m.done = weft_chan_make(0, (size_t)(2 * n + 1));
    assert_non_null(m.tokens);
    assert_non_null(m.gate);
    assert_non_null(m.done);
    assert_int_equal(weft_go(listener_task, &m), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(weft_go_copy(many_client, &i, sizeof i), 0);
    size_t got = wt_wait_n_until(m.done, (size_t)(2 * n + 1), weft_deadline(6 * WT_LIVENESS_NS));
    wt_assert_no_failures();
    assert_int_equal(got, (size_t)(2 * n + 1));
    assert_int_equal(atomic_load(&m.echoed), n);
    assert_int_equal(atomic_load(&m.server_open_at_gate), n);
    assert_int_equal(atomic_load(&m.server_open), 0);
    assert_int_equal(weft_fd_close(m.l), 0);
    weft_chan_release(m.tokens);
    weft_chan_release(m.gate);
    weft_chan_release(m.done);
    many_g = NULL;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    IO_END();
}

/* ================================================================== */
/* Failure injection: WEFT_FAIL_POLL                                    */
/* ================================================================== */

static void fail_poll_body(void *arg)
{
    (void)arg;
    weft_chan *done = weft_chan_make(0, 1);
    /* A fresh descriptor: its first wait registers it with the poller,
     * and that registration fails. */
    int p[2];
    WT_CHECK_INT_EQ(mkpipe(p), 0);
    WT_CHECK_INT_EQ(weft_fail_nth(WEFT_FAIL_POLL, 1), 0);
    int64_t dl = weft_deadline(2 * WEFT_SEC);
    int rc = weft_fd_wait(p[0], WEFT_IN, dl);
    WT_CHECK_MSG(rc != 0 && rc != ETIMEDOUT, "fd_wait with a failing epoll_ctl: %d", rc);
    WT_CHECK_INT_EQ(weft_fail_nth(WEFT_FAIL_POLL, 0), 0);
    /* The same descriptor works afterwards: nothing there yet... */
    WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, weft_deadline(10 * WEFT_MS)), ETIMEDOUT);
    /* ...and a write while this task is parked wakes it. */
    struct delayed_write d = {p[1], done};
    WT_CHECK_INT_EQ(weft_go(write_when_parked, &d), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(p[0], WEFT_IN, LIVE_DL()), 0);
    WT_CHECK_INT_EQ(wait_n(done, 1), 1);
    char c;
    WT_CHECK_INT_EQ(weft_read(p[0], &c, 1, LIVE_DL()), 1);

    /* weft_read on another fresh descriptor, same story. */
    int q[2];
    WT_CHECK_INT_EQ(mkpipe(q), 0);
    WT_CHECK_INT_EQ(weft_fail_nth(WEFT_FAIL_POLL, 1), 0);
    ssize_t r = weft_read(q[0], &c, 1, weft_deadline(2 * WEFT_SEC));
    WT_CHECK_MSG(r < 0 && r != -ETIMEDOUT && r != -EAGAIN,
                 "weft_read with a failing epoll_ctl: %zd", r);
    WT_CHECK_INT_EQ(weft_fail_nth(WEFT_FAIL_POLL, 0), 0);
    struct delayed_write d2 = {q[1], done};
    WT_CHECK_INT_EQ(weft_go(write_when_parked, &d2), 0);
    WT_CHECK_INT_EQ(weft_read(q[0], &c, 1, LIVE_DL()), 1);
    WT_CHECK_INT_EQ(wait_n(done, 1), 1);

    int fds[] = {p[0], p[1], q[0], q[1]};
    for (int i = 0; i < 4; i++)
        WT_CHECK_INT_EQ(weft_fd_close(fds[i]), 0);
    weft_chan_release(done);
}

static void test_poll_failure_is_an_error_and_the_runtime_goes_on(void **state)
{
    IO_BEGIN();
    /* In a task: the poller (epoll) is what a task's wait goes through. */
    wt_run_in_task(fail_poll_body, NULL);
    wt_assert_no_failures();
    /* The runtime still runs tasks, channels and I/O. */
    wt_run_in_task(eof_body, NULL);
    wt_assert_no_failures();
    wt_run_in_task(partial_body, NULL);
    wt_assert_no_failures();
    IO_END();
}

/* ================================================================== */
/* Plain threads                                                       */
/* ================================================================== */

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * WEFT_SEC + ts.tv_nsec;
}

static void late_writer(void *p)
{
    struct delayed_write *d = p;
    /* Not synchronisation: the reader gets the byte whenever it comes;
     * the delay only makes it block long enough to see it does not spin. */
    weft_sleep(100 * WEFT_MS);
    WT_CHECK_INT_EQ(weft_write(d->fd, "t", 1, LIVE_DL()), 1);
    WT_CHECK_INT_EQ(weft_chan_send(d->done, NULL), 0);
}

static void test_plain_thread_read_blocks_without_spinning(void **state)
{
    IO_BEGIN();
    int p[2];
    assert_int_equal(mkpipe(p), 0);
    weft_chan *done = weft_chan_make(0, 1);
    struct delayed_write d = {p[1], done};
    assert_int_equal(weft_go(late_writer, &d), 0);
    int64_t t0 = weft_now(), c0 = thread_cpu_ns();
    char c = 0;
    assert_int_equal(weft_read(p[0], &c, 1, LIVE_DL()), 1);
    int64_t cpu = thread_cpu_ns() - c0, wall = weft_now() - t0;
    assert_int_equal(c, 't');
    assert_int_equal(wait_n(done, 1), 1);
    /* Blocked, not spinning: a spinning (or yielding) thread would have
     * burnt about as much CPU time as it waited. */
    if (wall >= 50 * WEFT_MS && cpu >= wall / 2)
        fail_msg("the plain thread used %lld ns of CPU while blocked %lld ns in weft_read",
                 (long long)cpu, (long long)wall);
    assert_int_equal(weft_fd_close(p[0]), 0);
    assert_int_equal(weft_fd_close(p[1]), 0);
    weft_chan_release(done);
    IO_END();
}

/* ================================================================== */
/* weft_blocking                                                       */
/* ================================================================== */

struct blk {
    int64_t sleep_ns;
    atomic_int ran;
    uint64_t self_in_fn;
    pthread_t thread_in_fn;
};

static void blk_sleep(void *p)
{
    struct blk *b = p;
    wt_os_sleep_ns(b->sleep_ns); /* a real blocking nanosleep */
    b->self_in_fn = weft_self();
    b->thread_in_fn = pthread_self();
    atomic_store(&b->ran, 1);
}

static void blocking_in_task(void *p)
{
    struct blk *b = p;
    WT_CHECK_INT_EQ(weft_blocking(blk_sleep, b), 0);
    /* fn finished before weft_blocking returned. */
    WT_CHECK_INT_EQ(atomic_load(&b->ran), 1);
}

static void test_blocking_runs_fn_to_completion(void **state)
{
    IO_BEGIN();
    /* In a task: fn runs on a helper thread, not inside the task. */
    struct blk b = {.sleep_ns = 20 * WEFT_MS};
    wt_run_in_task(blocking_in_task, &b);
    wt_assert_no_failures();
    assert_int_equal(atomic_load(&b.ran), 1);
    assert_int_equal(b.self_in_fn, 0);
    /* On a plain thread: fn runs right there. */
    struct blk b2 = {.sleep_ns = WEFT_MS};
    assert_int_equal(weft_blocking(blk_sleep, &b2), 0);
    assert_int_equal(atomic_load(&b2.ran), 1);
    assert_true(pthread_equal(b2.thread_in_fn, pthread_self()));
    IO_END();
}

struct blk_pipe {
    int rd;
    atomic_int entered, left, bad_self;
    weft_chan *done;
};

static void blk_read_pipe(void *p)
{
    struct blk_pipe *b = p;
    if (weft_self() != 0)
        atomic_fetch_add(&b->bad_self, 1);
    atomic_fetch_add(&b->entered, 1);
    char c;
    ssize_t r;
    do
        r = read(b->rd, &c, 1); /* a real blocking read: the pipe is blocking */
    while (r == -1 && errno == EINTR);
    if (r == 1)
        atomic_fetch_add(&b->left, 1);
}

static void blk_pipe_task(void *p)
{
    struct blk_pipe *b = p;
    WT_CHECK_INT_EQ(weft_blocking(blk_read_pipe, b), 0);
    WT_CHECK_INT_EQ(weft_chan_send(b->done, NULL), 0);
}

struct pingpong {
    weft_chan *ping, *pong, *done;
    int rounds;
    bool server;
};

static void pingpong_side(void *p)
{
    struct pingpong *pp = p;
    for (int i = 0; i < pp->rounds; i++) {
        int v = i, got = -1;
        if (pp->server) {
            WT_CHECK_INT_EQ(weft_chan_recv(pp->ping, &got), 0);
            WT_CHECK_INT_EQ(got, i);
            WT_CHECK_INT_EQ(weft_chan_send(pp->pong, &got), 0);
        } else {
            WT_CHECK_INT_EQ(weft_chan_send(pp->ping, &v), 0);
            WT_CHECK_INT_EQ(weft_chan_recv(pp->pong, &got), 0);
            WT_CHECK_INT_EQ(got, i);
        }
    }
    WT_CHECK_INT_EQ(weft_chan_send(pp->done, NULL), 0);
}

static void test_blocking_calls_leave_workers_free(void **state)
{
    IO_BEGIN();
    struct weft_stats st;
    assert_int_equal(weft_stats(&st), 0);
    const int nb = 2 * (int)(st.workers ? st.workers : 2);
    int p[2];
    assert_int_equal(mkpipe(p), 0); /* stays blocking: weft never sees it */
    struct blk_pipe b = {.rd = p[0], .done = weft_chan_make(0, (size_t)nb)};
    for (int i = 0; i < nb; i++)
        assert_int_equal(weft_go(blk_pipe_task, &b), 0);
    /* Every blocking function is in its blocking read, each on a helper
     * thread of its own. */
    int64_t dl = LIVE_DL();
    while (atomic_load(&b.entered) < nb && weft_now() < dl)
        wt_os_sleep_ns(WEFT_MS);
    int entered = atomic_load(&b.entered);

    /* Meanwhile two tasks play ping-pong to the end. */
    struct pingpong pa = {weft_chan_make(sizeof(int), 0), weft_chan_make(sizeof(int), 0),
                          weft_chan_make(0, 2), 1000, false};
    struct pingpong pb = pa;
    pb.server = true;
    size_t played = 0;
    if (entered == nb) {
        assert_int_equal(weft_go(pingpong_side, &pa), 0);
        assert_int_equal(weft_go(pingpong_side, &pb), 0);
        played = wait_n(pa.done, 2);
    }
    /* No blocking call could have returned: the pipe is still empty. */
    int left = atomic_load(&b.left);

    /* Release them (also when something above failed, so no task and no
     * pool thread is left behind for the next test). */
    char bytes[64] = {0};
    assert_true(nb <= (int)sizeof bytes);
    assert_int_equal(write(p[1], bytes, (size_t)nb), nb);
    size_t finished = wait_n(b.done, (size_t)nb);
    weft_chan_release(pa.ping);
    weft_chan_release(pa.pong);
    weft_chan_release(pa.done);
    weft_chan_release(b.done);
    assert_int_equal(weft_fd_close(p[0]), 0);
    assert_int_equal(weft_fd_close(p[1]), 0);
    assert_int_equal(finished, (size_t)nb);
    if (entered != nb)
        fail_msg("only %d of %d blocking functions were running at once (the pool has room "
                 "for 64)",
                 entered, nb);
    assert_int_equal(atomic_load(&b.bad_self), 0);
    assert_int_equal(played, 2);
    assert_int_equal(left, 0);
    assert_int_equal(atomic_load(&b.left), nb);
    IO_END();
}

struct blk_many {
    atomic_int count;
    weft_chan *done;
};

static void blk_count(void *p)
{
    struct blk_many *m = p;
    wt_os_sleep_ns(WEFT_MS);
    atomic_fetch_add(&m->count, 1);
}

static void blk_count_task(void *p)
{
    struct blk_many *m = p;
    WT_CHECK_INT_EQ(weft_blocking(blk_count, m), 0);
    WT_CHECK_INT_EQ(weft_chan_send(m->done, NULL), 0);
}

static void test_blocking_calls_beyond_the_pool_queue_and_all_complete(void **state)
{
    IO_BEGIN();
    enum { N = 150 }; /* above the default pool of 64 threads */
    struct blk_many m = {.done = weft_chan_make(0, N)};
    for (int i = 0; i < N; i++)
        assert_int_equal(weft_go(blk_count_task, &m), 0);
    assert_int_equal(wait_n(m.done, N), N);
    assert_int_equal(atomic_load(&m.count), N);
    weft_chan_release(m.done);
    IO_END();
}

/* ================================================================== */
/* Bad input                                                           */
/* ================================================================== */

static void bad_input_body(void *arg)
{
    (void)arg;
    char buf[8];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    weft_ctx *bg = weft_ctx_background();
    const int bad_fds[] = {-1, -1000, INT_MIN, INT_MAX, 1 << 24};
    for (size_t i = 0; i < sizeof bad_fds / sizeof bad_fds[0]; i++) {
        int fd = bad_fds[i];
        WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_IN, LIVE_DL()), EBADF);
        WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_OUT, 0), EBADF);
        WT_CHECK_INT_EQ(weft_fd_wait_ctx(bg, fd, WEFT_IN), EBADF);
        WT_CHECK_INT_EQ(weft_read(fd, buf, sizeof buf, LIVE_DL()), -EBADF);
        WT_CHECK_INT_EQ(weft_read_ctx(bg, fd, buf, sizeof buf), -EBADF);
        WT_CHECK_INT_EQ(weft_write(fd, buf, sizeof buf, LIVE_DL()), -EBADF);
        WT_CHECK_INT_EQ(weft_write_ctx(bg, fd, buf, sizeof buf), -EBADF);
        WT_CHECK_INT_EQ(weft_accept(fd, NULL, NULL, LIVE_DL()), -EBADF);
        WT_CHECK_INT_EQ(weft_accept_ctx(bg, fd, NULL, NULL), -EBADF);
        WT_CHECK_INT_EQ(weft_connect(fd, (struct sockaddr *)&a, sizeof a, LIVE_DL()), -EBADF);
        WT_CHECK_INT_EQ(weft_connect_ctx(bg, fd, (struct sockaddr *)&a, sizeof a), -EBADF);
        WT_CHECK_INT_EQ(weft_fd_close(fd), EBADF);
    }
    /* A number that is not open (it was, a moment ago). */
    int p[2];
    WT_CHECK_INT_EQ(mkpipe(p), 0);
    int gone = p[0];
    WT_CHECK_INT_EQ(weft_fd_close(gone), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(gone, WEFT_IN, LIVE_DL()), EBADF);
    WT_CHECK_INT_EQ(weft_read(gone, buf, sizeof buf, LIVE_DL()), -EBADF);
    WT_CHECK_INT_EQ(weft_fd_close(gone), EBADF);

    /* Bad event sets, on an open descriptor. */
    WT_CHECK_INT_EQ(mkpipe(p), 0);
    const int bad_events[] = {0, 4, -1, WEFT_IN | 4, 8, INT_MIN};
    for (size_t i = 0; i < sizeof bad_events / sizeof bad_events[0]; i++) {
        WT_CHECK_INT_EQ(weft_fd_wait(p[1], bad_events[i], LIVE_DL()), EINVAL);
        WT_CHECK_INT_EQ(weft_fd_wait_ctx(bg, p[1], bad_events[i]), EINVAL);
    }
    /* NULL context. */
    WT_CHECK_INT_EQ(weft_fd_wait_ctx(NULL, p[1], WEFT_OUT), EINVAL);
    /* NULL buffer with n > 0 (data present, so the call cannot wait). */
    WT_CHECK_INT_EQ(write(p[1], "abcd", 4), 4);
    ssize_t r = weft_read(p[0], NULL, 4, LIVE_DL());
    WT_CHECK_MSG(r == -EINVAL || r == -EFAULT, "weft_read(NULL, 4) = %zd", r);
    r = weft_write(p[1], NULL, 4, LIVE_DL());
    WT_CHECK_MSG(r == -EINVAL || r == -EFAULT, "weft_write(NULL, 4) = %zd", r);
    /* weft_blocking without a function. */
    WT_CHECK_INT_EQ(weft_blocking(NULL, NULL), EINVAL);
    WT_CHECK_INT_EQ(weft_blocking(NULL, buf), EINVAL);
    WT_CHECK_INT_EQ(weft_fd_close(p[0]), 0);
    WT_CHECK_INT_EQ(weft_fd_close(p[1]), 0);
}

static void test_bad_input_is_an_error_code(void **state)
{
    IO_BEGIN();
    run_both(bad_input_body, NULL);
    IO_END();
}

/* Regular files cannot be polled: they are always ready. */
static void regular_file_body(void *arg)
{
    (void)arg;
    char path[] = "/tmp/weft_test_io_XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    WT_CHECK_INT_GE(fd, 0);
    if (fd < 0)
        return;
    unlink(path);
    WT_CHECK_INT_EQ(weft_write(fd, "regular", 7, LIVE_DL()), 7);
    WT_CHECK_INT_EQ(lseek(fd, 0, SEEK_SET), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_IN, LIVE_DL()), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_OUT, LIVE_DL()), 0);
    WT_CHECK_INT_EQ(weft_fd_wait(fd, WEFT_IN | WEFT_OUT, 0), 0);
    char buf[16];
    WT_CHECK_INT_EQ(weft_read(fd, buf, sizeof buf, LIVE_DL()), 7);
    WT_CHECK(memcmp(buf, "regular", 7) == 0);
    WT_CHECK_INT_EQ(weft_read(fd, buf, sizeof buf, LIVE_DL()), 0); /* end of file */
    WT_CHECK_INT_EQ(weft_fd_close(fd), 0);
}

static void test_regular_files_are_always_ready(void **state)
{
    IO_BEGIN();
    run_both(regular_file_body, NULL);
    IO_END();
}

/* ================================================================== */
/* Diagnostics: dumps, leak checks, deadlock detection                 */
/* ================================================================== */

static void test_dump_shows_io_wait_with_fd_and_direction(void **state)
{
    IO_BEGIN();
    int p[2], s[2];
    assert_int_equal(mkpipe(p), 0);
    assert_int_equal(mksockpair(s), 0);
    weft_chan *done = weft_chan_make(0, 2);
    char buf[8];
    struct op rd = {.kind = OP_READ, .fd = p[0], .deadline = LIVE_DL(), .buf = buf,
                    .n = sizeof buf, .done = done};
    struct op wr = {.kind = OP_WRITE, .fd = s[0], .deadline = LIVE_DL(), .buf = filler,
                    .n = sizeof filler, .done = done};
    assert_int_equal(weft_go(op_task, &rd), 0);
    assert_int_equal(weft_go(op_task, &wr), 0);
    assert_true(await_parked(2));
    char want_r[64], want_w[64];
    snprintf(want_r, sizeof want_r, "io wait fd %d (read)", p[0]);
    snprintf(want_w, sizeof want_w, "io wait fd %d (write)", s[0]);
    /* Parked is counted when the task is parked; the dump must show the
     * wait (eventually, if the reason is published a moment later). */
    char *out = NULL;
    int64_t dl = LIVE_DL();
    for (;;) {
        struct mem m;
        assert_true(weft_dump_tasks(mem_open(&m)) >= 2);
        out = mem_close(&m);
        if ((strstr(out, want_r) && strstr(out, want_w)) || weft_now() >= dl)
            break;
        free(out);
        wt_os_sleep_ns(WEFT_MS);
    }
    assert_contains(out, want_r);
    assert_contains(out, want_w);
    assert_not_contains(out, "certainly leaked");
    free(out);

    /* Release both: a byte for the reader, the peer drains the writer. */
    assert_int_equal(write(p[1], "x", 1), 1);
    size_t drained = 0;
    char *sink = malloc(1 << 16);
    assert_non_null(sink);
    while (drained < sizeof filler) {
        ssize_t r = weft_read(s[1], sink, 1 << 16, LIVE_DL());
        if (r <= 0)
            break;
        drained += (size_t)r;
    }
    free(sink);
    assert_int_equal(drained, sizeof filler);
    assert_int_equal(wait_n(done, 2), 2);
    assert_int_equal(rd.rc, 1);
    assert_int_equal(wr.rc, (long long)sizeof filler);
    int fds[] = {p[0], p[1], s[0], s[1]};
    for (int i = 0; i < 4; i++)
        assert_int_equal(weft_fd_close(fds[i]), 0);
    weft_chan_release(done);
    IO_END();
}

/* A task in I/O wait could be woken by the peer at any time: the leak
 * check waits out its timeout and reports it (never an early verdict),
 * and never calls it certainly leaked. */
static void test_leak_check_waits_out_its_timeout_for_a_task_in_io_wait(void **state)
{
    IO_BEGIN();
    int p[2];
    assert_int_equal(mkpipe(p), 0);
    weft_chan *done = weft_chan_make(0, 1);
    char buf[4];
    uint64_t mark = weft_leak_mark();
    struct op rd = {.kind = OP_READ, .fd = p[0], .deadline = WEFT_FOREVER, .buf = buf,
                    .n = sizeof buf, .done = done};
    assert_int_equal(weft_go(op_task, &rd), 0);
    assert_true(await_parked(1));
    const int64_t timeout = 50 * WEFT_MS;
    int64_t t0 = weft_now();
    struct mem m;
    size_t n = weft_leak_check(mark, timeout, mem_open(&m));
    int64_t took = weft_now() - t0;
    char *out = mem_close(&m);
    assert_int_equal(n, 1);
    if (took < timeout)
        fail_msg("leak check gave its verdict after %lld ns, before its %lld ns timeout:\n%s",
                 (long long)took, (long long)timeout, out);
    char want[64];
    snprintf(want, sizeof want, "io wait fd %d (read)", p[0]);
    assert_contains(out, want);
    assert_not_contains(out, "certainly leaked");
    free(out);

    /* The peer writes: the task returns and the check is clean. */
    assert_int_equal(write(p[1], "w", 1), 1);
    assert_int_equal(wait_n(done, 1), 1);
    assert_int_equal(rd.rc, 1);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    assert_int_equal(weft_fd_close(p[0]), 0);
    assert_int_equal(weft_fd_close(p[1]), 0);
    weft_chan_release(done);
    IO_END();
}

static atomic_int deadlock_hook_calls;
static void count_deadlock(void *arg)
{
    (void)arg;
    atomic_fetch_add(&deadlock_hook_calls, 1);
}

struct watchdog {
    int stop_rd;
    int tfd;
    atomic_int declared;
    atomic_int fired;
};

/* Ends the test if the I/O waiter is never woken (a broken poller):
 * closes the timer descriptor so the waiter gets EBADF.  It declares
 * itself with weft_thread_ignore() so its existence does not hide a
 * (wrong) deadlock verdict; it only acts when the test has failed. */
static void *watchdog_thread(void *p)
{
    struct watchdog *w = p;
    WT_CHECK_INT_EQ(weft_thread_ignore(), 0);
    atomic_store(&w->declared, 1);
    struct pollfd pf = {.fd = w->stop_rd, .events = POLLIN};
    int rc = poll(&pf, 1, (int)(WT_LIVENESS_NS / WEFT_MS));
    if (rc == 0) {
        atomic_store(&w->fired, 1);
        (void)weft_fd_close(w->tfd);
    }
    return NULL;
}

/* A task waiting for a timerfd (which only the kernel makes ready) while
 * the plain test thread waits on a channel for good: every task is parked
 * and nothing inside weft can wake them, but the descriptor can: that is
 * not a deadlock. */
static void test_task_in_io_wait_is_not_a_deadlock(void **state)
{
    IO_BEGIN();
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    assert_true(tfd >= 0);
    int stop[2];
    assert_int_equal(mkpipe(stop), 0);
    struct watchdog wd = {.stop_rd = stop[0], .tfd = tfd};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, watchdog_thread, &wd), 0);
    /* Until it has declared itself it is a thread outside weft, beside
     * which no deadlock verdict is given at all: wait for that. */
    int64_t dl = LIVE_DL();
    while (!atomic_load(&wd.declared) && weft_now() < dl)
        wt_os_sleep_ns(WEFT_MS);
    assert_true(atomic_load(&wd.declared));

    atomic_store(&deadlock_hook_calls, 0);
    weft_set_deadlock_hook(count_deadlock, NULL);
    weft_chan *done = weft_chan_make(0, 0);
    uint64_t ticks = 0;
    struct op rd = {.kind = OP_READ, .fd = tfd, .deadline = WEFT_FOREVER, .buf = &ticks,
                    .n = sizeof ticks, .done = done};
    assert_int_equal(weft_go(op_task, &rd), 0);
    assert_true(await_parked(1));
    struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000}};
    assert_int_equal(timerfd_settime(tfd, 0, &its, NULL), 0);
    /* Blocks this thread with no deadline: only the timer can end it. */
    assert_int_equal(weft_chan_recv(done, NULL), 0);
    weft_set_deadlock_hook(NULL, NULL);

    assert_int_equal(write(stop[1], "s", 1), 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(atomic_load(&wd.fired), 0);
    assert_int_equal(rd.rc, (long long)sizeof ticks);
    assert_true(ticks >= 1);
    assert_int_equal(atomic_load(&deadlock_hook_calls), 0);
    assert_int_equal(weft_fd_close(tfd), 0);
    assert_int_equal(weft_fd_close(stop[0]), 0);
    assert_int_equal(weft_fd_close(stop[1]), 0);
    weft_chan_release(done);
    IO_END();
}

/* ================================================================== */

static int io_group_setup(void **state)
{
    (void)state;
    struct weft_config cfg = {.workers = 2};
    int rc = weft_init(&cfg);
    if (rc != 0) {
        fprintf(stderr, "weft_init(workers=2) = %d\n", rc);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* An optional argument filters the tests by name (cmocka pattern). */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_wait_returns_once_data_is_written_and_out_is_ready_at_once),
        cmocka_unit_test(test_read_returns_zero_at_end_of_file),
        cmocka_unit_test(test_partial_reads_return_at_most_n_and_the_rest_arrives),
        cmocka_unit_test(test_read_after_peer_reset_is_econnreset),
        cmocka_unit_test(test_write_to_a_closed_peer_is_epipe_without_sigpipe),
        cmocka_unit_test(test_large_write_to_a_slow_reader_arrives_intact),
        cmocka_unit_test(test_deadlines_are_never_early_and_past_deadlines_do_not_wait),
        cmocka_unit_test(test_ctx_cancel_and_timeout_end_io_waits),
        cmocka_unit_test(test_fd_close_wakes_every_waiter_with_ebadf),
        cmocka_unit_test(test_reused_fd_number_gets_no_stale_wakeup),
        cmocka_unit_test(test_accept_and_connect_on_loopback),
        cmocka_unit_test(test_connect_to_a_closed_port_is_econnrefused),
        cmocka_unit_test(test_accept_with_nobody_connecting_times_out_never_early),
        cmocka_unit_test(test_connect_to_a_full_backlog_times_out_never_early),
        cmocka_unit_test(test_ten_thousand_loopback_connections_at_once),
        cmocka_unit_test(test_poll_failure_is_an_error_and_the_runtime_goes_on),
        cmocka_unit_test(test_plain_thread_read_blocks_without_spinning),
        cmocka_unit_test(test_blocking_runs_fn_to_completion),
        cmocka_unit_test(test_blocking_calls_leave_workers_free),
        cmocka_unit_test(test_blocking_calls_beyond_the_pool_queue_and_all_complete),
        cmocka_unit_test(test_bad_input_is_an_error_code),
        cmocka_unit_test(test_regular_files_are_always_ready),
        cmocka_unit_test(test_dump_shows_io_wait_with_fd_and_direction),
        cmocka_unit_test(test_leak_check_waits_out_its_timeout_for_a_task_in_io_wait),
        cmocka_unit_test(test_task_in_io_wait_is_not_a_deadlock),
    };
    return cmocka_run_group_tests(tests, io_group_setup, wt_group_teardown);
}
