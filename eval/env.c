/* The environment registry and the bookkeeping every environment shares: seeding, the time
 * limit, refusing steps that make no sense, and the episode's state as bytes (checkpoints).
 * The dynamics live in classic.c, gridworld.c, pointmaze.c and (built with ORL_WITH_MUJOCO)
 * mujoco.c. */
#include "eval/env_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const orl_env_ops *const registry[] = {
    &orl_env_cartpole_v1,
    &orl_env_acrobot_v1,
    &orl_env_mountaincar_v0,
    &orl_env_pendulum_v1,
    &orl_env_mountaincar_continuous_v0,
    &orl_env_gridworld_4x4,
    &orl_env_pointmaze_umaze,
    &orl_env_pointmaze_umaze_dense,
    &orl_env_pointmaze_medium,
    &orl_env_pointmaze_medium_dense,
#ifdef ORL_WITH_MUJOCO
    &orl_env_hopper_v4,
    &orl_env_halfcheetah_v4,
    &orl_env_walker2d_v4,
    &orl_env_ant_v4,
    &orl_env_reacher_v4,
    &orl_env_pusher_v4,
#endif
};

#define N_ENVS ((int32_t)(sizeof registry / sizeof registry[0]))

int32_t orl_env_count(void) {
    return N_ENVS;
}

const char *orl_env_id(int32_t i) {
    return i >= 0 && i < N_ENVS ? registry[i]->spec.id : NULL;
}

static const orl_env_ops *find_ops(const char *id) {
    for (int32_t i = 0; i < N_ENVS; i++)
        if (strcmp(registry[i]->spec.id, id) == 0) return registry[i];
    return NULL;
}

const orl_env_spec *orl_env_find_spec(const char *id) {
    const orl_env_ops *ops = id ? find_ops(id) : NULL;
    return ops ? &ops->spec : NULL;
}

orl_status orl_env_make(const char *id, orl_env **out) {
    *out = NULL;
    const orl_env_ops *ops = find_ops(id);
#ifndef ORL_WITH_MUJOCO
    static const char *const mujoco_ids[] = {"Hopper-v4", "HalfCheetah-v4", "Walker2d-v4",
                                             "Ant-v4",    "Reacher-v4",     "Pusher-v4"};
    for (size_t i = 0; !ops && i < sizeof mujoco_ids / sizeof mujoco_ids[0]; i++)
        if (strcmp(id, mujoco_ids[i]) == 0)
            ORL_FAIL(ORL_ERR_UNSUPPORTED,
                     "environment '%s' needs MuJoCo: this orl was built with ORL_WITH_MUJOCO=OFF",
                     id);
#endif
    if (!ops) {
        char known[1024] = "";
        size_t at = 0;
        for (int32_t i = 0; i < N_ENVS && at < sizeof known; i++)
            at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "",
                                   registry[i]->spec.id);
        ORL_FAIL(ORL_ERR_INPUT, "unknown environment '%s' (known: %s)", id, known);
    }
    orl_env *env = calloc(1, sizeof *env + ops->state_size);
    if (!env) ORL_FAIL(ORL_ERR_NOMEM, "environment %s", id);
    env->ops = ops;
    env->state = env + 1;
    if (ops->open) {
        orl_status st = ops->open(ops, env->state);
        if (st != ORL_OK) {
            orl_env_free(env);
            return st;
        }
    }
    orl_env_seed(env, 0);
    *out = env;
    return ORL_OK;
}

void orl_env_free(orl_env *env) {
    if (env && env->ops->close) env->ops->close(env->state);
    free(env);
}

const orl_env_spec *orl_env_get_spec(const orl_env *env) {
    return &env->ops->spec;
}

/* FNV-1a of the id: each environment draws from its own stream */
static uint64_t id_stream(const char *id) {
    uint64_t h = 1469598103934665603ULL;
    for (; *id; id++) h = (h ^ (uint8_t)*id) * 1099511628211ULL;
    return h;
}

void orl_env_seed(orl_env *env, uint64_t seed) {
    orl_rng_seed(&env->rng, seed, id_stream(env->ops->spec.id));
    env->started = 0;
    env->ended = 0;
    env->elapsed = 0;
}

void orl_env_reset(orl_env *env, float *obs) {
    if (!env->ops->open) memset(env->state, 0, env->ops->state_size);
    env->ops->reset(env->state, &env->rng, obs);
    env->started = 1;
    env->ended = 0;
    env->elapsed = 0;
}

orl_status orl_env_step(orl_env *env, const float *act, int32_t act_idx, float *next_obs,
                        orl_env_result *out) {
    const orl_env_spec *spec = &env->ops->spec;
    if (!env->started) ORL_FAIL(ORL_ERR_INPUT, "%s: step before reset", spec->id);
    if (env->ended)
        ORL_FAIL(ORL_ERR_INPUT, "%s: step after the episode ended (at step %d); reset first",
                 spec->id, env->elapsed);
    if (spec->action_kind == ORL_ACTION_KIND_DISCRETE) {
        if (act_idx < 0 || act_idx >= spec->n_actions)
            ORL_FAIL(ORL_ERR_INPUT, "%s: action %d outside [0, %d)", spec->id, act_idx,
                     spec->n_actions);
    } else {
        for (int32_t i = 0; i < spec->act_dim; i++)
            if (!isfinite(act[i]))
                ORL_FAIL(ORL_ERR_NUMERIC, "%s: action[%d] is %g at step %d", spec->id, i,
                         (double)act[i], env->elapsed);
    }
    int terminated = 0;
    out->reward = 0.0;
    env->ops->step(env->state, &env->rng, act, act_idx, next_obs, &out->reward, &terminated);
    env->elapsed++;
    out->terminated = terminated != 0;
    out->truncated = !terminated && env->elapsed >= spec->max_episode_steps;
    env->ended = out->terminated || out->truncated;
    return ORL_OK;
}

int32_t orl_env_elapsed(const orl_env *env) {
    return env->elapsed;
}

/* the bookkeeping's part of a state, before the implementation's bytes */
typedef struct env_state_head {
    uint64_t rng_state, rng_inc;
    double rng_spare;
    int32_t rng_has_spare;
    int32_t elapsed, started, ended;
} env_state_head;

static size_t impl_state_bytes(const orl_env *env) {
    assert(!env->ops->open || env->ops->state_bytes);
    return env->ops->state_bytes ? env->ops->state_bytes(env->state) : env->ops->state_size;
}

int64_t orl_env_state_size(const orl_env *env) {
    return (int64_t)(sizeof(env_state_head) + impl_state_bytes(env));
}

void orl_env_get_state(const orl_env *env, void *out) {
    env_state_head h;
    memset(&h, 0, sizeof h);
    h.rng_state = env->rng.state;
    h.rng_inc = env->rng.inc;
    h.rng_spare = env->rng.spare;
    h.rng_has_spare = env->rng.has_spare;
    h.elapsed = env->elapsed;
    h.started = env->started;
    h.ended = env->ended;
    memcpy(out, &h, sizeof h);
    char *impl = (char *)out + sizeof h;
    if (env->ops->state_get)
        env->ops->state_get(env->state, impl);
    else
        memcpy(impl, env->state, env->ops->state_size);
}

orl_status orl_env_set_state(orl_env *env, const void *in, int64_t bytes) {
    if (bytes != orl_env_state_size(env))
        ORL_FAIL(ORL_ERR_INPUT, "%s: a state of %lld bytes, expected %lld (another environment?)",
                 env->ops->spec.id, (long long)bytes, (long long)orl_env_state_size(env));
    env_state_head h;
    memcpy(&h, in, sizeof h);
    env->rng.state = h.rng_state;
    env->rng.inc = h.rng_inc;
    env->rng.spare = h.rng_spare;
    env->rng.has_spare = h.rng_has_spare;
    env->elapsed = h.elapsed;
    env->started = h.started;
    env->ended = h.ended;
    const char *impl = (const char *)in + sizeof h;
    if (env->ops->state_set)
        env->ops->state_set(env->state, impl);
    else
        memcpy(env->state, impl, env->ops->state_size);
    return ORL_OK;
}

int32_t orl_env_n_states(const orl_env *env) {
    return env->ops->n_states;
}

int32_t orl_env_state_index(const orl_env *env, const float *obs) {
    return env->ops->state_index ? env->ops->state_index(obs) : -1;
}
