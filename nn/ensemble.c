/* Ensembles of K MLPs with one configuration (MOReL's dynamics models, REM/EDAC-style critics):
 * parameters contiguous in one (K, P) buffer so one optimizer, one Polyak pass and one save
 * cover all members; forward and backward of every member in one call; the mean and two
 * disagreement measures over the (K, B, O) outputs.
 *
 * One allocation for the model (member views, then parameters), one for the workspace (member
 * workspaces and outputs) plus each member's orl_mlp_work. No allocation in forward/backward. */
#include "orl/heads.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t round64(size_t n) {
    return (n + 63) & ~(size_t)63;
}

orl_status orl_ensemble_create(orl_ensemble *ens, const orl_mlp_config *cfg, int32_t n_members,
                               orl_rng *rng) {
    memset(ens, 0, sizeof(*ens));
    if (n_members < 1) ORL_FAIL(ORL_ERR_INPUT, "ensemble: n_members %d must be >= 1", n_members);
    int64_t P;
    ORL_TRY(orl_mlp_param_count(cfg, &P));
    size_t K = (size_t)n_members;
    size_t head = round64(K * sizeof(orl_mlp));
    size_t total = round64(head + K * (size_t)P * sizeof(float));
    char *mem = aligned_alloc(64, total);
    if (!mem)
        ORL_FAIL(ORL_ERR_NOMEM, "ensemble: %d members of %lld parameters", n_members, (long long)P);
    ens->cfg = *cfg;
    ens->n_members = n_members;
    ens->n_member = P;
    ens->members = (orl_mlp *)(void *)mem;
    ens->params = (float *)(void *)(mem + head);
    ens->mem = mem;
    for (size_t k = 0; k < K; k++) {
        orl_status st = orl_mlp_bind(&ens->members[k], cfg, ens->params + k * (size_t)P);
        if (st != ORL_OK) {
            free(mem);
            memset(ens, 0, sizeof(*ens));
            return st;
        }
        orl_mlp_init_params(&ens->members[k], rng);
    }
    return ORL_OK;
}

void orl_ensemble_free(orl_ensemble *ens) {
    if (!ens) return;
    free(ens->mem);
    memset(ens, 0, sizeof(*ens));
}

orl_status orl_ensemble_work_init(orl_ensemble_work *w, const orl_ensemble *ens,
                                  int32_t max_batch) {
    memset(w, 0, sizeof(*w));
    if (max_batch <= 0)
        ORL_FAIL(ORL_ERR_INPUT, "ensemble: max_batch %d must be positive", max_batch);
    size_t K = (size_t)ens->n_members;
    size_t O = (size_t)ens->cfg.widths[ens->cfg.n_layers];
    size_t head = round64(K * sizeof(orl_mlp_work));
    size_t total = round64(head + K * (size_t)max_batch * O * sizeof(float));
    char *mem = aligned_alloc(64, total);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "ensemble: workspace for batch %d", max_batch);
    memset(mem, 0, head);
    w->mem = mem;
    w->members = (orl_mlp_work *)(void *)mem;
    w->out = (float *)(void *)(mem + head);
    w->max_batch = max_batch;
    for (size_t k = 0; k < K; k++) {
        orl_status st = orl_mlp_work_init(&w->members[k], &ens->cfg, max_batch);
        if (st != ORL_OK) {
            for (size_t j = 0; j < k; j++) orl_mlp_work_free(&w->members[j]);
            free(mem);
            memset(w, 0, sizeof(*w));
            return st;
        }
    }
    w->n_members = ens->n_members;
    return ORL_OK;
}

void orl_ensemble_work_free(orl_ensemble_work *w) {
    if (!w || !w->mem) return;
    for (size_t k = 0; k < (size_t)w->n_members; k++) orl_mlp_work_free(&w->members[k]);
    free(w->mem);
    memset(w, 0, sizeof(*w));
}

void orl_ensemble_forward(const orl_ensemble *ens, orl_ensemble_work *w, const float *x,
                          int per_member, int32_t batch, float *out) {
    assert(batch > 0 && batch <= w->max_batch);
    size_t K = (size_t)ens->n_members, B = (size_t)batch;
    size_t I = (size_t)ens->cfg.widths[0], O = (size_t)ens->cfg.widths[ens->cfg.n_layers];
    w->batch = batch;
    w->per_member = per_member;
    for (size_t k = 0; k < K; k++) {
        const float *xk = per_member ? x + k * B * I : x;
        orl_mlp_forward(&ens->members[k], &w->members[k], xk, batch, w->out + k * B * O);
    }
    if (out) memcpy(out, w->out, K * B * O * sizeof(float));
}

void orl_ensemble_backward(const orl_ensemble *ens, orl_ensemble_work *w, const float *dout,
                           float *dparams, float *dx) {
    size_t K = (size_t)ens->n_members, B = (size_t)w->batch;
    size_t I = (size_t)ens->cfg.widths[0], O = (size_t)ens->cfg.widths[ens->cfg.n_layers];
    size_t P = (size_t)ens->n_member;
    for (size_t k = 0; k < K; k++) {
        float *dxk = dx ? (w->per_member ? dx + k * B * I : dx) : NULL;
        orl_mlp_backward(&ens->members[k], &w->members[k], dout + k * B * O,
                         dparams ? dparams + k * P : NULL, dxk);
    }
}

void orl_ensemble_mean(float *mean, const float *out, int32_t n_members, int32_t batch,
                       int32_t out_dim) {
    size_t K = (size_t)n_members, BO = (size_t)batch * (size_t)out_dim;
    for (size_t i = 0; i < BO; i++) {
        double sum = 0.0;
        for (size_t k = 0; k < K; k++) sum += (double)out[k * BO + i];
        mean[i] = (float)(sum / (double)K);
    }
}

void orl_ensemble_disagreement_std(float *disagreement, const float *out, int32_t n_members,
                                   int32_t batch, int32_t out_dim) {
    size_t K = (size_t)n_members, O = (size_t)out_dim, BO = (size_t)batch * O;
    for (size_t b = 0; b < (size_t)batch; b++) {
        double best = 0.0;
        for (size_t o = 0; o < O; o++) {
            size_t i = b * O + o;
            double sum = 0.0;
            for (size_t k = 0; k < K; k++) sum += (double)out[k * BO + i];
            double m = sum / (double)K, var = 0.0;
            for (size_t k = 0; k < K; k++) {
                double d = (double)out[k * BO + i] - m;
                var += d * d;
            }
            double sd = sqrt(var / (double)K);
            if (sd > best) best = sd;
        }
        disagreement[b] = (float)best;
    }
}

void orl_ensemble_disagreement_pairwise(float *disagreement, const float *out, int32_t n_members,
                                        int32_t batch, int32_t out_dim) {
    size_t K = (size_t)n_members, O = (size_t)out_dim, BO = (size_t)batch * O;
    for (size_t b = 0; b < (size_t)batch; b++) {
        double best = 0.0;
        for (size_t i = 0; i < K; i++) {
            for (size_t j = i + 1; j < K; j++) {
                double d2 = 0.0;
                for (size_t o = 0; o < O; o++) {
                    double d = (double)out[i * BO + b * O + o] - (double)out[j * BO + b * O + o];
                    d2 += d * d;
                }
                if (d2 > best) best = d2;
            }
        }
        disagreement[b] = (float)sqrt(best);
    }
}
