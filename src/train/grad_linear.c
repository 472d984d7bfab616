/* Backward rules of Gemm and MatMul through the threaded GEMM.
 *   Gemm  Y = α·op(A)·op(B) + β·C:  dA = α·dY·op(B)ᵀ (transposed back when
 *         transA), dB likewise, dC = β·Σ dY over C's broadcast dims.
 *   MatMul (numpy batching): dA_t = dY_t·B_tᵀ, dB_t = A_tᵀ·dY_t, summed
 *         over the batches an operand is broadcast across.
 * MatMul's forward with a weight matrix shared by every batch (a Linear
 * layer on [N, ..., K]) runs as one tall threaded GEMM; other shapes run
 * the op table's forward. dB's Aᵀ is transposed once into the scratch
 * (the GEMM would otherwise transpose its panel in every tile). */
#include <string.h>
#include "ops/conv_shape.h"
#include "train/grad.h"

static size_t gemm_bwd_scratch(const mn_node *n, const mn_tensor *const *in,
                               int n_in, const mn_tensor *const *out,
                               int n_out, int threads)
{
    (void)n, (void)n_out, (void)threads;
    if (n_in > 2 && in[2])
        return (size_t)mn_tensor_numel(in[2]) * sizeof(double) + 64;
    (void)out;
    return 0;
}

static mn_status gemm_bwd(const mn_node *n, const mn_tensor *const *in,
                          int n_in, const mn_tensor *const *out,
                          const mn_tensor *const *dout, int n_out,
                          mn_tensor *const *din, mn_exec *ex)
{
    mn_tpool *pool = mn_texec_of(ex)->pool;
    const mn_tensor *A = in[0], *B = in[1], *Y = out[0];
    float alpha = mn_node_attr_float(n, "alpha", 1.0f);
    float beta = mn_node_attr_float(n, "beta", 1.0f);
    int ta = mn_node_attr_int(n, "transA", 0) != 0;
    int tb = mn_node_attr_int(n, "transB", 0) != 0;
    int64_t M = Y->dims[0], N = Y->dims[1];
    int64_t K = ta ? A->dims[0] : A->dims[1];
    int64_t lda = A->dims[1], ldb = B->dims[1];
    mn_status st = MN_OK;
    (void)n_out;
    if (A->ndim != 2 || B->ndim != 2 || Y->ndim != 2)
        return mn_error(ex->ctx, MN_ERR_SHAPE, "Gemm gradient needs 2-D A, B");
    if (!dout[0]) {
        for (int i = 0; i < n_in; i++)
            if (din[i])
                memset(din[i]->data, 0, mn_tensor_nbytes(din[i]));
        return MN_OK;
    }
    const float *dy = mn_f32(dout[0]), *a = mn_f32(A), *b = mn_f32(B);
    if (din[0]) {
        if (!ta) /* dA[M,K] = α·dY·op(B)ᵀ */
            st = mn_tgemm(pool, 0, !tb, M, K, N, alpha, dy, N, b, ldb, 0.0f,
                          mn_f32(din[0]), K, ex->ctx);
        else /* dA[K,M] = α·op(B)·dYᵀ */
            st = mn_tgemm(pool, tb, 1, K, M, N, alpha, b, ldb, dy, N, 0.0f,
                          mn_f32(din[0]), M, ex->ctx);
        if (st != MN_OK)
            return st;
    }
    if (din[1]) {
        if (!tb) /* dB[K,N] = α·op(A)ᵀ·dY */
            st = mn_tgemm(pool, !ta, 0, K, N, M, alpha, a, lda, dy, N, 0.0f,
                          mn_f32(din[1]), N, ex->ctx);
        else /* dB[N,K] = α·dYᵀ·op(A) */
            st = mn_tgemm(pool, 1, ta, N, K, M, alpha, dy, N, a, lda, 0.0f,
                          mn_f32(din[1]), K, ex->ctx);
        if (st != MN_OK)
            return st;
    }
    if (n_in > 2 && in[2] && din[2]) {
        float *dc = mn_f32(din[2]);
        int64_t nc = mn_tensor_numel(in[2]);
        mn_bcast_reduce(dy, Y, dc, in[2], ex->scratch);
        for (int64_t i = 0; i < nc; i++)
            dc[i] *= beta;
    }
    return MN_OK;
}

const mn_grad_def mn_grad_gemm = {.backward = gemm_bwd,
                                  .backward_scratch = gemm_bwd_scratch,
                                  .diff_inputs = 7u};

/* dB = Aᵀ·dY runs on A transposed once (mn_ttranspose), not per tile. */
static size_t matmul_bwd_scratch(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, const mn_tensor *const *out,
                                 int n_out, int threads)
{
    mn_matmul_shape s;
    mn_tensor ym = {0};
    mn_ctx ctx = {{0}};
    (void)n, (void)n_in, (void)out, (void)n_out, (void)threads;
    if (mn_matmul_setup(in[0], in[1], &s, &ym, &ctx) != MN_OK)
        return 0;
    int64_t mats = s.b_nbatch == 1 && s.a_nbatch == s.nbatch ? s.nbatch : 1;
    return (size_t)(mats * s.m * s.k) * sizeof(float) + 64;
}

static mn_status matmul_bwd(const mn_node *n, const mn_tensor *const *in,
                            int n_in, const mn_tensor *const *out,
                            const mn_tensor *const *dout, int n_out,
                            mn_tensor *const *din, mn_exec *ex)
{
    mn_tpool *pool = mn_texec_of(ex)->pool;
    mn_matmul_shape s;
    mn_tensor ym = {0};
    mn_status st;
    (void)n, (void)n_in, (void)out, (void)n_out;
    if ((st = mn_matmul_setup(in[0], in[1], &s, &ym, ex->ctx)) != MN_OK)
        return st;
    float *da = din[0] ? mn_f32(din[0]) : NULL;
    float *db = din[1] ? mn_f32(din[1]) : NULL;
    if (!dout[0]) {
        if (da)
            memset(da, 0, mn_tensor_nbytes(in[0]));
        if (db)
            memset(db, 0, mn_tensor_nbytes(in[1]));
        return MN_OK;
    }
    const float *dy = mn_f32(dout[0]), *a = mn_f32(in[0]), *b = mn_f32(in[1]);
    int64_t m = s.m, k = s.k, nn = s.n;
    float *at = ex->scratch; /* Aᵀ (matmul_bwd_scratch) */
    if (db && ex->scratch_bytes < matmul_bwd_scratch(n, in, n_in, out, n_out,
                                                     1))
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "MatMul backward scratch");
    if (s.b_nbatch == 1 && s.a_nbatch == s.nbatch) {
        /* B shared by every batch: treat A and dY as tall matrices. */
        int64_t rows = s.nbatch * m;
        if (da && (st = mn_tgemm(pool, 0, 1, rows, k, nn, 1.0f, dy, nn, b, nn,
                                 0.0f, da, k, ex->ctx)) != MN_OK)
            return st;
        if (db) {
            mn_ttranspose(pool, rows, k, a, k, at, rows);
            if ((st = mn_tgemm(pool, 0, 0, k, nn, rows, 1.0f, at, rows, dy,
                               nn, 0.0f, db, nn, ex->ctx)) != MN_OK)
                return st;
        }
        return MN_OK;
    }
    if (da)
        memset(da, 0, mn_tensor_nbytes(in[0]));
    if (db)
        memset(db, 0, mn_tensor_nbytes(in[1]));
    for (int64_t t = 0; t < s.nbatch; t++) {
        int64_t ia, ib;
        mn_matmul_index(&s, t, &ia, &ib);
        const float *dyt = dy + t * m * nn;
        if (da && (st = mn_tgemm(pool, 0, 1, m, k, nn, 1.0f, dyt, nn,
                                 b + ib * k * nn, nn, 1.0f, da + ia * m * k,
                                 k, ex->ctx)) != MN_OK)
            return st;
        if (db) {
            mn_ttranspose(pool, m, k, a + ia * m * k, k, at, m);
            if ((st = mn_tgemm(pool, 0, 0, k, nn, m, 1.0f, at, m, dyt, nn,
                               1.0f, db + ib * k * nn, nn, ex->ctx)) != MN_OK)
                return st;
        }
    }
    return MN_OK;
}

/* Y = A·B over the pool when B is one matrix shared by all of A's rows:
 * the same SGEMM tiles as the op table's single-threaded forward, each
 * element summed over k in the same order. */
static mn_status matmul_fwd(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_exec *ex)
{
    mn_matmul_shape s;
    mn_tensor ym = {0};
    if (in[0]->dtype == MN_DT_F32 && in[1]->dtype == MN_DT_F32 &&
        mn_matmul_setup(in[0], in[1], &s, &ym, ex->ctx) == MN_OK &&
        s.b_nbatch == 1 && s.a_nbatch == s.nbatch)
        return mn_tgemm(mn_texec_of(ex)->pool, 0, 0, s.nbatch * s.m, s.n, s.k,
                        1.0f, mn_f32(in[0]), s.k, mn_f32(in[1]), s.n, 0.0f,
                        mn_f32(out[0]), s.n, ex->ctx);
    return mn_op_get(n->op)->forward(n, in, n_in, out, n_out, ex);
}

const mn_grad_def mn_grad_matmul = {.forward = matmul_fwd,
                                    .backward = matmul_bwd,
                                    .backward_scratch = matmul_bwd_scratch,
                                    .diff_inputs = 3u};
