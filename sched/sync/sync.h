/*
 * sync.h — internals shared by sched/sync/ (WaitGroup, Mutex, Once,
 * errgroup).  Nothing here is public API.
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "internal.h"

/* weft_mutex_lock, recording why/obj as the wait reason when it parks
 * (Once parks as "once" on the weft_once, not as "mutex"), and pc as the
 * user's call site (WEFT__CALLER of the public entry point). */
int weft__mutex_lock_why(weft_mutex *m, enum weft__wait why, const void *obj, const void *pc);

/* How many acquisitions may bypass the first waiting locker before the
 * mutex is handed to it (mutex.c: barging bounded by a count, since weft
 * does not preempt a task that relocks in a loop, as well as by Go's 1 ms;
 * weft.h documents 256). */
#ifndef WEFT__MUTEX_MAX_PASSES
#define WEFT__MUTEX_MAX_PASSES 256
#endif
/* The same, for tests (they see no internal header). */
extern const unsigned weft__mutex_max_passes;

/* Lockers waiting on m right now, queued or woken and not yet holding it
 * (tests and dumps; takes m's queue lock). */
size_t weft__mutex_waiters(weft_mutex *m);

/* weft_wg_wait, recording why/obj and the call site pc when it parks
 * (errgroup waits as "errgroup" on the group). */
int weft__wg_wait_why(weft_wg *wg, enum weft__wait why, const void *obj, const void *pc);
/* The counter now (a snapshot). */
int64_t weft__wg_count(weft_wg *wg);

#endif
