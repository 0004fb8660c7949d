# I/O tests (tests/test_io.c): readiness, EOF, RST, partial reads, large
# writes, deadlines, contexts, weft_fd_close and fd reuse, accept/connect,
# 10 000 loopback connections, WEFT_FAIL_POLL, plain threads, weft_blocking,
# bad input, and I/O waits in dumps, leak checks and deadlock detection.
weft_add_test(test_io SOURCES test_io.c)
if(EXISTS ${PROJECT_SOURCE_DIR}/sched/diag/leak.c)
  target_compile_definitions(test_io PRIVATE WEFT_TEST_HAVE_LEAK)
endif()
