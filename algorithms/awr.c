/* Advantage-weighted regression (Peng et al. 2019) on a fixed dataset: iterations of a value
 * fit followed by a weighted maximum-likelihood policy fit, as the paper's algorithm 1 does
 * with its replay buffer standing for the dataset.
 *
 * Every policy_steps training steps (one policy update each) an iteration begins with
 * value_steps regression steps of V(s) onto TD(λ) returns (filters: orl_awr_fit_value, the
 * reference implementation's critic 128-64 ReLU, Adam), drawn from the learner's own rng;
 * then every training row's weight is recomputed (orl_awr_weights): w = min(exp(A / β),
 * max_weight), A the TD(λ) advantage, standardised when normalize_adv = 1. The policy step is
 * the imitation core's weighted loss with those weights (bc.c). The weight pass allocates its
 * scratch (filters) once per iteration, not per step. */
#include "orl/filters.h"
#include "orl/heads.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct awr_state {
    orl_imitation *im;
    const orl_dataset *ds;
    orl_value_fn vf;
    orl_awr_config acfg;
    float *weights;    /* (N) AWR weights of the training rows */
    float *wbatch;     /* (B) */
    double value_loss; /* last value regression loss */
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
    free(s->wbatch);
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
    s->wbatch = malloc((size_t)ctx->max_batch * sizeof(float));
    if (!s->weights || !s->wbatch) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "awr: out of memory");
    for (int64_t i = 0; i < ds->n_steps; i++) s->weights[i] = 1.0f;
    s->value_loss = NAN;
    s->weight_mean = 1.0;
    *state = s;
    return ORL_OK;
fail:
    awr_free(s);
    return st;
}

static void awr_sample_rows(void *state, const int64_t **rows, int64_t *n) {
    (void)state;
    *rows = NULL;
    *n = 0;
}

static orl_status awr_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                           orl_train_losses *losses) {
    awr_state *s = state;
    if (step % s->policy_steps == 0) {
        /* a new iteration: value fit, then the weights of every row */
        if (s->value_steps > 0)
            ORL_TRY(
                orl_awr_fit_value(s->ds, &s->acfg, &s->vf, s->value_steps, rng, &s->value_loss));
        ORL_TRY(orl_awr_weights(s->ds, &s->acfg, &s->vf, s->weights, NULL));
        double sum = 0.0;
        for (int64_t i = 0; i < s->ds->n_steps; i++) sum += s->weights[i];
        s->weight_mean = sum / (double)s->ds->n_steps;
    }
    for (int32_t i = 0; i < batch->size; i++) s->wbatch[i] = s->weights[batch->rows[i]];
    losses->n = 3;
    losses->names[0] = "loss";
    losses->names[1] = "value_loss";
    losses->names[2] = "weight_mean";
    losses->values[1] = s->value_loss;
    losses->values[2] = s->weight_mean;
    return orl_imitation_step(s->im, batch, s->wbatch, &losses->values[0]);
}

/* validation: the unweighted imitation loss */
static orl_status awr_eval_loss(void *state, const orl_batch *batch, double *loss) {
    awr_state *s = state;
    return orl_imitation_loss(s->im, batch, NULL, loss);
}

static orl_policy *awr_policy(void *state) {
    return orl_imitation_policy(((awr_state *)state)->im);
}

static int32_t awr_buffers(void *state, orl_buffer *out, int32_t cap) {
    awr_state *s = state;
    orl_value_fn *v = &s->vf;
    int32_t n = orl_imitation_buffers(s->im, out, cap, 0);
    int64_t N = s->ds->n_steps, f = (int64_t)sizeof(float);
    n = orl_value_buffers(v, "value", out, cap, n);
    orl_buffer_put(out, cap, &n, NULL, "weights", s->weights, N * f);
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
    .sample_rows = awr_sample_rows,
    .step = awr_step,
    .eval_loss = awr_eval_loss,
    .policy = awr_policy,
    .buffers = awr_buffers,
    .free = awr_free,
};
