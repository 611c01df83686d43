/* Models: what learners (algorithms/) and estimators (ope/) both fit from data, on the fit kit
 * (fit.h).
 *
 * - Maximum-likelihood policy fitting (orl_ml_fit): an MLP whose outputs parameterise an action
 *   distribution (a policy head), fitted by minimising the weighted negative log-likelihood of
 *   logged actions (the mean squared error for the deterministic head: a Gaussian of fixed
 *   variance). BC's core and RIS's behaviour model are both this one mechanism: the imitation
 *   core steps it on the training loop's batches, RIS runs it over its fit rows.
 * - The imitation core (orl_imitation): an MLP policy (policy.h) on normalised observations
 *   whose own network is fitted in place by orl_ml_fit, so the trained policy is saved as it is
 *   (bc, fbc and awr share it; IQL and CRR extract their policies with it later).
 * - Q-functions of a fixed policy (fitted Q evaluation, neural as fitted Q iteration on the fit
 *   kit, or exact on a tabular model): what ope/'s direct method and DR estimators use, and
 *   what the coming critics share.
 *
 * Not here: the hyperparameter tables of learners and the learners themselves (train.h), the
 * estimators (ope.h). No allocation in a step.
 * Dimension letters as in nn.h: N steps, B batch, S observation size, A action size, I and O a
 * network's input and output widths, P its number of parameters; n discrete actions. */
#ifndef ORL_MODELS_H
#define ORL_MODELS_H

#include "orl/dataset.h"
#include "orl/fit.h"
#include "orl/nn.h"
#include "orl/policy.h"
#include "orl/progress.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

/* ---- maximum-likelihood policy fitting ----
 * For a batch of rows (network input x_b, logged action a_b, weight w_b; w = 1 without
 * weights), with y_b the network output:
 *   deterministic head:  loss = mean_b w_b mean_j (act(y_b)_j - a_bj)^2, act the tanh head into
 *                        [act_low, act_high] (CORL's BC)
 *   likelihood heads:    loss = -mean_b w_b log p(a_b | y_b) (orl_loss_weighted_nll)
 * where p is the categorical softmax over y (n outputs), the diagonal Gaussian [mean | raw
 * log-std] (2A), the tanh-squashed Gaussian into the box (2A; heads.h), or that squashed
 * Gaussian q mixed with the uniform density over the box (2A + 1 outputs):
 *   p = (1 - m) q + m / vol,  m = floor + (1 - floor) sigmoid(y_2A)
 * (a learned state-dependent uniform share of at least floor; the built-in behaviour policies
 * are such mixtures, and a Gaussian fitted to actions piled up at the bounds would otherwise
 * give absurd densities there). With components = K >= 2 the squashed Gaussian q becomes a
 * mixture of K of them with state-dependent weights, for multimodal and bang-bang behaviour
 * (a controller switching between the bounds: one Gaussian must sit between the modes):
 *   q = sum_k softmax(z)_k q_k,   outputs [z (K) | K x (mean (A) | raw log-std (A)) | v]
 * (K + 2AK, + 1 with the uniform share). */

#define ORL_ML_MAX_COMPONENTS 8

typedef struct orl_ml_config {
    orl_policy_head head;  /* the distribution (policy.h) */
    int32_t act_dim;       /* A (continuous heads) */
    int32_t n_actions;     /* n (categorical head) */
    float log_std_min;     /* Gaussian heads: log-std range (heads.h), e.g. -5 */
    float log_std_max;     /* e.g. 2 */
    const float *act_low;  /* (A) deterministic and tanh-Gaussian heads: the box (finite);
                              not copied, must outlive the fit; else NULL */
    const float *act_high; /* (A) */
    int32_t components;    /* tanh-Gaussian head only: K squashed Gaussians (0 or 1: one) */
    int uniform_mix;       /* tanh-Gaussian head only: 1 mixes in the uniform share above */
    double uniform_floor;  /* its floor in [0, 1) */
    float lr;              /* Adam learning rate (PyTorch's betas and eps) */
    int32_t max_batch;     /* largest B of a step or a log-probability call */
    const char *name;      /* names the model in messages ("imitation", "RIS (MLP)"); static */
} orl_ml_config;

typedef struct orl_ml_fit orl_ml_fit;

/* the network output width O the configuration needs: n, A, 2A, K + 2AK for a mixture of K,
 * + 1 with the uniform share */
int32_t orl_ml_outputs(const orl_ml_config *cfg);

/* a fit of a new network of configuration net (widths[L] must be orl_ml_outputs(cfg)), its
 * parameters initialised from rng as orl_mlp_create would. ORL_ERR_INPUT (a bad configuration
 * or output width), ORL_ERR_NOMEM. Free with orl_ml_fit_free. */
orl_status orl_ml_fit_create(const orl_ml_config *cfg, const orl_mlp_config *net, orl_rng *rng,
                             orl_ml_fit **out);

/* a fit that trains net's parameters in place (not copied, not owned, must outlive the fit:
 * e.g. orl_policy_mlp_network of the policy being trained). Statuses as orl_ml_fit_create. */
orl_status orl_ml_fit_create_on(const orl_ml_config *cfg, const orl_mlp *net, orl_ml_fit **out);

/* fit may be NULL */
void orl_ml_fit_free(orl_ml_fit *fit);

/* one Adam step on the loss of a batch: x (B, I) the network inputs (normalised as the model
 * wants them), act (B, A) the logged actions (continuous heads; else may be NULL), act_idx (B)
 * (categorical; else may be NULL), weight (B) or NULL (ones); B <= max_batch. *loss is the loss
 * before the step. ORL_ERR_NUMERIC (naming the model) when it is not finite: then nothing is
 * updated. */
orl_status orl_ml_fit_step(orl_ml_fit *fit, const float *x, const float *act,
                           const int32_t *act_idx, const float *weight, int32_t batch,
                           double *loss);

/* the loss of a batch and its gradient added to orl_ml_fit_kit(fit)->grads, without a step
 * (gradient checks, accumulation over batches); arguments and statuses as orl_ml_fit_step */
orl_status orl_ml_fit_gradient(orl_ml_fit *fit, const float *x, const float *act,
                               const int32_t *act_idx, const float *weight, int32_t batch,
                               double *loss);

/* the loss of a batch without an update; arguments and statuses as orl_ml_fit_step */
orl_status orl_ml_fit_loss(orl_ml_fit *fit, const float *x, const float *act,
                           const int32_t *act_idx, const float *weight, int32_t batch,
                           double *loss);

/* logp (n) = log p(a_i | x_i) of the likelihood heads (not the deterministic one) for n rows
 * of any count, in chunks of max_batch: x_i the rows of obs (n, I) normalised by nm (dim I; NULL:
 * obs are the network inputs), act (n, A) or act_idx (n) */
void orl_ml_fit_log_prob(orl_ml_fit *fit, const orl_normalizer *nm, const float *obs,
                         const float *act, const int32_t *act_idx, int64_t n, float *logp);

/* `steps` unweighted steps on mini-batches of min(n_rows, max_batch) rows of ds drawn
 * uniformly with replacement from rows (n_rows indices into ds; orl_rng_below on rng), with
 * observations normalised by nm (dim S; the network input is S wide) and ds's actions
 * (act, or act_idx for the categorical head). ORL_ERR_INPUT (no rows, more than 2^32),
 * ORL_ERR_NUMERIC naming the model and the step of a non-finite loss. No allocation. */
orl_status orl_ml_fit_rows(orl_ml_fit *fit, const orl_dataset *ds, const orl_normalizer *nm,
                           const int64_t *rows, int64_t n_rows, int64_t steps, orl_rng *rng);

/* the fit kit underneath (its network, optimiser state, buffers) */
orl_fit *orl_ml_fit_kit(orl_ml_fit *fit);

/* ---- the imitation core: (weighted) maximum likelihood of an MLP policy ----
 * What bc, fbc and awr share, and what later learners reuse for policy extraction (IQL, CRR):
 * an MLP policy on normalised observations, one of the four policy heads, Adam, fitted by
 * orl_ml_fit above (the deterministic head by MSE, the others by weighted NLL). The learners'
 * hyperparameter table for it and orl_imitation_create, which reads that table, are in
 * train.h. */

typedef struct orl_imitation orl_imitation;

/* the core's settings (train.h's ORL_IMITATION_HPARAM_DEFS give their defaults) */
typedef struct orl_imitation_config {
    orl_policy_head head; /* must fit the dataset's action kind */
    int32_t hidden;       /* hidden width (>= 1) */
    int32_t layers;       /* hidden layers (0..ORL_MLP_MAX_LAYERS - 1) */
    float lr;             /* Adam learning rate (> 0) */
    float log_std_min;    /* Gaussian heads' log-std range */
    float log_std_max;
    int normalize_obs; /* 1: observation mean/std (eps 1e-3) of train, stored in the policy */
} orl_imitation_config;

/* builds the policy (algorithm algo, config_json stored in it) for train's shapes, the
 * normaliser fitted on train's observations when cfg asks, parameters from rng; continuous
 * bounds are the header's, else (tanh heads) the observed range widened by 1e-3. ORL_ERR_INPUT
 * (a head that does not fit the action space, a bad size or lr), ORL_ERR_NOMEM. */
orl_status orl_imitation_create_with(const orl_dataset *train, const orl_imitation_config *cfg,
                                     const char *algo, const char *config_json, int32_t max_batch,
                                     orl_rng *rng, orl_imitation **out);

/* lo, hi (A) = the action bounds an MLP policy for train gets: the header's where finite, else
 * (tanh heads need them finite) the observed range widened by 1e-3; NaN for the Gaussian head
 * where the header has none. Continuous datasets only. */
void orl_imitation_action_bounds(const orl_dataset *train, orl_policy_head head, float *lo,
                                 float *hi);

/* one Adam step on the loss of batch with per-row weights weight (B, NULL: ones); *loss is the
 * loss before the step. ORL_ERR_NUMERIC when it is not finite. */
orl_status orl_imitation_step(orl_imitation *im, const orl_batch *batch, const float *weight,
                              double *loss);

/* the loss without an update (weight may be NULL) */
orl_status orl_imitation_loss(orl_imitation *im, const orl_batch *batch, const float *weight,
                              double *loss);

/* normalised observations y (n, S) of obs (n, S), as the policy sees them */
void orl_imitation_normalize(const orl_imitation *im, const float *obs, int64_t n, float *y);

orl_policy *orl_imitation_policy(orl_imitation *im);

/* sets the Adam learning rate of the following steps (a schedule's value at each step, e.g.
 * IQL's cosine-decayed actor lr; the configured lr until then). Not state: a caller that
 * changes it sets it again before every step, from the step number. */
void orl_imitation_set_lr(orl_imitation *im, float lr);

/* lists the core's buffers (parameters, Adam moments and step count, under "policy") into out
 * (capacity cap) after the n already there; returns the new count (orl_buffer_put) */
int32_t orl_imitation_buffers(orl_imitation *im, orl_buffer *out, int32_t cap, int32_t n);

/* im may be NULL */
void orl_imitation_free(orl_imitation *im);

/* ---- Q-functions of a fixed policy: fitted Q evaluation (FQE) ----
 *
 * FQE (Le et al. 2019) regresses Q(s, a) onto r + gamma * (1 - terminal) * V(s'), with
 * V(s') = sum_a pi_e(a|s') Q(s', a) for discrete actions (the evaluation policy's exact
 * probabilities, read through orl_policy_logp over every action; the argmax action for a
 * deterministic policy), or the mean over K sampled actions a' ~ pi_e(s') of Q(s', a') for
 * continuous actions (the mean action, K = 1, for a deterministic policy). Terminal steps do not
 * bootstrap; timeout steps do (next_obs is the state the log was cut at).
 *
 * The neural version is fitted Q iteration. The policy is read once, before the first
 * iteration: its probabilities (discrete) or K actions (continuous) at every next state and
 * every episode start state. Then each iteration k
 *   1. computes every target y_i = r_i + gamma (1 - t_i) V_{k-1}(s'_i) with the network of the
 *      last iteration, frozen, in large batched forward passes;
 *   2. fits the network to the targets by fit_steps Adam steps on uniformly drawn mini-batches,
 *      warm-started from the last iteration's network, at lr * lr_decay^(k - 1);
 *   3. (solve) sets the network's last layer in closed form on the features below it (the last
 *      hidden layer's activations, and a constant): by default `backups` exact least-squares
 *      FQE iterations of that linear layer (the features fixed, the targets recomputed from the
 *      layer each time: w <- (Phi^T Phi + ridge)^-1 Phi^T (r + gamma (1 - t) Phi'_pi w), with
 *      Phi'_pi the policy's expected next features), so that one iteration of the network
 *      carries many Bellman backups; or LSTD-Q, the fixed point of those backups in one solve
 *      (fastest, but off-policy it can be far off when the features extrapolate badly); or none;
 *   4. takes V_k(s0), the mean over episode start states, and stops once its relative change
 *      |V_k - V_{k-1}| / |V_k|, times the geometric tail rho / (1 - rho) of the backups still to
 *      come (rho = gamma^backups per iteration, gamma for none; at least 1), has been at most
 *      tol for patience iterations in a row (and at least min_iter iterations ran): an estimate
 *      of the relative distance to the fixed point; or after max_iter iterations
 *      (converged = 0).
 * With no hidden layer (n_hidden = 0) the network is linear in the (normalised) observation;
 * with one-hot observations that is the tabular function class and FQI is exact tabular FQE
 * (the tests check this to float precision). Note that timeouts bootstrap: on a time-limited
 * task the fixed point is the infinite-horizon value, not the value of the cut episodes.
 * Seeded; the same seed and thread count give the same bits. No allocation after the setup.
 *
 * Tabular FQE (GridWorld): the fixed point of FQE with a one-hot (tabular) function class is
 * policy evaluation on the empirical, count-based model of the data (certainty equivalence):
 * mean rewards, next-state frequencies and terminal frequencies per visited (s, a); unvisited
 * pairs have Q = 0. It is computed exactly by iterating that model's Bellman operator, either to
 * the stationary fixed point or, with a horizon H, by finite-horizon backward induction with a
 * time-indexed Q_h (h steps to go), which is the exact answer for time-limited tasks.
 *
 * Both give V^(s0) (the mean over the dataset's episode start states of V^(s0)) and per-step
 * arrays q (N) = Q^(s_t, a_t) and v (N) = V^(s_t) for the doubly robust estimators (fqe.h).
 * Dimension letters as above; H hidden width. */

/* neural FQE */

typedef enum orl_fqe_loss {
    ORL_FQE_LOSS_MSE = 0, /* squared error (default: the regression FQE's theory assumes) */
    ORL_FQE_LOSS_HUBER,   /* heads.h's Huber loss with huber_delta */
} orl_fqe_loss;

typedef enum orl_fqe_solve {
    ORL_FQE_SOLVE_BACKUP = 0, /* last layer: `backups` exact least-squares FQE iterations on its
                                 features (default) */
    ORL_FQE_SOLVE_LSTD,       /* last layer: the LSTD-Q fixed point on its features */
    ORL_FQE_SOLVE_NONE,       /* gradient steps only */
} orl_fqe_solve;

typedef struct orl_fqe_config {
    double gamma;             /* discount; NaN: the dataset header's discount, or 0.99 if unknown */
    int32_t hidden;           /* H, width of every hidden layer (64) */
    int32_t n_hidden;         /* hidden layers, 0..ORL_MLP_MAX_LAYERS-1; 0: linear (2) */
    int32_t max_iter;         /* Q iterations at most (100) */
    int32_t min_iter;         /* Q iterations at least before a convergence stop (3) */
    int32_t fit_steps;        /* Adam steps per iteration (300); 0 with a solve: the solve alone */
    double tol;               /* estimated relative distance to the fixed point counted as
                                 converged (step 4 above) (1e-3) */
    int32_t patience;         /* that many iterations in a row within tol stop the fit (2) */
    int64_t steps;            /* cap on the gradient steps over all iterations; 0: none (0) */
    int32_t batch;            /* B (256) */
    float lr;                 /* Adam learning rate of the first iteration (1e-3); betas, eps are
                                 PyTorch's */
    double lr_decay;          /* iteration k fits at lr * lr_decay^(k - 1), in (0, 1] (0.93): the
                                 features settle, and with them the value */
    orl_fqe_loss loss;        /* MSE (default) or Huber */
    float huber_delta;        /* 1 */
    float grad_clip;          /* global gradient-norm clip, 0: none (default 0) */
    orl_fqe_solve solve;      /* the last layer's closed form (backup) */
    int32_t backups;          /* backup: exact linear FQE iterations per iteration (20) */
    double ridge;             /* ridge of that solve, relative: ridge * trace(Phi^T Phi) /
                                 (F + 1), F + 1 features per output (1e-6) */
    int32_t n_action_samples; /* continuous, stochastic pi_e: K samples of a' per s' (4) */
    int normalize_obs;        /* 1: observations standardised with the data's statistics
                                 (default 1) */
    uint64_t seed;            /* network init, mini-batches, action samples (0) */
} orl_fqe_config;

/* the defaults stated above: ReLU MLP 64x2; at most 100 iterations, each of 300 Adam steps
 * (lr 1e-3 decaying by 0.93 per iteration, B 256, MSE) and 20 exact backups of the last layer
 * (ridge 1e-6); stop when the estimated distance to the fixed point is at most 0.1% twice in a
 * row; K = 4; gamma from the dataset */
orl_fqe_config orl_fqe_config_defaults(void);

/* what an FQE fit produces; arrays owned, freed with orl_fqe_result_free */
typedef struct orl_fqe_result {
    double value;           /* V^(s0): mean over episode start states */
    double value_stderr;    /* standard error of that mean over start states (0 when E < 2) */
    double gamma;           /* the discount used */
    int64_t n_steps;        /* N */
    int64_t n_episodes;     /* E */
    double *q;              /* (N) Q^(s_t, a_t) at every logged step */
    double *v;              /* (N) V^(s_t) = E_{a ~ pi_e} Q^(s_t, a) at every logged step */
    double final_loss;      /* mean loss of the last iteration's fit steps (NN; NaN without
                               steps); last sweep's change (tabular) */
    int64_t iterations;     /* Q iterations (NN) or Bellman sweeps (tabular) done */
    int64_t gradient_steps; /* NN: Adam steps over all iterations */
    int converged;          /* NN: 1 when the tol/patience rule stopped the fit (tabular: 1) */
    double last_change;     /* NN: the last relative change of V(s0) (NaN after one iteration) */
    int32_t solve_failures; /* NN: iterations whose last-layer system was singular (kept) */
} orl_fqe_result;

/* frees the arrays and zeroes r; r may be NULL */
void orl_fqe_result_free(orl_fqe_result *r);

/* fits Q for the evaluation policy on a whole dataset ds and fills *out (which must not hold
 * arrays). cfg may be NULL (defaults); progress may be NULL (reports iterations done of
 * max_iter, "fqe"; a fit that converges stops early). ORL_ERR_INPUT for a bad configuration
 * (also a last-layer solve of more than 1024 unknowns: (H + 1) per discrete action), an empty
 * dataset or a policy whose dimensions do not match the header (message from
 * orl_policy_check_dims); ORL_ERR_NUMERIC naming the iteration when a loss or the value is not
 * finite; ORL_ERR_INTERRUPTED; ORL_ERR_NOMEM; the policy's own statuses. */
orl_status orl_fqe_fit(const orl_dataset *ds, const orl_policy *policy, const orl_fqe_config *cfg,
                       const orl_progress *progress, orl_fqe_result *out);

/* tabular FQE (one-hot observations) */

typedef struct orl_fqe_tabular_config {
    double gamma;     /* discount in [0, 1] */
    int32_t horizon;  /* 0: the stationary fixed point; H > 0: finite-horizon backward
                         induction, q and v at step t of an episode use Q_{H - t} */
    int64_t max_iter; /* stationary: most sweeps (0: 100000) */
    double tol;       /* stationary: stop when no Q changes by more than this (0: 1e-10) */
} orl_fqe_tabular_config;

/* tabular FQE of the evaluation policy given by probs (n_states, n_actions), row s the
 * distribution over actions in state s (orl_tabular_policy_probs or
 * orl_tabular_softmax_from_file), on a dataset with discrete actions whose observations are
 * one-hot over n_states (the state is the index of the 1). Fills *out as orl_fqe_fit does.
 * ORL_ERR_INPUT for a continuous dataset, obs_dim != n_states, a non-one-hot observation, a
 * bad gamma or horizon; ORL_ERR_NUMERIC when the stationary iteration does not converge within
 * max_iter sweeps (e.g. gamma = 1 and a policy that never terminates in the empirical model);
 * ORL_ERR_NOMEM. */
orl_status orl_fqe_tabular(const orl_dataset *ds, const double *probs, int32_t n_states,
                           int32_t n_actions, const orl_fqe_tabular_config *cfg,
                           orl_fqe_result *out);

/* ---- actor-critic: critic ensembles, actors, the entropy temperature ----
 * The shared parts of the value-based learners (td3bc, cql, iql), on the fit kit. Observations
 * given to critics and actors are ALREADY NORMALISED by the learner (orl_actor_normalize: the
 * actor fits the normaliser on the training observations, eps 1e-3, and stores it in its
 * policy file). No allocation after create; the same seed gives the same bits.
 * Dimension letters as above; K critic members, O a critic's outputs (1 for continuous
 * actions, n for discrete ones). */

/* ---- critic ensemble: K Q-networks evaluated in one call ----
 * continuous: Q_k(s, a) is an MLP over the concatenated input [s, a] (S + A wide), 1 output;
 * discrete:   Q_k(s, .) is an MLP over s (S wide), n outputs (one per action).
 * Each member is an orl_fit with a target copy (Polyak or hard updates) and its own Adam.
 * The members are initialised one after another from the caller's rng. */

typedef enum orl_critic_reduce {
    ORL_CRITIC_REDUCE_MIN = 0, /* min_k Q_k (TD3's clipped double Q) */
    ORL_CRITIC_REDUCE_MEAN,    /* mean_k Q_k */
    ORL_CRITIC_REDUCE_MIX,     /* lambda min_k Q_k + (1 - lambda) max_k Q_k (BCQ's soft clipping) */
} orl_critic_reduce;

typedef struct orl_critic_config {
    int32_t obs_dim;   /* S (>= 1) */
    int32_t act_dim;   /* A (>= 1) for continuous actions; 0 for discrete ones */
    int32_t n_actions; /* n (>= 2) for discrete actions; 0 for continuous ones */
    int32_t members;   /* K (>= 1; 2: twin critics) */
    int32_t hidden;    /* H, width of every hidden layer (256) */
    int32_t layers;    /* hidden layers, 1..ORL_MLP_MAX_LAYERS - 1 (2) */
    int32_t widths[ORL_MLP_MAX_LAYERS - 1]; /* hidden layer l's width where > 0, else hidden
                                               (all 0 by default; BCQ's 400-300 critics) */
    orl_activation activation;              /* after every hidden layer (ReLU) */
    orl_init init;        /* fan-in uniform (PyTorch) or orthogonal (CORL's CQL) */
    int layer_norm;       /* 1: LayerNorm after every hidden linear layer */
    float lr;             /* Adam learning rate (3e-4); PyTorch's betas and eps */
    double max_grad_norm; /* > 0: each member's gradients clipped to this norm; 0: none */
    int32_t max_batch;    /* largest B of any forward (CQL forwards B (1 + 3 n_samples)) */
} orl_critic_config;

/* the defaults above (twin, 2x256 ReLU, fan-in init, no LayerNorm, lr 3e-4, no clipping) for
 * the given shapes (act_dim 0 and n_actions >= 2 for discrete actions) */
orl_critic_config orl_critic_defaults(int32_t obs_dim, int32_t act_dim, int32_t n_actions,
                                      int32_t max_batch);

typedef struct orl_critic orl_critic;

/* K members, parameters drawn from rng member after member (orl_mlp_init_params), targets
 * copies of them. ORL_ERR_INPUT (a bad configuration: both or neither of act_dim and
 * n_actions, sizes, lr), ORL_ERR_NOMEM. Free with orl_critic_free. */
orl_status orl_critic_create(const orl_critic_config *cfg, orl_rng *rng, orl_critic **out);

/* c may be NULL */
void orl_critic_free(orl_critic *c);

const orl_critic_config *orl_critic_get_config(const orl_critic *c);

/* q (K, B, O) of the live networks on obs (B, S) and act (B, A) (continuous; NULL when
 * discrete), B <= max_batch; the inputs are copied (they need not outlive the call). The
 * result lives in the critic (valid until the next forward). */
const float *orl_critic_forward(orl_critic *c, const float *obs, const float *act, int32_t batch);

/* as orl_critic_forward over the first m members only (1 <= m <= K): q (m, B, O). A following
 * orl_critic_backward / orl_critic_action_grad then takes dq (m, B, O) (e.g. TD3+BC's actor
 * needs Q_1 alone) */
const float *orl_critic_forward_members(orl_critic *c, const float *obs, const float *act,
                                        int32_t batch, int32_t m);

/* q (K, B, O) of the target networks (in their own workspaces: a target forward does not
 * disturb the live forward that backward uses) */
const float *orl_critic_target_forward(orl_critic *c, const float *obs, const float *act,
                                       int32_t batch);

/* out (B, O) = the target networks' values reduced over the K members, elementwise: min, mean,
 * or lambda min + (1 - lambda) max (lambda used by ORL_CRITIC_REDUCE_MIX only) */
void orl_critic_target(orl_critic *c, const float *obs, const float *act, int32_t batch,
                       orl_critic_reduce reduce, float lambda, float *out);

/* orl_critic_target for B = G * repeat rows whose observation repeats over each group of
 * repeat rows: obs (G, S), act (B, A); the first layers' observation parts are computed once per
 * group (orl_mlp_forward_shared: within rounding of orl_critic_target on the repeated rows).
 * Continuous critics (A > 0). */
void orl_critic_target_shared(orl_critic *c, const float *obs, int32_t repeat, const float *act,
                              int32_t batch, orl_critic_reduce reduce, float lambda, float *out);

/* backward through the last forward (of m members): every member's parameter gradients
 * accumulate dLoss/dparams for dq (m, B, O) = dLoss/dq */
void orl_critic_backward(orl_critic *c, const float *dq);

/* continuous only: dact (B, A) += sum_k dq_k (B, 1) * dQ_k/da through the last forward (of m
 * members; dq (m, B, 1)), WITHOUT touching the members' parameter gradients: how an actor's
 * gradient flows through the critic without updating it */
void orl_critic_action_grad(orl_critic *c, const float *dq, float *dact);

/* one Adam step on every member (clipped when max_grad_norm > 0) at lr (< 0: cfg.lr), then
 * zeroes the gradients */
void orl_critic_step(orl_critic *c, float lr);

/* target = (1 - tau) target + tau params, one pass per member */
void orl_critic_polyak(orl_critic *c, float tau);

/* target = params (hard update) */
void orl_critic_target_copy(orl_critic *c);

/* member k's fit kit (0 <= k < K): its network (an orl_mlp, e.g. for an argmax-Q policy), its
 * target and optimiser state. Owned by the critic. */
orl_fit *orl_critic_member(orl_critic *c, int32_t k);

/* lists every member's state (orl_fit_buffers under "<prefix><k>", e.g. "q0_params") into out
 * (capacity cap) after the n already there; returns the new count (orl_buffer_put) */
int32_t orl_critic_buffers(orl_critic *c, const char *prefix, orl_buffer *out, int32_t cap,
                           int32_t n);

/* ---- actor: an MLP policy trained in place ----
 * The policy is a normal "mlp" policy (policy.h: normaliser, network, head, bounds) saved as it
 * is; its own network is trained by a fit kit in place (orl_fit_init_on), with an optional
 * target copy. With u = the network output on normalised observations and (c, s) the
 * mid-point and half-range of the action bounds:
 *   deterministic:  a = c + s tanh(u)                               (u (B, A); no logp)
 *   tanh-Gaussian:  a = c + s tanh(mean + std eps), logp exact       (u (B, 2A) = [mean | raw])
 *   Gaussian:       a = mean + std eps, logp = log N(a; mean, std)   (u (B, 2A); a unclipped)
 * with eps ~ N(0, 1) drawn from the caller's rng (reparameterised: the gradient flows through
 * a and logp with eps held fixed) and log_std the heads' smooth clamp of raw (heads.h). Bounds
 * are the dataset header's, else the observed range widened by 1e-3 (as the imitation core). */

typedef struct orl_actor_config {
    orl_policy_head head;      /* deterministic, tanh_gaussian or gaussian */
    int32_t hidden;            /* H (256) */
    int32_t layers;            /* hidden layers, 1..ORL_MLP_MAX_LAYERS - 1 (2) */
    orl_activation activation; /* ReLU */
    orl_init init;             /* fan-in uniform or orthogonal */
    float last_scale;          /* the last layer's initial scale (0 means 1) */
    float lr;                  /* Adam learning rate (3e-4) */
    double max_grad_norm;      /* > 0: clip; 0: none */
    float log_std_min;         /* Gaussian heads: log-std range (-5 / -20) */
    float log_std_max;         /* (2) */
    int target;                /* 1: keep a target copy (TD3+BC) */
    int normalize_obs;         /* 1: normaliser fitted on train's observations (eps 1e-3) */
    int32_t max_batch;         /* largest B of a forward */
} orl_actor_config;

/* the defaults above for a head (no target, normalised observations) */
orl_actor_config orl_actor_defaults(orl_policy_head head, int32_t max_batch);

typedef struct orl_actor orl_actor;

/* builds the policy (algorithm algo, config_json stored in it) for train's shapes (continuous
 * actions only), the normaliser fitted on train's observations when cfg asks, parameters from
 * rng. ORL_ERR_INPUT (discrete actions, a head other than the three, bad sizes or lr),
 * ORL_ERR_NOMEM. Free with orl_actor_free. */
orl_status orl_actor_create(const orl_actor_config *cfg, const orl_dataset *train, const char *algo,
                            const char *config_json, orl_rng *rng, orl_actor **out);

/* a may be NULL */
void orl_actor_free(orl_actor *a);

/* y (n, S) = obs (n, S) normalised as the policy does it (identity without a normaliser); y may
 * equal obs */
void orl_actor_normalize(const orl_actor *a, const float *obs, int64_t n, float *y);

/* actions act (B, A) of the live network on normalised obs (B, S), B <= max_batch; for the
 * Gaussian heads a reparameterised sample with eps drawn from rng (NULL: eps = 0, the mean
 * action c + s tanh(mean), resp. mean) and logp (B) its log-density (may be NULL; must be NULL
 * for the deterministic head). obs must stay valid until orl_actor_backward. */
void orl_actor_forward(orl_actor *a, const float *obs, int32_t batch, orl_rng *rng, float *act,
                       float *logp);

/* Gaussian heads: logp (B) of given actions act (B, A) under the live network on normalised obs
 * (B, S) (the policy's density; tanh-Gaussian clips as heads.h does). A following backward
 * takes dact NULL and dlogp. */
void orl_actor_log_prob(orl_actor *a, const float *obs, int32_t batch, const float *act,
                        float *logp);

/* backward through the last forward (or log_prob): the network's parameter gradients
 * accumulate dLoss/dparams for dact (B, A) = dLoss/dact and dlogp (B) = dLoss/dlogp (either may
 * be NULL for zero; dact must be NULL after log_prob) */
void orl_actor_backward(orl_actor *a, const float *dact, const float *dlogp);

/* the target network's (cfg.target) deterministic action act (B, A) on normalised obs (B, S) */
void orl_actor_target_forward(orl_actor *a, const float *obs, int32_t batch, float *act);

/* clip (optional), Adam at lr (< 0: cfg.lr), zero the gradients; returns the gradient norm
 * before clipping (NaN without clipping) */
double orl_actor_step(orl_actor *a, float lr);

/* target = (1 - tau) target + tau params (cfg.target) */
void orl_actor_polyak(orl_actor *a, float tau);

/* the live policy (owned by the actor; export a copy with orl_learner_copy_mlp_policy) */
orl_policy *orl_actor_policy(orl_actor *a);

/* the fit kit training the policy's network in place */
orl_fit *orl_actor_kit(orl_actor *a);

/* lists the actor's state (orl_fit_buffers under prefix: parameters, Adam, target) into out
 * (capacity cap) after the n already there; returns the new count */
int32_t orl_actor_buffers(orl_actor *a, const char *prefix, orl_buffer *out, int32_t cap,
                          int32_t n);

/* ---- entropy temperature: one Adam-trained scalar log alpha ----
 * SAC's automatic tuning: loss = -log_alpha mean_b (logp_b + target_entropy) (logp detached),
 * alpha = exp(log_alpha); target entropy -A by default. orl_temperature_step_grad steps any
 * other loss of log_alpha (e.g. CQL's Lagrange multiplier alpha'). The struct holds its Adam
 * moments inline and points at them: initialise it in place, do not copy it. */

typedef struct orl_temperature {
    float log_alpha;      /* the parameter */
    float target_entropy; /* e.g. -A */
    orl_adam adam;        /* over &log_alpha, moments in the array below */
    float moments[32];    /* orl_adam_moment_floats(1) */
} orl_temperature;

/* log_alpha = log(init_alpha) (init_alpha > 0), Adam at lr with PyTorch's betas and eps.
 * ORL_ERR_INPUT for init_alpha <= 0 or lr <= 0. */
orl_status orl_temperature_init(orl_temperature *t, float init_alpha, float target_entropy,
                                float lr);

/* one Adam step on the loss above for logp (B) (the actor's log-densities of its own samples);
 * returns the loss before the step */
double orl_temperature_step(orl_temperature *t, const float *logp, int32_t batch);

/* one Adam step on a caller's gradient dLoss/dlog_alpha */
void orl_temperature_step_grad(orl_temperature *t, double grad);

/* exp(log_alpha) */
float orl_temperature_alpha(const orl_temperature *t);

/* lists t's state under prefix ("<prefix>_log_alpha", "<prefix>_adam_m", "<prefix>_adam_v",
 * "<prefix>_adam_t") into out (capacity cap) after the n already there; returns the new count */
int32_t orl_temperature_buffers(orl_temperature *t, const char *prefix, orl_buffer *out,
                                int32_t cap, int32_t n);

#endif
