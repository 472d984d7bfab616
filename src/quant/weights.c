/* Weight quantization shared by the modes (symmetric per-channel integer
 * weights, DequantizeLinear of a constant), and the int4 weight-only mode.
 *
 * int4: each Conv/Gemm/MatMul weight is seen as 2-D (Conv [M, C/g·kh·kw];
 * Gemm/MatMul as stored) and quantized in groups of G consecutive values
 * along the reduction axis (opts->group, default 128), or per output
 * channel (group < 0) or per tensor. Codes are symmetric in [-8, 7] (all
 * 16 levels; no zero point): the scale of a group is the candidate with
 * the least error (int4_err: squared error plus squared error sum) among
 * s·α, α = 0.50, 0.52, ..., 1.00, where
 * s = max(max/7, -min/8) is the smallest scale that clips nothing, plus
 * max|w|/7 (the classic max scaling), so the choice is never worse than
 * max scaling and is deterministic. Scales are float32, or float16
 * (opts->scale_f16; the error is measured with the rounded scale).
 *
 * The file holds ONNX opset 21: an INT4 initializer (two codes per byte,
 * low nibble first), the scales, DequantizeLinear(axis, block_size=G)
 * (float16 scales give a float16 output, then Cast to float), and for a
 * Conv with k×k kernels (k > 1) and more than one group per output channel
 * a Reshape back to the weight's shape; other Convs (one group per channel:
 * per-axis DQ; 1×1 kernels: blocked along axis 1) keep their own shape.
 * With float16 scales the layer's bias becomes float16 + Cast when that
 * saves bytes (int4_bias_f16). Raising the model to opset 21 is
 * mn_q_require_opset's job. The runtime keeps the INT4 weights and
 * decodes them on the fly (src/core/session_wdecode.c; or folds them to
 * float32 with MN_WEIGHTS_FLOAT), so layers compute in float32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "quant/quant.h"

#define INT4_ALPHA_STEPS 26 /* α = 0.50, 0.52, ..., 1.00 */

mn_status mn_q_weight_sym(const mn_tensor *w, int axis, int per_tensor,
                          int qmax, int offset, mn_tensor **wq,
                          float **scales, int64_t *ns, mn_ctx *ctx)
{
    int64_t c = per_tensor ? 1 : w->dims[axis], outer = 1, inner = 1;
    float *s;
    mn_status st;
    for (int k = 0; k < axis; k++)
        outer *= w->dims[k];
    for (int k = axis + 1; k < w->ndim; k++)
        inner *= w->dims[k];
    if (per_tensor)
        inner *= w->dims[axis];
    s = mn_calloc((size_t)c, sizeof *s);
    if (!s)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    st = mn_tensor_create(offset ? MN_DT_U8 : MN_DT_I8, w->ndim, w->dims, wq,
                          ctx);
    if (st != MN_OK) {
        free(s);
        return st;
    }
    const float *x = w->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t i = 0; i < inner; i++) {
                float a = fabsf(x[(o * c + k) * inner + i]);
                if (a > s[k])
                    s[k] = a;
            }
    for (int64_t k = 0; k < c; k++)
        s[k] = mn_q_scale_f16_grid(mn_quant_sym_scale(s[k], qmax));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t at = (o * c + k) * inner + i;
                int32_t q = mn_quant_value(x[at], s[k], 0, -qmax, qmax);
                if (offset)
                    ((uint8_t *)(*wq)->data)[at] = (uint8_t)(q + offset);
                else
                    ((int8_t *)(*wq)->data)[at] = (int8_t)q;
            }
    *scales = s;
    *ns = c;
    return MN_OK;
}

mn_status mn_q_dq_const(mn_graph *g, const char *base, const mn_tensor *qv,
                        const float *scales, const void *zps, int64_t ns,
                        int axis, int *out, mn_ctx *ctx)
{
    char nm[300];
    int vq, vs, vz = -1, node, in[3];
    int64_t d1[1] = {ns};
    int nd = ns > 1 ? 1 : 0;
    mn_status st;
    snprintf(nm, sizeof nm, "%s_quantized", base);
    if ((st = mn_q_add_const(g, nm, qv->dtype, qv->ndim, qv->dims, qv->data,
                             &vq, ctx)) != MN_OK)
        return st;
    snprintf(nm, sizeof nm, "%s_scale", base);
    if ((st = mn_q_add_const(g, nm, MN_DT_F32, nd, d1, scales, &vs, ctx)) !=
        MN_OK)
        return st;
    if (zps) {
        snprintf(nm, sizeof nm, "%s_zero_point", base);
        if ((st = mn_q_add_const(g, nm, qv->dtype, nd, d1, zps, &vz, ctx)) !=
            MN_OK)
            return st;
    }
    snprintf(nm, sizeof nm, "%s_dequantized", base);
    if ((st = mn_q_add_value(g, nm, MN_DT_F32, -1, out, ctx)) != MN_OK)
        return st;
    g->values[*out].ndim = qv->ndim;
    memcpy(g->values[*out].dims, qv->dims, sizeof qv->dims);
    in[0] = vq, in[1] = vs, in[2] = vz;
    snprintf(nm, sizeof nm, "%s_DequantizeLinear", base);
    if ((st = mn_q_add_node(g, nm, "DequantizeLinear", in, zps ? 3 : 2, out,
                            1, &node, ctx)) != MN_OK)
        return st;
    if (ns > 1)
        return mn_q_set_attr_int(g, node, "axis", axis, ctx);
    return MN_OK;
}

static float round_scale(float s, int f16)
{
    return f16 ? mn_f16_to_f32(mn_q_f32_to_f16(s)) : s;
}

/* Error of x quantized with scale s in [-8, 7]: the squared error (what a
 * white input sees) plus the squared sum of the errors (what a constant
 * input across the group sees). Neighbouring pixels and taps are strongly
 * correlated, so a one-signed error (clipping the largest weight) adds up:
 * on resnet8 plain MSE clipping of the first layer (groups of 9 taps) cost
 * 30 points of accuracy, this criterion < 1. */
static double int4_err(const float *x, int64_t n, int64_t stride, float s)
{
    double e = 0.0, sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * stride];
        double d = v - (double)s * mn_quant_value(v, s, 0, -8, 7);
        e += d * d;
        sum += d;
    }
    return e + sum * sum;
}

float mn_q_int4_group(const float *x, int64_t n, int64_t stride, int f16,
                      int8_t *q, double *err)
{
    float mx = 0.0f, mn = 0.0f, best = 0.0f;
    double be = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * stride];
        mx = v > mx ? v : mx;
        mn = v < mn ? v : mn;
    }
    float s0 = fmaxf(mx / 7.0f, -mn / 8.0f);
    float sm = fmaxf(mx, -mn) / 7.0f; /* max scaling, [-7, 7] */
    if (!(s0 > 0.0f) || !isfinite(s0)) { /* all zero (or not finite) */
        best = 1.0f;
    } else {
        for (int k = 0; k <= INT4_ALPHA_STEPS; k++) {
            float s = k < INT4_ALPHA_STEPS
                          ? s0 * (0.5f + 0.02f * (float)k)
                          : sm;
            s = round_scale(s, f16);
            if (!(s > 0.0f))
                continue;
            double e = int4_err(x, n, stride, s);
            if (best == 0.0f || e < be)
                best = s, be = e;
        }
        if (best == 0.0f)
            best = 1.0f;
    }
    if (q)
        for (int64_t i = 0; i < n; i++)
            q[i] = (int8_t)mn_quant_value(x[i * stride], best, 0, -8, 7);
    if (err)
        *err = int4_err(x, n, stride, best);
    return best;
}

void mn_q_pack_int4(const int8_t *q, int64_t n, uint8_t *dst)
{
    memset(dst, 0, (size_t)((n + 1) / 2));
    for (int64_t i = 0; i < n; i++)
        dst[i >> 1] |= (uint8_t)((q[i] & 15) << (i & 1 ? 4 : 0));
}

/* The int4 form of one weight: codes (element order of w), scales and
 * the DequantizeLinear layout. */
typedef struct int4_w {
    int8_t *codes;
    float *scales;
    int64_t ns;
    int sdim;            /* scale rank: 0 per tensor, 1 per axis, else
                            blocked */
    int64_t sdims[MN_MAX_DIMS];
    int64_t qdims[MN_MAX_DIMS]; /* shape of the INT4 initializer */
    int qndim;
    int axis;            /* DQ axis (per axis / blocked) */
    int64_t block;       /* DQ block_size (blocked), else 0 */
} int4_w;

static mn_status int4_quantize(const mn_tensor *w, const mn_qlayer *l,
                               const mn_quant_opts *o, int4_w *r,
                               mn_ctx *ctx)
{
    int64_t numel = mn_tensor_numel(w), R0, R1, L, O, B, nb;
    int red, f16 = o->scale_f16 >= 0;
    const float *x = w->data;
    memset(r, 0, sizeof *r);
    /* 2-D view [R0, R1]; red = the reduction axis of the view */
    if (w->ndim == 2) {
        R0 = w->dims[0], R1 = w->dims[1];
        red = 1 - l->w_axis;
    } else {
        R0 = w->dims[0], R1 = numel / (R0 ? R0 : 1);
        red = 1;
    }
    L = red ? R1 : R0;
    O = red ? R0 : R1;
    if (o->per_tensor) {
        B = L, nb = 1;
        r->ns = 1;
    } else {
        B = o->group < 0 ? L : o->group == 0 ? MN_QUANT_DEFAULT_GROUP
                                             : o->group;
        if (B > L)
            B = L;
        nb = (L + B - 1) / B;
        r->ns = O * nb;
    }
    r->codes = mn_malloc((size_t)(numel ? numel : 1));
    r->scales = mn_calloc((size_t)r->ns, sizeof *r->scales);
    if (!r->codes || !r->scales)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if (o->per_tensor) {
        r->scales[0] = mn_q_int4_group(x, numel, 1, f16, r->codes, NULL);
        r->qndim = w->ndim;
        memcpy(r->qdims, w->dims, sizeof r->qdims);
        r->axis = -1;
        return MN_OK;
    }
    for (int64_t oo = 0; oo < O; oo++)
        for (int64_t j = 0; j < nb; j++) {
            int64_t k0 = j * B, len = L - k0 < B ? L - k0 : B;
            int64_t at = red ? oo * L + k0 : k0 * O + oo;
            int64_t stride = red ? 1 : O;
            int64_t si = red ? oo * nb + j : j * O + oo;
            float s = mn_q_int4_group(x + at, len, stride, f16, NULL, NULL);
            for (int64_t k = 0; k < len; k++)
                r->codes[at + k * stride] = (int8_t)mn_quant_value(
                    x[at + k * stride], s, 0, -8, 7);
            r->scales[si] = s;
        }
    if (o->group < 0) { /* per output channel: DQ on the weight's shape */
        r->sdim = 1;
        r->sdims[0] = O;
        r->qndim = w->ndim;
        memcpy(r->qdims, w->dims, sizeof r->qdims);
        r->axis = l->w_axis;
        return MN_OK;
    }
    if (w->ndim > 2 && nb == 1) {
        /* one group per output channel: per-axis DQ on the weight's own
         * shape, no Reshape */
        r->sdim = 1;
        r->sdims[0] = O;
        r->qndim = w->ndim;
        memcpy(r->qdims, w->dims, sizeof r->qdims);
        r->axis = 0;
        return MN_OK;
    }
    if (w->ndim > 2 && R1 == w->dims[1]) {
        /* 1×1 kernels: the groups run along axis 1 of the weight itself;
         * DQ blocked on axis 1, scales [M, nb, 1, ...], no Reshape */
        r->sdim = w->ndim;
        r->sdims[0] = O;
        r->sdims[1] = nb;
        for (int d = 2; d < w->ndim; d++)
            r->sdims[d] = 1;
        r->qndim = w->ndim;
        memcpy(r->qdims, w->dims, sizeof r->qdims);
        r->axis = 1;
        r->block = B;
        return MN_OK;
    }
    r->sdim = 2;
    r->sdims[0] = red ? O : nb;
    r->sdims[1] = red ? nb : O;
    r->qndim = 2;
    r->qdims[0] = R0, r->qdims[1] = R1;
    r->axis = red;
    r->block = B;
    return MN_OK;
}

static void int4_free(int4_w *r)
{
    free(r->codes);
    free(r->scales);
}

/* New constants and nodes for r: INT4 → DequantizeLinear [→ Cast]
 * [→ Reshape to w's shape]; the value that replaces the weight → *out. */
static mn_status int4_emit(mn_graph *g, const char *base, const mn_tensor *w,
                           const int4_w *r, int f16, int *out, mn_ctx *ctx)
{
    char nm[300];
    int vq, vs, vd, node, in[2];
    mn_tensor *qt = NULL, *st16 = NULL;
    mn_status st;
    if ((st = mn_tensor_create(MN_DT_I4, r->qndim, r->qdims, &qt, ctx)) !=
        MN_OK)
        return st;
    mn_q_pack_int4(r->codes, mn_tensor_numel(qt), qt->data);
    snprintf(nm, sizeof nm, "%s_q4", base);
    st = mn_q_add_const(g, nm, MN_DT_I4, qt->ndim, qt->dims, qt->data, &vq,
                        ctx);
    mn_tensor_destroy(qt);
    if (st != MN_OK)
        return st;
    snprintf(nm, sizeof nm, "%s_s", base);
    if (f16) {
        if ((st = mn_tensor_create(MN_DT_F16, r->sdim, r->sdims, &st16,
                                   ctx)) != MN_OK)
            return st;
        for (int64_t i = 0; i < r->ns; i++)
            ((uint16_t *)st16->data)[i] = mn_q_f32_to_f16(r->scales[i]);
        st = mn_q_add_const(g, nm, MN_DT_F16, r->sdim, r->sdims, st16->data,
                            &vs, ctx);
        mn_tensor_destroy(st16);
    } else {
        st = mn_q_add_const(g, nm, MN_DT_F32, r->sdim, r->sdims, r->scales,
                            &vs, ctx);
    }
    if (st != MN_OK)
        return st;
    snprintf(nm, sizeof nm, "%s_dq", base);
    if ((st = mn_q_add_value(g, nm, f16 ? MN_DT_F16 : MN_DT_F32, -1, &vd,
                             ctx)) != MN_OK)
        return st;
    in[0] = vq, in[1] = vs;
    snprintf(nm, sizeof nm, "%s_DQ", base);
    if ((st = mn_q_add_node(g, nm, "DequantizeLinear", in, 2, &vd, 1, &node,
                            ctx)) != MN_OK)
        return st;
    if (r->axis >= 0 &&
        (st = mn_q_set_attr_int(g, node, "axis", r->axis, ctx)) != MN_OK)
        return st;
    if (r->block &&
        (st = mn_q_set_attr_int(g, node, "block_size", r->block, ctx)) !=
            MN_OK)
        return st;
    if (f16) {
        int vc;
        snprintf(nm, sizeof nm, "%s_f", base);
        if ((st = mn_q_add_value(g, nm, MN_DT_F32, vd, &vc, ctx)) != MN_OK)
            return st;
        snprintf(nm, sizeof nm, "%s_Cast", base);
        if ((st = mn_q_add_node(g, nm, "Cast", &vd, 1, &vc, 1, &node,
                                ctx)) != MN_OK ||
            (st = mn_q_set_attr_int(g, node, "to", MN_DT_F32, ctx)) != MN_OK)
            return st;
        vd = vc;
    }
    if (r->qndim != w->ndim) {
        int vshape, vr;
        int64_t d1[1] = {w->ndim};
        snprintf(nm, sizeof nm, "%s_shp", base);
        if ((st = mn_q_add_const(g, nm, MN_DT_I64, 1, d1, w->dims, &vshape,
                                 ctx)) != MN_OK)
            return st;
        snprintf(nm, sizeof nm, "%s_w", base);
        if ((st = mn_q_add_value(g, nm, MN_DT_F32, -1, &vr, ctx)) != MN_OK)
            return st;
        in[0] = vd, in[1] = vshape;
        snprintf(nm, sizeof nm, "%s_R", base);
        if ((st = mn_q_add_node(g, nm, "Reshape", in, 2, &vr, 1, &node,
                                ctx)) != MN_OK)
            return st;
        vd = vr;
    }
    *out = vd;
    return MN_OK;
}

/* With float16 scales the bias goes to float16 too (+ Cast), when it is
 * a float32 constant read only by this layer, fits float16
 * (mn_q_fits_fp16), and the two bytes saved per value pay for the Cast
 * node (names ×3 + ~40 bytes of framing). Its rounding error (2^-11 relative) is far below the
 * int4 weights'. */
static mn_status int4_bias_f16(mn_graph *g, int v, mn_ctx *ctx)
{
    const mn_tensor *t = v >= 0 ? g->values[v].init : NULL;
    int readers = 0;
    if (!t || t->dtype != MN_DT_F32 || g->values[v].is_output ||
        2 * mn_tensor_numel(t) <= 3 * (int64_t)strlen(g->values[v].name) + 40)
        return MN_OK;
    if (!mn_q_fits_fp16(t))
        return MN_OK;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            readers += g->nodes[i].in[j] == v;
    return readers == 1 ? mn_q_const_to_fp16(g, v, ctx) : MN_OK;
}

mn_status mn_quant_int4(mn_graph *g, const mn_quant_opts *o,
                        mn_quant_report *rep, mn_ctx *ctx)
{
    int n_nodes = g->n_nodes;
    mn_status st;
    if (o->group < -1)
        return mn_error(ctx, MN_ERR_ARG, "int4 group size %d", o->group);
    if ((st = mn_q_require_opset(g, 21, ctx)) != MN_OK)
        return st;
    if (g->ir_version < 10) /* INT4 and opset 21 need IR version 10 */
        g->ir_version = 10;
    for (int ni = 0; ni < n_nodes; ni++) {
        mn_qlayer l;
        int4_w r;
        int wv, out;
        if (!mn_q_layer(g, ni, &l))
            continue;
        if (mn_q_keep_float(g, o, ni)) {
            rep->kept_float++;
            continue;
        }
        wv = g->nodes[ni].in[l.w_slot];
        st = int4_quantize(g->values[wv].init, &l, o, &r, ctx);
        if (st == MN_OK)
            st = int4_emit(g, g->values[wv].name, g->values[wv].init, &r,
                           o->scale_f16 >= 0, &out, ctx);
        int4_free(&r);
        if (st != MN_OK)
            return st;
        g->nodes[ni].in[l.w_slot] = out;
        rep->quantized_layers++;
        if (o->scale_f16 >= 0 && l.b_slot >= 0 &&
            l.b_slot < g->nodes[ni].n_in &&
            (st = int4_bias_f16(g, g->nodes[ni].in[l.b_slot], ctx)) != MN_OK)
            return st;
    }
    if (!rep->quantized_layers)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: no Conv, Gemm or MatMul with constant weights to "
                        "quantize", g->source);
    mn_graph_relink(g);
    return mn_graph_toposort(g, ctx); /* the new nodes precede their uses */
}
