/* Static int8 quantization in QDQ form (the standard ONNX representation
 * that ONNX Runtime fuses into integer kernels, and lower.c turns into
 * QLinearConv for minnow's own runtime).
 *
 * Which tensors are quantized: the activation input and the output of every
 * quantizable layer (Conv, Gemm, MatMul with constant weights, a MatMul's
 * bias Add included). A ReLU or Clip(lo ≤ 0 ≤ hi) that is the only reader of
 * a quantized tensor is absorbed: its output range is calibrated and the
 * QuantizeLinear goes on its input, which is exact because saturation then
 * does the clipping. Data-movement ops that run on quantized data unchanged
 * (MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Identity) pass
 * their input's parameters through, so they need no requantization.
 *
 * Weights: int8, symmetric [-127, 127], one scale per output channel (or
 * per tensor); biases int32 with scale x_scale · w_scale and zero point 0.
 *
 * int16x8 (mode MN_QUANT_INT16X8): the same with int16 activations,
 * symmetric (zero point 0); their QuantizeLinear/DequantizeLinear are in the
 * com.microsoft domain (ai.onnx has int16 only from opset 21), biases stay
 * float, and nothing is lowered (there is no int16 QLinearConv): minnow and
 * ONNX Runtime run the layers in float between 16-bit Q/DQ. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ops/ops.h"
#include "core/passes.h"
#include "quant/lower.h"
#include "quant/quant.h"

enum { ROLE_NONE = 0, ROLE_OBSERVE = 1, ROLE_INHERIT = 2 };

typedef struct qdq {
    mn_graph *g;
    const mn_quant_opts *o;
    mn_dtype qt;
    int nv;
    char *role;
    int *src;          /* ROLE_INHERIT: the value whose parameters it takes */
    int *place;        /* where the QuantizeLinear reads (absorbed act.) */
    int *obs_of;       /* ROLE_OBSERVE: observer index */
    float *scale;      /* per value (ROLE_OBSERVE) */
    int32_t *zp;
    int *sc_idx, *zp_idx; /* initializer values, created on demand */
    mn_qlayer *layers;
    char *is_layer;
    int *bias_add;     /* MatMul layer → its bias Add node, or -1 */
} qdq;

/* Relu, or Clip with constant bounds lo ≤ 0 ≤ hi. */
static int is_absorbable(const mn_graph *g, const mn_node *n)
{
    float lo = -INFINITY, hi = INFINITY;
    if (n->op == MN_OP_RELU)
        return 1;
    if (n->op != MN_OP_CLIP)
        return 0;
    if (n->opset < 11) {
        lo = mn_node_attr_float(n, "min", -INFINITY);
        hi = mn_node_attr_float(n, "max", INFINITY);
    } else {
        for (int k = 1; k < n->n_in && k < 3; k++) {
            int v = n->in[k];
            const mn_tensor *t;
            if (v < 0)
                continue;
            t = g->values[v].init;
            if (!t || t->dtype != MN_DT_F32 || mn_tensor_numel(t) != 1)
                return 0;
            *(k == 1 ? &lo : &hi) = *(const float *)t->data;
        }
    }
    return lo <= 0 && hi >= 0;
}

static int is_activation(const mn_graph *g, int v)
{
    const mn_value *val = &g->values[v];
    return !val->init && (val->dtype == MN_DT_F32 || val->dtype == MN_DT_UNDEF);
}

static void mark(qdq *q, int t)
{
    mn_graph *g = q->g;
    int p;
    if (t < 0 || q->role[t] != ROLE_NONE || !is_activation(g, t))
        return;
    p = g->values[t].producer;
    if (p >= 0 && mn_q_is_pass_op(&g->nodes[p]) && g->nodes[p].in[0] >= 0 &&
        is_activation(g, g->nodes[p].in[0])) {
        q->role[t] = ROLE_INHERIT;
        q->src[t] = g->nodes[p].in[0];
        mark(q, q->src[t]);
        return;
    }
    q->role[t] = ROLE_OBSERVE;
    q->place[t] = t;
    /* absorbing relies on the zero point sitting at the type's minimum;
     * symmetric int16 keeps negatives, so the activation stays */
    if (p >= 0 && !g->values[t].is_output && q->qt != MN_DT_I16 &&
        is_absorbable(g, &g->nodes[p])) {
        int u = g->nodes[p].in[0];
        if (u >= 0 && is_activation(g, u) && !g->values[u].is_input &&
            q->role[u] == ROLE_NONE && mn_q_sole_reader(g, u) == p)
            q->place[t] = u;
    }
}

/* Marks output v of an op, or the output of its only reader when that is
 * an absorbable Relu/Clip (the QuantizeLinear then goes on v). */
static void mark_out(qdq *q, int v)
{
    int r = mn_q_sole_reader(q->g, v);
    if (r >= 0 && is_absorbable(q->g, &q->g->nodes[r]))
        v = q->g->nodes[r].out[0];
    mark(q, v);
}

static int out_marked(const qdq *q, int v)
{
    int r = mn_q_sole_reader(q->g, v);
    if (r >= 0 && is_absorbable(q->g, &q->g->nodes[r]) &&
        q->role[q->g->nodes[r].out[0]] != ROLE_NONE)
        return 1;
    return q->role[v] != ROLE_NONE;
}

/* Node ni has an integer form in lower_elementwise.c: its activation
 * inputs go to in[] (*k of them). x · Sigmoid(x) counts as one op on x; a
 * Relu/Clip absorbed into its input's quantization is none. */
static int int_form(const qdq *q, int ni, int *in, int *k)
{
    const mn_graph *g = q->g;
    const mn_node *n = &g->nodes[ni];
    int x, gate, r, v = n->n_out >= 1 ? n->out[0] : -1;
    *k = 0;
    if (v < 0 || !is_activation(g, v) || mn_q_keep_float(g, q->o, ni))
        return 0;
    if (n->op == MN_OP_MUL && mn_ql_gated(g, ni, &x, &gate)) {
        in[(*k)++] = x;
        return is_activation(g, x);
    }
    if (mn_ql_gelu_member(g, ni, &r) && r != ni)
        return 0; /* inside GELU's chain: one table at its end */
    r = mn_q_sole_reader(g, v);
    if (r >= 0 && mn_ql_gated(g, r, &x, &gate) && gate == ni)
        return 0;
    if (q->role[v] == ROLE_OBSERVE && q->place[v] != v)
        return 0; /* absorbed activation */
    switch (n->op) {
    case MN_OP_ADD: case MN_OP_MUL: case MN_OP_CONCAT:
        if ((n->op != MN_OP_CONCAT && n->n_in != 2) || n->n_in > 64)
            return 0;
        break;
    case MN_OP_GLOBALAVGPOOL: break;
    default:
        if (!mn_ql_has_int_unary(g, n))
            return 0;
    }
    for (int j = 0; j < n->n_in && (j == 0 || n->op == MN_OP_ADD ||
                                    n->op == MN_OP_MUL ||
                                    n->op == MN_OP_CONCAT); j++) {
        if (n->in[j] < 0 || !is_activation(g, n->in[j]))
            return 0;
        in[(*k)++] = n->in[j];
    }
    return *k > 0;
}

/* Quantizes the inputs and output of every op with an integer form that
 * touches a quantized tensor, until nothing changes, so lowering can run
 * residual Adds, SE gates, pooling, concatenation and activations on 8-bit
 * tensors. */
static void extend_int_ops(qdq *q)
{
    int in[64], k, changed = 1;
    while (changed) {
        changed = 0;
        for (int ni = 0; ni < q->g->n_nodes; ni++) {
            int v, any, all;
            if (!int_form(q, ni, in, &k))
                continue;
            v = q->g->nodes[ni].out[0];
            any = all = out_marked(q, v);
            for (int j = 0; j < k; j++) {
                any |= q->role[in[j]] != ROLE_NONE;
                all &= q->role[in[j]] != ROLE_NONE;
            }
            if (!any || all)
                continue;
            for (int j = 0; j < k; j++)
                mark(q, in[j]);
            mark_out(q, v);
            changed = 1;
        }
    }
}

/* A MatMul's bias: its only reader is an Add of a float constant with one
 * value per output column. Returns the Add's node index or -1. */
static int find_bias_add(const mn_graph *g, int ni)
{
    int v = g->nodes[ni].out[0], r = mn_q_sole_reader(g, v);
    const mn_node *a;
    const mn_tensor *w = g->values[g->nodes[ni].in[1]].init, *b;
    int other;
    if (r < 0 || g->nodes[r].op != MN_OP_ADD || g->nodes[r].n_in != 2)
        return -1;
    a = &g->nodes[r];
    other = a->in[0] == v ? a->in[1] : a->in[0];
    if (other < 0 || other == v || !g->values[other].init)
        return -1;
    b = g->values[other].init;
    if (b->dtype != MN_DT_F32 || b->ndim < 1 ||
        b->dims[b->ndim - 1] != w->dims[1] ||
        mn_tensor_numel(b) != w->dims[1])
        return -1;
    return r;
}

static int root_of(const qdq *q, int t)
{
    while (q->role[t] == ROLE_INHERIT)
        t = q->src[t];
    return t;
}

/* Scale and zero-point initializers of root value r, made once. */
static mn_status params_of(qdq *q, int r, int *sc, int *zp, mn_ctx *ctx)
{
    mn_status st;
    if (q->sc_idx[r] < 0) {
        char base[300];
        int32_t z = q->zp[r];
        unsigned char zb[2];
        snprintf(base, sizeof base, "%s_scale", q->g->values[r].name);
        if ((st = mn_q_add_const(q->g, base, MN_DT_F32, 0, NULL, &q->scale[r],
                                 &q->sc_idx[r], ctx)) != MN_OK)
            return st;
        if (q->qt == MN_DT_I16) {
            int16_t h = (int16_t)z;
            memcpy(zb, &h, sizeof h);
        } else if (q->qt == MN_DT_I8) {
            zb[0] = (uint8_t)(int8_t)z;
        } else {
            zb[0] = (uint8_t)z;
        }
        snprintf(base, sizeof base, "%s_zero_point", q->g->values[r].name);
        if ((st = mn_q_add_const(q->g, base, q->qt, 0, NULL, zb,
                                 &q->zp_idx[r], ctx)) != MN_OK)
            return st;
    }
    *sc = q->sc_idx[r];
    *zp = q->zp_idx[r];
    return MN_OK;
}

/* An activation QuantizeLinear / DequantizeLinear. 16-bit ones go into
 * ONNX Runtime's com.microsoft domain (ai.onnx has int16 only from opset
 * 21); they are the same operators, so the node runs minnow's. */
static mn_status act_node(qdq *q, const char *base, const char *op,
                          const int *in, int out, mn_ctx *ctx)
{
    int node;
    mn_status st;
    if (q->qt != MN_DT_I16)
        return mn_q_add_node(q->g, base, op, in, 3, &out, 1, NULL, ctx);
    st = mn_graph_add_node(q->g, base, op, "com.microsoft", 1, in, 3, &out, 1,
                           &node, ctx);
    if (st == MN_OK)
        q->g->nodes[node].op = mn_op_lookup("", op);
    return st;
}

/* Q/DQ pair for logical tensor t (readers of t then read the DQ output). */
static mn_status insert_pair(qdq *q, int t, mn_ctx *ctx)
{
    mn_graph *g = q->g;
    int u = q->role[t] == ROLE_INHERIT ? t : q->place[t];
    int r = root_of(q, t), sc, zp, uq, udq, in[3], pre = -1;
    char base[300];
    mn_status st;
    if ((st = params_of(q, r, &sc, &zp, ctx)) != MN_OK)
        return st;
    snprintf(base, sizeof base, "%s_quantized", g->values[u].name);
    if ((st = mn_q_add_value(g, base, q->qt, u, &uq, ctx)) != MN_OK)
        return st;
    if (g->values[t].is_output) {
        /* keep the output's name on the DequantizeLinear: the producer
         * writes a fresh value that the QuantizeLinear reads */
        int p = g->values[t].producer;
        snprintf(base, sizeof base, "%s_float", g->values[t].name);
        if ((st = mn_q_add_value(g, base, MN_DT_F32, t, &pre, ctx)) != MN_OK)
            return st;
        if (p < 0)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "graph output '%s' is a graph input",
                            g->values[t].name);
        for (int j = 0; j < g->nodes[p].n_out; j++)
            if (g->nodes[p].out[j] == t)
                g->nodes[p].out[j] = pre;
        g->values[pre].producer = p;
        udq = t;
        u = pre;
    } else {
        snprintf(base, sizeof base, "%s_dequantized", g->values[u].name);
        if ((st = mn_q_add_value(g, base, MN_DT_F32, u, &udq, ctx)) != MN_OK)
            return st;
        mn_graph_replace_uses(g, t, udq);
    }
    in[0] = u, in[1] = sc, in[2] = zp;
    snprintf(base, sizeof base, "%s_QuantizeLinear", g->values[u].name);
    if ((st = act_node(q, base, "QuantizeLinear", in, uq, ctx)) != MN_OK)
        return st;
    in[0] = uq;
    snprintf(base, sizeof base, "%s_DequantizeLinear", g->values[u].name);
    return act_node(q, base, "DequantizeLinear", in, udq, ctx);
}

/* Per-channel (or per-tensor) symmetric int8 weights of layer ni; the
 * weight scales go to *ws (caller frees), their count to *nws. */
static mn_status quantize_weight(qdq *q, int ni, float **ws, int64_t *nws,
                                 mn_ctx *ctx)
{
    mn_graph *g = q->g;
    const mn_qlayer *l = &q->layers[ni];
    int wv = g->nodes[ni].in[l->w_slot], out;
    mn_tensor *wq = NULL;
    int8_t *zeros = NULL;
    float *s = NULL;
    int64_t c = 0;
    mn_status st = mn_q_weight_sym(g->values[wv].init, l->w_axis,
                                   q->o->per_tensor, 127, 0, &wq, &s, &c, ctx);
    if (st != MN_OK)
        return st;
    zeros = mn_calloc((size_t)c, 1);
    if (!zeros) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    if ((st = mn_q_dq_const(g, g->values[wv].name, wq, s, zeros, c, l->w_axis,
                            &out, ctx)) != MN_OK)
        goto out;
    g->nodes[ni].in[l->w_slot] = out;
    *ws = s;
    *nws = c;
    s = NULL;
out:
    free(s);
    free(zeros);
    mn_tensor_destroy(wq);
    return st;
}

/* int32 bias of node bn's input slot with scale xs · ws[c]. */
static mn_status quantize_bias(qdq *q, int bn, int slot, float xs,
                               const float *ws, int64_t nws, mn_ctx *ctx)
{
    mn_graph *g = q->g;
    int bv = g->nodes[bn].in[slot], out;
    const mn_tensor *b = g->values[bv].init;
    int64_t n = mn_tensor_numel(b);
    float *bs = mn_malloc((size_t)n * sizeof *bs);
    mn_tensor *bq = NULL;
    mn_status st;
    if (!bs)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if ((st = mn_tensor_create(MN_DT_I32, b->ndim, b->dims, &bq, ctx)) != MN_OK)
        goto out;
    for (int64_t k = 0; k < n; k++) {
        double v;
        bs[k] = xs * ws[nws > 1 ? k : 0];
        v = rint((double)((const float *)b->data)[k] / (double)bs[k]);
        if (!(v == v))
            v = 0;
        ((int32_t *)bq->data)[k] = v > 2147483647.0    ? INT32_MAX
                                   : v < -2147483648.0 ? INT32_MIN
                                                       : (int32_t)v;
    }
    if ((st = mn_q_dq_const(g, g->values[bv].name, bq, bs, NULL,
                            nws > 1 ? n : 1, b->ndim - 1, &out, ctx)) !=
        MN_OK)
        goto out;
    g->nodes[bn].in[slot] = out;
out:
    free(bs);
    mn_tensor_destroy(bq);
    return st;
}

static void qdq_free(qdq *q)
{
    free(q->role);
    free(q->src);
    free(q->place);
    free(q->obs_of);
    free(q->scale);
    free(q->zp);
    free(q->sc_idx);
    free(q->zp_idx);
    free(q->layers);
    free(q->is_layer);
    free(q->bias_add);
}

static mn_status qdq_alloc(qdq *q, mn_ctx *ctx)
{
    size_t nv = (size_t)q->nv + 1, nn = (size_t)q->g->n_nodes + 1;
    q->role = mn_calloc(nv, 1);
    q->src = mn_malloc(nv * sizeof *q->src);
    q->place = mn_malloc(nv * sizeof *q->place);
    q->obs_of = mn_malloc(nv * sizeof *q->obs_of);
    q->scale = mn_calloc(nv, sizeof *q->scale);
    q->zp = mn_calloc(nv, sizeof *q->zp);
    q->sc_idx = mn_malloc(nv * sizeof *q->sc_idx);
    q->zp_idx = mn_malloc(nv * sizeof *q->zp_idx);
    q->layers = mn_calloc(nn, sizeof *q->layers);
    q->is_layer = mn_calloc(nn, 1);
    q->bias_add = mn_malloc(nn * sizeof *q->bias_add);
    if (!q->role || !q->src || !q->place || !q->obs_of || !q->scale ||
        !q->zp || !q->sc_idx || !q->zp_idx || !q->layers || !q->is_layer ||
        !q->bias_add)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (size_t v = 0; v < nv; v++)
        q->src[v] = q->place[v] = q->obs_of[v] = q->sc_idx[v] = q->zp_idx[v] =
            -1;
    for (size_t i = 0; i < nn; i++)
        q->bias_add[i] = -1;
    return MN_OK;
}

/* Calibrates every ROLE_OBSERVE value and sets its scale / zero point. */
static mn_status calibrate(qdq *q, mn_quant_report *rep, mn_ctx *ctx)
{
    const mn_quant_opts *o = q->o;
    int n = 0, *vals = NULL;
    mn_observer *obs = NULL;
    mn_calib_run run = {.spec = o->calib_spec, .count = o->calib_count,
                        .batch = o->batch, .threads = o->threads,
                        .data = o->data};
    mn_calib_cfg cfg = {.method = o->method, .percentile = o->percentile,
                        .qt = q->qt};
    mn_status st = MN_OK;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int v = 0; v < q->nv; v++)
        n += q->role[v] == ROLE_OBSERVE;
    vals = mn_malloc((size_t)(n + 1) * sizeof *vals);
    obs = mn_calloc((size_t)(n + 1), sizeof *obs);
    if (!vals || !obs) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    n = 0;
    for (int v = 0; v < q->nv; v++)
        if (q->role[v] == ROLE_OBSERVE) {
            if ((st = mn_observer_init(&obs[n], o->bins > 0
                                                    ? o->bins
                                                    : MN_QUANT_DEFAULT_BINS,
                                       ctx)) != MN_OK)
                goto out;
            rep->observer_bytes += mn_observer_bytes(&obs[n]);
            q->obs_of[v] = n;
            vals[n++] = v;
        }
    rep->tensors = n;
    if ((st = mn_calib_observe(q->g, &run, vals, obs, n, &rep->calib_samples,
                               ctx)) != MN_OK)
        goto out;
    for (int k = 0; k < n; k++) {
        float lo, hi;
        int v = vals[k];
        /* graph inputs and outputs keep their full range: clipped pixels
         * lose information the data really has, saturated logits tie and
         * change the argmax */
        cfg.method = q->g->values[v].is_output || q->g->values[v].is_input
                         ? MN_CALIB_MINMAX
                         : o->method;
        if ((st = mn_calib_range(&obs[k], &cfg, &lo, &hi, ctx)) != MN_OK)
            goto out;
        mn_quant_params(lo, hi, q->qt, &q->scale[v], &q->zp[v]);
    }
out:
    for (int k = 0; obs && k < n; k++)
        mn_observer_free(&obs[k]);
    free(obs);
    free(vals);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rep->calib_seconds = (double)(t1.tv_sec - t0.tv_sec) +
                         1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return st;
}

mn_status mn_quant_int8(mn_graph *g, const mn_quant_opts *o,
                        mn_quant_report *rep, mn_ctx *ctx)
{
    qdq q = {.g = g, .o = o,
             .qt = o->mode == MN_QUANT_INT16X8 ? MN_DT_I16
                   : o->act_signed             ? MN_DT_I8
                                               : MN_DT_U8,
             .nv = g->n_values};
    int n_nodes = g->n_nodes;
    mn_status st;
    if ((st = mn_q_require_opset13(g, ctx)) != MN_OK)
        return st;
    if ((st = qdq_alloc(&q, ctx)) != MN_OK)
        goto out;
    for (int ni = 0; ni < n_nodes; ni++) {
        if (!mn_q_layer(g, ni, &q.layers[ni]))
            continue;
        if (mn_q_keep_float(g, o, ni)) {
            rep->kept_float++;
            continue;
        }
        q.is_layer[ni] = 1;
        rep->quantized_layers++;
        if (g->nodes[ni].op == MN_OP_MATMUL)
            q.bias_add[ni] = find_bias_add(g, ni);
    }
    if (!rep->quantized_layers) {
        st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                      "%s: no Conv, Gemm or MatMul with constant weights to "
                      "quantize", g->source);
        goto out;
    }
    for (int ni = 0; ni < n_nodes; ni++) {
        int v, r;
        if (!q.is_layer[ni])
            continue;
        mark(&q, g->nodes[ni].in[0]);
        v = q.bias_add[ni] >= 0 ? g->nodes[q.bias_add[ni]].out[0]
                                : g->nodes[ni].out[0];
        r = mn_q_sole_reader(g, v);
        if (r >= 0 && q.qt != MN_DT_I16 && is_absorbable(g, &g->nodes[r]))
            v = g->nodes[r].out[0];
        mark(&q, v);
    }
    if (q.qt != MN_DT_I16)
        extend_int_ops(&q);
    if ((st = calibrate(&q, rep, ctx)) != MN_OK)
        goto out;
    /* weights and biases (before the pairs: they need the input scale) */
    for (int ni = 0; ni < n_nodes; ni++) {
        float *ws = NULL, xs;
        int64_t nws = 0;
        int x;
        if (!q.is_layer[ni])
            continue;
        x = root_of(&q, g->nodes[ni].in[0]);
        xs = q.scale[x];
        if ((st = quantize_weight(&q, ni, &ws, &nws, ctx)) != MN_OK)
            goto out;
        if (q.qt == MN_DT_I16) /* 16-bit scales would overflow int32 */
            ;
        else if (q.layers[ni].b_slot >= 0)
            st = quantize_bias(&q, ni, q.layers[ni].b_slot, xs, ws, nws, ctx);
        else if (q.bias_add[ni] >= 0) {
            const mn_node *a = &g->nodes[q.bias_add[ni]];
            int slot = a->in[0] == g->nodes[ni].out[0] ? 1 : 0;
            st = quantize_bias(&q, q.bias_add[ni], slot, xs, ws, nws, ctx);
        }
        free(ws);
        if (st != MN_OK)
            goto out;
    }
    for (int v = 0; v < q.nv; v++)
        if (q.role[v] != ROLE_NONE && (st = insert_pair(&q, v, ctx)) != MN_OK)
            goto out;
    mn_graph_relink(g);
    if ((st = mn_graph_toposort(g, ctx)) != MN_OK ||
        (st = mn_graph_prune_dead(g, ctx)) != MN_OK)
        goto out;
    if (o->format == MN_QFORMAT_QOP && q.qt != MN_DT_I16)
        st = mn_quant_lower(g, NULL, ctx);
out:
    qdq_free(&q);
    return st;
}
