/* PCG32 written from O'Neill's published description (PCG-XSH-RR with a 64-bit LCG), and the
 * draws built on it. Unbiased bounded integers use the rejection threshold of the reference
 * pcg32_boundedrand_r: reject the 2^32 mod bound lowest outputs. The array of float normals
 * (orl_rng_normal_fill) is Box-Muller in float with its own logarithm and sine/cosine
 * polynomials (Cephes' logf, sinf, cosf coefficients), written as fixed-length lane loops with
 * no branches and no library calls so the compiler turns them into vector code; every lane does
 * the same IEEE operations in the same order (no fused multiply-add), so the values do not
 * depend on the vector width the compiler chose (CMakeLists.txt compiles this file with
 * -fno-math-errno: an errno path for sqrtf would keep the block scalar; the values are the same).
 */
#include "core/fastmath.h"
#include "orl/rng.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#define PCG_MULT 6364136223846793005ULL

uint32_t orl_rng_u32(orl_rng *rng) {
    uint64_t old = rng->state;
    rng->state = old * PCG_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void orl_rng_seed(orl_rng *rng, uint64_t seed, uint64_t stream) {
    rng->state = 0u;
    rng->inc = (stream << 1u) | 1u;
    rng->spare = 0.0;
    rng->has_spare = 0;
    orl_rng_u32(rng);
    rng->state += seed;
    orl_rng_u32(rng);
}

uint64_t orl_rng_u64(orl_rng *rng) {
    uint64_t hi = orl_rng_u32(rng);
    return (hi << 32) | orl_rng_u32(rng);
}

double orl_rng_uniform(orl_rng *rng) {
    return (double)(orl_rng_u64(rng) >> 11) * 0x1.0p-53;
}

uint32_t orl_rng_below(orl_rng *rng, uint32_t bound) {
    assert(bound > 0);
    uint32_t threshold = (uint32_t)(-bound) % bound; /* 2^32 mod bound */
    for (;;) {
        uint32_t r = orl_rng_u32(rng);
        if (r >= threshold) return r % bound;
    }
}

int64_t orl_rng_range(orl_rng *rng, int64_t lo, int64_t hi) {
    assert(lo <= hi);
    uint64_t span = (uint64_t)hi - (uint64_t)lo; /* number of values minus one */
    if (span < UINT32_MAX) return lo + (int64_t)orl_rng_below(rng, (uint32_t)(span + 1));
    if (span == UINT64_MAX) return (int64_t)orl_rng_u64(rng);
    /* 64-bit rejection with the same threshold rule */
    uint64_t bound = span + 1;
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = orl_rng_u64(rng);
        if (r >= threshold) return (int64_t)((uint64_t)lo + r % bound);
    }
}

double orl_rng_normal(orl_rng *rng) {
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    /* 1 - u lies in (0, 1], so the log is finite */
    double u1 = 1.0 - orl_rng_uniform(rng);
    double u2 = orl_rng_uniform(rng);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 2.0 * 3.14159265358979323846 * u2;
    rng->spare = radius * sin(angle);
    rng->has_spare = 1;
    return radius * cos(angle);
}

int32_t orl_rng_categorical(orl_rng *rng, const double *p, int32_t n) {
    assert(n > 0);
    double total = 0.0;
    for (int32_t i = 0; i < n; i++) total += p[i];
    assert(total > 0.0);
    double u = orl_rng_uniform(rng) * total;
    double acc = 0.0;
    int32_t last = 0;
    for (int32_t i = 0; i < n; i++) {
        if (p[i] <= 0.0) continue;
        acc += p[i];
        last = i;
        if (u < acc) return i;
    }
    return last; /* rounding left u at the total: the last positive entry */
}

/* ---- float normals for whole arrays ---- */

#define NORMAL_LANES 16 /* Box-Muller pairs per block */

static inline float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* z0 and z1 (NORMAL_LANES) from the 24-bit uniforms k1, k2: radius sqrt(-2 ln u1) with
 * u1 = (k1 + 1) 2^-24 in (0, 1], angle 2 pi u2 with u2 = k2 2^-24 in [0, 1);
 * z0 = radius cos(angle), z1 = radius sin(angle) */
ORL_AVX2_CLONES static void box_muller_block(float *restrict z0, float *restrict z1,
                                             const uint32_t *restrict k1,
                                             const uint32_t *restrict k2) {
    for (int i = 0; i < NORMAL_LANES; i++) {
        /* ln u1 (core/fastmath.h) */
        float u1 = (float)(k1[i] + 1u) * 0x1.0p-24f;
        float ln = orl_fast_logf(u1);
        float radius = sqrtf(-2.0f * ln);
        /* angle: quadrant q = round(4 u2), x = u2 - q / 4 in [-1/8, 1/8] exactly, t = 2 pi x */
        float u2 = (float)k2[i] * 0x1.0p-24f;
        int32_t q = (int32_t)(u2 * 4.0f + 0.5f);
        float x = u2 - (float)q * 0.25f;
        float t = x * 6.28318530717958647692f;
        float t2 = t * t;
        float sn = -1.9515295891e-4f;
        sn = sn * t2 + 8.3321608736e-3f;
        sn = sn * t2 - 1.6666654611e-1f;
        sn = sn * t2 * t + t;
        float cs = 2.443315711809948e-5f;
        cs = cs * t2 - 1.388731625493765e-3f;
        cs = cs * t2 + 4.166664568298827e-2f;
        cs = cs * t2 * t2 - 0.5f * t2 + 1.0f;
        /* rotate by q quarter turns: (cos, sin) -> (-sin, cos) per quarter */
        uint32_t qm = (uint32_t)q & 3u;
        uint32_t odd = -(qm & 1u); /* all ones in quarters 1 and 3: swap */
        uint32_t sb = float_bits(sn), cb = float_bits(cs);
        uint32_t c_q = (sb & odd) | (cb & ~odd), s_q = (cb & odd) | (sb & ~odd);
        c_q ^= ((qm ^ (qm >> 1)) & 1u) << 31; /* cos negative in quarters 1 and 2 */
        s_q ^= (qm >> 1) << 31;               /* sin negative in quarters 2 and 3 */
        z0[i] = radius * bits_float(c_q);
        z1[i] = radius * bits_float(s_q);
    }
}

void orl_rng_normal_fill(orl_rng *rng, float *out, int64_t n) {
    assert(rng && (out || n == 0) && n >= 0);
    uint32_t k1[NORMAL_LANES], k2[NORMAL_LANES];
    float z0[NORMAL_LANES], z1[NORMAL_LANES];
    for (int64_t done = 0; done < n; done += 2 * NORMAL_LANES) {
        int64_t left = n - done;
        int pairs = left >= 2 * NORMAL_LANES ? NORMAL_LANES : (int)((left + 1) / 2);
        /* two draws per pair, in order; lanes past the last pair compute on zeros */
        for (int i = 0; i < NORMAL_LANES; i++) {
            k1[i] = i < pairs ? orl_rng_u32(rng) >> 8 : 0u;
            k2[i] = i < pairs ? orl_rng_u32(rng) >> 8 : 0u;
        }
        box_muller_block(z0, z1, k1, k2);
        for (int i = 0; i < pairs; i++) {
            out[done + 2 * i] = z0[i];
            if (done + 2 * i + 1 < n) out[done + 2 * i + 1] = z1[i];
        }
    }
}
