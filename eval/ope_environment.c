/* orl_eval_ope_environment: what orl_ope_run (ope/, a room below this one) needs to know of a
 * dataset's environment, taken from the registry and the tabular models of eval/: whether it is
 * registered, its exact tabular model, and the range of its discounted returns (exact by
 * dynamic programming for tabular environments, else its reward bounds over its time limit). */
#include "orl/env.h"
#include "orl/eval.h"
#include "orl/tabular.h"

#include <math.h>
#include <string.h>

/* the smallest and largest discounted return from the start state over every action sequence
 * of at most the time limit: finite-horizon min/max backward induction on the model */
static void tabular_return_range(const orl_tabular_model *m, double gamma, double *lo,
                                 double *hi) {
    double vmin[2][ORL_TABULAR_MAX_STATES], vmax[2][ORL_TABULAR_MAX_STATES];
    const int32_t S = m->n_states, A = m->n_actions;
    for (int32_t s = 0; s < S; s++) vmin[0][s] = vmax[0][s] = 0.0;
    int cur = 0;
    for (int32_t h = 1; h <= m->max_episode_steps; h++) {
        int nxt = 1 - cur;
        for (int32_t s = 0; s < S; s++) {
            if (m->absorbing[s]) {
                vmin[nxt][s] = vmax[nxt][s] = 0.0;
                continue;
            }
            double a_min = INFINITY, a_max = -INFINITY;
            for (int32_t a = 0; a < A; a++) {
                int32_t k = s * A + a;
                double cont = m->ends[k] ? 0.0 : gamma;
                a_min = fmin(a_min, m->reward[k] + cont * vmin[cur][m->next[k]]);
                a_max = fmax(a_max, m->reward[k] + cont * vmax[cur][m->next[k]]);
            }
            vmin[nxt][s] = a_min;
            vmax[nxt][s] = a_max;
        }
        cur = nxt;
    }
    *lo = vmin[cur][m->start];
    *hi = vmax[cur][m->start];
}

orl_status orl_eval_return_range(const char *env_id, double gamma, double *lo, double *hi) {
    if (!(gamma >= 0.0 && gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "return range of %s: gamma %g", env_id, gamma);
    orl_tabular_model m;
    if (orl_tabular_model_get(env_id, &m) == ORL_OK) {
        tabular_return_range(&m, gamma, lo, hi);
        if (!(*hi > *lo)) *hi = *lo + 1.0;
        return ORL_OK;
    }
    orl_error_clear();
    orl_env *env = NULL;
    ORL_TRY(orl_env_make(env_id, &env));
    orl_env_spec spec = *orl_env_get_spec(env);
    orl_env_free(env);
    if (!spec.reward_bounded)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s declares no reward bounds", env_id);
    orl_ope_return_range r;
    ORL_TRY(orl_ope_return_range_from_rewards(spec.reward_min, spec.reward_max, gamma,
                                              spec.max_episode_steps, &r));
    *lo = r.lo;
    *hi = r.hi;
    return ORL_OK;
}

void orl_eval_ope_environment(const char *env_id, orl_ope_environment *out) {
    memset(out, 0, sizeof *out);
    if (!env_id || !env_id[0]) return;
    for (int32_t i = 0; i < orl_env_count(); i++)
        out->registered |= strcmp(orl_env_id(i), env_id) == 0;
    if (out->registered) out->return_range = orl_eval_return_range;
    orl_tabular_model m;
    if (orl_tabular_model_get(env_id, &m) == ORL_OK) {
        out->tabular = 1;
        out->n_states = m.n_states;
        out->n_actions = m.n_actions;
        out->max_episode_steps = m.max_episode_steps;
        out->policy_probs = orl_tabular_policy_probs;
    }
    orl_error_clear();
}
