/* Empirical bias correction (src/quant/bias_correct.c): each corrected
 * bias equals the original minus the per-channel mean of the layer's
 * output change when only its weights are quantized, measured here
 * independently (a second model with fake-quantized weights, both run on
 * the calibration samples); layers without bias get one; --keep-float
 * layers are left alone; memory does not grow with the sample count. */
#include "minnow/quant.h"
#include "quant/quant.h"
#include "quant_build_util.h"

extern long mn_test_allocs;

/* x[N,2,8,8] → conv1 3x3 pad 1 (2→4, bias) → relu → conv2 3x3 pad 1
 * (4→3, no bias) → relu → GlobalAveragePool → Flatten → fc (Gemm, transB,
 * 3→5, bias) → y */
static mn_graph *bc_graph(void)
{
    mn_ctx ctx = {{0}};
    qb b = {NULL, 0x243f6a8885a308d3ULL};
    int64_t dx[4] = {-1, 2, 8, 8}, dw1[4] = {4, 2, 3, 3}, d4[1] = {4};
    int64_t dw2[4] = {3, 4, 3, 3}, dfc[2] = {5, 3}, d5[1] = {5};
    int64_t pads[4] = {1, 1, 1, 1};
    int x, w1, b1, w2, wf, bf, c1, r1, c2, r2, gp, fl, y, n;
    if (mn_graph_create(&b.g, &ctx) != MN_OK)
        return NULL;
    x = qb_value(&b, "x", 4, dx);
    w1 = qb_weight(&b, "w1", 4, dw1, -0.7f, 0.9f);
    b1 = qb_weight(&b, "b1", 1, d4, -0.2f, 0.2f);
    w2 = qb_weight(&b, "w2", 4, dw2, -0.5f, 0.6f);
    wf = qb_weight(&b, "wf", 2, dfc, -1, 1);
    bf = qb_weight(&b, "bf", 1, d5, -0.1f, 0.1f);
    n = qb_node(&b, "conv1", "Conv", (int[]){x, w1, b1}, 3, &c1);
    qb_attr(&b, n, "pads", MN_ATTR_INTS, 0, pads, 4);
    qb_node(&b, "relu1", "Relu", &c1, 1, &r1);
    n = qb_node(&b, "conv2", "Conv", (int[]){r1, w2}, 2, &c2);
    qb_attr(&b, n, "pads", MN_ATTR_INTS, 0, pads, 4);
    qb_node(&b, "relu2", "Relu", &c2, 1, &r2);
    qb_node(&b, "gap", "GlobalAveragePool", &r2, 1, &gp);
    qb_node(&b, "flat", "Flatten", &gp, 1, &fl);
    n = qb_node(&b, "fc", "Gemm", (int[]){fl, wf, bf}, 3, &y);
    qb_attr(&b, n, "transB", MN_ATTR_INT, 1, NULL, 0);
    qb_io(&b, x, y);
    return b.g;
}

static int find_node(const mn_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    return -1;
}

/* Calibration samples: n random inputs, saved as npy; returns the spec. */
static const char *calib_file(int64_t n, mn_tensor **x)
{
    static char spec[600];
    char path[512];
    mn_ctx ctx = {{0}};
    qb b = {NULL, 99};
    int64_t d[4] = {n, 2, 8, 8};
    if (mn_tensor_create(MN_DT_F32, 4, d, x, &ctx) != MN_OK)
        return NULL;
    for (int64_t i = 0; i < mn_tensor_numel(*x); i++)
        ((float *)(*x)->data)[i] = qb_rand(&b, -1, 2);
    snprintf(path, sizeof path, "%s/bc_calib.npy", mn_test_tmp_dir());
    CHECK_OK(mn_tensor_save_npy(path, *x, &ctx), &ctx);
    snprintf(spec, sizeof spec, "npy:%s", path);
    return spec;
}

/* Per-channel mean over x of layer `name`'s output with its weight
 * fake-quantized minus with the fp32 weight (everything else fp32). */
static void measured_error(const mn_graph *g, const char *name,
                           const mn_tensor *x, double *err)
{
    mn_ctx ctx = {{0}};
    mn_graph *q = NULL;
    mn_session *s0 = NULL, *s1 = NULL;
    int ni = find_node(g, name), out;
    mn_qlayer l;
    mn_tensor *wq = NULL;
    float *sc = NULL;
    int64_t ns = 0;
    const mn_tensor *shapes[1] = {x};
    mn_session_opts so = {.n_input_shapes = 1, .input_shapes = shapes,
                          .keep_values = 1};
    CHECK(ni >= 0 && mn_q_layer(g, ni, &l));
    CHECK_OK(mn_graph_clone(g, &q, &ctx), &ctx);
    {
        mn_tensor *w = q->values[q->nodes[ni].in[1]].init;
        int64_t inner = 1, c = w->dims[l.w_axis];
        CHECK_OK(mn_q_weight_sym(w, l.w_axis, 0, 127, 0, &wq, &sc, &ns, &ctx),
                 &ctx);
        for (int k = l.w_axis + 1; k < w->ndim; k++)
            inner *= w->dims[k];
        for (int64_t i = 0; i < mn_tensor_numel(w); i++)
            ((float *)w->data)[i] = (float)((int8_t *)wq->data)[i] *
                                    sc[(i / inner) % c];
    }
    out = g->nodes[ni].out[0];
    CHECK_OK(mn_session_create(g, &so, &s0, &ctx), &ctx);
    CHECK_OK(mn_session_create(q, &so, &s1, &ctx), &ctx);
    CHECK_OK(mn_session_run(s0, &x, 1, &ctx), &ctx);
    CHECK_OK(mn_session_run(s1, &x, 1, &ctx), &ctx);
    {
        const mn_tensor *a = mn_session_value(s0, out);
        const mn_tensor *b = mn_session_value(s1, out);
        int64_t n = a->dims[0], c = a->dims[1], inner = mn_tensor_numel(a) / (n * c);
        for (int64_t k = 0; k < c; k++) {
            double s = 0;
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < inner; j++) {
                    int64_t at = (i * c + k) * inner + j;
                    s += (double)((float *)b->data)[at] - ((float *)a->data)[at];
                }
            err[k] = s / (double)(n * inner);
        }
    }
    free(sc);
    mn_tensor_destroy(wq);
    mn_session_destroy(s0);
    mn_session_destroy(s1);
    mn_graph_destroy(q);
}

static const float *bias_of(const mn_graph *g, const char *name)
{
    int ni = find_node(g, name);
    if (ni < 0 || g->nodes[ni].n_in < 3 || g->nodes[ni].in[2] < 0)
        return NULL;
    return g->values[g->nodes[ni].in[2]].init->data;
}

TEST(quant_bias_correct_subtracts_measured_error)
{
    static const char *const layers[3] = {"conv1", "conv2", "fc"};
    static const int channels[3] = {4, 3, 5};
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL;
    const char *spec = calib_file(40, &x);
    mn_graph *g = bc_graph(), *before = NULL;
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .calib_count = 40, .batch = 16};
    int corrected = 0;
    CHECK(spec && g);
    if (!spec || !g)
        return;
    CHECK_OK(mn_graph_clone(g, &before, &ctx), &ctx);
    CHECK_OK(mn_quant_bias_correct(g, &o, &corrected, &ctx), &ctx);
    CHECK_EQ_INT(corrected, 3);
    for (int k = 0; k < 3; k++) {
        double err[8] = {0}, big = 0;
        const float *b0 = bias_of(before, layers[k]), *b1 = bias_of(g, layers[k]);
        CHECK(b1 != NULL);
        if (!b1)
            continue;
        measured_error(before, layers[k], x, err);
        for (int c = 0; c < channels[k]; c++) {
            double want = (b0 ? b0[c] : 0.0) - err[c];
            CHECK_NEAR(b1[c], want, 1e-6 + 1e-4 * fabs(err[c]));
            big = fmax(big, fabs(err[c]));
        }
        /* the test means something: the errors are not all zero */
        CHECK(big > 1e-5);
    }
    mn_graph_destroy(before);
    mn_graph_destroy(g);
    mn_tensor_destroy(x);
}

TEST(quant_bias_correct_keep_float_and_memory)
{
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL;
    const char *spec = calib_file(64, &x);
    const char *keep[1] = {"conv2"};
    mn_quant_opts o = {.mode = MN_QUANT_INT8, .calib_spec = spec,
                       .batch = 8, .n_keep_float = 1, .keep_float = keep};
    mn_graph *g;
    long a1, a2;
    int corrected = 0;
    if (!spec)
        return;
    g = bc_graph();
    o.calib_count = 8;
    a1 = mn_test_allocs;
    CHECK_OK(mn_quant_bias_correct(g, &o, &corrected, &ctx), &ctx);
    a1 = mn_test_allocs - a1;
    CHECK_EQ_INT(corrected, 2);
    CHECK(bias_of(g, "conv2") == NULL); /* kept float: untouched */
    mn_graph_destroy(g);
    g = bc_graph();
    o.calib_count = 64;
    a2 = mn_test_allocs;
    CHECK_OK(mn_quant_bias_correct(g, &o, &corrected, &ctx), &ctx);
    a2 = mn_test_allocs - a2;
    mn_graph_destroy(g);
    /* 8x the samples, not one allocation more */
    CHECK_EQ_INT(a1, a2);
    /* modes without calibration refuse */
    g = bc_graph();
    o.mode = MN_QUANT_DYNAMIC;
    o.bias_correct = 1;
    CHECK(mn_quantize(g, &o, NULL, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "bias correction") != NULL);
    mn_graph_destroy(g);
    mn_tensor_destroy(x);
}
