/*
 * atomic.h — the only include of libatomic_ops in weft.
 *
 * Every shared-memory atomic in weft goes through these helpers, which name
 * the ordering they provide.  A call site that uses anything weaker than
 * sequential consistency (the _full variants) carries a comment saying why
 * that ordering suffices.
 */
#ifndef WEFT_SCHED_ATOMIC_H
#define WEFT_SCHED_ATOMIC_H

#include <atomic_ops.h>
#include <stdint.h>

typedef AO_t weft__aword;      /* pointer-sized atomic word */
typedef unsigned int weft__aint; /* 32-bit atomic word (futexes) */

_Static_assert(sizeof(AO_t) == sizeof(void *), "AO_t must hold a pointer");
_Static_assert(sizeof(unsigned int) == 4, "futex words are 32-bit");

/* ---- pointer-sized words ---- */
static inline AO_t weft__load_relaxed(const volatile AO_t *p) { return AO_load(p); }
static inline AO_t weft__load_acq(const volatile AO_t *p) { return AO_load_acquire(p); }
static inline AO_t weft__load_full(const volatile AO_t *p) { return AO_load_full(p); }
static inline void weft__store_relaxed(volatile AO_t *p, AO_t v) { AO_store(p, v); }
static inline void weft__store_rel(volatile AO_t *p, AO_t v) { AO_store_release(p, v); }
static inline void weft__store_full(volatile AO_t *p, AO_t v) { AO_store_full(p, v); }
static inline AO_t weft__fetch_add_full(volatile AO_t *p, AO_t v) { return AO_fetch_and_add_full(p, v); }
static inline AO_t weft__fetch_add_relaxed(volatile AO_t *p, AO_t v) { return AO_fetch_and_add(p, v); }
static inline AO_t weft__fetch_add_rel(volatile AO_t *p, AO_t v) { return AO_fetch_and_add_release(p, v); }
static inline int weft__cas_full(volatile AO_t *p, AO_t old, AO_t nv)
{
    return AO_compare_and_swap_full(p, old, nv);
}
static inline int weft__cas_acq(volatile AO_t *p, AO_t old, AO_t nv)
{
    return AO_compare_and_swap_acquire(p, old, nv);
}
static inline int weft__cas_rel(volatile AO_t *p, AO_t old, AO_t nv)
{
    return AO_compare_and_swap_release(p, old, nv);
}
/* Exchange built from CAS: libatomic_ops has no portable swap. */
static inline AO_t weft__xchg_full(volatile AO_t *p, AO_t nv)
{
    AO_t old;
    do {
        old = AO_load(p);
    } while (!AO_compare_and_swap_full(p, old, nv));
    return old;
}

/* ---- bytes ---- */
static inline unsigned char weft__cload_relaxed(const volatile unsigned char *p) { return AO_char_load(p); }
static inline unsigned char weft__cload_acq(const volatile unsigned char *p) { return AO_char_load_acquire(p); }
static inline void weft__cstore_relaxed(volatile unsigned char *p, unsigned char v) { AO_char_store(p, v); }
static inline void weft__cstore_rel(volatile unsigned char *p, unsigned char v) { AO_char_store_release(p, v); }

/* ---- 32-bit words ---- */
static inline unsigned weft__iload_relaxed(const volatile unsigned *p) { return AO_int_load(p); }
static inline unsigned weft__iload_acq(const volatile unsigned *p) { return AO_int_load_acquire(p); }
static inline void weft__istore_rel(volatile unsigned *p, unsigned v) { AO_int_store_release(p, v); }
static inline void weft__istore_full(volatile unsigned *p, unsigned v) { AO_int_store_full(p, v); }
static inline int weft__icas_full(volatile unsigned *p, unsigned old, unsigned nv)
{
    return AO_int_compare_and_swap_full(p, old, nv);
}
static inline int weft__icas_acq(volatile unsigned *p, unsigned old, unsigned nv)
{
    return AO_int_compare_and_swap_acquire(p, old, nv);
}
static inline int weft__icas_rel(volatile unsigned *p, unsigned old, unsigned nv)
{
    return AO_int_compare_and_swap_release(p, old, nv);
}
static inline unsigned weft__ifetch_add_full(volatile unsigned *p, unsigned v)
{
    return AO_int_fetch_and_add_full(p, v);
}
static inline unsigned weft__ixchg_full(volatile unsigned *p, unsigned nv)
{
    unsigned old;
    do {
        old = AO_int_load(p);
    } while (!AO_int_compare_and_swap_full(p, old, nv));
    return old;
}

static inline void weft__fence_full(void) { AO_nop_full(); }

/* CPU hint inside spin loops. */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

#endif
