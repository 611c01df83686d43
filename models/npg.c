/* The natural policy gradient planner (include/orl/npg.h): mjrl's Gaussian MLP policy with a
 * state-independent log-std, its exact Fisher-vector product (a forward-mode pass through the
 * mean network for J v, a backward pass for J^T u: no matrix is formed), conjugate gradient,
 * GAE on mjrl's MLP value baseline with time features, the normalised NPG step, and BC
 * initialisation. The policy's mean network must use tanh (or no) hidden activations and no
 * LayerNorm: the forward-mode pass knows tanh only.
 *
 * Not here: sampling the paths (models/pmdp.c, tests), the learner (algorithms/morel.c).
 * Everything act, vpg, fvp and update write lives in the one allocation made at create. */
#include "orl/npg.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NPG_ALIGN         64
#define NPG_TIME_FEATURES 4

struct orl_npg {
    orl_npg_config cfg;
    int64_t n_params;     /* P */
    int64_t n_mean;       /* the mean network's parameters */
    int32_t max_width;    /* the widest hidden layer (or 1) */
    float *params;        /* (P) mean network, then log-std */
    float *log_std;       /* (A) = params + n_mean */
    orl_mlp net;          /* the mean network, views into params */
    float *vparams;       /* (n_mean) a direction in parameter space (fvp's v, as floats) */
    orl_mlp vnet;         /* views into vparams, laid out as net */
    float *obs_mean;      /* (S) */
    float *obs_std;       /* (S) */
    orl_mlp_work work;    /* the mean network's workspace, chunk rows */
    float *x;             /* (C, S) a normalised chunk */
    float *dmu;           /* (C, A) a tangent or a gradient of the mean */
    float *tan_a, *tan_b; /* (C, max width) forward-mode tangents of the hidden layers */
    float *gradf;         /* (n_mean) backward's accumulation */
    double *vpg;          /* (P) */
    double *dir;          /* (P) the natural gradient direction */
    double *cg_scratch;   /* (3 P) */
    double *gls;          /* (A) log-std gradient sums */
    float *ls_old;        /* (A) */
    float *inv_var;       /* (A) fvp's 1 / (sigma^2 N) */
    float *ret;           /* (N) discounted returns */
    float *base;          /* (N) baseline predictions */
    float *adv;           /* (N) advantages */
    int32_t *t_index;     /* (N) time within the path */
    float *mu_old;        /* (N, A) the mean before the step */
    float *hcache;        /* (N, S + layers H) an update's normalised rows and hidden activations
                             at the parameters CG works at: the Fisher products reuse them */
    int64_t hcache_width; /* S + layers H */
    int64_t hcache_rows;  /* rows the cache holds at the current parameters (0: none) */
    int64_t *perm;        /* (N) the baseline's shuffled rows */
    float *feat;          /* (max(C, baseline batch), S + 4) baseline features */
    float *target;        /* (baseline batch) */
    float *dval;          /* (max(C, baseline batch)) */
    orl_fit baseline;     /* the value baseline (its own allocation) */
    void *mem;
};

static size_t round_bytes(size_t bytes) {
    return (bytes + NPG_ALIGN - 1) / NPG_ALIGN * NPG_ALIGN;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

orl_npg_config orl_npg_defaults(int32_t obs_dim, int32_t act_dim) {
    orl_npg_config c;
    memset(&c, 0, sizeof c);
    c.obs_dim = obs_dim;
    c.act_dim = act_dim;
    c.hidden = 64;
    c.layers = 2;
    c.init_log_std = -0.25f;
    c.min_log_std = -1.0f;
    c.step_size = 0.02;
    c.cg_iters = 20;
    c.damping = 1e-3;
    c.cg_tol = 1e-10;
    c.gamma = 0.999;
    c.gae_lambda = 0.97;
    c.max_rows = 1 << 16;
    c.chunk = 1024;
    c.baseline_hidden = 128;
    c.baseline_epochs = 1;
    c.baseline_batch = 256;
    c.baseline_lr = 1e-3f;
    c.baseline_reg = 1e-3f;
    return c;
}

static orl_mlp_config mean_config(const orl_npg_config *c) {
    orl_mlp_config m;
    memset(&m, 0, sizeof m);
    m.n_layers = c->layers + 1;
    m.widths[0] = c->obs_dim;
    for (int32_t l = 1; l <= c->layers; l++) m.widths[l] = c->hidden;
    m.widths[c->layers + 1] = c->act_dim;
    m.activation = ORL_ACTIVATION_TANH;
    m.init = ORL_INIT_FAN_IN_UNIFORM;
    m.last_scale = 0.01f; /* mjrl: the last layer's weights and bias times 1e-2 */
    return m;
}

static orl_mlp_config baseline_config(const orl_npg_config *c) {
    orl_mlp_config m;
    memset(&m, 0, sizeof m);
    m.n_layers = 3;
    m.widths[0] = c->obs_dim + NPG_TIME_FEATURES;
    m.widths[1] = m.widths[2] = c->baseline_hidden;
    m.widths[3] = 1;
    m.activation = ORL_ACTIVATION_RELU;
    m.init = ORL_INIT_FAN_IN_UNIFORM;
    return m;
}

void orl_npg_free(orl_npg *g) {
    if (!g) return;
    orl_fit_free(&g->baseline);
    free(g->mem);
    free(g);
}

orl_status orl_npg_create(const orl_npg_config *cfg, orl_rng *rng, orl_npg **out) {
    assert(cfg && rng && out);
    *out = NULL;
    const orl_npg_config *c = cfg;
    if (c->obs_dim < 1 || c->act_dim < 1 || c->layers < 0 || c->layers >= ORL_MLP_MAX_LAYERS ||
        (c->layers > 0 && c->hidden < 1) || !(c->min_log_std <= c->init_log_std) ||
        !(c->step_size > 0.0) || c->cg_iters < 1 || !(c->damping >= 0.0) ||
        !(c->gamma >= 0.0 && c->gamma <= 1.0) || !(c->gae_lambda >= 0.0 && c->gae_lambda <= 1.0) ||
        c->max_rows < 1 || c->chunk < 1 || c->baseline_hidden < 1 || c->baseline_epochs < 0 ||
        c->baseline_batch < 1 || !(c->baseline_lr > 0.0f) || !(c->baseline_reg >= 0.0f))
        ORL_FAIL(ORL_ERR_INPUT,
                 "npg: bad configuration (dims >= 1, layers in [0, %d), hidden >= 1, min_log_std "
                 "<= init_log_std, step_size > 0, cg_iters >= 1, damping >= 0, gamma and "
                 "gae_lambda in [0, 1], max_rows, chunk and the baseline's sizes >= 1, lr > 0)",
                 ORL_MLP_MAX_LAYERS);
    orl_npg *g = calloc(1, sizeof *g);
    if (!g) ORL_FAIL(ORL_ERR_NOMEM, "npg: out of memory");
    orl_status st = ORL_OK;
    g->cfg = *c;
    orl_mlp_config mc = mean_config(c);
    ORL_TRY_GOTO(st, fail, orl_mlp_param_count(&mc, &g->n_mean));
    g->n_params = g->n_mean + c->act_dim;
    g->max_width = c->layers > 0 ? c->hidden : 1;
    size_t work_bytes = 0;
    ORL_TRY_GOTO(st, fail, orl_mlp_work_bytes(&mc, c->chunk, &work_bytes));

    /* one allocation: sizes in bytes, each rounded to cache lines */
    const size_t S = (size_t)c->obs_dim, A = (size_t)c->act_dim, C = (size_t)c->chunk;
    const size_t N = (size_t)c->max_rows, P = (size_t)g->n_params, W = (size_t)g->max_width;
    const size_t FB = C > (size_t)c->baseline_batch ? C : (size_t)c->baseline_batch;
    const size_t F = S + NPG_TIME_FEATURES;
    size_t sizes[] = {
        P * sizeof(float),                                               /* params */
        (size_t)g->n_mean * sizeof(float),                               /* vparams */
        S * sizeof(float),                                               /* obs_mean */
        S * sizeof(float),                                               /* obs_std */
        work_bytes,                                                      /* work */
        C * S * sizeof(float),                                           /* x */
        C * A * sizeof(float),                                           /* dmu */
        C * W * sizeof(float),                                           /* tan_a */
        C * W * sizeof(float),                                           /* tan_b */
        (size_t)g->n_mean * sizeof(float),                               /* gradf */
        P * sizeof(double),                                              /* vpg */
        P * sizeof(double),                                              /* dir */
        3 * P * sizeof(double),                                          /* cg_scratch */
        A * sizeof(double),                                              /* gls */
        A * sizeof(float),                                               /* ls_old */
        A * sizeof(float),                                               /* inv_var */
        N * sizeof(float),                                               /* ret */
        N * sizeof(float),                                               /* base */
        N * sizeof(float),                                               /* adv */
        N * sizeof(int32_t),                                             /* t_index */
        N * A * sizeof(float),                                           /* mu_old */
        N * (S + (size_t)c->layers * (size_t)c->hidden) * sizeof(float), /* hcache */
        N * sizeof(int64_t),                                             /* perm */
        FB * F * sizeof(float),                                          /* feat */
        (size_t)c->baseline_batch * sizeof(float),                       /* target */
        FB * sizeof(float),                                              /* dval */
    };
    enum { N_PIECES = sizeof sizes / sizeof sizes[0] };
    size_t total = 0;
    for (int i = 0; i < N_PIECES; i++) total += round_bytes(sizes[i]);
    char *mem = aligned_alloc(NPG_ALIGN, total);
    if (!mem) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "npg: cannot allocate %zu bytes", total);
    memset(mem, 0, total);
    g->mem = mem;
    void *piece[N_PIECES];
    for (int i = 0; i < N_PIECES; i++) piece[i] = mem, mem += round_bytes(sizes[i]);
    int k = 0;
    g->params = piece[k++];
    g->vparams = piece[k++];
    g->obs_mean = piece[k++];
    g->obs_std = piece[k++];
    void *work_mem = piece[k++];
    g->x = piece[k++];
    g->dmu = piece[k++];
    g->tan_a = piece[k++];
    g->tan_b = piece[k++];
    g->gradf = piece[k++];
    g->vpg = piece[k++];
    g->dir = piece[k++];
    g->cg_scratch = piece[k++];
    g->gls = piece[k++];
    g->ls_old = piece[k++];
    g->inv_var = piece[k++];
    g->ret = piece[k++];
    g->base = piece[k++];
    g->adv = piece[k++];
    g->t_index = piece[k++];
    g->mu_old = piece[k++];
    g->hcache = piece[k++];
    g->hcache_width = (int64_t)S + (int64_t)c->layers * (int64_t)c->hidden;
    g->perm = piece[k++];
    g->feat = piece[k++];
    g->target = piece[k++];
    g->dval = piece[k++];
    assert(k == N_PIECES);
    ORL_TRY_GOTO(st, fail, orl_mlp_bind(&g->net, &mc, g->params));
    ORL_TRY_GOTO(st, fail, orl_mlp_bind(&g->vnet, &mc, g->vparams));
    ORL_TRY_GOTO(st, fail, orl_mlp_work_bind(&g->work, &mc, c->chunk, work_mem));
    g->log_std = g->params + g->n_mean;
    for (int32_t s = 0; s < c->obs_dim; s++) g->obs_mean[s] = 0.0f, g->obs_std[s] = 1.0f;

    /* the policy's draws first, then the baseline's */
    orl_mlp_init_params(&g->net, rng);
    for (int32_t j = 0; j < c->act_dim; j++) g->log_std[j] = c->init_log_std;
    orl_mlp_config bc = baseline_config(c);
    orl_fit_config fc = orl_fit_defaults(c->baseline_lr, (int32_t)FB);
    fc.adam.weight_decay = c->baseline_reg;
    fc.adam.decoupled = 0;
    ORL_TRY_GOTO(st, fail, orl_fit_init(&g->baseline, &bc, &fc, rng));
    *out = g;
    return ORL_OK;
fail:
    orl_npg_free(g);
    return st;
}

const orl_npg_config *orl_npg_get_config(const orl_npg *g) {
    return &g->cfg;
}

void orl_npg_set_normalizer(orl_npg *g, const float *mean, const float *std) {
    for (int32_t s = 0; s < g->cfg.obs_dim; s++) {
        assert(std[s] > 0.0f);
        g->obs_mean[s] = mean[s];
        g->obs_std[s] = std[s];
    }
    g->hcache_rows = 0;
}

float *orl_npg_params(orl_npg *g, int64_t *n_params) {
    if (n_params) *n_params = g->n_params;
    return g->params;
}

const orl_mlp *orl_npg_mean_network(const orl_npg *g) {
    return &g->net;
}

float *orl_npg_log_std(orl_npg *g) {
    return g->log_std;
}

/* x (B, S) = (obs - mean) / std */
static void normalize_rows(const orl_npg *g, const float *obs, int32_t batch) {
    const int32_t S = g->cfg.obs_dim;
    for (int32_t b = 0; b < batch; b++)
        for (int32_t s = 0; s < S; s++)
            g->x[(size_t)b * (size_t)S + (size_t)s] =
                (obs[(size_t)b * (size_t)S + (size_t)s] - g->obs_mean[s]) / g->obs_std[s];
}

/* the mean (B, A) of a chunk of raw observations, in the workspace */
static const float *mean_forward(orl_npg *g, const float *obs, int32_t batch) {
    normalize_rows(g, obs, batch);
    orl_mlp_forward(&g->net, &g->work, g->x, batch, NULL);
    return g->work.out[g->net.cfg.n_layers - 1];
}

void orl_npg_act(orl_npg *g, const float *obs, int32_t batch, orl_rng *rng, float *act) {
    assert(batch >= 1 && batch <= g->cfg.chunk);
    const int32_t A = g->cfg.act_dim;
    const float *mu = mean_forward(g, obs, batch);
    for (int32_t b = 0; b < batch; b++)
        for (int32_t j = 0; j < A; j++) {
            size_t i = (size_t)b * (size_t)A + (size_t)j;
            float noise = rng ? (float)orl_rng_normal(rng) : 0.0f;
            act[i] = mu[i] + expf(g->log_std[j]) * noise;
        }
}

/* dmu (B, A) = J vparams: the mean's directional derivative along vnet's parameters, after a
 * forward of the chunk (forward mode: each layer's tangent is in W_v^T + b_v + din W^T, times
 * tanh' at hidden layers) */
static void mean_jvp(orl_npg *g, int32_t batch) {
    const orl_mlp *m = &g->net, *v = &g->vnet;
    const int32_t L = m->cfg.n_layers;
    const float *in = g->x, *din = NULL;
    for (int32_t l = 0; l < L; l++) {
        const int32_t n_in = m->cfg.widths[l], n_out = m->cfg.widths[l + 1];
        float *dz = l == L - 1 ? g->dmu : (l % 2 == 0 ? g->tan_a : g->tan_b);
        for (int32_t b = 0; b < batch; b++)
            memcpy(dz + (size_t)b * (size_t)n_out, v->b[l], (size_t)n_out * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, n_out, n_in, 1.0f, in, n_in,
                    v->w[l], n_in, 1.0f, dz, n_out);
        if (din)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, n_out, n_in, 1.0f, din,
                        n_in, m->w[l], n_in, 1.0f, dz, n_out);
        if (l < L - 1) {
            const float *h = g->work.out[l];
            for (size_t i = 0; i < (size_t)batch * (size_t)n_out; i++) dz[i] *= 1.0f - h[i] * h[i];
        }
        in = g->work.out[l];
        din = dz;
    }
}

/* the chunk at row r0 of the cache: its normalised rows and hidden activations to (store) or
 * from (restore) the workspace, as a forward of it at the current parameters leaves them */
static void hcache_copy(orl_npg *g, int64_t r0, int32_t batch, int store) {
    const int32_t S = g->cfg.obs_dim, L = g->net.cfg.n_layers;
    const size_t Wc = (size_t)g->hcache_width, b_ = (size_t)batch;
    float *row = g->hcache + (size_t)r0 * Wc;
    size_t col = 0;
    for (int32_t l = -1; l < L - 1; l++) {
        size_t w = l < 0 ? (size_t)S : (size_t)g->net.cfg.widths[l + 1];
        float *ws = l < 0 ? g->x : g->work.out[l];
        for (size_t b = 0; b < b_; b++) {
            float *c = row + b * Wc + col, *x = ws + b * w;
            if (store)
                memcpy(c, x, w * sizeof(float));
            else
                memcpy(x, c, w * sizeof(float));
        }
        col += w;
    }
    if (!store) g->work.input = g->x, g->work.batch = batch;
}

/* F v over n_rows: the forward of each chunk computed, or (cached) restored from the cache
 * that the update's gradient pass filled at the same parameters (the same bits, one forward
 * per update instead of one per CG iteration) */
static void fvp_rows(orl_npg *g, const float *obs, int64_t n_rows, int cached, double damping,
                     const double *v, double *out) {
    assert(n_rows >= 1);
    const int32_t S = g->cfg.obs_dim, A = g->cfg.act_dim, C = g->cfg.chunk;
    const int64_t Pm = g->n_mean;
    for (int64_t i = 0; i < Pm; i++) g->vparams[i] = (float)v[i];
    memset(g->gradf, 0, (size_t)Pm * sizeof(float));
    /* F = mean_t J_t^T diag(1 / sigma^2) J_t: u = J v / sigma^2 / N, then J^T u by backward */
    float *inv_var = g->inv_var;
    for (int32_t j = 0; j < A; j++) inv_var[j] = expf(-2.0f * g->log_std[j]) / (float)n_rows;
    for (int64_t r0 = 0; r0 < n_rows; r0 += C) {
        int32_t batch = (int32_t)(n_rows - r0 < C ? n_rows - r0 : C);
        if (cached)
            hcache_copy(g, r0, batch, 0);
        else
            mean_forward(g, obs + (size_t)r0 * (size_t)S, batch);
        mean_jvp(g, batch);
        for (int32_t b = 0; b < batch; b++)
            for (int32_t j = 0; j < A; j++) g->dmu[(size_t)b * (size_t)A + (size_t)j] *= inv_var[j];
        orl_mlp_backward(&g->net, &g->work, g->dmu, g->gradf, NULL);
    }
    for (int64_t i = 0; i < Pm; i++) out[i] = (double)g->gradf[i] + damping * v[i];
    /* the log-std block of the Gaussian's Fisher matrix is 2 I */
    for (int32_t j = 0; j < A; j++) out[Pm + j] = (2.0 + damping) * v[Pm + j];
}

void orl_npg_fvp(orl_npg *g, const float *obs, int64_t n_rows, double damping, const double *v,
                 double *out) {
    fvp_rows(g, obs, n_rows, 0, damping, v, out);
}

void orl_npg_fvp_cached(orl_npg *g, int64_t n_rows, double damping, const double *v, double *out) {
    assert(n_rows >= 1 && n_rows == g->hcache_rows);
    fvp_rows(g, NULL, n_rows, 1, damping, v, out);
}

/* the vanilla gradient into grad (P), keeping the mean (N, A) in mu (may be NULL) */
static void vpg_pass(orl_npg *g, const float *obs, const float *act, const float *adv,
                     int64_t n_rows, double *grad, float *mu_keep, int cache) {
    const int32_t S = g->cfg.obs_dim, A = g->cfg.act_dim, C = g->cfg.chunk;
    const int64_t Pm = g->n_mean;
    memset(g->gradf, 0, (size_t)Pm * sizeof(float));
    for (int32_t j = 0; j < A; j++) g->gls[j] = 0.0;
    const double inv_n = 1.0 / (double)n_rows;
    for (int64_t r0 = 0; r0 < n_rows; r0 += C) {
        int32_t batch = (int32_t)(n_rows - r0 < C ? n_rows - r0 : C);
        const float *mu = mean_forward(g, obs + (size_t)r0 * (size_t)S, batch);
        if (cache) hcache_copy(g, r0, batch, 1);
        if (mu_keep)
            memcpy(mu_keep + (size_t)r0 * (size_t)A, mu, (size_t)batch * (size_t)A * sizeof(float));
        /* d log pi / d mu = (a - mu) / sigma^2; d log pi / d log_std = z^2 - 1 */
        for (int32_t b = 0; b < batch; b++) {
            double w = (double)adv[r0 + b];
            for (int32_t j = 0; j < A; j++) {
                size_t i = (size_t)b * (size_t)A + (size_t)j;
                double sigma = exp((double)g->log_std[j]);
                double z =
                    ((double)act[(size_t)(r0 + b) * (size_t)A + (size_t)j] - (double)mu[i]) / sigma;
                g->dmu[i] = (float)(w * z / sigma * inv_n);
                g->gls[j] += w * (z * z - 1.0);
            }
        }
        orl_mlp_backward(&g->net, &g->work, g->dmu, g->gradf, NULL);
    }
    g->hcache_rows = cache ? n_rows : 0;
    for (int64_t i = 0; i < Pm; i++) grad[i] = (double)g->gradf[i];
    for (int32_t j = 0; j < A; j++) grad[Pm + j] = g->gls[j] * inv_n;
}

void orl_npg_vpg(orl_npg *g, const float *obs, const float *act, const float *adv, int64_t n_rows,
                 double *grad) {
    assert(n_rows >= 1);
    vpg_pass(g, obs, act, adv, n_rows, grad, NULL, n_rows <= g->cfg.max_rows);
}

static double dot(const double *a, const double *b, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

int32_t orl_npg_cg(void (*apply)(void *ctx, const double *v, double *out), void *ctx,
                   const double *b, int64_t n, int32_t iters, double tol, double *x,
                   double *scratch, double *residual) {
    /* mjrl's cg_solve: x = 0, r = p = b */
    double *r = scratch, *p = scratch + n, *z = scratch + 2 * n;
    for (int64_t i = 0; i < n; i++) x[i] = 0.0, r[i] = b[i], p[i] = b[i];
    double rr = dot(r, r, n);
    int32_t it = 0;
    while (it < iters && !(rr < tol)) {
        apply(ctx, p, z);
        double pz = dot(p, z, n);
        if (!(pz > 0.0)) break; /* not positive definite along p (or p = 0) */
        double step = rr / pz;
        for (int64_t i = 0; i < n; i++) x[i] += step * p[i], r[i] -= step * z[i];
        double rr_new = dot(r, r, n);
        double mu = rr_new / rr;
        for (int64_t i = 0; i < n; i++) p[i] = r[i] + mu * p[i];
        rr = rr_new;
        it++;
    }
    if (residual) *residual = rr;
    return it;
}

/* the Fisher product over an update's rows, for CG */
typedef struct fvp_ctx {
    orl_npg *g;
    const float *obs;
    int64_t n_rows;
} fvp_ctx;

static void fvp_apply(void *ctx, const double *v, double *out) {
    fvp_ctx *c = ctx;
    fvp_rows(c->g, c->obs, c->n_rows, 1, c->g->cfg.damping, v, out);
}

/* the baseline's features of rows [r0, r0 + batch) of paths into feat (B, S + 4) */
static void baseline_features(orl_npg *g, const orl_npg_paths *paths, const int64_t *rows,
                              int64_t r0, int32_t batch) {
    const int32_t S = g->cfg.obs_dim, F = S + NPG_TIME_FEATURES;
    for (int32_t b = 0; b < batch; b++) {
        int64_t r = rows ? rows[r0 + b] : r0 + b;
        float *f = g->feat + (size_t)b * (size_t)F;
        for (int32_t s = 0; s < S; s++) {
            float o = paths->obs[(size_t)r * (size_t)S + (size_t)s];
            o = o < -10.0f ? -10.0f : (o > 10.0f ? 10.0f : o);
            f[s] = o / 10.0f;
        }
        float t = (float)g->t_index[r] / 1000.0f, tk = t;
        for (int32_t k = 0; k < NPG_TIME_FEATURES; k++) f[S + k] = tk, tk *= t;
    }
}

/* time indices of the paths' rows; ORL_ERR_INPUT for bad offsets */
static orl_status index_paths(orl_npg *g, const orl_npg_paths *paths, int64_t *n_rows) {
    if (paths->n_paths < 1 || paths->off[0] != 0)
        ORL_FAIL(ORL_ERR_INPUT, "npg: expected at least one path starting at row 0");
    for (int32_t e = 0; e < paths->n_paths; e++)
        if (paths->off[e + 1] <= paths->off[e])
            ORL_FAIL(ORL_ERR_INPUT, "npg: path %d is empty or its offsets decrease", e);
    int64_t N = paths->off[paths->n_paths];
    if (N > g->cfg.max_rows)
        ORL_FAIL(ORL_ERR_INPUT, "npg: %lld rows exceed max_rows %lld", (long long)N,
                 (long long)g->cfg.max_rows);
    for (int32_t e = 0; e < paths->n_paths; e++)
        for (int64_t r = paths->off[e]; r < paths->off[e + 1]; r++)
            g->t_index[r] = (int32_t)(r - paths->off[e]);
    *n_rows = N;
    return ORL_OK;
}

static void predict_rows(orl_npg *g, const orl_npg_paths *paths, int64_t n_rows, float *b) {
    const int32_t C = g->cfg.chunk;
    for (int64_t r0 = 0; r0 < n_rows; r0 += C) {
        int32_t batch = (int32_t)(n_rows - r0 < C ? n_rows - r0 : C);
        baseline_features(g, paths, NULL, r0, batch);
        const float *y = orl_fit_forward(&g->baseline, g->feat, batch);
        memcpy(b + r0, y, (size_t)batch * sizeof(float));
    }
}

void orl_npg_baseline_predict(orl_npg *g, const orl_npg_paths *paths, float *b) {
    int64_t N = 0;
    if (index_paths(g, paths, &N) != ORL_OK) return;
    predict_rows(g, paths, N, b);
}

/* one epoch-wise fit of the baseline onto ret (mjrl MLPBaseline.fit: a permutation, then
 * N / batch - 1 batches of it, at least one) */
static orl_status baseline_fit(orl_npg *g, const orl_npg_paths *paths, int64_t n_rows,
                               orl_rng *rng) {
    const int32_t bb = (int32_t)(g->cfg.baseline_batch < n_rows ? g->cfg.baseline_batch : n_rows);
    for (int32_t ep = 0; ep < g->cfg.baseline_epochs; ep++) {
        for (int64_t i = 0; i < n_rows; i++) g->perm[i] = i;
        for (int64_t i = n_rows - 1; i > 0; i--) {
            int64_t j = orl_rng_range(rng, 0, i);
            int64_t t = g->perm[i];
            g->perm[i] = g->perm[j], g->perm[j] = t;
        }
        int64_t n_batches = n_rows / bb - 1;
        if (n_batches < 1) n_batches = 1;
        for (int64_t mb = 0; mb < n_batches; mb++) {
            baseline_features(g, paths, g->perm, mb * bb, bb);
            for (int32_t b = 0; b < bb; b++) g->target[b] = g->ret[g->perm[mb * bb + b]];
            const float *y = orl_fit_forward(&g->baseline, g->feat, bb);
            for (int32_t b = 0; b < bb; b++) g->dval[b] = 2.0f * (y[b] - g->target[b]) / (float)bb;
            orl_fit_backward(&g->baseline, g->dval, NULL);
            orl_fit_step(&g->baseline, -1.0f);
        }
    }
    if (!orl_params_finite(g->baseline.net.params, g->baseline.net.n_params))
        ORL_FAIL(ORL_ERR_NUMERIC, "npg: the baseline's parameters are not finite");
    return ORL_OK;
}

orl_status orl_npg_update(orl_npg *g, const orl_npg_paths *paths, orl_rng *rng,
                          orl_npg_stats *stats) {
    orl_npg_stats local;
    orl_npg_stats *out = stats ? stats : &local;
    memset(out, 0, sizeof *out);
    int64_t N = 0;
    ORL_TRY(index_paths(g, paths, &N));
    const int32_t A = g->cfg.act_dim, S = g->cfg.obs_dim, C = g->cfg.chunk;
    const int64_t P = g->n_params, Pm = g->n_mean;
    const double gamma = g->cfg.gamma, lambda = g->cfg.gae_lambda;
    double t0 = cpu_seconds();

    /* returns, and the baseline's predictions before its fit */
    double ret_sum = 0.0;
    for (int32_t e = 0; e < paths->n_paths; e++) {
        double run = 0.0;
        for (int64_t r = paths->off[e + 1] - 1; r >= paths->off[e]; r--) {
            run = (double)paths->rew[r] + gamma * run;
            g->ret[r] = (float)run;
            ret_sum += (double)paths->rew[r];
        }
    }
    out->mean_return = ret_sum / paths->n_paths;
    out->mean_length = (double)N / paths->n_paths;
    predict_rows(g, paths, N, g->base);
    double bl = 0.0;
    for (int64_t r = 0; r < N; r++) {
        double d = (double)g->base[r] - (double)g->ret[r];
        bl += d * d;
    }
    out->baseline_loss = bl / (double)N;
    double t1 = cpu_seconds();

    /* GAE: the value after an ended path is 0, after a cut one its last prediction */
    for (int32_t e = 0; e < paths->n_paths; e++) {
        int64_t last = paths->off[e + 1] - 1;
        double next_v = paths->terminated[e] ? 0.0 : (double)g->base[last], gae = 0.0;
        for (int64_t r = last; r >= paths->off[e]; r--) {
            double delta = (double)paths->rew[r] + gamma * next_v - (double)g->base[r];
            gae = delta + gamma * lambda * gae;
            g->adv[r] = (float)gae;
            next_v = (double)g->base[r];
        }
    }
    double mean = 0.0, var = 0.0;
    for (int64_t r = 0; r < N; r++) mean += (double)g->adv[r];
    mean /= (double)N;
    for (int64_t r = 0; r < N; r++) var += ((double)g->adv[r] - mean) * ((double)g->adv[r] - mean);
    double sd = sqrt(var / (double)N) + 1e-6;
    for (int64_t r = 0; r < N; r++) g->adv[r] = (float)(((double)g->adv[r] - mean) / sd);

    /* the vanilla gradient, the natural direction by CG, the normalised step */
    vpg_pass(g, paths->obs, paths->act, g->adv, N, g->vpg, g->mu_old, 1);
    out->vpg_norm = sqrt(dot(g->vpg, g->vpg, P));
    if (!isfinite(out->vpg_norm))
        ORL_FAIL(ORL_ERR_NUMERIC, "npg: the policy gradient is not finite");
    fvp_ctx fc = {g, paths->obs, N};
    orl_npg_cg(fvp_apply, &fc, g->vpg, P, g->cfg.cg_iters, g->cfg.cg_tol, g->dir, g->cg_scratch,
               NULL);
    double gx = dot(g->vpg, g->dir, P);
    double alpha = sqrt(fabs(g->cfg.step_size / (gx + 1e-20)));
    if (!isfinite(alpha)) ORL_FAIL(ORL_ERR_NUMERIC, "npg: the step is not finite");
    out->alpha = alpha;
    memcpy(g->ls_old, g->log_std, (size_t)A * sizeof(float));
    for (int64_t i = 0; i < P; i++)
        g->params[i] = (float)((double)g->params[i] + alpha * g->dir[i]);
    g->hcache_rows = 0; /* the cache was of the parameters before the step */
    double ls_sum = 0.0;
    for (int32_t j = 0; j < A; j++) {
        if (g->log_std[j] < g->cfg.min_log_std) g->log_std[j] = g->cfg.min_log_std;
        ls_sum += (double)g->log_std[j];
    }
    out->log_std_mean = ls_sum / A;
    if (!orl_params_finite(g->params, P))
        ORL_FAIL(ORL_ERR_NUMERIC, "npg: the policy's parameters are not finite after the step");
    (void)Pm;

    /* KL(old || new) and the surrogate after the step */
    double kl = 0.0, surr = 0.0;
    for (int64_t r0 = 0; r0 < N; r0 += C) {
        int32_t batch = (int32_t)(N - r0 < C ? N - r0 : C);
        const float *mu = mean_forward(g, paths->obs + (size_t)r0 * (size_t)S, batch);
        for (int32_t b = 0; b < batch; b++) {
            double logr = 0.0;
            for (int32_t j = 0; j < A; j++) {
                size_t i = (size_t)b * (size_t)A + (size_t)j;
                size_t io = (size_t)(r0 + b) * (size_t)A + (size_t)j;
                double lo = (double)g->ls_old[j], ln = (double)g->log_std[j];
                double so = exp(lo), sn = exp(ln), a = (double)paths->act[io];
                double dm = (double)g->mu_old[io] - (double)mu[i];
                kl += ln - lo + (so * so + dm * dm) / (2.0 * sn * sn) - 0.5;
                double zo = (a - (double)g->mu_old[io]) / so, zn = (a - (double)mu[i]) / sn;
                logr += -0.5 * zn * zn - ln + 0.5 * zo * zo + lo;
            }
            surr += (double)g->adv[r0 + b] * exp(logr);
        }
    }
    out->kl = kl / (double)N;
    out->surrogate = surr / (double)N;
    double t2 = cpu_seconds();

    ORL_TRY(baseline_fit(g, paths, N, rng));
    double t3 = cpu_seconds();
    out->npg_seconds = t2 - t1;
    out->baseline_seconds = (t1 - t0) + (t3 - t2);
    return ORL_OK;
}

orl_status orl_npg_bc(orl_npg *g, const float *obs, const float *act, int64_t n_rows,
                      int32_t epochs, int32_t batch, float lr, orl_rng *rng, double *loss) {
    if (n_rows < 1 || epochs < 0 || batch < 1 || !(lr > 0.0f))
        ORL_FAIL(ORL_ERR_INPUT, "npg bc: expected rows >= 1, epochs >= 0, batch >= 1, lr > 0");
    const int32_t S = g->cfg.obs_dim, A = g->cfg.act_dim;
    orl_fit f;
    orl_fit_config fc = orl_fit_defaults(lr, batch);
    ORL_TRY(orl_fit_init_on(&f, &g->net, &fc));
    g->hcache_rows = 0;
    float *xb = malloc((size_t)batch * (size_t)S * sizeof(float));
    float *ab = malloc((size_t)batch * (size_t)A * sizeof(float));
    float *dout = malloc((size_t)batch * (size_t)A * sizeof(float));
    orl_status st = ORL_OK;
    if (!xb || !ab || !dout) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "npg bc: out of memory");
    int64_t n_batches = n_rows / batch > 0 ? n_rows / batch : 1;
    double epoch_loss = 0.0;
    for (int32_t ep = 0; ep < epochs; ep++) {
        epoch_loss = 0.0;
        for (int64_t mb = 0; mb < n_batches; mb++) {
            for (int32_t b = 0; b < batch; b++) {
                int64_t r = orl_rng_range(rng, 0, n_rows - 1);
                for (int32_t s = 0; s < S; s++)
                    xb[(size_t)b * (size_t)S + (size_t)s] =
                        (obs[(size_t)r * (size_t)S + (size_t)s] - g->obs_mean[s]) / g->obs_std[s];
                memcpy(ab + (size_t)b * (size_t)A, act + (size_t)r * (size_t)A,
                       (size_t)A * sizeof(float));
            }
            const float *y = orl_fit_forward(&f, xb, batch);
            double l = 0.0;
            const size_t n = (size_t)batch * (size_t)A;
            for (size_t i = 0; i < n; i++) {
                double d = (double)y[i] - (double)ab[i];
                l += d * d;
                dout[i] = (float)(2.0 * d / (double)n);
            }
            orl_fit_backward(&f, dout, NULL);
            orl_fit_step(&f, -1.0f);
            epoch_loss += l / (double)n;
        }
        epoch_loss /= (double)n_batches;
        if (!isfinite(epoch_loss))
            ORL_FAIL_GOTO(st, done, ORL_ERR_NUMERIC, "npg bc: loss is not finite in epoch %d", ep);
    }
    if (loss) *loss = epochs > 0 ? epoch_loss : NAN;
done:
    free(xb);
    free(ab);
    free(dout);
    orl_fit_free(&f);
    return st;
}

int32_t orl_npg_buffers(orl_npg *g, orl_buffer *out, int32_t cap, int32_t n) {
    orl_buffer_put(out, cap, &n, "npg", "params", g->params, g->n_params * (int64_t)sizeof(float));
    return orl_fit_buffers(&g->baseline, "baseline", out, cap, n);
}

/* the head's raw value for log_std: the inverse of lo + (hi - lo) (tanh(raw) + 1) / 2 */
static float raw_for_log_std(float log_std, float lo, float hi) {
    double u = 2.0 * ((double)log_std - (double)lo) / ((double)hi - (double)lo) - 1.0;
    if (u > 1.0 - 1e-7) u = 1.0 - 1e-7;
    if (u < -1.0 + 1e-7) u = -1.0 + 1e-7;
    return (float)atanh(u);
}

/* writes the policy network's parameters (laid out for dst) from g */
static void fill_policy_network(const orl_npg *g, orl_mlp *dst, float lo, float hi) {
    const orl_mlp *m = &g->net;
    const int32_t L = m->cfg.n_layers, A = g->cfg.act_dim;
    for (int32_t l = 0; l < L; l++) {
        const int32_t n_in = m->cfg.widths[l], n_out = m->cfg.widths[l + 1];
        memcpy(dst->w[l], m->w[l], (size_t)n_out * (size_t)n_in * sizeof(float));
        memcpy(dst->b[l], m->b[l], (size_t)n_out * sizeof(float));
    }
    int32_t n_in = m->cfg.widths[L - 1];
    memset(dst->w[L - 1] + (size_t)A * (size_t)n_in, 0, (size_t)A * (size_t)n_in * sizeof(float));
    for (int32_t j = 0; j < A; j++) dst->b[L - 1][A + j] = raw_for_log_std(g->log_std[j], lo, hi);
}

orl_status orl_npg_export(const orl_npg *g, const orl_policy_info *info, float log_std_min,
                          float log_std_max, orl_policy **out) {
    *out = NULL;
    const int32_t A = g->cfg.act_dim;
    if (!(log_std_min < g->cfg.min_log_std) || !(log_std_max > log_std_min))
        ORL_FAIL(ORL_ERR_INPUT, "npg export: expected log_std_min < min_log_std %g < log_std_max",
                 (double)g->cfg.min_log_std);
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info = *info;
    spec.head = ORL_POLICY_HEAD_GAUSSIAN;
    spec.mlp = g->net.cfg;
    spec.mlp.widths[spec.mlp.n_layers] = 2 * A;
    spec.log_std_min = log_std_min;
    spec.log_std_max = log_std_max;
    orl_mlp tmp;
    int64_t P = 0;
    ORL_TRY(orl_mlp_param_count(&spec.mlp, &P));
    float *params = calloc((size_t)P, sizeof(float));
    if (!params) ORL_FAIL(ORL_ERR_NOMEM, "npg export: out of memory");
    orl_status st = orl_mlp_bind(&tmp, &spec.mlp, params);
    if (st == ORL_OK) {
        fill_policy_network(g, &tmp, log_std_min, log_std_max);
        orl_normalizer norm = {g->cfg.obs_dim, g->obs_mean, g->obs_std};
        st = orl_policy_mlp_create(&spec, &norm, params, NULL, out);
    }
    free(params);
    return st;
}

void orl_npg_sync(const orl_npg *g, orl_policy *p) {
    orl_mlp *dst = orl_policy_mlp_network(p);
    orl_normalizer *norm = orl_policy_mlp_normalizer(p);
    const orl_policy_mlp_spec *spec = orl_policy_mlp_get_spec(p);
    assert(dst && norm && spec && dst->cfg.n_layers == g->net.cfg.n_layers);
    fill_policy_network(g, dst, spec->log_std_min, spec->log_std_max);
    memcpy(norm->mean, g->obs_mean, (size_t)g->cfg.obs_dim * sizeof(float));
    memcpy(norm->std, g->obs_std, (size_t)g->cfg.obs_dim * sizeof(float));
}
