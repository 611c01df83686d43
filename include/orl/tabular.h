/* Exact dynamic programming for the tabular environments (GridWorld-4x4): the true value of a
 * policy, against which off-policy estimates are scored.
 *
 * The value is the expected (discounted) return from the start state of the time-limited
 * problem, computed by finite-horizon backward induction over the horizon (the environment's
 * time limit, 100 steps for GridWorld-4x4): V_0 = 0 and
 *   V_h(s) = sum_a pi(a|s) [ r(s, a) + gamma * (1 - end(s, a)) * V_{h-1}(next(s, a)) ],
 * the answer being V_H(start). Nothing is sampled; the result is exact up to rounding.
 *
 * A policy is given either as an orl_policy (its probabilities read through orl_policy_logp at
 * each one-hot observation; a deterministic policy through orl_policy_act's argmax) or as an
 * explicit probability table (n_rows, n_actions), e.g. one of the softmax parameter files of the
 * regression-importance-sampling study (orl_tabular_softmax_from_file).
 *
 * Not here: sampling-based evaluation (eval/), estimators (ope/). */
#ifndef ORL_TABULAR_H
#define ORL_TABULAR_H

#include "orl/policy.h"
#include "orl/status.h"

#include <stdint.h>

#define ORL_TABULAR_MAX_STATES  64
#define ORL_TABULAR_MAX_ACTIONS 8

/* the deterministic model of a tabular environment; arrays are row-major (n_states, n_actions)
 * with row stride n_actions */
typedef struct orl_tabular_model {
    int32_t n_states;  /* the environment's orl_env_n_states (observations are one-hot of it) */
    int32_t n_actions; /* the environment's discrete actions */
    int32_t start;     /* the initial state (every episode starts there) */
    int32_t max_episode_steps; /* the environment's time limit */
    int32_t next[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_ACTIONS];  /* (n_states, n_actions) */
    double reward[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_ACTIONS]; /* (n_states, n_actions) */
    uint8_t ends[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_ACTIONS];  /* (n_states, n_actions)
                                                                        the step terminates */
    uint8_t absorbing[ORL_TABULAR_MAX_STATES]; /* (n_states) terminal: no action is taken */
} orl_tabular_model;

/* fills *model for env_id ("GridWorld-4x4"). Defined in eval/gridworld.c beside the dynamics it
 * describes. ORL_ERR_UNSUPPORTED when env_id is not a tabular environment. */
orl_status orl_tabular_model_get(const char *env_id, orl_tabular_model *model);

/* the exact value of the policy given by probs (n_rows, n_actions), rows summing to 1, where
 * row s is the distribution over actions in state s. n_rows may stop short of n_states when the
 * states left out are absorbing (the fixtures' 15 rows for GridWorld-4x4's 16 cells). gamma in
 * [0, 1]; horizon >= 1 steps, or 0 for the environment's time limit. probs and value must not be
 * NULL. ORL_ERR_UNSUPPORTED for a non-tabular env_id; ORL_ERR_INPUT for a row that is negative,
 * non-finite or does not sum to 1 (within 1e-9), a wrong n_rows, gamma or horizon. */
orl_status orl_tabular_table_value(const char *env_id, const double *probs, int32_t n_rows,
                                   double gamma, int32_t horizon, double *value);

/* the probability table probs (n_states, n_actions) of a discrete policy whose observations are
 * the environment's one-hot states: exp(orl_policy_logp) at each one-hot observation, each row
 * checked to sum to 1 within 1e-4 (logp carries float32 precision) and renormalised; a
 * deterministic policy gets probability 1 on orl_policy_act's action. Absorbing states get a
 * uniform row. ORL_ERR_UNSUPPORTED for a non-tabular env_id; ORL_ERR_INPUT when the policy's
 * shape does not match (continuous, obs_dim != n_states, n_actions) or a row does not sum to 1;
 * the policy's own failures are forwarded. */
orl_status orl_tabular_policy_probs(const char *env_id, const orl_policy *policy, double *probs);

/* the exact value of policy from the start state: orl_tabular_policy_probs then
 * orl_tabular_table_value with n_rows = n_states. Statuses as those two. */
orl_status orl_tabular_policy_value(const char *env_id, const orl_policy *policy, double gamma,
                                    int32_t horizon, double *value);

/* reads whitespace-separated finite numbers from path into out (at most cap); *count receives
 * how many. ORL_ERR_FORMAT naming "path:line:column" for a bad token or more than cap numbers,
 * ORL_ERR_IO if the file cannot be read. */
orl_status orl_tabular_read_numbers(const char *path, double *out, int64_t cap, int64_t *count);

/* reads a softmax parameter file: n_actions * n_states numbers separated by whitespace and
 * newlines, theta[a * n_states + s], and writes probs (n_states, n_actions) with
 * probs[s * n_actions + a] = exp(theta[a * n_states + s]) / sum over a' (computed stably).
 * ORL_ERR_IO when the file cannot be opened; ORL_ERR_FORMAT naming the file, line and position
 * of a token that is not a finite number, or the count found when there are too few or too
 * many numbers; ORL_ERR_INPUT for n_states or n_actions < 1. */
orl_status orl_tabular_softmax_from_file(const char *path, int32_t n_states, int32_t n_actions,
                                         double *probs);

#endif
