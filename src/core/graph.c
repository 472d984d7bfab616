/* Graph IR construction, lookup, attributes, ordering and clean-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"

mn_status mn_graph_create(mn_graph **out, mn_ctx *ctx)
{
    mn_graph *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    g->ir_version = 8;
    g->opset = 13;
    g->source = mn_strdup("graph");
    if (!g->source) {
        free(g);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    *out = g;
    return MN_OK;
}

void mn_attr_clear(mn_attr *a)
{
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
    if (a->strings)
        for (int i = 0; i < a->n; i++)
            free(a->strings[i]);
    free(a->strings);
    mn_tensor_destroy(a->t);
    memset(a, 0, sizeof *a);
}

static void value_clear(mn_value *v)
{
    free(v->name);
    for (int i = 0; i < MN_MAX_DIMS; i++)
        free(v->dim_param[i]);
    mn_tensor_destroy(v->init);
    if (v->quant) {
        free(v->quant->scale);
        free(v->quant->zero_point);
        free(v->quant);
    }
    memset(v, 0, sizeof *v);
}

static void node_clear(mn_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->in);
    free(n->out);
    for (int i = 0; i < n->n_attrs; i++)
        mn_attr_clear(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

void mn_graph_destroy(mn_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++)
        value_clear(&g->values[i]);
    for (int i = 0; i < g->n_nodes; i++)
        node_clear(&g->nodes[i]);
    for (int i = 0; i < g->n_meta; i++) {
        free(g->meta[i].key);
        free(g->meta[i].value);
    }
    free(g->meta);
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g->source);
    free(g->producer_name);
    free(g->producer_version);
    free(g);
}

int mn_graph_find_value(const mn_graph *g, const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0)
            return i;
    return -1;
}

mn_status mn_graph_add_value(mn_graph *g, const char *name, mn_dtype dt,
                             int ndim, const int64_t *dims, int *idx,
                             mn_ctx *ctx)
{
    mn_value *v;
    if (!name || !name[0])
        return mn_error(ctx, MN_ERR_PARSE, "value with an empty name");
    if (ndim > MN_MAX_DIMS)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "value '%s': rank %d > %d",
                        name, ndim, MN_MAX_DIMS);
    if (mn_graph_find_value(g, name) >= 0)
        return mn_error(ctx, MN_ERR_PARSE, "value '%s' is defined twice", name);
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        mn_value *nv = mn_realloc(g->values, (size_t)cap * sizeof *nv);
        if (!nv)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        g->values = nv;
        g->cap_values = cap;
    }
    v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = mn_strdup(name);
    if (!v->name)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    v->dtype = dt;
    v->ndim = ndim;
    for (int i = 0; i < ndim && dims; i++)
        v->dims[i] = dims[i];
    v->producer = -1;
    if (idx)
        *idx = g->n_values;
    g->n_values++;
    return MN_OK;
}

mn_status mn_graph_add_node(mn_graph *g, const char *name, const char *op_type,
                            const char *domain, int opset, const int *in,
                            int n_in, const int *out, int n_out, int *idx,
                            mn_ctx *ctx)
{
    mn_node *n;
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        mn_node *nn = mn_realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = mn_strdup(name ? name : "");
    n->op_type = mn_strdup(op_type);
    n->domain = mn_strdup(domain ? domain : "");
    n->in = mn_calloc((size_t)(n_in > 0 ? n_in : 1), sizeof(int));
    n->out = mn_calloc((size_t)(n_out > 0 ? n_out : 1), sizeof(int));
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) {
        node_clear(n);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    n->n_in = n_in;
    n->n_out = n_out;
    if (n_in)
        memcpy(n->in, in, (size_t)n_in * sizeof(int));
    if (n_out)
        memcpy(n->out, out, (size_t)n_out * sizeof(int));
    n->op = mn_op_lookup(n->domain, op_type);
    n->opset = opset;
    for (int j = 0; j < n_out; j++)
        if (out[j] >= 0 && out[j] < g->n_values)
            g->values[out[j]].producer = g->n_nodes;
    if (idx)
        *idx = g->n_nodes;
    g->n_nodes++;
    return MN_OK;
}

mn_status mn_node_add_attr(mn_node *n, const char *name, mn_attr_type type,
                           mn_attr **out, mn_ctx *ctx)
{
    mn_attr *na = mn_realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *na);
    if (!na)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    n->attrs = na;
    memset(&na[n->n_attrs], 0, sizeof *na);
    na[n->n_attrs].name = mn_strdup(name);
    if (!na[n->n_attrs].name)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    na[n->n_attrs].type = type;
    if (out)
        *out = &na[n->n_attrs];
    n->n_attrs++;
    return MN_OK;
}

mn_status mn_attr_set_ints(mn_attr *a, const int64_t *v, int n, mn_ctx *ctx)
{
    int64_t *p = mn_malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if (n > 0)
        memcpy(p, v, (size_t)n * sizeof *p);
    free(a->ints);
    a->ints = p;
    a->n = n;
    return MN_OK;
}

mn_status mn_attr_set_floats(mn_attr *a, const float *v, int n, mn_ctx *ctx)
{
    float *p = mn_malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if (n > 0)
        memcpy(p, v, (size_t)n * sizeof *p);
    free(a->floats);
    a->floats = p;
    a->n = n;
    return MN_OK;
}

mn_status mn_attr_set_string(mn_attr *a, const char *s, mn_ctx *ctx)
{
    char *p = mn_strdup(s);
    if (!p)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    free(a->s);
    a->s = p;
    return MN_OK;
}

const mn_attr *mn_node_attr(const mn_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t mn_node_attr_int(const mn_node *n, const char *name, int64_t dflt)
{
    const mn_attr *a = mn_node_attr(n, name);
    return a && a->type == MN_ATTR_INT ? a->i : dflt;
}

float mn_node_attr_float(const mn_node *n, const char *name, float dflt)
{
    const mn_attr *a = mn_node_attr(n, name);
    if (a && a->type == MN_ATTR_FLOAT)
        return a->f;
    if (a && a->type == MN_ATTR_INT)
        return (float)a->i;
    return dflt;
}

const char *mn_node_attr_string(const mn_node *n, const char *name,
                                const char *dflt)
{
    const mn_attr *a = mn_node_attr(n, name);
    return a && a->type == MN_ATTR_STRING && a->s ? a->s : dflt;
}

int mn_node_attr_ints(const mn_node *n, const char *name, const int64_t **v)
{
    const mn_attr *a = mn_node_attr(n, name);
    if (!a || a->type != MN_ATTR_INTS) {
        *v = NULL;
        return 0;
    }
    *v = a->ints;
    return a->n;
}

int mn_node_attr_floats(const mn_node *n, const char *name, const float **v)
{
    const mn_attr *a = mn_node_attr(n, name);
    if (!a || a->type != MN_ATTR_FLOATS) {
        *v = NULL;
        return 0;
    }
    *v = a->floats;
    return a->n;
}

const char *mn_node_label(const mn_graph *g, int i, char *buf, size_t len)
{
    const mn_node *n = &g->nodes[i];
    if (n->name && n->name[0])
        snprintf(buf, len, "node '%s' (%s)", n->name, n->op_type);
    else
        snprintf(buf, len, "node #%d (%s)", i, n->op_type);
    return buf;
}

void mn_graph_relink(mn_graph *g)
{
    for (int i = 0; i < g->n_values; i++) {
        g->values[i].producer = -1;
        g->values[i].is_input = 0;
        g->values[i].is_output = 0;
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_out; j++)
            if (g->nodes[i].out[j] >= 0)
                g->values[g->nodes[i].out[j]].producer = i;
    for (int i = 0; i < g->n_inputs; i++)
        g->values[g->inputs[i]].is_input = 1;
    for (int i = 0; i < g->n_outputs; i++)
        g->values[g->outputs[i]].is_output = 1;
}

mn_status mn_graph_toposort(mn_graph *g, mn_ctx *ctx)
{
    /* Kahn's algorithm, stable: among ready nodes the earliest in file order
     * goes first, so an already sorted graph keeps its order. */
    int n = g->n_nodes;
    int *pending = NULL, *order = NULL, *prod = NULL;
    char *avail = NULL;
    mn_node *sorted = NULL;
    mn_status st = MN_OK;
    int done = 0;

    prod = mn_malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *prod);
    avail = mn_calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    pending = mn_calloc((size_t)(n ? n : 1), sizeof *pending);
    order = mn_malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!prod || !avail || !pending || !order) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int v = 0; v < g->n_values; v++) {
        prod[v] = -1;
        avail[v] = g->values[v].init != NULL;
    }
    for (int i = 0; i < g->n_inputs; i++)
        avail[g->inputs[i]] = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i].n_out; j++) {
            int v = g->nodes[i].out[j];
            if (v < 0)
                continue;
            if (prod[v] >= 0 || avail[v]) {
                st = mn_error(ctx, MN_ERR_PARSE,
                              "value '%s' has more than one producer",
                              g->values[v].name);
                goto out;
            }
            prod[v] = i;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++) {
            int v = g->nodes[i].in[j];
            if (v < 0)
                continue;
            if (!avail[v] && prod[v] < 0) {
                char lb[300];
                st = mn_error(ctx, MN_ERR_PARSE,
                              "%s: input '%s' is not produced by any node, "
                              "input or initializer",
                              mn_node_label(g, i, lb, sizeof lb),
                              g->values[v].name);
                goto out;
            }
        }
    /* Simple O(n^2) worst case; graphs have at most a few thousand nodes. */
    {
        char *placed = mn_calloc((size_t)(n ? n : 1), 1);
        if (!placed) {
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
            goto out;
        }
        int progress = 1;
        while (done < n && progress) {
            progress = 0;
            for (int i = 0; i < n; i++) {
                if (placed[i])
                    continue;
                int ready = 1;
                for (int j = 0; j < g->nodes[i].n_in && ready; j++) {
                    int v = g->nodes[i].in[j];
                    if (v >= 0 && !avail[v])
                        ready = 0;
                }
                if (!ready)
                    continue;
                placed[i] = 1;
                order[done++] = i;
                for (int j = 0; j < g->nodes[i].n_out; j++)
                    if (g->nodes[i].out[j] >= 0)
                        avail[g->nodes[i].out[j]] = 1;
                progress = 1;
            }
        }
        free(placed);
    }
    if (done < n) {
        st = mn_error(ctx, MN_ERR_PARSE, "the graph has a cycle");
        goto out;
    }
    sorted = mn_malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        sorted[i] = g->nodes[order[i]];
    if (n)
        memcpy(g->nodes, sorted, (size_t)n * sizeof *sorted);
    mn_graph_relink(g);
out:
    free(sorted);
    free(prod);
    free(avail);
    free(pending);
    free(order);
    return st;
}

int mn_graph_use_count(const mn_graph *g, int v)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            c += g->nodes[i].in[j] == v;
    for (int i = 0; i < g->n_outputs; i++)
        c += g->outputs[i] == v;
    return c;
}

void mn_graph_replace_uses(mn_graph *g, int from, int to)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == from)
                g->nodes[i].in[j] = to;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == from)
            g->outputs[i] = to;
    mn_graph_relink(g);
}

void mn_graph_remove_node(mn_graph *g, int i)
{
    node_clear(&g->nodes[i]);
    memmove(&g->nodes[i], &g->nodes[i + 1],
            (size_t)(g->n_nodes - i - 1) * sizeof g->nodes[0]);
    g->n_nodes--;
    mn_graph_relink(g);
}

mn_status mn_graph_prune_dead(mn_graph *g, mn_ctx *ctx)
{
    char *live = mn_calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    int *remap = NULL;
    int w = 0;
    if (!live)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int i = 0; i < g->n_outputs; i++)
        live[g->outputs[i]] = 1;
    /* Backwards over a topologically sorted graph: a node is live when one
     * of its outputs is. */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        mn_node *n = &g->nodes[i];
        int used = 0;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && live[n->out[j]])
                used = 1;
        if (!used) {
            node_clear(n);
            n->op_type = NULL; /* mark removed */
            continue;
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                live[n->in[j]] = 1;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0)
                live[n->out[j]] = 1;
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op_type)
            g->nodes[w++] = g->nodes[i];
    g->n_nodes = w;
    for (int i = 0; i < g->n_inputs; i++)
        live[g->inputs[i]] = 1;
    /* Compact values and renumber references. */
    remap = mn_malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *remap);
    if (!remap) {
        free(live);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    w = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (live[v]) {
            remap[v] = w;
            g->values[w++] = g->values[v];
        } else {
            remap[v] = -1;
            value_clear(&g->values[v]);
        }
    }
    g->n_values = w;
    for (int i = 0; i < g->n_nodes; i++) {
        mn_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                n->in[j] = remap[n->in[j]];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0)
                n->out[j] = remap[n->out[j]];
    }
    for (int i = 0; i < g->n_inputs; i++)
        g->inputs[i] = remap[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++)
        g->outputs[i] = remap[g->outputs[i]];
    free(remap);
    free(live);
    mn_graph_relink(g);
    return MN_OK;
}

static mn_status attr_copy(mn_attr *d, const mn_attr *s, mn_ctx *ctx)
{
    memset(d, 0, sizeof *d);
    d->type = s->type;
    d->f = s->f;
    d->i = s->i;
    d->n = s->n;
    d->name = mn_strdup(s->name);
    if (!d->name)
        goto oom;
    if (s->s && !(d->s = mn_strdup(s->s)))
        goto oom;
    if (s->ints && mn_attr_set_ints(d, s->ints, s->n, ctx) != MN_OK)
        goto oom;
    if (s->floats && mn_attr_set_floats(d, s->floats, s->n, ctx) != MN_OK)
        goto oom;
    if (s->strings) {
        d->strings = mn_calloc((size_t)(s->n ? s->n : 1), sizeof(char *));
        if (!d->strings)
            goto oom;
        for (int i = 0; i < s->n; i++)
            if (!(d->strings[i] = mn_strdup(s->strings[i])))
                goto oom;
    }
    if (s->t && mn_tensor_clone(s->t, &d->t, ctx) != MN_OK)
        goto oom;
    return MN_OK;
oom:
    mn_attr_clear(d);
    return mn_error(ctx, MN_ERR_OOM, "out of memory");
}

mn_status mn_graph_clone(const mn_graph *g, mn_graph **out, mn_ctx *ctx)
{
    mn_graph *c;
    mn_status st = mn_graph_create(&c, ctx);
    if (st != MN_OK)
        return st;
    free(c->source);
    c->source = mn_strdup(g->source);
    c->name = g->name ? mn_strdup(g->name) : NULL;
    c->producer_name = g->producer_name ? mn_strdup(g->producer_name) : NULL;
    c->producer_version =
        g->producer_version ? mn_strdup(g->producer_version) : NULL;
    c->ir_version = g->ir_version;
    c->opset = g->opset;
    c->file_bytes = g->file_bytes;
    for (int v = 0; v < g->n_values && st == MN_OK; v++) {
        const mn_value *s = &g->values[v];
        int idx;
        st = mn_graph_add_value(c, s->name, s->dtype, s->ndim, s->dims, &idx,
                                ctx);
        if (st != MN_OK)
            break;
        mn_value *d = &c->values[idx];
        for (int k = 0; k < MN_MAX_DIMS; k++)
            if (s->dim_param[k] && !(d->dim_param[k] = mn_strdup(s->dim_param[k])))
                st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        if (st == MN_OK && s->init)
            st = mn_tensor_clone(s->init, &d->init, ctx);
        if (st == MN_OK && s->quant) {
            d->quant = calloc(1, sizeof *d->quant);
            if (!d->quant)
                st = mn_error(ctx, MN_ERR_OOM, "out of memory");
            else {
                *d->quant = *s->quant;
                d->quant->scale = mn_malloc((size_t)s->quant->n * sizeof(float));
                d->quant->zero_point =
                    mn_malloc((size_t)s->quant->n * sizeof(int32_t));
                if (!d->quant->scale || !d->quant->zero_point)
                    st = mn_error(ctx, MN_ERR_OOM, "out of memory");
                else {
                    memcpy(d->quant->scale, s->quant->scale,
                           (size_t)s->quant->n * sizeof(float));
                    memcpy(d->quant->zero_point, s->quant->zero_point,
                           (size_t)s->quant->n * sizeof(int32_t));
                }
            }
        }
    }
    for (int i = 0; i < g->n_nodes && st == MN_OK; i++) {
        const mn_node *s = &g->nodes[i];
        int idx;
        st = mn_graph_add_node(c, s->name, s->op_type, s->domain, s->opset,
                               s->in, s->n_in, s->out, s->n_out, &idx, ctx);
        if (st != MN_OK)
            break;
        mn_node *d = &c->nodes[idx];
        d->op = s->op;
        if (s->n_attrs) {
            d->attrs = mn_calloc((size_t)s->n_attrs, sizeof *d->attrs);
            if (!d->attrs) {
                st = mn_error(ctx, MN_ERR_OOM, "out of memory");
                break;
            }
            for (int a = 0; a < s->n_attrs && st == MN_OK; a++) {
                st = attr_copy(&d->attrs[a], &s->attrs[a], ctx);
                if (st == MN_OK)
                    d->n_attrs++;
            }
        }
    }
    if (st == MN_OK) {
        c->inputs = mn_malloc((size_t)(g->n_inputs + 1) * sizeof(int));
        c->outputs = mn_malloc((size_t)(g->n_outputs + 1) * sizeof(int));
        if (!c->inputs || !c->outputs)
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        else {
            memcpy(c->inputs, g->inputs, (size_t)g->n_inputs * sizeof(int));
            memcpy(c->outputs, g->outputs, (size_t)g->n_outputs * sizeof(int));
            c->n_inputs = g->n_inputs;
            c->n_outputs = g->n_outputs;
        }
    }
    for (int i = 0; i < g->n_meta && st == MN_OK; i++)
        st = mn_graph_set_meta(c, g->meta[i].key, g->meta[i].value, ctx);
    if (st != MN_OK) {
        mn_graph_destroy(c);
        return st;
    }
    mn_graph_relink(c);
    *out = c;
    return MN_OK;
}

/* ---- public accessors ---- */
int mn_graph_num_inputs(const mn_graph *g) { return g->n_inputs; }
int mn_graph_num_outputs(const mn_graph *g) { return g->n_outputs; }

const char *mn_graph_input_name(const mn_graph *g, int i)
{
    return i >= 0 && i < g->n_inputs ? g->values[g->inputs[i]].name : NULL;
}

const char *mn_graph_output_name(const mn_graph *g, int i)
{
    return i >= 0 && i < g->n_outputs ? g->values[g->outputs[i]].name : NULL;
}

mn_status mn_graph_input_shape(const mn_graph *g, int i, int *ndim,
                               int64_t *dims, mn_dtype *dt)
{
    if (i < 0 || i >= g->n_inputs)
        return MN_ERR_ARG;
    const mn_value *v = &g->values[g->inputs[i]];
    *ndim = v->ndim;
    for (int k = 0; k < v->ndim && k < MN_MAX_DIMS; k++)
        dims[k] = v->dims[k];
    if (dt)
        *dt = v->dtype;
    return MN_OK;
}

const char *mn_graph_meta(const mn_graph *g, const char *key)
{
    for (int i = 0; i < g->n_meta; i++)
        if (strcmp(g->meta[i].key, key) == 0)
            return g->meta[i].value;
    return NULL;
}

mn_status mn_graph_set_meta(mn_graph *g, const char *key, const char *value,
                            mn_ctx *ctx)
{
    char *v = mn_strdup(value);
    if (!v)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int i = 0; i < g->n_meta; i++)
        if (strcmp(g->meta[i].key, key) == 0) {
            free(g->meta[i].value);
            g->meta[i].value = v;
            return MN_OK;
        }
    mn_meta *m = mn_realloc(g->meta, (size_t)(g->n_meta + 1) * sizeof *m);
    if (!m) {
        free(v);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    g->meta = m;
    m[g->n_meta].key = mn_strdup(key);
    m[g->n_meta].value = v;
    if (!m[g->n_meta].key) {
        free(v);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    g->n_meta++;
    return MN_OK;
}
