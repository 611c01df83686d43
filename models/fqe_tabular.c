/* Fitted Q evaluation, the exact tabular version on the count-based empirical model (see
 * orl/models.h), and the result's helpers both versions share (fqe_internal.h). */
#include "orl/models.h"
#include "models/fqe_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void orl_fqe_result_free(orl_fqe_result *r) {
    if (!r) return;
    free(r->q);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* mean and standard error of v at the episode start states */
void orl_fqe_start_value(const orl_dataset *ds, orl_fqe_result *out) {
    double sum = 0.0, sum2 = 0.0;
    int64_t E = ds->n_episodes;
    for (int64_t e = 0; e < E; e++) sum += out->v[ds->ep_off[e]];
    double mean = sum / (double)E;
    for (int64_t e = 0; e < E; e++) {
        double d = out->v[ds->ep_off[e]] - mean;
        sum2 += d * d;
    }
    out->value = mean;
    out->value_stderr = E > 1 ? sqrt(sum2 / (double)(E - 1) / (double)E) : 0.0;
}

orl_status orl_fqe_result_alloc(const orl_dataset *ds, orl_fqe_result *out) {
    memset(out, 0, sizeof *out);
    out->n_steps = ds->n_steps;
    out->n_episodes = ds->n_episodes;
    out->q = calloc((size_t)ds->n_steps, sizeof(double));
    out->v = calloc((size_t)ds->n_steps, sizeof(double));
    if (!out->q || !out->v) {
        orl_fqe_result_free(out);
        ORL_FAIL(ORL_ERR_NOMEM, "fqe: cannot allocate %lld steps", (long long)ds->n_steps);
    }
    return ORL_OK;
}

/* ---- tabular FQE ---- */

/* the index of the one 1 in a one-hot row, or -1 */
static int32_t one_hot_index(const float *x, int32_t n) {
    int32_t k = -1;
    for (int32_t j = 0; j < n; j++) {
        if (x[j] == 1.0f) {
            if (k >= 0) return -1;
            k = j;
        } else if (x[j] != 0.0f) {
            return -1;
        }
    }
    return k;
}

orl_status orl_fqe_tabular(const orl_dataset *ds, const double *probs, int32_t n_states,
                           int32_t n_actions, const orl_fqe_tabular_config *cfg,
                           orl_fqe_result *out) {
    if (!ds || !probs || !cfg || !out) ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: NULL argument");
    if (ds->h.action_kind != ORL_ACTION_KIND_DISCRETE)
        ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: the dataset's actions are continuous");
    if (n_states < 1 || n_actions < 1 || ds->h.obs_dim != n_states)
        ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: obs_dim %d, n_states %d, n_actions %d", ds->h.obs_dim,
                 n_states, n_actions);
    if (ds->n_steps < 1 || ds->n_episodes < 1)
        ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: empty dataset");
    if (!(cfg->gamma >= 0.0 && cfg->gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: gamma %g outside [0, 1]", cfg->gamma);
    if (cfg->horizon < 0) ORL_FAIL(ORL_ERR_INPUT, "fqe tabular: horizon %d < 0", cfg->horizon);

    int64_t N = ds->n_steps;
    size_t SA = (size_t)n_states * (size_t)n_actions;
    int32_t H = cfg->horizon;
    size_t n_q = H > 0 ? (size_t)(H + 1) * SA : 2 * SA;
    /* counts (SA), reward sums (SA), non-terminal transition counts (SA, S), Q tables, V (S);
       state indices (N) */
    size_t nd = 2 * SA + SA * (size_t)n_states + n_q + (size_t)n_states;
    double *mem = calloc(nd, sizeof(double));
    int32_t *st_idx = malloc((size_t)N * sizeof(int32_t));
    memset(out, 0, sizeof *out);
    orl_status st = ORL_OK;
    if (!mem || !st_idx) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "fqe tabular: out of memory");
    double *cnt = mem, *rsum = cnt + SA, *trans = rsum + SA, *Q = trans + SA * (size_t)n_states;
    double *V = Q + n_q;
    int32_t *s_of = st_idx;

    /* the empirical model */
    for (int64_t i = 0; i < N; i++) {
        int32_t s = one_hot_index(ds->obs + i * n_states, n_states);
        int32_t sn = one_hot_index(ds->next_obs + i * n_states, n_states);
        int32_t a = ds->act_idx[i];
        if (s < 0 || (sn < 0 && !ds->terminal[i]))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                          "fqe tabular: step %lld: observation is not one-hot over %d states",
                          (long long)i, n_states);
        if (a < 0 || a >= n_actions)
            ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "fqe tabular: step %lld: action %d",
                          (long long)i, a);
        s_of[i] = s;
        size_t k = (size_t)s * (size_t)n_actions + (size_t)a;
        cnt[k] += 1.0;
        rsum[k] += ds->rew[i];
        if (!ds->terminal[i]) trans[k * (size_t)n_states + (size_t)sn] += 1.0;
    }

    ORL_TRY_GOTO(st, fail, orl_fqe_result_alloc(ds, out));
    out->gamma = cfg->gamma;

    /* one Bellman sweep of the empirical model: qn = r^ + gamma P^ V(q) */
#define SWEEP(qn, qo)                                                                              \
    do {                                                                                           \
        for (int32_t s = 0; s < n_states; s++) {                                                   \
            double vs = 0.0;                                                                       \
            for (int32_t a = 0; a < n_actions; a++)                                                \
                vs += probs[(size_t)s * (size_t)n_actions + (size_t)a] *                           \
                      (qo)[(size_t)s * (size_t)n_actions + (size_t)a];                             \
            V[s] = vs;                                                                             \
        }                                                                                          \
        for (size_t k = 0; k < SA; k++) {                                                          \
            if (cnt[k] == 0.0) {                                                                   \
                (qn)[k] = 0.0;                                                                     \
                continue;                                                                          \
            }                                                                                      \
            double boot = 0.0;                                                                     \
            const double *tr = trans + k * (size_t)n_states;                                       \
            for (int32_t s2 = 0; s2 < n_states; s2++)                                              \
                if (tr[s2] != 0.0) boot += tr[s2] * V[s2];                                         \
            (qn)[k] = (rsum[k] + cfg->gamma * boot) / cnt[k];                                      \
        }                                                                                          \
    } while (0)

    if (H > 0) {
        /* Q_0 = 0; Q_h from Q_{h-1} */
        for (int32_t h = 1; h <= H; h++) SWEEP(Q + (size_t)h * SA, Q + (size_t)(h - 1) * SA);
        out->iterations = H;
        out->converged = 1;
        for (int64_t e = 0; e < ds->n_episodes; e++)
            for (int64_t i = ds->ep_off[e]; i < ds->ep_off[e + 1]; i++) {
                int64_t h = H - (i - ds->ep_off[e]);
                if (h < 1) continue; /* beyond the horizon: nothing is left */
                const double *qh = Q + (size_t)h * SA + (size_t)s_of[i] * (size_t)n_actions;
                double vs = 0.0;
                for (int32_t a = 0; a < n_actions; a++)
                    vs += probs[(size_t)s_of[i] * (size_t)n_actions + (size_t)a] * qh[a];
                out->q[i] = qh[ds->act_idx[i]];
                out->v[i] = vs;
            }
    } else {
        int64_t max_iter = cfg->max_iter > 0 ? cfg->max_iter : 100000;
        double tol = cfg->tol > 0.0 ? cfg->tol : 1e-10;
        double *qa = Q, *qb = Q + SA, change = INFINITY;
        int64_t it = 0;
        while (it < max_iter && change > tol) {
            SWEEP(qb, qa);
            change = 0.0;
            for (size_t k = 0; k < SA; k++) change = fmax(change, fabs(qb[k] - qa[k]));
            double *t = qa;
            qa = qb, qb = t;
            it++;
        }
        if (!(change <= tol))
            ORL_FAIL_GOTO(st, fail, ORL_ERR_NUMERIC,
                          "fqe tabular: no convergence in %lld sweeps (last change %g; gamma %g)",
                          (long long)it, change, cfg->gamma);
        out->iterations = it;
        out->converged = 1;
        out->final_loss = change;
        for (int64_t i = 0; i < N; i++) {
            const double *qs = qa + (size_t)s_of[i] * (size_t)n_actions;
            double vs = 0.0;
            for (int32_t a = 0; a < n_actions; a++)
                vs += probs[(size_t)s_of[i] * (size_t)n_actions + (size_t)a] * qs[a];
            out->q[i] = qs[ds->act_idx[i]];
            out->v[i] = vs;
        }
    }
#undef SWEEP
    orl_fqe_start_value(ds, out);
    free(mem);
    free(st_idx);
    return ORL_OK;

fail:
    orl_fqe_result_free(out);
    free(mem);
    free(st_idx);
    return st;
}
