/* The sparse path of Conv, Gemm and MatMul (float32, constant weight).
 *
 * At session compile, prepare counts the weight's non-zeros and picks the
 * kernel: sparse when forced (MN_SPARSE_FORCE), or in automatic mode when
 * the density is at most the measured break-even (conv_sparse.h) and the
 * AVX-512 kernels are active; the decision is a deterministic rule (no
 * timing inside session create). Sparse layers keep their weight in the
 * blocked-CSR form of src/kernels/spmm_f32.h (owned by the step), and
 * their forward runs mn_spconv_f32 / mn_spgemm_f32 with the same fused
 * epilogue (bias, residual Add, activation) as the dense path. The 8-bit
 * convolutions (qconv.c) ask the same rule (mn_sparse_q8_wanted) with
 * their non-zero quads. */
#include <stdlib.h>
#include "kernels/dispatch.h"
#include "kernels/spmm_f32.h"
#include "kernels/wsrc.h"
#include "ops/conv_shape.h"
#include "ops/conv_sparse.h"

typedef struct sparse_state {
    mn_wprep head;     /* MN_WPREP_SPARSE */
    mn_conv_params p;  /* Conv */
    int64_t rows;      /* Gemm/MatMul: rows of x */
    int has_bias;      /* Gemm: input 2 is a bias row */
    size_t scratch;
    mn_spmat_f32 *s;
} sparse_state;

static void state_release(void *priv)
{
    sparse_state *st = priv;
    if (!st)
        return;
    mn_spmat_f32_destroy(st->s);
    free(st);
}

static int want_sparse(const mn_prepare_info *info, const mn_tensor *w,
                       double max_density)
{
    int64_t n = mn_tensor_numel(w);
    if (info->sparse == MN_SPARSE_DENSE || n <= 0)
        return 0;
    if (info->sparse == MN_SPARSE_FORCE)
        return 1;
    if (mn_isa_active() < MN_ISA_AVX512)
        return 0;
    /* + 1: pruning a layer to exactly 70 % rounds its count of zeros */
    return (double)mn_f32_count_nonzero(w->data, n) <=
           max_density * (double)n + 1.0;
}

int mn_sparse_q8_wanted(const mn_prepare_info *info, int64_t taps,
                        double macs, int64_t nzq, int64_t nq)
{
    if (info->sparse == MN_SPARSE_DENSE || nq <= 0)
        return 0;
    if (info->sparse == MN_SPARSE_FORCE)
        return 1;
    double max = macs <= MN_SPARSE_Q8_SMALL_MACS
                     ? MN_SPARSE_Q8_SMALL_MAX_QDENSITY
                     : MN_SPARSE_Q8_CONV_MAX_QDENSITY;
    return mn_isa_active() >= MN_ISA_AVX512VNNI && taps > 1 &&
           (double)nzq <= max * (double)nq;
}

static mn_status state_new(mn_prepared *p, sparse_state **out, mn_ctx *ctx)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    (*out)->head.kind = MN_WPREP_SPARSE;
    p->priv = *out;
    p->release = state_release;
    return MN_OK;
}

mn_status mn_conv_sparse_prepare(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, const mn_tensor *const *out,
                                 int n_out, const mn_prepare_info *info,
                                 mn_prepared *p, mn_ctx *ctx)
{
    const mn_tensor *x = in[0], *w = n_in > 1 ? in[1] : NULL;
    mn_conv_params cp;
    int64_t dims[MN_MAX_DIMS];
    sparse_state *st;
    mn_status rc;
    (void)out;
    (void)n_out;
    p->kernel = "dense";
    if (!x || !w || !w->data || x->dtype != MN_DT_F32 ||
        w->dtype != MN_DT_F32 || mn_conv_setup(n, x, w, &cp, dims, NULL) ||
        mn_ref_conv2d_is_depthwise(&cp) ||
        !want_sparse(info, w, MN_SPARSE_CONV_MAX_DENSITY))
        return MN_OK;
    if ((rc = state_new(p, &st, ctx)) != MN_OK)
        return rc;
    st->p = cp;
    int64_t k = cp.c / cp.group * cp.kh * cp.kw;
    rc = mn_spmat_f32_create(w->data, cp.m, k, k, 0,
                             mn_spconv_f32_kblock(&cp), &st->s, ctx);
    if (rc != MN_OK)
        return rc;
    st->scratch = mn_spconv_f32_scratch(&cp);
    p->scratch_bytes = st->scratch;
    p->kernel = "sparse";
    return MN_OK;
}

mn_status mn_conv_sparse_forward(const mn_tensor *const *in, int n_in,
                                 mn_tensor *const *out, mn_exec *ex)
{
    const sparse_state *st = ex->priv;
    const mn_tensor *b = n_in > 2 ? in[2] : NULL;
    mn_act act = {(mn_act_kind)ex->act.kind, ex->act.lo, ex->act.hi};
    if (ex->scratch_bytes < st->scratch)
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "Conv: scratch too small");
    mn_spconv_f32(ex->pool, &st->p, st->s, in[0]->data, b ? b->data : NULL,
                  &act, ex->residual, out[0]->data, ex->scratch);
    return MN_OK;
}

/* ---- weights kept compressed ---- */

static int64_t wsrc_nonzero(const mn_wsrc *w)
{
    float buf[1024];
    int64_t n = w->rows * w->cols, nz = 0;
    for (int64_t i = 0; i < n; i += 1024) {
        int64_t c = n - i < 1024 ? n - i : 1024;
        mn_wsrc_decode(w, i, c, buf);
        nz += mn_f32_count_nonzero(buf, c);
    }
    return nz;
}

mn_status mn_sparse_prepare_wsrc(mn_prepare_fn fn, const mn_node *n,
                                 const mn_tensor *const *in, int n_in,
                                 const mn_tensor *const *out, int n_out,
                                 const mn_prepare_info *info, mn_prepared *p,
                                 mn_ctx *ctx)
{
    const mn_wsrc *w = info->wsrc;
    int64_t numel = w->rows * w->cols;
    const mn_tensor *v[3] = {0};
    mn_tensor wt;
    mn_status st;
    if (info->sparse == MN_SPARSE_DENSE || n_in < 2 || n_in > 3 ||
        numel <= 0 || numel != mn_tensor_numel(in[1]))
        return MN_OK;
    /* the loosest automatic rule (convolutions'): denser is never sparse */
    if (info->sparse == MN_SPARSE_AUTO &&
        (mn_isa_active() < MN_ISA_AVX512 ||
         (double)wsrc_nonzero(w) >
             MN_SPARSE_CONV_MAX_DENSITY * (double)numel + 1.0))
        return MN_OK;
    wt = *in[1];
    wt.data = malloc((size_t)numel * sizeof(float));
    if (!wt.data)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    mn_wsrc_decode(w, 0, numel, wt.data);
    for (int j = 0; j < n_in; j++)
        v[j] = j == 1 ? &wt : in[j];
    st = fn(n, v, n_in, out, n_out, info, p, ctx);
    free(wt.data);
    return st;
}

/* ---- Gemm / MatMul ---- */

/* B (k×n, or n×k with tb) as the sparse n×k matrix of output features. */
static mn_status gemm_pack(const mn_tensor *x, const mn_tensor *b, int tb,
                           const mn_prepare_info *info, mn_prepared *p,
                           sparse_state **out, mn_ctx *ctx)
{
    sparse_state *st;
    mn_status rc;
    *out = NULL;
    p->kernel = "dense";
    int64_t k = b->dims[tb ? 1 : 0], nf = b->dims[tb ? 0 : 1];
    if (k <= 0 || nf <= 0)
        return MN_OK;
    int64_t rows = mn_tensor_numel(x) / k;
    if (info->sparse == MN_SPARSE_AUTO && rows > MN_SPARSE_GEMM_MAX_ROWS)
        return MN_OK;
    if (!want_sparse(info, b, MN_SPARSE_GEMM_MAX_DENSITY))
        return MN_OK;
    if ((rc = state_new(p, &st, ctx)) != MN_OK)
        return rc;
    st->rows = rows;
    rc = mn_spmat_f32_create(b->data, nf, k, tb ? k : nf, !tb, 0, &st->s,
                             ctx);
    if (rc != MN_OK)
        return rc;
    p->kernel = "sparse";
    *out = st;
    return MN_OK;
}

mn_status mn_gemm_sparse_prepare(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, const mn_tensor *const *out,
                                 int n_out, const mn_prepare_info *info,
                                 mn_prepared *p, mn_ctx *ctx)
{
    const mn_tensor *a = in[0], *b = n_in > 1 ? in[1] : NULL;
    const mn_tensor *c = n_in > 2 ? in[2] : NULL;
    sparse_state *st;
    mn_status rc;
    (void)n_out;
    p->kernel = "dense";
    if (!a || !b || !b->data || a->dtype != MN_DT_F32 ||
        b->dtype != MN_DT_F32 || a->ndim != 2 || b->ndim != 2 ||
        mn_node_attr_int(n, "transA", 0) != 0 ||
        mn_node_attr_float(n, "alpha", 1.0f) != 1.0f)
        return MN_OK;
    int tb = mn_node_attr_int(n, "transB", 0) != 0;
    int64_t nf = out[0]->dims[1];
    if (c) {
        /* only a bias row, added as is */
        int64_t cm = c->ndim == 2 ? c->dims[0] : 1;
        int64_t cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if (c->dtype != MN_DT_F32 || cm != 1 || cn != nf ||
            mn_node_attr_float(n, "beta", 1.0f) != 1.0f)
            return MN_OK;
    }
    if ((rc = gemm_pack(a, b, tb, info, p, &st, ctx)) != MN_OK || !st)
        return rc;
    st->has_bias = c != NULL;
    return MN_OK;
}

mn_status mn_matmul_sparse_prepare(const mn_node *n,
                                   const mn_tensor *const *in, int n_in,
                                   const mn_tensor *const *out, int n_out,
                                   const mn_prepare_info *info,
                                   mn_prepared *p, mn_ctx *ctx)
{
    const mn_tensor *a = in[0], *b = n_in > 1 ? in[1] : NULL;
    sparse_state *st;
    (void)n;
    (void)out;
    (void)n_out;
    if (!a || !b || !b->data || a->dtype != MN_DT_F32 ||
        b->dtype != MN_DT_F32 || b->ndim != 2 || a->ndim < 1 ||
        a->dims[a->ndim - 1] != b->dims[0])
        return MN_OK;
    return gemm_pack(a, b, 0, info, p, &st, ctx);
}

mn_status mn_gemm_sparse_forward(const mn_tensor *const *in, int n_in,
                                 mn_tensor *const *out, mn_exec *ex)
{
    const sparse_state *st = ex->priv;
    mn_act act = {(mn_act_kind)ex->act.kind, ex->act.lo, ex->act.hi};
    /* Gemm's C, or a MatMul's fused bias */
    const float *bias = st->has_bias && n_in > 2 ? in[2]->data : ex->bias;
    mn_spgemm_f32(ex->pool, st->s, st->rows, in[0]->data, bias, ex->residual,
                  &act, out[0]->data);
    return MN_OK;
}
