/* Tests of the ONNX importer on crafted models: every attribute kind, typed
 * tensor fields, external data, and hostile files (truncated, corrupted,
 * overflowing, inconsistent) that must fail with a message naming the file
 * and never crash. Models are built with the protobuf-c structs. */
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "io/onnx_io.h"
#include "onnx.pb-c.h"
#include "test.h"

int onnx_graphs_equal(const mn_graph *a, const mn_graph *b, const char *what);

#define LABEL "hostile.onnx"

/* A small valid model: y = Relu(x + w), x: [N,4] float, w: 4 floats.
 * Tests tweak the structs, then pack. */
typedef struct mm {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset, *opsets[2];
    Onnx__NodeProto add, relu, *nodes[3];
    char *add_in[2], *add_out[1], *relu_in[1], *relu_out[2];
    Onnx__AttributeProto attr[8], *attrs[8];
    Onnx__TensorProto w, w2, *inits[3];
    float wdata[4];
    int64_t wdims[9];
    Onnx__ValueInfoProto in_x, out_y, *ins[2], *outs[2];
    Onnx__TypeProto tx, ty;
    Onnx__TypeProto__Tensor ttx, tty;
    Onnx__TensorShapeProto sx;
    Onnx__TensorShapeProto__Dimension dx[2], *dxp[2];
    Onnx__StringStringEntryProto meta, *metas[1];
} mm;

static void mm_init(mm *m)
{
    memset(m, 0, sizeof *m);
    onnx__model_proto__init(&m->model);
    onnx__graph_proto__init(&m->graph);
    onnx__operator_set_id_proto__init(&m->opset);
    m->model.has_ir_version = 1;
    m->model.ir_version = 8;
    m->opset.domain = "";
    m->opset.has_version = 1;
    m->opset.version = 13;
    m->opsets[0] = &m->opset;
    m->model.n_opset_import = 1;
    m->model.opset_import = m->opsets;
    m->model.graph = &m->graph;
    m->graph.name = "g";

    onnx__node_proto__init(&m->add);
    m->add.name = "add";
    m->add.op_type = "Add";
    m->add_in[0] = "x";
    m->add_in[1] = "w";
    m->add_out[0] = "s";
    m->add.n_input = 2;
    m->add.input = m->add_in;
    m->add.n_output = 1;
    m->add.output = m->add_out;
    onnx__node_proto__init(&m->relu);
    m->relu.name = "relu";
    m->relu.op_type = "Relu";
    m->relu_in[0] = "s";
    m->relu_out[0] = "y";
    m->relu.n_input = 1;
    m->relu.input = m->relu_in;
    m->relu.n_output = 1;
    m->relu.output = m->relu_out;
    m->relu.attribute = m->attrs;
    for (int i = 0; i < 8; i++) {
        onnx__attribute_proto__init(&m->attr[i]);
        m->attrs[i] = &m->attr[i];
    }
    m->nodes[0] = &m->add;
    m->nodes[1] = &m->relu;
    m->graph.n_node = 2;
    m->graph.node = m->nodes;

    onnx__tensor_proto__init(&m->w);
    m->w.name = "w";
    m->w.has_data_type = 1;
    m->w.data_type = MN_DT_F32;
    m->wdims[0] = 4;
    m->w.n_dims = 1;
    m->w.dims = m->wdims;
    for (int i = 0; i < 4; i++)
        m->wdata[i] = (float)i - 1.5f;
    m->w.has_raw_data = 1;
    m->w.raw_data.data = (uint8_t *)m->wdata;
    m->w.raw_data.len = sizeof m->wdata;
    onnx__tensor_proto__init(&m->w2);
    m->inits[0] = &m->w;
    m->graph.n_initializer = 1;
    m->graph.initializer = m->inits;

    onnx__value_info_proto__init(&m->in_x);
    onnx__type_proto__init(&m->tx);
    onnx__type_proto__tensor__init(&m->ttx);
    onnx__tensor_shape_proto__init(&m->sx);
    for (int i = 0; i < 2; i++) {
        onnx__tensor_shape_proto__dimension__init(&m->dx[i]);
        m->dxp[i] = &m->dx[i];
    }
    m->dx[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    m->dx[0].dim_param = "N";
    m->dx[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    m->dx[1].dim_value = 4;
    m->sx.n_dim = 2;
    m->sx.dim = m->dxp;
    m->ttx.has_elem_type = 1;
    m->ttx.elem_type = MN_DT_F32;
    m->ttx.shape = &m->sx;
    m->tx.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    m->tx.tensor_type = &m->ttx;
    m->in_x.name = "x";
    m->in_x.type = &m->tx;
    m->ins[0] = &m->in_x;
    m->graph.n_input = 1;
    m->graph.input = m->ins;

    onnx__value_info_proto__init(&m->out_y);
    onnx__type_proto__init(&m->ty);
    onnx__type_proto__tensor__init(&m->tty);
    m->tty.has_elem_type = 1;
    m->tty.elem_type = MN_DT_F32;
    m->tty.shape = &m->sx;
    m->ty.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    m->ty.tensor_type = &m->tty;
    m->out_y.name = "y";
    m->out_y.type = &m->ty;
    m->outs[0] = &m->out_y;
    m->graph.n_output = 1;
    m->graph.output = m->outs;

    onnx__string_string_entry_proto__init(&m->meta);
    m->meta.key = "minnow.mean";
    m->meta.value = "0.5";
    m->metas[0] = &m->meta;
    m->model.n_metadata_props = 1;
    m->model.metadata_props = m->metas;
}

static uint8_t *mm_pack(const mm *m, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&m->model);
    uint8_t *b = malloc(*len ? *len : 1);
    onnx__model_proto__pack(&m->model, b);
    return b;
}

/* Loads m from memory; returns the status, graph in *g when asked. */
static mn_status mm_load(const mm *m, mn_graph **g, mn_ctx *ctx)
{
    size_t len;
    uint8_t *b = mm_pack(m, &len);
    mn_graph *tmp = NULL;
    mn_status st = mn_graph_load_onnx_mem(b, len, LABEL, &tmp, ctx);
    free(b);
    if (g)
        *g = tmp;
    else
        mn_graph_destroy(tmp);
    return st;
}

/* The load must fail with st and a message "hostile.onnx: <where>...<what>" */
#define EXPECT_FAIL(m, st_, where, what)                                  \
    do {                                                                  \
        mn_ctx c_ = {{0}};                                                \
        mn_graph *g_ = NULL;                                              \
        mn_status s_ = mm_load((m), &g_, &c_);                            \
        CHECK_EQ_INT(s_, (st_));                                          \
        CHECK(g_ == NULL);                                                \
        if (strncmp(c_.msg, LABEL ": " where, strlen(LABEL ": " where)) || \
            !strstr(c_.msg, (what)))                                      \
            mn_test_fail(__FILE__, __LINE__, "message: %s", c_.msg);      \
        mn_graph_destroy(g_);                                             \
    } while (0)

TEST(onnx_crafted_model_loads)
{
    mm m;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int w;
    mm_init(&m);
    /* nodes out of order in the file: the importer sorts them */
    m.nodes[0] = &m.relu;
    m.nodes[1] = &m.add;
    CHECK_OK(mm_load(&m, &g, &ctx), &ctx);
    if (!g)
        return;
    CHECK_EQ_INT(g->ir_version, 8);
    CHECK_EQ_INT(g->opset, 13);
    CHECK(!strcmp(g->nodes[0].name, "add") && !strcmp(g->nodes[1].name, "relu"));
    CHECK_EQ_INT(mn_graph_num_inputs(g), 1);
    const mn_value *x = &g->values[g->inputs[0]];
    CHECK(x->ndim == 2 && x->dims[0] == -1 && x->dims[1] == 4);
    CHECK(x->dim_param[0] && !strcmp(x->dim_param[0], "N"));
    CHECK(x->dim_param[1] == NULL);
    w = mn_graph_find_value(g, "w");
    CHECK(w >= 0 && g->values[w].init && !g->values[w].is_input);
    if (w >= 0 && g->values[w].init) {
        const float *d = g->values[w].init->data;
        CHECK(d[0] == -1.5f && d[1] == -0.5f && d[2] == 0.5f && d[3] == 1.5f);
    }
    CHECK(mn_graph_meta(g, "minnow.mean") &&
          !strcmp(mn_graph_meta(g, "minnow.mean"), "0.5"));
    CHECK(!strcmp(g->name, "g"));
    mn_graph_destroy(g);
}

TEST(onnx_attribute_kinds_round_trip)
{
    mm m;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL, *h = NULL;
    float fl[3] = {0.25f, -2.0f, 1e30f};
    int64_t in[3] = {-1, 0, (int64_t)1 << 40};
    ProtobufCBinaryData ss[2] = {{3, (uint8_t *)"abc"}, {0, (uint8_t *)""}};
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    int64_t tdims[2] = {2, 2};
    int64_t tdata[4] = {1, -2, 3, INT64_MIN};
    void *buf = NULL;
    size_t len = 0;
    const mn_node *n;
    const mn_attr *a;
    mm_init(&m);
    m.attr[0] = (Onnx__AttributeProto)ONNX__ATTRIBUTE_PROTO__INIT;
    m.attr[0].name = "f"; m.attr[0].has_type = 1; m.attr[0].type = 1;
    m.attr[0].has_f = 1; m.attr[0].f = 0.125f;
    m.attr[1].name = "i"; m.attr[1].has_type = 1; m.attr[1].type = 2;
    m.attr[1].has_i = 1; m.attr[1].i = -7;
    m.attr[2].name = "s"; m.attr[2].has_type = 1; m.attr[2].type = 3;
    m.attr[2].has_s = 1; m.attr[2].s = ss[0];
    t.has_data_type = 1; t.data_type = MN_DT_I64;
    t.n_dims = 2; t.dims = tdims; t.n_int64_data = 4; t.int64_data = tdata;
    m.attr[3].name = "t"; m.attr[3].has_type = 1; m.attr[3].type = 4;
    m.attr[3].t = &t;
    m.attr[4].name = "fs"; m.attr[4].has_type = 1; m.attr[4].type = 6;
    m.attr[4].n_floats = 3; m.attr[4].floats = fl;
    m.attr[5].name = "is"; m.attr[5].has_type = 1; m.attr[5].type = 7;
    m.attr[5].n_ints = 3; m.attr[5].ints = in;
    m.attr[6].name = "ss"; m.attr[6].has_type = 1; m.attr[6].type = 8;
    m.attr[6].n_strings = 2; m.attr[6].strings = ss;
    m.attr[7].name = "empty"; m.attr[7].has_type = 1; m.attr[7].type = 7;
    m.relu.n_attribute = 8;
    CHECK_OK(mm_load(&m, &g, &ctx), &ctx);
    if (!g)
        return;
    n = &g->nodes[1];
    CHECK_NEAR(mn_node_attr_float(n, "f", 0), 0.125, 0);
    CHECK_EQ_INT(mn_node_attr_int(n, "i", 0), -7);
    CHECK(!strcmp(mn_node_attr_string(n, "s", ""), "abc"));
    a = mn_node_attr(n, "t");
    CHECK(a && a->t && a->t->dtype == MN_DT_I64 && a->t->dims[1] == 2);
    if (a && a->t)
        CHECK(!memcmp(a->t->data, tdata, sizeof tdata));
    const float *fv;
    CHECK_EQ_INT(mn_node_attr_floats(n, "fs", &fv), 3);
    CHECK(fv && fv[1] == -2.0f && fv[2] == 1e30f);
    const int64_t *iv;
    CHECK_EQ_INT(mn_node_attr_ints(n, "is", &iv), 3);
    CHECK(iv && iv[0] == -1 && iv[2] == (int64_t)1 << 40);
    a = mn_node_attr(n, "ss");
    CHECK(a && a->n == 2 && !strcmp(a->strings[0], "abc") && !a->strings[1][0]);
    CHECK_EQ_INT(mn_node_attr_ints(n, "empty", &iv), 0);
    CHECK(mn_node_attr(n, "empty") && mn_node_attr(n, "empty")->type == MN_ATTR_INTS);
    CHECK_OK(mn_graph_save_onnx_mem(g, &buf, &len, &ctx), &ctx);
    CHECK_OK(mn_graph_load_onnx_mem(buf, len, "copy", &h, &ctx), &ctx);
    if (h) {
        onnx_graphs_equal(g, h, "attributes");
        const char *dp = h->values[h->inputs[0]].dim_param[0];
        CHECK(dp && !strcmp(dp, "N"));
    }
    free(buf);
    mn_graph_destroy(h);
    mn_graph_destroy(g);
}

TEST(onnx_typed_tensor_fields)
{
    mm m;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int32_t i32[4] = {0, 255, 7, 128};
    double d[4] = {1.5, -2.25, 0, 1e300};
    uint64_t u64[4] = {0, 1, 4294967295u, 7};
    struct {
        int dt;
        int which; /* 0 float, 1 int32, 2 double, 3 uint64 */
    } cases[] = {{MN_DT_F32, 0}, {MN_DT_U8, 1}, {MN_DT_I32, 1},
                 {MN_DT_F16, 1}, {MN_DT_F64, 2}, {MN_DT_U32, 3}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mm_init(&m);
        m.w.has_raw_data = 0;
        m.w.data_type = cases[k].dt;
        if (cases[k].which == 0) {
            m.w.n_float_data = 4;
            m.w.float_data = m.wdata;
        } else if (cases[k].which == 1) {
            m.w.n_int32_data = 4;
            m.w.int32_data = i32;
        } else if (cases[k].which == 2) {
            m.w.n_double_data = 4;
            m.w.double_data = d;
        } else {
            m.w.n_uint64_data = 4;
            m.w.uint64_data = u64;
        }
        CHECK_OK(mm_load(&m, &g, &ctx), &ctx);
        if (!g)
            continue;
        const mn_tensor *t = g->values[mn_graph_find_value(g, "w")].init;
        CHECK_EQ_INT(t->dtype, cases[k].dt);
        switch (cases[k].dt) {
        case MN_DT_F32: CHECK(((float *)t->data)[3] == 1.5f); break;
        case MN_DT_U8: CHECK(((uint8_t *)t->data)[1] == 255); break;
        case MN_DT_I32: CHECK(((int32_t *)t->data)[3] == 128); break;
        case MN_DT_F16: CHECK(((uint16_t *)t->data)[1] == 255); break;
        case MN_DT_F64: CHECK(((double *)t->data)[1] == -2.25); break;
        case MN_DT_U32:
            CHECK(((uint32_t *)t->data)[2] == 4294967295u);
            break;
        }
        mn_graph_destroy(g);
    }
    /* out-of-range narrow values, wrong field, two fields */
    mm_init(&m);
    m.w.has_raw_data = 0;
    m.w.data_type = MN_DT_I8;
    m.w.n_int32_data = 4;
    m.w.int32_data = i32;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "out of range");
    m.w.data_type = MN_DT_I64;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "int32_data cannot hold");
    mm_init(&m);
    m.w.n_float_data = 4;
    m.w.float_data = m.wdata;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "more than one");
    mm_init(&m);
    m.w.has_raw_data = 0;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "no data");
    mm_init(&m);
    m.w.data_type = 14;
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "initializer 'w'", "complex64");
    m.w.data_type = 77;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "invalid data type");
}

TEST(onnx_hostile_shapes_and_sizes)
{
    mm m;
    mm_init(&m);
    /* 2^40 * 2^40 elements: overflows, must fail before allocating */
    m.wdims[0] = m.wdims[1] = (int64_t)1 << 40;
    m.w.n_dims = 2;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "overflow");
    /* empty thanks to a zero dim, but the other dims still overflow */
    m.wdims[2] = 0;
    m.w.n_dims = 3;
    m.w.raw_data.len = 0;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "overflow");
    m.w.raw_data.len = sizeof m.wdata;
    /* 2^40 elements (4 TiB) backed by 16 bytes */
    m.w.n_dims = 1;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "raw_data has 16 bytes");
    m.wdims[0] = 5;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "need 20");
    m.wdims[0] = -4;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "negative dimension");
    for (int i = 0; i < 9; i++)
        m.wdims[i] = 1;
    m.wdims[0] = 4;
    m.w.n_dims = 9;
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "initializer 'w'", "rank 9");
    mm_init(&m);
    m.dx[1].dim_value = -3;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "graph input 'x'", "negative dimension");
    mm_init(&m);
    m.dx[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    m.dx[0].dim_value = (int64_t)1 << 62;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "graph input 'x'", "overflow");
    mm_init(&m);
    m.ttx.elem_type = 8;
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "graph input 'x'", "string");
    mm_init(&m);
    m.in_x.type = NULL;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "graph input 'x'", "no type");
}

TEST(onnx_hostile_names_and_references)
{
    mm m;
    mm_init(&m);
    m.w2 = m.w; /* a second initializer named "w" */
    m.inits[1] = &m.w2;
    m.graph.n_initializer = 2;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer 'w'", "defined twice");
    mm_init(&m);
    m.ins[1] = &m.in_x;
    m.graph.n_input = 2;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "graph input 'x'", "listed twice");
    mm_init(&m);
    m.relu_out[0] = "s"; /* already produced by add */
    EXPECT_FAIL(&m, MN_ERR_PARSE, "node 'relu' (Relu)", "output 's' is already");
    mm_init(&m);
    m.relu_out[0] = "x"; /* overwrites a graph input */
    EXPECT_FAIL(&m, MN_ERR_PARSE, "node 'relu' (Relu)", "output 'x'");
    mm_init(&m);
    m.relu_in[0] = "nope";
    EXPECT_FAIL(&m, MN_ERR_PARSE, "node 'relu' (Relu)", "'nope'");
    mm_init(&m);
    m.add_in[0] = "y"; /* x + w → s → relu → y → back into add */
    EXPECT_FAIL(&m, MN_ERR_PARSE, "", "cycle");
    mm_init(&m);
    m.out_y.name = "zzz";
    EXPECT_FAIL(&m, MN_ERR_PARSE, "graph output 'zzz'", "not produced");
    mm_init(&m);
    m.outs[1] = &m.out_y;
    m.graph.n_output = 2;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "graph output 'y'", "listed twice");
    mm_init(&m);
    m.relu.op_type = "";
    EXPECT_FAIL(&m, MN_ERR_PARSE, "node 'relu' ", "op_type");
    mm_init(&m);
    m.relu.name = NULL;
    m.relu.domain = "com.example";
    EXPECT_FAIL(&m, MN_ERR_PARSE, "node #1 (Relu)", "com.example");
    mm_init(&m);
    m.w.name = NULL;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "initializer #0", "no name");
}

TEST(onnx_hostile_versions_and_attributes)
{
    mm m;
    Onnx__GraphProto sub = ONNX__GRAPH_PROTO__INIT;
    mm_init(&m);
    m.model.ir_version = 2;
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "IR version 2", "not supported");
    m.model.ir_version = 11;
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "IR version 11", "not supported");
    m.model.has_ir_version = 0;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "model has no ir_version", "");
    mm_init(&m);
    m.opset.version = 22;
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "ai.onnx opset 22", "newer");
    mm_init(&m);
    m.opsets[1] = &m.opset;
    m.model.n_opset_import = 2;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "domain '' is imported twice", "");
    mm_init(&m);
    m.model.graph = NULL;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "model has no graph", "");
    mm_init(&m);
    m.attr[0].name = "body";
    m.attr[0].has_type = 1;
    m.attr[0].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    m.attr[0].g = &sub;
    m.relu.n_attribute = 1;
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "node 'relu' (Relu): attribute 'body'",
                "GRAPH");
    m.attr[0].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "node 'relu' (Relu): attribute 'body'",
                "SPARSE_TENSOR");
    m.attr[0].type = 99;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "node 'relu' (Relu): attribute 'body'",
                "invalid type");
    mm_init(&m);
    m.attr[0].name = "a";
    m.attr[0].has_type = 1;
    m.attr[0].type = 2;
    m.attr[1] = m.attr[0];
    m.relu.n_attribute = 2;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "node 'relu' (Relu)", "appears twice");
    mm_init(&m);
    m.attr[0].name = "s";
    m.attr[0].has_type = 1;
    m.attr[0].type = 3;
    m.attr[0].has_s = 1;
    m.attr[0].s.data = (uint8_t *)"a\0b";
    m.attr[0].s.len = 3;
    m.relu.n_attribute = 1;
    EXPECT_FAIL(&m, MN_ERR_PARSE, "node 'relu' (Relu): attribute 's'", "NUL");
}

TEST(onnx_string_initializers_only_when_unused)
{
    mm m;
    mn_ctx ctx = {{0}};
    ProtobufCBinaryData s = {2, (uint8_t *)"hi"};
    mm_init(&m);
    m.w2.name = "labels";
    m.w2.has_data_type = 1;
    m.w2.data_type = MN_DT_STRING;
    m.w2.n_string_data = 1;
    m.w2.string_data = &s;
    m.inits[1] = &m.w2;
    m.graph.n_initializer = 2;
    CHECK_OK(mm_load(&m, NULL, &ctx), &ctx);
    m.relu_in[0] = "labels";
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "node 'relu' (Relu)", "string");
}

TEST(onnx_external_data)
{
    mm m;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    Onnx__StringStringEntryProto kv[3], *kvp[3];
    char path[512], wpath[512];
    float blob[6] = {9, 9, 10, 20, 30, 40};
    uint8_t *b;
    size_t len;
    FILE *f;
    mm_init(&m);
    for (int i = 0; i < 3; i++) {
        onnx__string_string_entry_proto__init(&kv[i]);
        kvp[i] = &kv[i];
    }
    kv[0].key = "location";
    kv[0].value = "weights.bin";
    kv[1].key = "offset";
    kv[1].value = "8";
    kv[2].key = "length";
    kv[2].value = "16";
    m.w.has_raw_data = 0;
    m.w.has_data_location = 1;
    m.w.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    m.w.n_external_data = 3;
    m.w.external_data = kvp;
    /* from memory there is no directory to read from */
    EXPECT_FAIL(&m, MN_ERR_UNSUPPORTED, "initializer 'w'", "external data");
    snprintf(wpath, sizeof wpath, "%s/weights.bin", mn_test_tmp_dir());
    snprintf(path, sizeof path, "%s/ext.onnx", mn_test_tmp_dir());
    f = fopen(wpath, "wb");
    CHECK(f && fwrite(blob, sizeof blob, 1, f) == 1);
    if (f)
        fclose(f);
#define WRITE_MODEL()                                                     \
    do {                                                                  \
        b = mm_pack(&m, &len);                                            \
        f = fopen(path, "wb");                                            \
        CHECK(f && fwrite(b, len, 1, f) == 1);                            \
        if (f)                                                            \
            fclose(f);                                                    \
        free(b);                                                          \
    } while (0)
    WRITE_MODEL();
    CHECK_OK(mn_graph_load_onnx(path, &g, &ctx), &ctx);
    if (g) {
        const float *d = g->values[mn_graph_find_value(g, "w")].init->data;
        CHECK(d[0] == 10 && d[1] == 20 && d[2] == 30 && d[3] == 40);
        mn_graph_destroy(g);
        g = NULL;
    }
    static const struct {
        const char *loc, *off, *len, *why;
        mn_status st;
    } bad[] = {
        {"../weights.bin", "8", "16", "relative path", MN_ERR_PARSE},
        {"sub/../../weights.bin", "8", "16", "relative path", MN_ERR_PARSE},
        {"/etc/passwd", "0", "16", "relative path", MN_ERR_PARSE},
        {"weights.bin", "16", "16", "beyond the end", MN_ERR_PARSE},
        {"weights.bin", "18446744073709551615", "16", "beyond", MN_ERR_PARSE},
        {"weights.bin", "8", "12", "length 12", MN_ERR_PARSE},
        {"weights.bin", "-1", "16", "not a number", MN_ERR_PARSE},
        {"missing.bin", "0", "16", "cannot open", MN_ERR_IO},
        {"", "0", "16", "without a location", MN_ERR_PARSE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kv[0].value = (char *)bad[i].loc;
        kv[1].value = (char *)bad[i].off;
        kv[2].value = (char *)bad[i].len;
        WRITE_MODEL();
        CHECK_EQ_INT(mn_graph_load_onnx(path, &g, &ctx), bad[i].st);
        CHECK(g == NULL);
        if (strncmp(ctx.msg, path, strlen(path)) || !strstr(ctx.msg, bad[i].why) ||
            !strstr(ctx.msg, "initializer 'w'"))
            mn_test_fail(__FILE__, __LINE__, "case %zu: %s", i, ctx.msg);
    }
#undef WRITE_MODEL
}

/* protobuf-c recurses without a limit; the importer must refuse deep
 * nesting instead of overflowing the stack. */
TEST(onnx_hostile_deep_nesting)
{
    enum { DEPTH = 5000 };
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    /* TypeProto{sequence_type(4): Sequence{elem_type(1): TypeProto{...}}}
     * written by hand from the inside out. */
    size_t cap = DEPTH * 16 + 64, pos = cap, len;
    uint8_t *b = malloc(cap);
    size_t inner = 0;
    for (int i = 0; i < DEPTH; i++) {
        /* wrap current [pos, cap) in tag + varint length */
        uint8_t hdr[12];
        size_t h = 0, v = inner;
        hdr[h++] = i % 2 == 0 ? 0x0a : 0x22; /* Sequence.elem_type / TypeProto.sequence_type */
        do {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        pos -= h;
        memcpy(b + pos, hdr, h);
        inner += h;
    }
    /* ValueInfoProto.type(2) → GraphProto.input(11) → ModelProto.graph(7) */
    static const uint8_t wrap_tags[] = {0x12, 0x5a, 0x3a};
    for (size_t k = 0; k < 3; k++) {
        uint8_t hdr[12];
        size_t h = 0, v = inner;
        hdr[h++] = wrap_tags[k];
        do {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        pos -= h;
        memcpy(b + pos, hdr, h);
        inner += h;
    }
    len = cap - pos;
    CHECK_EQ_INT(mn_graph_load_onnx_mem(b + pos, len, LABEL, &g, &ctx),
                 MN_ERR_PARSE);
    CHECK(!strncmp(ctx.msg, LABEL ": ", strlen(LABEL ": ")) &&
          strstr(ctx.msg, "nesting"));
    CHECK(g == NULL);
    free(b);
}

/* Every prefix and many single-byte corruptions of a valid model either
 * load (and then survive a round trip) or fail with a message naming the
 * file — never crash (run under ASan/valgrind to see it). */
static void torture(const uint8_t *b, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    for (size_t n = 0; n < len; n++) {
        mn_ctx ctx = {{0}};
        mn_graph *g = NULL;
        if (mn_graph_load_onnx_mem(b, n, LABEL, &g, &ctx) == MN_OK) {
            CHECK(n > 0); /* the empty prefix has no ir_version */
            mn_graph_destroy(g);
        } else if (strncmp(ctx.msg, LABEL ": ", strlen(LABEL ": ")))
            mn_test_fail(__FILE__, __LINE__, "prefix %zu: %s", n, ctx.msg);
    }
    for (size_t i = 0; i < len; i++)
        for (int mask = 0; mask < 3; mask++) {
            static const uint8_t masks[] = {0xff, 0x80, 0x01};
            mn_ctx ctx = {{0}};
            mn_graph *g = NULL, *h = NULL;
            void *out = NULL;
            size_t olen = 0;
            memcpy(c, b, len);
            c[i] ^= masks[mask];
            if (mn_graph_load_onnx_mem(c, len, LABEL, &g, &ctx) != MN_OK) {
                if (strncmp(ctx.msg, LABEL ": ", strlen(LABEL ": ")))
                    mn_test_fail(__FILE__, __LINE__, "byte %zu: %s", i, ctx.msg);
                continue;
            }
            CHECK_OK(mn_graph_save_onnx_mem(g, &out, &olen, &ctx), &ctx);
            CHECK_OK(mn_graph_load_onnx_mem(out, olen, "copy", &h, &ctx), &ctx);
            free(out);
            mn_graph_destroy(h);
            mn_graph_destroy(g);
        }
    free(c);
}

TEST(onnx_hostile_truncated_and_corrupted)
{
    mm m;
    size_t len;
    uint8_t *b;
    mm_init(&m);
    b = mm_pack(&m, &len);
    torture(b, len);
    free(b);
    {
        FILE *f = fopen("/usr/share/libonnx-testdata/data/node/"
                        "test_conv_with_strides_padding/model.onnx", "rb");
        uint8_t buf[4096];
        CHECK(f != NULL);
        if (!f)
            return;
        len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        CHECK(len > 100 && len < sizeof buf);
        torture(buf, len);
    }
}
