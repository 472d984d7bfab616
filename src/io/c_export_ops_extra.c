/* C export: emitters for the data-movement and normalization ops that
 * transformer-style CNNs (ConvNeXt) add — Transpose, ReduceMean over
 * consecutive axes, LayerNormalization —, ONNX Runtime's QLinearAdd and
 * QLinearGlobalAveragePool of integer-only ResNets (the arithmetic of
 * src/ops/qelementwise.c and qpool.c), and the refusal of every op the C
 * backend does not have. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/c_export_int.h"
#include "kernels/qelem.h"
#include "ops/qlinear_util.h"

static mn_status emit_transpose(cx *c, const mn_node *n)
{
    const mn_tensor *x = cx_t(c, n->in[0]);
    const int64_t *perm = NULL;
    int np = mn_node_attr_ints(n, "perm", &perm), nd = x->ndim;
    int64_t p[2 + 2 * MN_MAX_DIMS], st[MN_MAX_DIMS], s = 1;
    char e[2][96], gb[24];
    if (nd > 8 || (np && np != nd))
        return cx_fail(c, "perm of %d axes for rank %d", np, nd);
    for (int d = nd - 1; d >= 0; d--) {
        st[d] = s;
        s *= x->dims[d];
    }
    p[0] = nd;
    p[1] = (int64_t)mn_dtype_size(x->dtype);
    for (int d = 0; d < nd; d++) {
        int64_t a = np ? perm[d] : nd - 1 - d;
        if (a < 0)
            a += nd;
        if (a < 0 || a >= nd)
            return cx_fail(c, "perm value out of range");
        p[2 + d] = x->dims[a];
        p[2 + nd + d] = st[a];
    }
    if (!cx_value_expr(c, n->in[0], e[0]))
        return cx_fail(c, "input of type %s", mn_dtype_name(x->dtype));
    int gi = cx_geom(c, p, 2 + 2 * nd);
    c->used[CXK_TRANSPOSE] = 1;
    cx_printf(&c->body, "    transpose(%s, %s, %s);\n", e[0],
              cx_value_expr(c, n->out[0], e[1]), cx_arr(gi, gb));
    return MN_OK;
}

static mn_status emit_reducemean(cx *c, const mn_node *n)
{
    const mn_tensor *x = cx_t(c, n->in[0]);
    int red[MN_MAX_DIMS] = {0}, na = 0, nd = x->ndim;
    char e[2][96];
    if (x->dtype != MN_DT_F32)
        return cx_fail(c, "float32 only");
    if (n->opset > 0 && n->opset < 18) {
        const int64_t *v = NULL;
        na = mn_node_attr_ints(n, "axes", &v);
        for (int i = 0; i < na; i++) {
            int64_t a = v[i] < 0 ? v[i] + nd : v[i];
            if (a < 0 || a >= nd)
                return cx_fail(c, "axis out of range");
            red[a] = 1;
        }
    } else if (n->n_in > 1 && n->in[1] >= 0) {
        const mn_tensor *t = cx_t(c, n->in[1]);
        if (!cx_is_const(c, n->in[1]))
            return cx_fail(c, "axes computed at run time");
        na = (int)mn_tensor_numel(t);
        for (int i = 0; i < na; i++) {
            int64_t a = mn_tensor_get_i64(t, i);
            a = a < 0 ? a + nd : a;
            if (a < 0 || a >= nd)
                return cx_fail(c, "axis out of range");
            red[a] = 1;
        }
    }
    if (na == 0) {
        if (mn_node_attr_int(n, "noop_with_empty_axes", 0))
            return cx_fail(c, "noop_with_empty_axes");
        for (int d = 0; d < nd; d++)
            red[d] = 1;
    }
    int lo = -1, hi = -1;
    for (int d = 0; d < nd; d++)
        if (red[d]) {
            if (lo < 0)
                lo = d;
            else if (hi != d - 1)
                return cx_fail(c, "only consecutive axes");
            hi = d;
        }
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < nd; d++)
        *(d < lo ? &outer : d <= hi ? &len : &inner) *= x->dims[d];
    c->used[CXK_REDUCEMEAN_F32] = 1;
    cx_printf(&c->body, "    reducemean_f32(%s, %s, %lldL, %lldL, %lldL);\n",
              cx_value_expr(c, n->in[0], e[0]),
              cx_value_expr(c, n->out[0], e[1]), (long long)outer,
              (long long)len, (long long)inner);
    return MN_OK;
}

/* Scale or bias expanded to n floats (it may be one value). */
static int per_elem(cx *c, const mn_tensor *t, int64_t n)
{
    float *v = mn_malloc((size_t)(n + 1) * sizeof *v);
    int64_t cnt = mn_tensor_numel(t);
    if (!v)
        return -1;
    for (int64_t i = 0; i < n; i++)
        v[i] = ((const float *)t->data)[cnt == 1 ? 0 : i];
    int id = cx_array(c, MN_DT_F32, v, (size_t)n);
    free(v);
    return id;
}

static mn_status emit_layernorm(cx *c, const mn_node *n)
{
    const mn_tensor *x = cx_t(c, n->in[0]);
    const mn_tensor *sc = n->n_in > 1 && n->in[1] >= 0 ? cx_t(c, n->in[1]) : NULL;
    const mn_tensor *b = n->n_in > 2 && n->in[2] >= 0 ? cx_t(c, n->in[2]) : NULL;
    char e[2][96], k[2][24], fe[40];
    int axis;
    if (x->dtype != MN_DT_F32 || !sc)
        return cx_fail(c, "float32 with a scale only");
    if (!cx_is_const(c, n->in[1]) || (b && !cx_is_const(c, n->in[2])))
        return cx_fail(c, "scale and bias must be constants");
    if (mn_norm_axis(mn_node_attr_int(n, "axis", -1), x->ndim, &axis,
                     c->ctx) != MN_OK)
        return cx_fail(c, "%s", c->ctx->msg);
    int64_t outer = 1, len = 1;
    for (int d = 0; d < x->ndim; d++)
        *(d < axis ? &outer : &len) *= x->dims[d];
    if ((mn_tensor_numel(sc) != 1 && mn_tensor_numel(sc) != len) ||
        (b && mn_tensor_numel(b) != 1 && mn_tensor_numel(b) != len))
        return cx_fail(c, "scale and bias must cover the normalized axes");
    int si = per_elem(c, sc, len), bi = b ? per_elem(c, b, len) : -1;
    if (si < 0 || (b && bi < 0))
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    c->used[CXK_LAYERNORM_F32] = 1;
    cx_printf(&c->body, "    layernorm_f32(%s, %s, %s, %s, %lldL, %lldL, %s);\n",
              cx_value_expr(c, n->in[0], e[0]), cx_arr(si, k[0]),
              cx_arr(bi, k[1]), cx_value_expr(c, n->out[0], e[1]),
              (long long)outer, (long long)len,
              cx_fl(mn_node_attr_float(n, "epsilon", 1e-5f), fe));
    return MN_OK;
}

mn_status cx_emit_ln_fused(cx *c, const mn_step_info *si)
{
    const mn_node *n = &c->g->nodes[si->node];
    int xv = n->in[si->ln_slot], bv = n->in[1 - si->ln_slot];
    const mn_tensor *x = cx_t(c, xv);
    char e[2][96], k[2][24], fe[40];
    int64_t len = x->ndim ? x->dims[x->ndim - 1] : 1;
    int64_t outer = len ? mn_tensor_numel(x) / len : 0;
    int gi = per_elem(c, cx_t(c, si->ln_gamma), len);
    int bi = per_elem(c, cx_t(c, bv), len);
    if (gi < 0 || bi < 0)
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    c->used[CXK_LAYERNORM_F32] = 1;
    cx_printf(&c->body, "    layernorm_f32(%s, %s, %s, %s, %lldL, %lldL, %s);\n",
              cx_value_expr(c, xv, e[0]), cx_arr(gi, k[0]), cx_arr(bi, k[1]),
              cx_value_expr(c, n->out[0], e[1]), (long long)outer,
              (long long)len, cx_fl(si->ln_eps, fe));
    return MN_OK;
}

/* Per-tensor scale (one float) and zero point (0 when absent) of input
 * slots si, si + 1, both constants. */
static int qparam(cx *c, const mn_node *n, int si, float *s, int32_t *z)
{
    int zi = si + 1 < n->n_in ? n->in[si + 1] : -1;
    if (!cx_is_const(c, n->in[si]) || (zi >= 0 && !cx_is_const(c, zi)))
        return 0;
    const mn_tensor *st = cx_t(c, n->in[si]);
    if (st->dtype != MN_DT_F32 || mn_tensor_numel(st) != 1)
        return 0;
    *s = *(const float *)st->data;
    *z = zi >= 0 ? (int32_t)mn_tensor_get_i64(cx_t(c, zi), 0) : 0;
    return 1;
}

static mn_status emit_qadd(cx *c, const mn_node *n)
{
    const mn_tensor *a = cx_t(c, n->in[0]), *b = cx_t(c, n->in[3]);
    const mn_tensor *y = cx_t(c, n->out[0]);
    float sa, sb, sc;
    int32_t p[6];
    mn_qadd_fixed fx;
    char e[3][96], k[24];
    if (!qparam(c, n, 1, &sa, &p[2]) || !qparam(c, n, 4, &sb, &p[3]) ||
        !qparam(c, n, 6, &sc, &p[4]))
        return cx_fail(c, "scales and zero points must be constant scalars");
    if (mn_tensor_numel(a) != mn_tensor_numel(y) ||
        mn_tensor_numel(b) != mn_tensor_numel(y))
        return cx_fail(c, "inputs of different shapes (broadcasting)");
    if (!mn_qadd_fixed_init(sa / sc, sb / sc, &fx))
        return cx_fail(c, "scale ratios outside the fixed-point range");
    p[0] = fx.ma, p[1] = fx.mb, p[5] = fx.shift;
    int pa = cx_array(c, MN_DT_I32, p, 6);
    if (pa < 0)
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    c->used[CXK_QADD] = c->used[CXK_LD8] = 1;
    cx_printf(&c->body, "    qadd(%s, %s, %s, %d, %s, %lldL);\n",
              cx_value_expr(c, n->in[0], e[0]),
              cx_value_expr(c, n->in[3], e[1]),
              cx_value_expr(c, n->out[0], e[2]), y->dtype == MN_DT_I8,
              cx_arr(pa, k), (long long)mn_tensor_numel(y));
    return MN_OK;
}

static mn_status emit_qgap(cx *c, const mn_node *n)
{
    const mn_tensor *x = cx_t(c, n->in[0]);
    float sx, sy;
    int32_t zx, zy;
    char e[2][96], fs[40];
    if (mn_node_attr_int(n, "channels_last", 0))
        return cx_fail(c, "channels_last");
    if (!qparam(c, n, 1, &sx, &zx) || !qparam(c, n, 3, &sy, &zy))
        return cx_fail(c, "scales and zero points must be constant scalars");
    int64_t hw = 1;
    for (int d = 2; d < x->ndim; d++)
        hw *= x->dims[d];
    float s = sx / (sy * (float)hw); /* as qgap_forward */
    c->used[CXK_QGAP] = c->used[CXK_LD8] = c->used[CXK_RINT] = 1;
    cx_printf(&c->body, "    qgap(%s, %s, %d, %lldL, %lldL, %ld, %s, %ld);\n",
              cx_value_expr(c, n->in[0], e[0]),
              cx_value_expr(c, n->out[0], e[1]), x->dtype == MN_DT_I8,
              (long long)(x->dims[0] * x->dims[1]), (long long)hw, (long)zx,
              cx_fl(s, fs), (long)zy);
    return MN_OK;
}

int cx_emit_lut(cx *c, const uint8_t *t, int x, int y)
{
    char e[2][96], k[24];
    int id = cx_array(c, MN_DT_U8, t, 256);
    if (id < 0)
        return 0;
    c->used[CXK_LUT8] = 1;
    cx_printf(&c->body, "    lut8(%s, %s, %s, %lldL);\n", cx_arr(id, k),
              cx_value_expr(c, x, e[0]), cx_value_expr(c, y, e[1]),
              (long long)mn_tensor_numel(cx_t(c, y)));
    return 1;
}

/* QLinearSigmoid / QLinearLeakyRelu: the runtime's 256-byte table. */
static mn_status emit_qunary(cx *c, const mn_node *n)
{
    float sx, sy;
    int32_t zx, zy;
    uint8_t t[256];
    if (!qparam(c, n, 1, &sx, &zx) || !qparam(c, n, 3, &sy, &zy))
        return cx_fail(c, "scales and zero points must be constant scalars");
    mn_ql_unary_table(sx, zx, sy, zy, cx_t(c, n->out[0])->dtype == MN_DT_I8,
                      n->op == MN_OP_QLINEARLEAKYRELU,
                      mn_node_attr_float(n, "alpha", 0.01f), t);
    if (!cx_emit_lut(c, t, n->in[0], n->out[0]))
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    return MN_OK;
}

/* Rows × inner when `small` is one value per row of `big` ([N,C,1,..]
 * against [N,C,H,..]); 0 otherwise. */
static int per_row(const mn_tensor *big, const mn_tensor *small,
                   int64_t *outer, int64_t *inner)
{
    if (big->ndim < 2 || small->ndim != big->ndim ||
        small->dims[0] != big->dims[0] || small->dims[1] != big->dims[1])
        return 0;
    *outer = big->dims[0] * big->dims[1];
    *inner = 1;
    for (int d = 2; d < big->ndim; d++) {
        if (small->dims[d] != 1)
            return 0;
        *inner *= big->dims[d];
    }
    return 1;
}

static mn_status emit_qmul(cx *c, const mn_node *n)
{
    const mn_tensor *a = cx_t(c, n->in[0]), *b = cx_t(c, n->in[3]);
    const mn_tensor *y = cx_t(c, n->out[0]);
    float sa, sb, sc;
    int32_t p[3];
    int64_t outer = 1, inner = mn_tensor_numel(y);
    int ia = n->in[0], ib = n->in[3], bc = 0;
    char e[3][96], k[24], fr[40];
    if (!qparam(c, n, 1, &sa, &p[0]) || !qparam(c, n, 4, &sb, &p[1]) ||
        !qparam(c, n, 6, &sc, &p[2]))
        return cx_fail(c, "scales and zero points must be constant scalars");
    if (mn_tensor_numel(a) != inner || mn_tensor_numel(b) != inner) {
        if (mn_tensor_numel(a) == inner && per_row(a, b, &outer, &inner))
            bc = 1;
        else if (mn_tensor_numel(b) == inner &&
                 per_row(b, a, &outer, &inner)) { /* the product commutes */
            int32_t z = p[0];
            bc = 1, ia = n->in[3], ib = n->in[0], p[0] = p[1], p[1] = z;
        } else
            return cx_fail(c, "broadcasting other than one value per "
                              "channel");
    }
    int pa = cx_array(c, MN_DT_I32, p, 3);
    if (pa < 0)
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    c->used[CXK_QMUL] = c->used[CXK_LD8] = c->used[CXK_RINT] = 1;
    cx_printf(&c->body, "    qmul(%s, %s, %s, %d, %s, %s, %lldL, %lldL, %d);\n",
              cx_value_expr(c, ia, e[0]), cx_value_expr(c, ib, e[1]),
              cx_value_expr(c, n->out[0], e[2]), y->dtype == MN_DT_I8,
              cx_arr(pa, k), cx_fl(sa * sb / sc, fr), (long long)outer,
              (long long)inner, bc);
    return MN_OK;
}

mn_status cx_emit_extra(cx *c, const mn_node *n)
{
    switch (n->op) {
    case MN_OP_TRANSPOSE: return emit_transpose(c, n);
    case MN_OP_REDUCEMEAN: return emit_reducemean(c, n);
    case MN_OP_LAYERNORM: return emit_layernorm(c, n);
    case MN_OP_QLINEARADD: return emit_qadd(c, n);
    case MN_OP_QLINEARGLOBALAVGPOOL: return emit_qgap(c, n);
    case MN_OP_QLINEARSIGMOID:
    case MN_OP_QLINEARLEAKYRELU: return emit_qunary(c, n);
    case MN_OP_QLINEARMUL: return emit_qmul(c, n);
    default:
        return cx_fail(c, "op %s is not supported by the C backend",
                       n->op_type);
    }
}
