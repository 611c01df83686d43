/* The tabular softmax policy (tabular_policy.h): one allocation holding the policy, its
 * parameters and its configuration text; act, logp, save and load; and the reader of softmax
 * parameter tables. Nothing is allocated after create/work_create. Values are tabular.h's. */
#include "orl/tabular_policy.h"
#include "orl/tabular.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_CAP 1024
#define ENV_CAP    128

typedef struct tabular {
    int32_t n_states;  /* S: observations are one-hot of this size */
    int32_t n_actions; /* n */
    char env[ENV_CAP]; /* "" when not tied to an environment */
    float *theta;      /* (n_actions, n_states) */
} tabular;

/* the one allocation: the policy, the table, the config text, then theta */
typedef struct tabular_block {
    orl_policy policy;
    tabular t;
    char config[CONFIG_CAP];
} tabular_block;

static const tabular *tabular_of(const orl_policy *p) {
    return (const tabular *)p->impl;
}

static orl_status tabular_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    (void)p;
    int32_t *w = malloc(sizeof *w);
    if (!w) ORL_FAIL(ORL_ERR_NOMEM, "tabular policy work");
    *w = max_batch;
    *scratch = w;
    return ORL_OK;
}

static void tabular_work_free(void *scratch) {
    free(scratch);
}

/* the state of a one-hot observation, or -1 */
static int32_t state_of(const tabular *t, const float *obs) {
    int32_t s = -1;
    for (int32_t i = 0; i < t->n_states; i++) {
        if (obs[i] == 1.0f && s < 0)
            s = i;
        else if (obs[i] != 0.0f)
            return -1;
    }
    return s;
}

static orl_status not_one_hot(const orl_policy *p, int32_t row) {
    ORL_FAIL(ORL_ERR_INPUT,
             "tabular policy%s%s: observation %d is not a one-hot vector of %d states",
             p->source[0] ? " " : "", p->source, row, tabular_of(p)->n_states);
}

/* log pi(. | s) into logp (n_actions), in double */
static void log_probs(const tabular *t, int32_t s, double *logp) {
    double top = -INFINITY;
    for (int32_t a = 0; a < t->n_actions; a++) {
        logp[a] = (double)t->theta[(size_t)a * (size_t)t->n_states + (size_t)s];
        if (logp[a] > top) top = logp[a];
    }
    double sum = 0.0;
    for (int32_t a = 0; a < t->n_actions; a++) sum += exp(logp[a] - top);
    double lse = top + log(sum);
    for (int32_t a = 0; a < t->n_actions; a++) logp[a] -= lse;
}

static orl_status tabular_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                              orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    (void)scratch;
    (void)act;
    const tabular *t = tabular_of(p);
    double lp[ORL_TABULAR_POLICY_MAX_ACTIONS], pr[ORL_TABULAR_POLICY_MAX_ACTIONS];
    for (int32_t i = 0; i < batch; i++) {
        int32_t s = state_of(t, obs + (size_t)i * (size_t)t->n_states);
        if (s < 0) return not_one_hot(p, i);
        log_probs(t, s, lp);
        int32_t best = 0;
        for (int32_t a = 1; a < t->n_actions; a++)
            if (lp[a] > lp[best]) best = a;
        if (mode == ORL_POLICY_MODE_SAMPLE) {
            for (int32_t a = 0; a < t->n_actions; a++) pr[a] = exp(lp[a]);
            best = orl_rng_categorical(rng, pr, t->n_actions);
        }
        act_idx[i] = best;
    }
    return ORL_OK;
}

static orl_status tabular_logp(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                               const float *act, const int32_t *act_idx, double *logp) {
    (void)scratch;
    (void)act;
    const tabular *t = tabular_of(p);
    double lp[ORL_TABULAR_POLICY_MAX_ACTIONS];
    for (int32_t i = 0; i < batch; i++) {
        int32_t s = state_of(t, obs + (size_t)i * (size_t)t->n_states);
        if (s < 0) return not_one_hot(p, i);
        log_probs(t, s, lp);
        logp[i] = lp[act_idx[i]];
    }
    return ORL_OK;
}

static orl_status tabular_save(const orl_policy *p, orl_policy_file *f) {
    const tabular *t = tabular_of(p);
    ORL_TRY(orl_policy_file_put_floats(f, "tabular_theta", t->theta,
                                       (int64_t)t->n_states * t->n_actions));
    ORL_TRY(orl_policy_file_put_ints(f, "tabular_n_states", &t->n_states, 1));
    return orl_policy_file_put_text(f, "tabular_env", t->env);
}

static void tabular_free(orl_policy *p) {
    free(p);
}

static orl_status tabular_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out);

static const orl_policy_ops tabular_ops = {
    .type = "tabular",
    .work_create = tabular_work_create,
    .work_free = tabular_work_free,
    .act = tabular_act,
    .logp = tabular_logp,
    .save = tabular_save,
    .load = tabular_load,
    .free = tabular_free,
};

const orl_policy_ops *orl_tabular_policy_ops(void) {
    return &tabular_ops;
}

int orl_tabular_policy_is(const orl_policy *p) {
    return p && p->ops == &tabular_ops;
}

const float *orl_tabular_policy_theta(const orl_policy *p) {
    return orl_tabular_policy_is(p) ? tabular_of(p)->theta : NULL;
}

/* builds the policy; theta_f (float) or theta_d (double) gives the parameters */
static orl_status build(int32_t n_states, int32_t n_actions, const float *theta_f,
                        const double *theta_d, const char *env_id, const char *config,
                        orl_policy **out) {
    *out = NULL;
    if (n_states < 1 || n_states > ORL_TABULAR_POLICY_MAX_STATES || n_actions < 2 ||
        n_actions > ORL_TABULAR_POLICY_MAX_ACTIONS)
        ORL_FAIL(ORL_ERR_INPUT,
                 "tabular policy: %d states and %d actions, expected 1..%d states and 2..%d "
                 "actions",
                 n_states, n_actions, ORL_TABULAR_POLICY_MAX_STATES,
                 ORL_TABULAR_POLICY_MAX_ACTIONS);
    size_t n = (size_t)n_states * (size_t)n_actions;
    for (size_t i = 0; i < n; i++) {
        double x = theta_f ? (double)theta_f[i] : theta_d[i];
        if (!isfinite(x) || !isfinite((float)x))
            ORL_FAIL(ORL_ERR_INPUT, "tabular policy: theta[%zu] = %g is not a finite float32", i,
                     x);
    }
    tabular_block *blk = calloc(1, sizeof *blk + n * sizeof(float));
    if (!blk) ORL_FAIL(ORL_ERR_NOMEM, "tabular policy: %zu parameters", n);
    tabular *t = &blk->t;
    t->n_states = n_states;
    t->n_actions = n_actions;
    snprintf(t->env, sizeof t->env, "%s", env_id ? env_id : "");
    t->theta = (float *)(blk + 1);
    for (size_t i = 0; i < n; i++) t->theta[i] = theta_f ? theta_f[i] : (float)theta_d[i];
    snprintf(blk->config, sizeof blk->config, "%s", config);

    orl_policy *p = &blk->policy;
    p->ops = &tabular_ops;
    p->impl = t;
    snprintf(p->algorithm, sizeof p->algorithm, "tabular-softmax");
    p->config_json = blk->config;
    p->obs_dim = n_states;
    p->act_dim = 1;
    p->action_kind = ORL_ACTION_KIND_DISCRETE;
    p->n_actions = n_actions;
    p->deterministic = 0;
    *out = p;
    return ORL_OK;
}

/* the configuration JSON; names are written with quotes and backslashes escaped */
static void make_config(char *buf, size_t cap, const char *env_id, const char *table,
                        int32_t n_rows) {
    char esc[2][256];
    const char *src[2] = {env_id ? env_id : "", table ? table : ""};
    for (int k = 0; k < 2; k++) {
        size_t j = 0;
        for (const char *c = src[k]; *c && j + 3 < sizeof esc[k]; c++) {
            if (*c == '"' || *c == '\\') esc[k][j++] = '\\';
            esc[k][j++] = (unsigned char)*c < 0x20 ? ' ' : *c;
        }
        esc[k][j] = '\0';
    }
    snprintf(buf, cap, "{\"env\": \"%s\", \"table\": \"%s\", \"rows\": %d}", esc[0], esc[1],
             n_rows);
}

orl_status orl_tabular_policy_create(int32_t n_states, int32_t n_actions, const double *theta,
                                     const char *env_id, const char *table_name, int32_t n_rows,
                                     orl_policy **out) {
    assert(theta && out);
    char config[CONFIG_CAP];
    make_config(config, sizeof config, env_id, table_name, n_rows);
    return build(n_states, n_actions, NULL, theta, env_id, config, out);
}

static orl_status tabular_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out) {
    const char *path = orl_policy_file_path(f);
    int32_t n_states;
    char env[ENV_CAP];
    ORL_TRY(orl_policy_file_get_ints(f, "tabular_n_states", &n_states, 1));
    ORL_TRY(orl_policy_file_get_text(f, "tabular_env", env, sizeof env));
    if (info->action_kind != ORL_ACTION_KIND_DISCRETE || info->obs_dim != n_states ||
        n_states < 1 || n_states > ORL_TABULAR_POLICY_MAX_STATES || info->n_actions < 2 ||
        info->n_actions > ORL_TABULAR_POLICY_MAX_ACTIONS)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: a tabular policy needs discrete actions (2..%d) and obs_dim = "
                 "tabular_n_states (1..%d); the file has %s actions (%d), obs_dim %d, "
                 "tabular_n_states %d",
                 path, ORL_TABULAR_POLICY_MAX_ACTIONS, ORL_TABULAR_POLICY_MAX_STATES,
                 info->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous",
                 info->n_actions, info->obs_dim, n_states);
    int64_t n = (int64_t)n_states * info->n_actions, len;
    ORL_TRY(orl_policy_file_length(f, "tabular_theta", &len));
    if (len != n)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'tabular_theta': %lld numbers, expected %lld", path,
                 (long long)len, (long long)n);
    float *theta = malloc((size_t)n * sizeof *theta);
    if (!theta) ORL_FAIL(ORL_ERR_NOMEM, "%s: tabular_theta", path);
    orl_status st = orl_policy_file_get_floats(f, "tabular_theta", theta, n, 0);
    if (st == ORL_OK) {
        const char *config = info->config_json ? info->config_json : "{}";
        if (strlen(config) >= CONFIG_CAP)
            st = orl_error_set(ORL_ERR_FORMAT, "%s: key 'config': longer than %d bytes", path,
                               CONFIG_CAP - 1);
        else
            st = build(n_states, info->n_actions, theta, NULL, env, config, out);
    }
    free(theta);
    if (st == ORL_OK) snprintf((*out)->algorithm, sizeof(*out)->algorithm, "%s", info->algorithm);
    return st;
}

/* ---- tables ---- */

orl_status orl_tabular_policy_from_file(const char *path, const char *env_id, orl_policy **out,
                                        int32_t *n_rows) {
    assert(path && env_id && out);
    *out = NULL;
    orl_tabular_model m;
    ORL_TRY(orl_tabular_model_get(env_id, &m));
    int32_t n_a = m.n_actions, n_s = m.n_states;
    double theta_in[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_ACTIONS];
    int64_t cap = (int64_t)n_s * n_a, count = 0;

    orl_status st = ORL_OK;
    ORL_TRY_GOTO(st, done, orl_tabular_read_numbers(path, theta_in, cap, &count));

    /* R rows: all states, or the leading non-absorbing ones */
    if (count == 0 || count % n_a != 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                      "%s: %lld numbers, expected %d actions x R states (R = %d, or fewer when "
                      "the states left out are absorbing)",
                      path, (long long)count, n_a, n_s);
    int32_t rows = (int32_t)(count / n_a);
    for (int32_t s = rows; s < n_s; s++)
        if (!m.absorbing[s])
            ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                          "%s: %lld numbers give %d rows of %d actions, but state %d of %s is not "
                          "absorbing (expected %d rows)",
                          path, (long long)count, rows, n_a, s, env_id, n_s);

    /* theta[a * n_s + s], padded with 0 for the absorbing states left out */
    double theta[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_ACTIONS];
    for (int32_t a = 0; a < n_a; a++)
        for (int32_t s = 0; s < n_s; s++)
            theta[a * n_s + s] = s < rows ? theta_in[a * rows + s] : 0.0;
    const char *base = strrchr(path, '/');
    ORL_TRY_GOTO(
        st, done,
        orl_tabular_policy_create(n_s, n_a, theta, env_id, base ? base + 1 : path, rows, out));
    if (n_rows) *n_rows = rows;
done:
    return st;
}
