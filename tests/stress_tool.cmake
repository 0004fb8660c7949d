# weft-stress (tools/weft-stress.c, docs/stress.md): the randomized torture
# of every scenario at once, with invariant checks, a watchdog (a task dump
# and a failure after --watchdog seconds without progress) and the live-task
# and leak checks at the end.
#   stress_tool_short  3 s, label "stress" (the stress legs of .ci/test.sh)
#   stress_tool_unit   2 s, label "unit" (the default run exercises the tool)
# Both use fixed seeds, so a failure names a reproducible configuration;
# WEFT_STRESS_SCALE in the environment scales them (as for the other
# stress tests).  The target lives in tools/, which the top level adds after
# tests/: add_test resolves the target name when the build is generated.
if(EXISTS ${PROJECT_SOURCE_DIR}/tools/CMakeLists.txt)
  add_test(NAME stress_tool_short
           COMMAND weft-stress --duration 3 --seed 1 --watchdog 30)
  set_tests_properties(stress_tool_short PROPERTIES LABELS "stress" TIMEOUT 300)
  add_test(NAME stress_tool_unit
           COMMAND weft-stress --duration 2 --seed 2 --watchdog 30 --quiet)
  set_tests_properties(stress_tool_unit PROPERTIES LABELS "unit" TIMEOUT 300)
endif()
