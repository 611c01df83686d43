/* The benchmark report: DIR/report.md and DIR/report.json from the catalog rows of the
 * directory's suite (bench_catalog.c merges and loads them, bench_analysis.c computes the
 * statistics, bench_plot.c draws the pictures), each written atomically. Every figure comes
 * from the catalog in job order, so the same results give the same bytes (with times left
 * out). */
#include "eval/bench_internal.h"
#include "orl/fs.h"
#include "core/json_util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ORL_VERSION
#define ORL_VERSION "unknown"
#endif

void orl_bench_report_options_init(orl_bench_report_options *opt) {
    opt->reps = 2000;
    opt->seed = 0;
    opt->level = 0.95;
    opt->times = 1;
    opt->plots = 1;
}

/* ---- report.md ---- */

static void write_md(FILE *f, const orl_bench_table *t, const orl_bench_stats *S,
                     const orl_bench_report_options *opt) {
    const orl_bench_suite *s = t->s;
    int32_t D = S->D, L = S->L;
    char buf[128];
    fprintf(f, "# orl bench: suite `%s`\n\n%s\n\n", s->name, s->description);
    fprintf(f,
            "%lld results of %lld jobs (%d seeds). Normalised scores (0 random, 100 expert; "
            "docs/reference-scores.md). Intervals: %.0f%% percentile bootstrap, %lld resamples, "
            "seed %llu; aggregates resample runs within each dataset (stratified).\n\n",
            (long long)t->n_results, (long long)s->n_jobs, s->seeds, 100.0 * opt->level,
            (long long)opt->reps, (unsigned long long)opt->seed);

    fprintf(f, "## Per dataset: IQM [CI] over seeds\n\n");
    fprintf(f, "Bold: the best IQM, only when its interval lies above every other learner's.\n\n");
    fprintf(f, "| dataset | data |");
    for (int32_t l = 0; l < L; l++) fprintf(f, " %s |", s->learners[l].name);
    fprintf(f, "\n|---|---|");
    for (int32_t l = 0; l < L; l++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int32_t d = 0; d < D; d++) {
        /* the best IQM, bold when its lower end is above every other upper end */
        int32_t best = -1;
        for (int32_t l = 0; l < L; l++) {
            const orl_interval *v = &S->cell[(d * L + l) * 3 + 2];
            if (isfinite(v->value) &&
                (best < 0 || v->value > S->cell[(d * L + best) * 3 + 2].value))
                best = l;
        }
        int separate = best >= 0;
        for (int32_t l = 0; best >= 0 && l < L; l++) {
            const orl_interval *v = &S->cell[(d * L + l) * 3 + 2];
            if (l != best && isfinite(v->value) && !(S->cell[(d * L + best) * 3 + 2].lo > v->hi))
                separate = 0;
        }
        fprintf(f, "| %s |", s->datasets[d].name);
        if (isfinite(S->data[d]))
            fprintf(f, " %.1f |", S->data[d]);
        else
            fprintf(f, " — |");
        for (int32_t l = 0; l < L; l++) {
            orl_bench_fmt_interval(buf, sizeof buf, &S->cell[(d * L + l) * 3 + 2],
                                   separate && l == best);
            fprintf(f, " %s |", buf);
        }
        fprintf(f, "\n");
    }

    fprintf(f, "\n## Aggregate over datasets (stratified bootstrap)\n\n");
    fprintf(f, "| learner | datasets | runs | IQM | median | mean | optimality gap |\n"
               "|---|---|---|---|---|---|---|\n");
    static const orl_stat order[4] = {ORL_STAT_IQM, ORL_STAT_MEDIAN, ORL_STAT_MEAN,
                                      ORL_STAT_OPTIMALITY_GAP};
    for (int32_t l = 0; l < L; l++) {
        fprintf(f, "| %s | %d | %lld |", s->learners[l].name, S->tasks[l], (long long)S->runs[l]);
        for (int k = 0; k < 4; k++) {
            orl_bench_fmt_interval(buf, sizeof buf, &S->agg[l * ORL_STAT_COUNT + (int)order[k]], 0);
            fprintf(f, " %s |", buf);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\nA learner's aggregate is over the datasets it ran (a learner for one action "
               "kind has fewer).\n");

    fprintf(f, "\n## Probability of improvement P(row > column)\n\n"
               "Over the datasets both learners ran; ties count 1/2.\n\n| |");
    for (int32_t l = 0; l < L; l++) fprintf(f, " %s |", s->learners[l].name);
    fprintf(f, "\n|---|");
    for (int32_t l = 0; l < L; l++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int32_t a = 0; a < L; a++) {
        fprintf(f, "| %s |", s->learners[a].name);
        for (int32_t b = 0; b < L; b++) {
            const orl_interval *v = &S->impr[a * L + b];
            if (a == b || !isfinite(v->value))
                fprintf(f, " — |");
            else
                fprintf(f, " %.2f [%.2f, %.2f] |", v->value, v->lo, v->hi);
        }
        fprintf(f, "\n");
    }

    fprintf(f, "\n## Per dataset: mean and median [CI] over seeds\n\n"
               "| dataset | learner | runs | mean | median |\n|---|---|---|---|---|\n");
    for (int32_t d = 0; d < D; d++)
        for (int32_t l = 0; l < L; l++) {
            if (S->cell_n[d * L + l] == 0) continue;
            char m[96], md[96];
            orl_bench_fmt_interval(m, sizeof m, &S->cell[(d * L + l) * 3 + 0], 0);
            orl_bench_fmt_interval(md, sizeof md, &S->cell[(d * L + l) * 3 + 1], 0);
            fprintf(f, "| %s | %s | %lld | %s | %s |\n", s->datasets[d].name, s->learners[l].name,
                    (long long)S->cell_n[d * L + l], m, md);
        }

    int any = 0;
    for (int32_t d = 0; d < D; d++) any |= orl_bench_literature_dataset(s, d);
    if (any) {
        fprintf(f, "\n## The literature's order on imperfect data\n\n"
                   "On medium-replay (and stitching) data the offline RL papers report IQL and "
                   "CQL above BC, with %%BC between. Checked on the IQMs above; \"separate\": "
                   "the intervals do not overlap.\n\n| dataset | claim | holds |\n|---|---|---|\n");
        for (int32_t d = 0; d < D; d++) {
            if (!orl_bench_literature_dataset(s, d)) continue;
            orl_bench_claim c[3];
            orl_bench_literature(s, S, d, c);
            for (int k = 0; k < 3; k++)
                fprintf(f, "| %s | %s | %s |\n", s->datasets[d].name, c[k].text,
                        c[k].holds < 0  ? "— (a learner is missing)"
                        : !c[k].holds   ? "**no**"
                        : c[k].separate ? "yes, separate"
                                        : "yes, intervals overlap");
        }
    }

    if (opt->times) {
        fprintf(f, "\n## Training time and memory per run\n\n"
                   "Seconds of training (with the learning-curve evaluations) per run, and the "
                   "peak resident memory of the job's process.\n\n"
                   "| dataset | learner | runs | seconds: mean (min–max) | peak RSS (MB, max) |\n"
                   "|---|---|---|---|---|\n");
        for (int32_t d = 0; d < D; d++)
            for (int32_t l = 0; l < L; l++) {
                double sum = 0.0, mn = INFINITY, mx = 0.0;
                int64_t n = 0, rss = 0;
                for (int64_t k = 0; k < s->n_jobs; k++) {
                    const orl_bench_job *J = &s->jobs[k];
                    if (J->dataset != d || J->learner != l || !t->runs[k].have) continue;
                    double sec = t->runs[k].train_seconds;
                    sum += sec;
                    mn = fmin(mn, sec);
                    mx = fmax(mx, sec);
                    if (t->runs[k].peak_rss_kb > rss) rss = t->runs[k].peak_rss_kb;
                    n++;
                }
                if (n == 0) continue;
                fprintf(f, "| %s | %s | %lld | %.2f (%.2f–%.2f) | %.1f |\n", s->datasets[d].name,
                        s->learners[l].name, (long long)n, sum / (double)n, mn, mx,
                        (double)rss / 1024.0);
            }
    }
}

/* ---- report.json ---- */

static json_t *report_json(const orl_bench_table *t, const orl_bench_stats *S,
                           const orl_bench_report_options *opt, const orl_bench_curve *bands) {
    const orl_bench_suite *s = t->s;
    int32_t D = S->D, L = S->L;
    json_t *root = json_object();
    json_object_set_new(root, "suite", json_string(s->name));
    json_object_set_new(root, "orl_version", json_string(ORL_VERSION));
    json_object_set_new(root, "results", json_integer(t->n_results));
    json_object_set_new(root, "jobs", json_integer(s->n_jobs));
    json_t *b = json_object();
    json_object_set_new(b, "reps", json_integer(opt->reps));
    json_object_set_new(b, "seed", json_integer((json_int_t)opt->seed));
    json_object_set_new(b, "level", json_real(opt->level));
    json_object_set_new(root, "bootstrap", b);

    json_t *per = json_array();
    for (int32_t d = 0; d < D; d++)
        for (int32_t l = 0; l < L; l++) {
            if (S->cell_n[d * L + l] == 0) continue;
            json_t *o = json_object();
            json_object_set_new(o, "dataset", json_string(s->datasets[d].name));
            json_object_set_new(o, "learner", json_string(s->learners[l].name));
            json_object_set_new(o, "runs", json_integer(S->cell_n[d * L + l]));
            json_object_set_new(o, "data_score", orl_json_number(S->data[d]));
            json_object_set_new(o, "mean", orl_bench_interval_json(&S->cell[(d * L + l) * 3 + 0]));
            json_object_set_new(o, "median",
                                orl_bench_interval_json(&S->cell[(d * L + l) * 3 + 1]));
            json_object_set_new(o, "iqm", orl_bench_interval_json(&S->cell[(d * L + l) * 3 + 2]));
            const orl_bench_curve *c = &bands[d * L + l];
            json_t *cs = json_array(), *cv = json_array();
            for (int32_t i = 0; i < c->n; i++) {
                json_array_append_new(cs, json_integer(c->step[i]));
                json_array_append_new(cv, orl_bench_interval_json(&c->v[i]));
            }
            json_t *curve = json_object();
            json_object_set_new(curve, "step", cs);
            json_object_set_new(curve, "mean", cv);
            json_object_set_new(o, "curve", curve);
            json_array_append_new(per, o);
        }
    json_object_set_new(root, "per_dataset", per);

    json_t *agg = json_array();
    for (int32_t l = 0; l < L; l++) {
        json_t *o = json_object();
        json_object_set_new(o, "learner", json_string(s->learners[l].name));
        json_object_set_new(o, "datasets", json_integer(S->tasks[l]));
        json_object_set_new(o, "runs", json_integer(S->runs[l]));
        for (int k = 0; k < ORL_STAT_COUNT; k++)
            json_object_set_new(o, orl_stat_name((orl_stat)k),
                                orl_bench_interval_json(&S->agg[l * ORL_STAT_COUNT + k]));
        json_t *prof = json_array();
        for (int32_t i = 0; i < N_TAU; i++)
            json_array_append_new(prof, orl_bench_interval_json(&S->prof[l * N_TAU + i]));
        json_object_set_new(o, "profile", prof);
        json_array_append_new(agg, o);
    }
    json_object_set_new(root, "aggregate", agg);
    json_t *tau = json_array();
    for (int32_t i = 0; i < N_TAU; i++) json_array_append_new(tau, json_real(S->tau[i]));
    json_object_set_new(root, "profile_tau", tau);

    json_t *impr = json_array();
    for (int32_t a = 0; a < L; a++)
        for (int32_t c = 0; c < L; c++) {
            if (a == c || !isfinite(S->impr[a * L + c].value)) continue;
            json_t *o = json_object();
            json_object_set_new(o, "x", json_string(s->learners[a].name));
            json_object_set_new(o, "y", json_string(s->learners[c].name));
            json_object_set_new(o, "p", orl_bench_interval_json(&S->impr[a * L + c]));
            json_array_append_new(impr, o);
        }
    json_object_set_new(root, "improvement", impr);

    json_t *lit = json_array();
    for (int32_t d = 0; d < D; d++) {
        if (!orl_bench_literature_dataset(s, d)) continue;
        orl_bench_claim c[3];
        orl_bench_literature(s, S, d, c);
        for (int k = 0; k < 3; k++) {
            json_t *o = json_object();
            json_object_set_new(o, "dataset", json_string(s->datasets[d].name));
            json_object_set_new(o, "claim", json_string(c[k].text));
            json_object_set_new(o, "holds",
                                c[k].holds < 0 ? json_null() : json_boolean(c[k].holds));
            json_object_set_new(o, "separate", json_boolean(c[k].holds > 0 && c[k].separate));
            json_array_append_new(lit, o);
        }
    }
    json_object_set_new(root, "literature", lit);

    json_t *runs = json_array();
    for (int64_t k = 0; k < s->n_jobs; k++) {
        const orl_bench_result *r = &t->runs[k];
        if (!r->have) continue;
        const orl_bench_job *J = &s->jobs[k];
        json_t *o = json_object();
        json_object_set_new(o, "job", json_integer(k));
        json_object_set_new(o, "dataset", json_string(s->datasets[J->dataset].name));
        json_object_set_new(o, "learner", json_string(s->learners[J->learner].name));
        json_object_set_new(o, "seed", json_integer(J->seed));
        json_object_set_new(o, "score", orl_json_number(r->score));
        if (opt->times) {
            json_object_set_new(o, "train_seconds", json_real(r->train_seconds));
            json_object_set_new(o, "peak_rss_kb", json_integer(r->peak_rss_kb));
        }
        json_array_append_new(runs, o);
    }
    json_object_set_new(root, "runs", runs);
    return root;
}
/* ---- the report and the comparison ---- */

static orl_status write_file(const char *path, const char *text, size_t len) {
    char tmp[1200];
    ORL_TRY(orl_fs_temp_name(path, tmp, sizeof tmp));
    FILE *f = fopen(tmp, "wb");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    int bad = fwrite(text, 1, len, f) != len;
    bad |= fclose(f) != 0;
    if (bad) {
        remove(tmp);
        ORL_FAIL(ORL_ERR_IO, "%s: write failed", tmp);
    }
    return orl_fs_commit(tmp, path);
}

orl_status orl_bench_check_options(const orl_bench_report_options *opt) {
    if (opt->reps < 1 || !(opt->level > 0.0 && opt->level < 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "report: expected reps >= 1 and a level in (0, 1)");
    return ORL_OK;
}

orl_status orl_bench_report(const char *dir, const orl_bench_report_options *opt,
                            orl_bench_report_summary *out) {
    orl_bench_report_options defaults;
    if (!opt) {
        orl_bench_report_options_init(&defaults);
        opt = &defaults;
    }
    ORL_TRY(orl_bench_check_options(opt));
    orl_bench_report_summary sum;
    memset(&sum, 0, sizeof sum);
    orl_bench_table t;
    ORL_TRY(orl_bench_table_load(dir, &t));
    sum.results = t.n_results;
    sum.missing = t.s->n_jobs - t.n_results;
    orl_bench_stats S;
    orl_status st = orl_bench_stats_compute(&t, opt, 1, &S);
    if (st != ORL_OK) {
        orl_bench_table_free(&t);
        return st;
    }
    int32_t DL = S.D * S.L;
    orl_bench_curve *bands = calloc((size_t)DL, sizeof *bands);
    if (!bands) st = orl_error_set(ORL_ERR_NOMEM, "report: out of memory");
    for (int32_t i = 0; i < DL && st == ORL_OK; i++)
        st = orl_bench_curve_of(&t, i / S.L, i % S.L, opt, &bands[i]);

    char path[1024];
    char *text = NULL;
    size_t len = 0;
    if (st == ORL_OK) {
        FILE *f = open_memstream(&text, &len);
        if (!f) {
            st = orl_error_set(ORL_ERR_NOMEM, "report: out of memory");
        } else {
            write_md(f, &t, &S, opt);
            fclose(f);
            snprintf(path, sizeof path, "%s/report.md", dir);
            st = write_file(path, text, len);
        }
        free(text);
    }
    if (st == ORL_OK) {
        json_t *j = report_json(&t, &S, opt, bands);
        char *js = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        json_decref(j);
        if (!js) {
            st = orl_error_set(ORL_ERR_NOMEM, "report: out of memory");
        } else {
            size_t n = strlen(js);
            js[n] = '\n'; /* the closing newline replaces the terminator */
            snprintf(path, sizeof path, "%s/report.json", dir);
            st = write_file(path, js, n + 1);
            free(js);
        }
    }
    if (st == ORL_OK && opt->plots)
        st = orl_bench_plot(dir, &t, &S, bands, &sum);
    else if (st == ORL_OK)
        snprintf(sum.note, sizeof sum.note, "plots turned off");
    free(bands);
    orl_bench_stats_free(&S);
    orl_bench_table_free(&t);
    if (out) *out = sum;
    return st;
}
