/*
 * stack.c — task stacks: slab-mapped, guarded, pooled.
 *
 * Layout of one stack slot (addresses grow upwards):
 *
 *     [ guard page ][ usable stack ......... | task record, go_copy
 *                                             payload, handle ]
 *                   <------------- stack size -------------->
 *
 * The task record lives at the top of its own stack, right above the first
 * frames, so a parked task whose frames are shallow touches a single page
 * for its record and its frames together.
 *
 * Cache colouring.  Slots are a power of two apart, so records (and the
 * sudogs just below them) at one offset in every slot would all fall into
 * the same few sets of every cache level: with an L2 indexed by address
 * bits 6..15 a 64 KiB stride leaves one set for all of them, and an L3
 * indexed up to bit 20 has 32 — a close or cancel waking thousands of
 * tasks then missed to DRAM (and a page walk) for every record it touched,
 * microseconds per task on a VM.  Each default-size stack therefore moves
 * its record down by a colour (0..WEFT__COLOURS-1 cache lines, from the
 * slot's index), keeping record and shallow frames within the top page.
 *
 * Stacks of the default size are carved from slabs of many slots, one mmap
 * each, so a million stacks do not need a million mappings
 * (vm.max_map_count is 65530 on a stock kernel).  Guard pages, in order:
 *   1. mprotect(PROT_NONE) of the still untouched guard page, which splits
 *      the slab mapping (two more mappings per stack) — while the budget
 *      derived from vm.max_map_count lasts (about 28 000 stacks);
 *   2. MADV_GUARD_INSTALL (Linux >= 6.13): a page-table marker, no mapping,
 *      installed for a whole slab in one process_madvise(2) call (not with
 *      WEFT_STACK_GUARD=mprotect: gdb's gcore loses every stack of a slab
 *      after its first guard marker);
 *   3. a canary at the low end of the stack, checked at every switch.
 * mprotect comes first because on a page that was never touched it changes
 * no page-table entry and so flushes no TLB, while a marker install does
 * flush: on a shadow-paging hypervisor (PVM, where this was measured) a
 * flush costs every page touched before it about 4 µs on its next access,
 * so 100 000 tasks parked on fresh stacks took 0.4 s longer to wake.
 *
 * Freed stacks go to the worker's cache (hot, LIFO); past its size, half of
 * it moves to a global warm pool in one lock round.  Both are arrays of
 * pointers: a stack's handle (at the top of its slot) is cold by the time
 * its task exits, and a list linked through the handles cost a miss per
 * exit and a chain of misses per refill.  Pages go back to the
 * kernel (MADV_DONTNEED, keeping the top page that holds the handle) only
 * for warm stacks beyond WEFT__WARM_KEEP, and only off the hot path: an
 * idle worker or the monitor thread trims them.  Each madvise costs a TLB
 * shootdown on every CPU running this process, so a burst of exits must
 * not pay one per stack.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sanitize.h"
#include "worker.h"

#ifdef WEFT_VALGRIND
#include <valgrind/valgrind.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

enum {
    WEFT__CACHE_MAX = 64,           /* per-worker cache of hot stacks */
    WEFT__CACHE_MOVE = 32,          /* moved to or from the global pool at once */
    WEFT__WARM_KEEP = 1024,         /* warm stacks kept before trimming */
    WEFT__SLAB_BYTES = 8 << 20,
    WEFT__POOL_RESERVE_MAX = 1024,
    WEFT__COLOURS = 32,             /* cache lines the task record is spread over */
};
static const uint64_t WEFT__CANARY = 0x77656674c0ffee77ull;

enum guard_kind { GUARD_MADVISE = 1, GUARD_MPROTECT, GUARD_CANARY };

struct weft__stack {
    struct weft__stack *next;   /* free-list link */
    unsigned char *slot_lo;     /* guard page start */
    size_t slot_size;           /* guard + usable + reserve */
    size_t usable;
    bool dedicated;             /* own mapping, unmapped when freed */
    unsigned char guard;        /* enum guard_kind */
    unsigned short colour;      /* bytes the top is lowered by (pooled stacks) */
    unsigned valgrind_id;
};

/* A worker's cache of free pooled stacks: an array, not a list through
 * the handles, so that freeing a stack does not touch its handle (a line
 * at the top of the slot, cold when a task exits after a long wait: a
 * miss per exit in cancel_fanout). */
struct weft__stackcache {
    int n;
    struct weft__stack *s[WEFT__CACHE_MAX];
};

static struct {
    weft__lock lock;
    /* Default-size stacks, pages still mapped: an array (its own mapping,
     * grown by mremap), so that moving stacks in and out touches no
     * handle; a stack that finds no room goes to the cold list instead
     * (its pages are then only trimmed when it is reused and freed). */
    struct weft__stack **warm;
    size_t warm_cap;
    weft__aword nwarm;          /* written under the lock, read racily as a hint */
    struct weft__stack *cold;   /* default-size stacks, pages returned */
    size_t page;
    bool madv_guard;            /* MADV_GUARD_INSTALL works here */

    long mprotect_budget;       /* guards we may still mprotect */
    size_t slot_size, usable;   /* for the current default size */
    unsigned char *slab_next, *slab_end;
    unsigned char *slab_prot_end; /* current slab: slots below are mprotect-guarded */
    bool slab_marked;           /* current slab: the slots above carry markers */
} G = {.lock = WEFT__LOCK_INIT};

/* Lock held: room for n more warm stacks? */
static bool warm_reserve(size_t n)
{
    size_t used = weft__load_relaxed(&G.nwarm);
    if (used + n <= G.warm_cap)
        return true;
    size_t cap = G.warm_cap ? G.warm_cap : 4096;
    while (cap < used + n)
        cap *= 2;
    void *p = G.warm ? mremap(G.warm, G.warm_cap * sizeof *G.warm, cap * sizeof *G.warm,
                              MREMAP_MAYMOVE)
                     : mmap(NULL, cap * sizeof *G.warm, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    G.warm = p;
    G.warm_cap = cap;
    return true;
}

/* Lock held: link n stacks into the cold list (it writes their handles). */
static void cold_put(struct weft__stack *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i]->next = G.cold;
        G.cold = v[i];
    }
}

/* Lock held: give back n freed stacks (to the warm pool, or the cold list
 * when it has no room). */
static void warm_put(struct weft__stack *const *v, size_t n)
{
    if (!n)
        return;
    if (warm_reserve(n)) {
        size_t used = weft__load_relaxed(&G.nwarm);
        memcpy(&G.warm[used], v, n * sizeof *v);
        weft__store_relaxed(&G.nwarm, used + n);
        return;
    }
    cold_put(v, n);
}

/* Lock held: take up to n warm stacks, the most recently freed first. */
static size_t warm_take(struct weft__stack **v, size_t n)
{
    size_t used = weft__load_relaxed(&G.nwarm);
    if (n > used)
        n = used;
    if (!n)
        return 0; /* G.warm may not be mapped yet */
    memcpy(v, &G.warm[used - n], n * sizeof *v);
    weft__store_relaxed(&G.nwarm, used - n);
    return n;
}

/* Bytes reserved at the top of every stack. */
static size_t top_reserve(size_t reserve)
{
    size_t r = reserve + sizeof(struct weft__stack);
    return (r + 63) & ~(size_t)63;
}

static long read_max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long v = 65530;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

int weft__stack_global_init(void)
{
    G.page = (size_t)sysconf(_SC_PAGESIZE);
    void *probe = mmap(NULL, 2 * G.page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED)
        return ENOMEM;
    /* Trust a guard only once it is seen to work: qemu-user, for one,
     * accepts MADV_GUARD_INSTALL and installs nothing.  A write(2) from a
     * guarded page fails with EFAULT instead of faulting the process. */
    G.madv_guard = false;
    /* WEFT_STACK_GUARD=mprotect: guard pages of their own mappings, which
     * gdb's gcore can write cores around (it stops copying a mapping at
     * the first page it cannot read, and MADV_GUARD_INSTALL guards sit
     * inside the slab mappings). */
    const char *want = getenv("WEFT_STACK_GUARD");
    bool madv_ok = !want || strcmp(want, "mprotect") != 0;
    if (madv_ok && madvise(probe, G.page, MADV_GUARD_INSTALL) == 0) {
        int fds[2];
        if (pipe(fds) == 0) {
            G.madv_guard = write(fds[1], probe, 1) < 0 && errno == EFAULT;
            close(fds[0]);
            close(fds[1]);
        }
    }
    munmap(probe, 2 * G.page);

    /* Each mprotected guard splits its slab mapping in up to three. */
    G.mprotect_budget = (read_max_map_count() - 8192) / 2;
#ifdef WEFT__TSAN
    /* ThreadSanitizer maps a shadow stack per fiber (a task) from the same
     * vm.max_map_count: at 20 000 live tasks two mappings a guard plus
     * one a fiber came within a few thousand of the limit, and TSan's
     * mmap failed (ENOMEM).  Leave it half; the rest get canaries. */
    G.mprotect_budget /= 2;
#endif
    if (G.mprotect_budget < 0)
        G.mprotect_budget = 0;
    return 0;
}

static void spill_cache(struct weft__stackcache *c);
static void refill_cache(struct weft__stackcache *c);

/* madvise(advice) on each of n ranges in one process_madvise(2) call on a
 * pidfd opened for this very call (a descriptor kept open could be closed
 * or inherited by a forked child: advice must never reach another
 * process's memory).  false where that is not supported here (older
 * kernels, emulators), and the caller advises range by range. */
static bool madvise_batch(const struct iovec *iov, int n, int advice)
{
    size_t want = 0;
    for (int i = 0; i < n; i++)
        want += iov[i].iov_len;
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0)
        return false;
    long r = syscall(SYS_process_madvise, pidfd, iov, (size_t)n, advice, 0);
    close(pidfd);
    return r == (long)want;
}

/* One mprotect guard from the budget (G.lock held). */
static bool mprotect_guard(unsigned char *page)
{
    if (G.mprotect_budget <= 0 || mprotect(page, G.page, PROT_NONE) != 0)
        return false;
    G.mprotect_budget--;
    return true;
}

/* Guard markers on the first page of each of n slots from base, in as few
 * system calls as process_madvise allows (one per 1024 slots; one madvise
 * each where it is missing).  true if every one went in. */
static bool marker_guards(unsigned char *base, size_t slot_size, size_t n)
{
    enum { IOV_MAX_BATCH = 1024 };
    size_t done = 0;
    while (done < n) {
        struct iovec iov[IOV_MAX_BATCH];
        size_t k = n - done < IOV_MAX_BATCH ? n - done : IOV_MAX_BATCH;
        for (size_t i = 0; i < k; i++)
            iov[i] = (struct iovec){base + (done + i) * slot_size, G.page};
        if (!madvise_batch(iov, (int)k, MADV_GUARD_INSTALL))
            break; /* not supported here, or partial: finish one by one */
        done += k;
    }
    for (; done < n; done++)
        if (madvise(base + done * slot_size, G.page, MADV_GUARD_INSTALL) != 0)
            return false;
    return true;
}

/* The guard of a dedicated (own mapping) stack. */
static void install_guard(struct weft__stack *s)
{
    weft__lock_acquire(&G.lock);
    bool prot = mprotect_guard(s->slot_lo);
    weft__lock_release(&G.lock);
    if (prot) {
        s->guard = GUARD_MPROTECT;
        return;
    }
    if (G.madv_guard && madvise(s->slot_lo, G.page, MADV_GUARD_INSTALL) == 0) {
        s->guard = GUARD_MADVISE;
        return;
    }
    s->guard = GUARD_CANARY;
    weft__canary_in_use = true; /* set once, read racily: a hint that only enables checks */
}

bool weft__canary_in_use;

static void arm_canary(struct weft__stack *s)
{
    if (s->guard == GUARD_CANARY)
        memcpy(s->slot_lo + G.page, &WEFT__CANARY, sizeof WEFT__CANARY);
}

static struct weft__stack *handle_of(unsigned char *slot_lo, size_t slot_size)
{
    return (struct weft__stack *)(slot_lo + slot_size - sizeof(struct weft__stack));
}

static struct weft__stack *carve(size_t slot_size, bool dedicated)
{
    unsigned char *lo;
    int kind = 0; /* enum guard_kind already in place, 0: none yet */
    if (dedicated) {
        lo = weft__mmap(slot_size, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK);
        if (lo == MAP_FAILED)
            return NULL;
    } else {
        weft__lock_acquire(&G.lock);
        if (G.slab_next == NULL || G.slab_next + slot_size > G.slab_end) {
            size_t n = WEFT__SLAB_BYTES / slot_size;
            if (n < 4)
                n = 4;
            void *slab =
                weft__mmap(n * slot_size, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK);
            if (slab == MAP_FAILED) {
                weft__lock_release(&G.lock);
                return NULL;
            }
            /* One touched page per stack is the point: never let a
             * transparent huge page back 2 MiB of stacks. */
            madvise(slab, n * slot_size, MADV_NOHUGEPAGE);
            /* Guards go in while the slab is untouched (see the top of
             * the file): mprotect while the budget lasts, markers for the
             * rest in one batch. */
            unsigned char *b = slab;
            size_t k = 0;
            while (k < n && mprotect_guard(b + k * slot_size))
                k++;
            G.slab_prot_end = b + k * slot_size;
            G.slab_marked = k < n && G.madv_guard && marker_guards(b + k * slot_size, slot_size, n - k);
            G.slab_next = slab;
            G.slab_end = (unsigned char *)slab + n * slot_size;
        }
        lo = G.slab_next;
        G.slab_next += slot_size;
        kind = lo < G.slab_prot_end ? GUARD_MPROTECT : G.slab_marked ? GUARD_MADVISE : 0;
        weft__lock_release(&G.lock);
    }
    struct weft__stack *s = handle_of(lo, slot_size);
    s->next = NULL;
    s->slot_lo = lo;
    s->slot_size = slot_size;
    s->usable = slot_size - G.page;
    s->dedicated = dedicated;
    /* Colour: consecutive slots of a slab get consecutive line offsets.
     * Computed once here: the division, at every spawn, was a fifth of
     * weft__stack_alloc's time (bench/spawn, perf annotate). */
    s->colour = dedicated ? 0 : (unsigned short)(((uintptr_t)lo / slot_size) % WEFT__COLOURS * 64);
    if (kind)
        s->guard = (unsigned char)kind;
    else if (dedicated)
        install_guard(s);
    else {
        s->guard = GUARD_CANARY;
        weft__canary_in_use = true;
    }
#ifdef WEFT_VALGRIND
    s->valgrind_id = VALGRIND_STACK_REGISTER(lo + G.page, lo + G.page + s->usable);
#endif
    return s;
}

static size_t round_page(size_t n) { return (n + G.page - 1) & ~(G.page - 1); }

static size_t default_usable(void)
{
    return round_page(weft__S.default_stack);
}

/* A default-size stack when the top of this worker's cache will not do:
 * the cache refilled from the warm pool, the pool itself (a plain thread),
 * or a new slot.  Out of line, so that the common path (a pop) keeps no
 * frame.  NULL if out of memory. */
static __attribute__((noinline)) struct weft__stack *pooled_slow(weft__worker *w, size_t def)
{
    struct weft__stack *s = NULL;
    struct weft__stackcache *c = w ? w->stacks : NULL;
    if (c && !c->n)
        refill_cache(c);
    if (c && c->n) {
        s = c->s[--c->n];
    } else {
        weft__lock_acquire(&G.lock);
        if (!warm_take(&s, 1) && (s = G.cold))
            G.cold = s->next;
        weft__lock_release(&G.lock);
    }
    /* A stack cached under an earlier default size (the runtime was
     * re-initialised with another WEFT_STACK_SIZE) is left alone. */
    if (s && s->usable != def)
        s = NULL;
    if (!s)
        s = carve(G.page + def, false);
    return s;
}

void *weft__stack_alloc(size_t size, size_t reserve, void **lo, size_t *usable,
                        struct weft__stack **handle, bool *pooled_out)
{
    size_t top = top_reserve(reserve);
    size_t want = round_page(size);
    size_t def = default_usable();
    struct weft__stack *s;
    bool pooled = want == def && top <= WEFT__POOL_RESERVE_MAX;
    if (WEFT__LIKELY(pooled)) {
        weft__worker *w = weft__cur_worker();
        struct weft__stackcache *c = w ? w->stacks : NULL;
        if (WEFT__LIKELY(c && c->n) && WEFT__LIKELY(c->s[c->n - 1]->usable == def))
            s = c->s[--c->n];
        else
            s = pooled_slow(w, def);
    } else {
        if (want < top + 4096)
            want = round_page(top + 4096);
        s = carve(G.page + want, true);
    }
    if (!s)
        return NULL;
    /* A reused stack still carries the ASan poison of its last task's
     * frames (stale redzones): clear it before anything is written. */
    WEFT__ASAN_UNPOISON(s->slot_lo + G.page, s->usable - sizeof(struct weft__stack));
    arm_canary(s);
    size_t colour = s->colour; /* 0 unless pooled */
    *lo = s->slot_lo + G.page;
    *usable = s->usable - top - colour;
    *handle = s;
    *pooled_out = pooled;
    /* The task record sits right above the usable stack. */
    return s->slot_lo + G.page + s->usable - top - colour;
}

/* weft__stack_free's other cases, out of line for the same reason: a
 * stack of its own mapping, or a pooled one freed where there is no
 * worker cache. */
static __attribute__((noinline)) void free_slow(struct weft__stack *s, bool pooled)
{
    if (!pooled) {
        WEFT__ASSERT(s->dedicated);
#ifdef WEFT_VALGRIND
        VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
        if (s->guard == GUARD_MPROTECT) {
            weft__lock_acquire(&G.lock);
            G.mprotect_budget++;
            weft__lock_release(&G.lock);
        }
        munmap(s->slot_lo, s->slot_size);
        return;
    }
    weft__lock_acquire(&G.lock);
    warm_put(&s, 1);
    weft__lock_release(&G.lock);
}

void weft__stack_free(struct weft__stack *s, bool pooled)
{
    weft__worker *w = pooled ? weft__cur_worker() : NULL;
    struct weft__stackcache *c = w ? w->stacks : NULL;
    if (WEFT__UNLIKELY(!c)) {
        free_slow(s, pooled);
        return;
    }
    if (WEFT__UNLIKELY(c->n >= WEFT__CACHE_MAX))
        spill_cache(c);
    c->s[c->n++] = s;
}

/* Move the WEFT__CACHE_MOVE least recently freed stacks of a full cache
 * to the warm pool: pointers copied, no handle touched. */
static __attribute__((noinline)) void spill_cache(struct weft__stackcache *c)
{
    weft__lock_acquire(&G.lock);
    warm_put(c->s, WEFT__CACHE_MOVE);
    weft__lock_release(&G.lock);
    c->n -= WEFT__CACHE_MOVE;
    memmove(&c->s[0], &c->s[WEFT__CACHE_MOVE], (size_t)c->n * sizeof c->s[0]);
}

/* Take up to WEFT__CACHE_MOVE warm stacks into an empty cache. */
static __attribute__((noinline)) void refill_cache(struct weft__stackcache *c)
{
    if (!weft__load_relaxed(&G.nwarm)) /* racy hint: the lock decides */
        return;
    weft__lock_acquire(&G.lock);
    c->n += (int)warm_take(&c->s[c->n], (size_t)(WEFT__CACHE_MOVE - c->n));
    weft__lock_release(&G.lock);
}

/* Return the pages of warm stacks beyond WEFT__WARM_KEEP to the kernel, at
 * most max of them per call.  Called by idle workers and the monitor. */
/* Return the pages of up to max warm stacks beyond WEFT__WARM_KEEP, in
 * one system call per batch: each call flushes the TLB of every CPU the
 * process runs on (and, on a shadow-paging hypervisor, makes every page's
 * next access slow; see the top of the file), so stacks are trimmed
 * together rather than one call each. */
void weft__stack_trim(int max)
{
    enum { TRIM_BATCH = 256 };
    while (max > 0 && weft__load_relaxed(&G.nwarm) > WEFT__WARM_KEEP) {
        struct weft__stack *batch[TRIM_BATCH];
        int n = 0;
        weft__lock_acquire(&G.lock);
        size_t used = weft__load_relaxed(&G.nwarm);
        if (used > WEFT__WARM_KEEP) {
            size_t want = used - WEFT__WARM_KEEP;
            if (want > (size_t)max)
                want = (size_t)max;
            if (want > TRIM_BATCH)
                want = TRIM_BATCH;
            n = (int)warm_take(batch, want);
        }
        weft__lock_release(&G.lock);
        if (n == 0)
            return;
        max -= n;
        /* Keep each top page, which holds the handle.  Guard markers
         * survive MADV_DONTNEED. */
        struct iovec iov[TRIM_BATCH];
        int k = 0;
        for (int i = 0; i < n; i++) {
            struct weft__stack *s = batch[i];
            size_t top_page_off = (s->slot_size - sizeof(struct weft__stack)) & ~(G.page - 1);
            if (top_page_off > G.page)
                iov[k++] = (struct iovec){s->slot_lo + G.page, top_page_off - G.page};
        }
        if (k && !madvise_batch(iov, k, MADV_DONTNEED))
            for (int i = 0; i < k; i++)
                madvise(iov[i].iov_base, iov[i].iov_len, MADV_DONTNEED);
        weft__lock_acquire(&G.lock);
        cold_put(batch, (size_t)n);
        weft__lock_release(&G.lock);
    }
}

struct weft__stackcache *weft__stackcache_new(void)
{
    return weft__calloc(1, sizeof(struct weft__stackcache));
}

void weft__stackcache_free(struct weft__stackcache *c)
{
    if (!c)
        return;
    weft__lock_acquire(&G.lock);
    warm_put(c->s, (size_t)c->n);
    weft__lock_release(&G.lock);
    weft__free(c);
}

void weft__stack_global_fini(void)
{
    /* Pooled stacks stay mapped across shutdown: tasks leaked by an earlier
     * run may still live in the same slabs, and a re-init reuses them. */
}

bool weft__stack_is_guard_fault(void *addr, weft__task **owner)
{
    weft__worker *w = weft__cur_worker();
    if (!w || !w->cur)
        return false;
    weft__task *t = w->cur;
    unsigned char *a = addr;
    unsigned char *lo = t->stack_lo;
    /* Anything within a page below the usable stack, or in the lowest
     * page of it when the guard is only a canary. */
    if (a >= lo - G.page && a < lo + G.page) {
        *owner = t;
        return true;
    }
    return false;
}

bool weft__stack_canary_ok(weft__task *t)
{
    struct weft__stack *s = t->stack;
    if (!s || s->guard != GUARD_CANARY)
        return true;
    uint64_t v;
    memcpy(&v, s->slot_lo + G.page, sizeof v);
    return v == WEFT__CANARY;
}

size_t weft__page_size(void) { return G.page; }
