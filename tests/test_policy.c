/* policy/policy.c and policy/policy_file.c: the MLP policy with every head, saved and loaded bit
 * for bit; bounds, seeded sampling, categorical frequencies, closed-form log-densities,
 * observation normalisation, argument checks, threads sharing one policy, and hostile policy
 * files (truncated, garbage, wrong version, mismatched shapes, missing keys, NaN weights).
 * Scratch files go under ORL_BINARY_DIR/tmp-policy/. Every seed is named in its test. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-policy"
#define S           3
#define A           2
#define N_ACTIONS   4
#define H           16
#define BATCH       32
#define PI          3.14159265358979323846

#include "tests/lsan_hdf5.h"

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

static const float act_low[A] = {-1.0f, -2.0f};
static const float act_high[A] = {1.0f, 0.5f};
static const float obs_mean[S] = {0.5f, -1.0f, 2.0f};
static const float obs_std[S] = {2.0f, 0.5f, 1.5f};

/* a spec for head: S -> H -> H -> outputs, with bounds for continuous heads */
static orl_policy_mlp_spec make_spec(orl_policy_head head, int layer_norm) {
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    int discrete = head == ORL_POLICY_HEAD_CATEGORICAL;
    spec.info.algorithm = "test";
    spec.info.config_json = "{\"lr\": 0.0003, \"hidden\": [16, 16]}";
    spec.info.obs_dim = S;
    spec.info.act_dim = discrete ? 1 : A;
    spec.info.action_kind = discrete ? ORL_ACTION_KIND_DISCRETE : ORL_ACTION_KIND_CONTINUOUS;
    spec.info.n_actions = discrete ? N_ACTIONS : 0;
    spec.info.act_low = discrete ? NULL : act_low;
    spec.info.act_high = discrete ? NULL : act_high;
    spec.head = head;
    spec.mlp.n_layers = 3;
    spec.mlp.widths[0] = S;
    spec.mlp.widths[1] = H;
    spec.mlp.widths[2] = H;
    spec.mlp.widths[3] = orl_policy_head_outputs(head, spec.info.act_dim, spec.info.n_actions);
    spec.mlp.activation = ORL_ACTIVATION_TANH;
    spec.mlp.layer_norm = layer_norm;
    spec.log_std_min = -5.0f;
    spec.log_std_max = 2.0f;
    return spec;
}

/* a policy with random weights (seed) and the test normaliser */
static orl_policy *make_policy(orl_policy_head head, int layer_norm, uint64_t seed) {
    orl_policy_mlp_spec spec = make_spec(head, layer_norm);
    orl_normalizer nm = {S, (float *)obs_mean, (float *)obs_std};
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    orl_policy *p = NULL;
    orl_status st = orl_policy_mlp_create(&spec, &nm, NULL, &rng, &p);
    cr_assert_eq(st, ORL_OK, "create: %s", orl_error_message());
    /* the last layer's biases too, so the heads see non-trivial outputs */
    orl_mlp *net = orl_policy_mlp_network(p);
    cr_assert_not_null(net);
    return p;
}

/* observations (B, S) spread around the normaliser's mean */
static void fill_obs(float *obs, int32_t batch, uint64_t seed) {
    orl_rng rng;
    orl_rng_seed(&rng, seed, 2);
    for (int32_t i = 0; i < batch * S; i++)
        obs[i] = obs_mean[i % S] + obs_std[i % S] * (float)(2.0 * orl_rng_normal(&rng));
}

static orl_policy_work *work_for(const orl_policy *p, int32_t max_batch) {
    orl_policy_work *w = NULL;
    orl_status st = orl_policy_work_create(p, max_batch, &w);
    cr_assert_eq(st, ORL_OK, "work: %s", orl_error_message());
    return w;
}

/* outputs of a policy on obs: mean actions, sampled actions (seed 7), logp of the sampled ones */
typedef struct outputs {
    float act_mean[BATCH * A];
    float act_sample[BATCH * A];
    int32_t idx_mean[BATCH];
    int32_t idx_sample[BATCH];
    double logp[BATCH];
    orl_status logp_status;
} outputs;

static void run_policy(const orl_policy *p, const float *obs, outputs *o) {
    memset(o, 0, sizeof *o);
    orl_policy_work *w = work_for(p, BATCH);
    int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    orl_rng rng;
    orl_rng_seed(&rng, 7, 3);
    orl_status st = orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_MEAN, NULL,
                                   discrete ? NULL : o->act_mean, discrete ? o->idx_mean : NULL);
    cr_assert_eq(st, ORL_OK, "act mean: %s", orl_error_message());
    st = orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_SAMPLE, &rng,
                        discrete ? NULL : o->act_sample, discrete ? o->idx_sample : NULL);
    cr_assert_eq(st, ORL_OK, "act sample: %s", orl_error_message());
    o->logp_status = orl_policy_logp(p, w, obs, BATCH, discrete ? NULL : o->act_sample,
                                     discrete ? o->idx_sample : NULL, o->logp);
    orl_policy_work_free(w);
}

static orl_policy *load_ok(const char *path) {
    orl_policy *p = NULL;
    orl_status st = orl_policy_load(path, &p);
    cr_assert_eq(st, ORL_OK, "load %s: %s", path, orl_error_message());
    cr_assert_not_null(p);
    return p;
}

static void save_ok(const orl_policy *p, const char *path) {
    orl_status st = orl_policy_save(p, path);
    cr_assert_eq(st, ORL_OK, "save %s: %s", path, orl_error_message());
}

/* loading path fails with status, and the message names the file and the key */
static void expect_load_error(const char *path, orl_status status, const char *key) {
    orl_policy *p = (orl_policy *)0x1;
    orl_status st = orl_policy_load(path, &p);
    cr_assert_eq(st, status, "load %s: status %d (%s), expected %d", path, st, orl_error_message(),
                 status);
    cr_assert_null(p, "no policy on failure");
    const char *msg = orl_error_message();
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    cr_assert(strstr(msg, base), "message names the file: %s", msg);
    if (key) cr_assert(strstr(msg, key), "message names '%s': %s", key, msg);
}

/* ---- editing saved files through HDF5 (the hostile cases) ---- */

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

static void h5_replace(const char *path, const char *key, hid_t type, const void *x, hsize_t n) {
    hid_t f = h5_open_rw(path);
    if (H5Lexists(f, key, H5P_DEFAULT) > 0) H5Ldelete(f, key, H5P_DEFAULT);
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, key, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0);
    cr_assert(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
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

/* reads float dataset key (n values at most) of path into x; returns its length */
static int64_t h5_read_floats(const char *path, const char *key, float *x, int64_t cap) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, key, H5P_DEFAULT);
    hid_t space = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    cr_assert(n > 0 && n <= cap);
    cr_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    return (int64_t)n;
}

/* a fresh copy of a good continuous (Gaussian) policy file */
static const char *good_file(const char *name) {
    orl_policy *p = make_policy(ORL_POLICY_HEAD_GAUSSIAN, 1, 11);
    const char *path = scratch(name);
    save_ok(p, path);
    orl_policy_free(p);
    return path;
}

/* ---- round trips ---- */

static void check_roundtrip(orl_policy_head head, int layer_norm, const char *name) {
    orl_policy *p = make_policy(head, layer_norm, 100 + (uint64_t)head);
    const char *path = scratch(name);
    save_ok(p, path);
    orl_policy *q = load_ok(path);

    cr_assert_str_eq(q->algorithm, "test");
    cr_assert_str_eq(q->config_json, p->config_json);
    cr_assert_str_eq(q->source, path);
    cr_assert_eq(q->obs_dim, p->obs_dim);
    cr_assert_eq(q->act_dim, p->act_dim);
    cr_assert_eq(q->action_kind, p->action_kind);
    cr_assert_eq(q->n_actions, p->n_actions);
    cr_assert_eq(q->deterministic, p->deterministic);
    if (p->action_kind == ORL_ACTION_KIND_CONTINUOUS) {
        cr_assert_eq(memcmp(q->act_low, p->act_low, A * sizeof(float)), 0);
        cr_assert_eq(memcmp(q->act_high, p->act_high, A * sizeof(float)), 0);
    }
    const orl_policy_mlp_spec *ps = orl_policy_mlp_get_spec(p), *qs = orl_policy_mlp_get_spec(q);
    cr_assert_eq(qs->head, head);
    cr_assert_eq(qs->mlp.n_layers, ps->mlp.n_layers);
    cr_assert_eq(qs->mlp.layer_norm, layer_norm);
    cr_assert_eq(qs->mlp.activation, ps->mlp.activation);
    orl_mlp *pn = orl_policy_mlp_network(p), *qn = orl_policy_mlp_network(q);
    cr_assert_eq(qn->n_params, pn->n_params);
    cr_assert_eq(memcmp(qn->params, pn->params, (size_t)pn->n_params * sizeof(float)), 0);

    float obs[BATCH * S];
    fill_obs(obs, BATCH, 5);
    static outputs a, b;
    run_policy(p, obs, &a);
    run_policy(q, obs, &b);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "head %s: outputs differ after the round trip",
                 orl_policy_head_name(head));
    if (head == ORL_POLICY_HEAD_DETERMINISTIC)
        cr_assert_eq(a.logp_status, ORL_ERR_UNSUPPORTED);
    else {
        cr_assert_eq(a.logp_status, ORL_OK, "%s", orl_error_message());
        for (int i = 0; i < BATCH; i++) cr_assert(isfinite(a.logp[i]));
    }
    /* the outputs are not trivially equal: actions vary across observations */
    int varied = 0;
    for (int i = 1; i < BATCH; i++)
        varied |= head == ORL_POLICY_HEAD_CATEGORICAL ? a.idx_sample[i] != a.idx_sample[0]
                                                      : a.act_mean[i * A] != a.act_mean[0];
    cr_assert(varied, "head %s: the actions do not vary", orl_policy_head_name(head));
    orl_policy_free(p);
    orl_policy_free(q);
}

Test(policy, roundtrip_deterministic) {
    check_roundtrip(ORL_POLICY_HEAD_DETERMINISTIC, 0, "rt-det.h5");
}

Test(policy, roundtrip_gaussian) {
    check_roundtrip(ORL_POLICY_HEAD_GAUSSIAN, 1, "rt-gauss.h5");
}

Test(policy, roundtrip_tanh_gaussian) {
    check_roundtrip(ORL_POLICY_HEAD_TANH_GAUSSIAN, 0, "rt-tanh.h5");
}

Test(policy, roundtrip_categorical) {
    check_roundtrip(ORL_POLICY_HEAD_CATEGORICAL, 1, "rt-cat.h5");
}

Test(policy, roundtrip_unbounded_gaussian) {
    orl_policy_mlp_spec spec = make_spec(ORL_POLICY_HEAD_GAUSSIAN, 0);
    float nan_bounds[A] = {NAN, NAN};
    spec.info.act_low = nan_bounds;
    spec.info.act_high = nan_bounds;
    orl_rng rng;
    orl_rng_seed(&rng, 3, 1);
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_OK, "%s",
                 orl_error_message());
    const char *path = scratch("rt-unbounded.h5");
    save_ok(p, path);
    orl_policy *q = load_ok(path);
    cr_assert(isnan(q->act_low[0]) && isnan(q->act_high[1]));
    float obs[BATCH * S];
    fill_obs(obs, BATCH, 6);
    static outputs a, b;
    run_policy(p, obs, &a);
    run_policy(q, obs, &b);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    orl_policy_free(p);
    orl_policy_free(q);
}

/* a tanh-squashed policy may not be unbounded */
Test(policy, tanh_heads_need_finite_bounds) {
    orl_policy_mlp_spec spec = make_spec(ORL_POLICY_HEAD_TANH_GAUSSIAN, 0);
    float nan_bounds[A] = {NAN, NAN};
    spec.info.act_low = nan_bounds;
    spec.info.act_high = nan_bounds;
    orl_rng rng;
    orl_rng_seed(&rng, 3, 1);
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    cr_assert_null(p);
    cr_assert(strstr(orl_error_message(), "bounds"), "%s", orl_error_message());
}

/* ---- acting ---- */

Test(policy, act_respects_bounds) {
    orl_policy_head heads[3] = {ORL_POLICY_HEAD_DETERMINISTIC, ORL_POLICY_HEAD_GAUSSIAN,
                                ORL_POLICY_HEAD_TANH_GAUSSIAN};
    for (int h = 0; h < 3; h++) {
        orl_policy *p = make_policy(heads[h], 0, 20 + (uint64_t)h);
        /* large output weights push the raw outputs far beyond the bounds */
        orl_mlp *net = orl_policy_mlp_network(p);
        int32_t last = net->cfg.n_layers - 1, o = net->cfg.widths[last + 1];
        for (int32_t i = 0; i < o * H; i++) net->w[last][i] *= 50.0f;
        orl_policy_work *w = work_for(p, BATCH);
        orl_rng rng;
        orl_rng_seed(&rng, 21, 1);
        float obs[BATCH * S], act[BATCH * A];
        int outside_raw = 0;
        for (int round = 0; round < 20; round++) {
            fill_obs(obs, BATCH, 1000 + (uint64_t)round);
            for (int mode = 0; mode < 2; mode++) {
                cr_assert_eq(
                    orl_policy_act(p, w, obs, BATCH, (orl_policy_mode)mode, &rng, act, NULL),
                    ORL_OK, "%s", orl_error_message());
                for (int i = 0; i < BATCH * A; i++) {
                    cr_assert(act[i] >= act_low[i % A] && act[i] <= act_high[i % A],
                              "head %s: action %g outside [%g, %g]", orl_policy_head_name(heads[h]),
                              (double)act[i], (double)act_low[i % A], (double)act_high[i % A]);
                }
            }
            /* the network output itself leaves the bounds, so the head did the work */
            orl_policy_work *w2 = work_for(p, BATCH);
            orl_mlp_work mw;
            cr_assert_eq(orl_mlp_work_init(&mw, &net->cfg, BATCH), ORL_OK);
            float x[BATCH * S];
            orl_normalizer_apply(orl_policy_mlp_normalizer(p), obs, BATCH, x);
            orl_mlp_forward(net, &mw, x, BATCH, NULL);
            const float *y = mw.out[last];
            for (int b = 0; b < BATCH; b++)
                if (fabsf(y[b * o]) > 3.0f) outside_raw = 1;
            orl_mlp_work_free(&mw);
            orl_policy_work_free(w2);
        }
        cr_assert(outside_raw, "the test did not push the network beyond the bounds");
        orl_policy_work_free(w);
        orl_policy_free(p);
    }
}

Test(policy, sampling_is_reproducible_with_a_seed) {
    orl_policy_head heads[3] = {ORL_POLICY_HEAD_GAUSSIAN, ORL_POLICY_HEAD_TANH_GAUSSIAN,
                                ORL_POLICY_HEAD_CATEGORICAL};
    for (int h = 0; h < 3; h++) {
        orl_policy *p = make_policy(heads[h], 0, 30 + (uint64_t)h);
        int discrete = heads[h] == ORL_POLICY_HEAD_CATEGORICAL;
        orl_policy_work *w = work_for(p, BATCH);
        float obs[BATCH * S];
        fill_obs(obs, BATCH, 31);
        float a1[BATCH * A], a2[BATCH * A], a3[BATCH * A];
        int32_t i1[BATCH], i2[BATCH], i3[BATCH];
        orl_rng r1, r2, r3;
        orl_rng_seed(&r1, 42, 9);
        orl_rng_seed(&r2, 42, 9);
        orl_rng_seed(&r3, 43, 9);
        cr_assert_eq(orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_SAMPLE, &r1,
                                    discrete ? NULL : a1, discrete ? i1 : NULL),
                     ORL_OK);
        cr_assert_eq(orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_SAMPLE, &r2,
                                    discrete ? NULL : a2, discrete ? i2 : NULL),
                     ORL_OK);
        cr_assert_eq(orl_policy_act(p, w, obs, BATCH, ORL_POLICY_MODE_SAMPLE, &r3,
                                    discrete ? NULL : a3, discrete ? i3 : NULL),
                     ORL_OK);
        if (discrete) {
            cr_assert_eq(memcmp(i1, i2, sizeof i1), 0, "seed 42 twice");
            cr_assert_neq(memcmp(i1, i3, sizeof i1), 0, "seeds 42 and 43");
        } else {
            cr_assert_eq(memcmp(a1, a2, sizeof a1), 0, "seed 42 twice");
            cr_assert_neq(memcmp(a1, a3, sizeof a1), 0, "seeds 42 and 43");
        }
        orl_policy_work_free(w);
        orl_policy_free(p);
    }
}

/* a one-layer network with W = 0 and b = logits: every observation has the same softmax */
static orl_policy *fixed_categorical(const float *logits) {
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "fixed";
    spec.info.obs_dim = 1;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
    spec.info.n_actions = 3;
    spec.head = ORL_POLICY_HEAD_CATEGORICAL;
    spec.mlp.n_layers = 1;
    spec.mlp.widths[0] = 1;
    spec.mlp.widths[1] = 3;
    float params[6] = {0, 0, 0, logits[0], logits[1], logits[2]}; /* w (3, 1), b (3) */
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, params, NULL, &p), ORL_OK, "%s",
                 orl_error_message());
    return p;
}

Test(policy, categorical_frequencies_match_softmax) {
    const float logits[3] = {0.0f, 1.0f, -0.5f};
    double z = exp(0.0) + exp(1.0) + exp(-0.5);
    double prob[3] = {exp(0.0) / z, exp(1.0) / z, exp(-0.5) / z};
    orl_policy *p = fixed_categorical(logits);
    enum { B = 250, ROUNDS = 400 };
    orl_policy_work *w = work_for(p, B);
    float obs[B];
    for (int i = 0; i < B; i++) obs[i] = (float)i * 0.01f;
    int32_t idx[B];
    int64_t count[3] = {0, 0, 0};
    orl_rng rng;
    orl_rng_seed(&rng, 2024, 5);
    for (int r = 0; r < ROUNDS; r++) {
        cr_assert_eq(orl_policy_act(p, w, obs, B, ORL_POLICY_MODE_SAMPLE, &rng, NULL, idx), ORL_OK);
        for (int i = 0; i < B; i++) {
            cr_assert(idx[i] >= 0 && idx[i] < 3);
            count[idx[i]]++;
        }
    }
    double n = (double)B * ROUNDS;
    for (int k = 0; k < 3; k++) {
        double freq = (double)count[k] / n, sd = sqrt(prob[k] * (1 - prob[k]) / n);
        cr_assert(fabs(freq - prob[k]) < 5 * sd,
                  "action %d: frequency %g, probability %g (seed 2024)", k, freq, prob[k]);
    }
    /* argmax, and the log-mass in closed form */
    cr_assert_eq(orl_policy_act(p, w, obs, 4, ORL_POLICY_MODE_MEAN, NULL, NULL, idx), ORL_OK);
    for (int i = 0; i < 4; i++) cr_assert_eq(idx[i], 1);
    int32_t given[3] = {0, 1, 2};
    double logp[3];
    cr_assert_eq(orl_policy_logp(p, w, obs, 3, NULL, given, logp), ORL_OK, "%s",
                 orl_error_message());
    for (int k = 0; k < 3; k++)
        cr_assert(fabs(logp[k] - log(prob[k])) < 1e-6, "log p(%d) = %g, expected %g", k, logp[k],
                  log(prob[k]));
    /* an index outside [0, n_actions) is an input error */
    given[1] = 3;
    cr_assert_eq(orl_policy_logp(p, w, obs, 3, NULL, given, logp), ORL_ERR_INPUT);
    orl_policy_work_free(w);
    orl_policy_free(p);
}

/* S = 2, A = 2, one linear layer (4, 2) with set weights: the head sees
 * out = W obs + b = [mean0, mean1, raw0, raw1] */
static orl_policy *fixed_gaussian(orl_policy_head head) {
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "fixed";
    spec.info.obs_dim = 2;
    spec.info.act_dim = 2;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    static const float lo[2] = {-1.0f, -3.0f}, hi[2] = {1.0f, 1.0f};
    spec.info.act_low = lo;
    spec.info.act_high = hi;
    spec.head = head;
    spec.mlp.n_layers = 1;
    spec.mlp.widths[0] = 2;
    spec.mlp.widths[1] = 4;
    spec.log_std_min = -4.0f;
    spec.log_std_max = 1.0f;
    static const float params[12] = {
        0.5f,  -0.25f,              /* mean0 */
        0.1f,  0.3f,                /* mean1 */
        0.2f,  0.0f,                /* raw0 */
        -0.4f, 0.6f,                /* raw1 */
        0.05f, -0.2f,  0.1f, -0.3f, /* b */
    };
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, params, NULL, &p), ORL_OK, "%s",
                 orl_error_message());
    return p;
}

static void fixed_gaussian_outputs(const float *obs, double *mean, double *log_std) {
    const double w[4][2] = {{0.5, -0.25}, {0.1, 0.3}, {0.2, 0.0}, {-0.4, 0.6}};
    const double b[4] = {0.05, -0.2, 0.1, -0.3};
    double out[4];
    for (int i = 0; i < 4; i++) out[i] = w[i][0] * obs[0] + w[i][1] * obs[1] + b[i];
    for (int j = 0; j < 2; j++) {
        mean[j] = out[j];
        /* the heads' smooth rescaling of the raw log-std into [min, max] = [-4, 1] */
        log_std[j] = -4.0 + 5.0 * (tanh(out[2 + j]) + 1.0) / 2.0;
    }
}

Test(policy, gaussian_logp_matches_closed_form) {
    orl_policy *p = fixed_gaussian(ORL_POLICY_HEAD_GAUSSIAN);
    orl_policy_work *w = work_for(p, 3);
    float obs[3 * 2] = {0.3f, -1.2f, 2.0f, 0.5f, -0.7f, 0.0f};
    float act[3 * 2] = {0.1f, -0.4f, 0.9f, 0.2f, -0.5f, -2.0f};
    double logp[3];
    cr_assert_eq(orl_policy_logp(p, w, obs, 3, act, NULL, logp), ORL_OK, "%s", orl_error_message());
    for (int r = 0; r < 3; r++) {
        double mean[2], log_std[2], want = 0;
        fixed_gaussian_outputs(obs + 2 * r, mean, log_std);
        for (int j = 0; j < 2; j++) {
            double zz = ((double)act[2 * r + j] - mean[j]) / exp(log_std[j]);
            want += -0.5 * zz * zz - log_std[j] - 0.5 * log(2 * PI);
        }
        cr_assert(fabs(logp[r] - want) < 1e-4 * (1 + fabs(want)),
                  "row %d: logp %.9g, closed form %.9g", r, logp[r], want);
    }
    /* the mean action is the mean (within the bounds here) */
    float mean_act[3 * 2];
    cr_assert_eq(orl_policy_act(p, w, obs, 3, ORL_POLICY_MODE_MEAN, NULL, mean_act, NULL), ORL_OK);
    double mean[2], log_std[2];
    fixed_gaussian_outputs(obs, mean, log_std);
    cr_assert(fabs(mean_act[0] - mean[0]) < 1e-6 && fabs(mean_act[1] - mean[1]) < 1e-6);
    orl_policy_work_free(w);
    orl_policy_free(p);
}

Test(policy, tanh_gaussian_logp_matches_closed_form) {
    orl_policy *p = fixed_gaussian(ORL_POLICY_HEAD_TANH_GAUSSIAN);
    orl_policy_work *w = work_for(p, 3);
    float obs[3 * 2] = {0.3f, -1.2f, 2.0f, 0.5f, -0.7f, 0.0f};
    float act[3 * 2] = {0.1f, -0.4f, 0.9f, 0.2f, -0.5f, -2.0f};
    const double lo[2] = {-1.0, -3.0}, hi[2] = {1.0, 1.0};
    double logp[3];
    cr_assert_eq(orl_policy_logp(p, w, obs, 3, act, NULL, logp), ORL_OK, "%s", orl_error_message());
    for (int r = 0; r < 3; r++) {
        double mean[2], log_std[2], want = 0;
        fixed_gaussian_outputs(obs + 2 * r, mean, log_std);
        for (int j = 0; j < 2; j++) {
            double c = (hi[j] + lo[j]) / 2, s = (hi[j] - lo[j]) / 2;
            double y = ((double)act[2 * r + j] - c) / s, u = atanh(y);
            double zz = (u - mean[j]) / exp(log_std[j]);
            want += -0.5 * zz * zz - log_std[j] - 0.5 * log(2 * PI) - log(1 - y * y) - log(s);
        }
        cr_assert(fabs(logp[r] - want) < 1e-4 * (1 + fabs(want)),
                  "row %d: logp %.9g, closed form %.9g", r, logp[r], want);
    }
    orl_policy_work_free(w);
    orl_policy_free(p);
}

Test(policy, deterministic_logp_is_a_clear_error) {
    orl_policy *p = make_policy(ORL_POLICY_HEAD_DETERMINISTIC, 0, 40);
    orl_policy_work *w = work_for(p, 4);
    float obs[4 * S], act[4 * A];
    fill_obs(obs, 4, 41);
    cr_assert_eq(orl_policy_act(p, w, obs, 4, ORL_POLICY_MODE_MEAN, NULL, act, NULL), ORL_OK);
    double logp[4];
    cr_assert_eq(orl_policy_logp(p, w, obs, 4, act, NULL, logp), ORL_ERR_UNSUPPORTED);
    cr_assert(strstr(orl_error_message(), "deterministic"), "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "test"), "names the algorithm: %s", orl_error_message());
    orl_policy_work_free(w);
    orl_policy_free(p);
}

/* a policy with statistics (mean, std) acts as the same network with identity statistics fed
 * (obs - mean) / std */
Test(policy, observation_normalisation_is_applied) {
    orl_policy_head heads[2] = {ORL_POLICY_HEAD_TANH_GAUSSIAN, ORL_POLICY_HEAD_CATEGORICAL};
    for (int h = 0; h < 2; h++) {
        int discrete = heads[h] == ORL_POLICY_HEAD_CATEGORICAL;
        orl_policy *p = make_policy(heads[h], 0, 50 + (uint64_t)h);
        orl_policy_mlp_spec spec = *orl_policy_mlp_get_spec(p);
        orl_policy *q = NULL;
        cr_assert_eq(
            orl_policy_mlp_create(&spec, NULL, orl_policy_mlp_network(p)->params, NULL, &q), ORL_OK,
            "%s", orl_error_message());
        float obs[BATCH * S], pre[BATCH * S];
        fill_obs(obs, BATCH, 51);
        for (int i = 0; i < BATCH * S; i++) pre[i] = (obs[i] - obs_mean[i % S]) / obs_std[i % S];
        static outputs a, b, c;
        run_policy(p, obs, &a);
        run_policy(q, pre, &b);
        run_policy(q, obs, &c);
        cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "head %s", orl_policy_head_name(heads[h]));
        /* and the statistics matter: unnormalised inputs give other actions */
        cr_assert_neq(discrete ? memcmp(a.idx_sample, c.idx_sample, sizeof a.idx_sample)
                               : memcmp(a.act_mean, c.act_mean, sizeof a.act_mean),
                      0);
        orl_policy_free(p);
        orl_policy_free(q);
    }
}

Test(policy, call_checks) {
    orl_policy *p = make_policy(ORL_POLICY_HEAD_GAUSSIAN, 0, 60);
    orl_policy *q = make_policy(ORL_POLICY_HEAD_GAUSSIAN, 0, 61);
    orl_policy_work *w = work_for(p, 4);
    orl_policy_work *wq = work_for(q, 4);
    float obs[8 * S], act[8 * A];
    fill_obs(obs, 8, 62);
    cr_assert_eq(orl_policy_act(p, w, obs, 5, ORL_POLICY_MODE_MEAN, NULL, act, NULL),
                 ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "max_batch"), "%s", orl_error_message());
    cr_assert_eq(orl_policy_act(p, w, obs, 0, ORL_POLICY_MODE_MEAN, NULL, act, NULL),
                 ORL_ERR_INPUT);
    cr_assert_eq(orl_policy_act(p, w, obs, 4, ORL_POLICY_MODE_SAMPLE, NULL, act, NULL),
                 ORL_ERR_INPUT);
    cr_assert_eq(orl_policy_act(p, w, obs, 4, ORL_POLICY_MODE_MEAN, NULL, NULL, NULL),
                 ORL_ERR_INPUT);
    cr_assert_eq(orl_policy_act(p, wq, obs, 4, ORL_POLICY_MODE_MEAN, NULL, act, NULL),
                 ORL_ERR_INPUT);
    obs[S + 1] = NAN;
    cr_assert_eq(orl_policy_act(p, w, obs, 4, ORL_POLICY_MODE_MEAN, NULL, act, NULL),
                 ORL_ERR_NUMERIC);
    cr_assert(strstr(orl_error_message(), "observation 1"), "%s", orl_error_message());
    orl_policy_work_free(w);
    orl_policy_work_free(wq);
    orl_policy_free(p);
    orl_policy_free(q);
    orl_policy_free(NULL);
    orl_policy_work_free(NULL);
}

Test(policy, create_checks_the_spec) {
    orl_rng rng;
    orl_rng_seed(&rng, 70, 1);
    orl_policy *p = NULL;
    orl_policy_mlp_spec spec = make_spec(ORL_POLICY_HEAD_GAUSSIAN, 0);
    spec.mlp.widths[3] = 3; /* a Gaussian head over A = 2 needs 4 outputs */
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "needs 4 outputs"), "%s", orl_error_message());
    spec = make_spec(ORL_POLICY_HEAD_GAUSSIAN, 0);
    spec.mlp.widths[0] = 4;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "obs_dim"), "%s", orl_error_message());
    spec = make_spec(ORL_POLICY_HEAD_GAUSSIAN, 0);
    spec.info.config_json = "{not json";
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "config_json"), "%s", orl_error_message());
    spec = make_spec(ORL_POLICY_HEAD_GAUSSIAN, 0);
    float bad_std[S] = {1.0f, 0.0f, 1.0f};
    orl_normalizer nm = {S, (float *)obs_mean, bad_std};
    cr_assert_eq(orl_policy_mlp_create(&spec, &nm, NULL, &rng, &p), ORL_ERR_INPUT);
    spec = make_spec(ORL_POLICY_HEAD_DETERMINISTIC, 0);
    spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_ERR_INPUT);
    cr_assert_null(p);
}

/* ---- threads share one policy, each with its own work ---- */

typedef struct thread_job {
    const orl_policy *p;
    const float *obs;
    float act[BATCH * A];
    double logp[BATCH];
    orl_status st;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *job = arg;
    orl_policy_work *w = NULL;
    job->st = orl_policy_work_create(job->p, BATCH, &w);
    orl_rng rng;
    orl_rng_seed(&rng, 80, 1);
    for (int r = 0; r < 50 && job->st == ORL_OK; r++) {
        orl_rng_seed(&rng, 80, 1);
        job->st = orl_policy_act(job->p, w, job->obs, BATCH, ORL_POLICY_MODE_SAMPLE, &rng, job->act,
                                 NULL);
        if (job->st == ORL_OK)
            job->st = orl_policy_logp(job->p, w, job->obs, BATCH, job->act, NULL, job->logp);
    }
    orl_policy_work_free(w);
    return NULL;
}

Test(policy, threads_share_one_policy) {
    orl_policy *p = make_policy(ORL_POLICY_HEAD_TANH_GAUSSIAN, 1, 81);
    float obs[BATCH * S];
    fill_obs(obs, BATCH, 82);
    enum { T = 4 };
    static thread_job jobs[T];
    pthread_t tid[T];
    for (int t = 0; t < T; t++) {
        jobs[t].p = p;
        jobs[t].obs = obs;
        cr_assert_eq(pthread_create(&tid[t], NULL, thread_main, &jobs[t]), 0);
    }
    for (int t = 0; t < T; t++) pthread_join(tid[t], NULL);
    for (int t = 0; t < T; t++) {
        cr_assert_eq(jobs[t].st, ORL_OK);
        cr_assert_eq(memcmp(jobs[t].act, jobs[0].act, sizeof jobs[0].act), 0);
        cr_assert_eq(memcmp(jobs[t].logp, jobs[0].logp, sizeof jobs[0].logp), 0);
    }
    orl_policy_free(p);
}

/* ---- hostile files ---- */

Test(policy, missing_file_is_an_io_error) {
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_load(scratch("does-not-exist.h5"), &p), ORL_ERR_IO);
    cr_assert(strstr(orl_error_message(), "does-not-exist.h5"));
}

Test(policy, save_failure_leaves_nothing) {
    orl_policy *p = make_policy(ORL_POLICY_HEAD_GAUSSIAN, 0, 90);
    const char *path = scratch("no-such-dir/policy.h5");
    cr_assert_eq(orl_policy_save(p, path), ORL_ERR_IO);
    cr_assert_eq(orl_fs_exists(path), 0);
    orl_policy_free(p);
}

Test(policy, truncated_files_fail_cleanly) {
    const char *path = good_file("trunc-src.h5");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert(n > 0 && n < sizeof buf);
    size_t cuts[] = {0, 1, 8, 100, 512, 1024, 2048, n / 2, n - 100, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *cut = scratch("trunc-cut.h5");
        FILE *g = fopen(cut, "wb");
        cr_assert_not_null(g);
        fwrite(buf, 1, cuts[i], g);
        fclose(g);
        orl_policy *p = (orl_policy *)0x1;
        orl_status st = orl_policy_load(cut, &p);
        cr_assert_eq(st, ORL_ERR_FORMAT, "cut at %zu of %zu: status %d (%s)", cuts[i], n, st,
                     orl_error_message());
        cr_assert_null(p);
        cr_assert(strstr(orl_error_message(), "trunc-cut.h5"), "%s", orl_error_message());
    }
}

Test(policy, garbage_fails_cleanly) {
    const char *path = scratch("garbage.h5");
    FILE *f = fopen(path, "wb");
    orl_rng rng;
    orl_rng_seed(&rng, 91, 1);
    for (int i = 0; i < 4096; i++) fputc((int)(orl_rng_u32(&rng) & 0xff), f);
    fclose(f);
    expect_load_error(path, ORL_ERR_FORMAT, NULL);
    /* an HDF5 file that is not a policy */
    const char *other = scratch("not-a-policy.h5");
    hid_t h = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(h);
    expect_load_error(other, ORL_ERR_FORMAT, "policy_type");
}

/* flips bytes of a good file one region at a time: every load fails cleanly or succeeds */
Test(policy, corrupted_bytes_never_crash) {
    const char *path = good_file("corrupt-src.h5");
    FILE *f = fopen(path, "rb");
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    orl_rng rng;
    orl_rng_seed(&rng, 92, 1);
    int failed = 0;
    for (int trial = 0; trial < 300; trial++) {
        static char bad[1 << 20];
        memcpy(bad, buf, n);
        size_t at = (size_t)orl_rng_below(&rng, (uint32_t)n);
        for (int k = 0; k < 8 && at + (size_t)k < n; k++)
            bad[at + (size_t)k] = (char)(orl_rng_u32(&rng) & 0xff);
        const char *cut = scratch("corrupt.h5");
        FILE *g = fopen(cut, "wb");
        fwrite(bad, 1, n, g);
        fclose(g);
        orl_policy *p = NULL;
        orl_status st = orl_policy_load(cut, &p);
        /* no HDF5 object is left open, failed or not */
        cr_assert_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0,
                     "seed 92, trial %d (byte %zu): HDF5 objects left open (%s)", trial, at,
                     orl_error_message());
        if (st != ORL_OK) {
            failed++;
            cr_assert(strstr(orl_error_message(), "corrupt.h5"), "seed 92, trial %d: %s", trial,
                      orl_error_message());
            cr_assert_null(p);
        } else {
            /* a file that loads (a flipped raw weight) must still act */
            orl_policy_work *w = work_for(p, 2);
            float obs[2 * S], act[2 * A];
            fill_obs(obs, 2, 93);
            cr_assert_eq(orl_policy_act(p, w, obs, 2, ORL_POLICY_MODE_MEAN, NULL, act, NULL),
                         ORL_OK);
            orl_policy_work_free(w);
            orl_policy_free(p);
        }
    }
    cr_assert(failed > 0, "some corruption must be detected (seed 92)");
}

Test(policy, wrong_version) {
    const char *path = good_file("version.h5");
    int32_t v = 2;
    h5_replace(path, "orl_policy_version", H5T_NATIVE_INT32, &v, 1);
    expect_load_error(path, ORL_ERR_FORMAT, "orl_policy_version");
    cr_assert(strstr(orl_error_message(), "newer"), "%s", orl_error_message());
    v = 0;
    h5_replace(path, "orl_policy_version", H5T_NATIVE_INT32, &v, 1);
    expect_load_error(path, ORL_ERR_FORMAT, "orl_policy_version");
}

Test(policy, parameter_count_must_match_the_widths) {
    const char *path = good_file("count.h5");
    static float params[1 << 16];
    int64_t n = h5_read_floats(path, "params", params, 1 << 16);
    h5_replace(path, "params", H5T_NATIVE_FLOAT, params, (hsize_t)(n - 1));
    expect_load_error(path, ORL_ERR_FORMAT, "params");
    /* the widths changed under the same parameters */
    const char *path2 = good_file("count-widths.h5");
    int32_t widths[4] = {S, H + 1, H, 2 * A};
    h5_replace(path2, "mlp_widths", H5T_NATIVE_INT32, widths, 4);
    expect_load_error(path2, ORL_ERR_FORMAT, "params");
    /* widths that contradict obs_dim or the head */
    const char *path3 = good_file("count-input.h5");
    int32_t widths3[4] = {S + 1, H, H, 2 * A};
    h5_replace(path3, "mlp_widths", H5T_NATIVE_INT32, widths3, 4);
    expect_load_error(path3, ORL_ERR_FORMAT, "mlp_widths");
    const char *path4 = good_file("count-output.h5");
    int32_t widths4[4] = {S, H, H, A};
    h5_replace(path4, "mlp_widths", H5T_NATIVE_INT32, widths4, 4);
    expect_load_error(path4, ORL_ERR_FORMAT, "mlp_widths");
    /* absurd widths are refused before anything is allocated */
    const char *path5 = good_file("count-huge.h5");
    int32_t widths5[4] = {S, 1 << 30, H, 2 * A};
    h5_replace(path5, "mlp_widths", H5T_NATIVE_INT32, widths5, 4);
    expect_load_error(path5, ORL_ERR_FORMAT, "mlp_widths");
    const char *path6 = good_file("count-none.h5");
    h5_replace(path6, "mlp_widths", H5T_NATIVE_INT32, widths5, 1);
    expect_load_error(path6, ORL_ERR_FORMAT, "mlp_widths");
}

Test(policy, missing_keys) {
    const char *keys[] = {
        "policy_type", "algorithm",      "config",     "action_kind",    "orl_policy_version",
        "obs_dim",     "act_dim",        "n_actions",  "act_low",        "act_high",
        "head",        "mlp_activation", "mlp_widths", "mlp_layer_norm", "log_std_bounds",
        "obs_mean",    "obs_std",        "params"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "missing-%s.h5", keys[i]);
        const char *path = good_file(name);
        h5_delete(path, keys[i]);
        expect_load_error(path, ORL_ERR_FORMAT, keys[i]);
        cr_assert(strstr(orl_error_message(), "missing"), "%s", orl_error_message());
    }
}

Test(policy, non_finite_and_bad_values) {
    const char *path = good_file("nan-params.h5");
    static float params[1 << 16];
    int64_t n = h5_read_floats(path, "params", params, 1 << 16);
    params[n / 2] = NAN;
    h5_replace(path, "params", H5T_NATIVE_FLOAT, params, (hsize_t)n);
    expect_load_error(path, ORL_ERR_FORMAT, "params");
    cr_assert(strstr(orl_error_message(), "not finite"), "%s", orl_error_message());

    const char *path2 = good_file("zero-std.h5");
    float std0[S] = {1.0f, 0.0f, 1.0f};
    h5_replace(path2, "obs_std", H5T_NATIVE_FLOAT, std0, S);
    expect_load_error(path2, ORL_ERR_FORMAT, "obs_std");

    const char *path3 = good_file("inf-mean.h5");
    float mean_inf[S] = {1.0f, INFINITY, 1.0f};
    h5_replace(path3, "obs_mean", H5T_NATIVE_FLOAT, mean_inf, S);
    expect_load_error(path3, ORL_ERR_FORMAT, "obs_mean");

    const char *path4 = good_file("short-mean.h5");
    h5_replace(path4, "obs_mean", H5T_NATIVE_FLOAT, mean_inf, S - 1);
    expect_load_error(path4, ORL_ERR_FORMAT, "obs_mean");

    const char *path5 = good_file("bad-bounds.h5");
    float low[A] = {2.0f, -1.0f}; /* above act_high[0] = 1 */
    h5_replace(path5, "act_low", H5T_NATIVE_FLOAT, low, A);
    expect_load_error(path5, ORL_ERR_FORMAT, "act_low");

    const char *path6 = good_file("bad-head.h5");
    h5_replace_text(path6, "head", "categorical");
    expect_load_error(path6, ORL_ERR_FORMAT, "head");
    h5_replace_text(path6, "head", "mystery");
    expect_load_error(path6, ORL_ERR_FORMAT, "head");

    const char *path7 = good_file("bad-kind.h5");
    h5_replace_text(path7, "action_kind", "sideways");
    expect_load_error(path7, ORL_ERR_FORMAT, "action_kind");

    const char *path8 = good_file("bad-config.h5");
    h5_replace_text(path8, "config", "[1, 2");
    expect_load_error(path8, ORL_ERR_FORMAT, "config");

    const char *path9 = good_file("bad-type.h5");
    h5_replace_text(path9, "policy_type", "transformer");
    expect_load_error(path9, ORL_ERR_UNSUPPORTED, "policy_type");

    /* a number of the wrong type */
    const char *path10 = good_file("int-params.h5");
    int32_t ints[4] = {1, 2, 3, 4};
    h5_replace(path10, "params", H5T_NATIVE_INT32, ints, 4);
    expect_load_error(path10, ORL_ERR_FORMAT, "params");

    const char *path11 = good_file("neg-obs-dim.h5");
    int32_t dim = -3;
    h5_replace(path11, "obs_dim", H5T_NATIVE_INT32, &dim, 1);
    expect_load_error(path11, ORL_ERR_FORMAT, "obs_dim");

    const char *path12 = good_file("bad-log-std.h5");
    float ls[2] = {2.0f, -5.0f};
    h5_replace(path12, "log_std_bounds", H5T_NATIVE_FLOAT, ls, 2);
    expect_load_error(path12, ORL_ERR_FORMAT, "log_std_bounds");
}

Test(policy, dims_checked_against_the_caller) {
    const char *path = good_file("dims.h5");
    orl_policy *p = load_ok(path);
    cr_assert_eq(orl_policy_check_dims(p, S, A, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    cr_assert_eq(orl_policy_check_dims(p, S + 2, A, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "dims.h5"), "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "obs_dim"), "%s", orl_error_message());
    cr_assert_eq(orl_policy_check_dims(p, S, A + 1, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "act_dim"), "%s", orl_error_message());
    cr_assert_eq(orl_policy_check_dims(p, S, 1, ORL_ACTION_KIND_DISCRETE, 4), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "action_kind"), "%s", orl_error_message());
    orl_policy_free(p);

    orl_policy *d = make_policy(ORL_POLICY_HEAD_CATEGORICAL, 0, 95);
    cr_assert_eq(orl_policy_check_dims(d, S, 1, ORL_ACTION_KIND_DISCRETE, N_ACTIONS), ORL_OK);
    cr_assert_eq(orl_policy_check_dims(d, S, 1, ORL_ACTION_KIND_DISCRETE, N_ACTIONS + 1),
                 ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "n_actions"), "%s", orl_error_message());
    orl_policy_free(d);
}

/* ---- another implementation behind the same interface ---- */

/* a uniform policy over n actions: act draws uniformly (the mean mode gives action 0), logp is
 * -log n; it stores one key of its own */
static orl_status uniform_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    (void)p;
    (void)max_batch;
    *scratch = NULL;
    return ORL_OK;
}

static void uniform_work_free(void *scratch) {
    (void)scratch;
}

static orl_status uniform_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                              orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    (void)scratch, (void)obs, (void)act;
    for (int32_t b = 0; b < batch; b++)
        act_idx[b] = mode == ORL_POLICY_MODE_SAMPLE
                         ? (int32_t)orl_rng_below(rng, (uint32_t)p->n_actions)
                         : 0;
    return ORL_OK;
}

static orl_status uniform_logp(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                               const float *act, const int32_t *act_idx, double *logp) {
    (void)scratch, (void)obs, (void)act, (void)act_idx;
    for (int32_t b = 0; b < batch; b++) logp[b] = -log((double)p->n_actions);
    return ORL_OK;
}

static orl_status uniform_save(const orl_policy *p, orl_policy_file *f) {
    float marker = 0.25f;
    (void)p;
    return orl_policy_file_put_floats(f, "uniform_marker", &marker, 1);
}

static void uniform_free(orl_policy *p) {
    free(p->config_json);
    free(p);
}

static orl_status uniform_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out);

static const orl_policy_ops uniform_ops = {
    .type = "test_uniform",
    .work_create = uniform_work_create,
    .work_free = uniform_work_free,
    .act = uniform_act,
    .logp = uniform_logp,
    .save = uniform_save,
    .load = uniform_load,
    .free = uniform_free,
};

static orl_policy *uniform_create(int32_t obs_dim, int32_t n_actions, const char *config) {
    orl_policy *p = calloc(1, sizeof *p);
    cr_assert_not_null(p);
    p->ops = &uniform_ops;
    snprintf(p->algorithm, sizeof p->algorithm, "uniform");
    p->config_json = strdup(config);
    p->obs_dim = obs_dim;
    p->act_dim = 1;
    p->action_kind = ORL_ACTION_KIND_DISCRETE;
    p->n_actions = n_actions;
    return p;
}

static orl_status uniform_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out) {
    float marker;
    ORL_TRY(orl_policy_file_get_floats(f, "uniform_marker", &marker, 1, 0));
    if (marker != 0.25f)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'uniform_marker': %g", orl_policy_file_path(f),
                 (double)marker);
    *out = uniform_create(info->obs_dim, info->n_actions, info->config_json);
    return ORL_OK;
}

Test(policy, other_implementations_load_through_their_ops) {
    orl_policy *p = uniform_create(5, 6, "{\"kind\": \"uniform\"}");
    const char *path = scratch("uniform.h5");
    save_ok(p, path);

    /* the built-in loader does not know the type and says so */
    expect_load_error(path, ORL_ERR_UNSUPPORTED, "test_uniform");

    const orl_policy_ops *ops[1] = {&uniform_ops};
    orl_policy *q = NULL;
    cr_assert_eq(orl_policy_load_with(path, ops, 1, &q), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(q->ops, &uniform_ops);
    cr_assert_str_eq(q->algorithm, "uniform");
    cr_assert_str_eq(q->config_json, "{\"kind\": \"uniform\"}");
    cr_assert_str_eq(q->source, path);
    cr_assert_eq(q->obs_dim, 5);
    cr_assert_eq(q->n_actions, 6);
    orl_policy_work *w = work_for(q, 8);
    float obs[8 * 5] = {0};
    int32_t idx[8];
    double logp[8];
    orl_rng rng;
    orl_rng_seed(&rng, 100, 1);
    cr_assert_eq(orl_policy_act(q, w, obs, 8, ORL_POLICY_MODE_SAMPLE, &rng, NULL, idx), ORL_OK);
    cr_assert_eq(orl_policy_logp(q, w, obs, 8, NULL, idx, logp), ORL_OK);
    for (int i = 0; i < 8; i++) {
        cr_assert(idx[i] >= 0 && idx[i] < 6);
        cr_assert_eq(logp[i], -log(6.0));
    }
    orl_policy_work_free(w);
    orl_policy_free(q);

    /* saving over an existing file replaces it whole */
    orl_policy *m = make_policy(ORL_POLICY_HEAD_CATEGORICAL, 0, 101);
    save_ok(m, path);
    orl_policy *r = load_ok(path);
    cr_assert_eq(r->ops, &orl_policy_mlp_ops);
    cr_assert_eq(r->n_actions, N_ACTIONS);
    orl_policy_free(r);
    orl_policy_free(m);
    orl_policy_free(p);
}
