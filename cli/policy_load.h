/* Loading a policy named on the command line, shared by the verbs that evaluate policies. */
#ifndef ORL_CLI_POLICY_LOAD_H
#define ORL_CLI_POLICY_LOAD_H

#include "orl/policy.h"

/* loads name: "builtin:ENV/LEVEL" (a builtin behaviour of behavior.h) or a policy file of any
 * type the program knows (mlp, builtin, tabular). *builtin (may be NULL) is set to 1 for the
 * builtin: form. Statuses of orl_behavior_create and orl_policy_load_with. */
orl_status cli_policy_load(const char *name, orl_policy **out, int *builtin);

#endif
