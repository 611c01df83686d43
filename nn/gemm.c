/* The matrix products of nn/: row-major C = op(A) op(B) (+ C), alpha 1, beta 0 or 1, through
 * a small register-blocked kernel of our own where it is faster than OpenBLAS (the shapes of a
 * small network's update: batch 256 against widths 16-64, and first layers with 17-23 inputs),
 * and through cblas_sgemm everywhere else.
 *
 * Why: at these shapes OpenBLAS spends a good part of each call outside its kernel (packing
 * both operands, clearing C for beta = 0, a kernel tuned for large blocks). The kernel here
 * reads its operands in place (only a forward's W is transposed, into a stack buffer of at most
 * SMALL_MAX_KN floats), keeps a 6 x 16 tile of C in twelve AVX2 registers, and sums each
 * element of C in one fixed order: its products over k in increasing k, fused multiply-adds
 * into an accumulator that starts at zero, then C = acc (beta 0) or C = C + acc (beta 1). The
 * result does not depend on the thread count or on the tile an element falls in. (OpenBLAS's
 * sgemm kernel sums in the same order for these shapes on the CPUs we measured, so most
 * products give the same bits either way; nothing relies on that.)
 *
 * The kernel is x86-64 AVX2 + FMA code (target attribute, chosen at run time); where the CPU or
 * the compiler lacks them, every product goes to cblas_sgemm. Not here: alpha other than 1,
 * column-major, threads (the small shapes gain nothing from them). */
#include "nn/internal.h"

#include <assert.h>
#include <cblas.h>
#include <stdint.h>

#if NN_X86
#include <immintrin.h>
#endif

/* a forward's W^T is built on the stack: at most this many floats (32 KiB) */
#define SMALL_MAX_KN 8192
/* the kernel's reach: every dimension at most this */
#define SMALL_MAX_DIM 512

#if NN_X86
#define NN_AVX2_FMA __attribute__((target("avx2,fma")))

/* one tile of C: rows [0, mr) (mr <= 6) by 16 columns at c (row stride ldc), = or += the sum
 * over k < K of a[r sai + k sak] b[k ldb + j]; full: all 16 columns, else the lanes of m0, m1 */
static inline NN_AVX2_FMA __attribute__((always_inline)) void
small_tile(int mr, int32_t K, const float *a, int64_t sai, int64_t sak, const float *b, int64_t ldb,
           float *c, int64_t ldc, int accumulate, __m256i m0, __m256i m1, int full,
           const float *bias, int relu) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int32_t k = 0; k < K; k++) {
        const float *bk = b + (int64_t)k * ldb;
        __m256 b0, b1;
        if (full) {
            b0 = _mm256_loadu_ps(bk);
            b1 = _mm256_loadu_ps(bk + 8);
        } else {
            b0 = _mm256_maskload_ps(bk, m0);
            b1 = _mm256_maskload_ps(bk + 8, m1);
        }
        const float *ak = a + (int64_t)k * sak;
        __m256 x = _mm256_broadcast_ss(ak);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        if (mr > 1) {
            x = _mm256_broadcast_ss(ak + sai);
            c10 = _mm256_fmadd_ps(x, b0, c10);
            c11 = _mm256_fmadd_ps(x, b1, c11);
        }
        if (mr > 2) {
            x = _mm256_broadcast_ss(ak + 2 * sai);
            c20 = _mm256_fmadd_ps(x, b0, c20);
            c21 = _mm256_fmadd_ps(x, b1, c21);
        }
        if (mr > 3) {
            x = _mm256_broadcast_ss(ak + 3 * sai);
            c30 = _mm256_fmadd_ps(x, b0, c30);
            c31 = _mm256_fmadd_ps(x, b1, c31);
        }
        if (mr > 4) {
            x = _mm256_broadcast_ss(ak + 4 * sai);
            c40 = _mm256_fmadd_ps(x, b0, c40);
            c41 = _mm256_fmadd_ps(x, b1, c41);
        }
        if (mr > 5) {
            x = _mm256_broadcast_ss(ak + 5 * sai);
            c50 = _mm256_fmadd_ps(x, b0, c50);
            c51 = _mm256_fmadd_ps(x, b1, c51);
        }
    }
    __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m256 bias0 = _mm256_setzero_ps(), bias1 = bias0;
    if (bias) {
        bias0 = full ? _mm256_loadu_ps(bias) : _mm256_maskload_ps(bias, m0);
        bias1 = full ? _mm256_loadu_ps(bias + 8) : _mm256_maskload_ps(bias + 8, m1);
    }
    for (int r = 0; r < mr; r++) {
        float *cr = c + (int64_t)r * ldc;
        __m256 v0 = acc[r][0], v1 = acc[r][1];
        if (bias) {
            /* a forward's epilogue: + bias, then ReLU by the sign bit (the operations of
             * nn.c's bias_act_forward) */
            v0 = _mm256_add_ps(v0, bias0);
            v1 = _mm256_add_ps(v1, bias1);
            if (relu) {
                v0 = _mm256_andnot_ps(
                    _mm256_castsi256_ps(_mm256_srai_epi32(_mm256_castps_si256(v0), 31)), v0);
                v1 = _mm256_andnot_ps(
                    _mm256_castsi256_ps(_mm256_srai_epi32(_mm256_castps_si256(v1), 31)), v1);
            }
        }
        if (full) {
            if (accumulate) {
                v0 = _mm256_add_ps(_mm256_loadu_ps(cr), v0);
                v1 = _mm256_add_ps(_mm256_loadu_ps(cr + 8), v1);
            }
            _mm256_storeu_ps(cr, v0);
            _mm256_storeu_ps(cr + 8, v1);
        } else {
            if (accumulate) {
                v0 = _mm256_add_ps(_mm256_maskload_ps(cr, m0), v0);
                v1 = _mm256_add_ps(_mm256_maskload_ps(cr + 8, m1), v1);
            }
            _mm256_maskstore_ps(cr, m0, v0);
            _mm256_maskstore_ps(cr + 8, m1, v1);
        }
    }
}

/* C (M, N; row stride ldc) = or += A' B, A'[i, k] = a[i sai + k sak], B (K, N; row stride ldb):
 * column panels of 16, row tiles of 6, the last partial panel and tile masked; with bias (N)
 * (beta 0), C = A' B + bias, then ReLU when relu */
static NN_AVX2_FMA void small_kernel(int32_t M, int32_t N, int32_t K, const float *a, int64_t sai,
                                     int64_t sak, const float *b, int64_t ldb, float *c,
                                     int64_t ldc, int accumulate, const float *bias, int relu) {
    for (int32_t j = 0; j < N; j += 16) {
        int32_t nr = N - j < 16 ? N - j : 16;
        int32_t lane[16];
        for (int32_t t = 0; t < 16; t++) lane[t] = t < nr ? -1 : 0;
        __m256i m0 = _mm256_loadu_si256((const __m256i *)lane);
        __m256i m1 = _mm256_loadu_si256((const __m256i *)(lane + 8));
        const float *bj = b + j, *biasj = bias ? bias + j : NULL;
        float *cj = c + j;
        int32_t i = 0;
        if (nr == 16)
            for (; i + 6 <= M; i += 6)
                small_tile(6, K, a + i * sai, sai, sak, bj, ldb, cj + i * ldc, ldc, accumulate, m0,
                           m1, 1, biasj, relu);
        else
            for (; i + 6 <= M; i += 6)
                small_tile(6, K, a + i * sai, sai, sak, bj, ldb, cj + i * ldc, ldc, accumulate, m0,
                           m1, 0, biasj, relu);
        const float *ai = a + i * sai;
        float *ci = cj + i * ldc;
        switch (M - i) {
        case 5:
            small_tile(5, K, ai, sai, sak, bj, ldb, ci, ldc, accumulate, m0, m1, 0, biasj, relu);
            break;
        case 4:
            small_tile(4, K, ai, sai, sak, bj, ldb, ci, ldc, accumulate, m0, m1, 0, biasj, relu);
            break;
        case 3:
            small_tile(3, K, ai, sai, sak, bj, ldb, ci, ldc, accumulate, m0, m1, 0, biasj, relu);
            break;
        case 2:
            small_tile(2, K, ai, sai, sak, bj, ldb, ci, ldc, accumulate, m0, m1, 0, biasj, relu);
            break;
        case 1:
            small_tile(1, K, ai, sai, sak, bj, ldb, ci, ldc, accumulate, m0, m1, 0, biasj, relu);
            break;
        default:
            break;
        }
    }
}

static int small_available(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static int small_available(void) {
    return 0;
}
#endif

/* nn_sgemm_small with an optional epilogue: bias (N) added, then ReLU when relu (beta 0) */
static int small_product(int trans_a, int trans_b, int32_t M, int32_t N, int32_t K, const float *A,
                         int32_t lda, const float *B, int32_t ldb, float beta, float *C,
                         int32_t ldc, const float *bias, int relu) {
    assert(M >= 1 && N >= 1 && K >= 1 && A && B && C && (beta == 0.0f || beta == 1.0f));
    assert(!bias || beta == 0.0f);
    if (!small_available() || M > SMALL_MAX_DIM || N > SMALL_MAX_DIM || K > SMALL_MAX_DIM ||
        (trans_b && (int64_t)K * N > SMALL_MAX_KN))
        return 0;
#if NN_X86
    int64_t sai = trans_a ? 1 : lda, sak = trans_a ? lda : 1;
    if (trans_b) {
        /* B (N, K) as given: its transpose (K, N) row by row, read in place from L1 */
        float bt[SMALL_MAX_KN];
        for (int32_t k = 0; k < K; k++)
            for (int32_t j = 0; j < N; j++) bt[(int64_t)k * N + j] = B[(int64_t)j * ldb + k];
        small_kernel(M, N, K, A, sai, sak, bt, N, C, ldc, beta != 0.0f, bias, relu);
    } else {
        small_kernel(M, N, K, A, sai, sak, B, ldb, C, ldc, beta != 0.0f, bias, relu);
    }
    return 1;
#else
    (void)lda, (void)ldb, (void)ldc, (void)A, (void)B, (void)C, (void)beta, (void)trans_a;
    (void)bias, (void)relu;
    return 0;
#endif
}

int nn_sgemm_small(int trans_a, int trans_b, int32_t M, int32_t N, int32_t K, const float *A,
                   int32_t lda, const float *B, int32_t ldb, float beta, float *C, int32_t ldc) {
    return small_product(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, NULL, 0);
}

/* on by default; off: every product through cblas_sgemm (bench/train, to record and time an
 * update's products at OpenBLAS's speed) */
static int small_enabled = 1;

void nn_sgemm_set_small(int on) {
    small_enabled = on != 0;
}

/* the shapes where the kernel beat OpenBLAS's sgemm in CPU time (docs/learners.md, speed;
 * ORL_BENCH_GEMMS=1 bench/train prints both for every product of an update): whole 16-column
 * panels; forward (x W^T) with at most 64 inputs; dx = g W with at least
 * 32 products per element and at most 64 columns (at 256 x 256 x 256 OpenBLAS's packed
 * operands win); dW += g^T x up to 64 x 64 */
static int small_wins(int trans_a, int trans_b, int32_t M, int32_t N, int32_t K) {
    /* never on the batch size: a row's result must not depend on how many rows come with it
     * (MOReL's rollouts against one-row predictions, acting against batch evaluation) */
    if (N % 16 != 0) return 0;
    if (!trans_a && trans_b) return K <= 64;
    if (!trans_a && !trans_b) return K >= 32 && N <= 64;
    if (trans_a && !trans_b) return M <= 64 && N <= 64;
    return 0;
}

void nn_sgemm(int trans_a, int trans_b, int32_t M, int32_t N, int32_t K, const float *A,
              int32_t lda, const float *B, int32_t ldb, float beta, float *C, int32_t ldc) {
    if (small_enabled && small_wins(trans_a, trans_b, M, N, K) &&
        nn_sgemm_small(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc))
        return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

int nn_sgemm_forward_bias(int32_t M, int32_t N, int32_t K, const float *x, int32_t ldx,
                          const float *w, int32_t ldw, const float *bias, int relu, float *out,
                          int32_t ldo) {
    assert(bias);
    if (!small_enabled || !small_wins(0, 1, M, N, K)) return 0;
    return small_product(0, 1, M, N, K, x, ldx, w, ldw, 0.0f, out, ldo, bias, relu);
}
