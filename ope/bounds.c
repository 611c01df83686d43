/* Uncertainty of importance-sampling estimates: the percentile bootstrap over episodes and the
 * high-confidence lower bounds of Thomas et al. (2015): a one-sided Student t bound and Maurer
 * and Pontil's empirical Bernstein bound on clipped importance-weighted returns (the
 * concentration inequality; the clip chosen on a 20% split as Thomas et al. do).
 *
 * The bootstrap reduces each episode once to its statistics (x_e, w_e) and resamples those, so
 * B resamples cost B E draws, not B N. Not here: the estimators themselves (is.c). */
#include "orl/ope.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHOOSE_FRACTION   0.2 /* Thomas et al.: a fifth of the episodes choose c */
#define CHOOSE_CANDIDATES 64

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the q-quantile of sorted v (n), linear interpolation between order statistics */
static double quantile_sorted(const double *v, int64_t n, double q) {
    double pos = q * (double)(n - 1);
    int64_t i = (int64_t)pos;
    if (i >= n - 1) return v[n - 1];
    double f = pos - (double)i;
    return v[i] + f * (v[i + 1] - v[i]);
}

orl_status orl_ope_bootstrap_from(const double *x, const double *w, int64_t n_episodes,
                                  int64_t resamples, double confidence, uint64_t seed,
                                  double *scratch, orl_ope_interval *out) {
    assert(x && out);
    const int64_t E = n_episodes;
    if (E < 1 || E > (int64_t)UINT32_MAX || resamples < 2 ||
        !(confidence > 0.0 && confidence < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope bootstrap: %lld episodes, %lld resamples, confidence %g",
                 (long long)E, (long long)resamples, confidence);
    double *vals = scratch;
    if (!vals) {
        vals = malloc((size_t)resamples * sizeof *vals);
        if (!vals) ORL_FAIL(ORL_ERR_NOMEM, "ope bootstrap: %lld resamples", (long long)resamples);
    }
    orl_rng rng;
    orl_rng_seed(&rng, seed, 0);
    const uint32_t bound = (uint32_t)E;
    for (int64_t b = 0; b < resamples; b++) {
        double sx = 0.0, sw = 0.0;
        if (w) {
            for (int64_t i = 0; i < E; i++) {
                uint32_t k = orl_rng_below(&rng, bound);
                sx += x[k];
                sw += w[k];
            }
            vals[b] = sw > 0.0 ? sx / sw : 0.0;
        } else {
            for (int64_t i = 0; i < E; i++) sx += x[orl_rng_below(&rng, bound)];
            vals[b] = sx / (double)E;
        }
    }
    qsort(vals, (size_t)resamples, sizeof *vals, compare_double);
    out->lo = quantile_sorted(vals, resamples, (1.0 - confidence) / 2.0);
    out->hi = quantile_sorted(vals, resamples, (1.0 + confidence) / 2.0);
    out->confidence = confidence;
    out->resamples = resamples;
    out->seed = seed;
    if (!scratch) free(vals);
    return ORL_OK;
}

/* ---- Student t ---- */

/* the continued fraction of the incomplete beta (modified Lentz) */
static double beta_fraction(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double f = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + num * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + num / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        f *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + num * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + num / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double delta = d * c;
        f *= delta;
        if (fabs(delta - 1.0) < 1e-15) break;
    }
    return f;
}

/* the regularised incomplete beta I_x(a, b) */
static double incomplete_beta(double a, double b, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lbt) * beta_fraction(a, b, x) / a;
    return 1.0 - exp(lbt) * beta_fraction(b, a, 1.0 - x) / b;
}

/* P(T <= t) for t >= 0 */
static double student_t_cdf_pos(double t, double nu) {
    return 1.0 - 0.5 * incomplete_beta(nu / 2.0, 0.5, nu / (nu + t * t));
}

double orl_ope_student_t_quantile(double p, double nu) {
    if (!(p > 0.0 && p < 1.0) || !(nu > 0.0)) return NAN;
    if (p == 0.5) return 0.0;
    double q = p > 0.5 ? p : 1.0 - p;
    double lo = 0.0, hi = 1.0;
    while (student_t_cdf_pos(hi, nu) < q && hi < 1e300) hi *= 2.0;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * (1.0 + hi); i++) {
        double mid = 0.5 * (lo + hi);
        if (student_t_cdf_pos(mid, nu) < q)
            lo = mid;
        else
            hi = mid;
    }
    double t = 0.5 * (lo + hi);
    return p > 0.5 ? t : -t;
}

/* mean and unbiased variance of x (n >= 2), in double */
static void mean_var(const double *x, int64_t n, double *mean, double *var) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    double v = 0.0;
    for (int64_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = n > 1 ? v / (double)(n - 1) : 0.0;
}

double orl_ope_t_lower_from(const double *x, int64_t n, double confidence) {
    if (n < 2) return NAN;
    double m, v;
    mean_var(x, n, &m, &v);
    return m - orl_ope_student_t_quantile(confidence, (double)(n - 1)) * sqrt(v / (double)n);
}

/* the Bernstein bound of min(x, c) over x (n), summed without a copy */
static double bernstein_clipped(const double *x, int64_t n, double delta, double c,
                                int64_t n_bound) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m += x[i] < c ? x[i] : c;
    m /= (double)n;
    double v = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double y = (x[i] < c ? x[i] : c) - m;
        v += y * y;
    }
    v = n > 1 ? v / (double)(n - 1) : 0.0;
    double nb = (double)n_bound, l = log(2.0 / delta);
    return m - sqrt(2.0 * v * l / nb) - 7.0 * c * l / (3.0 * (nb - 1.0));
}

double orl_ope_bernstein_lower_from(const double *x, int64_t n, double confidence, double c) {
    if (n < 2 || !(c > 0.0)) return NAN;
    return bernstein_clipped(x, n, 1.0 - confidence, c, n);
}

void orl_ope_bound_options_init(orl_ope_bound_options *opt) {
    opt->confidence = 0.95;
    opt->clip = 0.0;
    opt->return_min = NAN;
    opt->seed = 0;
}

orl_status orl_ope_bounds_compute(const orl_ope_ratios *r, const orl_ope_options *opt,
                                  const orl_ope_bound_options *bopt_in, orl_ope_bounds *out) {
    assert(r && out);
    memset(out, 0, sizeof *out);
    orl_ope_bound_options b;
    if (bopt_in)
        b = *bopt_in;
    else
        orl_ope_bound_options_init(&b);
    if (b.confidence == 0.0) b.confidence = 0.95;
    const int64_t E = r->n_episodes;
    if (!(b.confidence > 0.0 && b.confidence < 1.0) || !(b.clip >= 0.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope bounds: confidence %g, clip %g", b.confidence, b.clip);
    int choose = b.clip == 0.0;
    if (E < (choose ? 10 : 2))
        ORL_FAIL(ORL_ERR_INPUT, "ope bounds: %lld episodes, need at least %d", (long long)E,
                 choose ? 10 : 2);
    double *mem = malloc((size_t)(4 * E) * sizeof *mem);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "ope bounds");
    double *x = mem, *one = mem + E, *ret = mem + 2 * E, *sel = mem + 3 * E;
    out->confidence = b.confidence;
    out->n_episodes = E;

    /* t bound: the per-episode PDIS terms */
    orl_status st = orl_ope_episode_stats(r, ORL_OPE_ESTIMATOR_PDIS, opt, x, one);
    if (st != ORL_OK) goto done;
    out->t_lower = orl_ope_t_lower_from(x, E, b.confidence);

    /* Bernstein: X_e = w_e (G_e - g_min) >= 0, from the log weights and the returns (opt was
     * checked by orl_ope_episode_stats above) */
    double gamma = opt && !isnan(opt->gamma) ? opt->gamma : 1.0;
    orl_ope_episode_reduce(r, gamma, one, ret); /* one: log weights (clipped below) */
    double log_clip = opt && opt->weight_clip > 0.0 ? log(opt->weight_clip) : INFINITY;
    double gmin = b.return_min;
    out->return_min_observed = isnan(gmin);
    if (isnan(gmin)) {
        gmin = INFINITY;
        for (int64_t e = 0; e < E; e++)
            if (ret[e] < gmin) gmin = ret[e];
    }
    for (int64_t e = 0; e < E; e++) {
        double lw = one[e] < log_clip ? one[e] : log_clip;
        double g = ret[e] - gmin;
        x[e] = g > 0.0 ? exp(lw) * g : 0.0; /* a return below a given g_min counts as g_min */
    }
    out->return_min = gmin;
    double delta = 1.0 - b.confidence;
    if (!choose) {
        out->clip = b.clip;
        out->bernstein_lower = bernstein_clipped(x, E, delta, b.clip, E) + gmin;
    } else {
        /* a random fifth of the episodes chooses c among quantiles of its X, predicting the
         * bound for the other four fifths; the bound is then computed on those */
        orl_rng rng;
        orl_rng_seed(&rng, b.seed, 11);
        int64_t n_pre = 0, n_post = 0;
        double *post = one; /* reuse: one's log weights are no longer needed */
        for (int64_t e = 0; e < E; e++) {
            if (orl_rng_uniform(&rng) < CHOOSE_FRACTION)
                sel[n_pre++] = x[e];
            else
                post[n_post++] = x[e];
        }
        if (n_pre < 2 || n_post < 2) {
            /* a degenerate split: fall back to the first fifth in order */
            n_pre = E / 5;
            n_post = E - n_pre;
            memcpy(sel, x, (size_t)n_pre * sizeof *sel);
            memcpy(post, x + n_pre, (size_t)n_post * sizeof *post);
        }
        qsort(sel, (size_t)n_pre, sizeof *sel, compare_double);
        double best_c = sel[n_pre - 1] > 0.0 ? sel[n_pre - 1] : 1.0, best = -INFINITY;
        for (int k = 1; k <= CHOOSE_CANDIDATES; k++) {
            double c = quantile_sorted(sel, n_pre, (double)k / CHOOSE_CANDIDATES);
            if (!(c > 0.0)) continue;
            double pred = bernstein_clipped(sel, n_pre, delta, c, n_post);
            if (pred > best) {
                best = pred;
                best_c = c;
            }
        }
        out->clip = best_c;
        out->clip_chosen = 1;
        out->bernstein_lower = bernstein_clipped(post, n_post, delta, best_c, n_post) + gmin;
    }
done:
    free(mem);
    return st;
}
