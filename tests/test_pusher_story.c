/* The robot-arm log story end to end (examples/pusher.csv, written by
 * scripts/make-pusher-log.py from `orl gen --env Pusher-v4 --behavior expert`): `orl ingest`
 * with examples/pusher.map, then the ingested columns are checked against the simulator (each
 * episode's first observation is Pusher-v4's reset for that episode's seed, bit for bit, and
 * replaying the logged torques reproduces the logged observations and rewards), so a policy
 * trained on the log acts on the environment's own observation vector; then `orl train --algo
 * bc` (a tiny budget) and `orl eval --env Pusher-v4` run on the result. Built with
 * ORL_WITH_MUJOCO only (otherwise one skipped test). */
#include "tests/shell.h"

#include <criterion/criterion.h>

#ifdef ORL_WITH_MUJOCO
#include "orl/dataset.h"
#include "orl/env.h"
#include "orl/eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define DIR      ORL_BINARY_DIR "/tmp-pusher-story"
#define ORL      ORL_BINARY_DIR "/orl"
#define EXAMPLES ORL_SOURCE_DIR "/examples"

Test(pusher_story, ingest_matches_the_environment_then_train_and_eval) {
    mkdir(DIR, 0755);
    cr_assert_eq(run(ORL " ingest " EXAMPLES "/pusher.csv --map " EXAMPLES "/pusher.map -o " DIR
                         "/pusher.h5 >/dev/null"),
                 0);
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(DIR "/pusher.h5", NULL, NULL, &ds), ORL_OK, "%s",
                 orl_error_message());
    /* 20 episodes of 100 rows; ingest drops each episode's last (non-terminal) row, whose
     * next observation the log does not have */
    cr_assert_eq(ds->h.obs_dim, 23);
    cr_assert_eq(ds->h.act_dim, 7);
    cr_assert_eq(ds->n_episodes, 20);
    cr_assert_eq(ds->n_steps, 20 * 99);
    cr_assert_str_eq(ds->h.env_id, "Pusher-v4");

    orl_env *env = NULL;
    cr_assert_eq(orl_env_make("Pusher-v4", &env), ORL_OK);
    float obs[23], next[23];
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        /* orl gen --seed 0 seeds episode e as orl_rollout does */
        orl_env_seed(env, orl_rollout_episode_seed(0, e));
        orl_env_reset(env, obs);
        const float *logged = ds->obs + ds->ep_off[e] * 23;
        cr_assert_eq(memcmp(obs, logged, sizeof obs), 0,
                     "episode %lld: the logged first observation is not the reset's", (long long)e);
        /* the torque columns drive the arm: replaying them gives the logged next rows */
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e] + 10; t++) {
            orl_env_result r;
            cr_assert_eq(orl_env_step(env, ds->act + t * 7, 0, next, &r), ORL_OK);
            cr_assert(fabs(r.reward - (double)ds->rew[t]) < 1e-5, "step %lld: reward %g vs %g",
                      (long long)t, r.reward, (double)ds->rew[t]);
            for (int i = 0; i < 23; i++)
                cr_assert(fabsf(next[i] - ds->next_obs[t * 23 + i]) < 1e-4f,
                          "step %lld, observation %d: %g vs %g", (long long)t, i, (double)next[i],
                          (double)ds->next_obs[t * 23 + i]);
        }
    }
    orl_env_free(env);
    orl_dataset_free(ds);

    cr_assert_eq(run(ORL " train --algo bc --data " DIR "/pusher.h5 --steps 500 --set hidden=64 "
                         "-o " DIR "/bc.h5 >/dev/null 2>&1"),
                 0);
    cr_assert_eq(
        run(ORL " eval " DIR "/bc.h5 --env Pusher-v4 --episodes 5 --json > " DIR "/eval.json"), 0);
    FILE *f = fopen(DIR "/eval.json", "r");
    cr_assert(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    /* cloning the expert log beats the uniform random policy (about -149, eval/scores.c) by
     * far: the policy acts on the vector it was trained on */
    const char *at = strstr(text, "\"return_mean\":");
    cr_assert(at, "%s", text);
    double mean = strtod(at + strlen("\"return_mean\":"), NULL);
    cr_assert(mean > -100.0, "bc on the pusher log: mean return %g over 5 episodes", mean);
}
#else
Test(pusher_story, needs_mujoco, .disabled = 1) {}
#endif
