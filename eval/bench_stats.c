/* The benchmark's statistics, as rliable computes them (Agarwal et al. 2021, "Deep RL at the
 * Edge of the Statistical Precipice"): mean, median, interquartile mean and optimality gap of
 * normalised scores; percentile bootstrap intervals, stratified over tasks for aggregates
 * (each resample draws every task's runs from that task only); performance profiles; the
 * probability of improvement. Every bootstrap draws from an orl_rng seeded by the caller, so
 * the same scores and seed give the same bits. Each call allocates its scratch once, before
 * the resampling loop. Nothing here reads files or knows about suites. */
#include "orl/bench.h"
#include "orl/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *orl_stat_name(orl_stat s) {
    switch (s) {
    case ORL_STAT_MEAN:
        return "mean";
    case ORL_STAT_MEDIAN:
        return "median";
    case ORL_STAT_IQM:
        return "iqm";
    case ORL_STAT_OPTIMALITY_GAP:
        return "optimality_gap";
    default:
        return "?";
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double orl_stats_point(orl_stat s, const double *x, int64_t n, double *scratch) {
    if (n < 1) return NAN;
    double sum = 0.0;
    switch (s) {
    case ORL_STAT_MEAN:
        for (int64_t i = 0; i < n; i++) sum += x[i];
        return sum / (double)n;
    case ORL_STAT_OPTIMALITY_GAP:
        /* how far below the expert's 100 the runs fall, on average (above counts as 0) */
        for (int64_t i = 0; i < n; i++) sum += x[i] < 100.0 ? 100.0 - x[i] : 0.0;
        return sum / (double)n;
    case ORL_STAT_MEDIAN:
    case ORL_STAT_IQM: {
        if (scratch != x) memcpy(scratch, x, (size_t)n * sizeof(double));
        qsort(scratch, (size_t)n, sizeof(double), cmp_double);
        if (s == ORL_STAT_MEDIAN)
            return n % 2 ? scratch[n / 2] : 0.5 * (scratch[n / 2 - 1] + scratch[n / 2]);
        /* trim floor(n / 4) from each end (scipy's trim_mean(x, 0.25), as rliable) */
        int64_t cut = n / 4;
        for (int64_t i = cut; i < n - cut; i++) sum += scratch[i];
        return sum / (double)(n - 2 * cut);
    }
    default:
        return NAN;
    }
}

/* the percentile interval from reps sorted resampled statistics */
static void percentile(double *stats, int64_t reps, double level, double *lo, double *hi) {
    qsort(stats, (size_t)reps, sizeof(double), cmp_double);
    double a = (1.0 - level) / 2.0;
    int64_t i = (int64_t)(a * (double)reps), j = (int64_t)((1.0 - a) * (double)reps) - 1;
    if (i > reps - 1) i = reps - 1;
    if (j < i) j = i;
    *lo = stats[i];
    *hi = stats[j];
}

static orl_status check_args(int64_t reps, double level) {
    if (reps < 1)
        ORL_FAIL(ORL_ERR_INPUT, "bootstrap: expected at least 1 resample, got %lld",
                 (long long)reps);
    if (!(level > 0.0 && level < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "bootstrap: expected a level in (0, 1), got %g", level);
    return ORL_OK;
}

static orl_status check_tasks(const int64_t *off, int32_t T) {
    if (T < 1) ORL_FAIL(ORL_ERR_INPUT, "bootstrap: expected at least one task");
    for (int32_t t = 0; t < T; t++)
        if (off[t + 1] <= off[t]) ORL_FAIL(ORL_ERR_INPUT, "bootstrap: task %d has no runs", t);
    return ORL_OK;
}

orl_status orl_stats_bootstrap(orl_stat s, const double *x, int64_t n, int64_t reps, uint64_t seed,
                               double level, orl_interval *out) {
    int64_t off[2] = {0, n};
    if (n < 1) ORL_FAIL(ORL_ERR_INPUT, "bootstrap: expected at least one value");
    return orl_stats_bootstrap_stratified(s, x, off, 1, reps, seed, level, out);
}

orl_status orl_stats_bootstrap_stratified(orl_stat s, const double *x, const int64_t *off,
                                          int32_t T, int64_t reps, uint64_t seed, double level,
                                          orl_interval *out) {
    ORL_TRY(check_args(reps, level));
    ORL_TRY(check_tasks(off, T));
    int64_t n = off[T] - off[0];
    double *mem = malloc((size_t)(2 * n + reps) * sizeof(double));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "bootstrap: out of memory");
    double *resample = mem, *scratch = mem + n, *stats = mem + 2 * n; /* (n), (n), (reps) */
    out->value = orl_stats_point(s, x + off[0], n, scratch);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    for (int64_t b = 0; b < reps; b++) {
        int64_t m = 0;
        for (int32_t t = 0; t < T; t++) {
            int64_t nt = off[t + 1] - off[t];
            for (int64_t i = 0; i < nt; i++)
                resample[m++] = x[off[t] + orl_rng_below(&rng, (uint32_t)nt)];
        }
        stats[b] = orl_stats_point(s, resample, n, scratch);
    }
    percentile(stats, reps, level, &out->lo, &out->hi);
    free(mem);
    return ORL_OK;
}

orl_status orl_stats_profile(const double *x, const int64_t *off, int32_t T, const double *tau,
                             int32_t n_tau, int64_t reps, uint64_t seed, double level,
                             orl_interval *out) {
    ORL_TRY(check_args(reps, level));
    ORL_TRY(check_tasks(off, T));
    int64_t n = off[T] - off[0];
    double *mem = malloc((size_t)(n + reps * n_tau + reps) * sizeof(double));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "profile: out of memory");
    double *resample = mem, *fracs = mem + n, *col = mem + n + reps * n_tau; /* (reps, n_tau) */
    for (int32_t k = 0; k < n_tau; k++) {
        int64_t above = 0;
        for (int64_t i = off[0]; i < off[T]; i++) above += x[i] > tau[k];
        out[k].value = (double)above / (double)n;
    }
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    for (int64_t b = 0; b < reps; b++) {
        int64_t m = 0;
        for (int32_t t = 0; t < T; t++) {
            int64_t nt = off[t + 1] - off[t];
            for (int64_t i = 0; i < nt; i++)
                resample[m++] = x[off[t] + orl_rng_below(&rng, (uint32_t)nt)];
        }
        for (int32_t k = 0; k < n_tau; k++) {
            int64_t above = 0;
            for (int64_t i = 0; i < n; i++) above += resample[i] > tau[k];
            fracs[b * n_tau + k] = (double)above / (double)n;
        }
    }
    for (int32_t k = 0; k < n_tau; k++) {
        for (int64_t b = 0; b < reps; b++) col[b] = fracs[b * n_tau + k];
        percentile(col, reps, level, &out[k].lo, &out[k].hi);
    }
    free(mem);
    return ORL_OK;
}

/* the mean over tasks of P(x > y) within each task, ties 1/2 */
static double improvement(const double *x, const int64_t *xoff, const double *y,
                          const int64_t *yoff, int32_t T) {
    double total = 0.0;
    for (int32_t t = 0; t < T; t++) {
        double wins = 0.0;
        for (int64_t i = xoff[t]; i < xoff[t + 1]; i++)
            for (int64_t j = yoff[t]; j < yoff[t + 1]; j++)
                wins += x[i] > y[j] ? 1.0 : x[i] == y[j] ? 0.5 : 0.0;
        total += wins / ((double)(xoff[t + 1] - xoff[t]) * (double)(yoff[t + 1] - yoff[t]));
    }
    return total / (double)T;
}

orl_status orl_stats_improvement(const double *x, const int64_t *xoff, const double *y,
                                 const int64_t *yoff, int32_t T, int64_t reps, uint64_t seed,
                                 double level, orl_interval *out) {
    ORL_TRY(check_args(reps, level));
    ORL_TRY(check_tasks(xoff, T));
    ORL_TRY(check_tasks(yoff, T));
    int64_t nx = xoff[T] - xoff[0], ny = yoff[T] - yoff[0];
    double *mem = malloc((size_t)(nx + ny + reps) * sizeof(double));
    int64_t *offs = malloc(2 * (size_t)(T + 1) * sizeof(int64_t));
    if (!mem || !offs) {
        free(mem);
        free(offs);
        ORL_FAIL(ORL_ERR_NOMEM, "improvement: out of memory");
    }
    double *rx = mem, *ry = mem + nx, *stats = mem + nx + ny; /* (nx), (ny), (reps) */
    int64_t *rxoff = offs, *ryoff = offs + T + 1;             /* (T+1), (T+1) */
    rxoff[0] = ryoff[0] = 0;
    for (int32_t t = 0; t < T; t++) {
        rxoff[t + 1] = rxoff[t] + xoff[t + 1] - xoff[t];
        ryoff[t + 1] = ryoff[t] + yoff[t + 1] - yoff[t];
    }
    out->value = improvement(x, xoff, y, yoff, T);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    for (int64_t b = 0; b < reps; b++) {
        for (int32_t t = 0; t < T; t++) {
            int64_t n1 = xoff[t + 1] - xoff[t], n2 = yoff[t + 1] - yoff[t];
            for (int64_t i = 0; i < n1; i++)
                rx[rxoff[t] + i] = x[xoff[t] + orl_rng_below(&rng, (uint32_t)n1)];
            for (int64_t j = 0; j < n2; j++)
                ry[ryoff[t] + j] = y[yoff[t] + orl_rng_below(&rng, (uint32_t)n2)];
        }
        stats[b] = improvement(rx, rxoff, ry, ryoff, T);
    }
    percentile(stats, reps, level, &out->lo, &out->hi);
    free(mem);
    free(offs);
    return ORL_OK;
}
