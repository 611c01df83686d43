/* The whole off-policy evaluation of `orl ope` as one library call: policies and a dataset in,
 * an OPE report (report.h) out. orl_ope_run chooses for each estimator what it needs (the
 * logged or the estimated behaviour probabilities, RIS by counts or by an MLP, exact tabular or
 * neural FQE, DR/WDR on the FQE fit), computes each shared piece once per policy, adds the
 * bootstrap intervals, the one-sided lower bounds and the high-confidence bounds, and checks
 * the gate (--fail-below, a baseline with a margin, and the evidence: --min-ess).
 *
 * Lower bounds: an IS-type row's lower bound is the empirical Bernstein bound of ope.h
 * (orl_ope_bounds) on the trajectory-wise weighted returns of its ratio set mapped into the
 * return range: valid when the range is (given or the environment's) and the behaviour
 * probabilities are the true ones; its interval is the percentile bootstrap. FQE, DR and WDR
 * rows carry approximate bounds (t over start states, bootstrap), labelled as such. Rendering and
 * recording the report are report.h's; loading policies is the caller's (eval.h: orl_policy_open).
 *
 * What only the environment registry knows (is the dataset's environment known, and has it an
 * exact tabular model) comes in as data, orl_ope_environment, which eval.h's
 * orl_eval_ope_environment fills: ope/ sits below eval/ and does not see the registry.
 *
 * Estimator names: is, pdis, wis, wpdis (with the behaviour probabilities: logged, or estimated
 * when behavior_estimated is set), ris-is, ris-pdis, ris-wis, ris-wpdis (always estimated),
 * fqe, dr, wdr (DR on FQE with the logged ratios, or the estimated ones when
 * behavior_estimated is set), mb (model-based: rollouts in a dynamics ensemble, dynamics.h,
 * fitted once per run on the dataset or given; no probabilities needed).
 *
 * Dimension letters: N steps, E episodes. */
#ifndef ORL_OPE_RUN_H
#define ORL_OPE_RUN_H

#include "orl/dataset.h"
#include "orl/dynamics.h"
#include "orl/fqe.h"
#include "orl/ope.h"
#include "orl/policy.h"
#include "orl/progress.h"
#include "orl/report.h"
#include "orl/status.h"

#include <stdint.h>

/* the known estimator names, for messages: "is, pdis, ..., wdr" */
#define ORL_OPE_RUN_ESTIMATOR_NAMES                                                                \
    "is, pdis, wis, wpdis, ris-is, ris-pdis, ris-wis, ris-wpdis, fqe, dr, wdr, mb"

typedef enum orl_ope_run_kind {
    ORL_OPE_RUN_KIND_IS = 0, /* an importance-sampling estimator of ope.h */
    ORL_OPE_RUN_KIND_FQE,    /* fitted Q evaluation (fqe.h) */
    ORL_OPE_RUN_KIND_DR,     /* doubly robust on FQE */
    ORL_OPE_RUN_KIND_WDR,    /* weighted doubly robust on FQE */
    ORL_OPE_RUN_KIND_MB,     /* model-based: rollouts in a dynamics ensemble (orl_ope_mb) */
} orl_ope_run_kind;

/* one estimator of a run */
typedef struct orl_ope_run_estimator {
    char name[32]; /* as the report shows it: "wis", "ris-pdis", "wdr" */
    orl_ope_run_kind kind;
    orl_ope_estimator base; /* ORL_OPE_RUN_KIND_IS: which one */
    int ris;                /* uses the estimated behaviour (not for fqe) */
} orl_ope_run_estimator;

/* what the environment registry knows of the dataset's env_id (orl_eval_ope_environment) */
typedef struct orl_ope_environment {
    int registered; /* the registry knows the environment */
    int tabular;    /* it has an exact tabular model, with: */
    int32_t n_states, n_actions;
    int32_t max_episode_steps;
    /* pi(a | s) of policy p on the model, probs (n_states, n_actions); fails when p does not
     * fit the model (e.g. eval's orl_tabular_policy_probs) */
    orl_status (*policy_probs)(const char *env_id, const orl_policy *p, double *probs);
    /* the range [*lo, *hi] of every policy's discounted return at discount gamma on env_id
     * (e.g. eval's orl_eval_return_range); NULL, or a failing call, when not known */
    orl_status (*return_range)(const char *env_id, double gamma, double *lo, double *hi);
} orl_ope_environment;

/* the default --min-ess: a gate fails for insufficient evidence below it */
#define ORL_OPE_RUN_MIN_ESS 5.0

typedef struct orl_ope_run_options {
    int32_t n_estimators;
    orl_ope_run_estimator estimators[ORL_REPORT_MAX_ESTIMATORS];
    int behavior_estimated;    /* is, pdis, wis, wpdis, dr, wdr use the RIS behaviour (and the
                                  report says "estimated") */
    double gamma;              /* NaN: the dataset's discount when in [0, 1], else 1 */
    double confidence;         /* in (0.5, 1): two-sided intervals at C, lower bounds at C */
    int64_t bootstrap;         /* percentile bootstrap resamples B >= 2; 0: no intervals, lower
                                  bounds or high-confidence bounds (estimates only) */
    uint64_t seed;             /* bootstraps, RIS and neural FQE */
    int64_t fqe_steps;         /* neural FQE: cap on gradient steps; 0: none (or fqe's) */
    const orl_fqe_config *fqe; /* NULL: orl_fqe_config_defaults(); else this configuration
                                  (gamma and seed are the run's; fqe_steps > 0 overrides) */
    const orl_ope_environment *environment; /* NULL: nothing known (as for an environment
                                               the registry does not know) */
    /* the gate (exit 1 in the CLI): fail_below and/or a baseline */
    double fail_below;       /* NaN: none; else a candidate's lower bound must reach it */
    int32_t baseline;        /* -1: none; else the index of the baseline policy, which is
                                reported but not gated */
    double margin;           /* NaN means 0: a candidate's lower bound must reach the
                                baseline's estimate minus the margin */
    char gate_estimator[32]; /* "": wdr when listed, else the first listed */
    /* evidence: a gated candidate fails ("insufficient evidence: ESS 1.0 < 5") when the gating
     * row's effective sample size (IS, DR, WDR), or for FQE its number of start states, is
     * below min_ess, whatever its lower bound. NaN: ORL_OPE_RUN_MIN_ESS; 0: no check */
    double min_ess;
    /* the range of discounted returns the lower bounds map into [0, 1]: source
     * ORL_OPE_RANGE_SOURCE_USER for a given one; NONE: the environment's (environment->
     * return_range) and the dataset's declared one (header reward bounds over its horizon),
     * the intersection when both are known, else the observed returns (the report says the
     * bounds are then not guaranteed) */
    orl_ope_return_range return_range;
    /* mb: the model, fitted once per run on the dataset (progress reports its epochs) unless
     * one is given */
    const orl_dynamics *mb_model;         /* a fitted model to use (not owned: e.g. a model
                                             file the caller loaded); NULL: fit one */
    const orl_dynamics_config *mb_config; /* the fit's settings; NULL: the defaults
                                             (orl_dynamics_config_defaults) with the run's seed */
    int32_t mb_rollouts;                  /* rollouts per start state and member (0: 1) */
    int64_t mb_horizon;                   /* rollout length (0: the data's time limit, else
                                             its longest episode) */
} orl_ope_run_options;

/* defaults: no estimators, logged behaviour, gamma NaN, confidence 0.95, 200 resamples, seed
 * 0, default FQE, no environment, no gate, min_ess NaN (the default), no given return range */
void orl_ope_run_options_init(orl_ope_run_options *opt);

/* parses a comma-separated estimator list (names above) into opt->estimators, using
 * behavior_estimated for the names without "ris-" (opt->behavior_estimated is set to it).
 * ORL_ERR_INPUT for an unknown name (the message lists the known ones), a name listed twice,
 * more than ORL_REPORT_MAX_ESTIMATORS names or an empty list. */
orl_status orl_ope_run_estimators_parse(const char *list, int behavior_estimated,
                                        orl_ope_run_options *opt);

/* checks that the estimators can run on ds before anything is computed: ORL_ERR_INPUT naming
 * dataset_name and the estimator when an estimator needs logged behaviour probabilities that
 * ds lacks (the message says how to ask for RIS instead). */
orl_status orl_ope_run_check(const orl_dataset *ds, const char *dataset_name,
                             const orl_ope_run_options *opt);

/* evaluates policies (n, 1 <= n <= ORL_REPORT_MAX_POLICIES, named names[i] in the report) on
 * ds (named dataset_name) with every estimator of opt, filling *report (orl_report_init'd
 * here; a large struct, allocate it on the heap): one row per policy and estimator with its
 * estimate, interval, lower bound, diagnostics and warnings, the notes, and the gates.
 * Deterministic for a seed and thread count. progress (may be NULL) reports neural FQE's
 * gradient steps. ORL_ERR_INPUT for bad options, a policy whose dimensions do not fit ds, or
 * orl_ope_run_check's reasons; the statuses of the estimators (ORL_ERR_NUMERIC,
 * ORL_ERR_INTERRUPTED, ORL_ERR_NOMEM, ...). */
orl_status orl_ope_run(const orl_dataset *ds, const char *dataset_name,
                       const orl_policy *const *policies, const char *const *names, int32_t n,
                       const orl_ope_run_options *opt, const orl_progress *progress,
                       orl_report *report);

/* ---- model-based OPE (ope/mb.c) ----
 * The policy's discounted return from the dataset's start states (the first observation of
 * each episode) by rollouts in a dynamics ensemble: every member rolled on its own predictions
 * (all K members, no truncation by disagreement) until it predicts termination (probability
 * > 0.5) or the horizon; stochastic policies sample their actions (mean actions for
 * deterministic ones). The estimate is the mean over starts, members and rollouts; the interval
 * is a percentile bootstrap over start states and members together (the model's own bias is
 * not in it: its held-out errors are reported beside it). */

typedef struct orl_ope_mb_options {
    double gamma;      /* NaN: the dataset's discount when in [0, 1], else 1 */
    int64_t horizon;   /* 0: the dataset's time limit, else its longest episode */
    int32_t rollouts;  /* per start state and member (1) */
    double confidence; /* (0.5, 1): the interval at C, the lower bound at C (0.95) */
    int64_t bootstrap; /* resamples (200); 0: no interval */
    uint64_t seed;     /* the policy's samples and the bootstrap (0) */
} orl_ope_mb_options;

/* the defaults above */
void orl_ope_mb_options_init(orl_ope_mb_options *opt);

typedef struct orl_ope_mb_result {
    double value;                  /* mean discounted return */
    double lower, upper;           /* bootstrap interval (NaN without) */
    double lower_bound;            /* one-sided bootstrap lower bound at C (NaN without) */
    double member_min, member_max; /* the lowest and highest member's mean return */
    int64_t n_starts;              /* E0 */
    int32_t n_members;             /* K */
    int32_t rollouts;
    int64_t horizon;
    double gamma;
    int64_t model_steps; /* model transitions simulated */
    double *returns;     /* (E0, rollouts, K) every rollout's return; owned */
} orl_ope_mb_result;

/* model-based OPE of policy p on the start states of ds with model (whose shapes must match
 * ds). ORL_ERR_INPUT (shapes, options), ORL_ERR_NUMERIC (a prediction that is not finite),
 * the policy's statuses, ORL_ERR_NOMEM. Free *out with orl_ope_mb_result_free. */
orl_status orl_ope_mb(const orl_dynamics *model, const orl_dataset *ds, const orl_policy *p,
                      const orl_ope_mb_options *opt, orl_ope_mb_result *out);

/* r may be NULL */
void orl_ope_mb_result_free(orl_ope_mb_result *r);

#endif
