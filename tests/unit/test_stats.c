/* Model statistics against counts worked out by hand. */
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "test.h"

static int add_init(mn_graph *g, const char *name, int nd, const int64_t *dims,
                    float fill_every, mn_ctx *ctx)
{
    int v;
    mn_graph_add_value(g, name, MN_DT_F32, nd, dims, &v, ctx);
    mn_tensor_create(MN_DT_F32, nd, dims, &g->values[v].init, ctx);
    int64_t n = mn_tensor_numel(g->values[v].init);
    for (int64_t i = 0; i < n; i++)
        ((float *)g->values[v].init->data)[i] =
            (fill_every > 0 && i % (int64_t)fill_every == 0) ? 0.0f : 0.5f;
    return v;
}

/* x[N,3,8,8] → Conv 4×3×3×3 pad 1 → depthwise Conv 4×1×3×3 stride 2 pad 1
 * → Flatten → Gemm 10×64 (transB) */
TEST(stats_count_params_and_macs)
{
    mn_ctx ctx = {{0}};
    mn_graph *g;
    mn_attr *a;
    int x, w1, b1, y1, w2, y2, f, w3, b3, out, n;
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    mn_graph_add_value(g, "x", MN_DT_F32, 4, (int64_t[]){-1, 3, 8, 8}, &x, &ctx);
    w1 = add_init(g, "w1", 4, (int64_t[]){4, 3, 3, 3}, 2, &ctx); /* half zero */
    b1 = add_init(g, "b1", 1, (int64_t[]){4}, 0, &ctx);
    w2 = add_init(g, "w2", 4, (int64_t[]){4, 1, 3, 3}, 0, &ctx);
    w3 = add_init(g, "w3", 2, (int64_t[]){10, 64}, 0, &ctx);
    b3 = add_init(g, "b3", 1, (int64_t[]){10}, 0, &ctx);
    mn_graph_add_value(g, "y1", MN_DT_F32, -1, NULL, &y1, &ctx);
    mn_graph_add_value(g, "y2", MN_DT_F32, -1, NULL, &y2, &ctx);
    mn_graph_add_value(g, "f", MN_DT_F32, -1, NULL, &f, &ctx);
    mn_graph_add_value(g, "out", MN_DT_F32, -1, NULL, &out, &ctx);
    mn_graph_add_node(g, "conv1", "Conv", "", 13, (int[]){x, w1, b1}, 3, &y1, 1,
                      &n, &ctx);
    mn_node_add_attr(&g->nodes[n], "pads", MN_ATTR_INTS, &a, &ctx);
    mn_attr_set_ints(a, (int64_t[]){1, 1, 1, 1}, 4, &ctx);
    mn_graph_add_node(g, "dw", "Conv", "", 13, (int[]){y1, w2}, 2, &y2, 1, &n,
                      &ctx);
    mn_node_add_attr(&g->nodes[n], "pads", MN_ATTR_INTS, &a, &ctx);
    mn_attr_set_ints(a, (int64_t[]){1, 1, 1, 1}, 4, &ctx);
    mn_node_add_attr(&g->nodes[n], "strides", MN_ATTR_INTS, &a, &ctx);
    mn_attr_set_ints(a, (int64_t[]){2, 2}, 2, &ctx);
    mn_node_add_attr(&g->nodes[n], "group", MN_ATTR_INT, &a, &ctx);
    a->i = 4;
    mn_graph_add_node(g, "flat", "Flatten", "", 13, &y2, 1, &f, 1, &n, &ctx);
    mn_graph_add_node(g, "fc", "Gemm", "", 13, (int[]){f, w3, b3}, 3, &out, 1,
                      &n, &ctx);
    mn_node_add_attr(&g->nodes[n], "transB", MN_ATTR_INT, &a, &ctx);
    a->i = 1;
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->outputs[0] = out;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);

    mn_model_stats st;
    CHECK_OK(mn_model_stats_compute(g, &st, &ctx), &ctx);
    /* conv1: 4 out ch × 8×8 positions × 27 = 6912; dw: 4 × 4×4 × 9 = 576;
     * fc: 10 × 64 = 640 */
    CHECK_EQ_INT(st.macs, 6912 + 576 + 640);
    CHECK_EQ_INT(st.params, 108 + 4 + 36 + 640 + 10);
    CHECK_EQ_INT(st.nonzero_params, 54 + 4 + 36 + 640 + 10);
    CHECK_EQ_INT(st.n_layers, 3);
    if (st.n_layers == 3) {
        CHECK(!strcmp(st.layers[0].name, "conv1"));
        CHECK_EQ_INT(st.layers[0].macs, 6912);
        CHECK_EQ_INT(st.layers[1].params, 36);
        CHECK_EQ_INT(st.layers[2].macs, 640);
    }
    /* planned arena: y1 (1×4×8×8 floats = 1 KiB) and y2 (256 B) overlap,
     * plus whatever scratch the conv kernels ask for; never zero */
    CHECK(st.arena_bytes >= 1024 + 256);
    mn_model_stats_free(&st);
    mn_graph_destroy(g);
}
