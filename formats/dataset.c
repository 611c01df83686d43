/* The in-memory dataset: one allocation with named columns, growth, appending rows, the
 * episode index built from the flags, and the invariant check. No file formats here. */
#include "orl/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64

static orl_status index_from(orl_dataset *ds, int64_t e0);

/* ---- headers ---- */

orl_status orl_header_init(orl_header *h, int32_t obs_dim, int32_t act_dim, orl_action_kind kind,
                           int32_t n_actions) {
    memset(h, 0, sizeof *h);
    if (obs_dim <= 0 || act_dim < 0 || (kind == ORL_ACTION_KIND_CONTINUOUS && act_dim <= 0))
        ORL_FAIL(ORL_ERR_INPUT, "bad dataset shape: obs %d, act %d", obs_dim, act_dim);
    if (kind == ORL_ACTION_KIND_DISCRETE) act_dim = 1;
    h->obs_dim = obs_dim;
    h->act_dim = act_dim;
    h->action_kind = kind;
    h->n_actions = kind == ORL_ACTION_KIND_DISCRETE ? n_actions : 0;
    h->discount = NAN;
    h->reward_min = h->reward_max = NAN;
    h->horizon = 0;
    size_t n = 2 * (size_t)obs_dim + 2 * (size_t)act_dim;
    float *bounds = malloc(n * sizeof *bounds);
    if (!bounds) ORL_FAIL(ORL_ERR_NOMEM, "header bounds (%zu floats)", n);
    for (size_t i = 0; i < n; i++) bounds[i] = NAN;
    h->obs_low = bounds;
    h->obs_high = bounds + obs_dim;
    h->act_low = bounds + 2 * obs_dim;
    h->act_high = bounds + 2 * obs_dim + act_dim;
    return ORL_OK;
}

orl_status orl_header_copy(orl_header *dst, const orl_header *src) {
    ORL_TRY(orl_header_init(dst, src->obs_dim, src->act_dim, src->action_kind, src->n_actions));
    float *bounds = dst->obs_low;
    *dst = *src;
    size_t n = 2 * (size_t)src->obs_dim + 2 * (size_t)src->act_dim;
    dst->obs_low = bounds;
    dst->obs_high = bounds + src->obs_dim;
    dst->act_low = bounds + 2 * src->obs_dim;
    dst->act_high = bounds + 2 * src->obs_dim + src->act_dim;
    memcpy(dst->obs_low, src->obs_low, (size_t)src->obs_dim * sizeof(float));
    memcpy(dst->obs_high, src->obs_high, (size_t)src->obs_dim * sizeof(float));
    memcpy(dst->act_low, src->act_low, (size_t)src->act_dim * sizeof(float));
    memcpy(dst->act_high, src->act_high, (size_t)src->act_dim * sizeof(float));
    (void)n;
    return ORL_OK;
}

void orl_header_free(orl_header *h) {
    if (!h) return;
    free(h->obs_low);
    h->obs_low = h->obs_high = h->act_low = h->act_high = NULL;
}

/* ---- the one allocation ---- */

typedef struct layout {
    size_t obs, next_obs, act, act_idx, rew, terminal, timeout, logp_b, ep_off, total;
} layout;

static size_t place(size_t *at, size_t bytes) {
    size_t off = *at;
    *at += (bytes + ALIGN - 1) / ALIGN * ALIGN;
    return off;
}

/* byte offsets of every column for a capacity; used by create and reserve alike */
static layout dataset_layout(const orl_header *h, int64_t cap_steps, int64_t cap_episodes) {
    layout l;
    size_t n = (size_t)cap_steps, s = (size_t)h->obs_dim, a = (size_t)h->act_dim;
    int discrete = h->action_kind == ORL_ACTION_KIND_DISCRETE;
    size_t at = 0;
    l.obs = place(&at, n * s * sizeof(float));
    l.next_obs = place(&at, n * s * sizeof(float));
    l.act = place(&at, discrete ? 0 : n * a * sizeof(float));
    l.act_idx = place(&at, discrete ? n * sizeof(int32_t) : 0);
    l.rew = place(&at, n * sizeof(float));
    l.terminal = place(&at, n);
    l.timeout = place(&at, n);
    l.logp_b = place(&at, n * sizeof(float));
    l.ep_off = place(&at, ((size_t)cap_episodes + 1) * sizeof(int64_t));
    l.total = at;
    return l;
}

static void point_columns(orl_dataset *ds, char *mem, const layout *l) {
    int discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    ds->mem = mem;
    ds->obs = (float *)(mem + l->obs);
    ds->next_obs = (float *)(mem + l->next_obs);
    ds->act = discrete ? NULL : (float *)(mem + l->act);
    ds->act_idx = discrete ? (int32_t *)(mem + l->act_idx) : NULL;
    ds->rew = (float *)(mem + l->rew);
    ds->terminal = (uint8_t *)(mem + l->terminal);
    ds->timeout = (uint8_t *)(mem + l->timeout);
    ds->logp_b = (float *)(mem + l->logp_b);
    ds->ep_off = (int64_t *)(mem + l->ep_off);
}

orl_status orl_dataset_create(const orl_header *h, int64_t cap_steps, int64_t cap_episodes,
                              orl_dataset **out) {
    *out = NULL;
    if (cap_steps < 1) cap_steps = 1;
    if (cap_episodes < 1) cap_episodes = 1;
    orl_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) ORL_FAIL(ORL_ERR_NOMEM, "dataset");
    orl_status st = orl_header_copy(&ds->h, h);
    if (st) {
        free(ds);
        return st;
    }
    layout l = dataset_layout(&ds->h, cap_steps, cap_episodes);
    char *mem = aligned_alloc(ALIGN, l.total);
    if (!mem) {
        orl_dataset_free(ds);
        ORL_FAIL(ORL_ERR_NOMEM, "dataset of %lld rows (%zu bytes)", (long long)cap_steps, l.total);
    }
    point_columns(ds, mem, &l);
    ds->cap_steps = cap_steps;
    ds->cap_episodes = cap_episodes;
    ds->ep_off[0] = 0;
    *out = ds;
    return ORL_OK;
}

void orl_dataset_free(orl_dataset *ds) {
    if (!ds) return;
    orl_header_free(&ds->h);
    free(ds->mem);
    free(ds);
}

orl_status orl_dataset_reserve(orl_dataset *ds, int64_t cap_steps, int64_t cap_episodes) {
    if (cap_steps <= ds->cap_steps && cap_episodes <= ds->cap_episodes) return ORL_OK;
    /* grow geometrically so appends stay linear overall */
    int64_t new_steps = ds->cap_steps, new_eps = ds->cap_episodes;
    while (new_steps < cap_steps) new_steps *= 2;
    while (new_eps < cap_episodes) new_eps *= 2;
    layout l = dataset_layout(&ds->h, new_steps, new_eps);
    char *mem = aligned_alloc(ALIGN, l.total);
    if (!mem)
        ORL_FAIL(ORL_ERR_NOMEM, "dataset of %lld rows (%zu bytes)", (long long)new_steps, l.total);
    orl_dataset old = *ds;
    point_columns(ds, mem, &l);
    size_t n = (size_t)old.n_steps, s = (size_t)ds->h.obs_dim, a = (size_t)ds->h.act_dim;
    memcpy(ds->obs, old.obs, n * s * sizeof(float));
    memcpy(ds->next_obs, old.next_obs, n * s * sizeof(float));
    if (ds->act) memcpy(ds->act, old.act, n * a * sizeof(float));
    if (ds->act_idx) memcpy(ds->act_idx, old.act_idx, n * sizeof(int32_t));
    memcpy(ds->rew, old.rew, n * sizeof(float));
    memcpy(ds->terminal, old.terminal, n);
    memcpy(ds->timeout, old.timeout, n);
    memcpy(ds->logp_b, old.logp_b, n * sizeof(float));
    memcpy(ds->ep_off, old.ep_off, ((size_t)old.n_episodes + 1) * sizeof(int64_t));
    free(old.mem);
    ds->cap_steps = new_steps;
    ds->cap_episodes = new_eps;
    return ORL_OK;
}

void orl_dataset_clear(orl_dataset *ds) {
    ds->n_steps = 0;
    ds->n_episodes = 0;
    ds->ep_off[0] = 0;
}

static int same_shape(const orl_header *a, const orl_header *b) {
    return a->obs_dim == b->obs_dim && a->act_dim == b->act_dim && a->action_kind == b->action_kind;
}

orl_status orl_dataset_append(orl_dataset *dst, const orl_dataset *src, int64_t row0, int64_t n) {
    if (!same_shape(&dst->h, &src->h))
        ORL_FAIL(ORL_ERR_INPUT, "appending rows of shape obs %d act %d to obs %d act %d",
                 src->h.obs_dim, src->h.act_dim, dst->h.obs_dim, dst->h.act_dim);
    if (row0 < 0 || n < 0 || row0 + n > src->n_steps)
        ORL_FAIL(ORL_ERR_INPUT, "rows [%lld, %lld) outside a block of %lld", (long long)row0,
                 (long long)(row0 + n), (long long)src->n_steps);
    int64_t at = dst->n_steps;
    /* re-index from the open segment on (an open tail continues into the new rows) */
    int64_t e0 = orl_dataset_open_tail(dst) ? dst->n_episodes - 1 : dst->n_episodes;
    ORL_TRY(orl_dataset_reserve(dst, at + n, dst->n_episodes));
    size_t s = (size_t)dst->h.obs_dim, a = (size_t)dst->h.act_dim;
    memcpy(dst->obs + (size_t)at * s, src->obs + (size_t)row0 * s, (size_t)n * s * sizeof(float));
    memcpy(dst->next_obs + (size_t)at * s, src->next_obs + (size_t)row0 * s,
           (size_t)n * s * sizeof(float));
    if (dst->act)
        memcpy(dst->act + (size_t)at * a, src->act + (size_t)row0 * a,
               (size_t)n * a * sizeof(float));
    if (dst->act_idx) memcpy(dst->act_idx + at, src->act_idx + row0, (size_t)n * sizeof(int32_t));
    memcpy(dst->rew + at, src->rew + row0, (size_t)n * sizeof(float));
    memcpy(dst->terminal + at, src->terminal + row0, (size_t)n);
    memcpy(dst->timeout + at, src->timeout + row0, (size_t)n);
    memcpy(dst->logp_b + at, src->logp_b + row0, (size_t)n * sizeof(float));
    dst->n_steps = at + n;
    return index_from(dst, e0);
}

/* indexes segments from row ep_off[e0] on, keeping episodes [0, e0) */
static orl_status index_from(orl_dataset *ds, int64_t e0) {
    int64_t start = ds->ep_off[e0];
    int64_t segments = e0;
    for (int64_t t = start; t < ds->n_steps; t++)
        if (ds->terminal[t] || ds->timeout[t] || t == ds->n_steps - 1) segments++;
    ORL_TRY(orl_dataset_reserve(ds, ds->n_steps, segments));
    int64_t e = e0;
    for (int64_t t = start; t < ds->n_steps; t++)
        if (ds->terminal[t] || ds->timeout[t] || t == ds->n_steps - 1) ds->ep_off[++e] = t + 1;
    ds->n_episodes = e;
    return ORL_OK;
}

orl_status orl_dataset_index(orl_dataset *ds) {
    ds->ep_off[0] = 0;
    return index_from(ds, 0);
}

int orl_dataset_open_tail(const orl_dataset *ds) {
    if (ds->n_steps == 0) return 0;
    int64_t t = ds->n_steps - 1;
    return !ds->terminal[t] && !ds->timeout[t];
}

static const char *first_nonfinite(const float *x, size_t n, size_t *at) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            *at = i;
            return isnan(x[i]) ? "NaN" : "inf";
        }
    return NULL;
}

orl_status orl_dataset_validate_rows(const orl_dataset *ds, orl_validate_cursor *c) {
    const orl_header *h = &ds->h;
    size_t s = (size_t)h->obs_dim, a = (size_t)h->act_dim;
    for (int64_t t = 0; t < ds->n_steps; t++, c->row++) {
        long long e = (long long)c->episode, k = (long long)c->step;
        size_t at;
        const char *bad;
        if (ds->terminal[t] && ds->timeout[t])
            ORL_FAIL(ORL_ERR_INVALID, "episode %lld, step %lld: both terminal and timeout", e, k);
        if ((bad = first_nonfinite(ds->obs + (size_t)t * s, s, &at)))
            ORL_FAIL(ORL_ERR_INVALID, "episode %lld, step %lld: obs[%zu] is %s", e, k, at, bad);
        if ((bad = first_nonfinite(ds->next_obs + (size_t)t * s, s, &at)))
            ORL_FAIL(ORL_ERR_INVALID, "episode %lld, step %lld: next_obs[%zu] is %s", e, k, at,
                     bad);
        if (ds->act && (bad = first_nonfinite(ds->act + (size_t)t * a, a, &at)))
            ORL_FAIL(ORL_ERR_INVALID, "episode %lld, step %lld: act[%zu] is %s", e, k, at, bad);
        if (ds->act_idx &&
            (ds->act_idx[t] < 0 || (h->n_actions > 0 && ds->act_idx[t] >= h->n_actions)))
            ORL_FAIL(ORL_ERR_INVALID, "episode %lld, step %lld: act_idx %d outside [0, %d)", e, k,
                     ds->act_idx[t], h->n_actions);
        if (!isfinite(ds->rew[t]))
            ORL_FAIL(ORL_ERR_INVALID, "episode %lld, step %lld: rew is %g", e, k,
                     (double)ds->rew[t]);
        if (h->has_logp && !isfinite(ds->logp_b[t]))
            ORL_FAIL(ORL_ERR_INVALID,
                     "episode %lld, step %lld: logp_b is %g (the behaviour took "
                     "this action, so its log-probability is finite)",
                     e, k, (double)ds->logp_b[t]);
        if (h->has_logp && ds->act_idx && ds->logp_b[t] > 0.0f)
            ORL_FAIL(ORL_ERR_INVALID,
                     "episode %lld, step %lld: logp_b %g > 0 for a discrete action", e, k,
                     (double)ds->logp_b[t]);
        if (ds->terminal[t] || ds->timeout[t]) {
            c->episode++;
            c->step = 0;
        } else {
            c->step++;
        }
    }
    return ORL_OK;
}

orl_status orl_dataset_validate(const orl_dataset *ds) {
    int64_t n = ds->n_steps, eps = ds->n_episodes;
    if (n < 0 || eps < 0 || (n > 0 && eps == 0))
        ORL_FAIL(ORL_ERR_INVALID, "%lld steps in %lld episodes", (long long)n, (long long)eps);
    if (ds->ep_off[0] != 0)
        ORL_FAIL(ORL_ERR_INVALID, "episode 0 starts at step %lld, expected 0",
                 (long long)ds->ep_off[0]);
    if (ds->ep_off[eps] != n)
        ORL_FAIL(ORL_ERR_INVALID, "the last episode ends at step %lld, but there are %lld steps",
                 (long long)ds->ep_off[eps], (long long)n);
    /* the episode index must agree with the flags */
    for (int64_t e = 0; e < eps; e++) {
        int64_t lo = ds->ep_off[e], hi = ds->ep_off[e + 1];
        if (hi <= lo)
            ORL_FAIL(ORL_ERR_INVALID, "episode %lld is empty (steps %lld..%lld)", (long long)e,
                     (long long)lo, (long long)hi);
        for (int64_t t = lo; t < hi; t++) {
            int last = t == hi - 1, ends = ds->terminal[t] || ds->timeout[t];
            if (last && !ends)
                ORL_FAIL(ORL_ERR_INVALID,
                         "episode %lld, step %lld: last step has neither terminal nor timeout",
                         (long long)e, (long long)(t - lo));
            if (!last && ends)
                ORL_FAIL(ORL_ERR_INVALID,
                         "episode %lld, step %lld: %s set before the episode's end", (long long)e,
                         (long long)(t - lo), ds->terminal[t] ? "terminal" : "timeout");
        }
    }
    orl_validate_cursor cursor = {0, 0, 0};
    return orl_dataset_validate_rows(ds, &cursor);
}
