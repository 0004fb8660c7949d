/*
 * switch_aarch64_aapcs.S — context switch for AArch64, AAPCS64, ELF (Linux).
 *
 * void weft__switch(struct weft__frame *from  (x0),
 *                   struct weft__frame *to    (x1));
 *
 * Saves what AAPCS64 says a callee must preserve: x19-x28, the frame
 * pointer x29, the link register x30 (where this call returns to), the low
 * 64 bits of v8-v15 (d8-d15) and FPCR (rounding mode, flush-to-zero,
 * default-NaN: per-context floating-point control, as MXCSR on x86-64).
 * Everything else (x0-x18, v0-v7, v16-v31, the upper halves of v8-v15,
 * NZCV, FPSR's cumulative flags) is caller-saved or not preserved across
 * calls, so the compiler already assumes a call clobbers it.  x18 is a
 * temporary on Linux.
 *
 * Frame left on the stack of the context being suspended (addresses grow
 * upwards; frame->sp points at the lowest, which stays 16-byte aligned):
 *
 *     sp + 168  padding (keeps the frame a multiple of 16 bytes)
 *     sp + 160  FPCR
 *     sp + 152  d15
 *     sp + 144  d14
 *     sp + 136  d13
 *     sp + 128  d12
 *     sp + 120  d11
 *     sp + 112  d10
 *     sp + 104  d9
 *     sp +  96  d8
 *     sp +  88  x30 (lr: the return address into the caller of weft__switch)
 *     sp +  80  x29 (fp)
 *     sp +  72  x28
 *     sp +  64  x27
 *     sp +  56  x26
 *     sp +  48  x25
 *     sp +  40  x24
 *     sp +  32  x23
 *     sp +  24  x22
 *     sp +  16  x21
 *     sp +   8  x20
 *     sp +   0  x19
 *
 * The offsets are the WEFT__A64_* macros, defined once in frame_aarch64.c
 * (included below) and checked there with _Static_assert.
 *
 * weft__frame_init (frame_aarch64.c) builds the same frame by hand: lr =
 * weft__a64_task_start, x19 = entry, fp = 0, FPCR = 0.  A first switch
 * "returns" into weft__a64_task_start, which clears lr and branches to
 * entry() with sp at the 16-byte aligned top of the stack, so entry() sees
 * fp = lr = 0 like a thread's start routine: frame-record walkers and DWARF
 * unwinders both stop there.
 *
 * Branch protection: with -mbranch-protection=bti|standard the functions
 * start with a BTI landing pad and the object carries the GNU property note
 * (BTI, PAC) so it does not turn BTI off for the whole binary.  Neither
 * function signs lr: weft__switch is a leaf that stores the caller's plain
 * return address, and weft__a64_task_start never returns.
 */
#include "frame_aarch64.c" /* WEFT__A64_* layout constants only */

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define WEFT__A64_BTI_C bti c  /* landing pad for an indirect call */
#define WEFT__A64_PROP_BTI 1
#else
#define WEFT__A64_BTI_C        /* no branch target identification */
#define WEFT__A64_PROP_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define WEFT__A64_PROP_PAC 2
#else
#define WEFT__A64_PROP_PAC 0
#endif

    .text

/* ---- void weft__switch(struct weft__frame *from, struct weft__frame *to) */
    .globl  weft__switch
    .hidden weft__switch
    .type   weft__switch, %function
    .p2align 4
weft__switch:
    .cfi_startproc
    WEFT__A64_BTI_C                                 /* BTI landing pad (when enabled) */
    sub     sp, sp, #WEFT__A64_FRAME_SIZE           /* room for the frame on the old stack */
    .cfi_def_cfa_offset WEFT__A64_FRAME_SIZE
    stp     x19, x20, [sp, #WEFT__A64_OFF_X19]      /* callee-saved GPRs */
    stp     x21, x22, [sp, #WEFT__A64_OFF_X21]      /* ... */
    stp     x23, x24, [sp, #WEFT__A64_OFF_X23]      /* ... */
    stp     x25, x26, [sp, #WEFT__A64_OFF_X25]      /* ... */
    stp     x27, x28, [sp, #WEFT__A64_OFF_X27]      /* ... */
    stp     x29, x30, [sp, #WEFT__A64_OFF_FP]       /* frame pointer and return address */
    stp     d8,  d9,  [sp, #WEFT__A64_OFF_D8]       /* callee-saved FP/SIMD (low 64 bits) */
    stp     d10, d11, [sp, #WEFT__A64_OFF_D10]      /* ... */
    stp     d12, d13, [sp, #WEFT__A64_OFF_D12]      /* ... */
    stp     d14, d15, [sp, #WEFT__A64_OFF_D14]      /* ... */
    .cfi_offset x19, WEFT__A64_OFF_X19 - WEFT__A64_FRAME_SIZE
    .cfi_offset x20, WEFT__A64_OFF_X19 + 8 - WEFT__A64_FRAME_SIZE
    .cfi_offset x21, WEFT__A64_OFF_X21 - WEFT__A64_FRAME_SIZE
    .cfi_offset x22, WEFT__A64_OFF_X21 + 8 - WEFT__A64_FRAME_SIZE
    .cfi_offset x23, WEFT__A64_OFF_X23 - WEFT__A64_FRAME_SIZE
    .cfi_offset x24, WEFT__A64_OFF_X23 + 8 - WEFT__A64_FRAME_SIZE
    .cfi_offset x25, WEFT__A64_OFF_X25 - WEFT__A64_FRAME_SIZE
    .cfi_offset x26, WEFT__A64_OFF_X25 + 8 - WEFT__A64_FRAME_SIZE
    .cfi_offset x27, WEFT__A64_OFF_X27 - WEFT__A64_FRAME_SIZE
    .cfi_offset x28, WEFT__A64_OFF_X27 + 8 - WEFT__A64_FRAME_SIZE
    .cfi_offset x29, WEFT__A64_OFF_FP - WEFT__A64_FRAME_SIZE
    .cfi_offset x30, WEFT__A64_OFF_LR - WEFT__A64_FRAME_SIZE
    .cfi_offset d8,  WEFT__A64_OFF_D8 - WEFT__A64_FRAME_SIZE
    .cfi_offset d9,  WEFT__A64_OFF_D8 + 8 - WEFT__A64_FRAME_SIZE
    .cfi_offset d10, WEFT__A64_OFF_D10 - WEFT__A64_FRAME_SIZE
    .cfi_offset d11, WEFT__A64_OFF_D10 + 8 - WEFT__A64_FRAME_SIZE
    .cfi_offset d12, WEFT__A64_OFF_D12 - WEFT__A64_FRAME_SIZE
    .cfi_offset d13, WEFT__A64_OFF_D12 + 8 - WEFT__A64_FRAME_SIZE
    .cfi_offset d14, WEFT__A64_OFF_D14 - WEFT__A64_FRAME_SIZE
    .cfi_offset d15, WEFT__A64_OFF_D14 + 8 - WEFT__A64_FRAME_SIZE
    mrs     x9, fpcr                                /* this context's FP control */
    str     x9, [sp, #WEFT__A64_OFF_FPCR]           /* ... saved in the frame */
    mov     x10, sp                                 /* sp cannot be stored directly */
    str     x10, [x0]                               /* from->sp = sp */
    ldr     x10, [x1]                               /* x10 = to->sp */
    mov     sp, x10                                 /* now on the new stack (same CFI layout) */
.Lweft_resume:                                      /* weft__jump joins here, x9 = FPCR */
    ldr     x10, [sp, #WEFT__A64_OFF_FPCR]          /* the new context's FPCR */
    cmp     x10, x9                                 /* same as the one in force? */
    b.eq    1f                                      /* yes: skip the write (can be slow) */
    msr     fpcr, x10                               /* no: install it */
1:
    ldp     x19, x20, [sp, #WEFT__A64_OFF_X19]      /* the new context's callee-saved GPRs */
    ldp     x21, x22, [sp, #WEFT__A64_OFF_X21]      /* ... */
    ldp     x23, x24, [sp, #WEFT__A64_OFF_X23]      /* ... */
    ldp     x25, x26, [sp, #WEFT__A64_OFF_X25]      /* ... */
    ldp     x27, x28, [sp, #WEFT__A64_OFF_X27]      /* ... */
    ldp     x29, x30, [sp, #WEFT__A64_OFF_FP]       /* its fp and return address */
    ldp     d8,  d9,  [sp, #WEFT__A64_OFF_D8]       /* its d8-d15 */
    ldp     d10, d11, [sp, #WEFT__A64_OFF_D10]      /* ... */
    ldp     d12, d13, [sp, #WEFT__A64_OFF_D12]      /* ... */
    ldp     d14, d15, [sp, #WEFT__A64_OFF_D14]      /* ... */
    add     sp, sp, #WEFT__A64_FRAME_SIZE           /* pop the frame */
    .cfi_def_cfa_offset 0
    .cfi_same_value x19
    .cfi_same_value x20
    .cfi_same_value x21
    .cfi_same_value x22
    .cfi_same_value x23
    .cfi_same_value x24
    .cfi_same_value x25
    .cfi_same_value x26
    .cfi_same_value x27
    .cfi_same_value x28
    .cfi_same_value x29
    .cfi_same_value x30
    .cfi_same_value d8
    .cfi_same_value d9
    .cfi_same_value d10
    .cfi_same_value d11
    .cfi_same_value d12
    .cfi_same_value d13
    .cfi_same_value d14
    .cfi_same_value d15
    ret                                             /* to where the new context called us from */
    .cfi_endproc
    .size   weft__switch, .-weft__switch

/* ---- void weft__jump(struct weft__frame *to): weft__switch's second half
 * alone, for a context that never runs again (a task that returned): it
 * saves nothing. */
    .globl  weft__jump
    .hidden weft__jump
    .type   weft__jump, %function
    .p2align 4
weft__jump:
    .cfi_startproc
    WEFT__A64_BTI_C                                 /* BTI landing pad (when enabled) */
    mrs     x9, fpcr                                /* the FPCR in force, for the compare */
    ldr     x10, [x0]                               /* x10 = to->sp */
    mov     sp, x10                                 /* the old stack is abandoned */
    b       .Lweft_resume
    .cfi_endproc
    .size   weft__jump, .-weft__jump

/* ---- first "return" target of a frame built by weft__frame_init -------- */
    .globl  weft__a64_task_start
    .hidden weft__a64_task_start
    .type   weft__a64_task_start, %function
    .p2align 4
weft__a64_task_start:
    .cfi_startproc
    .cfi_undefined x30                              /* outermost frame: unwinding stops here */
    WEFT__A64_BTI_C                                 /* BTI landing pad (reached by ret; harmless) */
    mov     x30, xzr                                /* lr = 0: entry() has no caller */
    mov     x16, x19                                /* entry (x19 from the frame); BR via x16 */
    br      x16                                     /* ... lands on entry's "bti c" under BTI */
    .cfi_endproc
    .size   weft__a64_task_start, .-weft__a64_task_start

/* GNU property note: this object supports BTI and PAC when compiled so. */
#if WEFT__A64_PROP_BTI || WEFT__A64_PROP_PAC
    .pushsection .note.gnu.property, "a"
    .p2align 3
    .word   4                                       /* n_namesz: "GNU\0" */
    .word   16                                      /* n_descsz */
    .word   5                                       /* n_type: NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"                                   /* n_name */
    .word   0xc0000000                              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .word   4                                       /* pr_datasz */
    .word   WEFT__A64_PROP_BTI | WEFT__A64_PROP_PAC /* BTI = 1, PAC = 2 */
    .word   0                                       /* pad to 8 bytes */
    .popsection
#endif

    .section .note.GNU-stack,"",%progbits
