/* Counting the heap allocations a piece of code makes, for the "no allocation in a training
 * step, a rollout step or an estimator loop" tests. Include it in ONE file of a test binary
 * (it defines malloc, calloc and realloc for the executable).
 *
 * This thread's malloc/calloc/realloc calls are interposed (glibc exports its allocator as
 * __libc_*) and counted between alloc_count_begin() and alloc_count_end(). Calls made from
 * inside the BLAS library are counted apart: OpenBLAS's small-matrix sgemm kernels allocate
 * scratch per call on some CPUs (seen: sgemm_small_kernel_nn_COOPERLAKE), which no caller can
 * avoid. Not available under the sanitizers, which own malloc: ORL_TEST_COUNT_ALLOCATIONS is then
 * undefined and tests skip. */
#ifndef ORL_TESTS_ALLOC_COUNT_H
#define ORL_TESTS_ALLOC_COUNT_H

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define ORL_TEST_COUNT_ALLOCATIONS 1

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

/* volatile: the compiler assumes the builtin malloc touches no program state */
static _Thread_local volatile int alloc_counting;
static _Thread_local volatile long alloc_count;      /* by orl (and the test) */
static _Thread_local volatile long alloc_count_blas; /* by the BLAS */

/* counts one allocation made from the code at caller */
static void alloc_count_one(const void *caller) {
    if (!alloc_counting) return;
    alloc_counting = 0; /* dladdr may allocate: not counted, and no recursion */
    Dl_info info;
    int blas = caller && dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "blas");
    if (blas)
        alloc_count_blas++;
    else
        alloc_count++;
    alloc_counting = 1;
}

void *malloc(size_t size) {
    alloc_count_one(__builtin_return_address(0));
    return __libc_malloc(size);
}
void *calloc(size_t n, size_t size) {
    alloc_count_one(__builtin_return_address(0));
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size) {
    alloc_count_one(__builtin_return_address(0));
    return __libc_realloc(p, size);
}

/* starts counting from zero */
static inline void alloc_count_begin(void) {
    alloc_count = 0;
    alloc_count_blas = 0;
    alloc_counting = 1;
}

/* stops counting; returns the allocations made outside the BLAS since alloc_count_begin */
static inline long alloc_count_end(void) {
    alloc_counting = 0;
    return alloc_count;
}

#endif
#endif
