/* Dynamics ensembles' held-out errors (include/orl/dynamics.h): one-step and open-loop errors at
 * the horizons of orl_dynamics_horizons on held-out episodes, the largest disagreement over a
 * dataset (the threshold's numerator) and how much of a dataset a threshold would halt, all
 * through batched prediction (dynamics.c).
 * Not here: fitting (dynamics.c), model files (dynamics_file.c). */
#include "models/dynamics_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVAL 256 /* open-loop error: at most this many held-out start steps */

orl_status orl_dynamics_evaluate_rows_internal(const orl_dynamics *d, const orl_dataset *ds,
                                               const int64_t *rows, int64_t n, const int64_t *eps,
                                               int64_t ne, orl_dynamics_errors *out) {
    memset(out, 0, sizeof *out);
    out->n_rows = n;
    out->n_episodes = ne;
    out->state_rmse = out->state_nrmse = out->reward_rmse = out->done_error = NAN;
    for (int h = 0; h < ORL_DYNAMICS_HORIZONS; h++)
        out->horizon_rmse[h] = out->horizon_nrmse[h] = NAN;
    if (n < 1) return ORL_OK;
    size_t K = (size_t)d->cfg.members, S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    int32_t Bmax = MAX_EVAL;
    orl_dynamics_work *w = NULL;
    ORL_TRY(orl_dynamics_work_create(d, Bmax, &w));
    size_t KB = K * (size_t)Bmax;
    /* one block: states (K, B, S), next (K, B, S), actions (K, B, A), indices (K, B), rew,
     * done (K, B), obs (B, S), the start rows (B) and their remaining steps (B) */
    size_t floats = 2 * KB * S + KB * A + 2 * KB + (size_t)Bmax * S;
    float *buf =
        malloc(floats * sizeof(float) + KB * sizeof(int32_t) + 2 * (size_t)Bmax * sizeof(int64_t));
    if (!buf) {
        orl_dynamics_work_free(w);
        ORL_FAIL(ORL_ERR_NOMEM, "dynamics: evaluation buffers");
    }
    float *state = buf, *next = state + KB * S, *acts = next + KB * S, *rew = acts + KB * A;
    float *done = rew + KB, *obs = done + KB;
    int32_t *idx = (int32_t *)(void *)(obs + (size_t)Bmax * S);
    int64_t *start = (int64_t *)(void *)(idx + KB), *left = start + Bmax;
    (void)eps;

    /* one-step errors over every row */
    double se = 0.0, nse = 0.0, rse = 0.0, wrong = 0.0, n_used = 0.0;
    for (size_t j = 0; j < S; j++) n_used += (double)d->in_mask[j];
    for (int64_t i0 = 0; i0 < n; i0 += Bmax) {
        int32_t B = (int32_t)(n - i0 < Bmax ? n - i0 : Bmax);
        for (int32_t b = 0; b < B; b++) {
            int64_t r = rows[i0 + b];
            memcpy(obs + (size_t)b * S, ds->obs + (size_t)r * S, S * sizeof(float));
            if (ds->act)
                memcpy(acts + (size_t)b * A, ds->act + (size_t)r * A, A * sizeof(float));
            else
                idx[b] = ds->act_idx[r];
        }
        orl_dynamics_predict(d, w, obs, ds->act ? acts : NULL, ds->act ? NULL : idx, 0, B, next,
                             rew, done);
        for (size_t k = 0; k < K; k++)
            for (int32_t b = 0; b < B; b++) {
                int64_t r = rows[i0 + b];
                size_t kb = k * (size_t)B + (size_t)b;
                for (size_t j = 0; j < S; j++) {
                    double e = (double)next[kb * S + j] - (double)ds->next_obs[(size_t)r * S + j];
                    se += e * e;
                    if (d->in_mask[j] > 0.0f)
                        nse += e * e / ((double)d->obs_scale[j] * (double)d->obs_scale[j]);
                }
                double re = (double)rew[kb] - (double)ds->rew[r];
                rse += re * re;
                if ((done[kb] > 0.5f) != (ds->terminal[r] != 0)) wrong += 1.0;
            }
    }
    double count = (double)n * (double)K;
    out->state_rmse = sqrt(se / (count * (double)S));
    out->state_nrmse = n_used > 0.0 ? sqrt(nse / (count * n_used)) : 0.0;
    out->reward_rmse = sqrt(rse / count);
    out->done_error = wrong / count;

    /* open-loop errors: up to MAX_EVAL start rows spread evenly over the rows, each member
     * rolled on its own predictions with the logged actions, errors at each horizon */
    int64_t n_start = n < Bmax ? n : Bmax;
    int32_t B = (int32_t)n_start;
    int32_t H = orl_dynamics_horizons[ORL_DYNAMICS_HORIZONS - 1];
    double hse[ORL_DYNAMICS_HORIZONS] = {0}, hnse[ORL_DYNAMICS_HORIZONS] = {0};
    /* the end of the episode holding each row: rows are in episode order */
    for (int32_t b = 0; b < B; b++) {
        int64_t r = rows[(int64_t)((double)b * (double)n / (double)n_start)];
        start[b] = r;
        /* find the episode end: the first flagged row at or after r */
        int64_t end = r;
        while (end < ds->n_steps - 1 && !ds->terminal[end] && !ds->timeout[end]) end++;
        left[b] = end - r + 1; /* steps from r to the episode's last transition */
        for (size_t k = 0; k < K; k++)
            memcpy(state + (k * (size_t)B + (size_t)b) * S, ds->obs + (size_t)r * S,
                   S * sizeof(float));
    }
    for (int32_t t = 1; t <= H; t++) {
        /* actions of step t - 1 after each start (the last available when the episode ended:
         * those rows no longer count) */
        for (size_t k = 0; k < K; k++)
            for (int32_t b = 0; b < B; b++) {
                int64_t off = t - 1 < left[b] ? t - 1 : left[b] - 1;
                int64_t r = start[b] + off;
                size_t kb = k * (size_t)B + (size_t)b;
                if (ds->act)
                    memcpy(acts + kb * A, ds->act + (size_t)r * A, A * sizeof(float));
                else
                    idx[kb] = ds->act_idx[r];
            }
        orl_dynamics_predict(d, w, state, ds->act ? acts : NULL, ds->act ? NULL : idx, 1, B, next,
                             NULL, NULL);
        for (size_t j = 0; j < K * (size_t)B * S; j++)
            state[j] = isfinite(next[j]) ? next[j] : 0.0f;
        for (int h = 0; h < ORL_DYNAMICS_HORIZONS; h++) {
            if (orl_dynamics_horizons[h] != t) continue;
            for (int32_t b = 0; b < B; b++) {
                if (left[b] < t) continue;
                const float *truth = ds->next_obs + (size_t)(start[b] + t - 1) * S;
                out->horizon_count[h]++;
                for (size_t k = 0; k < K; k++)
                    for (size_t j = 0; j < S; j++) {
                        double e =
                            (double)next[(k * (size_t)B + (size_t)b) * S + j] - (double)truth[j];
                        hse[h] += e * e;
                        if (d->in_mask[j] > 0.0f)
                            hnse[h] += e * e / ((double)d->obs_scale[j] * (double)d->obs_scale[j]);
                    }
            }
        }
    }
    for (int h = 0; h < ORL_DYNAMICS_HORIZONS; h++) {
        double c = (double)out->horizon_count[h] * (double)K;
        if (c > 0) {
            out->horizon_rmse[h] = sqrt(hse[h] / (c * (double)S));
            out->horizon_nrmse[h] = n_used > 0.0 ? sqrt(hnse[h] / (c * n_used)) : 0.0;
        }
    }
    free(buf);
    orl_dynamics_work_free(w);
    return ORL_OK;
}

orl_status orl_dynamics_evaluate(const orl_dynamics *d, const orl_dataset *ds,
                                 orl_dynamics_errors *out) {
    ORL_TRY(orl_dynamics_check_dims(d, &ds->h, "dynamics"));
    int64_t *rows = malloc((size_t)(ds->n_steps > 0 ? ds->n_steps : 1) * sizeof(int64_t));
    if (!rows) ORL_FAIL(ORL_ERR_NOMEM, "dynamics: evaluation rows");
    for (int64_t i = 0; i < ds->n_steps; i++) rows[i] = i;
    orl_status st =
        orl_dynamics_evaluate_rows_internal(d, ds, rows, ds->n_steps, NULL, ds->n_episodes, out);
    free(rows);
    return st;
}

/* one pass of predictions over every row of ds: the largest disagreement, and the rows and
 * episodes with a row whose disagreement exceeds threshold (NaN: not counted) */
static orl_status disagreement_pass(const orl_dynamics *d, const orl_dataset *ds, double threshold,
                                    double *max_out, int64_t *rows_over, int64_t *episodes_over) {
    int32_t Bmax = 256;
    size_t K = (size_t)d->cfg.members, S = (size_t)d->obs_dim, A = (size_t)d->act_dim;
    orl_dynamics_work *w = NULL;
    ORL_TRY(orl_dynamics_work_create(d, Bmax, &w));
    float *next = malloc((K * (size_t)Bmax * S + (size_t)Bmax) * sizeof(float));
    if (!next) {
        orl_dynamics_work_free(w);
        ORL_FAIL(ORL_ERR_NOMEM, "dynamics: disagreement buffers");
    }
    float *dis = next + K * (size_t)Bmax * S;
    double best = 0.0;
    int64_t n_rows = 0, n_eps = 0, e = 0, counted_e = -1;
    for (int64_t i0 = 0; i0 < ds->n_steps; i0 += Bmax) {
        int32_t B = (int32_t)(ds->n_steps - i0 < Bmax ? ds->n_steps - i0 : Bmax);
        orl_dynamics_predict(d, w, ds->obs + (size_t)i0 * S,
                             ds->act ? ds->act + (size_t)i0 * A : NULL,
                             ds->act_idx ? ds->act_idx + i0 : NULL, 0, B, next, NULL, NULL);
        orl_dynamics_disagreement(d, next, B, dis);
        for (int32_t b = 0; b < B; b++) {
            if ((double)dis[b] > best || !isfinite(dis[b])) best = (double)dis[b];
            if (!((double)dis[b] > threshold)) continue;
            n_rows++;
            int64_t r = i0 + b;
            while (e < ds->n_episodes && ds->ep_off[e + 1] <= r) e++;
            if (e != counted_e) counted_e = e, n_eps++;
        }
    }
    free(next);
    orl_dynamics_work_free(w);
    if (!isfinite(best)) ORL_FAIL(ORL_ERR_NUMERIC, "dynamics: a prediction is not finite");
    *max_out = best;
    if (rows_over) *rows_over = n_rows;
    if (episodes_over) *episodes_over = n_eps;
    return ORL_OK;
}

/* max over the rows of ds of the disagreement */
orl_status orl_dynamics_max_disagreement_internal(const orl_dynamics *d, const orl_dataset *ds,
                                                  double *out) {
    return disagreement_pass(d, ds, NAN, out, NULL, NULL);
}

orl_status orl_dynamics_over_threshold(const orl_dynamics *d, const orl_dataset *ds,
                                       double threshold, double *row_share, double *episode_share) {
    ORL_TRY(orl_dynamics_check_dims(d, &ds->h, "model"));
    if (ds->n_steps < 1 || ds->n_episodes < 1)
        ORL_FAIL(ORL_ERR_INPUT, "dynamics: expected a dataset with at least one row");
    double max = 0.0;
    int64_t rows = 0, eps = 0;
    ORL_TRY(disagreement_pass(d, ds, threshold, &max, &rows, &eps));
    if (row_share) *row_share = (double)rows / (double)ds->n_steps;
    if (episode_share) *episode_share = (double)eps / (double)ds->n_episodes;
    return ORL_OK;
}
