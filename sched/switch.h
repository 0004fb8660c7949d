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

/* Save the running context into *from and resume *to. */
void weft__switch(struct weft__frame *from, struct weft__frame *to);

/* Prepare *f so that switching to it runs entry() on the stack
 * [stack_lo, stack_lo + size). */
void weft__frame_init(struct weft__frame *f, void *stack_lo, size_t size, void (*entry)(void));

#endif
