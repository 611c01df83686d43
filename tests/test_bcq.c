/* algorithms/bcq.c and policy/bcq_policy.c: the perturbation network's gradient through the
 * critic and discrete BCQ's combined loss against finite differences in double; the batch
 * constraint (on a one-state problem whose data covers a quarter of the action range, BCQ stays
 * within the data's support plus phi while an unconstrained actor-critic leaves it; discrete
 * BCQ never takes an action below the threshold); same seed same bits; checkpoint + resume
 * gives the bits of an uninterrupted run; save -> load gives the same actions; hostile and
 * truncated policy files fail naming the key; exact epsilon log-probabilities; OPE of a policy
 * without a density; no allocation in a training step or a validation. Small networks, a few
 * hundred steps. Scratch files go under ORL_BINARY_DIR/tmp-bcq/. Every seed is named in its
 * test. */
#define _GNU_SOURCE
#include "orl/heads.h"
#include "orl/orl.h"

#include <cblas.h>
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-bcq"

#include "tests/lsan_hdf5.h"

#include "tests/scratch.h"
#include "tests/train_helpers.h"

/* small networks for every continuous test */
static const char *const small_sets[] = {"hidden1=16", "hidden2=12", "vae_hidden=16", "n_target=4",
                                         "n_act=5"};
static const char *const small_discrete_sets[] = {"discrete_hidden=16"};
/* widths whose hidden products nn/gemm.c computes itself (whole 16-column panels), so that a
 * row's action does not depend on the rows acted on with it; OpenBLAS's sgemm sums a row
 * differently by the number of rows at other shapes (hidden2=12: with its Haswell kernels) */
static const char *const panel_sets[] = {"hidden1=16", "hidden2=16", "vae_hidden=16", "n_target=4",
                                         "n_act=5"};

/* E episodes of length T, S = 3, A = 2 in [-1, 1]: obs uniform, next_obs the next row's obs,
 * actions a noisy linear function of obs, reward -(a_0 - 0.5)^2, terminal at the episode's end */
static orl_dataset *make_dataset(int64_t E, int64_t T, uint64_t seed) {
    enum { S = 3, A = 2 };
    orl_header h;
    cr_assert_eq(orl_header_init(&h, S, A, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    for (int32_t j = 0; j < A; j++) h.act_low[j] = -1.0f, h.act_high[j] = 1.0f;
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
            for (int32_t j = 0; j < A; j++) {
                float a = (float)(0.4 * ds->obs[i * S + j] + 0.3 * orl_rng_normal(&rng));
                ds->act[i * A + j] = fmaxf(-1.0f, fminf(1.0f, a));
            }
            ds->rew[i] = -(ds->act[i * A] - 0.5f) * (ds->act[i * A] - 0.5f);
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

/* E episodes of length T, S = 2, 3 actions: the behaviour takes action 0 with probability 0.9
 * and action 1 otherwise, never 2; reward 1 for action 1 (the rare one) and 0 for action 0 */
static orl_dataset *make_discrete(int64_t E, int64_t T, uint64_t seed) {
    enum { S = 2, N = 3 };
    orl_header h;
    cr_assert_eq(orl_header_init(&h, S, 1, ORL_ACTION_KIND_DISCRETE, N), ORL_OK);
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
            ds->act_idx[i] = orl_rng_uniform(&rng) < 0.9 ? 0 : 1;
            ds->rew[i] = ds->act_idx[i] == 1 ? 1.0f : 0.0f;
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

static void small_options(orl_train_options *opt, int64_t steps, int discrete) {
    orl_train_options_init(opt);
    opt->algo = "bcq";
    opt->steps = steps;
    opt->batch = 32;
    opt->log_every = 0;
    opt->sets = discrete ? small_discrete_sets : small_sets;
    opt->n_sets = discrete ? 1 : 5;
}

/* every parameter of a BCQ policy of either type, concatenated into out (cap floats); returns
 * the count */
static int64_t policy_params(orl_policy *p, float *out, int64_t cap) {
    const orl_mlp *nets[3] = {NULL, NULL, NULL};
    orl_policy_bcq_view v;
    if (orl_policy_bcq_views(p, &v)) {
        nets[0] = v.decoder, nets[1] = v.perturb, nets[2] = v.critic;
    } else {
        orl_mlp *q, *im;
        cr_assert(orl_policy_bcq_discrete_views(p, &q, &im, NULL), "not a BCQ policy");
        nets[0] = q, nets[1] = im;
    }
    int64_t n = 0;
    for (int k = 0; k < 3 && nets[k]; k++) {
        cr_assert(n + nets[k]->n_params <= cap);
        memcpy(out + n, nets[k]->params, (size_t)nets[k]->n_params * sizeof(float));
        n += nets[k]->n_params;
    }
    return n;
}

static void assert_same_bits(orl_policy *a, orl_policy *b) {
    enum { CAP = 1 << 16 };
    float *pa = malloc(CAP * sizeof(float)), *pb = malloc(CAP * sizeof(float));
    int64_t na = policy_params(a, pa, CAP), nb = policy_params(b, pb, CAP);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(pa, pb, (size_t)na * sizeof(float)) == 0, "parameters differ");
    free(pa);
    free(pb);
}

/* ---- the perturbation network's gradient through the critic ---- */

enum { FD_B = 8, FD_S = 3, FD_A = 2 };

/* BCQ's actor loss in double: -mean_b Q_1(s, clip(a + phi h tanh(xi(s, a)), -1, 1)) */
static double ref_actor_loss(const orl_mlp *xi, const double *px, const orl_mlp *q1,
                             const double *pq, const float *x, const float *act, double phi) {
    double sum = 0.0;
    for (int b = 0; b < FD_B; b++) {
        double in[FD_S + FD_A], u[FD_A], q;
        for (int i = 0; i < FD_S; i++) in[i] = x[b * FD_S + i];
        for (int j = 0; j < FD_A; j++) in[FD_S + j] = act[b * FD_A + j];
        ref_forward(xi, px, in, u);
        for (int j = 0; j < FD_A; j++) {
            double a = (double)act[b * FD_A + j] + phi * 1.0 * tanh(u[j]);
            in[FD_S + j] = a < -1.0 ? -1.0 : a > 1.0 ? 1.0 : a;
        }
        ref_forward(q1, pq, in, &q);
        sum += q;
    }
    return -sum / FD_B;
}

Test(bcq, perturbation_gradient_through_the_critic_matches_finite_differences) {
    openblas_set_num_threads(1);
    enum { B = FD_B, S = FD_S, A = FD_A };
    uint64_t seed = 401;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    /* phi 0.4 and actions up to +-0.999: some clip (zero gradient there), most do not */
    double phi = 0.4;
    float lo[A] = {-1.0f, -1.0f}, hi[A] = {1.0f, 1.0f};
    orl_mlp_config pc = {
        .n_layers = 3, .widths = {S + A, 12, 10, A}, .activation = ORL_ACTIVATION_RELU};
    orl_fit perturb;
    orl_fit_config fc = orl_fit_defaults(1e-3f, B);
    cr_assert_eq(orl_fit_init(&perturb, &pc, &fc, &rng), ORL_OK);
    orl_critic_config cc = orl_critic_defaults(S, A, 0, B);
    cc.hidden = 12;
    cc.widths[0] = 12;
    cc.widths[1] = 10;
    orl_critic *critic;
    cr_assert_eq(orl_critic_create(&cc, &rng, &critic), ORL_OK);
    float x[B * S], act[B * A], sa[B * (S + A)], moved[B * A], dmoved[B * A], du[B * A], dq[B];
    for (int i = 0; i < B * S; i++) x[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < B * A; i++) act[i] = (float)(1.8 * orl_rng_uniform(&rng) - 0.9);
    /* a quarter of them at the bounds' edge, so that a push outward is clipped */
    for (int i = 0; i < B * A; i += 4) act[i] = i % 8 ? -0.999f : 0.999f;
    for (int b = 0; b < B; b++) {
        memcpy(sa + b * (S + A), x + b * S, S * sizeof(float));
        memcpy(sa + b * (S + A) + S, act + b * A, A * sizeof(float));
    }
    /* the learner's sequence: xi, the perturbed actions, Q_1, dQ_1 through the critic, back */
    const float *u = orl_fit_forward(&perturb, sa, B);
    orl_bcq_perturb(moved, act, u, lo, hi, B, A, phi);
    const float *q1 = orl_critic_forward_members(critic, x, moved, B, 1);
    double loss = 0.0;
    for (int b = 0; b < B; b++) loss -= (double)q1[b] / B, dq[b] = -1.0f / B;
    memset(dmoved, 0, sizeof dmoved);
    orl_critic_action_grad(critic, dq, dmoved);
    memset(du, 0, sizeof du);
    orl_bcq_perturb_backward(du, dmoved, act, u, lo, hi, B, A, phi);
    orl_fit_backward(&perturb, du, NULL);
    /* the critics' gradients stay zero */
    for (int k = 0; k < 2; k++) {
        orl_fit *f = orl_critic_member(critic, k);
        for (int64_t i = 0; i < f->net.n_params; i++) cr_assert_eq(f->grads[i], 0.0f);
    }
    const orl_mlp *m = &perturb.net, *qn = &orl_critic_member(critic, 0)->net;
    double *px = malloc((size_t)m->n_params * sizeof(double));
    double *pq = malloc((size_t)qn->n_params * sizeof(double));
    for (int64_t i = 0; i < m->n_params; i++) px[i] = m->params[i];
    for (int64_t i = 0; i < qn->n_params; i++) pq[i] = qn->params[i];
    double want = ref_actor_loss(m, px, qn, pq, x, act, phi);
    cr_assert(fabs(loss - want) <= 1e-5 * (1.0 + fabs(want)), "loss %.8g want %.8g", loss, want);
    int clipped = 0;
    for (int i = 0; i < B * A; i++) clipped += moved[i] == 1.0f || moved[i] == -1.0f;
    cr_assert(clipped > 0 && clipped < B * A, "%d of %d actions clipped", clipped, B * A);
    double h = 1e-6, worst = 0.0;
    for (int64_t i = 0; i < m->n_params; i++) {
        double keep = px[i];
        px[i] = keep + h;
        double up = ref_actor_loss(m, px, qn, pq, x, act, phi);
        px[i] = keep - h;
        double down = ref_actor_loss(m, px, qn, pq, x, act, phi);
        px[i] = keep;
        double fd = (up - down) / (2.0 * h), g = (double)perturb.grads[i];
        double err = fabs(fd - g) / (1e-4 + fabs(fd) + fabs(g));
        if (err > worst) worst = err;
    }
    cr_assert(worst < 1e-3, "worst relative error %g (seed %llu)", worst, (unsigned long long)seed);
    free(px);
    free(pq);
    orl_fit_free(&perturb);
    orl_critic_free(critic);
}

/* ---- discrete BCQ's loss ---- */

Test(bcq, discrete_loss_matches_finite_differences) {
    enum { B = 6, N = 4 };
    uint64_t seed = 402;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    float q[B * N], logits[B * N], y[B], dq[B * N], dl[B * N];
    int32_t act[B];
    for (int i = 0; i < B * N; i++) {
        q[i] = (float)orl_rng_normal(&rng);
        logits[i] = (float)(2.0 * orl_rng_normal(&rng));
    }
    /* residuals on both sides of the Huber kink (|u| = 1), away from it */
    const float res[B] = {0.3f, -0.6f, 2.5f, -3.0f, 0.05f, 1.7f};
    for (int b = 0; b < B; b++) {
        act[b] = (int32_t)orl_rng_below(&rng, N);
        y[b] = q[b * N + act[b]] - res[b];
    }
    double reg = 0.5; /* large, so its gradient is visible */
    memset(dq, 0, sizeof dq);
    memset(dl, 0, sizeof dl);
    double ql, il;
    double loss = orl_bcq_discrete_loss(dq, dl, q, logits, act, y, B, N, reg, &ql, &il);
    /* the parts in closed form */
    double want_q = 0.0, want_i = 0.0, want_sq = 0.0;
    for (int b = 0; b < B; b++) {
        double u = fabs((double)res[b]);
        want_q += (u <= 1.0 ? 0.5 * u * u : u - 0.5) / B;
        double z = 0.0;
        for (int k = 0; k < N; k++) z += exp((double)logits[b * N + k]);
        want_i += (log(z) - (double)logits[b * N + act[b]]) / B;
        for (int k = 0; k < N; k++) want_sq += (double)logits[b * N + k] * logits[b * N + k];
    }
    want_sq /= B * N;
    cr_assert(fabs(ql - want_q) < 1e-5 && fabs(il - want_i) < 1e-5, "q %g/%g i %g/%g", ql, want_q,
              il, want_i);
    cr_assert(fabs(loss - (want_q + want_i + reg * want_sq)) < 1e-5);
    /* central differences over every input, with the steps the floats actually took */
    double worst = 0.0;
    for (int which = 0; which < 2; which++) {
        float *v = which ? logits : q;
        const float *g = which ? dl : dq;
        for (int i = 0; i < B * N; i++) {
            float keep = v[i];
            float up_x = keep + 1e-2f, down_x = keep - 1e-2f;
            v[i] = up_x;
            double up = orl_bcq_discrete_loss(NULL, NULL, q, logits, act, y, B, N, reg, NULL, NULL);
            v[i] = down_x;
            double down =
                orl_bcq_discrete_loss(NULL, NULL, q, logits, act, y, B, N, reg, NULL, NULL);
            v[i] = keep;
            double fd = (up - down) / ((double)up_x - (double)down_x);
            double err = fabs(fd - (double)g[i]) / (1e-3 + fabs(fd) + fabs((double)g[i]));
            if (err > worst) worst = err;
        }
    }
    cr_assert(worst < 2e-3, "worst relative error %g (seed %llu)", worst, (unsigned long long)seed);
}

Test(bcq, discrete_choice_keeps_to_the_threshold) {
    /* logits log(0.6), log(0.25), log(0.15): ratios 1, 0.417, 0.25 to the most likely */
    float logits[3] = {logf(0.6f), logf(0.25f), logf(0.15f)};
    float q[3] = {0.0f, 1.0f, 5.0f};
    uint8_t allowed[3];
    cr_assert_eq(orl_bcq_discrete_choose(q, logits, 3, 0.3, allowed), 1);
    cr_assert(allowed[0] && allowed[1] && !allowed[2]);
    cr_assert_eq(orl_bcq_discrete_choose(q, logits, 3, 0.2, NULL), 2);
    cr_assert_eq(orl_bcq_discrete_choose(q, logits, 3, 0.5, NULL), 0);
    /* threshold 0: every action is allowed (plain argmax Q) */
    cr_assert_eq(orl_bcq_discrete_choose(q, logits, 3, 0.0, NULL), 2);
}

/* ---- the batch constraint ---- */

/* one state (obs 0), A = 1 in [-1, 1], the data's actions uniform on [-1, -0.5], reward = the
 * action, every step terminal: the best action is 1, far outside the data */
static orl_dataset *make_one_state(int64_t N, uint64_t seed) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 1, 1, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    h.act_low[0] = -1.0f;
    h.act_high[0] = 1.0f;
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, N, N, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    for (int64_t i = 0; i < N; i++) {
        ds->obs[i] = ds->next_obs[i] = 0.0f;
        ds->act[i] = (float)(-1.0 + 0.5 * orl_rng_uniform(&rng));
        ds->rew[i] = ds->act[i];
        ds->terminal[i] = 1;
        ds->timeout[i] = 0;
        ds->logp_b[i] = NAN;
    }
    ds->n_steps = N;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

Test(bcq, continuous_policy_stays_in_the_data_support_where_td3_does_not) {
    openblas_set_num_threads(1);
    uint64_t seed = 411;
    orl_dataset *ds = make_one_state(256, seed);
    orl_train_options opt;
    small_options(&opt, 600, 0);
    opt.seed = seed;
    opt.val_fraction = 0.0;
    orl_policy *bcq = train_run(ds, opt, NULL, 0);
    /* the unconstrained actor-critic: TD3+BC with its BC term outweighed a million times */
    orl_train_options td3;
    small_options(&td3, 600, 0);
    const char *td3_sets[] = {"hidden=16", "alpha=1e6"};
    td3.algo = "td3bc";
    td3.sets = td3_sets;
    td3.n_sets = 2;
    td3.seed = seed;
    td3.val_fraction = 0.0;
    orl_policy *free_ac = train_run(ds, td3, NULL, 0);

    /* support [-1, -0.5]; phi 0.05 of the half-range 1, i.e. within phi * range = 0.1 */
    double support_hi = -0.5, slack = 0.05 * 2.0;
    enum { R = 64 };
    float obs[R], act[R];
    memset(obs, 0, sizeof obs);
    orl_policy_work *w;
    cr_assert_eq(orl_policy_work_create(bcq, R, &w), ORL_OK);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 2);
    cr_assert_eq(orl_policy_act(bcq, w, obs, R, ORL_POLICY_MODE_MEAN, NULL, act, NULL), ORL_OK);
    double worst = -INFINITY;
    for (int i = 0; i < R; i++) worst = fmax(worst, act[i]);
    cr_assert_eq(orl_policy_act(bcq, w, obs, R, ORL_POLICY_MODE_SAMPLE, &rng, act, NULL), ORL_OK);
    for (int i = 0; i < R; i++) worst = fmax(worst, act[i]);
    cr_assert(worst <= support_hi + slack, "BCQ acted at %g, beyond %g + %g (seed %llu)", worst,
              support_hi, slack, (unsigned long long)seed);
    cr_assert(worst >= -1.0 - 1e-6);
    orl_policy_work_free(w);

    cr_assert_eq(orl_policy_work_create(free_ac, 1, &w), ORL_OK);
    cr_assert_eq(orl_policy_act(free_ac, w, obs, 1, ORL_POLICY_MODE_MEAN, NULL, act, NULL), ORL_OK);
    cr_assert(act[0] > support_hi + 2.0 * slack,
              "the unconstrained actor stayed at %g, inside the support (seed %llu)", act[0],
              (unsigned long long)seed);
    orl_policy_work_free(w);
    orl_policy_free(bcq);
    orl_policy_free(free_ac);
    orl_dataset_free(ds);
}

Test(bcq, discrete_policy_never_takes_an_action_below_the_threshold) {
    openblas_set_num_threads(1);
    uint64_t seed = 412;
    /* action 1 is rare (ratio 0.11 < 0.3) but rewarding; action 2 is never taken */
    orl_dataset *ds = make_discrete(40, 16, seed);
    orl_train_options opt;
    small_options(&opt, 400, 1);
    opt.seed = seed;
    orl_policy *p = train_run(ds, opt, NULL, 0);
    orl_mlp *q, *im;
    orl_normalizer *nm;
    cr_assert(orl_policy_bcq_discrete_views(p, &q, &im, &nm));
    cr_assert_eq(p->deterministic, 0);
    enum { R = 128, S = 2, N = 3 };
    float obs[R * S], x[S];
    int32_t act[R];
    orl_rng rng;
    orl_rng_seed(&rng, seed, 2);
    for (int i = 0; i < R * S; i++) obs[i] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
    orl_policy_work *w;
    cr_assert_eq(orl_policy_work_create(p, R, &w), ORL_OK);
    cr_assert_eq(orl_policy_act(p, w, obs, R, ORL_POLICY_MODE_MEAN, NULL, NULL, act), ORL_OK);
    /* the imitation network's ratio of every chosen action, recomputed here */
    orl_mlp_work mw;
    cr_assert_eq(orl_mlp_work_init(&mw, &im->cfg, 1), ORL_OK);
    int rare = 0;
    for (int r = 0; r < R; r++) {
        float logits[N];
        orl_normalizer_apply(nm, obs + r * S, 1, x);
        orl_mlp_forward(im, &mw, x, 1, logits);
        double top = fmax(fmax(logits[0], logits[1]), logits[2]);
        double ratio = exp((double)logits[act[r]] - top);
        cr_assert(ratio > 0.3, "row %d: action %d has ratio %g (seed %llu)", r, act[r], ratio,
                  (unsigned long long)seed);
        cr_assert_neq(act[r], 2, "row %d took the never-seen action", r);
        rare += act[r] == 1;
    }
    cr_assert_eq(rare, 0, "%d rows took the rare action 1", rare);
    /* exact log-probabilities: 0 for the choice, -inf for the others (epsilon 0) */
    double logp[R];
    int32_t other[R];
    for (int r = 0; r < R; r++) other[r] = (act[r] + 1) % N;
    cr_assert_eq(orl_policy_logp(p, w, obs, R, NULL, act, logp), ORL_OK);
    for (int r = 0; r < R; r++) cr_assert_eq(logp[r], 0.0);
    cr_assert_eq(orl_policy_logp(p, w, obs, R, NULL, other, logp), ORL_OK);
    for (int r = 0; r < R; r++) cr_assert(isinf(logp[r]) && logp[r] < 0.0);
    orl_mlp_work_free(&mw);
    orl_policy_work_free(w);
    orl_policy_free(p);
    orl_dataset_free(ds);
}

/* ---- determinism, resume, files ---- */

Test(bcq, same_seed_same_bits) {
    openblas_set_num_threads(1);
    /* seeds 421 and 422, continuous and discrete */
    orl_dataset *ds = make_dataset(20, 10, 421), *dd = make_discrete(20, 10, 421);
    for (int discrete = 0; discrete < 2; discrete++) {
        orl_train_options opt;
        small_options(&opt, 80, discrete);
        opt.seed = 421;
        const orl_dataset *d = discrete ? dd : ds;
        orl_policy *a = train_run(d, opt, NULL, 0), *b = train_run(d, opt, NULL, 0);
        assert_same_bits(a, b);
        opt.seed = 422;
        orl_policy *c = train_run(d, opt, NULL, 0);
        enum { CAP = 1 << 16 };
        float *pa = malloc(CAP * sizeof(float)), *pc = malloc(CAP * sizeof(float));
        int64_t n = policy_params(a, pa, CAP);
        policy_params(c, pc, CAP);
        cr_assert(memcmp(pa, pc, (size_t)n * sizeof(float)) != 0, "seed 422 gave seed 421's bits");
        cr_assert_str_eq(a->algorithm, "bcq");
        cr_assert_eq(a->deterministic, discrete ? 0 : 1);
        free(pa);
        free(pc);
        orl_policy_free(a);
        orl_policy_free(b);
        orl_policy_free(c);
    }
    orl_dataset_free(ds);
    orl_dataset_free(dd);
}

Test(bcq, resume_after_interrupt_gives_identical_bits) {
    openblas_set_num_threads(1);
    /* seed 431; interrupted at step 91 (between the checkpoints at 70 and 140), resumed */
    orl_dataset *ds = make_dataset(30, 10, 431), *dd = make_discrete(30, 10, 431);
    for (int discrete = 0; discrete < 2; discrete++) {
        orl_train_options opt;
        small_options(&opt, 160, discrete);
        opt.seed = 431;
        const orl_dataset *d = discrete ? dd : ds;
        orl_train_result ra;
        orl_policy *a = NULL;
        cr_assert_eq(orl_train(d, &opt, &a, &ra), ORL_OK, "%s", orl_error_message());
        cr_assert(ra.val_episodes > 0);
        const char *val = discrete ? "td_error" : "vae_recon";
        cr_assert(isfinite(orl_train_metric(&ra.val, val)), "%s", val);
        orl_policy *b = train_run(d, opt, scratch(discrete ? "bcqd.ckpt" : "bcq.ckpt"), 91);
        assert_same_bits(a, b);
        orl_train_result_free(&ra);
        orl_policy_free(a);
        orl_policy_free(b);
    }
    orl_dataset_free(ds);
    orl_dataset_free(dd);
}

Test(bcq, save_load_gives_identical_actions) {
    openblas_set_num_threads(1);
    uint64_t seed = 441;
    orl_dataset *ds = make_dataset(10, 10, seed), *dd = make_discrete(10, 10, seed);
    for (int discrete = 0; discrete < 2; discrete++) {
        orl_train_options opt;
        small_options(&opt, 40, discrete);
        if (!discrete) opt.sets = panel_sets;
        opt.seed = seed;
        const orl_dataset *d = discrete ? dd : ds;
        orl_policy *a = train_run(d, opt, NULL, 0), *b = NULL;
        const char *path = scratch(discrete ? "bcqd.h5" : "bcq.h5");
        cr_assert_eq(orl_policy_save(a, path), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(orl_policy_open(path, &b), ORL_OK, "%s", orl_error_message());
        cr_assert_str_eq(b->ops->type, discrete ? "bcq_discrete" : "bcq");
        assert_same_bits(a, b);
        enum { R = 80 }; /* more than the policy's chunk of 64 states */
        int32_t S = d->h.obs_dim, A = d->h.act_dim;
        orl_policy_work *wa, *wb;
        cr_assert_eq(orl_policy_work_create(a, R, &wa), ORL_OK);
        cr_assert_eq(orl_policy_work_create(b, R, &wb), ORL_OK);
        float act_a[R * 2], act_b[R * 2];
        int32_t idx_a[R], idx_b[R];
        for (int mode = 0; mode < 2; mode++) {
            orl_rng ra, rb;
            orl_rng_seed(&ra, seed, 3);
            orl_rng_seed(&rb, seed, 3);
            orl_policy_mode m = mode ? ORL_POLICY_MODE_SAMPLE : ORL_POLICY_MODE_MEAN;
            cr_assert_eq(orl_policy_act(a, wa, d->obs, R, m, &ra, discrete ? NULL : act_a,
                                        discrete ? idx_a : NULL),
                         ORL_OK);
            cr_assert_eq(orl_policy_act(b, wb, d->obs, R, m, &rb, discrete ? NULL : act_b,
                                        discrete ? idx_b : NULL),
                         ORL_OK);
            if (discrete)
                cr_assert(memcmp(idx_a, idx_b, sizeof idx_a) == 0);
            else
                cr_assert(memcmp(act_a, act_b, (size_t)R * (size_t)A * sizeof(float)) == 0);
        }
        /* MEAN is a function of the observation: the same again, one row at a time */
        if (!discrete) {
            orl_policy_act(a, wa, d->obs, R, ORL_POLICY_MODE_MEAN, NULL, act_a, NULL);
            for (int r = 0; r < R; r++) {
                cr_assert_eq(orl_policy_act(b, wb, d->obs + r * S, 1, ORL_POLICY_MODE_MEAN, NULL,
                                            act_b + r * A, NULL),
                             ORL_OK);
            }
            cr_assert(memcmp(act_a, act_b, (size_t)R * (size_t)A * sizeof(float)) == 0);
            /* no density */
            double logp[R];
            cr_assert_eq(orl_policy_logp(b, wb, d->obs, R, act_a, NULL, logp), ORL_ERR_UNSUPPORTED);
        }
        orl_policy_work_free(wa);
        orl_policy_work_free(wb);
        orl_policy_free(a);
        orl_policy_free(b);
    }
    orl_dataset_free(ds);
    orl_dataset_free(dd);
}

Test(bcq, bad_settings_are_refused) {
    orl_dataset *ds = make_dataset(4, 5, 451);
    const char *bad[] = {"lambda=1.5", "phi=-1", "n_target=0", "tau=2", "vae_hidden=0"};
    for (int i = 0; i < 5; i++) {
        orl_train_options opt;
        small_options(&opt, 10, 0);
        opt.sets = &bad[i];
        opt.n_sets = 1;
        orl_policy *p = NULL;
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT, "%s", bad[i]);
        cr_assert_null(p);
    }
    orl_dataset_free(ds);
}

/* ---- off-policy evaluation of a policy without a density ---- */

Test(bcq, ope_says_the_policy_has_no_density_and_fqe_dr_still_run) {
    openblas_set_num_threads(1);
    uint64_t seed = 471;
    orl_dataset *ds = make_dataset(12, 10, seed);
    /* a logged behaviour density (any finite value will do for the check) */
    ds->h.has_logp = 1;
    for (int64_t i = 0; i < ds->n_steps; i++) ds->logp_b[i] = -1.0f;
    orl_train_options opt;
    small_options(&opt, 40, 0);
    opt.seed = seed;
    opt.val_fraction = 0.0;
    orl_policy *p = train_run(ds, opt, NULL, 0);
    orl_ope_run_options ro;
    orl_ope_run_options_init(&ro);
    cr_assert_eq(orl_ope_run_estimators_parse("wis,fqe,dr", 0, &ro), ORL_OK, "%s",
                 orl_error_message());
    ro.bootstrap = 0;
    ro.fqe_steps = 50;
    orl_report *rep = malloc(sizeof *rep);
    const orl_policy *pols[1] = {p};
    const char *names[1] = {"bcq.h5"};
    cr_assert_eq(orl_ope_run(ds, "synthetic", pols, names, 1, &ro, NULL, rep), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_eq(rep->policies[0].n_rows, 3);
    for (int i = 0; i < 3; i++) cr_assert(isfinite(rep->policies[0].rows[i].estimate), "row %d", i);
    cr_assert(strstr(rep->policies[0].rows[0].warnings, "no density"), "wis warnings: %s",
              rep->policies[0].rows[0].warnings);
    cr_assert(strstr(rep->policies[0].rows[2].warnings, "no density"), "dr warnings: %s",
              rep->policies[0].rows[2].warnings);
    cr_assert_null(strstr(rep->policies[0].rows[1].warnings, "no density"), "fqe warnings: %s",
                   rep->policies[0].rows[1].warnings);
    free(rep);
    orl_policy_free(p);
    orl_dataset_free(ds);
}

/* ---- hostile policy files ---- */

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

/* replaces key by n values x of HDF5 type t */
static void h5_replace(const char *path, const char *key, hid_t t, const void *x, hsize_t n) {
    hid_t f = h5_open_rw(path);
    if (H5Lexists(f, key, H5P_DEFAULT) > 0) H5Ldelete(f, key, H5P_DEFAULT);
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, key, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(d >= 0);
    cr_assert(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
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

static orl_mlp_config mlp3(int32_t in, int32_t h, int32_t out) {
    orl_mlp_config m = {
        .n_layers = 3, .widths = {in, h, h, out}, .activation = ORL_ACTIVATION_RELU};
    return m;
}

/* a BCQ policy of each type built from random parameters (seed 481), saved under name */
static const char *good_file(const char *name, int discrete) {
    enum { S = 3, A = 2, Z = 4, N = 5, NA = 3, H = 8 };
    orl_rng rng;
    orl_rng_seed(&rng, 481, 1);
    float lo[A] = {-1.0f, -2.0f}, hi[A] = {1.0f, 2.0f};
    static float params[3][4096], latents[N * Z];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4096; i++) params[k][i] = (float)(0.3 * orl_rng_normal(&rng));
    for (int i = 0; i < N * Z; i++) latents[i] = (float)(orl_rng_uniform(&rng) - 0.5);
    orl_policy *p = NULL;
    if (discrete) {
        orl_policy_bcq_discrete_spec spec = {.info = {.algorithm = "bcq",
                                                      .obs_dim = S,
                                                      .act_dim = 1,
                                                      .action_kind = ORL_ACTION_KIND_DISCRETE,
                                                      .n_actions = NA},
                                             .q = mlp3(S, H, NA),
                                             .imitation = mlp3(S, H, NA),
                                             .threshold = 0.3f,
                                             .epsilon = 0.1f};
        cr_assert_eq(orl_policy_bcq_discrete_create(&spec, NULL, params[0], params[1], &p), ORL_OK,
                     "%s", orl_error_message());
    } else {
        orl_policy_bcq_spec spec = {.info = {.algorithm = "bcq",
                                             .obs_dim = S,
                                             .act_dim = A,
                                             .action_kind = ORL_ACTION_KIND_CONTINUOUS,
                                             .act_low = lo,
                                             .act_high = hi},
                                    .decoder = mlp3(S + Z, H, A),
                                    .perturb = mlp3(S + A, H, A),
                                    .critic = mlp3(S + A, H, 1),
                                    .latent_dim = Z,
                                    .n_candidates = N,
                                    .phi = 0.05f};
        cr_assert_eq(
            orl_policy_bcq_create(&spec, NULL, params[0], params[1], params[2], latents, &p),
            ORL_OK, "%s", orl_error_message());
    }
    const char *path = scratch(name);
    cr_assert_eq(orl_policy_save(p, path), ORL_OK, "%s", orl_error_message());
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

Test(bcq_policy, hostile_files_fail_naming_file_and_key) {
    /* the good files load */
    orl_policy *p = NULL;
    for (int discrete = 0; discrete < 2; discrete++) {
        cr_assert_eq(orl_policy_open(good_file("good.h5", discrete), &p), ORL_OK, "%s",
                     orl_error_message());
        orl_policy_free(p);
    }
    const char *path = good_file("latent.h5", 0);
    float far[20];
    for (int i = 0; i < 20; i++) far[i] = i == 7 ? 0.9f : 0.0f;
    h5_replace(path, "bcq_latents", H5T_NATIVE_FLOAT, far, 20);
    expect_error(path, ORL_ERR_FORMAT, "bcq_latents");

    path = good_file("latent-dim.h5", 0);
    int32_t z = 3; /* 20 latent values are not n x 3 */
    h5_replace(path, "bcq_latent_dim", H5T_NATIVE_INT32, &z, 1);
    expect_error(path, ORL_ERR_FORMAT, "bcq_latent");

    path = good_file("width.h5", 0);
    int32_t widths[4] = {3 + 4, 8, 8, 5}; /* the decoder must end in A = 2 */
    h5_replace(path, "bcq_decoder_widths", H5T_NATIVE_INT32, widths, 4);
    expect_error(path, ORL_ERR_FORMAT, "bcq_decoder_widths");

    path = good_file("phi.h5", 0);
    float phi = -1.0f;
    h5_replace(path, "bcq_phi", H5T_NATIVE_FLOAT, &phi, 1);
    expect_error(path, ORL_ERR_FORMAT, "phi");

    path = good_file("act.h5", 0);
    h5_replace_text(path, "bcq_activation", "tanh");
    expect_error(path, ORL_ERR_FORMAT, "bcq_activation");

    const char *keys[] = {"bcq_decoder_params",
                          "bcq_perturb_widths",
                          "bcq_critic_params",
                          "bcq_latents",
                          "bcq_phi",
                          "obs_std"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        path = good_file("missing.h5", 0);
        h5_delete(path, keys[k]);
        expect_error(path, ORL_ERR_FORMAT, keys[k]);
    }

    path = good_file("threshold.h5", 1);
    float bad = 1.5f;
    h5_replace(path, "bcq_threshold", H5T_NATIVE_FLOAT, &bad, 1);
    expect_error(path, ORL_ERR_FORMAT, "threshold");
    path = good_file("epsilon.h5", 1);
    bad = NAN;
    h5_replace(path, "bcq_epsilon", H5T_NATIVE_FLOAT, &bad, 1);
    expect_error(path, ORL_ERR_FORMAT, "bcq_epsilon");
    const char *dkeys[] = {"bcq_q_params", "bcq_imitation_widths", "bcq_threshold"};
    for (size_t k = 0; k < sizeof dkeys / sizeof dkeys[0]; k++) {
        path = good_file("missing-d.h5", 1);
        h5_delete(path, dkeys[k]);
        expect_error(path, ORL_ERR_FORMAT, dkeys[k]);
    }
}

Test(bcq_policy, truncated_files_fail_cleanly) {
    for (int discrete = 0; discrete < 2; discrete++) {
        const char *path = good_file("full.h5", discrete);
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
}

Test(bcq_policy, epsilon_log_probabilities_are_exact) {
    /* epsilon 0.1 over 3 actions: 1 - 0.1 + 0.1 / 3 for the choice, 0.1 / 3 for the others; a
     * sampled action is the choice about 1 - 0.1 + 0.1 / 3 of the time (seed 482) */
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_open(good_file("eps.h5", 1), &p), ORL_OK);
    enum { T = 20000 };
    float obs[3] = {0.2f, -0.4f, 0.9f};
    orl_policy_work *w;
    cr_assert_eq(orl_policy_work_create(p, 1, &w), ORL_OK);
    int32_t best, a;
    cr_assert_eq(orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_MEAN, NULL, NULL, &best), ORL_OK);
    double sum = 0.0;
    for (int32_t k = 0; k < 3; k++) {
        double lp;
        cr_assert_eq(orl_policy_logp(p, w, obs, 1, NULL, &k, &lp), ORL_OK);
        double want = k == best ? 1.0 - 0.1 + 0.1 / 3.0 : 0.1 / 3.0;
        cr_assert(fabs(exp(lp) - want) < 1e-6, "action %d: %g, want %g", k, exp(lp), want);
        sum += exp(lp);
    }
    cr_assert(fabs(sum - 1.0) < 1e-9);
    orl_rng rng;
    orl_rng_seed(&rng, 482, 1);
    int hits = 0;
    for (int t = 0; t < T; t++) {
        cr_assert_eq(orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_SAMPLE, &rng, NULL, &a), ORL_OK);
        hits += a == best;
    }
    double freq = (double)hits / T, want = 1.0 - 0.1 + 0.1 / 3.0;
    /* 5 standard errors */
    cr_assert(fabs(freq - want) < 5.0 * sqrt(want * (1.0 - want) / T), "frequency %g, want %g",
              freq, want);
    orl_policy_work_free(w);
    orl_policy_free(p);
}

/* ---- no allocation in a step ---- */

#include "tests/alloc_count.h"

Test(bcq_alloc, none_in_step_or_validate) {
#ifdef ORL_TEST_COUNT_ALLOCATIONS
    openblas_set_num_threads(1);
    enum { B = 16 };
    orl_dataset *ds = make_dataset(4, 16, 461), *dd = make_discrete(4, 16, 461);
    const orl_learner_ops *ops = orl_learner_find("bcq");
    cr_assert_not_null(ops);
    for (int discrete = 0; discrete < 2; discrete++) {
        const orl_dataset *d = discrete ? dd : ds;
        orl_hparams hp;
        cr_assert_eq(orl_hparams_resolve(ops, discrete ? small_discrete_sets : small_sets,
                                         discrete ? 1 : 5, &hp),
                     ORL_OK);
        orl_learner_context ctx = {d, d, &hp, "{}", B};
        orl_rng rng;
        orl_rng_seed(&rng, 461, 1);
        void *state = NULL;
        cr_assert_eq(ops->create(&ctx, &rng, &state), ORL_OK, "%s", orl_error_message());
        int64_t rows[B];
        for (int i = 0; i < B; i++) rows[i] = i;
        orl_batch b = {.size = B,
                       .rows = rows,
                       .obs = d->obs,
                       .next_obs = d->next_obs,
                       .act = d->act,
                       .act_idx = d->act_idx,
                       .rew = d->rew,
                       .terminal = d->terminal,
                       .timeout = d->timeout,
                       .from = d};
        double metrics[8];
        for (int round = 0; round < 2; round++) {
            if (round == 1) alloc_count_begin();
            for (int64_t step = 0; step < 4; step++)
                cr_assert_eq(ops->step(state, &b, step, &rng, metrics), ORL_OK);
            cr_assert_eq(ops->validate(state, &b, metrics), ORL_OK);
            cr_assert_not_null(ops->policy(state));
            alloc_count_end();
        }
        cr_assert_eq(alloc_count, 0, "%ld allocations in bcq steps (discrete %d)", alloc_count,
                     discrete);
        ops->free(state);
    }
    orl_dataset_free(ds);
    orl_dataset_free(dd);
#else
    cr_skip_test("allocation counting is unavailable under the sanitizers");
#endif
}
