/* orl_ope_run: the whole off-policy evaluation of `orl ope` (and bench/ope_policies) as one
 * call. Per policy it computes the ratio sets the estimators need (logged, RIS) once each, the
 * FQE fit once (exact tabular FQE when the environment has a tabular model the policy fits,
 * neural FQE otherwise), DR/WDR once per ratio set, then one report row per estimator with its
 * bootstrap interval and lower bound, and the high-confidence bounds of the PDIS terms; then
 * the gate. It does not load policies or datasets, render or record reports, or know the
 * environment registry (the caller passes orl_ope_environment). */
#include "orl/ope_run.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void orl_ope_run_options_init(orl_ope_run_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->gamma = NAN;
    opt->confidence = 0.95;
    opt->bootstrap = 200;
    opt->fail_below = NAN;
    opt->baseline = -1;
    opt->margin = NAN;
    opt->min_ess = NAN;
    opt->return_range.lo = opt->return_range.hi = NAN;
    opt->return_range.source = ORL_OPE_RANGE_SOURCE_NONE;
}

/* ---- the estimator list ---- */

/* parses one name; 0 on success */
static int parse_estimator(const char *name, int behavior_estimated, orl_ope_run_estimator *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    if (strcmp(name, "fqe") == 0) {
        out->kind = ORL_OPE_RUN_KIND_FQE;
        return 0;
    }
    if (strcmp(name, "mb") == 0) {
        out->kind = ORL_OPE_RUN_KIND_MB;
        return 0;
    }
    out->ris = behavior_estimated;
    if (strcmp(name, "dr") == 0 || strcmp(name, "wdr") == 0) {
        out->kind = name[0] == 'w' ? ORL_OPE_RUN_KIND_WDR : ORL_OPE_RUN_KIND_DR;
        return 0;
    }
    const char *base = name;
    if (strncmp(name, "ris-", 4) == 0) {
        base = name + 4;
        out->ris = 1;
    }
    out->kind = ORL_OPE_RUN_KIND_IS;
    for (int e = 0; e < ORL_OPE_ESTIMATOR_COUNT; e++)
        if (strcmp(base, orl_ope_estimator_name((orl_ope_estimator)e)) == 0) {
            out->base = (orl_ope_estimator)e;
            return 0;
        }
    return -1;
}

orl_status orl_ope_run_estimators_parse(const char *list, int behavior_estimated,
                                        orl_ope_run_options *opt) {
    assert(list && opt);
    opt->behavior_estimated = behavior_estimated;
    opt->n_estimators = 0;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (opt->n_estimators == ORL_REPORT_MAX_ESTIMATORS)
            ORL_FAIL(ORL_ERR_INPUT, "at most %d estimators", ORL_REPORT_MAX_ESTIMATORS);
        orl_ope_run_estimator *e = &opt->estimators[opt->n_estimators];
        if (parse_estimator(tok, behavior_estimated, e))
            ORL_FAIL(ORL_ERR_INPUT, "unknown estimator '%s' (known: %s)", tok,
                     ORL_OPE_RUN_ESTIMATOR_NAMES);
        for (int32_t k = 0; k < opt->n_estimators; k++)
            if (strcmp(opt->estimators[k].name, tok) == 0)
                ORL_FAIL(ORL_ERR_INPUT, "estimator '%s' listed twice", tok);
        opt->n_estimators++;
    }
    if (opt->n_estimators == 0) ORL_FAIL(ORL_ERR_INPUT, "the estimator list is empty");
    return ORL_OK;
}

orl_status orl_ope_run_check(const orl_dataset *ds, const char *dataset_name,
                             const orl_ope_run_options *opt) {
    for (int32_t k = 0; k < opt->n_estimators; k++) {
        const orl_ope_run_estimator *e = &opt->estimators[k];
        if (e->kind != ORL_OPE_RUN_KIND_FQE && e->kind != ORL_OPE_RUN_KIND_MB && !e->ris &&
            !ds->h.has_logp)
            ORL_FAIL(ORL_ERR_INPUT,
                     "%s has no logged behaviour probabilities (infos/action_log_probs), which "
                     "estimator '%s' needs. Estimate the behaviour policy from the data by "
                     "regression importance sampling instead: add --behavior estimated, or ask "
                     "for the RIS forms (--estimators ris-wis,ris-pdis); fqe and mb need no "
                     "probabilities",
                     dataset_name, e->name);
    }
    return ORL_OK;
}

/* ---- one policy ---- */

typedef struct run_state {
    const orl_dataset *ds;
    const orl_ope_run_options *opt;
    const orl_progress *progress;
    double gamma;
    orl_ope_return_range range; /* source NONE: the observed one (bounds.c) */
    const orl_dynamics *mb;     /* the model of the mb rows (NULL when none is listed) */
} run_state;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void add_warning(orl_report_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_warning(orl_report_row *row, const char *fmt, ...) {
    size_t len = strlen(row->warnings);
    if (len + 3 >= sizeof row->warnings) return;
    if (len) {
        strcat(row->warnings, "; ");
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->warnings + len, sizeof row->warnings - len, fmt, ap);
    va_end(ap);
}

/* the ratios of a policy without a density (deterministic, continuous) are kernel-smoothed:
 * every row that uses them says so */
static void kernel_warning(orl_report_row *row, const orl_ope_ratios *r) {
    if (r->kernel_smoothed)
        add_warning(row,
                    "the policy has no density (deterministic): kernel-smoothed weights, "
                    "bandwidth %.3g",
                    r->kernel_bandwidth);
}

/* the RIS behaviour model for ds: counts (the study's tabular MLE) for discrete actions on a
 * tabular environment or one the registry does not know, a maximum-likelihood MLP otherwise
 * (softmax for discrete actions on continuous states, Gaussian for continuous actions) */
static orl_ope_behavior ris_behavior(const orl_dataset *ds, const orl_ope_environment *env) {
    if (ds->h.action_kind != ORL_ACTION_KIND_DISCRETE) return ORL_OPE_BEHAVIOR_MLP;
    int known = env && env->registered;
    int tabular = known && env->tabular;
    return !known || tabular ? ORL_OPE_BEHAVIOR_TABULAR : ORL_OPE_BEHAVIOR_MLP;
}

/* two-sided interval and one-sided lower bound by the percentile bootstrap of x / w (E) */
static orl_status bootstrap_row(const run_state *rs, const double *x, int64_t E,
                                orl_report_row *row) {
    const orl_ope_run_options *o = rs->opt;
    orl_ope_interval two, one;
    ORL_TRY(orl_ope_bootstrap_from(x, NULL, E, o->bootstrap, o->confidence, o->seed, NULL, &two));
    ORL_TRY(orl_ope_bootstrap_from(x, NULL, E, o->bootstrap, 2.0 * o->confidence - 1.0, o->seed,
                                   NULL, &one));
    row->lower = two.lo;
    row->upper = two.hi;
    row->lower_bound = one.lo;
    return ORL_OK;
}

/* the FQE fit of policy p on the dataset: exact tabular FQE when the environment is tabular
 * and the policy fits it, the neural FQE of fqe.h otherwise. *tabular_used says which. */
static orl_status fit_fqe(const run_state *rs, const orl_policy *p, orl_fqe_result *fqe,
                          int *tabular_used) {
    const orl_dataset *ds = rs->ds;
    const orl_ope_environment *m = rs->opt->environment;
    *tabular_used = 0;
    if (ds->h.env_id[0] && m && m->tabular && p->action_kind == ORL_ACTION_KIND_DISCRETE &&
        p->obs_dim == m->n_states && p->n_actions == m->n_actions) {
        double *probs = malloc((size_t)m->n_states * (size_t)m->n_actions * sizeof *probs);
        if (!probs) ORL_FAIL(ORL_ERR_NOMEM, "ope: tabular policy probabilities");
        orl_status st = m->policy_probs(ds->h.env_id, p, probs);
        if (st == ORL_OK) {
            orl_fqe_tabular_config cfg = {rs->gamma, m->max_episode_steps, 0, 0.0};
            *tabular_used = 1;
            st = orl_fqe_tabular(ds, probs, m->n_states, m->n_actions, &cfg, fqe);
        }
        free(probs);
        return st;
    }
    orl_fqe_config cfg = rs->opt->fqe ? *rs->opt->fqe : orl_fqe_config_defaults();
    cfg.gamma = rs->gamma;
    cfg.seed = rs->opt->seed;
    if (rs->opt->fqe_steps > 0) cfg.steps = rs->opt->fqe_steps;
    return orl_fqe_fit(ds, p, &cfg, rs->progress, fqe);
}

/* a report row with nothing in it yet */
static void row_init(orl_report_row *row, const orl_ope_run_estimator *e, int64_t E) {
    memset(row, 0, sizeof *row);
    snprintf(row->estimator, sizeof row->estimator, "%.31s", e->name);
    row->estimate = row->lower = row->upper = row->lower_bound = NAN;
    row->ess = row->max_weight_share = row->clipped_fraction = NAN;
    row->episodes = E;
    row->behavior_estimated =
        e->kind != ORL_OPE_RUN_KIND_FQE && e->kind != ORL_OPE_RUN_KIND_MB && e->ris;
}

/* the model-based row of policy p */
static orl_status mb_row(const run_state *rs, const orl_policy *p, orl_report_row *row) {
    const orl_ope_run_options *o = rs->opt;
    orl_ope_mb_options mo;
    orl_ope_mb_options_init(&mo);
    mo.gamma = rs->gamma;
    mo.horizon = o->mb_horizon;
    mo.rollouts = o->mb_rollouts > 0 ? o->mb_rollouts : 1;
    mo.confidence = o->confidence;
    mo.bootstrap = o->bootstrap;
    mo.seed = o->seed;
    orl_ope_mb_result r;
    ORL_TRY(orl_ope_mb(rs->mb, rs->ds, p, &mo, &r));
    row->estimate = r.value;
    row->lower = r.lower;
    row->upper = r.upper;
    row->lower_bound = r.lower_bound;
    row->episodes = r.n_starts;
    if (o->bootstrap > 0)
        snprintf(row->bound_method, sizeof row->bound_method,
                 "bootstrap over start states and members, model error not included "
                 "(approximate)");
    const orl_dynamics_errors *e = &rs->mb->errors;
    add_warning(row,
                "model: %d members, held-out one-step state RMSE %.3g (normalised %.3g), "
                "at horizon %d %.3g; members' values %.4g to %.4g; %lld steps of horizon %lld",
                r.n_members, e->state_rmse, e->state_nrmse,
                orl_dynamics_horizons[ORL_DYNAMICS_HORIZONS - 1],
                e->horizon_rmse[ORL_DYNAMICS_HORIZONS - 1], r.member_min, r.member_max,
                (long long)r.model_steps, (long long)r.horizon);
    orl_ope_mb_result_free(&r);
    return ORL_OK;
}

/* an IS-type row on the ratio set r */
static orl_status is_row(const run_state *rs, const orl_ope_ratios *r,
                         const orl_ope_run_estimator *e, const orl_ope_bounds *b,
                         orl_report_row *row) {
    const orl_ope_run_options *o = rs->opt;
    const int64_t E = rs->ds->n_episodes;
    orl_ope_options opt;
    orl_ope_options_init(&opt);
    opt.gamma = rs->gamma;
    orl_ope_estimate est;
    ORL_TRY(orl_ope_estimate_compute(r, e->base, &opt, &est));
    row->estimate = est.value;
    row->ess = est.ess;
    row->max_weight_share = est.max_weight_share;
    row->clipped_fraction = est.clipped_fraction;
    if (o->bootstrap > 0) {
        orl_ope_interval two, one;
        ORL_TRY(orl_ope_bootstrap(r, e->base, &opt, o->bootstrap, o->confidence, o->seed, &two));
        ORL_TRY(orl_ope_bootstrap(r, e->base, &opt, o->bootstrap, 2.0 * o->confidence - 1.0,
                                  o->seed, &one));
        row->lower = two.lo;
        row->upper = two.hi;
        /* the lower bound is the valid one of the ratio set (it bounds the value, whichever
         * IS form estimates it); NaN when it could not be computed (the warning says why) */
        row->lower_bound = b ? b->bernstein_lower : NAN;
        snprintf(row->bound_method, sizeof row->bound_method,
                 "bootstrap interval (approximate), lower bound: empirical Bernstein on IS "
                 "returns mapped into the return range (%s)",
                 !b ? "not available"
                    : (b->range.source == ORL_OPE_RANGE_SOURCE_OBSERVED
                           ? "valid only within the observed range"
                           : (r->behavior_estimated ? "valid but for the estimated behaviour"
                                                    : "valid")));
        if (!b) add_warning(row, "no lower bound: fewer than 10 episodes");
        if (b && b->range_widened)
            add_warning(row, "a return fell outside the return range, widened to [%.4g, %.4g]",
                        b->range.lo, b->range.hi);
    }
    if (est.warn_low_ess) add_warning(row, "low ESS: %.1f of %lld episodes", est.ess, (long long)E);
    if (est.max_weight_share > 0.5)
        add_warning(row, "one episode carries %.0f%% of the weight", 100.0 * est.max_weight_share);
    kernel_warning(row, r);
    return ORL_OK;
}

/* the FQE row */
static void fqe_row(const run_state *rs, const orl_fqe_result *fqe, int tabular,
                    orl_report_row *row) {
    const double c = rs->opt->confidence;
    row->estimate = fqe->value;
    if (rs->opt->bootstrap > 0) {
        if (fqe->n_episodes >= 2) {
            double dof = (double)(fqe->n_episodes - 1);
            double t = orl_ope_student_t_quantile(0.5 + 0.5 * c, dof);
            double t1 = orl_ope_student_t_quantile(c, dof);
            row->lower = fqe->value - t * fqe->value_stderr;
            row->upper = fqe->value + t * fqe->value_stderr;
            row->lower_bound = fqe->value - t1 * fqe->value_stderr;
        }
        snprintf(row->bound_method, sizeof row->bound_method,
                 "t over start states, model error not included (approximate)");
    }
    row->model_unconverged = !tabular && !fqe->converged;
    if (!tabular)
        add_warning(row, "neural FQE, %lld iterations, %s, final loss %.3g",
                    (long long)fqe->iterations, fqe->converged ? "converged" : "not converged",
                    fqe->final_loss);
}

/* a DR or WDR row from the DR estimate d; x (E) is scratch */
static orl_status dr_row(const run_state *rs, const orl_dr_estimate *d, int weighted, double *x,
                         orl_report_row *row) {
    const int64_t E = rs->ds->n_episodes;
    row->ess = d->ess;
    row->max_weight_share = d->max_weight_share;
    row->clipped_fraction = d->log_ratio_clipped_fraction;
    if (!weighted) {
        row->estimate = d->dr;
        if (rs->opt->bootstrap > 0) {
            ORL_TRY(bootstrap_row(rs, d->dr_episode, E, row));
            snprintf(row->bound_method, sizeof row->bound_method,
                     "percentile bootstrap over episodes (approximate)");
        }
    } else {
        row->estimate = d->wdr;
        if (rs->opt->bootstrap > 0) {
            /* episode shares scaled by E: their mean is WDR; resampling them keeps the
             * weights' normalisation of the full data (an approximation) */
            for (int64_t j = 0; j < E; j++) x[j] = (double)E * d->wdr_episode[j];
            ORL_TRY(bootstrap_row(rs, x, E, row));
            snprintf(row->bound_method, sizeof row->bound_method,
                     "bootstrap of episode shares (approximate)");
        }
    }
    if (d->warn_low_ess) add_warning(row, "low ESS: %.1f of %lld episodes", d->ess, (long long)E);
    return ORL_OK;
}

/* evaluates policy p with every estimator into pol. Each row's seconds are the time spent on
 * it; a shared piece (a ratio set, the FQE fit, a DR estimate) is charged to the first row
 * that needs it. */
static orl_status evaluate(const run_state *rs, const orl_policy *p, orl_report_policy *pol) {
    const orl_dataset *ds = rs->ds;
    const orl_ope_run_options *o = rs->opt;
    const int64_t E = ds->n_episodes;
    orl_ope_ratios *ratios[2] = {NULL, NULL}; /* [0] logged, [1] RIS */
    orl_fqe_result fqe;
    memset(&fqe, 0, sizeof fqe);
    int have_fqe = 0, fqe_tabular = 0;
    orl_dr_estimate dr[2];
    memset(dr, 0, sizeof dr);
    int have_dr[2] = {0, 0};
    double ratio_seconds[2] = {0.0, 0.0};
    orl_ope_bounds bounds[2]; /* of each ratio set, when have_bounds */
    int have_bounds[2] = {0, 0};
    orl_status st = ORL_OK;

    double *x = malloc((size_t)E * sizeof *x); /* (E) scratch for bootstrapped terms */
    if (!x) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "ope: %lld episodes", (long long)E);

    /* the ratio sets the estimators need, computed once each */
    for (int32_t i = 0; i < o->n_estimators; i++) {
        const orl_ope_run_estimator *e = &o->estimators[i];
        if (e->kind == ORL_OPE_RUN_KIND_FQE || e->kind == ORL_OPE_RUN_KIND_MB || ratios[e->ris])
            continue;
        double t0 = now();
        orl_ope_ratio_options ropt;
        orl_ope_ratio_options_init(&ropt);
        ropt.behavior = e->ris ? ris_behavior(ds, o->environment) : ORL_OPE_BEHAVIOR_LOGGED;
        ropt.seed = o->seed;
        ORL_TRY_GOTO(st, done, orl_ope_ratios_compute(ds, p, &ropt, &ratios[e->ris]));
        /* no held-out split: every episode is evaluated, so the ratios' steps must be the
         * dataset's, in order (FQE's q and v for DR are indexed by dataset step) */
        const orl_ope_ratios *rr = ratios[e->ris];
        if (rr->n_steps != ds->n_steps || rr->n_episodes != E ||
            memcmp(rr->ep_off, ds->ep_off, (size_t)(E + 1) * sizeof *rr->ep_off) != 0)
            ORL_FAIL_GOTO(st, done, ORL_ERR_UNSUPPORTED,
                          "ope: the ratios cover %lld steps in %lld episodes, not the dataset's "
                          "%lld steps in %lld episodes in order",
                          (long long)rr->n_steps, (long long)rr->n_episodes, (long long)ds->n_steps,
                          (long long)E);
        /* the lower bounds of this ratio set, once (fewer than 10 episodes: none) */
        if (o->bootstrap > 0) {
            orl_ope_options bo_est;
            orl_ope_options_init(&bo_est);
            bo_est.gamma = rs->gamma;
            orl_ope_bound_options bopt;
            orl_ope_bound_options_init(&bopt);
            bopt.confidence = o->confidence;
            bopt.range = rs->range;
            bopt.resamples = o->bootstrap;
            bopt.seed = o->seed;
            if (E >= 10) {
                ORL_TRY_GOTO(st, done, orl_ope_bounds_compute(rr, &bo_est, &bopt, &bounds[e->ris]));
                have_bounds[e->ris] = 1;
            }
        }
        ratio_seconds[e->ris] = now() - t0;
    }

    for (int32_t i = 0; i < o->n_estimators; i++) {
        const orl_ope_run_estimator *e = &o->estimators[i];
        orl_report_row *row = &pol->rows[pol->n_rows++];
        row_init(row, e, E);
        double t0 = now();
        if (e->kind == ORL_OPE_RUN_KIND_MB) {
            ORL_TRY_GOTO(st, done, mb_row(rs, p, row));
            row->seconds += now() - t0;
            continue;
        }
        const orl_ope_ratios *r = e->kind == ORL_OPE_RUN_KIND_FQE ? NULL : ratios[e->ris];
        if (r) {
            row->seconds += ratio_seconds[e->ris];
            ratio_seconds[e->ris] = 0.0;
        }
        if (e->kind == ORL_OPE_RUN_KIND_IS) {
            ORL_TRY_GOTO(st, done,
                         is_row(rs, r, e, have_bounds[e->ris] ? &bounds[e->ris] : NULL, row));
            row->seconds += now() - t0;
            continue;
        }
        if (!have_fqe) {
            ORL_TRY_GOTO(st, done, fit_fqe(rs, p, &fqe, &fqe_tabular));
            have_fqe = 1;
        }
        if (e->kind == ORL_OPE_RUN_KIND_FQE) {
            fqe_row(rs, &fqe, fqe_tabular, row);
            row->seconds += now() - t0;
            continue;
        }
        /* DR / WDR on the FQE fit and this ratio set */
        int k = e->ris;
        if (!have_dr[k]) {
            orl_dr_options dopt;
            orl_dr_options_init(&dopt);
            dopt.gamma = rs->gamma;
            ORL_TRY_GOTO(st, done,
                         orl_dr_compute_from(r->log_ratio, r->rew, fqe.q, fqe.v, r->ep_off,
                                             r->n_episodes, &dopt, &dr[k]));
            have_dr[k] = 1;
        }
        ORL_TRY_GOTO(st, done, dr_row(rs, &dr[k], e->kind == ORL_OPE_RUN_KIND_WDR, x, row));
        kernel_warning(row, r);
        row->seconds += now() - t0;
    }

    /* the policy's lower bounds: those of the logged ratio set, else the RIS one */
    int hb = have_bounds[0] ? 0 : (have_bounds[1] ? 1 : -1);
    if (hb >= 0) {
        pol->hc_bernstein_lower = bounds[hb].bernstein_lower;
        pol->hc_t_lower = bounds[hb].t_lower;
        pol->hc_bootstrap_lower = bounds[hb].bootstrap_lower;
        pol->hc_range_widened = bounds[hb].range_widened;
        pol->hc_behavior_estimated = hb == 1;
    }
done:
    for (int k = 0; k < 2; k++) {
        orl_ope_ratios_free(ratios[k]);
        orl_dr_estimate_free(&dr[k]);
    }
    orl_fqe_result_free(&fqe);
    free(x);
    return st;
}

/* ---- the gate ---- */

/* the row of estimator name in pol, or NULL */
static const orl_report_row *find_row(const orl_report_policy *pol, const char *name) {
    for (int32_t i = 0; i < pol->n_rows; i++)
        if (strcmp(pol->rows[i].estimator, name) == 0) return &pol->rows[i];
    return NULL;
}

/* the evidence behind a row: its ESS (IS, DR, WDR), else for FQE its start states; *name
 * says which */
static double row_evidence(const orl_report_row *row, const char **name) {
    if (!isnan(row->ess)) {
        *name = "ESS";
        return row->ess;
    }
    *name = "start states";
    return isfinite(row->estimate) ? (double)row->episodes : 0.0;
}

static void add_gate(orl_report *r, const char *policy, const char *check,
                     const orl_report_row *row, double min_ess, double threshold,
                     const char *what) {
    orl_report_gate *g = &r->gates[r->n_gates++];
    snprintf(g->policy, sizeof g->policy, "%s", policy);
    snprintf(g->name, sizeof g->name, "%s", check);
    snprintf(g->estimator, sizeof g->estimator, "%s", row->estimator);
    const double value = row->lower_bound;
    g->value = value;
    g->threshold = threshold;
    g->evidence = g->min_evidence = NAN;
    const char *ev_name = "";
    int unconverged = 0;
    if (min_ess > 0.0) {
        g->evidence = row_evidence(row, &ev_name);
        g->min_evidence = min_ess;
        snprintf(g->evidence_name, sizeof g->evidence_name, "%s", ev_name);
        /* an FQE fit that stopped at its limit has not shown its value: no evidence either */
        unconverged = row->model_unconverged;
        g->insufficient_evidence = !(g->evidence >= min_ess) || unconverged;
    }
    g->passed = value >= threshold && !g->insufficient_evidence; /* NaN fails */
    /* at most 31 + 400 characters of names: the message always fits */
    int len = 0;
    if (g->insufficient_evidence && unconverged)
        len = snprintf(g->message, sizeof g->message,
                       "insufficient evidence: %.31s did not converge; ", row->estimator);
    else if (g->insufficient_evidence)
        len = snprintf(g->message, sizeof g->message, "insufficient evidence: %s %.1f < %g; ",
                       ev_name, g->evidence, min_ess);
    snprintf(g->message + len, sizeof g->message - (size_t)len,
             "%.31s lower bound %.6g %s %.400s %.6g", row->estimator, value,
             value >= threshold ? ">=" : (isnan(value) ? "(not available) vs" : "<"), what,
             threshold);
}

/* the gates of every candidate (every policy but the baseline) */
static void check_gates(const orl_ope_run_options *o, const char *const *names, int32_t n,
                        const char *gate_est, double min_ess, orl_report *report) {
    const orl_report_row *base_row =
        o->baseline >= 0 ? find_row(&report->policies[o->baseline], gate_est) : NULL;
    double margin = isnan(o->margin) ? 0.0 : o->margin;
    for (int32_t i = 0; i < n; i++) {
        if (i == o->baseline) continue;
        const orl_report_row *row = find_row(&report->policies[i], gate_est);
        if (!isnan(o->fail_below))
            add_gate(report, names[i], "fail-below", row, min_ess, o->fail_below, "--fail-below");
        if (base_row) {
            char what[ORL_REPORT_TEXT + 64];
            snprintf(what, sizeof what,
                     "baseline %.400s estimate %.6g - margin %g =", names[o->baseline],
                     base_row->estimate, margin);
            add_gate(report, names[i], "baseline", row, min_ess, base_row->estimate - margin, what);
        }
    }
}

/* ---- the run ---- */

orl_status orl_ope_run(const orl_dataset *ds, const char *dataset_name,
                       const orl_policy *const *policies, const char *const *names, int32_t n,
                       const orl_ope_run_options *opt, const orl_progress *progress,
                       orl_report *report) {
    assert(ds && dataset_name && policies && names && opt && report);
    orl_report_init(report);
    if (n < 1 || n > ORL_REPORT_MAX_POLICIES)
        ORL_FAIL(ORL_ERR_INPUT, "ope: %d policies, expected 1 to %d", n, ORL_REPORT_MAX_POLICIES);
    if (opt->n_estimators < 1 || opt->n_estimators > ORL_REPORT_MAX_ESTIMATORS)
        ORL_FAIL(ORL_ERR_INPUT, "ope: %d estimators, expected 1 to %d", opt->n_estimators,
                 ORL_REPORT_MAX_ESTIMATORS);
    if (!(opt->confidence > 0.5 && opt->confidence < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope: confidence %g, expected (0.5, 1)", opt->confidence);
    if (opt->bootstrap != 0 && opt->bootstrap < 2)
        ORL_FAIL(ORL_ERR_INPUT, "ope: %lld bootstrap resamples, expected 0 or >= 2",
                 (long long)opt->bootstrap);
    if (!isnan(opt->gamma) && !(opt->gamma >= 0.0 && opt->gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope: gamma %g, expected [0, 1]", opt->gamma);
    if (opt->baseline >= n || (opt->baseline >= 0 && n < 2))
        ORL_FAIL(ORL_ERR_INPUT, "ope: baseline %d of %d policies", opt->baseline, n);
    double min_ess = isnan(opt->min_ess) ? ORL_OPE_RUN_MIN_ESS : opt->min_ess;
    if (!(min_ess >= 0.0) || isinf(min_ess))
        ORL_FAIL(ORL_ERR_INPUT, "ope: min ESS %g, expected a number >= 0", opt->min_ess);
    const orl_ope_return_range *given = &opt->return_range;
    if (given->source != ORL_OPE_RANGE_SOURCE_NONE &&
        !(isfinite(given->lo) && isfinite(given->hi) && given->lo < given->hi))
        ORL_FAIL(ORL_ERR_INPUT, "ope: return range [%g, %g], expected finite LO < HI", given->lo,
                 given->hi);

    /* the gating estimator: the one asked for, else wdr when listed, else the first */
    const char *gate_est = opt->estimators[0].name;
    for (int32_t k = 0; k < opt->n_estimators; k++)
        if (opt->gate_estimator[0] ? strcmp(opt->estimators[k].name, opt->gate_estimator) == 0
                                   : strcmp(opt->estimators[k].name, "wdr") == 0)
            gate_est = opt->estimators[k].name;
    if (opt->gate_estimator[0] && strcmp(gate_est, opt->gate_estimator) != 0)
        ORL_FAIL(ORL_ERR_INPUT, "ope: the gating estimator %s is not among the estimators",
                 opt->gate_estimator);

    /* every input checked before any work */
    ORL_TRY(orl_ope_run_check(ds, dataset_name, opt));
    for (int32_t i = 0; i < n; i++) {
        orl_status st = orl_policy_check_dims(policies[i], ds->h.obs_dim, ds->h.act_dim,
                                              ds->h.action_kind, ds->h.n_actions);
        if (st) return st;
    }

    int ris_used = 0;
    for (int32_t k = 0; k < opt->n_estimators; k++)
        ris_used |= opt->estimators[k].kind != ORL_OPE_RUN_KIND_FQE &&
                    opt->estimators[k].kind != ORL_OPE_RUN_KIND_MB && opt->estimators[k].ris;
    double gamma = opt->gamma;
    if (isnan(gamma))
        gamma = isfinite(ds->h.discount) && ds->h.discount >= 0.0 && ds->h.discount <= 1.0
                    ? ds->h.discount
                    : 1.0;
    snprintf(report->dataset, sizeof report->dataset, "%s", dataset_name);
    snprintf(report->env_id, sizeof report->env_id, "%s", ds->h.env_id);
    report->n_episodes = ds->n_episodes;
    report->n_steps = ds->n_steps;
    report->gamma = gamma;
    report->confidence = opt->confidence;
    report->bootstrap = opt->bootstrap;
    report->seed = opt->seed;
    snprintf(report->behavior, sizeof report->behavior, "%s",
             opt->behavior_estimated ? "estimated" : "logged");
    report->ris_because_missing = ris_used && !ds->h.has_logp;
    snprintf(report->version, sizeof report->version, "%s", ORL_VERSION);
    if (ris_used)
        snprintf(report->notes, sizeof report->notes,
                 "RIS: the behaviour policy is estimated by %s "
                 "(maximum likelihood on the same episodes)%s",
                 ris_behavior(ds, opt->environment) == ORL_OPE_BEHAVIOR_TABULAR
                     ? "counts over the observed states"
                     : (ds->h.action_kind == ORL_ACTION_KIND_DISCRETE
                            ? "a softmax MLP over the observations"
                            : "a Gaussian MLP over the observations (continuous actions)"),
                 ds->h.has_logp ? "" : ", because the dataset has no logged probabilities");
    if (!isnan(opt->fail_below) || opt->baseline >= 0) {
        snprintf(report->gate_estimator, sizeof report->gate_estimator, "%.31s", gate_est);
        report->min_ess = min_ess;
    }

    /* the return range of the lower bounds: given, else the tighter of the environment's and
     * the dataset's declared one (both hold, so their intersection does), else observed */
    orl_ope_return_range range = *given;
    if (range.source == ORL_OPE_RANGE_SOURCE_NONE) {
        orl_ope_return_range from_env = {NAN, NAN, ORL_OPE_RANGE_SOURCE_NONE};
        orl_ope_return_range from_ds = {NAN, NAN, ORL_OPE_RANGE_SOURCE_NONE};
        const orl_ope_environment *env = opt->environment;
        double lo, hi;
        if (env && env->return_range && ds->h.env_id[0] &&
            env->return_range(ds->h.env_id, gamma, &lo, &hi) == ORL_OK && isfinite(lo) &&
            isfinite(hi) && lo < hi)
            from_env = (orl_ope_return_range){lo, hi, ORL_OPE_RANGE_SOURCE_ENVIRONMENT};
        if (ds->h.horizon >= 1 &&
            orl_ope_return_range_from_rewards(ds->h.reward_min, ds->h.reward_max, gamma,
                                              ds->h.horizon, &from_ds) == ORL_OK)
            from_ds.source = ORL_OPE_RANGE_SOURCE_DATASET;
        else
            from_ds.source = ORL_OPE_RANGE_SOURCE_NONE;
        orl_error_clear();
        int e = from_env.source != ORL_OPE_RANGE_SOURCE_NONE;
        int d = from_ds.source != ORL_OPE_RANGE_SOURCE_NONE;
        if (e && d && fmax(from_env.lo, from_ds.lo) < fmin(from_env.hi, from_ds.hi)) {
            /* named after the one whose lo is used (lo is what validity rests on) */
            range = from_ds.lo > from_env.lo ? from_ds : from_env;
            range.lo = fmax(from_env.lo, from_ds.lo);
            range.hi = fmin(from_env.hi, from_ds.hi);
        } else if (e) {
            range = from_env;
        } else if (d) {
            range = from_ds;
        }
    }
    int any_is = 0;
    for (int32_t k = 0; k < opt->n_estimators; k++)
        any_is |= opt->estimators[k].kind == ORL_OPE_RUN_KIND_IS;
    if (any_is && opt->bootstrap > 0) {
        if (range.source == ORL_OPE_RANGE_SOURCE_NONE) {
            /* the observed range, for the report (bounds.c takes the same one) */
            double lo = INFINITY, hi = -INFINITY;
            for (int64_t e = 0; e < ds->n_episodes; e++) {
                double g = 0.0, d = 1.0;
                for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++) {
                    g += d * (double)ds->rew[t];
                    d *= gamma;
                }
                lo = fmin(lo, g);
                hi = fmax(hi, g);
            }
            report->return_lo = lo;
            report->return_hi = hi > lo ? hi : lo + 1.0;
        } else {
            report->return_lo = range.lo;
            report->return_hi = range.hi;
        }
        snprintf(report->return_range_source, sizeof report->return_range_source, "%s",
                 range.source == ORL_OPE_RANGE_SOURCE_NONE
                     ? "observed"
                     : orl_ope_range_source_name(range.source));
    }

    /* the model of the mb rows: given, or fitted once on the dataset for every policy */
    int any_mb = 0;
    for (int32_t k = 0; k < opt->n_estimators; k++)
        any_mb |= opt->estimators[k].kind == ORL_OPE_RUN_KIND_MB;
    orl_dynamics *fitted = NULL;
    const orl_dynamics *mb = opt->mb_model;
    if (any_mb && mb) {
        ORL_TRY(orl_dynamics_check_dims(mb, &ds->h, "ope: the model"));
    } else if (any_mb) {
        orl_dynamics_config mc = orl_dynamics_config_defaults();
        if (opt->mb_config)
            mc = *opt->mb_config;
        else
            mc.seed = opt->seed;
        ORL_TRY(orl_dynamics_fit(&mc, ds, progress, &fitted));
        mb = fitted;
    }
    if (any_mb) {
        const orl_dynamics_errors *e = &mb->errors;
        size_t len = strlen(report->notes);
        snprintf(report->notes + len, sizeof report->notes - len,
                 "%sMB: dynamics ensemble of %d members (%d x %d)%s, held-out one-step state "
                 "RMSE %.3g (normalised %.3g), at horizons %d/%d/%d %.3g/%.3g/%.3g",
                 len ? "\n" : "", mb->cfg.members, mb->cfg.layers, mb->cfg.hidden,
                 fitted ? " fitted on these episodes" : " given", e->state_rmse, e->state_nrmse,
                 orl_dynamics_horizons[0], orl_dynamics_horizons[1], orl_dynamics_horizons[2],
                 e->horizon_rmse[0], e->horizon_rmse[1], e->horizon_rmse[2]);
    }

    run_state rs = {ds, opt, progress, gamma, range, mb};
    orl_status st = ORL_OK;
    for (int32_t i = 0; i < n; i++) {
        orl_report_policy *pol = &report->policies[report->n_policies++];
        memset(pol, 0, sizeof *pol);
        snprintf(pol->name, sizeof pol->name, "%s", names[i]);
        snprintf(pol->algorithm, sizeof pol->algorithm, "%s", policies[i]->algorithm);
        snprintf(pol->type, sizeof pol->type, "%s", policies[i]->ops->type);
        pol->is_baseline = i == opt->baseline;
        pol->hc_t_lower = pol->hc_bernstein_lower = pol->hc_bootstrap_lower = NAN;
        ORL_TRY_GOTO(st, done, evaluate(&rs, policies[i], pol));
    }
    check_gates(opt, names, n, gate_est, min_ess, report);
done:
    orl_dynamics_free(fitted);
    return st;
}
