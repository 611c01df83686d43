/* Soft actor-critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications"):
 * the off-policy update, one gradient step per batch. A tanh-Gaussian actor maximises
 * min_k Q_k(s, a) - alpha log pi(a|s); twin critics regress onto the soft TD target
 *   y = r + gamma (1 - terminal) (min_k Q_target,k(s', a') - alpha log pi(a'|s')),  a' ~ pi(s');
 * alpha is tuned so the policy's entropy meets -|A| (orl_temperature); targets follow by Polyak.
 *
 * It is an ordinary learner of the training loop (train.h): run on a dataset it is offline SAC;
 * run by eval/online.c's orl_online_train it is the online SAC of the paper, acting in an
 * environment and drawing its batches from a replay buffer that grows. This file knows nothing
 * of environments. The two pieces SAC shares with CQL's continuous form, the soft TD target and
 * the actor loss over K critics, are the public orl_sac_td_target and orl_sac_actor_loss (CQL
 * calls them too). The networks are models.h's orl_critic, orl_actor and orl_temperature.
 * Nothing is allocated in step. Dimension letters as in nn.h; K critics. */
#include "orl/heads.h"
#include "orl/models.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SAC_ALIGN 64

/* Haarnoja et al. 2018 (v2), Table 1, unless said otherwise */
static const orl_hparam_def sac_hparams[] = {
    {"discount", ORL_HPARAM_KIND_FLOAT, "0.99", NULL, "gamma (Haarnoja et al. 2018: 0.99)"},
    {"tau", ORL_HPARAM_KIND_FLOAT, "0.005", NULL, "Polyak rate of the target critics (0.005)"},
    {"actor_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "actor Adam learning rate (3e-4)"},
    {"critic_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "critics' Adam learning rate (3e-4)"},
    {"alpha_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "temperature Adam learning rate (3e-4)"},
    {"hidden", ORL_HPARAM_KIND_INT, "256", NULL, "hidden width of actor and critics (256)"},
    {"layers", ORL_HPARAM_KIND_INT, "2", NULL, "hidden layers of actor and critics (2)"},
    {"critics", ORL_HPARAM_KIND_INT, "2", NULL, "Q-networks (2: clipped double Q)"},
    {"auto_alpha", ORL_HPARAM_KIND_INT, "1", NULL, "1 tunes alpha to the target entropy (on)"},
    {"alpha", ORL_HPARAM_KIND_FLOAT, "1.0", NULL,
     "entropy alpha (initial when tuned; softlearning, CleanRL: log alpha 0)"},
    {"target_entropy_scale", ORL_HPARAM_KIND_FLOAT, "1.0", NULL,
     "target entropy = -scale |A| (the paper: -|A|)"},
    {"log_std_min", ORL_HPARAM_KIND_FLOAT, "-5", NULL, "actor log-std lower bound (CleanRL: -5)"},
    {"log_std_max", ORL_HPARAM_KIND_FLOAT, "2", NULL, "actor log-std upper bound (2)"},
    {"normalize_obs", ORL_HPARAM_KIND_INT, "0", NULL,
     "1: observation mean/std normalisation fitted on the rows at creation (the paper: 0)"},
    {NULL, 0, NULL, NULL, NULL}};

typedef struct sac_state {
    int32_t S, A, B, K;
    double gamma;
    float tau, alpha_fixed;
    int auto_alpha;

    orl_actor *actor;
    orl_critic *critic;
    orl_temperature ent;

    /* scratch: one allocation */
    float *x, *xn;    /* (B, S) normalised obs, next obs */
    float *a_next;    /* (B, A) a' ~ pi(s') */
    float *logp_next; /* (B) */
    float *tq;        /* (B) min of the target critics at (s', a') */
    float *y;         /* (B) soft TD targets */
    float *dq;        /* (K, B) critic loss gradient */
    float *pi_act;    /* (B, A) a ~ pi(s) */
    float *pi_logp;   /* (B) */
    float *dq_pi;     /* (K, B) actor loss gradient w.r.t. Q_k(s, a) */
    float *dact;      /* (B, A) */
    float *dlogp;     /* (B) */
    void *mem;
} sac_state;

/* ---- the pieces shared with CQL ---- */

void orl_sac_td_target(float *y, const float *tq, const float *logp_next, const float *rew,
                       const uint8_t *terminal, int32_t batch, double gamma, float alpha) {
    for (int32_t b = 0; b < batch; b++) {
        double next = (double)tq[b];
        if (logp_next) next -= (double)alpha * (double)logp_next[b];
        if (terminal[b]) next = 0.0;
        y[b] = (float)((double)rew[b] + gamma * next);
    }
}

double orl_sac_actor_loss(float *dq, float *dlogp, const float *q, const float *logp, int32_t K,
                          int32_t batch, float alpha, double *logp_mean) {
    size_t KB = (size_t)K * (size_t)batch;
    memset(dq, 0, KB * sizeof(float));
    double lp = 0.0, qmin_sum = 0.0;
    for (int32_t b = 0; b < batch; b++) {
        dlogp[b] = alpha / (float)batch;
        lp += (double)logp[b];
        int32_t kmin = 0;
        for (int32_t k = 1; k < K; k++)
            if (q[(size_t)k * (size_t)batch + (size_t)b] <
                q[(size_t)kmin * (size_t)batch + (size_t)b])
                kmin = k;
        qmin_sum += (double)q[(size_t)kmin * (size_t)batch + (size_t)b];
        dq[(size_t)kmin * (size_t)batch + (size_t)b] = -1.0f / (float)batch;
    }
    lp /= batch;
    if (logp_mean) *logp_mean = lp;
    return (double)alpha * lp - qmin_sum / batch;
}

/* ---- the learner ---- */

static void sac_free(void *state) {
    sac_state *s = state;
    if (!s) return;
    orl_actor_free(s->actor);
    orl_critic_free(s->critic);
    free(s->mem);
    free(s);
}

static size_t align_up(size_t n) {
    return (n + SAC_ALIGN - 1) / SAC_ALIGN * SAC_ALIGN;
}

/* carves the scratch arrays out of one allocation */
static orl_status alloc_scratch(sac_state *s) {
    size_t B = (size_t)s->B, S = (size_t)s->S, A = (size_t)s->A, K = (size_t)s->K;
    size_t sizes[] = {B * S, B * S, B * A, B, B, B, K * B, B * A, B, K * B, B * A, B};
    float **views[] = {&s->x,  &s->xn,     &s->a_next,  &s->logp_next, &s->tq,   &s->y,
                       &s->dq, &s->pi_act, &s->pi_logp, &s->dq_pi,     &s->dact, &s->dlogp};
    size_t total = 0, n = sizeof sizes / sizeof sizes[0];
    for (size_t i = 0; i < n; i++) total += align_up(sizes[i] * sizeof(float));
    char *mem = aligned_alloc(SAC_ALIGN, total);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "sac: %zu bytes of scratch", total);
    memset(mem, 0, total);
    s->mem = mem;
    for (size_t i = 0; i < n; i++) {
        *views[i] = (float *)(void *)mem;
        mem += align_up(sizes[i] * sizeof(float));
    }
    return ORL_OK;
}

static orl_status sac_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    const orl_dataset *ds = ctx->train;
    const orl_hparams *hp = ctx->hp;
    if (ds->h.action_kind == ORL_ACTION_KIND_DISCRETE)
        ORL_FAIL(ORL_ERR_INPUT, "sac: continuous actions only (the dataset's are discrete)");
    orl_status st = ORL_OK;
    sac_state *s = calloc(1, sizeof *s);
    if (!s) ORL_FAIL(ORL_ERR_NOMEM, "sac: out of memory");
    s->S = ds->h.obs_dim;
    s->A = ds->h.act_dim;
    s->B = ctx->max_batch;
    s->K = (int32_t)orl_hparams_number(hp, "critics");
    s->gamma = orl_hparams_number(hp, "discount");
    s->tau = (float)orl_hparams_number(hp, "tau");
    s->auto_alpha = orl_hparams_number(hp, "auto_alpha") != 0.0;
    s->alpha_fixed = (float)orl_hparams_number(hp, "alpha");
    int32_t hidden = (int32_t)orl_hparams_number(hp, "hidden");
    int32_t layers = (int32_t)orl_hparams_number(hp, "layers");
    float actor_lr = (float)orl_hparams_number(hp, "actor_lr");
    float critic_lr = (float)orl_hparams_number(hp, "critic_lr");
    float alpha_lr = (float)orl_hparams_number(hp, "alpha_lr");
    double scale = orl_hparams_number(hp, "target_entropy_scale");
    if (!(s->gamma >= 0.0 && s->gamma <= 1.0) || !(s->tau >= 0.0f && s->tau <= 1.0f) ||
        !(actor_lr > 0.0f) || !(critic_lr > 0.0f) || !(alpha_lr > 0.0f) || hidden < 1 ||
        layers < 1 || layers >= ORL_MLP_MAX_LAYERS || s->K < 1 || s->K > 16 ||
        !(s->alpha_fixed > 0.0f))
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                      "sac: expected discount in [0, 1], tau in [0, 1], learning rates > 0, "
                      "hidden >= 1, layers 1..%d, critics 1..16, alpha > 0",
                      ORL_MLP_MAX_LAYERS - 1);
    ORL_TRY_GOTO(st, fail, alloc_scratch(s));

    /* the actor first: its parameters are the first draws of rng, then the critics' */
    orl_actor_config ac = orl_actor_defaults(ORL_POLICY_HEAD_TANH_GAUSSIAN, s->B);
    ac.hidden = hidden;
    ac.layers = layers;
    ac.lr = actor_lr;
    ac.log_std_min = (float)orl_hparams_number(hp, "log_std_min");
    ac.log_std_max = (float)orl_hparams_number(hp, "log_std_max");
    ac.normalize_obs = orl_hparams_number(hp, "normalize_obs") != 0.0;
    ORL_TRY_GOTO(st, fail, orl_actor_create(&ac, ds, "sac", ctx->config_json, rng, &s->actor));
    orl_critic_config cc = orl_critic_defaults(s->S, s->A, 0, s->B);
    cc.members = s->K, cc.hidden = hidden, cc.layers = layers, cc.lr = critic_lr;
    ORL_TRY_GOTO(st, fail, orl_critic_create(&cc, rng, &s->critic));
    ORL_TRY_GOTO(st, fail,
                 orl_temperature_init(&s->ent, s->alpha_fixed, -(float)(scale * s->A), alpha_lr));
    *state = s;
    return ORL_OK;
fail:
    sac_free(s);
    return st;
}

static const char *const step_names[] = {"critic_loss", "actor_loss", "alpha", "entropy", "q_mean"};

static orl_metric_names sac_metrics(void *state, orl_metric_kind kind) {
    (void)state;
    if (kind == ORL_METRIC_KIND_VALIDATION) return (orl_metric_names){0, NULL};
    return (orl_metric_names){5, step_names};
}

static void sac_sampling(void *state, orl_learner_sampling *out) {
    (void)state;
    *out = (orl_learner_sampling){NULL, 0, NULL};
}

static orl_status sac_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                           double *metrics) {
    (void)step;
    sac_state *s = state;
    int32_t B = batch->size, K = s->K;
    orl_actor_normalize(s->actor, batch->obs, B, s->x);
    orl_actor_normalize(s->actor, batch->next_obs, B, s->xn);
    float alpha = s->auto_alpha ? orl_temperature_alpha(&s->ent) : s->alpha_fixed;

    /* the critics: mean squared error to the soft target, summed over the members */
    orl_actor_forward(s->actor, s->xn, B, rng, s->a_next, s->logp_next);
    orl_critic_target(s->critic, s->xn, s->a_next, B, ORL_CRITIC_REDUCE_MIN, 0.0f, s->tq);
    orl_sac_td_target(s->y, s->tq, s->logp_next, batch->rew, batch->terminal, B, s->gamma, alpha);
    const float *q = orl_critic_forward(s->critic, s->x, batch->act, B);
    memset(s->dq, 0, (size_t)K * (size_t)B * sizeof(float)); /* orl_loss_mse accumulates */
    double critic_loss = 0.0, qm = 0.0;
    for (int32_t k = 0; k < K; k++) {
        const float *qk = q + (size_t)k * (size_t)B;
        critic_loss += orl_loss_mse(s->dq + (size_t)k * (size_t)B, qk, s->y, B, 1.0f);
        for (int32_t b = 0; b < B; b++) qm += (double)qk[b];
    }
    orl_critic_backward(s->critic, s->dq);

    /* the actor: alpha logp - min_k Q_k(s, a ~ pi(s)), the gradient through the critics'
     * action input without touching their parameter gradients */
    orl_actor_forward(s->actor, s->x, B, rng, s->pi_act, s->pi_logp);
    const float *qp = orl_critic_forward(s->critic, s->x, s->pi_act, B);
    double logp_mean = 0.0;
    double actor_loss =
        orl_sac_actor_loss(s->dq_pi, s->dlogp, qp, s->pi_logp, K, B, alpha, &logp_mean);
    memset(s->dact, 0, (size_t)B * (size_t)s->A * sizeof(float));
    orl_critic_action_grad(s->critic, s->dq_pi, s->dact);
    orl_actor_backward(s->actor, s->dact, s->dlogp);

    metrics[0] = critic_loss;
    metrics[1] = actor_loss;
    metrics[2] = (double)alpha;
    metrics[3] = -logp_mean;
    metrics[4] = qm / ((double)K * B);
    if (!isfinite(critic_loss) || !isfinite(actor_loss))
        ORL_FAIL(ORL_ERR_NUMERIC, "sac: non-finite loss (critic %g, actor %g)", critic_loss,
                 actor_loss);

    /* the updates, all from the values above: alpha, actor, critics, targets */
    if (s->auto_alpha) orl_temperature_step(&s->ent, s->pi_logp, B);
    orl_actor_step(s->actor, -1.0f);
    orl_critic_step(s->critic, -1.0f);
    orl_critic_polyak(s->critic, s->tau);
    return ORL_OK;
}

static const orl_policy *sac_policy(void *state) {
    return orl_actor_policy(((sac_state *)state)->actor);
}

static orl_status sac_export_policy(void *state, orl_policy **out) {
    return orl_learner_copy_mlp_policy(orl_actor_policy(((sac_state *)state)->actor), out);
}

static int32_t sac_buffers(void *state, orl_buffer *out, int32_t cap) {
    sac_state *s = state;
    int32_t n = orl_critic_buffers(s->critic, "q", out, cap, 0);
    n = orl_actor_buffers(s->actor, "actor", out, cap, n);
    /* the observation statistics (normalize_obs): fitted at creation on the rows there were
     * then, which a resumed online run no longer has */
    orl_normalizer *nm = orl_policy_mlp_normalizer(orl_actor_policy(s->actor));
    if (nm && nm->dim > 0) {
        int64_t bytes = (int64_t)nm->dim * (int64_t)sizeof(float);
        orl_buffer_put(out, cap, &n, "actor", "obs_mean", nm->mean, bytes);
        orl_buffer_put(out, cap, &n, "actor", "obs_std", nm->std, bytes);
    }
    return orl_temperature_buffers(&s->ent, "alpha", out, cap, n);
}

const orl_learner_ops orl_learner_sac = {
    .name = "sac",
    .summary = "soft actor-critic (online with --env; on a dataset: offline SAC, no penalty)",
    .hparams = sac_hparams,
    .create = sac_create,
    .metrics = sac_metrics,
    .sampling = sac_sampling,
    .step = sac_step,
    .policy = sac_policy,
    .export_policy = sac_export_policy,
    .buffers = sac_buffers,
    .free = sac_free,
};
