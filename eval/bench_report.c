/* The benchmark report: merges a directory's job results into its SQLite catalog, reads them
 * back, computes the statistics (bench_stats.c) and writes report.md, report.json and the
 * gnuplot pictures; and the comparison of two directories.
 *
 * The catalog is one table, created when absent, in WAL mode, written in one transaction per
 * merge (a result already there is replaced, so a merge is idempotent and a kill -9 of the
 * reporter leaves the catalog as it was before or after):
 *   bench_runs(suite TEXT, job INTEGER, label TEXT, learner TEXT, algorithm TEXT,
 *              dataset TEXT, env TEXT, seed INTEGER, steps INTEGER, score REAL, return REAL,
 *              curve TEXT (JSON), train_seconds REAL, seconds REAL, peak_rss_kb INTEGER,
 *              orl_version TEXT, hyperparameters TEXT (JSON), dataset_hash TEXT,
 *              PRIMARY KEY (suite, job))
 * label is the directory's name. Every figure of the report comes from the catalog rows of the
 * directory's suite, in job order, with bootstrap seeds derived from the options' seed and the
 * statistic's place, so the same results give the same bytes. */
#define _DEFAULT_SOURCE /* realpath */
#include "orl/bench.h"
#include "orl/dataset.h"
#include "orl/eval.h"
#include "orl/filters.h"
#include "orl/fs.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ORL_VERSION
#define ORL_VERSION "unknown"
#endif

#define MAX_POINTS 257 /* learning-curve points per run (bench_suite.c allows 256 + 1) */
#define N_TAU      51  /* performance-profile thresholds */
#define BUSY_MS    10000

extern char **environ;

void orl_bench_report_options_init(orl_bench_report_options *opt) {
    opt->reps = 2000;
    opt->seed = 0;
    opt->level = 0.95;
    opt->times = 1;
    opt->plots = 1;
}

/* ---- the results of a directory, as the report uses them ---- */

typedef struct run {
    int have;
    double score, train_seconds;
    int64_t peak_rss_kb;
    int32_t n_points;
    int64_t step[MAX_POINTS];
    double point[MAX_POINTS];
} run;

/* one allocation: the suite, then (n_jobs) runs */
typedef struct table {
    orl_bench_suite *s;
    run *runs; /* (n_jobs) by job index */
    int64_t n_results;
} table;

static void table_free(table *t) {
    if (!t) return;
    orl_bench_suite_free(t->s);
    free(t->runs);
    t->s = NULL;
    t->runs = NULL;
}

static orl_status db_fail(sqlite3 *db, const char *path, const char *what) {
    ORL_FAIL(ORL_ERR_IO, "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

static const char create_sql[] =
    "CREATE TABLE IF NOT EXISTS bench_runs (suite TEXT NOT NULL, job INTEGER NOT NULL, "
    "label TEXT, learner TEXT, algorithm TEXT, dataset TEXT, env TEXT, seed INTEGER, "
    "steps INTEGER, score REAL, return REAL, curve TEXT, train_seconds REAL, seconds REAL, "
    "peak_rss_kb INTEGER, orl_version TEXT, hyperparameters TEXT, dataset_hash TEXT, "
    "PRIMARY KEY (suite, job))";

static const char insert_sql[] =
    "INSERT OR REPLACE INTO bench_runs (suite, job, label, learner, algorithm, dataset, env, "
    "seed, steps, score, return, curve, train_seconds, seconds, peak_rss_kb, orl_version, "
    "hyperparameters, dataset_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
    "?13, ?14, ?15, ?16, ?17, ?18)";

static void bind_real(sqlite3_stmt *q, int i, json_t *v) {
    if (json_is_number(v))
        sqlite3_bind_double(q, i, json_number_value(v));
    else
        sqlite3_bind_null(q, i);
}

static void bind_text(sqlite3_stmt *q, int i, json_t *v) {
    if (json_is_string(v))
        sqlite3_bind_text(q, i, json_string_value(v), -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

static void bind_json(sqlite3_stmt *q, int i, json_t *v) {
    char *text =
        v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    if (text)
        sqlite3_bind_text(q, i, text, -1, free);
    else
        sqlite3_bind_null(q, i);
}

/* checks that result o is job k of suite s */
static orl_status check_result(const orl_bench_suite *s, int64_t k, json_t *o, const char *path) {
    const orl_bench_job *J = &s->jobs[k];
    const char *learner = json_string_value(json_object_get(o, "learner"));
    const char *dataset = json_string_value(json_object_get(o, "dataset"));
    json_t *seed = json_object_get(o, "seed");
    if (!learner || !dataset || !json_is_integer(seed) ||
        strcmp(learner, s->learners[J->learner].name) != 0 ||
        strcmp(dataset, s->datasets[J->dataset].name) != 0 || json_integer_value(seed) != J->seed)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not job %lld of suite %s (learner, dataset or seed differ)",
                 path, (long long)k, s->name);
    return ORL_OK;
}

/* merges DIR/jobs/K.json of every job into the catalog in one transaction */
static orl_status merge(const char *dir, const orl_bench_suite *s, int64_t *merged) {
    char db_path[1024], label[256];
    snprintf(db_path, sizeof db_path, "%s/results.sqlite", dir);
    char resolved[PATH_MAX];
    const char *base = realpath(dir, resolved) ? resolved : dir;
    const char *slash = strrchr(base, '/');
    snprintf(label, sizeof label, "%.255s", slash && slash[1] ? slash + 1 : base);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    orl_status st = ORL_OK;
    int in_tx = 0;
    *merged = 0;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        st = db ? db_fail(db, db_path, "cannot open the catalog")
                : orl_error_set(ORL_ERR_NOMEM, "%s: sqlite", db_path);
        goto done;
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    if (sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
        st = db_fail(db, db_path, "setting WAL mode");
        goto done;
    }
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        st = db_fail(db, db_path, "starting a transaction");
        goto done;
    }
    in_tx = 1;
    if (sqlite3_exec(db, create_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, insert_sql, -1, &q, NULL) != SQLITE_OK) {
        st = db_fail(db, db_path, "the bench_runs table");
        goto done;
    }
    for (int64_t k = 0; k < s->n_jobs && st == ORL_OK; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/jobs/%lld.json", dir, (long long)k);
        if (!orl_fs_exists(path)) continue;
        json_error_t err;
        json_t *o = json_load_file(path, 0, &err);
        if (!o) {
            st = orl_error_set(ORL_ERR_FORMAT, "%s: line %d: %s", path, err.line, err.text);
            break;
        }
        st = check_result(s, k, o, path);
        if (st == ORL_OK) {
            sqlite3_reset(q);
            sqlite3_clear_bindings(q);
            sqlite3_bind_text(q, 1, s->name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, 2, k);
            sqlite3_bind_text(q, 3, label, -1, SQLITE_TRANSIENT);
            bind_text(q, 4, json_object_get(o, "learner"));
            bind_text(q, 5, json_object_get(o, "algo"));
            bind_text(q, 6, json_object_get(o, "dataset"));
            bind_text(q, 7, json_object_get(o, "env"));
            sqlite3_bind_int64(q, 8, json_integer_value(json_object_get(o, "seed")));
            sqlite3_bind_int64(q, 9, json_integer_value(json_object_get(o, "steps")));
            bind_real(q, 10, json_object_get(o, "score"));
            bind_real(q, 11, json_object_get(o, "return"));
            bind_json(q, 12, json_object_get(o, "curve"));
            bind_real(q, 13, json_object_get(o, "train_seconds"));
            bind_real(q, 14, json_object_get(o, "seconds"));
            sqlite3_bind_int64(q, 15, json_integer_value(json_object_get(o, "peak_rss_kb")));
            bind_text(q, 16, json_object_get(json_object_get(o, "versions"), "orl"));
            bind_json(q, 17, json_object_get(o, "hyperparameters"));
            bind_text(q, 18, json_object_get(o, "dataset_hash"));
            if (sqlite3_step(q) != SQLITE_DONE)
                st = db_fail(db, db_path, "inserting a run");
            else
                (*merged)++;
        }
        json_decref(o);
    }
    if (st == ORL_OK) {
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            st = db_fail(db, db_path, "committing");
        else
            in_tx = 0;
    }
done:
    sqlite3_finalize(q);
    if (in_tx) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return st;
}

/* merges DIR's results and reads this suite's catalog rows back into t */
static orl_status load(const char *dir, table *t) {
    memset(t, 0, sizeof *t);
    ORL_TRY(orl_bench_open(dir, &t->s));
    int64_t merged = 0;
    orl_status st = merge(dir, t->s, &merged);
    if (st != ORL_OK) {
        table_free(t);
        return st;
    }
    t->runs = calloc((size_t)t->s->n_jobs, sizeof *t->runs);
    if (!t->runs) {
        table_free(t);
        ORL_FAIL(ORL_ERR_NOMEM, "report: out of memory");
    }
    char db_path[1024];
    snprintf(db_path, sizeof db_path, "%s/results.sqlite", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT job, learner, dataset, seed, score, curve, train_seconds, "
                           "peak_rss_kb FROM bench_runs WHERE suite = ?1 ORDER BY job",
                           -1, &q, NULL) != SQLITE_OK) {
        st = db ? db_fail(db, db_path, "reading the catalog")
                : orl_error_set(ORL_ERR_NOMEM, "%s: sqlite", db_path);
    } else {
        sqlite3_bind_text(q, 1, t->s->name, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(q) == SQLITE_ROW) {
            int64_t k = sqlite3_column_int64(q, 0);
            if (k < 0 || k >= t->s->n_jobs) continue;
            const orl_bench_job *J = &t->s->jobs[k];
            const char *learner = (const char *)sqlite3_column_text(q, 1);
            const char *dataset = (const char *)sqlite3_column_text(q, 2);
            /* rows of another suite of the same name (another directory's catalog) */
            if (!learner || !dataset || strcmp(learner, t->s->learners[J->learner].name) != 0 ||
                strcmp(dataset, t->s->datasets[J->dataset].name) != 0 ||
                sqlite3_column_int64(q, 3) != J->seed)
                continue;
            run *r = &t->runs[k];
            r->have = sqlite3_column_type(q, 4) != SQLITE_NULL;
            r->score = r->have ? sqlite3_column_double(q, 4) : NAN;
            r->train_seconds = sqlite3_column_double(q, 6);
            r->peak_rss_kb = sqlite3_column_int64(q, 7);
            const char *curve = (const char *)sqlite3_column_text(q, 5);
            json_t *c = curve ? json_loads(curve, 0, NULL) : NULL;
            json_t *steps = json_object_get(c, "step"), *scores = json_object_get(c, "score");
            for (size_t i = 0; i < json_array_size(steps) && i < MAX_POINTS; i++) {
                r->step[i] = json_integer_value(json_array_get(steps, i));
                json_t *v = json_array_get(scores, i);
                r->point[i] = json_is_number(v) ? json_number_value(v) : NAN;
                r->n_points = (int32_t)i + 1;
            }
            json_decref(c);
            t->n_results += r->have;
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    if (st == ORL_OK && t->n_results == 0)
        st = orl_error_set(ORL_ERR_INPUT, "%s: no results yet (run orl bench run or run-job)", dir);
    if (st != ORL_OK) table_free(t);
    return st;
}

/* ---- statistics of a table ---- */

/* a bootstrap seed for the statistic at (a, b, c) of the report: splitmix64 of the mix */
static uint64_t seed_at(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (1 + a + 1000 * b + 1000000 * c);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* the scores of learner l on dataset d (job order = seed order), into x; returns the count */
static int64_t cell_scores(const table *t, int32_t d, int32_t l, double *x) {
    int64_t n = 0;
    for (int64_t k = 0; k < t->s->n_jobs; k++) {
        const orl_bench_job *J = &t->s->jobs[k];
        if (J->dataset == d && J->learner == l && t->runs[k].have && isfinite(t->runs[k].score))
            x[n++] = t->runs[k].score;
    }
    return n;
}

/* learner l's runs over the datasets where it has any: x (runs), off (T+1); returns T */
static int32_t learner_tasks(const table *t, int32_t l, double *x, int64_t *off, int32_t *which) {
    int32_t T = 0;
    off[0] = 0;
    for (int32_t d = 0; d < t->s->n_datasets; d++) {
        int64_t n = cell_scores(t, d, l, x + off[T]);
        if (n == 0) continue;
        if (which) which[T] = d;
        off[T + 1] = off[T] + n;
        T++;
    }
    return T;
}

static json_t *interval_json(const orl_interval *v) {
    json_t *o = json_object();
    json_object_set_new(o, "value", isfinite(v->value) ? json_real(v->value) : json_null());
    json_object_set_new(o, "lo", isfinite(v->lo) ? json_real(v->lo) : json_null());
    json_object_set_new(o, "hi", isfinite(v->hi) ? json_real(v->hi) : json_null());
    return o;
}

static void fmt_interval(char *buf, size_t cap, const orl_interval *v, int bold) {
    if (!isfinite(v->value))
        snprintf(buf, cap, "—");
    else
        snprintf(buf, cap, "%s%.1f%s [%.1f, %.1f]", bold ? "**" : "", v->value, bold ? "**" : "",
                 v->lo, v->hi);
}

/* the mean normalised episode return of dataset d's file, NaN when unreadable */
static double data_score(const orl_bench_suite *s, int32_t d) {
    char path[1024];
    orl_bench_dataset_file(s, d, path, sizeof path);
    orl_dataset *ds = NULL;
    if (!orl_fs_exists(path) || orl_dataset_read(path, NULL, NULL, &ds) != ORL_OK) {
        orl_error_clear();
        return NAN;
    }
    double *ret = malloc((size_t)ds->n_episodes * sizeof(double));
    double mean = NAN;
    if (ret && ds->n_episodes > 0 && orl_episode_returns(ds, 1.0, ret) == ORL_OK) {
        double sum = 0.0;
        for (int64_t e = 0; e < ds->n_episodes; e++) sum += ret[e];
        mean = orl_normalized_score(s->datasets[d].env, sum / (double)ds->n_episodes);
    }
    orl_error_clear();
    free(ret);
    orl_dataset_free(ds);
    return mean;
}

/* every statistic of the report, computed once */
typedef struct stats {
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
} stats;

static void stats_free(stats *st) {
    free(st->cell);
    memset(st, 0, sizeof *st);
}

static orl_status compute(const table *t, const orl_bench_report_options *opt, int with_data,
                          stats *out) {
    const orl_bench_suite *s = t->s;
    int32_t D = s->n_datasets, L = s->n_learners;
    memset(out, 0, sizeof *out);
    out->D = D;
    out->L = L;
    /* one allocation: intervals, then counts, then doubles, then scratch */
    size_t n_int = (size_t)(D * L * 3 + L * ORL_STAT_COUNT + L * N_TAU + L * L);
    size_t n_runs = (size_t)s->n_jobs;
    size_t bytes = n_int * sizeof(orl_interval) + (size_t)(D * L + L) * sizeof(int64_t) +
                   (size_t)L * sizeof(int32_t) + (size_t)D * sizeof(double) +
                   2 * n_runs * sizeof(double) + 4 * (size_t)(D + 1) * sizeof(int64_t) +
                   (size_t)D * sizeof(int32_t) * 2 + 64;
    char *mem = calloc(1, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "report: out of memory");
    out->cell = (orl_interval *)mem;
    out->agg = out->cell + D * L * 3;
    out->prof = out->agg + L * ORL_STAT_COUNT;
    out->impr = out->prof + L * N_TAU;
    out->cell_n = (int64_t *)(out->impr + L * L);
    out->runs = out->cell_n + D * L;
    double *x = (double *)(out->runs + L);        /* (n_runs) */
    double *y = x + n_runs;                       /* (n_runs) */
    out->data = y + n_runs;                       /* (D) */
    int64_t *xoff = (int64_t *)(out->data + D);   /* (D+1) */
    int64_t *yoff = xoff + D + 1;                 /* (D+1) */
    int64_t *cx = yoff + D + 1, *cy = cx + D + 1; /* (D+1) each: common tasks */
    out->tasks = (int32_t *)(cy + D + 1);         /* (L) */
    int32_t *wx = out->tasks + L, *wy = wx + D;   /* (D) each: task datasets */
    orl_status st = ORL_OK;
    static const orl_stat cell_stats[3] = {ORL_STAT_MEAN, ORL_STAT_MEDIAN, ORL_STAT_IQM};

    for (int32_t d = 0; d < D; d++) out->data[d] = with_data ? data_score(s, d) : NAN;

    /* per (dataset, learner): over seeds */
    for (int32_t d = 0; d < D && st == ORL_OK; d++)
        for (int32_t l = 0; l < L && st == ORL_OK; l++) {
            int64_t n = cell_scores(t, d, l, x);
            out->cell_n[d * L + l] = n;
            for (int k = 0; k < 3 && st == ORL_OK; k++) {
                orl_interval *v = &out->cell[(d * L + l) * 3 + k];
                *v = (orl_interval){NAN, NAN, NAN};
                if (n > 0)
                    st = orl_stats_bootstrap(
                        cell_stats[k], x, n, opt->reps,
                        seed_at(opt->seed, 1, (uint64_t)(d * L + l), (uint64_t)k), opt->level, v);
            }
        }

    /* per learner across datasets: stratified */
    double lo = 0.0, hi = 100.0;
    for (int64_t k = 0; k < s->n_jobs; k++)
        if (t->runs[k].have && isfinite(t->runs[k].score)) {
            lo = fmin(lo, t->runs[k].score);
            hi = fmax(hi, t->runs[k].score);
        }
    for (int32_t i = 0; i < N_TAU; i++) out->tau[i] = lo + (hi - lo) * i / (N_TAU - 1);
    for (int32_t l = 0; l < L && st == ORL_OK; l++) {
        int32_t T = learner_tasks(t, l, x, xoff, NULL);
        out->tasks[l] = T;
        out->runs[l] = T ? xoff[T] : 0;
        for (int k = 0; k < ORL_STAT_COUNT && st == ORL_OK; k++) {
            orl_interval *v = &out->agg[l * ORL_STAT_COUNT + k];
            *v = (orl_interval){NAN, NAN, NAN};
            if (T > 0)
                st = orl_stats_bootstrap_stratified((orl_stat)k, x, xoff, T, opt->reps,
                                                    seed_at(opt->seed, 2, (uint64_t)l, (uint64_t)k),
                                                    opt->level, v);
        }
        for (int32_t i = 0; i < N_TAU; i++)
            out->prof[l * N_TAU + i] = (orl_interval){NAN, NAN, NAN};
        if (T > 0 && st == ORL_OK)
            st = orl_stats_profile(x, xoff, T, out->tau, N_TAU, opt->reps,
                                   seed_at(opt->seed, 3, (uint64_t)l, 0), opt->level,
                                   &out->prof[l * N_TAU]);
    }

    /* P(X > Y) for every ordered pair, over the datasets both ran */
    for (int32_t a = 0; a < L && st == ORL_OK; a++)
        for (int32_t b = 0; b < L && st == ORL_OK; b++) {
            orl_interval *v = &out->impr[a * L + b];
            *v = (orl_interval){NAN, NAN, NAN};
            if (a == b) continue;
            int32_t Ta = learner_tasks(t, a, x, xoff, wx), Tb = learner_tasks(t, b, y, yoff, wy);
            /* keep the common datasets, compacting both in place (in dataset order) */
            int32_t T = 0, j = 0;
            cx[0] = cy[0] = 0;
            for (int32_t i = 0; i < Ta; i++) {
                while (j < Tb && wy[j] < wx[i]) j++;
                if (j == Tb || wy[j] != wx[i]) continue;
                int64_t nx = xoff[i + 1] - xoff[i], ny = yoff[j + 1] - yoff[j];
                memmove(x + cx[T], x + xoff[i], (size_t)nx * sizeof(double));
                memmove(y + cy[T], y + yoff[j], (size_t)ny * sizeof(double));
                cx[T + 1] = cx[T] + nx;
                cy[T + 1] = cy[T] + ny;
                T++;
            }
            if (T > 0)
                st = orl_stats_improvement(x, cx, y, cy, T, opt->reps,
                                           seed_at(opt->seed, 4, (uint64_t)a, (uint64_t)b),
                                           opt->level, v);
        }
    if (st != ORL_OK) stats_free(out);
    return st;
}

/* ---- learning curves: per (dataset, learner), the mean over seeds at each point and a
 * bootstrap interval of that mean ---- */

typedef struct curve_band {
    int32_t n;
    int64_t step[MAX_POINTS];
    orl_interval v[MAX_POINTS];
} curve_band;

static orl_status curve_of(const table *t, int32_t d, int32_t l,
                           const orl_bench_report_options *opt, curve_band *out) {
    out->n = 0;
    double x[ORL_BENCH_MAX_SEEDS];
    int32_t n_points = MAX_POINTS;
    const run *first = NULL;
    for (int64_t k = 0; k < t->s->n_jobs; k++) {
        const orl_bench_job *J = &t->s->jobs[k];
        if (J->dataset != d || J->learner != l || !t->runs[k].have) continue;
        if (!first) first = &t->runs[k];
        if (t->runs[k].n_points < n_points) n_points = t->runs[k].n_points;
    }
    if (!first) return ORL_OK;
    for (int32_t i = 0; i < n_points; i++) {
        int64_t n = 0;
        for (int64_t k = 0; k < t->s->n_jobs; k++) {
            const orl_bench_job *J = &t->s->jobs[k];
            if (J->dataset == d && J->learner == l && t->runs[k].have &&
                isfinite(t->runs[k].point[i]))
                x[n++] = t->runs[k].point[i];
        }
        if (n == 0) continue;
        out->step[out->n] = first->step[i];
        ORL_TRY(orl_stats_bootstrap(
            ORL_STAT_MEAN, x, n, opt->reps,
            seed_at(opt->seed, 5, (uint64_t)(d * t->s->n_learners + l), (uint64_t)i), opt->level,
            &out->v[out->n]));
        out->n++;
    }
    return ORL_OK;
}

/* ---- the literature's order ----
 * On imperfect data (medium-replay; stitching "diverse" sets) the offline RL papers report IQL
 * and CQL above BC, with filtered BC (%BC, our fbc) between (Kostrikov et al. 2021, Table 1;
 * Kumar et al. 2020). Checked per such dataset on the IQMs, saying whether the intervals
 * separate; learners are found by algorithm (the first label of each). */

typedef struct claim {
    const char *text;
    int holds;    /* 1 holds, 0 does not, -1 not checkable (a learner missing) */
    int separate; /* the intervals separate in the claimed direction */
} claim;

static int learner_of(const orl_bench_suite *s, const char *algo) {
    for (int32_t l = 0; l < s->n_learners; l++)
        if (strcmp(s->learners[l].algo, algo) == 0) return l;
    return -1;
}

static int literature_dataset(const orl_bench_suite *s, int32_t d) {
    return !s->datasets[d].path[0] && (strstr(s->datasets[d].behavior, "replay") ||
                                       strstr(s->datasets[d].behavior, "diverse"));
}

/* the claims on dataset d (3 of them): IQL > BC, CQL > BC, BC <= FBC <= max(IQL, CQL) */
static void literature(const orl_bench_suite *s, const stats *S, int32_t d, claim out[3]) {
    int32_t L = S->L;
    int bc = learner_of(s, "bc"), fbc = learner_of(s, "fbc");
    int rl[2] = {learner_of(s, "iql"), learner_of(s, "cql")};
    static const char *const above[2] = {"IQL above BC", "CQL above BC"};
#define IQM(l) (&S->cell[(d * L + (l)) * 3 + 2])
    for (int k = 0; k < 2; k++) {
        out[k] = (claim){above[k], -1, 0};
        if (rl[k] < 0 || bc < 0 || !isfinite(IQM(rl[k])->value) || !isfinite(IQM(bc)->value))
            continue;
        out[k].holds = IQM(rl[k])->value > IQM(bc)->value;
        out[k].separate = IQM(rl[k])->lo > IQM(bc)->hi;
    }
    out[2] = (claim){"%BC (fbc) between BC and the better of IQL and CQL", -1, 0};
    int best = -1;
    for (int k = 0; k < 2; k++)
        if (rl[k] >= 0 && isfinite(IQM(rl[k])->value) &&
            (best < 0 || IQM(rl[k])->value > IQM(best)->value))
            best = rl[k];
    if (best >= 0 && bc >= 0 && fbc >= 0 && isfinite(IQM(fbc)->value) && isfinite(IQM(bc)->value)) {
        out[2].holds = IQM(bc)->value <= IQM(fbc)->value && IQM(fbc)->value <= IQM(best)->value;
        out[2].separate = IQM(bc)->hi < IQM(fbc)->lo && IQM(fbc)->hi < IQM(best)->lo;
    }
#undef IQM
}

/* ---- report.md ---- */

static void write_md(FILE *f, const table *t, const stats *S, const orl_bench_report_options *opt) {
    const orl_bench_suite *s = t->s;
    int32_t D = S->D, L = S->L;
    char buf[128];
    fprintf(f, "# orl bench: suite `%s`\n\n%s\n\n", s->name, s->description);
    fprintf(f,
            "%lld results of %lld jobs (%d seeds). Normalised scores (0 random, 100 expert; "
            "docs/reference-scores.md). Intervals: %.0f%% percentile bootstrap, %lld resamples, "
            "seed %llu; aggregates resample runs within each dataset (stratified).\n\n",
            (long long)t->n_results, (long long)s->n_jobs, s->seeds, 100.0 * opt->level,
            (long long)opt->reps, (unsigned long long)opt->seed);

    fprintf(f, "## Per dataset: IQM [CI] over seeds\n\n");
    fprintf(f, "Bold: the best IQM, only when its interval lies above every other learner's.\n\n");
    fprintf(f, "| dataset | data |");
    for (int32_t l = 0; l < L; l++) fprintf(f, " %s |", s->learners[l].name);
    fprintf(f, "\n|---|---|");
    for (int32_t l = 0; l < L; l++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int32_t d = 0; d < D; d++) {
        /* the best IQM, bold when its lower end is above every other upper end */
        int32_t best = -1;
        for (int32_t l = 0; l < L; l++) {
            const orl_interval *v = &S->cell[(d * L + l) * 3 + 2];
            if (isfinite(v->value) &&
                (best < 0 || v->value > S->cell[(d * L + best) * 3 + 2].value))
                best = l;
        }
        int separate = best >= 0;
        for (int32_t l = 0; best >= 0 && l < L; l++) {
            const orl_interval *v = &S->cell[(d * L + l) * 3 + 2];
            if (l != best && isfinite(v->value) && !(S->cell[(d * L + best) * 3 + 2].lo > v->hi))
                separate = 0;
        }
        fprintf(f, "| %s |", s->datasets[d].name);
        if (isfinite(S->data[d]))
            fprintf(f, " %.1f |", S->data[d]);
        else
            fprintf(f, " — |");
        for (int32_t l = 0; l < L; l++) {
            fmt_interval(buf, sizeof buf, &S->cell[(d * L + l) * 3 + 2], separate && l == best);
            fprintf(f, " %s |", buf);
        }
        fprintf(f, "\n");
    }

    fprintf(f, "\n## Aggregate over datasets (stratified bootstrap)\n\n");
    fprintf(f, "| learner | datasets | runs | IQM | median | mean | optimality gap |\n"
               "|---|---|---|---|---|---|---|\n");
    static const orl_stat order[4] = {ORL_STAT_IQM, ORL_STAT_MEDIAN, ORL_STAT_MEAN,
                                      ORL_STAT_OPTIMALITY_GAP};
    for (int32_t l = 0; l < L; l++) {
        fprintf(f, "| %s | %d | %lld |", s->learners[l].name, S->tasks[l], (long long)S->runs[l]);
        for (int k = 0; k < 4; k++) {
            fmt_interval(buf, sizeof buf, &S->agg[l * ORL_STAT_COUNT + (int)order[k]], 0);
            fprintf(f, " %s |", buf);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\nA learner's aggregate is over the datasets it ran (a learner for one action "
               "kind has fewer).\n");

    fprintf(f, "\n## Probability of improvement P(row > column)\n\n"
               "Over the datasets both learners ran; ties count 1/2.\n\n| |");
    for (int32_t l = 0; l < L; l++) fprintf(f, " %s |", s->learners[l].name);
    fprintf(f, "\n|---|");
    for (int32_t l = 0; l < L; l++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int32_t a = 0; a < L; a++) {
        fprintf(f, "| %s |", s->learners[a].name);
        for (int32_t b = 0; b < L; b++) {
            const orl_interval *v = &S->impr[a * L + b];
            if (a == b || !isfinite(v->value))
                fprintf(f, " — |");
            else
                fprintf(f, " %.2f [%.2f, %.2f] |", v->value, v->lo, v->hi);
        }
        fprintf(f, "\n");
    }

    fprintf(f, "\n## Per dataset: mean and median [CI] over seeds\n\n"
               "| dataset | learner | runs | mean | median |\n|---|---|---|---|---|\n");
    for (int32_t d = 0; d < D; d++)
        for (int32_t l = 0; l < L; l++) {
            if (S->cell_n[d * L + l] == 0) continue;
            char m[96], md[96];
            fmt_interval(m, sizeof m, &S->cell[(d * L + l) * 3 + 0], 0);
            fmt_interval(md, sizeof md, &S->cell[(d * L + l) * 3 + 1], 0);
            fprintf(f, "| %s | %s | %lld | %s | %s |\n", s->datasets[d].name, s->learners[l].name,
                    (long long)S->cell_n[d * L + l], m, md);
        }

    int any = 0;
    for (int32_t d = 0; d < D; d++) any |= literature_dataset(s, d);
    if (any) {
        fprintf(f, "\n## The literature's order on imperfect data\n\n"
                   "On medium-replay (and stitching) data the offline RL papers report IQL and "
                   "CQL above BC, with %%BC between. Checked on the IQMs above; \"separate\": "
                   "the intervals do not overlap.\n\n| dataset | claim | holds |\n|---|---|---|\n");
        for (int32_t d = 0; d < D; d++) {
            if (!literature_dataset(s, d)) continue;
            claim c[3];
            literature(s, S, d, c);
            for (int k = 0; k < 3; k++)
                fprintf(f, "| %s | %s | %s |\n", s->datasets[d].name, c[k].text,
                        c[k].holds < 0  ? "— (a learner is missing)"
                        : !c[k].holds   ? "**no**"
                        : c[k].separate ? "yes, separate"
                                        : "yes, intervals overlap");
        }
    }

    if (opt->times) {
        fprintf(f, "\n## Training time and memory per run\n\n"
                   "Seconds of training (with the learning-curve evaluations) per run, and the "
                   "peak resident memory of the job's process.\n\n"
                   "| dataset | learner | runs | seconds: mean (min–max) | peak RSS (MB, max) |\n"
                   "|---|---|---|---|---|\n");
        for (int32_t d = 0; d < D; d++)
            for (int32_t l = 0; l < L; l++) {
                double sum = 0.0, mn = INFINITY, mx = 0.0;
                int64_t n = 0, rss = 0;
                for (int64_t k = 0; k < s->n_jobs; k++) {
                    const orl_bench_job *J = &s->jobs[k];
                    if (J->dataset != d || J->learner != l || !t->runs[k].have) continue;
                    double sec = t->runs[k].train_seconds;
                    sum += sec;
                    mn = fmin(mn, sec);
                    mx = fmax(mx, sec);
                    if (t->runs[k].peak_rss_kb > rss) rss = t->runs[k].peak_rss_kb;
                    n++;
                }
                if (n == 0) continue;
                fprintf(f, "| %s | %s | %lld | %.2f (%.2f–%.2f) | %.1f |\n", s->datasets[d].name,
                        s->learners[l].name, (long long)n, sum / (double)n, mn, mx,
                        (double)rss / 1024.0);
            }
    }
}

/* ---- report.json ---- */

static json_t *report_json(const table *t, const stats *S, const orl_bench_report_options *opt,
                           const curve_band *bands) {
    const orl_bench_suite *s = t->s;
    int32_t D = S->D, L = S->L;
    json_t *root = json_object();
    json_object_set_new(root, "suite", json_string(s->name));
    json_object_set_new(root, "orl_version", json_string(ORL_VERSION));
    json_object_set_new(root, "results", json_integer(t->n_results));
    json_object_set_new(root, "jobs", json_integer(s->n_jobs));
    json_t *b = json_object();
    json_object_set_new(b, "reps", json_integer(opt->reps));
    json_object_set_new(b, "seed", json_integer((json_int_t)opt->seed));
    json_object_set_new(b, "level", json_real(opt->level));
    json_object_set_new(root, "bootstrap", b);

    json_t *per = json_array();
    for (int32_t d = 0; d < D; d++)
        for (int32_t l = 0; l < L; l++) {
            if (S->cell_n[d * L + l] == 0) continue;
            json_t *o = json_object();
            json_object_set_new(o, "dataset", json_string(s->datasets[d].name));
            json_object_set_new(o, "learner", json_string(s->learners[l].name));
            json_object_set_new(o, "runs", json_integer(S->cell_n[d * L + l]));
            json_object_set_new(o, "data_score",
                                isfinite(S->data[d]) ? json_real(S->data[d]) : json_null());
            json_object_set_new(o, "mean", interval_json(&S->cell[(d * L + l) * 3 + 0]));
            json_object_set_new(o, "median", interval_json(&S->cell[(d * L + l) * 3 + 1]));
            json_object_set_new(o, "iqm", interval_json(&S->cell[(d * L + l) * 3 + 2]));
            const curve_band *c = &bands[d * L + l];
            json_t *cs = json_array(), *cv = json_array();
            for (int32_t i = 0; i < c->n; i++) {
                json_array_append_new(cs, json_integer(c->step[i]));
                json_array_append_new(cv, interval_json(&c->v[i]));
            }
            json_t *curve = json_object();
            json_object_set_new(curve, "step", cs);
            json_object_set_new(curve, "mean", cv);
            json_object_set_new(o, "curve", curve);
            json_array_append_new(per, o);
        }
    json_object_set_new(root, "per_dataset", per);

    json_t *agg = json_array();
    for (int32_t l = 0; l < L; l++) {
        json_t *o = json_object();
        json_object_set_new(o, "learner", json_string(s->learners[l].name));
        json_object_set_new(o, "datasets", json_integer(S->tasks[l]));
        json_object_set_new(o, "runs", json_integer(S->runs[l]));
        for (int k = 0; k < ORL_STAT_COUNT; k++)
            json_object_set_new(o, orl_stat_name((orl_stat)k),
                                interval_json(&S->agg[l * ORL_STAT_COUNT + k]));
        json_t *prof = json_array();
        for (int32_t i = 0; i < N_TAU; i++)
            json_array_append_new(prof, interval_json(&S->prof[l * N_TAU + i]));
        json_object_set_new(o, "profile", prof);
        json_array_append_new(agg, o);
    }
    json_object_set_new(root, "aggregate", agg);
    json_t *tau = json_array();
    for (int32_t i = 0; i < N_TAU; i++) json_array_append_new(tau, json_real(S->tau[i]));
    json_object_set_new(root, "profile_tau", tau);

    json_t *impr = json_array();
    for (int32_t a = 0; a < L; a++)
        for (int32_t c = 0; c < L; c++) {
            if (a == c || !isfinite(S->impr[a * L + c].value)) continue;
            json_t *o = json_object();
            json_object_set_new(o, "x", json_string(s->learners[a].name));
            json_object_set_new(o, "y", json_string(s->learners[c].name));
            json_object_set_new(o, "p", interval_json(&S->impr[a * L + c]));
            json_array_append_new(impr, o);
        }
    json_object_set_new(root, "improvement", impr);

    json_t *lit = json_array();
    for (int32_t d = 0; d < D; d++) {
        if (!literature_dataset(s, d)) continue;
        claim c[3];
        literature(s, S, d, c);
        for (int k = 0; k < 3; k++) {
            json_t *o = json_object();
            json_object_set_new(o, "dataset", json_string(s->datasets[d].name));
            json_object_set_new(o, "claim", json_string(c[k].text));
            json_object_set_new(o, "holds",
                                c[k].holds < 0 ? json_null() : json_boolean(c[k].holds));
            json_object_set_new(o, "separate", json_boolean(c[k].holds > 0 && c[k].separate));
            json_array_append_new(lit, o);
        }
    }
    json_object_set_new(root, "literature", lit);

    json_t *runs = json_array();
    for (int64_t k = 0; k < s->n_jobs; k++) {
        const run *r = &t->runs[k];
        if (!r->have) continue;
        const orl_bench_job *J = &s->jobs[k];
        json_t *o = json_object();
        json_object_set_new(o, "job", json_integer(k));
        json_object_set_new(o, "dataset", json_string(s->datasets[J->dataset].name));
        json_object_set_new(o, "learner", json_string(s->learners[J->learner].name));
        json_object_set_new(o, "seed", json_integer(J->seed));
        json_object_set_new(o, "score", isfinite(r->score) ? json_real(r->score) : json_null());
        if (opt->times) {
            json_object_set_new(o, "train_seconds", json_real(r->train_seconds));
            json_object_set_new(o, "peak_rss_kb", json_integer(r->peak_rss_kb));
        }
        json_array_append_new(runs, o);
    }
    json_object_set_new(root, "runs", runs);
    return root;
}

/* ---- plots (gnuplot) ---- */

/* 1 when an executable named name is on PATH */
static int on_path(const char *name) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char dir[4096];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, p, name);
        if (n > 0 && access(dir, X_OK) == 0) return 1;
        p += n;
        if (*p == ':') p++;
    }
    return 0;
}

/* a dataset name in a file name */
static void file_part(const char *name, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++)
        out[n++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
                       ? *p
                       : '_';
    out[n] = '\0';
}

/* 1 when some learner has a learning curve on dataset d */
static int has_curve(const curve_band *bands, int32_t d, int32_t L) {
    for (int32_t l = 0; l < L; l++)
        if (bands[d * L + l].n > 0) return 1;
    return 0;
}

static orl_status write_plot_files(const char *tmp, const table *t, const stats *S,
                                   const curve_band *bands) {
    const orl_bench_suite *s = t->s;
    int32_t D = S->D, L = S->L;
    char path[1400], part[160];
    snprintf(path, sizeof path, "%s/aggregate.dat", tmp);
    FILE *f = fopen(path, "w");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "# index learner iqm lo hi\n");
    for (int32_t l = 0; l < L; l++) {
        const orl_interval *v = &S->agg[l * ORL_STAT_COUNT + ORL_STAT_IQM];
        if (isfinite(v->value))
            fprintf(f, "%d \"%s\" %.6g %.6g %.6g\n", l, s->learners[l].name, v->value, v->lo,
                    v->hi);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/profile.dat", tmp);
    if (!(f = fopen(path, "w"))) ORL_FAIL(ORL_ERR_IO, "%s: cannot write", path);
    for (int32_t l = 0; l < L; l++) {
        fprintf(f, "# %s: tau fraction lo hi\n", s->learners[l].name);
        for (int32_t i = 0; i < N_TAU; i++) {
            const orl_interval *v = &S->prof[l * N_TAU + i];
            if (isfinite(v->value))
                fprintf(f, "%.6g %.6g %.6g %.6g\n", S->tau[i], v->value, v->lo, v->hi);
            else
                fprintf(f, "%.6g NaN NaN NaN\n", S->tau[i]);
        }
        fprintf(f, "\n\n");
    }
    fclose(f);
    for (int32_t d = 0; d < D; d++) {
        if (!has_curve(bands, d, L)) continue;
        file_part(s->datasets[d].name, part, sizeof part);
        snprintf(path, sizeof path, "%s/curves-%s.dat", tmp, part);
        if (!(f = fopen(path, "w"))) ORL_FAIL(ORL_ERR_IO, "%s: cannot write", path);
        for (int32_t l = 0; l < L; l++) {
            const curve_band *c = &bands[d * L + l];
            fprintf(f, "# %s: step mean lo hi\n", s->learners[l].name);
            for (int32_t i = 0; i < c->n; i++)
                fprintf(f, "%lld %.6g %.6g %.6g\n", (long long)c->step[i], c->v[i].value,
                        c->v[i].lo, c->v[i].hi);
            if (c->n == 0) fprintf(f, "0 NaN NaN NaN\n");
            fprintf(f, "\n\n");
        }
        fclose(f);
    }

    /* the script: every picture as PNG and SVG */
    snprintf(path, sizeof path, "%s/plots.gp", tmp);
    if (!(f = fopen(path, "w"))) ORL_FAIL(ORL_ERR_IO, "%s: cannot write", path);
    fprintf(f, "# orl bench report: run with gnuplot in this directory\nnames = \"");
    for (int32_t l = 0; l < L; l++) fprintf(f, "%s%s", l ? " " : "", s->learners[l].name);
    fprintf(f, "\"\nL = %d\nset key outside right\nset grid\n", L);
    static const char *const terms[2][2] = {{"pngcairo size 960,540", "png"},
                                            {"svg size 960,540", "svg"}};
    for (int k = 0; k < 2; k++) {
        fprintf(f, "set terminal %s\n", terms[k][0]);
        fprintf(f,
                "set output 'aggregate.%s'\nset title 'Aggregate IQM (%.0f%% stratified "
                "bootstrap CI)'\nset ylabel 'normalised score'\nset xlabel ''\n"
                "set xrange [-0.5:%d-0.5]\nset style fill solid 0.4\nset boxwidth 0.6\n"
                "plot 'aggregate.dat' using 1:3:xtic(2) with boxes notitle, "
                "'' using 1:3:4:5 with yerrorbars lc black pt 0 notitle\n",
                terms[k][1], 95.0, L);
        fprintf(f,
                "unset xrange\nset xtics auto\nset output 'profiles.%s'\n"
                "set title 'Performance profiles (fraction of runs above tau, with bands)'\n"
                "set xlabel 'normalised score tau'\nset ylabel 'fraction of runs > tau'\n"
                "set yrange [0:1.05]\nset style fill transparent solid 0.2 noborder\n"
                "plot for [i=0:L-1] 'profile.dat' index i using 1:3:4 with filledcurves "
                "lc i+1 notitle, for [i=0:L-1] 'profile.dat' index i using 1:2 with lines "
                "lw 2 lc i+1 title word(names, i+1)\nunset yrange\n",
                terms[k][1]);
        for (int32_t d = 0; d < D; d++) {
            if (!has_curve(bands, d, L)) continue; /* no run yet: nothing to draw */
            file_part(s->datasets[d].name, part, sizeof part);
            fprintf(f,
                    "set output 'curves-%s.%s'\nset title 'Learning curves: %s (mean over "
                    "seeds, bootstrap band)'\nset xlabel 'gradient steps'\n"
                    "set ylabel 'normalised score'\n"
                    "plot for [i=0:L-1] 'curves-%s.dat' index i using 1:3:4 with filledcurves "
                    "lc i+1 notitle, for [i=0:L-1] 'curves-%s.dat' index i using 1:2 with "
                    "linespoints lw 2 lc i+1 title word(names, i+1)\n",
                    part, terms[k][1], s->datasets[d].name, part, part);
        }
        fprintf(f, "unset output\n");
    }
    fclose(f);
    return ORL_OK;
}

/* draws the plots into DIR/plots (through a temporary directory); sets *plotted and note */
static orl_status plot(const char *dir, const table *t, const stats *S, const curve_band *bands,
                       orl_bench_report_summary *sum) {
    sum->plotted = 0;
    if (!on_path("gnuplot")) {
        snprintf(sum->note, sizeof sum->note,
                 "gnuplot is not on PATH; install it (Debian: gnuplot-nox) for the pictures");
        return ORL_OK;
    }
    char final[1024], tmp[1200], abs_tmp[PATH_MAX];
    snprintf(final, sizeof final, "%s/plots", dir);
    ORL_TRY(orl_fs_temp_name(final, tmp, sizeof tmp));
    if (mkdir(tmp, 0755) != 0) ORL_FAIL(ORL_ERR_IO, "%s: cannot make: %s", tmp, strerror(errno));
    orl_status st = write_plot_files(tmp, t, S, bands);
    if (st == ORL_OK && (!realpath(tmp, abs_tmp) || strchr(abs_tmp, '\''))) {
        snprintf(sum->note, sizeof sum->note, "the directory's path has a quote: no plots");
        orl_fs_remove(tmp);
        return ORL_OK;
    }
    if (st == ORL_OK) {
        /* gnuplot runs the script from its directory (the script's first line changes there) */
        char script[PATH_MAX + 64], log[PATH_MAX + 64], cd[PATH_MAX + 64];
        snprintf(script, sizeof script, "%s/plots.gp", abs_tmp);
        snprintf(log, sizeof log, "%s/gnuplot.log", abs_tmp);
        snprintf(cd, sizeof cd, "cd '%s'", abs_tmp);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log, 01 | 0100 | 01000,
                                         0644); /* O_WRONLY|O_CREAT|O_TRUNC */
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        char *argv[] = {"gnuplot", "-e", cd, script, NULL};
        pid_t pid;
        int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        int status = 0;
        if (rc == 0) waitpid(pid, &status, 0);
        if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            snprintf(sum->note, sizeof sum->note, "gnuplot failed (see %s/plots/gnuplot.log)", dir);
        } else {
            sum->plotted = 1;
        }
    }
    if (st == ORL_OK) {
        orl_fs_remove(final);
        st = orl_fs_commit(tmp, final);
    }
    if (st != ORL_OK) orl_fs_remove(tmp);
    return st;
}

/* ---- the report and the comparison ---- */

static orl_status write_file(const char *path, const char *text, size_t len) {
    char tmp[1200];
    ORL_TRY(orl_fs_temp_name(path, tmp, sizeof tmp));
    FILE *f = fopen(tmp, "wb");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    int bad = fwrite(text, 1, len, f) != len;
    bad |= fclose(f) != 0;
    if (bad) {
        remove(tmp);
        ORL_FAIL(ORL_ERR_IO, "%s: write failed", tmp);
    }
    return orl_fs_commit(tmp, path);
}

static orl_status check_options(const orl_bench_report_options *opt) {
    if (opt->reps < 1 || !(opt->level > 0.0 && opt->level < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "report: expected reps >= 1 and a level in (0, 1)");
    return ORL_OK;
}

orl_status orl_bench_report(const char *dir, const orl_bench_report_options *opt,
                            orl_bench_report_summary *out) {
    orl_bench_report_options defaults;
    if (!opt) {
        orl_bench_report_options_init(&defaults);
        opt = &defaults;
    }
    ORL_TRY(check_options(opt));
    orl_bench_report_summary sum;
    memset(&sum, 0, sizeof sum);
    table t;
    ORL_TRY(load(dir, &t));
    sum.results = t.n_results;
    sum.missing = t.s->n_jobs - t.n_results;
    stats S;
    orl_status st = compute(&t, opt, 1, &S);
    if (st != ORL_OK) {
        table_free(&t);
        return st;
    }
    int32_t DL = S.D * S.L;
    curve_band *bands = calloc((size_t)DL, sizeof *bands);
    if (!bands) st = orl_error_set(ORL_ERR_NOMEM, "report: out of memory");
    for (int32_t i = 0; i < DL && st == ORL_OK; i++)
        st = curve_of(&t, i / S.L, i % S.L, opt, &bands[i]);

    char path[1024];
    char *text = NULL;
    size_t len = 0;
    if (st == ORL_OK) {
        FILE *f = open_memstream(&text, &len);
        if (!f) {
            st = orl_error_set(ORL_ERR_NOMEM, "report: out of memory");
        } else {
            write_md(f, &t, &S, opt);
            fclose(f);
            snprintf(path, sizeof path, "%s/report.md", dir);
            st = write_file(path, text, len);
        }
        free(text);
    }
    if (st == ORL_OK) {
        json_t *j = report_json(&t, &S, opt, bands);
        char *js = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        json_decref(j);
        if (!js) {
            st = orl_error_set(ORL_ERR_NOMEM, "report: out of memory");
        } else {
            size_t n = strlen(js);
            js[n] = '\n'; /* the closing newline replaces the terminator */
            snprintf(path, sizeof path, "%s/report.json", dir);
            st = write_file(path, js, n + 1);
            free(js);
        }
    }
    if (st == ORL_OK && opt->plots)
        st = plot(dir, &t, &S, bands, &sum);
    else if (st == ORL_OK)
        snprintf(sum.note, sizeof sum.note, "plots turned off");
    free(bands);
    stats_free(&S);
    table_free(&t);
    if (out) *out = sum;
    return st;
}

orl_status orl_bench_compare(const char *dir_a, const char *dir_b,
                             const orl_bench_report_options *opt, char **text,
                             int32_t *regressions) {
    orl_bench_report_options defaults;
    if (!opt) {
        orl_bench_report_options_init(&defaults);
        opt = &defaults;
    }
    ORL_TRY(check_options(opt));
    *text = NULL;
    *regressions = 0;
    table ta, tb;
    ORL_TRY(load(dir_a, &ta));
    orl_status st = load(dir_b, &tb);
    if (st != ORL_OK) {
        table_free(&ta);
        return st;
    }
    stats A, B;
    memset(&B, 0, sizeof B);
    st = compute(&ta, opt, 0, &A);
    if (st == ORL_OK) st = compute(&tb, opt, 0, &B);
    char *out = NULL;
    size_t len = 0;
    FILE *f = st == ORL_OK ? open_memstream(&out, &len) : NULL;
    if (st == ORL_OK && !f) st = orl_error_set(ORL_ERR_NOMEM, "compare: out of memory");
    if (f) {
        fprintf(f,
                "# orl bench compare\n\nA: %s (suite %s, %lld results)  \nB: %s (suite %s, %lld "
                "results)\n\nAggregate IQM [%.0f%% stratified bootstrap CI]; a regression is "
                "B's IQM below A's interval.\n\n| learner | A | B | B − A | verdict |\n"
                "|---|---|---|---|---|\n",
                dir_a, ta.s->name, (long long)ta.n_results, dir_b, tb.s->name,
                (long long)tb.n_results, 100.0 * opt->level);
        for (int32_t a = 0; a < A.L; a++) {
            int32_t b = -1;
            for (int32_t k = 0; k < B.L; k++)
                if (strcmp(ta.s->learners[a].name, tb.s->learners[k].name) == 0) b = k;
            const orl_interval *va = &A.agg[a * ORL_STAT_COUNT + ORL_STAT_IQM];
            char sa[96], sb[96] = "—";
            fmt_interval(sa, sizeof sa, va, 0);
            if (b < 0) {
                fprintf(f, "| %s | %s | — | — | only in A |\n", ta.s->learners[a].name, sa);
                continue;
            }
            const orl_interval *vb = &B.agg[b * ORL_STAT_COUNT + ORL_STAT_IQM];
            fmt_interval(sb, sizeof sb, vb, 0);
            const char *verdict = "same";
            if (isfinite(va->value) && isfinite(vb->value)) {
                if (vb->value < va->lo) {
                    verdict = "**worse**";
                    (*regressions)++;
                } else if (vb->value > va->hi) {
                    verdict = "better";
                }
            } else {
                verdict = "no scores";
            }
            fprintf(f, "| %s | %s | %s | %+.1f | %s |\n", ta.s->learners[a].name, sa, sb,
                    vb->value - va->value, verdict);
        }
        for (int32_t b = 0; b < B.L; b++) {
            int found = 0;
            for (int32_t a = 0; a < A.L; a++)
                found |= strcmp(ta.s->learners[a].name, tb.s->learners[b].name) == 0;
            if (!found) fprintf(f, "| %s | — | | | only in B |\n", tb.s->learners[b].name);
        }
        /* what moved per dataset: B's IQM outside A's interval (datasets and learners matched
         * by name; informative only: the exit status is the aggregate's) */
        int moved = 0;
        for (int32_t da = 0; da < A.D; da++) {
            int32_t db = -1;
            for (int32_t k = 0; k < B.D; k++)
                if (strcmp(ta.s->datasets[da].name, tb.s->datasets[k].name) == 0) db = k;
            for (int32_t a = 0; db >= 0 && a < A.L; a++) {
                int32_t b = -1;
                for (int32_t k = 0; k < B.L; k++)
                    if (strcmp(ta.s->learners[a].name, tb.s->learners[k].name) == 0) b = k;
                if (b < 0) continue;
                const orl_interval *va = &A.cell[(da * A.L + a) * 3 + 2];
                const orl_interval *vb = &B.cell[(db * B.L + b) * 3 + 2];
                if (!isfinite(va->value) || !isfinite(vb->value) ||
                    (vb->value >= va->lo && vb->value <= va->hi))
                    continue;
                if (!moved++)
                    fprintf(f, "\nPer dataset, IQM over seeds where B's lies outside A's "
                               "interval:\n\n| dataset | learner | A | B | B − A |\n"
                               "|---|---|---|---|---|\n");
                char sa[96], sb[96];
                fmt_interval(sa, sizeof sa, va, 0);
                fmt_interval(sb, sizeof sb, vb, 0);
                fprintf(f, "| %s | %s | %s | %s | %+.1f |\n", ta.s->datasets[da].name,
                        ta.s->learners[a].name, sa, sb, vb->value - va->value);
            }
        }
        if (!moved) fprintf(f, "\nPer dataset: every IQM of B lies within A's interval.\n");
        fprintf(f, "\n%d regression%s.\n", *regressions, *regressions == 1 ? "" : "s");
        fclose(f);
        *text = out;
    }
    stats_free(&A);
    stats_free(&B);
    table_free(&ta);
    table_free(&tb);
    return st;
}
