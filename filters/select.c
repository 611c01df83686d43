/* Selection: per-episode keep masks (top K% by return, a minimum return, an SQL predicate) and
 * the dataset of the kept episodes.
 *
 * An SQL predicate never sees a writable database. The episodes table is built in a private
 * in-memory database, serialized, and deserialized into a second connection with
 * SQLITE_DESERIALIZE_READONLY; that connection has an authorizer that allows SELECT, column
 * reads and function calls only (no PRAGMA, ATTACH, writes, recursive CTEs), a progress handler
 * bounding the work, and the predicate must be one expression (no second statement). This file
 * does not touch files: the dataset on disk is never opened here. */
#include "orl/filters.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SQLite virtual-machine steps between progress callbacks, and the most a predicate may take
 * (about a second of work per 10^8) on top of a fixed budget per episode */
#define PROGRESS_OPS      10000
#define WORK_BUDGET_BASE  ((int64_t)200000000)
#define WORK_BUDGET_PER_E ((int64_t)2000)
#define MAX_PREDICATE     65536 /* characters */

/* ---- top K%, minimum return ---- */

typedef struct ranked {
    double ret;
    int64_t e;
} ranked;

/* higher return first; equal returns by lower episode index */
static int cmp_ranked(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->ret > b->ret) return -1;
    if (a->ret < b->ret) return 1;
    return (a->e > b->e) - (a->e < b->e);
}

orl_status orl_select_top(const orl_dataset *ds, double percent, double discount, uint8_t *keep) {
    assert(ds && keep);
    if (!(percent > 0.0 && percent <= 100.0))
        ORL_FAIL(ORL_ERR_INPUT, "top %g%%: expected a percentage in (0, 100]", percent);
    int64_t n_eps = ds->n_episodes;
    if (n_eps < 1) ORL_FAIL(ORL_ERR_INPUT, "top %g%%: the dataset has no episodes", percent);
    double *ret = malloc((size_t)n_eps * sizeof *ret);
    ranked *order = malloc((size_t)n_eps * sizeof *order);
    orl_status st = ORL_OK;
    if (!ret || !order)
        ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "top %g%%: %lld episodes", percent,
                      (long long)n_eps);
    ORL_TRY_GOTO(st, done, orl_episode_returns(ds, discount, ret));
    for (int64_t e = 0; e < n_eps; e++) {
        if (isnan(ret[e]))
            ORL_FAIL_GOTO(st, done, ORL_ERR_NUMERIC, "episode %lld: return is NaN", (long long)e);
        order[e] = (ranked){ret[e], e};
    }
    qsort(order, (size_t)n_eps, sizeof *order, cmp_ranked);
    /* ceil(E * K / 100), forgiving the rounding of K itself (10% of 30 is 3, not 4) */
    double exact = (double)n_eps * percent / 100.0;
    int64_t n_keep = (int64_t)ceil(exact - 1e-9 * fmax(1.0, exact));
    if (n_keep < 1) n_keep = 1;
    if (n_keep > n_eps) n_keep = n_eps;
    memset(keep, 0, (size_t)n_eps);
    for (int64_t i = 0; i < n_keep; i++) keep[order[i].e] = 1;
done:
    free(order);
    free(ret);
    return st;
}

orl_status orl_select_min_return(const orl_dataset *ds, double min_return, double discount,
                                 uint8_t *keep) {
    assert(ds && keep);
    if (isnan(min_return)) ORL_FAIL(ORL_ERR_INPUT, "min-return: expected a number, got NaN");
    int64_t n_eps = ds->n_episodes;
    if (n_eps < 1) return ORL_OK;
    double *ret = malloc((size_t)n_eps * sizeof *ret);
    if (!ret) ORL_FAIL(ORL_ERR_NOMEM, "min-return: %lld episodes", (long long)n_eps);
    orl_status st = orl_episode_returns(ds, discount, ret);
    if (st == ORL_OK)
        for (int64_t e = 0; e < n_eps; e++) keep[e] = ret[e] >= min_return;
    free(ret);
    return st;
}

/* ---- SQL predicates ---- */

static const char table_sql[] = "CREATE TABLE episodes(\n"
                                "  id INTEGER PRIMARY KEY,\n"
                                "  \"index\" INTEGER NOT NULL,\n"
                                "  first_step INTEGER NOT NULL,\n"
                                "  length INTEGER NOT NULL,\n"
                                "  return REAL NOT NULL,\n"
                                "  disc_return REAL,\n"
                                "  terminated INTEGER NOT NULL,\n"
                                "  timeout INTEGER NOT NULL,\n"
                                "  source TEXT NOT NULL,\n"
                                "  env_id TEXT NOT NULL,\n"
                                "  behavior TEXT NOT NULL,\n"
                                "  tool TEXT NOT NULL\n"
                                ");";

static orl_status db_error(sqlite3 *db, int rc, const char *what) {
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    orl_status st = (rc & 0xff) == SQLITE_NOMEM ? ORL_ERR_NOMEM : ORL_ERR_IO;
    return orl_error_set(st, "where: %s: %s", what, msg);
}

/* builds the episodes table in db (a fresh in-memory database) */
static orl_status fill_table(sqlite3 *db, const orl_dataset *ds, double discount) {
    int64_t n_eps = ds->n_episodes;
    double gamma = isnan(discount) ? ds->h.discount : discount;
    if (!isnan(gamma) && !(gamma >= 0.0 && gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "where: discount %g: expected a value in [0, 1]", gamma);
    double *ret = malloc((size_t)(n_eps > 0 ? n_eps : 1) * 2 * sizeof *ret);
    if (!ret) ORL_FAIL(ORL_ERR_NOMEM, "where: %lld episodes", (long long)n_eps);
    double *disc = ret + n_eps;
    orl_status st = orl_episode_returns(ds, 1.0, ret);
    if (st == ORL_OK && !isnan(gamma)) st = orl_episode_returns(ds, gamma, disc);
    if (st) {
        free(ret);
        return st;
    }
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_exec(db, table_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        st = db_error(db, rc, "creating the table");
        goto done;
    }
    rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        st = db_error(db, rc, "begin");
        goto done;
    }
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO episodes VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                            "?10, ?11)",
                            -1, &q, NULL);
    if (rc != SQLITE_OK) {
        st = db_error(db, rc, "preparing the insert");
        goto done;
    }
    for (int64_t e = 0; e < n_eps; e++) {
        int64_t lo = ds->ep_off[e], hi = ds->ep_off[e + 1];
        int terminated = hi > lo && ds->terminal[hi - 1];
        int cut = hi > lo && ds->timeout[hi - 1] && !terminated;
        sqlite3_bind_int64(q, 1, e);
        sqlite3_bind_int64(q, 2, lo);
        sqlite3_bind_int64(q, 3, hi - lo);
        sqlite3_bind_double(q, 4, ret[e]);
        if (isnan(gamma) || isnan(disc[e]))
            sqlite3_bind_null(q, 5);
        else
            sqlite3_bind_double(q, 5, disc[e]);
        sqlite3_bind_int(q, 6, terminated);
        sqlite3_bind_int(q, 7, cut);
        sqlite3_bind_text(q, 8, ds->h.source, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 9, ds->h.env_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 10, ds->h.behavior, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 11, ds->h.tool, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE) {
            st = db_error(db, rc, "inserting an episode");
            goto done;
        }
    }
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) st = db_error(db, rc, "commit");
done:
    sqlite3_finalize(q);
    free(ret);
    return st;
}

/* the predicate's connection may select, read and call functions; nothing else */
static int authorize(void *ctx, int action, const char *a, const char *b, const char *c,
                     const char *d) {
    (void)ctx, (void)a, (void)b, (void)c, (void)d;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
        return SQLITE_OK;
    default:
        return SQLITE_DENY;
    }
}

typedef struct work_budget {
    int64_t left; /* callbacks still allowed */
    int exhausted;
} work_budget;

static int on_progress(void *ctx) {
    work_budget *b = ctx;
    if (--b->left > 0) return 0;
    b->exhausted = 1;
    return 1;
}

/* 1 if s holds only white space and semicolons */
static int blank_tail(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s) && *s != ';') return 0;
    return 1;
}

orl_status orl_select_where(const orl_dataset *ds, const char *predicate, double discount,
                            uint8_t *keep) {
    assert(ds && predicate && keep);
    size_t len = strlen(predicate);
    if (len == 0 || blank_tail(predicate)) ORL_FAIL(ORL_ERR_INPUT, "where: the predicate is empty");
    if (len > MAX_PREDICATE)
        ORL_FAIL(ORL_ERR_INPUT, "where: the predicate is %zu characters (at most %d)", len,
                 MAX_PREDICATE);
    sqlite3 *build = NULL, *ro = NULL;
    sqlite3_stmt *q = NULL;
    unsigned char *image = NULL;
    char *sql = NULL;
    orl_status st = ORL_OK;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY |
                SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;

    /* the table, in a private database nobody else can reach */
    int rc = sqlite3_open_v2(":memory:", &build, flags, NULL);
    if (rc != SQLITE_OK) {
        st = db_error(build, rc, "opening an in-memory database");
        goto done;
    }
    ORL_TRY_GOTO(st, done, fill_table(build, ds, discount));
    sqlite3_int64 size = 0;
    image = sqlite3_serialize(build, "main", &size, 0);
    if (!image) {
        st = orl_error_set(ORL_ERR_NOMEM, "where: serializing the episodes table");
        goto done;
    }
    sqlite3_close(build);
    build = NULL;

    /* a read-only copy for the predicate: the image is owned by SQLite from here on */
    rc = sqlite3_open_v2(":memory:", &ro,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_MEMORY | SQLITE_OPEN_NOMUTEX |
                             SQLITE_OPEN_PRIVATECACHE,
                         NULL);
    if (rc != SQLITE_OK) {
        st = db_error(ro, rc, "opening a read-only database");
        goto done;
    }
    rc = sqlite3_deserialize(ro, "main", image, size, size,
                             SQLITE_DESERIALIZE_READONLY | SQLITE_DESERIALIZE_FREEONCLOSE);
    image = NULL;
    if (rc != SQLITE_OK) {
        st = db_error(ro, rc, "loading the episodes table");
        goto done;
    }
    sqlite3_db_config(ro, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(ro, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(ro, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_limit(ro, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(ro, SQLITE_LIMIT_LENGTH, 1 << 24);
    sqlite3_set_authorizer(ro, authorize, NULL);
    work_budget budget = {(WORK_BUDGET_BASE + WORK_BUDGET_PER_E * ds->n_episodes) / PROGRESS_OPS,
                          0};
    sqlite3_progress_handler(ro, PROGRESS_OPS, on_progress, &budget);

    /* one statement: the predicate inside parentheses, nothing after it */
    sql = sqlite3_mprintf("SELECT id FROM episodes WHERE (%s\n) ORDER BY id", predicate);
    if (!sql) {
        st = orl_error_set(ORL_ERR_NOMEM, "where: building the query");
        goto done;
    }
    const char *tail = NULL;
    rc = sqlite3_prepare_v2(ro, sql, -1, &q, &tail);
    if (rc != SQLITE_OK) {
        st = orl_error_set(ORL_ERR_INPUT, "where '%s': %s", predicate, sqlite3_errmsg(ro));
        goto done;
    }
    if (!q || (tail && !blank_tail(tail))) {
        st =
            orl_error_set(ORL_ERR_INPUT,
                          "where '%s': expected one expression, not several statements", predicate);
        goto done;
    }
    if (!sqlite3_stmt_readonly(q)) {
        st = orl_error_set(ORL_ERR_INPUT, "where '%s': the predicate would modify the database",
                           predicate);
        goto done;
    }
    memset(keep, 0, (size_t)ds->n_episodes);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        sqlite3_int64 e = sqlite3_column_int64(q, 0);
        if (e >= 0 && e < ds->n_episodes) keep[e] = 1;
    }
    if (rc != SQLITE_DONE) {
        if (budget.exhausted)
            st = orl_error_set(ORL_ERR_INPUT, "where '%s': the predicate takes too much work",
                               predicate);
        else
            st = orl_error_set(ORL_ERR_INPUT, "where '%s': %s", predicate, sqlite3_errmsg(ro));
    }
done:
    sqlite3_finalize(q);
    sqlite3_free(sql);
    sqlite3_free(image);
    sqlite3_close(ro);
    sqlite3_close(build);
    return st;
}

/* ---- the kept episodes ---- */

void orl_keep_count(const orl_dataset *ds, const uint8_t *keep, int64_t *episodes, int64_t *steps) {
    int64_t n_eps = 0, n_steps = 0;
    for (int64_t e = 0; e < ds->n_episodes; e++)
        if (keep[e]) {
            n_eps++;
            n_steps += ds->ep_off[e + 1] - ds->ep_off[e];
        }
    if (episodes) *episodes = n_eps;
    if (steps) *steps = n_steps;
}

orl_status orl_dataset_select(const orl_dataset *ds, const uint8_t *keep, orl_dataset **out) {
    assert(ds && keep && out);
    *out = NULL;
    int64_t n_eps, n_steps;
    orl_keep_count(ds, keep, &n_eps, &n_steps);
    orl_dataset *sel = NULL;
    ORL_TRY(orl_dataset_create(&ds->h, n_steps > 0 ? n_steps : 1, n_eps > 0 ? n_eps : 1, &sel));
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        if (!keep[e]) continue;
        orl_status st =
            orl_dataset_append(sel, ds, ds->ep_off[e], ds->ep_off[e + 1] - ds->ep_off[e]);
        if (st) {
            orl_dataset_free(sel);
            return st;
        }
    }
    *out = sel;
    return ORL_OK;
}
