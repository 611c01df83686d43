/* cli_policy_load: one way for every verb to turn a POLICY argument into an orl_policy. */
#include "cli/policy_load.h"
#include "orl/behavior.h"
#include "orl/tabular_policy.h"

#include <string.h>

orl_status cli_policy_load(const char *name, orl_policy **out, int *builtin) {
    int is_builtin = strncmp(name, "builtin:", 8) == 0;
    if (builtin) *builtin = is_builtin;
    if (is_builtin) return orl_behavior_create(name, out);
    const orl_policy_ops *ops[2] = {orl_behavior_ops(), orl_tabular_policy_ops()};
    return orl_policy_load_with(name, ops, 2, out);
}
