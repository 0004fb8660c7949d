/* echo_server: the weft side of the echo benchmark (bench/echo.py).
 *
 *   bench_echo_server [port] [workers] [max_seconds]
 *
 * A TCP echo server on 127.0.0.1:port (0 or absent: any free port): a
 * listener task accepts, one task per connection reads up to 4 KiB
 * (weft_read_ctx) and writes it back (weft_write_ctx) until EOF, an error,
 * or shutdown.  Once listening it prints ONE line on stdout,
 *
 *   LISTENING port=<port> workers=<n> nofile=<soft RLIMIT_NOFILE>
 *
 * and serves until SIGTERM/SIGINT (read from a signalfd by a task), end of
 * file on stdin (when stdin is a pipe or socket: the driver died), or
 * max_seconds (default 600: it stops by itself).  Shutdown cancels the
 * server's context, waits for the listener and every connection task, and
 * checks that no task leaked; a summary goes to stderr.  Exit status 0 on a
 * clean shutdown, non-zero (with a diagnostic) otherwise.
 *
 * The load comes from the Go client (go/echo.go, -bench echo_client), the
 * same binary for this server and its Go twin (-bench echo_server), so the
 * two servers see the same load.  Not timed here: the client measures.
 */
#include "bench_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

struct server {
    weft_ctx *ctx;         /* canceled to shut down (or its deadline passes) */
    int lfd, sigfd;
    int watch_stdin;
    int port, workers;
    weft_wg wg;            /* listener + connection tasks */
    weft_wg watchers;      /* signal and stdin watchers */
    _Atomic long conns;    /* accepted */
    _Atomic long long bytes; /* echoed (added once per connection) */
    _Atomic long errors;   /* connections that ended in an error other than shutdown */
    const char *why;       /* why it stopped */
};

struct conn {
    struct server *s;
    int fd;
};

static void serve_conn(void *arg)
{
    struct conn *c = arg;
    char buf[4096];
    long long bytes = 0;
    for (;;) {
        ssize_t n = weft_read_ctx(c->s->ctx, c->fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && n != -ECANCELED && n != -ETIMEDOUT && n != -ECONNRESET)
                atomic_fetch_add(&c->s->errors, 1);
            break; /* EOF, shutdown, or the connection failed */
        }
        ssize_t w = weft_write_ctx(c->s->ctx, c->fd, buf, (size_t)n);
        if (w != n) {
            if (w >= 0 || (w != -ECANCELED && w != -ETIMEDOUT && w != -EPIPE &&
                           w != -ECONNRESET))
                atomic_fetch_add(&c->s->errors, 1);
            break;
        }
        bytes += n;
    }
    atomic_fetch_add(&c->s->bytes, bytes);
    int r = weft_fd_close(c->fd);
    if (r)
        bench_fail("echo_server: weft_fd_close(%d) returned %d (%s)", c->fd, r, strerror(r));
    BENCH_CHECK(weft_wg_done(&c->s->wg));
}

static void listener(void *arg)
{
    struct server *s = arg;
    for (;;) {
        int fd = weft_accept_ctx(s->ctx, s->lfd, NULL, NULL);
        if (fd == -ECANCELED || fd == -ETIMEDOUT)
            break;
        if (fd < 0) {
            switch (-fd) {
            case ECONNABORTED:
            case EPROTO:
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* Go's Serve backs off on temporary errors; so do we.  An
                 * EMFILE here means the driver's connection count does not
                 * fit RLIMIT_NOFILE: say so once. */
                if (-fd == EMFILE || -fd == ENFILE) {
                    static _Atomic int said;
                    if (!atomic_exchange(&said, 1))
                        fprintf(stderr, "echo_server: accept: %s (after %ld connections); "
                                        "backing off\n", strerror(-fd), atomic_load(&s->conns));
                }
                if (weft_sleep_ctx(s->ctx, 5 * WEFT_MS) != 0)
                    goto out;
                continue;
            default:
                bench_fail("echo_server: weft_accept_ctx returned %d (%s)", fd, strerror(-fd));
            }
        }
        int one = 1; /* as Go's net package does for every TCP connection */
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            bench_fail("echo_server: TCP_NODELAY: %s", strerror(errno));
        atomic_fetch_add(&s->conns, 1);
        BENCH_CHECK(weft_wg_add(&s->wg, 1));
        struct conn c = {s, fd};
        BENCH_CHECK(weft_go_copy(serve_conn, &c, sizeof c));
    }
out:
    BENCH_CHECK(weft_fd_close(s->lfd));
    BENCH_CHECK(weft_wg_done(&s->wg));
}

/* SIGTERM / SIGINT / SIGHUP arrive on a signalfd (blocked in every thread):
 * a task reads it like any descriptor. */
static void signal_watcher(void *arg)
{
    struct server *s = arg;
    struct signalfd_siginfo si;
    ssize_t n = weft_read_ctx(s->ctx, s->sigfd, &si, sizeof si);
    if (n == (ssize_t)sizeof si) {
        s->why = si.ssi_signo == SIGTERM ? "SIGTERM" : si.ssi_signo == SIGINT ? "SIGINT"
                                                                              : "SIGHUP";
        weft_ctx_cancel(s->ctx);
    } else if (n != -ECANCELED && n != -ETIMEDOUT) {
        bench_fail("echo_server: read(signalfd) returned %zd", n);
    }
    weft_fd_close(s->sigfd);
    BENCH_CHECK(weft_wg_done(&s->watchers));
}

/* End of file on stdin (a pipe from the driver): the driver is gone. */
static void stdin_watcher(void *arg)
{
    struct server *s = arg;
    char buf[256];
    ssize_t n;
    while ((n = weft_read_ctx(s->ctx, 0, buf, sizeof buf)) > 0) {
    }
    if (n != -ECANCELED && n != -ETIMEDOUT) {
        s->why = n == 0 ? "end of stdin" : "stdin failed";
        weft_ctx_cancel(s->ctx);
    }
    BENCH_CHECK(weft_wg_done(&s->watchers));
}

static int serve(void *arg)
{
    struct server *s = arg;
    uint64_t mark = weft_leak_mark();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->lfd, 65535) != 0 || /* the kernel caps it at somaxconn, as for Go */
        getsockname(s->lfd, (struct sockaddr *)&a, &alen) != 0)
        bench_fail("echo_server: cannot listen on 127.0.0.1:%d: %s", s->port, strerror(errno));

    BENCH_CHECK(weft_wg_add(&s->wg, 1));
    BENCH_CHECK(weft_go(listener, s));
    BENCH_CHECK(weft_wg_add(&s->watchers, 1 + s->watch_stdin));
    BENCH_CHECK(weft_go(signal_watcher, s));
    if (s->watch_stdin)
        BENCH_CHECK(weft_go(stdin_watcher, s));

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("LISTENING port=%d workers=%d nofile=%llu\n", ntohs(a.sin_port),
           bench_effective_workers(s->workers), (unsigned long long)rl.rlim_cur);
    fflush(stdout);

    /* <-ctx.Done() */
    int r = weft_chan_recv(weft_ctx_done(s->ctx), NULL);
    if (r != EPIPE)
        bench_fail("echo_server: recv on ctx done returned %d, want EPIPE", r);
    if (!s->why)
        s->why = "max_seconds";
    int64_t t0 = weft_now();
    BENCH_CHECK(weft_wg_wait(&s->wg));
    BENCH_CHECK(weft_wg_wait(&s->watchers));
    double shut_ms = (double)(weft_now() - t0) / 1e6;
    size_t leaked = weft_leak_check(mark, 5 * WEFT_SEC, stderr);
    fprintf(stderr, "echo_server: weft, stopped by %s: %ld connections, %lld bytes echoed, "
                    "%ld connection errors; shutdown took %.1f ms, %zu tasks leaked\n",
            s->why, atomic_load(&s->conns), (long long)atomic_load(&s->bytes),
            atomic_load(&s->errors), shut_ms, leaked);
    if (leaked)
        bench_fail("echo_server: %zu tasks leaked after shutdown", leaked);
    if (atomic_load(&s->errors))
        bench_fail("echo_server: %ld connections ended in an unexpected error",
                   atomic_load(&s->errors));
    return 0;
}

int main(int argc, char **argv)
{
    static struct server s;
    s.port = (int)bench_arg(argc, argv, 1, 0);
    int workers = s.workers = (int)bench_arg(argc, argv, 2, 0);
    int64_t max_s = bench_arg(argc, argv, 3, 600);
    if (s.port > 65535) {
        fprintf(stderr, "usage: %s [port] [workers] [max_seconds]\n", argv[0]);
        return 2;
    }

    /* Every connection is a descriptor: raise the soft limit to the hard. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* Block the stop signals before any thread starts (workers inherit the
     * mask), so they are only ever read from the signalfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        bench_fail("echo_server: sigprocmask: %s", strerror(errno));
    s.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s.sigfd < 0)
        bench_fail("echo_server: signalfd: %s", strerror(errno));
    struct stat st;
    s.watch_stdin = fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));

    struct weft_config cfg = {.workers = workers};
    int rc = weft_init(&cfg);
    if (rc)
        bench_fail("weft_init(workers=%d) returned %d (%s)", workers, rc, strerror(rc));
    s.ctx = weft_ctx_with_timeout(weft_ctx_background(), max_s * WEFT_SEC);
    BENCH_CHECK_PTR(s.ctx);
    rc = weft_run(serve, &s);
    if (rc)
        bench_fail("echo_server: weft_run returned %d (%s)", rc, strerror(rc));
    weft_ctx_release(s.ctx);
    return 0;
}
