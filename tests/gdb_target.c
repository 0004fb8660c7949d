/*
 * gdb_target.c — the program tests/test_gdb.py runs under gdb to test the
 * gdb extension (tools/gdb/weft-gdb.py) live and on a core file.
 *
 * Tasks, in spawn order (so with ids 1, 2, ...): three_deep, blocked on a
 * receive three calls deep in level1 → level2 → level3; a named task in a
 * select; three identical tasks in a WaitGroup wait.  Once they are all
 * parked it prints the lines gdb must report ("lines L3 L2 L1 TOP GO") and
 * raises SIGTRAP, where gdb stops.  Run without a debugger it dies there:
 * it is not a test by itself.
 */
#include <signal.h>
#include <stdio.h>

#include <weft.h>

static weft_chan *never;
static weft_wg wg = WEFT_WG_INIT;
static int lines[5];

#define NOINLINE __attribute__((noinline))

NOINLINE static int level3(void)
{
    lines[0] = __LINE__ + 1;
    int r = weft_chan_recv(never, NULL);
    return r + 1; /* not a tail call: level3 keeps its frame */
}

NOINLINE static int level2(void)
{
    lines[1] = __LINE__ + 1;
    int r = level3();
    return r + 1;
}

NOINLINE static int level1(void)
{
    lines[2] = __LINE__ + 1;
    int r = level2();
    return r + 1;
}

static void three_deep(void *p)
{
    (void)p;
    lines[3] = __LINE__ + 1;
    int r = level1();
    if (r == 0)
        puts("unreachable");
}

static void selector(void *p)
{
    (void)p;
    weft_case cs[1] = {WEFT_CASE_RECV(never, NULL)};
    int r = weft_select(cs, 1, WEFT_FOREVER);
    if (r == 0)
        puts("unreachable");
}

static void waiter(void *p)
{
    (void)p;
    int r = weft_wg_wait(&wg);
    if (r != 0)
        puts("unreachable");
}

int main(void)
{
    struct weft_config cfg = {.workers = 2};
    if (weft_init(&cfg) != 0)
        return 1;
    never = weft_chan_make(0, 0);
    weft_wg_add(&wg, 1);
    uint64_t mark = weft_leak_mark();
    lines[4] = __LINE__ + 1;
    weft_go(three_deep, NULL);
    struct weft_task_opts named = {.name = "selector-1"};
    weft_go_opts(&named, selector, NULL);
    for (int i = 0; i < 3; i++)
        weft_go(waiter, NULL);
    /* Returns once all five are parked for good. */
    if (weft_leak_check(mark, 20 * WEFT_SEC, NULL) != 5)
        return 2;
    printf("lines %d %d %d %d %d\n", lines[0], lines[1], lines[2], lines[3], lines[4]);
    fflush(stdout);
    raise(SIGTRAP);
    return 0;
}
