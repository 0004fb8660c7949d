# Misuse tests (tests/test_misuse.c, issue 6): every public function with
# NULL, zero, negative, huge and already-closed/stopped arguments; the
# documented result and a usable runtime afterwards.  docs/misuse.md is the
# table of what each misuse returns.
# WEFT_TEST_HAVE_LEAK: testutil.h's leak bracket also uses weft_leak_check
# when the library has it (sched/diag/leak.c).
weft_add_test(test_misuse SOURCES test_misuse.c)
if(EXISTS ${PROJECT_SOURCE_DIR}/sched/diag/leak.c)
  target_compile_definitions(test_misuse PRIVATE WEFT_TEST_HAVE_LEAK)
endif()
