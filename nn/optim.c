/* The parameter-buffer utilities (copy, Polyak, norm, clipping, finiteness), state-buffer
 * listing for checkpoints, Adam/AdamW, learning-rate schedules and normalisation statistics
 * (the contract is include/orl/nn.h). The Adam update and the Polyak average use AVX2 (chosen at
 * run time) or SSE2 where available with the same IEEE operations in the same order as their
 * scalar tails, so results do not depend on the path. */
#include "nn/internal.h"
#include "orl/nn.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if NN_X86
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#define NN_PI 3.14159265358979323846

/* ---- parameter buffers ---- */

void orl_params_copy(float *dst, const float *src, int64_t n) {
    assert(n >= 0);
    if (n > 0 && dst != src) memmove(dst, src, (size_t)n * sizeof(float));
}

#if NN_X86
/* the Polyak loop eight at a time (the same operations in the same order) */
NN_AVX2 static int64_t polyak_avx2(float *target, const float *src, int64_t n, float keep,
                                   float tau) {
    __m256 vkeep = _mm256_set1_ps(keep), vtau = _mm256_set1_ps(tau);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(target + i,
                         _mm256_add_ps(_mm256_mul_ps(vkeep, _mm256_loadu_ps(target + i)),
                                       _mm256_mul_ps(vtau, _mm256_loadu_ps(src + i))));
    return i;
}
#endif

void orl_params_polyak(float *target, const float *src, int64_t n, float tau) {
    float keep = 1.0f - tau;
    int64_t i = 0;
#if NN_X86
    if (nn_use_avx2()) i = polyak_avx2(target, src, n, keep, tau);
#endif
    for (; i < n; i++) target[i] = keep * target[i] + tau * src[i];
}

double orl_params_norm(const float *x, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
    return sqrt(sum);
}

double orl_params_clip_norm(float *grads, int64_t n, double max_norm) {
    double norm = orl_params_norm(grads, n);
    if (norm > max_norm && norm > 0.0) {
        float scale = (float)(max_norm / norm);
        for (int64_t i = 0; i < n; i++) grads[i] *= scale;
    }
    return norm;
}

int orl_params_finite(const float *x, int64_t n) {
    /* one branch-free pass: x - x is 0 for finite x and NaN for inf and NaN */
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) acc += x[i] - x[i];
    return acc == 0.0f;
}

/* ---- Adam and AdamW ---- */

orl_adam_config orl_adam_defaults(void) {
    orl_adam_config cfg = {.lr = 3e-4f,
                           .beta1 = 0.9f,
                           .beta2 = 0.999f,
                           .eps = 1e-8f,
                           .weight_decay = 0.0f,
                           .decoupled = 0};
    return cfg;
}

void orl_buffer_put(orl_buffer *out, int32_t cap, int32_t *n, const char *prefix, const char *name,
                    void *ptr, int64_t bytes) {
    if (*n < cap) {
        orl_buffer *b = &out[*n];
        if (prefix && prefix[0])
            snprintf(b->name, sizeof b->name, "%s_%s", prefix, name);
        else
            snprintf(b->name, sizeof b->name, "%s", name);
        b->ptr = ptr;
        b->bytes = bytes;
    }
    (*n)++;
}

orl_status orl_adam_bind(orl_adam *opt, const orl_adam_config *cfg, int64_t n, float *moments) {
    assert(opt && cfg && (moments || n == 0));
    memset(opt, 0, sizeof(*opt));
    if (n < 0) ORL_FAIL(ORL_ERR_INPUT, "adam: %lld parameters", (long long)n);
    if (!(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f) || !(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f))
        ORL_FAIL(ORL_ERR_INPUT, "adam: betas (%g, %g) must be in [0, 1)", (double)cfg->beta1,
                 (double)cfg->beta2);
    if (!(cfg->eps >= 0.0f) || !(cfg->weight_decay >= 0.0f) || !isfinite(cfg->lr))
        ORL_FAIL(ORL_ERR_INPUT, "adam: eps %g, weight_decay %g, lr %g", (double)cfg->eps,
                 (double)cfg->weight_decay, (double)cfg->lr);
    /* m then v, each rounded up to whole cache lines */
    size_t half = nn_round((size_t)n);
    if (moments) memset(moments, 0, 2 * half * sizeof(float));
    opt->cfg = *cfg;
    opt->n = n;
    opt->t = 0;
    opt->m = moments;
    opt->v = moments ? moments + half : NULL;
    return ORL_OK;
}

int64_t orl_adam_moment_floats(int64_t n) {
    return n > 0 ? (int64_t)(2 * nn_round((size_t)n)) : 0;
}

orl_status orl_adam_init(orl_adam *opt, const orl_adam_config *cfg, int64_t n) {
    assert(opt && cfg);
    memset(opt, 0, sizeof(*opt));
    if (n < 0) ORL_FAIL(ORL_ERR_INPUT, "adam: %lld parameters", (long long)n);
    /* m and v in one allocation */
    float *mem = nn_alloc(2 * nn_round((size_t)n));
    if (!mem)
        ORL_FAIL(ORL_ERR_NOMEM, "adam: cannot allocate moments for %lld parameters", (long long)n);
    orl_status st = orl_adam_bind(opt, cfg, n, mem);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    opt->owns_moments = 1;
    return ORL_OK;
}

void orl_adam_free(orl_adam *opt) {
    if (!opt) return;
    if (opt->owns_moments) free(opt->m);
    memset(opt, 0, sizeof(*opt));
}

/* the constants of one Adam step */
typedef struct adam_consts {
    float b1, b2, one_b1, one_b2, l2, decay, step, inv_sqrt_bc2, eps;
} adam_consts;

#if NN_X86
/* adam_range eight at a time: the same IEEE operations in the same order as its scalar loop */
NN_AVX2 static int64_t adam_avx2(const adam_consts *k, int64_t n, float *params, const float *grads,
                                 float *zero, float *mom, float *var) {
    __m256 vb1 = _mm256_set1_ps(k->b1), vb2 = _mm256_set1_ps(k->b2);
    __m256 vone_b1 = _mm256_set1_ps(k->one_b1), vone_b2 = _mm256_set1_ps(k->one_b2);
    __m256 vl2 = _mm256_set1_ps(k->l2), vdecay = _mm256_set1_ps(k->decay);
    __m256 vstep = _mm256_set1_ps(k->step), vinv = _mm256_set1_ps(k->inv_sqrt_bc2);
    __m256 veps = _mm256_set1_ps(k->eps);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 p0 = _mm256_loadu_ps(params + i);
        __m256 g = _mm256_add_ps(_mm256_loadu_ps(grads + i), _mm256_mul_ps(vl2, p0));
        if (zero) _mm256_storeu_ps(zero + i, _mm256_setzero_ps());
        __m256 p = _mm256_mul_ps(p0, vdecay);
        __m256 mi =
            _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(mom + i)), _mm256_mul_ps(vone_b1, g));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(var + i)),
                                  _mm256_mul_ps(_mm256_mul_ps(vone_b2, g), g));
        _mm256_storeu_ps(mom + i, mi);
        _mm256_storeu_ps(var + i, vi);
        __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), vinv), veps);
        _mm256_storeu_ps(params + i,
                         _mm256_sub_ps(p, _mm256_div_ps(_mm256_mul_ps(vstep, mi), denom)));
    }
    return i;
}
#endif

/* one Adam step over params (n); zero (n, may be NULL, may be grads) is cleared after each
 * element's gradient is read */
static void adam_range(const adam_consts *k, int64_t n, float *params, const float *grads,
                       float *zero, float *mom, float *var) {
    int64_t i = 0;
#if NN_X86
    if (nn_use_avx2()) i = adam_avx2(k, n, params, grads, zero, mom, var);
#endif
#if defined(__SSE2__)
    /* four at a time: the same IEEE operations in the same order as the scalar loop below
     * (no fused multiply-add), so the result does not depend on which loop ran; the per-element
     * sqrt and divide dominate the step and are four times cheaper as packed instructions */
    {
        __m128 vb1 = _mm_set1_ps(k->b1), vb2 = _mm_set1_ps(k->b2);
        __m128 vone_b1 = _mm_set1_ps(k->one_b1), vone_b2 = _mm_set1_ps(k->one_b2);
        __m128 vl2 = _mm_set1_ps(k->l2), vdecay = _mm_set1_ps(k->decay);
        __m128 vstep = _mm_set1_ps(k->step), vinv = _mm_set1_ps(k->inv_sqrt_bc2);
        __m128 veps = _mm_set1_ps(k->eps);
        for (; i + 4 <= n; i += 4) {
            __m128 p0 = _mm_loadu_ps(params + i);
            __m128 g = _mm_add_ps(_mm_loadu_ps(grads + i), _mm_mul_ps(vl2, p0));
            if (zero) _mm_storeu_ps(zero + i, _mm_setzero_ps());
            __m128 p = _mm_mul_ps(p0, vdecay);
            __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(mom + i)), _mm_mul_ps(vone_b1, g));
            __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(var + i)),
                                   _mm_mul_ps(_mm_mul_ps(vone_b2, g), g));
            _mm_storeu_ps(mom + i, mi);
            _mm_storeu_ps(var + i, vi);
            __m128 denom = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), vinv), veps);
            _mm_storeu_ps(params + i, _mm_sub_ps(p, _mm_div_ps(_mm_mul_ps(vstep, mi), denom)));
        }
    }
#endif
    for (; i < n; i++) {
        float g = grads[i] + k->l2 * params[i];
        if (zero) zero[i] = 0.0f;
        float p = params[i] * k->decay;
        float mi = k->b1 * mom[i] + k->one_b1 * g;
        float vi = k->b2 * var[i] + k->one_b2 * g * g;
        mom[i] = mi;
        var[i] = vi;
        params[i] = p - k->step * mi / (sqrtf(vi) * k->inv_sqrt_bc2 + k->eps);
    }
}

/* advances t and fills the step's constants */
static adam_consts adam_begin(orl_adam *opt, float lr) {
    const orl_adam_config *cfg = &opt->cfg;
    if (lr < 0.0f) lr = cfg->lr;
    opt->t += 1;
    /* PyTorch: step = lr / (1 - b1^t); denom = sqrt(v) / sqrt(1 - b2^t) + eps */
    double bc1 = 1.0 - pow((double)cfg->beta1, (double)opt->t);
    double bc2 = 1.0 - pow((double)cfg->beta2, (double)opt->t);
    adam_consts k;
    k.step = (float)((double)lr / bc1);
    k.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    k.b1 = cfg->beta1, k.b2 = cfg->beta2, k.eps = cfg->eps;
    k.one_b1 = 1.0f - k.b1, k.one_b2 = 1.0f - k.b2;
    float wd = cfg->weight_decay;
    k.l2 = cfg->decoupled ? 0.0f : wd;
    k.decay = cfg->decoupled ? 1.0f - lr * wd : 1.0f;
    return k;
}

void orl_adam_step(orl_adam *opt, float *params, const float *grads, float lr) {
    assert(opt && params && grads);
    adam_consts k = adam_begin(opt, lr);
    adam_range(&k, opt->n, params, grads, NULL, opt->m, opt->v);
}

void nn_adam_step_zero(orl_adam *opt, float *params, float *grads, float lr) {
    assert(opt && params && grads);
    adam_consts k = adam_begin(opt, lr);
    adam_range(&k, opt->n, params, grads, grads, opt->m, opt->v);
}

/* ---- learning-rate schedules ---- */

float orl_schedule_lr(const orl_schedule *s, int64_t step) {
    assert(s);
    if (step < 0) step = 0;
    if (s->warmup > 0 && step < s->warmup)
        return (float)((double)s->base * (double)step / (double)s->warmup);
    if (s->kind == ORL_SCHEDULE_CONSTANT) return s->base;
    int64_t span = s->total - s->warmup;
    double progress = span > 0 ? (double)(step - s->warmup) / (double)span : 1.0;
    if (progress > 1.0) progress = 1.0;
    double base = s->base, lo = s->min;
    if (s->kind == ORL_SCHEDULE_COSINE)
        return (float)(lo + (base - lo) * 0.5 * (1.0 + cos(NN_PI * progress)));
    return (float)(base + (lo - base) * progress);
}

/* ---- normalisation statistics ---- */

static orl_status normalizer_alloc(orl_normalizer *nm, int32_t dim) {
    memset(nm, 0, sizeof(*nm));
    if (dim < 1) ORL_FAIL(ORL_ERR_INPUT, "normalizer: dim is %d, expected >= 1", dim);
    size_t half = nn_round((size_t)dim);
    float *mem = nn_alloc(2 * half);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "normalizer: cannot allocate %d dimensions", dim);
    nm->dim = dim;
    nm->mean = mem;
    nm->std = mem + half;
    return ORL_OK;
}

orl_status orl_normalizer_fit(orl_normalizer *nm, const float *x, int64_t n, int32_t dim,
                              float eps) {
    assert(nm && (x || n == 0));
    if (n < 1) {
        memset(nm, 0, sizeof(*nm));
        ORL_FAIL(ORL_ERR_INPUT, "normalizer: no rows to fit");
    }
    ORL_TRY(normalizer_alloc(nm, dim));
    /* two row-major passes in double: the mean, then the (population) variance about it */
    double *acc = calloc(2 * (size_t)dim, sizeof(double));
    if (!acc) {
        orl_normalizer_free(nm);
        ORL_FAIL(ORL_ERR_NOMEM, "normalizer: cannot allocate %d dimensions", dim);
    }
    double *mean = acc, *sq = acc + dim;
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < dim; j++) mean[j] += (double)x[i * dim + j];
    for (int32_t j = 0; j < dim; j++) mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < dim; j++) {
            double d = (double)x[i * dim + j] - mean[j];
            sq[j] += d * d;
        }
    for (int32_t j = 0; j < dim; j++) {
        double sd = sqrt(sq[j] / (double)n);
        if (!isfinite(mean[j]) || !isfinite(sd)) {
            free(acc);
            orl_normalizer_free(nm);
            ORL_FAIL(ORL_ERR_NUMERIC, "normalizer: column %d has a non-finite mean or std", j);
        }
        nm->mean[j] = (float)mean[j];
        nm->std[j] = sd < (double)eps ? eps : (float)sd;
    }
    free(acc);
    return ORL_OK;
}

orl_status orl_normalizer_identity(orl_normalizer *nm, int32_t dim) {
    assert(nm);
    ORL_TRY(normalizer_alloc(nm, dim));
    for (int32_t j = 0; j < dim; j++) nm->mean[j] = 0.0f, nm->std[j] = 1.0f;
    return ORL_OK;
}

void orl_normalizer_free(orl_normalizer *nm) {
    if (!nm) return;
    free(nm->mean);
    memset(nm, 0, sizeof(*nm));
}

#if NN_X86
/* orl_normalizer_apply's rows eight columns at a time (the same subtraction and division);
 * returns the columns done in every row */
NN_AVX2 static int32_t normalizer_avx2(const orl_normalizer *nm, const float *x, int64_t n,
                                       float *y) {
    int32_t dim = nm->dim, done = dim / 8 * 8;
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < done; j += 8)
            _mm256_storeu_ps(y + i * dim + j,
                             _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i * dim + j),
                                                         _mm256_loadu_ps(nm->mean + j)),
                                           _mm256_loadu_ps(nm->std + j)));
    return done;
}
#endif

void orl_normalizer_apply(const orl_normalizer *nm, const float *x, int64_t n, float *y) {
    assert(nm && (n == 0 || (x && y)));
    int32_t dim = nm->dim;
#if NN_X86
    if (dim >= 8 && nn_use_avx2()) {
        int32_t done = normalizer_avx2(nm, x, n, y);
        for (int64_t i = 0; i < n; i++)
            for (int32_t j = done; j < dim; j++)
                y[i * dim + j] = (x[i * dim + j] - nm->mean[j]) / nm->std[j];
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < dim; j++)
            y[i * dim + j] = (x[i * dim + j] - nm->mean[j]) / nm->std[j];
}
