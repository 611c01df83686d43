/* The pessimistic MDP of MOReL (Kidambi et al. 2020) over a dynamics ensemble (dynamics.h):
 * batched rollouts of a policy in the learned model, the paths an NPG update takes (npg.h).
 *
 * One call runs K x n rollouts: n start states drawn uniformly (with replacement) from the
 * data's start states (the model's starts), the same n for every member, and rollout i stepped
 * by member i / n (mjrl's ModelBasedNPG: N paths per model from the same initial states). At
 * every step all active rollouts' (s, a) go through all K members in one batched prediction;
 * the rollout moves to its own member's next state and reward, and:
 *   - HALT: when the members' disagreement (USAD, the maximum pairwise distance of their
 *     next-state predictions) at (s, a) exceeds the threshold, the step keeps its reward plus
 *     halt_reward once, and the rollout ends there, terminated (absorbing: no value follows).
 *     halt_reward 0 is the reference code's truncation (mjrl: truncate_reward 0, the path cut
 *     after the violating step); -kappa is the paper's HALT reward;
 *   - termination: with use_done, the member's done probability > 0.5 ends the rollout after
 *     the step, terminated;
 *   - with a reward_fn (reward=env) the reward and termination are the task's own functions of
 *     (s, a, the own member's s') instead of the learned heads (HALT is unchanged);
 *   - the horizon cuts it otherwise (not terminated: the value after it is bootstrapped).
 * Actions come from a callback (the planner's Gaussian policy) and are clipped to the action
 * bounds where those are finite before the model sees them; the clipped action is recorded
 * (as mjrl records the clamped one). Continuous actions only.
 *
 * Not here: the model's fit (dynamics.h), the planner (npg.h), the learner (algorithms/morel.c).
 * Nothing is allocated in a rollout after orl_pmdp_create.
 * Dimension letters as in nn.h: K members, S observation size, A action size; here n the
 * starts per member, R = K n rollouts, H the horizon. */
#ifndef ORL_PMDP_H
#define ORL_PMDP_H

#include "orl/dynamics.h"
#include "orl/npg.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

typedef struct orl_pmdp_config {
    int32_t starts_per_member; /* n (MOReL: 50) */
    int64_t horizon;           /* H >= 1 */
    double halt_reward;        /* added once at the HALT step: 0 (reference truncation) or
                                  -kappa (the paper) */
    double threshold;          /* > 0: this disagreement threshold; <= 0: the model's */
    int use_done;              /* 1: the termination (learned, or reward_fn's) ends a rollout */
    orl_dynamics_reward_fn reward_fn; /* NULL: the members' learned reward and termination;
                                         else the task's own (orl_dynamics_env_reward) on (s, a,
                                         the rollout's member's s'), as the reference does */
} orl_pmdp_config;

/* what the last rollouts did */
typedef struct orl_pmdp_stats {
    int32_t rollouts;   /* R */
    int32_t halted;     /* rollouts that entered HALT */
    int32_t done;       /* rollouts ended by the learned termination */
    int64_t steps;      /* model steps (rows) */
    double mean_return; /* mean undiscounted return of the rollouts */
    double seconds;     /* CPU time of the rollouts */
} orl_pmdp_stats;

typedef struct orl_pmdp orl_pmdp;

/* acts for a batch: act (B, A) for obs (B, S), drawing from rng */
typedef void (*orl_pmdp_act_fn)(void *ctx, const float *obs, int32_t batch, orl_rng *rng,
                                float *act);

/* a P-MDP over model d (borrowed: it must outlive the P-MDP) with action bounds act_low,
 * act_high (A each, NaN for unbounded; may be NULL: unbounded). ORL_ERR_INPUT (a discrete
 * model, n < 1, H < 1, a model without start states or with no threshold), ORL_ERR_NOMEM. */
orl_status orl_pmdp_create(const orl_dynamics *d, const orl_pmdp_config *cfg, const float *act_low,
                           const float *act_high, orl_pmdp **out);

/* m may be NULL */
void orl_pmdp_free(orl_pmdp *m);

/* the disagreement threshold in use */
double orl_pmdp_threshold(const orl_pmdp *m);

/* runs the R rollouts (starts from rng, then actions from act with rng) and points *paths at
 * them (arrays owned by m, valid until the next call): R paths, path i of member i / n, the
 * order of the rollouts. starts (may be NULL) receives the start index (into the model's starts)
 * of each rollout (R). ORL_ERR_NUMERIC for a non-finite prediction or action. */
orl_status orl_pmdp_rollouts(orl_pmdp *m, orl_pmdp_act_fn act, void *ctx, orl_rng *rng,
                             orl_npg_paths *paths, int64_t *starts, orl_pmdp_stats *stats);

/* per rollout (R), 1 when it ended in HALT (valid with the last paths) */
const uint8_t *orl_pmdp_halted(const orl_pmdp *m);

#endif
