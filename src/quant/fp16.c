/* float16 mode: weights stored as float16 initializers, computed in fp32.
 *
 * Every float32 initializer of at least FP16_MIN_ELEMS values becomes a
 * float16 initializer followed by Cast(to=FLOAT) that writes the original
 * value, so readers are untouched and ONNX Runtime runs the file as is;
 * minnow's runtime keeps the float16 weights and decodes them on the fly
 * (src/core/session_wdecode.c), or folds the Cast (MN_WEIGHTS_FLOAT).
 * Tensors holding a value beyond float16's range (|x| > 65504) stay
 * float32, as do tensors read only by nodes kept in float. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ops/ops.h"
#include "core/passes.h"
#include "quant/quant.h"

#define FP16_MIN_ELEMS 16
#define FP16_MAX 65504.0f

uint16_t mn_q_f32_to_f16(float f)
{
    uint32_t x, sign, exp, man, h, rem;
    int e;
    memcpy(&x, &f, sizeof x);
    sign = (x >> 16) & 0x8000u;
    exp = (x >> 23) & 0xffu;
    man = x & 0x7fffffu;
    if (exp == 0xff) /* inf, NaN (quiet, payload kept where it fits) */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
    e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) { /* float16 subnormal or zero: h · 2^-24 */
        int shift = 14 - e;
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000u;
        h = man >> shift;
        rem = man & ((1u << shift) - 1);
        if (rem > (1u << (shift - 1)) ||
            (rem == (1u << (shift - 1)) && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    h = ((uint32_t)e << 10) | (man >> 13);
    rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++; /* a carry into the exponent is the correct rounding */
    return (uint16_t)(sign | h);
}

float mn_q_scale_f16_grid(float s)
{
    if (!(s >= 0x1p-14f && s <= FP16_MAX))
        return s;
    return mn_f16_to_f32(mn_q_f32_to_f16(s));
}

int mn_q_fits_fp16(const mn_tensor *t)
{
    for (int64_t i = 0; i < mn_tensor_numel(t); i++) {
        float x = ((const float *)t->data)[i];
        if (!(fabsf(x) <= FP16_MAX) && !isnan(x))
            return 0;
    }
    return 1;
}

/* 1 when every reader of v is a node kept in float. */
static int only_kept_readers(const mn_graph *g, const mn_quant_opts *o, int v)
{
    int readers = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == v) {
                if (!mn_q_keep_float(g, o, i))
                    return 0;
                readers++;
            }
    return readers > 0;
}

mn_status mn_q_const_to_fp16(mn_graph *g, int v, mn_ctx *ctx)
{
    mn_tensor *f = g->values[v].init, *h;
    char base[300];
    int hv, node;
    mn_status st = mn_tensor_create(MN_DT_F16, f->ndim, f->dims, &h, ctx);
    if (st != MN_OK)
        return st;
    for (int64_t i = 0; i < mn_tensor_numel(f); i++)
        ((uint16_t *)h->data)[i] =
            mn_q_f32_to_f16(((const float *)f->data)[i]);
    snprintf(base, sizeof base, "%s_fp16", g->values[v].name);
    if ((st = mn_pass_add_init(g, base, h, &hv, ctx)) != MN_OK)
        return st;
    snprintf(base, sizeof base, "%s_Cast", g->values[v].name);
    if ((st = mn_q_add_node(g, base, "Cast", &hv, 1, &v, 1, &node, ctx)) !=
            MN_OK ||
        (st = mn_q_set_attr_int(g, node, "to", MN_DT_F32, ctx)) != MN_OK)
        return st;
    mn_tensor_destroy(g->values[v].init);
    g->values[v].init = NULL;
    g->values[v].producer = node;
    return MN_OK;
}

mn_status mn_quant_fp16(mn_graph *g, const mn_quant_opts *o,
                        mn_quant_report *rep, mn_ctx *ctx)
{
    int nv = g->n_values;
    mn_status st;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        mn_qlayer l;
        if (mn_q_layer(g, ni, &l))
            rep->quantized_layers += !mn_q_keep_float(g, o, ni);
    }
    for (int v = 0; v < nv; v++) {
        const mn_tensor *t = g->values[v].init;
        if (!t || t->dtype != MN_DT_F32 || mn_tensor_numel(t) < FP16_MIN_ELEMS ||
            g->values[v].is_output || only_kept_readers(g, o, v) ||
            !mn_q_fits_fp16(t))
            continue;
        if ((st = mn_q_const_to_fp16(g, v, ctx)) != MN_OK)
            return st;
        rep->tensors++;
    }
    mn_graph_relink(g);
    return mn_graph_toposort(g, ctx);
}
