/*
 * frame_aarch64.c — the switch frame layout for AArch64 (AAPCS64), and the
 * first frame of a task for switch_aarch64_aapcs.S (see the diagram there).
 *
 * The layout constants below are the single definition shared by C and
 * assembly: switch_aarch64_aapcs.S #includes this file with __ASSEMBLER__
 * defined and sees only this block of #defines.  Keep it free of C.
 */
#define WEFT__A64_OFF_X19 0     /* x19, x20 (one stp/ldp pair) */
#define WEFT__A64_OFF_X21 16    /* x21, x22 */
#define WEFT__A64_OFF_X23 32    /* x23, x24 */
#define WEFT__A64_OFF_X25 48    /* x25, x26 */
#define WEFT__A64_OFF_X27 64    /* x27, x28 */
#define WEFT__A64_OFF_FP 80     /* x29 (fp), x30 (lr): where the switch returns to */
#define WEFT__A64_OFF_D8 96     /* d8, d9 */
#define WEFT__A64_OFF_D10 112   /* d10, d11 */
#define WEFT__A64_OFF_D12 128   /* d12, d13 */
#define WEFT__A64_OFF_D14 144   /* d14, d15 */
#define WEFT__A64_OFF_FPCR 160  /* FPCR (64-bit slot), then 8 bytes of padding */
#define WEFT__A64_FRAME_SIZE 176 /* a multiple of 16: sp stays aligned */
#define WEFT__A64_OFF_LR (WEFT__A64_OFF_FP + 8)

#ifndef __ASSEMBLER__

#include <stdint.h>
#include <string.h>

#include "../switch.h"

/* The assembly relies on these: every pair is 16 bytes after the previous
 * one (no gaps, no overlap), stp/ldp immediates are multiples of 8 within
 * [0, 504], and the frame keeps sp 16-byte aligned (AAPCS64 requires it at
 * every memory access through sp). */
_Static_assert(WEFT__A64_OFF_X19 == 0, "frame starts with x19 at the saved sp");
_Static_assert(WEFT__A64_OFF_X21 == WEFT__A64_OFF_X19 + 16, "x21 pair follows x19 pair");
_Static_assert(WEFT__A64_OFF_X23 == WEFT__A64_OFF_X21 + 16, "x23 pair follows x21 pair");
_Static_assert(WEFT__A64_OFF_X25 == WEFT__A64_OFF_X23 + 16, "x25 pair follows x23 pair");
_Static_assert(WEFT__A64_OFF_X27 == WEFT__A64_OFF_X25 + 16, "x27 pair follows x25 pair");
_Static_assert(WEFT__A64_OFF_FP == WEFT__A64_OFF_X27 + 16, "fp/lr pair follows x27 pair");
_Static_assert(WEFT__A64_OFF_LR == WEFT__A64_OFF_FP + 8, "lr is the second of the fp pair");
_Static_assert(WEFT__A64_OFF_D8 == WEFT__A64_OFF_FP + 16, "d8 pair follows fp/lr");
_Static_assert(WEFT__A64_OFF_D10 == WEFT__A64_OFF_D8 + 16, "d10 pair follows d8 pair");
_Static_assert(WEFT__A64_OFF_D12 == WEFT__A64_OFF_D10 + 16, "d12 pair follows d10 pair");
_Static_assert(WEFT__A64_OFF_D14 == WEFT__A64_OFF_D12 + 16, "d14 pair follows d12 pair");
_Static_assert(WEFT__A64_OFF_FPCR == WEFT__A64_OFF_D14 + 16, "FPCR follows d14 pair");
_Static_assert(WEFT__A64_FRAME_SIZE == WEFT__A64_OFF_FPCR + 16, "frame ends after FPCR + pad");
_Static_assert(WEFT__A64_FRAME_SIZE == 10 * 8 + 2 * 8 + 8 * 8 + 16,
               "x19-x28, fp, lr, d8-d15, FPCR+pad: 176 bytes");
_Static_assert(WEFT__A64_FRAME_SIZE % 16 == 0, "sp must stay 16-byte aligned");
_Static_assert(WEFT__A64_OFF_FPCR % 8 == 0 && WEFT__A64_OFF_FPCR <= 4095 * 8,
               "FPCR slot must be reachable by ldr/str x, [sp, #imm]");
_Static_assert(WEFT__A64_OFF_D14 % 8 == 0 && WEFT__A64_OFF_D14 <= 504,
               "last stp/ldp immediate must fit the signed scaled 7-bit field");
_Static_assert(sizeof(void *) == 8 && sizeof(uint64_t) == 8, "LP64 only");

/* First "return" target of a fresh frame (switch_aarch64_aapcs.S): clears
 * lr and branches to the entry function left in x19. */
void weft__a64_task_start(void);

void weft__frame_init(struct weft__frame *f, void *stack_lo, size_t size, void (*entry)(void))
{
    /* entry() runs with sp == top: 16-byte aligned, nothing above it. */
    uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
    uintptr_t sp = top - WEFT__A64_FRAME_SIZE;
    unsigned char *frame = (unsigned char *)sp;
    /* Zero: x20-x28 and d8-d15 start at 0, fp (x29) = 0 ends the frame
     * record chain, FPCR = 0 is the Linux default (round to nearest, no
     * flush-to-zero, no default-NaN, no traps). */
    memset(frame, 0, WEFT__A64_FRAME_SIZE);
    uint64_t x19 = (uint64_t)(uintptr_t)entry;
    uint64_t lr = (uint64_t)(uintptr_t)weft__a64_task_start;
    memcpy(frame + WEFT__A64_OFF_X19, &x19, sizeof x19);
    memcpy(frame + WEFT__A64_OFF_LR, &lr, sizeof lr);
    f->sp = (void *)sp;
}

WEFT__NO_SANITIZE bool weft__frame_regs(const struct weft__frame *f, uintptr_t lo, uintptr_t hi,
                                        struct weft__frame_regs *r)
{
    uintptr_t sp = (uintptr_t)*(void *const volatile *)&f->sp;
    if (sp < lo || sp % 16 || sp > hi || hi - sp < WEFT__A64_FRAME_SIZE)
        return false;
    const volatile uintptr_t *slot = (const volatile uintptr_t *)sp;
    r->fp = slot[WEFT__A64_OFF_FP / 8];
    r->pc = weft__pc_strip(slot[WEFT__A64_OFF_LR / 8]);
    r->sp = sp + WEFT__A64_FRAME_SIZE;
    return true;
}

#endif /* !__ASSEMBLER__ */
