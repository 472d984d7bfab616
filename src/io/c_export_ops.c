/* C export: one emitter per op. Each reads the node's compiled shapes and
 * constants from the session, writes the constant arrays it needs
 * (weights re-laid out as [outputs][reduction] rows, geometry as an int32
 * array, requantization multipliers as exact doubles) and appends one
 * kernel call to NAME_run. Anything the C kernels cannot do exactly is
 * refused with a message naming the node. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/c_export_int.h"
#include "ops/conv_shape.h"

static const mn_tensor *opt_in(const cx *c, const mn_node *n, int i)
{
    return i < n->n_in && n->in[i] >= 0 ? cx_t(c, n->in[i]) : NULL;
}

const char *cx_fl(float v, char *buf)
{
    if (v != v)
        return "NAN";
    if (isinf(v))
        return v > 0 ? "HUGE_VALF" : "-HUGE_VALF";
    snprintf(buf, 40, "%.9g", (double)v);
    if (!strpbrk(buf, ".e"))
        strcat(buf, ".0");
    strcat(buf, "f");
    return buf;
}

int cx_geom(cx *c, const int64_t *v, int n)
{
    int32_t g[64];
    for (int i = 0; i < n && i < 64; i++)
        g[i] = (int32_t)v[i];
    return cx_array(c, MN_DT_I32, g, (size_t)n);
}

static void act_of(cx *c, const mn_step_info *si, char *buf)
{
    char a[40], b[40];
    int k = (int)si->act.kind;
    c->act_used |= 1u << k;
    snprintf(buf, 120, "%d, %s, %s", k, cx_fl(si->act.lo, a), cx_fl(si->act.hi, b));
}

const char *cx_arr(int id, char *buf)
{
    if (id < 0)
        return "NULL";
    snprintf(buf, 24, "k%d", id);
    return buf;
}

/* Float data of a constant input as a fresh array. */
static int const_f32(cx *c, const mn_tensor *t)
{
    return cx_array(c, MN_DT_F32, t->data, (size_t)mn_tensor_numel(t));
}

/* Checks x and w are the shapes a 2-D (or 1-D) kernel handles. */
static mn_status conv_params(cx *c, const mn_node *n, const mn_tensor *x,
                             const mn_tensor *w, int64_t g[16])
{
    mn_conv_params p;
    int64_t dims[MN_MAX_DIMS];
    if (!cx_is_const(c, n->in[1]))
        return cx_fail(c, "weights are not constant");
    if (mn_conv_setup(n, x, w, &p, dims, c->ctx) != MN_OK)
        return cx_fail(c, "%s", c->ctx->msg);
    int64_t v[16] = {p.n,  p.c,  p.h,  p.w,  p.m,  p.oh, p.ow, p.kh,
                     p.kw, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl, p.group};
    memcpy(g, v, sizeof v);
    return MN_OK;
}

static mn_status emit_conv(cx *c, const mn_node *n, const mn_step_info *si)
{
    const mn_tensor *x = cx_t(c, n->in[0]), *w = cx_t(c, n->in[1]);
    const mn_tensor *b = opt_in(c, n, 2);
    int64_t g[16];
    char e[4][96], ab[120], k[4][24];
    int wv, wm, wr, bi = -1;
    mn_status st = conv_params(c, n, x, w, g);
    if (st != MN_OK)
        return st;
    if (b && !cx_is_const(c, n->in[2]))
        return cx_fail(c, "bias is not constant");
    size_t K = (size_t)(g[1] / g[15] * g[7] * g[8]);
    if (!cx_matrix(c, MN_DT_F32, w->data, (size_t)g[4], K, &wv, &wm, &wr))
        return MN_ERR_OOM;
    if (b)
        bi = const_f32(c, b);
    int gi = cx_geom(c, g, 16);
    act_of(c, si, ab);
    c->used[CXK_CONV_F32] = c->used[CXK_ACT] = 1;
    char xs[96];
    if (si->in_scale >= 0 && !cx_value_expr(c, si->in_scale, xs))
        return cx_fail(c, "fused input scale without a buffer");
    cx_printf(&c->body,
              "    conv_f32(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s);\n",
              cx_value_expr(c, n->in[0], e[0]),
              si->in_scale >= 0 ? xs : "NULL", cx_arr(wv, k[0]),
              cx_arr(wm, k[1]),
              cx_arr(wr, k[2]), cx_arr(bi, k[3]),
              si->residual >= 0 ? cx_value_expr(c, si->residual, e[1]) : "NULL",
              cx_value_expr(c, n->out[0], e[2]), cx_arr(gi, e[3]), ab);
    return MN_OK;
}

/* Gemm (B constant) and MatMul (B a constant matrix): weights as [J][K]. */
static mn_status emit_gemm(cx *c, const mn_node *n, const mn_step_info *si)
{
    const mn_tensor *a = cx_t(c, n->in[0]), *bt = cx_t(c, n->in[1]);
    int gemm = n->op == MN_OP_GEMM;
    /* Gemm's C, or the bias Add the session fused into a MatMul */
    const mn_tensor *ct = gemm ? opt_in(c, n, 2)
                          : si->bias >= 0 ? cx_t(c, si->bias) : NULL;
    int ta = gemm && mn_node_attr_int(n, "transA", 0) != 0;
    int tb = gemm && mn_node_attr_int(n, "transB", 0) != 0;
    float alpha = gemm ? mn_node_attr_float(n, "alpha", 1.0f) : 1.0f;
    float beta = gemm ? mn_node_attr_float(n, "beta", 1.0f) : 1.0f;
    char e[4][96], ab[120], k[4][24], fa[40];
    if (a->dtype != MN_DT_F32 || bt->dtype != MN_DT_F32)
        return cx_fail(c, "float32 only");
    if (!cx_is_const(c, n->in[1]) || bt->ndim != 2)
        return cx_fail(c, "B must be a constant matrix");
    if (ct && gemm && !cx_is_const(c, n->in[2]))
        return cx_fail(c, "C is not constant");
    int64_t K = tb ? bt->dims[1] : bt->dims[0], J = tb ? bt->dims[0] : bt->dims[1];
    int64_t R = K ? mn_tensor_numel(a) / K : 0;
    if (gemm && (a->ndim != 2 || a->dims[ta ? 0 : 1] != K))
        return cx_fail(c, "A and B do not fit");
    if (!gemm && (a->ndim < 1 || a->dims[a->ndim - 1] != K))
        return cx_fail(c, "A's last dimension is not B's first");
    float *w = mn_malloc((size_t)(J * K + 1) * sizeof *w);
    float *bias = NULL;
    int64_t brows = 0;
    int wv = -1, wm, wr, bi = -1, ok;
    if (!w)
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    const float *bd = bt->data;
    for (int64_t j = 0; j < J; j++)
        for (int64_t q = 0; q < K; q++)
            w[j * K + q] = tb ? bd[j * K + q] : bd[q * J + j];
    ok = cx_matrix(c, MN_DT_F32, w, (size_t)J, (size_t)K, &wv, &wm, &wr);
    if (ok && ct && beta != 0.0f) {
        int64_t cm = ct->ndim == 2 ? ct->dims[0] : 1;
        int64_t cn = ct->ndim >= 1 ? ct->dims[ct->ndim - 1] : 1;
        brows = cm > 1 || (cn == 1 && R > 1) ? R : 1;
        bias = mn_malloc((size_t)(brows * J + 1) * sizeof *bias);
        ok = bias != NULL;
        for (int64_t r = 0; ok && r < brows; r++)
            for (int64_t j = 0; j < J; j++)
                bias[r * J + j] = beta * ((const float *)ct->data)
                                             [(cm == 1 ? 0 : r) * cn +
                                              (cn == 1 ? 0 : j)];
        if (ok)
            ok = (bi = cx_array(c, MN_DT_F32, bias, (size_t)(brows * J))) >= 0;
    }
    free(w);
    free(bias);
    if (!ok)
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    int64_t gv[5] = {R, K, J, ta, brows};
    int gi = cx_geom(c, gv, 5);
    act_of(c, si, ab);
    c->used[CXK_GEMM_F32] = c->used[CXK_ACT] = 1;
    cx_printf(&c->body,
              "    gemm_f32(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s);\n",
              cx_value_expr(c, n->in[0], e[0]), cx_arr(wv, k[0]), cx_arr(wm, k[1]),
              cx_arr(wr, k[2]), cx_arr(bi, k[3]),
              si->residual >= 0 ? cx_value_expr(c, si->residual, e[1]) : "NULL",
              cx_value_expr(c, n->out[0], e[2]), cx_arr(gi, e[3]), cx_fl(alpha, fa),
              ab);
    return MN_OK;
}

/* Clip's bound: attribute before opset 11, else a constant input. */
static int clip_bound(cx *c, const mn_node *n, int slot, const char *attr,
                      float dflt, float *v)
{
    *v = dflt;
    if (n->opset > 0 && n->opset < 11) {
        *v = mn_node_attr_float(n, attr, dflt);
        return 1;
    }
    if (slot >= n->n_in || n->in[slot] < 0)
        return 1;
    const mn_tensor *t = cx_t(c, n->in[slot]);
    if (!cx_is_const(c, n->in[slot]) || t->dtype != MN_DT_F32 ||
        mn_tensor_numel(t) != 1)
        return 0;
    *v = *(const float *)t->data;
    return 1;
}

static mn_status emit_unary(cx *c, const mn_node *n, int gelu)
{
    mn_step_info a = {.residual = -1, .qadd_node = -1};
    char e[2][96], ab[120];
    if (cx_t(c, n->in[0])->dtype != MN_DT_F32)
        return cx_fail(c, "float32 only");
    switch (gelu ? MN_OP_GELU : n->op) {
    case MN_OP_GELU: a.act.kind = MN_FUSED_GELU; break; /* a fused chain */
    case MN_OP_RELU: a.act.kind = MN_FUSED_RELU; break;
    case MN_OP_SIGMOID: a.act.kind = MN_FUSED_SIGMOID; break;
    case MN_OP_TANH: a.act.kind = (mn_fused_act_kind)CXA_TANH; break;
    case MN_OP_LEAKYRELU:
        a.act.kind = (mn_fused_act_kind)CXA_LEAKY;
        a.act.lo = mn_node_attr_float(n, "alpha", 0.01f);
        break;
    case MN_OP_HARDSIGMOID:
        a.act.kind = MN_FUSED_HARDSIGMOID;
        a.act.lo = mn_node_attr_float(n, "alpha", 0.2f);
        a.act.hi = mn_node_attr_float(n, "beta", 0.5f);
        break;
    case MN_OP_HARDSWISH:
        a.act.kind = MN_FUSED_HARDSWISH;
        a.act.lo = 1.0f / 6.0f;
        a.act.hi = 0.5f;
        break;
    case MN_OP_SQRT: a.act.kind = (mn_fused_act_kind)CXA_SQRT; break;
    case MN_OP_ERF: a.act.kind = (mn_fused_act_kind)CXA_ERF; break;
    case MN_OP_POW: {
        const mn_tensor *e = opt_in(c, n, 1);
        if (!e || !cx_is_const(c, n->in[1]) || e->dtype != MN_DT_F32 ||
            mn_tensor_numel(e) != 1)
            return cx_fail(c, "only a constant float32 scalar exponent");
        a.act.lo = *(const float *)e->data;
        a.act.kind = (mn_fused_act_kind)(a.act.lo == 2.0f ? CXA_SQUARE
                                                          : CXA_POW);
        break;
    }
    default: /* Clip */
        a.act.kind = MN_FUSED_CLIP;
        if (!clip_bound(c, n, 1, "min", -3.402823466e38f, &a.act.lo) ||
            !clip_bound(c, n, 2, "max", 3.402823466e38f, &a.act.hi))
            return cx_fail(c, "bounds are not constant");
    }
    act_of(c, &a, ab);
    c->used[CXK_UNARY_F32] = c->used[CXK_ACT] = 1;
    cx_printf(&c->body, "    unary_f32(%s, %s, %lldL, %s);\n",
              cx_value_expr(c, n->in[0], e[0]),
              cx_value_expr(c, n->out[0], e[1]),
              (long long)mn_tensor_numel(cx_t(c, n->out[0])), ab);
    return MN_OK;
}

static mn_status emit_binary(cx *c, const mn_node *n)
{
    const mn_tensor *a = cx_t(c, n->in[0]), *b = cx_t(c, n->in[1]);
    const mn_tensor *y = cx_t(c, n->out[0]);
    int64_t p[1 + 3 * MN_MAX_DIMS];
    char e[3][96], gb[24];
    int nd = y->ndim;
    if (a->dtype != MN_DT_F32 || b->dtype != MN_DT_F32)
        return cx_fail(c, "float32 only");
    p[0] = nd;
    for (int side = 0; side < 2; side++) {
        const mn_tensor *t = side ? b : a;
        int64_t s = 1;
        for (int d = nd - 1; d >= 0; d--) {
            int td = d - (nd - t->ndim);
            int64_t dim = td >= 0 ? t->dims[td] : 1;
            p[1 + (side + 1) * nd + d] = dim == 1 ? 0 : s;
            s *= dim;
        }
    }
    for (int d = 0; d < nd; d++)
        p[1 + d] = y->dims[d];
    int gi = cx_geom(c, p, 1 + 3 * nd);
    int op = n->op == MN_OP_ADD ? 0 : n->op == MN_OP_SUB ? 1
           : n->op == MN_OP_MUL ? 2 : 3;
    c->used[CXK_BINARY_F32] = 1;
    cx_printf(&c->body, "    binary_f32(%d, %s, %s, %s, %s);\n", op,
              cx_value_expr(c, n->in[0], e[0]),
              cx_value_expr(c, n->in[1], e[1]),
              cx_value_expr(c, n->out[0], e[2]), cx_arr(gi, gb));
    return MN_OK;
}

static mn_status emit_batchnorm(cx *c, const mn_node *n)
{
    const mn_tensor *x = cx_t(c, n->in[0]);
    char e[2][96], k[3][24];
    if (n->n_in < 5 || x->dtype != MN_DT_F32 || x->ndim < 2)
        return cx_fail(c, "float32 [N,C,...] only");
    for (int i = 1; i < 5; i++)
        if (!cx_is_const(c, n->in[i]) || cx_t(c, n->in[i])->dtype != MN_DT_F32)
            return cx_fail(c, "parameters are not float32 constants");
    int64_t C = x->dims[1], inner = 1;
    for (int d = 2; d < x->ndim; d++)
        inner *= x->dims[d];
    float eps = mn_node_attr_float(n, "epsilon", 1e-5f);
    float *sc = mn_malloc((size_t)(2 * C + 1) * sizeof *sc), *sh = sc + C;
    if (!sc)
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    const float *ga = cx_t(c, n->in[1])->data, *be = cx_t(c, n->in[2])->data;
    const float *mu = cx_t(c, n->in[3])->data, *va = cx_t(c, n->in[4])->data;
    for (int64_t i = 0; i < C; i++) {
        sc[i] = ga[i] / sqrtf(va[i] + eps);
        sh[i] = be[i] - mu[i] * sc[i];
    }
    int a0 = cx_array(c, MN_DT_F32, sc, (size_t)C);
    int a1 = cx_array(c, MN_DT_F32, sh, (size_t)C);
    free(sc);
    int64_t p[3] = {x->dims[0], C, inner};
    int gi = cx_geom(c, p, 3);
    c->used[CXK_AFFINE_F32] = 1;
    cx_printf(&c->body, "    affine_f32(%s, %s, %s, %s, %s);\n",
              cx_value_expr(c, n->in[0], e[0]), cx_arr(a0, k[0]), cx_arr(a1, k[1]),
              cx_value_expr(c, n->out[0], e[1]), cx_arr(gi, k[2]));
    return MN_OK;
}

static mn_status emit_pool(cx *c, const mn_node *n)
{
    const mn_tensor *x = cx_t(c, n->in[0]);
    char e[2][96], gb[24];
    mn_window w;
    int nsp = x->ndim - 2;
    if (n->op == MN_OP_GLOBALAVGPOOL) {
        int64_t size = 1;
        if (x->dtype != MN_DT_F32 || x->ndim < 3)
            return cx_fail(c, "float32 only");
        for (int d = 2; d < x->ndim; d++)
            size *= x->dims[d];
        c->used[CXK_GAP_F32] = 1;
        cx_printf(&c->body, "    gap_f32(%s, %s, %lldL, %lldL);\n",
                  cx_value_expr(c, n->in[0], e[0]),
                  cx_value_expr(c, n->out[0], e[1]),
                  (long long)(x->dims[0] * x->dims[1]), (long long)size);
        return MN_OK;
    }
    if (nsp < 1 || nsp > 2)
        return cx_fail(c, "only 1-D and 2-D pooling");
    if (n->n_out > 1 && n->out[1] >= 0)
        return cx_fail(c, "the Indices output is not supported");
    if (mn_window_init(n, nsp, x->dims + 2, NULL, MN_WIN_CEIL, &w, c->ctx) !=
        MN_OK)
        return cx_fail(c, "%s", c->ctx->msg);
    int l = nsp == 2 ? 0 : -1; /* index of the H axis in w, -1: none */
#define AX(f, i, one) ((i) < 0 ? (one) : w.f[i])
    int64_t p[16] = {x->dims[0] * x->dims[1],
                     AX(in, l, 1), w.in[nsp - 1], AX(out, l, 1), w.out[nsp - 1],
                     AX(k, l, 1), w.k[nsp - 1], AX(s, l, 1), w.s[nsp - 1],
                     AX(d, l, 1), w.d[nsp - 1], AX(pb, l, 0), w.pb[nsp - 1],
                     AX(pe, l, 0), w.pe[nsp - 1],
                     mn_node_attr_int(n, "count_include_pad", 0) != 0};
#undef AX
    const char *fn;
    if (n->op == MN_OP_AVGPOOL) {
        if (x->dtype != MN_DT_F32)
            return cx_fail(c, "float32 only");
        c->used[CXK_AVGPOOL_F32] = 1;
        fn = "avgpool_f32";
    } else if (x->dtype == MN_DT_F32) {
        c->used[CXK_MAXPOOL_F32] = 1;
        fn = "maxpool_f32";
    } else if (x->dtype == MN_DT_I8) {
        c->used[CXK_MAXPOOL_I8] = 1;
        fn = "maxpool_i8";
    } else if (x->dtype == MN_DT_U8) {
        c->used[CXK_MAXPOOL_U8] = 1;
        fn = "maxpool_u8";
    } else {
        return cx_fail(c, "%s input", mn_dtype_name(x->dtype));
    }
    int gi = cx_geom(c, p, n->op == MN_OP_AVGPOOL ? 16 : 13);
    cx_printf(&c->body, "    %s(%s, %s, %s);\n", fn,
              cx_value_expr(c, n->in[0], e[0]),
              cx_value_expr(c, n->out[0], e[1]), cx_arr(gi, gb));
    return MN_OK;
}

static mn_status emit_concat(cx *c, const mn_node *n)
{
    const mn_tensor *y = cx_t(c, n->out[0]);
    int axis = (int)mn_node_attr_int(n, "axis", 0);
    char e[2][96];
    if (axis < 0)
        axis += y->ndim;
    int64_t outer = 1, inner = (int64_t)mn_dtype_size(y->dtype), off = 0;
    for (int d = 0; d < axis; d++)
        outer *= y->dims[d];
    for (int d = axis + 1; d < y->ndim; d++)
        inner *= y->dims[d];
    c->used[CXK_CONCAT] = 1;
    cx_value_expr(c, n->out[0], e[1]);
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] < 0)
            continue;
        int64_t chunk = cx_t(c, n->in[i])->dims[axis] * inner;
        if (!cx_value_expr(c, n->in[i], e[0]))
            return cx_fail(c, "input %d of type %s", i,
                           mn_dtype_name(cx_t(c, n->in[i])->dtype));
        cx_printf(&c->body,
                  "    concat_part((unsigned char *)%s + %lld, "
                  "(const unsigned char *)%s, %lldL, %lldL, %lldL);\n",
                  e[1], (long long)off, e[0], (long long)outer,
                  (long long)chunk, (long long)(y->dims[axis] * inner));
        off += chunk;
    }
    return MN_OK;
}

static mn_status emit_softmax(cx *c, const mn_node *n)
{
    const mn_tensor *x = cx_t(c, n->in[0]);
    int legacy = n->opset > 0 && n->opset < 13, axis;
    char e[2][96];
    if (x->dtype != MN_DT_F32 || x->ndim < 1)
        return cx_fail(c, "float32 only");
    if (mn_norm_axis(mn_node_attr_int(n, "axis", legacy ? 1 : -1), x->ndim,
                     &axis, c->ctx) != MN_OK)
        return cx_fail(c, "%s", c->ctx->msg);
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < axis)
            outer *= x->dims[i];
        else if (i == axis || legacy)
            len *= x->dims[i];
        else
            inner *= x->dims[i];
    }
    if (inner != 1)
        return cx_fail(c, "only along the last axis");
    c->used[CXK_SOFTMAX_F32] = 1;
    cx_printf(&c->body, "    softmax_f32(%s, %s, %lldL, %lldL);\n",
              cx_value_expr(c, n->in[0], e[0]),
              cx_value_expr(c, n->out[0], e[1]), (long long)outer,
              (long long)len);
    return MN_OK;
}

/* Scale and zero point arrays of a (De)QuantizeLinear; *geo gets the
 * [outer, C, inner] split. */
static mn_status qparams(cx *c, const mn_node *n, const mn_tensor *x,
                         int *sa, int *za, int *geo)
{
    const mn_tensor *s = cx_t(c, n->in[1]), *z = opt_in(c, n, 2);
    if (!cx_is_const(c, n->in[1]) || (z && !cx_is_const(c, n->in[2])))
        return cx_fail(c, "scale and zero point must be constants");
    int64_t ns = mn_tensor_numel(s), outer = 1, inner = 1;
    int axis = -1;
    if (ns > 1 && mn_norm_axis(mn_node_attr_int(n, "axis", 1), x->ndim, &axis,
                               c->ctx) != MN_OK)
        return cx_fail(c, "%s", c->ctx->msg);
    for (int d = 0; d < x->ndim; d++) {
        if (axis >= 0 && d < axis)
            outer *= x->dims[d];
        else if (d != axis)
            inner *= x->dims[d];
    }
    int32_t *zp = mn_malloc((size_t)(ns + 1) * sizeof *zp);
    if (!zp)
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    int any = 0;
    for (int64_t i = 0; i < ns; i++) {
        zp[i] = z ? (int32_t)mn_tensor_get_i64(z, i) : 0;
        any |= zp[i] != 0;
    }
    *sa = cx_array(c, MN_DT_F32, s->data, (size_t)ns);
    *za = any ? cx_array(c, MN_DT_I32, zp, (size_t)ns) : -1;
    free(zp);
    int64_t g[3] = {outer, ns, inner};
    *geo = cx_geom(c, g, 3);
    return MN_OK;
}

static mn_status emit_quant(cx *c, const mn_node *n)
{
    const mn_tensor *x = cx_t(c, n->in[0]), *y = cx_t(c, n->out[0]);
    int q = n->op == MN_OP_QUANTIZELINEAR, sa = -1, za = -1, gi = -1;
    const mn_tensor *qt = q ? y : x;
    char e[2][96], k[3][24];
    if ((q ? x : y)->dtype != MN_DT_F32 ||
        (qt->dtype != MN_DT_I8 && qt->dtype != MN_DT_U8))
        return cx_fail(c, "only float32 <-> int8/uint8");
    mn_status st = qparams(c, n, x, &sa, &za, &gi);
    if (st != MN_OK)
        return st;
    c->used[q ? CXK_QUANT : CXK_DEQUANT] = 1;
    c->used[q ? CXK_RINT : CXK_LD8] = c->used[CXK_LD8] = 1;
    if (q)
        cx_printf(&c->body, "    quant_f32(%s, %s, %d, %s, %s, %s);\n",
                  cx_value_expr(c, n->in[0], e[0]),
                  cx_value_expr(c, n->out[0], e[1]), qt->dtype == MN_DT_I8,
                  cx_arr(sa, k[0]), cx_arr(za, k[1]), cx_arr(gi, k[2]));
    else
        cx_printf(&c->body, "    dequant_f32(%s, %d, %s, %s, %s, %s);\n",
                  cx_value_expr(c, n->in[0], e[0]), qt->dtype == MN_DT_I8,
                  cx_value_expr(c, n->out[0], e[1]), cx_arr(sa, k[0]),
                  cx_arr(za, k[1]), cx_arr(gi, k[2]));
    return MN_OK;
}

/* One scalar of an optional constant as int32 (0 when absent). */
static int32_t zp_of(const mn_tensor *t)
{
    return t ? (int32_t)mn_tensor_get_i64(t, 0) : 0;
}

/* Per-row weight zero points as an array, or -1 when all are zero. */
static int row_zps(cx *c, const mn_tensor *z, int64_t rows, int *any)
{
    int32_t *v = mn_malloc((size_t)(rows + 1) * sizeof *v);
    int64_t nz = z ? mn_tensor_numel(z) : 0;
    *any = 0;
    if (!v)
        return -2;
    for (int64_t i = 0; i < rows; i++) {
        v[i] = z ? (int32_t)mn_tensor_get_i64(z, nz > 1 ? i : 0) : 0;
        *any |= v[i] != 0;
    }
    int id = *any ? cx_array(c, MN_DT_I32, v, (size_t)rows) : -1;
    free(v);
    return id;
}

/* mult[j] = a_scale · w_scale[j] / y_scale in float32, exactly as
 * src/ops/qconv.c and qmatmul.c compute it. */
static int mults(cx *c, float as, const mn_tensor *ws, float ys, int64_t rows)
{
    float *m = mn_malloc((size_t)(rows + 1) * sizeof *m);
    int64_t nw = mn_tensor_numel(ws);
    if (!m)
        return -1;
    for (int64_t j = 0; j < rows; j++) {
        float prod = as * ((const float *)ws->data)[nw > 1 ? j : 0];
        m[j] = prod / ys;
    }
    int id = cx_array(c, MN_DT_F32, m, (size_t)rows);
    free(m);
    return id;
}

static mn_status emit_qlinear(cx *c, const mn_node *n)
{
    int conv = n->op == MN_OP_QLINEARCONV, any, wv, wm = -1, wr = -1;
    const mn_tensor *x = cx_t(c, n->in[0]), *w = cx_t(c, n->in[3]);
    const mn_tensor *y = cx_t(c, n->out[0]), *b = conv ? opt_in(c, n, 8) : NULL;
    char e[2][96], k[8][24];
    for (int i = 1; i < n->n_in; i++)
        if (n->in[i] >= 0 && !cx_is_const(c, n->in[i]))
            return cx_fail(c, "input %d is not constant", i);
    if (mn_tensor_numel(cx_t(c, n->in[1])) != 1 ||
        mn_tensor_numel(cx_t(c, n->in[6])) != 1)
        return cx_fail(c, "only per-tensor input and output scales");
    if (n->in[2] >= 0 && mn_tensor_numel(cx_t(c, n->in[2])) != 1)
        return cx_fail(c, "only a per-tensor input zero point");
    int64_t g[16], rows, K, R = 0;
    const void *wd = w->data;
    uint8_t *wt = NULL;
    if (conv) {
        mn_status st = conv_params(c, n, x, w, g);
        if (st != MN_OK)
            return st;
        rows = g[4];
        K = g[1] / g[15] * g[7] * g[8];
    } else {
        if (w->ndim != 2 || x->ndim < 1 || x->dims[x->ndim - 1] != w->dims[0])
            return cx_fail(c, "b must be a constant [K,N] matrix");
        K = w->dims[0];
        rows = w->dims[1];
        R = mn_tensor_numel(x) / (K ? K : 1);
        wt = mn_malloc((size_t)(K * rows + 1));
        if (!wt)
            return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
        for (int64_t j = 0; j < rows; j++)
            for (int64_t q = 0; q < K; q++)
                wt[j * K + q] = ((const uint8_t *)w->data)[q * rows + j];
        wd = wt;
    }
    int za = row_zps(c, opt_in(c, n, 5), rows, &any);
    int saved = c->dense;
    c->dense |= any; /* a zero weight only drops out when its zp is 0 */
    int ok = za > -2 && cx_matrix(c, w->dtype, wd, (size_t)rows, (size_t)K,
                                  &wv, &wm, &wr);
    c->dense = saved;
    free(wt);
    int ma = ok ? mults(c, *(const float *)cx_t(c, n->in[1])->data, cx_t(c, n->in[4]),
                        *(const float *)cx_t(c, n->in[6])->data, rows) : -1;
    if (!ok || ma < 0)
        return mn_error(c->ctx, MN_ERR_OOM, "out of memory");
    int sg = (x->dtype == MN_DT_I8) | (w->dtype == MN_DT_I8) << 1 |
             (y->dtype == MN_DT_I8) << 2;
    int32_t xz = zp_of(opt_in(c, n, 2)), yz = zp_of(opt_in(c, n, 7));
    c->used[CXK_LD8] = c->used[CXK_RINT] = c->used[CXK_REQUANT] = 1;
    if (conv) {
        int bi = b ? cx_array(c, MN_DT_I32, b->data, (size_t)rows) : -1;
        int gi = cx_geom(c, g, 16);
        c->used[CXK_QCONV] = 1;
        cx_printf(&c->body,
                  "    qconv(%s, %ld, %s, %s, %s, %s, %s, %s, %ld, %s, %d, "
                  "%s);\n",
                  cx_value_expr(c, n->in[0], e[0]), (long)xz, cx_arr(wv, k[0]),
                  cx_arr(za, k[1]), cx_arr(wm, k[2]), cx_arr(wr, k[3]), cx_arr(bi, k[4]),
                  cx_arr(ma, k[5]), (long)yz, cx_value_expr(c, n->out[0], e[1]),
                  sg, cx_arr(gi, k[6]));
    } else {
        int64_t gv[3] = {R, K, rows};
        int gi = cx_geom(c, gv, 3);
        c->used[CXK_QGEMM] = 1;
        cx_printf(&c->body,
                  "    qgemm(%s, %ld, %s, %s, %s, %s, %s, %ld, %s, %d, %s);\n",
                  cx_value_expr(c, n->in[0], e[0]), (long)xz, cx_arr(wv, k[0]),
                  cx_arr(za, k[1]), cx_arr(wm, k[2]), cx_arr(wr, k[3]), cx_arr(ma, k[5]),
                  (long)yz, cx_value_expr(c, n->out[0], e[1]), sg,
                  cx_arr(gi, k[6]));
    }
    return MN_OK;
}

mn_status cx_emit_step(cx *c, const mn_step_info *si)
{
    const mn_node *n = &c->g->nodes[si->node];
    char e[2][96];
    c->cur_node = si->node;
    c->calls++;
    if (si->runs_gelu) /* GELU's erf chain, fused by the session */
        return emit_unary(c, n, 1);
    for (int j = 1; j < n->n_out; j++)
        if (n->out[j] >= 0 && mn_graph_use_count(c->g, n->out[j]) > 0)
            return cx_fail(c, "op %s with output %d in use is not "
                              "supported by the C backend", n->op_type, j);
    switch (n->op) {
    case MN_OP_CONV: return emit_conv(c, n, si);
    case MN_OP_GEMM:
    case MN_OP_MATMUL: return emit_gemm(c, n, si);
    case MN_OP_RELU:
    case MN_OP_LEAKYRELU:
    case MN_OP_CLIP:
    case MN_OP_SIGMOID:
    case MN_OP_HARDSIGMOID:
    case MN_OP_HARDSWISH:
    case MN_OP_TANH:
    case MN_OP_SQRT:
    case MN_OP_ERF:
    case MN_OP_POW: return emit_unary(c, n, 0);
    case MN_OP_ADD:
    case MN_OP_SUB:
    case MN_OP_MUL:
    case MN_OP_DIV: return emit_binary(c, n);
    case MN_OP_BATCHNORM: return emit_batchnorm(c, n);
    case MN_OP_MAXPOOL:
    case MN_OP_AVGPOOL:
    case MN_OP_GLOBALAVGPOOL: return emit_pool(c, n);
    case MN_OP_CONCAT: return emit_concat(c, n);
    case MN_OP_SOFTMAX: return emit_softmax(c, n);
    case MN_OP_QUANTIZELINEAR:
    case MN_OP_DEQUANTIZELINEAR: return emit_quant(c, n);
    case MN_OP_QLINEARCONV:
    case MN_OP_QLINEARMATMUL: return emit_qlinear(c, n);
    case MN_OP_FLATTEN:
    case MN_OP_RESHAPE:
    case MN_OP_SQUEEZE:
    case MN_OP_UNSQUEEZE:
    case MN_OP_IDENTITY:
    case MN_OP_DROPOUT: /* a view the session could not alias: copy */
        cx_printf(&c->body, "    memcpy(%s, %s, %zu);\n",
                  cx_value_expr(c, n->out[0], e[0]),
                  cx_value_expr(c, n->in[0], e[1]),
                  mn_tensor_nbytes(cx_t(c, n->out[0])));
        return MN_OK;
    default:
        return cx_emit_extra(c, n);
    }
}
