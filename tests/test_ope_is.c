/* ope/is.c, ope/ris.c, ope/bounds.c: importance-sampling estimators, regression importance
 * sampling, the bootstrap and the lower bounds.
 *
 * Closed forms: a two-episode example computed by hand (IS, WIS, PDIS, WPDIS, ESS, the largest
 * share, clipping), on-policy data (all ratios 1: every estimator is the mean return), Student t
 * quantiles from tables. Statistics on GridWorld-4x4 with the study's p1 (behaviour) and p2
 * (evaluation) against the exact DP value: IS and PDIS unbiased within 3 standard errors, WIS
 * and WPDIS consistent, RIS with lower MSE than IS, bootstrap coverage, bounds below the
 * estimate and below the truth, the valid bound's coverage on GridWorld's exact return range,
 * and the return range's map into [0, 1] and back. Every seed is in its test. */
#include "orl/behavior.h"
#include "orl/eval.h"
#include "orl/ope.h"
#include "orl/orl.h"
#include "orl/tabular_policy.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH ORL_BINARY_DIR "/tmp-ope-is"

#define ENV_ID "GridWorld-4x4"
#define N_ROWS 15
#define P1     ORL_FIXTURES_DIR "/ris-gridworld/p1.txt"
#define P2     ORL_FIXTURES_DIR "/ris-gridworld/p2.txt"

#include "tests/lsan_hdf5.h"

/* ---- GridWorld sampling straight from the model ---- */

typedef struct grid {
    orl_tabular_model model;
    double p1[16 * 4], p2[16 * 4]; /* (16, 4) rows; the terminal cell uniform */
    double v1, v2;                 /* exact values */
} grid;

static void grid_load(grid *g) {
    cr_assert_eq(orl_tabular_model_get(ENV_ID, &g->model), ORL_OK);
    cr_assert_eq(orl_tabular_softmax_from_file(P1, N_ROWS, 4, g->p1), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_eq(orl_tabular_softmax_from_file(P2, N_ROWS, 4, g->p2), ORL_OK, "%s",
                 orl_error_message());
    for (int a = 0; a < 4; a++) g->p1[N_ROWS * 4 + a] = g->p2[N_ROWS * 4 + a] = 0.25;
    cr_assert_eq(orl_tabular_table_value(ENV_ID, g->p1, N_ROWS, 1.0, 0, &g->v1), ORL_OK);
    cr_assert_eq(orl_tabular_table_value(ENV_ID, g->p2, N_ROWS, 1.0, 0, &g->v2), ORL_OK);
}

typedef struct batch {
    int64_t n_steps, n_episodes;
    int32_t state[250000];
    int32_t act[250000];
    double rew[250000];
    int64_t ep_off[2001];
} batch;

/* E episodes of the behaviour table pb */
static void sample(const grid *g, const double *pb, int64_t E, orl_rng *rng, batch *b) {
    const orl_tabular_model *m = &g->model;
    b->n_steps = 0;
    b->n_episodes = E;
    b->ep_off[0] = 0;
    for (int64_t e = 0; e < E; e++) {
        int32_t s = m->start;
        for (int32_t t = 0; t < m->max_episode_steps; t++) {
            cr_assert_lt(b->n_steps, 250000);
            int32_t a = orl_rng_categorical(rng, pb + (size_t)s * 4, 4);
            int64_t n = b->n_steps++;
            b->state[n] = s;
            b->act[n] = a;
            b->rew[n] = m->reward[s * 4 + a];
            int ends = m->ends[s * 4 + a];
            s = m->next[s * 4 + a];
            if (ends || m->absorbing[s]) break;
        }
        b->ep_off[e + 1] = b->n_steps;
    }
}

/* ratios of a batch: true behaviour (ris < 0) or RIS(ris) */
static orl_ope_ratios *batch_ratios(const batch *b, const double *pb, const double *pe, int ris) {
    orl_ope_ratios *r = NULL;
    cr_assert_eq(orl_ope_ratios_create(b->n_steps, b->n_episodes, &r), ORL_OK);
    memcpy(r->ep_off, b->ep_off, (size_t)(b->n_episodes + 1) * sizeof *r->ep_off);
    memcpy(r->rew, b->rew, (size_t)b->n_steps * sizeof *r->rew);
    if (ris < 0)
        for (int64_t t = 0; t < b->n_steps; t++)
            r->log_pi_b[t] = log(pb[b->state[t] * 4 + b->act[t]]);
    else
        cr_assert_eq(orl_ope_ris_tabular(b->state, b->act, b->ep_off, b->n_episodes, 4, ris, NULL,
                                         0.0, r->log_pi_b),
                     ORL_OK);
    for (int64_t t = 0; t < b->n_steps; t++)
        r->log_ratio[t] = log(pe[b->state[t] * 4 + b->act[t]]) - r->log_pi_b[t];
    r->behavior_estimated = ris >= 0;
    return r;
}

static double estimate(const orl_ope_ratios *r, orl_ope_estimator e) {
    orl_ope_estimate est;
    cr_assert_eq(orl_ope_estimate_compute(r, e, NULL, &est), ORL_OK, "%s", orl_error_message());
    return est.value;
}

/* ---- closed forms ---- */

/* episode 0: (rho 2, r 1), (rho 1/2, r 2); episode 1: (rho 1/2, r 4) */
static orl_ope_ratios *hand_example(void) {
    orl_ope_ratios *r = NULL;
    cr_assert_eq(orl_ope_ratios_create(3, 2, &r), ORL_OK);
    double lr[3] = {log(2.0), log(0.5), log(0.5)}, rew[3] = {1, 2, 4};
    memcpy(r->log_ratio, lr, sizeof lr);
    memcpy(r->rew, rew, sizeof rew);
    r->ep_off[1] = 2;
    r->ep_off[2] = 3;
    return r;
}

Test(ope_is, hand_computed_example) {
    orl_ope_ratios *r = hand_example();
    orl_ope_estimate est;
    /* w = (1, 1/2), G = (3, 4) */
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_IS, NULL, &est), ORL_OK);
    cr_assert_float_eq(est.value, 2.5, 1e-12);
    cr_assert_float_eq(est.ess, 1.8, 1e-12);
    cr_assert_float_eq(est.max_weight_share, 2.0 / 3.0, 1e-12);
    cr_assert_eq(est.n_episodes, 2);
    cr_assert_eq(est.clipped_fraction, 0.0);
    cr_assert_float_eq(estimate(r, ORL_OPE_ESTIMATOR_WIS), 5.0 / 1.5, 1e-12);
    cr_assert_float_eq(estimate(r, ORL_OPE_ESTIMATOR_PDIS), 3.0, 1e-12);
    /* WPDIS: step 0 (2 + 2) / 2.5; step 1 2 / (1 + 1/2), episode 1's final weight carried */
    cr_assert_float_eq(estimate(r, ORL_OPE_ESTIMATOR_WPDIS), 1.6 + 2.0 / 1.5, 1e-12);
    cr_assert_float_eq(orl_ope_pdis_from(r->log_ratio, r->rew, r->ep_off, 2, 1.0), 3.0, 1e-12);
    cr_assert_float_eq(orl_ope_wis_from(r->log_ratio, r->rew, r->ep_off, 2, 1.0), 5.0 / 1.5, 1e-12);

    /* discounting: G = (1 + 0.5 * 2, 4) */
    orl_ope_options opt;
    orl_ope_options_init(&opt);
    opt.gamma = 0.5;
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_IS, &opt, &est), ORL_OK);
    cr_assert_float_eq(est.value, (2.0 + 2.0) / 2.0, 1e-12);
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_PDIS, &opt, &est), ORL_OK);
    cr_assert_float_eq(est.value, ((2.0 + 0.5 * 2.0) + 2.0) / 2.0, 1e-12);

    /* weight clipping at 0.8: w0 = 1 -> 0.8, reported */
    orl_ope_options_init(&opt);
    opt.weight_clip = 0.8;
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_IS, &opt, &est), ORL_OK);
    cr_assert_float_eq(est.value, (0.8 * 3.0 + 0.5 * 4.0) / 2.0, 1e-12);
    cr_assert_float_eq(est.clipped_fraction, 0.5, 1e-12);
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_PDIS, &opt, &est), ORL_OK);
    cr_assert_float_eq(est.value, ((0.8 * 1 + 0.8 * 2) + 0.5 * 4) / 2.0, 1e-12);
    cr_assert_float_eq(est.clipped_fraction, 2.0 / 3.0, 1e-12); /* cumulative 2 and 1 */

    /* the ESS warning: 1.8 < 0.95 * 2 */
    opt.weight_clip = 0.0;
    opt.ess_warn_fraction = 0.95;
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_WIS, &opt, &est), ORL_OK);
    cr_assert(est.warn_low_ess);
    opt.ess_warn_fraction = 0.85;
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_WIS, &opt, &est), ORL_OK);
    cr_assert(!est.warn_low_ess);
    orl_ope_ratios_free(r);
}

Test(ope_is, huge_log_weights_do_not_overflow_weighted_estimators) {
    orl_ope_ratios *r = hand_example();
    for (int t = 0; t < 3; t++) r->log_ratio[t] += 800.0; /* exp(1600) overflows */
    double wis = estimate(r, ORL_OPE_ESTIMATOR_WIS), wpdis = estimate(r, ORL_OPE_ESTIMATOR_WPDIS);
    cr_assert(isfinite(wis) && isfinite(wpdis), "wis %g wpdis %g", wis, wpdis);
    cr_assert_float_eq(wis, 3.0, 1e-9); /* episode 0 dominates by exp(800) */
    orl_ope_ratios_free(r);
}

Test(ope_is, on_policy_ratios_one_give_the_mean_return) {
    grid g;
    grid_load(&g);
    static batch b;
    orl_rng rng;
    orl_rng_seed(&rng, 5, 0);
    sample(&g, g.p2, 300, &rng, &b);
    orl_ope_ratios *r = batch_ratios(&b, g.p2, g.p2, -1);
    double mean = 0.0;
    for (int64_t t = 0; t < b.n_steps; t++) mean += b.rew[t];
    mean /= 300.0;
    for (int k = 0; k < ORL_OPE_ESTIMATOR_COUNT; k++) {
        orl_ope_estimate est;
        cr_assert_eq(orl_ope_estimate_compute(r, (orl_ope_estimator)k, NULL, &est), ORL_OK);
        cr_assert_float_eq(est.value, mean, 1e-9, "%s: %g vs %g",
                           orl_ope_estimator_name((orl_ope_estimator)k), est.value, mean);
        cr_assert_float_eq(est.ess, 300.0, 1e-9);
        cr_assert_float_eq(est.max_weight_share, 1.0 / 300.0, 1e-12);
    }
    orl_ope_ratios_free(r);
}

Test(ope_is, student_t_quantiles_match_tables) {
    cr_assert_float_eq(orl_ope_student_t_quantile(0.975, 10), 2.228138851986, 1e-9);
    cr_assert_float_eq(orl_ope_student_t_quantile(0.95, 1), 6.313751514675, 1e-9);
    cr_assert_float_eq(orl_ope_student_t_quantile(0.95, 30), 1.697260886, 1e-8);
    cr_assert_float_eq(orl_ope_student_t_quantile(0.05, 30), -1.697260886, 1e-8);
    cr_assert_float_eq(orl_ope_student_t_quantile(0.999, 4), 7.173182219782, 1e-8);
    cr_assert_float_eq(orl_ope_student_t_quantile(0.5, 7), 0.0, 0.0);
}

Test(ope_is, estimator_names_round_trip) {
    for (int k = 0; k < ORL_OPE_ESTIMATOR_COUNT; k++) {
        orl_ope_estimator e;
        cr_assert_eq(orl_ope_estimator_parse(orl_ope_estimator_name((orl_ope_estimator)k), &e),
                     ORL_OK);
        cr_assert_eq((int)e, k);
    }
    orl_ope_estimator e;
    cr_assert_eq(orl_ope_estimator_parse("dr2", &e), ORL_ERR_INPUT);
    cr_assert_null(orl_ope_estimator_name(ORL_OPE_ESTIMATOR_COUNT));
}

/* ---- statistics on GridWorld ---- */

Test(ope_is, is_and_pdis_unbiased_wis_wpdis_consistent) {
    grid g;
    grid_load(&g);
    static batch b;
    /* 400 datasets of 50 episodes (seed = trial, stream 1): mean error within 3 SE */
    enum { TRIALS = 400 };
    double sum[2] = {0}, sq[2] = {0};
    for (int trial = 0; trial < TRIALS; trial++) {
        orl_rng rng;
        orl_rng_seed(&rng, (uint64_t)trial, 1);
        sample(&g, g.p1, 50, &rng, &b);
        orl_ope_ratios *r = batch_ratios(&b, g.p1, g.p2, -1);
        double err[2] = {estimate(r, ORL_OPE_ESTIMATOR_IS) - g.v2,
                         estimate(r, ORL_OPE_ESTIMATOR_PDIS) - g.v2};
        for (int k = 0; k < 2; k++) {
            sum[k] += err[k];
            sq[k] += err[k] * err[k];
        }
        orl_ope_ratios_free(r);
    }
    for (int k = 0; k < 2; k++) {
        double mean = sum[k] / TRIALS, var = (sq[k] - TRIALS * mean * mean) / (TRIALS - 1);
        double se = sqrt(var / TRIALS);
        cr_assert(fabs(mean) < 3.0 * se, "%s: mean error %g, standard error %g", k ? "pdis" : "is",
                  mean, se);
        cr_assert_gt(se, 0.0);
    }
    /* consistency: one dataset of 2000 episodes, the weighted estimators near the truth */
    orl_rng rng;
    orl_rng_seed(&rng, 99, 2);
    sample(&g, g.p1, 2000, &rng, &b);
    orl_ope_ratios *r = batch_ratios(&b, g.p1, g.p2, -1);
    double wis = estimate(r, ORL_OPE_ESTIMATOR_WIS), wpdis = estimate(r, ORL_OPE_ESTIMATOR_WPDIS);
    /* bench/ope_accuracy: MSE 0.2 and 0.1 at 1000 episodes */
    cr_assert(fabs(wis - g.v2) < 1.5, "wis %g, truth %g", wis, g.v2);
    cr_assert(fabs(wpdis - g.v2) < 1.0, "wpdis %g, truth %g", wpdis, g.v2);
    orl_ope_ratios_free(r);
}

Test(ope_is, ris_has_lower_mse_than_is) {
    grid g;
    grid_load(&g);
    static batch b;
    static const int sizes[] = {10, 50, 200};
    for (int si = 0; si < 3; si++) {
        double mse[2][2] = {{0}}; /* [true, ris][is, pdis] */
        for (int trial = 0; trial < 100; trial++) {
            orl_rng rng;
            orl_rng_seed(&rng, (uint64_t)trial, (uint64_t)(1000 + sizes[si]));
            sample(&g, g.p1, sizes[si], &rng, &b);
            for (int f = 0; f < 2; f++) {
                orl_ope_ratios *r = batch_ratios(&b, g.p1, g.p2, f ? 0 : -1);
                double e0 = estimate(r, ORL_OPE_ESTIMATOR_IS) - g.v2;
                double e1 = estimate(r, ORL_OPE_ESTIMATOR_PDIS) - g.v2;
                mse[f][0] += e0 * e0 / 100.0;
                mse[f][1] += e1 * e1 / 100.0;
                orl_ope_ratios_free(r);
            }
        }
        cr_assert_lt(mse[1][0], mse[0][0], "batch %d: RIS-IS MSE %g, IS %g", sizes[si], mse[1][0],
                     mse[0][0]);
        cr_assert_lt(mse[1][1], mse[0][1], "batch %d: RIS-PDIS MSE %g, PDIS %g", sizes[si],
                     mse[1][1], mse[0][1]);
    }
}

Test(ope_is, bootstrap_interval_covers_the_truth) {
    grid g;
    grid_load(&g);
    static batch b;
    /* 100 datasets of 200 episodes (seed = trial, stream 3), 95% intervals of 1000 resamples */
    int covered[2] = {0}, covered_true[2] = {0};
    static const orl_ope_estimator checked[] = {ORL_OPE_ESTIMATOR_WIS, ORL_OPE_ESTIMATOR_WPDIS};
    for (int trial = 0; trial < 100; trial++) {
        orl_rng rng;
        orl_rng_seed(&rng, (uint64_t)trial, 3);
        sample(&g, g.p1, 200, &rng, &b);
        /* with the true behaviour probabilities: logged, not asserted (heavy-tailed weights) */
        orl_ope_ratios *rt = batch_ratios(&b, g.p1, g.p2, -1);
        for (int k = 0; k < 2; k++) {
            orl_ope_estimator e = k ? ORL_OPE_ESTIMATOR_PDIS : ORL_OPE_ESTIMATOR_WIS;
            orl_ope_interval iv;
            cr_assert_eq(orl_ope_bootstrap(rt, e, NULL, 1000, 0.95, (uint64_t)trial, &iv), ORL_OK);
            covered_true[k] += iv.lo <= g.v2 && g.v2 <= iv.hi;
        }
        orl_ope_ratios_free(rt);
        orl_ope_ratios *r = batch_ratios(&b, g.p1, g.p2, 0);
        for (int k = 0; k < 2; k++) {
            orl_ope_interval iv;
            cr_assert_eq(orl_ope_bootstrap(r, checked[k], NULL, 1000, 0.95, (uint64_t)trial, &iv),
                         ORL_OK, "%s", orl_error_message());
            cr_assert_leq(iv.lo, iv.hi);
            double v = estimate(r, checked[k]);
            cr_assert(iv.lo <= v + 1e-9 && v <= iv.hi + 1e-9, "estimate %g outside [%g, %g]", v,
                      iv.lo, iv.hi);
            covered[k] += iv.lo <= g.v2 && g.v2 <= iv.hi;
        }
        orl_ope_ratios_free(r);
    }
    cr_log_info("coverage of the 95%% interval: RIS-WIS %d%%, RIS-WPDIS %d%%; true behaviour: "
                "WIS %d%%, PDIS %d%%",
                covered[0], covered[1], covered_true[0], covered_true[1]);
    cr_assert_geq(covered_true[0], 90, "WIS coverage %d%%", covered_true[0]);
    cr_assert_geq(covered_true[1], 90, "PDIS coverage %d%%", covered_true[1]);
    cr_assert_geq(covered[0], 90, "RIS-WIS coverage %d%%", covered[0]);
    cr_assert_geq(covered[1], 90, "RIS-WPDIS coverage %d%%", covered[1]);
}

Test(ope_is, bootstrap_of_a_constant_is_that_constant_and_seeded) {
    double x[50], w[50];
    for (int i = 0; i < 50; i++) {
        x[i] = 3.0 * (i + 1);
        w[i] = i + 1;
    }
    orl_ope_interval a, b;
    cr_assert_eq(orl_ope_bootstrap_from(x, w, 50, 200, 0.9, 7, NULL, &a), ORL_OK);
    cr_assert_float_eq(a.lo, 3.0, 1e-12);
    cr_assert_float_eq(a.hi, 3.0, 1e-12);
    cr_assert_eq(orl_ope_bootstrap_from(x, NULL, 50, 200, 0.9, 7, NULL, &a), ORL_OK);
    cr_assert_eq(orl_ope_bootstrap_from(x, NULL, 50, 200, 0.9, 7, NULL, &b), ORL_OK);
    cr_assert_eq(a.lo, b.lo);
    cr_assert_eq(a.hi, b.hi);
    cr_assert_lt(a.lo, 76.5);
    cr_assert_gt(a.hi, 76.5);
    cr_assert_eq(orl_ope_bootstrap_from(x, NULL, 50, 1, 0.9, 7, NULL, &a), ORL_ERR_INPUT);
    cr_assert_eq(orl_ope_bootstrap_from(x, NULL, 50, 10, 1.0, 7, NULL, &a), ORL_ERR_INPUT);
}

/* the map of a return range into [0, 1] round-trips; ranges from reward bounds, closed form */
Test(ope_is, return_range_maps_and_round_trips) {
    const orl_ope_return_range ranges[] = {
        {-1409.3, 0.0, ORL_OPE_RANGE_SOURCE_ENVIRONMENT},
        {1.0, 99.34, ORL_OPE_RANGE_SOURCE_ENVIRONMENT},
        {-550.0, 191.0, ORL_OPE_RANGE_SOURCE_USER},
        {-1e-3, 2e-3, ORL_OPE_RANGE_SOURCE_USER},
    };
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        const orl_ope_return_range *r = &ranges[k];
        cr_assert_float_eq(orl_ope_return_to_unit(r, r->lo), 0.0, 1e-15);
        cr_assert_float_eq(orl_ope_return_to_unit(r, r->hi), 1.0, 1e-15);
        for (int i = -2; i <= 12; i++) {
            double y = i / 10.0, g = orl_ope_return_from_unit(r, y);
            cr_assert_float_eq(orl_ope_return_to_unit(r, g), y, 1e-12, "range %zu, y %g", k, y);
            double back = orl_ope_return_from_unit(r, orl_ope_return_to_unit(r, g));
            cr_assert_float_eq(back, g, 1e-12 * (r->hi - r->lo), "range %zu, g %g", k, g);
        }
    }
    /* rewards x horizon: S_H = (1 - gamma^H) / (1 - gamma) */
    orl_ope_return_range r;
    const double pi = 3.14159265358979323846, pend = -(pi * pi + 6.4 + 0.004),
                 s200 = (1.0 - pow(0.99, 200)) / 0.01;
    cr_assert_eq(orl_ope_return_range_from_rewards(pend, 0.0, 0.99, 200, &r), ORL_OK);
    cr_assert_float_eq(r.lo, pend * s200, 1e-9);
    cr_assert_eq(r.hi, 0.0);
    cr_assert_eq(r.source, ORL_OPE_RANGE_SOURCE_ENVIRONMENT);
    cr_assert_eq(orl_ope_return_range_from_rewards(1.0, 1.0, 0.99, 500, &r), ORL_OK);
    cr_assert_eq(r.lo, 1.0); /* an episode may end after one step */
    cr_assert_float_eq(r.hi, (1.0 - pow(0.99, 500)) / 0.01, 1e-9);
    cr_assert_eq(orl_ope_return_range_from_rewards(-10.0, 100.0, 1.0, 100, &r), ORL_OK);
    cr_assert_eq(r.lo, -1000.0);
    cr_assert_eq(r.hi, 10000.0);
    cr_assert_eq(orl_ope_return_range_from_rewards(2.0, 2.0, 0.5, 1, &r), ORL_OK);
    cr_assert(r.lo == 2.0 && r.hi == 3.0); /* degenerate: widened by 1 */
    cr_assert_eq(orl_ope_return_range_from_rewards(1.0, 0.0, 0.9, 10, &r), ORL_ERR_INPUT);
    cr_assert_eq(orl_ope_return_range_from_rewards(0.0, 1.0, 1.5, 10, &r), ORL_ERR_INPUT);
    cr_assert_eq(orl_ope_return_range_from_rewards(0.0, 1.0, 0.9, 0, &r), ORL_ERR_INPUT);
    cr_assert_eq(orl_ope_return_range_from_rewards(-INFINITY, 1.0, 0.9, 10, &r), ORL_ERR_INPUT);
    cr_assert_str_eq(orl_ope_range_source_name(ORL_OPE_RANGE_SOURCE_OBSERVED), "observed");

    /* the environment's: Pendulum from its reward bounds; GridWorld exact by DP, containing
     * the DP values of the study's tables */
    double lo, hi;
    cr_assert_eq(orl_eval_return_range("Pendulum-v1", 0.99, &lo, &hi), ORL_OK);
    cr_assert_float_eq(lo, pend * s200, 1e-6);
    cr_assert_eq(orl_eval_return_range(ENV_ID, 1.0, &lo, &hi), ORL_OK);
    grid g;
    grid_load(&g);
    cr_assert(lo <= g.v1 && g.v1 <= hi && lo <= g.v2 && g.v2 <= hi, "[%g, %g]", lo, hi);
    cr_assert(lo > -1000.0 && hi < 10000.0, "tighter than rewards x horizon: [%g, %g]", lo, hi);
    cr_assert_eq(orl_eval_return_range("NoSuchEnv-v0", 1.0, &lo, &hi), ORL_ERR_INPUT);

    /* a bound computed on returns shifted and scaled with their range is the same bound,
     * shifted and scaled (the map makes the bounds affine-equivariant) */
    double log_w[40], ret[40], ret2[40];
    orl_rng rng;
    orl_rng_seed(&rng, 17, 0);
    for (int e = 0; e < 40; e++) {
        log_w[e] = 0.5 * (orl_rng_uniform(&rng) - 0.5);
        ret[e] = -50.0 * orl_rng_uniform(&rng);
        ret2[e] = 3.0 * ret[e] + 7.0;
    }
    orl_ope_bound_options bo;
    orl_ope_bound_options_init(&bo);
    bo.range = (orl_ope_return_range){-60.0, 0.0, ORL_OPE_RANGE_SOURCE_USER};
    orl_ope_bounds b1, b2;
    cr_assert_eq(orl_ope_bounds_from(log_w, ret, 40, 0.0, &bo, &b1), ORL_OK);
    bo.range = (orl_ope_return_range){-173.0, 7.0, ORL_OPE_RANGE_SOURCE_USER};
    cr_assert_eq(orl_ope_bounds_from(log_w, ret2, 40, 0.0, &bo, &b2), ORL_OK);
    cr_assert_float_eq(b2.bernstein_lower, 3.0 * b1.bernstein_lower + 7.0, 1e-9);
    cr_assert_float_eq(b2.t_lower, 3.0 * b1.t_lower + 7.0, 1e-9);
    cr_assert_float_eq(b2.bootstrap_lower, 3.0 * b1.bootstrap_lower + 7.0, 1e-9);
    cr_assert(!b1.range_widened && b1.clip_chosen && b1.n_choose + b1.n_bound == 40);
    /* a return outside a given range widens it, and says so */
    bo.range = (orl_ope_return_range){-10.0, 0.0, ORL_OPE_RANGE_SOURCE_USER};
    cr_assert_eq(orl_ope_bounds_from(log_w, ret, 40, 0.0, &bo, &b1), ORL_OK);
    cr_assert(b1.range_widened && b1.range.lo < -10.0 && b1.bernstein_lower >= b1.range.lo);
    bo.range = (orl_ope_return_range){0.0, 0.0, ORL_OPE_RANGE_SOURCE_USER};
    cr_assert_eq(orl_ope_bounds_from(log_w, ret, 40, 0.0, &bo, &b1), ORL_ERR_INPUT);
}

/* the valid bound's coverage, small enough for ctest: 300 datasets of 50 GridWorld episodes
 * (behaviour p1, evaluation p2, seed = dataset, stream 21), the 95% empirical Bernstein bound
 * on the environment's exact return range. If its coverage is at least 0.95, the number K of
 * datasets whose bound is at or below the DP value is at least Binomial(300, 0.95), and
 * P(K < 272) = 0.0006 (exact binomial sum): the test fails below 272 of 300 (90.7%). The
 * approximate bounds' coverage is logged, not asserted. */
Test(ope_is, bernstein_bound_coverage_gridworld) {
    grid g;
    grid_load(&g);
    static batch b;
    orl_ope_bound_options bo;
    orl_ope_bound_options_init(&bo);
    cr_assert_eq(orl_eval_return_range(ENV_ID, 1.0, &bo.range.lo, &bo.range.hi), ORL_OK);
    bo.range.source = ORL_OPE_RANGE_SOURCE_ENVIRONMENT;
    bo.resamples = 200;
    enum { DATASETS = 300, EPISODES = 50 };
    int covered[3] = {0, 0, 0};
    double mean_bound = 0.0;
    for (int d = 0; d < DATASETS; d++) {
        orl_rng rng;
        orl_rng_seed(&rng, (uint64_t)d, 21);
        sample(&g, g.p1, EPISODES, &rng, &b);
        orl_ope_ratios *r = batch_ratios(&b, g.p1, g.p2, -1);
        bo.seed = (uint64_t)d;
        orl_ope_bounds bd;
        cr_assert_eq(orl_ope_bounds_compute(r, NULL, &bo, &bd), ORL_OK, "%s", orl_error_message());
        cr_assert(!bd.range_widened);
        covered[0] += bd.bernstein_lower <= g.v2;
        covered[1] += bd.t_lower <= g.v2;
        covered[2] += bd.bootstrap_lower <= g.v2;
        mean_bound += bd.bernstein_lower / DATASETS;
        orl_ope_ratios_free(r);
    }
    cr_log_info("coverage of %d datasets: Bernstein %d, t %d, bootstrap %d; mean Bernstein bound "
                "%.2f, truth %.2f",
                DATASETS, covered[0], covered[1], covered[2], mean_bound, g.v2);
    cr_assert_geq(covered[0], 272, "Bernstein bound at or below the truth in %d of %d datasets",
                  covered[0], DATASETS);
}

Test(ope_is, lower_bounds_below_estimate_and_truth) {
    grid g;
    grid_load(&g);
    static batch b;
    int bern_valid = 0, t_valid = 0;
    for (int trial = 0; trial < 100; trial++) {
        orl_rng rng;
        orl_rng_seed(&rng, (uint64_t)trial, 4);
        sample(&g, g.p1, 200, &rng, &b);
        orl_ope_ratios *r = batch_ratios(&b, g.p1, g.p2, -1);
        orl_ope_bounds bd;
        orl_ope_bound_options bo;
        orl_ope_bound_options_init(&bo);
        bo.seed = (uint64_t)trial;
        cr_assert_eq(orl_ope_bounds_compute(r, NULL, &bo, &bd), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(bd.confidence, 0.95);
        cr_assert(bd.clip_chosen && bd.clip > 0.0);
        cr_assert_eq(bd.range.source, ORL_OPE_RANGE_SOURCE_OBSERVED);
        double pdis = estimate(r, ORL_OPE_ESTIMATOR_PDIS), is = estimate(r, ORL_OPE_ESTIMATOR_IS);
        /* the mean of the mapped terms, mapped back: IS + lo (1 - mean w) */
        double mean_back = orl_ope_return_from_unit(&bd.range, bd.unit_mean);
        cr_assert_leq(bd.t_lower, mean_back + 1e-9);
        cr_assert_leq(bd.bootstrap_lower, mean_back + 1e-9);
        cr_assert_leq(bd.bernstein_lower, fmax(mean_back, fmax(is, pdis)) + 1e-9);
        cr_assert_geq(bd.bernstein_lower, bd.range.lo);
        bern_valid += bd.bernstein_lower <= g.v2;
        t_valid += bd.t_lower <= g.v2;
        /* a given clip */
        bo.clip = 50.0;
        cr_assert_eq(orl_ope_bounds_compute(r, NULL, &bo, &bd), ORL_OK);
        cr_assert(!bd.clip_chosen && bd.clip == 50.0);
        cr_assert_leq(bd.bernstein_lower, mean_back + 1e-9);
        orl_ope_ratios_free(r);
    }
    cr_log_info("bounds below the truth: Bernstein %d%%, t %d%%", bern_valid, t_valid);
    cr_assert_geq(bern_valid, 95, "Bernstein bound below the truth in %d of 100", bern_valid);
    cr_assert_geq(t_valid, 85, "t bound below the truth in %d of 100", t_valid);
}

/* ---- the dataset path: orl_ope_ratios_compute with an orl_policy ---- */

static orl_dataset *grid_dataset(const grid *g, const batch *b, int has_logp) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 16, 1, ORL_ACTION_KIND_DISCRETE, 4), ORL_OK);
    h.has_logp = has_logp;
    snprintf(h.env_id, sizeof h.env_id, "%s", ENV_ID);
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, b->n_steps, b->n_episodes, &ds), ORL_OK);
    orl_header_free(&h);
    const orl_tabular_model *m = &g->model;
    for (int64_t e = 0; e < b->n_episodes; e++)
        for (int64_t t = b->ep_off[e]; t < b->ep_off[e + 1]; t++) {
            int32_t s = b->state[t], a = b->act[t];
            memset(ds->obs + t * 16, 0, 16 * sizeof(float));
            memset(ds->next_obs + t * 16, 0, 16 * sizeof(float));
            ds->obs[t * 16 + s] = 1.0f;
            ds->next_obs[t * 16 + m->next[s * 4 + a]] = 1.0f;
            ds->act_idx[t] = a;
            ds->rew[t] = (float)b->rew[t];
            int last = t == b->ep_off[e + 1] - 1;
            ds->terminal[t] = (uint8_t)(last && m->ends[s * 4 + a]);
            ds->timeout[t] = (uint8_t)(last && !m->ends[s * 4 + a]);
            ds->logp_b[t] = has_logp ? (float)log(g->p1[s * 4 + a]) : NAN;
        }
    ds->n_steps = b->n_steps;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(ds->n_episodes, b->n_episodes);
    return ds;
}

Test(ope_is, dataset_ratios_logged_ris_heldout_and_clipping) {
    grid g;
    grid_load(&g);
    static batch b;
    orl_rng rng;
    orl_rng_seed(&rng, 17, 5);
    sample(&g, g.p1, 100, &rng, &b);
    orl_dataset *ds = grid_dataset(&g, &b, 1);
    orl_policy *p2 = NULL;
    int32_t rows = 0;
    cr_assert_eq(orl_tabular_policy_from_file(P2, ENV_ID, &p2, &rows), ORL_OK, "%s",
                 orl_error_message());

    /* logged behaviour: the table's log-ratios to float32 precision */
    orl_ope_ratio_options ro;
    orl_ope_ratio_options_init(&ro);
    ro.batch = 7; /* batches that straddle episodes */
    orl_ope_ratios *r = NULL;
    cr_assert_eq(orl_ope_ratios_compute(ds, p2, &ro, &r), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(r->n_steps, b.n_steps);
    cr_assert_eq(r->n_episodes, 100);
    for (int64_t e = 0; e <= 100; e++) cr_assert_eq(r->ep_off[e], b.ep_off[e]);
    cr_assert(!r->behavior_estimated && !r->logged_missing && !r->kernel_smoothed);
    for (int64_t t = 0; t < b.n_steps; t++) {
        double want = log(g.p2[b.state[t] * 4 + b.act[t]]) - log(g.p1[b.state[t] * 4 + b.act[t]]);
        cr_assert(fabs(r->log_ratio[t] - want) < 1e-4 * (1.0 + fabs(want)), "step %lld: %g vs %g",
                  (long long)t, r->log_ratio[t], want);
        cr_assert_eq(r->rew[t], b.rew[t]);
    }
    orl_ope_ratios_free(r);

    /* RIS on the dataset equals counts over the true states */
    ro.behavior = ORL_OPE_BEHAVIOR_TABULAR;
    for (int order = 0; order <= 2; order++) {
        ro.ris_order = order;
        cr_assert_eq(orl_ope_ratios_compute(ds, p2, &ro, &r), ORL_OK, "%s", orl_error_message());
        static double want[250000];
        cr_assert_eq(orl_ope_ris_tabular(b.state, b.act, b.ep_off, 100, 4, order, NULL, 0.0, want),
                     ORL_OK);
        for (int64_t t = 0; t < b.n_steps; t++)
            cr_assert_float_eq(r->log_pi_b[t], want[t], 1e-12, "order %d step %lld", order,
                               (long long)t);
        cr_assert(r->behavior_estimated);
        cr_assert_eq(r->n_fit_episodes, 100);
        orl_ope_ratios_free(r);
    }

    /* held-out: the fitted and evaluated episodes partition the data */
    ro.ris_order = 0;
    ro.heldout_fraction = 0.5;
    ro.seed = 3;
    cr_assert_eq(orl_ope_ratios_compute(ds, p2, &ro, &r), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(r->n_episodes + r->n_fit_episodes, 100);
    cr_assert_gt(r->n_episodes, 10);
    for (int64_t e = 0; e < r->n_episodes; e++) {
        int64_t src = r->source_episode[e];
        cr_assert_eq(r->ep_off[e + 1] - r->ep_off[e], b.ep_off[src + 1] - b.ep_off[src]);
        cr_assert_eq(r->rew[r->ep_off[e]], b.rew[b.ep_off[src]]);
    }
    orl_ope_ratios_free(r);

    /* log-ratio clipping is counted and reported */
    orl_ope_ratio_options_init(&ro);
    ro.log_ratio_clip = 1.0;
    cr_assert_eq(orl_ope_ratios_compute(ds, p2, &ro, &r), ORL_OK);
    cr_assert_gt(r->n_log_ratio_clipped, 0);
    for (int64_t t = 0; t < r->n_steps; t++) cr_assert_leq(fabs(r->log_ratio[t]), 1.0);
    orl_ope_estimate est;
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_WIS, NULL, &est), ORL_OK);
    cr_assert_float_eq(est.log_ratio_clipped_fraction,
                       (double)r->n_log_ratio_clipped / (double)r->n_steps, 1e-15);
    cr_assert_gt(est.log_ratio_clipped_fraction, 0.0);
    orl_ope_ratios_free(r);
    orl_dataset_free(ds);

    /* no logged probabilities: logged behaviour fails, RIS works and says so */
    ds = grid_dataset(&g, &b, 0);
    orl_ope_ratio_options_init(&ro);
    cr_assert_eq(orl_ope_ratios_compute(ds, p2, &ro, &r), ORL_ERR_INPUT);
    cr_assert_null(r);
    cr_assert(strstr(orl_error_message(), "regression importance sampling"));
    ro.behavior = ORL_OPE_BEHAVIOR_TABULAR;
    cr_assert_eq(orl_ope_ratios_compute(ds, p2, &ro, &r), ORL_OK, "%s", orl_error_message());
    cr_assert(r->logged_missing && r->behavior_estimated);
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_WPDIS, NULL, &est), ORL_OK);
    cr_assert(est.logged_missing && est.behavior_estimated);
    cr_assert(isfinite(est.value));
    orl_ope_ratios_free(r);
    orl_dataset_free(ds);
    orl_policy_free(p2);
}

/* a deterministic continuous policy a = 2 tanh(0.5 s + 0.1) on [-2, 2]: kernel smoothing with
 * the default bandwidth 0.1 * 4 = 0.4 */
Test(ope_is, deterministic_continuous_policy_gets_kernel_weights) {
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    float lo = -2.0f, hi = 2.0f;
    spec.info.algorithm = "fixed";
    spec.info.obs_dim = 1;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    spec.info.act_low = &lo;
    spec.info.act_high = &hi;
    spec.head = ORL_POLICY_HEAD_DETERMINISTIC;
    spec.mlp.n_layers = 1;
    spec.mlp.widths[0] = 1;
    spec.mlp.widths[1] = 1;
    float params[2] = {0.5f, 0.1f};
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, params, NULL, &p), ORL_OK, "%s",
                 orl_error_message());

    orl_header h;
    cr_assert_eq(orl_header_init(&h, 1, 1, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    h.has_logp = 1;
    h.act_low[0] = lo;
    h.act_high[0] = hi;
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, 6, 2, &ds), ORL_OK);
    orl_header_free(&h);
    for (int t = 0; t < 6; t++) {
        ds->obs[t] = (float)t - 2.5f;
        ds->next_obs[t] = (float)t - 1.5f;
        ds->act[t] = 0.3f * (float)t - 0.7f;
        ds->rew[t] = 1.0f;
        ds->terminal[t] = t == 2 || t == 5;
        ds->timeout[t] = 0;
        ds->logp_b[t] = (float)-log(4.0); /* uniform on [-2, 2] */
    }
    ds->n_steps = 6;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    orl_ope_ratios *r = NULL;
    cr_assert_eq(orl_ope_ratios_compute(ds, p, NULL, &r), ORL_OK, "%s", orl_error_message());
    cr_assert(r->kernel_smoothed);
    cr_assert_float_eq(r->kernel_bandwidth, 0.4, 1e-6);
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, 6, &w), ORL_OK);
    float mu[6];
    cr_assert_eq(orl_policy_act(p, w, ds->obs, 6, ORL_POLICY_MODE_MEAN, NULL, mu, NULL), ORL_OK);
    for (int t = 0; t < 6; t++) {
        cr_assert_float_eq(mu[t], 2.0 * tanh(0.5 * ds->obs[t] + 0.1), 1e-5);
        double d = (double)ds->act[t] - (double)mu[t], hb = r->kernel_bandwidth;
        double want =
            -0.5 * d * d / (hb * hb) - 0.5 * log(2.0 * 3.14159265358979323846 * hb * hb) + log(4.0);
        cr_assert_float_eq(r->log_ratio[t], want, 1e-5, "step %d: %g vs %g", t, r->log_ratio[t],
                           want);
    }
    orl_ope_ratios_free(r);

    /* a stated bandwidth is used as given; RIS by counts refuses continuous actions */
    orl_ope_ratio_options ro;
    orl_ope_ratio_options_init(&ro);
    ro.kernel_bandwidth = 0.05;
    cr_assert_eq(orl_ope_ratios_compute(ds, p, &ro, &r), ORL_OK);
    cr_assert_eq(r->kernel_bandwidth, 0.05);
    orl_ope_ratios_free(r);
    ro.behavior = ORL_OPE_BEHAVIOR_TABULAR;
    cr_assert_eq(orl_ope_ratios_compute(ds, p, &ro, &r), ORL_ERR_UNSUPPORTED);
    cr_assert_null(r);
    orl_policy_work_free(w);
    orl_dataset_free(ds);
    orl_policy_free(p);
}

/* a dataset with continuous observations s ~ U(-1, 1)^2 in 1-step episodes: discrete actions
 * with p(1 | s) = sigmoid(2 s0), or continuous a ~ N(0.5 s0 - 0.2, 0.3^2); logp_b exact */
static orl_dataset *continuous_state_dataset(int discrete, int64_t n, uint64_t seed) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 2, 1,
                                 discrete ? ORL_ACTION_KIND_DISCRETE : ORL_ACTION_KIND_CONTINUOUS,
                                 discrete ? 2 : 0),
                 ORL_OK);
    h.has_logp = 1;
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, n, n, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 21);
    for (int64_t t = 0; t < n; t++) {
        float s0 = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
        float s1 = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
        ds->obs[2 * t] = ds->next_obs[2 * t] = s0;
        ds->obs[2 * t + 1] = ds->next_obs[2 * t + 1] = s1;
        if (discrete) {
            double p1 = 1.0 / (1.0 + exp(-2.0 * s0));
            int32_t a = orl_rng_uniform(&rng) < p1;
            ds->act_idx[t] = a;
            ds->logp_b[t] = (float)log(a ? p1 : 1.0 - p1);
        } else {
            double mean = 0.5 * s0 - 0.2, z = orl_rng_normal(&rng);
            ds->act[t] = (float)(mean + 0.3 * z);
            ds->logp_b[t] =
                (float)(-0.5 * z * z - log(0.3) - 0.5 * log(2.0 * 3.14159265358979323846));
        }
        ds->rew[t] = (float)s0;
        ds->terminal[t] = 1;
        ds->timeout[t] = 0;
    }
    ds->n_steps = n;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    return ds;
}

Test(ope_is, mlp_behaviour_models_recover_the_logged_probabilities) {
    for (int discrete = 1; discrete >= 0; discrete--) {
        orl_dataset *ds = continuous_state_dataset(discrete, 4000, 8);
        static double lp[4000];
        orl_ope_ratio_options ro;
        orl_ope_ratio_options_init(&ro);
        ro.seed = 4;
        cr_assert_eq(orl_ope_ris_mlp(ds, &ro, NULL, lp), ORL_OK, "%s", orl_error_message());
        double mad = 0.0, ll_fit = 0.0, ll_true = 0.0;
        for (int64_t t = 0; t < 4000; t++) {
            mad += fabs(lp[t] - (double)ds->logp_b[t]) / 4000.0;
            ll_fit += lp[t] / 4000.0;
            ll_true += (double)ds->logp_b[t] / 4000.0;
        }
        cr_log_info("MLP behaviour (%s): mean |log pi_hat - log pi_b| %.4f, mean log-likelihood "
                    "fitted %.4f, true %.4f",
                    discrete ? "softmax" : "gaussian", mad, ll_fit, ll_true);
        cr_assert_lt(mad, discrete ? 0.1 : 0.15, "mean absolute log difference %g", mad);
        /* the MLE fits the sample at least about as well as the truth */
        cr_assert_gt(ll_fit, ll_true - 0.02);

        /* same seed, same bits */
        static double again[4000];
        cr_assert_eq(orl_ope_ris_mlp(ds, &ro, NULL, again), ORL_OK);
        cr_assert_eq(memcmp(lp, again, sizeof lp), 0);

        /* through orl_ope_ratios_compute: a uniform discrete evaluation policy */
        if (discrete) {
            orl_policy_mlp_spec spec;
            memset(&spec, 0, sizeof spec);
            spec.info.algorithm = "uniform";
            spec.info.obs_dim = 2;
            spec.info.act_dim = 1;
            spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
            spec.info.n_actions = 2;
            spec.head = ORL_POLICY_HEAD_CATEGORICAL;
            spec.mlp.n_layers = 1;
            spec.mlp.widths[0] = 2;
            spec.mlp.widths[1] = 2;
            float params[6] = {0};
            orl_policy *p = NULL;
            cr_assert_eq(orl_policy_mlp_create(&spec, NULL, params, NULL, &p), ORL_OK);
            ro.behavior = ORL_OPE_BEHAVIOR_MLP;
            orl_ope_ratios *r = NULL;
            cr_assert_eq(orl_ope_ratios_compute(ds, p, &ro, &r), ORL_OK, "%s", orl_error_message());
            cr_assert(r->behavior_estimated && !r->logged_missing);
            for (int64_t t = 0; t < 4000; t++) {
                cr_assert_eq(r->log_pi_b[t], lp[t]);
                cr_assert_float_eq(r->log_ratio[t], log(0.5) - lp[t], 1e-6);
            }
            orl_ope_ratios_free(r);
            orl_policy_free(p);
        }
        orl_dataset_free(ds);
    }
}

Test(ope_is, bounded_mlp_behaviour_fits_pendulum_and_ris_is_on_policy) {
    /* Pendulum-v1/medium from orl_gen (50 episodes of 200 steps, seed 6): noise 0.65, so a
     * mixture of 35% tanh-squashed Gaussian in the box [-2, 2] (spikes near the bounds where the
     * controller saturates: bang-bang) and 65% uniform. The bounded MLP behaviour (a mixture of
     * squashed Gaussians, its size chosen by held-out likelihood, with a uniform share of
     * fitted, state-dependent weight >= 1%) is fitted on 40 episodes (seed 5, ope.h defaults
     * otherwise); on the 10 held-out ones its mean log-likelihood of the logged actions must be
     * within 0.15 nats of the true logged mean (measured 0.087; one squashed Gaussian, which
     * blurs the controller's switches, was 0.35 behind) and 0.5 above the unbounded Gaussian's.
     * Then RIS (fitted on all episodes) of the behaviour itself, gamma 0.95: the per-step
     * log-ratio log(pi_b / pi_hat) has mean below 0.1 and standard deviation below 0.5 nats
     * (measured 0.05 and 0.37; one Gaussian: 0.29 and 0.88), every |log-ratio| < 6 (the uniform
     * floor), RIS-WIS and RIS-PDIS finite. What is NOT asserted, and why: RIS-WIS's accuracy.
     * Per-step misfits of 0.37 nats add up over 200 steps to episode log-weights with a
     * standard deviation of about 6 nats, so the trajectory weights are degenerate (ESS ~2 of
     * 50) and the estimate depends on which episode happens to dominate (measured: 44% off the
     * Monte-Carlo value; 11% with one Gaussian, whose fit is worse): the horizon, not the
     * model, limits trajectory-wise RIS here. */
    mkdir(SCRATCH, 0755);
    const char *path = SCRATCH "/pendulum-medium.h5";
    orl_gen_options g;
    memset(&g, 0, sizeof g);
    g.env_id = "Pendulum-v1";
    g.behavior = "medium";
    g.episodes = 50;
    g.seed = 6;
    cr_assert_eq(orl_gen(&g, path, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(path, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
    const int64_t N = ds->n_steps, E = ds->n_episodes;
    cr_assert_eq(E, 50);
    cr_assert(ds->h.act_low && isfinite(ds->h.act_low[0]) && ds->h.has_logp);

    /* held-out log-likelihood */
    uint8_t fit[50];
    for (int e = 0; e < 50; e++) fit[e] = e < 40;
    double *lp = malloc((size_t)N * sizeof *lp);
    cr_assert_not_null(lp);
    orl_ope_ratio_options ro;
    orl_ope_ratio_options_init(&ro);
    ro.seed = 5;
    cr_assert_eq(orl_ope_ris_mlp(ds, &ro, fit, lp), ORL_OK, "%s", orl_error_message());
    double ll_fit = 0.0, ll_true = 0.0;
    int64_t n_held = 0;
    for (int64_t t = ds->ep_off[40]; t < N; t++, n_held++) {
        cr_assert(isfinite(lp[t]), "step %lld: log pi_hat %g", (long long)t, lp[t]);
        ll_fit += lp[t];
        ll_true += (double)ds->logp_b[t];
    }
    ll_fit /= (double)n_held;
    ll_true /= (double)n_held;
    /* the unbounded Gaussian, for the record */
    ro.mlp_act_low = ro.mlp_act_high = NULL;
    orl_dataset tmp = *ds;
    tmp.h.act_low = tmp.h.act_high = NULL;
    cr_assert_eq(orl_ope_ris_mlp(&tmp, &ro, fit, lp), ORL_OK, "%s", orl_error_message());
    double ll_gauss = 0.0;
    for (int64_t t = ds->ep_off[40]; t < N; t++) ll_gauss += lp[t] / (double)n_held;
    cr_log_info("Pendulum medium, held-out mean log-likelihood: bounded fit %.4f, unbounded "
                "Gaussian %.4f, true %.4f",
                ll_fit, ll_gauss, ll_true);
    cr_assert_gt(ll_fit, ll_true - 0.15, "held-out log-likelihood %g, true %g", ll_fit, ll_true);
    cr_assert_gt(ll_fit, ll_gauss + 0.5, "bounded %g, unbounded Gaussian %g", ll_fit, ll_gauss);

    /* RIS of the behaviour itself */
    orl_policy *pb = NULL;
    cr_assert_eq(orl_behavior_create("Pendulum-v1/medium", &pb), ORL_OK);
    ro.behavior = ORL_OPE_BEHAVIOR_MLP;
    orl_ope_ratios *r = NULL;
    cr_assert_eq(orl_ope_ratios_compute(ds, pb, &ro, &r), ORL_OK, "%s", orl_error_message());
    orl_ope_options oo;
    orl_ope_options_init(&oo);
    oo.gamma = 0.95;
    double mc = 0.0;
    for (int64_t e = 0; e < E; e++) {
        double gsum = 0.0, disc = 1.0;
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++, disc *= oo.gamma)
            gsum += disc * (double)ds->rew[t];
        mc += gsum / (double)E;
    }
    /* the uniform component keeps every step's log-ratio bounded; the fit keeps them small */
    double max_abs = 0.0, lr_mean = 0.0, lr_sq = 0.0;
    for (int64_t t = 0; t < N; t++) {
        if (fabs(r->log_ratio[t]) > max_abs) max_abs = fabs(r->log_ratio[t]);
        lr_mean += r->log_ratio[t] / (double)N;
        lr_sq += r->log_ratio[t] * r->log_ratio[t] / (double)N;
    }
    double lr_sd = sqrt(lr_sq - lr_mean * lr_mean);
    orl_ope_estimate wis, pdis;
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_WIS, &oo, &wis), ORL_OK);
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_PDIS, &oo, &pdis), ORL_OK);
    double rel_wis = fabs(wis.value - mc) / fabs(mc), rel_pdis = fabs(pdis.value - mc) / fabs(mc);
    cr_log_info("Pendulum medium on-policy RIS (gamma 0.95): MC %.3f, RIS-WIS %.3f (rel %.4f, "
                "ESS %.1f, max share %.3f), RIS-PDIS %g (rel %g), log-ratio mean %.4f sd %.4f "
                "max |.| %.3f",
                mc, wis.value, rel_wis, wis.ess, wis.max_weight_share, pdis.value, rel_pdis,
                lr_mean, lr_sd, max_abs);
    cr_assert_lt(max_abs, 6.0, "max |log-ratio| %g", max_abs);
    cr_assert_lt(fabs(lr_mean), 0.1, "per-step log-ratio mean %g", lr_mean);
    cr_assert_lt(lr_sd, 0.5, "per-step log-ratio sd %g", lr_sd);
    cr_assert(isfinite(wis.value) && isfinite(pdis.value));
    orl_ope_ratios_free(r);
    orl_policy_free(pb);
    free(lp);
    orl_dataset_free(ds);
}

Test(ope_is, ris_counts_by_hand) {
    /* episode 0: states 0 0 0 1, actions 0 1 1 0; episode 1: states 0 1, actions 1 1 */
    int32_t state[6] = {0, 0, 0, 1, 0, 1}, act[6] = {0, 1, 1, 0, 1, 1};
    int64_t ep_off[3] = {0, 4, 6};
    double lp[6];
    /* RIS(0): state 0 has actions (0, 1, 1, 1), state 1 (0, 1) */
    cr_assert_eq(orl_ope_ris_tabular(state, act, ep_off, 2, 2, 0, NULL, 0.0, lp), ORL_OK);
    double want0[6] = {0.25, 0.75, 0.75, 0.5, 0.75, 0.5};
    for (int t = 0; t < 6; t++) cr_assert_float_eq(lp[t], log(want0[t]), 1e-12, "step %d", t);
    /* a prior of 1 per action: state 0 (1 + 1) / (4 + 2) for action 0 */
    cr_assert_eq(orl_ope_ris_tabular(state, act, ep_off, 2, 2, 0, NULL, 1.0, lp), ORL_OK);
    cr_assert_float_eq(lp[0], log(2.0 / 6.0), 1e-12);
    cr_assert_float_eq(lp[3], log(2.0 / 4.0), 1e-12);
    /* RIS(1): histories (0 | start) -> actions 0, 1; (0 | 0, 0) -> 1; (0 | 0, 1) -> 1;
     * (1 | 0, 1) -> 0, 1 */
    cr_assert_eq(orl_ope_ris_tabular(state, act, ep_off, 2, 2, 1, NULL, 0.0, lp), ORL_OK);
    double want1[6] = {0.5, 1.0, 1.0, 0.5, 0.5, 0.5};
    for (int t = 0; t < 6; t++) cr_assert_float_eq(lp[t], log(want1[t]), 1e-12, "step %d", t);
    /* fitted on episode 1 only: state 0 always action 1; a history the fit never saw (step 2,
     * state 0 after (0, 1), at RIS(1)) gets a uniform row */
    uint8_t fit[2] = {0, 1};
    cr_assert_eq(orl_ope_ris_tabular(state, act, ep_off, 2, 2, 0, fit, 0.0, lp), ORL_OK);
    cr_assert_eq(lp[0], -INFINITY); /* action 0 never seen in state 0: probability 0 */
    cr_assert_float_eq(lp[1], 0.0, 1e-12);
    cr_assert_eq(orl_ope_ris_tabular(state, act, ep_off, 2, 2, 1, fit, 0.0, lp), ORL_OK);
    cr_assert_float_eq(lp[2], log(0.5), 1e-12);
    /* bad input */
    int32_t bad[6] = {0, 0, 0, 1, 0, 2};
    cr_assert_eq(orl_ope_ris_tabular(state, bad, ep_off, 2, 2, 0, NULL, 0.0, lp), ORL_ERR_INPUT);
    cr_assert_eq(orl_ope_ris_tabular(state, act, ep_off, 2, 2, 99, NULL, 0.0, lp), ORL_ERR_INPUT);
}

Test(ope_is, bad_arguments_are_input_errors) {
    orl_ope_ratios *r = NULL;
    cr_assert_eq(orl_ope_ratios_create(-1, 1, &r), ORL_ERR_INPUT);
    cr_assert_null(r);
    r = hand_example();
    orl_ope_options opt;
    orl_ope_options_init(&opt);
    opt.gamma = 1.5;
    orl_ope_estimate est;
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_IS, &opt, &est), ORL_ERR_INPUT);
    opt.gamma = 1.0;
    opt.weight_clip = -1.0;
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_IS, &opt, &est), ORL_ERR_INPUT);
    cr_assert_eq(orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_COUNT, NULL, &est), ORL_ERR_INPUT);
    double x[2], w[2];
    cr_assert_eq(orl_ope_episode_stats(r, ORL_OPE_ESTIMATOR_WPDIS, NULL, x, w),
                 ORL_ERR_UNSUPPORTED);
    orl_ope_bounds bd;
    cr_assert_eq(orl_ope_bounds_compute(r, NULL, NULL, &bd), ORL_ERR_INPUT); /* < 10 episodes */
    orl_ope_bound_options bo;
    orl_ope_bound_options_init(&bo);
    bo.clip = 5.0;
    cr_assert_eq(orl_ope_bounds_compute(r, NULL, &bo, &bd), ORL_OK);
    cr_assert(isfinite(bd.t_lower) && isfinite(bd.bernstein_lower));
    bo.confidence = 1.5;
    cr_assert_eq(orl_ope_bounds_compute(r, NULL, &bo, &bd), ORL_ERR_INPUT);
    orl_ope_interval iv;
    cr_assert_eq(orl_ope_bootstrap(r, ORL_OPE_ESTIMATOR_WPDIS, NULL, 1, 0.9, 0, &iv),
                 ORL_ERR_INPUT);
    orl_ope_ratios_free(r);
}
