/* Conv (float32, 1-D and 2-D): shape rule and forward through the
 * dispatched kernels (src/kernels/gemm.h: implicit-im2col GEMM and
 * depthwise on AVX-512/AVX2, the reference kernels under MINNOW_ISA=ref),
 * threaded over the session's pool. A weight the session keeps
 * compressed (mn_exec.wsrc) runs through the same drivers, which decode
 * it on the fly (src/kernels/wsrc.h). */
#include <stdlib.h>
#include "kernels/gemm.h"
#include "ops/conv_shape.h"
#include "ops/conv_sparse.h"

static mn_status conv_check(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_conv_params *p, int64_t *dims,
                            mn_ctx *ctx)
{
    const mn_tensor *x = in[0], *w = n_in > 1 ? in[1] : NULL;
    const mn_tensor *b = n_in > 2 ? in[2] : NULL;
    mn_status st;
    if (!x || !w)
        return mn_error(ctx, MN_ERR_SHAPE, "Conv needs inputs X and W");
    if (x->dtype != MN_DT_F32 || w->dtype != MN_DT_F32 ||
        (b && b->dtype != MN_DT_F32))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "Conv on %s input and %s weights (float32 only)",
                        mn_dtype_name(x->dtype), mn_dtype_name(w->dtype));
    if ((st = mn_conv_setup(n, x, w, p, dims, ctx)) != MN_OK)
        return st;
    if (b && (b->ndim != 1 || b->dims[0] != p->m)) {
        char s[128];
        return mn_error(ctx, MN_ERR_SHAPE, "bias %s, expected [%lld]",
                        mn_shape_str(b, s, sizeof s), (long long)p->m);
    }
    return MN_OK;
}

static mn_status conv_infer(const mn_node *n, const mn_tensor *const *in,
                            int n_in, mn_tensor *const *out, int n_out,
                            mn_ctx *ctx)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_status st = conv_check(n, in, n_in, &p, dims, ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    out[0]->dtype = MN_DT_F32;
    out[0]->ndim = in[0]->ndim;
    for (int i = 0; i < in[0]->ndim; i++)
        out[0]->dims[i] = dims[i];
    return MN_OK;
}

static size_t conv_scratch(const mn_node *n, const mn_tensor *const *in,
                           int n_in, const mn_tensor *const *out, int n_out)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    (void)out;
    (void)n_out;
    if (conv_check(n, in, n_in, &p, dims, NULL) != MN_OK)
        return 0;
    return mn_conv2d_f32_scratch(&p);
}

/* A dense float32 weight packed for the channel-vector convolution. */
typedef struct cv_state {
    mn_wprep head; /* MN_WPREP_CV */
    float *w;
    size_t scratch;
} cv_state;

static void cv_release(void *priv)
{
    cv_state *st = priv;
    if (st)
        mn_free_aligned(st->w);
    free(st);
}

static const cv_state *cv_of(const mn_exec *ex)
{
    return mn_wprep_kind(ex->priv) == MN_WPREP_CV ? ex->priv : NULL;
}

/* Packs w for the channel-vector path when it suits p better. */
static mn_status cv_prepare(const mn_conv_params *cp, const mn_tensor *w,
                            mn_prepared *p, mn_ctx *ctx)
{
    if (!mn_conv_cv_f32_want(cp))
        return MN_OK;
    cv_state *st = calloc(1, sizeof *st);
    if (!st)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    size_t bytes = mn_conv_cv_f32_packed_floats(cp) * sizeof(float);
    st->head.kind = MN_WPREP_CV;
    st->w = mn_malloc_aligned(bytes);
    if (!st->w) {
        free(st);
        return mn_error(ctx, MN_ERR_OOM, "out of memory (packed weights)");
    }
    mn_conv_cv_f32_pack(cp, w->data, st->w);
    st->scratch = mn_conv_cv_f32_scratch(cp);
    p->priv = st;
    p->release = cv_release;
    p->scratch_bytes = st->scratch;
    p->kernel = "dense";
    p->bytes = bytes;
    return MN_OK;
}

int mn_conv_takes_scale(const mn_node *n, const mn_tensor *const *in,
                        int n_in, const mn_prepared *prep)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    return !prep->priv && !prep->wsrc && in[0]->dtype == MN_DT_F32 &&
           conv_check(n, in, n_in, &p, dims, NULL) == MN_OK &&
           mn_conv2d_f32_scales_input(&p);
}

static mn_status conv_forward(const mn_node *n, const mn_tensor *const *in,
                              int n_in, mn_tensor *const *out, int n_out,
                              mn_exec *ex)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_status st = conv_check(n, in, n_in, &p, dims, ex->ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    const mn_tensor *b = n_in > 2 ? in[2] : NULL;
    mn_act act = {(mn_act_kind)ex->act.kind, ex->act.lo, ex->act.hi};
    const cv_state *cv = cv_of(ex);
    if (ex->in_scale) { /* the session checked mn_conv_takes_scale */
        if (ex->priv || ex->wsrc || !mn_conv2d_f32_scales_input(&p) ||
            ex->scratch_bytes < mn_conv2d_f32_scratch(&p))
            return mn_error(ex->ctx, MN_ERR_RUNTIME,
                            "Conv %s: fused input scale on another path",
                            n->name ? n->name : "");
        mn_conv2d_f32_scaled(ex->pool, &p, in[0]->data, ex->in_scale,
                             in[1]->data, b ? b->data : NULL, &act,
                             ex->residual, out[0]->data, ex->scratch);
        return MN_OK;
    }
    if (cv && mn_conv_cv_f32_can(&p)) { /* prepare packed the weight */
        if (ex->scratch_bytes < cv->scratch)
            return mn_error(ex->ctx, MN_ERR_RUNTIME,
                            "Conv: scratch too small");
        mn_conv_cv_f32(ex->pool, &p, in[0]->data, cv->w,
                       b ? b->data : NULL, &act, ex->residual,
                       out[0]->data, ex->scratch);
        return MN_OK;
    }
    if (mn_wprep_kind(ex->priv) == MN_WPREP_SPARSE)
        return mn_conv_sparse_forward(in, n_in, out, ex);
    if (ex->wsrc) {
        if (ex->scratch_bytes < mn_conv2d_f32_wsrc_scratch(&p, ex->wsrc))
            return mn_error(ex->ctx, MN_ERR_RUNTIME,
                            "Conv: scratch too small");
        mn_conv2d_f32_wsrc(ex->pool, &p, in[0]->data, ex->wsrc,
                           b ? b->data : NULL, &act, ex->residual,
                           out[0]->data, ex->scratch);
        return MN_OK;
    }
    if (ex->scratch_bytes < mn_conv2d_f32_scratch(&p))
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "Conv: scratch too small");
    mn_conv2d_f32(ex->pool, &p, in[0]->data, in[1]->data, b ? b->data : NULL,
                  &act, ex->residual, out[0]->data, ex->scratch);
    return MN_OK;
}

/* A compressed weight offered by the session runs as it is; otherwise
 * the sparse-or-dense choice, and a dense weight may be packed. */
static mn_status conv_prepare(const mn_node *n, const mn_tensor *const *in,
                              int n_in, const mn_tensor *const *out,
                              int n_out, const mn_prepare_info *info,
                              mn_prepared *p, mn_ctx *ctx)
{
    mn_conv_params cp;
    int64_t dims[MN_MAX_DIMS];
    if (!info->wsrc) {
        mn_status st =
            mn_conv_sparse_prepare(n, in, n_in, out, n_out, info, p, ctx);
        if (st != MN_OK || p->priv || !in[1] || !in[1]->data ||
            conv_check(n, in, n_in, &cp, dims, NULL) != MN_OK)
            return st;
        return cv_prepare(&cp, in[1], p, ctx);
    }
    if (conv_check(n, in, n_in, &cp, dims, NULL) != MN_OK ||
        info->wsrc->rows * info->wsrc->cols != mn_tensor_numel(in[1]))
        return MN_OK; /* declined: the session folds the weight */
    mn_status st = mn_sparse_prepare_wsrc(mn_conv_sparse_prepare, n, in,
                                          n_in, out, n_out, info, p, ctx);
    if (st != MN_OK)
        return st;
    p->wsrc = info->wsrc;
    if (!p->priv) { /* dense */
        p->scratch_bytes = mn_conv2d_f32_wsrc_scratch(&cp, info->wsrc);
        p->kernel = "dense";
    }
    return MN_OK;
}

const mn_op_def mn_opdef_conv = {
    .name = "Conv",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .flags = MN_OPF_FUSE_ACT,
    .infer = conv_infer,
    .scratch = conv_scratch,
    .forward = conv_forward,
    .prepare = conv_prepare,
};
