/* The fit kit: one MLP trained by Adam on mini-batches, with everything its training touches
 * (parameters when it owns them, Adam's moments, the gradient buffer, the forward/backward
 * workspace, and optionally a target copy of the parameters with a workspace of its own) in
 * one allocation sized at init. Every trainer in orl (the imitation core, the AWR value
 * function, FQE, the RIS behaviour model, the coming critics) is built on it:
 *
 *   out = orl_fit_forward(f, x, B);     // (B, O), in the kit's workspace
 *   ... dout (B, O) = dLoss/dout ...
 *   orl_fit_backward(f, dout, NULL);     // grads (P) += dLoss/dparams
 *   orl_fit_step(f, -1.0f);              // clip (optional), Adam, zero the grads
 *   orl_fit_polyak(f, tau);              // target = (1 - tau) target + tau params (optional)
 *
 * The kit either owns its parameters (orl_fit_init, initialised from an rng as orl_mlp_create
 * would) or trains a network whose parameters live elsewhere, in place (orl_fit_init_on: e.g.
 * an MLP policy's own network, orl_policy_mlp_network). A step is exactly the sequence
 * orl_mlp_forward, orl_mlp_backward into a zeroed gradient buffer, optionally
 * orl_params_clip_norm, orl_adam_step: the same bits. No allocation after init. Nothing here
 * knows about losses: the caller computes dout.
 *
 * Dimension letters as in nn.h: B batch, I the network's input width, O its output width,
 * P its number of parameters. */
#ifndef ORL_FIT_H
#define ORL_FIT_H

#include "orl/nn.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

typedef struct orl_fit_config {
    orl_adam_config adam; /* the optimiser (orl_adam_defaults(), with the trainer's lr) */
    int32_t max_batch;    /* largest B of forward and backward (>= 1) */
    double max_grad_norm; /* > 0: step scales the gradients to this global L2 norm at most
                             (orl_params_clip_norm); 0: no clipping */
    int target;           /* 1: keep a target copy of the parameters (a copy at init) with its
                             own workspace, for orl_fit_target_forward and Polyak updates */
} orl_fit_config;

/* Adam with PyTorch's defaults at learning rate lr, no clipping, no target */
orl_fit_config orl_fit_defaults(float lr, int32_t max_batch);

typedef struct orl_fit {
    orl_fit_config cfg;
    orl_mlp net;              /* the trained network: views over its parameters (owned by the kit
                                 after orl_fit_init; a caller's after orl_fit_init_on) */
    orl_mlp target;           /* cfg.target: views over the target parameters; else zeroed */
    orl_mlp_work work;        /* the network's workspace, batches up to cfg.max_batch */
    orl_mlp_work target_work; /* the target's workspace (cfg.target) */
    orl_adam adam;            /* moments (P) and step count over net.params */
    float *grads;             /* (P) accumulated by orl_fit_backward, zeroed by orl_fit_step */
    double grad_norm;         /* the gradients' L2 norm before clipping at the last step (NaN when
                                 clipping is off: it is not computed) */
    void *mem;                /* the one allocation */
} orl_fit;

/* a kit that owns a new network of configuration net_cfg, its parameters initialised from rng
 * (orl_mlp_init_params: the same draws as orl_mlp_create); grads zeroed, the target (if any) a
 * copy of the parameters. ORL_ERR_INPUT for a bad network or optimiser configuration or
 * max_batch < 1, ORL_ERR_NOMEM. On failure *f is zeroed (orl_fit_free is still safe). */
orl_status orl_fit_init(orl_fit *f, const orl_mlp_config *net_cfg, const orl_fit_config *cfg,
                        orl_rng *rng);

/* a kit that trains net's parameters in place (they are not copied, not owned, and must
 * outlive f; f->net is a copy of net's views). Statuses as orl_fit_init. */
orl_status orl_fit_init_on(orl_fit *f, const orl_mlp *net, const orl_fit_config *cfg);

/* frees the allocation (and with it the parameters if owned) and zeroes f; f may be NULL */
void orl_fit_free(orl_fit *f);

/* the network's output (B, O) on x (B, I), B <= max_batch, in the kit's workspace (valid until
 * the next forward); x must stay valid until orl_fit_backward */
const float *orl_fit_forward(orl_fit *f, const float *x, int32_t batch);

/* backward through the last forward: grads (P) += dLoss/dparams for dout (B, O) =
 * dLoss/dout; dx (B, I) += dLoss/dx when not NULL */
void orl_fit_backward(orl_fit *f, const float *dout, float *dx);

/* one optimiser step from the accumulated gradients: clip them to cfg.max_grad_norm (when
 * > 0), an Adam step at lr (< 0: cfg.adam.lr), then zero them. Returns the norm before
 * clipping (NaN when clipping is off). */
double orl_fit_step(orl_fit *f, float lr);

/* the target network's output (B, O) on x (B, I), in the target's workspace; cfg.target */
const float *orl_fit_target_forward(orl_fit *f, const float *x, int32_t batch);

/* orl_fit_target_forward on rows [shared | own] whose first n_shared columns repeat over each
 * group of repeat rows (orl_mlp_forward_shared: shared (B / repeat, I_s), own (B, I - I_s)) */
const float *orl_fit_target_forward_shared(orl_fit *f, const float *shared, int32_t n_shared,
                                           int32_t repeat, const float *own, int32_t batch);

/* Polyak update, one pass over the parameter buffer: target = (1 - tau) target + tau params
 * (orl_params_polyak); cfg.target */
void orl_fit_polyak(orl_fit *f, float tau);

/* hard update: target = params; cfg.target */
void orl_fit_target_copy(orl_fit *f);

/* lists the kit's state into out (capacity cap) after the n already there, with
 * orl_buffer_put under prefix: "params" (P floats), "adam_m", "adam_v" (P floats each),
 * "adam_t" (int64), and with a target "target" (P floats). Returns the new count (which may
 * exceed cap: nn.h). The gradients are not state (zero between steps). */
int32_t orl_fit_buffers(orl_fit *f, const char *prefix, orl_buffer *out, int32_t cap, int32_t n);

#endif
