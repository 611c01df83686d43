/* orl bench compare: the aggregate IQM of every learner in two benchmark directories, side by
 * side, a regression being B's IQM below A's interval; and, for information, the per-dataset
 * IQMs of B that lie outside A's interval. Prints nothing: the text goes to the caller. */
#include "eval/bench_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

orl_status orl_bench_compare(const char *dir_a, const char *dir_b,
                             const orl_bench_report_options *opt, char **text,
                             int32_t *regressions) {
    orl_bench_report_options defaults;
    if (!opt) {
        orl_bench_report_options_init(&defaults);
        opt = &defaults;
    }
    ORL_TRY(orl_bench_check_options(opt));
    *text = NULL;
    *regressions = 0;
    orl_bench_table ta, tb;
    ORL_TRY(orl_bench_table_load(dir_a, &ta));
    orl_status st = orl_bench_table_load(dir_b, &tb);
    if (st != ORL_OK) {
        orl_bench_table_free(&ta);
        return st;
    }
    orl_bench_stats A, B;
    memset(&B, 0, sizeof B);
    st = orl_bench_stats_compute(&ta, opt, 0, &A);
    if (st == ORL_OK) st = orl_bench_stats_compute(&tb, opt, 0, &B);
    char *out = NULL;
    size_t len = 0;
    FILE *f = st == ORL_OK ? open_memstream(&out, &len) : NULL;
    if (st == ORL_OK && !f) st = orl_error_set(ORL_ERR_NOMEM, "compare: out of memory");
    if (f) {
        fprintf(f,
                "# orl bench compare\n\nA: %s (suite %s, %lld results)  \nB: %s (suite %s, %lld "
                "results)\n\nAggregate IQM [%.0f%% stratified bootstrap CI]; a regression is "
                "B's IQM below A's interval.\n\n| learner | A | B | B − A | verdict |\n"
                "|---|---|---|---|---|\n",
                dir_a, ta.s->name, (long long)ta.n_results, dir_b, tb.s->name,
                (long long)tb.n_results, 100.0 * opt->level);
        for (int32_t a = 0; a < A.L; a++) {
            int32_t b = -1;
            for (int32_t k = 0; k < B.L; k++)
                if (strcmp(ta.s->learners[a].name, tb.s->learners[k].name) == 0) b = k;
            const orl_interval *va = &A.agg[a * ORL_STAT_COUNT + ORL_STAT_IQM];
            char sa[96], sb[96] = "—";
            orl_bench_fmt_interval(sa, sizeof sa, va, 0);
            if (b < 0) {
                fprintf(f, "| %s | %s | — | — | only in A |\n", ta.s->learners[a].name, sa);
                continue;
            }
            const orl_interval *vb = &B.agg[b * ORL_STAT_COUNT + ORL_STAT_IQM];
            orl_bench_fmt_interval(sb, sizeof sb, vb, 0);
            const char *verdict = "same";
            if (isfinite(va->value) && isfinite(vb->value)) {
                if (vb->value < va->lo) {
                    verdict = "**worse**";
                    (*regressions)++;
                } else if (vb->value > va->hi) {
                    verdict = "better";
                }
            } else {
                verdict = "no scores";
            }
            fprintf(f, "| %s | %s | %s | %+.1f | %s |\n", ta.s->learners[a].name, sa, sb,
                    vb->value - va->value, verdict);
        }
        for (int32_t b = 0; b < B.L; b++) {
            int found = 0;
            for (int32_t a = 0; a < A.L; a++)
                found |= strcmp(ta.s->learners[a].name, tb.s->learners[b].name) == 0;
            if (!found) fprintf(f, "| %s | — | | | only in B |\n", tb.s->learners[b].name);
        }
        /* what moved per dataset: B's IQM outside A's interval (datasets and learners matched
         * by name; informative only: the exit status is the aggregate's) */
        int moved = 0;
        for (int32_t da = 0; da < A.D; da++) {
            int32_t db = -1;
            for (int32_t k = 0; k < B.D; k++)
                if (strcmp(ta.s->datasets[da].name, tb.s->datasets[k].name) == 0) db = k;
            for (int32_t a = 0; db >= 0 && a < A.L; a++) {
                int32_t b = -1;
                for (int32_t k = 0; k < B.L; k++)
                    if (strcmp(ta.s->learners[a].name, tb.s->learners[k].name) == 0) b = k;
                if (b < 0) continue;
                const orl_interval *va = &A.cell[(da * A.L + a) * 3 + 2];
                const orl_interval *vb = &B.cell[(db * B.L + b) * 3 + 2];
                if (!isfinite(va->value) || !isfinite(vb->value) ||
                    (vb->value >= va->lo && vb->value <= va->hi))
                    continue;
                if (!moved++)
                    fprintf(f, "\nPer dataset, IQM over seeds where B's lies outside A's "
                               "interval:\n\n| dataset | learner | A | B | B − A |\n"
                               "|---|---|---|---|---|\n");
                char sa[96], sb[96];
                orl_bench_fmt_interval(sa, sizeof sa, va, 0);
                orl_bench_fmt_interval(sb, sizeof sb, vb, 0);
                fprintf(f, "| %s | %s | %s | %s | %+.1f |\n", ta.s->datasets[da].name,
                        ta.s->learners[a].name, sa, sb, vb->value - va->value);
            }
        }
        if (!moved) fprintf(f, "\nPer dataset: every IQM of B lies within A's interval.\n");
        fprintf(f, "\n%d regression%s.\n", *regressions, *regressions == 1 ? "" : "s");
        fclose(f);
        *text = out;
    }
    orl_bench_stats_free(&A);
    orl_bench_stats_free(&B);
    orl_bench_table_free(&ta);
    orl_bench_table_free(&tb);
    return st;
}
