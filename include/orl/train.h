/* The training loop every offline learner runs through, and the learner interface.
 *
 * A learner (bc, fbc, awr here; later ones the same way) is an ops table: create its state from
 * the training episodes and its resolved hyperparameters, take one gradient step on a batch,
 * give the validation loss of a batch, expose its current policy (an MLP policy, orl/policy.h)
 * and list the buffers that make up its state (parameters, optimiser moments, counters) so the
 * loop can checkpoint and resume any learner without knowing it.
 *
 * orl_train: splits the dataset into training and validation episodes (seeded), builds the
 * learner, samples batches with an orl_rng, steps, logs metrics as JSON Lines, evaluates in an
 * environment every so often, writes checkpoints and resumes from one with bit-identical
 * results. The same seed gives the same policy bits (with the same BLAS thread count).
 *
 * Hyperparameters: each learner declares a table (name, default, kind, help); --set key=value
 * overrides; an unknown key or a bad value is ORL_ERR_INPUT naming it. The resolved values go
 * into the policy file's config JSON together with the loop's own settings.
 *
 * Nothing here prints; progress goes through orl_progress (what = a short loss summary).
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
    double numbers[ORL_HPARAMS_MAX];  /* (n) INT and FLOAT values; NaN for CHOICE */
} orl_hparams;

/* the value of name (which must be in the table: a programmer error otherwise) */
double orl_hparams_number(const orl_hparams *hp, const char *name);
const char *orl_hparams_text(const orl_hparams *hp, const char *name);

/* ---- learners ---- */

#define ORL_TRAIN_MAX_LOSSES 4

/* what one step reports: named losses (the names are static strings) */
typedef struct orl_train_losses {
    int32_t n;
    const char *names[ORL_TRAIN_MAX_LOSSES];
    double values[ORL_TRAIN_MAX_LOSSES];
} orl_train_losses;

/* what the loop gives a learner at creation */
typedef struct orl_learner_context {
    const orl_dataset *train; /* the training episodes (valid for the learner's lifetime) */
    const orl_hparams *hp;    /* resolved hyperparameters */
    const char *config_json;  /* to store in the policy (the loop's settings + hp) */
    int32_t max_batch;        /* B of every step and validation call */
} orl_learner_context;

typedef struct orl_learner_ops {
    const char *name;              /* "bc", ... */
    const char *summary;           /* one line for --help */
    const orl_hparam_def *hparams; /* the table, terminated by a {NULL} entry */

    /* builds the state; rng initialises parameters (and is the learner's own stream: it is
     * checkpointed by the loop) */
    orl_status (*create)(const orl_learner_context *ctx, orl_rng *rng, void **state);

    /* the training rows to sample from: *rows (n) row indices owned by the state, or NULL for
     * all rows (*n is then ignored) */
    void (*sample_rows)(void *state, const int64_t **rows, int64_t *n);

    /* one training step on batch (step is 0-based); fills losses; ORL_ERR_NUMERIC for a
     * non-finite loss (the loop adds the step number) */
    orl_status (*step)(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                       orl_train_losses *losses);

    /* the imitation loss of the current policy on a batch, no update (validation) */
    orl_status (*eval_loss)(void *state, const orl_batch *batch, double *loss);

    /* the current policy (owned by the state; its parameters are the trained ones) */
    orl_policy *(*policy)(void *state);

    /* the state's buffers, in a fixed order, listed into out (capacity cap) with
     * orl_buffer_put; returns their number, which may exceed cap (nn.h) */
    int32_t (*buffers)(void *state, orl_buffer *out, int32_t cap);

    void (*free)(void *state);
} orl_learner_ops;

/* the built-in learners, by name (NULL when unknown), and their list */
const orl_learner_ops *orl_learner_find(const char *name);
int32_t orl_learner_count(void);
const orl_learner_ops *orl_learner_get(int32_t i);

extern const orl_learner_ops orl_learner_bc;
extern const orl_learner_ops orl_learner_fbc;
extern const orl_learner_ops orl_learner_awr;

/* resolves ops' table with sets (n of them, "key=value"); ORL_ERR_INPUT naming an unknown key
 * (and listing the known ones) or a value of the wrong kind */
orl_status orl_hparams_resolve(const orl_learner_ops *ops, const char *const *sets, int32_t n,
                               orl_hparams *out);

/* ---- the loop ---- */

typedef struct orl_train_options {
    const char *algo;        /* learner name */
    const char *const *sets; /* (n_sets) "key=value" hyperparameter overrides */
    int32_t n_sets;
    int64_t steps;         /* gradient steps (default 100000) */
    int32_t batch;         /* B (default 256, CORL) */
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

typedef struct orl_train_result {
    int64_t steps_done;    /* the last step reached (== steps when complete) */
    int64_t resumed_from;  /* step the run resumed at (0 when fresh) */
    orl_train_losses last; /* losses of the last step */
    double val_loss;       /* last validation loss (NaN when none) */
    double eval_return;    /* last evaluation's mean return (NaN when none) */
    double eval_score;     /* its normalised score (NaN when none or no reference) */
    double seconds;        /* wall time of this call */
    int64_t train_episodes, val_episodes;
    char config_json[4096]; /* everything the run used, as stored in the policy */
} orl_train_result;

/* the config JSON the run would use (hyperparameters resolved), without training: for
 * printing at start. ORL_ERR_INPUT as orl_hparams_resolve or for an unknown algorithm. */
orl_status orl_train_describe(const orl_train_options *opt, char *json, size_t cap);

/* trains on ds (a whole dataset, validated by the caller) and returns the policy in *out (free
 * with orl_policy_free). ORL_ERR_INPUT for bad options; ORL_ERR_NUMERIC naming the step of a
 * non-finite loss; ORL_ERR_IO for the log or checkpoint; ORL_ERR_INTERRUPTED when progress
 * asks to stop or stop_after is reached (a checkpoint is written first when one is configured;
 * *out stays NULL). result may be NULL. */
orl_status orl_train(const orl_dataset *ds, const orl_train_options *opt, orl_policy **out,
                     orl_train_result *result);

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
