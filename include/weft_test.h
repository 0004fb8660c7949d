/*
 * weft_test.h — task-leak assertions for your own tests (Go's goleak).
 *
 *     uint64_t mark = weft_leak_mark();
 *     ... code under test: spawns tasks, should stop them all ...
 *     assert_no_task_leaks(mark);          // cmocka
 *     WEFT_EXPECT_NO_TASK_LEAKS(mark);     // any framework: aborts on a leak
 *
 * Each check calls weft_leak_check(mark, WEFT_TEST_LEAK_TIMEOUT, stderr):
 * it waits until every task spawned since the mark has returned or is
 * durably blocked (a leak is reported as soon as the runtime settles, not
 * after the timeout), prints a report naming each leaked task's spawn site
 * and what it waits on, and fails the test if any is left.  Tasks spawned
 * before the mark (fixtures, long-lived services) are ignored.  See
 * docs/leaks.md for a sample report.
 *
 * Header-only; include it after <weft.h>.  The cmocka form needs
 * <cmocka.h> included where it is used (not necessarily before this
 * header).  Call the checks from the test's own thread, or from a task:
 * cmocka's assertions must not run in a task (they longjmp), so inside a
 * task use weft_test_leaks() and assert on its result afterwards.
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How long a check waits for tasks that are still running or sleeping.
 * Settled programs never wait this long; define it before including this
 * header to change it. */
#ifndef WEFT_TEST_LEAK_TIMEOUT
#define WEFT_TEST_LEAK_TIMEOUT (10 * WEFT_SEC)
#endif

/* The number of tasks spawned since mark that did not return (0: clean).
 * A leak is reported on stderr, followed by the checking site. */
static inline size_t weft_test_leaks_at(uint64_t mark, const char *file, int line)
{
    size_t n = weft_leak_check(mark, WEFT_TEST_LEAK_TIMEOUT, stderr);
    if (n)
        fprintf(stderr, "%s:%d: %zu task%s leaked since the mark (report above)\n", file, line,
                n, n == 1 ? "" : "s");
    return n;
}
#define weft_test_leaks(mark) weft_test_leaks_at((mark), __FILE__, __LINE__)

/* Framework-free: report and abort() when a task leaked. */
#define WEFT_EXPECT_NO_TASK_LEAKS(mark)                                         \
    do {                                                                      \
        if (weft_test_leaks_at((mark), __FILE__, __LINE__) != 0)              \
            abort();                                                          \
    } while (0)

/* cmocka: report and fail the current test when a task leaked. */
#define assert_no_task_leaks(mark)                                              \
    do {                                                                      \
        size_t weft_test_n_ = weft_test_leaks_at((mark), __FILE__, __LINE__); \
        if (weft_test_n_ != 0)                                                \
            fail_msg("%zu task(s) spawned since mark %llu leaked (report above)", \
                     weft_test_n_, (unsigned long long)(mark));                 \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif /* WEFT_TEST_H */
