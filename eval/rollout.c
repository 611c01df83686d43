/* Rollouts: a policy acting in an environment for whole episodes, each seeded from one seed
 * and its index, returns and lengths kept per episode, transitions optionally streamed to a
 * writer through one block buffer. Buffers are sized before the first step; the per-episode
 * record grows by doubling between episodes, never inside one. It does not print, and it does
 * not decide which policy acts (orl_gen does). */
#include "orl/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BLOCK_ROWS 4096
/* splitmix64: the seed of episode index from the run's seed */
uint64_t orl_rollout_episode_seed(uint64_t seed, int64_t index) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * ((uint64_t)index + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void orl_rollout_options_init(orl_rollout_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->episodes = 10;
    opt->mode = ORL_POLICY_MODE_SAMPLE;
}

void orl_rollout_stats_init(orl_rollout_stats *stats) {
    memset(stats, 0, sizeof *stats);
}

void orl_rollout_stats_free(orl_rollout_stats *stats) {
    if (!stats) return;
    free(stats->returns);
    free(stats->lengths);
    orl_rollout_stats_init(stats);
}

static orl_status stats_reserve(orl_rollout_stats *stats, int64_t n) {
    if (n <= stats->cap) return ORL_OK;
    int64_t cap = stats->cap ? stats->cap : 64;
    while (cap < n) cap *= 2;
    double *r = realloc(stats->returns, (size_t)cap * sizeof *r);
    if (!r) ORL_FAIL(ORL_ERR_NOMEM, "rollout record of %lld episodes", (long long)cap);
    stats->returns = r;
    int32_t *l = realloc(stats->lengths, (size_t)cap * sizeof *l);
    if (!l) ORL_FAIL(ORL_ERR_NOMEM, "rollout record of %lld episodes", (long long)cap);
    stats->lengths = l;
    stats->cap = cap;
    return ORL_OK;
}

static orl_status check_fit(const orl_policy *p, const orl_env_spec *spec) {
    orl_status st =
        orl_policy_check_dims(p, spec->obs_dim, spec->act_dim, spec->action_kind,
                              spec->action_kind == ORL_ACTION_KIND_DISCRETE ? spec->n_actions : 0);
    if (st) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", orl_error_message());
        ORL_FAIL(st, "policy %s does not fit environment %s (obs %d, %s %d): %s",
                 p->source[0] ? p->source : p->algorithm, spec->id, spec->obs_dim,
                 spec->action_kind == ORL_ACTION_KIND_DISCRETE ? "actions" : "act dim",
                 spec->action_kind == ORL_ACTION_KIND_DISCRETE ? spec->n_actions : spec->act_dim,
                 detail);
    }
    return ORL_OK;
}

/* hands the rows buffered in block to the writer and empties it */
static orl_status flush(orl_writer *w, orl_dataset *block) {
    if (block->n_steps == 0) return ORL_OK;
    ORL_TRY(orl_dataset_index(block));
    ORL_TRY(orl_writer_write(w, block));
    orl_dataset_clear(block);
    return ORL_OK;
}

orl_status orl_rollout(orl_env *env, const orl_policy *p, const orl_rollout_options *opt,
                       orl_rollout_stats *stats) {
    const orl_env_spec *spec = orl_env_get_spec(env);
    int discrete = spec->action_kind == ORL_ACTION_KIND_DISCRETE;
    int32_t S = spec->obs_dim, A = spec->act_dim;
    if (opt->episodes <= 0 && opt->max_steps <= 0 && opt->soft_steps <= 0)
        ORL_FAIL(ORL_ERR_INPUT, "rollout: neither a number of episodes nor of steps");
    ORL_TRY(check_fit(p, spec));
    if (opt->writer && (p->deterministic || !p->ops->logp))
        ORL_FAIL(ORL_ERR_INPUT,
                 "policy %s is deterministic: it has no action probabilities, which logged data "
                 "needs for off-policy evaluation",
                 p->source[0] ? p->source : p->algorithm);

    orl_status st = ORL_OK;
    orl_policy_work *work = NULL;
    orl_dataset *block = NULL;
    orl_header h;
    memset(&h, 0, sizeof h);
    ORL_TRY(orl_header_init(&h, S, A, spec->action_kind, discrete ? spec->n_actions : 0));
    int64_t block_rows = opt->block_rows > 0 ? opt->block_rows : DEFAULT_BLOCK_ROWS;
    ORL_TRY_GOTO(st, done, orl_policy_work_create(p, 1, &work));
    if (opt->writer) {
        h.has_logp = 1;
        ORL_TRY_GOTO(st, done, orl_dataset_create(&h, block_rows, block_rows + 1, &block));
    }
    if (opt->episodes > 0)
        ORL_TRY_GOTO(st, done, stats_reserve(stats, stats->n_episodes + opt->episodes));

    /* the current observation and action live on the stack: no allocation per step */
    float obs[ORL_ENV_MAX_OBS], next_obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
    memset(act, 0, sizeof act); /* discrete environments ignore it, but it is defined */
    int32_t act_idx = 0;
    orl_rng rng;
    int64_t steps = 0, total = opt->max_steps > 0 ? opt->max_steps : -1;
    for (int64_t e = 0; opt->episodes <= 0 || e < opt->episodes; e++) {
        if (opt->max_steps > 0 && steps >= opt->max_steps) break;
        if (opt->soft_steps > 0 && steps >= opt->soft_steps) break;
        ORL_TRY_GOTO(st, done, stats_reserve(stats, stats->n_episodes + 1));
        uint64_t es = orl_rollout_episode_seed(opt->seed, opt->first_episode + e);
        orl_env_seed(env, es);
        orl_rng_seed(&rng, es, ORL_ROLLOUT_POLICY_STREAM);
        orl_env_reset(env, obs);
        double ret = 0.0;
        int32_t len = 0;
        orl_env_result r = {0.0, 0, 0};
        for (;;) {
            ORL_TRY_GOTO(st, done,
                         orl_policy_act(p, work, obs, 1, opt->mode, &rng, discrete ? NULL : act,
                                        discrete ? &act_idx : NULL));
            double logp = NAN;
            if (block)
                ORL_TRY_GOTO(st, done,
                             orl_policy_logp(p, work, obs, 1, discrete ? NULL : act,
                                             discrete ? &act_idx : NULL, &logp));
            ORL_TRY_GOTO(st, done, orl_env_step(env, act, act_idx, next_obs, &r));
            ret += r.reward;
            len++;
            steps++;
            int cut = opt->max_steps > 0 && steps >= opt->max_steps && !r.terminated;
            if (cut) r.truncated = 1;
            if (block) {
                int64_t t = block->n_steps;
                memcpy(block->obs + t * S, obs, (size_t)S * sizeof *obs);
                memcpy(block->next_obs + t * S, next_obs, (size_t)S * sizeof *obs);
                if (discrete)
                    block->act_idx[t] = act_idx;
                else
                    memcpy(block->act + t * A, act, (size_t)A * sizeof *act);
                block->rew[t] = (float)r.reward;
                block->terminal[t] = (uint8_t)(r.terminated != 0);
                block->timeout[t] = (uint8_t)(!r.terminated && r.truncated);
                block->logp_b[t] = (float)logp;
                block->n_steps = t + 1;
                if (block->n_steps == block_rows) ORL_TRY_GOTO(st, done, flush(opt->writer, block));
            }
            if (opt->progress && (steps & 1023) == 0 &&
                (st = orl_progress_report(opt->progress, steps, total, "rollout")) != ORL_OK)
                goto done;
            if (r.terminated || r.truncated) break;
            memcpy(obs, next_obs, (size_t)S * sizeof *obs);
        }
        stats->returns[stats->n_episodes] = ret;
        stats->lengths[stats->n_episodes] = len;
        stats->n_episodes++;
        stats->n_steps += len;
        if (r.terminated) stats->n_terminated++;
    }
    if (block) ORL_TRY_GOTO(st, done, flush(opt->writer, block));
    if (opt->progress &&
        (st = orl_progress_report(opt->progress, steps, total, "rollout")) != ORL_OK)
        goto done;
done:
    orl_dataset_free(block);
    orl_policy_work_free(work);
    orl_header_free(&h);
    return st;
}

void orl_rollout_summarize(const orl_rollout_stats *stats, int64_t e0, int64_t e1,
                           orl_rollout_summary *out) {
    memset(out, 0, sizeof *out);
    if (e0 < 0) e0 = 0;
    if (e1 <= 0 || e1 > stats->n_episodes) e1 = stats->n_episodes;
    int64_t n = e1 > e0 ? e1 - e0 : 0;
    out->n_episodes = n;
    if (n == 0) {
        out->return_mean = out->return_stderr = out->return_min = out->return_max = NAN;
        out->length_mean = NAN;
        return;
    }
    double sum = 0.0, lsum = 0.0;
    out->return_min = out->return_max = stats->returns[e0];
    out->length_min = out->length_max = stats->lengths[e0];
    for (int64_t e = e0; e < e1; e++) {
        double r = stats->returns[e];
        sum += r;
        lsum += stats->lengths[e];
        out->n_steps += stats->lengths[e];
        if (r < out->return_min) out->return_min = r;
        if (r > out->return_max) out->return_max = r;
        if (stats->lengths[e] < out->length_min) out->length_min = stats->lengths[e];
        if (stats->lengths[e] > out->length_max) out->length_max = stats->lengths[e];
    }
    double mean = sum / (double)n, ss = 0.0;
    for (int64_t e = e0; e < e1; e++) ss += (stats->returns[e] - mean) * (stats->returns[e] - mean);
    out->return_mean = mean;
    out->return_stderr = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : 0.0;
    out->length_mean = lsum / (double)n;
}

orl_status orl_eval(const orl_policy *p, const char *env_id, int64_t episodes, uint64_t seed,
                    orl_policy_mode mode, orl_rollout_summary *out, orl_rollout_stats *stats_out) {
    orl_env *env = NULL;
    ORL_TRY(orl_env_make(env_id, &env));
    orl_rollout_stats stats;
    orl_rollout_stats_init(&stats);
    orl_rollout_options opt;
    orl_rollout_options_init(&opt);
    opt.episodes = episodes;
    opt.seed = seed;
    opt.mode = mode;
    orl_status st = orl_rollout(env, p, &opt, &stats);
    orl_env_free(env);
    if (st == ORL_OK) orl_rollout_summarize(&stats, 0, 0, out);
    if (st == ORL_OK && stats_out)
        *stats_out = stats;
    else
        orl_rollout_stats_free(&stats);
    return st;
}
