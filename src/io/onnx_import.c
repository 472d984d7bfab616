/* ONNX import: ModelProto (protobuf-c, generated from Debian's onnx.proto)
 * → mn_graph. Validates everything it reads (types, shapes, data sizes,
 * names, references) so that later stages can trust the graph; hostile
 * files produce "FILE: node 'NAME' (OP): cause" style errors. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "io/onnx_tensor.h"

#define MN_ONNX_MIN_IR 3
#define MN_ONNX_MAX_IR 10
#define MN_ONNX_MAX_OPSET 21 /* newest ai.onnx opset whose semantics we know */
#define MN_ONNX_MAX_IO 65536 /* inputs/outputs per node */

typedef struct loader {
    const char *label;   /* file path or label for messages */
    const char *ext_dir; /* directory for external data; NULL refuses it */
    const Onnx__ModelProto *m;
    Onnx__GraphProto *gp;
    mn_graph *g;
    mn_ctx *ctx;
    size_t n_string_inits; /* string initializers (skipped unless used) */
} loader;

/* A parsed TypeProto (tensor types only). */
typedef struct vtype {
    mn_dtype dt;
    int ndim; /* -1: unknown */
    int64_t dims[MN_MAX_DIMS];
    const char *param[MN_MAX_DIMS];
} vtype;

static const char *str_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static const char *norm_domain(const char *d)
{
    return !d || strcmp(d, "ai.onnx") == 0 ? "" : d;
}

/* Prefixes the cause already in ctx with "LABEL: node 'NAME' (OP)". */
static mn_status node_fail(const loader *L, size_t i, const Onnx__NodeProto *np,
                           mn_status st)
{
    const char *op = str_or(np->op_type, "?");
    if (np->name && np->name[0])
        return mn_error_prefix(L->ctx, st, "%s: node '%s' (%s)", L->label,
                               np->name, op);
    return mn_error_prefix(L->ctx, st, "%s: node #%zu (%s)", L->label, i, op);
}

static int is_defined(const mn_value *v)
{
    return v->init != NULL || v->is_input || v->producer >= 0;
}

static int64_t opset_for(const loader *L, const char *domain)
{
    for (size_t i = 0; i < L->m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = L->m->opset_import[i];
        if (strcmp(norm_domain(o->domain), domain) == 0)
            return o->has_version ? o->version : -1;
    }
    return -1;
}

/* ---- types ---- */

static int dtype_ok(int32_t e)
{
    return e > 0 && e < MN_DT_COUNT && mn_dtype_bits((mn_dtype)e) > 0;
}

/* The known dims of a declared shape must multiply without overflowing
 * int64 (later stages multiply them freely). */
static mn_status check_dims_product(vtype *vt, int strict, mn_ctx *ctx)
{
    uint64_t prod = 1;
    for (int i = 0; i < vt->ndim; i++) {
        uint64_t d = vt->dims[i] > 0 ? (uint64_t)vt->dims[i] : 1;
        if (prod > (uint64_t)INT64_MAX / d) {
            if (strict)
                return mn_error(ctx, MN_ERR_PARSE,
                                "the product of the dimensions overflows");
            vt->ndim = -1;
            return MN_OK;
        }
        prod *= d;
    }
    return MN_OK;
}

/* strict: graph inputs, whose type and shape must be usable as given;
 * otherwise (outputs, value_info) anything odd reads as unknown. */
static mn_status parse_type(const Onnx__TypeProto *tp, int strict, vtype *vt,
                            mn_ctx *ctx)
{
    const Onnx__TypeProto__Tensor *tt;
    memset(vt, 0, sizeof *vt);
    vt->ndim = -1;
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return strict ? mn_error(ctx, MN_ERR_PARSE, "has no type") : MN_OK;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !tp->tensor_type)
        return strict ? mn_error(ctx, MN_ERR_UNSUPPORTED,
                                 "only tensor types are supported")
                      : MN_OK;
    tt = tp->tensor_type;
    if (tt->has_elem_type && dtype_ok(tt->elem_type))
        vt->dt = (mn_dtype)tt->elem_type;
    else if (strict) {
        int32_t e = tt->has_elem_type ? tt->elem_type : 0;
        static const char *const odd[] = {"string", "", "", "", "", "",
                                          "complex64", "complex128",
                                          "bfloat16"};
        if (e == MN_DT_STRING || (e >= 14 && e <= 16))
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "element type %s is not supported", odd[e - 8]);
        return mn_error(ctx, MN_ERR_PARSE, "invalid element type %d", (int)e);
    }
    if (!tt->shape)
        return MN_OK;
    if (tt->shape->n_dim > MN_MAX_DIMS)
        return strict ? mn_error(ctx, MN_ERR_UNSUPPORTED, "rank %zu exceeds %d",
                                 tt->shape->n_dim, MN_MAX_DIMS)
                      : MN_OK;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        vt->dims[i] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0) {
                if (strict)
                    return mn_error(ctx, MN_ERR_PARSE,
                                    "negative dimension %lld",
                                    (long long)d->dim_value);
            } else
                vt->dims[i] = d->dim_value;
        } else if (d->value_case ==
                       ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   d->dim_param && d->dim_param[0])
            vt->param[i] = d->dim_param;
    }
    vt->ndim = (int)tt->shape->n_dim;
    return check_dims_product(vt, strict, ctx);
}

/* Sets a value's dtype/shape from vt (parts vt does not know are kept). */
static mn_status apply_type(mn_value *v, const vtype *vt, mn_ctx *ctx)
{
    if (vt->dt != MN_DT_UNDEF)
        v->dtype = vt->dt;
    if (vt->ndim < 0)
        return MN_OK;
    for (int i = 0; i < MN_MAX_DIMS; i++) {
        free(v->dim_param[i]);
        v->dim_param[i] = NULL;
    }
    v->ndim = vt->ndim;
    for (int i = 0; i < vt->ndim; i++) {
        v->dims[i] = vt->dims[i];
        if (vt->param[i] && !(v->dim_param[i] = mn_strdup(vt->param[i])))
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    return MN_OK;
}

/* ---- attributes ---- */

static const char *attr_type_name(int t)
{
    switch (t) {
    case 5: return "GRAPH";
    case 9: return "TENSORS";
    case 10: return "GRAPHS";
    case 11: return "SPARSE_TENSOR";
    case 12: return "SPARSE_TENSORS";
    case 13: return "TYPE_PROTO";
    case 14: return "TYPE_PROTOS";
    default: return "?";
    }
}

static char *dup_bytes(const ProtobufCBinaryData *b, mn_ctx *ctx, mn_status *st)
{
    char *s;
    if (b->len && memchr(b->data, 0, b->len)) {
        *st = mn_error(ctx, MN_ERR_PARSE, "string contains a NUL byte");
        return NULL;
    }
    s = mn_malloc(b->len + 1);
    if (!s) {
        *st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        return NULL;
    }
    if (b->len)
        memcpy(s, b->data, b->len);
    s[b->len] = 0;
    return s;
}

/* Converts one AttributeProto onto node n (messages: cause only). */
static mn_status load_attr(const loader *L, mn_node *n,
                           const Onnx__AttributeProto *ap, mn_ctx *ctx)
{
    const char *name = ap->name;
    int type = ap->has_type ? (int)ap->type : 0;
    mn_attr *a = NULL;
    mn_tensor *t = NULL;
    mn_status st = MN_OK;
    if (!name || !name[0])
        return mn_error(ctx, MN_ERR_PARSE, "attribute without a name");
    if (mn_node_attr(n, name))
        return mn_error(ctx, MN_ERR_PARSE, "attribute '%s' appears twice",
                        name);
    switch (type) {
    case MN_ATTR_FLOAT: case MN_ATTR_INT: case MN_ATTR_STRING:
    case MN_ATTR_FLOATS: case MN_ATTR_INTS: case MN_ATTR_STRINGS:
        break;
    case MN_ATTR_TENSOR:
        if (!ap->t)
            return mn_error(ctx, MN_ERR_PARSE,
                            "attribute '%s': TENSOR without a tensor", name);
        st = mn_pb_tensor_decode(ap->t, L->ext_dir, &t, ctx);
        if (st != MN_OK)
            return mn_error_prefix(ctx, st, "attribute '%s'", name);
        break;
    case 5: case 9: case 10: case 11: case 12: case 13: case 14:
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "attribute '%s' of type %s is not supported", name,
                        attr_type_name(type));
    default:
        return mn_error(ctx, MN_ERR_PARSE, "attribute '%s' has invalid type %d",
                        name, type);
    }
    if ((ap->n_floats > INT_MAX || ap->n_ints > INT_MAX ||
         ap->n_strings > INT_MAX)) {
        mn_tensor_destroy(t);
        return mn_error(ctx, MN_ERR_PARSE, "attribute '%s' is too long", name);
    }
    st = mn_node_add_attr(n, name, (mn_attr_type)type, &a, ctx);
    if (st != MN_OK) {
        mn_tensor_destroy(t);
        return st;
    }
    switch (type) {
    case MN_ATTR_FLOAT:
        a->f = ap->f;
        break;
    case MN_ATTR_INT:
        a->i = ap->i;
        break;
    case MN_ATTR_STRING:
        a->s = dup_bytes(&ap->s, ctx, &st);
        break;
    case MN_ATTR_TENSOR:
        a->t = t;
        break;
    case MN_ATTR_FLOATS:
        st = mn_attr_set_floats(a, ap->floats, (int)ap->n_floats, ctx);
        break;
    case MN_ATTR_INTS:
        st = mn_attr_set_ints(a, ap->ints, (int)ap->n_ints, ctx);
        break;
    case MN_ATTR_STRINGS:
        a->strings = mn_calloc(ap->n_strings ? ap->n_strings : 1,
                               sizeof(char *));
        if (!a->strings)
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        for (size_t i = 0; i < ap->n_strings && st == MN_OK; i++) {
            a->strings[i] = dup_bytes(&ap->strings[i], ctx, &st);
            if (st == MN_OK)
                a->n = (int)i + 1;
        }
        break;
    }
    if (st != MN_OK)
        mn_error_prefix(ctx, st, "attribute '%s'", name);
    return st;
}

/* ---- graph pieces ---- */

static int is_string_tensor(const Onnx__TensorProto *tp)
{
    return tp->has_data_type && tp->data_type == MN_DT_STRING;
}

/* A string initializer is fine as long as nothing reads it. */
static int is_string_init(const loader *L, const char *name)
{
    for (size_t i = 0; i < L->gp->n_initializer && L->n_string_inits; i++) {
        const Onnx__TensorProto *tp = L->gp->initializer[i];
        if (is_string_tensor(tp) && tp->name && strcmp(tp->name, name) == 0)
            return 1;
    }
    return 0;
}

static mn_status load_initializers(loader *L)
{
    mn_ctx *ctx = L->ctx;
    for (size_t i = 0; i < L->gp->n_initializer; i++) {
        Onnx__TensorProto *tp = L->gp->initializer[i];
        mn_tensor *t = NULL;
        mn_status st;
        int idx;
        if (!tp->name || !tp->name[0])
            return mn_error(ctx, MN_ERR_PARSE, "%s: initializer #%zu has no "
                            "name", L->label, i);
        if (is_string_tensor(tp)) {
            L->n_string_inits++;
            continue; /* refused below if anything reads it */
        }
        st = mn_pb_tensor_decode(tp, L->ext_dir, &t, ctx);
        if (st == MN_OK)
            st = mn_graph_add_value(L->g, tp->name, t->dtype, t->ndim, t->dims,
                                    &idx, ctx);
        if (st != MN_OK) {
            mn_tensor_destroy(t);
            return mn_error_prefix(ctx, st, "%s: initializer '%s'", L->label,
                                   tp->name);
        }
        L->g->values[idx].init = t;
        /* the copy is in t now: drop the protobuf's to bound peak memory */
        free(tp->raw_data.data);
        tp->raw_data.data = NULL;
        tp->raw_data.len = 0;
        tp->has_raw_data = 0;
    }
    if (L->gp->n_sparse_initializer)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: sparse initializers are not supported", L->label);
    return MN_OK;
}

static mn_status load_inputs(loader *L, int *inputs, int *n_inputs)
{
    mn_ctx *ctx = L->ctx;
    *n_inputs = 0;
    for (size_t i = 0; i < L->gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = L->gp->input[i];
        const char *name = vi->name;
        vtype vt;
        mn_status st;
        int idx;
        if (!name || !name[0])
            return mn_error(ctx, MN_ERR_PARSE, "%s: graph input #%zu has no "
                            "name", L->label, i);
        if (is_string_init(L, name))
            continue;
        idx = mn_graph_find_value(L->g, name);
        if (idx >= 0 && L->g->values[idx].is_input)
            return mn_error(ctx, MN_ERR_PARSE,
                            "%s: graph input '%s' is listed twice", L->label,
                            name);
        if (idx >= 0) { /* an initializer also listed as input (IR < 4) */
            const mn_value *v = &L->g->values[idx];
            if (parse_type(vi->type, 0, &vt, ctx) == MN_OK &&
                vt.dt != MN_DT_UNDEF && vt.dt != v->dtype)
                return mn_error(ctx, MN_ERR_PARSE,
                                "%s: initializer '%s' holds %s but its graph "
                                "input says %s",
                                L->label, name, mn_dtype_name(v->dtype),
                                mn_dtype_name(vt.dt));
            continue;
        }
        st = parse_type(vi->type, 1, &vt, ctx);
        if (st == MN_OK)
            st = mn_graph_add_value(L->g, name, vt.dt, -1, NULL, &idx, ctx);
        if (st == MN_OK)
            st = apply_type(&L->g->values[idx], &vt, ctx);
        if (st != MN_OK)
            return mn_error_prefix(ctx, st, "%s: graph input '%s'", L->label,
                                   name);
        L->g->values[idx].is_input = 1;
        inputs[(*n_inputs)++] = idx;
    }
    return MN_OK;
}

/* Value index for a node input name (a placeholder when not seen yet). */
static mn_status node_input(loader *L, const char *name, int *idx)
{
    if (!name || !name[0]) {
        *idx = -1; /* absent optional input */
        return MN_OK;
    }
    if (is_string_init(L, name))
        return mn_error(L->ctx, MN_ERR_UNSUPPORTED,
                        "input '%s' is a string tensor (not supported)", name);
    *idx = mn_graph_find_value(L->g, name);
    if (*idx >= 0)
        return MN_OK;
    return mn_graph_add_value(L->g, name, MN_DT_UNDEF, -1, NULL, idx, L->ctx);
}

static mn_status node_output(loader *L, const Onnx__NodeProto *np, size_t j,
                             int *idx)
{
    const char *name = np->output[j];
    if (!name || !name[0]) {
        *idx = -1; /* absent optional output */
        return MN_OK;
    }
    for (size_t k = 0; k < j; k++)
        if (np->output[k] && strcmp(np->output[k], name) == 0)
            return mn_error(L->ctx, MN_ERR_PARSE, "output '%s' is listed "
                            "twice", name);
    if (is_string_init(L, name))
        return mn_error(L->ctx, MN_ERR_PARSE,
                        "output '%s' is already defined", name);
    *idx = mn_graph_find_value(L->g, name);
    if (*idx >= 0) {
        if (is_defined(&L->g->values[*idx]))
            return mn_error(L->ctx, MN_ERR_PARSE,
                            "output '%s' is already defined", name);
        return MN_OK;
    }
    return mn_graph_add_value(L->g, name, MN_DT_UNDEF, -1, NULL, idx, L->ctx);
}

static mn_status load_node(loader *L, size_t i)
{
    const Onnx__NodeProto *np = L->gp->node[i];
    const char *domain = norm_domain(np->domain);
    int *in = NULL, *out = NULL, idx = 0;
    int64_t opset;
    mn_status st = MN_OK;
    if (!np->op_type || !np->op_type[0]) {
        mn_error(L->ctx, MN_ERR_PARSE, "missing op_type");
        return node_fail(L, i, np, MN_ERR_PARSE);
    }
    opset = opset_for(L, domain);
    if (opset < 1 || opset > INT_MAX) {
        mn_error(L->ctx, MN_ERR_PARSE,
                 "domain '%s' is not declared in opset_import",
                 domain[0] ? domain : "ai.onnx");
        return node_fail(L, i, np, MN_ERR_PARSE);
    }
    if (np->n_input > MN_ONNX_MAX_IO || np->n_output > MN_ONNX_MAX_IO) {
        mn_error(L->ctx, MN_ERR_UNSUPPORTED, "too many inputs or outputs");
        return node_fail(L, i, np, MN_ERR_UNSUPPORTED);
    }
    in = mn_calloc(np->n_input + 1, sizeof *in);
    out = mn_calloc(np->n_output + 1, sizeof *out);
    if (!in || !out) {
        st = mn_error(L->ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    for (size_t j = 0; j < np->n_input && st == MN_OK; j++)
        st = node_input(L, np->input[j], &in[j]);
    for (size_t j = 0; j < np->n_output && st == MN_OK; j++)
        st = node_output(L, np, j, &out[j]);
    if (st == MN_OK)
        st = mn_graph_add_node(L->g, np->name, np->op_type, domain, (int)opset,
                               in, (int)np->n_input, out, (int)np->n_output,
                               &idx, L->ctx);
    for (size_t k = 0; k < np->n_attribute && st == MN_OK; k++)
        st = load_attr(L, &L->g->nodes[idx], np->attribute[k], L->ctx);
    if (st != MN_OK)
        goto fail;
    free(in);
    free(out);
    return MN_OK;
fail:
    free(in);
    free(out);
    return node_fail(L, i, np, st);
}

/* value_info: shapes of intermediate values, when the file has them. */
static mn_status load_value_info(loader *L)
{
    for (size_t i = 0; i < L->gp->n_value_info; i++) {
        const Onnx__ValueInfoProto *vi = L->gp->value_info[i];
        vtype vt;
        int idx = mn_graph_find_value(L->g, vi->name);
        if (idx < 0 || L->g->values[idx].producer < 0)
            continue; /* annotations of unknown or constant values */
        if (parse_type(vi->type, 0, &vt, L->ctx) != MN_OK ||
            apply_type(&L->g->values[idx], &vt, L->ctx) != MN_OK)
            return mn_error_prefix(L->ctx, MN_ERR_OOM, "%s", L->label);
    }
    return MN_OK;
}

static mn_status load_outputs(loader *L, int *outputs, int *n_outputs)
{
    mn_ctx *ctx = L->ctx;
    *n_outputs = 0;
    for (size_t i = 0; i < L->gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = L->gp->output[i];
        const char *name = vi->name;
        mn_value *v;
        vtype vt;
        int idx;
        if (!name || !name[0])
            return mn_error(ctx, MN_ERR_PARSE, "%s: graph output #%zu has no "
                            "name", L->label, i);
        if (is_string_init(L, name))
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: graph output '%s' is a string tensor (not "
                            "supported)", L->label, name);
        idx = mn_graph_find_value(L->g, name);
        if (idx < 0 || !is_defined(&L->g->values[idx]))
            return mn_error(ctx, MN_ERR_PARSE,
                            "%s: graph output '%s' is not produced by any "
                            "node, input or initializer", L->label, name);
        v = &L->g->values[idx];
        if (v->is_output)
            return mn_error(ctx, MN_ERR_PARSE,
                            "%s: graph output '%s' is listed twice", L->label,
                            name);
        v->is_output = 1;
        outputs[(*n_outputs)++] = idx;
        if (v->producer < 0)
            continue; /* inputs and initializers keep their own types */
        if (parse_type(vi->type, 0, &vt, ctx) != MN_OK ||
            apply_type(v, &vt, ctx) != MN_OK)
            return mn_error_prefix(ctx, MN_ERR_OOM, "%s", L->label);
    }
    return MN_OK;
}

static mn_status load_header(loader *L)
{
    const Onnx__ModelProto *m = L->m;
    mn_graph *g = L->g;
    mn_ctx *ctx = L->ctx;
    int64_t opset;
    if (!m->has_ir_version)
        return mn_error(ctx, MN_ERR_PARSE, "%s: model has no ir_version",
                        L->label);
    if (m->ir_version < MN_ONNX_MIN_IR || m->ir_version > MN_ONNX_MAX_IR)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: IR version %lld is not supported (%d to %d)",
                        L->label, (long long)m->ir_version, MN_ONNX_MIN_IR,
                        MN_ONNX_MAX_IR);
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        const char *d = norm_domain(o->domain);
        if (!o->has_version || o->version < 1 || o->version > INT_MAX)
            return mn_error(ctx, MN_ERR_PARSE,
                            "%s: opset_import of domain '%s' has an invalid "
                            "version", L->label, d);
        for (size_t k = 0; k < i; k++)
            if (strcmp(norm_domain(m->opset_import[k]->domain), d) == 0)
                return mn_error(ctx, MN_ERR_PARSE,
                                "%s: domain '%s' is imported twice", L->label,
                                d);
    }
    /* A model may use other domains only (then no node may use ai.onnx). */
    opset = opset_for(L, "");
    if (opset < 0)
        opset = 0;
    if (opset > MN_ONNX_MAX_OPSET)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: ai.onnx opset %lld is newer than the newest "
                        "minnow supports (%d)",
                        L->label, (long long)opset, MN_ONNX_MAX_OPSET);
    if (!m->graph)
        return mn_error(ctx, MN_ERR_PARSE, "%s: model has no graph", L->label);
    if (m->graph->n_node > INT_MAX / 2 || m->graph->n_input > INT_MAX / 2 ||
        m->graph->n_output > INT_MAX / 2)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%s: graph too large",
                        L->label);
    g->ir_version = m->ir_version;
    g->opset = opset;
    if ((m->graph->name && !(g->name = mn_strdup(m->graph->name))) ||
        (m->producer_name &&
         !(g->producer_name = mn_strdup(m->producer_name))) ||
        (m->producer_version &&
         !(g->producer_version = mn_strdup(m->producer_version))))
        return mn_error(ctx, MN_ERR_OOM, "%s: out of memory", L->label);
    for (size_t i = 0; i < m->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *e = m->metadata_props[i];
        mn_status st;
        if (!e->key || !e->key[0])
            return mn_error(ctx, MN_ERR_PARSE,
                            "%s: metadata_props entry #%zu has no key",
                            L->label, i);
        st = mn_graph_set_meta(g, e->key, str_or(e->value, ""), ctx);
        if (st != MN_OK)
            return mn_error_prefix(ctx, st, "%s", L->label);
    }
    return MN_OK;
}

static mn_status build_graph(Onnx__ModelProto *m, const char *label,
                             const char *ext_dir, mn_graph **out, mn_ctx *ctx)
{
    loader L = {label, ext_dir, m, m->graph, NULL, ctx, 0};
    mn_status st = mn_graph_create(&L.g, ctx);
    if (st != MN_OK)
        return st;
    free(L.g->source);
    L.g->source = mn_strdup(label);
    if (!L.g->source) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    st = load_header(&L);
    if (st != MN_OK)
        goto fail;
    L.gp = m->graph;
    L.g->inputs = mn_calloc(L.gp->n_input + 1, sizeof(int));
    L.g->outputs = mn_calloc(L.gp->n_output + 1, sizeof(int));
    if (!L.g->inputs || !L.g->outputs) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory", label);
        goto fail;
    }
    st = load_initializers(&L);
    if (st == MN_OK)
        st = load_inputs(&L, L.g->inputs, &L.g->n_inputs);
    for (size_t i = 0; i < L.gp->n_node && st == MN_OK; i++)
        st = load_node(&L, i);
    if (st == MN_OK)
        st = load_value_info(&L);
    if (st == MN_OK)
        st = load_outputs(&L, L.g->outputs, &L.g->n_outputs);
    if (st == MN_OK) {
        st = mn_graph_toposort(L.g, ctx);
        if (st != MN_OK)
            mn_error_prefix(ctx, st, "%s", label);
    }
    if (st != MN_OK)
        goto fail;
    *out = L.g;
    return MN_OK;
fail:
    mn_graph_destroy(L.g);
    return st;
}

static mn_status parse_model(const void *buf, size_t len, const char *label,
                             Onnx__ModelProto **m, mn_ctx *ctx)
{
    mn_status st = mn_pb_unpack(&onnx__model_proto__descriptor, buf, len,
                                (ProtobufCMessage **)m, ctx);
    if (st != MN_OK)
        mn_error_prefix(ctx, st, "%s", label);
    return st;
}

mn_status mn_graph_load_onnx_mem(const void *buf, size_t len, const char *label,
                                 mn_graph **out, mn_ctx *ctx)
{
    Onnx__ModelProto *m = NULL;
    mn_status st;
    if (!out)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_load_onnx_mem: out is NULL");
    *out = NULL;
    if (!label)
        label = "<memory>";
    if (!buf && len)
        return mn_error(ctx, MN_ERR_ARG, "%s: NULL buffer", label);
    st = parse_model(buf, len, label, &m, ctx);
    if (st != MN_OK)
        return st;
    st = build_graph(m, label, NULL, out, ctx);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    if (st == MN_OK)
        (*out)->file_bytes = (int64_t)len;
    return st;
}

mn_status mn_graph_load_onnx(const char *path, mn_graph **out, mn_ctx *ctx)
{
    Onnx__ModelProto *m = NULL;
    void *buf = NULL;
    size_t len = 0;
    char *dir = NULL;
    mn_status st;
    if (!out || !path)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_load_onnx: NULL argument");
    *out = NULL;
    st = mn_pb_read_file(path, &buf, &len, ctx);
    if (st != MN_OK)
        return st;
    st = parse_model(buf, len, path, &m, ctx);
    free(buf); /* the protobuf holds its own copy of everything */
    if (st != MN_OK)
        return st;
    dir = mn_pb_dirname(path);
    if (!dir)
        st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory", path);
    else
        st = build_graph(m, path, dir, out, ctx);
    free(dir);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    if (st == MN_OK)
        (*out)->file_bytes = (int64_t)len;
    return st;
}
