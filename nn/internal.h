/* What the nn/ files share privately: cache-line-aligned float allocations, the run-time AVX2
 * switch of the elementwise kernels, and Adam with the gradient reset folded in. */
#ifndef ORL_NN_INTERNAL_H
#define ORL_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define NN_ALIGN 64

/* rounds a float count up to whole cache lines */
static inline size_t nn_round(size_t n_floats) {
    size_t per = NN_ALIGN / sizeof(float);
    return (n_floats + per - 1) / per * per;
}

/* n_floats (at least one) floats, NN_ALIGN-aligned, uninitialised; free with free() */
static inline void *nn_alloc(size_t n_floats) {
    size_t bytes = nn_round(n_floats == 0 ? 1 : n_floats) * sizeof(float);
    return aligned_alloc(NN_ALIGN, bytes);
}

/* x86 with GCC or Clang: elementwise kernels have an AVX2 twin (target attribute, chosen at run
 * time) doing the same IEEE operations in the same order, eight lanes at a time, with no fused
 * multiply-add, so the bits do not depend on which ran */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define NN_X86  1
#define NN_AVX2 __attribute__((target("avx2")))
static inline int nn_use_avx2(void) {
    return __builtin_cpu_supports("avx2");
}
#else
#define NN_X86 0
static inline int nn_use_avx2(void) {
    return 0;
}
#endif

struct orl_adam;
/* orl_adam_step, then grads (n) = 0 in the same pass (the fit kit's step: the next backward
 * accumulates into zeroed gradients without a separate memset) */
void nn_adam_step_zero(struct orl_adam *opt, float *params, float *grads, float lr);

/* row-major C (M, N) = op(A) op(B) (beta 0) or C + op(A) op(B) (beta 1), alpha 1; op(A) is
 * (M, K), A^T when trans_a; op(B) is (K, N), B^T when trans_b (nn/gemm.c): the small-shape
 * kernel where it is faster than OpenBLAS, cblas_sgemm elsewhere */
void nn_sgemm(int trans_a, int trans_b, int32_t M, int32_t N, int32_t K, const float *A,
              int32_t lda, const float *B, int32_t ldb, float beta, float *C, int32_t ldc);
/* the same product through the small-shape kernel whatever the shape; returns 0 (C untouched)
 * where the kernel cannot run (no AVX2 + FMA, a dimension over 512, a transposed B with more
 * than 8192 elements), 1 when done (tests compare it with a double reference) */
int nn_sgemm_small(int trans_a, int trans_b, int32_t M, int32_t N, int32_t K, const float *A,
                   int32_t lda, const float *B, int32_t ldb, float beta, float *C, int32_t ldc);
/* a forward layer in one pass where the small-shape kernel takes it: out (M, N) = x W^T + bias,
 * then ReLU when relu (the same bits as nn_sgemm followed by nn.c's bias and ReLU sweep); x (M,
 * K), W (N, K), bias (N). Returns 0 (out untouched) where nn_sgemm would use OpenBLAS */
int nn_sgemm_forward_bias(int32_t M, int32_t N, int32_t K, const float *x, int32_t ldx,
                          const float *w, int32_t ldw, const float *bias, int relu, float *out,
                          int32_t ldo);
/* C (M, N) = X W^T (beta 0) or C + X W^T (beta 1) for N < 16 through the narrow dot-product
 * kernel (nn/gemm.c) whatever K; X (M, K), W (N, K); returns 0 (C untouched) where it cannot
 * run (no AVX2 + FMA, N >= 16), 1 when done (tests) */
int nn_sgemm_narrow(int32_t M, int32_t N, int32_t K, const float *X, int32_t ldx, const float *W,
                    int32_t ldw, float beta, float *C, int32_t ldc);
/* on (the default): nn_sgemm's narrow forwards use the narrow kernel; off: they go where they
 * went before it (benchmarks only, like nn_sgemm_set_small) */
void nn_sgemm_set_narrow(int on);
/* on (the default): nn_sgemm uses the small-shape kernel where it wins; off: cblas_sgemm for
 * every product. A process-wide switch for benchmarks only (bench/train records an update's
 * products through cblas with it off); not thread-safe, never touched by the library */
void nn_sgemm_set_small(int on);

#endif
