/* A tabular softmax policy as an orl_policy (policy_type "tabular"): observations are one-hot
 * vectors of n_states states, and the probability of action a in state s is
 *   pi(a | s) = exp(theta[a * n_states + s]) / sum over a' of exp(theta[a' * n_states + s])
 * (the parametrisation of the regression-importance-sampling study's softmax tables, the
 * fixtures' p1.txt / p2.txt). The log-probabilities are computed in double from the float32
 * parameters (log-sum-exp with the row maximum subtracted).
 *
 * An observation must be one-hot (one entry 1, the rest 0): anything else is ORL_ERR_INPUT,
 * since the policy does not know what to do in a state it has no row for.
 *
 * File keys, beside the common ones of policy.h: tabular_theta (float32, n_actions * n_states),
 * tabular_n_states (int32, 1), tabular_env (text, "" when not tied to an environment).
 * algorithm "tabular-softmax"; config_json {"env": ..., "table": ..., "rows": ...}.
 *
 * Not here: values of tabular policies (tabular.h), estimators (ope/). */
#ifndef ORL_TABULAR_POLICY_H
#define ORL_TABULAR_POLICY_H

#include "orl/policy.h"
#include "orl/status.h"

#include <stdint.h>

#define ORL_TABULAR_POLICY_MAX_STATES  4096
#define ORL_TABULAR_POLICY_MAX_ACTIONS 256

/* builds a tabular softmax policy from theta (n_actions * n_states, theta[a * n_states + s]),
 * copied (rounded to float32). env_id and table_name (may be NULL) are recorded in the
 * configuration; n_rows (<= n_states) is how many states the table gave (the rest were filled
 * with theta 0, a uniform row). ORL_ERR_INPUT for sizes out of range (n_states >= 1,
 * n_actions >= 2) or a non-finite theta; ORL_ERR_NOMEM. Free with orl_policy_free. */
orl_status orl_tabular_policy_create(int32_t n_states, int32_t n_actions, const double *theta,
                                     const char *env_id, const char *table_name, int32_t n_rows,
                                     orl_policy **out);

/* reads a softmax parameter table (numbers separated by whitespace, theta[a * R + s]) for the
 * tabular environment env_id (orl_tabular_model_get) and builds its policy. The table may give
 * R = n_states rows, or fewer when the states left out (the last n_states - R) are all
 * absorbing: the fixtures' 15 non-terminal rows for GridWorld-4x4's 16 cells. Those states get
 * theta 0 (a uniform row, never used: no action is taken in an absorbing state). The number
 * count decides R: count = n_actions * R. ORL_ERR_IO when the file cannot be opened;
 * ORL_ERR_FORMAT naming the file, line and column of a token that is not a finite number, or
 * the count when it is not n_actions times a valid R; ORL_ERR_UNSUPPORTED for a non-tabular
 * environment. *n_rows (may be NULL) receives R. */
orl_status orl_tabular_policy_from_file(const char *path, const char *env_id, orl_policy **out,
                                        int32_t *n_rows);

/* the implementation, for orl_policy_load_with */
const orl_policy_ops *orl_tabular_policy_ops(void);

/* 1 when p is a tabular softmax policy */
int orl_tabular_policy_is(const orl_policy *p);

/* the parameters (n_actions * n_states) of a tabular policy, NULL for other policies; owned by
 * the policy */
const float *orl_tabular_policy_theta(const orl_policy *p);

#endif
