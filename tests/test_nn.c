/* Tests of nn/nn.c: a plain-loop double-precision reference MLP (same parameter layout) is
 * checked against central finite differences, and the float cblas path is checked against the
 * reference; Adam/AdamW, schedules, Polyak, clipping and the normalizer against formulas
 * written out here; a training run that must fit sin(x); bitwise determinism; the init
 * distributions. Every random test prints its seed on failure. */
#define _GNU_SOURCE /* dladdr, to tell the BLAS's own allocations from ours */
#include "orl/fit.h"
#include "orl/nn.h"

#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_PI 3.14159265358979323846

/* ---- the reference MLP, in double ---- */

/* parameter offsets of layer l, computed independently of orl_mlp_bind */
typedef struct ref_layout {
    int64_t w[ORL_MLP_MAX_LAYERS], b[ORL_MLP_MAX_LAYERS];
    int64_t gain[ORL_MLP_MAX_LAYERS], shift[ORL_MLP_MAX_LAYERS]; /* -1 without LayerNorm */
    int64_t n;
} ref_layout;

static ref_layout ref_layout_of(const orl_mlp_config *cfg) {
    ref_layout lay;
    int64_t p = 0;
    for (int32_t l = 0; l < cfg->n_layers; l++) {
        int64_t in = cfg->widths[l], out = cfg->widths[l + 1];
        lay.w[l] = p, p += out * in;
        lay.b[l] = p, p += out;
        if (cfg->layer_norm && l < cfg->n_layers - 1) {
            lay.gain[l] = p, p += out;
            lay.shift[l] = p, p += out;
        } else {
            lay.gain[l] = lay.shift[l] = -1;
        }
    }
    lay.n = p;
    return lay;
}

/* what the reference forward keeps for backward, per layer l: (B, O_l) each */
typedef struct ref_cache {
    double *pre[ORL_MLP_MAX_LAYERS];  /* linear output */
    double *xhat[ORL_MLP_MAX_LAYERS]; /* normalised pre (LayerNorm only) */
    double rstd[ORL_MLP_MAX_LAYERS][1024];
    double *z[ORL_MLP_MAX_LAYERS];   /* activation input */
    double *out[ORL_MLP_MAX_LAYERS]; /* activation output */
} ref_cache;

static void ref_cache_init(ref_cache *c, const orl_mlp_config *cfg, int32_t batch) {
    memset(c, 0, sizeof(*c));
    for (int32_t l = 0; l < cfg->n_layers; l++) {
        size_t n = (size_t)batch * (size_t)cfg->widths[l + 1];
        c->pre[l] = calloc(n, sizeof(double));
        c->xhat[l] = calloc(n, sizeof(double));
        c->z[l] = calloc(n, sizeof(double));
        c->out[l] = calloc(n, sizeof(double));
    }
}

static void ref_cache_free(ref_cache *c, const orl_mlp_config *cfg) {
    for (int32_t l = 0; l < cfg->n_layers; l++) {
        free(c->pre[l]), free(c->xhat[l]), free(c->z[l]), free(c->out[l]);
    }
}

static double ref_act(double z, orl_activation act) {
    switch (act) {
    case ORL_ACTIVATION_RELU:
        return z > 0.0 ? z : 0.0;
    case ORL_ACTIVATION_TANH:
        return tanh(z);
    case ORL_ACTIVATION_ELU:
        return z > 0.0 ? z : exp(z) - 1.0;
    case ORL_ACTIVATION_SILU:
        return z / (1.0 + exp(-z));
    default:
        return z;
    }
}

static double ref_act_grad(double z, orl_activation act) {
    switch (act) {
    case ORL_ACTIVATION_RELU:
        return z > 0.0 ? 1.0 : 0.0;
    case ORL_ACTIVATION_TANH:
        return 1.0 - tanh(z) * tanh(z);
    case ORL_ACTIVATION_ELU:
        return z > 0.0 ? 1.0 : exp(z);
    case ORL_ACTIVATION_SILU: {
        double s = 1.0 / (1.0 + exp(-z));
        return s + z * s * (1.0 - s);
    }
    default:
        return 1.0;
    }
}

/* out of the network is c->out[L-1] (B, O) */
static void ref_forward(ref_cache *c, const orl_mlp_config *cfg, const double *p, const double *x,
                        int32_t batch) {
    ref_layout lay = ref_layout_of(cfg);
    const double *in = x;
    for (int32_t l = 0; l < cfg->n_layers; l++) {
        int32_t ni = cfg->widths[l], no = cfg->widths[l + 1];
        int hidden = l < cfg->n_layers - 1;
        for (int32_t r = 0; r < batch; r++) {
            for (int32_t o = 0; o < no; o++) {
                double s = p[lay.b[l] + o];
                for (int32_t i = 0; i < ni; i++)
                    s += p[lay.w[l] + (int64_t)o * ni + i] * in[(int64_t)r * ni + i];
                c->pre[l][(int64_t)r * no + o] = s;
            }
            double *pre = c->pre[l] + (int64_t)r * no;
            double *z = c->z[l] + (int64_t)r * no;
            double *xhat = c->xhat[l] + (int64_t)r * no;
            double *out = c->out[l] + (int64_t)r * no;
            if (hidden && lay.gain[l] >= 0) {
                double mean = 0.0, var = 0.0;
                for (int32_t o = 0; o < no; o++) mean += pre[o];
                mean /= no;
                for (int32_t o = 0; o < no; o++) var += (pre[o] - mean) * (pre[o] - mean);
                var /= no;
                double rstd = 1.0 / sqrt(var + 1e-5);
                c->rstd[l][r] = rstd;
                for (int32_t o = 0; o < no; o++) {
                    xhat[o] = (pre[o] - mean) * rstd;
                    z[o] = p[lay.gain[l] + o] * xhat[o] + p[lay.shift[l] + o];
                }
            } else {
                for (int32_t o = 0; o < no; o++) z[o] = pre[o];
            }
            for (int32_t o = 0; o < no; o++)
                out[o] = hidden ? ref_act(z[o], cfg->activation) : z[o];
        }
        in = c->out[l];
    }
}

/* dp (P) += dLoss/dp, dx (B, I) = dLoss/dx, for dLoss/dout = dout (B, O) */
static void ref_backward(const ref_cache *c, const orl_mlp_config *cfg, const double *p,
                         const double *x, int32_t batch, const double *dout, double *dp,
                         double *dx) {
    ref_layout lay = ref_layout_of(cfg);
    int32_t max_w = 0;
    for (int32_t l = 0; l <= cfg->n_layers; l++)
        if (cfg->widths[l] > max_w) max_w = cfg->widths[l];
    double *g = calloc((size_t)batch * (size_t)max_w, sizeof(double));
    double *gin = calloc((size_t)batch * (size_t)max_w, sizeof(double));
    int32_t nl = cfg->n_layers;
    memcpy(g, dout, (size_t)batch * (size_t)cfg->widths[nl] * sizeof(double));
    for (int32_t l = nl - 1; l >= 0; l--) {
        int32_t ni = cfg->widths[l], no = cfg->widths[l + 1];
        int hidden = l < nl - 1;
        const double *in = l == 0 ? x : c->out[l - 1];
        for (int32_t r = 0; r < batch; r++) {
            double *gr = g + (int64_t)r * no;
            const double *z = c->z[l] + (int64_t)r * no;
            const double *xhat = c->xhat[l] + (int64_t)r * no;
            if (!hidden) continue;
            /* through the activation: g becomes dLoss/dz */
            for (int32_t o = 0; o < no; o++) gr[o] *= ref_act_grad(z[o], cfg->activation);
            if (lay.gain[l] < 0) continue;
            /* through LayerNorm: g becomes dLoss/dpre */
            double mean_d = 0.0, mean_dx = 0.0;
            for (int32_t o = 0; o < no; o++) {
                double dxhat = gr[o] * p[lay.gain[l] + o];
                dp[lay.gain[l] + o] += gr[o] * xhat[o];
                dp[lay.shift[l] + o] += gr[o];
                mean_d += dxhat;
                mean_dx += dxhat * xhat[o];
            }
            mean_d /= no, mean_dx /= no;
            for (int32_t o = 0; o < no; o++) {
                double dxhat = gr[o] * p[lay.gain[l] + o];
                gr[o] = c->rstd[l][r] * (dxhat - mean_d - xhat[o] * mean_dx);
            }
        }
        for (int32_t r = 0; r < batch; r++)
            for (int32_t o = 0; o < no; o++) {
                double gro = g[(int64_t)r * no + o];
                dp[lay.b[l] + o] += gro;
                for (int32_t i = 0; i < ni; i++)
                    dp[lay.w[l] + (int64_t)o * ni + i] += gro * in[(int64_t)r * ni + i];
            }
        for (int32_t r = 0; r < batch; r++)
            for (int32_t i = 0; i < ni; i++) {
                double s = 0.0;
                for (int32_t o = 0; o < no; o++)
                    s += g[(int64_t)r * no + o] * p[lay.w[l] + (int64_t)o * ni + i];
                gin[(int64_t)r * ni + i] = s;
            }
        memcpy(g, gin, (size_t)batch * (size_t)ni * sizeof(double));
    }
    memcpy(dx, g, (size_t)batch * (size_t)cfg->widths[0] * sizeof(double));
    free(g), free(gin);
}

/* loss = sum(c * out) */
static double ref_loss(const orl_mlp_config *cfg, const double *p, const double *x, int32_t batch,
                       const double *coef) {
    ref_cache c;
    ref_cache_init(&c, cfg, batch);
    ref_forward(&c, cfg, p, x, batch);
    double s = 0.0;
    int64_t n = (int64_t)batch * cfg->widths[cfg->n_layers];
    for (int64_t i = 0; i < n; i++) s += coef[i] * c.out[cfg->n_layers - 1][i];
    ref_cache_free(&c, cfg);
    return s;
}

static orl_mlp_config make_cfg(int32_t n_layers, const int32_t *widths, orl_activation act,
                               int layer_norm) {
    orl_mlp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.n_layers = n_layers;
    for (int32_t l = 0; l <= n_layers; l++) cfg.widths[l] = widths[l];
    cfg.activation = act;
    cfg.layer_norm = layer_norm;
    cfg.init = ORL_INIT_FAN_IN_UNIFORM;
    return cfg;
}

static const orl_activation all_acts[] = {ORL_ACTIVATION_RELU, ORL_ACTIVATION_TANH,
                                          ORL_ACTIVATION_ELU, ORL_ACTIVATION_SILU,
                                          ORL_ACTIVATION_NONE};

/* ---- (1) the reference's backward against central differences, in double ---- */

Test(nn_reference, finite_difference_gradients) {
    const int32_t widths[] = {3, 6, 5, 2};
    const int32_t batch = 4;
    for (size_t a = 0; a < sizeof(all_acts) / sizeof(all_acts[0]); a++) {
        for (int ln = 0; ln <= 1; ln++) {
            uint64_t seed = 100 + 10 * a + (uint64_t)ln;
            orl_mlp_config cfg = make_cfg(3, widths, all_acts[a], ln);
            ref_layout lay = ref_layout_of(&cfg);
            orl_rng rng;
            orl_rng_seed(&rng, seed, 1);
            double *p = malloc((size_t)lay.n * sizeof(double));
            double *dp = calloc((size_t)lay.n, sizeof(double));
            double x[4 * 3], dx[4 * 3], coef[4 * 2];
            for (int64_t i = 0; i < lay.n; i++) p[i] = orl_rng_normal(&rng) * 0.7;
            for (int i = 0; i < batch * 3; i++) x[i] = orl_rng_normal(&rng);
            for (int i = 0; i < batch * 2; i++) coef[i] = orl_rng_normal(&rng);
            ref_cache c;
            ref_cache_init(&c, &cfg, batch);
            ref_forward(&c, &cfg, p, x, batch);
            ref_backward(&c, &cfg, p, x, batch, coef, dp, dx);
            ref_cache_free(&c, &cfg);
            const double h = 1e-6;
            for (int64_t i = 0; i < lay.n; i++) {
                double keep = p[i];
                p[i] = keep + h;
                double up = ref_loss(&cfg, p, x, batch, coef);
                p[i] = keep - h;
                double down = ref_loss(&cfg, p, x, batch, coef);
                p[i] = keep;
                double num = (up - down) / (2 * h);
                double tol = 1e-6 * fmax(1.0, fmax(fabs(num), fabs(dp[i])));
                cr_assert(fabs(num - dp[i]) <= tol,
                          "seed %llu act %d ln %d: dparam[%lld] analytic %.12g numeric %.12g",
                          (unsigned long long)seed, (int)all_acts[a], ln, (long long)i, dp[i], num);
            }
            for (int i = 0; i < batch * 3; i++) {
                double keep = x[i];
                x[i] = keep + h;
                double up = ref_loss(&cfg, p, x, batch, coef);
                x[i] = keep - h;
                double down = ref_loss(&cfg, p, x, batch, coef);
                x[i] = keep;
                double num = (up - down) / (2 * h);
                double tol = 1e-6 * fmax(1.0, fmax(fabs(num), fabs(dx[i])));
                cr_assert(fabs(num - dx[i]) <= tol,
                          "seed %llu act %d ln %d: dx[%d] analytic %.12g numeric %.12g",
                          (unsigned long long)seed, (int)all_acts[a], ln, i, dx[i], num);
            }
            free(p), free(dp);
        }
    }
}

/* ---- (2) the float cblas path against the double reference ---- */

static double max_abs(const double *x, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* compares got (float) to want (double) within tol relative to the array's scale */
static void assert_close(const float *got, const double *want, int64_t n, double tol,
                         const char *what, uint64_t seed) {
    double scale = fmax(1.0, max_abs(want, n));
    for (int64_t i = 0; i < n; i++)
        cr_assert(fabs((double)got[i] - want[i]) <= tol * scale,
                  "seed %llu: %s[%lld] float %.9g double %.9g (scale %.3g)",
                  (unsigned long long)seed, what, (long long)i, (double)got[i], want[i], scale);
}

static void check_against_reference(int32_t n_layers, const int32_t *widths, int32_t batch,
                                    orl_activation act, int ln, orl_init init, uint64_t seed) {
    orl_mlp_config cfg = make_cfg(n_layers, widths, act, ln);
    cfg.init = init;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 2);
    orl_mlp m;
    cr_assert_eq(orl_mlp_create(&m, &cfg, &rng), ORL_OK);
    ref_layout lay = ref_layout_of(&cfg);
    cr_assert_eq(lay.n, m.n_params);
    for (int32_t l = 0; l < n_layers; l++) {
        cr_assert_eq(m.w[l] - m.params, lay.w[l]);
        cr_assert_eq(m.b[l] - m.params, lay.b[l]);
        if (lay.gain[l] >= 0) {
            cr_assert_eq(m.ln_gain[l] - m.params, lay.gain[l]);
            cr_assert_eq(m.ln_bias[l] - m.params, lay.shift[l]);
        } else {
            cr_assert_null(m.ln_gain[l]);
        }
    }
    /* perturb LayerNorm gains and biases away from 1 and 0 so their gradients matter */
    for (int32_t l = 0; l < n_layers; l++)
        if (m.ln_gain[l])
            for (int32_t o = 0; o < widths[l + 1]; o++) {
                m.ln_gain[l][o] = (float)(1.0 + 0.3 * orl_rng_normal(&rng));
                m.ln_bias[l][o] = (float)(0.3 * orl_rng_normal(&rng));
            }
    int32_t ni = widths[0], no = widths[n_layers];
    int64_t nx = (int64_t)batch * ni, ny = (int64_t)batch * no;
    float *x = malloc((size_t)nx * sizeof(float));
    float *dout = malloc((size_t)ny * sizeof(float));
    float *out = malloc((size_t)ny * sizeof(float));
    float *dx = malloc((size_t)nx * sizeof(float));
    float *dp = malloc((size_t)m.n_params * sizeof(float));
    double *xd = malloc((size_t)nx * sizeof(double));
    double *doutd = malloc((size_t)ny * sizeof(double));
    double *dxd = malloc((size_t)nx * sizeof(double));
    double *pd = malloc((size_t)m.n_params * sizeof(double));
    double *dpd = calloc((size_t)m.n_params, sizeof(double));
    for (int64_t i = 0; i < nx; i++) x[i] = (float)orl_rng_normal(&rng), xd[i] = x[i];
    for (int64_t i = 0; i < ny; i++) dout[i] = (float)orl_rng_normal(&rng), doutd[i] = dout[i];
    for (int64_t i = 0; i < m.n_params; i++) pd[i] = m.params[i];
    /* dx and dparams start at 1 to check that backward accumulates */
    for (int64_t i = 0; i < nx; i++) dx[i] = 1.0f;
    for (int64_t i = 0; i < m.n_params; i++) dp[i] = 1.0f;

    orl_mlp_work w;
    cr_assert_eq(orl_mlp_work_init(&w, &cfg, batch + 3), ORL_OK);
    orl_mlp_forward(&m, &w, x, batch, out);
    orl_mlp_backward(&m, &w, dout, dp, dx);

    ref_cache c;
    ref_cache_init(&c, &cfg, batch);
    ref_forward(&c, &cfg, pd, xd, batch);
    ref_backward(&c, &cfg, pd, xd, batch, doutd, dpd, dxd);
    for (int64_t i = 0; i < nx; i++) dxd[i] += 1.0;
    for (int64_t i = 0; i < m.n_params; i++) dpd[i] += 1.0;

    assert_close(out, c.out[n_layers - 1], ny, 2e-5, "out", seed);
    assert_close(w.out[n_layers - 1], c.out[n_layers - 1], ny, 2e-5, "work out", seed);
    assert_close(dp, dpd, m.n_params, 1e-4, "dparams", seed);
    assert_close(dx, dxd, nx, 1e-4, "dx", seed);

    /* NULL dparams still gives dx, and NULL dx still gives dparams */
    for (int64_t i = 0; i < nx; i++) dx[i] = 1.0f;
    orl_mlp_backward(&m, &w, dout, NULL, dx);
    assert_close(dx, dxd, nx, 1e-4, "dx without dparams", seed);
    for (int64_t i = 0; i < m.n_params; i++) dp[i] = 1.0f;
    orl_mlp_backward(&m, &w, dout, dp, NULL);
    assert_close(dp, dpd, m.n_params, 1e-4, "dparams without dx", seed);

    ref_cache_free(&c, &cfg);
    orl_mlp_work_free(&w);
    orl_mlp_free(&m);
    free(x), free(dout), free(out), free(dx), free(dp);
    free(xd), free(doutd), free(dxd), free(pd), free(dpd);
}

Test(nn_mlp, cblas_path_matches_reference) {
    const int32_t shape_a[] = {3, 5, 7, 2};
    const int32_t shape_b[] = {1, 1, 1};
    const int32_t shape_c[] = {17, 33, 9, 4};
    const int32_t shape_d[] = {4, 64, 64, 2};
    const int32_t shape_e[] = {5, 3};
    const int32_t shape_f[] = {2, 7, 1, 9, 3, 1};
    uint64_t seed = 7;
    for (size_t a = 0; a < sizeof(all_acts) / sizeof(all_acts[0]); a++)
        for (int ln = 0; ln <= 1; ln++) {
            orl_init init = ln ? ORL_INIT_ORTHOGONAL : ORL_INIT_FAN_IN_UNIFORM;
            check_against_reference(3, shape_a, 1, all_acts[a], ln, init, seed++);
            check_against_reference(3, shape_a, 13, all_acts[a], ln, init, seed++);
            check_against_reference(2, shape_b, 5, all_acts[a], ln, init, seed++);
            check_against_reference(3, shape_c, 31, all_acts[a], ln, init, seed++);
            check_against_reference(3, shape_d, 64, all_acts[a], ln, init, seed++);
            check_against_reference(1, shape_e, 3, all_acts[a], ln, init, seed++);
            check_against_reference(5, shape_f, 6, all_acts[a], ln, init, seed++);
        }
}

Test(nn_mlp, bad_config_is_input_error) {
    const int32_t widths[] = {3, 0, 2};
    orl_mlp_config cfg = make_cfg(2, widths, ORL_ACTIVATION_RELU, 0);
    int64_t n;
    cr_assert_eq(orl_mlp_param_count(&cfg, &n), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "widths[1]") != NULL, "%s", orl_error_message());
    cfg.widths[1] = 4;
    cfg.n_layers = 0;
    cr_assert_eq(orl_mlp_param_count(&cfg, &n), ORL_ERR_INPUT);
    cfg.n_layers = ORL_MLP_MAX_LAYERS + 1;
    cr_assert_eq(orl_mlp_param_count(&cfg, &n), ORL_ERR_INPUT);
    cfg.n_layers = 2;
    cr_assert_eq(orl_mlp_param_count(&cfg, &n), ORL_OK);
    cr_assert_eq(n, 4 * 3 + 4 + 2 * 4 + 2);
    cfg.layer_norm = 1;
    cr_assert_eq(orl_mlp_param_count(&cfg, &n), ORL_OK);
    cr_assert_eq(n, 4 * 3 + 4 + 2 * 4 + 2 + 2 * 4);
    orl_mlp_work w;
    cr_assert_eq(orl_mlp_work_init(&w, &cfg, 0), ORL_ERR_INPUT);
    orl_mlp_free(NULL);
    orl_mlp_work_free(NULL);
    orl_adam_free(NULL);
    orl_normalizer_free(NULL);
}

Test(nn_mlp, forward_flops) {
    const int32_t widths[] = {17, 256, 256, 6};
    orl_mlp_config cfg = make_cfg(3, widths, ORL_ACTIVATION_RELU, 0);
    cr_assert_float_eq(orl_mlp_forward_flops(&cfg, 256),
                       2.0 * 256 * (17 * 256 + 256 * 256 + 256 * 6), 1e-6);
}

/* ---- init ---- */

Test(nn_init, orthogonal_is_orthogonal) {
    /* (O, I): square, tall (O > I) and wide (O < I) */
    const int32_t widths[] = {17, 64, 64, 6};
    for (int act = 0; act < 2; act++) {
        orl_mlp_config cfg =
            make_cfg(3, widths, act ? ORL_ACTIVATION_RELU : ORL_ACTIVATION_TANH, 0);
        cfg.init = ORL_INIT_ORTHOGONAL;
        orl_rng rng;
        orl_rng_seed(&rng, 11, 3);
        orl_mlp m;
        cr_assert_eq(orl_mlp_create(&m, &cfg, &rng), ORL_OK);
        double gain2 = act ? 2.0 : 1.0;
        for (int32_t l = 0; l < 3; l++) {
            int32_t ni = widths[l], no = widths[l + 1];
            const float *wl = m.w[l];
            /* tall or square: W^T W = gain^2 I (I x I); wide: W W^T = gain^2 I (O x O) */
            int tall = no >= ni;
            int32_t k = tall ? ni : no, len = tall ? no : ni;
            for (int32_t a = 0; a < k; a++)
                for (int32_t b = 0; b < k; b++) {
                    double s = 0.0;
                    for (int32_t i = 0; i < len; i++) {
                        double u = tall ? wl[i * ni + a] : wl[a * ni + i];
                        double v = tall ? wl[i * ni + b] : wl[b * ni + i];
                        s += u * v;
                    }
                    double want = a == b ? gain2 : 0.0;
                    cr_assert(fabs(s - want) < 1e-5, "layer %d: (W^T W)[%d][%d] = %g", l, a, b, s);
                }
            for (int32_t o = 0; o < no; o++) cr_assert_eq(m.b[l][o], 0.0f);
        }
        orl_mlp_free(&m);
    }
}

Test(nn_init, fan_in_uniform_bounds_and_last_scale) {
    const int32_t widths[] = {17, 256, 256, 6};
    orl_mlp_config cfg = make_cfg(3, widths, ORL_ACTIVATION_RELU, 1);
    cfg.last_scale = 1e-3f;
    orl_rng rng;
    orl_rng_seed(&rng, 12, 3);
    orl_mlp m;
    cr_assert_eq(orl_mlp_create(&m, &cfg, &rng), ORL_OK);
    for (int32_t l = 0; l < 3; l++) {
        int32_t ni = widths[l], no = widths[l + 1];
        double bound = 1.0 / sqrt((double)ni) * (l == 2 ? 1e-3 : 1.0);
        double wmax = 0.0, sum = 0.0;
        for (int64_t i = 0; i < (int64_t)ni * no; i++) {
            double v = m.w[l][i];
            cr_assert(fabs(v) <= bound * (1 + 1e-6), "layer %d w %g bound %g", l, v, bound);
            wmax = fmax(wmax, fabs(v));
            sum += v;
        }
        /* U(-bound, bound): the largest of many draws is near the bound, the mean near 0 */
        cr_assert(wmax > 0.9 * bound, "layer %d max %g bound %g", l, wmax, bound);
        cr_assert(fabs(sum / ((double)ni * no)) < 0.1 * bound, "layer %d mean", l);
        int bias_nonzero = 0;
        for (int32_t o = 0; o < no; o++) {
            cr_assert(fabs(m.b[l][o]) <= bound * (1 + 1e-6));
            bias_nonzero |= m.b[l][o] != 0.0f;
        }
        cr_assert(bias_nonzero);
        if (l < 2)
            for (int32_t o = 0; o < no; o++) {
                cr_assert_eq(m.ln_gain[l][o], 1.0f);
                cr_assert_eq(m.ln_bias[l][o], 0.0f);
            }
    }
    orl_mlp_free(&m);
}

/* ---- parameter buffers ---- */

Test(nn_params, polyak_copy_norm_clip_finite) {
    enum { n = 1000 };
    static float t[n], s[n], keep[n];
    orl_rng rng;
    orl_rng_seed(&rng, 13, 4);
    for (int i = 0; i < n; i++)
        t[i] = (float)orl_rng_normal(&rng), s[i] = (float)orl_rng_normal(&rng);
    memcpy(keep, t, sizeof(t));
    orl_params_polyak(t, s, n, 0.005f);
    for (int i = 0; i < n; i++) {
        double want = (1.0 - 0.005) * keep[i] + 0.005 * s[i];
        cr_assert(fabs(t[i] - want) < 1e-6, "polyak[%d] %g want %g", i, (double)t[i], want);
    }
    orl_params_copy(t, s, n);
    cr_assert_eq(memcmp(t, s, sizeof(t)), 0);

    double want_norm = 0.0;
    for (int i = 0; i < n; i++) want_norm += (double)s[i] * s[i];
    want_norm = sqrt(want_norm);
    cr_assert(fabs(orl_params_norm(s, n) - want_norm) < 1e-9 * want_norm);
    double before = orl_params_clip_norm(s, n, 1.5);
    cr_assert(fabs(before - want_norm) < 1e-9 * want_norm);
    cr_assert(fabs(orl_params_norm(s, n) - 1.5) < 1e-5, "clipped norm %g", orl_params_norm(s, n));
    /* below the limit nothing changes */
    memcpy(keep, s, sizeof(s));
    orl_params_clip_norm(s, n, 10.0);
    cr_assert_eq(memcmp(keep, s, sizeof(s)), 0);

    cr_assert(orl_params_finite(s, n));
    s[517] = INFINITY;
    cr_assert(!orl_params_finite(s, n));
    s[517] = NAN;
    cr_assert(!orl_params_finite(s, n));
}

/* ---- Adam ---- */

Test(nn_adam, matches_formula) {
    /* the update, written out (PyTorch):
     *   g' = g + wd p                (Adam with L2; AdamW instead p <- p (1 - lr wd) first)
     *   m = b1 m + (1 - b1) g',  v = b2 v + (1 - b2) g'^2
     *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
    orl_adam_config cfg = orl_adam_defaults();
    cr_assert_float_eq(cfg.lr, 3e-4f, 1e-12);
    cr_assert_float_eq(cfg.beta1, 0.9f, 1e-12);
    cr_assert_float_eq(cfg.beta2, 0.999f, 1e-12);
    cr_assert_float_eq(cfg.eps, 1e-8f, 1e-15);

    /* by hand: a constant gradient moves each parameter by lr against its sign every step,
     * since the bias-corrected m and v are g and g^2 exactly */
    cfg.lr = 0.1f;
    orl_adam opt;
    cr_assert_eq(orl_adam_init(&opt, &cfg, 2), ORL_OK);
    float p[2] = {1.0f, -2.0f};
    const float g[2] = {0.5f, -3.0f};
    orl_adam_step(&opt, p, g, -1.0f);
    cr_assert(fabs(p[0] - 0.9) < 1e-6 && fabs(p[1] - (-1.9)) < 1e-6, "%g %g", (double)p[0],
              (double)p[1]);
    orl_adam_step(&opt, p, g, -1.0f);
    cr_assert(fabs(p[0] - 0.8) < 1e-6 && fabs(p[1] - (-1.8)) < 1e-6, "%g %g", (double)p[0],
              (double)p[1]);
    /* an explicit lr overrides cfg.lr: step 3 with lr 0.05 */
    orl_adam_step(&opt, p, g, 0.05f);
    cr_assert(fabs(p[0] - 0.75) < 1e-6, "%g", (double)p[0]);
    cr_assert_eq(opt.t, 3);
    orl_adam_free(&opt);

    /* varying gradients with L2 weight decay, against the formula in double */
    for (int decoupled = 0; decoupled <= 1; decoupled++) {
        cfg = orl_adam_defaults();
        cfg.lr = 0.01f;
        cfg.weight_decay = 0.1f;
        cfg.decoupled = decoupled;
        cr_assert_eq(orl_adam_init(&opt, &cfg, 3), ORL_OK);
        float pf[3] = {0.3f, -1.2f, 2.0f};
        double pd[3] = {0.3, -1.2, 2.0}, md[3] = {0}, vd[3] = {0};
        const float grads[4][3] = {
            {0.1f, -0.2f, 0.3f}, {-0.5f, 0.0f, 1.0f}, {2.0f, 0.1f, -0.1f}, {0.0f, -1.0f, 0.5f}};
        for (int t = 1; t <= 4; t++) {
            orl_adam_step(&opt, pf, grads[t - 1], -1.0f);
            for (int i = 0; i < 3; i++) {
                double gi = grads[t - 1][i];
                double lr = 0.01, wd = 0.1;
                if (decoupled)
                    pd[i] *= 1.0 - lr * wd;
                else
                    gi += wd * pd[i];
                md[i] = 0.9 * md[i] + 0.1 * gi;
                vd[i] = 0.999 * vd[i] + 0.001 * gi * gi;
                double mhat = md[i] / (1.0 - pow(0.9, t));
                double vhat = vd[i] / (1.0 - pow(0.999, t));
                pd[i] -= lr * mhat / (sqrt(vhat) + 1e-8);
                cr_assert(fabs(pf[i] - pd[i]) < 1e-6, "decoupled %d t %d p[%d] %.9g want %.9g",
                          decoupled, t, i, (double)pf[i], pd[i]);
            }
        }
        orl_adam_free(&opt);
    }

    /* AdamW with a zero gradient only decays: p = p0 (1 - lr wd)^t */
    cfg = orl_adam_defaults();
    cfg.lr = 0.1f;
    cfg.weight_decay = 0.5f;
    cfg.decoupled = 1;
    cr_assert_eq(orl_adam_init(&opt, &cfg, 1), ORL_OK);
    float q = 4.0f, zero = 0.0f;
    for (int t = 0; t < 5; t++) orl_adam_step(&opt, &q, &zero, -1.0f);
    cr_assert(fabs(q - 4.0 * pow(0.95, 5)) < 1e-5, "%g", (double)q);
    orl_adam_free(&opt);
    /* plain Adam (L2) with a zero gradient still moves p toward 0 by about lr per step */
    cfg.decoupled = 0;
    cr_assert_eq(orl_adam_init(&opt, &cfg, 1), ORL_OK);
    q = 4.0f;
    orl_adam_step(&opt, &q, &zero, -1.0f);
    cr_assert(fabs(q - 3.9) < 1e-6, "%g", (double)q);
    orl_adam_free(&opt);

    cfg.beta1 = 1.0f;
    cr_assert_eq(orl_adam_init(&opt, &cfg, 1), ORL_ERR_INPUT);
}

/* ---- schedules ---- */

/* the vector kernels (AVX2 where the CPU has it, SSE2, scalar tails) give the bits of plain
 * scalar float loops written here with the same operations in the same order: Adam, Polyak, the
 * normaliser, the bias + ReLU forward, the ReLU gate with bias sums, and a one-output layer's
 * fused outer-product backward; lengths 37 and widths 19 cover whole vectors and tails */
Test(nn_simd, kernels_give_scalar_bits) {
    enum { N = 37, B = 7, IN = 5, H = 19 };
    unsigned seed = 21;
    srand(seed);
    float p[N], g[N], q[N], m[2 * 64] = {0}, mr[N] = {0}, vr[N] = {0};
    for (int i = 0; i < N; i++) {
        p[i] = q[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        g[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    }
    orl_adam_config cfg = orl_adam_defaults();
    cfg.weight_decay = 0.01f;
    orl_adam opt;
    cr_assert_eq(orl_adam_bind(&opt, &cfg, N, m), ORL_OK);
    for (int t = 1; t <= 2; t++) {
        orl_adam_step(&opt, p, g, -1.0f);
        double bc1 = 1.0 - pow((double)cfg.beta1, t), bc2 = 1.0 - pow((double)cfg.beta2, t);
        float step = (float)((double)cfg.lr / bc1), inv = (float)(1.0 / sqrt(bc2));
        for (int i = 0; i < N; i++) {
            float gi = g[i] + cfg.weight_decay * q[i];
            float pi = q[i] * 1.0f;
            mr[i] = cfg.beta1 * mr[i] + (1.0f - cfg.beta1) * gi;
            vr[i] = cfg.beta2 * vr[i] + (1.0f - cfg.beta2) * gi * gi;
            q[i] = pi - step * mr[i] / (sqrtf(vr[i]) * inv + cfg.eps);
        }
    }
    cr_assert(memcmp(p, q, sizeof p) == 0, "adam: vector and scalar bits differ (seed %u)", seed);
    float tgt[N], tref[N];
    for (int i = 0; i < N; i++) tgt[i] = tref[i] = g[i];
    orl_params_polyak(tgt, p, N, 0.005f);
    for (int i = 0; i < N; i++) tref[i] = (1.0f - 0.005f) * tref[i] + 0.005f * p[i];
    cr_assert(memcmp(tgt, tref, sizeof tgt) == 0, "polyak bits differ (seed %u)", seed);

    /* the normaliser over 19 columns */
    orl_normalizer nm;
    cr_assert_eq(orl_normalizer_identity(&nm, H), ORL_OK);
    for (int j = 0; j < H; j++) nm.mean[j] = 0.1f * (float)j, nm.std[j] = 0.3f + 0.07f * (float)j;
    float xs[B * H], ys[B * H];
    for (int i = 0; i < B * H; i++) xs[i] = (float)rand() / (float)RAND_MAX * 4.0f - 2.0f;
    orl_normalizer_apply(&nm, xs, B, ys);
    for (int i = 0; i < B * H; i++)
        cr_assert(ys[i] == (xs[i] - nm.mean[i % H]) / nm.std[i % H], "normaliser element %d", i);
    orl_normalizer_free(&nm);

    /* IN -> H (ReLU) -> O for O = 3 (GEMM backward) and O = 1 (fused outer product) */
    for (int O = 3; O >= 1; O -= 2) {
        orl_mlp_config mc = {
            .n_layers = 2, .widths = {IN, H, O}, .activation = ORL_ACTIVATION_RELU};
        orl_rng rng;
        orl_rng_seed(&rng, seed, (uint64_t)O);
        orl_mlp net;
        orl_mlp_work w;
        cr_assert_eq(orl_mlp_create(&net, &mc, &rng), ORL_OK);
        cr_assert_eq(orl_mlp_work_init(&w, &mc, B), ORL_OK);
        float x[B * IN], dout[B * 3], pre[B * H], out[B * 3], next[B * H], db[H] = {0};
        for (int i = 0; i < B * IN; i++) x[i] = (float)orl_rng_normal(&rng);
        for (int i = 0; i < B * O; i++) dout[i] = (float)orl_rng_normal(&rng);
        orl_mlp_forward(&net, &w, x, B, NULL);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, IN, 1.0f, x, IN, net.w[0], IN,
                    0.0f, pre, H);
        for (int i = 0; i < B * H; i++) {
            pre[i] += net.b[0][i % H];
            pre[i] = pre[i] > 0.0f ? pre[i] : 0.0f;
            cr_assert(pre[i] == w.out[0][i], "O %d: hidden element %d", O, i);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, O, H, 1.0f, pre, H, net.w[1], H,
                    0.0f, out, O);
        for (int i = 0; i < B * O; i++)
            cr_assert(out[i] + net.b[1][i % O] == w.out[1][i], "O %d: output %d", O, i);
        float *dp = calloc((size_t)net.n_params, sizeof(float));
        cr_assert_not_null(dp);
        orl_mlp_backward(&net, &w, dout, dp, NULL);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, O, 1.0f, dout, O, net.w[1], H,
                    0.0f, next, H);
        for (int r = 0; r < B; r++)
            for (int i = 0; i < H; i++) {
                float v = pre[r * H + i] > 0.0f ? next[r * H + i] : 0.0f;
                db[i] += v;
            }
        float *db_lib = dp + (net.b[0] - net.params);
        for (int i = 0; i < H; i++)
            cr_assert(db[i] == db_lib[i], "O %d: hidden bias gradient %d: %g, %g", O, i,
                      (double)db[i], (double)db_lib[i]);
        free(dp);
        orl_mlp_work_free(&w);
        orl_mlp_free(&net);
    }
}

Test(nn_schedule, known_steps) {
    orl_schedule s = {
        .kind = ORL_SCHEDULE_COSINE, .base = 1.0f, .min = 0.1f, .warmup = 10, .total = 110};
    cr_assert_float_eq(orl_schedule_lr(&s, 0), 0.0f, 1e-7);
    cr_assert_float_eq(orl_schedule_lr(&s, 5), 0.5f, 1e-7);
    cr_assert_float_eq(orl_schedule_lr(&s, 10), 1.0f, 1e-7);
    cr_assert_float_eq(orl_schedule_lr(&s, 60), 0.55f, 1e-6);
    /* a quarter of the way: min + (base - min) (1 + cos(pi / 4)) / 2 */
    cr_assert_float_eq(orl_schedule_lr(&s, 35), 0.1 + 0.9 * (1 + sqrt(0.5)) / 2, 1e-6);
    cr_assert_float_eq(orl_schedule_lr(&s, 110), 0.1f, 1e-6);
    cr_assert_float_eq(orl_schedule_lr(&s, 500), 0.1f, 1e-6);
    s.kind = ORL_SCHEDULE_LINEAR;
    cr_assert_float_eq(orl_schedule_lr(&s, 5), 0.5f, 1e-7);
    cr_assert_float_eq(orl_schedule_lr(&s, 35), 1.0 - 0.9 * 0.25, 1e-6);
    cr_assert_float_eq(orl_schedule_lr(&s, 60), 0.55f, 1e-6);
    cr_assert_float_eq(orl_schedule_lr(&s, 110), 0.1f, 1e-6);
    s.kind = ORL_SCHEDULE_CONSTANT;
    cr_assert_float_eq(orl_schedule_lr(&s, 5), 0.5f, 1e-7);
    cr_assert_float_eq(orl_schedule_lr(&s, 60), 1.0f, 1e-7);
    s.warmup = 0;
    cr_assert_float_eq(orl_schedule_lr(&s, 0), 1.0f, 1e-7);
    s.kind = ORL_SCHEDULE_COSINE;
    cr_assert_float_eq(orl_schedule_lr(&s, 0), 1.0f, 1e-7);
    cr_assert_float_eq(orl_schedule_lr(&s, 55), 0.55f, 1e-6);
}

/* ---- normalizer ---- */

Test(nn_normalizer, fit_and_apply) {
    /* column 0: 1 2 3 4 (mean 2.5, population std sqrt(1.25)); column 1 constant 7 */
    const float x[] = {1, 7, 2, 7, 3, 7, 4, 7};
    orl_normalizer nm;
    cr_assert_eq(orl_normalizer_fit(&nm, x, 4, 2, 1e-3f), ORL_OK);
    cr_assert_float_eq(nm.mean[0], 2.5f, 1e-7);
    cr_assert_float_eq(nm.std[0], (float)sqrt(1.25), 1e-7);
    cr_assert_float_eq(nm.mean[1], 7.0f, 1e-7);
    cr_assert_eq(nm.std[1], 1e-3f);
    float y[8];
    orl_normalizer_apply(&nm, x, 4, y);
    cr_assert_float_eq(y[0], (float)(-1.5 / sqrt(1.25)), 1e-6);
    cr_assert_float_eq(y[1], 0.0f, 1e-7);
    float z[8];
    memcpy(z, x, sizeof(z));
    orl_normalizer_apply(&nm, z, 4, z);
    cr_assert_eq(memcmp(y, z, sizeof(y)), 0);
    orl_normalizer_free(&nm);

    cr_assert_eq(orl_normalizer_identity(&nm, 3), ORL_OK);
    orl_normalizer_apply(&nm, x, 2, y);
    cr_assert_eq(memcmp(x, y, 6 * sizeof(float)), 0);
    orl_normalizer_free(&nm);
    cr_assert_eq(orl_normalizer_fit(&nm, x, 0, 2, 1e-3f), ORL_ERR_INPUT);
}

Test(nn_normalizer, large_offset_in_double) {
    /* 10000 +- 0.5 alternating: a float one-pass variance would lose it; mean 10000, std 0.5 */
    enum { n = 10001 };
    static float x[n];
    for (int i = 0; i < n - 1; i++) x[i] = i % 2 ? 10000.5f : 9999.5f;
    x[n - 1] = 10000.0f;
    orl_normalizer nm;
    cr_assert_eq(orl_normalizer_fit(&nm, x, n, 1, 1e-3f), ORL_OK);
    double want_std = sqrt(0.25 * (n - 1) / n);
    cr_assert(fabs(nm.mean[0] - 10000.0) < 1e-3, "mean %.9g", (double)nm.mean[0]);
    cr_assert(fabs(nm.std[0] - want_std) < 1e-6, "std %.9g want %.9g", (double)nm.std[0], want_std);
    orl_normalizer_free(&nm);
    x[3] = NAN;
    cr_assert_eq(orl_normalizer_fit(&nm, x, n, 1, 1e-3f), ORL_ERR_NUMERIC);
}

Test(nn_mlp, bind_to_a_slice) {
    /* two networks in one buffer: the second's views start right after the first's P */
    const int32_t widths[] = {3, 8, 2};
    orl_mlp_config cfg = make_cfg(2, widths, ORL_ACTIVATION_TANH, 1);
    int64_t n = 0;
    cr_assert_eq(orl_mlp_param_count(&cfg, &n), ORL_OK);
    float *buf = calloc(2 * (size_t)n, sizeof(float));
    orl_mlp a, b;
    cr_assert_eq(orl_mlp_bind(&a, &cfg, buf), ORL_OK);
    cr_assert_eq(orl_mlp_bind(&b, &cfg, buf + n), ORL_OK);
    cr_assert_eq(a.owns_params, 0);
    cr_assert_eq(b.w[0], buf + n);
    cr_assert_eq(b.ln_bias[0] + 8, b.w[1]);
    cr_assert_eq(b.b[1] + 2, buf + 2 * n);
    orl_rng rng;
    orl_rng_seed(&rng, 5, 7);
    orl_mlp_init_params(&b, &rng);
    for (int64_t i = 0; i < n; i++) cr_assert_eq(buf[i], 0.0f);
    orl_mlp_free(&b); /* does not free the buffer it does not own */
    free(buf);
}

/* orl_mlp_forward_shared against orl_mlp_forward on the rows it stands for ([shared | own] with
 * the shared part repeated over each group): within float rounding (another summation order in
 * the first layer), the same bits on a second call, for each activation, with and without
 * LayerNorm, one and three layers, and with every group one row */
Test(nn_mlp, shared_first_layer_matches_the_repeated_rows) {
    const int32_t w3[] = {17, 64, 64, 6}, w1[] = {9, 5};
    const struct {
        int32_t n_layers;
        const int32_t *widths;
        int32_t n_shared, repeat, groups;
    } cases[] = {{3, w3, 11, 10, 25}, {3, w3, 17 - 6, 1, 7}, {1, w1, 4, 3, 5}, {3, w3, 1, 4, 2}};
    uint64_t seed = 41;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t a = 0; a < sizeof(all_acts) / sizeof(all_acts[0]); a++)
            for (int ln = 0; ln <= 1; ln++) {
                orl_mlp_config cfg = make_cfg(cases[c].n_layers, cases[c].widths, all_acts[a], ln);
                int32_t In = cfg.widths[0], O = cfg.widths[cfg.n_layers], Is = cases[c].n_shared;
                int32_t G = cases[c].groups, R = cases[c].repeat, B = G * R;
                orl_rng rng;
                orl_rng_seed(&rng, seed++, 3);
                orl_mlp m;
                cr_assert_eq(orl_mlp_create(&m, &cfg, &rng), ORL_OK);
                orl_mlp_work w;
                cr_assert_eq(orl_mlp_work_init(&w, &cfg, B), ORL_OK);
                float *shared = malloc((size_t)G * (size_t)Is * sizeof(float));
                float *own = malloc((size_t)B * (size_t)(In - Is) * sizeof(float));
                float *x = malloc((size_t)B * (size_t)In * sizeof(float));
                float *want = malloc((size_t)B * (size_t)O * sizeof(float));
                float *got = malloc((size_t)B * (size_t)O * sizeof(float));
                float *again = malloc((size_t)B * (size_t)O * sizeof(float));
                for (int32_t i = 0; i < G * Is; i++) shared[i] = (float)orl_rng_normal(&rng);
                for (int32_t i = 0; i < B * (In - Is); i++) own[i] = (float)orl_rng_normal(&rng);
                for (int32_t r = 0; r < B; r++) {
                    memcpy(x + (size_t)r * (size_t)In, shared + (size_t)(r / R) * (size_t)Is,
                           (size_t)Is * sizeof(float));
                    memcpy(x + (size_t)r * (size_t)In + Is, own + (size_t)r * (size_t)(In - Is),
                           (size_t)(In - Is) * sizeof(float));
                }
                orl_mlp_forward(&m, &w, x, B, want);
                orl_mlp_forward_shared(&m, &w, shared, Is, R, own, B, got);
                orl_mlp_forward_shared(&m, &w, shared, Is, R, own, B, again);
                cr_assert_null(w.input, "a shared forward leaves no input for backward");
                for (int32_t i = 0; i < B * O; i++) {
                    cr_assert(fabsf(got[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])),
                              "case %zu act %zu ln %d: [%d] %.9g vs %.9g", c, a, ln, i,
                              (double)got[i], (double)want[i]);
                    cr_assert(memcmp(&got[i], &again[i], sizeof(float)) == 0);
                }
                free(shared), free(own), free(x), free(want), free(got), free(again);
                orl_mlp_work_free(&w);
                orl_mlp_free(&m);
            }
}

/* ---- training ---- */

/* fits sin on [-pi, pi] with full-batch Adam, returns the final MSE; params copied to
 * final_params (P) when given */
static double train_sin(uint64_t seed, int steps, float *final_params, int64_t *n_params) {
    enum { batch = 256 };
    const int32_t widths[] = {1, 64, 64, 1};
    orl_mlp_config cfg = make_cfg(3, widths, ORL_ACTIVATION_TANH, 0);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 5);
    orl_mlp m;
    cr_assert_eq(orl_mlp_create(&m, &cfg, &rng), ORL_OK);
    orl_mlp_work w;
    cr_assert_eq(orl_mlp_work_init(&w, &cfg, batch), ORL_OK);
    orl_adam_config acfg = orl_adam_defaults();
    acfg.lr = 3e-3f;
    orl_adam opt;
    cr_assert_eq(orl_adam_init(&opt, &acfg, m.n_params), ORL_OK);
    float *grads = malloc((size_t)m.n_params * sizeof(float));
    float x[batch], y[batch], dout[batch];
    for (int i = 0; i < batch; i++) {
        x[i] = (float)(-TEST_PI + 2.0 * TEST_PI * i / (batch - 1));
        y[i] = sinf(x[i]);
    }
    double mse = 0.0;
    for (int step = 0; step <= steps; step++) {
        orl_mlp_forward(&m, &w, x, batch, NULL);
        const float *out = w.out[2];
        mse = 0.0;
        for (int i = 0; i < batch; i++) {
            double d = (double)out[i] - y[i];
            mse += d * d;
            dout[i] = (float)(2.0 * d / batch);
        }
        mse /= batch;
        if (step == steps) break;
        memset(grads, 0, (size_t)m.n_params * sizeof(float));
        orl_mlp_backward(&m, &w, dout, grads, NULL);
        orl_adam_step(&opt, m.params, grads, -1.0f);
    }
    if (final_params) memcpy(final_params, m.params, (size_t)m.n_params * sizeof(float));
    if (n_params) *n_params = m.n_params;
    free(grads);
    orl_adam_free(&opt);
    orl_mlp_work_free(&w);
    orl_mlp_free(&m);
    return mse;
}

Test(nn_train, fits_sin) {
    openblas_set_num_threads(1);
    double mse = train_sin(2024, 4000, NULL, NULL);
    cr_log_info("seed 2024: MSE %g after 4000 Adam steps", mse);
    cr_assert(mse < 1e-3, "seed 2024: MSE %g after 4000 Adam steps, want < 1e-3", mse);
}

Test(nn_train, same_seed_same_bits) {
    openblas_set_num_threads(1);
    int64_t n = 0;
    train_sin(9, 0, NULL, &n);
    float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
    float *c = malloc((size_t)n * sizeof(float));
    train_sin(9, 0, a, NULL);
    train_sin(9, 0, b, NULL);
    cr_assert_eq(memcmp(a, b, (size_t)n * sizeof(float)), 0, "init differs for seed 9");
    train_sin(9, 25, a, NULL);
    train_sin(9, 25, b, NULL);
    cr_assert_eq(memcmp(a, b, (size_t)n * sizeof(float)), 0, "training differs for seed 9");
    train_sin(10, 25, c, NULL);
    cr_assert_neq(memcmp(a, c, (size_t)n * sizeof(float)), 0, "seeds 9 and 10 agree");
    free(a), free(b), free(c);
}

/* ---- no allocation in forward, backward or the optimizer step ---- */

#include "tests/alloc_count.h"

Test(nn_alloc, none_in_forward_backward_step) {
#ifdef ORL_TEST_COUNT_ALLOCATIONS
    openblas_set_num_threads(1);
    const int32_t widths[] = {17, 64, 33, 6};
    orl_mlp_config cfg = make_cfg(3, widths, ORL_ACTIVATION_SILU, 1);
    orl_rng rng;
    orl_rng_seed(&rng, 21, 6);
    orl_mlp m;
    cr_assert_eq(orl_mlp_create(&m, &cfg, &rng), ORL_OK);
    orl_mlp_work w;
    cr_assert_eq(orl_mlp_work_init(&w, &cfg, 32), ORL_OK);
    orl_adam_config acfg = orl_adam_defaults();
    orl_adam opt;
    cr_assert_eq(orl_adam_init(&opt, &acfg, m.n_params), ORL_OK);
    float x[32 * 17], dx[32 * 17], dout[32 * 6];
    float *grads = calloc((size_t)m.n_params, sizeof(float));
    for (int i = 0; i < 32 * 17; i++) x[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < 32 * 6; i++) dout[i] = (float)orl_rng_normal(&rng);
    /* the sanity check of the counter itself */
    void *volatile probe;
    alloc_count_begin();
    probe = malloc(16);
    free(probe);
    cr_assert_eq(alloc_count_end(), 1, "counter saw %ld", alloc_count);
    /* one warm-up round (the BLAS may set up its buffers on first use), then count */
    for (int round = 0; round < 2; round++) {
        if (round == 1) alloc_count_begin();
        orl_mlp_forward(&m, &w, x, 32, NULL);
        orl_mlp_backward(&m, &w, dout, grads, dx);
        orl_adam_step(&opt, m.params, grads, -1.0f);
        orl_mlp_forward(&m, &w, x, 7, NULL);
        orl_mlp_backward(&m, &w, dout, NULL, dx);
        alloc_count_end();
    }
    /* the BLAS's own, for the record (0 on most CPUs; OpenBLAS's small kernels on others) */
    cr_log_info("nn_alloc: %ld allocations inside the BLAS (not counted)", alloc_count_blas);
    fprintf(stderr, "nn_alloc: %ld allocations inside the BLAS (not counted), %ld by orl\n",
            alloc_count_blas, alloc_count);
    cr_assert_eq(alloc_count, 0, "%ld allocations in forward/backward/step outside the BLAS",
                 alloc_count);
    free(grads);
    orl_adam_free(&opt);
    orl_mlp_work_free(&w);
    orl_mlp_free(&m);
#else
    cr_skip_test("allocation counting needs glibc and no sanitizer");
#endif
}

/* ---- the fit kit (nn/fit.c) ----
 * Its step must be the raw sequence (forward, backward into zeroed gradients, optional clip,
 * Adam) bit for bit; Polyak and clipping follow their formulas; the listed state round-trips. */

static const int32_t fit_widths[] = {17, 32, 16, 6};

/* fills x (n) and y (n) from rng */
static void fit_fill(float *x, int64_t n, orl_rng *rng) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)orl_rng_normal(rng);
}

/* dout (B, O) = 2 (out - y) / (B O), the MSE gradient, so dout depends on the forward */
static void fit_mse_grad(float *dout, const float *out, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) dout[i] = 2.0f * (out[i] - y[i]) / (float)n;
}

/* compares the kit against raw orl_mlp + orl_adam calls for `steps` steps, with clipping at
 * max_norm (0: none) and, when on_external, the kit training a caller's network in place */
static void fit_against_raw(uint64_t seed, double max_norm, int on_external) {
    enum { B = 24, steps = 6 };
    orl_mlp_config cfg = make_cfg(3, fit_widths, ORL_ACTIVATION_SILU, 1);
    orl_rng r1, r2, data;
    orl_rng_seed(&r1, seed, 1);
    orl_rng_seed(&r2, seed, 1);
    orl_rng_seed(&data, seed, 2);
    orl_mlp raw, ext = {0};
    cr_assert_eq(orl_mlp_create(&raw, &cfg, &r1), ORL_OK);
    orl_mlp_work w;
    cr_assert_eq(orl_mlp_work_init(&w, &cfg, B), ORL_OK);
    orl_adam_config acfg = orl_adam_defaults();
    acfg.lr = 1e-2f;
    orl_adam opt;
    cr_assert_eq(orl_adam_init(&opt, &acfg, raw.n_params), ORL_OK);
    orl_fit_config fc = orl_fit_defaults(1e-2f, B);
    fc.max_grad_norm = max_norm;
    orl_fit f;
    if (on_external) {
        cr_assert_eq(orl_mlp_create(&ext, &cfg, &r2), ORL_OK);
        cr_assert_eq(orl_fit_init_on(&f, &ext, &fc), ORL_OK);
        cr_assert_eq(f.net.params, ext.params, "seed %llu: the kit copied the parameters",
                     (unsigned long long)seed);
    } else {
        cr_assert_eq(orl_fit_init(&f, &cfg, &fc, &r2), ORL_OK);
    }
    int64_t P = raw.n_params;
    size_t pb = (size_t)P * sizeof(float);
    cr_assert_eq(f.net.n_params, P);
    cr_assert_eq(memcmp(f.net.params, raw.params, pb), 0, "seed %llu: init differs",
                 (unsigned long long)seed);
    float x[B * 17], y[B * 6], dout[B * 6], dx_raw[B * 17], dx_fit[B * 17];
    float *grads = calloc((size_t)P, sizeof(float));
    int clipped = 0;
    for (int s = 0; s < steps; s++) {
        fit_fill(x, B * 17, &data);
        fit_fill(y, B * 6, &data);
        memset(dx_raw, 0, sizeof dx_raw);
        memset(dx_fit, 0, sizeof dx_fit);
        /* raw */
        orl_mlp_forward(&raw, &w, x, B, NULL);
        fit_mse_grad(dout, w.out[2], y, B * 6);
        memset(grads, 0, pb);
        orl_mlp_backward(&raw, &w, dout, grads, dx_raw);
        double norm_raw = NAN;
        if (max_norm > 0.0) norm_raw = orl_params_clip_norm(grads, P, max_norm);
        orl_adam_step(&opt, raw.params, grads, -1.0f);
        /* kit */
        const float *out = orl_fit_forward(&f, x, B);
        cr_assert_eq(memcmp(out, w.out[2], (size_t)B * 6 * sizeof(float)), 0);
        fit_mse_grad(dout, out, y, B * 6);
        orl_fit_backward(&f, dout, dx_fit);
        double norm_fit = orl_fit_step(&f, -1.0f);
        cr_assert_eq(memcmp(dx_fit, dx_raw, sizeof dx_raw), 0, "seed %llu step %d: dx",
                     (unsigned long long)seed, s);
        cr_assert_eq(memcmp(f.net.params, raw.params, pb), 0, "seed %llu step %d: params",
                     (unsigned long long)seed, s);
        cr_assert_eq(memcmp(f.adam.m, opt.m, pb), 0);
        cr_assert_eq(memcmp(f.adam.v, opt.v, pb), 0);
        cr_assert_eq(f.adam.t, opt.t);
        clipped += norm_raw > max_norm;
        if (max_norm > 0.0)
            cr_assert_eq(norm_fit, norm_raw, "seed %llu: norm %g vs %g", (unsigned long long)seed,
                         norm_fit, norm_raw);
        else
            cr_assert(isnan(norm_fit));
        for (int64_t i = 0; i < P; i++) cr_assert_eq(f.grads[i], 0.0f, "grads not zeroed");
    }
    if (max_norm > 0.0 && max_norm < 1.0)
        cr_assert_eq(clipped, steps, "seed %llu: only %d of %d steps clipped",
                     (unsigned long long)seed, clipped, steps);
    free(grads);
    orl_fit_free(&f);
    orl_fit_free(&f); /* twice is harmless */
    orl_mlp_free(&ext);
    orl_adam_free(&opt);
    orl_mlp_work_free(&w);
    orl_mlp_free(&raw);
}

Test(nn_fit, step_equals_raw_sequence) {
    openblas_set_num_threads(1);
    fit_against_raw(31, 0.0, 0);
    fit_against_raw(32, 0.0, 1);
}

Test(nn_fit, clipping_equals_raw_and_formula) {
    openblas_set_num_threads(1);
    /* a small max norm, so every step clips; and one larger than any norm here */
    fit_against_raw(33, 0.05, 0);
    fit_against_raw(34, 1e6, 1);
    /* the formula: g' = g * max / ||g|| when ||g|| > max; the norm before is returned */
    orl_mlp_config cfg = make_cfg(2, (const int32_t[]){3, 5, 2}, ORL_ACTIVATION_TANH, 0);
    orl_rng rng;
    orl_rng_seed(&rng, 35, 1);
    orl_fit_config fc = orl_fit_defaults(0.1f, 4);
    fc.max_grad_norm = 0.5;
    fc.adam.beta1 = 0.0f; /* m = g: the step's first moment is the clipped gradient */
    orl_fit f;
    cr_assert_eq(orl_fit_init(&f, &cfg, &fc, &rng), ORL_OK);
    int64_t P = f.net.n_params;
    double sq = 0.0;
    for (int64_t i = 0; i < P; i++) {
        f.grads[i] = (float)(0.3 * orl_rng_normal(&rng));
        sq += (double)f.grads[i] * (double)f.grads[i];
    }
    float *g = malloc((size_t)P * sizeof(float));
    memcpy(g, f.grads, (size_t)P * sizeof(float));
    double norm = sqrt(sq);
    cr_assert(norm > 0.5, "seed 35: norm %g does not exercise the clip", norm);
    double got = orl_fit_step(&f, -1.0f);
    cr_assert(fabs(got - norm) <= 1e-12 * norm, "norm %.17g, formula %.17g", got, norm);
    double sq_after = 0.0;
    for (int64_t i = 0; i < P; i++) {
        double want = (double)g[i] * 0.5 / norm;
        cr_assert(fabs((double)f.adam.m[i] - want) <= 1e-6 * fabs(want) + 1e-12,
                  "clipped gradient %d: %g, formula %g", (int)i, (double)f.adam.m[i], want);
        sq_after += (double)f.adam.m[i] * (double)f.adam.m[i];
    }
    cr_assert(fabs(sqrt(sq_after) - 0.5) < 1e-6, "clipped norm %g", sqrt(sq_after));
    free(g);
    orl_fit_free(&f);
}

Test(nn_fit, target_polyak_and_copy) {
    openblas_set_num_threads(1);
    orl_mlp_config cfg = make_cfg(3, fit_widths, ORL_ACTIVATION_RELU, 0);
    orl_rng rng;
    orl_rng_seed(&rng, 36, 1);
    orl_fit_config fc = orl_fit_defaults(1e-2f, 8);
    fc.target = 1;
    orl_fit f;
    cr_assert_eq(orl_fit_init(&f, &cfg, &fc, &rng), ORL_OK);
    int64_t P = f.net.n_params;
    size_t pb = (size_t)P * sizeof(float);
    cr_assert_eq(memcmp(f.target.params, f.net.params, pb), 0, "the target starts as a copy");
    cr_assert_neq(f.target.params, f.net.params);
    float x[8 * 17], y[8 * 6], dout[8 * 6];
    fit_fill(x, 8 * 17, &rng);
    fit_fill(y, 8 * 6, &rng);
    fit_mse_grad(dout, orl_fit_forward(&f, x, 8), y, 8 * 6);
    orl_fit_backward(&f, dout, NULL);
    orl_fit_step(&f, -1.0f);
    float *before = malloc(pb);
    memcpy(before, f.target.params, pb);
    const float tau = 0.05f;
    orl_fit_polyak(&f, tau);
    int64_t moved = 0;
    for (int64_t i = 0; i < P; i++) {
        double want =
            (1.0 - (double)tau) * (double)before[i] + (double)tau * (double)f.net.params[i];
        cr_assert(fabs((double)f.target.params[i] - want) <= 1e-6 * (fabs(want) + 1e-3),
                  "polyak %d: %g, formula %g", (int)i, (double)f.target.params[i], want);
        moved += f.target.params[i] != before[i];
    }
    cr_assert(moved > P / 2, "polyak moved only %lld of %lld", (long long)moved, (long long)P);
    /* the target network computes with the target parameters */
    orl_mlp ref;
    cr_assert_eq(orl_mlp_bind(&ref, &cfg, f.target.params), ORL_OK);
    orl_mlp_work w;
    cr_assert_eq(orl_mlp_work_init(&w, &cfg, 8), ORL_OK);
    orl_mlp_forward(&ref, &w, x, 8, NULL);
    cr_assert_eq(memcmp(orl_fit_target_forward(&f, x, 8), w.out[2], 8 * 6 * sizeof(float)), 0);
    orl_fit_target_copy(&f);
    cr_assert_eq(memcmp(f.target.params, f.net.params, pb), 0);
    orl_mlp_work_free(&w);
    free(before);
    orl_fit_free(&f);
}

Test(nn_fit, checkpoint_buffers_round_trip) {
    openblas_set_num_threads(1);
    orl_mlp_config cfg = make_cfg(3, fit_widths, ORL_ACTIVATION_TANH, 1);
    orl_rng rng;
    orl_rng_seed(&rng, 37, 1);
    orl_fit_config fc = orl_fit_defaults(3e-3f, 16);
    fc.target = 1;
    fc.max_grad_norm = 1.0;
    orl_fit f;
    cr_assert_eq(orl_fit_init(&f, &cfg, &fc, &rng), ORL_OK);
    float x[16 * 17], y[16 * 6], dout[16 * 6];
    fit_fill(x, 16 * 17, &rng);
    fit_fill(y, 16 * 6, &rng);
    for (int s = 0; s < 3; s++) {
        fit_mse_grad(dout, orl_fit_forward(&f, x, 16), y, 16 * 6);
        orl_fit_backward(&f, dout, NULL);
        orl_fit_step(&f, -1.0f);
        orl_fit_polyak(&f, 0.1f);
    }
    /* the list: counted past the capacity, then filled after one existing entry */
    cr_assert_eq(orl_fit_buffers(&f, "q", NULL, 0, 0), 5);
    orl_buffer list[6];
    cr_assert_eq(orl_fit_buffers(&f, "q", list, 6, 1), 6);
    const char *names[] = {"q_params", "q_adam_m", "q_adam_v", "q_adam_t", "q_target"};
    for (int i = 0; i < 5; i++) cr_assert_str_eq(list[1 + i].name, names[i]);
    cr_assert_eq(list[4].ptr, &f.adam.t);
    /* save the bytes, take a step, restore, take it again: the same bits */
    int64_t total = 0;
    for (int i = 1; i < 6; i++) total += list[i].bytes;
    char *saved = malloc((size_t)total), *p = saved;
    for (int i = 1; i < 6; i++) memcpy(p, list[i].ptr, (size_t)list[i].bytes), p += list[i].bytes;
    int64_t P = f.net.n_params;
    size_t pb = (size_t)P * sizeof(float);
    float *after = malloc(2 * pb);
    fit_mse_grad(dout, orl_fit_forward(&f, x, 16), y, 16 * 6);
    orl_fit_backward(&f, dout, NULL);
    orl_fit_step(&f, -1.0f);
    orl_fit_polyak(&f, 0.1f);
    memcpy(after, f.net.params, pb);
    memcpy(after + P, f.target.params, pb);
    int64_t t_after = f.adam.t;
    p = saved;
    for (int i = 1; i < 6; i++) memcpy(list[i].ptr, p, (size_t)list[i].bytes), p += list[i].bytes;
    cr_assert_eq(f.adam.t, t_after - 1);
    cr_assert_neq(memcmp(after, f.net.params, pb), 0, "restore changed nothing");
    fit_mse_grad(dout, orl_fit_forward(&f, x, 16), y, 16 * 6);
    orl_fit_backward(&f, dout, NULL);
    orl_fit_step(&f, -1.0f);
    orl_fit_polyak(&f, 0.1f);
    cr_assert_eq(memcmp(after, f.net.params, pb), 0, "the restored step differs");
    cr_assert_eq(memcmp(after + P, f.target.params, pb), 0, "the restored target differs");
    cr_assert_eq(f.adam.t, t_after);
    free(after);
    free(saved);
    orl_fit_free(&f);
}

Test(nn_fit, bad_config_is_input_error) {
    orl_mlp_config cfg = make_cfg(2, (const int32_t[]){3, 5, 2}, ORL_ACTIVATION_RELU, 0);
    orl_rng rng;
    orl_rng_seed(&rng, 38, 1);
    orl_fit f;
    orl_fit_config fc = orl_fit_defaults(1e-3f, 0);
    cr_assert_eq(orl_fit_init(&f, &cfg, &fc, &rng), ORL_ERR_INPUT);
    cr_assert_null(f.mem);
    fc = orl_fit_defaults(1e-3f, 4);
    fc.max_grad_norm = -1.0;
    cr_assert_eq(orl_fit_init(&f, &cfg, &fc, &rng), ORL_ERR_INPUT);
    fc = orl_fit_defaults(1e-3f, 4);
    fc.adam.beta1 = 1.0f;
    cr_assert_eq(orl_fit_init(&f, &cfg, &fc, &rng), ORL_ERR_INPUT);
    cfg.widths[1] = 0;
    fc = orl_fit_defaults(1e-3f, 4);
    cr_assert_eq(orl_fit_init(&f, &cfg, &fc, &rng), ORL_ERR_INPUT);
    orl_fit_free(&f);
    orl_fit_free(NULL);
}
