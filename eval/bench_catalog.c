/* The benchmark results catalog: merges a directory's job results (DIR/jobs/K.json) into its
 * SQLite catalog and reads this suite's rows back for the report and the comparison.
 *
 * The catalog is one table, created when absent, in WAL mode, written in one transaction per
 * merge (a result already there is replaced, so a merge is idempotent and a kill -9 of the
 * reporter leaves the catalog as it was before or after):
 *   bench_runs(suite TEXT, job INTEGER, label TEXT, learner TEXT, algorithm TEXT,
 *              dataset TEXT, env TEXT, seed INTEGER, steps INTEGER, score REAL, return REAL,
 *              curve TEXT (JSON), train_seconds REAL, seconds REAL, peak_rss_kb INTEGER,
 *              orl_version TEXT, hyperparameters TEXT (JSON), dataset_hash TEXT,
 *              PRIMARY KEY (suite, job))
 * label is the directory's name. Nothing here computes a statistic or writes a report. */
#define _DEFAULT_SOURCE /* realpath */
#include "eval/bench_internal.h"
#include "orl/fs.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_MS 10000

void orl_bench_table_free(orl_bench_table *t) {
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
orl_status orl_bench_table_load(const char *dir, orl_bench_table *t) {
    memset(t, 0, sizeof *t);
    ORL_TRY(orl_bench_open(dir, &t->s));
    int64_t merged = 0;
    orl_status st = merge(dir, t->s, &merged);
    if (st != ORL_OK) {
        orl_bench_table_free(t);
        return st;
    }
    t->runs = calloc((size_t)t->s->n_jobs, sizeof *t->runs);
    if (!t->runs) {
        orl_bench_table_free(t);
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
            orl_bench_result *r = &t->runs[k];
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
    if (st != ORL_OK) orl_bench_table_free(t);
    return st;
}
