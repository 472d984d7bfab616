/* Quantization passes on hand-built graphs: int8 QDQ insertion (per-channel
 * int8 weights checked value by value, int32 biases, absorbed ReLU/Clip,
 * pass-through MaxPool/Flatten), lowering to QLinearConv (integer kernels,
 * within one output step of the QDQ simulation, float ops counted),
 * activations, MatMul with bias, GELU. Other modes and options:
 * test_quant_modes.c. */
#include "quant_graph_test_util.h"

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
