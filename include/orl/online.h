/* Online training: any off-policy learner of train.h (SAC above all) with an environment in the
 * loop. The loop acts in the environment (uniformly random actions for a warm-up, then the
 * learner's current policy, sampled), stores every transition in a replay buffer that grows up
 * to its capacity and then overwrites its oldest rows, and after the warm-up runs one gradient
 * step of the learner per environment step on a batch drawn uniformly (with replacement) from
 * the buffer. The learner sees the buffer as its training dataset (ctx->train, whose n_steps
 * grows); it is created at the end of the warm-up, on the warm-up's rows.
 *
 * Not here: the learners themselves (algorithms/), offline training (orl_train).
 *
 * Checkpoints (checkpoint_path): every checkpoint_every environment steps, at the end, and when
 * progress asks to stop, in orl_train's file format (train.h's orl_checkpoint_*), written to a
 * temporary name and renamed. One holds everything that changes: the learner's buffers (once it
 * exists), the learner's, batches' and actions' rng states, the replay buffer's filled rows
 * (each column in storage order; a next observation equal to the following row's observation,
 * as within an episode, is stored as one bit) and its ring position, the episode in progress
 * (orl_env_get_state: the environment's rng, step count and physical state, and the current
 * observation), the loop's counters (episodes, returns so far, CPU and wall time, the last
 * metrics) and the metrics log's size. A run resumed from one (resume) continues with the bits
 * of an uninterrupted run: the same policy and the same metrics lines apart from the times.
 *
 * Determinism: the same seed and BLAS thread count give the same bits. Streams from the seed:
 * the learner's (12) and the batches' (13) as orl_train's, the actions' (14: warm-up actions and
 * policy samples); training episode e resets the environment seeded with
 * orl_rollout_episode_seed(seed ^ ORL_ONLINE_EPISODE_SALT, e), so training episodes are not the
 * evaluation's (orl_eval_for_training with the seed, in mean mode).
 * Dimension letters as in nn.h. */
#ifndef ORL_ONLINE_H
#define ORL_ONLINE_H

#include "orl/env.h"
#include "orl/policy.h"
#include "orl/progress.h"
#include "orl/status.h"
#include "orl/train.h"

#include <stdint.h>

#define ORL_ONLINE_EPISODE_SALT 0x6f6e6c696e65ULL /* "online" */
#define ORL_ONLINE_MAX_METRICS  16

typedef struct orl_online_options {
    const char *algo;               /* learner name (an off-policy learner: "sac") */
    const orl_learner_ops *learner; /* NULL: algo; else this learner */
    const char *const *sets;        /* (n_sets) "key=value" hyperparameter overrides */
    int32_t n_sets;
    const char *env_id;    /* the environment acted in (continuous actions for sac) */
    int64_t steps;         /* environment steps (default 1000000) */
    int64_t warmup;        /* first steps with uniformly random actions and no updates
                              (default 10000, Haarnoja et al. 2018) */
    int64_t buffer;        /* replay capacity in transitions (default 1000000) */
    int32_t batch;         /* B; 0: the learner's reference batch (256) */
    uint64_t seed;         /* default 0 */
    int64_t log_every;     /* metrics line every so many environment steps (1000) */
    const char *log_path;  /* NULL: no metrics log; else JSON Lines */
    const char *eval_env;  /* NULL: no evaluation; else the environment evaluated in */
    int64_t eval_every;    /* evaluate every so many environment steps (and at the end) */
    int64_t eval_episodes; /* episodes per evaluation (default 10) */
    int64_t save_every;    /* 0: no snapshots; else the policy every so many environment steps
                              (from the end of the warm-up on) to orl_online_snapshot_path */
    const char *save_path; /* the snapshots' base name (the final policy's path); needed when
                              save_every > 0 */
    const orl_progress *progress; /* may be NULL; reports environment steps */
    orl_env *env; /* NULL: env_id is made; else this environment is acted in (borrowed, e.g. a
                     model's pessimistic MDP, pmdp_env.h) and env_id may be NULL */
    const char *checkpoint_path; /* NULL: no checkpoints; else the checkpoint file */
    int64_t checkpoint_every;    /* environment steps between checkpoints (default 10000) */
    int resume;                  /* 1: continue from checkpoint_path, which must exist */
    int64_t stop_after;          /* 0: run to steps; else stop (as if interrupted) after this many
                                    environment steps of this call, after writing a checkpoint (tests) */
} orl_online_options;

/* the defaults above */
void orl_online_options_init(orl_online_options *opt);

typedef struct orl_online_result {
    int64_t env_steps;   /* environment steps taken */
    int64_t updates;     /* gradient steps taken */
    int64_t episodes;    /* training episodes finished */
    double train_return; /* mean return of the training episodes finished in the last log
                            interval (NaN when none) */
    double eval_return;  /* last evaluation's mean return (NaN when none) */
    double eval_score;   /* its normalised score (NaN when none or no reference) */
    int32_t n_metrics;   /* the learner's step metrics of the last update (NaN before any) */
    const char *metric_names[ORL_ONLINE_MAX_METRICS];
    double metrics[ORL_ONLINE_MAX_METRICS];
    double seconds;            /* wall time */
    double cpu_env;            /* CPU seconds of this thread in environment steps and resets */
    double cpu_act;            /* ... in choosing actions (the policy's forward pass) */
    double cpu_update;         /* ... in the learner's gradient steps (batches included) */
    double cpu_eval;           /* ... in evaluations */
    char config_json[4096];    /* everything the run used, as stored in the policy */
    int64_t resumed_from;      /* environment step the run resumed at (0 when fresh) */
    int64_t checkpoints;       /* checkpoints written by this call */
    int64_t checkpoint_bytes;  /* the last one's size in bytes (0: none) */
    double checkpoint_seconds; /* the last one's write time (wall seconds) */
} orl_online_result;

/* the name of the snapshot at environment step `step` of a run writing to path: "-step<step>"
 * inserted before the extension (the last '.' of the file name), e.g. hopper.h5 ->
 * hopper-step100000.h5; appended when the name has no extension. ORL_ERR_INPUT when it does not
 * fit in cap bytes. */
orl_status orl_online_snapshot_path(const char *path, int64_t step, char *out, size_t cap);

/* the config JSON the run would use (hyperparameters resolved), without training.
 * ORL_ERR_INPUT as orl_hparams_resolve or for an unknown algorithm. */
orl_status orl_online_describe(const orl_online_options *opt, char *json, size_t cap);

/* trains opt->algo online in opt->env_id and returns the policy in *out (free with
 * orl_policy_free). result may be NULL. ORL_ERR_INPUT for bad options, an unknown environment
 * or one whose actions the learner cannot take; ORL_ERR_NUMERIC naming the update of a
 * non-finite loss; ORL_ERR_IO for the log or a checkpoint that cannot be written or opened;
 * ORL_ERR_INTERRUPTED when progress asks to stop or stop_after is reached (a checkpoint is
 * written first when checkpoint_path is set; *out stays NULL); ORL_ERR_NOMEM.
 *
 * With resume: ORL_ERR_IO when checkpoint_path does not exist; ORL_ERR_FORMAT when it is not a
 * checkpoint or is truncated or corrupt; ORL_ERR_INPUT when it was made with other settings
 * (the message names each differing key) or is past steps. Only steps may differ (a larger one
 * continues a finished run; its config is then the new one). The metrics log is cut back to
 * its size at the checkpoint (lines a killed run wrote after it) and appended to.
 *
 * The metrics log has one JSON object per line every log_every environment steps, at
 * evaluations and at the end: "step" (environment steps), "updates", the learner's step
 * metrics under their names (null before the first update), "episodes" and "train_return" (the
 * mean return of training episodes finished since the last line, null when none),
 * "eval_return" and "normalized_score" at evaluations, "time" (wall seconds) and "cpu_env",
 * "cpu_act", "cpu_update" (CPU seconds so far in each).
 *
 * With save_every > 0 the learner's policy (as *out would be then) is written every save_every
 * environment steps at which a policy exists (not within the warm-up), to
 * orl_online_snapshot_path(save_path, step) through orl_policy_save (a temporary name renamed
 * when complete); the log line of that step carries "snapshot" (the path). A snapshot at the last
 * step holds the same parameters as *out. ORL_ERR_IO when a snapshot cannot be written. */
orl_status orl_online_train(const orl_online_options *opt, orl_policy **out,
                            orl_online_result *result);

#endif
