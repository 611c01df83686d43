/* Rollouts of a policy in a dynamics ensemble (include/orl/dynamics.h,
 * orl_dynamics_policy_returns): what model-based OPE (ope/mb.c) averages. Each member is rolled
 * on its own predictions, all starts and members in one batched prediction and one batched
 * policy call per step; no truncation by disagreement (that is MOReL's pessimistic MDP, not an
 * estimate of the policy's value in the model). Buffers are allocated once per call, none in
 * the step loop. */
#include "models/dynamics_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256 /* rows per member of one batched step */

orl_status orl_dynamics_policy_returns(const orl_dynamics *d, const orl_policy *p,
                                       const float *starts, int64_t n_starts, int32_t rollouts,
                                       double gamma, int64_t horizon, orl_policy_mode mode,
                                       orl_rng *rng, double *returns, int64_t *steps) {
    if (steps) *steps = 0;
    ORL_TRY(orl_policy_check_dims(p, d->obs_dim, d->act_dim, d->action_kind, d->n_actions));
    if (horizon < 1)
        ORL_FAIL(ORL_ERR_INPUT, "model rollouts: horizon %lld < 1", (long long)horizon);
    if (!(gamma >= 0.0 && gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "model rollouts: gamma %g outside [0, 1]", gamma);
    if (rollouts < 1) ORL_FAIL(ORL_ERR_INPUT, "model rollouts: rollouts %d < 1", rollouts);
    if (n_starts < 1) ORL_FAIL(ORL_ERR_INPUT, "model rollouts: no start states");
    size_t K = (size_t)d->cfg.members, S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    int discrete = d->action_kind == ORL_ACTION_KIND_DISCRETE;
    int64_t total = n_starts * rollouts; /* episodes per member */
    int32_t chunk = (int32_t)(total < CHUNK ? total : CHUNK);
    size_t KB = K * (size_t)chunk;

    orl_dynamics_work *w = NULL;
    orl_policy_work *pw = NULL;
    orl_status st = orl_dynamics_work_create(d, chunk, &w);
    if (st == ORL_OK) st = orl_policy_work_create(p, (int32_t)KB, &pw);
    /* state, next (KB, S), act (KB, A), rew, done (KB), idx (KB), alive (KB), ret, disc (KB) */
    size_t bytes = (2 * KB * S + KB * A + 2 * KB) * sizeof(float) + KB * sizeof(int32_t) + KB +
                   2 * KB * sizeof(double) + 64;
    char *buf = st == ORL_OK ? malloc(bytes) : NULL;
    if (st == ORL_OK && !buf) st = orl_error_set(ORL_ERR_NOMEM, "model rollouts: buffers");
    if (st != ORL_OK) goto done;
    double *ret = (double *)(void *)buf, *disc = ret + KB;
    float *state = (float *)(void *)(disc + KB), *next = state + KB * S, *act = next + KB * S;
    float *rew = act + KB * A, *pdone = rew + KB;
    int32_t *idx = (int32_t *)(void *)(pdone + KB);
    uint8_t *alive = (uint8_t *)(void *)(idx + KB);
    int64_t n_steps = 0;

    for (int64_t e0 = 0; e0 < total; e0 += chunk) {
        int32_t B = (int32_t)(total - e0 < chunk ? total - e0 : chunk);
        size_t b_ = (size_t)B, kb = K * b_;
        for (size_t k = 0; k < K; k++)
            for (size_t b = 0; b < b_; b++) {
                int64_t s0 = (e0 + (int64_t)b) / rollouts;
                memcpy(state + (k * b_ + b) * S, starts + (size_t)s0 * S, S * sizeof(float));
            }
        for (size_t r = 0; r < kb; r++) ret[r] = 0.0, disc[r] = 1.0, alive[r] = 1;
        size_t n_alive = kb;
        for (int64_t t = 0; t < horizon && n_alive > 0; t++) {
            ORL_TRY_GOTO(st, done,
                         orl_policy_act(p, pw, state, (int32_t)kb, mode, rng, discrete ? NULL : act,
                                        discrete ? idx : NULL));
            orl_dynamics_predict(d, w, state, discrete ? NULL : act, discrete ? idx : NULL, 1, B,
                                 next, rew, pdone);
            for (size_t r = 0; r < kb; r++) {
                if (!alive[r]) continue;
                n_steps++;
                for (size_t j = 0; j < S; j++)
                    if (!isfinite(next[r * S + j]))
                        ORL_FAIL_GOTO(st, done, ORL_ERR_NUMERIC,
                                      "model rollouts: member %zu's prediction at step %lld is "
                                      "not finite (the policy drives the model far from the "
                                      "data)",
                                      r / b_, (long long)t);
                ret[r] += disc[r] * (double)rew[r];
                disc[r] *= gamma;
                memcpy(state + r * S, next + r * S, S * sizeof(float));
                if (pdone[r] > 0.5f) alive[r] = 0, n_alive--;
            }
        }
        for (size_t k = 0; k < K; k++)
            for (size_t b = 0; b < b_; b++)
                returns[(size_t)(e0 + (int64_t)b) * K + k] = ret[k * b_ + b];
    }
    if (steps) *steps = n_steps;
done:
    free(buf);
    orl_policy_work_free(pw);
    orl_dynamics_work_free(w);
    return st;
}
