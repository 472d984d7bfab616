/* The pass manager (mn_graph_optimize), static shape propagation with a
 * symbolic batch (mn_graph_infer_shapes) and the small graph-editing helpers
 * the passes share. The passes themselves live in pass_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"

/* Constants the propagation evaluates are kept only up to this size: shape
 * computations need their data, big weights never do. */
#define SHAPES_DATA_LIMIT ((size_t)1 << 20)
#define MAX_PASS_ROUNDS 16

/* ---------------------------------------------------------------- helpers */

static char *unique_name(const mn_graph *g, const char *base)
{
    size_t len = strlen(base) + 24;
    char *s = mn_malloc(len);
    if (!s)
        return NULL;
    snprintf(s, len, "%s", base);
    for (unsigned k = 1; mn_graph_find_value(g, s) >= 0; k++)
        snprintf(s, len, "%s_%u", base, k);
    return s;
}

mn_status mn_pass_add_init(mn_graph *g, const char *base, mn_tensor *t,
                           int *idx, mn_ctx *ctx)
{
    char *name = unique_name(g, base && base[0] ? base : "const");
    mn_status st;
    if (!name) {
        mn_tensor_destroy(t);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    st = mn_graph_add_value(g, name, t->dtype, t->ndim, t->dims, idx, ctx);
    free(name);
    if (st != MN_OK) {
        mn_tensor_destroy(t);
        return st;
    }
    g->values[*idx].init = t;
    return MN_OK;
}

mn_status mn_pass_private_init(mn_graph *g, int ni, int slot, mn_tensor **out,
                               mn_ctx *ctx)
{
    int v = g->nodes[ni].in[slot], idx;
    mn_tensor *c;
    mn_status st;
    *out = NULL;
    if (v < 0 || !g->values[v].init)
        return mn_error(ctx, MN_ERR_ARG, "input %d is not a constant", slot);
    if (mn_graph_use_count(g, v) == 1 && !g->values[v].is_output) {
        *out = g->values[v].init;
        return MN_OK;
    }
    if ((st = mn_tensor_clone(g->values[v].init, &c, ctx)) != MN_OK)
        return st;
    if ((st = mn_pass_add_init(g, g->values[v].name, c, &idx, ctx)) != MN_OK)
        return st;
    g->nodes[ni].in[slot] = idx;
    *out = g->values[idx].init;
    return MN_OK;
}

static int out_slot_of(const mn_node *n, int v)
{
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j] == v)
            return j;
    return -1;
}

int mn_pass_bypass(mn_graph *g, int ni, int in_slot, int out_slot)
{
    mn_node *n = &g->nodes[ni];
    int a = n->in[in_slot], b = n->out[out_slot];
    if (a < 0)
        return 0;
    for (int j = 0; j < n->n_out; j++)
        if (j != out_slot && n->out[j] >= 0 &&
            mn_graph_use_count(g, n->out[j]) > 0)
            return 0;
    if (b < 0 || mn_graph_use_count(g, b) == 0) {
        mn_graph_remove_node(g, ni);
        return 1;
    }
    if (!g->values[b].is_output) {
        mn_graph_replace_uses(g, b, a);
        mn_graph_remove_node(g, ni);
        return 1;
    }
    /* b names a graph output: keep the name by letting a's producer write b. */
    int p = g->values[a].producer;
    if (p < 0 || p >= ni || g->values[a].init || g->values[a].is_input ||
        g->values[a].is_output)
        return 0;
    int slot = out_slot_of(&g->nodes[p], a);
    if (slot < 0)
        return 0;
    g->nodes[p].out[slot] = b;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == a)
                g->nodes[i].in[j] = b;
    mn_graph_remove_node(g, ni); /* relinks */
    return 1;
}

void mn_pass_absorb(mn_graph *g, int ni, int in_slot)
{
    int a = g->nodes[ni].in[in_slot], b = g->nodes[ni].out[0];
    int p = g->values[a].producer;
    int slot = out_slot_of(&g->nodes[p], a);
    g->nodes[p].out[slot] = b;
    mn_graph_remove_node(g, ni); /* relinks; a is left without producer */
}

/* ------------------------------------------------------- shape propagation */

static void vt_free_data(mn_tensor *t)
{
    if (t->owns_data)
        mn_free_aligned(t->data);
    t->data = NULL;
    t->owns_data = 0;
}

static int meta_ok(const mn_tensor *t, size_t *bytes)
{
    size_t n = 1;
    if (t->ndim < 0 || t->ndim > MN_MAX_DIMS || mn_dtype_size(t->dtype) == 0)
        return 0;
    for (int k = 0; k < t->ndim; k++)
        if (t->dims[k] < 0 || !mn_mul_size(n, (size_t)t->dims[k], &n))
            return 0;
    if (!mn_mul_size(n, mn_dtype_size(t->dtype), &n))
        return 0;
    *bytes = n;
    return 1;
}

static void mark_unknown(const mn_node *n, mn_tensor *vt)
{
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j] >= 0) {
            vt_free_data(&vt[n->out[j]]);
            memset(&vt[n->out[j]], 0, sizeof vt[0]);
            vt[n->out[j]].ndim = -1;
        }
}

/* Evaluates node n (all inputs constant) into out[], allocating data. */
static mn_status eval_node(const mn_node *n, const mn_op_def *def,
                           const mn_tensor **in, mn_tensor **out, mn_ctx *ctx)
{
    size_t sb = def->scratch ? def->scratch(n, in, n->n_in,
                                            (const mn_tensor *const *)out,
                                            n->n_out)
                             : 0;
    mn_exec ex = {.ctx = ctx};
    mn_status st;
    for (int j = 0; j < n->n_out; j++) {
        size_t bytes = mn_tensor_nbytes(out[j]);
        out[j]->data = mn_malloc_aligned(bytes ? bytes : 1);
        if (!out[j]->data)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        out[j]->owns_data = 1;
    }
    if (sb && !(ex.scratch = mn_malloc_aligned(sb)))
        return mn_error(ctx, MN_ERR_OOM, "out of memory (scratch)");
    ex.scratch_bytes = sb;
    st = def->forward(n, in, n->n_in, out, n->n_out, &ex);
    mn_free_aligned(ex.scratch);
    return st;
}

static mn_status node_fail(const mn_graph *g, int ni, mn_status st,
                           mn_ctx *ctx)
{
    char lb[300];
    return mn_error_prefix(ctx, st, "%s: %s", g->source,
                           mn_node_label(g, ni, lb, sizeof lb));
}

/* One propagation with placeholder sizes for symbolic input dims. In strict
 * mode (only the batch is symbolic) a shape error is the model's fault and
 * is returned; otherwise it only leaves the node's outputs unknown. */
static mn_status run_shapes(const mn_graph *g, int run, mn_tensor *vt,
                            int strict, mn_ctx *ctx)
{
    int max_in = 1, max_out = 1;
    const mn_tensor **in = NULL;
    mn_tensor **out = NULL, *dummies = NULL;
    mn_status st = MN_OK;

    for (int v = 0; v < g->n_values; v++) {
        memset(&vt[v], 0, sizeof vt[v]);
        vt[v].ndim = -1;
        if (g->values[v].init) {
            vt[v] = *g->values[v].init;
            vt[v].owns_data = 0;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const mn_value *val = &g->values[g->inputs[i]];
        mn_tensor *t = &vt[g->inputs[i]];
        if (val->ndim < 0 || val->ndim > MN_MAX_DIMS || val->init)
            continue;
        t->dtype = val->dtype;
        t->ndim = val->ndim;
        for (int k = 0; k < val->ndim; k++)
            t->dims[k] = val->dims[k] >= 0 ? val->dims[k]
                         : k == 0         ? 1 + run
                                          : 224 + 32 * run;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_in > max_in)
            max_in = g->nodes[i].n_in;
        if (g->nodes[i].n_out > max_out)
            max_out = g->nodes[i].n_out;
    }
    in = mn_calloc((size_t)max_in, sizeof *in);
    out = mn_calloc((size_t)max_out, sizeof *out);
    dummies = mn_calloc((size_t)max_out, sizeof *dummies);
    if (!in || !out || !dummies) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto done;
    }
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const mn_node *n = &g->nodes[ni];
        const mn_op_def *def = mn_op_get(n->op);
        int known = def && def->infer && n->n_in >= def->min_in &&
                    n->n_in <= def->max_in && n->n_out >= def->min_out &&
                    n->n_out <= def->max_out;
        int all_const = 1;
        size_t total = 0;
        for (int j = 0; known && j < n->n_in; j++) {
            int v = n->in[j];
            in[j] = v >= 0 ? &vt[v] : NULL;
            if (v >= 0 && vt[v].ndim < 0)
                known = 0;
            if (v >= 0 && !vt[v].data)
                all_const = 0;
        }
        if (!known) {
            mark_unknown(n, vt);
            continue;
        }
        for (int j = 0; j < n->n_out; j++) {
            out[j] = n->out[j] >= 0 ? &vt[n->out[j]] : &dummies[j];
            vt_free_data(out[j]);
            memset(out[j], 0, sizeof *out[j]);
        }
        st = def->infer(n, in, n->n_in, out, n->n_out, ctx);
        for (int j = 0; st == MN_OK && j < n->n_out; j++) {
            size_t b;
            if (!meta_ok(out[j], &b))
                st = mn_error(ctx, MN_ERR_SHAPE, "invalid output shape");
            else if (!mn_add_size(total, b, &total))
                total = SIZE_MAX;
        }
        if (st != MN_OK) {
            if (strict && st != MN_ERR_UNSUPPORTED) {
                st = node_fail(g, ni, st, ctx);
                goto done;
            }
            st = MN_OK;
            mark_unknown(n, vt);
            continue;
        }
        /* Shape-like ops read only dims, which are known here */
        if (def->flags & MN_OPF_SHAPE_ONLY)
            all_const = 1;
        if (all_const && def->forward &&
                   !(def->flags & MN_OPF_NOFOLD) &&
                   total <= SHAPES_DATA_LIMIT) {
            st = eval_node(n, def, in, out, ctx);
            if (st == MN_ERR_OOM)
                goto done;
            if (st != MN_OK) {
                /* a data-dependent fault: the value stays meta-only */
                for (int j = 0; j < n->n_out; j++)
                    vt_free_data(out[j]);
                st = MN_OK;
            }
        }
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] < 0)
                vt_free_data(&dummies[j]);
    }
done:
    for (int v = 0; v < g->n_values; v++) {
        vt_free_data(&vt[v]);
        vt[v].data = NULL;
    }
    for (int j = 0; dummies && j < max_out; j++)
        vt_free_data(&dummies[j]);
    free(in);
    free(out);
    free(dummies);
    return st;
}

void mn_shapes_free(mn_shapes *s)
{
    if (!s)
        return;
    free(s->run[0]);
    free(s->run[1]);
    memset(s, 0, sizeof *s);
}

mn_status mn_shapes_compute(const mn_graph *g, mn_shapes *out, mn_ctx *ctx)
{
    int strict = 1;
    mn_status st = MN_OK;
    memset(out, 0, sizeof *out);
    out->n_values = g->n_values;
    for (int i = 0; i < g->n_inputs; i++) {
        const mn_value *v = &g->values[g->inputs[i]];
        for (int k = 1; k < v->ndim && k < MN_MAX_DIMS; k++)
            if (v->dims[k] < 0)
                strict = 0;
    }
    for (int r = 0; r < 2 && st == MN_OK; r++) {
        out->run[r] = mn_calloc((size_t)(g->n_values + 1), sizeof(mn_tensor));
        if (!out->run[r])
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        else
            st = run_shapes(g, r, out->run[r], strict, ctx);
    }
    if (st != MN_OK)
        mn_shapes_free(out);
    return st;
}

mn_status mn_shapes_lazy(const mn_graph *g, mn_shapes *s, int *state,
                         mn_ctx *ctx)
{
    mn_ctx quiet = {{0}};
    mn_status st;
    if (*state)
        return MN_OK;
    st = mn_shapes_compute(g, s, &quiet);
    if (st == MN_ERR_OOM)
        return mn_error(ctx, st, "%s", quiet.msg);
    *state = st == MN_OK ? 1 : -1;
    return MN_OK;
}

int mn_shapes_get(const mn_shapes *s, int v, mn_tensor *t)
{
    const mn_tensor *a, *b;
    memset(t, 0, sizeof *t);
    t->ndim = -1;
    if (!s || !s->run[0] || v < 0 || v >= s->n_values)
        return 0;
    a = &s->run[0][v];
    b = &s->run[1][v];
    if (a->ndim < 0 || a->ndim != b->ndim || a->dtype != b->dtype)
        return 0;
    t->dtype = a->dtype;
    t->ndim = a->ndim;
    for (int k = 0; k < a->ndim; k++)
        t->dims[k] = a->dims[k] == b->dims[k] ? a->dims[k] : -1;
    return 1;
}

/* The name of the symbolic batch, when a graph input declares one. */
static const char *batch_name(const mn_graph *g)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const mn_value *v = &g->values[g->inputs[i]];
        if (v->ndim > 0 && v->dims[0] < 0 && v->dim_param[0])
            return v->dim_param[0];
    }
    return NULL;
}

mn_status mn_graph_infer_shapes(mn_graph *g, mn_ctx *ctx)
{
    mn_shapes s;
    mn_status st = mn_shapes_compute(g, &s, ctx);
    const char *bname = batch_name(g);
    if (st != MN_OK)
        return st;
    for (int v = 0; v < g->n_values; v++) {
        mn_value *val = &g->values[v];
        mn_tensor t;
        if (val->init || val->is_input || !mn_shapes_get(&s, v, &t))
            continue;
        int same_rank = val->ndim == t.ndim;
        for (int k = 0; k < MN_MAX_DIMS; k++) {
            int keep = same_rank && k < t.ndim && t.dims[k] < 0 &&
                       val->dims[k] < 0;
            if (!keep) {
                free(val->dim_param[k]);
                val->dim_param[k] = NULL;
            }
        }
        val->dtype = t.dtype;
        val->ndim = t.ndim;
        for (int k = 0; k < t.ndim; k++) {
            val->dims[k] = t.dims[k];
            /* a dim equal to the batch in both runs is the batch */
            if (t.dims[k] < 0 && !val->dim_param[k] && bname &&
                s.run[0][v].dims[k] == 1 && s.run[1][v].dims[k] == 2)
                val->dim_param[k] = mn_strdup(bname); /* NULL: just unnamed */
        }
        for (int k = t.ndim; k < MN_MAX_DIMS; k++)
            val->dims[k] = 0;
    }
    mn_shapes_free(&s);
    return MN_OK;
}

/* ------------------------------------------------------------ the manager */

typedef struct pass_entry {
    const char *name;
    mn_status (*run)(mn_graph *g, int *changed, mn_ctx *ctx);
} pass_entry;

static const pass_entry passes[] = {
    {"simplify", mn_pass_simplify},
    {"constant folding", mn_pass_const_fold},
    {"BatchNorm folding", mn_pass_bn_fold},
};

mn_status mn_graph_optimize(mn_graph *g, mn_ctx *ctx)
{
    mn_status st;
    if (!g)
        return mn_error(ctx, MN_ERR_ARG, "optimize: no graph");
    if ((st = mn_graph_toposort(g, ctx)) != MN_OK)
        return mn_error_prefix(ctx, st, "%s", g->source);
    if ((st = mn_graph_prune_dead(g, ctx)) != MN_OK)
        return st;
    for (int round = 0; round < MAX_PASS_ROUNDS; round++) {
        int total = 0;
        for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
            int changed = 0;
            st = passes[p].run(g, &changed, ctx);
            if (st != MN_OK)
                return mn_error_prefix(ctx, st, "%s", passes[p].name);
            if (changed) {
                /* dead readers would block rewrites that need a single
                 * reader */
                if ((st = mn_graph_prune_dead(g, ctx)) != MN_OK)
                    return st;
                total += changed;
            }
        }
        if (!total)
            break;
    }
    if ((st = mn_graph_toposort(g, ctx)) != MN_OK)
        return mn_error_prefix(ctx, st, "%s: after optimizing", g->source);
    /* Shapes are a courtesy for exporters and `minnow info`; a graph the
     * propagation cannot follow is still optimized. */
    mn_ctx quiet = {{0}};
    st = mn_graph_infer_shapes(g, &quiet);
    if (st == MN_ERR_OOM)
        return mn_error(ctx, st, "%s", quiet.msg);
    return MN_OK;
}
