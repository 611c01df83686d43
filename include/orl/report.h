/* OPE reports: a plain model of what `orl ope` found (per policy, one row per estimator with
 * its interval, lower bound and diagnostics; the gates and their outcomes), rendered as
 * Markdown (fit for a CI job summary), JSON or JUnit XML, and appended to a SQLite results
 * catalog.
 *
 * The model is filled by orl_ope_run (ope_run.h); nothing here computes an estimate. NaN
 * fields mean "not available" and render as "—" (Markdown) or null (JSON).
 *
 * The results catalog is one table, created when absent:
 *   results(id INTEGER PRIMARY KEY, time TEXT (UTC, ISO 8601), label TEXT, policy TEXT,
 *           dataset TEXT, estimator TEXT, estimate REAL, lower REAL, upper REAL,
 *           lower_bound REAL, ess REAL, episodes INTEGER, confidence REAL, behavior TEXT,
 *           seed INTEGER, orl_version TEXT)
 * where lower/upper are the interval and lower_bound the one-sided bound the gate uses. The
 * database is in WAL mode; each report is appended in one transaction; old rows are never
 * rewritten. */
#ifndef ORL_REPORT_H
#define ORL_REPORT_H

#include "orl/status.h"

#include <stdint.h>

#define ORL_REPORT_MAX_POLICIES   32
#define ORL_REPORT_MAX_ESTIMATORS 16
#define ORL_REPORT_MAX_GATES      (2 * ORL_REPORT_MAX_POLICIES)
#define ORL_REPORT_TEXT           512

typedef enum orl_report_format {
    ORL_REPORT_FORMAT_MARKDOWN = 0,
    ORL_REPORT_FORMAT_JSON,
    ORL_REPORT_FORMAT_JUNIT,
    ORL_REPORT_FORMAT_COUNT
} orl_report_format;

/* one estimator's result for one policy */
typedef struct orl_report_row {
    char estimator[32]; /* "wis", "ris-pdis", "wdr", ... */
    double estimate;
    double lower, upper;     /* the two-sided interval at the report's confidence (NaN: none) */
    double lower_bound;      /* the one-sided lower bound at the report's confidence (NaN) */
    char bound_method[160];  /* how lower/upper/lower_bound were obtained */
    double ess;              /* effective sample size (NaN when not an IS-type estimate) */
    double max_weight_share; /* largest weight's share (NaN) */
    double clipped_fraction; /* fraction of clipped weights or log-ratios (NaN) */
    int64_t episodes;
    int behavior_estimated;         /* 1 when RIS supplied the behaviour probabilities */
    int model_unconverged;          /* FQE: 1 when the neural fit stopped at its iteration
                                       limit without converging (no evidence for a gate) */
    char warnings[ORL_REPORT_TEXT]; /* "" when none; "; " between warnings */
    double seconds; /* wall-clock time spent on this row (not rendered; orl_ope_run charges a
                       shared piece, a ratio set or the FQE fit, to the first row needing it) */
} orl_report_row;

/* one evaluated policy */
typedef struct orl_report_policy {
    char name[ORL_REPORT_TEXT]; /* as given on the command line */
    char algorithm[64];
    char type[32]; /* policy_type: "mlp", "builtin", "tabular" */
    int is_baseline;
    /* lower bounds on the value from the trajectory-wise IS terms mapped into the return
     * range (ope.h's orl_ope_bounds, on the logged ratios, else the RIS ones; NaN: none) */
    double hc_bernstein_lower; /* empirical Bernstein: valid (given a valid range) */
    double hc_t_lower;         /* Student t: approximate */
    double hc_bootstrap_lower; /* bootstrap percentile: approximate */
    int hc_range_widened;      /* a return fell outside the range, which was widened */
    int hc_behavior_estimated; /* 1 when they are of the RIS ratios (the estimation of pi_b
                                  is then ignored) */
    int32_t n_rows;
    orl_report_row rows[ORL_REPORT_MAX_ESTIMATORS];
} orl_report_policy;

/* one check of the gate on one policy */
typedef struct orl_report_gate {
    char policy[ORL_REPORT_TEXT];
    char name[32];      /* "fail-below" or "baseline" */
    char estimator[32]; /* the gating estimator */
    double value;       /* the candidate's lower bound that was checked */
    double threshold;   /* fail-below X, or the baseline's estimate minus the margin */
    int passed;
    /* the evidence check: a gate fails with "insufficient evidence: ESS 1.0 < 5" when the
     * gating row's evidence (ESS, or FQE's start states) is below the minimum */
    int insufficient_evidence;
    char evidence_name[16]; /* "ESS" or "start states" ("" when not checked) */
    double evidence;        /* NaN when not checked */
    double min_evidence;    /* the minimum (--min-ess); NaN when not checked */
    char message[ORL_REPORT_TEXT];
} orl_report_gate;

typedef struct orl_report {
    char dataset[ORL_REPORT_TEXT];
    char env_id[128];
    int64_t n_episodes, n_steps;
    double gamma;
    double confidence;
    int64_t bootstrap; /* resamples B */
    uint64_t seed;
    char behavior[32];               /* "logged" or "estimated" */
    int ris_because_missing;         /* the dataset had no logged probabilities, RIS stood in */
    char notes[4 * ORL_REPORT_TEXT]; /* free text, one note per line */
    char gate_estimator[32];         /* "" when no gate was asked for */
    double min_ess;                  /* the evidence minimum of the gate (NaN: no gate) */
    /* the return range the lower bounds map into [0, 1] (NaN when none was needed) */
    double return_lo, return_hi;
    char return_range_source[16]; /* "user", "dataset", "environment", "observed" ("" when
                                     none) */
    char version[32];                /* orl version */
    int32_t n_policies;
    orl_report_policy policies[ORL_REPORT_MAX_POLICIES];
    int32_t n_gates;
    orl_report_gate gates[ORL_REPORT_MAX_GATES];
} orl_report;

/* an empty report: NaN numbers, empty text; the struct is large, allocate it on the heap */
void orl_report_init(orl_report *r);

/* an empty report on the heap (orl_report_init'd); free it with orl_report_free. For callers
 * that cannot size the struct themselves (bindings). ORL_ERR_NOMEM. */
orl_status orl_report_create(orl_report **out);

/* r may be NULL */
void orl_report_free(orl_report *r);

/* "md", "json", "junit" (NULL out of range) and back; ORL_ERR_INPUT for another name */
const char *orl_report_format_name(orl_report_format f);
orl_status orl_report_format_parse(const char *name, orl_report_format *out);

/* 1 when every gate passed (also when there is none) */
int orl_report_passed(const orl_report *r);

/* renders r in format f into *text (NUL-terminated, free with free()). ORL_ERR_NOMEM. */
orl_status orl_report_render(const orl_report *r, orl_report_format f, char **text);

/* renders and writes r to path: a temporary name beside it, renamed into place when complete;
 * nothing is left under path or the temporary name on failure. ORL_ERR_IO, ORL_ERR_NOMEM. */
orl_status orl_report_write(const orl_report *r, orl_report_format f, const char *path);

/* appends one row per policy and estimator to the results catalog at path (created when
 * absent), in one transaction, with the given run label (may be NULL). *n_rows (may be NULL)
 * receives the number of rows appended. ORL_ERR_IO naming the file and SQLite's message;
 * ORL_ERR_FORMAT when path is not a SQLite database or its results table lacks a column. */
orl_status orl_report_record(const orl_report *r, const char *path, const char *label,
                             int64_t *n_rows);

#endif
