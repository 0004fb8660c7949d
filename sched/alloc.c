/*
 * alloc.c — every allocation, mapping and thread the runtime makes that can
 * fail gracefully goes through here, so tests can replace the allocator and
 * make the Nth call fail (libuv's uv_replace_allocator, neco's fail
 * counters).  The few places that cannot report failure (a timer heap
 * growing under a lock) use libc directly and abort on exhaustion, as Go
 * throws; they are named in docs/misuse.md.
 */
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

static struct weft_allocator A = {malloc, calloc, realloc, free};
static weft__aword fail_countdown[WEFT_FAIL_SITES];

/* true if this call must fail (the countdown at site just reached zero). */
static bool injected(enum weft_fail_site site)
{
    for (;;) {
        AO_t n = weft__load_acq(&fail_countdown[site]);
        if (WEFT__LIKELY(n == 0))
            return false;
        if (weft__cas_full(&fail_countdown[site], n, n - 1))
            return n == 1;
    }
}

bool weft__fail_injected(enum weft_fail_site site) { return injected(site); }

int weft_fail_nth(enum weft_fail_site site, long nth)
{
    if ((unsigned)site >= WEFT_FAIL_SITES || nth < 0)
        return EINVAL;
    weft__store_full(&fail_countdown[site], (AO_t)nth);
    return 0;
}

int weft_set_allocator(const struct weft_allocator *a)
{
    if (a && (!a->malloc || !a->calloc || !a->realloc || !a->free))
        return EINVAL;
    if (weft__runtime_running())
        return EBUSY;
    A = a ? *a : (struct weft_allocator){malloc, calloc, realloc, free};
    return 0;
}

void *weft__malloc(size_t n)
{
    if (injected(WEFT_FAIL_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return A.malloc(n);
}

void *weft__calloc(size_t n, size_t size)
{
    if (injected(WEFT_FAIL_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return A.calloc(n, size);
}

void *weft__realloc(void *p, size_t n)
{
    if (injected(WEFT_FAIL_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return A.realloc(p, n);
}

void weft__free(void *p) { A.free(p); }

void *weft__mmap(size_t len, int flags)
{
    if (injected(WEFT_FAIL_MMAP)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
}

int weft__thread_create(pthread_t *th, void *(*fn)(void *), void *arg)
{
    if (injected(WEFT_FAIL_THREAD))
        return EAGAIN;
    int r = pthread_create(th, NULL, fn, arg);
    if (r == 0)
        weft__thread_made();
    return r;
}
