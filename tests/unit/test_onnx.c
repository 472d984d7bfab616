/* Tests of ONNX import/export and .pb tensors on the ONNX backend test data
 * (/usr/share/libonnx-testdata, installed by scripts/deps.sh test). Crafted
 * and hostile models are in test_onnx_hostile.c. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/graph.h"
#include "io/onnx_io.h"
#include "ops/ops.h"
#include "test.h"

#define TD "/usr/share/libonnx-testdata/data/"

int onnx_graphs_equal(const mn_graph *a, const mn_graph *b, const char *what);

static mn_graph *load(const char *rel, mn_ctx *ctx)
{
    char path[512];
    mn_graph *g = NULL;
    snprintf(path, sizeof path, TD "%s/model.onnx", rel);
    CHECK_OK(mn_graph_load_onnx(path, &g, ctx), ctx);
    return g;
}

static mn_tensor *load_pb(const char *rel, const char *file, char **name,
                          mn_ctx *ctx)
{
    char path[512];
    mn_tensor *t = NULL;
    snprintf(path, sizeof path, TD "%s/test_data_set_0/%s", rel, file);
    CHECK_OK(mn_tensor_load_pb(path, &t, name, ctx), ctx);
    return t;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Expected opcode: the table entry when the op family is built in. */
static mn_opcode expect_op(mn_opcode op)
{
    return mn_op_get(op) ? op : MN_OP_UNKNOWN;
}

static int attr_ints_eq(const mn_node *n, const char *name,
                        const int64_t *want, int nw)
{
    const int64_t *v;
    int k = mn_node_attr_ints(n, name, &v);
    if (k != nw)
        return 0;
    for (int i = 0; i < k; i++)
        if (v[i] != want[i])
            return 0;
    return 1;
}

/* ---- structural comparison (also used by test_onnx_hostile.c) ---- */

static int tensors_equal(const mn_tensor *a, const mn_tensor *b)
{
    if (!a || !b)
        return a == b;
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return memcmp(a->data, b->data, mn_tensor_nbytes(a)) == 0;
}

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int attrs_equal(const mn_attr *a, const mn_attr *b)
{
    if (!str_eq(a->name, b->name) || a->type != b->type)
        return 0;
    switch (a->type) {
    case MN_ATTR_FLOAT: return a->f == b->f;
    case MN_ATTR_INT: return a->i == b->i;
    case MN_ATTR_STRING: return str_eq(a->s, b->s);
    case MN_ATTR_TENSOR: return tensors_equal(a->t, b->t);
    case MN_ATTR_FLOATS:
        return a->n == b->n &&
               (a->n == 0 || !memcmp(a->floats, b->floats,
                                     (size_t)a->n * sizeof(float)));
    case MN_ATTR_INTS:
        return a->n == b->n &&
               (a->n == 0 || !memcmp(a->ints, b->ints,
                                     (size_t)a->n * sizeof(int64_t)));
    case MN_ATTR_STRINGS:
        if (a->n != b->n)
            return 0;
        for (int i = 0; i < a->n; i++)
            if (!str_eq(a->strings[i], b->strings[i]))
                return 0;
        return 1;
    default: return 0;
    }
}

static const char *vn(const mn_graph *g, int v)
{
    return v < 0 ? "" : g->values[v].name;
}

/* Same nodes (order, ops, wiring by name, attributes), inputs, outputs,
 * initializers, declared shapes and metadata. Reports the first
 * difference. */
int onnx_graphs_equal(const mn_graph *a, const mn_graph *b, const char *what)
{
#define DIFF(...)                                                          \
    do {                                                                   \
        mn_test_fail(__FILE__, __LINE__, "%s: ", what);                    \
        fprintf(stderr, "    " __VA_ARGS__);                               \
        fputc('\n', stderr);                                               \
        return 0;                                                          \
    } while (0)
    if (a->opset != b->opset || a->n_nodes != b->n_nodes ||
        a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs)
        DIFF("opset %lld/%lld nodes %d/%d inputs %d/%d outputs %d/%d",
             (long long)a->opset, (long long)b->opset, a->n_nodes, b->n_nodes,
             a->n_inputs, b->n_inputs, a->n_outputs, b->n_outputs);
    for (int i = 0; i < a->n_nodes; i++) {
        const mn_node *x = &a->nodes[i], *y = &b->nodes[i];
        if (!str_eq(x->name, y->name) || !str_eq(x->op_type, y->op_type) ||
            !str_eq(x->domain, y->domain) || x->op != y->op ||
            x->opset != y->opset || x->n_in != y->n_in ||
            x->n_out != y->n_out || x->n_attrs != y->n_attrs)
            DIFF("node %d (%s) differs", i, x->op_type);
        for (int j = 0; j < x->n_in; j++)
            if (!str_eq(vn(a, x->in[j]), vn(b, y->in[j])))
                DIFF("node %d input %d: %s vs %s", i, j, vn(a, x->in[j]),
                     vn(b, y->in[j]));
        for (int j = 0; j < x->n_out; j++)
            if (!str_eq(vn(a, x->out[j]), vn(b, y->out[j])))
                DIFF("node %d output %d differs", i, j);
        for (int k = 0; k < x->n_attrs; k++)
            if (!attrs_equal(&x->attrs[k], &y->attrs[k]))
                DIFF("node %d attribute %s differs", i, x->attrs[k].name);
    }
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? a->n_outputs : a->n_inputs;
        for (int i = 0; i < n; i++) {
            const mn_value *x = &a->values[pass ? a->outputs[i] : a->inputs[i]];
            const mn_value *y = &b->values[pass ? b->outputs[i] : b->inputs[i]];
            if (!str_eq(x->name, y->name) || x->dtype != y->dtype ||
                x->ndim != y->ndim)
                DIFF("%s %d: %s differs", pass ? "output" : "input", i,
                     x->name);
            for (int k = 0; k < x->ndim; k++)
                if (x->dims[k] != y->dims[k] ||
                    !str_eq(x->dim_param[k], y->dim_param[k]))
                    DIFF("%s dim %d differs", x->name, k);
        }
    }
    for (int v = 0; v < a->n_values; v++) {
        const mn_value *x = &a->values[v];
        int w = mn_graph_find_value(b, x->name);
        if (!x->init)
            continue;
        if (w < 0 || !tensors_equal(x->init, b->values[w].init))
            DIFF("initializer %s differs", x->name);
    }
    for (int v = 0; v < b->n_values; v++)
        if (b->values[v].init && mn_graph_find_value(a, b->values[v].name) < 0)
            DIFF("extra initializer %s", b->values[v].name);
    if (a->n_meta != b->n_meta)
        DIFF("metadata %d vs %d", a->n_meta, b->n_meta);
    for (int i = 0; i < a->n_meta; i++)
        if (!str_eq(mn_graph_meta(b, a->meta[i].key), a->meta[i].value))
            DIFF("metadata %s differs", a->meta[i].key);
    return 1;
#undef DIFF
}

/* ---- models from the ONNX test data ---- */

TEST(onnx_load_conv_attributes_and_shapes)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("node/test_conv_with_strides_padding", &ctx);
    const mn_node *n;
    int64_t dims[MN_MAX_DIMS];
    int ndim;
    mn_dtype dt;
    if (!g)
        return;
    CHECK_EQ_INT(g->ir_version, 6);
    CHECK_EQ_INT(g->opset, 11);
    CHECK_EQ_INT(g->n_nodes, 1);
    CHECK_EQ_INT(mn_graph_num_inputs(g), 2);
    CHECK_EQ_INT(mn_graph_num_outputs(g), 1);
    CHECK(!strcmp(mn_graph_input_name(g, 0), "x"));
    CHECK(!strcmp(mn_graph_input_name(g, 1), "W"));
    CHECK(!strcmp(mn_graph_output_name(g, 0), "y"));
    CHECK_OK(mn_graph_input_shape(g, 0, &ndim, dims, &dt), &ctx);
    CHECK_EQ_INT(ndim, 4);
    CHECK(dt == MN_DT_F32);
    CHECK(dims[0] == 1 && dims[1] == 1 && dims[2] == 7 && dims[3] == 5);
    n = &g->nodes[0];
    CHECK(!strcmp(n->op_type, "Conv"));
    CHECK_EQ_INT(n->op, expect_op(MN_OP_CONV));
    CHECK_EQ_INT(n->opset, 11);
    CHECK_EQ_INT(n->n_in, 2);
    CHECK(attr_ints_eq(n, "kernel_shape", (int64_t[]){3, 3}, 2));
    CHECK(attr_ints_eq(n, "pads", (int64_t[]){1, 1, 1, 1}, 4));
    CHECK(attr_ints_eq(n, "strides", (int64_t[]){2, 2}, 2));
    /* output shape comes from the graph's output ValueInfo */
    const mn_value *y = &g->values[g->outputs[0]];
    CHECK_EQ_INT(y->ndim, 4);
    CHECK(y->dims[2] == 4 && y->dims[3] == 3);
    CHECK(y->producer == 0 && y->is_output);
    CHECK(!strcmp(g->source, TD "node/test_conv_with_strides_padding/model.onnx"));
    CHECK_EQ_INT(g->file_bytes,
                 file_size(TD "node/test_conv_with_strides_padding/model.onnx"));
    mn_graph_destroy(g);
}

/* IR 3 / opset 6 file from PyTorch: weights are initializers that are also
 * listed as graph inputs. y = x W^T + b recomputed from the loaded weights
 * must match the reference output. */
TEST(onnx_load_ir3_initializers_match_reference)
{
    mn_ctx ctx = {{0}};
    const char *m = "pytorch-converted/test_Linear";
    mn_graph *g = load(m, &ctx);
    mn_tensor *x = load_pb(m, "input_0.pb", NULL, &ctx);
    mn_tensor *y = load_pb(m, "output_0.pb", NULL, &ctx);
    const mn_tensor *w = NULL, *b = NULL;
    int checked = 0;
    if (!g || !x || !y)
        goto out;
    CHECK_EQ_INT(g->ir_version, 3);
    CHECK_EQ_INT(g->opset, 6);
    CHECK_EQ_INT(mn_graph_num_inputs(g), 1); /* weights are not inputs */
    CHECK_EQ_INT(g->n_nodes, 1);
    CHECK(!strcmp(g->nodes[0].op_type, "Gemm"));
    CHECK_EQ_INT(g->nodes[0].op, expect_op(MN_OP_GEMM));
    CHECK_EQ_INT(mn_node_attr_int(&g->nodes[0], "transB", 0), 1);
    w = g->values[g->nodes[0].in[1]].init;
    b = g->values[g->nodes[0].in[2]].init;
    CHECK(w && b && !g->values[g->nodes[0].in[1]].is_input);
    if (!w || !b)
        goto out;
    CHECK(w->ndim == 2 && b->ndim == 1 && w->dims[0] == b->dims[0]);
    CHECK(x->ndim == 2 && x->dims[1] == w->dims[1]);
    CHECK(y->dims[0] == x->dims[0] && y->dims[1] == w->dims[0]);
    for (int64_t i = 0; i < x->dims[0]; i++)
        for (int64_t o = 0; o < w->dims[0]; o++) {
            double s = ((const float *)b->data)[o];
            for (int64_t k = 0; k < w->dims[1]; k++)
                s += (double)((const float *)x->data)[i * x->dims[1] + k] *
                     ((const float *)w->data)[o * w->dims[1] + k];
            CHECK_NEAR(((const float *)y->data)[i * y->dims[1] + o], s, 1e-4);
            checked++;
        }
    CHECK(checked >= 10);
out:
    mn_tensor_destroy(x);
    mn_tensor_destroy(y);
    mn_graph_destroy(g);
}

/* A Constant node is kept; its TENSOR attribute (float_data) equals the
 * reference output. */
TEST(onnx_load_constant_tensor_attribute)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("node/test_constant", &ctx);
    char *name = NULL;
    mn_tensor *ref = load_pb("node/test_constant", "output_0.pb", &name, &ctx);
    const mn_attr *a;
    if (!g || !ref)
        goto out;
    CHECK_EQ_INT(g->n_nodes, 1);
    CHECK_EQ_INT(g->nodes[0].op, expect_op(MN_OP_CONSTANT));
    CHECK_EQ_INT(mn_graph_num_inputs(g), 0);
    a = mn_node_attr(&g->nodes[0], "value");
    CHECK(a && a->type == MN_ATTR_TENSOR && a->t);
    CHECK(name && !strcmp(name, "values"));
    if (a && a->t) {
        CHECK(a->t->dtype == MN_DT_F32 && a->t->ndim == 2);
        CHECK(a->t->dims[0] == 5 && a->t->dims[1] == 5);
        CHECK(tensors_equal(a->t, ref));
    }
out:
    free(name);
    mn_tensor_destroy(ref);
    mn_graph_destroy(g);
}

/* Constants stored in int64_data (an "expanded" function body). */
TEST(onnx_load_int64_constants_and_node_opsets)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("node/test_layer_normalization_2d_axis0_expanded", &ctx);
    int n_i64 = 0;
    if (!g)
        return;
    CHECK_EQ_INT(g->opset, 17);
    CHECK_EQ_INT(g->n_nodes, 30);
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_attr *a = mn_node_attr(&g->nodes[i], "value");
        CHECK_EQ_INT(g->nodes[i].opset, 17);
        if (a && a->type == MN_ATTR_TENSOR && a->t->dtype == MN_DT_I64)
            n_i64++;
    }
    CHECK(n_i64 >= 1);
    mn_graph_destroy(g);
}

TEST(onnx_load_custom_domain_only_model)
{
    /* ai.onnx.preview.training is the only imported domain */
    mn_ctx ctx = {{0}};
    mn_graph *g = load("node/test_adagrad", &ctx);
    if (!g)
        return;
    CHECK_EQ_INT(g->n_nodes, 1);
    CHECK(!strcmp(g->nodes[0].domain, "ai.onnx.preview.training"));
    CHECK_EQ_INT(g->nodes[0].op, MN_OP_UNKNOWN);
    CHECK_EQ_INT(g->nodes[0].opset, 1);
    mn_graph_destroy(g);
}

TEST(onnx_load_refuses_subgraphs_and_strings_clearly)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    CHECK(mn_graph_load_onnx(TD "node/test_if/model.onnx", &g, &ctx) ==
          MN_ERR_UNSUPPORTED);
    CHECK(g == NULL);
    CHECK(strstr(ctx.msg, "test_if/model.onnx: node") != NULL);
    CHECK(strstr(ctx.msg, "(If)") && strstr(ctx.msg, "GRAPH"));
    CHECK(mn_graph_load_onnx(TD "node/test_castlike_FLOAT_to_STRING/model.onnx",
                             &g, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "string") != NULL);
    CHECK(mn_graph_load_onnx(TD "node/no_such_model/model.onnx", &g, &ctx) ==
          MN_ERR_IO);
    CHECK(strstr(ctx.msg, "no_such_model") != NULL);
}

/* ---- .pb tensors ---- */

TEST(onnx_pb_tensors_relu_reference)
{
    mn_ctx ctx = {{0}};
    char *xn = NULL, *yn = NULL;
    mn_tensor *x = load_pb("node/test_relu", "input_0.pb", &xn, &ctx);
    mn_tensor *y = load_pb("node/test_relu", "output_0.pb", &yn, &ctx);
    int neg = 0;
    if (!x || !y)
        goto out;
    CHECK(!strcmp(xn, "x") && !strcmp(yn, "y"));
    CHECK(x->dtype == MN_DT_F32 && x->ndim == 3);
    CHECK(x->dims[0] == 3 && x->dims[1] == 4 && x->dims[2] == 5);
    CHECK_EQ_INT(mn_tensor_numel(y), 60);
    for (int i = 0; i < 60; i++) {
        float v = ((float *)x->data)[i];
        neg += v < 0;
        CHECK_NEAR(((float *)y->data)[i], v > 0 ? v : 0, 0);
    }
    CHECK(neg > 5 && neg < 55); /* a real mix of signs */
out:
    free(xn);
    free(yn);
    mn_tensor_destroy(x);
    mn_tensor_destroy(y);
}

static int dir_has_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d)
        return 1;
    while ((e = readdir(d)))
        found |= strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return found;
}

TEST(onnx_pb_save_load_round_trip_every_dtype)
{
    static const mn_dtype dts[] = {MN_DT_F32, MN_DT_U8,  MN_DT_I8,
                                   MN_DT_U16, MN_DT_I16, MN_DT_I32,
                                   MN_DT_I64, MN_DT_BOOL, MN_DT_F16,
                                   MN_DT_F64, MN_DT_U32, MN_DT_U64};
    mn_ctx ctx = {{0}};
    char path[512];
    snprintf(path, sizeof path, "%s/t.pb", mn_test_tmp_dir());
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        mn_tensor *t = NULL, *u = NULL;
        char *name = NULL;
        CHECK_OK(mn_tensor_create(dts[k], 3, (int64_t[]){2, 3, 4}, &t, &ctx),
                 &ctx);
        if (!t)
            continue;
        for (size_t i = 0; i < mn_tensor_nbytes(t); i++)
            ((uint8_t *)t->data)[i] = (uint8_t)(i * 37 + k);
        if (dts[k] == MN_DT_BOOL)
            for (int i = 0; i < 24; i++)
                ((uint8_t *)t->data)[i] &= 1;
        CHECK_OK(mn_tensor_save_pb(path, t, "weights", &ctx), &ctx);
        CHECK_OK(mn_tensor_load_pb(path, &u, &name, &ctx), &ctx);
        CHECK(tensors_equal(t, u));
        CHECK(name && !strcmp(name, "weights"));
        free(name);
        mn_tensor_destroy(u);
        mn_tensor_destroy(t);
    }
    CHECK(!dir_has_tmp(mn_test_tmp_dir()));
    /* a scalar without a name */
    {
        mn_tensor *t = NULL, *u = NULL;
        char *name = NULL;
        void *buf = NULL;
        size_t len = 0;
        CHECK_OK(mn_tensor_create(MN_DT_F32, 0, NULL, &t, &ctx), &ctx);
        *(float *)t->data = 2.5f;
        CHECK_OK(mn_tensor_save_pb_mem(t, NULL, &buf, &len, &ctx), &ctx);
        CHECK_OK(mn_tensor_load_pb_mem(buf, len, &u, &name, &ctx), &ctx);
        CHECK(u && u->ndim == 0 && *(float *)u->data == 2.5f);
        CHECK(name && name[0] == 0);
        free(name);
        free(buf);
        mn_tensor_destroy(u);
        mn_tensor_destroy(t);
    }
    /* unwritable location: an error, and nothing left behind */
    {
        mn_tensor *t = NULL;
        CHECK_OK(mn_tensor_create(MN_DT_F32, 1, (int64_t[]){3}, &t, &ctx),
                 &ctx);
        CHECK(mn_tensor_save_pb("/nonexistent-dir/x.pb", t, "x", &ctx) ==
              MN_ERR_IO);
        CHECK(strstr(ctx.msg, "/nonexistent-dir/x.pb") != NULL);
        mn_tensor_destroy(t);
    }
}

TEST(onnx_pb_every_prefix_fails_cleanly)
{
    mn_ctx ctx = {{0}};
    mn_tensor *t = NULL;
    void *buf = NULL;
    size_t len = 0, ok = 0;
    CHECK_OK(mn_tensor_create(MN_DT_F32, 2, (int64_t[]){3, 4}, &t, &ctx),
             &ctx);
    CHECK_OK(mn_tensor_save_pb_mem(t, "x", &buf, &len, &ctx), &ctx);
    mn_tensor_destroy(t);
    for (size_t n = 0; n < len; n++) {
        mn_tensor *u = NULL;
        char *name = NULL;
        mn_status st = mn_tensor_load_pb_mem(buf, n, &u, &name, &ctx);
        if (st == MN_OK) {
            ok++;
            free(name);
            mn_tensor_destroy(u);
        } else {
            CHECK(u == NULL && name == NULL);
            CHECK(!strncmp(ctx.msg, "<memory>", 8));
        }
    }
    CHECK(ok == 0); /* the data field comes last, so every prefix is short */
    free(buf);
}

/* ---- round trips ---- */

static void round_trip(const char *rel)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load(rel, &ctx), *h = NULL;
    void *buf = NULL;
    size_t len = 0;
    if (!g)
        return;
    CHECK_OK(mn_graph_set_meta(g, "minnow.test", rel, &ctx), &ctx);
    CHECK_OK(mn_graph_save_onnx_mem(g, &buf, &len, &ctx), &ctx);
    CHECK_OK(mn_graph_load_onnx_mem(buf, len, "copy", &h, &ctx), &ctx);
    if (h) {
        onnx_graphs_equal(g, h, rel);
        CHECK(h->ir_version >= 7);
        CHECK(!strcmp(h->source, "copy"));
        CHECK_EQ_INT(h->file_bytes, (long long)len);
    }
    free(buf);
    mn_graph_destroy(h);
    mn_graph_destroy(g);
}

TEST(onnx_round_trip_selected_models)
{
    round_trip("node/test_conv_with_strides_padding");
    round_trip("node/test_constant");
    round_trip("pytorch-converted/test_Linear");
    round_trip("pytorch-converted/test_Conv2d");
    round_trip("node/test_layer_normalization_2d_axis0_expanded");
    round_trip("node/test_adagrad");
}

TEST(onnx_round_trip_file_is_atomic)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("pytorch-converted/test_Conv2d", &ctx), *h = NULL;
    char path[512];
    if (!g)
        return;
    snprintf(path, sizeof path, "%s/conv.onnx", mn_test_tmp_dir());
    CHECK_OK(mn_graph_save_onnx(g, path, &ctx), &ctx);
    CHECK_OK(mn_graph_save_onnx(g, path, &ctx), &ctx); /* overwrite */
    CHECK(!dir_has_tmp(mn_test_tmp_dir()));
    CHECK_OK(mn_graph_load_onnx(path, &h, &ctx), &ctx);
    if (h) {
        onnx_graphs_equal(g, h, path);
        CHECK_EQ_INT(h->file_bytes, file_size(path));
    }
    CHECK(mn_graph_save_onnx(g, "/nonexistent-dir/m.onnx", &ctx) ==
          MN_ERR_IO);
    /* rename onto a directory fails after writing: the temp file goes */
    snprintf(path, sizeof path, "%s/adir", mn_test_tmp_dir());
    CHECK(mkdir(path, 0755) == 0);
    CHECK(mn_graph_save_onnx(g, path, &ctx) == MN_ERR_IO);
    CHECK(strstr(ctx.msg, "adir") != NULL);
    CHECK(!dir_has_tmp(mn_test_tmp_dir()));
    mn_graph_destroy(h);
    mn_graph_destroy(g);
}

TEST(onnx_export_refuses_inconsistent_graph)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = load("node/test_relu", &ctx);
    void *buf = NULL;
    size_t len = 0;
    if (!g)
        return;
    /* the node output also carries constant data */
    CHECK_OK(mn_tensor_create(MN_DT_F32, 0, NULL, &g->values[g->outputs[0]].init,
                              &ctx), &ctx);
    CHECK(mn_graph_save_onnx_mem(g, &buf, &len, &ctx) == MN_ERR_ARG);
    CHECK(buf == NULL && strstr(ctx.msg, "'y'") != NULL);
    mn_graph_destroy(g);
}

/* Every model of the test data that loads must survive save → load with
 * the same structure. */
TEST(onnx_round_trip_all_test_data)
{
    static const char *const dirs[] = {"node", "pytorch-converted",
                                       "pytorch-operator", "simple"};
    int loaded = 0, total = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        char dp[512];
        DIR *dir;
        struct dirent *e;
        snprintf(dp, sizeof dp, TD "%s", dirs[d]);
        dir = opendir(dp);
        CHECK(dir != NULL);
        if (!dir)
            continue;
        while ((e = readdir(dir))) {
            char path[1024];
            mn_ctx ctx = {{0}};
            mn_graph *g = NULL, *h = NULL;
            void *buf = NULL;
            size_t len = 0;
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s/model.onnx", dp, e->d_name);
            total++;
            if (mn_graph_load_onnx(path, &g, &ctx) != MN_OK) {
                CHECK(!strncmp(ctx.msg, path, strlen(path)));
                continue;
            }
            loaded++;
            CHECK_OK(mn_graph_save_onnx_mem(g, &buf, &len, &ctx), &ctx);
            CHECK_OK(mn_graph_load_onnx_mem(buf, len, path, &h, &ctx), &ctx);
            if (h)
                onnx_graphs_equal(g, h, path);
            free(buf);
            mn_graph_destroy(h);
            mn_graph_destroy(g);
        }
        closedir(dir);
    }
    CHECK(total > 1000);
    CHECK(loaded > 950);
}
