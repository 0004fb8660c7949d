/*
 * threads.c — which OS threads of the process weft knows cannot wake a
 * task right now.
 *
 * Leak checks and deadlock detection may say "nothing can wake these
 * tasks" before a timeout only if that is certain.  Tasks and weft's own
 * threads are visible, but any other thread of the process may still send
 * on a channel, close it, or cancel a context.  So the early verdict also
 * needs every OS thread of the process to be *known*:
 *
 *   - weft's own threads (workers, the monitor, the SIGQUIT dumper, leak
 *     check helpers), for as long as they run;
 *   - plain threads blocked inside weft (in a park, in weft_leak_check,
 *     or in weft_run waiting for its main task), while they are there;
 *   - threads the program declared with weft_thread_ignore(), until they
 *     exit;
 *   - and the platform's own helpers: ThreadSanitizer's background thread
 *     and qemu-user's RCU thread (see platform_threads).
 *
 * The known threads are counted in one word whose high half is a sequence
 * number bumped by every change.  Every increment is made by the thread
 * itself while it runs and every decrement before it exits, so at every
 * instant known <= the process's thread count.  weft__threads_all_known()
 * reads the word, the kernel's thread count (/proc/self/status "Threads:",
 * one consistent value), and the word again: an unchanged word means the
 * known count held at the instant of the kernel's count, and equal counts
 * mean that at that instant no other thread existed.  None can appear
 * later unless a known thread creates one — and known threads that run
 * (workers running tasks) break the quiescence the verdict also needs.
 * A thread count that cannot be read is never taken as "all known".
 *
 * Nesting is per thread (a thread blocked in a park inside a leak check is
 * counted once): only the outermost push and pop touch the word.
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "sanitize.h"

_Static_assert(sizeof(AO_t) == 8, "the known-thread word packs a sequence and a count");
#define KNOWN_SEQ ((AO_t)1 << 32)
#define KNOWN_COUNT(w) ((w) & 0xffffffffu)

static weft__aword known_word; /* seq << 32 | known threads */
static __thread int known_depth;
static __thread bool ignored;  /* weft_thread_ignore() was called here */
static weft__aword threads_made; /* weft has created a thread in this process */

void weft__thread_known_push(void)
{
    /* full: the count must rise before anything this thread does next
     * (blocking) can be seen by a verdict, and the sequence orders it. */
    if (known_depth++ == 0)
        weft__fetch_add_full(&known_word, KNOWN_SEQ + 1);
}

void weft__thread_known_pop(void)
{
    /* full: the count drops before the thread leaves its known state. */
    if (--known_depth == 0)
        weft__fetch_add_full(&known_word, KNOWN_SEQ - 1);
}

void weft__thread_made(void) { weft__store_full(&threads_made, 1); }

/* ---- weft_thread_ignore --------------------------------------------------- */

static pthread_key_t ignore_key;
static pthread_once_t ignore_once = PTHREAD_ONCE_INIT;
static int ignore_key_err;

static void ignored_thread_exit(void *p)
{
    (void)p;
    ignored = false;
    weft__thread_known_pop();
}

static void ignore_key_init(void) { ignore_key_err = pthread_key_create(&ignore_key, ignored_thread_exit); }

int weft_thread_ignore(void)
{
    if (weft__cur_worker())
        return EINVAL; /* a task, or a worker: already weft's own */
    if (ignored)
        return 0;
    pthread_once(&ignore_once, ignore_key_init);
    if (ignore_key_err)
        return ignore_key_err;
    /* The key's destructor uncounts the thread when it exits (it runs
     * only for a non-NULL value). */
    int r = pthread_setspecific(ignore_key, (void *)1);
    if (r)
        return r;
    ignored = true;
    weft__thread_known_push();
    return 0;
}

/* ---- the kernel's view ----------------------------------------------------- */

/* Threads in the process, or -1 if /proc cannot tell.  No stdio, no malloc:
 * this runs on a worker's scheduler stack. */
static long os_thread_count(void)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[len] = 0;
    const char *p = strstr(buf, "\nThreads:");
    if (!p)
        return -1;
    p += 9;
    while (*p == ' ' || *p == '\t')
        p++;
    long n = 0;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9')
        n = n * 10 + (*p++ - '0');
    return n;
}

/* qemu-user fakes /proc/self/exe as the guest program, but not the exe
 * link of the calling thread's own task entry (that is qemu). */
static bool under_qemu_user(void)
{
    char self[512], mine[512], path[64];
    ssize_t a = readlink("/proc/self/exe", self, sizeof self - 1);
    snprintf(path, sizeof path, "/proc/self/task/%ld/exe", (long)syscall(SYS_gettid));
    ssize_t b = readlink(path, mine, sizeof mine - 1);
    if (a <= 0 || b <= 0)
        return false;
    self[a] = mine[b] = 0;
    return strcmp(self, mine) != 0;
}

/* Threads the platform adds to the process that run no program code and
 * never touch weft:
 *  - ThreadSanitizer starts one background thread at the process's first
 *    pthread_create (compiler-rt's MaybeSpawnBackgroundThread, in gcc's
 *    and clang's runtimes alike); weft has made one by the time a verdict
 *    is asked for, so it exists;
 *  - qemu-user runs its call_rcu helper thread beside the guest's threads.
 * Over-counting here could make a verdict wrong, so each is added only
 * where it is known to exist. */
static long platform_threads(void)
{
    /* 0 unknown, 1 no, 2 yes: a cache of a fact; racing first callers
     * compute the same answer (relaxed: nothing else hangs on it). */
    static weft__aint qemu;
    long n = 0;
#ifdef WEFT__TSAN
    if (weft__load_acq(&threads_made))
        n++;
#endif
    unsigned q = weft__iload_relaxed(&qemu);
    if (!q) {
        q = under_qemu_user() ? 2 : 1;
        weft__istore_rel(&qemu, q);
    }
    n += q == 2;
    return n;
}

bool weft__threads_all_known(void)
{
    AO_t w0 = weft__load_full(&known_word);
    long n = os_thread_count();
    /* full: the kernel's count is read between the two loads. */
    AO_t w1 = weft__load_full(&known_word);
    if (n < 0 || w0 != w1)
        return false;
    return n - platform_threads() == (long)KNOWN_COUNT(w0);
}
