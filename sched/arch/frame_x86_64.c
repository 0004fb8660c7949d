/*
 * frame_x86_64.c — builds the first frame of a task for
 * switch_x86_64_sysv.S (see the diagram there).
 */
#include <stdint.h>
#include <string.h>

#include "../switch.h"

enum {
    WEFT__X86_FRAME_SIZE = 64,   /* control words + 6 GPRs + return address */
    WEFT__X86_RET_SLOT = 56,     /* offset of the return address */
    WEFT__X86_RBP_SLOT = 48,     /* offset of the saved rbp */
    WEFT__X86_MXCSR_DEFAULT = 0x1F80, /* all exceptions masked, round to nearest */
    WEFT__X86_FCW_DEFAULT = 0x037F,   /* x87: extended precision, all masked */
};

void weft__frame_init(struct weft__frame *f, void *stack_lo, size_t size, void (*entry)(void))
{
    uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
    /* entry() must see rsp % 16 == 8, as after a call: the slot at top - 8
     * is its (null) return address, which also ends backtraces. */
    uintptr_t sp = top - 8 - WEFT__X86_FRAME_SIZE;
    unsigned char *frame = (unsigned char *)sp;
    memset(frame, 0, WEFT__X86_FRAME_SIZE + 8);
    uint32_t mxcsr = WEFT__X86_MXCSR_DEFAULT;
    uint16_t fcw = WEFT__X86_FCW_DEFAULT;
    memcpy(frame + 0, &mxcsr, sizeof mxcsr);
    memcpy(frame + 4, &fcw, sizeof fcw);
    void (*ret)(void) = entry;
    memcpy(frame + WEFT__X86_RET_SLOT, &ret, sizeof ret);
    f->sp = (void *)sp;
}

WEFT__NO_SANITIZE bool weft__frame_regs(const struct weft__frame *f, uintptr_t lo, uintptr_t hi,
                                        struct weft__frame_regs *r)
{
    uintptr_t sp = (uintptr_t)*(void *const volatile *)&f->sp;
    if (sp < lo || sp % 8 || hi - sp < WEFT__X86_FRAME_SIZE || sp > hi)
        return false;
    const volatile uintptr_t *slot = (const volatile uintptr_t *)sp;
    r->fp = slot[WEFT__X86_RBP_SLOT / 8];
    r->pc = slot[WEFT__X86_RET_SLOT / 8];
    r->sp = sp + WEFT__X86_FRAME_SIZE; /* as after the switch's ret */
    return true;
}
