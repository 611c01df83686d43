/* Conservative Q-learning (Kumar et al. 2020): a critic trained by TD learning plus a penalty
 * that pushes Q down on actions the data did not take and up on the data's own, so the learned
 * values of out-of-data actions are pessimistic. One learner, two forms, chosen by the dataset:
 *
 * discrete (d3rlpy DiscreteCQL): Double DQN with the Huber loss plus
 *     alpha * mean_b (logsumexp_a Q(s_b, a) - Q(s_b, a_b)),
 *   the target r + gamma (1 - terminal) Q_target(s', argmax_a Q(s', a)), hard target copies every
 *   target_update steps (or Polyak with tau > 0); the result is an argmax-Q policy (policy.h).
 *
 * continuous (CORL cql.py): SAC (tanh-Gaussian actor, automatic entropy tuning, twin critics,
 *   min-of-targets TD target, Polyak tau) plus, per critic, the importance-sampled penalty
 *     cql_alpha * mean_b (logsumexp_j (Q(s_b, a_j) - log mu(a_j)) - Q(s_b, a_b))
 *   over n uniform actions, n from pi(.|s) and n from pi(.|s') (all valued at s), mu their
 *   sampling densities (nn/heads.c: orl_cql_sampled_penalty). Optional Lagrange form (alpha'
 *   trained so the penalty meets target_action_gap) and BC warm-up steps. Every critic input of
 *   a step, B (1 + 3 n) rows, goes through the critic in one call. The result is the actor's
 *   MLP policy.
 *
 * The shared parts are models.h's orl_critic, orl_actor and orl_temperature, and SAC's soft TD
 * target and actor loss (train.h, algorithms/sac.c); the penalties are nn/heads.c's. Nothing is
 * allocated in step or validate. */
#include "orl/heads.h"
#include "orl/models.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CQL_ALIGN 64

/* -1 in the table means "the reference default of the form" (discrete / continuous) */
static const orl_hparam_def cql_hparams[] = {
    {"discount", ORL_HPARAM_KIND_FLOAT, "0.99", NULL, "gamma (d3rlpy, CORL: 0.99)"},
    {"cql_alpha", ORL_HPARAM_KIND_FLOAT, "-1", NULL,
     "conservative weight; -1: 1.0 discrete (d3rlpy DiscreteCQL alpha), 10 continuous (CORL "
     "cql.py; its D4RL configs use 5 or 10)"},
    {"critic_lr", ORL_HPARAM_KIND_FLOAT, "-1", NULL,
     "Q learning rate (Adam); -1: 6.25e-5 discrete (d3rlpy), 3e-4 continuous (CORL qf_lr)"},
    {"hidden", ORL_HPARAM_KIND_INT, "256", NULL, "Q-network hidden width (d3rlpy, CORL: 256)"},
    {"layers", ORL_HPARAM_KIND_INT, "-1", NULL,
     "Q-network hidden layers; -1: 2 discrete (d3rlpy encoder), 3 continuous (CORL)"},
    {"critics", ORL_HPARAM_KIND_INT, "-1", NULL,
     "Q-networks; -1: 1 discrete (d3rlpy n_critics), 2 continuous (CORL twin)"},
    {"init", ORL_HPARAM_KIND_CHOICE, "auto", "auto|fan_in|orthogonal",
     "weights; auto: fan_in discrete (PyTorch default, d3rlpy), orthogonal continuous (CORL)"},
    {"normalize_obs", ORL_HPARAM_KIND_INT, "1", NULL,
     "1: observation mean/std normalisation (eps 1e-3) stored in the policy"},
    {"tau", ORL_HPARAM_KIND_FLOAT, "-1", NULL,
     "Polyak rate of the targets; -1: 0 discrete (hard copies, d3rlpy), 0.005 continuous (CORL)"},
    {"target_update", ORL_HPARAM_KIND_INT, "8000", NULL,
     "discrete with tau 0: hard target copy every so many steps (d3rlpy: 8000)"},
    {"huber_delta", ORL_HPARAM_KIND_FLOAT, "1.0", NULL,
     "discrete: Huber loss threshold (d3rlpy: 1.0)"},
    {"policy_mode", ORL_HPARAM_KIND_CHOICE, "greedy", "greedy|epsilon|softmax",
     "discrete: how the saved argmax-Q policy samples and scores actions"},
    {"policy_epsilon", ORL_HPARAM_KIND_FLOAT, "0.0", NULL, "discrete, epsilon mode: epsilon"},
    {"policy_temperature", ORL_HPARAM_KIND_FLOAT, "1.0", NULL,
     "discrete, softmax mode: temperature"},
    {"policy_lr", ORL_HPARAM_KIND_FLOAT, "3e-5", NULL, "continuous: actor lr (CORL: 3e-5)"},
    {"actor_hidden", ORL_HPARAM_KIND_INT, "256", NULL, "continuous: actor width (CORL: 256)"},
    {"actor_layers", ORL_HPARAM_KIND_INT, "3", NULL, "continuous: actor hidden layers (CORL: 3)"},
    {"n_samples", ORL_HPARAM_KIND_INT, "10", NULL,
     "continuous: sampled actions per state and source (CORL cql_n_actions: 10)"},
    {"cql_temp", ORL_HPARAM_KIND_FLOAT, "1.0", NULL, "continuous: logsumexp temperature (CORL)"},
    {"lagrange", ORL_HPARAM_KIND_INT, "0", NULL,
     "continuous: 1 trains alpha' so the penalty meets target_action_gap (CORL: 0)"},
    {"target_action_gap", ORL_HPARAM_KIND_FLOAT, "-1", NULL,
     "continuous, Lagrange: the penalty's target (CORL: -1; the paper uses 5 or 10)"},
    {"lagrange_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL,
     "continuous, Lagrange: alpha' learning rate (CORL: qf_lr), log alpha' starts at 1"},
    {"bc_steps", ORL_HPARAM_KIND_INT, "0", NULL,
     "continuous: first steps with actor loss alpha logp - logp(a_data) (CORL cql.py: 0)"},
    {"auto_alpha", ORL_HPARAM_KIND_INT, "1", NULL,
     "continuous: 1 tunes the entropy alpha to target entropy -A (CORL: on)"},
    {"alpha", ORL_HPARAM_KIND_FLOAT, "1.0", NULL,
     "continuous: the entropy alpha (initial when tuned; CORL log alpha 0)"},
    {"backup_entropy", ORL_HPARAM_KIND_INT, "0", NULL,
     "continuous: 1 subtracts alpha logp' in the TD target (CORL: 0)"},
    {"log_std_min", ORL_HPARAM_KIND_FLOAT, "-5", NULL, "continuous: actor log-std lower bound"},
    {"log_std_max", ORL_HPARAM_KIND_FLOAT, "2", NULL, "continuous: actor log-std upper bound"},
    {NULL, 0, NULL, NULL, NULL}};

typedef struct cql_state {
    const orl_dataset *train, *val;
    const char *config_json;
    int discrete;
    int32_t S, A, n; /* observation size, action size (continuous), actions (discrete) */
    int32_t B, K;    /* batch, critics */
    int32_t ns, M;   /* continuous: samples per source, M = 3 ns per state */

    /* hyperparameters */
    double gamma;
    float cql_alpha, tau, huber_delta, cql_temp, gap, alpha_fixed, log_uniform;
    int64_t target_update, bc_steps;
    int lagrange, auto_alpha, backup_entropy;
    orl_argmax_q_mode policy_mode;
    float policy_epsilon, policy_temperature;

    orl_critic *critic;
    /* discrete */
    orl_normalizer norm; /* the observation normaliser (identity when off) */
    orl_policy *qpol;    /* the argmax-Q policy lent for evaluation (parameters copied in) */
    /* continuous */
    orl_actor *actor;
    orl_temperature ent;   /* the entropy alpha */
    orl_temperature prime; /* the Lagrange multiplier alpha' */
    const float *lo, *hi;  /* (A) the actor's action bounds */

    /* scratch: one allocation */
    float *x, *xn;       /* (B, S) normalised obs, next obs */
    float *big_obs;      /* (B (1 + M), S) critic rows: data, then M per state (state-major) */
    float *big_act;      /* (B (1 + M), A) */
    float *actor_obs;    /* (B (1 + 2 ns), S) s', s repeated ns, s' repeated ns */
    float *actor_act;    /* (B (1 + 2 ns), A) */
    float *actor_logp;   /* (B (1 + 2 ns)) */
    float *logd;         /* (B, M) sampling log-densities */
    float *y;            /* (B) TD targets */
    float *tq;           /* (B, O) reduced target values */
    float *pred, *dpred; /* (B) */
    float *dq;           /* (K, B (1 + M), O) */
    float *pi_act;       /* (B, A) */
    float *pi_logp;      /* (B) */
    float *logp_data;    /* (B) */
    float *dact;         /* (B, A) */
    float *dlogp;        /* (B) */
    float *dq_pi;        /* (K, B) */
    int32_t *a_next;     /* (B) */
    void *mem;
} cql_state;

static void cql_free(void *state) {
    cql_state *s = state;
    if (!s) return;
    orl_critic_free(s->critic);
    orl_actor_free(s->actor);
    orl_policy_free(s->qpol);
    orl_normalizer_free(&s->norm);
    free(s->mem);
    free(s);
}

/* "auto" (-1) resolves to the form's reference default */
static double pick(const orl_hparams *hp, const char *name, double discrete, double continuous,
                   int is_discrete) {
    double x = orl_hparams_number(hp, name);
    return x == -1.0 ? (is_discrete ? discrete : continuous) : x;
}

static size_t align_up(size_t n) {
    return (n + CQL_ALIGN - 1) / CQL_ALIGN * CQL_ALIGN;
}

/* carves the scratch arrays out of one allocation */
static orl_status alloc_scratch(cql_state *s) {
    size_t B = (size_t)s->B, S = (size_t)s->S, A = (size_t)(s->discrete ? 0 : s->A);
    size_t M = (size_t)s->M, ns = (size_t)s->ns, K = (size_t)s->K;
    size_t O = (size_t)(s->discrete ? s->n : 1), rows = B * (1 + M), arows = B * (1 + 2 * ns);
    size_t f = sizeof(float);
    size_t sizes[] = {B * S * f,
                      B * S * f,
                      rows * S * f,
                      rows * A * f,
                      arows * S * f,
                      arows * A * f,
                      arows * f,
                      B * M * f,
                      B * f,
                      B * O * f,
                      B * f,
                      B * f,
                      K * rows * O * f,
                      B * A * f,
                      B * f,
                      B * f,
                      B * A * f,
                      B * f,
                      K * B * f,
                      B * sizeof(int32_t)};
    float **views[] = {&s->x,         &s->xn,         &s->big_obs, &s->big_act, &s->actor_obs,
                       &s->actor_act, &s->actor_logp, &s->logd,    &s->y,       &s->tq,
                       &s->pred,      &s->dpred,      &s->dq,      &s->pi_act,  &s->pi_logp,
                       &s->logp_data, &s->dact,       &s->dlogp,   &s->dq_pi,   NULL};
    size_t total = 0, n = sizeof sizes / sizeof sizes[0];
    for (size_t i = 0; i < n; i++) total += align_up(sizes[i] ? sizes[i] : 1);
    char *mem = aligned_alloc(CQL_ALIGN, total);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "cql: %zu bytes of scratch", total);
    memset(mem, 0, total);
    s->mem = mem;
    for (size_t i = 0; i < n; i++) {
        if (views[i])
            *views[i] = (float *)(void *)mem;
        else
            s->a_next = (int32_t *)(void *)mem;
        mem += align_up(sizes[i] ? sizes[i] : 1);
    }
    return ORL_OK;
}

/* the number of actions of a discrete dataset: the header's, else the largest index + 1 */
static int32_t count_actions(const orl_dataset *ds) {
    int32_t n = ds->h.n_actions;
    for (int64_t i = 0; i < ds->n_steps; i++)
        if (ds->act_idx[i] + 1 > n) n = ds->act_idx[i] + 1;
    return n < 2 ? 2 : n;
}

/* i n + j as an index */
static size_t at(int64_t i, int64_t n, int64_t j) {
    return (size_t)(i * n + j);
}

static orl_status cql_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    const orl_dataset *ds = ctx->train;
    const orl_hparams *hp = ctx->hp;
    orl_status st = ORL_OK;
    cql_state *s = calloc(1, sizeof *s);
    if (!s) ORL_FAIL(ORL_ERR_NOMEM, "cql: out of memory");
    int d = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    s->train = ds;
    s->val = ctx->val && ctx->val->n_steps > 0 ? ctx->val : NULL;
    s->config_json = ctx->config_json;
    s->discrete = d;
    s->S = ds->h.obs_dim;
    s->A = d ? 0 : ds->h.act_dim;
    s->n = d ? count_actions(ds) : 0;
    s->B = ctx->max_batch;
    s->gamma = orl_hparams_number(hp, "discount");
    s->cql_alpha = (float)pick(hp, "cql_alpha", 1.0, 10.0, d);
    float critic_lr = (float)pick(hp, "critic_lr", 6.25e-5, 3e-4, d);
    int32_t hidden = (int32_t)orl_hparams_number(hp, "hidden");
    int32_t layers = (int32_t)pick(hp, "layers", 2, 3, d);
    s->K = (int32_t)pick(hp, "critics", 1, 2, d);
    s->tau = (float)pick(hp, "tau", 0.0, 0.005, d);
    s->target_update = (int64_t)orl_hparams_number(hp, "target_update");
    s->huber_delta = (float)orl_hparams_number(hp, "huber_delta");
    s->ns = d ? 0 : (int32_t)orl_hparams_number(hp, "n_samples");
    s->M = 3 * s->ns;
    s->cql_temp = (float)orl_hparams_number(hp, "cql_temp");
    s->lagrange = orl_hparams_number(hp, "lagrange") != 0.0;
    s->gap = (float)orl_hparams_number(hp, "target_action_gap");
    s->bc_steps = (int64_t)orl_hparams_number(hp, "bc_steps");
    s->auto_alpha = orl_hparams_number(hp, "auto_alpha") != 0.0;
    s->alpha_fixed = (float)orl_hparams_number(hp, "alpha");
    s->backup_entropy = orl_hparams_number(hp, "backup_entropy") != 0.0;
    s->policy_epsilon = (float)orl_hparams_number(hp, "policy_epsilon");
    s->policy_temperature = (float)orl_hparams_number(hp, "policy_temperature");
    const char *mode = orl_hparams_text(hp, "policy_mode");
    s->policy_mode = strcmp(mode, "epsilon") == 0   ? ORL_ARGMAX_Q_MODE_EPSILON
                     : strcmp(mode, "softmax") == 0 ? ORL_ARGMAX_Q_MODE_SOFTMAX
                                                    : ORL_ARGMAX_Q_MODE_GREEDY;
    const char *init = orl_hparams_text(hp, "init");
    orl_init winit = strcmp(init, "orthogonal") == 0 ? ORL_INIT_ORTHOGONAL
                     : strcmp(init, "fan_in") == 0   ? ORL_INIT_FAN_IN_UNIFORM
                     : d                             ? ORL_INIT_FAN_IN_UNIFORM
                                                     : ORL_INIT_ORTHOGONAL;
    int normalize = orl_hparams_number(hp, "normalize_obs") != 0.0;
    if (!(s->gamma >= 0.0 && s->gamma <= 1.0) || !(s->cql_alpha >= 0.0f) || !(critic_lr > 0.0f) ||
        hidden < 1 || layers < 1 || layers >= ORL_MLP_MAX_LAYERS || s->K < 1 || s->K > 16 ||
        !(s->tau >= 0.0f && s->tau <= 1.0f) || s->target_update < 1 || !(s->huber_delta > 0.0f) ||
        (!d && s->ns < 1) || !(s->cql_temp > 0.0f) || s->bc_steps < 0 || !(s->alpha_fixed > 0.0f))
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                      "cql: expected discount in [0, 1], cql_alpha >= 0, critic_lr > 0, hidden "
                      ">= 1, layers 1..%d, critics 1..16, tau in [0, 1], target_update >= 1, "
                      "huber_delta > 0, n_samples >= 1, cql_temp > 0, bc_steps >= 0, alpha > 0",
                      ORL_MLP_MAX_LAYERS - 1);
    ORL_TRY_GOTO(st, fail, alloc_scratch(s));

    if (d) {
        /* the Q-network's normaliser and the argmax-Q policy lent for evaluation */
        if (normalize)
            ORL_TRY_GOTO(st, fail, orl_normalizer_fit(&s->norm, ds->obs, ds->n_steps, s->S, 1e-3f));
        else
            ORL_TRY_GOTO(st, fail, orl_normalizer_identity(&s->norm, s->S));
        orl_critic_config cc = orl_critic_defaults(s->S, 0, s->n, s->B);
        cc.members = s->K, cc.hidden = hidden, cc.layers = layers, cc.init = winit;
        cc.lr = critic_lr;
        ORL_TRY_GOTO(st, fail, orl_critic_create(&cc, rng, &s->critic));
        orl_policy_argmax_q_spec qs;
        memset(&qs, 0, sizeof qs);
        qs.info = (orl_policy_info){
            "cql", ctx->config_json, s->S, 1, ORL_ACTION_KIND_DISCRETE, s->n, NULL, NULL};
        qs.mlp = orl_critic_member(s->critic, 0)->net.cfg;
        qs.mode = s->policy_mode;
        qs.epsilon = s->policy_epsilon;
        qs.temperature = s->policy_temperature;
        ORL_TRY_GOTO(st, fail,
                     orl_policy_argmax_q_create(&qs, &s->norm,
                                                orl_critic_member(s->critic, 0)->net.params, NULL,
                                                &s->qpol));
    } else {
        /* the actor first: its parameters are the first draws of rng */
        orl_actor_config ac =
            orl_actor_defaults(ORL_POLICY_HEAD_TANH_GAUSSIAN, s->B * (1 + 2 * s->ns));
        ac.hidden = (int32_t)orl_hparams_number(hp, "actor_hidden");
        ac.layers = (int32_t)orl_hparams_number(hp, "actor_layers");
        ac.init = winit;
        ac.last_scale = winit == ORL_INIT_ORTHOGONAL ? 1e-2f : 0.0f; /* CORL: gain 1e-2 */
        ac.lr = (float)orl_hparams_number(hp, "policy_lr");
        ac.log_std_min = (float)orl_hparams_number(hp, "log_std_min");
        ac.log_std_max = (float)orl_hparams_number(hp, "log_std_max");
        ac.normalize_obs = normalize;
        ORL_TRY_GOTO(st, fail, orl_actor_create(&ac, ds, "cql", ctx->config_json, rng, &s->actor));
        orl_critic_config cc = orl_critic_defaults(s->S, s->A, 0, s->B * (1 + s->M));
        cc.members = s->K, cc.hidden = hidden, cc.layers = layers, cc.init = winit;
        cc.lr = critic_lr;
        ORL_TRY_GOTO(st, fail, orl_critic_create(&cc, rng, &s->critic));
        ORL_TRY_GOTO(st, fail, orl_temperature_init(&s->ent, s->alpha_fixed, -(float)s->A, ac.lr));
        ORL_TRY_GOTO(st, fail,
                     orl_temperature_init(&s->prime, expf(1.0f), 0.0f,
                                          (float)orl_hparams_number(hp, "lagrange_lr")));
        orl_policy *p = orl_actor_policy(s->actor);
        s->lo = p->act_low;
        s->hi = p->act_high;
        double lu = 0.0;
        for (int32_t j = 0; j < s->A; j++) lu -= log((double)s->hi[j] - (double)s->lo[j]);
        s->log_uniform = (float)lu;
    }
    *state = s;
    return ORL_OK;
fail:
    cql_free(s);
    return st;
}

static const char *const disc_step_names[] = {"td_loss", "cql_penalty", "q_mean"};
static const char *const cont_step_names[] = {"critic_loss", "cql_penalty", "actor_loss",
                                              "alpha",       "q_mean",      "alpha_prime"};
static const char *const val_names[] = {"td_error"};

static orl_metric_names cql_metrics(void *state, orl_metric_kind kind) {
    cql_state *s = state;
    if (kind == ORL_METRIC_KIND_VALIDATION)
        return s->val ? (orl_metric_names){1, val_names} : (orl_metric_names){0, NULL};
    return s->discrete ? (orl_metric_names){3, disc_step_names}
                       : (orl_metric_names){6, cont_step_names};
}

static void cql_sampling(void *state, orl_learner_sampling *out) {
    (void)state;
    *out = (orl_learner_sampling){NULL, 0, NULL};
}

/* ---- discrete ---- */

/* y (B): r + gamma (1 - terminal) Q_target(s', argmax_a mean_k Q_k(s', a)) (Double DQN) */
static void discrete_targets(cql_state *s, const orl_batch *batch) {
    int32_t B = batch->size, n = s->n, K = s->K;
    const float *qn = orl_critic_forward(s->critic, s->xn, NULL, B);
    for (int32_t b = 0; b < B; b++) {
        int32_t best = 0;
        double top = -INFINITY;
        for (int32_t a = 0; a < n; a++) {
            double m = 0.0;
            for (int32_t k = 0; k < K; k++) m += (double)qn[at(k * B + b, n, a)];
            if (m > top) top = m, best = a;
        }
        s->a_next[b] = best;
    }
    orl_critic_target(s->critic, s->xn, NULL, B, ORL_CRITIC_REDUCE_MIN, 0.0f, s->tq);
    for (int32_t b = 0; b < B; b++) {
        double next = batch->terminal[b] ? 0.0 : (double)s->tq[at(b, n, s->a_next[b])];
        s->y[b] = (float)((double)batch->rew[b] + s->gamma * next);
    }
}

static orl_status discrete_step(cql_state *s, const orl_batch *batch, int64_t step,
                                double *metrics) {
    int32_t B = batch->size, n = s->n, K = s->K;
    orl_normalizer_apply(&s->norm, batch->obs, B, s->x);
    orl_normalizer_apply(&s->norm, batch->next_obs, B, s->xn);
    discrete_targets(s, batch);
    const float *q = orl_critic_forward(s->critic, s->x, NULL, B);
    memset(s->dq, 0, at(K * B, n, 0) * sizeof(float));
    double td = 0.0, pen = 0.0, qm = 0.0;
    for (int32_t k = 0; k < K; k++) {
        const float *qk = q + at(k * B, n, 0);
        float *dqk = s->dq + at(k * B, n, 0);
        for (int32_t b = 0; b < B; b++) {
            s->pred[b] = qk[at(b, n, batch->act_idx[b])];
            s->dpred[b] = 0.0f;
            qm += (double)s->pred[b];
        }
        td += orl_loss_huber(s->dpred, s->pred, s->y, B, s->huber_delta, 1.0f);
        for (int32_t b = 0; b < B; b++) dqk[at(b, n, batch->act_idx[b])] += s->dpred[b];
        pen += orl_cql_discrete_penalty(dqk, qk, batch->act_idx, B, n, s->cql_alpha);
    }
    metrics[0] = td / K;
    metrics[1] = pen / K;
    metrics[2] = qm / ((double)K * B);
    if (!isfinite(metrics[0]) || !isfinite(metrics[1]))
        ORL_FAIL(ORL_ERR_NUMERIC, "cql: non-finite loss (td %g, penalty %g)", metrics[0],
                 metrics[1]);
    orl_critic_backward(s->critic, s->dq);
    orl_critic_step(s->critic, -1.0f);
    if (s->tau > 0.0f)
        orl_critic_polyak(s->critic, s->tau);
    else if ((step + 1) % s->target_update == 0)
        orl_critic_target_copy(s->critic);
    return ORL_OK;
}

/* ---- continuous ---- */

/* y (B) = r + gamma (1 - terminal) (min_k Q_target,k(s', a') [- alpha logp']) with a' given */
static void continuous_targets(cql_state *s, const orl_batch *batch, const float *a_next,
                               const float *logp_next, float alpha) {
    int32_t B = batch->size;
    orl_critic_target(s->critic, s->xn, a_next, B, ORL_CRITIC_REDUCE_MIN, 0.0f, s->tq);
    orl_sac_td_target(s->y, s->tq, s->backup_entropy ? logp_next : NULL, batch->rew,
                      batch->terminal, B, s->gamma, alpha);
}

static orl_status continuous_step(cql_state *s, const orl_batch *batch, int64_t step, orl_rng *rng,
                                  double *metrics) {
    int32_t B = batch->size, S = s->S, A = s->A, ns = s->ns, M = s->M, K = s->K;
    size_t sS = (size_t)S * sizeof(float), sA = (size_t)A * sizeof(float);
    int32_t rows = B * (1 + M), arows = B * (1 + 2 * ns);
    orl_actor_normalize(s->actor, batch->obs, B, s->x);
    orl_actor_normalize(s->actor, batch->next_obs, B, s->xn);
    float alpha = s->auto_alpha ? orl_temperature_alpha(&s->ent) : s->alpha_fixed;
    float alpha_prime = fminf(orl_temperature_alpha(&s->prime), 1e6f);

    /* every actor sample the critic loss needs, in one call: a' ~ pi(.|s') for the target, then
     * ns actions from pi(.|s) and ns from pi(.|s') per state */
    memcpy(s->actor_obs, s->xn, (size_t)B * sS);
    for (int32_t b = 0; b < B; b++)
        for (int32_t j = 0; j < ns; j++) {
            memcpy(s->actor_obs + at(B + b * ns + j, S, 0), s->x + at(b, S, 0), sS);
            memcpy(s->actor_obs + at(B * (1 + ns) + b * ns + j, S, 0), s->xn + at(b, S, 0), sS);
        }
    orl_actor_forward(s->actor, s->actor_obs, arows, rng, s->actor_act, s->actor_logp);
    continuous_targets(s, batch, s->actor_act, s->actor_logp, alpha);

    /* the critic rows: (s, a_data), then per state M actions at s: uniform, pi(s), pi(s') */
    memcpy(s->big_obs, s->x, (size_t)B * sS);
    memcpy(s->big_act, batch->act, (size_t)B * sA);
    for (int32_t b = 0; b < B; b++)
        for (int32_t j = 0; j < M; j++) {
            int64_t r = B + (int64_t)at(b, M, j);
            memcpy(s->big_obs + at(r, S, 0), s->x + at(b, S, 0), sS);
            float *a = s->big_act + at(r, A, 0);
            float *ld = s->logd + at(b, M, j);
            if (j < ns) {
                for (int32_t i = 0; i < A; i++)
                    a[i] = s->lo[i] + (s->hi[i] - s->lo[i]) * (float)orl_rng_uniform(rng);
                *ld = s->log_uniform;
            } else {
                int64_t src =
                    j < 2 * ns ? B + b * ns + (j - ns) : B * (1 + ns) + b * ns + (j - 2 * ns);
                memcpy(a, s->actor_act + at(src, A, 0), sA);
                *ld = s->actor_logp[src];
            }
        }
    const float *q = orl_critic_forward(s->critic, s->big_obs, s->big_act, rows);
    memset(s->dq, 0, at(K, rows, 0) * sizeof(float));
    double td = 0.0, pen = 0.0, qm = 0.0, gap_sum = 0.0;
    float scale = s->lagrange ? alpha_prime * s->cql_alpha : s->cql_alpha;
    for (int32_t k = 0; k < K; k++) {
        const float *qk = q + at(k, rows, 0);
        float *dqk = s->dq + at(k, rows, 0);
        td += orl_loss_mse(dqk, qk, s->y, B, 1.0f);
        double p =
            orl_cql_sampled_penalty(dqk + B, dqk, qk + B, s->logd, qk, B, M, s->cql_temp, scale);
        pen += p;
        gap_sum += p - (double)s->gap;
        for (int32_t b = 0; b < B; b++) qm += (double)qk[b];
    }
    orl_critic_backward(s->critic, s->dq);
    double critic_loss = td + (double)scale * (s->lagrange ? gap_sum : pen);

    /* the actor: alpha logp - min_k Q_k(s, a~pi(s)), or the BC warm-up's alpha logp - logp(a) */
    orl_actor_forward(s->actor, s->x, B, rng, s->pi_act, s->pi_logp);
    double actor_loss = 0.0, logp_mean = 0.0;
    for (int32_t b = 0; b < B; b++) {
        s->dlogp[b] = alpha / (float)B;
        logp_mean += (double)s->pi_logp[b];
    }
    logp_mean /= B;
    if (step < s->bc_steps) {
        orl_actor_backward(s->actor, NULL, s->dlogp);
        orl_actor_log_prob(s->actor, s->x, B, batch->act, s->logp_data);
        double lp = 0.0;
        for (int32_t b = 0; b < B; b++) {
            lp += (double)s->logp_data[b];
            s->dlogp[b] = -1.0f / (float)B;
        }
        orl_actor_backward(s->actor, NULL, s->dlogp);
        actor_loss = (double)alpha * logp_mean - lp / B;
    } else {
        /* SAC's actor loss, shared with sac.c */
        const float *qp = orl_critic_forward(s->critic, s->x, s->pi_act, B);
        actor_loss = orl_sac_actor_loss(s->dq_pi, s->dlogp, qp, s->pi_logp, K, B, alpha, NULL);
        memset(s->dact, 0, (size_t)B * sA);
        orl_critic_action_grad(s->critic, s->dq_pi, s->dact);
        orl_actor_backward(s->actor, s->dact, s->dlogp);
    }
    metrics[0] = critic_loss;
    metrics[1] = pen / K;
    metrics[2] = actor_loss;
    metrics[3] = (double)alpha;
    metrics[4] = qm / ((double)K * B);
    metrics[5] = s->lagrange ? (double)alpha_prime : 0.0;
    if (!isfinite(critic_loss) || !isfinite(actor_loss))
        ORL_FAIL(ORL_ERR_NUMERIC, "cql: non-finite loss (critic %g, actor %g)", critic_loss,
                 actor_loss);

    /* the updates, all from the values above (CORL's order: alpha, actor, critics, alpha') */
    if (s->auto_alpha) orl_temperature_step(&s->ent, s->pi_logp, B);
    orl_actor_step(s->actor, -1.0f);
    orl_critic_step(s->critic, -1.0f);
    if (s->lagrange) {
        /* loss' = -alpha' cql_alpha mean_k (penalty_k - gap): d/dlog alpha' */
        orl_temperature_step_grad(&s->prime, -(double)alpha_prime * s->cql_alpha * gap_sum / K);
    }
    orl_critic_polyak(s->critic, s->tau);
    return ORL_OK;
}

static orl_status cql_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                           double *metrics) {
    cql_state *s = state;
    return s->discrete ? discrete_step(s, batch, step, metrics)
                       : continuous_step(s, batch, step, rng, metrics);
}

/* validation: mean squared TD error of the data actions on validation rows (the continuous
 * target uses the actor's mean next action: validation draws no random numbers) */
static orl_status cql_validate(void *state, const orl_batch *batch, double *metrics) {
    cql_state *s = state;
    int32_t B = batch->size;
    double sum = 0.0;
    if (s->discrete) {
        orl_normalizer_apply(&s->norm, batch->obs, B, s->x);
        orl_normalizer_apply(&s->norm, batch->next_obs, B, s->xn);
        discrete_targets(s, batch);
        const float *q = orl_critic_forward(s->critic, s->x, NULL, B);
        for (int32_t k = 0; k < s->K; k++)
            for (int32_t b = 0; b < B; b++) {
                double u = (double)q[at(k * B + b, s->n, batch->act_idx[b])] - s->y[b];
                sum += u * u;
            }
    } else {
        orl_actor_normalize(s->actor, batch->obs, B, s->x);
        orl_actor_normalize(s->actor, batch->next_obs, B, s->xn);
        orl_actor_forward(s->actor, s->xn, B, NULL, s->pi_act, NULL);
        continuous_targets(s, batch, s->pi_act, NULL, 0.0f);
        const float *q = orl_critic_forward(s->critic, s->x, batch->act, B);
        for (int32_t k = 0; k < s->K; k++)
            for (int32_t b = 0; b < B; b++) {
                double u = (double)q[at(k, B, b)] - s->y[b];
                sum += u * u;
            }
    }
    metrics[0] = sum / ((double)s->K * B);
    return ORL_OK;
}

/* the argmax-Q policy holds a copy of Q-network 0's parameters: refreshed when lent */
static void sync_qpolicy(cql_state *s) {
    orl_fit *f = orl_critic_member(s->critic, 0);
    orl_params_copy(orl_policy_argmax_q_network(s->qpol)->params, f->net.params, f->net.n_params);
}

static const orl_policy *cql_policy(void *state) {
    cql_state *s = state;
    if (!s->discrete) return orl_actor_policy(s->actor);
    sync_qpolicy(s);
    return s->qpol;
}

static orl_status cql_export_policy(void *state, orl_policy **out) {
    cql_state *s = state;
    if (!s->discrete) return orl_learner_copy_mlp_policy(orl_actor_policy(s->actor), out);
    sync_qpolicy(s);
    orl_policy_argmax_q_spec qs;
    memset(&qs, 0, sizeof qs);
    qs.info = (orl_policy_info){
        "cql", s->qpol->config_json, s->S, 1, ORL_ACTION_KIND_DISCRETE, s->n, NULL, NULL};
    orl_mlp *net = orl_policy_argmax_q_network(s->qpol);
    qs.mlp = net->cfg;
    qs.mode = s->policy_mode;
    qs.epsilon = s->policy_epsilon;
    qs.temperature = s->policy_temperature;
    return orl_policy_argmax_q_create(&qs, &s->norm, net->params, NULL, out);
}

static int32_t cql_buffers(void *state, orl_buffer *out, int32_t cap) {
    cql_state *s = state;
    int32_t n = orl_critic_buffers(s->critic, "q", out, cap, 0);
    if (!s->discrete) {
        n = orl_actor_buffers(s->actor, "actor", out, cap, n);
        n = orl_temperature_buffers(&s->ent, "alpha", out, cap, n);
        n = orl_temperature_buffers(&s->prime, "alpha_prime", out, cap, n);
    }
    return n;
}

const orl_learner_ops orl_learner_cql = {
    .name = "cql",
    .summary = "conservative Q-learning: SAC + importance-sampled penalty (continuous), Double "
               "DQN + logsumexp penalty (discrete)",
    .hparams = cql_hparams,
    .create = cql_create,
    .metrics = cql_metrics,
    .sampling = cql_sampling,
    .step = cql_step,
    .validate = cql_validate,
    .policy = cql_policy,
    .export_policy = cql_export_policy,
    .buffers = cql_buffers,
    .free = cql_free,
};
