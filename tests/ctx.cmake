# Context and sync tests (tests/test_ctx.c, tests/test_sync.c).
#   test_ctx        contexts: cancel, deadlines, values, after_func, lifetime, races
#   test_ctx_churn  the same file with only the 10-million-children memory test
#                   at full size (label slow; test_ctx runs it with 1 million)
#   test_sync       WaitGroup, Mutex, Once, errgroup
# WEFT_TEST_HAVE_LEAK: testutil.h's leak bracket also uses weft_leak_check
# when the library has it (sched/diag/leak.c).
weft_add_test(test_ctx SOURCES test_ctx.c)
weft_add_test(test_ctx_churn SOURCES test_ctx.c LABELS slow TIMEOUT 900)
target_compile_definitions(test_ctx_churn PRIVATE WT_CTX_CHURN_FULL)
weft_add_test(test_sync SOURCES test_sync.c)
if(EXISTS ${PROJECT_SOURCE_DIR}/sched/diag/leak.c)
  foreach(_t test_ctx test_ctx_churn test_sync)
    target_compile_definitions(${_t} PRIVATE WEFT_TEST_HAVE_LEAK)
  endforeach()
endif()
