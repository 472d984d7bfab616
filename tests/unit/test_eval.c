/* Tests of accuracy evaluation on models with known answers. */
#include "data_test_util.h"

/* ---- evaluation ---- */

/* x [N,1,2,2] → Flatten → [N,4] → Gemm(B [4,k], C [k]) → scores [N,k]
 * with score j = x[j] + bias[j] for j < 4 and bias[j] beyond. */
static mn_graph *linear_model(int k, const float *bias, mn_ctx *ctx)
{
    mn_graph *g = NULL;
    int xv, fv, bv, cv, yv, node;
    if (mn_graph_create(&g, ctx) != MN_OK)
        return NULL;
    mn_graph_add_value(g, "x", MN_DT_F32, 4, (int64_t[]){-1, 1, 2, 2}, &xv,
                       ctx);
    mn_graph_add_value(g, "f", MN_DT_F32, -1, NULL, &fv, ctx);
    mn_graph_add_value(g, "B", MN_DT_F32, 2, (int64_t[]){4, k}, &bv, ctx);
    mn_graph_add_value(g, "C", MN_DT_F32, 1, (int64_t[]){k}, &cv, ctx);
    mn_graph_add_value(g, "y", MN_DT_F32, -1, NULL, &yv, ctx);
    mn_tensor_create(MN_DT_F32, 2, (int64_t[]){4, k}, &g->values[bv].init,
                     ctx);
    mn_tensor_create(MN_DT_F32, 1, (int64_t[]){k}, &g->values[cv].init, ctx);
    for (int i = 0; i < 4 && i < k; i++)
        ((float *)g->values[bv].init->data)[i * k + i] = 1;
    for (int j = 0; j < k; j++)
        ((float *)g->values[cv].init->data)[j] = bias[j];
    mn_graph_add_node(g, "flat", "Flatten", "", 13, &xv, 1, &fv, 1, &node, ctx);
    mn_graph_add_node(g, "fc", "Gemm", "", 13, (int[]){fv, bv, cv}, 3, &yv, 1,
                      &node, ctx);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = xv;
    g->outputs[0] = yv;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
    if (mn_graph_toposort(g, ctx) != MN_OK) {
        mn_graph_destroy(g);
        return NULL;
    }
    return g;
}

static int have_eval_ops(void)
{
    if (mn_op_get(MN_OP_FLATTEN) && mn_op_get(MN_OP_GEMM))
        return 1;
    mn_test_fail(__FILE__, __LINE__, "ops Flatten/Gemm missing");
    return 0;
}

TEST(eval_accuracy_top1_top5_partial_batch)
{
    /* 7 samples of 4 values; the label's rank among 6 scores is chosen:
     * bias puts classes 4, 5 at 0.5 and 0.25 */
    static const float xs[7][4] = {
        {1, 0, 0, 0},     /* best 0 */
        {0, 2, 0, 0},     /* best 1 */
        {0, 0, 0, 3},     /* best 3 */
        {0.1f, 0.2f, 0.3f, 0.4f}, /* best 4 (0.5) */
        {-1, -2, -3, -4}, /* order 4,5,0,1,2,3 */
        {0, 0, 0.9f, 0},  /* best 2 */
        {0.6f, 0, 0, 0},  /* best 0 */
    };
    /* labels: hit, hit, rank 1, hit, rank 5 (class 3), rank 1, rank 3 */
    static const int64_t labs[7] = {0, 1, 4, 4, 3, 4, 1};
    const float bias[6] = {0, 0, 0, 0, 0.5f, 0.25f};
    mn_ctx ctx = {{0}};
    mn_eval_result r;
    mn_graph *g;
    char spec[1200];
    if (!have_eval_ops())
        return;
    save_f32(tpath("ex.npy"), 4, (int64_t[]){7, 1, 2, 2}, 0);
    {
        mn_tensor *t = NULL;
        CHECK_OK(mn_tensor_load_npy(tpath("ex.npy"), &t, &ctx), &ctx);
        if (!t)
            return;
        memcpy(t->data, xs, sizeof xs);
        CHECK_OK(mn_tensor_save_npy(tpath("ex.npy"), t, &ctx), &ctx);
        mn_tensor_destroy(t);
    }
    save_labels(tpath("ey.npy"), MN_DT_I64, 7, labs);
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath("ex.npy"), tpath("ey.npy"));
    g = linear_model(6, bias, &ctx);
    CHECK(g != NULL);
    if (!g)
        return;
    for (int batch = 1; batch <= 8; batch += 2) {
        CHECK_OK(mn_eval_accuracy(g, spec, NULL, batch, 1, &r, &ctx), &ctx);
        CHECK_EQ_INT(r.samples, 7);
        CHECK_NEAR(r.accuracy, 3.0 / 7.0, 1e-12);
        CHECK_NEAR(r.top5, 6.0 / 7.0, 1e-12);
        CHECK(r.seconds >= 0);
    }
    mn_data_opts lim = {.limit = 2};
    CHECK_OK(mn_eval_accuracy(g, spec, &lim, 4, 1, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.samples, 2);
    CHECK_NEAR(r.accuracy, 1.0, 0);
    mn_graph_destroy(g);

    /* 3 classes: no top-5; label 4 exceeds the model's classes */
    g = linear_model(3, bias, &ctx);
    if (!g)
        return;
    CHECK(mn_eval_accuracy(g, spec, NULL, 4, 1, &r, &ctx) == MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "label 4") != NULL);
    static const int64_t small[7] = {0, 1, 2, 0, 0, 2, 0};
    save_labels(tpath("ey3.npy"), MN_DT_I64, 7, small);
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath("ex.npy"),
             tpath("ey3.npy"));
    CHECK_OK(mn_eval_accuracy(g, spec, NULL, 4, 1, &r, &ctx), &ctx);
    /* argmax over the first three scores: 0, 1, 0(tie), 2, 0, 2, 0 */
    CHECK_NEAR(r.accuracy, 5.0 / 7.0, 1e-12);
    CHECK(r.top5 < 0);
    mn_graph_destroy(g);
}

TEST(eval_uses_model_mean_std)
{
    /* one 2×2 image with pixels 128, 0, 0, 0 and label 0; bias favours
     * class 2 by 0.6. Raw: scores 0.502, 0, 0.6 → class 2 (miss).
     * With mean 0.5 std 0.5: 0.004, -1, -0.4 → class 0 (hit). */
    const uint8_t lab[1] = {0};
    uint8_t img[16 + 4] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2,
                           128, 0, 0, 0};
    uint8_t labf[9] = {0, 0, 8, 1, 0, 0, 0, 1, 0};
    const float bias[3] = {0, 0, 0.6f};
    mn_ctx ctx = {{0}};
    mn_eval_result r;
    mn_graph *g;
    (void)lab;
    if (!have_eval_ops())
        return;
    CHECK(write_file(tpath("m-img"), img, sizeof img, 0));
    CHECK(write_file(tpath("m-lab"), labf, sizeof labf, 1));
    const char *spec = spec2("idx:", tpath("m-img"), tpath("m-lab"));
    g = linear_model(3, bias, &ctx);
    if (!g)
        return;
    CHECK_OK(mn_eval_accuracy(g, spec, NULL, 8, 1, &r, &ctx), &ctx);
    CHECK_NEAR(r.accuracy, 0, 0);
    CHECK_OK(mn_graph_set_meta(g, "minnow.mean", "0.5", &ctx), &ctx);
    CHECK_OK(mn_graph_set_meta(g, "minnow.std", "0.5", &ctx), &ctx);
    CHECK_OK(mn_eval_accuracy(g, spec, NULL, 8, 1, &r, &ctx), &ctx);
    CHECK_NEAR(r.accuracy, 1, 0);
    CHECK_EQ_INT(r.samples, 1);
    /* options win over metadata */
    mn_data_opts o = {.n_mean = 1, .mean = {0}, .n_std = 1, .std = {1}};
    CHECK_OK(mn_eval_accuracy(g, spec, &o, 8, 1, &r, &ctx), &ctx);
    CHECK_NEAR(r.accuracy, 0, 0);
    /* malformed metadata is reported */
    CHECK_OK(mn_graph_set_meta(g, "minnow.std", "half", &ctx), &ctx);
    CHECK(mn_eval_accuracy(g, spec, NULL, 8, 1, &r, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "minnow.std") != NULL);
    mn_graph_destroy(g);
}
