/* orl ope POLICY... --data IN [...]: off-policy evaluation of policies on logged data, as a
 * report (Markdown for a CI job summary, JSON, JUnit XML) and a gate (exit 1 when a lower
 * bound falls short), optionally appended to a SQLite results catalog.
 *
 * This verb parses and prints: every input is checked before anything is computed or written
 * (exit 2), then one call, orl_ope_run (ope_run.h), does the evaluation and the gate; the
 * report is rendered, written or recorded by report.h. */
#include "cli/cli.h"
#include "orl/eval.h"
#include "orl/ope_run.h"
#include "orl/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ESTIMATORS "is,pdis,wis,wpdis"
#define DEFAULT_BOOTSTRAP  200
#define MAX_POLICIES       (ORL_REPORT_MAX_POLICIES - 1) /* candidates; the baseline is one more */
#define MAX_MODEL_SETS     32

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl ope POLICY... --data IN [--estimators LIST] [--behavior logged|estimated]\n"
            "               [--gamma G] [--confidence C] [--bootstrap B] [--seed S]\n"
            "               [--format md|json|junit] [-o REPORT] [--fail-below X]\n"
            "               [--estimator-gate NAME] [--baseline POLICY [--margin M]]\n"
            "               [--record RESULTS.sqlite [--label RUN]] [--fqe-steps N]\n"
            "               [--min-ess M] [--return-range LO HI]\n"
            "               [--model MODEL.h5 | --model-set key=value...] [--mb-rollouts N]\n\n"
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
            "  mb                       model-based: the discounted return from the data's\n"
            "                           start states by rollouts in a dynamics ensemble (every\n"
            "                           member, N rollouts each, default 1), fitted on IN once\n"
            "                           per run (settings --model-set key=value as orl model\n"
            "                           fit's --set) or read from --model MODEL.h5 (orl model\n"
            "                           fit); its interval is a bootstrap over start states and\n"
            "                           members, and the report gives the model's held-out error\n"
            "Each estimate gets a two-sided percentile bootstrap interval over episodes at\n"
            "confidence C (default 0.95, B = %d resamples, seed S = 0) and a one-sided lower\n"
            "bound at C. For is, pdis, wis, wpdis (and ris-*) the lower bound is the empirical\n"
            "Bernstein bound of high-confidence OPE on the importance-weighted returns mapped\n"
            "into [0, 1] with a known return range: --return-range LO HI (every discounted\n"
            "return lies in it), else the environment's (reward bounds over the time limit,\n"
            "exact for GridWorld), else the observed returns (stated as a caveat: then not a\n"
            "guaranteed bound). It is valid with the logged probabilities; Student t and\n"
            "bootstrap bounds of the same terms are reported as approximate. FQE, DR and WDR\n"
            "carry approximate bounds. The discount G defaults to the dataset's.\n\n"
            "Gate (exit 1 when a check fails): the gating estimator is --estimator-gate, else\n"
            "wdr when listed, else the first listed. --fail-below X fails a candidate POLICY\n"
            "whose lower bound is below X; --baseline POLICY --margin M fails a candidate whose\n"
            "lower bound is below the baseline's estimate minus M (default 0); the baseline is\n"
            "reported but not gated itself. No pass without evidence: a check fails\n"
            "(\"insufficient evidence: ESS 1.0 < 5\") when the gating estimator's effective\n"
            "sample size (FQE: its start states) is below --min-ess M (default %g; 0: off).\n"
            "Exit 2 for bad input: unknown\n"
            "estimator, unreadable file, dimension mismatch, IS-type estimators on a dataset\n"
            "without logged probabilities (ask for RIS).\n\n"
            "The report goes to stdout, or to REPORT (written whole, then renamed) with -o.\n"
            "--record appends one row per policy and estimator to a SQLite results catalog\n"
            "(created when absent), labelled RUN (e.g. a commit id).\n",
            DEFAULT_ESTIMATORS, DEFAULT_BOOTSTRAP, ORL_OPE_RUN_MIN_ESS);
}

/* prints the report (to stdout or -o), records it, and returns the gate's exit code */
static int output(const orl_report *report, orl_report_format format, const char *out_path,
                  const char *record, const char *label) {
    orl_status st;
    if (out_path) {
        if ((st = orl_report_write(report, format, out_path))) return cli_fail("ope", st);
    } else {
        char *text = NULL;
        if ((st = orl_report_render(report, format, &text))) return cli_fail("ope", st);
        fputs(text, stdout);
        free(text);
    }
    if (record && (st = orl_report_record(report, record, label, NULL))) return cli_fail("ope", st);
    for (int32_t g = 0; g < report->n_gates; g++)
        if (!report->gates[g].passed)
            fprintf(stderr, "orl ope: gate failed: %s: %s\n", report->gates[g].policy,
                    report->gates[g].message);
    return orl_report_passed(report) ? CLI_EXIT_OK : CLI_EXIT_CHECK_FAILED;
}

int cmd_ope(int argc, char **argv) {
    const char *names[ORL_REPORT_MAX_POLICIES];
    int32_t n_policies = 0;
    const char *data = NULL, *est_list = DEFAULT_ESTIMATORS, *behavior = "logged";
    const char *out_path = NULL, *gate_name = NULL, *baseline = NULL, *record = NULL;
    const char *label = NULL, *format_name = "md";
    orl_ope_run_options opt;
    orl_ope_run_options_init(&opt);
    opt.bootstrap = DEFAULT_BOOTSTRAP;
    int64_t seed = 0, mb_rollouts = 1;
    const char *model_path = NULL;
    const char *model_sets[MAX_MODEL_SETS];
    int n_model_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = -1; /* >= 0: a number flag was parsed (0) or refused (its exit code) */
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--gamma") == 0) {
            rc = cli_parse_double("ope", a, v, 0.0, 1.0, &opt.gamma);
        } else if (strcmp(a, "--confidence") == 0) {
            rc = cli_parse_double("ope", a, v, 0.5, 1.0, &opt.confidence);
            if (rc == 0 && !(opt.confidence > 0.5 && opt.confidence < 1.0))
                return cli_usage_error("ope",
                                       "--confidence: expected a number in (0.5, 1), "
                                       "got '%s'",
                                       v);
        } else if (strcmp(a, "--fail-below") == 0) {
            rc = cli_parse_double("ope", a, v, -INFINITY, INFINITY, &opt.fail_below);
        } else if (strcmp(a, "--min-ess") == 0) {
            rc = cli_parse_double("ope", a, v, 0.0, INFINITY, &opt.min_ess);
        } else if (strcmp(a, "--return-range") == 0) {
            const char *v2 = i + 2 < argc ? argv[i + 2] : NULL;
            if (!v2) return cli_usage_error("ope", "--return-range needs two numbers LO HI");
            rc = cli_parse_double("ope", a, v, -INFINITY, INFINITY, &opt.return_range.lo);
            if (rc == 0)
                rc = cli_parse_double("ope", a, v2, -INFINITY, INFINITY, &opt.return_range.hi);
            if (rc == 0 && !(isfinite(opt.return_range.lo) && isfinite(opt.return_range.hi) &&
                             opt.return_range.lo < opt.return_range.hi))
                return cli_usage_error("ope", "--return-range: expected finite LO < HI, got %s %s",
                                       v, v2);
            opt.return_range.source = ORL_OPE_RANGE_SOURCE_USER;
            i++; /* the second value; the first is skipped below */
        } else if (strcmp(a, "--margin") == 0) {
            rc = cli_parse_double("ope", a, v, -INFINITY, INFINITY, &opt.margin);
        } else if (strcmp(a, "--seed") == 0) {
            rc = cli_parse_int("ope", a, v, 0, INT64_MAX, &seed);
        } else if (strcmp(a, "--bootstrap") == 0) {
            rc = cli_parse_int("ope", a, v, 2, 10000000, &opt.bootstrap);
        } else if (strcmp(a, "--mb-rollouts") == 0) {
            rc = cli_parse_int("ope", a, v, 1, 1000000, &mb_rollouts);
        } else if (strcmp(a, "--model") == 0 && v) {
            model_path = argv[++i];
            continue;
        } else if (strcmp(a, "--model-set") == 0 && v) {
            if (n_model_sets == MAX_MODEL_SETS)
                return cli_usage_error("ope", "too many --model-set options");
            model_sets[n_model_sets++] = argv[++i];
            continue;
        } else if (strcmp(a, "--fqe-steps") == 0) {
            rc = cli_parse_int("ope", a, v, 1, INT64_MAX, &opt.fqe_steps);
        } else if (a[0] == '-' && !v) {
            return cli_usage_error("ope", "unknown option '%s' (or its value is missing)", a);
        } else if (a[0] != '-') {
            if (n_policies == MAX_POLICIES)
                return cli_usage_error("ope", "at most %d policies", MAX_POLICIES);
            names[n_policies++] = a;
            continue;
        } else {
            const char *keys[] = {"--data",     "--estimators", "--behavior",
                                  "--format",   "-o",           "--estimator-gate",
                                  "--baseline", "--record",     "--label"};
            const char **vals[] = {&data,      &est_list, &behavior, &format_name, &out_path,
                                   &gate_name, &baseline, &record,   &label};
            int k = 0;
            while (k < 9 && strcmp(a, keys[k]) != 0) k++;
            if (k == 9)
                return cli_usage_error("ope", "unknown option '%s' (or its value is missing)", a);
            *vals[k] = argv[++i];
            continue;
        }
        if (rc) return rc;
        i++;
    }
    opt.seed = (uint64_t)seed;
    opt.mb_rollouts = (int32_t)mb_rollouts;
    if (model_path && n_model_sets)
        return cli_usage_error("ope", "--model-set fits a model: not with --model MODEL.h5");
    /* the model fit's settings: the defaults with the run's seed, then --model-set */
    orl_dynamics_config mb_config = orl_dynamics_config_defaults();
    mb_config.seed = opt.seed;
    for (int k = 0; k < n_model_sets; k++) {
        const char *eq = strchr(model_sets[k], '=');
        char key[64];
        size_t len = eq ? (size_t)(eq - model_sets[k]) : 0;
        if (!eq || len == 0 || len >= sizeof key)
            return cli_usage_error("ope", "--model-set: expected key=value, got '%s'",
                                   model_sets[k]);
        memcpy(key, model_sets[k], len);
        key[len] = '\0';
        double value = 0.0;
        if (cli_parse_double("ope", key, eq + 1, -1e300, 1e300, &value)) return CLI_EXIT_BAD_INPUT;
        if (orl_dynamics_config_set(&mb_config, key, value))
            return cli_usage_error("ope", "--model-set: %s", orl_error_message());
    }
    opt.mb_config = &mb_config;
    if (strcmp(behavior, "logged") != 0 && strcmp(behavior, "estimated") != 0)
        return cli_usage_error("ope", "--behavior is logged or estimated, got '%s'", behavior);
    if (n_policies == 0) return cli_usage_error("ope", "POLICY missing");
    if (!data) return cli_usage_error("ope", "--data IN missing");
    if (!isnan(opt.margin) && !baseline)
        return cli_usage_error("ope", "--margin needs --baseline POLICY");
    if (label && !record) return cli_usage_error("ope", "--label needs --record RESULTS.sqlite");
    orl_report_format format;
    if (orl_report_format_parse(format_name, &format))
        return cli_usage_error("ope", "--format is md, json or junit, got '%s'", format_name);
    if (orl_ope_run_estimators_parse(est_list, strcmp(behavior, "estimated") == 0, &opt))
        return cli_usage_error("ope", "%s", orl_error_message());
    if (gate_name) {
        int found = 0;
        for (int32_t k = 0; k < opt.n_estimators; k++)
            found |= strcmp(opt.estimators[k].name, gate_name) == 0;
        if (!found)
            return cli_usage_error("ope", "--estimator-gate %s is not among --estimators %s",
                                   gate_name, est_list);
        snprintf(opt.gate_estimator, sizeof opt.gate_estimator, "%s", gate_name);
    }

    /* the dataset, then the policies, each checked before any work */
    orl_dataset *ds = NULL;
    orl_progress progress = cli_progress();
    orl_status st = orl_dataset_read(data, NULL, &progress, &ds);
    cli_progress_done();
    if (st) return cli_fail("ope", st);
    orl_policy *loaded[ORL_REPORT_MAX_POLICIES] = {NULL};
    orl_report *report = NULL;
    orl_dynamics *model = NULL;
    int code = CLI_EXIT_OK;
    if (orl_ope_run_check(ds, data, &opt)) {
        code = cli_usage_error("ope", "%s", orl_error_message());
        goto done;
    }
    orl_ope_environment env;
    orl_eval_ope_environment(ds->h.env_id, &env);
    opt.environment = &env;
    if (baseline) {
        opt.baseline = n_policies;
        names[n_policies++] = baseline;
    }
    for (int32_t i = 0; i < n_policies && !st; i++) {
        st = orl_policy_open(names[i], &loaded[i]);
        if (!st)
            st = orl_policy_check_dims(loaded[i], ds->h.obs_dim, ds->h.act_dim, ds->h.action_kind,
                                       ds->h.n_actions);
    }
    if (!st && model_path) {
        st = orl_dynamics_load(model_path, &model);
        if (!st) st = orl_dynamics_check_dims(model, &ds->h, model_path);
        opt.mb_model = model;
    }
    if (!st && !(report = malloc(sizeof *report))) st = orl_error_set(ORL_ERR_NOMEM, "ope: report");
    progress = cli_progress();
    if (!st)
        st = orl_ope_run(ds, data, (const orl_policy *const *)loaded, names, n_policies, &opt,
                         &progress, report);
    cli_progress_done();
    code = st ? cli_fail("ope", st) : output(report, format, out_path, record, label);
done:
    for (int32_t i = 0; i < n_policies; i++) orl_policy_free(loaded[i]);
    orl_dynamics_free(model);
    free(report);
    orl_dataset_free(ds);
    return code;
}
