/* ONNX export: mn_graph → ModelProto (protobuf-c). The message tree
 * borrows names and tensor data from the graph; only the protobuf structs
 * themselves are allocated (tracked in one list and freed together). */
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "io/onnx_io.h"
#include "io/onnx_tensor.h"

#define MN_ONNX_MIN_WRITE_IR 7

typedef struct writer {
    const mn_graph *g;
    void **ptrs; /* every allocation, freed by writer_free */
    size_t n, cap;
    mn_ctx *ctx;
    mn_status st; /* first failure; the message is in ctx */
} writer;

/* Records the first failure (its message is already in ctx). */
static void *wr_fail(writer *w, mn_status st)
{
    if (w->st == MN_OK)
        w->st = st;
    return NULL;
}

/* Zeroed, tracked allocation; NULL (with ctx message) on failure. */
static void *wr_alloc(writer *w, size_t n, size_t size)
{
    void *p;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        void **np = mn_realloc(w->ptrs, cap * sizeof *np);
        if (!np)
            return wr_fail(w, mn_error(w->ctx, MN_ERR_OOM, "out of memory"));
        w->ptrs = np;
        w->cap = cap;
    }
    p = mn_calloc(n ? n : 1, size);
    if (!p)
        return wr_fail(w, mn_error(w->ctx, MN_ERR_OOM, "out of memory"));
    w->ptrs[w->n++] = p;
    return p;
}

/* Tracks a pointer allocated elsewhere (NULL is fine). */
static int wr_track(writer *w, void *p)
{
    if (!p)
        return 1;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        void **np = mn_realloc(w->ptrs, cap * sizeof *np);
        if (!np) {
            free(p);
            wr_fail(w, mn_error(w->ctx, MN_ERR_OOM, "out of memory"));
            return 0;
        }
        w->ptrs = np;
        w->cap = cap;
    }
    w->ptrs[w->n++] = p;
    return 1;
}

static void writer_free(writer *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->ptrs[i]);
    free(w->ptrs);
}

static Onnx__TensorProto *tensor_msg(writer *w, const mn_tensor *t,
                                     const char *name)
{
    Onnx__TensorProto *tp = wr_alloc(w, 1, sizeof *tp);
    int64_t *dims = NULL;
    void *copy = NULL;
    if (!tp)
        return NULL;
    mn_status st = mn_pb_tensor_encode(t, name, tp, &dims, &copy, w->ctx);
    int ok = wr_track(w, dims);
    if (!wr_track(w, copy) || !ok) /* both tracked or freed */
        return NULL;
    return st == MN_OK ? tp : wr_fail(w, st);
}

/* TypeProto for a value; NULL type info when nothing is known. */
static Onnx__TypeProto *type_msg(writer *w, const mn_value *v)
{
    Onnx__TypeProto *tp = wr_alloc(w, 1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = wr_alloc(w, 1, sizeof *tt);
    if (!tp || !tt)
        return NULL;
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    if (v->dtype != MN_DT_UNDEF) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)v->dtype;
    }
    if (v->ndim >= 0 && v->ndim <= MN_MAX_DIMS) {
        Onnx__TensorShapeProto *sh = wr_alloc(w, 1, sizeof *sh);
        Onnx__TensorShapeProto__Dimension **dp =
            wr_alloc(w, (size_t)v->ndim, sizeof *dp);
        if (!sh || !dp)
            return NULL;
        onnx__tensor_shape_proto__init(sh);
        sh->n_dim = (size_t)v->ndim;
        sh->dim = dp;
        for (int i = 0; i < v->ndim; i++) {
            Onnx__TensorShapeProto__Dimension *d = wr_alloc(w, 1, sizeof *d);
            if (!d)
                return NULL;
            onnx__tensor_shape_proto__dimension__init(d);
            if (v->dims[i] >= 0) {
                d->value_case =
                    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = v->dims[i];
            } else if (v->dim_param[i] && v->dim_param[i][0]) {
                d->value_case =
                    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = v->dim_param[i];
            }
            dp[i] = d;
        }
        tt->shape = sh;
    }
    return tp;
}

static Onnx__ValueInfoProto *value_info_msg(writer *w, const mn_value *v)
{
    Onnx__ValueInfoProto *vi = wr_alloc(w, 1, sizeof *vi);
    if (!vi)
        return NULL;
    onnx__value_info_proto__init(vi);
    vi->name = v->name;
    vi->type = type_msg(w, v);
    return vi->type ? vi : NULL;
}

static Onnx__AttributeProto *attr_msg(writer *w, const mn_attr *a)
{
    Onnx__AttributeProto *ap = wr_alloc(w, 1, sizeof *ap);
    if (!ap)
        return NULL;
    onnx__attribute_proto__init(ap);
    ap->name = a->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case MN_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case MN_ATTR_INT:
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case MN_ATTR_STRING:
        ap->has_s = 1;
        ap->s.data = (uint8_t *)(a->s ? a->s : "");
        ap->s.len = a->s ? strlen(a->s) : 0;
        break;
    case MN_ATTR_TENSOR:
        if (!a->t)
            return wr_fail(w, mn_error(w->ctx, MN_ERR_ARG,
                                       "attribute '%s' has no tensor",
                                       a->name));
        if (!(ap->t = tensor_msg(w, a->t, NULL))) {
            mn_error_prefix(w->ctx, w->st, "attribute '%s'", a->name);
            return NULL;
        }
        break;
    case MN_ATTR_FLOATS:
        ap->n_floats = a->n > 0 ? (size_t)a->n : 0;
        ap->floats = a->floats;
        break;
    case MN_ATTR_INTS:
        ap->n_ints = a->n > 0 ? (size_t)a->n : 0;
        ap->ints = a->ints;
        break;
    case MN_ATTR_STRINGS:
        ap->n_strings = a->n > 0 ? (size_t)a->n : 0;
        ap->strings = wr_alloc(w, ap->n_strings, sizeof *ap->strings);
        if (!ap->strings)
            return NULL;
        for (size_t i = 0; i < ap->n_strings; i++) {
            const char *s = a->strings[i] ? a->strings[i] : "";
            ap->strings[i].data = (uint8_t *)s;
            ap->strings[i].len = strlen(s);
        }
        break;
    default:
        return wr_fail(w, mn_error(w->ctx, MN_ERR_UNSUPPORTED,
                                   "attribute '%s' of type %d cannot be "
                                   "written",
                                   a->name, (int)a->type));
    }
    return ap;
}

static const char *vname(const mn_graph *g, int v)
{
    return v >= 0 && v < g->n_values ? g->values[v].name : "";
}

static Onnx__NodeProto *node_msg(writer *w, int i)
{
    const mn_node *n = &w->g->nodes[i];
    Onnx__NodeProto *np = wr_alloc(w, 1, sizeof *np);
    char **in = wr_alloc(w, (size_t)n->n_in, sizeof *in);
    char **out = wr_alloc(w, (size_t)n->n_out, sizeof *out);
    Onnx__AttributeProto **at = wr_alloc(w, (size_t)n->n_attrs, sizeof *at);
    char lb[300];
    if (!np || !in || !out || !at)
        return NULL;
    onnx__node_proto__init(np);
    if (n->name && n->name[0])
        np->name = n->name;
    np->op_type = n->op_type;
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        np->domain = n->domain;
    for (int j = 0; j < n->n_in; j++)
        in[j] = (char *)vname(w->g, n->in[j]);
    for (int j = 0; j < n->n_out; j++)
        out[j] = (char *)vname(w->g, n->out[j]);
    np->n_input = (size_t)n->n_in;
    np->input = in;
    np->n_output = (size_t)n->n_out;
    np->output = out;
    for (int k = 0; k < n->n_attrs; k++)
        if (!(at[k] = attr_msg(w, &n->attrs[k]))) {
            mn_error_prefix(w->ctx, w->st, "%s",
                            mn_node_label(w->g, i, lb, sizeof lb));
            return NULL;
        }
    np->n_attribute = (size_t)n->n_attrs;
    np->attribute = at;
    return np;
}

static int is_default_domain(const char *d)
{
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

/* ai.onnx (unless the graph has none) plus every other domain the nodes
 * use, at the newest opset any node of that domain was written for. */
static mn_status opsets_msg(writer *w, Onnx__ModelProto *m)
{
    const mn_graph *g = w->g;
    Onnx__OperatorSetIdProto **os =
        wr_alloc(w, (size_t)g->n_nodes + 1, sizeof *os);
    size_t n = 0;
    if (!os)
        return w->st;
    for (int i = g->opset >= 1 ? -1 : 0; i < g->n_nodes; i++) {
        const char *d = i < 0 ? "" : g->nodes[i].domain;
        int64_t ver = i < 0 ? g->opset : g->nodes[i].opset;
        size_t k;
        if (is_default_domain(d))
            d = "";
        for (k = 0; k < n; k++)
            if (strcmp(os[k]->domain, d) == 0)
                break;
        if (k == n) {
            if (!(os[n] = wr_alloc(w, 1, sizeof **os)))
                return w->st;
            onnx__operator_set_id_proto__init(os[n]);
            os[n]->domain = (char *)d;
            os[n]->has_version = 1;
            os[n]->version = 1;
            n++;
        }
        if (ver > os[k]->version)
            os[k]->version = ver;
    }
    m->n_opset_import = n;
    m->opset_import = os;
    return MN_OK;
}

static mn_status graph_msg(writer *w, Onnx__GraphProto *gp)
{
    const mn_graph *g = w->g;
    char *used = wr_alloc(w, (size_t)g->n_values, 1);
    size_t n_init = 0, n_vi = 0;
    if (!used)
        return w->st;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] >= 0 && g->nodes[i].in[j] < g->n_values)
                used[g->nodes[i].in[j]] = 1;
    for (int i = 0; i < g->n_outputs; i++)
        used[g->outputs[i]] = 1;
    gp->name = g->name && g->name[0] ? g->name : "minnow";
    gp->node = wr_alloc(w, (size_t)g->n_nodes, sizeof *gp->node);
    gp->initializer = wr_alloc(w, (size_t)g->n_values, sizeof *gp->initializer);
    gp->value_info = wr_alloc(w, (size_t)g->n_values, sizeof *gp->value_info);
    gp->input = wr_alloc(w, (size_t)g->n_inputs, sizeof *gp->input);
    gp->output = wr_alloc(w, (size_t)g->n_outputs, sizeof *gp->output);
    if (!gp->node || !gp->initializer || !gp->value_info || !gp->input ||
        !gp->output)
        return w->st;
    for (int i = 0; i < g->n_nodes; i++)
        if (!(gp->node[i] = node_msg(w, i)))
            return w->st;
    gp->n_node = (size_t)g->n_nodes;
    for (int v = 0; v < g->n_values; v++) {
        const mn_value *val = &g->values[v];
        if (val->init && val->producer >= 0)
            return mn_error(w->ctx, MN_ERR_ARG,
                            "value '%s' is both an initializer and the output "
                            "of a node", val->name);
        if (val->init && used[v]) {
            if (!(gp->initializer[n_init] = tensor_msg(w, val->init, val->name)))
                return mn_error_prefix(w->ctx, w->st, "initializer '%s'",
                                       val->name);
            n_init++;
        } else if (!val->init && !val->is_input && !val->is_output &&
                   used[v] && val->producer >= 0 && val->ndim >= 0 &&
                   val->dtype != MN_DT_UNDEF) {
            if (!(gp->value_info[n_vi++] = value_info_msg(w, val)))
                return w->st;
        }
    }
    gp->n_initializer = n_init;
    gp->n_value_info = n_vi;
    for (int i = 0; i < g->n_inputs; i++)
        if (!(gp->input[i] = value_info_msg(w, &g->values[g->inputs[i]])))
            return w->st;
    gp->n_input = (size_t)g->n_inputs;
    for (int i = 0; i < g->n_outputs; i++)
        if (!(gp->output[i] = value_info_msg(w, &g->values[g->outputs[i]])))
            return w->st;
    gp->n_output = (size_t)g->n_outputs;
    return MN_OK;
}

mn_status mn_graph_save_onnx_mem(const mn_graph *g, void **buf, size_t *len,
                                 mn_ctx *ctx)
{
    writer w = {g, NULL, 0, 0, ctx, MN_OK};
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
    Onnx__StringStringEntryProto *meta = NULL, **metap = NULL;
    mn_status st;
    if (!buf || !len)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_save_onnx_mem: NULL "
                        "argument");
    *buf = NULL;
    *len = 0;
    if (!g)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_save_onnx_mem: NULL graph");
    m.has_ir_version = 1;
    m.ir_version = g->ir_version > MN_ONNX_MIN_WRITE_IR ? g->ir_version
                                                        : MN_ONNX_MIN_WRITE_IR;
    m.producer_name = "minnow";
    m.producer_version = MN_VERSION;
    m.graph = &gp;
    st = opsets_msg(&w, &m);
    if (st == MN_OK)
        st = graph_msg(&w, &gp);
    if (st == MN_OK) {
        meta = wr_alloc(&w, (size_t)g->n_meta, sizeof *meta);
        metap = wr_alloc(&w, (size_t)g->n_meta, sizeof *metap);
        if (!meta || !metap)
            st = w.st;
    }
    if (st == MN_OK) {
        for (int i = 0; i < g->n_meta; i++) {
            onnx__string_string_entry_proto__init(&meta[i]);
            meta[i].key = g->meta[i].key;
            meta[i].value = g->meta[i].value;
            metap[i] = &meta[i];
        }
        m.n_metadata_props = (size_t)g->n_meta;
        m.metadata_props = metap;
        st = mn_pb_pack(&m.base, buf, len, ctx);
    }
    writer_free(&w);
    return st;
}

mn_status mn_graph_save_onnx(const mn_graph *g, const char *path, mn_ctx *ctx)
{
    void *buf = NULL;
    size_t len = 0;
    mn_status st;
    if (!path)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_save_onnx: NULL path");
    st = mn_graph_save_onnx_mem(g, &buf, &len, ctx);
    if (st != MN_OK)
        return mn_error_prefix(ctx, st, "%s", path);
    st = mn_pb_write_atomic(path, buf, len, ctx);
    free(buf);
    return st;
}
