# The gdb extension (tools/gdb/weft-gdb.py) on a live process and on a core
# file written by gdb (tests/test_gdb.py runs tests/gdb_target.c under
# `gdb -batch`): sourced by hand for a static binary, and auto-loaded next
# to libweft.so for a dynamic one.  The test skips itself (exit 77) when gdb
# is missing; CI installs gdb (.ci/test.sh).
if(CMAKE_CROSSCOMPILING)
  message(STATUS "weft: gdb extension test not built: cross-compiled (needs a native gdb)")
  return()
endif()
if(WEFT_ASAN OR WEFT_TSAN)
  # gcore copies every readable mapping: a sanitized process's shadow memory
  # makes a core of terabytes (sparse, but tens of GB written).
  message(STATUS "weft: gdb extension test not built under ASan/TSan (its core would hold "
                 "the sanitizer's shadow memory)")
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "weft: gdb extension test not built: no python3")
  return()
endif()
foreach(kind static shared)
  add_executable(gdb_target_${kind} gdb_target.c)
  target_link_libraries(gdb_target_${kind} PRIVATE weft_${kind})
  target_compile_options(gdb_target_${kind} PRIVATE ${WEFT_WARNINGS})
endforeach()
add_test(NAME test_gdb_static COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/test_gdb.py
  --target $<TARGET_FILE:gdb_target_static> --source ${CMAKE_CURRENT_SOURCE_DIR}/gdb_target.c
  --script ${PROJECT_SOURCE_DIR}/tools/gdb/weft-gdb.py --workdir ${CMAKE_CURRENT_BINARY_DIR}/gdb-static)
add_test(NAME test_gdb_autoload COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/test_gdb.py
  --target $<TARGET_FILE:gdb_target_shared> --source ${CMAKE_CURRENT_SOURCE_DIR}/gdb_target.c
  --autoload $<TARGET_FILE_DIR:weft_shared> --workdir ${CMAKE_CURRENT_BINARY_DIR}/gdb-shared)
set_tests_properties(test_gdb_static test_gdb_autoload PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "unit;gdb")
