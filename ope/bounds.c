/* Uncertainty of importance-sampling estimates: the percentile bootstrap over episodes, return
 * ranges and the map of returns into [0, 1], and the high-confidence lower bounds of Thomas et
 * al. (2015) on importance-weighted returns mapped into [0, 1]: Maurer and Pontil's empirical
 * Bernstein bound on clipped terms (valid; the clip chosen on a split of the episodes), and the
 * approximate one-sided Student t and bootstrap percentile bounds of the same terms.
 *
 * The bootstrap reduces each episode once to its statistics (x_e, w_e) and resamples those, so
 * B resamples cost B E draws, not B N. Not here: the estimators themselves (is.c). */
#include "orl/ope.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHOOSE_FRACTION   0.2 /* the part of the episodes that chooses c */
#define CHOOSE_CANDIDATES 64
#define DEFAULT_RESAMPLES 1000 /* bootstrap resamples of the approximate bootstrap bound */

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

/* ---- return ranges ---- */

static const char *const range_source_names[ORL_OPE_RANGE_SOURCE_COUNT] = {
    "none", "user", "dataset", "environment", "observed"};

const char *orl_ope_range_source_name(orl_ope_range_source s) {
    return (unsigned)s < ORL_OPE_RANGE_SOURCE_COUNT ? range_source_names[s] : NULL;
}

orl_status orl_ope_return_range_from_rewards(double reward_min, double reward_max, double gamma,
                                             int64_t horizon, orl_ope_return_range *out) {
    assert(out);
    if (!isfinite(reward_min) || !isfinite(reward_max) || reward_min > reward_max ||
        !(gamma >= 0.0 && gamma <= 1.0) || horizon < 1)
        ORL_FAIL(ORL_ERR_INPUT, "return range: rewards [%g, %g], gamma %g, horizon %lld",
                 reward_min, reward_max, gamma, (long long)horizon);
    /* S_H = sum_{t<H} gamma^t, summed so that gamma = 1 is exact */
    double s = 0.0, g = 1.0;
    for (int64_t t = 0; t < horizon; t++) {
        s += g;
        g *= gamma;
    }
    out->lo = reward_min < 0.0 ? reward_min * s : reward_min;
    out->hi = reward_max > 0.0 ? reward_max * s : reward_max;
    if (!(out->hi > out->lo)) out->hi = out->lo + 1.0;
    out->source = ORL_OPE_RANGE_SOURCE_ENVIRONMENT;
    return ORL_OK;
}

double orl_ope_return_to_unit(const orl_ope_return_range *range, double g) {
    return (g - range->lo) / (range->hi - range->lo);
}

double orl_ope_return_from_unit(const orl_ope_return_range *range, double y) {
    return range->lo + y * (range->hi - range->lo);
}

/* ---- high-confidence lower bounds ---- */

void orl_ope_bound_options_init(orl_ope_bound_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->confidence = 0.95;
    opt->clip = 0.0;
    opt->choose_fraction = CHOOSE_FRACTION;
    opt->range.lo = opt->range.hi = NAN;
    opt->range.source = ORL_OPE_RANGE_SOURCE_NONE;
    opt->resamples = DEFAULT_RESAMPLES;
    opt->seed = 0;
}

/* a bound b of E[X] on the unit scale, mapped back and clamped into the range */
static double map_back(const orl_ope_return_range *range, double b) {
    if (isnan(b)) return NAN;
    return orl_ope_return_from_unit(range, b < 0.0 ? 0.0 : (b > 1.0 ? 1.0 : b));
}

orl_status orl_ope_bounds_from(const double *log_w, const double *ret, int64_t n_episodes,
                               double weight_clip, const orl_ope_bound_options *bopt_in,
                               orl_ope_bounds *out) {
    assert(log_w && ret && out);
    memset(out, 0, sizeof *out);
    orl_ope_bound_options b;
    if (bopt_in)
        b = *bopt_in;
    else
        orl_ope_bound_options_init(&b);
    if (b.confidence == 0.0) b.confidence = 0.95;
    if (b.choose_fraction == 0.0) b.choose_fraction = CHOOSE_FRACTION;
    if (b.resamples == 0) b.resamples = DEFAULT_RESAMPLES;
    const int64_t E = n_episodes;
    if (!(b.confidence > 0.0 && b.confidence < 1.0) || !(b.clip >= 0.0) ||
        !(b.choose_fraction > 0.0 && b.choose_fraction < 1.0) || b.resamples < 2 ||
        !(weight_clip >= 0.0))
        ORL_FAIL(ORL_ERR_INPUT,
                 "ope bounds: confidence %g, clip %g, choose fraction %g, %lld resamples, "
                 "weight clip %g",
                 b.confidence, b.clip, b.choose_fraction, (long long)b.resamples, weight_clip);
    int given = b.range.source != ORL_OPE_RANGE_SOURCE_NONE &&
                b.range.source != ORL_OPE_RANGE_SOURCE_OBSERVED;
    if (given && !(isfinite(b.range.lo) && isfinite(b.range.hi) && b.range.lo < b.range.hi))
        ORL_FAIL(ORL_ERR_INPUT, "ope bounds: return range [%g, %g] (%s), expected lo < hi",
                 b.range.lo, b.range.hi, orl_ope_range_source_name(b.range.source));
    int choose = b.clip == 0.0;
    if (E < (choose ? 10 : 2))
        ORL_FAIL(ORL_ERR_INPUT, "ope bounds: %lld episodes, need at least %d", (long long)E,
                 choose ? 10 : 2);
    double gmin = INFINITY, gmax = -INFINITY;
    for (int64_t e = 0; e < E; e++) {
        if (!isfinite(ret[e]) || isnan(log_w[e]) || log_w[e] == INFINITY)
            ORL_FAIL(ORL_ERR_INPUT, "ope bounds: episode %lld has return %g, log weight %g",
                     (long long)e, ret[e], log_w[e]);
        gmin = fmin(gmin, ret[e]);
        gmax = fmax(gmax, ret[e]);
    }

    /* the range: given, widened when a return falls outside it (by more than float rounding
     * of the rewards), or the observed one */
    orl_ope_return_range range = b.range;
    if (!given) {
        range.lo = gmin;
        range.hi = gmax > gmin ? gmax : gmin + 1.0;
        range.source = ORL_OPE_RANGE_SOURCE_OBSERVED;
    } else {
        double tol = 1e-6 * (range.hi - range.lo);
        if (gmin < range.lo - tol || gmax > range.hi + tol) out->range_widened = 1;
        if (gmin < range.lo - tol) range.lo = gmin;
        if (gmax > range.hi + tol) range.hi = gmax;
    }
    out->range = range;
    out->confidence = b.confidence;
    out->n_episodes = E;

    double *mem = malloc((size_t)(3 * E) * sizeof *mem);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "ope bounds: %lld episodes", (long long)E);
    double *x = mem, *sel = mem + E, *post = mem + 2 * E;

    /* X_e = w_e y_e >= 0 on the unit scale */
    double log_clip = weight_clip > 0.0 ? log(weight_clip) : INFINITY;
    double mean = 0.0;
    for (int64_t e = 0; e < E; e++) {
        double y = orl_ope_return_to_unit(&range, ret[e]);
        y = y < 0.0 ? 0.0 : (y > 1.0 ? 1.0 : y);
        x[e] = y > 0.0 ? exp(fmin(log_w[e], log_clip)) * y : 0.0;
        mean += x[e];
    }
    out->unit_mean = mean / (double)E;

    /* the approximate bounds, on every episode */
    out->t_lower = map_back(&range, orl_ope_t_lower_from(x, E, b.confidence));
    /* the (1 - C) percentile is the lower end of the two-sided 2C - 1 interval */
    out->bootstrap_lower = NAN;
    if (b.confidence > 0.5) {
        orl_ope_interval iv;
        orl_status st = orl_ope_bootstrap_from(x, NULL, E, b.resamples, 2.0 * b.confidence - 1.0,
                                               b.seed, NULL, &iv);
        if (st != ORL_OK) {
            free(mem);
            return st;
        }
        out->bootstrap_lower = map_back(&range, iv.lo);
    }

    /* the valid bound */
    double delta = 1.0 - b.confidence;
    if (!choose) {
        out->clip = b.clip;
        out->n_bound = E;
        out->bernstein_lower = map_back(&range, bernstein_clipped(x, E, delta, b.clip, E));
    } else {
        /* a random part of the episodes chooses c among quantiles of its X, predicting the
         * bound for the rest; the bound is then computed on the rest alone */
        orl_rng rng;
        orl_rng_seed(&rng, b.seed, 11);
        int64_t n_pre = 0, n_post = 0;
        for (int64_t e = 0; e < E; e++) {
            if (orl_rng_uniform(&rng) < b.choose_fraction)
                sel[n_pre++] = x[e];
            else
                post[n_post++] = x[e];
        }
        if (n_pre < 2 || n_post < 2) {
            /* a degenerate split: the first part in order */
            n_pre = (int64_t)ceil(b.choose_fraction * (double)E);
            if (n_pre < 2) n_pre = 2;
            if (n_pre > E - 2) n_pre = E - 2;
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
        out->n_choose = n_pre;
        out->n_bound = n_post;
        out->bernstein_lower =
            map_back(&range, bernstein_clipped(post, n_post, delta, best_c, n_post));
    }
    free(mem);
    return ORL_OK;
}

orl_status orl_ope_bounds_compute(const orl_ope_ratios *r, const orl_ope_options *opt,
                                  const orl_ope_bound_options *bopt, orl_ope_bounds *out) {
    assert(r && out);
    memset(out, 0, sizeof *out);
    const int64_t E = r->n_episodes;
    double gamma = opt && !isnan(opt->gamma) ? opt->gamma : 1.0;
    double clip = opt ? opt->weight_clip : 0.0;
    if (!(gamma >= 0.0 && gamma <= 1.0) || !(clip >= 0.0))
        ORL_FAIL(ORL_ERR_INPUT, "ope bounds: gamma %g, weight clip %g", gamma, clip);
    if (E < 1) ORL_FAIL(ORL_ERR_INPUT, "ope bounds: no episodes");
    double *mem = malloc((size_t)(2 * E) * sizeof *mem);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "ope bounds: %lld episodes", (long long)E);
    orl_ope_episode_reduce(r, gamma, mem, mem + E);
    orl_status st = orl_ope_bounds_from(mem, mem + E, E, clip, bopt, out);
    free(mem);
    return st;
}
