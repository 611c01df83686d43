/* Small neural networks on cblas: the MLP, the parameter buffer, Adam/AdamW, learning-rate
 * schedules and normalisation statistics.
 *
 * Dimension letters, used in every shape comment in orl:
 *   N steps, E episodes, B batch, S observation size, A action size, H hidden width,
 *   K ensemble members; and here I a layer's input width, O its output width, L the number of
 *   linear layers, P the number of parameters, Z a latent size (VAE).
 * Row-major everywhere: a (B, I) batch is B rows of I floats; a weight is (O, I).
 *
 * The style is llm.c's: each layer is a forward/backward pair over raw float arrays, backward
 * accumulates parameter gradients with +=; a model (orl_mlp) is constant during forward and
 * backward, and everything they write lives in a workspace (orl_mlp_work), sized once for a
 * maximum batch: no allocation in forward, backward or an optimizer step. Parameters live in
 * one float buffer with named views, so copying, Polyak averaging, clipping, saving and loading
 * are single passes over it. */
#ifndef ORL_NN_H
#define ORL_NN_H

#include "orl/rng.h"
#include "orl/status.h"

#include <stddef.h>
#include <stdint.h>

#define ORL_MLP_MAX_LAYERS 8

typedef enum orl_activation {
    ORL_ACTIVATION_NONE = 0,
    ORL_ACTIVATION_RELU,
    ORL_ACTIVATION_TANH,
    ORL_ACTIVATION_ELU,  /* alpha = 1 */
    ORL_ACTIVATION_SILU, /* x * sigmoid(x) */
} orl_activation;

typedef enum orl_init {
    ORL_INIT_FAN_IN_UNIFORM = 0, /* PyTorch nn.Linear default: W, b ~ U(-1/sqrt(I), 1/sqrt(I)) */
    ORL_INIT_ORTHOGONAL,         /* orthogonal W with gain (sqrt(2) for ReLU, 1 otherwise), b = 0 */
} orl_init;

typedef struct orl_mlp_config {
    int32_t n_layers;                       /* L linear layers, 1..ORL_MLP_MAX_LAYERS */
    int32_t widths[ORL_MLP_MAX_LAYERS + 1]; /* widths[0] = I (input), widths[L] = O (output) */
    orl_activation activation;              /* after every hidden layer; none after the last */
    int layer_norm; /* LayerNorm (with gain and bias) after every hidden linear layer, before
                       the activation */
    orl_init init;
    float last_scale; /* the last layer's initial weights and biases are multiplied by this
                         (0 means 1); small values (1e-3) start policy heads near zero */
} orl_mlp_config;

/* a network: its configuration and named views into a parameter buffer it may not own */
typedef struct orl_mlp {
    orl_mlp_config cfg;
    int64_t n_params;                   /* P */
    float *params;                      /* (P) all parameters, in the order below, layer by
                                           layer: w[0], b[0], ln_gain[0], ln_bias[0], w[1], ...
                                           (the LayerNorm pair only where it exists) */
    float *w[ORL_MLP_MAX_LAYERS];       /* (O_l, I_l) layer l's weight */
    float *b[ORL_MLP_MAX_LAYERS];       /* (O_l) */
    float *ln_gain[ORL_MLP_MAX_LAYERS]; /* (O_l) hidden layers with layer_norm, else NULL */
    float *ln_bias[ORL_MLP_MAX_LAYERS]; /* (O_l) */
    int owns_params;                    /* 1 if orl_mlp_free frees params */
} orl_mlp;

/* everything forward writes and backward reads, for batches up to max_batch */
typedef struct orl_mlp_work {
    int32_t max_batch;
    int32_t batch;                      /* B of the last forward */
    const float *input;                 /* (B, I) the last forward's input (not owned) */
    float *pre[ORL_MLP_MAX_LAYERS];     /* (B, O_l) linear outputs (before LayerNorm) */
    float *norm[ORL_MLP_MAX_LAYERS];    /* (B, O_l) LayerNorm outputs, NULL without layer_norm */
    float *ln_mean[ORL_MLP_MAX_LAYERS]; /* (B) */
    float *ln_rstd[ORL_MLP_MAX_LAYERS]; /* (B) */
    float *out[ORL_MLP_MAX_LAYERS];     /* (B, O_l) activations; out[L-1] is the network output
                                           (the same memory as pre[L-1]: no activation there);
                                           ReLU layers without LayerNorm are applied in place:
                                           their out[l] is pre[l], which then holds the ReLU */
    float *grad_a;                      /* (B, max width) backward scratch */
    float *grad_b;                      /* (B, max width) backward scratch */
    void *mem;
} orl_mlp_work;

/* ---- the MLP ---- */

/* number of parameters P of a configuration; checks it (ORL_ERR_INPUT naming the field) */
orl_status orl_mlp_param_count(const orl_mlp_config *cfg, int64_t *n_params);

/* sets the views of m over params (P floats, not owned, e.g. a slice of a larger buffer);
 * ORL_ERR_INPUT for a bad configuration */
orl_status orl_mlp_bind(orl_mlp *m, const orl_mlp_config *cfg, float *params);

/* allocates m's own parameter buffer and initialises it from rng (orl_mlp_init_params);
 * ORL_ERR_INPUT for a bad configuration, ORL_ERR_NOMEM */
orl_status orl_mlp_create(orl_mlp *m, const orl_mlp_config *cfg, orl_rng *rng);

/* initialises the parameters per cfg.init and cfg.last_scale; LayerNorm gain 1, bias 0 */
void orl_mlp_init_params(orl_mlp *m, orl_rng *rng);

/* frees the parameters if owned; m may be NULL */
void orl_mlp_free(orl_mlp *m);

/* workspace for batches up to max_batch (>= 1), for networks of this configuration; one
 * allocation; ORL_ERR_INPUT, ORL_ERR_NOMEM */
orl_status orl_mlp_work_init(orl_mlp_work *w, const orl_mlp_config *cfg, int32_t max_batch);
void orl_mlp_work_free(orl_mlp_work *w);

/* *bytes: the size of a workspace for cfg and max_batch (a multiple of 64), for a caller that
 * places it inside its own allocation; ORL_ERR_INPUT */
orl_status orl_mlp_work_bytes(const orl_mlp_config *cfg, int32_t max_batch, size_t *bytes);

/* sets w's views over mem (orl_mlp_work_bytes bytes, 64-byte aligned, not owned: w->mem stays
 * NULL and orl_mlp_work_free leaves it alone); ORL_ERR_INPUT */
orl_status orl_mlp_work_bind(orl_mlp_work *w, const orl_mlp_config *cfg, int32_t max_batch,
                             void *mem);

/* out (B, O) = network(x (B, I)); B <= max_batch. out may be NULL (read work->out[L-1]).
 * Keeps x's pointer for backward: x must stay valid until then. */
void orl_mlp_forward(const orl_mlp *m, orl_mlp_work *w, const float *x, int32_t batch, float *out);

/* out (B, O) = network(x) for B = G * repeat rows x = [shared | own] whose first n_shared input
 * columns repeat over each group of repeat consecutive rows: shared (G, I_s), own (B, I - I_s),
 * 1 <= I_s < I. The first layer's shared part is computed once per group (G rows instead of B)
 * and added to the own part: within rounding of orl_mlp_forward on x (a different summation
 * order: x_own W_own^T + (x_s W_s^T + b)), deterministic. Forward only: a following
 * orl_mlp_backward is refused (it asserts) until the next orl_mlp_forward. */
void orl_mlp_forward_shared(const orl_mlp *m, orl_mlp_work *w, const float *shared,
                            int32_t n_shared, int32_t repeat, const float *own, int32_t batch,
                            float *out);

/* backward through the last forward: dout (B, O) is dLoss/dout; dparams (P) += dLoss/dparams
 * (laid out as m->params), may be NULL; dx (B, I) += dLoss/dx, may be NULL. */
void orl_mlp_backward(const orl_mlp *m, orl_mlp_work *w, const float *dout, float *dparams,
                      float *dx);

/* FLOPs of one forward over a batch (2 per multiply-add of the linear layers); backward with
 * parameter gradients is twice that, plus the same again with dx */
double orl_mlp_forward_flops(const orl_mlp_config *cfg, int32_t batch);

/* ---- parameter buffers ---- */

/* dst (n) = src (n) */
void orl_params_copy(float *dst, const float *src, int64_t n);

/* Polyak update of a target: target = (1 - tau) * target + tau * src */
void orl_params_polyak(float *target, const float *src, int64_t n, float tau);

/* L2 norm of a gradient buffer, in double */
double orl_params_norm(const float *x, int64_t n);

/* scales grads so their global L2 norm is at most max_norm (by max_norm / norm exactly, when
 * norm > max_norm); returns the norm before */
double orl_params_clip_norm(float *grads, int64_t n, double max_norm);

/* 1 if every value is finite */
int orl_params_finite(const float *x, int64_t n);

/* ---- state buffers (checkpoints) ----
 * A piece of an object's state (parameters, optimiser moments, counters, statistics) saved and
 * restored in place as raw bytes. An object lists its buffers into a caller's array of capacity
 * cap with orl_buffer_put, which counts past cap without writing: a lister returns the number
 * of buffers it has, and a caller whose array was too small grows it and asks again (the
 * convention of snprintf). */

#define ORL_BUFFER_NAME_MAX 32

typedef struct orl_buffer {
    char name[ORL_BUFFER_NAME_MAX]; /* "prefix_name", truncated to fit */
    void *ptr;
    int64_t bytes;
} orl_buffer;

/* out[*n] = {"prefix_name" (or "name" when prefix is NULL or ""), ptr, bytes} when *n < cap;
 * then *n += 1 either way. out may be NULL when cap is 0. */
void orl_buffer_put(orl_buffer *out, int32_t cap, int32_t *n, const char *prefix, const char *name,
                    void *ptr, int64_t bytes);

/* ---- Adam and AdamW ---- */

typedef struct orl_adam_config {
    float lr;           /* used when orl_adam_step is given lr < 0 */
    float beta1, beta2; /* 0.9, 0.999 */
    float eps;          /* 1e-8 */
    float weight_decay; /* 0: none */
    int decoupled;      /* 1: AdamW (params -= lr * wd * params); 0: L2 added to the gradient */
} orl_adam_config;

/* PyTorch's defaults: lr 3e-4, betas (0.9, 0.999), eps 1e-8, no weight decay */
orl_adam_config orl_adam_defaults(void);

typedef struct orl_adam {
    orl_adam_config cfg;
    int64_t n; /* P */
    int64_t t; /* steps taken */
    float *m;  /* (P) first moment */
    float *v;  /* (P) second moment */
    int owns_moments; /* 1 if orl_adam_free frees m and v (orl_adam_init), 0 (orl_adam_bind) */
} orl_adam;

/* zeroed moments for n parameters; ORL_ERR_INPUT (betas outside [0, 1), negative eps or
 * weight decay), ORL_ERR_NOMEM */
orl_status orl_adam_init(orl_adam *opt, const orl_adam_config *cfg, int64_t n);
void orl_adam_free(orl_adam *opt);

/* floats of the moments of n parameters: m and v, each rounded up to whole cache lines */
int64_t orl_adam_moment_floats(int64_t n);

/* as orl_adam_init over a caller's moments (orl_adam_moment_floats(n) floats, zeroed here, not
 * owned); ORL_ERR_INPUT */
orl_status orl_adam_bind(orl_adam *opt, const orl_adam_config *cfg, int64_t n, float *moments);

/* one bias-corrected step: params (P) updated from grads (P); lr < 0 uses cfg.lr */
void orl_adam_step(orl_adam *opt, float *params, const float *grads, float lr);

/* ---- learning-rate schedules ---- */

typedef enum orl_schedule_kind {
    ORL_SCHEDULE_CONSTANT = 0,
    ORL_SCHEDULE_COSINE, /* from base to min over total steps, after warm-up */
    ORL_SCHEDULE_LINEAR, /* linearly from base to min over total steps, after warm-up */
} orl_schedule_kind;

typedef struct orl_schedule {
    orl_schedule_kind kind;
    float base;     /* peak learning rate */
    float min;      /* final learning rate (cosine, linear) */
    int64_t warmup; /* linear warm-up from 0 to base over these first steps (0: none) */
    int64_t total;  /* steps of the whole run */
} orl_schedule;

/* learning rate at step (0-based): base * step / warmup during warm-up; then, with
 * p = (step - warmup) / (total - warmup) clamped to [0, 1] (1 if total <= warmup),
 * constant: base; cosine: min + (base - min) (1 + cos(pi p)) / 2; linear: base + (min - base) p */
float orl_schedule_lr(const orl_schedule *s, int64_t step);

/* ---- normalisation statistics ---- */

typedef struct orl_normalizer {
    int32_t dim;
    float *mean; /* (dim) */
    float *std;  /* (dim) at least eps */
} orl_normalizer;

/* mean and (population, ddof 0) standard deviation of x (n, dim), in double, std floored at
 * eps (1e-3 typical); ORL_ERR_INPUT if n < 1 or dim < 1, ORL_ERR_NUMERIC if a column is not
 * finite, ORL_ERR_NOMEM */
orl_status orl_normalizer_fit(orl_normalizer *nm, const float *x, int64_t n, int32_t dim,
                              float eps);

/* identity statistics (mean 0, std 1) */
orl_status orl_normalizer_identity(orl_normalizer *nm, int32_t dim);
void orl_normalizer_free(orl_normalizer *nm);

/* y (n, dim) = (x - mean) / std; y may equal x */
void orl_normalizer_apply(const orl_normalizer *nm, const float *x, int64_t n, float *y);

#endif
