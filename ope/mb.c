/* Model-based OPE (ope_run.h, orl_ope_mb): the policy's discounted return from the dataset's
 * start states by rollouts in a fitted dynamics ensemble (dynamics.h), every member rolled on
 * its own predictions with no truncation by disagreement, and a percentile bootstrap over start
 * states and members together (a resample draws E0 starts and K members with replacement and
 * averages the drawn pairs). It needs no behaviour or policy densities, so it works for any
 * policy type. The interval covers the spread over starts and members, not the model's bias:
 * the report carries the model's held-out errors beside it.
 * Not here: fitting or loading the model (orl_ope_run, the caller), rendering (report.h). */
#include "orl/ope_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void orl_ope_mb_options_init(orl_ope_mb_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->gamma = NAN;
    opt->horizon = 0;
    opt->rollouts = 1;
    opt->confidence = 0.95;
    opt->bootstrap = 200;
    opt->seed = 0;
}

void orl_ope_mb_result_free(orl_ope_mb_result *r) {
    if (!r) return;
    free(r->returns);
    memset(r, 0, sizeof *r);
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the q-quantile of sorted v (n), linear interpolation between order statistics (as bounds.c) */
static double quantile_sorted(const double *v, int64_t n, double q) {
    double pos = q * (double)(n - 1);
    int64_t i = (int64_t)floor(pos);
    if (i < 0) return v[0];
    if (i >= n - 1) return v[n - 1];
    double f = pos - (double)i;
    return v[i] + f * (v[i + 1] - v[i]);
}

orl_status orl_ope_mb(const orl_dynamics *model, const orl_dataset *ds, const orl_policy *p,
                      const orl_ope_mb_options *opt, orl_ope_mb_result *out) {
    memset(out, 0, sizeof *out);
    out->value = out->lower = out->upper = out->lower_bound = NAN;
    ORL_TRY(orl_dynamics_check_dims(model, &ds->h, "model-based OPE"));
    ORL_TRY(
        orl_policy_check_dims(p, ds->h.obs_dim, ds->h.act_dim, ds->h.action_kind, ds->h.n_actions));
    if (ds->n_episodes < 1) ORL_FAIL(ORL_ERR_INPUT, "model-based OPE: no episodes");
    if (opt->rollouts < 1)
        ORL_FAIL(ORL_ERR_INPUT, "model-based OPE: rollouts %d < 1", opt->rollouts);
    if (opt->bootstrap != 0 && opt->bootstrap < 2)
        ORL_FAIL(ORL_ERR_INPUT, "model-based OPE: %lld bootstrap resamples",
                 (long long)opt->bootstrap);
    if (!(opt->confidence > 0.5 && opt->confidence < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "model-based OPE: confidence %g", opt->confidence);
    double gamma = opt->gamma;
    if (isnan(gamma))
        gamma = isfinite(ds->h.discount) && ds->h.discount >= 0.0 && ds->h.discount <= 1.0
                    ? ds->h.discount
                    : 1.0;
    /* the horizon: given, else the data's time limit, else its longest episode */
    int64_t horizon = opt->horizon;
    if (horizon < 1) horizon = ds->h.horizon;
    if (horizon < 1)
        for (int64_t e = 0; e < ds->n_episodes; e++)
            if (ds->ep_off[e + 1] - ds->ep_off[e] > horizon)
                horizon = ds->ep_off[e + 1] - ds->ep_off[e];

    /* the data's start states: the first observation of every episode */
    int64_t E0 = ds->n_episodes;
    size_t S = (size_t)ds->h.obs_dim, K = (size_t)model->cfg.members;
    size_t R = (size_t)opt->rollouts;
    float *starts = malloc((size_t)E0 * S * sizeof(float));
    double *returns = malloc((size_t)E0 * R * K * sizeof(double));
    double *per = malloc(((size_t)E0 * K + (size_t)(opt->bootstrap > 0 ? opt->bootstrap : 1) + K) *
                         sizeof(double));
    orl_status st = ORL_OK;
    if (!starts || !returns || !per)
        ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "model-based OPE: %lld start states", (long long)E0);
    for (int64_t e = 0; e < E0; e++)
        memcpy(starts + (size_t)e * S, ds->obs + (size_t)ds->ep_off[e] * S, S * sizeof(float));
    orl_rng rng;
    orl_rng_seed(&rng, opt->seed, 0x6d62); /* "mb" */
    orl_policy_mode mode = p->deterministic ? ORL_POLICY_MODE_MEAN : ORL_POLICY_MODE_SAMPLE;
    ORL_TRY_GOTO(st, done,
                 orl_dynamics_policy_returns(model, p, starts, E0, opt->rollouts, gamma, horizon,
                                             mode, &rng, returns, &out->model_steps));

    /* v[s][k]: start s, member k, averaged over its rollouts */
    double *v = per, *vals = per + (size_t)E0 * K,
           *member_mean = vals + (opt->bootstrap > 0 ? opt->bootstrap : 1);
    double total = 0.0;
    for (size_t k = 0; k < K; k++) member_mean[k] = 0.0;
    for (int64_t s = 0; s < E0; s++)
        for (size_t k = 0; k < K; k++) {
            double sum = 0.0;
            for (size_t r = 0; r < R; r++) sum += returns[((size_t)s * R + r) * K + k];
            v[(size_t)s * K + k] = sum / (double)R;
            total += sum / (double)R;
            member_mean[k] += sum / (double)R / (double)E0;
        }
    out->value = total / ((double)E0 * (double)K);
    out->member_min = out->member_max = member_mean[0];
    for (size_t k = 1; k < K; k++) {
        out->member_min = fmin(out->member_min, member_mean[k]);
        out->member_max = fmax(out->member_max, member_mean[k]);
    }
    out->n_starts = E0;
    out->n_members = (int32_t)K;
    out->rollouts = opt->rollouts;
    out->horizon = horizon;
    out->gamma = gamma;

    /* the bootstrap over start states and members */
    if (opt->bootstrap > 0) {
        orl_rng brng;
        orl_rng_seed(&brng, opt->seed, 0);
        int32_t pick[64];
        for (int64_t b = 0; b < opt->bootstrap; b++) {
            for (size_t k = 0; k < K; k++) pick[k] = (int32_t)orl_rng_below(&brng, (uint32_t)K);
            double sum = 0.0;
            for (int64_t i = 0; i < E0; i++) {
                size_t s = (size_t)orl_rng_below(&brng, (uint32_t)E0);
                for (size_t k = 0; k < K; k++) sum += v[s * K + (size_t)pick[k]];
            }
            vals[b] = sum / ((double)E0 * (double)K);
        }
        qsort(vals, (size_t)opt->bootstrap, sizeof *vals, compare_double);
        out->lower = quantile_sorted(vals, opt->bootstrap, (1.0 - opt->confidence) / 2.0);
        out->upper = quantile_sorted(vals, opt->bootstrap, (1.0 + opt->confidence) / 2.0);
        out->lower_bound = quantile_sorted(vals, opt->bootstrap, 1.0 - opt->confidence);
    }
    out->returns = returns;
    returns = NULL;
done:
    free(starts);
    free(returns);
    free(per);
    return st;
}
