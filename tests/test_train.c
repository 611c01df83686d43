/* algorithms/: the training loop, bc, fbc and awr. A known linear policy recovered by BC,
 * categorical BC on CartPole expert data, resume after an interrupt giving the same bits,
 * same seed same bits, hyperparameter errors, the config stored in the policy file, fbc's
 * episode selection, and AWR imitating the better of two behaviours where BC averages them.
 * The learner interface through a probe learner (every batch's rows against the dataset the
 * batch names, metrics of any count, phases unit by unit and resumed between units, the
 * handed-over policy); AWR resumed across its value-fit phase; AWR's weighted validation loss
 * looked up on validation rows.
 * Scratch files go under ORL_BINARY_DIR/tmp-train/. Every seed is named in its test. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-train"

#include "tests/lsan_hdf5.h"

#include "tests/scratch.h"
#include "tests/train_helpers.h"

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
    cr_assert_eq(res.val.n, 1);
    cr_assert(isfinite(orl_train_metric(&res.val, "loss")));
    cr_assert(isnan(orl_train_metric(&res.val, "no_such_metric")));
    orl_train_result_free(&res);

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
    cr_assert_str_eq(res.last.names[1], "value_loss");
    cr_assert_eq(res.val.n, 0, "no episodes held out: no validation metrics");
    orl_train_result_free(&res);
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
        orl_learner_context ctx = {ds, NULL, &hp, "{}", 16};
        orl_rng rng;
        orl_rng_seed(&rng, 7, 1);
        void *state = NULL;
        cr_assert_eq(ops->create(&ctx, &rng, &state), ORL_OK, "%s", orl_error_message());
        orl_learner_sampling smp;
        ops->sampling(state, &smp);
        int64_t first = k == 0 ? 180 : 190;
        cr_assert_eq(smp.n_rows, 200 - first);
        cr_assert_null(smp.weight);
        for (int64_t i = 0; i < smp.n_rows; i++) cr_assert_eq(smp.rows[i], first + i);
        ops->free(state);
    }
    orl_dataset_free(ds);
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
    cr_assert(strstr(orl_error_message(), "non-finite loss at step"), "%s", orl_error_message());
    /* the learner's detail survives (after the step number, not a repeat of it) */
    const char *cause = strstr(orl_error_message(), "at step");
    cr_assert(strstr(cause, "loss is"), "%s", orl_error_message());
    cr_assert_null(strstr(cause + 1, "at step"), "%s", orl_error_message());
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

/* ---- the learner interface, seen from a learner: a probe run through the loop ----
 * The probe trains the imitation core on the even training rows, weighted by per-row weights
 * that its phase ("probe_fit", 3 units before every 40th step) rewrites from rng draws; it
 * checks every batch it is given against the dataset the batch says its rows index, and records
 * what the loop called in probe_log (a test's observation, not part of its state). */

#define PROBE_PHASE_EVERY 40
#define PROBE_PHASE_UNITS 3

static struct {
    int64_t bad_step_rows, bad_val_rows; /* rows whose content differs from the claimed row */
    int64_t step_rows, val_rows;         /* rows checked */
    int64_t phase_calls[64][2];          /* (step, unit) of each phase_run */
    int32_t n_phase_calls;
    const orl_policy *exported;
} probe_log;

typedef struct probe_state {
    orl_imitation *im;
    const orl_dataset *train, *val;
    int64_t *rows; /* (n_rows) the even training rows */
    int64_t n_rows;
    float *weight; /* (N) per-row weights */
    double drawn;  /* sum of the phase's draws */
} probe_state;

static const orl_hparam_def probe_hparams[] = {ORL_IMITATION_HPARAM_DEFS,
                                               {NULL, 0, NULL, NULL, NULL}};
static const char *const probe_step_names[] = {"loss", "m1", "m2", "m3", "m4", "m5"};
static const char *const probe_val_names[] = {"loss", "rows_ok", "v2", "v3", "v4"};

static void probe_free(void *state) {
    probe_state *s = state;
    if (!s) return;
    orl_imitation_free(s->im);
    free(s->rows);
    free(s->weight);
    free(s);
}

static orl_status probe_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    probe_state *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    s->train = ctx->train;
    s->val = ctx->val;
    int64_t N = ctx->train->n_steps;
    s->rows = malloc((size_t)N * sizeof(int64_t));
    s->weight = malloc((size_t)N * sizeof(float));
    cr_assert(s->rows && s->weight);
    for (int64_t i = 0; i < N; i += 2) s->rows[s->n_rows++] = i;
    for (int64_t i = 0; i < N; i++) s->weight[i] = 1.0f;
    orl_status st = orl_imitation_create(ctx->train, ctx->hp, "probe", ctx->config_json,
                                         ctx->max_batch, rng, &s->im);
    if (st != ORL_OK) {
        probe_free(s);
        return st;
    }
    *state = s;
    return ORL_OK;
}

static orl_metric_names probe_metrics(void *state, orl_metric_kind kind) {
    (void)state;
    return kind == ORL_METRIC_KIND_STEP ? (orl_metric_names){6, probe_step_names}
                                        : (orl_metric_names){5, probe_val_names};
}

static void probe_sampling(void *state, orl_learner_sampling *out) {
    probe_state *s = state;
    *out = (orl_learner_sampling){s->rows, s->n_rows, s->weight};
}

static int probe_phase_at(void *state, int64_t step, orl_phase *phase) {
    (void)state;
    if (step % PROBE_PHASE_EVERY != 0) return 0;
    *phase = (orl_phase){"probe_fit", PROBE_PHASE_UNITS};
    return 1;
}

static orl_status probe_phase_run(void *state, int64_t step, int64_t unit, orl_rng *rng) {
    probe_state *s = state;
    if (probe_log.n_phase_calls < 64) {
        probe_log.phase_calls[probe_log.n_phase_calls][0] = step;
        probe_log.phase_calls[probe_log.n_phase_calls][1] = unit;
    }
    probe_log.n_phase_calls++;
    /* new weights in [0.5, 1.5) from the learner's stream */
    for (int64_t i = 0; i < s->train->n_steps; i++) {
        double u = orl_rng_uniform(rng);
        s->weight[i] = (float)(0.5 + u);
        s->drawn += u;
    }
    return ORL_OK;
}

/* 1 when row i of batch b holds row r of ds */
static int probe_row_matches(const orl_batch *b, int32_t i, const orl_dataset *ds, int64_t r) {
    size_t S = (size_t)ds->h.obs_dim, A = (size_t)ds->h.act_dim;
    if (r < 0 || r >= ds->n_steps) return 0;
    size_t k = (size_t)i, q = (size_t)r;
    return memcmp(b->obs + k * S, ds->obs + q * S, S * sizeof(float)) == 0 &&
           memcmp(b->next_obs + k * S, ds->next_obs + q * S, S * sizeof(float)) == 0 &&
           memcmp(b->act + k * A, ds->act + q * A, A * sizeof(float)) == 0 &&
           b->rew[i] == ds->rew[r] && b->terminal[i] == ds->terminal[r] &&
           b->timeout[i] == ds->timeout[r];
}

static orl_status probe_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                             double *metrics) {
    (void)step;
    (void)rng;
    probe_state *s = state;
    for (int32_t i = 0; i < batch->size; i++) {
        int64_t r = batch->rows[i];
        int ok = batch->from == s->train && probe_row_matches(batch, i, s->train, r) &&
                 r % 2 == 0 && batch->weight && batch->weight[i] == s->weight[r];
        probe_log.bad_step_rows += !ok;
        probe_log.step_rows++;
    }
    for (int k = 1; k < 6; k++) metrics[k] = 10.0 * k;
    return orl_imitation_step(s->im, batch, batch->weight, &metrics[0]);
}

static orl_status probe_validate(void *state, const orl_batch *batch, double *metrics) {
    probe_state *s = state;
    int64_t ok_rows = 0;
    for (int32_t i = 0; i < batch->size; i++) {
        int ok = s->val && batch->from == s->val && !batch->weight &&
                 probe_row_matches(batch, i, s->val, batch->rows[i]);
        ok_rows += ok;
        probe_log.bad_val_rows += !ok;
        probe_log.val_rows++;
    }
    metrics[1] = (double)ok_rows / batch->size;
    for (int k = 2; k < 5; k++) metrics[k] = -1.0 * k;
    return orl_imitation_loss(s->im, batch, NULL, &metrics[0]);
}

static const orl_policy *probe_policy(void *state) {
    return orl_imitation_policy(((probe_state *)state)->im);
}

static orl_status probe_export_policy(void *state, orl_policy **out) {
    orl_status st =
        orl_learner_copy_mlp_policy(orl_imitation_policy(((probe_state *)state)->im), out);
    probe_log.exported = *out;
    return st;
}

static int32_t probe_buffers(void *state, orl_buffer *out, int32_t cap) {
    probe_state *s = state;
    int32_t n = orl_imitation_buffers(s->im, out, cap, 0);
    orl_buffer_put(out, cap, &n, NULL, "weight", s->weight,
                   s->train->n_steps * (int64_t)sizeof(float));
    orl_buffer_put(out, cap, &n, NULL, "drawn", &s->drawn, (int64_t)sizeof s->drawn);
    return n;
}

static const orl_learner_ops probe_ops = {
    .name = "probe",
    .summary = "test learner",
    .hparams = probe_hparams,
    .create = probe_create,
    .metrics = probe_metrics,
    .sampling = probe_sampling,
    .phase_at = probe_phase_at,
    .phase_run = probe_phase_run,
    .step = probe_step,
    .validate = probe_validate,
    .policy = probe_policy,
    .export_policy = probe_export_policy,
    .buffers = probe_buffers,
    .free = probe_free,
};

/* the probe's dataset: 40 episodes of 10 steps (2 held out), distinct next_obs, rewards, and
 * every third episode cut by a timeout instead of a terminal */
static orl_dataset *probe_dataset(void) {
    orl_dataset *ds = make_dataset(2, 1, 40, 10, 31, mixed_act);
    for (int64_t i = 0; i < ds->n_steps; i++) {
        ds->next_obs[2 * i] = ds->obs[2 * i] + 0.5f;
        ds->next_obs[2 * i + 1] = (float)i;
        ds->rew[i] += 0.001f * (float)i;
        if (ds->terminal[i] && (i / 10) % 3 == 0) {
            ds->terminal[i] = 0;
            ds->timeout[i] = 1;
        }
    }
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

/* progress: records the phase reports; stops once at the stop_unit-th unit of the phase
 * before stop_step (stop_unit 0: never) */
typedef struct probe_progress {
    int64_t stop_step, stop_unit;
    int stopped;
    int32_t phase_reports;
} probe_progress;

static int probe_progress_fn(void *ctx, int64_t done, int64_t total, const char *what) {
    probe_progress *pp = ctx;
    if (!strstr(what, "probe_fit before step")) return 0;
    pp->phase_reports++;
    cr_assert_eq(total, PROBE_PHASE_UNITS, "%s", what);
    char want[64];
    snprintf(want, sizeof want, "probe_fit before step %lld", (long long)pp->stop_step);
    if (!pp->stopped && pp->stop_unit > 0 && done == pp->stop_unit && strstr(what, want)) {
        pp->stopped = 1;
        return 1;
    }
    return 0;
}

Test(train, learner_interface_probe) {
    /* seed 31; 120 steps of batch 16: phases before steps 0, 40, 80 (3 units each); the log
     * every 40 steps; 2 validation episodes (20 rows) in 2 chunks */
    memset(&probe_log, 0, sizeof probe_log);
    orl_dataset *ds = probe_dataset();
    orl_train_options opt;
    small_options(&opt, NULL, 120);
    opt.learner = &probe_ops;
    opt.batch = 16;
    opt.seed = 31;
    opt.log_every = PROBE_PHASE_EVERY;
    opt.log_path = scratch("probe.jsonl");
    const char *sets[] = {"hidden=8"};
    opt.sets = sets;
    opt.n_sets = 1;
    probe_progress pp = {0};
    orl_progress progress = {probe_progress_fn, &pp};
    opt.progress = &progress;
    orl_policy *p = NULL;
    orl_train_result res;
    cr_assert_eq(orl_train(ds, &opt, &p, &res), ORL_OK, "%s", orl_error_message());

    /* every batch held the rows it claimed, of the dataset it claimed */
    cr_assert_eq(probe_log.step_rows, 120 * 16);
    cr_assert_eq(probe_log.bad_step_rows, 0);
    cr_assert_gt(probe_log.val_rows, 0);
    cr_assert_eq(probe_log.bad_val_rows, 0);
    /* phases in order, unit by unit, each unit reported */
    cr_assert_eq(probe_log.n_phase_calls, 9);
    for (int32_t i = 0; i < 9; i++) {
        cr_assert_eq(probe_log.phase_calls[i][0], PROBE_PHASE_EVERY * (i / 3));
        cr_assert_eq(probe_log.phase_calls[i][1], i % 3);
    }
    cr_assert_eq(pp.phase_reports, 9);
    /* the metrics, all of them, in the result and the log */
    cr_assert_eq(res.last.n, 6);
    cr_assert_eq(res.val.n, 5);
    cr_assert_eq(orl_train_metric(&res.last, "m5"), 50.0);
    cr_assert_eq(orl_train_metric(&res.val, "rows_ok"), 1.0);
    cr_assert_eq(orl_train_metric(&res.val, "v4"), -4.0);
    cr_assert(isfinite(orl_train_metric(&res.val, "loss")));
    FILE *f = fopen(opt.log_path, "r");
    cr_assert_not_null(f);
    char line[2048];
    int lines = 0;
    const char *keys[] = {"\"step\":",     "\"loss\":",          "\"m1\":10,",     "\"m5\":50,",
                          "\"val_loss\":", "\"val_rows_ok\":1,", "\"val_v4\":-4,", "\"time\":"};
    while (fgets(line, sizeof line, f)) {
        for (int k = 0; k < 8; k++) cr_assert(strstr(line, keys[k]), "%s not in %s", keys[k], line);
        lines++;
    }
    fclose(f);
    cr_assert_eq(lines, 3);
    /* the result is the policy the learner handed over */
    cr_assert_not_null(p);
    cr_assert_eq(p, probe_log.exported);
    cr_assert_str_eq(p->algorithm, "probe");
    orl_train_result_free(&res);
    cr_assert_eq(res.last.n, 0);
    orl_train_result_free(&res);

    /* interrupted between the phase's units 2 and 3 before step 40, then resumed: the run goes
     * on with unit 3 (index 2) and gives the uninterrupted bits */
    memset(&probe_log, 0, sizeof probe_log);
    opt.log_path = NULL;
    opt.checkpoint_path = scratch("probe.ckpt");
    remove(opt.checkpoint_path);
    opt.checkpoint_every = 1000;
    opt.resume = 1;
    pp = (probe_progress){.stop_step = 40, .stop_unit = 2};
    orl_policy *q = NULL;
    cr_assert_eq(orl_train(ds, &opt, &q, NULL), ORL_ERR_INTERRUPTED, "%s", orl_error_message());
    cr_assert_null(q);
    cr_assert_eq(probe_log.n_phase_calls, 5);
    memset(&probe_log, 0, sizeof probe_log);
    cr_assert_eq(orl_train(ds, &opt, &q, &res), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(res.resumed_from, 40);
    cr_assert_eq(probe_log.phase_calls[0][0], 40);
    cr_assert_eq(probe_log.phase_calls[0][1], 2, "the resumed run continues the phase");
    cr_assert_eq(probe_log.n_phase_calls, 4);
    cr_assert_eq(probe_log.bad_step_rows, 0);
    cr_assert_eq(probe_log.bad_val_rows, 0);
    assert_same_bits(p, q);
    orl_train_result_free(&res);
    orl_policy_free(p);
    orl_policy_free(q);
    orl_dataset_free(ds);
}

/* ---- AWR: phases across a resume, validation on validation rows ---- */

/* the metrics log without its "time" keys */
static void read_log_without_time(const char *path, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = 0;
    for (char *t; (t = strstr(out, ",\"time\":"));) {
        char *end = strchr(t, '}');
        memmove(t, end, strlen(end) + 1);
    }
}

typedef struct stop_at_phase {
    const char *want; /* stop once when what contains this */
    int stopped;
} stop_at_phase;

static int stop_at_phase_fn(void *ctx, int64_t done, int64_t total, const char *what) {
    stop_at_phase *s = ctx;
    if (!s->stopped && done == total && strstr(what, s->want)) {
        s->stopped = 1;
        return 1;
    }
    return 0;
}

Test(train, awr_resume_across_a_phase_boundary) {
    /* seed 13; awr with iterations of 100 steps, 300 steps, 2 validation episodes; interrupted
     * (a) by stop_after at step 100, just before the value fit of iteration 2, and (b) by
     * progress right after the value fit before step 200 (the checkpoint then records the phase
     * as done: resuming must not fit again). Both resumed runs give the uninterrupted bits and
     * metrics log. */
    orl_dataset *ds = make_dataset(1, 1, 40, 10, 13, mixed_act);
    const char *sets[] = {"hidden=16", "value_lr=3e-3", "policy_steps=100", "value_steps=20"};
    orl_train_options opt;
    small_options(&opt, "awr", 300);
    opt.sets = sets;
    opt.n_sets = 4;
    opt.seed = 13;
    opt.log_every = 50;
    opt.log_path = scratch("awr-ref.jsonl");
    orl_policy *ref = train_run(ds, opt, NULL, 0);
    static char want[16384], got[16384];
    read_log_without_time(opt.log_path, want, sizeof want);
    cr_assert(strstr(want, "\"val_weighted_loss\":"), "%s", want);

    opt.log_path = scratch("awr-a.jsonl");
    orl_policy *a = train_run(ds, opt, scratch("awr-a.ckpt"), 100);
    assert_same_bits(ref, a);
    read_log_without_time(opt.log_path, got, sizeof got);
    cr_assert_str_eq(got, want);

    opt.log_path = scratch("awr-b.jsonl");
    opt.checkpoint_path = scratch("awr-b.ckpt");
    remove(opt.checkpoint_path);
    opt.checkpoint_every = 1000;
    opt.resume = 1;
    stop_at_phase stop = {"awr value_fit before step 200", 0};
    orl_progress progress = {stop_at_phase_fn, &stop};
    opt.progress = &progress;
    orl_policy *b = NULL;
    cr_assert_eq(orl_train(ds, &opt, &b, NULL), ORL_ERR_INTERRUPTED, "%s", orl_error_message());
    cr_assert(stop.stopped);
    cr_assert(strstr(orl_error_message(), "interrupted at step 200"), "%s", orl_error_message());
    orl_train_result res;
    cr_assert_eq(orl_train(ds, &opt, &b, &res), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(res.resumed_from, 200);
    orl_train_result_free(&res);
    assert_same_bits(ref, b);
    read_log_without_time(opt.log_path, got, sizeof got);
    cr_assert_str_eq(got, want);
    orl_policy_free(ref);
    orl_policy_free(a);
    orl_policy_free(b);
    orl_dataset_free(ds);
}

/* a batch view of rows (n) of ds, into the arrays given */
static orl_batch gather(const orl_dataset *ds, const int64_t *rows, int32_t n, float *obs,
                        float *next_obs, float *act, float *rew, uint8_t *terminal,
                        uint8_t *timeout, float *weight, const float *row_weight) {
    for (int32_t i = 0; i < n; i++) {
        int64_t r = rows[i];
        obs[i] = ds->obs[r];
        next_obs[i] = ds->next_obs[r];
        act[i] = ds->act[r];
        rew[i] = ds->rew[r];
        terminal[i] = ds->terminal[r];
        timeout[i] = ds->timeout[r];
        if (row_weight) weight[i] = row_weight[r];
    }
    return (orl_batch){.size = n,
                       .rows = rows,
                       .obs = obs,
                       .next_obs = next_obs,
                       .act = act,
                       .rew = rew,
                       .terminal = terminal,
                       .timeout = timeout,
                       .weight = row_weight ? weight : NULL,
                       .from = ds};
}

Test(train, awr_validation_weights_validation_rows) {
    /* seed 17; the validation set is the training episodes in reverse order (episode j of val
     * is episode 39 - j of train, so good and bad behaviours swap places). After the value fit,
     * the weighted validation loss of validation rows r must equal the weighted training loss of
     * the same transitions (rows m(r) of train, as step measures it before its update): AWR
     * looks the validation rows up in the validation weights. Looking them up in the training
     * weights (the rows' old meaning) would weight good actions as bad ones. */
    orl_dataset *train = make_dataset(1, 1, 40, 10, 17, mixed_act);
    orl_dataset *val = NULL;
    cr_assert_eq(orl_dataset_create(&train->h, 400, 40, &val), ORL_OK);
    for (int64_t e = 39; e >= 0; e--)
        cr_assert_eq(orl_dataset_append(val, train, e * 10, 10), ORL_OK);
    cr_assert_eq(val->n_episodes, 40);

    const orl_learner_ops *ops = orl_learner_find("awr");
    const char *sets[] = {"hidden=16", "value_steps=100", "value_lr=3e-3", "policy_steps=10"};
    orl_hparams hp;
    cr_assert_eq(orl_hparams_resolve(ops, sets, 4, &hp), ORL_OK);
    orl_learner_context ctx = {train, val, &hp, "{}", 32};
    orl_rng rng;
    orl_rng_seed(&rng, 17, 1);
    void *state = NULL;
    cr_assert_eq(ops->create(&ctx, &rng, &state), ORL_OK, "%s", orl_error_message());
    orl_phase phase;
    cr_assert_eq(ops->phase_at(state, 0, &phase), 1);
    cr_assert_eq(ops->phase_at(state, 5, &phase), 0);
    cr_assert_eq(ops->phase_at(state, 10, &phase), 1);
    cr_assert_str_eq(phase.name, "value_fit");
    cr_assert_eq(phase.units, 1);
    cr_assert_eq(ops->phase_run(state, 0, 0, &rng), ORL_OK, "%s", orl_error_message());
    orl_learner_sampling smp;
    ops->sampling(state, &smp);
    cr_assert_not_null(smp.weight);
    orl_metric_names vn = ops->metrics(state, ORL_METRIC_KIND_VALIDATION);
    cr_assert_eq(vn.n, 2);
    cr_assert_str_eq(vn.names[1], "weighted_loss");

    /* 32 validation rows spread over the episodes, and the same transitions in train */
    int64_t vrows[32], trows[32];
    double wrong = 0.0;
    for (int32_t i = 0; i < 32; i++) {
        vrows[i] = (i * 37 + 3) % 400;
        trows[i] = (39 - vrows[i] / 10) * 10 + vrows[i] % 10;
        wrong += fabs((double)smp.weight[trows[i]] - smp.weight[vrows[i]]);
    }
    cr_assert_gt(wrong, 8.0, "the training weights of the wrong rows differ (%g)", wrong);
    float obs[32], next_obs[32], act[32], rew[32], weight[32];
    uint8_t terminal[32], timeout[32];
    orl_batch vb = gather(val, vrows, 32, obs, next_obs, act, rew, terminal, timeout, weight, NULL);
    double vm[2];
    cr_assert_eq(ops->validate(state, &vb, vm), ORL_OK, "%s", orl_error_message());
    /* a batch of training rows is not a validation batch */
    orl_batch tb0 =
        gather(train, trows, 32, obs, next_obs, act, rew, terminal, timeout, weight, NULL);
    double unused[2];
    cr_assert_eq(ops->validate(state, &tb0, unused), ORL_ERR_INPUT);

    orl_batch tb =
        gather(train, trows, 32, obs, next_obs, act, rew, terminal, timeout, weight, smp.weight);
    double sm[3];
    cr_assert_eq(ops->step(state, &tb, 0, &rng, sm), ORL_OK, "%s", orl_error_message());
    cr_log_info("awr validation: loss %.6f, weighted %.6f; training rows weighted %.6f (seed 17)",
                vm[0], vm[1], sm[0]);
    cr_assert_gt(fabs(vm[1] - vm[0]), 0.05 * fabs(vm[0]), "the weights matter here");
    cr_assert_lt(fabs(vm[1] - sm[0]), 1e-5 * fabs(sm[0]) + 1e-6, "val %.9g, train %.9g", vm[1],
                 sm[0]);
    ops->free(state);
    orl_dataset_free(val);
    orl_dataset_free(train);
}

Test(train, the_batch_defaults_to_the_learners_reference) {
    /* 0 means the learner's reference batch for the data's action kind; a given one wins */
    const orl_learner_ops *bc = orl_learner_find("bc"), *bcq = orl_learner_find("bcq");
    cr_assert(bc && bcq);
    cr_assert_eq(orl_train_batch(bc, 0, ORL_ACTION_KIND_CONTINUOUS), 256);
    cr_assert_eq(orl_train_batch(bc, 0, ORL_ACTION_KIND_DISCRETE), 256);
    cr_assert_eq(orl_train_batch(bcq, 0, ORL_ACTION_KIND_CONTINUOUS), 100);
    cr_assert_eq(orl_train_batch(bcq, 0, ORL_ACTION_KIND_DISCRETE), 64);
    cr_assert_eq(orl_train_batch(bcq, 32, ORL_ACTION_KIND_DISCRETE), 32);
    orl_train_options opt;
    orl_train_options_init(&opt);
    cr_assert_eq(opt.batch, 0);
    /* described before the data is seen: bc's is known, bcq's depends on the action kind */
    char json[4096];
    opt.algo = "bc";
    cr_assert_eq(orl_train_describe(&opt, json, sizeof json), ORL_OK);
    cr_assert(strstr(json, "\"batch\":256"), "%s", json);
    opt.algo = "bcq";
    cr_assert_eq(orl_train_describe(&opt, json, sizeof json), ORL_OK);
    cr_assert(strstr(json, "\"batch\":0"), "%s", json);
    opt.batch = -1;
    cr_assert_eq(orl_train_describe(&opt, json, sizeof json), ORL_ERR_INPUT);
}
