/*
 * runq.c — per-worker bounded run queues, the runnext slot, the global run
 * queue and work stealing.
 *
 * The per-worker ring follows Go's runq: only the owner writes slots and
 * advances tail; the owner and thieves advance head by CAS.  A thief reads
 * slots [head, head+n) and then CASes head; if the CAS fails the owner may
 * have recycled those slots, so what it read is discarded.  The owner can
 * only overwrite slot s after head has moved past s, so a successful CAS
 * proves the values read were the live ones.
 */
#include "worker.h"

/* How far ahead in its ring the owner prefetches (runq_get_queued). */
#define WEFT__RUNQ_PREFETCH_AHEAD 3

static inline weft__task *slot_load(weft__worker *w, AO_t i)
{
    /* relaxed: validated by the CAS on head (see the file comment) and
     * published by the release store of tail that made i < tail. */
    return (weft__task *)weft__load_relaxed(&w->runq[i % WEFT__RUNQ_SIZE]);
}

bool weft__runq_put(weft__worker *w, weft__task *t)
{
    /* acquire on head: slots below head are free for reuse only once the
     * consumer that advanced head finished reading them. */
    AO_t h = weft__load_acq(&w->runq_head);
    AO_t tl = weft__load_relaxed(&w->runq_tail); /* owner-written */
    if (tl - h >= WEFT__RUNQ_SIZE)
        return false;
    weft__store_relaxed(&w->runq[tl % WEFT__RUNQ_SIZE], (AO_t)t);
    /* release: the slot (and the task's saved frame) become visible to any
     * consumer that acquires tail. */
    weft__store_rel(&w->runq_tail, tl + 1);
    return true;
}

/* The ring is full: move half of it plus t to the global queue in one lock
 * round, so the next puts are cheap again (Go's runqputslow). */
static bool runq_put_slow(weft__worker *w, weft__task *t)
{
    enum { HALF = WEFT__RUNQ_SIZE / 2 };
    weft__task *batch[HALF + 1];
    AO_t h = weft__load_acq(&w->runq_head);
    AO_t tl = weft__load_relaxed(&w->runq_tail);
    if (tl - h != WEFT__RUNQ_SIZE)
        return false; /* a thief made room; retry the fast path */
    for (unsigned i = 0; i < HALF; i++)
        batch[i] = slot_load(w, h + i);
    if (!weft__cas_rel(&w->runq_head, h, h + HALF))
        return false;
    batch[HALF] = t;
    for (unsigned i = 0; i <= HALF; i++) {
        batch[i]->next = i < HALF ? batch[i + 1] : NULL;
        batch[i]->gq_ahead = i + WEFT__GQ_AHEAD <= HALF ? batch[i + WEFT__GQ_AHEAD] : NULL;
    }
    weft__gq_put_batch(batch[0], batch[HALF], HALF + 1);
    return true;
}

void weft__runq_put_or_global(weft__worker *w, weft__task *t)
{
    for (;;) {
        if (weft__runq_put(w, t))
            return;
        if (runq_put_slow(w, t))
            return;
    }
}

weft__task *weft__runq_get(weft__worker *w)
{
    AO_t next = weft__load_relaxed(&w->runnext);
    /* acquire: the task's frame was written before it was published. */
    if (next && weft__cas_acq(&w->runnext, next, 0))
        return (weft__task *)next;
    return weft__runq_get_queued(w);
}

weft__task *weft__runq_get_queued(weft__worker *w)
{
    for (;;) {
        AO_t h = weft__load_acq(&w->runq_head);
        AO_t tl = weft__load_acq(&w->runq_tail);
        if (h == tl)
            return NULL;
        weft__task *t = slot_load(w, h);
        if (weft__cas_full(&w->runq_head, h, h + 1)) {
            /* Start the misses of the record and top frames of the task
             * WEFT__RUNQ_PREFETCH_AHEAD places on (or the last one): one
             * task's run was too short to hide a miss and a page walk
             * (cancel_fanout at 1 worker, alternated runs: 1 ahead 58.4 ms,
             * 2 ahead 48.3, 3 ahead 41.3–44.9, 4 ahead 52.3).  A thief may
             * take it meanwhile; the prefetch is then wasted, nothing
             * else. */
            if (h + 1 != tl)
                weft__task_prefetch(slot_load(
                    w, tl - (h + 1) < WEFT__RUNQ_PREFETCH_AHEAD ? tl - 1
                                                               : h + WEFT__RUNQ_PREFETCH_AHEAD));
            return t;
        }
    }
}

bool weft__runq_empty(weft__worker *w)
{
    AO_t h = weft__load_acq(&w->runq_head);
    AO_t tl = weft__load_acq(&w->runq_tail);
    return h == tl && weft__load_acq(&w->runnext) == 0;
}

/* Take the older half of victim's ring (half) or all of it into batch:
 * how many, 0 if it was empty.  Slots are read before the CAS on head
 * that claims them (a thief's usual order: a slot read after it could be
 * reused by the owner). */
static AO_t runq_grab(weft__worker *victim, weft__task **batch, bool half)
{
    for (;;) {
        AO_t h = weft__load_acq(&victim->runq_head);
        AO_t tl = weft__load_acq(&victim->runq_tail);
        AO_t n = tl - h;
        if (half)
            n = n - n / 2;
        if (n == 0)
            return 0;
        if (n > (half ? WEFT__RUNQ_SIZE / 2 : WEFT__RUNQ_SIZE))
            continue; /* read head and tail inconsistently; retry */
        for (AO_t i = 0; i < n; i++)
            batch[i] = slot_load(victim, h + i);
        if (weft__cas_full(&victim->runq_head, h, h + n))
            return n;
    }
}

/* Steal half of victim's ring into thief's ring; returns one task to run
 * now.  Runnext is taken only when take_runnext: the victim's running task
 * usually just readied it and is about to block, so stealing it would only
 * bounce the task between CPUs. */
weft__task *weft__runq_steal(weft__worker *thief, weft__worker *victim, bool take_runnext)
{
    weft__task *batch[WEFT__RUNQ_SIZE / 2];
    AO_t n = runq_grab(victim, batch, true);
    if (n == 0) {
        if (!take_runnext)
            return NULL;
        AO_t next = weft__load_acq(&victim->runnext);
        if (next && weft__cas_acq(&victim->runnext, next, 0))
            return (weft__task *)next;
        return NULL;
    }
    /* Keep the first, queue the rest locally (the thief's ring is empty
     * when it steals, so all fit). */
    for (AO_t i = 1; i < n; i++)
        weft__runq_put_or_global(thief, batch[i]);
    weft__fetch_add_relaxed(&weft__ctr.steals, n);
    return batch[0];
}

size_t weft__runq_handoff(weft__worker *victim)
{
    weft__task *head = NULL, *tail = NULL;
    size_t n = 0;
    AO_t next = weft__load_acq(&victim->runnext);
    /* acquire: as in weft__runq_get. */
    if (next && weft__cas_acq(&victim->runnext, next, 0)) {
        head = tail = (weft__task *)next;
        n = 1;
    }
    weft__task *batch[WEFT__RUNQ_SIZE];
    AO_t cnt = runq_grab(victim, batch, false);
    for (AO_t i = 0; i < cnt; i++) {
        weft__task *t = batch[i];
        t->next = NULL;
        if (tail)
            tail->next = t;
        else
            head = t;
        tail = t;
    }
    n += cnt;
    if (n)
        weft__gq_put_batch(head, tail, n);
    return n;
}

void weft__gq_put_batch(weft__task *head, weft__task *tail, size_t n)
{
    weft__lock_acquire(&weft__S.gq_lock);
    tail->next = NULL;
    if (weft__S.gq_tail)
        weft__S.gq_tail->next = head;
    else
        weft__S.gq_head = head;
    weft__S.gq_tail = tail;
    /* gq_len is read without the lock as an emptiness hint only. */
    weft__store_rel(&weft__S.gq_len, weft__load_relaxed(&weft__S.gq_len) + n);
    weft__lock_release(&weft__S.gq_lock);
}

void weft__gq_put(weft__task *t)
{
    t->gq_ahead = NULL;
    weft__gq_put_batch(t, t, 1);
}

/* Take up to max tasks: return the first, queue the rest on w. */
weft__task *weft__gq_get(weft__worker *w, size_t max)
{
    if (weft__load_acq(&weft__S.gq_len) == 0)
        return NULL;
    weft__lock_acquire(&weft__S.gq_lock);
    size_t len = weft__load_relaxed(&weft__S.gq_len);
    size_t n = len / (size_t)weft__nworkers() + 1;
    if (n > len)
        n = len;
    if (n > max)
        n = max;
    /* The rest go to w's ring: never more than it has room for (only the
     * owner adds to it, so its free space cannot shrink meanwhile). */
    size_t room = 0;
    if (w)
        room = WEFT__RUNQ_SIZE - (size_t)(weft__load_relaxed(&w->runq_tail) -
                                          weft__load_acq(&w->runq_head));
    if (n > room + 1)
        n = room + 1;
    weft__task *first = NULL;
    for (size_t i = 0; i < n; i++) {
        weft__task *t = weft__S.gq_head;
        /* The walk is a chain of misses, one task record (a page) per
         * link when a close readied thousands: start the miss of the
         * record WEFT__GQ_AHEAD links on now (a stale pointer only
         * wastes the prefetch: it is never read through). */
        __builtin_prefetch(t->gq_ahead);
        weft__S.gq_head = t->next;
        if (!weft__S.gq_head)
            weft__S.gq_tail = NULL;
        t->next = NULL;
        if (!first)
            first = t;
        else
            weft__runq_put(w, t); /* cannot fail: n <= room + 1 */
    }
    weft__store_rel(&weft__S.gq_len, len - n);
    weft__lock_release(&weft__S.gq_lock);
    return first;
}
