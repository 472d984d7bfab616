/* Dynamic-range int8: weights quantized ahead of time (symmetric, per
 * output channel), activations quantized per tensor at run time — the
 * pattern ONNX Runtime's dynamic quantizer writes:
 *
 *   x → DynamicQuantizeLinear → (xq uint8, x_scale, x_zero_point)
 *   ConvInteger(xq, wq, x_zp, w_zp) | MatMulInteger(xq, wq, x_zp)  → int32
 *   Cast(float) · (x_scale · w_scale[c]) [+ bias] → y
 *
 * Conv weights are stored as uint8 with zero point 128 (the int8 value
 * plus 128: the same numbers) because ONNX Runtime's ConvInteger takes
 * uint8 weights only; Gemm/MatMul weights are int8. Biases stay float. No
 * calibration data is needed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "core/passes.h"
#include "quant/quant.h"

typedef struct dyn {
    mn_graph *g;
    const mn_quant_opts *o;
    int *dq_of; /* value → its DynamicQuantizeLinear's first output, or -1 */
} dyn;

/* DynamicQuantizeLinear of x, shared by all layers reading x. Outputs in
 * out[0..2]. */
static mn_status dynq(dyn *d, int x, int *out, mn_ctx *ctx)
{
    mn_graph *g = d->g;
    static const char *const sfx[3] = {"_quantized", "_scale",
                                       "_zero_point"};
    static const mn_dtype dts[3] = {MN_DT_U8, MN_DT_F32, MN_DT_U8};
    char base[300];
    mn_status st;
    if (d->dq_of[x] >= 0) {
        for (int k = 0; k < 3; k++)
            out[k] = d->dq_of[x] + k;
        return MN_OK;
    }
    for (int k = 0; k < 3; k++) {
        snprintf(base, sizeof base, "%s%s", g->values[x].name, sfx[k]);
        if ((st = mn_q_add_value(g, base, dts[k], k ? -1 : x, &out[k],
                                 ctx)) != MN_OK)
            return st;
        if (k) {
            g->values[out[k]].ndim = 0;
        }
    }
    snprintf(base, sizeof base, "%s_DynamicQuantizeLinear",
             g->values[x].name);
    if ((st = mn_q_add_node(g, base, "DynamicQuantizeLinear", &x, 1, out, 3,
                            NULL, ctx)) != MN_OK)
        return st;
    d->dq_of[x] = out[0]; /* the three values were added consecutively */
    return MN_OK;
}

/* Transposes a 2-D tensor in place (new buffer). */
static mn_status transpose2(mn_tensor *t, mn_ctx *ctx)
{
    int64_t r = t->dims[0], c = t->dims[1];
    size_t es = mn_dtype_size(t->dtype);
    char *n = mn_malloc_aligned(mn_tensor_nbytes(t) ? mn_tensor_nbytes(t) : 1);
    if (!n)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++)
            memcpy(n + (size_t)(j * r + i) * es,
                   (char *)t->data + (size_t)(i * c + j) * es, es);
    if (t->owns_data)
        mn_free_aligned(t->data);
    t->data = n;
    t->owns_data = 1;
    t->dims[0] = c;
    t->dims[1] = r;
    return MN_OK;
}

static mn_status add_node(mn_graph *g, const char *layer, const char *op,
                          const int *in, int n_in, int out, mn_dtype odt,
                          int like, int *outv, mn_ctx *ctx)
{
    char base[300];
    mn_status st;
    if (out < 0) {
        snprintf(base, sizeof base, "%s_%s_out", layer, op);
        if ((st = mn_q_add_value(g, base, odt, like, &out, ctx)) != MN_OK)
            return st;
    }
    snprintf(base, sizeof base, "%s_%s", layer, op);
    if ((st = mn_q_add_node(g, base, op, in, n_in, &out, 1, NULL, ctx)) !=
        MN_OK)
        return st;
    if (outv)
        *outv = out;
    return MN_OK;
}

static mn_status quantize_layer(dyn *d, int ni, const mn_qlayer *l,
                                mn_ctx *ctx)
{
    mn_graph *g = d->g;
    int conv = g->nodes[ni].op == MN_OP_CONV;
    int trans = !conv && l->w_axis == 0; /* Gemm with transB */
    int x = g->nodes[ni].in[0], y = g->nodes[ni].out[0];
    int bias = l->b_slot >= 0 ? g->nodes[ni].in[l->b_slot] : -1;
    int xq[3], wv, wz = -1, acc, accf, sv, ws, scaled, in[4], node;
    mn_tensor *wq = NULL;
    float *s = NULL;
    int64_t ns = 0, sd[MN_MAX_DIMS];
    char layer[200], base[300];
    mn_status st;
    snprintf(layer, sizeof layer, "%s",
             g->nodes[ni].name[0] ? g->nodes[ni].name : "layer");
    if ((st = mn_q_weight_sym(g->values[g->nodes[ni].in[1]].init, l->w_axis,
                              d->o->per_tensor, 127, conv ? 128 : 0, &wq, &s,
                              &ns, ctx)) != MN_OK)
        goto out;
    if (trans && (st = transpose2(wq, ctx)) != MN_OK)
        goto out;
    snprintf(base, sizeof base, "%s_quantized",
             g->values[g->nodes[ni].in[1]].name);
    if ((st = mn_pass_add_init(g, base, wq, &wv, ctx)) != MN_OK) {
        wq = NULL;
        goto out;
    }
    wq = NULL;
    if (conv) {
        uint8_t z = 128;
        snprintf(base, sizeof base, "%s_zero_point",
                 g->values[g->nodes[ni].in[1]].name);
        if ((st = mn_q_add_const(g, base, MN_DT_U8, 0, NULL, &z, &wz, ctx)) !=
            MN_OK)
            goto out;
    }
    /* the per-channel weight scale, shaped to broadcast over the output */
    {
        int nd = 0;
        const mn_tensor *w = g->values[g->nodes[ni].in[1]].init;
        if (ns > 1) {
            sd[nd++] = ns;
            for (int k = 2; conv && k < w->ndim; k++)
                sd[nd++] = 1;
        }
        snprintf(base, sizeof base, "%s_weight_scale", layer);
        if ((st = mn_q_add_const(g, base, MN_DT_F32, nd, sd, s, &ws, ctx)) !=
            MN_OK)
            goto out;
    }
    if ((st = dynq(d, x, xq, ctx)) != MN_OK)
        goto out;
    in[0] = xq[0], in[1] = wv, in[2] = xq[2], in[3] = wz;
    if (conv) {
        if ((st = add_node(g, layer, "ConvInteger", in, 4, -1, MN_DT_I32, y,
                           &acc, ctx)) != MN_OK)
            goto out;
        node = g->n_nodes - 1;
        /* copy the convolution's attributes */
        for (int i = 0; i < g->nodes[ni].n_attrs; i++) {
            const mn_attr *a = &g->nodes[ni].attrs[i];
            mn_attr *b;
            if ((st = mn_node_add_attr(&g->nodes[node], a->name, a->type, &b,
                                       ctx)) != MN_OK)
                goto out;
            b->i = a->i;
            b->f = a->f;
            if (a->type == MN_ATTR_INTS)
                st = mn_attr_set_ints(b, a->ints, a->n, ctx);
            else if (a->type == MN_ATTR_STRING)
                st = mn_attr_set_string(b, a->s ? a->s : "", ctx);
            if (st != MN_OK)
                goto out;
        }
    } else if ((st = add_node(g, layer, "MatMulInteger", in, 3, -1, MN_DT_I32,
                              y, &acc, ctx)) != MN_OK) {
        goto out;
    }
    in[0] = acc;
    if ((st = add_node(g, layer, "Cast", in, 1, -1, MN_DT_F32, y, &accf,
                       ctx)) != MN_OK ||
        (st = mn_q_set_attr_int(g, g->n_nodes - 1, "to", MN_DT_F32, ctx)) !=
            MN_OK)
        goto out;
    in[0] = xq[1], in[1] = ws;
    snprintf(base, sizeof base, "%s_scale", layer);
    if ((st = add_node(g, base, "Mul", in, 2, -1, MN_DT_F32, -1, &sv, ctx)) !=
        MN_OK)
        goto out;
    /* the float layer's output value is written by the last node */
    in[0] = accf, in[1] = sv;
    {
        int tmp = y;
        if (bias >= 0) {
            if ((st = mn_q_add_value(g, "scaled", MN_DT_F32, y, &tmp, ctx)) !=
                MN_OK)
                goto out;
        }
        for (int j = 0; j < g->nodes[ni].n_out; j++)
            g->nodes[ni].out[j] = -1; /* the float layer is dead now */
        if ((st = add_node(g, layer, "Mul", in, 2, tmp, MN_DT_F32, y, &scaled,
                           ctx)) != MN_OK)
            goto out;
    }
    if (bias >= 0) {
        int bv = bias;
        const mn_tensor *b = g->values[bias].init;
        if (conv && b->ndim == 1) {
            /* [M] → [M, 1, 1] to broadcast over N×M×H×W */
            int64_t bd[MN_MAX_DIMS];
            int nd = 0;
            const mn_tensor *w = g->values[g->nodes[ni].in[1]].init;
            bd[nd++] = b->dims[0];
            for (int k = 2; k < w->ndim; k++)
                bd[nd++] = 1;
            snprintf(base, sizeof base, "%s_bias", layer);
            if ((st = mn_q_add_const(g, base, MN_DT_F32, nd, bd, b->data, &bv,
                                     ctx)) != MN_OK)
                goto out;
        }
        in[0] = scaled, in[1] = bv;
        if ((st = add_node(g, layer, "Add", in, 2, y, MN_DT_F32, y, NULL,
                           ctx)) != MN_OK)
            goto out;
    }
out:
    free(s);
    mn_tensor_destroy(wq);
    return st;
}

mn_status mn_quant_dynamic(mn_graph *g, const mn_quant_opts *o,
                           mn_quant_report *rep, mn_ctx *ctx)
{
    dyn d = {.g = g, .o = o};
    int n_nodes = g->n_nodes;
    mn_status st = MN_OK;
    if (g->opset < 11 && (st = mn_q_require_opset13(g, ctx)) != MN_OK)
        return st;
    d.dq_of = mn_malloc((size_t)(g->n_values + 1) * sizeof *d.dq_of);
    if (!d.dq_of)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int v = 0; v < g->n_values; v++)
        d.dq_of[v] = -1;
    for (int ni = 0; ni < n_nodes; ni++) {
        mn_qlayer l;
        if (!mn_q_layer(g, ni, &l))
            continue;
        if (mn_q_keep_float(g, o, ni)) {
            rep->kept_float++;
            continue;
        }
        if ((st = quantize_layer(&d, ni, &l, ctx)) != MN_OK)
            goto out;
        rep->quantized_layers++;
    }
    if (!rep->quantized_layers)
        st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                      "%s: no Conv, Gemm or MatMul with constant weights to "
                      "quantize", g->source);
    mn_graph_relink(g);
out:
    free(d.dq_of);
    return st;
}
