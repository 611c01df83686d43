/* Built-in behaviour policies: a hand-designed controller for every benchmark environment, a
 * random policy, and the noise levels between them, as orl_policy implementations (policy_type
 * "builtin"). They generate datasets whose logged log-probabilities are exact, so off-policy
 * estimators can be checked against a known behaviour policy.
 *
 * Names: "builtin:ENV/LEVEL" or "ENV/LEVEL", ENV an environment id of orl/env.h, LEVEL one of
 *   expert     noise 0: the controller, with the floor of noise every level keeps
 *   medium     the noise tuned per environment so that the mean return is about a third to a
 *              half of the way from random to expert (D4RL's meaning)
 *   random     noise 1: uniform over the actions (discrete) or over the action box
 *   noise=X    X in [0, 1], from expert (0) to random (1)
 *   diverse    PointMaze only: D4RL's maze "diverse" behaviour for stitching data. The same
 *              BFS-waypoint PD controller, steering not to the evaluation goal but to a goal
 *              cell drawn uniformly from the open cells (other than the current goal) at each
 *              episode's start and whenever the point comes within 0.5 of the goal cell's
 *              centre; its action density is the continuous one below with noise X = 0.1
 *              around that controller. The goal is state of the policy's work (one rollout at
 *              a time, batch 1): a new episode is recognised by the policy rng having been
 *              reseeded (orl_rollout does it per episode), and the goals are drawn from that
 *              rng, so a seeded generation gives the same bits. Its log-probability is exact
 *              given the goal in force, i.e. for the actions it logs through a rollout; the
 *              environment's reward (sparse or dense) is still the evaluation goal's.
 *
 * Every level is stochastic and its log-probability is exact: with eps = 0.01 + 0.99 X,
 *   discrete:   p(a) = (1 - eps) g(a) + eps / n, g uniform over the controller's best actions
 *   continuous: p(a) = (1 - eps) q(a) + eps / prod_j (hi_j - lo_j), q the tanh-squashed Gaussian
 *               a = c + s tanh(u), u ~ N(atanh(clip((a_ctrl - c) / s, +-0.99)), 0.2) per
 *               dimension (c, s the box's centre and half-width), density as in heads.h
 * so random (X = 1) is exactly uniform: logp = -log n or -sum_j log(hi_j - lo_j). The MEAN mode
 * gives the controller's action (the first best action, or c + s tanh(mu)).
 *
 * The MuJoCo tasks (Hopper-v4 ... Pusher-v4) have no controller: their random level is the
 * uniform policy above, and every other LEVEL names a policy file assets/policies/ENV-LEVEL.h5
 * (SAC's tanh-Gaussian actor) embedded into the library at build time; LEVEL+noise=X mixes it
 * with the uniform distribution on the box, p(a) = (1 - X) pi(a | s) + X / vol(box). For those
 * orl_behavior_create returns that policy (an "mlp" policy, or a wrapper that is not saved),
 * not a "builtin" one, and a LEVEL without a file is ORL_ERR_INPUT naming the levels that exist.
 *
 * The policy's algorithm is "builtin" and its config_json {"env": ..., "level": ...,
 * "noise": ...}; it saves and loads through orl_policy_save / orl_policy_load_with with
 * orl_behavior_ops(). Its file keys, beside the common ones: behavior_env (text),
 * behavior_level (text), behavior_noise (text, "%.17g" so the noise round-trips exactly). */
#ifndef ORL_BEHAVIOR_H
#define ORL_BEHAVIOR_H

#include "orl/policy.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

/* the floor of noise every level keeps (so the expert is stochastic), and the pre-squash
 * standard deviation of the continuous controllers' Gaussian */
#define ORL_BEHAVIOR_EPS_MIN   0.01
#define ORL_BEHAVIOR_SIGMA     0.2
#define ORL_BEHAVIOR_MEAN_CLIP 0.99

/* builds the behaviour policy called name (see above). ORL_ERR_INPUT with a message listing
 * the environments and levels for an unknown environment, level or a noise outside [0, 1].
 * Free *out with orl_policy_free. */
orl_status orl_behavior_create(const char *name, orl_policy **out);

/* the implementation, for orl_policy_load_with */
const orl_policy_ops *orl_behavior_ops(void);

/* 1 when p is a built-in behaviour policy */
int orl_behavior_is(const orl_policy *p);

/* the noise X in [0, 1] of a behaviour policy, and the tuned medium noise of an environment
 * (NaN for an unknown environment) */
double orl_behavior_noise(const orl_policy *p);
double orl_behavior_medium_noise(const char *env_id);

/* samples actions for obs (B, S) as orl_policy_act in ORL_POLICY_MODE_SAMPLE does (the same
 * draws from rng) and writes logp (B), the log of the mass or density the sampler used at the
 * action it returned — what a dataset generator logs as logp_b. p must be a behaviour policy
 * (ORL_ERR_INPUT otherwise); the other checks are orl_policy_act's. */
orl_status orl_behavior_act_logp(const orl_policy *p, orl_policy_work *w, const float *obs,
                                 int32_t batch, orl_rng *rng, float *act, int32_t *act_idx,
                                 double *logp);

#endif
