/*
 * switch_x86_64_sysv.S — context switch for x86-64, System V ABI, ELF.
 *
 * void weft__switch(struct weft__frame *from  (%rdi),
 *                   struct weft__frame *to    (%rsi));
 *
 * Saves what the SysV ABI says a callee must preserve: rbx, rbp, r12-r15,
 * the MXCSR control bits and the x87 control word.  Everything else is
 * caller-saved, so the compiler already spilled it around the call.
 *
 * Frame left on the stack of the context being suspended (addresses grow
 * upwards; frame->sp points at the lowest):
 *
 *     sp + 56   return address (into the caller of weft__switch)
 *     sp + 48   rbp
 *     sp + 40   rbx
 *     sp + 32   r12
 *     sp + 24   r13
 *     sp + 16   r14
 *     sp +  8   r15
 *     sp +  4   x87 control word (16 bits)
 *     sp +  0   MXCSR (32 bits)
 *
 * weft__frame_init (sched/arch/frame_x86_64.c) builds the same frame by
 * hand with entry() as the return address, so a first switch "returns"
 * into entry().  WEFT__X86_FRAME_SIZE there must stay equal to 64.
 *
 * void weft__jump(struct weft__frame *to (%rdi)) is the second half alone:
 * it resumes *to and saves nothing, for a context that never runs again
 * (a task that returned).  Besides the stores it skips stmxcsr, which is
 * microcoded on AMD Zen (about 17 cycles, throughput-bound, measured on
 * this project's EPYC VM): two thirds of weft__switch's samples in
 * bench/spawn's profile.
 */
    .text
    .globl  weft__switch
    .hidden weft__switch
    .type   weft__switch, @function
    .p2align 4
weft__switch:
    .cfi_startproc
    pushq   %rbp                /* callee-saved GPRs onto the old stack */
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp            /* room for MXCSR + x87 CW */
    stmxcsr (%rsp)              /* SSE rounding/exception control */
    fnstcw  4(%rsp)             /* x87 control word */
    movq    %rsp, (%rdi)        /* from->sp = rsp */
    movq    (%rsi), %rsp        /* rsp = to->sp: now on the new stack */
.Lweft_resume:
    ldmxcsr (%rsp)              /* restore the new context's control words */
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15                /* and its callee-saved GPRs */
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret                         /* to where the new context called us from */
    .cfi_endproc
    .size   weft__switch, .-weft__switch

    .globl  weft__jump
    .hidden weft__jump
    .type   weft__jump, @function
    .p2align 4
weft__jump:
    .cfi_startproc
    movq    (%rdi), %rsp        /* rsp = to->sp; the old stack is abandoned */
    jmp     .Lweft_resume
    .cfi_endproc
    .size   weft__jump, .-weft__jump

    .section .note.GNU-stack,"",@progbits
