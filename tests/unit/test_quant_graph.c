/* Quantization passes on hand-built graphs: int8 QDQ insertion (per-channel
 * int8 weights checked value by value, int32 biases, absorbed ReLU/Clip,
 * pass-through MaxPool/Flatten), lowering to QLinearConv (integer kernels,
 * within one output step of the QDQ simulation, float ops counted),
 * dynamic and float16 modes, option errors, and calibration whose
 * allocations do not depend on the number of samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"
#include "quant/quant.h"
#include "test.h"

extern long mn_test_allocs;

static uint64_t grng = 0x853c49e6748fea9bULL;
static float grand(float lo, float hi)
{
    grng = grng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((grng >> 40) & 0xffffff) / 16777216.0f;
}

static int val(mn_graph *g, const char *name, int ndim, const int64_t *dims)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    if (mn_graph_add_value(g, name, MN_DT_F32, ndim, dims, &idx, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return idx;
}

static int fconst(mn_graph *g, const char *name, int ndim, const int64_t *dims,
                  float lo, float hi)
{
    mn_ctx ctx = {{0}};
    int v = val(g, name, ndim, dims);
    if (v < 0 || mn_tensor_create(MN_DT_F32, ndim, dims, &g->values[v].init,
                                  &ctx) != MN_OK)
        return -1;
    for (int64_t i = 0; i < mn_tensor_numel(g->values[v].init); i++)
        ((float *)g->values[v].init->data)[i] = grand(lo, hi);
    return v;
}

static int node(mn_graph *g, const char *name, const char *op, const int *in,
                int n_in, const int *out, int n_out)
{
    mn_ctx ctx = {{0}};
    int idx = -1;
    if (mn_graph_add_node(g, name, op, "", 13, in, n_in, out, n_out, &idx,
                          &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s", ctx.msg);
    return idx;
}

static void attr_ints(mn_graph *g, int ni, const char *name, const int64_t *v,
                      int n)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INTS, &a, NULL) == MN_OK)
        mn_attr_set_ints(a, v, n, NULL);
}

static void attr_int(mn_graph *g, int ni, const char *name, int64_t v)
{
    mn_attr *a;
    if (mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INT, &a, NULL) == MN_OK)
        a->i = v;
}

static void io(mn_graph *g, int in, int out)
{
    g->inputs = malloc(sizeof *g->inputs);
    g->outputs = malloc(sizeof *g->outputs);
    g->inputs[0] = in;
    g->outputs[0] = out;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
}

/* x[N,2,8,8] → Conv(4, 3×3) → Relu → MaxPool 2 → Conv depthwise → Clip(0,6)
 * → Add(maxpool, clip) → Flatten → Gemm(3, transB) → y */
static mn_graph *cnn_graph(void)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t dx[4] = {-1, 2, 8, 8}, dw1[4] = {4, 2, 3, 3}, d4[1] = {4};
    int64_t dw2[4] = {4, 1, 3, 3}, dg[2] = {3, 64}, d3[1] = {3}, d0[1] = {1};
    int64_t pads[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
    int x, w1, b1, c1, r1, mp, w2, c2, lo, hi, cl, ad, fl, wg, bg, y, n;
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    x = val(g, "x", 4, dx);
    w1 = fconst(g, "w1", 4, dw1, -0.5f, 0.5f);
    b1 = fconst(g, "b1", 1, d4, -0.2f, 0.2f);
    c1 = val(g, "c1", -1, NULL);
    r1 = val(g, "r1", -1, NULL);
    mp = val(g, "mp", -1, NULL);
    w2 = fconst(g, "w2", 4, dw2, -1.0f, 1.0f);
    c2 = val(g, "c2", -1, NULL);
    lo = fconst(g, "lo", 0, d0, 0, 0);
    hi = fconst(g, "hi", 0, d0, 6, 6);
    cl = val(g, "cl", -1, NULL);
    ad = val(g, "ad", -1, NULL);
    fl = val(g, "fl", -1, NULL);
    wg = fconst(g, "wg", 2, dg, -0.3f, 0.3f);
    bg = fconst(g, "bg", 1, d3, -0.1f, 0.1f);
    y = val(g, "y", -1, NULL);
    n = node(g, "conv1", "Conv", (int[]){x, w1, b1}, 3, &c1, 1);
    attr_ints(g, n, "pads", pads, 4);
    node(g, "relu1", "Relu", &c1, 1, &r1, 1);
    n = node(g, "pool", "MaxPool", &r1, 1, &mp, 1);
    attr_ints(g, n, "kernel_shape", k2, 2);
    attr_ints(g, n, "strides", k2, 2);
    n = node(g, "conv2", "Conv", (int[]){mp, w2}, 2, &c2, 1);
    attr_ints(g, n, "pads", pads, 4);
    attr_int(g, n, "group", 4);
    node(g, "clip", "Clip", (int[]){c2, lo, hi}, 3, &cl, 1);
    node(g, "add", "Add", (int[]){mp, cl}, 2, &ad, 1);
    node(g, "flatten", "Flatten", &ad, 1, &fl, 1);
    n = node(g, "fc", "Gemm", (int[]){fl, wg, bg}, 3, &y, 1);
    attr_int(g, n, "transB", 1);
    io(g, x, y);
    return g;
}

/* x[N,2,5] → MatMul [5,6] → Add b → Relu → MatMul [6,3] → y[N,2,3] */
/* x [N, 2, 5] → MatMul + bias → Relu, or GELU as exported (Div, Erf,
 * Add, Mul, Mul), → MatMul → y [N, 2, 3]. */
static mn_graph *mlp_graph(int gelu)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t dx[3] = {-1, 2, 5}, d1[2] = {5, 6}, d6[1] = {6}, d2[2] = {6, 3};
    int x, w1, b1, m1, a1, r1, w2, y;
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    x = val(g, "x", 3, dx);
    w1 = fconst(g, "w1", 2, d1, -1, 1);
    b1 = fconst(g, "b1", 1, d6, -0.5f, 0.5f);
    w2 = fconst(g, "w2", 2, d2, -1, 1);
    m1 = val(g, "m1", -1, NULL);
    a1 = val(g, "a1", -1, NULL);
    r1 = val(g, "r1", -1, NULL);
    y = val(g, "y", -1, NULL);
    node(g, "mm1", "MatMul", (int[]){x, w1}, 2, &m1, 1);
    node(g, "bias1", "Add", (int[]){m1, b1}, 2, &a1, 1);
    if (gelu) {
        int c[3], t[4];
        const float cv[3] = {1.41421356f, 1.0f, 0.5f};
        for (int k = 0; k < 3; k++)
            c[k] = fconst(g, k == 0 ? "sqrt2" : k == 1 ? "one" : "half", 0,
                          NULL, cv[k], cv[k]);
        for (int k = 0; k < 4; k++)
            t[k] = val(g, k == 0 ? "g_d" : k == 1 ? "g_e" : k == 2 ? "g_a"
                                                               : "g_m",
                       -1, NULL);
        node(g, "g_div", "Div", (int[]){a1, c[0]}, 2, &t[0], 1);
        node(g, "g_erf", "Erf", &t[0], 1, &t[1], 1);
        node(g, "g_add", "Add", (int[]){t[1], c[1]}, 2, &t[2], 1);
        node(g, "g_mul", "Mul", (int[]){a1, t[2]}, 2, &t[3], 1);
        node(g, "g_half", "Mul", (int[]){t[3], c[2]}, 2, &r1, 1);
    } else {
        node(g, "relu", "Relu", &a1, 1, &r1, 1);
    }
    node(g, "mm2", "MatMul", (int[]){r1, w2}, 2, &y, 1);
    io(g, x, y);
    return g;
}

/* Writes n random samples of shape dims (dims[0] replaced by n) as .npy. */
static const char *write_calib(const char *file, int ndim, const int64_t *dims,
                               int64_t n)
{
    static char spec[512];
    char path[400];
    mn_ctx ctx = {{0}};
    mn_tensor *t;
    int64_t d[MN_MAX_DIMS];
    memcpy(d, dims, sizeof d[0] * (size_t)ndim);
    d[0] = n;
    snprintf(path, sizeof path, "%s/%s", mn_test_tmp_dir(), file);
    if (mn_tensor_create(MN_DT_F32, ndim, d, &t, &ctx) != MN_OK)
        return NULL;
    for (int64_t i = 0; i < mn_tensor_numel(t); i++)
        ((float *)t->data)[i] = grand(-1, 2);
    CHECK_OK(mn_tensor_save_npy(path, t, &ctx), &ctx);
    mn_tensor_destroy(t);
    snprintf(spec, sizeof spec, "npy:%s", path);
    return spec;
}

/* Runs g on the first `n` samples of an npy file; returns a copy of output
 * 0 (caller destroys) or NULL. */
static mn_tensor *run_on(const mn_graph *g, const char *spec, int64_t n)
{
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL, *y = NULL, *all = NULL;
    mn_session *s = NULL;
    if (mn_tensor_load_npy(spec + 4, &all, &ctx) != MN_OK)
        goto out;
    all->dims[0] = n;
    {
        const mn_tensor *shapes[1] = {all};
        mn_session_opts o = {.n_input_shapes = 1, .input_shapes = shapes};
        if (mn_session_create(g, &o, &s, &ctx) != MN_OK ||
            mn_session_run(s, (const mn_tensor *const *)&all, 1, &ctx) != MN_OK)
            goto out;
    }
    mn_tensor_clone(mn_session_output(s, 0), &y, &ctx);
out:
    if (ctx.msg[0])
        mn_test_fail(__FILE__, __LINE__, "run: %s", ctx.msg);
    mn_session_destroy(s);
    mn_tensor_destroy(x);
    mn_tensor_destroy(all);
    return y;
}

static double max_diff(const mn_tensor *a, const mn_tensor *b)
{
    double m = 0;
    if (!a || !b || mn_tensor_numel(a) != mn_tensor_numel(b))
        return INFINITY;
    for (int64_t i = 0; i < mn_tensor_numel(a); i++) {
        double d = fabs((double)((float *)a->data)[i] - ((float *)b->data)[i]);
        m = d > m || d != d ? d : m;
    }
    return m;
}

static double max_abs(const mn_tensor *a)
{
    double m = 0;
    for (int64_t i = 0; a && i < mn_tensor_numel(a); i++)
        m = fmax(m, fabs(((float *)a->data)[i]));
    return m;
}

static int count_op(const mn_graph *g, const char *op)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++)
        c += !strcmp(g->nodes[i].op_type, op);
    return c;
}

static int node_named(const mn_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    return -1;
}

/* The scale (as a float initializer) on output-channel c of the weight DQ
 * feeding node ni's input slot, or -1. */
static const mn_tensor *dq_input(const mn_graph *g, int ni, int slot, int k)
{
    int v = g->nodes[ni].in[slot], p = v >= 0 ? g->values[v].producer : -1;
    if (p < 0 || strcmp(g->nodes[p].op_type, "DequantizeLinear") ||
        g->nodes[p].n_in <= k || g->nodes[p].in[k] < 0)
        return NULL;
    return g->values[g->nodes[p].in[k]].init;
}

TEST(quant_int8_qdq_cnn)
{
    int64_t dx[4] = {-1, 2, 8, 8};
    const char *spec = write_calib("cnn.npy", 4, dx, 24);
    mn_graph *g = cnn_graph(), *f = NULL;
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .batch = 8, .format = MN_QFORMAT_QDQ};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    mn_tensor *ref = NULL, *got = NULL;
    float *w = NULL;
    int conv1;
    if (!g || !spec)
        return;
    ref = run_on(g, spec, 24);
    CHECK_OK(mn_graph_clone(g, &f, &ctx), &ctx);
    w = malloc(72 * sizeof *w);
    memcpy(w, g->values[mn_graph_find_value(g, "w1")].init->data, 72 * 4);
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.quantized_layers, 3);
    CHECK_EQ_INT(r.calib_samples, 24);
    /* x, conv1 (ReLU absorbed), maxpool (inherits), conv2 (Clip absorbed),
     * add, flatten (inherits), y: 5 observed */
    CHECK_EQ_INT(r.tensors, 5);
    CHECK_EQ_INT(count_op(g, "QuantizeLinear"), 7);
    CHECK_EQ_INT(count_op(g, "Relu"), 0);
    CHECK_EQ_INT(count_op(g, "Clip"), 0);
    CHECK_EQ_INT(count_op(g, "Conv"), 2);
    CHECK(r.weight_bytes_after < r.weight_bytes_before);
    /* conv1's weights: int8, per output channel, s = max|w|/127 */
    conv1 = node_named(g, "conv1");
    CHECK(conv1 >= 0);
    if (conv1 >= 0) {
        const mn_tensor *wq = dq_input(g, conv1, 1, 0);
        const mn_tensor *ws = dq_input(g, conv1, 1, 1);
        const mn_tensor *bq = dq_input(g, conv1, 2, 0);
        const mn_tensor *bs = dq_input(g, conv1, 2, 1);
        const mn_tensor *b = f->values[mn_graph_find_value(f, "b1")].init;
        CHECK(wq && ws && wq->dtype == MN_DT_I8 && mn_tensor_numel(ws) == 4);
        CHECK(bq && bs && bq->dtype == MN_DT_I32 && mn_tensor_numel(bs) == 4);
        for (int c = 0; wq && ws && c < 4; c++) {
            float m = 0, s;
            for (int i = 0; i < 18; i++)
                m = fmaxf(m, fabsf(w[c * 18 + i]));
            /* max|w|/127 moved to the nearest float16 value */
            s = mn_f16_to_f32(mn_q_f32_to_f16(m / 127));
            CHECK(fabsf(s - m / 127) <= 0x1p-11f * (m / 127));
            CHECK_NEAR(((float *)ws->data)[c], s, 0);
            for (int i = 0; i < 18; i++)
                CHECK_EQ_INT(((int8_t *)wq->data)[c * 18 + i],
                             (int)rintf(w[c * 18 + i] / s));
            if (bq && bs)
                CHECK_EQ_INT(((int32_t *)bq->data)[c],
                             (int)rint(((float *)b->data)[c] /
                                       ((float *)bs->data)[c]));
        }
    }
    got = run_on(g, spec, 24);
    /* int8 simulation close to fp32 on the calibration data */
    CHECK(max_diff(ref, got) < 0.03 * max_abs(ref));
    mn_tensor_destroy(got);
    mn_tensor_destroy(ref);
    mn_graph_destroy(f);
    mn_graph_destroy(g);
    free(w);
}

TEST(quant_int8_lowered_runs_integer_kernels)
{
    int64_t dx[4] = {-1, 2, 8, 8};
    const char *spec = write_calib("cnn2.npy", 4, dx, 16);
    mn_graph *g = cnn_graph(), *q = NULL, *back = NULL;
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .method = MN_CALIB_ENTROPY, .format = MN_QFORMAT_QDQ};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    mn_tensor *sim = NULL, *low = NULL, *rt = NULL;
    char path[400];
    int lowered = 0, yq;
    float ys = 0;
    if (!g || !spec)
        return;
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    CHECK_OK(mn_graph_clone(g, &q, &ctx), &ctx);
    sim = run_on(g, spec, 16);
    CHECK_OK(mn_quant_lower(q, &lowered, &ctx), &ctx);
    CHECK(lowered >= 5);
    CHECK_EQ_INT(count_op(q, "QLinearConv"), 3);
    CHECK_EQ_INT(count_op(q, "Conv") + count_op(q, "Gemm"), 0);
    /* MaxPool and Flatten run on uint8, the residual Add is a QLinearAdd:
     * nothing is float */
    mn_quant_count_ops(q, &r);
    CHECK_EQ_INT(r.float_ops, 0);
    CHECK_EQ_INT(count_op(q, "QLinearAdd"), 1);
    CHECK_EQ_INT(count_op(q, "Add"), 0);
    /* 3 QLinearConv, MaxPool, Flatten, the Gemm's two Reshapes, QLinearAdd */
    CHECK_EQ_INT(r.integer_ops, 8);
    {
        int mp = node_named(q, "pool");
        CHECK(mp >= 0 && q->values[q->nodes[mp].in[0]].dtype == MN_DT_U8);
    }
    /* the integer kernels agree with the simulation to one output step */
    yq = mn_graph_find_value(q, "y");
    if (yq >= 0 && q->values[yq].producer >= 0) {
        const mn_node *dq = &q->nodes[q->values[yq].producer];
        CHECK(!strcmp(dq->op_type, "DequantizeLinear"));
        ys = *(const float *)q->values[dq->in[1]].init->data;
    }
    low = run_on(q, spec, 16);
    CHECK(ys > 0);
    CHECK(max_diff(sim, low) <= ys * 1.001);
    /* lowering is idempotent */
    CHECK_OK(mn_quant_lower(q, &lowered, &ctx), &ctx);
    CHECK_EQ_INT(lowered, 0);
    /* ONNX round trip of the integer graph */
    snprintf(path, sizeof path, "%s/cnn_qop.onnx", mn_test_tmp_dir());
    CHECK_OK(mn_graph_save_onnx(q, path, &ctx), &ctx);
    CHECK_OK(mn_graph_load_onnx(path, &back, &ctx), &ctx);
    if (back) {
        rt = run_on(back, spec, 16);
        CHECK(max_diff(low, rt) == 0);
    }
    mn_tensor_destroy(sim);
    mn_tensor_destroy(low);
    mn_tensor_destroy(rt);
    mn_graph_destroy(back);
    mn_graph_destroy(q);
    mn_graph_destroy(g);
}

/* x[N,2,8,8] → Conv(4) → HardSwish → h; Concat(h, h · Sigmoid(h)) →
 * GlobalAveragePool → Flatten → Gemm(3, transB) → y */
static mn_graph *act_graph(void)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t dx[4] = {-1, 2, 8, 8}, dw1[4] = {4, 2, 3, 3}, d4[1] = {4};
    int64_t dg[2] = {3, 8}, d3[1] = {3}, pads[4] = {1, 1, 1, 1};
    int x, w1, b1, c1, h, sg, m, cat, gp, fl, wg, bg, y, n;
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    x = val(g, "x", 4, dx);
    w1 = fconst(g, "w1", 4, dw1, -0.5f, 0.5f);
    b1 = fconst(g, "b1", 1, d4, -0.2f, 0.2f);
    c1 = val(g, "c1", -1, NULL);
    h = val(g, "h", -1, NULL);
    sg = val(g, "sg", -1, NULL);
    m = val(g, "m", -1, NULL);
    cat = val(g, "cat", -1, NULL);
    gp = val(g, "gp", -1, NULL);
    fl = val(g, "fl", -1, NULL);
    wg = fconst(g, "wg", 2, dg, -0.3f, 0.3f);
    bg = fconst(g, "bg", 1, d3, -0.1f, 0.1f);
    y = val(g, "y", -1, NULL);
    n = node(g, "conv1", "Conv", (int[]){x, w1, b1}, 3, &c1, 1);
    attr_ints(g, n, "pads", pads, 4);
    node(g, "hswish", "HardSwish", &c1, 1, &h, 1);
    node(g, "sigmoid", "Sigmoid", &h, 1, &sg, 1);
    node(g, "silu", "Mul", (int[]){h, sg}, 2, &m, 1);
    n = node(g, "cat", "Concat", (int[]){h, m}, 2, &cat, 1);
    attr_int(g, n, "axis", 1);
    node(g, "gap", "GlobalAveragePool", &cat, 1, &gp, 1);
    node(g, "flatten", "Flatten", &gp, 1, &fl, 1);
    n = node(g, "fc", "Gemm", (int[]){fl, wg, bg}, 3, &y, 1);
    attr_int(g, n, "transB", 1);
    io(g, x, y);
    return g;
}

/* Activations, SiLU, Concat and pooling lower to integer ops: no float op
 * is left, and the result stays close to the QDQ simulation (the lookup
 * tables compute what DQ → f → Q does; the pooling rounds once). */
TEST(quant_int8_activations_lowered)
{
    int64_t dx[4] = {-1, 2, 8, 8};
    const char *spec = write_calib("act.npy", 4, dx, 16);
    mn_graph *g = act_graph(), *q = NULL;
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .method = MN_CALIB_MINMAX, .format = MN_QFORMAT_QDQ};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    mn_tensor *ref = NULL, *sim = NULL, *low = NULL;
    if (!g || !spec)
        return;
    ref = run_on(g, spec, 16);
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    /* x, c1, h, m, cat, gp (and fl with gp's parameters), y: the gate's
     * output is not quantized, x · Sigmoid(x) is one op */
    CHECK_EQ_INT(count_op(g, "QuantizeLinear"), 8);
    sim = run_on(g, spec, 16);
    CHECK_OK(mn_graph_clone(g, &q, &ctx), &ctx);
    CHECK_OK(mn_quant_lower(q, NULL, &ctx), &ctx);
    mn_quant_count_ops(q, &r);
    CHECK_EQ_INT(r.float_ops, 0);
    CHECK_EQ_INT(count_op(q, "Gather"), 2);
    CHECK_EQ_INT(count_op(q, "QLinearConcat"), 1);
    CHECK_EQ_INT(count_op(q, "QLinearGlobalAveragePool"), 1);
    CHECK_EQ_INT(count_op(q, "HardSwish") + count_op(q, "Sigmoid") +
                     count_op(q, "Mul"), 0);
    low = run_on(q, spec, 16);
    CHECK(ref && sim && low);
    if (ref && sim && low) {
        CHECK(max_diff(sim, low) < 0.02 * max_abs(sim));
        CHECK(max_diff(ref, low) < 0.05 * max_abs(ref));
    }
    mn_tensor_destroy(ref);
    mn_tensor_destroy(sim);
    mn_tensor_destroy(low);
    mn_graph_destroy(q);
    mn_graph_destroy(g);
}

/* Both MLPs lower to integer operators only: the Relu is absorbed, GELU's
 * erf chain becomes one lookup table (a Gather), and the MatMuls over
 * [N, 2, ·] run as one batch-folded QLinearConv each. */
static void matmul_bias_lowered(int gelu)
{
    int64_t dx[3] = {-1, 2, 5};
    const char *spec = write_calib("mlp.npy", 3, dx, 12);
    mn_graph *g = mlp_graph(gelu), *q = NULL;
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .method = MN_CALIB_PERCENTILE, .percentile = 99.9,
                       .format = MN_QFORMAT_QDQ};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    mn_tensor *ref = NULL, *sim = NULL, *low = NULL;
    if (!g || !spec)
        return;
    ref = run_on(g, spec, 12);
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.quantized_layers, 2);
    CHECK_EQ_INT(count_op(g, "Relu"), 0);
    sim = run_on(g, spec, 12);
    CHECK(max_diff(ref, sim) < 0.05 * max_abs(ref));
    CHECK_OK(mn_graph_clone(g, &q, &ctx), &ctx);
    CHECK_OK(mn_quant_lower(q, NULL, &ctx), &ctx);
    CHECK_EQ_INT(count_op(q, "QLinearConv"), 2);
    CHECK_EQ_INT(count_op(q, "MatMul") + count_op(q, "Add"), 0);
    CHECK_EQ_INT(count_op(q, "Gather"), gelu);
    CHECK_EQ_INT(count_op(q, "Erf") + count_op(q, "Div") +
                     count_op(q, "Mul"), 0);
    mn_quant_count_ops(q, &r);
    CHECK_EQ_INT(r.float_ops, 0);
    low = run_on(q, spec, 12);
    CHECK(low && low->ndim == 3 && low->dims[0] == 12 && low->dims[1] == 2 &&
          low->dims[2] == 3);
    CHECK(max_diff(sim, low) < 0.02 * max_abs(ref));
    mn_tensor_destroy(ref);
    mn_tensor_destroy(sim);
    mn_tensor_destroy(low);
    mn_graph_destroy(q);
    mn_graph_destroy(g);
}

TEST(quant_int8_matmul_bias_lowered) { matmul_bias_lowered(0); }
TEST(quant_int8_matmul_gelu_lowered) { matmul_bias_lowered(1); }

TEST(quant_dynamic_and_float16)
{
    int64_t dx[4] = {-1, 2, 8, 8};
    const char *spec = write_calib("cnn3.npy", 4, dx, 8);
    mn_graph *g = cnn_graph(), *h = NULL;
    mn_quant_opts o = {.mode = MN_QUANT_DYNAMIC};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    mn_tensor *ref = NULL, *got = NULL;
    int f16 = 0;
    if (!g || !spec)
        return;
    ref = run_on(g, spec, 8);
    CHECK_OK(mn_graph_clone(g, &h, &ctx), &ctx);
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.quantized_layers, 3);
    CHECK_EQ_INT(count_op(g, "ConvInteger"), 2);
    CHECK_EQ_INT(count_op(g, "MatMulInteger"), 1);
    CHECK_EQ_INT(count_op(g, "Conv") + count_op(g, "Gemm"), 0);
    CHECK_EQ_INT(r.integer_ops, 3);
    got = run_on(g, spec, 8);
    CHECK(max_diff(ref, got) < 0.03 * max_abs(ref));
    mn_tensor_destroy(got);

    o.mode = MN_QUANT_FLOAT16;
    CHECK_OK(mn_quantize(h, &o, &r, &ctx), &ctx);
    for (int v = 0; v < h->n_values; v++)
        f16 += h->values[v].init && h->values[v].init->dtype == MN_DT_F16;
    CHECK_EQ_INT(f16, 3); /* w1, w2, wg; small biases stay float */
    CHECK_EQ_INT(r.tensors, 3);
    CHECK_EQ_INT(count_op(h, "Cast"), 3);
    got = run_on(h, spec, 8);
    CHECK(max_diff(ref, got) < 2e-3 * max_abs(ref));
    mn_tensor_destroy(got);
    mn_tensor_destroy(ref);
    mn_graph_destroy(h);
    mn_graph_destroy(g);
}

TEST(quant_options_and_errors)
{
    int64_t dx[4] = {-1, 2, 8, 8}, bad[4] = {-1, 3, 8, 8};
    const char *spec_bad = write_calib("bad.npy", 4, bad, 4);
    char bad_copy[512];
    const char *spec;
    const char *keep[1] = {"conv2"}, *keep_bad[1] = {"conv9"};
    mn_graph *g;
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .format = MN_QFORMAT_QDQ};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    snprintf(bad_copy, sizeof bad_copy, "%s", spec_bad ? spec_bad : "");
    spec = write_calib("ok.npy", 4, dx, 8);
    /* no calibration data */
    g = cnn_graph();
    CHECK(mn_quantize(g, &o, &r, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "calib") != NULL);
    mn_graph_destroy(g);
    /* calibration samples of the wrong shape */
    g = cnn_graph();
    o.calib_spec = bad_copy;
    CHECK(mn_quantize(g, &o, &r, &ctx) == MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "calibration") != NULL);
    mn_graph_destroy(g);
    /* a mode value out of range */
    g = cnn_graph();
    o.mode = MN_QUANT_MODE_COUNT;
    CHECK(mn_quantize(g, &o, &r, &ctx) == MN_ERR_ARG);
    mn_graph_destroy(g);
    /* a node name that does not exist */
    g = cnn_graph();
    o.mode = MN_QUANT_DYNAMIC;
    o.keep_float = keep_bad;
    o.n_keep_float = 1;
    CHECK(mn_quantize(g, &o, &r, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "conv9") != NULL);
    mn_graph_destroy(g);
    /* a node kept in float keeps its float weights; per-tensor weights */
    g = cnn_graph();
    o.mode = MN_QUANT_INT8;
    o.calib_spec = spec;
    o.keep_float = keep;
    o.n_keep_float = 1;
    o.per_tensor = 1;
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.quantized_layers, 2);
    CHECK_EQ_INT(r.kept_float, 1);
    {
        int c2 = node_named(g, "conv2"), c1 = node_named(g, "conv1");
        CHECK(c2 >= 0 && g->values[g->nodes[c2].in[1]].init &&
              g->values[g->nodes[c2].in[1]].init->dtype == MN_DT_F32);
        CHECK(c1 >= 0 && dq_input(g, c1, 1, 1) &&
              mn_tensor_numel(dq_input(g, c1, 1, 1)) == 1);
    }
    mn_graph_destroy(g);
    /* --strict: the residual Add lowers to QLinearAdd; a Sub in its place
     * has no integer form */
    g = cnn_graph();
    o.keep_first_last = 0;
    o.keep_float = NULL;
    o.n_keep_float = 0;
    o.strict = 1;
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.float_ops, 0);
    mn_graph_destroy(g);
    g = cnn_graph();
    {
        int a = node_named(g, "add");
        CHECK(a >= 0);
        if (a >= 0) {
            free(g->nodes[a].op_type);
            g->nodes[a].op_type = mn_strdup("Sub");
            g->nodes[a].op = MN_OP_SUB;
        }
    }
    CHECK(mn_quantize(g, &o, &r, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "Sub×1") != NULL);
    o.strict = 0;
    mn_graph_destroy(g);
    /* first and last layers in float on request */
    g = cnn_graph();
    o.keep_float = NULL;
    o.n_keep_float = 0;
    o.keep_first_last = 1;
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.quantized_layers, 1);
    CHECK_EQ_INT(r.kept_float, 2);
    CHECK(node_named(g, "conv2") >= 0 &&
          dq_input(g, node_named(g, "conv2"), 1, 0) != NULL);
    CHECK(node_named(g, "fc") >= 0 &&
          dq_input(g, node_named(g, "fc"), 1, 0) == NULL);
    mn_graph_destroy(g);
}

TEST(quant_int16x8_is_closer_than_int8)
{
    int64_t dx[4] = {-1, 2, 8, 8};
    const char *spec = write_calib("cnn16.npy", 4, dx, 16);
    mn_graph *g8 = cnn_graph(), *g16 = NULL;
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .format = MN_QFORMAT_QDQ};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    mn_tensor *ref = NULL, *y8 = NULL, *y16 = NULL;
    int q16 = 0;
    if (!g8 || !spec)
        return;
    ref = run_on(g8, spec, 16);
    CHECK_OK(mn_graph_clone(g8, &g16, &ctx), &ctx);
    CHECK_OK(mn_quantize(g8, &o, &r, &ctx), &ctx);
    o.mode = MN_QUANT_INT16X8;
    o.format = MN_QFORMAT_QOP; /* nothing to lower: stays QDQ */
    CHECK_OK(mn_quantize(g16, &o, &r, &ctx), &ctx);
    for (int i = 0; i < g16->n_nodes; i++)
        if (!strcmp(g16->nodes[i].op_type, "QuantizeLinear")) {
            int zp = g16->nodes[i].in[2];
            CHECK(!strcmp(g16->nodes[i].domain, "com.microsoft"));
            CHECK(zp >= 0 && g16->values[zp].init &&
                  g16->values[zp].init->dtype == MN_DT_I16 &&
                  *(int16_t *)g16->values[zp].init->data == 0);
            q16++;
        }
    /* x, c1, r1 (ReLU not absorbed: symmetric int16 keeps negatives), mp,
     * c2, ad, fl, y */
    CHECK_EQ_INT(q16, 8);
    CHECK_EQ_INT(count_op(g16, "QLinearConv"), 0);
    y8 = run_on(g8, spec, 16);
    y16 = run_on(g16, spec, 16);
    /* 256× finer activation steps: what is left is the int8 weights' */
    if (!(max_diff(ref, y16) < 0.75 * max_diff(ref, y8)))
        mn_test_fail(__FILE__, __LINE__, "int16x8 err %g, int8 err %g, max %g",
                     max_diff(ref, y16), max_diff(ref, y8), max_abs(ref));
    CHECK(max_diff(ref, y16) < 0.01 * max_abs(ref));
    mn_tensor_destroy(ref);
    mn_tensor_destroy(y8);
    mn_tensor_destroy(y16);
    mn_graph_destroy(g8);
    mn_graph_destroy(g16);
}

TEST(quant_int4_weight_only)
{
    int64_t dx[4] = {-1, 2, 8, 8};
    const char *spec = write_calib("cnn4.npy", 4, dx, 8);
    mn_graph *g = cnn_graph();
    /* per output channel (group -1): DQ straight on the 4-D INT4 weight */
    mn_quant_opts o = {.mode = MN_QUANT_INT4, .group = -1, .scale_f16 = -1};
    mn_quant_report r;
    mn_ctx ctx = {{0}};
    mn_tensor *ref = NULL, *got = NULL;
    float w[72];
    int conv1;
    if (!g || !spec)
        return;
    memcpy(w, g->values[mn_graph_find_value(g, "w1")].init->data, sizeof w);
    ref = run_on(g, spec, 8);
    CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.quantized_layers, 3);
    CHECK_EQ_INT(count_op(g, "QuantizeLinear"), 0); /* activations float */
    CHECK_EQ_INT(count_op(g, "Relu"), 1);
    CHECK_EQ_INT((int)g->opset, 21);
    conv1 = node_named(g, "conv1");
    if (conv1 >= 0) {
        const mn_tensor *wq = dq_input(g, conv1, 1, 0);
        const mn_tensor *ws = dq_input(g, conv1, 1, 1);
        CHECK(wq && ws && mn_tensor_numel(ws) == 4);
        CHECK(wq && wq->dtype == MN_DT_I4 && mn_tensor_nbytes(wq) == 36);
        for (int c = 0; wq && ws && c < 4; c++) {
            float s = mn_q_int4_group(w + c * 18, 18, 1, 0, NULL, NULL);
            CHECK_NEAR(((float *)ws->data)[c], s, 0);
            for (int i = 0; i < 18; i++) {
                int q = (int)mn_tensor_get_i64(wq, c * 18 + i);
                CHECK(q >= -8 && q <= 7);
                CHECK_EQ_INT(q, mn_quant_value(w[c * 18 + i], s, 0, -8, 7));
            }
        }
    }
    got = run_on(g, spec, 8);
    CHECK(max_diff(ref, got) < 0.25 * max_abs(ref));
    CHECK(max_diff(ref, got) > 0); /* 4-bit weights do change the output */
    mn_tensor_destroy(got);
    mn_graph_destroy(g);
    /* grouped, default 128 ≥ K = 18 (one block per row): per-axis DQ on
     * the 4-D weight, no Reshape; float16 scales (the default) add a
     * Cast; groups of 8 < 18 over 3×3 kernels: INT4 [4, 18] → blocked DQ
     * → Reshape (conv1 only: conv2 is depthwise, K = 9 > 8 too) */
    for (int pass = 0; pass < 2; pass++) {
        g = cnn_graph(); /* new random weights: a new reference */
        mn_tensor_destroy(ref);
        ref = g ? run_on(g, spec, 8) : NULL;
        o.group = pass ? 8 : 0;
        o.scale_f16 = 0;
        CHECK_OK(mn_quantize(g, &o, &r, &ctx), &ctx);
        CHECK_EQ_INT(count_op(g, "Reshape"), pass ? 2 : 0);
        CHECK_EQ_INT(count_op(g, "Cast"), 3);
        {
            int v = mn_graph_find_value(g, "w1_q4");
            const mn_tensor *wq = v >= 0 ? g->values[v].init : NULL;
            CHECK(wq && wq->ndim == (pass ? 2 : 4));
        }
        got = run_on(g, spec, 8);
        CHECK(got && max_diff(ref, got) < 0.25 * max_abs(ref));
        mn_tensor_destroy(got);
        mn_graph_destroy(g);
    }
    mn_tensor_destroy(ref);
}

TEST(quant_calibration_memory_does_not_grow)
{
    int64_t dx[4] = {-1, 2, 8, 8};
    const char *spec = write_calib("many.npy", 4, dx, 256);
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .batch = 16, .method = MN_CALIB_MSE};
    mn_quant_report r1, r2;
    mn_ctx ctx = {{0}};
    long a1, a2;
    mn_graph *g;
    if (!spec)
        return;
    g = cnn_graph();
    o.calib_count = 32;
    a1 = mn_test_allocs;
    CHECK_OK(mn_quantize(g, &o, &r1, &ctx), &ctx);
    a1 = mn_test_allocs - a1;
    mn_graph_destroy(g);
    g = cnn_graph();
    o.calib_count = 256;
    a2 = mn_test_allocs;
    CHECK_OK(mn_quantize(g, &o, &r2, &ctx), &ctx);
    a2 = mn_test_allocs - a2;
    mn_graph_destroy(g);
    CHECK_EQ_INT(r1.calib_samples, 32);
    CHECK_EQ_INT(r2.calib_samples, 256);
    CHECK_EQ_INT(r1.observer_bytes, r2.observer_bytes);
    /* 8× the samples, not one allocation more */
    CHECK_EQ_INT(a1, a2);
}
