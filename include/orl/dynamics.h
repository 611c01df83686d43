/* Dynamics ensembles: a learned model of the world (MOReL's, Kidambi et al. 2020, as mjrl v2's
 * projects/morel fits it), reused by MOReL's pessimistic MDP and by model-based OPE.
 *
 * K members, each an MLP over the normalised [s, a] (one-hot a for discrete actions) with
 * outputs [delta (S) | reward (1) | done logit (1)]: the change of state and the reward
 * normalised by their mean and mean absolute deviation (mjrl's choice: dimensions whose
 * deviation is below 1e-8 are masked, their input is 0 and their prediction is the mean), and
 * the termination as a logit (binary cross-entropy). Members differ by their initial weights
 * and their mini-batch order (all see the same training rows, as the reference), or by a
 * bootstrap resample of the rows (an option). Trained by Adam (1e-3) on MSE + BCE over epochs,
 * with held-out episodes for early stopping: each member keeps its parameters of its best
 * held-out loss, and training stops when no member improved for `patience` epochs.
 *
 * Disagreement (USAD): the maximum pairwise L2 distance between the members' next-state
 * predictions, in the state's own units; the model stores the maximum of it over the training
 * data and threshold = that maximum / pessimism (3.0 by default, the reference's D4RL value).
 * The model also stores the data's start states (the first observation of every episode), the
 * held-out errors (one-step, and open-loop at horizons 1, 10, 50 on held-out episodes) and the
 * configuration it was fitted with.
 *
 * Model files are HDF5 (orl_dynamics_save / orl_dynamics_load; keys in models/dynamics_file.c),
 * self-contained, written to a temporary name and renamed into place; the loader validates
 * every key and never crashes on a hostile file.
 *
 * Memory: the model is constant during prediction; predictions write into an orl_dynamics_work
 * sized once for a maximum batch (one per thread), so no prediction allocates.
 *
 * Not here: the pessimistic MDP and the planner (MOReL), the OPE estimator (ope/mb.c).
 * Dimension letters as in nn.h: N steps, E episodes, B batch, S observation size, A action
 * size (the one-hot width n for discrete actions), H hidden width, K members; I = S + A the
 * network input width, O = S + 2 its output width. */
#ifndef ORL_DYNAMICS_H
#define ORL_DYNAMICS_H

#include "orl/dataset.h"
#include "orl/heads.h"
#include "orl/nn.h"
#include "orl/policy.h"
#include "orl/progress.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

#define ORL_DYNAMICS_FORMAT_VERSION 1 /* written as orl_model_version */
#define ORL_DYNAMICS_HORIZONS       3 /* open-loop errors at horizons 1, 10, 50 */

/* the horizons of the multi-step errors: {1, 10, 50} */
extern const int32_t orl_dynamics_horizons[ORL_DYNAMICS_HORIZONS];

typedef struct orl_dynamics_config {
    int32_t members;           /* K (4) */
    int32_t hidden;            /* H (512) */
    int32_t layers;            /* hidden layers (2) */
    orl_activation activation; /* ReLU */
    float lr;                  /* Adam learning rate (1e-3), PyTorch's betas and eps */
    int32_t batch;             /* mini-batch rows per member (256) */
    int32_t epochs;            /* most passes over the training rows (100) */
    int32_t patience;          /* stop after this many epochs without a member improving its
                                  held-out loss (5); 0: run every epoch */
    double holdout;            /* share of episodes held out (0.1), at least one when E >= 2;
                                  0: none (no early stopping, errors NaN) */
    int bootstrap;             /* 1: each member trains on its own bootstrap resample of the
                                  training rows (0: all members see all rows) */
    double pessimism;          /* threshold = max disagreement over the data / pessimism (3.0) */
    uint64_t seed;             /* initial weights, split, batches (0) */
} orl_dynamics_config;

/* the defaults above */
orl_dynamics_config orl_dynamics_config_defaults(void);

/* the keys of orl_dynamics_config_set, for messages and help */
#define ORL_DYNAMICS_CONFIG_KEYS                                                                   \
    "members, hidden, layers, lr, batch, epochs, patience, holdout, bootstrap, pessimism, seed"

/* sets one field of cfg, as `--set key=value` does once the caller has parsed the number:
 * members (1..64), hidden (1..65536), layers (1..ORL_MLP_MAX_LAYERS - 1), lr (> 0), batch
 * (>= 1), epochs (>= 1), patience (>= 0), holdout [0, 0.9], bootstrap (0 or 1), pessimism
 * (> 0), seed (an integer >= 0). ORL_ERR_INPUT naming the key and the value (integers must be
 * whole), or listing the keys for an unknown one. */
orl_status orl_dynamics_config_set(orl_dynamics_config *cfg, const char *key, double value);

/* ORL_ERR_INPUT naming the first field of cfg outside the ranges above */
orl_status orl_dynamics_config_check(const orl_dynamics_config *cfg);

/* held-out errors of a model (NaN when there was nothing held out); stored in the model file */
typedef struct orl_dynamics_errors {
    int64_t n_rows;     /* held-out rows */
    int64_t n_episodes; /* held-out episodes */
    double state_rmse;  /* one-step next-state error: sqrt(mean over rows, members and dims of
                           the squared error), in the state's units */
    double state_nrmse; /* the same with each dimension's error divided by its state scale
                           (mean absolute deviation of the observations; masked dims skipped) */
    double reward_rmse; /* one-step reward error */
    double done_error;  /* share of rows (and members) whose done probability is on the wrong
                           side of 0.5 */
    double horizon_rmse[ORL_DYNAMICS_HORIZONS];   /* open-loop error h steps after a held-out
                                                     step with the logged actions, each member
                                                     rolled on its own predictions; state units */
    double horizon_nrmse[ORL_DYNAMICS_HORIZONS];  /* normalised as state_nrmse */
    int64_t horizon_count[ORL_DYNAMICS_HORIZONS]; /* start steps with h steps left */
} orl_dynamics_errors;

/* a fitted model; the fields are read-only for callers */
typedef struct orl_dynamics {
    orl_dynamics_config cfg;
    int32_t obs_dim; /* S */
    int32_t act_dim; /* A continuous; for discrete actions 1 (the index) */
    orl_action_kind action_kind;
    int32_t n_actions;       /* discrete: n; continuous: 0 */
    int32_t in_dim;          /* I = S + A (continuous) or S + n (discrete) */
    int32_t out_dim;         /* O = S + 2 */
    orl_ensemble ens;        /* the K members, parameters (K, P) */
    float *in_mean;          /* (I) input normaliser: mean (0 and scale 1 for one-hot columns) */
    float *in_scale;         /* (I) mean absolute deviation, 1 where masked */
    float *in_mask;          /* (I) 1 or 0 (zero-scale dims) */
    float *out_mean;         /* (S + 1) delta-state and reward: mean */
    float *out_scale;        /* (S + 1) mean absolute deviation, 1 where masked */
    float *out_mask;         /* (S + 1) 1 or 0 */
    float *obs_scale;        /* (S) the observations' mean absolute deviation (for nrmse) */
    int64_t n_starts;        /* E0 start states */
    float *starts;           /* (E0, S) the first observation of every training episode */
    double gamma;            /* the data's discount (NaN when unknown) */
    int64_t horizon;         /* the data's time limit, else its longest episode */
    double disagreement_max; /* max over the training rows of the disagreement */
    double threshold;        /* disagreement_max / cfg.pessimism */
    int64_t n_train_rows;    /* rows the members were fitted on */
    int32_t epochs_run;      /* epochs actually run (early stopping) */
    double train_loss;       /* mean training loss of the last epoch (normalised units) */
    double holdout_loss;     /* best held-out loss, mean over members (NaN: none) */
    orl_dynamics_errors errors;
    char env_id[128]; /* the data's environment ("" when unknown) */
    void *mem;        /* the one allocation behind the arrays above (not the ensemble's) */
} orl_dynamics;

/* frees everything; d may be NULL */
void orl_dynamics_free(orl_dynamics *d);

/* ---- fitting ---- */

/* fits a model to ds (continuous or discrete actions, at least 2 rows; held-out episodes per
 * cfg), then computes the disagreement maximum and threshold over every row of ds, the start
 * states and the held-out errors. progress (may be NULL) counts epochs. Deterministic for a
 * seed (and BLAS thread count). ORL_ERR_INPUT (bad configuration, too little data),
 * ORL_ERR_NUMERIC naming the epoch of a non-finite loss, ORL_ERR_INTERRUPTED, ORL_ERR_NOMEM.
 * Free *out with orl_dynamics_free. */
orl_status orl_dynamics_fit(const orl_dynamics_config *cfg, const orl_dataset *ds,
                            const orl_progress *progress, orl_dynamics **out);

/* The same fit one epoch at a time, for a learner's phase that is reported, checkpointed and
 * resumed (MOReL): create, call epoch until *finished, then finish. The trainer keeps a
 * pointer to ds (it must outlive the trainer). orl_dynamics_fit is exactly this loop. */
typedef struct orl_dynamics_trainer orl_dynamics_trainer;

/* statuses as orl_dynamics_fit */
orl_status orl_dynamics_trainer_create(const orl_dynamics_config *cfg, const orl_dataset *ds,
                                       orl_dynamics_trainer **out);

/* one epoch over the training rows and the held-out loss; *finished is set when the epochs
 * are used up or early stopping stops. ORL_ERR_NUMERIC naming the epoch. No allocation. */
orl_status orl_dynamics_trainer_epoch(orl_dynamics_trainer *tr, int *finished);

/* epochs run so far and the planned maximum */
int32_t orl_dynamics_trainer_epochs(const orl_dynamics_trainer *tr);

/* lists the trainer's state (parameters, best parameters, Adam moments and step, rng, epoch
 * counters, best losses) under prefix into out (capacity cap) after the n already there
 * (nn.h's orl_buffer_put convention); restoring these bytes into a trainer created with the
 * same cfg and ds resumes with the same bits. Returns the new count. */
int32_t orl_dynamics_trainer_buffers(orl_dynamics_trainer *tr, const char *prefix, orl_buffer *out,
                                     int32_t cap, int32_t n);

/* the fitted model (the best parameters of each member), with threshold, start states and
 * held-out errors computed; the trainer stays valid (free it after). Free *out with
 * orl_dynamics_free. */
orl_status orl_dynamics_trainer_finish(orl_dynamics_trainer *tr, orl_dynamics **out);

/* tr may be NULL */
void orl_dynamics_trainer_free(orl_dynamics_trainer *tr);

/* ---- prediction ---- */

typedef struct orl_dynamics_work orl_dynamics_work;

/* scratch for predictions of batches up to max_batch (>= 1) rows per member; one per thread.
 * ORL_ERR_INPUT, ORL_ERR_NOMEM. */
orl_status orl_dynamics_work_create(const orl_dynamics *d, int32_t max_batch,
                                    orl_dynamics_work **out);

/* w may be NULL */
void orl_dynamics_work_free(orl_dynamics_work *w);

/* all K members in one call. With per_member 0, every member predicts from the same rows:
 * obs (B, S) and act (B, A) (continuous) or act_idx (B) (discrete; the other NULL); with
 * per_member 1 each member has its own rows: obs (K, B, S), act (K, B, A) or act_idx (K, B).
 * Outputs (any may be NULL): next_obs (K, B, S) = obs + delta, rew (K, B), done (K, B) the
 * termination probability. B <= the work's max_batch. No allocation; the model is not
 * changed (threads may share it with a work each). Discrete indices outside [0, n) are a
 * programmer error (assert). */
void orl_dynamics_predict(const orl_dynamics *d, orl_dynamics_work *w, const float *obs,
                          const float *act, const int32_t *act_idx, int per_member, int32_t batch,
                          float *next_obs, float *rew, float *done);

/* disagreement (B): max over member pairs of ||next_obs_i - next_obs_j||_2 of predictions
 * next_obs (K, B, S) (0 for K = 1) */
void orl_dynamics_disagreement(const orl_dynamics *d, const float *next_obs, int32_t batch,
                               float *disagreement);

/* the held-out errors of d on ds (every row and episode of ds counts as held out): what
 * orl_dynamics_fit stores for its held-out episodes, for any dataset of d's shapes.
 * ORL_ERR_INPUT for other shapes, ORL_ERR_NOMEM. */
orl_status orl_dynamics_evaluate(const orl_dynamics *d, const orl_dataset *ds,
                                 orl_dynamics_errors *out);

/* how much of ds the HALT test at threshold cuts (MOReL's pessimistic MDP halts where the
 * disagreement exceeds the threshold): *row_share, the share of the rows of ds whose
 * disagreement (all members from the row's own observation and action) exceeds threshold, and
 * *episode_share, the share of its episodes that contain such a row (either may be NULL). A
 * threshold that halts most of the data's own episodes halts the behaviour the planner starts
 * from (PointMaze-UMaze at pessimism 3: 2% of the rows, every episode; docs/learners.md).
 * ORL_ERR_INPUT (shapes unlike the model's, no rows), ORL_ERR_NUMERIC (a prediction not
 * finite), ORL_ERR_NOMEM. */
orl_status orl_dynamics_over_threshold(const orl_dynamics *d, const orl_dataset *ds,
                                       double threshold, double *row_share, double *episode_share);

/* ORL_ERR_INPUT naming the first mismatch between the model and a dataset header (obs_dim,
 * action kind, act_dim, n_actions); name names the model in the message */
orl_status orl_dynamics_check_dims(const orl_dynamics *d, const orl_header *h, const char *name);

/* ---- model files ---- */

/* Saving and loading call HDF5 (not thread-safe as Debian builds it): one thread at a time. */

/* writes d to path (a temporary name beside it, renamed into place when complete). ORL_ERR_IO;
 * nothing is left under path or the temporary name on failure. */
orl_status orl_dynamics_save(const orl_dynamics *d, const char *path);

/* reads a model file: every key is checked (version, shapes, lengths, parameter count against
 * the widths, finite values, sizes within limits): ORL_ERR_FORMAT naming the file and the key,
 * ORL_ERR_IO when the file cannot be opened, ORL_ERR_UNSUPPORTED for a newer version. Free
 * *out with orl_dynamics_free. */
orl_status orl_dynamics_load(const char *path, orl_dynamics **out);

/* ---- rollouts of a policy in the model ---- */

/* discounted returns of policy p in the model: from each of the n_starts start states
 * starts (n_starts, S), `rollouts` episodes per member, each member rolled on its own
 * predictions (all K members, no truncation by disagreement), actions from p (mode: the
 * mean action or a sample from rng), until the member predicts done (probability > 0.5) or
 * horizon steps. returns (n_starts, rollouts, K) in double; steps (may be NULL) the model
 * steps taken. All starts and members advance in one batched prediction per step (chunks of
 * the work's max_batch rows per member). ORL_ERR_INPUT (p's dimensions do not fit d,
 * horizon < 1, gamma outside [0, 1]), the policy's statuses, ORL_ERR_NUMERIC for a
 * non-finite prediction, ORL_ERR_NOMEM. */
orl_status orl_dynamics_policy_returns(const orl_dynamics *d, const orl_policy *p,
                                       const float *starts, int64_t n_starts, int32_t rollouts,
                                       double gamma, int64_t horizon, orl_policy_mode mode,
                                       orl_rng *rng, double *returns, int64_t *steps);

/* a task's own reward and termination over observed transitions: reward (B) and done (B, 1.0
 * or 0.0) for obs (B, S), act (B, A) (the action as applied: clipped to the bounds), next_obs
 * (B, S) */
typedef void (*orl_dynamics_reward_fn)(const float *obs, const float *act, const float *next_obs,
                                       int32_t batch, float *reward, float *done);

/* *out = the reward function of orl's environment env_id (Pendulum-v1,
 * MountainCarContinuous-v0: models/dynamics_env.c), for MOReL's reward=env (the reference's
 * use of the task's own reward instead of learned heads). ORL_ERR_INPUT naming the environment
 * when there is none in code or its shapes differ from obs_dim, act_dim (*out NULL). */
orl_status orl_dynamics_env_reward(const char *env_id, int32_t obs_dim, int32_t act_dim,
                                   orl_dynamics_reward_fn *out);

#endif
