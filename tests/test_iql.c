/* algorithms/iql.c: implicit Q-learning, continuous and discrete.
 *
 * - The expectile loss's gradient (nn/heads.c) against central differences of a double
 *   reference, at several tau, and the advantage-weighted actor loss: IQL's weights (exp and
 *   clip) and the gradient of -mean w log pi through the Gaussian and categorical heads against
 *   central differences; the imitation core's weighted loss is the weighted mean of its rows'.
 * - Closed form: on a one-state problem with single-step episodes, Q learns each action's
 *   reward and V reaches the tau-expectile of the data's Q values (tau 0.5: the mean; tau 0.99:
 *   near the in-sample maximum), the expectile computed here by bisection in double.
 * - normalize_reward scales rewards by 1000 / (max - min episode return).
 * - Same seed, same bits; checkpoint + resume, the bits of an uninterrupted run; a non-finite
 *   loss stops the run naming its step; no allocation inside a step or a validation.
 * - Discrete IQL on CartPole medium-replay data gives a valid categorical policy.
 * Scratch files go under ORL_BINARY_DIR/tmp-iql/. Every seed is named in its test. */
#define _GNU_SOURCE /* dladdr, for tests/alloc_count.h */
#include "orl/orl.h"

#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* after the C library headers: it needs __GLIBC__ */
#include "tests/alloc_count.h"

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-iql"

#include "tests/lsan_hdf5.h"

#include "tests/scratch.h"
#define TRAIN_CHECKPOINT_EVERY 40
#include "tests/train_helpers.h"

/* ---- data ---- */

/* continuous: E episodes of T steps, obs (S = 2) uniform in [-1, 1], next_obs the following
 * step's obs, action a = 0.5 obs_0 + noise (A = 1, bounds [-1, 1]), reward -(a - 0.3)^2;
 * the last step of an episode is terminal */
static orl_dataset *make_continuous(int64_t E, int64_t T, uint64_t seed) {
    const int32_t S = 2, A = 1;
    orl_header h;
    cr_assert_eq(orl_header_init(&h, S, A, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    h.act_low[0] = -1.0f;
    h.act_high[0] = 1.0f;
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, E * T, E, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    for (int64_t i = 0; i < E * T; i++)
        for (int32_t j = 0; j < S; j++)
            ds->obs[i * S + j] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
    for (int64_t e = 0; e < E; e++)
        for (int64_t t = 0; t < T; t++) {
            int64_t i = e * T + t;
            for (int32_t j = 0; j < S; j++)
                ds->next_obs[i * S + j] = t + 1 < T ? ds->obs[(i + 1) * S + j] : 0.0f;
            double a = 0.5 * ds->obs[i * S] + 0.4 * (orl_rng_uniform(&rng) - 0.5);
            ds->act[i * A] = (float)a;
            ds->rew[i] = (float)(-(a - 0.3) * (a - 0.3));
            ds->terminal[i] = t == T - 1;
            ds->timeout[i] = 0;
            ds->logp_b[i] = NAN;
        }
    ds->n_steps = E * T;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

/* one state (obs 0, S = 1), n discrete actions, single-step episodes: row i takes action
 * idx[i] and gets reward reward[idx[i]] */
static orl_dataset *make_one_state(int64_t N, const int32_t *idx, int32_t n, const double *reward) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 1, 1, ORL_ACTION_KIND_DISCRETE, n), ORL_OK);
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, N, N, &ds), ORL_OK);
    orl_header_free(&h);
    for (int64_t i = 0; i < N; i++) {
        ds->obs[i] = 0.0f;
        ds->next_obs[i] = 0.0f;
        ds->act_idx[i] = idx[i];
        ds->rew[i] = (float)reward[idx[i]];
        ds->terminal[i] = 1;
        ds->timeout[i] = 0;
        ds->logp_b[i] = NAN;
    }
    ds->n_steps = N;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

/* a batch view of rows [0, n) of ds */
static orl_batch whole_batch(const orl_dataset *ds, int64_t *rows, int32_t n) {
    for (int32_t i = 0; i < n; i++) rows[i] = i;
    return (orl_batch){.size = n,
                       .rows = rows,
                       .obs = ds->obs,
                       .next_obs = ds->next_obs,
                       .act = ds->act,
                       .act_idx = ds->act_idx,
                       .rew = ds->rew,
                       .terminal = ds->terminal,
                       .timeout = ds->timeout,
                       .weight = NULL,
                       .from = ds};
}

/* ---- the losses ---- */

/* the expectile loss in double: mean |tau - 1(u < 0)| u^2, u = t - p */
static double expectile_ref(const double *p, const double *t, int n, double tau) {
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        double u = t[i] - p[i];
        s += fabs(tau - (u < 0.0 ? 1.0 : 0.0)) * u * u / n;
    }
    return s;
}

Test(iql, expectile_gradient_against_finite_differences) {
    /* residuals on both sides of zero, none at the kink; seed-free fixed values */
    enum { N = 7 };
    const double pred[N] = {0.9, -0.2, -0.5, 0.05, 1.9, -2.6, 0.31};
    const double target[N] = {0.1, 0.4, -1.5, 0.8, 1.2, -2.0, 3.0};
    const double taus[] = {0.1, 0.5, 0.7, 0.9, 0.99};
    for (int k = 0; k < 5; k++) {
        double tau = taus[k];
        float pf[N], tf[N], grad[N];
        for (int i = 0; i < N; i++) {
            pf[i] = (float)pred[i];
            tf[i] = (float)target[i];
            grad[i] = 0.5f; /* backward accumulates */
        }
        double loss = orl_loss_expectile(grad, pf, tf, N, (float)tau, 2.0f);
        double pd[N], td[N];
        for (int i = 0; i < N; i++) pd[i] = pf[i], td[i] = tf[i];
        cr_assert_float_eq(loss, expectile_ref(pd, td, N, tau), 1e-6, "tau %g", tau);
        for (int i = 0; i < N; i++) {
            const double h = 1e-6;
            double save = pd[i];
            pd[i] = save + h;
            double up = expectile_ref(pd, td, N, tau);
            pd[i] = save - h;
            double dn = expectile_ref(pd, td, N, tau);
            pd[i] = save;
            double fd = 2.0 * (up - dn) / (2.0 * h); /* scale 2 */
            cr_assert(fabs((double)grad[i] - 0.5 - fd) <= 1e-5 * (1.0 + fabs(fd)),
                      "tau %g, element %d: library %g, finite difference %g", tau, i,
                      (double)grad[i] - 0.5, fd);
        }
    }
}

Test(iql, advantage_weights) {
    const float q[5] = {1.0f, 2.0f, 0.0f, 10.0f, -3.0f};
    const float v[5] = {0.5f, 2.0f, 1.0f, 0.0f, -3.5f};
    float w[5];
    double wmean = 0.0;
    double adv = orl_iql_weights(w, q, v, 5, 3.0, 100.0, &wmean);
    double expect_w[5] = {exp(1.5), 1.0, exp(-3.0), 100.0, exp(1.5)};
    double sum = 0.0;
    for (int i = 0; i < 5; i++) {
        cr_assert_float_eq((double)w[i], expect_w[i], 1e-5 * expect_w[i], "row %d: %g", i,
                           (double)w[i]);
        sum += (double)w[i];
    }
    cr_assert_float_eq(adv, (0.5 + 0.0 - 1.0 + 10.0 + 0.5) / 5.0, 1e-12);
    cr_assert_float_eq(wmean, sum / 5.0, 1e-12);
    /* beta 0: plain behaviour cloning */
    orl_iql_weights(w, q, v, 5, 0.0, 100.0, &wmean);
    for (int i = 0; i < 5; i++) cr_assert_eq(w[i], 1.0f);
}

/* -mean_b w_b log N(a_b; mean_b, std_b) in double, with the heads' log-std rescaling */
static double gauss_wnll_ref(const double *y, const double *a, const double *w, int B, int A,
                             double lmin, double lmax) {
    double s = 0.0;
    for (int b = 0; b < B; b++) {
        double lp = 0.0;
        for (int j = 0; j < A; j++) {
            double mean = y[b * 2 * A + j], raw = y[b * 2 * A + A + j];
            double ls = lmin + (lmax - lmin) * (tanh(raw) + 1.0) / 2.0;
            double z = (a[b * A + j] - mean) / exp(ls);
            lp += -0.5 * z * z - ls - 0.5 * 1.8378770664093453 /* log 2 pi */;
        }
        s -= w[b] * lp / B;
    }
    return s;
}

/* -mean_b w_b log softmax(y_b)[a_b] in double */
static double cat_wnll_ref(const double *y, const int32_t *a, const double *w, int B, int n) {
    double s = 0.0;
    for (int b = 0; b < B; b++) {
        double mx = y[b * n];
        for (int k = 1; k < n; k++) mx = y[b * n + k] > mx ? y[b * n + k] : mx;
        double z = 0.0;
        for (int k = 0; k < n; k++) z += exp(y[b * n + k] - mx);
        s -= w[b] * (y[b * n + a[b]] - mx - log(z)) / B;
    }
    return s;
}

Test(iql, weighted_actor_loss_gradient_against_finite_differences) {
    /* the actor's loss -mean w log pi with IQL's weights, through the library's heads (the
     * path of models/likelihood.c): Gaussian (A = 2) and categorical (n = 3) outputs; seed 5 */
    enum { B = 4, A = 2, NC = 3 };
    orl_rng rng;
    orl_rng_seed(&rng, 5, 1);
    float q[B], v[B], w[B];
    for (int b = 0; b < B; b++) {
        q[b] = (float)(orl_rng_uniform(&rng) * 2.0 - 1.0);
        v[b] = (float)(orl_rng_uniform(&rng) * 2.0 - 1.0);
    }
    double wmean;
    orl_iql_weights(w, q, v, B, 3.0, 100.0, &wmean);
    double wd[B];
    for (int b = 0; b < B; b++) wd[b] = (double)w[b];

    /* Gaussian */
    orl_gaussian_head gh = {A, -5.0f, 2.0f, NULL, NULL};
    float y[B * 2 * A], a[B * A], logp[B], dlogp[B], dy[B * 2 * A];
    double yd[B * 2 * A], ad[B * A];
    for (int i = 0; i < B * 2 * A; i++) y[i] = (float)(orl_rng_uniform(&rng) * 2.0 - 1.0);
    for (int i = 0; i < B * A; i++) a[i] = (float)(orl_rng_uniform(&rng) * 2.0 - 1.0);
    for (int i = 0; i < B * 2 * A; i++) yd[i] = y[i];
    for (int i = 0; i < B * A; i++) ad[i] = a[i];
    orl_gaussian_log_prob_forward(&gh, logp, y, a, B);
    memset(dlogp, 0, sizeof dlogp);
    double loss = orl_loss_weighted_nll(dlogp, logp, w, B, 1.0f);
    double ref = gauss_wnll_ref(yd, ad, wd, B, A, -5.0, 2.0);
    cr_assert(fabs(loss - ref) <= 1e-5 * (1.0 + fabs(ref)), "Gaussian loss %g, reference %g", loss,
              ref);
    memset(dy, 0, sizeof dy);
    orl_gaussian_log_prob_backward(&gh, dy, dlogp, y, a, B);
    for (int i = 0; i < B * 2 * A; i++) {
        const double h = 1e-6;
        double save = yd[i];
        yd[i] = save + h;
        double up = gauss_wnll_ref(yd, ad, wd, B, A, -5.0, 2.0);
        yd[i] = save - h;
        double dn = gauss_wnll_ref(yd, ad, wd, B, A, -5.0, 2.0);
        yd[i] = save;
        double fd = (up - dn) / (2.0 * h);
        cr_assert(fabs((double)dy[i] - fd) <= 1e-4 * (1.0 + fabs(fd)),
                  "Gaussian output %d: library %g, finite difference %g", i, (double)dy[i], fd);
    }

    /* categorical */
    float yc[B * NC], dyc[B * NC];
    double ycd[B * NC];
    int32_t ai[B] = {0, 2, 1, 2};
    for (int i = 0; i < B * NC; i++) yc[i] = (float)(orl_rng_uniform(&rng) * 4.0 - 2.0);
    for (int i = 0; i < B * NC; i++) ycd[i] = yc[i];
    orl_categorical_log_prob_forward(logp, yc, ai, B, NC);
    memset(dlogp, 0, sizeof dlogp);
    loss = orl_loss_weighted_nll(dlogp, logp, w, B, 1.0f);
    ref = cat_wnll_ref(ycd, ai, wd, B, NC);
    cr_assert(fabs(loss - ref) <= 1e-5 * (1.0 + fabs(ref)), "categorical loss %g, reference %g",
              loss, ref);
    memset(dyc, 0, sizeof dyc);
    orl_categorical_log_prob_backward(dyc, dlogp, yc, ai, B, NC);
    for (int i = 0; i < B * NC; i++) {
        const double h = 1e-6;
        double save = ycd[i];
        ycd[i] = save + h;
        double up = cat_wnll_ref(ycd, ai, wd, B, NC);
        ycd[i] = save - h;
        double dn = cat_wnll_ref(ycd, ai, wd, B, NC);
        ycd[i] = save;
        double fd = (up - dn) / (2.0 * h);
        cr_assert(fabs((double)dyc[i] - fd) <= 1e-4 * (1.0 + fabs(fd)),
                  "categorical output %d: library %g, finite difference %g", i, (double)dyc[i], fd);
    }
}

Test(iql, weighted_imitation_loss_is_the_weighted_mean_of_rows) {
    /* the actor step's loss: the imitation core with weights w equals mean_b w_b l_b, l_b the
     * loss of row b alone, for the Gaussian and deterministic heads; seed 3 */
    orl_dataset *ds = make_continuous(2, 8, 3);
    const orl_policy_head heads[] = {ORL_POLICY_HEAD_GAUSSIAN, ORL_POLICY_HEAD_DETERMINISTIC};
    for (int k = 0; k < 2; k++) {
        orl_imitation_config ic = {heads[k], 16, 2, 1e-3f, -5.0f, 2.0f, 1};
        orl_rng rng;
        orl_rng_seed(&rng, 3, 1);
        orl_imitation *im = NULL;
        cr_assert_eq(orl_imitation_create_with(ds, &ic, "iql", NULL, 16, &rng, &im), ORL_OK);
        int64_t rows[16];
        orl_batch b = whole_batch(ds, rows, 16);
        float w[16];
        double expect = 0.0;
        for (int32_t i = 0; i < 16; i++) {
            w[i] = (float)(0.1 + 0.3 * i);
            orl_batch one = b;
            one.size = 1;
            one.rows = rows + i;
            one.obs = ds->obs + 2 * i;
            one.next_obs = ds->next_obs + 2 * i;
            one.act = ds->act + i;
            double li;
            cr_assert_eq(orl_imitation_loss(im, &one, NULL, &li), ORL_OK);
            expect += (double)w[i] * li / 16.0;
        }
        double loss;
        cr_assert_eq(orl_imitation_loss(im, &b, w, &loss), ORL_OK);
        cr_assert_float_eq(loss, expect, 1e-5 * (1.0 + fabs(expect)), "head %d: %g vs %g", k, loss,
                           expect);
        orl_imitation_free(im);
    }
    orl_dataset_free(ds);
}

/* ---- running the learner's ops directly ---- */

typedef struct direct_run {
    orl_hparams hp;
    orl_learner_context ctx;
    void *state;
    orl_rng rng;
} direct_run;

static void direct_open(direct_run *r, const orl_dataset *ds, const char *const *sets, int32_t n,
                        int32_t max_batch, uint64_t seed) {
    cr_assert_eq(orl_hparams_resolve(&orl_learner_iql, sets, n, &r->hp), ORL_OK, "%s",
                 orl_error_message());
    r->ctx = (orl_learner_context){ds, NULL, &r->hp, "{\"steps\":1000}", max_batch};
    orl_rng_seed(&r->rng, seed, 1);
    cr_assert_eq(orl_learner_iql.create(&r->ctx, &r->rng, &r->state), ORL_OK, "%s",
                 orl_error_message());
}

/* the V network's output on obs (1 row, S = 1) from the learner's "v_params" buffer */
static double value_at(direct_run *r, float obs, int32_t hidden) {
    orl_buffer bufs[64];
    int32_t n = orl_learner_iql.buffers(r->state, bufs, 64);
    cr_assert_leq(n, 64);
    float *params = NULL;
    for (int32_t i = 0; i < n; i++)
        if (strcmp(bufs[i].name, "v_params") == 0) params = bufs[i].ptr;
    cr_assert_not_null(params);
    orl_mlp_config mc;
    memset(&mc, 0, sizeof mc);
    mc.n_layers = 3;
    mc.widths[0] = 1;
    mc.widths[1] = mc.widths[2] = hidden;
    mc.widths[3] = 1;
    mc.activation = ORL_ACTIVATION_RELU;
    orl_mlp net;
    orl_mlp_work work;
    cr_assert_eq(orl_mlp_bind(&net, &mc, params), ORL_OK);
    cr_assert_eq(orl_mlp_work_init(&work, &mc, 1), ORL_OK);
    float out;
    orl_mlp_forward(&net, &work, &obs, 1, &out);
    orl_mlp_work_free(&work);
    return (double)out;
}

/* the tau-expectile of values x (n) with frequencies: the root of
 * sum_i |tau - 1(x_i < m)| (x_i - m) = 0, by bisection in double */
static double expectile_of(const double *x, const double *freq, int n, double tau) {
    double lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    for (int it = 0; it < 200; it++) {
        double m = 0.5 * (lo + hi), g = 0.0;
        for (int i = 0; i < n; i++) g += freq[i] * (x[i] < m ? 1.0 - tau : tau) * (x[i] - m);
        if (g > 0.0)
            lo = m;
        else
            hi = m;
    }
    return 0.5 * (lo + hi);
}

Test(iql, value_reaches_the_expectile_on_one_state) {
    /* one state, 4 actions with rewards 0, 1, 2, 10 taken 40, 30, 20, 10 times, single-step
     * episodes: Q(s, a) -> r(a), V -> the tau-expectile of r under the data's frequencies.
     * Whole-dataset batches (no sampling noise); seed 17 */
    enum { N = 100, NA = 4 };
    const double reward[NA] = {0.0, 1.0, 2.0, 10.0};
    const double freq[NA] = {0.4, 0.3, 0.2, 0.1};
    int32_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = i < 40 ? 0 : i < 70 ? 1 : i < 90 ? 2 : 3;
    orl_dataset *ds = make_one_state(N, idx, NA, reward);
    const double taus[] = {0.5, 0.9, 0.99};
    for (int k = 0; k < 3; k++) {
        char tau_set[64];
        snprintf(tau_set, sizeof tau_set, "expectile=%g", taus[k]);
        const char *sets[] = {tau_set,
                              "hidden=16",
                              "qf_lr=1e-2",
                              "vf_lr=3e-3",
                              "normalize_obs=0",
                              "tau=0.05",
                              "actor_schedule=constant"};
        direct_run r;
        direct_open(&r, ds, sets, 7, N, 17);
        int64_t rows[N];
        orl_batch b = whole_batch(ds, rows, N);
        double m[5];
        for (int64_t step = 0; step < 3000; step++)
            cr_assert_eq(orl_learner_iql.step(r.state, &b, step, &r.rng, m), ORL_OK, "%s",
                         orl_error_message());
        double v = value_at(&r, 0.0f, 16);
        double e = expectile_of(reward, freq, NA, taus[k]);
        cr_log_info("tau %g: V %.4f, expectile %.4f (mean 1.7, max 10)", taus[k], v, e);
        cr_assert(fabs(v - e) <= 0.03 * (1.0 + fabs(e)), "tau %g: V %g, expectile %g", taus[k], v,
                  e);
        if (taus[k] == 0.5) cr_assert_float_eq(e, 1.7, 1e-9, "the 0.5-expectile is the mean");
        if (taus[k] == 0.99) cr_assert_gt(e, 7.0, "tau 0.99 approaches the maximum: %g", e);
        orl_learner_iql.free(r.state);
    }
    orl_dataset_free(ds);
}

Test(iql, normalize_reward_scales_by_the_return_range) {
    /* single-step episodes with rewards 0, 1, 2, 10: the returns span 10, so rewards are scaled
     * by 1000 / 10 = 100 and the first step's critic loss, about mean((Q - r)^2) with Q near 0,
     * by 100^2; seed 9 */
    enum { N = 100, NA = 4 };
    const double reward[NA] = {0.0, 1.0, 2.0, 10.0};
    int32_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = i < 40 ? 0 : i < 70 ? 1 : i < 90 ? 2 : 3;
    orl_dataset *ds = make_one_state(N, idx, NA, reward);
    double q_loss[2];
    for (int k = 0; k < 2; k++) {
        const char *sets[] = {k ? "normalize_reward=1" : "normalize_reward=0", "hidden=16"};
        direct_run r;
        direct_open(&r, ds, sets, 2, N, 9);
        int64_t rows[N];
        orl_batch b = whole_batch(ds, rows, N);
        double m[5];
        cr_assert_eq(orl_learner_iql.step(r.state, &b, 0, &r.rng, m), ORL_OK);
        q_loss[k] = m[0];
        orl_learner_iql.free(r.state);
    }
    double ratio = q_loss[1] / q_loss[0];
    cr_assert(ratio > 0.9e4 && ratio < 1.1e4, "q_loss %g scaled, %g unscaled: ratio %g", q_loss[1],
              q_loss[0], ratio);
    orl_dataset_free(ds);
}

Test(iql, no_allocation_in_a_step_or_a_validation) {
#ifndef ORL_TEST_COUNT_ALLOCATIONS
    cr_skip_test("allocation counting needs glibc without sanitizers");
#else
    /* continuous (Gaussian) and discrete; seed 8 */
    orl_dataset *cont = make_continuous(4, 16, 8);
    enum { NA = 3, N = 64 };
    const double reward[NA] = {0.0, 1.0, 2.0};
    int32_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = i % NA;
    orl_dataset *disc = make_one_state(N, idx, NA, reward);
    const orl_dataset *sets_ds[2] = {cont, disc};
    const char *sets[] = {"hidden=32"};
    openblas_set_num_threads(1);
    for (int k = 0; k < 2; k++) {
        direct_run r;
        direct_open(&r, sets_ds[k], sets, 1, 32, 8);
        int64_t rows[32];
        orl_batch b = whole_batch(sets_ds[k], rows, 32);
        double m[5];
        cr_assert_eq(orl_learner_iql.step(r.state, &b, 0, &r.rng, m), ORL_OK);
        alloc_count_begin();
        for (int64_t step = 1; step < 4; step++) orl_learner_iql.step(r.state, &b, step, &r.rng, m);
        long steps_n = alloc_count_end();
        cr_assert_eq(steps_n, 0, "case %d: %ld allocations in 3 steps", k, steps_n);
        for (int i = 0; i < 5; i++) cr_assert(isfinite(m[i]), "metric %d", i);
        double vm[3];
        alloc_count_begin();
        orl_learner_iql.validate(r.state, &b, vm);
        long val_n = alloc_count_end();
        cr_assert_eq(val_n, 0, "case %d: %ld allocations in a validation", k, val_n);
        for (int i = 0; i < 3; i++) cr_assert(isfinite(vm[i]), "validation metric %d", i);
        orl_learner_iql.free(r.state);
    }
    orl_dataset_free(cont);
    orl_dataset_free(disc);
#endif
}

/* ---- through the training loop ---- */

static void small_options(orl_train_options *opt, int64_t steps, const char *const *sets,
                          int32_t n_sets, uint64_t seed) {
    orl_train_options_init(opt);
    opt->algo = "iql";
    opt->steps = steps;
    opt->batch = 32;
    opt->log_every = 0;
    opt->sets = sets;
    opt->n_sets = n_sets;
    opt->seed = seed;
}

static const float *params_of(orl_policy *p, int64_t *n) {
    orl_mlp *net = orl_policy_mlp_network(p);
    cr_assert_not_null(net);
    *n = net->n_params;
    return net->params;
}

static int same_bits(orl_policy *a, orl_policy *b) {
    int64_t na, nb;
    const float *pa = params_of(a, &na), *pb = params_of(b, &nb);
    return na == nb && memcmp(pa, pb, (size_t)na * sizeof(float)) == 0;
}

Test(iql, same_seed_same_bits_and_resume_is_identical) {
    /* seeds 21 and 22; tanh-Gaussian (default) and deterministic heads; resumed at step 70 of 120
     * (between the checkpoints at 40 and 80, inside the cosine schedule) */
    orl_dataset *ds = make_continuous(24, 10, 21);
    const char *heads[] = {"head=auto", "head=deterministic"};
    for (int k = 0; k < 2; k++) {
        const char *sets[] = {"hidden=32", heads[k]};
        orl_train_options opt;
        small_options(&opt, 120, sets, 2, 21);
        orl_policy *a = train_run(ds, opt, NULL, 0), *b = train_run(ds, opt, NULL, 0);
        cr_assert(same_bits(a, b), "%s: same seed, different bits", heads[k]);
        orl_policy *c = train_run(ds, opt, scratch("iql.ckpt"), 70);
        cr_assert(same_bits(a, c), "%s: resumed run differs", heads[k]);
        opt.seed = 22;
        orl_policy *d = train_run(ds, opt, NULL, 0);
        cr_assert(!same_bits(a, d), "%s: seed 22 gave seed 21's bits", heads[k]);
        cr_assert_str_eq(a->algorithm, "iql");
        orl_policy_free(a);
        orl_policy_free(b);
        orl_policy_free(c);
        orl_policy_free(d);
    }
    orl_dataset_free(ds);
}

Test(iql, metrics_are_named_and_validation_runs) {
    /* 24 episodes: 5% held out gives one validation episode; seed 4 */
    orl_dataset *ds = make_continuous(24, 10, 4);
    const char *sets[] = {"hidden=16"};
    orl_train_options opt;
    small_options(&opt, 30, sets, 1, 4);
    opt.log_every = 10;
    opt.log_path = scratch("iql-log.jsonl");
    remove(opt.log_path);
    orl_policy *p = NULL;
    orl_train_result res;
    cr_assert_eq(orl_train(ds, &opt, &p, &res), ORL_OK, "%s", orl_error_message());
    const char *step_names[] = {"q_loss", "v_loss", "actor_loss", "adv_mean", "weight_mean"};
    for (int i = 0; i < 5; i++)
        cr_assert(isfinite(orl_train_metric(&res.last, step_names[i])), "%s", step_names[i]);
    cr_assert_gt(orl_train_metric(&res.last, "weight_mean"), 0.0);
    const char *val_names[] = {"loss", "q_loss", "v_loss"};
    for (int i = 0; i < 3; i++)
        cr_assert(isfinite(orl_train_metric(&res.val, val_names[i])), "val %s", val_names[i]);
    orl_train_result_free(&res);
    FILE *f = fopen(opt.log_path, "r");
    cr_assert_not_null(f);
    char line[2048];
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert(strstr(line, "\"val_q_loss\"") && strstr(line, "\"adv_mean\""), "%s", line);
    orl_policy_free(p);
    orl_dataset_free(ds);
}

Test(iql, non_finite_loss_names_the_step) {
    /* a critic learning rate of 1e30 sends the critics' outputs past float range */
    orl_dataset *ds = make_continuous(4, 10, 1);
    const char *sets[] = {"hidden=8", "qf_lr=1e30"};
    orl_train_options opt;
    small_options(&opt, 100, sets, 2, 1);
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_NUMERIC, "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "non-finite loss at step"), "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "iql:"), "%s", orl_error_message());
    cr_assert_null(p);
    /* bad hyperparameters are clear errors */
    const char *bad[][1] = {{"expectile=1"}, {"beta=-1"}, {"tau=0"}, {"actor_schedule=step"}};
    for (int i = 0; i < 4; i++) {
        opt.sets = bad[i];
        opt.n_sets = 1;
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT, "%s", bad[i][0]);
    }
    orl_dataset_free(ds);
}

Test(iql, discrete_on_cartpole_gives_a_categorical_policy) {
    /* orl_gen seed 2, 20 medium-replay episodes; 800 steps (width 64), seed 3; the policy's
     * probabilities sum to 1 and it runs in the environment */
    const char *path = scratch("cartpole-mr.h5");
    orl_gen_options g = {0};
    g.env_id = "CartPole-v1";
    g.behavior = "medium-replay";
    g.episodes = 20;
    g.seed = 2;
    cr_assert_eq(orl_gen(&g, path, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(path, NULL, NULL, &ds), ORL_OK);
    const char *sets[] = {"hidden=64"};
    orl_train_options opt;
    small_options(&opt, 800, sets, 1, 3);
    opt.batch = 64;
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(p->action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_eq(p->n_actions, 2);
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, 8, &w), ORL_OK);
    for (int32_t i = 0; i < 8; i++) {
        double lp[2];
        int32_t a0 = 0, a1 = 1;
        const float *obs = ds->obs + (size_t)i * 40 * 4;
        cr_assert_eq(orl_policy_logp(p, w, obs, 1, NULL, &a0, &lp[0]), ORL_OK);
        cr_assert_eq(orl_policy_logp(p, w, obs, 1, NULL, &a1, &lp[1]), ORL_OK);
        cr_assert_float_eq(exp(lp[0]) + exp(lp[1]), 1.0, 1e-5);
    }
    orl_policy_work_free(w);
    orl_rollout_summary sum;
    cr_assert_eq(orl_eval(p, "CartPole-v1", 5, 0, ORL_POLICY_MODE_MEAN, &sum, NULL), ORL_OK);
    cr_log_info("CartPole IQL (medium-replay, 800 steps): mean return %.1f (seed 3)",
                sum.return_mean);
    cr_assert(isfinite(sum.return_mean) && sum.return_mean >= 1.0);
    orl_policy_free(p);
    orl_dataset_free(ds);
}
