/*
 * test_diag.c — task dumps, leak checks, deadlock detection, stats and the
 * SIGQUIT dump (sched/diag/, include/weft_test.h).
 *
 * Each mechanism is tested both ways: a clean program reports nothing, and
 * a faulty one is reported with the right spawn site (file:line) and wait
 * reason.  Whole-program behaviour (a global deadlock, SIGQUIT, aborting
 * helpers) runs in a child process: this binary re-executes itself with
 * `--child MODE` and the parent reads the child's output through pipes.
 *
 * Synchronisation: weft_leak_check itself is the tool that waits for tasks
 * to park for good (it returns as soon as the runtime settles), so tests
 * wait on it rather than on time.  The only timed waits are liveness
 * bounds (WT_LIVENESS_NS) that a correct runtime never reaches, and one
 * short leak-check timeout whose expiry is the behaviour under test.
 */
#include "testutil.h"
#include "childutil.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft_test.h>

/* Memory that a task leaked on purpose keeps (its channel) is referenced
 * only from that task's stack, which LeakSanitizer does not scan: allocate
 * it with leak detection off. */
#if defined(__SANITIZE_ADDRESS__)
#define WT_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WT_HAVE_LSAN 1
#endif
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WT_HAVE_TSAN 1
#endif
#endif
#ifdef WT_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#define WT_LEAKED_ON_PURPOSE(stmt)                                              \
    do {                                                                      \
        __lsan_disable();                                                     \
        stmt;                                                                 \
        __lsan_enable();                                                      \
    } while (0)
#else
#define WT_LEAKED_ON_PURPOSE(stmt) stmt
#endif

/* Tasks this binary leaks on purpose (weft_shutdown must report them). */
static int leaked_forever;

/* Present when sched/park.c counts plain threads blocked with a deadline
 * and plain threads readied (needed to declare a deadlock outside weft_run). */
extern size_t weft__threads_timed __attribute__((weak));

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* "test_diag.c:<line>" */
static const char *here(int line)
{
    static char buf[8][64];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "test_diag.c:%d", line);
    return b;
}

/* Wait (bounded) until every task spawned since mark has returned or
 * settled; returns how many are left. */
static size_t settle(uint64_t mark) { return weft_leak_check(mark, WT_LIVENESS_NS, NULL); }

/* ---- a tiny JSON validator (RFC 8259 grammar, no semantics) ---- */

struct jp {
    const char *s;
};

static void j_ws(struct jp *p)
{
    while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
        p->s++;
}

static bool j_value(struct jp *p, int depth);

static bool j_string(struct jp *p)
{
    if (*p->s != '"')
        return false;
    p->s++;
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s;
        if (c == 0 || c < 0x20)
            return false;
        if (c == '\\') {
            p->s++;
            if (*p->s && strchr("\"\\/bfnrt", *p->s)) {
                p->s++;
            } else if (*p->s == 'u') {
                p->s++;
                for (int i = 0; i < 4; i++, p->s++)
                    if (!isxdigit((unsigned char)*p->s))
                        return false;
            } else {
                return false;
            }
        } else {
            p->s++;
        }
    }
    p->s++;
    return true;
}

static bool j_number(struct jp *p)
{
    if (*p->s == '-')
        p->s++;
    if (*p->s == '0')
        p->s++;
    else if (*p->s >= '1' && *p->s <= '9')
        while (isdigit((unsigned char)*p->s))
            p->s++;
    else
        return false;
    if (*p->s == '.') {
        p->s++;
        if (!isdigit((unsigned char)*p->s))
            return false;
        while (isdigit((unsigned char)*p->s))
            p->s++;
    }
    if (*p->s == 'e' || *p->s == 'E') {
        p->s++;
        if (*p->s == '+' || *p->s == '-')
            p->s++;
        if (!isdigit((unsigned char)*p->s))
            return false;
        while (isdigit((unsigned char)*p->s))
            p->s++;
    }
    return true;
}

static bool j_seq(struct jp *p, int depth, char close, bool object)
{
    p->s++;
    j_ws(p);
    if (*p->s == close) {
        p->s++;
        return true;
    }
    for (;;) {
        if (object) {
            if (!j_string(p))
                return false;
            j_ws(p);
            if (*p->s++ != ':')
                return false;
        }
        if (!j_value(p, depth + 1))
            return false;
        j_ws(p);
        if (*p->s == ',') {
            p->s++;
            j_ws(p);
            continue;
        }
        if (*p->s != close)
            return false;
        p->s++;
        return true;
    }
}

static bool j_value(struct jp *p, int depth)
{
    if (depth > 64)
        return false;
    j_ws(p);
    switch (*p->s) {
    case '{':
        return j_seq(p, depth, '}', true);
    case '[':
        return j_seq(p, depth, ']', false);
    case '"':
        return j_string(p);
    case 't':
        return strncmp(p->s, "true", 4) == 0 && (p->s += 4);
    case 'f':
        return strncmp(p->s, "false", 5) == 0 && (p->s += 5);
    case 'n':
        return strncmp(p->s, "null", 4) == 0 && (p->s += 4);
    default:
        return j_number(p);
    }
}

static bool json_valid(const char *text)
{
    struct jp p = {text};
    if (!j_value(&p, 0))
        return false;
    j_ws(&p);
    return *p.s == 0;
}


/* ------------------------------------------------------------------ */
/* Common task bodies                                                  */
/* ------------------------------------------------------------------ */

/* Receives once from the channel (borrowed), then returns. */
static void recv_once(void *p)
{
    weft_chan *c = p;
    (void)weft_chan_recv(c, NULL);
}

struct two {
    weft_chan *a, *b;
};

static void select_two(void *p)
{
    struct two *t = p;
    weft_case cs[2] = {WEFT_CASE_RECV(t->a, NULL), WEFT_CASE_RECV(t->b, NULL)};
    (void)weft_select(cs, 2, WEFT_FOREVER);
}

static void wait_wg(void *p) { (void)weft_wg_wait(p); }

static void lock_unlock(void *p)
{
    weft_mutex *m = p;
    if (weft_mutex_lock(m) == 0)
        weft_mutex_unlock(m);
}

static void sleep_ctx(void *p) { (void)weft_sleep_ctx(p, 3600 * WEFT_SEC); }

static void sleep_short(void *p)
{
    int64_t *ns = p;
    weft_sleep(*ns);
}

/* ------------------------------------------------------------------ */
/* Dumps                                                               */
/* ------------------------------------------------------------------ */

/* A parked task is dumped with its id, entry function, state, the channel
 * it waits on (with that channel's creation site) and its spawn site. */
static void test_dump_names_spawn_site_state_and_channel_site(void **state)
{
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(0, 0); int make_line = __LINE__;
    assert_int_equal(weft_go(recv_once, c), 0); int go_line = __LINE__;
    assert_int_equal(settle(mark), 1);

    struct mem m;
    int n = weft_dump_tasks(mem_open(&m));
    char *out = mem_close(&m);
    assert_true(n >= 1);
    char head[64];
    snprintf(head, sizeof head, "task %llu recv_once [chan recv, ", (unsigned long long)mark);
    assert_contains(out, head);
    char chan_line[160];
    snprintf(chan_line, sizeof chan_line, "waiting on channel %p made at ", (void *)c);
    assert_contains(out, chan_line);
    assert_contains(out, here(make_line));
    assert_contains(out, "(unbuffered, signal-only)");
    char spawn[160];
    snprintf(spawn, sizeof spawn, "%s in %s()", here(go_line), __func__);
    assert_contains(out, spawn);
    free(out);

    weft_chan_close(c);
    assert_int_equal(settle(mark), 0);
    weft_chan_release(c);
    assert_int_equal(weft_dump_tasks(NULL), -1);
    assert_int_equal(weft_dump_tasks_json(NULL), -1);
}

/* Every kind of wait shows its reason and what it waits on: a named task,
 * select (its channels), WaitGroup, mutex, context, and sleep. */
static void test_dump_shows_each_wait_reason_and_object(void **state)
{
    uint64_t mark = weft_leak_mark();
    struct two t = {weft_chan_make(0, 0), weft_chan_make(sizeof(int), 3)};
    int a_line = __LINE__ - 1;
    struct weft_task_opts named = {.name = "the \"named\" one"};
    assert_int_equal(weft_go_opts(&named, select_two, &t), 0);
    weft_wg wg = WEFT_WG_INIT;
    weft_wg_add(&wg, 1);
    assert_int_equal(weft_go(wait_wg, &wg), 0);
    weft_mutex mu = WEFT_MUTEX_INIT;
    assert_int_equal(weft_mutex_lock(&mu), 0);
    assert_int_equal(weft_go(lock_unlock, &mu), 0);
    weft_ctx *ctx = weft_ctx_with_cancel(weft_ctx_background());
    assert_non_null(ctx);
    assert_int_equal(weft_go(sleep_ctx, ctx), 0);

    /* The context's sleep has a timer, so the runtime never settles: wait
     * for the other three, then dump until the fourth is seen parked. */
    struct mem m;
    char *out = NULL;
    int64_t dl = weft_now() + WT_LIVENESS_NS;
    do {
        free(out);
        weft_yield();
        weft_dump_tasks(mem_open(&m));
        out = mem_close(&m);
    } while (weft_now() < dl && (!strstr(out, "[select, ") || !strstr(out, "[wg wait, ") ||
                                 !strstr(out, "[mutex, ") || !strstr(out, "[ctx wait, ")));
    assert_contains(out, "\"the \"named\" one\" (select_two) [select, ");
    assert_contains(out, "selecting on channel ");
    assert_contains(out, here(a_line));
    assert_contains(out, "wait_wg [wg wait, ");
    char obj[96];
    snprintf(obj, sizeof obj, "waiting on WaitGroup %p", (void *)&wg);
    assert_contains(out, obj);
    assert_contains(out, "lock_unlock [mutex, ");
    snprintf(obj, sizeof obj, "waiting on mutex %p", (void *)&mu);
    assert_contains(out, obj);
    assert_contains(out, "sleep_ctx [ctx wait, ");
    snprintf(obj, sizeof obj, "waiting on context %p", (void *)ctx);
    assert_contains(out, obj);
    free(out);

    /* A plain sleep. */
    uint64_t mark2 = weft_leak_mark();
    int64_t ns = 300 * WEFT_MS;
    assert_int_equal(weft_go(sleep_short, &ns), 0);
    out = NULL;
    dl = weft_now() + WT_LIVENESS_NS;
    do {
        free(out);
        weft_yield();
        weft_dump_tasks(mem_open(&m));
        out = mem_close(&m);
    } while (weft_now() < dl && !strstr(out, "sleep_short [sleep, ") &&
             weft_leak_check(mark2, 0, NULL) == 1);
    assert_contains(out, "sleep_short [sleep, ");
    free(out);

    weft_chan_close(t.a);
    weft_wg_done(&wg);
    weft_mutex_unlock(&mu);
    weft_ctx_cancel(ctx);
    assert_int_equal(settle(mark), 0);
    weft_ctx_release(ctx);
    weft_chan_release(t.a);
    weft_chan_release(t.b);
}

/* The JSON dump is valid JSON, escapes names, and lists every task. */
static void test_dump_json_is_valid_and_lists_every_task(void **state)
{
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(sizeof(int), 2);
    struct weft_task_opts o = {.name = "quote\" backslash\\ newline\n tab\t"};
    assert_int_equal(weft_go_opts(&o, recv_once, c), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(weft_go(recv_once, c), 0);
    assert_int_equal(settle(mark), 6);

    struct mem m;
    int n = weft_dump_tasks_json(mem_open(&m));
    char *out = mem_close(&m);
    if (!json_valid(out))
        fail_msg("invalid JSON:\n%s", out);
    assert_int_equal(count_of(out, "\"id\":"), (size_t)n);
    assert_contains(out, "\"name\":\"quote\\\" backslash\\\\ newline\\u000a tab\\u0009\"");
    assert_contains(out, "\"wait\":\"chan recv\"");
    assert_contains(out, "\"kind\":\"channel\"");
    assert_contains(out, "\"fn\":\"recv_once\"");
    free(out);

    for (int i = 0; i < 6; i++)
        assert_int_equal(weft_chan_send(c, &i), 0);
    assert_int_equal(settle(mark), 0);
    weft_chan_release(c);

    /* No task at all is valid too. */
    n = weft_dump_tasks_json(mem_open(&m));
    out = mem_close(&m);
    assert_true(json_valid(out));
    free(out);
}

/* The JSON dump also satisfies a real JSON parser (python3's), when one
 * is installed. */
static void test_dump_json_parses_with_python(void **state)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0)
        skip();
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(sizeof(int), 4);
    struct weft_task_opts o = {.name = "json \"named\"\ttask \\ \x01"};
    assert_int_equal(weft_go_opts(&o, recv_once, c), 0);
    assert_int_equal(weft_go(recv_once, c), 0);
    assert_int_equal(settle(mark), 2);
    char path[] = "/tmp/weft_dump_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    int n = weft_dump_tasks_json(f);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "python3 - %s %d", path, n);
    FILE *py = popen(cmd, "w");
    assert_non_null(py);
    fputs("import json, sys\n"
          "d = json.load(open(sys.argv[1]))\n"
          "t = d['tasks']\n"
          "assert d['count'] == len(t) == int(sys.argv[2]), d\n"
          "names = [x['name'] for x in t]\n"
          "assert 'json \"named\"\\ttask \\\\ \\x01' in names, names\n"
          "mine = [x for x in t if x['fn'] == 'recv_once' and x['wait'] == 'chan recv']\n"
          "assert len(mine) >= 2, t\n"
          "assert all(x['waiting_on'][0]['kind'] == 'channel' for x in mine), mine\n",
          py);
    int st = pclose(py);
    unlink(path);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(weft_chan_send(c, &i), 0);
    assert_int_equal(settle(mark), 0);
    weft_chan_release(c);
}

/* ---- dumps under concurrent spawn, exit and channel frees ---- */

/* Defined by chan/chan.c when channel frees wait for diagnostics that may
 * be reading them (sched/diag/diag.h).  Without it, a dump racing with the
 * free of a channel a task was just parked on reads freed memory, so the
 * churn below then keeps its channels until the dumps are over. */
extern const int weft__chan_frees_deferred __attribute__((weak));

struct churn {
    atomic_int stop;
    atomic_long rounds;
    weft_chan *done;
    weft_chan *never; /* shared by the select children */
};

struct select_child {
    weft_chan *c, *never;
};

static void churn_child(void *p)
{
    weft_chan *c = p;
    long v;
    (void)weft_chan_recv(c, &v);
    weft_chan_release(c);
}

static void churn_select_child(void *p)
{
    struct select_child *sc = p;
    weft_chan *never = sc->never ? sc->never : weft_chan_make(0, 0);
    weft_case cs[2] = {WEFT_CASE_RECV(never, NULL), WEFT_CASE_RECV(sc->c, NULL)};
    (void)weft_select(cs, 2, WEFT_FOREVER);
    if (!sc->never)
        weft_chan_release(never); /* freed right after the select left it */
    weft_chan_release(sc->c);
}

static void churn(void *p)
{
    struct churn *ch = p;
    bool free_now = &weft__chan_frees_deferred != NULL;
    weft_chan **kept = NULL;
    size_t nkept = 0, cap = 0;
    while (!atomic_load(&ch->stop)) {
        weft_chan *c = weft_chan_make(sizeof(long), 0);
        WT_CHECK(c != NULL);
        WT_CHECK_INT_EQ(weft_go(churn_child, weft_chan_retain(c)), 0);
        long v = 1;
        WT_CHECK_INT_EQ(weft_chan_send(c, &v), 0);
        weft_chan *d = weft_chan_make(0, 0);
        struct select_child sc = {weft_chan_retain(d), free_now ? NULL : ch->never};
        WT_CHECK_INT_EQ(weft_go_copy(churn_select_child, &sc, sizeof sc), 0);
        WT_CHECK_INT_EQ(weft_chan_send(d, NULL), 0);
        if (free_now) {
            weft_chan_release(c); /* the last of the two references frees it */
            weft_chan_release(d);
        } else {
            if (nkept + 2 > cap) {
                cap = 2 * cap + 64;
                kept = realloc(kept, cap * sizeof *kept);
                WT_CHECK(kept != NULL);
            }
            kept[nkept++] = c;
            kept[nkept++] = d;
        }
        atomic_fetch_add(&ch->rounds, 1);
    }
    for (size_t i = 0; i < nkept; i++)
        weft_chan_release(kept[i]);
    free(kept);
    WT_CHECK_INT_EQ(weft_chan_send(ch->done, NULL), 0);
}

/* Dumps, JSON dumps, stats and leak scans run while tasks spawn, park,
 * exit and free the channels they waited on: none crashes, deadlocks or
 * produces invalid JSON. */
static void test_dumps_survive_concurrent_spawn_exit_and_frees(void **state)
{
    enum { CHURNERS = 6, DUMPS = 150 };
    uint64_t mark = weft_leak_mark();
    struct churn ch = {.done = weft_chan_make(0, CHURNERS), .never = weft_chan_make(0, 0)};
    for (int i = 0; i < CHURNERS; i++)
        assert_int_equal(weft_go(churn, &ch), 0);
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    /* At least DUMPS dumps, and until the churners did some rounds. */
    int64_t dl = weft_now() + WT_LIVENESS_NS;
    for (int i = 0; i < DUMPS || (atomic_load(&ch.rounds) < 100 && weft_now() < dl); i++) {
        assert_true(weft_dump_tasks(null) >= 0);
        struct mem m;
        weft_dump_tasks_json(mem_open(&m));
        char *out = mem_close(&m);
        if (!json_valid(out))
            fail_msg("invalid JSON under churn:\n%s", out);
        free(out);
        struct weft_stats st;
        assert_int_equal(weft_stats(&st), 0);
        (void)weft_leak_check(UINT64_MAX, 0, NULL);
    }
    fclose(null);
    atomic_store(&ch.stop, 1);
    assert_int_equal(wt_wait_n(ch.done, CHURNERS), CHURNERS);
    assert_int_equal(settle(mark), 0);
    assert_true(atomic_load(&ch.rounds) >= 100);
    weft_chan_release(ch.done);
    weft_chan_release(ch.never);
    wt_assert_no_failures();
}

/* ------------------------------------------------------------------ */
/* Leak checks                                                         */
/* ------------------------------------------------------------------ */

static void ping_pong(void *p)
{
    struct two *t = p;
    for (int i = 0; i < 200; i++) {
        WT_CHECK_INT_EQ(weft_chan_recv(t->a, NULL), 0);
        WT_CHECK_INT_EQ(weft_chan_send(t->b, NULL), 0);
    }
}

static void ping_pong_peer(void *p)
{
    struct two *t = p;
    for (int i = 0; i < 200; i++) {
        WT_CHECK_INT_EQ(weft_chan_send(t->a, NULL), 0);
        WT_CHECK_INT_EQ(weft_chan_recv(t->b, NULL), 0);
    }
}

/* Tasks that sleep, hand values back and forth and then return are not
 * reported, even when checked while they are still at it. */
static void test_leak_check_clean_program_reports_nothing(void **state)
{
    uint64_t mark = weft_leak_mark();
    static int64_t ns[20];
    for (int i = 0; i < 20; i++) {
        ns[i] = (i % 5) * WEFT_MS;
        assert_int_equal(weft_go(sleep_short, &ns[i]), 0);
    }
    struct two t = {weft_chan_make(0, 0), weft_chan_make(0, 0)};
    assert_int_equal(weft_go(ping_pong, &t), 0);
    assert_int_equal(weft_go(ping_pong_peer, &t), 0);
    struct mem m;
    size_t n = weft_leak_check(mark, WT_LIVENESS_NS, mem_open(&m));
    char *out = mem_close(&m);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    free(out);
    assert_no_task_leaks(mark);
    assert_int_equal(weft_test_leaks(mark), 0);
    weft_chan_release(t.a);
    weft_chan_release(t.b);
    wt_assert_no_failures();
}

/* A task blocked on a channel nobody will use is reported with its spawn
 * site and wait reason as soon as the runtime settles, long before the
 * timeout; once the channel is closed it returns and the check is clean. */
static void test_leak_check_reports_blocked_task_with_site_and_reason(void **state)
{
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(sizeof(long), 0); int make_line = __LINE__;
    assert_int_equal(weft_go(recv_once, c), 0); int go_line = __LINE__;
    int64_t t0 = weft_now();
    struct mem m;
    size_t n = weft_leak_check(mark, 60 * WEFT_SEC, mem_open(&m));
    int64_t took = weft_now() - t0;
    char *out = mem_close(&m);
    assert_int_equal(n, 1);
    assert_true(took < 60 * WEFT_SEC); /* settled: it did not wait out the timeout */
    char head[128];
    snprintf(head, sizeof head, "weft: leak check: 1 task spawned since mark %llu did not return",
             (unsigned long long)mark);
    assert_contains(out, head);
    assert_contains(out, "nothing inside weft can wake it");
    assert_contains(out, "recv_once [chan recv, ");
    assert_contains(out, here(make_line));
    assert_contains(out, here(go_line));
    assert_contains(out, "(unbuffered, 8-byte elements)");
    assert_not_contains(out, "certainly leaked");
    free(out);

    weft_chan_close(c);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_chan_release(c);
}

/* Tasks spawned before the mark are not checked. */
static void test_leak_check_ignores_tasks_spawned_before_the_mark(void **state)
{
    uint64_t before = weft_leak_mark();
    weft_chan *c = weft_chan_make(0, 0);
    assert_int_equal(weft_go(recv_once, c), 0);
    uint64_t mark = weft_leak_mark();
    static int64_t zero;
    for (int i = 0; i < 10; i++)
        assert_int_equal(weft_go(sleep_short, &zero), 0);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    assert_int_equal(weft_leak_check(before, WT_LIVENESS_NS, NULL), 1);
    weft_chan_close(c);
    assert_int_equal(settle(before), 0);
    weft_chan_release(c);
}

static atomic_int busy_stop;

static void busy(void *p)
{
    while (!atomic_load(&busy_stop))
        weft_yield();
}

/* Dump until `needle` shows (bounded); returns whether it did. */
static bool await_in_dump(const char *needle)
{
    int64_t dl = weft_now() + WT_LIVENESS_NS;
    for (;;) {
        struct mem m;
        weft_dump_tasks(mem_open(&m));
        char *out = mem_close(&m);
        bool seen = strstr(out, needle) != NULL;
        free(out);
        if (seen || weft_now() >= dl)
            return seen;
        weft_yield();
    }
}

/* A task parked on a channel whose last reference is gone can never be
 * woken: it is reported "certainly leaked", at once, even while another
 * task keeps the runtime busy (so it never settles). */
static void test_leak_check_marks_tasks_on_unreferenced_channels_certainly_leaked(void **state)
{
    uint64_t busy_mark = weft_leak_mark();
    atomic_store(&busy_stop, 0);
    assert_int_equal(weft_go(busy, NULL), 0);
    uint64_t mark = weft_leak_mark();
    weft_chan *c; int make_line = __LINE__ + 1;
    WT_LEAKED_ON_PURPOSE(c = weft_chan_make(sizeof(int), 1));
    assert_int_equal(weft_go(recv_once, c), 0); int go_line = __LINE__;
    char parked[64];
    snprintf(parked, sizeof parked, "task %llu recv_once [chan recv, ", (unsigned long long)mark);
    assert_true(await_in_dump(parked));
    weft_chan_release(c); /* the last reference: c is orphaned under the task */
    leaked_forever++;
    int64_t t0 = weft_now();
    struct mem m;
    size_t n = weft_leak_check(mark, WT_LIVENESS_NS, mem_open(&m));
    int64_t took = weft_now() - t0;
    char *out = mem_close(&m);
    assert_int_equal(n, 1);
    assert_true(took < WT_LIVENESS_NS);
    assert_contains(out, "blocked on channels nothing references");
    assert_contains(out, "(buffered 0/1, 4-byte elements, no references left)");
    assert_contains(out, "certainly leaked: nothing references that channel any more");
    assert_contains(out, here(make_line));
    assert_contains(out, here(go_line));
    free(out);

    weft_dump_tasks_json(mem_open(&m));
    out = mem_close(&m);
    assert_contains(out, "\"orphaned\":true");
    assert_contains(out, "\"certainly_leaked\":true");
    free(out);

    atomic_store(&busy_stop, 1);
    assert_int_equal(weft_leak_check(busy_mark, WT_LIVENESS_NS, NULL), 1); /* just the orphan */
}


/* A task that keeps running is not durably blocked: the check waits for
 * the timeout and says so; once it returns the check is clean. */
static void test_leak_check_times_out_on_a_running_task(void **state)
{
    uint64_t mark = weft_leak_mark();
    atomic_store(&busy_stop, 0);
    assert_int_equal(weft_go(busy, NULL), 0); int go_line = __LINE__;
    struct mem m;
    size_t n = weft_leak_check(mark, 50 * WEFT_MS, mem_open(&m));
    char *out = mem_close(&m);
    assert_int_equal(n, 1);
    assert_contains(out, "(timed out after ");
    assert_contains(out, here(go_line));
    free(out);
    atomic_store(&busy_stop, 1);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
}

static void yield_then_return(void *p)
{
    for (intptr_t i = 0; i < (intptr_t)p; i++)
        weft_yield();
}

/* A plain thread's leak check learns of each exit from the exit itself
 * (which looks for registered waiters only after its effects, and wakes
 * them): while a task keeps the runtime busy, so that no idle worker pokes
 * the check, it returns as soon as the checked task has returned, in every
 * order of that exit and the check's registration.  A lost wake-up would
 * leave a round waiting out the whole timeout (the test's time limit
 * catches that). */
static void test_leak_check_on_a_thread_is_woken_by_the_exit(void **state)
{
    atomic_store(&busy_stop, 0);
    uint64_t busy_mark = weft_leak_mark();
    assert_int_equal(weft_go(busy, NULL), 0);
    unsigned seed = 0x5eed;
    for (int round = 0; round < 500; round++) {
        uint64_t mark = weft_leak_mark();
        assert_int_equal(weft_go(yield_then_return, (void *)(intptr_t)(rand_r(&seed) % 48)), 0);
        assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    }
    atomic_store(&busy_stop, 1);
    assert_int_equal(weft_leak_check(busy_mark, WT_LIVENESS_NS, stderr), 0);
}

struct in_task {
    weft_chan *done;
    weft_chan *c;
    uint64_t self;
    size_t leaked, after;
    char *report;
};

static void leak_check_body(void *p)
{
    struct in_task *it = p;
    it->self = weft_self();
    uint64_t mark = weft_leak_mark();
    (void)weft_go(recv_once, it->c);
    struct mem m;
    m.buf = NULL;
    m.f = open_memstream(&m.buf, &m.len);
    it->leaked = weft_leak_check(mark, WT_LIVENESS_NS, m.f);
    fclose(m.f);
    it->report = m.buf;
    weft_chan_close(it->c);
    it->after = weft_leak_check(mark, WT_LIVENESS_NS, stderr);
    (void)weft_chan_send(it->done, NULL);
}

/* Called inside a task, the check works the same (without blocking the
 * worker thread), and does not count the calling task. */
static void test_leak_check_inside_a_task(void **state)
{
    uint64_t mark = weft_leak_mark();
    struct in_task it = {.c = weft_chan_make(0, 0), .done = weft_chan_make(0, 1)};
    assert_int_equal(weft_go(leak_check_body, &it), 0);
    /* Wait inside weft without a deadline: a thread blocked there is known
     * not to wake the leaked task, so the check can settle early (a plain
     * thread waiting outside weft, or inside with a deadline, could still
     * wake it, and the check would wait out its timeout). */
    assert_int_equal(weft_chan_recv(it.done, NULL), 0);
    assert_int_equal(it.leaked, 1);
    assert_contains(it.report, "recv_once [chan recv, ");
    char self[64];
    snprintf(self, sizeof self, "task %llu ", (unsigned long long)it.self);
    assert_not_contains(it.report, self);
    assert_int_equal(it.after, 0);
    free(it.report);
    weft_chan_release(it.done);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_chan_release(it.c);
}

/* ---- 10,000 tasks ---- */

struct gate {
    weft_chan *open, *never;
};

static void gated(void *p)
{
    struct gate *g = p;
    (void)weft_chan_recv(g->open, NULL);
}

static void gated_leaky(void *p)
{
    struct gate *g = p;
    (void)weft_chan_recv(g->never, NULL);
}


/* 10,000 tasks finish concurrently while the check runs: it counts
 * exactly the ones that stay blocked, and reports each of them: blocked
 * alike, they are one group that lists every one of their ids. */
static void test_leak_check_is_exact_with_10000_tasks_finishing_concurrently(void **state)
{
    enum { N = WT_SCALED_TASKS(10000), EVERY = 271 };
    size_t expect = (N + EVERY - 1) / EVERY;
    uint64_t mark = weft_leak_mark();
    struct gate g = {weft_chan_make(0, 0), weft_chan_make(0, 0)};
    struct weft_task_opts o = {.stack_size = 16 * 1024};
    for (int i = 0; i < N; i++) {
        if (i % EVERY == 0)
            assert_int_equal(weft_go_opts(&o, gated_leaky, &g), 0);
        else
            assert_int_equal(weft_go_opts(&o, gated, &g), 0);
    }
    weft_chan_close(g.open);
    struct mem m;
    size_t n = weft_leak_check(mark, WT_LIVENESS_NS, mem_open(&m));
    char *out = mem_close(&m);
    assert_int_equal(n, expect);
    char header[64];
    snprintf(header, sizeof header, "\n%zu tasks gated_leaky [chan recv, ", expect);
    assert_int_equal(count_of(out, header), 1);
    assert_int_equal(count_of(out, "gated_leaky [chan recv, "), 1);
    /* Spawned one after another from this thread: the leaky ones have the
     * ids mark, mark + EVERY, ... */
    uint64_t ids[N / EVERY + 8];
    assert_int_equal(group_ids(out, header, ids, sizeof ids / sizeof ids[0]), (long)expect);
    for (size_t i = 0; i < expect; i++)
        assert_int_equal(ids[i], mark + i * EVERY);
    free(out);
    assert_int_equal(weft_num_tasks() >= expect, true);
    weft_chan_close(g.never);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_chan_release(g.open);
    weft_chan_release(g.never);
}

/* ------------------------------------------------------------------ */
/* Stats                                                               */
/* ------------------------------------------------------------------ */

static void test_stats_count_spawns_exits_parked_and_workers(void **state)
{
    struct weft_stats a, b, c;
    assert_int_equal(weft_stats(NULL), EINVAL);
    assert_int_equal(weft_stats(&a), 0);
    assert_int_equal(a.workers, 2);
    assert_int_equal(a.live, weft_num_tasks());
    uint64_t mark = weft_leak_mark();
    weft_chan *ch = weft_chan_make(0, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(weft_go(recv_once, ch), 0);
    assert_int_equal(settle(mark), 5);
    assert_int_equal(weft_stats(&b), 0);
    assert_int_equal(b.spawned - a.spawned, 5);
    assert_int_equal(b.live - a.live, 5);
    assert_int_equal(b.parked - a.parked, 5);
    assert_true(b.switches >= a.switches);
    weft_chan_close(ch);
    assert_int_equal(settle(mark), 0);
    assert_int_equal(weft_stats(&c), 0);
    assert_int_equal(c.exited - a.exited, 5);
    assert_int_equal(c.live, a.live);
    assert_int_equal(c.parked, a.parked);
    weft_chan_release(ch);
}

/* ------------------------------------------------------------------ */
/* Whole programs, in child processes                                  */
/* ------------------------------------------------------------------ */

static int child_deadlock_main(void *arg)
{
    weft_chan *c = weft_chan_make(sizeof(int), 0); int make_line = __LINE__;
    weft_chan *d = weft_chan_make(sizeof(int), 0);
    weft_go(recv_once, c); int go_line = __LINE__;
    printf("lines %d %d\n", make_line, go_line);
    fflush(stdout);
    int v;
    (void)weft_chan_recv(d, &v); /* nobody sends: every task is asleep */
    return 0;
}

/* A global deadlock under weft_run is reported with a dump naming the
 * tasks, their spawn sites and channels, and weft_run returns EDEADLK. */
static void test_deadlock_in_weft_run_is_reported_and_returns_edeadlk(void **state)
{
    struct child c;
    child_start(&c, "deadlock");
    int st = child_finish(&c);
    int make_line = 0, go_line = 0;
    const char *l = strstr(c.o.buf, "lines ");
    if (l)
        sscanf(l, "lines %d %d", &make_line, &go_line);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !make_line)
        child_dump_on_failure(&c);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    char rc[32];
    snprintf(rc, sizeof rc, "weft_run returned %d", EDEADLK);
    assert_contains(c.o.buf, rc);
    assert_int_equal(count_of(c.e.buf, "weft: all tasks are asleep - deadlock!"), 1);
    assert_contains(c.e.buf, "[weft_run main] [chan recv, ");
    assert_contains(c.e.buf, "recv_once [chan recv, ");
    assert_contains(c.e.buf, here(make_line));
    char spawn[128];
    snprintf(spawn, sizeof spawn, "%s in child_deadlock_main()", here(go_line));
    assert_contains(c.e.buf, spawn);
#ifdef WT_HAVE_LIBDW
    /* The main task's dump names the line of its receive, and its stack. */
    assert_contains(c.e.buf, " in child_deadlock_main()\n    #0 0x");
#endif
    child_free(&c);
}

static void pp_a(void *p)
{
    struct two *t = p;
    for (int i = 0; i < 20000; i++) {
        if (weft_chan_recv(t->a, NULL) != 0 || weft_chan_send(t->b, NULL) != 0)
            return;
        if (i % 1000 == 0)
            weft_sleep(WEFT_MS);
    }
}

static void sleep_then_done(void *p)
{
    weft_sleep(2 * WEFT_MS);
    weft_wg_done(p);
}

static void sleep_then_send(void *p)
{
    weft_sleep(20 * WEFT_MS);
    (void)weft_chan_send(p, NULL);
}

static int child_busy_main(void *arg)
{
    struct two t = {weft_chan_make(0, 0), weft_chan_make(0, 0)};
    weft_wg wg = WEFT_WG_INIT;
    weft_go(pp_a, &t);
    for (int i = 0; i < 20000; i++) {
        weft_chan_send(t.a, NULL);
        weft_chan_recv(t.b, NULL);
    }
    /* Timers and waits with deadlines keep the runtime busy but asleep. */
    for (int i = 0; i < 20; i++) {
        weft_case cs[1] = {WEFT_CASE_RECV(t.a, NULL)};
        (void)weft_select(cs, 1, weft_deadline(WEFT_MS));
        weft_wg_add(&wg, 1);
        weft_go(sleep_then_done, &wg);
        weft_go(recv_once, t.a);
        weft_chan_send(t.a, NULL);
    }
    weft_wg_wait(&wg);
    weft_chan_release(t.a);
    weft_chan_release(t.b);
    return 42;
}

/* A program whose tasks keep handing work to each other, sleep and time
 * out is never mistaken for a deadlock. */
static void test_busy_weft_run_program_is_not_a_deadlock(void **state)
{
    struct child c;
    child_start(&c, "busy");
    int st = child_finish(&c);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        child_dump_on_failure(&c);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_contains(c.o.buf, "weft_run returned 42");
    assert_not_contains(c.e.buf, "deadlock");
    child_free(&c);
}

/* Outside weft_run, tasks asleep while the main thread sleeps (or works
 * outside weft) are not a deadlock: the main thread may still wake them. */
static void test_no_deadlock_report_while_a_plain_thread_may_still_act(void **state)
{
    struct child c;
    child_start(&c, "plain-ok");
    int st = child_finish(&c);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        child_dump_on_failure(&c);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_contains(c.o.buf, "plain-ok done");
    assert_not_contains(c.e.buf, "deadlock");
    child_free(&c);
}

/* Outside weft_run, main() blocked for good on a channel while every task
 * is asleep is a deadlock only if no plain thread outside weft will wake a
 * task, which the runtime cannot see: the hook set with
 * weft_set_deadlock_hook is told (the program knows its threads), and
 * without a hook nothing is printed. */
static void test_plain_thread_deadlock_calls_the_hook(void **state)
{
    if (&weft__threads_timed == NULL) {
        /* sched/park.c does not count plain threads' timed waits yet. */
        skip();
    }
    struct child c;
    child_start(&c, "plain-hook");
    int st = child_finish(&c);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 7)
        child_dump_on_failure(&c);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 7);
    assert_contains(c.e.buf, "custom deadlock hook");
    assert_not_contains(c.e.buf, "all tasks are asleep");
    child_free(&c);
}

/* SIGQUIT dumps every task on stderr, repeatedly, while tasks spawn and
 * exit all the time (signals land inside registry locks), and the program
 * keeps running. */
static void test_sigquit_dumps_tasks_and_the_program_goes_on(void **state)
{
    struct child c;
    child_start(&c, "sigquit");
    assert_true(child_read(&c, out_has, "ready"));
    for (int k = 1; k <= 5; k++) {
        assert_int_equal(kill(c.pid, SIGQUIT), 0);
        struct count_arg a = {"weft: end of task dump", (size_t)k};
        bool ok = child_read(&c, err_count, &a);
        if (!ok)
            child_dump_on_failure(&c);
        assert_true(ok);
    }
    int st = child_finish(&c); /* closing its stdin lets it exit */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        child_dump_on_failure(&c);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_contains(c.e.buf, "weft: SIGQUIT: task dump (");
    assert_contains(c.e.buf, "sigquit_parked [chan recv, ");
#ifdef WT_HAVE_LIBDW
    /* Where it blocks: in this file (recv_once's receive, or the task
     * function itself when that receive is its tail call). */
    const char *blk = strstr(c.e.buf, "sigquit_parked [chan recv, ");
    const char *spawned = blk ? strstr(blk, "    spawned at ") : NULL;
    const char *site = blk ? strstr(blk, "    blocked at ") : NULL;
    if (!site || site > spawned || !strstr(site, "test_diag.c:") ||
        strstr(site, "test_diag.c:") > spawned)
        fail_msg("no blocking line in the SIGQUIT dump of sigquit_parked:\n%s", c.e.buf);
#endif
    child_free(&c);
}

/* WEFT_EXPECT_NO_TASK_LEAKS reports the leak (with the checking site) and
 * aborts. */
static void test_expect_no_task_leaks_aborts_on_a_leak(void **state)
{
    struct child c;
    child_start(&c, "expect-abort");
    int st = child_finish(&c);
    int line = 0;
    const char *l = strstr(c.o.buf, "check at ");
    if (l)
        sscanf(l, "check at %d", &line);
    if (!WIFSIGNALED(st))
        child_dump_on_failure(&c);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    char site[96];
    snprintf(site, sizeof site, "%s: 1 task leaked since the mark", here(line));
    assert_contains(c.e.buf, site);
    assert_contains(c.e.buf, "recv_once [chan recv, ");
    child_free(&c);
}

/* ------------------------------------------------------------------ */
/* Child modes                                                         */
/* ------------------------------------------------------------------ */

static void hook_exit(void *arg)
{
    static const char msg[] = "custom deadlock hook\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(*(int *)arg);
}

static void sigquit_parked(void *p) { recv_once(p); }

static atomic_long sigquit_rounds;

static void sigquit_spawner(void *p)
{
    atomic_int *stop = p;
    while (!atomic_load(stop)) {
        static int64_t zero;
        weft_go(sleep_short, &zero);
        atomic_fetch_add(&sigquit_rounds, 1);
        weft_yield();
    }
}

static int run_child(const char *mode)
{
    if (!strcmp(mode, "deadlock")) {
        int r = weft_run(child_deadlock_main, NULL);
        printf("weft_run returned %d\n", r);
        return r == EDEADLK ? 0 : 1;
    }
    if (!strcmp(mode, "busy")) {
        int r = weft_run(child_busy_main, NULL);
        printf("weft_run returned %d\n", r);
        return r == 42 ? 0 : 1;
    }
    if (!strcmp(mode, "plain-ok")) {
        weft_init(NULL);
        uint64_t mark = weft_leak_mark();
        weft_chan *c = weft_chan_make(0, 0);
        weft_go(recv_once, c); /* asleep until main sends */
        settle(mark);
        weft_sleep(30 * WEFT_MS); /* a plain thread asleep inside weft */
        struct timespec ts = {0, 30 * 1000 * 1000};
        nanosleep(&ts, NULL);     /* and outside weft */
        weft_chan_send(c, NULL);
        settle(mark);
        weft_chan *d = weft_chan_make(0, 0);
        weft_go(sleep_then_send, d);
        weft_chan_recv(d, NULL); /* blocked inside weft, but a sleeping task wakes it */
        puts("plain-ok done");
        return weft_shutdown();
    }
    if (!strcmp(mode, "plain-deadlock") || !strcmp(mode, "plain-hook")) {
        static int code = 7;
        if (!strcmp(mode, "plain-hook"))
            weft_set_deadlock_hook(hook_exit, &code);
        weft_chan *c = weft_chan_make(0, 0), *d = weft_chan_make(0, 0);
        weft_go(recv_once, c);
        weft_chan_recv(d, NULL); /* nobody will ever send */
        return 1;
    }
    if (!strcmp(mode, "sigquit")) {
#if defined(__SANITIZE_THREAD__) || defined(WT_HAVE_TSAN)
        /* ThreadSanitizer runs a handler only when the thread that took the
         * signal passes through an intercepted call, which a worker busy
         * running tasks may not do for a long time: let only this thread
         * (polling below) take SIGQUIT. */
        sigset_t q;
        sigemptyset(&q);
        sigaddset(&q, SIGQUIT);
        pthread_sigmask(SIG_BLOCK, &q, NULL);
        weft_init(NULL);
        pthread_sigmask(SIG_UNBLOCK, &q, NULL);
#else
        weft_init(NULL);
#endif
        if (weft_dump_on_sigquit(true) != 0)
            return 2;
        weft_chan *c = weft_chan_make(0, 0);
        static atomic_int stop;
        for (int i = 0; i < 2; i++)
            weft_go(sigquit_spawner, &stop);
        weft_go(sigquit_parked, c);
        /* Wait (bounded) until the parked task shows as parked. */
        int64_t dl = weft_now() + WT_LIVENESS_NS;
        for (bool seen = false; !seen && weft_now() < dl;) {
            char *buf = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&buf, &len);
            weft_dump_tasks(f);
            fclose(f);
            seen = strstr(buf, "sigquit_parked [chan recv, ") != NULL;
            free(buf);
            sched_yield();
        }
        puts("ready");
        fflush(stdout);
        /* Until the parent closes our stdin.  poll() with a timeout, not a
         * blocking read(): under ThreadSanitizer a handler runs only once
         * its thread passes through an intercepted call. */
        for (;;) {
            struct pollfd pf = {0, POLLIN, 0};
            char b;
            if (poll(&pf, 1, 50) > 0 && read(0, &b, 1) <= 0)
                break;
        }
        long before = atomic_load(&sigquit_rounds);
        /* The program goes on after the dumps: its tasks still make
         * progress (bounded wait). */
        int64_t dl2 = weft_now() + WT_LIVENESS_NS;
        while (atomic_load(&sigquit_rounds) == before && weft_now() < dl2)
            sched_yield();
        long after = atomic_load(&sigquit_rounds);
        atomic_store(&stop, 1);
        weft_chan_close(c);
        weft_dump_on_sigquit(false);
        printf("progress %ld -> %ld\n", before, after);
        return after > before ? 0 : 4;
    }
    if (!strcmp(mode, "expect-abort")) {
        uint64_t mark = weft_leak_mark();
        weft_chan *c = weft_chan_make(0, 0);
        weft_go(recv_once, c);
        printf("check at %d\n", __LINE__ + 2);
        fflush(stdout);
        WEFT_EXPECT_NO_TASK_LEAKS(mark);
        return 0;
    }
    fprintf(stderr, "unknown child mode %s\n", mode);
    return 3;
}

static int diag_group_setup(void **state)
{
    struct weft_config cfg = {.workers = 2};
    return weft_init(&cfg) == 0 ? 0 : -1;
}

static int diag_group_teardown(void **state)
{
    /* Exactly the tasks leaked on purpose are still alive. */
    assert_int_equal(weft_shutdown(), leaked_forever);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--child"))
        return run_child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_names_spawn_site_state_and_channel_site),
        cmocka_unit_test(test_dump_shows_each_wait_reason_and_object),
        cmocka_unit_test(test_dump_json_is_valid_and_lists_every_task),
        cmocka_unit_test(test_dump_json_parses_with_python),
        cmocka_unit_test(test_dumps_survive_concurrent_spawn_exit_and_frees),
        cmocka_unit_test(test_leak_check_clean_program_reports_nothing),
        cmocka_unit_test(test_leak_check_reports_blocked_task_with_site_and_reason),
        cmocka_unit_test(test_leak_check_ignores_tasks_spawned_before_the_mark),
        cmocka_unit_test(test_leak_check_on_a_thread_is_woken_by_the_exit),
        cmocka_unit_test(test_leak_check_marks_tasks_on_unreferenced_channels_certainly_leaked),
        cmocka_unit_test(test_leak_check_times_out_on_a_running_task),
        cmocka_unit_test(test_leak_check_inside_a_task),
        cmocka_unit_test(test_leak_check_is_exact_with_10000_tasks_finishing_concurrently),
        cmocka_unit_test(test_stats_count_spawns_exits_parked_and_workers),
        cmocka_unit_test(test_deadlock_in_weft_run_is_reported_and_returns_edeadlk),
        cmocka_unit_test(test_busy_weft_run_program_is_not_a_deadlock),
        cmocka_unit_test(test_no_deadlock_report_while_a_plain_thread_may_still_act),
        cmocka_unit_test(test_plain_thread_deadlock_calls_the_hook),
        cmocka_unit_test(test_sigquit_dumps_tasks_and_the_program_goes_on),
        cmocka_unit_test(test_expect_no_task_leaks_aborts_on_a_leak),
    };
    return cmocka_run_group_tests(tests, diag_group_setup, diag_group_teardown);
}
