# Workers held by raw blocking calls: queue handoff and spare workers
# (tests/test_handoff.c, sched/sysmon.c).
weft_add_test(test_handoff SOURCES test_handoff.c)
if(EXISTS ${PROJECT_SOURCE_DIR}/sched/diag/leak.c)
  target_compile_definitions(test_handoff PRIVATE WEFT_TEST_HAVE_LEAK)
endif()
