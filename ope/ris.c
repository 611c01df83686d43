/* Regression importance sampling (Hanna, Niekum and Stone 2019): the behaviour policy estimated
 * by maximum likelihood from the data, here by counts over exact discrete states, optionally
 * conditioned on the last n states and actions (RIS(n)). The estimate replaces the logged (or
 * unknown) behaviour probabilities in the log-ratios (is.c).
 *
 * States are exact: each distinct observation vector (compared bit for bit) is one state, so
 * one-hot tabular observations and any discrete observation work. For continuous states, a
 * softmax MLP (discrete actions) or a Gaussian MLP (continuous actions) is fitted by maximum
 * likelihood with the NN engine. With finite action bounds the Gaussian is tanh-squashed to the
 * box and mixed with a uniform over the box, its state-dependent weight fitted too (the built-in
 * behaviours are such mixtures): an unbounded Gaussian fitted to actions piled up at the bounds
 * gives absurd densities there. Not here: the estimators (is.c). */
#include "orl/ope.h"

#include "orl/models.h"
#include "orl/nn.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RIS_MAX_ORDER 16

/* FNV-1a over bytes */
static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* the history key of step t of the episode starting at t0: state, then (state, action) pairs
 * going back, -1 before the start; key (1 + 2 order) */
static void history_key(const int32_t *state, const int32_t *act, int64_t t0, int64_t t,
                        int32_t order, int32_t *key) {
    key[0] = state[t];
    for (int32_t j = 1; j <= order; j++) {
        int64_t i = t - j;
        key[2 * j - 1] = i >= t0 ? state[i] : -1;
        key[2 * j] = i >= t0 ? act[i] : -1;
    }
}

/* smallest power of two >= 2 n (at least 16) */
static size_t table_capacity(int64_t n) {
    size_t cap = 16;
    while (cap < 2 * (size_t)n) cap <<= 1;
    return cap;
}

orl_status orl_ope_ris_tabular(const int32_t *state, const int32_t *act, const int64_t *ep_off,
                               int64_t n_episodes, int32_t n_actions, int32_t order,
                               const uint8_t *fit, double prior, double *log_pi_b) {
    assert(state && act && ep_off && log_pi_b);
    if (n_episodes < 1 || n_actions < 1 || order < 0 || order > RIS_MAX_ORDER || !(prior >= 0.0))
        ORL_FAIL(ORL_ERR_INPUT, "RIS: %lld episodes, %d actions, order %d (at most %d), prior %g",
                 (long long)n_episodes, n_actions, order, RIS_MAX_ORDER, prior);
    const int64_t N = ep_off[n_episodes];
    if (N < 1) ORL_FAIL(ORL_ERR_INPUT, "RIS: no steps");
    for (int64_t t = 0; t < N; t++)
        if (state[t] < 0 || act[t] < 0 || act[t] >= n_actions)
            ORL_FAIL(ORL_ERR_INPUT, "RIS: step %lld: state %d, action %d of %d", (long long)t,
                     state[t], act[t], n_actions);
    const int32_t K = 1 + 2 * order;
    size_t cap = table_capacity(N);
    int64_t *slot = malloc(cap * sizeof *slot); /* the step that first had the key, -1 */
    int64_t *slot_id = malloc(cap * sizeof *slot_id);
    int64_t *kid = malloc((size_t)N * sizeof *kid);     /* (N) key id of every step */
    int64_t *owner = malloc((size_t)N * sizeof *owner); /* episode start of every step */
    double *counts = NULL;
    if (!slot || !slot_id || !kid || !owner) {
        free(slot);
        free(slot_id);
        free(kid);
        free(owner);
        ORL_FAIL(ORL_ERR_NOMEM, "RIS: key table of %zu slots", cap);
    }
    for (size_t i = 0; i < cap; i++) slot[i] = -1;
    int32_t key[1 + 2 * RIS_MAX_ORDER], other[1 + 2 * RIS_MAX_ORDER];

    /* every step's history gets an id */
    int64_t n_keys = 0;
    for (int64_t e = 0; e < n_episodes; e++)
        for (int64_t t = ep_off[e]; t < ep_off[e + 1]; t++) {
            owner[t] = ep_off[e];
            history_key(state, act, ep_off[e], t, order, key);
            size_t i = (size_t)hash_bytes(key, (size_t)K * sizeof *key) & (cap - 1);
            for (;; i = (i + 1) & (cap - 1)) {
                if (slot[i] < 0) {
                    slot[i] = t;
                    slot_id[i] = n_keys++;
                    break;
                }
                history_key(state, act, owner[slot[i]], slot[i], order, other);
                if (memcmp(key, other, (size_t)K * sizeof *key) == 0) break;
            }
            kid[t] = slot_id[i];
        }

    /* counts over the fitting episodes: (keys, n_actions) then the row totals */
    size_t n_counts = (size_t)n_keys * (size_t)(n_actions + 1);
    counts = calloc(n_counts, sizeof *counts);
    if (!counts) {
        free(slot);
        free(slot_id);
        free(kid);
        free(owner);
        ORL_FAIL(ORL_ERR_NOMEM, "RIS: counts of %lld histories", (long long)n_keys);
    }
    for (int64_t e = 0; e < n_episodes; e++) {
        if (fit && !fit[e]) continue;
        for (int64_t t = ep_off[e]; t < ep_off[e + 1]; t++) {
            double *row = counts + (size_t)kid[t] * (size_t)(n_actions + 1);
            row[act[t]] += 1.0;
            row[n_actions] += 1.0;
        }
    }

    /* the maximum-likelihood (or smoothed) probability of each logged action */
    double log_uniform = -log((double)n_actions);
    for (int64_t t = 0; t < N; t++) {
        const double *row = counts + (size_t)kid[t] * (size_t)(n_actions + 1);
        double den = row[n_actions] + prior * (double)n_actions;
        if (den <= 0.0)
            log_pi_b[t] = log_uniform; /* a history never seen in the fit */
        else
            log_pi_b[t] = log((row[act[t]] + prior) / den);
    }
    free(slot);
    free(slot_id);
    free(kid);
    free(owner);
    free(counts);
    return ORL_OK;
}

orl_status orl_ope_ris_dataset(const orl_dataset *ds, int32_t order, const uint8_t *fit,
                               double prior, double *log_pi_b) {
    assert(ds && log_pi_b);
    if (ds->h.action_kind != ORL_ACTION_KIND_DISCRETE)
        ORL_FAIL(ORL_ERR_UNSUPPORTED,
                 "RIS: counts need discrete actions; use the MLP behaviour model for continuous "
                 "actions");
    const int64_t N = ds->n_steps;
    const int32_t S = ds->h.obs_dim;
    if (N < 1) ORL_FAIL(ORL_ERR_INPUT, "RIS: the dataset has no steps");
    int32_t n_actions = ds->h.n_actions;
    if (n_actions <= 0)
        for (int64_t t = 0; t < N; t++)
            if (ds->act_idx[t] + 1 > n_actions) n_actions = ds->act_idx[t] + 1;

    /* exact state ids: distinct observation rows, bit for bit */
    size_t cap = table_capacity(N);
    int64_t *slot = malloc(cap * sizeof *slot);
    int32_t *slot_id = malloc(cap * sizeof *slot_id);
    int32_t *state = malloc((size_t)N * sizeof *state);
    if (!slot || !slot_id || !state) {
        free(slot);
        free(slot_id);
        free(state);
        ORL_FAIL(ORL_ERR_NOMEM, "RIS: state table");
    }
    for (size_t i = 0; i < cap; i++) slot[i] = -1;
    int32_t n_states = 0;
    size_t row_bytes = (size_t)S * sizeof(float);
    for (int64_t t = 0; t < N; t++) {
        const float *o = ds->obs + (size_t)t * (size_t)S;
        size_t i = (size_t)hash_bytes(o, row_bytes) & (cap - 1);
        for (;; i = (i + 1) & (cap - 1)) {
            if (slot[i] < 0) {
                slot[i] = t;
                slot_id[i] = n_states++;
                break;
            }
            if (memcmp(o, ds->obs + (size_t)slot[i] * (size_t)S, row_bytes) == 0) break;
        }
        state[t] = slot_id[i];
    }
    orl_status st = orl_ope_ris_tabular(state, ds->act_idx, ds->ep_off, ds->n_episodes, n_actions,
                                        order, fit, prior, log_pi_b);
    free(slot);
    free(slot_id);
    free(state);
    return st;
}

/* ---- neural behaviour models ---- */

#define MLP_BATCH               256
#define MLP_UNIFORM_MIX_DEFAULT 0.01
#define MLP_MAX_CANDIDATES      3 /* mixtures of 1, 2, 3 squashed Gaussians */
#define MLP_HELDOUT_EVERY       5 /* every 5th fit episode scores the candidates */

/* a model of configuration mc on network cfg fitted to rows (n) of ds with orl_rng (seed,
 * stream); *out receives it (free it) */
static orl_status fit_model(const orl_dataset *ds, const orl_normalizer *nm, const orl_ml_config *mc,
                            const orl_mlp_config *cfg, const int64_t *rows, int64_t n, int64_t steps,
                            uint64_t seed, uint64_t stream, orl_ml_fit **out) {
    orl_rng rng;
    orl_rng_seed(&rng, seed, stream);
    ORL_TRY(orl_ml_fit_create(mc, cfg, &rng, out));
    orl_status st = orl_ml_fit_rows(*out, ds, nm, rows, n, steps, &rng);
    if (st != ORL_OK) {
        orl_ml_fit_free(*out);
        *out = NULL;
    }
    return st;
}

/* the mixture size with the best mean log-likelihood on the held-out rows (every
 * MLP_HELDOUT_EVERY-th fit episode), each candidate fitted on the other fit episodes' rows;
 * 1 when there are too few episodes to hold any out */
static orl_status choose_components(const orl_dataset *ds, const orl_normalizer *nm,
                                    orl_ml_config mc, orl_mlp_config cfg, const uint8_t *fit,
                                    int64_t steps, uint64_t seed, int32_t *best) {
    *best = 1;
    const int64_t N = ds->n_steps, E = ds->n_episodes;
    int64_t *train = malloc((size_t)N * sizeof *train), *held = malloc((size_t)N * sizeof *held);
    float *logp = malloc((size_t)N * sizeof *logp);
    float *obs = malloc((size_t)N * (size_t)ds->h.obs_dim * sizeof *obs);
    float *act = malloc((size_t)N * (size_t)ds->h.act_dim * sizeof *act);
    orl_status st = ORL_OK;
    if (!train || !held || !logp || !obs || !act)
        ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "RIS (MLP): held-out rows");
    int64_t n_train = 0, n_held = 0, k = 0;
    for (int64_t e = 0; e < E; e++) {
        if (fit && !fit[e]) continue;
        int out = k++ % MLP_HELDOUT_EVERY == MLP_HELDOUT_EVERY - 1;
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++) {
            if (out)
                held[n_held++] = t;
            else
                train[n_train++] = t;
        }
    }
    if (k < MLP_HELDOUT_EVERY || n_held < 1 || n_train < 1) goto done;
    const int32_t S = ds->h.obs_dim, A = ds->h.act_dim;
    for (int64_t i = 0; i < n_held; i++) {
        memcpy(obs + (size_t)i * (size_t)S, ds->obs + (size_t)held[i] * (size_t)S,
               (size_t)S * sizeof *obs);
        memcpy(act + (size_t)i * (size_t)A, ds->act + (size_t)held[i] * (size_t)A,
               (size_t)A * sizeof *act);
    }
    double best_ll = -INFINITY;
    for (int32_t c = 1; c <= MLP_MAX_CANDIDATES; c++) {
        mc.components = c;
        cfg.widths[cfg.n_layers] = orl_ml_outputs(&mc);
        orl_ml_fit *model = NULL;
        ORL_TRY_GOTO(st, done,
                     fit_model(ds, nm, &mc, &cfg, train, n_train, steps, seed, 17 + (uint64_t)c,
                               &model));
        orl_ml_fit_log_prob(model, nm, obs, act, NULL, n_held, logp);
        orl_ml_fit_free(model);
        double ll = 0.0;
        for (int64_t i = 0; i < n_held; i++) ll += (double)logp[i];
        ll /= (double)n_held;
        if (ll > best_ll) best_ll = ll, *best = c;
    }
done:
    free(train);
    free(held);
    free(logp);
    free(obs);
    free(act);
    return st;
}

orl_status orl_ope_ris_mlp(const orl_dataset *ds, const orl_ope_ratio_options *opt_in,
                           const uint8_t *fit, double *log_pi_b) {
    assert(ds && log_pi_b);
    orl_ope_ratio_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        orl_ope_ratio_options_init(&opt);
    const int64_t N = ds->n_steps, E = ds->n_episodes;
    const int32_t S = ds->h.obs_dim, A = ds->h.act_dim;
    const int discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    int32_t n_actions = ds->h.n_actions;
    if (discrete && n_actions <= 0)
        for (int64_t t = 0; t < N; t++)
            if (ds->act_idx[t] + 1 > n_actions) n_actions = ds->act_idx[t] + 1;
    int32_t H = opt.mlp_hidden > 0 ? opt.mlp_hidden : 64;
    int32_t layers = opt.mlp_layers > 0 ? opt.mlp_layers : 2;
    int64_t steps = opt.mlp_steps > 0 ? opt.mlp_steps : 3000;
    float lr = opt.mlp_lr > 0.0f ? opt.mlp_lr : 1e-3f;
    if (N < 1 || E < 1 || layers >= ORL_MLP_MAX_LAYERS || (discrete && n_actions < 2))
        ORL_FAIL(ORL_ERR_INPUT, "RIS (MLP): %lld steps, %d hidden layers (at most %d), %d actions",
                 (long long)N, layers, ORL_MLP_MAX_LAYERS - 1, n_actions);
    /* continuous: bounded when every bound is finite (the header's, else opt's fallback) */
    const float *lo = NULL, *hi = NULL;
    if (!discrete) {
        int hdr = ds->h.act_low && ds->h.act_high, fb = opt.mlp_act_low && opt.mlp_act_high;
        for (int32_t j = 0; j < A && hdr; j++)
            hdr = isfinite(ds->h.act_low[j]) && isfinite(ds->h.act_high[j]) &&
                  ds->h.act_high[j] > ds->h.act_low[j];
        for (int32_t j = 0; j < A && fb; j++)
            fb = isfinite(opt.mlp_act_low[j]) && isfinite(opt.mlp_act_high[j]) &&
                 opt.mlp_act_high[j] > opt.mlp_act_low[j];
        if (hdr) {
            lo = ds->h.act_low;
            hi = ds->h.act_high;
        } else if (fb) {
            lo = opt.mlp_act_low;
            hi = opt.mlp_act_high;
        }
    }
    const int bounded = lo != NULL;
    double mix = opt.mlp_uniform_mix == 0.0 ? MLP_UNIFORM_MIX_DEFAULT : opt.mlp_uniform_mix;
    if (!(mix < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "RIS (MLP): uniform mixture floor %g, want < 1 (negative: none)",
                 opt.mlp_uniform_mix);
    /* outputs: logits; [mean | raw log-std]; and the uniform weight's logit when mixed */
    orl_ml_config mc;
    memset(&mc, 0, sizeof mc);
    mc.head = discrete  ? ORL_POLICY_HEAD_CATEGORICAL
              : bounded ? ORL_POLICY_HEAD_TANH_GAUSSIAN
                        : ORL_POLICY_HEAD_GAUSSIAN;
    mc.act_dim = A;
    mc.n_actions = discrete ? n_actions : 0;
    mc.log_std_min = -5.0f;
    mc.log_std_max = 2.0f;
    mc.act_low = lo;
    mc.act_high = hi;
    mc.uniform_mix = bounded && mix >= 0.0;
    mc.uniform_floor = mix > 0.0 ? mix : 0.0;
    mc.lr = lr;
    mc.max_batch = MLP_BATCH;
    mc.name = "RIS (MLP)";

    orl_status st = ORL_OK;
    orl_ml_fit *model = NULL;
    orl_normalizer nm = {0};
    int64_t *rows = NULL;
    float *logp = NULL;

    /* the steps the model is fitted on */
    rows = malloc((size_t)N * sizeof *rows);
    logp = malloc((size_t)N * sizeof *logp);
    if (!rows || !logp) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "RIS (MLP): rows");
    int64_t n_fit = 0;
    for (int64_t e = 0; e < E; e++)
        if (!fit || fit[e])
            for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++) rows[n_fit++] = t;
    if (n_fit < 1) ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "RIS (MLP): no steps to fit on");

    /* observation statistics of the fit steps */
    {
        float *fit_obs = malloc((size_t)n_fit * (size_t)S * sizeof *fit_obs);
        if (!fit_obs) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "RIS (MLP): observations");
        for (int64_t i = 0; i < n_fit; i++)
            memcpy(fit_obs + (size_t)i * (size_t)S, ds->obs + (size_t)rows[i] * (size_t)S,
                   (size_t)S * sizeof *fit_obs);
        st = orl_normalizer_fit(&nm, fit_obs, n_fit, S, 1e-3f);
        free(fit_obs);
        if (st != ORL_OK) goto done;
    }

    orl_mlp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_layers = layers + 1;
    cfg.widths[0] = S;
    for (int32_t l = 1; l <= layers; l++) cfg.widths[l] = H;
    cfg.activation = ORL_ACTIVATION_RELU;
    cfg.init = ORL_INIT_FAN_IN_UNIFORM;
    /* the mixture's size: given, or the best of 1..3 on held-out episodes */
    if (mc.head == ORL_POLICY_HEAD_TANH_GAUSSIAN) {
        if (opt.mlp_components < 0 || opt.mlp_components > ORL_ML_MAX_COMPONENTS)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "RIS (MLP): %d mixture components (0..%d)",
                          opt.mlp_components, ORL_ML_MAX_COMPONENTS);
        mc.components = opt.mlp_components;
        if (mc.components == 0)
            ORL_TRY_GOTO(st, done,
                         choose_components(ds, &nm, mc, cfg, fit, steps, opt.seed,
                                           &mc.components));
    }
    cfg.widths[layers + 1] = orl_ml_outputs(&mc);

    /* maximum likelihood (models.h): minimise the mean negative log-likelihood of
     * mini-batches of the fit steps, then the fitted log-probability of every logged action */
    ORL_TRY_GOTO(st, done, fit_model(ds, &nm, &mc, &cfg, rows, n_fit, steps, opt.seed, 13, &model));
    orl_ml_fit_log_prob(model, &nm, ds->obs, discrete ? NULL : ds->act,
                        discrete ? ds->act_idx : NULL, N, logp);
    for (int64_t t = 0; t < N; t++) log_pi_b[t] = (double)logp[t];
done:
    orl_ml_fit_free(model);
    orl_normalizer_free(&nm);
    free(rows);
    free(logp);
    return st;
}
