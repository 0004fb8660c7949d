/*
 * stack.h — task backtraces for dumps and leak reports (sched/diag/):
 * walking a parked task's saved frame-record chain (backtrace.c) and
 * turning return addresses into function, file and line (symbolize.c).
 *
 * The walk runs while the task's registry shard lock is held (dump.c's
 * snapshot), so the task record and its stack stay mapped; it copies raw
 * return addresses only.  Symbolization runs afterwards on the copies, with
 * no runtime lock held.
 */
#ifndef WEFT_DIAG_STACK_H
#define WEFT_DIAG_STACK_H

#include "internal.h"

/* ---- walking (backtrace.c) ---- */

enum {
    WEFT__BT_DEPTH = 32, /* frames kept per task, from the blocking call site up */
};

/* What a snapshot's stack holds. */
enum weft__bt_state {
    WEFT__BT_NONE = 0,  /* not walked: the task is not parked */
    WEFT__BT_OK,        /* pc[0..n) are its frames */
    WEFT__BT_CHANGED,   /* the task ran while its stack was read: dropped */
    WEFT__BT_UNREADABLE, /* its saved frame is not inside its stack */
    WEFT__BT_OFF,       /* backtraces disabled (WEFT_BACKTRACE=0) */
};

struct weft__bt {
    uint8_t state;      /* enum weft__bt_state */
    uint8_t n;          /* return addresses in pc[] */
    bool truncated;     /* deeper frames were not kept */
    bool from_site;     /* pc[0] is the blocking call site's frame: weft's own frames dropped */
    bool site_in_entry; /* the entry function's last call was the blocking one (a tail
                         * call: its frame is gone, pc[] is empty) */
    uintptr_t pc[WEFT__BT_DEPTH]; /* innermost first; return addresses */
};

/* A stamp that changes each time t parks (its park time); read racily. */
uint64_t weft__bt_stamp(const weft__task *t);

/* Copy t's frame chain into *bt.  t is parked (the caller saw PARKED) and
 * its shard lock is held.  site is t's recorded blocking call site (or 0):
 * frames above it are weft's own and are dropped.  Never faults: every frame
 * record must lie inside t's stack, be aligned, and lie above the previous
 * one.  The caller re-checks the task's state and stamp afterwards (a task
 * that ran meanwhile leaves a torn copy). */
void weft__bt_walk(weft__task *t, uintptr_t site, struct weft__bt *bt);

/* Whether dumps walk stacks at all (environment WEFT_BACKTRACE=0: no). */
bool weft__bt_enabled(void);

/* ---- symbolizing (symbolize.c) ---- */

enum { WEFT__SYM_INLINE = 6 }; /* frames per address: the function and its inlined callees */

/* One source-level frame.  Strings belong to the table it came from. */
struct weft__sym_frame {
    const char *func;   /* NULL if unknown */
    const char *file;   /* NULL if unknown (no debug info) */
    int line;
    const char *module; /* the object file's base name, NULL if unknown */
    uintptr_t offset;   /* pc - module load address */
};

/* A return address resolved: the function containing the call, and the
 * functions inlined into it at that point, innermost first. */
struct weft__sym {
    uintptr_t pc;
    unsigned n; /* frames in f[], >= 1 */
    struct weft__sym_frame f[WEFT__SYM_INLINE];
};

/* The addresses of one dump, resolved together (each once). */
struct weft__symtab;
struct weft__symtab *weft__symtab_new(void);
/* Queue pc for resolution (0 is ignored).  false: out of memory. */
bool weft__symtab_add(struct weft__symtab *tab, uintptr_t pc);
/* Resolve everything queued: libdw (file, line, inlined frames) when built
 * with it and debug info is there, else dladdr's names.  Takes no runtime
 * lock; the symbolizer's own state is behind a mutex of its own.  On a task
 * (a small stack) the work runs on a helper thread. */
void weft__symtab_resolve(struct weft__symtab *tab);
/* The resolution of pc, or NULL if it was not queued (or out of memory). */
const struct weft__sym *weft__symtab_get(const struct weft__symtab *tab, uintptr_t pc);
void weft__symtab_free(struct weft__symtab *tab);

/* Measurements only (bench/dump.c): resolve every queued address anew,
 * duplicates included, instead of once per distinct address. */
extern bool weft__symtab_nocache;

#endif
