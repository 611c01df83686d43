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
 * products give the same bits either way; nothing relies on that. What OpenBLAS does not keep
 * is a row's result across numbers of rows: with the same A rows and B, C's first rows differ
 * between M = 640 and M = 1 ... 160 for most N >= 8 under its Haswell and SkylakeX kernels
 * (measured 2026-12-07, OpenBLAS 0.3.21, one thread). So a row's output is independent of the
 * rows computed with it only where the products are this file's.)
 *
 * The kernel is x86-64 AVX2 + FMA code (target attribute, chosen at run time); where the CPU or
 * the compiler lacks them, every product goes to cblas_sgemm. Not here: alpha other than 1,
 * column-major, threads (the small shapes gain nothing from them). */
#include "nn/internal.h"

#include <assert.h>
#include <cblas.h>
#include <stdint.h>
#include <string.h>

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

/* the sum of each of v[0..7] in lane t of the result: per vector, lanes paired (0+1, 2+3,
 * 4+5, 6+7), the pairs paired, then the low half's sum plus the high half's (the same order
 * for every vector and every lane it lands in) */
static inline NN_AVX2_FMA __attribute__((always_inline)) __m256 hsum8(const __m256 *v) {
    __m256 s01 = _mm256_hadd_ps(v[0], v[1]), s23 = _mm256_hadd_ps(v[2], v[3]);
    __m256 s45 = _mm256_hadd_ps(v[4], v[5]), s67 = _mm256_hadd_ps(v[6], v[7]);
    __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
    /* s0123 = [v0lo v1lo v2lo v3lo | v0hi v1hi v2hi v3hi], likewise s4567 */
    __m256 lo = _mm256_permute2f128_ps(s0123, s4567, 0x20);
    __m256 hi = _mm256_permute2f128_ps(s0123, s4567, 0x31);
    return _mm256_add_ps(lo, hi);
}

/* one element of C from its sum v: *c = v + *bias, then the sign-bit ReLU of nn.c's sweep
 * when relu (bias non-NULL), or *c = v, or *c += v (accumulate) */
static inline __attribute__((always_inline)) void narrow_store(float *c, float v, int accumulate,
                                                               const float *bias, int relu) {
    if (bias) {
        v = v + *bias;
        if (relu) {
            uint32_t u;
            memcpy(&u, &v, sizeof u);
            u &= (u >> 31) - 1u;
            memcpy(&v, &u, sizeof v);
        }
    }
    *c = accumulate ? *c + v : v;
}

/* C (M, N; N < 16) = or += X W^T (+ bias, then ReLU when relu), X (M, K) row stride ldx,
 * W (N, K) row stride ldw: the narrow outputs of a forward, where the 16-column tiles would
 * waste most of their lanes. Each element is a dot product over k vectorised along k: eight
 * lane accumulators (lane l sums the k = l mod 8 in increasing k by fused multiply-adds from
 * zero; a K tail's missing lanes are zeros), then hsum8's fixed tree, then + bias / ReLU or
 * C + sum. Tiles of 4 rows by 2 outputs (eight accumulators), of 8 rows when N = 1; a row's
 * elements do not depend on the rows beside it: the tail rows run the same tile with its extra rows
 * pointing at the last row, unstored */
static NN_AVX2_FMA void narrow_kernel(int32_t M, int32_t N, int32_t K, const float *x, int64_t ldx,
                                      const float *w, int64_t ldw, float *c, int64_t ldc,
                                      int accumulate, const float *bias, int relu) {
    int32_t kt = K % 8, kf = K - kt;
    int32_t lane[16];
    for (int32_t t = 0; t < 16; t++) lane[t] = t < kt ? -1 : 0;
    __m256i km = _mm256_loadu_si256((const __m256i *)lane);
    if (N == 1) { /* one output: tiles of 8 rows */
        for (int32_t i = 0; i < M; i += 8) {
            const float *xr[8];
            _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) xr[r] =
                x + (int64_t)(i + r < M ? i + r : M - 1) * ldx;
            __m256 acc[8];
            _Pragma("GCC unroll 8") for (int t = 0; t < 8; t++) acc[t] = _mm256_setzero_ps();
            for (int32_t k = 0; k < kf; k += 8) {
                __m256 a0 = _mm256_loadu_ps(w + k);
                _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) acc[r] =
                    _mm256_fmadd_ps(_mm256_loadu_ps(xr[r] + k), a0, acc[r]);
            }
            if (kt) {
                __m256 a0 = _mm256_maskload_ps(w + kf, km);
                _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) acc[r] =
                    _mm256_fmadd_ps(_mm256_maskload_ps(xr[r] + kf, km), a0, acc[r]);
            }
            float sums[8];
            _mm256_storeu_ps(sums, hsum8(acc));
            for (int r = 0; r < 8 && i + r < M; r++)
                narrow_store(c + (int64_t)(i + r) * ldc, sums[r], accumulate, bias, relu);
        }
        return;
    }
    for (int32_t i = 0; i < M; i += 4) {
        const float *xr[4];
        _Pragma("GCC unroll 8") for (int r = 0; r < 4; r++) xr[r] =
            x + (int64_t)(i + r < M ? i + r : M - 1) * ldx;
        for (int32_t j = 0; j < N; j += 2) {
            const float *w0 = w + (int64_t)j * ldw;
            const float *w1 = w + (int64_t)(j + 1 < N ? j + 1 : j) * ldw;
            __m256 acc[8];
            _Pragma("GCC unroll 8") for (int t = 0; t < 8; t++) acc[t] = _mm256_setzero_ps();
            for (int32_t k = 0; k < kf; k += 8) {
                __m256 a0 = _mm256_loadu_ps(w0 + k), a1 = _mm256_loadu_ps(w1 + k);
                _Pragma("GCC unroll 8") for (int r = 0; r < 4; r++) {
                    __m256 xv = _mm256_loadu_ps(xr[r] + k);
                    acc[2 * r] = _mm256_fmadd_ps(xv, a0, acc[2 * r]);
                    acc[2 * r + 1] = _mm256_fmadd_ps(xv, a1, acc[2 * r + 1]);
                }
            }
            if (kt) {
                __m256 a0 = _mm256_maskload_ps(w0 + kf, km), a1 = _mm256_maskload_ps(w1 + kf, km);
                _Pragma("GCC unroll 8") for (int r = 0; r < 4; r++) {
                    __m256 xv = _mm256_maskload_ps(xr[r] + kf, km);
                    acc[2 * r] = _mm256_fmadd_ps(xv, a0, acc[2 * r]);
                    acc[2 * r + 1] = _mm256_fmadd_ps(xv, a1, acc[2 * r + 1]);
                }
            }
            /* sums[2 r + o]: row i + r, output j + o */
            float sums[8];
            _mm256_storeu_ps(sums, hsum8(acc));
            for (int r = 0; r < 4 && i + r < M; r++)
                for (int o = 0; o < 2 && j + o < N; o++)
                    narrow_store(c + (int64_t)(i + r) * ldc + j + o, sums[2 * r + o], accumulate,
                                 bias ? bias + j + o : NULL, relu);
        }
    }
}

/* bt (K, N; row stride N) = B^T for B (N, K; row stride ldb): 8 x 8 blocks through AVX
 * registers (unpack, shuffle, lane permute), the edges element by element; a copy, so the
 * product's bits do not depend on how it was made */
static NN_AVX2_FMA void transpose_into(float *bt, const float *B, int64_t ldb, int32_t N,
                                       int32_t K) {
    int32_t n8 = N - N % 8, k8 = K - K % 8;
    for (int32_t j = 0; j < n8; j += 8)
        for (int32_t k = 0; k < k8; k += 8) {
            const float *src = B + (int64_t)j * ldb + k;
            __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ldb);
            __m256 r2 = _mm256_loadu_ps(src + 2 * ldb), r3 = _mm256_loadu_ps(src + 3 * ldb);
            __m256 r4 = _mm256_loadu_ps(src + 4 * ldb), r5 = _mm256_loadu_ps(src + 5 * ldb);
            __m256 r6 = _mm256_loadu_ps(src + 6 * ldb), r7 = _mm256_loadu_ps(src + 7 * ldb);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
            float *dst = bt + (int64_t)k * N + j;
            _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(dst + N, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(dst + 2 * N, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(dst + 3 * N, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(dst + 4 * N, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(dst + 5 * N, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(dst + 6 * N, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(dst + 7 * N, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
    /* the edges: columns k8.. of the blocked rows, then the rows n8.. */
    for (int32_t k = k8; k < K; k++)
        for (int32_t j = 0; j < n8; j++) bt[(int64_t)k * N + j] = B[(int64_t)j * ldb + k];
    for (int32_t k = 0; k < K; k++)
        for (int32_t j = n8; j < N; j++) bt[(int64_t)k * N + j] = B[(int64_t)j * ldb + k];
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
        transpose_into(bt, B, ldb, N, K);
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

/* nn_sgemm_narrow with an optional epilogue: bias (N) added, then ReLU when relu (beta 0) */
static int narrow_product(int32_t M, int32_t N, int32_t K, const float *X, int32_t ldx,
                          const float *W, int32_t ldw, float beta, float *C, int32_t ldc,
                          const float *bias, int relu) {
    assert(M >= 1 && N >= 1 && K >= 1 && X && W && C && (beta == 0.0f || beta == 1.0f));
    assert(!bias || beta == 0.0f);
    if (!small_available() || N >= 16) return 0;
#if NN_X86
    narrow_kernel(M, N, K, X, ldx, W, ldw, C, ldc, beta != 0.0f, bias, relu);
    return 1;
#else
    (void)M, (void)K, (void)X, (void)ldx, (void)W, (void)ldw, (void)C, (void)ldc, (void)bias;
    (void)relu;
    return 0;
#endif
}

int nn_sgemm_narrow(int32_t M, int32_t N, int32_t K, const float *X, int32_t ldx, const float *W,
                    int32_t ldw, float beta, float *C, int32_t ldc) {
    return narrow_product(M, N, K, X, ldx, W, ldw, beta, C, ldc, NULL, 0);
}

int nn_sgemm_small(int trans_a, int trans_b, int32_t M, int32_t N, int32_t K, const float *A,
                   int32_t lda, const float *B, int32_t ldb, float beta, float *C, int32_t ldc) {
    return small_product(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, NULL, 0);
}

/* on by default; off: every product through cblas_sgemm (bench/train, to record and time an
 * update's products at OpenBLAS's speed) */
static int small_enabled = 1;
/* the narrow kernel alone (benchmarks: ORL_NN_NARROW=0 in bench/train's environment) */
static int narrow_enabled = 1;

void nn_sgemm_set_narrow(int on) {
    narrow_enabled = on != 0;
}

void nn_sgemm_set_small(int on) {
    small_enabled = on != 0;
}

/* the shapes where the kernel beat OpenBLAS's sgemm in CPU time (docs/speed.md;
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

/* the narrow forwards where the dot-product kernel beat OpenBLAS (docs/speed.md):
 * x W^T with 2 to 15 outputs and at least NARROW_MIN_K inputs (one output: OpenBLAS's gemv-like
 * path is as fast; K = 17: OpenBLAS is faster) */
#define NARROW_MIN_K 32
static int narrow_wins(int trans_a, int trans_b, int32_t N, int32_t K) {
    return narrow_enabled && !trans_a && trans_b && N >= 2 && N < 16 && K >= NARROW_MIN_K;
}

void nn_sgemm(int trans_a, int trans_b, int32_t M, int32_t N, int32_t K, const float *A,
              int32_t lda, const float *B, int32_t ldb, float beta, float *C, int32_t ldc) {
    if (small_enabled && narrow_wins(trans_a, trans_b, N, K) &&
        narrow_product(M, N, K, A, lda, B, ldb, beta, C, ldc, NULL, 0))
        return;
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
    if (small_enabled && narrow_wins(0, 1, N, K))
        return narrow_product(M, N, K, x, ldx, w, ldw, 0.0f, out, ldo, bias, relu);
    if (!small_enabled || !small_wins(0, 1, M, N, K)) return 0;
    return small_product(0, 1, M, N, K, x, ldx, w, ldw, 0.0f, out, ldo, bias, relu);
}
