/* The SQLite layout (DESIGN.md "Files"; datasets.md "sqlite" documents the schema column by
 * column): a key/value table `meta`, one row per episode in `episodes` (what `orl filter
 * --where` predicates run over) and one row per transition in `steps`, arrays stored as
 * little-endian float32 BLOBs.
 *
 * The writer runs in WAL mode with one transaction per episode, so an interrupted ingest loses
 * at most the episode in flight; it creates a new database at the front end's temporary name or
 * appends episodes to an existing one in place (never rewriting old rows). The reader streams
 * steps in (episode, t) order a block at a time and checks every row against the shapes.
 * This file does not filter rows and does not hold the results catalog. */
#include "formats/internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME    "orl-sqlite"
#define FORMAT_VERSION 1
#define MAX_DIM        (1 << 20) /* largest obs_dim / act_dim a file may declare */
/* page size of new databases (SQLite's default): 4 to 16 KiB write 1000-step episodes equally
 * fast, and each commit rewrites a partly filled leaf, so short episodes favour small pages
 * (10-step episodes: 4 KiB 15% faster than 8 KiB, 30% faster than 16 KiB) */
#define PAGE_SIZE 4096
#define CACHE_KIB 8192  /* page cache of a writer (64 MiB measured no faster) */
#define BUSY_MS   10000 /* how long an appender waits for another writer */
/* each connection is used by one thread at a time: skip SQLite's per-call mutexes (~9% of the
 * instructions of an insert) */
#define OPEN_FLAGS SQLITE_OPEN_NOMUTEX
#define NOW_SQL    "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

/* what recognises an episode when an append is retried: its source (the header's: the logs as
 * given), its ordinal among the episodes of that source in one write session (key) and a hash of
 * its rows' content (hash, 16 hex digits). Older databases gain the columns on their first
 * append (ALTER TABLE). */
#define EPISODE_KEY_COLUMNS ",\n  key INTEGER,\n  hash TEXT"
#define EPISODE_KEY_INDEX                                                                          \
    "CREATE INDEX IF NOT EXISTS episodes_source_key ON episodes(source, key);\n"

static const char schema_sql[] =
    "CREATE TABLE meta(\n"
    "  key TEXT PRIMARY KEY NOT NULL,\n"
    "  value TEXT\n"
    ");\n"
    "CREATE TABLE episodes(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  first_step INTEGER NOT NULL,\n"
    "  length INTEGER NOT NULL,\n"
    "  return REAL NOT NULL,\n"
    "  disc_return REAL,\n"
    "  terminated INTEGER NOT NULL,\n"
    "  timeout INTEGER NOT NULL,\n"
    "  source TEXT NOT NULL DEFAULT '',\n"
    "  batch INTEGER NOT NULL,\n"
    "  added_at TEXT NOT NULL DEFAULT (" NOW_SQL ")" EPISODE_KEY_COLUMNS "\n"
    ");\n" EPISODE_KEY_INDEX
    "CREATE TABLE steps(\n"
    "  episode INTEGER NOT NULL REFERENCES episodes(id) DEFERRABLE INITIALLY DEFERRED,\n"
    "  t INTEGER NOT NULL,\n"
    "  obs BLOB NOT NULL,\n"
    "  next_obs BLOB NOT NULL,\n"
    "  act BLOB,\n"
    "  act_idx INTEGER,\n"
    "  rew REAL NOT NULL,\n"
    "  terminal INTEGER NOT NULL,\n"
    "  timeout INTEGER NOT NULL,\n"
    "  logp_b REAL,\n"
    "  PRIMARY KEY (episode, t)\n"
    ") WITHOUT ROWID;\n";

/* ---- helpers ---- */

/* sqlite result code -> orl status: content problems are FORMAT, the rest I/O */
static orl_status db_status(int rc) {
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return ORL_ERR_NOMEM;
    case SQLITE_INTERRUPT:
        return ORL_ERR_INTERRUPTED;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
    case SQLITE_SCHEMA:
    case SQLITE_ERROR:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
        return ORL_ERR_FORMAT;
    default:
        return ORL_ERR_IO;
    }
}

/* records "path: what: sqlite's message"; call right after the failing sqlite call */
static orl_status db_fail(sqlite3 *db, int rc, const char *path, const char *what) {
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    return orl_error_set(db_status(rc), "%s: %s: %s", path, what, msg);
}

static orl_status db_exec(sqlite3 *db, const char *path, const char *sql, const char *what) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return db_fail(db, rc, path, what);
    return ORL_OK;
}

static orl_status db_prepare(sqlite3 *db, const char *path, const char *sql, sqlite3_stmt **out,
                             const char *what) {
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK) return db_fail(db, rc, path, what);
    return ORL_OK;
}

/* steps a statement expected to finish (INSERT, UPDATE, ...) and resets it */
static orl_status db_run(sqlite3 *db, sqlite3_stmt *q, const char *path, const char *what) {
    int rc = sqlite3_step(q);
    orl_status st = rc == SQLITE_DONE || rc == SQLITE_ROW ? ORL_OK : db_fail(db, rc, path, what);
    sqlite3_reset(q);
    return st;
}

/* the single integer a query returns (fallback when it returns no row or NULL) */
static orl_status db_int64(sqlite3 *db, const char *path, const char *sql, int64_t fallback,
                           int64_t *out, const char *what) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) return db_fail(db, rc, path, what);
    rc = sqlite3_step(q);
    orl_status st = ORL_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_type(q, 0) == SQLITE_NULL ? fallback : sqlite3_column_int64(q, 0);
    else if (rc == SQLITE_DONE)
        *out = fallback;
    else
        st = db_fail(db, rc, path, what);
    sqlite3_finalize(q);
    return st;
}

static int host_little_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* reverses the bytes of each float in place (stored little-endian, host big-endian) */
static void swap_floats(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
        memcpy(x + i, &u, 4);
    }
}

/* a double from the file as float, saturating instead of overflowing */
static float to_float(double v) {
    if (v > FLT_MAX) return INFINITY;
    if (v < -FLT_MAX) return -INFINITY;
    return (float)v;
}

static int companion_exists(const char *path, const char *suffix) {
    char name[4096 + 16];
    snprintf(name, sizeof name, "%s%s", path, suffix);
    return orl_fs_exists(name);
}

static void remove_companions(const char *path) {
    static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
    char name[4096 + 16];
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
        orl_fs_remove(name);
    }
}

/* ---- meta: bounds as JSON arrays ---- */

/* one float as JSON: NaN (unknown) is null, infinities are 1e999 / -1e999 (valid JSON numbers
 * that JSON parsers, SQLite's json functions and strtod all read back as infinities) */
static int json_float(char *dst, size_t cap, float x) {
    if (isnan(x)) return snprintf(dst, cap, "null");
    if (isinf(x)) return snprintf(dst, cap, x > 0 ? "1e999" : "-1e999");
    return snprintf(dst, cap, "%.9g", (double)x);
}

/* x (n) as "[a,b,...]" in a malloc'ed string */
static char *json_floats(const float *x, int32_t n) {
    size_t cap = 24 * (size_t)n + 3, at = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[at++] = '[';
    for (int32_t i = 0; i < n; i++) {
        if (i > 0) s[at++] = ',';
        at += (size_t)json_float(s + at, cap - at, x[i]);
    }
    s[at++] = ']';
    s[at] = '\0';
    return s;
}

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* parses a JSON array of exactly n numbers or nulls into out (n) */
static orl_status parse_json_floats(const char *path, const char *key, const char *text, float *out,
                                    int32_t n) {
    const char *p = skip_space(text);
    if (*p++ != '[') goto bad;
    for (int32_t i = 0; i < n; i++) {
        p = skip_space(p);
        if (strncmp(p, "null", 4) == 0) {
            out[i] = NAN;
            p += 4;
        } else {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            if (end == p) goto bad;
            out[i] = to_float(v);
            p = end;
        }
        p = skip_space(p);
        if (*p++ != (i == n - 1 ? ']' : ',')) goto bad;
    }
    if (*skip_space(p) != '\0') goto bad;
    return ORL_OK;
bad:
    ORL_FAIL(ORL_ERR_FORMAT, "%s: meta key '%s': expected a JSON array of %d numbers or nulls",
             path, key, n);
}

/* ---- meta: reading a header ---- */

typedef struct meta_query {
    sqlite3 *db;
    sqlite3_stmt *q; /* SELECT value FROM meta WHERE key = ?1 */
    const char *path;
} meta_query;

/* the text of key (NULL when the key is absent or its value is NULL); valid until the next
 * call */
static orl_status meta_value(meta_query *m, const char *key, const char **out) {
    *out = NULL;
    sqlite3_reset(m->q);
    sqlite3_bind_text(m->q, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(m->q);
    if (rc == SQLITE_ROW) {
        *out = (const char *)sqlite3_column_text(m->q, 0);
        return ORL_OK;
    }
    if (rc == SQLITE_DONE) return ORL_OK;
    return db_fail(m->db, rc, m->path, "reading table meta");
}

static orl_status meta_required(meta_query *m, const char *key, const char **out) {
    ORL_TRY(meta_value(m, key, out));
    if (!*out)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not an orl SQLite dataset: table meta has no key '%s'",
                 m->path, key);
    return ORL_OK;
}

static orl_status meta_int(meta_query *m, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    const char *text;
    ORL_TRY(meta_required(m, key, &text));
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *skip_space(end) != '\0' || errno == ERANGE || v < lo || v > hi)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: meta key '%s' is '%.40s', expected an integer in [%lld, %lld]", m->path, key,
                 text, (long long)lo, (long long)hi);
    *out = v;
    return ORL_OK;
}

/* an optional string: absent or NULL leaves dst empty */
static orl_status meta_string(meta_query *m, const char *key, char *dst, size_t cap) {
    const char *text;
    ORL_TRY(meta_value(m, key, &text));
    snprintf(dst, cap, "%s", text ? text : "");
    return ORL_OK;
}

/* optional bounds: absent or NULL leaves NaN */
static orl_status meta_bounds(meta_query *m, const char *key, float *dst, int32_t n) {
    const char *text;
    ORL_TRY(meta_value(m, key, &text));
    if (!text) return ORL_OK;
    return parse_json_floats(m->path, key, text, dst, n);
}

static orl_status check_table(sqlite3 *db, const char *path, const char *table) {
    int64_t found = 0;
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", table);
    ORL_TRY(db_int64(db, path, sql, 0, &found, "reading the schema"));
    if (!found)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not an orl SQLite dataset: missing table '%s'", path, table);
    return ORL_OK;
}

static orl_status read_meta(meta_query *m, orl_header *h) {
    const char *text;
    ORL_TRY(meta_required(m, "format", &text));
    if (strcmp(text, FORMAT_NAME) != 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: meta key 'format' is '%.40s', expected '%s'", m->path, text,
                 FORMAT_NAME);
    int64_t version, obs_dim, act_dim, n_actions, has_logp;
    ORL_TRY(meta_int(m, "format_version", 1, INT32_MAX, &version));
    if (version > FORMAT_VERSION)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: format_version %lld is newer than this orl reads (%d)",
                 m->path, (long long)version, FORMAT_VERSION);
    ORL_TRY(meta_required(m, "action_kind", &text));
    orl_action_kind kind;
    if (strcmp(text, "continuous") == 0)
        kind = ORL_ACTION_KIND_CONTINUOUS;
    else if (strcmp(text, "discrete") == 0)
        kind = ORL_ACTION_KIND_DISCRETE;
    else
        ORL_FAIL(ORL_ERR_FORMAT, "%s: meta key 'action_kind' is '%.40s', expected %s", m->path,
                 text, "'continuous' or 'discrete'");
    ORL_TRY(meta_int(m, "obs_dim", 1, MAX_DIM, &obs_dim));
    ORL_TRY(meta_int(m, "act_dim", 1, kind == ORL_ACTION_KIND_DISCRETE ? 1 : MAX_DIM, &act_dim));
    ORL_TRY(
        meta_int(m, "n_actions", 0, kind == ORL_ACTION_KIND_DISCRETE ? INT32_MAX : 0, &n_actions));
    ORL_TRY(meta_int(m, "has_logp", 0, 1, &has_logp));

    ORL_TRY(orl_header_init(h, (int32_t)obs_dim, (int32_t)act_dim, kind, (int32_t)n_actions));
    orl_status st;
    h->has_logp = (int)has_logp;
    ORL_TRY_GOTO(st, fail, meta_string(m, "env_id", h->env_id, sizeof h->env_id));
    ORL_TRY_GOTO(st, fail, meta_string(m, "source", h->source, sizeof h->source));
    ORL_TRY_GOTO(st, fail, meta_string(m, "behavior", h->behavior, sizeof h->behavior));
    ORL_TRY_GOTO(st, fail, meta_string(m, "tool", h->tool, sizeof h->tool));
    ORL_TRY_GOTO(st, fail, meta_value(m, "discount", &text));
    if (text && *skip_space(text)) {
        char *end;
        double v = strtod(text, &end);
        if (end == text || *skip_space(end) != '\0')
            ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                          "%s: meta key 'discount' is '%.40s', expected a number", m->path, text);
        h->discount = v;
    }
    ORL_TRY_GOTO(st, fail, meta_bounds(m, "obs_low", h->obs_low, h->obs_dim));
    ORL_TRY_GOTO(st, fail, meta_bounds(m, "obs_high", h->obs_high, h->obs_dim));
    ORL_TRY_GOTO(st, fail, meta_bounds(m, "act_low", h->act_low, h->act_dim));
    ORL_TRY_GOTO(st, fail, meta_bounds(m, "act_high", h->act_high, h->act_dim));
    return ORL_OK;
fail:
    orl_header_free(h);
    return st;
}

/* checks the three tables and reads the header from meta; h is freed on failure */
static orl_status read_header(sqlite3 *db, const char *path, orl_header *h) {
    memset(h, 0, sizeof *h);
    ORL_TRY(check_table(db, path, "meta"));
    ORL_TRY(check_table(db, path, "episodes"));
    ORL_TRY(check_table(db, path, "steps"));
    meta_query m = {db, NULL, path};
    ORL_TRY(db_prepare(db, path, "SELECT value FROM meta WHERE key = ?1", &m.q, "table meta"));
    orl_status st = read_meta(&m, h);
    sqlite3_finalize(m.q);
    return st;
}

/* ---- reader ---- */

typedef struct sqlite_reader {
    sqlite3 *db;
    sqlite3_stmt *steps; /* all steps in (episode, t) order, stepped across blocks */
    const char *path;
    int32_t obs_dim, act_dim;
    int discrete;
    int swap; /* host is big-endian */
    int done;
    /* the last row handed out, for the order checks */
    int have_prev;
    int64_t prev_episode, prev_t;
    int prev_ends; /* terminal or timeout set */
    int64_t rows;  /* rows handed out so far */
} sqlite_reader;

enum {
    COL_EPISODE,
    COL_T,
    COL_OBS,
    COL_NEXT_OBS,
    COL_ACT,
    COL_ACT_IDX,
    COL_REW,
    COL_TERMINAL,
    COL_TIMEOUT,
    COL_LOGP_B
};

static const char steps_select_sql[] =
    "SELECT episode, t, obs, next_obs, act, act_idx, rew, terminal, timeout, logp_b "
    "FROM steps ORDER BY episode, t";

/* a float32 array column of the current row into dst (n) */
static orl_status read_floats(sqlite_reader *sr, int col, const char *name, int64_t episode,
                              int64_t t, float *dst, int32_t n) {
    int type = sqlite3_column_type(sr->steps, col);
    const void *blob = sqlite3_column_blob(sr->steps, col);
    int bytes = sqlite3_column_bytes(sr->steps, col);
    if (type != SQLITE_BLOB || (size_t)bytes != 4 * (size_t)n) {
        char got[48];
        if (type == SQLITE_BLOB)
            snprintf(got, sizeof got, "a BLOB of %d bytes", bytes);
        else
            snprintf(got, sizeof got, "%s", type == SQLITE_NULL ? "NULL" : "not a BLOB");
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: episode %lld, step %lld: %s is %s, expected %d float32 (%zu bytes)", sr->path,
                 (long long)episode, (long long)t, name, got, n, 4 * (size_t)n);
    }
    memcpy(dst, blob, 4 * (size_t)n);
    if (sr->swap) swap_floats(dst, (size_t)n);
    return ORL_OK;
}

/* a numeric column (INTEGER or REAL); NULL allowed only when nullable (*is_null set) */
static orl_status read_number(sqlite_reader *sr, int col, const char *name, int64_t episode,
                              int64_t t, int nullable, int *is_null) {
    int type = sqlite3_column_type(sr->steps, col);
    if (is_null) *is_null = type == SQLITE_NULL;
    if (type == SQLITE_INTEGER || type == SQLITE_FLOAT || (type == SQLITE_NULL && nullable))
        return ORL_OK;
    ORL_FAIL(ORL_ERR_FORMAT, "%s: episode %lld, step %lld: %s is %s, expected a number", sr->path,
             (long long)episode, (long long)t, name, type == SQLITE_NULL ? "NULL" : "not a number");
}

/* the previous row ended its episode without terminal or timeout */
static orl_status unflagged_end(const sqlite_reader *sr) {
    ORL_FAIL(ORL_ERR_FORMAT, "%s: episode %lld ends at step %lld with neither terminal nor timeout",
             sr->path, (long long)sr->prev_episode, (long long)sr->prev_t);
}

/* order checks: steps 0, 1, 2... within an episode; an episode ends exactly at its last step */
static orl_status check_order(sqlite_reader *sr, int64_t episode, int64_t t) {
    if (sr->have_prev && episode == sr->prev_episode) {
        if (sr->prev_ends)
            ORL_FAIL(ORL_ERR_FORMAT,
                     "%s: episode %lld, step %lld: terminal or timeout set before the episode's "
                     "last step (step %lld follows)",
                     sr->path, (long long)episode, (long long)sr->prev_t, (long long)t);
        if (t != sr->prev_t + 1)
            ORL_FAIL(ORL_ERR_FORMAT,
                     "%s: episode %lld: step %lld follows step %lld (steps missing)", sr->path,
                     (long long)episode, (long long)t, (long long)sr->prev_t);
        return ORL_OK;
    }
    if (sr->have_prev && !sr->prev_ends) return unflagged_end(sr);
    if (t != 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: episode %lld starts at step %lld, expected step 0", sr->path,
                 (long long)episode, (long long)t);
    return ORL_OK;
}

/* copies the current row into row i of block */
static orl_status read_row(sqlite_reader *sr, orl_dataset *block, int64_t i) {
    sqlite3_stmt *q = sr->steps;
    if (sqlite3_column_type(q, COL_EPISODE) != SQLITE_INTEGER ||
        sqlite3_column_type(q, COL_T) != SQLITE_INTEGER)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: table steps: episode and t must be integers (row %lld)",
                 sr->path, (long long)(sr->rows + 1));
    int64_t episode = sqlite3_column_int64(q, COL_EPISODE), t = sqlite3_column_int64(q, COL_T);
    ORL_TRY(check_order(sr, episode, t));

    size_t s = (size_t)sr->obs_dim, a = (size_t)sr->act_dim, at = (size_t)i;
    ORL_TRY(read_floats(sr, COL_OBS, "obs", episode, t, block->obs + at * s, sr->obs_dim));
    ORL_TRY(read_floats(sr, COL_NEXT_OBS, "next_obs", episode, t, block->next_obs + at * s,
                        sr->obs_dim));
    if (sr->discrete) {
        if (sqlite3_column_type(q, COL_ACT_IDX) != SQLITE_INTEGER)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: episode %lld, step %lld: act_idx is not an integer",
                     sr->path, (long long)episode, (long long)t);
        int64_t idx = sqlite3_column_int64(q, COL_ACT_IDX);
        if (idx < INT32_MIN || idx > INT32_MAX)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: episode %lld, step %lld: act_idx %lld out of range",
                     sr->path, (long long)episode, (long long)t, (long long)idx);
        block->act_idx[i] = (int32_t)idx;
    } else {
        ORL_TRY(read_floats(sr, COL_ACT, "act", episode, t, block->act + at * a, sr->act_dim));
    }
    int is_null;
    ORL_TRY(read_number(sr, COL_REW, "rew", episode, t, 0, NULL));
    block->rew[i] = to_float(sqlite3_column_double(q, COL_REW));
    ORL_TRY(read_number(sr, COL_TERMINAL, "terminal", episode, t, 0, NULL));
    ORL_TRY(read_number(sr, COL_TIMEOUT, "timeout", episode, t, 0, NULL));
    block->terminal[i] = sqlite3_column_int64(q, COL_TERMINAL) != 0;
    block->timeout[i] = sqlite3_column_int64(q, COL_TIMEOUT) != 0;
    ORL_TRY(read_number(sr, COL_LOGP_B, "logp_b", episode, t, 1, &is_null));
    block->logp_b[i] = is_null ? NAN : to_float(sqlite3_column_double(q, COL_LOGP_B));

    sr->have_prev = 1;
    sr->prev_episode = episode;
    sr->prev_t = t;
    sr->prev_ends = block->terminal[i] || block->timeout[i];
    sr->rows++;
    return ORL_OK;
}

static orl_status sqlite_reader_next(void *impl, orl_dataset *block) {
    sqlite_reader *sr = impl;
    while (!sr->done && block->n_steps < block->cap_steps) {
        int rc = sqlite3_step(sr->steps);
        if (rc == SQLITE_DONE) {
            /* a last episode without a final flag is streamed open: the front end closes it
             * with a timeout, as for every layout */
            sr->done = 1;
            break;
        }
        if (rc != SQLITE_ROW) return db_fail(sr->db, rc, sr->path, "reading table steps");
        ORL_TRY(read_row(sr, block, block->n_steps));
        block->n_steps++;
    }
    return ORL_OK;
}

static void sqlite_reader_close(void *impl) {
    sqlite_reader *sr = impl;
    if (!sr) return;
    sqlite3_finalize(sr->steps);
    sqlite3_close(sr->db);
    free(sr);
}

static const orl_reader_ops sqlite_reader_ops = {sqlite_reader_next, sqlite_reader_close};

/* "file:" URI of path with everything outside [A-Za-z0-9/._~-] percent-encoded */
static orl_status file_uri(const char *path, const char *query, char *dst, size_t cap) {
    size_t at = (size_t)snprintf(dst, cap, path[0] == '/' ? "file://" : "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("/._~-", *p);
        if (at + 4 >= cap) ORL_FAIL(ORL_ERR_INPUT, "%s: path too long", path);
        if (plain)
            dst[at++] = (char)*p;
        else
            at += (size_t)snprintf(dst + at, cap - at, "%%%02X", *p);
    }
    int n = snprintf(dst + at, cap - at, "?%s", query);
    if (n < 0 || (size_t)n >= cap - at) ORL_FAIL(ORL_ERR_INPUT, "%s: path too long", path);
    return ORL_OK;
}

/* Opens path read-only. A self-contained file (no -wal, -shm or -journal beside it: nobody
 * is writing it) is opened immutable, so reading never creates companion files and works on
 * read-only directories and media; otherwise the normal WAL read path sees a live writer's
 * committed episodes. */
static orl_status open_readonly(const char *path, sqlite3 **out) {
    *out = NULL;
    int live = companion_exists(path, "-wal") || companion_exists(path, "-shm") ||
               companion_exists(path, "-journal");
    char uri[3 * 4096 + 64];
    int rc;
    if (live) {
        rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READONLY | OPEN_FLAGS, NULL);
    } else {
        ORL_TRY(file_uri(path, "immutable=1", uri, sizeof uri));
        rc = sqlite3_open_v2(uri, out, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | OPEN_FLAGS, NULL);
    }
    if (rc != SQLITE_OK) {
        orl_status st = db_fail(*out, rc, path, "opening");
        sqlite3_close(*out);
        *out = NULL;
        return st;
    }
    sqlite3_extended_result_codes(*out, 0);
    return ORL_OK;
}

/* SQLite writes whole pages: a main file of another size was cut short */
static orl_status check_size(sqlite3 *db, const char *path) {
    int64_t page_size = 0;
    ORL_TRY(db_int64(db, path, "PRAGMA page_size", 0, &page_size, "reading the page size"));
    int64_t bytes = orl_fs_size(path);
    if (page_size <= 0 || bytes < 0 || bytes % page_size != 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: truncated database: %lld bytes, not a whole number of pages",
                 path, (long long)bytes);
    return ORL_OK;
}

/* number of steps: the sum of episode lengths (cheap), trusted when the file is big enough to
 * hold that many rows, else counted */
static orl_status count_rows(sqlite3 *db, const char *path, int32_t obs_dim, int64_t *out) {
    int64_t sum = 0;
    ORL_TRY(
        db_int64(db, path, "SELECT sum(length) FROM episodes", 0, &sum, "reading table episodes"));
    char wal[4096 + 16];
    snprintf(wal, sizeof wal, "%s-wal", path);
    int64_t bytes = orl_fs_size(path) + (orl_fs_exists(wal) ? orl_fs_size(wal) : 0);
    int64_t most = bytes / (8 * (int64_t)obs_dim) + 1; /* every step stores 2 S float32 */
    if (sum >= 0 && sum <= most) {
        *out = sum;
        return ORL_OK;
    }
    return db_int64(db, path, "SELECT count(*) FROM steps", 0, out, "reading table steps");
}

orl_status orl_sqlite_reader_open(orl_reader *r, const orl_read_options *opt) {
    (void)opt; /* episodes are delimited by the table, not by max_episode_steps */
    sqlite_reader *sr = calloc(1, sizeof *sr);
    if (!sr) ORL_FAIL(ORL_ERR_NOMEM, "%s: sqlite reader", r->path);
    sr->path = r->path;
    sr->swap = !host_little_endian();
    orl_status st;
    ORL_TRY_GOTO(st, fail, open_readonly(r->path, &sr->db));
    ORL_TRY_GOTO(st, fail, read_header(sr->db, r->path, &r->header));
    ORL_TRY_GOTO(st, fail, check_size(sr->db, r->path));
    sr->obs_dim = r->header.obs_dim;
    sr->act_dim = r->header.act_dim;
    sr->discrete = r->header.action_kind == ORL_ACTION_KIND_DISCRETE;
    ORL_TRY_GOTO(st, fail, count_rows(sr->db, r->path, sr->obs_dim, &r->rows_hint));
    ORL_TRY_GOTO(st, fail,
                 db_prepare(sr->db, r->path, steps_select_sql, &sr->steps, "table steps"));
    r->ops = &sqlite_reader_ops;
    r->impl = sr;
    return ORL_OK;
fail:
    orl_header_free(&r->header);
    sqlite_reader_close(sr);
    return st;
}

/* ---- writer ---- */

typedef struct id_range {
    int64_t lo, hi; /* episode ids [lo, hi] */
} id_range;

typedef struct sqlite_writer {
    sqlite3 *db;
    const orl_header *h; /* the front end's header, alive until finish or discard */
    char path[4096];     /* the file written: the temporary name, or the database appended to */
    int in_place;
    int swap;        /* host is big-endian: blobs go through scratch */
    float *scratch;  /* (STEPS_PER_INSERT, 2 S + A) little-endian obs, next_obs, act */
    double discount; /* for disc_return: the database's when appending; NaN leaves it NULL */
    int64_t batch;   /* this writer's write session number */
    int failed;      /* a write failed: finish drops what this writer added */

    sqlite3_stmt *begin, *commit, *last_episode, *insert_episode;
    sqlite3_stmt *insert_step;  /* one row */
    sqlite3_stmt *insert_steps; /* STEPS_PER_INSERT rows */

    /* the episode in flight */
    int in_episode;
    int64_t ep_id, ep_first_step, ep_length;
    double ep_return, ep_disc_return, ep_discount_pow;
    int64_t ep_key;   /* its ordinal in this write session (EPISODE_KEY_COLUMNS) */
    uint64_t ep_hash; /* of its rows so far (row_hash) */

    /* appending: an episode the database already holds (same source, key and hash) is rolled
     * back instead of committed, so a retried ingest adds exactly the missing episodes */
    sqlite3_stmt *find_episode, *rollback;
    int64_t *already_present; /* the caller's count of such episodes (may be NULL) */

    /* episodes this writer committed (discard deletes them when appending) */
    id_range *added;
    int64_t n_added, cap_added;
} sqlite_writer;

/* rows go in STEPS_PER_INSERT at a time where an episode has that many left in the block:
 * a third fewer instructions per row than one-row INSERTs (1 M rows, S = 17, A = 6) */
#define STEPS_PER_INSERT 16
#define STEP_COLUMNS     10
static const char insert_step_head[] =
    "INSERT INTO steps(episode, t, obs, next_obs, act, act_idx, rew, terminal, timeout, logp_b) "
    "VALUES ";
static const char insert_step_values[] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char insert_episode_sql[] =
    "INSERT INTO episodes(id, first_step, length, return, disc_return, terminated, timeout, "
    "source, batch, key, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

static orl_status put_meta_text(sqlite_writer *sw, sqlite3_stmt *q, const char *key,
                                const char *value) {
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(q, 2, value, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, 2);
    return db_run(sw->db, q, sw->path, "writing table meta");
}

static orl_status put_meta_int(sqlite_writer *sw, sqlite3_stmt *q, const char *key, int64_t v) {
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)v);
    return put_meta_text(sw, q, key, text);
}

static orl_status put_meta_bounds(sqlite_writer *sw, sqlite3_stmt *q, const char *key,
                                  const float *x, int32_t n) {
    char *text = json_floats(x, n);
    if (!text) ORL_FAIL(ORL_ERR_NOMEM, "%s: meta key '%s'", sw->path, key);
    orl_status st = put_meta_text(sw, q, key, text);
    free(text);
    return st;
}

/* every meta key of a new database (inside the creating transaction) */
static orl_status write_meta(sqlite_writer *sw) {
    const orl_header *h = sw->h;
    sqlite3_stmt *q = NULL;
    ORL_TRY(db_prepare(sw->db, sw->path, "INSERT INTO meta(key, value) VALUES (?1, ?2)", &q,
                       "table meta"));
    orl_status st;
    /* the shortest text that reads back as the same double: 0.99, not 0.98999999999999999 */
    char discount[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(discount, sizeof discount, "%.*g", digits, h->discount);
        if (strtod(discount, NULL) == h->discount) break;
    }
    ORL_TRY_GOTO(st, done, put_meta_text(sw, q, "format", FORMAT_NAME));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, q, "format_version", FORMAT_VERSION));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, q, "obs_dim", h->obs_dim));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, q, "act_dim", h->act_dim));
    ORL_TRY_GOTO(
        st, done,
        put_meta_text(sw, q, "action_kind",
                      h->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous"));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, q, "n_actions", h->n_actions));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, q, "has_logp", h->has_logp ? 1 : 0));
    ORL_TRY_GOTO(st, done, put_meta_text(sw, q, "env_id", h->env_id));
    ORL_TRY_GOTO(st, done, put_meta_text(sw, q, "source", h->source));
    ORL_TRY_GOTO(st, done, put_meta_text(sw, q, "behavior", h->behavior));
    ORL_TRY_GOTO(st, done, put_meta_text(sw, q, "tool", h->tool));
    ORL_TRY_GOTO(st, done,
                 put_meta_text(sw, q, "discount", isfinite(h->discount) ? discount : NULL));
    ORL_TRY_GOTO(st, done, put_meta_bounds(sw, q, "obs_low", h->obs_low, h->obs_dim));
    ORL_TRY_GOTO(st, done, put_meta_bounds(sw, q, "obs_high", h->obs_high, h->obs_dim));
    ORL_TRY_GOTO(st, done, put_meta_bounds(sw, q, "act_low", h->act_low, h->act_dim));
    ORL_TRY_GOTO(st, done, put_meta_bounds(sw, q, "act_high", h->act_high, h->act_dim));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, q, "n_steps", 0));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, q, "n_episodes", 0));
    ORL_TRY_GOTO(st, done,
                 db_exec(sw->db, sw->path,
                         "INSERT INTO meta(key, value) VALUES ('created_at', " NOW_SQL "), "
                         "('modified_at', " NOW_SQL ")",
                         "writing table meta"));
done:
    sqlite3_finalize(q);
    return st;
}

/* pragmas of a writing connection: WAL, durable per episode without an fsync per commit */
static orl_status writer_pragmas(sqlite_writer *sw) {
    sqlite3_stmt *q = NULL;
    ORL_TRY(db_prepare(sw->db, sw->path, "PRAGMA journal_mode = WAL", &q, "setting WAL mode"));
    int rc = sqlite3_step(q);
    int wal = rc == SQLITE_ROW && sqlite3_column_text(q, 0) &&
              strcmp((const char *)sqlite3_column_text(q, 0), "wal") == 0;
    orl_status st = rc == SQLITE_ROW ? ORL_OK : db_fail(sw->db, rc, sw->path, "setting WAL mode");
    sqlite3_finalize(q);
    ORL_TRY(st);
    if (!wal)
        ORL_FAIL(ORL_ERR_IO, "%s: the file system does not support SQLite's WAL mode", sw->path);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", CACHE_KIB);
    ORL_TRY(db_exec(sw->db, sw->path, sql, "setting the cache size"));
    return db_exec(sw->db, sw->path, "PRAGMA synchronous = NORMAL", "setting synchronous");
}

static orl_status prepare_statements(sqlite_writer *sw) {
    ORL_TRY(db_prepare(sw->db, sw->path, "BEGIN IMMEDIATE", &sw->begin, "beginning a transaction"));
    ORL_TRY(db_prepare(sw->db, sw->path, "COMMIT", &sw->commit, "committing"));
    ORL_TRY(db_prepare(sw->db, sw->path,
                       "SELECT id + 1, first_step + length FROM episodes ORDER BY id DESC LIMIT 1",
                       &sw->last_episode, "table episodes"));
    char sql[sizeof insert_step_head + STEPS_PER_INSERT * (sizeof insert_step_values + 2)];
    size_t at = (size_t)snprintf(sql, sizeof sql, "%s%s", insert_step_head, insert_step_values);
    ORL_TRY(db_prepare(sw->db, sw->path, sql, &sw->insert_step, "table steps"));
    for (int k = 1; k < STEPS_PER_INSERT; k++)
        at += (size_t)snprintf(sql + at, sizeof sql - at, ", %s", insert_step_values);
    ORL_TRY(db_prepare(sw->db, sw->path, sql, &sw->insert_steps, "table steps"));
    ORL_TRY(
        db_prepare(sw->db, sw->path, insert_episode_sql, &sw->insert_episode, "table episodes"));
    ORL_TRY(db_prepare(sw->db, sw->path,
                       "SELECT 1 FROM episodes WHERE source = ?1 AND key = ?2 AND hash = ?3",
                       &sw->find_episode, "table episodes"));
    ORL_TRY(db_prepare(sw->db, sw->path, "ROLLBACK", &sw->rollback, "rolling back"));
    return ORL_OK;
}

static void finalize_statements(sqlite_writer *sw) {
    sqlite3_finalize(sw->begin);
    sqlite3_finalize(sw->commit);
    sqlite3_finalize(sw->last_episode);
    sqlite3_finalize(sw->insert_step);
    sqlite3_finalize(sw->insert_steps);
    sqlite3_finalize(sw->insert_episode);
    sqlite3_finalize(sw->find_episode);
    sqlite3_finalize(sw->rollback);
    sw->begin = sw->commit = sw->last_episode = sw->insert_episode = NULL;
    sw->find_episode = sw->rollback = NULL;
    sw->insert_step = sw->insert_steps = NULL;
}

/* finalizes, folds the WAL into the file and closes, so no -wal or -shm stays behind */
static orl_status close_db(sqlite_writer *sw) {
    finalize_statements(sw);
    if (!sw->db) return ORL_OK;
    /* another connection still reading keeps its snapshot: do not wait for it, the last
     * connection to close folds the WAL in */
    sqlite3_busy_timeout(sw->db, 0);
    int rc = sqlite3_wal_checkpoint_v2(sw->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    orl_status st = ORL_OK;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) st = db_fail(sw->db, rc, sw->path, "checkpointing");
    rc = sqlite3_close(sw->db);
    if (rc != SQLITE_OK && st == ORL_OK) st = db_fail(sw->db, rc, sw->path, "closing");
    if (rc != SQLITE_OK) sqlite3_close_v2(sw->db);
    sw->db = NULL;
    return st;
}

static void writer_free(sqlite_writer *sw) {
    free(sw->scratch);
    free(sw->added);
    free(sw);
}

static orl_status append_mismatch(const char *path, const char *key, const char *in_db,
                                  const char *appended) {
    ORL_FAIL(ORL_ERR_INPUT, "%s: cannot append: %s is %s in the database, %s in the data appended",
             path, key, in_db, appended);
}

static orl_status append_mismatch_int(const char *path, const char *key, int in_db, int appended) {
    char a[16], b[16];
    snprintf(a, sizeof a, "%d", in_db);
    snprintf(b, sizeof b, "%d", appended);
    return append_mismatch(path, key, a, b);
}

/* the appended header must describe the same kind of rows as the database */
static orl_status check_append(const char *path, const orl_header *db, const orl_header *h) {
    static const char *const kinds[] = {"continuous", "discrete"};
    if (db->action_kind != h->action_kind)
        return append_mismatch(path, "action_kind", kinds[db->action_kind], kinds[h->action_kind]);
    if (db->obs_dim != h->obs_dim)
        return append_mismatch_int(path, "obs_dim", db->obs_dim, h->obs_dim);
    if (db->act_dim != h->act_dim)
        return append_mismatch_int(path, "act_dim", db->act_dim, h->act_dim);
    if (db->n_actions > 0 && h->n_actions > 0 && db->n_actions != h->n_actions)
        return append_mismatch_int(path, "n_actions", db->n_actions, h->n_actions);
    /* rows without log-probabilities would break the database's has_logp promise */
    if (db->has_logp && !h->has_logp) return append_mismatch_int(path, "has_logp", 1, 0);
    if (db->env_id[0] && h->env_id[0] && strcmp(db->env_id, h->env_id) != 0)
        return append_mismatch(path, "env_id", db->env_id, h->env_id);
    return ORL_OK;
}

static orl_status open_new(sqlite_writer *sw) {
    int rc = sqlite3_open_v2(sw->path, &sw->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | OPEN_FLAGS, NULL);
    if (rc != SQLITE_OK) return db_fail(sw->db, rc, sw->path, "creating");
    sqlite3_extended_result_codes(sw->db, 0);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA page_size = %d", PAGE_SIZE);
    ORL_TRY(db_exec(sw->db, sw->path, sql, "setting the page size"));
    ORL_TRY(writer_pragmas(sw));
    ORL_TRY(db_exec(sw->db, sw->path, "BEGIN IMMEDIATE", "creating the schema"));
    ORL_TRY(db_exec(sw->db, sw->path, schema_sql, "creating the schema"));
    ORL_TRY(write_meta(sw));
    ORL_TRY(db_exec(sw->db, sw->path, "COMMIT", "creating the schema"));
    sw->discount = sw->h->discount;
    sw->batch = 1;
    return ORL_OK;
}

/* a database written before episodes had keys gains the columns and the index */
static orl_status add_key_columns(sqlite_writer *sw) {
    int64_t has = 0;
    ORL_TRY(db_exec(sw->db, sw->path, "BEGIN IMMEDIATE", "adding episode keys"));
    orl_status st = db_int64(sw->db, sw->path,
                             "SELECT count(*) FROM pragma_table_info('episodes') WHERE name = 'hash'",
                             0, &has, "reading table episodes");
    if (!st && !has)
        st = db_exec(sw->db, sw->path,
                     "ALTER TABLE episodes ADD COLUMN key INTEGER; "
                     "ALTER TABLE episodes ADD COLUMN hash TEXT",
                     "adding episode keys");
    if (!st) st = db_exec(sw->db, sw->path, EPISODE_KEY_INDEX, "adding episode keys");
    sqlite3_exec(sw->db, st ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    return st;
}

/* opens an existing database to add episodes; reads only until the shapes are checked */
static orl_status open_append(sqlite_writer *sw) {
    int rc = sqlite3_open_v2(sw->path, &sw->db, SQLITE_OPEN_READWRITE | OPEN_FLAGS, NULL);
    if (rc != SQLITE_OK) return db_fail(sw->db, rc, sw->path, "opening to append");
    sqlite3_extended_result_codes(sw->db, 0);
    sqlite3_busy_timeout(sw->db, BUSY_MS);
    orl_header existing;
    ORL_TRY(read_header(sw->db, sw->path, &existing));
    orl_status st = check_append(sw->path, &existing, sw->h);
    sw->discount = existing.discount;
    orl_header_free(&existing);
    ORL_TRY(st);
    ORL_TRY(writer_pragmas(sw));
    ORL_TRY(db_int64(sw->db, sw->path, "SELECT max(batch) + 1 FROM episodes", 1, &sw->batch,
                     "reading table episodes"));
    return add_key_columns(sw);
}

/* ---- episode content hash: 64-bit, over each row's values as written (not cryptographic: it
 * tells a retried episode from a changed one) ---- */
#define HASH_SEED 0x6f726c2d65706973ULL /* "orl-epis" */

static uint64_t hash_word(uint64_t h, uint64_t w) {
    h ^= w * 0x9e3779b97f4a7c15ULL;
    h = (h << 27) | (h >> 37);
    return h * 0xbf58476d1ce4e5b9ULL + 0x94d049bb133111ebULL;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    uint64_t w;
    for (; n >= 8; n -= 8, c += 8) {
        memcpy(&w, c, 8);
        h = hash_word(h, w);
    }
    w = 0;
    memcpy(&w, c, n);
    return hash_word(h, w ^ ((uint64_t)n << 56));
}

static uint64_t hash_final(uint64_t h) {
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

/* row i of b: obs, next_obs, the action, reward, flags and logp_b */
static uint64_t row_hash(uint64_t h, const orl_dataset *b, int64_t i) {
    size_t s = (size_t)b->h.obs_dim, a = (size_t)b->h.act_dim, at = (size_t)i;
    h = hash_bytes(h, b->obs + at * s, s * sizeof(float));
    h = hash_bytes(h, b->next_obs + at * s, s * sizeof(float));
    if (b->act)
        h = hash_bytes(h, b->act + at * a, a * sizeof(float));
    else
        h = hash_word(h, (uint64_t)(uint32_t)b->act_idx[i]);
    uint32_t rew, logp;
    memcpy(&rew, &b->rew[i], 4);
    memcpy(&logp, &b->logp_b[i], 4);
    h = hash_word(h, (uint64_t)rew << 32 | logp);
    return hash_word(h, (uint64_t)(b->terminal[i] != 0) << 1 | (b->timeout[i] != 0));
}

/* BEGIN, and the id and first step of the next episode (read inside the transaction, so
 * concurrent appenders get distinct ids) */
static orl_status episode_begin(sqlite_writer *sw) {
    ORL_TRY(db_run(sw->db, sw->begin, sw->path, "beginning an episode"));
    int rc = sqlite3_step(sw->last_episode);
    sw->ep_id = 0;
    sw->ep_first_step = 0;
    if (rc == SQLITE_ROW) {
        sw->ep_id = sqlite3_column_int64(sw->last_episode, 0);
        sw->ep_first_step = sqlite3_column_int64(sw->last_episode, 1);
    }
    orl_status st = rc == SQLITE_ROW || rc == SQLITE_DONE
                        ? ORL_OK
                        : db_fail(sw->db, rc, sw->path, "reading table episodes");
    sqlite3_reset(sw->last_episode);
    ORL_TRY(st);
    sw->in_episode = 1;
    sw->ep_hash = HASH_SEED;
    sw->ep_length = 0;
    sw->ep_return = 0.0;
    sw->ep_disc_return = 0.0;
    sw->ep_discount_pow = 1.0;
    return ORL_OK;
}

static orl_status note_added(sqlite_writer *sw, int64_t id) {
    if (sw->n_added > 0 && sw->added[sw->n_added - 1].hi + 1 == id) {
        sw->added[sw->n_added - 1].hi = id;
        return ORL_OK;
    }
    if (sw->n_added == sw->cap_added) {
        int64_t cap = sw->cap_added ? 2 * sw->cap_added : 16;
        id_range *grown = realloc(sw->added, (size_t)cap * sizeof *grown);
        if (!grown) ORL_FAIL(ORL_ERR_NOMEM, "%s: episode ids", sw->path);
        sw->added = grown;
        sw->cap_added = cap;
    }
    sw->added[sw->n_added++] = (id_range){id, id};
    return ORL_OK;
}

/* 1 when the database already holds the episode in flight (appending only); *found */
static orl_status episode_present(sqlite_writer *sw, const char *hash, int *found) {
    *found = 0;
    if (!sw->in_place) return ORL_OK;
    sqlite3_stmt *q = sw->find_episode;
    sqlite3_bind_text(q, 1, sw->h->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, sw->ep_key);
    sqlite3_bind_text(q, 3, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    *found = rc == SQLITE_ROW;
    orl_status st = rc == SQLITE_ROW || rc == SQLITE_DONE
                        ? ORL_OK
                        : db_fail(sw->db, rc, sw->path, "reading table episodes");
    sqlite3_reset(q);
    return st;
}

/* the episodes row, then COMMIT; or ROLLBACK when the database already holds the episode */
static orl_status episode_end(sqlite_writer *sw, int terminated, int timeout) {
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)hash_final(sw->ep_hash));
    int present = 0;
    ORL_TRY(episode_present(sw, hash, &present));
    if (present) {
        ORL_TRY(db_run(sw->db, sw->rollback, sw->path, "skipping an episode already present"));
        if (sw->already_present) (*sw->already_present)++;
        sw->in_episode = 0;
        sw->ep_key++;
        return ORL_OK;
    }
    sqlite3_stmt *q = sw->insert_episode;
    sqlite3_bind_int64(q, 1, sw->ep_id);
    sqlite3_bind_int64(q, 2, sw->ep_first_step);
    sqlite3_bind_int64(q, 3, sw->ep_length);
    sqlite3_bind_double(q, 4, sw->ep_return);
    if (isfinite(sw->discount))
        sqlite3_bind_double(q, 5, sw->ep_disc_return);
    else
        sqlite3_bind_null(q, 5);
    sqlite3_bind_int(q, 6, terminated);
    sqlite3_bind_int(q, 7, timeout);
    sqlite3_bind_text(q, 8, sw->h->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 9, sw->batch);
    sqlite3_bind_int64(q, 10, sw->ep_key);
    sqlite3_bind_text(q, 11, hash, -1, SQLITE_STATIC);
    ORL_TRY(db_run(sw->db, q, sw->path, "writing table episodes"));
    ORL_TRY(note_added(sw, sw->ep_id));
    ORL_TRY(db_run(sw->db, sw->commit, sw->path, "committing an episode"));
    sw->in_episode = 0;
    sw->ep_key++;
    return ORL_OK;
}

/* n floats as a little-endian blob: the block's own memory on little-endian hosts */
static const void *le_floats(sqlite_writer *sw, const float *x, size_t n, float *scratch) {
    if (!sw->swap) return x;
    memcpy(scratch, x, n * sizeof *x);
    swap_floats(scratch, n);
    return scratch;
}

/* binds row i of b as step t of the episode in flight to the columns of row k of q */
static void bind_step(sqlite_writer *sw, sqlite3_stmt *q, int k, const orl_dataset *b, int64_t i,
                      int64_t t) {
    size_t s = (size_t)b->h.obs_dim, a = (size_t)b->h.act_dim, at = (size_t)i;
    int obs_bytes = (int)(s * sizeof(float)), act_bytes = (int)(a * sizeof(float));
    float *scratch = sw->scratch + (size_t)k * (2 * s + a);
    int c = k * STEP_COLUMNS;
    sqlite3_bind_int64(q, c + 1, sw->ep_id);
    sqlite3_bind_int64(q, c + 2, t);
    /* SQLITE_STATIC: the rows stay put until the statement has run */
    sqlite3_bind_blob(q, c + 3, le_floats(sw, b->obs + at * s, s, scratch), obs_bytes,
                      SQLITE_STATIC);
    sqlite3_bind_blob(q, c + 4, le_floats(sw, b->next_obs + at * s, s, scratch + s), obs_bytes,
                      SQLITE_STATIC);
    if (b->act) {
        sqlite3_bind_blob(q, c + 5, le_floats(sw, b->act + at * a, a, scratch + 2 * s), act_bytes,
                          SQLITE_STATIC);
        sqlite3_bind_null(q, c + 6);
    } else {
        sqlite3_bind_null(q, c + 5);
        sqlite3_bind_int(q, c + 6, b->act_idx[i]);
    }
    sqlite3_bind_double(q, c + 7, (double)b->rew[i]);
    sqlite3_bind_int(q, c + 8, b->terminal[i] != 0);
    sqlite3_bind_int(q, c + 9, b->timeout[i] != 0);
    if (isnan(b->logp_b[i]))
        sqlite3_bind_null(q, c + 10);
    else
        sqlite3_bind_double(q, c + 10, (double)b->logp_b[i]);
}

/* rows [i0, i0 + n) of b, all in the episode in flight, as its next steps */
static orl_status insert_run(sqlite_writer *sw, const orl_dataset *b, int64_t i0, int64_t n) {
    int64_t done = 0;
    for (; n - done >= STEPS_PER_INSERT; done += STEPS_PER_INSERT) {
        for (int k = 0; k < STEPS_PER_INSERT; k++)
            bind_step(sw, sw->insert_steps, k, b, i0 + done + k, sw->ep_length + done + k);
        ORL_TRY(db_run(sw->db, sw->insert_steps, sw->path, "writing table steps"));
    }
    for (; done < n; done++) {
        bind_step(sw, sw->insert_step, 0, b, i0 + done, sw->ep_length + done);
        ORL_TRY(db_run(sw->db, sw->insert_step, sw->path, "writing table steps"));
    }
    for (int64_t i = i0; i < i0 + n; i++) sw->ep_hash = row_hash(sw->ep_hash, b, i);
    for (int64_t i = i0; i < i0 + n; i++) {
        double rew = (double)b->rew[i];
        sw->ep_return += rew;
        sw->ep_disc_return += sw->ep_discount_pow * rew;
        sw->ep_discount_pow *= sw->discount;
    }
    sw->ep_length += n;
    return ORL_OK;
}

/* the block episode by episode: each run of rows up to a flagged row (or the block's end) */
static orl_status write_rows(sqlite_writer *sw, const orl_dataset *b) {
    for (int64_t i = 0; i < b->n_steps;) {
        if (!sw->in_episode) ORL_TRY(episode_begin(sw));
        int64_t end = i;
        while (end < b->n_steps - 1 && !b->terminal[end] && !b->timeout[end]) end++;
        ORL_TRY(insert_run(sw, b, i, end - i + 1));
        if (b->terminal[end] || b->timeout[end])
            ORL_TRY(episode_end(sw, b->terminal[end] != 0, b->terminal[end] ? 0 : 1));
        i = end + 1;
    }
    return ORL_OK;
}

static orl_status sqlite_writer_write(void *impl, const orl_dataset *block) {
    sqlite_writer *sw = impl;
    if (sw->failed) ORL_FAIL(ORL_ERR_INPUT, "%s: writing after a failed write", sw->path);
    orl_status st = write_rows(sw, block);
    /* drop the pointers into the caller's block */
    sqlite3_clear_bindings(sw->insert_step);
    sqlite3_clear_bindings(sw->insert_steps);
    if (st != ORL_OK) sw->failed = 1;
    return st;
}

/* rolls back the episode in flight; when appending, deletes the episodes this writer added
 * so the database is as it was; closes */
static void sqlite_writer_discard(void *impl) {
    sqlite_writer *sw = impl;
    if (!sw) return;
    if (sw->db) {
        if (!sqlite3_get_autocommit(sw->db)) sqlite3_exec(sw->db, "ROLLBACK", NULL, NULL, NULL);
        if (sw->in_place && sw->n_added > 0) {
            sqlite3_stmt *del_steps = NULL, *del_episodes = NULL;
            int ok = sqlite3_exec(sw->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
                     sqlite3_prepare_v2(sw->db, "DELETE FROM steps WHERE episode BETWEEN ?1 AND ?2",
                                        -1, &del_steps, NULL) == SQLITE_OK &&
                     sqlite3_prepare_v2(sw->db, "DELETE FROM episodes WHERE id BETWEEN ?1 AND ?2",
                                        -1, &del_episodes, NULL) == SQLITE_OK;
            for (int64_t k = 0; ok && k < sw->n_added; k++) {
                sqlite3_stmt *dels[2] = {del_steps, del_episodes};
                for (int j = 0; j < 2 && ok; j++) {
                    sqlite3_bind_int64(dels[j], 1, sw->added[k].lo);
                    sqlite3_bind_int64(dels[j], 2, sw->added[k].hi);
                    ok = sqlite3_step(dels[j]) == SQLITE_DONE;
                    sqlite3_reset(dels[j]);
                }
            }
            sqlite3_finalize(del_steps);
            sqlite3_finalize(del_episodes);
            sqlite3_exec(sw->db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
        }
        close_db(sw);
    }
    if (!sw->in_place) remove_companions(sw->path);
    writer_free(sw);
}

/* meta after appending: the sources joined, n_actions filled in when it was unknown */
static orl_status update_append_meta(sqlite_writer *sw, sqlite3_stmt *put) {
    const char *src = sw->h->source;
    if (src[0]) {
        sqlite3_stmt *q = NULL;
        ORL_TRY(db_prepare(sw->db, sw->path, "SELECT value FROM meta WHERE key = 'source'", &q,
                           "table meta"));
        int rc = sqlite3_step(q);
        const char *old = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
        orl_status st = rc == SQLITE_ROW || rc == SQLITE_DONE
                            ? ORL_OK
                            : db_fail(sw->db, rc, sw->path, "reading table meta");
        char *joined = NULL;
        if (st == ORL_OK && (!old || !old[0])) {
            st = put_meta_text(sw, put, "source", src);
        } else if (st == ORL_OK && !strstr(old, src)) {
            size_t n = strlen(old) + strlen(src) + 3;
            joined = malloc(n);
            if (!joined)
                st = orl_error_set(ORL_ERR_NOMEM, "%s: meta key 'source'", sw->path);
            else {
                snprintf(joined, n, "%s; %s", old, src);
                st = put_meta_text(sw, put, "source", joined);
            }
        }
        free(joined);
        sqlite3_finalize(q);
        ORL_TRY(st);
    }
    if (sw->h->n_actions > 0) {
        int64_t known = 0;
        const char *sql = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'n_actions'";
        ORL_TRY(db_int64(sw->db, sw->path, sql, 0, &known, "reading table meta"));
        if (known == 0) ORL_TRY(put_meta_int(sw, put, "n_actions", sw->h->n_actions));
    }
    return ORL_OK;
}

static const char touch_sql[] =
    "INSERT OR REPLACE INTO meta(key, value) VALUES ('modified_at', " NOW_SQL ")";

/* totals (and, when appending, source and n_actions) in one transaction */
static orl_status update_meta(sqlite_writer *sw) {
    int64_t n_steps = 0, n_episodes = 0;
    sqlite3_stmt *put = NULL;
    orl_status st;
    ORL_TRY(db_run(sw->db, sw->begin, sw->path, "updating table meta"));
    ORL_TRY(db_int64(sw->db, sw->path, "SELECT sum(length) FROM episodes", 0, &n_steps,
                     "reading table episodes"));
    ORL_TRY(db_int64(sw->db, sw->path, "SELECT count(*) FROM episodes", 0, &n_episodes,
                     "reading table episodes"));
    ORL_TRY(db_prepare(sw->db, sw->path, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                       &put, "table meta"));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, put, "n_steps", n_steps));
    ORL_TRY_GOTO(st, done, put_meta_int(sw, put, "n_episodes", n_episodes));
    if (sw->in_place) ORL_TRY_GOTO(st, done, update_append_meta(sw, put));
    ORL_TRY_GOTO(st, done, db_exec(sw->db, sw->path, touch_sql, "writing table meta"));
    ORL_TRY_GOTO(st, done, db_run(sw->db, sw->commit, sw->path, "updating table meta"));
done:
    sqlite3_finalize(put);
    return st;
}

static orl_status finish_open(sqlite_writer *sw) {
    if (sw->failed)
        ORL_FAIL(ORL_ERR_INPUT, "%s: an earlier write failed; nothing of this write was kept",
                 sw->path);
    /* the data ended inside an episode: it was cut, so its last step becomes a timeout */
    if (sw->in_episode) {
        sqlite3_stmt *q = NULL;
        ORL_TRY(db_prepare(sw->db, sw->path,
                           "UPDATE steps SET timeout = 1 WHERE episode = ?1 AND t = ?2", &q,
                           "table steps"));
        sqlite3_bind_int64(q, 1, sw->ep_id);
        sqlite3_bind_int64(q, 2, sw->ep_length - 1);
        orl_status st = db_run(sw->db, q, sw->path, "closing the last episode");
        sqlite3_finalize(q);
        ORL_TRY(st);
        ORL_TRY(episode_end(sw, 0, 1));
    }
    /* an append that found every episode already present leaves the file as it was, so a
     * retried ingest changes nothing, not even modified_at */
    if (!sw->in_place || sw->n_added > 0) ORL_TRY(update_meta(sw));
    return close_db(sw);
}

static orl_status sqlite_writer_finish(void *impl) {
    sqlite_writer *sw = impl;
    orl_status st = finish_open(sw);
    if (st != ORL_OK) {
        /* a failed append adds nothing: discard keeps the message of the failure */
        sqlite_writer_discard(sw);
        return st;
    }
    writer_free(sw);
    return ORL_OK;
}

static const orl_writer_ops sqlite_writer_ops = {sqlite_writer_write, sqlite_writer_finish,
                                                 sqlite_writer_discard};

orl_status orl_sqlite_writer_open(orl_writer *w, const orl_write_options *opt) {
    /* append is decided by the front end: w->in_place */
    sqlite_writer *sw = calloc(1, sizeof *sw);
    if (!sw) ORL_FAIL(ORL_ERR_NOMEM, "%s: sqlite writer", w->path);
    sw->h = &w->header;
    sw->in_place = w->in_place;
    sw->swap = !host_little_endian();
    sw->already_present = opt ? opt->already_present : NULL;
    snprintf(sw->path, sizeof sw->path, "%s", w->tmp);
    orl_status st;
    size_t scratch = STEPS_PER_INSERT * (2 * (size_t)w->header.obs_dim + (size_t)w->header.act_dim);
    sw->scratch = malloc(scratch * sizeof(float));
    if (!sw->scratch) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: sqlite writer", w->path);
    ORL_TRY_GOTO(st, fail, sw->in_place ? open_append(sw) : open_new(sw));
    ORL_TRY_GOTO(st, fail, prepare_statements(sw));
    w->ops = &sqlite_writer_ops;
    w->impl = sw;
    return ORL_OK;
fail:
    if (sw->db && !sqlite3_get_autocommit(sw->db))
        sqlite3_exec(sw->db, "ROLLBACK", NULL, NULL, NULL);
    finalize_statements(sw);
    sqlite3_close(sw->db);
    if (!sw->in_place) remove_companions(sw->path);
    writer_free(sw);
    return st;
}
