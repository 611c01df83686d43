/* bench/train: training steps per second of orl_train (the whole loop: batch sampling and
 * gathering, forward, loss, backward, Adam; for awr also its value fits and weight passes,
 * amortised as they occur) on synthetic data, default networks (2 hidden layers of 256, ReLU),
 * batch 256, seed 1, no validation split, no logging.
 *   a          obs 17 -> 256 -> 256 -> 6, continuous (deterministic head), 100 episodes x 1000
 *   pendulum   obs 3 -> 256 -> 256 -> 1, continuous, as Pendulum-v1
 *   cartpole   obs 4 -> 256 -> 256 -> 2 logits, discrete (categorical head), as CartPole-v1
 * Each case runs 3000 steps (3 AWR iterations) after a 200-step warm-up run; steps_per_s is
 * steps / wall time of the timed run. Output: one JSON object per line ("hidden": the width of
 * every network's 2 hidden layers).
 * iql (twin critics, V and a Gaussian actor, all 2 hidden layers) at CORL's shape, case "a"
 * (obs 17, act 6, batch 256, 256x256), and at 64x64 on the same data (case "a64").
 * An argument names one algorithm to run alone (e.g. `bench/train iql`). */
#include "orl/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEPS    3000
#define EPISODES 100
#define LENGTH   1000

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static orl_dataset *synthetic(int32_t S, int32_t A, int discrete) {
    orl_header h;
    if (orl_header_init(&h, S, discrete ? 1 : A,
                        discrete ? ORL_ACTION_KIND_DISCRETE : ORL_ACTION_KIND_CONTINUOUS,
                        discrete ? A : 0) != ORL_OK)
        return NULL;
    for (int32_t j = 0; !discrete && j < A; j++) {
        h.act_low[j] = -1.0f;
        h.act_high[j] = 1.0f;
    }
    orl_dataset *ds = NULL;
    int64_t N = (int64_t)EPISODES * LENGTH;
    if (orl_dataset_create(&h, N, EPISODES, &ds) != ORL_OK) {
        orl_header_free(&h);
        return NULL;
    }
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, 1, 1);
    for (int64_t i = 0; i < N; i++) {
        for (int32_t j = 0; j < S; j++) {
            ds->obs[i * S + j] = (float)orl_rng_normal(&rng);
            ds->next_obs[i * S + j] = (float)orl_rng_normal(&rng);
        }
        if (discrete)
            ds->act_idx[i] = (int32_t)orl_rng_below(&rng, (uint32_t)A);
        else
            for (int32_t j = 0; j < A; j++)
                ds->act[i * A + j] = (float)(1.8 * orl_rng_uniform(&rng) - 0.9);
        ds->rew[i] = (float)orl_rng_normal(&rng);
        ds->terminal[i] = 0;
        ds->timeout[i] = (i + 1) % LENGTH == 0;
        ds->logp_b[i] = NAN;
    }
    ds->n_steps = N;
    if (orl_dataset_index(ds) != ORL_OK) {
        orl_dataset_free(ds);
        return NULL;
    }
    return ds;
}

static int run(const char *algo, const char *name, const orl_dataset *ds, int32_t hidden) {
    char hidden_set[32];
    snprintf(hidden_set, sizeof hidden_set, "hidden=%d", hidden);
    const char *sets[] = {hidden_set};
    orl_train_options opt;
    orl_train_options_init(&opt);
    opt.algo = algo;
    opt.sets = sets;
    opt.n_sets = 1;
    opt.batch = 256;
    opt.seed = 1;
    opt.val_fraction = 0.0;
    opt.log_every = 0;
    orl_policy *p = NULL;
    opt.steps = 200;
    if (orl_train(ds, &opt, &p, NULL) != ORL_OK) goto fail;
    orl_policy_free(p);
    opt.steps = STEPS;
    double t0 = now();
    if (orl_train(ds, &opt, &p, NULL) != ORL_OK) goto fail;
    double dt = now() - t0;
    orl_policy_free(p);
    printf("{\"bench\":\"train\",\"algo\":\"%s\",\"case\":\"%s\",\"obs\":%d,\"batch\":256,"
           "\"hidden\":%d,\"steps\":%d,\"seconds\":%.3f,\"steps_per_s\":%.1f}\n",
           algo, name, ds->h.obs_dim, hidden, STEPS, dt, STEPS / dt);
    fflush(stdout);
    return 0;
fail:
    fprintf(stderr, "bench/train: %s %s: %s\n", algo, name, orl_error_message());
    return 1;
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    struct {
        const char *name;
        int32_t S, A;
        int discrete;
    } cases[] = {{"a", 17, 6, 0}, {"pendulum", 3, 1, 0}, {"cartpole", 4, 2, 1}};
    const char *algos[] = {"bc", "awr"};
    int bad = 0;
    for (int c = 0; c < 3; c++) {
        orl_dataset *ds = synthetic(cases[c].S, cases[c].A, cases[c].discrete);
        if (!ds) {
            fprintf(stderr, "bench/train: %s\n", orl_error_message());
            return 1;
        }
        for (int k = 0; k < 2; k++)
            if (!only || strcmp(only, algos[k]) == 0) bad |= run(algos[k], cases[c].name, ds, 256);
        /* iql at CORL's shape and at 64x64 */
        if (c == 0 && (!only || strcmp(only, "iql") == 0)) {
            bad |= run("iql", "a", ds, 256);
            bad |= run("iql", "a64", ds, 64);
        }
        orl_dataset_free(ds);
    }
    return bad;
}
