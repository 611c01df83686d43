/* eval/gen.c with --behavior diverse (eval/behavior.c's PointMaze "diverse" level): stitching
 * data as D4RL's maze2d/"diverse" sets. Checked: the same seed gives the same bits and another
 * seed other data; every position lies in an open cell, every open cell is visited and each
 * episode starts at the environment's start cell; the evaluation goal is reached far less
 * often than by the expert; the rewards are the environment's for the evaluation goal (sparse
 * and dense); and the logged log-probabilities are exactly what the policy's density gives when
 * the rollout is replayed by hand, a density that integrates to one over the action box at a
 * mid-episode state. Seeds are named in each test; files go under
 * ORL_BINARY_DIR/tmp-gen-diverse/. */
#include "orl/behavior.h"
#include "orl/env.h"
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-gen-diverse"
#include "tests/lsan_hdf5.h"
#include "tests/scratch.h"

/* eval/pointmaze.c's UMaze (docs/environments.md): cell (row r, column c) is [c, c+1) x [r, r+1) */
static const char *const umaze[5] = {"#####", "#S..#", "###.#", "#G..#", "#####"};

static orl_dataset *gen(const char *env, const char *behavior, int64_t episodes, uint64_t seed,
                        const char *file) {
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = env;
    opt.behavior = behavior;
    opt.episodes = episodes;
    opt.seed = seed;
    orl_gen_report rep;
    const char *path = scratch(file);
    orl_status st = orl_gen(&opt, path, &rep);
    cr_assert_eq(st, ORL_OK, "gen %s %s: %s", env, behavior, orl_error_message());
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(path, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

Test(gen_diverse, same_seed_same_bits_and_the_header_says_what_it_was) {
    orl_dataset *a = gen("PointMaze-UMaze", "diverse", 6, 5, "a.h5");
    orl_dataset *b = gen("PointMaze-UMaze", "diverse", 6, 5, "b.h5");
    orl_dataset *c = gen("PointMaze-UMaze", "diverse", 6, 6, "c.h5");
    cr_assert_eq(a->n_steps, b->n_steps);
    size_t N = (size_t)a->n_steps;
    cr_assert(memcmp(a->obs, b->obs, N * 4 * sizeof(float)) == 0);
    cr_assert(memcmp(a->act, b->act, N * 2 * sizeof(float)) == 0);
    cr_assert(memcmp(a->logp_b, b->logp_b, N * sizeof(float)) == 0);
    cr_assert(memcmp(a->rew, b->rew, N * sizeof(float)) == 0);
    cr_assert(memcmp(a->act, c->act, N * 2 * sizeof(float)) != 0, "seed 6 gave seed 5's data");
    cr_assert(strstr(a->h.behavior, "diverse") &&
                  strstr(a->h.behavior, "builtin:PointMaze-UMaze/diverse"),
              "behaviour '%s'", a->h.behavior);
    orl_dataset_free(a);
    orl_dataset_free(b);
    orl_dataset_free(c);
}

Test(gen_diverse, positions_in_open_cells_every_cell_visited_starts_at_s) {
    /* seed 3, 20 episodes of 300 steps */
    orl_dataset *ds = gen("PointMaze-UMaze", "diverse", 20, 3, "cells.h5");
    int visited[5][5] = {{0}};
    for (int64_t t = 0; t < ds->n_steps; t++)
        for (int k = 0; k < 2; k++) {
            const float *o = (k ? ds->next_obs : ds->obs) + 4 * t;
            int col = (int)floorf(o[0]), row = (int)floorf(o[1]);
            cr_assert(row >= 0 && row < 5 && col >= 0 && col < 5 && umaze[row][col] != '#',
                      "step %lld: (%g, %g) is in a wall cell", (long long)t, o[0], o[1]);
            visited[row][col] = 1;
        }
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++)
            if (umaze[r][c] != '#') cr_assert(visited[r][c], "cell (%d, %d) never visited", r, c);
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        const float *o = ds->obs + 4 * ds->ep_off[e];
        cr_assert(fabsf(o[0] - 1.5f) <= 0.1f + 1e-6f && fabsf(o[1] - 1.5f) <= 0.1f + 1e-6f,
                  "episode %lld starts at (%g, %g)", (long long)e, o[0], o[1]);
    }
    orl_dataset_free(ds);
}

Test(gen_diverse, the_evaluation_goal_is_rarely_reached_and_rewards_are_the_environments) {
    /* seed 2, 20 episodes each: the fraction of steps rewarded (sparse: within 0.5 of the
     * goal) for diverse against expert data */
    orl_dataset *d = gen("PointMaze-UMaze", "diverse", 20, 2, "sparse-diverse.h5");
    orl_dataset *x = gen("PointMaze-UMaze", "expert", 20, 2, "sparse-expert.h5");
    double fd = 0.0, fx = 0.0;
    for (int64_t t = 0; t < d->n_steps; t++) {
        const float *o = d->next_obs + 4 * t;
        double dist = hypot((double)o[0] - 1.5, (double)o[1] - 3.5);
        cr_assert_eq(d->rew[t], dist <= 0.5 ? 1.0f : 0.0f, "step %lld", (long long)t);
        fd += d->rew[t];
    }
    for (int64_t t = 0; t < x->n_steps; t++) fx += x->rew[t];
    fd /= (double)d->n_steps;
    fx /= (double)x->n_steps;
    cr_assert(fd > 0.0, "the goal is never reached: nothing to stitch");
    cr_assert(fd < 0.25 * fx, "rewarded fraction %.3f (expert %.3f)", fd, fx);
    printf("rewarded fraction of steps: diverse %.3f, expert %.3f (seed 2)\n", fd, fx);
    orl_dataset_free(d);
    orl_dataset_free(x);
    /* dense: exp(-distance) to the evaluation goal after the step */
    orl_dataset *dd = gen("PointMaze-UMaze-Dense", "diverse", 4, 2, "dense-diverse.h5");
    for (int64_t t = 0; t < dd->n_steps; t++) {
        const float *o = dd->next_obs + 4 * t;
        double want = exp(-hypot((double)o[0] - 1.5, (double)o[1] - 3.5));
        cr_assert(fabs(dd->rew[t] - want) < 1e-5, "step %lld: %g, want %g", (long long)t,
                  dd->rew[t], want);
    }
    orl_dataset_free(dd);
}

Test(gen_diverse, logged_logp_is_the_density_of_the_replayed_rollout) {
    /* seed 9, Medium: replay episodes 0 and 1 as orl_rollout runs them (environment and policy
     * rng seeded per episode) with one work across both; the actions and logp must be the
     * file's bits. Half-way through episode 1, the density at the goal in force integrates to
     * one over [-1, 1]^2 (midpoint rule, 600 x 600 cells). */
    orl_dataset *ds = gen("PointMaze-Medium", "diverse", 2, 9, "replay.h5");
    orl_policy *p = NULL;
    cr_assert_eq(orl_behavior_create("PointMaze-Medium/diverse", &p), ORL_OK);
    enum { CELLS = 600 };
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, CELLS, &w), ORL_OK);
    orl_env *env = NULL;
    cr_assert_eq(orl_env_make("PointMaze-Medium", &env), ORL_OK);
    float obs[4], next[4], act[2];
    int64_t row = 0;
    double total = NAN;
    for (int64_t e = 0; e < 2; e++) {
        uint64_t es = orl_rollout_episode_seed(9, e);
        orl_env_seed(env, es);
        orl_rng rng;
        orl_rng_seed(&rng, es, ORL_ROLLOUT_POLICY_STREAM);
        orl_env_reset(env, obs);
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++, row++) {
            double lp;
            cr_assert_eq(orl_behavior_act_logp(p, w, obs, 1, &rng, act, NULL, &lp), ORL_OK);
            cr_assert(memcmp(obs, ds->obs + 4 * t, sizeof obs) == 0, "row %lld", (long long)t);
            cr_assert(memcmp(act, ds->act + 2 * t, sizeof act) == 0, "row %lld", (long long)t);
            cr_assert_eq((float)lp, ds->logp_b[t], "row %lld: %g logged %g", (long long)t, lp,
                         ds->logp_b[t]);
            if (e == 1 && t == (ds->ep_off[1] + ds->ep_off[2]) / 2) {
                float bobs[CELLS * 4], bact[CELLS * 2];
                double logp[CELLS], h = 2.0 / CELLS;
                total = 0.0;
                for (int b = 0; b < CELLS; b++) memcpy(bobs + 4 * b, obs, sizeof obs);
                for (int i = 0; i < CELLS; i++) {
                    for (int b = 0; b < CELLS; b++) {
                        bact[2 * b] = (float)(-1.0 + (i + 0.5) * h);
                        bact[2 * b + 1] = (float)(-1.0 + (b + 0.5) * h);
                    }
                    cr_assert_eq(orl_policy_logp(p, w, bobs, CELLS, bact, NULL, logp), ORL_OK);
                    for (int b = 0; b < CELLS; b++) total += exp(logp[b]) * h * h;
                }
            }
            orl_env_result r;
            cr_assert_eq(orl_env_step(env, act, 0, next, &r), ORL_OK);
            memcpy(obs, next, sizeof obs);
        }
    }
    cr_assert_eq(row, ds->n_steps);
    cr_assert(fabs(total - 1.0) < 1e-2, "the density integrates to %.6f", total);
    orl_env_free(env);
    orl_policy_work_free(w);
    orl_policy_free(p);
    orl_dataset_free(ds);
}

Test(gen_diverse, only_for_pointmaze) {
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = "Pendulum-v1";
    opt.behavior = "diverse";
    opt.episodes = 2;
    cr_assert_eq(orl_gen(&opt, scratch("bad.h5"), NULL), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "PointMaze"), "%s", orl_error_message());
    orl_policy *p = NULL;
    cr_assert_eq(orl_behavior_create("Pendulum-v1/diverse", &p), ORL_ERR_INPUT);
    orl_error_clear();
}
