/* The online loop (orl/online.h): an off-policy learner acting in an environment, its
 * transitions kept in a replay buffer (an orl_dataset used as a ring once full), one gradient
 * step per environment step after a uniformly random warm-up. It does not know which learner
 * runs (the ops table of train.h) and does not print. No allocation per step: the buffer, the
 * batch and the policy's scratch are sized before the first step (evaluations allocate their
 * environment, as orl_eval does).
 *
 * Time is measured per part (environment, acting, updates, evaluations) with the thread's CPU
 * clock, so the share of physics and networks can be read off a run on a shared machine.
 * Snapshots of the policy (save_every) go through orl_policy_save, a temporary name renamed.
 *
 * Checkpoints (orl_online_write_checkpoint, orl_online_read_checkpoint) are in
 * eval/online_checkpoint.c. */
#include "eval/online_internal.h"
#include "orl/env.h"
#include "orl/eval.h"
#include "orl/fs.h"
#include "orl/online.h"
#include "orl/version.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define STREAM_LEARNER 12 /* as orl_train's */
#define STREAM_BATCH   13
#define STREAM_ACTIONS 14

void orl_online_options_init(orl_online_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->algo = "sac";
    opt->steps = 1000000;
    opt->warmup = 10000;
    opt->buffer = 1000000;
    opt->log_every = 1000;
    opt->eval_every = 10000;
    opt->eval_episodes = 10;
    opt->checkpoint_every = 10000;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static orl_status check_options(const orl_online_options *opt, const orl_learner_ops **ops,
                                orl_hparams *hp) {
    *ops = opt->learner ? opt->learner : orl_learner_find(opt->algo);
    if (!*ops)
        ORL_FAIL(ORL_ERR_INPUT, "online: unknown algorithm '%s'", opt->algo ? opt->algo : "");
    if (!opt->env_id && !opt->env) ORL_FAIL(ORL_ERR_INPUT, "online: no environment");
    if (opt->steps < 1 || opt->warmup < 0 || opt->buffer < 1 || opt->batch < 0)
        ORL_FAIL(ORL_ERR_INPUT,
                 "online: expected steps >= 1, warmup >= 0, buffer >= 1, batch >= 0 (got %lld, "
                 "%lld, %lld, %d)",
                 (long long)opt->steps, (long long)opt->warmup, (long long)opt->buffer, opt->batch);
    if (opt->eval_env && (opt->eval_every < 1 || opt->eval_episodes < 1))
        ORL_FAIL(ORL_ERR_INPUT, "online: evaluation needs eval_every >= 1 and eval_episodes >= 1");
    if (opt->save_every < 0 || (opt->save_every > 0 && !opt->save_path))
        ORL_FAIL(ORL_ERR_INPUT, "online: snapshots need save_every >= 1 and a save_path");
    if (opt->checkpoint_path && opt->checkpoint_every < 1)
        ORL_FAIL(ORL_ERR_INPUT, "online: checkpoint_every %lld: expected >= 1",
                 (long long)opt->checkpoint_every);
    if ((opt->resume || opt->stop_after > 0) && !opt->checkpoint_path)
        ORL_FAIL(ORL_ERR_INPUT, "online: resume and stop_after need a checkpoint_path");
    if (opt->stop_after < 0)
        ORL_FAIL(ORL_ERR_INPUT, "online: stop_after %lld: expected >= 0",
                 (long long)opt->stop_after);
    return orl_hparams_resolve(*ops, opt->sets, opt->n_sets, hp);
}

/* the run's settings and the learner's resolved hyperparameters as one JSON object */
static orl_status build_config(const orl_online_options *opt, const orl_learner_ops *ops,
                               int32_t batch, const orl_hparams *hp, char *json, size_t cap) {
    json_t *j = json_object();
    json_object_set_new(j, "algo", json_string(ops->name));
    json_object_set_new(j, "env",
                        json_string(opt->env ? orl_env_get_spec(opt->env)->id : opt->env_id));
    json_object_set_new(j, "online", json_true());
    json_object_set_new(j, "steps", json_integer(opt->steps));
    json_object_set_new(j, "warmup", json_integer(opt->warmup));
    json_object_set_new(j, "buffer", json_integer(opt->buffer));
    json_object_set_new(j, "batch", json_integer(batch));
    json_object_set_new(j, "seed", json_integer((json_int_t)opt->seed));
    for (int32_t i = 0; i < hp->n; i++)
        json_object_set_new(j, hp->defs[i].name,
                            hp->defs[i].kind == ORL_HPARAM_KIND_CHOICE ? json_string(hp->values[i])
                            : hp->defs[i].kind == ORL_HPARAM_KIND_INT
                                ? json_integer((json_int_t)hp->numbers[i])
                                : json_real(hp->numbers[i]));
    char *text = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(j);
    if (!text) ORL_FAIL(ORL_ERR_NOMEM, "online: out of memory");
    size_t len = strlen(text);
    if (len >= cap) {
        free(text);
        ORL_FAIL(ORL_ERR_INPUT, "online: config JSON of %zu bytes is too long", len);
    }
    memcpy(json, text, len + 1);
    free(text);
    return ORL_OK;
}

orl_status orl_online_snapshot_path(const char *path, int64_t step, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    /* a leading dot (".h5") names a hidden file, not an extension */
    if (dot && dot == (slash ? slash + 1 : path)) dot = NULL;
    size_t stem = dot ? (size_t)(dot - path) : strlen(path);
    int n = snprintf(out, cap, "%.*s-step%lld%s", (int)stem, path, (long long)step, dot ? dot : "");
    if (n < 0 || (size_t)n >= cap)
        ORL_FAIL(ORL_ERR_INPUT, "online: snapshot name for '%s' at step %lld is too long", path,
                 (long long)step);
    return ORL_OK;
}

/* writes the learner's current policy as the snapshot of `step` into name (cap bytes) */
static orl_status save_snapshot(const orl_online_options *opt, const orl_learner_ops *ops,
                                void *state, int64_t step, char *name, size_t cap) {
    ORL_TRY(orl_online_snapshot_path(opt->save_path, step, name, cap));
    orl_policy *p = NULL;
    ORL_TRY(ops->export_policy(state, &p));
    orl_status st = orl_policy_save(p, name);
    orl_policy_free(p);
    return st;
}

orl_status orl_online_describe(const orl_online_options *opt, char *json, size_t cap) {
    const orl_learner_ops *ops;
    orl_hparams hp;
    ORL_TRY(check_options(opt, &ops, &hp));
    return build_config(opt, ops, orl_train_batch(ops, opt->batch, ORL_ACTION_KIND_CONTINUOUS), &hp,
                        json, cap);
}

/* the replay buffer's header: the environment's shapes and bounds */
static orl_status make_header(const orl_env_spec *spec, orl_header *h) {
    int discrete = spec->action_kind == ORL_ACTION_KIND_DISCRETE;
    ORL_TRY(orl_header_init(h, spec->obs_dim, spec->act_dim, spec->action_kind,
                            discrete ? spec->n_actions : 0));
    snprintf(h->env_id, sizeof h->env_id, "%s", spec->id);
    snprintf(h->source, sizeof h->source, "orl online replay buffer");
    snprintf(h->tool, sizeof h->tool, "orl %s", ORL_VERSION);
    h->discount = spec->gamma;
    h->horizon = spec->max_episode_steps;
    for (int32_t i = 0; i < spec->obs_dim; i++) {
        h->obs_low[i] = isfinite(spec->obs_low[i]) ? spec->obs_low[i] : NAN;
        h->obs_high[i] = isfinite(spec->obs_high[i]) ? spec->obs_high[i] : NAN;
    }
    if (!discrete)
        for (int32_t i = 0; i < spec->act_dim; i++) {
            h->act_low[i] = spec->act_low[i];
            h->act_high[i] = spec->act_high[i];
        }
    return ORL_OK;
}

/* a batch's rows, one allocation */
typedef struct batch_rows {
    int64_t *rows;     /* (B) */
    float *obs;        /* (B, S) */
    float *next_obs;   /* (B, S) */
    float *act;        /* (B, A) */
    int32_t *act_idx;  /* (B) */
    float *rew;        /* (B) */
    uint8_t *terminal; /* (B) */
    uint8_t *timeout;  /* (B) */
    void *mem;
} batch_rows;

static orl_status batch_alloc(batch_rows *b, int32_t B, int32_t S, int32_t A) {
    size_t n = (size_t)B, s = (size_t)S, a = (size_t)A;
    size_t total = n * (sizeof(int64_t) + 2 * s * sizeof(float) + a * sizeof(float) +
                        sizeof(int32_t) + sizeof(float) + 2);
    char *m = calloc(1, total);
    if (!m) ORL_FAIL(ORL_ERR_NOMEM, "online: batch of %d rows", B);
    b->mem = m;
    b->rows = (int64_t *)(void *)m, m += n * sizeof(int64_t);
    b->obs = (float *)(void *)m, m += n * s * sizeof(float);
    b->next_obs = (float *)(void *)m, m += n * s * sizeof(float);
    b->act = (float *)(void *)m, m += n * a * sizeof(float);
    b->act_idx = (int32_t *)(void *)m, m += n * sizeof(int32_t);
    b->rew = (float *)(void *)m, m += n * sizeof(float);
    b->terminal = (uint8_t *)m, m += n;
    b->timeout = (uint8_t *)m;
    return ORL_OK;
}

/* B rows drawn uniformly with replacement from the buffer's n_steps rows into view */
static void batch_draw(batch_rows *b, const orl_dataset *rb, int32_t B, orl_rng *rng,
                       orl_batch *view) {
    size_t S = (size_t)rb->h.obs_dim, A = (size_t)rb->h.act_dim;
    int discrete = rb->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    for (int32_t i = 0; i < B; i++) {
        size_t r = (size_t)orl_rng_range(rng, 0, rb->n_steps - 1), k = (size_t)i;
        b->rows[k] = (int64_t)r;
        memcpy(b->obs + k * S, rb->obs + r * S, S * sizeof(float));
        memcpy(b->next_obs + k * S, rb->next_obs + r * S, S * sizeof(float));
        if (discrete)
            b->act_idx[k] = rb->act_idx[r];
        else
            memcpy(b->act + k * A, rb->act + r * A, A * sizeof(float));
        b->rew[k] = rb->rew[r];
        b->terminal[k] = rb->terminal[r];
        b->timeout[k] = rb->timeout[r];
    }
    *view = (orl_batch){.size = B,
                        .rows = b->rows,
                        .obs = b->obs,
                        .next_obs = b->next_obs,
                        .act = discrete ? NULL : b->act,
                        .act_idx = discrete ? b->act_idx : NULL,
                        .rew = b->rew,
                        .terminal = b->terminal,
                        .timeout = b->timeout,
                        .weight = NULL,
                        .from = rb};
}

static void put_number(FILE *f, const char *key, double x) {
    if (isfinite(x))
        fprintf(f, ",\"%s\":%.9g", key, x);
    else
        fprintf(f, ",\"%s\":null", key);
}

/* creates the learner on the buffer's rows and sizes what acting with it needs */
orl_status orl_online_start_learner(online_run *u, orl_rng *rng) {
    orl_online_result *r = u->r;
    ORL_TRY(u->ops->create(&u->ctx, rng, &u->state));
    u->names = u->ops->metrics(u->state, ORL_METRIC_KIND_STEP);
    if (u->names.n > ORL_ONLINE_MAX_METRICS)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "online: %s reports %d metrics (>%d)", u->ops->name,
                 u->names.n, ORL_ONLINE_MAX_METRICS);
    r->n_metrics = u->names.n;
    for (int32_t i = 0; i < u->names.n; i++) {
        r->metric_names[i] = u->names.names[i];
        r->metrics[i] = NAN;
    }
    return orl_policy_work_create(u->ops->policy(u->state), 1, &u->work);
}

/* the metrics log: new, or on resume cut back to its size at the checkpoint (lines a killed run
 * wrote after it are written again) and appended to */
static orl_status open_log(online_run *u, int resumed, int64_t log_bytes) {
    const char *path = u->opt->log_path;
    if (!path) return ORL_OK;
    if (resumed && log_bytes >= 0 && orl_fs_size(path) > log_bytes &&
        truncate(path, (off_t)log_bytes) != 0)
        ORL_FAIL(ORL_ERR_IO, "%s: cannot cut the metrics log back to its checkpoint", path);
    u->log = fopen(path, resumed ? "a" : "w");
    if (!u->log) ORL_FAIL(ORL_ERR_IO, "%s: cannot write the metrics log", path);
    return ORL_OK;
}

orl_status orl_online_train(const orl_online_options *opt, orl_policy **out,
                            orl_online_result *result) {
    *out = NULL;
    orl_online_result local;
    orl_online_result *r = result ? result : &local;
    memset(r, 0, sizeof *r);
    r->train_return = r->eval_return = r->eval_score = NAN;
    double t_call = orl_online_wall_seconds();

    const orl_learner_ops *ops;
    orl_hparams hp;
    ORL_TRY(check_options(opt, &ops, &hp));
    online_run u;
    memset(&u, 0, sizeof u);
    u.opt = opt, u.ops = ops, u.r = r, u.t0 = t_call;
    if (opt->env)
        u.env = opt->env;
    else
        ORL_TRY(orl_env_make(opt->env_id, &u.env));
    orl_env *env = u.env;
    const orl_env_spec *spec = orl_env_get_spec(env);
    int discrete = spec->action_kind == ORL_ACTION_KIND_DISCRETE;
    const int32_t B = orl_train_batch(ops, opt->batch, spec->action_kind);
    const int32_t S = spec->obs_dim, A = spec->act_dim;

    orl_status st = ORL_OK;
    orl_header h;
    memset(&h, 0, sizeof h);
    batch_rows bb;
    memset(&bb, 0, sizeof bb);
    char *scratch = NULL;
    ORL_TRY_GOTO(st, done, build_config(opt, ops, B, &hp, r->config_json, sizeof r->config_json));
    ORL_TRY_GOTO(st, done, make_header(spec, &h));
    u.cap = opt->buffer < opt->steps ? opt->buffer : opt->steps;
    ORL_TRY_GOTO(st, done, orl_dataset_create(&h, u.cap, 1, &u.rb));
    orl_dataset *rb = u.rb;
    ORL_TRY_GOTO(st, done, batch_alloc(&bb, B, S, A));
    /* one allocation: obs, next_obs, act (floats), then the checkpoints' scratch */
    size_t floats = (size_t)(2 * S + A) * sizeof(float);
    size_t env_bytes = (size_t)orl_env_state_size(env);
    size_t same_bytes = opt->checkpoint_path ? (size_t)(u.cap + 7) / 8 : 0;
    scratch = calloc(1, floats + env_bytes + same_bytes + 16);
    if (!scratch) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "online: out of memory");
    float *obs = (float *)(void *)scratch, *next_obs = obs + S, *act = obs + 2 * S;
    u.obs = obs;
    u.env_state = scratch + (floats + 7) / 8 * 8;
    u.same = (uint8_t *)u.env_state + env_bytes;

    orl_rng_seed(&u.learner_rng, opt->seed, STREAM_LEARNER);
    orl_rng_seed(&u.batch_rng, opt->seed, STREAM_BATCH);
    orl_rng_seed(&u.act_rng, opt->seed, STREAM_ACTIONS);
    u.ctx = (orl_learner_context){rb, NULL, &hp, r->config_json, B};
    orl_batch view;
    char what[64] = "";
    char snapshot[4096] = "";

    int64_t first = 0, log_bytes = -1;
    if (opt->resume) {
        ORL_TRY_GOTO(st, done, orl_online_read_checkpoint(&u, &first, &log_bytes));
        r->resumed_from = first;
    } else {
        double c = cpu_seconds();
        orl_env_seed(env, orl_rollout_episode_seed(opt->seed ^ ORL_ONLINE_EPISODE_SALT, 0));
        orl_env_reset(env, obs);
        u.c_env += cpu_seconds() - c;
    }
    ORL_TRY_GOTO(st, done, open_log(&u, opt->resume, log_bytes));
    FILE *log = u.log;

    for (int64_t t = first; t < opt->steps; t++) {
        /* the learner starts on the warm-up's rows */
        if (!u.state && t >= opt->warmup && rb->n_steps > 0)
            ORL_TRY_GOTO(st, done, orl_online_start_learner(&u, &u.learner_rng));

        /* act: uniform during the warm-up, then a sample of the learner's policy */
        double c = cpu_seconds();
        int32_t act_idx = 0;
        if (!u.state) {
            if (discrete)
                act_idx = (int32_t)orl_rng_below(&u.act_rng, (uint32_t)spec->n_actions);
            else
                for (int32_t j = 0; j < A; j++)
                    act[j] = spec->act_low[j] + (spec->act_high[j] - spec->act_low[j]) *
                                                    (float)orl_rng_uniform(&u.act_rng);
        } else {
            ORL_TRY_GOTO(st, done,
                         orl_policy_act(ops->policy(u.state), u.work, obs, 1,
                                        ORL_POLICY_MODE_SAMPLE, &u.act_rng, discrete ? NULL : act,
                                        discrete ? &act_idx : NULL));
        }
        double c2 = cpu_seconds();
        u.c_act += c2 - c;

        /* step and store (a ring once full) */
        orl_env_result er;
        ORL_TRY_GOTO(st, done, orl_env_step(env, act, act_idx, next_obs, &er));
        int64_t row = t % u.cap;
        memcpy(rb->obs + row * S, obs, (size_t)S * sizeof(float));
        memcpy(rb->next_obs + row * S, next_obs, (size_t)S * sizeof(float));
        if (discrete)
            rb->act_idx[row] = act_idx;
        else
            memcpy(rb->act + row * A, act, (size_t)A * sizeof(float));
        rb->rew[row] = (float)er.reward;
        rb->terminal[row] = (uint8_t)(er.terminated != 0);
        rb->timeout[row] = (uint8_t)(!er.terminated && er.truncated);
        if (rb->logp_b) rb->logp_b[row] = NAN;
        if (rb->n_steps < u.cap) rb->n_steps++;
        rb->n_episodes = 1;
        rb->ep_off[0] = 0;
        rb->ep_off[1] = rb->n_steps;
        u.episode_return += er.reward;
        if (er.terminated || er.truncated) {
            u.episode++;
            u.interval_episodes++;
            u.interval_return += u.episode_return;
            u.episode_return = 0.0;
            orl_env_seed(env,
                         orl_rollout_episode_seed(opt->seed ^ ORL_ONLINE_EPISODE_SALT, u.episode));
            orl_env_reset(env, obs);
        } else {
            memcpy(obs, next_obs, (size_t)S * sizeof(float));
        }
        double c3 = cpu_seconds();
        u.c_env += c3 - c2;

        /* one gradient step on a batch from the buffer */
        if (u.state) {
            batch_draw(&bb, rb, B, &u.batch_rng, &view);
            st = ops->step(u.state, &view, r->updates, &u.learner_rng, r->metrics);
            for (int32_t i = 0; st == ORL_OK && i < u.names.n; i++)
                if (!isfinite(r->metrics[i]))
                    st =
                        orl_error_set(ORL_ERR_NUMERIC, "%s is %g", u.names.names[i], r->metrics[i]);
            if (st != ORL_OK) {
                if (st == ORL_ERR_NUMERIC) {
                    char detail[512];
                    snprintf(detail, sizeof detail, "%s", orl_error_message());
                    st = orl_error_set(ORL_ERR_NUMERIC,
                                       "%s: non-finite loss at update %lld (env step %lld): %s",
                                       ops->name, (long long)r->updates, (long long)t, detail);
                }
                goto done;
            }
            r->updates++;
            u.c_update += cpu_seconds() - c3;
        }
        int64_t step = t + 1;
        r->env_steps = step;
        r->episodes = u.episode;

        int last = step == opt->steps;
        int do_eval = opt->eval_env && (step % opt->eval_every == 0 || last);
        int do_log = step % (opt->log_every > 0 ? opt->log_every : opt->steps) == 0 || last;
        int do_save = u.state && opt->save_every > 0 && step % opt->save_every == 0;
        if (do_save)
            ORL_TRY_GOTO(st, done,
                         save_snapshot(opt, ops, u.state, step, snapshot, sizeof snapshot));
        if (do_eval) {
            c = cpu_seconds();
            if (u.state) {
                ORL_TRY_GOTO(st, done,
                             orl_eval_for_training(NULL, ops->policy(u.state), opt->eval_env,
                                                   opt->eval_episodes, opt->seed, &r->eval_return,
                                                   &r->eval_score));
            } else {
                r->eval_return = r->eval_score = NAN; /* no policy yet */
            }
            u.c_eval += cpu_seconds() - c;
        }
        if (do_log || do_eval || do_save) {
            r->train_return =
                u.interval_episodes ? u.interval_return / (double)u.interval_episodes : NAN;
            if (log) {
                fprintf(log, "{\"step\":%lld,\"updates\":%lld", (long long)step,
                        (long long)r->updates);
                for (int32_t i = 0; i < u.names.n; i++)
                    put_number(log, u.names.names[i], r->metrics[i]);
                fprintf(log, ",\"episodes\":%lld", (long long)u.episode);
                put_number(log, "train_return", r->train_return);
                if (do_eval) {
                    put_number(log, "eval_return", r->eval_return);
                    put_number(log, "normalized_score", r->eval_score);
                }
                put_number(log, "time", orl_online_wall_seconds() - u.t0);
                put_number(log, "cpu_env", u.c_env);
                put_number(log, "cpu_act", u.c_act);
                put_number(log, "cpu_update", u.c_update);
                if (do_save) {
                    json_t *name = json_string(snapshot);
                    char *text = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
                    fprintf(log, ",\"snapshot\":%s", text ? text : "null");
                    free(text);
                    json_decref(name);
                }
                fprintf(log, "}\n");
                fflush(log);
            }
            u.interval_episodes = 0;
            u.interval_return = 0.0;
        }

        /* checkpoints: every checkpoint_every steps, at the end, and before stopping */
        int stopping = opt->stop_after > 0 && step - first >= opt->stop_after && !last;
        int written = 0;
        if (opt->checkpoint_path && (step % opt->checkpoint_every == 0 || last || stopping)) {
            ORL_TRY_GOTO(st, done, orl_online_write_checkpoint(&u, step));
            written = 1;
        }
        if (stopping)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INTERRUPTED, "online: stopped after step %lld",
                          (long long)step);
        if (opt->progress && opt->progress->fn && (step % 50 == 0 || last)) {
            snprintf(what, sizeof what, "%s online %s %.4g", ops->name,
                     u.names.n ? u.names.names[0] : "", u.names.n ? r->metrics[0] : 0.0);
            if (orl_progress_report(opt->progress, step, opt->steps, what) != ORL_OK) {
                /* an interrupted run leaves a checkpoint to resume from */
                if (opt->checkpoint_path && !written)
                    ORL_TRY_GOTO(st, done, orl_online_write_checkpoint(&u, step));
                if (opt->checkpoint_path)
                    ORL_FAIL_GOTO(st, done, ORL_ERR_INTERRUPTED,
                                  "online: interrupted at step %lld (checkpoint %s: %.1f MB "
                                  "written in %.2f s; --resume continues)",
                                  (long long)step, opt->checkpoint_path,
                                  (double)r->checkpoint_bytes / 1e6, r->checkpoint_seconds);
                ORL_FAIL_GOTO(st, done, ORL_ERR_INTERRUPTED, "online: interrupted at step %lld",
                              (long long)step);
            }
        }
    }
    if (!u.state)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                      "online: %lld steps end within the warm-up of %lld: no policy was trained",
                      (long long)opt->steps, (long long)opt->warmup);
    ORL_TRY_GOTO(st, done, ops->export_policy(u.state, out));
done:
    r->cpu_env = u.c_env, r->cpu_act = u.c_act, r->cpu_update = u.c_update, r->cpu_eval = u.c_eval;
    if (u.log) fclose(u.log);
    orl_policy_work_free(u.work); /* before the policy it was made for */
    if (u.state) ops->free(u.state);
    free(u.bufs);
    free(bb.mem);
    free(scratch);
    orl_dataset_free(u.rb);
    orl_header_free(&h);
    if (u.env != opt->env) orl_env_free(u.env);
    r->seconds = orl_online_wall_seconds() - t_call;
    return st;
}
