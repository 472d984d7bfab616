/* .mnw reader, second half (see mnw_read.c for the rules every read
 * follows): the NODES section (nodes and their attributes), the GRAPH
 * section (graph inputs and outputs) and the metadata. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "io/mnw_read.h"
#include "io/onnx_tensor.h"
#include "minnow/mnw.h"
#include "ops/ops.h"

/* ---- nodes ---- */

static mn_status read_attr(reader *r, cursor *c, mn_node *n, uint32_t node)
{
    mn_attr *a = &n->attrs[n->n_attrs];
    uint32_t name, cnt, k32 = MNW_NO_STRING;
    uint8_t type, res[3];
    uint64_t u = 0;
    mn_status st;
    if (!rd32(c, &name) || !rd8(c, &type) || !rd8(c, &res[0]) ||
        !rd8(c, &res[1]) || !rd8(c, &res[2]))
        return mnw_truncated(r, "attribute record");
    if ((st = mnw_dup_str(r, name, 0, &a->name)) != MN_OK)
        return st;
    n->n_attrs++; /* owned by the node from here on */
    if (!a->name[0] || r->stamp[name] == node + 1)
        return mn_error(r->ctx, MN_ERR_PARSE, "attribute '%s' is unnamed or "
                        "appears twice", a->name);
    r->stamp[name] = node + 1;
    a->type = (mn_attr_type)type;
    switch (type) {
    case MN_ATTR_FLOAT:
        return rdf32(c, &a->f) ? MN_OK : mnw_truncated(r, "attribute");
    case MN_ATTR_INT:
        if (!rd64(c, &u))
            return mnw_truncated(r, "attribute");
        a->i = (int64_t)u;
        return MN_OK;
    case MN_ATTR_STRING:
        if (!rd32(c, &k32))
            return mnw_truncated(r, "attribute");
        return mnw_dup_str(r, k32, 1, &a->s);
    case MN_ATTR_TENSOR:
        return mnw_read_tensor(r, c, &a->t);
    case MN_ATTR_FLOATS: case MN_ATTR_INTS: case MN_ATTR_STRINGS: {
        size_t each = type == MN_ATTR_INTS ? 8 : 4;
        if (!rd32(c, &cnt) || !fits(c, cnt, each))
            return mnw_truncated(r, "attribute");
        if (cnt > INT_MAX)
            return mn_error(r->ctx, MN_ERR_PARSE, "attribute too long");
        if (type == MN_ATTR_FLOATS)
            a->floats = mn_malloc((cnt ? cnt : 1) * sizeof(float));
        else if (type == MN_ATTR_INTS)
            a->ints = mn_malloc((cnt ? cnt : 1) * sizeof(int64_t));
        else
            a->strings = mn_calloc(cnt ? cnt : 1, sizeof(char *));
        if (!a->floats && !a->ints && !a->strings)
            return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
        for (uint32_t k = 0; k < cnt; k++) {
            if (type == MN_ATTR_FLOATS)
                rdf32(c, &a->floats[k]);
            else if (type == MN_ATTR_INTS) {
                rd64(c, &u);
                a->ints[k] = (int64_t)u;
            } else {
                rd32(c, &k32);
                if ((st = mnw_dup_str(r, k32, 1, &a->strings[k])) != MN_OK)
                    return st;
            }
            a->n = (int)k + 1;
        }
        return MN_OK;
    }
    case 5: case 9: case 10: case 11: case 12: case 13: case 14:
        return mn_error(r->ctx, MN_ERR_UNSUPPORTED, "attribute '%s' of type "
                        "%u is not supported", a->name, type);
    default:
        return mn_error(r->ctx, MN_ERR_PARSE, "attribute '%s' has invalid type "
                        "%u", a->name, type);
    }
}

/* Opcode: the stored one when this minnow knows it (it must name the same
 * op as op_type), else the lookup of op_type (files from newer writers). */
static mn_status set_opcode(reader *r, mn_node *n, unsigned op)
{
    const mn_op_def *d;
    if (op == 0 || op >= MN_OP_COUNT)
        return MN_OK; /* mn_graph_add_node looked op_type up */
    d = mn_op_get((mn_opcode)op);
    if (!d || strcmp(d->name, n->op_type) != 0)
        return mn_error(r->ctx, MN_ERR_PARSE, "opcode %u does not match "
                        "op_type '%s'", op, n->op_type);
    n->op = (mn_opcode)op;
    return MN_OK;
}

static mn_status read_node(reader *r, cursor *c, uint32_t i)
{
    mn_graph *g = r->g;
    uint32_t name, op_type, domain, opset, n_in, n_out, n_attrs, u = 0;
    uint16_t opcode, res;
    const char *sn, *so, *sd;
    int *io = NULL, idx;
    mn_node *n;
    mn_status st;
    if (!rd32(c, &name) || !rd32(c, &op_type) || !rd32(c, &domain) ||
        !rd16(c, &opcode) || !rd16(c, &res) || !rd32(c, &opset) ||
        !rd32(c, &n_in) || !rd32(c, &n_out) || !rd32(c, &n_attrs))
        return mnw_truncated(r, "node record");
    if ((st = mnw_get_str(r, name, 1, &sn)) != MN_OK ||
        (st = mnw_get_str(r, op_type, 0, &so)) != MN_OK ||
        (st = mnw_get_str(r, domain, 1, &sd)) != MN_OK)
        return st;
    if (!so[0] || (int32_t)opset < 0)
        return mn_error(r->ctx, MN_ERR_PARSE, "node has no op_type or a "
                        "negative opset");
    if (n_in > MNW_MAX_IO || n_out > MNW_MAX_IO ||
        !fits(c, (uint64_t)n_in + n_out, 4) || !fits(c, n_attrs, 8))
        return mn_error(r->ctx, MN_ERR_PARSE, "node '%s' (%s): %u inputs, %u "
                        "outputs and %u attributes do not fit", sn ? sn : "",
                        so, n_in, n_out, n_attrs);
    if (!(io = mn_malloc(((size_t)n_in + n_out + 1) * sizeof *io)))
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    for (uint32_t j = 0; j < n_in + n_out; j++) {
        rd32(c, &u);
        io[j] = (int32_t)u;
        if (io[j] < -1 || io[j] >= g->n_values) {
            st = mn_error(r->ctx, MN_ERR_PARSE, "node '%s' (%s): %s %u refers "
                          "to value %d of %d", sn ? sn : "", so,
                          j < n_in ? "input" : "output",
                          j < n_in ? j : j - n_in, io[j], g->n_values);
            goto out;
        }
    }
    st = mn_graph_add_node(g, sn, so, sd ? sd : "", (int)opset, io, (int)n_in,
                           io + n_in, (int)n_out, &idx, r->ctx);
    if (st != MN_OK)
        goto out;
    n = &g->nodes[idx];
    if ((st = set_opcode(r, n, opcode)) != MN_OK)
        goto fail;
    if (n_attrs && !(n->attrs = mn_calloc(n_attrs, sizeof *n->attrs))) {
        st = mn_error(r->ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    for (uint32_t k = 0; k < n_attrs && st == MN_OK; k++)
        st = read_attr(r, c, n, i);
fail:
    if (st != MN_OK) {
        char lb[300];
        mn_error_prefix(r->ctx, st, "%s", mn_node_label(g, idx, lb, sizeof lb));
    }
out:
    free(io);
    return st;
}

mn_status mnw_read_nodes(reader *r)
{
    const mnw_section *s = &r->sec[MNW_SEC_NODES];
    cursor c = {r->data[MNW_SEC_NODES], s->size, 0};
    mn_status st;
    if (!fits(&c, s->count, 32) || s->count > INT_MAX / 2)
        return mn_error(r->ctx, MN_ERR_PARSE, "%u nodes do not fit in their "
                        "section", s->count);
    for (uint32_t k = 0; k < r->n_str; k++)
        r->stamp[k] = 0; /* now: node index + 1 that used it as attr name */
    r->g->nodes = mn_calloc(s->count ? s->count : 1, sizeof *r->g->nodes);
    if (!r->g->nodes)
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    r->g->cap_nodes = s->count ? (int)s->count : 1;
    for (uint32_t i = 0; i < s->count; i++)
        if ((st = read_node(r, &c, i)) != MN_OK)
            return st;
    if (c.i != c.n && r->minor <= MNW_MINOR)
        return mn_error(r->ctx, MN_ERR_PARSE, "nodes: %zu bytes after the "
                        "last record", c.n - c.i);
    return MN_OK;
}

/* ---- graph, metadata ---- */

static mn_status read_io_list(reader *r, cursor *c, uint32_t n, int **list,
                              int *count, const char *what)
{
    char *seen = mn_calloc((size_t)r->g->n_values + 1, 1);
    mn_status st = MN_OK;
    *list = mn_calloc((size_t)n + 1, sizeof **list);
    if (!seen || !*list) {
        free(seen);
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    }
    for (uint32_t i = 0; i < n && st == MN_OK; i++) {
        uint32_t v = UINT32_MAX;
        rd32(c, &v);
        if (v >= (uint32_t)r->g->n_values || seen[v])
            st = mn_error(r->ctx, MN_ERR_PARSE, "graph %s #%u: value %u is "
                          "out of range or listed twice", what, i, v);
        else if (what[0] == 'i' && r->g->values[v].init)
            st = mn_error(r->ctx, MN_ERR_PARSE, "graph input '%s' is a "
                          "constant", r->g->values[v].name);
        else {
            seen[v] = 1;
            (*list)[i] = (int)v;
            *count = (int)i + 1;
        }
    }
    free(seen);
    return st;
}

mn_status mnw_read_graph(reader *r)
{
    const mnw_section *s = &r->sec[MNW_SEC_GRAPH];
    cursor c = {r->data[MNW_SEC_GRAPH], s->size, 0};
    mn_graph *g = r->g;
    uint32_t name, pn, pv, res, n_in, n_out;
    uint64_t ir, opset;
    mn_status st;
    if (!rd32(&c, &name) || !rd32(&c, &pn) || !rd32(&c, &pv) ||
        !rd32(&c, &res) || !rd64(&c, &ir) || !rd64(&c, &opset) ||
        !rd32(&c, &n_in) || !rd32(&c, &n_out) ||
        !fits(&c, (uint64_t)n_in + n_out, 4))
        return mnw_truncated(r, "graph section");
    g->ir_version = (int64_t)ir;
    g->opset = (int64_t)opset;
    if ((st = mnw_dup_str(r, name, 1, &g->name)) != MN_OK ||
        (st = mnw_dup_str(r, pn, 1, &g->producer_name)) != MN_OK ||
        (st = mnw_dup_str(r, pv, 1, &g->producer_version)) != MN_OK ||
        (st = read_io_list(r, &c, n_in, &g->inputs, &g->n_inputs, "input")) !=
            MN_OK ||
        (st = read_io_list(r, &c, n_out, &g->outputs, &g->n_outputs,
                           "output")) != MN_OK)
        return st;
    if (c.i != c.n && r->minor <= MNW_MINOR)
        return mn_error(r->ctx, MN_ERR_PARSE, "graph section: %zu bytes "
                        "after its end", c.n - c.i);
    return MN_OK;
}

mn_status mnw_read_meta(reader *r)
{
    const mnw_section *s = &r->sec[MNW_SEC_META];
    cursor c = {r->data[MNW_SEC_META], s->size, 0};
    mn_graph *g = r->g;
    if (!r->have[MNW_SEC_META])
        return MN_OK;
    if (!fits(&c, s->count, 8) || s->count > INT_MAX / 2)
        return mnw_truncated(r, "metadata section");
    if (!(g->meta = mn_calloc(s->count ? s->count : 1, sizeof *g->meta)))
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    for (uint32_t k = 0; k < r->n_str; k++)
        r->stamp[k] = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t k = MNW_NO_STRING, v = MNW_NO_STRING;
        mn_meta *m = &g->meta[i];
        mn_status st;
        rd32(&c, &k);
        rd32(&c, &v);
        if ((st = mnw_dup_str(r, k, 0, &m->key)) != MN_OK ||
            (st = mnw_dup_str(r, v, 0, &m->value)) != MN_OK) {
            free(m->key);
            free(m->value);
            return mn_error_prefix(r->ctx, st, "metadata entry #%u", i);
        }
        g->n_meta = (int)i + 1;
        if (!m->key[0] || r->stamp[k])
            return mn_error(r->ctx, MN_ERR_PARSE, "metadata key '%s' is empty "
                            "or repeated", m->key);
        r->stamp[k] = 1;
    }
    if (c.i != c.n && r->minor <= MNW_MINOR)
        return mn_error(r->ctx, MN_ERR_PARSE, "metadata: %zu bytes after the "
                        "last entry", c.n - c.i);
    return MN_OK;
}
