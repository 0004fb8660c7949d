# Runtime core tests (tests/test_sched.c, test_overflow.c).
weft_add_test(test_sched SOURCES test_sched.c)
weft_add_test(test_overflow SOURCES test_overflow.c)
# A million live tasks: a few seconds and ~5 GiB of address space touched
# one page each; behind the "slow" label.
add_test(NAME test_million_tasks COMMAND test_overflow million)
set_tests_properties(test_million_tasks PROPERTIES TIMEOUT 600 LABELS "slow")
weft_add_test(test_failinject SOURCES test_failinject.c)
