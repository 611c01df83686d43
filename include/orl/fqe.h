/* Direct-method off-policy evaluation by fitted Q evaluation (FQE), and the doubly robust
 * estimators built on it: per-decision DR (Jiang & Li 2016; Thomas & Brunskill 2016) and
 * weighted DR (WDR, Thomas & Brunskill 2016).
 *
 * FQE (Le et al. 2019) regresses Q(s, a) onto r + gamma * (1 - terminal) * V'(s'), with
 * V'(s') = sum_a pi_e(a|s') Q_target(s', a) for discrete actions (the evaluation policy's
 * probabilities read through orl_policy_logp over every action; the argmax action for a
 * deterministic policy), or the mean over k sampled actions a' ~ pi_e(s') of
 * Q_target(s', a') for continuous actions (the mean action, k = 1, for a deterministic policy).
 * Terminal steps do not bootstrap; timeout steps do (next_obs is the state the log was cut at).
 * The network is an MLP trained with Adam on uniformly drawn mini-batches, with a target
 * network kept by Polyak averaging or periodic hard copies. Seeded; the same seed and thread
 * count give the same bits. No allocation inside a training step.
 *
 * Tabular FQE (GridWorld): the fixed point of FQE with a one-hot (tabular) function class is
 * policy evaluation on the empirical, count-based model of the data (certainty equivalence):
 * mean rewards, next-state frequencies and terminal frequencies per visited (s, a); unvisited
 * pairs have Q = 0. It is computed exactly by iterating that model's Bellman operator, either to
 * the stationary fixed point or, with a horizon H, by finite-horizon backward induction with a
 * time-indexed Q_h (h steps to go), which is the exact answer for time-limited tasks.
 *
 * Both give V^(s0) (the mean over the dataset's episode start states of V^(s0)) and per-step
 * arrays q (N) = Q^(s_t, a_t) and v (N) = V^(s_t) for the doubly robust estimators.
 *
 * DR and WDR take per-step log importance ratios log pi_e(a_t|s_t) - log pi_b(a_t|s_t) (N),
 * as ope.h's orl_ope_ratios_compute gives them (logged or RIS behaviour), accumulate them per
 * episode in log space and sum in double:
 *   DR_i = sum_t gamma^t [ w_t r_t - w_t q_t + w_{t-1} v_t ],  w_t = prod_{k<=t} rho_k, w_-1 = 1
 *   DR   = mean_i DR_i
 *   WDR  = sum_i sum_t gamma^t [ wn_t^i (r_t - q_t) + wn_{t-1}^i v_t ],
 *          wn_t^i = w_t^i / sum_j w_t^j,  wn_-1^i = 1 / E
 * An episode that ended before step t keeps its last cumulative weight in the normaliser
 * sum_j w_t^j (it is padded with an absorbing zero-reward state), the convention of weighted
 * per-decision IS. Nothing after the last logged step is bootstrapped, so DR is unbiased for
 * the value of the logged horizon whatever q and v are; with the exact Q of the time-limited
 * task and deterministic dynamics every DR_i equals the true value.
 *
 * Not here: IS/PDIS/WIS/WPDIS, behaviour-policy estimation, bootstrap intervals and bounds
 * (ope.h); reports (cli/).
 *
 * Dimension letters as in nn.h: N steps, E episodes, B batch, S observation size, A action
 * size, H hidden width; n the number of discrete actions. */
#ifndef ORL_FQE_H
#define ORL_FQE_H

#include "orl/dataset.h"
#include "orl/ope.h"
#include "orl/policy.h"
#include "orl/progress.h"
#include "orl/status.h"

#include <stdint.h>

/* ---- neural FQE ---- */

typedef enum orl_fqe_loss {
    ORL_FQE_LOSS_HUBER = 0, /* heads.h's Huber loss with huber_delta */
    ORL_FQE_LOSS_MSE,
} orl_fqe_loss;

typedef enum orl_fqe_target {
    ORL_FQE_TARGET_POLYAK = 0, /* target = (1 - tau) target + tau online, every step */
    ORL_FQE_TARGET_HARD,       /* target = online every target_period steps */
} orl_fqe_target;

typedef struct orl_fqe_config {
    double gamma;      /* discount; NaN: the dataset header's discount, or 0.99 if unknown */
    int32_t hidden;    /* H, width of every hidden layer (256) */
    int32_t n_hidden;  /* hidden layers, 1..ORL_MLP_MAX_LAYERS-1 (2) */
    int64_t steps;     /* gradient steps (50000) */
    int32_t batch;     /* B (256) */
    float lr;          /* Adam learning rate (3e-4); betas, eps are PyTorch's */
    orl_fqe_loss loss; /* Huber (default) or MSE */
    float huber_delta; /* 1 */
    float grad_clip;   /* global gradient-norm clip, 0: none (default 0) */
    orl_fqe_target target_update; /* Polyak (default) or hard */
    float tau;                    /* Polyak rate (0.005) */
    int64_t target_period;        /* hard copies every this many steps (1000) */
    int32_t n_action_samples;     /* continuous, stochastic pi_e: k samples of a' per s' (10) */
    int normalize_obs;            /* 1: observations standardised with the data's statistics
                                     (default 1) */
    uint64_t seed;                /* network init, mini-batches, action samples (0) */
} orl_fqe_config;

/* the defaults stated above: ReLU MLP 256x2, Huber(1), Adam 3e-4, B 256, 50,000 steps, Polyak
 * tau 0.005, k = 10, gamma from the dataset */
orl_fqe_config orl_fqe_config_defaults(void);

/* what an FQE fit produces; arrays owned, freed with orl_fqe_result_free */
typedef struct orl_fqe_result {
    double value;        /* V^(s0): mean over episode start states */
    double value_stderr; /* standard error of that mean over start states (0 when E < 2) */
    double gamma;        /* the discount used */
    int64_t n_steps;     /* N */
    int64_t n_episodes;  /* E */
    double *q;           /* (N) Q^(s_t, a_t) at every logged step */
    double *v;           /* (N) V^(s_t) = E_{a ~ pi_e} Q^(s_t, a) at every logged step */
    double final_loss;   /* mean loss over the last 1% of steps (NN); last sweep's change
                            (tabular) */
    int64_t iterations;  /* gradient steps (NN) or Bellman sweeps (tabular) done */
} orl_fqe_result;

/* frees the arrays and zeroes r; r may be NULL */
void orl_fqe_result_free(orl_fqe_result *r);

/* fits Q for the evaluation policy on a whole dataset ds and fills *out (which must not hold
 * arrays). cfg may be NULL (defaults); progress may be NULL (reports gradient steps).
 * ORL_ERR_INPUT for a bad configuration, an empty dataset or a policy whose dimensions do not
 * match the header (message from orl_policy_check_dims); ORL_ERR_NUMERIC naming the step when
 * a loss is not finite; ORL_ERR_INTERRUPTED; ORL_ERR_NOMEM; the policy's own statuses. */
orl_status orl_fqe_fit(const orl_dataset *ds, const orl_policy *policy, const orl_fqe_config *cfg,
                       const orl_progress *progress, orl_fqe_result *out);

/* ---- tabular FQE (one-hot observations) ---- */

typedef struct orl_fqe_tabular_config {
    double gamma;     /* discount in [0, 1] */
    int32_t horizon;  /* 0: the stationary fixed point; H > 0: finite-horizon backward
                         induction, q and v at step t of an episode use Q_{H - t} */
    int64_t max_iter; /* stationary: most sweeps (0: 100000) */
    double tol;       /* stationary: stop when no Q changes by more than this (0: 1e-10) */
} orl_fqe_tabular_config;

/* tabular FQE of the evaluation policy given by probs (n_states, n_actions), row s the
 * distribution over actions in state s (orl_tabular_policy_probs or
 * orl_tabular_softmax_from_file), on a dataset with discrete actions whose observations are
 * one-hot over n_states (the state is the index of the 1). Fills *out as orl_fqe_fit does.
 * ORL_ERR_INPUT for a continuous dataset, obs_dim != n_states, a non-one-hot observation, a
 * bad gamma or horizon; ORL_ERR_NUMERIC when the stationary iteration does not converge within
 * max_iter sweeps (e.g. gamma = 1 and a policy that never terminates in the empirical model);
 * ORL_ERR_NOMEM. */
orl_status orl_fqe_tabular(const orl_dataset *ds, const double *probs, int32_t n_states,
                           int32_t n_actions, const orl_fqe_tabular_config *cfg,
                           orl_fqe_result *out);

/* ---- doubly robust: DR and WDR ---- */

typedef struct orl_dr_options {
    double gamma;             /* discount in [0, 1] (NaN: 1) */
    double ess_warn_fraction; /* warn when ESS < this * E; negative means the default 0.1 */
} orl_dr_options;

/* gamma 1, warning below 10% of the episodes (as orl_ope_options_init) */
void orl_dr_options_init(orl_dr_options *opt);

/* DR and WDR with the diagnostics fields of orl_ope_estimate (ope.h) */
typedef struct orl_dr_estimate {
    double dr;                         /* per-decision doubly robust estimate: mean of dr_episode */
    double dr_stderr;                  /* sample std of dr_episode / sqrt(E) (0 when E < 2) */
    double wdr;                        /* weighted doubly robust estimate: sum of wdr_episode */
    double *dr_episode;                /* (E) DR_i, for bootstrapping over episodes; owned */
    double *wdr_episode;               /* (E) episode i's share of WDR; owned */
    double ess;                        /* (sum_e w_e)^2 / sum_e w_e^2 over trajectory weights w_e */
    double max_weight_share;           /* max_e w_e / sum_e w_e */
    double log_ratio_clipped_fraction; /* steps whose log-ratio was clipped (from the ratios) */
    int64_t n_episodes;                /* E */
    int64_t n_steps;                   /* N */
    int warn_low_ess;                  /* 1 when ess < ess_warn_fraction * n_episodes */
    int behavior_estimated;            /* copied from the ratios (RIS) */
    int logged_missing;                /* copied from the ratios */
    double gamma;
} orl_dr_estimate;

/* frees the arrays and zeroes r; r may be NULL */
void orl_dr_estimate_free(orl_dr_estimate *r);

/* DR and WDR from raw arrays, all aligned step by step: log_ratio (N) per-step log importance
 * ratios, rew (N), q (N) = Q^(s_t, a_t), v (N) = V^(s_t), episodes ep_off (E+1). opt may be
 * NULL (defaults). Fills *out (which must not hold arrays). Allocates its per-step sums once.
 * ORL_ERR_INPUT for no episodes or a bad gamma; ORL_ERR_NUMERIC naming the first step whose
 * log-ratio, q or v is not finite (a log-ratio of -inf is allowed: pi_e never takes the
 * action); ORL_ERR_NOMEM. */
orl_status orl_dr_compute_from(const double *log_ratio, const double *rew, const double *q,
                               const double *v, const int64_t *ep_off, int64_t n_episodes,
                               const orl_dr_options *opt, orl_dr_estimate *out);

/* the whole pipeline for an evaluation policy: the log-ratios of ds under policy by
 * orl_ope_ratios_compute (ope.h; ratio_opt NULL: logged behaviour probabilities, no clipping),
 * then orl_dr_compute_from with fqe's q and v (fitted on the same ds) matched to the episodes
 * the ratios kept. opt NULL: the defaults with fqe's gamma. Statuses as those two;
 * ORL_ERR_INPUT when fqe does not match ds. */
orl_status orl_dr_compute(const orl_dataset *ds, const orl_policy *policy,
                          const orl_fqe_result *fqe, const orl_ope_ratio_options *ratio_opt,
                          const orl_dr_options *opt, orl_dr_estimate *out);

#endif
