/* orl bench: the shared benchmark. Subcommands suites, show, run, run-job, report, compare and
 * jobs; each parses its arguments, calls one library function of bench.h and prints. */
#define _DEFAULT_SOURCE /* readlink */
#include "cli/cli.h"
#include "orl/bench.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl bench suites\n"
            "       orl bench show SUITE [--json]\n"
            "       orl bench run SUITE -o DIR [-j N] [--cache DIR] [--no-report | --prepare]\n"
            "       orl bench run-job DIR (--index K | --mpi [--rank R --size S])\n"
            "       orl bench report DIR [--reps N] [--seed S] [--no-times] [--no-plots]\n"
            "       orl bench compare DIR_A DIR_B [--reps N] [--seed S]\n"
            "       orl bench jobs DIR --emit slurm|parallel|mpi [-j N] [-o FILE]\n\n"
            "SUITE is a built-in suite (orl bench suites) or a suite JSON file (docs/bench.md).\n"
            "Every (dataset, learner, seed) is job K of the run list (orl bench show). run\n"
            "writes DIR/suite.json, generates the datasets once into the cache (--cache, else\n"
            "$ORL_BENCH_CACHE, $XDG_CACHE_HOME/orl/bench or ~/.cache/orl/bench), runs every job\n"
            "without a result in N worker processes (default 1) and writes the report; a rerun\n"
            "runs only the missing jobs; --prepare stops after the datasets (for jobs).\n"
            "run-job runs one job (a result already there: nothing to do); with --mpi, the\n"
            "jobs rank, rank + size, ... of an MPI rank\n"
            "(OMPI_COMM_WORLD_RANK/SIZE or PMI_RANK/PMI_SIZE). report merges the results into\n"
            "DIR/results.sqlite and writes DIR/report.md, report.json and plots/ (gnuplot);\n"
            "--no-times leaves out training times and memory (for bit-for-bit comparisons).\n"
            "compare exits 1 when a learner's aggregate IQM in DIR_B is below DIR_A's interval.\n"
            "jobs prints the Slurm array script, GNU parallel or mpirun command line that runs\n"
            "DIR's jobs on that engine. Exit status: 0 ok, 1 failed jobs or a regression, 2 bad\n"
            "input.\n");
}

/* the running program, for the worker processes */
static void self_path(char *out, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
}

/* the integer after the flag argv[*i] (strict, in [lo, hi]); moves *i past it. 1 when bad (the
 * message printed) */
static int int_arg(int argc, char **argv, int *i, int64_t lo, int64_t hi, int64_t *v) {
    int bad = cli_parse_int("bench", argv[*i], *i + 1 < argc ? argv[*i + 1] : NULL, lo, hi, v);
    (*i)++;
    return bad != 0;
}

static int suites(void) {
    char *text = NULL;
    orl_status st = orl_bench_suites_text(&text);
    if (st) return cli_fail("bench", st);
    fputs(text, stdout);
    free(text);
    return CLI_EXIT_OK;
}

static int show(int argc, char **argv) {
    const char *name = NULL;
    int as_json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (argv[i][0] == '-')
            return cli_usage_error("bench", "show: unknown option '%s'", argv[i]);
        else if (!name)
            name = argv[i];
        else
            return cli_usage_error("bench", "show: one SUITE expected");
    }
    if (!name) return cli_usage_error("bench", "show: SUITE missing");
    orl_bench_suite *s = NULL;
    orl_status st = orl_bench_suite_load(name, &s);
    if (st) return cli_fail("bench", st);
    char *text = as_json ? orl_bench_suite_json(s) : orl_bench_suite_text(s);
    orl_bench_suite_free(s);
    if (!text) return cli_fail("bench", orl_error_set(ORL_ERR_NOMEM, "show: out of memory"));
    fputs(text, stdout);
    if (as_json) fputs("\n", stdout);
    free(text);
    return CLI_EXIT_OK;
}

static int report(const char *dir, const orl_bench_report_options *opt) {
    orl_bench_report_summary sum;
    orl_status st = orl_bench_report(dir, opt, &sum);
    if (st) return cli_fail("bench", st);
    printf("report: %s/report.md, %s/report.json (%lld results", dir, dir, (long long)sum.results);
    if (sum.missing) printf(", %lld jobs without a result", (long long)sum.missing);
    printf(")\n");
    if (sum.plotted)
        printf("plots: %s/plots/\n", dir);
    else
        printf("plots: none (%s)\n", sum.note);
    return CLI_EXIT_OK;
}

/* --reps, --seed, --no-times, --no-plots; returns 1 when argv[*i] was one of them, -1 bad */
static int report_option(int argc, char **argv, int *i, orl_bench_report_options *opt) {
    int64_t v;
    if (strcmp(argv[*i], "--reps") == 0) {
        if (int_arg(argc, argv, i, 1, 1000000, &v)) return -1;
        opt->reps = v;
    } else if (strcmp(argv[*i], "--seed") == 0) {
        if (int_arg(argc, argv, i, 0, INT64_MAX, &v)) return -1;
        opt->seed = (uint64_t)v;
    } else if (strcmp(argv[*i], "--no-times") == 0) {
        opt->times = 0;
    } else if (strcmp(argv[*i], "--no-plots") == 0) {
        opt->plots = 0;
    } else {
        return 0;
    }
    return 1;
}

static int run(int argc, char **argv) {
    const char *name = NULL, *dir = NULL, *cache = NULL;
    int64_t workers = 1;
    int do_report = 1, prepare_only = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc) {
            cache = argv[++i];
        } else if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--jobs") == 0) {
            if (int_arg(argc, argv, &i, 1, 1024, &workers)) return CLI_EXIT_BAD_INPUT;
        } else if (strcmp(argv[i], "--no-report") == 0) {
            do_report = 0;
        } else if (strcmp(argv[i], "--prepare") == 0) {
            prepare_only = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("bench", "run: unknown option '%s'", argv[i]);
        } else if (!name) {
            name = argv[i];
        } else {
            return cli_usage_error("bench", "run: one SUITE expected, got '%s' too", argv[i]);
        }
    }
    if (!name) return cli_usage_error("bench", "run: SUITE missing");
    if (!dir) return cli_usage_error("bench", "run: -o DIR missing");
    orl_bench_suite *s = NULL;
    orl_status st = orl_bench_suite_load(name, &s);
    if (st == ORL_OK) st = orl_bench_prepare(s, dir, cache);
    orl_bench_suite_free(s);
    if (st) return cli_fail("bench", st);
    if (prepare_only) {
        printf("%s: suite.json and the datasets are ready (orl bench jobs %s --emit ...)\n", dir,
               dir);
        return CLI_EXIT_OK;
    }
    char program[4096];
    self_path(program, sizeof program);
    orl_progress progress = cli_progress();
    orl_bench_run_summary sum;
    st = orl_bench_run(dir, program, (int32_t)workers, &progress, &sum);
    cli_progress_done();
    if (st) return cli_fail("bench", st);
    printf("%lld jobs: %lld already done, %lld run, %lld failed, %.1f s with %lld workers\n",
           (long long)sum.jobs, (long long)sum.skipped, (long long)sum.done, (long long)sum.failed,
           sum.seconds, (long long)workers);
    if (sum.failed)
        fprintf(stderr, "orl bench: failed jobs: see %s/logs/K.log; rerun to retry\n", dir);
    int rc = do_report ? report(dir, NULL) : CLI_EXIT_OK; /* the default options */
    if (rc) return rc;
    return sum.failed ? CLI_EXIT_CHECK_FAILED : CLI_EXIT_OK;
}

static int run_job(int argc, char **argv) {
    /* a job has nothing to clean up (its result appears whole or not at all): SIGINT and
     * SIGTERM end it at once, so that a stopped `orl bench run` does not wait for it */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    const char *dir = NULL;
    int64_t index = -1, rank = -1, size = 0;
    int mpi = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--index") == 0) {
            if (int_arg(argc, argv, &i, 0, INT64_MAX, &index)) return CLI_EXIT_BAD_INPUT;
        } else if (strcmp(argv[i], "--rank") == 0) {
            if (int_arg(argc, argv, &i, 0, 1000000, &rank)) return CLI_EXIT_BAD_INPUT;
        } else if (strcmp(argv[i], "--size") == 0) {
            if (int_arg(argc, argv, &i, 1, 1000000, &size)) return CLI_EXIT_BAD_INPUT;
        } else if (strcmp(argv[i], "--mpi") == 0) {
            mpi = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("bench", "run-job: unknown option '%s'", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return cli_usage_error("bench", "run-job: one DIR expected");
        }
    }
    if (!dir) return cli_usage_error("bench", "run-job: DIR missing");
    if (mpi == (index >= 0)) return cli_usage_error("bench", "run-job: --index K or --mpi");
    if ((rank >= 0) != (size > 0) || (size > 0 && rank >= size))
        return cli_usage_error("bench", "run-job: --rank R and --size S together, R < S");
    if (mpi) {
        int64_t failed = 0;
        orl_status st = orl_bench_run_rank(dir, (int32_t)rank, (int32_t)size, &failed);
        if (st == ORL_ERR_INPUT) return cli_fail("bench", st);
        if (st) {
            cli_fail("bench", st);
            return CLI_EXIT_CHECK_FAILED;
        }
        return CLI_EXIT_OK;
    }
    int skipped = 0;
    orl_status st = orl_bench_run_job(dir, index, &skipped);
    if (st) return cli_fail("bench", st);
    printf("job %lld: %s\n", (long long)index, skipped ? "result already there" : "done");
    return CLI_EXIT_OK;
}

static int jobs(int argc, char **argv) {
    const char *dir = NULL, *emit = NULL, *out = NULL;
    int64_t workers = 2;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--emit") == 0 && i + 1 < argc) {
            emit = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--jobs") == 0) {
            if (int_arg(argc, argv, &i, 1, 100000, &workers)) return CLI_EXIT_BAD_INPUT;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("bench", "jobs: unknown option '%s'", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return cli_usage_error("bench", "jobs: one DIR expected");
        }
    }
    if (!dir) return cli_usage_error("bench", "jobs: DIR missing");
    orl_bench_engine engine;
    if (orl_bench_engine_parse(emit, &engine))
        return cli_usage_error("bench", "jobs: --emit slurm, parallel or mpi");
    char program[4096];
    self_path(program, sizeof program);
    char *text = NULL;
    orl_status st = orl_bench_emit(dir, program, engine, (int32_t)workers, &text);
    if (st) return cli_fail("bench", st);
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        free(text);
        return cli_usage_error("bench", "jobs: cannot write %s", out);
    }
    fputs(text, f);
    if (out) fclose(f);
    free(text);
    return CLI_EXIT_OK;
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_BAD_INPUT : CLI_EXIT_OK;
    }
    for (int i = 2; i < argc; i++)
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
    const char *sub = argv[1];
    if (strcmp(sub, "suites") == 0) return suites();
    if (strcmp(sub, "show") == 0) return show(argc - 2, argv + 2);
    if (strcmp(sub, "run") == 0) return run(argc - 2, argv + 2);
    if (strcmp(sub, "run-job") == 0) return run_job(argc - 2, argv + 2);
    if (strcmp(sub, "jobs") == 0) return jobs(argc - 2, argv + 2);
    if (strcmp(sub, "report") == 0 || strcmp(sub, "compare") == 0) {
        orl_bench_report_options opt;
        orl_bench_report_options_init(&opt);
        const char *dirs[2] = {NULL, NULL};
        int n_dirs = 0;
        for (int i = 2; i < argc; i++) {
            int r = report_option(argc, argv, &i, &opt);
            if (r < 0) return CLI_EXIT_BAD_INPUT;
            if (r > 0) continue;
            if (argv[i][0] == '-' || n_dirs == 2)
                return cli_usage_error("bench", "%s: unexpected '%s'", sub, argv[i]);
            dirs[n_dirs++] = argv[i];
        }
        if (strcmp(sub, "report") == 0) {
            if (n_dirs != 1) return cli_usage_error("bench", "report: one DIR expected");
            return report(dirs[0], &opt);
        }
        if (n_dirs != 2) return cli_usage_error("bench", "compare: DIR_A DIR_B expected");
        char *text = NULL;
        int32_t regressions = 0;
        orl_status st = orl_bench_compare(dirs[0], dirs[1], &opt, &text, &regressions);
        if (st) return cli_fail("bench", st);
        fputs(text, stdout);
        free(text);
        return regressions ? CLI_EXIT_CHECK_FAILED : CLI_EXIT_OK;
    }
    return cli_usage_error("bench", "unknown subcommand '%s' (orl bench --help)", sub);
}
