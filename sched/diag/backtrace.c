/*
 * backtrace.c — copy a parked task's call stack by walking its saved chain
 * of frame records (weft and its users are built with frame pointers).
 *
 * On x86-64 and aarch64 a frame record is two words at the frame pointer:
 * the caller's frame pointer, then the return address into the caller.  A
 * parked task's chain starts in its saved switch frame
 * (weft__frame_regs: sched/arch/) and ends at its entry function, whose
 * record holds a null frame pointer (weft__frame_init arranges it).
 *
 * The stack being read is not ours: the task may be readied and run (and
 * rewrite it) while we read, and user frames built without frame pointers
 * leave garbage in the chain.  So nothing read is trusted: a frame pointer
 * is followed only if its record lies inside the task's stack
 * [stack_lo, stack_lo + stack_size), is 8-byte aligned and lies above the
 * previous one (callers live higher up); the walk stops at the first that
 * is not, or after WALK_MAX records.  The registry shard lock held by the
 * caller keeps the stack mapped.  The caller (dump.c) compares the task's
 * state and park stamp before and after to detect a torn copy.
 */
#include <stdlib.h>
#include <string.h>

#include "stack.h"

enum { WALK_MAX = WEFT__BT_DEPTH + 16 }; /* weft's own frames come first */

WEFT__NO_SANITIZE uint64_t weft__bt_stamp(const weft__task *t)
{
    return *(const volatile uint64_t *)&t->wait_ticks;
}

/* The raw walk: return addresses from the switch point up, innermost
 * first.  *ended: the chain reached the task's first frame; *into_entry
 * then is the address returning into the entry function (not in out[]). */
WEFT__NO_SANITIZE static size_t walk(uintptr_t lo, uintptr_t hi, uintptr_t pc, uintptr_t fp,
                                     uintptr_t *out, size_t max, bool *ended,
                                     uintptr_t *into_entry)
{
    size_t n = 0;
    *ended = false;
    *into_entry = 0;
    if (pc)
        out[n++] = pc;
    while (n < max) {
        if (fp < lo || fp % 8 || fp > hi || hi - fp < 2 * sizeof(uintptr_t))
            return n;
        const volatile uintptr_t *rec = (const volatile uintptr_t *)fp;
        uintptr_t next = rec[0];
        uintptr_t ret = weft__pc_strip(rec[1]);
        if (next == 0) {
            /* The entry function's own record: the address below it
             * returns into the entry function, weft's too. */
            if (n)
                *into_entry = out[--n];
            *ended = true;
            return n;
        }
        if (!ret || next <= fp)
            return n;
        out[n++] = ret;
        fp = next;
    }
    return n;
}

void weft__bt_walk(weft__task *t, uintptr_t site, struct weft__bt *bt)
{
    bt->n = 0;
    bt->truncated = false;
    bt->from_site = false;
    bt->site_in_entry = false;
    uintptr_t lo = (uintptr_t)t->stack_lo, hi = lo + t->stack_size;
    struct weft__frame_regs r;
    if (!weft__frame_regs(&t->frame, lo, hi, &r)) {
        bt->state = WEFT__BT_UNREADABLE;
        return;
    }
    uintptr_t raw[WALK_MAX];
    bool ended;
    uintptr_t into_entry;
    size_t n = walk(lo, hi, r.pc, r.fp, raw, WALK_MAX, &ended, &into_entry);
    size_t from = 0;
    site = weft__pc_strip(site);
    if (site && site == into_entry) {
        /* Called straight from the entry function: it ended with a tail
         * call into weft, so no frame of it is left on the stack. */
        bt->from_site = bt->site_in_entry = true;
        bt->state = WEFT__BT_OK;
        return;
    }
    for (size_t i = 0; site && i < n; i++) {
        if (raw[i] == site) {
            from = i;
            bt->from_site = true;
            break;
        }
    }
    size_t keep = n - from;
    if (keep > WEFT__BT_DEPTH) {
        keep = WEFT__BT_DEPTH;
        bt->truncated = true;
    } else if (!ended && n == WALK_MAX) {
        bt->truncated = true;
    }
    memcpy(bt->pc, raw + from, keep * sizeof raw[0]);
    bt->n = (uint8_t)keep;
    bt->state = WEFT__BT_OK;
}

bool weft__bt_enabled(void)
{
    /* 0 unknown, 1 on, 2 off: read once (the environment is the
     * program's, set before it starts dumping). */
    static weft__aword mode;
    AO_t m = weft__load_relaxed(&mode); /* relaxed: every writer stores the same value */
    if (!m) {
        const char *e = getenv("WEFT_BACKTRACE");
        m = e && (!strcmp(e, "0") || !strcmp(e, "off") || !strcmp(e, "none")) ? 2 : 1;
        weft__store_relaxed(&mode, m);
    }
    return m == 1;
}
