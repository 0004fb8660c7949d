/*
 * switch.h — the machine-dependent context switch (sched/arch/).
 *
 * weft__switch(from, to) saves the callee-saved state of the running context
 * into *from and resumes *to.  A fresh frame built by weft__frame_init
 * starts at entry(), which must never return.
 *
 * The assembly variants keep only a stack pointer in the frame: the
 * registers themselves are pushed on the stack being left, so a switch is a
 * handful of instructions.  The ucontext fallback (WEFT_SWITCH=ucontext)
 * stores a whole ucontext_t.
 */
#ifndef WEFT_SCHED_SWITCH_H
#define WEFT_SCHED_SWITCH_H

#include <stddef.h>

#if defined(WEFT_SWITCH_UCONTEXT)
#include <ucontext.h>
struct weft__frame {
    ucontext_t uc;
};
#else
struct weft__frame {
    void *sp; /* saved stack pointer; the registers live on that stack */
};
/* The assembly stores the stack pointer at offset 0 of the frame. */
_Static_assert(offsetof(struct weft__frame, sp) == 0, "asm expects sp at offset 0");
#endif

/* Where a suspended context stands, read from its saved frame, for task
 * backtraces (sched/diag/backtrace.c): the address it resumes at, its frame
 * pointer (the head of its frame-record chain) and its stack pointer.  The
 * frame may belong to a task that is being resumed or whose stack is being
 * reused right now: with the asm switches the registers are read from the
 * stack at f->sp, only if that lies inside [lo, hi); false otherwise.  The
 * caller validates every value it gets and re-checks the task's state
 * afterwards. */
#include <stdbool.h>
#include <stdint.h>
struct weft__frame_regs {
    uintptr_t pc, fp, sp;
};
bool weft__frame_regs(const struct weft__frame *f, uintptr_t lo, uintptr_t hi,
                      struct weft__frame_regs *r);

/* A return address as saved in a frame record, with any pointer
 * authentication code removed (aarch64 xpaclri: a no-op without PAC). */
static inline uintptr_t weft__pc_strip(uintptr_t pc)
{
#if defined(__aarch64__)
    register uintptr_t lr __asm__("x30") = pc;
    __asm__("hint #7" : "+r"(lr));
    return lr;
#else
    return pc;
#endif
}

/* Functions that read another context's stack: it may be poisoned for
 * AddressSanitizer (stale redzones below a frame) or written concurrently
 * (ThreadSanitizer), and both are expected and validated by the reader. */
#if defined(__clang__)
#define WEFT__NO_SANITIZE __attribute__((no_sanitize("address", "thread"), noinline))
#else
#define WEFT__NO_SANITIZE __attribute__((no_sanitize_address, no_sanitize_thread, noinline))
#endif

/* Save the running context into *from and resume *to. */
void weft__switch(struct weft__frame *from, struct weft__frame *to);
/* Resume *to without saving the running context, which must never run
 * again (a task that returned). */
__attribute__((noreturn)) void weft__jump(struct weft__frame *to);

/* Prepare *f so that switching to it runs entry() on the stack
 * [stack_lo, stack_lo + size). */
void weft__frame_init(struct weft__frame *f, void *stack_lo, size_t size, void (*entry)(void));

#endif
