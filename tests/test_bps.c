/* eval/bps.c: behaviour policy search. On GridWorld-4x4 (deterministic, with its exact model)
 * the second moment E_b[IS^2] of the importance-sampling estimate is computed exactly by
 * backward induction over the 100-step horizon, and checked against: Monte Carlo averages of
 * IS and IS^2 from orl_bps_gradient's batches (IS is unbiased for the exact value of pi_e); the
 * behaviour policy gradient estimate against central finite differences of the exact E_b[IS^2]
 * in the tilt; the search lowering the exact variance; the tilted behaviour's log-probabilities
 * (normalised, equal to pi_e at W = 0); determinism. Evaluation policy: the fixtures' p1 (the
 * regression-importance-sampling study's softmax table). Every seed is named in its test. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_ID  "GridWorld-4x4"
#define P1_PATH ORL_FIXTURES_DIR "/ris-gridworld/p1.txt"
#define NS      16
#define NA      4

static orl_policy *load_p1(void) {
    orl_policy *p = NULL;
    cr_assert_eq(orl_tabular_policy_from_file(P1_PATH, ENV_ID, &p, NULL), ORL_OK, "%s",
                 orl_error_message());
    return p;
}

/* exact moments over the time-limited problem: E_b[prod rho] (m0), E_b[prod rho^2 G] ...
 * With q = pe^2 / pb (the behaviour's probability times the squared ratio) the recursion
 * gives E_b[IS^2]; with q = pe it gives the value of pi_e (first moment of G under pi_e). */
static void exact_moments(const double *pe, const double *pb, double gamma, double *second,
                          double *value) {
    orl_tabular_model m;
    cr_assert_eq(orl_tabular_model_get(ENV_ID, &m), ORL_OK);
    double m0[NS], m1[NS], m2[NS], v[NS], n0[NS], n1[NS], n2[NS], nv[NS];
    for (int s = 0; s < NS; s++) m0[s] = 1.0, m1[s] = m2[s] = v[s] = 0.0;
    for (int h = 1; h <= m.max_episode_steps; h++) {
        for (int s = 0; s < NS; s++) {
            n0[s] = 1.0, n1[s] = n2[s] = nv[s] = 0.0;
            if (m.absorbing[s]) continue;
            n0[s] = 0.0;
            for (int a = 0; a < NA; a++) {
                double e = pe[s * NA + a], b = pb[s * NA + a];
                if (e == 0.0) continue;
                cr_assert(b > 0.0);
                double q = e * e / b, r = m.reward[s * NA + a];
                int end = m.ends[s * NA + a];
                int s2 = m.next[s * NA + a];
                double c0 = end ? 1.0 : m0[s2], c1 = end ? 0.0 : m1[s2];
                double c2 = end ? 0.0 : m2[s2], cv = end ? 0.0 : v[s2];
                n0[s] += q * c0;
                n1[s] += q * (r * c0 + gamma * c1);
                n2[s] += q * (r * r * c0 + 2.0 * r * gamma * c1 + gamma * gamma * c2);
                nv[s] += e * (r + gamma * cv);
            }
        }
        memcpy(m0, n0, sizeof m0), memcpy(m1, n1, sizeof m1);
        memcpy(m2, n2, sizeof m2), memcpy(v, nv, sizeof v);
    }
    *second = m2[m.start];
    *value = v[m.start];
}

/* E_b[IS^2] and v(pi_e) of the current tilt */
static void exact_of(const orl_policy *pe_pol, const orl_policy *b, double *second, double *value) {
    double pe[NS * NA], pb[NS * NA];
    cr_assert_eq(orl_tabular_policy_probs(ENV_ID, pe_pol, pe), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(orl_tabular_policy_probs(ENV_ID, b, pb), ORL_OK, "%s", orl_error_message());
    exact_moments(pe, pb, 1.0, second, value);
}

/* a fixed pseudo-random tilt (seed 11) of size scale */
static void set_tilt(orl_policy *b, float scale) {
    int64_t n = 0;
    float *w = orl_bps_tilt(b, &n);
    cr_assert(w && n == NA * (NS + 1));
    orl_rng rng;
    orl_rng_seed(&rng, 11, 0);
    for (int64_t i = 0; i < n; i++) w[i] = scale * (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
}

Test(bps, tilted_logp_is_normalised_and_zero_tilt_is_the_target) {
    orl_policy *pe = load_p1(), *b = NULL;
    cr_assert_eq(orl_bps_behavior_create(pe, &b), ORL_OK);
    double ppe[NS * NA], ppb[NS * NA];
    cr_assert_eq(orl_tabular_policy_probs(ENV_ID, pe, ppe), ORL_OK);
    cr_assert_eq(orl_tabular_policy_probs(ENV_ID, b, ppb), ORL_OK, "%s", orl_error_message());
    for (int i = 0; i < NS * NA; i++) cr_assert_float_eq(ppb[i], ppe[i], 1e-12, "entry %d", i);
    set_tilt(b, 0.8f);
    /* raw log-probabilities (no renormalisation): each row sums to 1 */
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(b, NA, &w), ORL_OK);
    for (int s = 0; s < NS - 1; s++) {
        float obs[NA * NS] = {0};
        int32_t idx[NA];
        double lp[NA], sum = 0.0;
        for (int a = 0; a < NA; a++) obs[a * NS + s] = 1.0f, idx[a] = a;
        cr_assert_eq(orl_policy_logp(b, w, obs, NA, NULL, idx, lp), ORL_OK);
        for (int a = 0; a < NA; a++) sum += exp(lp[a]);
        cr_assert_float_eq(sum, 1.0, 1e-12, "state %d", s);
    }
    orl_policy_work_free(w);
    /* it is not saved as a file */
    cr_assert_eq(orl_policy_save(b, ORL_BINARY_DIR "/bps-not-saved.h5"), ORL_ERR_UNSUPPORTED);
    FILE *f = fopen(ORL_BINARY_DIR "/bps-not-saved.h5", "rb");
    cr_assert_null(f, "no file is left behind");
    orl_policy_free(b);
    orl_policy_free(pe);
}

/* mean and standard error over batches of orl_bps_gradient: IS, IS^2 and the gradient */
typedef struct mc {
    double is, is_se, sq, sq_se;
    double g[NA * (NS + 1)], g_se[NA * (NS + 1)];
} mc;

static void monte_carlo(const orl_policy *pe, const orl_policy *b, int batches, int per,
                        uint64_t seed, mc *out) {
    orl_env *env = NULL;
    cr_assert_eq(orl_env_make(ENV_ID, &env), ORL_OK);
    enum { NW = NA * (NS + 1) };
    double g[NW], s_is = 0, ss_is = 0, s_sq = 0, ss_sq = 0, s_g[NW] = {0}, ss_g[NW] = {0};
    for (int k = 0; k < batches; k++) {
        orl_bps_batch bt;
        cr_assert_eq(orl_bps_gradient(env, pe, b, per, seed, (int64_t)k * per, 1.0, g, &bt), ORL_OK,
                     "%s", orl_error_message());
        s_is += bt.is_mean, ss_is += bt.is_mean * bt.is_mean;
        s_sq += bt.is_sq_mean, ss_sq += bt.is_sq_mean * bt.is_sq_mean;
        for (int i = 0; i < NW; i++) s_g[i] += g[i], ss_g[i] += g[i] * g[i];
    }
    double n = batches;
    out->is = s_is / n, out->is_se = sqrt((ss_is / n - out->is * out->is) / (n - 1));
    out->sq = s_sq / n, out->sq_se = sqrt((ss_sq / n - out->sq * out->sq) / (n - 1));
    for (int i = 0; i < NW; i++) {
        out->g[i] = s_g[i] / n;
        out->g_se[i] = sqrt(fmax(ss_g[i] / n - out->g[i] * out->g[i], 0.0) / (n - 1));
    }
    orl_env_free(env);
}

Test(bps, monte_carlo_moments_match_the_exact_ones) {
    orl_policy *pe = load_p1(), *b = NULL;
    cr_assert_eq(orl_bps_behavior_create(pe, &b), ORL_OK);
    set_tilt(b, 0.5f);
    double second, value;
    exact_of(pe, b, &second, &value);
    mc r;
    monte_carlo(pe, b, 40, 250, 5, &r); /* seed 5, 10,000 episodes */
    cr_log_info("v = %.4f: IS %.4f +- %.4f; E[IS^2] = %.2f: MC %.2f +- %.2f", value, r.is, r.is_se,
                second, r.sq, r.sq_se);
    cr_assert(fabs(r.is - value) < 4.0 * r.is_se, "IS is unbiased");
    cr_assert(fabs(r.sq - second) < 4.0 * r.sq_se, "E[IS^2] as the exact recursion says");
    orl_policy_free(b);
    orl_policy_free(pe);
}

Test(bps, gradient_estimate_matches_finite_differences_of_the_exact_second_moment) {
    orl_policy *pe = load_p1(), *b = NULL;
    cr_assert_eq(orl_bps_behavior_create(pe, &b), ORL_OK);
    set_tilt(b, 0.3f);
    int64_t n = 0;
    float *w = orl_bps_tilt(b, &n);
    enum { NW = NA * (NS + 1) };
    double fd[NW], norm = 0.0;
    for (int i = 0; i < NW; i++) {
        /* W is float32: a step that is exact in float keeps the difference honest */
        const float h = 1.0f / 256.0f;
        float w0 = w[i];
        double jp, jm, v;
        w[i] = w0 + h;
        exact_of(pe, b, &jp, &v);
        w[i] = w0 - h;
        exact_of(pe, b, &jm, &v);
        w[i] = w0;
        fd[i] = (jp - jm) / (2.0 * (double)h);
        norm += fd[i] * fd[i];
    }
    norm = sqrt(norm);
    mc r;
    monte_carlo(pe, b, 40, 250, 9, &r); /* seed 9 */
    double err = 0.0;
    int checked = 0;
    for (int i = 0; i < NW; i++) {
        double d = r.g[i] - fd[i];
        err += d * d;
        /* every component within 5 standard errors (plus a floor for ones that are ~0) */
        cr_assert(fabs(d) < 5.0 * r.g_se[i] + 1e-3 * norm, "component %d: MC %g +- %g, FD %g", i,
                  r.g[i], r.g_se[i], fd[i]);
        if (fabs(fd[i]) > 0.05 * norm) checked++;
    }
    cr_log_info("||MC - FD|| / ||FD|| = %.3f over %d components (%d large)", sqrt(err) / norm, NW,
                checked);
    cr_assert(sqrt(err) / norm < 0.15, "relative error %g", sqrt(err) / norm);
    cr_assert(checked >= 8, "the check covers components that matter");
    orl_policy_free(b);
    orl_policy_free(pe);
}

Test(bps, search_lowers_the_exact_variance_and_is_deterministic) {
    orl_policy *pe = load_p1(), *b1 = NULL, *b2 = NULL;
    orl_bps_options opt;
    orl_bps_options_init(&opt);
    opt.seed = 21; /* seed 21 */
    opt.iterations = 60;
    opt.episodes = 20;
    opt.lr = 0.05;
    orl_bps_report rep;
    cr_assert_eq(orl_bps_search(ENV_ID, pe, &opt, &b1, &rep), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(orl_bps_search(ENV_ID, pe, &opt, &b2, NULL), ORL_OK);
    int64_t n1, n2;
    const float *w1 = orl_bps_tilt(b1, &n1), *w2 = orl_bps_tilt(b2, &n2);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(w1, w2, (size_t)n1 * sizeof *w1), 0, "same seed, same bits");
    orl_policy *b0 = NULL;
    cr_assert_eq(orl_bps_behavior_create(pe, &b0), ORL_OK);
    double sq0, sq1, v;
    exact_of(pe, b0, &sq0, &v);
    exact_of(pe, b1, &sq1, &v);
    double var0 = sq0 - v * v, var1 = sq1 - v * v;
    cr_log_info("v = %.4f; Var[IS] on-policy %.3f, searched %.3f (%d iterations, %lld episodes)", v,
                var0, var1, rep.iterations, (long long)rep.episodes);
    cr_assert_eq(rep.iterations, 60);
    cr_assert_eq(rep.episodes, 61 * 20);
    cr_assert(var1 < 0.7 * var0, "the search lowers the variance: %g -> %g", var0, var1);
    orl_policy_free(b0);
    orl_policy_free(b1);
    orl_policy_free(b2);
    orl_policy_free(pe);
}

Test(bps, continuous_and_deterministic_targets_are_refused) {
    orl_policy *p = NULL, *b = NULL;
    cr_assert_eq(orl_policy_open("builtin:Pendulum-v1/medium", &p), ORL_OK);
    cr_assert_eq(orl_bps_behavior_create(p, &b), ORL_ERR_UNSUPPORTED);
    cr_assert_null(b);
    cr_assert(strstr(orl_error_message(), "continuous"), "%s", orl_error_message());
    orl_policy_free(p);
}

/* orl gen --behavior search:POLICY: the data is the searched behaviour's, with its exact
 * log-probabilities, and IS on it is unbiased for POLICY (checked on the mean over episodes
 * against the exact value, within 4 standard errors); a continuous POLICY leaves no file */
Test(bps, gen_collects_with_the_searched_behaviour) {
    const char *pol = ORL_BINARY_DIR "/bps-p1.h5", *out = ORL_BINARY_DIR "/bps-data.h5";
    orl_policy *pe = load_p1();
    cr_assert_eq(orl_policy_save(pe, pol), ORL_OK);
    orl_bps_options bo;
    orl_bps_options_init(&bo);
    bo.iterations = 40;
    bo.lr = 0.05;
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = ENV_ID;
    char behavior[4200];
    snprintf(behavior, sizeof behavior, "search:%s", pol);
    opt.behavior = behavior;
    opt.search = &bo;
    opt.episodes = 400;
    opt.seed = 3; /* seed 3 */
    orl_gen_report rep;
    cr_assert_eq(orl_gen(&opt, out, &rep), ORL_OK, "%s", orl_error_message());
    cr_assert(rep.searched);
    cr_assert_eq(rep.search.iterations, 40);
    cr_assert(strncmp(rep.behavior, "search:", 7) == 0, "%s", rep.behavior);
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(out, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert(ds->h.has_logp);
    cr_assert(strncmp(ds->h.behavior, "search:", 7) == 0, "%s", ds->h.behavior);
    /* per-episode IS from the logged behaviour log-probabilities and pi_e's own */
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(pe, 1, &w), ORL_OK);
    double sum = 0, sum_sq = 0, lr = 0, ret = 0;
    int64_t episodes = 0;
    for (int64_t t = 0; t < ds->n_steps; t++) {
        double lp;
        cr_assert_eq(orl_policy_logp(pe, w, ds->obs + t * NS, 1, NULL, ds->act_idx + t, &lp),
                     ORL_OK);
        lr += lp - (double)ds->logp_b[t];
        ret += (double)ds->rew[t];
        if (ds->terminal[t] || ds->timeout[t]) {
            double is = exp(lr) * ret;
            sum += is, sum_sq += is * is, episodes++;
            lr = ret = 0;
        }
    }
    cr_assert_eq(episodes, 400);
    double mean = sum / 400.0, se = sqrt((sum_sq / 400.0 - mean * mean) / 399.0);
    double value;
    cr_assert_eq(orl_tabular_policy_value(ENV_ID, pe, 1.0, 0, &value), ORL_OK);
    cr_log_info("IS on the searched data %.3f +- %.3f, exact %.4f", mean, se, value);
    cr_assert(fabs(mean - value) < 4.0 * se);
    orl_policy_work_free(w);
    orl_dataset_free(ds);
    orl_policy_free(pe);

    const char *bad = ORL_BINARY_DIR "/bps-bad.h5";
    remove(bad);
    opt.env_id = "Pendulum-v1";
    opt.behavior = "search:builtin:Pendulum-v1/medium";
    cr_assert_eq(orl_gen(&opt, bad, NULL), ORL_ERR_UNSUPPORTED);
    FILE *f = fopen(bad, "rb");
    cr_assert_null(f, "no output for a refused search");
}
