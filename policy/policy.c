/* The policy interface (argument checks around the ops table) and the MLP policy:
 * observation normaliser + orl_mlp + one head of orl/heads.h.
 *
 * The MLP policy is one allocation (the policy, its state, the config text, the bounds, the
 * normaliser statistics and the parameters), laid out by mlp_layout for create and load alike.
 * Acting writes only into the caller's orl_policy_work. Its file keys, beside the common ones
 * of policy/policy_file.c:
 *   head            text   "deterministic" | "gaussian" | "tanh_gaussian" | "categorical"
 *   mlp_activation  text   "none" | "relu" | "tanh" | "elu" | "silu"
 *   mlp_widths      int32 (L + 1)   widths[0] = S, widths[L] = the head's output width
 *   mlp_layer_norm  int32 (1)       0 or 1
 *   log_std_bounds  float32 (2)     [min, max] of the Gaussian heads' log-std
 *   obs_mean        float32 (S)
 *   obs_std         float32 (S)     > 0
 *   params          float32 (P)     P = orl_mlp_param_count(widths, layer_norm), finite
 * Not here: the HDF5 file itself (policy_file.c), training (algorithms/). */
#include "orl/heads.h"
#include "orl/policy.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_ALIGN 64
#define MAX_WIDTH    65536              /* widest layer a policy may have */
#define MAX_PARAMS   ((int64_t)1 << 26) /* floats in a policy's parameter buffer (256 MiB) */
#define MAX_CONFIG   65536              /* bytes of config JSON, NUL included */

struct orl_policy_work {
    const orl_policy *policy;
    int32_t max_batch;
    void *scratch; /* the implementation's */
};

/* ---- the interface ---- */

orl_status orl_policy_work_create(const orl_policy *p, int32_t max_batch, orl_policy_work **out) {
    assert(p && out);
    *out = NULL;
    if (max_batch < 1)
        ORL_FAIL(ORL_ERR_INPUT, "policy work: max_batch %d, expected >= 1", max_batch);
    orl_policy_work *w = calloc(1, sizeof *w);
    if (!w) ORL_FAIL(ORL_ERR_NOMEM, "policy work");
    w->policy = p;
    w->max_batch = max_batch;
    orl_status st = p->ops->work_create(p, max_batch, &w->scratch);
    if (st != ORL_OK) {
        free(w);
        return st;
    }
    *out = w;
    return ORL_OK;
}

void orl_policy_work_free(orl_policy_work *w) {
    if (!w) return;
    w->policy->ops->work_free(w->scratch);
    free(w);
}

/* the checks act and logp share: the batch fits the work, the observations are finite */
static orl_status check_call(const orl_policy *p, const orl_policy_work *w, const float *obs,
                             int32_t batch, const char *what) {
    assert(p && w && obs);
    if (w->policy != p)
        ORL_FAIL(ORL_ERR_INPUT, "policy %s: the work belongs to another policy", what);
    if (batch < 1 || batch > w->max_batch)
        ORL_FAIL(ORL_ERR_INPUT, "policy %s: batch %d, expected 1..%d (the work's max_batch)", what,
                 batch, w->max_batch);
    int64_t n = (int64_t)batch * p->obs_dim;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(obs[i]))
            ORL_FAIL(ORL_ERR_NUMERIC, "policy %s: observation %lld, dimension %lld is not finite",
                     what, (long long)(i / p->obs_dim), (long long)(i % p->obs_dim));
    return ORL_OK;
}

orl_status orl_policy_act(const orl_policy *p, orl_policy_work *w, const float *obs, int32_t batch,
                          orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    ORL_TRY(check_call(p, w, obs, batch, "act"));
    if (mode != ORL_POLICY_MODE_MEAN && mode != ORL_POLICY_MODE_SAMPLE)
        ORL_FAIL(ORL_ERR_INPUT, "policy act: unknown mode %d", (int)mode);
    if (mode == ORL_POLICY_MODE_SAMPLE && !rng)
        ORL_FAIL(ORL_ERR_INPUT, "policy act: sampling needs an rng");
    int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    if (discrete ? !act_idx : !act)
        ORL_FAIL(ORL_ERR_INPUT, "policy act: a %s policy writes %s, which is NULL",
                 discrete ? "discrete" : "continuous", discrete ? "act_idx" : "act");
    return p->ops->act(p, w->scratch, obs, batch, mode, rng, act, act_idx);
}

orl_status orl_policy_logp(const orl_policy *p, orl_policy_work *w, const float *obs, int32_t batch,
                           const float *act, const int32_t *act_idx, double *logp) {
    assert(logp);
    if (p->deterministic || !p->ops->logp)
        ORL_FAIL(ORL_ERR_UNSUPPORTED,
                 "policy%s%s (%s): deterministic, it has no log-probability; estimators that need "
                 "one (IS, WIS, DR) cannot score it",
                 p->source[0] ? " " : "", p->source, p->algorithm);
    ORL_TRY(check_call(p, w, obs, batch, "logp"));
    if (p->action_kind == ORL_ACTION_KIND_DISCRETE) {
        if (!act_idx) ORL_FAIL(ORL_ERR_INPUT, "policy logp: a discrete policy needs act_idx");
        for (int32_t b = 0; b < batch; b++)
            if (act_idx[b] < 0 || act_idx[b] >= p->n_actions)
                ORL_FAIL(ORL_ERR_INPUT, "policy logp: action %d of row %d outside [0, %d)",
                         act_idx[b], b, p->n_actions);
    } else {
        if (!act) ORL_FAIL(ORL_ERR_INPUT, "policy logp: a continuous policy needs act");
        int64_t n = (int64_t)batch * p->act_dim;
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(act[i]))
                ORL_FAIL(ORL_ERR_NUMERIC, "policy logp: action of row %lld is not finite",
                         (long long)(i / p->act_dim));
    }
    return p->ops->logp(p, w->scratch, obs, batch, act, act_idx, logp);
}

static const char *kind_name(orl_action_kind kind) {
    return kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous";
}

orl_status orl_policy_check_dims(const orl_policy *p, int32_t obs_dim, int32_t act_dim,
                                 orl_action_kind kind, int32_t n_actions) {
    assert(p);
    const char *name = p->source[0] ? p->source : "policy";
    if (p->obs_dim != obs_dim)
        ORL_FAIL(ORL_ERR_INPUT,
                 "%s: key 'obs_dim': the policy observes %d dimensions, the data has %d", name,
                 p->obs_dim, obs_dim);
    if (p->action_kind != kind)
        ORL_FAIL(ORL_ERR_INPUT, "%s: key 'action_kind': the policy's actions are %s, the data's %s",
                 name, kind_name(p->action_kind), kind_name(kind));
    if (kind == ORL_ACTION_KIND_CONTINUOUS && p->act_dim != act_dim)
        ORL_FAIL(ORL_ERR_INPUT,
                 "%s: key 'act_dim': the policy acts in %d dimensions, the data has %d", name,
                 p->act_dim, act_dim);
    if (kind == ORL_ACTION_KIND_DISCRETE && n_actions > 0 && p->n_actions != n_actions)
        ORL_FAIL(ORL_ERR_INPUT, "%s: key 'n_actions': the policy has %d actions, the data has %d",
                 name, p->n_actions, n_actions);
    return ORL_OK;
}

void orl_policy_free(orl_policy *p) {
    if (!p) return;
    p->ops->free(p);
}

/* ---- heads ---- */

static const char *const head_names[ORL_POLICY_HEAD_COUNT] = {
    [ORL_POLICY_HEAD_DETERMINISTIC] = "deterministic",
    [ORL_POLICY_HEAD_GAUSSIAN] = "gaussian",
    [ORL_POLICY_HEAD_TANH_GAUSSIAN] = "tanh_gaussian",
    [ORL_POLICY_HEAD_CATEGORICAL] = "categorical",
};

static const char *const activation_names[] = {"none", "relu", "tanh", "elu", "silu"};
#define N_ACTIVATIONS ((int)(sizeof activation_names / sizeof activation_names[0]))

const char *orl_policy_head_name(orl_policy_head head) {
    if ((int)head < 0 || head >= ORL_POLICY_HEAD_COUNT) return NULL;
    return head_names[head];
}

int32_t orl_policy_head_outputs(orl_policy_head head, int32_t act_dim, int32_t n_actions) {
    switch (head) {
    case ORL_POLICY_HEAD_DETERMINISTIC:
        return act_dim;
    case ORL_POLICY_HEAD_GAUSSIAN:
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
        return 2 * act_dim;
    case ORL_POLICY_HEAD_CATEGORICAL:
        return n_actions;
    default:
        return 0;
    }
}

/* ---- the MLP policy: layout ---- */

typedef struct mlp_policy {
    orl_policy_mlp_spec spec; /* info's pointers point into the policy's fields */
    orl_mlp net;              /* views into params */
    orl_normalizer norm;      /* views into the allocation: never orl_normalizer_free */
    orl_gaussian_head gauss;  /* lo/hi set for the tanh-squashed head only */
    void *mem;                /* the one allocation (it also holds the orl_policy) */
} mlp_policy;

typedef struct mlp_work {
    orl_mlp_work net;
    float *x;    /* (B, S) normalised observations */
    float *eps;  /* (B, A) noise of a tanh-Gaussian sample */
    float *logp; /* (B) */
} mlp_work;

static size_t align_up(size_t n) {
    return (n + POLICY_ALIGN - 1) / POLICY_ALIGN * POLICY_ALIGN;
}

/* bytes of the one allocation of an MLP policy; with mem, also sets the views */
static size_t mlp_layout(int32_t obs_dim, int32_t act_dim, int continuous, int64_t n_params,
                         size_t config_bytes, char *mem, orl_policy **pp, mlp_policy **mp) {
    size_t at = 0, s = (size_t)obs_dim, a = continuous ? (size_t)act_dim : 0;
    size_t at_policy = at;
    at += align_up(sizeof(orl_policy));
    size_t at_mlp = at;
    at += align_up(sizeof(mlp_policy));
    size_t at_config = at;
    at += align_up(config_bytes);
    size_t at_bounds = at;
    at += align_up(2 * a * sizeof(float));
    size_t at_norm = at;
    at += align_up(2 * s * sizeof(float));
    size_t at_params = at;
    at += align_up((size_t)n_params * sizeof(float));
    if (mem) {
        orl_policy *p = (orl_policy *)(void *)(mem + at_policy);
        mlp_policy *m = (mlp_policy *)(void *)(mem + at_mlp);
        p->impl = m;
        m->mem = mem;
        p->config_json = mem + at_config;
        float *bounds = (float *)(void *)(mem + at_bounds);
        p->act_low = continuous ? bounds : NULL;
        p->act_high = continuous ? bounds + a : NULL;
        float *norm = (float *)(void *)(mem + at_norm);
        m->norm.dim = obs_dim;
        m->norm.mean = norm;
        m->norm.std = norm + s;
        m->net.params = (float *)(void *)(mem + at_params);
        *pp = p;
        *mp = m;
    }
    return at;
}

/* ---- the MLP policy: checks ---- */

static int bounds_ok(float lo, float hi, int need_finite) {
    if (isnan(lo) && isnan(hi)) return !need_finite;
    return isfinite(lo) && isfinite(hi) && lo < hi;
}

/* checks everything of a spec but the parameters; *n_params receives P */
static orl_status check_spec(const orl_policy_mlp_spec *spec, int64_t *n_params) {
    const orl_policy_info *in = &spec->info;
    if (!in->algorithm || !in->algorithm[0] || strlen(in->algorithm) >= 64)
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: algorithm must be 1..63 bytes");
    const char *config = in->config_json ? in->config_json : "{}";
    if (strlen(config) >= MAX_CONFIG)
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: config_json of %zu bytes (at most %d)",
                 strlen(config), MAX_CONFIG - 1);
    json_error_t jerr;
    json_t *j = json_loads(config, 0, &jerr);
    int is_object = j && json_is_object(j);
    json_decref(j);
    if (!is_object)
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: config_json is not a JSON object (%s)",
                 j ? "another JSON value" : jerr.text);
    if (in->obs_dim < 1 || in->obs_dim > MAX_WIDTH)
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: obs_dim %d, expected 1..%d", in->obs_dim, MAX_WIDTH);
    if ((int)spec->head < 0 || spec->head >= ORL_POLICY_HEAD_COUNT)
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: unknown head %d", (int)spec->head);
    if (in->action_kind == ORL_ACTION_KIND_DISCRETE) {
        if (in->act_dim != 1)
            ORL_FAIL(ORL_ERR_INPUT, "policy spec: act_dim %d, discrete policies have 1",
                     in->act_dim);
        if (in->n_actions < 2 || in->n_actions > MAX_WIDTH)
            ORL_FAIL(ORL_ERR_INPUT, "policy spec: n_actions %d, expected 2..%d", in->n_actions,
                     MAX_WIDTH);
        if (spec->head != ORL_POLICY_HEAD_CATEGORICAL)
            ORL_FAIL(ORL_ERR_INPUT, "policy spec: head '%s' cannot act in a discrete space",
                     head_names[spec->head]);
    } else if (in->action_kind == ORL_ACTION_KIND_CONTINUOUS) {
        if (in->act_dim < 1 || in->act_dim > MAX_WIDTH)
            ORL_FAIL(ORL_ERR_INPUT, "policy spec: act_dim %d, expected 1..%d", in->act_dim,
                     MAX_WIDTH);
        if (in->n_actions != 0)
            ORL_FAIL(ORL_ERR_INPUT, "policy spec: n_actions %d, continuous policies have 0",
                     in->n_actions);
        if (spec->head == ORL_POLICY_HEAD_CATEGORICAL)
            ORL_FAIL(ORL_ERR_INPUT, "policy spec: head 'categorical' needs discrete actions");
        if (!in->act_low || !in->act_high)
            ORL_FAIL(ORL_ERR_INPUT, "policy spec: continuous policies need act_low and act_high");
        /* the tanh heads squash into the bounds, so they must be finite */
        int need_finite = spec->head != ORL_POLICY_HEAD_GAUSSIAN;
        for (int32_t i = 0; i < in->act_dim; i++)
            if (!bounds_ok(in->act_low[i], in->act_high[i], need_finite))
                ORL_FAIL(ORL_ERR_INPUT,
                         "policy spec: action %d bounds [%g, %g]: expected finite low < high%s", i,
                         (double)in->act_low[i], (double)in->act_high[i],
                         need_finite ? "" : " or both NaN (unbounded)");
    } else
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: unknown action kind %d", (int)in->action_kind);
    if (spec->head == ORL_POLICY_HEAD_GAUSSIAN || spec->head == ORL_POLICY_HEAD_TANH_GAUSSIAN)
        if (!isfinite(spec->log_std_min) || !isfinite(spec->log_std_max) ||
            !(spec->log_std_min < spec->log_std_max))
            ORL_FAIL(ORL_ERR_INPUT,
                     "policy spec: log_std bounds [%g, %g]: expected finite min < max",
                     (double)spec->log_std_min, (double)spec->log_std_max);

    const orl_mlp_config *cfg = &spec->mlp;
    ORL_TRY(orl_mlp_param_count(cfg, n_params));
    for (int32_t l = 0; l <= cfg->n_layers; l++)
        if (cfg->widths[l] > MAX_WIDTH)
            ORL_FAIL(ORL_ERR_INPUT, "policy spec: mlp widths[%d] %d, at most %d", l, cfg->widths[l],
                     MAX_WIDTH);
    if (*n_params > MAX_PARAMS)
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: %lld parameters, at most %lld", (long long)*n_params,
                 (long long)MAX_PARAMS);
    if (cfg->widths[0] != in->obs_dim)
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: mlp widths[0] %d, but obs_dim is %d", cfg->widths[0],
                 in->obs_dim);
    int32_t outputs = orl_policy_head_outputs(spec->head, in->act_dim, in->n_actions);
    if (cfg->widths[cfg->n_layers] != outputs)
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: mlp widths[%d] %d, but head '%s' needs %d outputs",
                 cfg->n_layers, cfg->widths[cfg->n_layers], head_names[spec->head], outputs);
    return ORL_OK;
}

/* the normaliser statistics must be finite, std > 0 */
static orl_status check_norm(const orl_normalizer *nm, int32_t obs_dim, const char *where) {
    if (nm->dim != obs_dim)
        ORL_FAIL(ORL_ERR_INPUT, "%s: normalizer dim %d, but obs_dim is %d", where, nm->dim,
                 obs_dim);
    for (int32_t j = 0; j < obs_dim; j++)
        if (!isfinite(nm->mean[j]) || !isfinite(nm->std[j]) || !(nm->std[j] > 0.0f))
            ORL_FAIL(ORL_ERR_INPUT,
                     "%s: normalizer dimension %d: mean %g, std %g (expected "
                     "finite, std > 0)",
                     where, j, (double)nm->mean[j], (double)nm->std[j]);
    return ORL_OK;
}

/* ---- the MLP policy: ops ---- */

static const mlp_policy *mlp_of(const orl_policy *p) {
    return (const mlp_policy *)p->impl;
}

static orl_status mlp_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    const mlp_policy *m = mlp_of(p);
    size_t b = (size_t)max_batch, s = (size_t)p->obs_dim, a = (size_t)p->act_dim;
    size_t bytes_x = align_up(b * s * sizeof(float)), bytes_eps = align_up(b * a * sizeof(float));
    size_t total = align_up(sizeof(mlp_work)) + bytes_x + bytes_eps + align_up(b * sizeof(float));
    char *mem = aligned_alloc(POLICY_ALIGN, total);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "policy work: %zu bytes", total);
    mlp_work *w = (mlp_work *)(void *)mem;
    memset(w, 0, sizeof *w);
    char *at = mem + align_up(sizeof(mlp_work));
    w->x = (float *)(void *)at, at += bytes_x;
    w->eps = (float *)(void *)at, at += bytes_eps;
    w->logp = (float *)(void *)at;
    orl_status st = orl_mlp_work_init(&w->net, &m->net.cfg, max_batch);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    *scratch = w;
    return ORL_OK;
}

static void mlp_work_free(void *scratch) {
    mlp_work *w = scratch;
    if (!w) return;
    orl_mlp_work_free(&w->net);
    free(w);
}

/* the network output (B, O) for obs (B, S): normalise, then forward */
static const float *mlp_forward(const mlp_policy *m, mlp_work *w, const float *obs, int32_t batch) {
    orl_normalizer_apply(&m->norm, obs, batch, w->x);
    orl_mlp_forward(&m->net, &w->net, w->x, batch, NULL);
    return w->net.out[m->net.cfg.n_layers - 1];
}

/* clips act (B, A) to the finite bounds */
static void clip_to_bounds(const orl_policy *p, float *act, int32_t batch) {
    int32_t A = p->act_dim;
    for (int32_t b = 0; b < batch; b++)
        for (int32_t j = 0; j < A; j++) {
            float *x = &act[(size_t)b * (size_t)A + (size_t)j];
            if (isnan(p->act_low[j])) continue;
            if (*x < p->act_low[j]) *x = p->act_low[j];
            if (*x > p->act_high[j]) *x = p->act_high[j];
        }
}

static orl_status mlp_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                          orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    const mlp_policy *m = mlp_of(p);
    mlp_work *w = scratch;
    const float *y = mlp_forward(m, w, obs, batch);
    int sample = mode == ORL_POLICY_MODE_SAMPLE;
    switch (m->spec.head) {
    case ORL_POLICY_HEAD_DETERMINISTIC:
        /* a deterministic policy samples its own action */
        orl_tanh_head_forward(act, y, p->act_low, p->act_high, batch, p->act_dim);
        break;
    case ORL_POLICY_HEAD_GAUSSIAN:
        orl_gaussian_sample(&m->gauss, act, y, batch, sample ? rng : NULL);
        clip_to_bounds(p, act, batch);
        break;
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
        if (sample) orl_normal_fill(w->eps, (int64_t)batch * p->act_dim, rng);
        orl_tanh_gaussian_sample_forward(&m->gauss, act, NULL, y, sample ? w->eps : NULL, batch);
        break;
    case ORL_POLICY_HEAD_CATEGORICAL:
        if (sample)
            orl_categorical_sample(act_idx, y, batch, p->n_actions, rng);
        else
            orl_categorical_argmax(act_idx, y, batch, p->n_actions);
        break;
    default:
        ORL_FAIL(ORL_ERR_INPUT, "policy act: unknown head %d", (int)m->spec.head);
    }
    return ORL_OK;
}

static orl_status mlp_logp(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                           const float *act, const int32_t *act_idx, double *logp) {
    const mlp_policy *m = mlp_of(p);
    mlp_work *w = scratch;
    const float *y = mlp_forward(m, w, obs, batch);
    switch (m->spec.head) {
    case ORL_POLICY_HEAD_GAUSSIAN:
        orl_gaussian_log_prob_forward(&m->gauss, w->logp, y, act, batch);
        break;
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
        orl_tanh_gaussian_log_prob_forward(&m->gauss, w->logp, y, act, batch);
        break;
    case ORL_POLICY_HEAD_CATEGORICAL:
        orl_categorical_log_prob_forward(w->logp, y, act_idx, batch, p->n_actions);
        break;
    default:
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "policy logp: head '%s' has no log-probability",
                 orl_policy_head_name(m->spec.head));
    }
    for (int32_t b = 0; b < batch; b++) {
        logp[b] = (double)w->logp[b];
        if (isnan(logp[b])) ORL_FAIL(ORL_ERR_NUMERIC, "policy logp: row %d is NaN", b);
    }
    return ORL_OK;
}

static orl_status mlp_save(const orl_policy *p, orl_policy_file *f) {
    const mlp_policy *m = mlp_of(p);
    const orl_mlp_config *cfg = &m->net.cfg;
    int32_t layer_norm = cfg->layer_norm ? 1 : 0;
    float log_std[2] = {m->spec.log_std_min, m->spec.log_std_max};
    ORL_TRY(orl_policy_file_put_text(f, "head", head_names[m->spec.head]));
    ORL_TRY(orl_policy_file_put_text(f, "mlp_activation", activation_names[cfg->activation]));
    ORL_TRY(orl_policy_file_put_ints(f, "mlp_widths", cfg->widths, cfg->n_layers + 1));
    ORL_TRY(orl_policy_file_put_ints(f, "mlp_layer_norm", &layer_norm, 1));
    ORL_TRY(orl_policy_file_put_floats(f, "log_std_bounds", log_std, 2));
    ORL_TRY(orl_policy_file_put_floats(f, "obs_mean", m->norm.mean, p->obs_dim));
    ORL_TRY(orl_policy_file_put_floats(f, "obs_std", m->norm.std, p->obs_dim));
    ORL_TRY(orl_policy_file_put_floats(f, "params", m->net.params, m->net.n_params));
    return ORL_OK;
}

static void mlp_free(orl_policy *p) {
    free(((mlp_policy *)p->impl)->mem);
}

static orl_status mlp_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out);

const orl_policy_ops orl_policy_mlp_ops = {
    .type = "mlp",
    .work_create = mlp_work_create,
    .work_free = mlp_work_free,
    .act = mlp_act,
    .logp = mlp_logp,
    .save = mlp_save,
    .load = mlp_load,
    .free = mlp_free,
};

/* ---- the MLP policy: construction ---- */

/* allocates and fills an MLP policy from a checked spec; the normaliser is the identity and
 * the parameters are zero (the caller fills both) */
static orl_status mlp_build(const orl_policy_mlp_spec *spec, int64_t n_params, orl_policy **out) {
    const orl_policy_info *in = &spec->info;
    const char *config = in->config_json ? in->config_json : "{}";
    int continuous = in->action_kind == ORL_ACTION_KIND_CONTINUOUS;
    size_t config_bytes = strlen(config) + 1;
    size_t bytes =
        mlp_layout(in->obs_dim, in->act_dim, continuous, n_params, config_bytes, NULL, NULL, NULL);
    char *mem = aligned_alloc(POLICY_ALIGN, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "policy: %zu bytes", bytes);
    memset(mem, 0, bytes);
    orl_policy *p;
    mlp_policy *m;
    mlp_layout(in->obs_dim, in->act_dim, continuous, n_params, config_bytes, mem, &p, &m);

    p->ops = &orl_policy_mlp_ops;
    snprintf(p->algorithm, sizeof p->algorithm, "%s", in->algorithm);
    memcpy(p->config_json, config, config_bytes);
    p->obs_dim = in->obs_dim;
    p->act_dim = in->act_dim;
    p->action_kind = in->action_kind;
    p->n_actions = in->n_actions;
    p->deterministic = spec->head == ORL_POLICY_HEAD_DETERMINISTIC;
    if (continuous) {
        memcpy(p->act_low, in->act_low, (size_t)in->act_dim * sizeof(float));
        memcpy(p->act_high, in->act_high, (size_t)in->act_dim * sizeof(float));
    }

    /* the spec keeps pointers to the policy's own copies */
    m->spec = *spec;
    m->spec.info.algorithm = p->algorithm;
    m->spec.info.config_json = p->config_json;
    m->spec.info.act_low = p->act_low;
    m->spec.info.act_high = p->act_high;

    float *params = m->net.params;
    orl_status st = orl_mlp_bind(&m->net, &spec->mlp, params);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    for (int32_t j = 0; j < in->obs_dim; j++) m->norm.mean[j] = 0.0f, m->norm.std[j] = 1.0f;
    m->gauss.act_dim = in->act_dim;
    m->gauss.log_std_min = spec->log_std_min;
    m->gauss.log_std_max = spec->log_std_max;
    if (spec->head == ORL_POLICY_HEAD_TANH_GAUSSIAN) {
        m->gauss.lo = p->act_low;
        m->gauss.hi = p->act_high;
    }
    *out = p;
    return ORL_OK;
}

orl_status orl_policy_mlp_create(const orl_policy_mlp_spec *spec, const orl_normalizer *obs_norm,
                                 const float *params, orl_rng *rng, orl_policy **out) {
    assert(spec && out);
    *out = NULL;
    int64_t n_params;
    ORL_TRY(check_spec(spec, &n_params));
    if (obs_norm) ORL_TRY(check_norm(obs_norm, spec->info.obs_dim, "policy spec"));
    if (params && !orl_params_finite(params, n_params))
        ORL_FAIL(ORL_ERR_INPUT, "policy spec: the parameters are not all finite");
    if (!params && !rng) ORL_FAIL(ORL_ERR_INPUT, "policy spec: no parameters and no rng");
    orl_policy *p;
    ORL_TRY(mlp_build(spec, n_params, &p));
    mlp_policy *m = p->impl;
    if (params)
        orl_params_copy(m->net.params, params, n_params);
    else
        orl_mlp_init_params(&m->net, rng);
    if (obs_norm) {
        memcpy(m->norm.mean, obs_norm->mean, (size_t)spec->info.obs_dim * sizeof(float));
        memcpy(m->norm.std, obs_norm->std, (size_t)spec->info.obs_dim * sizeof(float));
    }
    *out = p;
    return ORL_OK;
}

orl_mlp *orl_policy_mlp_network(orl_policy *p) {
    if (!p || p->ops != &orl_policy_mlp_ops) return NULL;
    return &((mlp_policy *)p->impl)->net;
}

orl_normalizer *orl_policy_mlp_normalizer(orl_policy *p) {
    if (!p || p->ops != &orl_policy_mlp_ops) return NULL;
    return &((mlp_policy *)p->impl)->norm;
}

const orl_policy_mlp_spec *orl_policy_mlp_get_spec(const orl_policy *p) {
    if (!p || p->ops != &orl_policy_mlp_ops) return NULL;
    return &mlp_of(p)->spec;
}

/* ---- the MLP policy: loading ---- */

static orl_status mlp_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out) {
    const char *path = orl_policy_file_path(f);
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info = *info;

    /* the head */
    char text[32];
    ORL_TRY(orl_policy_file_get_text(f, "head", text, sizeof text));
    int head = -1;
    for (int i = 0; i < ORL_POLICY_HEAD_COUNT; i++)
        if (strcmp(text, head_names[i]) == 0) head = i;
    if (head < 0) ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'head': unknown head '%s'", path, text);
    spec.head = (orl_policy_head)head;
    if ((spec.head == ORL_POLICY_HEAD_CATEGORICAL) !=
        (info->action_kind == ORL_ACTION_KIND_DISCRETE))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'head': '%s' does not fit %s actions", path, text,
                 kind_name(info->action_kind));
    float log_std[2];
    ORL_TRY(orl_policy_file_get_floats(f, "log_std_bounds", log_std, 2, 0));
    spec.log_std_min = log_std[0];
    spec.log_std_max = log_std[1];
    if ((spec.head == ORL_POLICY_HEAD_GAUSSIAN || spec.head == ORL_POLICY_HEAD_TANH_GAUSSIAN) &&
        !(log_std[0] < log_std[1]))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'log_std_bounds': [%g, %g] is not min < max", path,
                 (double)log_std[0], (double)log_std[1]);
    if (spec.head != ORL_POLICY_HEAD_GAUSSIAN && info->act_low)
        for (int32_t i = 0; i < info->act_dim; i++)
            if (isnan(info->act_low[i]))
                ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'act_low': head '%s' needs finite bounds", path,
                         text);

    /* the network */
    orl_mlp_config *cfg = &spec.mlp;
    ORL_TRY(orl_policy_file_get_text(f, "mlp_activation", text, sizeof text));
    int activation = -1;
    for (int i = 0; i < N_ACTIVATIONS; i++)
        if (strcmp(text, activation_names[i]) == 0) activation = i;
    if (activation < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'mlp_activation': unknown activation '%s'", path, text);
    cfg->activation = (orl_activation)activation;
    int64_t n_widths;
    ORL_TRY(orl_policy_file_length(f, "mlp_widths", &n_widths));
    if (n_widths < 2 || n_widths > ORL_MLP_MAX_LAYERS + 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'mlp_widths': %lld widths, expected 2..%d", path,
                 (long long)n_widths, ORL_MLP_MAX_LAYERS + 1);
    cfg->n_layers = (int32_t)n_widths - 1;
    ORL_TRY(orl_policy_file_get_ints(f, "mlp_widths", cfg->widths, n_widths));
    for (int32_t l = 0; l <= cfg->n_layers; l++)
        if (cfg->widths[l] < 1 || cfg->widths[l] > MAX_WIDTH)
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'mlp_widths': width %d is %d, expected 1..%d", path,
                     l, cfg->widths[l], MAX_WIDTH);
    if (cfg->widths[0] != info->obs_dim)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: key 'mlp_widths': the input width %d does not match obs_dim %d", path,
                 cfg->widths[0], info->obs_dim);
    int32_t outputs = orl_policy_head_outputs(spec.head, info->act_dim, info->n_actions);
    if (cfg->widths[cfg->n_layers] != outputs)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: key 'mlp_widths': the output width %d does not match head '%s' (%d outputs)",
                 path, cfg->widths[cfg->n_layers], head_names[spec.head], outputs);
    int32_t layer_norm;
    ORL_TRY(orl_policy_file_get_ints(f, "mlp_layer_norm", &layer_norm, 1));
    if (layer_norm != 0 && layer_norm != 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'mlp_layer_norm': %d is not 0 or 1", path, layer_norm);
    cfg->layer_norm = layer_norm;

    /* the parameter count follows from the widths; the file must agree */
    int64_t n_params, n_stored;
    orl_status st = orl_mlp_param_count(cfg, &n_params);
    if (st != ORL_OK || n_params > MAX_PARAMS)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'mlp_widths': not a usable network (%s)", path,
                 st != ORL_OK ? orl_error_message() : "too many parameters");
    ORL_TRY(orl_policy_file_length(f, "params", &n_stored));
    if (n_stored != n_params)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: key 'params': %lld values, but mlp_widths and mlp_layer_norm need %lld", path,
                 (long long)n_stored, (long long)n_params);

    /* everything else is checked by the constructor; its complaints are format errors here */
    int64_t counted;
    st = check_spec(&spec, &counted);
    if (st != ORL_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", orl_error_message());
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s", path, why);
    }
    orl_policy *p;
    ORL_TRY(mlp_build(&spec, n_params, &p));
    mlp_policy *m = p->impl;
    ORL_TRY_GOTO(st, fail, orl_policy_file_get_floats(f, "params", m->net.params, n_params, 0));
    ORL_TRY_GOTO(st, fail,
                 orl_policy_file_get_floats(f, "obs_mean", m->norm.mean, info->obs_dim, 0));
    ORL_TRY_GOTO(st, fail, orl_policy_file_get_floats(f, "obs_std", m->norm.std, info->obs_dim, 0));
    for (int32_t j = 0; j < info->obs_dim; j++)
        if (!(m->norm.std[j] > 0.0f))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                          "%s: key 'obs_std': value %d is %g, expected > 0", path, j,
                          (double)m->norm.std[j]);
    *out = p;
    return ORL_OK;
fail:
    orl_policy_free(p);
    return st;
}
