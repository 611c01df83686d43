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
 * give absurd densities there). */

typedef struct orl_ml_config {
    orl_policy_head head;  /* the distribution (policy.h) */
    int32_t act_dim;       /* A (continuous heads) */
    int32_t n_actions;     /* n (categorical head) */
    float log_std_min;     /* Gaussian heads: log-std range (heads.h), e.g. -5 */
    float log_std_max;     /* e.g. 2 */
    const float *act_low;  /* (A) deterministic and tanh-Gaussian heads: the box (finite);
                              not copied, must outlive the fit; else NULL */
    const float *act_high; /* (A) */
    int uniform_mix;       /* tanh-Gaussian head only: 1 mixes in the uniform share above */
    double uniform_floor;  /* its floor in [0, 1) */
    float lr;              /* Adam learning rate (PyTorch's betas and eps) */
    int32_t max_batch;     /* largest B of a step or a log-probability call */
    const char *name;      /* names the model in messages ("imitation", "RIS (MLP)"); static */
} orl_ml_config;

typedef struct orl_ml_fit orl_ml_fit;

/* the network output width O the configuration needs: n, A, 2A, or 2A + 1 with the uniform
 * share */
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

/* lists the core's buffers (parameters, Adam moments and step count, under "policy") into out
 * (capacity cap) after the n already there; returns the new count (orl_buffer_put) */
int32_t orl_imitation_buffers(orl_imitation *im, orl_buffer *out, int32_t cap, int32_t n);

/* im may be NULL */
void orl_imitation_free(orl_imitation *im);

#endif
