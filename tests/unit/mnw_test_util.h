/* Helpers of the .mnw tests (test_mnw.c, test_mnw_hostile.c): a seeded
 * generator, graph and tensor comparison (everything the file stores must
 * come back identical), save/load round trips that run the model, and a
 * small graph with every weight storage, attribute kind and field. */
#ifndef MN_TESTS_MNW_TEST_UTIL_H
#define MN_TESTS_MNW_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "io/onnx_io.h"
#include "minnow/mnw.h"
#include "minnow/quant.h"
#include "test.h"

/* The content of section `kind` of .mnw file f (inflated into *owned, to
 * free, when it is deflated), its size in *size; NULL when absent or
 * damaged. */
static inline const uint8_t *mnw_test_section(const uint8_t *f, size_t len,
                                              uint32_t kind, size_t *size,
                                              uint8_t **owned)
{
    const uint8_t *tab = f + mnw_get64(f + 32);
    uint32_t nsec = mnw_get32(f + 28);
    *owned = NULL;
    for (uint32_t s = 0; s < nsec; s++) {
        const uint8_t *e = tab + 32 * s;
        uLongf raw = mnw_get32(e + 28);
        uint64_t off = mnw_get64(e + 8), n = mnw_get64(e + 16);
        if (mnw_get32(e) != kind || off > len || n > len - off)
            continue;
        if (!(mnw_get32(e + 4) & MNW_SECF_DEFLATE)) {
            if (size)
                *size = (size_t)n;
            return f + off;
        }
        if (!(*owned = malloc(raw ? raw : 1)) ||
            uncompress(*owned, &raw, f + off, (uLong)n) != Z_OK) {
            free(*owned);
            *owned = NULL;
            return NULL;
        }
        if (size)
            *size = raw;
        return *owned;
    }
    return NULL;
}

static uint32_t rng_state = 12345;
static inline uint32_t rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static inline int str_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static inline int tensor_same(const mn_tensor *a, const mn_tensor *b)
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

static inline int attr_same(const mn_attr *x, const mn_attr *y)
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
static inline int graphs_identical(const mn_graph *a, const mn_graph *b,
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
static inline mn_tensor *run_copy(const mn_graph *g, const mn_tensor *x)
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
static inline mn_tensor *random_input(const mn_graph *g)
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
static inline size_t round_trip(const mn_graph *g, const mn_mnw_opts *o,
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

static inline long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* ---- a graph with every storage, attribute kind and field ---- */

static inline mn_tensor *add_const(mn_graph *g, const char *name, mn_dtype dt,
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
static inline void fill(mn_tensor *t, int k, int lo, int hi)
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

static inline mn_graph *every_kind_graph(void)
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

/* Completes a one-constant test graph: input x and output y of shape d
 * (rank nd), y = Mul(x, value 0), sorted. */
static inline void mul_by_first_value(mn_graph *g, int nd, const int64_t *d)
{
    mn_ctx ctx = {{0}};
    int in = -1, out = -1;
    CHECK_OK(mn_graph_add_value(g, "x", MN_DT_F32, nd, d, &in, &ctx), &ctx);
    CHECK_OK(mn_graph_add_value(g, "y", MN_DT_F32, nd, d, &out, &ctx), &ctx);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = in;
    g->outputs[0] = out;
    g->n_inputs = g->n_outputs = 1;
    CHECK_OK(mn_graph_add_node(g, "mul", "Mul", "", 13,
                               (const int[]){in, 0}, 2, &out, 1, NULL, &ctx),
             &ctx);
    CHECK_OK(mn_graph_toposort(g, &ctx), &ctx);
}

/* The tensor record of value `name` in a VALUES section p: layout,
 * packing, blob size and (when off is not NULL) blob offset; the record's
 * address in *rec when rec is not NULL. */
static inline int find_in_values(const uint8_t *p, const mn_graph *g,
                                 const char *name, int *layout, int *packing,
                                 uint64_t *size, uint64_t *off,
                                 const uint8_t **rec)
{
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
                if (off)
                    *off = mnw_get64(p + 8 + 8 * tnd + 8);
                if (rec)
                    *rec = p;
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

/* The same in file f (its VALUES section inflated when deflated). */
static inline int find_blob(const uint8_t *f, size_t len, const mn_graph *g,
                            const char *name, int *layout, int *packing,
                            uint64_t *size, uint64_t *off)
{
    uint8_t *owned = NULL;
    const uint8_t *p = mnw_test_section(f, len, MNW_SEC_VALUES, NULL, &owned);
    int found =
        p && find_in_values(p, g, name, layout, packing, size, off, NULL);
    free(owned);
    return found;
}

static inline int find_storage(const uint8_t *f, size_t len,
                               const mn_graph *g, const char *name,
                               int *layout, int *packing, uint64_t *size)
{
    return find_blob(f, len, g, name, layout, packing, size, NULL);
}

#endif
