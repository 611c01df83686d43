/* The one training loop (orl/train.h): hyperparameter tables, the episode split, batch
 * sampling, metrics log, periodic evaluation, checkpoints and resume.
 *
 * Random streams, all from the run's seed: the split (stream 11), the learner's parameters and
 * its own draws (stream 12), the batches (stream 13). Both the learner's and the batch stream
 * are checkpointed with the learner's buffers and the step, so a resumed run continues with
 * exactly the state an uninterrupted one would have had.
 *
 * Phases: before gradient step t the loop asks the learner for a phase (phase_at) and runs its
 * units not yet done, counting them in phase_done (reset to 0 by each gradient step). A
 * checkpoint holds (step, phase_done), so a run resumed from one written between two units, after
 * the last unit, or after a gradient step continues where the interrupted run was.
 *
 * Checkpoints are written and read by the orl_checkpoint_* functions of train.h
 * (algorithms/checkpoint.c, which describes the file); eval/online.c's are the same format. */
#include "orl/fs.h"
#include "orl/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAM_SPLIT           11
#define STREAM_LEARNER         12
#define STREAM_BATCH           13
#define VAL_CHUNKS             16 /* validation batches per measurement */
#define MIN_VAL_EPISODES_TOTAL 20

/* ---- hyperparameters ---- */

static int32_t find_hparam(const orl_hparams *hp, const char *name) {
    for (int32_t i = 0; i < hp->n; i++)
        if (strcmp(hp->defs[i].name, name) == 0) return i;
    return -1;
}

double orl_hparams_number(const orl_hparams *hp, const char *name) {
    int32_t i = find_hparam(hp, name);
    return i < 0 ? NAN : hp->numbers[i];
}

const char *orl_hparams_text(const orl_hparams *hp, const char *name) {
    int32_t i = find_hparam(hp, name);
    return i < 0 ? "" : hp->values[i];
}

/* checks value against def and stores it at slot i */
static orl_status set_value(orl_hparams *hp, int32_t i, const char *value) {
    const orl_hparam_def *d = &hp->defs[i];
    if (strlen(value) >= sizeof hp->values[i] || !value[0])
        ORL_FAIL(ORL_ERR_INPUT, "--set %s: value '%s' is empty or too long", d->name, value);
    snprintf(hp->values[i], sizeof hp->values[i], "%s", value);
    hp->numbers[i] = NAN;
    if (d->kind == ORL_HPARAM_KIND_TEXT) return ORL_OK;
    if (d->kind == ORL_HPARAM_KIND_CHOICE) {
        size_t n = strlen(value);
        for (const char *c = d->choices; c && *c;) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && strncmp(c, value, n) == 0) return ORL_OK;
            c = bar ? bar + 1 : c + len;
        }
        ORL_FAIL(ORL_ERR_INPUT, "--set %s=%s: expected one of %s", d->name, value, d->choices);
    }
    char *end;
    double x = strtod(value, &end);
    if (*end || !isfinite(x))
        ORL_FAIL(ORL_ERR_INPUT, "--set %s=%s: expected a finite number", d->name, value);
    if (d->kind == ORL_HPARAM_KIND_INT && (x != floor(x) || fabs(x) > 1e15))
        ORL_FAIL(ORL_ERR_INPUT, "--set %s=%s: expected an integer", d->name, value);
    hp->numbers[i] = x;
    return ORL_OK;
}

orl_status orl_hparams_resolve(const orl_learner_ops *ops, const char *const *sets, int32_t n,
                               orl_hparams *out) {
    memset(out, 0, sizeof *out);
    out->defs = ops->hparams;
    while (ops->hparams[out->n].name) {
        if (out->n >= ORL_HPARAMS_MAX)
            ORL_FAIL(ORL_ERR_INPUT, "%s: more than %d hyperparameters", ops->name, ORL_HPARAMS_MAX);
        ORL_TRY(set_value(out, out->n, ops->hparams[out->n].default_value));
        out->n++;
    }
    for (int32_t k = 0; k < n; k++) {
        const char *eq = strchr(sets[k], '=');
        if (!eq || eq == sets[k])
            ORL_FAIL(ORL_ERR_INPUT, "--set '%s': expected key=value", sets[k]);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - sets[k]), sets[k]);
        int32_t i = find_hparam(out, key);
        if (i < 0) {
            char known[1024] = "";
            for (int32_t j = 0; j < out->n; j++) {
                size_t len = strlen(known);
                snprintf(known + len, sizeof known - len, "%s%s", j ? ", " : "", out->defs[j].name);
            }
            ORL_FAIL(ORL_ERR_INPUT, "--set %s: unknown hyperparameter of %s (known: %s)", key,
                     ops->name, known);
        }
        ORL_TRY(set_value(out, i, eq + 1));
    }
    return ORL_OK;
}

/* ---- learners ---- */

static const orl_learner_ops *const learners[] = {
    &orl_learner_bc,  &orl_learner_fbc, &orl_learner_awr,   &orl_learner_td3bc, &orl_learner_iql,
    &orl_learner_cql, &orl_learner_bcq, &orl_learner_morel, &orl_learner_sac};

int32_t orl_learner_count(void) {
    return (int32_t)(sizeof learners / sizeof learners[0]);
}

const orl_learner_ops *orl_learner_get(int32_t i) {
    return i >= 0 && i < orl_learner_count() ? learners[i] : NULL;
}

const orl_learner_ops *orl_learner_find(const char *name) {
    for (int32_t i = 0; name && i < orl_learner_count(); i++)
        if (strcmp(learners[i]->name, name) == 0) return learners[i];
    return NULL;
}

void orl_train_options_init(orl_train_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->algo = "bc";
    opt->steps = 0; /* the learner's default_steps (100000 for most) */
    opt->batch = 0; /* the learner's reference batch */
    opt->val_fraction = 0.05;
    opt->log_every = 1000;
    opt->eval_every = 10000;
    opt->eval_episodes = 10;
    opt->checkpoint_every = 10000;
}

int64_t orl_train_steps(const orl_learner_ops *ops, int64_t opt_steps) {
    if (opt_steps > 0) return opt_steps;
    return ops->default_steps > 0 ? ops->default_steps : 100000;
}

int32_t orl_train_batch(const orl_learner_ops *ops, int32_t opt_batch, orl_action_kind kind) {
    if (opt_batch > 0) return opt_batch;
    int32_t b = kind == ORL_ACTION_KIND_DISCRETE ? ops->batch_discrete : ops->batch_continuous;
    return b > 0 ? b : 256;
}

/* the run's config JSON: the loop's settings (batch as resolved: 0 when it depends on data not
 * yet seen), then the learner's hyperparameters */
static orl_status build_config(const orl_train_options *opt, int32_t batch, const orl_hparams *hp,
                               char *json, size_t cap) {
    json_t *j = json_object();
    json_object_set_new(j, "algo", json_string(opt->learner ? opt->learner->name : opt->algo));
    if (opt->data_path) json_object_set_new(j, "data", json_string(opt->data_path));
    json_object_set_new(j, "steps", json_integer(opt->steps));
    json_object_set_new(j, "batch", json_integer(batch));
    json_object_set_new(j, "seed", json_integer((json_int_t)opt->seed));
    json_object_set_new(j, "val_fraction", json_real(opt->val_fraction));
    for (int32_t i = 0; i < hp->n; i++)
        json_object_set_new(
            j, hp->defs[i].name,
            hp->defs[i].kind == ORL_HPARAM_KIND_CHOICE || hp->defs[i].kind == ORL_HPARAM_KIND_TEXT
                ? json_string(hp->values[i])
            : hp->defs[i].kind == ORL_HPARAM_KIND_INT ? json_integer((json_int_t)hp->numbers[i])
                                                      : json_real(hp->numbers[i]));
    char *text = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(j);
    if (!text) ORL_FAIL(ORL_ERR_NOMEM, "train: out of memory");
    size_t len = strlen(text);
    if (len >= cap) {
        free(text);
        ORL_FAIL(ORL_ERR_INPUT, "train: config JSON of %zu bytes is too long", len);
    }
    memcpy(json, text, len + 1);
    free(text);
    return ORL_OK;
}

static orl_status check_options(const orl_train_options *opt, const orl_learner_ops **ops,
                                orl_hparams *hp) {
    *ops = opt->learner ? opt->learner : orl_learner_find(opt->algo);
    if (!*ops) {
        char known[256] = "";
        for (int32_t i = 0; i < orl_learner_count(); i++) {
            size_t len = strlen(known);
            snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", learners[i]->name);
        }
        ORL_FAIL(ORL_ERR_INPUT, "unknown algorithm '%s' (known: %s)", opt->algo ? opt->algo : "",
                 known);
    }
    if (opt->steps < 0)
        ORL_FAIL(ORL_ERR_INPUT, "steps %lld: expected >= 1 (0: the learner's)",
                 (long long)opt->steps);
    if (opt->batch < 0)
        ORL_FAIL(ORL_ERR_INPUT, "batch %d: expected >= 1 (0: the learner's)", opt->batch);
    if (!(opt->val_fraction >= 0.0 && opt->val_fraction < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "val_fraction %g: expected [0, 1)", opt->val_fraction);
    if (opt->eval_env && !opt->evaluate)
        ORL_FAIL(ORL_ERR_INPUT, "evaluation in %s needs an evaluate function", opt->eval_env);
    if (opt->eval_env && (opt->eval_every < 1 || opt->eval_episodes < 1))
        ORL_FAIL(ORL_ERR_INPUT, "evaluation needs eval_every >= 1 and eval_episodes >= 1");
    if (opt->checkpoint_path && opt->checkpoint_every < 1)
        ORL_FAIL(ORL_ERR_INPUT, "checkpoint_every %lld: expected >= 1",
                 (long long)opt->checkpoint_every);
    return orl_hparams_resolve(*ops, opt->sets, opt->n_sets, hp);
}

orl_status orl_train_describe(const orl_train_options *opt, char *json, size_t cap) {
    const orl_learner_ops *ops;
    orl_hparams hp;
    ORL_TRY(check_options(opt, &ops, &hp));
    orl_train_options resolved = *opt;
    resolved.steps = orl_train_steps(ops, opt->steps);
    opt = &resolved;
    /* without the data, the learner's batch is known only when it is the same for both kinds */
    int32_t bc = orl_train_batch(ops, opt->batch, ORL_ACTION_KIND_CONTINUOUS);
    int32_t bd = orl_train_batch(ops, opt->batch, ORL_ACTION_KIND_DISCRETE);
    return build_config(opt, bc == bd ? bc : 0, &hp, json, cap);
}

/* ---- the split: val_fraction of the episodes (seeded), the rest for training ---- */

static orl_status split(const orl_dataset *ds, double fraction, uint64_t seed, orl_dataset **train,
                        orl_dataset **val) {
    int64_t E = ds->n_episodes;
    int64_t n_val = E >= MIN_VAL_EPISODES_TOTAL ? (int64_t)floor(fraction * (double)E) : 0;
    uint8_t *held = calloc((size_t)E, 1);
    int64_t *perm = malloc((size_t)E * sizeof(int64_t));
    orl_status st = ORL_OK;
    if (!held || !perm) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "train: out of memory");
    /* Fisher-Yates; the first n_val of the permutation are held out */
    orl_rng rng;
    orl_rng_seed(&rng, seed, STREAM_SPLIT);
    for (int64_t e = 0; e < E; e++) perm[e] = e;
    for (int64_t e = E - 1; e > 0; e--) {
        int64_t k = orl_rng_range(&rng, 0, e), t = perm[e];
        perm[e] = perm[k];
        perm[k] = t;
    }
    for (int64_t e = 0; e < n_val; e++) held[perm[e]] = 1;
    int64_t val_rows = 0;
    for (int64_t e = 0; e < E; e++)
        if (held[e]) val_rows += ds->ep_off[e + 1] - ds->ep_off[e];
    ORL_TRY_GOTO(st, done, orl_dataset_create(&ds->h, ds->n_steps - val_rows, E - n_val, train));
    if (n_val > 0) ORL_TRY_GOTO(st, done, orl_dataset_create(&ds->h, val_rows, n_val, val));
    /* episodes keep their order */
    for (int64_t e = 0; e < E; e++)
        ORL_TRY_GOTO(st, done,
                     orl_dataset_append(held[e] ? *val : *train, ds, ds->ep_off[e],
                                        ds->ep_off[e + 1] - ds->ep_off[e]));
done:
    free(held);
    free(perm);
    return st;
}

/* ---- batches ---- */

typedef struct batch_buffers {
    int64_t *rows;     /* (B) */
    float *obs;        /* (B, S) */
    float *next_obs;   /* (B, S) */
    float *act;        /* (B, A) or NULL */
    int32_t *act_idx;  /* (B) or NULL */
    float *rew;        /* (B) */
    uint8_t *terminal; /* (B) */
    uint8_t *timeout;  /* (B) */
    float *weight;     /* (B) */
    orl_batch view;
} batch_buffers;

static orl_status batch_init(batch_buffers *b, const orl_header *h, int32_t B) {
    memset(b, 0, sizeof *b);
    size_t S = (size_t)h->obs_dim, A = (size_t)h->act_dim, n = (size_t)B;
    int discrete = h->action_kind == ORL_ACTION_KIND_DISCRETE;
    b->rows = malloc(n * sizeof(int64_t));
    b->obs = malloc(n * S * sizeof(float));
    b->next_obs = malloc(n * S * sizeof(float));
    b->act = discrete ? NULL : malloc(n * A * sizeof(float));
    b->act_idx = discrete ? malloc(n * sizeof(int32_t)) : NULL;
    b->rew = malloc(n * sizeof(float));
    b->terminal = malloc(n);
    b->timeout = malloc(n);
    b->weight = malloc(n * sizeof(float));
    if (!b->rows || !b->obs || !b->next_obs || (!b->act && !b->act_idx) || !b->rew ||
        !b->terminal || !b->timeout || !b->weight)
        ORL_FAIL(ORL_ERR_NOMEM, "train: out of memory");
    b->view = (orl_batch){.size = B,
                          .rows = b->rows,
                          .obs = b->obs,
                          .next_obs = b->next_obs,
                          .act = b->act,
                          .act_idx = b->act_idx,
                          .rew = b->rew,
                          .terminal = b->terminal,
                          .timeout = b->timeout};
    return ORL_OK;
}

static void batch_free(batch_buffers *b) {
    free(b->rows);
    free(b->obs);
    free(b->next_obs);
    free(b->act);
    free(b->act_idx);
    free(b->rew);
    free(b->terminal);
    free(b->timeout);
    free(b->weight);
}

#define GATHER_AHEAD 8 /* rows between a prefetch and its copy in batch_gather */

/* copies rows b->rows[0..n) of ds into the buffers; row_weight (N of ds) gives batch.weight,
 * NULL none */
static void batch_gather(batch_buffers *b, const orl_dataset *ds, int32_t n,
                         const float *row_weight) {
    size_t S = (size_t)ds->h.obs_dim, A = (size_t)ds->h.act_dim;
    for (int32_t i = 0; i < n; i++) {
        size_t r = (size_t)b->rows[i], k = (size_t)i;
#if defined(__GNUC__)
        /* the rows are random, mostly outside the cache: ask for row i + GATHER_AHEAD's lines
         * now, so the copies do not wait on memory one row at a time */
        if (i + GATHER_AHEAD < n) {
            size_t f = (size_t)b->rows[i + GATHER_AHEAD];
            __builtin_prefetch(ds->obs + f * S);
            __builtin_prefetch(ds->obs + f * S + S - 1);
            __builtin_prefetch(ds->next_obs + f * S);
            __builtin_prefetch(ds->next_obs + f * S + S - 1);
            if (b->act) __builtin_prefetch(ds->act + f * A + A - 1);
            __builtin_prefetch(ds->rew + f);
        }
#endif
        memcpy(b->obs + k * S, ds->obs + r * S, S * sizeof(float));
        memcpy(b->next_obs + k * S, ds->next_obs + r * S, S * sizeof(float));
        if (b->act) memcpy(b->act + k * A, ds->act + r * A, A * sizeof(float));
        if (b->act_idx) b->act_idx[k] = ds->act_idx[r];
        b->rew[k] = ds->rew[r];
        b->terminal[k] = ds->terminal[r];
        b->timeout[k] = ds->timeout[r];
        if (row_weight) b->weight[k] = row_weight[r];
    }
    b->view.size = n;
    b->view.weight = row_weight ? b->weight : NULL;
    b->view.from = ds;
}

/* the validation metrics (n of them) into out: each the mean over up to VAL_CHUNKS batches
 * spread over the validation rows, weighted by the batches' sizes; scratch (n) */
static orl_status validation(const orl_learner_ops *ops, void *state, batch_buffers *b,
                             const orl_dataset *val, int32_t B, int32_t n, double *scratch,
                             double *out) {
    int64_t N = val->n_steps;
    int64_t chunks = (N + B - 1) / B;
    if (chunks > VAL_CHUNKS) chunks = VAL_CHUNKS;
    double rows = 0.0;
    for (int32_t k = 0; k < n; k++) out[k] = 0.0;
    for (int64_t c = 0; c < chunks; c++) {
        int64_t start = c * N / chunks;
        int32_t size = (int32_t)(N - start < B ? N - start : B);
        /* rows of the validation dataset (batch.from says so) */
        for (int32_t i = 0; i < size; i++) b->rows[i] = start + i;
        batch_gather(b, val, size, NULL);
        ORL_TRY(ops->validate(state, &b->view, scratch));
        for (int32_t k = 0; k < n; k++) out[k] += scratch[k] * size;
        rows += size;
    }
    for (int32_t k = 0; k < n; k++) out[k] = rows > 0 ? out[k] / rows : NAN;
    return ORL_OK;
}

/* ---- checkpoints (the file format: algorithms/checkpoint.c) ---- */

/* where a run is: the next gradient step, and the units of the phase before it already run */
typedef struct run_position {
    int64_t step;
    int64_t phase_done;
} run_position;

static orl_status checkpoint_write(const char *path, const char *config, run_position pos,
                                   const orl_rng *learner_rng, const orl_rng *batch_rng,
                                   const orl_buffer *bufs, int32_t n) {
    orl_checkpoint_head head = {pos.step, pos.phase_done, *learner_rng, *batch_rng, n};
    orl_checkpoint *c = NULL;
    ORL_TRY(orl_checkpoint_create(path, config, &head, &c));
    orl_status st = ORL_OK;
    for (int32_t i = 0; st == ORL_OK && i < n; i++)
        st = orl_checkpoint_put(c, bufs[i].name, bufs[i].ptr, bufs[i].bytes);
    if (st != ORL_OK) {
        orl_checkpoint_close(c);
        return st;
    }
    return orl_checkpoint_commit(c, NULL);
}

static orl_status checkpoint_read(const char *path, const char *config, run_position *pos,
                                  orl_rng *learner_rng, orl_rng *batch_rng, const orl_buffer *bufs,
                                  int32_t n) {
    orl_checkpoint_head head;
    orl_checkpoint *c = NULL;
    ORL_TRY(orl_checkpoint_open(path, &head, &c));
    orl_status st = ORL_OK;
    if (strcmp(orl_checkpoint_config(c), config) != 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                      "%s: the checkpoint was made with other settings (%s), not (%s)", path,
                      orl_checkpoint_config(c), config);
    if (head.n_buffers != n)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: %d buffers, the learner has %d", path,
                      head.n_buffers, n);
    for (int32_t i = 0; i < n; i++)
        ORL_TRY_GOTO(st, done, orl_checkpoint_get(c, bufs[i].name, bufs[i].ptr, bufs[i].bytes));
    pos->step = head.step;
    pos->phase_done = head.phase_done;
    *learner_rng = head.learner_rng;
    *batch_rng = head.batch_rng;
done:
    orl_checkpoint_close(c);
    return st;
}

/* lists the learner's buffers into *bufs (grown as needed; *n their number) */
static orl_status list_buffers(const orl_learner_ops *ops, void *state, orl_buffer **bufs,
                               int32_t *n) {
    int32_t cap = *bufs ? *n : 0;
    for (;;) {
        int32_t need = ops->buffers(state, *bufs, cap);
        if (need <= cap) {
            *n = need;
            return ORL_OK;
        }
        orl_buffer *grown = realloc(*bufs, (size_t)need * sizeof *grown);
        if (!grown) ORL_FAIL(ORL_ERR_NOMEM, "train: out of memory");
        *bufs = grown;
        cap = need;
    }
}

/* ---- results and policies ---- */

double orl_train_metric(const orl_train_metrics *m, const char *name) {
    for (int32_t i = 0; m && i < m->n; i++)
        if (strcmp(m->names[i], name) == 0) return m->values[i];
    return NAN;
}

void orl_train_result_free(orl_train_result *r) {
    if (!r) return;
    /* last.values and val.values share one allocation, at last.values */
    free(r->last.values);
    memset(&r->last, 0, sizeof r->last);
    memset(&r->val, 0, sizeof r->val);
}

/* the result's metric lists for the learner's names, values NaN */
static orl_status result_metrics(orl_train_result *r, orl_metric_names step, orl_metric_names val) {
    size_t n = (size_t)step.n + (size_t)val.n;
    double *values = malloc((n > 0 ? n : 1) * sizeof(double));
    if (!values) ORL_FAIL(ORL_ERR_NOMEM, "train: out of memory");
    for (size_t i = 0; i < n; i++) values[i] = NAN;
    r->last = (orl_train_metrics){step.n, step.names, values};
    r->val = (orl_train_metrics){val.n, val.names, values + step.n};
    return ORL_OK;
}

orl_status orl_learner_copy_mlp_policy(orl_policy *p, orl_policy **out) {
    *out = NULL;
    orl_mlp *net = orl_policy_mlp_network(p);
    const orl_policy_mlp_spec *spec = orl_policy_mlp_get_spec(p);
    if (!net || !spec)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: the policy is not an MLP policy", p->algorithm);
    orl_policy_mlp_spec copy = *spec;
    copy.info.algorithm = p->algorithm;
    copy.info.config_json = p->config_json;
    copy.info.act_low = p->act_low;
    copy.info.act_high = p->act_high;
    return orl_policy_mlp_create(&copy, orl_policy_mlp_normalizer(p), net->params, NULL, out);
}

/* ---- the loop ---- */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void put_number(FILE *f, const char *prefix, const char *key, double x) {
    if (isfinite(x))
        fprintf(f, ",\"%s%s\":%.9g", prefix, key, x);
    else
        fprintf(f, ",\"%s%s\":null", prefix, key);
}

static orl_status evaluate(const orl_policy *p, const orl_train_options *opt, orl_train_result *r) {
    return opt->evaluate(opt->evaluate_ctx, p, opt->eval_env, opt->eval_episodes, opt->seed,
                         &r->eval_return, &r->eval_score);
}

/* everything the loop holds while it runs */
typedef struct run {
    const orl_train_options *opt;
    const orl_learner_ops *ops;
    void *state;
    orl_train_result *r;
    orl_rng learner_rng, batch_rng;
    orl_buffer *bufs;
    int32_t n_bufs;
} run;

static orl_status run_checkpoint(run *u, run_position pos) {
    ORL_TRY(list_buffers(u->ops, u->state, &u->bufs, &u->n_bufs));
    return checkpoint_write(u->opt->checkpoint_path, u->r->config_json, pos, &u->learner_rng,
                            &u->batch_rng, u->bufs, u->n_bufs);
}

/* progress asked to stop at pos: a checkpoint to resume from (unless one was just written),
 * then ORL_ERR_INTERRUPTED */
static orl_status run_interrupted(run *u, run_position pos, int written) {
    if (!u->opt->checkpoint_path) return ORL_ERR_INTERRUPTED;
    if (!written) ORL_TRY(run_checkpoint(u, pos));
    return orl_error_set(ORL_ERR_INTERRUPTED, "train: interrupted at step %lld (checkpoint %s)",
                         (long long)pos.step, u->opt->checkpoint_path);
}

/* a numeric failure of the learner at step (what: "loss", or the phase before it), with the
 * learner's detail kept (copied first: the message is formatted into the buffer it came from) */
static orl_status numeric_failure(const char *learner, const char *what, int64_t step) {
    char detail[512];
    snprintf(detail, sizeof detail, "%s", orl_error_message());
    return orl_error_set(ORL_ERR_NUMERIC, "%s: non-finite %s at step %lld: %s", learner, what,
                         (long long)step, detail);
}

/* runs the units of the phase before pos->step that are not done yet (none when the learner has
 * no phase there) */
static orl_status run_phase(run *u, run_position *pos) {
    orl_phase phase;
    if (!u->ops->phase_at || !u->ops->phase_at(u->state, pos->step, &phase)) return ORL_OK;
    if (phase.units < 1 || !u->ops->phase_run)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: phase %s before step %lld has no units to run",
                 u->ops->name, phase.name, (long long)pos->step);
    while (pos->phase_done < phase.units) {
        orl_status st = u->ops->phase_run(u->state, pos->step, pos->phase_done, &u->learner_rng);
        if (st == ORL_ERR_NUMERIC) {
            char what[64];
            snprintf(what, sizeof what, "value in phase %s", phase.name);
            return numeric_failure(u->ops->name, what, pos->step);
        }
        if (st != ORL_OK) return st;
        pos->phase_done++;
        int written = 0;
        if (u->opt->checkpoint_path && pos->phase_done == phase.units) {
            ORL_TRY(run_checkpoint(u, *pos));
            written = 1;
        }
        if (u->opt->progress && u->opt->progress->fn) {
            char what[96];
            snprintf(what, sizeof what, "%s %s before step %lld", u->ops->name, phase.name,
                     (long long)pos->step);
            if (orl_progress_report(u->opt->progress, pos->phase_done, phase.units, what) != ORL_OK)
                return run_interrupted(u, *pos, written);
        }
    }
    return ORL_OK;
}

orl_status orl_train(const orl_dataset *ds, const orl_train_options *opt, orl_policy **out,
                     orl_train_result *result) {
    *out = NULL;
    orl_train_result local;
    orl_train_result *r = result ? result : &local;
    memset(r, 0, sizeof *r);
    r->eval_return = r->eval_score = NAN;
    double t0 = now_seconds();

    const orl_learner_ops *ops;
    orl_hparams hp;
    ORL_TRY(check_options(opt, &ops, &hp));
    orl_train_options resolved = *opt;
    resolved.steps = orl_train_steps(ops, opt->steps);
    opt = &resolved; /* steps as the run uses them */
    const int32_t batch = orl_train_batch(ops, opt->batch, ds->h.action_kind);
    ORL_TRY(build_config(opt, batch, &hp, r->config_json, sizeof r->config_json));
    if (ds->n_steps < 1 || ds->n_episodes < 1) ORL_FAIL(ORL_ERR_INPUT, "train: empty dataset");

    orl_status st = ORL_OK;
    orl_dataset *train = NULL, *val = NULL;
    double *val_scratch = NULL;
    FILE *log = NULL;
    batch_buffers bb;
    memset(&bb, 0, sizeof bb);
    run u = {.opt = opt, .ops = ops, .r = r};
    ORL_TRY_GOTO(st, done, split(ds, opt->val_fraction, opt->seed, &train, &val));
    r->train_episodes = train->n_episodes;
    r->val_episodes = val ? val->n_episodes : 0;
    ORL_TRY_GOTO(st, done, batch_init(&bb, &ds->h, batch));

    orl_rng_seed(&u.learner_rng, opt->seed, STREAM_LEARNER);
    orl_rng_seed(&u.batch_rng, opt->seed, STREAM_BATCH);
    orl_learner_context ctx = {train, val, &hp, r->config_json, batch};
    ORL_TRY_GOTO(st, done, ops->create(&ctx, &u.learner_rng, &u.state));

    /* what the learner reports and how it samples */
    orl_metric_names step_names = ops->metrics(u.state, ORL_METRIC_KIND_STEP);
    orl_metric_names val_names = ops->validate && val
                                     ? ops->metrics(u.state, ORL_METRIC_KIND_VALIDATION)
                                     : (orl_metric_names){0, NULL};
    ORL_TRY_GOTO(st, done, result_metrics(r, step_names, val_names));
    val_scratch = malloc((size_t)(val_names.n > 0 ? val_names.n : 1) * sizeof(double));
    if (!val_scratch) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "train: out of memory");
    orl_learner_sampling sampling = {0};
    ops->sampling(u.state, &sampling);
    int64_t n_rows = sampling.rows ? sampling.n_rows : train->n_steps;
    if (n_rows < 1) ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "train: no rows to sample from");
    /* the buffers are listed again before every checkpoint: a learner may reallocate one */
    ORL_TRY_GOTO(st, done, list_buffers(ops, u.state, &u.bufs, &u.n_bufs));

    /* resume */
    run_position pos = {0, 0};
    if (opt->resume && opt->checkpoint_path && orl_fs_exists(opt->checkpoint_path)) {
        ORL_TRY_GOTO(st, done,
                     checkpoint_read(opt->checkpoint_path, r->config_json, &pos, &u.learner_rng,
                                     &u.batch_rng, u.bufs, u.n_bufs));
        r->resumed_from = pos.step;
        r->steps_done = pos.step;
    }
    if (opt->log_path) {
        log = fopen(opt->log_path, pos.step > 0 || pos.phase_done > 0 ? "a" : "w");
        if (!log)
            ORL_FAIL_GOTO(st, done, ORL_ERR_IO, "%s: cannot write the metrics log", opt->log_path);
    }

    int64_t this_call = 0;
    char what[64] = "";
    double *metrics = r->last.values;
    while (pos.step < opt->steps) {
        ORL_TRY_GOTO(st, done, run_phase(&u, &pos));

        /* a batch of B rows drawn uniformly with replacement */
        for (int32_t i = 0; i < batch; i++) {
            int64_t k = orl_rng_range(&u.batch_rng, 0, n_rows - 1);
            bb.rows[i] = sampling.rows ? sampling.rows[k] : k;
        }
        batch_gather(&bb, train, batch, sampling.weight);
        st = ops->step(u.state, &bb.view, pos.step, &u.learner_rng, metrics);
        for (int32_t i = 0; st == ORL_OK && i < step_names.n; i++)
            if (!isfinite(metrics[i]))
                st = orl_error_set(ORL_ERR_NUMERIC, "%s is %g", step_names.names[i], metrics[i]);
        if (st != ORL_OK) {
            if (st == ORL_ERR_NUMERIC) st = numeric_failure(ops->name, "loss", pos.step);
            goto done;
        }
        pos.step++;
        pos.phase_done = 0;
        this_call++;
        r->steps_done = pos.step;
        int64_t step = pos.step;

        int last = step == opt->steps;
        int do_eval = opt->eval_env && (step % opt->eval_every == 0 || last);
        int do_log = step % (opt->log_every > 0 ? opt->log_every : opt->steps) == 0 || last;
        if (do_eval) ORL_TRY_GOTO(st, done, evaluate(ops->policy(u.state), opt, r));
        if ((do_log || do_eval) && val_names.n > 0)
            ORL_TRY_GOTO(
                st, done,
                validation(ops, u.state, &bb, val, batch, val_names.n, val_scratch, r->val.values));
        if (log && (do_log || do_eval)) {
            fprintf(log, "{\"step\":%lld", (long long)step);
            for (int32_t i = 0; i < step_names.n; i++)
                put_number(log, "", step_names.names[i], metrics[i]);
            for (int32_t i = 0; i < val_names.n; i++)
                put_number(log, "val_", val_names.names[i], r->val.values[i]);
            if (do_eval) {
                put_number(log, "", "eval_return", r->eval_return);
                put_number(log, "", "normalized_score", r->eval_score);
            }
            put_number(log, "", "time", now_seconds() - t0);
            fprintf(log, "}\n");
            fflush(log);
        }
        int stopping = opt->stop_after > 0 && this_call >= opt->stop_after && !last;
        int written = 0;
        if (opt->checkpoint_path && (step % opt->checkpoint_every == 0 || stopping)) {
            ORL_TRY_GOTO(st, done, run_checkpoint(&u, pos));
            written = 1;
        }
        if (stopping)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INTERRUPTED, "train: stopped after step %lld",
                          (long long)step);

        if (opt->progress && opt->progress->fn) {
            if (step % 50 == 0 || last)
                snprintf(what, sizeof what, "%s %s %.4g", ops->name,
                         step_names.n ? step_names.names[0] : "", step_names.n ? metrics[0] : 0.0);
            if (orl_progress_report(opt->progress, step, opt->steps, what) != ORL_OK) {
                /* an interrupted run leaves a checkpoint to resume from */
                st = run_interrupted(&u, pos, written);
                goto done;
            }
        }
    }

    /* the result: the learner hands over a policy that outlives it */
    ORL_TRY_GOTO(st, done, ops->export_policy(u.state, out));
done:
    if (log) fclose(log);
    if (u.state) ops->free(u.state);
    free(u.bufs);
    free(val_scratch);
    batch_free(&bb);
    orl_dataset_free(train);
    orl_dataset_free(val);
    r->seconds = now_seconds() - t0;
    if (r == &local) orl_train_result_free(&local);
    return st;
}
