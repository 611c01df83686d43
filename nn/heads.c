/* Heads over a network's raw output (tanh action, diagonal Gaussian, tanh-squashed Gaussian,
 * categorical) and the regression losses (MSE, Huber, expectile, weighted NLL).
 *
 * Pure functions over float arrays: no allocation, no state, no printing. Per-element math is
 * done in double and stored as float, except the tanh of the deterministic head: float, a
 * rational approximation in vector code (tanh_rational, within 4e-7 of tanh); backward
 * functions accumulate (+=). The MLP itself, the
 * VAE and ensembles live in nn.c, vae.c and ensemble.c. */
#include "core/fastmath.h"
#include "orl/heads.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453 /* log(2 pi) */
#define LOG_2   0.6931471805599453

/* ---- shared helpers ---- */

/* log(1 + exp(x)) without overflow */
static double softplus(double x) {
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* log(1 - tanh(z)^2) = 2 (log 2 - z - softplus(-2 z)), stable for any z */
static double log_one_minus_tanh_sq(double z) {
    return 2.0 * (LOG_2 - z - softplus(-2.0 * z));
}

/* centre c and half-width s of dimension j ([-1, 1] without bounds) */
static void bound_scale(const float *lo, const float *hi, int32_t j, double *c, double *s) {
    if (!lo || !hi) {
        *c = 0.0;
        *s = 1.0;
        return;
    }
    *c = 0.5 * ((double)hi[j] + (double)lo[j]);
    *s = 0.5 * ((double)hi[j] - (double)lo[j]);
}

/* log_std from the raw value: min + (max - min) (tanh(raw) + 1) / 2, and d log_std / d raw */
static double head_log_std(const orl_gaussian_head *h, double raw, double *dlog_std) {
    double lo = (double)h->log_std_min, hi = (double)h->log_std_max;
    double t = tanh(raw);
    if (dlog_std) *dlog_std = 0.5 * (hi - lo) * (1.0 - t * t);
    return lo + 0.5 * (hi - lo) * (t + 1.0);
}

/* tanh in float: a rational minimax approximation (odd degree 13 over even degree 6, Eigen's
 * float tanh) on x clamped to +-7.9053111 (where it reaches 1 - 2^-24), x itself below 4e-4;
 * within 4e-7 of tanh (2.7e-7 relative), +-1 at +-inf, NaN for NaN, and the same bits for every
 * input whichever loop computes it (separate multiplies and adds, no library call) */
static inline float tanh_rational(float x) {
    /* branch-free selects on the bits (ternaries on floats keep GCC from vectorizing) */
    const float lim = 7.90531110763549805f;
    uint32_t xb, lb, cb, tb;
    memcpy(&xb, &x, sizeof xb);
    memcpy(&lb, &lim, sizeof lb);
    uint32_t over = -(uint32_t)((xb & 0x7fffffffu) > lb); /* |x| > lim (and NaN: kept below) */
    uint32_t nan = -(uint32_t)((xb & 0x7fffffffu) > 0x7f800000u);
    over &= ~nan;
    cb = (xb & ~over) | (((xb & 0x80000000u) | lb) & over);
    float c;
    memcpy(&c, &cb, sizeof c);
    float x2 = c * c;
    float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = x2 * p + -8.60467152213735e-11f;
    p = x2 * p + 5.12229709037114e-08f;
    p = x2 * p + 1.48572235717979e-05f;
    p = x2 * p + 6.37261928875436e-04f;
    p = x2 * p + 4.89352455891786e-03f;
    p = c * p;
    float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = x2 * q + 2.26843463243900e-03f;
    q = x2 * q + 4.89352518554385e-03f;
    float t = p / q;
    memcpy(&tb, &t, sizeof tb);
    uint32_t tiny = -(uint32_t)((xb & 0x7fffffffu) < 0x39d1b717u); /* |x| < 4e-4 */
    tb = (xb & tiny) | (tb & ~tiny);
    memcpy(&t, &tb, sizeof t);
    return t;
}

/* t (n) = tanh_rational(u (n)), in vector code (an AVX2 clone on x86); t may be u */
ORL_AVX2_CLONES_VEC static void tanh_array(float *t, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) t[i] = tanh_rational(u[i]);
}

void orl_tanh_fill(float *t, const float *u, int64_t n) {
    assert(n >= 0 && (n == 0 || (t && u)));
    tanh_array(t, u, n);
}

/* ---- deterministic tanh action head ---- */

void orl_tanh_head_forward(float *act, const float *u, const float *lo, const float *hi,
                           int32_t batch, int32_t act_dim) {
    /* the tanh of every element in one vector pass (act may be u itself), then the bounds */
    tanh_array(act, u, (int64_t)batch * act_dim);
    for (int32_t b = 0; b < batch; b++) {
        for (int32_t j = 0; j < act_dim; j++) {
            size_t i = (size_t)b * (size_t)act_dim + (size_t)j;
            double c, s;
            bound_scale(lo, hi, j, &c, &s);
            act[i] = (float)(c + s * (double)act[i]);
        }
    }
}

void orl_tanh_head_backward(float *du, const float *dact, const float *u, const float *lo,
                            const float *hi, int32_t batch, int32_t act_dim) {
    /* tanh(u) in vector passes over TANH_CHUNK elements into a stack buffer, then the rest */
    enum { TANH_CHUNK = 256 };
    float t[TANH_CHUNK];
    int64_t n = (int64_t)batch * act_dim;
    for (int64_t i0 = 0; i0 < n; i0 += TANH_CHUNK) {
        int64_t m = n - i0 < TANH_CHUNK ? n - i0 : TANH_CHUNK;
        tanh_array(t, u + i0, m);
        for (int64_t k = 0; k < m; k++) {
            int64_t i = i0 + k;
            double c, s;
            bound_scale(lo, hi, (int32_t)(i % act_dim), &c, &s);
            double ti = (double)t[k];
            du[i] += (float)((double)dact[i] * s * (1.0 - ti * ti));
        }
    }
}

/* ---- diagonal Gaussian ---- */

void orl_gaussian_log_std(const orl_gaussian_head *h, float *log_std, const float *out,
                          int32_t batch) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *raw = out + (size_t)b * 2 * (size_t)A + (size_t)A;
        for (int32_t j = 0; j < A; j++)
            log_std[(size_t)b * (size_t)A + (size_t)j] =
                (float)head_log_std(h, (double)raw[j], NULL);
    }
}

void orl_gaussian_log_prob_forward(const orl_gaussian_head *h, float *logp, const float *out,
                                   const float *act, int32_t batch) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *mean = out + (size_t)b * 2 * (size_t)A;
        const float *raw = mean + A;
        const float *a = act + (size_t)b * (size_t)A;
        double sum = 0.0;
        for (int32_t j = 0; j < A; j++) {
            double ls = head_log_std(h, (double)raw[j], NULL);
            double e = ((double)a[j] - (double)mean[j]) * exp(-ls);
            sum += -0.5 * e * e - ls - 0.5 * LOG_2PI;
        }
        logp[b] = (float)sum;
    }
}

void orl_gaussian_log_prob_backward(const orl_gaussian_head *h, float *dout, const float *dlogp,
                                    const float *out, const float *act, int32_t batch) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *mean = out + (size_t)b * 2 * (size_t)A;
        const float *raw = mean + A;
        const float *a = act + (size_t)b * (size_t)A;
        float *dmean = dout + (size_t)b * 2 * (size_t)A;
        float *draw = dmean + A;
        double g = (double)dlogp[b];
        for (int32_t j = 0; j < A; j++) {
            double dls_draw;
            double ls = head_log_std(h, (double)raw[j], &dls_draw);
            double inv_std = exp(-ls);
            double e = ((double)a[j] - (double)mean[j]) * inv_std;
            /* d logp / d mean = e / std, d logp / d log_std = e^2 - 1 */
            dmean[j] += (float)(g * e * inv_std);
            draw[j] += (float)(g * (e * e - 1.0) * dls_draw);
        }
    }
}

void orl_gaussian_entropy_forward(const orl_gaussian_head *h, float *entropy, const float *out,
                                  int32_t batch) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *raw = out + (size_t)b * 2 * (size_t)A + (size_t)A;
        double sum = 0.0;
        for (int32_t j = 0; j < A; j++)
            sum += head_log_std(h, (double)raw[j], NULL) + 0.5 * (1.0 + LOG_2PI);
        entropy[b] = (float)sum;
    }
}

void orl_gaussian_entropy_backward(const orl_gaussian_head *h, float *dout, const float *dentropy,
                                   const float *out, int32_t batch) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *raw = out + (size_t)b * 2 * (size_t)A + (size_t)A;
        float *draw = dout + (size_t)b * 2 * (size_t)A + (size_t)A;
        for (int32_t j = 0; j < A; j++) {
            double dls_draw;
            head_log_std(h, (double)raw[j], &dls_draw);
            draw[j] += (float)((double)dentropy[b] * dls_draw);
        }
    }
}

void orl_gaussian_sample(const orl_gaussian_head *h, float *act, const float *out, int32_t batch,
                         orl_rng *rng) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *mean = out + (size_t)b * 2 * (size_t)A;
        const float *raw = mean + A;
        for (int32_t j = 0; j < A; j++) {
            double e = rng ? orl_rng_normal(rng) : 0.0;
            double ls = head_log_std(h, (double)raw[j], NULL);
            act[(size_t)b * (size_t)A + (size_t)j] = (float)((double)mean[j] + exp(ls) * e);
        }
    }
}

/* ---- tanh-squashed Gaussian ---- */

void orl_normal_fill(float *eps, int64_t n, orl_rng *rng) {
    orl_rng_normal_fill(rng, eps, n);
}

void orl_tanh_gaussian_sample_forward(const orl_gaussian_head *h, float *act, float *logp,
                                      const float *out, const float *eps, int32_t batch) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *mean = out + (size_t)b * 2 * (size_t)A;
        const float *raw = mean + A;
        double sum = 0.0;
        for (int32_t j = 0; j < A; j++) {
            size_t i = (size_t)b * (size_t)A + (size_t)j;
            double c, s;
            bound_scale(h->lo, h->hi, j, &c, &s);
            double e = eps ? (double)eps[i] : 0.0;
            double ls = head_log_std(h, (double)raw[j], NULL);
            double z = (double)mean[j] + exp(ls) * e;
            act[i] = (float)(c + s * tanh(z));
            sum += -0.5 * e * e - ls - 0.5 * LOG_2PI - log_one_minus_tanh_sq(z) - log(s);
        }
        if (logp) logp[b] = (float)sum;
    }
}

void orl_tanh_gaussian_sample_backward(const orl_gaussian_head *h, float *dout, const float *dact,
                                       const float *dlogp, const float *out, const float *eps,
                                       int32_t batch) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *mean = out + (size_t)b * 2 * (size_t)A;
        const float *raw = mean + A;
        float *dmean = dout + (size_t)b * 2 * (size_t)A;
        float *draw = dmean + A;
        double gl = dlogp ? (double)dlogp[b] : 0.0;
        for (int32_t j = 0; j < A; j++) {
            size_t i = (size_t)b * (size_t)A + (size_t)j;
            double c, s;
            bound_scale(h->lo, h->hi, j, &c, &s);
            double e = eps ? (double)eps[i] : 0.0;
            double dls_draw;
            double ls = head_log_std(h, (double)raw[j], &dls_draw);
            double std = exp(ls);
            double y = tanh((double)mean[j] + std * e);
            /* with eps fixed, logp depends on z through -log(1 - tanh(z)^2) (derivative 2 y)
             * and directly on log_std through -log_std; act depends on z through s tanh(z) */
            double ga = dact ? (double)dact[i] : 0.0;
            double dz = ga * s * (1.0 - y * y) + gl * 2.0 * y;
            dmean[j] += (float)dz;
            draw[j] += (float)((dz * std * e - gl) * dls_draw);
        }
    }
}

/* dimensions whose log half-width orl_tanh_gaussian_log_prob_forward keeps on the stack */
#define LOG_S_CACHE 64

/* y = clipped (act - c) / s, z = atanh(y) for a given action */
static double given_pre_tanh(double a, double c, double s) {
    double y = (a - c) / s;
    if (y > ORL_TANH_CLIP) y = ORL_TANH_CLIP;
    if (y < -ORL_TANH_CLIP) y = -ORL_TANH_CLIP;
    return atanh(y);
}

void orl_tanh_gaussian_log_prob_forward(const orl_gaussian_head *h, float *logp, const float *out,
                                        const float *act, int32_t batch) {
    int32_t A = h->act_dim;
    /* log s of each dimension once per call, not once per row (the same value either way) */
    double log_s[LOG_S_CACHE];
    for (int32_t j = 0; j < A && j < LOG_S_CACHE; j++) {
        double c, s;
        bound_scale(h->lo, h->hi, j, &c, &s);
        log_s[j] = log(s);
    }
    for (int32_t b = 0; b < batch; b++) {
        const float *mean = out + (size_t)b * 2 * (size_t)A;
        const float *raw = mean + A;
        const float *a = act + (size_t)b * (size_t)A;
        double sum = 0.0;
        for (int32_t j = 0; j < A; j++) {
            double c, s;
            bound_scale(h->lo, h->hi, j, &c, &s);
            double z = given_pre_tanh((double)a[j], c, s);
            double ls = head_log_std(h, (double)raw[j], NULL);
            double e = (z - (double)mean[j]) * exp(-ls);
            sum += -0.5 * e * e - ls - 0.5 * LOG_2PI - log_one_minus_tanh_sq(z) -
                   (j < LOG_S_CACHE ? log_s[j] : log(s));
        }
        logp[b] = (float)sum;
    }
}

void orl_tanh_gaussian_log_prob_backward(const orl_gaussian_head *h, float *dout,
                                         const float *dlogp, const float *out, const float *act,
                                         int32_t batch) {
    int32_t A = h->act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float *mean = out + (size_t)b * 2 * (size_t)A;
        const float *raw = mean + A;
        const float *a = act + (size_t)b * (size_t)A;
        float *dmean = dout + (size_t)b * 2 * (size_t)A;
        float *draw = dmean + A;
        double g = (double)dlogp[b];
        for (int32_t j = 0; j < A; j++) {
            double c, s;
            bound_scale(h->lo, h->hi, j, &c, &s);
            double z = given_pre_tanh((double)a[j], c, s);
            double dls_draw;
            double ls = head_log_std(h, (double)raw[j], &dls_draw);
            double inv_std = exp(-ls);
            double e = (z - (double)mean[j]) * inv_std;
            dmean[j] += (float)(g * e * inv_std);
            draw[j] += (float)(g * (e * e - 1.0) * dls_draw);
        }
    }
}

/* ---- the given-action log-density in float (training) ---- */

/* e^x for x in [-80, 80] in float: x = n ln 2 + r, |r| <= ln 2 / 2, e^r by Cephes' expf
 * polynomial (within 2 ulp), times 2^n by the exponent bits; n by the round-to-nearest of
 * adding and subtracting 1.5 2^23 (no floor call, so it vectorises) */
static inline float exp_poly(float x) {
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    uint32_t sb = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &sb, sizeof scale);
    return y * scale;
}

/* the elementwise part of the given-action density over n elements (row-major (rows, A)
 * flattened): from the action a, the bounds lo and hi of its dimension (c -+ s), the inverse
 * half-width inv_s, the mean and the raw log-std,
 *   u = 1 - y = (hi - a) / s and v = 1 + y = (a - lo) / s, y = (a - c) / s, each clipped to
 *   [1e-6, 2 - 1e-6] (the clip of y to +-ORL_TANH_CLIP),
 *   z = atanh(y) = (ln v - ln u) / 2, log(1 - tanh(z)^2) = ln(1 - y^2) = ln u + ln v,
 *   ls = min + (max - min) (tanh(raw) + 1) / 2, e = (z - mean) e^-ls,
 * (tanh(raw) + 1 and 1 - tanh(raw)^2 from e^-2|raw|, accurate where tanh saturates),
 * lp = -e^2 / 2 - ls - ln u - ln v (the row's sum adds the constants), gm = d lp / d mean =
 * e e^-ls and gr = d lp / d raw = (e^2 - 1) d ls / d raw. hi - a and a - lo are exact near
 * the bound they approach (Sterbenz), so u and v keep their relative accuracy there, where y
 * itself would lose it in float */
ORL_AVX2_CLONES_VEC static void
given_log_prob_elements(float *restrict lp, float *restrict gm, float *restrict gr,
                        const float *restrict a, const float *restrict lo, const float *restrict hi,
                        const float *restrict inv_s, const float *restrict mean,
                        const float *restrict raw, float ls_lo, float ls_half, int64_t n) {
    const float small = (float)(1.0 - ORL_TANH_CLIP), big = (float)(1.0 + ORL_TANH_CLIP);
    for (int64_t i = 0; i < n; i++) {
        float u = (hi[i] - a[i]) * inv_s[i], v = (a[i] - lo[i]) * inv_s[i];
        /* the clips by bit selects (ternaries on floats keep GCC from vectorizing) */
        uint32_t ub, vb, sb, bb;
        memcpy(&ub, &u, sizeof ub);
        memcpy(&vb, &v, sizeof vb);
        memcpy(&sb, &small, sizeof sb);
        memcpy(&bb, &big, sizeof bb);
        uint32_t u_lo = -(uint32_t)(u < small), u_hi = -(uint32_t)(u > big);
        uint32_t v_lo = -(uint32_t)(v < small), v_hi = -(uint32_t)(v > big);
        ub = (ub & ~(u_lo | u_hi)) | (sb & u_lo) | (bb & u_hi);
        vb = (vb & ~(v_lo | v_hi)) | (sb & v_lo) | (bb & v_hi);
        memcpy(&u, &ub, sizeof u);
        memcpy(&v, &vb, sizeof v);
        float lu = orl_fast_logf(u), lv = orl_fast_logf(v);
        float z = 0.5f * (lv - lu);
        /* tanh(raw) + 1 and 1 - tanh(raw)^2 from q = e^-2|raw| (no cancellation when tanh
         * saturates): 2 / (1 + q) or 2 q / (1 + q) by the sign, and 4 q / (1 + q)^2 */
        uint32_t rb, mb;
        memcpy(&rb, &raw[i], sizeof rb);
        float arg, lim = -80.0f;
        uint32_t ab = rb & 0x7fffffffu;
        memcpy(&arg, &ab, sizeof arg);
        arg = -2.0f * arg;
        uint32_t tiny = -(uint32_t)(arg < lim);
        memcpy(&ab, &arg, sizeof ab);
        memcpy(&mb, &lim, sizeof mb);
        ab = (ab & ~tiny) | (mb & tiny);
        memcpy(&arg, &ab, sizeof arg);
        float q = exp_poly(arg);
        float p = 1.0f / (1.0f + q);
        float two_p = 2.0f * p, two_qp = two_p * q;
        uint32_t neg = -(rb >> 31), pb, qb;
        memcpy(&pb, &two_p, sizeof pb);
        memcpy(&qb, &two_qp, sizeof qb);
        pb = (pb & ~neg) | (qb & neg);
        float t1;
        memcpy(&t1, &pb, sizeof t1);
        float ls = ls_lo + ls_half * t1;
        float inv_std = exp_poly(-ls);
        float e = (z - mean[i]) * inv_std;
        lp[i] = -0.5f * e * e - ls - (lu + lv);
        gm[i] = e * inv_std;
        gr[i] = (e * e - 1.0f) * (ls_half * (2.0f * two_qp * p));
    }
}

/* rows per chunk of the float log-density: TANH_GIVEN_ELEMS elements on the stack */
#define TANH_GIVEN_ELEMS 512

void orl_tanh_gaussian_log_prob_forward_fast(const orl_gaussian_head *h, float *logp, float *grad,
                                             const float *out, const float *act, int32_t batch) {
    const int32_t A = h->act_dim;
    assert(A >= 1 && batch >= 0);
    if (A > LOG_S_CACHE) { /* wide actions: the double formula (its gradient by the backward) */
        orl_tanh_gaussian_log_prob_forward(h, logp, out, act, batch);
        if (grad) {
            memset(grad, 0, (size_t)batch * 2 * (size_t)A * sizeof *grad);
            float one[1] = {1.0f};
            for (int32_t b = 0; b < batch; b++)
                orl_tanh_gaussian_log_prob_backward(h, grad + (size_t)b * 2 * (size_t)A, one,
                                                    out + (size_t)b * 2 * (size_t)A,
                                                    act + (size_t)b * (size_t)A, 1);
        }
        return;
    }
    const int32_t rows = TANH_GIVEN_ELEMS / A; /* at least 8 */
    /* the chunk's template of centres and inverse half-widths, and each row's constant */
    float lo[TANH_GIVEN_ELEMS], hi[TANH_GIVEN_ELEMS], inv_s[TANH_GIVEN_ELEMS];
    double row_const = -0.5 * LOG_2PI * (double)A;
    for (int32_t j = 0; j < A; j++) {
        double cj, sj;
        bound_scale(h->lo, h->hi, j, &cj, &sj);
        row_const -= log(sj);
        for (int32_t r = 0; r < rows; r++) {
            lo[r * A + j] = h->lo ? h->lo[j] : -1.0f;
            hi[r * A + j] = h->hi ? h->hi[j] : 1.0f;
            inv_s[r * A + j] = (float)(1.0 / sj);
        }
    }
    const float ls_lo = h->log_std_min;
    const float ls_half = 0.5f * (h->log_std_max - h->log_std_min);
    float mean[TANH_GIVEN_ELEMS], raw[TANH_GIVEN_ELEMS];
    float lp[TANH_GIVEN_ELEMS], gm[TANH_GIVEN_ELEMS], gr[TANH_GIVEN_ELEMS];
    for (int32_t b0 = 0; b0 < batch; b0 += rows) {
        int32_t m = batch - b0 < rows ? batch - b0 : rows;
        for (int32_t r = 0; r < m; r++) {
            const float *o = out + (size_t)(b0 + r) * 2 * (size_t)A;
            memcpy(mean + r * A, o, (size_t)A * sizeof *mean);
            memcpy(raw + r * A, o + A, (size_t)A * sizeof *raw);
        }
        given_log_prob_elements(lp, gm, gr, act + (size_t)b0 * (size_t)A, lo, hi, inv_s, mean, raw,
                                ls_lo, ls_half, (int64_t)m * A);
        for (int32_t r = 0; r < m; r++) {
            double sum = row_const;
            for (int32_t j = 0; j < A; j++) sum += (double)lp[r * A + j];
            logp[b0 + r] = (float)sum;
        }
        if (grad)
            for (int32_t r = 0; r < m; r++) {
                float *g = grad + (size_t)(b0 + r) * 2 * (size_t)A;
                memcpy(g, gm + r * A, (size_t)A * sizeof *g);
                memcpy(g + A, gr + r * A, (size_t)A * sizeof *g);
            }
    }
}

void orl_tanh_gaussian_log_prob_backward_fast(float *dout, const float *dlogp, const float *grad,
                                              int32_t batch, int32_t act_dim) {
    const size_t w = 2 * (size_t)act_dim;
    for (int32_t b = 0; b < batch; b++) {
        const float g = dlogp[b];
        float *d = dout + (size_t)b * w;
        const float *q = grad + (size_t)b * w;
        for (size_t k = 0; k < w; k++) d[k] += g * q[k];
    }
}

/* ---- categorical ---- */

/* max and log-sum-exp of one row */
static double row_logsumexp(const float *l, int32_t n) {
    double m = (double)l[0];
    for (int32_t k = 1; k < n; k++)
        if ((double)l[k] > m) m = (double)l[k];
    double sum = 0.0;
    for (int32_t k = 0; k < n; k++) sum += exp((double)l[k] - m);
    return m + log(sum);
}

void orl_categorical_log_softmax(float *logp, const float *logits, int32_t batch, int32_t n) {
    for (int32_t b = 0; b < batch; b++) {
        const float *l = logits + (size_t)b * (size_t)n;
        double lse = row_logsumexp(l, n);
        for (int32_t k = 0; k < n; k++)
            logp[(size_t)b * (size_t)n + (size_t)k] = (float)((double)l[k] - lse);
    }
}

void orl_categorical_log_prob_forward(float *logp, const float *logits, const int32_t *act,
                                      int32_t batch, int32_t n) {
    for (int32_t b = 0; b < batch; b++) {
        const float *l = logits + (size_t)b * (size_t)n;
        assert(act[b] >= 0 && act[b] < n);
        logp[b] = (float)((double)l[act[b]] - row_logsumexp(l, n));
    }
}

void orl_categorical_log_prob_backward(float *dlogits, const float *dlogp, const float *logits,
                                       const int32_t *act, int32_t batch, int32_t n) {
    for (int32_t b = 0; b < batch; b++) {
        const float *l = logits + (size_t)b * (size_t)n;
        float *dl = dlogits + (size_t)b * (size_t)n;
        double lse = row_logsumexp(l, n);
        double g = (double)dlogp[b];
        for (int32_t k = 0; k < n; k++) {
            double p = exp((double)l[k] - lse);
            dl[k] += (float)(g * ((k == act[b] ? 1.0 : 0.0) - p));
        }
    }
}

/* entropy of one row given its log-sum-exp */
static double row_entropy(const float *l, int32_t n, double lse) {
    double h = 0.0;
    for (int32_t k = 0; k < n; k++) {
        double lp = (double)l[k] - lse;
        h -= exp(lp) * lp;
    }
    return h;
}

void orl_categorical_entropy_forward(float *entropy, const float *logits, int32_t batch,
                                     int32_t n) {
    for (int32_t b = 0; b < batch; b++) {
        const float *l = logits + (size_t)b * (size_t)n;
        entropy[b] = (float)row_entropy(l, n, row_logsumexp(l, n));
    }
}

void orl_categorical_entropy_backward(float *dlogits, const float *dentropy, const float *logits,
                                      int32_t batch, int32_t n) {
    for (int32_t b = 0; b < batch; b++) {
        const float *l = logits + (size_t)b * (size_t)n;
        float *dl = dlogits + (size_t)b * (size_t)n;
        double lse = row_logsumexp(l, n);
        double ent = row_entropy(l, n, lse);
        double g = (double)dentropy[b];
        for (int32_t k = 0; k < n; k++) {
            double lp = (double)l[k] - lse;
            dl[k] += (float)(g * (-exp(lp) * (lp + ent)));
        }
    }
}

void orl_categorical_sample(int32_t *act, const float *logits, int32_t batch, int32_t n,
                            orl_rng *rng) {
    for (int32_t b = 0; b < batch; b++) {
        const float *l = logits + (size_t)b * (size_t)n;
        double lse = row_logsumexp(l, n);
        double u = orl_rng_uniform(rng);
        double cdf = 0.0;
        /* rounding can leave the whole cdf just under u: then take the last action with a
         * non-zero probability */
        int32_t pick = -1, last = 0;
        for (int32_t k = 0; k < n; k++) {
            double p = exp((double)l[k] - lse);
            if (p > 0.0) last = k;
            cdf += p;
            if (u < cdf) {
                pick = k;
                break;
            }
        }
        if (pick < 0) pick = last;
        act[b] = pick;
    }
}

void orl_categorical_argmax(int32_t *act, const float *logits, int32_t batch, int32_t n) {
    for (int32_t b = 0; b < batch; b++) {
        const float *l = logits + (size_t)b * (size_t)n;
        int32_t best = 0;
        for (int32_t k = 1; k < n; k++)
            if (l[k] > l[best]) best = k;
        act[b] = best;
    }
}

/* ---- losses ---- */

double orl_loss_mse(float *dpred, const float *pred, const float *target, int64_t n, float scale) {
    double sum = 0.0, inv_n = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)pred[i] - (double)target[i];
        sum += u * u;
        if (dpred) dpred[i] += (float)((double)scale * 2.0 * u * inv_n);
    }
    return sum * inv_n;
}

double orl_loss_td3bc_actor(float *dpi, float *dq, const float *pi, const float *act,
                            const float *q, const float *half, int32_t batch, int32_t act_dim,
                            double alpha, double *lambda, double *bc) {
    double sum_q = 0.0, sum_abs = 0.0;
    for (int32_t b = 0; b < batch; b++) {
        sum_q += (double)q[b];
        sum_abs += fabs((double)q[b]);
    }
    double mean_q = sum_q / batch, lam = alpha == 0.0 ? 0.0 : alpha / (sum_abs / batch);
    /* u = (pi - act) / h: the centre cancels, and a unit half-range divides exactly, so on a
     * [-1, 1] box the loss and gradient are orl_loss_mse's bits */
    double sum = 0.0, inv_n = 1.0 / ((double)batch * (double)act_dim);
    for (int32_t b = 0; b < batch; b++)
        for (int32_t j = 0; j < act_dim; j++) {
            size_t i = (size_t)b * (size_t)act_dim + (size_t)j;
            double h = half ? (double)half[j] : 1.0;
            double u = ((double)pi[i] - (double)act[i]) / h;
            sum += u * u;
            if (dpi) dpi[i] += (float)(2.0 * u * inv_n / h);
        }
    double mse = sum * inv_n;
    if (dq)
        for (int32_t b = 0; b < batch; b++) dq[b] += (float)(-lam / batch);
    if (lambda) *lambda = lam;
    if (bc) *bc = mse;
    return -lam * mean_q + mse;
}

double orl_loss_huber(float *dpred, const float *pred, const float *target, int64_t n, float delta,
                      float scale) {
    double sum = 0.0, inv_n = 1.0 / (double)n, d = (double)delta;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)pred[i] - (double)target[i];
        double g;
        if (fabs(u) <= d) {
            sum += 0.5 * u * u;
            g = u;
        } else {
            sum += d * (fabs(u) - 0.5 * d);
            g = u > 0.0 ? d : -d;
        }
        if (dpred) dpred[i] += (float)((double)scale * g * inv_n);
    }
    return sum * inv_n;
}

double orl_cql_discrete_penalty(float *dq, const float *q, const int32_t *act, int32_t batch,
                                int32_t n, float scale) {
    double sum = 0.0, inv_b = 1.0 / (double)batch;
    for (int32_t b = 0; b < batch; b++) {
        const float *row = q + (size_t)b * (size_t)n;
        double top = (double)row[0];
        for (int32_t a = 1; a < n; a++)
            if ((double)row[a] > top) top = (double)row[a];
        double z = 0.0;
        for (int32_t a = 0; a < n; a++) z += exp((double)row[a] - top);
        double lse = top + log(z);
        sum += lse - (double)row[act[b]];
        if (!dq) continue;
        float *drow = dq + (size_t)b * (size_t)n;
        double g = (double)scale * inv_b;
        for (int32_t a = 0; a < n; a++) {
            double p = exp((double)row[a] - lse) - (a == act[b] ? 1.0 : 0.0);
            drow[a] += (float)(g * p);
        }
    }
    return sum * inv_b;
}

double orl_cql_sampled_penalty(float *dq_ood, float *dq_data, const float *q_ood,
                               const float *log_density, const float *q_data, int32_t batch,
                               int32_t m, float temperature, float scale) {
    double sum = 0.0, inv_b = 1.0 / (double)batch, t = (double)temperature;
    for (int32_t b = 0; b < batch; b++) {
        const float *qr = q_ood + (size_t)b * (size_t)m;
        const float *dr = log_density + (size_t)b * (size_t)m;
        /* the logsumexp of (q - log density) / T with the row maximum subtracted */
        double top = -INFINITY;
        for (int32_t j = 0; j < m; j++) {
            double x = ((double)qr[j] - (double)dr[j]) / t;
            if (x > top) top = x;
        }
        double z = 0.0;
        for (int32_t j = 0; j < m; j++) z += exp(((double)qr[j] - (double)dr[j]) / t - top);
        double lse = top + log(z);
        sum += t * lse - (double)q_data[b];
        double g = (double)scale * inv_b;
        if (dq_data) dq_data[b] += (float)-g;
        if (!dq_ood) continue;
        float *drow = dq_ood + (size_t)b * (size_t)m;
        for (int32_t j = 0; j < m; j++)
            drow[j] += (float)(g * exp(((double)qr[j] - (double)dr[j]) / t - lse));
    }
    return sum * inv_b;
}

double orl_loss_expectile(float *dpred, const float *pred, const float *target, int64_t n,
                          float tau, float scale) {
    double sum = 0.0, inv_n = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)target[i] - (double)pred[i];
        double w = u < 0.0 ? 1.0 - (double)tau : (double)tau;
        sum += w * u * u;
        /* d/dpred of w u^2 with u = target - pred */
        if (dpred) dpred[i] += (float)((double)scale * -2.0 * w * u * inv_n);
    }
    return sum * inv_n;
}

double orl_loss_weighted_nll(float *dlogp, const float *logp, const float *weight, int64_t batch,
                             float scale) {
    double sum = 0.0, inv_b = 1.0 / (double)batch;
    for (int64_t b = 0; b < batch; b++) {
        double w = weight ? (double)weight[b] : 1.0;
        sum -= w * (double)logp[b];
        if (dlogp) dlogp[b] += (float)((double)scale * -w * inv_b);
    }
    return sum * inv_b;
}
