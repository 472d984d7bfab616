/* Sparse float32 kernels for a constant weight (pruned Conv/Gemm/MatMul
 * weights), built once when a session is compiled (src/ops/conv_sparse.c).
 *
 * Format: the weight as an m×k matrix (rows = output channels/features,
 * columns = reductions) in blocked CSR. k is cut into nkb blocks of kb
 * columns (the last one shorter); the non-zeros of row i in block b are
 * e in [ptr[b·m + i], ptr[b·m + i + 1]), at column b·kb + idx[e] with value
 * val[e]. Zeros (+0 and -0) are dropped, so an all-zero row costs nothing
 * but its epilogue.
 *
 * Convolution (NCHW, the weight's rows are output channels): the output is
 * cut into tiles of 4 panels of nt ≤ 64 pixels; per tile and k block the
 * im2col panels [kc × nt] are packed (the dense path's implicit-im2col
 * packer, kernels_f32.h) and every output row accumulates val[e] · panel row
 * idx[e] in nt/16 vectors; the blocks keep the panel in L1.
 * Gemm/MatMul (y = x·W, rows of the sparse matrix are output features):
 * y[r][i] = Σ_e val[e] · x[r][idx[e]], one dot product per output (a
 * gather on AVX-512).
 *
 * Epilogue as the dense kernels' (gemm.h): y = act(sum + bias + residual).
 * Results do not depend on the thread count (each output is summed in the
 * order of its non-zeros, block by block). Sums run in another order than
 * the dense kernels': results agree within float rounding, not bit for bit.
 * Kernels never allocate; the drivers use the caller's scratch (one
 * thread) or the pool's per-thread scratch. */
#ifndef MN_KERNELS_SPMM_F32_H
#define MN_KERNELS_SPMM_F32_H

#include "core/status.h"
#include "kernels/gemm.h"

typedef struct mn_spmat_f32 {
    int64_t m, k;    /* rows, columns */
    int64_t kb, nkb; /* k block length, number of blocks */
    int64_t nnz;
    int32_t *ptr;    /* nkb·m + 1 offsets */
    int32_t *idx;    /* nnz columns, relative to their block */
    float *val;      /* nnz values */
} mn_spmat_f32;

/* Builds the sparse form of an m×k matrix: element (i, p) is
 * w[i·ld + p] (trans 0) or w[p·ld + i] (trans 1). kb <= 0: one block.
 * MN_ERR_OOM when it does not fit (nnz must stay below 2^31). */
mn_status mn_spmat_f32_create(const float *w, int64_t m, int64_t k,
                              int64_t ld, int trans, int64_t kb,
                              mn_spmat_f32 **out, mn_ctx *ctx);
void mn_spmat_f32_destroy(mn_spmat_f32 *s);
/* Non-zeros of a float32 array (what the per-layer choice measures). */
int64_t mn_f32_count_nonzero(const float *w, int64_t n);

/* ---- convolution ---- */

/* The k block a convolution's sparse weight uses (panel ≤ 32 KiB). */
int64_t mn_spconv_f32_kblock(const mn_conv_params *p);
/* One thread's scratch (an im2col panel). */
size_t mn_spconv_f32_scratch(const mn_conv_params *p);
/* y = act(conv(x, W) + b + residual) with W = s (m = p->m rows, k =
 * c/group·kh·kw columns, blocks of mn_spconv_f32_kblock(p)); b, act and
 * residual may be NULL. Not for depthwise convolutions (any other group
 * count works). */
void mn_spconv_f32(mn_pool *pool, const mn_conv_params *p,
                   const mn_spmat_f32 *s, const float *x, const float *b,
                   const mn_act *act, const float *residual, float *y,
                   void *scratch);

/* ---- Gemm / MatMul ---- */

/* y[r·s->m + i] = act(Σ_p x[r·s->k + p]·W(i, p) + bias[i] + res[r·s->m +
 * i]) for rows r < rows: x is rows×k, y rows×m, W(i, p) = s. bias, res and
 * act may be NULL. s has one k block. */
void mn_spgemm_f32(mn_pool *pool, const mn_spmat_f32 *s, int64_t rows,
                   const float *x, const float *bias, const float *res,
                   const mn_act *act, float *y);

/* ---- per-ISA kernels (src/kernels/ref, src/kernels/x86) ---- */

/* Rows i < mr of one conv tile over one k block: for j < nc,
 *   acc = first ? (bias ? bias[i] : 0) : y[i·ldy + j]
 *   acc += Σ_{e in [ptr[i], ptr[i+1])} val[e] · panel[idx[e]·nt + j]
 *   y[i·ldy + j] = last ? act(acc + res[i·ldy + j]) : acc
 * nt is 16, 32, 48 or 64 and the panel is zero-padded past nc. bias, res
 * and act may be NULL. */
typedef void (*mn_spmm_panel_fn)(int64_t mr, const int32_t *ptr,
                                 const int32_t *idx, const float *val,
                                 const float *panel, int nt, int64_t nc,
                                 const float *bias, const float *res,
                                 int64_t ldy, float *y, int first, int last,
                                 const mn_act *act);
/* Rows i < mr of one x row: y[i] = act(Σ_e val[e]·x[idx[e]] + bias[i] +
 * res[i]) (bias, res, act may be NULL). */
typedef void (*mn_spmv_fn)(int64_t mr, const int32_t *ptr,
                           const int32_t *idx, const float *val,
                           const float *x, const float *bias,
                           const float *res, const mn_act *act, float *y);

typedef struct mn_spmm_kernels {
    const char *name;
    mn_spmm_panel_fn panel;
    mn_spmv_fn spmv;
} mn_spmm_kernels;

const mn_spmm_kernels *mn_spmm_kernels_ref(void);
const mn_spmm_kernels *mn_spmm_kernels_avx512(void); /* NULL: not built */
/* For the active ISA level (never NULL: the reference at worst). */
const mn_spmm_kernels *mn_spmm_kernels_active(void);

#endif
