/* Fitted Q evaluation: the neural version (discrete and continuous actions) and the exact
 * tabular version on the count-based empirical model (see orl/models.h for the definitions).
 *
 * Everything the training loop touches is allocated before the first step: the fit kit (the
 * online and target networks, Adam's moments, both workspaces: fit.h), the policy's workspace
 * and the mini-batch scratch. The evaluation policy's probabilities at every next state are
 * precomputed once for discrete actions; continuous actions are drawn per step from the policy
 * with the fit's own rng. Not here: the doubly robust estimators (ope/dr.c). */
#include "orl/models.h"

#include "orl/fit.h"
#include "orl/heads.h"
#include "orl/nn.h"
#include "orl/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

orl_fqe_config orl_fqe_config_defaults(void) {
    orl_fqe_config c;
    memset(&c, 0, sizeof c);
    c.gamma = NAN;
    c.hidden = 256;
    c.n_hidden = 2;
    c.steps = 50000;
    c.batch = 256;
    c.lr = 3e-4f;
    c.loss = ORL_FQE_LOSS_HUBER;
    c.huber_delta = 1.0f;
    c.grad_clip = 0.0f;
    c.target_update = ORL_FQE_TARGET_POLYAK;
    c.tau = 0.005f;
    c.target_period = 1000;
    c.n_action_samples = 10;
    c.normalize_obs = 1;
    c.seed = 0;
    return c;
}

void orl_fqe_result_free(orl_fqe_result *r) {
    if (!r) return;
    free(r->q);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* mean and standard error of v at the episode start states */
static void start_value(const orl_dataset *ds, orl_fqe_result *out) {
    double sum = 0.0, sum2 = 0.0;
    int64_t E = ds->n_episodes;
    for (int64_t e = 0; e < E; e++) sum += out->v[ds->ep_off[e]];
    double mean = sum / (double)E;
    for (int64_t e = 0; e < E; e++) {
        double d = out->v[ds->ep_off[e]] - mean;
        sum2 += d * d;
    }
    out->value = mean;
    out->value_stderr = E > 1 ? sqrt(sum2 / (double)(E - 1) / (double)E) : 0.0;
}

static orl_status result_alloc(const orl_dataset *ds, orl_fqe_result *out) {
    memset(out, 0, sizeof *out);
    out->n_steps = ds->n_steps;
    out->n_episodes = ds->n_episodes;
    out->q = calloc((size_t)ds->n_steps, sizeof(double));
    out->v = calloc((size_t)ds->n_steps, sizeof(double));
    if (!out->q || !out->v) {
        orl_fqe_result_free(out);
        ORL_FAIL(ORL_ERR_NOMEM, "fqe: cannot allocate %lld steps", (long long)ds->n_steps);
    }
    return ORL_OK;
}

/* ---- neural FQE ---- */

typedef struct fqe_ctx {
    const orl_dataset *ds;
    const orl_policy *policy;
    orl_fqe_config cfg;
    int discrete;
    int32_t S, A, n; /* observation size, action size, discrete actions */
    int32_t in, out; /* network input and output widths */
    int32_t B;
    double gamma;
    orl_normalizer nm; /* observation statistics (identity unless normalize_obs) */
    float *act_mid;    /* (A) action centre for scaling to [-1, 1] */
    float *act_half;   /* (A) action half-width (1 when unbounded) */
    orl_fit fit;       /* the Q-network, its target copy, Adam, both workspaces */
    orl_policy_work *pw;
    float *next_probs; /* (N, n) discrete: pi_e(.|s'); NULL for continuous */
    /* mini-batch scratch */
    int64_t *rows; /* (B) */
    int32_t *idx;  /* (B) action indices for policy calls */
    double *logp;  /* (B) */
    float *x;      /* (B, in) online input */
    float *xn;     /* (B, in) target input */
    float *raw;    /* (B, S) raw observations for the policy */
    float *act;    /* (B, A) actions from the policy */
    float *dout;   /* (B, out) */
    float *pred;   /* (B) */
    float *tgt;    /* (B) */
    float *dpred;  /* (B) */
    float *probs;  /* (B, n) policy probabilities */
    double *acc;   /* (B) target accumulator */
    void *mem;
} fqe_ctx;

static void ctx_free(fqe_ctx *c) {
    orl_fit_free(&c->fit);
    orl_policy_work_free(c->pw);
    orl_normalizer_free(&c->nm);
    free(c->next_probs);
    free(c->mem);
}

/* probs (B, n) of the discrete policy at raw observations obs (B, S): every action's logp, or
 * the one-hot of the argmax for a deterministic policy */
static orl_status policy_probs(fqe_ctx *c, const float *obs, int32_t batch, float *probs) {
    if (c->policy->deterministic) {
        ORL_TRY(
            orl_policy_act(c->policy, c->pw, obs, batch, ORL_POLICY_MODE_MEAN, NULL, NULL, c->idx));
        memset(probs, 0, (size_t)batch * (size_t)c->n * sizeof(float));
        for (int32_t b = 0; b < batch; b++) probs[(int64_t)b * c->n + c->idx[b]] = 1.0f;
        return ORL_OK;
    }
    for (int32_t a = 0; a < c->n; a++) {
        for (int32_t b = 0; b < batch; b++) c->idx[b] = a;
        ORL_TRY(orl_policy_logp(c->policy, c->pw, obs, batch, NULL, c->idx, c->logp));
        for (int32_t b = 0; b < batch; b++) probs[(int64_t)b * c->n + a] = (float)exp(c->logp[b]);
    }
    return ORL_OK;
}

/* row b of a network input: normalised observation, then (continuous) the scaled action */
static void put_input(const fqe_ctx *c, float *x, const float *obs, const float *act) {
    for (int32_t j = 0; j < c->S; j++) x[j] = (obs[j] - c->nm.mean[j]) / c->nm.std[j];
    if (!c->discrete)
        for (int32_t j = 0; j < c->A; j++) x[c->S + j] = (act[j] - c->act_mid[j]) / c->act_half[j];
}

static orl_status ctx_init(fqe_ctx *c, const orl_dataset *ds, const orl_policy *policy,
                           const orl_fqe_config *cfg) {
    c->ds = ds;
    c->policy = policy;
    c->cfg = *cfg;
    c->discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    c->S = ds->h.obs_dim;
    c->A = c->discrete ? 1 : ds->h.act_dim;
    c->n = c->discrete ? policy->n_actions : 0;
    c->in = c->discrete ? c->S : c->S + c->A;
    c->out = c->discrete ? c->n : 1;
    c->B = cfg->batch;
    double g = cfg->gamma;
    if (isnan(g)) g = isfinite(ds->h.discount) ? ds->h.discount : 0.99;
    c->gamma = g;

    if (cfg->normalize_obs)
        ORL_TRY(orl_normalizer_fit(&c->nm, ds->obs, ds->n_steps, c->S, 1e-3f));
    else
        ORL_TRY(orl_normalizer_identity(&c->nm, c->S));

    orl_mlp_config mc;
    memset(&mc, 0, sizeof mc);
    mc.n_layers = cfg->n_hidden + 1;
    mc.widths[0] = c->in;
    for (int32_t l = 1; l <= cfg->n_hidden; l++) mc.widths[l] = cfg->hidden;
    mc.widths[mc.n_layers] = c->out;
    mc.activation = ORL_ACTIVATION_RELU;
    mc.init = ORL_INIT_FAN_IN_UNIFORM;
    orl_rng init_rng;
    orl_rng_seed(&init_rng, cfg->seed, 1);
    orl_fit_config fc = orl_fit_defaults(cfg->lr, c->B);
    fc.max_grad_norm = cfg->grad_clip > 0.0f ? (double)cfg->grad_clip : 0.0;
    fc.target = 1; /* a copy of the initial parameters */
    ORL_TRY(orl_fit_init(&c->fit, &mc, &fc, &init_rng));
    ORL_TRY(orl_policy_work_create(policy, c->B, &c->pw));

    size_t B = (size_t)c->B;
    size_t nf = 2 * B * (size_t)c->in + B * (size_t)c->S + B * (size_t)c->A + B * (size_t)c->out +
                3 * B + B * (size_t)(c->n > 0 ? c->n : 1) + 2 * (size_t)c->A;
    size_t bytes =
        nf * sizeof(float) + B * (sizeof(int64_t) + sizeof(int32_t) + 2 * sizeof(double));
    c->mem = calloc(1, bytes);
    if (!c->mem) ORL_FAIL(ORL_ERR_NOMEM, "fqe: cannot allocate the training scratch");
    /* doubles and int64 first for alignment, then int32, then floats */
    char *p = c->mem;
    c->rows = (int64_t *)(void *)p, p += B * sizeof(int64_t);
    c->logp = (double *)(void *)p, p += B * sizeof(double);
    c->acc = (double *)(void *)p, p += B * sizeof(double);
    c->idx = (int32_t *)(void *)p, p += B * sizeof(int32_t);
    float *f = (float *)(void *)p;
    c->x = f, f += B * (size_t)c->in;
    c->xn = f, f += B * (size_t)c->in;
    c->raw = f, f += B * (size_t)c->S;
    c->act = f, f += B * (size_t)c->A;
    c->dout = f, f += B * (size_t)c->out;
    c->pred = f, f += B;
    c->tgt = f, f += B;
    c->dpred = f, f += B;
    c->probs = f, f += B * (size_t)(c->n > 0 ? c->n : 1);
    c->act_mid = f, f += (size_t)c->A;
    c->act_half = f, f += (size_t)c->A;

    /* actions are scaled to [-1, 1] by the policy's bounds where they are finite */
    for (int32_t j = 0; j < c->A; j++) {
        c->act_mid[j] = 0.0f;
        c->act_half[j] = 1.0f;
        if (!c->discrete && policy->act_low && policy->act_high && isfinite(policy->act_low[j]) &&
            isfinite(policy->act_high[j]) && policy->act_high[j] > policy->act_low[j]) {
            c->act_mid[j] = 0.5f * (policy->act_high[j] + policy->act_low[j]);
            c->act_half[j] = 0.5f * (policy->act_high[j] - policy->act_low[j]);
        }
    }

    /* discrete: pi_e(.|s') at every logged next state, once */
    if (c->discrete) {
        int64_t N = ds->n_steps;
        c->next_probs = malloc((size_t)N * (size_t)c->n * sizeof(float));
        if (!c->next_probs)
            ORL_FAIL(ORL_ERR_NOMEM, "fqe: cannot allocate next-state probabilities");
        for (int64_t i0 = 0; i0 < N; i0 += c->B) {
            int32_t nb = (int32_t)(N - i0 < c->B ? N - i0 : c->B);
            ORL_TRY(policy_probs(c, ds->next_obs + i0 * c->S, nb, c->next_probs + i0 * c->n));
        }
    }
    return ORL_OK;
}

/* one gradient step on a uniformly drawn mini-batch; returns the loss in *loss */
static orl_status train_step(fqe_ctx *c, orl_rng *batch_rng, orl_rng *act_rng, double *loss) {
    const orl_dataset *ds = c->ds;
    int32_t B = c->B, S = c->S, A = c->A;
    for (int32_t b = 0; b < B; b++) {
        int64_t i = (int64_t)orl_rng_below(batch_rng, (uint32_t)ds->n_steps);
        c->rows[b] = i;
        put_input(c, c->x + (int64_t)b * c->in, ds->obs + i * S,
                  c->discrete ? NULL : ds->act + i * A);
        c->acc[b] = 0.0;
    }

    /* targets: r + gamma (1 - terminal) E_{a' ~ pi_e} Q_target(s', a') */
    if (c->discrete) {
        for (int32_t b = 0; b < B; b++)
            put_input(c, c->xn + (int64_t)b * c->in, ds->next_obs + c->rows[b] * S, NULL);
        const float *qt = orl_fit_target_forward(&c->fit, c->xn, B);
        for (int32_t b = 0; b < B; b++) {
            const float *pr = c->next_probs + c->rows[b] * c->n;
            double s = 0.0;
            for (int32_t a = 0; a < c->n; a++) s += (double)pr[a] * qt[(int64_t)b * c->n + a];
            c->acc[b] = s;
        }
    } else {
        int det = c->policy->deterministic;
        int32_t K = det ? 1 : c->cfg.n_action_samples;
        for (int32_t b = 0; b < B; b++)
            memcpy(c->raw + (int64_t)b * S, ds->next_obs + c->rows[b] * S,
                   (size_t)S * sizeof(float));
        for (int32_t k = 0; k < K; k++) {
            ORL_TRY(orl_policy_act(c->policy, c->pw, c->raw, B,
                                   det ? ORL_POLICY_MODE_MEAN : ORL_POLICY_MODE_SAMPLE, act_rng,
                                   c->act, NULL));
            for (int32_t b = 0; b < B; b++)
                put_input(c, c->xn + (int64_t)b * c->in, c->raw + (int64_t)b * S,
                          c->act + (int64_t)b * A);
            const float *qt = orl_fit_target_forward(&c->fit, c->xn, B);
            for (int32_t b = 0; b < B; b++) c->acc[b] += qt[b];
        }
        for (int32_t b = 0; b < B; b++) c->acc[b] /= (double)K;
    }
    for (int32_t b = 0; b < B; b++) {
        int64_t i = c->rows[b];
        double boot = ds->terminal[i] ? 0.0 : c->gamma * c->acc[b];
        c->tgt[b] = (float)((double)ds->rew[i] + boot);
    }

    /* prediction at the logged action, loss, backward */
    const float *qo = orl_fit_forward(&c->fit, c->x, B);
    for (int32_t b = 0; b < B; b++)
        c->pred[b] = c->discrete ? qo[(int64_t)b * c->n + ds->act_idx[c->rows[b]]] : qo[b];
    memset(c->dpred, 0, (size_t)B * sizeof(float));
    *loss = c->cfg.loss == ORL_FQE_LOSS_MSE
                ? orl_loss_mse(c->dpred, c->pred, c->tgt, B, 1.0f)
                : orl_loss_huber(c->dpred, c->pred, c->tgt, B, c->cfg.huber_delta, 1.0f);
    memset(c->dout, 0, (size_t)B * (size_t)c->out * sizeof(float));
    for (int32_t b = 0; b < B; b++) {
        int64_t col = c->discrete ? ds->act_idx[c->rows[b]] : 0;
        c->dout[(int64_t)b * c->out + col] = c->dpred[b];
    }
    orl_fit_backward(&c->fit, c->dout, NULL);
    orl_fit_step(&c->fit, -1.0f); /* clipped to grad_clip when > 0 */
    return ORL_OK;
}

/* q and v at every logged step with the trained network */
static orl_status evaluate_all(fqe_ctx *c, orl_fqe_result *out) {
    const orl_dataset *ds = c->ds;
    int64_t N = ds->n_steps;
    int32_t S = c->S, A = c->A;
    orl_rng eval_rng;
    orl_rng_seed(&eval_rng, c->cfg.seed, 4);
    for (int64_t i0 = 0; i0 < N; i0 += c->B) {
        int32_t nb = (int32_t)(N - i0 < c->B ? N - i0 : c->B);
        const float *obs = ds->obs + i0 * S;
        if (c->discrete) {
            for (int32_t b = 0; b < nb; b++)
                put_input(c, c->x + (int64_t)b * c->in, obs + (int64_t)b * S, NULL);
            const float *qo = orl_fit_forward(&c->fit, c->x, nb);
            ORL_TRY(policy_probs(c, obs, nb, c->probs));
            for (int32_t b = 0; b < nb; b++) {
                double s = 0.0;
                for (int32_t a = 0; a < c->n; a++)
                    s += (double)c->probs[(int64_t)b * c->n + a] * qo[(int64_t)b * c->n + a];
                out->v[i0 + b] = s;
                out->q[i0 + b] = qo[(int64_t)b * c->n + ds->act_idx[i0 + b]];
            }
        } else {
            for (int32_t b = 0; b < nb; b++)
                put_input(c, c->x + (int64_t)b * c->in, obs + (int64_t)b * S,
                          ds->act + (i0 + b) * A);
            const float *qo = orl_fit_forward(&c->fit, c->x, nb);
            for (int32_t b = 0; b < nb; b++) out->q[i0 + b] = qo[b];
            int det = c->policy->deterministic;
            int32_t K = det ? 1 : c->cfg.n_action_samples;
            for (int32_t b = 0; b < nb; b++) c->acc[b] = 0.0;
            for (int32_t k = 0; k < K; k++) {
                ORL_TRY(orl_policy_act(c->policy, c->pw, obs, nb,
                                       det ? ORL_POLICY_MODE_MEAN : ORL_POLICY_MODE_SAMPLE,
                                       &eval_rng, c->act, NULL));
                for (int32_t b = 0; b < nb; b++)
                    put_input(c, c->x + (int64_t)b * c->in, obs + (int64_t)b * S,
                              c->act + (int64_t)b * A);
                qo = orl_fit_forward(&c->fit, c->x, nb);
                for (int32_t b = 0; b < nb; b++) c->acc[b] += qo[b];
            }
            for (int32_t b = 0; b < nb; b++) out->v[i0 + b] = c->acc[b] / (double)K;
        }
    }
    return ORL_OK;
}

orl_status orl_fqe_fit(const orl_dataset *ds, const orl_policy *policy, const orl_fqe_config *cfg,
                       const orl_progress *progress, orl_fqe_result *out) {
    orl_fqe_config def = orl_fqe_config_defaults();
    if (!cfg) cfg = &def;
    if (!ds || !policy || !out) ORL_FAIL(ORL_ERR_INPUT, "fqe: NULL dataset, policy or result");
    if (ds->n_steps < 1 || ds->n_episodes < 1) ORL_FAIL(ORL_ERR_INPUT, "fqe: empty dataset");
    if (ds->n_steps > (int64_t)UINT32_MAX)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "fqe: more than 2^32 steps");
    if (cfg->hidden < 1 || cfg->n_hidden < 1 || cfg->n_hidden > ORL_MLP_MAX_LAYERS - 1)
        ORL_FAIL(ORL_ERR_INPUT, "fqe: hidden %d x %d is not a valid network", cfg->hidden,
                 cfg->n_hidden);
    if (cfg->steps < 0 || cfg->batch < 1 || !(cfg->lr > 0.0f))
        ORL_FAIL(ORL_ERR_INPUT, "fqe: steps %lld, batch %d, lr %g", (long long)cfg->steps,
                 cfg->batch, (double)cfg->lr);
    if (!isnan(cfg->gamma) && !(cfg->gamma >= 0.0 && cfg->gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "fqe: gamma %g outside [0, 1]", cfg->gamma);
    if (cfg->target_update == ORL_FQE_TARGET_POLYAK && !(cfg->tau > 0.0f && cfg->tau <= 1.0f))
        ORL_FAIL(ORL_ERR_INPUT, "fqe: tau %g outside (0, 1]", (double)cfg->tau);
    if (cfg->target_update == ORL_FQE_TARGET_HARD && cfg->target_period < 1)
        ORL_FAIL(ORL_ERR_INPUT, "fqe: target_period %lld < 1", (long long)cfg->target_period);
    if (cfg->loss == ORL_FQE_LOSS_HUBER && !(cfg->huber_delta > 0.0f))
        ORL_FAIL(ORL_ERR_INPUT, "fqe: huber_delta %g <= 0", (double)cfg->huber_delta);
    if (ds->h.action_kind == ORL_ACTION_KIND_CONTINUOUS && !policy->deterministic &&
        cfg->n_action_samples < 1)
        ORL_FAIL(ORL_ERR_INPUT, "fqe: n_action_samples %d < 1", cfg->n_action_samples);
    ORL_TRY(orl_policy_check_dims(policy, ds->h.obs_dim, ds->h.act_dim, ds->h.action_kind,
                                  ds->h.n_actions));
    if (ds->h.action_kind == ORL_ACTION_KIND_DISCRETE)
        for (int64_t i = 0; i < ds->n_steps; i++)
            if (ds->act_idx[i] < 0 || ds->act_idx[i] >= policy->n_actions)
                ORL_FAIL(ORL_ERR_INPUT, "fqe: step %lld: action %d outside [0, %d)", (long long)i,
                         ds->act_idx[i], policy->n_actions);

    fqe_ctx c;
    memset(&c, 0, sizeof c);
    memset(out, 0, sizeof *out);
    orl_status st = ctx_init(&c, ds, policy, cfg);
    if (st != ORL_OK) goto done;
    ORL_TRY_GOTO(st, done, result_alloc(ds, out));
    out->gamma = c.gamma;

    orl_rng batch_rng, act_rng;
    orl_rng_seed(&batch_rng, cfg->seed, 2);
    orl_rng_seed(&act_rng, cfg->seed, 3);
    int64_t tail = cfg->steps / 100 > 0 ? cfg->steps / 100 : 1;
    double tail_sum = 0.0;
    int64_t tail_n = 0;
    for (int64_t step = 0; step < cfg->steps; step++) {
        double loss = 0.0;
        ORL_TRY_GOTO(st, done, train_step(&c, &batch_rng, &act_rng, &loss));
        if (!isfinite(loss))
            ORL_FAIL_GOTO(st, done, ORL_ERR_NUMERIC, "fqe: non-finite loss at step %lld",
                          (long long)step);
        if (cfg->target_update == ORL_FQE_TARGET_POLYAK)
            orl_fit_polyak(&c.fit, cfg->tau);
        else if ((step + 1) % cfg->target_period == 0)
            orl_fit_target_copy(&c.fit);
        if (step >= cfg->steps - tail) tail_sum += loss, tail_n++;
        if ((step + 1) % 1000 == 0 || step + 1 == cfg->steps)
            ORL_TRY_GOTO(st, done,
                         (orl_status)orl_progress_report(progress, step + 1, cfg->steps, "fqe"));
    }
    out->final_loss = tail_n > 0 ? tail_sum / (double)tail_n : 0.0;
    out->iterations = cfg->steps;
    ORL_TRY_GOTO(st, done, evaluate_all(&c, out));
    start_value(ds, out);

done:
    if (st != ORL_OK) orl_fqe_result_free(out);
    ctx_free(&c);
    return st;
}

/* ---- tabular FQE ---- */

/* the index of the one 1 in a one-hot row, or -1 */
static int32_t one_hot_index(const float *x, int32_t n) {
    int32_t k = -1;
    for (int32_t j = 0; j < n; j++) {
        if (x[j] == 1.0f) {
            if (k >= 0) return -1;
            k = j;
        } else if (x[j] != 0.0f) {
            return -1;
        }
    }
    return k;
}

orl_status orl_fqe_tabular(const orl_dataset *ds, const double *probs, int32_t n_states,
                           int32_t n_actions, const orl_fqe_tabular_config *cfg,
                           orl_fqe_result *out) {
    if (!ds || !probs || !cfg || !out) ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: NULL argument");
    if (ds->h.action_kind != ORL_ACTION_KIND_DISCRETE)
        ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: the dataset's actions are continuous");
    if (n_states < 1 || n_actions < 1 || ds->h.obs_dim != n_states)
        ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: obs_dim %d, n_states %d, n_actions %d", ds->h.obs_dim,
                 n_states, n_actions);
    if (ds->n_steps < 1 || ds->n_episodes < 1)
        ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: empty dataset");
    if (!(cfg->gamma >= 0.0 && cfg->gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: gamma %g outside [0, 1]", cfg->gamma);
    if (cfg->horizon < 0) ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: horizon %d < 0", cfg->horizon);

    int64_t N = ds->n_steps;
    size_t SA = (size_t)n_states * (size_t)n_actions;
    int32_t H = cfg->horizon;
    size_t n_q = H > 0 ? (size_t)(H + 1) * SA : 2 * SA;
    /* counts (SA), reward sums (SA), non-terminal transition counts (SA, S), Q tables, V (S);
       state indices (N) */
    size_t nd = 2 * SA + SA * (size_t)n_states + n_q + (size_t)n_states;
    double *mem = calloc(nd, sizeof(double));
    int32_t *st_idx = malloc((size_t)N * sizeof(int32_t));
    memset(out, 0, sizeof *out);
    orl_status st = ORL_OK;
    if (!mem || !st_idx) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "fqe tabular: out of memory");
    double *cnt = mem, *rsum = cnt + SA, *trans = rsum + SA, *Q = trans + SA * (size_t)n_states;
    double *V = Q + n_q;
    int32_t *s_of = st_idx;

    /* the empirical model */
    for (int64_t i = 0; i < N; i++) {
        int32_t s = one_hot_index(ds->obs + i * n_states, n_states);
        int32_t sn = one_hot_index(ds->next_obs + i * n_states, n_states);
        int32_t a = ds->act_idx[i];
        if (s < 0 || (sn < 0 && !ds->terminal[i]))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                          "fqe tabular: step %lld: observation is not one-hot over %d states",
                          (long long)i, n_states);
        if (a < 0 || a >= n_actions)
            ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "fqe tabular: step %lld: action %d",
                          (long long)i, a);
        s_of[i] = s;
        size_t k = (size_t)s * (size_t)n_actions + (size_t)a;
        cnt[k] += 1.0;
        rsum[k] += ds->rew[i];
        if (!ds->terminal[i]) trans[k * (size_t)n_states + (size_t)sn] += 1.0;
    }

    ORL_TRY_GOTO(st, fail, result_alloc(ds, out));
    out->gamma = cfg->gamma;

    /* one Bellman sweep of the empirical model: qn = r^ + gamma P^ V(q) */
#define SWEEP(qn, qo)                                                                              \
    do {                                                                                           \
        for (int32_t s = 0; s < n_states; s++) {                                                   \
            double vs = 0.0;                                                                       \
            for (int32_t a = 0; a < n_actions; a++)                                                \
                vs += probs[(size_t)s * (size_t)n_actions + (size_t)a] *                           \
                      (qo)[(size_t)s * (size_t)n_actions + (size_t)a];                             \
            V[s] = vs;                                                                             \
        }                                                                                          \
        for (size_t k = 0; k < SA; k++) {                                                          \
            if (cnt[k] == 0.0) {                                                                   \
                (qn)[k] = 0.0;                                                                     \
                continue;                                                                          \
            }                                                                                      \
            double boot = 0.0;                                                                     \
            const double *tr = trans + k * (size_t)n_states;                                       \
            for (int32_t s2 = 0; s2 < n_states; s2++)                                              \
                if (tr[s2] != 0.0) boot += tr[s2] * V[s2];                                         \
            (qn)[k] = (rsum[k] + cfg->gamma * boot) / cnt[k];                                      \
        }                                                                                          \
    } while (0)

    if (H > 0) {
        /* Q_0 = 0; Q_h from Q_{h-1} */
        for (int32_t h = 1; h <= H; h++) SWEEP(Q + (size_t)h * SA, Q + (size_t)(h - 1) * SA);
        out->iterations = H;
        for (int64_t e = 0; e < ds->n_episodes; e++)
            for (int64_t i = ds->ep_off[e]; i < ds->ep_off[e + 1]; i++) {
                int64_t h = H - (i - ds->ep_off[e]);
                if (h < 1) continue; /* beyond the horizon: nothing is left */
                const double *qh = Q + (size_t)h * SA + (size_t)s_of[i] * (size_t)n_actions;
                double vs = 0.0;
                for (int32_t a = 0; a < n_actions; a++)
                    vs += probs[(size_t)s_of[i] * (size_t)n_actions + (size_t)a] * qh[a];
                out->q[i] = qh[ds->act_idx[i]];
                out->v[i] = vs;
            }
    } else {
        int64_t max_iter = cfg->max_iter > 0 ? cfg->max_iter : 100000;
        double tol = cfg->tol > 0.0 ? cfg->tol : 1e-10;
        double *qa = Q, *qb = Q + SA, change = INFINITY;
        int64_t it = 0;
        while (it < max_iter && change > tol) {
            SWEEP(qb, qa);
            change = 0.0;
            for (size_t k = 0; k < SA; k++) change = fmax(change, fabs(qb[k] - qa[k]));
            double *t = qa;
            qa = qb, qb = t;
            it++;
        }
        if (!(change <= tol))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_NUMERIC,
                          "fqe tabular: no convergence in %lld sweeps (last change %g; gamma %g)",
                          (long long)it, change, cfg->gamma);
        out->iterations = it;
        out->final_loss = change;
        for (int64_t i = 0; i < N; i++) {
            const double *qs = qa + (size_t)s_of[i] * (size_t)n_actions;
            double vs = 0.0;
            for (int32_t a = 0; a < n_actions; a++)
                vs += probs[(size_t)s_of[i] * (size_t)n_actions + (size_t)a] * qs[a];
            out->q[i] = qs[ds->act_idx[i]];
            out->v[i] = vs;
        }
    }
#undef SWEEP
    start_value(ds, out);
    free(mem);
    free(st_idx);
    return ORL_OK;

fail:
    orl_fqe_result_free(out);
    free(mem);
    free(st_idx);
    return st;
}
