/* The natural policy gradient planner (Kakade 2001; Rajeswaran et al. 2017), as mjrl's NPG
 * that MOReL (Kidambi et al. 2020) plans with in its pessimistic MDP.
 *
 * The policy is mjrl's gaussian_mlp.MLP: a tanh MLP (64x64 by default) maps normalised
 * observations to the mean of a diagonal Gaussian whose log-std is a free vector, independent
 * of the state (initial -0.25, clamped from below at -1 after every update); the last layer
 * starts at a hundredth of PyTorch's initialisation (mjrl's "make weights small"). One update
 * (orl_npg_update) from a batch of paths is mjrl's NPG.train_from_paths:
 *   returns        R_t = sum_k gamma^k r_{t+k} within each path
 *   advantages     GAE(gamma, lambda) on the value baseline's predictions, the value after a
 *                  path 0 when it ended (terminated) and its last prediction when it was cut by
 *                  the horizon; standardised over the batch (mean 0, std 1 + 1e-6)
 *   g              the vanilla policy gradient mean_t A_t grad log pi(a_t | s_t)
 *   F              the Fisher matrix of the Gaussian (the Hessian of the mean KL at the current
 *                  parameters): mean_t J_t^T diag(1 / sigma^2) J_t over the mean's parameters
 *                  (J_t the Jacobian of the mean at s_t, applied by a forward-mode pass and a
 *                  backward pass: no matrix is formed) and 2 I over the log-std
 *   direction      x = (F + damping I)^-1 g by conjugate gradient (20 iterations, damping 1e-3)
 *   step           theta += alpha x, alpha = sqrt(step_size / (g . x)) (normalised step 0.02)
 *   baseline       then the value baseline (mjrl's MLPBaseline: 128x128 ReLU over the
 *                  observation clipped to [-10, 10] / 10 and the time features (t / 1000)^1..4,
 *                  Adam 1e-3 with L2 1e-3) is fitted to the returns for one epoch of batches
 *                  of 256.
 * orl_npg_bc fits the mean by behaviour cloning (mean squared error, Adam 1e-3) before
 * planning, as MOReL's bc_init (5 epochs).
 *
 * Not here: where the paths come from (the pessimistic MDP, models/pmdp.c, or any other
 * sampler: a test's linear system), and the learner around it (algorithms/morel.c). Nothing is
 * allocated in act, update or fvp after orl_npg_create (orl_npg_bc allocates its optimiser).
 * Dimension letters as in nn.h: N rows (steps of all paths), E paths, B batch, S observation
 * size, A action size, P the policy's parameters (the mean network's, then A log-stds). */
#ifndef ORL_NPG_H
#define ORL_NPG_H

#include "orl/fit.h"
#include "orl/nn.h"
#include "orl/policy.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

typedef struct orl_npg_config {
    int32_t obs_dim;         /* S */
    int32_t act_dim;         /* A */
    int32_t hidden;          /* policy hidden width (mjrl MOReL: 64) */
    int32_t layers;          /* policy hidden layers (2); 0: a linear mean W x + b */
    float init_log_std;      /* -0.25 */
    float min_log_std;       /* -1: the log-std floor */
    double step_size;        /* normalised step: the KL-like quadratic step (0.02) */
    int32_t cg_iters;        /* 20 */
    double damping;          /* 1e-3 */
    double cg_tol;           /* CG stops when r . r < tol (mjrl: 1e-10) */
    double gamma;            /* 0.999 */
    double gae_lambda;       /* 0.97 */
    int64_t max_rows;        /* largest N of an update (its scratch is sized for it) */
    int32_t chunk;           /* rows per forward/backward pass (1024); also the largest B of act */
    int32_t baseline_hidden; /* 128 (two ReLU layers) */
    int32_t baseline_epochs; /* 1 */
    int32_t baseline_batch;  /* 256 */
    float baseline_lr;       /* 1e-3 */
    float baseline_reg;      /* 1e-3: Adam's (coupled, PyTorch) weight decay */
} orl_npg_config;

/* mjrl's MOReL defaults above for S and A, max_rows 1 << 16 */
orl_npg_config orl_npg_defaults(int32_t obs_dim, int32_t act_dim);

typedef struct orl_npg orl_npg;

/* a batch of paths: path e is rows [off[e], off[e+1]); time within a path starts at 0 */
typedef struct orl_npg_paths {
    int32_t n_paths;           /* E >= 1 */
    const int64_t *off;        /* (E + 1), off[0] = 0, N = off[E] <= max_rows */
    const float *obs;          /* (N, S) raw observations */
    const float *act;          /* (N, A) the actions taken (as sampled by orl_npg_act) */
    const float *rew;          /* (N) */
    const uint8_t *terminated; /* (E) 1: nothing follows the path's last step (value 0);
                                  0: cut by the horizon (bootstrap from the baseline) */
} orl_npg_paths;

/* what an update measured */
typedef struct orl_npg_stats {
    double mean_return;   /* mean over paths of the undiscounted sum of rewards */
    double mean_length;   /* mean path length */
    double vpg_norm;      /* |g| */
    double alpha;         /* the step's scale */
    double kl;            /* mean KL(old || new) over the rows after the step */
    double surrogate;     /* mean_t A_t pi_new / pi_old after the step (0 before: A standardised) */
    double baseline_loss; /* the baseline's mean squared error on the returns before its fit */
    double log_std_mean;  /* mean log-std after the step */
    double npg_seconds;   /* CPU time of the policy step (gradient, CG, update) */
    double baseline_seconds; /* CPU time of the baseline's prediction and fit */
} orl_npg_stats;

/* a planner with its policy initialised from rng (mean network as PyTorch's nn.Linear, the last
 * layer times 0.01, log-std init_log_std) and its baseline (from rng, after the policy).
 * Identity observation statistics. ORL_ERR_INPUT naming the bad field, ORL_ERR_NOMEM. */
orl_status orl_npg_create(const orl_npg_config *cfg, orl_rng *rng, orl_npg **out);

/* g may be NULL */
void orl_npg_free(orl_npg *g);

const orl_npg_config *orl_npg_get_config(const orl_npg *g);

/* sets the observation statistics (S each, copied; std > 0) the policy normalises with */
void orl_npg_set_normalizer(orl_npg *g, const float *mean, const float *std);

/* views owned by g: the flat parameters (P = *n_params: the mean network's, then the A
 * log-stds), the mean network (whose params point into the flat ones), the log-std (A) */
float *orl_npg_params(orl_npg *g, int64_t *n_params);
const orl_mlp *orl_npg_mean_network(const orl_npg *g);
float *orl_npg_log_std(orl_npg *g);

/* act (B, A) = mean(obs) + exp(log_std) * eps, eps ~ N(0, I) from rng (A draws a row, row by
 * row); rng NULL: the mean. obs (B, S) raw, B <= chunk. */
void orl_npg_act(orl_npg *g, const float *obs, int32_t batch, orl_rng *rng, float *act);

/* out (P) = (F + damping I) v (P) over the observations obs (N, S) raw, N <= max_rows, in
 * double for the caller's CG; the Fisher matrix as described above */
void orl_npg_fvp(orl_npg *g, const float *obs, int64_t n_rows, double damping, const double *v,
                 double *out);

/* out = (F + damping I) v as orl_npg_fvp over the n_rows observations of the last orl_npg_vpg
 * (or of an update's gradient pass), from the normalised rows and hidden activations that pass
 * kept instead of a forward per product: the same bits as orl_npg_fvp on those rows at
 * unchanged parameters (what NPG's conjugate gradient uses). n_rows must be the rows that pass
 * kept; the parameters (and normaliser) must not have changed since. */
void orl_npg_fvp_cached(orl_npg *g, int64_t n_rows, double damping, const double *v, double *out);

/* the vanilla policy gradient g (P) = mean_t adv_t grad log pi(act_t | obs_t), in double; with
 * n_rows <= max_rows the pass keeps its rows' activations for orl_npg_fvp_cached */
void orl_npg_vpg(orl_npg *g, const float *obs, const float *act, const float *adv, int64_t n_rows,
                 double *grad);

/* conjugate gradient for M x = b with M symmetric positive definite given by its product
 * (apply(ctx, v, out): out = M v, vectors of n doubles): at most iters iterations from x = 0,
 * stopping when r . r < tol. scratch (3 n) doubles. Returns the iterations run; *residual (may be
 * NULL) the final r . r. */
int32_t orl_npg_cg(void (*apply)(void *ctx, const double *v, double *out), void *ctx,
                   const double *b, int64_t n, int32_t iters, double tol, double *x,
                   double *scratch, double *residual);

/* one NPG update from paths (see above), drawing the baseline's batches from rng.
 * ORL_ERR_INPUT (N > max_rows, a bad offset), ORL_ERR_NUMERIC (a non-finite gradient, step or
 * baseline loss). stats may be NULL. */
orl_status orl_npg_update(orl_npg *g, const orl_npg_paths *paths, orl_rng *rng,
                          orl_npg_stats *stats);

/* the baseline's value predictions b (N) for the paths' rows (time features from the offsets) */
void orl_npg_baseline_predict(orl_npg *g, const orl_npg_paths *paths, float *b);

/* behaviour cloning of the mean: epochs x (N / batch) Adam steps (lr) on the mean squared error
 * of the mean against act (N, A) at obs (N, S) raw, each batch drawn uniformly with replacement
 * from rng (mjrl's BC). Allocates and frees its optimiser. Returns the last epoch's mean loss in
 * *loss (may be NULL). ORL_ERR_INPUT, ORL_ERR_NOMEM, ORL_ERR_NUMERIC. */
orl_status orl_npg_bc(orl_npg *g, const float *obs, const float *act, int64_t n_rows,
                      int32_t epochs, int32_t batch, float lr, orl_rng *rng, double *loss);

/* the state (flat parameters "params", the baseline's fit kit under "baseline") into out, as
 * orl_fit_buffers; returns the new count */
int32_t orl_npg_buffers(orl_npg *g, orl_buffer *out, int32_t cap, int32_t n);

/* the policy as a self-contained MLP policy of the Gaussian head (policy.h): the mean network
 * with A more outputs whose weights are 0 and whose biases give the log-std through the head's
 * clamp into [log_std_min, log_std_max] (min < min_log_std, max > every log-std), and the
 * observation statistics. info's algorithm, config, bounds are copied. ORL_ERR_INPUT,
 * ORL_ERR_NOMEM. */
orl_status orl_npg_export(const orl_npg *g, const orl_policy_info *info, float log_std_min,
                          float log_std_max, orl_policy **out);

/* copies the current policy into p, a policy orl_npg_export made from g (same shapes) */
void orl_npg_sync(const orl_npg *g, orl_policy *p);

#endif
