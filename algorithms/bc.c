/* Behaviour cloning, and the imitation core that bc, fbc and awr share: (weighted) maximum
 * likelihood of an MLP policy (orl/train.h). The policy object is built once and trained in
 * place: its network's parameter buffer is what Adam updates, its normaliser is fitted on the
 * training observations, so the trained policy is saved as it is. No allocation in a step. */
#include "orl/heads.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct orl_imitation {
    orl_policy *policy; /* owns the network and the normaliser */
    orl_mlp *net;       /* view into policy */
    orl_policy_head head;
    orl_gaussian_head gauss; /* Gaussian heads; lo/hi set for the tanh-squashed one */
    orl_mlp_work work;
    orl_adam adam;
    int32_t max_batch, obs_dim, act_dim, n_out;
    float *x;     /* (B, S) normalised observations */
    float *dout;  /* (B, O) gradient of the network output */
    float *act;   /* (B, A) deterministic head's actions */
    float *dact;  /* (B, A) */
    float *logp;  /* (B) */
    float *dlogp; /* (B) */
    float *grads; /* (P) */
};

static orl_status parse_head(const orl_hparams *hp, const orl_dataset *train,
                             orl_policy_head *head) {
    const char *name = orl_hparams_text(hp, "head");
    int discrete = train->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    if (strcmp(name, "auto") == 0) {
        *head = discrete ? ORL_POLICY_HEAD_CATEGORICAL : ORL_POLICY_HEAD_DETERMINISTIC;
        return ORL_OK;
    }
    for (int h = 0; h < ORL_POLICY_HEAD_COUNT; h++)
        if (strcmp(name, orl_policy_head_name((orl_policy_head)h)) == 0) *head = (orl_policy_head)h;
    if ((*head == ORL_POLICY_HEAD_CATEGORICAL) != discrete)
        ORL_FAIL(ORL_ERR_INPUT, "head=%s does not fit the dataset's %s actions", name,
                 discrete ? "discrete" : "continuous");
    return ORL_OK;
}

/* action bounds for the policy: the header's, else (tanh heads need them finite) the observed
 * range widened by 1e-3 */
static void action_bounds(const orl_dataset *ds, orl_policy_head head, float *lo, float *hi) {
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

orl_status orl_imitation_create(const orl_dataset *train, const orl_hparams *hp, const char *algo,
                                const char *config_json, int32_t max_batch, orl_rng *rng,
                                orl_imitation **out) {
    *out = NULL;
    orl_status st = ORL_OK;
    orl_policy_head head = ORL_POLICY_HEAD_DETERMINISTIC;
    ORL_TRY(parse_head(hp, train, &head));
    int32_t S = train->h.obs_dim, A = train->h.act_dim;
    int32_t hidden = (int32_t)orl_hparams_number(hp, "hidden");
    int32_t layers = (int32_t)orl_hparams_number(hp, "layers");
    if (hidden < 1 || layers < 0 || layers > ORL_MLP_MAX_LAYERS - 1)
        ORL_FAIL(ORL_ERR_INPUT, "hidden=%d layers=%d: expected hidden >= 1, layers 0..%d", hidden,
                 layers, ORL_MLP_MAX_LAYERS - 1);
    float lr = (float)orl_hparams_number(hp, "lr");
    if (!(lr > 0.0f)) ORL_FAIL(ORL_ERR_INPUT, "lr=%g: expected > 0", (double)lr);

    orl_imitation *im = calloc(1, sizeof *im);
    float *lo = calloc((size_t)A, sizeof(float)), *hi = calloc((size_t)A, sizeof(float));
    orl_normalizer norm = {0};
    if (!im || !lo || !hi) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "imitation: out of memory");
    im->head = head;
    im->max_batch = max_batch;
    im->obs_dim = S;
    im->act_dim = A;

    /* the policy: spec, normaliser, parameters from rng */
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = algo;
    spec.info.config_json = config_json;
    spec.info.obs_dim = S;
    spec.info.act_dim = A;
    spec.info.action_kind = train->h.action_kind;
    spec.info.n_actions = train->h.action_kind == ORL_ACTION_KIND_DISCRETE ? train->h.n_actions : 0;
    if (train->h.action_kind == ORL_ACTION_KIND_CONTINUOUS) {
        action_bounds(train, head, lo, hi);
        spec.info.act_low = lo;
        spec.info.act_high = hi;
    }
    spec.head = head;
    spec.log_std_min = (float)orl_hparams_number(hp, "log_std_min");
    spec.log_std_max = (float)orl_hparams_number(hp, "log_std_max");
    im->n_out = orl_policy_head_outputs(head, A, spec.info.n_actions);
    spec.mlp.n_layers = layers + 1;
    spec.mlp.widths[0] = S;
    for (int32_t l = 1; l <= layers; l++) spec.mlp.widths[l] = hidden;
    spec.mlp.widths[layers + 1] = im->n_out;
    spec.mlp.activation = ORL_ACTIVATION_RELU;
    spec.mlp.init = ORL_INIT_FAN_IN_UNIFORM;
    if (orl_hparams_number(hp, "normalize_obs") != 0.0)
        ORL_TRY_GOTO(st, fail, orl_normalizer_fit(&norm, train->obs, train->n_steps, S, 1e-3f));
    ORL_TRY_GOTO(st, fail,
                 orl_policy_mlp_create(&spec, norm.dim ? &norm : NULL, NULL, rng, &im->policy));
    im->net = orl_policy_mlp_network(im->policy);

    const orl_policy_mlp_spec *ps = orl_policy_mlp_get_spec(im->policy);
    im->gauss.act_dim = A;
    im->gauss.log_std_min = ps->log_std_min;
    im->gauss.log_std_max = ps->log_std_max;
    if (head == ORL_POLICY_HEAD_TANH_GAUSSIAN) {
        im->gauss.lo = im->policy->act_low;
        im->gauss.hi = im->policy->act_high;
    }

    orl_adam_config acfg = orl_adam_defaults();
    acfg.lr = lr;
    ORL_TRY_GOTO(st, fail, orl_adam_init(&im->adam, &acfg, im->net->n_params));
    ORL_TRY_GOTO(st, fail, orl_mlp_work_init(&im->work, &im->net->cfg, max_batch));
    size_t B = (size_t)max_batch;
    im->x = malloc(B * (size_t)S * sizeof(float));
    im->dout = malloc(B * (size_t)im->n_out * sizeof(float));
    im->act = malloc(B * (size_t)A * sizeof(float));
    im->dact = malloc(B * (size_t)A * sizeof(float));
    im->logp = malloc(B * sizeof(float));
    im->dlogp = malloc(B * sizeof(float));
    im->grads = malloc((size_t)im->net->n_params * sizeof(float));
    if (!im->x || !im->dout || !im->act || !im->dact || !im->logp || !im->dlogp || !im->grads)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "imitation: out of memory");
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
    orl_policy_free(im->policy);
    orl_mlp_work_free(&im->work);
    orl_adam_free(&im->adam);
    free(im->x);
    free(im->dout);
    free(im->act);
    free(im->dact);
    free(im->logp);
    free(im->dlogp);
    free(im->grads);
    free(im);
}

void orl_imitation_normalize(const orl_imitation *im, const float *obs, int64_t n, float *y) {
    orl_normalizer_apply(orl_policy_mlp_normalizer(im->policy), obs, n, y);
}

/* forward and loss; with_grad also fills dout (B, O) with d loss / d output */
static double forward_loss(orl_imitation *im, const orl_batch *b, const float *weight,
                           int with_grad) {
    int32_t B = b->size, A = im->act_dim;
    orl_imitation_normalize(im, b->obs, B, im->x);
    orl_mlp_forward(im->net, &im->work, im->x, B, NULL);
    const float *y = im->work.out[im->net->cfg.n_layers - 1];
    if (with_grad) memset(im->dout, 0, (size_t)B * (size_t)im->n_out * sizeof(float));
    double loss = 0.0;
    switch (im->head) {
    case ORL_POLICY_HEAD_DETERMINISTIC: {
        /* mean over the batch of w_b times the mean squared error over A */
        orl_tanh_head_forward(im->act, y, im->policy->act_low, im->policy->act_high, B, A);
        double inv = 1.0 / ((double)B * (double)A);
        for (int32_t i = 0; i < B; i++) {
            double w = weight ? (double)weight[i] : 1.0;
            for (int32_t j = 0; j < A; j++) {
                size_t k = (size_t)i * (size_t)A + (size_t)j;
                double d = (double)im->act[k] - (double)b->act[k];
                loss += w * d * d * inv;
                im->dact[k] = (float)(2.0 * w * d * inv);
            }
        }
        if (with_grad)
            orl_tanh_head_backward(im->dout, im->dact, y, im->policy->act_low, im->policy->act_high,
                                   B, A);
        break;
    }
    case ORL_POLICY_HEAD_GAUSSIAN:
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
    case ORL_POLICY_HEAD_CATEGORICAL:
        if (im->head == ORL_POLICY_HEAD_GAUSSIAN)
            orl_gaussian_log_prob_forward(&im->gauss, im->logp, y, b->act, B);
        else if (im->head == ORL_POLICY_HEAD_TANH_GAUSSIAN)
            orl_tanh_gaussian_log_prob_forward(&im->gauss, im->logp, y, b->act, B);
        else
            orl_categorical_log_prob_forward(im->logp, y, b->act_idx, B, im->n_out);
        memset(im->dlogp, 0, (size_t)B * sizeof(float));
        loss = orl_loss_weighted_nll(im->dlogp, im->logp, weight, B, 1.0f);
        if (!with_grad) break;
        if (im->head == ORL_POLICY_HEAD_GAUSSIAN)
            orl_gaussian_log_prob_backward(&im->gauss, im->dout, im->dlogp, y, b->act, B);
        else if (im->head == ORL_POLICY_HEAD_TANH_GAUSSIAN)
            orl_tanh_gaussian_log_prob_backward(&im->gauss, im->dout, im->dlogp, y, b->act, B);
        else
            orl_categorical_log_prob_backward(im->dout, im->dlogp, y, b->act_idx, B, im->n_out);
        break;
    default:
        break;
    }
    return loss;
}

orl_status orl_imitation_loss(orl_imitation *im, const orl_batch *batch, const float *weight,
                              double *loss) {
    *loss = forward_loss(im, batch, weight, 0);
    if (!isfinite(*loss)) ORL_FAIL(ORL_ERR_NUMERIC, "imitation loss is %g", *loss);
    return ORL_OK;
}

orl_status orl_imitation_step(orl_imitation *im, const orl_batch *batch, const float *weight,
                              double *loss) {
    *loss = forward_loss(im, batch, weight, 1);
    if (!isfinite(*loss)) ORL_FAIL(ORL_ERR_NUMERIC, "imitation loss is %g", *loss);
    memset(im->grads, 0, (size_t)im->net->n_params * sizeof(float));
    orl_mlp_backward(im->net, &im->work, im->dout, im->grads, NULL);
    orl_adam_step(&im->adam, im->net->params, im->grads, -1.0f);
    return ORL_OK;
}

orl_policy *orl_imitation_policy(orl_imitation *im) {
    return im->policy;
}

int32_t orl_imitation_buffers(orl_imitation *im, orl_buffer *out, int32_t cap, int32_t n) {
    int64_t P = im->net->n_params, f = (int64_t)sizeof(float);
    orl_buffer_put(out, cap, &n, "policy", "params", im->net->params, P * f);
    orl_buffer_put(out, cap, &n, "policy", "adam_m", im->adam.m, P * f);
    orl_buffer_put(out, cap, &n, "policy", "adam_v", im->adam.v, P * f);
    orl_buffer_put(out, cap, &n, "policy", "adam_t", &im->adam.t, (int64_t)sizeof im->adam.t);
    return n;
}

/* ---- bc: the imitation core on every training row ----
 * step metric "loss" (the imitation loss of the batch before the update); validation metric
 * "loss" (the same loss on validation rows); no phases; the result is a copy of the MLP policy. */

static const orl_hparam_def bc_hparams[] = {ORL_IMITATION_HPARAM_DEFS, {NULL, 0, NULL, NULL, NULL}};

static const char *const bc_metric_names[] = {"loss"};

static orl_status bc_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    orl_imitation *im = NULL;
    ORL_TRY(orl_imitation_create(ctx->train, ctx->hp, "bc", ctx->config_json, ctx->max_batch, rng,
                                 &im));
    *state = im;
    return ORL_OK;
}

static orl_metric_names bc_metrics(void *state, orl_metric_kind kind) {
    (void)state;
    (void)kind;
    return (orl_metric_names){1, bc_metric_names};
}

static void bc_sampling(void *state, orl_learner_sampling *out) {
    (void)state;
    *out = (orl_learner_sampling){NULL, 0, NULL};
}

static orl_status bc_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                          double *metrics) {
    (void)step;
    (void)rng;
    return orl_imitation_step(state, batch, NULL, &metrics[0]);
}

static orl_status bc_validate(void *state, const orl_batch *batch, double *metrics) {
    return orl_imitation_loss(state, batch, NULL, &metrics[0]);
}

static const orl_policy *bc_policy(void *state) {
    return orl_imitation_policy(state);
}

static orl_status bc_export_policy(void *state, orl_policy **out) {
    return orl_learner_copy_mlp_policy(orl_imitation_policy(state), out);
}

static int32_t bc_buffers(void *state, orl_buffer *out, int32_t cap) {
    return orl_imitation_buffers(state, out, cap, 0);
}

static void bc_free(void *state) {
    orl_imitation_free(state);
}

const orl_learner_ops orl_learner_bc = {
    .name = "bc",
    .summary = "behaviour cloning (MSE for the deterministic head, NLL otherwise)",
    .hparams = bc_hparams,
    .create = bc_create,
    .metrics = bc_metrics,
    .sampling = bc_sampling,
    .step = bc_step,
    .validate = bc_validate,
    .policy = bc_policy,
    .export_policy = bc_export_policy,
    .buffers = bc_buffers,
    .free = bc_free,
};
