/* Doubly robust off-policy estimates: per-decision DR (Jiang & Li 2016; Thomas & Brunskill
 * 2016) and weighted DR (Thomas & Brunskill 2016) over per-step log-ratios and a model's
 * q = Q^(s_t, a_t), v = V^(s_t) (orl/fqe.h has the formulas).
 *
 * Weights stay in log space: the cumulative log-weight of step t is the running sum of the
 * episode's log-ratios, and WDR's per-step normaliser sum_j w_t^j is taken with the step's
 * largest log-weight subtracted, so it never overflows. Episodes that ended before step t enter
 * that normaliser with their final weight; their log-sum-exp is accumulated once over the end
 * steps, so the whole estimate is O(N + T_max). Sums are double. The log-ratios themselves come
 * from ope.h (orl_ope_ratios_compute); nothing here calls a policy. */
#include "orl/fqe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void orl_dr_options_init(orl_dr_options *opt) {
    opt->gamma = 1.0;
    opt->ess_warn_fraction = 0.1;
}

void orl_dr_estimate_free(orl_dr_estimate *r) {
    if (!r) return;
    free(r->dr_episode);
    memset(r, 0, sizeof *r);
}

/* log(exp(a) + exp(b)) for a, b possibly -inf */
static double log_add(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log(exp(a - m) + exp(b - m));
}

orl_status orl_dr_compute_from(const double *log_ratio, const double *rew, const double *q,
                               const double *v, const int64_t *ep_off, int64_t n_episodes,
                               const orl_dr_options *opt, orl_dr_estimate *out) {
    orl_dr_options def;
    orl_dr_options_init(&def);
    if (!opt) opt = &def;
    if (!log_ratio || !rew || !q || !v || !ep_off || !out)
        ORL_FAIL(ORL_ERR_INPUT, "dr: NULL argument");
    if (n_episodes < 1) ORL_FAIL(ORL_ERR_INPUT, "dr: no episodes");
    double gamma = isnan(opt->gamma) ? 1.0 : opt->gamma;
    if (!(gamma >= 0.0 && gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "dr: gamma %g outside [0, 1]", gamma);
    double warn_fraction = opt->ess_warn_fraction < 0.0 ? 0.1 : opt->ess_warn_fraction;
    int64_t E = n_episodes, N = ep_off[E];

    /* check the inputs and find the longest episode */
    int64_t T_max = 0;
    for (int64_t e = 0; e < E; e++) {
        int64_t T = ep_off[e + 1] - ep_off[e];
        if (T < 1) ORL_FAIL(ORL_ERR_INPUT, "dr: episode %lld is empty", (long long)e);
        if (T > T_max) T_max = T;
    }
    for (int64_t i = 0; i < N; i++) {
        if (isnan(log_ratio[i]) || log_ratio[i] == INFINITY)
            ORL_FAIL(ORL_ERR_NUMERIC, "dr: log-ratio of step %lld is %g", (long long)i,
                     log_ratio[i]);
        if (!isfinite(q[i]) || !isfinite(v[i]) || !isfinite(rew[i]))
            ORL_FAIL(ORL_ERR_NUMERIC, "dr: step %lld: q %g, v %g, reward %g", (long long)i, q[i],
                     v[i], rew[i]);
    }

    memset(out, 0, sizeof *out);
    /* per-episode results (2E), final log-weights (E), per-step max (T), ended log-sum-exp (T),
       normaliser (T) */
    double *mem = malloc((size_t)(3 * E + 3 * T_max) * sizeof(double));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "dr: cannot allocate for %lld episodes", (long long)E);
    out->dr_episode = mem;
    out->wdr_episode = mem + E;
    double *lw_final = mem + 2 * E;
    double *m_step = lw_final + E, *l_end = m_step + T_max, *norm = l_end + T_max;
    for (int64_t t = 0; t < T_max; t++) m_step[t] = l_end[t] = -INFINITY, norm[t] = 0.0;

    /* pass 1: largest active log-weight per step, final log-weights */
    for (int64_t e = 0; e < E; e++) {
        double lw = 0.0;
        for (int64_t i = ep_off[e]; i < ep_off[e + 1]; i++) {
            lw += log_ratio[i];
            int64_t t = i - ep_off[e];
            if (lw > m_step[t]) m_step[t] = lw;
        }
        lw_final[e] = lw;
        int64_t T = ep_off[e + 1] - ep_off[e];
        if (T < T_max) l_end[T] = log_add(l_end[T], lw);
    }
    /* ended episodes at step t: those with T_e <= t */
    for (int64_t t = 1; t < T_max; t++) l_end[t] = log_add(l_end[t - 1], l_end[t]);
    for (int64_t t = 0; t < T_max; t++)
        if (l_end[t] > m_step[t]) m_step[t] = l_end[t];

    /* pass 2: the normaliser sum_j w_t^j / exp(m_step[t]) */
    for (int64_t e = 0; e < E; e++) {
        double lw = 0.0;
        for (int64_t i = ep_off[e]; i < ep_off[e + 1]; i++) {
            lw += log_ratio[i];
            int64_t t = i - ep_off[e];
            if (m_step[t] > -INFINITY) norm[t] += exp(lw - m_step[t]);
        }
    }
    for (int64_t t = 0; t < T_max; t++)
        if (m_step[t] > -INFINITY && l_end[t] > -INFINITY) norm[t] += exp(l_end[t] - m_step[t]);

    /* pass 3: DR_i and episode i's share of WDR */
    double dr_sum = 0.0, wdr = 0.0;
    for (int64_t e = 0; e < E; e++) {
        double lw = 0.0, w_prev = 1.0, wn_prev = 1.0 / (double)E, disc = 1.0;
        double dr = 0.0, wd = 0.0;
        for (int64_t i = ep_off[e]; i < ep_off[e + 1]; i++) {
            int64_t t = i - ep_off[e];
            lw += log_ratio[i];
            double w = exp(lw);
            double wn =
                (m_step[t] > -INFINITY && norm[t] > 0.0) ? exp(lw - m_step[t]) / norm[t] : 0.0;
            double td = rew[i] - q[i];
            dr += disc * (w * td + w_prev * v[i]);
            wd += disc * (wn * td + wn_prev * v[i]);
            w_prev = w;
            wn_prev = wn;
            disc *= gamma;
        }
        out->dr_episode[e] = dr;
        out->wdr_episode[e] = wd;
        dr_sum += dr;
        wdr += wd;
    }
    double mean = dr_sum / (double)E, ss = 0.0;
    for (int64_t e = 0; e < E; e++) {
        double d = out->dr_episode[e] - mean;
        ss += d * d;
    }
    out->dr = mean;
    out->dr_stderr = E > 1 ? sqrt(ss / (double)(E - 1) / (double)E) : 0.0;
    out->wdr = wdr;

    /* diagnostics of the trajectory weights, shifted by the largest */
    double lmax = -INFINITY;
    for (int64_t e = 0; e < E; e++)
        if (lw_final[e] > lmax) lmax = lw_final[e];
    double s1 = 0.0, s2 = 0.0, wmax = 0.0;
    if (lmax > -INFINITY)
        for (int64_t e = 0; e < E; e++) {
            double w = exp(lw_final[e] - lmax);
            s1 += w;
            s2 += w * w;
            if (w > wmax) wmax = w;
        }
    out->ess = s2 > 0.0 ? s1 * s1 / s2 : 0.0;
    out->max_weight_share = s1 > 0.0 ? wmax / s1 : 0.0;
    out->n_episodes = E;
    out->n_steps = N;
    out->warn_low_ess = out->ess < warn_fraction * (double)E;
    out->gamma = gamma;
    return ORL_OK;
}

orl_status orl_dr_compute(const orl_dataset *ds, const orl_policy *policy,
                          const orl_fqe_result *fqe, const orl_ope_ratio_options *ratio_opt,
                          const orl_dr_options *opt, orl_dr_estimate *out) {
    if (!ds || !policy || !fqe || !out) ORL_FAIL(ORL_ERR_INPUT, "dr: NULL argument");
    if (fqe->n_steps != ds->n_steps || fqe->n_episodes != ds->n_episodes || !fqe->q || !fqe->v)
        ORL_FAIL(ORL_ERR_INPUT,
                 "dr: the FQE result (%lld steps, %lld episodes) does not match the dataset "
                 "(%lld steps, %lld episodes)",
                 (long long)fqe->n_steps, (long long)fqe->n_episodes, (long long)ds->n_steps,
                 (long long)ds->n_episodes);
    orl_dr_options fqe_opt;
    if (!opt) {
        orl_dr_options_init(&fqe_opt);
        fqe_opt.gamma = fqe->gamma;
        opt = &fqe_opt;
    }
    orl_ope_ratios *r = NULL;
    ORL_TRY(orl_ope_ratios_compute(ds, policy, ratio_opt, &r));

    /* q and v of the episodes the ratios kept (all of them unless RIS held some out), with
       the episode offsets rebuilt from the dataset's episode lengths */
    orl_status st = ORL_OK;
    size_t n = (size_t)(r->n_steps > 0 ? r->n_steps : 1);
    double *qv = malloc(2 * n * sizeof(double));
    int64_t *off = malloc((size_t)(r->n_episodes + 1) * sizeof(int64_t));
    if (!qv || !off) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "dr: out of memory");
    double *q = qv, *v = qv + n;
    off[0] = 0;
    for (int64_t e = 0; e < r->n_episodes; e++) {
        int64_t src = r->source_episode ? r->source_episode[e] : e;
        if (src < 0 || src >= ds->n_episodes)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "dr: ratio episode %lld has no source",
                          (long long)e);
        int64_t T = ds->ep_off[src + 1] - ds->ep_off[src];
        off[e + 1] = off[e] + T;
        if (off[e + 1] > r->n_steps)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "dr: the ratios hold fewer steps than episodes");
        memcpy(q + off[e], fqe->q + ds->ep_off[src], (size_t)T * sizeof(double));
        memcpy(v + off[e], fqe->v + ds->ep_off[src], (size_t)T * sizeof(double));
    }
    if (off[r->n_episodes] != r->n_steps)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "dr: the ratios' steps do not match their episodes");
    ORL_TRY_GOTO(st, done,
                 orl_dr_compute_from(r->log_ratio, r->rew, q, v, off, r->n_episodes, opt, out));
    out->log_ratio_clipped_fraction =
        r->n_steps > 0 ? (double)r->n_log_ratio_clipped / (double)r->n_steps : 0.0;
    out->behavior_estimated = r->behavior_estimated;
    out->logged_missing = r->logged_missing;
done:
    free(qv);
    free(off);
    orl_ope_ratios_free(r);
    return st;
}
