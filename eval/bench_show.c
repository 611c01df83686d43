/* The text forms of suites that `orl bench suites` and `orl bench show` print: the list of the
 * built-in suites, and a suite's run list (its families, then every job with the settings its
 * training run gets); and the names of the cluster engines. Prints nothing itself: the text
 * goes to the caller. */
#include "orl/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

orl_status orl_bench_suites_text(char **out) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) ORL_FAIL(ORL_ERR_NOMEM, "bench suites: out of memory");
    orl_status st = ORL_OK;
    for (int32_t i = 0; i < orl_bench_suite_count() && st == ORL_OK; i++) {
        orl_bench_suite *s = NULL;
        st = orl_bench_suite_load(orl_bench_suite_name(i), &s);
        if (st == ORL_OK)
            fprintf(f, "%-10s %5lld jobs  %s\n", s->name, (long long)s->n_jobs,
                    orl_bench_suite_summary(i));
        orl_bench_suite_free(s);
    }
    fclose(f);
    if (st != ORL_OK) {
        free(text);
        return st;
    }
    *out = text;
    return ORL_OK;
}

char *orl_bench_suite_text(const orl_bench_suite *s) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    fprintf(f, "suite %s: %s\n%d seeds, %lld episodes per curve point, %lld for the final score\n",
            s->name, s->description, s->seeds, (long long)s->eval_episodes,
            (long long)s->final_episodes);
    for (int32_t fam = 0; fam < s->n_families; fam++) {
        const orl_bench_family *F = &s->families[fam];
        fprintf(f, "family %s: hidden %d x %d layers, %lld steps, evaluated every %lld (%s)",
                F->name, F->hidden, F->layers, (long long)F->steps, (long long)F->eval_every,
                F->eval_sample ? "sample" : "mean");
        for (int32_t k = 0; k < F->n_sets; k++) fprintf(f, " %s", F->sets[k]);
        fprintf(f, "\n");
    }
    fprintf(f, "\n%6s  %-36s %-12s %4s %8s  %s\n", "job", "dataset", "learner", "seed", "steps",
            "settings");
    /* each job with the --set list its run gets (the same function the job uses) */
    for (int64_t k = 0; k < s->n_jobs; k++) {
        const orl_bench_job *J = &s->jobs[k];
        const orl_bench_dataset *D = &s->datasets[J->dataset];
        const orl_bench_learner *L = &s->learners[J->learner];
        const orl_bench_family *F = &s->families[D->family];
        const char *fam[ORL_BENCH_MAX_SETS], *own[ORL_BENCH_MAX_SETS];
        for (int32_t i = 0; i < F->n_sets; i++) fam[i] = F->sets[i];
        for (int32_t i = 0; i < L->n_sets; i++) own[i] = L->sets[i];
        char buf[8 + 2 * ORL_BENCH_MAX_SETS][ORL_BENCH_SET_LEN];
        const char *sets[8 + 2 * ORL_BENCH_MAX_SETS];
        int32_t n = orl_bench_train_sets(L->algo, F->hidden, F->layers, fam, F->n_sets, own,
                                         L->n_sets, buf, 8 + 2 * ORL_BENCH_MAX_SETS, sets);
        int64_t steps, every;
        orl_bench_job_budget(s, k, &steps, &every);
        fprintf(f, "%6lld  %-36s %-12s %4d %8lld ", (long long)k, D->name, L->name, J->seed,
                (long long)steps);
        for (int32_t i = 0; i < n; i++) fprintf(f, " %s", sets[i]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

void orl_bench_job_budget(const orl_bench_suite *s, int64_t k, int64_t *steps,
                          int64_t *eval_every) {
    const orl_bench_learner *L = &s->learners[s->jobs[k].learner];
    const orl_bench_family *F = &s->families[s->datasets[s->jobs[k].dataset].family];
    *steps = L->steps > 0 ? L->steps : F->steps;
    *eval_every = L->steps > 0 ? L->eval_every : F->eval_every;
}

orl_status orl_bench_engine_parse(const char *name, orl_bench_engine *out) {
    static const char *const names[3] = {"slurm", "parallel", "mpi"};
    static const orl_bench_engine engines[3] = {ORL_BENCH_ENGINE_SLURM, ORL_BENCH_ENGINE_PARALLEL,
                                                ORL_BENCH_ENGINE_MPI};
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = engines[i];
            return ORL_OK;
        }
    ORL_FAIL(ORL_ERR_INPUT, "--emit: expected slurm, parallel or mpi, got '%s'", name ? name : "");
}
