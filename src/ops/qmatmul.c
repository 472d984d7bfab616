/* QLinearMatMul and MatMulInteger (8-bit a and b, numpy matmul batching):
 * shape rules and reference forwards on the int16×int16→int32 GEMM. a's
 * zero points and scales may be per tensor, per row ([M] or [..., M, 1]) or
 * per row of each matrix; b's per tensor or per column likewise.
 * QLinearMatMul requantizes with round-half-to-even of acc · (a_scale ·
 * b_scale / y_scale), the scale arithmetic in float32 and the multiply in
 * double, as the ONNX reference (numpy) does.
 *
 * Fast path (QLinearMatMul): with a constant 2-D b (int8 with zero point 0
 * or uint8 with 128), per-tensor a parameters and the active ISA having
 * int8 GEMM kernels, prepare packs bᵀ once and forward runs the int8 GEMM
 * (src/kernels/qgemm.h) with the requantization fused, each output matrix
 * computed transposed (rows = b's columns, the per-column scales becoming
 * per-row ones); bit-identical to the reference path. */
#include <string.h>
#include "ops/conv_shape.h"
#include "ops/qprep.h"

static int is_q8(mn_dtype t) { return t == MN_DT_U8 || t == MN_DT_I8; }
static size_t round64(size_t v) { return (v + 63) / 64 * 64; }

/* Index of the parameter for row (or column) r of matrix mat, when the
 * parameter has cnt values over `rows` rows. */
static int64_t pidx(int64_t cnt, int64_t mat, int64_t r, int64_t rows)
{
    if (cnt <= 1)
        return 0;
    return cnt == rows ? r : mat * rows + r;
}

/* A per-tensor / per-row (per-column) parameter: one value, one per row, or
 * one per row of every matrix. */
static mn_status check_param(const mn_tensor *t, mn_dtype want, int64_t rows,
                             int64_t mats, const char *what, mn_ctx *ctx)
{
    if (!t)
        return MN_OK;
    if (t->dtype != want)
        return mn_error(ctx, MN_ERR_SHAPE, "%s is %s, expected %s", what,
                        mn_dtype_name(t->dtype), mn_dtype_name(want));
    int64_t cnt = mn_tensor_numel(t);
    if (cnt != 1 && cnt != rows && cnt != rows * mats) {
        char s[128];
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s %s is neither per tensor nor per %s", what,
                        mn_shape_str(t, s, sizeof s),
                        what[0] == 'a' ? "row" : "column");
    }
    return MN_OK;
}

static mn_status qmm_common(const char *op, const mn_tensor *a,
                            const mn_tensor *b, mn_matmul_shape *s,
                            mn_tensor *out, mn_ctx *ctx)
{
    mn_status st;
    if (!a || !b)
        return mn_error(ctx, MN_ERR_SHAPE, "%s needs inputs a and b", op);
    if (!is_q8(a->dtype) || !is_q8(b->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s on %s and %s (int8/uint8 only)", op,
                        mn_dtype_name(a->dtype), mn_dtype_name(b->dtype));
    if ((st = mn_matmul_setup(a, b, s, out, ctx)) != MN_OK)
        return st;
    if (s->k > MN_REF_Q8_MAX_K)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s reduces over %lld terms; int32 accumulation could "
                        "overflow", op, (long long)s->k);
    return MN_OK;
}

/* Scratch: a as int16 [m×k], b as int16 [k×n], b's column zero points,
 * then (QLinearMatMul) the int32 accumulators [m×n]. */
static size_t qmm_scratch_bytes(const mn_matmul_shape *s, int with_acc)
{
    size_t b = round64((size_t)(s->m * s->k) * sizeof(int16_t));
    b += round64((size_t)(s->k * s->n) * sizeof(int16_t));
    b += round64((size_t)s->n * sizeof(int32_t));
    if (with_acc)
        b += (size_t)(s->m * s->n) * sizeof(int32_t);
    return b;
}

typedef struct qmm_bufs {
    int16_t *a16, *b16;
    int32_t *zcol, *acc;
} qmm_bufs;

static void qmm_bufs_init(const mn_matmul_shape *s, void *scratch,
                          qmm_bufs *q)
{
    char *p = scratch;
    q->a16 = (int16_t *)p;
    p += round64((size_t)(s->m * s->k) * sizeof(int16_t));
    q->b16 = (int16_t *)p;
    p += round64((size_t)(s->k * s->n) * sizeof(int16_t));
    q->zcol = (int32_t *)p;
    p += round64((size_t)s->n * sizeof(int32_t));
    q->acc = (int32_t *)p;
}

/* Matrix ia of a, minus its row zero points, into dst. */
static void a_to_s16(const mn_matmul_shape *s, const mn_tensor *a, int64_t ia,
                     const mn_tensor *zp, int16_t *dst)
{
    const char *base = (const char *)a->data + ia * s->m * s->k;
    int64_t cnt = mn_numel_opt(zp);
    for (int64_t i = 0; i < s->m; i++) {
        int32_t z = zp ? (int32_t)mn_tensor_get_i64(zp, pidx(cnt, ia, i, s->m))
                       : 0;
        mn_ref_q8_to_s16(base + i * s->k, a->dtype == MN_DT_I8, z, s->k,
                         dst + i * s->k);
    }
}

/* Matrix ib of b, minus its column zero points, into dst. */
static void b_to_s16(const mn_matmul_shape *s, const mn_tensor *b, int64_t ib,
                     const mn_tensor *zp, int32_t *zcol, int16_t *dst)
{
    int64_t cnt = mn_numel_opt(zp), kn = s->k * s->n;
    for (int64_t j = 0; j < s->n; j++)
        zcol[j] = zp ? (int32_t)mn_tensor_get_i64(zp, pidx(cnt, ib, j, s->n))
                     : 0;
    if (b->dtype == MN_DT_I8) {
        const int8_t *src = (const int8_t *)b->data + ib * kn;
        for (int64_t p = 0; p < kn; p++)
            dst[p] = (int16_t)(src[p] - zcol[p % s->n]);
    } else {
        const uint8_t *src = (const uint8_t *)b->data + ib * kn;
        for (int64_t p = 0; p < kn; p++)
            dst[p] = (int16_t)(src[p] - zcol[p % s->n]);
    }
}

/* ---- QLinearMatMul ---- */

enum { QA, QAS, QAZ, QB, QBS, QBZ, QYS, QYZ };

static mn_status qlinearmatmul_check(const mn_tensor *const *in, int n_in,
                                     mn_matmul_shape *s, mn_tensor *out,
                                     mn_ctx *ctx)
{
    mn_status st;
    if (n_in < 8)
        return mn_error(ctx, MN_ERR_SHAPE, "QLinearMatMul needs 8 inputs");
    if ((st = qmm_common("QLinearMatMul", in[QA], in[QB], s, out, ctx)) !=
        MN_OK)
        return st;
    if (!in[QAS] || !in[QBS] || !in[QYS])
        return mn_error(ctx, MN_ERR_SHAPE, "QLinearMatMul needs all scales");
    if ((st = check_param(in[QAS], MN_DT_F32, s->m, s->a_nbatch, "a_scale",
                          ctx)) != MN_OK ||
        (st = check_param(in[QAZ], in[QA]->dtype, s->m, s->a_nbatch,
                          "a_zero_point", ctx)) != MN_OK ||
        (st = check_param(in[QBS], MN_DT_F32, s->n, s->b_nbatch, "b_scale",
                          ctx)) != MN_OK ||
        (st = check_param(in[QBZ], in[QB]->dtype, s->n, s->b_nbatch,
                          "b_zero_point", ctx)) != MN_OK ||
        (st = check_param(in[QYS], MN_DT_F32, 1, 1, "y_scale", ctx)) != MN_OK)
        return st;
    const mn_tensor *yz = in[QYZ];
    if (yz && (!is_q8(yz->dtype) || mn_tensor_numel(yz) != 1))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "y_zero_point must be one int8/uint8 value");
    out->dtype = yz ? yz->dtype : MN_DT_U8;
    return MN_OK;
}

static mn_status qlinearmatmul_infer(const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     mn_tensor *const *out, int n_out,
                                     mn_ctx *ctx)
{
    mn_matmul_shape s;
    (void)n;
    (void)n_out;
    return qlinearmatmul_check(in, n_in, &s, out[0], ctx);
}

/* The fast kernels for these inputs, or NULL (reference path). */
static const mn_kernels_q8 *qmm_fast(const mn_tensor *const *in,
                                     const mn_matmul_shape *s)
{
    const mn_kernels_q8 *kr = mn_kernels_q8_active();
    uint8_t flip;
    if (!kr || in[QA]->data || !in[QB]->data || s->b_nbatch != 1 ||
        !mn_q8_weight_flip(in[QB], in[QBZ], &flip))
        return NULL;
    for (int i = 1; i < 8; i++)
        if (i != QB && in[i] && !in[i]->data)
            return NULL;
    if (mn_tensor_numel(in[QAS]) != 1 || mn_numel_opt(in[QAZ]) > 1)
        return NULL;
    return kr;
}

static mn_status qlinearmatmul_prepare(const mn_node *n,
                                       const mn_tensor *const *in, int n_in,
                                       const mn_tensor *const *out, int n_out,
                                       const mn_prepare_info *info,
                                       mn_prepared *pp, mn_ctx *ctx)
{
    mn_matmul_shape s;
    mn_tensor t = {0};
    mn_q8_prep *q;
    uint8_t flip = 0;
    (void)n;
    (void)out;
    (void)n_out;
    (void)info;
    if (qlinearmatmul_check(in, n_in, &s, &t, NULL) != MN_OK)
        return MN_OK;
    const mn_kernels_q8 *kr = qmm_fast(in, &s);
    if (!kr)
        return MN_OK;
    mn_q8_weight_flip(in[QB], in[QBZ], &flip);
    mn_status st = mn_q8_prep_create(kr, s.n, s.k, 1, in[QB]->data, s.n, 1,
                                     flip, &q, ctx);
    if (st != MN_OK)
        return st;
    mn_q8_prep_input(q, in[QA], in[QAZ], NULL);
    mn_q8_prep_requant(q, in[QAS], in[QBS], in[QYS], in[QYZ], t.dtype);
    return mn_q8_prepared(pp, q);
}

static size_t qlinearmatmul_scratch(const mn_node *n,
                                    const mn_tensor *const *in, int n_in,
                                    const mn_tensor *const *out, int n_out)
{
    mn_matmul_shape s;
    mn_tensor t = {0};
    (void)n;
    (void)out;
    (void)n_out;
    if (qlinearmatmul_check(in, n_in, &s, &t, NULL) != MN_OK)
        return 0;
    const mn_kernels_q8 *kr = qmm_fast(in, &s);
    if (kr)
        return mn_q8_thread_scratch(kr, s.m, s.k);
    return qmm_scratch_bytes(&s, 1);
}

static mn_status qlinearmatmul_forward(const mn_node *n,
                                       const mn_tensor *const *in, int n_in,
                                       mn_tensor *const *out, int n_out,
                                       mn_exec *ex)
{
    mn_matmul_shape s;
    mn_tensor t = {0};
    qmm_bufs q;
    mn_status st = qlinearmatmul_check(in, n_in, &s, &t, ex->ctx);
    (void)n;
    (void)n_out;
    if (st != MN_OK)
        return st;
    if (ex->priv) {
        const mn_q8_prep *pq = ex->priv;
        for (int64_t b = 0; b < s.nbatch; b++) {
            int64_t ia, ib;
            mn_matmul_index(&s, b, &ia, &ib);
            mn_q8_bsrc src = {
                .kind = MN_Q8B_TRANS,
                .b = (const uint8_t *)in[QA]->data + ia * s.m * s.k,
                .ldb = s.k, .flip = pq->xflip};
            mn_q8_gemm_run(pq->kr, ex->pool, s.n, s.m, s.k, pq->a, &src,
                           &pq->epi, 0, (char *)out[0]->data + b * s.m * s.n,
                           1, s.n, ex->scratch);
        }
        return MN_OK;
    }
    if (ex->scratch_bytes < qmm_scratch_bytes(&s, 1))
        return mn_error(ex->ctx, MN_ERR_RUNTIME,
                        "QLinearMatMul: scratch too small");
    qmm_bufs_init(&s, ex->scratch, &q);
    const float *as = in[QAS]->data, *bs = in[QBS]->data;
    float ys = *(const float *)in[QYS]->data;
    int64_t nas = mn_tensor_numel(in[QAS]), nbs = mn_tensor_numel(in[QBS]);
    int32_t yzp = in[QYZ] ? (int32_t)mn_tensor_get_i64(in[QYZ], 0) : 0;
    int sgn = t.dtype == MN_DT_I8;
    int32_t lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;
    int64_t last_a = -1, last_b = -1;
    for (int64_t b = 0; b < s.nbatch; b++) {
        int64_t ia, ib;
        mn_matmul_index(&s, b, &ia, &ib);
        if (ia != last_a)
            a_to_s16(&s, in[QA], ia, in[QAZ], q.a16);
        if (ib != last_b)
            b_to_s16(&s, in[QB], ib, in[QBZ], q.zcol, q.b16);
        last_a = ia;
        last_b = ib;
        mn_ref_gemm_s16s32(s.m, s.n, s.k, q.a16, q.b16, q.acc);
        for (int64_t i = 0; i < s.m; i++) {
            float ai = as[pidx(nas, ia, i, s.m)];
            for (int64_t j = 0; j < s.n; j++) {
                float prod = ai * bs[pidx(nbs, ib, j, s.n)];
                float mult = prod / ys;
                int32_t v = mn_ref_requantize(q.acc[i * s.n + j], mult, yzp,
                                              lo, hi);
                int64_t o = (b * s.m + i) * s.n + j;
                if (sgn)
                    ((int8_t *)out[0]->data)[o] = (int8_t)v;
                else
                    ((uint8_t *)out[0]->data)[o] = (uint8_t)v;
            }
        }
    }
    return MN_OK;
}

const mn_op_def mn_opdef_qlinearmatmul = {
    .name = "QLinearMatMul",
    .min_in = 8,
    .max_in = 8,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .infer = qlinearmatmul_infer,
    .scratch = qlinearmatmul_scratch,
    .forward = qlinearmatmul_forward,
    .prepare = qlinearmatmul_prepare,
};

/* ---- MatMulInteger ---- */

static mn_status matmulinteger_check(const mn_tensor *const *in, int n_in,
                                     mn_matmul_shape *s, mn_tensor *out,
                                     mn_ctx *ctx)
{
    const mn_tensor *az = n_in > 2 ? in[2] : NULL;
    const mn_tensor *bz = n_in > 3 ? in[3] : NULL;
    mn_status st = qmm_common("MatMulInteger", in[0], n_in > 1 ? in[1] : NULL,
                              s, out, ctx);
    if (st != MN_OK)
        return st;
    if ((st = check_param(az, in[0]->dtype, s->m, s->a_nbatch, "a_zero_point",
                          ctx)) != MN_OK ||
        (st = check_param(bz, in[1]->dtype, s->n, s->b_nbatch, "b_zero_point",
                          ctx)) != MN_OK)
        return st;
    out->dtype = MN_DT_I32;
    return MN_OK;
}

static mn_status matmulinteger_infer(const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     mn_tensor *const *out, int n_out,
                                     mn_ctx *ctx)
{
    mn_matmul_shape s;
    (void)n;
    (void)n_out;
    return matmulinteger_check(in, n_in, &s, out[0], ctx);
}

static size_t matmulinteger_scratch(const mn_node *n,
                                    const mn_tensor *const *in, int n_in,
                                    const mn_tensor *const *out, int n_out)
{
    mn_matmul_shape s;
    mn_tensor t = {0};
    (void)n;
    (void)out;
    (void)n_out;
    if (matmulinteger_check(in, n_in, &s, &t, NULL) != MN_OK)
        return 0;
    return qmm_scratch_bytes(&s, 0);
}

static mn_status matmulinteger_forward(const mn_node *n,
                                       const mn_tensor *const *in, int n_in,
                                       mn_tensor *const *out, int n_out,
                                       mn_exec *ex)
{
    mn_matmul_shape s;
    mn_tensor t = {0};
    qmm_bufs q;
    mn_status st = matmulinteger_check(in, n_in, &s, &t, ex->ctx);
    const mn_tensor *az = n_in > 2 ? in[2] : NULL;
    const mn_tensor *bz = n_in > 3 ? in[3] : NULL;
    int64_t last_a = -1, last_b = -1;
    (void)n;
    (void)n_out;
    if (st != MN_OK)
        return st;
    if (ex->scratch_bytes < qmm_scratch_bytes(&s, 0))
        return mn_error(ex->ctx, MN_ERR_RUNTIME,
                        "MatMulInteger: scratch too small");
    qmm_bufs_init(&s, ex->scratch, &q);
    for (int64_t b = 0; b < s.nbatch; b++) {
        int64_t ia, ib;
        mn_matmul_index(&s, b, &ia, &ib);
        if (ia != last_a)
            a_to_s16(&s, in[0], ia, az, q.a16);
        if (ib != last_b)
            b_to_s16(&s, in[1], ib, bz, q.zcol, q.b16);
        last_a = ia;
        last_b = ib;
        mn_ref_gemm_s16s32(s.m, s.n, s.k, q.a16, q.b16,
                           (int32_t *)out[0]->data + b * s.m * s.n);
    }
    return MN_OK;
}

const mn_op_def mn_opdef_matmulinteger = {
    .name = "MatMulInteger",
    .min_in = 2,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .infer = matmulinteger_infer,
    .scratch = matmulinteger_scratch,
    .forward = matmulinteger_forward,
};
