/* The imitation core that bc, fbc and awr share (include/orl/models.h): an MLP policy built
 * once and fitted in place by maximum likelihood (likelihood.c): the policy's own network is
 * what the fit kit's Adam updates, its normaliser is fitted on the training observations, so
 * the trained policy is saved as it is. No allocation in a step. Not here: the learners'
 * hyperparameter tables (algorithms/). */
#include "orl/models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct orl_imitation {
    orl_policy *policy; /* owns the network and the normaliser */
    orl_ml_fit *fit;    /* trains the policy's network in place */
    int32_t max_batch, obs_dim;
    float *x; /* (B, S) normalised observations */
};

/* action bounds for the policy: the header's, else (tanh heads need them finite) the observed
 * range widened by 1e-3 */
void orl_imitation_action_bounds(const orl_dataset *ds, orl_policy_head head, float *lo,
                                 float *hi) {
    int32_t A = ds->h.act_dim;
    for (int32_t j = 0; j < A; j++) {
        lo[j] = ds->h.act_low ? ds->h.act_low[j] : NAN;
        hi[j] = ds->h.act_high ? ds->h.act_high[j] : NAN;
        if (isfinite(lo[j]) && isfinite(hi[j]) && lo[j] < hi[j]) continue;
        if (head == ORL_POLICY_HEAD_GAUSSIAN) {
            lo[j] = hi[j] = NAN;
            continue;
        }
        float mn = INFINITY, mx = -INFINITY;
        for (int64_t i = 0; i < ds->n_steps; i++) {
            float a = ds->act[i * A + j];
            mn = a < mn ? a : mn;
            mx = a > mx ? a : mx;
        }
        float pad = 1e-3f * (mx - mn) + 1e-3f;
        lo[j] = mn - pad;
        hi[j] = mx + pad;
    }
}

orl_status orl_imitation_create_with(const orl_dataset *train, const orl_imitation_config *cfg,
                                     const char *algo, const char *config_json, int32_t max_batch,
                                     orl_rng *rng, orl_imitation **out) {
    *out = NULL;
    orl_status st = ORL_OK;
    orl_policy_head head = cfg->head;
    int discrete = train->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    if ((head == ORL_POLICY_HEAD_CATEGORICAL) != discrete)
        ORL_FAIL(ORL_ERR_INPUT, "head=%s does not fit the dataset's %s actions",
                 orl_policy_head_name(head), discrete ? "discrete" : "continuous");
    int32_t S = train->h.obs_dim, A = train->h.act_dim;
    int32_t hidden = cfg->hidden, layers = cfg->layers;
    if (hidden < 1 || layers < 0 || layers > ORL_MLP_MAX_LAYERS - 1)
        ORL_FAIL(ORL_ERR_INPUT, "hidden=%d layers=%d: expected hidden >= 1, layers 0..%d", hidden,
                 layers, ORL_MLP_MAX_LAYERS - 1);
    float lr = cfg->lr;
    if (!(lr > 0.0f)) ORL_FAIL(ORL_ERR_INPUT, "lr=%g: expected > 0", (double)lr);

    orl_imitation *im = calloc(1, sizeof *im);
    float *lo = calloc((size_t)A, sizeof(float)), *hi = calloc((size_t)A, sizeof(float));
    orl_normalizer norm = {0};
    if (!im || !lo || !hi) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "imitation: out of memory");
    im->max_batch = max_batch;
    im->obs_dim = S;

    /* the policy: spec, normaliser, parameters from rng */
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = algo;
    spec.info.config_json = config_json;
    spec.info.obs_dim = S;
    spec.info.act_dim = A;
    spec.info.action_kind = train->h.action_kind;
    spec.info.n_actions = discrete ? train->h.n_actions : 0;
    if (train->h.action_kind == ORL_ACTION_KIND_CONTINUOUS) {
        orl_imitation_action_bounds(train, head, lo, hi);
        spec.info.act_low = lo;
        spec.info.act_high = hi;
    }
    spec.head = head;
    spec.log_std_min = cfg->log_std_min;
    spec.log_std_max = cfg->log_std_max;
    int32_t n_out = orl_policy_head_outputs(head, A, spec.info.n_actions);
    spec.mlp.n_layers = layers + 1;
    spec.mlp.widths[0] = S;
    for (int32_t l = 1; l <= layers; l++) spec.mlp.widths[l] = hidden;
    spec.mlp.widths[layers + 1] = n_out;
    spec.mlp.activation = ORL_ACTIVATION_RELU;
    spec.mlp.init = ORL_INIT_FAN_IN_UNIFORM;
    if (cfg->normalize_obs)
        ORL_TRY_GOTO(st, fail, orl_normalizer_fit(&norm, train->obs, train->n_steps, S, 1e-3f));
    ORL_TRY_GOTO(st, fail,
                 orl_policy_mlp_create(&spec, norm.dim ? &norm : NULL, NULL, rng, &im->policy));

    /* the maximum-likelihood fit of the policy's own network, with the policy's bounds */
    const orl_policy_mlp_spec *ps = orl_policy_mlp_get_spec(im->policy);
    orl_ml_config mc;
    memset(&mc, 0, sizeof mc);
    mc.head = head;
    mc.act_dim = A;
    mc.n_actions = spec.info.n_actions;
    mc.log_std_min = ps->log_std_min;
    mc.log_std_max = ps->log_std_max;
    if (head == ORL_POLICY_HEAD_DETERMINISTIC || head == ORL_POLICY_HEAD_TANH_GAUSSIAN) {
        mc.act_low = im->policy->act_low;
        mc.act_high = im->policy->act_high;
    }
    mc.lr = lr;
    mc.max_batch = max_batch;
    mc.name = "imitation";
    ORL_TRY_GOTO(st, fail, orl_ml_fit_create_on(&mc, orl_policy_mlp_network(im->policy), &im->fit));
    im->x = malloc((size_t)max_batch * (size_t)S * sizeof(float));
    if (!im->x) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "imitation: out of memory");
    orl_normalizer_free(&norm);
    free(lo);
    free(hi);
    *out = im;
    return ORL_OK;
fail:
    orl_normalizer_free(&norm);
    free(lo);
    free(hi);
    orl_imitation_free(im);
    return st;
}

void orl_imitation_free(orl_imitation *im) {
    if (!im) return;
    orl_ml_fit_free(im->fit);
    orl_policy_free(im->policy);
    free(im->x);
    free(im);
}

void orl_imitation_normalize(const orl_imitation *im, const float *obs, int64_t n, float *y) {
    orl_normalizer_apply(orl_policy_mlp_normalizer(im->policy), obs, n, y);
}

orl_status orl_imitation_loss(orl_imitation *im, const orl_batch *batch, const float *weight,
                              double *loss) {
    orl_imitation_normalize(im, batch->obs, batch->size, im->x);
    return orl_ml_fit_loss(im->fit, im->x, batch->act, batch->act_idx, weight, batch->size, loss);
}

orl_status orl_imitation_step(orl_imitation *im, const orl_batch *batch, const float *weight,
                              double *loss) {
    orl_imitation_normalize(im, batch->obs, batch->size, im->x);
    return orl_ml_fit_step(im->fit, im->x, batch->act, batch->act_idx, weight, batch->size, loss);
}

orl_policy *orl_imitation_policy(orl_imitation *im) {
    return im->policy;
}

int32_t orl_imitation_buffers(orl_imitation *im, orl_buffer *out, int32_t cap, int32_t n) {
    return orl_fit_buffers(orl_ml_fit_kit(im->fit), "policy", out, cap, n);
}
