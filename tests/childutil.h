/*
 * childutil.h — helpers for tests that read reports and run whole programs
 * in child processes (tests/test_diag.c, test_verdicts.c, test_backtrace.c).
 * Header-only, like testutil.h (include it after testutil.h).
 *
 *  - struct mem: text written to a FILE (open_memstream), e.g. a report;
 *    count_of / assert_contains / assert_not_contains look into it, and
 *    group_ids reads the ids of one group of a grouped dump.
 *  - struct child: this very test binary re-executed as `--child MODE`
 *    (under the cross emulator when WT_EMULATOR_ARGV is defined), with its
 *    stdin, stdout and stderr on pipes; child_read waits (bounded by the
 *    liveness deadline) until a condition on its output holds.
 */
#ifndef WEFT_CHILDUTIL_H
#define WEFT_CHILDUTIL_H

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* A growable text buffer fed by open_memstream. */
struct mem {
    char *buf;
    size_t len;
    FILE *f;
};

__attribute__((unused)) static FILE *mem_open(struct mem *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
    return m->f;
}

__attribute__((unused)) static char *mem_close(struct mem *m)
{
    fclose(m->f);
    m->f = NULL;
    return m->buf;
}

__attribute__((unused)) static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

#define assert_contains(hay, needle)                                            \
    do {                                                                      \
        if (!strstr((hay), (needle)))                                         \
            fail_msg("expected \"%s\" in:\n%s", (needle), (hay));             \
    } while (0)
#define assert_not_contains(hay, needle)                                        \
    do {                                                                      \
        if (strstr((hay), (needle)))                                          \
            fail_msg("did not expect \"%s\" in:\n%s", (needle), (hay));       \
    } while (0)

/* ---- child processes ---- */

struct child {
    pid_t pid;
    int in, out, err; /* our ends: child's stdin, stdout, stderr */
    struct mem_text {
        char *buf;
        size_t len, cap;
    } o, e;
};

__attribute__((unused)) static void text_add(struct mem_text *t, const char *p, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = 2 * (t->len + n + 1) + 4096;
        t->buf = realloc(t->buf, t->cap);
        assert_non_null(t->buf);
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    t->buf[t->len] = 0;
}

__attribute__((unused)) static void child_start(struct child *c, const char *mode)
{
    int in[2], out[2], err[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    /* The child's environment, built before fork (only async-signal-safe
     * calls are allowed between fork and exec in a threaded process):
     * child programs deadlock or leak on purpose, so no leak detection. */
    extern char **environ;
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 2, sizeof *envp);
    assert_non_null(envp);
    char asan[512];
    const char *ao = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%sdetect_leaks=0", ao ? ao : "",
             ao && *ao ? ":" : "");
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
            envp[k++] = environ[i];
    envp[k++] = asan;
    envp[k] = NULL;
    /* This very binary, run again (under the emulator when cross-built:
     * the emulator reports the guest binary as /proc/self/exe). */
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(sl > 0);
    self[sl] = 0;
#ifdef WT_EMULATOR_ARGV
    const char *emu[] = {WT_EMULATOR_ARGV};
#else
    const char *emu[] = {NULL};
#endif
    size_t nemu = emu[0] ? sizeof emu / sizeof emu[0] : 0;
    const char *argv[16];
    size_t a = 0;
    for (size_t i = 0; i < nemu && a < 12; i++)
        argv[a++] = emu[i];
    argv[a++] = self;
    argv[a++] = "--child";
    argv[a++] = mode;
    argv[a] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execve(argv[0], (char *const *)argv, envp);
        _exit(127);
    }
    free(envp);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    memset(c, 0, sizeof *c);
    c->pid = pid;
    c->in = in[1];
    c->out = out[0];
    c->err = err[0];
    text_add(&c->o, "", 0);
    text_add(&c->e, "", 0);
}

/* Read the child's output until stop(c) holds or both pipes are at EOF;
 * bounded by the liveness deadline.  Returns whether stop held. */
__attribute__((unused)) static bool child_read(struct child *c,
                                               bool (*stop)(struct child *c, const void *arg),
                                               const void *arg)
{
    int64_t deadline = weft_now() + WT_LIVENESS_NS;
    for (;;) {
        if (stop && stop(c, arg))
            return true;
        if (c->out < 0 && c->err < 0)
            return false;
        int64_t left = deadline - weft_now();
        if (left <= 0)
            return false;
        struct pollfd pf[2] = {{c->out, POLLIN, 0}, {c->err, POLLIN, 0}};
        int r = poll(pf, 2, (int)(left / WEFT_MS) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        for (int i = 0; i < 2; i++) {
            if (!pf[i].revents)
                continue;
            char b[4096];
            int *fd = i ? &c->err : &c->out;
            ssize_t n = read(*fd, b, sizeof b);
            if (n > 0) {
                text_add(i ? &c->e : &c->o, b, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(*fd);
                *fd = -1;
            }
        }
    }
}

__attribute__((unused)) static bool err_has(struct child *c, const void *needle)
{
    return strstr(c->e.buf, needle);
}

struct count_arg {
    const char *needle;
    size_t n;
};
__attribute__((unused)) static bool err_count(struct child *c, const void *arg)
{
    const struct count_arg *a = arg;
    return count_of(c->e.buf, a->needle) >= a->n;
}
__attribute__((unused)) static bool out_has(struct child *c, const void *needle)
{
    return strstr(c->o.buf, needle);
}

/* Read everything, then reap the child; returns its wait status. */
__attribute__((unused)) static int child_finish(struct child *c)
{
    if (c->in >= 0)
        close(c->in);
    c->in = -1;
    child_read(c, NULL, NULL);
    int st;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    if (c->out >= 0)
        close(c->out);
    if (c->err >= 0)
        close(c->err);
    return st;
}

__attribute__((unused)) static void child_free(struct child *c)
{
    free(c->o.buf);
    free(c->e.buf);
}

__attribute__((unused)) static void child_dump_on_failure(struct child *c)
{
    fprintf(stderr, "---- child stdout ----\n%s---- child stderr ----\n%s----\n", c->o.buf,
            c->e.buf);
}

/* The ids of the group whose header line starts with header ("ids 3-5,
 * 9, ..." over one or more lines); returns how many, -1 if no such group. */
__attribute__((unused)) static long group_ids(const char *text, const char *header,
                                              uint64_t *ids, size_t max)
{
    const char *p = strstr(text, header);
    if (!p || !(p = strstr(p, "\n    ids ")))
        return -1;
    p += strlen("\n    ids ");
    long n = 0;
    for (;;) {
        char *end;
        unsigned long long lo = strtoull(p, &end, 10), hi = lo;
        if (end == p)
            return -1;
        p = end;
        if (*p == '-') {
            hi = strtoull(p + 1, &end, 10);
            p = end;
        }
        for (unsigned long long id = lo; id <= hi; id++, n++)
            if ((size_t)n < max)
                ids[n] = id;
        if (*p != ',')
            return n;
        p++;
        while (*p == ' ' || *p == '\n')
            p++;
    }
}

#endif
