/* Across formats and through the program: round trips HDF5 -> SQLite -> HDF5 and through
 * Minari, the fixtures converted, and the info/validate/convert verbs' output, exit status and
 * no-partial-output behaviour. */
#include "tests/shell.h"
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define DIR ORL_BINARY_DIR "/tmp-convert"
#define ORL ORL_BINARY_DIR "/orl"

static void setup(void) {
    mkdir(DIR, 0755);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* episodes of lengths 1..n_eps+? with values derived from the global row index */
static orl_dataset *synthetic(orl_action_kind kind, int with_logp) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 5, 3, kind, 3), ORL_OK);
    h.has_logp = with_logp;
    snprintf(h.env_id, sizeof h.env_id, "Synthetic-v0");
    snprintf(h.behavior, sizeof h.behavior, "random");
    h.discount = 0.99;
    for (int i = 0; i < h.act_dim; i++) h.act_low[i] = -1.0f, h.act_high[i] = 1.0f;
    orl_dataset *ds;
    cr_assert_eq(orl_dataset_create(&h, 16, 4, &ds), ORL_OK);
    orl_header_free(&h);
    orl_dataset *row;
    cr_assert_eq(orl_dataset_create(&ds->h, 1, 1, &row), ORL_OK);
    orl_rng rng;
    orl_rng_seed(&rng, 5, 0);
    int lengths[] = {7, 1, 30, 12, 5, 64};
    int k = 0;
    for (int e = 0; e < 6; e++)
        for (int t = 0; t < lengths[e]; t++, k++) {
            orl_dataset_clear(row);
            row->n_steps = 1;
            for (int i = 0; i < 5; i++) {
                row->obs[i] = (float)orl_rng_normal(&rng);
                row->next_obs[i] = (float)orl_rng_normal(&rng);
            }
            if (row->act)
                for (int i = 0; i < 3; i++)
                    row->act[i] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
            if (row->act_idx) row->act_idx[0] = (int32_t)orl_rng_below(&rng, 3);
            row->rew[0] = (float)orl_rng_normal(&rng);
            row->logp_b[0] = with_logp ? (float)(-orl_rng_uniform(&rng) * 3.0) : NAN;
            int last = t == lengths[e] - 1;
            row->terminal[0] = (uint8_t)(last && e % 3 == 0);
            row->timeout[0] = (uint8_t)(last && e % 3 != 0);
            cr_assert_eq(orl_dataset_append(ds, row, 0, 1), ORL_OK);
        }
    orl_dataset_free(row);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK);
    return ds;
}

static void assert_same(const orl_dataset *a, const orl_dataset *b) {
    cr_assert_eq(a->n_steps, b->n_steps);
    cr_assert_eq(a->n_episodes, b->n_episodes);
    cr_assert_eq(a->h.obs_dim, b->h.obs_dim);
    cr_assert_eq(a->h.act_dim, b->h.act_dim);
    cr_assert_eq(a->h.action_kind, b->h.action_kind);
    cr_assert_eq(a->h.has_logp, b->h.has_logp);
    size_t n = (size_t)a->n_steps, s = (size_t)a->h.obs_dim, d = (size_t)a->h.act_dim;
    cr_assert_eq(memcmp(a->obs, b->obs, n * s * sizeof(float)), 0, "obs differ");
    cr_assert_eq(memcmp(a->next_obs, b->next_obs, n * s * sizeof(float)), 0, "next_obs differ");
    if (a->act) cr_assert_eq(memcmp(a->act, b->act, n * d * sizeof(float)), 0, "act differ");
    if (a->act_idx) cr_assert_eq(memcmp(a->act_idx, b->act_idx, n * sizeof(int32_t)), 0);
    cr_assert_eq(memcmp(a->rew, b->rew, n * sizeof(float)), 0, "rew differ");
    cr_assert_eq(memcmp(a->terminal, b->terminal, n), 0, "terminal differ");
    cr_assert_eq(memcmp(a->timeout, b->timeout, n), 0, "timeout differ");
    if (a->h.has_logp) cr_assert_eq(memcmp(a->logp_b, b->logp_b, n * sizeof(float)), 0);
    for (int64_t e = 0; e <= a->n_episodes; e++) cr_assert_eq(a->ep_off[e], b->ep_off[e]);
}

static void round_trip(orl_action_kind kind, int with_logp, const char *tag) {
    orl_dataset *ds = synthetic(kind, with_logp), *back = NULL;
    char h5[256], db[256], h5b[256];
    snprintf(h5, sizeof h5, DIR "/%s.h5", tag);
    snprintf(db, sizeof db, DIR "/%s.sqlite", tag);
    snprintf(h5b, sizeof h5b, DIR "/%s-back.h5", tag);
    remove(db);
    cr_assert_eq(orl_dataset_write(ds, h5, NULL, NULL), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(run("%s convert %s %s >/dev/null", ORL, h5, db), 0);
    cr_assert_eq(run("%s convert %s %s >/dev/null", ORL, db, h5b), 0);
    cr_assert_eq(orl_dataset_read(h5b, NULL, NULL, &back), ORL_OK, "%s", orl_error_message());
    assert_same(ds, back);
    cr_assert_str_eq(back->h.env_id, "Synthetic-v0");
    cr_assert_str_eq(back->h.behavior, "random");
    cr_assert_float_eq(back->h.discount, 0.99, 1e-12);
    if (kind == ORL_ACTION_KIND_CONTINUOUS) cr_assert_eq(back->h.act_high[2], 1.0f);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(convert, hdf5_sqlite_hdf5_continuous_with_logp, .init = setup) {
    round_trip(ORL_ACTION_KIND_CONTINUOUS, 1, "cont");
}

Test(convert, hdf5_sqlite_hdf5_discrete_without_logp, .init = setup) {
    round_trip(ORL_ACTION_KIND_DISCRETE, 0, "disc");
}

Test(convert, through_minari_and_back, .init = setup) {
    /* Minari stores T+1 observations, so next_obs must chain within episodes */
    orl_dataset *ds = synthetic(ORL_ACTION_KIND_CONTINUOUS, 0), *back = NULL;
    size_t s = (size_t)ds->h.obs_dim;
    for (int64_t t = 0; t + 1 < ds->n_steps; t++)
        if (!ds->terminal[t] && !ds->timeout[t])
            memcpy(ds->next_obs + (size_t)t * s, ds->obs + (size_t)(t + 1) * s, s * sizeof(float));
    cr_assert_eq(orl_dataset_write(ds, DIR "/chain.h5", NULL, NULL), ORL_OK, "%s",
                 orl_error_message());
    run("rm -rf " DIR "/chain-minari");
    cr_assert_eq(
        run("%s convert " DIR "/chain.h5 " DIR "/chain-minari --layout minari >/dev/null", ORL), 0);
    cr_assert_eq(run("%s convert " DIR "/chain-minari " DIR "/chain-back.sqlite >/dev/null", ORL),
                 0);
    cr_assert_eq(orl_dataset_read(DIR "/chain-back.sqlite", NULL, NULL, &back), ORL_OK, "%s",
                 orl_error_message());
    assert_same(ds, back);
    orl_dataset_free(back);
    orl_dataset_free(ds);
}

Test(convert, minari_fixture_info_json, .init = setup) {
    cr_assert_eq(
        run("%s info " ORL_FIXTURES_DIR "/minari-door-human-v2 --json > " DIR "/door.json", ORL),
        0);
    json_error_t err;
    json_t *j = json_loads(slurp(DIR "/door.json"), 0, &err);
    cr_assert_not_null(j, "info --json is not JSON: %s", err.text);
    cr_assert_eq(json_integer_value(json_object_get(j, "steps")), 6729);
    cr_assert_eq(json_integer_value(json_object_get(j, "episodes")), 25);
    cr_assert_eq(json_integer_value(json_object_get(j, "obs_dim")), 39);
    cr_assert_eq(json_integer_value(json_object_get(j, "act_dim")), 28);
    cr_assert_str_eq(json_string_value(json_object_get(j, "layout")), "minari");
    json_decref(j);
    /* and through HDF5: the same counts */
    cr_assert_eq(
        run("%s convert " ORL_FIXTURES_DIR "/minari-door-human-v2 " DIR "/door.h5 >/dev/null", ORL),
        0);
    orl_summary s;
    cr_assert_eq(orl_summarize(DIR "/door.h5", NULL, NULL, &s), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(s.n_steps, 6729);
    cr_assert_eq(s.n_episodes, 25);
    orl_summary_free(&s);
    cr_assert_eq(run("%s validate " DIR "/door.h5 >/dev/null", ORL), 0);
}

Test(convert, d3rlpy_fixture_to_sqlite_validates, .init = setup) {
    remove(DIR "/cartpole.sqlite");
    cr_assert_eq(run("%s convert " ORL_FIXTURES_DIR "/d3rlpy-v1/cartpole_v1.1.0.h5 " DIR
                     "/cartpole.sqlite >/dev/null",
                     ORL),
                 0);
    cr_assert_eq(run("%s validate " DIR "/cartpole.sqlite >/dev/null", ORL), 0);
    orl_summary a, b;
    cr_assert_eq(orl_summarize(ORL_FIXTURES_DIR "/d3rlpy-v1/cartpole_v1.1.0.h5", NULL, NULL, &a),
                 ORL_OK);
    cr_assert_eq(orl_summarize(DIR "/cartpole.sqlite", NULL, NULL, &b), ORL_OK);
    cr_assert_eq(a.n_steps, b.n_steps);
    cr_assert_eq(a.n_episodes, b.n_episodes);
    cr_assert_eq(b.h.action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_float_eq(a.return_mean, b.return_mean, 1e-9);
    orl_summary_free(&a);
    orl_summary_free(&b);
}

Test(convert, info_statistics_match_memory, .init = setup) {
    orl_dataset *ds = synthetic(ORL_ACTION_KIND_CONTINUOUS, 1);
    cr_assert_eq(orl_dataset_write(ds, DIR "/stats.h5", NULL, NULL), ORL_OK);
    orl_summary s;
    cr_assert_eq(orl_summarize(DIR "/stats.h5", NULL, NULL, &s), ORL_OK);
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        double r = 0;
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++) r += (double)ds->rew[t];
        if (r < lo) lo = r;
        if (r > hi) hi = r;
    }
    cr_assert_float_eq(s.return_min, lo, 1e-9);
    cr_assert_float_eq(s.return_max, hi, 1e-9);
    cr_assert_eq(s.n_terminal, 2);
    cr_assert_eq(s.n_timeout, 4);
    cr_assert_eq(s.len_min, 1);
    cr_assert_eq(s.len_max, 64);
    cr_assert_eq(s.h.has_logp, 1);
    cr_assert_gt(s.size_bytes, 0);
    orl_summary_free(&s);
    orl_dataset_free(ds);
}

Test(convert, validate_names_violation_and_exits_2, .init = setup) {
    orl_dataset *ds = synthetic(ORL_ACTION_KIND_CONTINUOUS, 0);
    ds->rew[9] = NAN; /* episode 2, step 1 */
    cr_assert_eq(orl_dataset_write(ds, DIR "/nan.h5", NULL, NULL), ORL_OK);
    cr_assert_eq(run("%s validate " DIR "/nan.h5 2> " DIR "/nan.err", ORL), 2);
    char *msg = slurp(DIR "/nan.err");
    cr_assert(strstr(msg, "episode 2, step 1: rew is nan") != NULL, "%s", msg);
    orl_dataset_free(ds);
}

Test(convert, bad_input_leaves_no_output, .init = setup) {
    FILE *f = fopen(DIR "/garbage.h5", "wb");
    for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, f);
    fclose(f);
    remove(DIR "/never.sqlite");
    cr_assert_eq(run("%s convert " DIR "/garbage.h5 " DIR "/never.sqlite 2>/dev/null", ORL), 2);
    cr_assert_eq(orl_fs_exists(DIR "/never.sqlite"), 0);
    cr_assert_eq(run("ls -a " DIR " | grep -q 'never.sqlite.tmp'"), 1, "a temporary file was left");
    cr_assert_eq(run("%s info " DIR "/missing.h5 2>/dev/null", ORL), 2);
    cr_assert_eq(run("%s convert 2>/dev/null", ORL), 2);
    cr_assert_eq(run("%s info --bogus x 2>/dev/null", ORL), 2);
}
