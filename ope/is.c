/* Importance-sampling estimators: the per-step log-ratios of a dataset under an evaluation
 * policy (logged or estimated behaviour, kernel smoothing for deterministic continuous
 * policies), and IS, PDIS, WIS, WPDIS with their diagnostics.
 *
 * Products of ratios are sums of log-ratios; every sum is double. Weighted estimators subtract
 * the largest log-weight before exponentiating. Not here: the behaviour estimation (ris.c), the
 * bootstrap and the bounds (bounds.c). */
#include "orl/ope.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const estimator_names[ORL_OPE_ESTIMATOR_COUNT] = {
    [ORL_OPE_ESTIMATOR_IS] = "is",
    [ORL_OPE_ESTIMATOR_PDIS] = "pdis",
    [ORL_OPE_ESTIMATOR_WIS] = "wis",
    [ORL_OPE_ESTIMATOR_WPDIS] = "wpdis",
};

const char *orl_ope_estimator_name(orl_ope_estimator e) {
    if ((int)e < 0 || e >= ORL_OPE_ESTIMATOR_COUNT) return NULL;
    return estimator_names[e];
}

orl_status orl_ope_estimator_parse(const char *name, orl_ope_estimator *out) {
    assert(name && out);
    for (int i = 0; i < ORL_OPE_ESTIMATOR_COUNT; i++)
        if (strcmp(name, estimator_names[i]) == 0) {
            *out = (orl_ope_estimator)i;
            return ORL_OK;
        }
    ORL_FAIL(ORL_ERR_INPUT, "estimator '%s': expected one of is, pdis, wis, wpdis", name);
}

void orl_ope_ratio_options_init(orl_ope_ratio_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->behavior = ORL_OPE_BEHAVIOR_LOGGED;
    opt->count_prior = -1.0;
}

void orl_ope_options_init(orl_ope_options *opt) {
    opt->gamma = 1.0;
    opt->weight_clip = 0.0;
    opt->ess_warn_fraction = 0.1;
}

/* ---- the ratios record ---- */

/* bytes of a record's one allocation, and the offsets of its arrays */
static size_t ratios_layout(int64_t n, int64_t e, size_t *at_lpb, size_t *at_rew, size_t *at_off,
                            size_t *at_src) {
    size_t nn = (size_t)n, ee = (size_t)e;
    *at_lpb = nn * sizeof(double);
    *at_rew = *at_lpb + nn * sizeof(double);
    *at_off = *at_rew + nn * sizeof(double);
    *at_src = *at_off + (ee + 1) * sizeof(int64_t);
    return *at_src + ee * sizeof(int64_t);
}

orl_status orl_ope_ratios_create(int64_t n_steps, int64_t n_episodes, orl_ope_ratios **out) {
    assert(out);
    *out = NULL;
    if (n_steps < 0 || n_episodes < 0)
        ORL_FAIL(ORL_ERR_INPUT, "ope ratios: %lld steps, %lld episodes", (long long)n_steps,
                 (long long)n_episodes);
    size_t a_lpb, a_rew, a_off, a_src;
    size_t bytes = ratios_layout(n_steps, n_episodes, &a_lpb, &a_rew, &a_off, &a_src);
    orl_ope_ratios *r = calloc(1, sizeof *r);
    char *mem = calloc(1, bytes);
    if (!r || !mem) {
        free(r);
        free(mem);
        ORL_FAIL(ORL_ERR_NOMEM, "ope ratios: %zu bytes", bytes);
    }
    r->mem = mem;
    r->n_steps = n_steps;
    r->n_episodes = n_episodes;
    r->log_ratio = (double *)mem;
    r->log_pi_b = (double *)(mem + a_lpb);
    r->rew = (double *)(mem + a_rew);
    r->ep_off = (int64_t *)(mem + a_off);
    r->source_episode = (int64_t *)(mem + a_src);
    for (int64_t e = 0; e < n_episodes; e++) r->source_episode[e] = e;
    r->kernel_bandwidth = NAN;
    *out = r;
    return ORL_OK;
}

void orl_ope_ratios_free(orl_ope_ratios *r) {
    if (!r) return;
    free(r->mem);
    free(r);
}

/* the default kernel bandwidth: 0.1 of the narrowest finite action range, else 1 */
static double default_bandwidth(const orl_header *h, const orl_policy *p) {
    double range = INFINITY;
    for (int32_t j = 0; j < h->act_dim; j++) {
        double lo = h->act_low ? h->act_low[j] : NAN, hi = h->act_high ? h->act_high[j] : NAN;
        if (!(isfinite(lo) && isfinite(hi)) && p->act_low && p->act_high) {
            lo = p->act_low[j];
            hi = p->act_high[j];
        }
        if (isfinite(lo) && isfinite(hi) && hi > lo && hi - lo < range) range = hi - lo;
    }
    return isfinite(range) ? 0.1 * range : 1.0;
}

/* log pi_e of n buffered steps: logp, or the log Gaussian kernel around pi_e's action */
static orl_status eval_logp(const orl_policy *p, orl_policy_work *w, const float *obs,
                            const float *act, const int32_t *act_idx, int32_t n, int32_t A,
                            double h, float *mu, double *out) {
    if (!p->deterministic) return orl_policy_logp(p, w, obs, n, act, act_idx, out);
    if (p->action_kind == ORL_ACTION_KIND_DISCRETE) {
        /* a deterministic discrete policy: probability 1 on its action */
        int32_t *best = (int32_t *)mu;
        ORL_TRY(orl_policy_act(p, w, obs, n, ORL_POLICY_MODE_MEAN, NULL, NULL, best));
        for (int32_t i = 0; i < n; i++) out[i] = best[i] == act_idx[i] ? 0.0 : -INFINITY;
        return ORL_OK;
    }
    ORL_TRY(orl_policy_act(p, w, obs, n, ORL_POLICY_MODE_MEAN, NULL, mu, NULL));
    double norm = -0.5 * (double)A * log(2.0 * 3.14159265358979323846 * h * h);
    for (int32_t i = 0; i < n; i++) {
        double d2 = 0.0;
        for (int32_t j = 0; j < A; j++) {
            double d = (double)act[(size_t)i * (size_t)A + (size_t)j] -
                       (double)mu[(size_t)i * (size_t)A + (size_t)j];
            d2 += d * d;
        }
        out[i] = norm - 0.5 * d2 / (h * h);
    }
    return ORL_OK;
}

/* the buffered steps rows (fill) of the ratio computation, written to r from index *at: log
 * pi_e by eval_logp, the behaviour's log-probability from lpb_all, the log-ratio (clipped to
 * [-c, c] when c > 0, counted in *clipped) and the reward. ORL_ERR_NUMERIC when a log-ratio is
 * not finite (or the behaviour's log-probability is NaN). */
static orl_status flush_steps(const orl_dataset *ds, const orl_policy *pi_e, orl_policy_work *w,
                              const float *obs, const float *act, const int32_t *act_idx,
                              const int64_t *rows, int32_t fill, int32_t A, double bw, float *mu,
                              double *lpe, const double *lpb_all, double c, orl_ope_ratios *r,
                              int64_t *at, int64_t *clipped) {
    ORL_TRY(eval_logp(pi_e, w, obs, act, act_idx, fill, A, bw, mu, lpe));
    for (int32_t i = 0; i < fill; i++) {
        double lb = lpb_all[rows[i]];
        double lr = lpe[i] - lb;
        if (isnan(lr) || lr == INFINITY || isnan(lb))
            ORL_FAIL(ORL_ERR_NUMERIC,
                     "ope: step %lld: log pi_e %g, log pi_b %g: the log-ratio is not finite (an "
                     "action impossible under the behaviour?)",
                     (long long)rows[i], lpe[i], lb);
        if (c > 0.0 && (lr > c || lr < -c)) {
            lr = lr > c ? c : -c;
            (*clipped)++;
        }
        r->log_ratio[*at] = lr;
        r->log_pi_b[*at] = lb;
        r->rew[*at] = (double)ds->rew[rows[i]];
        (*at)++;
    }
    return ORL_OK;
}

orl_status orl_ope_ratios_compute(const orl_dataset *ds, const orl_policy *pi_e,
                                  const orl_ope_ratio_options *opt_in, orl_ope_ratios **out) {
    assert(ds && pi_e && out);
    *out = NULL;
    orl_ope_ratio_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        orl_ope_ratio_options_init(&opt);
    const orl_header *h = &ds->h;
    const int64_t N = ds->n_steps, E = ds->n_episodes;
    const int32_t S = h->obs_dim, A = h->act_dim;
    int discrete = h->action_kind == ORL_ACTION_KIND_DISCRETE;
    ORL_TRY(orl_policy_check_dims(pi_e, S, A, h->action_kind, h->n_actions));
    if (E < 1) ORL_FAIL(ORL_ERR_INPUT, "ope: the dataset has no episodes");
    if (opt.behavior < 0 || opt.behavior >= ORL_OPE_BEHAVIOR_COUNT)
        ORL_FAIL(ORL_ERR_INPUT, "ope: unknown behaviour option %d", (int)opt.behavior);
    if (!(opt.heldout_fraction >= 0.0 && opt.heldout_fraction < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope: heldout_fraction %g, expected [0, 1)", opt.heldout_fraction);
    if (!(opt.log_ratio_clip >= 0.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope: log_ratio_clip %g, expected >= 0", opt.log_ratio_clip);
    if (opt.ris_order < 0) ORL_FAIL(ORL_ERR_INPUT, "ope: RIS order %d", opt.ris_order);
    int logged = opt.behavior == ORL_OPE_BEHAVIOR_LOGGED;
    if (logged && opt.heldout_fraction > 0.0)
        ORL_FAIL(ORL_ERR_INPUT, "ope: a held-out split needs an estimated behaviour (RIS)");
    if (logged && !h->has_logp)
        ORL_FAIL(ORL_ERR_INPUT,
                 "ope: the dataset has no logged behaviour probabilities (logp_b); use an "
                 "estimated behaviour policy (regression importance sampling)");
    int kernel = pi_e->deterministic && !discrete;
    double bw = opt.kernel_bandwidth > 0.0 ? opt.kernel_bandwidth : default_bandwidth(h, pi_e);
    int32_t batch = opt.batch > 0 ? opt.batch : 1024;

    orl_status st = ORL_OK;
    uint8_t *fit = NULL;
    double *lpb_all = NULL, *lpe = NULL;
    float *obs = NULL, *act = NULL, *mu = NULL;
    int32_t *act_idx = NULL;
    int64_t *rows = NULL;
    orl_policy_work *work = NULL;
    orl_ope_ratios *r = NULL;

    /* which episodes are evaluated (and, held out, which ones the behaviour is fitted on) */
    fit = malloc((size_t)E);
    if (!fit) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "ope: fit mask");
    int64_t n_fit = E, n_eval_ep = E, n_eval_steps = N;
    memset(fit, 1, (size_t)E);
    if (opt.heldout_fraction > 0.0) {
        orl_rng rng;
        orl_rng_seed(&rng, opt.seed, 7);
        n_fit = 0;
        n_eval_ep = 0;
        n_eval_steps = 0;
        for (int64_t e = 0; e < E; e++) {
            fit[e] = orl_rng_uniform(&rng) < opt.heldout_fraction;
            if (fit[e])
                n_fit++;
            else {
                n_eval_ep++;
                n_eval_steps += ds->ep_off[e + 1] - ds->ep_off[e];
            }
        }
        if (n_fit == 0 || n_eval_ep == 0)
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                          "ope: held-out split of %lld episodes left %lld to fit, %lld to "
                          "evaluate",
                          (long long)E, (long long)n_fit, (long long)n_eval_ep);
    }

    /* the behaviour log-probabilities of every step */
    lpb_all = malloc((size_t)N * sizeof *lpb_all);
    if (!lpb_all) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "ope: behaviour log-probabilities");
    if (logged) {
        for (int64_t t = 0; t < N; t++) lpb_all[t] = (double)ds->logp_b[t];
    } else {
        double prior =
            opt.count_prior >= 0.0 ? opt.count_prior : (opt.heldout_fraction > 0.0 ? 0.5 : 0.0);
        const uint8_t *fit_mask = opt.heldout_fraction > 0.0 ? fit : NULL;
        /* a bounded behaviour model needs bounds: the data's, else the evaluation policy's */
        if (opt.behavior == ORL_OPE_BEHAVIOR_MLP && !opt.mlp_act_low && pi_e->act_low) {
            opt.mlp_act_low = pi_e->act_low;
            opt.mlp_act_high = pi_e->act_high;
        }
        if (opt.behavior == ORL_OPE_BEHAVIOR_MLP)
            ORL_TRY_GOTO(st, done, orl_ope_ris_mlp(ds, &opt, fit_mask, lpb_all));
        else
            ORL_TRY_GOTO(st, done,
                         orl_ope_ris_dataset(ds, opt.ris_order, fit_mask, prior, lpb_all));
    }

    ORL_TRY_GOTO(st, done, orl_ope_ratios_create(n_eval_steps, n_eval_ep, &r));
    r->behavior_estimated = !logged;
    r->logged_missing = !h->has_logp;
    r->kernel_smoothed = kernel;
    r->kernel_bandwidth = kernel ? bw : NAN;
    r->n_fit_episodes = logged ? 0 : n_fit;

    /* evaluation log-probabilities, batch by batch over the evaluated steps */
    lpe = malloc((size_t)batch * sizeof *lpe);
    obs = malloc((size_t)batch * (size_t)S * sizeof *obs);
    rows = malloc((size_t)batch * sizeof *rows);
    if (discrete) {
        act_idx = malloc((size_t)batch * sizeof *act_idx);
        mu = malloc((size_t)batch * sizeof(int32_t));
    } else {
        act = malloc((size_t)batch * (size_t)A * sizeof *act);
        mu = malloc((size_t)batch * (size_t)A * sizeof *mu);
    }
    if (!lpe || !obs || !rows || !mu || (discrete ? !act_idx : !act))
        ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "ope: batch buffers");
    ORL_TRY_GOTO(st, done, orl_policy_work_create(pi_e, batch, &work));

    int64_t at = 0, queued = 0, ep_out = 0, clipped = 0;
    int32_t fill = 0;
    double c = opt.log_ratio_clip;
    for (int64_t e = 0; e < E; e++) {
        int evaluated = opt.heldout_fraction > 0.0 ? !fit[e] : 1;
        if (!evaluated) continue;
        r->source_episode[ep_out] = e;
        for (int64_t t = ds->ep_off[e]; t < ds->ep_off[e + 1]; t++) {
            memcpy(obs + (size_t)fill * (size_t)S, ds->obs + (size_t)t * (size_t)S,
                   (size_t)S * sizeof *obs);
            if (discrete)
                act_idx[fill] = ds->act_idx[t];
            else
                memcpy(act + (size_t)fill * (size_t)A, ds->act + (size_t)t * (size_t)A,
                       (size_t)A * sizeof *act);
            rows[fill++] = t;
            queued++;
            int last = e == E - 1 && t == ds->ep_off[e + 1] - 1;
            if (fill < batch && !last) continue;
            ORL_TRY_GOTO(st, done,
                         flush_steps(ds, pi_e, work, obs, act, act_idx, rows, fill, A, bw, mu, lpe,
                                     lpb_all, c, r, &at, &clipped));
            fill = 0;
        }
        ep_out++;
        r->ep_off[ep_out] = queued; /* steps still buffered are written at the next flush */
    }
    /* a held-out split may leave the last batch unflushed (its last episode was fitted on) */
    if (fill > 0)
        ORL_TRY_GOTO(st, done,
                     flush_steps(ds, pi_e, work, obs, act, act_idx, rows, fill, A, bw, mu, lpe,
                                 lpb_all, c, r, &at, &clipped));
    assert(at == n_eval_steps && ep_out == n_eval_ep);
    r->n_log_ratio_clipped = clipped;
    *out = r;
    r = NULL;
done:
    orl_ope_ratios_free(r);
    orl_policy_work_free(work);
    free(fit);
    free(lpb_all);
    free(lpe);
    free(obs);
    free(act);
    free(act_idx);
    free(mu);
    free(rows);
    return st;
}

/* ---- reductions ---- */

/* The one per-episode reduction, over the steps [t0, t1) of an episode: returns the trajectory
 * log-weight (the sum of the log-ratios) and, when asked for, the discounted return *ret and
 * the PDIS sum sum_t gamma^t exp(min(cum_t, log_clip)) r_t, where cum_t is the cumulative
 * log-weight up to step t. The PDIS terms are added to *pdis as found there, so a caller that
 * totals over all steps and one that totals per episode keep their order of additions (and
 * their bits); steps whose cumulative log-weight was clipped are counted in *n_clipped. ret,
 * pdis and n_clipped may be NULL. */
static double episode_reduce(const double *log_ratio, const double *rew, int64_t t0, int64_t t1,
                             double gamma, double log_clip, double *ret, double *pdis,
                             int64_t *n_clipped) {
    double lw = 0.0, g = 0.0, disc = 1.0, sum = pdis ? *pdis : 0.0;
    int64_t nc = 0;
    for (int64_t t = t0; t < t1; t++) {
        lw += log_ratio[t];
        if (pdis) {
            double lc = lw;
            if (lc > log_clip) {
                lc = log_clip;
                nc++;
            }
            sum += disc * exp(lc) * rew[t];
        }
        g += disc * rew[t];
        disc *= gamma;
    }
    if (ret) *ret = g;
    if (pdis) *pdis = sum;
    if (n_clipped) *n_clipped += nc;
    return lw;
}

void orl_ope_episode_reduce(const orl_ope_ratios *r, double gamma, double *log_w, double *ret) {
    for (int64_t e = 0; e < r->n_episodes; e++) {
        double lw = episode_reduce(r->log_ratio, r->rew, r->ep_off[e], r->ep_off[e + 1], gamma,
                                   INFINITY, ret ? &ret[e] : NULL, NULL, NULL);
        if (log_w) log_w[e] = lw;
    }
}

void orl_ope_cumulative_log_weights(const orl_ope_ratios *r, double *cum) {
    for (int64_t e = 0; e < r->n_episodes; e++) {
        double lw = 0.0;
        for (int64_t t = r->ep_off[e]; t < r->ep_off[e + 1]; t++) {
            lw += r->log_ratio[t];
            cum[t] = lw;
        }
    }
}

double orl_ope_pdis_from(const double *log_ratio, const double *rew, const int64_t *ep_off,
                         int64_t n_episodes, double gamma) {
    double total = 0.0;
    for (int64_t e = 0; e < n_episodes; e++) {
        double sum = 0.0;
        episode_reduce(log_ratio, rew, ep_off[e], ep_off[e + 1], gamma, INFINITY, NULL, &sum, NULL);
        total += sum;
    }
    return total / (double)n_episodes;
}

double orl_ope_wis_from(const double *log_ratio, const double *rew, const int64_t *ep_off,
                        int64_t n_episodes, double gamma) {
    /* one pass for the log-weights and returns, a second over episodes for the ratio */
    double max_lw = -INFINITY, num = 0.0, den = 0.0;
    for (int64_t e = 0; e < n_episodes; e++) {
        double lw = episode_reduce(log_ratio, rew, ep_off[e], ep_off[e + 1], gamma, INFINITY, NULL,
                                   NULL, NULL);
        if (lw > max_lw) max_lw = lw;
    }
    if (max_lw == -INFINITY) return 0.0;
    for (int64_t e = 0; e < n_episodes; e++) {
        double g;
        double lw = episode_reduce(log_ratio, rew, ep_off[e], ep_off[e + 1], gamma, INFINITY, &g,
                                   NULL, NULL);
        double w = exp(lw - max_lw);
        num += w * g;
        den += w;
    }
    return num / den;
}

/* gamma, clip and warning fraction checked and defaulted */
static orl_status options_resolve(const orl_ope_options *in, orl_ope_options *o) {
    if (in)
        *o = *in;
    else
        orl_ope_options_init(o);
    if (isnan(o->gamma)) o->gamma = 1.0;
    if (!(o->gamma >= 0.0 && o->gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope: gamma %g, expected [0, 1]", o->gamma);
    if (!(o->weight_clip >= 0.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope: weight_clip %g, expected >= 0", o->weight_clip);
    if (o->ess_warn_fraction < 0.0) o->ess_warn_fraction = 0.1;
    return ORL_OK;
}

/* WPDIS numerators num (T) and denominators den (T), weights shifted by shift and multiplied
 * by count[e] (NULL: 1); an episode that ended keeps its final weight in later denominators.
 * *clipped counts clipped cumulative weights. */
static void wpdis_sums(const orl_ope_ratios *r, double log_clip, double shift, const double *count,
                       int64_t T, double *num, double *den, double *tail, int64_t *clipped) {
    memset(num, 0, (size_t)T * sizeof *num);
    memset(den, 0, (size_t)T * sizeof *den);
    memset(tail, 0, (size_t)(T + 1) * sizeof *tail);
    int64_t nc = 0;
    for (int64_t e = 0; e < r->n_episodes; e++) {
        double k = count ? count[e] : 1.0;
        if (k == 0.0) continue;
        double cum = 0.0, w = 0.0;
        int64_t t0 = r->ep_off[e], L = r->ep_off[e + 1] - t0;
        for (int64_t i = 0; i < L; i++) {
            cum += r->log_ratio[t0 + i];
            double lc = cum;
            if (lc > log_clip) {
                lc = log_clip;
                nc++;
            }
            w = k * exp(lc - shift);
            num[i] += w * r->rew[t0 + i];
            den[i] += w;
        }
        tail[L] += w;
    }
    /* carry the final weights of the episodes that ended */
    double carry = 0.0;
    for (int64_t i = 0; i < T; i++) {
        carry += tail[i];
        den[i] += carry;
    }
    if (clipped) *clipped = nc;
}

/* the value of WPDIS from its sums */
static double wpdis_value(const double *num, const double *den, int64_t T, double gamma) {
    double v = 0.0, disc = 1.0;
    for (int64_t i = 0; i < T; i++) {
        if (den[i] > 0.0) v += disc * num[i] / den[i];
        disc *= gamma;
    }
    return v;
}

/* the longest episode */
static int64_t max_length(const orl_ope_ratios *r) {
    int64_t T = 0;
    for (int64_t e = 0; e < r->n_episodes; e++)
        if (r->ep_off[e + 1] - r->ep_off[e] > T) T = r->ep_off[e + 1] - r->ep_off[e];
    return T;
}

/* the largest cumulative log-weight (clipped), for shifting */
static double max_cumulative(const orl_ope_ratios *r, double log_clip) {
    double m = -INFINITY;
    for (int64_t e = 0; e < r->n_episodes; e++) {
        double cum = 0.0;
        for (int64_t t = r->ep_off[e]; t < r->ep_off[e + 1]; t++) {
            cum += r->log_ratio[t];
            double lc = cum < log_clip ? cum : log_clip;
            if (lc > m) m = lc;
        }
    }
    return m;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of v (n), sorted in place, with
 * linear interpolation between order statistics */
static void percentiles(double *v, int64_t n, double confidence, double *lo, double *hi) {
    qsort(v, (size_t)n, sizeof *v, compare_double);
    double q[2] = {(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0};
    double *outs[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
        double pos = q[k] * (double)(n - 1);
        int64_t i = (int64_t)pos;
        if (i >= n - 1) {
            *outs[k] = v[n - 1];
            continue;
        }
        double f = pos - (double)i;
        *outs[k] = v[i] + f * (v[i + 1] - v[i]);
    }
}

orl_status orl_ope_episode_stats(const orl_ope_ratios *r, orl_ope_estimator est,
                                 const orl_ope_options *opt_in, double *x, double *w) {
    orl_ope_options o;
    ORL_TRY(options_resolve(opt_in, &o));
    double log_clip = o.weight_clip > 0.0 ? log(o.weight_clip) : INFINITY;
    const int64_t E = r->n_episodes;
    switch (est) {
    case ORL_OPE_ESTIMATOR_IS:
    case ORL_OPE_ESTIMATOR_WIS: {
        double m = -INFINITY;
        for (int64_t e = 0; e < E; e++) {
            double g;
            double lw = episode_reduce(r->log_ratio, r->rew, r->ep_off[e], r->ep_off[e + 1],
                                       o.gamma, log_clip, &g, NULL, NULL);
            if (lw > log_clip) lw = log_clip;
            x[e] = g; /* the return, for now */
            w[e] = lw;
            if (lw > m) m = lw;
        }
        double shift = est == ORL_OPE_ESTIMATOR_WIS && m > -INFINITY ? m : 0.0;
        for (int64_t e = 0; e < E; e++) {
            double we = exp(w[e] - shift);
            x[e] *= we;
            w[e] = est == ORL_OPE_ESTIMATOR_WIS ? we : 1.0;
        }
        return ORL_OK;
    }
    case ORL_OPE_ESTIMATOR_PDIS:
        for (int64_t e = 0; e < E; e++) {
            x[e] = 0.0;
            episode_reduce(r->log_ratio, r->rew, r->ep_off[e], r->ep_off[e + 1], o.gamma, log_clip,
                           NULL, &x[e], NULL);
            w[e] = 1.0;
        }
        return ORL_OK;
    default:
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "ope: per-episode statistics of %s",
                 orl_ope_estimator_name(est) ? orl_ope_estimator_name(est) : "?");
    }
}

orl_status orl_ope_estimate_compute(const orl_ope_ratios *r, orl_ope_estimator est,
                                    const orl_ope_options *opt_in, orl_ope_estimate *out) {
    assert(r && out);
    memset(out, 0, sizeof *out);
    orl_ope_options o;
    ORL_TRY(options_resolve(opt_in, &o));
    if (est < 0 || est >= ORL_OPE_ESTIMATOR_COUNT)
        ORL_FAIL(ORL_ERR_INPUT, "ope: unknown estimator %d", (int)est);
    const int64_t E = r->n_episodes, N = r->n_steps;
    if (E < 1) ORL_FAIL(ORL_ERR_INPUT, "ope: no episodes to estimate from");
    double log_clip = o.weight_clip > 0.0 ? log(o.weight_clip) : INFINITY;
    out->estimator = est;
    out->n_episodes = E;
    out->n_steps = N;
    out->gamma = o.gamma;
    out->behavior_estimated = r->behavior_estimated;
    out->logged_missing = r->logged_missing;
    out->log_ratio_clipped_fraction = N > 0 ? (double)r->n_log_ratio_clipped / (double)N : 0.0;

    /* trajectory weights: the diagnostics of every estimator, and IS/WIS themselves */
    double m = -INFINITY;
    int64_t traj_clipped = 0;
    for (int64_t e = 0; e < E; e++) {
        double lw = episode_reduce(r->log_ratio, r->rew, r->ep_off[e], r->ep_off[e + 1], o.gamma,
                                   log_clip, NULL, NULL, NULL);
        if (lw > log_clip) lw = log_clip;
        if (lw > m) m = lw;
    }
    double sw = 0.0, sw2 = 0.0, wmax = 0.0, sx = 0.0;
    for (int64_t e = 0; e < E; e++) {
        double g;
        double lw = episode_reduce(r->log_ratio, r->rew, r->ep_off[e], r->ep_off[e + 1], o.gamma,
                                   log_clip, &g, NULL, NULL);
        if (lw > log_clip) {
            lw = log_clip;
            traj_clipped++;
        }
        double ws = m > -INFINITY ? exp(lw - m) : 0.0;
        sw += ws;
        sw2 += ws * ws;
        if (ws > wmax) wmax = ws;
        sx += ws * g;
    }
    out->ess = sw2 > 0.0 ? sw * sw / sw2 : 0.0;
    out->max_weight_share = sw > 0.0 ? wmax / sw : NAN;
    out->warn_low_ess = out->ess < o.ess_warn_fraction * (double)E;

    switch (est) {
    case ORL_OPE_ESTIMATOR_IS:
        out->value = m > -INFINITY ? exp(m) * sx / (double)E : 0.0;
        if (m > -INFINITY && sx == 0.0) out->value = 0.0; /* exp(m) inf times 0 */
        out->clipped_fraction = (double)traj_clipped / (double)E;
        break;
    case ORL_OPE_ESTIMATOR_WIS:
        out->value = sw > 0.0 ? sx / sw : 0.0;
        out->clipped_fraction = (double)traj_clipped / (double)E;
        break;
    case ORL_OPE_ESTIMATOR_PDIS: {
        /* one running total over all steps (episode_reduce adds to it in step order) */
        double total = 0.0;
        int64_t nc = 0;
        for (int64_t e = 0; e < E; e++)
            episode_reduce(r->log_ratio, r->rew, r->ep_off[e], r->ep_off[e + 1], o.gamma, log_clip,
                           NULL, &total, &nc);
        out->value = total / (double)E;
        out->clipped_fraction = N > 0 ? (double)nc / (double)N : 0.0;
        break;
    }
    case ORL_OPE_ESTIMATOR_WPDIS: {
        int64_t T = max_length(r);
        double *scratch = malloc((size_t)(3 * T + 1) * sizeof *scratch);
        if (!scratch) ORL_FAIL(ORL_ERR_NOMEM, "ope: WPDIS sums of %lld steps", (long long)T);
        double shift = max_cumulative(r, log_clip);
        int64_t nc = 0;
        if (shift > -INFINITY) {
            wpdis_sums(r, log_clip, shift, NULL, T, scratch, scratch + T, scratch + 2 * T, &nc);
            out->value = wpdis_value(scratch, scratch + T, T, o.gamma);
        }
        free(scratch);
        out->clipped_fraction = N > 0 ? (double)nc / (double)N : 0.0;
        break;
    }
    default:
        break;
    }
    return ORL_OK;
}

orl_status orl_ope_bootstrap(const orl_ope_ratios *r, orl_ope_estimator est,
                             const orl_ope_options *opt_in, int64_t resamples, double confidence,
                             uint64_t seed, orl_ope_interval *out) {
    assert(r && out);
    orl_ope_options o;
    ORL_TRY(options_resolve(opt_in, &o));
    const int64_t E = r->n_episodes;
    if (E < 1 || resamples < 2 || !(confidence > 0.0 && confidence < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope bootstrap: %lld episodes, %lld resamples, confidence %g",
                 (long long)E, (long long)resamples, confidence);
    if (est != ORL_OPE_ESTIMATOR_WPDIS) {
        /* reduce each episode once, then resample the statistics */
        double *xw = malloc((size_t)(2 * E + resamples) * sizeof *xw);
        if (!xw) ORL_FAIL(ORL_ERR_NOMEM, "ope bootstrap");
        orl_status st = orl_ope_episode_stats(r, est, &o, xw, xw + E);
        if (st == ORL_OK)
            st = orl_ope_bootstrap_from(xw, est == ORL_OPE_ESTIMATOR_WIS ? xw + E : NULL, E,
                                        resamples, confidence, seed, xw + 2 * E, out);
        free(xw);
        return st;
    }
    /* WPDIS normalises per step: recompute its sums with each resample's episode counts, from
     * the shifted cumulative weights computed once (no exp per resample) */
    int64_t T = max_length(r), N = r->n_steps;
    double log_clip = o.weight_clip > 0.0 ? log(o.weight_clip) : INFINITY;
    double shift = max_cumulative(r, log_clip);
    if (shift == -INFINITY) shift = 0.0;
    size_t n = (size_t)(3 * T + 1) + (size_t)E + (size_t)resamples + (size_t)N;
    double *mem = malloc(n * sizeof *mem);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "ope bootstrap");
    double *num = mem, *den = num + T, *tail = den + T, *count = tail + T + 1;
    double *vals = count + E, *wt = vals + resamples;
    orl_ope_cumulative_log_weights(r, wt);
    for (int64_t t = 0; t < N; t++) wt[t] = exp((wt[t] < log_clip ? wt[t] : log_clip) - shift);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 0);
    for (int64_t b = 0; b < resamples; b++) {
        memset(count, 0, (size_t)E * sizeof *count);
        for (int64_t i = 0; i < E; i++) count[orl_rng_below(&rng, (uint32_t)E)] += 1.0;
        memset(num, 0, (size_t)(3 * T + 1) * sizeof *num);
        for (int64_t e = 0; e < E; e++) {
            double k = count[e];
            if (k == 0.0) continue;
            int64_t t0 = r->ep_off[e], L = r->ep_off[e + 1] - t0;
            for (int64_t i = 0; i < L; i++) {
                double w = k * wt[t0 + i];
                num[i] += w * r->rew[t0 + i];
                den[i] += w;
            }
            if (L > 0) tail[L] += k * wt[t0 + L - 1];
        }
        double carry = 0.0;
        for (int64_t i = 0; i < T; i++) {
            carry += tail[i];
            den[i] += carry;
        }
        vals[b] = wpdis_value(num, den, T, o.gamma);
    }
    percentiles(vals, resamples, confidence, &out->lo, &out->hi);
    out->confidence = confidence;
    out->resamples = resamples;
    out->seed = seed;
    free(mem);
    return ORL_OK;
}
