/* Sparse kernels for Conv, Gemm and MatMul with a constant float32
 * weight: the ops' prepare hooks (choose sparse or dense per layer, pack
 * the weight) and the forwards that run when prepare chose sparse
 * (mn_exec.priv set). See src/ops/conv_sparse.c and docs/sparse.md. */
#ifndef MN_OPS_CONV_SPARSE_H
#define MN_OPS_CONV_SPARSE_H

#include "ops/ops.h"

/* The first member of every float32 Conv/Gemm/MatMul prepare state
 * (mn_exec.priv): which variant prepare chose. */
typedef struct mn_wprep {
    int kind;
} mn_wprep;
enum { MN_WPREP_SPARSE = 1, MN_WPREP_CV = 2 };

/* The variant behind priv (0 for none). */
static inline int mn_wprep_kind(const void *priv)
{
    return priv ? ((const mn_wprep *)priv)->kind : 0;
}

/* The automatic choice (MN_SPARSE_AUTO): sparse when the weight's
 * fraction of non-zeros is at most the constant below. Measured on this
 * project's machine (AMD EPYC, AVX-512, 1 thread, loaded by another job)
 * with bench/sparse_layer_bench.c, run by bench/sparse_bench.sh: dense and
 * sparse kernels of one layer alternate, the ratio of their best times per
 * sparsity (bench/results/sparse.json, docs/sparse.md). Convolutions
 * (ResNet-18's 3×3/1×1/7×7 layers, fashion_cnn's) break even near 50 %
 * sparsity (0.92-1.17× there) and all gain ≥ 1.16× at 70 %: density
 * ≤ 0.30.
 * Fully connected layers at batch 1 gain 0.96-1.19× at 90 % and
 * 1.65-1.9× at 95 %: the rule asks for ≥ 92 % (density ≤ 0.08), and only
 * for at most MN_SPARSE_GEMM_MAX_ROWS rows (the dense GEMM gets more
 * efficient with more rows; the sparse one does not). Only at ISA
 * level avx512: the reference kernels were not measured, so other levels
 * stay dense unless forced. */
#define MN_SPARSE_CONV_MAX_DENSITY 0.30
#define MN_SPARSE_GEMM_MAX_DENSITY 0.08
#define MN_SPARSE_GEMM_MAX_ROWS 4

/* 8-bit (QLinearConv, ConvInteger; src/ops/qconv.c): the sparse kernel's
 * work is the weight's non-zero quads (4 input channels at one tap, one
 * vpdpbusd lane; src/kernels/spmm_q8.h), so the rule reads the fraction of
 * quads with a non-zero weight (1 − (1 − s)⁴ for unstructured sparsity s:
 * 0.34 at 90 %, 0.59 at 80 %). Measured as the float32 rule
 * (bench/sparse_layer_bench.c, int8 rows; bench/results/sparse_q8.json):
 * every 3×3 layer gains at 90 % (ResNet-18's 1.03-1.40×, resnet8's and
 * other ≤ 8 M-MAC layers 1.1-1.8×): quad density ≤ 0.36. Small layers,
 * where the dense kernel's im2col packing is most of its time, already
 * gain at 80 % (≤ 8 M MACs per image: 1.06-1.5×; ResNet-18's 0.67-0.87×,
 * a 29 M-MAC one 0.97-1.01×): quad density ≤ 0.62 there. 1×1 layers
 * (cheap packing) stay below 1× even at 95 % and stay dense. Only at ISA level avx512vnni
 * (other levels stay dense unless forced). */
#define MN_SPARSE_Q8_CONV_MAX_QDENSITY 0.36
#define MN_SPARSE_Q8_SMALL_MAX_QDENSITY 0.62
#define MN_SPARSE_Q8_SMALL_MACS 8e6

/* The choice for an 8-bit conv weight of kh·kw = taps, macs (dense)
 * multiply-adds per image, with nzq non-zero quads out of nq: forced, or
 * automatic by the rule above. */
int mn_sparse_q8_wanted(const mn_prepare_info *info, int64_t taps,
                        double macs, int64_t nzq, int64_t nq);

mn_status mn_conv_sparse_prepare(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, const mn_tensor *const *out,
                                 int n_out, const mn_prepare_info *info,
                                 mn_prepared *p, mn_ctx *ctx);
mn_status mn_conv_sparse_forward(const mn_tensor *const *in, int n_in,
                                 mn_tensor *const *out, mn_exec *ex);

/* Gemm (transA 0, alpha 1, C absent or a bias row with beta 1) and MatMul
 * with a constant 2-D B. */
mn_status mn_gemm_sparse_prepare(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, const mn_tensor *const *out,
                                 int n_out, const mn_prepare_info *info,
                                 mn_prepared *p, mn_ctx *ctx);
mn_status mn_matmul_sparse_prepare(const mn_node *n,
                                   const mn_tensor *const *in, int n_in,
                                   const mn_tensor *const *out, int n_out,
                                   const mn_prepare_info *info,
                                   mn_prepared *p, mn_ctx *ctx);
/* The sparse choice for a weight the session keeps compressed (info->wsrc,
 * in[1]->data NULL): fn (one of the prepares above) runs on a temporary
 * decoded copy of the weight when the weight may be sparse enough (its
 * non-zeros counted from the source; a cheap filter before the rule); the
 * blocked-CSR it builds holds its own copy. p->priv stays NULL when dense. */
mn_status mn_sparse_prepare_wsrc(mn_prepare_fn fn, const mn_node *n,
                                 const mn_tensor *const *in, int n_in,
                                 const mn_tensor *const *out, int n_out,
                                 const mn_prepare_info *info, mn_prepared *p,
                                 mn_ctx *ctx);

/* Gemm and MatMul alike. */
mn_status mn_gemm_sparse_forward(const mn_tensor *const *in, int n_in,
                                 mn_tensor *const *out, mn_exec *ex);

#endif
