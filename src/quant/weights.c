/* Weight quantization shared by the modes (symmetric per-channel integer
 * weights, DequantizeLinear of a constant), and the int4 weight-only mode.
 *
 * int4: weights take 4-bit values in [-7, 7] with one scale per output
 * channel (max |w| / 7), activations stay float. ONNX before opset 21 has
 * no 4-bit type, so the values are stored in int8 containers behind a
 * DequantizeLinear: the file is the size of an int8 one, and the accuracy
 * is the 4-bit model's. Packing two values per byte needs minnow's own
 * file format; grouped scales along input channels need opset 21's
 * blocked DequantizeLinear. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "quant/quant.h"

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
        s[k] = mn_quant_sym_scale(s[k], qmax);
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

mn_status mn_quant_int4(mn_graph *g, const mn_quant_opts *o,
                        mn_quant_report *rep, mn_ctx *ctx)
{
    int n_nodes = g->n_nodes;
    mn_status st;
    if ((st = mn_q_require_opset13(g, ctx)) != MN_OK)
        return st;
    for (int ni = 0; ni < n_nodes; ni++) {
        mn_qlayer l;
        mn_tensor *wq = NULL;
        float *s = NULL;
        int8_t *zeros = NULL;
        int64_t c = 0;
        int wv, out;
        if (!mn_q_layer(g, ni, &l))
            continue;
        if (mn_q_keep_float(g, o, ni)) {
            rep->kept_float++;
            continue;
        }
        wv = g->nodes[ni].in[l.w_slot];
        st = mn_q_weight_sym(g->values[wv].init, l.w_axis, o->per_tensor, 7, 0,
                             &wq, &s, &c, ctx);
        if (st == MN_OK && !(zeros = mn_calloc((size_t)c, 1)))
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        if (st == MN_OK)
            st = mn_q_dq_const(g, g->values[wv].name, wq, s, zeros, c,
                               l.w_axis, &out, ctx);
        if (st == MN_OK)
            g->nodes[ni].in[l.w_slot] = out;
        free(s);
        free(zeros);
        mn_tensor_destroy(wq);
        if (st != MN_OK)
            return st;
        rep->quantized_layers++;
    }
    if (!rep->quantized_layers)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: no Conv, Gemm or MatMul with constant weights to "
                        "quantize", g->source);
    mn_graph_relink(g);
    return MN_OK;
}
