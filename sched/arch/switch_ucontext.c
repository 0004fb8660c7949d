/*
 * switch_ucontext.c — portable fallback (WEFT_SWITCH=ucontext).
 *
 * swapcontext also saves and restores the signal mask with a system call,
 * so this is several times slower than the assembly; it exists for new
 * architectures and for debugging the assembly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "../switch.h"

void weft__switch(struct weft__frame *from, struct weft__frame *to)
{
    if (swapcontext(&from->uc, &to->uc) != 0)
        abort(); /* cannot fail with valid contexts */
}

void weft__jump(struct weft__frame *to)
{
    setcontext(&to->uc);
    abort(); /* setcontext returns only on error */
}

void weft__frame_init(struct weft__frame *f, void *stack_lo, size_t size, void (*entry)(void))
{
    if (getcontext(&f->uc) != 0)
        abort();
    f->uc.uc_stack.ss_sp = stack_lo;
    f->uc.uc_stack.ss_size = size;
    f->uc.uc_link = NULL;
    makecontext(&f->uc, entry, 0);
    /* getcontext left the spawner's frame pointer: a null one ends the new
     * task's frame-record chain at entry() (as the asm switches do). */
#if defined(__x86_64__)
    f->uc.uc_mcontext.gregs[REG_RBP] = 0;
#elif defined(__aarch64__)
    f->uc.uc_mcontext.regs[29] = 0;
#endif
}

WEFT__NO_SANITIZE bool weft__frame_regs(const struct weft__frame *f, uintptr_t lo, uintptr_t hi,
                                        struct weft__frame_regs *r)
{
    (void)lo;
    (void)hi;
    const volatile mcontext_t *m = &f->uc.uc_mcontext;
#if defined(__x86_64__)
    r->pc = (uintptr_t)m->gregs[REG_RIP];
    r->fp = (uintptr_t)m->gregs[REG_RBP];
    r->sp = (uintptr_t)m->gregs[REG_RSP];
    return true;
#elif defined(__aarch64__)
    r->pc = weft__pc_strip((uintptr_t)m->pc);
    r->fp = (uintptr_t)m->regs[29];
    r->sp = (uintptr_t)m->sp;
    return true;
#else
    (void)m;
    return false; /* no backtraces on this architecture */
#endif
}
