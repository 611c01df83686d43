/* The pessimistic MDP as an orl_env (include/orl/pmdp_env.h): an implementation of the
 * environment interface whose ops table and state are made per instance (the spec depends on
 * the model), in one allocation with the environment; the members' workspace is the one other
 * allocation, made at make and released by the close op. Steps follow models/pmdp.c's rules
 * for one episode. Not here: the batched planner rollouts (models/pmdp.c). */
#include "orl/pmdp_env.h"

#include "eval/env_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pmdp_env_state {
    const orl_dynamics *d;
    orl_dynamics_work *work;
    orl_pmdp_config cfg;
    double threshold;
    int32_t member;              /* this episode's */
    int halted;                  /* this episode entered HALT */
    float obs[ORL_ENV_MAX_OBS];  /* (S) the current state */
    float act[ORL_ENV_MAX_ACT];  /* (A) the clipped action */
    float low[ORL_ENV_MAX_ACT];  /* (A) NaN: unbounded */
    float high[ORL_ENV_MAX_ACT]; /* (A) */
    float *next, *rew, *done;    /* (K, S), (K), (K): the allocation's tail */
    float env_rew, env_done, dis;
} pmdp_env_state;

static orl_status pmdp_env_open(const orl_env_ops *ops, void *state) {
    (void)ops, (void)state;
    return ORL_OK; /* set up by orl_pmdp_env_make; present so reset does not zero the state */
}

static void pmdp_env_close(void *state) {
    pmdp_env_state *s = state;
    orl_dynamics_work_free(s->work);
    s->work = NULL;
}

static void pmdp_env_reset(void *state, orl_rng *rng, float *obs) {
    pmdp_env_state *s = state;
    const orl_dynamics *d = s->d;
    const size_t S = (size_t)d->obs_dim;
    int64_t k = orl_rng_range(rng, 0, d->n_starts - 1);
    s->member = (int32_t)orl_rng_range(rng, 0, d->cfg.members - 1);
    s->halted = 0;
    memcpy(s->obs, d->starts + (size_t)k * S, S * sizeof(float));
    memcpy(obs, s->obs, S * sizeof(float));
}

static void pmdp_env_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                          float *next_obs, double *reward, int *terminated) {
    (void)rng, (void)act_idx;
    pmdp_env_state *s = state;
    const orl_dynamics *d = s->d;
    const int32_t S = d->obs_dim, A = d->act_dim, K = d->cfg.members;
    /* the action clipped to the bounds where finite, as pmdp.c does */
    for (int32_t j = 0; j < A; j++) {
        float a = act[j];
        if (!isnan(s->low[j]) && a < s->low[j]) a = s->low[j];
        if (!isnan(s->high[j]) && a > s->high[j]) a = s->high[j];
        s->act[j] = a;
    }
    orl_dynamics_predict(d, s->work, s->obs, s->act, NULL, 0, 1, s->next, s->rew, s->done);
    orl_dynamics_disagreement(d, s->next, 1, &s->dis);
    const float *own = s->next + (size_t)s->member * (size_t)S;
    float rew = s->rew[s->member], done = s->done[s->member];
    if (s->cfg.reward_fn) {
        s->cfg.reward_fn(s->obs, s->act, own, 1, &s->env_rew, &s->env_done);
        rew = s->env_rew, done = s->env_done;
    }
    memcpy(next_obs, own, (size_t)S * sizeof(float));
    memcpy(s->obs, own, (size_t)S * sizeof(float));
    /* a non-finite prediction (the model driven far from the data) halts too: there is no
     * status to return from a step */
    int finite = isfinite(rew) && isfinite(s->dis);
    for (int32_t i = 0; i < S; i++) finite = finite && isfinite(own[i]);
    if (!finite || (K > 1 && (double)s->dis > s->threshold)) {
        /* HALT: this step's reward plus the penalty once, then the episode is over */
        *reward = (double)(float)((double)rew + s->cfg.halt_reward);
        *terminated = 1;
        s->halted = 1;
        return;
    }
    *reward = (double)rew;
    *terminated = s->cfg.use_done && done > 0.5f;
}

/* the episode's state as bytes: the member, the halt flag and the current state (S); the rest
 * is the model's (constant) or scratch rewritten by every step */
typedef struct pmdp_env_episode {
    int32_t member, halted;
    float obs[ORL_ENV_MAX_OBS];
} pmdp_env_episode;

static size_t pmdp_env_state_bytes(const void *state) {
    (void)state;
    return sizeof(pmdp_env_episode);
}

static void pmdp_env_state_get(const void *state, void *out) {
    const pmdp_env_state *s = state;
    pmdp_env_episode e;
    memset(&e, 0, sizeof e);
    e.member = s->member;
    e.halted = s->halted;
    memcpy(e.obs, s->obs, sizeof e.obs);
    memcpy(out, &e, sizeof e);
}

static void pmdp_env_state_set(void *state, const void *in) {
    pmdp_env_state *s = state;
    pmdp_env_episode e;
    memcpy(&e, in, sizeof e);
    s->member = e.member;
    s->halted = e.halted;
    memcpy(s->obs, e.obs, sizeof e.obs);
}

/* one allocation: the environment, its ops table (the spec is the model's), the state, the
 * members' outputs */
orl_status orl_pmdp_env_make(const orl_dynamics *d, const orl_pmdp_config *cfg,
                             const float *act_low, const float *act_high, orl_env **out) {
    *out = NULL;
    if (d->action_kind != ORL_ACTION_KIND_CONTINUOUS)
        ORL_FAIL(ORL_ERR_INPUT, "pmdp env: the model's actions are discrete (continuous only)");
    if (d->obs_dim > ORL_ENV_MAX_OBS || d->act_dim > ORL_ENV_MAX_ACT)
        ORL_FAIL(ORL_ERR_INPUT,
                 "pmdp env: %d observation and %d action dimensions (at most %d, %d)", d->obs_dim,
                 d->act_dim, ORL_ENV_MAX_OBS, ORL_ENV_MAX_ACT);
    if (d->n_starts < 1) ORL_FAIL(ORL_ERR_INPUT, "pmdp env: the model has no start states");
    double thr = cfg->threshold > 0.0 ? cfg->threshold : d->threshold;
    if (!(thr > 0.0) && d->cfg.members > 1)
        ORL_FAIL(ORL_ERR_INPUT, "pmdp env: the disagreement threshold %g is not positive", thr);
    int64_t horizon = cfg->horizon > 0 ? cfg->horizon : d->horizon;
    if (horizon < 1 || horizon > INT32_MAX)
        ORL_FAIL(ORL_ERR_INPUT, "pmdp env: horizon %lld", (long long)horizon);
    const size_t K = (size_t)d->cfg.members, S = (size_t)d->obs_dim;
    size_t head = sizeof(orl_env) + sizeof(orl_env_ops) + sizeof(pmdp_env_state);
    head = (head + 63) / 64 * 64;
    size_t bytes = head + (K * S + 2 * K) * sizeof(float);
    char *mem = calloc(1, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "pmdp env: cannot allocate %zu bytes", bytes);
    orl_env *env = (orl_env *)(void *)mem;
    orl_env_ops *ops = (orl_env_ops *)(void *)(env + 1);
    pmdp_env_state *s = (pmdp_env_state *)(void *)(ops + 1);
    float *tail = (float *)(void *)(mem + head);
    s->next = tail, s->rew = tail + K * S, s->done = s->rew + K;

    orl_env_spec *sp = &ops->spec;
    snprintf(sp->id, sizeof sp->id, "pmdp:%.42s", d->env_id[0] ? d->env_id : "model");
    sp->obs_dim = d->obs_dim;
    sp->action_kind = ORL_ACTION_KIND_CONTINUOUS;
    sp->act_dim = d->act_dim;
    for (int32_t i = 0; i < d->obs_dim; i++) sp->obs_low[i] = -INFINITY, sp->obs_high[i] = INFINITY;
    for (int32_t j = 0; j < d->act_dim; j++) {
        s->low[j] = act_low ? act_low[j] : NAN;
        s->high[j] = act_high ? act_high[j] : NAN;
        sp->act_low[j] = isnan(s->low[j]) ? -INFINITY : s->low[j];
        sp->act_high[j] = isnan(s->high[j]) ? INFINITY : s->high[j];
    }
    sp->max_episode_steps = (int32_t)horizon;
    sp->gamma = isfinite(d->gamma) ? d->gamma : 0.99;
    ops->state_size = sizeof(pmdp_env_state);
    ops->reset = pmdp_env_reset;
    ops->step = pmdp_env_step;
    ops->open = pmdp_env_open;
    ops->close = pmdp_env_close;
    ops->state_bytes = pmdp_env_state_bytes;
    ops->state_get = pmdp_env_state_get;
    ops->state_set = pmdp_env_state_set;
    env->ops = ops;
    env->state = s;
    s->d = d;
    s->cfg = *cfg;
    s->threshold = thr;
    orl_status st = orl_dynamics_work_create(d, 1, &s->work);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    orl_env_seed(env, 0);
    *out = env;
    return ORL_OK;
}

int orl_pmdp_env_halted(const orl_env *env) {
    if (env->ops->step != pmdp_env_step) return -1;
    return ((const pmdp_env_state *)env->state)->halted;
}

int32_t orl_pmdp_env_member(const orl_env *env) {
    if (env->ops->step != pmdp_env_step) return -1;
    return ((const pmdp_env_state *)env->state)->member;
}
