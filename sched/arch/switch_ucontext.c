/*
 * switch_ucontext.c — portable fallback (WEFT_SWITCH=ucontext).
 *
 * swapcontext also saves and restores the signal mask with a system call,
 * so this is several times slower than the assembly; it exists for new
 * architectures and for debugging the assembly.
 */
#include <stdlib.h>
#include <ucontext.h>

#include "../switch.h"

void weft__switch(struct weft__frame *from, struct weft__frame *to)
{
    if (swapcontext(&from->uc, &to->uc) != 0)
        abort(); /* cannot fail with valid contexts */
}

void weft__frame_init(struct weft__frame *f, void *stack_lo, size_t size, void (*entry)(void))
{
    if (getcontext(&f->uc) != 0)
        abort();
    f->uc.uc_stack.ss_sp = stack_lo;
    f->uc.uc_stack.ss_size = size;
    f->uc.uc_link = NULL;
    makecontext(&f->uc, entry, 0);
}
