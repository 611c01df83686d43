/* bench/ope: the importance-sampling estimators on one core over 1,000,000 logged steps in
 * 1,000 episodes of 1,000 steps: PDIS and WIS from given log-ratios (the raw-array forms), the
 * same with diagnostics (orl_ope_estimate_compute), and a 1,000-resample percentile bootstrap
 * (each episode reduced once, then the per-episode statistics resampled). Each figure is the
 * fastest of 7 repetitions; one JSON line each. The log-ratios are N(0, 0.01^2) and rewards
 * U(0, 1) from orl_rng seed 1.
 *
 * Then a whole `orl ope` run done with library calls, as cmd_ope.c does it with its default
 * estimators (is, pdis, wis, wpdis, logged behaviour; FQE off): the log-ratios of a 256x256 ReLU
 * MLP policy with a Gaussian head (S 17, A 6, random weights from orl_rng seed 2, the last
 * layer scaled by 1e-3 and log_std in [-2, 2], so the policy starts near N(0, I)) on a synthetic
 * dataset of the same size (observations, actions N(0, I), logp_b their exact density), each
 * estimate with two 200-resample bootstraps (the interval and the one-sided bound) and the
 * high-confidence bounds. Reported once (one JSON line, "estimator":"whole-run-mlp256"): the
 * time of the policy's forward passes (orl_policy_logp over every step in batches of 1024,
 * timed on their own, the fastest of 3), the ratio stage (which makes those same calls), the
 * estimators with their bootstraps and bounds, and the split policy_seconds vs rest_seconds =
 * total - policy_seconds. Run with OPENBLAS_NUM_THREADS=1 for one core. */
#include "orl/dataset.h"
#include "orl/ope.h"
#include "orl/policy.h"
#include "orl/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_STEPS    1000000
#define N_EPISODES 1000
#define RESAMPLES  1000
#define REPEATS    7

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void line(const char *estimator, double seconds, double value) {
    printf("{\"bench\":\"ope\",\"estimator\":\"%s\",\"steps\":%d,\"episodes\":%d,"
           "\"seconds\":%.6f,\"value\":%.9g}\n",
           estimator, N_STEPS, N_EPISODES, seconds, value);
}

#define RUN_S         17
#define RUN_A         6
#define RUN_H         256
#define RUN_BATCH     1024
#define RUN_RESAMPLES 200

/* the whole-run case; 0 on success */
static int whole_run(void) {
    orl_header h;
    if (orl_header_init(&h, RUN_S, RUN_A, ORL_ACTION_KIND_CONTINUOUS, 0) != ORL_OK) return 2;
    h.has_logp = 1;
    h.discount = 0.99;
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_create(&h, N_STEPS, N_EPISODES, &ds);
    orl_header_free(&h);
    if (st) return 2;
    orl_rng rng;
    orl_rng_seed(&rng, 1, 1);
    ds->n_steps = N_STEPS;
    const double log_norm = -0.5 * log(2.0 * 3.14159265358979323846);
    for (int64_t t = 0; t < N_STEPS; t++) {
        for (int j = 0; j < RUN_S; j++) {
            ds->obs[t * RUN_S + j] = (float)orl_rng_normal(&rng);
            ds->next_obs[t * RUN_S + j] = (float)orl_rng_normal(&rng);
        }
        double lp = 0.0;
        for (int j = 0; j < RUN_A; j++) {
            float a = (float)orl_rng_normal(&rng);
            ds->act[t * RUN_A + j] = a;
            lp += log_norm - 0.5 * (double)a * (double)a;
        }
        ds->logp_b[t] = (float)lp;
        ds->rew[t] = (float)orl_rng_uniform(&rng);
        ds->terminal[t] = 0;
        ds->timeout[t] = (t + 1) % (N_STEPS / N_EPISODES) == 0;
    }
    if (orl_dataset_index(ds) != ORL_OK || ds->n_episodes != N_EPISODES) return 2;

    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    float lo[RUN_A], hi[RUN_A];
    for (int j = 0; j < RUN_A; j++) lo[j] = hi[j] = NAN;
    spec.info.algorithm = "bench";
    spec.info.obs_dim = RUN_S;
    spec.info.act_dim = RUN_A;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    spec.info.act_low = lo;
    spec.info.act_high = hi;
    spec.head = ORL_POLICY_HEAD_GAUSSIAN;
    spec.mlp.n_layers = 3;
    spec.mlp.widths[0] = RUN_S;
    spec.mlp.widths[1] = RUN_H;
    spec.mlp.widths[2] = RUN_H;
    spec.mlp.widths[3] = orl_policy_head_outputs(spec.head, RUN_A, 0);
    spec.mlp.activation = ORL_ACTIVATION_RELU;
    spec.mlp.last_scale = 1e-3f;
    spec.log_std_min = -2.0f;
    spec.log_std_max = 2.0f;
    orl_rng_seed(&rng, 2, 0);
    orl_policy *p = NULL;
    if (orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p) != ORL_OK) return 2;

    /* the policy's forward passes alone, as the ratio stage batches them */
    orl_policy_work *w = NULL;
    double *logp = malloc(N_STEPS * sizeof *logp);
    if (!logp || orl_policy_work_create(p, RUN_BATCH, &w) != ORL_OK) return 2;
    double t0, policy_seconds = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        t0 = now();
        for (int64_t t = 0; t < N_STEPS; t += RUN_BATCH) {
            int32_t n = (int32_t)(N_STEPS - t < RUN_BATCH ? N_STEPS - t : RUN_BATCH);
            if (orl_policy_logp(p, w, ds->obs + t * RUN_S, n, ds->act + t * RUN_A, NULL,
                                logp + t) != ORL_OK)
                return 2;
        }
        if (now() - t0 < policy_seconds) policy_seconds = now() - t0;
    }

    /* the run: ratios, then every estimator with its two bootstraps, then the bounds */
    t0 = now();
    orl_ope_ratios *r = NULL;
    orl_ope_ratio_options ro;
    orl_ope_ratio_options_init(&ro);
    ro.batch = RUN_BATCH;
    if (orl_ope_ratios_compute(ds, p, &ro, &r) != ORL_OK) return 2;
    double t1 = now();
    orl_ope_options opt;
    orl_ope_options_init(&opt);
    opt.gamma = 0.99;
    double value[ORL_OPE_ESTIMATOR_COUNT];
    for (int e = 0; e < ORL_OPE_ESTIMATOR_COUNT; e++) {
        orl_ope_estimate est;
        orl_ope_interval two, one;
        if (orl_ope_estimate_compute(r, (orl_ope_estimator)e, &opt, &est) != ORL_OK ||
            orl_ope_bootstrap(r, (orl_ope_estimator)e, &opt, RUN_RESAMPLES, 0.95, 0, &two) !=
                ORL_OK ||
            orl_ope_bootstrap(r, (orl_ope_estimator)e, &opt, RUN_RESAMPLES, 0.90, 0, &one) !=
                ORL_OK)
            return 2;
        value[e] = est.value;
    }
    orl_ope_bound_options bo;
    orl_ope_bound_options_init(&bo);
    orl_ope_bounds b;
    if (orl_ope_bounds_compute(r, &opt, &bo, &b) != ORL_OK) return 2;
    double t2 = now();
    double total = t2 - t0;
    printf("{\"bench\":\"ope\",\"estimator\":\"whole-run-mlp256\",\"steps\":%d,"
           "\"episodes\":%d,\"policy\":\"mlp %dx%d gaussian, S %d, A %d\","
           "\"estimators\":\"is,pdis,wis,wpdis\",\"resamples\":%d,\"seconds\":%.6f,"
           "\"ratio_seconds\":%.6f,\"estimator_seconds\":%.6f,\"policy_seconds\":%.6f,"
           "\"rest_seconds\":%.6f,\"policy_share\":%.4f,\"pdis\":%.9g,\"wis\":%.9g}\n",
           N_STEPS, N_EPISODES, RUN_H, RUN_H, RUN_S, RUN_A, RUN_RESAMPLES, total, t1 - t0, t2 - t1,
           policy_seconds, total - policy_seconds, policy_seconds / total,
           value[ORL_OPE_ESTIMATOR_PDIS], value[ORL_OPE_ESTIMATOR_WIS]);
    orl_ope_ratios_free(r);
    orl_policy_work_free(w);
    orl_policy_free(p);
    free(logp);
    orl_dataset_free(ds);
    return 0;
}

int main(void) {
    orl_ope_ratios *r = NULL;
    if (orl_ope_ratios_create(N_STEPS, N_EPISODES, &r) != ORL_OK) return 2;
    orl_rng rng;
    orl_rng_seed(&rng, 1, 0);
    for (int64_t t = 0; t < N_STEPS; t++) {
        r->log_ratio[t] = 0.01 * orl_rng_normal(&rng);
        r->rew[t] = orl_rng_uniform(&rng);
    }
    for (int64_t e = 0; e <= N_EPISODES; e++) r->ep_off[e] = e * (N_STEPS / N_EPISODES);
    double *x = malloc(2 * N_EPISODES * sizeof *x), *scratch = malloc(RESAMPLES * sizeof *x);
    if (!x || !scratch) return 2;
    const double gamma = 0.99;
    orl_ope_options opt;
    orl_ope_options_init(&opt);
    opt.gamma = gamma;

    double best[6] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30}, value[6] = {0};
    for (int rep = 0; rep < REPEATS; rep++) {
        double t0 = now();
        value[0] = orl_ope_pdis_from(r->log_ratio, r->rew, r->ep_off, N_EPISODES, gamma);
        double t1 = now();
        value[1] = orl_ope_wis_from(r->log_ratio, r->rew, r->ep_off, N_EPISODES, gamma);
        double t2 = now();
        orl_ope_estimate est;
        if (orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_PDIS, &opt, &est) != ORL_OK) return 2;
        value[2] = est.value;
        double t3 = now();
        if (orl_ope_estimate_compute(r, ORL_OPE_ESTIMATOR_WIS, &opt, &est) != ORL_OK) return 2;
        value[3] = est.value;
        double t4 = now();
        /* bootstrap: reduce once, then resample */
        if (orl_ope_episode_stats(r, ORL_OPE_ESTIMATOR_PDIS, &opt, x, x + N_EPISODES) != ORL_OK)
            return 2;
        double t5 = now();
        orl_ope_interval iv;
        if (orl_ope_bootstrap_from(x, NULL, N_EPISODES, RESAMPLES, 0.95, 1, scratch, &iv) != ORL_OK)
            return 2;
        double t6 = now();
        value[4] = iv.lo;
        value[5] = iv.hi;
        double dt[6] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3, t6 - t4, t6 - t5};
        for (int k = 0; k < 6; k++)
            if (dt[k] < best[k]) best[k] = dt[k];
    }
    line("pdis", best[0], value[0]);
    line("wis", best[1], value[1]);
    line("pdis+diagnostics", best[2], value[2]);
    line("wis+diagnostics", best[3], value[3]);
    printf("{\"bench\":\"ope\",\"estimator\":\"bootstrap-pdis\",\"steps\":%d,\"episodes\":%d,"
           "\"resamples\":%d,\"seconds\":%.6f,\"resample_seconds\":%.6f,\"lo\":%.9g,"
           "\"hi\":%.9g}\n",
           N_STEPS, N_EPISODES, RESAMPLES, best[4], best[5], value[4], value[5]);
    free(x);
    free(scratch);
    orl_ope_ratios_free(r);
    return whole_run();
}
