# No call that can park reports through errno or changes it
# (tests/test_errno.c: select results across migrations, errno kept on
# plain threads and in tasks for every blocking call).
weft_add_test(test_errno SOURCES test_errno.c)
target_compile_definitions(test_errno PRIVATE WEFT_TEST_HAVE_LEAK)
