/* Cross-layer equalization (src/quant/equalize.c): the fp32 function is
 * kept (hand-built 1x1 → depthwise → 1x1 chain, the peer models and the
 * bundled Fashion-MNIST CNN), channel ranges of a pair end up equal, the
 * range spread drops, and a ReLU6 between two layers stops the rescaling. */
#include <dirent.h>
#include "minnow/quant.h"
#include "quant_build_util.h"

/* x[N,3,6,6] → conv1 1x1 (3→8) → relu → dw 3x3 (8 groups) → relu →
 * conv3 1x1 (8→4) → y, with output channels of conv1 scaled far apart. */
static mn_graph *chain_graph(int relu6)
{
    mn_ctx ctx = {{0}};
    qb b = {NULL, 0x9e3779b97f4a7c15ULL};
    int64_t dx[4] = {-1, 3, 6, 6}, dw1[4] = {8, 3, 1, 1}, d8[1] = {8};
    int64_t dwd[4] = {8, 1, 3, 3}, dw3[4] = {4, 8, 1, 1}, d4[1] = {4};
    int64_t pads[4] = {1, 1, 1, 1}, d0[1] = {1};
    int x, w1, b1, w2, b2, w3, b3, c1, r1, c2, r2, y, n;
    if (mn_graph_create(&b.g, &ctx) != MN_OK)
        return NULL;
    x = qb_value(&b, "x", 4, dx);
    w1 = qb_weight(&b, "w1", 4, dw1, -1, 1);
    b1 = qb_weight(&b, "b1", 1, d8, -0.5f, 0.5f);
    w2 = qb_weight(&b, "w2", 4, dwd, -1, 1);
    b2 = qb_weight(&b, "b2", 1, d8, -0.5f, 0.5f);
    w3 = qb_weight(&b, "w3", 4, dw3, -1, 1);
    b3 = qb_weight(&b, "b3", 1, d4, -0.5f, 0.5f);
    for (int k = 0; k < 3; k++) { /* channel 2 ×50, channel 5 ×0.02 */
        ((float *)b.g->values[w1].init->data)[2 * 3 + k] *= 50;
        ((float *)b.g->values[w1].init->data)[5 * 3 + k] *= 0.02f;
    }
    ((float *)b.g->values[b1].init->data)[2] *= 50;
    ((float *)b.g->values[b1].init->data)[5] *= 0.02f;
    qb_node(&b, "conv1", "Conv", (int[]){x, w1, b1}, 3, &c1);
    if (relu6) {
        int lo = qb_weight(&b, "lo", 0, d0, 0, 0);
        int hi = qb_weight(&b, "hi", 0, d0, 6, 6);
        ((float *)b.g->values[hi].init->data)[0] = 6;
        qb_node(&b, "relu1", "Clip", (int[]){c1, lo, hi}, 3, &r1);
    } else {
        qb_node(&b, "relu1", "Relu", &c1, 1, &r1);
    }
    n = qb_node(&b, "dw", "Conv", (int[]){r1, w2, b2}, 3, &c2);
    qb_attr(&b, n, "group", MN_ATTR_INT, 8, NULL, 0);
    qb_attr(&b, n, "pads", MN_ATTR_INTS, 0, pads, 4);
    qb_node(&b, "relu2", "Relu", &c2, 1, &r2);
    qb_node(&b, "conv3", "Conv", (int[]){r2, w3, b3}, 3, &y);
    qb_io(&b, x, y);
    return b.g;
}

static mn_tensor *rand_input(int64_t n, int c, int h, int w, uint64_t seed)
{
    mn_ctx ctx = {{0}};
    qb b = {NULL, seed};
    mn_tensor *x = NULL;
    int64_t d[4] = {n, c, h, w};
    if (mn_tensor_create(MN_DT_F32, 4, d, &x, &ctx) != MN_OK)
        return NULL;
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        ((float *)x->data)[i] = qb_rand(&b, -1, 2);
    return x;
}

static double absmax_where(const mn_tensor *w, int64_t o0, int64_t o1,
                           int64_t J, int64_t j, int64_t inner)
{
    double m = 0;
    for (int64_t o = o0; o < o1; o++)
        for (int64_t i = 0; i < inner; i++)
            m = fmax(m, fabs(((const float *)w->data)[(o * J + j) * inner + i]));
    return m;
}

static const mn_tensor *weight_of(const mn_graph *g, const char *node)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, node))
            return g->values[g->nodes[i].in[1]].init;
    return NULL;
}

TEST(quant_equalize_chain_keeps_function_and_balances)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = chain_graph(0);
    mn_tensor *x = rand_input(2, 3, 6, 6, 7), *y0, *y1;
    mn_equalize_opts eo = {.iterations = 100};
    mn_equalize_report r;
    const mn_tensor *w1, *w2, *w3;
    CHECK(g && x);
    y0 = qb_run(g, x);
    CHECK_OK(mn_quant_equalize(g, &eo, &r, &ctx), &ctx);
    y1 = qb_run(g, x);
    CHECK_EQ_INT(r.pairs, 2);
    CHECK_EQ_INT(r.skipped_clip, 0);
    CHECK(qb_rel_diff(y0, y1) <= 1e-5);
    /* conv1's channels 2 and 5 are 50x / 0.02x the others: the mean
     * max/mean range spread of the pairs' first layers (4.23 here) falls
     * by a third (to 2.72: what is left is the channels' product of
     * ranges over the three layers, which rescaling cannot change) */
    CHECK(r.spread_before > 4.0);
    CHECK(r.spread_after > 1.0 && r.spread_after < 0.7 * r.spread_before);
    w1 = weight_of(g, "conv1");
    w2 = weight_of(g, "dw");
    w3 = weight_of(g, "conv3");
    for (int c = 0; c < 8; c++) {
        double r1 = absmax_where(w1, c, c + 1, 1, 0, 3);
        double r2 = absmax_where(w2, c, c + 1, 1, 0, 9);
        double r3 = absmax_where(w3, 0, 4, 8, c, 1);
        CHECK_NEAR(r1 / r2, 1.0, 1e-3);
        CHECK_NEAR(r2 / r3, 1.0, 1e-3);
    }
    mn_tensor_destroy(y0);
    mn_tensor_destroy(y1);
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

TEST(quant_equalize_skips_relu6)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = chain_graph(1), *before = NULL;
    mn_equalize_report r;
    CHECK(g);
    CHECK_OK(mn_graph_clone(g, &before, &ctx), &ctx);
    CHECK_OK(mn_quant_equalize(g, NULL, &r, &ctx), &ctx);
    /* conv1 → Clip(0, 6) → dw is skipped; dw → relu → conv3 is not */
    CHECK_EQ_INT(r.pairs, 1);
    CHECK_EQ_INT(r.skipped_clip, 1);
    CHECK(!memcmp(weight_of(g, "conv1")->data, weight_of(before, "conv1")->data,
                  mn_tensor_nbytes(weight_of(g, "conv1"))));
    CHECK(memcmp(weight_of(g, "dw")->data, weight_of(before, "dw")->data,
                 mn_tensor_nbytes(weight_of(g, "dw"))) != 0);
    mn_graph_destroy(before);
    mn_graph_destroy(g);
}

/* Equalizes an optimized copy of the model and compares outputs on x. */
static void check_model(const char *path, const mn_tensor *x, int *pairs,
                        int *clips)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_tensor *y0 = NULL, *y1 = NULL;
    mn_equalize_report r = {0};
    CHECK_OK(mn_graph_load_onnx(path, &g, &ctx), &ctx);
    if (!g)
        return;
    CHECK_OK(mn_graph_optimize(g, &ctx), &ctx);
    y0 = qb_run(g, x);
    CHECK_OK(mn_quant_equalize(g, NULL, &r, &ctx), &ctx);
    y1 = qb_run(g, x);
    if (!(qb_rel_diff(y0, y1) <= 1e-4))
        mn_test_fail(__FILE__, __LINE__, "%s: equalized output differs by "
                     "%g (relative)", path, qb_rel_diff(y0, y1));
    if (r.pairs && !(r.spread_after <= r.spread_before))
        mn_test_fail(__FILE__, __LINE__, "%s: spread %g → %g", path,
                     r.spread_before, r.spread_after);
    *pairs += r.pairs;
    *clips += r.skipped_clip;
    mn_tensor_destroy(y0);
    mn_tensor_destroy(y1);
    mn_graph_destroy(g);
}

TEST(quant_equalize_peers_and_fashion_cnn_unchanged)
{
    char dir[1024], path[2048];
    int models = 0, pairs = 0, clips = 0, fpairs = 0, fclips = 0;
    mn_tensor *xf = rand_input(1, 1, 28, 28, 11);
    DIR *d;
    struct dirent *e;
    snprintf(dir, sizeof dir, "%s/peers", mn_test_data_dir());
    if (!(d = opendir(dir))) {
        mn_test_fail(__FILE__, __LINE__, "no %s", dir);
        mn_tensor_destroy(xf);
        return;
    }
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        mn_ctx ctx = {{0}};
        mn_tensor *x = NULL;
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx"))
            continue;
        snprintf(path, sizeof path, "%s/%.*s.input.npy", dir, (int)(l - 5),
                 e->d_name);
        CHECK_OK(mn_tensor_load_npy(path, &x, &ctx), &ctx);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (x)
            check_model(path, x, &pairs, &clips);
        models++;
        mn_tensor_destroy(x);
    }
    closedir(d);
    check_model("models/fashion_cnn.onnx", xf, &fpairs, &fclips);
    mn_tensor_destroy(xf);
    CHECK(models >= 5);
    /* fashion_cnn: conv→bn→relu→pool→conv twice, fc1→relu→fc2 */
    CHECK_EQ_INT(fpairs, 3);
    CHECK_EQ_INT(fclips, 0);
    /* the peers have equalizable pairs, and ReLU6 blocks (MobileNetV2) */
    CHECK(pairs >= 4);
    CHECK(clips >= 1);
}
