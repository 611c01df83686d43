/* formats/sqlite.c: the SQLite layout. Round trips, appending in place, aborts, WAL state,
 * streaming in blocks, per-episode durability, and hostile files (garbage, truncated, missing
 * tables and keys, wrong blob sizes, random byte flips). Scratch files live under
 * ORL_BINARY_DIR/tmp-sqlite/. */
#include "formats/internal.h"
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRATCH ORL_BINARY_DIR "/tmp-sqlite"

/* ---- helpers ---- */

static void scratch(const char *name, char *path, size_t cap) {
    mkdir(SCRATCH, 0755);
    snprintf(path, cap, "%s/%s", SCRATCH, name);
    orl_fs_remove(path);
    char side[4200 + 16];
    snprintf(side, sizeof side, "%s-wal", path);
    orl_fs_remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    orl_fs_remove(side);
}

static int companion(const char *path, const char *suffix) {
    char side[4200 + 16];
    snprintf(side, sizeof side, "%s%s", path, suffix);
    return orl_fs_exists(side);
}

/* episodes with the given lengths; episode e ends terminal when e % 3 == 0, else timeout;
 * values depend on the seed so two datasets differ */
static orl_dataset *make(orl_action_kind kind, int has_logp, const int *lengths, int n_eps,
                         int seed) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 5, 3, kind, kind == ORL_ACTION_KIND_DISCRETE ? 6 : 0), ORL_OK);
    h.has_logp = has_logp;
    snprintf(h.env_id, sizeof h.env_id, "Synthetic-v%d", kind);
    snprintf(h.source, sizeof h.source, "make(seed=%d)", seed);
    snprintf(h.behavior, sizeof h.behavior, "medium");
    snprintf(h.tool, sizeof h.tool, "orl-test 0.1");
    h.discount = 0.99;
    for (int i = 0; i < h.obs_dim; i++) {
        h.obs_low[i] = i == 0 ? -INFINITY : -1.5f * (float)i;
        h.obs_high[i] = i == 0 ? INFINITY : 1.0f / 3.0f * (float)i;
    }
    if (kind == ORL_ACTION_KIND_CONTINUOUS) {
        h.act_low[0] = -1.0f; /* the others stay NaN: unknown */
        h.act_high[0] = 1.0f;
    }
    int total = 0;
    for (int e = 0; e < n_eps; e++) total += lengths[e];
    orl_dataset *ds;
    cr_assert_eq(orl_dataset_create(&h, total, n_eps, &ds), ORL_OK);
    orl_header_free(&h);
    int k = 0;
    for (int e = 0; e < n_eps; e++)
        for (int t = 0; t < lengths[e]; t++, k++) {
            for (int i = 0; i < 5; i++) {
                ds->obs[k * 5 + i] = sinf((float)(k * 7 + i + seed)) * 3.0f;
                ds->next_obs[k * 5 + i] = cosf((float)(k * 5 + i - seed)) / 7.0f;
            }
            if (ds->act)
                for (int i = 0; i < 3; i++)
                    ds->act[k * 3 + i] = tanhf((float)(k + i * seed) * 0.1f);
            else
                ds->act_idx[k] = (k + seed) % 6;
            ds->rew[k] = (float)(k % 11) * 0.37f - 1.0f + (float)seed;
            ds->logp_b[k] = has_logp ? -0.25f * (float)(1 + (k + seed) % 5) : NAN;
            int last = t == lengths[e] - 1;
            ds->terminal[k] = (uint8_t)(last && e % 3 == 0);
            ds->timeout[k] = (uint8_t)(last && e % 3 != 0);
        }
    ds->n_steps = total;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(ds->n_episodes, n_eps);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

static void assert_floats_same(const float *a, const float *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        cr_assert(a[i] == b[i] && signbit(a[i]) == signbit(b[i]), "%s[%zu]: %g != %g", what, i,
                  (double)a[i], (double)b[i]);
    }
}

static void assert_header_same(const orl_header *a, const orl_header *b) {
    cr_assert_eq(a->obs_dim, b->obs_dim);
    cr_assert_eq(a->act_dim, b->act_dim);
    cr_assert_eq(a->action_kind, b->action_kind);
    cr_assert_eq(a->n_actions, b->n_actions);
    cr_assert_eq(a->has_logp, b->has_logp);
    cr_assert_str_eq(a->env_id, b->env_id);
    cr_assert_str_eq(a->source, b->source);
    cr_assert_str_eq(a->behavior, b->behavior);
    cr_assert_str_eq(a->tool, b->tool);
    cr_assert(a->discount == b->discount || (isnan(a->discount) && isnan(b->discount)));
    assert_floats_same(a->obs_low, b->obs_low, (size_t)a->obs_dim, "obs_low");
    assert_floats_same(a->obs_high, b->obs_high, (size_t)a->obs_dim, "obs_high");
    assert_floats_same(a->act_low, b->act_low, (size_t)a->act_dim, "act_low");
    assert_floats_same(a->act_high, b->act_high, (size_t)a->act_dim, "act_high");
}

/* rows [0, n) of a equal rows [b0, b0 + n) of b */
static void assert_rows_same(const orl_dataset *a, const orl_dataset *b, int64_t b0, int64_t n) {
    size_t s = (size_t)a->h.obs_dim, d = (size_t)a->h.act_dim;
    assert_floats_same(a->obs, b->obs + b0 * (int64_t)s, (size_t)n * s, "obs");
    assert_floats_same(a->next_obs, b->next_obs + b0 * (int64_t)s, (size_t)n * s, "next_obs");
    if (a->act) assert_floats_same(a->act, b->act + b0 * (int64_t)d, (size_t)n * d, "act");
    if (a->act_idx)
        cr_assert_eq(memcmp(a->act_idx, b->act_idx + b0, (size_t)n * sizeof(int32_t)), 0,
                     "act_idx");
    assert_floats_same(a->rew, b->rew + b0, (size_t)n, "rew");
    assert_floats_same(a->logp_b, b->logp_b + b0, (size_t)n, "logp_b");
    cr_assert_eq(memcmp(a->terminal, b->terminal + b0, (size_t)n), 0, "terminal");
    cr_assert_eq(memcmp(a->timeout, b->timeout + b0, (size_t)n), 0, "timeout");
}

static void assert_dataset_same(const orl_dataset *a, const orl_dataset *b) {
    assert_header_same(&a->h, &b->h);
    cr_assert_eq(a->n_steps, b->n_steps);
    cr_assert_eq(a->n_episodes, b->n_episodes);
    cr_assert_eq(memcmp(a->ep_off, b->ep_off, ((size_t)a->n_episodes + 1) * sizeof(int64_t)), 0);
    assert_rows_same(a, b, 0, a->n_steps);
}

static sqlite3 *db_open(const char *path) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static void db_exec(const char *path, const char *sql) {
    sqlite3 *db = db_open(path);
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err);
    cr_assert_eq(sqlite3_close(db), SQLITE_OK);
}

static int64_t db_int(const char *path, const char *sql) {
    sqlite3 *db = db_open(path);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s", sql);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void db_text(const char *path, const char *sql, char *out, size_t cap) {
    sqlite3 *db = db_open(path);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s", sql);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s", sql);
    const unsigned char *t = sqlite3_column_text(q, 0);
    snprintf(out, cap, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* FNV-1a over every value of every row a query returns (type tag, then bytes) */
static uint64_t db_hash(const char *path, const char *sql) {
    sqlite3 *db = db_open(path);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s", sql);
    const uint64_t prime = 1099511628211u;
    uint64_t h = 14695981039346656037u;
    int rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        rows++;
        for (int c = 0; c < sqlite3_column_count(q); c++) {
            int type = sqlite3_column_type(q, c);
            const unsigned char *p =
                type == SQLITE_BLOB ? sqlite3_column_blob(q, c) : sqlite3_column_text(q, c);
            int n = sqlite3_column_bytes(q, c);
            h = (h ^ (uint64_t)(unsigned)type) * prime;
            for (int i = 0; i < n; i++) h = (h ^ p[i]) * prime;
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    cr_assert(rows > 0, "%s returned no rows", sql);
    return h;
}

/* everything a database holds, as one number */
static uint64_t db_content(const char *path) {
    return db_hash(path, "SELECT * FROM meta ORDER BY key") ^
           db_hash(path, "SELECT * FROM episodes ORDER BY id") * 3 ^
           db_hash(path, "SELECT * FROM steps ORDER BY episode, t") * 7;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

static void spit(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static orl_dataset *read_all(const char *path, int64_t block_rows) {
    orl_read_options ro = {.layout = "sqlite", .block_rows = block_rows};
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_read(path, &ro, NULL, &ds);
    cr_assert_eq(st, ORL_OK, "%s", orl_error_message());
    return ds;
}

/* reading fails with status, and the message contains each of the words */
static void assert_read_fails(const char *path, orl_status status, const char *w1, const char *w2,
                              const char *w3) {
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_read(path, NULL, NULL, &ds);
    cr_assert_eq(st, status, "status %d (%s), expected %d", st, orl_error_message(), status);
    cr_assert_null(ds);
    const char *msg = orl_error_message();
    cr_assert(strstr(msg, path) != NULL, "message does not name the file: %s", msg);
    const char *words[] = {w1, w2, w3};
    for (int i = 0; i < 3; i++)
        if (words[i]) cr_assert(strstr(msg, words[i]) != NULL, "'%s' not in: %s", words[i], msg);
}

static const int lengths_a[] = {3, 1, 7, 4, 2};
static const int lengths_b[] = {6, 2, 5};

static void write_a(const char *path) {
    orl_dataset *a = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_a, 5, 1);
    snprintf(a->h.source, sizeof a->h.source, "a.csv");
    cr_assert_eq(orl_dataset_write(a, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset_free(a);
}

/* ---- round trips ---- */

Test(sqlite, roundtrip_continuous_with_logp) {
    char path[4096];
    scratch("cont.sqlite", path, sizeof path);
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_a, 5, 1);
    cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK, "%s", orl_error_message());

    orl_reader *r;
    cr_assert_eq(orl_reader_open(path, NULL, &r), ORL_OK, "%s", orl_error_message());
    cr_assert_str_eq(orl_reader_layout(r), "sqlite");
    cr_assert_eq(orl_reader_rows_hint(r), 17);
    orl_reader_close(r);

    orl_dataset *back = read_all(path, 0);
    assert_dataset_same(ds, back);

    /* the episodes table: ids, lengths, offsets, flags and returns */
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes"), 5);
    cr_assert_eq(db_int(path, "SELECT sum(id) FROM episodes"), 0 + 1 + 2 + 3 + 4);
    cr_assert_eq(db_int(path, "SELECT first_step FROM episodes WHERE id = 3"), 11);
    cr_assert_eq(db_int(path, "SELECT length FROM episodes WHERE id = 2"), 7);
    cr_assert_eq(db_int(path, "SELECT terminated FROM episodes WHERE id = 3"), 1);
    cr_assert_eq(db_int(path, "SELECT timeout FROM episodes WHERE id = 2"), 1);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes WHERE terminated + timeout != 1"), 0);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes WHERE batch != 1"), 0);
    double ret = 0, disc = 0, pow = 1;
    for (int k = 4; k < 11; k++, pow *= 0.99) ret += ds->rew[k], disc += pow * ds->rew[k];
    char text[256];
    db_text(path, "SELECT printf('%.17g %.17g', return, disc_return) FROM episodes WHERE id = 2",
            text, sizeof text);
    double got_ret, got_disc;
    cr_assert_eq(sscanf(text, "%lf %lf", &got_ret, &got_disc), 2);
    cr_assert_float_eq(got_ret, ret, 1e-12);
    cr_assert_float_eq(got_disc, disc, 1e-12);
    /* the sum of rewards per episode from the steps agrees with the episodes table */
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes e WHERE abs(e.return - (SELECT "
                              "sum(rew) FROM steps s WHERE s.episode = e.id)) > 1e-9"),
                 0);
    /* blobs are 4-byte float32 per element, little-endian */
    cr_assert_eq(db_int(path, "SELECT count(*) FROM steps WHERE length(obs) != 20 OR "
                              "length(next_obs) != 20 OR length(act) != 12 OR act_idx IS NOT NULL"),
                 0);
    db_text(path, "SELECT hex(obs) FROM steps WHERE episode = 0 AND t = 0", text, sizeof text);
    uint32_t bits;
    memcpy(&bits, &ds->obs[0], 4);
    char want[9];
    snprintf(want, sizeof want, "%02X%02X%02X%02X", bits & 0xff, (bits >> 8) & 0xff,
             (bits >> 16) & 0xff, bits >> 24);
    cr_assert(strncmp(text, want, 8) == 0, "obs[0] stored as %.8s, expected %s", text, want);
    /* bounds are JSON: unknown is null, infinities 1e999 */
    db_text(path, "SELECT value FROM meta WHERE key = 'act_low'", text, sizeof text);
    cr_assert_str_eq(text, "[-1,null,null]");
    db_text(path, "SELECT json_extract(value, '$[0]') < -1e308 FROM meta WHERE key = 'obs_low'",
            text, sizeof text);
    cr_assert_str_eq(text, "1");
    db_text(path, "SELECT value FROM meta WHERE key = 'action_kind'", text, sizeof text);
    cr_assert_str_eq(text, "continuous");
    db_text(path, "SELECT value FROM meta WHERE key = 'discount'", text, sizeof text);
    cr_assert_str_eq(text, "0.99");
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(sqlite, roundtrip_discrete_without_logp) {
    char path[4096];
    scratch("disc.db", path, sizeof path);
    int lengths[] = {1, 9, 4};
    orl_dataset *ds = make(ORL_ACTION_KIND_DISCRETE, 0, lengths, 3, 2);
    ds->h.discount = NAN; /* unknown: disc_return stays NULL */
    cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *back = read_all(path, 0);
    assert_dataset_same(ds, back);
    cr_assert_eq(back->h.action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_eq(back->h.n_actions, 6);
    cr_assert_eq(back->h.has_logp, 0);
    for (int64_t i = 0; i < back->n_steps; i++) cr_assert(isnan(back->logp_b[i]));
    cr_assert_eq(db_int(path, "SELECT count(*) FROM steps WHERE logp_b IS NOT NULL OR act IS NOT "
                              "NULL OR act_idx IS NULL"),
                 0);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes WHERE disc_return IS NOT NULL"), 0);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM meta WHERE key = 'discount' AND value IS NULL"),
                 1);
    int64_t sum = 0;
    for (int64_t i = 0; i < ds->n_steps; i++) sum += ds->act_idx[i];
    cr_assert_eq(db_int(path, "SELECT sum(act_idx) FROM steps"), sum);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

/* episodes spanning write calls, and an episode left open at close */
Test(sqlite, writer_blocks_span_episodes_and_open_tail_times_out) {
    char path[4096];
    scratch("span.sqlite", path, sizeof path);
    int lengths[] = {4, 6, 5};
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths, 3, 3);
    orl_writer *w;
    cr_assert_eq(orl_writer_open(path, &ds->h, NULL, &w), ORL_OK, "%s", orl_error_message());
    orl_dataset *block;
    cr_assert_eq(orl_dataset_create(&ds->h, 3, 1, &block), ORL_OK);
    /* leave the last row out: the third episode is open when the writer closes */
    for (int64_t row = 0; row < ds->n_steps - 1; row += 3) {
        int64_t n = ds->n_steps - 1 - row < 3 ? ds->n_steps - 1 - row : 3;
        orl_dataset_clear(block);
        cr_assert_eq(orl_dataset_append(block, ds, row, n), ORL_OK);
        cr_assert_eq(orl_writer_write(w, block), ORL_OK, "%s", orl_error_message());
    }
    cr_assert_eq(orl_writer_close(w), ORL_OK, "%s", orl_error_message());
    orl_dataset *back = read_all(path, 0);
    cr_assert_eq(back->n_steps, ds->n_steps - 1);
    cr_assert_eq(back->n_episodes, 3);
    cr_assert_eq(back->ep_off[2], 10);
    cr_assert_eq(back->timeout[back->n_steps - 1], 1);
    cr_assert_eq(back->terminal[back->n_steps - 1], 0);
    back->timeout[back->n_steps - 1] = 0; /* the rest is as written */
    assert_rows_same(back, ds, 0, back->n_steps);
    cr_assert_eq(db_int(path, "SELECT timeout * 10 + length FROM episodes WHERE id = 2"), 14);
    cr_assert_eq(db_int(path, "SELECT value FROM meta WHERE key = 'n_steps'"), 14);
    cr_assert_eq(db_int(path, "SELECT value FROM meta WHERE key = 'n_episodes'"), 3);
    orl_dataset_free(block);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

/* long episodes go in several rows per INSERT: every row lands as written, whatever the
 * block boundaries */
Test(sqlite, long_episodes_through_odd_blocks) {
    int lengths[] = {37, 16, 100, 1, 47, 15, 17};
    for (int kind = 0; kind < 2; kind++) {
        char path[4096];
        scratch(kind ? "long-disc.sqlite" : "long-cont.sqlite", path, sizeof path);
        orl_dataset *ds = make((orl_action_kind)kind, 1, lengths, 7, 6 + kind);
        orl_writer *w;
        cr_assert_eq(orl_writer_open(path, &ds->h, NULL, &w), ORL_OK, "%s", orl_error_message());
        orl_dataset *block;
        cr_assert_eq(orl_dataset_create(&ds->h, 23, 1, &block), ORL_OK);
        for (int64_t row = 0; row < ds->n_steps; row += 23) {
            int64_t n = ds->n_steps - row < 23 ? ds->n_steps - row : 23;
            orl_dataset_clear(block);
            cr_assert_eq(orl_dataset_append(block, ds, row, n), ORL_OK);
            cr_assert_eq(orl_writer_write(w, block), ORL_OK, "%s", orl_error_message());
        }
        cr_assert_eq(orl_writer_close(w), ORL_OK, "%s", orl_error_message());
        orl_dataset *back = read_all(path, 0);
        assert_dataset_same(ds, back);
        cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes e WHERE e.length != (SELECT "
                                  "count(*) FROM steps s WHERE s.episode = e.id) OR e.length != "
                                  "(SELECT max(t) + 1 FROM steps s WHERE s.episode = e.id)"),
                     0);
        cr_assert_eq(db_int(path, "SELECT length FROM episodes WHERE id = 2"), 100);
        orl_dataset_free(back);
        orl_dataset_free(block);
        orl_dataset_free(ds);
    }
}

/* ---- streaming ---- */

Test(sqlite, small_blocks_read_the_same_dataset) {
    char path[4096];
    scratch("blocks.sqlite", path, sizeof path);
    int lengths[] = {5, 1, 12, 3, 8, 2, 9};
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths, 7, 4);
    cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *whole = read_all(path, 100000);
    int64_t sizes[] = {1, 2, 3, 7, 39, 40, 41};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        orl_dataset *back = read_all(path, sizes[k]);
        assert_dataset_same(whole, back);
        orl_dataset_free(back);
    }
    assert_dataset_same(ds, whole);

    /* block by block: never more rows than the block holds, all rows in order */
    orl_reader *r;
    cr_assert_eq(orl_reader_open(path, NULL, &r), ORL_OK, "%s", orl_error_message());
    orl_dataset *block;
    cr_assert_eq(orl_dataset_create(orl_reader_header(r), 4, 1, &block), ORL_OK);
    int64_t seen = 0, blocks = 0;
    for (;;) {
        cr_assert_eq(orl_reader_next(r, block), ORL_OK, "%s", orl_error_message());
        if (block->n_steps == 0) break;
        cr_assert(block->n_steps <= 4);
        assert_rows_same(block, ds, seen, block->n_steps);
        seen += block->n_steps;
        blocks++;
    }
    cr_assert_eq(seen, 40);
    cr_assert_eq(blocks, 10);
    orl_dataset_free(block);
    orl_reader_close(r);
    orl_dataset_free(whole);
    orl_dataset_free(ds);
}

/* ---- WAL state, durability ---- */

Test(sqlite, closed_file_is_wal_and_self_contained) {
    char path[4096];
    scratch("wal.sqlite", path, sizeof path);
    write_a(path);
    cr_assert(!companion(path, "-wal") && !companion(path, "-shm"), "companions left by close");
    /* reading a finished file creates no companions either */
    orl_dataset *back = read_all(path, 0);
    orl_dataset_free(back);
    cr_assert(!companion(path, "-wal") && !companion(path, "-shm"), "companions left by reading");
    char mode[32];
    db_text(path, "PRAGMA journal_mode", mode, sizeof mode);
    cr_assert_str_eq(mode, "wal");
    cr_assert_eq(db_int(path, "PRAGMA page_count") * db_int(path, "PRAGMA page_size"),
                 orl_fs_size(path));
}

/* an interrupted ingest loses at most the episode in flight: each finished episode is
 * committed (visible to another connection) before the writer closes */
Test(sqlite, each_episode_is_committed_when_it_ends) {
    char path[4096];
    scratch("durable.sqlite", path, sizeof path);
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_a, 5, 5);
    orl_writer *w;
    cr_assert_eq(orl_writer_open(path, &ds->h, NULL, &w), ORL_OK, "%s", orl_error_message());
    orl_dataset *part;
    cr_assert_eq(orl_dataset_create(&ds->h, 16, 4, &part), ORL_OK);
    cr_assert_eq(orl_dataset_append(part, ds, 0, 6), ORL_OK); /* 2 episodes and 2 rows */
    cr_assert_eq(orl_writer_write(w, part), ORL_OK, "%s", orl_error_message());
    cr_assert(companion(w->tmp, "-wal"), "the writer is not in WAL mode");
    cr_assert_eq(db_int(w->tmp, "SELECT count(*) FROM episodes"), 2);
    cr_assert_eq(db_int(w->tmp, "SELECT count(*) FROM steps"), 4);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", w->tmp);
    orl_writer_abort(w);
    cr_assert(!orl_fs_exists(tmp) && !companion(tmp, "-wal") && !companion(tmp, "-shm"));
    cr_assert(!orl_fs_exists(path));
    orl_dataset_free(part);
    orl_dataset_free(ds);
}

/* ---- appending ---- */

static orl_status append(const char *path, const orl_dataset *ds) {
    orl_write_options wo = {.layout = ORL_LAYOUT_SQLITE, .append = 1};
    return orl_dataset_write(ds, path, &wo, NULL);
}

Test(sqlite, append_adds_episodes_and_keeps_old_rows) {
    char path[4096];
    scratch("append.sqlite", path, sizeof path);
    orl_dataset *a = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_a, 5, 1);
    snprintf(a->h.source, sizeof a->h.source, "a.csv");
    cr_assert_eq(orl_dataset_write(a, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    uint64_t steps_a = db_hash(path, "SELECT * FROM steps ORDER BY episode, t");
    uint64_t episodes_a = db_hash(path, "SELECT * FROM episodes ORDER BY id");

    orl_dataset *b = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_b, 3, 9);
    snprintf(b->h.source, sizeof b->h.source, "b.csv");
    cr_assert_eq(append(path, b), ORL_OK, "%s", orl_error_message());
    cr_assert(!companion(path, "-wal") && !companion(path, "-shm"));

    /* A's rows are untouched, B's follow with new ids */
    cr_assert_eq(db_hash(path, "SELECT * FROM steps WHERE episode < 5 ORDER BY episode, t"),
                 steps_a);
    cr_assert_eq(db_hash(path, "SELECT * FROM episodes WHERE id < 5 ORDER BY id"), episodes_a);
    cr_assert_eq(db_int(path, "SELECT group_concat(id) = '5,6,7' FROM (SELECT id FROM episodes "
                              "WHERE source = 'b.csv' ORDER BY id)"),
                 1);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes WHERE source = 'a.csv' AND batch = 1"),
                 5);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes WHERE source = 'b.csv' AND batch = 2"),
                 3);
    cr_assert_eq(db_int(path, "SELECT first_step FROM episodes WHERE id = 5"), 17);
    cr_assert_eq(db_int(path, "SELECT value FROM meta WHERE key = 'n_steps'"), 17 + 13);
    cr_assert_eq(db_int(path, "SELECT value FROM meta WHERE key = 'n_episodes'"), 8);

    /* read back: A then B */
    orl_dataset *back = read_all(path, 5);
    cr_assert_eq(back->n_steps, a->n_steps + b->n_steps);
    cr_assert_eq(back->n_episodes, 8);
    assert_rows_same(a, back, 0, a->n_steps);
    assert_rows_same(b, back, a->n_steps, b->n_steps);
    cr_assert_str_eq(back->h.source, "a.csv; b.csv");
    cr_assert_eq(orl_dataset_validate(back), ORL_OK, "%s", orl_error_message());

    /* appending the same source again repeats neither its episodes nor its name, and changes
     * nothing: modified_at is set in the past first, so a touch shows in any second */
    db_exec(path, "UPDATE meta SET value = '2000-01-01T00:00:00Z' WHERE key = 'modified_at'");
    uint64_t before = db_content(path);
    cr_assert_eq(append(path, b), ORL_OK, "%s", orl_error_message());
    orl_dataset *again = read_all(path, 0);
    cr_assert_eq(again->n_episodes, 8);
    cr_assert_str_eq(again->h.source, "a.csv; b.csv");
    cr_assert_eq(db_int(path, "SELECT max(batch) FROM episodes"), 2);
    cr_assert_eq(db_content(path), before);
    orl_dataset_free(again);
    orl_dataset_free(back);
    orl_dataset_free(a);
    orl_dataset_free(b);
}

/* appends rows [0, n) of ds (whole episodes) as one write; *present counts the skipped */
static orl_status append_rows(const char *path, const orl_dataset *ds, int64_t n,
                              int64_t *present) {
    orl_write_options wo = {.layout = ORL_LAYOUT_SQLITE, .append = 1, .already_present = present};
    orl_writer *w = NULL;
    orl_dataset *part = NULL;
    orl_status st = orl_dataset_create(&ds->h, n, ds->n_episodes, &part);
    if (!st) st = orl_dataset_append(part, ds, 0, n);
    if (!st) st = orl_writer_open(path, &ds->h, &wo, &w);
    if (!st) st = orl_writer_write(w, part);
    if (!st) {
        st = orl_writer_close(w);
        w = NULL;
    }
    orl_writer_abort(w);
    orl_dataset_free(part);
    return st;
}

Test(sqlite, retried_append_adds_exactly_the_missing_episodes) {
    char path[4096], once[4096];
    scratch("retry.sqlite", path, sizeof path);
    scratch("retry-once.sqlite", once, sizeof once);
    orl_dataset *a = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_a, 5, 3);
    orl_dataset *b = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_b, 3, 4);
    snprintf(a->h.source, sizeof a->h.source, "run.csv");
    snprintf(b->h.source, sizeof b->h.source, "other.csv");
    int64_t present = 0;
    /* uninterrupted: other.csv, then run.csv */
    cr_assert_eq(append_rows(once, b, b->n_steps, &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(append_rows(once, a, a->n_steps, &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(present, 0);

    /* interrupted: run.csv's first two episodes were committed (a crash), then the retry */
    cr_assert_eq(append_rows(path, b, b->n_steps, &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(append_rows(path, a, a->ep_off[2], &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(append_rows(path, a, a->n_steps, &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(present, 2);
    const char *content = "SELECT e.id, e.first_step, e.length, e.return, e.source, e.key, "
                          "e.hash, s.* FROM episodes e JOIN steps s ON s.episode = e.id "
                          "ORDER BY e.id, s.t";
    cr_assert_eq(db_hash(path, content), db_hash(once, content));
    cr_assert_eq(db_int(path, "SELECT value FROM meta WHERE key = 'n_episodes'"), 8);

    /* a changed episode is new (its hash differs); a retry after that adds nothing */
    a->rew[a->ep_off[3]] += 1.0f;
    present = 0;
    cr_assert_eq(append_rows(path, a, a->n_steps, &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(present, 4);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes"), 9);
    cr_assert_eq(db_int(path, "SELECT key FROM episodes ORDER BY id DESC LIMIT 1"), 3);
    present = 0;
    cr_assert_eq(append_rows(path, a, a->n_steps, &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(present, 5);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes"), 9);
    orl_dataset *back = read_all(path, 0);
    cr_assert_eq(orl_dataset_validate(back), ORL_OK, "%s", orl_error_message());
    orl_dataset_free(back);
    orl_dataset_free(a);
    orl_dataset_free(b);
}

Test(sqlite, append_to_a_database_without_episode_keys_adds_them) {
    char path[4096];
    scratch("old-format.sqlite", path, sizeof path);
    orl_dataset *a = make(ORL_ACTION_KIND_DISCRETE, 1, lengths_a, 5, 5);
    cr_assert_eq(orl_dataset_write(a, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    db_exec(path, "DROP INDEX episodes_source_key; ALTER TABLE episodes DROP COLUMN key; "
                  "ALTER TABLE episodes DROP COLUMN hash");
    cr_assert_eq(db_int(path, "SELECT count(*) FROM pragma_table_info('episodes')"), 10);
    int64_t present = 0;
    cr_assert_eq(append_rows(path, a, a->n_steps, &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(present, 0); /* the old episodes have no keys: nothing to recognise them by */
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes WHERE hash IS NOT NULL"), 5);
    cr_assert_eq(append_rows(path, a, a->n_steps, &present), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(present, 5);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes"), 10);
    orl_dataset_free(a);
}

Test(sqlite, append_to_missing_file_creates_it) {
    char path[4096];
    scratch("append-new.sqlite", path, sizeof path);
    orl_dataset *b = make(ORL_ACTION_KIND_DISCRETE, 1, lengths_b, 3, 2);
    cr_assert_eq(append(path, b), ORL_OK, "%s", orl_error_message());
    orl_dataset *back = read_all(path, 0);
    assert_dataset_same(b, back);
    orl_dataset_free(back);
    orl_dataset_free(b);
}

static void assert_append_refused(const char *name, orl_dataset *b, const char *word) {
    char path[4096];
    scratch(name, path, sizeof path);
    write_a(path);
    size_t n0, n1;
    unsigned char *before = slurp(path, &n0);
    orl_status st = append(path, b);
    cr_assert_eq(st, ORL_ERR_INPUT, "status %d: %s", st, orl_error_message());
    cr_assert(strstr(orl_error_message(), word) != NULL, "'%s' not in: %s", word,
              orl_error_message());
    cr_assert(strstr(orl_error_message(), path) != NULL, "%s", orl_error_message());
    unsigned char *after = slurp(path, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "the database changed");
    cr_assert(!companion(path, "-wal") && !companion(path, "-shm"));
    free(before);
    free(after);
    orl_dataset_free(b);
}

Test(sqlite, append_with_other_obs_dim_is_refused) {
    orl_dataset *b = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_b, 3, 2);
    /* the same rows described as 5 -> 4 observations: rebuild with obs_dim 4 */
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 4, 3, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    h.has_logp = 1;
    orl_dataset *c;
    cr_assert_eq(orl_dataset_create(&h, b->n_steps, 4, &c), ORL_OK);
    orl_header_free(&h);
    c->n_steps = b->n_steps;
    memcpy(c->act, b->act, (size_t)b->n_steps * 3 * sizeof(float));
    memcpy(c->rew, b->rew, (size_t)b->n_steps * sizeof(float));
    memcpy(c->logp_b, b->logp_b, (size_t)b->n_steps * sizeof(float));
    memcpy(c->terminal, b->terminal, (size_t)b->n_steps);
    memcpy(c->timeout, b->timeout, (size_t)b->n_steps);
    memset(c->obs, 0, (size_t)b->n_steps * 4 * sizeof(float));
    memset(c->next_obs, 0, (size_t)b->n_steps * 4 * sizeof(float));
    cr_assert_eq(orl_dataset_index(c), ORL_OK);
    orl_dataset_free(b);
    assert_append_refused("refuse-obs.sqlite", c, "obs_dim");
}

Test(sqlite, append_with_other_action_kind_is_refused) {
    orl_dataset *b = make(ORL_ACTION_KIND_DISCRETE, 1, lengths_b, 3, 2);
    assert_append_refused("refuse-kind.sqlite", b, "action_kind");
}

Test(sqlite, append_without_logp_to_logged_database_is_refused) {
    orl_dataset *b = make(ORL_ACTION_KIND_CONTINUOUS, 0, lengths_b, 3, 2);
    assert_append_refused("refuse-logp.sqlite", b, "has_logp");
}

Test(sqlite, aborted_append_leaves_database_as_before) {
    char path[4096];
    scratch("abort-append.sqlite", path, sizeof path);
    write_a(path);
    uint64_t before = db_content(path);
    int64_t pages = db_int(path, "PRAGMA page_count");

    orl_dataset *b = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_b, 3, 7);
    orl_write_options wo = {.layout = ORL_LAYOUT_SQLITE, .append = 1};
    orl_writer *w;
    cr_assert_eq(orl_writer_open(path, &b->h, &wo, &w), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(w->in_place, 1);
    orl_dataset *part;
    cr_assert_eq(orl_dataset_create(&b->h, 16, 4, &part), ORL_OK);
    cr_assert_eq(orl_dataset_append(part, b, 0, 10), ORL_OK); /* 2 episodes and 2 rows */
    cr_assert_eq(orl_writer_write(w, part), ORL_OK, "%s", orl_error_message());
    /* the two finished episodes are committed while the writer is open */
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes"), 7);
    orl_writer_abort(w);

    cr_assert(orl_fs_exists(path));
    cr_assert(!companion(path, "-wal") && !companion(path, "-shm"));
    cr_assert_eq(db_content(path), before, "the database changed");
    cr_assert_eq(db_int(path, "SELECT count(*) FROM episodes"), 5);
    cr_assert_eq(db_int(path, "SELECT count(*) FROM steps"), 17);
    cr_assert(db_int(path, "PRAGMA page_count") >= pages);
    orl_dataset *back = read_all(path, 0);
    cr_assert_eq(back->n_steps, 17);
    orl_dataset_free(back);
    orl_dataset_free(part);
    orl_dataset_free(b);
}

Test(sqlite, aborted_new_file_leaves_nothing) {
    char dir[4096], path[4200];
    scratch("abort-new", dir, sizeof dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/out.sqlite", dir);
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_a, 5, 1);
    orl_writer *w;
    cr_assert_eq(orl_writer_open(path, &ds->h, NULL, &w), ORL_OK, "%s", orl_error_message());
    orl_dataset *part;
    cr_assert_eq(orl_dataset_create(&ds->h, 16, 4, &part), ORL_OK);
    cr_assert_eq(orl_dataset_append(part, ds, 0, 9), ORL_OK);
    cr_assert_eq(orl_writer_write(w, part), ORL_OK, "%s", orl_error_message());
    orl_writer_abort(w);
    cr_assert(!orl_fs_exists(path));
    cr_assert_eq(rmdir(dir), 0, "files left in %s", dir);
    orl_dataset_free(part);
    orl_dataset_free(ds);
}

/* ---- hostile files ---- */

Test(sqlite, garbage_is_refused) {
    char path[4096];
    scratch("garbage.sqlite", path, sizeof path);
    unsigned char junk[9000];
    orl_rng rng;
    uint64_t seed = 20240601;
    orl_rng_seed(&rng, seed, 1);
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)orl_rng_below(&rng, 256);
    spit(path, junk, sizeof junk);
    orl_read_options ro = {.layout = "sqlite"};
    orl_reader *r = NULL;
    orl_status st = orl_reader_open(path, &ro, &r);
    cr_assert_eq(st, ORL_ERR_FORMAT, "seed %llu: %s", (unsigned long long)seed,
                 orl_error_message());
    cr_assert(strstr(orl_error_message(), "not a database"), "%s", orl_error_message());
    cr_assert_null(r);
    /* the SQLite signature followed by garbage is sniffed as SQLite, then refused */
    memcpy(junk, "SQLite format 3", 16);
    spit(path, junk, sizeof junk);
    assert_read_fails(path, ORL_ERR_FORMAT, NULL, NULL, NULL);
    /* appending to garbage is refused and leaves it alone */
    orl_dataset *b = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths_b, 3, 2);
    cr_assert_eq(append(path, b), ORL_ERR_FORMAT, "%s", orl_error_message());
    size_t n;
    unsigned char *after = slurp(path, &n);
    cr_assert(n == sizeof junk && memcmp(after, junk, n) == 0);
    free(after);
    orl_dataset_free(b);
}

Test(sqlite, truncated_database_is_refused) {
    char path[4096], cut[4096];
    scratch("whole.sqlite", path, sizeof path);
    scratch("cut.sqlite", cut, sizeof cut);
    int lengths[] = {200, 300, 250};
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, 1, lengths, 3, 1);
    cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    size_t n;
    unsigned char *whole = slurp(path, &n);
    cr_assert(n > 3 * 8192, "the test needs a file of several pages (%zu bytes)", n);
    size_t sizes[] = {0, 100, 1000, 8192, 8192 + 100, n / 2, n - 8192, n - 1};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        spit(cut, whole, sizes[k]);
        orl_dataset *back = NULL;
        orl_status st = orl_dataset_read(cut, NULL, NULL, &back);
        cr_assert_neq(st, ORL_OK, "a database cut to %zu of %zu bytes was read", sizes[k], n);
        cr_assert(st == ORL_ERR_FORMAT || st == ORL_ERR_IO, "%d: %s", st, orl_error_message());
        cr_assert(strstr(orl_error_message(), cut) != NULL, "%s", orl_error_message());
        cr_assert_null(back);
    }
    free(whole);
    orl_dataset_free(ds);
}

Test(sqlite, missing_table_is_named) {
    char path[4096];
    scratch("no-steps.sqlite", path, sizeof path);
    write_a(path);
    db_exec(path, "DROP TABLE steps");
    assert_read_fails(path, ORL_ERR_FORMAT, "missing table 'steps'", NULL, NULL);
    write_a(path);
    db_exec(path, "ALTER TABLE steps DROP COLUMN logp_b");
    assert_read_fails(path, ORL_ERR_FORMAT, "steps", "logp_b", NULL);
}

Test(sqlite, foreign_sqlite_database_is_refused) {
    char path[4096];
    scratch("foreign.sqlite", path, sizeof path);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(db, "CREATE TABLE other(x); INSERT INTO other VALUES (1)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_read_fails(path, ORL_ERR_FORMAT, "missing table 'meta'", NULL, NULL);
}

Test(sqlite, missing_or_bad_meta_keys_are_named) {
    char path[4096];
    scratch("meta.sqlite", path, sizeof path);
    write_a(path);
    db_exec(path, "DELETE FROM meta WHERE key = 'obs_dim'");
    assert_read_fails(path, ORL_ERR_FORMAT, "no key 'obs_dim'", NULL, NULL);
    db_exec(path, "INSERT INTO meta VALUES ('obs_dim', 'five')");
    assert_read_fails(path, ORL_ERR_FORMAT, "obs_dim", "five", NULL);
    db_exec(path, "UPDATE meta SET value = '4' WHERE key = 'obs_dim'");
    assert_read_fails(path, ORL_ERR_FORMAT, "obs_low", "4 numbers", NULL);
    db_exec(path, "UPDATE meta SET value = '5' WHERE key = 'obs_dim';"
                  "UPDATE meta SET value = 'both' WHERE key = 'action_kind'");
    assert_read_fails(path, ORL_ERR_FORMAT, "action_kind", "both", NULL);
    db_exec(path, "UPDATE meta SET value = 'continuous' WHERE key = 'action_kind';"
                  "UPDATE meta SET value = '99' WHERE key = 'format_version'");
    assert_read_fails(path, ORL_ERR_UNSUPPORTED, "format_version", NULL, NULL);
    db_exec(path, "UPDATE meta SET value = '1' WHERE key = 'format_version'");
    orl_dataset *back = read_all(path, 0);
    cr_assert_eq(back->n_steps, 17);
    orl_dataset_free(back);
}

Test(sqlite, wrong_blob_length_names_episode_and_step) {
    char path[4096];
    scratch("blob.sqlite", path, sizeof path);
    write_a(path);
    db_exec(path, "UPDATE steps SET next_obs = x'0000803f' WHERE episode = 2 AND t = 5");
    assert_read_fails(path, ORL_ERR_FORMAT, "episode 2, step 5", "next_obs",
                      "a BLOB of 4 bytes, expected 5 float32");
    db_exec(path, "UPDATE steps SET next_obs = obs WHERE episode = 2 AND t = 5;"
                  "UPDATE steps SET act = NULL WHERE episode = 3 AND t = 0");
    assert_read_fails(path, ORL_ERR_FORMAT, "episode 3, step 0", "act", "NULL");
    db_exec(path, "UPDATE steps SET act = zeroblob(12) WHERE episode = 3 AND t = 0;"
                  "UPDATE steps SET rew = 'x' WHERE episode = 4 AND t = 1");
    assert_read_fails(path, ORL_ERR_FORMAT, "episode 4, step 1", "rew", NULL);
}

Test(sqlite, broken_episode_order_is_named) {
    char path[4096];
    scratch("order.sqlite", path, sizeof path);
    write_a(path);
    db_exec(path, "DELETE FROM steps WHERE episode = 2 AND t = 3");
    assert_read_fails(path, ORL_ERR_FORMAT, "episode 2", "step 4 follows step 2", NULL);
    write_a(path);
    db_exec(path, "DELETE FROM steps WHERE episode = 3 AND t = 3");
    assert_read_fails(path, ORL_ERR_FORMAT, "episode 3 ends at step 2",
                      "neither terminal nor timeout", NULL);
    /* the last episode cut short is read with a timeout on its new last step */
    write_a(path);
    db_exec(path, "DELETE FROM steps WHERE episode = 4 AND t = 1");
    orl_dataset *back = read_all(path, 0);
    cr_assert_eq(back->n_steps, 16);
    cr_assert_eq(back->n_episodes, 5);
    cr_assert_eq(back->timeout[15], 1);
    cr_assert_eq(orl_dataset_validate(back), ORL_OK, "%s", orl_error_message());
    orl_dataset_free(back);
    write_a(path);
    db_exec(path, "UPDATE steps SET timeout = 1 WHERE episode = 0 AND t = 1");
    assert_read_fails(path, ORL_ERR_FORMAT, "episode 0, step 1", "before the episode's last", NULL);
}

/* random byte flips: every read ends in a dataset or an error, never a crash */
Test(sqlite, random_corruption_never_crashes) {
    char path[4096], bad[4096];
    scratch("fuzz-src.sqlite", path, sizeof path);
    scratch("fuzz.sqlite", bad, sizeof bad);
    int lengths[] = {40, 60, 30};
    orl_dataset *ds = make(ORL_ACTION_KIND_DISCRETE, 1, lengths, 3, 1);
    cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    size_t n;
    unsigned char *whole = slurp(path, &n);
    unsigned char *copy = malloc(n);
    uint64_t seed = 7;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 3);
    int failed = 0;
    for (int round = 0; round < 60; round++) {
        memcpy(copy, whole, n);
        int flips = 1 + (int)orl_rng_below(&rng, 8);
        for (int f = 0; f < flips; f++)
            copy[orl_rng_below(&rng, (uint32_t)n)] = (unsigned char)orl_rng_below(&rng, 256);
        spit(bad, copy, n);
        orl_dataset *back = NULL;
        orl_status st = orl_dataset_read(bad, NULL, NULL, &back);
        if (st != ORL_OK) {
            failed++;
            cr_assert(strlen(orl_error_message()) > 0, "seed %llu round %d: no message",
                      (unsigned long long)seed, round);
        } else {
            cr_assert_eq(back->n_steps, 130, "seed %llu round %d", (unsigned long long)seed, round);
        }
        orl_dataset_free(back);
    }
    cr_log_info("random corruption (seed %llu): %d of 60 refused", (unsigned long long)seed,
                failed);
    free(copy);
    free(whole);
    orl_dataset_free(ds);
}

/* a finished file in a directory nobody may write: readable without creating -wal/-shm */
Test(sqlite, read_only_file_and_directory) {
    char dir[4096], path[4200];
    scratch("ro-dir", dir, sizeof dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/data.sqlite", dir);
    write_a(path);
    cr_assert_eq(chmod(path, 0444), 0);
    cr_assert_eq(chmod(dir, 0555), 0);
    orl_dataset *back = read_all(path, 3);
    cr_assert_eq(back->n_steps, 17);
    orl_dataset_free(back);
    if (geteuid() == 0) {
        /* root ignores permissions: read again as an unprivileged user */
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
            orl_dataset *ds = NULL;
            orl_status st = orl_dataset_read(path, NULL, NULL, &ds);
            int ok = st == ORL_OK && ds->n_steps == 17;
            orl_dataset_free(ds);
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status));
        if (WEXITSTATUS(status) != 3) /* 3: no unprivileged user to switch to */
            cr_assert_eq(WEXITSTATUS(status), 0, "an unprivileged reader failed");
    }
    cr_assert(!companion(path, "-wal") && !companion(path, "-shm"));
    chmod(dir, 0755);
    chmod(path, 0644);
}
