/* The statistics of a benchmark's results as the report and the comparison use them: per
 * (dataset, learner) over seeds, per learner across datasets (stratified), performance
 * profiles, the probability of improvement, learning-curve bands, and the literature's order
 * on imperfect data. Bootstrap seeds are derived from the options' seed and the statistic's
 * place, so the same results give the same bits. The estimators themselves are in
 * bench_stats.c; nothing here writes a file. */
#include "eval/bench_internal.h"
#include "orl/dataset.h"
#include "orl/eval.h"
#include "orl/filters.h"
#include "orl/fs.h"
#include "core/json_util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed_at(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (1 + a + 1000 * b + 1000000 * c);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* the scores of learner l on dataset d (job order = seed order), into x; returns the count */
static int64_t cell_scores(const orl_bench_table *t, int32_t d, int32_t l, double *x) {
    int64_t n = 0;
    for (int64_t k = 0; k < t->s->n_jobs; k++) {
        const orl_bench_job *J = &t->s->jobs[k];
        if (J->dataset == d && J->learner == l && t->runs[k].have && isfinite(t->runs[k].score))
            x[n++] = t->runs[k].score;
    }
    return n;
}

/* learner l's runs over the datasets where it has any: x (runs), off (T+1); returns T */
static int32_t learner_tasks(const orl_bench_table *t, int32_t l, double *x, int64_t *off,
                             int32_t *which) {
    int32_t T = 0;
    off[0] = 0;
    for (int32_t d = 0; d < t->s->n_datasets; d++) {
        int64_t n = cell_scores(t, d, l, x + off[T]);
        if (n == 0) continue;
        if (which) which[T] = d;
        off[T + 1] = off[T] + n;
        T++;
    }
    return T;
}

json_t *orl_bench_interval_json(const orl_interval *v) {
    json_t *o = json_object();
    json_object_set_new(o, "value", orl_json_number(v->value));
    json_object_set_new(o, "lo", orl_json_number(v->lo));
    json_object_set_new(o, "hi", orl_json_number(v->hi));
    return o;
}

void orl_bench_fmt_interval(char *buf, size_t cap, const orl_interval *v, int bold) {
    if (!isfinite(v->value))
        snprintf(buf, cap, "—");
    else
        snprintf(buf, cap, "%s%.1f%s [%.1f, %.1f]", bold ? "**" : "", v->value, bold ? "**" : "",
                 v->lo, v->hi);
}

/* the mean normalised episode return of dataset d's file, NaN when unreadable */
static double data_score(const orl_bench_suite *s, int32_t d) {
    char path[1024];
    orl_bench_dataset_file(s, d, path, sizeof path);
    orl_dataset *ds = NULL;
    if (!orl_fs_exists(path) || orl_dataset_read(path, NULL, NULL, &ds) != ORL_OK) {
        orl_error_clear();
        return NAN;
    }
    double *ret = malloc((size_t)ds->n_episodes * sizeof(double));
    double mean = NAN;
    if (ret && ds->n_episodes > 0 && orl_episode_returns(ds, 1.0, ret) == ORL_OK) {
        double sum = 0.0;
        for (int64_t e = 0; e < ds->n_episodes; e++) sum += ret[e];
        mean = orl_normalized_score(s->datasets[d].env, sum / (double)ds->n_episodes);
    }
    orl_error_clear();
    free(ret);
    orl_dataset_free(ds);
    return mean;
}

void orl_bench_stats_free(orl_bench_stats *st) {
    free(st->cell);
    memset(st, 0, sizeof *st);
}

orl_status orl_bench_stats_compute(const orl_bench_table *t, const orl_bench_report_options *opt,
                                   int with_data, orl_bench_stats *out) {
    const orl_bench_suite *s = t->s;
    int32_t D = s->n_datasets, L = s->n_learners;
    memset(out, 0, sizeof *out);
    out->D = D;
    out->L = L;
    /* one allocation: intervals, then counts, then doubles, then scratch */
    size_t n_int = (size_t)(D * L * 3 + L * ORL_STAT_COUNT + L * N_TAU + L * L);
    size_t n_runs = (size_t)s->n_jobs;
    size_t bytes = n_int * sizeof(orl_interval) + (size_t)(D * L + L) * sizeof(int64_t) +
                   (size_t)L * sizeof(int32_t) + (size_t)D * sizeof(double) +
                   2 * n_runs * sizeof(double) + 4 * (size_t)(D + 1) * sizeof(int64_t) +
                   (size_t)D * sizeof(int32_t) * 2 + 64;
    char *mem = calloc(1, bytes);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "report: out of memory");
    out->cell = (orl_interval *)mem;
    out->agg = out->cell + D * L * 3;
    out->prof = out->agg + L * ORL_STAT_COUNT;
    out->impr = out->prof + L * N_TAU;
    out->cell_n = (int64_t *)(out->impr + L * L);
    out->runs = out->cell_n + D * L;
    double *x = (double *)(out->runs + L);        /* (n_runs) */
    double *y = x + n_runs;                       /* (n_runs) */
    out->data = y + n_runs;                       /* (D) */
    int64_t *xoff = (int64_t *)(out->data + D);   /* (D+1) */
    int64_t *yoff = xoff + D + 1;                 /* (D+1) */
    int64_t *cx = yoff + D + 1, *cy = cx + D + 1; /* (D+1) each: common tasks */
    out->tasks = (int32_t *)(cy + D + 1);         /* (L) */
    int32_t *wx = out->tasks + L, *wy = wx + D;   /* (D) each: task datasets */
    orl_status st = ORL_OK;
    static const orl_stat cell_stats[3] = {ORL_STAT_MEAN, ORL_STAT_MEDIAN, ORL_STAT_IQM};

    for (int32_t d = 0; d < D; d++) out->data[d] = with_data ? data_score(s, d) : NAN;

    /* per (dataset, learner): over seeds */
    for (int32_t d = 0; d < D && st == ORL_OK; d++)
        for (int32_t l = 0; l < L && st == ORL_OK; l++) {
            int64_t n = cell_scores(t, d, l, x);
            out->cell_n[d * L + l] = n;
            for (int k = 0; k < 3 && st == ORL_OK; k++) {
                orl_interval *v = &out->cell[(d * L + l) * 3 + k];
                *v = (orl_interval){NAN, NAN, NAN};
                if (n > 0)
                    st = orl_stats_bootstrap(
                        cell_stats[k], x, n, opt->reps,
                        seed_at(opt->seed, 1, (uint64_t)(d * L + l), (uint64_t)k), opt->level, v);
            }
        }

    /* per learner across datasets: stratified */
    double lo = 0.0, hi = 100.0;
    for (int64_t k = 0; k < s->n_jobs; k++)
        if (t->runs[k].have && isfinite(t->runs[k].score)) {
            lo = fmin(lo, t->runs[k].score);
            hi = fmax(hi, t->runs[k].score);
        }
    for (int32_t i = 0; i < N_TAU; i++) out->tau[i] = lo + (hi - lo) * i / (N_TAU - 1);
    for (int32_t l = 0; l < L && st == ORL_OK; l++) {
        int32_t T = learner_tasks(t, l, x, xoff, NULL);
        out->tasks[l] = T;
        out->runs[l] = T ? xoff[T] : 0;
        for (int k = 0; k < ORL_STAT_COUNT && st == ORL_OK; k++) {
            orl_interval *v = &out->agg[l * ORL_STAT_COUNT + k];
            *v = (orl_interval){NAN, NAN, NAN};
            if (T > 0)
                st = orl_stats_bootstrap_stratified((orl_stat)k, x, xoff, T, opt->reps,
                                                    seed_at(opt->seed, 2, (uint64_t)l, (uint64_t)k),
                                                    opt->level, v);
        }
        for (int32_t i = 0; i < N_TAU; i++)
            out->prof[l * N_TAU + i] = (orl_interval){NAN, NAN, NAN};
        if (T > 0 && st == ORL_OK)
            st = orl_stats_profile(x, xoff, T, out->tau, N_TAU, opt->reps,
                                   seed_at(opt->seed, 3, (uint64_t)l, 0), opt->level,
                                   &out->prof[l * N_TAU]);
    }

    /* P(X > Y) for every ordered pair, over the datasets both ran */
    for (int32_t a = 0; a < L && st == ORL_OK; a++)
        for (int32_t b = 0; b < L && st == ORL_OK; b++) {
            orl_interval *v = &out->impr[a * L + b];
            *v = (orl_interval){NAN, NAN, NAN};
            if (a == b) continue;
            int32_t Ta = learner_tasks(t, a, x, xoff, wx), Tb = learner_tasks(t, b, y, yoff, wy);
            /* keep the common datasets, compacting both in place (in dataset order) */
            int32_t T = 0, j = 0;
            cx[0] = cy[0] = 0;
            for (int32_t i = 0; i < Ta; i++) {
                while (j < Tb && wy[j] < wx[i]) j++;
                if (j == Tb || wy[j] != wx[i]) continue;
                int64_t nx = xoff[i + 1] - xoff[i], ny = yoff[j + 1] - yoff[j];
                memmove(x + cx[T], x + xoff[i], (size_t)nx * sizeof(double));
                memmove(y + cy[T], y + yoff[j], (size_t)ny * sizeof(double));
                cx[T + 1] = cx[T] + nx;
                cy[T + 1] = cy[T] + ny;
                T++;
            }
            if (T > 0)
                st = orl_stats_improvement(x, cx, y, cy, T, opt->reps,
                                           seed_at(opt->seed, 4, (uint64_t)a, (uint64_t)b),
                                           opt->level, v);
        }
    if (st != ORL_OK) orl_bench_stats_free(out);
    return st;
}
orl_status orl_bench_curve_of(const orl_bench_table *t, int32_t d, int32_t l,
                              const orl_bench_report_options *opt, orl_bench_curve *out) {
    out->n = 0;
    double x[ORL_BENCH_MAX_SEEDS];
    int32_t n_points = MAX_POINTS;
    const orl_bench_result *first = NULL;
    for (int64_t k = 0; k < t->s->n_jobs; k++) {
        const orl_bench_job *J = &t->s->jobs[k];
        if (J->dataset != d || J->learner != l || !t->runs[k].have) continue;
        if (!first) first = &t->runs[k];
        if (t->runs[k].n_points < n_points) n_points = t->runs[k].n_points;
    }
    if (!first) return ORL_OK;
    for (int32_t i = 0; i < n_points; i++) {
        int64_t n = 0;
        for (int64_t k = 0; k < t->s->n_jobs; k++) {
            const orl_bench_job *J = &t->s->jobs[k];
            if (J->dataset == d && J->learner == l && t->runs[k].have &&
                isfinite(t->runs[k].point[i]))
                x[n++] = t->runs[k].point[i];
        }
        if (n == 0) continue;
        out->step[out->n] = first->step[i];
        ORL_TRY(orl_stats_bootstrap(
            ORL_STAT_MEAN, x, n, opt->reps,
            seed_at(opt->seed, 5, (uint64_t)(d * t->s->n_learners + l), (uint64_t)i), opt->level,
            &out->v[out->n]));
        out->n++;
    }
    return ORL_OK;
}

/* ---- the literature's order ----
 * On imperfect data (medium-replay; stitching "diverse" sets) the offline RL papers report IQL
 * and CQL above BC, with filtered BC (%BC, our fbc) between (Kostrikov et al. 2021, Table 1;
 * Kumar et al. 2020). Checked per such dataset on the IQMs, saying whether the intervals
 * separate; learners are found by algorithm (the first label of each). */

static int learner_of(const orl_bench_suite *s, const char *algo) {
    for (int32_t l = 0; l < s->n_learners; l++)
        if (strcmp(s->learners[l].algo, algo) == 0) return l;
    return -1;
}

int orl_bench_literature_dataset(const orl_bench_suite *s, int32_t d) {
    return !s->datasets[d].path[0] && (strstr(s->datasets[d].behavior, "replay") ||
                                       strstr(s->datasets[d].behavior, "diverse"));
}

/* the claims on dataset d (3 of them): IQL > BC, CQL > BC, BC <= FBC <= max(IQL, CQL) */
void orl_bench_literature(const orl_bench_suite *s, const orl_bench_stats *S, int32_t d,
                          orl_bench_claim out[3]) {
    int32_t L = S->L;
    int bc = learner_of(s, "bc"), fbc = learner_of(s, "fbc");
    int rl[2] = {learner_of(s, "iql"), learner_of(s, "cql")};
    static const char *const above[2] = {"IQL above BC", "CQL above BC"};
#define IQM(l) (&S->cell[(d * L + (l)) * 3 + 2])
    for (int k = 0; k < 2; k++) {
        out[k] = (orl_bench_claim){above[k], -1, 0};
        if (rl[k] < 0 || bc < 0 || !isfinite(IQM(rl[k])->value) || !isfinite(IQM(bc)->value))
            continue;
        out[k].holds = IQM(rl[k])->value > IQM(bc)->value;
        out[k].separate = IQM(rl[k])->lo > IQM(bc)->hi;
    }
    out[2] = (orl_bench_claim){"%BC (fbc) between BC and the better of IQL and CQL", -1, 0};
    int best = -1;
    for (int k = 0; k < 2; k++)
        if (rl[k] >= 0 && isfinite(IQM(rl[k])->value) &&
            (best < 0 || IQM(rl[k])->value > IQM(best)->value))
            best = rl[k];
    if (best >= 0 && bc >= 0 && fbc >= 0 && isfinite(IQM(fbc)->value) && isfinite(IQM(bc)->value)) {
        out[2].holds = IQM(bc)->value <= IQM(fbc)->value && IQM(fbc)->value <= IQM(best)->value;
        out[2].separate = IQM(bc)->hi < IQM(fbc)->lo && IQM(fbc)->hi < IQM(best)->lo;
    }
#undef IQM
}
