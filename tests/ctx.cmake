# Context and sync tests (tests/test_ctx.c, tests/test_sync.c).
#   test_ctx        contexts: cancel, deadlines, values, after_func, lifetime, races
#   test_ctx_churn  the same file with only the 10-million-children memory test
#                   at full size (label slow; test_ctx runs it with 1 million)
#   test_sync       WaitGroup, Mutex, Once, errgroup
#   test_sync_calls the same file with WEFT_NO_INLINE: weft.h's inline fast
#                   paths off, every mutex and WaitGroup call a call
#   test_wg_ctx_window  wg_wait_ctx's zero path against a cancel (--wrap)
# WEFT_TEST_HAVE_LEAK: testutil.h's leak bracket also uses weft_leak_check
# when the library has it (sched/diag/leak.c).
weft_add_test(test_ctx SOURCES test_ctx.c)
weft_add_test(test_ctx_churn SOURCES test_ctx.c LABELS slow TIMEOUT 900)
target_compile_definitions(test_ctx_churn PRIVATE WT_CTX_CHURN_FULL)
weft_add_test(test_sync SOURCES test_sync.c)
weft_add_test(test_sync_calls SOURCES test_sync.c)
target_compile_definitions(test_sync_calls PRIVATE WEFT_NO_INLINE)
# test_wg_ctx_window: weft_wg_wait_ctx's counter-reached-zero path against a
# cancel at the instant it releases the context's lock.  The window is made
# to happen every time by interposing two internal calls that wg.c makes
# into ctx.c (the linker's --wrap redirects only references from other
# object files; see the test's comment).
weft_add_test(test_wg_ctx_window SOURCES test_wg_ctx_window.c)
target_link_options(test_wg_ctx_window PRIVATE
  -Wl,--wrap=weft__ctx_wait_begin -Wl,--wrap=weft__ctx_wait_unlock)
if(EXISTS ${PROJECT_SOURCE_DIR}/sched/diag/leak.c)
  foreach(_t test_ctx test_ctx_churn test_sync test_sync_calls test_wg_ctx_window)
    target_compile_definitions(${_t} PRIVATE WEFT_TEST_HAVE_LEAK)
  endforeach()
endif()
