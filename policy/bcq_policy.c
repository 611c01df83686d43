/* The BCQ policies (policy.h, policy_types "bcq" and "bcq_discrete"): batch-constrained acting
 * without the training code.
 *
 * "bcq": a VAE decoder proposes n candidate actions from stored (MEAN) or fresh (SAMPLE)
 * latents, a perturbation network moves each by at most phi times the half-range, and the
 * first critic picks the best; no density (deterministic = 1). "bcq_discrete": the greedy
 * action of a Q-network over the actions the imitation network deems likely enough, with exact
 * (epsilon-)greedy log-probabilities. Each policy is one allocation (the policy, its state, the
 * config text, bounds, normaliser, parameters and latents), laid out by one function for
 * create and load alike; acting writes only into the caller's work, which holds the networks'
 * workspaces for up to 64 states' n candidates (larger batches are acted on in chunks). Not here:
 * training (algorithms/bcq.c). */
#include "orl/policy.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BCQ_ALIGN   64
#define LATENT_CLIP 0.5f  /* as the VAE's decode (heads.h ORL_VAE_LATENT_CLIP) */
#define MAX_WIDTH   65536 /* widest layer */
#define MAX_PARAMS  ((int64_t)1 << 26)
#define MAX_CANDS   4096 /* candidates per state */
#define ACT_CHUNK   64   /* states per pass of act: bounds the work at 64 n rows */

static size_t align_up(size_t n) {
    return (n + BCQ_ALIGN - 1) / BCQ_ALIGN * BCQ_ALIGN;
}

/* a bump allocator over one block: with base NULL it only counts */
typedef struct carve {
    char *base;
    size_t at;
} carve;

static void *carve_take(carve *c, size_t bytes) {
    void *p = c->base ? c->base + c->at : NULL;
    c->at += align_up(bytes);
    return p;
}

/* ---- shared checks and file helpers ---- */

/* a ReLU MLP without LayerNorm from in to out; ORL_ERR_INPUT naming what */
static orl_status check_net(const orl_mlp_config *cfg, int32_t in, int32_t out, const char *what,
                            int64_t *n_params) {
    if (cfg->n_layers < 1 || cfg->n_layers > ORL_MLP_MAX_LAYERS)
        ORL_FAIL(ORL_ERR_INPUT, "%s: %d layers, expected 1..%d", what, cfg->n_layers,
                 ORL_MLP_MAX_LAYERS);
    if (cfg->widths[0] != in || cfg->widths[cfg->n_layers] != out)
        ORL_FAIL(ORL_ERR_INPUT, "%s: widths %d -> %d, expected %d -> %d", what, cfg->widths[0],
                 cfg->widths[cfg->n_layers], in, out);
    for (int32_t l = 0; l <= cfg->n_layers; l++)
        if (cfg->widths[l] < 1 || cfg->widths[l] > MAX_WIDTH)
            ORL_FAIL(ORL_ERR_INPUT, "%s: width %d is %d, expected 1..%d", what, l, cfg->widths[l],
                     MAX_WIDTH);
    if (cfg->activation != ORL_ACTIVATION_RELU || cfg->layer_norm)
        ORL_FAIL(ORL_ERR_INPUT, "%s: BCQ's networks are ReLU MLPs without LayerNorm", what);
    ORL_TRY(orl_mlp_param_count(cfg, n_params));
    if (*n_params > MAX_PARAMS)
        ORL_FAIL(ORL_ERR_INPUT, "%s: %lld parameters, at most %lld", what, (long long)*n_params,
                 (long long)MAX_PARAMS);
    return ORL_OK;
}

static orl_status check_norm(const orl_normalizer *nm, int32_t S, const char *what) {
    if (nm->dim != S)
        ORL_FAIL(ORL_ERR_INPUT, "%s: normaliser of %d dimensions, S = %d", what, nm->dim, S);
    for (int32_t j = 0; j < S; j++)
        if (!isfinite(nm->mean[j]) || !(nm->std[j] > 0.0f) || !isfinite(nm->std[j]))
            ORL_FAIL(ORL_ERR_INPUT, "%s: normaliser dimension %d: mean %g, std %g", what, j,
                     (double)nm->mean[j], (double)nm->std[j]);
    return ORL_OK;
}

/* writes a network under prefix: <prefix>_widths, <prefix>_params */
static orl_status put_net(orl_policy_file *f, const char *prefix, const orl_mlp *m) {
    char key[64];
    snprintf(key, sizeof key, "%s_widths", prefix);
    ORL_TRY(orl_policy_file_put_ints(f, key, m->cfg.widths, m->cfg.n_layers + 1));
    snprintf(key, sizeof key, "%s_params", prefix);
    return orl_policy_file_put_floats(f, key, m->params, m->n_params);
}

/* reads a network's widths under prefix into cfg (ReLU) and checks them against in -> out and
 * the stored parameter count; ORL_ERR_FORMAT naming the file and key */
static orl_status get_net_config(orl_policy_file *f, const char *prefix, int32_t in, int32_t out,
                                 orl_mlp_config *cfg, int64_t *n_params) {
    const char *path = orl_policy_file_path(f);
    char key[64], pkey[64];
    snprintf(key, sizeof key, "%s_widths", prefix);
    snprintf(pkey, sizeof pkey, "%s_params", prefix);
    memset(cfg, 0, sizeof *cfg);
    int64_t n;
    ORL_TRY(orl_policy_file_length(f, key, &n));
    if (n < 2 || n > ORL_MLP_MAX_LAYERS + 1)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': %lld widths, expected 2..%d", path, key,
                 (long long)n, ORL_MLP_MAX_LAYERS + 1);
    cfg->n_layers = (int32_t)n - 1;
    ORL_TRY(orl_policy_file_get_ints(f, key, cfg->widths, n));
    cfg->activation = ORL_ACTIVATION_RELU;
    orl_status st = check_net(cfg, in, out, key, n_params);
    if (st != ORL_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", orl_error_message());
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': %s", path, key, why);
    }
    int64_t stored;
    ORL_TRY(orl_policy_file_length(f, pkey, &stored));
    if (stored != *n_params)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s': %lld values, but %s needs %lld", path, pkey,
                 (long long)stored, key, (long long)*n_params);
    return ORL_OK;
}

static orl_status get_activation(orl_policy_file *f) {
    char text[32];
    ORL_TRY(orl_policy_file_get_text(f, "bcq_activation", text, sizeof text));
    if (strcmp(text, "relu") != 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'bcq_activation': '%s', expected 'relu'",
                 orl_policy_file_path(f), text);
    return ORL_OK;
}

static orl_status get_norm(orl_policy_file *f, orl_normalizer *nm) {
    ORL_TRY(orl_policy_file_get_floats(f, "obs_mean", nm->mean, nm->dim, 0));
    ORL_TRY(orl_policy_file_get_floats(f, "obs_std", nm->std, nm->dim, 0));
    for (int32_t j = 0; j < nm->dim; j++)
        if (!(nm->std[j] > 0.0f))
            ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'obs_std': value %d is %g, expected > 0",
                     orl_policy_file_path(f), j, (double)nm->std[j]);
    return ORL_OK;
}

/* ================= continuous: "bcq" ================= */

typedef struct bcq_impl {
    orl_policy_bcq_spec spec; /* info pointers into the policy's own copies */
    orl_mlp decoder, perturb, critic;
    orl_normalizer norm;
    float *latents; /* (n, Z) */
} bcq_impl;

typedef struct bcq_work {
    int32_t chunk; /* states per pass */
    orl_mlp_work dec, pert, q;
    float *x;      /* (B, S) normalised observations */
    float *dec_in; /* (B n, S + Z) */
    float *cand;   /* (B n, A) decoded candidates */
    float *sa;     /* (B n, S + A) [x, a] for the perturbation, then [x, a'] for the critic */
    float *moved;  /* (B n, A) perturbed candidates */
    void *mem;
} bcq_work;

static const orl_policy_ops bcq_ops;

/* the one layout: lays out (mem NULL: counts) a policy for spec with the given parameter counts */
static size_t bcq_layout(const orl_policy_bcq_spec *spec, size_t config_bytes, const int64_t np[3],
                         char *mem, orl_policy **p_out, bcq_impl **b_out) {
    carve c = {mem, 0};
    size_t S = (size_t)spec->info.obs_dim, A = (size_t)spec->info.act_dim;
    orl_policy *p = carve_take(&c, sizeof(orl_policy));
    bcq_impl *b = carve_take(&c, sizeof(bcq_impl));
    char *config = carve_take(&c, config_bytes);
    float *lo = carve_take(&c, A * sizeof(float)), *hi = carve_take(&c, A * sizeof(float));
    float *mean = carve_take(&c, S * sizeof(float)), *std = carve_take(&c, S * sizeof(float));
    float *pd = carve_take(&c, (size_t)np[0] * sizeof(float));
    float *pp = carve_take(&c, (size_t)np[1] * sizeof(float));
    float *pq = carve_take(&c, (size_t)np[2] * sizeof(float));
    float *lat =
        carve_take(&c, (size_t)spec->n_candidates * (size_t)spec->latent_dim * sizeof(float));
    if (mem) {
        p->impl = b;
        p->config_json = config;
        p->act_low = lo;
        p->act_high = hi;
        b->norm = (orl_normalizer){(int32_t)S, mean, std};
        b->latents = lat;
        /* the views cannot fail: the configurations were checked */
        orl_mlp_bind(&b->decoder, &spec->decoder, pd);
        orl_mlp_bind(&b->perturb, &spec->perturb, pp);
        orl_mlp_bind(&b->critic, &spec->critic, pq);
        *p_out = p;
        *b_out = b;
    }
    return c.at;
}

static orl_status bcq_check(const orl_policy_bcq_spec *spec, int64_t np[3]) {
    const orl_policy_info *in = &spec->info;
    if (in->action_kind != ORL_ACTION_KIND_CONTINUOUS || in->obs_dim < 1 || in->act_dim < 1)
        ORL_FAIL(ORL_ERR_INPUT, "BCQ policy: continuous actions, obs_dim and act_dim >= 1");
    if (!in->act_low || !in->act_high) ORL_FAIL(ORL_ERR_INPUT, "BCQ policy: needs action bounds");
    for (int32_t j = 0; j < in->act_dim; j++)
        if (!(isfinite(in->act_low[j]) && isfinite(in->act_high[j]) &&
              in->act_low[j] < in->act_high[j]))
            ORL_FAIL(ORL_ERR_INPUT, "BCQ policy: action bound %d [%g, %g]: expected finite lo < hi",
                     j, (double)in->act_low[j], (double)in->act_high[j]);
    if (spec->latent_dim < 1 || spec->n_candidates < 1 || spec->n_candidates > MAX_CANDS)
        ORL_FAIL(ORL_ERR_INPUT,
                 "BCQ policy: latent_dim %d, n_candidates %d: expected >= 1 (n <= %d)",
                 spec->latent_dim, spec->n_candidates, MAX_CANDS);
    if (!(spec->phi >= 0.0f) || !isfinite(spec->phi))
        ORL_FAIL(ORL_ERR_INPUT, "BCQ policy: phi %g, expected a finite number >= 0",
                 (double)spec->phi);
    int32_t S = in->obs_dim, A = in->act_dim, Z = spec->latent_dim;
    ORL_TRY(check_net(&spec->decoder, S + Z, A, "BCQ policy decoder", &np[0]));
    ORL_TRY(check_net(&spec->perturb, S + A, A, "BCQ policy perturbation", &np[1]));
    ORL_TRY(check_net(&spec->critic, S + A, 1, "BCQ policy critic", &np[2]));
    return ORL_OK;
}

/* allocates a BCQ policy for a checked spec: zero parameters, identity normaliser */
static orl_status bcq_build(const orl_policy_bcq_spec *spec, const int64_t np[3],
                            orl_policy **out) {
    const orl_policy_info *in = &spec->info;
    const char *config = in->config_json ? in->config_json : "{}";
    size_t config_bytes = strlen(config) + 1;
    size_t bytes = bcq_layout(spec, config_bytes, np, NULL, NULL, NULL);
    char *mem = aligned_alloc(BCQ_ALIGN, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "BCQ policy: %zu bytes", bytes);
    memset(mem, 0, bytes);
    orl_policy *p;
    bcq_impl *b;
    bcq_layout(spec, config_bytes, np, mem, &p, &b);
    p->ops = &bcq_ops;
    snprintf(p->algorithm, sizeof p->algorithm, "%s", in->algorithm ? in->algorithm : "bcq");
    memcpy(p->config_json, config, config_bytes);
    p->obs_dim = in->obs_dim;
    p->act_dim = in->act_dim;
    p->action_kind = ORL_ACTION_KIND_CONTINUOUS;
    p->n_actions = 0;
    p->deterministic = 1; /* no tractable density */
    memcpy(p->act_low, in->act_low, (size_t)in->act_dim * sizeof(float));
    memcpy(p->act_high, in->act_high, (size_t)in->act_dim * sizeof(float));
    for (int32_t j = 0; j < in->obs_dim; j++) b->norm.mean[j] = 0.0f, b->norm.std[j] = 1.0f;
    b->spec = *spec;
    b->spec.info.algorithm = p->algorithm;
    b->spec.info.config_json = p->config_json;
    b->spec.info.act_low = p->act_low;
    b->spec.info.act_high = p->act_high;
    *out = p;
    return ORL_OK;
}

orl_status orl_policy_bcq_create(const orl_policy_bcq_spec *spec, const orl_normalizer *obs_norm,
                                 const float *decoder_params, const float *perturb_params,
                                 const float *critic_params, const float *latents,
                                 orl_policy **out) {
    assert(spec && decoder_params && perturb_params && critic_params && latents && out);
    *out = NULL;
    int64_t np[3];
    ORL_TRY(bcq_check(spec, np));
    if (obs_norm) ORL_TRY(check_norm(obs_norm, spec->info.obs_dim, "BCQ policy"));
    const float *params[3] = {decoder_params, perturb_params, critic_params};
    for (int i = 0; i < 3; i++)
        if (!orl_params_finite(params[i], np[i]))
            ORL_FAIL(ORL_ERR_INPUT, "BCQ policy: network %d's parameters are not all finite", i);
    int64_t nz = (int64_t)spec->n_candidates * spec->latent_dim;
    for (int64_t i = 0; i < nz; i++)
        if (!(latents[i] >= -LATENT_CLIP && latents[i] <= LATENT_CLIP))
            ORL_FAIL(ORL_ERR_INPUT, "BCQ policy: latent %lld is %g, expected in [-0.5, 0.5]",
                     (long long)i, (double)latents[i]);
    orl_policy *p;
    ORL_TRY(bcq_build(spec, np, &p));
    bcq_impl *b = p->impl;
    orl_params_copy(b->decoder.params, decoder_params, np[0]);
    orl_params_copy(b->perturb.params, perturb_params, np[1]);
    orl_params_copy(b->critic.params, critic_params, np[2]);
    memcpy(b->latents, latents, (size_t)nz * sizeof(float));
    if (obs_norm) {
        memcpy(b->norm.mean, obs_norm->mean, (size_t)spec->info.obs_dim * sizeof(float));
        memcpy(b->norm.std, obs_norm->std, (size_t)spec->info.obs_dim * sizeof(float));
    }
    *out = p;
    return ORL_OK;
}

int orl_policy_bcq_views(orl_policy *p, orl_policy_bcq_view *v) {
    memset(v, 0, sizeof *v);
    if (!p || p->ops != &bcq_ops) return 0;
    bcq_impl *b = p->impl;
    v->spec = &b->spec;
    v->decoder = &b->decoder;
    v->perturb = &b->perturb;
    v->critic = &b->critic;
    v->norm = &b->norm;
    v->latents = b->latents;
    return 1;
}

static orl_status bcq_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    const bcq_impl *b = p->impl;
    int32_t n = b->spec.n_candidates;
    int32_t chunk = max_batch < ACT_CHUNK ? max_batch : ACT_CHUNK;
    int32_t rows = chunk * n;
    size_t R = (size_t)rows, S = (size_t)p->obs_dim, A = (size_t)p->act_dim;
    size_t Z = (size_t)b->spec.latent_dim;
    carve c = {NULL, 0};
    carve_take(&c, sizeof(bcq_work));
    size_t floats_at = c.at;
    size_t floats = (size_t)chunk * S + R * (S + Z) + R * A + R * (S + A) + R * A;
    char *mem = aligned_alloc(BCQ_ALIGN, align_up(floats_at + floats * sizeof(float)));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "BCQ policy work");
    bcq_work *w = (bcq_work *)(void *)mem;
    memset(w, 0, sizeof *w);
    w->chunk = chunk;
    float *f = (float *)(void *)(mem + floats_at);
    w->x = f, f += (size_t)chunk * S;
    w->dec_in = f, f += R * (S + Z);
    w->cand = f, f += R * A;
    w->sa = f, f += R * (S + A);
    w->moved = f;
    orl_status st = orl_mlp_work_init(&w->dec, &b->decoder.cfg, rows);
    if (st == ORL_OK) st = orl_mlp_work_init(&w->pert, &b->perturb.cfg, rows);
    if (st == ORL_OK) st = orl_mlp_work_init(&w->q, &b->critic.cfg, rows);
    if (st != ORL_OK) {
        orl_mlp_work_free(&w->dec);
        orl_mlp_work_free(&w->pert);
        orl_mlp_work_free(&w->q);
        free(mem);
        return st;
    }
    *scratch = w;
    return ORL_OK;
}

static void bcq_work_free(void *scratch) {
    bcq_work *w = scratch;
    if (!w) return;
    orl_mlp_work_free(&w->dec);
    orl_mlp_work_free(&w->pert);
    orl_mlp_work_free(&w->q);
    free(w);
}

/* act for batch <= w->chunk states */
static orl_status act_chunk(const orl_policy *p, bcq_work *w, const float *obs, int32_t batch,
                            orl_policy_mode mode, orl_rng *rng, float *act) {
    const bcq_impl *b = p->impl;
    int32_t S = p->obs_dim, A = p->act_dim, Z = b->spec.latent_dim, n = b->spec.n_candidates;
    int32_t rows = batch * n;
    double phi = (double)b->spec.phi;
    orl_normalizer_apply(&b->norm, obs, batch, w->x);

    /* the decoder's input: each state n times, with the stored or fresh latents */
    for (int32_t r = 0; r < rows; r++) {
        float *row = w->dec_in + (size_t)r * (size_t)(S + Z);
        memcpy(row, w->x + (size_t)(r / n) * (size_t)S, (size_t)S * sizeof(float));
        for (int32_t k = 0; k < Z; k++) {
            double v = mode == ORL_POLICY_MODE_SAMPLE
                           ? orl_rng_normal(rng)
                           : (double)b->latents[(size_t)(r % n) * (size_t)Z + (size_t)k];
            v = v > LATENT_CLIP ? LATENT_CLIP : v < -LATENT_CLIP ? -LATENT_CLIP : v;
            row[S + k] = (float)v;
        }
    }
    orl_mlp_forward(&b->decoder, &w->dec, w->dec_in, rows, NULL);
    const float *u = w->dec.out[b->decoder.cfg.n_layers - 1];
    for (int32_t r = 0; r < rows; r++) {
        float *row = w->sa + (size_t)r * (size_t)(S + A);
        memcpy(row, w->x + (size_t)(r / n) * (size_t)S, (size_t)S * sizeof(float));
        for (int32_t j = 0; j < A; j++) {
            double c = 0.5 * ((double)p->act_high[j] + (double)p->act_low[j]);
            double h = 0.5 * ((double)p->act_high[j] - (double)p->act_low[j]);
            float a = (float)(c + h * tanh((double)u[(size_t)r * (size_t)A + (size_t)j]));
            w->cand[(size_t)r * (size_t)A + (size_t)j] = a;
            row[S + j] = a;
        }
    }

    /* the perturbation, then the critic on the moved candidates */
    orl_mlp_forward(&b->perturb, &w->pert, w->sa, rows, NULL);
    const float *xi = w->pert.out[b->perturb.cfg.n_layers - 1];
    for (int32_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < A; j++) {
            size_t i = (size_t)r * (size_t)A + (size_t)j;
            double h = 0.5 * ((double)p->act_high[j] - (double)p->act_low[j]);
            double a = (double)w->cand[i] + phi * h * tanh((double)xi[i]);
            a = a < p->act_low[j] ? p->act_low[j] : a > p->act_high[j] ? p->act_high[j] : a;
            w->moved[i] = (float)a;
            w->sa[(size_t)r * (size_t)(S + A) + (size_t)(S + j)] = (float)a;
        }
    orl_mlp_forward(&b->critic, &w->q, w->sa, rows, NULL);
    const float *q = w->q.out[b->critic.cfg.n_layers - 1];
    for (int32_t bi = 0; bi < batch; bi++) {
        int32_t best = 0;
        for (int32_t k = 1; k < n; k++)
            if (q[bi * n + k] > q[bi * n + best]) best = k;
        if (!isfinite(q[bi * n + best]))
            ORL_FAIL(ORL_ERR_NUMERIC, "BCQ policy act: a row's critic value is not finite");
        memcpy(act + (size_t)bi * (size_t)A, w->moved + (size_t)(bi * n + best) * (size_t)A,
               (size_t)A * sizeof(float));
    }
    return ORL_OK;
}

static orl_status bcq_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                          orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    (void)act_idx;
    bcq_work *w = scratch;
    /* in chunks of states, in order (the draws of SAMPLE follow the rows either way) */
    for (int32_t b0 = 0; b0 < batch; b0 += w->chunk) {
        int32_t m = batch - b0 < w->chunk ? batch - b0 : w->chunk;
        ORL_TRY(act_chunk(p, w, obs + (size_t)b0 * (size_t)p->obs_dim, m, mode, rng,
                          act + (size_t)b0 * (size_t)p->act_dim));
    }
    return ORL_OK;
}

static orl_status bcq_save(const orl_policy *p, orl_policy_file *f) {
    const bcq_impl *b = p->impl;
    ORL_TRY(orl_policy_file_put_text(f, "bcq_activation", "relu"));
    ORL_TRY(orl_policy_file_put_floats(f, "obs_mean", b->norm.mean, p->obs_dim));
    ORL_TRY(orl_policy_file_put_floats(f, "obs_std", b->norm.std, p->obs_dim));
    ORL_TRY(put_net(f, "bcq_decoder", &b->decoder));
    ORL_TRY(put_net(f, "bcq_perturb", &b->perturb));
    ORL_TRY(put_net(f, "bcq_critic", &b->critic));
    ORL_TRY(orl_policy_file_put_floats(f, "bcq_phi", &b->spec.phi, 1));
    ORL_TRY(orl_policy_file_put_ints(f, "bcq_latent_dim", &b->spec.latent_dim, 1));
    return orl_policy_file_put_floats(f, "bcq_latents", b->latents,
                                      (int64_t)b->spec.n_candidates * b->spec.latent_dim);
}

static void plain_free(orl_policy *p) {
    free(p);
}

static orl_status bcq_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out) {
    const char *path = orl_policy_file_path(f);
    if (info->action_kind != ORL_ACTION_KIND_CONTINUOUS)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'action_kind': a BCQ policy of type 'bcq' is continuous",
                 path);
    ORL_TRY(get_activation(f));
    orl_policy_bcq_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info = *info;
    ORL_TRY(orl_policy_file_get_ints(f, "bcq_latent_dim", &spec.latent_dim, 1));
    ORL_TRY(orl_policy_file_get_floats(f, "bcq_phi", &spec.phi, 1, 0));
    int64_t n_lat;
    ORL_TRY(orl_policy_file_length(f, "bcq_latents", &n_lat));
    if (spec.latent_dim < 1 || spec.latent_dim > MAX_WIDTH || n_lat < 1 ||
        n_lat % spec.latent_dim != 0 || n_lat / spec.latent_dim > MAX_CANDS)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: keys 'bcq_latents', 'bcq_latent_dim': %lld values of latent size %d, "
                 "expected n x Z with 1 <= n <= %d",
                 path, (long long)n_lat, spec.latent_dim, MAX_CANDS);
    spec.n_candidates = (int32_t)(n_lat / spec.latent_dim);
    int32_t S = info->obs_dim, A = info->act_dim, Z = spec.latent_dim;
    int64_t np[3];
    ORL_TRY(get_net_config(f, "bcq_decoder", S + Z, A, &spec.decoder, &np[0]));
    ORL_TRY(get_net_config(f, "bcq_perturb", S + A, A, &spec.perturb, &np[1]));
    ORL_TRY(get_net_config(f, "bcq_critic", S + A, 1, &spec.critic, &np[2]));
    orl_status st = bcq_check(&spec, np);
    if (st != ORL_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", orl_error_message());
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s", path, why);
    }
    orl_policy *p;
    ORL_TRY(bcq_build(&spec, np, &p));
    bcq_impl *b = p->impl;
    ORL_TRY_GOTO(st, fail, get_norm(f, &b->norm));
    ORL_TRY_GOTO(st, fail,
                 orl_policy_file_get_floats(f, "bcq_decoder_params", b->decoder.params, np[0], 0));
    ORL_TRY_GOTO(st, fail,
                 orl_policy_file_get_floats(f, "bcq_perturb_params", b->perturb.params, np[1], 0));
    ORL_TRY_GOTO(st, fail,
                 orl_policy_file_get_floats(f, "bcq_critic_params", b->critic.params, np[2], 0));
    ORL_TRY_GOTO(st, fail, orl_policy_file_get_floats(f, "bcq_latents", b->latents, n_lat, 0));
    for (int64_t i = 0; i < n_lat; i++)
        if (!(b->latents[i] >= -LATENT_CLIP && b->latents[i] <= LATENT_CLIP))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_FORMAT,
                          "%s: key 'bcq_latents': value %lld is %g, expected in [-0.5, 0.5]", path,
                          (long long)i, (double)b->latents[i]);
    *out = p;
    return ORL_OK;
fail:
    free(p);
    return st;
}

static const orl_policy_ops bcq_ops = {
    .type = "bcq",
    .work_create = bcq_work_create,
    .work_free = bcq_work_free,
    .act = bcq_act,
    .logp = NULL,
    .save = bcq_save,
    .load = bcq_load,
    .free = plain_free,
};

const orl_policy_ops *orl_policy_bcq_ops(void) {
    return &bcq_ops;
}

/* ================= discrete: "bcq_discrete" ================= */

int32_t orl_bcq_discrete_choose(const float *q, const float *logits, int32_t n, double threshold,
                                uint8_t *allowed) {
    float top = logits[0];
    for (int32_t a = 1; a < n; a++) top = logits[a] > top ? logits[a] : top;
    int32_t best = -1;
    for (int32_t a = 0; a < n; a++) {
        /* pi_b(a) / max pi_b = exp(logit_a - max logit): the softmax's normaliser cancels */
        int ok = exp((double)logits[a] - (double)top) > threshold;
        if (allowed) allowed[a] = (uint8_t)ok;
        if (ok && (best < 0 || q[a] > q[best])) best = a;
    }
    return best < 0 ? 0 : best; /* best < 0 only with NaN logits */
}

typedef struct bcqd_impl {
    orl_policy_bcq_discrete_spec spec;
    orl_mlp q, imitation;
    orl_normalizer norm;
} bcqd_impl;

typedef struct bcqd_work {
    orl_mlp_work q, imitation;
    float *x;      /* (B, S) */
    int32_t *best; /* (B) logp's choices */
} bcqd_work;

static const orl_policy_ops bcqd_ops;

static size_t bcqd_layout(const orl_policy_bcq_discrete_spec *spec, size_t config_bytes,
                          const int64_t np[2], char *mem, orl_policy **p_out, bcqd_impl **b_out) {
    carve c = {mem, 0};
    size_t S = (size_t)spec->info.obs_dim;
    orl_policy *p = carve_take(&c, sizeof(orl_policy));
    bcqd_impl *b = carve_take(&c, sizeof(bcqd_impl));
    char *config = carve_take(&c, config_bytes);
    float *mean = carve_take(&c, S * sizeof(float)), *std = carve_take(&c, S * sizeof(float));
    float *pq = carve_take(&c, (size_t)np[0] * sizeof(float));
    float *pi = carve_take(&c, (size_t)np[1] * sizeof(float));
    if (mem) {
        p->impl = b;
        p->config_json = config;
        b->norm = (orl_normalizer){(int32_t)S, mean, std};
        orl_mlp_bind(&b->q, &spec->q, pq);
        orl_mlp_bind(&b->imitation, &spec->imitation, pi);
        *p_out = p;
        *b_out = b;
    }
    return c.at;
}

static orl_status bcqd_check(const orl_policy_bcq_discrete_spec *spec, int64_t np[2]) {
    const orl_policy_info *in = &spec->info;
    if (in->action_kind != ORL_ACTION_KIND_DISCRETE || in->obs_dim < 1 || in->n_actions < 2)
        ORL_FAIL(ORL_ERR_INPUT,
                 "discrete BCQ policy: discrete actions, obs_dim >= 1, n_actions >= 2");
    if (!(spec->threshold >= 0.0f && spec->threshold < 1.0f))
        ORL_FAIL(ORL_ERR_INPUT, "discrete BCQ policy: threshold %g, expected in [0, 1)",
                 (double)spec->threshold);
    if (!(spec->epsilon >= 0.0f && spec->epsilon <= 1.0f))
        ORL_FAIL(ORL_ERR_INPUT, "discrete BCQ policy: epsilon %g, expected in [0, 1]",
                 (double)spec->epsilon);
    ORL_TRY(
        check_net(&spec->q, in->obs_dim, in->n_actions, "discrete BCQ policy Q-network", &np[0]));
    ORL_TRY(check_net(&spec->imitation, in->obs_dim, in->n_actions,
                      "discrete BCQ policy imitation network", &np[1]));
    return ORL_OK;
}

static orl_status bcqd_build(const orl_policy_bcq_discrete_spec *spec, const int64_t np[2],
                             orl_policy **out) {
    const orl_policy_info *in = &spec->info;
    const char *config = in->config_json ? in->config_json : "{}";
    size_t config_bytes = strlen(config) + 1;
    size_t bytes = bcqd_layout(spec, config_bytes, np, NULL, NULL, NULL);
    char *mem = aligned_alloc(BCQ_ALIGN, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "discrete BCQ policy: %zu bytes", bytes);
    memset(mem, 0, bytes);
    orl_policy *p;
    bcqd_impl *b;
    bcqd_layout(spec, config_bytes, np, mem, &p, &b);
    p->ops = &bcqd_ops;
    snprintf(p->algorithm, sizeof p->algorithm, "%s", in->algorithm ? in->algorithm : "bcq");
    memcpy(p->config_json, config, config_bytes);
    p->obs_dim = in->obs_dim;
    p->act_dim = 1;
    p->action_kind = ORL_ACTION_KIND_DISCRETE;
    p->n_actions = in->n_actions;
    p->act_low = p->act_high = NULL;
    p->deterministic = 0; /* exact (epsilon-)greedy log-probabilities */
    for (int32_t j = 0; j < in->obs_dim; j++) b->norm.mean[j] = 0.0f, b->norm.std[j] = 1.0f;
    b->spec = *spec;
    b->spec.info.algorithm = p->algorithm;
    b->spec.info.config_json = p->config_json;
    b->spec.info.act_low = b->spec.info.act_high = NULL;
    *out = p;
    return ORL_OK;
}

orl_status orl_policy_bcq_discrete_create(const orl_policy_bcq_discrete_spec *spec,
                                          const orl_normalizer *obs_norm, const float *q_params,
                                          const float *imitation_params, orl_policy **out) {
    assert(spec && q_params && imitation_params && out);
    *out = NULL;
    int64_t np[2];
    ORL_TRY(bcqd_check(spec, np));
    if (obs_norm) ORL_TRY(check_norm(obs_norm, spec->info.obs_dim, "discrete BCQ policy"));
    if (!orl_params_finite(q_params, np[0]) || !orl_params_finite(imitation_params, np[1]))
        ORL_FAIL(ORL_ERR_INPUT, "discrete BCQ policy: parameters are not all finite");
    orl_policy *p;
    ORL_TRY(bcqd_build(spec, np, &p));
    bcqd_impl *b = p->impl;
    orl_params_copy(b->q.params, q_params, np[0]);
    orl_params_copy(b->imitation.params, imitation_params, np[1]);
    if (obs_norm) {
        memcpy(b->norm.mean, obs_norm->mean, (size_t)spec->info.obs_dim * sizeof(float));
        memcpy(b->norm.std, obs_norm->std, (size_t)spec->info.obs_dim * sizeof(float));
    }
    *out = p;
    return ORL_OK;
}

int orl_policy_bcq_discrete_views(orl_policy *p, orl_mlp **q, orl_mlp **imitation,
                                  orl_normalizer **norm) {
    int ok = p && p->ops == &bcqd_ops;
    bcqd_impl *b = ok ? p->impl : NULL;
    if (q) *q = ok ? &b->q : NULL;
    if (imitation) *imitation = ok ? &b->imitation : NULL;
    if (norm) *norm = ok ? &b->norm : NULL;
    return ok;
}

static orl_status bcqd_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    const bcqd_impl *b = p->impl;
    size_t head = align_up(sizeof(bcqd_work));
    size_t xb = align_up((size_t)max_batch * (size_t)p->obs_dim * sizeof(float));
    char *mem = aligned_alloc(BCQ_ALIGN, head + xb + align_up((size_t)max_batch * sizeof(int32_t)));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "discrete BCQ policy work");
    bcqd_work *w = (bcqd_work *)(void *)mem;
    memset(w, 0, sizeof *w);
    w->x = (float *)(void *)(mem + head);
    w->best = (int32_t *)(void *)(mem + head + xb);
    orl_status st = orl_mlp_work_init(&w->q, &b->q.cfg, max_batch);
    if (st == ORL_OK) st = orl_mlp_work_init(&w->imitation, &b->imitation.cfg, max_batch);
    if (st != ORL_OK) {
        orl_mlp_work_free(&w->q);
        orl_mlp_work_free(&w->imitation);
        free(mem);
        return st;
    }
    *scratch = w;
    return ORL_OK;
}

static void bcqd_work_free(void *scratch) {
    bcqd_work *w = scratch;
    if (!w) return;
    orl_mlp_work_free(&w->q);
    orl_mlp_work_free(&w->imitation);
    free(w);
}

/* the choices best (B) for obs (B, S) */
static orl_status bcqd_choose(const orl_policy *p, bcqd_work *w, const float *obs, int32_t batch,
                              int32_t *best) {
    const bcqd_impl *b = p->impl;
    int32_t n = p->n_actions;
    orl_normalizer_apply(&b->norm, obs, batch, w->x);
    orl_mlp_forward(&b->q, &w->q, w->x, batch, NULL);
    orl_mlp_forward(&b->imitation, &w->imitation, w->x, batch, NULL);
    const float *q = w->q.out[b->q.cfg.n_layers - 1];
    const float *logits = w->imitation.out[b->imitation.cfg.n_layers - 1];
    for (int32_t r = 0; r < batch; r++) {
        for (int32_t a = 0; a < n; a++)
            if (!isfinite(q[(size_t)r * (size_t)n + (size_t)a]) ||
                !isfinite(logits[(size_t)r * (size_t)n + (size_t)a]))
                ORL_FAIL(ORL_ERR_NUMERIC,
                         "discrete BCQ policy: row %d: a Q-value or logit is not finite", r);
        best[r] = orl_bcq_discrete_choose(q + (size_t)r * (size_t)n, logits + (size_t)r * (size_t)n,
                                          n, (double)b->spec.threshold, NULL);
    }
    return ORL_OK;
}

static orl_status bcqd_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                           orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    (void)act;
    const bcqd_impl *b = p->impl;
    ORL_TRY(bcqd_choose(p, scratch, obs, batch, act_idx));
    double eps = (double)b->spec.epsilon;
    if (mode != ORL_POLICY_MODE_SAMPLE || eps == 0.0) return ORL_OK;
    int32_t n = p->n_actions;
    for (int32_t r = 0; r < batch; r++) {
        /* one draw: u < eps is the uniform branch, and u / eps is uniform on [0, 1) there */
        double u = orl_rng_uniform(rng);
        if (u < eps) {
            int32_t a = (int32_t)(u / eps * (double)n);
            act_idx[r] = a < n ? a : n - 1;
        }
    }
    return ORL_OK;
}

static orl_status bcqd_logp(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                            const float *act, const int32_t *act_idx, double *logp) {
    (void)act;
    const bcqd_impl *b = p->impl;
    bcqd_work *w = scratch;
    int32_t n = p->n_actions;
    double eps = (double)b->spec.epsilon, other = eps / (double)n;
    ORL_TRY(bcqd_choose(p, w, obs, batch, w->best));
    for (int32_t r = 0; r < batch; r++)
        logp[r] = act_idx[r] == w->best[r] ? log(1.0 - eps + other)
                                           : (eps > 0.0 ? log(other) : -INFINITY);
    return ORL_OK;
}

static orl_status bcqd_save(const orl_policy *p, orl_policy_file *f) {
    const bcqd_impl *b = p->impl;
    ORL_TRY(orl_policy_file_put_text(f, "bcq_activation", "relu"));
    ORL_TRY(orl_policy_file_put_floats(f, "obs_mean", b->norm.mean, p->obs_dim));
    ORL_TRY(orl_policy_file_put_floats(f, "obs_std", b->norm.std, p->obs_dim));
    ORL_TRY(put_net(f, "bcq_q", &b->q));
    ORL_TRY(put_net(f, "bcq_imitation", &b->imitation));
    ORL_TRY(orl_policy_file_put_floats(f, "bcq_threshold", &b->spec.threshold, 1));
    return orl_policy_file_put_floats(f, "bcq_epsilon", &b->spec.epsilon, 1);
}

static orl_status bcqd_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out) {
    const char *path = orl_policy_file_path(f);
    if (info->action_kind != ORL_ACTION_KIND_DISCRETE)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'action_kind': a 'bcq_discrete' policy is discrete",
                 path);
    ORL_TRY(get_activation(f));
    orl_policy_bcq_discrete_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info = *info;
    ORL_TRY(orl_policy_file_get_floats(f, "bcq_threshold", &spec.threshold, 1, 0));
    ORL_TRY(orl_policy_file_get_floats(f, "bcq_epsilon", &spec.epsilon, 1, 0));
    int64_t np[2];
    ORL_TRY(get_net_config(f, "bcq_q", info->obs_dim, info->n_actions, &spec.q, &np[0]));
    ORL_TRY(get_net_config(f, "bcq_imitation", info->obs_dim, info->n_actions, &spec.imitation,
                           &np[1]));
    orl_status st = bcqd_check(&spec, np);
    if (st != ORL_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", orl_error_message());
        ORL_FAIL(ORL_ERR_FORMAT, "%s: %s", path, why);
    }
    orl_policy *p;
    ORL_TRY(bcqd_build(&spec, np, &p));
    bcqd_impl *b = p->impl;
    ORL_TRY_GOTO(st, fail, get_norm(f, &b->norm));
    ORL_TRY_GOTO(st, fail, orl_policy_file_get_floats(f, "bcq_q_params", b->q.params, np[0], 0));
    ORL_TRY_GOTO(
        st, fail,
        orl_policy_file_get_floats(f, "bcq_imitation_params", b->imitation.params, np[1], 0));
    *out = p;
    return ORL_OK;
fail:
    free(p);
    return st;
}

static const orl_policy_ops bcqd_ops = {
    .type = "bcq_discrete",
    .work_create = bcqd_work_create,
    .work_free = bcqd_work_free,
    .act = bcqd_act,
    .logp = bcqd_logp,
    .save = bcqd_save,
    .load = bcqd_load,
    .free = plain_free,
};

const orl_policy_ops *orl_policy_bcq_discrete_ops(void) {
    return &bcqd_ops;
}
