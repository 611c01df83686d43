/* What the benchmark report's pieces share (not public API): the results of a directory as
 * read from its catalog (bench_catalog.c), their statistics and learning-curve bands
 * (bench_analysis.c), the literature's order on imperfect data, the report's writers
 * (bench_report.c), the plots (bench_plot.c) and the comparison (bench_compare.c). */
#ifndef ORL_EVAL_BENCH_INTERNAL_H
#define ORL_EVAL_BENCH_INTERNAL_H

#include "orl/bench.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#define MAX_POINTS 257 /* learning-curve points per run (bench_suite.c allows 256 + 1) */
#define N_TAU      51  /* performance-profile thresholds */

/* ---- the results of a directory, as the report uses them (bench_catalog.c) ---- */

typedef struct orl_bench_result {
    int have;
    double score, train_seconds;
    int64_t peak_rss_kb;
    int32_t n_points;
    int64_t step[MAX_POINTS];
    double point[MAX_POINTS];
} orl_bench_result;

/* one allocation: the suite, then (n_jobs) runs */
typedef struct orl_bench_table {
    orl_bench_suite *s;
    orl_bench_result *runs; /* (n_jobs) by job index */
    int64_t n_results;
} orl_bench_table;

/* merges DIR's results into DIR/results.sqlite and reads this suite's catalog rows back into
 * t (free with orl_bench_table_free). ORL_ERR_INPUT when there is no result; ORL_ERR_IO;
 * ORL_ERR_FORMAT for an unreadable result file. */
orl_status orl_bench_table_load(const char *dir, orl_bench_table *t);

/* frees t's suite and runs; t may be NULL */
void orl_bench_table_free(orl_bench_table *t);

/* ---- statistics of a table (bench_analysis.c) ---- */

/* every statistic of the report, computed once */
typedef struct orl_bench_stats {
    int32_t D, L;
    orl_interval *cell; /* (D, L, 3): mean, median, IQM over seeds */
    int64_t *cell_n;    /* (D, L) */
    orl_interval *agg;  /* (L, ORL_STAT_COUNT) stratified */
    int32_t *tasks;     /* (L) */
    int64_t *runs;      /* (L) */
    double tau[N_TAU];
    orl_interval *prof; /* (L, N_TAU) */
    orl_interval *impr; /* (L, L): P(row > column); NaN without common tasks */
    double *data;       /* (D) the data's own score */
} orl_bench_stats;

/* every statistic of t with opt's bootstrap; with_data: also each dataset's own score (reads
 * the dataset files). ORL_ERR_NOMEM, the bootstrap's statuses. Free with
 * orl_bench_stats_free. */
orl_status orl_bench_stats_compute(const orl_bench_table *t, const orl_bench_report_options *opt,
                                   int with_data, orl_bench_stats *out);

void orl_bench_stats_free(orl_bench_stats *st);

/* learning curves: per (dataset, learner), the mean over seeds at each point and a bootstrap
 * interval of that mean */
typedef struct orl_bench_curve {
    int32_t n;
    int64_t step[MAX_POINTS];
    orl_interval v[MAX_POINTS];
} orl_bench_curve;

/* the band of learner l on dataset d (n = 0 without a run); the bootstrap's statuses */
orl_status orl_bench_curve_of(const orl_bench_table *t, int32_t d, int32_t l,
                              const orl_bench_report_options *opt, orl_bench_curve *out);

/* ORL_ERR_INPUT unless reps >= 1 and level in (0, 1) */
orl_status orl_bench_check_options(const orl_bench_report_options *opt);

/* an interval as JSON (null for a non-finite end), and as "v [lo, hi]" (bold: **v**; "—" for
 * a non-finite value) */
json_t *orl_bench_interval_json(const orl_interval *v);
void orl_bench_fmt_interval(char *buf, size_t cap, const orl_interval *v, int bold);

/* ---- the literature's order ---- */

typedef struct orl_bench_claim {
    const char *text;
    int holds;    /* 1 holds, 0 does not, -1 not checkable (a learner missing) */
    int separate; /* the intervals separate in the claimed direction */
} orl_bench_claim;

/* 1 when dataset d is imperfect data the literature's claims are about (a recipe whose
 * behaviour is a replay or a stitching "diverse" set) */
int orl_bench_literature_dataset(const orl_bench_suite *s, int32_t d);

/* the claims on dataset d (3 of them): IQL > BC, CQL > BC, BC <= FBC <= max(IQL, CQL) */
void orl_bench_literature(const orl_bench_suite *s, const orl_bench_stats *S, int32_t d,
                          orl_bench_claim out[3]);

/* ---- the plots (bench_plot.c) ---- */

/* draws the plots into DIR/plots (through a temporary directory); sets sum->plotted and
 * sum->note. ORL_ERR_IO; a failing gnuplot is a note, not an error. */
orl_status orl_bench_plot(const char *dir, const orl_bench_table *t, const orl_bench_stats *S,
                          const orl_bench_curve *bands, orl_bench_report_summary *sum);

#endif
