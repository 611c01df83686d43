/* algorithms/td3bc.c: TD3+BC's actor gradient through the critic against finite differences of
 * a double-precision reference (on a box that is neither unit nor centred, with the BC term in
 * normalised action units); on a [-1, 1] box the normalised units give the raw form's bits,
 * and scaling actions and box leaves the loss unchanged; with alpha = 0 the actor loss is BC's and
 * the learner trains the bc learner's policy; same seed same bits; checkpoint + resume gives the
 * bits of an uninterrupted run; a non-finite loss is reported with its step; discrete data is
 * refused; no allocation in a training step or a validation. Small networks, a few hundred steps.
 * Scratch files go under ORL_BINARY_DIR/tmp-td3bc/. Every seed is named in its test. */
#define _GNU_SOURCE
#include "orl/heads.h"
#include "orl/orl.h"

#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-td3bc"

#include "tests/lsan_hdf5.h"

#include "tests/scratch.h"
#include "tests/train_helpers.h"

/* E episodes of length T, S = 3, A = 2 in the box [lo, hi] (A each): obs uniform, next_obs the
 * next row's obs, actions a noisy linear function of obs in [-1, 1] mapped to the box, reward
 * -(a_0 - 0.5)^2 of the [-1, 1] action (so the critic has something to learn), terminal at the
 * episode's end */
static orl_dataset *make_dataset_box(int64_t E, int64_t T, uint64_t seed, const float *lo,
                                     const float *hi) {
    enum { S = 3, A = 2 };
    orl_header h;
    cr_assert_eq(orl_header_init(&h, S, A, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    for (int32_t j = 0; j < A; j++) h.act_low[j] = lo[j], h.act_high[j] = hi[j];
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, E * T, E, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    for (int64_t e = 0; e < E; e++)
        for (int64_t t = 0; t < T; t++) {
            int64_t i = e * T + t;
            for (int32_t j = 0; j < S; j++)
                ds->obs[i * S + j] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
            for (int32_t j = 0; j < A; j++)
                ds->act[i * A + j] = (float)(0.4 * ds->obs[i * S + j] + 0.3 * orl_rng_normal(&rng));
            for (int32_t j = 0; j < A; j++)
                ds->act[i * A + j] = fmaxf(-1.0f, fminf(1.0f, ds->act[i * A + j]));
            ds->rew[i] = -(ds->act[i * A] - 0.5f) * (ds->act[i * A] - 0.5f);
            for (int32_t j = 0; j < A; j++) /* exact on [-1, 1]: 0 + 1 a */
                ds->act[i * A + j] =
                    0.5f * (hi[j] + lo[j]) + 0.5f * (hi[j] - lo[j]) * ds->act[i * A + j];
            ds->terminal[i] = t == T - 1;
            ds->timeout[i] = 0;
            ds->logp_b[i] = NAN;
        }
    for (int64_t i = 0; i < E * T; i++)
        for (int32_t j = 0; j < S; j++)
            ds->next_obs[i * S + j] =
                ds->terminal[i] ? ds->obs[i * S + j] : ds->obs[(i + 1) * S + j];
    ds->n_steps = E * T;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

/* make_dataset_box on [-1, 1]^2 */
static orl_dataset *make_dataset(int64_t E, int64_t T, uint64_t seed) {
    const float lo[2] = {-1.0f, -1.0f}, hi[2] = {1.0f, 1.0f};
    return make_dataset_box(E, T, seed, lo, hi);
}

static void small_options(orl_train_options *opt, const char *algo, int64_t steps) {
    orl_train_options_init(opt);
    opt->algo = algo;
    opt->steps = steps;
    opt->batch = 32;
    opt->log_every = 0;
}

static const float *params_of(orl_policy *p, int64_t *n) {
    orl_mlp *net = orl_policy_mlp_network(p);
    cr_assert_not_null(net);
    *n = net->n_params;
    return net->params;
}

static void assert_same_bits(orl_policy *a, orl_policy *b) {
    int64_t na, nb;
    const float *pa = params_of(a, &na), *pb = params_of(b, &nb);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(pa, pb, (size_t)na * sizeof(float)) == 0, "parameters differ");
}

/* ---- the actor's gradient through the critic ---- */

/* the TD3+BC actor loss in double with lambda fixed: -lambda mean Q_1(s, pi(s)) +
 * mean ((pi(s) - a) / h)^2, pi = c + h tanh(actor(s)), c and h the box's centre and half-range */
static double ref_actor_loss(const orl_mlp *actor, const double *pa, const orl_mlp *q1,
                             const double *pq, const orl_policy *p, const float *x,
                             const float *act, int B, double lambda) {
    enum { S = 3, A = 2 };
    double sum_q = 0.0, sum_sq = 0.0;
    for (int b = 0; b < B; b++) {
        double in[S + A], u[A], q;
        for (int i = 0; i < S; i++) in[i] = x[b * S + i];
        ref_forward(actor, pa, in, u);
        for (int j = 0; j < A; j++) {
            double c = 0.5 * ((double)p->act_high[j] + (double)p->act_low[j]);
            double h = 0.5 * ((double)p->act_high[j] - (double)p->act_low[j]);
            double pi = c + h * tanh(u[j]);
            in[S + j] = pi;
            sum_sq += (pi - act[b * A + j]) * (pi - act[b * A + j]) / (h * h);
        }
        ref_forward(q1, pq, in, &q);
        sum_q += q;
    }
    return -lambda * sum_q / B + sum_sq / (B * A);
}

Test(td3bc, actor_gradient_through_the_critic_matches_finite_differences) {
    openblas_set_num_threads(1);
    enum { B = 8, S = 3, A = 2 };
    uint64_t seed = 301;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    /* a box that is neither unit nor centred, so the normalised units matter */
    const float lo[A] = {-2.0f, 0.0f}, hi[A] = {2.0f, 3.0f}, half[A] = {2.0f, 1.5f};
    orl_dataset *ds = make_dataset_box(4, 16, seed, lo, hi);
    orl_actor_config ac = orl_actor_defaults(ORL_POLICY_HEAD_DETERMINISTIC, B);
    ac.hidden = 12;
    orl_actor *actor;
    cr_assert_eq(orl_actor_create(&ac, ds, "td3bc", "{}", &rng, &actor), ORL_OK);
    orl_critic_config cc = orl_critic_defaults(S, A, 0, B);
    cc.hidden = 12;
    orl_critic *critic;
    cr_assert_eq(orl_critic_create(&cc, &rng, &critic), ORL_OK);
    float x[B * S], pi[B * A], dpi[B * A], dq[B];
    orl_actor_normalize(actor, ds->obs, B, x);
    const float *act = ds->act;
    double alpha = 2.5, lambda, bc;
    /* the learner's sequence: pi, Q_1(s, pi), the loss, dQ_1 through the critic, the actor */
    orl_actor_forward(actor, x, B, NULL, pi, NULL);
    const float *q1 = orl_critic_forward_members(critic, x, pi, B, 1);
    memset(dpi, 0, sizeof dpi);
    memset(dq, 0, sizeof dq);
    double loss = orl_loss_td3bc_actor(dpi, dq, pi, act, q1, half, B, A, alpha, &lambda, &bc);
    double sum_abs = 0.0;
    for (int b = 0; b < B; b++) sum_abs += fabs((double)q1[b]);
    cr_assert(fabs(lambda - alpha / (sum_abs / B)) <= 1e-9 * lambda, "lambda %g", lambda);
    orl_critic_action_grad(critic, dq, dpi);
    orl_actor_backward(actor, dpi, NULL);
    /* the critics' gradients stay zero */
    for (int k = 0; k < 2; k++) {
        orl_fit *f = orl_critic_member(critic, k);
        for (int64_t i = 0; i < f->net.n_params; i++) cr_assert_eq(f->grads[i], 0.0f);
    }
    orl_fit *kit = orl_actor_kit(actor);
    const orl_mlp *m = &kit->net, *qn = &orl_critic_member(critic, 0)->net;
    double *pa = malloc((size_t)m->n_params * sizeof(double));
    double *pq = malloc((size_t)qn->n_params * sizeof(double));
    for (int64_t i = 0; i < m->n_params; i++) pa[i] = m->params[i];
    for (int64_t i = 0; i < qn->n_params; i++) pq[i] = qn->params[i];
    const orl_policy *pol = orl_actor_policy(actor);
    double want = ref_actor_loss(m, pa, qn, pq, pol, x, act, B, lambda);
    cr_assert(fabs(loss - want) <= 1e-5 * (1.0 + fabs(want)), "loss %.8g want %.8g", loss, want);
    double h = 1e-6, worst = 0.0;
    for (int64_t i = 0; i < m->n_params; i++) {
        double keep = pa[i];
        pa[i] = keep + h;
        double lp = ref_actor_loss(m, pa, qn, pq, pol, x, act, B, lambda);
        pa[i] = keep - h;
        double lm = ref_actor_loss(m, pa, qn, pq, pol, x, act, B, lambda);
        pa[i] = keep;
        double fd = (lp - lm) / (2 * h), err = fabs(kit->grads[i] - fd);
        worst = fmax(worst, err);
        cr_assert(err <= 1e-5 + 1e-3 * fabs(fd), "param %lld: got %.8g want %.8g (seed %llu)",
                  (long long)i, (double)kit->grads[i], fd, (unsigned long long)seed);
    }
    cr_assert_gt(worst, 0.0);
    free(pa);
    free(pq);
    orl_actor_free(actor);
    orl_critic_free(critic);
    orl_dataset_free(ds);
}

/* ---- alpha -> 0: BC ---- */

Test(td3bc, zero_alpha_is_bc) {
    openblas_set_num_threads(1);
    /* the loss: with alpha 0 it is the MSE, with its gradient, and nothing reaches Q */
    enum { B = 6, A = 2 };
    orl_rng rng;
    orl_rng_seed(&rng, 302, 1);
    float pi[B * A], act[B * A], q[B], dpi[B * A] = {0}, dmse[B * A] = {0}, dq[B] = {0};
    for (int i = 0; i < B * A; i++) pi[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < B * A; i++) act[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < B; i++) q[i] = (float)(10.0 * orl_rng_normal(&rng));
    double lambda, bc;
    double loss = orl_loss_td3bc_actor(dpi, dq, pi, act, q, NULL, B, A, 0.0, &lambda, &bc);
    double mse = orl_loss_mse(dmse, pi, act, B * A, 1.0f);
    cr_assert_eq(loss, mse);
    cr_assert_eq(bc, mse);
    cr_assert_eq(lambda, 0.0);
    cr_assert_eq(memcmp(dpi, dmse, sizeof dpi), 0);
    for (int i = 0; i < B; i++) cr_assert_eq(dq[i], 0.0f);

    /* the learner: td3bc with alpha 0 and an actor update every step trains bc's policy (seed
     * 303: the same initial parameters, the same batches) */
    orl_dataset *ds = make_dataset(20, 10, 303);
    orl_train_options opt;
    small_options(&opt, "td3bc", 150);
    opt.seed = 303;
    const char *td_sets[] = {"alpha=0", "policy_freq=1", "hidden=16"};
    opt.sets = td_sets;
    opt.n_sets = 3;
    orl_policy *td = train_run(ds, opt, NULL, 0);
    small_options(&opt, "bc", 150);
    opt.seed = 303;
    const char *bc_sets[] = {"hidden=16"};
    opt.sets = bc_sets;
    opt.n_sets = 1;
    orl_policy *pb = train_run(ds, opt, NULL, 0);
    int64_t n, nb;
    const float *pt = params_of(td, &n), *pbp = params_of(pb, &nb);
    cr_assert_eq(n, nb);
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)pt[i] - (double)pbp[i]));
    cr_assert_lt(worst, 1e-5, "td3bc(alpha 0) and bc differ by %g", worst);
    /* while the default alpha moves the policy elsewhere */
    small_options(&opt, "td3bc", 150);
    opt.seed = 303;
    const char *q_sets[] = {"policy_freq=1", "hidden=16"};
    opt.sets = q_sets;
    opt.n_sets = 2;
    orl_policy *tq = train_run(ds, opt, NULL, 0);
    const float *pq = params_of(tq, &n);
    double moved = 0.0;
    for (int64_t i = 0; i < n; i++) moved = fmax(moved, fabs((double)pq[i] - (double)pbp[i]));
    cr_assert_gt(moved, 1e-3, "alpha 2.5 gave bc's policy (%g)", moved);
    orl_policy_free(td);
    orl_policy_free(pb);
    orl_policy_free(tq);
    orl_dataset_free(ds);
}

/* ---- the BC term's units ---- */

Test(td3bc, bc_term_in_normalised_units) {
    openblas_set_num_threads(1);
    /* the loss: half-ranges 1 give the raw form's bits; actions and box scaled by 2 (exact in
     * binary) give the same loss, and half the gradient with respect to the scaled actions */
    enum { B = 6, A = 2 };
    orl_rng rng;
    orl_rng_seed(&rng, 304, 1);
    float pi[B * A], act[B * A], q[B], pi2[B * A], act2[B * A];
    for (int i = 0; i < B * A; i++) pi[i] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
    for (int i = 0; i < B * A; i++) act[i] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
    for (int i = 0; i < B; i++) q[i] = (float)(10.0 * orl_rng_normal(&rng));
    for (int i = 0; i < B * A; i++) pi2[i] = 2.0f * pi[i], act2[i] = 2.0f * act[i];
    const float one[A] = {1.0f, 1.0f}, two[A] = {2.0f, 2.0f};
    float d_raw[B * A] = {0}, d_one[B * A] = {0}, d_two[B * A] = {0};
    float q_raw[B] = {0}, q_one[B] = {0}, q_two[B] = {0};
    double lr, br, l1, b1, l2, b2;
    double raw = orl_loss_td3bc_actor(d_raw, q_raw, pi, act, q, NULL, B, A, 2.5, &lr, &br);
    double unit = orl_loss_td3bc_actor(d_one, q_one, pi, act, q, one, B, A, 2.5, &l1, &b1);
    double wide = orl_loss_td3bc_actor(d_two, q_two, pi2, act2, q, two, B, A, 2.5, &l2, &b2);
    cr_assert_eq(raw, unit);
    cr_assert_eq(br, b1);
    cr_assert_eq(memcmp(d_raw, d_one, sizeof d_raw), 0);
    cr_assert_eq(wide, raw);
    cr_assert_eq(b2, br);
    cr_assert_eq(l2, lr);
    cr_assert_eq(memcmp(q_two, q_raw, sizeof q_raw), 0);
    for (int i = 0; i < B * A; i++) cr_assert_eq(d_two[i], 0.5f * d_raw[i]);
    /* the raw form on the scaled box: 4 times the BC term */
    double b4;
    orl_loss_td3bc_actor(NULL, NULL, pi2, act2, q, NULL, B, A, 2.5, NULL, &b4);
    cr_assert_eq(b4, 4.0 * br);

    /* the learner on a [-1, 1] box (seed 305): normalize_bc 1 (the default) and 0 train the
     * same bits; on a [-2, 2] x [0, 3] box they differ */
    orl_dataset *ds = make_dataset(20, 10, 305);
    orl_train_options opt;
    small_options(&opt, "td3bc", 60);
    opt.seed = 305;
    const char *norm_sets[] = {"hidden=16"}, *raw_sets[] = {"hidden=16", "normalize_bc=0"};
    opt.sets = norm_sets;
    opt.n_sets = 1;
    orl_policy *a = train_run(ds, opt, NULL, 0);
    opt.sets = raw_sets;
    opt.n_sets = 2;
    orl_policy *b = train_run(ds, opt, NULL, 0);
    assert_same_bits(a, b);
    orl_policy_free(a);
    orl_policy_free(b);
    orl_dataset_free(ds);
    const float lo[A] = {-2.0f, 0.0f}, hi[A] = {2.0f, 3.0f};
    ds = make_dataset_box(20, 10, 305, lo, hi);
    opt.sets = norm_sets;
    opt.n_sets = 1;
    a = train_run(ds, opt, NULL, 0);
    opt.sets = raw_sets;
    opt.n_sets = 2;
    b = train_run(ds, opt, NULL, 0);
    int64_t n;
    const float *pa = params_of(a, &n), *pb = params_of(b, &n);
    cr_assert(memcmp(pa, pb, (size_t)n * sizeof(float)) != 0, "the units made no difference");
    orl_policy_free(a);
    orl_policy_free(b);
    orl_dataset_free(ds);
}

/* ---- determinism and resume ---- */

Test(td3bc, same_seed_same_bits) {
    openblas_set_num_threads(1);
    /* seeds 311 and 312 */
    orl_dataset *ds = make_dataset(20, 10, 311);
    orl_train_options opt;
    small_options(&opt, "td3bc", 120);
    const char *sets[] = {"hidden=16"};
    opt.sets = sets;
    opt.n_sets = 1;
    opt.seed = 311;
    orl_policy *a = train_run(ds, opt, NULL, 0), *b = train_run(ds, opt, NULL, 0);
    assert_same_bits(a, b);
    opt.seed = 312;
    orl_policy *c = train_run(ds, opt, NULL, 0);
    int64_t n;
    const float *pa = params_of(a, &n), *pc = params_of(c, &n);
    cr_assert(memcmp(pa, pc, (size_t)n * sizeof(float)) != 0, "seed 312 gave seed 311's bits");
    cr_assert_str_eq(a->algorithm, "td3bc");
    cr_assert_eq(a->deterministic, 1);
    orl_policy_free(a);
    orl_policy_free(b);
    orl_policy_free(c);
    orl_dataset_free(ds);
}

Test(td3bc, resume_after_interrupt_gives_identical_bits) {
    openblas_set_num_threads(1);
    /* seed 321; interrupted at step 91 (an actor step: 0-based 91 is the 92nd; between the
     * checkpoints at 70 and 140) and at 100, then resumed; the metrics of the last step too */
    orl_dataset *ds = make_dataset(30, 10, 321);
    orl_train_options opt;
    small_options(&opt, "td3bc", 200);
    const char *sets[] = {"hidden=16"};
    opt.sets = sets;
    opt.n_sets = 1;
    opt.seed = 321;
    orl_train_result ra;
    orl_policy *a = NULL;
    cr_assert_eq(orl_train(ds, &opt, &a, &ra), ORL_OK, "%s", orl_error_message());
    cr_assert(ra.val_episodes > 0);
    int64_t stops[2] = {91, 100};
    for (int i = 0; i < 2; i++) {
        orl_policy *b = train_run(ds, opt, scratch("td3bc.ckpt"), stops[i]);
        assert_same_bits(a, b);
        orl_policy_free(b);
    }
    /* a resumed run's last metrics equal the uninterrupted run's */
    opt.checkpoint_path = scratch("td3bc2.ckpt");
    remove(opt.checkpoint_path);
    opt.checkpoint_every = 1000;
    opt.resume = 1;
    opt.stop_after = 133;
    orl_policy *b = NULL;
    cr_assert_eq(orl_train(ds, &opt, &b, NULL), ORL_ERR_INTERRUPTED);
    opt.stop_after = 0;
    orl_train_result rb;
    cr_assert_eq(orl_train(ds, &opt, &b, &rb), ORL_OK, "%s", orl_error_message());
    const char *names[] = {"critic_loss", "actor_loss", "q_mean", "lambda", "bc_loss"};
    for (int i = 0; i < 5; i++) {
        double va = orl_train_metric(&ra.last, names[i]), vb = orl_train_metric(&rb.last, names[i]);
        cr_assert(isfinite(va), "%s", names[i]);
        cr_assert_eq(memcmp(&va, &vb, sizeof va), 0, "%s: %g vs %g", names[i], va, vb);
    }
    cr_assert(isfinite(orl_train_metric(&ra.val, "bc_mse")));
    cr_assert(isfinite(orl_train_metric(&ra.val, "td_error")));
    orl_train_result_free(&ra);
    orl_train_result_free(&rb);
    orl_policy_free(a);
    orl_policy_free(b);
    orl_dataset_free(ds);
}

/* ---- errors ---- */

Test(td3bc, non_finite_loss_names_the_step) {
    /* a critic learning rate of 1e30 sends Q to infinity within a few steps */
    orl_dataset *ds = make_dataset(4, 5, 331);
    orl_train_options opt;
    small_options(&opt, "td3bc", 100);
    const char *sets[] = {"critic_lr=1e30", "hidden=8"};
    opt.sets = sets;
    opt.n_sets = 2;
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_NUMERIC, "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "non-finite loss at step"), "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "td3bc"), "%s", orl_error_message());
    cr_assert_null(p);
    orl_dataset_free(ds);
}

Test(td3bc, discrete_data_and_bad_settings_are_refused) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 2, 1, ORL_ACTION_KIND_DISCRETE, 3), ORL_OK);
    orl_dataset *ds;
    cr_assert_eq(orl_dataset_create(&h, 10, 2, &ds), ORL_OK);
    orl_header_free(&h);
    for (int64_t i = 0; i < 10; i++) {
        ds->obs[2 * i] = ds->obs[2 * i + 1] = (float)i;
        ds->next_obs[2 * i] = ds->next_obs[2 * i + 1] = (float)i;
        ds->act_idx[i] = (int32_t)(i % 3);
        ds->rew[i] = 0.0f;
        ds->terminal[i] = i == 4 || i == 9;
        ds->timeout[i] = 0;
        ds->logp_b[i] = NAN;
    }
    ds->n_steps = 10;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    orl_train_options opt;
    small_options(&opt, "td3bc", 10);
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "continuous"), "%s", orl_error_message());
    orl_dataset_free(ds);
    ds = make_dataset(4, 5, 332);
    const char *bad[][1] = {{"policy_freq=0"}, {"tau=2"}, {"alpha=-1"}, {"critics=0"}};
    for (int i = 0; i < 4; i++) {
        opt.sets = bad[i];
        opt.n_sets = 1;
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT, "%s", bad[i][0]);
    }
    cr_assert_null(p);
    orl_dataset_free(ds);
}

/* ---- no allocation in a step ---- */

#include "tests/alloc_count.h"

Test(td3bc_alloc, none_in_step_or_validate) {
#ifdef ORL_TEST_COUNT_ALLOCATIONS
    openblas_set_num_threads(1);
    enum { B = 16, S = 3, A = 2 };
    orl_dataset *ds = make_dataset(4, 16, 341);
    const orl_learner_ops *ops = orl_learner_find("td3bc");
    cr_assert_not_null(ops);
    const char *sets[] = {"hidden=16"};
    orl_hparams hp;
    cr_assert_eq(orl_hparams_resolve(ops, sets, 1, &hp), ORL_OK);
    orl_learner_context ctx = {ds, ds, &hp, "{}", B};
    orl_rng rng;
    orl_rng_seed(&rng, 341, 1);
    void *state = NULL;
    cr_assert_eq(ops->create(&ctx, &rng, &state), ORL_OK, "%s", orl_error_message());
    int64_t rows[B];
    for (int i = 0; i < B; i++) rows[i] = i;
    orl_batch b = {.size = B,
                   .rows = rows,
                   .obs = ds->obs,
                   .next_obs = ds->next_obs,
                   .act = ds->act,
                   .rew = ds->rew,
                   .terminal = ds->terminal,
                   .timeout = ds->timeout,
                   .from = ds};
    double metrics[8];
    for (int round = 0; round < 2; round++) {
        if (round == 1) alloc_count_begin();
        for (int64_t step = 0; step < 4; step++)
            cr_assert_eq(ops->step(state, &b, step, &rng, metrics), ORL_OK);
        cr_assert_eq(ops->validate(state, &b, metrics), ORL_OK);
        alloc_count_end();
    }
    cr_assert_eq(alloc_count, 0, "%ld allocations in td3bc steps", alloc_count);
    ops->free(state);
    orl_dataset_free(ds);
#else
    cr_skip_test("allocation counting is unavailable under the sanitizers");
#endif
}
