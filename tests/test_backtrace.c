/*
 * test_backtrace.c — where a task blocks and its stack, in dumps, leak
 * reports and JSON (sched/diag/backtrace.c, symbolize.c, group.c).
 *
 *  - every public blocking call records the user's line that called it;
 *  - a backtrace lists the user's frames in order, innermost first, and is
 *    cut at its depth cap;
 *  - tasks blocked alike are one group that still lists each id;
 *  - walking stacks never faults and never shows a torn stack while tasks
 *    park, wake, exit and their stacks are reused (run under ASan and TSan
 *    by CI).
 *
 * File and line checks need libdw (WT_HAVE_LIBDW, set by tests/diag.cmake);
 * without it the tests check what the dladdr fallback promises.  Helpers
 * that must keep their own frame are noinline and do something after the
 * blocking call (a tail call would leave no frame of them on the stack).
 *
 * Synchronisation: a test waits for tasks to park by dumping until they
 * show up parked (bounded by WT_LIVENESS_NS), or with weft_leak_check,
 * which returns once the runtime settles.
 */
#include "testutil.h"
#include "childutil.h"

#include <semaphore.h>
#include <unistd.h>

#include <weft_test.h>

#if defined(__clang__)
#define WT_FRAME __attribute__((noinline))
#else
#define WT_FRAME __attribute__((noinline, noclone))
#endif

/* ---- helpers --------------------------------------------------------------- */

static char *dump_text(void)
{
    struct mem m;
    weft_dump_tasks(mem_open(&m));
    return mem_close(&m);
}

static char *dump_json(void)
{
    struct mem m;
    weft_dump_tasks_json(mem_open(&m));
    return mem_close(&m);
}

/* This file's name as the dumps print it (the compiler's __FILE__ and the
 * debug info's file name are the same path). */
static const char *me(void) { return __FILE__; }

/* "blocked at <this file>:<line> in <fn>()" */
__attribute__((unused)) static const char *blocked_at(int line, const char *fn)
{
    static char buf[8][512];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "blocked at %s:%d in %s()", me(), line, fn);
    return b;
}

/* Dump until every needle shows (bounded); returns the last dump. */
static char *await_dump(const char *const *needles, size_t n)
{
    int64_t dl = weft_now() + WT_LIVENESS_NS;
    for (;;) {
        char *out = dump_text();
        size_t seen = 0;
        while (seen < n && strstr(out, needles[seen]))
            seen++;
        if (seen == n || weft_now() >= dl)
            return out;
        free(out);
        weft_yield();
        wt_os_sleep_ns(WEFT_MS); /* pacing the polling only */
    }
}


/* The text of the block (group or single task) whose header contains
 * needle, up to the next block; a malloc'd copy, or NULL. */
static char *block_of(const char *dump, const char *needle)
{
    const char *p = strstr(dump, needle);
    if (!p)
        return NULL;
    while (p > dump && p[-1] != '\n')
        p--;
    const char *e = strchr(p, '\n');
    while (e && e[1] == ' ')
        e = strchr(e + 1, '\n');
    size_t n = e ? (size_t)(e - p + 1) : strlen(p);
    char *b = malloc(n + 1);
    assert_non_null(b);
    memcpy(b, p, n);
    b[n] = 0;
    return b;
}

/* ---- 1. the blocking call site ---------------------------------------------- */

static int recv_line;

static void leaky_receiver(void *p)
{
    weft_chan *c = p;
    long v, sum = 0;
    recv_line = __LINE__ + 1;
    while (weft_chan_recv(c, &v) == 0)
        sum += v;
    WT_CHECK(sum >= 0);
}

struct in_task_report {
    uint64_t mark;
    size_t leaked;
    char *report;
    sem_t done;
};

static void report_from_task(void *p)
{
    struct in_task_report *r = p;
    struct mem m;
    m.buf = NULL;
    m.f = open_memstream(&m.buf, &m.len);
    r->leaked = weft_leak_check(r->mark, WT_LIVENESS_NS, m.f);
    fclose(m.f);
    r->report = m.buf;
    sem_post(&r->done);
}

/* A leaked task's report names the line of the receive it is blocked in,
 * in user code, and its function; so does one written from inside a task
 * (symbolized on a helper thread). */
static void test_leak_report_names_the_line_of_the_blocking_receive(void **state)
{
    uint64_t mark = weft_leak_mark();
    weft_chan *c = weft_chan_make(sizeof(long), 0);
    assert_int_equal(weft_go(leaky_receiver, c), 0);
    struct mem m;
    size_t n = weft_leak_check(mark, WT_LIVENESS_NS, mem_open(&m));
    char *out = mem_close(&m);
    assert_int_equal(n, 1);
    assert_contains(out, "leaky_receiver [chan recv, ");
#ifdef WT_HAVE_LIBDW
    assert_contains(out, blocked_at(recv_line, "leaky_receiver"));
    char frame[512];
    snprintf(frame, sizeof frame, " in leaky_receiver at %s:%d\n", me(), recv_line);
    assert_contains(out, frame);
#else
    assert_contains(out, "    blocked at 0x");
#endif
    free(out);

    /* Waited for outside weft: a plain thread waiting inside weft with a
     * deadline would keep the runtime from settling. */
    struct in_task_report r = {.mark = mark};
    sem_init(&r.done, 0, 0);
    assert_int_equal(weft_go(report_from_task, &r), 0);
    while (sem_wait(&r.done) != 0)
        assert_int_equal(errno, EINTR);
    sem_destroy(&r.done);
    assert_int_equal(r.leaked, 1);
#ifdef WT_HAVE_LIBDW
    assert_contains(r.report, blocked_at(recv_line, "leaky_receiver"));
#endif
    free(r.report);

    weft_chan_close(c);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_chan_release(c);
    wt_assert_no_failures();
}

/* The text after "    #i 0x<pc>" in a block (" in func at file:line..."),
 * or NULL. */
static const char *frame_text(const char *block, int i)
{
    char num[24];
    snprintf(num, sizeof num, "    #%d 0x", i);
    const char *f = strstr(block, num);
    if (!f)
        return NULL;
    f += strlen(num);
    while ((*f >= '0' && *f <= '9') || (*f >= 'a' && *f <= 'f'))
        f++;
    return f;
}

__attribute__((unused)) static void assert_frame(const char *block, int i, const char *fn,
                                                 int line)
{
    char want[512];
    if (line)
        snprintf(want, sizeof want, " in %s at %s:%d\n", fn, me(), line);
    else
        snprintf(want, sizeof want, " in %s at ", fn);
    const char *f = frame_text(block, i);
    if (!f || strncmp(f, want, strlen(want)))
        fail_msg("frame #%d: expected \"%s\" in:\n%s", i, want, block);
}

/* Every public blocking call records the line that called it, also when
 * it blocks through another one inside weft (contexts, Once, errgroup). */
enum {
    W_SEND,
    W_RECV,
    W_SELECT,
    W_SLEEP,
    W_SEND_CTX,
    W_RECV_CTX,
    W_SLEEP_CTX,
    W_WG,
    W_WG_CTX,
    W_MUTEX,
    W_ONCE,
    W_GROUP_WAIT,
    W_GROUP_GO,
    W_KINDS
};

static struct waits {
    weft_chan *cs;    /* nobody receives from it */
    weft_chan *cr;    /* nobody sends to it */
    weft_chan *quit;  /* closed at the end */
    atomic_int stop;  /* the sleeper stops sleeping */
    atomic_int go_returned; /* the W_GROUP_GO call got its slot and spawned */
    weft_ctx *ctx;    /* canceled at the end */
    weft_wg wg;       /* 1 until the end */
    weft_mutex mu;    /* held by the test until the end */
    weft_once once;   /* its function blocked until the end */
    weft_group grp;   /* one member blocked until the end */
    weft_group lim;   /* limit 1, its slot held until the end */
    atomic_int line[W_KINDS];
} W;

static void once_body(void *p)
{
    (void)p;
    (void)weft_chan_recv(W.quit, NULL);
}

static int member(weft_ctx *ctx, void *p)
{
    (void)ctx, (void)p;
    (void)weft_chan_recv(W.quit, NULL);
    return 0;
}

static void once_holder(void *p)
{
    (void)p;
    (void)weft_once_do(&W.once, once_body, NULL);
}

/* Each case stores its line, then makes the call on the next line. */
#define AT(k) atomic_store(&W.line[k], __LINE__ + 1)

static void wait_one(void *p)
{
    int k = (int)(intptr_t)p, r = 0;
    weft_case cs[2] = {WEFT_CASE_RECV(W.cr, NULL), WEFT_CASE_RECV(W.quit, NULL)};
    switch (k) {
    case W_SEND:
        AT(k);
        r = weft_chan_send(W.cs, NULL);
        break;
    case W_RECV:
        AT(k);
        r = weft_chan_recv(W.cr, NULL);
        break;
    case W_SELECT:
        AT(k);
        r = weft_select(cs, 2, WEFT_FOREVER);
        break;
    case W_SLEEP:
        while (!atomic_load(&W.stop)) {
            AT(k);
            r = weft_sleep(WEFT_MS);
        }
        break;
    case W_SEND_CTX:
        AT(k);
        r = weft_chan_send_ctx(W.cs, NULL, W.ctx);
        break;
    case W_RECV_CTX:
        AT(k);
        r = weft_chan_recv_ctx(W.cr, NULL, W.ctx);
        break;
    case W_SLEEP_CTX:
        AT(k);
        r = weft_sleep_ctx(W.ctx, 3600 * WEFT_SEC);
        break;
    case W_WG:
        AT(k);
        r = weft_wg_wait(&W.wg);
        break;
    case W_WG_CTX:
        AT(k);
        r = weft_wg_wait_ctx(&W.wg, W.ctx);
        break;
    case W_MUTEX:
        AT(k);
        r = weft_mutex_lock(&W.mu);
        if (r == 0)
            weft_mutex_unlock(&W.mu);
        break;
    case W_ONCE:
        AT(k);
        r = weft_once_do(&W.once, once_body, NULL);
        break;
    case W_GROUP_WAIT:
        AT(k);
        r = weft_group_wait(&W.grp);
        break;
    case W_GROUP_GO:
        AT(k);
        r = weft_group_go(&W.lim, member, NULL);
        atomic_store(&W.go_returned, 1);
        break;
    }
    WT_CHECK(r > -1000); /* keeps each call from being a tail call */
}

static void test_every_blocking_call_records_its_callers_line(void **state)
{
    uint64_t mark = weft_leak_mark();
    memset(&W, 0, sizeof W);
    W.cs = weft_chan_make(0, 0);
    W.cr = weft_chan_make(0, 0);
    W.quit = weft_chan_make(0, 0);
    W.ctx = weft_ctx_with_cancel(weft_ctx_background());
    assert_non_null(W.ctx);
    assert_int_equal(weft_wg_add(&W.wg, 1), 0);
    assert_int_equal(weft_mutex_lock(&W.mu), 0);
    assert_int_equal(weft_group_init(&W.grp, weft_ctx_background()), 0);
    assert_int_equal(weft_group_go(&W.grp, member, NULL), 0);
    assert_int_equal(weft_group_init(&W.lim, weft_ctx_background()), 0);
    assert_int_equal(weft_group_set_limit(&W.lim, 1), 0);
    assert_int_equal(weft_group_go(&W.lim, member, NULL), 0); /* holds the one slot */
    /* The Once's function runs (parked) before its second caller comes. */
    assert_int_equal(weft_go(once_holder, NULL), 0);
    const char *holder[] = {" once_holder [chan recv, "};
    free(await_dump(holder, 1));
    for (int k = 0; k < W_KINDS; k++)
        assert_int_equal(weft_go(wait_one, (void *)(intptr_t)k), 0);
    static char want[W_KINDS][512];
    const char *needles[W_KINDS];
    for (int k = 0; k < W_KINDS; k++) {
        int64_t dl = weft_now() + WT_LIVENESS_NS;
        while (!atomic_load(&W.line[k]) && weft_now() < dl)
            weft_yield();
#ifdef WT_HAVE_LIBDW
        snprintf(want[k], sizeof want[k], "%s", blocked_at(atomic_load(&W.line[k]), "wait_one"));
#else
        snprintf(want[k], sizeof want[k], " wait_one [");
#endif
        needles[k] = want[k];
    }
    char *out = await_dump(needles, W_KINDS);
    for (int k = 0; k < W_KINDS; k++)
        if (!strstr(out, needles[k]))
            fail_msg("wait kind %d: expected \"%s\" in:\n%s", k, needles[k], out);
    free(out);
    atomic_store(&W.stop, 1);
    weft_chan_close(W.quit);
    weft_chan_close(W.cs);
    weft_chan_close(W.cr);
    weft_ctx_cancel(W.ctx);
    weft_wg_done(&W.wg);
    weft_mutex_unlock(&W.mu);
    /* The blocked weft_group_go gets its slot once the first member
     * returns, which may also bring the group's counter to zero for a
     * moment: wait for that go to be done before waiting on the group (a
     * go racing the wait's return is errgroup misuse, as in Go). */
    int64_t go_dl = weft_deadline(WT_LIVENESS_NS);
    while (!atomic_load(&W.go_returned) && weft_now() < go_dl)
        wt_os_sleep_ns(WEFT_MS);
    assert_int_equal(weft_group_wait(&W.lim), 0);
    assert_int_equal(weft_group_wait(&W.grp), 0);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_ctx_release(W.ctx);
    weft_chan_release(W.cs);
    weft_chan_release(W.cr);
    weft_chan_release(W.quit);
    wt_assert_no_failures();
}

/* ---- 2. the stack ------------------------------------------------------------ */

struct deep {
    weft_chan *c;
    int depth; /* extra recursion below level3 */
};
static atomic_int l1_line, l2_line, l3_line, top_line;

WT_FRAME static int recurse(struct deep *d, int n)
{
    if (n == 0)
        return weft_chan_recv(d->c, NULL) + 1;
    /* Read back after the call: a real frame per level, never a loop. */
    volatile int here = n;
    int r = recurse(d, n - 1);
    return r + here;
}

WT_FRAME static int level3(struct deep *d)
{
    atomic_store(&l3_line, __LINE__ + 1);
    int r = d->depth ? recurse(d, d->depth) : weft_chan_recv(d->c, NULL);
    return r + 1;
}

WT_FRAME static int level2(struct deep *d)
{
    atomic_store(&l2_line, __LINE__ + 1);
    int r = level3(d);
    return r + 1;
}

WT_FRAME static int level1(struct deep *d)
{
    atomic_store(&l1_line, __LINE__ + 1);
    int r = level2(d);
    return r + 1;
}

static void three_deep(void *p)
{
    atomic_store(&top_line, __LINE__ + 1);
    int r = level1(p);
    WT_CHECK(r != 0);
}

/* A task blocked three calls deep in user code shows the three frames, in
 * order, innermost first, then its entry function, and none of weft's;
 * JSON has the same. */
static void test_backtrace_shows_three_user_frames_in_order(void **state)
{
    uint64_t mark = weft_leak_mark();
    struct deep d = {weft_chan_make(0, 0), 0};
    assert_int_equal(weft_go(three_deep, &d), 0);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, NULL), 1);
    char *out = dump_text();
    char *b = block_of(out, " three_deep [chan recv, ");
    if (!b)
        fail_msg("no three_deep task in:\n%s", out);
#ifdef WT_HAVE_LIBDW
    assert_frame(b, 0, "level3", atomic_load(&l3_line));
    assert_frame(b, 1, "level2", atomic_load(&l2_line));
    assert_frame(b, 2, "level1", atomic_load(&l1_line));
    assert_frame(b, 3, "three_deep", atomic_load(&top_line));
    if (frame_text(b, 4))
        fail_msg("a frame after the entry function:\n%s", b);
    assert_contains(b, blocked_at(atomic_load(&l3_line), "level3"));
    if (strstr(b, "weft_chan_recv") || strstr(b, " in weft__"))
        fail_msg("weft's own frames shown:\n%s", b);
#else
    assert_non_null(frame_text(b, 3));
#endif
    free(b);
    free(out);

    out = dump_json();
    const char *t = strstr(out, "\"fn\":\"three_deep\"");
    assert_non_null(t);
    const char *st = strstr(t, "\"stack\":[{\"pc\":\"0x");
    assert_non_null(st);
#ifdef WT_HAVE_LIBDW
    const char *fns[] = {"level3", "level2", "level1", "three_deep"};
    for (int i = 0; i < 4; i++) {
        char f[64];
        snprintf(f, sizeof f, "\"func\":\"%s\",\"file\":", fns[i]);
        const char *q = strstr(st, f);
        if (!q)
            fail_msg("JSON stack lacks %s after the previous frame:\n%.2000s", fns[i], t);
        st = q;
    }
    char ba[512];
    snprintf(ba, sizeof ba, "\"blocked_at\":{\"file\":\"%s\",\"line\":%d,\"func\":\"level3\"",
             me(), atomic_load(&l3_line));
    assert_contains(t, ba);
#endif
    free(out);
    weft_chan_close(d.c);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_chan_release(d.c);
    wt_assert_no_failures();
}

/* A stack deeper than the cap keeps its innermost frames and says it was
 * cut (text and JSON). */
static void test_deep_stack_is_cut_at_the_cap(void **state)
{
    uint64_t mark = weft_leak_mark();
    struct deep d = {weft_chan_make(0, 0), 100};
    assert_int_equal(weft_go(three_deep, &d), 0);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, NULL), 1);
    char *out = dump_text();
    char *b = block_of(out, " three_deep [chan recv, ");
    assert_non_null(b);
    assert_contains(b, "    ... (deeper frames not shown)\n");
    assert_non_null(frame_text(b, 31));
#ifdef WT_HAVE_LIBDW
    for (int i = 0; i < 32; i++)
        assert_frame(b, i, "recurse", 0);
#endif
    free(b);
    free(out);
    out = dump_json();
    const char *t = strstr(out, "\"fn\":\"three_deep\"");
    assert_non_null(t);
    assert_non_null(strstr(t, "\"stack_truncated\":true"));
    free(out);
    weft_chan_close(d.c);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    weft_chan_release(d.c);
    wt_assert_no_failures();
}

/* ---- 3. grouping ------------------------------------------------------------- */

static atomic_int group_line;

static void identical(void *p)
{
    weft_chan *c = p; /* the task's own reference */
    atomic_store(&group_line, __LINE__ + 1);
    int r = weft_chan_recv(c, NULL);
    weft_chan_release(c);
    WT_CHECK(r == EPIPE);
}

/* 1 000 tasks leaked alike, each on a channel of its own, are one group in
 * the dump and in the leak report; the group lists every id (as ranges),
 * the channels' creation site, the spawn site and the blocking line. */
static void test_1000_identical_leaks_are_one_group(void **state)
{
    enum { N = 1000 };
    uint64_t mark = weft_leak_mark();
    static weft_chan *cs[N];
    int make_line = __LINE__ + 2;
    for (int i = 0; i < N; i++) {
        cs[i] = weft_chan_make(0, 0);
        assert_non_null(cs[i]);
    }
    int go_line = __LINE__ + 2;
    for (int i = 0; i < N; i++)
        assert_int_equal(weft_go(identical, weft_chan_retain(cs[i])), 0);
    struct mem m;
    size_t n = weft_leak_check(mark, WT_LIVENESS_NS, mem_open(&m));
    char *rep = mem_close(&m);
    assert_int_equal(n, N);
    char *dump = dump_text();
    const char *texts[2] = {rep, dump};
    for (int k = 0; k < 2; k++) {
        const char *out = texts[k];
        assert_int_equal(count_of(out, " identical [chan recv, "), 1);
        char *b = block_of(out, "1000 tasks identical [chan recv, ");
        if (!b)
            fail_msg("no group of 1000 in:\n%.3000s", out);
        static uint64_t ids[N + 8];
        assert_int_equal(group_ids(b, "1000 tasks", ids, N + 8), N);
        for (int i = 0; i < N; i++)
            assert_int_equal(ids[i], mark + (uint64_t)i); /* spawned in a row from here */
        char want[512];
        snprintf(want, sizeof want,
                 "    waiting on 1000 different channels made at %s:%d (unbuffered, signal-only)\n",
                 me(), make_line);
        assert_contains(b, want);
        snprintf(want, sizeof want, "    spawned at %s:%d in %s()\n", me(), go_line, __func__);
        assert_contains(b, want);
#ifdef WT_HAVE_LIBDW
        assert_contains(b, blocked_at(atomic_load(&group_line), "identical"));
        assert_frame(b, 0, "identical", atomic_load(&group_line));
#endif
        free(b);
    }
    free(rep);
    free(dump);
    for (int i = 0; i < N; i++) {
        weft_chan_close(cs[i]);
        weft_chan_release(cs[i]);
    }
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    wt_assert_no_failures();
}

/* ---- 4. walking stacks that are being reused ------------------------------- */

struct churn {
    atomic_int stop;
    atomic_long rounds;
    weft_chan *done;
};

static void churn_child(void *p)
{
    struct deep *d = p; /* the task's own (malloc'd) copy, and reference */
    int r = d->depth ? recurse(d, d->depth) : weft_chan_recv(d->c, NULL) + 1;
    weft_chan_release(d->c);
    free(d);
    WT_CHECK(r >= 1);
}

/* Spawns children on small stacks that recurse a random depth, park, are
 * woken and exit, so stacks are reused at every depth all the time. */
static void churner(void *p)
{
    struct churn *ch = p;
    wt_rng rng = wt_rng_make(weft_self());
    struct weft_task_opts small = {.stack_size = 16 * 1024};
    while (!atomic_load(&ch->stop)) {
        weft_chan *c = weft_chan_make(0, 0);
        WT_CHECK(c != NULL);
        struct deep *d = malloc(sizeof *d);
        WT_CHECK(d != NULL);
        *d = (struct deep){weft_chan_retain(c), (int)wt_rand_n(&rng, 40)};
        WT_CHECK_INT_EQ(weft_go_opts(&small, churn_child, d), 0);
        if (wt_rand_n(&rng, 4))
            weft_yield(); /* let it park first, mostly */
        WT_CHECK_INT_EQ(weft_chan_send(c, NULL), 0);
        weft_chan_release(c);
        atomic_fetch_add(&ch->rounds, 1);
    }
    WT_CHECK_INT_EQ(weft_chan_send(ch->done, NULL), 0);
}

/* In a JSON dump, the functions of every churn_child's stack: each must be
 * one of the functions that task can be in.  Returns the stacks checked. */
static size_t check_churn_stacks(const char *json)
{
    size_t stacks = 0;
    for (const char *t = json; (t = strstr(t, "\"fn\":\"churn_child\"")); t++) {
        const char *st = strstr(t, "\"stack\":[");
        const char *end = st ? strchr(st, ']') : NULL;
        if (!end)
            fail_msg("no stack array after a churn_child task");
        st += strlen("\"stack\":[");
        if (st == end)
            continue; /* not parked, or it moved while being read */
        stacks++;
        for (const char *f = st; (f = strstr(f, "\"func\":")) && f < end; f++) {
            f += strlen("\"func\":");
#ifndef WT_HAVE_LIBDW
            if (!strncmp(f, "null", 4))
                continue; /* dladdr: no names for a program's own static functions */
#endif
            if (strncmp(f, "\"recurse\"", 9) && strncmp(f, "\"churn_child\"", 13))
                fail_msg("a churn_child stack holds a frame of %.40s:\n%.*s", f,
                         (int)(end - t), t);
        }
    }
    return stacks;
}

/* Dumps (text and JSON) run all the time while tasks park at random
 * depths, wake, exit and their stacks are reused: nothing faults, and
 * every stack shown is one the task really had (only its own functions;
 * a stack that changed while read is dropped, not shown torn). */
static void test_walking_stacks_being_reused_never_faults_or_tears(void **state)
{
    /* Enough dumps and rounds to race often (a few seconds in release);
     * slow builds (TSan) stop at the time budget with what they did, which
     * must still be a real race: the minimums below. */
#ifdef WT_TSAN_BUILD
    /* gcc's TSan runs a round in ~10 ms on a busy 2-core machine. */
    enum { CHURNERS = 4, DUMPS = 200, ROUNDS = 20000, MIN_ROUNDS = 200, MIN_STACKS = 50 };
#else
    enum { CHURNERS = 4, DUMPS = 200, ROUNDS = 20000, MIN_ROUNDS = 1000, MIN_STACKS = 50 };
#endif
    uint64_t mark = weft_leak_mark();
    struct churn ch = {.done = weft_chan_make(0, CHURNERS)};
    for (int i = 0; i < CHURNERS; i++)
        assert_int_equal(weft_go(churner, &ch), 0);
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    size_t checked = 0;
    int64_t budget = weft_now() + WT_LIVENESS_NS / 2;
    for (int i = 0; (i < DUMPS || checked < 200 || atomic_load(&ch.rounds) < ROUNDS) &&
                    weft_now() < budget;
         i++) {
        assert_true(weft_dump_tasks(null) >= 0);
        char *out = dump_json();
        checked += check_churn_stacks(out);
        free(out);
    }
    fclose(null);
    atomic_store(&ch.stop, 1);
    assert_int_equal(wt_wait_n(ch.done, CHURNERS), CHURNERS);
    assert_int_equal(weft_leak_check(mark, WT_LIVENESS_NS, stderr), 0);
    long rounds = atomic_load(&ch.rounds);
    print_message("%ld child rounds raced the dumps; %zu churn_child stacks checked\n", rounds,
                  checked);
    if (rounds < MIN_ROUNDS)
        fail_msg("only %ld child rounds raced the dumps", rounds);
#ifdef WT_HAVE_LIBDW
    if (checked < MIN_STACKS) /* stacks were seen, not only dropped ones */
        fail_msg("only %zu churn_child stacks checked", checked);
#endif
    weft_chan_release(ch.done);
    wt_assert_no_failures();
}

static int group_setup(void **state)
{
    struct weft_config cfg = {.workers = 2};
    return weft_init(&cfg) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    assert_int_equal(weft_shutdown(), 0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leak_report_names_the_line_of_the_blocking_receive),
        cmocka_unit_test(test_every_blocking_call_records_its_callers_line),
        cmocka_unit_test(test_backtrace_shows_three_user_frames_in_order),
        cmocka_unit_test(test_deep_stack_is_cut_at_the_cap),
        cmocka_unit_test(test_1000_identical_leaks_are_one_group),
        cmocka_unit_test(test_walking_stacks_being_reused_never_faults_or_tears),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
