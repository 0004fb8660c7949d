/*
 * test_arch.c — what the machine-dependent context switch (sched/arch/)
 * must preserve, checked on whatever architecture the tests are built for
 * (x86-64 natively, aarch64 under qemu-user in .ci/aarch64.sh), with
 * either switch variant (WEFT_SWITCH=asm or ucontext).
 *
 *  - Callee-saved registers survive a switch: an assembly helper loads
 *    every callee-saved register of the ABI with a per-task pattern, calls
 *    weft_yield / weft_sleep, and compares (x86-64: rbx, rbp, r12-r15;
 *    aarch64: x19-x28, d8-d15).  Other tasks load other patterns meanwhile.
 *  - Floating-point control is per task: tasks in different rounding modes
 *    (and one with flush-to-zero) interleave on the same workers and each
 *    still computes in its own mode (FPCR on aarch64, MXCSR + x87 control
 *    word on x86-64).
 *  - Deep recursion keeps floating-point and integer values live in
 *    callee-saved registers across weft_yield at every level.
 *  - A task migrating between 2 workers keeps its id and errno, and sees
 *    the thread-local storage of the thread it is on now.  Every read of
 *    thread state after a switch goes through a non-inlined function: glibc
 *    declares __errno_location and pthread_self const, so a direct read
 *    could legally be hoisted above the switch by the compiler.
 *  - Many tasks x many switches: per-task checksums match a switch-free
 *    recomputation.
 *  - A fresh task starts with a 16-byte aligned stack, default rounding
 *    (assembly switch), and a stack that unwinders can walk to its end.
 *
 * WEFT_ARCH_SCALE (percent, default 100) scales the iteration counts; the
 * aarch64 CI leg runs under emulation.  Every case runs in one runtime with
 * exactly 2 workers.
 */
#include "testutil.h"

#include <execinfo.h>
#include <fenv.h>
#include <float.h>
#include <math.h>

/* ================================================================== */
/* Sizes                                                               */
/* ================================================================== */

static unsigned scale_pct = 100;

/* base * WEFT_ARCH_SCALE / 100, at least min. */
static unsigned scaled(unsigned base, unsigned min)
{
    uint64_t n = (uint64_t)base * scale_pct / 100;
    return n < min ? min : (unsigned)n;
}

/* Spawn fn(arg_i) n times with a given stack size, wait for all. */
struct spawn_arg {
    void (*fn)(void *);
    void *arg;
    weft_chan *done;
};

static void spawn_trampoline(void *p)
{
    struct spawn_arg *a = p;
    a->fn(a->arg);
    WT_CHECK_INT_EQ(weft_chan_send(a->done, NULL), 0);
}

static void run_tasks(unsigned n, void (*fn)(void *), void *args, size_t arg_size,
                      size_t stack_size)
{
    weft_chan *done = weft_chan_make(0, n);
    assert_non_null(done);
    struct spawn_arg *sa = calloc(n, sizeof *sa);
    assert_non_null(sa);
    struct weft_task_opts o = {.name = "arch", .stack_size = stack_size};
    for (unsigned i = 0; i < n; i++) {
        sa[i] = (struct spawn_arg){fn, (char *)args + (size_t)i * arg_size, done};
        assert_int_equal(weft_go_opts(&o, spawn_trampoline, &sa[i]), 0);
    }
    /* Emulated runs are slow: a generous bound (ctest's timeout is the
     * real one), not testutil's liveness bound. */
    int64_t dl = weft_deadline(600 * WEFT_SEC);
    unsigned got = 0;
    while (got < n) {
        weft_case cs[1] = {WEFT_CASE_RECV(done, NULL)};
        if (weft_select(cs, 1, dl) != 0 || !cs[0].ok)
            break;
        got++;
    }
    assert_int_equal(got, n);
    weft_chan_release(done);
    free(sa);
}

/* ================================================================== */
/* Thread state read through calls the compiler cannot merge           */
/* ================================================================== */

__attribute__((noinline)) static pthread_t cur_thread(void)
{
    __asm__ __volatile__("" ::: "memory");
    return pthread_self();
}

__attribute__((noinline)) static void set_errno(int e)
{
    __asm__ __volatile__("" ::: "memory");
    errno = e;
}

static __thread pthread_t tls_owner;
static __thread int tls_owner_set;

/* This thread's TLS record, filled on first use with its own identity. */
__attribute__((noinline)) static pthread_t tls_owner_get(void)
{
    __asm__ __volatile__("" ::: "memory");
    if (!tls_owner_set) {
        tls_owner = pthread_self();
        tls_owner_set = 1;
    }
    return tls_owner;
}

/* The two ways a task gives up its worker: requeued, or parked on a timer
 * (woken by whichever worker runs the timer). */
static void switch_yield(void) { weft_yield(); }
static void switch_sleep(void) { weft_sleep(20 * WEFT_US); }

/* ================================================================== */
/* 1. Callee-saved registers, checked in assembly                      */
/* ================================================================== */

/* uint64_t wt_regs_roundtrip(void (*fn)(void), uint64_t seed):
 * loads every callee-saved register with seed + k * 0x0101010101010101
 * (k = 1, 2, ...), calls fn, and returns the OR of (register ^ expected)
 * over all of them: 0 when every one survived. */
#if defined(__x86_64__)
#define WT_HAVE_REGS_ROUNDTRIP 1
__asm__(".text\n"
        ".p2align 4\n"
        ".type wt_regs_roundtrip, @function\n"
        "wt_regs_roundtrip:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq  $8, %rsp\n"              /* aligned for the call; holds seed */
        "    movq  %rsi, (%rsp)\n"
        "    movabsq $0x0101010101010101, %rax\n"
        "    leaq  (%rsi,%rax), %rbx\n"
        "    leaq  (%rbx,%rax), %rbp\n"
        "    leaq  (%rbp,%rax), %r12\n"
        "    leaq  (%r12,%rax), %r13\n"
        "    leaq  (%r13,%rax), %r14\n"
        "    leaq  (%r14,%rax), %r15\n"
        "    callq *%rdi\n"
        "    movq  (%rsp), %rdx\n"          /* expected value, stepped by k */
        "    movabsq $0x0101010101010101, %rcx\n"
        "    xorl  %eax, %eax\n"
        "    addq  %rcx, %rdx\n    movq %rbx, %rsi\n    xorq %rdx, %rsi\n    orq %rsi, %rax\n"
        "    addq  %rcx, %rdx\n    movq %rbp, %rsi\n    xorq %rdx, %rsi\n    orq %rsi, %rax\n"
        "    addq  %rcx, %rdx\n    movq %r12, %rsi\n    xorq %rdx, %rsi\n    orq %rsi, %rax\n"
        "    addq  %rcx, %rdx\n    movq %r13, %rsi\n    xorq %rdx, %rsi\n    orq %rsi, %rax\n"
        "    addq  %rcx, %rdx\n    movq %r14, %rsi\n    xorq %rdx, %rsi\n    orq %rsi, %rax\n"
        "    addq  %rcx, %rdx\n    movq %r15, %rsi\n    xorq %rdx, %rsi\n    orq %rsi, %rax\n"
        "    addq  $8, %rsp\n"
        "    popq  %r15\n"
        "    popq  %r14\n"
        "    popq  %r13\n"
        "    popq  %r12\n"
        "    popq  %rbx\n"
        "    popq  %rbp\n"
        "    ret\n"
        ".size wt_regs_roundtrip, .-wt_regs_roundtrip\n");
#elif defined(__aarch64__)
#define WT_HAVE_REGS_ROUNDTRIP 1
#define WT_A64_CHECK_X(r) "    add x10, x10, x9\n    eor x11, " r ", x10\n    orr x0, x0, x11\n"
#define WT_A64_CHECK_D(r) \
    "    add x10, x10, x9\n    fmov x11, " r "\n    eor x11, x11, x10\n    orr x0, x0, x11\n"
#define WT_A64_LOAD_D(r) "    add x10, x10, x9\n    fmov " r ", x10\n"
__asm__(".text\n"
        ".p2align 4\n"
        ".type wt_regs_roundtrip, %function\n"
        "wt_regs_roundtrip:\n"
        "    hint #34\n"                    /* bti c (a nop without BTI) */
        "    stp x29, x30, [sp, #-176]!\n"
        "    mov x29, sp\n"
        "    stp x19, x20, [sp, #16]\n"
        "    stp x21, x22, [sp, #32]\n"
        "    stp x23, x24, [sp, #48]\n"
        "    stp x25, x26, [sp, #64]\n"
        "    stp x27, x28, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    str x1, [sp, #160]\n"
        "    mov x9, #0x0101010101010101\n"
        "    add x19, x1, x9\n"
        "    add x20, x19, x9\n"
        "    add x21, x20, x9\n"
        "    add x22, x21, x9\n"
        "    add x23, x22, x9\n"
        "    add x24, x23, x9\n"
        "    add x25, x24, x9\n"
        "    add x26, x25, x9\n"
        "    add x27, x26, x9\n"
        "    add x28, x27, x9\n"
        "    mov x10, x28\n"
        WT_A64_LOAD_D("d8") WT_A64_LOAD_D("d9") WT_A64_LOAD_D("d10") WT_A64_LOAD_D("d11")
        WT_A64_LOAD_D("d12") WT_A64_LOAD_D("d13") WT_A64_LOAD_D("d14") WT_A64_LOAD_D("d15")
        "    blr x0\n"
        "    ldr x10, [sp, #160]\n"
        "    mov x9, #0x0101010101010101\n"
        "    mov x0, #0\n"
        WT_A64_CHECK_X("x19") WT_A64_CHECK_X("x20") WT_A64_CHECK_X("x21")
        WT_A64_CHECK_X("x22") WT_A64_CHECK_X("x23") WT_A64_CHECK_X("x24")
        WT_A64_CHECK_X("x25") WT_A64_CHECK_X("x26") WT_A64_CHECK_X("x27")
        WT_A64_CHECK_X("x28")
        WT_A64_CHECK_D("d8") WT_A64_CHECK_D("d9") WT_A64_CHECK_D("d10") WT_A64_CHECK_D("d11")
        WT_A64_CHECK_D("d12") WT_A64_CHECK_D("d13") WT_A64_CHECK_D("d14") WT_A64_CHECK_D("d15")
        "    ldp d14, d15, [sp, #144]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp x27, x28, [sp, #80]\n"
        "    ldp x25, x26, [sp, #64]\n"
        "    ldp x23, x24, [sp, #48]\n"
        "    ldp x21, x22, [sp, #32]\n"
        "    ldp x19, x20, [sp, #16]\n"
        "    ldp x29, x30, [sp], #176\n"
        "    ret\n"
        ".size wt_regs_roundtrip, .-wt_regs_roundtrip\n");
#endif

#ifdef WT_HAVE_REGS_ROUNDTRIP
uint64_t wt_regs_roundtrip(void (*fn)(void), uint64_t seed);

struct regs_arg {
    unsigned idx, rounds;
    uint64_t bad;
};

static void regs_task(void *p)
{
    struct regs_arg *a = p;
    for (unsigned r = 0; r < a->rounds; r++) {
        uint64_t seed = ((uint64_t)a->idx << 48) ^ ((uint64_t)r << 20) ^ 0x5a5a;
        a->bad |= wt_regs_roundtrip(r % 4 == 3 ? switch_sleep : switch_yield, seed);
    }
}
#endif

/* Every callee-saved register keeps its value across weft_yield and
 * weft_sleep while other tasks load different values into them. */
static void test_callee_saved_registers_survive_switches(void **state)
{
    (void)state;
#ifdef WT_HAVE_REGS_ROUNDTRIP
    WT_LEAK_BEGIN();
    /* Sanity: the helper itself, on this plain thread. */
    assert_int_equal(wt_regs_roundtrip(switch_yield, 42), 0);
    enum { N = 8 };
    struct regs_arg a[N];
    for (unsigned i = 0; i < N; i++)
        a[i] = (struct regs_arg){i + 1, scaled(5000, 20), 0};
    run_tasks(N, regs_task, a, sizeof a[0], 0);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(a[i].bad, 0);
    WT_LEAK_END();
#else
    skip();
#endif
}

/* ================================================================== */
/* 2. Floating-point control is per task                               */
/* ================================================================== */

/* Flush-to-zero, set through the architecture's control register. */
static void set_flush_to_zero(bool on)
{
#if defined(__aarch64__)
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? (fpcr | (1u << 24)) : (fpcr & ~(uint64_t)(1u << 24)); /* FPCR.FZ */
    __asm__ __volatile__("msr fpcr, %0" ::"r"(fpcr));
#elif defined(__x86_64__)
    unsigned mxcsr;
    __asm__ __volatile__("stmxcsr %0" : "=m"(mxcsr));
    mxcsr = on ? (mxcsr | 0x8040u) : (mxcsr & ~0x8040u); /* FTZ | DAZ */
    __asm__ __volatile__("ldmxcsr %0" ::"m"(mxcsr));
#else
    (void)on;
#endif
}

/* 1/3 in the current rounding mode, DBL_MIN/4 (a subnormal, or 0 under
 * flush-to-zero); volatile so each call really computes. */
__attribute__((noinline)) static double third(void)
{
    volatile double one = 1.0, three = 3.0;
    return one / three;
}
__attribute__((noinline)) static double subnormal(void)
{
    volatile double m = DBL_MIN, q = 4.0;
    return m / q;
}

static const int fp_modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
#define FP_NMODES 5 /* the 4 rounding modes, and nearest + flush-to-zero */

struct fp_arg {
    unsigned idx, rounds;
    double want_third, want_sub;
};

static void fp_task(void *p)
{
    struct fp_arg *a = p;
    unsigned m = a->idx % FP_NMODES;
    int mode = fp_modes[m % 4];
    WT_CHECK_INT_EQ(fesetround(mode), 0);
    set_flush_to_zero(m == 4);
    for (unsigned r = 0; r < a->rounds; r++) {
        if (r % 8 == 7)
            switch_sleep();
        else
            switch_yield();
        WT_CHECK_INT_EQ(fegetround(), mode);
        double t = third(), s = subnormal();
        WT_CHECK_MSG(t == a->want_third, "task %u mode %u round %u: 1/3 = %a, want %a", a->idx,
                     m, r, t, a->want_third);
        WT_CHECK_MSG(s == a->want_sub, "task %u mode %u round %u: DBL_MIN/4 = %a, want %a",
                     a->idx, m, r, s, a->want_sub);
    }
    /* Leave the worker as we found it (the switch would anyway). */
    fesetround(FE_TONEAREST);
    set_flush_to_zero(false);
}

/* Tasks in different rounding modes (and one flushing subnormals to zero)
 * interleave on the same workers; each keeps its own mode. */
static void test_fp_control_is_per_task(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    /* The expected results, computed here on the test thread. */
    double want_third[FP_NMODES], want_sub[FP_NMODES];
    for (unsigned m = 0; m < FP_NMODES; m++) {
        assert_int_equal(fesetround(fp_modes[m % 4]), 0);
        set_flush_to_zero(m == 4);
        want_third[m] = third();
        want_sub[m] = subnormal();
    }
    fesetround(FE_TONEAREST);
    set_flush_to_zero(false);
    /* The modes must be distinguishable, or the test proves nothing. */
    assert_true(want_third[1] > want_third[2]);           /* up > down */
    assert_true(want_third[3] == want_third[2]);          /* toward zero = down (positive) */
    assert_true(want_sub[0] > 0 && want_sub[0] < DBL_MIN); /* subnormal */
#if defined(__aarch64__) || defined(__x86_64__)
    assert_true(want_sub[4] == 0); /* flushed */
#endif

    enum { N = 10 }; /* two tasks per mode */
    struct fp_arg a[N];
    for (unsigned i = 0; i < N; i++)
        a[i] = (struct fp_arg){i, scaled(5000, 20), want_third[i % FP_NMODES],
                               want_sub[i % FP_NMODES]};
    run_tasks(N, fp_task, a, sizeof a[0], 0);
    /* This thread's mode was never touched by the tasks. */
    assert_int_equal(fegetround(), FE_TONEAREST);
    WT_LEAK_END();
}

/* ================================================================== */
/* 3. Deep recursion with values live in callee-saved registers        */
/* ================================================================== */

struct deep_arg {
    unsigned idx, depth, rounds;
    double got, want;
};

/* Ten doubles and six integers are live across the switch and across the
 * recursive call, more than fit in caller-saved registers: the compiler
 * keeps them in d8-d15 / x19-x28 (rbx, rbp, r12-r15) and spills the rest. */
__attribute__((noinline)) static double deep(unsigned depth, double a, double b, uint64_t s,
                                             bool do_switch)
{
    double f0 = a * 1.5 + depth, f1 = b - depth * 0.25, f2 = a * b, f3 = a + 3.0 * b;
    double f4 = f0 * f1, f5 = f2 - f3, f6 = sqrt(fabs(f4) + 1.0), f7 = f5 / (f6 + 2.0);
    double f8 = f6 * f7 + a, f9 = f8 - f0 * 0.5;
    uint64_t g0 = s ^ depth, g1 = s * 31 + depth, g2 = s >> 7, g3 = g0 + g1, g4 = g2 ^ g3;
    uint64_t g5 = g4 * 0x9E3779B97F4A7C15ull;
    if (do_switch) {
        if (depth % 16 == 15)
            switch_sleep();
        else
            switch_yield();
    }
    /* The arguments stay bounded (|a|, |b| < 4), so nothing overflows. */
    double r = depth ? deep(depth - 1, 1.0 + (depth & 3) * 0.5 + f7 * 1e-4,
                            f6 * 1e-4 - 0.5 + (double)(g5 >> 62), g5 + depth, do_switch)
                     : 0.0;
    double fs = f0 + f1 + f2 + f3 + f4 + f5 + f6 + f7 + f8 + f9;
    uint64_t gs = g0 ^ g1 ^ g2 ^ g3 ^ g4 ^ g5;
    return r * 0.5 + fs * 1e-6 + (double)(gs >> 44);
}

static void deep_task(void *p)
{
    struct deep_arg *a = p;
    for (unsigned r = 0; r < a->rounds; r++) {
        double got = deep(a->depth, 1.0 + a->idx, 2.0 - a->idx * 0.125, a->idx * 1000003ull + r,
                          true);
        double want = deep(a->depth, 1.0 + a->idx, 2.0 - a->idx * 0.125,
                           a->idx * 1000003ull + r, false);
        if (got != want || r == 0) {
            a->got = got;
            a->want = want;
            if (got != want)
                break;
        }
    }
}

/* A recursion 200 frames deep, switching at every level, computes exactly
 * what it computes without switching, in several tasks at once. */
static void test_deep_recursion_keeps_fp_callee_saved(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    enum { N = 6 };
    struct deep_arg a[N];
    for (unsigned i = 0; i < N; i++)
        a[i] = (struct deep_arg){i, 200, scaled(20, 1), 0, 0};
    run_tasks(N, deep_task, a, sizeof a[0], 512 * 1024);
    for (unsigned i = 0; i < N; i++) {
        if (a[i].got != a[i].want)
            fail_msg("task %u: %a with switches, %a without", i, a[i].got, a[i].want);
        /* Distinct tasks computed distinct values (no register leaked
         * between them and happened to be right). */
        assert_true(isfinite(a[i].want));
        if (i > 0)
            assert_true(a[i].want != a[i - 1].want);
    }
    WT_LEAK_END();
}

/* ================================================================== */
/* 4. Migration between workers                                        */
/* ================================================================== */

static atomic_uint_fast64_t migrations;

struct mig_arg {
    unsigned idx, min_iters, max_iters;
    int64_t deadline;
    unsigned moved;
};

static void mig_task(void *p)
{
    struct mig_arg *a = p;
    uint64_t me = weft_self();
    WT_CHECK(me != 0);
    pthread_t prev = cur_thread();
    WT_CHECK(pthread_equal(tls_owner_get(), prev));
    for (unsigned i = 0; i < a->max_iters; i++) {
        /* At least min_iters; more only until some task has moved. */
        if (i >= a->min_iters && (atomic_load(&migrations) >= 4 || weft_now() > a->deadline))
            break;
        int e = 1000 + (int)(a->idx * 97 + i % 89);
        set_errno(e);
        if (i % 5 == 4)
            switch_sleep();
        else
            switch_yield();
        int got_errno = wt_errno();
        uint64_t self = weft_self();
        pthread_t now = cur_thread();
        pthread_t owner = tls_owner_get();
        WT_CHECK_INT_EQ(got_errno, e);
        WT_CHECK_INT_EQ(self, me);
        WT_CHECK_MSG(pthread_equal(owner, now),
                     "task %u iteration %u: TLS belongs to another thread", a->idx, i);
        if (!pthread_equal(now, prev)) {
            a->moved++;
            atomic_fetch_add(&migrations, 1);
        }
        prev = now;
    }
}

/* Tasks that keep yielding and sleeping on 2 workers move between them;
 * each keeps its id and errno and always sees the TLS of the thread it is
 * on. */
static void test_migration_keeps_errno_id_and_tls(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    atomic_store(&migrations, 0);
    enum { N = 6 };
    struct mig_arg a[N];
    for (unsigned i = 0; i < N; i++)
        a[i] = (struct mig_arg){.idx = i, .min_iters = scaled(2000, 50),
                                .max_iters = scaled(2000, 50) * 50,
                                .deadline = weft_deadline(120 * WEFT_SEC)};
    int saved = errno;
    run_tasks(N, mig_task, a, sizeof a[0], 0);
    errno = saved;
    unsigned moved = 0;
    for (unsigned i = 0; i < N; i++)
        moved += a[i].moved;
    print_message("migration: %u moves in %u tasks\n", moved, (unsigned)N);
    /* With 2 workers and 6 busy tasks, tasks are stolen: if none ever
     * moved, the test did not test migration. */
    assert_true(moved > 0);
    WT_LEAK_END();
}

/* ================================================================== */
/* 5. Many tasks x many switches                                       */
/* ================================================================== */

struct sum_arg {
    unsigned idx, switches;
    uint64_t sum;
    double fsum;
};

static uint64_t lcg_step(uint64_t x, unsigned idx)
{
    return x * 6364136223846793005ull + (2ull * idx + 1);
}

static void sum_task(void *p)
{
    struct sum_arg *a = p;
    uint64_t x = a->idx, sum = 0;
    double f = a->idx * 0.5;
    for (unsigned i = 0; i < a->switches; i++) {
        x = lcg_step(x, a->idx);
        f = f * 0.999 + (double)(x >> 52);
        if (i % 97 == 96)
            switch_sleep();
        else
            switch_yield();
        sum += x ^ (sum << 1);
    }
    a->sum = sum;
    a->fsum = f;
}

/* 64 tasks x 5000 switches: every task's checksum (integer and floating
 * point, carried across every switch) matches a switch-free run. */
static void test_many_tasks_many_switches_checksum(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    enum { N = 64 };
    static struct sum_arg a[N];
    unsigned sw = scaled(5000, 20);
    for (unsigned i = 0; i < N; i++)
        a[i] = (struct sum_arg){i, sw, 0, 0};
#ifdef WEFT_TEST_HAVE_STATS
    struct weft_stats before, after;
    assert_int_equal(weft_stats(&before), 0);
#endif
    run_tasks(N, sum_task, a, sizeof a[0], 0);
#ifdef WEFT_TEST_HAVE_STATS
    assert_int_equal(weft_stats(&after), 0);
#endif
    for (unsigned i = 0; i < N; i++) {
        uint64_t x = i, sum = 0;
        double f = i * 0.5;
        for (unsigned k = 0; k < sw; k++) {
            x = lcg_step(x, i);
            f = f * 0.999 + (double)(x >> 52);
            sum += x ^ (sum << 1);
        }
        assert_int_equal(a[i].sum, sum);
        if (a[i].fsum != f)
            fail_msg("task %u: fsum %a, want %a", i, a[i].fsum, f);
    }
#ifdef WEFT_TEST_HAVE_STATS
    /* Coverage guard: the checksums above were carried across real
     * switches.  Each sleep, and each yield while another task is runnable
     * on its worker, is a switch out; a yield with nothing else to run
     * returns at once (sched/park.c), which happens only as the last tasks
     * finish, and when the tasks happen to spread so that a worker has one
     * runnable at a time (a loaded machine, TSan): an eighth of the
     * N * sw calls still proves the sums crossed real switches. */
    assert_true(after.switches - before.switches >= (uint64_t)N * sw / 8);
#endif
    WT_LEAK_END();
}

/* ================================================================== */
/* 6. A fresh task's first frame                                       */
/* ================================================================== */

struct fresh_arg {
    int round_mode;
    uintptr_t aligned_addr;
    int bt_depth;
};

__attribute__((noinline)) static uintptr_t aligned_local_addr(void)
{
    /* A 16-aligned local: its address is only 16-aligned if sp is. */
    _Alignas(16) volatile char buf[16];
    buf[0] = 1;
    volatile uintptr_t addr = (uintptr_t)buf; /* the number, not a pointer to keep */
    return addr;
}

static void fresh_task(void *p)
{
    struct fresh_arg *a = p;
    a->round_mode = fegetround();
    a->aligned_addr = aligned_local_addr();
    void *bt[256];
    a->bt_depth = backtrace(bt, 256); /* must reach the end of the stack */
}

static void spawner_task(void *p)
{
    /* Spawn from a task running in another rounding mode. */
    fesetround(FE_UPWARD);
    run_tasks(1, fresh_task, p, 0, 256 * 1024);
    fesetround(FE_TONEAREST);
}

/* A new task starts on a 16-byte aligned stack that unwinders can walk to
 * its end, in round-to-nearest even when spawned from a task in another
 * mode (assembly switch; the ucontext fallback inherits the spawning
 * thread's floating-point environment, as getcontext captures it). */
static void test_fresh_task_frame(void **state)
{
    (void)state;
    WT_LEAK_BEGIN();
    struct fresh_arg a = {-1, 1, -1};
    run_tasks(1, spawner_task, &a, 0, 256 * 1024);
    assert_int_equal(a.aligned_addr % 16, 0);
    assert_true(a.bt_depth > 0 && a.bt_depth < 256);
#ifndef WT_SWITCH_UCONTEXT
    assert_int_equal(a.round_mode, FE_TONEAREST);
#endif
    WT_LEAK_END();
}

/* ================================================================== */

static int group_setup(void **state)
{
    (void)state;
    const char *s = getenv("WEFT_ARCH_SCALE");
    if (s && *s) {
        unsigned long v = strtoul(s, NULL, 10);
        scale_pct = v ? (unsigned)v : 1;
    }
    struct weft_config cfg = {.workers = 2};
    int rc = weft_init(&cfg);
    if (rc != 0) {
        fprintf(stderr, "weft_init(workers=2) = %d\n", rc);
        return -1;
    }
#ifdef WEFT_TEST_HAVE_STATS
    struct weft_stats st;
    if (weft_stats(&st) == 0 && st.workers != 2) {
        fprintf(stderr, "expected 2 workers, have %llu\n", (unsigned long long)st.workers);
        return -1;
    }
#endif
    print_message("test_arch: WEFT_ARCH_SCALE=%u%%, 2 workers\n", scale_pct);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callee_saved_registers_survive_switches),
        cmocka_unit_test(test_fp_control_is_per_task),
        cmocka_unit_test(test_deep_recursion_keeps_fp_callee_saved),
        cmocka_unit_test(test_migration_keeps_errno_id_and_tls),
        cmocka_unit_test(test_many_tasks_many_switches_checksum),
        cmocka_unit_test(test_fresh_task_frame),
    };
    return cmocka_run_group_tests(tests, group_setup, wt_group_teardown);
}
