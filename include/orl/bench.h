/* The shared benchmark (orl bench): suites, index-addressed jobs, their statistics and the
 * report.
 *
 * A suite (JSON, or a built-in one by name) lists datasets (a file, or an orl_gen recipe:
 * env, behaviour, episodes, seed — generated once into a cache directory under a name that
 * holds the recipe's hash), learners (an algorithm and its --set overrides), task families
 * (network sizes, gradient steps, evaluation interval and mode, settings for every learner
 * whose table has the key), seeds and evaluation episodes. Its run list is every (dataset,
 * learner, seed), in that nesting order; job K is entry K.
 *
 * A benchmark directory DIR holds suite.json (the expanded suite the jobs read), jobs/K.json
 * (job K's result, written atomically: present means done), logs/K.log (a job's messages),
 * results.sqlite (the catalog the report merges into), report.md, report.json and plots/.
 * A job whose result exists is skipped; a killed or failed job leaves no result and is run
 * again by the next run.
 *
 * Statistics follow rliable (Agarwal et al. 2021): mean, median, interquartile mean (IQM) and
 * optimality gap, percentile bootstrap intervals (stratified over tasks for aggregates),
 * performance profiles and the probability of improvement. Every bootstrap is seeded, so the
 * same results give the same bits.
 *
 * What this does not do: schedule jobs across machines (Slurm, GNU parallel or MPI run the
 * jobs; orl_bench_emit writes their command lines), or draw anything on a terminal. */
#ifndef ORL_BENCH_H
#define ORL_BENCH_H

#include "orl/progress.h"
#include "orl/status.h"

#include <stddef.h>
#include <stdint.h>

/* ---- suites ---- */

#define ORL_BENCH_MAX_DATASETS 32
#define ORL_BENCH_MAX_LEARNERS 16
#define ORL_BENCH_MAX_FAMILIES 8
#define ORL_BENCH_MAX_SEEDS    32
#define ORL_BENCH_MAX_SETS     16 /* --set overrides per learner or family */
#define ORL_BENCH_SET_LEN      96
#define ORL_BENCH_MAX_JOBS     (ORL_BENCH_MAX_DATASETS * ORL_BENCH_MAX_LEARNERS * ORL_BENCH_MAX_SEEDS)

/* a task family: what every learner gets on its datasets */
typedef struct orl_bench_family {
    char name[32];
    int32_t hidden;     /* width of every hidden layer (hidden, actor_hidden, vae_hidden, ...) */
    int32_t layers;     /* hidden layers (layers, actor_layers) */
    int64_t steps;      /* gradient steps per run */
    int64_t eval_every; /* learning-curve evaluation interval in steps (and at the end) */
    int eval_sample;    /* 1: evaluate by sampling the policy; 0: its mean (argmax) action */
    char sets[ORL_BENCH_MAX_SETS][ORL_BENCH_SET_LEN]; /* key=value for learners with the key */
    int32_t n_sets;
} orl_bench_family;

typedef struct orl_bench_dataset {
    char name[128];    /* unique: "ENV/BEHAVIOR" for a recipe unless the suite names it */
    char path[512];    /* a file given by the suite (absolute); "" for a recipe */
    char env[48];      /* the environment evaluations run in */
    char behavior[96]; /* the recipe: orl_gen's behaviour, episodes, seed */
    int64_t episodes;
    uint64_t seed;
    int32_t family;      /* index into the suite's families */
    int32_t action_kind; /* the environment's orl_action_kind, -1 when unknown */
} orl_bench_dataset;

typedef struct orl_bench_learner {
    char name[32]; /* unique label ("iql", "iql-beta10") */
    char algo[32]; /* a registered learner */
    char sets[ORL_BENCH_MAX_SETS][ORL_BENCH_SET_LEN];
    int32_t n_sets;
    int32_t action_kind; /* -1: any; else only datasets with this orl_action_kind */
    int64_t steps;       /* 0: the family's; else this learner's steps on every dataset (for a
                            learner whose step is an outer iteration, as MOReL's) */
    int64_t eval_every;  /* with steps: its learning-curve interval (0: steps, the end only) */
    uint32_t families;   /* bit f: runs on the datasets of family f; 0: on every family's */
} orl_bench_learner;

typedef struct orl_bench_job {
    int32_t dataset, learner, seed;
} orl_bench_job;

/* one allocation (orl_bench_suite_load / _free) */
typedef struct orl_bench_suite {
    char name[64];
    char description[512];
    char cache[512];        /* the dataset cache directory ("" until a run sets it) */
    int32_t seeds;          /* seeds 0 .. seeds-1 */
    int64_t eval_episodes;  /* episodes per learning-curve evaluation */
    int64_t final_episodes; /* episodes of the final score (seeded 1000 + seed) */
    int32_t n_families, n_datasets, n_learners;
    orl_bench_family families[ORL_BENCH_MAX_FAMILIES];
    orl_bench_dataset datasets[ORL_BENCH_MAX_DATASETS];
    orl_bench_learner learners[ORL_BENCH_MAX_LEARNERS];
    int64_t n_jobs;
    orl_bench_job jobs[ORL_BENCH_MAX_JOBS]; /* (n_jobs) the run list; skips learner/dataset
                                               pairs whose action kinds do not match and
                                               datasets outside a learner's families */
} orl_bench_suite;

/* the built-in suites: their count and name i (NULL out of range), and one line on each */
int32_t orl_bench_suite_count(void);
const char *orl_bench_suite_name(int32_t i);
const char *orl_bench_suite_summary(int32_t i);

/* loads a suite: a built-in name or a JSON file path. Relative dataset paths are taken from
 * the file's directory. ORL_ERR_INPUT naming the key for a bad suite (unknown learner,
 * environment or family, a duplicate name, a value out of range), ORL_ERR_IO, ORL_ERR_NOMEM.
 * Free *out with orl_bench_suite_free. */
orl_status orl_bench_suite_load(const char *name_or_path, orl_bench_suite **out);

/* parses a suite from JSON text (base_dir: where relative dataset paths start; may be NULL) */
orl_status orl_bench_suite_parse(const char *json, const char *base_dir, orl_bench_suite **out);

/* frees; s may be NULL */
void orl_bench_suite_free(orl_bench_suite *s);

/* the suite as JSON (the format orl_bench_suite_parse reads, every default filled in), in a
 * malloc'd string the caller frees; NULL when out of memory */
char *orl_bench_suite_json(const orl_bench_suite *s);

/* the run list as `orl bench show` prints it: the suite's line, its families, then one line per
 * job (index, dataset, learner, seed, steps and the --set list of orl_bench_train_sets), in a
 * malloc'd string the caller frees; NULL when out of memory */
char *orl_bench_suite_text(const orl_bench_suite *s);

/* one line per built-in suite (name, job count, summary) in *out (malloc'd, the caller frees).
 * A built-in suite's load status (none expected), ORL_ERR_NOMEM. */
orl_status orl_bench_suites_text(char **out);

/* the budget of job k: the gradient steps and the learning-curve interval of its run (the
 * learner's when it sets steps, else its dataset's family's) */
void orl_bench_job_budget(const orl_bench_suite *s, int64_t k, int64_t *steps, int64_t *eval_every);

/* the file of dataset d: a recipe's cache/ENV-BEHAVIOR-EPISODES-SEED-HASH.h5 (HASH: 16 hex
 * digits of FNV-1a over the recipe), or the suite's path itself for a file dataset */
void orl_bench_dataset_file(const orl_bench_suite *s, int32_t d, char *path, size_t cap);

/* generates dataset d into the cache unless it is there (written to a temporary name and
 * renamed, so concurrent generators are safe). orl_gen's statuses. */
orl_status orl_bench_dataset_ensure(const orl_bench_suite *s, int32_t d);

/* the --set list a run of learner algo uses: the family's sizes for every size key of the
 * learner's table (hidden, actor_hidden, vae_hidden, hidden1, hidden2, discrete_hidden;
 * layers, actor_layers; a size <= 0 is left out), then the family's sets whose key the table
 * has, then the learner's own sets (always: a typo must fail the run); later ones win. Written
 * as pointers into out (strings in buf or the given lists; at most cap). Returns the count (0
 * for an unknown algo). */
int32_t orl_bench_train_sets(const char *algo, int32_t hidden, int32_t layers,
                             const char *const *family_sets, int32_t n_family,
                             const char *const *learner_sets, int32_t n_learner,
                             char (*buf)[ORL_BENCH_SET_LEN], int32_t cap, const char **out);

/* ---- jobs ---- */

/* makes DIR (and jobs/, logs/), writes DIR/suite.json (s with its cache directory; cache NULL:
 * $ORL_BENCH_CACHE, else $XDG_CACHE_HOME/orl/bench, else ~/.cache/orl/bench) unless DIR
 * already holds the same suite (a rerun keeps the stored cache directory), and generates
 * every dataset. ORL_ERR_INPUT when DIR holds another suite; ORL_ERR_IO; orl_gen's statuses. */
orl_status orl_bench_prepare(const orl_bench_suite *s, const char *dir, const char *cache);

/* loads DIR/suite.json (free with orl_bench_suite_free) */
orl_status orl_bench_open(const char *dir, orl_bench_suite **out);

/* 1 when job k's result file exists */
int orl_bench_job_done(const char *dir, int64_t k);

/* runs job k of DIR in this process: trains, records the learning curve, scores the final
 * policy and writes DIR/jobs/K.json atomically (index, suite, learner, algo, dataset, env,
 * seed, steps, status, score, return, curve, train_seconds, seconds, peak_rss_kb, cpu_seconds,
 * versions, hyperparameters, dataset_hash: FNV-1a of the data's columns). An existing result is
 * kept and *skipped set to 1 (skipped may be NULL). ORL_ERR_INPUT for k out of range; the training,
 * evaluation and I/O statuses (no result is written then). */
orl_status orl_bench_run_job(const char *dir, int64_t k, int *skipped);

/* runs jobs rank, rank + size, ... of DIR in this process (the MPI mode); rank and size from
 * the arguments when size > 0, else from OMPI_COMM_WORLD_RANK/SIZE or PMI_RANK/PMI_SIZE
 * (ORL_ERR_INPUT when neither is set). Keeps going after a failed job; returns the first
 * failure's status. */
orl_status orl_bench_run_rank(const char *dir, int32_t rank, int32_t size, int64_t *failed);

typedef struct orl_bench_run_summary {
    int64_t jobs;    /* in the run list */
    int64_t skipped; /* done before this run */
    int64_t done;    /* completed by this run */
    int64_t failed;  /* failed in this run (no result; logs/K.log says why) */
    double seconds;  /* wall time */
} orl_bench_run_summary;

/* runs every job of DIR without a result in `workers` processes, each `program bench run-job
 * DIR --index K` (program: the orl executable), its output in DIR/logs/K.log, with
 * OPENBLAS_NUM_THREADS=1 in its environment unless this process has it set. Progress is
 * reported at the start and per finished job: finished (completed + failed) of the jobs this
 * run has to do, and "jobs: D done, R running, F failed". ORL_ERR_INTERRUPTED when progress
 * asks to stop (running jobs are killed; their results are not written); ORL_ERR_IO when a
 * worker cannot start. out may be NULL. */
orl_status orl_bench_run(const char *dir, const char *program, int32_t workers,
                         const orl_progress *progress, orl_bench_run_summary *out);

typedef enum orl_bench_engine {
    ORL_BENCH_ENGINE_SLURM,
    ORL_BENCH_ENGINE_PARALLEL,
    ORL_BENCH_ENGINE_MPI,
} orl_bench_engine;

/* the engine named "slurm", "parallel" or "mpi"; ORL_ERR_INPUT naming --emit otherwise (name
 * may be NULL) */
orl_status orl_bench_engine_parse(const char *name, orl_bench_engine *out);

/* the text that runs DIR's jobs on an engine, in a malloc'd string (the caller frees): a Slurm
 * array script (--array=0-(N-1), each task `program bench run-job DIR --index
 * $SLURM_ARRAY_TASK_ID`), a GNU parallel command line (`seq 0 N-1 | parallel -j workers ...`),
 * or an mpirun command line (`mpirun -n workers program bench run-job DIR --mpi`). ORL_ERR_IO,
 * ORL_ERR_NOMEM. */
orl_status orl_bench_emit(const char *dir, const char *program, orl_bench_engine engine,
                          int32_t workers, char **out);

/* ---- statistics ---- */

typedef enum orl_stat {
    ORL_STAT_MEAN,
    ORL_STAT_MEDIAN,
    ORL_STAT_IQM,            /* mean of the middle after trimming floor(n/4) from each end */
    ORL_STAT_OPTIMALITY_GAP, /* mean of max(0, 100 - x): normalised scores below 100 */
    ORL_STAT_COUNT
} orl_stat;

/* "mean", "median", "iqm", "optimality_gap" */
const char *orl_stat_name(orl_stat s);

/* an estimate and its percentile bootstrap interval */
typedef struct orl_interval {
    double value, lo, hi;
} orl_interval;

/* statistic s of x (n >= 1), using scratch (n) for the sort; NaN for n == 0 */
double orl_stats_point(orl_stat s, const double *x, int64_t n, double *scratch);

/* s over x (n) and its percentile bootstrap interval at level (0.95): reps resamples of n
 * drawn with replacement from an orl_rng seeded (seed, stream 1); the interval is the sorted
 * resampled statistics at positions floor(a reps) and floor((1 - a) reps) - 1, a = (1 -
 * level) / 2. ORL_ERR_INPUT for n < 1, reps < 1 or a level outside (0, 1); ORL_ERR_NOMEM. */
orl_status orl_stats_bootstrap(orl_stat s, const double *x, int64_t n, int64_t reps, uint64_t seed,
                               double level, orl_interval *out);

/* the same over T tasks pooled: task t's runs are x[off[t] .. off[t+1]) (off: (T+1)), the
 * statistic is taken over all runs together, and each resample draws every task's runs from
 * that task only (stratified). Statuses as orl_stats_bootstrap (every task needs a run). */
orl_status orl_stats_bootstrap_stratified(orl_stat s, const double *x, const int64_t *off,
                                          int32_t T, int64_t reps, uint64_t seed, double level,
                                          orl_interval *out);

/* the performance profile: for each tau[i] (n_tau), the fraction of all runs scoring above it,
 * with a stratified bootstrap band (out: (n_tau)). Statuses as above. */
orl_status orl_stats_profile(const double *x, const int64_t *off, int32_t T, const double *tau,
                             int32_t n_tau, int64_t reps, uint64_t seed, double level,
                             orl_interval *out);

/* the probability of improvement P(X > Y): per task, the fraction of run pairs (x, y) with
 * x > y, ties counting 1/2 (the Mann-Whitney U over n m), averaged over the T tasks; the
 * interval resamples X's and Y's runs within each task independently. x/xoff and y/yoff as in
 * orl_stats_bootstrap_stratified. */
orl_status orl_stats_improvement(const double *x, const int64_t *xoff, const double *y,
                                 const int64_t *yoff, int32_t T, int64_t reps, uint64_t seed,
                                 double level, orl_interval *out);

/* ---- the report ---- */

typedef struct orl_bench_report_options {
    int64_t reps;  /* bootstrap resamples (default 2000) */
    uint64_t seed; /* bootstrap seed (default 0) */
    double level;  /* interval level (default 0.95) */
    int times;     /* 1 (default): training times and peak memory in the report; 0: leave out
                      the measured, non-reproducible figures */
    int plots;     /* 1 (default): plots with gnuplot when it is on PATH */
} orl_bench_report_options;

void orl_bench_report_options_init(orl_bench_report_options *opt);

typedef struct orl_bench_report_summary {
    int64_t results; /* results merged */
    int64_t missing; /* jobs without a result */
    int plotted;     /* 1 when the plots were drawn; 0 when gnuplot is missing or off */
    char note[256];  /* why there are no plots, when there are none */
} orl_bench_report_summary;

/* merges every result of DIR into DIR/results.sqlite (WAL; one transaction; a result already
 * there is replaced) and writes DIR/report.md, DIR/report.json and (with gnuplot) the plots
 * under DIR/plots/, each atomically. The figures come from the catalog rows of this suite.
 * ORL_ERR_INPUT when DIR has no suite or no result; ORL_ERR_IO; ORL_ERR_FORMAT for an
 * unreadable result file (named). */
orl_status orl_bench_report(const char *dir, const orl_bench_report_options *opt,
                            orl_bench_report_summary *out);

/* compares the aggregate IQM of every learner in two benchmark directories (their results,
 * with opt's bootstrap): a markdown table in *text (malloc'd, the caller frees) and in
 * *regressions the number of learners whose IQM in dir_b is below dir_a's interval.
 * ORL_ERR_INPUT when a directory has no results. */
orl_status orl_bench_compare(const char *dir_a, const char *dir_b,
                             const orl_bench_report_options *opt, char **text,
                             int32_t *regressions);

#endif
