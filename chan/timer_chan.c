/*
 * timer_chan.c — Go's time.Timer and time.Ticker on top of the runtime's
 * timer heaps: the callback does a non-blocking send of weft_now() on a
 * channel of capacity 1, so a slow receiver makes a ticker drop ticks
 * instead of queuing them.
 *
 * Stop and reset follow Go 1.23: once they return, no value from the old
 * setting can be received (the callback is waited out, then the channel
 * drained).
 */
#include <errno.h>

#include "chan.h"

struct weft_timer {
    weft__timer tm;
    weft_chan *c;
};

static void fire(weft__timer *tm, void *arg)
{
    struct weft_timer *t = arg;
    int64_t now = weft_now();
    (void)weft_chan_try_send(t->c, &now); /* EAGAIN: a tick is already waiting */
}

static weft_timer *timer_new(int64_t first, int64_t period)
{
    if (weft__ensure_init() != 0) {
        errno = ENOMEM;
        return NULL;
    }
    struct weft_timer *t = weft__malloc(sizeof *t);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->c = weft_chan_make_at(sizeof(int64_t), 1, __FILE__, __LINE__);
    if (!t->c) {
        weft__free(t);
        errno = ENOMEM;
        return NULL;
    }
    weft__timer_init(&t->tm, fire, t);
    weft__timer_start(&t->tm, weft_deadline(first), period);
    return t;
}

weft_timer *weft_timer_make(int64_t duration) { return timer_new(duration, 0); }

weft_timer *weft_ticker_make(int64_t period)
{
    if (period <= 0) {
        errno = EINVAL;
        return NULL;
    }
    return timer_new(period, period);
}

weft_chan *weft_timer_chan(weft_timer *t) { return t ? t->c : NULL; }

static void quiesce(weft_timer *t)
{
    weft__timer_cancel(&t->tm);
    int64_t stale;
    while (weft_chan_try_recv(t->c, &stale) == 0)
        ;
}

int weft_timer_reset(weft_timer *t, int64_t duration)
{
    if (!t)
        return EINVAL;
    bool ticker = t->tm.period > 0;
    if (ticker && duration <= 0)
        return EINVAL;
    quiesce(t);
    weft__timer_start(&t->tm, weft_deadline(duration), ticker ? duration : 0);
    return 0;
}

void weft_timer_stop(weft_timer *t)
{
    if (!t)
        return;
    quiesce(t);
    weft_chan_release(t->c);
    weft__free(t);
}
