/* The embedded behaviour policies of the MuJoCo tasks (policy_assets.h): lookup by environment
 * and level, loading from the in-memory file image, and the noisy wrapper that mixes a policy
 * with the uniform distribution on its action box (dataset generation's medium-replay stages).
 * The wrapper acts and gives log-densities; it is not saved to a file. Not here: the embedding
 * itself (CMakeLists.txt), the choice of levels and stages (gen.c). */
#include "eval/policy_assets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const orl_policy_asset *orl_policy_asset_find(const char *env_id, const char *level) {
    for (int i = 0; i < orl_policy_asset_count; i++)
        if (strcmp(orl_policy_assets[i].env_id, env_id) == 0 &&
            strcmp(orl_policy_assets[i].level, level) == 0)
            return &orl_policy_assets[i];
    return NULL;
}

const char *orl_policy_asset_levels(const char *env_id, char *buf, size_t cap) {
    size_t at = (size_t)snprintf(buf, cap, "random");
    for (int i = 0; i < orl_policy_asset_count && at < cap; i++)
        if (strcmp(orl_policy_assets[i].env_id, env_id) == 0)
            at += (size_t)snprintf(buf + at, cap - at, ", %s", orl_policy_assets[i].level);
    return buf;
}

uint64_t orl_policy_asset_digest(const char *env_id) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    int any = 0;
    for (int i = 0; i < orl_policy_asset_count; i++) {
        const orl_policy_asset *a = &orl_policy_assets[i];
        if (strcmp(a->env_id, env_id) != 0) continue;
        any = 1;
        for (const char *c = a->level;; c++) {
            h = (h ^ (unsigned char)*c) * UINT64_C(0x100000001b3);
            if (!*c) break;
        }
        for (size_t k = 0; k < a->size; k++) h = (h ^ a->data[k]) * UINT64_C(0x100000001b3);
    }
    return any ? h : 0;
}

/* ---- the noisy wrapper: (1 - eps) inner + eps uniform on the box ---- */

typedef struct noisy {
    orl_policy policy;
    orl_policy *inner;
    double eps;
    double log_uniform; /* -sum_j log(hi_j - lo_j) */
    char config[512];
} noisy;

typedef struct noisy_work {
    orl_policy_work *inner;
} noisy_work;

static orl_status noisy_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    const noisy *n = p->impl;
    noisy_work *w = calloc(1, sizeof *w);
    if (!w) ORL_FAIL(ORL_ERR_NOMEM, "noisy policy work");
    orl_status st = orl_policy_work_create(n->inner, max_batch, &w->inner);
    if (st) {
        free(w);
        return st;
    }
    *scratch = w;
    return ORL_OK;
}

static void noisy_work_free(void *scratch) {
    noisy_work *w = scratch;
    if (!w) return;
    orl_policy_work_free(w->inner);
    free(w);
}

/* per row: one uniform picks the component, then that component's draws */
static orl_status noisy_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                            orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    const noisy *n = p->impl;
    noisy_work *w = scratch;
    (void)act_idx;
    if (mode == ORL_POLICY_MODE_MEAN)
        return orl_policy_act(n->inner, w->inner, obs, batch, mode, rng, act, NULL);
    for (int32_t i = 0; i < batch; i++) {
        float *a = act + (size_t)i * (size_t)p->act_dim;
        if (orl_rng_uniform(rng) < n->eps) {
            for (int32_t j = 0; j < p->act_dim; j++) {
                double lo = (double)p->act_low[j], hi = (double)p->act_high[j];
                float x = (float)(lo + (hi - lo) * orl_rng_uniform(rng));
                a[j] = x < p->act_low[j] ? p->act_low[j] : x > p->act_high[j] ? p->act_high[j] : x;
            }
        } else {
            ORL_TRY(orl_policy_act(n->inner, w->inner, obs + (size_t)i * (size_t)p->obs_dim, 1,
                                   mode, rng, a, NULL));
        }
    }
    return ORL_OK;
}

static orl_status noisy_logp(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                             const float *act, const int32_t *act_idx, double *logp) {
    const noisy *n = p->impl;
    noisy_work *w = scratch;
    (void)act_idx;
    ORL_TRY(orl_policy_logp(n->inner, w->inner, obs, batch, act, NULL, logp));
    /* log((1 - eps) pi + eps u) in log space */
    double log_u = log(n->eps) + n->log_uniform, log_keep = log1p(-n->eps);
    for (int32_t i = 0; i < batch; i++) {
        const float *a = act + (size_t)i * (size_t)p->act_dim;
        int inside = 1;
        for (int32_t j = 0; j < p->act_dim; j++)
            if (a[j] < p->act_low[j] || a[j] > p->act_high[j]) inside = 0;
        if (!inside) {
            logp[i] = -INFINITY;
            continue;
        }
        double log_g = log_keep + logp[i];
        double top = log_g > log_u ? log_g : log_u;
        logp[i] = top + log(exp(log_g - top) + exp(log_u - top));
    }
    return ORL_OK;
}

static orl_status noisy_save(const orl_policy *p, orl_policy_file *f) {
    (void)f;
    ORL_FAIL(ORL_ERR_UNSUPPORTED,
             "policy '%s' (a behaviour policy mixed with uniform noise) is not saved to a file; "
             "use its level name instead",
             p->algorithm);
}

static orl_status noisy_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out) {
    (void)info;
    (void)out;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: noisy behaviour policies are not read from files",
             orl_policy_file_path(f));
}

static void noisy_free(orl_policy *p) {
    if (!p) return;
    noisy *n = p->impl;
    orl_policy_free(n->inner);
    free(n);
}

static const orl_policy_ops noisy_ops = {
    .type = "noisy",
    .work_create = noisy_work_create,
    .work_free = noisy_work_free,
    .act = noisy_act,
    .logp = noisy_logp,
    .save = noisy_save,
    .load = noisy_load,
    .free = noisy_free,
};

/* wraps inner (owned, freed on failure too) into the mixture with weight eps on the uniform */
static orl_status noisy_create(orl_policy *inner, double eps, const char *name, orl_policy **out) {
    noisy *n = calloc(1, sizeof *n);
    if (!n) {
        orl_policy_free(inner);
        ORL_FAIL(ORL_ERR_NOMEM, "noisy policy");
    }
    n->inner = inner;
    n->eps = eps;
    for (int32_t j = 0; j < inner->act_dim; j++)
        n->log_uniform -= log((double)inner->act_high[j] - (double)inner->act_low[j]);
    orl_policy *p = &n->policy;
    p->ops = &noisy_ops;
    p->impl = n;
    snprintf(p->algorithm, sizeof p->algorithm, "%.40s+noise", inner->algorithm);
    snprintf(p->source, sizeof p->source, "%s", inner->source);
    snprintf(n->config, sizeof n->config, "{\"behavior\": \"%s\", \"noise\": %.17g}", name, eps);
    p->config_json = n->config;
    p->obs_dim = inner->obs_dim;
    p->act_dim = inner->act_dim;
    p->action_kind = inner->action_kind;
    p->n_actions = 0;
    p->act_low = inner->act_low;
    p->act_high = inner->act_high;
    p->deterministic = 0;
    *out = p;
    return ORL_OK;
}

orl_status orl_policy_asset_open(const char *env_id, const char *level, orl_policy **out) {
    *out = NULL;
    char base[64];
    double eps = 0.0;
    const char *plus = strstr(level, "+noise=");
    size_t n = plus ? (size_t)(plus - level) : strlen(level);
    if (n >= sizeof base) ORL_FAIL(ORL_ERR_INPUT, "behaviour level '%s' is too long", level);
    memcpy(base, level, n);
    base[n] = '\0';
    if (plus) {
        char *end;
        eps = strtod(plus + 7, &end);
        if (end == plus + 7 || *end != '\0' || !(eps >= 0.0 && eps <= 1.0))
            ORL_FAIL(ORL_ERR_INPUT, "behaviour level '%s': the noise is not a number in [0, 1]",
                     level);
    }
    const orl_policy_asset *a = orl_policy_asset_find(env_id, base);
    if (!a) {
        char levels[256];
        ORL_FAIL(ORL_ERR_INPUT,
                 "no behaviour policy '%s' for %s in this build: levels that exist for %s are %s "
                 "(policy files assets/policies/%s-LEVEL.h5, embedded when orl is built)",
                 base, env_id, env_id, orl_policy_asset_levels(env_id, levels, sizeof levels),
                 env_id);
    }
    orl_policy *p = NULL;
    ORL_TRY(orl_policy_load_image_with(a->path, a->data, a->size, NULL, 0, &p));
    if (p->deterministic || p->action_kind != ORL_ACTION_KIND_CONTINUOUS) {
        orl_policy_free(p);
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not a stochastic continuous policy", a->path);
    }
    if (eps <= 0.0) {
        *out = p;
        return ORL_OK;
    }
    char name[128];
    snprintf(name, sizeof name, "%s/%s", env_id, level);
    return noisy_create(p, eps, name, out);
}
