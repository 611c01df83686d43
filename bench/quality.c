/* bench/quality: learning quality of every registered learner on datasets made by orl_gen, with
 * the statistics a comparison needs: several seeds, the interquartile mean (IQM) of the
 * normalised scores and a 95% percentile-bootstrap interval of that IQM.
 *
 * Datasets (orl_gen seed 0, cached under ./bench-quality/ of the working directory):
 *   continuous: Pendulum-v1 medium, medium-replay, medium-expert (100 episodes each);
 *               PointMaze-UMaze and PointMaze-UMaze-Dense medium-replay (100 episodes);
 *   discrete:   CartPole-v1 random (200 episodes) and medium-replay (100), Acrobot-v1
 *               medium-replay (100).
 * Learners: every one in the registry (orl_learner_get) that accepts the dataset's action kind
 * (a learner that refuses it with ORL_ERR_INPUT at creation is skipped and reported).
 * Sizes are chosen once for these classic-control tasks, never per learner: every learner gets
 * the same overrides of the keys its table has: hidden width H (--hidden, default 64) and 2
 * hidden layers for every network (actor_hidden/actor_layers, BCQ's vae_hidden, hidden1, hidden2
 * and discrete_hidden too), and 4 sampled actions per state and source for CQL's penalty
 * (FAMILY_SAMPLES; CORL's 10 at 3x256 costs about 15 GFLOP an update). Everything else is each
 * learner's reference default, except the settings of a task family, for every learner (the
 * settings for those whose table has the key):
 *   discrete classic control (CartPole, Acrobot): target_update=1000. d3rlpy's DiscreteCQL
 *     copies its target network every 8000 steps, an interval sized for Atari-length runs that
 *     leaves 2 copies in a 20,000-step run (CartPole random: IQM 5.2); 1000 gives 20 copies,
 *     the interval of common CartPole DQN configurations (e.g. JORLDY's). Polyak averaging at
 *     0.005 instead was measured and rejected: CartPole medium-replay fell from 100 to about -3.
 *     Only discrete CQL has the key.
 *   the mazes (PointMaze-UMaze, sparse and dense): MAZE_STEPS = 30000 gradient steps for
 *     every learner instead of 10000. Sparse: with 0/1 rewards and no terminal at the goal the
 *     values need more than 10000 steps to approach their fixed point, and while they lag every
 *     rewarded row has a positive advantage: IQL's exp(beta A) weights then favour the goal's
 *     hovering actions, and its policy returned 0 on every seed at 10000 steps. No reward
 *     transform helped (shift, scale, CORL's AntMaze settings: docs/learners.md, IQL); the
 *     budget did. Dense (exp(-distance)): at 10000 steps the values have not yet carried the
 *     goal's reward around the U's wall; IQL's policy pushes against the wall straight above
 *     the goal (return about 59 of the expert's 260: score 7; TD3+BC's and CQL's scores are as
 *     low); at 30000 steps, 5 seeds, IQL 92.0, TD3+BC 84.5, CQL 75.3 (docs/learners.md).
 *   Pendulum-v1 (medium, medium-replay, medium-expert): PENDULUM_STEPS = 20000 gradient
 *     steps for every learner instead of 10000. At 10000 steps the critics of the value-based
 *     learners are still in their transient at 2x64: IQL's expectile loss and mean advantage
 *     were still growing at the end of the run (medium-replay IQM 50.2; with critics and V
 *     alone widened to 2x128 87.6, with the actor alone widened 63.3), and CQL's actor learns
 *     at CORL's policy lr of 3e-5 under alpha_cql 10 (27.3; alpha_cql 1: 98-99 at 10000). With
 *     Polyak targets (tau 0.005, gamma 0.99) the values approach their fixed point with a
 *     time constant of 1 / (tau (1 - gamma)) = 20000 steps. At 20000 steps, 2x64, the
 *     medium-replay IQMs are IQL 98.1 and CQL 100.3 against AWR's 90.2. 2x128 at 10000 steps
 *     gave IQL the same (100.3) but costs CQL and BCQ about twice as much as 2x64 at 20000
 *     (docs/learners.md, "Measured together").
 *     --steps... given on the command line replaces these budgets.
 * --set key=value (repeatable) adds settings for exploration, after the family's, again for
 * every learner with the key; --env and --behavior pick datasets.
 * Each run: --steps gradient steps (default 10000 continuous, 20000 discrete, or the family's
 * budget above), the learner's reference batch (256; BCQ 100 continuous, 64 discrete), no
 * validation split; then 20 evaluation episodes (seed 1000 + training
 * seed). Continuous policies are evaluated in mean mode; discrete ones by sampling (argmax
 * saturates CartPole at 500 for every learner; a greedy argmax-Q policy samples its declared
 * distribution, which is the argmax itself unless an epsilon is declared). The data's own score is
 * the normalised mean episode return of the dataset.
 *
 * Output, JSON lines: "quality_run" per run, "quality" per (dataset, learner) with the IQM, its
 * interval, the mean and the data's score, and "quality_checks" with the literature's order:
 * on medium-replay sets IQL and CQL at or above the best of BC, FBC and AWR, and BCQ at or above
 * BC; on medium sets the
 * offline RL learners above the data; on CartPole random data CQL far (25 points) above it.
 * --jobs J runs J worker processes (runs are independent and seeded, so the figures do not
 * depend on J); the parent collects their lines. --summarize FILE (repeatable) prints the
 * summaries and checks of the "quality_run" lines saved from earlier runs instead of running
 * (with --seeds, --env, --behavior and --algos selecting among them). */
#define _POSIX_C_SOURCE 200809L
#include "orl/bench.h"
#include "orl/eval.h"
#include "orl/filters.h"
#include "orl/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SEEDS      16
#define MAX_ALGOS      16
#define EVAL_EPISODES  20
#define BOOTSTRAP      10000
#define DIR            "bench-quality"
#define FAMILY_SAMPLES "4" /* CQL's sampled actions per state and source (CORL: 10) */

/* the settings of a task family (see the header), for every learner whose table has the key */
static const char *const discrete_sets[] = {"target_update=1000", NULL};
#define MAZE_STEPS     30000 /* the mazes' budget, sparse and dense (see the header) */
#define PENDULUM_STEPS 20000 /* Pendulum's budget, every quality (see the header) */
/* MOReL's budget on every dataset (its steps are NPG iterations; docs/learners.md, the
 * classic-suite budget): 30 iterations, a 2x256 model fitted for all 100 epochs, 25 starts per
 * member, HALT penalty -1000; about 50 s of CPU a run. On the mazes also pessimism 1: at the
 * reference's 3 the threshold lies below the disagreement of 2% of the data's own rows (the
 * velocities at wall contacts), in every one of its episodes, and every model path halts
 * (score -3.9 on 5 seeds); at 1 it scores above 85 (docs/learners.md, MOReL) */
#define MOREL_STEPS 30
static const char *const morel_sets[] = {"model_hidden=256", "model_patience=0",
                                         "starts_per_member=25", "halt_reward=-1000", NULL};
static const char *const morel_maze_sets[] = {"pessimism=1", NULL};

typedef struct dataset_def {
    const char *env, *behavior;
    int64_t episodes;
    int discrete;
    const char *const *sets; /* the family's settings, NULL-terminated (NULL: none) */
    int64_t steps;           /* the family's gradient steps; 0: --steps-continuous / -discrete */
} dataset_def;

static const dataset_def datasets[] = {
    {"Pendulum-v1", "medium", 100, 0, NULL, PENDULUM_STEPS},
    {"Pendulum-v1", "medium-replay", 100, 0, NULL, PENDULUM_STEPS},
    {"Pendulum-v1", "medium-expert", 100, 0, NULL, PENDULUM_STEPS},
    {"PointMaze-UMaze", "medium-replay", 100, 0, NULL, MAZE_STEPS},
    {"PointMaze-UMaze-Dense", "medium-replay", 100, 0, NULL, MAZE_STEPS},
    {"CartPole-v1", "random", 200, 1, discrete_sets, 0},
    {"CartPole-v1", "medium-replay", 100, 1, discrete_sets, 0},
    {"Acrobot-v1", "medium-replay", 100, 1, discrete_sets, 0},
};
#define N_DATASETS (int)(sizeof datasets / sizeof datasets[0])

typedef struct settings {
    int64_t steps_continuous, steps_discrete;
    int steps_given; /* --steps, --steps-continuous or --steps-discrete: no family budgets */
    int seeds, jobs;
    int hidden;
    const char *only_env;  /* NULL: every dataset */
    const char *only_beh;  /* NULL: every behaviour */
    const char *algo_list; /* NULL: every learner */
    const char *extra[8];  /* --set key=value: exploration overrides, for learners with the key */
    int n_extra;
    const char *inputs[16]; /* --summarize FILE: summarise these runs' lines instead of running */
    int n_inputs;
} settings;

typedef struct result {
    int dataset, algo, seed;
    int ok;       /* 1 trained and evaluated; 0 failed; -1 skipped (action kind) */
    double score; /* normalised */
    double ret, seconds;
} result;

/* the interquartile mean over the seeds and its 95% percentile-bootstrap interval: the
 * benchmark's statistics (orl_stats_*, bench.h; seed 0, as this file has always drawn them) */
static double iqm(const double *x, int n) {
    double scratch[MAX_SEEDS];
    return orl_stats_point(ORL_STAT_IQM, x, n, scratch);
}

static void iqm_interval(const double *x, int n, double *lo, double *hi) {
    orl_interval v = {NAN, NAN, NAN};
    if (orl_stats_bootstrap(ORL_STAT_IQM, x, n, BOOTSTRAP, 0, 0.95, &v) != ORL_OK)
        fprintf(stderr, "bench/quality: %s\n", orl_error_message());
    *lo = v.lo;
    *hi = v.hi;
}

static void dataset_path(int d, char *path, size_t cap) {
    snprintf(path, cap, DIR "/%s-%s-%lld.h5", datasets[d].env, datasets[d].behavior,
             (long long)datasets[d].episodes);
}

/* generates dataset d once (cached by its recipe in the file name) */
static orl_status make_data(int d) {
    char path[256];
    dataset_path(d, path, sizeof path);
    struct stat st;
    if (stat(path, &st) == 0) return ORL_OK;
    orl_gen_options g;
    memset(&g, 0, sizeof g);
    g.env_id = datasets[d].env;
    g.behavior = datasets[d].behavior;
    g.episodes = datasets[d].episodes;
    g.seed = 0;
    return orl_gen(&g, path, NULL);
}

/* the gradient steps of a run on dataset d: the family's budget unless --steps... was given */
static int64_t run_steps(const settings *cfg, int d) {
    if (datasets[d].steps > 0 && !cfg->steps_given) return datasets[d].steps;
    return datasets[d].discrete ? cfg->steps_discrete : cfg->steps_continuous;
}

/* 1 if --env or --behavior leaves dataset d out */
static int skip(const settings *cfg, int d) {
    return (cfg->only_env && strcmp(cfg->only_env, datasets[d].env) != 0) ||
           (cfg->only_beh && strcmp(cfg->only_beh, datasets[d].behavior) != 0);
}

/* trains and evaluates one (dataset, learner, seed) */
static result run_one(const settings *cfg, int d, const orl_learner_ops *ops, int a, int seed,
                      const orl_dataset *ds) {
    result r = {d, a, seed, 0, NAN, NAN, NAN};
    /* the family's sizes (every width and depth key of the learner's table), CQL's sampled
     * actions, the task family's settings, then --set's (later ones win), each for learners
     * whose table has the key: the benchmark's rule (orl_bench_train_sets, bench.h) */
    const char *more[3 + 5 + 8];
    int n_more = 0;
    int morel = strcmp(ops->name, "morel") == 0;
    int maze = strncmp(datasets[d].env, "PointMaze", 9) == 0;
    more[n_more++] = "n_samples=" FAMILY_SAMPLES;
    for (const char *const *f = datasets[d].sets; f && *f && n_more < 3; f++) more[n_more++] = *f;
    for (const char *const *f = morel_sets; morel && *f; f++) more[n_more++] = *f;
    for (const char *const *f = morel_maze_sets; morel && maze && *f; f++) more[n_more++] = *f;
    for (int k = 0; k < cfg->n_extra; k++) more[n_more++] = cfg->extra[k];
    char buf[8 + 3 + 5 + 8][ORL_BENCH_SET_LEN];
    const char *family_sets[8 + 3 + 5 + 8];
    int32_t n_sets = orl_bench_train_sets(ops->name, cfg->hidden, 2, more, n_more, NULL, 0, buf,
                                          8 + 3 + 5 + 8, family_sets);
    orl_train_options opt;
    orl_train_options_init(&opt);
    opt.algo = ops->name;
    opt.sets = family_sets;
    opt.n_sets = n_sets;
    opt.steps = morel && !cfg->steps_given ? MOREL_STEPS : run_steps(cfg, d);
    opt.seed = (uint64_t)seed;
    opt.val_fraction = 0.0;
    opt.log_every = 0;
    orl_policy *p = NULL;
    orl_train_result res;
    orl_status st = orl_train(ds, &opt, &p, &res);
    if (st == ORL_OK) {
        orl_rollout_summary sum;
        orl_policy_mode mode = datasets[d].discrete ? ORL_POLICY_MODE_SAMPLE : ORL_POLICY_MODE_MEAN;
        st = orl_eval(p, datasets[d].env, EVAL_EPISODES, 1000 + (uint64_t)seed, mode, &sum, NULL);
        if (st == ORL_OK) {
            r.ok = 1;
            r.ret = sum.return_mean;
            r.score = orl_normalized_score(datasets[d].env, sum.return_mean);
            r.seconds = res.seconds;
        }
    } else if (st == ORL_ERR_INPUT && strstr(orl_error_message(), "action")) {
        r.ok = -1; /* the learner does not take this action kind */
    }
    if (r.ok == 0)
        fprintf(stderr, "bench/quality: %s %s %s seed %d: %s\n", datasets[d].env,
                datasets[d].behavior, ops->name, seed, orl_error_message());
    orl_policy_free(p);
    orl_train_result_free(&res);
    return r;
}

static void print_run(FILE *f, const settings *cfg, const result *r, const char *algo) {
    const dataset_def *D = &datasets[r->dataset];
    fprintf(f,
            "{\"bench\":\"quality_run\",\"env\":\"%s\",\"dataset\":\"%s\",\"algo\":\"%s\","
            "\"dataset_index\":%d,\"algo_index\":%d,\"seed\":%d,\"ok\":%d,\"steps\":%lld,"
            "\"hidden\":%d,\"return\":%.4f,\"score\":%.3f,\"train_s\":%.2f}\n",
            D->env, D->behavior, algo, r->dataset, r->algo, r->seed, r->ok,
            (long long)(strcmp(algo, "morel") == 0 && !cfg->steps_given
                            ? MOREL_STEPS
                            : run_steps(cfg, r->dataset)),
            cfg->hidden, isfinite(r->ret) ? r->ret : 0.0, isfinite(r->score) ? r->score : 0.0,
            isfinite(r->seconds) ? r->seconds : 0.0);
    fflush(f);
}

/* the learners to run: every registered one, or those named in the comma list */
static int pick_algos(const settings *cfg, const orl_learner_ops **algos) {
    int n = 0;
    for (int32_t i = 0; i < orl_learner_count() && n < MAX_ALGOS; i++) {
        const orl_learner_ops *ops = orl_learner_get(i);
        if (cfg->algo_list) {
            char list[256];
            snprintf(list, sizeof list, ",%s,", cfg->algo_list);
            char key[64];
            snprintf(key, sizeof key, ",%s,", ops->name);
            if (!strstr(list, key)) continue;
        }
        algos[n++] = ops;
    }
    return n;
}

/* worker w of J: runs jobs w, w + J, ... and writes their lines to its file */
static int worker(const settings *cfg, const orl_learner_ops *const *algos, int n_algos, int w,
                  const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    int job = 0;
    for (int d = 0; d < N_DATASETS; d++) {
        if (skip(cfg, d)) continue;
        orl_dataset *ds = NULL;
        char dpath[256];
        dataset_path(d, dpath, sizeof dpath);
        for (int a = 0; a < n_algos; a++)
            for (int s = 0; s < cfg->seeds; s++, job++) {
                if (job % cfg->jobs != w) continue;
                if (!ds && orl_dataset_read(dpath, NULL, NULL, &ds) != ORL_OK) {
                    fprintf(stderr, "bench/quality: %s: %s\n", dpath, orl_error_message());
                    fclose(f);
                    return 1;
                }
                result r = run_one(cfg, d, algos[a], a, s, ds);
                print_run(f, cfg, &r, algos[a]->name);
                print_run(stdout, cfg, &r, algos[a]->name);
            }
        orl_dataset_free(ds);
    }
    fclose(f);
    return 0;
}

static double data_score(int d) {
    char path[256];
    dataset_path(d, path, sizeof path);
    orl_dataset *ds = NULL;
    if (orl_dataset_read(path, NULL, NULL, &ds) != ORL_OK) return NAN;
    double *ret = malloc((size_t)ds->n_episodes * sizeof(double));
    double mean = NAN;
    if (ret && orl_episode_returns(ds, 1.0, ret) == ORL_OK) {
        double s = 0.0;
        for (int64_t e = 0; e < ds->n_episodes; e++) s += ret[e];
        mean = orl_normalized_score(datasets[d].env, s / (double)ds->n_episodes);
    }
    free(ret);
    orl_dataset_free(ds);
    return mean;
}

static int parse_args(int argc, char **argv, settings *cfg) {
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--steps") == 0 && v) {
            cfg->steps_continuous = cfg->steps_discrete = atoll(v), cfg->steps_given = 1, i++;
        } else if (strcmp(argv[i], "--steps-continuous") == 0 && v) {
            cfg->steps_continuous = atoll(v), cfg->steps_given = 1, i++;
        } else if (strcmp(argv[i], "--steps-discrete") == 0 && v) {
            cfg->steps_discrete = atoll(v), cfg->steps_given = 1, i++;
        } else if (strcmp(argv[i], "--seeds") == 0 && v) {
            cfg->seeds = atoi(v), i++;
        } else if (strcmp(argv[i], "--jobs") == 0 && v) {
            cfg->jobs = atoi(v), i++;
        } else if (strcmp(argv[i], "--hidden") == 0 && v) {
            cfg->hidden = atoi(v), i++;
        } else if (strcmp(argv[i], "--env") == 0 && v) {
            cfg->only_env = v, i++;
        } else if (strcmp(argv[i], "--behavior") == 0 && v) {
            cfg->only_beh = v, i++;
        } else if (strcmp(argv[i], "--algos") == 0 && v) {
            cfg->algo_list = v, i++;
        } else if (strcmp(argv[i], "--summarize") == 0 && v && cfg->n_inputs < 16) {
            cfg->inputs[cfg->n_inputs++] = v, i++;
        } else if (strcmp(argv[i], "--set") == 0 && v && strchr(v, '=') && cfg->n_extra < 8) {
            cfg->extra[cfg->n_extra++] = v, i++;
        } else {
            fprintf(stderr,
                    "usage: quality [--steps N | --steps-continuous N --steps-discrete N] "
                    "[--seeds K (2..%d)] [--jobs J] [--hidden H] [--env ID] [--behavior B] "
                    "[--algos a,b] [--set key=value]... [--summarize RUNS.jsonl]...\n",
                    MAX_SEEDS);
            return 1;
        }
    }
    if (cfg->seeds < 2 || cfg->seeds > MAX_SEEDS || cfg->jobs < 1 || cfg->hidden < 1 ||
        cfg->steps_continuous < 1 || cfg->steps_discrete < 1) {
        fprintf(stderr, "bench/quality: bad settings\n");
        return 1;
    }
    return 0;
}

/* the IQM of (dataset d, learner named algo) among the summaries, NAN when absent */
typedef struct summary {
    int dataset;
    const char *algo;
    double iqm, lo, hi, mean;
    int n;
} summary;

static double find_iqm(const summary *s, int n, int d, const char *algo) {
    for (int i = 0; i < n; i++)
        if (s[i].dataset == d && strcmp(s[i].algo, algo) == 0) return s[i].iqm;
    return NAN;
}

static const char *verdict(double x) {
    return isnan(x) ? "null" : x > 0.5 ? "true" : "false";
}

int main(int argc, char **argv) {
    settings cfg = {10000, 20000, 0, 5, 1, 64, NULL, NULL, NULL, {NULL}, 0, {NULL}, 0};
    if (parse_args(argc, argv, &cfg)) return 2;
    mkdir(DIR, 0755);
    const orl_learner_ops *algos[MAX_ALGOS];
    int n_algos = pick_algos(&cfg, algos);
    for (int d = 0; d < N_DATASETS; d++) {
        if (skip(&cfg, d)) continue;
        if (make_data(d) != ORL_OK) {
            fprintf(stderr, "bench/quality: %s\n", orl_error_message());
            return 1;
        }
    }

    /* the runs, in J worker processes (files named by this process, so that runs in the same
     * directory do not mix); or, with --summarize, the given files' run lines */
    const char *inputs[64];
    int n_inputs = 0, bad = 0;
    char paths[64][64];
    if (cfg.n_inputs > 0) {
        for (int k = 0; k < cfg.n_inputs; k++) inputs[n_inputs++] = cfg.inputs[k];
    } else {
        pid_t pids[64];
        if (cfg.jobs > 64) cfg.jobs = 64;
        for (int w = 0; w < cfg.jobs; w++) {
            snprintf(paths[w], sizeof paths[w], DIR "/worker-%ld-%d.jsonl", (long)getpid(), w);
            inputs[n_inputs++] = paths[w];
            fflush(stdout);
            pids[w] = fork();
            if (pids[w] == 0) _exit(worker(&cfg, algos, n_algos, w, paths[w]));
        }
        for (int w = 0; w < cfg.jobs; w++) {
            int status = 0;
            waitpid(pids[w], &status, 0);
            bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
    }

    /* collect: scores[d][a][s], runs matched to the learners by name */
    static double scores[N_DATASETS][MAX_ALGOS][MAX_SEEDS];
    static int have[N_DATASETS][MAX_ALGOS];
    static double seconds[N_DATASETS][MAX_ALGOS];
    for (int w = 0; w < n_inputs; w++) {
        FILE *f = fopen(inputs[w], "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f)) {
            json_t *j = json_loads(line, 0, NULL);
            if (!j) continue;
            const char *name = json_string_value(json_object_get(j, "algo"));
            int d = (int)json_integer_value(json_object_get(j, "dataset_index"));
            int s = (int)json_integer_value(json_object_get(j, "seed"));
            int ok = (int)json_integer_value(json_object_get(j, "ok"));
            int a = -1;
            for (int k = 0; name && k < n_algos; k++)
                if (strcmp(algos[k]->name, name) == 0) a = k;
            const char *kind = json_string_value(json_object_get(j, "bench"));
            if (kind && strcmp(kind, "quality_run") == 0 && d >= 0 && d < N_DATASETS && a >= 0 &&
                s >= 0 && s < cfg.seeds && ok == 1 && !skip(&cfg, d)) {
                scores[d][a][s] = json_real_value(json_object_get(j, "score"));
                seconds[d][a] += json_real_value(json_object_get(j, "train_s"));
                have[d][a]++;
            }
            json_decref(j);
        }
        if (f) fclose(f);
        if (cfg.n_inputs == 0) remove(inputs[w]);
    }
    summary sums[N_DATASETS * MAX_ALGOS];
    int n_sums = 0;
    for (int d = 0; d < N_DATASETS; d++) {
        if (skip(&cfg, d)) continue;
        double data = data_score(d);
        for (int a = 0; a < n_algos; a++) {
            if (have[d][a] != cfg.seeds) continue; /* skipped or failed runs: no summary */
            summary *s = &sums[n_sums++];
            s->dataset = d;
            s->algo = algos[a]->name;
            s->n = cfg.seeds;
            s->iqm = iqm(scores[d][a], cfg.seeds);
            iqm_interval(scores[d][a], cfg.seeds, &s->lo, &s->hi);
            double m = 0.0;
            for (int k = 0; k < cfg.seeds; k++) m += scores[d][a][k];
            s->mean = m / cfg.seeds;
            printf(
                "{\"bench\":\"quality\",\"env\":\"%s\",\"dataset\":\"%s\",\"algo\":\"%s\","
                "\"seeds\":%d,\"score_iqm\":%.2f,\"ci95_low\":%.2f,\"ci95_high\":%.2f,"
                "\"score_mean\":%.2f,\"data_score\":%.2f,\"train_s_mean\":%.2f,\"eval\":\"%s\"}\n",
                datasets[d].env, datasets[d].behavior, s->algo, cfg.seeds, s->iqm, s->lo, s->hi,
                s->mean, data, seconds[d][a] / cfg.seeds, datasets[d].discrete ? "sample" : "mean");
        }
    }

    /* the literature's order */
    for (int d = 0; d < N_DATASETS; d++) {
        if (skip(&cfg, d)) continue;
        const char *b = datasets[d].behavior;
        double data = data_score(d);
        double best_bc =
            fmax(fmax(find_iqm(sums, n_sums, d, "bc"), find_iqm(sums, n_sums, d, "fbc")),
                 find_iqm(sums, n_sums, d, "awr"));
        double iql = find_iqm(sums, n_sums, d, "iql"), cql = find_iqm(sums, n_sums, d, "cql");
        double td3 = find_iqm(sums, n_sums, d, "td3bc");
        double bcq = find_iqm(sums, n_sums, d, "bcq"), bc = find_iqm(sums, n_sums, d, "bc");
        printf(
            "{\"bench\":\"quality_checks\",\"env\":\"%s\",\"dataset\":\"%s\",\"data_score\":%.2f,"
            "\"best_of_bc_fbc_awr\":%.2f",
            datasets[d].env, b, data, isnan(best_bc) ? 0.0 : best_bc);
        if (strcmp(b, "medium-replay") == 0)
            printf(",\"iql_ge_best_bc\":%s,\"cql_ge_best_bc\":%s",
                   verdict(isnan(iql) || isnan(best_bc) ? NAN : iql >= best_bc),
                   verdict(isnan(cql) || isnan(best_bc) ? NAN : cql >= best_bc));
        /* BCQ's claim (Fujimoto et al. 2019): above BC on imperfect data */
        if (strcmp(b, "medium-replay") == 0)
            printf(",\"bcq_ge_bc\":%s", verdict(isnan(bcq) || isnan(bc) ? NAN : bcq >= bc));
        if (strcmp(b, "medium") == 0)
            printf(",\"iql_above_data\":%s,\"cql_above_data\":%s,\"td3bc_above_data\":%s",
                   verdict(isnan(iql) ? NAN : iql > data), verdict(isnan(cql) ? NAN : cql > data),
                   verdict(isnan(td3) ? NAN : td3 > data));
        if (strcmp(b, "random") == 0)
            printf(",\"cql_25_above_data\":%s", verdict(isnan(cql) ? NAN : cql >= data + 25.0));
        printf("}\n");
    }
    return bad;
}
