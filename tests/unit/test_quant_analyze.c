/* Sensitivity analysis and greedy mixed precision (src/quant/analyze.c) on
 * a hand-built model whose first convolution has one channel 300x larger
 * than the rest, quantized per tensor: quantizing that layer alone must
 * cost far more accuracy than the classifier alone; the fp32 accuracy on labels made from the fp32
 * model is 100 %; the held-out data must not overlap the calibration data;
 * a budget of 100 points keeps nothing in float, a budget of 0 ends with a
 * drop of at most 0. */
#include "minnow/quant.h"
#include "quant/quant.h"
#include "quant_build_util.h"

/* x[N,2,8,8] → conv1 3x3 pad 1 (2→6) → relu → GAP → Flatten → fc (6→4) */
static mn_graph *an_graph(void)
{
    mn_ctx ctx = {{0}};
    qb b = {NULL, 0x452821e638d01377ULL};
    int64_t dx[4] = {-1, 2, 8, 8}, dw1[4] = {6, 2, 3, 3}, d6[1] = {6};
    int64_t dfc[2] = {4, 6}, d4[1] = {4}, pads[4] = {1, 1, 1, 1};
    int x, w1, b1, wf, bf, c1, r1, gp, fl, y, n;
    if (mn_graph_create(&b.g, &ctx) != MN_OK)
        return NULL;
    x = qb_value(&b, "x", 4, dx);
    w1 = qb_weight(&b, "w1", 4, dw1, -0.5f, 0.5f);
    b1 = qb_weight(&b, "b1", 1, d6, -0.1f, 0.1f);
    wf = qb_weight(&b, "wf", 2, dfc, -1, 1);
    bf = qb_weight(&b, "bf", 1, d4, -0.1f, 0.1f);
    for (int k = 0; k < 18; k++) /* channel 0: 300x */
        ((float *)b.g->values[w1].init->data)[k] *= 300;
    for (int k = 0; k < 4; k++) /* ... and the classifier reads it 1/300 */
        ((float *)b.g->values[wf].init->data)[k * 6] /= 300;
    n = qb_node(&b, "conv1", "Conv", (int[]){x, w1, b1}, 3, &c1);
    qb_attr(&b, n, "pads", MN_ATTR_INTS, 0, pads, 4);
    qb_node(&b, "relu1", "Relu", &c1, 1, &r1);
    qb_node(&b, "gap", "GlobalAveragePool", &r1, 1, &gp);
    qb_node(&b, "flat", "Flatten", &gp, 1, &fl);
    n = qb_node(&b, "fc", "Gemm", (int[]){fl, wf, bf}, 3, &y);
    qb_attr(&b, n, "transB", MN_ATTR_INT, 1, NULL, 0);
    qb_io(&b, x, y);
    return b.g;
}

/* n inputs and, as labels, the fp32 model's argmax: "npy:X,Y". */
static const char *labelled(const mn_graph *g, const char *stem, int64_t n,
                            uint64_t seed)
{
    static char spec[2][1200];
    static int which;
    char px[512], py[512];
    mn_ctx ctx = {{0}};
    qb b = {NULL, seed};
    int64_t d[4] = {n, 2, 8, 8};
    mn_tensor *x = NULL, *y = NULL, *lab = NULL;
    char *s = spec[which++ & 1];
    if (mn_tensor_create(MN_DT_F32, 4, d, &x, &ctx) != MN_OK)
        return NULL;
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        ((float *)x->data)[i] = qb_rand(&b, -1, 2);
    y = qb_run(g, x);
    CHECK_OK(mn_tensor_create(MN_DT_I64, 1, d, &lab, &ctx), &ctx);
    for (int64_t i = 0; y && lab && i < n; i++) {
        const float *r = (const float *)y->data + i * 4;
        int64_t best = 0;
        for (int k = 1; k < 4; k++)
            best = r[k] > r[best] ? k : best;
        ((int64_t *)lab->data)[i] = best;
    }
    snprintf(px, sizeof px, "%s/%s_x.npy", mn_test_tmp_dir(), stem);
    snprintf(py, sizeof py, "%s/%s_y.npy", mn_test_tmp_dir(), stem);
    CHECK_OK(mn_tensor_save_npy(px, x, &ctx), &ctx);
    CHECK_OK(mn_tensor_save_npy(py, lab, &ctx), &ctx);
    snprintf(s, sizeof spec[0], "npy:%s,%s", px, py);
    mn_tensor_destroy(x);
    mn_tensor_destroy(y);
    mn_tensor_destroy(lab);
    return s;
}

static const mn_quant_layer_sens *layer(const mn_quant_analysis *a,
                                        const char *name)
{
    for (int k = 0; k < a->n; k++)
        if (!strcmp(a->layers[k].name, name))
            return &a->layers[k];
    return NULL;
}

TEST(quant_analyze_ranks_layers_and_mixed_precision)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = an_graph(), *out = NULL;
    const char *calib = g ? labelled(g, "an_calib", 64, 5) : NULL;
    const char *held = g ? labelled(g, "an_held", 96, 6) : NULL;
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = calib,
                       .per_tensor = 1, .batch = 16};
    mn_quant_analysis a;
    mn_mixed_result m;
    const mn_quant_layer_sens *c1, *fc;
    CHECK(g && calib && held);
    if (!g || !calib || !held)
        return;
    CHECK_OK(mn_quant_analyze(g, &o, held, 0, &a, &ctx), &ctx);
    CHECK_EQ_INT(a.n, 2);
    CHECK_EQ_INT(a.eval_samples, 96);
    CHECK_EQ_INT(a.calib_samples, 64);
    CHECK_NEAR(a.fp32_accuracy, 1.0, 1e-12);
    c1 = layer(&a, "conv1");
    fc = layer(&a, "fc");
    CHECK(c1 && fc);
    if (c1 && fc) {
        /* per-tensor activations with a 300x channel: the other
         * channels of conv1's output (and of fc's input) get a level or
         * two, so quantizing conv1 alone loses most of the accuracy, fc
         * alone much less. Output SQNR is an energy ratio: the big
         * channel dominates it, so conv1's stays high (35 dB) while the
         * accuracy collapses: the reason the ranking uses the drop first */
        CHECK(c1->drop > 50);
        CHECK(fc->drop < c1->drop);
        CHECK(!strcmp(a.layers[0].name, "conv1"));
        CHECK(c1->sqnr_db > 20 && isfinite(c1->sqnr_db));
        CHECK(fc->sqnr_db > 3 && isfinite(fc->sqnr_db));
        CHECK_NEAR(c1->drop, 100.0 * (1.0 - c1->accuracy), 1e-9);
    }
    for (int k = 1; k < a.n; k++)
        CHECK(a.layers[k - 1].drop >= a.layers[k].drop);
    /* budget 100 points: all quantized at the first step */
    CHECK_OK(mn_quant_mixed(g, &o, held, 0, 100, &a, &out, NULL, &m, &ctx),
             &ctx);
    CHECK_EQ_INT(m.n_float, 0);
    CHECK_EQ_INT(m.steps, 1);
    CHECK_NEAR(m.accuracy, a.quant_accuracy, 1e-12);
    mn_graph_destroy(out);
    /* budget 0: float layers are added until nothing is lost */
    CHECK_OK(mn_quant_mixed(g, &o, held, 0, 0, &a, &out, NULL, &m, &ctx),
             &ctx);
    CHECK(m.drop <= 0);
    CHECK(m.n_float <= a.n);
    mn_graph_destroy(out);
    CHECK(mn_quant_mixed(g, &o, held, 0, -1, &a, &out, NULL, &m, &ctx) ==
          MN_ERR_ARG);
    mn_quant_analysis_free(&a);
    /* the calibration samples themselves are not held out */
    CHECK(mn_quant_analyze(g, &o, calib, 0, &a, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "overlaps") != NULL);
    o.calib_spec = "fashion-mnist:train@0:100";
    CHECK(mn_quant_analyze(g, &o, "fashion-mnist:train@50:", 0, &a, &ctx) ==
          MN_ERR_ARG);
    o.calib_spec = "fashion-mnist";
    CHECK(mn_quant_analyze(g, &o, "fashion-mnist:test@500:", 0, &a, &ctx) ==
          MN_ERR_ARG);
    mn_graph_destroy(g);
}
