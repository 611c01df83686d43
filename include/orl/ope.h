/* Off-policy evaluation by importance sampling: IS, PDIS, WIS, WPDIS (with discounting),
 * regression importance sampling (RIS: the behaviour policy estimated by maximum likelihood),
 * kernel-smoothed weights for deterministic continuous policies, diagnostics, the percentile
 * bootstrap over episodes and high-confidence lower bounds.
 *
 * The pipeline has two stages, so other estimators (FQE/DR in fqe.h, reports) can share the
 * first one:
 *   1. orl_ope_ratios_compute: per-step log-ratios log pi_e(a|s) - log pi_b(a|s) (double) of a
 *      dataset under an evaluation orl_policy, with pi_b the logged logp_b or an estimate;
 *   2. orl_ope_estimate: one estimator over those ratios, with its diagnostics; and
 *      orl_ope_bootstrap / orl_ope_bounds for the uncertainty.
 * The raw-array functions (orl_ope_*_from) do stage 2 from arrays a caller already holds.
 *
 * Numerics: products of ratios are sums of log-ratios; weights, returns and every estimator sum
 * are double. Weighted estimators normalise with the largest log-weight subtracted first, so
 * they never overflow; the ordinary (unweighted) ones give inf when a weight does.
 *
 * Episodes of different lengths: WPDIS normalises at step t over every episode, an episode
 * that ended before t contributing its final cumulative weight (it sits in an absorbing state,
 * where every policy's ratio is 1, with reward 0) — the consistent form of per-decision WIS.
 *
 * Dimension letters: N steps, E episodes, S observation size, A action size, B resamples.
 * Not here: the direct method and doubly robust estimators (fqe.h), reports and gates (cli). */
#ifndef ORL_OPE_H
#define ORL_OPE_H

#include "orl/dataset.h"
#include "orl/policy.h"
#include "orl/status.h"

#include <stdint.h>

typedef enum orl_ope_estimator {
    ORL_OPE_ESTIMATOR_IS = 0, /* mean over episodes of w_e G_e, w_e = prod_t rho_t */
    ORL_OPE_ESTIMATOR_PDIS,   /* mean over episodes of sum_t gamma^t rho_{0:t} r_t */
    ORL_OPE_ESTIMATOR_WIS,    /* sum_e w_e G_e / sum_e w_e */
    ORL_OPE_ESTIMATOR_WPDIS,  /* sum_t gamma^t sum_e rho_{e,0:t} r_{e,t} / sum_e rho_{e,0:t} */
    ORL_OPE_ESTIMATOR_COUNT
} orl_ope_estimator;

/* "is", "pdis", "wis", "wpdis" (NULL out of range) */
const char *orl_ope_estimator_name(orl_ope_estimator e);

/* the estimator named name (as above); ORL_ERR_INPUT listing the names otherwise */
orl_status orl_ope_estimator_parse(const char *name, orl_ope_estimator *out);

/* ---- stage 1: log-ratios ---- */

typedef enum orl_ope_behavior {
    ORL_OPE_BEHAVIOR_LOGGED = 0, /* the dataset's logp_b (ORL_ERR_INPUT when it has none) */
    ORL_OPE_BEHAVIOR_TABULAR,    /* RIS: counts over exact (hashed) observations, RIS(n) */
    ORL_OPE_BEHAVIOR_MLP,        /* RIS: a softmax MLP (discrete actions) or a Gaussian MLP
                                    (continuous actions) fitted by maximum likelihood */
    ORL_OPE_BEHAVIOR_COUNT
} orl_ope_behavior;

typedef struct orl_ope_ratio_options {
    orl_ope_behavior behavior;
    int32_t ris_order;       /* RIS(n): condition on the last n states and actions (0: plain) */
    double heldout_fraction; /* RIS: 0 fits on the same episodes (the study's prescription);
                                f in (0, 1) fits on a random fraction f of the episodes and
                                evaluates on the rest (counts smoothed, see count_prior) */
    double count_prior;      /* RIS: pseudo-count per action; negative means the default: 0 on
                                the same data (the exact MLE), 0.5 with held-out episodes; a
                                history never seen in the fit gets a uniform row */
    uint64_t seed;           /* the held-out split */
    double log_ratio_clip;   /* > 0: every log-ratio clipped to [-c, c] (counted); 0: none */
    double kernel_bandwidth; /* deterministic continuous pi_e: the Gaussian kernel's standard
                                deviation h (same in every action dimension, in action units);
                                <= 0 means 0.1 * the narrowest finite action range (1 if none) */
    int32_t batch;           /* policy calls per batch (0: 1024) */
    /* RIS with ORL_OPE_BEHAVIOR_MLP (0 means the default in brackets): */
    int32_t mlp_hidden; /* H, width of each hidden layer (64) */
    int32_t mlp_layers; /* hidden layers (2), ReLU */
    int64_t mlp_steps;  /* Adam steps on mini-batches of 256 (3000) */
    float mlp_lr;       /* Adam learning rate (1e-3) */
    /* continuous actions with finite bounds (the header's act_low/act_high, else
     * mlp_act_low/mlp_act_high): the MLP fits a tanh-squashed Gaussian scaled to the box, mixed
     * with a fixed uniform density over the box of weight mlp_uniform_mix (0: the default 0.01;
     * negative: none) */
    double mlp_uniform_mix;
    /* bounded continuous actions: squashed Gaussians in the mixture (models.h), 0 choosing
     * among 1, 2 and 3 by the mean log-likelihood of held-out episodes (every 5th fit episode;
     * fewer than 5 fit episodes: 1) before the chosen model is fitted on all of them */
    int32_t mlp_components;
    const float *mlp_act_low;  /* (A) fallback bounds (e.g. pi_e's), NULL: none */
    const float *mlp_act_high; /* (A) */
} orl_ope_ratio_options;

/* defaults: logged behaviour, RIS(0), no held-out split, default prior, no clipping, the
 * default bandwidth */
void orl_ope_ratio_options_init(orl_ope_ratio_options *opt);

/* per-step log-ratios of a dataset (or of arrays filled by a caller, orl_ope_ratios_create) */
typedef struct orl_ope_ratios {
    int64_t n_steps;             /* N */
    int64_t n_episodes;          /* E */
    double *log_ratio;           /* (N) log pi_e(a_t|s_t) - log pi_b(a_t|s_t), after clipping */
    double *log_pi_b;            /* (N) the behaviour log-probability used (logged or estimated) */
    double *rew;                 /* (N) rewards */
    int64_t *ep_off;             /* (E+1) episode e is steps [ep_off[e], ep_off[e+1]) */
    int64_t *source_episode;     /* (E) the dataset episode each episode came from */
    int64_t n_log_ratio_clipped; /* steps whose log-ratio was clipped */
    int behavior_estimated;      /* 1 for RIS */
    int logged_missing;          /* 1 when the dataset had no logged probabilities */
    int kernel_smoothed;         /* 1 when pi_e was deterministic and continuous */
    double kernel_bandwidth;     /* h used (NaN when not kernel-smoothed) */
    int64_t n_fit_episodes;      /* RIS: episodes the behaviour was fitted on */
    void *mem;
} orl_ope_ratios;

/* an empty record with room for n_steps and n_episodes, arrays zeroed, ep_off[0] = 0; the
 * caller fills it. ORL_ERR_INPUT for negative sizes, ORL_ERR_NOMEM. Free with
 * orl_ope_ratios_free. */
orl_status orl_ope_ratios_create(int64_t n_steps, int64_t n_episodes, orl_ope_ratios **out);

/* r may be NULL */
void orl_ope_ratios_free(orl_ope_ratios *r);

/* the log-ratios of ds under evaluation policy pi_e, as opt says (NULL: defaults).
 * Discrete actions: log pi_e from orl_policy_logp. Continuous actions: log pi_e is the policy's
 * density, or for a deterministic pi_e the log of a Gaussian kernel N(a; pi_e(s), h^2 I) in the
 * action (kernel smoothing, bandwidth in r->kernel_bandwidth), against the behaviour density.
 * RIS (opt->behavior TABULAR or MLP) fits the behaviour on the same episodes, or on a held-out
 * fraction of them and then evaluates only the others (r->source_episode maps them back).
 * A log-ratio of -inf (pi_e never takes the logged action) is allowed: that weight is 0.
 * ORL_ERR_INPUT for a dimension mismatch (orl_policy_check_dims), logged behaviour without
 * logged probabilities (the message suggests RIS), a held-out split leaving no episode on one
 * side, bad options; ORL_ERR_UNSUPPORTED for tabular RIS with continuous actions;
 * ORL_ERR_NUMERIC for a log-ratio of +inf or NaN (an action impossible under the behaviour);
 * the policy's and the behaviour fit's statuses. Free *out with orl_ope_ratios_free. */
orl_status orl_ope_ratios_compute(const orl_dataset *ds, const orl_policy *pi_e,
                                  const orl_ope_ratio_options *opt, orl_ope_ratios **out);

/* RIS behaviour by counts: log_pi_b (N) = log pi_hat(act[t] | history) with history the
 * current state and the last n states and actions of the episode (RIS(n); steps before the
 * episode's start are a distinct marker). state (N) are exact state ids (>= 0), act (N) in
 * [0, n_actions). fit (E) selects the episodes the counts come from (NULL: all); prior is the
 * pseudo-count per action (0: MLE). ORL_ERR_INPUT for out-of-range ids or sizes,
 * ORL_ERR_NOMEM. */
orl_status orl_ope_ris_tabular(const int32_t *state, const int32_t *act, const int64_t *ep_off,
                               int64_t n_episodes, int32_t n_actions, int32_t order,
                               const uint8_t *fit, double prior, double *log_pi_b);

/* RIS behaviour of a discrete-action dataset: log_pi_b (N) from counts over exact
 * observations (each distinct observation vector, compared bit for bit, is one state; a
 * one-hot observation is its hot index's state), RIS(order) as orl_ope_ris_tabular. fit (E)
 * as there. ORL_ERR_UNSUPPORTED for continuous actions; ORL_ERR_INPUT, ORL_ERR_NOMEM. */
orl_status orl_ope_ris_dataset(const orl_dataset *ds, int32_t order, const uint8_t *fit,
                               double prior, double *log_pi_b);

/* RIS behaviour by a neural maximum-likelihood fit on ds (observations standardised with the
 * fitted episodes' statistics): a softmax MLP for discrete actions; for continuous actions a
 * Gaussian MLP (mean and state-dependent log-std in [-5, 2]) whose density is, when every
 * action bound is finite (header, else opt->mlp_act_low/high), the tanh-squashed Gaussian
 * scaled to the box (heads.h, ORL_TANH_CLIP) mixed as (1 - m) q + m / vol(box) with the fixed
 * uniform weight m = opt->mlp_uniform_mix (default 0.01), the squashed Gaussian a mixture of
 * opt->mlp_components of them (0: chosen by held-out likelihood, see the option), and the
 * unbounded Gaussian otherwise;
 * trained with Adam on mini-batches of 256 steps drawn from the fit episodes (fit (E), NULL:
 * all) with orl_rng seeded (seed, 13); then log_pi_b (N) for every step. Sizes from opt (NULL:
 * defaults). ORL_ERR_INPUT, ORL_ERR_NUMERIC naming the step of a non-finite loss,
 * ORL_ERR_NOMEM. */
orl_status orl_ope_ris_mlp(const orl_dataset *ds, const orl_ope_ratio_options *opt,
                           const uint8_t *fit, double *log_pi_b);

/* ---- stage 2: estimates ---- */

typedef struct orl_ope_options {
    double gamma;             /* discount in [0, 1] (NaN: 1) */
    double weight_clip;       /* > 0: trajectory weights (IS, WIS) and cumulative per-decision
                                 weights (PDIS, WPDIS) clipped at this value; 0: none */
    double ess_warn_fraction; /* warn when ESS < this * E; negative means the default 0.1 */
} orl_ope_options;

/* gamma 1, no clipping, warning below 10% of the episodes */
void orl_ope_options_init(orl_ope_options *opt);

typedef struct orl_ope_estimate {
    orl_ope_estimator estimator;
    double value;
    double ess;              /* (sum_e w_e)^2 / sum_e w_e^2 over trajectory weights w_e */
    double max_weight_share; /* max_e w_e / sum_e w_e */
    double clipped_fraction; /* weights clipped by weight_clip: of E trajectory weights (IS,
                                WIS) or of N cumulative weights (PDIS, WPDIS) */
    double log_ratio_clipped_fraction; /* steps whose log-ratio was clipped (from the ratios) */
    int64_t n_episodes;
    int64_t n_steps;
    int warn_low_ess;       /* 1 when ess < ess_warn_fraction * n_episodes */
    int behavior_estimated; /* copied from the ratios */
    int logged_missing;     /* copied from the ratios: only RIS could estimate this */
    double gamma;
} orl_ope_estimate;

/* runs estimator e over r. opt may be NULL (defaults). ORL_ERR_INPUT for no episodes, a bad
 * gamma or clip; ORL_ERR_NOMEM (WPDIS allocates its per-step sums once). */
orl_status orl_ope_estimate_compute(const orl_ope_ratios *r, orl_ope_estimator e,
                                    const orl_ope_options *opt, orl_ope_estimate *out);

/* log trajectory weights log_w (E) = sum_t log-ratio, and discounted returns ret (E) (either
 * may be NULL) — the per-episode reduction everything trajectory-wise starts from */
void orl_ope_episode_reduce(const orl_ope_ratios *r, double gamma, double *log_w, double *ret);

/* cumulative log weights cum (N): cum[t] = sum of log-ratios of the episode up to and
 * including t — what per-decision estimators and doubly robust ones weight step t by */
void orl_ope_cumulative_log_weights(const orl_ope_ratios *r, double *cum);

/* per-episode statistics for the bootstrap and bounds: x (E) and w (E) such that the estimate
 * is sum_e x_e / sum_e w_e. IS: x_e = w_e G_e, w_e = 1; PDIS: x_e = sum_t gamma^t rho_{0:t}
 * r_t, w = 1; WIS: x_e = w_e G_e, w = w_e scaled by exp(-max log w) (the ratio is unchanged).
 * Clipping as opt says. ORL_ERR_UNSUPPORTED for WPDIS (its normalisation is per step). */
orl_status orl_ope_episode_stats(const orl_ope_ratios *r, orl_ope_estimator e,
                                 const orl_ope_options *opt, double *x, double *w);

/* the raw-array forms: log_ratio (N) and rew (N) with ep_off (E+1); value and nothing else
 * (no diagnostics), no allocation. gamma in [0, 1]. */
double orl_ope_pdis_from(const double *log_ratio, const double *rew, const int64_t *ep_off,
                         int64_t n_episodes, double gamma);
double orl_ope_wis_from(const double *log_ratio, const double *rew, const int64_t *ep_off,
                        int64_t n_episodes, double gamma);

/* ---- uncertainty ---- */

typedef struct orl_ope_interval {
    double lo, hi;     /* percentile interval */
    double confidence; /* e.g. 0.95: lo and hi are the 2.5% and 97.5% percentiles */
    int64_t resamples; /* B */
    uint64_t seed;     /* the rng seed of the resampling (stream 0) */
} orl_ope_interval;

/* percentile bootstrap of sum x / sum w over E episodes (w NULL: all ones, i.e. the mean of x),
 * B resamples of E episodes with replacement drawn from orl_rng seeded (seed, 0); a resample
 * whose sum of w is 0 counts as its plain mean of x (0). scratch (B) may be NULL (then it is
 * allocated once). ORL_ERR_INPUT for E < 1, B < 2 or confidence outside (0, 1); ORL_ERR_NOMEM. */
orl_status orl_ope_bootstrap_from(const double *x, const double *w, int64_t n_episodes,
                                  int64_t resamples, double confidence, uint64_t seed,
                                  double *scratch, orl_ope_interval *out);

/* percentile bootstrap of estimator e over the episodes of r: IS, PDIS, WIS reduce each episode
 * once (orl_ope_episode_stats) and resample those; WPDIS recomputes its per-step sums with the
 * resample's episode counts (O(B N)). Statuses as above. */
orl_status orl_ope_bootstrap(const orl_ope_ratios *r, orl_ope_estimator e,
                             const orl_ope_options *opt, int64_t resamples, double confidence,
                             uint64_t seed, orl_ope_interval *out);

/* ---- return ranges ---- */

/* where a return range came from, tightest-known first */
typedef enum orl_ope_range_source {
    ORL_OPE_RANGE_SOURCE_NONE = 0,    /* not known (a bound computation uses the observed one) */
    ORL_OPE_RANGE_SOURCE_USER,        /* given by the user (orl ope --return-range LO HI) */
    ORL_OPE_RANGE_SOURCE_DATASET,     /* the dataset's declared reward bounds over its horizon */
    ORL_OPE_RANGE_SOURCE_ENVIRONMENT, /* the environment's known range (its reward bounds over
                                         its time limit, or exact by DP for tabular ones) */
    ORL_OPE_RANGE_SOURCE_OBSERVED,    /* the smallest and largest observed return: NOT a valid
                                         range, a return outside it may simply not be logged */
    ORL_OPE_RANGE_SOURCE_COUNT
} orl_ope_range_source;

/* an interval [lo, hi], lo < hi, that every discounted return of every policy lies in */
typedef struct orl_ope_return_range {
    double lo, hi;
    orl_ope_range_source source;
} orl_ope_return_range;

/* "none", "user", "dataset", "environment", "observed" (NULL out of range) */
const char *orl_ope_range_source_name(orl_ope_range_source s);

/* the range of the discounted return sum_{t<T} gamma^t r_t of any episode of 1 <= T <= horizon
 * steps whose rewards lie in [reward_min, reward_max]: lo = reward_min * S_H when reward_min < 0,
 * else reward_min (the shortest episode); hi = reward_max * S_H when reward_max > 0, else
 * reward_max; S_H = sum_{t<H} gamma^t. A degenerate range (lo == hi) is widened to [lo, lo + 1]
 * so the mapping below stays defined. Source ORL_OPE_RANGE_SOURCE_ENVIRONMENT. ORL_ERR_INPUT
 * for non-finite or crossed reward bounds, gamma outside [0, 1] or horizon < 1. */
orl_status orl_ope_return_range_from_rewards(double reward_min, double reward_max, double gamma,
                                             int64_t horizon, orl_ope_return_range *out);

/* the affine map of a range onto [0, 1] and back: (g - lo) / (hi - lo) and lo + y (hi - lo);
 * no clamping */
double orl_ope_return_to_unit(const orl_ope_return_range *range, double g);
double orl_ope_return_from_unit(const orl_ope_return_range *range, double y);

/* ---- high-confidence lower bounds ---- */

/* lower bounds on the value of pi_e at a confidence C, from the trajectory-wise importance-
 * weighted returns mapped into [0, 1] (Thomas, Theocharous & Ghavamzadeh 2015, "High-confidence
 * off-policy evaluation"): with y_e = (G_e - lo) / (hi - lo) in [0, 1] and w_e the trajectory
 * weight, X_e = w_e y_e >= 0 has mean (v - lo) / (hi - lo) when pi_b covers pi_e's support. Each
 * bound of E[X] is mapped back by lo + (hi - lo) b and clamped into [lo, hi] (every value lies
 * there):
 *   bernstein_lower  Maurer & Pontil's empirical Bernstein bound (2009, Thm 4) on min(X, c):
 *                    mean - sqrt(2 V ln(2/delta) / n) - 7 c ln(2/delta) / (3 (n - 1)), delta =
 *                    1 - C; clipping only lowers the mean, so the bound is VALID for any c fixed
 *                    before the bound's data is seen: c is chosen on a random part of the
 *                    episodes (choose_fraction) and the bound computed on the rest. Valid as
 *                    long as the range is (not for an observed range) and, with RIS, ignoring
 *                    the estimation of pi_b.
 *   t_lower          mean - t_{C, E-1} s / sqrt(E) over all X: APPROXIMATE (X is heavy-tailed)
 *   bootstrap_lower  the (1 - C) percentile of the bootstrap means of X: APPROXIMATE */
typedef struct orl_ope_bounds {
    double confidence;
    orl_ope_return_range range; /* the range the returns were mapped with */
    int range_widened;          /* a return fell outside the given range, which was widened to
                                   take it in (the given range was wrong) */
    double bernstein_lower;     /* valid */
    double t_lower;             /* approximate */
    double bootstrap_lower;     /* approximate */
    double unit_mean;           /* the mean of X: the IS estimate on the [0, 1] scale */
    double clip;                /* c used, on the scale of X */
    int clip_chosen;            /* 1 when c was chosen on n_choose episodes */
    int64_t n_choose;           /* episodes that chose c (0 when given) */
    int64_t n_bound;            /* episodes the Bernstein bound was computed on */
    int64_t n_episodes;
} orl_ope_bounds;

typedef struct orl_ope_bound_options {
    double confidence;          /* 1 - delta, in (0, 1); 0 means 0.95 */
    double clip;                /* c > 0 on the scale of X; 0 means chosen on a split */
    double choose_fraction;     /* the part of the episodes that chooses c, in (0, 1); 0 means
                                   0.2 */
    orl_ope_return_range range; /* source ORL_OPE_RANGE_SOURCE_NONE: the observed range */
    int64_t resamples;          /* bootstrap resamples for bootstrap_lower (0: 1000) */
    uint64_t seed;              /* the split (stream 11) and the bootstrap (stream 0) */
} orl_ope_bound_options;

/* confidence 0.95, c chosen on a 20% split, the observed range, 1000 resamples, seed 0 */
void orl_ope_bound_options_init(orl_ope_bound_options *opt);

/* the three bounds from per-episode log trajectory weights log_w (E) (clipped at log(weight_clip)
 * when weight_clip > 0) and discounted returns ret (E). ORL_ERR_INPUT for fewer than 2 episodes
 * (fewer than 10 when c is chosen on a split), a confidence, clip, fraction or range out of
 * range, a non-finite return or a log weight of +inf or NaN; ORL_ERR_NOMEM. */
orl_status orl_ope_bounds_from(const double *log_w, const double *ret, int64_t n_episodes,
                               double weight_clip, const orl_ope_bound_options *bopt,
                               orl_ope_bounds *out);

/* the bounds for r: orl_ope_episode_reduce at opt's gamma, weights clipped at opt's weight_clip,
 * then orl_ope_bounds_from (opt, bopt may be NULL). Statuses as there. */
orl_status orl_ope_bounds_compute(const orl_ope_ratios *r, const orl_ope_options *opt,
                                  const orl_ope_bound_options *bopt, orl_ope_bounds *out);

/* the raw forms: one-sided Student t lower bound of the mean of x (n >= 2), and the empirical
 * Bernstein lower bound of E[min(x, c)] for x >= 0 (n >= 2); delta = 1 - confidence */
double orl_ope_t_lower_from(const double *x, int64_t n, double confidence);
double orl_ope_bernstein_lower_from(const double *x, int64_t n, double confidence, double c);

/* the quantile of Student's t with nu > 0 degrees of freedom at p in (0, 1) (bisection on the
 * regularised incomplete beta; absolute error below 1e-10) */
double orl_ope_student_t_quantile(double p, double nu);

#endif
