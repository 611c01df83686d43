/* Filtered behaviour cloning: the imitation core (bc.c) trained only on the top K% of the
 * training episodes by return, K = 10 by default as CORL's "10% BC". The selection is filters'
 * orl_select_top: ranked by the undiscounted return (or discounted with discount < 1),
 * ceil(E K / 100) episodes kept, at least one, ties to the lower index. The batches are drawn
 * from the kept episodes' rows only (the sampling op). */
#include "orl/filters.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fbc_state {
    orl_imitation *im;
    int64_t *rows; /* (n_rows) rows of the kept episodes */
    int64_t n_rows;
    int64_t n_kept; /* episodes kept */
} fbc_state;

static const orl_hparam_def fbc_hparams[] = {
    ORL_IMITATION_HPARAM_DEFS,
    {"top_percent", ORL_HPARAM_KIND_FLOAT, "10", NULL,
     "percentage of episodes kept, by return (CORL 10% BC: frac 0.1)"},
    {"discount", ORL_HPARAM_KIND_FLOAT, "1", NULL,
     "discount of the ranking return (1: undiscounted, as CORL)"},
    {NULL, 0, NULL, NULL, NULL}};

static void fbc_free(void *state) {
    fbc_state *s = state;
    if (!s) return;
    orl_imitation_free(s->im);
    free(s->rows);
    free(s);
}

static orl_status fbc_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    const orl_dataset *ds = ctx->train;
    double percent = orl_hparams_number(ctx->hp, "top_percent");
    double gamma = orl_hparams_number(ctx->hp, "discount");
    if (!(percent > 0.0 && percent <= 100.0))
        ORL_FAIL(ORL_ERR_INPUT, "top_percent=%g: expected (0, 100]", percent);
    if (!(gamma > 0.0 && gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "discount=%g: expected (0, 1]", gamma);
    orl_status st = ORL_OK;
    fbc_state *s = calloc(1, sizeof *s);
    uint8_t *keep = calloc((size_t)ds->n_episodes, 1);
    if (!s || !keep) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "fbc: out of memory");
    ORL_TRY_GOTO(st, fail, orl_select_top(ds, percent, gamma, keep));

    /* the kept episodes' rows, in episode order */
    int64_t n = 0;
    orl_keep_count(ds, keep, &s->n_kept, &n);
    s->rows = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    if (!s->rows) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "fbc: out of memory");
    for (int64_t e = 0; e < ds->n_episodes; e++)
        if (keep[e])
            for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++) s->rows[s->n_rows++] = t;

    ORL_TRY_GOTO(
        st, fail,
        orl_imitation_create(ds, ctx->hp, "fbc", ctx->config_json, ctx->max_batch, rng, &s->im));
    free(keep);
    *state = s;
    return ORL_OK;
fail:
    free(keep);
    fbc_free(s);
    return st;
}

static const char *const fbc_metric_names[] = {"loss"};

/* step and validation: the imitation loss ("loss") */
static orl_metric_names fbc_metrics(void *state, orl_metric_kind kind) {
    (void)state;
    (void)kind;
    return (orl_metric_names){1, fbc_metric_names};
}

static void fbc_sampling(void *state, orl_learner_sampling *out) {
    fbc_state *s = state;
    *out = (orl_learner_sampling){s->rows, s->n_rows, NULL};
}

static orl_status fbc_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                           double *metrics) {
    (void)step;
    (void)rng;
    fbc_state *s = state;
    return orl_imitation_step(s->im, batch, NULL, &metrics[0]);
}

/* validation: the loss on every held-out row (not only the top episodes'), what the policy
 * would score on the behaviour data */
static orl_status fbc_validate(void *state, const orl_batch *batch, double *metrics) {
    fbc_state *s = state;
    return orl_imitation_loss(s->im, batch, NULL, &metrics[0]);
}

static const orl_policy *fbc_policy(void *state) {
    return orl_imitation_policy(((fbc_state *)state)->im);
}

static orl_status fbc_export_policy(void *state, orl_policy **out) {
    return orl_learner_copy_mlp_policy(orl_imitation_policy(((fbc_state *)state)->im), out);
}

static int32_t fbc_buffers(void *state, orl_buffer *out, int32_t cap) {
    return orl_imitation_buffers(((fbc_state *)state)->im, out, cap, 0);
}

const orl_learner_ops orl_learner_fbc = {
    .name = "fbc",
    .summary = "filtered behaviour cloning: BC on the top K% of episodes by return",
    .hparams = fbc_hparams,
    .create = fbc_create,
    .metrics = fbc_metrics,
    .sampling = fbc_sampling,
    .step = fbc_step,
    .validate = fbc_validate,
    .policy = fbc_policy,
    .export_policy = fbc_export_policy,
    .buffers = fbc_buffers,
    .free = fbc_free,
};
