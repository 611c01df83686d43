/* Filters: what is computed from a dataset before a learner sees it.
 *
 * Dimension letters: N steps, E episodes, S observation size (include/orl/nn.h).
 *
 * - returns: discounted returns-to-go per step and returns per episode, in double; episode
 *   statistics;
 * - selection: per-episode keep masks (top K% by return, a minimum return, an SQL predicate
 *   over an episodes table run through a read-only SQLite connection) and the dataset of the
 *   kept episodes;
 * - AWR: a value function V(s) fit by regression (MLP, MSE, Adam), TD(lambda) or Monte Carlo
 *   targets, advantages and the per-step weights exp(A / beta) clipped at a maximum;
 * - normalisation: observation mean/std, reward scaling (IQL's locomotion scale), and a seeded
 *   train/validation split by episode.
 *
 * Every function takes a whole dataset (every episode closed, ep_off valid). Nothing here
 * prints, and nothing modifies its input dataset unless the name says so (scale_rewards). */
#ifndef ORL_FILTERS_H
#define ORL_FILTERS_H

#include "orl/dataset.h"
#include "orl/fit.h"
#include "orl/nn.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

/* ---- returns ---- */

/* discounted returns-to-go: rtg[t] = rew[t] + discount * rtg[t + 1] inside an episode; at the
 * last step of an episode rtg = rew plus, when the episode ended by timeout and v_next is not
 * NULL, discount * v_next[t] (the bootstrap from the value of next_obs; a terminal step never
 * bootstraps). v_next (N) may be NULL (no bootstrap). discount in [0, 1].
 * rtg (N). Returns ORL_ERR_INPUT for a discount outside [0, 1]. */
orl_status orl_returns_to_go(const orl_dataset *ds, double discount, const double *v_next,
                             double *rtg);

/* ret (E): the discounted return of each episode, sum_t discount^t rew[t] (discount 1:
 * undiscounted). ORL_ERR_INPUT for a discount outside [0, 1]. */
orl_status orl_episode_returns(const orl_dataset *ds, double discount, double *ret);

typedef struct orl_episode_stats {
    int64_t n_episodes; /* E */
    int64_t n_steps;    /* N */
    int64_t n_terminal; /* episodes ending terminal */
    int64_t n_timeout;  /* episodes ending by timeout */
    int64_t len_min, len_max;
    double len_mean;
    double return_min, return_max, return_mean, return_std; /* per episode (population std) */
} orl_episode_stats;

/* statistics of the episodes' returns (discount 1: undiscounted) and lengths.
 * ORL_ERR_INPUT for an empty dataset or a discount outside [0, 1]; ORL_ERR_NOMEM. */
orl_status orl_episode_stats_compute(const orl_dataset *ds, double discount,
                                     orl_episode_stats *out);

/* ---- selection ----
 * A keep mask is one byte per episode (E): 1 keeps the episode. */

/* keeps the top percent% of episodes by their return with this discount (1: undiscounted):
 * ceil(E * percent / 100) episodes, at least one; among equal returns the lower episode index
 * wins. percent in (0, 100]. keep (E). ORL_ERR_INPUT, ORL_ERR_NOMEM. */
orl_status orl_select_top(const orl_dataset *ds, double percent, double discount, uint8_t *keep);

/* keeps the episodes whose return with this discount is >= min_return. keep (E). */
orl_status orl_select_min_return(const orl_dataset *ds, double min_return, double discount,
                                 uint8_t *keep);

/* keeps the episodes for which the SQL expression `predicate` is true over a table
 *
 *   episodes(id, "index", first_step, length, return, disc_return, terminated, timeout,
 *            source, env_id, behavior, tool)
 *
 * one row per episode: id and "index" are the episode index (0-based), return is
 * undiscounted, disc_return uses `discount` (NaN: the header's discount; when that is NaN too
 * the column is NULL), terminated/timeout are 0/1 from the last step, the text columns are the
 * header's metadata. The table lives in a private in-memory database that the predicate sees
 * through a connection opened read-only, with an authorizer allowing only SELECT, reads and
 * function calls and a bound on the work a predicate may do: a predicate can read, never
 * modify, and a second statement (`1; DROP TABLE episodes`) is refused. A predicate that does
 * not parse or run gives ORL_ERR_INPUT with SQLite's message. keep (E). */
orl_status orl_select_where(const orl_dataset *ds, const char *predicate, double discount,
                            uint8_t *keep);

/* *out (a new dataset, header copied) holds the kept episodes of ds in order; free with
 * orl_dataset_free. keep (E). An empty selection gives a dataset with no steps.
 * ORL_ERR_NOMEM. */
orl_status orl_dataset_select(const orl_dataset *ds, const uint8_t *keep, orl_dataset **out);

/* number of kept episodes and their steps (either may be NULL) */
void orl_keep_count(const orl_dataset *ds, const uint8_t *keep, int64_t *episodes, int64_t *steps);

/* ---- AWR: value regression, advantages, weights ---- */

/* a value function V(s): an MLP S -> 1 on standardised observations, regressing standardised
 * targets (the observation and target statistics are taken at the first fit and kept, so
 * repeated fits continue the same function), trained with MSE and Adam */
typedef struct orl_value_config {
    int32_t hidden[ORL_MLP_MAX_LAYERS - 1]; /* hidden widths, 0-terminated (AWR: 128, 64) */
    orl_activation activation;              /* ReLU */
    float lr;                               /* Adam learning rate (1e-3) */
    int32_t batch;                          /* B (256) */
} orl_value_config;

/* AWR's critic shape (128, 64, ReLU), Adam 1e-3, batch 256 */
orl_value_config orl_value_defaults(void);

typedef struct orl_value_fn {
    orl_value_config cfg;
    int32_t obs_dim;         /* S */
    orl_fit fit;             /* the network S -> 1 with its Adam state, batches up to cfg.batch */
    orl_normalizer obs_norm; /* identity until the first fit */
    double target_mean;      /* targets are regressed as (y - mean) / std */
    double target_std;
    int fitted;   /* 1 once the statistics were taken */
    float *x;     /* (B, S) a standardised batch; x, y and dpred are one allocation */
    float *y;     /* (B) standardised targets */
    float *dpred; /* (B) */
} orl_value_fn;

/* allocates a value function for observations of size obs_dim, weights from rng. cfg may be
 * NULL (defaults). Free with orl_value_free. ORL_ERR_INPUT, ORL_ERR_NOMEM. */
orl_status orl_value_init(orl_value_fn *v, const orl_value_config *cfg, int32_t obs_dim,
                          orl_rng *rng);

/* frees; v may be NULL */
void orl_value_free(orl_value_fn *v);

/* lists v's state into out (capacity cap) after the n already there, under prefix: the fit
 * kit's (params, adam_m, adam_v, adam_t: orl_fit_buffers), then obs_mean, obs_std (S floats),
 * target_mean, target_std (double), fitted (int). Returns the new count (orl_buffer_put). */
int32_t orl_value_buffers(orl_value_fn *v, const char *prefix, orl_buffer *out, int32_t cap,
                          int32_t n);

/* takes `steps` Adam steps on minibatches of (obs, target) rows drawn uniformly with rng;
 * obs (n, S), target (n). The first call fixes the observation and target statistics.
 * *loss (may be NULL) receives the mean MSE (in target units squared) over the last
 * min(steps, 100) minibatches. ORL_ERR_INPUT (n < 1), ORL_ERR_NUMERIC for a non-finite loss
 * (naming the step). No allocation. */
orl_status orl_value_fit(orl_value_fn *v, const float *obs, const double *target, int64_t n,
                         int64_t steps, orl_rng *rng, double *loss);

/* out (n) = V(obs (n, S)) in target units; v's workspace is used (not thread-safe per v) */
void orl_value_predict(orl_value_fn *v, const float *obs, int64_t n, double *out);

/* mean squared error of V over (obs (n, S), target (n)), in target units squared */
double orl_value_mse(orl_value_fn *v, const float *obs, const double *target, int64_t n);

typedef enum orl_advantage_kind {
    ORL_ADVANTAGE_KIND_TD_LAMBDA = 0, /* AWR: TD(lambda) returns against V */
    ORL_ADVANTAGE_KIND_MONTE_CARLO,   /* returns-to-go (TD(1)) against V */
} orl_advantage_kind;

typedef struct orl_awr_config {
    orl_advantage_kind kind;
    double discount;   /* 0.99 */
    double lambda;     /* 0.95 (TD(lambda) only) */
    int standardize;   /* 1: A = (A - mean) / (std + 1e-5) before the exponential */
    double beta;       /* temperature (1.0) */
    double max_weight; /* weights are clipped at this (20) */
} orl_awr_config;

/* the reference implementation's defaults (xbpeng/awr): TD(lambda) with discount 0.99,
 * lambda 0.95, standardised advantages, beta 1.0, weights clipped at 20 */
orl_awr_config orl_awr_defaults(void);

/* the regression targets: TD(lambda) returns
 *   G[T] = rew[T] + discount * V(next_obs[T])   (the V term only when the episode timed out)
 *   G[t] = rew[t] + discount * ((1 - lambda) v_next[t] + lambda G[t + 1])
 * with lambda = 1 for Monte Carlo (then G is the bootstrapped return-to-go).
 * v_next (N) the values of next_obs, may be NULL (V = 0). target (N). ORL_ERR_INPUT. */
orl_status orl_awr_targets(const orl_dataset *ds, const orl_awr_config *cfg, const double *v_next,
                           double *target);

/* advantages A = target - v, v (N) the values of obs (NULL: 0), v_next as above; not
 * standardised. adv (N). */
orl_status orl_awr_advantages(const orl_dataset *ds, const orl_awr_config *cfg, const double *v,
                              const double *v_next, double *adv);

/* weight (n) = min(exp(A' / beta), max_weight) where A' is adv standardised or not per cfg;
 * computed in double. ORL_ERR_INPUT (beta <= 0, max_weight <= 0), ORL_ERR_NUMERIC for a
 * non-finite advantage. */
orl_status orl_awr_weights_from_advantages(const double *adv, int64_t n, const orl_awr_config *cfg,
                                           float *weight);

/* the whole pass: values of obs and next_obs from vf (NULL: V = 0), advantages, weights.
 * weight (N), a per-step column any learner can consume. adv (N) may be NULL; when not,
 * it receives the raw advantages. Allocates scratch (3 N doubles). */
orl_status orl_awr_weights(const orl_dataset *ds, const orl_awr_config *cfg, orl_value_fn *vf,
                           float *weight, double *adv);

/* one AWR value step: targets from the current vf per cfg, then orl_value_fit for `steps`
 * steps on (obs, targets). The AWR learner alternates this with its policy fit. *loss may be
 * NULL. Allocates scratch (2 N doubles). */
orl_status orl_awr_fit_value(const orl_dataset *ds, const orl_awr_config *cfg, orl_value_fn *vf,
                             int64_t steps, orl_rng *rng, double *loss);

/* ---- normalisation ---- */

/* observation mean and std (population) over the N steps of ds, std floored at eps (<= 0:
 * 1e-3). nm is filled (orl_normalizer_free it). ORL_ERR_INPUT, ORL_ERR_NUMERIC, ORL_ERR_NOMEM. */
orl_status orl_dataset_obs_normalizer(const orl_dataset *ds, float eps, orl_normalizer *nm);

/* IQL's locomotion reward scale: 1000 / (max episode return - min episode return), returns
 * undiscounted. ORL_ERR_INPUT when every episode has the same return (or ds is empty). */
orl_status orl_reward_scale_iql(const orl_dataset *ds, double *scale);

/* rew = rew * scale + shift, in place */
void orl_dataset_scale_rewards(orl_dataset *ds, double scale, double shift);

/* a seeded split by episode: is_valid (E) marks round(E * valid_fraction) episodes drawn
 * without replacement with rng (at least 1 when valid_fraction > 0 and E >= 2, at most E - 1).
 * valid_fraction in [0, 1). ORL_ERR_INPUT, ORL_ERR_NOMEM. */
orl_status orl_split_episodes(const orl_dataset *ds, double valid_fraction, orl_rng *rng,
                              uint8_t *is_valid);

/* the split as two datasets (orl_dataset_free each); train and valid get the episodes with
 * is_valid 0 and 1 respectively, in order */
orl_status orl_dataset_split(const orl_dataset *ds, double valid_fraction, orl_rng *rng,
                             orl_dataset **train, orl_dataset **valid);

#endif
