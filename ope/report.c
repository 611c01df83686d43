/* OPE reports (report.h): Markdown, JSON (jansson) and JUnit XML renderers over the report
 * model, the atomic file writer, and the SQLite results catalog. Nothing here estimates
 * anything; jansson and SQLite types stay in this file. */
#include "orl/report.h"
#include "orl/fs.h"
#include "core/json_util.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_MS 10000 /* how long a recorder waits for another writer */

void orl_report_init(orl_report *r) {
    assert(r);
    memset(r, 0, sizeof *r);
    r->gamma = NAN;
    r->confidence = NAN;
    r->n_episodes = -1;
    r->n_steps = -1;
    r->min_ess = NAN;
    r->return_lo = r->return_hi = NAN;
}

orl_status orl_report_create(orl_report **out) {
    assert(out);
    *out = malloc(sizeof **out);
    if (!*out) ORL_FAIL(ORL_ERR_NOMEM, "report: %zu bytes", sizeof **out);
    orl_report_init(*out);
    return ORL_OK;
}

void orl_report_free(orl_report *r) {
    free(r);
}

static const char *const format_names[ORL_REPORT_FORMAT_COUNT] = {"md", "json", "junit"};

const char *orl_report_format_name(orl_report_format f) {
    return (unsigned)f < ORL_REPORT_FORMAT_COUNT ? format_names[f] : NULL;
}

orl_status orl_report_format_parse(const char *name, orl_report_format *out) {
    for (int i = 0; i < ORL_REPORT_FORMAT_COUNT; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *out = (orl_report_format)i;
            return ORL_OK;
        }
    if (strcmp(name, "markdown") == 0) {
        *out = ORL_REPORT_FORMAT_MARKDOWN;
        return ORL_OK;
    }
    ORL_FAIL(ORL_ERR_INPUT, "unknown report format '%s' (md, json, junit)", name);
}

int orl_report_passed(const orl_report *r) {
    for (int32_t i = 0; i < r->n_gates; i++)
        if (!r->gates[i].passed) return 0;
    return 1;
}

/* ---- a growing text buffer ---- */

typedef struct text_buf {
    char *s;
    size_t len, cap;
    int failed;
} text_buf;

static void put(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* a number with 4 significant decimals, or "—" */
static const char *num(char *buf, size_t cap, double x) {
    if (isnan(x))
        snprintf(buf, cap, "—");
    else
        snprintf(buf, cap, "%.4g", x);
    return buf;
}

/* Markdown table cells: '|' and newlines would break the row */
static void put_cell(text_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            put(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            put(b, " ");
        else
            put(b, "%c", *s);
    }
}

/* ---- Markdown ---- */

/* the first gate that failed for want of evidence, or NULL */
static const orl_report_gate *evidence_failure(const orl_report *r) {
    for (int32_t i = 0; i < r->n_gates; i++)
        if (r->gates[i].insufficient_evidence) return &r->gates[i];
    return NULL;
}

static void render_markdown(const orl_report *r, text_buf *b) {
    char n1[32], n2[32], n3[32], n4[32];
    int32_t failed = 0;
    for (int32_t i = 0; i < r->n_gates; i++) failed += !r->gates[i].passed;
    /* the first line is the verdict when there is a gate, the reason first when it is a lack
     * of evidence (a CI summary shows it without scrolling) */
    const orl_report_gate *ev = evidence_failure(r);
    if (ev) {
        /* the message starts with the reason: "insufficient evidence: ...; " */
        const char *end = strstr(ev->message, "; ");
        int n = end ? (int)(end - ev->message) : (int)strlen(ev->message);
        put(b, "**Gate: FAILED — %.*s** (`", n, ev->message);
        put_cell(b, ev->policy);
        put(b, "`, estimator `%s`; %d of %d checks passed)\n\n", ev->estimator,
            (int)(r->n_gates - failed), (int)r->n_gates);
    } else if (r->n_gates > 0) {
        put(b, "**Gate: %s** (%d of %d checks passed, estimator `%s`)\n\n",
            failed ? "FAILED" : "passed", (int)(r->n_gates - failed), (int)r->n_gates,
            r->gate_estimator);
    }
    put(b, "## orl ope: ");
    put_cell(b, r->dataset);
    put(b, "\n\n");
    put(b, "- dataset: `");
    put_cell(b, r->dataset);
    put(b, "`%s%s%s, %lld episodes, %lld steps\n", r->env_id[0] ? " (" : "", r->env_id,
        r->env_id[0] ? ")" : "", (long long)r->n_episodes, (long long)r->n_steps);
    put(b, "- behaviour probabilities: %s\n",
        r->ris_because_missing
            ? "**estimated by regression importance sampling (RIS)**: the dataset has no logged "
              "probabilities"
            : (strcmp(r->behavior, "estimated") == 0 ? "estimated by RIS (asked for)" : "logged"));
    put(b, "- discount %s, confidence %s, bootstrap %lld resamples, seed %llu\n",
        num(n1, sizeof n1, r->gamma), num(n2, sizeof n2, r->confidence), (long long)r->bootstrap,
        (unsigned long long)r->seed);
    if (r->return_range_source[0]) {
        put(b, "- return range for the lower bounds: [%s, %s] (%s)",
            num(n1, sizeof n1, r->return_lo), num(n2, sizeof n2, r->return_hi),
            strcmp(r->return_range_source, "user") == 0          ? "given by --return-range"
            : strcmp(r->return_range_source, "environment") == 0 ? "the environment's known range"
            : strcmp(r->return_range_source, "dataset") == 0
                ? "the dataset's declared reward bounds over its horizon"
                : "observed");
        if (strcmp(r->return_range_source, "observed") == 0)
            put(b, " — **caveat**: the observed returns are not a known range, so the "
                   "empirical Bernstein bounds are valid only if no return of the evaluated "
                   "policies falls outside it; give --return-range LO HI");
        put(b, "\n");
    }
    if (r->min_ess > 0.0)
        put(b,
            "- evidence: a gate fails when the gating estimator's ESS (FQE: start states) is "
            "below %g\n",
            r->min_ess);
    else if (r->min_ess == 0.0)
        put(b, "- evidence: not checked (--min-ess 0)\n");
    put(b, "- orl %s\n", r->version);
    if (r->notes[0]) {
        const char *s = r->notes;
        while (*s) {
            const char *e = strchr(s, '\n');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            put(b, "- note: %.*s\n", (int)n, s);
            s += n + (e ? 1 : 0);
        }
    }
    put(b, "\n");

    if (r->n_gates > 0) {
        put(b, "| policy | check | estimator | lower bound | threshold | evidence | result |\n"
               "|---|---|---|---|---|---|---|\n");
        for (int32_t i = 0; i < r->n_gates; i++) {
            const orl_report_gate *g = &r->gates[i];
            put(b, "| `");
            put_cell(b, g->policy);
            put(b, "` | %s | %s | %s | %s | ", g->name, g->estimator, num(n1, sizeof n1, g->value),
                num(n2, sizeof n2, g->threshold));
            if (isnan(g->evidence))
                put(b, "— | ");
            else
                put(b, "%s %.1f (min %g) | ", g->evidence_name, g->evidence, g->min_evidence);
            put(b, "%s |\n",
                g->passed
                    ? "pass"
                    : (g->insufficient_evidence ? "**FAIL: insufficient evidence**" : "**FAIL**"));
        }
        put(b, "\n");
    }

    int pct = (int)lround(100.0 * r->confidence);
    for (int32_t p = 0; p < r->n_policies; p++) {
        const orl_report_policy *pol = &r->policies[p];
        put(b, "### `");
        put_cell(b, pol->name);
        put(b, "`%s (%s, %s)\n\n", pol->is_baseline ? " — baseline" : "", pol->algorithm,
            pol->type);
        put(b,
            "| estimator | estimate | %d%% interval | lower bound | ESS | episodes | "
            "warnings |\n|---|---|---|---|---|---|---|\n",
            pct);
        for (int32_t i = 0; i < pol->n_rows; i++) {
            const orl_report_row *row = &pol->rows[i];
            put(b, "| %s | %s | ", row->estimator, num(n1, sizeof n1, row->estimate));
            if (isnan(row->lower))
                put(b, "— | ");
            else
                put(b, "[%s, %s] | ", num(n2, sizeof n2, row->lower),
                    num(n3, sizeof n3, row->upper));
            put(b, "%s | %s | %lld | ", num(n4, sizeof n4, row->lower_bound),
                num(n1, sizeof n1, row->ess), (long long)row->episodes);
            put_cell(b, row->warnings);
            put(b, " |\n");
        }
        put(b, "\n");
        if (!isnan(pol->hc_t_lower) || !isnan(pol->hc_bernstein_lower))
            put(b,
                "Lower bounds on the value (%d%%, trajectory IS returns mapped into the return "
                "range): empirical Bernstein %s (%s), Student t %s (approximate), bootstrap "
                "percentile %s (approximate)%s.\n\n",
                pct, num(n1, sizeof n1, pol->hc_bernstein_lower),
                strcmp(r->return_range_source, "observed") == 0 ? "valid within the observed range"
                : pol->hc_behavior_estimated ? "valid but for the estimated behaviour"
                                             : "valid",
                num(n2, sizeof n2, pol->hc_t_lower), num(n3, sizeof n3, pol->hc_bootstrap_lower),
                pol->hc_range_widened ? "; a return fell outside the range, which was widened"
                                      : "");
        int any_method = 0;
        for (int32_t i = 0; i < pol->n_rows; i++)
            if (pol->rows[i].bound_method[0]) any_method = 1;
        if (any_method && p == r->n_policies - 1) {
            put(b, "Intervals and lower bounds:");
            /* each distinct method once */
            for (int32_t i = 0; i < pol->n_rows; i++) {
                int seen = 0;
                for (int32_t k = 0; k < i; k++)
                    if (strcmp(pol->rows[k].bound_method, pol->rows[i].bound_method) == 0) seen = 1;
                if (!seen && pol->rows[i].bound_method[0])
                    put(b, " %s: %s.", pol->rows[i].estimator, pol->rows[i].bound_method);
            }
            put(b, "\n");
        }
    }
}

/* ---- JSON ---- */

static void render_json(const orl_report *r, text_buf *b) {
    json_t *j = json_object();
    json_object_set_new(j, "dataset", json_string(r->dataset));
    json_object_set_new(j, "env_id", json_string(r->env_id));
    json_object_set_new(j, "episodes", json_integer(r->n_episodes));
    json_object_set_new(j, "steps", json_integer(r->n_steps));
    json_object_set_new(j, "gamma", orl_json_number(r->gamma));
    json_object_set_new(j, "confidence", orl_json_number(r->confidence));
    json_object_set_new(j, "bootstrap", json_integer(r->bootstrap));
    json_object_set_new(j, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(j, "behavior", json_string(r->behavior));
    json_object_set_new(j, "ris_because_missing", json_boolean(r->ris_because_missing));
    json_object_set_new(j, "notes", json_string(r->notes));
    json_t *range = json_object();
    json_object_set_new(range, "lo", orl_json_number(r->return_lo));
    json_object_set_new(range, "hi", orl_json_number(r->return_hi));
    json_object_set_new(range, "source",
                        r->return_range_source[0] ? json_string(r->return_range_source)
                                                  : json_null());
    json_object_set_new(j, "return_range", range);
    json_object_set_new(j, "min_ess", orl_json_number(r->min_ess));
    json_object_set_new(j, "orl_version", json_string(r->version));
    json_t *pols = json_array();
    for (int32_t p = 0; p < r->n_policies; p++) {
        const orl_report_policy *pol = &r->policies[p];
        json_t *jp = json_object();
        json_object_set_new(jp, "policy", json_string(pol->name));
        json_object_set_new(jp, "algorithm", json_string(pol->algorithm));
        json_object_set_new(jp, "type", json_string(pol->type));
        json_object_set_new(jp, "baseline", json_boolean(pol->is_baseline));
        json_object_set_new(jp, "hc_bernstein_lower", orl_json_number(pol->hc_bernstein_lower));
        json_object_set_new(jp, "hc_t_lower", orl_json_number(pol->hc_t_lower));
        json_object_set_new(jp, "hc_bootstrap_lower", orl_json_number(pol->hc_bootstrap_lower));
        json_object_set_new(jp, "hc_range_widened", json_boolean(pol->hc_range_widened));
        json_object_set_new(jp, "hc_behavior_estimated", json_boolean(pol->hc_behavior_estimated));
        json_t *rows = json_array();
        for (int32_t i = 0; i < pol->n_rows; i++) {
            const orl_report_row *row = &pol->rows[i];
            json_t *jr = json_object();
            json_object_set_new(jr, "estimator", json_string(row->estimator));
            json_object_set_new(jr, "estimate", orl_json_number(row->estimate));
            json_object_set_new(jr, "lower", orl_json_number(row->lower));
            json_object_set_new(jr, "upper", orl_json_number(row->upper));
            json_object_set_new(jr, "lower_bound", orl_json_number(row->lower_bound));
            json_object_set_new(jr, "bound_method", json_string(row->bound_method));
            json_object_set_new(jr, "ess", orl_json_number(row->ess));
            json_object_set_new(jr, "max_weight_share", orl_json_number(row->max_weight_share));
            json_object_set_new(jr, "clipped_fraction", orl_json_number(row->clipped_fraction));
            json_object_set_new(jr, "episodes", json_integer(row->episodes));
            json_object_set_new(jr, "behavior_estimated", json_boolean(row->behavior_estimated));
            json_object_set_new(jr, "warnings", json_string(row->warnings));
            json_array_append_new(rows, jr);
        }
        json_object_set_new(jp, "estimates", rows);
        json_array_append_new(pols, jp);
    }
    json_object_set_new(j, "policies", pols);
    json_t *gates = json_array();
    for (int32_t i = 0; i < r->n_gates; i++) {
        const orl_report_gate *g = &r->gates[i];
        json_t *jg = json_object();
        json_object_set_new(jg, "policy", json_string(g->policy));
        json_object_set_new(jg, "check", json_string(g->name));
        json_object_set_new(jg, "estimator", json_string(g->estimator));
        json_object_set_new(jg, "lower_bound", orl_json_number(g->value));
        json_object_set_new(jg, "threshold", orl_json_number(g->threshold));
        json_object_set_new(jg, "passed", json_boolean(g->passed));
        json_object_set_new(jg, "insufficient_evidence", json_boolean(g->insufficient_evidence));
        json_object_set_new(jg, "evidence_name",
                            g->evidence_name[0] ? json_string(g->evidence_name) : json_null());
        json_object_set_new(jg, "evidence", orl_json_number(g->evidence));
        json_object_set_new(jg, "min_evidence", orl_json_number(g->min_evidence));
        json_object_set_new(jg, "message", json_string(g->message));
        json_array_append_new(gates, jg);
    }
    json_object_set_new(j, "gates", gates);
    json_object_set_new(j, "passed", json_boolean(orl_report_passed(r)));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(j);
    if (!text) {
        b->failed = 1;
        return;
    }
    put(b, "%s\n", text);
    free(text);
}

/* ---- JUnit XML ---- */

static void put_xml(text_buf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&')
            put(b, "&amp;");
        else if (c == '<')
            put(b, "&lt;");
        else if (c == '>')
            put(b, "&gt;");
        else if (c == '"')
            put(b, "&quot;");
        else if (c < 0x20 && c != '\n' && c != '\t')
            put(b, " ");
        else
            put(b, "%c", c);
    }
}

/* the estimates of one policy as plain text, for system-out */
static void put_estimates(text_buf *b, const orl_report_policy *pol) {
    char n1[32], n2[32], n3[32], n4[32];
    for (int32_t i = 0; i < pol->n_rows; i++) {
        const orl_report_row *row = &pol->rows[i];
        char line[ORL_REPORT_TEXT + 256];
        snprintf(line, sizeof line, "%s: estimate %s, interval [%s, %s], lower bound %s%s%s\n",
                 row->estimator, num(n1, sizeof n1, row->estimate), num(n2, sizeof n2, row->lower),
                 num(n3, sizeof n3, row->upper), num(n4, sizeof n4, row->lower_bound),
                 row->warnings[0] ? "; " : "", row->warnings);
        put_xml(b, line);
    }
}

static const orl_report_policy *find_policy(const orl_report *r, const char *name) {
    for (int32_t p = 0; p < r->n_policies; p++)
        if (strcmp(r->policies[p].name, name) == 0) return &r->policies[p];
    return NULL;
}

static void render_junit(const orl_report *r, text_buf *b) {
    int32_t failures = 0, tests = r->n_gates;
    for (int32_t i = 0; i < r->n_gates; i++) failures += !r->gates[i].passed;
    /* without gates, one (passing) testcase per policy carries its estimates */
    if (r->n_gates == 0) tests = r->n_policies;
    put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    put(b, "<testsuites name=\"orl ope\" tests=\"%d\" failures=\"%d\">\n", (int)tests,
        (int)failures);
    put(b, "  <testsuite name=\"orl ope ");
    put_xml(b, r->dataset);
    put(b, "\" tests=\"%d\" failures=\"%d\" errors=\"0\">\n", (int)tests, (int)failures);
    put(b, "    <properties>\n");
    char value[64];
    snprintf(value, sizeof value, "%.17g", r->confidence);
    put(b, "      <property name=\"confidence\" value=\"%s\"/>\n", value);
    put(b, "      <property name=\"bootstrap\" value=\"%lld\"/>\n", (long long)r->bootstrap);
    put(b, "      <property name=\"seed\" value=\"%llu\"/>\n", (unsigned long long)r->seed);
    if (!isnan(r->min_ess)) {
        snprintf(value, sizeof value, "%.17g", r->min_ess);
        put(b, "      <property name=\"min_ess\" value=\"%s\"/>\n", value);
    }
    if (r->return_range_source[0]) {
        snprintf(value, sizeof value, "[%.17g, %.17g]", r->return_lo, r->return_hi);
        put(b, "      <property name=\"return_range\" value=\"%s\"/>\n", value);
        put(b, "      <property name=\"return_range_source\" value=\"%s\"/>\n",
            r->return_range_source);
    }
    put(b, "      <property name=\"behavior\" value=\"");
    put_xml(b, r->ris_because_missing ? "estimated (RIS: no logged probabilities)" : r->behavior);
    put(b, "\"/>\n      <property name=\"orl_version\" value=\"");
    put_xml(b, r->version);
    put(b, "\"/>\n    </properties>\n");
    for (int32_t i = 0; i < tests; i++) {
        const orl_report_gate *g = r->n_gates ? &r->gates[i] : NULL;
        const orl_report_policy *pol = g ? find_policy(r, g->policy) : &r->policies[i];
        put(b, "    <testcase classname=\"orl.ope\" name=\"");
        put_xml(b, g ? g->policy : pol->name);
        put(b, " %s\">\n", g ? g->name : "estimate");
        if (g && !g->passed) {
            put(b, "      <failure message=\"");
            put_xml(b, g->message);
            put(b, "\" type=\"%s\">", g->insufficient_evidence ? "insufficient-evidence" : "gate");
            put_xml(b, g->message);
            put(b, "</failure>\n");
        }
        if (pol) {
            put(b, "      <system-out>");
            put_estimates(b, pol);
            put(b, "</system-out>\n");
        }
        put(b, "    </testcase>\n");
    }
    put(b, "  </testsuite>\n</testsuites>\n");
}

orl_status orl_report_render(const orl_report *r, orl_report_format f, char **text) {
    assert(r && text);
    *text = NULL;
    text_buf b = {0};
    switch (f) {
    case ORL_REPORT_FORMAT_MARKDOWN:
        render_markdown(r, &b);
        break;
    case ORL_REPORT_FORMAT_JSON:
        render_json(r, &b);
        break;
    case ORL_REPORT_FORMAT_JUNIT:
        render_junit(r, &b);
        break;
    default:
        ORL_FAIL(ORL_ERR_INPUT, "report format %d out of range", (int)f);
    }
    if (b.failed || !b.s) {
        free(b.s);
        ORL_FAIL(ORL_ERR_NOMEM, "rendering the %s report", orl_report_format_name(f));
    }
    *text = b.s;
    return ORL_OK;
}

orl_status orl_report_write(const orl_report *r, orl_report_format f, const char *path) {
    assert(r && path);
    char *text = NULL;
    ORL_TRY(orl_report_render(r, f, &text));
    char tmp[4096];
    orl_status st = orl_fs_temp_name(path, tmp, sizeof tmp);
    if (st) {
        free(text);
        return st;
    }
    FILE *out = fopen(tmp, "w");
    if (!out) {
        free(text);
        ORL_FAIL(ORL_ERR_IO, "%s: cannot create the report", path);
    }
    size_t len = strlen(text);
    int bad = fwrite(text, 1, len, out) != len;
    bad |= fclose(out) != 0;
    free(text);
    if (bad) {
        orl_fs_remove(tmp);
        ORL_FAIL(ORL_ERR_IO, "%s: cannot write the report", path);
    }
    st = orl_fs_commit(tmp, path);
    if (st) orl_fs_remove(tmp);
    return st;
}

/* ---- the results catalog ---- */

static const char catalog_sql[] = "CREATE TABLE IF NOT EXISTS results(\n"
                                  "  id INTEGER PRIMARY KEY,\n"
                                  "  time TEXT NOT NULL,\n"
                                  "  label TEXT,\n"
                                  "  policy TEXT NOT NULL,\n"
                                  "  dataset TEXT NOT NULL,\n"
                                  "  estimator TEXT NOT NULL,\n"
                                  "  estimate REAL,\n"
                                  "  lower REAL,\n"
                                  "  upper REAL,\n"
                                  "  lower_bound REAL,\n"
                                  "  ess REAL,\n"
                                  "  episodes INTEGER,\n"
                                  "  confidence REAL,\n"
                                  "  behavior TEXT,\n"
                                  "  seed INTEGER,\n"
                                  "  orl_version TEXT\n"
                                  ");\n";

static const char insert_sql[] =
    "INSERT INTO results(time, label, policy, dataset, estimator, estimate, lower, upper, "
    "lower_bound, ess, episodes, confidence, behavior, seed, orl_version) "
    "VALUES(strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static orl_status db_fail(sqlite3 *db, const char *path, const char *what) {
    int code = sqlite3_errcode(db);
    orl_status st = code == SQLITE_NOTADB || code == SQLITE_CORRUPT || code == SQLITE_ERROR
                        ? ORL_ERR_FORMAT
                        : ORL_ERR_IO;
    ORL_FAIL(st, "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

static void bind_real(sqlite3_stmt *q, int i, double x) {
    if (isfinite(x))
        sqlite3_bind_double(q, i, x);
    else
        sqlite3_bind_null(q, i);
}

orl_status orl_report_record(const orl_report *r, const char *path, const char *label,
                             int64_t *n_rows) {
    assert(r && path);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    orl_status st = ORL_OK;
    int64_t rows = 0, in_tx = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        st = db ? db_fail(db, path, "cannot open the results catalog")
                : orl_error_set(ORL_ERR_NOMEM, "%s: sqlite", path);
        goto done;
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    if (sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
        st = db_fail(db, path, "setting WAL mode");
        goto done;
    }
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        st = db_fail(db, path, "starting a transaction");
        goto done;
    }
    in_tx = 1;
    if (sqlite3_exec(db, catalog_sql, NULL, NULL, NULL) != SQLITE_OK) {
        st = db_fail(db, path, "creating the results table");
        goto done;
    }
    if (sqlite3_prepare_v2(db, insert_sql, -1, &q, NULL) != SQLITE_OK) {
        st = db_fail(db, path, "the results table lacks a column orl writes");
        goto done;
    }
    for (int32_t p = 0; p < r->n_policies; p++) {
        const orl_report_policy *pol = &r->policies[p];
        for (int32_t i = 0; i < pol->n_rows; i++) {
            const orl_report_row *row = &pol->rows[i];
            sqlite3_reset(q);
            sqlite3_clear_bindings(q);
            if (label)
                sqlite3_bind_text(q, 1, label, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(q, 1);
            sqlite3_bind_text(q, 2, pol->name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(q, 3, r->dataset, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(q, 4, row->estimator, -1, SQLITE_TRANSIENT);
            bind_real(q, 5, row->estimate);
            bind_real(q, 6, row->lower);
            bind_real(q, 7, row->upper);
            bind_real(q, 8, row->lower_bound);
            bind_real(q, 9, row->ess);
            sqlite3_bind_int64(q, 10, row->episodes);
            bind_real(q, 11, r->confidence);
            sqlite3_bind_text(q, 12, row->behavior_estimated ? "estimated" : "logged", -1,
                              SQLITE_STATIC);
            sqlite3_bind_int64(q, 13, (sqlite3_int64)r->seed);
            sqlite3_bind_text(q, 14, r->version, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(q) != SQLITE_DONE) {
                st = db_fail(db, path, "appending a result");
                goto done;
            }
            rows++;
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        st = db_fail(db, path, "committing the results");
        goto done;
    }
    in_tx = 0;
    if (n_rows) *n_rows = rows;
done:
    sqlite3_finalize(q);
    if (in_tx) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return st;
}
