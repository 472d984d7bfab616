/* Single-thread float GEMM used by training: the runtime's SGEMM
 * (src/kernels/gemm.h) with training's scratch sizing. Contract as
 * mn_ref_gemm_f32 (row-major, op(x) = x or xᵀ, beta == 0 never reads c);
 * scratch holds mn_train_sgemm_scratch bytes. */
#ifndef MN_TRAIN_SGEMM_H
#define MN_TRAIN_SGEMM_H

#include <stddef.h>
#include <stdint.h>

size_t mn_train_sgemm_scratch(int64_t m, int64_t n, int64_t k);
void mn_train_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
              float alpha, const float *a, int64_t lda, const float *b,
              int64_t ldb, float beta, float *c, int64_t ldc, float *scratch);

#endif
