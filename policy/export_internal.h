/* What the two exports (export.c: C source; export_onnx.c: ONNX) share: the parts of a policy
 * they write. Internal to policy/. */
#ifndef ORL_POLICY_EXPORT_INTERNAL_H
#define ORL_POLICY_EXPORT_INTERNAL_H

#include "orl/policy.h"

typedef struct orl_export_view {
    const orl_mlp *net;
    const orl_normalizer *nm;
    orl_policy_head head; /* categorical for argmax-Q (its argmax is the greedy action) */
    const char *type;     /* "mlp" or "argmax_q" */
} orl_export_view;

/* the network, normaliser and head of p; ORL_ERR_UNSUPPORTED for a type other than MLP and
 * argmax-Q, ORL_ERR_INPUT for a deterministic head without finite action bounds. flag ("--c",
 * "--onnx") names the export in messages. */
orl_status orl_export_view_of(orl_policy *p, const char *flag, orl_export_view *v);

#endif
