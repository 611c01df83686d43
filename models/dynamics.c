/* Dynamics ensembles (include/orl/dynamics.h): the configuration, fitting one epoch at a time
 * (the trainer), batched prediction of all members, disagreement and held-out errors.
 *
 * The K members are one orl_ensemble (nn/ensemble.c: parameters contiguous (K, P), all members
 * forward and backward in one call); one Adam over the (K, P) buffer is K independent Adams
 * (Adam is elementwise). Each member gets its own mini-batches (per-member inputs (K, B, I)).
 * Not here: held-out errors (dynamics_eval.c), model files (dynamics_file.c), policy rollouts
 * (dynamics_rollout.c). */
#include "models/dynamics_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCALE_MIN   1e-8 /* mjrl: dimensions whose mean absolute deviation is below are masked */
#define ALIGN       64
#define MAX_MEMBERS 64
#define MAX_HIDDEN  65536

const int32_t orl_dynamics_horizons[ORL_DYNAMICS_HORIZONS] = {1, 10, 50};

static size_t round_up(size_t n) {
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

/* ---- configuration ---- */

orl_dynamics_config orl_dynamics_config_defaults(void) {
    orl_dynamics_config c;
    memset(&c, 0, sizeof c);
    c.members = 4;
    c.hidden = 512;
    c.layers = 2;
    c.activation = ORL_ACTIVATION_RELU;
    c.lr = 1e-3f;
    c.batch = 256;
    c.epochs = 100;
    c.patience = 5;
    c.holdout = 0.1;
    c.bootstrap = 0;
    c.pessimism = 3.0;
    c.seed = 0;
    return c;
}

orl_status orl_dynamics_config_check(const orl_dynamics_config *c) {
    if (c->members < 1 || c->members > MAX_MEMBERS)
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: members %d outside 1..%d", c->members, MAX_MEMBERS);
    if (c->hidden < 1 || c->hidden > MAX_HIDDEN)
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: hidden %d outside 1..%d", c->hidden, MAX_HIDDEN);
    if (c->layers < 1 || c->layers > ORL_MLP_MAX_LAYERS - 1)
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: layers %d outside 1..%d", c->layers,
                 ORL_MLP_MAX_LAYERS - 1);
    if (!(c->lr > 0.0f) || !isfinite(c->lr))
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: lr %g must be positive", (double)c->lr);
    if (c->batch < 1) ORL_FAIL(ORL_ERR_INPUT, "dynamics: batch %d must be >= 1", c->batch);
    if (c->epochs < 1) ORL_FAIL(ORL_ERR_INPUT, "dynamics: epochs %d must be >= 1", c->epochs);
    if (c->patience < 0) ORL_FAIL(ORL_ERR_INPUT, "dynamics: patience %d must be >= 0", c->patience);
    if (!(c->holdout >= 0.0 && c->holdout <= 0.9))
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: holdout %g outside [0, 0.9]", c->holdout);
    if (c->bootstrap != 0 && c->bootstrap != 1)
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: bootstrap %d must be 0 or 1", c->bootstrap);
    if (!(c->pessimism > 0.0) || !isfinite(c->pessimism))
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: pessimism %g must be positive", c->pessimism);
    if (c->activation < ORL_ACTIVATION_NONE || c->activation > ORL_ACTIVATION_SILU)
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: unknown activation %d", (int)c->activation);
    return ORL_OK;
}

/* value as a whole number in [lo, hi] */
static orl_status whole(const char *key, double value, double lo, double hi, int64_t *out) {
    if (!(value >= lo && value <= hi) || value != floor(value))
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: %s: expected a whole number in [%.0f, %.0f], got %g",
                 key, lo, hi, value);
    *out = (int64_t)value;
    return ORL_OK;
}

orl_status orl_dynamics_config_set(orl_dynamics_config *cfg, const char *key, double value) {
    int64_t v = 0;
    if (strcmp(key, "members") == 0) {
        ORL_TRY(whole(key, value, 1, MAX_MEMBERS, &v));
        cfg->members = (int32_t)v;
    } else if (strcmp(key, "hidden") == 0) {
        ORL_TRY(whole(key, value, 1, MAX_HIDDEN, &v));
        cfg->hidden = (int32_t)v;
    } else if (strcmp(key, "layers") == 0) {
        ORL_TRY(whole(key, value, 1, ORL_MLP_MAX_LAYERS - 1, &v));
        cfg->layers = (int32_t)v;
    } else if (strcmp(key, "lr") == 0) {
        if (!(value > 0.0 && value < 1e3))
            ORL_FAIL(ORL_ERR_INPUT, "dynamics: lr: expected a positive number, got %g", value);
        cfg->lr = (float)value;
    } else if (strcmp(key, "batch") == 0) {
        ORL_TRY(whole(key, value, 1, 1 << 20, &v));
        cfg->batch = (int32_t)v;
    } else if (strcmp(key, "epochs") == 0) {
        ORL_TRY(whole(key, value, 1, 1e7, &v));
        cfg->epochs = (int32_t)v;
    } else if (strcmp(key, "patience") == 0) {
        ORL_TRY(whole(key, value, 0, 1e7, &v));
        cfg->patience = (int32_t)v;
    } else if (strcmp(key, "holdout") == 0) {
        if (!(value >= 0.0 && value <= 0.9))
            ORL_FAIL(ORL_ERR_INPUT, "dynamics: holdout: expected a share in [0, 0.9], got %g",
                     value);
        cfg->holdout = value;
    } else if (strcmp(key, "bootstrap") == 0) {
        ORL_TRY(whole(key, value, 0, 1, &v));
        cfg->bootstrap = (int)v;
    } else if (strcmp(key, "pessimism") == 0) {
        if (!(value > 0.0 && value < 1e12))
            ORL_FAIL(ORL_ERR_INPUT, "dynamics: pessimism: expected a positive number, got %g",
                     value);
        cfg->pessimism = value;
    } else if (strcmp(key, "seed") == 0) {
        ORL_TRY(whole(key, value, 0, 9007199254740992.0, &v));
        cfg->seed = (uint64_t)v;
    } else {
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: unknown key '%s' (known: %s)", key,
                 ORL_DYNAMICS_CONFIG_KEYS);
    }
    return ORL_OK;
}

/* ---- the model's allocation ---- */

/* the network of a configuration for input width I and output width O */
static orl_mlp_config network_config(const orl_dynamics_config *c, int32_t in_dim,
                                     int32_t out_dim) {
    orl_mlp_config m;
    memset(&m, 0, sizeof m);
    m.n_layers = c->layers + 1;
    m.widths[0] = in_dim;
    for (int32_t l = 1; l <= c->layers; l++) m.widths[l] = c->hidden;
    m.widths[m.n_layers] = out_dim;
    m.activation = c->activation;
    m.init = ORL_INIT_FAN_IN_UNIFORM; /* PyTorch's nn.Linear, as mjrl */
    return m;
}

/* bytes of the model's one allocation: the struct, then the arrays in the order of its fields
 * (the one sizing function create and load share) */
static size_t model_bytes(int32_t S, int32_t I, int64_t n_starts) {
    size_t b = round_up(sizeof(orl_dynamics));
    b += 3 * round_up((size_t)I * sizeof(float));
    b += 3 * round_up((size_t)(S + 1) * sizeof(float));
    b += round_up((size_t)S * sizeof(float));
    b += round_up((size_t)n_starts * (size_t)S * sizeof(float) + 1);
    return b;
}

orl_status orl_dynamics_alloc_internal(const orl_dynamics_config *cfg, int32_t S, int32_t A,
                                       orl_action_kind kind, int32_t n_actions, int64_t n_starts,
                                       orl_rng *rng, orl_dynamics **out) {
    *out = NULL;
    ORL_TRY(orl_dynamics_config_check(cfg));
    int32_t I = S + (kind == ORL_ACTION_KIND_DISCRETE ? n_actions : A);
    size_t bytes = model_bytes(S, I, n_starts);
    char *mem = aligned_alloc(ALIGN, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "dynamics: model of %zu bytes", bytes);
    memset(mem, 0, bytes);
    orl_dynamics *d = (orl_dynamics *)(void *)mem;
    d->mem = mem;
    d->cfg = *cfg;
    d->obs_dim = S;
    d->act_dim = kind == ORL_ACTION_KIND_DISCRETE ? 1 : A;
    d->action_kind = kind;
    d->n_actions = kind == ORL_ACTION_KIND_DISCRETE ? n_actions : 0;
    d->in_dim = I;
    d->out_dim = S + 2;
    d->n_starts = n_starts;
    d->gamma = NAN;
    d->holdout_loss = NAN;
    char *p = mem + round_up(sizeof(orl_dynamics));
#define PLACE(field, count)                                                                        \
    d->field = (float *)(void *)p;                                                                 \
    p += round_up((size_t)(count) * sizeof(float))
    PLACE(in_mean, I);
    PLACE(in_scale, I);
    PLACE(in_mask, I);
    PLACE(out_mean, S + 1);
    PLACE(out_scale, S + 1);
    PLACE(out_mask, S + 1);
    PLACE(obs_scale, S);
#undef PLACE
    d->starts = (float *)(void *)p;
    orl_mlp_config net = network_config(cfg, I, S + 2);
    orl_rng zero;
    orl_rng_seed(&zero, 0, 0);
    orl_status st = orl_ensemble_create(&d->ens, &net, cfg->members, rng ? rng : &zero);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    *out = d;
    return ORL_OK;
}

void orl_dynamics_free(orl_dynamics *d) {
    if (!d) return;
    orl_ensemble_free(&d->ens);
    free(d->mem);
}

orl_status orl_dynamics_check_dims(const orl_dynamics *d, const orl_header *h, const char *name) {
    if (h->obs_dim != d->obs_dim)
        ORL_FAIL(ORL_ERR_INPUT, "%s: model has obs_dim %d, data %d", name, d->obs_dim, h->obs_dim);
    if (h->action_kind != d->action_kind)
        ORL_FAIL(ORL_ERR_INPUT, "%s: model has %s actions, data %s", name,
                 d->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous",
                 h->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous");
    if (h->act_dim != d->act_dim)
        ORL_FAIL(ORL_ERR_INPUT, "%s: model has act_dim %d, data %d", name, d->act_dim, h->act_dim);
    if (d->action_kind == ORL_ACTION_KIND_DISCRETE && h->n_actions > 0 &&
        h->n_actions != d->n_actions)
        ORL_FAIL(ORL_ERR_INPUT, "%s: model has %d actions, data %d", name, d->n_actions,
                 h->n_actions);
    return ORL_OK;
}

/* ---- normalisation ---- */

/* mean and mean absolute deviation of column j of rows x (n rows, stride floats apart) in
 * double; scale 1 and mask 0 below SCALE_MIN */
static void column_stats(const float *x, int64_t n, size_t stride, float *mean, float *scale,
                         float *mask) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[(size_t)i * stride];
    double m = sum / (double)n, dev = 0.0;
    for (int64_t i = 0; i < n; i++) dev += fabs((double)x[(size_t)i * stride] - m);
    dev /= (double)n;
    *mean = (float)m;
    *mask = dev >= SCALE_MIN ? 1.0f : 0.0f;
    *scale = dev >= SCALE_MIN ? (float)dev : 1.0f;
}

/* the network input x (I) of one (s, a): normalised, masked, one-hot for discrete actions */
static void encode(const orl_dynamics *d, const float *obs, const float *act, int32_t act_idx,
                   float *x) {
    int32_t S = d->obs_dim, I = d->in_dim;
    for (int32_t j = 0; j < S; j++)
        x[j] = d->in_mask[j] * (obs[j] - d->in_mean[j]) / d->in_scale[j];
    if (d->action_kind == ORL_ACTION_KIND_DISCRETE) {
        assert(act_idx >= 0 && act_idx < d->n_actions);
        for (int32_t j = S; j < I; j++) x[j] = 0.0f;
        x[S + act_idx] = 1.0f;
    } else {
        for (int32_t j = S; j < I; j++)
            x[j] = d->in_mask[j] * (act[j - S] - d->in_mean[j]) / d->in_scale[j];
    }
}

/* fits the normalisers of d on the rows (n) of ds, and obs_scale */
static void fit_normalizers(orl_dynamics *d, const orl_dataset *ds, const int64_t *rows, int64_t n,
                            float *scratch) {
    int32_t S = d->obs_dim, A = ds->h.act_dim;
    size_t s = (size_t)S;
    /* gather each column into scratch (n) */
    for (int32_t j = 0; j < S; j++) {
        for (int64_t i = 0; i < n; i++) scratch[i] = ds->obs[(size_t)rows[i] * s + (size_t)j];
        column_stats(scratch, n, 1, &d->in_mean[j], &d->in_scale[j], &d->in_mask[j]);
        d->obs_scale[j] = d->in_scale[j];
        for (int64_t i = 0; i < n; i++) {
            size_t r = (size_t)rows[i] * s + (size_t)j;
            scratch[i] = ds->next_obs[r] - ds->obs[r];
        }
        column_stats(scratch, n, 1, &d->out_mean[j], &d->out_scale[j], &d->out_mask[j]);
    }
    for (int64_t i = 0; i < n; i++) scratch[i] = ds->rew[rows[i]];
    column_stats(scratch, n, 1, &d->out_mean[S], &d->out_scale[S], &d->out_mask[S]);
    if (d->action_kind == ORL_ACTION_KIND_DISCRETE) {
        for (int32_t j = S; j < d->in_dim; j++)
            d->in_mean[j] = 0.0f, d->in_scale[j] = 1.0f, d->in_mask[j] = 1.0f;
        return;
    }
    for (int32_t j = 0; j < A; j++) {
        for (int64_t i = 0; i < n; i++)
            scratch[i] = ds->act[(size_t)rows[i] * (size_t)A + (size_t)j];
        column_stats(scratch, n, 1, &d->in_mean[S + j], &d->in_scale[S + j], &d->in_mask[S + j]);
    }
}

/* ---- prediction ---- */

struct orl_dynamics_work {
    int32_t max_batch;
    orl_ensemble_work ens; /* outputs (K, B, O) */
    float *x;              /* (K, B, I) network inputs */
    void *mem;
};

orl_status orl_dynamics_work_create(const orl_dynamics *d, int32_t max_batch,
                                    orl_dynamics_work **out) {
    *out = NULL;
    if (max_batch < 1) ORL_FAIL(ORL_ERR_INPUT, "dynamics: max_batch %d < 1", max_batch);
    size_t K = (size_t)d->cfg.members, I = (size_t)d->in_dim;
    size_t bytes =
        round_up(sizeof(orl_dynamics_work)) + round_up(K * (size_t)max_batch * I * sizeof(float));
    char *mem = aligned_alloc(ALIGN, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "dynamics: workspace for batch %d", max_batch);
    memset(mem, 0, bytes);
    orl_dynamics_work *w = (orl_dynamics_work *)(void *)mem;
    w->mem = mem;
    w->max_batch = max_batch;
    w->x = (float *)(void *)(mem + round_up(sizeof(orl_dynamics_work)));
    orl_status st = orl_ensemble_work_init(&w->ens, &d->ens, max_batch);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    *out = w;
    return ORL_OK;
}

void orl_dynamics_work_free(orl_dynamics_work *w) {
    if (!w) return;
    orl_ensemble_work_free(&w->ens);
    free(w->mem);
}

static float sigmoid(float z) {
    return z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
}

/* next_obs, rew, done of row r = (k, b) from the network output y (O) and the state obs (S) */
static void decode(const orl_dynamics *d, const float *y, const float *obs, float *next_obs,
                   float *rew, float *done) {
    int32_t S = d->obs_dim;
    if (next_obs)
        for (int32_t j = 0; j < S; j++)
            next_obs[j] = obs[j] + d->out_mean[j] + d->out_mask[j] * d->out_scale[j] * y[j];
    if (rew) *rew = d->out_mean[S] + d->out_mask[S] * d->out_scale[S] * y[S];
    if (done) *done = sigmoid(y[S + 1]);
}

void orl_dynamics_predict(const orl_dynamics *d, orl_dynamics_work *w, const float *obs,
                          const float *act, const int32_t *act_idx, int per_member, int32_t batch,
                          float *next_obs, float *rew, float *done) {
    assert(batch >= 1 && batch <= w->max_batch);
    size_t K = (size_t)d->cfg.members, B = (size_t)batch, S = (size_t)d->obs_dim;
    size_t A = (size_t)d->act_dim, I = (size_t)d->in_dim, O = (size_t)d->out_dim;
    size_t inputs = per_member ? K * B : B;
    for (size_t r = 0; r < inputs; r++)
        encode(d, obs + r * S, act ? act + r * A : NULL, act_idx ? act_idx[r] : 0, w->x + r * I);
    orl_ensemble_forward(&d->ens, &w->ens, w->x, per_member, batch, NULL);
    for (size_t k = 0; k < K; k++)
        for (size_t b = 0; b < B; b++) {
            size_t r = k * B + b;
            decode(d, w->ens.out + r * O, obs + (per_member ? r : b) * S,
                   next_obs ? next_obs + r * S : NULL, rew ? rew + r : NULL,
                   done ? done + r : NULL);
        }
}

void orl_dynamics_disagreement(const orl_dynamics *d, const float *next_obs, int32_t batch,
                               float *disagreement) {
    orl_ensemble_disagreement_pairwise(disagreement, next_obs, d->cfg.members, batch, d->obs_dim);
}

/* ---- the trainer ---- */

struct orl_dynamics_trainer {
    orl_dynamics_config cfg;
    const orl_dataset *ds;
    orl_dynamics *model;   /* the live parameters and the normalisers */
    orl_ensemble_work ens; /* batches of cfg.batch rows per member */
    orl_adam adam;         /* over the (K, P) buffer */
    float *grads;          /* (K, P) */
    float *best;           /* (K, P) each member's parameters at its best held-out loss */
    float *x;              /* (K, B, I) inputs of a step */
    float *target;         /* (K, B, O) normalised targets: delta, reward, done (0/1) */
    float *dout;           /* (K, B, O) */
    int64_t *train_rows;   /* (Nt) rows of the training episodes */
    int64_t *hold_rows;    /* (Nh) rows of the held-out episodes */
    int64_t *hold_eps;     /* (Eh) held-out episode indices */
    int64_t *order;        /* (K, Nt) each member's rows of this epoch */
    double *best_loss;     /* (K) */
    double *member_loss;   /* (K) scratch: held-out loss sums */
    int64_t n_train, n_hold, n_hold_eps;
    orl_rng rng;
    int32_t epoch;     /* epochs run */
    int32_t stale;     /* epochs since a member last improved */
    int32_t done;      /* 1 when finished */
    double train_loss; /* mean loss of the last epoch */
    void *mem;
};

/* loss of one member's row: mean over unmasked outputs of the squared error plus the done
 * BCE; adds dLoss/dy * scale into dy when dy is not NULL */
static double row_loss(const orl_dynamics *d, const float *y, const float *t, float scale,
                       float *dy) {
    int32_t S = d->obs_dim;
    double n_used = 0.0;
    for (int32_t j = 0; j <= S; j++) n_used += (double)d->out_mask[j];
    double se = 0.0;
    float inv = n_used > 0.0 ? (float)(1.0 / n_used) : 0.0f;
    for (int32_t j = 0; j <= S; j++) {
        float diff = (y[j] - t[j]) * d->out_mask[j];
        se += (double)diff * (double)diff;
        if (dy) dy[j] = 2.0f * diff * inv * scale;
    }
    float z = y[S + 1], p = sigmoid(z);
    /* BCE with logits, stable: max(z, 0) - z t + log(1 + exp(-|z|)) */
    double bce =
        (double)fmaxf(z, 0.0f) - (double)z * (double)t[S + 1] + log1p(exp(-fabs((double)z)));
    if (dy) dy[S + 1] = (p - t[S + 1]) * scale;
    return (n_used > 0.0 ? se / n_used : 0.0) + bce;
}

/* the normalised target (O) of row r */
static void make_target(const orl_dynamics *d, const orl_dataset *ds, int64_t r, float *t) {
    int32_t S = d->obs_dim;
    const float *o = ds->obs + (size_t)r * (size_t)S, *n = ds->next_obs + (size_t)r * (size_t)S;
    for (int32_t j = 0; j < S; j++) t[j] = (n[j] - o[j] - d->out_mean[j]) / d->out_scale[j];
    t[S] = (ds->rew[r] - d->out_mean[S]) / d->out_scale[S];
    t[S + 1] = ds->terminal[r] ? 1.0f : 0.0f;
}

static void encode_row(const orl_dynamics *d, const orl_dataset *ds, int64_t r, float *x) {
    size_t S = (size_t)d->obs_dim, A = (size_t)ds->h.act_dim;
    encode(d, ds->obs + (size_t)r * S, ds->act ? ds->act + (size_t)r * A : NULL,
           ds->act_idx ? ds->act_idx[r] : 0, x);
}

/* the held-out loss of every member into member_loss (K), mean over held-out rows */
static void holdout_losses(orl_dynamics_trainer *tr) {
    orl_dynamics *d = tr->model;
    size_t K = (size_t)d->cfg.members, I = (size_t)d->in_dim, O = (size_t)d->out_dim;
    int32_t Bmax = tr->cfg.batch;
    for (size_t k = 0; k < K; k++) tr->member_loss[k] = 0.0;
    for (int64_t i0 = 0; i0 < tr->n_hold; i0 += Bmax) {
        int32_t B = (int32_t)(tr->n_hold - i0 < Bmax ? tr->n_hold - i0 : Bmax);
        for (int32_t b = 0; b < B; b++) {
            int64_t r = tr->hold_rows[i0 + b];
            encode_row(d, tr->ds, r, tr->x + (size_t)b * I);
            make_target(d, tr->ds, r, tr->target + (size_t)b * O);
        }
        orl_ensemble_forward(&d->ens, &tr->ens, tr->x, 0, B, NULL);
        for (size_t k = 0; k < K; k++)
            for (int32_t b = 0; b < B; b++)
                tr->member_loss[k] += row_loss(d, tr->ens.out + (k * (size_t)B + (size_t)b) * O,
                                               tr->target + (size_t)b * O, 0.0f, NULL);
    }
    for (size_t k = 0; k < K; k++) tr->member_loss[k] /= (double)tr->n_hold;
}

/* splits ds's episodes into training and held-out ones (a seeded shuffle of episode order) */
static void split(orl_dynamics_trainer *tr, int64_t *perm) {
    const orl_dataset *ds = tr->ds;
    int64_t E = ds->n_episodes;
    int64_t n_hold_eps = 0;
    if (tr->cfg.holdout > 0.0 && E >= 2) {
        n_hold_eps = (int64_t)floor(tr->cfg.holdout * (double)E + 0.5);
        if (n_hold_eps < 1) n_hold_eps = 1;
        if (n_hold_eps > E - 1) n_hold_eps = E - 1;
    }
    for (int64_t e = 0; e < E; e++) perm[e] = e;
    for (int64_t e = E - 1; e > 0; e--) {
        int64_t j = (int64_t)orl_rng_below(&tr->rng, (uint32_t)(e + 1));
        int64_t t = perm[e];
        perm[e] = perm[j];
        perm[j] = t;
    }
    /* held-out: the first n_hold_eps of the shuffled order, kept in episode order */
    uint8_t *held = (uint8_t *)(void *)(perm + E); /* E bytes after perm */
    for (int64_t e = 0; e < E; e++) held[e] = 0;
    for (int64_t i = 0; i < n_hold_eps; i++) held[perm[i]] = 1;
    tr->n_train = tr->n_hold = tr->n_hold_eps = 0;
    for (int64_t e = 0; e < E; e++) {
        if (held[e]) tr->hold_eps[tr->n_hold_eps++] = e;
        for (int64_t r = ds->ep_off[e]; r < ds->ep_off[e + 1]; r++) {
            if (held[e])
                tr->hold_rows[tr->n_hold++] = r;
            else
                tr->train_rows[tr->n_train++] = r;
        }
    }
}

orl_status orl_dynamics_trainer_create(const orl_dynamics_config *cfg, const orl_dataset *ds,
                                       orl_dynamics_trainer **out) {
    *out = NULL;
    ORL_TRY(orl_dynamics_config_check(cfg));
    if (ds->n_steps < 2 || ds->n_episodes < 1)
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: %lld rows: at least 2 are needed",
                 (long long)ds->n_steps);
    if (ds->n_steps > ((int64_t)1 << 32) || ds->n_episodes > ((int64_t)1 << 31))
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: %lld rows: too many", (long long)ds->n_steps);
    if (ds->h.action_kind == ORL_ACTION_KIND_DISCRETE && ds->h.n_actions < 1)
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: discrete actions need the number of actions");
    if (ds->h.action_kind == ORL_ACTION_KIND_DISCRETE)
        for (int64_t i = 0; i < ds->n_steps; i++)
            if (ds->act_idx[i] < 0 || ds->act_idx[i] >= ds->h.n_actions)
                ORL_FAIL(ORL_ERR_INPUT, "dynamics: row %lld: action %d outside [0, %d)",
                         (long long)i, ds->act_idx[i], ds->h.n_actions);
    int32_t S = ds->h.obs_dim;
    orl_rng rng;
    orl_rng_seed(&rng, cfg->seed, 0x64796e616d696373ULL); /* "dynamics" */

    /* the start states of every episode */
    orl_dynamics *d = NULL;
    ORL_TRY(orl_dynamics_alloc_internal(cfg, S, ds->h.act_dim, ds->h.action_kind, ds->h.n_actions,
                                        ds->n_episodes, &rng, &d));
    for (int64_t e = 0; e < ds->n_episodes; e++)
        memcpy(d->starts + (size_t)e * (size_t)S, ds->obs + (size_t)ds->ep_off[e] * (size_t)S,
               (size_t)S * sizeof(float));

    size_t K = (size_t)cfg->members, B = (size_t)cfg->batch, I = (size_t)d->in_dim;
    size_t O = (size_t)d->out_dim, P = (size_t)d->ens.n_member, N = (size_t)ds->n_steps;
    size_t E = (size_t)ds->n_episodes;
    size_t moments = (size_t)orl_adam_moment_floats((int64_t)(K * P));
    size_t bytes = round_up(sizeof(orl_dynamics_trainer)) + round_up(moments * sizeof(float)) +
                   2 * round_up(K * P * sizeof(float)) + round_up(K * B * I * sizeof(float)) +
                   2 * round_up(K * B * O * sizeof(float)) + 2 * round_up(N * sizeof(int64_t)) +
                   round_up(E * sizeof(int64_t) + E) + round_up(E * sizeof(int64_t)) +
                   round_up(K * N * sizeof(int64_t)) + 2 * round_up(K * sizeof(double)) +
                   round_up(N * sizeof(float));
    char *mem = aligned_alloc(ALIGN, bytes);
    if (!mem) {
        orl_dynamics_free(d);
        ORL_FAIL(ORL_ERR_NOMEM, "dynamics: trainer of %zu bytes", bytes);
    }
    memset(mem, 0, bytes);
    orl_dynamics_trainer *tr = (orl_dynamics_trainer *)(void *)mem;
    tr->mem = mem;
    tr->cfg = *cfg;
    tr->ds = ds;
    tr->model = d;
    tr->rng = rng;
    char *p = mem + round_up(sizeof(orl_dynamics_trainer));
    float *moment_mem = (float *)(void *)p;
    p += round_up(moments * sizeof(float));
#define TAKE(field, type, count)                                                                   \
    tr->field = (type *)(void *)p;                                                                 \
    p += round_up((size_t)(count) * sizeof(type))
    TAKE(grads, float, K *P);
    TAKE(best, float, K *P);
    TAKE(x, float, K *B *I);
    TAKE(target, float, K *B *O);
    TAKE(dout, float, K *B *O);
    TAKE(train_rows, int64_t, N);
    TAKE(hold_rows, int64_t, N);
    TAKE(hold_eps, int64_t, E);
    int64_t *perm = (int64_t *)(void *)p; /* (E) + E bytes */
    p += round_up(E * sizeof(int64_t) + E);
    TAKE(order, int64_t, K * N);
    TAKE(best_loss, double, K);
    TAKE(member_loss, double, K);
    float *scratch = (float *)(void *)p;
#undef TAKE
    orl_status st = ORL_OK;
    orl_adam_config ac = orl_adam_defaults();
    ac.lr = cfg->lr;
    ORL_TRY_GOTO(st, fail, orl_adam_bind(&tr->adam, &ac, (int64_t)(K * P), moment_mem));
    ORL_TRY_GOTO(st, fail, orl_ensemble_work_init(&tr->ens, &d->ens, cfg->batch));
    split(tr, perm);
    if (tr->n_train < 1) ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "dynamics: no training rows");
    /* each member's rows: all training rows, or its own bootstrap resample of them (drawn
     * once); every epoch shuffles them */
    for (size_t k = 0; k < K; k++) {
        int64_t *o = tr->order + k * (size_t)tr->n_train;
        if (!cfg->bootstrap) {
            memcpy(o, tr->train_rows, (size_t)tr->n_train * sizeof(int64_t));
            continue;
        }
        for (int64_t i = 0; i < tr->n_train; i++)
            o[i] = tr->train_rows[orl_rng_below(&tr->rng, (uint32_t)tr->n_train)];
    }
    fit_normalizers(d, ds, tr->train_rows, tr->n_train, scratch);
    d->n_train_rows = tr->n_train;
    memcpy(tr->best, d->ens.params, K * P * sizeof(float));
    for (size_t k = 0; k < K; k++) tr->best_loss[k] = INFINITY;
    *out = tr;
    return ORL_OK;
fail:
    orl_ensemble_work_free(&tr->ens);
    orl_dynamics_free(d);
    free(mem);
    return st;
}

void orl_dynamics_trainer_free(orl_dynamics_trainer *tr) {
    if (!tr) return;
    orl_ensemble_work_free(&tr->ens);
    orl_dynamics_free(tr->model);
    free(tr->mem);
}

int32_t orl_dynamics_trainer_epochs(const orl_dynamics_trainer *tr) {
    return tr->epoch;
}

orl_status orl_dynamics_trainer_epoch(orl_dynamics_trainer *tr, int *finished) {
    orl_dynamics *d = tr->model;
    size_t K = (size_t)d->cfg.members, I = (size_t)d->in_dim, O = (size_t)d->out_dim;
    size_t P = (size_t)d->ens.n_member;
    int64_t Nt = tr->n_train;
    *finished = tr->done;
    if (tr->done) return ORL_OK;

    /* each member's rows of this epoch: a shuffle of its rows (in place: the order is state) */
    for (size_t k = 0; k < K; k++) {
        int64_t *o = tr->order + k * (size_t)Nt;
        for (int64_t i = Nt - 1; i > 0; i--) {
            int64_t j = (int64_t)orl_rng_below(&tr->rng, (uint32_t)(i + 1));
            int64_t t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
    }

    double loss_sum = 0.0;
    int32_t Bmax = tr->cfg.batch;
    for (int64_t i0 = 0; i0 < Nt; i0 += Bmax) {
        int32_t B = (int32_t)(Nt - i0 < Bmax ? Nt - i0 : Bmax);
        size_t b = (size_t)B;
        for (size_t k = 0; k < K; k++)
            for (size_t j = 0; j < b; j++) {
                int64_t r = tr->order[k * (size_t)Nt + (size_t)i0 + j];
                encode_row(d, tr->ds, r, tr->x + (k * b + j) * I);
                make_target(d, tr->ds, r, tr->target + (k * b + j) * O);
            }
        orl_ensemble_forward(&d->ens, &tr->ens, tr->x, 1, B, NULL);
        double batch_loss = 0.0;
        float scale = 1.0f / (float)B;
        for (size_t r = 0; r < K * b; r++)
            batch_loss +=
                row_loss(d, tr->ens.out + r * O, tr->target + r * O, scale, tr->dout + r * O);
        batch_loss /= (double)(K * b);
        if (!isfinite(batch_loss))
            ORL_FAIL(ORL_ERR_NUMERIC, "dynamics: epoch %d, row %lld: loss is not finite",
                     tr->epoch + 1, (long long)i0);
        loss_sum += batch_loss * (double)B;
        memset(tr->grads, 0, K * P * sizeof(float));
        orl_ensemble_backward(&d->ens, &tr->ens, tr->dout, tr->grads, NULL);
        orl_adam_step(&tr->adam, d->ens.params, tr->grads, -1.0f);
    }
    tr->train_loss = loss_sum / (double)Nt;
    tr->epoch++;

    /* early stopping on the held-out loss, member by member */
    int improved = 0;
    if (tr->n_hold > 0) {
        holdout_losses(tr);
        for (size_t k = 0; k < K; k++) {
            if (!isfinite(tr->member_loss[k]))
                ORL_FAIL(ORL_ERR_NUMERIC,
                         "dynamics: epoch %d: member %zu's held-out loss is not "
                         "finite",
                         tr->epoch, k);
            if (tr->member_loss[k] < tr->best_loss[k]) {
                tr->best_loss[k] = tr->member_loss[k];
                memcpy(tr->best + k * P, d->ens.params + k * P, P * sizeof(float));
                improved = 1;
            }
        }
        tr->stale = improved ? 0 : tr->stale + 1;
    } else {
        memcpy(tr->best, d->ens.params, K * P * sizeof(float));
    }
    if (tr->epoch >= tr->cfg.epochs ||
        (tr->n_hold > 0 && tr->cfg.patience > 0 && tr->stale >= tr->cfg.patience))
        tr->done = 1;
    *finished = tr->done;
    return ORL_OK;
}

int32_t orl_dynamics_trainer_buffers(orl_dynamics_trainer *tr, const char *prefix, orl_buffer *out,
                                     int32_t cap, int32_t n) {
    orl_dynamics *d = tr->model;
    int64_t KP = (int64_t)d->cfg.members * d->ens.n_member;
    int64_t fb = KP * (int64_t)sizeof(float);
    orl_buffer_put(out, cap, &n, prefix, "params", d->ens.params, fb);
    orl_buffer_put(out, cap, &n, prefix, "best", tr->best, fb);
    orl_buffer_put(out, cap, &n, prefix, "adam_m", tr->adam.m, fb);
    orl_buffer_put(out, cap, &n, prefix, "adam_v", tr->adam.v, fb);
    orl_buffer_put(out, cap, &n, prefix, "adam_t", &tr->adam.t, (int64_t)sizeof tr->adam.t);
    orl_buffer_put(out, cap, &n, prefix, "best_loss", tr->best_loss,
                   (int64_t)d->cfg.members * (int64_t)sizeof(double));
    orl_buffer_put(out, cap, &n, prefix, "order", tr->order,
                   (int64_t)d->cfg.members * tr->n_train * (int64_t)sizeof(int64_t));
    orl_buffer_put(out, cap, &n, prefix, "rng", &tr->rng, (int64_t)sizeof tr->rng);
    orl_buffer_put(out, cap, &n, prefix, "epoch", &tr->epoch, (int64_t)sizeof tr->epoch);
    orl_buffer_put(out, cap, &n, prefix, "stale", &tr->stale, (int64_t)sizeof tr->stale);
    orl_buffer_put(out, cap, &n, prefix, "done", &tr->done, (int64_t)sizeof tr->done);
    orl_buffer_put(out, cap, &n, prefix, "train_loss", &tr->train_loss,
                   (int64_t)sizeof tr->train_loss);
    return n;
}

orl_status orl_dynamics_trainer_finish(orl_dynamics_trainer *tr, orl_dynamics **out) {
    *out = NULL;
    const orl_dynamics *live = tr->model;
    const orl_dataset *ds = tr->ds;
    size_t K = (size_t)live->cfg.members, P = (size_t)live->ens.n_member;
    orl_dynamics *d = NULL;
    ORL_TRY(orl_dynamics_alloc_internal(&tr->cfg, live->obs_dim, ds->h.act_dim, live->action_kind,
                                        live->n_actions, live->n_starts, NULL, &d));
    /* everything but the ensemble's own allocation is in the one block: copy the arrays */
    size_t arrays =
        model_bytes(live->obs_dim, live->in_dim, live->n_starts) - round_up(sizeof(orl_dynamics));
    memcpy((char *)d->mem + round_up(sizeof(orl_dynamics)),
           (const char *)live->mem + round_up(sizeof(orl_dynamics)), arrays);
    memcpy(d->ens.params, tr->best, K * P * sizeof(float));
    d->n_train_rows = tr->n_train;
    d->epochs_run = tr->epoch;
    d->train_loss = tr->train_loss;
    double hl = 0.0;
    for (size_t k = 0; k < K; k++) hl += tr->best_loss[k];
    d->holdout_loss = tr->n_hold > 0 ? hl / (double)K : NAN;
    d->gamma = ds->h.discount;
    int64_t longest = 0;
    for (int64_t e = 0; e < ds->n_episodes; e++) {
        int64_t len = ds->ep_off[e + 1] - ds->ep_off[e];
        if (len > longest) longest = len;
    }
    d->horizon = ds->h.horizon > 0 ? ds->h.horizon : longest;
    snprintf(d->env_id, sizeof d->env_id, "%s", ds->h.env_id);
    orl_status st = orl_dynamics_max_disagreement_internal(d, ds, &d->disagreement_max);
    if (st == ORL_OK) {
        d->threshold = d->disagreement_max / d->cfg.pessimism;
        st = orl_dynamics_evaluate_rows_internal(d, ds, tr->hold_rows, tr->n_hold, tr->hold_eps,
                                                 tr->n_hold_eps, &d->errors);
    }
    if (st != ORL_OK) {
        orl_dynamics_free(d);
        return st;
    }
    *out = d;
    return ORL_OK;
}

orl_status orl_dynamics_fit(const orl_dynamics_config *cfg, const orl_dataset *ds,
                            const orl_progress *progress, orl_dynamics **out) {
    *out = NULL;
    orl_dynamics_trainer *tr = NULL;
    ORL_TRY(orl_dynamics_trainer_create(cfg, ds, &tr));
    orl_status st = ORL_OK;
    int finished = 0;
    while (!finished) {
        ORL_TRY_GOTO(st, done, orl_dynamics_trainer_epoch(tr, &finished));
        if (orl_progress_report(progress, tr->epoch, cfg->epochs, "dynamics fit") != ORL_OK)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INTERRUPTED, "dynamics: interrupted at epoch %d",
                          tr->epoch);
    }
    st = orl_dynamics_trainer_finish(tr, out);
done:
    orl_dynamics_trainer_free(tr);
    return st;
}
