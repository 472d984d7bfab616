/* Model statistics: parameters, non-zeros, MACs per layer and in total, and
 * the planned arena, at batch 1.
 *
 * Definitions (the CLI contract, ../docs/cli.md): MACs are multiply-
 * accumulates of Conv, ConvTranspose, Gemm, MatMul and their integer and
 * quantized forms; nothing else is counted. Params are the elements of the
 * weight and bias initializers feeding a node; shape/index tensors (int64),
 * quantization scales and zero points, Clip bounds and scalar constants of
 * elementwise formulas are not parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/session.h"
#include "ops/ops.h"

static int is_param_input(const mn_node *n, int j, const mn_tensor *t)
{
    if (t->dtype == MN_DT_I64 || t->dtype == MN_DT_BOOL)
        return 0;
    switch (n->op) {
    case MN_OP_QUANTIZELINEAR:
    case MN_OP_DEQUANTIZELINEAR:
        return j == 0; /* quantized weights enter through DQ input 0 */
    case MN_OP_QLINEARCONV:
        return j == 3 || j == 8; /* w, bias */
    case MN_OP_QLINEARMATMUL:
        return j == 3;
    case MN_OP_CONVINTEGER:
    case MN_OP_MATMULINTEGER:
        return j == 0 || j == 1;
    case MN_OP_RESHAPE:
    case MN_OP_SLICE:
    case MN_OP_PAD:
    case MN_OP_CLIP:
    case MN_OP_EXPAND:
    case MN_OP_SQUEEZE:
    case MN_OP_UNSQUEEZE:
    case MN_OP_SPLIT:
    case MN_OP_GATHER:
    case MN_OP_REDUCEMEAN:
    case MN_OP_REDUCESUM:
    case MN_OP_REDUCEMAX:
    case MN_OP_CONSTANTOFSHAPE:
        return j == 0 && n->op == MN_OP_GATHER; /* embedding tables */
    case MN_OP_ADD:
    case MN_OP_SUB:
    case MN_OP_MUL:
    case MN_OP_DIV:
    case MN_OP_POW:
    case MN_OP_MAX:
    case MN_OP_MIN:
        /* a scalar here is a constant of a formula (GELU's 0.5, an epsilon),
         * a tensor is a learned bias or layer scale */
        return mn_tensor_numel(t) > 1;
    default:
        return 1;
    }
}

static int64_t count_nonzero(const mn_tensor *t)
{
    int64_t n = mn_tensor_numel(t), nz = 0;
    size_t es = mn_dtype_size(t->dtype);
    const unsigned char *p = t->data;
    if (mn_dtype_bits(t->dtype) == 4) { /* two per byte, low nibble first */
        for (int64_t i = 0; i < n; i++)
            nz += ((p[i >> 1] >> (i & 1 ? 4 : 0)) & 15) != 0;
        return nz;
    }
    for (int64_t i = 0; i < n; i++) {
        int z = 1;
        for (size_t b = 0; b < es; b++)
            if (p[(size_t)i * es + b]) {
                z = 0;
                break;
            }
        /* -0.0 is zero too */
        if (!z && t->dtype == MN_DT_F32 && ((const float *)t->data)[i] == 0.0f)
            z = 1;
        nz += !z;
    }
    return nz;
}

static int64_t node_macs(const mn_node *n, const mn_session *s)
{
    const mn_tensor *y = n->n_out > 0 ? mn_session_value(s, n->out[0]) : NULL;
    const mn_tensor *x, *w;
    if (!y)
        return 0;
    switch (n->op) {
    case MN_OP_CONV:
    case MN_OP_CONVINTEGER:
    case MN_OP_QLINEARCONV: {
        int wi = n->op == MN_OP_QLINEARCONV ? 3 : 1;
        if (n->n_in <= wi || n->in[wi] < 0)
            return 0;
        w = mn_session_value(s, n->in[wi]);
        int64_t per_out = 1;
        for (int k = 1; k < w->ndim; k++)
            per_out *= w->dims[k]; /* Cin/group × kernel */
        return mn_tensor_numel(y) * per_out;
    }
    case MN_OP_GEMM: {
        x = mn_session_value(s, n->in[0]);
        int64_t k = mn_node_attr_int(n, "transA", 0) ? x->dims[0] : x->dims[1];
        return mn_tensor_numel(y) * k;
    }
    case MN_OP_MATMUL:
    case MN_OP_MATMULINTEGER:
    case MN_OP_QLINEARMATMUL: {
        x = mn_session_value(s, n->in[0]);
        int64_t k = x->ndim > 0 ? x->dims[x->ndim - 1] : 1;
        return mn_tensor_numel(y) * k;
    }
    default:
        return 0;
    }
}

/* Scalar i of a constant input j of node n as a double; 0 when absent. */
static double const_at(const mn_graph *g, const mn_node *n, int j, int64_t i)
{
    const mn_tensor *t;
    if (j >= n->n_in || n->in[j] < 0 || !(t = g->values[n->in[j]].init) ||
        i >= mn_tensor_numel(t))
        return 0.0;
    return mn_tensor_get_f64(t, i);
}

/* The quantization parameters of a QLinearConv / QLinearMatMul (inputs x,
 * x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp). */
static void quant_params(const mn_graph *g, const mn_node *n,
                         mn_layer_stats *L)
{
    const mn_tensor *ws;
    if ((n->op != MN_OP_QLINEARCONV && n->op != MN_OP_QLINEARMATMUL) ||
        n->n_in < 8 || n->in[4] < 0 || !(ws = g->values[n->in[4]].init))
        return;
    L->quant = 1;
    L->x_scale = (float)const_at(g, n, 1, 0);
    L->x_zero_point = (int32_t)const_at(g, n, 2, 0);
    L->y_scale = (float)const_at(g, n, 6, 0);
    L->y_zero_point = (int32_t)const_at(g, n, 7, 0);
    L->w_scales = (int)mn_tensor_numel(ws);
    for (int64_t i = 0; i < mn_tensor_numel(ws); i++) {
        float s = (float)mn_tensor_get_f64(ws, i);
        if (i == 0 || s < L->w_scale_min)
            L->w_scale_min = s;
        if (i == 0 || s > L->w_scale_max)
            L->w_scale_max = s;
    }
}

/* Bytes of every constant, in total and by dtype. */
static void weight_bytes(const mn_graph *g, mn_model_stats *out)
{
    for (int v = 0; v < g->n_values; v++) {
        const mn_tensor *t = g->values[v].init;
        int k = 0;
        if (!t)
            continue;
        out->weight_bytes += (int64_t)mn_tensor_nbytes(t);
        while (k < out->n_weight_kinds && out->weight_kinds[k].dtype != t->dtype)
            k++;
        if (k == out->n_weight_kinds) {
            if (k == MN_STATS_MAX_WKINDS)
                continue;
            out->weight_kinds[out->n_weight_kinds++].dtype = t->dtype;
        }
        out->weight_kinds[k].bytes += (int64_t)mn_tensor_nbytes(t);
    }
}

mn_status mn_model_stats_compute(const mn_graph *g, mn_model_stats *out,
                                 mn_ctx *ctx)
{
    mn_session *s = NULL;
    mn_session_opts o = {.batch = 1, .threads = 1};
    mn_status st;
    memset(out, 0, sizeof *out);
    st = mn_session_create(g, &o, &s, ctx);
    if (st != MN_OK)
        return st;
    out->layers = mn_calloc((size_t)(g->n_nodes + 1), sizeof *out->layers);
    if (!out->layers) {
        mn_session_destroy(s);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    out->nodes = g->n_nodes;
    out->arena_bytes = (int64_t)mn_session_arena_bytes(s);
    weight_bytes(g, out);
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_node *n = &g->nodes[i];
        mn_layer_stats L;
        memset(&L, 0, sizeof L);
        L.dtype = MN_DT_UNDEF;
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v < 0 || !g->values[v].init)
                continue;
            const mn_tensor *t = g->values[v].init;
            if (!is_param_input(n, j, t))
                continue;
            L.params += mn_tensor_numel(t);
            L.nonzero_params += count_nonzero(t);
            if (L.dtype == MN_DT_UNDEF)
                L.dtype = t->dtype;
        }
        L.macs = node_macs(n, s);
        if (!L.params && !L.macs)
            continue;
        if (L.dtype == MN_DT_UNDEF && n->n_out > 0 && n->out[0] >= 0)
            L.dtype = mn_session_value(s, n->out[0])->dtype;
        snprintf(L.name, sizeof L.name, "%s",
                 n->name[0] ? n->name : g->values[n->out[0]].name);
        snprintf(L.op, sizeof L.op, "%s", n->op_type);
        quant_params(g, n, &L);
        const char *kern = mn_session_node_kernel(s, i);
        snprintf(L.kernel, sizeof L.kernel, "%s", kern ? kern : "");
        out->params += L.params;
        out->nonzero_params += L.nonzero_params;
        out->macs += L.macs;
        out->layers[out->n_layers++] = L;
    }
    mn_session_destroy(s);
    return MN_OK;
}

void mn_model_stats_free(mn_model_stats *st)
{
    if (!st)
        return;
    free(st->layers);
    st->layers = NULL;
    st->n_layers = 0;
}
