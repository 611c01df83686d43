/* Benchmark jobs: preparing a benchmark directory, running one job (train, learning curve,
 * final score, result file written atomically), running the jobs of one MPI rank, running
 * every missing job in worker processes, and the command lines of cluster engines.
 *
 * A job's result file is its completion mark: it is written to a temporary name and renamed,
 * so a killed job leaves none and is simply run again. Nothing here prints; a worker's output
 * goes to DIR/logs/K.log. */
#define _DEFAULT_SOURCE /* realpath */
#include "orl/bench.h"
#include "orl/dataset.h"
#include "orl/eval.h"
#include "orl/fs.h"
#include "orl/train.h"
#include "core/json_util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ORL_VERSION
#define ORL_VERSION "unknown"
#endif

#define MAX_CURVE 256 /* learning-curve points per run */

extern char **environ;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- files of a benchmark directory ---- */

static void job_path(const char *dir, int64_t k, char *path, size_t cap) {
    snprintf(path, cap, "%s/jobs/%lld.json", dir, (long long)k);
}

static orl_status make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        ORL_FAIL(ORL_ERR_IO, "%s: cannot make the directory: %s", path, strerror(errno));
    return ORL_OK;
}

/* writes text to path through a temporary name */
static orl_status write_atomic(const char *path, const char *text) {
    char tmp[1024];
    ORL_TRY(orl_fs_temp_name(path, tmp, sizeof tmp));
    FILE *f = fopen(tmp, "wb");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad) {
        remove(tmp);
        ORL_FAIL(ORL_ERR_IO, "%s: write failed", tmp);
    }
    return orl_fs_commit(tmp, path);
}

/* the whole file in a malloc'd string (NULL with a message when it cannot be read) */
static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        orl_error_set(ORL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
    }
    fclose(f);
    if (!text) {
        orl_error_set(ORL_ERR_IO, "%s: cannot read", path);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

static void default_cache(char *out, size_t cap) {
    const char *env = getenv("ORL_BENCH_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (env && env[0])
        snprintf(out, cap, "%s", env);
    else if (xdg && xdg[0])
        snprintf(out, cap, "%s/orl/bench", xdg);
    else
        snprintf(out, cap, "%s/.cache/orl/bench", home && home[0] ? home : "/tmp");
}

orl_status orl_bench_prepare(const orl_bench_suite *s, const char *dir, const char *cache) {
    orl_bench_suite *copy = malloc(sizeof *copy);
    if (!copy) ORL_FAIL(ORL_ERR_NOMEM, "bench: out of memory");
    memcpy(copy, s, sizeof *copy);
    if (cache && cache[0])
        snprintf(copy->cache, sizeof copy->cache, "%s", cache);
    else if (!copy->cache[0])
        default_cache(copy->cache, sizeof copy->cache);
    /* an absolute cache, so that jobs started elsewhere (a cluster node's directory) find it */
    char resolved[4096];
    orl_status st = ORL_OK;
    if (copy->cache[0] != '/' && getcwd(resolved, sizeof resolved)) {
        char joined[512];
        snprintf(joined, sizeof joined, "%.200s/%.300s", resolved, copy->cache);
        snprintf(copy->cache, sizeof copy->cache, "%s", joined);
    }
    char path[1024], sub[1024];
    char *text = st == ORL_OK ? orl_bench_suite_json(copy) : NULL;
    if (st == ORL_OK && !text) st = orl_error_set(ORL_ERR_NOMEM, "bench: out of memory");
    if (st == ORL_OK) st = make_dir(dir);
    snprintf(sub, sizeof sub, "%s/jobs", dir);
    if (st == ORL_OK) st = make_dir(sub);
    snprintf(sub, sizeof sub, "%s/logs", dir);
    if (st == ORL_OK) st = make_dir(sub);
    snprintf(path, sizeof path, "%s/suite.json", dir);
    if (st == ORL_OK && orl_fs_exists(path)) {
        /* a rerun: the directory must hold this very suite; its datasets stay where the
         * first run put them (the stored cache wins over this call's) */
        orl_bench_suite *old = NULL;
        st = orl_bench_open(dir, &old);
        if (st == ORL_OK) {
            memcpy(copy->cache, old->cache, sizeof copy->cache);
            free(text);
            text = orl_bench_suite_json(copy);
            char *stored = orl_bench_suite_json(old);
            if (!text || !stored)
                st = orl_error_set(ORL_ERR_NOMEM, "bench: out of memory");
            else if (strcmp(stored, text) != 0)
                st = orl_error_set(ORL_ERR_INPUT,
                                   "%s holds another suite (or the same with other settings): "
                                   "use a new directory",
                                   dir);
            free(stored);
        }
        orl_bench_suite_free(old);
    } else if (st == ORL_OK) {
        st = write_atomic(path, text);
    }
    for (int32_t d = 0; st == ORL_OK && d < copy->n_datasets; d++)
        st = orl_bench_dataset_ensure(copy, d);
    free(text);
    free(copy);
    return st;
}

orl_status orl_bench_open(const char *dir, orl_bench_suite **out) {
    *out = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/suite.json", dir);
    char *text = read_text(path);
    if (!text)
        ORL_FAIL(ORL_ERR_INPUT,
                 "%s is not a benchmark directory (no suite.json; make it with "
                 "orl bench run)",
                 dir);
    orl_status st = orl_bench_suite_parse(text, NULL, out);
    free(text);
    if (st != ORL_OK) return orl_error_set(st, "%s: %s", path, orl_error_message());
    return ORL_OK;
}

int orl_bench_job_done(const char *dir, int64_t k) {
    char path[1024];
    job_path(dir, k, path, sizeof path);
    return orl_fs_exists(path);
}

/* ---- one job ---- */

/* the learning curve, filled by the evaluation orl_train calls every eval_every steps and at
 * the end (so call i is at step min((i + 1) eval_every, steps)) */
typedef struct curve {
    int64_t every, steps;
    orl_policy_mode mode;
    int32_t n;
    int64_t step[MAX_CURVE];
    double score[MAX_CURVE];
    double ret[MAX_CURVE];
} curve;

static orl_status curve_eval(void *ctx, const orl_policy *p, const char *env_id, int64_t episodes,
                             uint64_t seed, double *mean_return, double *score) {
    curve *c = ctx;
    orl_rollout_summary sum;
    ORL_TRY(orl_eval(p, env_id, episodes, seed, c->mode, &sum, NULL));
    *mean_return = sum.return_mean;
    *score = orl_normalized_score(env_id, sum.return_mean);
    if (c->n < MAX_CURVE) {
        int64_t at = (int64_t)(c->n + 1) * c->every;
        c->step[c->n] = at < c->steps ? at : c->steps;
        c->score[c->n] = *score;
        c->ret[c->n] = *mean_return;
        c->n++;
    }
    return ORL_OK;
}

/* FNV-1a 64 over n bytes, continuing from h */
static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* the hash of a dataset's content (every column and the episode offsets, not the file's
 * bytes, which hold HDF5's object times): FNV-1a 64 as 16 hex digits */
static void data_hash(const orl_dataset *ds, char *hex, size_t cap) {
    size_t N = (size_t)ds->n_steps, S = (size_t)ds->h.obs_dim, A = (size_t)ds->h.act_dim;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = fnv_bytes(h, ds->obs, N * S * sizeof(float));
    h = fnv_bytes(h, ds->next_obs, N * S * sizeof(float));
    if (ds->act) h = fnv_bytes(h, ds->act, N * A * sizeof(float));
    if (ds->act_idx) h = fnv_bytes(h, ds->act_idx, N * sizeof(int32_t));
    h = fnv_bytes(h, ds->rew, N * sizeof(float));
    h = fnv_bytes(h, ds->terminal, N);
    h = fnv_bytes(h, ds->timeout, N);
    h = fnv_bytes(h, ds->ep_off, ((size_t)ds->n_episodes + 1) * sizeof(int64_t));
    snprintf(hex, cap, "%016llx", (unsigned long long)h);
}

/* the result object of a finished job */
static json_t *result_json(const orl_bench_suite *s, int64_t k, const orl_train_options *opt,
                           const orl_train_result *res, const curve *c, double ret, double score,
                           double seconds, const char *hash) {
    const orl_bench_job *J = &s->jobs[k];
    const orl_bench_dataset *D = &s->datasets[J->dataset];
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(k));
    json_object_set_new(o, "suite", json_string(s->name));
    json_object_set_new(o, "learner", json_string(s->learners[J->learner].name));
    json_object_set_new(o, "algo", json_string(s->learners[J->learner].algo));
    json_object_set_new(o, "dataset", json_string(D->name));
    json_object_set_new(o, "env", json_string(D->env));
    json_object_set_new(o, "seed", json_integer(J->seed));
    json_object_set_new(o, "steps", json_integer(opt->steps));
    json_object_set_new(o, "status", json_string("ok"));
    json_object_set_new(o, "score", orl_json_number(score));
    json_object_set_new(o, "return", orl_json_number(ret));
    json_object_set_new(o, "final_episodes", json_integer(s->final_episodes));
    json_t *cs = json_array(), *cv = json_array(), *cr = json_array();
    for (int32_t i = 0; i < c->n; i++) {
        json_array_append_new(cs, json_integer(c->step[i]));
        json_array_append_new(cv, orl_json_number(c->score[i]));
        json_array_append_new(cr, orl_json_number(c->ret[i]));
    }
    json_t *curve_o = json_object();
    json_object_set_new(curve_o, "step", cs);
    json_object_set_new(curve_o, "score", cv);
    json_object_set_new(curve_o, "return", cr);
    json_object_set_new(o, "curve", curve_o);
    json_object_set_new(o, "train_seconds", json_real(res->seconds));
    json_object_set_new(o, "seconds", json_real(seconds));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    json_object_set_new(o, "peak_rss_kb", json_integer(ru.ru_maxrss));
    /* the job process's CPU time so far (user + system): on a shared machine the figure to
     * budget a suite with, where wall time depends on the load */
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    json_object_set_new(o, "cpu_seconds", json_real(cpu));
    json_t *v = json_object();
    json_object_set_new(v, "orl", json_string(ORL_VERSION));
    json_object_set_new(v, "jansson", json_string(JANSSON_VERSION));
    json_object_set_new(v, "sqlite", json_string(sqlite3_libversion()));
#ifdef __VERSION__
    json_object_set_new(v, "compiler", json_string(__VERSION__));
#endif
    json_object_set_new(o, "versions", v);
    json_t *hp = json_loads(res->config_json, 0, NULL);
    json_object_set_new(o, "hyperparameters", hp ? hp : json_string(res->config_json));
    json_object_set_new(o, "dataset_hash", json_string(hash));
    return o;
}

orl_status orl_bench_run_job(const char *dir, int64_t k, int *skipped) {
    if (skipped) *skipped = 0;
    double t0 = now_seconds();
    orl_bench_suite *s = NULL;
    ORL_TRY(orl_bench_open(dir, &s));
    orl_status st = ORL_OK;
    orl_dataset *ds = NULL;
    orl_policy *p = NULL;
    curve *c = NULL;
    orl_train_result res;
    memset(&res, 0, sizeof res);
    char path[1024], data[1024];
    if (k < 0 || k >= s->n_jobs)
        ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT, "job %lld: the suite has jobs 0 to %lld",
                      (long long)k, (long long)s->n_jobs - 1);
    job_path(dir, k, path, sizeof path);
    if (orl_fs_exists(path)) {
        if (skipped) *skipped = 1;
        goto done;
    }
    const orl_bench_job *J = &s->jobs[k];
    const orl_bench_dataset *D = &s->datasets[J->dataset];
    const orl_bench_learner *L = &s->learners[J->learner];
    const orl_bench_family *F = &s->families[D->family];
    ORL_TRY_GOTO(st, done, orl_bench_dataset_ensure(s, J->dataset));
    orl_bench_dataset_file(s, J->dataset, data, sizeof data);
    ORL_TRY_GOTO(st, done, orl_dataset_read(data, NULL, NULL, &ds));
    char hash[32];
    data_hash(ds, hash, sizeof hash);

    const char *fam[ORL_BENCH_MAX_SETS], *own[ORL_BENCH_MAX_SETS];
    for (int32_t i = 0; i < F->n_sets; i++) fam[i] = F->sets[i];
    for (int32_t i = 0; i < L->n_sets; i++) own[i] = L->sets[i];
    enum { CAP = 8 + 2 * ORL_BENCH_MAX_SETS };
    char buf[CAP][ORL_BENCH_SET_LEN];
    const char *sets[CAP];
    int32_t n_sets = orl_bench_train_sets(L->algo, F->hidden, F->layers, fam, F->n_sets, own,
                                          L->n_sets, buf, CAP, sets);

    c = calloc(1, sizeof *c);
    if (!c) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "job %lld: out of memory", (long long)k);
    orl_bench_job_budget(s, k, &c->steps, &c->every);
    c->mode = F->eval_sample ? ORL_POLICY_MODE_SAMPLE : ORL_POLICY_MODE_MEAN;

    orl_train_options opt;
    orl_train_options_init(&opt);
    opt.algo = L->algo;
    opt.sets = sets;
    opt.n_sets = n_sets;
    opt.steps = c->steps;
    opt.seed = (uint64_t)J->seed;
    opt.val_fraction = 0.0;
    opt.log_every = 0;
    opt.eval_env = D->env;
    opt.eval_every = c->every;
    opt.eval_episodes = s->eval_episodes;
    opt.evaluate = curve_eval;
    opt.evaluate_ctx = c;
    opt.data_path = data;
    st = orl_train(ds, &opt, &p, &res);
    if (st != ORL_OK)
        ORL_FAIL_GOTO(st, done, st, "job %lld (%s on %s, seed %d): %s", (long long)k, L->name,
                      D->name, J->seed, orl_error_message());

    /* the final score: its own episodes, seeded apart from the curve's */
    orl_rollout_summary sum;
    st = orl_eval(p, D->env, s->final_episodes, 1000 + (uint64_t)J->seed, c->mode, &sum, NULL);
    if (st != ORL_OK)
        ORL_FAIL_GOTO(st, done, st, "job %lld: evaluation: %s", (long long)k, orl_error_message());
    double score = orl_normalized_score(D->env, sum.return_mean);
    json_t *o = result_json(s, k, &opt, &res, c, sum.return_mean, score, now_seconds() - t0, hash);
    char *text = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "job %lld: out of memory", (long long)k);
    st = write_atomic(path, text);
    free(text);
done:
    orl_policy_free(p);
    orl_train_result_free(&res);
    orl_dataset_free(ds);
    free(c);
    orl_bench_suite_free(s);
    return st;
}

/* ---- MPI ranks ---- */

static int env_int(const char *name, int32_t *out) {
    const char *v = getenv(name);
    if (!v || !v[0]) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < 0 || x > 1000000) return 0;
    *out = (int32_t)x;
    return 1;
}

orl_status orl_bench_run_rank(const char *dir, int32_t rank, int32_t size, int64_t *failed) {
    if (failed) *failed = 0;
    if (size <= 0) {
        int have =
            (env_int("OMPI_COMM_WORLD_RANK", &rank) && env_int("OMPI_COMM_WORLD_SIZE", &size)) ||
            (env_int("PMI_RANK", &rank) && env_int("PMI_SIZE", &size));
        if (!have || size < 1 || rank >= size)
            ORL_FAIL(ORL_ERR_INPUT, "no MPI rank: neither OMPI_COMM_WORLD_RANK/SIZE nor "
                                    "PMI_RANK/PMI_SIZE is set (start with mpirun)");
    }
    orl_bench_suite *s = NULL;
    ORL_TRY(orl_bench_open(dir, &s));
    int64_t n = s->n_jobs;
    orl_bench_suite_free(s);
    orl_status first = ORL_OK;
    char first_msg[1024] = "";
    for (int64_t k = rank; k < n; k += size) {
        orl_status st = orl_bench_run_job(dir, k, NULL);
        if (st != ORL_OK) {
            if (failed) (*failed)++;
            if (first == ORL_OK) {
                first = st;
                snprintf(first_msg, sizeof first_msg, "%s", orl_error_message());
            }
        }
    }
    if (first != ORL_OK) return orl_error_set(first, "%s", first_msg);
    return ORL_OK;
}

/* ---- workers ---- */

typedef struct worker {
    pid_t pid;
    int64_t job;
} worker;

static orl_status spawn_job(const char *dir, const char *program, int64_t k, char **envp,
                            pid_t *pid) {
    char index[32], log[1024];
    snprintf(index, sizeof index, "%lld", (long long)k);
    snprintf(log, sizeof log, "%s/logs/%lld.log", dir, (long long)k);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    char *argv[] = {(char *)program, "bench", "run-job", (char *)dir, "--index", index, NULL};
    int rc = posix_spawn(pid, program, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) ORL_FAIL(ORL_ERR_IO, "cannot start %s: %s", program, strerror(rc));
    return ORL_OK;
}

orl_status orl_bench_run(const char *dir, const char *program, int32_t workers,
                         const orl_progress *progress, orl_bench_run_summary *out) {
    orl_bench_run_summary sum;
    memset(&sum, 0, sizeof sum);
    double t0 = now_seconds();
    orl_bench_suite *s = NULL;
    ORL_TRY(orl_bench_open(dir, &s));
    sum.jobs = s->n_jobs;
    orl_bench_suite_free(s);
    if (workers < 1) workers = 1;
    /* the workers' environment: this one, with one BLAS thread per job unless the caller
     * chose (N jobs share the cores; and the bits then do not depend on N) */
    size_t n_env = 0;
    while (environ[n_env]) n_env++;
    worker *w = calloc((size_t)workers, sizeof *w);
    char **envp = calloc(n_env + 2, sizeof *envp);
    if (!w || !envp) {
        free(w);
        free(envp);
        ORL_FAIL(ORL_ERR_NOMEM, "bench: out of memory");
    }
    memcpy(envp, environ, n_env * sizeof *envp);
    static char one_thread[] = "OPENBLAS_NUM_THREADS=1";
    if (!getenv("OPENBLAS_NUM_THREADS")) envp[n_env] = one_thread;
    orl_status st = ORL_OK;
    int64_t next = 0, total = 0;
    for (int64_t k = 0; k < sum.jobs; k++) total += !orl_bench_job_done(dir, k);
    sum.skipped = sum.jobs - total;
    int32_t running = 0;
    char what[64];
    snprintf(what, sizeof what, "jobs: 0 done, 0 running, 0 failed");
    if (orl_progress_report(progress, 0, total, what)) st = ORL_ERR_INTERRUPTED;
    while (st == ORL_OK) {
        /* start jobs while a worker is free */
        while (running < workers && next < sum.jobs && st == ORL_OK) {
            int64_t k = next++;
            if (orl_bench_job_done(dir, k)) continue;
            int32_t slot = 0;
            while (w[slot].pid > 0) slot++;
            st = spawn_job(dir, program, k, envp, &w[slot].pid);
            w[slot].job = k;
            running += st == ORL_OK;
        }
        if (running == 0 || st != ORL_OK) break;
        int status = 0;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno != EINTR) {
                st = orl_error_set(ORL_ERR_IO, "bench: waitpid: %s", strerror(errno));
                break;
            }
            if (orl_progress_report(progress, sum.done + sum.failed, total, what))
                st = ORL_ERR_INTERRUPTED;
            continue;
        }
        int32_t slot = -1;
        for (int32_t i = 0; i < workers; i++)
            if (w[i].pid == pid) slot = i;
        if (slot < 0) continue; /* not one of ours */
        w[slot].pid = 0;
        running--;
        int ok =
            WIFEXITED(status) && WEXITSTATUS(status) == 0 && orl_bench_job_done(dir, w[slot].job);
        if (ok)
            sum.done++;
        else
            sum.failed++;
        snprintf(what, sizeof what, "jobs: %lld done, %d running, %lld failed", (long long)sum.done,
                 running, (long long)sum.failed);
        if (orl_progress_report(progress, sum.done + sum.failed, total, what))
            st = ORL_ERR_INTERRUPTED;
    }
    /* stopping: the running jobs are killed (their results are never half-written) */
    for (int32_t i = 0; i < workers; i++)
        if (w[i].pid > 0) {
            kill(w[i].pid, SIGTERM);
            waitpid(w[i].pid, NULL, 0);
        }
    free(w);
    free(envp);
    sum.seconds = now_seconds() - t0;
    if (out) *out = sum;
    if (st == ORL_ERR_INTERRUPTED)
        return orl_error_set(st, "stopped; %lld jobs done, rerun to finish",
                             (long long)(sum.skipped + sum.done));
    return st;
}

/* ---- cluster engines ---- */

orl_status orl_bench_emit(const char *dir, const char *program, orl_bench_engine engine,
                          int32_t workers, char **out) {
    *out = NULL;
    orl_bench_suite *s = NULL;
    ORL_TRY(orl_bench_open(dir, &s));
    int64_t n = s->n_jobs;
    char name[64];
    snprintf(name, sizeof name, "%s", s->name);
    orl_bench_suite_free(s);
    /* absolute paths: the engine may start jobs in another directory */
    char adir[4096], aprog[4096];
    if (!realpath(dir, adir)) snprintf(adir, sizeof adir, "%s", dir);
    if (!strchr(program, '/') || !realpath(program, aprog))
        snprintf(aprog, sizeof aprog, "%s", program);
    size_t cap = 2 * sizeof adir + 2 * sizeof aprog + 1024;
    char *text = malloc(cap);
    if (!text) ORL_FAIL(ORL_ERR_NOMEM, "bench: out of memory");
    if (workers < 1) workers = 1;
    switch (engine) {
    case ORL_BENCH_ENGINE_SLURM:
        snprintf(
            text, cap,
            "#!/bin/bash\n"
            "# orl bench: suite %s, %lld jobs, one Slurm array task each; submit with sbatch.\n"
            "# A task whose result exists returns at once; resubmit to run failed ones.\n"
            "#SBATCH --job-name=orl-bench-%s\n"
            "#SBATCH --array=0-%lld\n"
            "#SBATCH --cpus-per-task=1\n"
            "#SBATCH --output=%s/logs/slurm-%%a.log\n"
            "export OPENBLAS_NUM_THREADS=1\n"
            "exec '%s' bench run-job '%s' --index \"$SLURM_ARRAY_TASK_ID\"\n",
            name, (long long)n, name, (long long)n - 1, adir, aprog, adir);
        break;
    case ORL_BENCH_ENGINE_PARALLEL:
        snprintf(
            text, cap,
            "seq 0 %lld | OPENBLAS_NUM_THREADS=1 parallel -j %d --joblog '%s/logs/parallel.log' "
            "'%s' bench run-job '%s' --index {}\n",
            (long long)n - 1, workers, adir, aprog, adir);
        break;
    case ORL_BENCH_ENGINE_MPI:
        snprintf(text, cap, "OPENBLAS_NUM_THREADS=1 mpirun -n %d '%s' bench run-job '%s' --mpi\n",
                 workers, aprog, adir);
        break;
    }
    *out = text;
    return ORL_OK;
}
