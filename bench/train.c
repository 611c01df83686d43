/* bench/train: updates per second of every registered learner through orl_train (the whole
 * loop: batch sampling and gathering, forwards, losses, backwards, optimiser steps, target
 * updates, phases amortised as they occur) on synthetic data, and the share of the sgemm peak
 * each update reaches on the matrix products it needs.
 *
 * Cases (batch 256, seed 1, no validation split, no logging):
 *   corl      obs 17, act 6, continuous, the learners' default widths (256; CQL's critics 3x256
 *             with 10 sampled actions: CORL's shapes; BCQ's VAE 750-750 and 400-300 networks
 *             with 10 target samples: sfujim/BCQ's; as the PyTorch reference loops of
 *             bench/vs-torch.sh)
 *   small     obs 17, act 6, continuous, width 64 for every network of every learner (hidden,
 *             actor_hidden; BCQ's vae_hidden, hidden1, hidden2, discrete_hidden) (classic-control
 *             sizes)
 *   cartpole  obs 4, 2 actions, discrete, the default widths
 * A learner that refuses a case's action kind at creation is skipped.
 *
 * The sgemm share: cblas_sgemm is interposed in this program (the library is linked in
 * statically, so its calls land here; the real one is found with dlsym(RTLD_NEXT)). During one
 * recorded update every call's shape (transposes, M, N, K, leading dimensions, beta) is kept;
 * afterwards exactly those GEMMs are replayed alone on scratch buffers, and
 * sgemm_share = (replay CPU time per update) / (measured CPU time per update): the fraction of the
 * update's CPU time (at 1 thread on an idle machine, its wall time) the matrix products alone
 * would take at this machine's sgemm speed (CPU time: other programs' share of the cores counts
 * in neither). It also gives gflop_per_update (2 M N K summed) and the achieved GFLOP/s.
 * nn/'s own small-shape kernel (nn/gemm.c) does not go through cblas_sgemm: the recorded runs
 * switch it off (nn_sgemm_set_small), so every product is recorded and sgemm_share stays "the
 * update's products at OpenBLAS's speed"; gemm_share is the same replay through nn_sgemm (the
 * kernel where it wins, OpenBLAS elsewhere: what the update's products cost as trained).
 * With ORL_BENCH_GEMMS set, each recorded call's shape and its CPU time replayed alone (200
 * times) through OpenBLAS and through nn_sgemm go to stderr: which GEMMs of an update cost
 * what, and at what GFLOP/s.
 * With ORL_BENCH_DIGEST=N, each learner instead trains N updates from the seed and prints an
 * FNV-1a digest of its policy's actions on 256 observations (no timing): the bits two builds
 * train to, compared.
 *
 * Time: seconds and updates_per_s are wall-clock; cpu_seconds and updates_per_cpu_s the
 * process's CPU time over the same run (all threads), the figure to compare on a busy machine.
 *
 * Acting: act_us_per_step is what a control loop pays per step for the trained policy (its type
 * in "policy"): microseconds per orl_policy_act of one observation in mean mode (BCQ: the
 * decoder, perturbation and Q_1 over its n_act = 10 candidates).
 *
 * Usage: train [--algos a,b] [--cases corl,small,cartpole] [--threads T] [--steps N]
 * (N updates per timed run, default 2000; raised so that a run lasts at least 2 s). Without
 * --algos every learner runs except those whose step is an outer iteration (MOReL).
 * Output: one JSON object per line. */
#define _GNU_SOURCE
#include "nn/internal.h" /* nn_sgemm, nn_sgemm_set_small */
#include "orl/train.h"

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EPISODES  100
#define LENGTH    1000
#define MAX_CALLS 65536

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of this process (every thread): on a shared machine the wall time of a run
 * includes the time other programs held the cores; its CPU time does not */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the interposed sgemm ---- */

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint, const blasint,
                         const float, const float *, const blasint, const float *, const blasint,
                         const float, float *, const blasint);

typedef struct gemm_call {
    enum CBLAS_ORDER order;
    enum CBLAS_TRANSPOSE ta, tb;
    blasint m, n, k, lda, ldb, ldc;
    float beta;
} gemm_call;

static sgemm_fn real_sgemm;
static int recording;
static int n_calls;
static gemm_call calls[MAX_CALLS];

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                 const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n, const blasint k,
                 const float alpha, const float *a, const blasint lda, const float *b,
                 const blasint ldb, const float beta, float *c, const blasint ldc) {
    if (recording && n_calls < MAX_CALLS)
        calls[n_calls++] = (gemm_call){order, ta, tb, m, n, k, lda, ldb, ldc, beta};
    real_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* elements a row-major (rows, cols) operand with leading dimension ld needs */
static size_t operand_floats(blasint rows, blasint cols, blasint ld) {
    (void)cols;
    return (size_t)rows * (size_t)ld;
}

/* one recorded call on scratch operands, through OpenBLAS (own = 0) or nn_sgemm (own = 1) */
static void replay_call(const gemm_call *g, int own, const float *a, const float *b, float *c) {
    if (own)
        nn_sgemm(g->ta != CblasNoTrans, g->tb != CblasNoTrans, g->m, g->n, g->k, a, g->lda, b,
                 g->ldb, g->beta, c, g->ldc);
    else
        real_sgemm(g->order, g->ta, g->tb, g->m, g->n, g->k, 1.0f, a, g->lda, b, g->ldb, g->beta, c,
                   g->ldc);
}

/* replays the recorded calls reps times through OpenBLAS (own = 0) or nn_sgemm (own = 1);
 * returns seconds per replay and the flops of one */
static double replay(int reps, int own, double *flops) {
    size_t biggest = 1;
    *flops = 0.0;
    for (int i = 0; i < n_calls; i++) {
        const gemm_call *g = &calls[i];
        blasint ar = g->ta == CblasNoTrans ? g->m : g->k, br = g->tb == CblasNoTrans ? g->k : g->n;
        size_t need = operand_floats(ar, 0, g->lda);
        if (operand_floats(br, 0, g->ldb) > need) need = operand_floats(br, 0, g->ldb);
        if (operand_floats(g->m, 0, g->ldc) > need) need = operand_floats(g->m, 0, g->ldc);
        if (need > biggest) biggest = need;
        *flops += 2.0 * (double)g->m * (double)g->n * (double)g->k;
    }
    float *a = calloc(biggest, sizeof(float)), *b = calloc(biggest, sizeof(float));
    float *c = calloc(biggest, sizeof(float));
    for (size_t i = 0; i < biggest; i++) a[i] = b[i] = 0.01f * (float)(i % 97);
    if (getenv("ORL_BENCH_GEMMS") && !own) /* each call alone, both ways, to stderr */
        for (int i = 0; i < n_calls; i++) {
            const gemm_call *g = &calls[i];
            double us[2];
            for (int o = 0; o < 2; o++) {
                double t0 = cpu_now();
                for (int r = 0; r < 200; r++) replay_call(g, o, a, b, c);
                us[o] = (cpu_now() - t0) / 200 * 1e6;
            }
            double mflop = 2e-6 * (double)g->m * (double)g->n * (double)g->k;
            fprintf(stderr,
                    "gemm %2d %c%c m %4d n %4d k %4d beta %g: openblas %8.2f us, %5.1f GFLOP/s; "
                    "nn_sgemm %8.2f us, %5.1f GFLOP/s\n",
                    i, g->ta == CblasNoTrans ? 'n' : 't', g->tb == CblasNoTrans ? 'n' : 't',
                    (int)g->m, (int)g->n, (int)g->k, (double)g->beta, us[0], mflop / us[0] * 1e3,
                    us[1], mflop / us[1] * 1e3);
        }
    double best = INFINITY;
    for (int w = 0; w < 5; w++) {
        double t0 = cpu_now();
        for (int r = 0; r < reps; r++)
            for (int i = 0; i < n_calls; i++) replay_call(&calls[i], own, a, b, c);
        double dt = (cpu_now() - t0) / reps;
        if (dt < best) best = dt;
    }
    free(a), free(b), free(c);
    return best;
}

/* ---- data ---- */

static orl_dataset *synthetic(int32_t S, int32_t A, int discrete) {
    orl_header h;
    if (orl_header_init(&h, S, discrete ? 1 : A,
                        discrete ? ORL_ACTION_KIND_DISCRETE : ORL_ACTION_KIND_CONTINUOUS,
                        discrete ? A : 0) != ORL_OK)
        return NULL;
    for (int32_t j = 0; !discrete && j < A; j++) {
        h.act_low[j] = -1.0f;
        h.act_high[j] = 1.0f;
    }
    orl_dataset *ds = NULL;
    int64_t N = (int64_t)EPISODES * LENGTH;
    if (orl_dataset_create(&h, N, EPISODES, &ds) != ORL_OK) {
        orl_header_free(&h);
        return NULL;
    }
    orl_header_free(&h);
    orl_rng rng;
    orl_rng_seed(&rng, 1, 1);
    for (int64_t i = 0; i < N; i++) {
        for (int32_t j = 0; j < S; j++) {
            ds->obs[i * S + j] = (float)orl_rng_normal(&rng);
            ds->next_obs[i * S + j] = (float)orl_rng_normal(&rng);
        }
        if (discrete)
            ds->act_idx[i] = (int32_t)orl_rng_below(&rng, (uint32_t)A);
        else
            for (int32_t j = 0; j < A; j++)
                ds->act[i * A + j] = (float)(1.8 * orl_rng_uniform(&rng) - 0.9);
        ds->rew[i] = (float)orl_rng_normal(&rng);
        ds->terminal[i] = 0;
        ds->timeout[i] = (i + 1) % LENGTH == 0;
        ds->logp_b[i] = NAN;
    }
    ds->n_steps = N;
    if (orl_dataset_index(ds) != ORL_OK) {
        orl_dataset_free(ds);
        return NULL;
    }
    return ds;
}

/* ---- runs ---- */

typedef struct bench_case {
    const char *name;
    int32_t S, A;
    int discrete;
    int hidden; /* 0: the learner's default */
} bench_case;

static int has_hparam(const orl_learner_ops *ops, const char *key) {
    for (const orl_hparam_def *h = ops->hparams; h->name; h++)
        if (strcmp(h->name, key) == 0) return 1;
    return 0;
}

static orl_status train_steps(const orl_learner_ops *ops, const bench_case *c,
                              const orl_dataset *ds, int64_t steps, orl_policy **keep) {
    /* the case's width for every network of the learner (its critics' and its actor's) */
    static const char *const keys[] = {"hidden",  "actor_hidden", "vae_hidden",
                                       "hidden1", "hidden2",      "discrete_hidden"};
    enum { N_KEYS = sizeof keys / sizeof keys[0] };
    char text[N_KEYS][48];
    const char *sets[N_KEYS];
    int n_sets = 0;
    for (int k = 0; k < N_KEYS; k++)
        if (c->hidden > 0 && has_hparam(ops, keys[k])) {
            snprintf(text[k], sizeof text[k], "%s=%d", keys[k], c->hidden);
            sets[n_sets++] = text[k];
        }
    orl_train_options opt;
    orl_train_options_init(&opt);
    opt.algo = ops->name;
    opt.sets = sets;
    opt.n_sets = n_sets;
    opt.batch = 256;
    opt.seed = 1;
    opt.val_fraction = 0.0;
    opt.log_every = 0;
    opt.steps = steps;
    orl_policy *p = NULL;
    orl_status st = orl_train(ds, &opt, &p, NULL);
    if (keep && st == ORL_OK)
        *keep = p;
    else
        orl_policy_free(p);
    return st;
}

/* a control loop's cost of acting: microseconds per orl_policy_act of one observation (mean
 * mode) over the dataset's first rows, for at least 0.5 s; NaN on failure */
static double act_cost(const orl_policy *p, const orl_dataset *ds) {
    orl_policy_work *w = NULL;
    if (orl_policy_work_create(p, 1, &w) != ORL_OK) return NAN;
    int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    float act[64];
    int32_t idx;
    int64_t n = 0, rows = ds->n_steps < 1000 ? ds->n_steps : 1000;
    double t0 = now(), dt = 0.0;
    while (dt < 0.5) {
        for (int k = 0; k < 100; k++, n++)
            if (orl_policy_act(p, w, ds->obs + (n % rows) * ds->h.obs_dim, 1, ORL_POLICY_MODE_MEAN,
                               NULL, discrete ? NULL : act, discrete ? &idx : NULL) != ORL_OK) {
                orl_policy_work_free(w);
                return NAN;
            }
        dt = now() - t0;
    }
    orl_policy_work_free(w);
    return 1e6 * dt / (double)n;
}

/* FNV-1a of the policy's mean-mode actions (or action indices) on the first 256 observations:
 * a digest to compare the bits two builds train to */
static uint64_t act_digest(const orl_policy *p, const orl_dataset *ds) {
    orl_policy_work *w = NULL;
    if (orl_policy_work_create(p, 1, &w) != ORL_OK) return 0;
    int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    float act[64];
    int32_t idx = 0;
    uint64_t h = 1469598103934665603ull;
    for (int64_t r = 0; r < 256 && r < ds->n_steps; r++) {
        memset(act, 0, sizeof act);
        if (orl_policy_act(p, w, ds->obs + r * ds->h.obs_dim, 1, ORL_POLICY_MODE_MEAN, NULL,
                           discrete ? NULL : act, discrete ? &idx : NULL) != ORL_OK)
            break;
        const unsigned char *bytes =
            discrete ? (const unsigned char *)&idx : (const unsigned char *)act;
        size_t n = discrete ? sizeof idx : (size_t)p->act_dim * sizeof(float);
        for (size_t i = 0; i < n; i++) h = (h ^ bytes[i]) * 1099511628211ull;
    }
    orl_policy_work_free(w);
    return h;
}

/* 0 ok, 1 failed, -1 skipped (action kind) */
static int run(const orl_learner_ops *ops, const bench_case *c, const orl_dataset *ds, int threads,
               int64_t steps) {
    /* warm-up (50 updates, or steps when fewer), and one recorded run of 2 updates minus one of 1
       update: the calls of one update (set-up calls such as normaliser fits are not GEMMs; value
       fits of AWR are amortised in the timed run but not in the record) */
    orl_status st = train_steps(ops, c, ds, steps < 50 ? steps : 50, NULL);
    if (st == ORL_ERR_INPUT && strstr(orl_error_message(), "action")) return -1;
    if (st != ORL_OK) goto fail;
    if (getenv("ORL_BENCH_DIGEST")) { /* N updates from the seed, then the digest, no timing */
        orl_policy *d = NULL;
        if (train_steps(ops, c, ds, atoll(getenv("ORL_BENCH_DIGEST")), &d) != ORL_OK) goto fail;
        printf("{\"bench\":\"train_digest\",\"algo\":\"%s\",\"case\":\"%s\",\"steps\":%s,"
               "\"digest\":\"%016llx\"}\n",
               ops->name, c->name, getenv("ORL_BENCH_DIGEST"),
               (unsigned long long)act_digest(d, ds));
        orl_policy_free(d);
        return 0;
    }
    recording = 1;
    nn_sgemm_set_small(0); /* every product through cblas_sgemm, so every one is recorded */
    n_calls = 0;
    if (train_steps(ops, c, ds, 1, NULL) != ORL_OK) goto fail;
    int one = n_calls;
    n_calls = 0;
    if (train_steps(ops, c, ds, 3, NULL) != ORL_OK) goto fail;
    recording = 0;
    nn_sgemm_set_small(1);
    /* the calls of updates 2 and 3 of the second run: what one update adds, twice */
    int per_update = (n_calls - one) / 2;
    if (n_calls >= MAX_CALLS) per_update = 0;
    memmove(calls, calls + (n_calls - per_update), (size_t)per_update * sizeof(gemm_call));
    n_calls = per_update;

    /* the timed run: steps updates, or more when that takes under 2 s (fast learners) */
    orl_policy *p = NULL;
    double t0 = now(), c0 = cpu_now();
    if (train_steps(ops, c, ds, steps, &p) != ORL_OK) goto fail;
    double dt = now() - t0, cpu = cpu_now() - c0;
    if (dt < 2.0) {
        orl_policy_free(p);
        p = NULL;
        steps = (int64_t)ceil((double)steps * 2.5 / dt);
        t0 = now(), c0 = cpu_now();
        if (train_steps(ops, c, ds, steps, &p) != ORL_OK) goto fail;
        dt = now() - t0, cpu = cpu_now() - c0;
    }
    double act_us = act_cost(p, ds);
    char p_type[32];
    snprintf(p_type, sizeof p_type, "%s", p->ops->type);
    orl_policy_free(p);
    double flops = 0.0, gemm_s = n_calls > 0 ? replay(20, 0, &flops) : 0.0;
    double own_s = n_calls > 0 ? replay(20, 1, &flops) : 0.0;
    double per_s = (double)steps / dt;
    printf("{\"bench\":\"train\",\"algo\":\"%s\",\"case\":\"%s\",\"threads\":%d,\"obs\":%d,"
           "\"act\":%d,\"hidden\":%d,\"batch\":256,\"steps\":%lld,\"seconds\":%.3f,"
           "\"updates_per_s\":%.1f,\"cpu_seconds\":%.3f,\"updates_per_cpu_s\":%.1f,"
           "\"gemm_calls_per_update\":%d,\"gflop_per_update\":%.4f,"
           "\"gflops\":%.2f,\"sgemm_share\":%.3f,\"gemm_share\":%.3f,\"policy\":\"%s\","
           "\"act_us_per_step\":%.2f}\n",
           ops->name, c->name, threads, c->S, c->A, c->hidden > 0 ? c->hidden : 256,
           (long long)steps, dt, per_s, cpu, (double)steps / cpu, n_calls, flops * 1e-9,
           flops * per_s * 1e-9, gemm_s * (double)steps / cpu, own_s * (double)steps / cpu, p_type,
           act_us);
    fflush(stdout);
    return 0;
fail:
    recording = 0;
    nn_sgemm_set_small(1);
    fprintf(stderr, "bench/train: %s %s: %s\n", ops->name, c->name, orl_error_message());
    return 1;
}

static int listed(const char *list, const char *name) {
    if (!list) return 1;
    char l[512], k[64];
    snprintf(l, sizeof l, ",%s,", list);
    snprintf(k, sizeof k, ",%s,", name);
    return strstr(l, k) != NULL;
}

int main(int argc, char **argv) {
    real_sgemm = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
    if (!real_sgemm) {
        fprintf(stderr, "bench/train: cblas_sgemm not found\n");
        return 1;
    }
    const char *algo_list = NULL, *case_list = NULL;
    int threads = 1;
    int64_t steps = 2000;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--algos") == 0 && v)
            algo_list = v, i++;
        else if (strcmp(argv[i], "--cases") == 0 && v)
            case_list = v, i++;
        else if (strcmp(argv[i], "--threads") == 0 && v)
            threads = atoi(v), i++;
        else if (strcmp(argv[i], "--steps") == 0 && v)
            steps = atoll(v), i++;
        else {
            fprintf(stderr, "usage: train [--algos a,b] [--cases corl,small,cartpole] "
                            "[--threads T] [--steps N]\n");
            return 2;
        }
    }
    if (threads < 1 || steps < 1) return 2;
    openblas_set_num_threads(threads);
    /* ORL_NN_NARROW=0: the narrow forwards (N < 16) without nn/gemm.c's narrow kernel, for
     * before/after comparisons in one build */
    if (getenv("ORL_NN_NARROW") && atoi(getenv("ORL_NN_NARROW")) == 0) nn_sgemm_set_narrow(0);
    const bench_case cases[] = {
        {"corl", 17, 6, 0, 0}, {"small", 17, 6, 0, 64}, {"cartpole", 4, 2, 1, 0}};
    int bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (!listed(case_list, cases[c].name)) continue;
        orl_dataset *ds = synthetic(cases[c].S, cases[c].A, cases[c].discrete);
        if (!ds) {
            fprintf(stderr, "bench/train: %s\n", orl_error_message());
            return 1;
        }
        for (int32_t a = 0; a < orl_learner_count(); a++) {
            const orl_learner_ops *ops = orl_learner_get(a);
            /* learners whose step is an outer iteration (a short default run, e.g. MOReL's
             * NPG iterations: seconds each, after a model fit) only when named; their cost is
             * measured by their own benches (bench/dynamics) */
            int outer = ops->default_steps > 0 && ops->default_steps < 1000;
            if (outer ? algo_list && listed(algo_list, ops->name) : listed(algo_list, ops->name))
                bad |= run(ops, &cases[c], ds, threads, steps) > 0;
        }
        orl_dataset_free(ds);
    }
    return bad;
}
