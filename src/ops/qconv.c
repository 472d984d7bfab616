/* QLinearConv and ConvInteger (8-bit x and w, 1-D and 2-D): shape rules and
 * reference forwards on the integer convolution kernel. Weight zero points
 * and scales may be per tensor or per output channel (axis 0). QLinearConv
 * requantizes with y = saturate(round_half_even(acc · x_scale·w_scale /
 * y_scale) + y_zero_point), all in float32 as ONNX Runtime's x86 kernels
 * (mn_ref_requantize; ONNX's numpy reference multiplies in double, which
 * differs only when the float32 product rounds across a half).
 *
 * Fast path: when the active ISA has int8 GEMM kernels and the weights,
 * zero points, scales and bias are constants (weights int8 with zero point
 * 0, or uint8 with 128), prepare packs the weights once and forward runs
 * the int8 GEMM (src/kernels/qgemm.h) with the requantization fused into
 * its store, bit-identical to the reference path; a convolution the direct
 * kernel takes (src/kernels/qdirect.h) runs it instead of the GEMM, with
 * the same epilogue and bytes. A pruned weight may run
 * the sparse int8 kernels instead (src/kernels/spmm_q8.h; chosen per layer
 * by src/ops/conv_sparse.c, at any ISA level when forced), with the same
 * epilogue tables and the same bytes. */
#include <string.h>
#include "ops/conv_shape.h"
#include "ops/conv_sparse.h"
#include "ops/qprep.h"

static int is_q8(mn_dtype t) { return t == MN_DT_U8 || t == MN_DT_I8; }
static size_t round64(size_t v) { return (v + 63) / 64 * 64; }

/* An optional zero point: dtype `want`, one value or `per` values. */
static mn_status check_param(const mn_tensor *t, mn_dtype want, int64_t per,
                             const char *what, mn_ctx *ctx)
{
    if (!t)
        return MN_OK;
    if (t->dtype != want)
        return mn_error(ctx, MN_ERR_SHAPE, "%s is %s, expected %s", what,
                        mn_dtype_name(t->dtype), mn_dtype_name(want));
    int64_t cnt = mn_tensor_numel(t);
    if (cnt != 1 && cnt != per) {
        char s[128];
        return mn_error(ctx, MN_ERR_SHAPE, "%s %s: expected 1%s value%s", what,
                        mn_shape_str(t, s, sizeof s),
                        per > 1 ? " or one per output channel" : "",
                        per > 1 ? "s" : "");
    }
    return MN_OK;
}

/* The part shared by both ops: 8-bit x and w, geometry, int32 safety. */
static mn_status qconv_common(const mn_node *n, const char *op,
                              const mn_tensor *x, const mn_tensor *w,
                              mn_conv_params *p, int64_t *dims, mn_ctx *ctx)
{
    mn_status st;
    if (!x || !w)
        return mn_error(ctx, MN_ERR_SHAPE, "%s needs inputs x and w", op);
    if (!is_q8(x->dtype) || !is_q8(w->dtype))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s on %s x and %s w (int8/uint8 only)", op,
                        mn_dtype_name(x->dtype), mn_dtype_name(w->dtype));
    if ((st = mn_conv_setup(n, x, w, p, dims, ctx)) != MN_OK)
        return st;
    int64_t k = p->c / p->group * p->kh * p->kw;
    if (k > MN_REF_Q8_MAX_K)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s reduces over %lld terms; int32 accumulation could "
                        "overflow", op, (long long)k);
    return MN_OK;
}

/* Scratch: kernel workspace, then x zero point + per-channel w zero points,
 * then (QLinearConv) the int32 accumulators. */
static size_t qconv_scratch_bytes(const mn_conv_params *p, int with_acc)
{
    size_t b = round64(mn_ref_conv2d_q8_scratch(p));
    b += round64((size_t)(p->m + 1) * sizeof(int32_t));
    if (with_acc)
        b += (size_t)(p->n * p->m * p->oh * p->ow) * sizeof(int32_t);
    return b;
}

/* Fills the zero-point array and the two kernel operands. */
static void qconv_operands(const mn_tensor *x, const mn_tensor *xzp,
                           const mn_tensor *w, const mn_tensor *wzp,
                           int32_t *zps,
                           mn_q8_operand *xo, mn_q8_operand *wo)
{
    int64_t nw = mn_numel_opt(wzp);
    zps[0] = xzp ? (int32_t)mn_tensor_get_i64(xzp, 0) : 0;
    for (int64_t i = 0; i < nw; i++)
        zps[1 + i] = (int32_t)mn_tensor_get_i64(wzp, i);
    xo->data = x->data;
    xo->is_signed = x->dtype == MN_DT_I8;
    xo->zp = zps;
    xo->n_zp = 1;
    wo->data = w->data;
    wo->is_signed = w->dtype == MN_DT_I8;
    wo->zp = nw ? zps + 1 : NULL;
    wo->n_zp = nw ? nw : 1;
}

static void set_out(mn_tensor *o, mn_dtype dt, int ndim, const int64_t *dims)
{
    o->dtype = dt;
    o->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        o->dims[i] = dims[i];
}

/* A 1×1 convolution of 1×1 images (a MatMul over [N·H·W, C] lowered to
 * QLinearConv, a classifier, a squeeze-excite conv): the batch folds into
 * one GEMM over the images; one image is a GEMV. */
static int folds_batch(const mn_conv_params *p)
{
    return p->kh == 1 && p->kw == 1 && p->h == 1 && p->w == 1 &&
           p->oh == 1 && p->ow == 1 && p->pt == 0 && p->pl == 0 &&
           p->group == 1;
}

/* Whether the dense kernels run p as a direct convolution (not a batch
 * of 1×1 images, which is one GEMM). */
static int use_direct(const mn_kernels_q8 *kr, const mn_conv_params *p)
{
    return mn_q8_direct_ok(kr, p) && !folds_batch(p);
}

/* Whether the node can run prepared kernels: x a run-time value, the
 * weights w (zero point wzp) int8-compatible, and the other parameters
 * in[0..n) (NULL: absent) constants. */
static int qconv_consts(const mn_tensor *x, const mn_tensor *w,
                        const mn_tensor *wzp, const mn_tensor *const *in,
                        int n)
{
    uint8_t flip;
    if (x->data || !w->data || !mn_q8_weight_flip(w, wzp, &flip))
        return 0;
    for (int i = 0; i < n; i++)
        if (in[i] && !in[i]->data)
            return 0;
    return 1;
}

/* The fast dense kernels for such a node, or NULL for the reference
 * path. */
static const mn_kernels_q8 *qconv_fast(const mn_tensor *x, const mn_tensor *w,
                                       const mn_tensor *wzp,
                                       const mn_tensor *const *in, int n)
{
    const mn_kernels_q8 *kr = mn_kernels_q8_active();
    return kr && qconv_consts(x, w, wzp, in, n) ? kr : NULL;
}

/* Whether a node qconv_consts accepted runs the sparse kernels: not
 * depthwise, and the session's choice (src/ops/conv_sparse.c) on the
 * weight's non-zero quads. */
static int qconv_sparse(const mn_prepare_info *info, const mn_conv_params *p,
                        const mn_tensor *w, const mn_tensor *wzp)
{
    uint8_t flip = 0;
    int64_t nzq, nq;
    if (info->sparse == MN_SPARSE_DENSE || mn_ref_conv2d_is_depthwise(p))
        return 0;
    mn_q8_weight_flip(w, wzp, &flip);
    mn_spconv_q8_count(p, w->data, flip, &nzq, &nq);
    double macs = (double)(p->m * (p->c / p->group) * p->kh * p->kw) *
                  (double)(p->oh * p->ow);
    return mn_sparse_q8_wanted(info, p->kh * p->kw, macs, nzq, nq);
}

/* Packs the weights of a node that qconv_consts accepted: for the dense
 * kernels kr, or in sparse form (kr NULL). */
static mn_status qconv_prep(const mn_kernels_q8 *kr, const mn_conv_params *p,
                            const mn_tensor *x, const mn_tensor *xzp,
                            const mn_tensor *w, const mn_tensor *wzp,
                            const int32_t *bias, mn_q8_prep **out, mn_ctx *ctx)
{
    uint8_t flip = 0;
    int64_t k = p->c / p->group * p->kh * p->kw;
    int direct = use_direct(kr, p);
    mn_q8_weight_flip(w, wzp, &flip);
    mn_status st = mn_q8_prep_create(direct ? NULL : kr, p->m / p->group, k,
                                     p->group, w->data, k, 0, flip, out, ctx);
    if (st == MN_OK && direct)
        st = mn_q8_prep_direct(*out, kr, p, w->data, flip, ctx);
    else if (st == MN_OK && !kr)
        st = mn_q8_prep_sparse(*out, p, w->data, flip, ctx);
    if (st != MN_OK) {
        mn_q8_prep_destroy(*out);
        *out = NULL;
        return st;
    }
    if (mn_q8_dw_ok(kr, p)) {
        (*out)->taps = mn_calloc((size_t)(p->m * k), sizeof(int32_t));
        if (!(*out)->taps) {
            mn_q8_prep_destroy(*out);
            *out = NULL;
            return mn_error(ctx, MN_ERR_OOM, "out of memory (taps)");
        }
        for (int64_t i = 0; i < p->m * k; i++)
            (*out)->taps[i] = (int8_t)(((const uint8_t *)w->data)[i] ^ flip);
    }
    if (mn_q8_dwcv_ok(kr, p)) {
        mn_q8_prep *q = *out;
        q->dwq_bytes = mn_q8_dwcv_pack_bytes(p);
        q->dwq = mn_malloc_aligned(q->dwq_bytes);
        if (!q->dwq) {
            mn_q8_prep_destroy(q);
            *out = NULL;
            return mn_error(ctx, MN_ERR_OOM, "out of memory (taps)");
        }
        mn_q8_dwcv_pack(p, q->taps, q->dwq);
    }
    mn_q8_prep_input(*out, x, xzp, bias);
    if (kr && kr->rows_cv && kr->a_layout == MN_QA_S8X4 && folds_batch(p) &&
        (*out)->xflip == 0 && p->c % 4 == 0 && p->n >= 8) {
        /* row tiles read the images' rows in place: uint8 (no flip),
         * whole quads (no read past the last row); a single image or a
         * few keep the GEMV and GEMM */
        mn_q8_prep *q = *out;
        mn_kernels_q8 k32 = *kr;
        k32.mr = 32;
        q->rw_bytes = mn_q8_pack_a_bytes(&k32, p->m, p->c);
        q->rw = mn_malloc_aligned(q->rw_bytes);
        q->rw_off = mn_calloc((size_t)(p->c / 4), sizeof(int32_t));
        if (!q->rw || !q->rw_off) {
            mn_q8_prep_destroy(q);
            *out = NULL;
            return mn_error(ctx, MN_ERR_OOM, "out of memory (packed weights)");
        }
        mn_q8_pack_a(&k32, p->m, p->c, w->data, p->c, flip, q->rw, NULL);
        for (int64_t i = 0; i < p->c / 4; i++)
            q->rw_off[i] = (int32_t)(4 * i);
        mn_free_aligned(q->a); /* the GEMM's panels: not used */
        q->a = NULL;
    }
    return MN_OK;
}

/* Scratch of the fast path: the direct convolution's x4 input, or the
 * padded input of one group (im2col), then one thread's packing buffer. */
static size_t qconv_fast_scratch(const mn_kernels_q8 *kr,
                                 const mn_conv_params *p)
{
    if (mn_q8_dwcv_ok(kr, p))
        return mn_q8_dwcv_scratch(p);
    if (mn_q8_dw_ok(kr, p))
        return mn_q8_pad_bytes(p);
    if (use_direct(kr, p))
        return mn_q8_direct_scratch_for(p);
    if (folds_batch(p))
        return mn_q8_thread_scratch(kr, p->n, p->c);
    size_t b = mn_q8_thread_scratch(kr, p->oh * p->ow,
                                    p->c / p->group * p->kh * p->kw);
    return mn_ref_conv2d_is_pointwise(p) ? b : round64(mn_q8_pad_bytes(p)) + b;
}

/* Ends prepare for both ops: the state q (NULL: reference forward) and
 * the kernel name minnow info shows. */
static mn_status qconv_prepared(mn_prepared *pp, mn_q8_prep *q)
{
    pp->kernel = q && q->sp ? "sparse" : "dense";
    if (q && q->sp)
        pp->scratch_bytes = mn_spconv_q8_scratch(q->sp);
    if (q && q->dc)
        pp->scratch_bytes = mn_q8_direct_scratch(q->dc);
    return mn_q8_prepared(pp, q);
}

typedef struct dw_job {
    const mn_q8_prep *q;
    const mn_qgemm_epi *e;
    const mn_conv_params *p;
    const uint8_t *x;
    char *y;
    int esize;
    mn_pool *pool;
    uint8_t *scratch0;
    int64_t planes, per; /* planes [t·per, (t+1)·per) per task */
} dw_job;

/* Depthwise output planes of task t: pad each one's input channel, run
 * the kernel. */
static void dw_task(void *arg, int64_t t, int thread)
{
    const dw_job *J = arg;
    const mn_conv_params *p = J->p;
    const mn_q8_prep *q = J->q;
    uint8_t *xp = J->pool ? mn_pool_scratch(J->pool, thread) : J->scratch0;
    int64_t hp, wp, end = (t + 1) * J->per;
    mn_q8_pad_dims(p, &hp, &wp);
    for (int64_t pl = t * J->per; pl < end && pl < J->planes; pl++) {
        int64_t img = pl / p->m, m = pl % p->m, c = m / (p->m / p->c);
        const uint8_t *xc = J->x + (img * p->c + c) * p->h * p->w;
        if (q->kr->pad) {
            q->kr->pad(p, xc, q->xpad, q->xflip, xp);
        } else {
            mn_q8_pad_input(p, xc, q->xpad, xp);
            for (int64_t i = 0; q->xflip && i < hp * wp; i++)
                xp[i] ^= q->xflip;
        }
        q->kr->dw(p, xp, wp, q->taps + m * p->kh * p->kw, J->e, m,
                  J->y + (img * p->m + m) * p->oh * p->ow * J->esize);
    }
}

/* Depthwise channel-vector tile t: image t / tiles, channels from 32·(t %
 * tiles). */
static void dwcv_task(void *arg, int64_t t, int thread)
{
    const dw_job *J = arg;
    const mn_conv_params *p = J->p;
    const mn_q8_prep *q = J->q;
    int64_t tiles = (p->m + 31) / 32, img = t / tiles, m0 = 32 * (t % tiles);
    void *scr = J->pool ? mn_pool_scratch(J->pool, thread) : J->scratch0;
    int nc = p->m - m0 < 32 ? (int)(p->m - m0) : 32;
    q->kr->dw_cv(p, J->x + img * p->c * p->h * p->w, q->xpad, q->xflip,
                 q->dwq + (size_t)(m0 / 32) * (q->dwq_bytes / (size_t)tiles),
                 J->e, m0, nc,
                 J->y + img * p->m * p->oh * p->ow * J->esize, scr);
}

/* A batch of 1×1 images in row tiles of 8 images × 32 channels: task t
 * takes tiles [t·per, (t+1)·per), by chunks whose input rows stay in L1,
 * every channel panel per chunk. */
typedef struct rows_job {
    const mn_q8_prep *q;
    const mn_qgemm_epi *e;
    const mn_conv_params *p;
    const uint8_t *x;
    char *y;
    int esize;
    int64_t ntile, per, chunk;
} rows_job;

static void rows_task(void *arg, int64_t t, int thread)
{
    const rows_job *J = arg;
    const mn_conv_params *p = J->p;
    int64_t kq = p->c / 4, npan = (p->m + 31) / 32;
    int64_t t0 = t * J->per, t1 = t0 + J->per < J->ntile ? t0 + J->per
                                                          : J->ntile;
    (void)thread;
    for (int64_t k0 = t0; k0 < t1; k0 += J->chunk) {
        int64_t k1 = k0 + J->chunk < t1 ? k0 + J->chunk : t1;
        for (int64_t pn = 0; pn < npan; pn++) {
            int nc = p->m - 32 * pn < 32 ? (int)(p->m - 32 * pn) : 32;
            /* the next panel's weights into L2, spread over the tiles
             * (the kernels' pf contract) */
            const uint8_t *a = J->q->rw + (size_t)pn * kq * 128;
            const uint8_t *nx = pn + 1 < npan ? a + kq * 128
                                : k1 < t1     ? J->q->rw
                                              : NULL;
            int64_t lines = nx ? kq * 2 : 0;
            for (int64_t tl = k0; tl < k1; tl++) {
                int64_t nl, l0 = mn_share(lines, k1 - k0, tl - k0, &nl);
                int64_t i0 = 8 * tl;
                int np = p->n - i0 < 8 ? (int)(p->n - i0) : 8;
                const uint8_t *px[8];
                for (int j = 0; j < 8; j++)
                    px[j] = J->x + (i0 + (j < np ? j : 0)) * p->c;
                J->q->kr->rows_cv(kq, a, J->q->rw_off, px, np, nc, J->e,
                                  32 * pn,
                                  J->y + (i0 * p->m + 32 * pn) * J->esize,
                                  p->m, nx ? nx + 64 * l0 : NULL, nl);
            }
        }
    }
}

/* y (element size esize) = the prepared GEMM over every image and group,
 * with the epilogue e (q's, or a copy with a fused residual add). */
static void qconv_run_fast(const mn_q8_prep *q, const mn_qgemm_epi *e,
                           const mn_conv_params *p, const mn_tensor *x,
                           void *y, int esize, mn_pool *pool, void *scratch)
{
    if (q->sp) {
        mn_spconv_q8_run(pool, q->sp, x->data, q->xpad, q->xflip, e, y,
                         scratch);
        return;
    }
    if (q->dc) {
        mn_q8_direct_run(q->kr, pool, q->dc, q->a, q->a_group, x->data,
                         q->xpad, q->xflip, e, y, scratch);
        return;
    }
    if (q->dwq) {
        dw_job J = {q, e, p, x->data, y, esize, pool, scratch, 0, 0};
        int64_t tasks = p->n * ((p->m + 31) / 32);
        if (mn_pool_scratch_bytes(pool) < mn_q8_dwcv_scratch(p))
            J.pool = NULL;
        mn_pool_run(J.pool, dwcv_task, &J, tasks);
        return;
    }
    if (q->taps) {
        dw_job J = {q, e, p, x->data, y, esize, pool, scratch,
                    p->n * p->m, p->n * p->m};
        double macs = (double)(p->n * p->m * p->oh * p->ow) *
                      (double)(p->kh * p->kw);
        int parts = 4 * mn_pool_threads(pool);
        if (macs < 262144.0 || parts <= 4 ||
            mn_pool_scratch_bytes(pool) < mn_q8_pad_bytes(p))
            J.pool = NULL;
        else /* ranges of planes: up to 4 tasks per thread */
            J.per = (J.planes + parts - 1) / parts;
        mn_pool_run(J.pool, dw_task, &J, (J.planes + J.per - 1) / J.per);
        return;
    }
    if (q->rw) {
        rows_job J = {q, e, p, x->data, y, esize, (p->n + 7) / 8, 0, 0};
        double macs = (double)p->n * (double)p->m * (double)p->c;
        int threads = mn_pool_threads(pool);
        int64_t tasks = threads > 1 && macs >= 1048576.0
                            ? (J.ntile < 4 * threads ? J.ntile : 4 * threads)
                            : 1;
        J.per = (J.ntile + tasks - 1) / tasks;
        J.chunk = 32768 / (8 * p->c) > 1 ? 32768 / (8 * p->c) : 1;
        mn_pool_run(tasks > 1 ? pool : NULL, rows_task, &J,
                    (J.ntile + J.per - 1) / J.per);
        return;
    }
    if (folds_batch(p)) {
        /* B[c][img] = x[img][c] (transposed), y[img][m] at img·M + m */
        mn_q8_bsrc bs = {.kind = MN_Q8B_TRANS, .b = x->data, .ldb = p->c,
                         .flip = q->xflip};
        mn_q8_gemm_run(q->kr, pool, p->m, p->n, p->c, q->a, &bs, e, 0,
                       y, 1, p->m, scratch);
        return;
    }
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, ohw = p->oh * p->ow, hw = p->h * p->w;
    int pw = mn_ref_conv2d_is_pointwise(p);
    uint8_t *xp = scratch;
    char *tsc = pw ? scratch : (char *)scratch + round64(mn_q8_pad_bytes(p));
    for (int64_t img = 0; img < p->n; img++)
        for (int64_t g = 0; g < p->group; g++) {
            const uint8_t *xg =
                (const uint8_t *)x->data + (img * p->c + g * cg) * hw;
            mn_q8_bsrc bs = {.kind = MN_Q8B_MATRIX, .b = xg, .ldb = hw,
                             .p = p, .flip = q->xflip};
            if (!pw) {
                mn_q8_pad_input(p, xg, q->xpad, xp);
                bs.kind = MN_Q8B_IM2COL;
                bs.b = xp;
            }
            char *yg = (char *)y + (img * p->m + g * mg) * ohw * esize;
            mn_q8_gemm_run(q->kr, pool, mg, ohw, k,
                           q->a + (size_t)g * q->a_group, &bs, e,
                           g * mg, yg, ohw, 1, tsc);
        }
}

/* ---- QLinearConv ---- */

enum { QX, QXS, QXZ, QW, QWS, QWZ, QYS, QYZ, QB };

static mn_status qlinearconv_check(const mn_node *n, const mn_tensor *const *in,
                                   int n_in, mn_conv_params *p, int64_t *dims,
                                   mn_ctx *ctx)
{
    static const char *const names[] = {"x_scale", "w_scale", "y_scale"};
    const int scales[] = {QXS, QWS, QYS};
    mn_status st;
    if (n_in < 8)
        return mn_error(ctx, MN_ERR_SHAPE, "QLinearConv needs 8 inputs");
    if ((st = qconv_common(n, "QLinearConv", in[QX], in[QW], p, dims, ctx)) !=
        MN_OK)
        return st;
    for (int i = 0; i < 3; i++) {
        const mn_tensor *s = in[scales[i]];
        if (!s || s->dtype != MN_DT_F32)
            return mn_error(ctx, MN_ERR_SHAPE, "%s must be a float32 tensor",
                            names[i]);
        if ((st = check_param(s, MN_DT_F32, scales[i] == QWS ? p->m : 1,
                              names[i], ctx)) != MN_OK)
            return st;
    }
    const mn_tensor *yz = in[QYZ], *b = n_in > QB ? in[QB] : NULL;
    if ((st = check_param(in[QXZ], in[QX]->dtype, 1, "x_zero_point",
                          ctx)) != MN_OK ||
        (st = check_param(in[QWZ], in[QW]->dtype, p->m, "w_zero_point",
                          ctx)) != MN_OK)
        return st;
    if (yz && (!is_q8(yz->dtype) || mn_tensor_numel(yz) != 1))
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "y_zero_point must be one int8/uint8 value");
    if (b && (b->dtype != MN_DT_I32 || b->ndim != 1 || b->dims[0] != p->m)) {
        char s[128];
        return mn_error(ctx, MN_ERR_SHAPE, "bias %s %s, expected int32 [%lld]",
                        mn_dtype_name(b->dtype), mn_shape_str(b, s, sizeof s),
                        (long long)p->m);
    }
    return MN_OK;
}

static mn_status qlinearconv_infer(const mn_node *n, const mn_tensor *const *in,
                                   int n_in, mn_tensor *const *out, int n_out,
                                   mn_ctx *ctx)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_status st = qlinearconv_check(n, in, n_in, &p, dims, ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    set_out(out[0], in[QYZ] ? in[QYZ]->dtype : MN_DT_U8, in[QX]->ndim, dims);
    return MN_OK;
}

static size_t qlinearconv_scratch(const mn_node *n, const mn_tensor *const *in,
                                  int n_in, const mn_tensor *const *out,
                                  int n_out)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    (void)out;
    (void)n_out;
    if (qlinearconv_check(n, in, n_in, &p, dims, NULL) != MN_OK)
        return 0;
    const mn_kernels_q8 *kr = qconv_fast(in[QX], in[QW], in[QWZ], in + 1,
                                         n_in - 1);
    if (kr)
        return qconv_fast_scratch(kr, &p);
    return qconv_scratch_bytes(&p, 1);
}

static mn_status qlinearconv_prepare(const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     const mn_tensor *const *out, int n_out,
                                     const mn_prepare_info *info,
                                     mn_prepared *pp, mn_ctx *ctx)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_q8_prep *q;
    (void)n_out;
    pp->kernel = "dense";
    if (qlinearconv_check(n, in, n_in, &p, dims, NULL) != MN_OK ||
        !qconv_consts(in[QX], in[QW], in[QWZ], in + 1, n_in - 1))
        return MN_OK;
    int sparse = qconv_sparse(info, &p, in[QW], in[QWZ]);
    const mn_kernels_q8 *kr = sparse ? NULL : mn_kernels_q8_active();
    if (!sparse && !kr)
        return MN_OK;
    const mn_tensor *b = n_in > QB ? in[QB] : NULL;
    mn_status st = qconv_prep(kr, &p, in[QX], in[QXZ], in[QW], in[QWZ],
                              b ? b->data : NULL, &q, ctx);
    if (st != MN_OK)
        return st;
    mn_q8_prep_requant(q, in[QXS], in[QWS], in[QYS], in[QYZ], out[0]->dtype);
    return qconv_prepared(pp, q);
}

static mn_status qlinearconv_forward(const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     mn_tensor *const *out, int n_out,
                                     mn_exec *ex)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_q8_operand xo, wo;
    mn_status st = qlinearconv_check(n, in, n_in, &p, dims, ex->ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    if (ex->priv) {
        const mn_q8_prep *q = ex->priv;
        mn_qgemm_epi e = q->epi;
        if (ex->qres && ex->residual) { /* the fused residual add */
            e.res = ex->qres;
            e.res_off = (const char *)ex->residual - (char *)out[0]->data;
        }
        qconv_run_fast(q, &e, &p, in[QX], out[0]->data, 1, ex->pool,
                       ex->scratch);
        return MN_OK;
    }
    if (ex->scratch_bytes < qconv_scratch_bytes(&p, 1))
        return mn_error(ex->ctx, MN_ERR_RUNTIME,
                        "QLinearConv: scratch too small");
    char *sc = ex->scratch;
    size_t kbytes = round64(mn_ref_conv2d_q8_scratch(&p));
    int32_t *zps = (int32_t *)(sc + kbytes);
    int32_t *acc =
        (int32_t *)(sc + kbytes + round64((size_t)(p.m + 1) * sizeof(int32_t)));
    qconv_operands(in[QX], in[QXZ], in[QW], in[QWZ], zps, &xo, &wo);
    mn_ref_conv2d_q8(&p, &xo, &wo, acc, sc);

    const mn_tensor *yz = in[QYZ], *b = n_in > QB ? in[QB] : NULL;
    const float *ws = in[QWS]->data;
    float xs = *(const float *)in[QXS]->data;
    float ys = *(const float *)in[QYS]->data;
    int64_t nws = mn_tensor_numel(in[QWS]), ohw = p.oh * p.ow;
    int32_t yzp = yz ? (int32_t)mn_tensor_get_i64(yz, 0) : 0;
    int sgn = out[0]->dtype == MN_DT_I8;
    int32_t lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;
    const int32_t *bias = b ? b->data : NULL;
    for (int64_t in_ = 0; in_ < p.n; in_++)
        for (int64_t m = 0; m < p.m; m++) {
            float prod = xs * ws[nws > 1 ? m : 0];
            float mult = prod / ys;
            int64_t off = (in_ * p.m + m) * ohw;
            int64_t bv = bias ? bias[m] : 0;
            for (int64_t i = 0; i < ohw; i++) {
                int32_t v = mn_ref_requantize((int64_t)acc[off + i] + bv, mult,
                                              yzp, lo, hi);
                if (ex->qres && ex->residual) /* the fused residual add */
                    v = mn_q8_res1(ex->qres, sgn, v,
                                   (const uint8_t *)ex->residual + off + i);
                if (sgn)
                    ((int8_t *)out[0]->data)[off + i] = (int8_t)v;
                else
                    ((uint8_t *)out[0]->data)[off + i] = (uint8_t)v;
            }
        }
    return MN_OK;
}

const mn_op_def mn_opdef_qlinearconv = {
    .name = "QLinearConv",
    .min_in = 8,
    .max_in = 9,
    .min_out = 1,
    .max_out = 1,
    .flags = MN_OPF_FUSE_QADD,
    .infer = qlinearconv_infer,
    .scratch = qlinearconv_scratch,
    .forward = qlinearconv_forward,
    .prepare = qlinearconv_prepare,
};

/* ---- ConvInteger ---- */

static mn_status convinteger_check(const mn_node *n, const mn_tensor *const *in,
                                   int n_in, mn_conv_params *p, int64_t *dims,
                                   mn_ctx *ctx)
{
    const mn_tensor *xz = n_in > 2 ? in[2] : NULL;
    const mn_tensor *wz = n_in > 3 ? in[3] : NULL;
    mn_status st = qconv_common(n, "ConvInteger", in[0],
                                n_in > 1 ? in[1] : NULL, p, dims, ctx);
    if (st != MN_OK)
        return st;
    if ((st = check_param(xz, in[0]->dtype, 1, "x_zero_point", ctx)) != MN_OK)
        return st;
    return check_param(wz, in[1]->dtype, p->m, "w_zero_point", ctx);
}

static mn_status convinteger_infer(const mn_node *n, const mn_tensor *const *in,
                                   int n_in, mn_tensor *const *out, int n_out,
                                   mn_ctx *ctx)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_status st = convinteger_check(n, in, n_in, &p, dims, ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    set_out(out[0], MN_DT_I32, in[0]->ndim, dims);
    return MN_OK;
}

static size_t convinteger_scratch(const mn_node *n, const mn_tensor *const *in,
                                  int n_in, const mn_tensor *const *out,
                                  int n_out)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    (void)out;
    (void)n_out;
    if (convinteger_check(n, in, n_in, &p, dims, NULL) != MN_OK)
        return 0;
    const mn_kernels_q8 *kr = qconv_fast(in[0], in[1], n_in > 3 ? in[3] : NULL,
                                         in + 2, n_in > 2 ? 1 : 0);
    if (kr)
        return qconv_fast_scratch(kr, &p);
    return qconv_scratch_bytes(&p, 0);
}

static mn_status convinteger_prepare(const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     const mn_tensor *const *out, int n_out,
                                     const mn_prepare_info *info,
                                     mn_prepared *pp, mn_ctx *ctx)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_q8_prep *q = NULL;
    (void)out;
    (void)n_out;
    pp->kernel = "dense";
    if (convinteger_check(n, in, n_in, &p, dims, NULL) != MN_OK)
        return MN_OK;
    const mn_tensor *xz = n_in > 2 ? in[2] : NULL;
    const mn_tensor *wz = n_in > 3 ? in[3] : NULL;
    if (!qconv_consts(in[0], in[1], wz, &xz, 1))
        return MN_OK;
    int sparse = qconv_sparse(info, &p, in[1], wz);
    const mn_kernels_q8 *kr = sparse ? NULL : mn_kernels_q8_active();
    if (!sparse && !kr)
        return MN_OK;
    mn_status st = qconv_prep(kr, &p, in[0], xz, in[1], wz, NULL, &q, ctx);
    return st != MN_OK ? st : qconv_prepared(pp, q);
}

static mn_status convinteger_forward(const mn_node *n,
                                     const mn_tensor *const *in, int n_in,
                                     mn_tensor *const *out, int n_out,
                                     mn_exec *ex)
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    mn_q8_operand xo, wo;
    mn_status st = convinteger_check(n, in, n_in, &p, dims, ex->ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    if (ex->priv) {
        qconv_run_fast(ex->priv, &((const mn_q8_prep *)ex->priv)->epi, &p,
                       in[0], out[0]->data, 4, ex->pool,
                       ex->scratch);
        return MN_OK;
    }
    if (ex->scratch_bytes < qconv_scratch_bytes(&p, 0))
        return mn_error(ex->ctx, MN_ERR_RUNTIME,
                        "ConvInteger: scratch too small");
    char *sc = ex->scratch;
    int32_t *zps = (int32_t *)(sc + round64(mn_ref_conv2d_q8_scratch(&p)));
    qconv_operands(in[0], n_in > 2 ? in[2] : NULL, in[1],
                   n_in > 3 ? in[3] : NULL, zps, &xo, &wo);
    mn_ref_conv2d_q8(&p, &xo, &wo, out[0]->data, sc);
    return MN_OK;
}

const mn_op_def mn_opdef_convinteger = {
    .name = "ConvInteger",
    .min_in = 2,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .infer = convinteger_infer,
    .scratch = convinteger_scratch,
    .forward = convinteger_forward,
    .prepare = convinteger_prepare,
};
