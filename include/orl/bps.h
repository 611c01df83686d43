/* Behaviour policy search (Hanna, Thomas, Stone & Niekum 2017, "Data-efficient policy
 * evaluation through behavior policy search"): instead of running the evaluation policy pi_e to
 * estimate its value by Monte Carlo, adapt a behaviour policy pi_b so that the ordinary
 * importance-sampling estimate
 *   IS(H) = G(H) prod_t pi_e(a_t | s_t) / pi_b(a_t | s_t),   G(H) = sum_t gamma^t r_t,
 * which is unbiased for any pi_b that covers pi_e, has the smallest variance, then collect the
 * evaluation data with pi_b. Since E_b[IS] = v(pi_e) for every pi_b, minimising the variance is
 * minimising E_b[IS^2], whose gradient is (the paper's behaviour policy gradient)
 *   d/dtheta E_b[IS^2] = -E_b[ IS(H)^2 sum_t d/dtheta log pi_b(a_t | s_t) ],
 * estimated from episodes of pi_b itself; the search starts on-policy (pi_b = pi_e) and takes
 * Adam steps on that estimate.
 *
 * The behaviour family is an exponential tilt of the evaluation policy, which works for any
 * discrete policy with log-probabilities (MLP, argmax-Q softmax / epsilon, builtin, tabular):
 *   pi_b(a | s) = pi_e(a | s) exp(w_a . x(s)) / sum_a' pi_e(a' | s) exp(w_a' . x(s)),
 *   x(s) = [s, 1] (S + 1 features), W (n_actions, S + 1), W = 0 being pi_e.
 * pi_b is zero exactly where pi_e is, so coverage holds by construction; on one-hot (tabular)
 * observations the tilt reaches every softmax policy with pi_e's support. Continuous actions
 * are not supported (ORL_ERR_UNSUPPORTED).
 *
 * The searched behaviour is an orl_policy (policy_type "tilted"): it acts and gives exact
 * log-probabilities, so orl_rollout records them and every IS estimator of ope/ uses the
 * data as it would any logged data. It refers to the evaluation policy (not owned: keep it
 * alive while the behaviour is used) and is not saved to a file: the data it generates carries
 * its log-probabilities. Dimension letters as in nn.h. */
#ifndef ORL_BPS_H
#define ORL_BPS_H

#include "orl/env.h"
#include "orl/policy.h"
#include "orl/progress.h"
#include "orl/status.h"

#include <stdint.h>

/* the tilted behaviour of target with W = 0 (pi_b = pi_e). ORL_ERR_UNSUPPORTED for a
 * continuous or deterministic target; ORL_ERR_NOMEM. Free with orl_policy_free (target is not
 * freed with it). */
orl_status orl_bps_behavior_create(const orl_policy *target, orl_policy **out);

/* W (n_actions, S + 1) of a tilted behaviour, writable while no thread acts with it; *n
 * receives n_actions * (S + 1). NULL (and *n = 0) for any other policy. */
float *orl_bps_tilt(orl_policy *behavior, int64_t *n);

/* what one batch of behaviour episodes said */
typedef struct orl_bps_batch {
    int64_t episodes;
    int64_t steps;
    double is_mean;       /* mean of IS(H): the batch's unbiased estimate of v(pi_e) */
    double is_sq_mean;    /* mean of IS(H)^2: estimates E_b[IS^2] = Var_b[IS] + v^2 */
    double is_var;        /* sample variance of IS(H) (E - 1 in the denominator; 0 if E < 2) */
    double max_log_ratio; /* the largest log prod pi_e / pi_b of an episode */
} orl_bps_batch;

/* runs episodes of behavior (a tilted behaviour of target) in env, episode i seeded as
 * orl_rollout seeds episode first_episode + i of seed, and writes into grad (n_actions * (S +
 * 1), overwritten) the unbiased estimate of d/dW E_b[IS^2] = -E_b[IS^2 sum_t d/dW log
 * pi_b(a_t|s_t)], with the discount gamma in G: -mean_i (IS_i^2 - c_i) sum_t d/dW log pi_b with
 * the leave-one-out baseline c_i = mean_{j != i} IS_j^2 (none when episodes = 1). batch (may be
 * NULL) receives the batch's statistics. Ratios are summed in log space and everything is reduced
 * in double. No allocation per step. ORL_ERR_INPUT when behavior is not a tilted behaviour of
 * target or the shapes do not fit env; the policy and environment statuses. */
orl_status orl_bps_gradient(orl_env *env, const orl_policy *target, const orl_policy *behavior,
                            int64_t episodes, uint64_t seed, int64_t first_episode, double gamma,
                            double *grad, orl_bps_batch *batch);

typedef struct orl_bps_options {
    int32_t iterations;           /* Adam steps (default 100) */
    int32_t episodes;             /* episodes per step (default 20) */
    double lr;                    /* Adam step size on W (default 0.01) */
    double gamma;                 /* discount of G; NaN: the environment's (default NaN) */
    uint64_t seed;                /* the search's episodes are episodes 0, 1, ... of this seed */
    const orl_progress *progress; /* may be NULL; reports iterations */
} orl_bps_options;

typedef struct orl_bps_report {
    int32_t iterations;
    int64_t episodes, steps; /* spent by the search */
    orl_bps_batch first;     /* the first batch (on-policy: W = 0) */
    orl_bps_batch last;      /* the last batch */
    double gamma;
} orl_bps_report;

/* defaults as documented on the fields */
void orl_bps_options_init(orl_bps_options *opt);

/* searches a behaviour for target on environment env_id: W = 0, then opt->iterations Adam
 * steps on orl_bps_gradient over opt->episodes episodes each (iteration k uses episodes
 * k * episodes ... of opt->seed). *behavior receives the tilted behaviour (free it; it refers to
 * target). report may be NULL. ORL_ERR_INPUT for an unknown environment, options out of range
 * or a policy that does not fit the environment; ORL_ERR_UNSUPPORTED for continuous or
 * deterministic targets; ORL_ERR_NUMERIC when the gradient is not finite (the message names
 * the iteration); ORL_ERR_INTERRUPTED when progress asks to stop. */
orl_status orl_bps_search(const char *env_id, const orl_policy *target, const orl_bps_options *opt,
                          orl_policy **behavior, orl_bps_report *report);

#endif
