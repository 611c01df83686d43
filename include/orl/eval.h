/* Rollouts, dataset generation and reference scores.
 *
 * A rollout runs a policy in an environment for a number of episodes (or steps), with every
 * episode's randomness derived from one seed and the episode's index, so episode i of seed s is
 * the same episode whichever run it is part of. It keeps the per-episode returns (undiscounted,
 * double) and lengths and, when given a writer, streams every transition (with the exact
 * behaviour log-probability of the action taken) through a fixed block buffer, so memory does
 * not grow with the dataset. No allocation per step.
 *
 * orl_gen builds the D4RL-style qualities (random, medium, expert, medium-replay,
 * medium-expert) from the builtin behaviours of behavior.h, or logs a policy file.
 *
 * Reference scores: per environment, the mean returns of the builtin random and expert
 * behaviours measured with orl_eval (the table is in eval/scores.c and
 * docs/reference-scores.md); the normalised score is 100 (R - random) / (expert - random) as
 * D4RL reports it.
 *
 * Dimension letters: N steps, E episodes, S observation size, A action size. */
#ifndef ORL_EVAL_H
#define ORL_EVAL_H

#include "orl/bps.h"
#include "orl/dataset.h"
#include "orl/env.h"
#include "orl/ope_run.h"
#include "orl/policy.h"
#include "orl/progress.h"
#include "orl/status.h"

#include <stdint.h>

/* ---- rollouts ---- */

typedef struct orl_rollout_options {
    int64_t episodes;      /* episodes to run; 0 when max_steps alone decides */
    int64_t max_steps;     /* 0: no limit; else stop after this many steps in all, cutting the
                              last episode there (it is recorded as truncated) */
    int64_t soft_steps;    /* 0: none; else start no new episode once this many steps were
                              taken in all (episodes stay whole; max_steps still cuts) */
    uint64_t seed;         /* every episode's seeds derive from it and the episode index */
    int64_t first_episode; /* index of the first episode in the seed sequence (usually 0) */
    orl_policy_mode mode;  /* sample or mean */
    orl_writer *writer;    /* NULL: nothing recorded; else every transition with its logp
                              (the policy must have log-probabilities) */
    int64_t block_rows;    /* rows buffered per orl_writer_write (0: 4096) */
    const orl_progress *progress; /* may be NULL; reports steps */
} orl_rollout_options;

/* what rollouts produced; runs append to it (orl_gen runs one per behaviour) */
typedef struct orl_rollout_stats {
    int64_t n_episodes;   /* E */
    int64_t n_steps;      /* N */
    int64_t cap;          /* episodes allocated */
    double *returns;      /* (E) undiscounted episode returns */
    int32_t *lengths;     /* (E) */
    int64_t n_terminated; /* episodes that ended terminated (the rest were truncated) */
} orl_rollout_stats;

/* summary of a stats record (orl_rollout_summarize) */
typedef struct orl_rollout_summary {
    int64_t n_episodes, n_steps;
    double return_mean;   /* mean episode return */
    double return_stderr; /* standard error of the mean: sample std / sqrt(E) (0 when E < 2) */
    double return_min, return_max;
    int32_t length_min, length_max;
    double length_mean;
} orl_rollout_summary;

/* the seeds of episode index of a run with seed: the environment is seeded with it, and the
 * policy's rng with it on stream ORL_ROLLOUT_POLICY_STREAM (splitmix64 of seed and index) */
#define ORL_ROLLOUT_POLICY_STREAM 0x706f6c696379ULL /* "policy" */
uint64_t orl_rollout_episode_seed(uint64_t seed, int64_t index);

/* sets defaults: 10 episodes, seed 0, sample mode, no writer */
void orl_rollout_options_init(orl_rollout_options *opt);

/* an empty record (no allocation) */
void orl_rollout_stats_init(orl_rollout_stats *stats);

/* frees the arrays; stats may be NULL */
void orl_rollout_stats_free(orl_rollout_stats *stats);

/* runs policy p in env as opt says and appends each episode to stats. The environment is
 * seeded per episode from (opt->seed, episode index), the policy's rng likewise on its own
 * stream. ORL_ERR_INPUT when the policy's shapes do not fit the environment's spec (the
 * message names both), when a writer is given for a policy without log-probabilities, or for
 * neither episodes nor max_steps; ORL_ERR_NOMEM; the env, policy and writer statuses;
 * ORL_ERR_INTERRUPTED when progress asks to stop. */
orl_status orl_rollout(orl_env *env, const orl_policy *p, const orl_rollout_options *opt,
                       orl_rollout_stats *stats);

/* mean, standard error, extremes of episodes [e0, e1) of stats (e1 <= 0 or beyond: all) */
void orl_rollout_summarize(const orl_rollout_stats *stats, int64_t e0, int64_t e1,
                           orl_rollout_summary *out);

/* evaluates p on environment env_id: makes the environment, checks the policy's dimensions
 * against it (ORL_ERR_INPUT naming the mismatch), runs the episodes and summarises.
 * stats_out may be NULL; else it receives the per-episode record (free it). */
orl_status orl_eval(const orl_policy *p, const char *env_id, int64_t episodes, uint64_t seed,
                    orl_policy_mode mode, orl_rollout_summary *out, orl_rollout_stats *stats_out);

/* ---- generation (orl gen) ---- */

#define ORL_GEN_DEFAULT_EPISODES     100
#define ORL_GEN_MEDIUM_REPLAY_STAGES 5 /* noise 1 down to the medium level */

typedef struct orl_gen_options {
    const char *env_id;
    /* random | medium | expert | medium-replay | medium-expert | diverse (PointMaze: stitching
     * data, behavior.h) | builtin:ENV/LEVEL | ENV/LEVEL
     * (LEVEL as behavior.h) | a policy file path (needs log-probabilities) | search:POLICY
     * (behaviour policy search, bps.h, for the discrete policy POLICY: the data is collected
     * with the searched behaviour) */
    const char *behavior;
    /* search: the search's options (NULL: orl_bps_options_init's); its seed is replaced by one
     * derived from seed below, so the search's episodes are not the data's */
    const orl_bps_options *search;
    int64_t episodes; /* 0: ORL_GEN_DEFAULT_EPISODES unless steps is set */
    int64_t steps;    /* 0: whole episodes; else exactly this many steps, the last episode cut */
    uint64_t seed;
    const char *source; /* the header's source (e.g. the command line); NULL: "orl gen" */
    const orl_progress *progress;
} orl_gen_options;

typedef struct orl_gen_report {
    int64_t n_steps, n_episodes;
    double return_mean, return_stderr;
    char behavior[128]; /* as written to the header: name and parameters */
    int searched;       /* 1 when the behaviour came from a search; then search is filled */
    orl_bps_report search;
} orl_gen_report;

/* generates a dataset to path (HDF5 D4RL layout, or as the writer's automatic layout says):
 * header env_id, behavior (name + parameters, e.g. the medium-replay noise schedule), source,
 * tool, discount (the spec's gamma), action bounds from the spec, has_logp = 1. Written to a
 * temporary name and renamed when complete. ORL_ERR_INPUT for an unknown environment or
 * behaviour, a behaviour for another environment, a policy whose shapes do not fit, or a
 * deterministic policy (off-policy evaluation needs behaviour probabilities); the reader,
 * writer and rollout statuses. report may be NULL. */
orl_status orl_gen(const orl_gen_options *opt, const char *path, orl_gen_report *report);

/* ---- loading a policy by name ---- */

/* loads name: "builtin:ENV/LEVEL" (a builtin behaviour of behavior.h) or a policy file of any
 * type in the policy-type table (mlp, builtin, tabular). The one loader every verb, benchmark
 * and test uses. Free *out with orl_policy_free. Statuses of orl_behavior_create (ORL_ERR_INPUT
 * for an unknown environment or level) and orl_policy_load_with (ORL_ERR_IO, ORL_ERR_FORMAT
 * naming the file and key; ORL_ERR_UNSUPPORTED for an unknown policy_type, the message naming
 * the file, the type and the known types). */
orl_status orl_policy_open(const char *name, orl_policy **out);

/* the policy-type table: its length and the policy_type of entry i (NULL out of range) */
int32_t orl_policy_type_count(void);
const char *orl_policy_type_name(int32_t i);

/* ---- what orl_ope_run needs to know of an environment ---- */

/* fills *out for env_id: whether the registry knows it, and its exact tabular model when it
 * has one (tabular.h: orl_tabular_model_get, orl_tabular_policy_probs), for exact tabular FQE
 * and the choice of RIS behaviour model, and its return range (orl_eval_return_range). Never fails: an unknown or empty env_id gives
 * registered = tabular = 0. */
void orl_eval_ope_environment(const char *env_id, orl_ope_environment *out);

/* the range [*lo, *hi] (lo < hi) of every policy's discounted return at discount gamma on
 * env_id, for the lower bounds of OPE: exact by min/max dynamic programming over the time limit
 * for a tabular environment, else the spec's reward bounds over its time limit
 * (orl_ope_return_range_from_rewards). ORL_ERR_INPUT for an unknown env_id or a bad gamma,
 * ORL_ERR_UNSUPPORTED when the environment declares no reward bounds. */
orl_status orl_eval_return_range(const char *env_id, double gamma, double *lo, double *hi);

/* ---- reference scores ---- */

typedef struct orl_reference {
    const char *env_id;
    double random_return, random_stderr; /* builtin random behaviour, sampled */
    double expert_return, expert_stderr; /* builtin expert behaviour, sampled */
    int32_t episodes;                    /* per behaviour; 0 when computed exactly */
    uint64_t seed;
    const char *method; /* how it was obtained */
} orl_reference;

/* number of table entries and entry i (NULL out of range) */
int32_t orl_reference_count(void);
const orl_reference *orl_reference_get(int32_t i);

/* random and expert mean returns of env_id; ORL_ERR_INPUT when the table has no entry.
 * random or expert may be NULL. */
orl_status orl_reference_score(const char *env_id, double *random, double *expert);

/* 100 (R - random) / (expert - random); NaN when expert == random */
double orl_normalized_score_from(double R, double random, double expert);

/* the normalised score of return R on env_id; NaN when the table has no entry */
double orl_normalized_score(const char *env_id, double R);

/* the evaluation orl_train calls (orl_train_options.evaluate): orl_eval in mean mode, and the
 * normalised score against the reference table. ctx is unused. */
orl_status orl_eval_for_training(void *ctx, const orl_policy *p, const char *env_id,
                                 int64_t episodes, uint64_t seed, double *mean_return,
                                 double *score);

#endif
