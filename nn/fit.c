/* The fit kit (include/orl/fit.h): an MLP, its workspace, Adam's moments, the gradient buffer
 * and an optional target copy in one 64-byte aligned allocation, and the training step as the
 * plain sequence of nn.c's calls (forward, backward into zeroed gradients, optional global-norm
 * clip, Adam), so a trainer built on it gives the bits of the hand-written loop it replaces.
 * Not here: losses and heads (heads.h), what is fitted to what (the trainers). */
#include "nn/internal.h"
#include "orl/fit.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

orl_fit_config orl_fit_defaults(float lr, int32_t max_batch) {
    orl_fit_config c;
    memset(&c, 0, sizeof c);
    c.adam = orl_adam_defaults();
    c.adam.lr = lr;
    c.max_batch = max_batch;
    c.max_grad_norm = 0.0;
    c.target = 0;
    return c;
}

/* the common part of both inits: net_cfg describes the network, params its parameters (NULL:
 * the kit's own, placed first in the allocation) */
static orl_status fit_setup(orl_fit *f, const orl_mlp_config *net_cfg, float *params,
                            const orl_fit_config *cfg) {
    memset(f, 0, sizeof *f);
    if (cfg->max_batch < 1) ORL_FAIL(ORL_ERR_INPUT, "fit: max_batch %d < 1", cfg->max_batch);
    if (!(cfg->max_grad_norm >= 0.0))
        ORL_FAIL(ORL_ERR_INPUT, "fit: max_grad_norm %g < 0", cfg->max_grad_norm);
    int64_t n_params = 0;
    size_t work_bytes = 0;
    ORL_TRY(orl_mlp_param_count(net_cfg, &n_params));
    ORL_TRY(orl_mlp_work_bytes(net_cfg, cfg->max_batch, &work_bytes));
    size_t P = nn_round((size_t)n_params);
    size_t moments = (size_t)orl_adam_moment_floats(n_params);
    /* floats: own parameters, target, moments, gradients; then the workspaces (bytes) */
    size_t floats = (params ? 0 : P) + (cfg->target ? P : 0) + moments + P;
    size_t bytes = floats * sizeof(float) + work_bytes * (cfg->target ? 2u : 1u);
    bytes = (bytes + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
    float *mem = aligned_alloc(NN_ALIGN, bytes > 0 ? bytes : NN_ALIGN);
    if (!mem)
        ORL_FAIL(ORL_ERR_NOMEM, "fit: cannot allocate %zu bytes for %lld parameters", bytes,
                 (long long)n_params);
    memset(mem, 0, bytes);
    f->mem = mem;
    f->cfg = *cfg;
    f->grad_norm = NAN;
    orl_status st = ORL_OK;
    float *p = mem;
    if (!params) params = p, p += P;
    ORL_TRY_GOTO(st, fail, orl_mlp_bind(&f->net, net_cfg, params));
    if (cfg->target) {
        ORL_TRY_GOTO(st, fail, orl_mlp_bind(&f->target, net_cfg, p));
        p += P;
    }
    ORL_TRY_GOTO(st, fail, orl_adam_bind(&f->adam, &cfg->adam, n_params, p));
    p += moments;
    f->grads = p, p += P;
    ORL_TRY_GOTO(st, fail, orl_mlp_work_bind(&f->work, net_cfg, cfg->max_batch, p));
    if (cfg->target) {
        char *q = (char *)(void *)p + work_bytes;
        ORL_TRY_GOTO(st, fail, orl_mlp_work_bind(&f->target_work, net_cfg, cfg->max_batch, q));
    }
    return ORL_OK;
fail:
    orl_fit_free(f);
    return st;
}

orl_status orl_fit_init(orl_fit *f, const orl_mlp_config *net_cfg, const orl_fit_config *cfg,
                        orl_rng *rng) {
    assert(f && net_cfg && cfg && rng);
    ORL_TRY(fit_setup(f, net_cfg, NULL, cfg));
    orl_mlp_init_params(&f->net, rng);
    if (cfg->target) orl_params_copy(f->target.params, f->net.params, f->net.n_params);
    return ORL_OK;
}

orl_status orl_fit_init_on(orl_fit *f, const orl_mlp *net, const orl_fit_config *cfg) {
    assert(f && net && net->params && cfg);
    ORL_TRY(fit_setup(f, &net->cfg, net->params, cfg));
    if (cfg->target) orl_params_copy(f->target.params, f->net.params, f->net.n_params);
    return ORL_OK;
}

void orl_fit_free(orl_fit *f) {
    if (!f) return;
    free(f->mem);
    memset(f, 0, sizeof *f);
}

const float *orl_fit_forward(orl_fit *f, const float *x, int32_t batch) {
    assert(f && x && batch >= 1 && batch <= f->cfg.max_batch);
    orl_mlp_forward(&f->net, &f->work, x, batch, NULL);
    return f->work.out[f->net.cfg.n_layers - 1];
}

void orl_fit_backward(orl_fit *f, const float *dout, float *dx) {
    assert(f && dout);
    orl_mlp_backward(&f->net, &f->work, dout, f->grads, dx);
}

double orl_fit_step(orl_fit *f, float lr) {
    assert(f);
    int64_t n = f->net.n_params;
    double norm = NAN;
    if (f->cfg.max_grad_norm > 0.0) norm = orl_params_clip_norm(f->grads, n, f->cfg.max_grad_norm);
    /* the update also zeroes the gradients for the next backward */
    nn_adam_step_zero(&f->adam, f->net.params, f->grads, lr);
    f->grad_norm = norm;
    return norm;
}

const float *orl_fit_target_forward(orl_fit *f, const float *x, int32_t batch) {
    assert(f && f->cfg.target && x && batch >= 1 && batch <= f->cfg.max_batch);
    orl_mlp_forward(&f->target, &f->target_work, x, batch, NULL);
    return f->target_work.out[f->target.cfg.n_layers - 1];
}

const float *orl_fit_target_forward_shared(orl_fit *f, const float *shared, int32_t n_shared,
                                           int32_t repeat, const float *own, int32_t batch) {
    assert(f && f->cfg.target && batch >= 1 && batch <= f->cfg.max_batch);
    orl_mlp_forward_shared(&f->target, &f->target_work, shared, n_shared, repeat, own, batch, NULL);
    return f->target_work.out[f->target.cfg.n_layers - 1];
}

void orl_fit_polyak(orl_fit *f, float tau) {
    assert(f && f->cfg.target);
    orl_params_polyak(f->target.params, f->net.params, f->net.n_params, tau);
}

void orl_fit_target_copy(orl_fit *f) {
    assert(f && f->cfg.target);
    orl_params_copy(f->target.params, f->net.params, f->net.n_params);
}

int32_t orl_fit_buffers(orl_fit *f, const char *prefix, orl_buffer *out, int32_t cap, int32_t n) {
    assert(f);
    int64_t bytes = f->net.n_params * (int64_t)sizeof(float);
    orl_buffer_put(out, cap, &n, prefix, "params", f->net.params, bytes);
    orl_buffer_put(out, cap, &n, prefix, "adam_m", f->adam.m, bytes);
    orl_buffer_put(out, cap, &n, prefix, "adam_v", f->adam.v, bytes);
    orl_buffer_put(out, cap, &n, prefix, "adam_t", &f->adam.t, (int64_t)sizeof f->adam.t);
    if (f->cfg.target) orl_buffer_put(out, cap, &n, prefix, "target", f->target.params, bytes);
    return n;
}
