/* models/npg.c: the natural policy gradient planner. The Fisher-vector product against the
 * explicit Fisher matrix built from a double-precision reference of the mean network (its
 * Jacobian by central differences) on a tiny network; the vanilla gradient against finite
 * differences of the surrogate; conjugate gradient to its tolerance on a random SPD system; an
 * NPG run on a discounted linear-quadratic regulator (a double integrator defined here) whose
 * mean policy's cost approaches the Riccati optimum; same seed, same bits; export to a Gaussian
 * MLP policy that acts as the planner does. Seeds are named in each test. */
#include "orl/npg.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a double-precision reference of the mean network (tanh hidden layers) ---- */

static void ref_mean(const orl_mlp *m, const double *params, const double *x, double *mu) {
    double a[64], b[64];
    int32_t L = m->cfg.n_layers;
    int32_t n_in = m->cfg.widths[0];
    for (int32_t i = 0; i < n_in; i++) a[i] = x[i];
    const double *p = params;
    for (int32_t l = 0; l < L; l++) {
        int32_t n_out = m->cfg.widths[l + 1];
        const double *w = p, *bias = p + n_out * n_in;
        for (int32_t o = 0; o < n_out; o++) {
            double s = bias[o];
            for (int32_t i = 0; i < n_in; i++) s += w[o * n_in + i] * a[i];
            b[o] = l < L - 1 ? tanh(s) : s;
        }
        p += n_out * n_in + n_out;
        for (int32_t o = 0; o < n_out; o++) a[o] = b[o];
        n_in = n_out;
    }
    for (int32_t o = 0; o < m->cfg.widths[L]; o++) mu[o] = a[o];
}

static orl_npg *tiny_planner(uint64_t seed, int32_t S, int32_t A, int32_t hidden, int32_t layers) {
    orl_npg_config c = orl_npg_defaults(S, A);
    c.hidden = hidden;
    c.layers = layers;
    c.max_rows = 4096;
    c.chunk = 3; /* several chunks even for a few rows */
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    orl_npg *g = NULL;
    cr_assert_eq(orl_npg_create(&c, &rng, &g), ORL_OK, "%s", orl_error_message());
    /* larger last-layer weights and distinct log-stds than the init gives */
    int64_t P = 0;
    float *p = orl_npg_params(g, &P);
    for (int64_t i = 0; i < P; i++) p[i] = (float)(orl_rng_uniform(&rng) - 0.5);
    for (int32_t j = 0; j < A; j++) orl_npg_log_std(g)[j] = -0.3f + 0.2f * (float)j;
    return g;
}

Test(npg, fvp_matches_explicit_fisher) {
    /* seed 7: S 3, A 2, 2 x 5 tanh; 7 rows; F = mean_t J_t^T diag(1/sigma^2) J_t (+ 2 I for the
     * log-stds) + damping I, J by central differences of the double reference (h 1e-5) */
    enum { S = 3, A = 2, NR = 7 };
    orl_npg *g = tiny_planner(7, S, A, 5, 2);
    int64_t P = 0;
    float *pf = orl_npg_params(g, &P);
    const orl_mlp *m = orl_npg_mean_network(g);
    int64_t Pm = m->n_params;
    cr_assert_eq(P, Pm + A);
    orl_rng rng;
    orl_rng_seed(&rng, 7, 2);
    float obs[NR * S];
    double obsd[NR * S];
    for (int i = 0; i < NR * S; i++)
        obs[i] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0), obsd[i] = obs[i];
    double *params = malloc((size_t)P * sizeof(double));
    double *J = malloc((size_t)NR * A * (size_t)Pm * sizeof(double));
    for (int64_t i = 0; i < P; i++) params[i] = pf[i];
    const double h = 1e-5;
    for (int64_t k = 0; k < Pm; k++) {
        double keep = params[k];
        for (int t = 0; t < NR; t++) {
            double up[A], dn[A];
            params[k] = keep + h;
            ref_mean(m, params, obsd + t * S, up);
            params[k] = keep - h;
            ref_mean(m, params, obsd + t * S, dn);
            for (int j = 0; j < A; j++)
                J[((size_t)t * A + (size_t)j) * (size_t)Pm + (size_t)k] = (up[j] - dn[j]) / (2 * h);
        }
        params[k] = keep;
    }
    double *v = malloc((size_t)P * sizeof(double)), *fv = malloc((size_t)P * sizeof(double));
    double *ref = calloc((size_t)P, sizeof(double));
    for (int64_t i = 0; i < P; i++) v[i] = orl_rng_uniform(&rng) - 0.5;
    const double damping = 1e-3;
    orl_npg_fvp(g, obs, NR, damping, v, fv);
    for (int t = 0; t < NR; t++)
        for (int j = 0; j < A; j++) {
            const double *row = J + ((size_t)t * A + (size_t)j) * (size_t)Pm;
            double jv = 0.0;
            for (int64_t k = 0; k < Pm; k++) jv += row[k] * v[k];
            double w = exp(-2.0 * orl_npg_log_std(g)[j]) / NR;
            for (int64_t k = 0; k < Pm; k++) ref[k] += row[k] * w * jv;
        }
    for (int64_t k = 0; k < Pm; k++) ref[k] += damping * v[k];
    for (int j = 0; j < A; j++) ref[Pm + j] = (2.0 + damping) * v[Pm + j];
    double err = 0.0, norm = 0.0;
    for (int64_t k = 0; k < P; k++)
        err += (fv[k] - ref[k]) * (fv[k] - ref[k]), norm += ref[k] * ref[k];
    cr_assert(sqrt(err) <= 1e-4 * sqrt(norm), "|Fv - F_explicit v| %g, |F v| %g", sqrt(err),
              sqrt(norm));

    /* the vanilla gradient: mean_t adv_t grad log N(a_t; mu(s_t), sigma) by central differences
     * of the double surrogate (mean and log-std parameters) */
    float act[NR * A], adv[NR];
    for (int i = 0; i < NR * A; i++) act[i] = (float)(orl_rng_uniform(&rng) * 2.0 - 1.0);
    for (int i = 0; i < NR; i++) adv[i] = (float)(orl_rng_uniform(&rng) * 2.0 - 1.0);
    double *grad = malloc((size_t)P * sizeof(double));
    orl_npg_vpg(g, obs, act, adv, NR, grad);
    double gerr = 0.0, gnorm = 0.0;
    for (int64_t k = 0; k < P; k++) {
        double keep = params[k], f[2];
        for (int side = 0; side < 2; side++) {
            params[k] = keep + (side ? -h : h);
            double s = 0.0;
            for (int t = 0; t < NR; t++) {
                double mu[A];
                ref_mean(m, params, obsd + t * S, mu);
                for (int j = 0; j < A; j++) {
                    double ls = params[Pm + j], z = (act[t * A + j] - mu[j]) / exp(ls);
                    s += adv[t] * (-0.5 * z * z - ls) / NR;
                }
            }
            f[side] = s;
        }
        params[k] = keep;
        double d = (f[0] - f[1]) / (2 * h);
        gerr += (grad[k] - d) * (grad[k] - d), gnorm += d * d;
    }
    cr_assert(sqrt(gerr) <= 1e-4 * sqrt(gnorm), "|g - g_fd| %g, |g_fd| %g", sqrt(gerr),
              sqrt(gnorm));
    free(params), free(J), free(v), free(fv), free(ref), free(grad);
    orl_npg_free(g);
}

/* ---- conjugate gradient ---- */

typedef struct spd {
    int n;
    double *m; /* (n, n) */
} spd;

static void spd_apply(void *ctx, const double *v, double *out) {
    spd *s = ctx;
    for (int i = 0; i < s->n; i++) {
        double acc = 0.0;
        for (int j = 0; j < s->n; j++) acc += s->m[i * s->n + j] * v[j];
        out[i] = acc;
    }
}

Test(npg, cg_solves_to_tolerance) {
    /* seed 11: M = Q^T Q / n + 0.1 I (n 40); CG stops when r . r < tol, and then the true
     * residual |M x - b|^2 is below tol (to rounding); 20 iterations leave a residual that
     * decreased from |b|^2 */
    enum { n = 40 };
    orl_rng rng;
    orl_rng_seed(&rng, 11, 1);
    double q[n * n], m[n * n], b[n], x[n], mx[n], scratch[3 * n];
    for (int i = 0; i < n * n; i++) q[i] = orl_rng_normal(&rng);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int k = 0; k < n; k++) s += q[k * n + i] * q[k * n + j];
            m[i * n + j] = s / n + (i == j ? 0.1 : 0.0);
        }
    for (int i = 0; i < n; i++) b[i] = orl_rng_normal(&rng);
    spd s = {n, m};
    const double tols[] = {1e-4, 1e-8, 1e-12};
    for (int k = 0; k < 3; k++) {
        double res = 0.0;
        int32_t it = orl_npg_cg(spd_apply, &s, b, n, 500, tols[k], x, scratch, &res);
        spd_apply(&s, x, mx);
        double r2 = 0.0;
        for (int i = 0; i < n; i++) r2 += (mx[i] - b[i]) * (mx[i] - b[i]);
        cr_assert(res < tols[k], "tol %g: r.r %g after %d iterations", tols[k], res, it);
        cr_assert(r2 < 2.0 * tols[k] + 1e-20, "tol %g: true residual %g (CG's %g)", tols[k], r2,
                  res);
    }
    double b2 = 0.0, res20 = 0.0;
    for (int i = 0; i < n; i++) b2 += b[i] * b[i];
    int32_t it = orl_npg_cg(spd_apply, &s, b, n, 20, 1e-30, x, scratch, &res20);
    cr_assert_eq(it, 20);
    cr_assert(res20 < 1e-2 * b2, "20 iterations: r.r %g of |b|^2 %g", res20, b2);
}

/* ---- LQR: x' = A x + B u, reward -(x' Q x + R u^2), discount gamma ---- */

#define LQR_GAMMA 0.95
static const double LA[4] = {1.0, 0.1, 0.0, 1.0};
static const double LB[2] = {0.0, 0.1};
static const double LQ[2] = {1.0, 1.0}; /* diagonal */
static const double LR = 0.1;

/* the discounted Riccati solution P (2x2) and gain K (u = -K x) by value iteration */
static void riccati(double P[4], double K[2]) {
    P[0] = LQ[0], P[1] = 0, P[2] = 0, P[3] = LQ[1];
    for (int it = 0; it < 20000; it++) {
        double PB[2] = {P[0] * LB[0] + P[1] * LB[1], P[2] * LB[0] + P[3] * LB[1]};
        double BPB = LB[0] * PB[0] + LB[1] * PB[1];
        /* B'PA (1x2) */
        double BPA[2] = {PB[0] * LA[0] + PB[1] * LA[2], PB[0] * LA[1] + PB[1] * LA[3]};
        double den = LR + LQR_GAMMA * BPB;
        K[0] = LQR_GAMMA * BPA[0] / den, K[1] = LQR_GAMMA * BPA[1] / den;
        /* A'PA */
        double PA[4] = {P[0] * LA[0] + P[1] * LA[2], P[0] * LA[1] + P[1] * LA[3],
                        P[2] * LA[0] + P[3] * LA[2], P[2] * LA[1] + P[3] * LA[3]};
        double APA[4] = {LA[0] * PA[0] + LA[2] * PA[2], LA[0] * PA[1] + LA[2] * PA[3],
                         LA[1] * PA[0] + LA[3] * PA[2], LA[1] * PA[1] + LA[3] * PA[3]};
        double n[4];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                n[i * 2 + j] = (i == j ? LQ[i] : 0.0) + LQR_GAMMA * APA[i * 2 + j] -
                               LQR_GAMMA * LQR_GAMMA * BPA[i] * BPA[j] / den;
        memcpy(P, n, sizeof n);
    }
}

/* the discounted cost of the planner's mean policy from start x0, over T steps (double) */
static double mean_policy_cost(orl_npg *g, const double x0[2], int T) {
    double x[2] = {x0[0], x0[1]}, cost = 0.0, disc = 1.0;
    for (int t = 0; t < T; t++) {
        float o[2] = {(float)x[0], (float)x[1]}, u;
        orl_npg_act(g, o, 1, NULL, &u);
        cost += disc * (LQ[0] * x[0] * x[0] + LQ[1] * x[1] * x[1] + LR * (double)u * (double)u);
        double n0 = LA[0] * x[0] + LA[1] * x[1] + LB[0] * u;
        double n1 = LA[2] * x[0] + LA[3] * x[1] + LB[1] * u;
        x[0] = n0, x[1] = n1;
        disc *= LQR_GAMMA;
    }
    return cost;
}

/* runs NPG on the LQR for iters iterations of E paths of T steps; returns the mean policy's
 * cost over the fixed starts divided by the Riccati optimum's */
static double lqr_run(orl_npg_config c, uint64_t seed, int iters, double *first_ratio,
                      double max_kl) {
    enum { E = 40, T = 100 };
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    orl_npg *g = NULL;
    cr_assert_eq(orl_npg_create(&c, &rng, &g), ORL_OK, "%s", orl_error_message());
    float *obs = malloc(sizeof(float) * E * T * 2), *act = malloc(sizeof(float) * E * T);
    float *rew = malloc(sizeof(float) * E * T);
    int64_t off[E + 1];
    uint8_t term[E];
    double P[4], K[2];
    riccati(P, K);
    /* fixed evaluation starts: a grid over [-1, 1]^2 */
    double opt = 0.0;
    int n_eval = 0;
    double starts[25][2];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++, n_eval++) {
            starts[n_eval][0] = -1.0 + 0.5 * i, starts[n_eval][1] = -1.0 + 0.5 * j;
            const double *x = starts[n_eval];
            opt += P[0] * x[0] * x[0] + 2 * P[1] * x[0] * x[1] + P[3] * x[1] * x[1];
        }
    double ratio = 0.0;
    for (int it = 0; it <= iters; it++) {
        double cost = 0.0;
        for (int k = 0; k < n_eval; k++) cost += mean_policy_cost(g, starts[k], 400);
        ratio = cost / opt;
        if (it == 0 && first_ratio) *first_ratio = ratio;
        if (it == iters) break;
        for (int e = 0; e < E; e++) {
            off[e] = (int64_t)e * T, term[e] = 0;
            double x[2] = {2.0 * orl_rng_uniform(&rng) - 1.0, 2.0 * orl_rng_uniform(&rng) - 1.0};
            for (int t = 0; t < T; t++) {
                int64_t r = (int64_t)e * T + t;
                obs[r * 2] = (float)x[0], obs[r * 2 + 1] = (float)x[1];
                orl_npg_act(g, obs + r * 2, 1, &rng, act + r);
                double u = act[r];
                rew[r] = (float)-(LQ[0] * x[0] * x[0] + LQ[1] * x[1] * x[1] + LR * u * u);
                double n0 = LA[0] * x[0] + LA[1] * x[1] + LB[0] * u;
                double n1 = LA[2] * x[0] + LA[3] * x[1] + LB[1] * u;
                x[0] = n0, x[1] = n1;
            }
        }
        off[E] = (int64_t)E * T;
        orl_npg_paths paths = {E, off, obs, act, rew, term};
        orl_npg_stats st;
        cr_assert_eq(orl_npg_update(g, &paths, &rng, &st), ORL_OK, "%s", orl_error_message());
        cr_assert(st.kl >= 0.0 && st.kl < max_kl, "iteration %d: KL %g", it, st.kl);
    }
    free(obs), free(act), free(rew);
    orl_npg_free(g);
    return ratio;
}

Test(npg, lqr_approaches_riccati_optimum) {
    /* seed 3: a linear mean policy (layers 0), gamma 0.95, normalised step 0.05, 60 iterations
     * of 40 paths x 100 steps from U[-1, 1]^2: the mean policy's discounted cost over a 5x5
     * grid of starts within 5% of the Riccati optimum (it starts at several times it) */
    orl_npg_config c = orl_npg_defaults(2, 1);
    c.layers = 0;
    c.gamma = LQR_GAMMA;
    c.step_size = 0.05;
    c.max_rows = 4000;
    double first = 0.0;
    double ratio = lqr_run(c, 3, 60, &first, 0.1);
    cr_assert(first > 1.5, "the initial policy's cost is already %g of the optimum", first);
    cr_assert(ratio < 1.05, "cost %g of the Riccati optimum after 60 iterations (start %g)", ratio,
              first);
}

Test(npg, same_seed_same_bits_and_export) {
    /* seed 5: two planners updated on the same paths agree bit for bit; the exported Gaussian
     * MLP policy's mean equals the planner's and its log-prob uses the planner's log-std */
    enum { S = 3, A = 2, E = 4, T = 30 };
    orl_npg *g[2];
    orl_rng rng[2];
    float obs[E * T * S], act[E * T * A], rew[E * T];
    int64_t off[E + 1];
    uint8_t term[E] = {1, 0, 1, 0};
    for (int k = 0; k < 2; k++) {
        orl_npg_config c = orl_npg_defaults(S, A);
        c.max_rows = E * T;
        c.chunk = 50;
        orl_rng_seed(&rng[k], 5, 1);
        cr_assert_eq(orl_npg_create(&c, &rng[k], &g[k]), ORL_OK);
    }
    orl_rng data;
    orl_rng_seed(&data, 5, 9);
    for (int i = 0; i < E * T * S; i++) obs[i] = (float)orl_rng_normal(&data);
    for (int i = 0; i < E * T; i++) rew[i] = (float)orl_rng_normal(&data);
    for (int e = 0; e <= E; e++) off[e] = e * T;
    for (int e = 0; e < E; e++) orl_npg_act(g[0], obs + e * T * S, T, &data, act + e * T * A);
    orl_npg_paths paths = {E, off, obs, act, rew, term};
    for (int k = 0; k < 2; k++)
        for (int it = 0; it < 3; it++)
            cr_assert_eq(orl_npg_update(g[k], &paths, &rng[k], NULL), ORL_OK);
    int64_t P = 0;
    float *p0 = orl_npg_params(g[0], &P), *p1 = orl_npg_params(g[1], NULL);
    cr_assert(memcmp(p0, p1, (size_t)P * sizeof(float)) == 0);

    float lo[A] = {NAN, NAN}, hi[A] = {NAN, NAN};
    orl_policy_info info = {"npg", NULL, S, A, ORL_ACTION_KIND_CONTINUOUS, 0, lo, hi};
    orl_policy *pol = NULL;
    cr_assert_eq(orl_npg_export(g[0], &info, -5.0f, 2.0f, &pol), ORL_OK, "%s", orl_error_message());
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(pol, T, &w), ORL_OK);
    float a_pol[T * A], a_npg[T * A];
    double logp[T];
    cr_assert_eq(orl_policy_act(pol, w, obs, T, ORL_POLICY_MODE_MEAN, NULL, a_pol, NULL), ORL_OK);
    orl_npg_act(g[0], obs, T, NULL, a_npg);
    for (int i = 0; i < T * A; i++) cr_assert_float_eq(a_pol[i], a_npg[i], 1e-5);
    cr_assert_eq(orl_policy_logp(pol, w, obs, T, act, NULL, logp), ORL_OK, "%s",
                 orl_error_message());
    for (int t = 0; t < T; t++) {
        double ref = 0.0;
        for (int j = 0; j < A; j++) {
            double ls = orl_npg_log_std(g[0])[j], z = (act[t * A + j] - a_npg[t * A + j]) / exp(ls);
            ref += -0.5 * z * z - ls - 0.5 * log(2 * 3.14159265358979323846);
        }
        cr_assert(fabs(logp[t] - ref) < 1e-4 * (1 + fabs(ref)), "row %d: logp %g, expected %g", t,
                  logp[t], ref);
    }
    orl_policy_work_free(w);
    orl_policy_free(pol);
    orl_npg_free(g[0]);
    orl_npg_free(g[1]);
}

/* CG's products through orl_npg_fvp (a forward per product) or orl_npg_fvp_cached (the
 * gradient pass's kept activations) */
typedef struct fvp_case {
    orl_npg *g;
    const float *obs;
    int64_t n_rows;
    int cached;
} fvp_case;

static void fvp_case_apply(void *ctx, const double *v, double *out) {
    const fvp_case *c = ctx;
    if (c->cached)
        orl_npg_fvp_cached(c->g, c->n_rows, 1e-3, v, out);
    else
        orl_npg_fvp(c->g, c->obs, c->n_rows, 1e-3, v, out);
}

Test(npg, cached_fvp_same_bits_as_recomputed) {
    /* seed 21: the default planner shape (2 x 64 tanh) on S 6, A 3, chunk 256 and 1000 rows
     * (three whole chunks and a part), parameters uniform in [-0.5, 0.5) (tanh well into its
     * curve), a non-trivial normaliser; after one gradient pass, the cached product equals the
     * recomputed one bit for bit on 5 random directions, and a 20-iteration CG solve through
     * either gives the same bits (the cache restores exactly what a forward at the same
     * parameters writes; tanh's derivative reads only the activations) */
    enum { S = 6, A = 3, NR = 1000 };
    orl_npg_config c = orl_npg_defaults(S, A);
    c.max_rows = NR;
    c.chunk = 256;
    orl_rng rng;
    orl_rng_seed(&rng, 21, 1);
    orl_npg *g = NULL;
    cr_assert_eq(orl_npg_create(&c, &rng, &g), ORL_OK, "%s", orl_error_message());
    int64_t P = 0;
    float *p = orl_npg_params(g, &P);
    for (int64_t i = 0; i < P; i++) p[i] = (float)(orl_rng_uniform(&rng) - 0.5);
    for (int32_t j = 0; j < A; j++) orl_npg_log_std(g)[j] = -0.5f + 0.25f * (float)j;
    float mean[S], std[S];
    for (int s = 0; s < S; s++) mean[s] = 0.1f * (float)s, std[s] = 0.5f + 0.3f * (float)s;
    orl_npg_set_normalizer(g, mean, std);
    float *obs = malloc((size_t)NR * S * sizeof(float));
    float *act = malloc((size_t)NR * A * sizeof(float));
    float *adv = malloc((size_t)NR * sizeof(float));
    for (int i = 0; i < NR * S; i++) obs[i] = (float)(3.0 * orl_rng_normal(&rng));
    for (int i = 0; i < NR * A; i++) act[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < NR; i++) adv[i] = (float)orl_rng_normal(&rng);
    double *grad = malloc((size_t)P * sizeof(double));
    double *v = malloc((size_t)P * sizeof(double));
    double *f0 = malloc((size_t)P * sizeof(double)), *f1 = malloc((size_t)P * sizeof(double));
    orl_npg_vpg(g, obs, act, adv, NR, grad);
    for (int k = 0; k < 5; k++) {
        for (int64_t i = 0; i < P; i++) v[i] = orl_rng_normal(&rng);
        /* cached first: a recomputing product would leave the last chunk's forward behind */
        orl_npg_fvp_cached(g, NR, 1e-3, v, f1);
        orl_npg_fvp(g, obs, NR, 1e-3, v, f0);
        int64_t differ = 0;
        for (int64_t i = 0; i < P; i++) differ += memcmp(&f0[i], &f1[i], sizeof(double)) != 0;
        cr_assert_eq(differ, 0, "direction %d: %lld of %lld entries differ", k, (long long)differ,
                     (long long)P);
    }
    double *x0 = malloc((size_t)P * sizeof(double)), *x1 = malloc((size_t)P * sizeof(double));
    double *scratch = malloc(3 * (size_t)P * sizeof(double));
    fvp_case recompute = {g, obs, NR, 0}, cached = {g, obs, NR, 1};
    double r0 = 0.0, r1 = 0.0;
    int32_t i0 = orl_npg_cg(fvp_case_apply, &recompute, grad, P, 20, 1e-10, x0, scratch, &r0);
    int32_t i1 = orl_npg_cg(fvp_case_apply, &cached, grad, P, 20, 1e-10, x1, scratch, &r1);
    cr_assert_eq(i0, i1);
    cr_assert(memcmp(x0, x1, (size_t)P * sizeof(double)) == 0, "CG's solutions differ");
    cr_assert(memcmp(&r0, &r1, sizeof r0) == 0);
    free(obs), free(act), free(adv), free(grad), free(v), free(f0), free(f1), free(x0), free(x1),
        free(scratch);
    orl_npg_free(g);
}
