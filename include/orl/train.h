/* The training loop every offline learner runs through, and the learner interface.
 *
 * A learner (bc, fbc, awr here; td3bc, cql, iql, bcq, morel the same way) is an ops table
 * (orl_learner_ops below): create its state from the training (and validation) episodes and its
 * resolved hyperparameters; say which metrics its steps and its validation report; say which
 * rows to sample and with which per-row weights; run optional phases before gradient steps
 * (AWR's value fit, MOReL's dynamics fit); take one gradient step on a batch; measure a
 * validation batch; lend its current policy for evaluation and hand over the trained policy (of
 * any type) at the end; and list the buffers that make up its state so that the loop can
 * checkpoint and resume any learner without knowing it.
 *
 * orl_train: splits the dataset into training and validation episodes (seeded), builds the
 * learner, runs its phases, samples batches with an orl_rng, steps, logs every named metric as
 * JSON Lines, evaluates in an environment every so often, writes checkpoints and resumes from
 * one with bit-identical results. The same seed gives the same policy bits (with the same BLAS
 * thread count).
 *
 * Hyperparameters: each learner declares a table (name, default, kind, help); --set key=value
 * overrides; an unknown key or a bad value is ORL_ERR_INPUT naming it. The resolved values go
 * into the policy file's config JSON together with the loop's own settings.
 *
 * Nothing here prints; progress goes through orl_progress: steps (done, total = steps, what =
 * the learner and its first metric) and, during a phase, the phase's units (done, total =
 * units, what = the learner, the phase's name and the step it precedes).
 * Dimension letters as in nn.h: N steps, E episodes, B batch, S observation size, A action size. */
#ifndef ORL_TRAIN_H
#define ORL_TRAIN_H

#include "orl/dataset.h"
#include "orl/models.h"
#include "orl/policy.h"
#include "orl/progress.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stddef.h>
#include <stdint.h>

/* ---- hyperparameters ---- */

typedef enum orl_hparam_kind {
    ORL_HPARAM_KIND_INT = 0, /* an integer */
    ORL_HPARAM_KIND_FLOAT,   /* a finite number */
    ORL_HPARAM_KIND_CHOICE,  /* one of the '|'-separated words of choices */
    ORL_HPARAM_KIND_TEXT,    /* any non-empty text of at most 63 bytes (a file name) */
} orl_hparam_kind;

/* one hyperparameter a learner declares */
typedef struct orl_hparam_def {
    const char *name;
    orl_hparam_kind kind;
    const char *default_value; /* as text */
    const char *choices;       /* CHOICE: "a|b|c"; else NULL */
    const char *help;          /* one line, with the reference the default comes from */
} orl_hparam_def;

#define ORL_HPARAMS_MAX 32

/* resolved values of a learner's table (defaults overridden by --set) */
typedef struct orl_hparams {
    int32_t n;
    const orl_hparam_def *defs;       /* (n) the learner's table */
    char values[ORL_HPARAMS_MAX][64]; /* (n) the values as text */
    double numbers[ORL_HPARAMS_MAX];  /* (n) INT and FLOAT values; NaN for CHOICE and TEXT */
} orl_hparams;

/* the value of name (which must be in the table: a programmer error otherwise) */
double orl_hparams_number(const orl_hparams *hp, const char *name);
const char *orl_hparams_text(const orl_hparams *hp, const char *name);

/* ---- learners ----
 *
 * A learner owns its networks, targets, optimisers and any statistics; the loop owns the split,
 * batching, seeding, the metrics log, evaluation, checkpoints and resume. The loop calls a
 * learner's ops in this order (every op receives the state create made):
 *
 *   create                       once; the only op that may allocate (besides phase_run, see
 *                                there, and export_policy's result)
 *   metrics(STEP), metrics(VALIDATION), sampling, buffers
 *                                once each after create (VALIDATION only when the learner has
 *                                validate and episodes are held out); a resumed run then reads
 *                                the checkpoint into the listed buffers
 *   for step = first .. steps-1:
 *     phase_at(step)             (optional) a phase before this gradient step? then
 *       phase_run(step, unit)    for each of its units not done yet; the loop reports every unit
 *                                through progress, and checkpoints after the last one (when
 *                                checkpoints are on) and wherever progress asks to stop
 *     step(batch)                one gradient step on a batch of training rows
 *     validate(batch)...         (optional) at log and evaluation steps, on every validation
 *                                chunk; policy() for the evaluation
 *     buffers                    before every checkpoint (a learner may move a buffer)
 *   export_policy                once, at the end of a completed run
 *   free                         always, also after a failure or an interruption
 *
 * How the coming learners fit: TD3+BC, CQL and IQL list their actor, twin critics, target
 * networks, value network, log-alpha / Lagrange multiplier and one Adam state per optimiser as
 * buffers, read obs, act, rew, next_obs, terminal and timeout from the batch, and report their
 * losses, alpha and TD error as step metrics (validation: TD error or the actor's imitation
 * loss on held-out rows). MOReL's phase_at(0) returns its dynamics fit ("model_fit", one unit
 * per epoch or member), the ensemble in its buffers. BCQ's and argmax-Q learners' export_policy
 * builds a policy of their own type. Nothing in orl_train changes for any of them.
 *
 * Determinism: the learner's randomness comes only from the rng create, phase_run and step
 * receive (one stream, checkpointed by the loop); everything else that changes during training
 * is in its buffers. Then a run interrupted anywhere (between steps, between phase units) and
 * resumed gives the bits of an uninterrupted one. */

/* which op fills a list of metrics */
typedef enum orl_metric_kind {
    ORL_METRIC_KIND_STEP = 0,   /* step: measured on the training batch before the update */
    ORL_METRIC_KIND_VALIDATION, /* validate: measured on a batch of validation rows */
} orl_metric_kind;

/* the names of a learner's metrics of one kind, in the order its op fills the values. The
 * names are static strings (they outlive the state: the run's result keeps them) and fixed
 * after create; there may be any number. */
typedef struct orl_metric_names {
    int32_t n;
    const char *const *names; /* (n) */
} orl_metric_names;

/* what the loop gives a learner at creation (the pointers are valid for the state's life) */
typedef struct orl_learner_context {
    const orl_dataset *train; /* the training episodes: step batches' rows index it */
    const orl_dataset *val;   /* the held-out episodes: validation batches' rows index it;
                                 NULL when none are held out */
    const orl_hparams *hp;    /* resolved hyperparameters */
    const char *config_json;  /* to store in the policy (the loop's settings + hp) */
    int32_t max_batch;        /* B of every step and validation call */
} orl_learner_context;

/* how the loop draws training batches for a learner (filled by the sampling op) */
typedef struct orl_learner_sampling {
    const int64_t *rows; /* (n_rows) the training rows to draw from, owned by the state; NULL
                            for all rows of ctx->train */
    int64_t n_rows;      /* ignored when rows is NULL */
    const float *weight; /* (N of ctx->train) per-row weights, owned by the state, that the loop
                            copies into batch.weight; NULL: batch.weight is NULL. Read at every
                            batch, so the learner may rewrite them (e.g. in a phase). */
} orl_learner_sampling;

/* a phase: work a learner does before a gradient step (AWR's value fit, MOReL's dynamics fit)
 * in units the loop runs one by one, reports, and checkpoints between */
typedef struct orl_phase {
    const char *name; /* static: "value_fit", "model_fit"; shown in progress */
    int64_t units;    /* >= 1: the number of phase_run calls (epochs, members, 1) */
} orl_phase;

typedef struct orl_learner_ops {
    const char *name;              /* "bc", ... */
    const char *summary;           /* one line for --help */
    const orl_hparam_def *hparams; /* the table, terminated by a {NULL} entry */
    /* the reference implementation's batch for continuous and for discrete actions, used when
     * the options leave the batch 0 (0 here: 256, CORL's) */
    int32_t batch_continuous, batch_discrete;
    /* the steps of a run whose options leave steps 0 (0 here: 100000); MOReL's steps are NPG
     * iterations */
    int64_t default_steps;

    /* builds the state: every network, optimiser, buffer and scratch array the learner will
     * use (nothing is allocated in step or validate). rng initialises parameters; it is the
     * learner's own stream, checkpointed by the loop. ORL_ERR_INPUT for hyperparameters or data
     * the learner cannot take, ORL_ERR_NOMEM. */
    orl_status (*create)(const orl_learner_context *ctx, orl_rng *rng, void **state);

    /* the names of the metrics step (kind STEP) or validate (kind VALIDATION) fills. The metrics
     * log writes each step metric under its name and each validation metric under "val_" and
     * its name; every step metric must be finite (a non-finite one stops the run naming the
     * step). A learner without validate returns {0, NULL} for VALIDATION. */
    orl_metric_names (*metrics)(void *state, orl_metric_kind kind);

    /* fills *out: the training rows batches are drawn from (uniformly, with replacement) and
     * the per-row weights put into the batches; the pointers must stay valid for the state's
     * life (their contents may change) */
    void (*sampling)(void *state, orl_learner_sampling *out);

    /* optional (NULL: the learner has no phases). Returns 1 and fills *phase when a phase runs
     * before gradient step `step` (0-based; step 0: before any step), else 0. Must depend only
     * on step and the hyperparameters (a resumed run asks again). */
    int (*phase_at)(void *state, int64_t step, orl_phase *phase);

    /* runs unit `unit` (0-based, of phase_at(step)'s units) of the phase before `step`, drawing
     * from rng. Whatever it changes must be in the buffers (a checkpoint may follow any unit).
     * May allocate scratch that it frees before returning (a phase is not a hot loop). */
    orl_status (*phase_run)(void *state, int64_t step, int64_t unit, orl_rng *rng);

    /* one gradient step (step is 0-based) on batch: size B <= max_batch rows of ctx->train
     * (batch->from == ctx->train; obs, next_obs, act or act_idx, rew, terminal, timeout filled;
     * weight as sampling says). Fills metrics (n of metrics(STEP)). ORL_ERR_NUMERIC for a
     * non-finite loss (the loop adds the step number). */
    orl_status (*step)(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                       double *metrics);

    /* optional (NULL: no validation). Measures the current state on batch, rows of ctx->val
     * (batch->from == ctx->val, batch->weight NULL), without updating anything or drawing
     * random numbers; fills metrics (n of metrics(VALIDATION)), each a mean over the batch's
     * rows (the loop averages the batches weighted by their sizes). */
    orl_status (*validate)(void *state, const orl_batch *batch, double *metrics);

    /* the current policy, borrowed (owned by the state, valid until the next step or phase):
     * what the loop evaluates in an environment */
    const orl_policy *(*policy)(void *state);

    /* hands over the trained result: a self-contained policy of any type (an MLP actor, an
     * argmax over a Q-network, a generative model with a perturbation and a critic) that
     * outlives the state, and that orl_policy_save can store (its type's ops). Called once at
     * the end of a completed run; the state is only freed after it (it may give up parts of
     * itself). ORL_ERR_NOMEM, ORL_ERR_UNSUPPORTED. */
    orl_status (*export_policy)(void *state, orl_policy **out);

    /* the state's buffers (everything that changes during training: parameters, target
     * networks, optimiser moments, counters, statistics), in a fixed order, listed into out
     * (capacity cap) with orl_buffer_put; returns their number, which may exceed cap (nn.h) */
    int32_t (*buffers)(void *state, orl_buffer *out, int32_t cap);

    /* state may be NULL */
    void (*free)(void *state);
} orl_learner_ops;

/* a self-contained copy of an MLP policy (policy.h's orl_policy_mlp_*), with its algorithm,
 * config, bounds and normaliser: the export_policy of learners whose result is an MLP actor.
 * ORL_ERR_UNSUPPORTED when p is not an MLP policy, ORL_ERR_NOMEM. */
orl_status orl_learner_copy_mlp_policy(orl_policy *p, orl_policy **out);

/* the built-in learners, by name (NULL when unknown), and their list */
const orl_learner_ops *orl_learner_find(const char *name);
int32_t orl_learner_count(void);
const orl_learner_ops *orl_learner_get(int32_t i);

extern const orl_learner_ops orl_learner_bc;
extern const orl_learner_ops orl_learner_fbc;
extern const orl_learner_ops orl_learner_awr;
extern const orl_learner_ops orl_learner_td3bc;
extern const orl_learner_ops orl_learner_iql;
extern const orl_learner_ops orl_learner_cql;
extern const orl_learner_ops orl_learner_bcq;
extern const orl_learner_ops orl_learner_morel;
extern const orl_learner_ops orl_learner_sac;

/* SAC's soft TD target (algorithms/sac.c; CQL's continuous form uses it too): y (B) =
 * rew + gamma (1 - terminal) (tq - alpha logp_next) in double, rounded to float, for tq (B) the
 * reduced target critics' values at (s', a'), a' ~ pi(s') with log-density logp_next (B);
 * logp_next NULL drops the entropy term */
void orl_sac_td_target(float *y, const float *tq, const float *logp_next, const float *rew,
                       const uint8_t *terminal, int32_t batch, double gamma, float alpha);

/* SAC's actor loss mean_b (alpha logp_b - min_k q_kb) over the K critics' values q (K, B) of
 * the actor's own actions a_b ~ pi(s_b) and their log-densities logp (B), sums in double;
 * dq (K, B) receives its gradient w.r.t. q (-1/B at each row's smallest member, 0 elsewhere)
 * and dlogp (B) the one w.r.t. logp (alpha / B), both overwritten; *logp_mean (may be NULL)
 * gets mean_b logp_b */
double orl_sac_actor_loss(float *dq, float *dlogp, const float *q, const float *logp, int32_t K,
                          int32_t batch, float alpha, double *logp_mean);

/* IQL's advantage weights (algorithms/iql.c): w (B) = min(exp(beta (q - v)), max_weight) in
 * double, rounded to float; returns the mean advantage mean(q - v) and sets *weight_mean to
 * the mean of w */
double orl_iql_weights(float *w, const float *q, const float *v, int32_t batch, double beta,
                       double max_weight, double *weight_mean);

/* BCQ's perturbation (algorithms/bcq.c): moved (B, A) = clip(act + phi h tanh(u), lo, hi) for
 * the network output u (B, A), h = (hi - lo) / 2 per dimension (the reference's phi *
 * max_action); its backward du (B, A) += dmoved * phi h (1 - tanh(u)^2) where the sum lies in
 * [lo, hi] (torch.clamp's gradient), 0 where it was clipped; act is held fixed (detached).
 * tanh is orl_tanh_fill's (float, heads.h); moved may not overlap act */
void orl_bcq_perturb(float *moved, const float *act, const float *u, const float *lo,
                     const float *hi, int32_t batch, int32_t act_dim, double phi);
void orl_bcq_perturb_backward(float *du, const float *dmoved, const float *act, const float *u,
                              const float *lo, const float *hi, int32_t batch, int32_t act_dim,
                              double phi);

/* discrete BCQ's loss over q (B, n), imitation logits (B, n), logged actions act (B) and
 * targets y (B), in double:
 *   Huber_1(q[b, act_b] - y_b) mean over b  +  -log softmax(logits_b)[act_b] mean over b
 *   + reg mean over (b, k) of logits[b, k]^2
 * returns the total, *q_loss and *imitation_loss its first two terms (may be NULL); dq and
 * dlogits (B, n) += its gradients (each may be NULL) */
double orl_bcq_discrete_loss(float *dq, float *dlogits, const float *q, const float *logits,
                             const int32_t *act, const float *y, int32_t batch, int32_t n,
                             double reg, double *q_loss, double *imitation_loss);

/* resolves ops' table with sets (n of them, "key=value"); ORL_ERR_INPUT naming an unknown key
 * (and listing the known ones) or a value of the wrong kind */
orl_status orl_hparams_resolve(const orl_learner_ops *ops, const char *const *sets, int32_t n,
                               orl_hparams *out);

/* ---- the loop ---- */

typedef struct orl_train_options {
    const char *algo;               /* learner name (one of the built-in learners) */
    const orl_learner_ops *learner; /* NULL: algo; else this learner (one of the caller's own;
                                       algo is then its name) */
    const char *const *sets;        /* (n_sets) "key=value" hyperparameter overrides */
    int32_t n_sets;
    int64_t steps;         /* gradient steps; 0 (the default): the learner's default_steps, or
                              100000 when it names none */
    int32_t batch;         /* B; 0 (the default): the learner's reference batch for the
                              data's action kind (orl_train_batch: 256, CORL's, for most) */
    uint64_t seed;         /* default 0 */
    double val_fraction;   /* episodes held out for the validation loss (default 0.05; with
                              fewer than 20 episodes none); 0: none */
    int64_t log_every;     /* metrics line and validation loss every so many steps (1000) */
    const char *log_path;  /* NULL: no metrics log; else JSON Lines, appended on resume */
    const char *eval_env;  /* NULL: no evaluation; else the environment id */
    int64_t eval_every;    /* evaluate every so many steps (and at the end) */
    int64_t eval_episodes; /* episodes per evaluation (default 10) */
    /* runs the evaluation (required with eval_env): the mean return of p over episodes seeded
     * from seed in env_id, and its normalised score. algorithms/ sits below eval/, so the
     * caller passes eval/'s orl_eval_for_training (eval.h) or its own. */
    orl_status (*evaluate)(void *ctx, const orl_policy *p, const char *env_id, int64_t episodes,
                           uint64_t seed, double *mean_return, double *score);
    void *evaluate_ctx;
    const char *checkpoint_path;  /* NULL: none; else the checkpoint file */
    int64_t checkpoint_every;     /* steps between checkpoints */
    int resume;                   /* 1: continue from checkpoint_path when it exists */
    int64_t stop_after;           /* 0: run to steps; else stop (as if interrupted) after this many
                                     steps of this call, after writing a checkpoint (tests) */
    const char *data_path;        /* for the config JSON only (may be NULL) */
    const orl_progress *progress; /* may be NULL */
} orl_train_options;

/* defaults as documented above */
void orl_train_options_init(orl_train_options *opt);

/* the steps a run uses: opt_steps when > 0, else the learner's default_steps (100000 when it
 * names none) */
int64_t orl_train_steps(const orl_learner_ops *ops, int64_t opt_steps);

/* the batch a run uses: opt_batch when > 0, else the learner's reference batch for actions of
 * kind (256 when the learner names none) */
int32_t orl_train_batch(const orl_learner_ops *ops, int32_t opt_batch, orl_action_kind kind);

/* a list of named values of a run's result */
typedef struct orl_train_metrics {
    int32_t n;
    const char *const *names; /* (n) the learner's static names */
    double *values;           /* (n) owned by the result (orl_train_result_free) */
} orl_train_metrics;

/* the value of the metric name in m, NaN when m has none of that name */
double orl_train_metric(const orl_train_metrics *m, const char *name);

typedef struct orl_train_result {
    int64_t steps_done;     /* the last step reached (== steps when complete) */
    int64_t resumed_from;   /* step the run resumed at (0 when fresh) */
    orl_train_metrics last; /* the step metrics of the last step (NaN before any) */
    orl_train_metrics val;  /* the last validation's metrics (n = 0 without validation; NaN
                               before the first); e.g. orl_train_metric(&r.val, "loss") */
    double eval_return;     /* last evaluation's mean return (NaN when none) */
    double eval_score;      /* its normalised score (NaN when none or no reference) */
    double seconds;         /* wall time of this call */
    int64_t train_episodes, val_episodes;
    char config_json[4096]; /* everything the run used, as stored in the policy */
} orl_train_result;

/* releases the metric values of a result orl_train filled (whatever its status); r may be
 * NULL; a freed result is empty (n = 0) */
void orl_train_result_free(orl_train_result *r);

/* the config JSON the run would use (hyperparameters resolved), without training: for
 * printing at start. ORL_ERR_INPUT as orl_hparams_resolve or for an unknown algorithm. */
orl_status orl_train_describe(const orl_train_options *opt, char *json, size_t cap);

/* trains on ds (a whole dataset, validated by the caller) and returns the policy in *out (free
 * with orl_policy_free). ORL_ERR_INPUT for bad options; ORL_ERR_NUMERIC naming the step of a
 * non-finite loss; ORL_ERR_IO for the log or checkpoint; ORL_ERR_INTERRUPTED when progress
 * asks to stop (between steps or between phase units) or stop_after is reached (a checkpoint is
 * written first when one is configured; *out stays NULL). result may be NULL; when it is not,
 * release it with orl_train_result_free whatever the status.
 *
 * The metrics log (opt->log_path) has one JSON object per line at every log_every-th step, at
 * evaluations and at the end: "step", the learner's step metrics under their names, its
 * validation metrics (when episodes are held out) under "val_" + name, "eval_return" and
 * "normalized_score" at evaluations, and "time" (seconds since the call began). */
orl_status orl_train(const orl_dataset *ds, const orl_train_options *opt, orl_policy **out,
                     orl_train_result *result);

/* ---- checkpoint files ----
 * The one checkpoint format, of orl_train and of the online loop (online.h): "ORLCKPT2", the
 * config JSON (length, text), the position (step, phase units done before it), the learner's
 * and the batches' rng states, the number of buffers, then per buffer its name
 * (ORL_BUFFER_NAME_MAX bytes), byte count and bytes; little-endian as the host writes it. A
 * checkpoint is written to a temporary name (orl_fs_temp_name) and renamed when complete, so a
 * killed writer leaves the previous checkpoint in place. */

typedef struct orl_checkpoint_head {
    int64_t step;       /* the next step of the run */
    int64_t phase_done; /* units of the phase before step already run (0 without phases) */
    orl_rng learner_rng, batch_rng;
    int32_t n_buffers; /* the buffers that follow */
} orl_checkpoint_head;

/* a checkpoint file being written or read */
typedef struct orl_checkpoint orl_checkpoint;

/* starts writing a checkpoint for path (into a temporary name) with config and head; then
 * exactly head->n_buffers buffers follow, each by orl_checkpoint_put or by
 * orl_checkpoint_put_start and pieces of orl_checkpoint_put_bytes adding up to its bytes.
 * ORL_ERR_IO, ORL_ERR_NOMEM. */
orl_status orl_checkpoint_create(const char *path, const char *config,
                                 const orl_checkpoint_head *head, orl_checkpoint **out);
orl_status orl_checkpoint_put(orl_checkpoint *c, const char *name, const void *ptr, int64_t bytes);
orl_status orl_checkpoint_put_start(orl_checkpoint *c, const char *name, int64_t bytes);
orl_status orl_checkpoint_put_bytes(orl_checkpoint *c, const void *ptr, int64_t bytes);

/* completes a checkpoint being written (every buffer written: a programmer error otherwise)
 * and renames it into place; *bytes (may be NULL) receives the file's size. Frees c whatever
 * the outcome. ORL_ERR_IO. */
orl_status orl_checkpoint_commit(orl_checkpoint *c, int64_t *bytes);

/* opens the checkpoint at path and reads its head (*head) and its config
 * (orl_checkpoint_config); the caller compares the config with its own and reads the buffers
 * in order with orl_checkpoint_get (or _get_start and _get_bytes). ORL_ERR_IO when it cannot
 * be opened, ORL_ERR_FORMAT when it is not a checkpoint of this version or is truncated,
 * ORL_ERR_NOMEM. */
orl_status orl_checkpoint_open(const char *path, orl_checkpoint_head *head, orl_checkpoint **out);

/* the config JSON stored in a checkpoint being read (owned by c) */
const char *orl_checkpoint_config(const orl_checkpoint *c);

/* reads the next buffer, which must be named name and hold bytes bytes, into ptr;
 * ORL_ERR_FORMAT naming the buffer when it is missing, another or of another size, or the file
 * ends within it */
orl_status orl_checkpoint_get(orl_checkpoint *c, const char *name, void *ptr, int64_t bytes);
orl_status orl_checkpoint_get_start(orl_checkpoint *c, const char *name, int64_t bytes);
orl_status orl_checkpoint_get_bytes(orl_checkpoint *c, void *ptr, int64_t bytes);

/* the FNV-1a (64-bit) digest of every byte written to or read from c so far: a writer may store
 * it as its last buffer and a reader compare it with its own before reading that buffer, so a
 * corrupt file is refused rather than resumed from (the online loop does) */
uint64_t orl_checkpoint_digest(const orl_checkpoint *c);

/* closes a checkpoint being read, or abandons one being written (its temporary file is
 * removed); c may be NULL */
void orl_checkpoint_close(orl_checkpoint *c);

/* ---- the imitation core's hyperparameters ----
 * The core itself (orl_imitation_step, _loss, _policy, _buffers, _free) is in models.h. Its
 * entries for a learner's own table: head, hidden, layers, lr, log_std_min, log_std_max,
 * normalize_obs; defaults: CORL's BC (2 hidden layers of 256, ReLU, Adam 3e-4, deterministic
 * head, normalised states); Gaussian log-std bounds [-5, 2] as CORL's CQL/IQL actors */
#define ORL_IMITATION_HPARAM_DEFS                                                                  \
    {"head", ORL_HPARAM_KIND_CHOICE, "auto",                                                       \
     "auto|deterministic|gaussian|tanh_gaussian|categorical",                                      \
     "policy head; auto: deterministic (continuous, CORL BC) or categorical (discrete)"},          \
        {"hidden", ORL_HPARAM_KIND_INT, "256", NULL, "hidden width (CORL, d3rlpy: 256)"},          \
        {"layers", ORL_HPARAM_KIND_INT, "2", NULL, "hidden layers (CORL, d3rlpy: 2)"},             \
        {"lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL, "Adam learning rate (CORL BC: 3e-4)"},         \
        {"log_std_min", ORL_HPARAM_KIND_FLOAT, "-5", NULL, "Gaussian heads: log-std lower bound"}, \
        {"log_std_max", ORL_HPARAM_KIND_FLOAT, "2", NULL, "Gaussian heads: log-std upper bound"},  \
    {                                                                                              \
        "normalize_obs", ORL_HPARAM_KIND_INT, "1", NULL,                                           \
            "1: observation mean/std normalisation (eps 1e-3) stored in the policy (CORL)"         \
    }

/* the imitation core (orl_imitation_create_with, models.h) with the settings read from hp
 * (a table holding ORL_IMITATION_HPARAM_DEFS; head "auto": deterministic for continuous,
 * categorical for discrete actions). ORL_ERR_INPUT (a head that does not fit the action
 * space), ORL_ERR_NOMEM. */
orl_status orl_imitation_create(const orl_dataset *train, const orl_hparams *hp, const char *algo,
                                const char *config_json, int32_t max_batch, orl_rng *rng,
                                orl_imitation **out);

#endif
