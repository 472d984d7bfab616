/* Quantization modes and options on hand-built graphs: dynamic and
 * float16, option errors, int16x8 against int8, int4 weight-only, and
 * calibration whose allocations do not depend on the number of samples. */
#include "quant_graph_test_util.h"

extern long mn_test_allocs;

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
