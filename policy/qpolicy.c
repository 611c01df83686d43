/* The argmax-Q policy (policy.h, policy_type "argmax_q"): a Q-network with one output per
 * action, acting greedily, epsilon-greedily or by a softmax over Q / T, with exact
 * log-probabilities.
 *
 * The Q-network and its normaliser are an MLP policy with a categorical head held inside (its
 * logits are the Q-values), so the network keys are written, read and checked by the MLP
 * policy's own save and load; this file adds the mode keys and the action rules. The wrapper
 * is one allocation (the policy, its state and the config text); the inner MLP policy is its
 * own. Acting writes only into the caller's work. Not here: training (algorithms/cql.c). */
#include "orl/policy.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QP_ALIGN 64

static const char *const mode_names[ORL_ARGMAX_Q_MODE_COUNT] = {
    [ORL_ARGMAX_Q_MODE_GREEDY] = "greedy",
    [ORL_ARGMAX_Q_MODE_EPSILON] = "epsilon",
    [ORL_ARGMAX_Q_MODE_SOFTMAX] = "softmax",
};

const char *orl_argmax_q_mode_name(orl_argmax_q_mode mode) {
    if ((int)mode < 0 || mode >= ORL_ARGMAX_Q_MODE_COUNT) return NULL;
    return mode_names[mode];
}

typedef struct qpolicy {
    orl_policy *inner; /* the MLP policy (categorical head) holding the Q-network */
    orl_argmax_q_mode mode;
    float epsilon;
    float temperature;
} qpolicy;

typedef struct qwork {
    orl_mlp_work net;
    float *x;     /* (B, S) normalised observations */
    double *logp; /* (n) one row's log-probabilities */
    double *prob; /* (n) one row's probabilities (softmax sampling) */
    int32_t n;    /* n_actions */
} qwork;

static size_t align_up(size_t n) {
    return (n + QP_ALIGN - 1) / QP_ALIGN * QP_ALIGN;
}

static const qpolicy *qpolicy_of(const orl_policy *p) {
    return (const qpolicy *)p->impl;
}

static orl_status q_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    const qpolicy *q = qpolicy_of(p);
    const orl_mlp *net = orl_policy_mlp_network(q->inner);
    size_t b = (size_t)max_batch, s = (size_t)p->obs_dim, n = (size_t)p->n_actions;
    size_t bytes_x = align_up(b * s * sizeof(float)), bytes_row = align_up(n * sizeof(double));
    size_t total = align_up(sizeof(qwork)) + bytes_x + 2 * bytes_row;
    char *mem = aligned_alloc(QP_ALIGN, total);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "argmax-Q policy work: %zu bytes", total);
    qwork *w = (qwork *)(void *)mem;
    memset(w, 0, sizeof *w);
    char *at = mem + align_up(sizeof(qwork));
    w->x = (float *)(void *)at, at += bytes_x;
    w->logp = (double *)(void *)at, at += bytes_row;
    w->prob = (double *)(void *)at;
    w->n = p->n_actions;
    orl_status st = orl_mlp_work_init(&w->net, &net->cfg, max_batch);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    *scratch = w;
    return ORL_OK;
}

static void q_work_free(void *scratch) {
    qwork *w = scratch;
    if (!w) return;
    orl_mlp_work_free(&w->net);
    free(w);
}

/* Q (B, n) for obs (B, S): normalise, then forward */
static const float *q_forward(const orl_policy *p, qwork *w, const float *obs, int32_t batch) {
    const qpolicy *q = qpolicy_of(p);
    orl_policy *inner = q->inner;
    const orl_mlp *net = orl_policy_mlp_network(inner);
    orl_normalizer_apply(orl_policy_mlp_normalizer(inner), obs, batch, w->x);
    orl_mlp_forward(net, &w->net, w->x, batch, NULL);
    return w->net.out[net->cfg.n_layers - 1];
}

/* the first index of the row's maximum */
static int32_t row_argmax(const float *q, int32_t n) {
    int32_t best = 0;
    for (int32_t a = 1; a < n; a++)
        if (q[a] > q[best]) best = a;
    return best;
}

/* logp (n) of the row q (n) under the policy's mode, in double */
static void row_log_probs(const qpolicy *qp, const float *q, int32_t n, double *logp) {
    int32_t best = row_argmax(q, n);
    switch (qp->mode) {
    case ORL_ARGMAX_Q_MODE_GREEDY:
        for (int32_t a = 0; a < n; a++) logp[a] = a == best ? 0.0 : -INFINITY;
        break;
    case ORL_ARGMAX_Q_MODE_EPSILON: {
        double eps = (double)qp->epsilon, other = eps / (double)n;
        for (int32_t a = 0; a < n; a++) logp[a] = log(a == best ? 1.0 - eps + other : other);
        break;
    }
    case ORL_ARGMAX_Q_MODE_SOFTMAX:
    default: {
        double t = (double)qp->temperature, top = (double)q[best] / t, sum = 0.0;
        for (int32_t a = 0; a < n; a++) sum += exp((double)q[a] / t - top);
        double lse = top + log(sum);
        for (int32_t a = 0; a < n; a++) logp[a] = (double)q[a] / t - lse;
        break;
    }
    }
}

static orl_status q_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                        orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    (void)act;
    const qpolicy *qp = qpolicy_of(p);
    qwork *w = scratch;
    int32_t n = p->n_actions;
    const float *q = q_forward(p, w, obs, batch);
    int sample = mode == ORL_POLICY_MODE_SAMPLE && qp->mode != ORL_ARGMAX_Q_MODE_GREEDY;
    for (int32_t b = 0; b < batch; b++) {
        const float *row = q + (size_t)b * (size_t)n;
        int32_t best = row_argmax(row, n);
        if (sample && qp->mode == ORL_ARGMAX_Q_MODE_EPSILON) {
            /* one draw: u < eps is the uniform branch, and u / eps is uniform on [0, 1) there */
            double u = orl_rng_uniform(rng), eps = (double)qp->epsilon;
            if (u < eps) {
                int32_t a = (int32_t)(u / eps * (double)n);
                best = a < n ? a : n - 1;
            }
        } else if (sample) {
            row_log_probs(qp, row, n, w->logp);
            for (int32_t a = 0; a < n; a++) w->prob[a] = exp(w->logp[a]);
            best = orl_rng_categorical(rng, w->prob, n);
        }
        act_idx[b] = best;
    }
    return ORL_OK;
}

static orl_status q_logp(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                         const float *act, const int32_t *act_idx, double *logp) {
    (void)act;
    const qpolicy *qp = qpolicy_of(p);
    qwork *w = scratch;
    int32_t n = p->n_actions;
    const float *q = q_forward(p, w, obs, batch);
    for (int32_t b = 0; b < batch; b++) {
        const float *row = q + (size_t)b * (size_t)n;
        for (int32_t a = 0; a < n; a++)
            if (!isfinite(row[a]))
                ORL_FAIL(ORL_ERR_NUMERIC,
                         "argmax-Q policy logp: Q-value %d of row %d is not finite", a, b);
        row_log_probs(qp, row, n, w->logp);
        logp[b] = w->logp[act_idx[b]];
    }
    return ORL_OK;
}

static orl_status q_save(const orl_policy *p, orl_policy_file *f) {
    const qpolicy *qp = qpolicy_of(p);
    ORL_TRY(orl_policy_mlp_ops.save(qp->inner, f));
    ORL_TRY(orl_policy_file_put_text(f, "argmax_q_mode", mode_names[qp->mode]));
    ORL_TRY(orl_policy_file_put_floats(f, "argmax_q_epsilon", &qp->epsilon, 1));
    return orl_policy_file_put_floats(f, "argmax_q_temperature", &qp->temperature, 1);
}

static void q_free(orl_policy *p) {
    orl_policy_free(((qpolicy *)p->impl)->inner);
    free(p);
}

static orl_status q_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out);

static const orl_policy_ops argmax_q_ops = {
    .type = "argmax_q",
    .work_create = q_work_create,
    .work_free = q_work_free,
    .act = q_act,
    .logp = q_logp,
    .save = q_save,
    .load = q_load,
    .free = q_free,
};

const orl_policy_ops *orl_policy_argmax_q_ops(void) {
    return &argmax_q_ops;
}

static int is_argmax_q(const orl_policy *p) {
    return p && p->ops == &argmax_q_ops;
}

orl_mlp *orl_policy_argmax_q_network(orl_policy *p) {
    return is_argmax_q(p) ? orl_policy_mlp_network(((qpolicy *)p->impl)->inner) : NULL;
}

orl_normalizer *orl_policy_argmax_q_normalizer(orl_policy *p) {
    return is_argmax_q(p) ? orl_policy_mlp_normalizer(((qpolicy *)p->impl)->inner) : NULL;
}

int orl_policy_argmax_q_get(const orl_policy *p, orl_argmax_q_mode *mode, float *epsilon,
                            float *temperature) {
    if (!is_argmax_q(p)) return 0;
    const qpolicy *qp = qpolicy_of(p);
    if (mode) *mode = qp->mode;
    if (epsilon) *epsilon = qp->epsilon;
    if (temperature) *temperature = qp->temperature;
    return 1;
}

/* checks the mode's numbers; what names the caller (spec or file key) */
static orl_status check_mode(orl_argmax_q_mode mode, float epsilon, float temperature,
                             orl_status status, const char *what) {
    if ((int)mode < 0 || mode >= ORL_ARGMAX_Q_MODE_COUNT)
        ORL_FAIL(status, "%s: unknown argmax-Q mode %d", what, (int)mode);
    if (!(epsilon >= 0.0f && epsilon <= 1.0f))
        ORL_FAIL(status, "%s: argmax_q_epsilon %g, expected a number in [0, 1]", what,
                 (double)epsilon);
    if (!(temperature > 0.0f) || !isfinite(temperature))
        ORL_FAIL(status, "%s: argmax_q_temperature %g, expected a finite number > 0", what,
                 (double)temperature);
    return ORL_OK;
}

/* wraps inner (taken over, freed on failure) with the mode */
static orl_status wrap(orl_policy *inner, orl_argmax_q_mode mode, float epsilon, float temperature,
                       orl_policy **out) {
    size_t config_bytes = strlen(inner->config_json) + 1;
    size_t at_q = align_up(sizeof(orl_policy)), at_config = at_q + align_up(sizeof(qpolicy));
    char *mem = aligned_alloc(QP_ALIGN, align_up(at_config + config_bytes));
    if (!mem) {
        orl_policy_free(inner);
        ORL_FAIL(ORL_ERR_NOMEM, "argmax-Q policy");
    }
    memset(mem, 0, at_config);
    orl_policy *p = (orl_policy *)(void *)mem;
    qpolicy *qp = (qpolicy *)(void *)(mem + at_q);
    *qp = (qpolicy){inner, mode, epsilon, temperature};
    p->ops = &argmax_q_ops;
    p->impl = qp;
    snprintf(p->algorithm, sizeof p->algorithm, "%s", inner->algorithm);
    p->config_json = mem + at_config;
    memcpy(p->config_json, inner->config_json, config_bytes);
    p->obs_dim = inner->obs_dim;
    p->act_dim = 1;
    p->action_kind = ORL_ACTION_KIND_DISCRETE;
    p->n_actions = inner->n_actions;
    p->act_low = p->act_high = NULL;
    p->deterministic = 0; /* every mode has exact log-probabilities */
    *out = p;
    return ORL_OK;
}

orl_status orl_policy_argmax_q_create(const orl_policy_argmax_q_spec *spec,
                                      const orl_normalizer *obs_norm, const float *params,
                                      orl_rng *rng, orl_policy **out) {
    assert(spec && out);
    *out = NULL;
    if (spec->info.action_kind != ORL_ACTION_KIND_DISCRETE)
        ORL_FAIL(ORL_ERR_INPUT, "argmax-Q policy spec: action_kind must be discrete");
    ORL_TRY(check_mode(spec->mode, spec->epsilon, spec->temperature, ORL_ERR_INPUT,
                       "argmax-Q policy spec"));
    orl_policy_mlp_spec ms;
    memset(&ms, 0, sizeof ms);
    ms.info = spec->info;
    ms.head = ORL_POLICY_HEAD_CATEGORICAL;
    ms.mlp = spec->mlp;
    ms.log_std_min = -5.0f; /* unused by the categorical head; stored as the MLP policy does */
    ms.log_std_max = 2.0f;
    orl_policy *inner;
    ORL_TRY(orl_policy_mlp_create(&ms, obs_norm, params, rng, &inner));
    return wrap(inner, spec->mode, spec->epsilon, spec->temperature, out);
}

static orl_status q_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out) {
    const char *path = orl_policy_file_path(f);
    if (info->action_kind != ORL_ACTION_KIND_DISCRETE)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'action_kind': an argmax-Q policy is discrete", path);
    char text[32];
    ORL_TRY(orl_policy_file_get_text(f, "argmax_q_mode", text, sizeof text));
    int mode = -1;
    for (int i = 0; i < ORL_ARGMAX_Q_MODE_COUNT; i++)
        if (strcmp(text, mode_names[i]) == 0) mode = i;
    if (mode < 0)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: key 'argmax_q_mode': unknown mode '%s' (greedy, epsilon, softmax)", path,
                 text);
    float epsilon, temperature;
    ORL_TRY(orl_policy_file_get_floats(f, "argmax_q_epsilon", &epsilon, 1, 0));
    ORL_TRY(orl_policy_file_get_floats(f, "argmax_q_temperature", &temperature, 1, 0));
    char where[600];
    snprintf(where, sizeof where, "%s", path);
    ORL_TRY(check_mode((orl_argmax_q_mode)mode, epsilon, temperature, ORL_ERR_FORMAT, where));
    orl_policy *inner;
    ORL_TRY(orl_policy_mlp_ops.load(f, info, &inner));
    ORL_TRY(wrap(inner, (orl_argmax_q_mode)mode, epsilon, temperature, out));
    snprintf((*out)->algorithm, sizeof(*out)->algorithm, "%s", info->algorithm);
    return ORL_OK;
}
