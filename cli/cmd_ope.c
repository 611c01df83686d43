/* orl ope POLICY... --data IN [...]: off-policy evaluation of policies on logged data, as a
 * report (Markdown for a CI job summary, JSON, JUnit XML) and a gate (exit 1 when a lower
 * bound falls short), optionally appended to a SQLite results catalog.
 *
 * Every input is checked before anything is computed or written (exit 2): the estimator
 * names, the dataset, the policies' dimensions, and whether the estimators asked for can run
 * on the data (IS-type estimators need logged behaviour probabilities unless RIS is asked
 * for). The estimators are ope.h's and fqe.h's; the report model and renderers report.h's. */
#include "cli/cli.h"
#include "orl/env.h"
#include "orl/eval.h"
#include "orl/fqe.h"
#include "orl/ope.h"
#include "orl/report.h"
#include "orl/tabular.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ESTIMATORS "is,pdis,wis,wpdis"
#define DEFAULT_BOOTSTRAP  200
#define MAX_POLICIES       (ORL_REPORT_MAX_POLICIES - 1) /* candidates; the baseline is one more */

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl ope POLICY... --data IN [--estimators LIST] [--behavior logged|estimated]\n"
            "               [--gamma G] [--confidence C] [--bootstrap B] [--seed S]\n"
            "               [--format md|json|junit] [-o REPORT] [--fail-below X]\n"
            "               [--estimator-gate NAME] [--baseline POLICY [--margin M]]\n"
            "               [--record RESULTS.sqlite [--label RUN]] [--fqe-steps N]\n\n"
            "Estimates the value of each POLICY (a policy file or builtin:ENV/LEVEL) from the\n"
            "logged dataset IN. Estimators (default %s):\n"
            "  is, pdis, wis, wpdis     importance sampling with the behaviour probabilities\n"
            "                           (logged, or estimated by RIS with --behavior estimated)\n"
            "  ris-is, ris-pdis, ris-wis, ris-wpdis\n"
            "                           the same with the behaviour policy estimated by maximum\n"
            "                           likelihood from the same data (regression IS: counts\n"
            "                           on tabular data, else a softmax or Gaussian MLP)\n"
            "  fqe                      fitted Q evaluation (exact tabular FQE on GridWorld)\n"
            "  dr, wdr                  doubly robust and weighted doubly robust on FQE\n"
            "Each estimate gets a two-sided percentile bootstrap interval over episodes at\n"
            "confidence C (default 0.95, B = %d resamples, seed S = 0) and a one-sided lower\n"
            "bound at C (the 1 - C bootstrap percentile). The discount G defaults to the\n"
            "dataset's.\n\n"
            "Gate (exit 1 when a check fails): the gating estimator is --estimator-gate, else\n"
            "wdr when listed, else the first listed. --fail-below X fails a candidate POLICY\n"
            "whose lower bound is below X; --baseline POLICY --margin M fails a candidate whose\n"
            "lower bound is below the baseline's estimate minus M (default 0); the baseline is\n"
            "reported but not gated itself. Exit 2 for bad input: unknown\n"
            "estimator, unreadable file, dimension mismatch, IS-type estimators on a dataset\n"
            "without logged probabilities (ask for RIS).\n\n"
            "The report goes to stdout, or to REPORT (written whole, then renamed) with -o.\n"
            "--record appends one row per policy and estimator to a SQLite results catalog\n"
            "(created when absent), labelled RUN (e.g. a commit id).\n",
            DEFAULT_ESTIMATORS, DEFAULT_BOOTSTRAP);
}

/* ---- estimator list ---- */

typedef enum kind { KIND_IS, KIND_FQE, KIND_DR, KIND_WDR } kind;

typedef struct estimator_spec {
    char name[32];
    kind kind;
    orl_ope_estimator base; /* KIND_IS */
    int ris;                /* uses the estimated behaviour */
} estimator_spec;

static const char *const known_names =
    "is, pdis, wis, wpdis, ris-is, ris-pdis, ris-wis, ris-wpdis, fqe, dr, wdr";

/* parses one name; 0 on success */
static int parse_estimator(const char *name, int behavior_estimated, estimator_spec *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    if (strcmp(name, "fqe") == 0) {
        out->kind = KIND_FQE;
        return 0;
    }
    if (strcmp(name, "dr") == 0 || strcmp(name, "wdr") == 0) {
        out->kind = name[0] == 'w' ? KIND_WDR : KIND_DR;
        out->ris = behavior_estimated;
        return 0;
    }
    const char *base = name;
    out->ris = behavior_estimated;
    if (strncmp(name, "ris-", 4) == 0) {
        base = name + 4;
        out->ris = 1;
    }
    out->kind = KIND_IS;
    for (int e = 0; e < ORL_OPE_ESTIMATOR_COUNT; e++)
        if (strcmp(base, orl_ope_estimator_name((orl_ope_estimator)e)) == 0) {
            out->base = (orl_ope_estimator)e;
            return 0;
        }
    return -1;
}

/* ---- number parsing ---- */

static int parse_double(const char *text, double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *text, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-') return -1;
    *out = (uint64_t)v;
    return 0;
}

/* ---- the evaluation ---- */

typedef struct ope_run {
    const orl_dataset *ds;
    const char *data_path;
    const estimator_spec *est;
    int n_est;
    double gamma, confidence;
    int64_t bootstrap;
    uint64_t seed;
    int64_t fqe_steps;
    orl_report *report;
} ope_run;

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

/* two-sided interval and one-sided lower bound by the percentile bootstrap of x / w (E) */
static orl_status bootstrap_row(const ope_run *run, const double *x, const double *w, int64_t E,
                                orl_report_row *row) {
    orl_ope_interval two, one;
    ORL_TRY(
        orl_ope_bootstrap_from(x, w, E, run->bootstrap, run->confidence, run->seed, NULL, &two));
    ORL_TRY(orl_ope_bootstrap_from(x, w, E, run->bootstrap, 2.0 * run->confidence - 1.0, run->seed,
                                   NULL, &one));
    row->lower = two.lo;
    row->upper = two.hi;
    row->lower_bound = one.lo;
    return ORL_OK;
}

/* the FQE fit of policy p on the dataset: exact tabular FQE when the environment is tabular
 * and the policy fits it, the neural FQE of fqe.h otherwise. *tabular_used says which. */
static orl_status fit_fqe(const ope_run *run, const orl_policy *p, orl_fqe_result *fqe,
                          int *tabular_used) {
    const orl_dataset *ds = run->ds;
    orl_tabular_model m;
    *tabular_used = 0;
    if (ds->h.env_id[0] && orl_tabular_model_get(ds->h.env_id, &m) == ORL_OK &&
        p->action_kind == ORL_ACTION_KIND_DISCRETE && p->obs_dim == m.n_states &&
        p->n_actions == m.n_actions) {
        double probs[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_ACTIONS];
        ORL_TRY(orl_tabular_policy_probs(ds->h.env_id, p, probs));
        orl_fqe_tabular_config cfg = {run->gamma, m.max_episode_steps, 0, 0.0};
        *tabular_used = 1;
        return orl_fqe_tabular(ds, probs, m.n_states, m.n_actions, &cfg, fqe);
    }
    orl_error_clear();
    orl_fqe_config cfg = orl_fqe_config_defaults();
    cfg.gamma = run->gamma;
    cfg.seed = run->seed;
    if (run->fqe_steps > 0) cfg.steps = run->fqe_steps;
    orl_progress progress = cli_progress();
    orl_status st = orl_fqe_fit(ds, p, &cfg, &progress, fqe);
    cli_progress_done();
    return st;
}

/* the RIS behaviour model for ds: counts (the study's tabular MLE) for discrete actions on a
 * tabular environment or one the registry does not know, a maximum-likelihood MLP otherwise
 * (softmax for discrete actions on continuous states, Gaussian for continuous actions) */
static orl_ope_behavior ris_behavior(const orl_dataset *ds) {
    orl_tabular_model m;
    if (ds->h.action_kind != ORL_ACTION_KIND_DISCRETE) return ORL_OPE_BEHAVIOR_MLP;
    int known = 0;
    for (int32_t i = 0; i < orl_env_count(); i++) known |= strcmp(orl_env_id(i), ds->h.env_id) == 0;
    int tabular = known && orl_tabular_model_get(ds->h.env_id, &m) == ORL_OK;
    orl_error_clear();
    return !known || tabular ? ORL_OPE_BEHAVIOR_TABULAR : ORL_OPE_BEHAVIOR_MLP;
}

/* evaluates policy p with every estimator into pol */
static orl_status evaluate(const ope_run *run, const orl_policy *p, orl_report_policy *pol) {
    const orl_dataset *ds = run->ds;
    const int64_t E = ds->n_episodes;
    orl_ope_ratios *ratios[2] = {NULL, NULL}; /* [0] logged, [1] RIS */
    orl_fqe_result fqe;
    memset(&fqe, 0, sizeof fqe);
    int have_fqe = 0, fqe_tabular = 0;
    double *x = NULL; /* (E) scratch for bootstrapped per-episode terms */
    orl_dr_estimate dr[2];
    memset(dr, 0, sizeof dr);
    int have_dr[2] = {0, 0};
    orl_status st = ORL_OK;

    x = malloc((size_t)E * sizeof *x);
    if (!x) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "ope: %lld episodes", (long long)E);

    orl_ope_options opt;
    orl_ope_options_init(&opt);
    opt.gamma = run->gamma;

    /* the ratio sets the estimators need, computed once each */
    for (int i = 0; i < run->n_est; i++) {
        const estimator_spec *e = &run->est[i];
        if (e->kind == KIND_FQE || ratios[e->ris]) continue;
        orl_ope_ratio_options ropt;
        orl_ope_ratio_options_init(&ropt);
        ropt.behavior = e->ris ? ris_behavior(ds) : ORL_OPE_BEHAVIOR_LOGGED;
        ropt.seed = run->seed;
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
    }

    for (int i = 0; i < run->n_est; i++) {
        const estimator_spec *e = &run->est[i];
        orl_report_row *row = &pol->rows[pol->n_rows++];
        memset(row, 0, sizeof *row);
        snprintf(row->estimator, sizeof row->estimator, "%.31s", e->name);
        row->estimate = row->lower = row->upper = row->lower_bound = NAN;
        row->ess = row->max_weight_share = row->clipped_fraction = NAN;
        row->episodes = E;
        row->behavior_estimated = e->kind != KIND_FQE && e->ris;
        const orl_ope_ratios *r = e->kind == KIND_FQE ? NULL : ratios[e->ris];

        if (e->kind == KIND_IS) {
            orl_ope_estimate est;
            ORL_TRY_GOTO(st, done, orl_ope_estimate_compute(r, e->base, &opt, &est));
            row->estimate = est.value;
            row->ess = est.ess;
            row->max_weight_share = est.max_weight_share;
            row->clipped_fraction = est.clipped_fraction;
            orl_ope_interval two, one;
            ORL_TRY_GOTO(st, done,
                         orl_ope_bootstrap(r, e->base, &opt, run->bootstrap, run->confidence,
                                           run->seed, &two));
            ORL_TRY_GOTO(st, done,
                         orl_ope_bootstrap(r, e->base, &opt, run->bootstrap,
                                           2.0 * run->confidence - 1.0, run->seed, &one));
            row->lower = two.lo;
            row->upper = two.hi;
            row->lower_bound = one.lo;
            snprintf(row->bound_method, sizeof row->bound_method,
                     "percentile bootstrap over episodes");
            if (est.warn_low_ess)
                add_warning(row, "low ESS: %.1f of %lld episodes", est.ess, (long long)E);
            if (est.max_weight_share > 0.5)
                add_warning(row, "one episode carries %.0f%% of the weight",
                            100.0 * est.max_weight_share);
            if (r->kernel_smoothed)
                add_warning(row, "kernel-smoothed weights, bandwidth %.3g", r->kernel_bandwidth);
            continue;
        }

        if (!have_fqe) {
            ORL_TRY_GOTO(st, done, fit_fqe(run, p, &fqe, &fqe_tabular));
            have_fqe = 1;
        }
        if (e->kind == KIND_FQE) {
            row->estimate = fqe.value;
            if (fqe.n_episodes >= 2) {
                double t = orl_ope_student_t_quantile(0.5 + 0.5 * run->confidence,
                                                      (double)(fqe.n_episodes - 1));
                double t1 =
                    orl_ope_student_t_quantile(run->confidence, (double)(fqe.n_episodes - 1));
                row->lower = fqe.value - t * fqe.value_stderr;
                row->upper = fqe.value + t * fqe.value_stderr;
                row->lower_bound = fqe.value - t1 * fqe.value_stderr;
            }
            snprintf(row->bound_method, sizeof row->bound_method,
                     "t over start states, model error not included");
            if (!fqe_tabular)
                add_warning(row, "neural FQE, %lld steps, final loss %.3g",
                            (long long)fqe.iterations, fqe.final_loss);
            continue;
        }

        /* DR / WDR on the FQE fit and this ratio set */
        int k = e->ris;
        if (!have_dr[k]) {
            if (r->n_steps != ds->n_steps || r->n_episodes != E)
                ORL_FAIL_GOTO(st, done, ORL_ERR_UNSUPPORTED,
                              "ope: the ratios do not cover the dataset's steps (DR needs every "
                              "step)");
            orl_dr_options dopt;
            orl_dr_options_init(&dopt);
            dopt.gamma = run->gamma;
            ORL_TRY_GOTO(st, done,
                         orl_dr_compute_from(r->log_ratio, r->rew, fqe.q, fqe.v, r->ep_off,
                                             r->n_episodes, &dopt, &dr[k]));
            have_dr[k] = 1;
        }
        const orl_dr_estimate *d = &dr[k];
        row->ess = d->ess;
        row->max_weight_share = d->max_weight_share;
        row->clipped_fraction = d->log_ratio_clipped_fraction;
        if (e->kind == KIND_DR) {
            row->estimate = d->dr;
            ORL_TRY_GOTO(st, done, bootstrap_row(run, d->dr_episode, NULL, E, row));
            snprintf(row->bound_method, sizeof row->bound_method,
                     "percentile bootstrap over episodes");
        } else {
            row->estimate = d->wdr;
            /* episode shares scaled by E: their mean is WDR; resampling them keeps the
             * weights' normalisation of the full data (an approximation) */
            for (int64_t j = 0; j < E; j++) x[j] = (double)E * d->wdr_episode[j];
            ORL_TRY_GOTO(st, done, bootstrap_row(run, x, NULL, E, row));
            snprintf(row->bound_method, sizeof row->bound_method,
                     "bootstrap of episode shares (approximate)");
        }
        if (d->warn_low_ess)
            add_warning(row, "low ESS: %.1f of %lld episodes", d->ess, (long long)E);
    }

    /* high-confidence bounds of the PDIS terms (Thomas et al.), on the first ratio set */
    const orl_ope_ratios *hr = ratios[0] ? ratios[0] : ratios[1];
    if (hr) {
        orl_ope_bound_options bopt;
        orl_ope_bound_options_init(&bopt);
        bopt.confidence = run->confidence;
        bopt.seed = run->seed;
        orl_ope_bounds b;
        if (orl_ope_bounds_compute(hr, &opt, &bopt, &b) == ORL_OK) {
            pol->hc_t_lower = b.t_lower;
            pol->hc_bernstein_lower = b.bernstein_lower;
        }
        orl_error_clear();
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

/* the row of estimator name in pol, or NULL */
static const orl_report_row *find_row(const orl_report_policy *pol, const char *name) {
    for (int32_t i = 0; i < pol->n_rows; i++)
        if (strcmp(pol->rows[i].estimator, name) == 0) return &pol->rows[i];
    return NULL;
}

static void add_gate(orl_report *r, const char *policy, const char *check, const char *estimator,
                     double value, double threshold, const char *what) {
    orl_report_gate *g = &r->gates[r->n_gates++];
    snprintf(g->policy, sizeof g->policy, "%s", policy);
    snprintf(g->name, sizeof g->name, "%s", check);
    snprintf(g->estimator, sizeof g->estimator, "%s", estimator);
    g->value = value;
    g->threshold = threshold;
    g->passed = value >= threshold; /* NaN fails */
    snprintf(g->message, sizeof g->message, "%s lower bound %.6g %s %s %.6g", estimator, value,
             g->passed ? ">=" : (isnan(value) ? "(not available) vs" : "<"), what, threshold);
}

int cmd_ope(int argc, char **argv) {
    const char *policies[MAX_POLICIES];
    int n_policies = 0;
    const char *data = NULL, *est_list = DEFAULT_ESTIMATORS, *behavior = "logged";
    const char *out_path = NULL, *gate_name = NULL, *baseline = NULL, *record = NULL;
    const char *label = NULL, *format_name = "md";
    double gamma = NAN, confidence = 0.95, fail_below = NAN, margin = NAN;
    uint64_t seed = 0, bootstrap = DEFAULT_BOOTSTRAP, fqe_steps = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--data") == 0 && more) {
            data = argv[++i];
        } else if (strcmp(a, "--estimators") == 0 && more) {
            est_list = argv[++i];
        } else if (strcmp(a, "--behavior") == 0 && more) {
            behavior = argv[++i];
            if (strcmp(behavior, "logged") != 0 && strcmp(behavior, "estimated") != 0)
                return cli_usage_error("ope", "--behavior is logged or estimated, got '%s'",
                                       behavior);
        } else if (strcmp(a, "--gamma") == 0 && more) {
            if (parse_double(argv[++i], &gamma) || gamma < 0.0 || gamma > 1.0)
                return cli_usage_error("ope", "--gamma wants a number in [0, 1], got '%s'",
                                       argv[i]);
        } else if (strcmp(a, "--confidence") == 0 && more) {
            if (parse_double(argv[++i], &confidence) || !(confidence > 0.5 && confidence < 1.0))
                return cli_usage_error("ope", "--confidence wants a number in (0.5, 1), got '%s'",
                                       argv[i]);
        } else if (strcmp(a, "--format") == 0 && more) {
            format_name = argv[++i];
        } else if (strcmp(a, "-o") == 0 && more) {
            out_path = argv[++i];
        } else if (strcmp(a, "--fail-below") == 0 && more) {
            if (parse_double(argv[++i], &fail_below))
                return cli_usage_error("ope", "--fail-below wants a number, got '%s'", argv[i]);
        } else if (strcmp(a, "--estimator-gate") == 0 && more) {
            gate_name = argv[++i];
        } else if (strcmp(a, "--baseline") == 0 && more) {
            baseline = argv[++i];
        } else if (strcmp(a, "--margin") == 0 && more) {
            if (parse_double(argv[++i], &margin))
                return cli_usage_error("ope", "--margin wants a number, got '%s'", argv[i]);
        } else if (strcmp(a, "--record") == 0 && more) {
            record = argv[++i];
        } else if (strcmp(a, "--label") == 0 && more) {
            label = argv[++i];
        } else if (strcmp(a, "--seed") == 0 && more) {
            if (parse_u64(argv[++i], &seed))
                return cli_usage_error("ope", "--seed wants a non-negative integer, got '%s'",
                                       argv[i]);
        } else if (strcmp(a, "--bootstrap") == 0 && more) {
            if (parse_u64(argv[++i], &bootstrap) || bootstrap < 2 || bootstrap > 10000000)
                return cli_usage_error("ope", "--bootstrap wants an integer >= 2, got '%s'",
                                       argv[i]);
        } else if (strcmp(a, "--fqe-steps") == 0 && more) {
            if (parse_u64(argv[++i], &fqe_steps) || fqe_steps < 1)
                return cli_usage_error("ope", "--fqe-steps wants a positive integer, got '%s'",
                                       argv[i]);
        } else if (a[0] == '-') {
            return cli_usage_error("ope", "unknown option '%s' (or its value is missing)", a);
        } else if (n_policies < MAX_POLICIES) {
            policies[n_policies++] = a;
        } else {
            return cli_usage_error("ope", "at most %d policies", MAX_POLICIES);
        }
    }
    if (n_policies == 0) return cli_usage_error("ope", "POLICY missing");
    if (!data) return cli_usage_error("ope", "--data IN missing");
    if (!isnan(margin) && !baseline)
        return cli_usage_error("ope", "--margin needs --baseline POLICY");
    if (label && !record) return cli_usage_error("ope", "--label needs --record RESULTS.sqlite");
    orl_report_format format;
    if (orl_report_format_parse(format_name, &format))
        return cli_usage_error("ope", "--format is md, json or junit, got '%s'", format_name);

    /* the estimators */
    int behavior_estimated = strcmp(behavior, "estimated") == 0;
    estimator_spec est[ORL_REPORT_MAX_ESTIMATORS];
    int n_est = 0;
    {
        char list[1024];
        snprintf(list, sizeof list, "%s", est_list);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (n_est == ORL_REPORT_MAX_ESTIMATORS)
                return cli_usage_error("ope", "at most %d estimators", ORL_REPORT_MAX_ESTIMATORS);
            if (parse_estimator(tok, behavior_estimated, &est[n_est]))
                return cli_usage_error("ope", "unknown estimator '%s' (known: %s)", tok,
                                       known_names);
            for (int k = 0; k < n_est; k++)
                if (strcmp(est[k].name, tok) == 0)
                    return cli_usage_error("ope", "estimator '%s' listed twice", tok);
            n_est++;
        }
    }
    if (n_est == 0) return cli_usage_error("ope", "--estimators is empty");
    const char *gate_est = NULL;
    if (gate_name) {
        for (int k = 0; k < n_est; k++)
            if (strcmp(est[k].name, gate_name) == 0) gate_est = est[k].name;
        if (!gate_est)
            return cli_usage_error("ope", "--estimator-gate %s is not among --estimators %s",
                                   gate_name, est_list);
    } else {
        gate_est = est[0].name;
        for (int k = 0; k < n_est; k++)
            if (strcmp(est[k].name, "wdr") == 0) gate_est = est[k].name;
    }

    /* the dataset */
    orl_dataset *ds = NULL;
    orl_progress progress = cli_progress();
    orl_status st = orl_dataset_read(data, NULL, &progress, &ds);
    cli_progress_done();
    if (st) return cli_fail("ope", st);
    int code = CLI_EXIT_OK;
    orl_policy *loaded[ORL_REPORT_MAX_POLICIES] = {NULL};
    int n_loaded = 0;
    orl_report *report = NULL;

    /* IS-type estimators with logged probabilities need them in the data */
    int ris_used = 0;
    for (int k = 0; k < n_est; k++) {
        ris_used |= est[k].kind != KIND_FQE && est[k].ris;
        if (est[k].kind != KIND_FQE && !est[k].ris && !ds->h.has_logp) {
            code = cli_usage_error(
                "ope",
                "%s has no logged behaviour probabilities (infos/action_log_probs), which "
                "estimator '%s' needs. Estimate the behaviour policy from the data by regression "
                "importance sampling instead: add --behavior estimated, or ask for the RIS "
                "forms (--estimators ris-wis,ris-pdis); fqe needs no probabilities",
                data, est[k].name);
            goto done;
        }
    }

    /* the policies: every one loaded and checked against the dataset before any work */
    int n_all = n_policies + (baseline ? 1 : 0);
    for (int i = 0; i < n_all; i++) {
        const char *name = i < n_policies ? policies[i] : baseline;
        st = orl_policy_open(name, &loaded[i]);
        if (st == ORL_OK) {
            n_loaded++;
            st = orl_policy_check_dims(loaded[i], ds->h.obs_dim, ds->h.act_dim, ds->h.action_kind,
                                       ds->h.n_actions);
        }
        if (st) {
            code = cli_fail("ope", st);
            goto done;
        }
    }

    report = malloc(sizeof *report);
    if (!report) {
        code = cli_fail("ope", orl_error_set(ORL_ERR_NOMEM, "ope: report"));
        goto done;
    }
    orl_report_init(report);
    if (isnan(gamma))
        gamma = isfinite(ds->h.discount) && ds->h.discount >= 0.0 && ds->h.discount <= 1.0
                    ? ds->h.discount
                    : 1.0;
    snprintf(report->dataset, sizeof report->dataset, "%s", data);
    snprintf(report->env_id, sizeof report->env_id, "%s", ds->h.env_id);
    report->n_episodes = ds->n_episodes;
    report->n_steps = ds->n_steps;
    report->gamma = gamma;
    report->confidence = confidence;
    report->bootstrap = (int64_t)bootstrap;
    report->seed = seed;
    snprintf(report->behavior, sizeof report->behavior, "%s",
             behavior_estimated ? "estimated" : "logged");
    report->ris_because_missing = ris_used && !ds->h.has_logp;
    snprintf(report->version, sizeof report->version, "%s", ORL_VERSION);
    if (ris_used)
        snprintf(report->notes, sizeof report->notes,
                 "RIS: the behaviour policy is estimated by %s "
                 "(maximum likelihood on the same episodes)%s",
                 ris_behavior(ds) == ORL_OPE_BEHAVIOR_TABULAR
                     ? "counts over the observed states"
                     : (ds->h.action_kind == ORL_ACTION_KIND_DISCRETE
                            ? "a softmax MLP over the observations"
                            : "a Gaussian MLP over the observations (continuous actions)"),
                 ds->h.has_logp ? "" : ", because the dataset has no logged probabilities");
    if (!isnan(fail_below) || baseline)
        snprintf(report->gate_estimator, sizeof report->gate_estimator, "%.31s", gate_est);

    ope_run run = {
        ds,    data, est, n_est, gamma, confidence, (int64_t)bootstrap, seed, (int64_t)fqe_steps,
        report};
    for (int i = 0; i < n_all; i++) {
        orl_report_policy *pol = &report->policies[report->n_policies++];
        memset(pol, 0, sizeof *pol);
        snprintf(pol->name, sizeof pol->name, "%s", i < n_policies ? policies[i] : baseline);
        snprintf(pol->algorithm, sizeof pol->algorithm, "%s", loaded[i]->algorithm);
        snprintf(pol->type, sizeof pol->type, "%s", loaded[i]->ops->type);
        pol->is_baseline = i >= n_policies;
        pol->hc_t_lower = pol->hc_bernstein_lower = NAN;
        st = evaluate(&run, loaded[i], pol);
        if (st) {
            code = cli_fail("ope", st);
            goto done;
        }
    }

    /* the gate */
    const orl_report_row *base_row =
        baseline ? find_row(&report->policies[n_policies], gate_est) : NULL;
    double base_margin = isnan(margin) ? 0.0 : margin;
    for (int i = 0; i < n_policies; i++) {
        const orl_report_row *row = find_row(&report->policies[i], gate_est);
        if (!isnan(fail_below))
            add_gate(report, policies[i], "fail-below", gate_est, row->lower_bound, fail_below,
                     "--fail-below");
        if (base_row) {
            char what[ORL_REPORT_TEXT + 64];
            snprintf(what, sizeof what, "baseline %.400s estimate %.6g - margin %g =", baseline,
                     base_row->estimate, base_margin);
            add_gate(report, policies[i], "baseline", gate_est, row->lower_bound,
                     base_row->estimate - base_margin, what);
        }
    }

    /* the report, then the catalog */
    if (out_path) {
        st = orl_report_write(report, format, out_path);
        if (st) {
            code = cli_fail("ope", st);
            goto done;
        }
    } else {
        char *text = NULL;
        st = orl_report_render(report, format, &text);
        if (st) {
            code = cli_fail("ope", st);
            goto done;
        }
        fputs(text, stdout);
        free(text);
    }
    if (record) {
        int64_t rows = 0;
        st = orl_report_record(report, record, label, &rows);
        if (st) {
            code = cli_fail("ope", st);
            goto done;
        }
    }
    if (report->n_gates > 0) {
        for (int32_t g = 0; g < report->n_gates; g++)
            if (!report->gates[g].passed)
                fprintf(stderr, "orl ope: gate failed: %s: %s\n", report->gates[g].policy,
                        report->gates[g].message);
        code = orl_report_passed(report) ? CLI_EXIT_OK : CLI_EXIT_CHECK_FAILED;
    }
done:
    for (int i = 0; i < n_loaded; i++) orl_policy_free(loaded[i]);
    free(report);
    orl_dataset_free(ds);
    return code;
}
