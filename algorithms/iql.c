/* Implicit Q-learning (Kostrikov, Nair & Levine 2021), continuous and discrete actions, with
 * the defaults of CORL's iql.py (itself from the authors' code via gwthomas/IQL-PyTorch).
 *
 * Every step, on a batch (s, a, r, s', d) with observations normalised by the policy's
 * normaliser (eps 1e-3) and r scaled when normalize_reward = 1 (then shifted by reward_shift),
 * in CORL's order:
 *   next_v = V(s')                                            (before V's update)
 *   q_t    = min_k Qtarget_k(s, a)                            (twin target critics)
 *   V      <- Adam on mean |tau - 1(u < 0)| u^2, u = q_t - V(s)       (expectile regression)
 *   Q_k    <- Adam on (1/K) sum_k mean (Q_k(s, a) - (r + gamma (1 - d) next_v))^2
 *   Qtarget <- (1 - polyak) Qtarget + polyak Q
 *   actor  <- Adam (cosine-decayed lr) on -mean w log pi(a | s), w = min(exp(beta (q_t - V(s))),
 *             max_weight) with V(s) before its update (the deterministic head: w times the
 *             squared error, mean over the action's dimensions where CORL sums them)
 * d is the terminal flag (timeouts bootstrap). The actor is the imitation core (models.h) with
 * per-row weights; the critics are the shared ensemble (models.h orl_critic, K = 2, Polyak
 * targets); V is a fit kit; all three 2x256 ReLU, Adam. Discrete actions (no reference
 * implementation has them; our choice): Q(s, .) has one output per action and every formula above
 * reads the logged action's column, so V is the expectile of the data action's target Q and the
 * actor a categorical policy fitted by the same advantage-weighted likelihood; the result is that
 * categorical policy (argmax in mean mode).
 *
 * Metrics: steps report q_loss, v_loss, actor_loss (the weighted loss before the update),
 * adv_mean (mean of q_t - V(s)) and weight_mean; validation reports "loss" (the actor's plain
 * imitation loss of the held-out rows), q_loss (the critics' TD error, as in the step) and
 * v_loss (V's expectile loss against the target critics). reward_shift adds a constant to
 * every reward after the scaling (CORL's antmaze r - 1). Not here: CORL's actor dropout
 * (Adroit). No allocation in a step. */
#include "orl/heads.h"
#include "orl/train.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define IQL_K 2 /* twin critics (CORL TwinQ) */

typedef struct iql_state {
    orl_imitation *im;  /* the actor (owns the policy and its normaliser) */
    orl_critic *critic; /* Q_1, Q_2 and their targets (twin, models.h) */
    orl_fit v;          /* V(s) */
    const orl_dataset *ds;
    int32_t S, A, O, max_batch;
    int discrete, normalize_obs;
    double expectile, beta, max_weight, discount, reward_scale, reward_shift;
    float polyak;
    orl_schedule actor_lr;
    /* scratch (B rows) */
    float *xs;     /* (B, S) normalised obs */
    float *xn;     /* (B, S) normalised next_obs */
    float *qt;     /* (B, O) min target Q */
    float *qa;     /* (B) min target Q at the logged action */
    float *next_v; /* (B) V(s') */
    float *vs;     /* (B) V(s) */
    float *dv;     /* (B) */
    float *y;      /* (B) TD targets */
    float *qd;     /* (K, B) the online critics at the logged action */
    float *dqd;    /* (K, B) */
    float *dq;     /* (K, B, O) */
    float *w;      /* (B) advantage weights */
} iql_state;

static const orl_hparam_def iql_hparams[] = {
    {"head", ORL_HPARAM_KIND_CHOICE, "auto",
     "auto|deterministic|gaussian|tanh_gaussian|categorical",
     "actor head; auto: tanh_gaussian (continuous: bounded mean as CORL's Gaussian, with "
     "log-probabilities for OPE) or categorical (discrete)"},
    {"hidden", ORL_HPARAM_KIND_INT, "256", NULL, "hidden width of actor, Q and V (CORL: 256)"},
    {"layers", ORL_HPARAM_KIND_INT, "2", NULL, "hidden layers of actor, Q and V (CORL: 2)"},
    {"lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "actor Adam learning rate (CORL actor_lr: 3e-4)"},
    {"qf_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "critics' Adam learning rate (CORL: 3e-4)"},
    {"vf_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "V's Adam learning rate (CORL: 3e-4)"},
    {"log_std_min", ORL_HPARAM_KIND_FLOAT, "-5", NULL,
     "Gaussian heads: log-std lower bound (our state-dependent head; CORL: -20 on a free "
     "log-std)"},
    {"log_std_max", ORL_HPARAM_KIND_FLOAT, "2", NULL,
     "Gaussian heads: log-std upper bound (CORL: 2)"},
    {"normalize_obs", ORL_HPARAM_KIND_INT, "1", NULL,
     "1: observation mean/std normalisation (eps 1e-3) for all networks, stored in the policy "
     "(CORL normalize=True)"},
    {"expectile", ORL_HPARAM_KIND_FLOAT, "0.7", NULL,
     "expectile tau of V's regression, in (0, 1) (CORL iql_tau, paper locomotion: 0.7)"},
    {"beta", ORL_HPARAM_KIND_FLOAT, "3.0", NULL,
     "inverse temperature of exp(beta A) (CORL, paper locomotion: 3.0)"},
    {"max_weight", ORL_HPARAM_KIND_FLOAT, "100", NULL, "weight clip (CORL EXP_ADV_MAX: 100)"},
    {"discount", ORL_HPARAM_KIND_FLOAT, "0.99", NULL, "discount gamma (CORL: 0.99)"},
    {"tau", ORL_HPARAM_KIND_FLOAT, "0.005", NULL,
     "Polyak rate of the target critics (CORL: 0.005)"},
    {"actor_schedule", ORL_HPARAM_KIND_CHOICE, "cosine", "cosine|constant",
     "actor lr schedule: cosine to 0 over schedule_steps (CORL CosineAnnealingLR) or constant"},
    {"schedule_steps", ORL_HPARAM_KIND_INT, "0", NULL,
     "steps of the cosine schedule; 0: the run's steps (CORL: max_timesteps)"},
    {"normalize_reward", ORL_HPARAM_KIND_INT, "0", NULL,
     "1: rewards times 1000 / (max - min episode return) of the training episodes (CORL "
     "modify_reward, locomotion; off in CORL's configs)"},
    {"reward_shift", ORL_HPARAM_KIND_FLOAT, "0", NULL,
     "added to every reward after normalize_reward's scaling (CORL modify_reward, antmaze: -1)"},
    {NULL, 0, NULL, NULL, NULL}};

static void iql_free(void *state) {
    iql_state *s = state;
    if (!s) return;
    orl_imitation_free(s->im);
    orl_critic_free(s->critic);
    orl_fit_free(&s->v);
    free(s->xs);
    free(s);
}

/* the run's steps from the loop's config JSON ("steps"); 0 when absent */
static int64_t config_steps(const char *config_json) {
    if (!config_json) return 0;
    json_t *j = json_loads(config_json, 0, NULL);
    int64_t steps = 0;
    json_t *v = j ? json_object_get(j, "steps") : NULL;
    if (v && json_is_integer(v)) steps = (int64_t)json_integer_value(v);
    json_decref(j);
    return steps;
}

/* 1000 / (max - min) of the episode returns of ds (CORL's modify_reward); 1 when they agree */
static double reward_scale(const orl_dataset *ds) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        double ret = 0.0;
        for (int64_t i = ds->ep_off[e]; i < ds->ep_off[e + 1]; i++) ret += (double)ds->rew[i];
        lo = ret < lo ? ret : lo;
        hi = ret > hi ? ret : hi;
    }
    return hi > lo ? 1000.0 / (hi - lo) : 1.0;
}

static orl_status iql_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    const orl_dataset *ds = ctx->train;
    const orl_hparams *hp = ctx->hp;
    orl_status st = ORL_OK;
    iql_state *s = calloc(1, sizeof *s);
    if (!s) ORL_FAIL(ORL_ERR_NOMEM, "iql: out of memory");
    s->ds = ds;
    s->discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    s->S = ds->h.obs_dim;
    s->A = s->discrete ? 0 : ds->h.act_dim;
    s->O = s->discrete ? ds->h.n_actions : 1;
    s->max_batch = ctx->max_batch;
    s->expectile = orl_hparams_number(hp, "expectile");
    s->beta = orl_hparams_number(hp, "beta");
    s->max_weight = orl_hparams_number(hp, "max_weight");
    s->discount = orl_hparams_number(hp, "discount");
    s->polyak = (float)orl_hparams_number(hp, "tau");
    s->normalize_obs = orl_hparams_number(hp, "normalize_obs") != 0.0;
    s->reward_scale = orl_hparams_number(hp, "normalize_reward") != 0.0 ? reward_scale(ds) : 1.0;
    s->reward_shift = orl_hparams_number(hp, "reward_shift");
    float qf_lr = (float)orl_hparams_number(hp, "qf_lr"),
          vf_lr = (float)orl_hparams_number(hp, "vf_lr");
    int64_t sched_steps = (int64_t)orl_hparams_number(hp, "schedule_steps");
    if (!(s->expectile > 0.0 && s->expectile < 1.0) || !(s->beta >= 0.0) ||
        !(s->max_weight > 0.0) || !isfinite(s->reward_shift) ||
        !(s->discount >= 0.0 && s->discount <= 1.0) || !(s->polyak > 0.0f && s->polyak <= 1.0f) ||
        !(qf_lr > 0.0f) || !(vf_lr > 0.0f) || sched_steps < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                      "iql: expected expectile in (0, 1), beta >= 0, max_weight > 0, a finite "
                      "reward_shift, discount in [0, 1], tau in (0, 1], qf_lr and vf_lr > 0, "
                      "schedule_steps >= 0");

    /* the actor first: its parameters are the first draws of rng */
    orl_imitation_config ic;
    memset(&ic, 0, sizeof ic);
    const char *head = orl_hparams_text(hp, "head");
    if (strcmp(head, "auto") == 0)
        ic.head = s->discrete ? ORL_POLICY_HEAD_CATEGORICAL : ORL_POLICY_HEAD_TANH_GAUSSIAN;
    else
        for (int h = 0; h < ORL_POLICY_HEAD_COUNT; h++)
            if (strcmp(head, orl_policy_head_name((orl_policy_head)h)) == 0)
                ic.head = (orl_policy_head)h;
    ic.hidden = (int32_t)orl_hparams_number(hp, "hidden");
    ic.layers = (int32_t)orl_hparams_number(hp, "layers");
    ic.lr = (float)orl_hparams_number(hp, "lr");
    ic.log_std_min = (float)orl_hparams_number(hp, "log_std_min");
    ic.log_std_max = (float)orl_hparams_number(hp, "log_std_max");
    ic.normalize_obs = s->normalize_obs;
    ORL_TRY_GOTO(
        st, fail,
        orl_imitation_create_with(ds, &ic, "iql", ctx->config_json, ctx->max_batch, rng, &s->im));
    s->actor_lr = (orl_schedule){ORL_SCHEDULE_CONSTANT, ic.lr, 0.0f, 0, 0};
    if (strcmp(orl_hparams_text(hp, "actor_schedule"), "cosine") == 0) {
        s->actor_lr.kind = ORL_SCHEDULE_COSINE;
        s->actor_lr.total = sched_steps > 0 ? sched_steps : config_steps(ctx->config_json);
        if (s->actor_lr.total < 1)
            ORL_FAIL_GOTO(
                st, fail, ORL_ERR_INPUT,
                "iql: the cosine schedule needs schedule_steps (the config has no steps)");
    }

    /* the critics, then V: the actor's hidden sizes, ReLU, fan-in init (CORL TwinQ,
     * ValueFunction) */
    orl_critic_config cc = orl_critic_defaults(s->S, s->A, s->discrete ? s->O : 0, ctx->max_batch);
    cc.members = IQL_K;
    cc.hidden = ic.hidden;
    cc.layers = ic.layers;
    cc.lr = qf_lr;
    ORL_TRY_GOTO(st, fail, orl_critic_create(&cc, rng, &s->critic));
    orl_mlp_config vc;
    memset(&vc, 0, sizeof vc);
    vc.n_layers = ic.layers + 1;
    vc.widths[0] = s->S;
    for (int32_t l = 1; l <= ic.layers; l++) vc.widths[l] = ic.hidden;
    vc.widths[ic.layers + 1] = 1;
    vc.activation = ORL_ACTIVATION_RELU;
    vc.init = ORL_INIT_FAN_IN_UNIFORM;
    orl_fit_config vfc = orl_fit_defaults(vf_lr, ctx->max_batch);
    ORL_TRY_GOTO(st, fail, orl_fit_init(&s->v, &vc, &vfc, rng));

    /* scratch: one allocation */
    size_t B = (size_t)ctx->max_batch, S = (size_t)s->S, O = (size_t)s->O, K = IQL_K;
    size_t floats = 2 * B * S + B * O + 6 * B + 2 * K * B + K * B * O;
    float *f = malloc(floats * sizeof(float));
    if (!f) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "iql: out of memory");
    s->xs = f, f += B * S;
    s->xn = f, f += B * S;
    s->qt = f, f += B * O;
    s->qa = f, f += B;
    s->next_v = f, f += B;
    s->vs = f, f += B;
    s->dv = f, f += B;
    s->y = f, f += B;
    s->w = f, f += B;
    s->qd = f, f += K * B;
    s->dqd = f, f += K * B;
    s->dq = f;
    *state = s;
    return ORL_OK;
fail:
    iql_free(s);
    return st;
}

static const char *const iql_step_names[] = {"q_loss", "v_loss", "actor_loss", "adv_mean",
                                             "weight_mean"};
static const char *const iql_val_names[] = {"loss", "q_loss", "v_loss"};

static orl_metric_names iql_metrics(void *state, orl_metric_kind kind) {
    (void)state;
    return kind == ORL_METRIC_KIND_STEP ? (orl_metric_names){5, iql_step_names}
                                        : (orl_metric_names){3, iql_val_names};
}

/* every training row, unweighted: the advantage weights are the step's own */
static void iql_sampling(void *state, orl_learner_sampling *out) {
    (void)state;
    *out = (orl_learner_sampling){NULL, 0, NULL};
}

/* normalised obs and next_obs of batch into xs, xn */
static void normalize_batch(iql_state *s, const orl_batch *b) {
    size_t n = (size_t)b->size * (size_t)s->S;
    if (s->normalize_obs) {
        orl_imitation_normalize(s->im, b->obs, b->size, s->xs);
        orl_imitation_normalize(s->im, b->next_obs, b->size, s->xn);
    } else {
        memcpy(s->xs, b->obs, n * sizeof(float));
        memcpy(s->xn, b->next_obs, n * sizeof(float));
    }
}

/* the quantities both step and validate need, before any update: next_v = V(s'),
 * qa = min_k Qtarget_k(s, a), vs = V(s), the TD targets y; returns V's expectile loss and
 * leaves its gradient in dv (V's last forward is on s) */
static double value_pass(iql_state *s, const orl_batch *b) {
    const int32_t B = b->size, O = s->O;
    memcpy(s->next_v, orl_fit_forward(&s->v, s->xn, B), (size_t)B * sizeof(float));
    orl_critic_target(s->critic, s->xs, b->act, B, ORL_CRITIC_REDUCE_MIN, 0.0f, s->qt);
    for (int32_t i = 0; i < B; i++)
        s->qa[i] = s->discrete ? s->qt[(size_t)i * (size_t)O + (size_t)b->act_idx[i]] : s->qt[i];
    memcpy(s->vs, orl_fit_forward(&s->v, s->xs, B), (size_t)B * sizeof(float));
    memset(s->dv, 0, (size_t)B * sizeof(float));
    double v_loss = orl_loss_expectile(s->dv, s->vs, s->qa, B, (float)s->expectile, 1.0f);
    for (int32_t i = 0; i < B; i++)
        s->y[i] = (float)((double)b->rew[i] * s->reward_scale + s->reward_shift +
                          (b->terminal[i] ? 0.0 : s->discount * (double)s->next_v[i]));
    return v_loss;
}

/* the online critics at the logged action, qd (K, B); returns (1/K) sum_k MSE(Q_k, y) and,
 * with grad, its gradient in dq (K, B, O) */
static double critic_pass(iql_state *s, const orl_batch *b, int grad) {
    const int32_t B = b->size, O = s->O;
    const float *q = orl_critic_forward(s->critic, s->xs, b->act, B);
    for (int k = 0; k < IQL_K; k++)
        for (int32_t i = 0; i < B; i++) {
            size_t r = (size_t)k * (size_t)B + (size_t)i;
            s->qd[r] = q[r * (size_t)O + (size_t)(s->discrete ? b->act_idx[i] : 0)];
        }
    double loss = 0.0;
    memset(s->dqd, 0, (size_t)IQL_K * (size_t)B * sizeof(float));
    for (int k = 0; k < IQL_K; k++)
        loss += orl_loss_mse(grad ? s->dqd + (size_t)k * (size_t)B : NULL,
                             s->qd + (size_t)k * (size_t)B, s->y, B, 1.0f / IQL_K) /
                IQL_K;
    if (grad) {
        memset(s->dq, 0, (size_t)IQL_K * (size_t)B * (size_t)O * sizeof(float));
        for (int k = 0; k < IQL_K; k++)
            for (int32_t i = 0; i < B; i++) {
                size_t r = (size_t)k * (size_t)B + (size_t)i;
                s->dq[r * (size_t)O + (size_t)(s->discrete ? b->act_idx[i] : 0)] = s->dqd[r];
            }
    }
    return loss;
}

double orl_iql_weights(float *w, const float *q, const float *v, int32_t B, double beta,
                       double max_weight, double *wmean) {
    double adv_sum = 0.0, w_sum = 0.0;
    for (int32_t i = 0; i < B; i++) {
        double adv = (double)q[i] - (double)v[i];
        double e = exp(beta * adv);
        double wi = e < max_weight ? e : max_weight;
        w[i] = (float)wi;
        adv_sum += adv;
        w_sum += (double)w[i];
    }
    *wmean = w_sum / (double)B;
    return adv_sum / (double)B;
}

static orl_status iql_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                           double *metrics) {
    (void)rng;
    iql_state *s = state;
    const int32_t B = batch->size;
    normalize_batch(s, batch);

    /* V: expectile regression on the target critics' minimum */
    double v_loss = value_pass(s, batch);
    if (!isfinite(v_loss)) ORL_FAIL(ORL_ERR_NUMERIC, "iql: v_loss is %g", v_loss);
    orl_fit_backward(&s->v, s->dv, NULL);
    orl_fit_step(&s->v, -1.0f);

    /* Q: TD regression on r + gamma (1 - d) V(s'), then the targets follow */
    double q_loss = critic_pass(s, batch, 1);
    if (!isfinite(q_loss)) ORL_FAIL(ORL_ERR_NUMERIC, "iql: q_loss is %g", q_loss);
    orl_critic_backward(s->critic, s->dq);
    orl_critic_step(s->critic, -1.0f);
    orl_critic_polyak(s->critic, s->polyak);

    /* the actor: advantage-weighted likelihood, lr on the schedule */
    double wmean = 0.0;
    double adv_mean = orl_iql_weights(s->w, s->qa, s->vs, B, s->beta, s->max_weight, &wmean);
    orl_imitation_set_lr(s->im, orl_schedule_lr(&s->actor_lr, step));
    metrics[0] = q_loss;
    metrics[1] = v_loss;
    metrics[3] = adv_mean;
    metrics[4] = wmean;
    orl_status st = orl_imitation_step(s->im, batch, s->w, &metrics[2]);
    if (st != ORL_OK) ORL_FAIL(st, "iql: actor_loss is %g", metrics[2]);
    return ORL_OK;
}

/* validation: the actor's plain imitation loss, the critics' TD error and V's expectile loss
 * on held-out rows (nothing updated) */
static orl_status iql_validate(void *state, const orl_batch *batch, double *metrics) {
    iql_state *s = state;
    normalize_batch(s, batch);
    metrics[2] = value_pass(s, batch);
    metrics[1] = critic_pass(s, batch, 0);
    ORL_TRY(orl_imitation_loss(s->im, batch, NULL, &metrics[0]));
    if (!isfinite(metrics[1]) || !isfinite(metrics[2]))
        ORL_FAIL(ORL_ERR_NUMERIC, "iql: validation q_loss %g, v_loss %g", metrics[1], metrics[2]);
    return ORL_OK;
}

static const orl_policy *iql_policy(void *state) {
    return orl_imitation_policy(((iql_state *)state)->im);
}

static orl_status iql_export_policy(void *state, orl_policy **out) {
    return orl_learner_copy_mlp_policy(orl_imitation_policy(((iql_state *)state)->im), out);
}

static int32_t iql_buffers(void *state, orl_buffer *out, int32_t cap) {
    iql_state *s = state;
    int32_t n = orl_imitation_buffers(s->im, out, cap, 0);
    n = orl_critic_buffers(s->critic, "q", out, cap, n);
    return orl_fit_buffers(&s->v, "v", out, cap, n);
}

const orl_learner_ops orl_learner_iql = {
    .name = "iql",
    .summary = "implicit Q-learning: expectile V, twin TD critics, advantage-weighted actor; "
               "discrete (our choice): Q(s, .) per action, V on the logged action's Q, "
               "categorical actor",
    .hparams = iql_hparams,
    .create = iql_create,
    .metrics = iql_metrics,
    .sampling = iql_sampling,
    .step = iql_step,
    .validate = iql_validate,
    .policy = iql_policy,
    .export_policy = iql_export_policy,
    .buffers = iql_buffers,
    .free = iql_free,
};
