/* nn/heads.c, nn/vae.c, nn/ensemble.c: every head, loss, the VAE and the ensemble against
 * plain double-precision references written here.
 *
 * Each gradient case checks (1) central differences of the double reference against analytic
 * gradient formulas written in double, with a tight tolerance, and (2) that the float library
 * agrees with the double reference, forward and backward (backward into a buffer pre-filled with
 * 0.5 so that overwriting instead of accumulating fails). Plus distribution checks (the
 * tanh-Gaussian density integrates to 1, log-softmax sums to 1), a maximum-likelihood fit of the
 * Gaussian head with Adam, a short VAE training run, and seeded sampling determinism. Seeds are
 * fixed and printed in failure messages. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453
#define SEED    20261121u

/* ---- the generic gradient case ---- */

typedef struct grad_case {
    const char *name;
    int nx, ny;
    /* double reference: y (ny) = f(x (nx)) */
    void (*ref_forward)(const double *x, double *y, void *ctx);
    /* analytic gradient formulas in double: dx (nx) += dy (ny) J */
    void (*ref_backward)(const double *x, const double *dy, double *dx, void *ctx);
    /* the library, in float */
    void (*impl_forward)(const float *x, float *y, void *ctx);
    void (*impl_backward)(const float *x, const float *dy, float *dx, void *ctx);
    double fd_tol;   /* |fd - analytic| <= fd_tol (1 + |analytic|) */
    double impl_tol; /* |float - double| <= impl_tol (1 + |double|) */
} grad_case;

static double fill_uniform(orl_rng *rng, double lo, double hi) {
    return lo + (hi - lo) * orl_rng_uniform(rng);
}

static void check_case(const grad_case *gc, const double *x0, void *ctx) {
    int nx = gc->nx, ny = gc->ny;
    double *x = calloc((size_t)nx, sizeof(double));
    double *y = calloc((size_t)ny, sizeof(double));
    double *yp = calloc((size_t)ny, sizeof(double));
    double *dy = calloc((size_t)ny, sizeof(double));
    double *dx = calloc((size_t)nx, sizeof(double));
    float *xf = calloc((size_t)nx, sizeof(float));
    float *yf = calloc((size_t)ny, sizeof(float));
    float *dyf = calloc((size_t)ny, sizeof(float));
    float *dxf = calloc((size_t)nx, sizeof(float));
    cr_assert(x && y && yp && dy && dx && xf && yf && dyf && dxf);

    /* a random linear functional of the outputs makes every output's gradient count */
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 7);
    for (int i = 0; i < ny; i++) {
        dy[i] = fill_uniform(&rng, -1.0, 1.0);
        dyf[i] = (float)dy[i];
        dy[i] = (double)dyf[i]; /* the same weights in both precisions */
    }
    memcpy(x, x0, (size_t)nx * sizeof(double));
    gc->ref_forward(x, y, ctx);
    gc->ref_backward(x, dy, dx, ctx);

    /* (1) central differences of the reference vs the analytic formulas */
    for (int i = 0; i < nx; i++) {
        double h = 1e-6 * (1.0 + fabs(x0[i]));
        double lp = 0.0, lm = 0.0;
        x[i] = x0[i] + h;
        gc->ref_forward(x, yp, ctx);
        for (int j = 0; j < ny; j++) lp += dy[j] * yp[j];
        x[i] = x0[i] - h;
        gc->ref_forward(x, yp, ctx);
        for (int j = 0; j < ny; j++) lm += dy[j] * yp[j];
        x[i] = x0[i];
        double fd = (lp - lm) / (2.0 * h);
        cr_assert(fabs(fd - dx[i]) <= gc->fd_tol * (1.0 + fabs(dx[i])),
                  "%s: d/dx[%d]: finite difference %.10g, analytic %.10g (seed %u)", gc->name, i,
                  fd, dx[i], SEED);
    }

    /* (2) the float library against the double reference */
    for (int i = 0; i < nx; i++) xf[i] = (float)x0[i];
    for (int i = 0; i < nx; i++) x[i] = (double)xf[i];
    gc->ref_forward(x, y, ctx);
    for (int i = 0; i < nx; i++) dx[i] = 0.0;
    gc->ref_backward(x, dy, dx, ctx);
    gc->impl_forward(xf, yf, ctx);
    for (int j = 0; j < ny; j++)
        cr_assert(fabs((double)yf[j] - y[j]) <= gc->impl_tol * (1.0 + fabs(y[j])),
                  "%s: y[%d]: float %.8g, double %.8g", gc->name, j, (double)yf[j], y[j]);
    for (int i = 0; i < nx; i++) dxf[i] = 0.5f;
    gc->impl_backward(xf, dyf, dxf, ctx);
    for (int i = 0; i < nx; i++) {
        double g = (double)dxf[i] - 0.5;
        cr_assert(fabs(g - dx[i]) <= gc->impl_tol * (1.0 + fabs(dx[i])),
                  "%s: dx[%d]: float %.8g, double %.8g (accumulated into 0.5)", gc->name, i, g,
                  dx[i]);
    }
    free(x), free(y), free(yp), free(dy), free(dx), free(xf), free(yf), free(dyf), free(dxf);
}

/* ---- references: bounds, log-std rescaling, squashing ---- */

enum { HB = 3, HA = 2 }; /* batch and action size of the head tests */

static const float LO[HA] = {-2.0f, 0.0f};
static const float HI[HA] = {1.0f, 0.5f};

static void ref_bound(int j, double *c, double *s) {
    *c = 0.5 * ((double)HI[j] + (double)LO[j]);
    *s = 0.5 * ((double)HI[j] - (double)LO[j]);
}

static orl_gaussian_head test_head(void) {
    orl_gaussian_head h = {
        .act_dim = HA, .log_std_min = -5.0f, .log_std_max = 2.0f, .lo = LO, .hi = HI};
    return h;
}

/* log_std = min + (max - min)(tanh(raw) + 1)/2 and its derivative */
static double ref_log_std(double raw, double *d) {
    double mn = -5.0, mx = 2.0, t = tanh(raw);
    *d = 0.5 * (mx - mn) * (1.0 - t * t);
    return mn + 0.5 * (mx - mn) * (t + 1.0);
}

/* ---- tanh action head ---- */

static void tanh_ref_f(const double *x, double *y, void *ctx) {
    (void)ctx;
    for (int b = 0; b < HB; b++)
        for (int j = 0; j < HA; j++) {
            double c, s;
            ref_bound(j, &c, &s);
            y[b * HA + j] = c + s * tanh(x[b * HA + j]);
        }
}
static void tanh_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    (void)ctx;
    for (int b = 0; b < HB; b++)
        for (int j = 0; j < HA; j++) {
            double c, s, t = tanh(x[b * HA + j]);
            ref_bound(j, &c, &s);
            dx[b * HA + j] += dy[b * HA + j] * s * (1.0 - t * t);
        }
}
static void tanh_impl_f(const float *x, float *y, void *ctx) {
    (void)ctx;
    orl_tanh_head_forward(y, x, LO, HI, HB, HA);
}
static void tanh_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    (void)ctx;
    orl_tanh_head_backward(dx, dy, x, LO, HI, HB, HA);
}

Test(heads, tanh_head_gradients) {
    grad_case gc = {"tanh head", HB * HA,     HB * HA, tanh_ref_f, tanh_ref_b,
                    tanh_impl_f, tanh_impl_b, 1e-7,    1e-5};
    double x0[HB * HA] = {-1.3, 0.2, 0.7, -0.05, 2.1, -0.6};
    check_case(&gc, x0, NULL);
    /* the bounds are reached only in the limit and respected everywhere */
    float u[2] = {40.0f, -40.0f}, a[2];
    orl_tanh_head_forward(a, u, LO, HI, 1, 2);
    cr_assert_float_eq(a[0], HI[0], 1e-6);
    cr_assert_float_eq(a[1], LO[1], 1e-6);
}

/* the head's float tanh (a rational approximation in vector code) against tanh in double on a
 * dense grid of [-12, 12] and at the special values; an array whose length is not a multiple of
 * the vector width gives the same bits element by element */
Test(heads, tanh_head_float_tanh_accuracy) {
    enum { N = 240001 };
    float *u = malloc(N * sizeof(float)), *a = malloc(N * sizeof(float));
    cr_assert(u && a);
    for (int i = 0; i < N; i++) u[i] = (float)(-12.0 + 1e-4 * i);
    orl_tanh_head_forward(a, u, NULL, NULL, N, 1);
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        double d = fabs((double)a[i] - tanh((double)u[i]));
        worst = d > worst ? d : worst;
        float one;
        orl_tanh_head_forward(&one, &u[i], NULL, NULL, 1, 1);
        cr_assert_eq(one, a[i], "u = %g: %g alone, %g in the array", (double)u[i], (double)one,
                     (double)a[i]);
    }
    cr_assert_lt(worst, 4e-7, "largest |difference| from tanh: %g", worst);
    float sp[5] = {INFINITY, -INFINITY, NAN, 0.0f, 1e-30f}, t[5];
    orl_tanh_head_forward(t, sp, NULL, NULL, 5, 1);
    cr_assert_eq(t[0], 1.0f);
    cr_assert_eq(t[1], -1.0f);
    cr_assert(isnan(t[2]));
    cr_assert_eq(t[3], 0.0f);
    cr_assert_eq(t[4], 1e-30f);
    free(u);
    free(a);
}

/* ---- diagonal Gaussian: x = out (B, 2A), ctx = given actions (B, A) as double ---- */

static void gauss_lp_ref_f(const double *x, double *y, void *ctx) {
    const double *act = ctx;
    for (int b = 0; b < HB; b++) {
        double sum = 0.0;
        for (int j = 0; j < HA; j++) {
            double d, ls = ref_log_std(x[b * 2 * HA + HA + j], &d);
            double std = exp(ls), m = x[b * 2 * HA + j];
            double e = (act[b * HA + j] - m) / std;
            sum += -0.5 * e * e - ls - 0.5 * LOG_2PI;
        }
        y[b] = sum;
    }
}
static void gauss_lp_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    const double *act = ctx;
    for (int b = 0; b < HB; b++)
        for (int j = 0; j < HA; j++) {
            double d, ls = ref_log_std(x[b * 2 * HA + HA + j], &d);
            double std = exp(ls), m = x[b * 2 * HA + j];
            double e = (act[b * HA + j] - m) / std;
            dx[b * 2 * HA + j] += dy[b] * e / std;
            dx[b * 2 * HA + HA + j] += dy[b] * (e * e - 1.0) * d;
        }
}
static void to_float(float *dst, const double *src, int n) {
    for (int i = 0; i < n; i++) dst[i] = (float)src[i];
}
static void gauss_lp_impl_f(const float *x, float *y, void *ctx) {
    orl_gaussian_head h = test_head();
    float act[HB * HA];
    to_float(act, ctx, HB * HA);
    orl_gaussian_log_prob_forward(&h, y, x, act, HB);
}
static void gauss_lp_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    orl_gaussian_head h = test_head();
    float act[HB * HA];
    to_float(act, ctx, HB * HA);
    orl_gaussian_log_prob_backward(&h, dx, dy, x, act, HB);
}

static void gauss_ent_ref_f(const double *x, double *y, void *ctx) {
    (void)ctx;
    for (int b = 0; b < HB; b++) {
        y[b] = 0.0;
        for (int j = 0; j < HA; j++) {
            double d;
            y[b] += ref_log_std(x[b * 2 * HA + HA + j], &d) + 0.5 * (1.0 + LOG_2PI);
        }
    }
}
static void gauss_ent_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    (void)ctx;
    for (int b = 0; b < HB; b++)
        for (int j = 0; j < HA; j++) {
            double d;
            ref_log_std(x[b * 2 * HA + HA + j], &d);
            dx[b * 2 * HA + HA + j] += dy[b] * d;
        }
}
static void gauss_ent_impl_f(const float *x, float *y, void *ctx) {
    (void)ctx;
    orl_gaussian_head h = test_head();
    orl_gaussian_entropy_forward(&h, y, x, HB);
}
static void gauss_ent_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    (void)ctx;
    orl_gaussian_head h = test_head();
    orl_gaussian_entropy_backward(&h, dx, dy, x, HB);
}

/* network outputs (B, 2A) with raw log-stds in the steep part of the tanh rescaling */
static const double OUT0[HB * 2 * HA] = {0.3, -0.4, 0.1, -0.2, -0.8, 0.25,
                                         0.6, 0.3,  1.1, 0.05, -0.5, 0.45};

Test(heads, gaussian_gradients) {
    double act[HB * HA] = {0.9, -0.7, -1.2, 0.1, 0.4, 0.3};
    grad_case lp = {"gaussian log-prob", HB * 2 * HA,    HB,
                    gauss_lp_ref_f,      gauss_lp_ref_b, gauss_lp_impl_f,
                    gauss_lp_impl_b,     1e-7,           2e-5};
    check_case(&lp, OUT0, act);
    grad_case ent = {
        "gaussian entropy", HB * 2 * HA, HB,  gauss_ent_ref_f, gauss_ent_ref_b, gauss_ent_impl_f,
        gauss_ent_impl_b,   1e-7,        2e-5};
    check_case(&ent, OUT0, NULL);
    /* log-std stays inside [min, max] for any raw value */
    orl_gaussian_head h = test_head();
    float out[4] = {0.0f, 0.0f, 1e4f, -1e4f}, ls[2];
    orl_gaussian_log_std(&h, ls, out, 1);
    cr_assert(ls[0] <= 2.0f && ls[0] > 1.99f && ls[1] >= -5.0f && ls[1] < -4.99f);
}

/* ---- tanh-squashed Gaussian, reparameterised: x = out, ctx = eps (B, A) as double,
 *      y = [act (B, A) | logp (B)] ---- */

static double ref_log1m_tanh_sq(double z) {
    /* the naive form, valid for the moderate z of these tests */
    double t = tanh(z);
    return log(1.0 - t * t);
}

static void tg_ref_f(const double *x, double *y, void *ctx) {
    const double *eps = ctx;
    for (int b = 0; b < HB; b++) {
        double sum = 0.0;
        for (int j = 0; j < HA; j++) {
            double c, s, d;
            ref_bound(j, &c, &s);
            double ls = ref_log_std(x[b * 2 * HA + HA + j], &d);
            double e = eps[b * HA + j];
            double z = x[b * 2 * HA + j] + exp(ls) * e;
            y[b * HA + j] = c + s * tanh(z);
            sum += -0.5 * e * e - ls - 0.5 * LOG_2PI - ref_log1m_tanh_sq(z) - log(s);
        }
        y[HB * HA + b] = sum;
    }
}
static void tg_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    const double *eps = ctx;
    for (int b = 0; b < HB; b++)
        for (int j = 0; j < HA; j++) {
            double c, s, d;
            ref_bound(j, &c, &s);
            double ls = ref_log_std(x[b * 2 * HA + HA + j], &d);
            double std = exp(ls), e = eps[b * HA + j];
            double t = tanh(x[b * 2 * HA + j] + std * e);
            double ga = dy[b * HA + j], gl = dy[HB * HA + b];
            /* d act/dz = s (1 - t^2); d logp/dz = 2 t; d logp/d ls (direct) = -1; dz/d ls = std e
             */
            double gz = ga * s * (1.0 - t * t) + gl * 2.0 * t;
            dx[b * 2 * HA + j] += gz;
            dx[b * 2 * HA + HA + j] += (gz * std * e - gl) * d;
        }
}
static void tg_impl_f(const float *x, float *y, void *ctx) {
    orl_gaussian_head h = test_head();
    float eps[HB * HA];
    to_float(eps, ctx, HB * HA);
    orl_tanh_gaussian_sample_forward(&h, y, y + HB * HA, x, eps, HB);
}
static void tg_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    orl_gaussian_head h = test_head();
    float eps[HB * HA];
    to_float(eps, ctx, HB * HA);
    orl_tanh_gaussian_sample_backward(&h, dx, dy, dy + HB * HA, x, eps, HB);
}

/* given action: x = out, ctx = act (B, A), y = logp (B) */
static void tgl_ref_f(const double *x, double *y, void *ctx) {
    const double *act = ctx;
    for (int b = 0; b < HB; b++) {
        double sum = 0.0;
        for (int j = 0; j < HA; j++) {
            double c, s, d;
            ref_bound(j, &c, &s);
            double u = (act[b * HA + j] - c) / s;
            double z = atanh(u);
            double ls = ref_log_std(x[b * 2 * HA + HA + j], &d);
            double e = (z - x[b * 2 * HA + j]) / exp(ls);
            sum += -0.5 * e * e - ls - 0.5 * LOG_2PI - log(1.0 - u * u) - log(s);
        }
        y[b] = sum;
    }
}
static void tgl_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    const double *act = ctx;
    for (int b = 0; b < HB; b++)
        for (int j = 0; j < HA; j++) {
            double c, s, d;
            ref_bound(j, &c, &s);
            double z = atanh((act[b * HA + j] - c) / s);
            double ls = ref_log_std(x[b * 2 * HA + HA + j], &d);
            double std = exp(ls), e = (z - x[b * 2 * HA + j]) / std;
            dx[b * 2 * HA + j] += dy[b] * e / std;
            dx[b * 2 * HA + HA + j] += dy[b] * (e * e - 1.0) * d;
        }
}
static void tgl_impl_f(const float *x, float *y, void *ctx) {
    orl_gaussian_head h = test_head();
    float act[HB * HA];
    to_float(act, ctx, HB * HA);
    orl_tanh_gaussian_log_prob_forward(&h, y, x, act, HB);
}
static void tgl_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    orl_gaussian_head h = test_head();
    float act[HB * HA];
    to_float(act, ctx, HB * HA);
    orl_tanh_gaussian_log_prob_backward(&h, dx, dy, x, act, HB);
}

static void tglf_impl_f(const float *x, float *y, void *ctx) {
    orl_gaussian_head h = test_head();
    float act[HB * HA];
    to_float(act, ctx, HB * HA);
    orl_tanh_gaussian_log_prob_forward_fast(&h, y, NULL, x, act, HB);
}
static void tglf_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    orl_gaussian_head h = test_head();
    float act[HB * HA], lp[HB], grad[HB * 2 * HA];
    to_float(act, ctx, HB * HA);
    orl_tanh_gaussian_log_prob_forward_fast(&h, lp, grad, x, act, HB);
    orl_tanh_gaussian_log_prob_backward_fast(dx, dy, grad, HB, HA);
}

Test(heads, tanh_gaussian_gradients) {
    double eps[HB * HA] = {0.5, -1.2, 0.3, 0.9, -0.4, 1.6};
    grad_case gc = {"tanh-gaussian sample",
                    HB * 2 * HA,
                    HB * HA + HB,
                    tg_ref_f,
                    tg_ref_b,
                    tg_impl_f,
                    tg_impl_b,
                    1e-7,
                    3e-5};
    check_case(&gc, OUT0, eps);
    /* actions well inside the bounds [-2, 1] x [0, 0.5] (exactly representable in float) */
    double act[HB * HA] = {0.5, 0.125, -1.5, 0.375, -0.25, 0.0625};
    grad_case gl = {"tanh-gaussian log-prob of given actions",
                    HB * 2 * HA,
                    HB,
                    tgl_ref_f,
                    tgl_ref_b,
                    tgl_impl_f,
                    tgl_impl_b,
                    1e-7,
                    3e-5};
    check_case(&gl, OUT0, act);
    /* the float version for training against the same double reference */
    grad_case gf = {"tanh-gaussian log-prob of given actions, float",
                    HB * 2 * HA,
                    HB,
                    tgl_ref_f,
                    tgl_ref_b,
                    tglf_impl_f,
                    tglf_impl_b,
                    1e-7,
                    3e-5};
    check_case(&gf, OUT0, act);
}

/* the float log-density against the double one on random rows: log-std over the whole range
 * [-5, 2] (and SAC's [-20, 2]), actions anywhere in the box including its bounds, means within
 * +-3 of the pre-tanh action. Bounds: |float - double| <= 2e-5 (1 + |double|) for logp and
 * 2e-5 (1 + |double| + 1e-2 / std^2) for each gradient element (the float z's rounding over
 * std^2); the worst seen is logged */
Test(heads, tanh_gaussian_log_prob_float_matches_double) {
    enum { NB = 2000, A = 6 };
    const float lo[A] = {-1, -1, -2, 0, -0.5f, -3}, hi[A] = {1, 1, 1, 0.5f, 0.5f, 3};
    static float out[NB * 2 * A], act[NB * A], lp_f[NB], lp_d[NB], grad[NB * 2 * A];
    static float g_d[NB * 2 * A], one[NB];
    const float ranges[2][2] = {{-5.0f, 2.0f}, {-20.0f, 2.0f}};
    for (int rg = 0; rg < 2; rg++) {
        orl_gaussian_head h = {.act_dim = A,
                               .log_std_min = ranges[rg][0],
                               .log_std_max = ranges[rg][1],
                               .lo = lo,
                               .hi = hi};
        orl_rng rng;
        orl_rng_seed(&rng, SEED + (uint64_t)rg, 1u);
        for (int b = 0; b < NB; b++)
            for (int j = 0; j < A; j++) {
                double y = fill_uniform(&rng, -1.0, 1.0);
                if (b % 50 == 0) y = j % 2 ? 1.0 : -1.0; /* on the bounds */
                double c = 0.5 * ((double)hi[j] + (double)lo[j]);
                double s = 0.5 * ((double)hi[j] - (double)lo[j]);
                act[b * A + j] = (float)(c + s * y);
                double z = atanh(fmax(fmin(y, 0.999999), -0.999999));
                out[b * 2 * A + j] = (float)(z + fill_uniform(&rng, -3.0, 3.0));
                out[b * 2 * A + A + j] = (float)fill_uniform(&rng, -4.0, 4.0);
            }
        orl_tanh_gaussian_log_prob_forward(&h, lp_d, out, act, NB);
        orl_tanh_gaussian_log_prob_forward_fast(&h, lp_f, grad, out, act, NB);
        for (int b = 0; b < NB; b++) one[b] = 1.0f;
        memset(g_d, 0, sizeof g_d);
        orl_tanh_gaussian_log_prob_backward(&h, g_d, one, out, act, NB);
        double worst_lp = 0.0, worst_g = 0.0;
        for (int b = 0; b < NB; b++) {
            double d = fabs((double)lp_f[b] - (double)lp_d[b]) / (1.0 + fabs((double)lp_d[b]));
            if (d > worst_lp) worst_lp = d;
            for (int k = 0; k < 2 * A; k++) {
                /* z in float carries ~1e-7 (1 + |z|): d logp / d mean = (z - mean) / std^2
                 * moves by that over std^2, so the bound scales with 1 / std^2 */
                double ls =
                    (double)ranges[rg][0] + 0.5 * ((double)ranges[rg][1] - (double)ranges[rg][0]) *
                                                (tanh((double)out[b * 2 * A + A + k % A]) + 1.0);
                double dg = fabs((double)grad[b * 2 * A + k] - (double)g_d[b * 2 * A + k]) /
                            (1.0 + fabs((double)g_d[b * 2 * A + k]) + 1e-2 * exp(-2.0 * ls));
                if (dg > worst_g) worst_g = dg;
            }
        }
        cr_log_info("log-std [%g, %g]: worst relative error logp %.3g, gradient %.3g",
                    (double)ranges[rg][0], (double)ranges[rg][1], worst_lp, worst_g);
        cr_assert(worst_lp <= 2e-5, "log-std [%g, %g]: logp off by %.3g (1 + |logp|), seed %u",
                  (double)ranges[rg][0], (double)ranges[rg][1], worst_lp, SEED + (unsigned)rg);
        cr_assert(worst_g <= 2e-5, "log-std [%g, %g]: gradient off by %.3g (1 + |g|), seed %u",
                  (double)ranges[rg][0], (double)ranges[rg][1], worst_g, SEED + (unsigned)rg);
        /* a row's value does not depend on its batch: row 777 alone gives the same bits */
        float lp1[1], g1[2 * A];
        orl_tanh_gaussian_log_prob_forward_fast(&h, lp1, g1, out + 777 * 2 * A, act + 777 * A, 1);
        cr_assert(memcmp(lp1, lp_f + 777, sizeof lp1) == 0 &&
                  memcmp(g1, grad + 777 * 2 * A, sizeof g1) == 0);
    }
}

/* the sample's own log-prob equals the density of the sampled action, and extreme z stay finite */
Test(heads, tanh_gaussian_consistency_and_stability) {
    orl_gaussian_head h = test_head();
    float out[HB * 2 * HA], eps[HB * HA], act[HB * HA], lp_sample[HB], lp_given[HB];
    to_float(out, OUT0, HB * 2 * HA);
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 1);
    orl_normal_fill(eps, HB * HA, &rng);
    orl_tanh_gaussian_sample_forward(&h, act, lp_sample, out, eps, HB);
    orl_tanh_gaussian_log_prob_forward(&h, lp_given, out, act, HB);
    for (int b = 0; b < HB; b++)
        cr_assert(fabsf(lp_sample[b] - lp_given[b]) < 2e-2f * (1.0f + fabsf(lp_sample[b])),
                  "row %d: sample log-prob %g, given-action log-prob %g", b, (double)lp_sample[b],
                  (double)lp_given[b]);

    /* a mean of 30 saturates tanh: the stable form keeps log-prob finite (a naive log(1 - t^2)
     * gives +inf) */
    float big[4] = {30.0f, -30.0f, 0.0f, 0.0f}, a2[2], lp2[1], e0[2] = {0.0f, 0.0f};
    orl_tanh_gaussian_sample_forward(&h, a2, lp2, big, e0, 1);
    cr_assert(isfinite(lp2[0]), "log-prob %g", (double)lp2[0]);
    /* expected: per dim -ls - log(2 pi)/2 - 2 (log 2 - |z| - softplus(-2|z|)) - log s */
    double ls = ref_log_std(0.0, &(double){0.0});
    double expect = 0.0;
    for (int j = 0; j < 2; j++) {
        double c, s;
        ref_bound(j, &c, &s);
        expect += -ls - 0.5 * LOG_2PI - 2.0 * (log(2.0) - 30.0 - log1p(exp(-60.0))) - log(s);
    }
    cr_assert(fabs((double)lp2[0] - expect) < 1e-3 * fabs(expect), "%g vs %g", (double)lp2[0],
              expect);
    /* actions on the bounds get a finite density through the 1 - 1e-6 clip */
    float on_bounds[2] = {LO[0], HI[1]}, lp3[1];
    orl_tanh_gaussian_log_prob_forward(&h, lp3, out, on_bounds, 1);
    cr_assert(isfinite(lp3[0]));
}

/* 1-D: the density of the squashed action integrates to 1 over (lo, hi) and matches the
 * change-of-variables formula p(a) = N(atanh(y); mu, sigma) / (s (1 - y^2)), y = (a - c) / s */
Test(heads, tanh_gaussian_density_integrates_to_one) {
    const float lo = -2.0f, hi = 3.0f;
    orl_gaussian_head h = {
        .act_dim = 1, .log_std_min = -5.0f, .log_std_max = 2.0f, .lo = &lo, .hi = &hi};
    double raws[3] = {-0.3, 0.0, 0.25}, means[3] = {0.3, -0.8, 1.2};
    for (int t = 0; t < 3; t++) {
        float out[2] = {(float)means[t], (float)raws[t]};
        double d, ls = ref_log_std((double)out[1], &d), sigma = exp(ls);
        double c = 0.5, s = 2.5;
        enum { NQ = 200000, CH = 500 };
        float a[CH], outs[CH * 2], lp[CH];
        for (int i = 0; i < CH; i++) outs[2 * i] = out[0], outs[2 * i + 1] = out[1];
        double integral = 0.0, width = 5.0 / NQ, max_dev = 0.0;
        for (int i0 = 0; i0 < NQ; i0 += CH) {
            for (int i = 0; i < CH; i++) a[i] = (float)(-2.0 + (i0 + i + 0.5) * width);
            orl_tanh_gaussian_log_prob_forward(&h, lp, outs, a, CH);
            for (int i = 0; i < CH; i++) {
                integral += exp((double)lp[i]) * width;
                double y = ((double)a[i] - c) / s, z = atanh(y);
                double e = (z - (double)out[0]) / sigma;
                double ref = exp(-0.5 * e * e) / (sigma * exp(0.5 * LOG_2PI)) / (s * (1.0 - y * y));
                double dev = fabs(exp((double)lp[i]) - ref) / (ref + 1e-12);
                if (ref > 1e-6 && dev > max_dev) max_dev = dev;
            }
        }
        cr_assert(fabs(integral - 1.0) < 2e-3, "case %d: integral %.6f", t, integral);
        cr_assert(max_dev < 1e-4, "case %d: relative deviation from change of variables %g", t,
                  max_dev);
    }
}

/* ---- categorical: x = logits (B, n) ---- */

enum { CB = 3, CN = 4 };
static const int32_t CACT[CB] = {2, 0, 3};

static void ref_softmax(const double *l, double *p) {
    double m = l[0], sum = 0.0;
    for (int k = 1; k < CN; k++) m = l[k] > m ? l[k] : m;
    for (int k = 0; k < CN; k++) sum += exp(l[k] - m);
    for (int k = 0; k < CN; k++) p[k] = exp(l[k] - m) / sum;
}
static void cat_lp_ref_f(const double *x, double *y, void *ctx) {
    (void)ctx;
    for (int b = 0; b < CB; b++) {
        double p[CN];
        ref_softmax(x + b * CN, p);
        y[b] = log(p[CACT[b]]);
    }
}
static void cat_lp_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    (void)ctx;
    for (int b = 0; b < CB; b++) {
        double p[CN];
        ref_softmax(x + b * CN, p);
        for (int k = 0; k < CN; k++) dx[b * CN + k] += dy[b] * ((k == CACT[b]) - p[k]);
    }
}
static void cat_lp_impl_f(const float *x, float *y, void *ctx) {
    (void)ctx;
    orl_categorical_log_prob_forward(y, x, CACT, CB, CN);
}
static void cat_lp_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    (void)ctx;
    orl_categorical_log_prob_backward(dx, dy, x, CACT, CB, CN);
}
static void cat_ent_ref_f(const double *x, double *y, void *ctx) {
    (void)ctx;
    for (int b = 0; b < CB; b++) {
        double p[CN];
        ref_softmax(x + b * CN, p);
        y[b] = 0.0;
        for (int k = 0; k < CN; k++) y[b] -= p[k] * log(p[k]);
    }
}
static void cat_ent_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    (void)ctx;
    for (int b = 0; b < CB; b++) {
        double p[CN], hh = 0.0;
        ref_softmax(x + b * CN, p);
        for (int k = 0; k < CN; k++) hh -= p[k] * log(p[k]);
        for (int k = 0; k < CN; k++) dx[b * CN + k] += dy[b] * (-p[k] * (log(p[k]) + hh));
    }
}
static void cat_ent_impl_f(const float *x, float *y, void *ctx) {
    (void)ctx;
    orl_categorical_entropy_forward(y, x, CB, CN);
}
static void cat_ent_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    (void)ctx;
    orl_categorical_entropy_backward(dx, dy, x, CB, CN);
}

Test(heads, categorical_gradients) {
    double l0[CB * CN] = {0.1, -0.3, 1.2, 0.4, 2.0, -1.0, 0.0, 0.5, -0.7, 0.3, 0.2, -1.4};
    grad_case lp = {"categorical log-prob", CB * CN,       CB,   cat_lp_ref_f, cat_lp_ref_b,
                    cat_lp_impl_f,          cat_lp_impl_b, 1e-7, 1e-5};
    check_case(&lp, l0, NULL);
    grad_case ent = {"categorical entropy", CB * CN,        CB,   cat_ent_ref_f, cat_ent_ref_b,
                     cat_ent_impl_f,        cat_ent_impl_b, 1e-7, 1e-5};
    check_case(&ent, l0, NULL);
}

Test(heads, categorical_distribution) {
    /* log-softmax sums to 1 in probability, also for logits that overflow a naive exp */
    float logits[3 * CN] = {0.1f,     -0.3f, 1.2f,    0.4f,    1000.0f, 999.0f,
                            -1000.0f, 0.0f,  -500.0f, -500.0f, -500.0f, -500.0f};
    float lp[3 * CN];
    orl_categorical_log_softmax(lp, logits, 3, CN);
    for (int b = 0; b < 3; b++) {
        double sum = 0.0;
        for (int k = 0; k < CN; k++) {
            cr_assert(isfinite(lp[b * CN + k]) || lp[b * CN + k] < -1e3f);
            sum += exp((double)lp[b * CN + k]);
        }
        cr_assert(fabs(sum - 1.0) < 1e-6, "row %d sums to %.9f", b, sum);
    }
    cr_assert(fabsf(lp[2 * CN] - logf(0.25f)) < 1e-6f);
    int32_t am[3];
    orl_categorical_argmax(am, logits, 3, CN);
    cr_assert(am[0] == 2 && am[1] == 0 && am[2] == 0);

    /* sampling frequencies match the probabilities (4 standard errors) */
    enum { NS = 40000 };
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 3);
    int count[CN] = {0};
    for (int i = 0; i < NS; i++) {
        int32_t a;
        orl_categorical_sample(&a, logits, 1, CN, &rng);
        cr_assert(a >= 0 && a < CN);
        count[a]++;
    }
    for (int k = 0; k < CN; k++) {
        double p = exp((double)lp[k]), f = (double)count[k] / NS;
        cr_assert(fabs(f - p) < 4.0 * sqrt(p * (1 - p) / NS),
                  "action %d: frequency %g, p %g (seed %u)", k, f, p, SEED);
    }
}

/* ---- losses: x = pred (n), ctx = target or weights, y = [loss] ---- */

enum { LN = 6 };
static const double TARGET[LN] = {0.5, -1.0, 2.0, 0.0, 0.3, -2.5};

static void mse_ref_f(const double *x, double *y, void *ctx) {
    (void)ctx;
    y[0] = 0.0;
    for (int i = 0; i < LN; i++) y[0] += (x[i] - TARGET[i]) * (x[i] - TARGET[i]) / LN;
}
static void mse_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    (void)ctx;
    for (int i = 0; i < LN; i++) dx[i] += dy[0] * 2.0 * (x[i] - TARGET[i]) / LN;
}
static void mse_impl_f(const float *x, float *y, void *ctx) {
    (void)ctx;
    float t[LN];
    to_float(t, TARGET, LN);
    y[0] = (float)orl_loss_mse(NULL, x, t, LN, 1.0f);
}
static void mse_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    (void)ctx;
    float t[LN];
    to_float(t, TARGET, LN);
    orl_loss_mse(dx, x, t, LN, dy[0]);
}

#define HUBER_DELTA 1.0
static void huber_ref_f(const double *x, double *y, void *ctx) {
    (void)ctx;
    y[0] = 0.0;
    for (int i = 0; i < LN; i++) {
        double u = x[i] - TARGET[i];
        y[0] +=
            (fabs(u) <= HUBER_DELTA ? 0.5 * u * u : HUBER_DELTA * (fabs(u) - 0.5 * HUBER_DELTA)) /
            LN;
    }
}
static void huber_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    (void)ctx;
    for (int i = 0; i < LN; i++) {
        double u = x[i] - TARGET[i];
        double g = fabs(u) <= HUBER_DELTA ? u : (u > 0 ? HUBER_DELTA : -HUBER_DELTA);
        dx[i] += dy[0] * g / LN;
    }
}
static void huber_impl_f(const float *x, float *y, void *ctx) {
    (void)ctx;
    float t[LN];
    to_float(t, TARGET, LN);
    y[0] = (float)orl_loss_huber(NULL, x, t, LN, (float)HUBER_DELTA, 1.0f);
}
static void huber_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    (void)ctx;
    float t[LN];
    to_float(t, TARGET, LN);
    orl_loss_huber(dx, x, t, LN, (float)HUBER_DELTA, dy[0]);
}

#define TAU 0.7
static void expectile_ref_f(const double *x, double *y, void *ctx) {
    (void)ctx;
    y[0] = 0.0;
    for (int i = 0; i < LN; i++) {
        double u = TARGET[i] - x[i];
        y[0] += fabs(TAU - (u < 0 ? 1.0 : 0.0)) * u * u / LN;
    }
}
static void expectile_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    (void)ctx;
    for (int i = 0; i < LN; i++) {
        double u = TARGET[i] - x[i];
        dx[i] += dy[0] * fabs(TAU - (u < 0 ? 1.0 : 0.0)) * -2.0 * u / LN;
    }
}
static void expectile_impl_f(const float *x, float *y, void *ctx) {
    (void)ctx;
    float t[LN];
    to_float(t, TARGET, LN);
    y[0] = (float)orl_loss_expectile(NULL, x, t, LN, (float)TAU, 1.0f);
}
static void expectile_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    (void)ctx;
    float t[LN];
    to_float(t, TARGET, LN);
    orl_loss_expectile(dx, x, t, LN, (float)TAU, dy[0]);
}

static const double WEIGHT[LN] = {1.0, 0.2, 3.5, 0.0, 1.7, 0.9};
static void nll_ref_f(const double *x, double *y, void *ctx) {
    (void)ctx;
    y[0] = 0.0;
    for (int i = 0; i < LN; i++) y[0] -= WEIGHT[i] * x[i] / LN;
}
static void nll_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    (void)ctx, (void)x;
    for (int i = 0; i < LN; i++) dx[i] += dy[0] * -WEIGHT[i] / LN;
}
static void nll_impl_f(const float *x, float *y, void *ctx) {
    (void)ctx;
    float w[LN];
    to_float(w, WEIGHT, LN);
    y[0] = (float)orl_loss_weighted_nll(NULL, x, w, LN, 1.0f);
}
static void nll_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    (void)ctx;
    float w[LN];
    to_float(w, WEIGHT, LN);
    orl_loss_weighted_nll(dx, x, w, LN, dy[0]);
}

Test(heads, loss_gradients) {
    /* residuals on both sides of zero and of the Huber delta, none at a kink */
    double pred[LN] = {0.9, -0.2, -0.5, 0.05, 1.9, -2.6};
    grad_case mse = {"mse", LN, 1, mse_ref_f, mse_ref_b, mse_impl_f, mse_impl_b, 1e-7, 1e-5};
    check_case(&mse, pred, NULL);
    grad_case hub = {"huber",      LN,           1,    huber_ref_f, huber_ref_b,
                     huber_impl_f, huber_impl_b, 1e-7, 1e-5};
    check_case(&hub, pred, NULL);
    grad_case exq = {
        "expectile",      LN,   1,   expectile_ref_f, expectile_ref_b, expectile_impl_f,
        expectile_impl_b, 1e-7, 1e-5};
    check_case(&exq, pred, NULL);
    double logp[LN] = {-0.5, -2.0, -0.1, -3.0, -1.2, -0.7};
    grad_case nll = {"weighted nll", LN,         1,    nll_ref_f, nll_ref_b,
                     nll_impl_f,     nll_impl_b, 1e-7, 1e-5};
    check_case(&nll, logp, NULL);
    /* known values: expectile with tau = 0.7 weights a negative residual by 0.3 */
    float p1 = 1.0f, t1 = 0.0f, t2 = 2.0f;
    cr_assert_float_eq(orl_loss_expectile(NULL, &p1, &t1, 1, 0.7f, 1.0f), 0.3, 1e-7);
    cr_assert_float_eq(orl_loss_expectile(NULL, &p1, &t2, 1, 0.7f, 1.0f), 0.7, 1e-7);
    cr_assert_float_eq(orl_loss_huber(NULL, &p1, &t2, 1, 0.5f, 1.0f), 0.5 * (1.0 - 0.25), 1e-7);
}

/* ---- the double reference MLP (no LayerNorm), using the library's parameter views ---- */

enum { MAXW = 16, MAXB = 8, MAXL = 4 };

typedef struct ref_trace {
    double pre[MAXL][MAXB * MAXW];
    double act[MAXL + 1][MAXB * MAXW];
} ref_trace;

static double ref_act(orl_activation a, double x) {
    switch (a) {
    case ORL_ACTIVATION_RELU:
        return x > 0 ? x : 0.0;
    case ORL_ACTIVATION_TANH:
        return tanh(x);
    case ORL_ACTIVATION_ELU:
        return x > 0 ? x : exp(x) - 1.0;
    case ORL_ACTIVATION_SILU:
        return x / (1.0 + exp(-x));
    default:
        return x;
    }
}
static double ref_dact(orl_activation a, double x) {
    switch (a) {
    case ORL_ACTIVATION_RELU:
        return x > 0 ? 1.0 : 0.0;
    case ORL_ACTIVATION_TANH:
        return 1.0 - tanh(x) * tanh(x);
    case ORL_ACTIVATION_ELU:
        return x > 0 ? 1.0 : exp(x);
    case ORL_ACTIVATION_SILU: {
        double sg = 1.0 / (1.0 + exp(-x));
        return sg * (1.0 + x * (1.0 - sg));
    }
    default:
        return 1.0;
    }
}

/* out = t->act[L]; p laid out as m->params */
static void ref_mlp_forward(const orl_mlp *m, const double *p, const double *x, int B,
                            ref_trace *t) {
    int L = m->cfg.n_layers;
    cr_assert(L <= MAXL && B <= MAXB);
    memcpy(t->act[0], x, (size_t)(B * m->cfg.widths[0]) * sizeof(double));
    for (int l = 0; l < L; l++) {
        int I = m->cfg.widths[l], O = m->cfg.widths[l + 1];
        cr_assert(I <= MAXW && O <= MAXW);
        const double *w = p + (m->w[l] - m->params), *bias = p + (m->b[l] - m->params);
        for (int b = 0; b < B; b++)
            for (int o = 0; o < O; o++) {
                double s = bias[o];
                for (int i = 0; i < I; i++) s += w[o * I + i] * t->act[l][b * I + i];
                t->pre[l][b * O + o] = s;
                t->act[l + 1][b * O + o] = l < L - 1 ? ref_act(m->cfg.activation, s) : s;
            }
    }
}

/* dp (P) += dout-weighted parameter gradient; dx (B, I) += input gradient, may be NULL */
static void ref_mlp_backward(const orl_mlp *m, const double *p, const ref_trace *t, int B,
                             const double *dout, double *dp, double *dx) {
    int L = m->cfg.n_layers;
    double g[MAXB * MAXW], gn[MAXB * MAXW];
    memcpy(g, dout, (size_t)(B * m->cfg.widths[L]) * sizeof(double));
    for (int l = L - 1; l >= 0; l--) {
        int I = m->cfg.widths[l], O = m->cfg.widths[l + 1];
        const double *w = p + (m->w[l] - m->params);
        double *dw = dp + (m->w[l] - m->params), *db = dp + (m->b[l] - m->params);
        if (l < L - 1)
            for (int i = 0; i < B * O; i++) g[i] *= ref_dact(m->cfg.activation, t->pre[l][i]);
        for (int b = 0; b < B; b++)
            for (int o = 0; o < O; o++) {
                db[o] += g[b * O + o];
                for (int i = 0; i < I; i++) dw[o * I + i] += g[b * O + o] * t->act[l][b * I + i];
            }
        for (int b = 0; b < B; b++)
            for (int i = 0; i < I; i++) {
                double s = 0.0;
                for (int o = 0; o < O; o++) s += g[b * O + o] * w[o * I + i];
                gn[b * I + i] = s;
            }
        memcpy(g, gn, (size_t)(B * I) * sizeof(double));
    }
    if (dx)
        for (int i = 0; i < B * m->cfg.widths[0]; i++) dx[i] += g[i];
}

/* ---- VAE: x = params (P), y = [loss]; ctx holds the model, the batch and the noise ---- */

enum { VB = 4, VS = 2, VA = 2, VZ = 2 };

typedef struct vae_ctx {
    orl_vae vae;
    orl_vae_work work;
    double obs[VB * VS], act[VB * VA], eps[VB * VZ];
} vae_ctx;

/* forward in double, keeping what backward needs */
typedef struct vae_trace {
    ref_trace enc, dec;
    double mu[VB * VZ], raw[VB * VZ], z[VB * VZ], recon[VB * VA];
} vae_trace;

static double vae_ref_loss(const vae_ctx *c, const double *p, vae_trace *t) {
    const orl_vae *v = &c->vae;
    double in[VB * (VS + VA)], din[VB * (VS + VZ)];
    for (int b = 0; b < VB; b++) {
        for (int i = 0; i < VS; i++)
            in[b * (VS + VA) + i] = din[b * (VS + VZ) + i] = c->obs[b * VS + i];
        for (int j = 0; j < VA; j++) in[b * (VS + VA) + VS + j] = c->act[b * VA + j];
    }
    ref_mlp_forward(&v->enc, p, in, VB, &t->enc);
    const double *eo = t->enc.act[v->enc.cfg.n_layers];
    double kl = 0.0;
    for (int b = 0; b < VB; b++)
        for (int k = 0; k < VZ; k++) {
            double m = eo[b * 2 * VZ + k], r = eo[b * 2 * VZ + VZ + k];
            double ls = r < -4.0 ? -4.0 : (r > 15.0 ? 15.0 : r), sg = exp(ls);
            t->mu[b * VZ + k] = m;
            t->raw[b * VZ + k] = r;
            t->z[b * VZ + k] = m + sg * c->eps[b * VZ + k];
            din[b * (VS + VZ) + VS + k] = t->z[b * VZ + k];
            kl += -0.5 * (1.0 + 2.0 * ls - m * m - sg * sg) / (VB * VZ);
        }
    ref_mlp_forward(&v->dec, p + v->enc.n_params, din, VB, &t->dec);
    const double *u = t->dec.act[v->dec.cfg.n_layers];
    double rec = 0.0;
    for (int b = 0; b < VB; b++)
        for (int j = 0; j < VA; j++) {
            double cc = 0.5 * ((double)v->hi[j] + (double)v->lo[j]);
            double s = 0.5 * ((double)v->hi[j] - (double)v->lo[j]);
            double a = cc + s * tanh(u[b * VA + j]);
            t->recon[b * VA + j] = a;
            rec += (a - c->act[b * VA + j]) * (a - c->act[b * VA + j]) / (VB * VA);
        }
    return rec + 0.5 * kl;
}

static void vae_ref_f(const double *x, double *y, void *ctx) {
    static vae_trace t;
    y[0] = vae_ref_loss(ctx, x, &t);
}
static void vae_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    const vae_ctx *c = ctx;
    const orl_vae *v = &c->vae;
    static vae_trace t;
    vae_ref_loss(c, x, &t);
    const double *u = t.dec.act[v->dec.cfg.n_layers];
    double du[VB * VA], ddin[VB * (VS + VZ)] = {0}, deo[VB * 2 * VZ];
    for (int b = 0; b < VB; b++)
        for (int j = 0; j < VA; j++) {
            double s = 0.5 * ((double)v->hi[j] - (double)v->lo[j]), th = tanh(u[b * VA + j]);
            du[b * VA + j] = dy[0] * 2.0 * (t.recon[b * VA + j] - c->act[b * VA + j]) / (VB * VA) *
                             s * (1.0 - th * th);
        }
    ref_mlp_backward(&v->dec, x + v->enc.n_params, &t.dec, VB, du, dx + v->enc.n_params, ddin);
    for (int b = 0; b < VB; b++)
        for (int k = 0; k < VZ; k++) {
            double dz = ddin[b * (VS + VZ) + VS + k], m = t.mu[b * VZ + k], r = t.raw[b * VZ + k];
            double sg = exp(r < -4.0 ? -4.0 : (r > 15.0 ? 15.0 : r)), e = c->eps[b * VZ + k];
            double gk = dy[0] * 0.5 / (VB * VZ);
            deo[b * 2 * VZ + k] = dz + gk * m;
            deo[b * 2 * VZ + VZ + k] =
                (r >= -4.0 && r <= 15.0) ? dz * sg * e + gk * (sg * sg - 1.0) : 0.0;
        }
    ref_mlp_backward(&v->enc, x, &t.enc, VB, deo, dx, NULL);
}
static void vae_impl_f(const float *x, float *y, void *ctx) {
    vae_ctx *c = ctx;
    float obs[VB * VS], act[VB * VA], eps[VB * VZ];
    to_float(obs, c->obs, VB * VS), to_float(act, c->act, VB * VA), to_float(eps, c->eps, VB * VZ);
    memcpy(c->vae.params, x, (size_t)c->vae.n_params * sizeof(float));
    double loss;
    cr_assert_eq(orl_vae_forward(&c->vae, &c->work, obs, act, VB, eps, NULL, &loss), ORL_OK);
    y[0] = (float)loss;
}
static void vae_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    vae_ctx *c = ctx;
    float yy;
    vae_impl_f(x, &yy, ctx);
    orl_vae_backward(&c->vae, &c->work, dx, dy[0], NULL, NULL);
}

Test(vae, gradients) {
    vae_ctx *c = calloc(1, sizeof(vae_ctx));
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 11);
    float lo[VA] = {-1.0f, 0.0f}, hi[VA] = {2.0f, 1.0f};
    /* tanh hidden units keep the finite differences away from ReLU kinks */
    orl_vae_config cfg = {.obs_dim = VS,
                          .act_dim = VA,
                          .latent_dim = VZ,
                          .hidden = 5,
                          .n_hidden = 2,
                          .activation = ORL_ACTIVATION_TANH};
    cr_assert_eq(orl_vae_create(&c->vae, &cfg, lo, hi, &rng), ORL_OK);
    cr_assert_eq(orl_vae_work_init(&c->work, &c->vae, VB), ORL_OK);
    for (int i = 0; i < VB * VS; i++) c->obs[i] = (double)(float)fill_uniform(&rng, -1, 1);
    for (int b = 0; b < VB; b++)
        for (int j = 0; j < VA; j++)
            c->act[b * VA + j] = (double)(float)fill_uniform(&rng, lo[j] + 0.1, hi[j] - 0.1);
    for (int i = 0; i < VB * VZ; i++) c->eps[i] = (double)(float)orl_rng_normal(&rng);
    int P = (int)c->vae.n_params;
    double *x0 = calloc((size_t)P, sizeof(double));
    for (int i = 0; i < P; i++) x0[i] = (double)c->vae.params[i];
    /* push the last encoder bias of one log-sigma below the clamp: its gradient must be 0 */
    orl_mlp *enc = &c->vae.enc;
    int last = enc->cfg.n_layers - 1;
    x0[enc->b[last] - enc->params + VZ] = -30.0;
    grad_case gc = {"vae loss", P, 1, vae_ref_f, vae_ref_b, vae_impl_f, vae_impl_b, 1e-6, 1e-4};
    check_case(&gc, x0, c);
    free(x0);
    orl_vae_work_free(&c->work);
    orl_vae_free(&c->vae);
    orl_vae_free(NULL);
    free(c);
}

/* ---- VAE input gradients: x = [obs (VB, VS) | act (VB, VA)], the parameters fixed ---- */

typedef struct vae_in_ctx {
    vae_ctx base;
    double *p; /* (P) the parameters in double */
} vae_in_ctx;

static void vae_in_set(vae_in_ctx *c, const double *x) {
    memcpy(c->base.obs, x, sizeof c->base.obs);
    memcpy(c->base.act, x + VB * VS, sizeof c->base.act);
}
static void vae_in_ref_f(const double *x, double *y, void *ctx) {
    vae_in_ctx *c = ctx;
    static vae_trace t;
    vae_in_set(c, x);
    y[0] = vae_ref_loss(&c->base, c->p, &t);
}
static void vae_in_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    vae_in_ctx *c = ctx;
    const orl_vae *v = &c->base.vae;
    static vae_trace t;
    vae_in_set(c, x);
    vae_ref_loss(&c->base, c->p, &t);
    int P = (int)v->n_params;
    double *dp = calloc((size_t)P, sizeof(double));
    const double *u = t.dec.act[v->dec.cfg.n_layers];
    double du[VB * VA], ddin[VB * (VS + VZ)] = {0}, deo[VB * 2 * VZ], dein[VB * (VS + VA)] = {0};
    for (int b = 0; b < VB; b++)
        for (int j = 0; j < VA; j++) {
            double s = 0.5 * ((double)v->hi[j] - (double)v->lo[j]), th = tanh(u[b * VA + j]);
            du[b * VA + j] = dy[0] * 2.0 * (t.recon[b * VA + j] - c->base.act[b * VA + j]) /
                             (VB * VA) * s * (1.0 - th * th);
        }
    ref_mlp_backward(&v->dec, c->p + v->enc.n_params, &t.dec, VB, du, dp + v->enc.n_params, ddin);
    for (int b = 0; b < VB; b++)
        for (int k = 0; k < VZ; k++) {
            double dz = ddin[b * (VS + VZ) + VS + k], m = t.mu[b * VZ + k], r = t.raw[b * VZ + k];
            double sg = exp(r < -4.0 ? -4.0 : (r > 15.0 ? 15.0 : r)), e = c->base.eps[b * VZ + k];
            double gk = dy[0] * 0.5 / (VB * VZ);
            deo[b * 2 * VZ + k] = dz + gk * m;
            deo[b * 2 * VZ + VZ + k] =
                (r >= -4.0 && r <= 15.0) ? dz * sg * e + gk * (sg * sg - 1.0) : 0.0;
        }
    ref_mlp_backward(&v->enc, c->p, &t.enc, VB, deo, dp, dein);
    for (int b = 0; b < VB; b++) {
        for (int i = 0; i < VS; i++)
            dx[b * VS + i] += dein[b * (VS + VA) + i] + ddin[b * (VS + VZ) + i];
        for (int j = 0; j < VA; j++)
            dx[VB * VS + b * VA + j] +=
                dein[b * (VS + VA) + VS + j] -
                dy[0] * 2.0 * (t.recon[b * VA + j] - c->base.act[b * VA + j]) / (VB * VA);
    }
    free(dp);
}
static void vae_in_impl_f(const float *x, float *y, void *ctx) {
    vae_in_ctx *c = ctx;
    float eps[VB * VZ];
    to_float(eps, c->base.eps, VB * VZ);
    double loss;
    cr_assert_eq(orl_vae_forward(&c->base.vae, &c->base.work, x, x + VB * VS, VB, eps, NULL, &loss),
                 ORL_OK);
    y[0] = (float)loss;
}
static void vae_in_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    vae_in_ctx *c = ctx;
    float yy;
    vae_in_impl_f(x, &yy, ctx);
    orl_vae_backward(&c->base.vae, &c->base.work, NULL, dy[0], dx, dx + VB * VS);
}

Test(vae, input_gradients) {
    vae_in_ctx *c = calloc(1, sizeof(vae_in_ctx));
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 13);
    float lo[VA] = {-1.0f, 0.0f}, hi[VA] = {2.0f, 1.0f};
    orl_vae_config cfg = {.obs_dim = VS,
                          .act_dim = VA,
                          .latent_dim = VZ,
                          .hidden = 5,
                          .n_hidden = 2,
                          .activation = ORL_ACTIVATION_TANH};
    cr_assert_eq(orl_vae_create(&c->base.vae, &cfg, lo, hi, &rng), ORL_OK);
    cr_assert_eq(orl_vae_work_init(&c->base.work, &c->base.vae, VB), ORL_OK);
    int P = (int)c->base.vae.n_params;
    c->p = calloc((size_t)P, sizeof(double));
    for (int i = 0; i < P; i++) c->p[i] = (double)c->base.vae.params[i];
    for (int i = 0; i < VB * VZ; i++) c->base.eps[i] = (double)(float)orl_rng_normal(&rng);
    double x0[VB * (VS + VA)];
    for (int i = 0; i < VB * VS; i++) x0[i] = (double)(float)fill_uniform(&rng, -1, 1);
    for (int b = 0; b < VB; b++)
        for (int j = 0; j < VA; j++)
            x0[VB * VS + b * VA + j] = (double)(float)fill_uniform(&rng, lo[j] + 0.1, hi[j] - 0.1);
    grad_case gc = {"vae input",   VB * (VS + VA), 1,    vae_in_ref_f, vae_in_ref_b,
                    vae_in_impl_f, vae_in_impl_b,  1e-6, 1e-4};
    check_case(&gc, x0, c);
    free(c->p);
    orl_vae_work_free(&c->base.work);
    orl_vae_free(&c->base.vae);
    free(c);
}

/* a conditional distribution a = 0.8 tanh(2 s) + noise(0.05) is reconstructed, and decoded
 * from the prior, much better after 600 Adam steps than at initialisation */
Test(vae, trains_on_conditional_distribution) {
    enum { B = 64, STEPS = 600 };
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 12);
    orl_vae_config cfg = {.obs_dim = 1,
                          .act_dim = 1,
                          .latent_dim = 2,
                          .hidden = 32,
                          .n_hidden = 2,
                          .activation = ORL_ACTIVATION_RELU};
    orl_vae vae;
    orl_vae_work w;
    cr_assert_eq(orl_vae_create(&vae, &cfg, NULL, NULL, &rng), ORL_OK);
    cr_assert_eq(orl_vae_work_init(&w, &vae, B), ORL_OK);
    orl_adam opt;
    orl_adam_config ac = orl_adam_defaults();
    ac.lr = 3e-3f;
    cr_assert_eq(orl_adam_init(&opt, &ac, vae.n_params), ORL_OK);
    float *grad = calloc((size_t)vae.n_params, sizeof(float));
    float obs[B], act[B], eval_obs[B], eval_act[B], dec[B];
    for (int b = 0; b < B; b++) {
        eval_obs[b] = (float)fill_uniform(&rng, -1, 1);
        eval_act[b] = (float)(0.8 * tanh(2.0 * eval_obs[b]) + 0.05 * orl_rng_normal(&rng));
    }
    /* evaluation: reconstruction loss with the eval noise seed, and decode error */
    double rec0, dec0, loss;
    orl_rng er;
    orl_rng_seed(&er, SEED, 13);
    cr_assert_eq(orl_vae_forward(&vae, &w, eval_obs, eval_act, B, NULL, &er, &loss), ORL_OK);
    rec0 = w.recon_loss;
    orl_vae_decode(&vae, &w, eval_obs, NULL, B, &er, dec);
    dec0 = 0.0;
    for (int b = 0; b < B; b++) dec0 += pow((double)dec[b] - 0.8 * tanh(2.0 * eval_obs[b]), 2) / B;
    for (int step = 0; step < STEPS; step++) {
        for (int b = 0; b < B; b++) {
            obs[b] = (float)fill_uniform(&rng, -1, 1);
            act[b] = (float)(0.8 * tanh(2.0 * obs[b]) + 0.05 * orl_rng_normal(&rng));
        }
        cr_assert_eq(orl_vae_forward(&vae, &w, obs, act, B, NULL, &rng, &loss), ORL_OK);
        memset(grad, 0, (size_t)vae.n_params * sizeof(float));
        orl_vae_backward(&vae, &w, grad, 1.0f, NULL, NULL);
        orl_adam_step(&opt, vae.params, grad, -1.0f);
    }
    orl_rng_seed(&er, SEED, 13);
    cr_assert_eq(orl_vae_forward(&vae, &w, eval_obs, eval_act, B, NULL, &er, &loss), ORL_OK);
    double rec1 = w.recon_loss;
    orl_vae_decode(&vae, &w, eval_obs, NULL, B, &er, dec);
    double dec1 = 0.0;
    for (int b = 0; b < B; b++) dec1 += pow((double)dec[b] - 0.8 * tanh(2.0 * eval_obs[b]), 2) / B;
    cr_log_info("vae: reconstruction MSE %.4f -> %.4f, decode MSE %.4f -> %.4f (seed %u)", rec0,
                rec1, dec0, dec1, SEED);
    cr_assert(rec1 < 0.2 * rec0 && rec1 < 0.02, "reconstruction %.4f -> %.4f", rec0, rec1);
    cr_assert(dec1 < 0.2 * dec0 && dec1 < 0.02, "decode %.4f -> %.4f", dec0, dec1);
    free(grad);
    orl_adam_free(&opt);
    orl_vae_work_free(&w);
    orl_vae_free(&vae);
}

/* ---- ensemble: x = [params (K, P) | input], y = out (K, B, O) ---- */

enum { EK = 3, EB = 2, EI = 3, EH = 5, EO = 2 };

typedef struct ens_ctx {
    orl_ensemble ens;
    orl_ensemble_work work;
    int per_member;
} ens_ctx;

static int ens_in_size(const ens_ctx *c) {
    return (c->per_member ? EK : 1) * EB * EI;
}
static void ens_ref_f(const double *x, double *y, void *ctx) {
    const ens_ctx *c = ctx;
    int P = (int)c->ens.n_member;
    static ref_trace t;
    const double *in = x + EK * P;
    for (int k = 0; k < EK; k++) {
        ref_mlp_forward(&c->ens.members[k], x + k * P, in + (c->per_member ? k * EB * EI : 0), EB,
                        &t);
        memcpy(y + k * EB * EO, t.act[c->ens.cfg.n_layers], EB * EO * sizeof(double));
    }
}
static void ens_ref_b(const double *x, const double *dy, double *dx, void *ctx) {
    const ens_ctx *c = ctx;
    int P = (int)c->ens.n_member;
    static ref_trace t;
    const double *in = x + EK * P;
    for (int k = 0; k < EK; k++) {
        int off = c->per_member ? k * EB * EI : 0;
        ref_mlp_forward(&c->ens.members[k], x + k * P, in + off, EB, &t);
        ref_mlp_backward(&c->ens.members[k], x + k * P, &t, EB, dy + k * EB * EO, dx + k * P,
                         dx + EK * P + off);
    }
}
static void ens_impl_f(const float *x, float *y, void *ctx) {
    ens_ctx *c = ctx;
    int P = (int)c->ens.n_member;
    memcpy(c->ens.params, x, (size_t)(EK * P) * sizeof(float));
    orl_ensemble_forward(&c->ens, &c->work, x + EK * P, c->per_member, EB, y);
}
static void ens_impl_b(const float *x, const float *dy, float *dx, void *ctx) {
    ens_ctx *c = ctx;
    int P = (int)c->ens.n_member;
    float *y = calloc(EK * EB * EO, sizeof(float));
    ens_impl_f(x, y, ctx);
    orl_ensemble_backward(&c->ens, &c->work, dy, dx, dx + EK * P);
    free(y);
}

Test(ensemble, gradients_shared_and_per_member_inputs) {
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 21);
    orl_mlp_config cfg = {.n_layers = 2, .widths = {EI, EH, EO}, .activation = ORL_ACTIVATION_SILU};
    for (int pm = 0; pm < 2; pm++) {
        ens_ctx c = {.per_member = pm};
        cr_assert_eq(orl_ensemble_create(&c.ens, &cfg, EK, &rng), ORL_OK);
        cr_assert_eq(orl_ensemble_work_init(&c.work, &c.ens, EB), ORL_OK);
        int P = (int)c.ens.n_member, nx = EK * P + ens_in_size(&c);
        /* members start different */
        cr_assert(memcmp(c.ens.params, c.ens.params + P, (size_t)P * sizeof(float)) != 0);
        double *x0 = calloc((size_t)nx, sizeof(double));
        for (int i = 0; i < EK * P; i++) x0[i] = (double)c.ens.params[i];
        for (int i = EK * P; i < nx; i++) x0[i] = (double)(float)fill_uniform(&rng, -1, 1);
        grad_case gc = {pm ? "ensemble (per-member inputs)" : "ensemble (shared input)",
                        nx,
                        EK * EB * EO,
                        ens_ref_f,
                        ens_ref_b,
                        ens_impl_f,
                        ens_impl_b,
                        1e-6,
                        1e-4};
        check_case(&gc, x0, &c);
        free(x0);
        orl_ensemble_work_free(&c.work);
        orl_ensemble_free(&c.ens);
    }
    orl_ensemble_free(NULL);
}

Test(ensemble, mean_and_disagreement) {
    /* K = 3 members, B = 2 rows, O = 2: row 0 agrees exactly, row 1 differs */
    float out[3 * 2 * 2] = {1, 2, 0, 0, /* member 0 */
                            1, 2, 3, 4, /* member 1 */
                            1, 2, 0, 1 /* member 2 */};
    float mean[4], d_std[2], d_pair[2];
    orl_ensemble_mean(mean, out, 3, 2, 2);
    cr_assert_float_eq(mean[0], 1.0f, 1e-6);
    cr_assert_float_eq(mean[2], 1.0f, 1e-6);
    cr_assert_float_eq(mean[3], 5.0f / 3.0f, 1e-6);
    orl_ensemble_disagreement_std(d_std, out, 3, 2, 2);
    orl_ensemble_disagreement_pairwise(d_pair, out, 3, 2, 2);
    cr_assert_float_eq(d_std[0], 0.0f, 1e-7);
    cr_assert_float_eq(d_pair[0], 0.0f, 1e-7);
    /* dim 0 of row 1: {0, 3, 0}, std sqrt(2); dim 1: {0, 4, 1}, std sqrt(26/9) = 1.6997 */
    cr_assert_float_eq(d_std[1], (float)sqrt(26.0 / 9.0), 1e-6);
    /* pairs: (0,1) 5, (0,2) 1, (1,2) sqrt(9 + 9) */
    cr_assert_float_eq(d_pair[1], 5.0f, 1e-6);
}

/* ---- maximum likelihood fit of the Gaussian head with Adam ---- */

/* [mean, raw log-std] as a bias-only "network": fit to samples of N(1.5, 0.7^2). The MLE is the
 * sample mean and (population) std; the fit must reach them within 2e-3 and the truth within
 * 4 standard errors (0.044 for the mean, 0.031 for the std with N = 4000). */
Test(heads, gaussian_recovers_mean_and_std_by_max_likelihood) {
    enum { N = 4000, STEPS = 1500 };
    const double mu_true = 1.5, sigma_true = 0.7;
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 31);
    float *x = malloc(N * sizeof(float)), *out = malloc(2 * N * sizeof(float));
    float *dout = malloc(2 * N * sizeof(float)), *lp = malloc(N * sizeof(float));
    float *dlp = malloc(N * sizeof(float));
    double sm = 0.0, ss = 0.0;
    for (int i = 0; i < N; i++) {
        x[i] = (float)(mu_true + sigma_true * orl_rng_normal(&rng));
        sm += (double)x[i] / N;
    }
    for (int i = 0; i < N; i++) ss += ((double)x[i] - sm) * ((double)x[i] - sm) / N;
    double sample_std = sqrt(ss);
    orl_gaussian_head h = {.act_dim = 1, .log_std_min = -5.0f, .log_std_max = 2.0f};
    float theta[2] = {0.0f, 0.0f}, grad[2];
    orl_adam opt;
    orl_adam_config ac = orl_adam_defaults();
    ac.lr = 0.02f;
    cr_assert_eq(orl_adam_init(&opt, &ac, 2), ORL_OK);
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < N; i++) out[2 * i] = theta[0], out[2 * i + 1] = theta[1];
        orl_gaussian_log_prob_forward(&h, lp, out, x, N);
        /* minimise the mean negative log-likelihood */
        memset(dlp, 0, N * sizeof(float));
        orl_loss_weighted_nll(dlp, lp, NULL, N, 1.0f);
        memset(dout, 0, 2 * N * sizeof(float));
        orl_gaussian_log_prob_backward(&h, dout, dlp, out, x, N);
        double g0 = 0.0, g1 = 0.0;
        for (int i = 0; i < N; i++) g0 += (double)dout[2 * i], g1 += (double)dout[2 * i + 1];
        grad[0] = (float)g0, grad[1] = (float)g1;
        orl_adam_step(&opt, theta, grad, -1.0f);
    }
    float ls;
    orl_gaussian_log_std(&h, &ls, theta, 1);
    double mu = (double)theta[0], sigma = exp((double)ls);
    cr_log_info("gaussian MLE: mean %.4f (sample %.4f, true %.2f), std %.4f (sample %.4f, true "
                "%.2f), seed %u",
                mu, sm, mu_true, sigma, sample_std, sigma_true, SEED);
    cr_assert(fabs(mu - sm) < 2e-3 && fabs(sigma - sample_std) < 2e-3,
              "fit (%.4f, %.4f) vs sample (%.4f, %.4f)", mu, sigma, sm, sample_std);
    cr_assert(fabs(mu - mu_true) < 4 * sigma_true / sqrt(N), "mean %.4f", mu);
    cr_assert(fabs(sigma - sigma_true) < 4 * sigma_true / sqrt(2.0 * N), "std %.4f", sigma);
    orl_adam_free(&opt);
    free(x), free(out), free(dout), free(lp), free(dlp);
}

/* samples of the Gaussian head have the head's mean and std (4 standard errors) */
Test(heads, gaussian_samples_have_the_heads_moments) {
    enum { N = 20000 };
    orl_gaussian_head h = {.act_dim = 2, .log_std_min = -5.0f, .log_std_max = 2.0f};
    float out[4] = {0.7f, -1.3f, 0.4f, -0.6f}, ls[2];
    orl_gaussian_log_std(&h, ls, out, 1);
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 51);
    double sum[2] = {0, 0}, sq[2] = {0, 0};
    for (int i = 0; i < N; i++) {
        float a[2];
        orl_gaussian_sample(&h, a, out, 1, &rng);
        for (int j = 0; j < 2; j++) sum[j] += (double)a[j], sq[j] += (double)a[j] * (double)a[j];
    }
    for (int j = 0; j < 2; j++) {
        double m = sum[j] / N, sd = sqrt(sq[j] / N - m * m), sigma = exp((double)ls[j]);
        cr_assert(fabs(m - (double)out[j]) < 4 * sigma / sqrt(N), "dim %d mean %g (seed %u)", j, m,
                  SEED);
        cr_assert(fabs(sd - sigma) < 4 * sigma / sqrt(2.0 * N), "dim %d std %g vs %g (seed %u)", j,
                  sd, sigma, SEED);
    }
}

/* ---- sampling determinism ---- */

Test(heads, sampling_is_deterministic_given_a_seed) {
    orl_gaussian_head h = test_head();
    float out[HB * 2 * HA], logits[CB * CN];
    to_float(out, OUT0, HB * 2 * HA);
    for (int i = 0; i < CB * CN; i++) logits[i] = (float)i * 0.1f;
    float a1[HB * HA], a2[HB * HA], e1[HB * HA], e2[HB * HA], t1[HB * HA], t2[HB * HA];
    int32_t c1[CB], c2[CB];
    orl_rng r1, r2;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        orl_rng_seed(&r1, seed, 5);
        orl_rng_seed(&r2, seed, 5);
        orl_gaussian_sample(&h, a1, out, HB, &r1);
        orl_gaussian_sample(&h, a2, out, HB, &r2);
        orl_normal_fill(e1, HB * HA, &r1);
        orl_normal_fill(e2, HB * HA, &r2);
        orl_tanh_gaussian_sample_forward(&h, t1, NULL, out, e1, HB);
        orl_tanh_gaussian_sample_forward(&h, t2, NULL, out, e2, HB);
        orl_categorical_sample(c1, logits, CB, CN, &r1);
        orl_categorical_sample(c2, logits, CB, CN, &r2);
        cr_assert(memcmp(a1, a2, sizeof(a1)) == 0 && memcmp(t1, t2, sizeof(t1)) == 0 &&
                      memcmp(c1, c2, sizeof(c1)) == 0,
                  "seed %llu", (unsigned long long)seed);
    }
    /* a different seed gives different draws */
    orl_rng_seed(&r1, 1, 5);
    orl_rng_seed(&r2, 2, 5);
    orl_gaussian_sample(&h, a1, out, HB, &r1);
    orl_gaussian_sample(&h, a2, out, HB, &r2);
    cr_assert(memcmp(a1, a2, sizeof(a1)) != 0);
    /* rng NULL gives the mean */
    orl_gaussian_sample(&h, a1, out, 1, NULL);
    cr_assert(a1[0] == out[0] && a1[1] == out[1]);

    /* VAE decode */
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 41);
    orl_vae_config cfg = {.obs_dim = 2,
                          .act_dim = 2,
                          .latent_dim = 4,
                          .hidden = 8,
                          .n_hidden = 2,
                          .activation = ORL_ACTIVATION_RELU};
    orl_vae vae;
    orl_vae_work w;
    cr_assert_eq(orl_vae_create(&vae, &cfg, LO, HI, &rng), ORL_OK);
    cr_assert_eq(orl_vae_work_init(&w, &vae, 3), ORL_OK);
    float obs[6] = {0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f}, d1[6], d2[6];
    orl_rng_seed(&r1, 9, 1);
    orl_rng_seed(&r2, 9, 1);
    orl_vae_decode(&vae, &w, obs, NULL, 3, &r1, d1);
    orl_vae_decode(&vae, &w, obs, NULL, 3, &r2, d2);
    cr_assert(memcmp(d1, d2, sizeof(d1)) == 0);
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < 2; j++) cr_assert(d1[b * 2 + j] >= LO[j] && d1[b * 2 + j] <= HI[j]);
    /* z beyond the clip decodes like z on the clip */
    float zbig[12], zclip[12];
    for (int i = 0; i < 12; i++)
        zbig[i] = (i % 2) ? 7.0f : -3.0f, zclip[i] = (i % 2) ? 0.5f : -0.5f;
    orl_vae_decode(&vae, &w, obs, zbig, 3, NULL, d1);
    orl_vae_decode(&vae, &w, obs, zclip, 3, NULL, d2);
    cr_assert(memcmp(d1, d2, sizeof(d1)) == 0);
    orl_vae_work_free(&w);
    orl_vae_free(&vae);
}

Test(vae, rejects_bad_config) {
    orl_rng rng;
    orl_rng_seed(&rng, SEED, 2);
    orl_vae vae;
    orl_vae_config cfg = {.obs_dim = 2,
                          .act_dim = 0,
                          .latent_dim = 4,
                          .hidden = 8,
                          .n_hidden = 2,
                          .activation = ORL_ACTIVATION_RELU};
    cr_assert_eq(orl_vae_create(&vae, &cfg, NULL, NULL, &rng), ORL_ERR_INPUT);
    cfg.act_dim = 2;
    float lo[2] = {0.0f, 1.0f}, hi[2] = {1.0f, 1.0f};
    cr_assert_eq(orl_vae_create(&vae, &cfg, lo, hi, &rng), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "bound 1") != NULL, "%s", orl_error_message());
}
