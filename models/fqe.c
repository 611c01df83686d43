/* Fitted Q evaluation, the neural version as fitted Q iteration (discrete and continuous
 * actions; see orl/models.h for the definitions). The exact tabular version and the result's
 * helpers are in fqe_tabular.c.
 *
 * Everything the iterations touch is allocated before the first one, in the fit kit (the
 * network, Adam's moments, its workspace sized for the batched passes: fit.h) and one block:
 * the policy read once at every next state and start state, the targets, the last-layer system
 * and the pass and mini-batch scratch. The last-layer system is accumulated in double with
 * cblas_dgemm and solved by Gaussian elimination with partial pivoting. Not here: the doubly
 * robust estimators (ope/dr.c). */
#include "orl/models.h"
#include "models/fqe_internal.h"

#include "orl/fit.h"
#include "orl/heads.h"
#include "orl/nn.h"
#include "orl/rng.h"

#include <cblas.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

orl_fqe_config orl_fqe_config_defaults(void) {
    orl_fqe_config c;
    memset(&c, 0, sizeof c);
    c.gamma = NAN;
    c.hidden = 64;
    c.n_hidden = 2;
    c.max_iter = 100;
    c.min_iter = 3;
    c.fit_steps = 300;
    c.tol = 1e-3;
    c.patience = 2;
    c.steps = 0;
    c.batch = 256;
    c.lr = 1e-3f;
    c.lr_decay = 0.93;
    c.loss = ORL_FQE_LOSS_MSE;
    c.huber_delta = 1.0f;
    c.grad_clip = 0.0f;
    c.solve = ORL_FQE_SOLVE_BACKUP;
    c.backups = 20;
    c.ridge = 1e-6;
    c.n_action_samples = 4;
    c.normalize_obs = 1;
    c.seed = 0;
    return c;
}

/* ---- neural FQE: fitted Q iteration ---- */

#define FQE_PASS_ROWS 2048 /* network rows per batched pass over the data */
#define FQE_MAX_SOLVE 1024 /* unknowns of the last-layer solve at most */

typedef struct fqe_ctx {
    const orl_dataset *ds;
    const orl_policy *policy;
    orl_fqe_config cfg;
    int discrete;
    int32_t S, A, n; /* observation size, action size, discrete actions */
    int32_t in, out; /* network input and output widths */
    int32_t L;       /* linear layers of the network (n_hidden + 1) */
    int32_t F;       /* features of the last layer: the last hidden width (the input if L = 1) */
    int32_t K;       /* action samples per state: n_action_samples (continuous, stochastic), or 1 */
    int32_t CS;      /* states per batched pass; CS * K network rows */
    int32_t d;       /* unknowns of the last-layer solve: out * (F + 1) discrete, F + 1 else */
    int32_t B;
    int64_t N, E;
    double gamma;
    orl_normalizer nm; /* observation statistics (identity unless normalize_obs) */
    float *act_mid;    /* (A) action centre for scaling to [-1, 1] */
    float *act_half;   /* (A) action half-width (1 when unbounded) */
    orl_fit fit;       /* the Q-network, Adam, its workspace (no target copy: targets are fixed
                          per iteration) */
    orl_policy_work *pw;
    /* drawn once */
    double *next_probs;  /* (N, n) discrete: pi_e(.|s') (double: the tabular case is exact) */
    double *start_probs; /* (E, n) discrete: pi_e(.|s0) */
    float *next_act;     /* (N, K, A) continuous: scaled a' ~ pi_e(s') */
    float *start_act;    /* (E, K, A) continuous: scaled a ~ pi_e(s0) */
    /* per iteration */
    float *y;    /* (N) regression targets */
    double *ff;  /* (d, d) sum phi phi^T of the last-layer system */
    double *fg;  /* (d, d) sum phi gamma (1 - t) phi'^T */
    double *fr;  /* (d) sum phi r */
    double *aug; /* (d, 2d + 1) the augmented system being solved */
    double *wv;  /* (d) the last layer as a vector */
    double *wn;  /* (d) its next backup */
    double *fm;  /* (CS, d) feature rows of a pass */
    double *gm;  /* (CS, d) gamma (1 - t) times the expected next features of those rows */
    double *cv;  /* (CS) rewards of those rows */
    /* mini-batch and pass scratch */
    int64_t *rows; /* (B) */
    int32_t *idx;  /* (CS) action indices for policy calls */
    double *logp;  /* (CS) */
    double *acc;   /* (CS) state values of a pass */
    double *probs; /* (CS, n) policy probabilities (evaluation) */
    float *x;      /* (max(B, CS K), in) network input */
    float *raw;    /* (CS, S) gathered raw observations */
    float *act;    /* (CS, A) actions from the policy */
    float *cact;   /* (CS, K, A) scaled actions of a pass (evaluation) */
    float *dout;   /* (B, out) */
    float *pred;   /* (B) */
    float *tgt;    /* (B) */
    float *dpred;  /* (B) */
    void *mem;
} fqe_ctx;

static void ctx_free(fqe_ctx *c) {
    orl_fit_free(&c->fit);
    orl_policy_work_free(c->pw);
    orl_normalizer_free(&c->nm);
    free(c->mem);
}

/* probs (B, n) of the discrete policy at raw observations obs (B, S), B <= CS: every action's
 * probability, or the one-hot of the argmax for a deterministic policy */
static orl_status policy_probs(fqe_ctx *c, const float *obs, int32_t batch, double *probs) {
    if (c->policy->deterministic) {
        ORL_TRY(
            orl_policy_act(c->policy, c->pw, obs, batch, ORL_POLICY_MODE_MEAN, NULL, NULL, c->idx));
        memset(probs, 0, (size_t)batch * (size_t)c->n * sizeof(double));
        for (int32_t b = 0; b < batch; b++) probs[(int64_t)b * c->n + c->idx[b]] = 1.0;
        return ORL_OK;
    }
    for (int32_t a = 0; a < c->n; a++) {
        for (int32_t b = 0; b < batch; b++) c->idx[b] = a;
        ORL_TRY(orl_policy_logp(c->policy, c->pw, obs, batch, NULL, c->idx, c->logp));
        for (int32_t b = 0; b < batch; b++) probs[(int64_t)b * c->n + a] = exp(c->logp[b]);
    }
    return ORL_OK;
}

/* acts (B, K, A): K scaled actions of the continuous policy at raw observations obs (B, S),
 * B <= CS; the mean action (K = 1) for a deterministic policy */
static orl_status policy_actions(fqe_ctx *c, const float *obs, int32_t batch, orl_rng *rng,
                                 float *acts) {
    int det = c->policy->deterministic;
    for (int32_t k = 0; k < c->K; k++) {
        ORL_TRY(orl_policy_act(c->policy, c->pw, obs, batch,
                               det ? ORL_POLICY_MODE_MEAN : ORL_POLICY_MODE_SAMPLE, rng, c->act,
                               NULL));
        for (int32_t b = 0; b < batch; b++)
            for (int32_t j = 0; j < c->A; j++)
                acts[((int64_t)b * c->K + k) * c->A + j] =
                    (c->act[(int64_t)b * c->A + j] - c->act_mid[j]) / c->act_half[j];
    }
    return ORL_OK;
}

/* the policy's probabilities pr (count, n) (discrete) or K scaled actions ac (count, K, A)
 * (continuous) at count states, rows index[i] of obs (index NULL: rows 0..count-1) */
static orl_status draw_policy(fqe_ctx *c, const float *obs, const int64_t *index, int64_t count,
                              orl_rng *rng, double *pr, float *ac) {
    for (int64_t i0 = 0; i0 < count; i0 += c->CS) {
        int32_t nb = (int32_t)(count - i0 < c->CS ? count - i0 : c->CS);
        const float *o = obs + i0 * c->S;
        if (index) {
            for (int32_t b = 0; b < nb; b++)
                memcpy(c->raw + (int64_t)b * c->S, obs + index[i0 + b] * c->S,
                       (size_t)c->S * sizeof(float));
            o = c->raw;
        }
        if (c->discrete)
            ORL_TRY(policy_probs(c, o, nb, pr + i0 * c->n));
        else
            ORL_TRY(policy_actions(c, o, nb, rng, ac + i0 * (int64_t)c->K * c->A));
    }
    return ORL_OK;
}

/* row of a network input: the normalised observation, then (continuous) the scaled action */
static void put_input(const fqe_ctx *c, float *x, const float *obs, const float *scaled_act) {
    for (int32_t j = 0; j < c->S; j++) x[j] = (obs[j] - c->nm.mean[j]) / c->nm.std[j];
    if (!c->discrete) memcpy(x + c->S, scaled_act, (size_t)c->A * sizeof(float));
}

/* the logged action of step i, scaled, into a (A) */
static void logged_action(const fqe_ctx *c, int64_t i, float *a) {
    for (int32_t j = 0; j < c->A; j++)
        a[j] = (c->ds->act[i * c->A + j] - c->act_mid[j]) / c->act_half[j];
}

/* forward of the network on the nb states obs (nb, S) with their policy draws (pr (nb, n)
 * probabilities, or ac (nb, K, A) scaled actions): V(s) = sum_a pi(a|s) Q(s, a), or the mean of
 * Q(s, a_k), into c->acc (nb). Returns the network output ((nb, n) or (nb K, 1)). */
static const float *state_values(fqe_ctx *c, const float *obs, int32_t nb, const double *pr,
                                 const float *ac) {
    int32_t K = c->discrete ? 1 : c->K;
    for (int32_t b = 0; b < nb; b++)
        for (int32_t k = 0; k < K; k++)
            put_input(c, c->x + ((int64_t)b * K + k) * c->in, obs + (int64_t)b * c->S,
                      c->discrete ? NULL : ac + ((int64_t)b * K + k) * c->A);
    const float *q = orl_fit_forward(&c->fit, c->x, nb * K);
    for (int32_t b = 0; b < nb; b++) {
        double s = 0.0;
        if (c->discrete) {
            for (int32_t a = 0; a < c->n; a++)
                s += pr[(int64_t)b * c->n + a] * q[(int64_t)b * c->n + a];
        } else {
            for (int32_t k = 0; k < K; k++) s += q[(int64_t)b * K + k];
            s /= (double)K;
        }
        c->acc[b] = s;
    }
    return q;
}

/* the features (rows, F) of the last network forward: the last hidden layer's activations, or
 * the input for a linear network */
static const float *last_features(const fqe_ctx *c) {
    return c->L > 1 ? c->fit.work.out[c->L - 2] : c->x;
}

/* the policy's draws at next states i0.. (probabilities or actions; NULL for the other kind) */
static const double *next_pr(const fqe_ctx *c, int64_t i0) {
    return c->discrete ? c->next_probs + i0 * c->n : NULL;
}
static const float *next_ac(const fqe_ctx *c, int64_t i0) {
    return c->discrete ? NULL : c->next_act + i0 * (int64_t)c->K * c->A;
}

/* y (N) = r + gamma (1 - terminal) V(s') with the current network */
static void compute_targets(fqe_ctx *c) {
    const orl_dataset *ds = c->ds;
    for (int64_t i0 = 0; i0 < c->N; i0 += c->CS) {
        int32_t nb = (int32_t)(c->N - i0 < c->CS ? c->N - i0 : c->CS);
        state_values(c, ds->next_obs + i0 * c->S, nb, next_pr(c, i0), next_ac(c, i0));
        for (int32_t b = 0; b < nb; b++) {
            int64_t i = i0 + b;
            double boot = ds->terminal[i] ? 0.0 : c->gamma * c->acc[b];
            c->y[i] = (float)((double)ds->rew[i] + boot);
        }
    }
}

/* the mean of V(s0) over the episode start states with the current network */
static double start_mean(fqe_ctx *c) {
    const orl_dataset *ds = c->ds;
    double sum = 0.0;
    for (int64_t e0 = 0; e0 < c->E; e0 += c->CS) {
        int32_t nb = (int32_t)(c->E - e0 < c->CS ? c->E - e0 : c->CS);
        for (int32_t b = 0; b < nb; b++)
            memcpy(c->raw + (int64_t)b * c->S, ds->obs + ds->ep_off[e0 + b] * c->S,
                   (size_t)c->S * sizeof(float));
        state_values(c, c->raw, nb, c->discrete ? c->start_probs + e0 * c->n : NULL,
                     c->discrete ? NULL : c->start_act + e0 * (int64_t)c->K * c->A);
        for (int32_t b = 0; b < nb; b++) sum += c->acc[b];
    }
    return sum / (double)c->E;
}

/* Gauss-Jordan elimination with partial pivoting on the augmented system am (d, w) whose
 * first d columns are the matrix: on return columns d..w-1 hold the solutions for those
 * right-hand sides. Returns 0 when a pivot vanishes or a solution is not finite. */
static int solve_dense(double *am, int32_t d, int32_t w) {
    for (int32_t k = 0; k < d; k++) {
        int32_t p = k;
        double best = fabs(am[(int64_t)k * w + k]);
        for (int32_t r = k + 1; r < d; r++)
            if (fabs(am[(int64_t)r * w + k]) > best) best = fabs(am[(int64_t)r * w + k]), p = r;
        if (!(best > 0.0)) return 0;
        double *rk = am + (int64_t)k * w;
        if (p != k) {
            double *rp = am + (int64_t)p * w;
            for (int32_t j = k; j < w; j++) {
                double t = rk[j];
                rk[j] = rp[j];
                rp[j] = t;
            }
        }
        double inv = 1.0 / rk[k];
        for (int32_t j = k; j < w; j++) rk[j] *= inv;
        for (int32_t r = 0; r < d; r++) {
            if (r == k) continue;
            double *rr = am + (int64_t)r * w;
            double m = rr[k];
            if (m == 0.0) continue;
            for (int32_t j = k; j < w; j++) rr[j] -= m * rk[j];
        }
    }
    for (int64_t i = 0; i < (int64_t)d * w; i++)
        if (!isfinite(am[i])) return 0;
    return 1;
}

/* the last layer set in closed form on the current features phi (the network below it fixed).
 * One pass accumulates FF = sum_i phi_i phi_i^T, FG = sum_i phi_i gamma (1 - t_i) phi'_i^T
 * (phi'_i the policy's expected features at s'_i) and Fr = sum_i phi_i r_i; P = FF + ridge.
 * LSTD solves (P - FG) w = Fr, the fixed point of the projected Bellman equation; backup
 * iterates w <- P^-1 (Fr + FG w) cfg.backups times from the current layer: that many exact
 * least-squares FQE iterations of the linear part. The ridge is cfg.ridge * trace(FF) / (F + 1)
 * (relative to the features' scale and the number of steps). Discrete actions: one block of F + 1
 * unknowns per action (the weights and bias of that output). Returns 1 when the layer was set, 0
 * when the system was singular (the layer is left as it is). */
static int solve_last_layer(fqe_ctx *c) {
    const orl_dataset *ds = c->ds;
    int32_t d = c->d, F = c->F, F1 = c->F + 1;
    int lstd = c->cfg.solve == ORL_FQE_SOLVE_LSTD;
    memset(c->ff, 0, (size_t)d * (size_t)d * sizeof(double));
    memset(c->fg, 0, (size_t)d * (size_t)d * sizeof(double));
    memset(c->fr, 0, (size_t)d * sizeof(double));
    double trace = 0.0;
    float *a_row = c->act; /* (A) a logged action, scaled */
    for (int64_t i0 = 0; i0 < c->N; i0 += c->CS) {
        int32_t nb = (int32_t)(c->N - i0 < c->CS ? c->N - i0 : c->CS);
        memset(c->fm, 0, (size_t)nb * (size_t)d * sizeof(double));
        memset(c->gm, 0, (size_t)nb * (size_t)d * sizeof(double));
        /* phi at the logged (s, a) */
        for (int32_t b = 0; b < nb; b++) {
            if (!c->discrete) logged_action(c, i0 + b, a_row);
            put_input(c, c->x + (int64_t)b * c->in, ds->obs + (i0 + b) * c->S, a_row);
        }
        orl_fit_forward(&c->fit, c->x, nb);
        const float *h = last_features(c);
        for (int32_t b = 0; b < nb; b++) {
            int64_t col = c->discrete ? (int64_t)ds->act_idx[i0 + b] * F1 : 0;
            double *fr = c->fm + (int64_t)b * d + col;
            for (int32_t j = 0; j < F; j++) fr[j] = h[(int64_t)b * F + j];
            fr[F] = 1.0;
            for (int32_t j = 0; j <= F; j++) trace += fr[j] * fr[j];
            c->cv[b] = (double)ds->rew[i0 + b];
        }
        /* gamma (1 - t) times the expected features at s' */
        state_values(c, ds->next_obs + i0 * c->S, nb, next_pr(c, i0), next_ac(c, i0));
        const float *h2 = last_features(c);
        for (int32_t b = 0; b < nb; b++) {
            int64_t i = i0 + b;
            if (ds->terminal[i]) continue;
            double *gr = c->gm + (int64_t)b * d;
            if (c->discrete) {
                for (int32_t a = 0; a < c->n; a++) {
                    double pg = c->gamma * c->next_probs[i * c->n + a];
                    if (pg == 0.0) continue;
                    double *g = gr + (int64_t)a * F1;
                    for (int32_t j = 0; j < F; j++) g[j] = pg * h2[(int64_t)b * F + j];
                    g[F] = pg;
                }
            } else {
                double gk = c->gamma / (double)c->K;
                for (int32_t k = 0; k < c->K; k++) {
                    const float *hk = h2 + ((int64_t)b * c->K + k) * F;
                    for (int32_t j = 0; j < F; j++) gr[j] += gk * hk[j];
                }
                gr[F] = c->gamma;
            }
        }
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, nb, 1.0, c->fm, d, c->fm, d, 1.0,
                    c->ff, d);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, nb, 1.0, c->fm, d, c->gm, d, 1.0,
                    c->fg, d);
        cblas_dgemv(CblasRowMajor, CblasTrans, nb, d, 1.0, c->fm, d, c->cv, 1, 1.0, c->fr, 1);
    }
    double lambda = c->cfg.ridge * trace / (double)F1;
    /* the augmented system [P (- FG) | Fr (| FG)] */
    int32_t aw = lstd ? d + 1 : 2 * d + 1;
    for (int32_t r = 0; r < d; r++) {
        double *row = c->aug + (int64_t)r * aw;
        const double *ffr = c->ff + (int64_t)r * d, *fgr = c->fg + (int64_t)r * d;
        for (int32_t j = 0; j < d; j++) row[j] = ffr[j] - (lstd ? fgr[j] : 0.0);
        row[r] += lambda;
        row[d] = c->fr[r];
        if (!lstd) memcpy(row + d + 1, fgr, (size_t)d * sizeof(double));
    }
    if (!solve_dense(c->aug, d, aw)) return 0;
    /* the current last layer as a vector of blocks */
    float *wl = c->fit.net.w[c->L - 1], *bl = c->fit.net.b[c->L - 1];
    double *wv = c->wv, *wn = c->wn;
    if (lstd) {
        for (int32_t r = 0; r < d; r++) wv[r] = c->aug[(int64_t)r * aw + d];
    } else {
        for (int32_t o = 0; o < c->out; o++) {
            for (int32_t j = 0; j < F; j++) wv[(int64_t)o * F1 + j] = wl[(int64_t)o * F + j];
            wv[(int64_t)o * F1 + F] = bl[o];
        }
        /* w <- c + M w with c = P^-1 Fr (column d), M = P^-1 FG (columns d+1..2d) */
        for (int32_t it = 0; it < c->cfg.backups; it++) {
            for (int32_t r = 0; r < d; r++) {
                const double *row = c->aug + (int64_t)r * aw;
                double s = row[d];
                for (int32_t j = 0; j < d; j++) s += row[d + 1 + j] * wv[j];
                wn[r] = s;
            }
            double *t = wv;
            wv = wn, wn = t;
        }
        for (int32_t r = 0; r < d; r++)
            if (!isfinite(wv[r])) return 0;
    }
    for (int32_t o = 0; o < c->out; o++) {
        const double *sv = wv + (int64_t)o * F1;
        for (int32_t j = 0; j < F; j++) wl[(int64_t)o * F + j] = (float)sv[j];
        bl[o] = (float)sv[F];
    }
    return 1;
}

static orl_status ctx_init(fqe_ctx *c, const orl_dataset *ds, const orl_policy *policy,
                           const orl_fqe_config *cfg) {
    c->ds = ds;
    c->policy = policy;
    c->cfg = *cfg;
    c->discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    c->S = ds->h.obs_dim;
    c->A = c->discrete ? 1 : ds->h.act_dim;
    c->n = c->discrete ? policy->n_actions : 0;
    c->in = c->discrete ? c->S : c->S + c->A;
    c->out = c->discrete ? c->n : 1;
    c->L = cfg->n_hidden + 1;
    c->F = cfg->n_hidden > 0 ? cfg->hidden : c->in;
    c->K = c->discrete || policy->deterministic ? 1 : cfg->n_action_samples;
    c->CS = FQE_PASS_ROWS / c->K > 0 ? FQE_PASS_ROWS / c->K : 1;
    c->d = c->out * (c->F + 1);
    c->B = cfg->batch;
    c->N = ds->n_steps;
    c->E = ds->n_episodes;
    double g = cfg->gamma;
    if (isnan(g)) g = isfinite(ds->h.discount) ? ds->h.discount : 0.99;
    c->gamma = g;
    int solve = cfg->solve != ORL_FQE_SOLVE_NONE;
    if (solve && c->d > FQE_MAX_SOLVE)
        ORL_FAIL(ORL_ERR_INPUT,
                 "fqe: the last-layer solve has %d unknowns (more than %d): use fewer hidden "
                 "units or no solve",
                 c->d, FQE_MAX_SOLVE);

    if (cfg->normalize_obs)
        ORL_TRY(orl_normalizer_fit(&c->nm, ds->obs, ds->n_steps, c->S, 1e-3f));
    else
        ORL_TRY(orl_normalizer_identity(&c->nm, c->S));

    orl_mlp_config mc;
    memset(&mc, 0, sizeof mc);
    mc.n_layers = c->L;
    mc.widths[0] = c->in;
    for (int32_t l = 1; l < c->L; l++) mc.widths[l] = cfg->hidden;
    mc.widths[c->L] = c->out;
    mc.activation = ORL_ACTIVATION_RELU;
    mc.init = ORL_INIT_FAN_IN_UNIFORM;
    orl_rng init_rng;
    orl_rng_seed(&init_rng, cfg->seed, 1);
    int32_t rows = c->CS * c->K > c->B ? c->CS * c->K : c->B;
    orl_fit_config fc = orl_fit_defaults(cfg->lr, rows);
    fc.max_grad_norm = cfg->grad_clip > 0.0f ? (double)cfg->grad_clip : 0.0;
    ORL_TRY(orl_fit_init(&c->fit, &mc, &fc, &init_rng));
    ORL_TRY(orl_policy_work_create(policy, c->CS, &c->pw));

    /* one allocation: doubles and int64 first for alignment, then int32, then floats */
    size_t N = (size_t)c->N, E = (size_t)c->E, B = (size_t)c->B, CS = (size_t)c->CS;
    size_t K = (size_t)c->K, A = (size_t)c->A, n = (size_t)c->n, d = solve ? (size_t)c->d : 0;
    size_t nd = 2 * d * d + d + d * (2 * d + 1) + 2 * d + 2 * CS * d + CS + CS + CS +
                (c->discrete ? (N + E + CS) * n : 0);
    size_t n64 = B;
    size_t n32 = CS;
    size_t nf = c->discrete ? 0 : (N + E) * K * A;
    nf += N + (size_t)rows * (size_t)c->in + CS * (size_t)c->S + CS * A + CS * K * A +
          B * (size_t)c->out + 3 * B + 2 * A;
    c->mem = calloc(1, nd * sizeof(double) + n64 * sizeof(int64_t) + n32 * sizeof(int32_t) +
                           nf * sizeof(float));
    if (!c->mem) ORL_FAIL(ORL_ERR_NOMEM, "fqe: cannot allocate %lld steps' scratch", (long long)N);
    double *pd = c->mem;
    c->ff = pd, pd += d * d;
    c->fg = pd, pd += d * d;
    c->fr = pd, pd += d;
    c->aug = pd, pd += d * (2 * d + 1);
    c->wv = pd, pd += d;
    c->wn = pd, pd += d;
    c->fm = pd, pd += CS * d;
    c->gm = pd, pd += CS * d;
    c->cv = pd, pd += CS;
    c->logp = pd, pd += CS;
    c->acc = pd, pd += CS;
    if (c->discrete) {
        c->next_probs = pd, pd += N * n;
        c->start_probs = pd, pd += E * n;
        c->probs = pd, pd += CS * n;
    }
    int64_t *p64 = (int64_t *)(void *)pd;
    c->rows = p64, p64 += B;
    int32_t *p32 = (int32_t *)(void *)p64;
    c->idx = p32, p32 += CS;
    float *f = (float *)(void *)p32;
    if (!c->discrete) {
        c->next_act = f, f += N * K * A;
        c->start_act = f, f += E * K * A;
    }
    c->y = f, f += N;
    c->x = f, f += (size_t)rows * (size_t)c->in;
    c->raw = f, f += CS * (size_t)c->S;
    c->act = f, f += CS * A;
    c->cact = f, f += CS * K * A;
    c->dout = f, f += B * (size_t)c->out;
    c->pred = f, f += B;
    c->tgt = f, f += B;
    c->dpred = f, f += B;
    c->act_mid = f, f += A;
    c->act_half = f, f += A;

    /* actions are scaled to [-1, 1] by the policy's bounds where they are finite */
    for (int32_t j = 0; j < c->A; j++) {
        c->act_mid[j] = 0.0f;
        c->act_half[j] = 1.0f;
        if (!c->discrete && policy->act_low && policy->act_high && isfinite(policy->act_low[j]) &&
            isfinite(policy->act_high[j]) && policy->act_high[j] > policy->act_low[j]) {
            c->act_mid[j] = 0.5f * (policy->act_high[j] + policy->act_low[j]);
            c->act_half[j] = 0.5f * (policy->act_high[j] - policy->act_low[j]);
        }
    }

    /* the evaluation policy at every next state and every start state, once */
    orl_rng draw_rng;
    orl_rng_seed(&draw_rng, cfg->seed, 3);
    ORL_TRY(draw_policy(c, ds->next_obs, NULL, c->N, &draw_rng, c->next_probs, c->next_act));
    ORL_TRY(draw_policy(c, ds->obs, ds->ep_off, c->E, &draw_rng, c->start_probs, c->start_act));
    return ORL_OK;
}

/* one gradient step towards the fixed targets y on a uniformly drawn mini-batch; the loss in
 * *loss */
static void fit_step(fqe_ctx *c, orl_rng *batch_rng, float lr, double *loss) {
    const orl_dataset *ds = c->ds;
    int32_t B = c->B;
    for (int32_t b = 0; b < B; b++) {
        int64_t i = (int64_t)orl_rng_below(batch_rng, (uint32_t)c->N);
        c->rows[b] = i;
        if (!c->discrete) logged_action(c, i, c->act);
        put_input(c, c->x + (int64_t)b * c->in, ds->obs + i * c->S, c->act);
        c->tgt[b] = c->y[i];
    }
    const float *qo = orl_fit_forward(&c->fit, c->x, B);
    for (int32_t b = 0; b < B; b++)
        c->pred[b] = c->discrete ? qo[(int64_t)b * c->n + ds->act_idx[c->rows[b]]] : qo[b];
    memset(c->dpred, 0, (size_t)B * sizeof(float));
    *loss = c->cfg.loss == ORL_FQE_LOSS_MSE
                ? orl_loss_mse(c->dpred, c->pred, c->tgt, B, 1.0f)
                : orl_loss_huber(c->dpred, c->pred, c->tgt, B, c->cfg.huber_delta, 1.0f);
    memset(c->dout, 0, (size_t)B * (size_t)c->out * sizeof(float));
    for (int32_t b = 0; b < B; b++) {
        int64_t col = c->discrete ? ds->act_idx[c->rows[b]] : 0;
        c->dout[(int64_t)b * c->out + col] = c->dpred[b];
    }
    orl_fit_backward(&c->fit, c->dout, NULL);
    orl_fit_step(&c->fit, lr); /* clipped to grad_clip when > 0 */
}

/* q and v at every logged step with the final network; v with the policy drawn afresh (its
 * own stream) at every logged state */
static orl_status evaluate_all(fqe_ctx *c, orl_fqe_result *out) {
    const orl_dataset *ds = c->ds;
    orl_rng eval_rng;
    orl_rng_seed(&eval_rng, c->cfg.seed, 4);

    for (int64_t i0 = 0; i0 < c->N; i0 += c->CS) {
        int32_t nb = (int32_t)(c->N - i0 < c->CS ? c->N - i0 : c->CS);
        const float *obs = ds->obs + i0 * c->S;
        ORL_TRY(draw_policy(c, obs, NULL, nb, &eval_rng, c->probs, c->cact));
        const float *q = state_values(c, obs, nb, c->probs, c->cact);
        for (int32_t b = 0; b < nb; b++) {
            out->v[i0 + b] = c->acc[b];
            if (c->discrete) out->q[i0 + b] = q[(int64_t)b * c->n + ds->act_idx[i0 + b]];
        }
        if (!c->discrete) {
            for (int32_t b = 0; b < nb; b++) {
                logged_action(c, i0 + b, c->act);
                put_input(c, c->x + (int64_t)b * c->in, obs + (int64_t)b * c->S, c->act);
            }
            q = orl_fit_forward(&c->fit, c->x, nb);
            for (int32_t b = 0; b < nb; b++) out->q[i0 + b] = q[b];
        }
    }
    return ORL_OK;
}

orl_status orl_fqe_fit(const orl_dataset *ds, const orl_policy *policy, const orl_fqe_config *cfg,
                       const orl_progress *progress, orl_fqe_result *out) {
    orl_fqe_config def = orl_fqe_config_defaults();
    if (!cfg) cfg = &def;
    if (!ds || !policy || !out) ORL_FAIL(ORL_ERR_INPUT, "fqe: NULL dataset, policy or result");
    if (ds->n_steps < 1 || ds->n_episodes < 1) ORL_FAIL(ORL_ERR_INPUT, "fqe: empty dataset");
    if (ds->n_steps > (int64_t)UINT32_MAX)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "fqe: more than 2^32 steps");
    if (cfg->n_hidden < 0 || cfg->n_hidden > ORL_MLP_MAX_LAYERS - 1 ||
        (cfg->n_hidden > 0 && cfg->hidden < 1))
        ORL_FAIL(ORL_ERR_INPUT, "fqe: hidden %d x %d is not a valid network", cfg->hidden,
                 cfg->n_hidden);
    if (cfg->max_iter < 1 || cfg->min_iter < 0 || cfg->fit_steps < 0 || cfg->patience < 1 ||
        !(cfg->tol >= 0.0) || cfg->steps < 0 || cfg->batch < 1 || !(cfg->lr > 0.0f))
        ORL_FAIL(ORL_ERR_INPUT,
                 "fqe: max_iter %d, min_iter %d, fit_steps %d, patience %d, tol %g, steps %lld, "
                 "batch %d, lr %g",
                 cfg->max_iter, cfg->min_iter, cfg->fit_steps, cfg->patience, cfg->tol,
                 (long long)cfg->steps, cfg->batch, (double)cfg->lr);
    if (cfg->solve != ORL_FQE_SOLVE_LSTD && cfg->solve != ORL_FQE_SOLVE_BACKUP &&
        cfg->solve != ORL_FQE_SOLVE_NONE)
        ORL_FAIL(ORL_ERR_INPUT, "fqe: unknown solve %d", (int)cfg->solve);
    if (cfg->solve == ORL_FQE_SOLVE_BACKUP && cfg->backups < 1)
        ORL_FAIL(ORL_ERR_INPUT, "fqe: backups %d < 1", cfg->backups);
    if (cfg->solve == ORL_FQE_SOLVE_NONE && cfg->fit_steps < 1)
        ORL_FAIL(ORL_ERR_INPUT, "fqe: no solve and no fit steps: nothing would be fitted");
    if (!(cfg->lr_decay > 0.0 && cfg->lr_decay <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "fqe: lr_decay %g outside (0, 1]", cfg->lr_decay);
    if (!(cfg->ridge >= 0.0)) ORL_FAIL(ORL_ERR_INPUT, "fqe: ridge %g < 0", cfg->ridge);
    if (!isnan(cfg->gamma) && !(cfg->gamma >= 0.0 && cfg->gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "fqe: gamma %g outside [0, 1]", cfg->gamma);
    if (cfg->loss == ORL_FQE_LOSS_HUBER && !(cfg->huber_delta > 0.0f))
        ORL_FAIL(ORL_ERR_INPUT, "fqe: huber_delta %g <= 0", (double)cfg->huber_delta);
    if (ds->h.action_kind == ORL_ACTION_KIND_CONTINUOUS && !policy->deterministic &&
        cfg->n_action_samples < 1)
        ORL_FAIL(ORL_ERR_INPUT, "fqe: n_action_samples %d < 1", cfg->n_action_samples);
    ORL_TRY(orl_policy_check_dims(policy, ds->h.obs_dim, ds->h.act_dim, ds->h.action_kind,
                                  ds->h.n_actions));
    if (ds->h.action_kind == ORL_ACTION_KIND_DISCRETE)
        for (int64_t i = 0; i < ds->n_steps; i++)
            if (ds->act_idx[i] < 0 || ds->act_idx[i] >= policy->n_actions)
                ORL_FAIL(ORL_ERR_INPUT, "fqe: step %lld: action %d outside [0, %d)", (long long)i,
                         ds->act_idx[i], policy->n_actions);

    fqe_ctx c;
    memset(&c, 0, sizeof c);
    memset(out, 0, sizeof *out);
    orl_status st = ctx_init(&c, ds, policy, cfg);
    if (st != ORL_OK) goto done;
    ORL_TRY_GOTO(st, done, orl_fqe_result_alloc(ds, out));
    out->gamma = c.gamma;
    out->last_change = NAN;
    out->final_loss = NAN;

    orl_rng batch_rng;
    orl_rng_seed(&batch_rng, cfg->seed, 2);
    double prev = NAN;
    int32_t calm = 0;
    /* the change of an iteration times the geometric tail rho / (1 - rho) of the backups still
       to come (rho = gamma^backups per iteration; at least 1) estimates the distance left */
    double rho = cfg->solve == ORL_FQE_SOLVE_LSTD
                     ? 0.0
                     : pow(c.gamma, cfg->solve == ORL_FQE_SOLVE_BACKUP ? cfg->backups : 1);
    double tail = rho < 1.0 ? fmax(1.0, rho / (1.0 - rho)) : 1e12;
    int64_t grad_steps = 0;
    for (int32_t it = 1; it <= cfg->max_iter; it++) {
        /* the targets of this iteration, with the network of the last one */
        compute_targets(&c);
        /* warm-started regression onto them, at lr * lr_decay^(it - 1) */
        float lr = (float)((double)cfg->lr * pow(cfg->lr_decay, (double)(it - 1)));
        double loss_sum = 0.0;
        int32_t n_fit = 0;
        for (int32_t s = 0; s < cfg->fit_steps && (cfg->steps == 0 || grad_steps < cfg->steps);
             s++) {
            double loss = 0.0;
            fit_step(&c, &batch_rng, lr, &loss);
            if (!isfinite(loss))
                ORL_FAIL_GOTO(st, done, ORL_ERR_NUMERIC,
                              "fqe: non-finite loss at iteration %d, fit step %d", it, s);
            loss_sum += loss, n_fit++, grad_steps++;
        }
        if (n_fit > 0) out->final_loss = loss_sum / (double)n_fit;
        /* the last layer in closed form on the features just learnt */
        if (cfg->solve != ORL_FQE_SOLVE_NONE && !solve_last_layer(&c)) out->solve_failures++;
        double v = start_mean(&c);
        if (!isfinite(v))
            ORL_FAIL_GOTO(st, done, ORL_ERR_NUMERIC, "fqe: non-finite value at iteration %d", it);
        out->iterations = it;
        out->gradient_steps = grad_steps;
        if (it > 1) {
            double change = fabs(v - prev) / fmax(fabs(v), 1e-12);
            out->last_change = change;
            calm = change * tail <= cfg->tol ? calm + 1 : 0;
        }
        prev = v;
        ORL_TRY_GOTO(st, done, orl_progress_report(progress, it, cfg->max_iter, "fqe"));
        if (calm >= cfg->patience && it >= cfg->min_iter) {
            out->converged = 1;
            break;
        }
        if (cfg->steps > 0 && grad_steps >= cfg->steps && cfg->fit_steps > 0) break;
    }
    ORL_TRY_GOTO(st, done, evaluate_all(&c, out));
    orl_fqe_start_value(ds, out);

done:
    if (st != ORL_OK) orl_fqe_result_free(out);
    ctx_free(&c);
    return st;
}
