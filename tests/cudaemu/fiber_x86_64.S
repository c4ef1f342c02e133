/* The engine's context switch (scheduler.c), x86-64 System V: saves the callee-saved
 * registers on the current stack, stores the stack pointer in *from, and resumes the
 * context whose stack pointer is `to`.
 *   void pg_emu_fiber_switch(void **from, void *to); */
    .text
    .globl pg_emu_fiber_switch
    .type pg_emu_fiber_switch, @function
pg_emu_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size pg_emu_fiber_switch, .-pg_emu_fiber_switch
    .section .note.GNU-stack, "", @progbits
