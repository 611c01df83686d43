/* Checkpoints of the online loop (eval/online.c), in orl_train's file format (orl_checkpoint_*,
 * train.h): the head (config, step, the learner's and batches' rngs), then LOOP_BUFFERS buffers
 * of the loop (its counters with the actions' rng, the environment's episode, the current
 * observation, the replay columns: obs, act or act_idx, rew, terminal, timeout, a bit per row
 * whose next_obs is the following row's obs, and the other rows' next_obs), the learner's
 * buffers once it exists, and the digest of all the bytes before it (orl_checkpoint_digest), so
 * a changed byte is refused. A resumed run creates the learner as at the end of the warm-up
 * (discarding its rng draws) and reads its buffers over it. */
#include "eval/online_internal.h"
#include "orl/fs.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the loop's own counters: the checkpoint's "online_loop" buffer (8-byte fields only, so the
 * struct has no padding) */
typedef struct loop_state {
    int64_t step;              /* environment steps taken */
    int64_t updates;           /* gradient steps taken */
    int64_t episode;           /* training episodes finished */
    int64_t interval_episodes; /* ... since the last log line */
    int64_t n_filled;          /* replay rows filled */
    int64_t ring;              /* the buffer's capacity when written (the successor rows) */
    int64_t has_learner;       /* 1 once the learner exists (its buffers follow) */
    int64_t log_bytes;         /* the metrics log's size (-1: no log) */
    int64_t act_rng_has_spare;
    uint64_t act_rng_state, act_rng_inc;
    double act_rng_spare;
    double episode_return, interval_return; /* the episode in progress; the interval's sum */
    double c_env, c_act, c_update, c_eval;  /* CPU seconds so far */
    double wall;                            /* wall seconds so far (the log's "time") */
    double train_return, eval_return, eval_score;
    double metrics[ORL_ONLINE_MAX_METRICS]; /* the last update's */
} loop_state;

/* the loop's buffers of a checkpoint: 10 before the learner's, the digest after them */
#define LOOP_BUFFERS 11

/* lists the learner's buffers into u->bufs (grown as needed) */
static orl_status list_buffers(online_run *u) {
    for (;;) {
        int32_t need = u->ops->buffers(u->state, u->bufs, u->cap_bufs);
        if (need <= u->cap_bufs) {
            u->n_bufs = need;
            return ORL_OK;
        }
        orl_buffer *grown = realloc(u->bufs, (size_t)need * sizeof *grown);
        if (!grown) ORL_FAIL(ORL_ERR_NOMEM, "online: out of memory");
        u->bufs = grown;
        u->cap_bufs = need;
    }
}

/* the ring row written after row in a buffer of capacity ring: a next observation equal to its
 * observation is stored as a bit (within an episode it always is) */
static int64_t successor(int64_t ring, int64_t row) {
    return (row + 1) % ring;
}

/* bit row of bits */
static int bit_at(const uint8_t *bits, int64_t row) {
    return (int)((unsigned)bits[row / 8] >> (unsigned)(row % 8)) & 1;
}

/* the replay buffer's n filled rows, column by column in storage order */
static orl_status put_replay(orl_checkpoint *c, online_run *u, int64_t n) {
    const orl_dataset *rb = u->rb;
    const size_t S = (size_t)rb->h.obs_dim, A = (size_t)rb->h.act_dim;
    const int64_t row_bytes = (int64_t)(S * sizeof(float));
    ORL_TRY(orl_checkpoint_put(c, "replay_obs", rb->obs, n * row_bytes));
    if (rb->act_idx)
        ORL_TRY(orl_checkpoint_put(c, "replay_act_idx", rb->act_idx, n * (int64_t)sizeof(int32_t)));
    else
        ORL_TRY(orl_checkpoint_put(c, "replay_act", rb->act, n * (int64_t)(A * sizeof(float))));
    ORL_TRY(orl_checkpoint_put(c, "replay_rew", rb->rew, n * (int64_t)sizeof(float)));
    ORL_TRY(orl_checkpoint_put(c, "replay_terminal", rb->terminal, n));
    ORL_TRY(orl_checkpoint_put(c, "replay_timeout", rb->timeout, n));
    int64_t same = 0;
    memset(u->same, 0, (size_t)(n + 7) / 8);
    for (int64_t row = 0; row < n; row++) {
        int64_t next = successor(u->cap, row);
        if (next < n && memcmp(rb->next_obs + (size_t)row * S, rb->obs + (size_t)next * S,
                               (size_t)row_bytes) == 0) {
            u->same[row / 8] |= (uint8_t)(1u << (unsigned)(row % 8));
            same++;
        }
    }
    ORL_TRY(orl_checkpoint_put(c, "replay_next_same", u->same, (n + 7) / 8));
    ORL_TRY(orl_checkpoint_put_start(c, "replay_next_obs", (n - same) * row_bytes));
    for (int64_t row = 0; row < n; row++)
        if (!bit_at(u->same, row))
            ORL_TRY(orl_checkpoint_put_bytes(c, rb->next_obs + (size_t)row * S, row_bytes));
    return ORL_OK;
}

/* n rows written by a run whose buffer held ring rows (a resumed run may hold more) */
static orl_status get_replay(orl_checkpoint *c, online_run *u, int64_t n, int64_t ring) {
    orl_dataset *rb = u->rb;
    const size_t S = (size_t)rb->h.obs_dim, A = (size_t)rb->h.act_dim;
    const int64_t row_bytes = (int64_t)(S * sizeof(float));
    ORL_TRY(orl_checkpoint_get(c, "replay_obs", rb->obs, n * row_bytes));
    if (rb->act_idx)
        ORL_TRY(orl_checkpoint_get(c, "replay_act_idx", rb->act_idx, n * (int64_t)sizeof(int32_t)));
    else
        ORL_TRY(orl_checkpoint_get(c, "replay_act", rb->act, n * (int64_t)(A * sizeof(float))));
    ORL_TRY(orl_checkpoint_get(c, "replay_rew", rb->rew, n * (int64_t)sizeof(float)));
    ORL_TRY(orl_checkpoint_get(c, "replay_terminal", rb->terminal, n));
    ORL_TRY(orl_checkpoint_get(c, "replay_timeout", rb->timeout, n));
    ORL_TRY(orl_checkpoint_get(c, "replay_next_same", u->same, (n + 7) / 8));
    int64_t same = 0;
    for (int64_t row = 0; row < n; row++) same += bit_at(u->same, row);
    ORL_TRY(orl_checkpoint_get_start(c, "replay_next_obs", (n - same) * row_bytes));
    for (int64_t row = 0; row < n; row++) {
        float *dst = rb->next_obs + (size_t)row * S;
        if (bit_at(u->same, row)) {
            int64_t next = successor(ring, row);
            if (next >= n)
                ORL_FAIL(ORL_ERR_FORMAT, "%s: corrupt checkpoint (replay row %lld)",
                         u->opt->checkpoint_path, (long long)row);
            memcpy(dst, rb->obs + (size_t)next * S, (size_t)row_bytes);
        } else
            ORL_TRY(orl_checkpoint_get_bytes(c, dst, row_bytes));
    }
    for (int64_t row = 0; rb->logp_b && row < n; row++) rb->logp_b[row] = NAN;
    rb->n_steps = n;
    rb->n_episodes = 1;
    rb->ep_off[0] = 0;
    rb->ep_off[1] = n;
    return ORL_OK;
}

/* writes the checkpoint of the run after `step` environment steps */
orl_status orl_online_write_checkpoint(online_run *u, int64_t step) {
    const orl_online_options *opt = u->opt;
    orl_online_result *r = u->r;
    double w0 = orl_online_wall_seconds();
    if (u->state) ORL_TRY(list_buffers(u));
    loop_state L;
    memset(&L, 0, sizeof L);
    L.step = step;
    L.updates = r->updates;
    L.episode = u->episode;
    L.interval_episodes = u->interval_episodes;
    L.n_filled = u->rb->n_steps;
    L.ring = u->cap;
    L.has_learner = u->state != NULL;
    L.log_bytes = -1;
    if (u->log) {
        if (fflush(u->log) != 0)
            ORL_FAIL(ORL_ERR_IO, "%s: cannot write the metrics log", opt->log_path);
        L.log_bytes = (int64_t)ftell(u->log);
    }
    L.act_rng_state = u->act_rng.state;
    L.act_rng_inc = u->act_rng.inc;
    L.act_rng_spare = u->act_rng.spare;
    L.act_rng_has_spare = u->act_rng.has_spare;
    L.episode_return = u->episode_return;
    L.interval_return = u->interval_return;
    L.c_env = u->c_env, L.c_act = u->c_act, L.c_update = u->c_update, L.c_eval = u->c_eval;
    L.wall = w0 - u->t0;
    L.train_return = r->train_return;
    L.eval_return = r->eval_return;
    L.eval_score = r->eval_score;
    for (int32_t i = 0; i < ORL_ONLINE_MAX_METRICS; i++)
        L.metrics[i] = i < r->n_metrics ? r->metrics[i] : NAN;
    orl_env_get_state(u->env, u->env_state);

    orl_checkpoint_head head = {step, 0, u->learner_rng, u->batch_rng,
                                LOOP_BUFFERS + (u->state ? u->n_bufs : 0)};
    orl_checkpoint *c = NULL;
    ORL_TRY(orl_checkpoint_create(opt->checkpoint_path, r->config_json, &head, &c));
    orl_status st = ORL_OK;
    const int32_t S = orl_env_get_spec(u->env)->obs_dim;
    ORL_TRY_GOTO(st, fail, orl_checkpoint_put(c, "online_loop", &L, (int64_t)sizeof L));
    ORL_TRY_GOTO(st, fail,
                 orl_checkpoint_put(c, "online_env", u->env_state, orl_env_state_size(u->env)));
    ORL_TRY_GOTO(st, fail,
                 orl_checkpoint_put(c, "online_obs", u->obs, (int64_t)S * (int64_t)sizeof(float)));
    ORL_TRY_GOTO(st, fail, put_replay(c, u, L.n_filled));
    for (int32_t i = 0; u->state && i < u->n_bufs; i++)
        ORL_TRY_GOTO(st, fail,
                     orl_checkpoint_put(c, u->bufs[i].name, u->bufs[i].ptr, u->bufs[i].bytes));
    uint64_t digest = orl_checkpoint_digest(c);
    ORL_TRY_GOTO(st, fail, orl_checkpoint_put(c, "online_digest", &digest, sizeof digest));
    ORL_TRY(orl_checkpoint_commit(c, &r->checkpoint_bytes));
    r->checkpoints++;
    r->checkpoint_seconds = orl_online_wall_seconds() - w0;
    return ORL_OK;
fail:
    orl_checkpoint_close(c);
    return st;
}

/* the keys whose values differ between two config JSON objects (steps aside), as
 * "key: A in the checkpoint, B now; ..." into out; returns their number */
static int config_differences(const char *stored, const char *now, char *out, size_t cap) {
    json_error_t err;
    json_t *a = json_loads(stored, 0, &err), *b = json_loads(now, 0, &err);
    int n = 0;
    out[0] = '\0';
    if (!json_is_object(a) || !json_is_object(b)) {
        snprintf(out, cap, "the checkpoint's settings are not a JSON object");
        n = 1;
    } else {
        const char *key;
        json_t *value;
        for (int pass = 0; pass < 2; pass++) {
            json_object_foreach(pass ? b : a, key, value) {
                if (strcmp(key, "steps") == 0) continue;
                json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
                if (pass && x) continue; /* keys of both were compared in the first pass */
                if (x && y && json_equal(x, y)) continue;
                char *tx = x ? json_dumps(x, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9)) : NULL;
                char *ty = y ? json_dumps(y, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9)) : NULL;
                size_t len = strlen(out);
                snprintf(out + len, cap - len, "%s%s: %s in the checkpoint, %s now", n ? "; " : "",
                         key, tx ? tx : "(absent)", ty ? ty : "(absent)");
                free(tx);
                free(ty);
                n++;
            }
        }
    }
    json_decref(a);
    json_decref(b);
    return n;
}

/* reads the checkpoint into the run: the loop's counters and rngs, the environment's episode,
 * the replay buffer and (once it existed) the learner; *step receives its step */
orl_status orl_online_read_checkpoint(online_run *u, int64_t *step, int64_t *log_bytes) {
    const orl_online_options *opt = u->opt;
    orl_online_result *r = u->r;
    const char *path = opt->checkpoint_path;
    if (!orl_fs_exists(path))
        ORL_FAIL(ORL_ERR_IO, "%s: no checkpoint to resume from (run without --resume to start)",
                 path);
    orl_checkpoint_head head;
    orl_checkpoint *c = NULL;
    ORL_TRY(orl_checkpoint_open(path, &head, &c));
    orl_status st = ORL_OK;
    char diff[2048];
    if (config_differences(orl_checkpoint_config(c), r->config_json, diff, sizeof diff) > 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                      "%s: the checkpoint was made with other settings (%s); only --steps may "
                      "change on --resume",
                      path, diff);
    if (head.step > opt->steps)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                      "%s: the checkpoint is at environment step %lld, past --steps %lld", path,
                      (long long)head.step, (long long)opt->steps);
    loop_state L;
    ORL_TRY_GOTO(st, done, orl_checkpoint_get(c, "online_loop", &L, (int64_t)sizeof L));
    int64_t filled = L.step < u->cap ? L.step : u->cap;
    if (L.step != head.step || L.n_filled != filled || L.ring < L.n_filled || L.ring < 1 ||
        (L.has_learner != 0 && L.has_learner != 1) || L.updates < 0 || L.updates > L.step ||
        L.episode < 0 || L.interval_episodes < 0 || (L.act_rng_inc & 1u) == 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                      "%s: corrupt checkpoint (the loop's counters do not fit: step %lld, %lld "
                      "replay rows for a buffer of %lld)",
                      path, (long long)L.step, (long long)L.n_filled, (long long)u->cap);
    if (head.n_buffers < LOOP_BUFFERS + (L.has_learner ? 1 : 0))
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: corrupt checkpoint (%d buffers)", path,
                      head.n_buffers);
    int64_t env_bytes = orl_env_state_size(u->env);
    ORL_TRY_GOTO(st, done, orl_checkpoint_get(c, "online_env", u->env_state, env_bytes));
    ORL_TRY_GOTO(st, done, orl_env_set_state(u->env, u->env_state, env_bytes));
    const int32_t S = orl_env_get_spec(u->env)->obs_dim;
    ORL_TRY_GOTO(st, done,
                 orl_checkpoint_get(c, "online_obs", u->obs, (int64_t)S * (int64_t)sizeof(float)));
    ORL_TRY_GOTO(st, done, get_replay(c, u, L.n_filled, L.ring));
    if (L.has_learner) {
        /* made as at the end of the warm-up, then overwritten: its rng draws are discarded */
        orl_rng scratch = u->learner_rng;
        ORL_TRY_GOTO(st, done, orl_online_start_learner(u, &scratch));
        ORL_TRY_GOTO(st, done, list_buffers(u));
        if (head.n_buffers != LOOP_BUFFERS + u->n_bufs)
            ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                          "%s: %d buffers, expected %d (the loop's %d and %s's %d)", path,
                          head.n_buffers, LOOP_BUFFERS + u->n_bufs, LOOP_BUFFERS, u->ops->name,
                          u->n_bufs);
        for (int32_t i = 0; i < u->n_bufs; i++)
            ORL_TRY_GOTO(st, done,
                         orl_checkpoint_get(c, u->bufs[i].name, u->bufs[i].ptr, u->bufs[i].bytes));
    } else if (head.n_buffers != LOOP_BUFFERS) {
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: %d buffers within the warm-up, expected %d",
                      path, head.n_buffers, LOOP_BUFFERS);
    }
    /* every byte so far against the writer's digest: a changed byte is a corrupt file */
    uint64_t want = orl_checkpoint_digest(c), got = 0;
    ORL_TRY_GOTO(st, done, orl_checkpoint_get(c, "online_digest", &got, sizeof got));
    if (got != want)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                      "%s: corrupt checkpoint (its digest %016llx does not match its bytes' "
                      "%016llx)",
                      path, (unsigned long long)got, (unsigned long long)want);
    u->learner_rng = head.learner_rng;
    u->batch_rng = head.batch_rng;
    u->act_rng.state = L.act_rng_state;
    u->act_rng.inc = L.act_rng_inc;
    u->act_rng.spare = L.act_rng_spare;
    u->act_rng.has_spare = (int)L.act_rng_has_spare;
    r->updates = L.updates;
    r->env_steps = L.step;
    r->episodes = L.episode;
    u->episode = L.episode;
    u->interval_episodes = L.interval_episodes;
    u->episode_return = L.episode_return;
    u->interval_return = L.interval_return;
    u->c_env = L.c_env, u->c_act = L.c_act, u->c_update = L.c_update, u->c_eval = L.c_eval;
    u->t0 -= L.wall;
    r->train_return = L.train_return;
    r->eval_return = L.eval_return;
    r->eval_score = L.eval_score;
    for (int32_t i = 0; i < r->n_metrics; i++) r->metrics[i] = L.metrics[i];
    *step = L.step;
    *log_bytes = L.log_bytes;
done:
    orl_checkpoint_close(c);
    return st;
}
