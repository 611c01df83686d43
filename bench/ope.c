/* bench/ope: the importance-sampling estimators on one core over 1,000,000 logged steps in
 * 1,000 episodes of 1,000 steps: PDIS and WIS from given log-ratios (the raw-array forms), the
 * same with diagnostics (orl_ope_estimate_compute), and a 1,000-resample percentile bootstrap
 * (each episode reduced once, then the per-episode statistics resampled). Each figure is the
 * fastest of 7 repetitions; one JSON line each. The log-ratios are N(0, 0.01^2) and rewards
 * U(0, 1) from orl_rng seed 1. */
#include "orl/ope.h"
#include "orl/rng.h"

#include <stdio.h>
#include <stdlib.h>
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
    return 0;
}
