/* Tests of minnow's own model file (.mnw): exact round trips of real
 * models (same outputs, same bytes on re-save), every weight storage
 * (float32/16, int8, packed int4, int32, sparse bitmask) bit for bit, the
 * sizes sparse and 4-bit storage reach, forward-compatibility rules, and
 * hostile files (every prefix, every single-byte flip, crafted fields). */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "io/onnx_io.h"
#include "minnow/mnw.h"
#include "minnow/quant.h"
#include "test.h"

/* ---- helpers ---- */

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static int str_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int tensor_same(const mn_tensor *a, const mn_tensor *b)
{
    if (!a || !b)
        return a == b;
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->dims[k] != b->dims[k])
            return 0;
    return memcmp(a->data, b->data, mn_tensor_nbytes(a)) == 0;
}

static int attr_same(const mn_attr *x, const mn_attr *y)
{
    if (!str_same(x->name, y->name) || x->type != y->type)
        return 0;
    switch (x->type) {
    case MN_ATTR_FLOAT: return memcmp(&x->f, &y->f, 4) == 0;
    case MN_ATTR_INT: return x->i == y->i;
    case MN_ATTR_STRING: return str_same(x->s, y->s);
    case MN_ATTR_TENSOR: return tensor_same(x->t, y->t);
    case MN_ATTR_FLOATS:
        return x->n == y->n &&
               (!x->n || !memcmp(x->floats, y->floats, 4 * (size_t)x->n));
    case MN_ATTR_INTS:
        return x->n == y->n &&
               (!x->n || !memcmp(x->ints, y->ints, 8 * (size_t)x->n));
    case MN_ATTR_STRINGS:
        if (x->n != y->n)
            return 0;
        for (int k = 0; k < x->n; k++)
            if (!str_same(x->strings[k], y->strings[k]))
                return 0;
        return 1;
    default: return 0;
    }
}

/* Everything the file stores must come back identical. */
static int graphs_identical(const mn_graph *a, const mn_graph *b,
                            const char *what)
{
#define DIFF(...)                                                            \
    do {                                                                     \
        mn_test_fail(__FILE__, __LINE__, "%s differs: " __VA_ARGS__);        \
        return 0;                                                            \
    } while (0)
    if (!str_same(a->name, b->name) || a->ir_version != b->ir_version ||
        a->opset != b->opset || !str_same(a->producer_name, b->producer_name) ||
        !str_same(a->producer_version, b->producer_version))
        DIFF("%s graph header", what);
    if (a->n_values != b->n_values || a->n_nodes != b->n_nodes ||
        a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs ||
        a->n_meta != b->n_meta)
        DIFF("%s counts", what);
    for (int i = 0; i < a->n_inputs; i++)
        if (a->inputs[i] != b->inputs[i])
            DIFF("%s input %d", what, i);
    for (int i = 0; i < a->n_outputs; i++)
        if (a->outputs[i] != b->outputs[i])
            DIFF("%s output %d", what, i);
    for (int i = 0; i < a->n_values; i++) {
        const mn_value *x = &a->values[i], *y = &b->values[i];
        if (!str_same(x->name, y->name) || x->dtype != y->dtype ||
            x->ndim != y->ndim || x->is_input != y->is_input ||
            x->is_output != y->is_output || x->producer != y->producer)
            DIFF("%s value %d '%s'", what, i, x->name);
        for (int k = 0; k < x->ndim; k++)
            if (x->dims[k] != y->dims[k] ||
                !str_same(x->dim_param[k], y->dim_param[k]))
                DIFF("%s value '%s' dim %d", what, x->name, k);
        if (!tensor_same(x->init, y->init))
            DIFF("%s value '%s' data", what, x->name);
        if (!x->quant != !y->quant)
            DIFF("%s value '%s' quant presence", what, x->name);
        if (x->quant &&
            (x->quant->qtype != y->quant->qtype ||
             x->quant->axis != y->quant->axis || x->quant->n != y->quant->n ||
             memcmp(x->quant->scale, y->quant->scale, 4 * (size_t)x->quant->n) ||
             memcmp(x->quant->zero_point, y->quant->zero_point,
                    4 * (size_t)x->quant->n)))
            DIFF("%s value '%s' quant", what, x->name);
    }
    for (int i = 0; i < a->n_nodes; i++) {
        const mn_node *x = &a->nodes[i], *y = &b->nodes[i];
        if (!str_same(x->name, y->name) || !str_same(x->op_type, y->op_type) ||
            !str_same(x->domain, y->domain) || x->op != y->op ||
            x->opset != y->opset || x->n_in != y->n_in ||
            x->n_out != y->n_out || x->n_attrs != y->n_attrs)
            DIFF("%s node %d", what, i);
        for (int j = 0; j < x->n_in; j++)
            if (x->in[j] != y->in[j])
                DIFF("%s node %d input %d", what, i, j);
        for (int j = 0; j < x->n_out; j++)
            if (x->out[j] != y->out[j])
                DIFF("%s node %d output %d", what, i, j);
        for (int k = 0; k < x->n_attrs; k++)
            if (!attr_same(&x->attrs[k], &y->attrs[k]))
                DIFF("%s node %d attribute '%s'", what, i, x->attrs[k].name);
    }
    for (int i = 0; i < a->n_meta; i++)
        if (!str_same(a->meta[i].key, b->meta[i].key) ||
            !str_same(a->meta[i].value, b->meta[i].value))
            DIFF("%s metadata %d", what, i);
    return 1;
#undef DIFF
}

/* Runs g on x; returns a copy of output 0 (NULL on failure, reported). */
static mn_tensor *run_copy(const mn_graph *g, const mn_tensor *x)
{
    mn_ctx ctx = {{0}};
    mn_session *s = NULL;
    mn_session_opts o = {.n_input_shapes = 1,
                         .input_shapes = (const mn_tensor *const *)&x};
    mn_tensor *y = NULL;
    if (mn_session_create(g, &o, &s, &ctx) != MN_OK ||
        mn_session_run(s, (const mn_tensor *const *)&x, 1, &ctx) != MN_OK ||
        mn_tensor_clone(mn_session_output(s, 0), &y, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "%s: %s", g->source, ctx.msg);
    mn_session_destroy(s);
    return y;
}

/* A random float input for g's first input (symbolic dims → 2). */
static mn_tensor *random_input(const mn_graph *g)
{
    mn_ctx ctx = {{0}};
    const mn_value *v = &g->values[g->inputs[0]];
    int64_t dims[MN_MAX_DIMS];
    mn_tensor *x = NULL;
    for (int k = 0; k < v->ndim; k++)
        dims[k] = v->dims[k] > 0 ? v->dims[k] : 2;
    CHECK_OK(mn_tensor_create(MN_DT_F32, v->ndim, dims, &x, &ctx), &ctx);
    for (int64_t i = 0; x && i < mn_tensor_numel(x); i++)
        ((float *)x->data)[i] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
    return x;
}

/* save → load → save: the graphs must be identical, the two files byte for
 * byte, and both graphs must compute the same bits on x. Returns the size
 * of the file (0 on failure). */
static size_t round_trip(const mn_graph *g, const mn_mnw_opts *o,
                         const mn_tensor *x, const char *what)
{
    mn_ctx ctx = {{0}};
    void *a = NULL, *b = NULL;
    size_t la = 0, lb = 0, ret = 0;
    mn_graph *h = NULL;
    CHECK_OK(mn_graph_save_mnw_mem(g, o, &a, &la, &ctx), &ctx);
    if (!a)
        return 0;
    CHECK_OK(mn_graph_load_mnw_mem(a, la, what, &h, &ctx), &ctx);
    if (h) {
        CHECK(h->file_bytes == (int64_t)la);
        if (graphs_identical(g, h, what))
            ret = la;
        CHECK_OK(mn_graph_save_mnw_mem(h, o, &b, &lb, &ctx), &ctx);
        if (!b || la != lb || memcmp(a, b, la) != 0) {
            mn_test_fail(__FILE__, __LINE__, "%s: re-save differs", what);
            ret = 0;
        }
    }
    if (h && x) {
        mn_tensor *y0 = run_copy(g, x), *y1 = run_copy(h, x);
        if (!y0 || !y1 || !tensor_same(y0, y1)) {
            mn_test_fail(__FILE__, __LINE__, "%s: outputs differ", what);
            ret = 0;
        }
        mn_tensor_destroy(y0);
        mn_tensor_destroy(y1);
    }
    mn_graph_destroy(h);
    free(a);
    free(b);
    return ret;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* ---- real models ---- */

TEST(mnw_round_trip_fashion_cnn_same_outputs_and_bytes)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_tensor *x;
    size_t n;
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    x = random_input(g);
    n = round_trip(g, NULL, x, "fashion_cnn");
    CHECK(n > 0);
    /* 167 338 fp32 parameters: the file is the weights plus little else */
    CHECK(n >= 167338 * 4 && n < 167338 * 4 + 16384);
    /* fixed-width records take a little more than protobuf's varints */
    CHECK(n < (size_t)file_size("models/fashion_cnn.onnx") * 1.01);
    CHECK_OK(mn_graph_optimize(g, &ctx), &ctx);
    n = round_trip(g, NULL, x, "fashion_cnn optimized");
    CHECK(n > 0 && n < (size_t)file_size("models/fashion_cnn.onnx"));
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

TEST(mnw_round_trip_peer_models_same_outputs_and_bytes)
{
    char dir[1024], path[2048];
    int models = 0;
    struct dirent *e;
    DIR *d;
    snprintf(dir, sizeof dir, "%s/peers", mn_test_data_dir());
    if (!(d = opendir(dir))) {
        mn_test_fail(__FILE__, __LINE__, "no %s", dir);
        return;
    }
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        mn_ctx ctx = {{0}};
        mn_graph *g = NULL;
        mn_tensor *x = NULL;
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx"))
            continue;
        snprintf(path, sizeof path, "%s/%.*s.input.npy", dir, (int)(l - 5),
                 e->d_name);
        CHECK_OK(mn_tensor_load_npy(path, &x, &ctx), &ctx);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        CHECK_OK(mn_graph_load_onnx(path, &g, &ctx), &ctx);
        if (g && x) {
            CHECK(round_trip(g, NULL, x, e->d_name) > 0);
            models++;
        }
        mn_graph_destroy(g);
        mn_tensor_destroy(x);
    }
    closedir(d);
    CHECK(models >= 5);
}

/* ---- a graph with every storage, attribute kind and field ---- */

static mn_tensor *add_const(mn_graph *g, const char *name, mn_dtype dt,
                            int ndim, const int64_t *dims)
{
    mn_ctx ctx = {{0}};
    mn_tensor *t = NULL;
    int idx = -1;
    CHECK_OK(mn_graph_add_value(g, name, dt, ndim, dims, &idx, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(dt, ndim, dims, &t, &ctx), &ctx);
    if (idx >= 0)
        g->values[idx].init = t;
    return t;
}

/* Fills t: every kth element non-zero (k = 1: dense), values from gen. */
static void fill(mn_tensor *t, int k, int lo, int hi)
{
    int64_t n = mn_tensor_numel(t);
    size_t es = mn_dtype_size(t->dtype);
    for (int64_t i = 0; i < n; i++) {
        uint8_t *p = (uint8_t *)t->data + i * (int64_t)es;
        int v = lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
        if (k > 1 && rnd() % (uint32_t)k)
            v = 0;
        else if (v == 0)
            v = hi; /* stored values are non-zero: dense stays dense */
        switch (t->dtype) {
        case MN_DT_F32: { float f = v ? (float)v / 7.0f : 0; memcpy(p, &f, 4); break; }
        case MN_DT_F64: { double f = v / 3.0; memcpy(p, &f, 8); break; }
        case MN_DT_F16: { uint16_t h = (uint16_t)(v ? 0x3c00 + v : 0); memcpy(p, &h, 2); break; }
        case MN_DT_I8: *(int8_t *)p = (int8_t)v; break;
        case MN_DT_U8: case MN_DT_BOOL: *p = (uint8_t)v; break;
        case MN_DT_I32: { int32_t w = v * 100003; memcpy(p, &w, 4); break; }
        case MN_DT_I64: { int64_t w = (int64_t)v * ((int64_t)1 << 40); memcpy(p, &w, 8); break; }
        default: break;
        }
    }
}

static mn_graph *every_kind_graph(void)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_attr *a;
    mn_tensor *t;
    int64_t d1[1] = {1000}, d4[4] = {8, 4, 3, 3}, d2[2] = {33, 7}, d0[1] = {0};
    int in, out, node;
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    free(g->name);
    g->name = mn_strdup("every kind");
    g->producer_name = mn_strdup("test_mnw");
    g->ir_version = 8;
    g->opset = 13;
    fill(add_const(g, "w_f32", MN_DT_F32, 4, d4), 1, -50, 50);
    t = add_const(g, "w_f32_special", MN_DT_F32, 1, d1);
    fill(t, 1, -9, 9);
    ((uint32_t *)t->data)[0] = 0x80000000u; /* -0.0: not zero bits */
    ((uint32_t *)t->data)[1] = 0x7fc00001u; /* a NaN payload */
    fill(add_const(g, "w_f16", MN_DT_F16, 2, d2), 1, -20, 20);
    fill(add_const(g, "w_i8", MN_DT_I8, 4, d4), 1, -128, 127);
    fill(add_const(g, "w_i4", MN_DT_I8, 2, d2), 1, -8, 7);  /* packs, odd */
    fill(add_const(g, "w_u4", MN_DT_U8, 1, d1), 1, 0, 15);
    fill(add_const(g, "w_u8", MN_DT_U8, 1, d1), 1, 0, 255);
    fill(add_const(g, "b_i32", MN_DT_I32, 1, d1), 1, -99, 99);
    fill(add_const(g, "shape_i64", MN_DT_I64, 1, d1), 1, -3, 3);
    fill(add_const(g, "mask_bool", MN_DT_BOOL, 2, d2), 3, 0, 1);
    fill(add_const(g, "w_f64", MN_DT_F64, 2, d2), 1, -5, 5);
    fill(add_const(g, "sp_f32", MN_DT_F32, 1, d1), 10, -50, 50);
    fill(add_const(g, "sp_i8", MN_DT_I8, 1, d1), 10, -128, 127);
    fill(add_const(g, "sp_i4", MN_DT_I8, 1, d1), 10, -8, 7);
    fill(add_const(g, "sp_f16", MN_DT_F16, 2, d2), 10, -9, 9);
    add_const(g, "all_zero", MN_DT_F32, 1, d1);
    add_const(g, "empty", MN_DT_F32, 1, d0);
    fill(add_const(g, "scalar", MN_DT_F32, 0, NULL), 1, 1, 5);
    {
        int64_t xd[4] = {-1, 3, 8, 8};
        CHECK_OK(mn_graph_add_value(g, "x", MN_DT_F32, 4, xd, &in, &ctx),
                 &ctx);
        g->values[in].dim_param[0] = mn_strdup("batch");
        CHECK_OK(mn_graph_add_value(g, "y", MN_DT_UNDEF, -1, NULL, &out,
                                    &ctx), &ctx);
        mn_quant *q = calloc(1, sizeof *q);
        q->qtype = MN_DT_I8;
        q->axis = 1;
        q->n = 3;
        q->scale = malloc(3 * sizeof(float));
        q->zero_point = malloc(3 * sizeof(int32_t));
        for (int k = 0; k < 3; k++) {
            q->scale[k] = 0.125f * (float)(k + 1);
            q->zero_point[k] = k - 1;
        }
        g->values[in].quant = q;
    }
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = in;
    g->outputs[0] = out;
    g->n_inputs = g->n_outputs = 1;
    CHECK_OK(mn_graph_add_node(g, "id", "Identity", "", 13, &in, 1, &out, 1,
                               &node, &ctx), &ctx);
    mn_node *n = &g->nodes[node];
    CHECK_OK(mn_node_add_attr(n, "f", MN_ATTR_FLOAT, &a, &ctx), &ctx);
    a->f = -1.5f;
    CHECK_OK(mn_node_add_attr(n, "i", MN_ATTR_INT, &a, &ctx), &ctx);
    a->i = -(1ll << 50);
    CHECK_OK(mn_node_add_attr(n, "s", MN_ATTR_STRING, &a, &ctx), &ctx);
    CHECK_OK(mn_attr_set_string(a, "SAME_UPPER", &ctx), &ctx);
    CHECK_OK(mn_node_add_attr(n, "t", MN_ATTR_TENSOR, &a, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(MN_DT_I8, 1, d1, &a->t, &ctx), &ctx);
    fill(a->t, 1, -128, 127);
    CHECK_OK(mn_node_add_attr(n, "fs", MN_ATTR_FLOATS, &a, &ctx), &ctx);
    CHECK_OK(mn_attr_set_floats(a, (const float[]){1, -2, 3.5f}, 3, &ctx),
             &ctx);
    CHECK_OK(mn_node_add_attr(n, "is", MN_ATTR_INTS, &a, &ctx), &ctx);
    CHECK_OK(mn_attr_set_ints(a, (const int64_t[]){INT64_MIN, 0, 7}, 3, &ctx),
             &ctx);
    CHECK_OK(mn_node_add_attr(n, "empty_ints", MN_ATTR_INTS, &a, &ctx), &ctx);
    CHECK_OK(mn_attr_set_ints(a, NULL, 0, &ctx), &ctx);
    CHECK_OK(mn_node_add_attr(n, "ss", MN_ATTR_STRINGS, &a, &ctx), &ctx);
    a->strings = calloc(2, sizeof(char *));
    a->strings[0] = mn_strdup("w_f32"); /* shares the value name's string */
    a->strings[1] = mn_strdup("");
    a->n = 2;
    CHECK_OK(mn_graph_add_node(g, "", "MyOp", "com.example", 2, &in, 1, NULL,
                               0, NULL, &ctx), &ctx);
    CHECK_OK(mn_graph_set_meta(g, "minnow.mean", "0.5", &ctx), &ctx);
    CHECK_OK(mn_graph_set_meta(g, "empty", "", &ctx), &ctx);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
    return g;
}

/* The tensor record of value `name` in file f (layout, packing, size). */
static int find_storage(const uint8_t *f, size_t len, const mn_graph *g,
                        const char *name, int *layout, int *packing,
                        uint64_t *size)
{
    (void)len;
    /* walk the VALUES section the same way the format describes it */
    const uint8_t *tab = f + mnw_get64(f + 32), *vs = NULL, *p;
    uint32_t nsec = mnw_get32(f + 28);
    for (uint32_t s = 0; s < nsec; s++)
        if (mnw_get32(tab + 32 * s) == MNW_SEC_VALUES)
            vs = f + mnw_get64(tab + 32 * s + 8);
    if (!vs)
        return 0;
    p = vs;
    for (int i = 0; i < g->n_values; i++) {
        int8_t nd = (int8_t)p[5];
        uint8_t fl = p[6];
        int hit = strcmp(g->values[i].name, name) == 0;
        p += 8;
        if (!(fl & MNW_VAL_INIT))
            p += nd > 0 ? 12 * nd : 0;
        if (fl & MNW_VAL_INIT) {
            int tnd = p[1];
            if (hit) {
                *layout = p[2];
                *packing = p[3];
                *size = mnw_get64(p + 8 + 8 * tnd + 16);
                return 1;
            }
            p += 8 + 8 * tnd + 24;
        }
        if (fl & MNW_VAL_QUANT)
            p += 16 + 8 * mnw_get32(p + 8);
        if (hit)
            return 0;
    }
    return 0;
}

TEST(mnw_every_storage_round_trips_exactly)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = every_kind_graph();
    mn_mnw_opts dense = {.dense = 1}, nopack = {.no_pack4 = 1};
    void *f = NULL;
    size_t len = 0;
    struct {
        const char *name;
        int layout, packing;
        uint64_t size;
    } want[] = {
        {"w_f32", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 288 * 4},
        {"w_f32_special", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 4000},
        {"w_f16", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 231 * 2},
        {"w_i8", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 288},
        {"w_i4", MNW_LAYOUT_DENSE, MNW_PACK_NIBBLE, 116}, /* 231 → 116 */
        {"w_u4", MNW_LAYOUT_DENSE, MNW_PACK_NIBBLE, 500},
        {"w_u8", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 1000},
        {"b_i32", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 4000},
        {"all_zero", MNW_LAYOUT_BITMASK, MNW_PACK_NATIVE, 128},
        {"empty", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 0},
        {"scalar", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 4},
    };
    if (!g)
        return;
    CHECK(round_trip(g, NULL, NULL, "every kind") > 0);
    CHECK(round_trip(g, &dense, NULL, "every kind dense") > 0);
    CHECK(round_trip(g, &nopack, NULL, "every kind 8-bit") > 0);
    CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, &len, &ctx), &ctx);
    for (size_t k = 0; f && k < sizeof want / sizeof want[0]; k++) {
        int layout = -1, packing = -1;
        uint64_t size = 0;
        if (!find_storage(f, len, g, want[k].name, &layout, &packing, &size)) {
            mn_test_fail(__FILE__, __LINE__, "%s not found", want[k].name);
            continue;
        }
        if (layout != want[k].layout || packing != want[k].packing ||
            size != want[k].size)
            mn_test_fail(__FILE__, __LINE__, "%s: layout %d packing %d size "
                         "%llu, want %d %d %llu", want[k].name, layout,
                         packing, (unsigned long long)size, want[k].layout,
                         want[k].packing, (unsigned long long)want[k].size);
    }
    /* the sparse ones: bitmask (125 bytes → 128) + non-zeros at width */
    const char *sp[] = {"sp_f32", "sp_i8", "sp_i4"};
    for (int k = 0; f && k < 3; k++) {
        int layout = -1, packing = -1;
        uint64_t size = 0;
        const mn_tensor *t =
            g->values[mn_graph_find_value(g, sp[k])].init;
        size_t es = mn_dtype_size(t->dtype);
        int64_t nnz = 0;
        for (int64_t i = 0; i < 1000; i++) {
            int nz = 0;
            for (size_t b = 0; b < es; b++)
                nz |= ((const uint8_t *)t->data)[(size_t)i * es + b];
            nnz += nz != 0;
        }
        CHECK(nnz > 50 && nnz < 150);
        CHECK(find_storage(f, len, g, sp[k], &layout, &packing, &size));
        CHECK_EQ_INT(layout, MNW_LAYOUT_BITMASK);
        CHECK_EQ_INT(packing, k == 2 ? MNW_PACK_NIBBLE : MNW_PACK_NATIVE);
        CHECK_EQ_INT(size, 128 + (k == 0 ? nnz * 4 : k == 1 ? nnz
                                                            : (nnz + 1) / 2));
    }
    CHECK(f && (mnw_get32((uint8_t *)f + 8) & (MNW_FLAG_SPARSE |
                                                MNW_FLAG_PACK4)) ==
                   (MNW_FLAG_SPARSE | MNW_FLAG_PACK4));
    free(f);
    mn_graph_destroy(g);
}

/* ---- sizes ---- */

/* Zeroes 90% of every float weight with ≥ 1000 elements (random places). */
static void prune90(mn_graph *g)
{
    for (int v = 0; v < g->n_values; v++) {
        mn_tensor *t = g->values[v].init;
        if (!t || t->dtype != MN_DT_F32 || mn_tensor_numel(t) < 1000)
            continue;
        for (int64_t i = 0; i < mn_tensor_numel(t); i++)
            if (rnd() % 10)
                ((float *)t->data)[i] = 0;
    }
}

TEST(mnw_sparse_90_percent_is_6x_smaller_than_dense_fp32)
{
    mn_ctx ctx = {{0}};
    mn_mnw_opts dense = {.dense = 1};
    mn_graph *g = NULL;
    mn_tensor *x;
    size_t sparse_sz, dense_sz, onnx_sz;
    void *buf = NULL;
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    CHECK_OK(mn_graph_optimize(g, &ctx), &ctx); /* BatchNorm folded */
    prune90(g);
    x = random_input(g);
    sparse_sz = round_trip(g, NULL, x, "fashion_cnn 90% sparse");
    dense_sz = round_trip(g, &dense, x, "fashion_cnn 90% sparse, dense");
    CHECK_OK(mn_graph_save_onnx_mem(g, &buf, &onnx_sz, &ctx), &ctx);
    free(buf);
    /* fp32 dense 4 B/weight; bitmask + 10 % of values: 0.525 B/weight */
    CHECK(sparse_sz > 0 && dense_sz > 0);
    CHECK(dense_sz >= 6 * sparse_sz);
    CHECK(onnx_sz >= 6 * sparse_sz);
    CHECK((double)sparse_sz < (double)dense_sz * 0.14 + 8192);
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

TEST(mnw_int8_sparse_and_int4_sizes)
{
    /* one 100 000-weight tensor: the file sizes follow the formulas */
    mn_ctx ctx = {{0}};
    int64_t d[1] = {100000};
    size_t sz[4];
    mn_dtype dts[4] = {MN_DT_F32, MN_DT_F32, MN_DT_I8, MN_DT_I8};
    int sparse[4] = {0, 1, 1, 0};
    for (int k = 0; k < 4; k++) {
        mn_graph *g = NULL;
        int in, out;
        void *f = NULL;
        CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
        mn_tensor *t = add_const(g, "w", dts[k], 1, d);
        fill(t, sparse[k] ? 10 : 1, k == 3 ? -7 : -127, k == 3 ? 7 : 127);
        CHECK_OK(mn_graph_add_value(g, "x", MN_DT_F32, 1, d, &in, &ctx), &ctx);
        CHECK_OK(mn_graph_add_value(g, "y", MN_DT_F32, 1, d, &out, &ctx),
                 &ctx);
        g->inputs = malloc(sizeof(int));
        g->outputs = malloc(sizeof(int));
        g->inputs[0] = in;
        g->outputs[0] = out;
        g->n_inputs = g->n_outputs = 1;
        CHECK_OK(mn_graph_add_node(g, "mul", "Mul", "", 13,
                                   (const int[]){in, 0}, 2, &out, 1, NULL,
                                   &ctx), &ctx);
        CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
        CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, &sz[k], &ctx), &ctx);
        CHECK(round_trip(g, NULL, NULL, "one tensor") == sz[k]);
        free(f);
        mn_graph_destroy(g);
    }
    /* dense fp32 400 000 B; 90 % sparse fp32 12 500 + ~40 000; int8 90 %
     * sparse 12 500 + ~10 000; int4 dense 50 000 */
    CHECK(sz[0] >= 400000 && sz[0] < 401024);
    CHECK(sz[1] >= 48000 && sz[1] < 58000);
    CHECK(sz[2] >= 20500 && sz[2] < 24500);
    CHECK(sz[3] >= 50000 && sz[3] < 51024);
    CHECK(sz[0] >= 6 * sz[1]);  /* sparse fp32 vs dense fp32 */
    CHECK(sz[0] >= 12 * sz[2]); /* sparse int8 vs dense fp32 */
    CHECK(sz[0] >= 7.8 * sz[3]); /* packed int4 vs dense fp32 */
}

TEST(mnw_int4_quantized_model_packs_and_runs_the_same)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_quant_opts qo = {.mode = MN_QUANT_INT4};
    mn_quant_report rep = {0};
    mn_mnw_opts nopack = {.no_pack4 = 1};
    mn_tensor *x;
    size_t packed, unpacked;
    long fp32 = file_size("models/fashion_cnn.onnx");
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    CHECK_OK(mn_quantize(g, &qo, &rep, &ctx), &ctx);
    CHECK(rep.quantized_layers == 5);
    x = random_input(g);
    packed = round_trip(g, NULL, x, "fashion_cnn int4");
    unpacked = round_trip(g, &nopack, x, "fashion_cnn int4 8-bit");
    CHECK(packed > 0 && unpacked > packed);
    /* 167 338 weights, nearly all of them in Conv/Gemm: 4 bits each */
    CHECK(fp32 > 0 && (double)fp32 / (double)packed >= 6.5);
    CHECK((double)unpacked / (double)packed > 1.7);
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

/* ---- files, format selection ---- */

TEST(mnw_file_save_is_atomic_and_load_any_goes_by_magic)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL, *h = NULL, *k = NULL;
    char p1[1024], p2[1024], p3[1024];
    DIR *d;
    struct dirent *e;
    int stray = 0;
    snprintf(p1, sizeof p1, "%s/model_mnw.onnx", mn_test_tmp_dir());
    snprintf(p2, sizeof p2, "%s/model_onnx.mnw", mn_test_tmp_dir());
    snprintf(p3, sizeof p3, "%s/no/such/dir/m.mnw", mn_test_tmp_dir());
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    /* names lie on purpose: the first bytes decide */
    CHECK_OK(mn_graph_save_mnw(g, p1, NULL, &ctx), &ctx);
    CHECK_OK(mn_graph_save_onnx(g, p2, &ctx), &ctx);
    CHECK_OK(mn_graph_load_any(p1, &h, &ctx), &ctx);
    CHECK_OK(mn_graph_load_any(p2, &k, &ctx), &ctx);
    CHECK(h && graphs_identical(g, h, "load_any mnw"));
    CHECK(h && h->file_bytes == file_size(p1) && !strcmp(h->source, p1));
    CHECK(k && k->n_nodes == g->n_nodes && k->file_bytes == file_size(p2));
    mn_graph_destroy(h);
    h = NULL;
    CHECK(mn_graph_load_mnw(p2, &h, &ctx) == MN_ERR_PARSE && !h);
    CHECK(strstr(ctx.msg, p2) && strstr(ctx.msg, "MNW1"));
    CHECK(mn_graph_save_mnw(g, p3, NULL, &ctx) == MN_ERR_IO);
    CHECK(strstr(ctx.msg, p3) != NULL);
    CHECK(mn_graph_load_any(p3, &h, &ctx) == MN_ERR_IO && !h);
    d = opendir(mn_test_tmp_dir());
    while (d && (e = readdir(d)))
        stray += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    CHECK_EQ_INT(stray, 0);
    mn_graph_destroy(k);
    mn_graph_destroy(g);
}

/* ---- hostile files ---- */

static void *small_file(size_t *len)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = every_kind_graph();
    void *f = NULL;
    *len = 0;
    if (g)
        CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, len, &ctx), &ctx);
    mn_graph_destroy(g);
    return f;
}

static void recrc(uint8_t *f, size_t len)
{
    mnw_put32(f + MNW_CRC_OFFSET, mnw_file_crc(f, len));
}

static mn_status try_load(const void *f, size_t len, mn_ctx *ctx)
{
    mn_graph *g = NULL;
    mn_status st = mn_graph_load_mnw_mem(f, len, "bad.mnw", &g, ctx);
    if (st == MN_OK)
        mn_graph_destroy(g);
    else if (g || strncmp(ctx->msg, "bad.mnw: ", 9) != 0)
        mn_test_fail(__FILE__, __LINE__, "failure left a graph or the "
                     "message does not name the file: %s", ctx->msg);
    return st;
}

TEST(mnw_every_prefix_fails_cleanly)
{
    size_t len;
    uint8_t *f = small_file(&len);
    mn_ctx ctx = {{0}};
    int bad = 0;
    if (!f)
        return;
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = malloc(n ? n : 1); /* exact size: ASan sees overreads */
        memcpy(p, f, n);
        if (try_load(p, n, &ctx) != MN_ERR_PARSE)
            bad++;
        else if (n >= 8 && !strstr(ctx.msg, "truncated"))
            bad++;
        free(p);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(try_load(f, len, &ctx) == MN_OK);
    free(f);
}

TEST(mnw_every_byte_flip_fails_with_a_checksum_error)
{
    size_t len;
    uint8_t *f = small_file(&len);
    mn_ctx ctx = {{0}};
    int bad = 0, shown = 0;
    if (!f)
        return;
    for (size_t i = 0; i < len; i++) {
        f[i] ^= 0x5a;
        mn_status st = try_load(f, len, &ctx);
        if (i >= 16 && i < 24) /* file_size: the length no longer fits */
            bad += st != MN_ERR_PARSE || !strstr(ctx.msg, "bytes");
        else if (i < 4)
            bad += st != MN_ERR_PARSE || !strstr(ctx.msg, "MNW1");
        else if (i < 6) /* major version */
            bad += st == MN_OK || !strstr(ctx.msg, "version");
        else
            bad += st != MN_ERR_PARSE ||
                   strcmp(ctx.msg, "bad.mnw: checksum mismatch") != 0;
        if (bad && !shown++)
            fprintf(stderr, "  flip at %zu: %s\n", i, ctx.msg);
        f[i] ^= 0x5a;
    }
    CHECK_EQ_INT(bad, 0);
    free(f);
}

TEST(mnw_versions_flags_and_unknown_sections)
{
    size_t len;
    uint8_t *f = small_file(&len), *tab;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int meta = -1;
    if (!f)
        return;
    tab = f + mnw_get64(f + 32);
    /* a newer major: refused, and says so */
    mnw_put16(f + 4, 2);
    recrc(f, len);
    CHECK(try_load(f, len, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "version 2.0") && strstr(ctx.msg, "upgrade"));
    /* a newer minor of the same major: read */
    mnw_put16(f + 4, 1);
    mnw_put16(f + 6, 7);
    recrc(f, len);
    CHECK_OK(try_load(f, len, &ctx), &ctx);
    /* an unknown compatible flag is ignored, an incompatible one refused */
    mnw_put32(f + 8, mnw_get32(f + 8) | 0x8000u);
    recrc(f, len);
    CHECK_OK(try_load(f, len, &ctx), &ctx);
    mnw_put32(f + 8, mnw_get32(f + 8) | 0x10000u);
    recrc(f, len);
    CHECK(try_load(f, len, &ctx) == MN_ERR_UNSUPPORTED);
    mnw_put32(f + 8, mnw_get32(f + 8) & 0xffffu);
    /* an unknown optional section is skipped (META renamed to kind 99) */
    for (int s = 0; s < (int)mnw_get32(f + 28); s++)
        if (mnw_get32(tab + 32 * s) == MNW_SEC_META)
            meta = s;
    CHECK(meta >= 0);
    mnw_put32(tab + 32 * meta, 99);
    mnw_put32(tab + 32 * meta + 4, 0);
    recrc(f, len);
    CHECK_OK(mn_graph_load_mnw_mem(f, len, "x.mnw", &g, &ctx), &ctx);
    CHECK(g && g->n_meta == 0 && g->n_nodes == 2);
    mn_graph_destroy(g);
    /* ... and a required one is refused */
    mnw_put32(tab + 32 * meta + 4, MNW_SECF_REQUIRED);
    recrc(f, len);
    CHECK(try_load(f, len, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "section kind 99") != NULL);
    /* trailing bytes after the declared end */
    mnw_put32(tab + 32 * meta, MNW_SEC_META);
    recrc(f, len);
    uint8_t *g2 = malloc(len + 3);
    memcpy(g2, f, len);
    memset(g2 + len, 0, 3);
    CHECK(try_load(g2, len + 3, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "3 unexpected bytes") != NULL);
    free(g2);
    free(f);
}

/* Crafted files with a valid checksum: structure errors must be caught by
 * the checks, not by the CRC. */
TEST(mnw_crafted_fields_with_valid_checksum_fail_cleanly)
{
    size_t len;
    uint8_t *f = small_file(&len), *copy;
    mn_ctx ctx = {{0}};
    int ok = 0, failed = 0;
    if (!f)
        return;
    copy = malloc(len);
    /* every byte after the header, set to several hostile values */
    static const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0x40};
    for (size_t i = 28; i < len; i++)
        for (size_t k = 0; k < sizeof vals; k++) {
            memcpy(copy, f, len);
            if (copy[i] == vals[k])
                continue;
            copy[i] = vals[k];
            recrc(copy, len);
            if (try_load(copy, len, &ctx) == MN_OK)
                ok++; /* e.g. a float or a weight byte: still a valid file */
            else
                failed++;
        }
    CHECK(failed > 1000);
    CHECK(ok > 1000);
    free(copy);
    free(f);
}
