/* algorithms/cql.c and CQL's penalties (nn/heads.c). The discrete logsumexp penalty and the
 * continuous importance-sampled one against finite differences of double references; the
 * lower-bound property on a small tabular MDP (one-hot observations, noisy rewards, data from a
 * fixed behaviour policy): CQL's values of its own greedy policy lie below that policy's true
 * values (dynamic programming on the true MDP), while the same learner with alpha = 0 (Double
 * DQN) over-estimates them; same seed -> same bits, checkpoint + resume -> the bits of an
 * uninterrupted run, a non-finite loss named with its step, and no allocation inside a
 * training step, for both forms. Scratch files go under ORL_BINARY_DIR/tmp-cql/. Every seed is
 * named in its test. */
#define _GNU_SOURCE /* dladdr, to tell the BLAS's own allocations from ours */
#include "orl/orl.h"
#include "tests/alloc_count.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-cql"

#include "tests/lsan_hdf5.h"

#include "tests/scratch.h"

/* ---- the penalties against finite differences ---- */

#define PB 5 /* states */
#define PN 4 /* discrete actions */
#define PM 6 /* sampled actions per state */

/* double reference of the discrete penalty */
static double ref_discrete(const double *q, const int32_t *act) {
    double sum = 0.0;
    for (int b = 0; b < PB; b++) {
        double top = -INFINITY, z = 0.0;
        for (int a = 0; a < PN; a++) top = fmax(top, q[b * PN + a]);
        for (int a = 0; a < PN; a++) z += exp(q[b * PN + a] - top);
        sum += top + log(z) - q[b * PN + act[b]];
    }
    return sum / PB;
}

Test(cql, discrete_penalty_gradient_matches_finite_differences) {
    /* seed 31 */
    orl_rng rng;
    orl_rng_seed(&rng, 31, 0);
    double q[PB * PN];
    float qf[PB * PN], dq[PB * PN];
    int32_t act[PB];
    for (int i = 0; i < PB * PN; i++) {
        qf[i] = (float)(6.0 * orl_rng_uniform(&rng) - 3.0);
        q[i] = (double)qf[i];
        dq[i] = 0.25f;
    }
    for (int b = 0; b < PB; b++) act[b] = (int32_t)orl_rng_below(&rng, PN);
    const float scale = 1.7f;
    double got = orl_cql_discrete_penalty(dq, qf, act, PB, PN, scale);
    cr_assert(fabs(got - ref_discrete(q, act)) < 1e-9, "%.12g vs %.12g", got, ref_discrete(q, act));
    for (int i = 0; i < PB * PN; i++) {
        double h = 1e-6, keep = q[i];
        q[i] = keep + h;
        double lp = ref_discrete(q, act);
        q[i] = keep - h;
        double lm = ref_discrete(q, act);
        q[i] = keep;
        double fd = (double)scale * (lp - lm) / (2.0 * h);
        double g = (double)dq[i] - 0.25; /* accumulated into 0.25 */
        cr_assert(fabs(fd - g) <= 1e-6 * (1.0 + fabs(fd)), "dq[%d]: %.9g, finite difference %.9g",
                  i, g, fd);
    }
    /* without a gradient buffer: the same value */
    cr_assert_eq(orl_cql_discrete_penalty(NULL, qf, act, PB, PN, scale), got);
}

/* double reference of the importance-sampled penalty */
static double ref_sampled(const double *q_ood, const double *logd, const double *q_data, double t) {
    double sum = 0.0;
    for (int b = 0; b < PB; b++) {
        double top = -INFINITY, z = 0.0;
        for (int j = 0; j < PM; j++) top = fmax(top, (q_ood[b * PM + j] - logd[b * PM + j]) / t);
        for (int j = 0; j < PM; j++) z += exp((q_ood[b * PM + j] - logd[b * PM + j]) / t - top);
        sum += t * (top + log(z)) - q_data[b];
    }
    return sum / PB;
}

Test(cql, sampled_penalty_gradient_matches_finite_differences) {
    /* seed 32; temperatures 1 (CORL) and 0.5 */
    orl_rng rng;
    orl_rng_seed(&rng, 32, 0);
    double q[PB * PM], ld[PB * PM], qd[PB];
    float qf[PB * PM], ldf[PB * PM], qdf[PB], dqo[PB * PM], dqd[PB];
    for (int i = 0; i < PB * PM; i++) {
        qf[i] = (float)(10.0 * orl_rng_uniform(&rng) - 5.0);
        ldf[i] = (float)(4.0 * orl_rng_uniform(&rng) - 3.0);
        q[i] = qf[i], ld[i] = ldf[i];
    }
    for (int b = 0; b < PB; b++)
        qdf[b] = (float)(orl_rng_uniform(&rng) * 4.0 - 2.0), qd[b] = qdf[b];
    const float temps[] = {1.0f, 0.5f};
    for (int ti = 0; ti < 2; ti++) {
        double t = (double)temps[ti];
        const float scale = 10.0f;
        for (int i = 0; i < PB * PM; i++) dqo[i] = 0.0f;
        for (int b = 0; b < PB; b++) dqd[b] = 0.0f;
        double got = orl_cql_sampled_penalty(dqo, dqd, qf, ldf, qdf, PB, PM, temps[ti], scale);
        double want = ref_sampled(q, ld, qd, t);
        cr_assert(fabs(got - want) < 1e-9 * (1.0 + fabs(want)), "T %g: %.12g vs %.12g", t, got,
                  want);
        for (int i = 0; i < PB * PM; i++) {
            double h = 1e-6, keep = q[i];
            q[i] = keep + h;
            double lp = ref_sampled(q, ld, qd, t);
            q[i] = keep - h;
            double lm = ref_sampled(q, ld, qd, t);
            q[i] = keep;
            double fd = (double)scale * (lp - lm) / (2.0 * h);
            cr_assert(fabs(fd - (double)dqo[i]) <= 1e-5 * (1.0 + fabs(fd)),
                      "T %g dq_ood[%d]: %.9g, finite difference %.9g", t, i, (double)dqo[i], fd);
        }
        for (int b = 0; b < PB; b++) {
            double h = 1e-6, keep = qd[b];
            qd[b] = keep + h;
            double lp = ref_sampled(q, ld, qd, t);
            qd[b] = keep - h;
            double lm = ref_sampled(q, ld, qd, t);
            qd[b] = keep;
            double fd = (double)scale * (lp - lm) / (2.0 * h);
            cr_assert(fabs(fd - (double)dqd[b]) <= 1e-5 * (1.0 + fabs(fd)),
                      "T %g dq_data[%d]: %.9g, finite difference %.9g", t, b, (double)dqd[b], fd);
        }
    }
}

/* ---- datasets ---- */

/* a one-step tabular problem (a contextual bandit): contexts 0, 1, 2 (one-hot), T_ACTIONS
 * actions, every episode one terminal step in context e mod 3; reward m(s, a) + N(0, 0.3^2) with
 * m = 0 for every action (the Huber loss stays in its quadratic range). The behaviour policy
 * takes action 0 with probability 0.7, each other one with 0.1. next_obs is context 0 (never
 * bootstrapped: every step is terminal). */
#define T_STATES  3
#define T_ACTIONS 4

static double true_mean(int32_t s, int32_t a) {
    (void)s;
    (void)a;
    return 0.0;
}

static orl_dataset *tabular_dataset(int64_t episodes, uint64_t seed) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, T_STATES, 1, ORL_ACTION_KIND_DISCRETE, T_ACTIONS), ORL_OK);
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, episodes, episodes, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 3);
    for (int64_t i = 0; i < episodes; i++) {
        int32_t s = (int32_t)(i % T_STATES);
        for (int32_t j = 0; j < T_STATES; j++) {
            ds->obs[i * T_STATES + j] = j == s ? 1.0f : 0.0f;
            ds->next_obs[i * T_STATES + j] = j == 0 ? 1.0f : 0.0f;
        }
        double u = orl_rng_uniform(&rng);
        int32_t a = u < 0.7 ? 0 : 1 + (int32_t)((u - 0.7) / 0.1);
        if (a >= T_ACTIONS) a = T_ACTIONS - 1;
        ds->act_idx[i] = a;
        ds->rew[i] = (float)(true_mean(s, a) + 0.3 * orl_rng_normal(&rng));
        ds->terminal[i] = 1;
        ds->timeout[i] = 0;
        ds->logp_b[i] = (float)log(a == 0 ? 0.7 : 0.1);
    }
    ds->n_steps = episodes;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

/* a small continuous dataset: obs (3) uniform, actions (2) uniform in [-1, 1], reward
 * -|a - W s|^2, episodes of 10 steps */
static orl_dataset *continuous_dataset(int64_t episodes, uint64_t seed) {
    const int32_t S = 3, A = 2, T = 10;
    orl_header h;
    cr_assert_eq(orl_header_init(&h, S, A, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    for (int32_t j = 0; j < A; j++) h.act_low[j] = -1.0f, h.act_high[j] = 1.0f;
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, episodes * T, episodes, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 4);
    for (int64_t e = 0; e < episodes; e++)
        for (int32_t t = 0; t < T; t++) {
            int64_t i = e * T + t;
            for (int32_t j = 0; j < S; j++) {
                ds->obs[i * S + j] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
                ds->next_obs[i * S + j] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
            }
            double r = 0.0;
            for (int32_t j = 0; j < A; j++) {
                ds->act[i * A + j] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
                double d = ds->act[i * A + j] - 0.5 * ds->obs[i * S + j];
                r -= d * d;
            }
            ds->rew[i] = (float)r;
            ds->terminal[i] = t == T - 1;
            ds->timeout[i] = 0;
            ds->logp_b[i] = NAN;
        }
    ds->n_steps = episodes * T;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

/* ---- the lower-bound property ---- */

/* the learned values V(s) = sum_a pi(a|s) Q(s, a) of the policy pi(.|s) = softmax(Q(s, .))
 * (CQL(H)'s policy in Kumar et al. 2020, theorem 3.2; greedy: the argmax) and that policy's
 * true values by dynamic programming on the true MDP, per state */
static void values_of(orl_policy *p, int greedy, double *learned, double *truth, double gamma) {
    cr_assert_str_eq(p->ops->type, "argmax_q");
    orl_mlp *net = orl_policy_argmax_q_network(p);
    orl_normalizer *nm = orl_policy_argmax_q_normalizer(p);
    float obs[T_STATES * T_STATES] = {0}, x[T_STATES * T_STATES], q[T_STATES * T_ACTIONS];
    for (int32_t s = 0; s < T_STATES; s++) obs[s * T_STATES + s] = 1.0f;
    orl_normalizer_apply(nm, obs, T_STATES, x);
    orl_mlp_work w;
    cr_assert_eq(orl_mlp_work_init(&w, &net->cfg, T_STATES), ORL_OK);
    orl_mlp_forward(net, &w, x, T_STATES, q);
    orl_mlp_work_free(&w);
    double reward[T_STATES];
    for (int32_t s = 0; s < T_STATES; s++) {
        const float *row = q + s * T_ACTIONS;
        double pr[T_ACTIONS], top = -INFINITY, z = 0.0;
        int32_t best = 0;
        for (int32_t a = 0; a < T_ACTIONS; a++) {
            top = fmax(top, (double)row[a]);
            if (row[a] > row[best]) best = a;
        }
        for (int32_t a = 0; a < T_ACTIONS; a++) z += pr[a] = exp((double)row[a] - top);
        learned[s] = reward[s] = 0.0;
        for (int32_t a = 0; a < T_ACTIONS; a++) {
            pr[a] = greedy ? (a == best ? 1.0 : 0.0) : pr[a] / z;
            learned[s] += pr[a] * (double)row[a];
            reward[s] += pr[a] * true_mean(s, a);
        }
    }
    (void)gamma; /* one-step episodes: the true value is the expected reward */
    for (int32_t s = 0; s < T_STATES; s++) truth[s] = reward[s];
}

static orl_policy *train_tabular(const orl_dataset *ds, const char *alpha, uint64_t seed) {
    const char *sets[] = {alpha, "hidden=64", "critic_lr=1e-3", "target_update=50"};
    orl_train_options opt;
    orl_train_options_init(&opt);
    opt.algo = "cql";
    opt.steps = 3000;
    opt.batch = 64;
    opt.seed = seed;
    opt.log_every = 0;
    opt.val_fraction = 0.0;
    opt.sets = sets;
    opt.n_sets = 4;
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_OK, "%s", orl_error_message());
    return p;
}

Test(cql, lower_bound_on_a_tabular_mdp, .timeout = 120) {
    /* data seed 41 (120 one-step episodes, 40 per context), training seed 42. CQL(H)'s policy is
     * softmax(Q) (Kumar et al. 2020, theorem 3.2): its learned value E_pi[Q(s, .)] lies below
     * its true value. Unregularised (alpha 0: Double DQN) Q-learning's greedy policy's learned
     * value max_a Q(s, a) lies above its true value (the maximum of noisy estimates). */
    orl_dataset *ds = tabular_dataset(120, 41);
    double cql_v[T_STATES], cql_true[T_STATES], dqn_v[T_STATES], dqn_true[T_STATES];
    double dqn_soft[T_STATES], dqn_soft_true[T_STATES];
    orl_policy *cql = train_tabular(ds, "cql_alpha=1", 42);
    orl_policy *dqn = train_tabular(ds, "cql_alpha=0", 42);
    values_of(cql, 0, cql_v, cql_true, 0.99);
    values_of(dqn, 1, dqn_v, dqn_true, 0.99);
    values_of(dqn, 0, dqn_soft, dqn_soft_true, 0.99);
    for (int32_t s = 0; s < T_STATES; s++) {
        cr_assert(cql_v[s] < cql_true[s],
                  "CQL context %d: learned value %.4f of its softmax policy, true value %.4f "
                  "(seeds 41, 42)",
                  s, cql_v[s], cql_true[s]);
        cr_assert(dqn_v[s] > dqn_true[s],
                  "alpha 0 context %d: learned value %.4f of its greedy policy, true value %.4f "
                  "(seeds 41, 42)",
                  s, dqn_v[s], dqn_true[s]);
        /* the penalty is what lowers the value: the same softmax value without it is higher */
        cr_assert(cql_v[s] < dqn_soft[s] - 0.1, "context %d: CQL %.4f, alpha 0 %.4f", s, cql_v[s],
                  dqn_soft[s]);
    }
    orl_policy_free(cql);
    orl_policy_free(dqn);
    orl_dataset_free(ds);
}

/* ---- determinism, resume, errors ---- */

static const float *params_of(orl_policy *p, int64_t *n) {
    orl_mlp *net = strcmp(p->ops->type, "argmax_q") == 0 ? orl_policy_argmax_q_network(p)
                                                         : orl_policy_mlp_network(p);
    cr_assert_not_null(net);
    *n = net->n_params;
    return net->params;
}

static int same_bits(orl_policy *a, orl_policy *b) {
    int64_t na, nb;
    const float *pa = params_of(a, &na), *pb = params_of(b, &nb);
    return na == nb && memcmp(pa, pb, (size_t)na * sizeof(float)) == 0;
}

static const char *small_sets[] = {"hidden=16",      "layers=2",    "actor_hidden=16",
                                   "actor_layers=2", "n_samples=3", "target_update=40",
                                   "bc_steps=20"};

static void small_options(orl_train_options *opt, int64_t steps, uint64_t seed) {
    orl_train_options_init(opt);
    opt->algo = "cql";
    opt->steps = steps;
    opt->batch = 32;
    opt->seed = seed;
    opt->log_every = 0;
    opt->sets = small_sets;
    opt->n_sets = 7;
}

static orl_policy *run(const orl_dataset *ds, orl_train_options opt, const char *ckpt,
                       int64_t stop_after) {
    orl_policy *p = NULL;
    if (ckpt) {
        remove(ckpt);
        opt.checkpoint_path = ckpt;
        opt.checkpoint_every = 70;
        opt.resume = 1;
        opt.stop_after = stop_after;
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INTERRUPTED, "%s", orl_error_message());
        opt.stop_after = 0;
        orl_train_result res;
        cr_assert_eq(orl_train(ds, &opt, &p, &res), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(res.resumed_from, stop_after);
        orl_train_result_free(&res);
    } else {
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_OK, "%s", orl_error_message());
    }
    return p;
}

Test(cql, same_seed_same_bits_and_resume_is_bit_identical, .timeout = 120) {
    /* seeds 51 (and 52 must differ); both forms; interrupted at 130, resumed */
    orl_dataset *sets[2] = {tabular_dataset(40, 50), continuous_dataset(30, 50)};
    const char *names[2] = {"discrete.ckpt", "continuous.ckpt"};
    for (int k = 0; k < 2; k++) {
        orl_train_options opt;
        small_options(&opt, 200, 51);
        orl_policy *a = run(sets[k], opt, NULL, 0), *b = run(sets[k], opt, NULL, 0);
        cr_assert(same_bits(a, b), "form %d: the same seed gave other bits", k);
        orl_policy *c = run(sets[k], opt, scratch(names[k]), 130);
        cr_assert(same_bits(a, c), "form %d: resume at 130 gave other bits", k);
        cr_assert_str_eq(c->ops->type, k == 0 ? "argmax_q" : "mlp");
        opt.seed = 52;
        orl_policy *d = run(sets[k], opt, NULL, 0);
        cr_assert(!same_bits(a, d), "form %d: seed 52 gave seed 51's bits", k);
        orl_policy_free(a);
        orl_policy_free(b);
        orl_policy_free(c);
        orl_policy_free(d);
        orl_dataset_free(sets[k]);
    }
}

Test(cql, non_finite_loss_names_the_step) {
    orl_dataset *sets[2] = {tabular_dataset(10, 60), continuous_dataset(10, 60)};
    for (int k = 0; k < 2; k++) {
        const char *bad[] = {"hidden=8", "critic_lr=1e30", "n_samples=2"};
        orl_train_options opt;
        orl_train_options_init(&opt);
        opt.algo = "cql";
        opt.steps = 200;
        opt.batch = 16;
        opt.log_every = 0;
        opt.sets = bad;
        opt.n_sets = 3;
        orl_policy *p = NULL;
        cr_assert_eq(orl_train(sets[k], &opt, &p, NULL), ORL_ERR_NUMERIC, "form %d: %s", k,
                     orl_error_message());
        cr_assert(strstr(orl_error_message(), "at step"), "%s", orl_error_message());
        cr_assert(strstr(orl_error_message(), "cql"), "%s", orl_error_message());
        cr_assert_null(p);
        orl_dataset_free(sets[k]);
    }
}

Test(cql, bad_hyperparameters_are_clear_errors) {
    orl_dataset *ds = continuous_dataset(4, 1);
    const char *bad[][1] = {{"n_samples=0"}, {"cql_temp=0"}, {"critics=0"}, {"tau=2"}};
    for (int i = 0; i < 4; i++) {
        orl_train_options opt;
        small_options(&opt, 10, 1);
        opt.sets = bad[i];
        opt.n_sets = 1;
        orl_policy *p = NULL;
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT, "%s", bad[i][0]);
        cr_assert(strstr(orl_error_message(), "cql"), "%s", orl_error_message());
    }
    orl_dataset_free(ds);
}

/* ---- no allocation in a step ---- */

#ifdef ORL_TEST_COUNT_ALLOCATIONS
/* a batch of rows 0..B-1 of ds, in the caller's arrays */
static orl_batch first_rows(const orl_dataset *ds, int32_t B, int64_t *rows, float *obs,
                            float *next_obs, float *act, int32_t *act_idx) {
    int32_t S = ds->h.obs_dim, A = ds->h.act_dim;
    int discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    for (int32_t i = 0; i < B; i++) {
        rows[i] = i;
        memcpy(obs + i * S, ds->obs + i * S, (size_t)S * sizeof(float));
        memcpy(next_obs + i * S, ds->next_obs + i * S, (size_t)S * sizeof(float));
        if (discrete)
            act_idx[i] = ds->act_idx[i];
        else
            memcpy(act + i * A, ds->act + i * A, (size_t)A * sizeof(float));
    }
    return (orl_batch){.size = B,
                       .rows = rows,
                       .obs = obs,
                       .next_obs = next_obs,
                       .act = discrete ? NULL : act,
                       .act_idx = discrete ? act_idx : NULL,
                       .rew = ds->rew,
                       .terminal = ds->terminal,
                       .timeout = ds->timeout,
                       .weight = NULL,
                       .from = ds};
}
#endif

Test(cql, no_allocation_in_a_step) {
#ifndef ORL_TEST_COUNT_ALLOCATIONS
    cr_skip("allocation counting is unavailable under the sanitizers");
#else
    orl_dataset *sets[2] = {tabular_dataset(20, 70), continuous_dataset(10, 70)};
    for (int k = 0; k < 2; k++) {
        orl_hparams hp;
        const char *ss[] = {"hidden=16", "actor_hidden=16", "n_samples=3", "bc_steps=2",
                            "lagrange=1"};
        cr_assert_eq(orl_hparams_resolve(&orl_learner_cql, ss, 5, &hp), ORL_OK);
        const int32_t B = 16;
        orl_learner_context ctx = {sets[k], NULL, &hp, "{}", B};
        orl_rng rng;
        orl_rng_seed(&rng, 70, 0);
        void *state = NULL;
        cr_assert_eq(orl_learner_cql.create(&ctx, &rng, &state), ORL_OK, "%s", orl_error_message());
        int64_t rows[16];
        float obs[16 * 3], next_obs[16 * 3], act[16 * 2];
        int32_t act_idx[16];
        orl_batch batch = first_rows(sets[k], B, rows, obs, next_obs, act, act_idx);
        double metrics[8];
        /* steps 0..1 are BC warm-up, 2.. the Q-driven actor: count both */
        alloc_count_begin();
        for (int64_t step = 0; step < 5; step++)
            cr_assert_eq(orl_learner_cql.step(state, &batch, step, &rng, metrics), ORL_OK, "%s",
                         orl_error_message());
        long n = alloc_count_end();
        cr_assert_eq(n, 0, "form %d: %ld allocations in 5 steps", k, n);
        orl_learner_cql.free(state);
        orl_dataset_free(sets[k]);
    }
#endif
}

/* the Lagrange multiplier moves toward meeting the gap: alpha' grows while the penalty exceeds
 * target_action_gap and shrinks while it is below (seed 80, 30 steps) */
Test(cql, lagrange_multiplier_follows_the_gap) {
    orl_dataset *ds = continuous_dataset(10, 80);
    const char *gaps[2] = {"target_action_gap=-100", "target_action_gap=100"};
    for (int g = 0; g < 2; g++) {
        const char *ss[] = {"hidden=16",  "actor_hidden=16",  "n_samples=3",
                            "lagrange=1", "lagrange_lr=1e-2", gaps[g]};
        orl_train_options opt;
        orl_train_options_init(&opt);
        opt.algo = "cql";
        opt.steps = 30;
        opt.batch = 16;
        opt.seed = 80;
        opt.log_every = 0;
        opt.val_fraction = 0.0;
        opt.sets = ss;
        opt.n_sets = 6;
        orl_policy *p = NULL;
        orl_train_result res;
        cr_assert_eq(orl_train(ds, &opt, &p, &res), ORL_OK, "%s", orl_error_message());
        double ap = orl_train_metric(&res.last, "alpha_prime");
        /* alpha' at the last step (before its update); it starts at e */
        if (g == 0)
            cr_assert(ap > exp(1.0) * 1.1, "gap -100: alpha' %g did not grow from e", ap);
        else
            cr_assert(ap < exp(1.0) / 1.1, "gap 100: alpha' %g did not shrink from e", ap);
        orl_train_result_free(&res);
        orl_policy_free(p);
    }
    orl_dataset_free(ds);
}
