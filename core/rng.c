/* PCG32 written from O'Neill's published description (PCG-XSH-RR with a 64-bit LCG), and the
 * draws built on it. Unbiased bounded integers use the rejection threshold of the reference
 * pcg32_boundedrand_r: reject the 2^32 mod bound lowest outputs. */
#include "orl/rng.h"

#include <assert.h>
#include <math.h>

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
