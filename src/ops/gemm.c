/* Gemm and MatMul: shape rules and forwards. float32 runs on the
 * dispatched GEMM (src/kernels/gemm.h: AVX-512/AVX2 micro-kernels, the
 * reference blocked GEMM under MINNOW_ISA=ref), threaded over the
 * session's pool, with Gemm's bias vector fused into the store; MatMul
 * also accepts float64/int32/int64 through a simple loop (integers wrap
 * like numpy's). A constant B the session keeps compressed (mn_exec.wsrc)
 * is decoded on the fly by the same driver (mn_sgemm_wsrc). */
#include <string.h>
#include "kernels/gemm.h"
#include "ops/conv_shape.h"
#include "ops/conv_sparse.h"

/* ---- Gemm ---- */

typedef struct gemm_geom {
    int64_t m, n, k;
    int ta, tb;
} gemm_geom;

static mn_status gemm_check(const mn_node *n, const mn_tensor *const *in,
                            int n_in, gemm_geom *g, mn_ctx *ctx)
{
    const mn_tensor *a = in[0], *b = n_in > 1 ? in[1] : NULL;
    const mn_tensor *c = n_in > 2 ? in[2] : NULL;
    char sa[128], sb[128];
    if (!a || !b)
        return mn_error(ctx, MN_ERR_SHAPE, "Gemm needs inputs A and B");
    if (a->dtype != MN_DT_F32 || b->dtype != MN_DT_F32 ||
        (c && c->dtype != MN_DT_F32))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "Gemm on %s (float32 only)", mn_dtype_name(a->dtype));
    if (a->ndim != 2 || b->ndim != 2)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "Gemm of %s and %s: both must be 2-D",
                        mn_shape_str(a, sa, sizeof sa),
                        mn_shape_str(b, sb, sizeof sb));
    g->ta = mn_node_attr_int(n, "transA", 0) != 0;
    g->tb = mn_node_attr_int(n, "transB", 0) != 0;
    g->m = a->dims[g->ta ? 1 : 0];
    g->k = a->dims[g->ta ? 0 : 1];
    g->n = b->dims[g->tb ? 0 : 1];
    if (b->dims[g->tb ? 1 : 0] != g->k)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "Gemm inner dimensions differ: A %s%s, B %s%s",
                        mn_shape_str(a, sa, sizeof sa), g->ta ? "^T" : "",
                        mn_shape_str(b, sb, sizeof sb), g->tb ? "^T" : "");
    if (c) {
        int ok = c->ndim <= 2;
        if (ok && c->ndim >= 1)
            ok = c->dims[c->ndim - 1] == 1 || c->dims[c->ndim - 1] == g->n;
        if (ok && c->ndim == 2)
            ok = c->dims[0] == 1 || c->dims[0] == g->m;
        if (!ok)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "Gemm bias C %s does not broadcast to [%lld,%lld]",
                            mn_shape_str(c, sa, sizeof sa), (long long)g->m,
                            (long long)g->n);
    }
    return MN_OK;
}

static mn_status gemm_infer(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_ctx *ctx)
{
    gemm_geom g;
    mn_status st = gemm_check(n, in, n_in, &g, ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    out[0]->dtype = MN_DT_F32;
    out[0]->ndim = 2;
    out[0]->dims[0] = g.m;
    out[0]->dims[1] = g.n;
    return MN_OK;
}

static size_t gemm_scratch(const mn_node *n, const mn_tensor *const *in,
                           int n_in, const mn_tensor *const *out, int n_out)
{
    gemm_geom g;
    (void)out;
    (void)n_out;
    if (gemm_check(n, in, n_in, &g, NULL) != MN_OK)
        return 0;
    return mn_sgemm_scratch(g.ta, g.tb, g.m, g.n, g.k);
}

static mn_status gemm_forward(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    gemm_geom g;
    mn_status st = gemm_check(n, in, n_in, &g, ex->ctx);
    const mn_tensor *c = n_in > 2 ? in[2] : NULL;
    float *y = out[0]->data;
    (void)n_out;
    if (st != MN_OK)
        return st;
    if (ex->priv) /* prepare chose the sparse kernel */
        return mn_gemm_sparse_forward(in, n_in, out, ex);
    if (ex->scratch_bytes <
        (ex->wsrc ? mn_sgemm_wsrc_scratch(g.ta, g.tb, g.m, g.n, g.k, ex->wsrc)
                  : mn_sgemm_scratch(g.ta, g.tb, g.m, g.n, g.k)))
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "Gemm: scratch too small");
    float alpha = mn_node_attr_float(n, "alpha", 1.0f);
    float beta = c ? mn_node_attr_float(n, "beta", 1.0f) : 0.0f;
    mn_epilogue epi = {.residual = ex->residual,
                       .act = {(mn_act_kind)ex->act.kind, ex->act.lo,
                               ex->act.hi}};
    if (beta == 1.0f) {
        /* a bias vector (Linear's) is added in the GEMM's store */
        int64_t cm = c->ndim == 2 ? c->dims[0] : 1;
        int64_t cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if (cm == 1 && cn == g.n && g.n > 1) {
            epi.bias = c->data;
            epi.bias_per_col = 1;
            beta = 0.0f;
        } else if (cn == 1 && cm == g.m && g.m > 1) {
            epi.bias = c->data;
            beta = 0.0f;
        }
    }
    if (beta != 0.0f) {
        /* y = C broadcast to [m,n], then the GEMM scales it by beta. */
        const float *cd = c->data;
        int64_t cm = c->ndim == 2 ? c->dims[0] : 1;
        int64_t cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        for (int64_t i = 0; i < g.m; i++)
            for (int64_t j = 0; j < g.n; j++)
                y[i * g.n + j] = cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
    }
    if (ex->wsrc)
        mn_sgemm_wsrc(ex->pool, g.ta, g.tb, g.m, g.n, g.k, alpha,
                      in[0]->data, in[0]->dims[1], ex->wsrc, beta, y, g.n,
                      &epi, ex->scratch);
    else
        mn_sgemm(ex->pool, g.ta, g.tb, g.m, g.n, g.k, alpha, in[0]->data,
                 in[0]->dims[1], in[1]->data, in[1]->dims[1], beta, y, g.n,
                 &epi, ex->scratch);
    return MN_OK;
}

/* A compressed B offered by the session runs as it is (B as stored is
 * the source's matrix); otherwise the sparse-or-dense choice. */
static mn_status gemm_prepare(const mn_node *n, const mn_tensor *const *in,
                              int n_in, const mn_tensor *const *out,
                              int n_out, const mn_prepare_info *info,
                              mn_prepared *p, mn_ctx *ctx)
{
    gemm_geom g;
    const mn_wsrc *w = info->wsrc;
    if (!w)
        return mn_gemm_sparse_prepare(n, in, n_in, out, n_out, info, p, ctx);
    if (gemm_check(n, in, n_in, &g, NULL) != MN_OK ||
        w->rows != in[1]->dims[0] || w->cols != in[1]->dims[1])
        return MN_OK; /* declined: the session folds the weight */
    mn_status st = mn_sparse_prepare_wsrc(mn_gemm_sparse_prepare, n, in,
                                          n_in, out, n_out, info, p, ctx);
    if (st != MN_OK)
        return st;
    p->wsrc = w;
    if (!p->priv) { /* dense */
        p->scratch_bytes = mn_sgemm_wsrc_scratch(g.ta, g.tb, g.m, g.n, g.k,
                                                 w);
        p->kernel = "dense";
    }
    return MN_OK;
}

const mn_op_def mn_opdef_gemm = {
    .name = "Gemm",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .flags = MN_OPF_FUSE_ACT,
    .infer = gemm_infer,
    .scratch = gemm_scratch,
    .forward = gemm_forward,
    .prepare = gemm_prepare,
};

/* ---- MatMul ---- */

static mn_status matmul_check(const mn_tensor *const *in, int n_in,
                              mn_matmul_shape *s, mn_tensor *out, mn_ctx *ctx)
{
    const mn_tensor *a = in[0], *b = n_in > 1 ? in[1] : NULL;
    if (!a || !b)
        return mn_error(ctx, MN_ERR_SHAPE, "MatMul needs inputs A and B");
    if (a->dtype != b->dtype)
        return mn_error(ctx, MN_ERR_SHAPE, "MatMul of %s and %s",
                        mn_dtype_name(a->dtype), mn_dtype_name(b->dtype));
    if (a->dtype != MN_DT_F32 && a->dtype != MN_DT_F64 &&
        a->dtype != MN_DT_I32 && a->dtype != MN_DT_I64)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "MatMul on %s",
                        mn_dtype_name(a->dtype));
    out->dtype = a->dtype;
    return mn_matmul_setup(a, b, s, out, ctx);
}

static mn_status matmul_infer(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_ctx *ctx)
{
    mn_matmul_shape s;
    (void)n;
    (void)n_out;
    return matmul_check(in, n_in, &s, out[0], ctx);
}

/* One GEMM covers every matrix when b is a single matrix (a then holds
 * every output matrix's rows, stacked into one [nbatch·m, k] matrix). */
static int matmul_stacks(const mn_matmul_shape *s)
{
    return s->b_nbatch == 1;
}

static size_t matmul_scratch(const mn_node *n, const mn_tensor *const *in,
                             int n_in, const mn_tensor *const *out, int n_out)
{
    mn_matmul_shape s;
    mn_tensor t = {0};
    (void)n;
    (void)out;
    (void)n_out;
    if (matmul_check(in, n_in, &s, &t, NULL) != MN_OK ||
        t.dtype != MN_DT_F32)
        return 0;
    return mn_sgemm_scratch(0, 0, matmul_stacks(&s) ? s.nbatch * s.m : s.m,
                            s.n, s.k);
}

/* Plain loops for the non-float32 types; integer sums use the unsigned type
 * so that overflow wraps (as numpy's does) instead of being undefined. */
#define MATMUL_LOOP(NAME, T, ACC)                                           \
    static void NAME(const mn_matmul_shape *s, const T *a, const T *b, T *y) \
    {                                                                       \
        for (int64_t t = 0; t < s->nbatch; t++) {                           \
            int64_t ia, ib;                                                 \
            mn_matmul_index(s, t, &ia, &ib);                                \
            const T *am = a + ia * s->m * s->k, *bm = b + ib * s->k * s->n; \
            T *ym = y + t * s->m * s->n;                                    \
            for (int64_t i = 0; i < s->m; i++)                              \
                for (int64_t j = 0; j < s->n; j++) {                        \
                    ACC acc = 0;                                            \
                    for (int64_t p = 0; p < s->k; p++)                      \
                        acc += (ACC)am[i * s->k + p] * (ACC)bm[p * s->n + j]; \
                    ym[i * s->n + j] = (T)acc;                              \
                }                                                           \
        }                                                                   \
    }
MATMUL_LOOP(matmul_f64, double, double)
MATMUL_LOOP(matmul_i32, int32_t, uint32_t)
MATMUL_LOOP(matmul_i64, int64_t, uint64_t)

static mn_status matmul_forward(const mn_node *n, const mn_tensor *const *in,
                                int n_in, mn_tensor *const *out, int n_out,
                                mn_exec *ex)
{
    mn_matmul_shape s;
    mn_tensor t = {0};
    mn_status st = matmul_check(in, n_in, &s, &t, ex->ctx);
    (void)n;
    (void)n_out;
    if (st != MN_OK)
        return st;
    switch (t.dtype) {
    case MN_DT_F64:
        matmul_f64(&s, in[0]->data, in[1]->data, out[0]->data);
        return MN_OK;
    case MN_DT_I32:
        matmul_i32(&s, in[0]->data, in[1]->data, out[0]->data);
        return MN_OK;
    case MN_DT_I64:
        matmul_i64(&s, in[0]->data, in[1]->data, out[0]->data);
        return MN_OK;
    default:
        break;
    }
    if (ex->priv) /* prepare chose the sparse kernel */
        return mn_gemm_sparse_forward(in, n_in, out, ex);
    const float *a = in[0]->data, *b = in[1]->data;
    float *y = out[0]->data;
    /* fused by the session (MN_OPF_FUSE_ACT, a bias Add): in the store */
    mn_epilogue epi = {.bias = ex->bias, .bias_per_col = 1,
                       .residual = ex->residual,
                       .act = {(mn_act_kind)ex->act.kind, ex->act.lo,
                               ex->act.hi}};
    if (ex->wsrc) { /* B is 2-D (prepare checked): one stacked GEMM */
        if (ex->scratch_bytes < mn_sgemm_wsrc_scratch(0, 0, s.nbatch * s.m,
                                                      s.n, s.k, ex->wsrc))
            return mn_error(ex->ctx, MN_ERR_RUNTIME,
                            "MatMul: scratch too small");
        mn_sgemm_wsrc(ex->pool, 0, 0, s.nbatch * s.m, s.n, s.k, 1.0f, a, s.k,
                      ex->wsrc, 0.0f, y, s.n, &epi, ex->scratch);
        return MN_OK;
    }
    if (ex->scratch_bytes <
        mn_sgemm_scratch(0, 0, matmul_stacks(&s) ? s.nbatch * s.m : s.m, s.n,
                         s.k))
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "MatMul: scratch too small");
    if (matmul_stacks(&s)) {
        mn_sgemm(ex->pool, 0, 0, s.nbatch * s.m, s.n, s.k, 1.0f, a, s.k, b,
                 s.n, 0.0f, y, s.n, &epi, ex->scratch);
        return MN_OK;
    }
    for (int64_t i = 0; i < s.nbatch; i++) {
        int64_t ia, ib;
        mn_matmul_index(&s, i, &ia, &ib);
        mn_sgemm(ex->pool, 0, 0, s.m, s.n, s.k, 1.0f, a + ia * s.m * s.k, s.k,
                 b + ib * s.k * s.n, s.n, 0.0f, y + i * s.m * s.n, s.n, NULL,
                 ex->scratch);
    }
    /* batches of B (never fused: the session fuses only a constant
     * matrix B, which stacks), kept exact if ever: bias, residual, act */
    if (ex->bias || ex->residual || epi.act.kind != MN_ACT_NONE) {
        int64_t rows = s.nbatch * s.m;
        for (int64_t r = 0; ex->bias && r < rows; r++)
            for (int64_t j = 0; j < s.n; j++)
                y[r * s.n + j] += ex->bias[j];
        mn_act_apply(&epi.act, ex->residual, y, rows * s.n);
    }
    return MN_OK;
}

static mn_status matmul_prepare(const mn_node *n, const mn_tensor *const *in,
                                int n_in, const mn_tensor *const *out,
                                int n_out, const mn_prepare_info *info,
                                mn_prepared *p, mn_ctx *ctx)
{
    mn_matmul_shape s;
    mn_tensor t = {0};
    const mn_wsrc *w = info->wsrc;
    if (!w)
        return mn_matmul_sparse_prepare(n, in, n_in, out, n_out, info, p,
                                        ctx);
    if (matmul_check(in, n_in, &s, &t, NULL) != MN_OK ||
        t.dtype != MN_DT_F32 || in[1]->ndim != 2 || !matmul_stacks(&s) ||
        w->rows != s.k || w->cols != s.n)
        return MN_OK; /* declined: the session folds the weight */
    mn_status st = mn_sparse_prepare_wsrc(mn_matmul_sparse_prepare, n, in,
                                          n_in, out, n_out, info, p, ctx);
    if (st != MN_OK)
        return st;
    p->wsrc = w;
    if (!p->priv) { /* dense */
        p->scratch_bytes = mn_sgemm_wsrc_scratch(0, 0, s.nbatch * s.m, s.n,
                                                 s.k, w);
        p->kernel = "dense";
    }
    return MN_OK;
}

const mn_op_def mn_opdef_matmul = {
    .name = "MatMul",
    .min_in = 2,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .flags = MN_OPF_FUSE_ACT,
    .infer = matmul_infer,
    .scratch = matmul_scratch,
    .forward = matmul_forward,
    .prepare = matmul_prepare,
};
