/* Actors and the entropy temperature (include/orl/models.h, "actor-critic"). An actor is an MLP
 * policy (policy.h) whose own network a fit kit trains in place, so the trained policy is saved
 * as it is; forward gives actions (and for the Gaussian heads a reparameterised sample with its
 * exact log-density) from the heads of heads.h, backward carries a loss's gradient with respect
 * to the actions and log-densities into the network's parameter gradients. The temperature is
 * SAC's log alpha, one scalar with its own Adam. Not here: the learners' losses and schedules.
 * No allocation after create. */
#include "orl/heads.h"
#include "orl/models.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* what the last forward was, for backward */
typedef enum actor_pass {
    ACTOR_PASS_NONE = 0,
    ACTOR_PASS_SAMPLE,   /* orl_actor_forward */
    ACTOR_PASS_LOG_PROB, /* orl_actor_log_prob */
} actor_pass;

struct orl_actor {
    orl_actor_config cfg;
    orl_policy *policy;     /* owns the network and the normaliser */
    orl_fit kit;            /* trains the policy's network in place */
    orl_gaussian_head head; /* Gaussian heads' log-std range; lo, hi for the tanh-Gaussian */
    int32_t act_dim, out_dim;
    int32_t batch;    /* B of the last forward */
    actor_pass pass;  /* the last forward */
    int noise;        /* 1 when the last sample used eps */
    const float *out; /* (B, O) the last forward's network output (in the kit's workspace) */
    float *eps;       /* (max_batch, A) the last sample's noise */
    float *act_in;    /* (max_batch, A) the actions given to log_prob */
    float *log_std;   /* (max_batch, A) Gaussian head scratch */
    float *dout;      /* (max_batch, O) the gradient of the network output */
};

orl_actor_config orl_actor_defaults(orl_policy_head head, int32_t max_batch) {
    orl_actor_config c;
    memset(&c, 0, sizeof c);
    c.head = head;
    c.hidden = 256;
    c.layers = 2;
    c.activation = ORL_ACTIVATION_RELU;
    c.init = ORL_INIT_FAN_IN_UNIFORM;
    c.last_scale = 0.0f;
    c.lr = 3e-4f;
    c.max_grad_norm = 0.0;
    c.log_std_min = -5.0f;
    c.log_std_max = 2.0f;
    c.target = 0;
    c.normalize_obs = 1;
    c.max_batch = max_batch;
    return c;
}

orl_status orl_actor_create(const orl_actor_config *cfg, const orl_dataset *train, const char *algo,
                            const char *config_json, orl_rng *rng, orl_actor **out) {
    assert(cfg && train && algo && rng && out);
    *out = NULL;
    orl_policy_head head = cfg->head;
    if (train->h.action_kind != ORL_ACTION_KIND_CONTINUOUS)
        ORL_FAIL(ORL_ERR_INPUT,
                 "%s: the actor needs continuous actions; the dataset's are discrete", algo);
    if (head != ORL_POLICY_HEAD_DETERMINISTIC && head != ORL_POLICY_HEAD_TANH_GAUSSIAN &&
        head != ORL_POLICY_HEAD_GAUSSIAN)
        ORL_FAIL(ORL_ERR_INPUT,
                 "%s: actor head %s: expected deterministic, tanh_gaussian or gaussian", algo,
                 orl_policy_head_name(head) ? orl_policy_head_name(head) : "?");
    if (cfg->hidden < 1 || cfg->layers < 1 || cfg->layers > ORL_MLP_MAX_LAYERS - 1)
        ORL_FAIL(ORL_ERR_INPUT, "%s: actor hidden=%d layers=%d: expected hidden >= 1, layers 1..%d",
                 algo, cfg->hidden, cfg->layers, ORL_MLP_MAX_LAYERS - 1);
    if (!(cfg->lr > 0.0f))
        ORL_FAIL(ORL_ERR_INPUT, "%s: actor lr=%g: expected > 0", algo, (double)cfg->lr);
    if (cfg->max_batch < 1)
        ORL_FAIL(ORL_ERR_INPUT, "%s: actor max_batch %d < 1", algo, cfg->max_batch);

    int32_t S = train->h.obs_dim, A = train->h.act_dim;
    int32_t O = orl_policy_head_outputs(head, A, 0);
    size_t Bm = (size_t)cfg->max_batch;
    size_t headb = (sizeof(orl_actor) + 63) / 64 * 64;
    size_t floats = 3 * Bm * (size_t)A + Bm * (size_t)O + 2 * (size_t)A;
    char *mem = calloc(1, headb + floats * sizeof(float));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "%s: actor: out of memory", algo);
    orl_actor *a = (orl_actor *)(void *)mem;
    a->cfg = *cfg;
    a->act_dim = A;
    a->out_dim = O;
    float *p = (float *)(void *)(mem + headb);
    a->eps = p, p += Bm * (size_t)A;
    a->act_in = p, p += Bm * (size_t)A;
    a->log_std = p, p += Bm * (size_t)A;
    a->dout = p, p += Bm * (size_t)O;
    float *lo = p, *hi = p + A;

    orl_status st = ORL_OK;
    orl_normalizer norm = {0};
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = algo;
    spec.info.config_json = config_json;
    spec.info.obs_dim = S;
    spec.info.act_dim = A;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    orl_imitation_action_bounds(train, head, lo, hi);
    spec.info.act_low = lo;
    spec.info.act_high = hi;
    spec.head = head;
    spec.log_std_min = cfg->log_std_min;
    spec.log_std_max = cfg->log_std_max;
    spec.mlp.n_layers = cfg->layers + 1;
    spec.mlp.widths[0] = S;
    for (int32_t l = 1; l <= cfg->layers; l++) spec.mlp.widths[l] = cfg->hidden;
    spec.mlp.widths[cfg->layers + 1] = O;
    spec.mlp.activation = cfg->activation;
    spec.mlp.init = cfg->init;
    spec.mlp.last_scale = cfg->last_scale;
    if (cfg->normalize_obs)
        ORL_TRY_GOTO(st, fail, orl_normalizer_fit(&norm, train->obs, train->n_steps, S, 1e-3f));
    ORL_TRY_GOTO(st, fail,
                 orl_policy_mlp_create(&spec, norm.dim ? &norm : NULL, NULL, rng, &a->policy));
    orl_normalizer_free(&norm);

    orl_fit_config fc = orl_fit_defaults(cfg->lr, cfg->max_batch);
    fc.max_grad_norm = cfg->max_grad_norm;
    fc.target = cfg->target;
    ORL_TRY_GOTO(st, fail, orl_fit_init_on(&a->kit, orl_policy_mlp_network(a->policy), &fc));
    a->head.act_dim = A;
    a->head.log_std_min = cfg->log_std_min;
    a->head.log_std_max = cfg->log_std_max;
    if (head == ORL_POLICY_HEAD_TANH_GAUSSIAN) {
        a->head.lo = a->policy->act_low;
        a->head.hi = a->policy->act_high;
    }
    *out = a;
    return ORL_OK;
fail:
    orl_normalizer_free(&norm);
    orl_actor_free(a);
    return st;
}

void orl_actor_free(orl_actor *a) {
    if (!a) return;
    orl_fit_free(&a->kit);
    orl_policy_free(a->policy);
    free(a);
}

void orl_actor_normalize(const orl_actor *a, const float *obs, int64_t n, float *y) {
    orl_normalizer_apply(orl_policy_mlp_normalizer(a->policy), obs, n, y);
}

/* the Gaussian head (untransformed): act = mean + exp(log_std) eps, logp = log N(act) =
 * sum_j (-eps_j^2 / 2 - log_std_j) - A log(2 pi) / 2 */
static void gaussian_sample_forward(orl_actor *a, float *act, float *logp, const float *eps,
                                    int32_t batch) {
    int32_t A = a->act_dim;
    orl_gaussian_log_std(&a->head, a->log_std, a->out, batch);
    for (int32_t b = 0; b < batch; b++) {
        const float *mean = a->out + (size_t)b * 2 * (size_t)A;
        const float *ls = a->log_std + (size_t)b * (size_t)A;
        double sum = 0.0;
        for (int32_t j = 0; j < A; j++) {
            double e = eps ? (double)eps[(size_t)b * (size_t)A + (size_t)j] : 0.0;
            act[(size_t)b * (size_t)A + (size_t)j] =
                (float)((double)mean[j] + exp((double)ls[j]) * e);
            sum += -0.5 * e * e - (double)ls[j];
        }
        if (logp) logp[b] = (float)(sum - 0.5 * (double)A * 1.8378770664093453 /* log(2 pi) */);
    }
}

/* its backward with eps fixed: d act / d mean = 1, d act / d log_std = std eps,
 * d logp / d log_std = -1 (d logp / d mean = 0); log_std = min + (max - min) (tanh(raw) + 1) / 2 */
static void gaussian_sample_backward(orl_actor *a, const float *dact, const float *dlogp,
                                     const float *eps, int32_t batch) {
    int32_t A = a->act_dim;
    double half = 0.5 * ((double)a->head.log_std_max - (double)a->head.log_std_min);
    for (int32_t b = 0; b < batch; b++) {
        const float *raw = a->out + (size_t)b * 2 * (size_t)A + (size_t)A;
        float *dmean = a->dout + (size_t)b * 2 * (size_t)A, *draw = dmean + A;
        for (int32_t j = 0; j < A; j++) {
            size_t i = (size_t)b * (size_t)A + (size_t)j;
            double e = eps ? (double)eps[i] : 0.0;
            double std = exp((double)a->log_std[i]);
            double dls = dlogp ? -(double)dlogp[b] : 0.0;
            if (dact) {
                dmean[j] += dact[i];
                dls += (double)dact[i] * std * e;
            }
            double t = tanh((double)raw[j]);
            draw[j] += (float)(dls * half * (1.0 - t * t));
        }
    }
}

void orl_actor_forward(orl_actor *a, const float *obs, int32_t batch, orl_rng *rng, float *act,
                       float *logp) {
    assert(a && obs && act && batch >= 1 && batch <= a->cfg.max_batch);
    int32_t A = a->act_dim;
    a->out = orl_fit_forward(&a->kit, obs, batch);
    a->batch = batch;
    a->pass = ACTOR_PASS_SAMPLE;
    a->noise = rng != NULL;
    if (rng) orl_normal_fill(a->eps, (int64_t)batch * A, rng);
    const float *eps = rng ? a->eps : NULL;
    switch (a->cfg.head) {
    case ORL_POLICY_HEAD_DETERMINISTIC:
        assert(!logp && "the deterministic head has no log-density");
        orl_tanh_head_forward(act, a->out, a->policy->act_low, a->policy->act_high, batch, A);
        break;
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
        orl_tanh_gaussian_sample_forward(&a->head, act, logp, a->out, eps, batch);
        break;
    default:
        gaussian_sample_forward(a, act, logp, eps, batch);
        break;
    }
}

void orl_actor_log_prob(orl_actor *a, const float *obs, int32_t batch, const float *act,
                        float *logp) {
    assert(a && obs && act && logp && batch >= 1 && batch <= a->cfg.max_batch);
    assert(a->cfg.head != ORL_POLICY_HEAD_DETERMINISTIC);
    a->out = orl_fit_forward(&a->kit, obs, batch);
    a->batch = batch;
    a->pass = ACTOR_PASS_LOG_PROB;
    memcpy(a->act_in, act, (size_t)batch * (size_t)a->act_dim * sizeof(float));
    if (a->cfg.head == ORL_POLICY_HEAD_TANH_GAUSSIAN)
        orl_tanh_gaussian_log_prob_forward(&a->head, logp, a->out, a->act_in, batch);
    else
        orl_gaussian_log_prob_forward(&a->head, logp, a->out, a->act_in, batch);
}

void orl_actor_backward(orl_actor *a, const float *dact, const float *dlogp) {
    assert(a && a->pass != ACTOR_PASS_NONE);
    int32_t B = a->batch, A = a->act_dim;
    memset(a->dout, 0, (size_t)B * (size_t)a->out_dim * sizeof(float));
    const float *eps = a->noise ? a->eps : NULL;
    if (a->pass == ACTOR_PASS_LOG_PROB) {
        assert(!dact && "log_prob's backward takes dlogp alone");
        if (!dlogp) return;
        if (a->cfg.head == ORL_POLICY_HEAD_TANH_GAUSSIAN)
            orl_tanh_gaussian_log_prob_backward(&a->head, a->dout, dlogp, a->out, a->act_in, B);
        else
            orl_gaussian_log_prob_backward(&a->head, a->dout, dlogp, a->out, a->act_in, B);
    } else {
        switch (a->cfg.head) {
        case ORL_POLICY_HEAD_DETERMINISTIC:
            if (dact)
                orl_tanh_head_backward(a->dout, dact, a->out, a->policy->act_low,
                                       a->policy->act_high, B, A);
            break;
        case ORL_POLICY_HEAD_TANH_GAUSSIAN:
            orl_tanh_gaussian_sample_backward(&a->head, a->dout, dact, dlogp, a->out, eps, B);
            break;
        default:
            gaussian_sample_backward(a, dact, dlogp, eps, B);
            break;
        }
    }
    orl_fit_backward(&a->kit, a->dout, NULL);
}

void orl_actor_target_forward(orl_actor *a, const float *obs, int32_t batch, float *act) {
    assert(a && a->cfg.target && obs && act);
    int32_t A = a->act_dim;
    const float *u = orl_fit_target_forward(&a->kit, obs, batch);
    switch (a->cfg.head) {
    case ORL_POLICY_HEAD_DETERMINISTIC:
        orl_tanh_head_forward(act, u, a->policy->act_low, a->policy->act_high, batch, A);
        break;
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
        orl_tanh_gaussian_sample_forward(&a->head, act, NULL, u, NULL, batch);
        break;
    default:
        for (int32_t b = 0; b < batch; b++)
            memcpy(act + (size_t)b * (size_t)A, u + (size_t)b * 2 * (size_t)A,
                   (size_t)A * sizeof(float));
        break;
    }
}

double orl_actor_step(orl_actor *a, float lr) {
    return orl_fit_step(&a->kit, lr);
}

void orl_actor_polyak(orl_actor *a, float tau) {
    orl_fit_polyak(&a->kit, tau);
}

orl_policy *orl_actor_policy(orl_actor *a) {
    return a->policy;
}

orl_fit *orl_actor_kit(orl_actor *a) {
    return &a->kit;
}

int32_t orl_actor_buffers(orl_actor *a, const char *prefix, orl_buffer *out, int32_t cap,
                          int32_t n) {
    return orl_fit_buffers(&a->kit, prefix, out, cap, n);
}

/* ---- the entropy temperature ---- */

orl_status orl_temperature_init(orl_temperature *t, float init_alpha, float target_entropy,
                                float lr) {
    assert(t);
    memset(t, 0, sizeof *t);
    if (!(init_alpha > 0.0f) || !isfinite(init_alpha))
        ORL_FAIL(ORL_ERR_INPUT, "temperature: initial alpha %g: expected > 0", (double)init_alpha);
    if (!(lr > 0.0f)) ORL_FAIL(ORL_ERR_INPUT, "temperature: lr %g: expected > 0", (double)lr);
    assert(orl_adam_moment_floats(1) <= (int64_t)(sizeof t->moments / sizeof t->moments[0]));
    orl_adam_config ac = orl_adam_defaults();
    ac.lr = lr;
    ORL_TRY(orl_adam_bind(&t->adam, &ac, 1, t->moments));
    t->log_alpha = logf(init_alpha);
    t->target_entropy = target_entropy;
    return ORL_OK;
}

void orl_temperature_step_grad(orl_temperature *t, double grad) {
    assert(t && t->adam.m == t->moments && "orl_temperature was copied or not initialised");
    float g = (float)grad;
    orl_adam_step(&t->adam, &t->log_alpha, &g, -1.0f);
}

double orl_temperature_step(orl_temperature *t, const float *logp, int32_t batch) {
    assert(t && logp && batch >= 1);
    double sum = 0.0;
    for (int32_t b = 0; b < batch; b++) sum += (double)logp[b] + (double)t->target_entropy;
    double mean = sum / batch;
    double loss = -(double)t->log_alpha * mean;
    orl_temperature_step_grad(t, -mean);
    return loss;
}

float orl_temperature_alpha(const orl_temperature *t) {
    return expf(t->log_alpha);
}

int32_t orl_temperature_buffers(orl_temperature *t, const char *prefix, orl_buffer *out,
                                int32_t cap, int32_t n) {
    orl_buffer_put(out, cap, &n, prefix, "log_alpha", &t->log_alpha, (int64_t)sizeof(float));
    orl_buffer_put(out, cap, &n, prefix, "adam_m", t->adam.m, (int64_t)sizeof(float));
    orl_buffer_put(out, cap, &n, prefix, "adam_v", t->adam.v, (int64_t)sizeof(float));
    orl_buffer_put(out, cap, &n, prefix, "adam_t", &t->adam.t, (int64_t)sizeof t->adam.t);
    return n;
}
