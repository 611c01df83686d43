/* The MLP on cblas (the contract is include/orl/nn.h; the parameter-buffer utilities, Adam,
 * schedules and normalisers are in nn/optim.c).
 *
 * Every matrix product goes through nn_sgemm (nn/gemm.c: our small-shape kernel where it beats
 * OpenBLAS, cblas_sgemm elsewhere; forward pre = x W^T, backward dW += g^T x and dx = g W);
 * the elementwise work (bias, LayerNorm, activation, and in backward the activation
 * derivative with the bias column sums) is one row-by-row sweep per layer. The bias + ReLU
 * sweep, the ReLU gate with the bias sums and the output bias sums use AVX2 (chosen at run time)
 * or SSE2 where available, with the same IEEE operations in the same order as their scalar
 * tails, so results do not depend on which path ran. ReLU hidden layers without LayerNorm are
 * applied in place (out[l] is pre[l]), and a one-output layer's backward g W (an outer product)
 * is fused with the gate and bias sums of the layer below it. Forward, backward
 * and the optimizer step never allocate: the workspace and the moments are sized once. The
 * plain double-precision reference these kernels are checked against is in tests/test_nn.c.
 *
 * Parameter layout, per layer l in order: w[l] (O_l, I_l), b[l] (O_l), then for hidden layers
 * with layer_norm ln_gain[l] (O_l), ln_bias[l] (O_l). */
#include "nn/internal.h"
#include "orl/nn.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if NN_X86
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#define LN_EPS 1e-5f
#define NN_PI  3.14159265358979323846

/* ---- the MLP ---- */

orl_status orl_mlp_param_count(const orl_mlp_config *cfg, int64_t *n_params) {
    assert(cfg && n_params);
    int32_t n_layers = cfg->n_layers;
    if (n_layers < 1 || n_layers > ORL_MLP_MAX_LAYERS)
        ORL_FAIL(ORL_ERR_INPUT, "mlp config: n_layers is %d, expected 1..%d", n_layers,
                 ORL_MLP_MAX_LAYERS);
    for (int32_t l = 0; l <= n_layers; l++)
        if (cfg->widths[l] < 1)
            ORL_FAIL(ORL_ERR_INPUT, "mlp config: widths[%d] is %d, expected >= 1", l,
                     cfg->widths[l]);
    if ((int)cfg->activation < ORL_ACTIVATION_NONE || cfg->activation > ORL_ACTIVATION_SILU)
        ORL_FAIL(ORL_ERR_INPUT, "mlp config: unknown activation %d", (int)cfg->activation);
    if ((int)cfg->init < ORL_INIT_FAN_IN_UNIFORM || cfg->init > ORL_INIT_ORTHOGONAL)
        ORL_FAIL(ORL_ERR_INPUT, "mlp config: unknown init %d", (int)cfg->init);
    if (!isfinite(cfg->last_scale)) ORL_FAIL(ORL_ERR_INPUT, "mlp config: last_scale is not finite");
    int64_t count = 0;
    for (int32_t l = 0; l < n_layers; l++) {
        int64_t in = cfg->widths[l], out = cfg->widths[l + 1];
        count += out * in + out;
        if (cfg->layer_norm && l < n_layers - 1) count += 2 * out;
    }
    *n_params = count;
    return ORL_OK;
}

orl_status orl_mlp_bind(orl_mlp *m, const orl_mlp_config *cfg, float *params) {
    assert(m && cfg && params);
    int64_t n_params = 0;
    ORL_TRY(orl_mlp_param_count(cfg, &n_params));
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    m->n_params = n_params;
    m->params = params;
    float *p = params;
    int32_t n_layers = cfg->n_layers;
    for (int32_t l = 0; l < n_layers; l++) {
        int64_t in = cfg->widths[l], out = cfg->widths[l + 1];
        m->w[l] = p, p += out * in;
        m->b[l] = p, p += out;
        if (cfg->layer_norm && l < n_layers - 1) {
            m->ln_gain[l] = p, p += out;
            m->ln_bias[l] = p, p += out;
        }
    }
    assert(p - params == n_params);
    return ORL_OK;
}

orl_status orl_mlp_create(orl_mlp *m, const orl_mlp_config *cfg, orl_rng *rng) {
    assert(m && cfg && rng);
    int64_t n_params = 0;
    ORL_TRY(orl_mlp_param_count(cfg, &n_params));
    float *params = nn_alloc((size_t)n_params);
    if (!params)
        ORL_FAIL(ORL_ERR_NOMEM, "mlp: cannot allocate %lld parameters", (long long)n_params);
    orl_status st = orl_mlp_bind(m, cfg, params);
    if (st != ORL_OK) {
        free(params);
        return st;
    }
    m->owns_params = 1;
    orl_mlp_init_params(m, rng);
    return ORL_OK;
}

/* Gram-Schmidt (modified, applied twice for float round-off) over n vectors of length len,
 * vector k at a + k * vec_stride with elements elem_stride apart; n <= len. Equals the Q of a
 * QR decomposition with a positive diagonal R, which is what PyTorch's orthogonal_ returns
 * after its sign correction. */
static void nn_orthonormalize(float *a, int32_t n, int32_t len, int64_t vec_stride,
                              int64_t elem_stride) {
    for (int32_t k = 0; k < n; k++) {
        float *v = a + k * vec_stride;
        for (int pass = 0; pass < 2; pass++) {
            for (int32_t j = 0; j < k; j++) {
                const float *u = a + j * vec_stride;
                double dot = 0.0;
                for (int32_t i = 0; i < len; i++)
                    dot += (double)u[i * elem_stride] * (double)v[i * elem_stride];
                for (int32_t i = 0; i < len; i++)
                    v[i * elem_stride] -= (float)(dot * (double)u[i * elem_stride]);
            }
        }
        double norm = 0.0;
        for (int32_t i = 0; i < len; i++) norm += (double)v[i * elem_stride] * v[i * elem_stride];
        norm = sqrt(norm);
        /* a Gaussian draw is degenerate with probability zero; keep the values finite anyway */
        double inv = norm > 0.0 ? 1.0 / norm : 0.0;
        for (int32_t i = 0; i < len; i++) v[i * elem_stride] = (float)(v[i * elem_stride] * inv);
    }
}

void orl_mlp_init_params(orl_mlp *m, orl_rng *rng) {
    assert(m && m->params && rng);
    const orl_mlp_config *cfg = &m->cfg;
    int32_t n_layers = cfg->n_layers;
    float last_scale = cfg->last_scale == 0.0f ? 1.0f : cfg->last_scale;
    for (int32_t l = 0; l < n_layers; l++) {
        int32_t in = cfg->widths[l], out = cfg->widths[l + 1];
        float *w = m->w[l]; // (O, I)
        float *b = m->b[l]; // (O)
        float scale = l == n_layers - 1 ? last_scale : 1.0f;
        if (cfg->init == ORL_INIT_ORTHOGONAL) {
            for (int64_t i = 0; i < (int64_t)out * in; i++) w[i] = (float)orl_rng_normal(rng);
            if (out >= in) /* tall: orthonormal columns, W^T W = I */
                nn_orthonormalize(w, in, out, 1, in);
            else /* wide: orthonormal rows, W W^T = I */
                nn_orthonormalize(w, out, in, in, 1);
            double gain = cfg->activation == ORL_ACTIVATION_RELU ? sqrt(2.0) : 1.0;
            float g = (float)gain * scale;
            for (int64_t i = 0; i < (int64_t)out * in; i++) w[i] *= g;
            memset(b, 0, (size_t)out * sizeof(float));
        } else {
            double bound = 1.0 / sqrt((double)in);
            for (int64_t i = 0; i < (int64_t)out * in; i++)
                w[i] = (float)((2.0 * orl_rng_uniform(rng) - 1.0) * bound) * scale;
            for (int32_t i = 0; i < out; i++)
                b[i] = (float)((2.0 * orl_rng_uniform(rng) - 1.0) * bound) * scale;
        }
        if (m->ln_gain[l]) {
            for (int32_t i = 0; i < out; i++) m->ln_gain[l][i] = 1.0f, m->ln_bias[l][i] = 0.0f;
        }
    }
}

void orl_mlp_free(orl_mlp *m) {
    if (!m) return;
    if (m->owns_params) free(m->params);
    memset(m, 0, sizeof(*m));
}

/* 1 when hidden layers apply their activation in place (out[l] is pre[l]): ReLU without
 * LayerNorm, whose backward gate reads relu(z) > 0, which holds exactly when z > 0 */
static int relu_in_place(const orl_mlp_config *cfg) {
    return cfg->activation == ORL_ACTIVATION_RELU && !cfg->layer_norm;
}

/* the workspace's float count for cfg and max_batch; the layout orl_mlp_work_bind follows */
static size_t work_floats(const orl_mlp_config *cfg, int32_t max_batch) {
    int32_t n_layers = cfg->n_layers;
    size_t batch = (size_t)max_batch;
    int32_t max_width = 1;
    for (int32_t l = 0; l <= n_layers; l++)
        if (cfg->widths[l] > max_width) max_width = cfg->widths[l];
    size_t total = 0;
    for (int32_t l = 0; l < n_layers; l++) {
        size_t o = batch * (size_t)cfg->widths[l + 1];
        int hidden = l < n_layers - 1;
        total += nn_round(o);                                    /* pre */
        if (hidden && !relu_in_place(cfg)) total += nn_round(o); /* out */
        if (hidden && cfg->layer_norm)
            total += nn_round(o) + 2 * nn_round(batch); /* norm, mean, rstd */
    }
    total += 2 * nn_round(batch * (size_t)max_width);
    return total;
}

orl_status orl_mlp_work_bytes(const orl_mlp_config *cfg, int32_t max_batch, size_t *bytes) {
    assert(cfg && bytes);
    int64_t n_params = 0;
    ORL_TRY(orl_mlp_param_count(cfg, &n_params));
    if (max_batch < 1)
        ORL_FAIL(ORL_ERR_INPUT, "mlp workspace: max_batch is %d, expected >= 1", max_batch);
    *bytes = work_floats(cfg, max_batch) * sizeof(float);
    return ORL_OK;
}

orl_status orl_mlp_work_bind(orl_mlp_work *w, const orl_mlp_config *cfg, int32_t max_batch,
                             void *mem) {
    assert(w && cfg && mem && (uintptr_t)mem % NN_ALIGN == 0);
    memset(w, 0, sizeof(*w));
    size_t bytes = 0;
    ORL_TRY(orl_mlp_work_bytes(cfg, max_batch, &bytes));
    int32_t n_layers = cfg->n_layers;
    size_t batch = (size_t)max_batch;
    int32_t max_width = 1;
    for (int32_t l = 0; l <= n_layers; l++)
        if (cfg->widths[l] > max_width) max_width = cfg->widths[l];
    /* the views in the order work_floats counts them (the output layer's out aliases its pre,
     * and so do in-place ReLU layers') */
    float *p = mem;
    for (int32_t l = 0; l < n_layers; l++) {
        size_t o = batch * (size_t)cfg->widths[l + 1];
        int hidden = l < n_layers - 1;
        w->pre[l] = p, p += nn_round(o);
        if (hidden && !relu_in_place(cfg)) {
            w->out[l] = p, p += nn_round(o);
        } else {
            w->out[l] = w->pre[l];
        }
        if (hidden && cfg->layer_norm) {
            w->norm[l] = p, p += nn_round(o);
            w->ln_mean[l] = p, p += nn_round(batch);
            w->ln_rstd[l] = p, p += nn_round(batch);
        }
    }
    w->grad_a = p, p += nn_round(batch * (size_t)max_width);
    w->grad_b = p, p += nn_round(batch * (size_t)max_width);
    assert((size_t)(p - (float *)mem) * sizeof(float) == bytes);
    w->max_batch = max_batch;
    return ORL_OK;
}

orl_status orl_mlp_work_init(orl_mlp_work *w, const orl_mlp_config *cfg, int32_t max_batch) {
    assert(w && cfg);
    memset(w, 0, sizeof(*w));
    size_t bytes = 0;
    ORL_TRY(orl_mlp_work_bytes(cfg, max_batch, &bytes));
    float *mem = nn_alloc(bytes / sizeof(float));
    if (!mem)
        ORL_FAIL(ORL_ERR_NOMEM, "mlp workspace: cannot allocate %zu floats", bytes / sizeof(float));
    orl_status st = orl_mlp_work_bind(w, cfg, max_batch, mem);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    w->mem = mem;
    return ORL_OK;
}

void orl_mlp_work_free(orl_mlp_work *w) {
    if (!w) return;
    free(w->mem);
    memset(w, 0, sizeof(*w));
}

/* max(z, 0) without a branch: ReLU inputs are positive about half the time, at random, and a
 * mispredicted branch per element costs more than the layer's GEMM at small widths. Clears
 * the bits of any z with the sign bit set (negative, -0, negative NaN). */
static inline float relu_value(float z) {
    uint32_t u;
    memcpy(&u, &z, sizeof(u));
    u &= (u >> 31) - 1u;
    memcpy(&z, &u, sizeof(z));
    return z;
}

/* g if z > 0 else 0, without a branch */
static inline float relu_gate(float g, float z) {
    uint32_t u;
    memcpy(&u, &g, sizeof(u));
    u &= -(uint32_t)(z > 0.0f);
    memcpy(&g, &u, sizeof(g));
    return g;
}

#if NN_X86
/* bias_act_forward's ReLU and identity cases eight at a time (the same operations); returns the
 * columns done in every row */
NN_AVX2 static int32_t bias_act_avx2(float *out, float *pre, const float *bias, int32_t batch,
                                     int32_t width, int relu) {
    int32_t done = width / 8 * 8;
    for (int32_t r = 0; r < batch; r++) {
        float *pr = pre + (int64_t)r * width;
        float *o = out + (int64_t)r * width;
        for (int32_t i = 0; i < done; i += 8) {
            __m256 z = _mm256_add_ps(_mm256_loadu_ps(pr + i), _mm256_loadu_ps(bias + i));
            if (relu) {
                __m256 sign = _mm256_castsi256_ps(_mm256_srai_epi32(_mm256_castps_si256(z), 31));
                if (o != pr) _mm256_storeu_ps(pr + i, z);
                _mm256_storeu_ps(o + i, _mm256_andnot_ps(sign, z));
            } else {
                _mm256_storeu_ps(o + i, z);
                if (o != pr) _mm256_storeu_ps(pr + i, z);
            }
        }
    }
    return done;
}
#endif

/* pre (B, O) holds x W^T; adds the bias, applies the activation into out (B, O) (which may be
 * pre itself for ReLU and the identity) */
static void bias_act_forward(float *out, float *pre, const float *bias, int32_t batch,
                             int32_t width, orl_activation act) {
#if NN_X86
    if ((act == ORL_ACTIVATION_RELU || act == ORL_ACTIVATION_NONE) && width >= 8 && nn_use_avx2()) {
        int32_t done = bias_act_avx2(out, pre, bias, batch, width, act == ORL_ACTIVATION_RELU);
        /* the columns past the last multiple of eight */
        if (done < width)
            for (int32_t r = 0; r < batch; r++)
                for (int32_t i = done; i < width; i++) {
                    float z = pre[(int64_t)r * width + i] + bias[i];
                    pre[(int64_t)r * width + i] = z;
                    out[(int64_t)r * width + i] = act == ORL_ACTIVATION_RELU ? relu_value(z) : z;
                }
        return;
    }
#endif
    for (int32_t r = 0; r < batch; r++) {
        float *pr = pre + (int64_t)r * width;
        float *o = out + (int64_t)r * width;
        switch (act) {
        case ORL_ACTIVATION_RELU: {
            int32_t i = 0;
#if defined(__SSE2__)
            /* the same bit operations as relu_value, four at a time */
            for (; i + 4 <= width; i += 4) {
                __m128 z = _mm_add_ps(_mm_loadu_ps(pr + i), _mm_loadu_ps(bias + i));
                __m128 sign = _mm_castsi128_ps(_mm_srai_epi32(_mm_castps_si128(z), 31));
                if (o != pr) _mm_storeu_ps(pr + i, z);
                _mm_storeu_ps(o + i, _mm_andnot_ps(sign, z));
            }
#endif
            for (; i < width; i++) {
                float z = pr[i] + bias[i];
                pr[i] = z;
                o[i] = relu_value(z);
            }
            break;
        }
        case ORL_ACTIVATION_TANH:
            for (int32_t i = 0; i < width; i++) {
                float z = pr[i] + bias[i];
                pr[i] = z;
                o[i] = tanhf(z);
            }
            break;
        case ORL_ACTIVATION_ELU:
            for (int32_t i = 0; i < width; i++) {
                float z = pr[i] + bias[i];
                pr[i] = z;
                o[i] = z > 0.0f ? z : expm1f(z);
            }
            break;
        case ORL_ACTIVATION_SILU:
            for (int32_t i = 0; i < width; i++) {
                float z = pr[i] + bias[i];
                pr[i] = z;
                o[i] = z / (1.0f + expf(-z));
            }
            break;
        case ORL_ACTIVATION_NONE:
        default:
            for (int32_t i = 0; i < width; i++) {
                float z = pr[i] + bias[i];
                pr[i] = z;
                o[i] = z;
            }
            break;
        }
    }
}

/* y (W) = act(x (W)) for one row */
static void act_row(float *y, const float *x, int32_t width, orl_activation act) {
    switch (act) {
    case ORL_ACTIVATION_RELU:
        for (int32_t i = 0; i < width; i++) y[i] = relu_value(x[i]);
        break;
    case ORL_ACTIVATION_TANH:
        for (int32_t i = 0; i < width; i++) y[i] = tanhf(x[i]);
        break;
    case ORL_ACTIVATION_ELU:
        for (int32_t i = 0; i < width; i++) y[i] = x[i] > 0.0f ? x[i] : expm1f(x[i]);
        break;
    case ORL_ACTIVATION_SILU:
        for (int32_t i = 0; i < width; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case ORL_ACTIVATION_NONE:
    default:
        for (int32_t i = 0; i < width; i++) y[i] = x[i];
        break;
    }
}

/* pre (B, O) holds x W^T; adds the bias, normalises each row into norm (B, O) with gain and
 * bias, keeps mean and rstd (B), and applies the activation into out (B, O) */
static void bias_ln_act_forward(float *out, float *norm, float *mean, float *rstd, float *pre,
                                const float *bias, const float *gain, const float *shift,
                                int32_t batch, int32_t width, orl_activation act) {
    for (int32_t r = 0; r < batch; r++) {
        float *pr = pre + (int64_t)r * width;
        float *nr = norm + (int64_t)r * width;
        float sum = 0.0f;
        for (int32_t i = 0; i < width; i++) {
            pr[i] += bias[i];
            sum += pr[i];
        }
        float mu = sum / (float)width;
        float var = 0.0f;
        for (int32_t i = 0; i < width; i++) {
            float d = pr[i] - mu;
            var += d * d;
        }
        float rs = 1.0f / sqrtf(var / (float)width + LN_EPS);
        mean[r] = mu;
        rstd[r] = rs;
        for (int32_t i = 0; i < width; i++) nr[i] = (pr[i] - mu) * rs * gain[i] + shift[i];
        act_row(out + (int64_t)r * width, nr, width, act);
    }
}

/* layer l's bias (B rows from row r0, bias (O_l)), LayerNorm and activation on pre[l] (B, O_l),
 * which holds its linear part */
static void layer_finish_rows(const orl_mlp *m, orl_mlp_work *w, int32_t l, int32_t r0,
                              int32_t rows, const float *bias) {
    const orl_mlp_config *cfg = &m->cfg;
    int32_t n_out = cfg->widths[l + 1];
    int64_t at = (int64_t)r0 * n_out;
    if (l == cfg->n_layers - 1) {
        /* output layer: bias only, out aliases pre */
        bias_act_forward(w->pre[l] + at, w->pre[l] + at, bias, rows, n_out, ORL_ACTIVATION_NONE);
    } else if (m->ln_gain[l]) {
        bias_ln_act_forward(w->out[l] + at, w->norm[l] + at, w->ln_mean[l] + r0, w->ln_rstd[l] + r0,
                            w->pre[l] + at, bias, m->ln_gain[l], m->ln_bias[l], rows, n_out,
                            cfg->activation);
    } else {
        bias_act_forward(w->out[l] + at, w->pre[l] + at, bias, rows, n_out, cfg->activation);
    }
}

static void layer_finish(const orl_mlp *m, orl_mlp_work *w, int32_t l, int32_t batch) {
    layer_finish_rows(m, w, l, 0, batch, m->b[l]);
}

/* layers first..L-1 on in (B, I_first), then out as orl_mlp_forward */
static void layers_forward(const orl_mlp *m, orl_mlp_work *w, int32_t first, const float *in,
                           int32_t batch, float *out) {
    const orl_mlp_config *cfg = &m->cfg;
    int32_t n_layers = cfg->n_layers;
    for (int32_t l = first; l < n_layers; l++) {
        int32_t n_in = cfg->widths[l], n_out = cfg->widths[l + 1];
        /* pre = in W^T, then bias, LayerNorm and activation; where the small-shape kernel
         * takes the product and the layer is ReLU in place or the output layer's identity, the
         * kernel adds the bias and applies the ReLU as it stores (the same operations) */
        int output = l == n_layers - 1;
        int fusable = output || relu_in_place(cfg);
        if (!fusable || !nn_sgemm_forward_bias(batch, n_out, n_in, in, n_in, m->w[l], n_in, m->b[l],
                                               !output, w->pre[l], n_out)) {
            nn_sgemm(0, 1, batch, n_out, n_in, in, n_in, m->w[l], n_in, 0.0f, w->pre[l], n_out);
            layer_finish(m, w, l, batch);
        }
        in = w->out[l];
    }
    if (out && out != w->out[n_layers - 1])
        memcpy(out, w->out[n_layers - 1],
               (size_t)batch * (size_t)cfg->widths[n_layers] * sizeof(float));
}

void orl_mlp_forward(const orl_mlp *m, orl_mlp_work *w, const float *x, int32_t batch, float *out) {
    assert(m && w && x);
    assert(batch >= 1 && batch <= w->max_batch);
    w->batch = batch;
    w->input = x;
    layers_forward(m, w, 0, x, batch, out); // x (B, I)
}

void orl_mlp_forward_shared(const orl_mlp *m, orl_mlp_work *w, const float *shared,
                            int32_t n_shared, int32_t repeat, const float *own, int32_t batch,
                            float *out) {
    assert(m && w && shared && own && repeat >= 1 && batch % repeat == 0);
    assert(batch >= 1 && batch <= w->max_batch);
    const orl_mlp_config *cfg = &m->cfg;
    int32_t n_in = cfg->widths[0], n_out = cfg->widths[1], n_own = n_in - n_shared;
    int32_t groups = batch / repeat;
    assert(n_shared >= 1 && n_own >= 1);
    w->batch = batch;
    w->input = NULL; /* no (B, I) input exists: backward refuses */
    /* pre[0] (B, H) = own (B, I - I_s) W[:, I_s:]^T; the groups' shared part (G, H) =
     * shared (G, I_s) W[:, :I_s]^T into the backward scratch (unused by a forward) */
    nn_sgemm(0, 1, batch, n_out, n_own, own, n_own, m->w[0] + n_shared, n_in, 0.0f, w->pre[0],
             n_out);
    float *sh = w->grad_a; // (G, H)
    nn_sgemm(0, 1, groups, n_out, n_shared, shared, n_shared, m->w[0], n_in, 0.0f, sh, n_out);
    /* each group's shared part plus the bias is the bias of its rows: one sweep adds it to the
     * own part and applies the activation */
    for (int32_t g = 0; g < groups; g++) {
        float *srow = sh + (int64_t)g * n_out;
        for (int32_t i = 0; i < n_out; i++) srow[i] += m->b[0][i];
        layer_finish_rows(m, w, 0, g * repeat, repeat, srow);
    }
    layers_forward(m, w, 1, w->out[0], batch, out);
}

/* g (W) *= act'(z) for one row, where z (W) is the activation's input and y (W) its output */
static void act_backward_row(float *g, const float *z, const float *y, int32_t width,
                             orl_activation act) {
    switch (act) {
    case ORL_ACTIVATION_RELU: {
        int32_t i = 0;
#if defined(__SSE2__)
        for (; i + 4 <= width; i += 4) {
            __m128 keep = _mm_cmpgt_ps(_mm_loadu_ps(z + i), _mm_setzero_ps());
            _mm_storeu_ps(g + i, _mm_and_ps(_mm_loadu_ps(g + i), keep));
        }
#endif
        for (; i < width; i++) g[i] = relu_gate(g[i], z[i]);
        break;
    }
    case ORL_ACTIVATION_TANH:
        for (int32_t i = 0; i < width; i++) g[i] *= 1.0f - y[i] * y[i];
        break;
    case ORL_ACTIVATION_ELU:
        for (int32_t i = 0; i < width; i++) g[i] *= z[i] > 0.0f ? 1.0f : y[i] + 1.0f;
        break;
    case ORL_ACTIVATION_SILU:
        for (int32_t i = 0; i < width; i++) {
            float s = 1.0f / (1.0f + expf(-z[i]));
            g[i] *= s * (1.0f + z[i] * (1.0f - s));
        }
        break;
    case ORL_ACTIVATION_NONE:
    default:
        break;
    }
}

#if NN_X86
/* g (B, W) *= relu'(z) row by row, adding each gated row into db (W) when given; the
 * operations of act_backward_row and add_row, eight columns at a time; returns the columns done */
NN_AVX2 static int32_t relu_backward_avx2(float *g, const float *z, float *db, int32_t batch,
                                          int32_t width) {
    int32_t done = width / 8 * 8;
    __m256 zero = _mm256_setzero_ps();
    for (int32_t r = 0; r < batch; r++) {
        float *gr = g + (int64_t)r * width;
        const float *zr = z + (int64_t)r * width;
        for (int32_t i = 0; i < done; i += 8) {
            __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(zr + i), zero, _CMP_GT_OQ);
            __m256 gv = _mm256_and_ps(_mm256_loadu_ps(gr + i), keep);
            _mm256_storeu_ps(gr + i, gv);
            if (db) _mm256_storeu_ps(db + i, _mm256_add_ps(_mm256_loadu_ps(db + i), gv));
        }
    }
    return done;
}

/* acc (W) += the rows of g (B, W) in order, eight columns at a time; returns the columns done */
NN_AVX2 static int32_t add_rows_avx2(float *acc, const float *g, int32_t batch, int32_t width) {
    int32_t done = width / 8 * 8;
    for (int32_t i = 0; i < done; i += 8) {
        __m256 a = _mm256_loadu_ps(acc + i);
        for (int32_t r = 0; r < batch; r++)
            a = _mm256_add_ps(a, _mm256_loadu_ps(g + (int64_t)r * width + i));
        _mm256_storeu_ps(acc + i, a);
    }
    return done;
}
#endif

/* next (B, W) = g (B) w (W) (the outer product), gated by relu'(z (B, W)), each gated row added
 * into db (W) when given: the GEMM with one inner term and relu_backward's operations, in one
 * pass; AVX2 with a scalar tail, or scalar throughout without AVX2 */
#if NN_X86
NN_AVX2 static void outer_relu_avx2(float *next, const float *g, const float *w, const float *z,
                                    float *db, int32_t batch, int32_t width) {
    int32_t done = width / 8 * 8;
    __m256 zero = _mm256_setzero_ps();
    for (int32_t r = 0; r < batch; r++) {
        float *nr = next + (int64_t)r * width;
        const float *zr = z + (int64_t)r * width;
        __m256 gv = _mm256_set1_ps(g[r]);
        for (int32_t i = 0; i < done; i += 8) {
            __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(zr + i), zero, _CMP_GT_OQ);
            __m256 v = _mm256_and_ps(_mm256_mul_ps(gv, _mm256_loadu_ps(w + i)), keep);
            _mm256_storeu_ps(nr + i, v);
            if (db) _mm256_storeu_ps(db + i, _mm256_add_ps(_mm256_loadu_ps(db + i), v));
        }
        for (int32_t i = done; i < width; i++) {
            nr[i] = relu_gate(g[r] * w[i], zr[i]);
            if (db) db[i] += nr[i];
        }
    }
}
#endif

static void outer_relu_backward(float *next, const float *g, const float *w, const float *z,
                                float *db, int32_t batch, int32_t width) {
#if NN_X86
    if (nn_use_avx2()) {
        outer_relu_avx2(next, g, w, z, db, batch, width);
        return;
    }
#endif
    for (int32_t r = 0; r < batch; r++)
        for (int32_t i = 0; i < width; i++) {
            float *v = next + (int64_t)r * width + i;
            *v = relu_gate(g[r] * w[i], z[(int64_t)r * width + i]);
            if (db) db[i] += *v;
        }
}

/* acc (W) += x (W); the same additions in the same order with or without SSE */
static void add_row(float *acc, const float *x, int32_t width) {
    int32_t i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= width; i += 4)
        _mm_storeu_ps(acc + i, _mm_add_ps(_mm_loadu_ps(acc + i), _mm_loadu_ps(x + i)));
#endif
    for (; i < width; i++) acc[i] += x[i];
}

/* one hidden layer: g (B, O) holds dLoss/dout; turns it in place into dLoss/dpre and
 * accumulates db, dgain, dshift (O) when given */
static void hidden_backward(float *g, const orl_mlp *m, const orl_mlp_work *w, int32_t l,
                            int32_t batch, float *db, float *dgain, float *dshift) {
    int32_t width = m->cfg.widths[l + 1];
    orl_activation act = m->cfg.activation;
    const float *pre = w->pre[l];
    const float *out = w->out[l];
    if (!m->ln_gain[l]) {
#if NN_X86
        if (act == ORL_ACTIVATION_RELU && width >= 8 && nn_use_avx2()) {
            int32_t done = relu_backward_avx2(g, pre, db, batch, width);
            for (int32_t r = 0; r < batch && done < width; r++)
                for (int32_t i = done; i < width; i++) {
                    float *gi = g + (int64_t)r * width + i;
                    *gi = relu_gate(*gi, pre[(int64_t)r * width + i]);
                    if (db) db[i] += *gi;
                }
            return;
        }
#endif
        for (int32_t r = 0; r < batch; r++) {
            int64_t off = (int64_t)r * width;
            float *gr = g + off;
            act_backward_row(gr, pre + off, out + off, width, act);
            if (db) add_row(db, gr, width);
        }
        return;
    }
    /* LayerNorm: xhat = (pre - mean) rstd, norm = gain xhat + shift;
     * dpre = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = g gain */
    const float *gain = m->ln_gain[l];
    const float *norm = w->norm[l];
    float inv_width = 1.0f / (float)width;
    for (int32_t r = 0; r < batch; r++) {
        int64_t off = (int64_t)r * width;
        float *gr = g + off;
        const float *pr = pre + off;
        act_backward_row(gr, norm + off, out + off, width, act);
        float mu = w->ln_mean[l][r], rs = w->ln_rstd[l][r];
        float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
        for (int32_t i = 0; i < width; i++) {
            float xhat = (pr[i] - mu) * rs;
            float dxhat = gr[i] * gain[i];
            sum_dxhat += dxhat;
            sum_dxhat_xhat += dxhat * xhat;
            if (dgain) {
                dgain[i] += gr[i] * xhat;
                dshift[i] += gr[i];
            }
        }
        float mean_dxhat = sum_dxhat * inv_width, mean_dxhat_xhat = sum_dxhat_xhat * inv_width;
        for (int32_t i = 0; i < width; i++) {
            float xhat = (pr[i] - mu) * rs;
            float d = rs * (gr[i] * gain[i] - mean_dxhat - xhat * mean_dxhat_xhat);
            gr[i] = d;
            if (db) db[i] += d;
        }
    }
}

void orl_mlp_backward(const orl_mlp *m, orl_mlp_work *w, const float *dout, float *dparams,
                      float *dx) {
    assert(m && w && dout && w->input);
    const orl_mlp_config *cfg = &m->cfg;
    int32_t n_layers = cfg->n_layers;
    int32_t batch = w->batch;
    if (!dparams && !dx) return;
    /* g is dLoss/dpre of the current layer; the output layer's is dout itself */
    const float *g = dout;
    float *next = w->grad_a;
    for (int32_t l = n_layers - 1; l >= 0; l--) {
        int32_t n_in = cfg->widths[l], n_out = cfg->widths[l + 1];
        const float *in = l == 0 ? w->input : w->out[l - 1]; // (B, I)
        float *dw = dparams ? dparams + (m->w[l] - m->params) : NULL;
        float *db = dparams ? dparams + (m->b[l] - m->params) : NULL;
        if (l == n_layers - 1 && db) {
            int32_t done = 0;
#if NN_X86
            if (n_out >= 8 && nn_use_avx2()) done = add_rows_avx2(db, g, batch, n_out);
#endif
            if (done == 0)
                for (int32_t r = 0; r < batch; r++) add_row(db, g + (int64_t)r * n_out, n_out);
            else
                for (int32_t r = 0; r < batch; r++)
                    for (int32_t i = done; i < n_out; i++) db[i] += g[(int64_t)r * n_out + i];
        }
        /* dW += g^T in */
        if (dw) nn_sgemm(1, 0, n_out, n_in, batch, g, n_out, in, n_in, 1.0f, dw, n_in);
        if (l == 0) {
            /* dx += g W */
            if (dx) nn_sgemm(0, 0, batch, n_in, n_out, g, n_out, m->w[l], n_in, 1.0f, dx, n_in);
            break;
        }
        float *db_below = dparams ? dparams + (m->b[l - 1] - m->params) : NULL;
        if (n_out == 1 && relu_in_place(cfg)) {
            /* one output: g W is an outer product (each element one rounded product, as the
             * GEMM computes it), done in the pass that gates it and sums the bias gradient */
            outer_relu_backward(next, g, m->w[l], w->pre[l - 1], db_below, batch, n_in);
            g = next;
            next = next == w->grad_a ? w->grad_b : w->grad_a;
            continue;
        }
        /* dLoss/dout of the layer below = g W, then through its activation and LayerNorm */
        nn_sgemm(0, 0, batch, n_in, n_out, g, n_out, m->w[l], n_in, 0.0f, next, n_in);
        float *dgain =
            dparams && m->ln_gain[l - 1] ? dparams + (m->ln_gain[l - 1] - m->params) : NULL;
        float *dshift =
            dparams && m->ln_bias[l - 1] ? dparams + (m->ln_bias[l - 1] - m->params) : NULL;
        hidden_backward(next, m, w, l - 1, batch, db_below, dgain, dshift);
        g = next;
        next = next == w->grad_a ? w->grad_b : w->grad_a;
    }
}

double orl_mlp_forward_flops(const orl_mlp_config *cfg, int32_t batch) {
    assert(cfg);
    double sum = 0.0;
    for (int32_t l = 0; l < cfg->n_layers; l++)
        sum += (double)cfg->widths[l] * (double)cfg->widths[l + 1];
    return 2.0 * (double)batch * sum;
}
