/* BCQ's conditional VAE of the behaviour policy: encoder MLP on [s, a] -> [mu | log_sigma],
 * reparameterised latent z = mu + sigma eps, decoder MLP on [s, z] -> tanh -> action bounds.
 *
 * Loss, as in Fujimoto et al.'s BCQ code: recon (mean over B*A of squared error) + 0.5 KL
 * (mean over B*Z). log_sigma is clamped hard to [-4, 15] like torch.clamp (zero gradient
 * outside). Decoding for sampling clips z ~ N(0, 1) to [-0.5, 0.5]. One allocation for the model
 * (both networks' parameters and the bounds), one for the workspace; none in forward, backward
 * or decode. Does not train: algorithms/bcq.c owns the optimizer. */
#include "orl/heads.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* bytes rounded up to a multiple of 64, for aligned_alloc */
static size_t round64(size_t n) {
    return (n + 63) & ~(size_t)63;
}

static void half_range(const orl_vae *vae, int32_t j, double *c, double *s) {
    *c = 0.5 * ((double)vae->hi[j] + (double)vae->lo[j]);
    *s = 0.5 * ((double)vae->hi[j] - (double)vae->lo[j]);
}

static void net_config(orl_mlp_config *m, const orl_vae_config *cfg, int32_t in, int32_t out) {
    memset(m, 0, sizeof(*m));
    m->n_layers = cfg->n_hidden + 1;
    m->widths[0] = in;
    for (int32_t l = 1; l <= cfg->n_hidden; l++) m->widths[l] = cfg->hidden;
    m->widths[m->n_layers] = out;
    m->activation = cfg->activation;
    m->layer_norm = 0;
    m->init = ORL_INIT_FAN_IN_UNIFORM;
    m->last_scale = 0.0f;
}

orl_status orl_vae_create(orl_vae *vae, const orl_vae_config *cfg, const float *lo, const float *hi,
                          orl_rng *rng) {
    memset(vae, 0, sizeof(*vae));
    if (cfg->obs_dim < 0 || cfg->act_dim <= 0 || cfg->latent_dim <= 0 || cfg->hidden <= 0)
        ORL_FAIL(ORL_ERR_INPUT,
                 "vae: obs_dim %d, act_dim %d, latent_dim %d, hidden %d must be "
                 "positive (obs_dim may be 0)",
                 cfg->obs_dim, cfg->act_dim, cfg->latent_dim, cfg->hidden);
    if (cfg->n_hidden < 1 || cfg->n_hidden > ORL_MLP_MAX_LAYERS - 1)
        ORL_FAIL(ORL_ERR_INPUT, "vae: n_hidden %d not in [1, %d]", cfg->n_hidden,
                 ORL_MLP_MAX_LAYERS - 1);
    if ((lo == NULL) != (hi == NULL))
        ORL_FAIL(ORL_ERR_INPUT, "vae: action bounds lo and hi must both be given or both NULL");
    int32_t S = cfg->obs_dim, A = cfg->act_dim, Z = cfg->latent_dim;
    for (int32_t j = 0; lo && j < A; j++)
        if (!(lo[j] < hi[j]))
            ORL_FAIL(ORL_ERR_INPUT, "vae: action bound %d: lo %g is not below hi %g", j,
                     (double)lo[j], (double)hi[j]);

    orl_mlp_config ec, dc;
    net_config(&ec, cfg, S + A, 2 * Z);
    net_config(&dc, cfg, S + Z, A);
    int64_t pe, pd;
    ORL_TRY(orl_mlp_param_count(&ec, &pe));
    ORL_TRY(orl_mlp_param_count(&dc, &pd));

    size_t n_floats = (size_t)(pe + pd) + 2 * (size_t)A;
    void *mem = aligned_alloc(64, round64(n_floats * sizeof(float)));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "vae: %zu parameters", n_floats);
    vae->cfg = *cfg;
    vae->mem = mem;
    vae->params = (float *)mem;
    vae->n_params = pe + pd;
    vae->lo = vae->params + pe + pd;
    vae->hi = vae->lo + A;
    for (int32_t j = 0; j < A; j++) {
        vae->lo[j] = lo ? lo[j] : -1.0f;
        vae->hi[j] = hi ? hi[j] : 1.0f;
    }
    orl_status st = orl_mlp_bind(&vae->enc, &ec, vae->params);
    if (st == ORL_OK) st = orl_mlp_bind(&vae->dec, &dc, vae->params + pe);
    if (st != ORL_OK) {
        free(mem);
        memset(vae, 0, sizeof(*vae));
        return st;
    }
    orl_mlp_init_params(&vae->enc, rng);
    orl_mlp_init_params(&vae->dec, rng);
    return ORL_OK;
}

void orl_vae_free(orl_vae *vae) {
    if (!vae) return;
    free(vae->mem);
    memset(vae, 0, sizeof(*vae));
}

orl_status orl_vae_work_init(orl_vae_work *w, const orl_vae *vae, int32_t max_batch) {
    memset(w, 0, sizeof(*w));
    if (max_batch <= 0) ORL_FAIL(ORL_ERR_INPUT, "vae: max_batch %d must be positive", max_batch);
    size_t B = (size_t)max_batch;
    size_t S = (size_t)vae->cfg.obs_dim, A = (size_t)vae->cfg.act_dim;
    size_t Z = (size_t)vae->cfg.latent_dim;
    /* enc_in, enc_out, eps, dec_in, recon, act, d_enc_out, d_dec_out, d_dec_in, d_enc_in */
    size_t n_floats = B * ((S + A) + 2 * Z + Z + (S + Z) + A + A + 2 * Z + A + (S + Z) + (S + A));
    float *p = aligned_alloc(64, round64(n_floats * sizeof(float)));
    if (!p) ORL_FAIL(ORL_ERR_NOMEM, "vae: workspace for batch %d", max_batch);
    w->mem = p;
    w->max_batch = max_batch;
    w->enc_in = p, p += B * (S + A);
    w->enc_out = p, p += B * 2 * Z;
    w->eps = p, p += B * Z;
    w->dec_in = p, p += B * (S + Z);
    w->recon = p, p += B * A;
    w->act = p, p += B * A;
    w->d_enc_out = p, p += B * 2 * Z;
    w->d_dec_out = p, p += B * A;
    w->d_dec_in = p, p += B * (S + Z);
    w->d_enc_in = p;
    orl_status st = orl_mlp_work_init(&w->enc, &vae->enc.cfg, max_batch);
    if (st == ORL_OK) {
        st = orl_mlp_work_init(&w->dec, &vae->dec.cfg, max_batch);
        if (st != ORL_OK) orl_mlp_work_free(&w->enc);
    }
    if (st != ORL_OK) {
        free(w->mem);
        memset(w, 0, sizeof(*w));
    }
    return st;
}

void orl_vae_work_free(orl_vae_work *w) {
    if (!w || !w->mem) return;
    orl_mlp_work_free(&w->enc);
    orl_mlp_work_free(&w->dec);
    free(w->mem);
    memset(w, 0, sizeof(*w));
}

static double clamp_log_sigma(double raw) {
    if (raw < (double)ORL_VAE_LOG_SIGMA_MIN) return (double)ORL_VAE_LOG_SIGMA_MIN;
    if (raw > (double)ORL_VAE_LOG_SIGMA_MAX) return (double)ORL_VAE_LOG_SIGMA_MAX;
    return raw;
}

/* decoder forward on w->dec_in, then act (B, A) = c + s tanh(u) */
/* act (B, A) = c + s tanh(u) of the decoder's output u (B, A) in w->dec */
static void decode_finish(const orl_vae *vae, orl_vae_work *w, int32_t batch, float *act) {
    int32_t A = vae->cfg.act_dim;
    const float *u = w->dec.out[vae->dec.cfg.n_layers - 1]; /* (B, A) */
    /* the tanh of every element in one vector pass, then the bounds */
    orl_tanh_fill(act, u, (int64_t)batch * A);
    for (int32_t b = 0; b < batch; b++) {
        for (int32_t j = 0; j < A; j++) {
            size_t i = (size_t)b * (size_t)A + (size_t)j;
            double c, s;
            half_range(vae, j, &c, &s);
            act[i] = (float)(c + s * (double)act[i]);
        }
    }
}

static void decode_from_dec_in(const orl_vae *vae, orl_vae_work *w, int32_t batch, float *act) {
    orl_mlp_forward(&vae->dec, &w->dec, w->dec_in, batch, NULL);
    decode_finish(vae, w, batch, act);
}

orl_status orl_vae_forward(const orl_vae *vae, orl_vae_work *w, const float *obs, const float *act,
                           int32_t batch, const float *eps, orl_rng *rng, double *loss) {
    assert(batch > 0 && batch <= w->max_batch);
    assert(eps || rng);
    int32_t S = vae->cfg.obs_dim, A = vae->cfg.act_dim, Z = vae->cfg.latent_dim;
    size_t B = (size_t)batch;
    w->batch = batch;

    /* encoder on [s, a] */
    for (size_t b = 0; b < B; b++) {
        float *row = w->enc_in + b * (size_t)(S + A);
        if (S > 0) memcpy(row, obs + b * (size_t)S, (size_t)S * sizeof(float));
        memcpy(row + S, act + b * (size_t)A, (size_t)A * sizeof(float));
    }
    memcpy(w->act, act, B * (size_t)A * sizeof(float));
    orl_mlp_forward(&vae->enc, &w->enc, w->enc_in, batch, w->enc_out);

    /* reparameterised latent and the KL term */
    if (eps)
        memcpy(w->eps, eps, B * (size_t)Z * sizeof(float));
    else
        orl_normal_fill(w->eps, (int64_t)(B * (size_t)Z), rng);
    double kl = 0.0;
    for (size_t b = 0; b < B; b++) {
        const float *mu = w->enc_out + b * 2 * (size_t)Z;
        const float *raw = mu + Z;
        float *row = w->dec_in + b * (size_t)(S + Z);
        if (S > 0) memcpy(row, obs + b * (size_t)S, (size_t)S * sizeof(float));
        for (int32_t k = 0; k < Z; k++) {
            double m = (double)mu[k];
            double ls = clamp_log_sigma((double)raw[k]);
            double sigma = exp(ls);
            row[S + k] = (float)(m + sigma * (double)w->eps[b * (size_t)Z + (size_t)k]);
            kl += -0.5 * (1.0 + 2.0 * ls - m * m - sigma * sigma);
        }
    }
    kl /= (double)(B * (size_t)Z);

    /* decoder and reconstruction error */
    decode_from_dec_in(vae, w, batch, w->recon);
    double recon = 0.0;
    for (size_t i = 0; i < B * (size_t)A; i++) {
        double d = (double)w->recon[i] - (double)act[i];
        recon += d * d;
    }
    recon /= (double)(B * (size_t)A);

    w->recon_loss = recon;
    w->kl_loss = kl;
    *loss = recon + ORL_VAE_KL_WEIGHT * kl;
    if (!isfinite(*loss))
        ORL_FAIL(ORL_ERR_NUMERIC, "vae: loss is %g (recon %g, kl %g)", *loss, recon, kl);
    return ORL_OK;
}

void orl_vae_backward(const orl_vae *vae, orl_vae_work *w, float *dparams, float scale, float *dobs,
                      float *dact) {
    int32_t S = vae->cfg.obs_dim, A = vae->cfg.act_dim, Z = vae->cfg.latent_dim;
    size_t B = (size_t)w->batch;
    const float *u = w->dec.out[vae->dec.cfg.n_layers - 1]; /* (B, A) */

    /* reconstruction: d/du of mean (c + s tanh(u) - a)^2 */
    double gr = (double)scale * 2.0 / (double)(B * (size_t)A);
    orl_tanh_fill(w->d_dec_out, u, (int64_t)(B * (size_t)A)); /* tanh(u), the decoder's */
    for (size_t b = 0; b < B; b++) {
        for (int32_t j = 0; j < A; j++) {
            size_t i = b * (size_t)A + (size_t)j;
            double c, s;
            half_range(vae, j, &c, &s);
            double y = (double)w->d_dec_out[i];
            w->d_dec_out[i] =
                (float)(gr * ((double)w->recon[i] - (double)w->act[i]) * s * (1.0 - y * y));
        }
    }
    memset(w->d_dec_in, 0, B * (size_t)(S + Z) * sizeof(float));
    orl_mlp_backward(&vae->dec, &w->dec, w->d_dec_out, dparams ? dparams + vae->enc.n_params : NULL,
                     w->d_dec_in);

    /* through z = mu + sigma eps and the KL term to the encoder output */
    double gk = (double)scale * ORL_VAE_KL_WEIGHT / (double)(B * (size_t)Z);
    for (size_t b = 0; b < B; b++) {
        const float *mu = w->enc_out + b * 2 * (size_t)Z;
        const float *raw = mu + Z;
        float *dmu = w->d_enc_out + b * 2 * (size_t)Z;
        float *draw = dmu + Z;
        for (int32_t k = 0; k < Z; k++) {
            double dz = (double)w->d_dec_in[b * (size_t)(S + Z) + (size_t)(S + k)];
            double m = (double)mu[k];
            double r = (double)raw[k];
            double sigma = exp(clamp_log_sigma(r));
            double e = (double)w->eps[b * (size_t)Z + (size_t)k];
            dmu[k] = (float)(dz + gk * m);
            /* torch.clamp passes the gradient on [min, max], zero outside */
            int inside = r >= (double)ORL_VAE_LOG_SIGMA_MIN && r <= (double)ORL_VAE_LOG_SIGMA_MAX;
            draw[k] = inside ? (float)(dz * sigma * e + gk * (sigma * sigma - 1.0)) : 0.0f;
        }
    }
    int want_inputs = dobs || dact;
    if (want_inputs) memset(w->d_enc_in, 0, B * (size_t)(S + A) * sizeof(float));
    orl_mlp_backward(&vae->enc, &w->enc, w->d_enc_out, dparams, want_inputs ? w->d_enc_in : NULL);
    if (!want_inputs) return;

    /* the state enters both networks; the action enters the encoder and the reconstruction
     * error directly */
    for (size_t b = 0; b < B; b++) {
        const float *de = w->d_enc_in + b * (size_t)(S + A);
        const float *dd = w->d_dec_in + b * (size_t)(S + Z);
        if (dobs)
            for (int32_t i = 0; i < S; i++) dobs[b * (size_t)S + (size_t)i] += de[i] + dd[i];
        if (dact)
            for (int32_t j = 0; j < A; j++) {
                size_t i = b * (size_t)A + (size_t)j;
                dact[i] += de[S + j] - (float)(gr * ((double)w->recon[i] - (double)w->act[i]));
            }
    }
}

void orl_vae_decode(const orl_vae *vae, orl_vae_work *w, const float *obs, const float *z,
                    int32_t batch, orl_rng *rng, float *act) {
    assert(batch > 0 && batch <= w->max_batch);
    assert(z || rng);
    int32_t S = vae->cfg.obs_dim, Z = vae->cfg.latent_dim;
    const float clip = ORL_VAE_LATENT_CLIP;
    for (size_t b = 0; b < (size_t)batch; b++) {
        float *row = w->dec_in + b * (size_t)(S + Z);
        if (S > 0) memcpy(row, obs + b * (size_t)S, (size_t)S * sizeof(float));
        /* clipped in float (exactly the double clip's values) with selects, not branches: the
         * signs of normal draws are unpredictable */
        for (int32_t k = 0; k < Z; k++) {
            float v = z ? z[b * (size_t)Z + (size_t)k] : (float)orl_rng_normal(rng);
            v = v > clip ? clip : v;
            v = v < -clip ? -clip : v;
            row[S + k] = v;
        }
    }
    decode_from_dec_in(vae, w, batch, act);
}

void orl_vae_decode_shared(const orl_vae *vae, orl_vae_work *w, const float *obs, int32_t repeat,
                           const float *z, int32_t batch, float *act) {
    assert(batch > 0 && batch <= w->max_batch && obs && z && repeat >= 1);
    int32_t S = vae->cfg.obs_dim, Z = vae->cfg.latent_dim;
    assert(S >= 1 && Z >= 1);
    const float clip = ORL_VAE_LATENT_CLIP;
    /* the clipped latents (B, Z) in the front of dec_in (B, S + Z) */
    float *zc = w->dec_in;
    for (size_t i = 0; i < (size_t)batch * (size_t)Z; i++) {
        float v = z[i];
        v = v > clip ? clip : v;
        v = v < -clip ? -clip : v;
        zc[i] = v;
    }
    orl_mlp_forward_shared(&vae->dec, &w->dec, obs, S, repeat, zc, batch, NULL);
    decode_finish(vae, w, batch, act);
}
