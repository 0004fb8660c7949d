/*
 * timer.c — per-worker 4-ary timer heaps.
 *
 * A timer lives in at most one heap, recorded in tm->heap and changed only
 * under that heap's lock.  Callbacks run on a worker's scheduler context
 * with no lock held; tm->running brackets them so that cancel can wait a
 * callback out before the timer's memory goes away.  A worker that sleeps
 * sleeps until its heap's earliest deadline; adding an earlier timer to an
 * idle worker's heap wakes it.
 */
#include <string.h>

#include "worker.h"

static inline bool earlier(weft__timer *a, weft__timer *b) { return a->when < b->when; }

static void place(weft__timerheap *h, size_t i, weft__timer *tm)
{
    h->slots[i] = tm;
    tm->index = i;
}

static void sift_up(weft__timerheap *h, size_t i)
{
    weft__timer *tm = h->slots[i];
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!earlier(tm, h->slots[p]))
            break;
        place(h, i, h->slots[p]);
        i = p;
    }
    place(h, i, tm);
}

static void sift_down(weft__timerheap *h, size_t i)
{
    weft__timer *tm = h->slots[i];
    for (;;) {
        size_t c = 4 * i + 1, best = i;
        weft__timer *bt = tm;
        for (size_t k = c; k < c + 4 && k < h->len; k++) {
            if (earlier(h->slots[k], bt)) {
                best = k;
                bt = h->slots[k];
            }
        }
        if (best == i)
            break;
        place(h, i, bt);
        i = best;
    }
    place(h, i, tm);
}

static void publish_next(weft__timerheap *h)
{
    /* relaxed: a hint read by idle and stealing workers; the lock orders
     * the heap itself. */
    weft__store_relaxed(&h->next_when, (AO_t)(h->len ? h->slots[0]->when : WEFT_FOREVER));
}

static bool heap_insert(weft__timerheap *h, weft__timer *tm)
{
    if (h->len == h->cap) {
        size_t nc = h->cap ? 2 * h->cap : 64;
        weft__timer **ns = realloc(h->slots, nc * sizeof *ns);
        if (!ns)
            return false;
        h->slots = ns;
        h->cap = nc;
    }
    h->slots[h->len] = tm;
    tm->index = h->len++;
    sift_up(h, tm->index);
    /* release: pairs with the acquire in cancel, which must see running
     * set whenever it sees heap cleared by a pop. */
    weft__store_rel(&tm->heap, (AO_t)h);
    publish_next(h);
    return true;
}

static void heap_remove(weft__timerheap *h, weft__timer *tm)
{
    size_t i = tm->index;
    h->len--;
    if (i != h->len) {
        place(h, i, h->slots[h->len]);
        if (i > 0 && earlier(h->slots[i], h->slots[(i - 1) / 4]))
            sift_up(h, i);
        else
            sift_down(h, i);
    }
    weft__store_rel(&tm->heap, 0);
    publish_next(h);
}

void weft__timerheap_init(weft__timerheap *h, weft__worker *owner)
{
    memset(h, 0, sizeof *h);
    h->owner = owner;
    h->next_when = (AO_t)WEFT_FOREVER;
}

void weft__timerheap_detach_all(weft__timerheap *h)
{
    weft__lock_acquire(&h->lock);
    for (size_t i = 0; i < h->len; i++)
        weft__store_rel(&h->slots[i]->heap, 0);
    h->len = 0;
    publish_next(h);
    weft__lock_release(&h->lock);
}

void weft__timerheap_destroy(weft__timerheap *h)
{
    free(h->slots);
    h->slots = NULL;
    h->len = h->cap = 0;
}

int64_t weft__timerheap_next(weft__timerheap *h) { return (int64_t)weft__load_relaxed(&h->next_when); }

void weft__timer_init(weft__timer *tm, weft__timer_fn fn, void *arg)
{
    memset(tm, 0, sizeof *tm);
    tm->fn = fn;
    tm->arg = arg;
}

/* Remove tm from whatever heap holds it.  True if it was queued. */
static bool unqueue(weft__timer *tm)
{
    for (;;) {
        weft__timerheap *h = (weft__timerheap *)weft__load_acq(&tm->heap);
        if (!h)
            return false;
        weft__lock_acquire(&h->lock);
        if ((weft__timerheap *)weft__load_relaxed(&tm->heap) == h) {
            heap_remove(h, tm);
            weft__lock_release(&h->lock);
            return true;
        }
        weft__lock_release(&h->lock);
    }
}

static weft__timerheap *pick_heap(void)
{
    weft__worker *w = weft__cur_worker();
    if (!w)
        /* A base worker: a spare's count may still be taken back
         * (weft__spare_start), a base worker's never is. */
        w = weft__S.workers[weft__rand_n((uint32_t)weft__S.nbase)];
    return &w->timers;
}

/* After queuing on h: wake its worker if it sleeps past the new deadline. */
static void poke_owner(weft__timerheap *h, int64_t when)
{
    weft__worker *o = h->owner;
    /* full: Dekker with the idle path, which publishes is_idle, fences,
     * then reads next_when: either it sees our timer or we see it idle. */
    weft__fence_full();
    if (o != weft__cur_worker() && weft__load_acq(&o->is_idle) &&
        (int64_t)weft__load_acq(&o->sleep_until) > when)
        weft__worker_wake(o);
}

weft__lock *weft__timer_start_locked(weft__timer *tm, int64_t when)
{
    unqueue(tm);
    weft__store_full(&tm->stopped, 0);
    tm->when = when;
    weft__timerheap *h = pick_heap();
    weft__lock_acquire(&h->lock);
    if (!heap_insert(h, tm))
        weft__panic(__FILE__, __LINE__, "out of memory growing a timer heap");
    poke_owner(h, when);
    return &h->lock;
}

void weft__timer_start(weft__timer *tm, int64_t when, int64_t period)
{
    if (weft__ensure_init() != 0)
        weft__panic(__FILE__, __LINE__, "timer started without a runtime");
    tm->period = period;
    weft__lock *lk = weft__timer_start_locked(tm, when);
    weft__lock_release(lk);
}

bool weft__timer_cancel_nowait(weft__timer *tm)
{
    weft__store_full(&tm->stopped, 1);
    return unqueue(tm);
}

bool weft__timer_running(weft__timer *tm) { return weft__load_acq(&tm->running) != 0; }

bool weft__timer_cancel(weft__timer *tm)
{
    bool was = weft__timer_cancel_nowait(tm);
    while (weft__load_acq(&tm->running))
        weft__cpu_relax();
    /* A periodic timer re-armed by the callback that just ended. */
    if (unqueue(tm))
        was = true;
    return was;
}

int64_t weft__timers_run(weft__timerheap *h, int64_t now)
{
    if (!weft__lock_try(&h->lock))
        return weft__timerheap_next(h);
    while (h->len && h->slots[0]->when <= now) {
        weft__timer *tm = h->slots[0];
        weft__store_full(&tm->running, 1);
        heap_remove(h, tm);
        weft__lock_release(&h->lock);
        tm->fn(tm, tm->arg);
        weft__lock_acquire(&h->lock);
        if (tm->period > 0 && !weft__load_acq(&tm->stopped) && !weft__load_acq(&tm->heap)) {
            tm->when += tm->period;
            if (tm->when <= now)
                tm->when = now + tm->period;
            heap_insert(h, tm);
            /* A thief running this heap's timers: the owner may have gone
             * to sleep while the heap was empty during the callback. */
            poke_owner(h, tm->when);
        }
        /* release: the callback's effects happen-before a cancel that sees
         * the timer idle; tm must not be touched after this store. */
        weft__store_rel(&tm->running, 0);
    }
    int64_t next = h->len ? h->slots[0]->when : WEFT_FOREVER;
    weft__lock_release(&h->lock);
    return next;
}

size_t weft__timers_pending(void)
{
    size_t n = 0;
    for (int i = 0; i < weft__nworkers(); i++)
        n += weft__S.workers[i]->timers.len; /* racy sum: a hint */
    return n;
}
