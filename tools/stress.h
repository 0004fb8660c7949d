/*
 * stress.h — shared pieces of weft-stress (tools/weft-stress.c and the
 * scenario files tools/stress_*.c).
 *
 * A scenario is a function that runs one *round*: it builds a random
 * configuration from the round's PRNG (derived from --seed, the scenario's
 * id and the round number, so the sequence of configurations is the same
 * for a given seed whatever the timing), starts tasks (and sometimes plain
 * threads), waits for all of them and checks its invariants.  Every
 * scenario's driver task runs rounds back to back until --duration is
 * over; all selected scenarios run at the same time.
 *
 * Checks never use cmocka (they run on task stacks and helper threads):
 * CHECK() counts a passed check or records a failure with the scenario,
 * round and round seed, and the run goes on.
 */
#ifndef WEFT_STRESS_H
#define WEFT_STRESS_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

/* ---- options ------------------------------------------------------------ */

struct stress_opts {
    uint64_t seed;
    double duration;       /* seconds */
    int workers;           /* 0: runtime default */
    int scale;             /* >= 1: multiplies task and value counts */
    bool quiet;
    uint64_t rounds;       /* 0: unlimited; else at most this many rounds per scenario */
    uint64_t start_round;  /* first round number (rounds are seeded by number) */
    int watchdog_s;        /* no progress for this long: dump and fail */
    int threads;           /* allow plain-thread participants (1) or not (0) */
};
extern struct stress_opts g_opt;
extern int64_t g_end;      /* weft_now() deadline of the run */
extern atomic_int g_stop;  /* set once the run must wind down */

/* ---- PRNG: splitmix64 --------------------------------------------------- */

struct rng {
    uint64_t s;
};

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline uint64_t seed_of(uint64_t a, uint64_t b)
{
    return mix64(a * 0x9e3779b97f4a7c15ULL + mix64(b + 0x632be59bd9b4e019ULL));
}
static inline uint64_t rng_next(struct rng *r) { return mix64(r->s += 0x9e3779b97f4a7c15ULL); }
/* Uniform in [0, n) (n > 0). */
static inline uint64_t rng_below(struct rng *r, uint64_t n) { return n ? rng_next(r) % n : 0; }
/* Uniform in [lo, hi] (lo if hi < lo). */
static inline int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}
/* True with probability num/den. */
static inline bool rng_chance(struct rng *r, unsigned num, unsigned den)
{
    return rng_below(r, den) < num;
}
static inline struct rng rng_fork(struct rng *r, uint64_t salt)
{
    return (struct rng){seed_of(rng_next(r), salt)};
}

/* ---- scenarios and checks ----------------------------------------------- */

struct scenario;
typedef void (*round_fn)(struct scenario *sc, struct rng *r);

struct scenario {
    const char *name;
    const char *what;      /* one line for --list */
    round_fn round;
    bool selftest;         /* a check of the harness: only run when named in --only */
    bool enabled;
    int id;
    /* live counters */
    atomic_uint_fast64_t ops;     /* successful operations */
    atomic_uint_fast64_t checks;  /* invariant checks passed */
    atomic_uint_fast64_t failed;  /* invariant checks failed */
    atomic_uint_fast64_t round_no;
    atomic_uint_fast64_t round_seed;
    _Atomic(const char *) phase;  /* what the driver is doing (for the watchdog) */
    atomic_int_fast64_t max_late; /* timer lateness seen (ns), information only */
    uint64_t rounds_done;
    int64_t t_start, t_stop;
};

void stress_fail(struct scenario *sc, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CHECK(sc, cond, ...)                                                               \
    do {                                                                                   \
        if (__builtin_expect(!!(cond), 1))                                                 \
            atomic_fetch_add_explicit(&(sc)->checks, 1, memory_order_relaxed);             \
        else                                                                               \
            stress_fail((sc), __FILE__, __LINE__, "`" #cond "`: " __VA_ARGS__);             \
    } while (0)

/* Count n successful operations. */
static inline void OPS(struct scenario *sc, uint64_t n)
{
    atomic_fetch_add_explicit(&sc->ops, n, memory_order_relaxed);
}
static inline void PHASE(struct scenario *sc, const char *what)
{
    atomic_store_explicit(&sc->phase, what, memory_order_relaxed);
}
static inline void LATE(struct scenario *sc, int64_t ns)
{
    int64_t cur = atomic_load_explicit(&sc->max_late, memory_order_relaxed);
    while (ns > cur &&
           !atomic_compare_exchange_weak_explicit(&sc->max_late, &cur, ns,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* errno read in a fresh call: a task may have moved to another worker
 * thread since the compiler last computed &errno. */
int stress_errno(void);

/* Scale a base count by --scale. */
static inline int SCALE(int base) { return base * (g_opt.scale > 0 ? g_opt.scale : 1); }

/* True once the run is over (duration passed or a fatal condition). */
static inline bool stress_stopping(void)
{
    return atomic_load_explicit(&g_stop, memory_order_relaxed) != 0;
}

/* ---- crews: a round's tasks and threads, and waiting for them ------------ */

enum { CREW_MAX_THREADS = 8 };

struct crew {
    weft_chan *done;       /* elem 0: one signal per finished member */
    int members;
    int nthreads;
    pthread_t threads[CREW_MAX_THREADS];
};

/* cap: the most members the crew will get. */
void crew_init(struct crew *c, int cap);
/* Start fn(arg) in a task named name (static string), or on a plain OS
 * thread when as_thread is true and the crew has room for another thread
 * (else a task).  Returns true if it started a thread. */
bool crew_go(struct crew *c, const char *name, void (*fn)(void *), void *arg, bool as_thread);
/* Wait for every member, join the threads, free the crew. */
void crew_wait(struct crew *c);

/* A short random pause: nothing, a yield, or a sleep of up to max_us. */
void stress_jitter(struct rng *r, int max_us);

/* ---- tagged values ---------------------------------------------------------
 * A value carries (sender, seq), a tag derived from the round seed, and
 * padding up to elem_size filled from the tag, so a torn, stale or
 * misrouted copy is detected.  elem_size is 16..MSG_MAX. */

enum { MSG_MIN = 16, MSG_MAX = 256 };

static inline uint64_t msg_tag(uint64_t rseed, uint32_t sender, uint32_t seq)
{
    return seed_of(rseed, ((uint64_t)sender << 32) | seq);
}
static inline void msg_fill(unsigned char *buf, size_t esize, uint64_t rseed, uint32_t sender,
                            uint32_t seq)
{
    uint64_t tag = msg_tag(rseed, sender, seq);
    memcpy(buf, &sender, 4);
    memcpy(buf + 4, &seq, 4);
    memcpy(buf + 8, &tag, 8);
    for (size_t i = 16; i < esize; i++)
        buf[i] = (unsigned char)((tag >> ((i & 7) * 8)) ^ i);
}
/* Decode and verify; false if the bytes are not a value of this round. */
static inline bool msg_read(const unsigned char *buf, size_t esize, uint64_t rseed,
                            uint32_t *sender, uint32_t *seq, uint64_t *tag)
{
    memcpy(sender, buf, 4);
    memcpy(seq, buf + 4, 4);
    memcpy(tag, buf + 8, 8);
    if (*tag != msg_tag(rseed, *sender, *seq))
        return false;
    for (size_t i = 16; i < esize; i++)
        if (buf[i] != (unsigned char)((*tag >> ((i & 7) * 8)) ^ i))
            return false;
    return true;
}
static inline bool all_bytes(const void *p, size_t n, unsigned char b)
{
    const unsigned char *q = p;
    for (size_t i = 0; i < n; i++)
        if (q[i] != b)
            return false;
    return true;
}
static inline size_t pick_esize(struct rng *r)
{
    static const size_t sizes[] = {16, 16, 24, 64, MSG_MAX};
    return sizes[rng_below(r, sizeof sizes / sizeof sizes[0])];
}
static inline size_t pick_cap(struct rng *r)
{
    switch (rng_below(r, 8)) {
    case 0: case 1: case 2: return 0;
    case 3: return 1;
    case 4: case 5: return (size_t)rng_range(r, 2, 8);
    default: return (size_t)rng_range(r, 9, 256);
    }
}

/* ---- scenario entry points (one per file) ------------------------------ */

void sc_spawn_round(struct scenario *sc, struct rng *r);
void sc_chan_round(struct scenario *sc, struct rng *r);
void sc_try_round(struct scenario *sc, struct rng *r);
void sc_close_round(struct scenario *sc, struct rng *r);
void sc_select_round(struct scenario *sc, struct rng *r);
void sc_timer_round(struct scenario *sc, struct rng *r);
void sc_ctx_round(struct scenario *sc, struct rng *r);
void sc_mutex_round(struct scenario *sc, struct rng *r);
void sc_wg_round(struct scenario *sc, struct rng *r);
void sc_once_round(struct scenario *sc, struct rng *r);
void sc_group_round(struct scenario *sc, struct rng *r);

#endif
