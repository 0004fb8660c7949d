/*
 * signal.c — stack overflow reports.
 *
 * Each worker runs with an alternate signal stack, so a SIGSEGV caused by
 * a task running into its guard page can still be handled.  The handler
 * checks whether the faulting address lies in the running task's guard
 * region, writes the task's id, name and spawn site with async-signal-safe
 * calls, and aborts.  Any other fault goes to the previous disposition.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

static struct sigaction old_segv, old_bus;
static bool installed;
static __thread void *altstack;

static void put(const char *s)
{
    if (s) {
        ssize_t r = write(2, s, strlen(s));
        (void)r;
    }
}

static void put_u64(uint64_t v)
{
    char buf[24];
    int i = 23;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    put(buf + i);
}

void weft__overflow_report(weft__task *t, const char *how)
{
    put("weft: fatal: stack overflow in task ");
    put_u64(t->id);
    if (t->name) {
        put(" \"");
        put(t->name);
        put("\"");
    }
    if (t->fn_name) {
        put(" (");
        put(t->fn_name);
        put(")");
    }
    put(" spawned at ");
    put(t->file ? t->file : "?");
    put(":");
    put_u64((uint64_t)(t->line > 0 ? t->line : 0));
    if (t->func) {
        put(" in ");
        put(t->func);
    }
    put(": ");
    put(how);
    put("; stack size ");
    put_u64(t->stack_size);
    put(" bytes (raise it with weft_go_opts or WEFT_STACK_SIZE)\n");
    signal(SIGABRT, SIG_DFL);
    abort();
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    weft__task *t;
    if (weft__stack_is_guard_fault(si->si_addr, &t))
        weft__overflow_report(t, "guard page hit");
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction) {
            old->sa_sigaction(sig, si, uc);
            return;
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: re-raise with the default disposition. */
    signal(sig, SIG_DFL);
}

int weft__signal_global_init(void)
{
    if (installed)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) != 0 || sigaction(SIGBUS, &sa, &old_bus) != 0)
        return -1;
    installed = true;
    return 0;
}

int weft__signal_thread_init(void)
{
    size_t sz = 64 * 1024;
    altstack = malloc(sz);
    if (!altstack)
        return -1;
    stack_t ss = {.ss_sp = altstack, .ss_size = sz, .ss_flags = 0};
    return sigaltstack(&ss, NULL);
}

void weft__signal_thread_fini(void)
{
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(altstack);
    altstack = NULL;
}
