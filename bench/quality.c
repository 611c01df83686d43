/* bench/quality: learning quality of bc, fbc and awr on datasets made by orl_gen.
 *
 * Datasets (orl_gen seed 0, written under ./bench-quality/ of the working directory):
 *   Pendulum-v1 expert (50 episodes), Pendulum-v1 medium-replay (100 episodes),
 *   CartPole-v1 expert (20 episodes), CartPole-v1 medium-replay (100 episodes),
 *   PointMaze-UMaze expert (50 episodes), PointMaze-UMaze medium-replay (100 episodes).
 * Arguments: environment ids to run (default all three).
 * Runs: bc on expert; bc, fbc, awr on medium-replay; seeds 0..4; default hyperparameters
 * (train.h), batch 256, STEPS_PENDULUM / STEPS_CARTPOLE steps (a short budget that keeps the
 * whole bench within minutes), 5% of the episodes held out for validation. Each policy is
 * evaluated over 20 episodes in mean mode (evaluation seed 1000 + seed) and scored against the
 * reference table (orl_normalized_score).
 *
 * Output, JSON lines: one "quality_run" per run (score, return, training seconds), then one
 * "quality" per (env, dataset, algorithm): the mean score over seeds and a 95% percentile
 * bootstrap interval (10000 resamples of the 5 seeds, orl_rng seed 0), the mean training time,
 * and finally "quality_checks": BC on expert >= 90, fbc and awr above bc on medium-replay. */
#include "orl/eval.h"
#include "orl/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SEEDS          5
#define STEPS_PENDULUM 2000
#define STEPS_CARTPOLE 1000
#define STEPS_MAZE     2000
#define N_ENVS         3
#define EVAL_EPISODES  20
#define BOOTSTRAP      10000
#define DIR            "bench-quality"

typedef struct group {
    const char *env, *dataset, *algo;
    double score[SEEDS];
    double seconds[SEEDS];
    double mean, lo, hi, seconds_mean;
} group;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bootstrap(group *g) {
    static double means[BOOTSTRAP];
    orl_rng rng;
    orl_rng_seed(&rng, 0, 1);
    double sum = 0.0, secs = 0.0;
    for (int i = 0; i < SEEDS; i++) {
        sum += g->score[i];
        secs += g->seconds[i];
    }
    g->mean = sum / SEEDS;
    g->seconds_mean = secs / SEEDS;
    for (int b = 0; b < BOOTSTRAP; b++) {
        double s = 0.0;
        for (int i = 0; i < SEEDS; i++) s += g->score[orl_rng_below(&rng, SEEDS)];
        means[b] = s / SEEDS;
    }
    qsort(means, BOOTSTRAP, sizeof(double), cmp_double);
    g->lo = means[(int)(0.025 * BOOTSTRAP)];
    g->hi = means[(int)(0.975 * BOOTSTRAP) - 1];
}

static orl_status make_data(const char *env, const char *behavior, int64_t episodes,
                            const char *path, orl_dataset **out) {
    orl_gen_options g;
    memset(&g, 0, sizeof g);
    g.env_id = env;
    g.behavior = behavior;
    g.episodes = episodes;
    g.seed = 0;
    ORL_TRY(orl_gen(&g, path, NULL));
    return orl_dataset_read(path, NULL, NULL, out);
}

static int run_group(group *g, const orl_dataset *ds, int64_t steps) {
    for (int s = 0; s < SEEDS; s++) {
        orl_train_options opt;
        orl_train_options_init(&opt);
        opt.algo = g->algo;
        opt.steps = steps;
        opt.seed = (uint64_t)s;
        opt.log_every = 0;
        orl_policy *p = NULL;
        orl_train_result res;
        orl_rollout_summary sum;
        if (orl_train(ds, &opt, &p, &res) != ORL_OK ||
            orl_eval(p, g->env, EVAL_EPISODES, 1000 + (uint64_t)s, ORL_POLICY_MODE_MEAN, &sum,
                     NULL) != ORL_OK) {
            fprintf(stderr, "bench/quality: %s %s %s seed %d: %s\n", g->env, g->dataset, g->algo, s,
                    orl_error_message());
            orl_policy_free(p);
            orl_train_result_free(&res);
            return 1;
        }
        orl_policy_free(p);
        orl_train_result_free(&res);
        g->score[s] = orl_normalized_score(g->env, sum.return_mean);
        g->seconds[s] = res.seconds;
        printf("{\"bench\":\"quality_run\",\"env\":\"%s\",\"dataset\":\"%s\",\"algo\":\"%s\","
               "\"seed\":%d,\"steps\":%lld,\"return\":%.3f,\"score\":%.2f,\"train_s\":%.2f}\n",
               g->env, g->dataset, g->algo, s, (long long)steps, sum.return_mean, g->score[s],
               res.seconds);
        fflush(stdout);
    }
    bootstrap(g);
    return 0;
}

/* 1 when env is asked for on the command line (or nothing is) */
static int wanted(int argc, char **argv, const char *env) {
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], env) == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    mkdir(DIR, 0755);
    const char *envs[N_ENVS] = {"Pendulum-v1", "CartPole-v1", "PointMaze-UMaze"};
    const int64_t steps[N_ENVS] = {STEPS_PENDULUM, STEPS_CARTPOLE, STEPS_MAZE};
    const int64_t expert_episodes[N_ENVS] = {50, 20, 50};
    const char *algos[] = {"bc", "fbc", "awr"};
    group groups[4 * N_ENVS];
    int n = 0, bad = 0, ran[N_ENVS] = {0};
    for (int e = 0; e < N_ENVS; e++) {
        if (!wanted(argc, argv, envs[e])) continue;
        ran[e] = n + 1;
        char path[256];
        orl_dataset *ds = NULL;
        snprintf(path, sizeof path, DIR "/%s-expert.h5", envs[e]);
        if (make_data(envs[e], "expert", expert_episodes[e], path, &ds) != ORL_OK) goto fail;
        groups[n] = (group){envs[e], "expert", "bc", {0}, {0}, 0, 0, 0, 0};
        bad |= run_group(&groups[n++], ds, steps[e]);
        orl_dataset_free(ds);
        snprintf(path, sizeof path, DIR "/%s-medium-replay.h5", envs[e]);
        if (make_data(envs[e], "medium-replay", 100, path, &ds) != ORL_OK) goto fail;
        for (int a = 0; a < 3; a++) {
            groups[n] = (group){envs[e], "medium-replay", algos[a], {0}, {0}, 0, 0, 0, 0};
            bad |= run_group(&groups[n++], ds, steps[e]);
        }
        orl_dataset_free(ds);
    }
    for (int i = 0; i < n; i++)
        printf("{\"bench\":\"quality\",\"env\":\"%s\",\"dataset\":\"%s\",\"algo\":\"%s\","
               "\"seeds\":%d,\"score_mean\":%.2f,\"ci95_low\":%.2f,\"ci95_high\":%.2f,"
               "\"train_s_mean\":%.2f}\n",
               groups[i].env, groups[i].dataset, groups[i].algo, SEEDS, groups[i].mean,
               groups[i].lo, groups[i].hi, groups[i].seconds_mean);
    for (int e = 0; e < N_ENVS; e++) {
        if (!ran[e]) continue;
        const group *g = &groups[ran[e] - 1];
        printf("{\"bench\":\"quality_checks\",\"env\":\"%s\",\"bc_expert_ge_90\":%s,"
               "\"fbc_beats_bc_medium_replay\":%s,\"awr_beats_bc_medium_replay\":%s}\n",
               envs[e], g[0].mean >= 90.0 ? "true" : "false",
               g[2].mean > g[1].mean ? "true" : "false", g[3].mean > g[1].mean ? "true" : "false");
    }
    return bad;
fail:
    fprintf(stderr, "bench/quality: %s\n", orl_error_message());
    return 1;
}
