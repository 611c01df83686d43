/* orl_rng: the PCG32 generator (O'Neill 2014, pcg32 = PCG-XSH-RR 64/32) with explicit state.
 *
 * Nothing in orl draws from a hidden global generator: every random function takes an
 * orl_rng. The same seed and stream give the same sequence on every machine. */
#ifndef ORL_RNG_H
#define ORL_RNG_H

#include <stdint.h>

typedef struct orl_rng {
    uint64_t state; /* current LCG state */
    uint64_t inc;   /* stream selector, always odd */
    double spare;   /* second normal deviate of the last Box-Muller pair */
    int has_spare;
} orl_rng;

/* seeds as pcg32_srandom_r(seed, stream): the reference sequence for (42, 54) starts
 * 0xa15c02b7 0x7b47f409 0xba1d3330 ... */
void orl_rng_seed(orl_rng *rng, uint64_t seed, uint64_t stream);

/* next 32 uniform bits */
uint32_t orl_rng_u32(orl_rng *rng);

/* 64 uniform bits from two draws (high word first) */
uint64_t orl_rng_u64(orl_rng *rng);

/* uniform double in [0, 1) with 53 random bits */
double orl_rng_uniform(orl_rng *rng);

/* uniform integer in [0, bound) without modulo bias; bound > 0 */
uint32_t orl_rng_below(orl_rng *rng, uint32_t bound);

/* uniform integer in [lo, hi] (inclusive) without modulo bias; lo <= hi */
int64_t orl_rng_range(orl_rng *rng, int64_t lo, int64_t hi);

/* standard normal deviate (Box-Muller; the pair's second value is kept in the state) */
double orl_rng_normal(orl_rng *rng);

/* out (n) standard normal floats: Box-Muller pairs in float (z = r cos, r sin with
 * r = sqrt(-2 ln u1), u1 = (k1 + 1) 2^-24, angle 2 pi k2 2^-24, k1 and k2 the top 24 bits of two
 * orl_rng_u32 draws per pair, in order; an odd n drops the last pair's second value), through
 * vector code; |z| <= 5.77 (the tail past it has probability 8e-9). Absolute error against the
 * same pair in double: under 1e-6 |z|. The same seed gives the same values on every machine;
 * independent of orl_rng_normal's kept second value. */
void orl_rng_normal_fill(orl_rng *rng, float *out, int64_t n);

/* index i drawn with probability p[i] / sum(p); p (n), non-negative, sum > 0 */
int32_t orl_rng_categorical(orl_rng *rng, const double *p, int32_t n);

#endif
