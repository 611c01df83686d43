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

/* ---- bc: the imitation core on every training row ---- */

static const orl_hparam_def bc_hparams[] = {ORL_IMITATION_HPARAM_DEFS, {NULL, 0, NULL, NULL, NULL}};

static orl_status bc_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    orl_imitation *im = NULL;
    ORL_TRY(orl_imitation_create(ctx->train, ctx->hp, "bc", ctx->config_json, ctx->max_batch, rng,
                                 &im));
    *state = im;
    return ORL_OK;
}

static void bc_sample_rows(void *state, const int64_t **rows, int64_t *n) {
    (void)state;
    *rows = NULL;
    *n = 0;
}

static orl_status bc_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                          orl_train_losses *losses) {
    (void)step;
    (void)rng;
    losses->n = 1;
    losses->names[0] = "loss";
    return orl_imitation_step(state, batch, NULL, &losses->values[0]);
}

static orl_status bc_eval_loss(void *state, const orl_batch *batch, double *loss) {
    return orl_imitation_loss(state, batch, NULL, loss);
}

static orl_policy *bc_policy(void *state) {
    return orl_imitation_policy(state);
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
    .sample_rows = bc_sample_rows,
    .step = bc_step,
    .eval_loss = bc_eval_loss,
    .policy = bc_policy,
    .buffers = bc_buffers,
    .free = bc_free,
};
