/* MOReL's pessimistic MDP (pmdp.h) as an ordinary environment (env.h), so that orl's rollout
 * and evaluation tools (orl_rollout, eval.h) run any policy in a fitted model:
 *   - reset: a start state drawn uniformly from the model's (the data's episode starts), and
 *     one member drawn uniformly that steps this whole episode;
 *   - step: the action clipped to the bounds (where finite), all K members predict (s, a), the
 *     episode moves to its own member's next state and reward (or the task's own reward and
 *     termination with cfg->reward_fn);
 *   - HALT: when the members' disagreement at (s, a) exceeds the threshold, the step's reward
 *     plus halt_reward (once) and the episode ends, terminated: absorbing (a further step is
 *     refused as after any ended episode, env.h);
 *   - the learned (or task) termination ends it with use_done; the time limit is the horizon.
 * The same rules as orl_pmdp_rollouts, one episode at a time. Its spec: id "pmdp:" and the
 * model's environment, unbounded observations, the given action bounds, gamma the data's.
 * Randomness (starts and members) comes from the environment's rng (orl_env_seed).
 * Not here: batched rollouts for a planner (pmdp.h). */
#ifndef ORL_PMDP_ENV_H
#define ORL_PMDP_ENV_H

#include "orl/dynamics.h"
#include "orl/env.h"
#include "orl/pmdp.h"
#include "orl/status.h"

#include <stdint.h>

/* an environment over model d (borrowed: it must outlive the environment) with cfg's
 * halt_reward, threshold (<= 0: the model's), use_done, reward_fn and horizon (<= 0: the
 * model's; starts_per_member is not used), action bounds act_low, act_high (A each, NaN for
 * unbounded; may be NULL). Free it with orl_env_free. ORL_ERR_INPUT (discrete actions, shapes
 * above ORL_ENV_MAX_OBS / ORL_ENV_MAX_ACT, no start states, no positive threshold with K > 1),
 * ORL_ERR_NOMEM. */
orl_status orl_pmdp_env_make(const orl_dynamics *d, const orl_pmdp_config *cfg,
                             const float *act_low, const float *act_high, orl_env **out);

/* of the current (or last) episode: 1 when it ended in HALT, 0 when not, -1 when env is not a
 * P-MDP environment */
int orl_pmdp_env_halted(const orl_env *env);

/* the member stepping the current episode (0 .. K-1), -1 when env is not a P-MDP environment */
int32_t orl_pmdp_env_member(const orl_env *env);

#endif
