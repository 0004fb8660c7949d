/*
 * sanitize.h — tell ASan and TSan about task switches (sched/ only).
 *
 * ASan keeps per-stack shadow state and "fake stacks"; without
 * __sanitizer_{start,finish}_switch_fiber it mistakes a switch for a stack
 * overflow or reports stale poison.  TSan needs one fiber per task and an
 * explicit switch before the registers change.
 */
#ifndef WEFT_SCHED_SANITIZE_H
#define WEFT_SCHED_SANITIZE_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define WEFT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT__TSAN 1
#endif
#endif

#ifdef WEFT__ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define WEFT__ASAN_START(save, bottom, size) __sanitizer_start_switch_fiber((save), (bottom), (size))
#define WEFT__ASAN_FINISH(save) __sanitizer_finish_switch_fiber((save), NULL, NULL)
#define WEFT__ASAN_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
void __lsan_ignore_object(const void *p);
/* Memory deliberately kept for a leaked task (LeakSanitizer cannot see the
 * reference: it lives on a task stack in an mmap'd slab). */
#define WEFT__LSAN_KEEP(p) __lsan_ignore_object(p)
#else
#define WEFT__LSAN_KEEP(p) ((void)(p))
#define WEFT__ASAN_START(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define WEFT__ASAN_FINISH(save) ((void)(save))
#define WEFT__ASAN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#ifdef WEFT__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define WEFT__TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#define WEFT__TSAN_RELEASE(p) __tsan_release((void *)(p))
#else
#define WEFT__TSAN_ACQUIRE(p) ((void)(p))
#define WEFT__TSAN_RELEASE(p) ((void)(p))
#endif

#endif
