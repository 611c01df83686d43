/* orl bench through the built program: kill -9 of a whole run half-way and a rerun that runs
 * only the missing jobs and reports the same bytes as an uninterrupted run; GNU parallel and
 * mpirun running the jobs for real (when installed); the Slurm script's command line with the
 * array variable set; compare's exit status; the report without gnuplot; the catalog.
 * Suites here are tiny (seconds); every test has its own directories. */
#define _DEFAULT_SOURCE
#include "tests/shell.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TDIR ORL_BINARY_DIR "/tmp-bench-cli"
#define ORL  ORL_BINARY_DIR "/orl"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* result files in dir/jobs */
static int count_results(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/jobs", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strstr(e->d_name, ".json")) n++;
    closedir(d);
    return n;
}

static int have_program(const char *name) {
    return run("command -v %s >/dev/null 2>&1", name) == 0;
}

static void setup(void) {
    mkdir(TDIR, 0755);
    /* the dataset cache of these tests, apart from the user's */
    setenv("ORL_BENCH_CACHE", TDIR "/cache", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
}

TestSuite(bench_cli, .init = setup, .timeout = 300);

/* 8 jobs of a few tenths of a second (long enough to kill the run between them) */
static const char kill_suite[] =
    "{\"name\": \"killtest\", \"seeds\": 8, \"eval_episodes\": 2, \"final_episodes\": 2,"
    " \"families\": {\"c\": {\"hidden\": 32, \"layers\": 2, \"steps\": 1500, \"eval_every\": 500}},"
    " \"datasets\": [{\"env\": \"Pendulum-v1\", \"behavior\": \"medium-replay\", \"episodes\": 10,"
    "  \"family\": \"c\"}],"
    " \"learners\": [{\"algo\": \"bc\"}]}";

/* 6 jobs of a few hundredths of a second: the engines */
static const char tiny_suite[] =
    "{\"name\": \"tiny\", \"seeds\": 3, \"eval_episodes\": 1, \"final_episodes\": 2,"
    " \"families\": {\"d\": {\"hidden\": 8, \"layers\": 1, \"steps\": 50, \"eval_every\": 25,"
    "  \"eval\": \"sample\"}},"
    " \"datasets\": [{\"env\": \"CartPole-v1\", \"behavior\": \"random\", \"episodes\": 5,"
    "  \"family\": \"d\"}],"
    " \"learners\": [{\"algo\": \"bc\"}, {\"algo\": \"fbc\"}]}";

Test(bench_cli, kill_9_half_way_then_rerun_gives_the_same_report) {
    const char *suite = TDIR "/kill.json", *a = TDIR "/kill-a", *b = TDIR "/kill-b";
    write_text(suite, kill_suite);
    run("rm -rf %s %s", a, b);
    /* the uninterrupted run */
    cr_assert_eq(run("%s bench run %s -o %s -j 2 --no-report >/dev/null", ORL, suite, a), 0);
    cr_assert_eq(count_results(a), 8);

    /* the same suite in its own process group, killed (SIGKILL, every process) half-way */
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(ORL, "orl", "bench", "run", suite, "-o", b, "-j", "2", "--no-report", (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    struct timespec pause = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 12000 && count_results(b) < 3; i++) nanosleep(&pause, NULL);
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int before = count_results(b);
    printf("killed with %d of 8 results\n", before);
    cr_assert(before >= 3 && before < 8, "killed with %d results", before);

    /* the rerun runs exactly the missing jobs */
    char out[1024];
    snprintf(out, sizeof out, "%s/rerun.txt", TDIR);
    cr_assert_eq(run("%s bench run %s -o %s -j 2 --no-report >%s", ORL, suite, b, out), 0);
    char *text = slurp(out);
    char want[128];
    snprintf(want, sizeof want, "8 jobs: %d already done, %d run, 0 failed", before, 8 - before);
    cr_assert(strstr(text, want), "'%s' lacks '%s'", text, want);
    free(text);
    cr_assert_eq(count_results(b), 8);

    /* the reports, without the measured times, are the same bytes */
    cr_assert_eq(run("%s bench report %s --no-times --no-plots >/dev/null", ORL, a), 0);
    cr_assert_eq(run("%s bench report %s --no-times --no-plots >/dev/null", ORL, b), 0);
    cr_assert_eq(run("cmp -s %s/report.md %s/report.md", a, b), 0, "report.md differs");
    cr_assert_eq(run("cmp -s %s/report.json %s/report.json", a, b), 0, "report.json differs");
    /* and a second report of the same results is the same bytes again (seeded bootstrap) */
    cr_assert_eq(run("cp %s/report.json %s/first.json && %s bench report %s --no-times "
                     "--no-plots >/dev/null && cmp -s %s/report.json %s/first.json",
                     a, TDIR, ORL, a, a, TDIR),
                 0);

    /* the catalog holds every run once, after two merges */
    if (have_program("sqlite3")) {
        snprintf(out, sizeof out, "%s/count.txt", TDIR);
        cr_assert_eq(run("sqlite3 %s/results.sqlite 'SELECT count(*), count(DISTINCT job) FROM "
                         "bench_runs; PRAGMA journal_mode;' >%s",
                         a, out),
                     0);
        text = slurp(out);
        cr_assert(strstr(text, "8|8") && strstr(text, "wal"), "%s", text);
        free(text);
    }
}

/* a benchmark directory of the tiny suite (its own suite file: tests run in parallel) with
 * its datasets made and no results */
static void prepare(const char *dir) {
    char suite[1024];
    snprintf(suite, sizeof suite, "%s.json", dir);
    write_text(suite, tiny_suite);
    run("rm -rf %s", dir);
    cr_assert_eq(run("%s bench run %s -o %s --prepare >/dev/null", ORL, suite, dir), 0);
    cr_assert_eq(count_results(dir), 0);
}

Test(bench_cli, gnu_parallel_runs_the_jobs) {
    if (!have_program("parallel")) {
        printf("GNU parallel is not installed: skipped\n");
        return;
    }
    const char *dir = TDIR "/par";
    prepare(dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/parallel.sh", TDIR);
    cr_assert_eq(run("%s bench jobs %s --emit parallel -j 2 -o %s", ORL, dir, cmd), 0);
    char *text = slurp(cmd);
    cr_assert(strstr(text, "seq 0 5 | ") && strstr(text, "parallel -j 2"), "%s", text);
    free(text);
    cr_assert_eq(run("sh %s >/dev/null 2>&1", cmd), 0);
    cr_assert_eq(count_results(dir), 6);
    /* again: every job finds its result and returns at once */
    cr_assert_eq(run("sh %s >/dev/null 2>&1", cmd), 0);
    cr_assert_eq(run("%s bench report %s --no-plots >/dev/null", ORL, dir), 0);
}

Test(bench_cli, mpirun_ranks_share_the_jobs) {
    if (!have_program("mpirun")) {
        printf("mpirun is not installed: skipped\n");
        return;
    }
    const char *dir = TDIR "/mpi";
    prepare(dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/mpi.sh", TDIR);
    cr_assert_eq(run("%s bench jobs %s --emit mpi -j 2 -o %s", ORL, dir, cmd), 0);
    char *text = slurp(cmd);
    cr_assert(strstr(text, "mpirun -n 2") && strstr(text, "--mpi"), "%s", text);
    free(text);
    /* Open MPI wants to be told to run as root, and to start 2 ranks on a machine that may
     * have fewer cores (MPICH's mpirun knows neither flag and needs neither) */
    if (run("mpirun --version 2>&1 | grep -q 'Open MPI'") == 0)
        cr_assert_eq(run("sed -i 's/mpirun /mpirun --allow-run-as-root --oversubscribe /' %s", cmd),
                     0);
    char log[1024];
    snprintf(log, sizeof log, "%s/mpi.log", TDIR);
    cr_assert_eq(run("sh %s >%s 2>&1", cmd, log), 0, "%s", slurp(log));
    cr_assert_eq(count_results(dir), 6);
    /* rank 1 of 2 ran jobs 1, 3, 5: its log says nothing, but the mode itself is checked
     * without mpirun: rank 0 of 3 runs jobs 0 and 3 only */
    run("rm -f %s/jobs/*.json", dir);
    cr_assert_eq(run("OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=3 %s bench run-job %s --mpi "
                     ">/dev/null",
                     ORL, dir),
                 0);
    cr_assert_eq(count_results(dir), 2);
    char path[1024];
    snprintf(path, sizeof path, "%s/jobs/3.json", dir);
    cr_assert_eq(access(path, F_OK), 0);
    cr_assert_eq(run("PMI_RANK=1 PMI_SIZE=3 %s bench run-job %s --mpi >/dev/null", ORL, dir), 0);
    cr_assert_eq(count_results(dir), 4);
    /* no rank in the environment: bad input */
    cr_assert_eq(run("env -u OMPI_COMM_WORLD_RANK -u PMI_RANK %s bench run-job %s --mpi "
                     "2>/dev/null",
                     ORL, dir),
                 2);
}

Test(bench_cli, slurm_script_runs_with_the_array_variable) {
    const char *dir = TDIR "/slurm";
    prepare(dir);
    char script[1024];
    snprintf(script, sizeof script, "%s/slurm.sh", TDIR);
    cr_assert_eq(run("%s bench jobs %s --emit slurm -o %s", ORL, dir, script), 0);
    char *text = slurp(script);
    cr_assert(strstr(text, "#SBATCH --array=0-5\n"), "%s", text);
    cr_assert(strstr(text, "$SLURM_ARRAY_TASK_ID"), "%s", text);
    free(text);
    /* each array task as Slurm would start it */
    for (int k = 0; k < 6; k++)
        cr_assert_eq(run("SLURM_ARRAY_TASK_ID=%d bash %s >/dev/null", k, script), 0, "task %d", k);
    cr_assert_eq(count_results(dir), 6);
    /* a task out of range fails */
    cr_assert_neq(run("SLURM_ARRAY_TASK_ID=6 bash %s >/dev/null 2>&1", script), 0);
}

Test(bench_cli, compare_flags_a_regression) {
    const char *suite = TDIR "/cmp.json", *a = TDIR "/cmp-a", *b = TDIR "/cmp-b";
    write_text(suite, tiny_suite);
    run("rm -rf %s %s", a, b);
    cr_assert_eq(run("%s bench run %s -o %s --no-report >/dev/null", ORL, suite, a), 0);
    cr_assert_eq(run("cp -r %s %s", a, b), 0);
    /* the same results: no regression */
    cr_assert_eq(run("%s bench compare %s %s >%s/cmp.txt", ORL, a, b, TDIR), 0);
    char *text = slurp(TDIR "/cmp.txt");
    cr_assert(strstr(text, "0 regressions"), "%s", text);
    free(text);
    /* fbc's final scores far lower in B (the catalog row is replaced on the next merge) */
    for (int k = 3; k < 6; k++)
        cr_assert_eq(run("sed -E -i 's/\"score\": -?[0-9][0-9.e+-]*/\"score\": -500.0/' "
                         "%s/jobs/%d.json",
                         b, k),
                     0);
    cr_assert_eq(run("%s bench compare %s %s >%s/cmp.txt", ORL, a, b, TDIR), 1);
    text = slurp(TDIR "/cmp.txt");
    cr_assert(strstr(text, "| fbc |") && strstr(text, "**worse**") && strstr(text, "1 regression."),
              "%s", text);
    free(text);
    /* the other way round fbc got better: exit 0 */
    cr_assert_eq(run("%s bench compare %s %s >%s/cmp.txt", ORL, b, a, TDIR), 0);
}

Test(bench_cli, report_without_gnuplot_and_with_it) {
    const char *suite = TDIR "/plots.json", *dir = TDIR "/plots";
    write_text(suite, tiny_suite);
    run("rm -rf %s", dir);
    cr_assert_eq(run("%s bench run %s -o %s --no-report >/dev/null", ORL, suite, dir), 0);
    cr_assert_eq(run("PATH=/nonexistent %s bench report %s >%s/noplot.txt", ORL, dir, TDIR), 0);
    char *text = slurp(TDIR "/noplot.txt");
    cr_assert(strstr(text, "gnuplot is not on PATH"), "%s", text);
    free(text);
    char path[1024];
    snprintf(path, sizeof path, "%s/plots", dir);
    cr_assert_neq(access(path, F_OK), 0, "no plots directory without gnuplot");
    text = slurp(TDIR "/plots/report.md");
    cr_assert(strstr(text, "## Aggregate") && strstr(text, "Probability of improvement") &&
                  strstr(text, "| CartPole-v1/random |"),
              "%s", text);
    free(text);
    if (!have_program("gnuplot")) return;
    cr_assert_eq(run("%s bench report %s >/dev/null", ORL, dir), 0);
    static const char *const pictures[] = {"aggregate.png",
                                           "aggregate.svg",
                                           "profiles.png",
                                           "profiles.svg",
                                           "curves-CartPole-v1_random.png",
                                           "curves-CartPole-v1_random.svg"};
    for (size_t i = 0; i < sizeof pictures / sizeof pictures[0]; i++) {
        snprintf(path, sizeof path, "%s/plots/%s", dir, pictures[i]);
        struct stat st;
        cr_assert(stat(path, &st) == 0 && st.st_size > 1000, "%s", path);
    }
}

Test(bench_cli, verbs_and_bad_input) {
    cr_assert_eq(run("%s bench suites >%s/suites.txt", ORL, TDIR), 0);
    char *text = slurp(TDIR "/suites.txt");
    cr_assert(strstr(text, "smoke") && strstr(text, "classic"), "%s", text);
    free(text);
    cr_assert_eq(run("%s bench show smoke >%s/show.txt", ORL, TDIR), 0);
    text = slurp(TDIR "/show.txt");
    cr_assert(strstr(text, "    11  CartPole-v1/random"), "%s", text);
    free(text);
    cr_assert_eq(run("%s bench show no-such-suite 2>/dev/null", ORL), 2);
    cr_assert_eq(run("%s bench run smoke 2>/dev/null", ORL), 2);
    cr_assert_eq(run("%s bench run smoke -o %s/x -j 0 2>/dev/null", ORL, TDIR), 2);
    cr_assert_eq(run("%s bench run-job %s/nowhere --index 0 2>/dev/null", ORL, TDIR), 2);
    cr_assert_eq(run("%s bench report %s/nowhere 2>/dev/null", ORL, TDIR), 2);
    cr_assert_eq(run("%s bench jobs %s/nowhere --emit pbs 2>/dev/null", ORL, TDIR), 2);
    cr_assert_eq(run("%s bench --help >/dev/null", ORL), 0);
    /* a directory holding another suite is refused */
    write_text(TDIR "/other.json", tiny_suite);
    run("rm -rf %s/other", TDIR);
    cr_assert_eq(
        run("%s bench run %s/other.json -o %s/other --no-report >/dev/null", ORL, TDIR, TDIR), 0);
    cr_assert_eq(run("%s bench run smoke -o %s/other 2>%s/other.txt", ORL, TDIR, TDIR), 2);
    text = slurp(TDIR "/other.txt");
    cr_assert(strstr(text, "another suite"), "%s", text);
    free(text);
    /* run-job of an index out of range */
    cr_assert_eq(run("%s bench run-job %s/other --index 6 2>/dev/null", ORL, TDIR), 2);
}

Test(bench_cli, smoke_suite_end_to_end) {
    const char *dir = TDIR "/smoke";
    run("rm -rf %s", dir);
    cr_assert_eq(run("%s bench run smoke -o %s -j 2 >%s/smoke.txt", ORL, dir, TDIR), 0);
    char *text = slurp(TDIR "/smoke.txt");
    cr_assert(strstr(text, "12 jobs: 0 already done, 12 run, 0 failed"), "%s", text);
    free(text);
    text = slurp(TDIR "/smoke/jobs/0.json");
    static const char *const keys[] = {"\"score\"",        "\"curve\"",     "\"train_seconds\"",
                                       "\"peak_rss_kb\"",  "\"versions\"",  "\"hyperparameters\"",
                                       "\"dataset_hash\"", "\"hidden\": 16"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(strstr(text, keys[i]), "result lacks %s", keys[i]);
    free(text);
    /* a rerun has nothing to do */
    cr_assert_eq(run("%s bench run smoke -o %s >%s/smoke.txt", ORL, dir, TDIR), 0);
    text = slurp(TDIR "/smoke.txt");
    cr_assert(strstr(text, "12 jobs: 12 already done, 0 run, 0 failed"), "%s", text);
    free(text);
}

/* kill -9 of the reporter at different moments: the catalog is whole (integrity check) and
 * holds all of a merge or none of it, never part */
Test(bench_cli, catalog_survives_kill_9_of_the_reporter) {
    if (!have_program("sqlite3")) {
        printf("sqlite3 (the shell) is not installed: skipped\n");
        return;
    }
    const char *suite = TDIR "/cat.json", *dir = TDIR "/cat";
    write_text(suite, tiny_suite);
    run("rm -rf %s", dir);
    cr_assert_eq(run("%s bench run %s -o %s --no-report >/dev/null", ORL, suite, dir), 0);
    char out[1024];
    snprintf(out, sizeof out, "%s/cat.txt", TDIR);
    int partial = 0, whole = 0, none = 0;
    for (int i = 0; i < 12; i++) {
        run("rm -f %s/results.sqlite %s/results.sqlite-wal %s/results.sqlite-shm", dir, dir, dir);
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execl(ORL, "orl", "bench", "report", dir, "--no-plots", (char *)NULL);
            _exit(127);
        }
        struct timespec pause = {0,
                                 (long)i * 12 * 1000 * 1000}; /* 0 to 132 ms: a report takes ~150 */
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cr_assert_eq(run("sqlite3 %s/results.sqlite 'PRAGMA integrity_check; SELECT count(*) FROM "
                         "sqlite_master WHERE name = \"bench_runs\";' >%s 2>&1",
                         dir, out),
                     0);
        char *text = slurp(out);
        cr_assert(strncmp(text, "ok\n", 3) == 0, "attempt %d: %s", i, text);
        int has_table = strstr(text, "ok\n1") != NULL;
        free(text);
        int rows = 0;
        if (has_table) {
            cr_assert_eq(
                run("sqlite3 %s/results.sqlite 'SELECT count(*) FROM bench_runs' >%s", dir, out),
                0);
            text = slurp(out);
            rows = atoi(text);
            free(text);
        }
        if (rows == 6)
            whole++;
        else if (rows == 0)
            none++;
        else
            partial++;
    }
    printf("reporter killed 12 times: %d catalogs whole, %d empty, %d partial\n", whole, none,
           partial);
    cr_assert_eq(partial, 0);
    /* and a report afterwards merges everything */
    cr_assert_eq(run("%s bench report %s --no-plots >/dev/null", ORL, dir), 0);
}

/* a failing job (a learner setting its table refuses) leaves no result and a log naming the
 * cause; the run exits 1; the other jobs' results stay; a dataset given as a file is found
 * beside the suite file */
Test(bench_cli, failed_jobs_and_file_datasets) {
    const char *dir = TDIR "/fail";
    run("rm -rf %s %s-data", dir, dir);
    mkdir(TDIR "/fail-data", 0755);
    cr_assert_eq(run("%s gen --env CartPole-v1 --behavior random --episodes 5 --seed 3 -o "
                     "%s-data/cp.h5 >/dev/null",
                     ORL, dir),
                 0);
    write_text(
        TDIR "/fail-data/suite.json",
        "{\"name\": \"fail\", \"seeds\": 2, \"eval_episodes\": 1, \"final_episodes\": 1,"
        " \"families\": {\"d\": {\"hidden\": 8, \"layers\": 1, \"steps\": 20}},"
        " \"datasets\": [{\"path\": \"cp.h5\", \"env\": \"CartPole-v1\", \"family\": \"d\"}],"
        " \"learners\": [{\"algo\": \"bc\"}, {\"algo\": \"bc\", \"name\": \"bad\","
        "  \"set\": [\"lr=abc\"]}]}");
    char out[1024];
    snprintf(out, sizeof out, "%s/fail.txt", TDIR);
    cr_assert_eq(run("cd / && %s bench run %s/fail-data/suite.json -o %s -j 2 >%s 2>&1", ORL, TDIR,
                     dir, out),
                 1);
    char *text = slurp(out);
    cr_assert(strstr(text, "4 jobs: 0 already done, 2 run, 2 failed"), "%s", text);
    free(text);
    cr_assert_eq(count_results(dir), 2);
    char log[1024];
    snprintf(log, sizeof log, "%s/logs/2.log", dir);
    text = slurp(log);
    cr_assert(text && strstr(text, "lr"), "%s", text ? text : "(no log)");
    free(text);
    /* the report covers the jobs that ran and counts the missing ones */
    cr_assert_eq(run("%s bench report %s --no-plots >%s", ORL, dir, out), 0);
    text = slurp(out);
    cr_assert(strstr(text, "2 jobs without a result"), "%s", text);
    free(text);
    /* a rerun retries the failed jobs only */
    cr_assert_eq(
        run("%s bench run %s/fail-data/suite.json -o %s --no-report >%s 2>&1", ORL, TDIR, dir, out),
        1);
    text = slurp(out);
    cr_assert(strstr(text, "4 jobs: 2 already done, 0 run, 2 failed"), "%s", text);
    free(text);
}

/* orl bench and bench/quality train and score the same runs the same way (the same recipe,
 * settings, budget, evaluation episodes, seeds and mode): the same scores, run for run, so the
 * classic suite's figures continue docs/learners.md's table */
Test(bench_cli, same_scores_as_bench_quality) {
    const char *dir = TDIR "/quality";
    run("rm -rf %s", dir);
    mkdir(dir, 0755);
    write_text(TDIR "/quality/suite.json",
               "{\"name\": \"q\", \"seeds\": 2, \"eval_episodes\": 2, \"final_episodes\": 20,"
               " \"families\": {\"d\": {\"hidden\": 64, \"layers\": 2, \"steps\": 60,"
               "  \"eval_every\": 30, \"eval\": \"sample\","
               "  \"set\": [\"n_samples=4\", \"target_update=1000\"]}},"
               " \"datasets\": [{\"env\": \"CartPole-v1\", \"behavior\": \"random\","
               "  \"episodes\": 200, \"family\": \"d\"}],"
               " \"learners\": [{\"algo\": \"bc\"}, {\"algo\": \"cql\"}]}");
    cr_assert_eq(run("cd %s && %s bench run suite.json -o out -j 2 --no-report >/dev/null && "
                     "%s/bench/quality --steps 60 --seeds 2 --env CartPole-v1 --behavior random "
                     "--algos bc,cql >quality.jsonl",
                     dir, ORL, ORL_BINARY_DIR),
                 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/quality.jsonl", dir);
    char *q = slurp(path);
    cr_assert_not_null(q);
    /* job k is (bc, seed 0), (bc, 1), (cql, 0), (cql, 1) */
    static const char *const algos[4] = {"bc", "bc", "cql", "cql"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/out/jobs/%d.json", dir, k);
        char *r = slurp(path);
        cr_assert_not_null(r, "%s", path);
        double score = atof(strstr(r, "\"score\": ") + 9);
        free(r);
        char want[256];
        snprintf(want, sizeof want,
                 "\"algo\":\"%s\",\"dataset_index\":5,\"algo_index\":%d,\"seed\":%d", algos[k],
                 k / 2, k % 2);
        const char *line = strstr(q, want);
        cr_assert_not_null(line, "no quality run %s in\n%s", want, q);
        double theirs = atof(strstr(line, "\"score\":") + 8);
        printf("%s seed %d: orl bench %.3f, bench/quality %.3f\n", algos[k], k % 2, score, theirs);
        /* bench/quality prints 3 decimals */
        cr_assert(fabs(score - theirs) <= 0.0005 + 1e-9, "job %d: %.6f vs %.3f", k, score, theirs);
    }
    free(q);
}

/* scripts/ci-bench-compare.sh: the same program on both sides passes, with the table written */
Test(bench_cli, ci_compare_script) {
    const char *dir = TDIR "/ci";
    run("rm -rf %s", dir);
    mkdir(dir, 0755);
    write_text(TDIR "/ci/suite.json", tiny_suite);
    cr_assert_eq(run("cd %s && ORL=%s SUITE=suite.json REPORT=summary.md bash %s/scripts/"
                     "ci-bench-compare.sh >/dev/null",
                     dir, ORL, ORL_SOURCE_DIR),
                 0);
    char *text = slurp(TDIR "/ci/summary.md");
    cr_assert(text && strstr(text, "| bc |") && strstr(text, "0 regressions."), "%s",
              text ? text : "(none)");
    free(text);
}

/* the dataset hash is the data's: the same recipe generated into two caches (HDF5 files that
 * differ in their object times) gives the same hash; the result names it */
Test(bench_cli, dataset_hash_is_the_contents) {
    const char *dir = TDIR "/hash";
    run("rm -rf %s", dir);
    mkdir(dir, 0755);
    write_text(TDIR "/hash/suite.json", tiny_suite);
    cr_assert_eq(run("cd %s && ORL_BENCH_CACHE=c1 %s bench run suite.json -o a --no-report "
                     ">/dev/null && sleep 1.1 && ORL_BENCH_CACHE=c2 %s bench run suite.json -o b "
                     "--no-report >/dev/null",
                     dir, ORL, ORL),
                 0);
    char *a = slurp(TDIR "/hash/a/jobs/0.json"), *b = slurp(TDIR "/hash/b/jobs/0.json");
    cr_assert(a && b);
    const char *ha = strstr(a, "\"dataset_hash\": \""), *hb = strstr(b, "\"dataset_hash\": \"");
    cr_assert(ha && hb);
    cr_assert_eq(strncmp(ha, hb, 18 + 16), 0, "%.40s vs %.40s", ha, hb);
    free(a);
    free(b);
}
