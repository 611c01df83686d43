/* Tests of models/: the maximum-likelihood policy fit recovers known distributions (a Gaussian
 * N(mu, sigma), a categorical, a tanh-squashed Gaussian mixed with a uniform share) from
 * samples; the imitation core trains its policy's own network in place; the fit kit and the
 * fit steps allocate nothing. Every test names its seed. */
#define _GNU_SOURCE
#include "orl/fit.h"
#include "orl/heads.h"
#include "orl/models.h"

#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TEST_PI 3.14159265358979323846

static orl_mlp_config small_net(int32_t in, int32_t hidden, int32_t out) {
    orl_mlp_config c;
    memset(&c, 0, sizeof c);
    c.n_layers = 2;
    c.widths[0] = in;
    c.widths[1] = hidden;
    c.widths[2] = out;
    c.activation = ORL_ACTIVATION_RELU;
    c.init = ORL_INIT_FAN_IN_UNIFORM;
    return c;
}

/* a dataset of n one-step terminal episodes with observations from rng (S = 2) and empty
 * actions of the given kind */
static orl_dataset *make_data(int64_t n, orl_action_kind kind, int32_t act_dim, int32_t n_actions,
                              orl_rng *rng) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 2, act_dim, kind, n_actions), ORL_OK);
    orl_dataset *ds;
    cr_assert_eq(orl_dataset_create(&h, n, n, &ds), ORL_OK);
    orl_header_free(&h);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < 2; j++) {
            ds->obs[2 * i + j] = (float)orl_rng_normal(rng);
            ds->next_obs[2 * i + j] = ds->obs[2 * i + j];
        }
        ds->rew[i] = 0.0f;
        ds->terminal[i] = 1;
        ds->timeout[i] = 0;
        ds->logp_b[i] = NAN;
    }
    ds->n_steps = n;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    return ds;
}

/* ---- maximum likelihood recovers known distributions ---- */

Test(ml_fit, recovers_a_gaussian) {
    openblas_set_num_threads(1);
    enum { B = 128, A = 2, steps = 1500 };
    const double mu[A] = {0.7, -1.2}, sigma[A] = {0.5, 0.2};
    orl_rng rng;
    orl_rng_seed(&rng, 41, 1);
    orl_ml_config mc;
    memset(&mc, 0, sizeof mc);
    mc.head = ORL_POLICY_HEAD_GAUSSIAN;
    mc.act_dim = A;
    mc.log_std_min = -5.0f;
    mc.log_std_max = 2.0f;
    mc.lr = 1e-2f;
    mc.max_batch = B;
    mc.name = "test";
    cr_assert_eq(orl_ml_outputs(&mc), 2 * A);
    orl_mlp_config net = small_net(2, 16, 2 * A);
    orl_ml_fit *fit;
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_OK, "%s", orl_error_message());
    float x[B * 2], act[B * A];
    double first = NAN, loss = NAN;
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < B; i++) {
            x[2 * i] = (float)orl_rng_normal(&rng);
            x[2 * i + 1] = (float)orl_rng_normal(&rng);
            for (int j = 0; j < A; j++)
                act[i * A + j] = (float)(mu[j] + sigma[j] * orl_rng_normal(&rng));
        }
        cr_assert_eq(orl_ml_fit_step(fit, x, act, NULL, NULL, B, &loss), ORL_OK);
        if (s == 0) first = loss;
    }
    /* the fitted mean and standard deviation, averaged over states */
    const float *out = orl_fit_forward(orl_ml_fit_kit(fit), x, B);
    orl_gaussian_head gh = {.act_dim = A, .log_std_min = -5.0f, .log_std_max = 2.0f};
    float log_std[B * A];
    orl_gaussian_log_std(&gh, log_std, out, B);
    for (int j = 0; j < A; j++) {
        double m = 0.0, sd = 0.0;
        for (int i = 0; i < B; i++) {
            m += (double)out[i * 2 * A + j] / B;
            sd += exp((double)log_std[i * A + j]) / B;
        }
        cr_log_info("seed 41: dim %d mean %.4f (mu %.2f), std %.4f (sigma %.2f)", j, m, mu[j], sd,
                    sigma[j]);
        cr_assert(fabs(m - mu[j]) < 0.05, "seed 41: dim %d mean %g, want %g", j, m, mu[j]);
        cr_assert(fabs(sd / sigma[j] - 1.0) < 0.1, "seed 41: dim %d std %g, want %g", j, sd,
                  sigma[j]);
    }
    /* the loss approaches the entropy of N(mu, sigma): sum_j log(sigma_j sqrt(2 pi e)) */
    double entropy = 0.0;
    for (int j = 0; j < A; j++) entropy += log(sigma[j] * sqrt(2.0 * TEST_PI * exp(1.0)));
    cr_assert(loss < first, "seed 41: loss %g did not fall from %g", loss, first);
    cr_assert(fabs(loss - entropy) < 0.15, "seed 41: loss %g, entropy %g", loss, entropy);
    orl_ml_fit_free(fit);
    orl_ml_fit_free(NULL);
}

Test(ml_fit, recovers_a_categorical_from_rows) {
    openblas_set_num_threads(1);
    enum { N = 4000, n = 3 };
    const double p[n] = {0.6, 0.3, 0.1};
    orl_rng rng;
    orl_rng_seed(&rng, 42, 1);
    orl_dataset *ds = make_data(N, ORL_ACTION_KIND_DISCRETE, 1, n, &rng);
    double freq[n] = {0};
    for (int64_t i = 0; i < N; i++) {
        double u = orl_rng_uniform(&rng);
        ds->act_idx[i] = u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2;
        freq[ds->act_idx[i]] += 1.0 / N;
    }
    int64_t *rows = malloc(N * sizeof *rows);
    for (int64_t i = 0; i < N; i++) rows[i] = i;
    orl_ml_config mc;
    memset(&mc, 0, sizeof mc);
    mc.head = ORL_POLICY_HEAD_CATEGORICAL;
    mc.act_dim = 1;
    mc.n_actions = n;
    mc.lr = 3e-3f;
    mc.max_batch = 256;
    mc.name = "test";
    orl_mlp_config net = small_net(2, 16, n);
    orl_ml_fit *fit;
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_OK, "%s", orl_error_message());
    orl_normalizer nm;
    cr_assert_eq(orl_normalizer_fit(&nm, ds->obs, N, 2, 1e-3f), ORL_OK);
    cr_assert_eq(orl_ml_fit_rows(fit, ds, &nm, rows, N, 2000, &rng), ORL_OK, "%s",
                 orl_error_message());
    /* the fitted probability of each action, averaged over the states */
    float *logp = malloc(N * sizeof *logp);
    int32_t *a = malloc(N * sizeof *a);
    for (int k = 0; k < n; k++) {
        for (int64_t i = 0; i < N; i++) a[i] = k;
        orl_ml_fit_log_prob(fit, &nm, ds->obs, NULL, a, N, logp);
        double mean = 0.0;
        for (int64_t i = 0; i < N; i++) mean += exp((double)logp[i]) / N;
        cr_log_info("seed 42: p(%d) %.4f, want %.2f (sample frequency %.4f)", k, mean, p[k],
                    freq[k]);
        cr_assert(fabs(mean - p[k]) < 0.03, "seed 42: p(%d) = %g, want %g", k, mean, p[k]);
        cr_assert(fabs(mean - freq[k]) < 0.02, "seed 42: p(%d) = %g, sample frequency %g", k, mean,
                  freq[k]);
    }
    /* no rows is an input error */
    cr_assert_eq(orl_ml_fit_rows(fit, ds, &nm, rows, 0, 10, &rng), ORL_ERR_INPUT);
    free(a);
    free(logp);
    free(rows);
    orl_normalizer_free(&nm);
    orl_ml_fit_free(fit);
    orl_dataset_free(ds);
}

/* log of the density of a = 2 tanh(u), u ~ N(m, sd), mixed 1 - share : share with the uniform
 * over [-2, 2] */
static double mixture_logp(double a, double m, double sd, double share) {
    double y = a / 2.0, u = atanh(y);
    double q = exp(-0.5 * (u - m) * (u - m) / (sd * sd)) / (sd * sqrt(2.0 * TEST_PI)) /
               (2.0 * (1.0 - y * y));
    return log((1.0 - share) * q + share / 4.0);
}

Test(ml_fit, recovers_a_squashed_gaussian_with_a_uniform_share) {
    openblas_set_num_threads(1);
    enum { N = 6000, B = 256 };
    const double m = 0.3, sd = 0.4, share = 0.3;
    const float lo[1] = {-2.0f}, hi[1] = {2.0f};
    orl_rng rng;
    orl_rng_seed(&rng, 43, 1);
    orl_dataset *ds = make_data(N, ORL_ACTION_KIND_CONTINUOUS, 1, 0, &rng);
    for (int64_t i = 0; i < N; i++) {
        double a = orl_rng_uniform(&rng) < share ? -2.0 + 4.0 * orl_rng_uniform(&rng)
                                                 : 2.0 * tanh(m + sd * orl_rng_normal(&rng));
        ds->act[i] = (float)fmax(-1.9999, fmin(1.9999, a));
    }
    int64_t *rows = malloc(N * sizeof *rows);
    for (int64_t i = 0; i < N; i++) rows[i] = i;
    orl_ml_config mc;
    memset(&mc, 0, sizeof mc);
    mc.head = ORL_POLICY_HEAD_TANH_GAUSSIAN;
    mc.act_dim = 1;
    mc.log_std_min = -5.0f;
    mc.log_std_max = 2.0f;
    mc.act_low = lo;
    mc.act_high = hi;
    mc.uniform_mix = 1;
    mc.uniform_floor = 0.01;
    mc.lr = 1e-2f;
    mc.max_batch = B;
    mc.name = "test";
    cr_assert_eq(orl_ml_outputs(&mc), 3);
    orl_mlp_config net = small_net(2, 16, 3);
    orl_ml_fit *fit;
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(orl_ml_fit_rows(fit, ds, NULL, rows, N, 2000, &rng), ORL_OK, "%s",
                 orl_error_message());
    /* on fresh samples, the fitted model's mean log-likelihood is close to the true model's */
    float *logp = malloc(N * sizeof *logp);
    float *act = malloc(N * sizeof *act);
    double ll_true = 0.0, ll_fit = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double a = orl_rng_uniform(&rng) < share ? -2.0 + 4.0 * orl_rng_uniform(&rng)
                                                 : 2.0 * tanh(m + sd * orl_rng_normal(&rng));
        act[i] = (float)fmax(-1.9999, fmin(1.9999, a));
        ll_true += mixture_logp((double)act[i], m, sd, share) / N;
    }
    orl_ml_fit_log_prob(fit, NULL, ds->obs, act, NULL, N, logp);
    for (int64_t i = 0; i < N; i++) ll_fit += (double)logp[i] / N;
    cr_log_info("seed 43: mean log-likelihood %.4f, true model %.4f", ll_fit, ll_true);
    cr_assert(fabs(ll_fit - ll_true) < 0.05, "seed 43: mean log-likelihood %g, true model %g",
              ll_fit, ll_true);
    /* the density integrates to 1 over the box (a grid, at one state) */
    enum { G = 4000 };
    float grid[G], lg[G], x0[G * 2];
    for (int g = 0; g < G; g++) {
        grid[g] = (float)(-2.0 + 4.0 * (g + 0.5) / G);
        x0[2 * g] = ds->obs[0];
        x0[2 * g + 1] = ds->obs[1];
    }
    orl_ml_fit_log_prob(fit, NULL, x0, grid, NULL, G, lg);
    double mass = 0.0;
    for (int g = 0; g < G; g++) mass += exp((double)lg[g]) * 4.0 / G;
    cr_assert(fabs(mass - 1.0) < 0.01, "seed 43: the density integrates to %g", mass);
    free(act);
    free(logp);
    free(rows);
    orl_ml_fit_free(fit);
    orl_dataset_free(ds);
}

/* a mixture config of K squashed Gaussians over the box [-2, 2]^A, with the uniform share */
static orl_ml_config mixture_config(int32_t K, int32_t A, const float *lo, const float *hi,
                                    int32_t B) {
    orl_ml_config mc;
    memset(&mc, 0, sizeof mc);
    mc.head = ORL_POLICY_HEAD_TANH_GAUSSIAN;
    mc.act_dim = A;
    mc.log_std_min = -5.0f;
    mc.log_std_max = 2.0f;
    mc.act_low = lo;
    mc.act_high = hi;
    mc.components = K;
    mc.uniform_mix = 1;
    mc.uniform_floor = 0.01;
    mc.lr = 1e-2f;
    mc.max_batch = B;
    mc.name = "test";
    return mc;
}

Test(ml_fit, mixture_gradient_matches_finite_differences) {
    openblas_set_num_threads(1);
    enum { B = 8, A = 2, K = 3 };
    const float lo[A] = {-2.0f, -1.0f}, hi[A] = {2.0f, 3.0f};
    orl_ml_config mc = mixture_config(K, A, lo, hi, B);
    cr_assert_eq(orl_ml_outputs(&mc), K + 2 * A * K + 1);
    /* one linear layer on two inputs, so every output has its own parameters */
    orl_mlp_config net;
    memset(&net, 0, sizeof net);
    net.n_layers = 1;
    net.widths[0] = 2;
    net.widths[1] = orl_ml_outputs(&mc);
    orl_rng rng;
    orl_rng_seed(&rng, 47, 1); /* seed 47 */
    orl_ml_fit *fit;
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_OK, "%s", orl_error_message());
    float x[B * 2], act[B * A], w[B];
    for (int i = 0; i < B; i++) {
        x[2 * i] = (float)orl_rng_normal(&rng), x[2 * i + 1] = (float)orl_rng_normal(&rng);
        for (int j = 0; j < A; j++)
            act[i * A + j] = (float)(lo[j] + (hi[j] - lo[j]) * (0.05 + 0.9 * orl_rng_uniform(&rng)));
        w[i] = (float)(0.5 + orl_rng_uniform(&rng));
    }
    orl_fit *kit = orl_ml_fit_kit(fit);
    double loss;
    cr_assert_eq(orl_ml_fit_gradient(fit, x, act, NULL, w, B, &loss), ORL_OK);
    int64_t P = kit->net.n_params;
    double worst = 0.0;
    for (int64_t p = 0; p < P; p++) {
        float p0 = kit->net.params[p];
        const float h = 1.0f / 512.0f;
        double lp, lm;
        kit->net.params[p] = p0 + h;
        cr_assert_eq(orl_ml_fit_loss(fit, x, act, NULL, w, B, &lp), ORL_OK);
        kit->net.params[p] = p0 - h;
        cr_assert_eq(orl_ml_fit_loss(fit, x, act, NULL, w, B, &lm), ORL_OK);
        kit->net.params[p] = p0;
        double fd = (lp - lm) / (2.0 * (double)h), g = (double)kit->grads[p];
        double err = fabs(fd - g) / fmax(1e-2, fabs(fd) + fabs(g));
        if (err > worst) worst = err;
        cr_assert(err < 2e-2, "parameter %lld: gradient %g, finite difference %g", (long long)p, g,
                  fd);
    }
    cr_log_info("seed 47: %lld parameters, worst relative error %.2e", (long long)P, worst);
    orl_ml_fit_free(fit);
}

/* bang-bang: a = +-1.9 (squashed Gaussian around each bound, side by the sign of the first
 * observation, with a band around 0 where either happens) mixed with a 10% uniform share */
static double bang_bang_action(double s0, orl_rng *rng) {
    if (orl_rng_uniform(rng) < 0.1) return -2.0 + 4.0 * orl_rng_uniform(rng);
    double p_plus = 1.0 / (1.0 + exp(-4.0 * s0));
    double m = orl_rng_uniform(rng) < p_plus ? 1.8 : -1.8;
    return 2.0 * tanh(m + 0.2 * orl_rng_normal(rng));
}

Test(ml_fit, a_mixture_fits_bang_bang_behaviour_better_and_integrates_to_one) {
    openblas_set_num_threads(1);
    enum { N = 6000, B = 256, G = 4000 };
    const float lo[1] = {-2.0f}, hi[1] = {2.0f};
    orl_rng rng;
    orl_rng_seed(&rng, 53, 1); /* seed 53 */
    orl_dataset *ds = make_data(N, ORL_ACTION_KIND_CONTINUOUS, 1, 0, &rng);
    for (int64_t i = 0; i < N; i++)
        ds->act[i] = (float)fmax(-1.9999, fmin(1.9999, bang_bang_action(ds->obs[2 * i], &rng)));
    /* held-out rows from the same process */
    orl_dataset *ho = make_data(N, ORL_ACTION_KIND_CONTINUOUS, 1, 0, &rng);
    for (int64_t i = 0; i < N; i++)
        ho->act[i] = (float)fmax(-1.9999, fmin(1.9999, bang_bang_action(ho->obs[2 * i], &rng)));
    int64_t *rows = malloc(N * sizeof *rows);
    float *logp = malloc(N * sizeof *logp);
    for (int64_t i = 0; i < N; i++) rows[i] = i;
    double ll[3];
    for (int K = 1; K <= 2; K++) {
        orl_ml_config mc = mixture_config(K, 1, lo, hi, B);
        orl_mlp_config net = small_net(2, 32, orl_ml_outputs(&mc));
        orl_rng r2;
        orl_rng_seed(&r2, 53, 2);
        orl_ml_fit *fit;
        cr_assert_eq(orl_ml_fit_create(&mc, &net, &r2, &fit), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(orl_ml_fit_rows(fit, ds, NULL, rows, N, 3000, &r2), ORL_OK);
        orl_ml_fit_log_prob(fit, NULL, ho->obs, ho->act, NULL, N, logp);
        ll[K] = 0.0;
        for (int64_t i = 0; i < N; i++) ll[K] += (double)logp[i] / N;
        /* the density integrates to 1 over the box at a state in the band where both modes
         * happen */
        float grid[G], lg[G], x0[G * 2];
        for (int g = 0; g < G; g++) {
            grid[g] = (float)(-2.0 + 4.0 * (g + 0.5) / G);
            x0[2 * g] = 0.1f;
            x0[2 * g + 1] = 0.0f;
        }
        orl_ml_fit_log_prob(fit, NULL, x0, grid, NULL, G, lg);
        double mass = 0.0;
        for (int g = 0; g < G; g++) mass += exp((double)lg[g]) * 4.0 / G;
        cr_assert(fabs(mass - 1.0) < 0.01, "K = %d: the density integrates to %g", K, mass);
        orl_ml_fit_free(fit);
    }
    cr_log_info("seed 53: held-out mean log-likelihood K=1 %.4f, K=2 %.4f", ll[1], ll[2]);
    cr_assert(ll[2] > ll[1] + 0.05, "the mixture fits bang-bang behaviour better: %g vs %g", ll[2],
              ll[1]);
    free(logp);
    free(rows);
    orl_dataset_free(ho);
    orl_dataset_free(ds);
}

Test(ml_fit, a_two_dimensional_mixture_integrates_to_one) {
    openblas_set_num_threads(1);
    enum { B = 256, G = 300 };
    const float lo[2] = {-2.0f, -1.0f}, hi[2] = {2.0f, 3.0f};
    orl_ml_config mc = mixture_config(3, 2, lo, hi, B);
    orl_mlp_config net = small_net(2, 16, orl_ml_outputs(&mc));
    orl_rng rng;
    orl_rng_seed(&rng, 59, 1); /* seed 59: random parameters, a spread of components */
    orl_ml_fit *fit;
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_OK);
    float x[B * 2], a[B * 2], lg[B];
    double mass = 0.0, cell = 4.0 / G * 4.0 / G;
    for (int64_t g = 0; g < (int64_t)G * G; g += B) {
        int m = (int)((int64_t)G * G - g < B ? (int64_t)G * G - g : B);
        for (int i = 0; i < m; i++) {
            int64_t k = g + i;
            x[2 * i] = 0.3f, x[2 * i + 1] = -0.7f;
            a[2 * i] = (float)(-2.0 + 4.0 * ((double)(k % G) + 0.5) / G);
            a[2 * i + 1] = (float)(-1.0 + 4.0 * ((double)(k / G) + 0.5) / G);
        }
        orl_ml_fit_log_prob(fit, NULL, x, a, NULL, m, lg);
        for (int i = 0; i < m; i++) mass += exp((double)lg[i]) * cell;
    }
    cr_assert(fabs(mass - 1.0) < 0.02, "the 2-D density integrates to %g", mass);
    orl_ml_fit_free(fit);
}

Test(ml_fit, bad_configs_are_input_errors) {
    orl_rng rng;
    orl_rng_seed(&rng, 44, 1);
    orl_ml_config mc;
    memset(&mc, 0, sizeof mc);
    mc.head = ORL_POLICY_HEAD_GAUSSIAN;
    mc.act_dim = 2;
    mc.lr = 1e-3f;
    mc.max_batch = 8;
    orl_ml_fit *fit = (orl_ml_fit *)&rng;
    orl_mlp_config net = small_net(2, 8, 3); /* the Gaussian head needs 4 outputs */
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_ERR_INPUT);
    cr_assert_null(fit);
    net = small_net(2, 8, 4);
    mc.uniform_mix = 1; /* only with the tanh-Gaussian head */
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_ERR_INPUT);
    mc.uniform_mix = 0;
    mc.head = ORL_POLICY_HEAD_TANH_GAUSSIAN; /* needs bounds */
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_ERR_INPUT);
    mc.head = ORL_POLICY_HEAD_GAUSSIAN;
    mc.lr = 0.0f;
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_ERR_INPUT);
    mc.lr = 1e-3f;
    cr_assert_eq(orl_ml_fit_create(&mc, &net, &rng, &fit), ORL_OK);
    orl_ml_fit_free(fit);
}

/* ---- the imitation core ---- */

/* a continuous dataset whose actions are a known function of the state, in [-1, 1] */
static orl_dataset *make_imitation_data(int64_t n, orl_rng *rng) {
    orl_dataset *ds = make_data(n, ORL_ACTION_KIND_CONTINUOUS, 1, 0, rng);
    ds->h.act_low[0] = -1.0f;
    ds->h.act_high[0] = 1.0f;
    for (int64_t i = 0; i < n; i++) ds->act[i] = 0.8f * tanhf(ds->obs[2 * i] - ds->obs[2 * i + 1]);
    return ds;
}

Test(imitation, trains_the_policy_network_in_place) {
    openblas_set_num_threads(1);
    enum { N = 512, B = 64 };
    orl_rng rng;
    orl_rng_seed(&rng, 45, 1);
    orl_dataset *ds = make_imitation_data(N, &rng);
    orl_imitation_config cfg = {.head = ORL_POLICY_HEAD_DETERMINISTIC,
                                .hidden = 32,
                                .layers = 2,
                                .lr = 3e-3f,
                                .log_std_min = -5.0f,
                                .log_std_max = 2.0f,
                                .normalize_obs = 1};
    orl_imitation *im;
    cr_assert_eq(orl_imitation_create_with(ds, &cfg, "test", "{}", B, &rng, &im), ORL_OK, "%s",
                 orl_error_message());
    orl_mlp *net = orl_policy_mlp_network(orl_imitation_policy(im));
    orl_buffer list[4];
    cr_assert_eq(orl_imitation_buffers(im, list, 4, 0), 4);
    cr_assert_str_eq(list[0].name, "policy_params");
    cr_assert_eq(list[0].ptr, net->params, "the core trains a copy, not the policy's network");
    float *before = malloc((size_t)net->n_params * sizeof(float));
    memcpy(before, net->params, (size_t)net->n_params * sizeof(float));
    orl_batch b;
    memset(&b, 0, sizeof b);
    b.size = B;
    double first = NAN, loss = NAN;
    for (int s = 0; s < 400; s++) {
        int64_t r0 = (int64_t)orl_rng_below(&rng, N - B);
        b.obs = ds->obs + 2 * r0;
        b.act = ds->act + r0;
        cr_assert_eq(orl_imitation_step(im, &b, NULL, &loss), ORL_OK);
        if (s == 0) first = loss;
    }
    cr_assert_neq(memcmp(before, net->params, (size_t)net->n_params * sizeof(float)), 0);
    cr_assert(loss < 0.2 * first, "seed 45: imitation loss %g from %g", loss, first);
    /* a head that does not fit the actions */
    orl_imitation *bad = (orl_imitation *)&rng;
    cfg.head = ORL_POLICY_HEAD_CATEGORICAL;
    cr_assert_eq(orl_imitation_create_with(ds, &cfg, "test", "{}", B, &rng, &bad), ORL_ERR_INPUT);
    cr_assert_null(bad);
    free(before);
    orl_imitation_free(im);
    orl_imitation_free(NULL);
    orl_dataset_free(ds);
}

/* ---- no allocation in forward, backward, step ---- */

#include "tests/alloc_count.h"

Test(models_alloc, none_in_fit_kit_and_fit_steps) {
#ifdef ORL_TEST_COUNT_ALLOCATIONS
    openblas_set_num_threads(1);
    enum { B = 32 };
    orl_rng rng;
    orl_rng_seed(&rng, 46, 1);
    /* the counter itself */
    void *volatile probe;
    alloc_count_begin();
    probe = malloc(16);
    free(probe);
    cr_assert_eq(alloc_count_end(), 1, "counter saw %ld", alloc_count);

    orl_mlp_config cfg = small_net(2, 24, 4);
    cfg.layer_norm = 1;
    orl_fit_config fc = orl_fit_defaults(1e-3f, B);
    fc.target = 1;
    fc.max_grad_norm = 0.5;
    orl_fit kit;
    cr_assert_eq(orl_fit_init(&kit, &cfg, &fc, &rng), ORL_OK);
    orl_ml_config mc;
    memset(&mc, 0, sizeof mc);
    mc.head = ORL_POLICY_HEAD_GAUSSIAN;
    mc.act_dim = 2;
    mc.lr = 1e-3f;
    mc.max_batch = B;
    orl_ml_fit *ml;
    cr_assert_eq(orl_ml_fit_create(&mc, &cfg, &rng, &ml), ORL_OK);
    orl_dataset *ds = make_imitation_data(256, &rng);
    orl_imitation_config icfg = {.head = ORL_POLICY_HEAD_TANH_GAUSSIAN,
                                 .hidden = 16,
                                 .layers = 2,
                                 .lr = 1e-3f,
                                 .log_std_min = -5.0f,
                                 .log_std_max = 2.0f,
                                 .normalize_obs = 1};
    orl_imitation *im;
    cr_assert_eq(orl_imitation_create_with(ds, &icfg, "test", "{}", B, &rng, &im), ORL_OK);
    orl_batch b;
    memset(&b, 0, sizeof b);
    b.size = B;
    b.obs = ds->obs;
    b.act = ds->act;
    float x[B * 2], act[B * 2], dout[B * 4], dx[B * 2], w[B], logp[B];
    for (int i = 0; i < B * 2; i++) x[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < B * 2; i++) act[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < B * 4; i++) dout[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < B; i++) w[i] = (float)orl_rng_uniform(&rng);
    double loss;
    /* one warm-up round (the BLAS may set up its buffers on first use), then count */
    for (int round = 0; round < 2; round++) {
        if (round == 1) alloc_count_begin();
        orl_fit_forward(&kit, x, B);
        orl_fit_backward(&kit, dout, dx);
        orl_fit_step(&kit, -1.0f);
        orl_fit_target_forward(&kit, x, 7);
        orl_fit_polyak(&kit, 0.01f);
        orl_ml_fit_step(ml, x, act, NULL, w, B, &loss);
        orl_ml_fit_loss(ml, x, act, NULL, NULL, 5, &loss);
        orl_ml_fit_log_prob(ml, NULL, x, act, NULL, B, logp);
        orl_imitation_step(im, &b, w, &loss);
        orl_imitation_loss(im, &b, NULL, &loss);
        alloc_count_end();
    }
    cr_assert_eq(alloc_count, 0, "%ld allocations in the fit steps", alloc_count);
    orl_imitation_free(im);
    orl_dataset_free(ds);
    orl_ml_fit_free(ml);
    orl_fit_free(&kit);
#else
    cr_skip_test("allocation counting needs glibc and no sanitizer");
#endif
}
