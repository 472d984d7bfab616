/* Tests of the graph IR, the memory planner and sessions. */
#include <stdlib.h>
#include <string.h>
#include "core/session.h"
#include "ops/ops.h"
#include "test.h"

extern long mn_test_allocs;

static uint64_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

TEST(planner_never_overlaps_live_buffers)
{
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + (int)(rnd() % 40);
        mn_plan_buf b[40];
        size_t sum = 0;
        for (int i = 0; i < n; i++) {
            b[i].bytes = 1 + rnd() % 5000;
            b[i].first = (int)(rnd() % 30);
            b[i].last = b[i].first + (int)(rnd() % 6);
            sum += (b[i].bytes + 63) & ~(size_t)63;
        }
        size_t total = mn_plan_arena(b, n);
        CHECK(total <= sum);
        for (int i = 0; i < n; i++) {
            CHECK(b[i].offset % 64 == 0);
            CHECK(b[i].offset + b[i].bytes <= total);
            for (int j = i + 1; j < n; j++) {
                int live = b[i].first <= b[j].last && b[j].first <= b[i].last;
                int mem = b[i].offset < b[j].offset + b[j].bytes &&
                          b[j].offset < b[i].offset + b[i].bytes;
                if (live && mem)
                    mn_test_fail(__FILE__, __LINE__,
                                 "trial %d: buffers %d and %d overlap", trial,
                                 i, j);
            }
        }
    }
}

TEST(planner_reuses_memory_in_a_chain)
{
    /* A chain a→b→c→d: each buffer is live for two steps, so two slots
     * suffice. */
    mn_plan_buf b[4];
    for (int i = 0; i < 4; i++) {
        b[i].bytes = 1024;
        b[i].first = i;
        b[i].last = i + 1;
    }
    CHECK_EQ_INT(mn_plan_arena(b, 4), 2048);
}

/* x → Relu → r → Add(r, c) → y, plus a dead node. */
static mn_graph *small_graph(mn_ctx *ctx)
{
    mn_graph *g;
    int x, r, c, y, dead, node;
    int64_t dims[2] = {-1, 4};
    if (mn_graph_create(&g, ctx) != MN_OK)
        return NULL;
    mn_graph_add_value(g, "x", MN_DT_F32, 2, dims, &x, ctx);
    mn_graph_add_value(g, "r", MN_DT_F32, -1, NULL, &r, ctx);
    mn_graph_add_value(g, "c", MN_DT_F32, 1, (int64_t[]){4}, &c, ctx);
    mn_graph_add_value(g, "y", MN_DT_F32, -1, NULL, &y, ctx);
    mn_graph_add_value(g, "dead", MN_DT_F32, -1, NULL, &dead, ctx);
    mn_tensor_create(MN_DT_F32, 1, (int64_t[]){4}, &g->values[c].init, ctx);
    for (int i = 0; i < 4; i++)
        ((float *)g->values[c].init->data)[i] = (float)i;
    /* add in reverse order to exercise the topological sort */
    mn_graph_add_node(g, "add", "Add", "", 13, (int[]){r, c}, 2, &y, 1, &node,
                      ctx);
    mn_graph_add_node(g, "unused", "Relu", "", 13, &y, 1, &dead, 1, &node, ctx);
    mn_graph_add_node(g, "relu", "Relu", "", 13, &x, 1, &r, 1, &node, ctx);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = x;
    g->outputs[0] = y;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
    return g;
}

TEST(graph_toposort_and_dead_code)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = small_graph(&ctx);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    CHECK(!strcmp(g->nodes[0].name, "relu"));
    CHECK(!strcmp(g->nodes[1].name, "add"));
    CHECK_OK(mn_graph_prune_dead(g, &ctx), &ctx);
    CHECK_EQ_INT(g->n_nodes, 2);
    CHECK_EQ_INT(mn_graph_find_value(g, "dead"), -1);
    CHECK(mn_graph_find_value(g, "y") >= 0);
    mn_graph_destroy(g);
}

TEST(graph_rejects_cycles_and_undefined_inputs)
{
    mn_ctx ctx = {{0}};
    mn_graph *g;
    int a, b, n;
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    mn_graph_add_value(g, "a", MN_DT_F32, -1, NULL, &a, &ctx);
    mn_graph_add_value(g, "b", MN_DT_F32, -1, NULL, &b, &ctx);
    mn_graph_add_node(g, "n1", "Relu", "", 13, &a, 1, &b, 1, &n, &ctx);
    mn_graph_add_node(g, "n2", "Relu", "", 13, &b, 1, &a, 1, &n, &ctx);
    CHECK(mn_graph_toposort(g, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "cycle") != NULL);
    mn_graph_destroy(g);

    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    mn_graph_add_value(g, "a", MN_DT_F32, -1, NULL, &a, &ctx);
    mn_graph_add_value(g, "b", MN_DT_F32, -1, NULL, &b, &ctx);
    mn_graph_add_node(g, "n1", "Relu", "", 13, &a, 1, &b, 1, &n, &ctx);
    CHECK(mn_graph_toposort(g, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "'a'") != NULL && strstr(ctx.msg, "n1") != NULL);
    mn_graph_destroy(g);

    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    mn_graph_add_value(g, "a", MN_DT_F32, -1, NULL, &a, &ctx);
    CHECK(mn_graph_add_value(g, "a", MN_DT_F32, -1, NULL, &b, &ctx) ==
          MN_ERR_PARSE);
    mn_graph_destroy(g);
}

TEST(session_runs_without_allocating)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = small_graph(&ctx);
    mn_session *s = NULL;
    mn_tensor *x = NULL;
    if (!g || !mn_op_get(MN_OP_RELU) || !mn_op_get(MN_OP_ADD)) {
        mn_test_fail(__FILE__, __LINE__, "ops Relu/Add missing");
        mn_graph_destroy(g);
        return;
    }
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    mn_session_opts o = {.batch = 3};
    CHECK_OK(mn_session_create(g, &o, &s, &ctx), &ctx);
    if (!s) {
        mn_graph_destroy(g);
        return;
    }
    CHECK_OK(mn_tensor_create(MN_DT_F32, 2, (int64_t[]){3, 4}, &x, &ctx), &ctx);
    for (int i = 0; i < 12; i++)
        ((float *)x->data)[i] = (float)(i - 6);
    long before = mn_test_allocs;
    for (int rep = 0; rep < 3; rep++)
        CHECK_OK(mn_session_run(s, (const mn_tensor *const *)&x, 1, &ctx), &ctx);
    CHECK_EQ_INT(mn_test_allocs - before, 0);
    const mn_tensor *y = mn_session_output(s, 0);
    CHECK_EQ_INT(y->ndim, 2);
    CHECK_EQ_INT(y->dims[0], 3);
    for (int i = 0; i < 12; i++) {
        float want = (float)(i - 6 > 0 ? i - 6 : 0) + (float)(i % 4);
        CHECK_NEAR(((float *)y->data)[i], want, 0);
    }
    /* wrong input shape is refused with the input's name */
    x->dims[0] = 2;
    CHECK(mn_session_run(s, (const mn_tensor *const *)&x, 1, &ctx) ==
          MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "'x'") != NULL);
    x->dims[0] = 3;
    mn_tensor_destroy(x);
    mn_session_destroy(s);
    mn_graph_destroy(g);
}

TEST(session_reports_unsupported_op_by_node)
{
    mn_ctx ctx = {{0}};
    mn_graph *g;
    mn_session *s = NULL;
    int a, b, n;
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    mn_graph_add_value(g, "a", MN_DT_F32, 1, (int64_t[]){2}, &a, &ctx);
    mn_graph_add_value(g, "b", MN_DT_F32, -1, NULL, &b, &ctx);
    mn_graph_add_node(g, "weird", "NoSuchOp", "", 13, &a, 1, &b, 1, &n, &ctx);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = a;
    g->outputs[0] = b;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
    CHECK(mn_session_create(g, NULL, &s, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "weird") && strstr(ctx.msg, "NoSuchOp"));
    CHECK(s == NULL);
    mn_graph_destroy(g);
}

TEST(graph_clone_is_deep)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = small_graph(&ctx), *c = NULL;
    CHECK_OK(mn_graph_clone(g, &c, &ctx), &ctx);
    if (c) {
        CHECK_EQ_INT(c->n_nodes, g->n_nodes);
        CHECK_EQ_INT(c->n_values, g->n_values);
        int ci = mn_graph_find_value(c, "c");
        CHECK(c->values[ci].init != g->values[ci].init);
        CHECK_NEAR(((float *)c->values[ci].init->data)[3], 3.0, 0);
    }
    mn_graph_destroy(c);
    mn_graph_destroy(g);
}
