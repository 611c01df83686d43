/* TD3+BC (Fujimoto & Gu 2021; the defaults of CORL's td3_bc.py): TD3 with a behaviour-cloning
 * term in the actor's loss, on the shared actor-critic parts (models.h).
 *
 * Every step, on a batch of (s, a, r, s', terminal) with observations normalised by the actor's
 * normaliser (fitted on the training observations, eps 1e-3, stored in the policy):
 *   a' = clip(pi_target(s') + clip(eps * policy_noise * h, +-noise_clip * h), low, high),
 *        eps ~ N(0, 1), h the per-dimension half-range of the action bounds (CORL scales both
 *        by max_action, the half-range of a symmetric box)
 *   y  = r + discount (1 - terminal) min_k Q_target_k(s', a')   (timeouts bootstrap)
 *   critic loss = sum_k mean_b (Q_k(s, a) - y)^2              (twin critics by default)
 * and every policy_freq-th step (CORL's total_it % policy_freq == 0, i.e. 0-based steps 1, 3,
 * ...) the actor's loss (heads.h's orl_loss_td3bc_actor)
 *   -lambda mean_b Q_1(s, pi(s)) + mean_bj ((pi(s) - a) / h_j)^2,
 *   lambda = alpha / mean_b |Q_1(s, pi(s))|
 * (lambda detached; the Q term's gradient flows through Q_1 into the actor without updating the
 * critic), then Polyak updates (tau) of both critics' targets and the actor's target. The BC
 * term is in normalised action units (normalize_bc = 1, the default; 0: h = 1, raw units):
 * CORL's formula on D4RL's [-1, 1] boxes, where alpha 2.5 was tuned, and bit for bit this
 * learner there; on another box, the loss CORL would have on the box rescaled to [-1, 1]
 * (lambda is unchanged: Q does not depend on the actions' units).
 *
 * Step metrics: critic_loss, q_mean (of the critics on the batch's (s, a)), and the last actor
 * update's actor_loss, lambda and bc_loss (measured on the step's batch when no actor update
 * has happened yet). Validation: bc_mse (the actor's squared error to the logged actions) and
 * td_error (the mean squared TD error of the critics against the noise-free target). Continuous
 * actions only. The result is the actor: an "mlp" policy with the deterministic head. No
 * allocation in a step. */
#include "orl/heads.h"
#include "orl/models.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const orl_hparam_def td3bc_hparams[] = {
    {"alpha", ORL_HPARAM_KIND_FLOAT, "2.5", NULL,
     "weight of Q in the actor loss, lambda = alpha / mean|Q| (TD3+BC paper, CORL: 2.5)"},
    {"discount", ORL_HPARAM_KIND_FLOAT, "0.99", NULL, "discount gamma (CORL td3_bc: 0.99)"},
    {"tau", ORL_HPARAM_KIND_FLOAT, "0.005", NULL, "Polyak rate of the targets (CORL: 0.005)"},
    {"policy_noise", ORL_HPARAM_KIND_FLOAT, "0.2", NULL,
     "target policy noise std, times the action half-range (CORL: 0.2 * max_action)"},
    {"noise_clip", ORL_HPARAM_KIND_FLOAT, "0.5", NULL,
     "target noise clip, times the action half-range (CORL: 0.5 * max_action)"},
    {"policy_freq", ORL_HPARAM_KIND_INT, "2", NULL,
     "actor and target update every this many steps (TD3, CORL: 2)"},
    {"actor_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "actor Adam learning rate (CORL: 3e-4)"},
    {"critic_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "critic Adam learning rate (CORL: 3e-4)"},
    {"hidden", ORL_HPARAM_KIND_INT, "256", NULL, "hidden width of actor and critics (CORL: 256)"},
    {"layers", ORL_HPARAM_KIND_INT, "2", NULL, "hidden layers of actor and critics (CORL: 2)"},
    {"critics", ORL_HPARAM_KIND_INT, "2", NULL,
     "critic ensemble size, min target over them (TD3 twin critics: 2)"},
    {"normalize_obs", ORL_HPARAM_KIND_INT, "1", NULL,
     "1: observation mean/std normalisation (eps 1e-3) stored in the policy (CORL normalize)"},
    {"normalize_bc", ORL_HPARAM_KIND_INT, "1", NULL,
     "1: the BC term in normalised action units (a - centre) / half-range, where alpha 2.5 was "
     "tuned (D4RL's [-1, 1] boxes; the same bits there); 0: raw action units"},
    {NULL, 0, NULL, NULL, NULL}};

/* the last actor update's metrics (in the buffers: a resumed run reports the same values) */
enum { LAST_ACTOR_LOSS = 0, LAST_LAMBDA, LAST_BC_LOSS, LAST_MEASURED, LAST_COUNT };

typedef struct td3bc_state {
    orl_actor *actor;
    orl_critic *critic;
    double alpha, discount, tau, policy_noise, noise_clip;
    int64_t policy_freq;
    int32_t S, A, K, max_batch;
    double last[LAST_COUNT];
    const float *low, *high; /* (A) the policy's action bounds */
    float *half;             /* (A) half-ranges of the BC term's units; NULL: raw units */
    float *x;                /* (B, S) normalised observations */
    float *xn;               /* (B, S) normalised next observations */
    float *next_act;         /* (B, A) target actions */
    float *eps;              /* (B, A) target policy noise */
    float *y;                /* (B) TD targets */
    float *dq;               /* (K, B) critic loss gradient; (B) the actor's dQ_1 */
    float *pi;               /* (B, A) the actor's actions */
    float *dpi;              /* (B, A) the actor loss's gradient with respect to pi */
    float *q1;               /* (B) Q_1(s, pi(s)) */
    void *mem;
} td3bc_state;

static void td3bc_free(void *state) {
    td3bc_state *s = state;
    if (!s) return;
    orl_actor_free(s->actor);
    orl_critic_free(s->critic);
    free(s->mem);
    free(s);
}

static orl_status td3bc_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    const orl_dataset *ds = ctx->train;
    const orl_hparams *hp = ctx->hp;
    if (ds->h.action_kind != ORL_ACTION_KIND_CONTINUOUS)
        ORL_FAIL(ORL_ERR_INPUT, "td3bc: continuous actions only; the dataset's are discrete (try "
                                "cql or iql for discrete actions)");
    orl_status st = ORL_OK;
    td3bc_state *s = calloc(1, sizeof *s);
    if (!s) ORL_FAIL(ORL_ERR_NOMEM, "td3bc: out of memory");
    s->alpha = orl_hparams_number(hp, "alpha");
    s->discount = orl_hparams_number(hp, "discount");
    s->tau = orl_hparams_number(hp, "tau");
    s->policy_noise = orl_hparams_number(hp, "policy_noise");
    s->noise_clip = orl_hparams_number(hp, "noise_clip");
    s->policy_freq = (int64_t)orl_hparams_number(hp, "policy_freq");
    int32_t hidden = (int32_t)orl_hparams_number(hp, "hidden");
    int32_t layers = (int32_t)orl_hparams_number(hp, "layers");
    s->K = (int32_t)orl_hparams_number(hp, "critics");
    if (!(s->alpha >= 0.0) || !(s->discount >= 0.0 && s->discount <= 1.0) ||
        !(s->tau >= 0.0 && s->tau <= 1.0) || !(s->policy_noise >= 0.0) || !(s->noise_clip >= 0.0) ||
        s->policy_freq < 1 || s->K < 1)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                      "td3bc: expected alpha >= 0, discount and tau in [0, 1], policy_noise >= 0, "
                      "noise_clip >= 0, policy_freq >= 1, critics >= 1");
    s->S = ds->h.obs_dim;
    s->A = ds->h.act_dim;
    s->max_batch = ctx->max_batch;

    /* the actor first: its parameters are the first draws of rng (as bc's policy) */
    orl_actor_config ac = orl_actor_defaults(ORL_POLICY_HEAD_DETERMINISTIC, ctx->max_batch);
    ac.hidden = hidden;
    ac.layers = layers;
    ac.lr = (float)orl_hparams_number(hp, "actor_lr");
    ac.target = 1;
    ac.normalize_obs = orl_hparams_number(hp, "normalize_obs") != 0.0;
    ORL_TRY_GOTO(st, fail, orl_actor_create(&ac, ds, "td3bc", ctx->config_json, rng, &s->actor));
    orl_critic_config cc = orl_critic_defaults(s->S, s->A, 0, ctx->max_batch);
    cc.members = s->K;
    cc.hidden = hidden;
    cc.layers = layers;
    cc.lr = (float)orl_hparams_number(hp, "critic_lr");
    ORL_TRY_GOTO(st, fail, orl_critic_create(&cc, rng, &s->critic));
    s->low = orl_actor_policy(s->actor)->act_low;
    s->high = orl_actor_policy(s->actor)->act_high;

    size_t B = (size_t)ctx->max_batch, S = (size_t)s->S, A = (size_t)s->A, K = (size_t)s->K;
    float *p = calloc(2 * B * S + 4 * B * A + B + K * B + B + A, sizeof(float));
    if (!p) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "td3bc: out of memory");
    s->mem = p;
    s->x = p, p += B * S;
    s->xn = p, p += B * S;
    s->next_act = p, p += B * A;
    s->eps = p, p += B * A;
    s->pi = p, p += B * A;
    s->dpi = p, p += B * A;
    s->y = p, p += B;
    s->dq = p, p += K * B;
    s->q1 = p, p += B;
    if (orl_hparams_number(hp, "normalize_bc") != 0.0) {
        s->half = p;
        for (size_t j = 0; j < A; j++) {
            double h = 0.5 * ((double)s->high[j] - (double)s->low[j]);
            s->half[j] = isfinite(h) && h > 0.0 ? (float)h : 1.0f; /* unbounded: raw units */
        }
    }
    *state = s;
    return ORL_OK;
fail:
    td3bc_free(s);
    return st;
}

static const char *const td3bc_step_names[] = {"critic_loss", "actor_loss", "q_mean", "lambda",
                                               "bc_loss"};
static const char *const td3bc_val_names[] = {"bc_mse", "td_error"};

static orl_metric_names td3bc_metrics(void *state, orl_metric_kind kind) {
    (void)state;
    return kind == ORL_METRIC_KIND_STEP ? (orl_metric_names){5, td3bc_step_names}
                                        : (orl_metric_names){2, td3bc_val_names};
}

static void td3bc_sampling(void *state, orl_learner_sampling *out) {
    (void)state;
    *out = (orl_learner_sampling){NULL, 0, NULL};
}

/* y (B) = r + discount (1 - terminal) min_k Q_target_k(s', a'), a' the target actor's action
 * plus (rng not NULL) clipped noise, clipped to the bounds; s->xn must hold s' normalised */
static void td_target(td3bc_state *s, const orl_batch *batch, orl_rng *rng) {
    int32_t B = batch->size, A = s->A;
    orl_actor_target_forward(s->actor, s->xn, B, s->next_act);
    if (rng) {
        orl_normal_fill(s->eps, (int64_t)B * A, rng);
        for (int32_t b = 0; b < B; b++) {
            for (int32_t j = 0; j < A; j++) {
                size_t i = (size_t)b * (size_t)A + (size_t)j;
                double half = 0.5 * ((double)s->high[j] - (double)s->low[j]);
                double clip = s->noise_clip * half;
                double noise = (double)s->eps[i] * s->policy_noise * half;
                /* one-sided selects (max, min instructions), not branches on random draws: the
                 * same values as the two-sided clips, as clip >= 0 and low <= high */
                noise = noise < -clip ? -clip : noise;
                noise = noise > clip ? clip : noise;
                /* the bounds are floats: clipping after the rounding to float gives the same
                 * float as clipping the double (rounding is monotone) */
                float a = (float)((double)s->next_act[i] + noise), lo = s->low[j], hi = s->high[j];
                a = a < lo ? lo : a;
                a = hi < a ? hi : a;
                s->next_act[i] = a;
            }
        }
    }
    orl_critic_target(s->critic, s->xn, s->next_act, B, ORL_CRITIC_REDUCE_MIN, 0.0f, s->y);
    for (int32_t b = 0; b < B; b++)
        s->y[b] = (float)((double)batch->rew[b] +
                          s->discount * (batch->terminal[b] ? 0.0 : 1.0) * (double)s->y[b]);
}

/* the actor's loss on the batch (s->x normalised): metrics into s->last; with update, its
 * gradient through Q_1 and an Adam step */
static orl_status actor_update(td3bc_state *s, const orl_batch *batch, int update) {
    int32_t B = batch->size, A = s->A;
    orl_actor_forward(s->actor, s->x, B, NULL, s->pi, NULL);
    const float *q1 = orl_critic_forward_members(s->critic, s->x, s->pi, B, 1);
    memset(s->dpi, 0, (size_t)B * (size_t)A * sizeof(float));
    memset(s->dq, 0, (size_t)B * sizeof(float));
    double lambda, bc;
    double loss = orl_loss_td3bc_actor(update ? s->dpi : NULL, update ? s->dq : NULL, s->pi,
                                       batch->act, q1, s->half, B, A, s->alpha, &lambda, &bc);
    if (!isfinite(loss))
        ORL_FAIL(ORL_ERR_NUMERIC, "td3bc: actor loss is %g (lambda %g, bc %g)", loss, lambda, bc);
    s->last[LAST_ACTOR_LOSS] = loss;
    s->last[LAST_LAMBDA] = lambda;
    s->last[LAST_BC_LOSS] = bc;
    s->last[LAST_MEASURED] = 1.0;
    if (!update) return ORL_OK;
    /* dpi += -lambda / B dQ_1/dpi through the critic, whose own gradients stay untouched */
    orl_critic_action_grad(s->critic, s->dq, s->dpi);
    orl_actor_backward(s->actor, s->dpi, NULL);
    orl_actor_step(s->actor, -1.0f);
    return ORL_OK;
}

static orl_status td3bc_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                             double *metrics) {
    td3bc_state *s = state;
    int32_t B = batch->size, K = s->K;
    orl_actor_normalize(s->actor, batch->obs, B, s->x);
    orl_actor_normalize(s->actor, batch->next_obs, B, s->xn);

    /* the critics: squared TD error against the clipped double-Q target, summed over members */
    td_target(s, batch, rng);
    const float *q = orl_critic_forward(s->critic, s->x, batch->act, B);
    double critic_loss = 0.0, q_sum = 0.0;
    for (int32_t k = 0; k < K; k++) {
        double sum = 0.0;
        for (int32_t b = 0; b < B; b++) {
            size_t i = (size_t)k * (size_t)B + (size_t)b;
            double u = (double)q[i] - (double)s->y[b];
            sum += u * u;
            q_sum += (double)q[i];
            s->dq[i] = (float)(2.0 * u / B);
        }
        critic_loss += sum / B;
    }
    if (!isfinite(critic_loss)) ORL_FAIL(ORL_ERR_NUMERIC, "td3bc: critic loss is %g", critic_loss);
    orl_critic_backward(s->critic, s->dq);
    orl_critic_step(s->critic, -1.0f);

    /* the delayed actor update and the targets (CORL: total_it = step + 1) */
    int update = (step + 1) % s->policy_freq == 0;
    if (update || s->last[LAST_MEASURED] == 0.0) ORL_TRY(actor_update(s, batch, update));
    if (update) {
        orl_critic_polyak(s->critic, (float)s->tau);
        orl_actor_polyak(s->actor, (float)s->tau);
    }
    metrics[0] = critic_loss;
    metrics[1] = s->last[LAST_ACTOR_LOSS];
    metrics[2] = q_sum / ((double)K * B);
    metrics[3] = s->last[LAST_LAMBDA];
    metrics[4] = s->last[LAST_BC_LOSS];
    return ORL_OK;
}

/* validation: the actor's squared error to the logged actions, and the critics' mean squared
 * TD error against the noise-free target */
static orl_status td3bc_validate(void *state, const orl_batch *batch, double *metrics) {
    td3bc_state *s = state;
    int32_t B = batch->size, K = s->K, A = s->A;
    orl_actor_normalize(s->actor, batch->obs, B, s->x);
    orl_actor_normalize(s->actor, batch->next_obs, B, s->xn);
    orl_actor_forward(s->actor, s->x, B, NULL, s->pi, NULL);
    metrics[0] = orl_loss_mse(NULL, s->pi, batch->act, (int64_t)B * A, 1.0f);
    td_target(s, batch, NULL);
    const float *q = orl_critic_forward(s->critic, s->x, batch->act, B);
    double sum = 0.0;
    for (int32_t k = 0; k < K; k++)
        for (int32_t b = 0; b < B; b++) {
            double u = (double)q[(size_t)k * (size_t)B + (size_t)b] - (double)s->y[b];
            sum += u * u;
        }
    metrics[1] = sum / ((double)K * B);
    return ORL_OK;
}

static const orl_policy *td3bc_policy(void *state) {
    return orl_actor_policy(((td3bc_state *)state)->actor);
}

static orl_status td3bc_export_policy(void *state, orl_policy **out) {
    return orl_learner_copy_mlp_policy(orl_actor_policy(((td3bc_state *)state)->actor), out);
}

static int32_t td3bc_buffers(void *state, orl_buffer *out, int32_t cap) {
    td3bc_state *s = state;
    int32_t n = orl_actor_buffers(s->actor, "actor", out, cap, 0);
    n = orl_critic_buffers(s->critic, "q", out, cap, n);
    orl_buffer_put(out, cap, &n, NULL, "last_actor_metrics", s->last, (int64_t)sizeof s->last);
    return n;
}

const orl_learner_ops orl_learner_td3bc = {
    .name = "td3bc",
    .summary = "TD3+BC: twin critics, delayed deterministic actor with a BC term (continuous)",
    .hparams = td3bc_hparams,
    .create = td3bc_create,
    .metrics = td3bc_metrics,
    .sampling = td3bc_sampling,
    .step = td3bc_step,
    .validate = td3bc_validate,
    .policy = td3bc_policy,
    .export_policy = td3bc_export_policy,
    .buffers = td3bc_buffers,
    .free = td3bc_free,
};
