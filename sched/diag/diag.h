/*
 * diag.h — internals shared by sched/diag/ (dump.c, leak.c, deadlock.c,
 * stats.c).  Nothing here is public API.
 *
 * Reading other tasks' state.  Diagnostics look at tasks they do not own:
 * the registry walk (weft__for_each_task) holds a shard lock, which keeps
 * each visited task record (and its stack) mapped, but not the objects the
 * task waits on.  A channel a task is parked on is dereferenced only under
 * this protocol:
 *
 *   reader: weft__diag_enter() (full barrier) → load t->state (acquire) ==
 *           PARKED → load t->wait_obj → read the channel → weft__diag_exit()
 *   freer:  weft__diag_defer_free(p) (full barrier, then a load of the
 *           reader count): with readers active, p is queued and freed by
 *           the last reader to leave; otherwise the caller frees it at once.
 *
 * A channel a task is parked on cannot be freed until that task has been
 * readied (its sudog keeps the channel's waiter queue non-empty, and a
 * correct program drops its last reference only after its own operations
 * on the channel, readies included, returned).  So a freer of such a
 * channel runs after the waker's store of RUNNABLE; Dekker's argument on
 * (reader count, task state), both written then read across full barriers,
 * shows that either the reader sees RUNNABLE (and does not dereference) or
 * the freer sees the reader (and defers).  The same holds for the channels
 * a select records in t->wait_chans (when the scheduler has them), stored
 * before its count, which is stored before PARKED.
 *
 * chan.c must route its frees through weft__diag_defer_free for this to
 * hold; it says so by defining weft__chan_frees_deferred.  Until it does,
 * dump.c reads a channel's fields without taking its lock (a freed lock word
 * could hold a reader forever): best-effort reads that can see freed memory
 * when a dump races with the free of a channel a task just left.
 *
 * Lock order: registry shard lock → channel lock (diagnostics only; no
 * other code takes a shard lock while holding a channel lock).
 */
#ifndef WEFT_DIAG_H
#define WEFT_DIAG_H

#include "internal.h"
#include "sanitize.h"
#include "stack.h"

/* Statistics read words that their owners write without atomics (a
 * worker's switch count, a task's park time stamp): a stale value is fine
 * there, and ThreadSanitizer is told so. */
#ifdef WEFT__TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define WEFT__DIAG_RACY_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define WEFT__DIAG_RACY_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define WEFT__DIAG_RACY_BEGIN() ((void)0)
#define WEFT__DIAG_RACY_END() ((void)0)
#endif

/* ---- the reader protocol (dump.c) ---- */
void weft__diag_enter(void);
void weft__diag_exit(void);
/* true: p was queued and will be freed (weft__free) by the last reader;
 * false: no reader is active and the caller must free p itself. */
bool weft__diag_defer_free(void *p);

/* ---- task snapshots (dump.c) ---- */

enum { WEFT__DIAG_NAME = 64, WEFT__DIAG_CHANS = 4 };

/* A waited-on channel, copied under its lock. */
struct weft__diag_chan {
    const void *addr;
    const char *file; /* creation site (a string literal) */
    int line;
    size_t cap, elemsize, len;
    bool closed;
    bool orphaned; /* no reference left: nothing can ever wake its waiters */
};

/* One task, copied while its registry shard lock was held, so that it can
 * be printed after the lock is released (a slow FILE must not hold up
 * spawns and exits).  Strings other than name are string literals. */
struct weft__diag_task {
    uint64_t id;
    char name[WEFT__DIAG_NAME]; /* copy of the user's name ("" if none) */
    const char *fn_name, *file, *func;
    int line;
    int state;       /* enum weft__state */
    int reason;      /* enum weft__wait, meaningful when PARKED */
    const void *obj; /* wait_obj when PARKED */
    int64_t waited_ns;
    bool counted;    /* a user task (false: weft_run's main, internal) */
    bool is_main;    /* weft_run's main task */
    unsigned nchans; /* channels it waits on (copied) */
    unsigned more_chans; /* a select's channels not recorded */
    struct weft__diag_chan chans[WEFT__DIAG_CHANS];
    uintptr_t wait_pc;   /* blocking call site when PARKED (a return address), 0 if unknown */
    uintptr_t entry;     /* the task's entry function (for a site lost to a tail call) */
    struct weft__bt bt;  /* its stack when PARKED */
};

/* Fill *s from t; call with t's shard lock held and inside enter/exit. */
void weft__diag_snap(weft__task *t, struct weft__diag_task *s);
/* weft_run's main task (by flag, or by its spawn site in weft_run). */
bool weft__diag_is_main(const weft__task *t);
/* True when the snapshot is parked on a channel nothing can reach, i.e.
 * can never be woken (plain send/receive on an orphaned channel). */
bool weft__diag_certainly_leaked(const struct weft__diag_task *s);
/* The same, read from the task itself (shard lock held, inside enter/exit). */
bool weft__diag_task_certain(weft__task *t);

/* Snapshot every task accepted by keep (NULL: all) into a malloc'd array
 * sorted by id; returns the count (*out NULL and 0 when none or out of
 * memory, *lost counting tasks that could not be recorded). */
size_t weft__diag_collect(bool (*keep)(const weft__task *t, void *arg), void *arg,
                          struct weft__diag_task **out, size_t *lost);

/* Print one snapshot in the dump's text form (no backtrace). */
void weft__diag_print_task(FILE *out, const struct weft__diag_task *s);
/* Print n snapshots (sorted by id) in the dump's text form: tasks with
 * identical stacks and waits grouped, with backtraces.  Symbolizes with no
 * lock held. */
void weft__diag_print_tasks(FILE *out, const struct weft__diag_task *v, size_t n);
/* Print n snapshots as the body of a JSON document's "tasks" array. */
void weft__diag_print_json(FILE *out, const struct weft__diag_task *s, size_t n);

/* ---- grouping (group.c) ---- */

/* Snapshots in the same situation (see group.c): each group is a list of
 * indices into the snapshot array. */
struct weft__diag_groups {
    size_t ngroups;
    size_t *heads; /* each group's first member, largest group first */
    size_t *count; /* by head: the group's size */
    size_t *next;  /* the next member, in id order; SIZE_MAX after the last */
};
/* Group v[0..n) (sorted by id).  0, or ENOMEM (*g then empty). */
int weft__diag_group(const struct weft__diag_task *v, size_t n, struct weft__diag_groups *g);
void weft__diag_groups_free(struct weft__diag_groups *g);

/* ---- quiescence (deadlock.c) ---- */

/* What one scan of the runtime found. */
struct weft__diag_scan {
    /* in */
    uint64_t mark;       /* tasks with id >= mark are "checked" (UINT64_MAX: none) */
    uint64_t self;       /* the caller's task id (0: a plain thread): ignored */
    /* out */
    size_t checked;      /* checked (counted) tasks still alive */
    size_t checked_certain; /* of them, certainly leaked */
    size_t live;         /* every task seen */
    size_t active;       /* tasks other than self not parked */
    bool main_parked;    /* weft_run's main task seen, parked */
    bool quiet_plain;    /* no plain thread can wake anything soon */
    bool outside_threads; /* settled inside weft, but a thread weft does not
                             know exists (it may still wake a task) */
    bool quiescent;      /* nothing can make progress: settled inside weft
                            and every thread of the process known */
};

/* Scan every task and the scheduler.  s->quiescent is true when no task
 * but the caller can run, no timer is queued, no worker is busy (other
 * than the caller's own), no plain thread inside weft can come back by
 * itself, nothing changed while the scan ran, and every OS thread of the
 * process is known to weft (sched/threads.c): a thread outside weft could
 * still wake a task (then s->outside_threads is set instead). */
void weft__diag_scan(struct weft__diag_scan *s);

/* Plain threads inside weft_leak_check right now (they return at their
 * deadline, so a deadlock cannot be declared while one waits). */
extern weft__aword weft__diag_leak_waiters;

/* Wake plain threads waiting in weft__wait_exit (leak checks): something
 * they wait for (an idle runtime) may have happened. */
void weft__diag_poke_waiters(void);

#endif
