/* AWR (Peng et al. 2019): a value function V(s) fit by regression, TD(lambda) or Monte Carlo
 * targets, advantages A = G - V(s) and per-step weights min(exp(A / beta), max_weight).
 * Defaults follow the reference implementation (xbpeng/awr, awr_agent.py): discount 0.99,
 * lambda 0.95, advantages standardised with (A - mean) / (std + 1e-5), beta 1, clip 20.
 * The value fit is a function of its own so the AWR learner can alternate it with its policy
 * fit; this file does not fit policies. */
#include "orl/filters.h"
#include "orl/heads.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ADV_EPS        1e-5 /* the reference's ADV_EPS */
#define LOSS_WINDOW    100  /* minibatches averaged into the reported loss */
#define MIN_TARGET_STD 1e-6

/* ---- the value function ---- */

orl_value_config orl_value_defaults(void) {
    orl_value_config c;
    memset(&c, 0, sizeof c);
    c.hidden[0] = 128;
    c.hidden[1] = 64;
    c.activation = ORL_ACTIVATION_RELU;
    c.lr = 1e-3f;
    c.batch = 256;
    return c;
}

orl_status orl_value_init(orl_value_fn *v, const orl_value_config *cfg, int32_t obs_dim,
                          orl_rng *rng) {
    assert(v && rng);
    memset(v, 0, sizeof *v);
    v->cfg = cfg ? *cfg : orl_value_defaults();
    v->obs_dim = obs_dim;
    if (obs_dim < 1) ORL_FAIL(ORL_ERR_INPUT, "value function: observation size %d", obs_dim);
    if (v->cfg.batch < 1) ORL_FAIL(ORL_ERR_INPUT, "value function: batch %d", v->cfg.batch);
    if (!(v->cfg.lr > 0.0f)) ORL_FAIL(ORL_ERR_INPUT, "value function: lr %g", (double)v->cfg.lr);
    orl_mlp_config mc;
    memset(&mc, 0, sizeof mc);
    mc.widths[0] = obs_dim;
    int32_t l = 0;
    while (l < ORL_MLP_MAX_LAYERS - 1 && v->cfg.hidden[l] > 0) {
        mc.widths[l + 1] = v->cfg.hidden[l];
        l++;
    }
    mc.widths[l + 1] = 1;
    mc.n_layers = l + 1;
    mc.activation = v->cfg.activation;
    mc.init = ORL_INIT_FAN_IN_UNIFORM;
    orl_status st;
    orl_fit_config fc = orl_fit_defaults(v->cfg.lr, v->cfg.batch);
    ORL_TRY_GOTO(st, fail, orl_fit_init(&v->fit, &mc, &fc, rng));
    ORL_TRY_GOTO(st, fail, orl_normalizer_identity(&v->obs_norm, obs_dim));
    /* the batch scratch in one allocation */
    size_t b = (size_t)v->cfg.batch;
    v->x = malloc(b * ((size_t)obs_dim + 2) * sizeof(float));
    if (!v->x) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "value function: buffers");
    v->y = v->x + b * (size_t)obs_dim;
    v->dpred = v->y + b;
    v->target_mean = 0.0;
    v->target_std = 1.0;
    return ORL_OK;
fail:
    orl_value_free(v);
    return st;
}

void orl_value_free(orl_value_fn *v) {
    if (!v) return;
    orl_fit_free(&v->fit);
    orl_normalizer_free(&v->obs_norm);
    free(v->x);
    memset(v, 0, sizeof *v);
}

int32_t orl_value_buffers(orl_value_fn *v, const char *prefix, orl_buffer *out, int32_t cap,
                          int32_t n) {
    assert(v);
    int64_t S = v->obs_dim, f = (int64_t)sizeof(float);
    n = orl_fit_buffers(&v->fit, prefix, out, cap, n);
    orl_buffer_put(out, cap, &n, prefix, "obs_mean", v->obs_norm.mean, S * f);
    orl_buffer_put(out, cap, &n, prefix, "obs_std", v->obs_norm.std, S * f);
    orl_buffer_put(out, cap, &n, prefix, "target_mean", &v->target_mean, (int64_t)sizeof(double));
    orl_buffer_put(out, cap, &n, prefix, "target_std", &v->target_std, (int64_t)sizeof(double));
    orl_buffer_put(out, cap, &n, prefix, "fitted", &v->fitted, (int64_t)sizeof v->fitted);
    return n;
}

/* the first fit fixes the statistics of observations and targets */
static orl_status take_statistics(orl_value_fn *v, const float *obs, const double *target,
                                  int64_t n) {
    orl_normalizer nm = {0};
    ORL_TRY(orl_normalizer_fit(&nm, obs, n, v->obs_dim, 1e-3f));
    orl_normalizer_free(&v->obs_norm);
    v->obs_norm = nm;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += target[i];
    double mean = sum / (double)n, ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (target[i] - mean) * (target[i] - mean);
    double sd = sqrt(ss / (double)n);
    if (!isfinite(mean) || !isfinite(sd))
        ORL_FAIL(ORL_ERR_NUMERIC, "value function: the targets are not finite");
    v->target_mean = mean;
    v->target_std = sd > MIN_TARGET_STD ? sd : 1.0;
    v->fitted = 1;
    return ORL_OK;
}

orl_status orl_value_fit(orl_value_fn *v, const float *obs, const double *target, int64_t n,
                         int64_t steps, orl_rng *rng, double *loss) {
    assert(v && obs && target && rng);
    if (n < 1) ORL_FAIL(ORL_ERR_INPUT, "value fit: no rows");
    if (steps < 0) ORL_FAIL(ORL_ERR_INPUT, "value fit: %lld steps", (long long)steps);
    if (!v->fitted) ORL_TRY(take_statistics(v, obs, target, n));
    int32_t s = v->obs_dim, b = v->cfg.batch;
    float mean = (float)v->target_mean, inv_std = (float)(1.0 / v->target_std);
    double window = 0.0;
    int64_t counted = 0;
    for (int64_t step = 0; step < steps; step++) {
        /* a minibatch drawn with replacement */
        for (int32_t i = 0; i < b; i++) {
            int64_t r = orl_rng_range(rng, 0, n - 1);
            memcpy(v->x + (size_t)i * (size_t)s, obs + r * s, (size_t)s * sizeof(float));
            v->y[i] = ((float)target[r] - mean) * inv_std;
        }
        orl_normalizer_apply(&v->obs_norm, v->x, b, v->x);
        const float *pred = orl_fit_forward(&v->fit, v->x, b);
        memset(v->dpred, 0, (size_t)b * sizeof(float));
        double l = orl_loss_mse(v->dpred, pred, v->y, b, 1.0f);
        if (!isfinite(l))
            ORL_FAIL(ORL_ERR_NUMERIC, "value fit: non-finite loss at step %lld", (long long)step);
        orl_fit_backward(&v->fit, v->dpred, NULL);
        orl_fit_step(&v->fit, -1.0f);
        if (steps - step <= LOSS_WINDOW) {
            window += l;
            counted++;
        }
    }
    if (loss) *loss = counted ? window / (double)counted * v->target_std * v->target_std : NAN;
    return ORL_OK;
}

void orl_value_predict(orl_value_fn *v, const float *obs, int64_t n, double *out) {
    assert(v && obs && out);
    int32_t s = v->obs_dim, b = v->cfg.batch;
    for (int64_t i0 = 0; i0 < n; i0 += b) {
        int32_t m = (int32_t)(n - i0 < b ? n - i0 : b);
        orl_normalizer_apply(&v->obs_norm, obs + i0 * s, m, v->x);
        const float *pred = orl_fit_forward(&v->fit, v->x, m);
        for (int32_t i = 0; i < m; i++)
            out[i0 + i] = (double)pred[i] * v->target_std + v->target_mean;
    }
}

double orl_value_mse(orl_value_fn *v, const float *obs, const double *target, int64_t n) {
    assert(v && obs && target);
    int32_t s = v->obs_dim, b = v->cfg.batch;
    double sum = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += b) {
        int32_t m = (int32_t)(n - i0 < b ? n - i0 : b);
        orl_normalizer_apply(&v->obs_norm, obs + i0 * s, m, v->x);
        const float *out = orl_fit_forward(&v->fit, v->x, m);
        for (int32_t i = 0; i < m; i++) {
            double d = (double)out[i] * v->target_std + v->target_mean - target[i0 + i];
            sum += d * d;
        }
    }
    return n > 0 ? sum / (double)n : NAN;
}

/* ---- targets, advantages, weights ---- */

orl_awr_config orl_awr_defaults(void) {
    orl_awr_config c;
    memset(&c, 0, sizeof c);
    c.kind = ORL_ADVANTAGE_KIND_TD_LAMBDA;
    c.discount = 0.99;
    c.lambda = 0.95;
    c.standardize = 1;
    c.beta = 1.0;
    c.max_weight = 20.0;
    return c;
}

static orl_status check_config(const orl_awr_config *cfg) {
    if (!(cfg->discount >= 0.0 && cfg->discount <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "awr: discount %g: expected a value in [0, 1]", cfg->discount);
    if (cfg->kind == ORL_ADVANTAGE_KIND_TD_LAMBDA && !(cfg->lambda >= 0.0 && cfg->lambda <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "awr: lambda %g: expected a value in [0, 1]", cfg->lambda);
    if (cfg->kind != ORL_ADVANTAGE_KIND_TD_LAMBDA && cfg->kind != ORL_ADVANTAGE_KIND_MONTE_CARLO)
        ORL_FAIL(ORL_ERR_INPUT, "awr: unknown advantage kind %d", (int)cfg->kind);
    if (!(cfg->beta > 0.0)) ORL_FAIL(ORL_ERR_INPUT, "awr: beta %g: expected > 0", cfg->beta);
    if (!(cfg->max_weight > 0.0))
        ORL_FAIL(ORL_ERR_INPUT, "awr: max weight %g: expected > 0", cfg->max_weight);
    return ORL_OK;
}

orl_status orl_awr_targets(const orl_dataset *ds, const orl_awr_config *cfg, const double *v_next,
                           double *target) {
    assert(ds && cfg && target);
    ORL_TRY(check_config(cfg));
    double g = cfg->discount;
    double lam = cfg->kind == ORL_ADVANTAGE_KIND_MONTE_CARLO ? 1.0 : cfg->lambda;
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        int64_t lo = ds->ep_off[e], hi = ds->ep_off[e + 1];
        if (hi <= lo) continue;
        /* the last step bootstraps only when the episode was cut by a time limit */
        int64_t last = hi - 1;
        double ret = (double)ds->rew[last];
        if (v_next && ds->timeout[last] && !ds->terminal[last]) ret += g * v_next[last];
        target[last] = ret;
        for (int64_t t = last - 1; t >= lo; t--) {
            double vn = v_next ? v_next[t] : 0.0;
            ret = (double)ds->rew[t] + g * ((1.0 - lam) * vn + lam * ret);
            target[t] = ret;
        }
    }
    return ORL_OK;
}

orl_status orl_awr_advantages(const orl_dataset *ds, const orl_awr_config *cfg, const double *v,
                              const double *v_next, double *adv) {
    ORL_TRY(orl_awr_targets(ds, cfg, v_next, adv));
    if (v)
        for (int64_t t = 0; t < ds->n_steps; t++) adv[t] -= v[t];
    return ORL_OK;
}

orl_status orl_awr_weights_from_advantages(const double *adv, int64_t n, const orl_awr_config *cfg,
                                           float *weight) {
    assert(cfg && (n == 0 || (adv && weight)));
    ORL_TRY(check_config(cfg));
    double mean = 0.0, scale = 1.0;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(adv[i]))
            ORL_FAIL(ORL_ERR_NUMERIC, "awr: advantage of step %lld is not finite", (long long)i);
    if (cfg->standardize && n > 0) {
        double sum = 0.0, ss = 0.0;
        for (int64_t i = 0; i < n; i++) sum += adv[i];
        mean = sum / (double)n;
        for (int64_t i = 0; i < n; i++) ss += (adv[i] - mean) * (adv[i] - mean);
        scale = 1.0 / (sqrt(ss / (double)n) + ADV_EPS);
    }
    /* exp may overflow to +inf: the clip brings it back */
    for (int64_t i = 0; i < n; i++) {
        double w = exp((adv[i] - mean) * scale / cfg->beta);
        weight[i] = (float)(w < cfg->max_weight ? w : cfg->max_weight);
    }
    return ORL_OK;
}

orl_status orl_awr_weights(const orl_dataset *ds, const orl_awr_config *cfg, orl_value_fn *vf,
                           float *weight, double *adv) {
    assert(ds && cfg && weight);
    int64_t n = ds->n_steps;
    if (vf && vf->obs_dim != ds->h.obs_dim)
        ORL_FAIL(ORL_ERR_INPUT, "awr: value function for observations of size %d, data has %d",
                 vf->obs_dim, ds->h.obs_dim);
    size_t cells = (size_t)(n > 0 ? n : 1);
    double *buf = malloc(cells * 3 * sizeof(double));
    if (!buf) ORL_FAIL(ORL_ERR_NOMEM, "awr: scratch for %lld steps", (long long)n);
    double *v = buf, *vn = buf + cells, *a = buf + 2 * cells;
    if (vf) {
        orl_value_predict(vf, ds->obs, n, v);
        orl_value_predict(vf, ds->next_obs, n, vn);
    }
    orl_status st = orl_awr_advantages(ds, cfg, vf ? v : NULL, vf ? vn : NULL, a);
    if (st == ORL_OK) st = orl_awr_weights_from_advantages(a, n, cfg, weight);
    if (st == ORL_OK && adv) memcpy(adv, a, (size_t)n * sizeof(double));
    free(buf);
    return st;
}

orl_status orl_awr_fit_value(const orl_dataset *ds, const orl_awr_config *cfg, orl_value_fn *vf,
                             int64_t steps, orl_rng *rng, double *loss) {
    assert(ds && cfg && vf && rng);
    int64_t n = ds->n_steps;
    if (n < 1) ORL_FAIL(ORL_ERR_INPUT, "awr: value fit on a dataset with no steps");
    if (vf->obs_dim != ds->h.obs_dim)
        ORL_FAIL(ORL_ERR_INPUT, "awr: value function for observations of size %d, data has %d",
                 vf->obs_dim, ds->h.obs_dim);
    double *buf = malloc((size_t)n * 2 * sizeof(double));
    if (!buf) ORL_FAIL(ORL_ERR_NOMEM, "awr: scratch for %lld steps", (long long)n);
    double *vn = buf, *target = buf + n;
    /* before the first fit V is untrained: Monte Carlo-like targets from V = 0 */
    if (vf->fitted) orl_value_predict(vf, ds->next_obs, n, vn);
    orl_status st = orl_awr_targets(ds, cfg, vf->fitted ? vn : NULL, target);
    if (st == ORL_OK) st = orl_value_fit(vf, ds->obs, target, n, steps, rng, loss);
    free(buf);
    return st;
}
