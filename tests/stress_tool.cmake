# weft-stress (tools/weft-stress.c, docs/stress.md): randomized torture of
# every scenario at once, with invariant checks, a watchdog (a task dump and
# a failure after --watchdog seconds without progress) and the live-task,
# leak and shutdown checks at the end.
#   stress_tool_short          3 s, label "stress" (the stress runs of CI)
#   stress_tool_unit           2 s, label "unit" (the default run exercises it)
#   stress_tool_selftest_fail  the FAIL path: a deliberate failed check must
#                              make the tool exit non-zero
#   stress_tool_selftest_hang  the watchdog: a deliberate hang must end in a
#                              task dump that names the blocked task
# Fixed seeds, so a failure names a reproducible configuration sequence;
# WEFT_STRESS_SCALE in the environment scales the runs (as for the other
# stress tests).  The target is defined in tools/, which the top level adds
# after tests/: add_test resolves target names when the build is generated.
if(EXISTS ${PROJECT_SOURCE_DIR}/tools/CMakeLists.txt)
  add_test(NAME stress_tool_short COMMAND weft-stress --duration 3 --seed 1)
  set_tests_properties(stress_tool_short PROPERTIES LABELS "stress" TIMEOUT 300)

  add_test(NAME stress_tool_unit COMMAND weft-stress --duration 2 --seed 2 --quiet)
  set_tests_properties(stress_tool_unit PROPERTIES LABELS "unit" TIMEOUT 300)

  add_test(NAME stress_tool_selftest_fail
           COMMAND weft-stress --only selftest-fail --rounds 2 --seed 3 --quiet)
  set_tests_properties(stress_tool_selftest_fail PROPERTIES LABELS "unit" TIMEOUT 60
                       WILL_FAIL TRUE)

  add_test(NAME stress_tool_selftest_hang
           COMMAND weft-stress --only selftest-hang --watchdog 2 --seed 4)
  set_tests_properties(stress_tool_selftest_hang PROPERTIES LABELS "unit" TIMEOUT 60
                       PASS_REGULAR_EXPRESSION "selftest\\.blocked"
                       FAIL_REGULAR_EXPRESSION "weft-stress: PASS")
endif()
