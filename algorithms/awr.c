/* Advantage-weighted regression (Peng et al. 2019) on a fixed dataset: iterations of a value
 * fit followed by a weighted maximum-likelihood policy fit, as the paper's algorithm 1 does
 * with its replay buffer standing for the dataset.
 *
 * Every policy_steps training steps (one policy update each) an iteration begins with a phase
 * ("value_fit", one unit, run by the loop before the step): value_steps regression steps of
 * V(s) onto TD(λ) returns (filters: orl_awr_fit_value, the reference implementation's critic
 * 128-64 ReLU, Adam), drawn from the learner's own rng; then every training row's weight is
 * recomputed (orl_awr_weights): w = min(exp(A / β), max_weight), A the TD(λ) advantage,
 * standardised when normalize_adv = 1. The loop puts those weights into the batches
 * (sampling.weight) and the policy step is the imitation core's weighted loss (bc.c). The
 * weight pass allocates its scratch (filters) once per iteration, not per step.
 *
 * Metrics: steps report "loss" (the weighted loss before the update), "value_loss" (the last
 * value fit's) and "weight_mean" (of the training rows). Validation reports "loss", the plain
 * imitation loss of the held-out rows, and "weighted_loss", their advantage-weighted loss: the
 * phase also computes the validation episodes' weights with the same value function
 * (advantages standardised over the validation rows), looked up by the validation batch's rows,
 * which index the validation dataset. */
#include "orl/filters.h"
#include "orl/heads.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct awr_state {
    orl_imitation *im;
    const orl_dataset *ds;  /* the training episodes */
    const orl_dataset *val; /* the validation episodes, NULL when none */
    orl_value_fn vf;
    orl_awr_config acfg;
    float *weights;     /* (N) AWR weights of the training rows */
    float *val_weights; /* (N of val) AWR weights of the validation rows, NULL without val */
    float *wval;        /* (B) weights of a validation batch */
    double value_loss;  /* last value regression loss */
    double weight_mean;
    int32_t value_steps;
    int64_t policy_steps;
} awr_state;

static const orl_hparam_def awr_hparams[] = {
    ORL_IMITATION_HPARAM_DEFS,
    {"beta", ORL_HPARAM_KIND_FLOAT, "1.0", NULL, "temperature β of exp(A/β) (AWR paper: 1.0)"},
    {"max_weight", ORL_HPARAM_KIND_FLOAT, "20", NULL, "weight clip (AWR paper: 20)"},
    {"value_steps", ORL_HPARAM_KIND_INT, "200", NULL, "value steps per iteration (AWR paper: 200)"},
    {"policy_steps", ORL_HPARAM_KIND_INT, "1000", NULL,
     "policy steps per iteration (AWR paper: 1000)"},
    {"value_lr", ORL_HPARAM_KIND_FLOAT, "1e-3", NULL,
     "value learning rate (Adam; critic 128-64 ReLU as xbpeng/awr)"},
    {"discount", ORL_HPARAM_KIND_FLOAT, "0.99", NULL, "discount (AWR paper: 0.99)"},
    {"lambda", ORL_HPARAM_KIND_FLOAT, "0.95", NULL, "TD(λ) of the targets (AWR paper: 0.95)"},
    {"normalize_adv", ORL_HPARAM_KIND_INT, "1", NULL,
     "1: standardise advantages before exp(A/β) (xbpeng/awr)"},
    {NULL, 0, NULL, NULL, NULL}};

static void awr_free(void *state) {
    awr_state *s = state;
    if (!s) return;
    orl_imitation_free(s->im);
    orl_value_free(&s->vf);
    free(s->weights);
    free(s->val_weights);
    free(s->wval);
    free(s);
}

static orl_status awr_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    const orl_dataset *ds = ctx->train;
    const orl_hparams *hp = ctx->hp;
    orl_status st = ORL_OK;
    awr_state *s = calloc(1, sizeof *s);
    if (!s) ORL_FAIL(ORL_ERR_NOMEM, "awr: out of memory");
    s->ds = ds;
    s->acfg = orl_awr_defaults();
    s->acfg.beta = orl_hparams_number(hp, "beta");
    s->acfg.max_weight = orl_hparams_number(hp, "max_weight");
    s->acfg.discount = orl_hparams_number(hp, "discount");
    s->acfg.lambda = orl_hparams_number(hp, "lambda");
    s->acfg.standardize = orl_hparams_number(hp, "normalize_adv") != 0.0;
    s->value_steps = (int32_t)orl_hparams_number(hp, "value_steps");
    s->policy_steps = (int64_t)orl_hparams_number(hp, "policy_steps");
    orl_value_config vc = orl_value_defaults();
    vc.lr = (float)orl_hparams_number(hp, "value_lr");
    if (!(s->acfg.beta > 0.0) || !(s->acfg.max_weight > 0.0) || s->value_steps < 0 ||
        s->policy_steps < 1 || !(s->acfg.discount >= 0.0 && s->acfg.discount <= 1.0) ||
        !(s->acfg.lambda >= 0.0 && s->acfg.lambda <= 1.0) || !(vc.lr > 0.0f))
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                      "awr: expected beta > 0, max_weight > 0, value_steps >= 0, policy_steps "
                      ">= 1, discount and lambda in [0, 1], value_lr > 0");

    /* the policy first: its parameters are the first draws of rng */
    ORL_TRY_GOTO(
        st, fail,
        orl_imitation_create(ds, hp, "awr", ctx->config_json, ctx->max_batch, rng, &s->im));
    ORL_TRY_GOTO(st, fail, orl_value_init(&s->vf, &vc, ds->h.obs_dim, rng));
    s->weights = malloc((size_t)ds->n_steps * sizeof(float));
    s->wval = malloc((size_t)ctx->max_batch * sizeof(float));
    if (!s->weights || !s->wval) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "awr: out of memory");
    for (int64_t i = 0; i < ds->n_steps; i++) s->weights[i] = 1.0f;
    if (ctx->val && ctx->val->n_steps > 0) {
        s->val = ctx->val;
        s->val_weights = malloc((size_t)s->val->n_steps * sizeof(float));
        if (!s->val_weights) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "awr: out of memory");
        for (int64_t i = 0; i < s->val->n_steps; i++) s->val_weights[i] = 1.0f;
    }
    s->value_loss = NAN;
    s->weight_mean = 1.0;
    *state = s;
    return ORL_OK;
fail:
    awr_free(s);
    return st;
}

static const char *const awr_step_names[] = {"loss", "value_loss", "weight_mean"};
static const char *const awr_val_names[] = {"loss", "weighted_loss"};

static orl_metric_names awr_metrics(void *state, orl_metric_kind kind) {
    (void)state;
    return kind == ORL_METRIC_KIND_STEP ? (orl_metric_names){3, awr_step_names}
                                        : (orl_metric_names){2, awr_val_names};
}

/* every training row, weighted by its AWR weight */
static void awr_sampling(void *state, orl_learner_sampling *out) {
    awr_state *s = state;
    *out = (orl_learner_sampling){NULL, 0, s->weights};
}

/* an iteration begins every policy_steps steps */
static int awr_phase_at(void *state, int64_t step, orl_phase *phase) {
    awr_state *s = state;
    if (step % s->policy_steps != 0) return 0;
    *phase = (orl_phase){"value_fit", 1};
    return 1;
}

/* the iteration's value fit, then the weights of every training (and validation) row */
static orl_status awr_phase_run(void *state, int64_t step, int64_t unit, orl_rng *rng) {
    (void)step;
    (void)unit;
    awr_state *s = state;
    if (s->value_steps > 0)
        ORL_TRY(orl_awr_fit_value(s->ds, &s->acfg, &s->vf, s->value_steps, rng, &s->value_loss));
    ORL_TRY(orl_awr_weights(s->ds, &s->acfg, &s->vf, s->weights, NULL));
    double sum = 0.0;
    for (int64_t i = 0; i < s->ds->n_steps; i++) sum += s->weights[i];
    s->weight_mean = sum / (double)s->ds->n_steps;
    if (s->val) ORL_TRY(orl_awr_weights(s->val, &s->acfg, &s->vf, s->val_weights, NULL));
    return ORL_OK;
}

static orl_status awr_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                           double *metrics) {
    (void)step;
    (void)rng;
    awr_state *s = state;
    /* batch->weight: the rows' weights (sampling) */
    metrics[1] = s->value_loss;
    metrics[2] = s->weight_mean;
    return orl_imitation_step(s->im, batch, batch->weight, &metrics[0]);
}

/* validation: the plain and the advantage-weighted imitation loss of validation rows */
static orl_status awr_validate(void *state, const orl_batch *batch, double *metrics) {
    awr_state *s = state;
    if (!s->val || batch->from != s->val)
        ORL_FAIL(ORL_ERR_INPUT, "awr: a validation batch must index the validation episodes");
    for (int32_t i = 0; i < batch->size; i++) s->wval[i] = s->val_weights[batch->rows[i]];
    ORL_TRY(orl_imitation_loss(s->im, batch, NULL, &metrics[0]));
    return orl_imitation_loss(s->im, batch, s->wval, &metrics[1]);
}

static const orl_policy *awr_policy(void *state) {
    return orl_imitation_policy(((awr_state *)state)->im);
}

static orl_status awr_export_policy(void *state, orl_policy **out) {
    return orl_learner_copy_mlp_policy(orl_imitation_policy(((awr_state *)state)->im), out);
}

static int32_t awr_buffers(void *state, orl_buffer *out, int32_t cap) {
    awr_state *s = state;
    orl_value_fn *v = &s->vf;
    int32_t n = orl_imitation_buffers(s->im, out, cap, 0);
    int64_t N = s->ds->n_steps, f = (int64_t)sizeof(float);
    n = orl_value_buffers(v, "value", out, cap, n);
    orl_buffer_put(out, cap, &n, NULL, "weights", s->weights, N * f);
    if (s->val)
        orl_buffer_put(out, cap, &n, NULL, "val_weights", s->val_weights, s->val->n_steps * f);
    orl_buffer_put(out, cap, &n, NULL, "value_loss", &s->value_loss, (int64_t)sizeof s->value_loss);
    orl_buffer_put(out, cap, &n, NULL, "weight_mean", &s->weight_mean,
                   (int64_t)sizeof s->weight_mean);
    return n;
}

const orl_learner_ops orl_learner_awr = {
    .name = "awr",
    .summary = "advantage-weighted regression: value fit and weighted likelihood, iterated",
    .hparams = awr_hparams,
    .create = awr_create,
    .metrics = awr_metrics,
    .sampling = awr_sampling,
    .phase_at = awr_phase_at,
    .phase_run = awr_phase_run,
    .step = awr_step,
    .validate = awr_validate,
    .policy = awr_policy,
    .export_policy = awr_export_policy,
    .buffers = awr_buffers,
    .free = awr_free,
};
