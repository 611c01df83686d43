/* eval/bench: the statistics against closed-form and hand-computed cases, and the suite
 * reader (built-in suites, run lists, bad suites, the JSON round trip, the dataset cache's
 * names, a run's --set list). The jobs, workers, report and engines run through the program in
 * test_bench_cli.c. */
#include "orl/bench.h"
#include "orl/rng.h"
#include "orl/train.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statistics ---- */

Test(bench_stats, point_statistics_by_hand) {
    double x[8] = {8, 1, 7, 2, 6, 3, 5, 4}, scratch[8];
    /* IQM: floor(8/4) = 2 trimmed from each end of 1..8: mean of 3, 4, 5, 6 */
    cr_assert_float_eq(orl_stats_point(ORL_STAT_IQM, x, 8, scratch), 4.5, 1e-15);
    cr_assert_float_eq(orl_stats_point(ORL_STAT_MEAN, x, 8, scratch), 4.5, 1e-15);
    cr_assert_float_eq(orl_stats_point(ORL_STAT_MEDIAN, x, 8, scratch), 4.5, 1e-15);
    /* 1, 2, 3, 4, 100: median 3; IQM trims 1 from each end: (2 + 3 + 4) / 3 = 3; mean 22 */
    double y[5] = {100, 3, 1, 4, 2};
    cr_assert_float_eq(orl_stats_point(ORL_STAT_MEDIAN, y, 5, scratch), 3.0, 1e-15);
    cr_assert_float_eq(orl_stats_point(ORL_STAT_IQM, y, 5, scratch), 3.0, 1e-15);
    cr_assert_float_eq(orl_stats_point(ORL_STAT_MEAN, y, 5, scratch), 22.0, 1e-15);
    /* fewer than 4 values: nothing trimmed */
    double z[3] = {0, 10, 50};
    cr_assert_float_eq(orl_stats_point(ORL_STAT_IQM, z, 3, scratch), 20.0, 1e-15);
    /* optimality gap: mean of max(0, 100 - x): (50 + 0 + 0 + 100) / 4 */
    double g[4] = {50, 120, 100, 0};
    cr_assert_float_eq(orl_stats_point(ORL_STAT_OPTIMALITY_GAP, g, 4, scratch), 37.5, 1e-15);
    cr_assert(isnan(orl_stats_point(ORL_STAT_MEAN, x, 0, scratch)));
    /* the input is left as it was */
    cr_assert_eq(x[0], 8.0);
}

Test(bench_stats, constant_sample_gives_a_point_interval) {
    double x[6] = {42, 42, 42, 42, 42, 42};
    for (int s = 0; s < ORL_STAT_COUNT; s++) {
        orl_interval v;
        cr_assert_eq(orl_stats_bootstrap((orl_stat)s, x, 6, 500, 3, 0.95, &v), ORL_OK);
        double want = s == ORL_STAT_OPTIMALITY_GAP ? 58.0 : 42.0;
        cr_assert_eq(v.value, want);
        cr_assert_eq(v.lo, want);
        cr_assert_eq(v.hi, want);
    }
}

/* x = {0, 1}: a resample's mean is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4, so the
 * 30th and 70th percentiles are both 1/2, and the 2.5th and 97.5th are 0 and 1 */
Test(bench_stats, two_point_bootstrap_percentiles) {
    double x[2] = {0, 1};
    orl_interval v;
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_MEAN, x, 2, 10000, 7, 0.4, &v), ORL_OK);
    cr_assert_eq(v.lo, 0.5);
    cr_assert_eq(v.hi, 0.5);
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_MEAN, x, 2, 10000, 7, 0.95, &v), ORL_OK);
    cr_assert_eq(v.lo, 0.0);
    cr_assert_eq(v.hi, 1.0);
    cr_assert_eq(v.value, 0.5);
}

/* the bootstrap interval of a mean of n values approaches mean +- 1.96 sd / sqrt(n) */
Test(bench_stats, mean_interval_matches_the_normal_approximation) {
    enum { N = 400 };
    double x[N];
    orl_rng rng;
    orl_rng_seed(&rng, 11, 0);
    double sum = 0.0, sq = 0.0;
    for (int i = 0; i < N; i++) {
        x[i] = 10.0 + 3.0 * orl_rng_normal(&rng);
        sum += x[i];
    }
    double mean = sum / N;
    for (int i = 0; i < N; i++) sq += (x[i] - mean) * (x[i] - mean);
    double half = 1.959964 * sqrt(sq / N) / sqrt((double)N);
    orl_interval v;
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_MEAN, x, N, 4000, 1, 0.95, &v), ORL_OK);
    printf("mean %.4f: bootstrap [%.4f, %.4f], normal +- %.4f (seed 11)\n", v.value, v.lo, v.hi,
           half);
    cr_assert_float_eq(v.value, mean, 1e-12);
    cr_assert_float_eq(v.hi - v.lo, 2.0 * half, 0.1 * 2.0 * half);
    cr_assert_float_eq(0.5 * (v.lo + v.hi), mean, 0.1 * half);
}

/* two tasks, each constant (all 0; all 100): resampling within each task cannot change the
 * pooled mean, so the stratified interval is the point 50, while resampling the pool as one
 * task changes the mix and gives a wide interval */
Test(bench_stats, stratified_resampling_keeps_each_task) {
    double x[10] = {0, 0, 0, 0, 0, 100, 100, 100, 100, 100};
    int64_t off[3] = {0, 5, 10};
    orl_interval s, p;
    cr_assert_eq(orl_stats_bootstrap_stratified(ORL_STAT_MEAN, x, off, 2, 2000, 5, 0.95, &s),
                 ORL_OK);
    cr_assert_eq(s.value, 50.0);
    cr_assert_eq(s.lo, 50.0);
    cr_assert_eq(s.hi, 50.0);
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_MEAN, x, 10, 2000, 5, 0.95, &p), ORL_OK);
    cr_assert_eq(p.value, 50.0);
    cr_assert(p.lo < 30.0 && p.hi > 70.0, "pooled interval [%g, %g]", p.lo, p.hi);
    /* IQM and median stratified: also unchanged */
    cr_assert_eq(orl_stats_bootstrap_stratified(ORL_STAT_IQM, x, off, 2, 500, 5, 0.95, &s), ORL_OK);
    cr_assert_eq(s.lo, s.hi);
}

Test(bench_stats, same_seed_same_bits) {
    double x[30];
    orl_rng rng;
    orl_rng_seed(&rng, 12, 0);
    for (int i = 0; i < 30; i++) x[i] = 100.0 * orl_rng_uniform(&rng);
    orl_interval a, b, c;
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_IQM, x, 30, 1000, 9, 0.95, &a), ORL_OK);
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_IQM, x, 30, 1000, 9, 0.95, &b), ORL_OK);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_IQM, x, 30, 1000, 10, 0.95, &c), ORL_OK);
    cr_assert(a.lo != c.lo || a.hi != c.hi, "another seed, another resampling");
}

/* bench/quality's interval (its own loop before the statistics moved here): resample with
 * orl_rng (seed 0, stream 1), IQM, sort, positions 0.025 B and 0.975 B - 1. The library's
 * gives the same bits, so bench/quality's figures did not change. */
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
Test(bench_stats, quality_interval_unchanged) {
    enum { B = 10000, N = 5 };
    double x[N] = {91.5, 12.0, 77.25, 80.0, 65.5};
    static double stats[B];
    orl_rng rng;
    orl_rng_seed(&rng, 0, 1);
    for (int b = 0; b < B; b++) {
        double r[N];
        for (int i = 0; i < N; i++) r[i] = x[orl_rng_below(&rng, N)];
        qsort(r, N, sizeof(double), cmp);
        double s = 0.0;
        for (int i = N / 4; i < N - N / 4; i++) s += r[i];
        stats[b] = s / (double)(N - 2 * (N / 4));
    }
    qsort(stats, B, sizeof(double), cmp);
    orl_interval v;
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_IQM, x, N, B, 0, 0.95, &v), ORL_OK);
    cr_assert_eq(v.lo, stats[(int)(0.025 * B)]);
    cr_assert_eq(v.hi, stats[(int)(0.975 * B) - 1]);
}

Test(bench_stats, performance_profile_by_hand) {
    double x[4] = {10, 20, 30, 40};
    int64_t off[2] = {0, 4};
    double tau[4] = {0, 15, 35, 50};
    orl_interval v[4];
    cr_assert_eq(orl_stats_profile(x, off, 1, tau, 4, 1000, 2, 0.95, v), ORL_OK);
    cr_assert_eq(v[0].value, 1.0);
    cr_assert_eq(v[1].value, 0.75);
    cr_assert_eq(v[2].value, 0.25);
    cr_assert_eq(v[3].value, 0.0);
    /* every run is above 0 and none above 50 in any resample */
    cr_assert_eq(v[0].lo, 1.0);
    cr_assert_eq(v[3].hi, 0.0);
    cr_assert(v[1].lo < 0.75 && v[1].hi > 0.75 - 1e-12);
    /* constant tasks: the band is the point */
    double c[4] = {10, 10, 60, 60};
    int64_t coff[3] = {0, 2, 4};
    cr_assert_eq(orl_stats_profile(c, coff, 2, tau, 4, 500, 2, 0.95, v), ORL_OK);
    cr_assert_eq(v[2].value, 0.5);
    cr_assert_eq(v[2].lo, 0.5);
    cr_assert_eq(v[2].hi, 0.5);
}

Test(bench_stats, probability_of_improvement_by_hand) {
    /* task 1: x {2, 3, 4} against y {1, 3}: wins 1 + 0 + 1 + 1/2 + 1 + 1 = 4.5 of 6 = 0.75;
     * task 2: x {0} against y {5}: 0; the mean over tasks 0.375 */
    double x[4] = {2, 3, 4, 0}, y[3] = {1, 3, 5};
    int64_t xoff[3] = {0, 3, 4}, yoff[3] = {0, 2, 3};
    orl_interval v;
    cr_assert_eq(orl_stats_improvement(x, xoff, y, yoff, 2, 1000, 4, 0.95, &v), ORL_OK);
    cr_assert_float_eq(v.value, 0.375, 1e-15);
    cr_assert(v.lo <= 0.375 && v.hi >= 0.375);
    cr_assert(v.hi <= 0.5, "task 2 is always 0: at most 1/2, got %g", v.hi);
    /* every x above every y: 1 whatever the resample; identical constants: 1/2 */
    double a[3] = {5, 6, 7}, b[3] = {1, 2, 3}, k[3] = {4, 4, 4};
    int64_t off[2] = {0, 3};
    cr_assert_eq(orl_stats_improvement(a, off, b, off, 1, 500, 4, 0.95, &v), ORL_OK);
    cr_assert(v.value == 1.0 && v.lo == 1.0 && v.hi == 1.0);
    cr_assert_eq(orl_stats_improvement(b, off, a, off, 1, 500, 4, 0.95, &v), ORL_OK);
    cr_assert(v.value == 0.0 && v.hi == 0.0);
    cr_assert_eq(orl_stats_improvement(k, off, k, off, 1, 500, 4, 0.95, &v), ORL_OK);
    cr_assert(v.value == 0.5 && v.lo == 0.5 && v.hi == 0.5);
}

Test(bench_stats, bad_arguments) {
    double x[2] = {1, 2};
    int64_t off[3] = {0, 2, 2};
    orl_interval v;
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_MEAN, x, 0, 10, 0, 0.95, &v), ORL_ERR_INPUT);
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_MEAN, x, 2, 0, 0, 0.95, &v), ORL_ERR_INPUT);
    cr_assert_eq(orl_stats_bootstrap(ORL_STAT_MEAN, x, 2, 10, 0, 1.0, &v), ORL_ERR_INPUT);
    cr_assert_eq(orl_stats_bootstrap_stratified(ORL_STAT_MEAN, x, off, 2, 10, 0, 0.95, &v),
                 ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "task 1"));
}

/* ---- suites ---- */

Test(bench_suite, builtins_and_their_run_lists) {
    cr_assert_eq(orl_bench_suite_count(), 3);
    orl_bench_suite *s = NULL;
    /* mujoco: 9 datasets x 8 learners x 5 seeds */
    cr_assert_eq(orl_bench_suite_load("mujoco", &s), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(s->n_jobs, 9 * 8 * 5);
    orl_bench_suite_free(s);
    s = NULL;
    cr_assert_eq(orl_bench_suite_load("smoke", &s), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(s->n_jobs, 2 * 2 * 3);
    /* nesting: dataset, learner, seed */
    cr_assert_eq(s->jobs[4].dataset, 0);
    cr_assert_eq(s->jobs[4].learner, 1);
    cr_assert_eq(s->jobs[4].seed, 1);
    orl_bench_suite_free(s);
    cr_assert_eq(orl_bench_suite_load("classic", &s), ORL_OK, "%s", orl_error_message());
    /* 6 datasets (3 continuous, 3 discrete) x 8 learners x 5 seeds, less td3bc on the discrete
     * datasets and morel outside the pendulum family (1 dataset) */
    cr_assert_eq(s->n_datasets, 6);
    cr_assert_eq(s->n_learners, 8);
    cr_assert_eq(s->n_jobs, (6 * 7 - 3 + 1) * 5);
    /* every offline learner (sac is online) */
    static const char *const offline[] = {"bc",  "fbc", "awr", "td3bc",
                                          "iql", "cql", "bcq", "morel"};
    for (int i = 0; i < 8; i++) {
        int found = 0;
        for (int32_t l = 0; l < s->n_learners; l++)
            found |= strcmp(s->learners[l].algo, offline[i]) == 0;
        cr_assert(found, "classic lacks %s", offline[i]);
    }
    int diverse = 0;
    for (int32_t d = 0; d < s->n_datasets; d++)
        diverse += strcmp(s->datasets[d].behavior, "diverse") == 0;
    cr_assert_eq(diverse, 2, "the stitching sets (UMaze sparse and dense)");
    for (int64_t k = 0; k < s->n_jobs; k++) {
        const orl_bench_learner *L = &s->learners[s->jobs[k].learner];
        const orl_bench_dataset *D = &s->datasets[s->jobs[k].dataset];
        if (strcmp(L->algo, "td3bc") == 0) cr_assert_eq(D->action_kind, ORL_ACTION_KIND_CONTINUOUS);
        int64_t steps, every;
        orl_bench_job_budget(s, k, &steps, &every);
        if (strcmp(L->algo, "morel") == 0) {
            cr_assert_str_eq(s->families[D->family].name, "pendulum");
            cr_assert_eq(steps, 30);
            cr_assert_eq(every, 10);
        } else {
            cr_assert_eq(steps, s->families[D->family].steps);
            cr_assert_eq(every, s->families[D->family].eval_every);
        }
    }
    orl_bench_suite_free(s);
}

Test(bench_suite, json_round_trip) {
    orl_bench_suite *s = NULL, *t = NULL;
    cr_assert_eq(orl_bench_suite_load("classic", &s), ORL_OK);
    char *a = orl_bench_suite_json(s);
    cr_assert_eq(orl_bench_suite_parse(a, NULL, &t), ORL_OK, "%s", orl_error_message());
    char *b = orl_bench_suite_json(t);
    cr_assert_str_eq(a, b);
    cr_assert_eq(t->n_jobs, s->n_jobs);
    cr_assert_eq(memcmp(t->jobs, s->jobs, (size_t)s->n_jobs * sizeof s->jobs[0]), 0);
    free(a);
    free(b);
    orl_bench_suite_free(s);
    orl_bench_suite_free(t);
}

#define MINI(extra_dataset, extra_learner, extra_root)                                             \
    "{\"name\": \"t\", " extra_root "\"families\": {\"f\": {\"steps\": 10}}, \"datasets\": "       \
    "[{\"env\": \"CartPole-v1\", \"behavior\": \"random\", \"family\": \"f\"" extra_dataset "}], " \
    "\"learners\": [{\"algo\": \"bc\"" extra_learner "}]}"

typedef struct bad_suite {
    const char *json, *expect;
} bad_suite;

Test(bench_suite, bad_suites_name_the_key) {
    static const bad_suite bad[] = {
        {MINI("", "", "\"seed\": 3, "), "unknown key 'seed'"},
        {MINI(", \"episodes\": 0", "", ""), "'episodes'"},
        {MINI(", \"family\": \"g\"", "", ""), "duplicate"},
        {MINI("", ", \"algo\": \"nope\"", ""), "duplicate"},
        {MINI("", ", \"set\": [\"hidden\"]", ""), "key=value"},
        {MINI("", ", \"actions\": \"both\"", ""), "'actions'"},
        {MINI("", ", \"actions\": \"continuous\"", ""), "no learner fits"},
        {MINI("", ", \"families\": [\"g\"]", ""), "unknown family 'g'"},
        {MINI("", ", \"families\": \"f\"", ""), "'families'"},
        {MINI("", ", \"eval_every\": 5", ""), "needs the learner's own 'steps'"},
        {MINI("", ", \"steps\": 1000, \"eval_every\": 1", ""), "at most 256"},
        {MINI("", "", "\"seeds\": 0, "), "'seeds'"},
        {"{\"name\": \"t\", \"families\": {\"f\": {}}, \"datasets\": [{\"env\": \"Nope-v0\", "
         "\"behavior\": \"random\", \"family\": \"f\"}], \"learners\": [{\"algo\": \"bc\"}]}",
         "unknown environment 'Nope-v0'"},
        {"{\"name\": \"t\", \"families\": {\"f\": {}}, \"datasets\": [{\"env\": \"CartPole-v1\", "
         "\"behavior\": \"random\", \"family\": \"g\"}], \"learners\": [{\"algo\": \"bc\"}]}",
         "unknown family 'g'"},
        {"{\"name\": \"t\", \"families\": {\"f\": {}}, \"datasets\": [{\"env\": \"CartPole-v1\", "
         "\"behavior\": \"random\", \"family\": \"f\"}], \"learners\": [{\"algo\": \"nope\"}]}",
         "unknown learner 'nope'"},
        {"{\"name\": \"t\", \"families\": {\"f\": {\"steps\": 1000, \"eval_every\": 1}}, "
         "\"datasets\": [{\"env\": \"CartPole-v1\", \"behavior\": \"random\", \"family\": \"f\"}], "
         "\"learners\": [{\"algo\": \"bc\"}]}",
         "at most 256"},
        {"{\"name\": ", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        orl_bench_suite *s = NULL;
        orl_status st = orl_bench_suite_parse(bad[i].json, NULL, &s);
        cr_assert_eq(st, ORL_ERR_INPUT, "case %zu: %s", i, bad[i].json);
        cr_assert_null(s);
        cr_assert(strstr(orl_error_message(), bad[i].expect), "case %zu: '%s' lacks '%s'", i,
                  orl_error_message(), bad[i].expect);
    }
    orl_bench_suite *s = NULL;
    cr_assert_eq(orl_bench_suite_load("no-such-suite", &s), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "smoke"), "names the built-in suites");
}

Test(bench_suite, dataset_files_are_named_by_the_recipe) {
    orl_bench_suite *s = NULL;
    cr_assert_eq(orl_bench_suite_parse(MINI("", "", "\"cache\": \"/c\", "), NULL, &s), ORL_OK, "%s",
                 orl_error_message());
    char a[1024], b[1024];
    orl_bench_dataset_file(s, 0, a, sizeof a);
    cr_assert(strncmp(a, "/c/CartPole-v1-random-100-0-", 28) == 0, "%s", a);
    s->datasets[0].seed = 1;
    orl_bench_dataset_file(s, 0, b, sizeof b);
    cr_assert(strcmp(a, b) != 0 && strncmp(b, "/c/CartPole-v1-random-100-1-", 28) == 0);
    /* the hash differs when only the seed differs (the name's hash part too) */
    cr_assert(strcmp(a + strlen(a) - 19, b + strlen(b) - 19) != 0);
    orl_bench_suite_free(s);
}

Test(bench_suite, a_runs_settings) {
    const char *fam[2] = {"n_samples=4", "target_update=1000"};
    const char *own[1] = {"lr=1e-3"};
    char buf[24][ORL_BENCH_SET_LEN];
    const char *out[24];
    /* bc: its width and depth keys, no n_samples or target_update, then its own */
    int32_t n = orl_bench_train_sets("bc", 64, 2, fam, 2, own, 1, buf, 24, out);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(out[0], "hidden=64");
    cr_assert_str_eq(out[1], "layers=2");
    cr_assert_str_eq(out[2], "lr=1e-3");
    /* cql has n_samples */
    n = orl_bench_train_sets("cql", 64, 2, fam, 2, NULL, 0, buf, 24, out);
    int found = 0;
    for (int32_t i = 0; i < n; i++) found |= strcmp(out[i], "n_samples=4") == 0;
    cr_assert(found);
    cr_assert_eq(orl_bench_train_sets("nope", 64, 2, fam, 2, NULL, 0, buf, 24, out), 0);
}

Test(bench_suite, the_run_list_text_and_the_engine_names) {
    orl_bench_suite *s = NULL;
    cr_assert_eq(orl_bench_suite_load("smoke", &s), ORL_OK);
    char *text = orl_bench_suite_text(s);
    cr_assert(text);
    /* one line per job after the header, each starting with its index */
    cr_assert(strstr(text, "suite smoke: "));
    int64_t lines = 0;
    for (const char *p = strstr(text, "\n   job "); p && (p = strchr(p + 1, '\n'));) lines++;
    cr_assert_eq(lines - 1, s->n_jobs, "%lld job lines for %lld jobs", (long long)(lines - 1),
                 (long long)s->n_jobs);
    char last[32];
    snprintf(last, sizeof last, "\n%6lld  ", (long long)(s->n_jobs - 1));
    cr_assert(strstr(text, last));
    free(text);
    orl_bench_suite_free(s);
    char *list = NULL;
    cr_assert_eq(orl_bench_suites_text(&list), ORL_OK);
    cr_assert(strstr(list, "smoke") && strstr(list, "classic"));
    free(list);
    orl_bench_engine e;
    cr_assert_eq(orl_bench_engine_parse("parallel", &e), ORL_OK);
    cr_assert_eq(e, ORL_BENCH_ENGINE_PARALLEL);
    cr_assert_eq(orl_bench_engine_parse("mpi", &e), ORL_OK);
    cr_assert_eq(e, ORL_BENCH_ENGINE_MPI);
    cr_assert_eq(orl_bench_engine_parse("pbs", &e), ORL_ERR_INPUT);
    cr_assert_eq(orl_bench_engine_parse(NULL, &e), ORL_ERR_INPUT);
    orl_error_clear();
}
