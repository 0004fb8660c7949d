/*
 * task.c — spawning and exiting tasks, ids, the alive word and the task
 * registry that dumps and leak checks walk.
 *
 * The registry is sharded so spawn and exit never take one global lock: a
 * task spawned on a worker registers in that worker's home shard, one
 * spawned by a plain thread in the shard of its id.  The alive counts are
 * a single atomic word so that weft_num_tasks() is exact at every instant.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "sanitize.h"
#include "worker.h"

#define WEFT__SHARDS 64u
enum { WEFT__MIN_STACK = 16 * 1024 };

struct weft__counters weft__ctr;
weft__aint weft__exit_epoch;
weft__aword weft__exit_waiters;

void weft__exit_watch_begin(void) { weft__fetch_add_full(&weft__exit_waiters, 1); }
void weft__exit_watch_end(void) { weft__fetch_add_full(&weft__exit_waiters, (AO_t)-1); }

void weft__wait_exit(unsigned seen_epoch, int64_t deadline)
{
    if (weft__iload_acq(&weft__exit_epoch) == seen_epoch)
        weft__futex_wait(&weft__exit_epoch, seen_epoch, deadline);
}
static weft__aword next_id = 1;

/* The registry: per shard, a dense array of task pointers.  Exit and
 * spawn touch only their own slot and the shard's words, never another
 * task's record: with an intrusive list through the records (as before)
 * unlinking wrote to the neighbours' records, a page apart, and at
 * 100 000 tasks exiting at once (bench/cancel_fanout.c) that cache and
 * TLB miss, stalled behind the shard lock's release, was 15 % of the time.
 * A free slot holds the index of the next free one, shifted and tagged
 * with bit 0 (task records are aligned: a pointer never has it); walkers
 * skip tagged slots.  The array is made of chunks allocated as the shard
 * first needs them and kept (a high-water mark), so no slot ever moves. */
enum { WEFT__CHUNK_SLOTS = 4096, WEFT__SHARD_CHUNKS = 4096 }; /* 16 M per shard */
#define WEFT__SLOT_FREE(next) (((uintptr_t)(next) << 1) | 1u)

static struct shard {
    weft__lock lock;
    uint32_t top;          /* slots ever used */
    uint32_t free;         /* first free slot + 1 below top, 0 if none */
} __attribute__((aligned(WEFT__CACHELINE))) shards[WEFT__SHARDS];

/* Apart from the shards, so that a shard is one line (and its index a
 * shift); written under the shard's lock.  2 MiB of address space, of
 * which only the rows and pages of shards in use are ever touched. */
static uintptr_t *shard_chunks[WEFT__SHARDS][WEFT__SHARD_CHUNKS];

static inline uintptr_t *slot_at(struct shard *s, uint32_t i)
{
    return &shard_chunks[s - shards][i / WEFT__CHUNK_SLOTS][i % WEFT__CHUNK_SLOTS];
}

uint64_t weft__next_task_id(void) { return weft__load_acq(&next_id); }

/* Every spawn that got past its stack takes an id; the few that fail after
 * that count themselves in spawn_failed. */
uint64_t weft__spawned_count(void)
{
    return weft__load_acq(&next_id) - 1 - weft__load_acq(&weft__ctr.spawn_failed);
}

/* A new chunk for slot i of s (lock held): rare, once per 4096
 * registrations of a shard, ever.  Chunks outlive weft_shutdown (leaked
 * tasks stay registered), so they are the runtime's own memory, mapped
 * like the stacks, not the replaceable allocator's.  0 or ENOMEM. */
static __attribute__((noinline, cold)) int registry_grow(struct shard *s, uint32_t i)
{
    if (i / WEFT__CHUNK_SLOTS >= WEFT__SHARD_CHUNKS)
        return ENOMEM;
    int saved = errno;
    void *c = mmap(NULL, WEFT__CHUNK_SLOTS * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved;
    if (c == MAP_FAILED)
        return ENOMEM;
    shard_chunks[s - shards][i / WEFT__CHUNK_SLOTS] = c;
    return 0;
}

/* 0, or ENOMEM (no memory for a new chunk, or 16 M tasks in the shard). */
static inline int registry_add(weft__task *t)
{
    struct shard *s = &shards[t->shard];
    weft__lock_acquire(&s->lock);
    uint32_t i = s->free;
    if (WEFT__LIKELY(i != 0)) {
        i--;
        s->free = (uint32_t)(*slot_at(s, i) >> 1);
    } else {
        i = s->top;
        if (WEFT__UNLIKELY(i % WEFT__CHUNK_SLOTS == 0) && registry_grow(s, i) != 0) {
            weft__lock_release(&s->lock);
            return ENOMEM;
        }
        s->top = i + 1;
    }
    *slot_at(s, i) = (uintptr_t)t;
    t->reg_slot = i;
    weft__lock_release(&s->lock);
    return 0;
}

static void registry_remove(weft__task *t)
{
    struct shard *s = &shards[t->shard];
    weft__lock_acquire(&s->lock);
    *slot_at(s, t->reg_slot) = WEFT__SLOT_FREE(s->free);
    s->free = t->reg_slot + 1;
    weft__lock_release(&s->lock);
}

void weft__for_each_task(void (*visit)(weft__task *t, void *arg), void *arg)
{
    for (unsigned i = 0; i < WEFT__SHARDS; i++) {
        struct shard *s = &shards[i];
        weft__lock_acquire(&s->lock);
        for (uint32_t k = 0; k < s->top; k++) {
            uintptr_t v = *slot_at(s, k);
            if (!(v & 1u))
                visit((weft__task *)v, arg);
        }
        weft__lock_release(&s->lock);
    }
}

void weft__tasks_reset(void)
{
    /* Tasks leaked by an earlier run stay registered (their memory is never
     * freed under them) and keep showing in dumps. */
}

/* Zero a new task record.  A memset of its size compiles (gcc, x86-64) to
 * `rep stosq`, whose start-up cost alone was 14 % of a spawn's time
 * (bench/spawn, perf annotate); stores of 16 zero bytes at a time, a fixed
 * count, take a few cycles.  Volatile, or the compiler recognises the loop
 * as a memset and emits `rep stosq` again.  The record is 16-byte aligned
 * (stack.c puts it at the aligned top of the stack). */
typedef uint64_t weft__zero16 __attribute__((vector_size(16), may_alias));
_Static_assert(sizeof(weft__task) % 8 == 0, "the record zeroes in 8-byte steps");
static inline void task_record_zero(weft__task *t)
{
    volatile weft__zero16 *v = (volatile weft__zero16 *)(void *)t;
    size_t i = 0;
    for (; i < sizeof *t / 16; i++)
        v[i] = (weft__zero16){0, 0};
    if (sizeof *t % 16)
        *(volatile uint64_t *)(volatile void *)&v[i] = 0;
}

int weft__spawn(const struct weft_task_opts *o, weft_fn fn, void *arg, const void *copy,
                size_t copy_size, const char *fn_name, const char *file, int line,
                const char *func, bool counted, weft__task **out)
{
    if (!fn || (copy_size && !copy))
        return EINVAL;
    if (WEFT__UNLIKELY(!weft__load_acq(&weft__S.running))) { /* the call, only when needed */
        int r = weft__ensure_init();
        if (r)
            return r;
    }
    size_t ss = (o && o->stack_size) ? o->stack_size : weft__S.default_stack;
    if (ss < WEFT__MIN_STACK)
        ss = WEFT__MIN_STACK;
    if (ss > ((size_t)1 << 30) || copy_size > ((size_t)1 << 30))
        return EINVAL; /* over 1 GiB of stack or argument: surely a mistake */
    size_t rec = (sizeof(weft__task) + 15) & ~(size_t)15;
    void *lo;
    size_t usable;
    struct weft__stack *h;
    bool pooled;
    unsigned char *top = weft__stack_alloc(ss, rec + copy_size, &lo, &usable, &h, &pooled);
    if (!top)
        return ENOMEM;
    weft__task *t = (weft__task *)top;
    task_record_zero(t);
    t->arg = arg;
    if (copy_size) {
        t->copy = top + rec;
        memcpy(t->copy, copy, copy_size);
        t->arg = t->copy;
    }
    t->fn = fn;
    /* relaxed: ids only need to be unique. */
    t->id = weft__fetch_add_relaxed(&next_id, 1);
    /* The home shard of the spawning worker: its lock, its free slot and
     * its chunk row stay in this worker's cache, where shards picked by id
     * cycled through 64 of each, and the lock is contended only by tasks
     * that exit on another worker.  (Spread by id, the three dependent
     * loads missed L1: 15 % of weft__spawn, perf annotate.) */
    weft__worker *w = weft__cur_worker();
    t->shard = (int)((w ? (uint64_t)w->id : t->id) % WEFT__SHARDS);
    t->counted = counted;
    t->name = o ? o->name : NULL;
    t->fn_name = fn_name;
    t->file = file;
    t->line = line;
    t->func = func;
    t->stack_lo = lo;
    t->stack_size = usable;
    t->stack = h;
    t->stack_pooled = pooled;
    weft__frame_init(&t->frame, lo, usable, weft__task_entry);
#ifdef WEFT__TSAN
    t->tsan_fiber = __tsan_create_fiber(0);
#endif
    /* full: a task must be counted before anyone can observe it exit, and
     * before weft_go returns. */
    AO_t one = counted ? WEFT__ALIVE_COUNTED : WEFT__ALIVE_INTERNAL;
    weft__fetch_add_full(&weft__ctr.alive, one);
    if (WEFT__UNLIKELY(registry_add(t) != 0)) {
        weft__fetch_add_full(&weft__ctr.alive, (AO_t)0 - one);
        weft__fetch_add_relaxed(&weft__ctr.spawn_failed, 1); /* relaxed: statistics */
#ifdef WEFT__TSAN
        __tsan_destroy_fiber(t->tsan_fiber);
#endif
        weft__stack_free(h, pooled);
        return ENOMEM;
    }
    if (out)
        *out = t;
    weft__store_rel(&t->state, WEFT__TASK_RUNNABLE);
    if (w && w->cur) {
        /* Spawned by a running task: the child runs first, on a stack that
         * is usually still hot in this worker's cache, and the parent waits
         * in runnext (libdill's order).  Short-lived children finish before
         * the next spawn, so trees of tasks (skynet) keep few stacks alive
         * and reuse them; an idle worker may steal the parent meanwhile. */
        weft__run_child_first(w, w->cur, t);
        return 0;
    }
    return weft__ready_queued(w, t);
}

#undef weft_go
#undef weft_go_copy
#undef weft_go_opts

int weft_go_at(weft_fn fn, void *arg, const char *fn_name, const char *file, int line,
               const char *func)
{
    return weft__spawn(NULL, fn, arg, NULL, 0, fn_name, file, line, func, true, NULL);
}

int weft_go_copy_at(weft_fn fn, const void *arg, size_t size, const char *fn_name,
                    const char *file, int line, const char *func)
{
    return weft__spawn(NULL, fn, NULL, arg, size, fn_name, file, line, func, true, NULL);
}

int weft_go_opts_at(const struct weft_task_opts *o, weft_fn fn, void *arg, const char *fn_name,
                    const char *file, int line, const char *func)
{
    return weft__spawn(o, fn, arg, NULL, 0, fn_name, file, line, func, true, NULL);
}

int weft_go(weft_fn fn, void *arg) { return weft_go_at(fn, arg, NULL, NULL, 0, NULL); }
int weft_go_copy(weft_fn fn, const void *arg, size_t size)
{
    return weft_go_copy_at(fn, arg, size, NULL, NULL, 0, NULL);
}
int weft_go_opts(const struct weft_task_opts *o, weft_fn fn, void *arg)
{
    return weft_go_opts_at(o, fn, arg, NULL, NULL, 0, NULL);
}

size_t weft_num_tasks(void)
{
    return (size_t)weft__alive_counted(weft__load_acq(&weft__ctr.alive));
}

uint64_t weft_self(void)
{
    weft__worker *w = weft__cur_worker();
    return (w && w->cur) ? w->cur->id : 0;
}

/* Runs on the next context after a task exited: its stack is free now. */
static void free_dead(void *arg)
{
    weft__task *t = arg;
#ifdef WEFT__TSAN
    __tsan_destroy_fiber(t->tsan_fiber);
#endif
    weft__stack_free(t->stack, t->stack_pooled);
}

__attribute__((noreturn)) static void task_exit(weft__worker *w, weft__task *t)
{
    weft__store_rel(&t->state, WEFT__TASK_DEAD);
    /* relaxed: only this worker writes its count; the full add below
     * publishes it to whoever sees the task gone (weft_stats). */
    weft__store_relaxed(&w->exited, weft__load_relaxed(&w->exited) + 1);
    /* full: the task's effects happen-before anyone who sees the count
     * drop (weft_num_tasks, leak checks).  The count drops before the task
     * leaves the registry: a leak check (which walks the registry) that
     * finds it gone must find weft_num_tasks down too. */
    weft__fetch_add_full(&weft__ctr.alive,
                         (AO_t)0 - (t->counted ? WEFT__ALIVE_COUNTED : WEFT__ALIVE_INTERNAL));
    registry_remove(t);
    /* Plain threads waiting for exits (leak checks, shutdown) register
     * (weft__exit_watch_begin) before their first look at the tasks, and
     * the load below comes after this exit's effects: so either the load
     * sees the waiter, and the bump and wake reach it even as it blocks on
     * the epoch it read before looking, or the waiter's look sees the
     * effects.  For the alive count that is store-buffering with a full
     * barrier on each side: the add above, before our load; the
     * registration, before the waiter's read of the count.  For the
     * registry, the store that ends registry_remove may still be in flight
     * when our load runs, but the waiter's walk takes this shard's lock:
     * taken after us, it shows the slot free; taken before, our acquisition
     * read its release, so the registration happens-before our load. */
    if (WEFT__UNLIKELY(weft__load_acq(&weft__exit_waiters) != 0)) {
        weft__ifetch_add_full(&weft__exit_epoch, 1);
        weft__futex_wake(&weft__exit_epoch, 1 << 30);
    }
    w->after_fn = free_dead;
    w->after_arg = t;
    weft__schedule_exit(w, t);
}

void weft__task_entry(void)
{
    /* First run of a task: complete the switch that started it. */
    WEFT__ASAN_FINISH(NULL);
    weft__worker *w = weft__cur_worker();
    weft__run_after(w);
    weft__task *t = w->cur;
    t->fn(t->arg);
    /* The task may have migrated: look the worker up again. */
    w = weft__cur_worker();
    task_exit(w, w->cur);
}
