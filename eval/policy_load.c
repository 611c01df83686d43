/* orl_policy_open: the one loader of a POLICY argument (a policy file of any type the project
 * knows, or a builtin:ENV/LEVEL behaviour), with the one table of policy types. It lives in
 * eval/ because that is the lowest room that sees every implementation (the MLP policy of
 * policy/, the builtin behaviours and the tabular policy of eval/). A new policy type (BCQ's
 * generative + perturbation + critic, argmax-Q) adds one line to the table. It does not check
 * the policy against an environment or a dataset: the callers do (orl_policy_check_dims). */
#include "orl/behavior.h"
#include "orl/eval.h"
#include "orl/tabular_policy.h"

#include <stdio.h>
#include <string.h>

static const orl_policy_ops *mlp_ops(void) {
    return &orl_policy_mlp_ops;
}

/* every policy type a file may hold: its policy_type and its implementation */
static const struct policy_type {
    const char *type;
    const orl_policy_ops *(*ops)(void);
} policy_types[] = {
    {"mlp", mlp_ops},
    {"builtin", orl_behavior_ops},
    {"tabular", orl_tabular_policy_ops},
    {"argmax_q", orl_policy_argmax_q_ops},
    {"bcq", orl_policy_bcq_ops},
    {"bcq_discrete", orl_policy_bcq_discrete_ops},
};

#define N_POLICY_TYPES ((int)(sizeof policy_types / sizeof policy_types[0]))

int32_t orl_policy_type_count(void) {
    return N_POLICY_TYPES;
}

const char *orl_policy_type_name(int32_t i) {
    return i >= 0 && i < N_POLICY_TYPES ? policy_types[i].type : NULL;
}

orl_status orl_policy_open(const char *name, orl_policy **out) {
    *out = NULL;
    if (strncmp(name, "builtin:", 8) == 0) return orl_behavior_create(name, out);
    const orl_policy_ops *ops[N_POLICY_TYPES];
    for (int i = 0; i < N_POLICY_TYPES; i++) ops[i] = policy_types[i].ops();
    orl_status st = orl_policy_load_with(name, ops, N_POLICY_TYPES, out);
    if (st != ORL_ERR_UNSUPPORTED || !strstr(orl_error_message(), "'policy_type'")) return st;
    /* an unknown type: say which types this program reads (copy the detail first, the
     * message buffer is the one written to) */
    char detail[768], known[128] = "";
    snprintf(detail, sizeof detail, "%s", orl_error_message());
    for (int i = 0; i < N_POLICY_TYPES; i++) {
        size_t at = strlen(known);
        snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "", policy_types[i].type);
    }
    return orl_error_set(st, "%s (known types: %s)", detail, known);
}
