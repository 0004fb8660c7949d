/*
 * 05_echo_server.c — one task per connection, shut down by a context.
 *
 * The Go original is the canonical net server:
 *
 *     wg.Add(1)
 *     go func() {                      // the listener
 *         defer wg.Done()
 *         for {
 *             conn, err := ln.Accept()
 *             if err != nil { return }
 *             wg.Add(1)
 *             go func(c net.Conn) {    // one goroutine per connection
 *                 defer wg.Done()
 *                 defer c.Close()
 *                 io.Copy(c, c)        // until EOF, an error, or shutdown
 *             }(conn)
 *         }
 *     }()
 *     ...
 *     cancel(); wg.Wait()              // Shutdown: nothing left running
 *
 * In weft the I/O calls park the task, not the worker thread, so thousands
 * of connections each have their own task with a plain loop.  Every
 * blocking call takes the server's context (weft_accept_ctx,
 * weft_read_ctx, weft_write_ctx): canceling it wakes the listener and every
 * connection task, wherever each is parked, and each closes its own
 * descriptor with weft_fd_close on the way out.  A WaitGroup counts the
 * listener and the connection tasks, so "canceled, then waited" means no
 * task of the server is left — which weft_leak_check confirms.
 *
 * main (in weft_run) starts the server on 127.0.0.1 (port 0: any free
 * port; or the port given as argv[1]), runs a few client tasks against it
 * (connect, send, read the echo back, compare), leaves one client connected
 * and silent, shuts the server down and checks that no task is left.
 *
 * Run: ./build/examples/05_echo_server [port]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

struct server {
    weft_ctx *ctx;     /* canceled to shut down */
    int lfd;           /* listening socket, closed by the listener */
    weft_wg wg;        /* the listener + every connection task */
    _Atomic long conns;  /* connections accepted */
    _Atomic long echoed; /* bytes echoed */
};

struct conn {
    struct server *s;
    int fd;
};

/* One connection: read what arrives, write it back (io.Copy(c, c)). */
static void serve_conn(void *arg)
{
    struct conn *c = arg; /* weft_go_copy's copy: lives as long as the task */
    char buf[4096];
    for (;;) {
        ssize_t n = weft_read_ctx(c->s->ctx, c->fd, buf, sizeof buf);
        /* n == 0: the peer closed its side (EOF), the normal end.
         * -ECANCELED: the server is shutting down; without this case a
         *  client that stays connected and silent would keep this task
         *  parked in read forever (the leak).
         * Any other error (-ECONNRESET, ...): the connection is gone. */
        if (n <= 0)
            break;
        /* weft_write writes all n bytes or fails: a slow reader parks us
         * here, and shutdown wakes us here too. */
        if (weft_write_ctx(c->s->ctx, c->fd, buf, (size_t)n) < 0)
            break;
        atomic_fetch_add(&c->s->echoed, n);
    }
    weft_fd_close(c->fd); /* defer c.Close(): wakes any other waiter on fd */
    weft_wg_done(&c->s->wg); /* defer wg.Done() */
}

/* Whether accept's error is about this one connection or a passing
 * shortage, so that the listener should go on (Go's Serve does the same). */
static int accept_error_is_temporary(int err)
{
    switch (err) {
    case ECONNABORTED: /* the client gave up before we took it */
    case EPROTO:
    case EPERM:        /* a firewall rule refused it */
    case EMFILE:       /* out of descriptors: back off, then retry */
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        return 1;
    default:
        return 0;
    }
}

/* The listener: one task per accepted connection. */
static void listener(void *arg)
{
    struct server *s = arg;
    for (;;) {
        int fd = weft_accept_ctx(s->ctx, s->lfd, NULL, NULL);
        if (fd == -ECANCELED)
            break; /* shutdown: the way a listener normally stops */
        if (fd < 0) {
            if (!accept_error_is_temporary(-fd)) {
                fprintf(stderr, "echo: accept: %s\n", strerror(-fd));
                break; /* the listening socket itself failed */
            }
            /* Back off a little (Go: 5 ms doubling to 1 s); the sleep also
             * ends at shutdown. */
            if (weft_sleep_ctx(s->ctx, 5 * WEFT_MS) != 0)
                break;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        atomic_fetch_add(&s->conns, 1);
        /* Add before the spawn: the counter must cover the task before a
         * Wait could see zero.  It cannot here (the listener itself is
         * counted), but that is the rule that keeps it so. */
        weft_wg_add(&s->wg, 1);
        struct conn c = {s, fd};
        if (weft_go_copy(serve_conn, &c, sizeof c) != 0) {
            /* No task for it: refuse the connection, undo the count. */
            weft_fd_close(fd);
            weft_wg_done(&s->wg);
        }
    }
    weft_fd_close(s->lfd);
    weft_wg_done(&s->wg);
}

/* Listen on 127.0.0.1:port and start the listener task.  Returns 0 or an
 * errno value; *bound is the port actually bound (for port 0). */
static int server_start(struct server *s, weft_ctx *parent, int port, int *bound)
{
    memset(s, 0, sizeof *s);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        return errno;
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 128) != 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &alen) != 0) {
        int e = errno;
        close(s->lfd);
        return e;
    }
    *bound = ntohs(a.sin_port);
    s->ctx = weft_ctx_with_cancel(parent);
    if (!s->ctx) {
        int e = errno;
        close(s->lfd);
        return e;
    }
    weft_wg_add(&s->wg, 1);
    int r = weft_go(listener, s);
    if (r) {
        weft_wg_done(&s->wg);
        weft_ctx_release(s->ctx);
        close(s->lfd);
    }
    return r;
}

/* Shutdown: cancel, then wait until the listener and every connection task
 * have returned (and closed their descriptors). */
static void server_stop(struct server *s)
{
    weft_ctx_cancel(s->ctx);
    weft_wg_wait(&s->wg);
    weft_ctx_release(s->ctx);
}

/* ------------------------------------------------------------------ */
/* The clients                                                         */
/* ------------------------------------------------------------------ */

enum { CLIENTS = 8, ROUNDS = 50 };

struct client {
    int port, id;
    weft_wg *wg;
    _Atomic int *failures;
};

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = weft_connect(fd, (struct sockaddr *)&a, sizeof a, weft_deadline(5 * WEFT_SEC));
    if (r < 0) {
        weft_fd_close(fd);
        return r;
    }
    return fd;
}

/* Read exactly n bytes (a stream may deliver the echo in pieces). */
static ssize_t read_full(int fd, char *buf, size_t n, int64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = weft_read(fd, buf + got, n - got, deadline);
        if (r <= 0)
            return r < 0 ? r : -EPIPE; /* EOF before the whole echo */
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static void client(void *arg)
{
    struct client *c = arg;
    const char *why = NULL;
    ssize_t err = 0;
    int fd = dial(c->port);
    if (fd < 0) {
        why = "connect";
        err = fd;
        goto out;
    }
    for (int i = 0; i < ROUNDS && !why; i++) {
        char msg[64], echo[64];
        int len = snprintf(msg, sizeof msg, "client %d, message %d", c->id, i);
        int64_t dl = weft_deadline(5 * WEFT_SEC);
        if ((err = weft_write(fd, msg, (size_t)len, dl)) < 0)
            why = "write";
        else if ((err = read_full(fd, echo, (size_t)len, dl)) < 0)
            why = "read";
        else if (memcmp(msg, echo, (size_t)len) != 0)
            why = "echo differs", err = 0;
    }
    weft_fd_close(fd); /* the server's task sees EOF and returns */
out:
    if (why) {
        fprintf(stderr, "client %d: %s: %s\n", c->id, why, err ? strerror((int)-err) : "");
        atomic_fetch_add(c->failures, 1);
    }
    weft_wg_done(c->wg);
}

/* ------------------------------------------------------------------ */

static int app(void *arg)
{
    int port = *(int *)arg;
    uint64_t mark = weft_leak_mark();
    struct server s;
    int r = server_start(&s, weft_ctx_background(), port, &port);
    if (r) {
        fprintf(stderr, "echo: cannot start the server: %s\n", strerror(r));
        return 1;
    }

    /* Clients, each in its own task, all at once. */
    weft_wg cwg = WEFT_WG_INIT;
    _Atomic int failures = 0;
    for (int i = 0; i < CLIENTS; i++) {
        struct client c = {port, i, &cwg, &failures};
        weft_wg_add(&cwg, 1);
        if (weft_go_copy(client, &c, sizeof c) != 0) {
            weft_wg_done(&cwg);
            atomic_fetch_add(&failures, 1);
        }
    }
    weft_wg_wait(&cwg);

    /* One more client connects and says nothing: its server task is parked
     * in weft_read_ctx when the server shuts down, and only the context
     * gets it out. */
    int idle = dial(port);
    if (idle < 0) {
        fprintf(stderr, "echo: idle client: %s\n", strerror(-idle));
        failures++;
    } else {
        char b[1];
        /* Its echo round trip proves the server holds it as a live task. */
        if (weft_write(idle, "x", 1, weft_deadline(5 * WEFT_SEC)) != 1 ||
            read_full(idle, b, 1, weft_deadline(5 * WEFT_SEC)) != 1)
            failures++;
    }

    server_stop(&s);

    /* The server closed the idle connection on its way out: EOF. */
    if (idle >= 0) {
        char b[1];
        ssize_t n = weft_read(idle, b, 1, weft_deadline(5 * WEFT_SEC));
        if (n != 0) {
            fprintf(stderr, "echo: idle client read %zd after shutdown, want 0 (EOF)\n", n);
            failures++;
        }
        weft_fd_close(idle);
    }

    size_t leaked = weft_leak_check(mark, 5 * WEFT_SEC, stderr);
    printf("echo server on 127.0.0.1:%d: %ld connections, %ld bytes echoed, "
           "%d client failure%s; %zu task%s leaked after shutdown\n",
           port, atomic_load(&s.conns), atomic_load(&s.echoed), (int)failures,
           failures == 1 ? "" : "s", leaked, leaked == 1 ? "" : "s");
    return leaked == 0 && failures == 0 && atomic_load(&s.conns) == CLIENTS + 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [port]\n", argv[0]);
        return 2;
    }
    return weft_run(app, &port);
}
