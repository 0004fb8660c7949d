# Diagnostics tests (tests/test_diag.c): task dumps, leak checks, deadlock
# detection, stats, SIGQUIT; and the examples' patterns
# (tests/test_examples.c, built when contexts and WaitGroup exist).
weft_add_test(test_diag SOURCES test_diag.c)
# Verdicts beside threads outside weft (tests/test_verdicts.c).
weft_add_test(test_verdicts SOURCES test_verdicts.c)
target_compile_definitions(test_verdicts PRIVATE WEFT_TEST_HAVE_LEAK)
# Both re-run themselves for whole-program cases; cross-built, they must go
# through the same emulator as ctest.
if(CMAKE_CROSSCOMPILING_EMULATOR)
  list(JOIN CMAKE_CROSSCOMPILING_EMULATOR "\",\"" _weft_emu)
  foreach(_t test_diag test_verdicts)
    target_compile_definitions(${_t} PRIVATE "WT_EMULATOR_ARGV=\"${_weft_emu}\"")
  endforeach()
endif()

if(EXISTS ${PROJECT_SOURCE_DIR}/ctx/ctx.c AND EXISTS ${PROJECT_SOURCE_DIR}/sched/sync/wg.c)
  set(_weft_ex ${PROJECT_SOURCE_DIR}/examples)
  weft_add_test(test_examples SOURCES test_examples.c
    ${_weft_ex}/01_leaky_vs_proper.c ${_weft_ex}/02_close_on_exit.c
    ${_weft_ex}/03_process_items.c ${_weft_ex}/04_worker.c)
  target_include_directories(test_examples PRIVATE ${_weft_ex})
  target_compile_definitions(test_examples PRIVATE WEFT_EXAMPLE_NO_MAIN
    "WEFT_EXAMPLES_DIR=\"${_weft_ex}\"")
endif()

# Backtraces, call sites and grouping (tests/test_backtrace.c).  File and
# line checks need libdw; without it the dladdr fallback is checked.
weft_add_test(test_backtrace SOURCES test_backtrace.c)
if(LIBDW_FOUND)
  target_compile_definitions(test_backtrace PRIVATE WT_HAVE_LIBDW)
  target_compile_definitions(test_diag PRIVATE WT_HAVE_LIBDW)
  if(TARGET test_examples)
    target_compile_definitions(test_examples PRIVATE WT_HAVE_LIBDW)
  endif()
endif()
