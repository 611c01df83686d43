/* bench/dynamics: throughput of dynamics ensembles (include/orl/dynamics.h) at the reference
 * shapes (MOReL / mjrl: K = 4 members of 2 x 512 ReLU MLPs, batch 256, Adam), in CPU time
 * (the machine is shared: wall time is noise).
 *
 * Cases: pendulum (obs 3, act 1) and mujoco (obs 17, act 6), synthetic data of 20,000 rows in
 * 100 episodes (a random linear system), seed 1.
 *   fit:       epochs of orl_dynamics_trainer_epoch (no held-out split, so the time is the
 *              training alone): member_samples_per_s = K rows per trained row; gflops from
 *              orl_mlp_forward_flops (forward + backward = 3x forward, less layer 0's dx);
 *              sgemm_share = the time the same GEMMs take alone (replayed here with
 *              cblas_sgemm at the step's shapes) / the measured time per step;
 *              peak_share = gflops / the sgemm peak (a 1024^3 cblas_sgemm measured first,
 *              sgemm_peak_gflops in the first line).
 *   predict:   orl_dynamics_predict of all K members on per-member inputs, B = 256 rows each
 *              (one batched step of 4 x 256 model transitions): steps_per_s counts member
 *              transitions; gflops from the forward FLOPs, peak_share as for fit.
 *   rollout:   orl_dynamics_policy_returns of a 2 x 64 tanh-Gaussian MLP policy (sampled) from
 *              256 start states, horizon 200: steps_per_s counts member transitions, the policy's
 *              actions included.
 * Usage: dynamics [--cases pendulum,mujoco] [--epochs N] (default 2)
 * Output: one JSON object per line. Set OPENBLAS_NUM_THREADS to fix the BLAS threads. */
#include "orl/dynamics.h"
#include "orl/policy.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS     20000
#define EPISODES 100

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "dynamics: %s: %s\n", what, orl_error_message());
    return 2;
}

/* a random stable linear system with a quadratic reward, S and A wide */
static orl_dataset *synthetic(int32_t S, int32_t A) {
    orl_header h;
    if (orl_header_init(&h, S, A, ORL_ACTION_KIND_CONTINUOUS, 0)) return NULL;
    h.discount = 0.99;
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_create(&h, ROWS, EPISODES, &ds);
    orl_header_free(&h);
    if (st) return NULL;
    orl_rng rng;
    orl_rng_seed(&rng, 1, 1);
    double *m = malloc((size_t)(S * (S + A)) * sizeof(double));
    for (int32_t i = 0; i < S * (S + A); i++) m[i] = 0.3 * orl_rng_normal(&rng) / sqrt((double)S);
    int64_t per = ROWS / EPISODES;
    for (int64_t n = 0; n < ROWS; n++) {
        float *o = ds->obs + n * S, *a = ds->act + n * A, *y = ds->next_obs + n * S;
        if (n % per == 0)
            for (int32_t j = 0; j < S; j++) o[j] = (float)orl_rng_normal(&rng);
        else
            memcpy(o, ds->next_obs + (n - 1) * S, (size_t)S * sizeof(float));
        double r = 0.0;
        for (int32_t j = 0; j < A; j++) a[j] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
        for (int32_t i = 0; i < S; i++) {
            double v = 0.9 * o[i];
            for (int32_t j = 0; j < S; j++) v += m[i * (S + A) + j] * o[j];
            for (int32_t j = 0; j < A; j++) v += m[i * (S + A) + S + j] * a[j];
            y[i] = (float)(v + 0.01 * orl_rng_normal(&rng));
            r -= (double)o[i] * o[i];
        }
        ds->rew[n] = (float)r;
        ds->terminal[n] = 0;
        ds->timeout[n] = n % per == per - 1;
        ds->logp_b[n] = NAN;
    }
    free(m);
    ds->n_steps = ROWS;
    if (orl_dataset_index(ds)) {
        orl_dataset_free(ds);
        return NULL;
    }
    return ds;
}

/* seconds of the GEMMs of one training step (K members, batch B) replayed alone */
static double replay_gemms(const orl_mlp_config *c, int32_t K, int32_t B, int reps) {
    int32_t maxw = 0;
    for (int l = 0; l <= c->n_layers; l++) maxw = c->widths[l] > maxw ? c->widths[l] : maxw;
    size_t big = (size_t)maxw * (size_t)(maxw > B ? maxw : B);
    float *x = calloc(big, sizeof(float)), *w = calloc(big, sizeof(float));
    float *y = calloc(big, sizeof(float));
    double t0 = cpu_now();
    for (int r = 0; r < reps; r++)
        for (int32_t k = 0; k < K; k++)
            for (int l = 0; l < c->n_layers; l++) {
                int32_t ni = c->widths[l], no = c->widths[l + 1];
                /* forward: y (B, no) = x (B, ni) w^T; backward: dW (no, ni) += dy^T x; dx */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, no, ni, 1.0f, x, ni, w, ni,
                            0.0f, y, no);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, B, 1.0f, y, no, x, ni,
                            1.0f, w, ni);
                if (l > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, ni, no, 1.0f, y, no,
                                w, ni, 0.0f, x, ni);
            }
    double t = (cpu_now() - t0) / reps;
    free(x);
    free(w);
    free(y);
    return t;
}

/* this core's sgemm peak in GFLOP/s: 1024^3 products, about one CPU second */
static double sgemm_peak(void) {
    const int n = 1024;
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(3 * nn * sizeof(float));
    if (!a) return NAN;
    for (size_t i = 0; i < 3 * nn; i++) a[i] = (float)(i % 7) * 0.1f;
    double t0 = cpu_now();
    int reps = 0;
    while (cpu_now() - t0 < 1.0 || reps < 3) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, a + nn, n, 0.0f,
                    a + 2 * nn, n);
        reps++;
    }
    double t = cpu_now() - t0;
    free(a);
    return 2.0 * n * n * n * reps / t * 1e-9;
}

static double peak_gflops;

static int run_case(const char *name, int32_t S, int32_t A, int32_t epochs) {
    orl_dataset *ds = synthetic(S, A);
    if (!ds) return fail("synthetic data");
    orl_dynamics_config cfg = orl_dynamics_config_defaults();
    cfg.holdout = 0.0;
    cfg.patience = 0;
    cfg.epochs = epochs;
    cfg.seed = 1;
    orl_dynamics_trainer *tr = NULL;
    if (orl_dynamics_trainer_create(&cfg, ds, &tr)) return fail("trainer");
    double t0 = cpu_now();
    int finished = 0;
    while (!finished)
        if (orl_dynamics_trainer_epoch(tr, &finished)) return fail("epoch");
    double fit_s = cpu_now() - t0;
    orl_dynamics *d = NULL;
    if (orl_dynamics_trainer_finish(tr, &d)) return fail("finish");
    orl_dynamics_trainer_free(tr);

    const orl_mlp_config *c = &d->ens.cfg;
    int32_t K = cfg.members, B = cfg.batch;
    double steps = (double)epochs * ceil((double)ROWS / B);
    double member_rows = (double)K * ROWS * epochs;
    /* forward + backward with parameter gradients (2x) + dx of every layer but the first */
    double fwd = orl_mlp_forward_flops(c, 1);
    double first = 2.0 * c->widths[0] * c->widths[1];
    double flops = member_rows * (3.0 * fwd - first);
    double replay = replay_gemms(c, K, B, 20);
    double step_s = fit_s / steps;
    printf("{\"bench\":\"dynamics\",\"case\":\"%s\",\"phase\":\"fit\",\"obs\":%d,\"act\":%d,"
           "\"members\":%d,\"hidden\":%d,\"layers\":%d,\"batch\":%d,\"rows\":%d,\"epochs\":%d,"
           "\"cpu_seconds\":%.3f,\"member_samples_per_s\":%.0f,\"rows_per_s\":%.0f,"
           "\"gflops\":%.2f,\"sgemm_share\":%.3f,\"peak_share\":%.3f,\"train_loss\":%.5g}\n",
           name, S, A, K, cfg.hidden, cfg.layers, B, ROWS, epochs, fit_s, member_rows / fit_s,
           (double)ROWS * epochs / fit_s, flops / fit_s * 1e-9, replay / step_s,
           flops / fit_s * 1e-9 / peak_gflops, d->train_loss);
    fflush(stdout);

    /* batched prediction: K x 256 member transitions per call */
    int32_t PB = 256;
    size_t k_ = (size_t)K, pb = (size_t)PB, s_ = (size_t)S, a_ = (size_t)A;
    orl_dynamics_work *w = NULL;
    if (orl_dynamics_work_create(d, PB, &w)) return fail("work");
    float *obs = malloc(k_ * pb * s_ * sizeof(float));
    float *act = malloc(k_ * pb * a_ * sizeof(float));
    float *next = malloc(k_ * pb * s_ * sizeof(float));
    float *rew = malloc(k_ * pb * sizeof(float)), *done = malloc(k_ * pb * sizeof(float));
    for (size_t k = 0; k < k_; k++) {
        memcpy(obs + k * pb * s_, ds->obs, pb * s_ * sizeof(float));
        memcpy(act + k * pb * a_, ds->act, pb * a_ * sizeof(float));
    }
    int calls = 0;
    t0 = cpu_now();
    while (cpu_now() - t0 < 2.0 || calls < 10) {
        orl_dynamics_predict(d, w, obs, act, NULL, 1, PB, next, rew, done);
        calls++;
    }
    double pred_s = cpu_now() - t0;
    printf("{\"bench\":\"dynamics\",\"case\":\"%s\",\"phase\":\"predict\",\"members\":%d,"
           "\"batch\":%d,\"calls\":%d,\"cpu_seconds\":%.3f,\"steps_per_s\":%.0f,"
           "\"us_per_call\":%.1f,\"gflops\":%.2f,\"peak_share\":%.3f}\n",
           name, K, PB, calls, pred_s, (double)calls * K * PB / pred_s, 1e6 * pred_s / calls,
           (double)calls * K * PB * fwd / pred_s * 1e-9,
           (double)calls * K * PB * fwd / pred_s * 1e-9 / peak_gflops);
    fflush(stdout);

    /* rollouts of an MLP policy from 256 starts, horizon 200 */
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    float lo[16], hi[16];
    for (int32_t j = 0; j < A; j++) lo[j] = -1.0f, hi[j] = 1.0f;
    spec.info.algorithm = "bench";
    spec.info.obs_dim = S;
    spec.info.act_dim = A;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    spec.info.act_low = lo;
    spec.info.act_high = hi;
    spec.head = ORL_POLICY_HEAD_TANH_GAUSSIAN;
    spec.mlp.n_layers = 3;
    spec.mlp.widths[0] = S;
    spec.mlp.widths[1] = spec.mlp.widths[2] = 64;
    spec.mlp.widths[3] = 2 * A;
    spec.mlp.activation = ORL_ACTIVATION_TANH;
    spec.log_std_min = -5.0f;
    spec.log_std_max = 2.0f;
    orl_rng rng;
    orl_rng_seed(&rng, 1, 2);
    orl_policy *p = NULL;
    if (orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p)) return fail("policy");
    int64_t n_starts = 256, horizon = 200, model_steps = 0;
    double *ret = malloc((size_t)n_starts * k_ * sizeof(double));
    t0 = cpu_now();
    if (orl_dynamics_policy_returns(d, p, ds->obs, n_starts, 1, 0.99, horizon,
                                    ORL_POLICY_MODE_SAMPLE, &rng, ret, &model_steps))
        return fail("rollouts");
    double roll_s = cpu_now() - t0;
    printf("{\"bench\":\"dynamics\",\"case\":\"%s\",\"phase\":\"rollout\",\"members\":%d,"
           "\"starts\":%lld,\"horizon\":%lld,\"policy\":\"2x64 tanh-gaussian\",\"cpu_seconds\":"
           "%.3f,\"steps\":%lld,\"steps_per_s\":%.0f}\n",
           name, K, (long long)n_starts, (long long)horizon, roll_s, (long long)model_steps,
           (double)model_steps / roll_s);
    fflush(stdout);
    free(ret);
    orl_policy_free(p);
    free(obs);
    free(act);
    free(next);
    free(rew);
    free(done);
    orl_dynamics_work_free(w);
    orl_dynamics_free(d);
    orl_dataset_free(ds);
    return 0;
}

int main(int argc, char **argv) {
    const char *cases = "pendulum,mujoco";
    int32_t epochs = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc)
            cases = argv[++i];
        else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: dynamics [--cases pendulum,mujoco] [--epochs N]\n");
            return 2;
        }
    }
    if (epochs < 1) epochs = 1;
    peak_gflops = sgemm_peak();
    printf("{\"bench\":\"dynamics\",\"sgemm_peak_gflops\":%.2f}\n", peak_gflops);
    fflush(stdout);
    if (strstr(cases, "pendulum") && run_case("pendulum", 3, 1, epochs)) return 2;
    if (strstr(cases, "mujoco") && run_case("mujoco", 17, 6, epochs)) return 2;
    return 0;
}
