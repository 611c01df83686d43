/* Float math shared by vectorised loops (core/rng.c's normals, nn/heads.c's log-densities):
 * branch-free, separate multiplies and adds, so a loop over them vectorises and gives the same
 * bits in every loop that calls them. Internal (not installed). */
#ifndef ORL_CORE_FASTMATH_H
#define ORL_CORE_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* ORL_AVX2_CLONES before a function with a vectorisable loop: GCC builds an AVX2 clone beside
 * the baseline one and picks it at load time on a CPU that has AVX2 (x86, GCC only; elsewhere
 * nothing). ORL_AVX2_CLONES_VEC also lets the vectoriser's dynamic cost model take loops that
 * the default model declines. Clones run the same operations in the same order: same bits. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__) &&      \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define ORL_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#define ORL_AVX2_CLONES_VEC                                                                        \
    __attribute__((target_clones("avx2", "default"), optimize("vect-cost-model=dynamic")))
#endif
#endif
#ifndef ORL_AVX2_CLONES
#define ORL_AVX2_CLONES
#define ORL_AVX2_CLONES_VEC
#endif

/* ln x for a finite, positive, normal float x: x = 2^e m, m in [sqrt(1/2), sqrt(2)),
 * ln x = e ln 2 + ln(1 + f), f = m - 1, by Cephes' logf polynomial (within 1 ulp) */
static inline float orl_fast_logf(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    int32_t e = (int32_t)(b >> 23) - 127;
    uint32_t mb = (b & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &mb, sizeof m);
    uint32_t big = m > 1.41421356f;
    mb -= big << 23; /* m / 2 when big */
    memcpy(&m, &mb, sizeof m);
    float fe = (float)(e + (int32_t)big);
    float f = m - 1.0f;
    float z = f * f;
    float y = 7.0376836292e-2f;
    y = y * f - 1.1514610310e-1f;
    y = y * f + 1.1676998740e-1f;
    y = y * f - 1.2420140846e-1f;
    y = y * f + 1.4249322787e-1f;
    y = y * f - 1.6668057665e-1f;
    y = y * f + 2.0000714765e-1f;
    y = y * f - 2.4999993993e-1f;
    y = y * f + 3.3333331174e-1f;
    y = y * f * z;
    y = y + -2.12194440e-4f * fe;
    y = y - 0.5f * z;
    return (f + y) + 0.693359375f * fe;
}

#endif
