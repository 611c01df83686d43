/* formats/hdf5.c: the D4RL layout written and read back, D4RL-style files written by h5py,
 * h5py reading our files, the d3rlpy v1 fixture, hostile files, and streaming in small blocks.
 * Scratch files go under ORL_BINARY_DIR/tmp-hdf5/. Random data uses orl_rng with the seed
 * named in each test. */
#include "formats/internal.h" /* orl_hdf5_has_key */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-hdf5"
#define CHECKER     ORL_SOURCE_DIR "/tests/h5py_check.py"
#define D3RLPY_FILE ORL_FIXTURES_DIR "/d3rlpy-v1/cartpole_v1.1.0.h5"

/* ---- helpers ---- */

/* the scratch path of name; the last 16 results stay valid */
static const char *scratch(const char *name) {
    static char paths[16][4096];
    static int next;
    char *path = paths[next++ % 16];
    mkdir(SCRATCH_DIR, 0755);
    snprintf(path, 4096, SCRATCH_DIR "/%s", name);
    return path;
}

/* runs the h5py helper; returns its exit status */
static int run_checker(const char *verb, const char *a, const char *b) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s '%s' '%s'", ORL_PYTHON, CHECKER, verb, a, b);
    int rc = system(cmd);
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

/* a D4RL-style file written by h5py (tests/h5py_check.py make CASE) */
static const char *h5py_file(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "h5py-%s.h5", name);
    const char *path = scratch(file);
    cr_assert_eq(run_checker("make", name, path), 0, "h5py_check.py make %s failed", name);
    return path;
}

static orl_dataset *read_all(const char *path, int64_t max_episode_steps, int64_t block_rows) {
    orl_read_options opt = {0};
    opt.max_episode_steps = max_episode_steps;
    opt.block_rows = block_rows;
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_read(path, &opt, NULL, &ds);
    cr_assert_eq(st, ORL_OK, "reading %s: %s", path, orl_error_message());
    return ds;
}

/* the status of reading path, and the message */
static orl_status read_status(const char *path) {
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_read(path, NULL, NULL, &ds);
    orl_dataset_free(ds);
    return st;
}

static int same_float(float a, float b) {
    return (isnan(a) && isnan(b)) || a == b;
}

static void assert_same_floats(const float *a, const float *b, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        cr_assert(same_float(a[i], b[i]), "%s[%lld]: %g != %g", what, (long long)i, (double)a[i],
                  (double)b[i]);
}

static void assert_same_header(const orl_header *a, const orl_header *b) {
    cr_assert_eq(a->obs_dim, b->obs_dim);
    cr_assert_eq(a->act_dim, b->act_dim);
    cr_assert_eq(a->action_kind, b->action_kind);
    cr_assert_eq(a->n_actions, b->n_actions);
    cr_assert_eq(a->has_logp, b->has_logp);
    cr_assert_str_eq(a->env_id, b->env_id);
    cr_assert_str_eq(a->source, b->source);
    cr_assert_str_eq(a->behavior, b->behavior);
    cr_assert_str_eq(a->tool, b->tool);
    cr_assert(same_float((float)a->discount, (float)b->discount));
    assert_same_floats(a->obs_low, b->obs_low, a->obs_dim, "obs_low");
    assert_same_floats(a->obs_high, b->obs_high, a->obs_dim, "obs_high");
    assert_same_floats(a->act_low, b->act_low, a->act_dim, "act_low");
    assert_same_floats(a->act_high, b->act_high, a->act_dim, "act_high");
}

/* every column, the flags and the episode index are identical */
static void assert_same_rows(const orl_dataset *a, const orl_dataset *b) {
    cr_assert_eq(a->n_steps, b->n_steps, "%lld vs %lld steps", (long long)a->n_steps,
                 (long long)b->n_steps);
    cr_assert_eq(a->n_episodes, b->n_episodes, "%lld vs %lld episodes", (long long)a->n_episodes,
                 (long long)b->n_episodes);
    int64_t n = a->n_steps, s = a->h.obs_dim, k = a->h.act_dim;
    for (int64_t e = 0; e <= a->n_episodes; e++) cr_assert_eq(a->ep_off[e], b->ep_off[e]);
    assert_same_floats(a->obs, b->obs, n * s, "obs");
    assert_same_floats(a->next_obs, b->next_obs, n * s, "next_obs");
    if (a->act) assert_same_floats(a->act, b->act, n * k, "act");
    if (a->act_idx)
        for (int64_t i = 0; i < n; i++)
            cr_assert_eq(a->act_idx[i], b->act_idx[i], "act_idx[%lld]", (long long)i);
    assert_same_floats(a->rew, b->rew, n, "rew");
    assert_same_floats(a->logp_b, b->logp_b, n, "logp_b");
    cr_assert(memcmp(a->terminal, b->terminal, (size_t)n) == 0, "terminal differs");
    cr_assert(memcmp(a->timeout, b->timeout, (size_t)n) == 0, "timeout differs");
}

/* episodes of the given lengths with random values (seeded); episode e ends terminal when
 * e % 3 == 0, else timeout; the last is left open when open_tail */
static orl_dataset *synth(orl_action_kind kind, int32_t s, int32_t a, const int *lengths, int n_eps,
                          int has_logp, uint64_t seed, int open_tail) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, s, a, kind, kind == ORL_ACTION_KIND_DISCRETE ? 5 : 0), ORL_OK);
    h.has_logp = has_logp;
    snprintf(h.env_id, sizeof h.env_id, "Hopper-v4");
    snprintf(h.source, sizeof h.source, "robot log 2024-05-01 (seed %llu), \xc3\xa9tape 2",
             (unsigned long long)seed);
    snprintf(h.behavior, sizeof h.behavior, "medium");
    snprintf(h.tool, sizeof h.tool, "orl 0.1.0");
    h.discount = 0.99;
    for (int32_t i = 0; i < h.obs_dim; i++)
        h.obs_low[i] = -10.0f - (float)i, h.obs_high[i] = 10.0f + (float)i;
    for (int32_t i = 0; i < h.act_dim; i++) h.act_low[i] = -1.0f, h.act_high[i] = 1.0f;
    int64_t n = 0;
    for (int e = 0; e < n_eps; e++) n += lengths[e];
    orl_dataset *ds;
    cr_assert_eq(orl_dataset_create(&h, n > 0 ? n : 1, n_eps + 1, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 7);
    int64_t t = 0;
    for (int e = 0; e < n_eps; e++)
        for (int i = 0; i < lengths[e]; i++, t++) {
            for (int32_t j = 0; j < s; j++) {
                ds->obs[t * s + j] = (float)orl_rng_normal(&rng);
                ds->next_obs[t * s + j] = (float)orl_rng_normal(&rng);
            }
            if (ds->act)
                for (int32_t j = 0; j < a; j++)
                    ds->act[t * a + j] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
            if (ds->act_idx) ds->act_idx[t] = (int32_t)orl_rng_below(&rng, 5);
            ds->rew[t] = (float)orl_rng_normal(&rng);
            ds->logp_b[t] = has_logp ? (float)-orl_rng_uniform(&rng) * 3.0f : NAN;
            int last = i == lengths[e] - 1 && !(open_tail && e == n_eps - 1);
            ds->terminal[t] = (uint8_t)(last && e % 3 == 0);
            ds->timeout[t] = (uint8_t)(last && e % 3 != 0);
        }
    ds->n_steps = n;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    return ds;
}

/* writes ds with the streaming writer, slice rows per write call */
static void write_sliced(const orl_dataset *ds, const char *path, const orl_write_options *opt,
                         int64_t slice) {
    orl_writer *w;
    cr_assert_eq(orl_writer_open(path, &ds->h, opt, &w), ORL_OK, "%s", orl_error_message());
    orl_dataset *part;
    cr_assert_eq(orl_dataset_create(&ds->h, slice, 4, &part), ORL_OK);
    for (int64_t row = 0; row < ds->n_steps; row += slice) {
        int64_t n = ds->n_steps - row < slice ? ds->n_steps - row : slice;
        orl_dataset_clear(part);
        cr_assert_eq(orl_dataset_append(part, ds, row, n), ORL_OK);
        cr_assert_eq(orl_writer_write(w, part), ORL_OK, "%s", orl_error_message());
    }
    orl_dataset_free(part);
    cr_assert_eq(orl_writer_close(w), ORL_OK, "%s", orl_error_message());
}

/* the raw-row formula of h5py_check.py make */
static float formula_obs(int64_t t, int j) {
    return (float)(100.0 * (double)t + j);
}

enum { NEXT_EXPLICIT, NEXT_INFERRED };

/* rows[i] is the file row that became step i; flags[i] is '.', 'T' (terminal) or 'O' (timeout) */
static void assert_formula_rows(const orl_dataset *ds, const int *rows, const char *flags,
                                int next_mode, int logp) {
    int64_t n = (int64_t)strlen(flags);
    cr_assert_eq(ds->n_steps, n, "%lld steps, expected %lld", (long long)ds->n_steps, (long long)n);
    int32_t s = ds->h.obs_dim, a = ds->h.act_dim;
    for (int64_t i = 0; i < n; i++) {
        int64_t t = rows[i];
        for (int32_t j = 0; j < s; j++) {
            cr_assert_eq(ds->obs[i * s + j], formula_obs(t, j), "step %lld obs[%d]", (long long)i,
                         j);
            float next = next_mode == NEXT_EXPLICIT ? (float)(100.0 * (double)(t + 1) + j + 0.5)
                         : flags[i] == 'T'          ? formula_obs(t, j)
                                                    : formula_obs(t + 1, j);
            cr_assert_eq(ds->next_obs[i * s + j], next, "step %lld next_obs[%d] = %g, expected %g",
                         (long long)i, j, (double)ds->next_obs[i * s + j], (double)next);
        }
        if (ds->act)
            for (int32_t k = 0; k < a; k++)
                cr_assert_eq(ds->act[i * a + k], (float)((double)t + 0.25 * k));
        cr_assert_eq(ds->rew[i], (float)(0.5 * (double)t), "step %lld reward", (long long)i);
        if (logp)
            cr_assert_eq(ds->logp_b[i], (float)(-0.125 * (double)t));
        else
            cr_assert(isnan(ds->logp_b[i]));
        cr_assert_eq(ds->terminal[i], flags[i] == 'T', "step %lld terminal", (long long)i);
        cr_assert_eq(ds->timeout[i], flags[i] == 'O', "step %lld timeout", (long long)i);
    }
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
}

/* a bool (or any integer) column of a file, read with HDF5 itself */
static void read_file_flags(const char *path, const char *key, uint8_t *out, size_t n) {
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(file, 0);
    hid_t dset = H5Dopen2(file, key, H5P_DEFAULT);
    cr_assert_geq(dset, 0);
    hid_t space = H5Dget_space(dset);
    cr_assert_eq(H5Sget_simple_extent_npoints(space), (hssize_t)n);
    hid_t type = H5Dget_type(dset), mtype = H5Tget_native_type(type, H5T_DIR_ASCEND);
    cr_assert_eq(H5Tget_size(mtype), 1);
    cr_assert_geq(H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), 0);
    H5Tclose(mtype);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(dset);
    H5Fclose(file);
}

static void copy_prefix(const char *from, const char *to, long bytes) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out);
    char buf[65536];
    long left = bytes;
    while (left > 0) {
        size_t got = fread(buf, 1, left < (long)sizeof buf ? (size_t)left : sizeof buf, in);
        if (got == 0) break;
        fwrite(buf, 1, got, out);
        left -= (long)got;
    }
    fclose(in);
    fclose(out);
}

static long file_size(const char *path) {
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return (long)st.st_size;
}

/* ---- our files, written and read back ---- */

Test(hdf5, roundtrip_continuous_with_logp) {
    /* seed 11; chunks of 8 rows, writes of 5: chunks span calls, the last one is partial */
    int lengths[] = {7, 1, 12, 30, 4};
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 5, 3, lengths, 5, 1, 11, 0);
    orl_write_options opt = {0};
    opt.chunk_rows = 8;
    const char *path = scratch("rt-cont.h5");
    write_sliced(ds, path, &opt, 5);
    orl_dataset *back = read_all(path, 0, 0);
    assert_same_header(&back->h, &ds->h);
    assert_same_rows(back, ds);
    cr_assert_eq(back->h.has_logp, 1);
    orl_dataset *small = read_all(path, 0, 3);
    assert_same_rows(small, ds);
    orl_dataset_free(small);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(hdf5, roundtrip_discrete_without_logp) {
    /* seed 12; one default chunk */
    int lengths[] = {3, 9, 2, 2, 20};
    orl_dataset *ds = synth(ORL_ACTION_KIND_DISCRETE, 4, 1, lengths, 5, 0, 12, 0);
    const char *path = scratch("rt-disc.h5");
    cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *back = read_all(path, 0, 0);
    cr_assert_eq(back->h.action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_eq(back->h.n_actions, 5);
    cr_assert_eq(back->h.has_logp, 0);
    assert_same_header(&back->h, &ds->h);
    assert_same_rows(back, ds);
    cr_assert_eq(orl_hdf5_has_key(path, "infos/action_log_probs"), 0);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(hdf5, roundtrip_many_chunks_every_level) {
    /* seed 13: 3000 rows in chunks of 256, with no filters, level 1, the default and 9 */
    int lengths[] = {1000, 999, 1, 700, 300};
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 17, 6, lengths, 5, 1, 13, 0);
    int levels[] = {-1, 1, 0, 9};
    for (int i = 0; i < 4; i++) {
        orl_write_options opt = {0};
        opt.gzip_level = levels[i];
        opt.chunk_rows = 256;
        char name[64];
        snprintf(name, sizeof name, "rt-level%d.h5", levels[i]);
        const char *path = scratch(name);
        write_sliced(ds, path, &opt, 1000);
        orl_dataset *back = read_all(path, 0, 0);
        assert_same_rows(back, ds);
        orl_dataset_free(back);
    }
    orl_dataset_free(ds);
}

Test(hdf5, writer_closes_an_open_tail_with_a_timeout) {
    /* seed 14: the last episode has no flag on its last row */
    int lengths[] = {4, 6};
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 2, 2, lengths, 2, 0, 14, 1);
    cr_assert_eq(orl_dataset_open_tail(ds), 1);
    const char *path = scratch("rt-open.h5");
    write_sliced(ds, path, NULL, 3);
    /* in the file itself (readers patch an open tail on their own) */
    uint8_t terminals[10], timeouts[10];
    read_file_flags(path, "terminals", terminals, 10);
    read_file_flags(path, "timeouts", timeouts, 10);
    for (int t = 0; t < 10; t++) {
        cr_assert_eq(terminals[t], t == 3, "terminals[%d] in the file", t);
        cr_assert_eq(timeouts[t], t == 9, "timeouts[%d] in the file", t);
    }
    orl_dataset *back = read_all(path, 0, 0);
    cr_assert_eq(back->n_steps, 10);
    cr_assert_eq(back->n_episodes, 2);
    cr_assert_eq(back->timeout[9], 1);
    cr_assert_eq(back->terminal[9], 0);
    ds->timeout[9] = 1;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    assert_same_rows(back, ds);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(hdf5, empty_dataset_roundtrip) {
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 3, 2, NULL, 0, 1, 15, 0);
    const char *path = scratch("rt-empty.h5");
    cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *back = read_all(path, 0, 0);
    cr_assert_eq(back->n_steps, 0);
    cr_assert_eq(back->n_episodes, 0);
    assert_same_header(&back->h, &ds->h);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(hdf5, writer_rejects_a_bad_gzip_level) {
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 3, 2, NULL, 0, 0, 16, 0);
    orl_write_options opt = {0};
    opt.gzip_level = 12;
    orl_writer *w = NULL;
    cr_assert_eq(orl_writer_open(scratch("bad-level.h5"), &ds->h, &opt, &w), ORL_ERR_INPUT);
    cr_assert_null(w);
    cr_assert(strstr(orl_error_message(), "gzip level 12"), "%s", orl_error_message());
    orl_dataset_free(ds);
}

Test(hdf5, has_key) {
    int lengths[] = {3};
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 3, 2, lengths, 1, 1, 17, 0);
    const char *path = scratch("haskey.h5");
    cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK);
    cr_assert_eq(orl_hdf5_has_key(path, "observations"), 1);
    cr_assert_eq(orl_hdf5_has_key(path, "infos/action_log_probs"), 1);
    cr_assert_eq(orl_hdf5_has_key(path, "episode_terminals"), 0);
    cr_assert_eq(orl_hdf5_has_key(path, "infos/nothing"), 0);
    cr_assert_eq(orl_hdf5_has_key(path, "observations/x"), 0);
    cr_assert_eq(orl_hdf5_has_key(SCRATCH_DIR "/no-such-file.h5", "observations"), 0);
    FILE *f = fopen(scratch("haskey-garbage.h5"), "wb");
    fputs("\x89HDF\r\n\x1a\n but nothing else", f);
    fclose(f);
    cr_assert_eq(orl_hdf5_has_key(scratch("haskey-garbage.h5"), "observations"), 0);
    cr_assert_eq(orl_hdf5_has_key(D3RLPY_FILE, "episode_terminals"), 1);
    orl_dataset_free(ds);
}

/* ---- h5py reads what we write ---- */

static void dump(const char *dir, const char *name, const void *data, size_t bytes) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, bytes, f), bytes);
    fclose(f);
}

/* writes ds to DIR.h5 and its expected arrays and metadata to DIR/ for h5py_check.py */
static void write_with_expectation(const orl_dataset *ds, const char *name, const char **file,
                                   const char **dir) {
    static char file_path[4200], dir_path[4096];
    snprintf(dir_path, sizeof dir_path, "%s", scratch(name));
    snprintf(file_path, sizeof file_path, "%s.h5", dir_path);
    mkdir(dir_path, 0755);
    orl_write_options opt = {0};
    opt.chunk_rows = 64;
    write_sliced(ds, file_path, &opt, 100);
    size_t n = (size_t)ds->n_steps, s = (size_t)ds->h.obs_dim, a = (size_t)ds->h.act_dim;
    const orl_header *h = &ds->h;
    dump(dir_path, "obs.f32", ds->obs, n * s * 4);
    dump(dir_path, "next_obs.f32", ds->next_obs, n * s * 4);
    if (ds->act) dump(dir_path, "act.f32", ds->act, n * a * 4);
    if (ds->act_idx) dump(dir_path, "act.i32", ds->act_idx, n * 4);
    dump(dir_path, "rew.f32", ds->rew, n * 4);
    dump(dir_path, "terminal.u8", ds->terminal, n);
    dump(dir_path, "timeout.u8", ds->timeout, n);
    if (h->has_logp) dump(dir_path, "logp.f32", ds->logp_b, n * 4);
    dump(dir_path, "obs_low.f32", h->obs_low, s * 4);
    dump(dir_path, "obs_high.f32", h->obs_high, s * 4);
    dump(dir_path, "act_low.f32", h->act_low, a * 4);
    dump(dir_path, "act_high.f32", h->act_high, a * 4);
    char meta[4096];
    snprintf(meta, sizeof meta,
             "n=%zu\nobs_dim=%zu\nact_dim=%zu\ndiscrete=%d\nhas_logp=%d\nn_actions=%d\n"
             "env_id=%s\nsource=%s\nbehavior=%s\ntool=%s\naction_kind=%s\ndiscount=%.17g\n",
             n, s, a, h->action_kind == ORL_ACTION_KIND_DISCRETE, h->has_logp, h->n_actions,
             h->env_id, h->source, h->behavior, h->tool,
             h->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous", h->discount);
    dump(dir_path, "meta.txt", meta, strlen(meta));
    *file = file_path;
    *dir = dir_path;
}

Test(hdf5, h5py_reads_our_continuous_file) {
    /* seed 21: 1000 rows over 16 chunks of 64 */
    int lengths[] = {100, 250, 1, 400, 249};
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 17, 6, lengths, 5, 1, 21, 0);
    const char *file, *dir;
    write_with_expectation(ds, "xcheck-cont", &file, &dir);
    cr_assert_eq(run_checker("check", file, dir), 0, "h5py disagrees with %s", file);

    /* the checker catches a difference in the last array it reads */
    char path[4200];
    snprintf(path, sizeof path, "%s/timeout.u8", dir);
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    fseek(f, 5, SEEK_SET);
    fputc(1, f);
    fclose(f);
    cr_assert_neq(run_checker("check", file, dir), 0, "h5py_check.py missed a changed timeout");
    orl_dataset_free(ds);
}

Test(hdf5, h5py_reads_our_discrete_file) {
    /* seed 22 */
    int lengths[] = {30, 31, 3};
    orl_dataset *ds = synth(ORL_ACTION_KIND_DISCRETE, 4, 1, lengths, 3, 0, 22, 0);
    const char *file, *dir;
    write_with_expectation(ds, "xcheck-disc", &file, &dir);
    cr_assert_eq(run_checker("check", file, dir), 0, "h5py disagrees with %s", file);

    /* and catches a changed observation */
    char path[4200];
    snprintf(path, sizeof path, "%s/obs.f32", dir);
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    float x = 1234.5f;
    fseek(f, 4 * 50, SEEK_SET);
    fwrite(&x, 4, 1, f);
    fclose(f);
    cr_assert_neq(run_checker("check", file, dir), 0, "h5py_check.py missed a changed observation");
    orl_dataset_free(ds);
}

/* ---- D4RL-style files written by h5py ---- */

Test(hdf5, d4rl_bool_flags_logp_and_ignored_groups) {
    const char *path = h5py_file("bool");
    orl_dataset *ds = read_all(path, 0, 0);
    int rows[20];
    for (int i = 0; i < 20; i++) rows[i] = i;
    /* terminal at 6, timeout at 13; orl_dataset_read closes the open end of the file */
    assert_formula_rows(ds, rows, "......T......O.....O", NEXT_EXPLICIT, 1);
    cr_assert_eq(ds->h.obs_dim, 3);
    cr_assert_eq(ds->h.act_dim, 2);
    cr_assert_eq(ds->h.has_logp, 1);
    cr_assert_eq(ds->n_episodes, 3);
    orl_dataset_free(ds);
}

Test(hdf5, d4rl_float_flags_float64_arrays_and_column_rewards) {
    const char *path = h5py_file("float");
    orl_dataset *ds = read_all(path, 0, 0);
    int rows[12];
    for (int i = 0; i < 12; i++) rows[i] = i;
    assert_formula_rows(ds, rows, "...T...O...O", NEXT_EXPLICIT, 0);
    cr_assert_eq(ds->h.obs_dim, 4);
    cr_assert_eq(ds->h.act_dim, 3);
    cr_assert_eq(ds->h.has_logp, 0);
    orl_dataset_free(ds);
}

Test(hdf5, d4rl_without_timeouts) {
    const char *path = h5py_file("notimeouts");
    int rows[23];
    for (int i = 0; i < 23; i++) rows[i] = i;
    /* terminals split; the end of the file is a timeout */
    orl_dataset *ds = read_all(path, 0, 0);
    assert_formula_rows(ds, rows, "..T..........T........O", NEXT_EXPLICIT, 0);
    cr_assert_eq(ds->n_episodes, 3);
    orl_dataset_free(ds);
    /* max_episode_steps 5 also cuts after 5 steps counted from each episode's start */
    ds = read_all(path, 5, 0);
    assert_formula_rows(ds, rows, "..T....O....OT....O...O", NEXT_EXPLICIT, 0);
    cr_assert_eq(ds->n_episodes, 6);
    orl_dataset_free(ds);
}

Test(hdf5, d4rl_without_next_observations_drops_successorless_rows) {
    const char *path = h5py_file("nonext");
    orl_dataset *ds = read_all(path, 0, 0);
    /* file: terminal at 4, timeouts at 9 and 10 (a one-row episode), terminal at 15, open end
     * at 20. Rows 9, 10 and 20 have no logged successor: dropped; 8 takes the timeout, 19 is
     * left open and orl_dataset_read closes it; terminal rows stay with next_obs = obs */
    int rows[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    assert_formula_rows(ds, rows, "....T...O....T...O", NEXT_INFERRED, 1);
    cr_assert_eq(ds->n_episodes, 4);
    orl_dataset_free(ds);
}

Test(hdf5, d4rl_without_next_observations_or_timeouts) {
    const char *path = h5py_file("nonext_k");
    orl_dataset *ds = read_all(path, 4, 0);
    /* raw episodes 0-3 (cut at 4 steps), 4-7 (terminal at 7), 8-11 (cut), 12-13 (end of file);
     * the cut rows 3, 11 and 13 are dropped */
    int rows[] = {0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 12};
    assert_formula_rows(ds, rows, "..O...T..OO", NEXT_INFERRED, 0);
    cr_assert_eq(ds->n_episodes, 4);
    orl_dataset_free(ds);
}

Test(hdf5, d4rl_integer_actions_are_discrete) {
    const char *path = h5py_file("discrete");
    orl_dataset *ds = read_all(path, 0, 0);
    cr_assert_eq(ds->h.action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_eq(ds->h.n_actions, 3);
    cr_assert_eq(ds->n_steps, 16);
    for (int t = 0; t < 16; t++) cr_assert_eq(ds->act_idx[t], t % 3);
    cr_assert_eq(ds->terminal[5], 1);
    cr_assert_eq(ds->timeout[15], 1);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK);
    orl_dataset_free(ds);
}

/* the last row a reader streams from path, and whether the stream ends inside an episode */
static int stream_ends_open(const char *path, int64_t max_episode_steps) {
    orl_read_options opt = {0};
    opt.max_episode_steps = max_episode_steps;
    opt.block_rows = 4;
    orl_reader *r;
    cr_assert_eq(orl_reader_open(path, &opt, &r), ORL_OK, "%s", orl_error_message());
    orl_dataset *block;
    cr_assert_eq(orl_dataset_create(orl_reader_header(r), 4, 1, &block), ORL_OK);
    int open = 0;
    for (;;) {
        cr_assert_eq(orl_reader_next(r, block), ORL_OK, "%s", orl_error_message());
        if (block->n_steps == 0) break;
        open = orl_dataset_open_tail(block);
    }
    orl_dataset_free(block);
    orl_reader_close(r);
    return open;
}

Test(hdf5, end_of_file_inside_an_episode) {
    /* files with a timeouts key could have closed the last episode: it stays open in the
     * stream, orl_dataset_read closes it (see the flag strings above) and validation says so */
    const char *with_timeouts[] = {h5py_file("bool"), h5py_file("nonext")};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(stream_ends_open(with_timeouts[i], 0), 1, "%s", with_timeouts[i]);
        cr_assert_eq(orl_validate_file(with_timeouts[i], NULL, NULL, NULL, NULL), ORL_ERR_INVALID);
        cr_assert(strstr(orl_error_message(), "ends inside an episode"), "%s", orl_error_message());
    }
    /* without timeouts, D4RL's rule: the last row is a timeout */
    const char *without[] = {h5py_file("notimeouts"), h5py_file("nonext_k")};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(stream_ends_open(without[i], 4), 0, "%s", without[i]);
        cr_assert_eq(orl_validate_file(without[i], NULL, NULL, NULL, NULL), ORL_OK, "%s",
                     orl_error_message());
    }
    /* the d3rlpy fixture ends on an episode_terminals row */
    cr_assert_eq(stream_ends_open(D3RLPY_FILE, 0), 0);
}

/* ---- the d3rlpy v1 fixture ---- */

Test(hdf5, d3rlpy_fixture) {
    orl_reader *r;
    cr_assert_eq(orl_reader_open(D3RLPY_FILE, NULL, &r), ORL_OK, "%s", orl_error_message());
    cr_assert_str_eq(orl_reader_layout(r), "d3rlpy");
    cr_assert_eq(orl_reader_rows_hint(r), 99866);
    const orl_header *h = orl_reader_header(r);
    cr_assert_eq(h->obs_dim, 4);
    cr_assert_eq(h->action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_eq(h->n_actions, 2);
    cr_assert_eq(h->has_logp, 0);
    cr_assert(strstr(h->tool, "d3rlpy"), "%s", h->tool);
    orl_reader_close(r);

    /* 1582 episodes end at episode_terminals; 1448 of them terminal (kept whole), 134 timeouts
     * whose last row has no successor and is dropped: 99866 - 134 steps */
    orl_dataset *ds = read_all(D3RLPY_FILE, 0, 0);
    cr_assert_eq(ds->n_episodes, 1582);
    cr_assert_eq(ds->n_steps, 99732);
    int64_t terminal = 0, timeout = 0;
    for (int64_t t = 0; t < ds->n_steps; t++)
        terminal += ds->terminal[t], timeout += ds->timeout[t];
    cr_assert_eq(terminal, 1448);
    cr_assert_eq(timeout, 134);
    /* the first episode is rows 0..34, terminal at 34; next_obs is the following row */
    cr_assert_eq(ds->ep_off[1], 35);
    cr_assert_eq(ds->terminal[34], 1);
    for (int j = 0; j < 4; j++) cr_assert_eq(ds->next_obs[j], ds->obs[4 + j]);
    for (int j = 0; j < 4; j++) cr_assert_eq(ds->next_obs[33 * 4 + j], ds->obs[34 * 4 + j]);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());

    /* streaming: blocks of 7 rows give the same dataset */
    orl_dataset *small = read_all(D3RLPY_FILE, 0, 7);
    assert_same_rows(small, ds);
    orl_dataset_free(small);
    orl_dataset_free(ds);
}

/* ---- streaming ---- */

Test(hdf5, small_blocks_give_the_same_dataset) {
    const char *paths[] = {h5py_file("nonext"), h5py_file("bool"), h5py_file("nonext_k")};
    for (int p = 0; p < 3; p++) {
        orl_dataset *whole = read_all(paths[p], 4, 1 << 20);
        for (int64_t block = 1; block <= 9; block++) {
            orl_dataset *ds = read_all(paths[p], 4, block);
            assert_same_rows(ds, whole);
            orl_dataset_free(ds);
        }
        /* a reader loop with blocks of 3 rows and a block capacity of 2 */
        orl_read_options opt = {0};
        opt.block_rows = 3;
        opt.max_episode_steps = 4;
        orl_reader *r;
        cr_assert_eq(orl_reader_open(paths[p], &opt, &r), ORL_OK);
        orl_dataset *block, *all;
        cr_assert_eq(orl_dataset_create(orl_reader_header(r), 2, 1, &block), ORL_OK);
        cr_assert_eq(orl_dataset_create(orl_reader_header(r), 1, 1, &all), ORL_OK);
        for (;;) {
            cr_assert_eq(orl_reader_next(r, block), ORL_OK, "%s", orl_error_message());
            cr_assert_leq(block->n_steps, 2);
            if (block->n_steps == 0) break;
            cr_assert_eq(orl_dataset_append(all, block, 0, block->n_steps), ORL_OK);
        }
        /* orl_dataset_read closes an episode left open at the end of the file */
        if (orl_dataset_open_tail(all)) {
            all->timeout[all->n_steps - 1] = 1;
            cr_assert_eq(orl_dataset_index(all), ORL_OK);
        }
        assert_same_rows(all, whole);
        orl_dataset_free(all);
        orl_dataset_free(block);
        orl_reader_close(r);
        orl_dataset_free(whole);
    }
}

/* ---- hostile files ---- */

static void assert_format_error(const char *path, const char *needle) {
    orl_status st = read_status(path);
    cr_assert_eq(st, ORL_ERR_FORMAT, "%s: status %s (%s)", path, orl_status_string(st),
                 orl_error_message());
    cr_assert(strstr(orl_error_message(), needle), "message '%s' lacks '%s'", orl_error_message(),
              needle);
}

Test(hdf5, truncated_files_fail_cleanly) {
    int lengths[] = {500, 500};
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 8, 3, lengths, 2, 1, 31, 0);
    const char *whole = scratch("trunc-whole.h5");
    orl_write_options opt = {0};
    opt.chunk_rows = 128;
    cr_assert_eq(orl_dataset_write(ds, whole, &opt, NULL), ORL_OK);
    long size = file_size(whole);
    long cuts[] = {size / 2, size / 10, size - 1, 2048, 9};
    for (int i = 0; i < 5; i++) {
        const char *cut = scratch("trunc-cut.h5");
        copy_prefix(whole, cut, cuts[i]);
        assert_format_error(cut, "trunc-cut.h5: not a readable HDF5 file, truncated or corrupt");
        if (cuts[i] >= 2048) assert_format_error(cut, "truncated file: eof");
    }
    orl_dataset_free(ds);
}

Test(hdf5, garbage_after_an_hdf5_signature) {
    const char *path = scratch("garbage.h5");
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fwrite("\x89HDF\r\n\x1a\n", 1, 8, f);
    orl_rng rng;
    orl_rng_seed(&rng, 32, 1); /* seed 32 */
    for (int i = 0; i < 8192; i++) fputc((int)orl_rng_below(&rng, 256), f);
    fclose(f);
    assert_format_error(path, "garbage.h5");
    /* also asking for the layout explicitly */
    orl_read_options opt = {0};
    opt.layout = "d3rlpy";
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(path, &opt, NULL, &ds), ORL_ERR_FORMAT);
    cr_assert_null(ds);
}

Test(hdf5, corrupt_chunk_names_the_key) {
    int lengths[] = {300};
    orl_dataset *ds = synth(ORL_ACTION_KIND_CONTINUOUS, 8, 3, lengths, 1, 0, 33, 0);
    const char *path = scratch("corrupt-chunk.h5");
    orl_write_options opt = {0};
    opt.chunk_rows = 100;
    cr_assert_eq(orl_dataset_write(ds, path, &opt, NULL), ORL_OK);
    /* find chunk 1 of observations and overwrite it */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t dset = H5Dopen2(file, "observations", H5P_DEFAULT);
    hsize_t coord[2] = {100, 0}, chunk_size = 0;
    haddr_t addr = 0;
    unsigned mask = 0;
    cr_assert(H5Dget_chunk_info_by_coord(dset, coord, &mask, &addr, &chunk_size) >= 0);
    H5Dclose(dset);
    H5Fclose(file);
    cr_assert_gt(chunk_size, 16);
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    fseek(f, (long)addr, SEEK_SET);
    for (hsize_t i = 0; i < chunk_size; i++) fputc(0x5a, f);
    fclose(f);
    assert_format_error(path, "'observations'");
    orl_dataset_free(ds);
}

Test(hdf5, mismatched_lengths) {
    assert_format_error(h5py_file("mismatch"), "'rewards'");
    assert_format_error(h5py_file("mismatch"), "9 rows");
}

Test(hdf5, missing_observations) {
    assert_format_error(h5py_file("noobs"), "missing required key 'observations'");
}

Test(hdf5, wrong_ranks_and_types) {
    assert_format_error(h5py_file("rank3"),
                        "key 'observations': expected 2-D float array, got rank 3");
    assert_format_error(h5py_file("wide_rewards"), "key 'rewards'");
    assert_format_error(h5py_file("string_terminals"), "key 'terminals'");
    assert_format_error(h5py_file("group_actions"), "key 'actions'");
}
