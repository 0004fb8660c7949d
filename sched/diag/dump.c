/*
 * dump.c — task dumps (Go's goroutine dump, with the waited-on object's
 * creation site), as text and as JSON, the SIGQUIT trigger, and the reader
 * protocol that lets diagnostics look at the channels other tasks wait on
 * (see diag.h).
 *
 * A dump first copies every task under its registry shard lock into a
 * snapshot array (a parked task's stack as raw return addresses:
 * backtrace.c), then symbolizes (symbolize.c), groups like tasks (group.c)
 * and prints, with no lock held: a slow or blocked FILE never holds up
 * spawns and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "../chan/chan.h"
#include "diag.h"

/* Static archives: sched/worker.c defines a weak no-op weft__check_deadlock,
 * which satisfies the linker, so deadlock.o would never be pulled for it.
 * dump.o is always linked (weft_shutdown dumps), and this reference brings
 * the real detector in with it. */
void weft__diag_deadlock_anchor(void);
__attribute__((used)) static void (*const deadlock_anchor)(void) = weft__diag_deadlock_anchor;

/* ---- reader protocol: deferred frees --------------------------------------- */

static weft__aword diag_readers;
static weft__lock retire_lock = WEFT__LOCK_INIT;
/* Blocks whose free waits for the readers to leave.  Kept apart from the
 * blocks themselves: a reader may still be reading every byte of one. */
enum { RETIRE_MAX = 512 };
static void *retired[RETIRE_MAX];
static size_t nretired;

void weft__diag_enter(void)
{
    /* full: the count is visible before any task state is read (Dekker
     * pair with weft__diag_defer_free). */
    weft__fetch_add_full(&diag_readers, 1);
}

void weft__diag_exit(void)
{
    weft__lock_acquire(&retire_lock);
    if (weft__fetch_add_full(&diag_readers, (AO_t)-1) == 1) {
        /* The last reader out frees what the others held off. */
        for (size_t i = 0; i < nretired; i++)
            weft__free(retired[i]);
        nretired = 0;
    }
    weft__lock_release(&retire_lock);
}

bool weft__diag_defer_free(void *p)
{
    /* full: whatever made p unreachable (the ready of its last waiter)
     * is ordered before this load. */
    weft__fence_full();
    if (weft__load_full(&diag_readers) == 0)
        return false;
    for (;;) {
        weft__lock_acquire(&retire_lock);
        /* Readers leave under the lock, so this re-check is exact. */
        if (weft__load_relaxed(&diag_readers) == 0) {
            weft__lock_release(&retire_lock);
            return false;
        }
        if (nretired < RETIRE_MAX) {
            retired[nretired++] = p;
            weft__lock_release(&retire_lock);
            return true;
        }
        weft__lock_release(&retire_lock);
        /* Full: wait the readers out.  They only walk the registry (no
         * printing happens inside), and we hold no lock they could need. */
        while (weft__load_acq(&diag_readers) != 0)
            sched_yield();
    }
}

/* ---- snapshots ------------------------------------------------------------- */

bool weft__diag_is_main(const weft__task *t)
{
    /* weft_run spawns its main task uncounted from weft_run itself. */
    return t->is_main || (!t->counted && t->func && strcmp(t->func, "weft_run") == 0);
}

static bool is_chan_wait(int reason)
{
    return reason == WEFT__WAIT_CHAN_SEND || reason == WEFT__WAIT_CHAN_RECV ||
           reason == WEFT__WAIT_SELECT;
}

/* Defined by chan/chan.c once its frees go through weft__diag_defer_free
 * (weak: NULL until then).  Without it a channel read here may have been
 * freed under us: the fields are then read without the channel's lock (a
 * freed lock word could hold us forever), as racy, best-effort reads. */
extern const int weft__chan_frees_deferred __attribute__((weak));

/* Copy a channel's description; c is kept alive by the reader protocol. */
static void snap_chan(const void *p, struct weft__diag_chan *d)
{
    weft_chan *c = (weft_chan *)p;
    d->addr = p;
    d->file = c->file;
    d->line = c->line;
    d->cap = c->cap;
    d->elemsize = c->elemsize;
    bool locked = &weft__chan_frees_deferred != NULL;
    if (locked)
        weft__lock_acquire(&c->lock);
    d->closed = weft__load_relaxed(&c->closed) != 0;
    d->len = (size_t)weft__load_relaxed(&c->qcount);
    d->orphaned = __atomic_load_n(&c->orphaned, __ATOMIC_RELAXED);
    if (locked)
        weft__lock_release(&c->lock);
}

static void add_chan(struct weft__diag_task *s, const void *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < s->nchans; i++)
        if (s->chans[i].addr == c)
            return; /* the same channel in several cases */
    if (s->nchans < WEFT__DIAG_CHANS)
        snap_chan(c, &s->chans[s->nchans++]);
    else
        s->more_chans++;
}

/* The channels a parked task waits on (protocol of diag.h). */
static void snap_chans(weft__task *t, struct weft__diag_task *s)
{
    if (!is_chan_wait(s->reason))
        return;
#ifdef WEFT__WAIT_CHANS
    if (s->reason == WEFT__WAIT_SELECT) {
        /* acquire: the channel slots were stored before the count. */
        size_t n = (size_t)weft__load_acq(&t->wait_nchans);
        size_t rec = n < WEFT__WAIT_CHANS ? n : WEFT__WAIT_CHANS;
        for (size_t i = 0; i < rec; i++)
            add_chan(s, (const void *)weft__load_relaxed(&t->wait_chans[i]));
        s->more_chans += (unsigned)(n - rec);
        if (s->nchans)
            return;
    }
#endif
    add_chan(s, s->obj);
}

static void snap_once(weft__task *t, struct weft__diag_task *s)
{
    memset(s, 0, sizeof *s);
    s->id = t->id;
    if (t->name) {
        strncpy(s->name, t->name, sizeof s->name - 1);
        s->name[sizeof s->name - 1] = 0;
    }
    s->fn_name = t->fn_name;
    s->file = t->file;
    s->func = t->func;
    s->line = t->line;
    s->counted = t->counted;
    s->is_main = weft__diag_is_main(t);
    /* acquire: pairs with the park's release store of PARKED, so the wait
     * fields read below are those of this park or a later one. */
    s->state = (int)weft__load_acq(&t->state);
    if (s->state != WEFT__TASK_PARKED)
        return;
    /* Read before the wait fields: if it is unchanged after the stack
     * walk, so is everything read in between (this very park). */
    uint64_t stamp = weft__bt_stamp(t);
    s->reason = (int)weft__load_relaxed(&t->wait_reason);
    s->obj = (const void *)weft__load_relaxed(&t->wait_obj);
    s->wait_pc = (uintptr_t)weft__load_relaxed(&t->wait_pc);
    s->entry = (uintptr_t)t->fn;
    WEFT__DIAG_RACY_BEGIN();
    s->waited_ns = weft__task_waited_ns(t);
    WEFT__DIAG_RACY_END();
    snap_chans(t, s);
    if (!weft__bt_enabled()) {
        s->bt.state = WEFT__BT_OFF;
        return;
    }
    weft__bt_walk(t, s->wait_pc, &s->bt);
    /* full: the stack reads above are done before the re-check. */
    weft__fence_full();
    if (weft__load_acq(&t->state) != WEFT__TASK_PARKED || weft__bt_stamp(t) != stamp) {
        s->bt.state = WEFT__BT_CHANGED; /* it was readied, and maybe parked again */
        s->bt.n = 0;
    }
}

void weft__diag_snap(weft__task *t, struct weft__diag_task *s)
{
    /* A torn stack is read again.  So is one that does not pass through
     * the recorded call site: the park stores PARKED just before its
     * switch saves the registers, so for a moment the saved frame is the
     * previous one.  After three tries what was read is kept (a site
     * that is not in the chain: weft itself built without frame
     * pointers). */
    for (int attempt = 0;; attempt++) {
        snap_once(t, s);
        bool settled = s->state != WEFT__TASK_PARKED || s->bt.state == WEFT__BT_OFF ||
                       (s->bt.state == WEFT__BT_OK && (s->bt.from_site || !s->wait_pc));
        if (settled || attempt == 2)
            break;
        for (int i = 0; i < 64; i++)
            weft__cpu_relax(); /* a task switching out finishes in a few hundred cycles */
    }
    /* The call site is shown only once the stack proves it: a park that
     * did not record one (a new blocking call that forgot
     * weft__set_wait_pc) leaves the previous park's there. */
    if (s->bt.state != WEFT__BT_OK || !s->bt.from_site)
        s->wait_pc = 0;
}

bool weft__diag_certainly_leaked(const struct weft__diag_task *s)
{
    return s->state == WEFT__TASK_PARKED &&
           (s->reason == WEFT__WAIT_CHAN_SEND || s->reason == WEFT__WAIT_CHAN_RECV) &&
           s->nchans == 1 && s->chans[0].orphaned;
}

bool weft__diag_task_certain(weft__task *t)
{
    if (weft__load_acq(&t->state) != WEFT__TASK_PARKED)
        return false;
    AO_t why = weft__load_relaxed(&t->wait_reason);
    weft_chan *c = (weft_chan *)weft__load_relaxed(&t->wait_obj);
    if ((why != WEFT__WAIT_CHAN_SEND && why != WEFT__WAIT_CHAN_RECV) || !c)
        return false;
    struct weft__diag_chan d;
    snap_chan(c, &d);
    return d.orphaned;
}

struct collect {
    bool (*keep)(const weft__task *t, void *arg);
    void *arg;
    struct weft__diag_task *v;
    size_t n, cap, lost;
};

static void collect_one(weft__task *t, void *arg)
{
    struct collect *c = arg;
    if (c->keep && !c->keep(t, c->arg))
        return;
    if (c->n == c->cap) {
        c->lost++;
        return;
    }
    weft__diag_snap(t, &c->v[c->n++]);
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const struct weft__diag_task *)a)->id;
    uint64_t y = ((const struct weft__diag_task *)b)->id;
    return x < y ? -1 : x > y;
}

size_t weft__diag_collect(bool (*keep)(const weft__task *t, void *arg), void *arg,
                          struct weft__diag_task **out, size_t *lost)
{
    /* The registry may grow while we allocate: retry with room to spare. */
    size_t cap = (size_t)weft__alive_all(weft__load_acq(&weft__ctr.alive)) + 16;
    struct collect c = {keep, arg, NULL, 0, 0, 0};
    for (int attempt = 0; attempt < 4; attempt++) {
        weft__free(c.v);
        c.v = weft__malloc(cap * sizeof *c.v);
        if (!c.v)
            break;
        c.cap = cap;
        c.n = c.lost = 0;
        weft__diag_enter();
        weft__for_each_task(collect_one, &c);
        weft__diag_exit();
        if (!c.lost)
            break;
        cap = 2 * (c.n + c.lost) + 16;
    }
    if (!c.v) {
        *out = NULL;
        *lost = (size_t)weft__alive_all(weft__load_acq(&weft__ctr.alive));
        return 0;
    }
    qsort(c.v, c.n, sizeof *c.v, by_id);
    *out = c.v;
    *lost = c.lost;
    return c.n;
}

/* ---- text ------------------------------------------------------------------- */

static const char *state_text(const struct weft__diag_task *s)
{
    switch (s->state) {
    case WEFT__TASK_RUNNABLE:
        return "runnable";
    case WEFT__TASK_RUNNING:
        return "running";
    case WEFT__TASK_PARKED:
        return weft__wait_name((enum weft__wait)s->reason);
    case WEFT__TASK_DEAD:
        return "dead";
    }
    return "?";
}

/* What a non-channel wait is on, for "waiting on <kind> <addr>". */
static const char *obj_kind(int reason)
{
    switch (reason) {
    case WEFT__WAIT_WG:
        return "WaitGroup";
    case WEFT__WAIT_MUTEX:
        return "mutex";
    case WEFT__WAIT_ONCE:
        return "once";
    case WEFT__WAIT_CTX:
        return "context";
    case WEFT__WAIT_GROUP:
        return "errgroup";
    }
    return NULL;
}

/* An I/O wait's object is fd << 2 | WEFT_IN/WEFT_OUT (sched/netpoll.c). */
static int io_fd(const void *obj) { return (int)((uintptr_t)obj >> 2); }
static const char *io_dir(const void *obj)
{
    switch ((uintptr_t)obj & 3) {
    case WEFT_IN:
        return "read";
    case WEFT_OUT:
        return "write";
    default:
        return "read+write";
    }
}

static void print_site(FILE *out, const char *file, int line)
{
    if (file)
        fprintf(out, "%s:%d", file, line);
    else
        fputs("an unrecorded site", out);
}

/* A channel; ndistinct > 1: a group's members wait on that many channels
 * made at the same site, in the same state. */
static void print_chan(FILE *out, const char *verb, const struct weft__diag_chan *c,
                       size_t ndistinct)
{
    if (ndistinct > 1)
        fprintf(out, "    %s %zu different channels made at ", verb, ndistinct);
    else
        fprintf(out, "    %s channel %p made at ", verb, c->addr);
    print_site(out, c->file, c->line);
    if (c->cap)
        fprintf(out, " (buffered %zu/%zu", c->len, c->cap);
    else
        fputs(" (unbuffered", out);
    if (c->elemsize)
        fprintf(out, ", %zu-byte elements", c->elemsize);
    else
        fputs(", signal-only", out);
    if (c->closed)
        fputs(", closed", out);
    if (c->orphaned)
        fputs(", no references left", out);
    fputs(")\n", out);
}

/* What one printed block covers: a single task (next NULL) or a group. */
struct block {
    const struct weft__diag_task *v;
    const size_t *next; /* member links (group.c); NULL: just v[head] */
    size_t head, count;
    const struct weft__symtab *tab; /* NULL: no call site, no stack */
};

#define FOR_MEMBERS(b, i) \
    for (size_t i = (b)->head; i != SIZE_MAX; i = (b)->next ? (b)->next[i] : SIZE_MAX)

static int by_addr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* How many different objects the members wait on in channel slot k
 * (k < 0: wait_obj).  1 when they cannot be counted (out of memory). */
static size_t distinct_objs(const struct block *b, int k)
{
    if (b->count < 2)
        return 1;
    uintptr_t *a = weft__malloc(b->count * sizeof *a);
    if (!a)
        return 1;
    size_t n = 0;
    FOR_MEMBERS(b, i)
        a[n++] = (uintptr_t)(k < 0 ? b->v[i].obj : b->v[i].chans[k].addr);
    qsort(a, n, sizeof *a, by_addr);
    size_t d = n ? 1 : 0;
    for (size_t i = 1; i < n; i++)
        d += a[i] != a[i - 1];
    weft__free(a);
    return d;
}

static void print_header(FILE *out, const struct block *b)
{
    const struct weft__diag_task *s = &b->v[b->head];
    if (b->count == 1)
        fprintf(out, "task %llu", (unsigned long long)s->id);
    else
        fprintf(out, "%zu tasks", b->count);
    if (s->name[0])
        fprintf(out, " \"%s\"", s->name);
    if (s->fn_name)
        fprintf(out, s->name[0] ? " (%s)" : " %s", s->fn_name);
    if (s->is_main)
        fputs(" [weft_run main]", out);
    else if (!s->counted)
        fputs(" [internal]", out);
    fprintf(out, " [%s", state_text(s));
    if (s->state == WEFT__TASK_PARKED) {
        int64_t lo = INT64_MAX, hi = 0;
        FOR_MEMBERS(b, i) {
            int64_t ms = b->v[i].waited_ns / WEFT_MS;
            lo = ms < lo ? ms : lo;
            hi = ms > hi ? ms : hi;
        }
        if (lo == hi)
            fprintf(out, ", %lld ms", (long long)lo);
        else
            fprintf(out, ", %lld-%lld ms", (long long)lo, (long long)hi);
    }
    fputs("]:\n", out);
}

/* "ids 3-7, 9, 12-40", wrapped: every member stays findable by its id. */
static void print_ids(FILE *out, const struct block *b)
{
    int col = fprintf(out, "    ids ");
    bool first = true;
    for (size_t i = b->head; i != SIZE_MAX;) {
        uint64_t lo = b->v[i].id, hi = lo;
        size_t j = b->next[i];
        while (j != SIZE_MAX && b->v[j].id == hi + 1) {
            hi = b->v[j].id;
            j = b->next[j];
        }
        char r[48];
        int len = lo == hi ? snprintf(r, sizeof r, "%llu", (unsigned long long)lo)
                           : snprintf(r, sizeof r, "%llu-%llu", (unsigned long long)lo,
                                      (unsigned long long)hi);
        if (!first) {
            fputc(',', out);
            col++;
            if (col + 1 + len > 96) {
                fputs("\n       ", out);
                col = 7;
            }
            fputc(' ', out);
            col++;
        }
        fputs(r, out);
        col += len;
        first = false;
        i = j;
    }
    fputc('\n', out);
}

static void print_waits(FILE *out, const struct block *b)
{
    const struct weft__diag_task *s = &b->v[b->head];
    const char *kind = obj_kind(s->reason);
    if (s->reason == WEFT__WAIT_SELECT) {
        for (unsigned i = 0; i < s->nchans; i++)
            print_chan(out, "selecting on", &s->chans[i], distinct_objs(b, (int)i));
        if (s->more_chans)
            fprintf(out, "    ... and %u more channel%s\n", s->more_chans,
                    s->more_chans == 1 ? "" : "s");
#ifndef WEFT__WAIT_CHANS
        if (s->nchans)
            fputs("    (only the select's first channel is recorded)\n", out);
#endif
    } else if (s->reason == WEFT__WAIT_IO) {
        size_t d = distinct_objs(b, -1);
        if (d > 1)
            fprintf(out, "    io wait on %zu different fds (%s)\n", d, io_dir(s->obj));
        else
            fprintf(out, "    io wait fd %d (%s)\n", io_fd(s->obj), io_dir(s->obj));
    } else if (s->reason == WEFT__WAIT_BLOCKING) {
        fputs("    running a blocking function on a helper thread (weft_blocking)\n", out);
    } else if (s->nchans) {
        print_chan(out, "waiting on", &s->chans[0], distinct_objs(b, 0));
    } else if (kind && s->obj) {
        size_t d = distinct_objs(b, -1);
        if (d > 1)
            fprintf(out, "    waiting on %zu different %s objects\n", d, kind);
        else
            fprintf(out, "    waiting on %s %p\n", kind, s->obj);
    }
    if (weft__diag_certainly_leaked(s))
        fprintf(out,
                "    certainly leaked: nothing references that channel any more, so nothing "
                "can ever wake %s\n",
                b->count == 1 ? "this task" : "these tasks");
}

/* One source frame: "0x.. in func at file:line", or what is known of it. */
static void print_frame(FILE *out, uintptr_t pc, const struct weft__sym_frame *f, bool inlined)
{
    fprintf(out, "0x%" PRIxPTR " in %s", pc, f && f->func ? f->func : "??");
    if (f && f->file)
        fprintf(out, " at %s:%d", f->file, f->line);
    else if (f && f->module)
        fprintf(out, " (%s+0x%" PRIxPTR ")", f->module, f->offset);
    if (inlined)
        fputs(" [inlined]", out);
}

/* A frame of an inline fast path of include/weft.h (weft_mutex_lock and
 * the like inline into the caller): never the site a user looks for. */
static bool in_public_header(const struct weft__sym_frame *f)
{
    size_t n = f->file ? strlen(f->file) : 0;
    return n >= 7 && strcmp(f->file + n - 7, "/weft.h") == 0;
}

/* The source frame naming a parked task's blocking call site.  *tail: the
 * site was lost to a tail call from the entry function, and this is the
 * entry function itself (its first line). */
static const struct weft__sym_frame *site_frame(const struct weft__diag_task *s,
                                                const struct weft__symtab *tab, bool *tail)
{
    *tail = s->bt.state == WEFT__BT_OK && s->bt.site_in_entry;
    const struct weft__sym *y = weft__symtab_get(tab, *tail ? s->entry + 1 : s->wait_pc);
    if (!y)
        return NULL;
    /* The innermost frame: the call itself, or the entry's start, unless
     * that is one of weft.h's inline fast paths, whose caller's line is
     * the one the user wrote. */
    unsigned i = 0;
    while (i + 1 < y->n && in_public_header(&y->f[i]))
        i++;
    return &y->f[i];
}

static void print_blocked(FILE *out, const struct block *b)
{
    const struct weft__diag_task *s = &b->v[b->head];
    if (!b->tab || s->state != WEFT__TASK_PARKED || !s->wait_pc)
        return;
    bool tail;
    const struct weft__sym_frame *f = site_frame(s, b->tab, &tail);
    fputs("    blocked at ", out);
    if (f && f->file) {
        fprintf(out, "%s:%d", f->file, f->line);
        if (f->func)
            fprintf(out, " in %s()", f->func);
    } else {
        print_frame(out, tail ? s->entry : s->wait_pc, f, false);
    }
    if (tail)
        fputs(" (its last call, a tail call: the line is where the function starts)", out);
    fputc('\n', out);
}

static void print_stack(FILE *out, const struct block *b)
{
    const struct weft__diag_task *s = &b->v[b->head];
    if (!b->tab || s->state != WEFT__TASK_PARKED)
        return;
    switch (s->bt.state) {
    case WEFT__BT_CHANGED:
        fputs("    (stack not shown: the task ran while it was being read)\n", out);
        return;
    case WEFT__BT_UNREADABLE:
        fputs("    (stack not shown: its saved frame is outside its stack)\n", out);
        return;
    case WEFT__BT_OK:
        break;
    default:
        return;
    }
    unsigned k = 0;
    for (unsigned i = 0; i < s->bt.n; i++) {
        const struct weft__sym *y = weft__symtab_get(b->tab, s->bt.pc[i]);
        unsigned nf = y ? y->n : 1;
        for (unsigned j = 0; j < nf; j++) {
            if (j + 1 < nf && in_public_header(&y->f[j]))
                continue; /* an inlined fast path: its caller's frame follows */
            fprintf(out, "    #%u ", k++);
            print_frame(out, s->bt.pc[i], y ? &y->f[j] : NULL, j + 1 < nf);
            fputc('\n', out);
        }
    }
    if (s->bt.truncated)
        fputs("    ... (deeper frames not shown)\n", out);
}

static void print_spawned(FILE *out, const struct weft__diag_task *s)
{
    fputs("    spawned at ", out);
    print_site(out, s->file, s->line);
    if (s->func)
        fprintf(out, " in %s()", s->func);
    fputc('\n', out);
}

static void print_block(FILE *out, const struct block *b)
{
    const struct weft__diag_task *s = &b->v[b->head];
    print_header(out, b);
    if (b->count > 1)
        print_ids(out, b);
    if (s->state == WEFT__TASK_PARKED)
        print_waits(out, b);
    print_blocked(out, b);
    print_stack(out, b);
    print_spawned(out, s);
}

void weft__diag_print_task(FILE *out, const struct weft__diag_task *s)
{
    struct block b = {s, NULL, 0, 1, NULL};
    print_block(out, &b);
}

/* Every address the dump will print, resolved at once (no lock held).
 * heads: the snapshots to take them from (NULL: all n). */
static struct weft__symtab *symbolize(const struct weft__diag_task *v, const size_t *heads,
                                      size_t n)
{
    if (!weft__bt_enabled())
        return NULL;
    struct weft__symtab *tab = weft__symtab_new();
    if (!tab)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        const struct weft__diag_task *s = &v[heads ? heads[k] : k];
        if (s->state != WEFT__TASK_PARKED)
            continue;
        bool ok = weft__symtab_add(tab, s->wait_pc);
        if (ok && s->bt.state == WEFT__BT_OK && s->bt.site_in_entry)
            ok = weft__symtab_add(tab, s->entry + 1); /* its first instruction */
        for (unsigned i = 0; ok && i < s->bt.n; i++)
            ok = weft__symtab_add(tab, s->bt.pc[i]);
        if (!ok)
            break; /* out of memory: the rest print as bare addresses */
    }
    weft__symtab_resolve(tab);
    return tab;
}

void weft__diag_print_tasks(FILE *out, const struct weft__diag_task *v, size_t n)
{
    struct weft__diag_groups g;
    if (weft__diag_group(v, n, &g) != 0) {
        /* Out of memory: one block per task, as found. */
        struct weft__symtab *tab = symbolize(v, NULL, n);
        for (size_t i = 0; i < n; i++) {
            struct block b = {v, NULL, i, 1, tab};
            print_block(out, &b);
        }
        weft__symtab_free(tab);
        return;
    }
    struct weft__symtab *tab = symbolize(v, g.heads, g.ngroups);
    for (size_t k = 0; k < g.ngroups; k++) {
        size_t h = g.heads[k];
        struct block b = {v, g.next, h, g.count[h], tab};
        print_block(out, &b);
    }
    weft__symtab_free(tab);
    weft__diag_groups_free(&g);
}

int weft_dump_tasks(FILE *out)
{
    if (!out)
        return -1;
    struct weft__diag_task *v;
    size_t lost;
    size_t n = weft__diag_collect(NULL, NULL, &v, &lost);
    weft__diag_print_tasks(out, v, n);
    if (lost)
        fprintf(out, "(%zu more task%s not shown: out of memory or spawned during the dump)\n",
                lost, lost == 1 ? "" : "s");
    fflush(out);
    weft__free(v);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* ---- JSON ------------------------------------------------------------------- */

static void json_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    const unsigned char *p = (const unsigned char *)s;
    for (;;) {
        /* Runs that need no escape go out in one write (file names). */
        const unsigned char *q = p;
        while (*q && *q != '"' && *q != '\\' && *q >= 0x20)
            q++;
        fwrite(p, 1, (size_t)(q - p), out);
        if (!*q)
            break;
        if (*q == '"' || *q == '\\')
            fprintf(out, "\\%c", *q);
        else
            fprintf(out, "\\u%04x", *q);
        p = q + 1;
    }
    fputc('"', out);
}

static void json_site(FILE *out, const char *file, int line, const char *func)
{
    fputs("{\"file\":", out);
    json_str(out, file);
    fprintf(out, ",\"line\":%d", line);
    if (func) {
        fputs(",\"func\":", out);
        json_str(out, func);
    }
    fputc('}', out);
}

static void json_chan(FILE *out, const struct weft__diag_chan *c)
{
    fprintf(out, "{\"kind\":\"channel\",\"addr\":\"%p\",\"made_at\":", c->addr);
    json_site(out, c->file, c->line, NULL);
    fprintf(out, ",\"cap\":%zu,\"len\":%zu,\"elem_size\":%zu,\"closed\":%s,\"orphaned\":%s}",
            c->cap, c->len, c->elemsize, c->closed ? "true" : "false",
            c->orphaned ? "true" : "false");
}

/* ,"blocked_at":{file,line,func}|null,"stack":[{pc,func,file,line,...}],
 * "stack_truncated":bool — inlined calls are frames of their own, with the
 * same pc and "inlined":true. */
static void json_stack(FILE *out, const struct weft__diag_task *s, const struct weft__symtab *tab)
{
    bool parked = s->state == WEFT__TASK_PARKED;
    bool tail = false;
    const struct weft__sym_frame *f = parked && s->wait_pc ? site_frame(s, tab, &tail) : NULL;
    fputs(",\"blocked_at\":", out);
    if (!parked || !s->wait_pc) {
        fputs("null", out);
    } else {
        fputs("{\"file\":", out);
        json_str(out, f ? f->file : NULL);
        fprintf(out, ",\"line\":%d,\"func\":", f ? f->line : 0);
        json_str(out, f ? f->func : NULL);
        fprintf(out, ",\"pc\":\"0x%" PRIxPTR "\"%s}", s->wait_pc,
                tail ? ",\"tail_call\":true" : "");
    }
    fputs(",\"stack\":[", out);
    bool first = true;
    for (unsigned i = 0; parked && s->bt.state == WEFT__BT_OK && i < s->bt.n; i++) {
        const struct weft__sym *y = weft__symtab_get(tab, s->bt.pc[i]);
        unsigned nf = y ? y->n : 1;
        for (unsigned j = 0; j < nf; j++) {
            const struct weft__sym_frame *f = y ? &y->f[j] : NULL;
            if (j + 1 < nf && in_public_header(f))
                continue; /* as in print_stack */
            fprintf(out, "%s{\"pc\":\"0x%" PRIxPTR "\",\"func\":", first ? "" : ",",
                    s->bt.pc[i]);
            json_str(out, f ? f->func : NULL);
            fputs(",\"file\":", out);
            json_str(out, f ? f->file : NULL);
            fprintf(out, ",\"line\":%d,\"module\":", f ? f->line : 0);
            json_str(out, f ? f->module : NULL);
            if (j + 1 < nf)
                fputs(",\"inlined\":true", out);
            fputc('}', out);
            first = false;
        }
    }
    fprintf(out, "],\"stack_truncated\":%s",
            parked && s->bt.state == WEFT__BT_OK && s->bt.truncated ? "true" : "false");
}

void weft__diag_print_json(FILE *out, const struct weft__diag_task *v, size_t n)
{
    struct weft__symtab *tab = symbolize(v, NULL, n);
    for (size_t i = 0; i < n; i++) {
        const struct weft__diag_task *s = &v[i];
        fprintf(out, "%s\n  {\"id\":%llu,\"name\":", i ? "," : "", (unsigned long long)s->id);
        json_str(out, s->name[0] ? s->name : NULL);
        fputs(",\"fn\":", out);
        json_str(out, s->fn_name);
        fputs(",\"spawned_at\":", out);
        json_site(out, s->file, s->line, s->func);
        fprintf(out, ",\"internal\":%s,\"main\":%s,\"state\":",
                s->counted ? "false" : "true", s->is_main ? "true" : "false");
        bool parked = s->state == WEFT__TASK_PARKED;
        json_str(out, parked ? "parked" : state_text(s));
        fputs(",\"wait\":", out);
        json_str(out, parked ? state_text(s) : NULL);
        if (parked)
            fprintf(out, ",\"waited_ms\":%lld", (long long)(s->waited_ns / WEFT_MS));
        fputs(",\"waiting_on\":[", out);
        if (parked) {
            for (unsigned k = 0; k < s->nchans; k++) {
                if (k)
                    fputc(',', out);
                json_chan(out, &s->chans[k]);
            }
            const char *kind = obj_kind(s->reason);
            if (s->reason == WEFT__WAIT_IO) {
                fprintf(out, "{\"kind\":\"fd\",\"fd\":%d,\"dir\":", io_fd(s->obj));
                json_str(out, io_dir(s->obj));
                fputc('}', out);
            } else if (!s->nchans && kind && s->obj) {
                fputs("{\"kind\":", out);
                json_str(out, kind);
                fprintf(out, ",\"addr\":\"%p\"}", s->obj);
            }
        }
        fprintf(out, "],\"more_channels\":%u,\"certainly_leaked\":%s", s->more_chans,
                weft__diag_certainly_leaked(s) ? "true" : "false");
        json_stack(out, s, tab);
        fputc('}', out);
    }
    weft__symtab_free(tab);
}

int weft_dump_tasks_json(FILE *out)
{
    if (!out)
        return -1;
    struct weft__diag_task *v;
    size_t lost;
    size_t n = weft__diag_collect(NULL, NULL, &v, &lost);
    fprintf(out, "{\"weft_task_dump\":1,\"now_ns\":%lld,\"live\":%llu,\"count\":%zu,"
                 "\"not_shown\":%zu,\"tasks\":[",
            (long long)weft_now(), (unsigned long long)weft_num_tasks(), n,
            lost);
    weft__diag_print_json(out, v, n);
    fputs(n ? "\n]}\n" : "]}\n", out);
    fflush(out);
    weft__free(v);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* ---- SIGQUIT ---------------------------------------------------------------- */

/*
 * The handler only writes a byte to a pipe (async-signal-safe, and the
 * write end is non-blocking so a burst of signals never blocks it); a
 * helper thread reads the pipe and dumps.  A signal that lands while its
 * thread holds a registry shard lock therefore cannot deadlock: the dump
 * runs on another thread, after the handler has returned.
 */
static pthread_mutex_t sq_mu = PTHREAD_MUTEX_INITIALIZER;
static int sq_pipe[2] = {-1, -1};
static bool sq_installed;
static struct sigaction sq_old;

static void sq_handler(int sig)
{
    (void)sig;
    int saved = errno;
    char b = 'q';
    ssize_t r = write(sq_pipe[1], &b, 1);
    (void)r;
    errno = saved;
}

static void *sq_main(void *arg)
{
    (void)arg;
    weft__thread_known_push(); /* weft's own, for the life of the process */
    for (;;) {
        char b;
        ssize_t r = read(sq_pipe[0], &b, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            weft__thread_known_pop();
            return NULL;
        }
        size_t live = weft_num_tasks();
        fprintf(stderr, "weft: SIGQUIT: task dump (%zu live task%s)\n", live,
                live == 1 ? "" : "s");
        weft_dump_tasks(stderr);
        fputs("weft: end of task dump\n", stderr);
        fflush(stderr);
    }
}

/* Create the pipe and the helper thread, once per process. */
static int sq_start(void)
{
    if (sq_pipe[0] >= 0)
        return 0;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return errno;
    if (fcntl(p[1], F_SETFL, O_NONBLOCK) != 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return e;
    }
    sq_pipe[0] = p[0];
    sq_pipe[1] = p[1];
    /* The helper takes no asynchronous signals itself. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t th;
    int r = weft__thread_create(&th, sq_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r == 0)
        pthread_detach(th);
    if (r != 0) {
        close(p[0]);
        close(p[1]);
        sq_pipe[0] = sq_pipe[1] = -1;
        return r;
    }
    return 0;
}

int weft_dump_on_sigquit(bool enable)
{
    pthread_mutex_lock(&sq_mu);
    int r = 0;
    if (enable && !sq_installed) {
        r = sq_start();
        if (!r) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = sq_handler;
            sa.sa_flags = SA_RESTART;
            sigemptyset(&sa.sa_mask);
            if (sigaction(SIGQUIT, &sa, &sq_old) != 0)
                r = errno;
            else
                sq_installed = true;
        }
    } else if (!enable && sq_installed) {
        /* The pipe and the helper stay: a handler still running on another
         * thread may write to the pipe after this returns. */
        if (sigaction(SIGQUIT, &sq_old, NULL) != 0)
            r = errno;
        else
            sq_installed = false;
    }
    pthread_mutex_unlock(&sq_mu);
    return r;
}
