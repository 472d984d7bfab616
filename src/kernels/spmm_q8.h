/* Sparse 8-bit kernels for a constant pruned weight (QLinearConv,
 * ConvInteger, QLinearMatMul), built once when a session is compiled
 * (src/ops/qconv.c, src/ops/qmatmul.c; the choice in src/ops/conv_sparse.c).
 *
 * Format ("quad CSR"): the int8 weight as an m×k matrix (rows = output
 * channels, columns = reductions) cut into quads of 4 consecutive columns,
 * the unit of one vpdpbusd lane (4 uint8·int8 products summed into an
 * int32). Only quads with a non-zero weight are kept: per row, its quads'
 * indices and their 4 weights as one int32 (byte t = column 4q + t, zero
 * past k). k is cut into nqb blocks of qb quads (the last one shorter);
 * the quads of row i in block b are e in [ptr[b·m + i], ptr[b·m + i + 1]),
 * quad b·qb + qidx[e], weights w4[e]. An all-zero row costs only its
 * epilogue. Against one non-zero per entry this keeps the dense path's
 * activation panel and 4 MACs per lane: at 90 % unstructured sparsity 34 %
 * of the quads remain (1 − 0.9⁴), fewer instructions than the 10 % of
 * single non-zeros would each need.
 *
 * The product: C = W·B with B the activations (uint8: int8 ones and the
 * zero point handled by the caller's epilogue tables, as the dense int8
 * GEMM, qgemm.h), packed per tile by the dense path's own packer
 * (mn_q8_pack_b: plain, transposed or implicit-im2col sources) into panels
 * of nt ≤ 64 columns, one k block at a time; each output row sums
 * w4[e] · panel quad qidx[e] over its non-zero quads. The store is the
 * dense path's requantizing epilogue (mn_qgemm_epi); integer sums are
 * exact, so results are bit-identical to the dense kernels and the
 * reference, for any tiling and thread count. Kernels never allocate. */
#ifndef MN_KERNELS_SPMM_Q8_H
#define MN_KERNELS_SPMM_Q8_H

#include "core/status.h"
#include "kernels/qgemm.h"

typedef struct mn_spmat_q8 {
    int64_t m, k, kq;  /* rows, columns, quads (ceil(k / 4)) */
    int64_t qb, nqb;   /* quads per k block, number of blocks */
    int64_t n, nt;     /* columns of the product, panel width (≤ 64) */
    int64_t nnzq;      /* non-zero quads */
    int32_t *ptr;      /* nqb·m + 1 offsets */
    int32_t *qidx;     /* nnzq quad indices, relative to their block */
    int32_t *w4;       /* nnzq × 4 int8 weights */
} mn_spmat_q8;

/* Non-zero quads of an m×k 8-bit matrix: element (i, p) is
 * w[i·ldw + p] (trans 0) or w[p·ldw + i] (trans 1), as int8 after XOR with
 * flip (0x80 for uint8 weights whose zero point is 128). */
int64_t mn_q8_count_nonzero_quads(const uint8_t *w, int64_t m, int64_t k,
                                  int64_t ldw, int trans, uint8_t flip);

/* Builds the quad-CSR form of that matrix for products with n columns (the
 * k blocks keep one activation panel in L1). MN_ERR_OOM when it does not
 * fit (nnzq below 2^31). */
mn_status mn_spmat_q8_create(const uint8_t *w, int64_t m, int64_t k,
                             int64_t ldw, int trans, uint8_t flip, int64_t n,
                             mn_spmat_q8 **out, mn_ctx *ctx);
void mn_spmat_q8_destroy(mn_spmat_q8 *s);

/* One thread's scratch for mn_q8_spgemm_run over at most m rows: the
 * packed panels of one task, and its int32 partial sums when k has several
 * blocks. */
size_t mn_q8_spgemm_scratch(const mn_spmat_q8 *s, int64_t m);

/* y = epilogue(W[r0 .. r0+m) · B) for the n columns s was built for: B
 * from bs (k = s->k rows), element (i, j) at y + (i·rs + j·cs) elements (1
 * byte, or 4 for int32 output), epilogue rows r0 + i. scratch: one
 * thread's buffer of mn_q8_spgemm_scratch(s, m) bytes (used when the pool
 * does not run it). */
void mn_q8_spgemm_run(mn_pool *pool, const mn_spmat_q8 *s, int64_t r0,
                      int64_t m, const mn_q8_bsrc *bs, const mn_qgemm_epi *e,
                      void *y, int64_t rs, int64_t cs, void *scratch);

/* ---- per-ISA kernels (src/kernels/ref, src/kernels/x86) ---- */

/* Rows i < mr of one panel over one k block: for columns j < nc,
 *   acc = first ? 0 : part[i·ldp + j]
 *   acc += Σ_{e in [ptr[i], ptr[i+1])} Σ_t w4[e].byte t (int8) ·
 *          panel[(qidx[e]·nt + j)·4 + t] (uint8)
 *   last ? y(i, j) = epilogue(row0 + i, acc) : part[i·ldp + j] = acc
 * with y(i, j) at y + (i·rs + j·cs) elements. nt is 16, 32, 48 or 64, the
 * panel zero past nc; part has room for nt columns per row. */
typedef void (*mn_spq8_panel_fn)(int64_t mr, const int32_t *ptr,
                                 const int32_t *qidx, const int32_t *w4,
                                 const uint8_t *panel, int nt, int64_t nc,
                                 int32_t *part, int64_t ldp, int first,
                                 int last, const mn_qgemm_epi *e,
                                 int64_t row0, void *y, int64_t rs,
                                 int64_t cs);

typedef struct mn_spq8_kernels {
    const char *name;
    mn_spq8_panel_fn panel;
} mn_spq8_kernels;

const mn_spq8_kernels *mn_spq8_kernels_ref(void);
const mn_spq8_kernels *mn_spq8_kernels_avx512vnni(void); /* NULL: not built */
/* For the active ISA level (never NULL: the reference at worst). */
const mn_spq8_kernels *mn_spq8_kernels_active(void);

#endif
