/* Tests of nn/gemm.c: the small-shape kernel (nn_sgemm_small) and the dispatcher (nn_sgemm)
 * against a plain double-precision product on random shapes, the edge sizes of the kernel's
 * tiles included (1, odd, 5, 6, 7, 15, 16, 17, 63, 65, 257), all four transpose forms the kernel
 * takes (A or A^T; B or B^T), beta 0 and 1, leading dimensions wider than the matrices; the
 * kernel's bits against the order it promises (fused products over k in increasing k into a
 * zero accumulator, then C + acc); and the same bits on a second call. Every random test
 * prints its seed on failure. */
#include "nn/internal.h"
#include "orl/rng.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the elements of op(X) (rows, cols) from X stored with leading dimension ld */
static float at(const float *x, int trans, int64_t ld, int32_t r, int32_t c) {
    return trans ? x[(int64_t)c * ld + r] : x[(int64_t)r * ld + c];
}

/* one random product through nn_sgemm_small (nn_sgemm with dispatch 1, nn_sgemm_narrow with
 * dispatch 2) checked against the
 * double reference: |C - ref| <= 1e-5 (1 + sum_k |a||b|) elementwise, untouched padding */
static void check_product(uint64_t seed, int trans_a, int trans_b, int32_t M, int32_t N, int32_t K,
                          float beta, int pad, int dispatch) {
    orl_rng rng;
    orl_rng_seed(&rng, seed, 0);
    int32_t lda = (trans_a ? M : K) + pad, ldb = (trans_b ? K : N) + pad, ldc = N + pad;
    int64_t na = (int64_t)(trans_a ? K : M) * lda, nb = (int64_t)(trans_b ? N : K) * ldb,
            nc = (int64_t)M * ldc;
    float *a = malloc((size_t)na * sizeof(float)), *b = malloc((size_t)nb * sizeof(float));
    float *c = malloc((size_t)nc * sizeof(float)), *c0 = malloc((size_t)nc * sizeof(float));
    cr_assert(a && b && c && c0);
    for (int64_t i = 0; i < na; i++) a[i] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
    for (int64_t i = 0; i < nb; i++) b[i] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
    for (int64_t i = 0; i < nc; i++) c0[i] = c[i] = (float)(2.0 * orl_rng_uniform(&rng) - 1.0);
    if (dispatch == 2) { /* the narrow kernel: x W^T alone */
        cr_assert(!trans_a && trans_b);
        if (!nn_sgemm_narrow(M, N, K, a, lda, b, ldb, beta, c, ldc)) {
            free(a), free(b), free(c), free(c0);
            return;
        }
    } else if (dispatch) {
        nn_sgemm(trans_a, trans_b, M, N, K, a, lda, b, ldb, beta, c, ldc);
    } else if (!nn_sgemm_small(trans_a, trans_b, M, N, K, a, lda, b, ldb, beta, c, ldc)) {
        free(a), free(b), free(c), free(c0);
        return; /* no AVX2 + FMA here, or a shape past the kernel's reach: checked elsewhere */
    }
    for (int32_t i = 0; i < M; i++) {
        for (int32_t j = 0; j < N; j++) {
            double ref = beta != 0.0f ? (double)c0[(int64_t)i * ldc + j] : 0.0, mag = 0.0;
            for (int32_t k = 0; k < K; k++) {
                double p = (double)at(a, trans_a, lda, i, k) * (double)at(b, trans_b, ldb, k, j);
                ref += p;
                mag += fabs(p);
            }
            double got = (double)c[(int64_t)i * ldc + j];
            cr_assert(fabs(got - ref) <= 1e-5 * (1.0 + mag),
                      "seed %llu %c%c M %d N %d K %d beta %g: C[%d, %d] = %.9g, reference %.9g",
                      (unsigned long long)seed, trans_a ? 't' : 'n', trans_b ? 't' : 'n', M, N, K,
                      (double)beta, i, j, got, ref);
        }
        for (int32_t j = N; j < ldc; j++)
            cr_assert(c[(int64_t)i * ldc + j] == c0[(int64_t)i * ldc + j],
                      "seed %llu: padding column %d of row %d written", (unsigned long long)seed, j,
                      i);
    }
    free(a), free(b), free(c), free(c0);
}

static const int32_t edge[] = {1, 2, 5, 6, 7, 15, 16, 17, 23, 33, 63, 64, 65, 257};
#define N_EDGE ((int)(sizeof edge / sizeof edge[0]))

Test(nn_gemm, small_kernel_matches_double_on_edge_sizes) {
    uint64_t seed = 11;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int e = 0; e < N_EDGE; e++) {
                /* each edge size as M, as N and as K, the other two drawn from the list */
                int32_t x = edge[e], y = edge[(e + 3) % N_EDGE], z = edge[(e + 7) % N_EDGE];
                check_product(seed++, ta, tb, x, y, z, 0.0f, 0, 0);
                check_product(seed++, ta, tb, y, x, z, 1.0f, 3, 0);
                check_product(seed++, ta, tb, z, y, x, e % 2 ? 1.0f : 0.0f, 1, 0);
            }
}

Test(nn_gemm, small_kernel_matches_double_on_random_shapes) {
    orl_rng rng;
    uint64_t seed = 2026;
    orl_rng_seed(&rng, seed, 1);
    for (int t = 0; t < 120; t++) {
        int32_t M = 1 + (int32_t)(orl_rng_uniform(&rng) * 300.0);
        int32_t N = 1 + (int32_t)(orl_rng_uniform(&rng) * 300.0);
        int32_t K = 1 + (int32_t)(orl_rng_uniform(&rng) * 300.0);
        int ta = orl_rng_uniform(&rng) < 0.5, tb = orl_rng_uniform(&rng) < 0.5;
        float beta = orl_rng_uniform(&rng) < 0.5 ? 0.0f : 1.0f;
        int pad = (int)(orl_rng_uniform(&rng) * 4.0);
        check_product(seed * 1000 + (uint64_t)t, ta, tb, M, N, K, beta, pad, t % 3 == 0);
    }
}

Test(nn_gemm, dispatch_matches_double_at_the_learners_shapes) {
    /* (ta, tb, M, N, K) of a 64- and a 256-wide update: forwards, dW, dx */
    static const int32_t shapes[][5] = {
        {0, 1, 256, 64, 17},  {0, 1, 256, 64, 23},   {0, 1, 256, 64, 64},   {0, 1, 256, 6, 64},
        {0, 1, 256, 1, 64},   {1, 0, 64, 64, 256},   {1, 0, 64, 23, 256},   {1, 0, 6, 64, 256},
        {0, 0, 256, 64, 64},  {0, 0, 256, 23, 64},   {0, 0, 256, 64, 6},    {0, 1, 256, 256, 17},
        {0, 1, 256, 256, 23}, {0, 1, 256, 256, 256}, {0, 0, 256, 256, 256}, {1, 0, 256, 256, 256},
        {0, 1, 256, 12, 256}};
    for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)
        for (int beta = 0; beta < 2; beta++)
            check_product(100 + (uint64_t)s, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                          shapes[s][4], (float)beta, 0, 1);
}

/* the promised order: acc = fma(a_k, b_k, acc) for k = 0, 1, ... from 0, then C + acc */
Test(nn_gemm, small_kernel_sums_in_the_documented_order) {
    orl_rng rng;
    orl_rng_seed(&rng, 77, 0);
    int32_t M = 13, N = 37, K = 29;
    float a[13 * 29], b[29 * 37], c[13 * 37], c0[13 * 37];
    for (int i = 0; i < M * K; i++) a[i] = (float)(orl_rng_uniform(&rng) - 0.5) * 1e3f;
    for (int i = 0; i < K * N; i++) b[i] = (float)(orl_rng_uniform(&rng) - 0.5);
    for (int i = 0; i < M * N; i++) c0[i] = c[i] = (float)(orl_rng_uniform(&rng) - 0.5) * 1e4f;
    if (!nn_sgemm_small(0, 0, M, N, K, a, K, b, N, 1.0f, c, N)) return;
    for (int32_t i = 0; i < M; i++)
        for (int32_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int32_t k = 0; k < K; k++) acc = fmaf(a[i * K + k], b[k * N + j], acc);
            cr_assert(c[i * N + j] == c0[i * N + j] + acc, "seed 77: C[%d, %d] %.9g against %.9g",
                      i, j, (double)c[i * N + j], (double)(c0[i * N + j] + acc));
        }
}

/* the narrow kernel (x W^T, N < 16): every N from 2 to 15 against the edge sizes as M and K
 * (row tails of its 4- and 8-row tiles, K tails of its 8 lanes), beta 0 and 1, padding; N = 1 */
Test(nn_gemm, narrow_kernel_matches_double) {
    uint64_t seed = 500;
    for (int32_t N = 1; N < 16; N++)
        for (int e = 0; e < N_EDGE; e++) {
            int32_t M = edge[e], K = edge[(e + 5) % N_EDGE];
            check_product(seed++, 0, 1, M, N, K, 0.0f, 0, 2);
            check_product(seed++, 0, 1, K, N, M, 1.0f, 2, 2);
        }
}

/* a narrow product's row does not depend on the rows beside it or on the batch: each row alone
 * gives the bits it has inside the batch (acting on one observation against a batch), and
 * the fused bias and ReLU give the bits of the separate sweep */
Test(nn_gemm, narrow_rows_alone_and_fused_bias_give_the_batch_bits) {
    orl_rng rng;
    orl_rng_seed(&rng, 31, 0);
    enum { M = 37, N = 6, K = 67 };
    static float x[M * K], w[N * K], bias[N], c[M * N], one[N], fused[M * N];
    for (int i = 0; i < M * K; i++) x[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < N * K; i++) w[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < N; i++) bias[i] = (float)orl_rng_normal(&rng);
    if (!nn_sgemm_narrow(M, N, K, x, K, w, K, 0.0f, c, N)) return;
    for (int32_t i = 0; i < M; i++) {
        nn_sgemm_narrow(1, N, K, x + i * K, K, w, K, 0.0f, one, N);
        cr_assert(memcmp(one, c + i * N, sizeof one) == 0, "seed 31: row %d alone differs", i);
    }
    for (int relu = 0; relu < 2; relu++) {
        cr_assert(nn_sgemm_forward_bias(M, N, K, x, K, w, K, bias, relu, fused, N));
        for (int32_t i = 0; i < M; i++)
            for (int32_t j = 0; j < N; j++) {
                float z = c[i * N + j] + bias[j];
                if (relu && signbit(z)) z = 0.0f;
                cr_assert(memcmp(&z, &fused[i * N + j], sizeof z) == 0,
                          "seed 31: relu %d (%d, %d) %.9g against %.9g", relu, i, j, (double)z,
                          (double)fused[i * N + j]);
            }
    }
}

Test(nn_gemm, same_bits_on_a_second_call) {
    orl_rng rng;
    orl_rng_seed(&rng, 5, 0);
    int32_t M = 256, N = 64, K = 23;
    static float x[256 * 23], w[64 * 23], c1[256 * 64], c2[256 * 64];
    for (int i = 0; i < M * K; i++) x[i] = (float)orl_rng_normal(&rng);
    for (int i = 0; i < N * K; i++) w[i] = (float)orl_rng_normal(&rng);
    nn_sgemm(0, 1, M, N, K, x, K, w, K, 0.0f, c1, N);
    nn_sgemm(0, 1, M, N, K, x, K, w, K, 0.0f, c2, N);
    cr_assert(memcmp(c1, c2, sizeof c1) == 0, "seed 5: two calls differ");
}

/* the fused forward: the same bits as the product followed by + bias and the sign-bit ReLU */
Test(nn_gemm, fused_bias_relu_matches_the_separate_sweep) {
    orl_rng rng;
    orl_rng_seed(&rng, 9, 0);
    static const int32_t shapes[][3] = {{256, 64, 17}, {7, 32, 23}, {1, 16, 64}, {65, 48, 5}};
    for (int s = 0; s < 4; s++) {
        int32_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        static float x[256 * 64], w[64 * 64], bias[64], fused[256 * 64], plain[256 * 64];
        for (int i = 0; i < M * K; i++) x[i] = (float)orl_rng_normal(&rng);
        for (int i = 0; i < N * K; i++) w[i] = (float)orl_rng_normal(&rng);
        for (int i = 0; i < N; i++) bias[i] = (float)orl_rng_normal(&rng);
        for (int relu = 0; relu < 2; relu++) {
            if (!nn_sgemm_forward_bias(M, N, K, x, K, w, K, bias, relu, fused, N)) return;
            nn_sgemm(0, 1, M, N, K, x, K, w, K, 0.0f, plain, N);
            for (int32_t i = 0; i < M; i++)
                for (int32_t j = 0; j < N; j++) {
                    float z = plain[i * N + j] + bias[j];
                    if (relu && signbit(z)) z = 0.0f;
                    cr_assert(memcmp(&z, &fused[i * N + j], sizeof z) == 0,
                              "seed 9: M %d N %d K %d relu %d: (%d, %d) %.9g against %.9g", M, N, K,
                              relu, i, j, (double)fused[i * N + j], (double)z);
                }
        }
    }
}
