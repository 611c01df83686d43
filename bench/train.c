/* bench/train: training steps per second of orl_train (the whole loop: batch sampling and
 * gathering, forward, loss, backward, Adam; for awr also its value fits and weight passes,
 * amortised as they occur) on synthetic data, default networks (2 hidden layers of 256, ReLU),
 * batch 256, seed 1, no validation split, no logging.
 *   a          obs 17 -> 256 -> 256 -> 6, continuous (deterministic head), 100 episodes x 1000
 *   pendulum   obs 3 -> 256 -> 256 -> 1, continuous, as Pendulum-v1
 *   cartpole   obs 4 -> 256 -> 256 -> 2 logits, discrete (categorical head), as CartPole-v1
 * and td3bc (twin critics over [s, a], the actor updated every 2nd step: steps_per_s counts
 * critic updates, as CORL's iterations) on case a at CORL's shape (256 x 256) and at 64 x 64.
 * Each case runs 3000 steps (3 AWR iterations) after a 200-step warm-up run; steps_per_s is
 * steps / wall time of the timed run. Usage: train [STEPS [ALGO]] (a shorter run, one
 * learner). Output: one JSON object per line.
 * cql (run_cql below): CORL's shape (case a: obs 17, act 6, batch 256, critics and actor 3x256,
 * 10 sampled actions per state and source, twin critics) and a small one (pendulum: 64x64
 * critics and actor, 10 samples), and discrete CQL at d3rlpy's 2x256 on the cartpole case;
 * short runs of their own lengths (CQL_STEPS_*, after a 3-step warm-up), with the FLOPs one
 * update needs (forward 2 per multiply-add; a backward with parameter gradients counted as 2
 * forwards, an input gradient alone as 1) and the rate they ran at. ALGO cql runs only these. */
#include "orl/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEPS    3000
#define MAX_SETS 2
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

static int run(const char *algo, const char *name, const orl_dataset *ds, int32_t hidden,
               int64_t steps) {
    char hidden_set[32];
    snprintf(hidden_set, sizeof hidden_set, "hidden=%d", (int)hidden);
    const char *sets[MAX_SETS] = {hidden_set};
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
    opt.steps = steps;
    double t0 = now();
    if (orl_train(ds, &opt, &p, NULL) != ORL_OK) goto fail;
    double dt = now() - t0;
    orl_policy_free(p);
    printf("{\"bench\":\"train\",\"algo\":\"%s\",\"case\":\"%s\",\"obs\":%d,\"act\":%d,"
           "\"hidden\":%d,\"batch\":256,\"steps\":%lld,\"seconds\":%.3f,\"steps_per_s\":%.1f}\n",
           algo, name, ds->h.obs_dim, ds->h.act_dim, (int)hidden, (long long)steps, dt,
           (double)steps / dt);
    fflush(stdout);
    return 0;
fail:
    fprintf(stderr, "bench/train: %s %s: %s\n", algo, name, orl_error_message());
    return 1;
}

#define CQL_STEPS_LARGE 20
#define CQL_STEPS_SMALL 300

/* FLOPs of one CQL update with the settings below (see the file comment) */
static double cql_flops(const orl_dataset *ds, int32_t B, int32_t hidden, int32_t layers,
                        int32_t n) {
    int32_t S = ds->h.obs_dim, A = ds->h.act_dim;
    orl_mlp_config c = {0}, a = {0};
    int discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    c.n_layers = a.n_layers = layers + 1;
    c.widths[0] = discrete ? S : S + A;
    a.widths[0] = S;
    for (int32_t l = 1; l <= layers; l++) c.widths[l] = a.widths[l] = hidden;
    c.widths[layers + 1] = discrete ? ds->h.n_actions : 1;
    a.widths[layers + 1] = 2 * A;
    if (discrete) /* 1 Q-network: online and target at s', online at s with backward */
        return 2.0 * orl_mlp_forward_flops(&c, B) + 3.0 * orl_mlp_forward_flops(&c, B);
    int32_t rows = B * (1 + 3 * n), arows = B * (1 + 2 * n);
    double critic = 3.0 * orl_mlp_forward_flops(&c, rows) + 3.0 * orl_mlp_forward_flops(&c, B);
    double actor = orl_mlp_forward_flops(&a, arows) + 3.0 * orl_mlp_forward_flops(&a, B);
    return 2.0 * critic + actor;
}

static int run_cql(const char *name, const orl_dataset *ds, const char *const *sets, int n_sets,
                   int32_t hidden, int32_t layers, int64_t steps) {
    orl_train_options opt;
    orl_train_options_init(&opt);
    opt.algo = "cql";
    opt.batch = 256;
    opt.seed = 1;
    opt.val_fraction = 0.0;
    opt.log_every = 0;
    opt.sets = sets;
    opt.n_sets = n_sets;
    orl_policy *p = NULL;
    opt.steps = 3;
    if (orl_train(ds, &opt, &p, NULL) != ORL_OK) goto fail;
    orl_policy_free(p);
    opt.steps = steps;
    double t0 = now();
    if (orl_train(ds, &opt, &p, NULL) != ORL_OK) goto fail;
    double dt = now() - t0;
    orl_policy_free(p);
    double flops = cql_flops(ds, 256, hidden, layers, 10);
    printf("{\"bench\":\"train\",\"algo\":\"cql\",\"case\":\"%s\",\"obs\":%d,\"batch\":256,"
           "\"hidden\":%d,\"layers\":%d,\"n_samples\":10,\"steps\":%lld,\"seconds\":%.3f,"
           "\"steps_per_s\":%.2f,\"gflop_per_step\":%.3f,\"gflop_per_s\":%.1f}\n",
           name, ds->h.obs_dim, hidden, layers, (long long)steps, dt, (double)steps / dt,
           flops * 1e-9, flops * 1e-9 * (double)steps / dt);
    fflush(stdout);
    return 0;
fail:
    fprintf(stderr, "bench/train: cql %s: %s\n", name, orl_error_message());
    return 1;
}

/* CQL at CORL's shape, at 64x64, and discrete CQL (d3rlpy's 2x256) */
static int run_cql_cases(void) {
    static const char *const large[] = {"hidden=256", "layers=3", "actor_hidden=256",
                                        "actor_layers=3", "n_samples=10"};
    static const char *const small[] = {"hidden=64", "layers=2", "actor_hidden=64",
                                        "actor_layers=2", "n_samples=10"};
    int bad = 0;
    orl_dataset *ds = synthetic(17, 6, 0);
    if (!ds) return 1;
    bad |= run_cql("a", ds, large, 5, 256, 3, CQL_STEPS_LARGE);
    orl_dataset_free(ds);
    ds = synthetic(3, 1, 0);
    if (!ds) return 1;
    bad |= run_cql("pendulum", ds, small, 5, 64, 2, CQL_STEPS_SMALL);
    orl_dataset_free(ds);
    ds = synthetic(4, 2, 1);
    if (!ds) return 1;
    bad |= run_cql("cartpole", ds, NULL, 0, 256, 2, 3000);
    orl_dataset_free(ds);
    return bad;
}

int main(int argc, char **argv) {
    int64_t steps = argc > 1 ? atoll(argv[1]) : STEPS;
    const char *only = argc > 2 ? argv[2] : NULL;
    if (steps < 1) {
        fprintf(stderr, "usage: train [STEPS [ALGO]]\n");
        return 2;
    }
    struct {
        const char *name;
        int32_t S, A;
        int discrete;
    } cases[] = {{"a", 17, 6, 0}, {"pendulum", 3, 1, 0}, {"cartpole", 4, 2, 1}};
    /* (algorithm, case, hidden width) */
    struct {
        const char *algo;
        int c;
        int32_t hidden;
    } runs[] = {{"bc", 0, 256}, {"awr", 0, 256}, {"td3bc", 0, 256}, {"td3bc", 0, 64},
                {"bc", 1, 256}, {"awr", 1, 256}, {"bc", 2, 256},    {"awr", 2, 256}};
    int bad = 0;
    for (int c = 0; c < 3; c++) {
        orl_dataset *ds = NULL;
        for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
            if (runs[r].c != c || (only && strcmp(only, runs[r].algo) != 0)) continue;
            if (!ds && !(ds = synthetic(cases[c].S, cases[c].A, cases[c].discrete))) {
                fprintf(stderr, "bench/train: %s\n", orl_error_message());
                return 1;
            }
            bad |= run(runs[r].algo, cases[c].name, ds, runs[r].hidden, steps);
        }
        orl_dataset_free(ds);
    }
    if (!only || strcmp(only, "cql") == 0) bad |= run_cql_cases();
    return bad;
}
