/* bench/nn: training-step throughput of the cblas MLP against the sgemm peak at its shapes.
 *
 * Cases, ReLU, batch B = 256, fan-in uniform init, seed 1:
 *   a: 17 -> 256 -> 256 -> 6        b: 4 -> 64 -> 64 -> 2
 * One training step = forward, the MSE loss gradient (computed inline), zeroing the gradient
 * buffer, backward with parameter gradients (no input gradient), one Adam step.
 *
 * FLOP count per step (only the linear layers; 2 FLOPs per multiply-add), with layer l mapping
 * I_l -> O_l:
 *   forward      F  = 2 B sum_l I_l O_l                  (= orl_mlp_forward_flops)
 *   dW           F                                        (dW_l += dout_l^T in_l)
 *   dx           F - 2 B I_0 O_0                          (dout_l W_l for l >= 1; no dx of the
 *                                                          network input is asked for)
 *   per step     3 F - 2 B I_0 O_0
 * Bias, activation, loss and Adam work is not counted (it is O(B sum O_l + P)).
 *   a: F = 2*256*(17*256 + 256*256 + 256*6) = 36,569,088; per step 107,479,040
 *   b: F = 2*256*(4*64 + 64*64 + 64*2)      =  2,293,760; per step  6,750,208
 *
 * sgemm_gflops is the same run's cblas_sgemm rate on exactly that step's GEMMs (same shapes,
 * transposes, leading dimensions and beta) timed alone, with nothing else in the loop.
 * Both rates are the best of 15 timing windows of 0.1 s (the least disturbed by other load).
 *
 * The fit kit (fit.h) runs the same training step on the same network for case a:
 * orl_fit_forward, the same loss gradient, orl_fit_backward, orl_fit_step (Adam, then the
 * gradient buffer zeroed); fit_steps_per_s is timed in windows interleaved with the raw step's
 * (raw, kit, raw, kit, ...) so both see the same load, and fit_overhead = raw / kit - 1 (the
 * goal is within 0.03). fit_same_bits checks the kit's parameters equal the raw loop's after
 * a few steps from the same seed. The raw loop's gradient buffer is 64-byte aligned like the
 * kit's (and like orl's workspaces): with a malloc'd one, the backward GEMMs that accumulate
 * into it (beta = 1) ran 10-18% slower in quick runs on an AVX-512 machine. The argument "quick"
 * runs 2 windows, one thread (a smoke test, not a measurement). Output: one JSON object per line.
 */
#include "orl/fit.h"
#include "orl/nn.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH          256
#define WINDOW_SECONDS 0.1

static int windows = 15;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_state {
    orl_mlp mlp;
    orl_mlp_work work;
    orl_adam opt;
    float *x;     // (B, I)
    float *y;     // (B, O)
    float *dout;  // (B, O)
    float *grads; // (P)
    orl_fit fit;  // the same network in the fit kit (case a)
} bench_state;

static void train_step(bench_state *s) {
    const orl_mlp_config *cfg = &s->mlp.cfg;
    int32_t n_out = cfg->widths[cfg->n_layers];
    orl_mlp_forward(&s->mlp, &s->work, s->x, BATCH, NULL);
    /* MSE loss gradient, mean over B * O */
    const float *out = s->work.out[cfg->n_layers - 1];
    int64_t n = (int64_t)BATCH * n_out;
    float scale = 2.0f / (float)n;
    for (int64_t i = 0; i < n; i++) s->dout[i] = scale * (out[i] - s->y[i]);
    memset(s->grads, 0, (size_t)s->mlp.n_params * sizeof(float));
    orl_mlp_backward(&s->mlp, &s->work, s->dout, s->grads, NULL);
    orl_adam_step(&s->opt, s->mlp.params, s->grads, -1.0f);
}

/* the same step through the fit kit */
static void fit_step(bench_state *s) {
    const orl_mlp_config *cfg = &s->fit.net.cfg;
    int32_t n_out = cfg->widths[cfg->n_layers];
    const float *out = orl_fit_forward(&s->fit, s->x, BATCH);
    int64_t n = (int64_t)BATCH * n_out;
    float scale = 2.0f / (float)n;
    for (int64_t i = 0; i < n; i++) s->dout[i] = scale * (out[i] - s->y[i]);
    orl_fit_backward(&s->fit, s->dout, NULL);
    orl_fit_step(&s->fit, -1.0f);
}

/* the step's GEMMs alone: forward, dW, and dx for layers above the first */
static void gemms_only(bench_state *s) {
    const orl_mlp_config *cfg = &s->mlp.cfg;
    int32_t n_layers = cfg->n_layers;
    orl_mlp_work *w = &s->work;
    const float *in = s->x;
    for (int32_t l = 0; l < n_layers; l++) {
        int32_t ni = cfg->widths[l], no = cfg->widths[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, no, ni, 1.0f, in, ni,
                    s->mlp.w[l], ni, 0.0f, w->pre[l], no);
        in = w->out[l];
    }
    for (int32_t l = n_layers - 1; l >= 0; l--) {
        int32_t ni = cfg->widths[l], no = cfg->widths[l + 1];
        const float *layer_in = l == 0 ? s->x : w->out[l - 1];
        const float *g = l == n_layers - 1 ? s->dout : w->grad_a;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, BATCH, 1.0f, g, no, layer_in,
                    ni, 1.0f, s->grads + (s->mlp.w[l] - s->mlp.params), ni);
        if (l > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, ni, no, 1.0f, g, no,
                        s->mlp.w[l], ni, 0.0f, w->grad_b, ni);
    }
}

/* best calls per second of fn over `windows` windows */
static double best_rate(void (*fn)(bench_state *), bench_state *s) {
    double best = 0.0;
    for (int k = 0; k < windows; k++) {
        long count = 0;
        double start = now(), elapsed;
        do {
            for (int i = 0; i < 10; i++) fn(s);
            count += 10;
            elapsed = now() - start;
        } while (elapsed < WINDOW_SECONDS);
        double rate = (double)count / elapsed;
        if (rate > best) best = rate;
    }
    return best;
}

/* best calls per second of a and of b over interleaved windows (a, b, a, b, ...) */
static void best_rates_interleaved(void (*a)(bench_state *), void (*b)(bench_state *),
                                   bench_state *s, double *rate_a, double *rate_b) {
    *rate_a = *rate_b = 0.0;
    for (int k = 0; k < 2 * windows; k++) {
        void (*fn)(bench_state *) = k % 2 ? b : a;
        double *best = k % 2 ? rate_b : rate_a;
        long count = 0;
        double start = now(), elapsed;
        do {
            for (int i = 0; i < 10; i++) fn(s);
            count += 10;
            elapsed = now() - start;
        } while (elapsed < WINDOW_SECONDS);
        double rate = (double)count / elapsed;
        if (rate > *best) *best = rate;
    }
}

static int run_case(const char *name, int32_t n_layers, const int32_t *widths, int threads,
                    int with_fit) {
    orl_mlp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.n_layers = n_layers;
    for (int32_t l = 0; l <= n_layers; l++) cfg.widths[l] = widths[l];
    cfg.activation = ORL_ACTIVATION_RELU;
    cfg.init = ORL_INIT_FAN_IN_UNIFORM;
    openblas_set_num_threads(threads);

    bench_state s;
    memset(&s, 0, sizeof(s));
    orl_rng rng;
    orl_rng_seed(&rng, 1, 0);
    orl_adam_config acfg = orl_adam_defaults();
    if (orl_mlp_create(&s.mlp, &cfg, &rng) != ORL_OK ||
        orl_mlp_work_init(&s.work, &cfg, BATCH) != ORL_OK ||
        orl_adam_init(&s.opt, &acfg, s.mlp.n_params) != ORL_OK) {
        fprintf(stderr, "bench/nn: %s\n", orl_error_message());
        return 1;
    }
    int32_t n_in = widths[0], n_out = widths[n_layers];
    s.x = malloc((size_t)BATCH * (size_t)n_in * sizeof(float));
    s.y = malloc((size_t)BATCH * (size_t)n_out * sizeof(float));
    s.dout = malloc((size_t)BATCH * (size_t)n_out * sizeof(float));
    s.grads = aligned_alloc(64, ((size_t)s.mlp.n_params * sizeof(float) + 63) / 64 * 64);
    if (!s.x || !s.y || !s.dout || !s.grads) {
        fprintf(stderr, "bench/nn: out of memory\n");
        return 1;
    }
    for (int64_t i = 0; i < (int64_t)BATCH * n_in; i++) s.x[i] = (float)orl_rng_normal(&rng);
    for (int64_t i = 0; i < (int64_t)BATCH * n_out; i++) s.y[i] = (float)orl_rng_normal(&rng);

    /* the kit on the same initial parameters: a few steps of each must give the same bits */
    int same_bits = 0;
    if (with_fit) {
        orl_rng fit_rng;
        orl_rng_seed(&fit_rng, 1, 0);
        orl_fit_config fc = orl_fit_defaults(acfg.lr, BATCH);
        if (orl_fit_init(&s.fit, &cfg, &fc, &fit_rng) != ORL_OK) {
            fprintf(stderr, "bench/nn: %s\n", orl_error_message());
            return 1;
        }
        for (int i = 0; i < 3; i++) train_step(&s), fit_step(&s);
        same_bits =
            memcmp(s.fit.net.params, s.mlp.params, (size_t)s.mlp.n_params * sizeof(float)) == 0;
    }

    double fwd = orl_mlp_forward_flops(&cfg, BATCH);
    double flops = 3.0 * fwd - 2.0 * BATCH * (double)widths[0] * (double)widths[1];

    /* warm up both loops (BLAS buffers, page faults, clocks) */
    for (int i = 0; i < 50; i++) train_step(&s), gemms_only(&s);
    double steps_per_s = 0.0, fit_per_s = 0.0;
    if (with_fit) {
        for (int i = 0; i < 50; i++) fit_step(&s);
        best_rates_interleaved(train_step, fit_step, &s, &steps_per_s, &fit_per_s);
    } else {
        steps_per_s = best_rate(train_step, &s);
    }
    double gemm_per_s = best_rate(gemms_only, &s);
    int finite = orl_params_finite(s.mlp.params, s.mlp.n_params);

    printf("{\"bench\":\"nn\",\"case\":\"%s\",\"threads\":%d,\"batch\":%d,\"steps_per_s\":%.1f,"
           "\"gflops\":%.2f,\"sgemm_gflops\":%.2f,\"flops_per_step\":%.0f,\"params\":%lld,"
           "\"finite\":%s",
           name, threads, BATCH, steps_per_s, steps_per_s * flops * 1e-9, gemm_per_s * flops * 1e-9,
           flops, (long long)s.mlp.n_params, finite ? "true" : "false");
    if (with_fit)
        printf(",\"fit_steps_per_s\":%.1f,\"fit_overhead\":%.4f,\"fit_same_bits\":%s", fit_per_s,
               steps_per_s / fit_per_s - 1.0, same_bits ? "true" : "false");
    printf("}\n");
    fflush(stdout);

    free(s.x), free(s.y), free(s.dout), free(s.grads);
    orl_fit_free(&s.fit);
    orl_adam_free(&s.opt);
    orl_mlp_work_free(&s.work);
    orl_mlp_free(&s.mlp);
    return 0;
}

int main(int argc, char **argv) {
    const int32_t case_a[] = {17, 256, 256, 6};
    const int32_t case_b[] = {4, 64, 64, 2};
    int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    if (quick) windows = 2;
    for (int threads = 1; threads <= (quick ? 1 : 2); threads++) {
        if (run_case("a", 3, case_a, threads, 1)) return 1;
        if (run_case("b", 3, case_b, threads, 0)) return 1;
    }
    return 0;
}
