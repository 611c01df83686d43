/* orl_eval_ope_environment: what orl_ope_run (ope/, a room below this one) needs to know of a
 * dataset's environment, taken from the registry and the tabular models of eval/. */
#include "orl/eval.h"
#include "orl/tabular.h"

#include <string.h>

void orl_eval_ope_environment(const char *env_id, orl_ope_environment *out) {
    memset(out, 0, sizeof *out);
    if (!env_id || !env_id[0]) return;
    for (int32_t i = 0; i < orl_env_count(); i++)
        out->registered |= strcmp(orl_env_id(i), env_id) == 0;
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
