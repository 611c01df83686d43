/* eval/gridworld.c, eval/tabular.c and eval/pointmaze.c: the GridWorld rules step by step, its
 * time limit, exact dynamic-programming values (by hand, for the fixtures' softmax policies
 * against a Monte Carlo average, and through an orl_policy), the fixture reader's errors; the
 * PointMaze walls, a free-space step computed in closed form, rewards, seeding, time limits and
 * both layouts solved by a waypoint controller. Every seed is named in its test. Scratch files
 * go under ORL_BINARY_DIR/tmp-env-maze/. */
#include "orl/env.h"
#include "orl/orl.h"
#include "orl/tabular.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-env-maze"
#define P1_PATH     ORL_FIXTURES_DIR "/ris-gridworld/p1.txt"
#define P2_PATH     ORL_FIXTURES_DIR "/ris-gridworld/p2.txt"
#define GW          "GridWorld-4x4"
#define GW_STATES   16
#define GW_ACTIONS  4

/* ---- helpers ---- */

static orl_env *make(const char *id) {
    orl_env *env = NULL;
    cr_assert_eq(orl_env_make(id, &env), ORL_OK, "%s", orl_error_message());
    return env;
}

static const char *scratch_file(const char *name, const char *content) {
    static char paths[8][4096];
    static int next;
    char *path = paths[next++ % 8];
    mkdir(SCRATCH_DIR, 0755);
    snprintf(path, 4096, SCRATCH_DIR "/%s", name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(content, f);
    fclose(f);
    return path;
}

/* a deterministic table: probability 1 on choose(s) */
static void deterministic_table(int32_t (*choose)(int32_t s), double *probs) {
    for (int32_t s = 0; s < GW_STATES; s++)
        for (int32_t a = 0; a < GW_ACTIONS; a++) probs[s * GW_ACTIONS + a] = a == choose(s);
}

static int32_t right_then_down(int32_t s) {
    return s % 4 < 3 ? 0 : 2;
}
static int32_t down_then_right(int32_t s) {
    return s / 4 < 3 ? 2 : 0;
}
static int32_t always_left(int32_t s) {
    (void)s;
    return 1;
}

/* ---- GridWorld: the environment ---- */

Test(gridworld, spec_reset_and_state_index) {
    orl_env *env = make(GW);
    const orl_env_spec *spec = orl_env_get_spec(env);
    cr_assert_str_eq(spec->id, GW);
    cr_assert_eq(spec->obs_dim, 16);
    cr_assert_eq(spec->action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_eq(spec->n_actions, 4);
    cr_assert_eq(spec->act_dim, 1);
    cr_assert_eq(spec->max_episode_steps, 100);
    cr_assert_eq(spec->gamma, 1.0);
    for (int i = 0; i < 16; i++) {
        cr_assert_eq(spec->obs_low[i], 0.0f);
        cr_assert_eq(spec->obs_high[i], 1.0f);
    }
    cr_assert_eq(orl_env_n_states(env), 16);

    float obs[16];
    orl_env_seed(env, 3);
    orl_env_reset(env, obs);
    for (int i = 0; i < 16; i++) cr_assert_eq(obs[i], i == 0 ? 1.0f : 0.0f, "cell %d", i);
    cr_assert_eq(orl_env_state_index(env, obs), 0);

    /* not one-hot: two hot cells, a fraction, all zeros */
    float bad[16] = {0};
    cr_assert_eq(orl_env_state_index(env, bad), -1);
    bad[3] = 1.0f;
    cr_assert_eq(orl_env_state_index(env, bad), 3);
    bad[7] = 1.0f;
    cr_assert_eq(orl_env_state_index(env, bad), -1);
    bad[7] = 0.5f;
    cr_assert_eq(orl_env_state_index(env, bad), -1);
    orl_env_free(env);
}

Test(gridworld, rewards_and_blocking_step_by_step) {
    /* a scripted walk: action, expected cell after it, reward, terminated */
    static const struct {
        int32_t action, cell;
        double reward;
        int terminated;
    } walk[] = {
        {1, 0, -1.0, 0},  /* x-1 at the left edge: blocked, stays, -1 */
        {3, 0, -1.0, 0},  /* y-1 at the top edge: blocked */
        {0, 1, -1.0, 0},  /* to (1,0) */
        {2, 5, -10.0, 0}, /* to (1,1): the pit */
        {2, 9, -1.0, 0},  /* to (1,2) */
        {2, 13, 1.0, 0},  /* to (1,3): +1 */
        {2, 13, 1.0, 0},  /* y+1 at the bottom edge: stays in (1,3), +1 again */
        {1, 12, -1.0, 0}, /* to (0,3) */
        {0, 13, 1.0, 0},  /* back to (1,3) */
        {0, 14, -1.0, 0}, /* to (2,3) */
        {3, 10, -1.0, 0}, /* to (2,2) */
        {0, 11, -1.0, 0}, /* to (3,2) */
        {0, 11, -1.0, 0}, /* x+1 at the right edge: blocked */
        {2, 15, 100.0, 1} /* to (3,3): +100, the end */
    };
    orl_env *env = make(GW);
    float obs[16];
    orl_env_seed(env, 11);
    orl_env_reset(env, obs);
    int n = (int)(sizeof walk / sizeof walk[0]);
    for (int t = 0; t < n; t++) {
        orl_env_result r;
        cr_assert_eq(orl_env_step(env, NULL, walk[t].action, obs, &r), ORL_OK, "%s",
                     orl_error_message());
        cr_assert_eq(orl_env_state_index(env, obs), walk[t].cell, "step %d", t);
        cr_assert_eq(r.reward, walk[t].reward, "step %d: reward %g", t, r.reward);
        cr_assert_eq(r.terminated, walk[t].terminated, "step %d", t);
        cr_assert_eq(r.truncated, 0, "step %d", t);
    }
    cr_assert_eq(orl_env_elapsed(env), n);
    orl_env_result r;
    cr_assert_eq(orl_env_step(env, NULL, 0, obs, &r), ORL_ERR_INPUT, "a step after the end");

    /* actions outside [0, 4) */
    orl_env_reset(env, obs);
    cr_assert_eq(orl_env_step(env, NULL, 4, obs, &r), ORL_ERR_INPUT);
    cr_assert_eq(orl_env_step(env, NULL, -1, obs, &r), ORL_ERR_INPUT);
    orl_env_free(env);
}

Test(gridworld, truncated_at_100_steps) {
    orl_env *env = make(GW);
    float obs[16];
    orl_env_seed(env, 5);
    for (int episode = 0; episode < 2; episode++) {
        orl_env_reset(env, obs);
        double ret = 0.0;
        for (int t = 1; t <= 100; t++) {
            orl_env_result r;
            cr_assert_eq(orl_env_step(env, NULL, 1, obs, &r), ORL_OK); /* blocked: stays */
            ret += r.reward;
            cr_assert_eq(r.terminated, 0);
            cr_assert_eq(r.truncated, t == 100, "step %d", t);
        }
        cr_assert_eq(ret, -100.0);
        orl_env_result r;
        cr_assert_eq(orl_env_step(env, NULL, 0, obs, &r), ORL_ERR_INPUT, "step 101");
    }
    orl_env_free(env);
}

/* ---- GridWorld: dynamic programming ---- */

Test(tabular, model_matches_the_environment) {
    orl_tabular_model m;
    cr_assert_eq(orl_tabular_model_get(GW, &m), ORL_OK);
    cr_assert_eq(m.n_states, 16);
    cr_assert_eq(m.n_actions, 4);
    cr_assert_eq(m.start, 0);
    cr_assert_eq(m.max_episode_steps, 100);
    for (int32_t s = 0; s < 16; s++) cr_assert_eq(m.absorbing[s], s == 15);

    /* every (state, action) of the model against one environment step from that state, reached
     * by walking there (right along the top row, then down the column) */
    orl_env *env = make(GW);
    float obs[16];
    for (int32_t s = 0; s < 15; s++)
        for (int32_t a = 0; a < 4; a++) {
            orl_env_seed(env, 0);
            orl_env_reset(env, obs);
            orl_env_result r;
            for (int32_t x = 0; x < s % 4; x++) orl_env_step(env, NULL, 0, obs, &r);
            for (int32_t y = 0; y < s / 4; y++) orl_env_step(env, NULL, 2, obs, &r);
            cr_assert_eq(orl_env_state_index(env, obs), s);
            cr_assert_eq(orl_env_step(env, NULL, a, obs, &r), ORL_OK);
            cr_assert_eq(orl_env_state_index(env, obs), m.next[s * 4 + a], "s %d a %d", s, a);
            cr_assert_eq(r.reward, m.reward[s * 4 + a], "s %d a %d", s, a);
            cr_assert_eq(r.terminated, m.ends[s * 4 + a], "s %d a %d", s, a);
        }
    orl_env_free(env);
    cr_assert_eq(orl_tabular_model_get("CartPole-v1", &m), ORL_ERR_UNSUPPORTED);
}

Test(tabular, deterministic_policies_by_hand) {
    double probs[GW_STATES * GW_ACTIONS], value;

    /* right along the top row then down the right column: six steps, -1 five times then +100 */
    deterministic_table(right_then_down, probs);
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.0, 0, &value), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_float_eq(value, 95.0, 1e-12, "%.15g", value);
    /* discounted: -(1 + .9 + .81 + .729 + .6561) + 100 * .9^5 */
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 0.9, 0, &value), ORL_OK);
    cr_assert_float_eq(value, -4.0951 + 59.049, 1e-9, "%.15g", value);
    /* cut after 5 steps, before the goal */
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.0, 5, &value), ORL_OK);
    cr_assert_float_eq(value, -5.0, 1e-12);
    /* 15 rows (the terminal cell left out) give the same value */
    cr_assert_eq(orl_tabular_table_value(GW, probs, 15, 1.0, 100, &value), ORL_OK);
    cr_assert_float_eq(value, 95.0, 1e-12);

    /* down the left column then right along the bottom: -1, -1, -1, +1 at (1,3), -1, +100 */
    deterministic_table(down_then_right, probs);
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.0, 0, &value), ORL_OK);
    cr_assert_float_eq(value, 97.0, 1e-12, "%.15g", value);

    /* pushing into the left edge for the whole 100 steps */
    deterministic_table(always_left, probs);
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.0, 0, &value), ORL_OK);
    cr_assert_float_eq(value, -100.0, 1e-12);

    /* a stochastic case: at the start stay (push left) or step right with probability 1/2
     * each, elsewhere right-then-down, cut at 7 steps. With k stays first (probability
     * 2^-(k+1)) the goal comes at step 6 + k: k = 0 returns 95, k = 1 returns 94, and every
     * k >= 2 (probability 1/4 in all) is cut after seven -1 steps. */
    deterministic_table(right_then_down, probs);
    probs[0] = 0.5;
    probs[1] = 0.5;
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.0, 7, &value), ORL_OK);
    double expected = 95.0 / 2 + 94.0 / 4 - 7.0 / 4;
    cr_assert_float_eq(value, expected, 1e-12, "%.15g vs %.15g", value, expected);
}

Test(tabular, argument_checks) {
    double probs[GW_STATES * GW_ACTIONS], value = 0.0;
    deterministic_table(right_then_down, probs);
    cr_assert_eq(orl_tabular_table_value("Pendulum-v1", probs, 16, 1.0, 0, &value),
                 ORL_ERR_UNSUPPORTED);
    cr_assert(strstr(orl_error_message(), GW), "%s", orl_error_message());
    cr_assert_eq(orl_tabular_table_value(GW, probs, 14, 1.0, 0, &value), ORL_ERR_INPUT);
    cr_assert_eq(orl_tabular_table_value(GW, probs, 17, 1.0, 0, &value), ORL_ERR_INPUT);
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.5, 0, &value), ORL_ERR_INPUT);
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, NAN, 0, &value), ORL_ERR_INPUT);
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.0, -1, &value), ORL_ERR_INPUT);
    probs[5 * 4 + 1] = 0.25; /* row 5 sums to 1.25 */
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.0, 0, &value), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "state 5"), "%s", orl_error_message());
    probs[5 * 4 + 1] = NAN;
    cr_assert_eq(orl_tabular_table_value(GW, probs, 16, 1.0, 0, &value), ORL_ERR_INPUT);
}

/* the mean return of n episodes of the table's policy in the environment, and its standard
 * error */
static void monte_carlo(const double *probs, int n, uint64_t seed, double *mean, double *se) {
    orl_env *env = make(GW);
    orl_env_seed(env, seed);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 77);
    float obs[16];
    double sum = 0.0, sum_sq = 0.0;
    for (int i = 0; i < n; i++) {
        orl_env_reset(env, obs);
        double ret = 0.0;
        orl_env_result r = {0};
        while (!r.terminated && !r.truncated) {
            int32_t s = orl_env_state_index(env, obs);
            int32_t a = orl_rng_categorical(&rng, probs + s * GW_ACTIONS, GW_ACTIONS);
            orl_env_step(env, NULL, a, obs, &r);
            ret += r.reward;
        }
        sum += ret;
        sum_sq += ret * ret;
    }
    orl_env_free(env);
    *mean = sum / n;
    double var = (sum_sq - n * *mean * *mean) / (n - 1);
    *se = sqrt(var / n);
}

Test(tabular, fixture_policies_exact_and_monte_carlo) {
    const char *paths[2] = {P1_PATH, P2_PATH};
    const uint64_t seeds[2] = {20190601, 20190602};
    for (int i = 0; i < 2; i++) {
        double probs[15 * 4];
        cr_assert_eq(orl_tabular_softmax_from_file(paths[i], 15, 4, probs), ORL_OK, "%s",
                     orl_error_message());
        double value;
        cr_assert_eq(orl_tabular_table_value(GW, probs, 15, 1.0, 0, &value), ORL_OK, "%s",
                     orl_error_message());
        cr_assert(isfinite(value) && value > -1000.0 && value < 101.0);
        double mean, se;
        monte_carlo(probs, 100000, seeds[i], &mean, &se);
        printf("GridWorld-4x4 p%d: DP value %.10f; Monte Carlo (100000 episodes, seed %llu) "
               "%.4f +- %.4f (z = %.2f)\n",
               i + 1, value, (unsigned long long)seeds[i], mean, se, (mean - value) / se);
        cr_assert(fabs(mean - value) < 4.0 * se, "p%d: DP %.6f, MC %.6f +- %.6f", i + 1, value,
                  mean, se);
    }
}

/* an MLP policy (one linear layer, no bias) whose logits at one-hot state s are theta[a*15+s]:
 * the fixture's softmax as an orl_policy */
static orl_policy *softmax_policy(const char *path) {
    double probs[15 * 4];
    cr_assert_eq(orl_tabular_softmax_from_file(path, 15, 4, probs), ORL_OK);
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "ris-softmax";
    spec.info.obs_dim = 16;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
    spec.info.n_actions = 4;
    spec.head = ORL_POLICY_HEAD_CATEGORICAL;
    spec.mlp.n_layers = 1;
    spec.mlp.widths[0] = 16;
    spec.mlp.widths[1] = 4;
    float params[4 * 16 + 4] = {0}; /* w (4, 16), b (4) */
    for (int a = 0; a < 4; a++)
        for (int s = 0; s < 15; s++) params[a * 16 + s] = (float)log(probs[s * 4 + a]);
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, params, NULL, &p), ORL_OK, "%s",
                 orl_error_message());
    return p;
}

Test(tabular, policy_value_through_orl_policy) {
    const char *paths[2] = {P1_PATH, P2_PATH};
    for (int i = 0; i < 2; i++) {
        double probs[15 * 4], table_value, policy_value;
        cr_assert_eq(orl_tabular_softmax_from_file(paths[i], 15, 4, probs), ORL_OK);
        cr_assert_eq(orl_tabular_table_value(GW, probs, 15, 1.0, 0, &table_value), ORL_OK);
        orl_policy *p = softmax_policy(paths[i]);
        cr_assert_eq(orl_tabular_policy_value(GW, p, 1.0, 0, &policy_value), ORL_OK, "%s",
                     orl_error_message());
        /* float32 logits and log-probabilities: agreement to float precision, amplified by at
         * most the 100 steps */
        cr_assert(fabs(policy_value - table_value) < 1e-3 * (1.0 + fabs(table_value)),
                  "p%d: policy %.9f, table %.9f", i + 1, policy_value, table_value);
        double policy_probs[16 * 4];
        cr_assert_eq(orl_tabular_policy_probs(GW, p, policy_probs), ORL_OK);
        for (int j = 0; j < 15 * 4; j++)
            cr_assert(fabs(policy_probs[j] - probs[j]) < 1e-5, "entry %d", j);
        orl_policy_free(p);
    }

    /* a policy that does not fit: 3 actions */
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "wrong";
    spec.info.obs_dim = 16;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
    spec.info.n_actions = 3;
    spec.head = ORL_POLICY_HEAD_CATEGORICAL;
    spec.mlp.n_layers = 1;
    spec.mlp.widths[0] = 16;
    spec.mlp.widths[1] = 3;
    orl_rng rng;
    orl_rng_seed(&rng, 9, 1);
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p), ORL_OK);
    double value;
    cr_assert_eq(orl_tabular_policy_value(GW, p, 1.0, 0, &value), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "wrong"), "%s", orl_error_message());
    orl_policy_free(p);
}

Test(tabular, softmax_reader_errors) {
    double probs[15 * 4];
    /* a small well-formed file: 2 states, 2 actions, theta[a*2+s] */
    const char *ok = scratch_file("ok.txt", "0 1\n  0\t-1\n");
    cr_assert_eq(orl_tabular_softmax_from_file(ok, 2, 2, probs), ORL_OK, "%s", orl_error_message());
    /* state 0: theta (0, 0) -> 1/2 each; state 1: theta (1, -1) */
    cr_assert_float_eq(probs[0], 0.5, 1e-15);
    cr_assert_float_eq(probs[1], 0.5, 1e-15);
    cr_assert_float_eq(probs[2], exp(1.0) / (exp(1.0) + exp(-1.0)), 1e-15);
    cr_assert_float_eq(probs[3], exp(-1.0) / (exp(1.0) + exp(-1.0)), 1e-15);

    /* huge parameters do not overflow */
    const char *huge = scratch_file("huge.txt", "1000 0 999 0\n");
    cr_assert_eq(orl_tabular_softmax_from_file(huge, 2, 2, probs), ORL_OK);
    cr_assert_float_eq(probs[0], 1.0 / (1.0 + exp(-1.0)), 1e-12);

    const char *bad = scratch_file("bad.txt", "0 1\n0 x2\n");
    cr_assert_eq(orl_tabular_softmax_from_file(bad, 2, 2, probs), ORL_ERR_FORMAT);
    cr_assert(strstr(orl_error_message(), "bad.txt:2:3"), "%s", orl_error_message());
    cr_assert(strstr(orl_error_message(), "'x2'"), "%s", orl_error_message());

    const char *nan = scratch_file("nan.txt", "0 nan 1 2");
    cr_assert_eq(orl_tabular_softmax_from_file(nan, 2, 2, probs), ORL_ERR_FORMAT);
    cr_assert(strstr(orl_error_message(), "nan.txt:1:3"), "%s", orl_error_message());

    const char *few = scratch_file("few.txt", "0 1 2\n");
    cr_assert_eq(orl_tabular_softmax_from_file(few, 2, 2, probs), ORL_ERR_FORMAT);
    cr_assert(strstr(orl_error_message(), "3 numbers, expected 4"), "%s", orl_error_message());

    const char *many = scratch_file("many.txt", "0 1 2 3\n4\n");
    cr_assert_eq(orl_tabular_softmax_from_file(many, 2, 2, probs), ORL_ERR_FORMAT);
    cr_assert(strstr(orl_error_message(), "many.txt:2:1"), "%s", orl_error_message());

    const char *empty = scratch_file("empty.txt", "");
    cr_assert_eq(orl_tabular_softmax_from_file(empty, 2, 2, probs), ORL_ERR_FORMAT);

    /* the fixtures read with the wrong shape */
    cr_assert_eq(orl_tabular_softmax_from_file(P1_PATH, 16, 4, probs), ORL_ERR_FORMAT);
    cr_assert(strstr(orl_error_message(), "60 numbers, expected 64"), "%s", orl_error_message());
    cr_assert_eq(orl_tabular_softmax_from_file(P1_PATH, 14, 4, probs), ORL_ERR_FORMAT);

    cr_assert_eq(orl_tabular_softmax_from_file(SCRATCH_DIR "/absent.txt", 2, 2, probs), ORL_ERR_IO);
    cr_assert(strstr(orl_error_message(), "absent.txt"), "%s", orl_error_message());
    cr_assert_eq(orl_tabular_softmax_from_file(ok, 0, 2, probs), ORL_ERR_INPUT);
}

/* ---- PointMaze ---- */

/* copies of the layouts in eval/pointmaze.c and docs/environments.md: a change to one of them
 * must be made in all three */
static const char *const umaze_map[] = {
    "#####", "#S..#", "###.#", "#G..#", "#####",
};
static const char *const medium_map[] = {
    "########", "#S.#...#", "#..#.#.#", "##...#.#", "#..#...#", "#.##.#.#", "#...#.G#", "########",
};

#define RADIUS      0.1
#define MAX_SPEED   2.0
#define DT          0.1
#define SUBSTEPS    10
#define MAX_FORCE   5.0
#define DAMPING     1.0
#define GOAL_RADIUS 0.5

typedef struct maze_case {
    const char *id;
    const char *const *map;
    int rows, cols, limit, dense;
} maze_case;

static const maze_case mazes[4] = {
    {"PointMaze-UMaze", umaze_map, 5, 5, 300, 0},
    {"PointMaze-UMaze-Dense", umaze_map, 5, 5, 300, 1},
    {"PointMaze-Medium", medium_map, 8, 8, 600, 0},
    {"PointMaze-Medium-Dense", medium_map, 8, 8, 600, 1},
};

static int map_wall(const maze_case *m, int r, int c) {
    return r < 0 || r >= m->rows || c < 0 || c >= m->cols || m->map[r][c] == '#';
}

/* the cell centre of a marker */
static void map_find(const maze_case *m, char marker, double *x, double *y) {
    *x = *y = NAN; /* set on every path: a map without the marker fails below */
    for (int r = 0; r < m->rows; r++)
        for (int c = 0; c < m->cols; c++)
            if (m->map[r][c] == marker) {
                *x = c + 0.5;
                *y = r + 0.5;
            }
    cr_assert(!isnan(*x), "%s: no '%c' in the map", m->id, marker);
}

/* the collision square at (x, y), shrunk by a hair for float rounding, overlaps no wall */
static int square_free(const maze_case *m, double x, double y) {
    double h = RADIUS - 1e-5;
    for (int i = 0; i < 4; i++) {
        double cx = x + (i & 1 ? h : -h), cy = y + (i & 2 ? h : -h);
        if (map_wall(m, (int)floor(cy), (int)floor(cx))) return 0;
    }
    return 1;
}

Test(pointmaze, specs) {
    for (int i = 0; i < 4; i++) {
        orl_env *env = make(mazes[i].id);
        const orl_env_spec *spec = orl_env_get_spec(env);
        cr_assert_str_eq(spec->id, mazes[i].id);
        cr_assert_eq(spec->obs_dim, 4);
        cr_assert_eq(spec->action_kind, ORL_ACTION_KIND_CONTINUOUS);
        cr_assert_eq(spec->act_dim, 2);
        cr_assert_eq(spec->n_actions, 0);
        cr_assert_eq(spec->max_episode_steps, mazes[i].limit);
        cr_assert_eq(spec->gamma, 0.99);
        for (int j = 0; j < 2; j++) {
            cr_assert_eq(spec->act_low[j], -1.0f);
            cr_assert_eq(spec->act_high[j], 1.0f);
        }
        cr_assert_eq(spec->obs_high[0], (float)mazes[i].cols);
        cr_assert_eq(spec->obs_high[1], (float)mazes[i].rows);
        cr_assert_eq(orl_env_n_states(env), 0);
        float obs[4] = {0};
        cr_assert_eq(orl_env_state_index(env, obs), -1);
        orl_env_free(env);
    }
}

Test(pointmaze, start_near_the_start_cell) {
    for (int i = 0; i < 4; i++) {
        orl_env *env = make(mazes[i].id);
        double sx, sy;
        map_find(&mazes[i], 'S', &sx, &sy);
        orl_env_seed(env, 101);
        double spread = 0.0;
        for (int e = 0; e < 200; e++) {
            float obs[4];
            orl_env_reset(env, obs);
            cr_assert(fabs(obs[0] - sx) <= 0.1 + 1e-6 && fabs(obs[1] - sy) <= 0.1 + 1e-6,
                      "%s: start (%g, %g)", mazes[i].id, (double)obs[0], (double)obs[1]);
            cr_assert(fabs(obs[2]) < 1.0 && fabs(obs[3]) < 1.0);
            spread += fabs(obs[0] - sx);
        }
        cr_assert(spread / 200 > 0.02, "the start is randomised");
        orl_env_free(env);
    }
}

/* one axis of a step in free space, in closed form: with q = 1 - h DAMPING, the velocity after k
 * substeps is F + (v0 - F) q^k (unit mass and damping), and the position moves by h times the
 * sum of those velocities for k = 1..SUBSTEPS */
static void free_axis(double p0, double v0, double action, double *p1, double *v1) {
    double h = DT / SUBSTEPS, q = 1.0 - h * DAMPING, f = MAX_FORCE * action / DAMPING;
    double qn = pow(q, SUBSTEPS);
    *v1 = f + (v0 - f) * qn;
    *p1 = p0 + h * (SUBSTEPS * f + (v0 - f) * q * (1.0 - qn) / (1.0 - q));
}

Test(pointmaze, free_space_step_by_hand) {
    orl_env *env = make("PointMaze-UMaze");
    orl_env_seed(env, 7);
    float obs[4], next[4];
    orl_env_reset(env, obs);
    const float act[2] = {0.5f, -0.25f};
    orl_env_result r;
    cr_assert_eq(orl_env_step(env, act, 0, next, &r), ORL_OK);
    double x, vx, y, vy;
    free_axis(obs[0], obs[2], 0.5, &x, &vx);
    free_axis(obs[1], obs[3], -0.25, &y, &vy);
    cr_assert_float_eq(next[0], x, 1e-5, "x %.7f vs %.7f", (double)next[0], x);
    cr_assert_float_eq(next[1], y, 1e-5, "y %.7f vs %.7f", (double)next[1], y);
    cr_assert_float_eq(next[2], vx, 1e-5, "vx %.7f vs %.7f", (double)next[2], vx);
    cr_assert_float_eq(next[3], vy, 1e-5, "vy %.7f vs %.7f", (double)next[3], vy);
    /* from rest the first step moves 0.5 * 5 * (0.1 - 0.01 * sum_{j<10} 0.99^j ...) ~ 0.0114 */
    cr_assert(next[0] > obs[0] && next[1] < obs[1] + 0.01f);

    /* actions beyond the bounds act as the bound */
    float a_big[2] = {3.0f, -7.0f}, a_clip[2] = {1.0f, -1.0f};
    float n_big[4], n_clip[4];
    orl_env_seed(env, 8);
    orl_env_reset(env, obs);
    orl_env_step(env, a_big, 0, n_big, &r);
    orl_env_seed(env, 8);
    orl_env_reset(env, obs);
    orl_env_step(env, a_clip, 0, n_clip, &r);
    cr_assert_eq(memcmp(n_big, n_clip, sizeof n_big), 0);

    /* non-finite actions are refused */
    float a_nan[2] = {NAN, 0.0f};
    cr_assert_eq(orl_env_step(env, a_nan, 0, n_big, &r), ORL_ERR_NUMERIC);
    orl_env_free(env);
}

Test(pointmaze, walls_stop_the_point) {
    /* from UMaze's start cell (1,1): walls above (y = 1), left (x = 1), below (y = 2), and to
     * the right the corridor ends at x = 4 */
    static const struct {
        float ax, ay;
        int axis;
        double limit;
        int upper;
    } pushes[] = {
        {0.0f, -1.0f, 1, 1.0 + RADIUS, 0},
        {-1.0f, 0.0f, 0, 1.0 + RADIUS, 0},
        {0.0f, 1.0f, 1, 2.0 - RADIUS, 1},
        {1.0f, 0.0f, 0, 4.0 - RADIUS, 1},
    };
    orl_env *env = make("PointMaze-UMaze");
    for (int i = 0; i < 4; i++) {
        orl_env_seed(env, 31 + (uint64_t)i);
        float obs[4];
        orl_env_reset(env, obs);
        float act[2] = {pushes[i].ax, pushes[i].ay};
        for (int t = 0; t < 100; t++) {
            orl_env_result r;
            cr_assert_eq(orl_env_step(env, act, 0, obs, &r), ORL_OK);
            double p = obs[pushes[i].axis];
            if (pushes[i].upper)
                cr_assert(p <= pushes[i].limit + 1e-6, "push %d: %g", i, p);
            else
                cr_assert(p >= pushes[i].limit - 1e-6, "push %d t %d: %g", i, t, p);
        }
        /* resting against the wall: within a substep's travel of it, no speed into it */
        double p = obs[pushes[i].axis];
        cr_assert(fabs(p - pushes[i].limit) < MAX_SPEED * DT / SUBSTEPS + 1e-6, "push %d: %g", i,
                  p);
        cr_assert(fabs(obs[2 + pushes[i].axis]) < 0.6, "push %d: v %g", i,
                  (double)obs[2 + pushes[i].axis]);
    }
    orl_env_free(env);
}

Test(pointmaze, random_walks_never_enter_walls) {
    const uint64_t seed = 4242;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 3);
    for (int i = 0; i < 4; i += 2) {
        const maze_case *m = &mazes[i];
        orl_env *env = make(m->id);
        orl_env_seed(env, seed);
        int visited[16][16] = {{0}};
        int64_t steps = 0, near_wall = 0;
        for (int e = 0; e < 60; e++) {
            float obs[4], prev[4];
            orl_env_reset(env, obs);
            float act[2] = {0, 0};
            orl_env_result r = {0};
            while (!r.terminated && !r.truncated) {
                /* actions held for a while (so the point builds up speed), beyond the bounds
                 * at times (clipped) */
                if (steps % 15 == 0) {
                    act[0] = (float)(3.0 * orl_rng_uniform(&rng) - 1.5);
                    act[1] = (float)(3.0 * orl_rng_uniform(&rng) - 1.5);
                }
                memcpy(prev, obs, sizeof obs);
                cr_assert_eq(orl_env_step(env, act, 0, obs, &r), ORL_OK);
                steps++;
                cr_assert(square_free(m, obs[0], obs[1]), "%s seed %llu step %lld: (%g, %g)", m->id,
                          (unsigned long long)seed, (long long)steps, (double)obs[0],
                          (double)obs[1]);
                for (int j = 0; j < 2; j++) {
                    cr_assert(fabs(obs[j] - prev[j]) <= MAX_SPEED * DT + 1e-5);
                    cr_assert(fabs(obs[2 + j]) <= MAX_SPEED);
                }
                visited[(int)obs[1]][(int)obs[0]] = 1;
                /* the square within a substep's travel (plus its half-width) of a wall face */
                double g = MAX_SPEED * DT / SUBSTEPS + RADIUS;
                if (!square_free(m, obs[0] + g, obs[1]) || !square_free(m, obs[0] - g, obs[1]) ||
                    !square_free(m, obs[0], obs[1] + g) || !square_free(m, obs[0], obs[1] - g))
                    near_wall++;
            }
        }
        int n_visited = 0;
        for (int r = 0; r < 16; r++)
            for (int c = 0; c < 16; c++) n_visited += visited[r][c];
        printf("%s: %lld random steps (seed %llu), %d cells visited, %lld steps against a "
               "wall\n",
               m->id, (long long)steps, (unsigned long long)seed, n_visited, (long long)near_wall);
        cr_assert(n_visited >= 3, "the walk explores");
        cr_assert(near_wall > steps / 20, "the walk meets walls often");
        orl_env_free(env);
    }
}

/* drives the point along waypoints (cell centres) with a PD controller for the whole episode,
 * checking every reward against the observed position; returns the steps to the goal radius */
static int drive(const maze_case *m, const double (*waypoints)[2], int n_waypoints, uint64_t seed) {
    orl_env *env = make(m->id);
    orl_env_seed(env, seed);
    double gx, gy;
    map_find(m, 'G', &gx, &gy);
    float obs[4];
    orl_env_reset(env, obs);
    int w = 0, reached = -1, steps = 0;
    orl_env_result r = {0};
    while (!r.terminated && !r.truncated) {
        double tx = waypoints[w][0], ty = waypoints[w][1];
        if (w < n_waypoints - 1 && hypot(obs[0] - tx, obs[1] - ty) < 0.25) w++;
        tx = waypoints[w][0];
        ty = waypoints[w][1];
        float act[2] = {(float)(2.0 * (tx - obs[0]) - 1.0 * obs[2]),
                        (float)(2.0 * (ty - obs[1]) - 1.0 * obs[3])};
        cr_assert_eq(orl_env_step(env, act, 0, obs, &r), ORL_OK);
        steps++;
        double d = hypot(obs[0] - gx, obs[1] - gy);
        if (m->dense)
            cr_assert_float_eq(r.reward, exp(-d), 1e-5, "step %d", steps);
        else if (fabs(d - GOAL_RADIUS) > 1e-5)
            cr_assert_eq(r.reward, d <= GOAL_RADIUS ? 1.0 : 0.0, "step %d: d %g", steps, d);
        if (reached < 0 && d <= GOAL_RADIUS) reached = steps;
        cr_assert_eq(r.terminated, 0, "reaching the goal does not end the episode");
    }
    cr_assert_eq(steps, m->limit);
    /* it stays at the goal to the end */
    cr_assert(hypot(obs[0] - gx, obs[1] - gy) < 0.1, "%s: ends at (%g, %g)", m->id, (double)obs[0],
              (double)obs[1]);
    orl_env_free(env);
    return reached;
}

Test(pointmaze, rewards_along_a_solved_maze) {
    /* (x, y) waypoints: cell centres along the corridors */
    static const double umaze_path[][2] = {{3.5, 1.5}, {3.5, 3.5}, {1.5, 3.5}};
    static const double medium_path[][2] = {{2.5, 2.5}, {2.5, 3.5}, {4.5, 3.5},
                                            {4.5, 1.5}, {6.5, 1.5}, {6.5, 6.5}};
    for (int i = 0; i < 4; i++) {
        int n = i < 2 ? 3 : 6;
        int reached = drive(&mazes[i], i < 2 ? umaze_path : medium_path, n, 55);
        printf("%s: the waypoint controller (seed 55) reaches the goal at step %d\n", mazes[i].id,
               reached);
        cr_assert(reached > 0 && reached < mazes[i].limit / 2, "%s: %d", mazes[i].id, reached);
    }

    /* at the start: far from the goal, sparse 0, dense exp(-distance) */
    orl_env *env = make("PointMaze-UMaze-Dense");
    orl_env_seed(env, 1);
    float obs[4];
    orl_env_reset(env, obs);
    float act[2] = {0, 0};
    orl_env_result r;
    orl_env_step(env, act, 0, obs, &r);
    cr_assert(fabs(r.reward - exp(-2.0)) < 0.05, "about two cells from the goal: %g", r.reward);
    orl_env_free(env);
}

Test(pointmaze, seeding_is_reproducible) {
    for (int i = 0; i < 4; i++) {
        float trace[3][40][4];
        double rewards[3][40];
        const uint64_t seeds[3] = {17, 17, 18};
        for (int k = 0; k < 3; k++) {
            orl_env *env = make(mazes[i].id);
            orl_env_seed(env, seeds[k]);
            float obs[4];
            orl_env_reset(env, obs);
            memcpy(trace[k][0], obs, sizeof obs);
            rewards[k][0] = 0.0;
            for (int t = 1; t < 40; t++) {
                float act[2] = {(float)sin(0.3 * t), (float)cos(0.2 * t)};
                orl_env_result r;
                orl_env_step(env, act, 0, trace[k][t], &r);
                rewards[k][t] = r.reward;
            }
            orl_env_free(env);
        }
        cr_assert_eq(memcmp(trace[0], trace[1], sizeof trace[0]), 0, "%s seed 17", mazes[i].id);
        cr_assert_eq(memcmp(rewards[0], rewards[1], sizeof rewards[0]), 0);
        cr_assert_neq(memcmp(trace[0][0], trace[2][0], sizeof trace[0][0]), 0, "seeds 17, 18");
    }
}

Test(pointmaze, truncated_at_the_limit) {
    for (int i = 0; i < 4; i++) {
        orl_env *env = make(mazes[i].id);
        orl_env_seed(env, 9);
        float obs[4];
        orl_env_result r;
        cr_assert_eq(orl_env_step(env, (float[2]){0, 0}, 0, obs, &r), ORL_ERR_INPUT,
                     "a step before reset");
        orl_env_reset(env, obs);
        for (int t = 1; t <= mazes[i].limit; t++) {
            float act[2] = {0.3f, -0.3f};
            cr_assert_eq(orl_env_step(env, act, 0, obs, &r), ORL_OK);
            cr_assert_eq(r.terminated, 0);
            cr_assert_eq(r.truncated, t == mazes[i].limit, "%s step %d", mazes[i].id, t);
        }
        cr_assert_eq(orl_env_elapsed(env), mazes[i].limit);
        cr_assert_eq(orl_env_step(env, (float[2]){0, 0}, 0, obs, &r), ORL_ERR_INPUT);
        orl_env_free(env);
    }
}
