/* The doubly robust estimators built on fitted Q evaluation: per-decision DR (Jiang & Li 2016;
 * Thomas & Brunskill 2016) and weighted DR (WDR, Thomas & Brunskill 2016). FQE itself (neural
 * and tabular: orl_fqe_fit, orl_fqe_tabular) is a model of the evaluation policy's Q-function
 * fitted from data, declared in models.h (included here).
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
#include "orl/models.h"
#include "orl/ope.h"
#include "orl/policy.h"
#include "orl/status.h"

#include <stdint.h>

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
