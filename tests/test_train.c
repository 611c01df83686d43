/* algorithms/: the training loop, bc, fbc and awr. A known linear policy recovered by BC,
 * categorical BC on CartPole expert data, resume after an interrupt giving the same bits,
 * same seed same bits, hyperparameter errors, the config stored in the policy file, fbc's
 * episode selection, and AWR imitating the better of two behaviours where BC averages them.
 * Scratch files go under ORL_BINARY_DIR/tmp-train/. Every seed is named in its test. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-train"

/* LeakSanitizer: see test_policy.c (libhdf5's own allocations) */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libhdf5\n";
}

static const char *scratch(const char *name) {
    static char paths[8][4096];
    static int next;
    mkdir(SCRATCH_DIR, 0755);
    char *p = paths[next++ % 8];
    snprintf(p, 4096, "%s/%s", SCRATCH_DIR, name);
    return p;
}

/* a continuous dataset of E episodes of length T: obs (S) uniform in [-1, 1] from seed, the
 * action given by fn, reward by rfn; action bounds [-1, 1] */
typedef void (*act_fn)(const float *obs, int64_t episode, float *act, float *rew);

static orl_dataset *make_dataset(int32_t S, int32_t A, int64_t E, int64_t T, uint64_t seed,
                                 act_fn fn) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, S, A, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    for (int32_t j = 0; j < A; j++) {
        h.act_low[j] = -1.0f;
        h.act_high[j] = 1.0f;
    }
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_create(&h, E * T, E, &ds), ORL_OK);
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    for (int64_t e = 0; e < E; e++)
        for (int64_t t = 0; t < T; t++) {
            int64_t i = e * T + t;
            for (int32_t j = 0; j < S; j++) {
                ds->obs[i * S + j] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
                ds->next_obs[i * S + j] = 0.0f;
            }
            fn(ds->obs + i * S, e, ds->act + i * A, &ds->rew[i]);
            ds->terminal[i] = t == T - 1;
            ds->timeout[i] = 0;
            ds->logp_b[i] = NAN;
        }
    ds->n_steps = E * T;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

/* a(s) = W s with W below: |a| <= 0.6, inside the tanh head's range */
static const float W_LIN[2][3] = {{0.3f, -0.2f, 0.1f}, {-0.1f, 0.25f, 0.2f}};

static void linear_act(const float *obs, int64_t episode, float *act, float *rew) {
    (void)episode;
    for (int j = 0; j < 2; j++)
        act[j] = W_LIN[j][0] * obs[0] + W_LIN[j][1] * obs[1] + W_LIN[j][2] * obs[2];
    *rew = 0.0f;
}

static void small_options(orl_train_options *opt, const char *algo, int64_t steps) {
    orl_train_options_init(opt);
    opt->algo = algo;
    opt->steps = steps;
    opt->batch = 64;
    opt->log_every = 0;
}

/* the policy's parameters: P floats */
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

/* mean action of a continuous policy over obs (n, S) */
static void policy_actions(orl_policy *p, const float *obs, int32_t n, float *act) {
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, n, &w), ORL_OK);
    cr_assert_eq(orl_policy_act(p, w, obs, n, ORL_POLICY_MODE_MEAN, NULL, act, NULL), ORL_OK);
    orl_policy_work_free(w);
}

Test(train, bc_recovers_a_linear_policy) {
    /* seed 3; 40 episodes x 50 steps; deterministic head; stated error: RMSE < 0.01 on fresh
     * states (the actions span about +-0.6) */
    orl_dataset *ds = make_dataset(3, 2, 40, 50, 3, linear_act);
    orl_train_options opt;
    small_options(&opt, "bc", 2000);
    const char *sets[] = {"hidden=64", "lr=1e-3"};
    opt.sets = sets;
    opt.n_sets = 2;
    opt.seed = 3;
    orl_policy *p = NULL;
    orl_train_result res;
    cr_assert_eq(orl_train(ds, &opt, &p, &res), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(res.val_episodes, 2);
    cr_assert(isfinite(res.val_loss));

    float obs[200 * 3], act[200 * 2];
    orl_rng rng;
    orl_rng_seed(&rng, 99, 1);
    for (int i = 0; i < 600; i++) obs[i] = (float)(1.8 * orl_rng_uniform(&rng) - 0.9);
    policy_actions(p, obs, 200, act);
    double se = 0.0;
    for (int i = 0; i < 200; i++) {
        float want[2];
        float r;
        linear_act(obs + 3 * i, 0, want, &r);
        for (int j = 0; j < 2; j++) se += pow((double)act[2 * i + j] - want[j], 2);
    }
    double rmse = sqrt(se / 400.0);
    cr_log_info("linear policy: rmse %.4f (seed 3)", rmse);
    cr_assert_lt(rmse, 0.01, "rmse %g", rmse);
    orl_policy_free(p);
    orl_dataset_free(ds);
}

Test(train, categorical_bc_on_cartpole_expert, .timeout = 60) {
    /* orl_gen seed 0, 20 expert episodes; 600 steps of categorical BC (width 64), seed 1;
     * evaluated over 10 episodes, mean mode */
    const char *path = scratch("cartpole-expert.h5");
    orl_gen_options g = {0};
    g.env_id = "CartPole-v1";
    g.behavior = "expert";
    g.episodes = 20;
    cr_assert_eq(orl_gen(&g, path, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(path, NULL, NULL, &ds), ORL_OK);
    orl_train_options opt;
    small_options(&opt, "bc", 600);
    const char *sets[] = {"hidden=64", "lr=1e-3"};
    opt.sets = sets;
    opt.n_sets = 2;
    opt.seed = 1;
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(p->action_kind, ORL_ACTION_KIND_DISCRETE);
    orl_rollout_summary sum;
    cr_assert_eq(orl_eval(p, "CartPole-v1", 10, 0, ORL_POLICY_MODE_MEAN, &sum, NULL), ORL_OK);
    cr_log_info("CartPole BC: mean return %.1f (seed 1)", sum.return_mean);
    cr_assert_geq(sum.return_mean, 400.0, "CartPole return %g", sum.return_mean);
    orl_policy_free(p);
    orl_dataset_free(ds);
}

/* rewards: episodes alternate a good behaviour (a = +0.5, reward 1) and a bad one (a = -0.5,
 * reward 0) */
static void mixed_act(const float *obs, int64_t episode, float *act, float *rew) {
    (void)obs;
    int good = episode % 2 == 0;
    act[0] = good ? 0.5f : -0.5f;
    *rew = good ? 1.0f : 0.0f;
}

static float mean_action(orl_policy *p) {
    float obs[64], act[64];
    for (int i = 0; i < 64; i++) obs[i] = -0.9f + 1.8f * (float)i / 63.0f;
    policy_actions(p, obs, 64, act);
    double m = 0.0;
    for (int i = 0; i < 64; i++) m += act[i];
    return (float)(m / 64.0);
}

Test(train, awr_imitates_the_better_behaviour) {
    /* seed 5; 40 episodes of 10 steps, half good, half bad. BC's mean action is
     * about 0 (the average); AWR's weights exp(A) favour the good actions: with standardised
     * advantages +-1 the weighted mean is (e - 1/e) / (e + 1/e) * 0.5 = 0.38 */
    orl_dataset *ds = make_dataset(1, 1, 40, 10, 5, mixed_act);
    const char *sets[] = {"hidden=32", "lr=1e-3", "value_lr=3e-3", "policy_steps=400",
                          "value_steps=200"};
    orl_train_options opt;
    small_options(&opt, "awr", 800);
    opt.sets = sets;
    opt.n_sets = 5;
    opt.seed = 5;
    opt.val_fraction = 0.0;
    orl_policy *awr = NULL, *bc = NULL;
    orl_train_result res;
    cr_assert_eq(orl_train(ds, &opt, &awr, &res), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(res.last.n, 3);
    opt.algo = "bc";
    opt.n_sets = 2;
    cr_assert_eq(orl_train(ds, &opt, &bc, NULL), ORL_OK, "%s", orl_error_message());
    float ma = mean_action(awr), mb = mean_action(bc);
    cr_log_info("mean action: awr %.3f, bc %.3f (seed 5)", (double)ma, (double)mb);
    cr_assert_gt(ma, 0.25f, "AWR mean action %g", (double)ma);
    cr_assert_lt(fabsf(mb), 0.1f, "BC mean action %g", (double)mb);
    orl_policy_free(awr);
    orl_policy_free(bc);
    orl_dataset_free(ds);
}

/* reward = the episode's index, so episode e returns 10 e */
static void indexed_reward(const float *obs, int64_t episode, float *act, float *rew) {
    act[0] = 0.5f * obs[0];
    *rew = (float)episode;
}

Test(train, fbc_selects_the_top_episodes) {
    /* 20 episodes of 10 steps, episode e returns 10 e: the top 10% are episodes 19 and 18 (rows
     * 180..199); top_percent=1 still keeps one (episode 19) */
    orl_dataset *ds = make_dataset(2, 1, 20, 10, 7, indexed_reward);
    const orl_learner_ops *ops = orl_learner_find("fbc");
    cr_assert_not_null(ops);
    for (int k = 0; k < 2; k++) {
        const char *sets[] = {k == 0 ? "top_percent=10" : "top_percent=1"};
        orl_hparams hp;
        cr_assert_eq(orl_hparams_resolve(ops, sets, 1, &hp), ORL_OK);
        orl_learner_context ctx = {ds, &hp, "{}", 16};
        orl_rng rng;
        orl_rng_seed(&rng, 7, 1);
        void *state = NULL;
        cr_assert_eq(ops->create(&ctx, &rng, &state), ORL_OK, "%s", orl_error_message());
        const int64_t *rows = NULL;
        int64_t n = 0;
        ops->sample_rows(state, &rows, &n);
        int64_t first = k == 0 ? 180 : 190;
        cr_assert_eq(n, 200 - first);
        for (int64_t i = 0; i < n; i++) cr_assert_eq(rows[i], first + i);
        ops->free(state);
    }
    orl_dataset_free(ds);
}

/* trains with options opt (a checkpointed run when ckpt is not NULL, interrupted after
 * stop_after steps and resumed) */
static orl_policy *train_run(const orl_dataset *ds, orl_train_options opt, const char *ckpt,
                             int64_t stop_after) {
    orl_policy *p = NULL;
    if (ckpt) {
        remove(ckpt);
        opt.checkpoint_path = ckpt;
        opt.checkpoint_every = 70;
        opt.resume = 1;
        opt.stop_after = stop_after;
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INTERRUPTED, "%s", orl_error_message());
        cr_assert_null(p);
        opt.stop_after = 0;
        orl_train_result res;
        cr_assert_eq(orl_train(ds, &opt, &p, &res), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(res.resumed_from, stop_after);
    } else {
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_OK, "%s", orl_error_message());
    }
    return p;
}

Test(train, resume_after_interrupt_gives_identical_bits) {
    /* seed 11; awr (value net, both Adam states, weights, rng streams all in the checkpoint)
     * interrupted at step 130 (mid-iteration, between checkpoints at 70 and 140) and resumed;
     * and bc with the tanh-Gaussian head interrupted at 90 */
    orl_dataset *ds = make_dataset(1, 1, 40, 10, 11, mixed_act);
    const char *awr_sets[] = {"hidden=32", "value_lr=3e-3", "policy_steps=100", "value_steps=20"};
    orl_train_options opt;
    small_options(&opt, "awr", 300);
    opt.sets = awr_sets;
    opt.n_sets = 4;
    opt.seed = 11;
    orl_policy *a = train_run(ds, opt, NULL, 0);
    orl_policy *b = train_run(ds, opt, scratch("awr.ckpt"), 130);
    assert_same_bits(a, b);
    orl_policy_free(a);
    orl_policy_free(b);

    const char *bc_sets[] = {"hidden=32", "head=tanh_gaussian"};
    small_options(&opt, "bc", 200);
    opt.sets = bc_sets;
    opt.n_sets = 2;
    opt.seed = 11;
    a = train_run(ds, opt, NULL, 0);
    b = train_run(ds, opt, scratch("bc.ckpt"), 90);
    assert_same_bits(a, b);
    orl_policy_free(a);
    orl_policy_free(b);

    /* a checkpoint of other settings is refused */
    opt.seed = 12;
    opt.checkpoint_path = scratch("bc.ckpt");
    opt.checkpoint_every = 1000;
    opt.resume = 1;
    orl_policy *c = NULL;
    cr_assert_eq(orl_train(ds, &opt, &c, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "other settings"), "%s", orl_error_message());
    orl_dataset_free(ds);
}

Test(train, same_seed_same_bits) {
    /* seeds 21 and 22, bc gaussian head and fbc */
    orl_dataset *ds = make_dataset(1, 1, 40, 10, 21, mixed_act);
    const char *sets[] = {"hidden=32", "head=gaussian"};
    const char *algos[] = {"bc", "fbc"};
    for (int k = 0; k < 2; k++) {
        orl_train_options opt;
        small_options(&opt, algos[k], 150);
        opt.sets = sets;
        opt.n_sets = 2;
        opt.seed = 21;
        orl_policy *a = train_run(ds, opt, NULL, 0), *b = train_run(ds, opt, NULL, 0);
        assert_same_bits(a, b);
        opt.seed = 22;
        orl_policy *c = train_run(ds, opt, NULL, 0);
        int64_t n;
        const float *pa = params_of(a, &n), *pc = params_of(c, &n);
        cr_assert(memcmp(pa, pc, (size_t)n * sizeof(float)) != 0, "seed 22 gave seed 21's bits");
        orl_policy_free(a);
        orl_policy_free(b);
        orl_policy_free(c);
    }
    orl_dataset_free(ds);
}

Test(train, bad_hyperparameters_are_clear_errors) {
    orl_dataset *ds = make_dataset(1, 1, 4, 5, 1, mixed_act);
    orl_train_options opt;
    small_options(&opt, "bc", 10);
    orl_policy *p = NULL;
    const char *unknown[] = {"learning_rate=1e-3"};
    opt.sets = unknown;
    opt.n_sets = 1;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "learning_rate"), "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "unknown"), "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "lr"), "the known keys are listed: %s",
              orl_error_message());
    const char *bad[][1] = {{"lr=fast"}, {"hidden=2.5"}, {"head=laplace"}, {"noequals"}};
    for (int i = 0; i < 4; i++) {
        opt.sets = bad[i];
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT, "%s", bad[i][0]);
    }
    const char *discrete_head[] = {"head=categorical"};
    opt.sets = discrete_head;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT);
    opt.n_sets = 0;
    opt.algo = "dqn";
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "dqn"), "%s", orl_error_message());
    cr_assert_null(p);
    orl_dataset_free(ds);
}

Test(train, non_finite_loss_names_the_step) {
    /* a learning rate of 1e30 drives the Gaussian head's mean to infinity within a few steps */
    orl_dataset *ds = make_dataset(1, 1, 4, 5, 1, mixed_act);
    orl_train_options opt;
    small_options(&opt, "bc", 100);
    const char *sets[] = {"head=gaussian", "lr=1e30", "hidden=8"};
    opt.sets = sets;
    opt.n_sets = 3;
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_NUMERIC, "%s", orl_error_message());
    /* the step number and, after it, the learner's own cause ("imitation loss is inf"), kept */
    const char *at = strstr(orl_error_message(), "at step");
    cr_assert(at, "%s", orl_error_message());
    const char *cause = strchr(at, ':');
    cr_assert(cause && strstr(cause, "loss is") && !strstr(cause, "at step"), "%s",
              orl_error_message());
    cr_assert_null(p);
    orl_dataset_free(ds);
}

Test(train, policy_file_holds_the_config_and_log_is_json_lines) {
    orl_dataset *ds = make_dataset(1, 1, 4, 5, 1, mixed_act);
    orl_train_options opt;
    small_options(&opt, "awr", 20);
    const char *sets[] = {"beta=0.5", "hidden=16", "value_steps=5", "policy_steps=10"};
    opt.sets = sets;
    opt.n_sets = 4;
    opt.log_every = 10;
    opt.log_path = scratch("metrics.jsonl");
    orl_policy *p = NULL;
    cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_OK, "%s", orl_error_message());
    const char *path = scratch("awr.h5");
    cr_assert_eq(orl_policy_save(p, path), ORL_OK);
    orl_policy_free(p);
    cr_assert_eq(orl_policy_load(path, &p), ORL_OK);
    cr_assert_str_eq(p->algorithm, "awr");
    const char *want[] = {"\"beta\":0.5", "\"max_weight\":20", "\"hidden\":16",
                          "\"steps\":20", "\"algo\":\"awr\"",  "\"lr\":0.0003"};
    for (int i = 0; i < 6; i++)
        cr_assert(strstr(p->config_json, want[i]), "%s not in %s", want[i], p->config_json);
    orl_policy_free(p);

    FILE *f = fopen(opt.log_path, "r");
    cr_assert_not_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cr_assert(strstr(line, "\"step\":") && strstr(line, "\"loss\":") &&
                      strstr(line, "\"value_loss\":") && strstr(line, "\"time\":"),
                  "%s", line);
        n++;
    }
    fclose(f);
    cr_assert_eq(n, 2);
    orl_dataset_free(ds);
}
