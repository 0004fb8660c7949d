/*
 * select.c — weft_select, after Go's selectgo.
 *
 *  1. Cases with a NULL channel are dropped.  The rest get a random poll
 *     order (uniform choice among ready cases) and a lock order (by channel
 *     address, duplicates adjacent) so that two selects never deadlock on
 *     each other's locks.
 *  2. With every channel locked, the first ready case in poll order runs.
 *  3. Otherwise, unless the deadline has passed (Go's default:), a sudog is
 *     queued on every channel, in poll order so no channel is favoured,
 *     and the task parks once; the locks are dropped after its switch.
 *  4. The one waker that wins weft__claim() (or the deadline timer) readies
 *     it; it unqueues its other sudogs and returns.  Only the channels that
 *     still hold one are locked for that, one at a time: a sudog a waker
 *     already took (the winner, or one dropped by a waker that lost the
 *     claim) says so in its queued byte, written last by that waker
 *     (chan.h), so its channel need not be touched at all.
 * Small selects allocate nothing: sudogs and orders live on the stack.
 */
#include <errno.h>
#include <string.h>

#include "chan.h"

enum { WEFT__SELECT_INLINE = 8 };

struct sel {
    weft_case *cases;
    weft__sudog *sg;       /* one per case */
    uint16_t *poll;        /* case indices in random order */
    uint16_t *lockv;       /* case indices sorted by channel address */
    uint16_t *pos;         /* case index -> its sudog (poll position), once parked */
    size_t n;              /* cases with a channel */
};

static void lock_all(struct sel *s)
{
    weft_chan *prev = NULL;
    for (size_t i = 0; i < s->n; i++) {
        weft_chan *c = s->cases[s->lockv[i]].chan;
        if (c != prev)
            weft__chan_lock(c);
        prev = c;
    }
}

static void unlock_all_fn(void *p)
{
    struct sel *s = p;
    /* Once this runs as a parked select's after-switch hook, the task may be
     * readied as soon as the first lock is released; it then relocks every
     * channel, so it cannot return (and pop s off its stack) before the last
     * release here.  Hence the order (Go's selunlock): walk backwards and
     * release a channel at the lowest index of its run of repeats, so the
     * final release is the last access to s. */
    for (size_t i = s->n; i-- > 0;) {
        weft_chan *c = s->cases[s->lockv[i]].chan;
        if (i > 0 && c == s->cases[s->lockv[i - 1]].chan)
            continue;
        weft__chan_unlock(c);
    }
}

/* Unlock every channel except skip (already unlocked by a transfer). */
static void unlock_all_but(struct sel *s, weft_chan *skip)
{
    weft_chan *prev = NULL;
    for (size_t i = 0; i < s->n; i++) {
        weft_chan *c = s->cases[s->lockv[i]].chan;
        if (c != prev && c != skip)
            weft__chan_unlock(c);
        prev = c;
    }
}

static void sort_lockorder(struct sel *s)
{
    /* Insertion sort: selects are small, and this is stable. */
    for (size_t i = 1; i < s->n; i++) {
        uint16_t v = s->lockv[i];
        uintptr_t key = (uintptr_t)s->cases[v].chan;
        size_t j = i;
        while (j > 0 && (uintptr_t)s->cases[s->lockv[j - 1]].chan > key) {
            s->lockv[j] = s->lockv[j - 1];
            j--;
        }
        s->lockv[j] = v;
    }
}

/* Try to complete case i with its channel locked.  On success the channel
 * has been unlocked by the transfer (or must be unlocked by the caller when
 * *unlocked is false) and the case's ok is set. */
static bool try_case(weft_case *k, bool *unlocked)
{
    weft_chan *c = k->chan;
    *unlocked = false;
    if (k->dir == WEFT_RECV) {
        weft__sudog *sg = weft__waitq_take(&c->sendq);
        if (sg) {
            k->ok = true;
            weft__chan_recv_from(c, sg, k->val);
            *unlocked = true;
            return true;
        }
        if (weft__load_relaxed(&c->qcount) > 0) {
            weft__chan_buf_take(c, k->val);
            k->ok = true;
            return true;
        }
        if (weft__load_relaxed(&c->closed)) {
            weft__chan_zero(c, k->val);
            k->ok = false;
            return true;
        }
        return false;
    }
    if (weft__load_relaxed(&c->closed)) {
        k->ok = false; /* Go panics here; weft reports the case with ok = false */
        return true;
    }
    weft__sudog *sg = weft__waitq_take(&c->recvq);
    if (sg) {
        k->ok = true;
        weft__chan_send_to(c, sg, k->val);
        *unlocked = true;
        return true;
    }
    if (weft__load_relaxed(&c->qcount) < c->cap) {
        weft__chan_buf_put(c, k->val);
        k->ok = true;
        return true;
    }
    return false;
}

static int select_block(struct sel *s, int64_t deadline, const void *pc);

/* The allocation of a large select.  weft_select reports through its
 * result only (a parked caller may resume on another thread, whose errno
 * the caller's compiled code may not even read), so a failed allocation
 * must not leave ENOMEM in errno either. */
static void *alloc_keep_errno(size_t bytes)
{
    int saved = errno;
    void *p = weft__malloc(bytes);
    errno = saved;
    return p;
}

/* Could case k proceed now?  A lock-free look at a possibly moving target:
 * true means "maybe", false is exact only inside a consistent snapshot. */
static inline bool maybe_ready(const weft_case *k)
{
    weft_chan *c = k->chan;
    if (weft__load_acq(&c->closed))
        return true;
    if (k->dir == WEFT_RECV)
        return weft__load_acq(&c->qcount) > 0 || weft__load_acq(&c->sendq.first) != 0;
    return weft__load_acq(&c->recvq.first) != 0 || weft__load_acq(&c->qcount) < c->cap;
}

/* Go's `select { ... default: }` when nothing is ready, without locks: read
 * every channel's lock word (chan.h), check that no case can proceed, read
 * every word again.  Unchanged free words mean no channel's state moved
 * between its two reads; all first reads precede all second reads, so at
 * the last first read every channel was as observed, with no case ready —
 * the moment the select linearises at.  Any doubt sends the caller to the
 * locked path, which decides exactly. */
static bool nothing_ready_snapshot(weft_case *cases, size_t n)
{
    unsigned seq[WEFT__SELECT_INLINE];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        weft_chan *c = cases[i].chan;
        if (!c)
            continue;
        if (m == WEFT__SELECT_INLINE)
            return false;
        /* acquire: the state loads below come after it. */
        unsigned v = weft__iload_acq(&c->lock.word);
        if ((v & WEFT__LOCK_HELD) || maybe_ready(&cases[i]))
            return false;
        seq[m++] = v;
    }
    AO_nop_read(); /* the state loads complete before the second collect */
    m = 0;
    for (size_t i = 0; i < n; i++) {
        weft_chan *c = cases[i].chan;
        if (c && weft__iload_acq(&c->lock.word) != seq[m++])
            return false;
    }
    return true;
}

/* Everything after the fast path (chan.c's try-operations found no case
 * ready): the exact decision with every channel locked, Go's default:,
 * and parking.  poll: the live cases' indices in poll order (s->n of them,
 * already checked).  Out of line, so that the fast path keeps its few
 * values in registers. */
static __attribute__((noinline)) int select_locked(weft_case *cases, size_t n,
                                                   int64_t deadline, const void *pc,
                                                   const uint16_t *poll, size_t live)
{
    uint16_t poll_buf[WEFT__SELECT_INLINE], lock_buf[WEFT__SELECT_INLINE];
    uint16_t pos_buf[WEFT__SELECT_INLINE];
    weft__sudog sg_buf[WEFT__SELECT_INLINE];
    struct sel s = {.cases = cases, .poll = poll_buf, .lockv = lock_buf, .pos = pos_buf,
                    .sg = sg_buf, .n = live};
    void *heap = NULL;
    if (n > WEFT__SELECT_INLINE) {
        /* One allocation for everything a large select needs. */
        heap = alloc_keep_errno(n * (sizeof(weft__sudog) + 3 * sizeof(uint16_t)));
        if (!heap)
            return -ENOMEM;
        s.sg = heap;
        s.poll = (uint16_t *)(s.sg + n);
        s.lockv = s.poll + n;
        s.pos = s.lockv + n;
    }
    for (size_t p = 0; p < live; p++) {
        s.poll[p] = poll[p];
        s.lockv[p] = poll[p];
    }
    int result = -ETIMEDOUT;
    if (deadline != WEFT_FOREVER && deadline <= 0 && nothing_ready_snapshot(cases, n))
        goto out; /* -ETIMEDOUT */
    sort_lockorder(&s);
    if (s.n) {
        lock_all(&s);
        for (size_t p = 0; p < s.n; p++) {
            weft_case *k = &cases[s.poll[p]];
            bool unlocked;
            if (try_case(k, &unlocked)) {
                unlock_all_but(&s, unlocked ? k->chan : NULL);
                result = s.poll[p];
                goto out;
            }
        }
    }
    bool nonblocking = deadline != WEFT_FOREVER && (deadline <= 0 || deadline <= weft_now());
    if (nonblocking) {
        if (s.n)
            unlock_all_fn(&s);
        goto out; /* -ETIMEDOUT */
    }
    result = select_block(&s, deadline, pc);
out:
    if (WEFT__UNLIKELY(heap != NULL))
        weft__free(heap);
    return result;
}

/* The select's first part, inlined into both entry points below so that
 * the blocking call site (pc, or with NULL the return address of the entry
 * point: see WEFT__CALLER) costs nothing unless the select parks. */
static inline __attribute__((always_inline)) int select_impl(weft_case *cases, size_t n,
                                                             int64_t deadline, const void *pc)
{
    if (WEFT__UNLIKELY(n && !cases) || n > UINT16_MAX)
        return -EINVAL;
    uint16_t small[WEFT__SELECT_INLINE];
    uint16_t *poll = small;
    void *heap = NULL;
    if (WEFT__UNLIKELY(n > WEFT__SELECT_INLINE)) {
        heap = alloc_keep_errno(n * sizeof(uint16_t));
        if (!heap)
            return -ENOMEM;
        poll = heap;
    }
    /* One pass: check the arguments, and build the poll order with an
     * inside-out Fisher–Yates shuffle of the live cases, drawing each index
     * from the top bits of an LCG stream seeded once per select. */
    uint64_t rnd = weft__rand64();
    size_t live = 0;
    int result;
    for (size_t i = 0; i < n; i++) {
        weft_case *k = &cases[i];
        if (WEFT__UNLIKELY(k->dir != WEFT_SEND && k->dir != WEFT_RECV))
            goto einval;
        if (!k->chan)
            continue;
        if (WEFT__UNLIKELY(k->dir == WEFT_SEND && !k->val && k->chan->elemsize))
            goto einval;
        size_t j = (size_t)(((rnd >> 32) * (uint64_t)(live + 1)) >> 32);
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        poll[live] = poll[j];
        poll[j] = (uint16_t)i;
        live++;
    }
    /* Go's default: with nothing ready, the commonest end of a non-blocking
     * select: the lock-free snapshot (see nothing_ready_snapshot) decides
     * it alone, without trying each case first (which could only find
     * nothing too, and then needs the snapshot anyway for a linearisable
     * answer).  If anything might be ready, or a holder is at work, the
     * cases are tried as below and the choice stays uniform. */
    if (deadline != WEFT_FOREVER && deadline <= 0 && nothing_ready_snapshot(cases, n)) {
        result = -ETIMEDOUT;
        goto out;
    }
    /* Fast path: try each case alone, in poll order, with the channel's own
     * try-operation (one lock at most, none for a case that is visibly not
     * ready).  The first that proceeds is a ready case chosen uniformly at
     * random among those ready, and its single operation is the select's
     * linearisation point.  If none proceeds, the locked path decides (and
     * parks if it must). */
    for (size_t p = 0; p < live; p++) {
        weft_case *k = &cases[poll[p]];
        int r = k->dir == WEFT_RECV ? weft_chan_try_recv(k->chan, k->val)
                                    : weft_chan_try_send(k->chan, k->val);
        if (r != EAGAIN) {
            k->ok = r == 0; /* EPIPE: closed, ready with ok = false (recv zeroed) */
            result = poll[p];
            goto out;
        }
    }
    result = select_locked(cases, n, deadline, pc ? pc : WEFT__CALLER(), poll, live);
out:
    if (WEFT__UNLIKELY(heap != NULL))
        weft__free(heap);
    return result;
einval:
    if (WEFT__UNLIKELY(heap != NULL))
        weft__free(heap);
    return -EINVAL;
}

int weft_select(weft_case *cases, size_t n, int64_t deadline)
{
    return select_impl(cases, n, deadline, NULL);
}

int weft__select_pc(weft_case *cases, size_t n, int64_t deadline, const void *pc)
{
    return select_impl(cases, n, deadline, pc);
}

/* Park on every channel; called with all of them locked.  pc: the blocking
 * call site, for dumps. */
static int select_block(struct sel *s, int64_t deadline, const void *pc)
{
    weft__task *self = weft__current();
    if (WEFT__UNLIKELY(!self)) {
        if (s->n)
            unlock_all_fn(s);
        return -ENOMEM;
    }
    weft__store_full(&self->wake, WEFT__WAKE_NONE);
    self->wait_data = NULL;
    for (size_t p = 0; p < s->n; p++) {
        uint16_t i = s->poll[p];
        weft_case *k = &s->cases[i];
        weft__sudog *sg = &s->sg[p];
        *sg = (weft__sudog){.task = self, .elem = k->val, .chan = k->chan, .case_index = i,
                            .is_select = true};
        s->pos[i] = (uint16_t)p;
        weft__waitq_push(k->dir == WEFT_RECV ? &k->chan->recvq : &k->chan->sendq, sg);
    }
    /* For dumps: the channels, then (release) their count. */
    size_t rec = s->n < WEFT__WAIT_CHANS ? s->n : WEFT__WAIT_CHANS;
    for (size_t p = 0; p < rec; p++)
        weft__store_relaxed(&self->wait_chans[p], (AO_t)s->cases[s->poll[p]].chan);
    weft__store_rel(&self->wait_nchans, (AO_t)s->n);
    const void *obj = s->n ? (const void *)s->cases[s->poll[0]].chan : NULL;
    enum weft__wait why = s->n ? WEFT__WAIT_SELECT : WEFT__WAIT_FOREVER;
    weft__set_wait_pc(self, pc);
    int wake = weft__park_ex(why, obj, s->n ? unlock_all_fn : NULL, s, deadline);

    weft__sudog *won = wake == WEFT__WAKE_CASE ? self->wait_data : NULL;
    /* Unqueue the losers, one channel at a time (each queue is guarded by
     * its own channel's lock alone), and only where a sudog of ours is
     * still queued: acquire, so that a waker that took one is done with
     * it (chan.h).  A channel whose last reference was dropped while we
     * waited is freed by whoever leaves it last; a channel none of our
     * sudogs is left in was not ours to leave (the waker that took ours
     * held a reference).  Duplicates of a channel are adjacent in lockv. */
    for (size_t j = 0; j < s->n;) {
        weft__sudog *sg = &s->sg[s->pos[s->lockv[j]]];
        weft_chan *c = sg->chan;
        size_t e = j;
        bool any = false;
        do {
            any |= sg != won && weft__cload_acq(&sg->queued);
            if (++e == s->n)
                break;
            sg = &s->sg[s->pos[s->lockv[e]]];
        } while (sg->chan == c);
        if (any) {
            weft__chan_lock(c);
            for (size_t k = j; k < e; k++) {
                weft__sudog *q = &s->sg[s->pos[s->lockv[k]]];
                if (q == won)
                    continue;
                bool recv = s->cases[q->case_index].dir == WEFT_RECV;
                weft__waitq_remove(recv ? &c->recvq : &c->sendq, q);
            }
            bool orphan = c->orphaned && !weft__load_relaxed(&c->recvq.first) &&
                          !weft__load_relaxed(&c->sendq.first);
            if (orphan)
                c->orphaned = false; /* claimed for freeing */
            weft__chan_unlock(c);
            if (orphan)
                weft__chan_free(c);
        }
        j = e;
    }
    if (!won)
        return -ETIMEDOUT;
    weft_case *k = &s->cases[won->case_index];
    k->ok = won->success;
    if (k->dir == WEFT_RECV && !won->success)
        weft__chan_zero(k->chan, k->val);
    return won->case_index;
}
