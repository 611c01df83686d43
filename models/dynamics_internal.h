/* What the dynamics files (dynamics.c, dynamics_eval.c, dynamics_file.c,
 * dynamics_rollout.c) share privately. */
#ifndef ORL_MODELS_DYNAMICS_INTERNAL_H
#define ORL_MODELS_DYNAMICS_INTERNAL_H

#include "orl/dynamics.h"

/* a zeroed model of configuration cfg for observations of S, actions of A (continuous) or n
 * (discrete) and n_starts start states, in one allocation (the struct and its arrays), the
 * ensemble created from rng (NULL: a fixed seed, for the loader, which overwrites it).
 * ORL_ERR_INPUT for a bad configuration, ORL_ERR_NOMEM. Free with orl_dynamics_free. */
orl_status orl_dynamics_alloc_internal(const orl_dynamics_config *cfg, int32_t S, int32_t A,
                                       orl_action_kind kind, int32_t n_actions, int64_t n_starts,
                                       orl_rng *rng, orl_dynamics **out);

/* the errors of d on the rows (n) and the episodes (ne) of ds (dynamics_eval.c) */
orl_status orl_dynamics_evaluate_rows_internal(const orl_dynamics *d, const orl_dataset *ds,
                                               const int64_t *rows, int64_t n, const int64_t *eps,
                                               int64_t ne, orl_dynamics_errors *out);

/* the largest disagreement of d over the rows of ds (dynamics_eval.c) */
orl_status orl_dynamics_max_disagreement_internal(const orl_dynamics *d, const orl_dataset *ds,
                                                  double *out);

#endif
