/* policy/qpolicy.c: the argmax-Q policy. Saved and loaded bit for bit in every mode (through
 * orl_policy_open, the one loader); greedy, epsilon-greedy and softmax log-probabilities
 * against their formulas on Q-values computed independently; probabilities sum to 1; sampled
 * frequencies match; ties go to the lowest index; hostile files (unknown mode, epsilon out of
 * range, missing keys, truncated) fail naming the file and key. Scratch files go under
 * ORL_BINARY_DIR/tmp-qpolicy/. Every seed is named in its test. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-qpolicy"
#define S           3
#define N_ACTIONS   4
#define H           16
#define BATCH       32

#include "tests/lsan_hdf5.h"

static const char *scratch(const char *name) {
    static char paths[8][4096];
    static int next;
    char *path = paths[next++ % 8];
    mkdir(SCRATCH_DIR, 0755);
    snprintf(path, 4096, SCRATCH_DIR "/%s", name);
    return path;
}

static const float obs_mean[S] = {0.5f, -1.0f, 2.0f};
static const float obs_std[S] = {2.0f, 0.5f, 1.5f};

static orl_policy *make_q(orl_argmax_q_mode mode, float eps, float temp, uint64_t seed) {
    orl_policy_argmax_q_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "cql";
    spec.info.config_json = "{\"alpha\": 1}";
    spec.info.obs_dim = S;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
    spec.info.n_actions = N_ACTIONS;
    spec.mlp.n_layers = 2;
    spec.mlp.widths[0] = S;
    spec.mlp.widths[1] = H;
    spec.mlp.widths[2] = N_ACTIONS;
    spec.mlp.activation = ORL_ACTIVATION_RELU;
    spec.mode = mode;
    spec.epsilon = eps;
    spec.temperature = temp;
    orl_normalizer nm = {S, (float *)obs_mean, (float *)obs_std};
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    orl_policy *p;
    cr_assert_eq(orl_policy_argmax_q_create(&spec, &nm, NULL, &rng, &p), ORL_OK, "%s",
                 orl_error_message());
    return p;
}

static void fill_obs(float *obs, int32_t n, uint64_t seed) {
    orl_rng rng;
    orl_rng_seed(&rng, seed, 2);
    for (int32_t i = 0; i < n * S; i++) obs[i] = (float)(4.0 * orl_rng_uniform(&rng) - 2.0);
}

/* Q (B, n) by hand: normalise, then the network (independent of the policy's act) */
static void q_values(orl_policy *p, const float *obs, int32_t batch, float *q) {
    orl_mlp *net = orl_policy_argmax_q_network(p);
    orl_normalizer *nm = orl_policy_argmax_q_normalizer(p);
    cr_assert(net && nm);
    float x[BATCH * S];
    orl_normalizer_apply(nm, obs, batch, x);
    orl_mlp_work w;
    cr_assert_eq(orl_mlp_work_init(&w, &net->cfg, batch), ORL_OK);
    orl_mlp_forward(net, &w, x, batch, q);
    orl_mlp_work_free(&w);
}

/* logp (B, n) of every action */
static void all_logp(const orl_policy *p, const float *obs, int32_t batch, double *logp) {
    orl_policy_work *w;
    cr_assert_eq(orl_policy_work_create(p, batch, &w), ORL_OK);
    int32_t idx[BATCH];
    double lp[BATCH];
    for (int32_t a = 0; a < N_ACTIONS; a++) {
        for (int32_t b = 0; b < batch; b++) idx[b] = a;
        cr_assert_eq(orl_policy_logp(p, w, obs, batch, NULL, idx, lp), ORL_OK, "%s",
                     orl_error_message());
        for (int32_t b = 0; b < batch; b++) logp[b * N_ACTIONS + a] = lp[b];
    }
    orl_policy_work_free(w);
}

static int32_t argmax_row(const float *q) {
    int32_t best = 0;
    for (int32_t a = 1; a < N_ACTIONS; a++)
        if (q[a] > q[best]) best = a;
    return best;
}

Test(qpolicy, log_probabilities_match_the_formulas) {
    float obs[BATCH * S], q[BATCH * N_ACTIONS];
    double logp[BATCH * N_ACTIONS];
    fill_obs(obs, BATCH, 5);
    const float eps = 0.1f, temp = 0.7f;
    for (int mode = 0; mode < ORL_ARGMAX_Q_MODE_COUNT; mode++) {
        orl_policy *p = make_q((orl_argmax_q_mode)mode, eps, temp, 3);
        cr_assert_eq(p->deterministic, 0);
        q_values(p, obs, BATCH, q);
        all_logp(p, obs, BATCH, logp);
        for (int32_t b = 0; b < BATCH; b++) {
            const float *row = q + b * N_ACTIONS;
            int32_t best = argmax_row(row);
            double total = 0.0, top = -INFINITY, z = 0.0;
            for (int32_t a = 0; a < N_ACTIONS; a++) top = fmax(top, (double)row[a] / (double)temp);
            for (int32_t a = 0; a < N_ACTIONS; a++) z += exp((double)row[a] / temp - top);
            for (int32_t a = 0; a < N_ACTIONS; a++) {
                double got = logp[b * N_ACTIONS + a], want;
                if (mode == ORL_ARGMAX_Q_MODE_GREEDY)
                    want = a == best ? 0.0 : -INFINITY;
                else if (mode == ORL_ARGMAX_Q_MODE_EPSILON)
                    want = log(a == best ? 1.0 - (double)eps + (double)eps / N_ACTIONS
                                         : (double)eps / N_ACTIONS);
                else
                    want = (double)row[a] / (double)temp - top - log(z);
                if (isinf(want))
                    cr_assert(isinf(got) && got < 0.0, "mode %d row %d action %d: %g", mode, b, a,
                              got);
                else
                    cr_assert(fabs(got - want) <= 1e-12 * (1.0 + fabs(want)),
                              "mode %d row %d action %d: %.15g, expected %.15g", mode, b, a, got,
                              want);
                total += exp(got);
            }
            cr_assert(fabs(total - 1.0) < 1e-12, "mode %d row %d: probabilities sum to %.15g", mode,
                      b, total);
        }
        orl_policy_free(p);
    }
}

Test(qpolicy, greedy_acts_by_argmax_with_ties_to_the_lowest_index) {
    orl_policy *p = make_q(ORL_ARGMAX_Q_MODE_GREEDY, 0.0f, 1.0f, 3);
    float obs[BATCH * S], q[BATCH * N_ACTIONS];
    fill_obs(obs, BATCH, 6);
    q_values(p, obs, BATCH, q);
    orl_policy_work *w;
    cr_assert_eq(orl_policy_work_create(p, BATCH, &w), ORL_OK);
    int32_t idx[BATCH], idx2[BATCH];
    orl_rng rng;
    orl_rng_seed(&rng, 9, 0);
    orl_rng before = rng;
    cr_assert_eq(orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_MEAN, NULL, NULL, idx), ORL_OK);
    cr_assert_eq(orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_SAMPLE, &rng, NULL, idx2),
                 ORL_OK);
    cr_assert_eq(rng.state, before.state, "greedy sampling must leave the rng alone");
    for (int32_t b = 0; b < BATCH; b++) {
        cr_assert_eq(idx[b], argmax_row(q + b * N_ACTIONS));
        cr_assert_eq(idx2[b], idx[b]);
    }
    orl_policy_work_free(w);

    /* ties: zero weights give Q = 0 for every action: action 0, logp 0 for it only */
    orl_mlp *net = orl_policy_argmax_q_network(p);
    memset(net->params, 0, (size_t)net->n_params * sizeof(float));
    cr_assert_eq(orl_policy_work_create(p, BATCH, &w), ORL_OK);
    cr_assert_eq(orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_MEAN, NULL, NULL, idx), ORL_OK);
    for (int32_t b = 0; b < BATCH; b++) cr_assert_eq(idx[b], 0);
    orl_policy_work_free(w);
    double logp[BATCH * N_ACTIONS];
    all_logp(p, obs, BATCH, logp);
    cr_assert_eq(logp[0], 0.0);
    cr_assert(isinf(logp[1]) && logp[1] < 0.0);
    orl_policy_free(p);
}

/* sampled frequencies against the modes' probabilities (seed 21, 20000 draws on one state) */
Test(qpolicy, sampled_frequencies_match) {
    enum { DRAWS = 20000 };
    for (int mode = 1; mode < ORL_ARGMAX_Q_MODE_COUNT; mode++) {
        orl_policy *p = make_q((orl_argmax_q_mode)mode, 0.3f, 0.5f, 4);
        float obs[BATCH * S];
        fill_obs(obs, 1, 7);
        for (int32_t b = 1; b < BATCH; b++) memcpy(obs + b * S, obs, S * sizeof(float));
        double logp[BATCH * N_ACTIONS];
        all_logp(p, obs, 1, logp);
        orl_policy_work *w;
        cr_assert_eq(orl_policy_work_create(p, BATCH, &w), ORL_OK);
        orl_rng rng;
        orl_rng_seed(&rng, 21, 0);
        long count[N_ACTIONS] = {0};
        int32_t idx[BATCH];
        for (int i = 0; i < DRAWS / BATCH; i++) {
            cr_assert_eq(orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_SAMPLE, &rng, NULL, idx),
                         ORL_OK);
            for (int32_t b = 0; b < BATCH; b++) count[idx[b]]++;
        }
        double n = (double)(DRAWS / BATCH * BATCH);
        for (int32_t a = 0; a < N_ACTIONS; a++) {
            double pr = exp(logp[a]), se = sqrt(pr * (1.0 - pr) / n);
            cr_assert(fabs((double)count[a] / n - pr) <= 5.0 * se + 1e-9,
                      "mode %d action %d: frequency %g, probability %g (seed 21)", mode, a,
                      (double)count[a] / n, pr);
        }
        orl_policy_work_free(w);
        orl_policy_free(p);
    }
}

Test(qpolicy, saved_and_loaded_bit_for_bit_in_every_mode) {
    float obs[BATCH * S];
    fill_obs(obs, BATCH, 8);
    for (int mode = 0; mode < ORL_ARGMAX_Q_MODE_COUNT; mode++) {
        orl_policy *p = make_q((orl_argmax_q_mode)mode, 0.05f, 2.0f, 10 + (uint64_t)mode);
        const char *path = scratch("roundtrip.h5");
        cr_assert_eq(orl_policy_save(p, path), ORL_OK, "%s", orl_error_message());
        orl_policy *r;
        cr_assert_eq(orl_policy_open(path, &r), ORL_OK, "%s", orl_error_message());
        cr_assert_str_eq(r->ops->type, "argmax_q");
        cr_assert_str_eq(r->algorithm, "cql");
        cr_assert_str_eq(r->config_json, p->config_json);
        cr_assert_eq(r->n_actions, N_ACTIONS);
        orl_argmax_q_mode m1, m2;
        float e1, e2, t1, t2;
        cr_assert(orl_policy_argmax_q_get(p, &m1, &e1, &t1));
        cr_assert(orl_policy_argmax_q_get(r, &m2, &e2, &t2));
        cr_assert(m1 == m2 && e1 == e2 && t1 == t2);
        orl_mlp *a = orl_policy_argmax_q_network(p), *b = orl_policy_argmax_q_network(r);
        cr_assert_eq(a->n_params, b->n_params);
        cr_assert_eq(memcmp(a->params, b->params, (size_t)a->n_params * sizeof(float)), 0);
        cr_assert_eq(memcmp(orl_policy_argmax_q_normalizer(r)->std, obs_std, sizeof obs_std), 0);
        double l1[BATCH * N_ACTIONS], l2[BATCH * N_ACTIONS];
        all_logp(p, obs, BATCH, l1);
        all_logp(r, obs, BATCH, l2);
        cr_assert_eq(memcmp(l1, l2, sizeof l1), 0);
        /* the same seeded draws */
        orl_policy_work *w1, *w2;
        cr_assert_eq(orl_policy_work_create(p, BATCH, &w1), ORL_OK);
        cr_assert_eq(orl_policy_work_create(r, BATCH, &w2), ORL_OK);
        orl_rng g1, g2;
        orl_rng_seed(&g1, 5, 5);
        orl_rng_seed(&g2, 5, 5);
        int32_t i1[BATCH], i2[BATCH];
        cr_assert_eq(orl_policy_act(p, w1, obs, BATCH, ORL_POLICY_MODE_SAMPLE, &g1, NULL, i1),
                     ORL_OK);
        cr_assert_eq(orl_policy_act(r, w2, obs, BATCH, ORL_POLICY_MODE_SAMPLE, &g2, NULL, i2),
                     ORL_OK);
        cr_assert_eq(memcmp(i1, i2, sizeof i1), 0);
        orl_policy_work_free(w1);
        orl_policy_work_free(w2);
        orl_policy_free(r);
        orl_policy_free(p);
    }
}

Test(qpolicy, create_checks_the_spec) {
    orl_policy_argmax_q_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "cql";
    spec.info.obs_dim = S;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
    spec.info.n_actions = N_ACTIONS;
    spec.mlp.n_layers = 1;
    spec.mlp.widths[0] = S;
    spec.mlp.widths[1] = N_ACTIONS;
    spec.temperature = 1.0f;
    orl_rng rng;
    orl_rng_seed(&rng, 1, 1);
    orl_policy *p;
    cr_assert_eq(orl_policy_argmax_q_create(&spec, NULL, NULL, &rng, &p), ORL_OK);
    orl_policy_free(p);
    spec.epsilon = 1.5f;
    cr_assert_eq(orl_policy_argmax_q_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "epsilon"));
    spec.epsilon = 0.0f;
    spec.temperature = 0.0f;
    cr_assert_eq(orl_policy_argmax_q_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "temperature"));
    spec.temperature = 1.0f;
    spec.mlp.widths[1] = N_ACTIONS + 1;
    cr_assert_eq(orl_policy_argmax_q_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    spec.mlp.widths[1] = N_ACTIONS;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    cr_assert_eq(orl_policy_argmax_q_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "discrete"));
}

/* ---- hostile files ---- */

static hid_t h5_open_rw(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0, "open %s", path);
    return f;
}

static void h5_delete(const char *path, const char *key) {
    hid_t f = h5_open_rw(path);
    herr_t e =
        H5Lexists(f, key, H5P_DEFAULT) > 0 ? H5Ldelete(f, key, H5P_DEFAULT) : H5Adelete(f, key);
    cr_assert(e >= 0, "delete %s", key);
    H5Fclose(f);
}

static void h5_replace_float(const char *path, const char *key, float x) {
    hid_t f = h5_open_rw(path);
    if (H5Lexists(f, key, H5P_DEFAULT) > 0) H5Ldelete(f, key, H5P_DEFAULT);
    hsize_t n = 1;
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, key, H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0);
    cr_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &x) >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Fclose(f);
}

static void h5_replace_text(const char *path, const char *key, const char *text) {
    hid_t f = h5_open_rw(path);
    if (H5Aexists(f, key) > 0) H5Adelete(f, key);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(text) + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, key, t, space, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(a >= 0);
    cr_assert(H5Awrite(a, t, text) >= 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
    H5Fclose(f);
}

static const char *good_file(const char *name) {
    orl_policy *p = make_q(ORL_ARGMAX_Q_MODE_EPSILON, 0.1f, 1.0f, 12);
    const char *path = scratch(name);
    cr_assert_eq(orl_policy_save(p, path), ORL_OK);
    orl_policy_free(p);
    return path;
}

static void expect_error(const char *path, orl_status status, const char *key) {
    orl_policy *p = NULL;
    orl_status st = orl_policy_open(path, &p);
    cr_assert_eq(st, status, "%s: status %d, expected %d: %s", path, st, status,
                 orl_error_message());
    cr_assert_null(p);
    cr_assert(strstr(orl_error_message(), path), "names the file: %s", orl_error_message());
    if (key) cr_assert(strstr(orl_error_message(), key), "names %s: %s", key, orl_error_message());
}

Test(qpolicy, hostile_files_fail_naming_file_and_key) {
    const char *path = good_file("mode.h5");
    h5_replace_text(path, "argmax_q_mode", "boltzmann");
    expect_error(path, ORL_ERR_FORMAT, "argmax_q_mode");

    path = good_file("eps.h5");
    h5_replace_float(path, "argmax_q_epsilon", 2.0f);
    expect_error(path, ORL_ERR_FORMAT, "argmax_q_epsilon");

    path = good_file("eps-nan.h5");
    h5_replace_float(path, "argmax_q_epsilon", NAN);
    expect_error(path, ORL_ERR_FORMAT, "argmax_q_epsilon");

    path = good_file("temp.h5");
    h5_replace_float(path, "argmax_q_temperature", -1.0f);
    expect_error(path, ORL_ERR_FORMAT, "argmax_q_temperature");

    const char *keys[] = {"argmax_q_mode", "argmax_q_epsilon", "argmax_q_temperature", "params",
                          "obs_std"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        path = good_file("missing.h5");
        h5_delete(path, keys[k]);
        expect_error(path, ORL_ERR_FORMAT, keys[k]);
    }

    path = good_file("head.h5");
    h5_replace_text(path, "head", "gaussian");
    expect_error(path, ORL_ERR_FORMAT, "head");
}

Test(qpolicy, truncated_files_fail_cleanly) {
    const char *path = good_file("full.h5");
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert(n > 100 && n < sizeof buf);
    const char *cut = scratch("cut.h5");
    for (size_t len = 0; len < n; len += n / 13 + 1) {
        f = fopen(cut, "wb");
        cr_assert(f);
        fwrite(buf, 1, len, f);
        fclose(f);
        orl_policy *p = NULL;
        orl_status st = orl_policy_open(cut, &p);
        cr_assert_neq(st, ORL_OK, "a file cut at %zu of %zu bytes loaded", len, n);
        cr_assert_null(p);
    }
}
