/* Maximum-likelihood policy fitting (include/orl/models.h): one MLP on the fit kit whose
 * outputs parameterise a policy head, stepped on the weighted negative log-likelihood of logged
 * actions (MSE for the deterministic head). BC's imitation core and RIS's neural behaviour
 * model both run through here, so both get the same loss reductions (heads.h, in double) and
 * the same Adam step. The uniform-share mixture of the tanh-squashed Gaussian lives here too
 * (it was RIS's). Not here: sampling of rows by a training loop, normalisers' statistics. */
#include "orl/models.h"

#include "orl/heads.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct orl_ml_fit {
    orl_ml_config cfg;
    orl_fit kit;
    orl_gaussian_head gauss; /* Gaussian heads; lo/hi set for the tanh-squashed one */
    int32_t in, out;         /* I, O */
    int32_t A;               /* action columns of the scratch (at least 1) */
    double log_vol;          /* uniform share: log of the box's volume */
    /* scratch for batches up to max_batch (B) */
    float *dout;   /* (B, O) gradient of the network output */
    float *act;    /* (B, A) deterministic head's actions */
    float *dact;   /* (B, A) */
    float *logp;   /* (B) */
    float *dlogp;  /* (B) */
    float *gq;     /* (B, 2A) uniform share: the squashed Gaussian's part of the output */
    float *dgq;    /* (B, 2A) its gradient; the plain squashed Gaussian: d logp / d output */
    float *logq;   /* (B) */
    float *dlq;    /* (B) */
    float *lqk;    /* (B, K) mixture: log q_k of every component */
    float *rk;     /* (B, K) mixture: responsibilities of the components */
    float *x;      /* (B, I) orl_ml_fit_rows / log_prob: normalised observations */
    float *bact;   /* (B, A) orl_ml_fit_rows: actions */
    int32_t *bidx; /* (B) orl_ml_fit_rows: action indices */
};

int32_t orl_ml_outputs(const orl_ml_config *cfg) {
    assert(cfg);
    int32_t o = orl_policy_head_outputs(cfg->head, cfg->act_dim, cfg->n_actions);
    if (cfg->head == ORL_POLICY_HEAD_TANH_GAUSSIAN && cfg->components >= 2)
        o = cfg->components * (1 + 2 * cfg->act_dim);
    if (cfg->head == ORL_POLICY_HEAD_TANH_GAUSSIAN && cfg->uniform_mix) o += 1;
    return o;
}

static orl_status check_config(const orl_ml_config *cfg, const orl_mlp_config *net) {
    const char *name = cfg->name ? cfg->name : "ml fit";
    if ((int)cfg->head < 0 || cfg->head >= ORL_POLICY_HEAD_COUNT)
        ORL_FAIL(ORL_ERR_INPUT, "%s: unknown head %d", name, (int)cfg->head);
    int discrete = cfg->head == ORL_POLICY_HEAD_CATEGORICAL;
    if (discrete ? cfg->n_actions < 1 : cfg->act_dim < 1)
        ORL_FAIL(ORL_ERR_INPUT, "%s: %d actions, action size %d", name, cfg->n_actions,
                 cfg->act_dim);
    int boxed =
        cfg->head == ORL_POLICY_HEAD_DETERMINISTIC || cfg->head == ORL_POLICY_HEAD_TANH_GAUSSIAN;
    if (boxed && (!cfg->act_low || !cfg->act_high))
        ORL_FAIL(ORL_ERR_INPUT, "%s: the %s head needs action bounds", name,
                 orl_policy_head_name(cfg->head));
    if (cfg->uniform_mix && (cfg->head != ORL_POLICY_HEAD_TANH_GAUSSIAN ||
                             !(cfg->uniform_floor >= 0.0 && cfg->uniform_floor < 1.0)))
        ORL_FAIL(ORL_ERR_INPUT,
                 "%s: a uniform share (floor %g) needs the tanh_gaussian head and "
                 "a floor in [0, 1)",
                 name, cfg->uniform_floor);
    if (cfg->components < 0 || cfg->components > ORL_ML_MAX_COMPONENTS ||
        (cfg->components >= 2 && cfg->head != ORL_POLICY_HEAD_TANH_GAUSSIAN))
        ORL_FAIL(ORL_ERR_INPUT,
                 "%s: %d mixture components (a mixture of up to %d needs the tanh_gaussian head)",
                 name, cfg->components, ORL_ML_MAX_COMPONENTS);
    if (!(cfg->lr > 0.0f)) ORL_FAIL(ORL_ERR_INPUT, "%s: lr %g", name, (double)cfg->lr);
    if (cfg->max_batch < 1) ORL_FAIL(ORL_ERR_INPUT, "%s: max_batch %d", name, cfg->max_batch);
    int32_t o = orl_ml_outputs(cfg);
    if (net->n_layers < 1 || net->n_layers > ORL_MLP_MAX_LAYERS || net->widths[net->n_layers] != o)
        ORL_FAIL(ORL_ERR_INPUT, "%s: the network has %d outputs, the %s head needs %d", name,
                 net->n_layers >= 1 && net->n_layers <= ORL_MLP_MAX_LAYERS
                     ? net->widths[net->n_layers]
                     : -1,
                 orl_policy_head_name(cfg->head), o);
    return ORL_OK;
}

/* the struct and its scratch in one allocation; the fit kit is set up by the caller */
static orl_status ml_alloc(const orl_ml_config *cfg, const orl_mlp_config *net, orl_ml_fit **out) {
    *out = NULL;
    ORL_TRY(check_config(cfg, net));
    size_t B = (size_t)cfg->max_batch;
    size_t A = (size_t)(cfg->act_dim > 0 ? cfg->act_dim : 1);
    size_t I = (size_t)net->widths[0], O = (size_t)orl_ml_outputs(cfg);
    size_t head = (sizeof(orl_ml_fit) + 63) / 64 * 64;
    size_t K = (size_t)(cfg->components > 1 ? cfg->components : 1);
    size_t floats = B * O + 2 * B * A + 2 * B + 2 * B * 2 * A + 2 * B + 2 * B * K + B * I + B * A;
    size_t bytes = head + floats * sizeof(float) + B * sizeof(int32_t);
    char *mem = calloc(1, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "%s: cannot allocate its scratch", cfg->name);
    orl_ml_fit *m = (orl_ml_fit *)(void *)mem;
    float *f = (float *)(void *)(mem + head);
    m->dout = f, f += B * O;
    m->act = f, f += B * A;
    m->dact = f, f += B * A;
    m->logp = f, f += B;
    m->dlogp = f, f += B;
    m->gq = f, f += B * 2 * A;
    m->dgq = f, f += B * 2 * A;
    m->logq = f, f += B;
    m->dlq = f, f += B;
    m->lqk = f, f += B * K;
    m->rk = f, f += B * K;
    m->x = f, f += B * I;
    m->bact = f, f += B * A;
    m->bidx = (int32_t *)(void *)f;
    m->cfg = *cfg;
    if (!m->cfg.name) m->cfg.name = "ml fit";
    m->in = (int32_t)I;
    m->out = (int32_t)O;
    m->A = (int32_t)A;
    m->gauss.act_dim = cfg->act_dim;
    m->gauss.log_std_min = cfg->log_std_min;
    m->gauss.log_std_max = cfg->log_std_max;
    if (cfg->head == ORL_POLICY_HEAD_TANH_GAUSSIAN) {
        m->gauss.lo = cfg->act_low;
        m->gauss.hi = cfg->act_high;
    }
    if (cfg->uniform_mix)
        for (int32_t j = 0; j < cfg->act_dim; j++)
            m->log_vol += log((double)cfg->act_high[j] - (double)cfg->act_low[j]);
    *out = m;
    return ORL_OK;
}

orl_status orl_ml_fit_create(const orl_ml_config *cfg, const orl_mlp_config *net, orl_rng *rng,
                             orl_ml_fit **out) {
    assert(cfg && net && rng && out);
    *out = NULL;
    orl_ml_fit *m = NULL;
    ORL_TRY(ml_alloc(cfg, net, &m));
    orl_fit_config fc = orl_fit_defaults(cfg->lr, cfg->max_batch);
    orl_status st = orl_fit_init(&m->kit, net, &fc, rng);
    if (st != ORL_OK) {
        orl_ml_fit_free(m);
        return st;
    }
    *out = m;
    return ORL_OK;
}

orl_status orl_ml_fit_create_on(const orl_ml_config *cfg, const orl_mlp *net, orl_ml_fit **out) {
    assert(cfg && net && out);
    *out = NULL;
    orl_ml_fit *m = NULL;
    ORL_TRY(ml_alloc(cfg, &net->cfg, &m));
    orl_fit_config fc = orl_fit_defaults(cfg->lr, cfg->max_batch);
    orl_status st = orl_fit_init_on(&m->kit, net, &fc);
    if (st != ORL_OK) {
        orl_ml_fit_free(m);
        return st;
    }
    *out = m;
    return ORL_OK;
}

void orl_ml_fit_free(orl_ml_fit *fit) {
    if (!fit) return;
    orl_fit_free(&fit->kit);
    free(fit);
}

orl_fit *orl_ml_fit_kit(orl_ml_fit *fit) {
    return &fit->kit;
}

/* the uniform-share density: the tanh-squashed Gaussian q of y[:, :2A] mixed with the uniform
 * over the box, of weight m = floor + (1 - floor) sigmoid(v), v = y[:, 2A]:
 *   logp = log((1 - m) q + m / vol), in log space;
 * with dlogp (training), dout (B, O) += dlogp d logp / d y, through dlq and dgq */
static void mix_log_prob(orl_ml_fit *m, float *logp, const float *y, const float *act, int32_t n,
                         const float *dlogp, float *dout) {
    const orl_gaussian_head *gh = &m->gauss;
    const int32_t A2 = 2 * gh->act_dim, O = m->out;
    const double floor_ = m->cfg.uniform_floor;
    for (int32_t i = 0; i < n; i++)
        memcpy(m->gq + (size_t)i * (size_t)A2, y + (size_t)i * (size_t)O,
               (size_t)A2 * sizeof *m->gq);
    orl_tanh_gaussian_log_prob_forward(gh, m->logq, m->gq, act, n);
    for (int32_t i = 0; i < n; i++) {
        double lq = (double)m->logq[i];
        double v = (double)y[(size_t)i * (size_t)O + (size_t)A2];
        /* log sigmoid(v), log sigmoid(-v), stable */
        double lsp = v >= 0.0 ? -log1p(exp(-v)) : v - log1p(exp(v));
        double lsm = lsp - v;
        double sp = exp(lsp), sm = exp(lsm);
        double mw = floor_ + (1.0 - floor_) * sp;
        double l1m = log1p(-floor_) + lsm; /* log(1 - m) */
        double a = l1m + lq, b = log(mw) - m->log_vol;
        double hi = a > b ? a : b;
        double lp = hi + log(exp(a - hi) + exp(b - hi));
        logp[i] = (float)lp;
        if (dlogp) {
            double rq = exp(a - lp), ru = exp(b - lp);
            m->dlq[i] = (float)((double)dlogp[i] * rq);
            dout[(size_t)i * (size_t)O + (size_t)A2] +=
                (float)((double)dlogp[i] * (ru * (mw - floor_) * sm / mw - rq * sp));
        }
    }
    if (!dlogp) return;
    memset(m->dgq, 0, (size_t)n * (size_t)A2 * sizeof *m->dgq);
    orl_tanh_gaussian_log_prob_backward(gh, m->dgq, m->dlq, m->gq, act, n);
    for (int32_t i = 0; i < n; i++)
        for (int32_t k = 0; k < A2; k++)
            dout[(size_t)i * (size_t)O + (size_t)k] += m->dgq[(size_t)i * (size_t)A2 + (size_t)k];
}

/* copies component k's [mean | raw log-std] (n, 2A) of y (n, O) into m->gq */
static void component_params(orl_ml_fit *m, const float *y, int32_t n, int32_t k) {
    const int32_t A2 = 2 * m->gauss.act_dim, K = m->cfg.components, O = m->out;
    for (int32_t i = 0; i < n; i++)
        memcpy(m->gq + (size_t)i * (size_t)A2, y + (size_t)i * (size_t)O + (size_t)(K + k * A2),
               (size_t)A2 * sizeof *m->gq);
}

/* the mixture of K >= 2 squashed Gaussians with weights softmax(z), z = y[:, :K], and (with the
 * uniform share) the uniform of weight m as in mix_log_prob:
 *   logp = logsumexp_k (log(1 - m) + log softmax(z)_k + log q_k,  log m - log vol);
 * with dlogp (training), dout (B, O) += dlogp d logp / d y: with the responsibilities r_k and
 * r_u of the terms, d/dz_j = r_j - softmax(z)_j (1 - r_u), d/dlog q_k = r_k, and d/dv as in
 * mix_log_prob with the Gaussians' total 1 - r_u */
static void mixture_log_prob(orl_ml_fit *m, float *logp, const float *y, const float *act,
                             int32_t n, const float *dlogp, float *dout) {
    const orl_gaussian_head *gh = &m->gauss;
    const int32_t A2 = 2 * gh->act_dim, K = m->cfg.components, O = m->out;
    const int uni = m->cfg.uniform_mix;
    const double floor_ = m->cfg.uniform_floor;
    for (int32_t k = 0; k < K; k++) {
        component_params(m, y, n, k);
        orl_tanh_gaussian_log_prob_forward(gh, m->logq, m->gq, act, n);
        for (int32_t i = 0; i < n; i++) m->lqk[(size_t)i * (size_t)K + (size_t)k] = m->logq[i];
    }
    for (int32_t i = 0; i < n; i++) {
        const float *z = y + (size_t)i * (size_t)O;
        const float *lq = m->lqk + (size_t)i * (size_t)K;
        float *r = m->rk + (size_t)i * (size_t)K;
        double zmax = (double)z[0];
        for (int32_t k = 1; k < K; k++) zmax = fmax(zmax, (double)z[k]);
        double zsum = 0.0;
        for (int32_t k = 0; k < K; k++) zsum += exp((double)z[k] - zmax);
        double lse_z = zmax + log(zsum);
        double l1m = 0.0, b = -INFINITY, sp = 0.0, sm = 1.0, mw = 0.0;
        if (uni) {
            double v = (double)z[K + K * A2];
            double lsp = v >= 0.0 ? -log1p(exp(-v)) : v - log1p(exp(v));
            double lsm = lsp - v;
            sp = exp(lsp), sm = exp(lsm);
            mw = floor_ + (1.0 - floor_) * sp;
            l1m = log1p(-floor_) + lsm;
            b = log(mw) - m->log_vol;
        }
        /* the terms' log-sum-exp, the Gaussians' terms recomputed for the responsibilities */
        double hi = b;
        for (int32_t k = 0; k < K; k++) hi = fmax(hi, l1m + (double)z[k] - lse_z + (double)lq[k]);
        double sum = uni ? exp(b - hi) : 0.0;
        for (int32_t k = 0; k < K; k++) sum += exp(l1m + (double)z[k] - lse_z + (double)lq[k] - hi);
        double lp = hi + log(sum);
        logp[i] = (float)lp;
        if (!dlogp) continue;
        double g = (double)dlogp[i], ru = uni ? exp(b - lp) : 0.0;
        float *d = dout + (size_t)i * (size_t)O;
        for (int32_t k = 0; k < K; k++) {
            double pk = exp((double)z[k] - lse_z);
            double rk = exp(l1m + (double)z[k] - lse_z + (double)lq[k] - lp);
            r[k] = (float)(g * rk);
            d[k] += (float)(g * (rk - pk * (1.0 - ru)));
        }
        if (uni) d[K + K * A2] += (float)(g * (ru * (mw - floor_) * sm / mw - (1.0 - ru) * sp));
    }
    if (!dlogp) return;
    for (int32_t k = 0; k < K; k++) {
        component_params(m, y, n, k);
        for (int32_t i = 0; i < n; i++) m->dlq[i] = m->rk[(size_t)i * (size_t)K + (size_t)k];
        memset(m->dgq, 0, (size_t)n * (size_t)A2 * sizeof *m->dgq);
        orl_tanh_gaussian_log_prob_backward(gh, m->dgq, m->dlq, m->gq, act, n);
        for (int32_t i = 0; i < n; i++)
            for (int32_t c = 0; c < A2; c++)
                dout[(size_t)i * (size_t)O + (size_t)(K + k * A2 + c)] +=
                    m->dgq[(size_t)i * (size_t)A2 + (size_t)c];
    }
}

/* logp (n) of the likelihood heads on outputs y (n, O) */
static void head_log_prob(orl_ml_fit *m, float *logp, const float *y, const float *act,
                          const int32_t *act_idx, int32_t n) {
    switch (m->cfg.head) {
    case ORL_POLICY_HEAD_GAUSSIAN:
        orl_gaussian_log_prob_forward(&m->gauss, logp, y, act, n);
        break;
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
        if (m->cfg.components >= 2)
            mixture_log_prob(m, logp, y, act, n, NULL, NULL);
        else if (m->cfg.uniform_mix)
            mix_log_prob(m, logp, y, act, n, NULL, NULL);
        else
            orl_tanh_gaussian_log_prob_forward(&m->gauss, logp, y, act, n);
        break;
    case ORL_POLICY_HEAD_CATEGORICAL:
        orl_categorical_log_prob_forward(logp, y, act_idx, n, m->out);
        break;
    default:
        assert(0 && "the deterministic head has no log-probability");
        break;
    }
}

/* forward and loss on x (B, I); with_grad also fills dout (B, O) with d loss / d output */
static double forward_loss(orl_ml_fit *m, const float *x, const float *act, const int32_t *act_idx,
                           const float *weight, int32_t B, int with_grad) {
    const int32_t A = m->cfg.act_dim;
    const float *y = orl_fit_forward(&m->kit, x, B);
    if (with_grad) memset(m->dout, 0, (size_t)B * (size_t)m->out * sizeof(float));
    double loss = 0.0;
    if (m->cfg.head == ORL_POLICY_HEAD_DETERMINISTIC) {
        /* mean over the batch of w_b times the mean squared error over A */
        orl_tanh_head_forward(m->act, y, m->cfg.act_low, m->cfg.act_high, B, A);
        double inv = 1.0 / ((double)B * (double)A);
        for (int32_t i = 0; i < B; i++) {
            double w = weight ? (double)weight[i] : 1.0;
            for (int32_t j = 0; j < A; j++) {
                size_t k = (size_t)i * (size_t)A + (size_t)j;
                double d = (double)m->act[k] - (double)act[k];
                loss += w * d * d * inv;
                m->dact[k] = (float)(2.0 * w * d * inv);
            }
        }
        if (with_grad)
            orl_tanh_head_backward(m->dout, m->dact, y, m->cfg.act_low, m->cfg.act_high, B, A);
        return loss;
    }
    /* the plain squashed Gaussian in float, its d logp / d y kept (in dgq) for the backward;
     * the other heads (and orl_ml_fit_log_prob's densities for OPE) in double */
    int fast = m->cfg.head == ORL_POLICY_HEAD_TANH_GAUSSIAN && m->cfg.components < 2 &&
               !m->cfg.uniform_mix;
    if (fast)
        orl_tanh_gaussian_log_prob_forward_fast(&m->gauss, m->logp, with_grad ? m->dgq : NULL, y,
                                                act, B);
    else
        head_log_prob(m, m->logp, y, act, act_idx, B);
    memset(m->dlogp, 0, (size_t)B * sizeof(float));
    loss = orl_loss_weighted_nll(m->dlogp, m->logp, weight, B, 1.0f);
    if (!with_grad) return loss;
    switch (m->cfg.head) {
    case ORL_POLICY_HEAD_GAUSSIAN:
        orl_gaussian_log_prob_backward(&m->gauss, m->dout, m->dlogp, y, act, B);
        break;
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
        if (m->cfg.components >= 2)
            mixture_log_prob(m, m->logp, y, act, B, m->dlogp, m->dout);
        else if (m->cfg.uniform_mix)
            mix_log_prob(m, m->logp, y, act, B, m->dlogp, m->dout);
        else
            orl_tanh_gaussian_log_prob_backward_fast(m->dout, m->dlogp, m->dgq, B, A);
        break;
    default:
        orl_categorical_log_prob_backward(m->dout, m->dlogp, y, act_idx, B, m->out);
        break;
    }
    return loss;
}

/* the step without the message: the loss, and the update only when it is finite */
static double step_core(orl_ml_fit *m, const float *x, const float *act, const int32_t *act_idx,
                        const float *weight, int32_t B) {
    double loss = forward_loss(m, x, act, act_idx, weight, B, 1);
    if (!isfinite(loss)) return loss;
    orl_fit_backward(&m->kit, m->dout, NULL);
    orl_fit_step(&m->kit, -1.0f);
    return loss;
}

orl_status orl_ml_fit_step(orl_ml_fit *fit, const float *x, const float *act,
                           const int32_t *act_idx, const float *weight, int32_t batch,
                           double *loss) {
    assert(fit && x && loss && batch >= 1 && batch <= fit->cfg.max_batch);
    *loss = step_core(fit, x, act, act_idx, weight, batch);
    if (!isfinite(*loss)) ORL_FAIL(ORL_ERR_NUMERIC, "%s loss is %g", fit->cfg.name, *loss);
    return ORL_OK;
}

orl_status orl_ml_fit_gradient(orl_ml_fit *fit, const float *x, const float *act,
                               const int32_t *act_idx, const float *weight, int32_t batch,
                               double *loss) {
    assert(fit && x && loss && batch >= 1 && batch <= fit->cfg.max_batch);
    *loss = forward_loss(fit, x, act, act_idx, weight, batch, 1);
    if (!isfinite(*loss)) ORL_FAIL(ORL_ERR_NUMERIC, "%s loss is %g", fit->cfg.name, *loss);
    orl_fit_backward(&fit->kit, fit->dout, NULL);
    return ORL_OK;
}

orl_status orl_ml_fit_loss(orl_ml_fit *fit, const float *x, const float *act,
                           const int32_t *act_idx, const float *weight, int32_t batch,
                           double *loss) {
    assert(fit && x && loss && batch >= 1 && batch <= fit->cfg.max_batch);
    *loss = forward_loss(fit, x, act, act_idx, weight, batch, 0);
    if (!isfinite(*loss)) ORL_FAIL(ORL_ERR_NUMERIC, "%s loss is %g", fit->cfg.name, *loss);
    return ORL_OK;
}

void orl_ml_fit_log_prob(orl_ml_fit *fit, const orl_normalizer *nm, const float *obs,
                         const float *act, const int32_t *act_idx, int64_t n, float *logp) {
    assert(fit && obs && logp && fit->cfg.head != ORL_POLICY_HEAD_DETERMINISTIC);
    const int32_t B = fit->cfg.max_batch, I = fit->in, A = fit->cfg.act_dim;
    const int discrete = fit->cfg.head == ORL_POLICY_HEAD_CATEGORICAL;
    for (int64_t t0 = 0; t0 < n; t0 += B) {
        int32_t m = (int32_t)(n - t0 < B ? n - t0 : B);
        const float *x = obs + (size_t)t0 * (size_t)I;
        if (nm) {
            orl_normalizer_apply(nm, x, m, fit->x);
            x = fit->x;
        }
        const float *y = orl_fit_forward(&fit->kit, x, m);
        head_log_prob(fit, logp + t0, y, discrete ? NULL : act + (size_t)t0 * (size_t)A,
                      discrete ? act_idx + t0 : NULL, m);
    }
}

orl_status orl_ml_fit_rows(orl_ml_fit *fit, const orl_dataset *ds, const orl_normalizer *nm,
                           const int64_t *rows, int64_t n_rows, int64_t steps, orl_rng *rng) {
    assert(fit && ds && rows && rng);
    const int32_t S = fit->in, A = fit->cfg.act_dim;
    const int discrete = fit->cfg.head == ORL_POLICY_HEAD_CATEGORICAL;
    if (n_rows < 1 || n_rows > (int64_t)UINT32_MAX)
        ORL_FAIL(ORL_ERR_INPUT, "%s: %lld rows to fit on", fit->cfg.name, (long long)n_rows);
    if (ds->h.obs_dim != S)
        ORL_FAIL(ORL_ERR_INPUT, "%s: the network takes %d inputs, observations have %d",
                 fit->cfg.name, S, ds->h.obs_dim);
    int32_t B = n_rows < fit->cfg.max_batch ? (int32_t)n_rows : fit->cfg.max_batch;
    for (int64_t step = 0; step < steps; step++) {
        for (int32_t i = 0; i < B; i++) {
            int64_t t = rows[orl_rng_below(rng, (uint32_t)n_rows)];
            memcpy(fit->x + (size_t)i * (size_t)S, ds->obs + (size_t)t * (size_t)S,
                   (size_t)S * sizeof *fit->x);
            if (discrete)
                fit->bidx[i] = ds->act_idx[t];
            else
                memcpy(fit->bact + (size_t)i * (size_t)A, ds->act + (size_t)t * (size_t)A,
                       (size_t)A * sizeof *fit->bact);
        }
        if (nm) orl_normalizer_apply(nm, fit->x, B, fit->x);
        double loss = step_core(fit, fit->x, fit->bact, fit->bidx, NULL, B);
        if (!isfinite(loss))
            ORL_FAIL(ORL_ERR_NUMERIC, "%s: the loss is not finite at step %lld", fit->cfg.name,
                     (long long)step);
    }
    return ORL_OK;
}
