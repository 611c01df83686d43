/* formats/minari.c: the Minari fixture imported and checked against the HDF5 file itself,
 * export -> import round trips (continuous and discrete, blocks spanning episodes), exports
 * read by h5py, streaming in small blocks, and hostile directories and files (missing
 * main_data.hdf5, T observations instead of T+1, missing keys, truncated or garbage HDF5,
 * invalid metadata.json, early terminations, Dict spaces). */
#include "tests/shell.h"
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define DIR  ORL_BINARY_DIR "/tmp-minari"
#define DOOR ORL_FIXTURES_DIR "/minari-door-human-v2"

static void setup(void) {
    mkdir(DIR, 0755);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static orl_status read_minari(const char *path, int64_t block_rows, orl_dataset **out) {
    orl_read_options opt = {0};
    opt.layout = "minari";
    opt.block_rows = block_rows;
    return orl_dataset_read(path, &opt, NULL, out);
}

static void write_minari(const orl_dataset *ds, const char *path) {
    run("rm -rf '%s'", path);
    orl_write_options opt = {0};
    opt.layout = ORL_LAYOUT_MINARI;
    cr_assert_eq(orl_dataset_write(ds, path, &opt, NULL), ORL_OK, "%s", orl_error_message());
}

/* episodes of the given lengths; next_obs chains into the next step's obs within an episode
 * (as Minari's T+1 observations require); episode e ends terminal when e % 3 == 0, else by
 * timeout; values come from a seeded generator */
static orl_dataset *synthetic(orl_action_kind kind, const int *lengths, int n_eps) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 4, 2, kind, 5), ORL_OK);
    snprintf(h.env_id, sizeof h.env_id, "Synthetic-v0");
    snprintf(h.source, sizeof h.source, "unit test");
    snprintf(h.behavior, sizeof h.behavior, "random");
    snprintf(h.tool, sizeof h.tool, "orl test");
    h.discount = 0.97;
    h.obs_low[1] = -2.5f, h.obs_high[1] = 3.25f; /* the other obs bounds stay unknown */
    if (kind == ORL_ACTION_KIND_CONTINUOUS)
        for (int i = 0; i < 2; i++) h.act_low[i] = -1.0f, h.act_high[i] = 1.0f;
    orl_dataset *ds, *row;
    cr_assert_eq(orl_dataset_create(&h, 16, 4, &ds), ORL_OK);
    cr_assert_eq(orl_dataset_create(&h, 1, 1, &row), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, 2024, 7);
    float obs[4];
    for (int e = 0; e < n_eps; e++) {
        for (int i = 0; i < 4; i++) obs[i] = (float)orl_rng_normal(&rng);
        for (int t = 0; t < lengths[e]; t++) {
            orl_dataset_clear(row);
            row->n_steps = 1;
            for (int i = 0; i < 4; i++) {
                row->obs[i] = obs[i];
                obs[i] = (float)orl_rng_normal(&rng);
                row->next_obs[i] = obs[i];
            }
            if (row->act)
                for (int i = 0; i < 2; i++) row->act[i] = (float)(2 * orl_rng_uniform(&rng) - 1);
            if (row->act_idx) row->act_idx[0] = (int32_t)orl_rng_below(&rng, 4);
            row->rew[0] = (float)orl_rng_normal(&rng);
            row->logp_b[0] = NAN;
            int last = t == lengths[e] - 1;
            row->terminal[0] = (uint8_t)(last && e % 3 == 0);
            row->timeout[0] = (uint8_t)(last && e % 3 != 0);
            cr_assert_eq(orl_dataset_append(ds, row, 0, 1), ORL_OK);
        }
    }
    orl_dataset_free(row);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

static void assert_same(const orl_dataset *a, const orl_dataset *b) {
    cr_assert_eq(a->n_steps, b->n_steps);
    cr_assert_eq(a->n_episodes, b->n_episodes);
    cr_assert_eq(a->h.obs_dim, b->h.obs_dim);
    cr_assert_eq(a->h.act_dim, b->h.act_dim);
    cr_assert_eq(a->h.action_kind, b->h.action_kind);
    size_t n = (size_t)a->n_steps, s = (size_t)a->h.obs_dim, d = (size_t)a->h.act_dim;
    cr_assert_eq(memcmp(a->obs, b->obs, n * s * sizeof(float)), 0, "obs differ");
    cr_assert_eq(memcmp(a->next_obs, b->next_obs, n * s * sizeof(float)), 0, "next_obs differ");
    if (a->act) cr_assert_eq(memcmp(a->act, b->act, n * d * sizeof(float)), 0, "act differ");
    if (a->act_idx)
        cr_assert_eq(memcmp(a->act_idx, b->act_idx, n * sizeof(int32_t)), 0, "act_idx differ");
    cr_assert_eq(memcmp(a->rew, b->rew, n * sizeof(float)), 0, "rew differ");
    cr_assert_eq(memcmp(a->terminal, b->terminal, n), 0, "terminal differ");
    cr_assert_eq(memcmp(a->timeout, b->timeout, n), 0, "timeout differ");
    for (int64_t e = 0; e <= a->n_episodes; e++) cr_assert_eq(a->ep_off[e], b->ep_off[e]);
}

/* reads episode_{e}/key of a Minari file as doubles straight through HDF5 (not our reader) */
static double *h5_read_doubles(hid_t file, int e, const char *key, hsize_t *rows) {
    char name[64];
    snprintf(name, sizeof name, "episode_%d/%s", e, key);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    cr_assert(d >= 0, "%s", name);
    hid_t space = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    cr_assert(rank >= 1);
    size_t count = (size_t)dims[0] * (rank == 2 ? (size_t)dims[1] : 1);
    double *v = malloc(count * sizeof *v);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    H5Sclose(space);
    H5Dclose(d);
    *rows = dims[0];
    return v;
}

static long long h5_attr_int(hid_t file, const char *obj, const char *name) {
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0, "%s/%s", obj, name);
    long long v = -1;
    cr_assert_geq(H5Aread(a, H5T_NATIVE_LLONG, &v), 0);
    H5Aclose(a);
    return v;
}

/* ---- the fixture ---- */

Test(minari, fixture_counts_values_and_episode_order, .init = setup) {
    orl_dataset *ds = NULL;
    cr_assert_eq(read_minari(DOOR, 0, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->n_episodes, 25);
    cr_assert_eq(ds->n_steps, 6729);
    cr_assert_eq(ds->h.obs_dim, 39);
    cr_assert_eq(ds->h.act_dim, 28);
    cr_assert_eq(ds->h.action_kind, ORL_ACTION_KIND_CONTINUOUS);
    cr_assert_eq(ds->h.has_logp, 0);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    cr_assert_str_eq(ds->h.env_id, "AdroitHandDoor-v1");
    cr_assert_str_eq(ds->h.source, "D4RL/door/human-v2");
    cr_assert_str_eq(ds->h.tool, "minari 0.4.3");
    for (int i = 0; i < 28; i++) cr_assert(ds->h.act_low[i] == -1.0f && ds->h.act_high[i] == 1.0f);
    for (int i = 0; i < 39; i++)
        cr_assert(isinf(ds->h.obs_low[i]) && ds->h.obs_low[i] < 0 && isinf(ds->h.obs_high[i]));

    hid_t file = H5Fopen(DOOR "/main_data.hdf5", H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(file >= 0);
    /* episode e of the dataset is episode_{e}: numeric order, episode_2 before episode_10 */
    for (int e = 0; e < 25; e++) {
        char name[32];
        snprintf(name, sizeof name, "episode_%d", e);
        long long steps = h5_attr_int(file, name, "total_steps");
        cr_assert_eq(ds->ep_off[e + 1] - ds->ep_off[e], steps, "%s: %lld steps in the attribute",
                     name, steps);
        /* the fixture truncates every episode at its end */
        int64_t last = ds->ep_off[e + 1] - 1;
        cr_assert(ds->timeout[last] && !ds->terminal[last], "%s", name);
    }
    /* values, straight from HDF5: obs[t] = observations[t], next_obs[t] = observations[t+1] */
    int spot[] = {0, 2, 10, 24};
    for (size_t k = 0; k < sizeof spot / sizeof spot[0]; k++) {
        int e = spot[k];
        hsize_t rows_o, rows_a, rows_r;
        double *o = h5_read_doubles(file, e, "observations", &rows_o);
        double *a = h5_read_doubles(file, e, "actions", &rows_a);
        double *r = h5_read_doubles(file, e, "rewards", &rows_r);
        int64_t t0 = ds->ep_off[e], steps = ds->ep_off[e + 1] - t0;
        cr_assert_eq((int64_t)rows_o, steps + 1);
        cr_assert_eq((int64_t)rows_a, steps);
        int64_t ts[] = {0, 1, steps / 2, steps - 1};
        for (int j = 0; j < 4; j++) {
            int64_t t = ts[j];
            for (int i = 0; i < 39; i += 7) {
                cr_assert_eq(ds->obs[(t0 + t) * 39 + i], (float)o[t * 39 + i]);
                cr_assert_eq(ds->next_obs[(t0 + t) * 39 + i], (float)o[(t + 1) * 39 + i]);
            }
            for (int i = 0; i < 28; i += 5)
                cr_assert_eq(ds->act[(t0 + t) * 28 + i], (float)a[t * 28 + i]);
            cr_assert_eq(ds->rew[t0 + t], (float)r[t]);
        }
        free(o);
        free(a);
        free(r);
    }
    H5Fclose(file);
    orl_dataset_free(ds);
}

Test(minari, fixture_sniffed_and_opened_by_file, .init = setup) {
    orl_reader *r = NULL;
    cr_assert_eq(orl_reader_open(DOOR, NULL, &r), ORL_OK, "%s", orl_error_message());
    cr_assert_str_eq(orl_reader_layout(r), "minari");
    cr_assert_eq(orl_reader_rows_hint(r), 6729);
    orl_reader_close(r);
    cr_assert_eq(orl_reader_open(DOOR "/main_data.hdf5", NULL, &r), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_str_eq(orl_reader_layout(r), "minari", "sniffed from the episode_0 group");
    orl_reader_close(r);

    orl_dataset *by_dir = NULL, *by_file = NULL;
    cr_assert_eq(read_minari(DOOR, 0, &by_dir), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(read_minari(DOOR "/main_data.hdf5", 0, &by_file), ORL_OK, "%s",
                 orl_error_message());
    assert_same(by_dir, by_file);
    cr_assert_str_eq(by_file->h.env_id, "AdroitHandDoor-v1"); /* metadata.json found beside */
    orl_dataset_free(by_dir);
    orl_dataset_free(by_file);
}

Test(minari, streaming_small_blocks_equal_one_block, .init = setup) {
    orl_dataset *small = NULL, *big = NULL;
    cr_assert_eq(read_minari(DOOR, 7, &small), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(read_minari(DOOR, 1 << 20, &big), ORL_OK, "%s", orl_error_message());
    assert_same(small, big);

    /* the reader fills each block to its capacity, cutting episodes across blocks */
    orl_reader *r = NULL;
    orl_read_options opt = {.layout = "minari"};
    cr_assert_eq(orl_reader_open(DOOR, &opt, &r), ORL_OK, "%s", orl_error_message());
    orl_dataset *block = NULL;
    cr_assert_eq(orl_dataset_create(orl_reader_header(r), 50, 4, &block), ORL_OK);
    int64_t total = 0, blocks = 0, open_tails = 0;
    for (;;) {
        cr_assert_eq(orl_reader_next(r, block), ORL_OK, "%s", orl_error_message());
        if (block->n_steps == 0) break;
        cr_assert_leq(block->n_steps, 50);
        cr_assert_eq(memcmp(block->obs, big->obs + total * 39, (size_t)block->n_steps * 39 * 4), 0);
        open_tails += orl_dataset_open_tail(block);
        total += block->n_steps;
        blocks++;
    }
    cr_assert_eq(total, 6729);
    cr_assert_eq(blocks, (6729 + 49) / 50);
    cr_assert_gt(open_tails, 100, "episodes are cut across blocks");
    orl_dataset_free(block);
    orl_reader_close(r);
    orl_dataset_free(small);
    orl_dataset_free(big);
}

/* ---- export and import ---- */

static const int round_trip_lengths[12] = {5, 1, 9, 3, 14, 2, 7, 1, 6, 11, 4, 8};

static void round_trip(orl_action_kind kind, const char *name) {
    orl_dataset *ds = synthetic(kind, round_trip_lengths, 12), *back = NULL, *again = NULL;
    char path[512];
    snprintf(path, sizeof path, DIR "/%s", name);

    /* streamed through a writer in blocks of 5 rows, so episodes span calls; tiny chunks */
    run("rm -rf '%s'", path);
    orl_write_options wopt = {.layout = ORL_LAYOUT_MINARI, .chunk_rows = 3};
    orl_writer *w = NULL;
    cr_assert_eq(orl_writer_open(path, &ds->h, &wopt, &w), ORL_OK, "%s", orl_error_message());
    orl_dataset *block = NULL;
    cr_assert_eq(orl_dataset_create(&ds->h, 5, 2, &block), ORL_OK);
    for (int64_t row = 0; row < ds->n_steps; row += 5) {
        orl_dataset_clear(block);
        int64_t n = ds->n_steps - row < 5 ? ds->n_steps - row : 5;
        cr_assert_eq(orl_dataset_append(block, ds, row, n), ORL_OK);
        cr_assert_eq(orl_writer_write(w, block), ORL_OK, "%s", orl_error_message());
    }
    cr_assert_eq(orl_writer_close(w), ORL_OK, "%s", orl_error_message());
    orl_dataset_free(block);

    cr_assert_eq(read_minari(path, 4, &back), ORL_OK, "%s", orl_error_message());
    assert_same(ds, back);
    cr_assert_str_eq(back->h.env_id, "Synthetic-v0");
    cr_assert_str_eq(back->h.source, "unit test");
    cr_assert_str_eq(back->h.behavior, "random");
    cr_assert_str_eq(back->h.tool, "orl test");
    cr_assert_float_eq(back->h.discount, 0.97, 1e-12);
    /* known bounds kept; unknown ones exported as Gymnasium's unbounded +-inf */
    cr_assert_eq(back->h.obs_low[1], -2.5f);
    cr_assert_eq(back->h.obs_high[1], 3.25f);
    cr_assert(isinf(back->h.obs_low[0]) && back->h.obs_low[0] < 0);
    cr_assert(isinf(back->h.obs_high[3]) && back->h.obs_high[3] > 0);
    if (kind == ORL_ACTION_KIND_DISCRETE) {
        cr_assert_eq(back->h.n_actions, 5, "Discrete(n) keeps the header's n_actions");
    } else {
        cr_assert_eq(back->h.act_low[1], -1.0f);
        cr_assert_eq(back->h.act_high[0], 1.0f);
    }

    /* and through the whole-dataset writer, into an existing directory's place */
    orl_write_options opt = {.layout = ORL_LAYOUT_MINARI};
    cr_assert_eq(orl_dataset_write(back, path, &opt, NULL), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(read_minari(path, 0, &again), ORL_OK, "%s", orl_error_message());
    assert_same(ds, again);
    orl_dataset_free(again);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(minari, round_trip_continuous, .init = setup) {
    round_trip(ORL_ACTION_KIND_CONTINUOUS, "rt-continuous");
}

Test(minari, round_trip_discrete, .init = setup) {
    round_trip(ORL_ACTION_KIND_DISCRETE, "rt-discrete");
}

Test(minari, open_tail_written_as_truncation, .init = setup) {
    int lengths[] = {4, 6};
    orl_dataset *ds = synthetic(ORL_ACTION_KIND_CONTINUOUS, lengths, 2), *back = NULL;
    ds->timeout[ds->n_steps - 1] = 0; /* the log ends inside episode 1 */
    run("rm -rf " DIR "/open-tail");
    orl_writer *w = NULL;
    orl_write_options opt = {.layout = ORL_LAYOUT_MINARI};
    cr_assert_eq(orl_writer_open(DIR "/open-tail", &ds->h, &opt, &w), ORL_OK);
    cr_assert_eq(orl_writer_write(w, ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(orl_writer_close(w), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(read_minari(DIR "/open-tail", 0, &back), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(back->n_episodes, 2);
    cr_assert_eq(back->n_steps, 10);
    cr_assert(back->timeout[9] && !back->terminal[9]);
    cr_assert_eq(memcmp(back->next_obs + 9 * 4, ds->next_obs + 9 * 4, 16), 0);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(minari, next_obs_breaks_follow_the_documented_rule, .init = setup) {
    int lengths[] = {5, 3};
    orl_dataset *ds = synthetic(ORL_ACTION_KIND_CONTINUOUS, lengths, 2), *back = NULL;
    /* step 2 of episode 0 claims a next_obs that is not step 3's obs */
    ds->next_obs[2 * 4 + 1] += 1.0f;
    write_minari(ds, DIR "/breaks");
    cr_assert_eq(read_minari(DIR "/breaks", 0, &back), ORL_OK, "%s", orl_error_message());
    /* observations are kept; next_obs[t] becomes obs[t+1]; the last next_obs is kept */
    cr_assert_eq(memcmp(back->obs, ds->obs, 8 * 4 * sizeof(float)), 0);
    cr_assert_eq(memcmp(back->next_obs + 2 * 4, ds->obs + 3 * 4, 4 * sizeof(float)), 0);
    cr_assert_neq(back->next_obs[2 * 4 + 1], ds->next_obs[2 * 4 + 1]);
    cr_assert_eq(memcmp(back->next_obs + 4 * 4, ds->next_obs + 4 * 4, 4 * sizeof(float)), 0);
    cr_assert_eq(memcmp(back->next_obs + 7 * 4, ds->next_obs + 7 * 4, 4 * sizeof(float)), 0);
    /* and the export says how many it could not represent */
    json_error_t err;
    json_t *meta = json_load_file(DIR "/breaks/metadata.json", 0, &err);
    cr_assert_not_null(meta, "%s", err.text);
    json_t *prov = json_object_get(meta, "orl");
    cr_assert_eq(json_integer_value(json_object_get(prov, "next_obs_mismatches")), 1);
    json_decref(meta);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(minari, export_readable_by_h5py, .init = setup) {
    orl_dataset *ds = synthetic(ORL_ACTION_KIND_CONTINUOUS, round_trip_lengths, 12);
    write_minari(ds, DIR "/py-export");
    /* expected observation sequences: each episode's obs, then its last next_obs */
    FILE *f = fopen(DIR "/py-expected.f32", "wb");
    cr_assert_not_null(f);
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        int64_t lo = ds->ep_off[e], hi = ds->ep_off[e + 1];
        fwrite(ds->obs + lo * 4, sizeof(float), (size_t)(hi - lo) * 4, f);
        fwrite(ds->next_obs + (hi - 1) * 4, sizeof(float), 4, f);
    }
    fclose(f);
    write_text(
        DIR "/py-check.py",
        "import sys, json, h5py, numpy as np\n"
        "d, n_eps, expected = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
        "want = np.fromfile(expected, dtype='<f4').reshape(-1, 4)\n"
        "m = json.load(open(d + '/metadata.json'))\n"
        "at = total = 0\n"
        "with h5py.File(d + '/main_data.hdf5', 'r') as f:\n"
        "    eps = sorted((k for k in f if k.startswith('episode_')), key=lambda k: int(k[8:]))\n"
        "    assert len(eps) == n_eps == m['total_episodes'], (len(eps), m['total_episodes'])\n"
        "    for i, k in enumerate(eps):\n"
        "        g = f[k]\n"
        "        T = int(g.attrs['total_steps'])\n"
        "        assert int(g.attrs['id']) == i\n"
        "        assert g['observations'].shape == (T + 1, 4), g['observations'].shape\n"
        "        assert g['actions'].shape == (T, 2) and g['rewards'].shape == (T,)\n"
        "        assert g['terminations'].dtype == np.bool_, g['terminations'].dtype\n"
        "        assert g['truncations'].dtype == np.bool_, g['truncations'].dtype\n"
        "        term, trunc = g['terminations'][:], g['truncations'][:]\n"
        "        assert not (term[:-1] | trunc[:-1]).any() and (term[-1] ^ trunc[-1])\n"
        "        assert bool(term[-1]) == (i % 3 == 0)\n"
        "        assert isinstance(g['infos'], h5py.Group) and len(g['infos']) == 0\n"
        "        assert np.array_equal(g['observations'][:], want[at:at + T + 1])\n"
        "        at += T + 1\n"
        "        total += T\n"
        "    assert int(f.attrs['total_steps']) == total\n"
        "assert at == len(want) and total == m['total_steps']\n"
        "obs_space, act_space = json.loads(m['observation_space']), json.loads(m['action_space'])\n"
        "assert obs_space['type'] == 'Box' and obs_space['shape'] == [4]\n"
        "assert obs_space['low'][0] == -float('inf') and obs_space['low'][1] == -2.5\n"
        "assert act_space['type'] == 'Box' and act_space['high'] == [1.0, 1.0]\n"
        "assert json.loads(m['env_spec'])['id'] == 'Synthetic-v0'\n"
        "assert m['data_format'] == 'hdf5' and m['minari_version']\n"
        "assert m['orl']['exported_by'].startswith('orl ')\n"
        "assert m['dataset_id'] == 'py-export'\n");
    cr_assert_eq(
        run("%s " DIR "/py-check.py " DIR "/py-export 12 " DIR "/py-expected.f32", ORL_PYTHON), 0,
        "the h5py check failed (its assertion is printed above)");
    orl_dataset_free(ds);
}

/* ---- foreign variants: built with HDF5 directly ---- */

static void h5_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                     const hsize_t *dims, const void *data) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0, "%s", name);
    cr_assert_geq(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(d);
    H5Sclose(space);
}

static hid_t h5_bool(void) {
    hid_t t = H5Tenum_create(H5T_NATIVE_SCHAR);
    signed char no = 0, yes = 1;
    H5Tenum_insert(t, "FALSE", &no);
    H5Tenum_insert(t, "TRUE", &yes);
    return t;
}

Test(minari, discrete_spaces_plain_flags_and_metadata_variants, .init = setup) {
    /* Discrete observations (T+1,) and actions (T,) with start 1, flags as plain uint8 in one
     * episode, an episode whose last step has neither flag, Python's NaN in metadata.json and
     * env_spec as an object */
    run("rm -rf " DIR "/variants && mkdir -p " DIR "/variants");
    hid_t f = H5Fcreate(DIR "/variants/main_data.hdf5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t b = h5_bool();
    for (int e = 0; e < 2; e++) {
        char name[32];
        snprintf(name, sizeof name, "episode_%d", e);
        hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t t1 = 4, t = 3;
        long long obs[4] = {0 + e, 1, 5, 6}, act[3] = {1, 3, 2};
        double rew[3] = {0.5, -1, 2};
        unsigned char term[3] = {0, 0, e == 0}, trunc[3] = {0, 0, 0};
        h5_write(g, "observations", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &t1, obs);
        h5_write(g, "actions", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &t, act);
        h5_write(g, "rewards", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &t, rew);
        if (e == 0) {
            h5_write(g, "terminations", b, b, 1, &t, term);
            h5_write(g, "truncations", b, b, 1, &t, trunc);
        } else {
            h5_write(g, "terminations", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, &t, term);
            h5_write(g, "truncations", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, &t, trunc);
        }
        H5Gclose(g);
    }
    H5Tclose(b);
    H5Fclose(f);
    write_text(DIR "/variants/metadata.json",
               "{\"dataset_id\": \"grid/variants-v0\", \"ref_min_score\": NaN,\n"
               " \"env_spec\": {\"id\": \"Grid-v0\"},\n"
               " \"action_space\": \"{\\\"type\\\": \\\"Discrete\\\", \\\"dtype\\\": "
               "\\\"int64\\\", \\\"start\\\": 1, \\\"n\\\": 3}\",\n"
               " \"observation_space\": \"{\\\"type\\\": \\\"Discrete\\\", \\\"start\\\": 0, "
               "\\\"n\\\": 16}\", \"total_steps\": 6}\n");
    orl_dataset *ds = NULL;
    cr_assert_eq(read_minari(DIR "/variants", 0, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->h.obs_dim, 1);
    cr_assert_eq(ds->h.action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_eq(ds->h.n_actions, 3);
    cr_assert_str_eq(ds->h.env_id, "Grid-v0");
    cr_assert_str_eq(ds->h.source, "grid/variants-v0");
    cr_assert_eq(ds->h.obs_low[0], 0.0f);
    cr_assert_eq(ds->h.obs_high[0], 15.0f);
    cr_assert_eq(ds->n_steps, 6);
    cr_assert_eq(ds->n_episodes, 2);
    int32_t want_idx[6] = {0, 2, 1, 0, 2, 1}; /* stored actions minus start */
    float want_next[6] = {1, 5, 6, 1, 5, 6};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(ds->act_idx[i], want_idx[i]);
        cr_assert_eq(ds->next_obs[i], want_next[i]);
    }
    cr_assert_eq(ds->obs[3], 1.0f);
    cr_assert(ds->terminal[2] && !ds->timeout[2], "terminated");
    cr_assert(ds->timeout[5] && !ds->terminal[5], "neither flag: the log ended");
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    orl_dataset_free(ds);

    /* a Discrete count that is there but is not a positive integer is an error naming the
     * file and the key, not an unknown count (it was summarised as "0 actions") */
    const char *bad_n[] = {"0", "-2", "2.5", "\\\"3\\\"", "4294967296"};
    for (size_t k = 0; k < sizeof bad_n / sizeof *bad_n; k++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"action_space\": \"{\\\"type\\\": \\\"Discrete\\\", \\\"n\\\": %s}\"}",
                 bad_n[k]);
        write_text(DIR "/variants/metadata.json", text);
        cr_assert_eq(read_minari(DIR "/variants", 0, &ds), ORL_ERR_FORMAT, "n = %s", bad_n[k]);
        cr_assert(strstr(orl_error_message(), "variants") &&
                      strstr(orl_error_message(), "Discrete n must be"),
                  "%s", orl_error_message());
    }
    write_text(DIR "/variants/metadata.json",
               "{\"action_space\": \"{\\\"type\\\": \\\"Discrete\\\", \\\"n\\\": 3, "
               "\\\"start\\\": 1e40}\"}");
    cr_assert_eq(read_minari(DIR "/variants", 0, &ds), ORL_ERR_FORMAT);
    cr_assert(strstr(orl_error_message(), "Discrete start must be"), "%s", orl_error_message());

    /* odd but valid metadata never stops the arrays from being read */
    write_text(DIR "/variants/metadata.json", "[1, 2, 3]\n");
    cr_assert_eq(read_minari(DIR "/variants", 0, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->n_steps, 6);
    cr_assert_eq(ds->h.n_actions, 0);
    orl_dataset_free(ds);
    write_text(DIR "/variants/metadata.json",
               "{\"env_spec\": 7, \"action_space\": \"{not json\", \"total_steps\": \"x\"}");
    cr_assert_eq(read_minari(DIR "/variants", 0, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->n_steps, 6);
    cr_assert_str_eq(ds->h.env_id, "");
    orl_dataset_free(ds);
    remove(DIR "/variants/metadata.json");
    cr_assert_eq(read_minari(DIR "/variants", 0, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->n_steps, 6);
    orl_dataset_free(ds);
}

Test(minari, dict_observations_are_unsupported, .init = setup) {
    run("rm -rf " DIR "/dict && mkdir -p " DIR "/dict");
    hid_t f = H5Fcreate(DIR "/dict/main_data.hdf5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "episode_0", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t o = H5Gcreate2(g, "observations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t goal[2] = {3, 2}, t = 2, act[2] = {2, 1};
    float zeros[8] = {0};
    h5_write(o, "achieved_goal", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, goal, zeros);
    h5_write(o, "observation", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, goal, zeros);
    h5_write(g, "actions", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, act, zeros);
    h5_write(g, "rewards", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &t, zeros);
    H5Gclose(o);
    H5Gclose(g);
    H5Fclose(f);
    orl_dataset *ds = NULL;
    cr_assert_eq(read_minari(DIR "/dict", 0, &ds), ORL_ERR_UNSUPPORTED);
    const char *msg = orl_error_message();
    cr_assert(strstr(msg, "episode_0/observations") && strstr(msg, "achieved_goal") &&
                  strstr(msg, "Dict"),
              "%s", msg);
    cr_assert_null(ds);
}

/* ---- hostile inputs ---- */

/* a valid small export at path (3 episodes: 5, 4 and 6 steps) */
static void small_export(const char *path) {
    int lengths[] = {5, 4, 6};
    orl_dataset *ds = synthetic(ORL_ACTION_KIND_CONTINUOUS, lengths, 3);
    write_minari(ds, path);
    orl_dataset_free(ds);
}

static void expect_failure(const char *path, orl_status want, const char *a, const char *b) {
    orl_dataset *ds = NULL;
    orl_status st = read_minari(path, 0, &ds);
    const char *msg = orl_error_message();
    cr_assert_eq(st, want, "status %d (%s): %s", st, orl_status_string(st), msg);
    cr_assert_null(ds);
    if (a) cr_assert(strstr(msg, a), "'%s' not in: %s", a, msg);
    if (b) cr_assert(strstr(msg, b), "'%s' not in: %s", b, msg);
}

Test(minari, hostile_missing_main_data, .init = setup) {
    run("rm -rf " DIR "/no-main && mkdir -p " DIR "/no-main");
    write_text(DIR "/no-main/metadata.json", "{\"dataset_id\": \"x\"}");
    expect_failure(DIR "/no-main", ORL_ERR_FORMAT, "no-main", "main_data.hdf5");
}

Test(minari, hostile_observations_of_length_t, .init = setup) {
    small_export(DIR "/short-obs");
    hid_t f = H5Fopen(DIR "/short-obs/main_data.hdf5", H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert_geq(H5Ldelete(f, "episode_1/observations", H5P_DEFAULT), 0);
    hsize_t dims[2] = {4, 4}; /* T rows instead of T+1 */
    float zeros[16] = {0};
    hid_t g = H5Gopen2(f, "episode_1", H5P_DEFAULT);
    h5_write(g, "observations", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, zeros);
    H5Gclose(g);
    H5Fclose(f);
    expect_failure(DIR "/short-obs", ORL_ERR_FORMAT, "episode_1/observations", "T+1 = 5");
}

Test(minari, hostile_missing_actions, .init = setup) {
    small_export(DIR "/no-actions");
    hid_t f = H5Fopen(DIR "/no-actions/main_data.hdf5", H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(H5Ldelete(f, "episode_2/actions", H5P_DEFAULT), 0);
    H5Fclose(f);
    expect_failure(DIR "/no-actions", ORL_ERR_FORMAT, "episode_2", "'actions'");
}

Test(minari, hostile_termination_before_the_end, .init = setup) {
    small_export(DIR "/early-end");
    hid_t f = H5Fopen(DIR "/early-end/main_data.hdf5", H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "episode_0/terminations", H5P_DEFAULT);
    hid_t b = h5_bool();
    signed char flags[5] = {0, 1, 0, 0, 1};
    cr_assert_geq(H5Dwrite(d, b, H5S_ALL, H5S_ALL, H5P_DEFAULT, flags), 0);
    H5Tclose(b);
    H5Dclose(d);
    H5Fclose(f);
    expect_failure(DIR "/early-end", ORL_ERR_FORMAT, "episode_0/terminations", "step 1 of 5");
}

Test(minari, hostile_truncated_and_garbage_hdf5, .init = setup) {
    small_export(DIR "/cut-src");
    long size = 0;
    FILE *f = fopen(DIR "/cut-src/main_data.hdf5", "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *bytes = malloc((size_t)size);
    cr_assert_eq(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    run("rm -rf " DIR "/cut && mkdir -p " DIR "/cut");
    long cuts[] = {0, 7, 512, size / 3, size / 2, size - 100, size - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        FILE *out = fopen(DIR "/cut/main_data.hdf5", "wb");
        fwrite(bytes, 1, (size_t)cuts[k], out);
        fclose(out);
        orl_dataset *ds = NULL;
        orl_status st = read_minari(DIR "/cut", 0, &ds);
        cr_assert_eq(st, ORL_ERR_FORMAT, "cut at %ld of %ld bytes: status %d: %s", cuts[k], size,
                     st, orl_error_message());
        cr_assert(strstr(orl_error_message(), "main_data.hdf5"), "%s", orl_error_message());
        cr_assert_null(ds);
    }
    /* a valid superblock with garbage after it */
    for (long i = 2048; i < size; i++) bytes[i] = (char)(i * 131 + 7);
    FILE *out = fopen(DIR "/cut/main_data.hdf5", "wb");
    fwrite(bytes, 1, (size_t)size, out);
    fclose(out);
    orl_dataset *ds = NULL;
    cr_assert_neq(read_minari(DIR "/cut", 0, &ds), ORL_OK);
    cr_assert_null(ds);
    write_text(DIR "/cut/main_data.hdf5", "this is not an HDF5 file\n");
    expect_failure(DIR "/cut", ORL_ERR_FORMAT, "main_data.hdf5", "not a readable HDF5 file");
    free(bytes);
}

Test(minari, hostile_invalid_metadata_json, .init = setup) {
    small_export(DIR "/bad-meta");
    write_text(DIR "/bad-meta/metadata.json", "{\"dataset_id\": \"x\",\n \"total_steps\": ,\n}\n");
    expect_failure(DIR "/bad-meta", ORL_ERR_FORMAT, "metadata.json:2:", "invalid JSON");
}

Test(minari, hostile_episode_shapes_disagree, .init = setup) {
    small_export(DIR "/wide-obs");
    hid_t f = H5Fopen(DIR "/wide-obs/main_data.hdf5", H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(H5Ldelete(f, "episode_2/observations", H5P_DEFAULT), 0);
    hsize_t dims[2] = {7, 5}; /* T+1 rows of 5 values; episode_0 has 4 */
    float zeros[35] = {0};
    hid_t g = H5Gopen2(f, "episode_2", H5P_DEFAULT);
    h5_write(g, "observations", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, zeros);
    H5Gclose(g);
    H5Fclose(f);
    expect_failure(DIR "/wide-obs", ORL_ERR_FORMAT, "episode_2/observations", "earlier episodes");
}

Test(minari, failed_or_aborted_export_leaves_nothing, .init = setup) {
    int lengths[] = {3, 4};
    orl_dataset *ds = synthetic(ORL_ACTION_KIND_DISCRETE, lengths, 2);
    run("rm -rf " DIR "/aborted && mkdir -p " DIR "/aborted");
    orl_write_options opt = {.layout = ORL_LAYOUT_MINARI};
    orl_writer *w = NULL;
    /* aborted in the middle of an episode */
    cr_assert_eq(orl_writer_open(DIR "/aborted/out", &ds->h, &opt, &w), ORL_OK);
    orl_dataset *part = NULL;
    cr_assert_eq(orl_dataset_create(&ds->h, 5, 2, &part), ORL_OK);
    cr_assert_eq(orl_dataset_append(part, ds, 0, 5), ORL_OK);
    cr_assert_eq(orl_writer_write(w, part), ORL_OK, "%s", orl_error_message());
    orl_writer_abort(w);
    /* an action outside Discrete(n_actions) fails the write */
    ds->act_idx[4] = 9;
    cr_assert_eq(orl_writer_open(DIR "/aborted/out", &ds->h, &opt, &w), ORL_OK);
    cr_assert_eq(orl_writer_write(w, ds), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "episode_1 step 1"), "%s", orl_error_message());
    orl_writer_abort(w);
    cr_assert_neq(orl_dataset_write(ds, DIR "/aborted/out", &opt, NULL), ORL_OK);
    /* nothing under the final name, no temporary directory left */
    cr_assert_eq(run("test -z \"$(ls -A " DIR "/aborted)\""), 0, "leftovers in " DIR "/aborted");
    orl_dataset_free(part);
    orl_dataset_free(ds);
}

Test(minari, hostile_total_steps_is_not_trusted, .init = setup) {
    small_export(DIR "/huge-hint");
    orl_read_options opt = {.layout = "minari"};
    orl_reader *r = NULL;
    cr_assert_eq(orl_reader_open(DIR "/huge-hint", &opt, &r), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(orl_reader_rows_hint(r), 15);
    orl_reader_close(r);
    /* callers preallocate from the hint: 10^15 rows must not be believed */
    write_text(DIR "/huge-hint/metadata.json", "{\"total_steps\": 1000000000000000}");
    cr_assert_eq(orl_reader_open(DIR "/huge-hint", &opt, &r), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(orl_reader_rows_hint(r), -1);
    orl_reader_close(r);
    orl_dataset *ds = NULL;
    cr_assert_eq(read_minari(DIR "/huge-hint", 0, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->n_steps, 15);
    orl_dataset_free(ds);
}

Test(minari, hostile_huge_rows_refused_before_sizing, .init = setup) {
    /* observations of (T+1, 2^26) values cost nothing on disk (no chunk written) */
    small_export(DIR "/huge-rows");
    hid_t f = H5Fopen(DIR "/huge-rows/main_data.hdf5", H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(H5Ldelete(f, "episode_0/observations", H5P_DEFAULT), 0);
    hsize_t dims[2] = {6, (hsize_t)1 << 26}, chunk[2] = {1, 1024};
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    hid_t d = H5Dcreate2(f, "episode_0/observations", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                         H5P_DEFAULT);
    cr_assert(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
    expect_failure(DIR "/huge-rows", ORL_ERR_FORMAT, "episode_0/observations", "more than");
}

/* fuzz_dataset found files that two readers returned as datasets which fail validation (an
 * infinite logp_b in a SQLite file, an infinite reward in a Minari file): orl_dataset_read now
 * and orl_reader_next refuse them with ORL_ERR_FORMAT naming the file and the step */
Test(minari, reads_that_would_not_validate_fail_naming_the_file) {
    const char *files[2] = {ORL_FIXTURES_DIR "/fuzz-invalid/sqlite-logp-inf.sqlite",
                            ORL_FIXTURES_DIR "/fuzz-invalid/minari-reward-inf.h5"};
    const char *what[2] = {"logp_b is inf", "rew is inf"};
    for (int i = 0; i < 2; i++) {
        orl_dataset *ds = NULL;
        orl_status st = orl_dataset_read(files[i], NULL, NULL, &ds);
        cr_assert_eq(st, ORL_ERR_FORMAT, "%s: %s", files[i], orl_error_message());
        cr_assert_null(ds);
        cr_assert(strstr(orl_error_message(), files[i]), "%s", orl_error_message());
        cr_assert(strstr(orl_error_message(), what[i]), "%s", orl_error_message());
        /* streamed (orl convert, orl filter): the reader's first block fails the same way */
        orl_reader *r = NULL;
        cr_assert_eq(orl_reader_open(files[i], NULL, &r), ORL_OK, "%s", orl_error_message());
        orl_dataset *block = NULL;
        cr_assert_eq(orl_dataset_create(orl_reader_header(r), 64, 16, &block), ORL_OK);
        cr_assert_eq(orl_reader_next(r, block), ORL_ERR_FORMAT, "%s", files[i]);
        cr_assert(strstr(orl_error_message(), what[i]), "%s", orl_error_message());
        orl_dataset_free(block);
        orl_reader_close(r);
    }
}
