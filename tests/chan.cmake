# Channel, select and timer tests (tests/test_chan.c, test_select.c,
# test_timer.c) and the channel stress test (label "stress").
#
# Optional parts of the library are detected by their sources, so these
# tests build while the tree grows:
#   WEFT_TEST_HAVE_LEAK  weft_leak_mark/weft_leak_check (sched/diag/leak.c):
#                        testutil.h's leak bracket uses them as well as the
#                        weft_num_tasks() comparison.
#   WEFT_TEST_HAVE_CTX   contexts (ctx/ctx.c): test_select.c adds the
#                        weft_chan_send_ctx/recv_ctx cases.
#   WEFT_TEST_HAVE_STATS weft_stats (sched/diag/stats.c): test_chan_leaked_task
#                        waits for its task to be parked before the release.
set(_weft_chan_test_defs "")
if(EXISTS ${PROJECT_SOURCE_DIR}/sched/diag/leak.c)
  list(APPEND _weft_chan_test_defs WEFT_TEST_HAVE_LEAK)
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/ctx/ctx.c)
  list(APPEND _weft_chan_test_defs WEFT_TEST_HAVE_CTX)
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/sched/diag/stats.c)
  list(APPEND _weft_chan_test_defs WEFT_TEST_HAVE_STATS)
endif()

weft_add_test(test_chan SOURCES test_chan.c)
# The same file with only the case that leaks a task on purpose (releasing
# the last reference under a blocked task); its teardown expects
# weft_shutdown() to report exactly that one task.
weft_add_test(test_chan_leaked_task SOURCES test_chan.c)
target_compile_definitions(test_chan_leaked_task PRIVATE WT_LEAKED_TASK_CASE)
weft_add_test(test_select SOURCES test_select.c)
target_link_libraries(test_select PRIVATE m)
weft_add_test(test_timer SOURCES test_timer.c)
weft_add_test(stress_chan SOURCES stress_chan.c LABELS stress TIMEOUT 600)

foreach(_t test_chan test_chan_leaked_task test_select test_timer stress_chan)
  if(_weft_chan_test_defs)
    target_compile_definitions(${_t} PRIVATE ${_weft_chan_test_defs})
  endif()
endforeach()
