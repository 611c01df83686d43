/* Behaviour cloning: the imitation core (models.h) on every training row, and
 * orl_imitation_create, which reads the core's entries of a learner's hyperparameter table
 * (train.h) for bc, fbc and awr. */
#include "orl/models.h"
#include "orl/train.h"

#include <string.h>

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
    return ORL_OK;
}

orl_status orl_imitation_create(const orl_dataset *train, const orl_hparams *hp, const char *algo,
                                const char *config_json, int32_t max_batch, orl_rng *rng,
                                orl_imitation **out) {
    orl_imitation_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.head = ORL_POLICY_HEAD_DETERMINISTIC;
    ORL_TRY(parse_head(hp, train, &cfg.head));
    cfg.hidden = (int32_t)orl_hparams_number(hp, "hidden");
    cfg.layers = (int32_t)orl_hparams_number(hp, "layers");
    cfg.lr = (float)orl_hparams_number(hp, "lr");
    cfg.log_std_min = (float)orl_hparams_number(hp, "log_std_min");
    cfg.log_std_max = (float)orl_hparams_number(hp, "log_std_max");
    cfg.normalize_obs = orl_hparams_number(hp, "normalize_obs") != 0.0;
    return orl_imitation_create_with(train, &cfg, algo, config_json, max_batch, rng, out);
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
