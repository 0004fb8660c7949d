# The context-switch test (tests/test_arch.c): callee-saved registers,
# floating-point control, deep recursion, migration between workers and a
# many-switch checksum.  Runs on every architecture and with both switch
# variants; .ci/aarch64.sh runs it for aarch64 under qemu-user.
weft_add_test(test_arch SOURCES test_arch.c)
target_link_libraries(test_arch PRIVATE m)
# The ucontext fallback makes a task inherit its spawner's floating-point
# environment; the assembly switches start every task in the default one.
if(WEFT_SWITCH STREQUAL "ucontext")
  target_compile_definitions(test_arch PRIVATE WT_SWITCH_UCONTEXT)
endif()
# weft_stats (sched/diag/stats.c) is optional while the tree grows.
if(EXISTS ${PROJECT_SOURCE_DIR}/sched/diag/stats.c)
  target_compile_definitions(test_arch PRIVATE WEFT_TEST_HAVE_STATS)
endif()
