/* Critic ensembles (include/orl/models.h, "actor-critic"): K Q-networks, each a fit kit with a
 * target copy, evaluated in one call over the concatenated input [s, a] (continuous actions) or
 * over s with one output per action (discrete), with min / mean / mix target reductions and the
 * gradient of Q with respect to the action for an actor (which leaves the critics' own
 * gradients alone). The inputs are copied into the critic's scratch, so callers may reuse their
 * buffers; the live and the target forward have separate inputs and workspaces. Not here: the
 * losses (the learners compute dq) and the policies built from a critic. No allocation after
 * create. */
#include "orl/models.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct orl_critic {
    orl_critic_config cfg;
    int32_t in_dim;  /* I = S + A (continuous) or S (discrete) */
    int32_t out_dim; /* O = 1 or n */
    int32_t batch;   /* B of the last live forward */
    int32_t n_fwd;   /* m, members in the last live forward */
    orl_fit *fits;   /* (K) */
    float *x;        /* (max_batch, I) the live forward's input */
    float *xt;       /* (max_batch, I) the target forward's input */
    float *q;        /* (K, max_batch, O) live values */
    float *qt;       /* (K, max_batch, O) target values */
    float *dx;       /* (max_batch, I) action-gradient scratch */
};

orl_critic_config orl_critic_defaults(int32_t obs_dim, int32_t act_dim, int32_t n_actions,
                                      int32_t max_batch) {
    orl_critic_config c;
    memset(&c, 0, sizeof c);
    c.obs_dim = obs_dim;
    c.act_dim = act_dim;
    c.n_actions = n_actions;
    c.members = 2;
    c.hidden = 256;
    c.layers = 2;
    c.activation = ORL_ACTIVATION_RELU;
    c.init = ORL_INIT_FAN_IN_UNIFORM;
    c.layer_norm = 0;
    c.lr = 3e-4f;
    c.max_grad_norm = 0.0;
    c.max_batch = max_batch;
    return c;
}

orl_status orl_critic_create(const orl_critic_config *cfg, orl_rng *rng, orl_critic **out) {
    assert(cfg && rng && out);
    *out = NULL;
    int continuous = cfg->act_dim > 0;
    if (cfg->obs_dim < 1) ORL_FAIL(ORL_ERR_INPUT, "critic: obs_dim %d < 1", cfg->obs_dim);
    if (continuous == (cfg->n_actions > 0) || cfg->act_dim < 0 ||
        (!continuous && cfg->n_actions < 2))
        ORL_FAIL(ORL_ERR_INPUT,
                 "critic: act_dim %d, n_actions %d: expected act_dim >= 1 (continuous) or "
                 "n_actions >= 2 (discrete), not both",
                 cfg->act_dim, cfg->n_actions);
    if (cfg->members < 1) ORL_FAIL(ORL_ERR_INPUT, "critic: members %d < 1", cfg->members);
    if (cfg->hidden < 1 || cfg->layers < 1 || cfg->layers > ORL_MLP_MAX_LAYERS - 1)
        ORL_FAIL(ORL_ERR_INPUT, "critic: hidden=%d layers=%d: expected hidden >= 1, layers 1..%d",
                 cfg->hidden, cfg->layers, ORL_MLP_MAX_LAYERS - 1);
    if (!(cfg->lr > 0.0f)) ORL_FAIL(ORL_ERR_INPUT, "critic: lr=%g: expected > 0", (double)cfg->lr);
    if (cfg->max_batch < 1) ORL_FAIL(ORL_ERR_INPUT, "critic: max_batch %d < 1", cfg->max_batch);

    int32_t K = cfg->members, I = cfg->obs_dim + (continuous ? cfg->act_dim : 0);
    int32_t O = continuous ? 1 : cfg->n_actions;
    size_t Bm = (size_t)cfg->max_batch;
    size_t head = (sizeof(orl_critic) + 63) / 64 * 64;
    size_t fits = ((size_t)K * sizeof(orl_fit) + 63) / 64 * 64;
    size_t floats = 3 * Bm * (size_t)I + 2 * (size_t)K * Bm * (size_t)O;
    char *mem = calloc(1, head + fits + floats * sizeof(float));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "critic: out of memory (%d members)", K);
    orl_critic *c = (orl_critic *)(void *)mem;
    c->cfg = *cfg;
    c->in_dim = I;
    c->out_dim = O;
    c->fits = (orl_fit *)(void *)(mem + head);
    float *p = (float *)(void *)(mem + head + fits);
    c->x = p, p += Bm * (size_t)I;
    c->xt = p, p += Bm * (size_t)I;
    c->dx = p, p += Bm * (size_t)I;
    c->q = p, p += (size_t)K * Bm * (size_t)O;
    c->qt = p;

    orl_mlp_config net;
    memset(&net, 0, sizeof net);
    net.n_layers = cfg->layers + 1;
    net.widths[0] = I;
    for (int32_t l = 1; l <= cfg->layers; l++)
        net.widths[l] = cfg->widths[l - 1] > 0 ? cfg->widths[l - 1] : cfg->hidden;
    net.widths[cfg->layers + 1] = O;
    net.activation = cfg->activation;
    net.layer_norm = cfg->layer_norm;
    net.init = cfg->init;
    orl_fit_config fc = orl_fit_defaults(cfg->lr, cfg->max_batch);
    fc.max_grad_norm = cfg->max_grad_norm;
    fc.target = 1;
    orl_status st = ORL_OK;
    for (int32_t k = 0; k < K; k++)
        ORL_TRY_GOTO(st, fail, orl_fit_init(&c->fits[k], &net, &fc, rng));
    *out = c;
    return ORL_OK;
fail:
    orl_critic_free(c);
    return st;
}

void orl_critic_free(orl_critic *c) {
    if (!c) return;
    for (int32_t k = 0; k < c->cfg.members; k++) orl_fit_free(&c->fits[k]);
    free(c);
}

const orl_critic_config *orl_critic_get_config(const orl_critic *c) {
    return &c->cfg;
}

/* x (B, I) = [obs | act] row by row (or obs alone for discrete critics) */
static void critic_input(const orl_critic *c, float *x, const float *obs, const float *act,
                         int32_t batch) {
    int32_t S = c->cfg.obs_dim, A = c->cfg.act_dim, I = c->in_dim;
    if (A == 0) {
        memcpy(x, obs, (size_t)batch * (size_t)S * sizeof(float));
        return;
    }
    assert(act);
    for (int32_t b = 0; b < batch; b++) {
        memcpy(x + (size_t)b * (size_t)I, obs + (size_t)b * (size_t)S, (size_t)S * sizeof(float));
        memcpy(x + (size_t)b * (size_t)I + S, act + (size_t)b * (size_t)A,
               (size_t)A * sizeof(float));
    }
}

const float *orl_critic_forward_members(orl_critic *c, const float *obs, const float *act,
                                        int32_t batch, int32_t m) {
    assert(c && obs && batch >= 1 && batch <= c->cfg.max_batch && m >= 1 && m <= c->cfg.members);
    critic_input(c, c->x, obs, act, batch);
    size_t n = (size_t)batch * (size_t)c->out_dim;
    for (int32_t k = 0; k < m; k++) {
        const float *q = orl_fit_forward(&c->fits[k], c->x, batch);
        memcpy(c->q + (size_t)k * n, q, n * sizeof(float));
    }
    c->batch = batch;
    c->n_fwd = m;
    return c->q;
}

const float *orl_critic_forward(orl_critic *c, const float *obs, const float *act, int32_t batch) {
    return orl_critic_forward_members(c, obs, act, batch, c->cfg.members);
}

const float *orl_critic_target_forward(orl_critic *c, const float *obs, const float *act,
                                       int32_t batch) {
    assert(c && obs && batch >= 1 && batch <= c->cfg.max_batch);
    critic_input(c, c->xt, obs, act, batch);
    size_t n = (size_t)batch * (size_t)c->out_dim;
    for (int32_t k = 0; k < c->cfg.members; k++) {
        const float *q = orl_fit_target_forward(&c->fits[k], c->xt, batch);
        memcpy(c->qt + (size_t)k * n, q, n * sizeof(float));
    }
    return c->qt;
}

/* out (n) = the K target values qt (K, n) reduced elementwise */
static void reduce_members(const float *qt, int32_t K, size_t n, orl_critic_reduce reduce,
                           float lambda, float *out) {
    for (size_t i = 0; i < n; i++) {
        float mn = qt[i], mx = qt[i];
        double sum = qt[i];
        for (int32_t k = 1; k < K; k++) {
            float v = qt[(size_t)k * n + i];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            sum += v;
        }
        switch (reduce) {
        case ORL_CRITIC_REDUCE_MIN:
            out[i] = mn;
            break;
        case ORL_CRITIC_REDUCE_MEAN:
            out[i] = (float)(sum / K);
            break;
        case ORL_CRITIC_REDUCE_MIX:
            out[i] = lambda * mn + (1.0f - lambda) * mx;
            break;
        default:
            assert(0 && "critic: unknown reduction");
        }
    }
}

void orl_critic_target(orl_critic *c, const float *obs, const float *act, int32_t batch,
                       orl_critic_reduce reduce, float lambda, float *out) {
    assert(out);
    const float *qt = orl_critic_target_forward(c, obs, act, batch);
    reduce_members(qt, c->cfg.members, (size_t)batch * (size_t)c->out_dim, reduce, lambda, out);
}

void orl_critic_target_shared(orl_critic *c, const float *obs, int32_t repeat, const float *act,
                              int32_t batch, orl_critic_reduce reduce, float lambda, float *out) {
    assert(c && obs && act && out && c->cfg.act_dim > 0);
    assert(batch >= 1 && batch <= c->cfg.max_batch);
    size_t n = (size_t)batch * (size_t)c->out_dim;
    for (int32_t k = 0; k < c->cfg.members; k++) {
        const float *q =
            orl_fit_target_forward_shared(&c->fits[k], obs, c->cfg.obs_dim, repeat, act, batch);
        memcpy(c->qt + (size_t)k * n, q, n * sizeof(float));
    }
    reduce_members(c->qt, c->cfg.members, n, reduce, lambda, out);
}

void orl_critic_backward(orl_critic *c, const float *dq) {
    assert(c && dq && c->n_fwd >= 1);
    size_t n = (size_t)c->batch * (size_t)c->out_dim;
    for (int32_t k = 0; k < c->n_fwd; k++) orl_fit_backward(&c->fits[k], dq + (size_t)k * n, NULL);
}

void orl_critic_action_grad(orl_critic *c, const float *dq, float *dact) {
    assert(c && dq && dact && c->cfg.act_dim > 0 && c->n_fwd >= 1);
    int32_t B = c->batch, S = c->cfg.obs_dim, A = c->cfg.act_dim, I = c->in_dim;
    memset(c->dx, 0, (size_t)B * (size_t)I * sizeof(float));
    /* dparams NULL: the input gradient alone, the members' gradient buffers untouched */
    for (int32_t k = 0; k < c->n_fwd; k++) {
        orl_fit *f = &c->fits[k];
        orl_mlp_backward(&f->net, &f->work, dq + (size_t)k * (size_t)B, NULL, c->dx);
    }
    for (int32_t b = 0; b < B; b++)
        for (int32_t j = 0; j < A; j++)
            dact[(size_t)b * (size_t)A + (size_t)j] +=
                c->dx[(size_t)b * (size_t)I + (size_t)(S + j)];
}

void orl_critic_step(orl_critic *c, float lr) {
    for (int32_t k = 0; k < c->cfg.members; k++) orl_fit_step(&c->fits[k], lr);
}

void orl_critic_polyak(orl_critic *c, float tau) {
    for (int32_t k = 0; k < c->cfg.members; k++) orl_fit_polyak(&c->fits[k], tau);
}

void orl_critic_target_copy(orl_critic *c) {
    for (int32_t k = 0; k < c->cfg.members; k++) orl_fit_target_copy(&c->fits[k]);
}

orl_fit *orl_critic_member(orl_critic *c, int32_t k) {
    assert(c && k >= 0 && k < c->cfg.members);
    return &c->fits[k];
}

int32_t orl_critic_buffers(orl_critic *c, const char *prefix, orl_buffer *out, int32_t cap,
                           int32_t n) {
    char name[ORL_BUFFER_NAME_MAX];
    for (int32_t k = 0; k < c->cfg.members; k++) {
        snprintf(name, sizeof name, "%s%d", prefix ? prefix : "", (int)k);
        n = orl_fit_buffers(&c->fits[k], name, out, cap, n);
    }
    return n;
}
