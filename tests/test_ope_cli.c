/* Tests of the tabular softmax policy (tabular_policy.h), OPE reports (report.h), the OPE
 * pipeline (ope_run.h: orl_ope_run on GridWorld against the data's returns and the DP value),
 * the one policy loader (eval.h: orl_policy_open, every verb with every policy type) and the
 * `orl policy` / `orl ope` verbs, run as the built program ORL_BINARY_DIR/orl.
 *
 * The dataset: GridWorld-4x4 from orl_gen with the builtin random behaviour, 200 episodes,
 * seed 7 (exact logged probabilities). Evaluated: the fixtures' p2 (and p1 as a baseline).
 * Scratch files go under ORL_BINARY_DIR/tmp-ope-cli/, one name per test (tests run in
 * parallel). Bootstrap seeds are the reports' (0 unless named). */
#include "orl/eval.h"
#include "orl/orl.h"
#include "orl/report.h"
#include "orl/tabular.h"
#include "orl/tabular_policy.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-ope-cli"
#define ORL_PROGRAM ORL_BINARY_DIR "/orl"
#define P1_PATH     ORL_FIXTURES_DIR "/ris-gridworld/p1.txt"
#define P2_PATH     ORL_FIXTURES_DIR "/ris-gridworld/p2.txt"
#define GW          "GridWorld-4x4"

static void scratch(void) {
    mkdir(SCRATCH_DIR, 0755);
}

static const char *path_of(char *buf, size_t cap, const char *test, const char *name) {
    snprintf(buf, cap, "%s/%s-%s", SCRATCH_DIR, test, name);
    return buf;
}

/* runs the orl program with args; stdout to out_path, stderr to err_path; the exit status */
static int run_orl(const char *args, const char *out_path, const char *err_path) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", ORL_PROGRAM, args, out_path, err_path);
    int rc = system(cmd);
    cr_assert(rc != -1 && WIFEXITED(rc), "%s did not run", cmd);
    return WEXITSTATUS(rc);
}

/* the whole file (at most 1 MiB), NUL-terminated; free it */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

/* the GridWorld dataset (random behaviour, 200 episodes, seed 7) at path */
static void gen_gridworld(const char *path) {
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = GW;
    opt.behavior = "random";
    opt.episodes = 200;
    opt.seed = 7;
    cr_assert_eq(orl_gen(&opt, path, NULL), ORL_OK, "gen: %s", orl_error_message());
}

/* the tabular policy file of a fixture table, made by `orl policy from-table` */
static void from_table(const char *table, const char *out, const char *test) {
    char args[4096], o[1024], e[1024];
    snprintf(args, sizeof args, "policy from-table '%s' --env %s -o '%s'", table, GW, out);
    int rc = run_orl(args, path_of(o, sizeof o, test, "from-table.out"),
                     path_of(e, sizeof e, test, "from-table.err"));
    cr_assert_eq(rc, 0, "from-table exit %d", rc);
}

/* theta (60) of a fixture table, read plainly */
static void read_theta(const char *path, double *theta) {
    FILE *f = fopen(path, "r");
    cr_assert(f);
    for (int i = 0; i < 60; i++) cr_assert_eq(fscanf(f, "%lf", &theta[i]), 1);
    fclose(f);
}

static orl_policy *load_tabular(const char *path) {
    const orl_policy_ops *ops[1] = {orl_tabular_policy_ops()};
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_load_with(path, ops, 1, &p), ORL_OK, "%s", orl_error_message());
    return p;
}

/* ---- the tabular policy ---- */

Test(tabular_policy, from_table_matches_softmax_and_dp_value) {
    scratch();
    const char *tables[2] = {P1_PATH, P2_PATH};
    for (int i = 0; i < 2; i++) {
        char out[1024], test[32];
        snprintf(test, sizeof test, "fromtable%d", i + 1);
        path_of(out, sizeof out, test, "policy.h5");
        from_table(tables[i], out, test);
        orl_policy *p = load_tabular(out);
        cr_assert(orl_tabular_policy_is(p));
        cr_assert_eq(p->obs_dim, 16);
        cr_assert_eq(p->n_actions, 4);
        cr_assert_str_eq(p->ops->type, "tabular");

        /* closed form: softmax over theta[a*15 + s] for the 15 given states */
        double theta[60];
        read_theta(tables[i], theta);
        orl_policy_work *w = NULL;
        cr_assert_eq(orl_policy_work_create(p, 16, &w), ORL_OK);
        float obs[16 * 16] = {0};
        for (int s = 0; s < 16; s++) obs[s * 16 + s] = 1.0f;
        for (int a = 0; a < 4; a++) {
            int32_t act[16];
            double logp[16];
            for (int s = 0; s < 16; s++) act[s] = a;
            cr_assert_eq(orl_policy_logp(p, w, obs, 16, NULL, act, logp), ORL_OK);
            for (int s = 0; s < 15; s++) {
                double z = 0.0;
                for (int b = 0; b < 4; b++) z += exp(theta[b * 15 + s]);
                double want = exp(theta[a * 15 + s]) / z;
                cr_assert(fabs(exp(logp[s]) - want) < 1e-6 * (1.0 + want),
                          "p%d state %d action %d: %.9g, closed form %.9g", i + 1, s, a,
                          exp(logp[s]), want);
            }
            /* the terminal cell left out of the table: uniform */
            cr_assert(fabs(exp(logp[15]) - 0.25) < 1e-12);
        }
        orl_policy_work_free(w);

        /* the DP value the tabular tests report (from the table's probabilities) */
        double probs[15 * 4], table_value, policy_value;
        cr_assert_eq(orl_tabular_softmax_from_file(tables[i], 15, 4, probs), ORL_OK);
        cr_assert_eq(orl_tabular_table_value(GW, probs, 15, 1.0, 0, &table_value), ORL_OK);
        cr_assert_eq(orl_tabular_policy_value(GW, p, 1.0, 0, &policy_value), ORL_OK, "%s",
                     orl_error_message());
        cr_assert(fabs(policy_value - table_value) < 1e-4 * (1.0 + fabs(table_value)),
                  "p%d: policy file %.9f, table %.9f", i + 1, policy_value, table_value);
        orl_policy_free(p);
    }
}

Test(tabular_policy, table_rows_checked) {
    scratch();
    char path[1024];
    /* 16 rows (every cell) is accepted, 14 rows is not (state 14 is not absorbing), nor a
     * count that is not a multiple of the actions, nor a non-number */
    const struct {
        int count;
        const char *extra;
        orl_status want;
    } cases[] = {{64, "", ORL_OK},
                 {56, "", ORL_ERR_FORMAT},
                 {61, "", ORL_ERR_FORMAT},
                 {59, "x", ORL_ERR_FORMAT},
                 {60, "", ORL_OK}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[32];
        snprintf(name, sizeof name, "table%zu.txt", c);
        path_of(path, sizeof path, "rows", name);
        FILE *f = fopen(path, "w");
        cr_assert(f);
        for (int i = 0; i < cases[c].count; i++) fprintf(f, "%g\n", 0.1 * (i % 7));
        fprintf(f, "%s\n", cases[c].extra);
        fclose(f);
        orl_policy *p = NULL;
        int32_t rows = 0;
        orl_status st = orl_tabular_policy_from_file(path, GW, &p, &rows);
        cr_assert_eq(st, cases[c].want, "case %zu: %s", c, orl_error_message());
        if (st == ORL_OK) cr_assert_eq(rows, cases[c].count / 4);
        orl_policy_free(p);
    }
    cr_assert_eq(orl_tabular_policy_from_file(P1_PATH, "CartPole-v1", &(orl_policy *){NULL}, NULL),
                 ORL_ERR_UNSUPPORTED);
}

Test(tabular_policy, non_one_hot_observation_is_input_error) {
    double theta[2 * 3] = {0, 1, 2, 3, 4, 5};
    orl_policy *p = NULL;
    cr_assert_eq(orl_tabular_policy_create(3, 2, theta, NULL, NULL, 3, &p), ORL_OK);
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, 1, &w), ORL_OK);
    float obs[3] = {0.5f, 0.5f, 0.0f};
    int32_t a = 0;
    double lp;
    cr_assert_eq(orl_policy_logp(p, w, obs, 1, NULL, &a, &lp), ORL_ERR_INPUT);
    float one_hot[3] = {0.0f, 1.0f, 0.0f};
    cr_assert_eq(orl_policy_logp(p, w, one_hot, 1, NULL, &a, &lp), ORL_OK);
    /* state 1: theta (1, 4) for actions (0, 1) */
    cr_assert(fabs(lp - (1.0 - log(exp(1.0) + exp(4.0)))) < 1e-6);
    orl_policy_work_free(w);
    orl_policy_free(p);
}

Test(policy_cli, info_prints_type_and_shapes) {
    scratch();
    char pol[1024], o[1024], e[1024], args[4096];
    path_of(pol, sizeof pol, "info", "p2.h5");
    from_table(P2_PATH, pol, "info");
    snprintf(args, sizeof args, "policy info '%s'", pol);
    cr_assert_eq(
        run_orl(args, path_of(o, sizeof o, "info", "out"), path_of(e, sizeof e, "info", "err")), 0);
    char *text = slurp(o);
    cr_assert(strstr(text, "tabular"), "%s", text);
    cr_assert(strstr(text, "obs_dim 16"), "%s", text);
    cr_assert(strstr(text, "discrete actions (4)"), "%s", text);
    cr_assert(strstr(text, "parameters     64"), "%s", text);
    free(text);
    snprintf(args, sizeof args, "policy info '%s' --json", pol);
    cr_assert_eq(run_orl(args, o, e), 0);
    text = slurp(o);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert(j, "%s", err.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "type")), "tabular");
    cr_assert_eq(json_integer_value(json_object_get(j, "obs_dim")), 16);
    cr_assert_eq(json_integer_value(json_object_get(j, "n_actions")), 4);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "config"), "rows")), 15);
    json_decref(j);
    free(text);
    /* a missing file is bad input */
    cr_assert_eq(run_orl("policy info /nonexistent/policy.h5", o, e), 2);
}

/* ---- orl ope ---- */

/* a dataset and the p1/p2 policy files for a test */
typedef struct fixture {
    char data[1024], p1[1024], p2[1024], out[1024], err[1024];
} fixture;

static void setup_fixture(fixture *f, const char *test) {
    scratch();
    path_of(f->data, sizeof f->data, test, "gw.h5");
    path_of(f->p1, sizeof f->p1, test, "p1.h5");
    path_of(f->p2, sizeof f->p2, test, "p2.h5");
    path_of(f->out, sizeof f->out, test, "stdout");
    path_of(f->err, sizeof f->err, test, "stderr");
    gen_gridworld(f->data);
    from_table(P1_PATH, f->p1, test);
    from_table(P2_PATH, f->p2, test);
}

/* a crude well-formedness check: every element opened is closed in order */
static int xml_well_formed(const char *s) {
    char stack[64][64];
    int depth = 0;
    const char *c = strstr(s, "?>");
    if (strncmp(s, "<?xml", 5) != 0 || !c) return 0;
    for (c += 2; (c = strchr(c, '<')) != NULL;) {
        const char *end = strchr(c, '>');
        if (!end) return 0;
        if (c[1] == '/') {
            size_t n = strcspn(c + 2, " >");
            if (depth == 0 || strncmp(stack[depth - 1], c + 2, n) != 0 ||
                stack[depth - 1][n] != '\0')
                return 0;
            depth--;
        } else if (end[-1] != '/') {
            size_t n = strcspn(c + 1, " >");
            if (depth == 64 || n >= 64) return 0;
            memcpy(stack[depth], c + 1, n);
            stack[depth++][n] = '\0';
        }
        c = end + 1;
    }
    return depth == 0;
}

Test(ope_cli, reports_in_three_formats) {
    fixture f;
    setup_fixture(&f, "formats");
    char args[8192], md[1024], js[1024], xml[1024];
    path_of(md, sizeof md, "formats", "report.md");
    path_of(js, sizeof js, "formats", "report.json");
    path_of(xml, sizeof xml, "formats", "report.xml");

    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis,pdis,fqe,wdr --seed 3 --bootstrap 100 -o '%s'",
             f.p2, f.data, md);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    char *text = slurp(md);
    cr_assert(strstr(text, "| estimator | estimate | 95% interval | lower bound | ESS |"), "%s",
              text);
    cr_assert(strstr(text, "| wis |") && strstr(text, "| wdr |"), "%s", text);
    cr_assert(strstr(text, "seed 3") && strstr(text, "bootstrap 100 resamples"), "%s", text);
    cr_assert(strstr(text, "confidence 0.95"), "%s", text);
    free(text);

    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis,pdis,fqe,wdr --format json -o '%s'", f.p2,
             f.data, js);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    text = slurp(js);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert(j, "%s: %s", err.text, text);
    cr_assert(fabs(json_real_value(json_object_get(j, "confidence")) - 0.95) < 1e-12);
    cr_assert_eq(json_integer_value(json_object_get(j, "episodes")), 200);
    cr_assert_eq(json_integer_value(json_object_get(j, "bootstrap")), 200);
    json_t *pol = json_array_get(json_object_get(j, "policies"), 0);
    json_t *rows = json_object_get(pol, "estimates");
    cr_assert_eq(json_array_size(rows), 4);
    /* tabular FQE on this data and the exact value are close; WDR is near FQE */
    double probs[15 * 4], truth;
    cr_assert_eq(orl_tabular_softmax_from_file(P2_PATH, 15, 4, probs), ORL_OK);
    cr_assert_eq(orl_tabular_table_value(GW, probs, 15, 1.0, 0, &truth), ORL_OK);
    for (size_t i = 0; i < 4; i++) {
        json_t *row = json_array_get(rows, i);
        double est = json_real_value(json_object_get(row, "estimate"));
        double lo = json_real_value(json_object_get(row, "lower"));
        double hi = json_real_value(json_object_get(row, "upper"));
        double lb = json_real_value(json_object_get(row, "lower_bound"));
        cr_assert(isfinite(est) && lo <= hi && isfinite(lb), "row %zu", i);
    }
    /* the IS rows' lower bound is the valid one on GridWorld's exact return range, which is
     * at or below the truth */
    json_t *range = json_object_get(j, "return_range");
    cr_assert_str_eq(json_string_value(json_object_get(range, "source")), "environment");
    double range_lo = json_real_value(json_object_get(range, "lo"));
    for (size_t i = 0; i < 2; i++) {
        double lb = json_real_value(json_object_get(json_array_get(rows, i), "lower_bound"));
        cr_assert(lb >= range_lo - 1e-9 && lb <= truth + 1e-9, "row %zu: %g", i, lb);
    }
    cr_assert(json_is_true(json_object_get(j, "passed")));
    json_decref(j);
    free(text);

    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis --format junit --fail-below -1e6 "
             "--baseline '%s' --margin 1e6 --min-ess 0 -o '%s'",
             f.p2, f.data, f.p1, xml);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    text = slurp(xml);
    cr_assert(xml_well_formed(text), "%s", text);
    /* one testcase per policy and check: fail-below and baseline for p2 */
    int cases = 0;
    for (const char *c = text; (c = strstr(c, "<testcase")) != NULL; c++) cases++;
    cr_assert_eq(cases, 2, "%s", text);
    cr_assert(strstr(text, "failures=\"0\""), "%s", text);
    free(text);

    /* the same gate with the default --min-ess: the random behaviour leaves an ESS of about 1
     * for p2, so both checks fail for want of evidence, in every format */
    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis --format junit --fail-below -1e6 "
             "--baseline '%s' --margin 1e6 -o '%s'",
             f.p2, f.data, f.p1, xml);
    cr_assert_eq(run_orl(args, f.out, f.err), 1);
    text = slurp(xml);
    cr_assert(xml_well_formed(text), "%s", text);
    cr_assert(strstr(text, "failures=\"2\"") && strstr(text, "insufficient evidence: ESS ") &&
                  strstr(text, "type=\"insufficient-evidence\""),
              "%s", text);
    free(text);
}

/* the WIS lower bound of p2 from a JSON report */
static double gate_value(const fixture *f, const char *extra, int *rc) {
    char args[8192];
    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis --format json --min-ess 0 %s", f->p2,
             f->data, extra);
    *rc = run_orl(args, f->out, f->err);
    char *text = slurp(f->out);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert(j, "%s: %s", err.text, text);
    json_t *row = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "policies"), 0), "estimates"), 0);
    double lb = json_real_value(json_object_get(row, "lower_bound"));
    json_decref(j);
    free(text);
    return lb;
}

Test(ope_cli, gate_fail_below) {
    fixture f;
    setup_fixture(&f, "gate");
    int rc;
    double lb = gate_value(&f, "", &rc);
    cr_assert_eq(rc, 0);
    cr_assert(isfinite(lb));
    char extra[256];
    snprintf(extra, sizeof extra, "--fail-below %.17g", lb - 1000.0);
    gate_value(&f, extra, &rc);
    cr_assert_eq(rc, 0, "lower bound %g, fail-below far below", lb);
    snprintf(extra, sizeof extra, "--fail-below %.17g", lb + 1000.0);
    gate_value(&f, extra, &rc);
    cr_assert_eq(rc, 1, "lower bound %g, fail-below far above", lb);
    char *err = slurp(f.err);
    cr_assert(strstr(err, "gate failed"), "%s", err);
    free(err);
    /* the gating estimator is named and must be listed */
    gate_value(&f, "--estimator-gate wis --fail-below -1e9", &rc);
    cr_assert_eq(rc, 0);
}

/* no pass without evidence: with the random behaviour p2's ESS is about 1 of 200 episodes, so
 * a gate whose threshold its lower bound clears still fails, and says why on the Markdown
 * report's first line, in JSON and on stderr; --min-ess 0 turns the check off; a bad --min-ess
 * or --return-range is bad input */
Test(ope_cli, gate_fails_on_low_ess) {
    fixture f;
    setup_fixture(&f, "evidence");
    char args[8192];
    snprintf(args, sizeof args, "ope '%s' --data '%s' --estimators wis --fail-below -1e9", f.p2,
             f.data);
    cr_assert_eq(run_orl(args, f.out, f.err), 1);
    char *text = slurp(f.out);
    const char *first = "**Gate: FAILED — insufficient evidence: ESS 1.0 < 5**";
    cr_assert_eq(strncmp(text, first, strlen(first)), 0, "%s", text);
    free(text);
    char *err = slurp(f.err);
    cr_assert(strstr(err, "insufficient evidence: ESS 1.0 < 5"), "%s", err);
    free(err);
    int rc; /* gate_value passes --min-ess 0: the check is off */
    gate_value(&f, "--fail-below -1e9", &rc);
    cr_assert_eq(rc, 0);
    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis --fail-below -1e9 --format json", f.p2,
             f.data);
    cr_assert_eq(run_orl(args, f.out, f.err), 1);
    text = slurp(f.out);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    cr_assert(j, "%s", jerr.text);
    json_t *g = json_array_get(json_object_get(j, "gates"), 0);
    cr_assert(json_is_true(json_object_get(g, "insufficient_evidence")), "%s", text);
    cr_assert(json_is_false(json_object_get(g, "passed")));
    cr_assert(json_real_value(json_object_get(g, "evidence")) < 5.0);
    cr_assert_eq(json_real_value(json_object_get(g, "min_evidence")), 5.0);
    cr_assert(strncmp(json_string_value(json_object_get(g, "message")),
                      "insufficient evidence: ESS ", 27) == 0);
    json_decref(j);
    free(text);
    /* a lower minimum lets it through */
    snprintf(args, sizeof args, "ope '%s' --data '%s' --estimators wis --fail-below -1e9 --min-ess 0.5",
             f.p2, f.data);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    /* a given return range is used and reported; bad ones are bad input */
    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis --return-range -2000 1000 --format json",
             f.p2, f.data);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    text = slurp(f.out);
    j = json_loads(text, 0, &jerr);
    cr_assert(j, "%s", jerr.text);
    json_t *range = json_object_get(j, "return_range");
    cr_assert_str_eq(json_string_value(json_object_get(range, "source")), "user");
    cr_assert_eq(json_real_value(json_object_get(range, "lo")), -2000.0);
    json_decref(j);
    free(text);
    const char *bad[] = {"--return-range 5 1", "--return-range 1", "--return-range 0 x",
                         "--min-ess -1"};
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        snprintf(args, sizeof args, "ope '%s' --data '%s' --estimators wis %s", f.p2, f.data,
                 bad[c]);
        cr_assert_eq(run_orl(args, f.out, f.err), 2, "%s", bad[c]);
    }
}

Test(ope_cli, gate_baseline_margin) {
    fixture f;
    setup_fixture(&f, "baseline");
    char args[8192];
    /* against itself: its lower bound is below its estimate, so a margin of 0 may fail, a
     * large margin passes, a large negative margin fails */
    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis --baseline '%s' --margin 1000 --min-ess 0",
             f.p2, f.data, f.p2);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis --baseline '%s' --margin -1000 --min-ess 0",
             f.p2, f.data, f.p1);
    cr_assert_eq(run_orl(args, f.out, f.err), 1);
    char *text = slurp(f.out);
    cr_assert(strstr(text, "**Gate: FAILED**"), "%s", text);
    cr_assert(strstr(text, "baseline"), "%s", text);
    free(text);
    /* --margin without --baseline is bad input */
    snprintf(args, sizeof args, "ope '%s' --data '%s' --margin 5", f.p2, f.data);
    cr_assert_eq(run_orl(args, f.out, f.err), 2);
}

Test(ope_cli, bad_input_exit_2_and_no_report) {
    fixture f;
    setup_fixture(&f, "bad");
    char report[1024], nologp[1024], args[8192];
    path_of(report, sizeof report, "bad", "report.md");
    path_of(nologp, sizeof nologp, "bad", "nologp.h5");
    remove(report); /* from an earlier run */

    /* the same data without logged probabilities */
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(f.data, NULL, NULL, &ds), ORL_OK);
    ds->h.has_logp = 0;
    for (int64_t t = 0; t < ds->n_steps; t++) ds->logp_b[t] = NAN;
    cr_assert_eq(orl_dataset_write(ds, nologp, NULL, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset_free(ds);

    const char *cases[][2] = {
        {"--estimators wis --behavior logged", "no logged behaviour probabilities"},
        {"--estimators wis,nope", "unknown estimator 'nope'"},
        {"--estimators wis --estimator-gate pdis --fail-below 0", "not among"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(args, sizeof args, "ope '%s' --data '%s' %s -o '%s'", f.p2, nologp, cases[c][0],
                 report);
        cr_assert_eq(run_orl(args, f.out, f.err), 2, "case %zu", c);
        char *err = slurp(f.err);
        cr_assert(strstr(err, cases[c][1]), "case %zu: %s", c, err);
        if (c == 0) cr_assert(strstr(err, "--behavior estimated"), "%s", err);
        free(err);
        cr_assert(!exists(report), "case %zu left %s", c, report);
    }
    /* dimensions: a CartPole behaviour on GridWorld data */
    snprintf(args, sizeof args, "ope builtin:CartPole-v1/random --data '%s' -o '%s'", f.data,
             report);
    cr_assert_eq(run_orl(args, f.out, f.err), 2);
    cr_assert(!exists(report));
    /* missing files */
    snprintf(args, sizeof args, "ope '%s' --data /nonexistent/gw.h5 -o '%s'", f.p2, report);
    cr_assert_eq(run_orl(args, f.out, f.err), 2);
    cr_assert(!exists(report));
    snprintf(args, sizeof args, "ope /nonexistent/p.h5 --data '%s' -o '%s'", f.data, report);
    cr_assert_eq(run_orl(args, f.out, f.err), 2);
    cr_assert(!exists(report));

    /* RIS stands in, and the report says why */
    snprintf(args, sizeof args,
             "ope '%s' --data '%s' --estimators wis,pdis --behavior estimated --format json -o "
             "'%s'",
             f.p2, nologp, report);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    char *text = slurp(report);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert(j, "%s", err.text);
    cr_assert(json_is_true(json_object_get(j, "ris_because_missing")), "%s", text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "behavior")), "estimated");
    json_decref(j);
    free(text);
}

/* rows of the results table, and a digest of the first n (id, time, estimate) */
static int64_t catalog_rows(const char *path, int64_t n, double *digest) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT id, time, estimate, label, policy, estimator, "
                                    "confidence, orl_version FROM results ORDER BY id",
                                    -1, &q, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    int64_t rows = 0;
    *digest = 0.0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (rows < n) {
            *digest += (double)sqlite3_column_int64(q, 0) + sqlite3_column_double(q, 2);
            cr_assert(sqlite3_column_text(q, 1) && sqlite3_column_text(q, 7));
        }
        rows++;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rows;
}

Test(ope_cli, record_appends_rows) {
    fixture f;
    setup_fixture(&f, "record");
    char db[1024], args[8192];
    path_of(db, sizeof db, "record", "results.sqlite");
    remove(db);
    snprintf(args, sizeof args,
             "ope '%s' '%s' --data '%s' --estimators wis,pdis --record '%s' --label run-1", f.p1,
             f.p2, f.data, db);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    double d1, d1_again;
    int64_t n1 = catalog_rows(db, 4, &d1);
    cr_assert_eq(n1, 4); /* 2 policies x 2 estimators */
    snprintf(args, sizeof args,
             "ope '%s' '%s' --data '%s' --estimators wis,pdis --record '%s' --label run-2 "
             "--seed 9",
             f.p1, f.p2, f.data, db);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    int64_t n2 = catalog_rows(db, 4, &d1_again);
    cr_assert_eq(n2, 8);
    cr_assert_eq(d1, d1_again, "old rows changed");
    /* a file that is not a database: bad input */
    char bogus[1024];
    path_of(bogus, sizeof bogus, "record", "bogus.sqlite");
    FILE *b = fopen(bogus, "w");
    cr_assert(b);
    fprintf(b, "this is not a database, just some text that is long enough to have a header\n");
    fclose(b);
    snprintf(args, sizeof args, "ope '%s' --data '%s' --estimators wis --record '%s'", f.p2, f.data,
             bogus);
    cr_assert_eq(run_orl(args, f.out, f.err), 2);
}

Test(ope_cli, help_and_junit_without_gates) {
    fixture f;
    setup_fixture(&f, "help");
    cr_assert_eq(run_orl("ope --help", f.out, f.err), 0);
    char *text = slurp(f.out);
    cr_assert(strstr(text, "--fail-below") && strstr(text, "ris-wis"), "%s", text);
    free(text);
    cr_assert_eq(run_orl("policy --help", f.out, f.err), 0);
    cr_assert_eq(run_orl("ope", f.out, f.err), 2);
    char args[8192];
    snprintf(args, sizeof args, "ope '%s' '%s' --data '%s' --estimators pdis --format junit", f.p1,
             f.p2, f.data);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    text = slurp(f.out);
    cr_assert(xml_well_formed(text), "%s", text);
    int cases = 0;
    for (const char *c = text; (c = strstr(c, "<testcase")) != NULL; c++) cases++;
    cr_assert_eq(cases, 2, "%s", text); /* one per policy */
    free(text);
}

/* RIS on continuous actions: a small Pendulum dataset (medium behaviour, 20 episodes, seed 5,
 * with logged probabilities), the behaviour estimated by the Gaussian MLP */
Test(ope_cli, estimated_behavior_continuous_actions) {
    scratch();
    char data[1024], report[1024], out[1024], err[1024], args[8192];
    path_of(data, sizeof data, "riscont", "pendulum.h5");
    path_of(report, sizeof report, "riscont", "report.json");
    path_of(out, sizeof out, "riscont", "stdout");
    path_of(err, sizeof err, "riscont", "stderr");
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = "Pendulum-v1";
    opt.behavior = "medium";
    opt.episodes = 20;
    opt.seed = 5;
    cr_assert_eq(orl_gen(&opt, data, NULL), ORL_OK, "gen: %s", orl_error_message());
    /* the range of the episodes' discounted returns (gamma 0.99, the dataset's): a weighted
     * estimate is a convex combination of them */
    double g_min = INFINITY, g_max = -INFINITY;
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(data, NULL, NULL, &ds), ORL_OK);
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        double g = 0.0, disc = 1.0;
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++, disc *= 0.99)
            g += disc * ds->rew[t];
        g_min = fmin(g_min, g);
        g_max = fmax(g_max, g);
    }
    orl_dataset_free(ds);

    snprintf(args, sizeof args,
             "ope builtin:Pendulum-v1/noise=0.3 --data '%s' --estimators wis,pdis,ris-wis "
             "--behavior estimated --bootstrap 50 --format json -o '%s'",
             data, report);
    int rc = run_orl(args, out, err);
    char *errtext = slurp(err);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, errtext);
    free(errtext);
    char *text = slurp(report);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    cr_assert(j, "%s: %s", jerr.text, text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "behavior")), "estimated");
    cr_assert(!json_is_true(json_object_get(j, "ris_because_missing")), "%s", text);
    cr_assert(strstr(json_string_value(json_object_get(j, "notes")), "Gaussian MLP"), "%s", text);
    json_t *rows = json_object_get(json_array_get(json_object_get(j, "policies"), 0), "estimates");
    cr_assert_eq(json_array_size(rows), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *row = json_array_get(rows, i);
        double est = json_real_value(json_object_get(row, "estimate"));
        cr_assert(isfinite(est), "row %zu: %g", i, est);
        cr_assert(json_is_true(json_object_get(row, "behavior_estimated")), "row %zu", i);
        /* wis and ris-wis (rows 0 and 2) are weighted; pdis is not bounded by the returns
           (200 steps of continuous-action ratios: its weights can be astronomically large) */
        if (i != 1)
            cr_assert(est >= g_min - 1e-6 && est <= g_max + 1e-6, "row %zu: %g not in [%g, %g]", i,
                      est, g_min, g_max);
    }
    json_decref(j);
    free(text);

    /* Markdown says so too */
    snprintf(args, sizeof args,
             "ope builtin:Pendulum-v1/noise=0.3 --data '%s' --estimators ris-pdis --bootstrap 20",
             data);
    cr_assert_eq(run_orl(args, out, err), 0);
    text = slurp(out);
    cr_assert(strstr(text, "estimated") && strstr(text, "Gaussian MLP"), "%s", text);
    free(text);
}

/* ---- the report model, without the program ---- */

Test(report, render_escapes_and_gate) {
    orl_report *r = malloc(sizeof *r);
    orl_report_init(r);
    snprintf(r->dataset, sizeof r->dataset, "a|b<c>.h5");
    r->confidence = 0.9;
    r->n_policies = 1;
    orl_report_policy *p = &r->policies[0];
    snprintf(p->name, sizeof p->name, "pol&\"x\"");
    p->hc_t_lower = p->hc_bernstein_lower = NAN;
    p->n_rows = 1;
    snprintf(p->rows[0].estimator, sizeof p->rows[0].estimator, "wis");
    p->rows[0].estimate = 1.5;
    p->rows[0].lower = p->rows[0].upper = p->rows[0].lower_bound = NAN;
    p->rows[0].ess = NAN;
    cr_assert(orl_report_passed(r));
    r->n_gates = 1;
    snprintf(r->gates[0].policy, sizeof r->gates[0].policy, "pol&\"x\"");
    snprintf(r->gates[0].name, sizeof r->gates[0].name, "fail-below");
    snprintf(r->gates[0].message, sizeof r->gates[0].message, "1 < 2 & so on");
    r->gates[0].passed = 0;
    cr_assert(!orl_report_passed(r));
    char *text = NULL;
    cr_assert_eq(orl_report_render(r, ORL_REPORT_FORMAT_JUNIT, &text), ORL_OK);
    cr_assert(xml_well_formed(text), "%s", text);
    cr_assert(strstr(text, "1 &lt; 2 &amp; so on"), "%s", text);
    free(text);
    cr_assert_eq(orl_report_render(r, ORL_REPORT_FORMAT_MARKDOWN, &text), ORL_OK);
    cr_assert(strstr(text, "a\\|b<c>.h5"), "%s", text);
    cr_assert(strstr(text, "| wis | 1.5 | — |"), "%s", text);
    free(text);
    cr_assert_eq(orl_report_render(r, ORL_REPORT_FORMAT_JSON, &text), ORL_OK);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert(j, "%s", err.text);
    cr_assert(json_is_null(json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(j, "policies"), 0), "estimates"), 0),
        "lower")));
    json_decref(j);
    free(text);
    orl_report_format fmt;
    cr_assert_eq(orl_report_format_parse("junit", &fmt), ORL_OK);
    cr_assert_eq(fmt, ORL_REPORT_FORMAT_JUNIT);
    cr_assert_eq(orl_report_format_parse("xml", &fmt), ORL_ERR_INPUT);
    free(r);
}

/* ---- the one policy loader (orl_policy_open) through every verb ---- */

/* the reproduction of the GridWorld study from the command line: a tabular policy from
 * a table, then a dataset logged with it; the logged log-probabilities are the policy's */
Test(policy_open, gen_logs_a_tabular_policy_file) {
    scratch();
    char pol[1024], data[1024], o[1024], e[1024], args[4096];
    path_of(pol, sizeof pol, "gentab", "p1.h5");
    path_of(data, sizeof data, "gentab", "data.h5");
    path_of(o, sizeof o, "gentab", "stdout");
    path_of(e, sizeof e, "gentab", "stderr");
    snprintf(args, sizeof args,
             "policy from-table '%s' --env " GW " -o '%s' >/dev/null && '%s' gen --env " GW
             " --behavior '%s' --episodes 30 --seed 5 -o '%s'",
             P1_PATH, pol, ORL_PROGRAM, pol, data);
    int rc = run_orl(args, o, e);
    char *err = slurp(e);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    free(err);

    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(data, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->n_episodes, 30);
    cr_assert(ds->h.has_logp);
    cr_assert(strstr(ds->h.behavior, "p1.h5"), "%s", ds->h.behavior);
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_open(pol, &p), ORL_OK, "%s", orl_error_message());
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, 1, &w), ORL_OK);
    for (int64_t t = 0; t < ds->n_steps; t++) {
        double lp;
        cr_assert_eq(orl_policy_logp(p, w, ds->obs + t * 16, 1, NULL, &ds->act_idx[t], &lp),
                     ORL_OK);
        cr_assert(fabs(lp - (double)ds->logp_b[t]) < 1e-6, "step %lld: %g vs %g", (long long)t, lp,
                  (double)ds->logp_b[t]);
    }
    orl_policy_work_free(w);
    orl_policy_free(p);
    orl_dataset_free(ds);
}

Test(policy_open, every_verb_takes_every_policy_type, .timeout = 300) {
    fixture f;
    setup_fixture(&f, "everytype");
    char mlp[1024], qpol[1024], behav[1024], gen_out[1024], args[8192];
    path_of(mlp, sizeof mlp, "everytype", "mlp.h5");
    path_of(qpol, sizeof qpol, "everytype", "argmax_q.h5");
    path_of(behav, sizeof behav, "everytype", "builtin.h5");
    path_of(gen_out, sizeof gen_out, "everytype", "gen.h5");
    /* an MLP policy (BC, categorical head) and a saved builtin behaviour */
    snprintf(args, sizeof args, "train --algo bc --steps 20 --data '%s' -o '%s'", f.data, mlp);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    /* an argmax-Q policy (discrete CQL), declared softmax so that IS-type estimators score it */
    snprintf(args, sizeof args,
             "train --algo cql --steps 20 --set hidden=16 --set policy_mode=softmax --data '%s' "
             "-o '%s'",
             f.data, qpol);
    cr_assert_eq(run_orl(args, f.out, f.err), 0);
    orl_policy *b = NULL;
    cr_assert_eq(orl_policy_open("builtin:" GW "/medium", &b), ORL_OK);
    cr_assert_eq(orl_policy_save(b, behav), ORL_OK, "%s", orl_error_message());
    orl_policy_free(b);

    const char *names[5] = {f.p1, mlp, behav, "builtin:" GW "/medium", qpol};
    const char *types[5] = {"tabular", "mlp", "builtin", "builtin", "argmax_q"};
    for (int i = 0; i < 5; i++) {
        orl_policy *p = NULL;
        cr_assert_eq(orl_policy_open(names[i], &p), ORL_OK, "%s: %s", names[i],
                     orl_error_message());
        cr_assert_str_eq(p->ops->type, types[i]);
        orl_policy_free(p);
        const char *verbs[4] = {"gen --env " GW " --episodes 3 -o '%3$s' --behavior '%1$s'",
                                "eval '%1$s' --env " GW " --episodes 2",
                                "policy info '%1$s' --json",
                                "ope '%1$s' --data '%2$s' --estimators wis,fqe,wdr"};
        for (int v = 0; v < 4; v++) {
            char fmt[256];
            snprintf(fmt, sizeof fmt, "%s", verbs[v]);
            snprintf(args, sizeof args, fmt, names[i], f.data, gen_out);
            int rc = run_orl(args, f.out, f.err);
            char *err = slurp(f.err);
            cr_assert_eq(rc, 0, "orl %s: exit %d: %s", args, rc, err);
            free(err);
        }
    }
}

/* an implementation nobody registered, to write a file of an unknown policy_type */
static orl_policy_ops unknown_ops;

Test(policy_open, unknown_type_names_file_and_type) {
    fixture f;
    setup_fixture(&f, "unknowntype");
    char path[1024];
    path_of(path, sizeof path, "unknowntype", "bcq.h5");
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_open(f.p1, &p), ORL_OK);
    unknown_ops = *p->ops;
    unknown_ops.type = "future_type"; /* bcq is known since issue 11 */
    const orl_policy_ops *own = p->ops;
    p->ops = &unknown_ops;
    cr_assert_eq(orl_policy_save(p, path), ORL_OK, "%s", orl_error_message());
    p->ops = own;
    orl_policy_free(p);

    cr_assert_eq(orl_policy_open(path, &p), ORL_ERR_UNSUPPORTED);
    cr_assert_null(p);
    const char *msg = orl_error_message();
    cr_assert(strstr(msg, path) && strstr(msg, "'future_type'") &&
                  strstr(msg, "known types: mlp, builtin, tabular"),
              "%s", msg);
    /* every verb says the same, exit 2 */
    const char *verbs[4] = {"gen --env " GW " --episodes 3 -o /dev/null --behavior '%s'",
                            "eval '%s' --env " GW, "policy info '%s'",
                            "ope '%s' --data '%s' --estimators wis"};
    for (int v = 0; v < 4; v++) {
        char args[8192];
        snprintf(args, sizeof args, verbs[v], path, f.data);
        cr_assert_eq(run_orl(args, f.out, f.err), 2, "orl %s", args);
        char *err = slurp(f.err);
        cr_assert(strstr(err, path) && strstr(err, "unknown type 'future_type'"), "orl %s: %s",
                  args, err);
        free(err);
    }
    cr_assert_eq(orl_policy_type_count(), 6);
    cr_assert_str_eq(orl_policy_type_name(2), "tabular");
    cr_assert_str_eq(orl_policy_type_name(3), "argmax_q");
    cr_assert_str_eq(orl_policy_type_name(4), "bcq");
    cr_assert_str_eq(orl_policy_type_name(5), "bcq_discrete");
    cr_assert_null(orl_policy_type_name(6));
}

/* ---- orl_ope_run ---- */

/* On-policy data (GridWorld logged with p1, 2000 episodes, seed 3): every ratio is 1 (up to the
 * float32 rounding of the logged log-probabilities), so IS, PDIS, WIS and WPDIS are the mean
 * discounted return of the data; exact tabular FQE (finite horizon, deterministic dynamics,
 * the data covers p1's reachable pairs) is the DP value, and DR on it too. */
Test(ope_run, on_policy_gridworld_matches_returns_and_dp_value, .timeout = 120) {
    fixture f;
    setup_fixture(&f, "oprun");
    char data[1024];
    path_of(data, sizeof data, "oprun", "onpolicy.h5");
    orl_gen_options g;
    memset(&g, 0, sizeof g);
    g.env_id = GW;
    g.behavior = f.p1;
    g.episodes = 2000;
    g.seed = 3;
    cr_assert_eq(orl_gen(&g, data, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(data, NULL, NULL, &ds), ORL_OK);
    orl_policy *pol[2] = {NULL, NULL};
    cr_assert_eq(orl_policy_open(f.p1, &pol[0]), ORL_OK);
    cr_assert_eq(orl_policy_open(f.p2, &pol[1]), ORL_OK);
    const char *names[2] = {"p1", "p2"};

    orl_ope_environment env;
    orl_eval_ope_environment(GW, &env);
    cr_assert(env.registered && env.tabular && env.n_states == 16 && env.n_actions == 4);
    orl_ope_run_options opt;
    orl_ope_run_options_init(&opt);
    cr_assert_eq(orl_ope_run_estimators_parse("is,pdis,wis,wpdis,fqe,dr,wdr", 0, &opt), ORL_OK);
    opt.gamma = 1.0;
    opt.bootstrap = 50;
    opt.environment = &env;
    opt.fail_below = -1e9;
    opt.baseline = 1;
    opt.margin = 1e9;
    orl_report *r = malloc(sizeof *r);
    cr_assert_eq(orl_ope_run(ds, data, (const orl_policy *const *)pol, names, 2, &opt, NULL, r),
                 ORL_OK, "%s", orl_error_message());

    /* the data's mean return and the DP value of p1 over the time limit */
    double mean = 0.0, truth;
    for (int64_t e = 0; e < ds->n_episodes; e++)
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++)
            mean += (double)ds->rew[t] / (double)ds->n_episodes;
    cr_assert_eq(orl_tabular_policy_value(GW, pol[0], 1.0, env.max_episode_steps, &truth), ORL_OK);
    cr_log_info("on-policy mean return %.6f, DP value %.6f", mean, truth);

    cr_assert_eq(r->n_policies, 2);
    cr_assert_str_eq(r->policies[0].type, "tabular");
    cr_assert(!r->policies[0].is_baseline && r->policies[1].is_baseline);
    cr_assert_eq(r->policies[0].n_rows, 7);
    cr_assert_str_eq(r->gate_estimator, "wdr");
    cr_assert_str_eq(r->behavior, "logged");
    const orl_report_row *row = r->policies[0].rows;
    for (int i = 0; i < 4; i++) {
        cr_assert(fabs(row[i].estimate - mean) < 1e-4 * (1.0 + fabs(mean)), "%s %.9g vs %.9g",
                  row[i].estimator, row[i].estimate, mean);
        cr_assert(row[i].lower <= row[i].estimate + 1e-9 && row[i].estimate <= row[i].upper + 1e-9);
        cr_assert(fabs(row[i].ess - 2000.0) < 1.0, "ESS %g", row[i].ess);
    }
    for (int i = 4; i < 7; i++)
        cr_assert(fabs(row[i].estimate - truth) < 1e-4 * (1.0 + fabs(truth)), "%s %.9g vs DP %.9g",
                  row[i].estimator, row[i].estimate, truth);
    cr_assert_str_eq(row[4].estimator, "fqe");
    cr_assert_eq(row[4].warnings[0], '\0', "exact tabular FQE: %s", row[4].warnings);
    /* the gates: p1 against -1e9 and against p2's estimate minus 1e9; both pass */
    cr_assert_eq(r->n_gates, 2);
    cr_assert(orl_report_passed(r));

    /* one IS row is the estimator of ope.h on the logged ratios, bit for bit */
    orl_ope_ratios *ratios = NULL;
    cr_assert_eq(orl_ope_ratios_compute(ds, pol[1], NULL, &ratios), ORL_OK);
    orl_ope_options o;
    orl_ope_options_init(&o);
    orl_ope_estimate est;
    cr_assert_eq(orl_ope_estimate_compute(ratios, ORL_OPE_ESTIMATOR_WIS, &o, &est), ORL_OK);
    cr_assert_eq(memcmp(&est.value, &r->policies[1].rows[2].estimate, sizeof est.value), 0);
    orl_ope_ratios_free(ratios);

    /* the same run again: the same bits; a gate above the truth fails; without bootstrap no
     * intervals */
    orl_report *r2 = malloc(sizeof *r2);
    opt.fail_below = truth + 10.0;
    opt.bootstrap = 0;
    cr_assert_eq(orl_ope_run(ds, data, (const orl_policy *const *)pol, names, 2, &opt, NULL, r2),
                 ORL_OK);
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(memcmp(&r->policies[0].rows[i].estimate, &r2->policies[0].rows[i].estimate,
                            sizeof(double)),
                     0);
        cr_assert(isnan(r2->policies[0].rows[i].lower));
    }
    cr_assert(!orl_report_passed(r2));

    /* bad inputs: no logged probabilities for wis (RIS works), a policy of another shape */
    ds->h.has_logp = 0;
    opt.baseline = -1;
    opt.fail_below = NAN;
    cr_assert_eq(orl_ope_run(ds, data, (const orl_policy *const *)pol, names, 1, &opt, NULL, r2),
                 ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "no logged behaviour probabilities"), "%s",
              orl_error_message());
    cr_assert_eq(orl_ope_run_estimators_parse("ris-wis,fqe", 0, &opt), ORL_OK);
    cr_assert_eq(orl_ope_run(ds, data, (const orl_policy *const *)pol, names, 1, &opt, NULL, r2),
                 ORL_OK, "%s", orl_error_message());
    cr_assert(r2->ris_because_missing && strstr(r2->notes, "counts"), "%s", r2->notes);
    cr_assert(fabs(r2->policies[0].rows[0].estimate - mean) < 1e-2 * (1.0 + fabs(mean)));
    orl_policy *wrong = NULL;
    cr_assert_eq(orl_policy_open("builtin:CartPole-v1/medium", &wrong), ORL_OK);
    cr_assert_eq(orl_ope_run(ds, data, (const orl_policy *const *)&wrong, names, 1, &opt, NULL, r2),
                 ORL_ERR_INPUT);
    orl_policy_free(wrong);
    cr_assert_eq(orl_ope_run_estimators_parse("wis,foo", 0, &opt), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "unknown estimator 'foo'"));
    cr_assert_eq(orl_ope_run_estimators_parse("wis,wis", 0, &opt), ORL_ERR_INPUT);

    free(r);
    free(r2);
    orl_policy_free(pol[0]);
    orl_policy_free(pol[1]);
    orl_dataset_free(ds);
}

/* the return range of the lower bounds, tightest known first: orl gen declares the environment's
 * reward bounds and time limit in the file; a given range wins; the environment's (exact by DP
 * for GridWorld) is intersected with the dataset's; without an environment the dataset's
 * declared one is used; without either, the observed returns (and the report says so). The
 * evidence check of an FQE gate counts its start states. */
Test(ope_run, return_range_sources_and_fqe_evidence, .timeout = 120) {
    fixture f;
    setup_fixture(&f, "ranges");
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(f.data, NULL, NULL, &ds), ORL_OK);
    cr_assert_eq(ds->h.reward_min, -10.0);
    cr_assert_eq(ds->h.reward_max, 100.0);
    cr_assert_eq(ds->h.horizon, 100);
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_open(f.p2, &p), ORL_OK);
    const char *names[1] = {"p2"};
    orl_ope_environment env;
    orl_eval_ope_environment(GW, &env);
    orl_ope_run_options opt;
    orl_ope_run_options_init(&opt);
    cr_assert_eq(orl_ope_run_estimators_parse("wis", 0, &opt), ORL_OK);
    opt.bootstrap = 20;
    opt.environment = &env;
    orl_report *r = malloc(sizeof *r);
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_OK, "%s", orl_error_message());
    double lo, hi;
    cr_assert_eq(orl_eval_return_range(GW, 1.0, &lo, &hi), ORL_OK);
    cr_assert_str_eq(r->return_range_source, "environment");
    cr_assert(r->return_lo == lo && r->return_hi == hi, "[%g, %g]", r->return_lo, r->return_hi);
    cr_assert(r->policies[0].rows[0].lower_bound >= lo);

    /* given */
    opt.return_range = (orl_ope_return_range){-5000.0, 5000.0, ORL_OPE_RANGE_SOURCE_USER};
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_OK);
    cr_assert_str_eq(r->return_range_source, "user");
    cr_assert(r->return_lo == -5000.0 && r->policies[0].rows[0].lower_bound >= -5000.0);
    opt.return_range = (orl_ope_return_range){1.0, 1.0, ORL_OPE_RANGE_SOURCE_USER};
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_ERR_INPUT);
    opt.return_range.source = ORL_OPE_RANGE_SOURCE_NONE;

    /* no environment: the dataset's declared range (rewards x horizon: [-1000, 10000]) */
    opt.environment = NULL;
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_OK);
    cr_assert_str_eq(r->return_range_source, "dataset");
    cr_assert(r->return_lo == -1000.0 && r->return_hi == 10000.0);
    /* neither: the observed range, with the caveat in the report */
    ds->h.horizon = 0;
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_OK);
    cr_assert_str_eq(r->return_range_source, "observed");
    char *text = NULL;
    cr_assert_eq(orl_report_render(r, ORL_REPORT_FORMAT_MARKDOWN, &text), ORL_OK);
    cr_assert(strstr(text, "**caveat**") && strstr(text, "valid within the observed range"), "%s",
              text);
    free(text);

    /* an FQE gate (exact tabular FQE): its evidence is the start states (200 here); a minimum
     * above fails it */
    opt.environment = &env;
    cr_assert_eq(orl_ope_run_estimators_parse("wis,fqe", 0, &opt), ORL_OK);
    snprintf(opt.gate_estimator, sizeof opt.gate_estimator, "fqe");
    opt.fail_below = -1e9;
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_OK);
    cr_assert(orl_report_passed(r));
    cr_assert_str_eq(r->gates[0].evidence_name, "start states");
    cr_assert_eq(r->gates[0].evidence, 200.0);
    opt.min_ess = 500.0;
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_OK);
    cr_assert(!orl_report_passed(r) && r->gates[0].insufficient_evidence);
    cr_assert(strstr(r->gates[0].message, "insufficient evidence: start states 200.0 < 500"), "%s",
              r->gates[0].message);
    opt.min_ess = -1.0;
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_ERR_INPUT);

    /* neural FQE (no environment: no tabular model) stopped at its limit of 2 iterations has
     * not converged: no evidence, whatever its start states; the first line says why */
    opt.environment = NULL;
    opt.min_ess = 5.0;
    orl_fqe_config fc = orl_fqe_config_defaults();
    fc.max_iter = 2;
    fc.min_iter = 1;
    opt.fqe = &fc;
    cr_assert_eq(orl_ope_run(ds, f.data, (const orl_policy *const *)&p, names, 1, &opt, NULL, r),
                 ORL_OK, "%s", orl_error_message());
    cr_assert(!orl_report_passed(r) && r->gates[0].insufficient_evidence);
    cr_assert(strstr(r->gates[0].message, "insufficient evidence: fqe did not converge"), "%s",
              r->gates[0].message);
    cr_assert_eq(orl_report_render(r, ORL_REPORT_FORMAT_MARKDOWN, &text), ORL_OK);
    const char *first = "**Gate: FAILED — insufficient evidence: fqe did not converge**";
    cr_assert_eq(strncmp(text, first, strlen(first)), 0, "%s", text);
    free(text);
    free(r);
    orl_policy_free(p);
    orl_dataset_free(ds);
}
