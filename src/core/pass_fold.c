/* Graph-level constant folding.
 *
 * 1. A node whose inputs are all initializers is evaluated through the op
 *    table and its outputs become initializers (Constant nodes included).
 * 2. Shape of a value whose dims are all known becomes a constant.
 * 3. PyTorch's x.view(x.size(0), -1) exports as
 *    Shape→Gather→Unsqueeze→Concat→Reshape. With a symbolic batch the shape
 *    is not constant, but its entries are: known integers, or "dim k of
 *    value X". A small symbolic evaluator tracks those entries; when every
 *    entry is known or copies the Reshape's own input dim at the same
 *    position, the shape input becomes a constant with 0 there (ONNX Reshape
 *    copies the input dim for 0 when allowzero=0), so the batch stays
 *    dynamic. Nothing that depends on the batch is ever baked in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "ops/ops.h"

/* Folding that makes the model bigger is done only up to this size:
 * ConstantOfShape/Expand/Tile of a small constant stay runtime ops. */
#define FOLD_GROW_LIMIT ((size_t)1 << 20)
#define MAX_SYM 16
#define MAX_DEPTH 48

typedef struct fold_ctx {
    mn_graph *g;
    mn_shapes shapes;
    int shapes_state; /* 0: not computed, 1: computed, -1: unavailable */
} fold_ctx;

static mn_status need_shapes(fold_ctx *f, mn_ctx *ctx)
{
    return mn_shapes_lazy(f->g, &f->shapes, &f->shapes_state, ctx);
}

static int is_output_of_graph(const mn_graph *g, const mn_node *n)
{
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j] >= 0 && g->values[n->out[j]].is_output)
            return 1;
    return 0;
}

/* Gives value v the constant t (ownership moves). */
static void set_init(mn_graph *g, int v, mn_tensor *t)
{
    mn_value *val = &g->values[v];
    mn_tensor_destroy(val->init);
    val->init = t;
    val->dtype = t->dtype;
    val->ndim = t->ndim;
    for (int k = 0; k < MN_MAX_DIMS; k++) {
        val->dims[k] = k < t->ndim ? t->dims[k] : 0;
        free(val->dim_param[k]);
        val->dim_param[k] = NULL;
    }
}

/* ---- 1. all-constant nodes ---- */

static int foldable(const mn_graph *g, const mn_node *n, const mn_op_def *def)
{
    if (!def || !def->infer || !def->forward || (def->flags & MN_OPF_NOFOLD))
        return 0;
    /* Dequantizing constant weights would undo a QDQ model's compression. */
    if (n->op == MN_OP_DEQUANTIZELINEAR)
        return 0;
    /* Nor may casting float16 weights back to float32 (float16 mode). */
    if (n->op == MN_OP_CAST && n->n_in > 0 && n->in[0] >= 0 &&
        g->values[n->in[0]].init &&
        g->values[n->in[0]].init->dtype == MN_DT_F16)
        return 0;
    if (n->n_in < def->min_in || n->n_in > def->max_in ||
        n->n_out < def->min_out || n->n_out > def->max_out)
        return 0;
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0 && !g->values[n->in[j]].init)
            return 0;
    return !is_output_of_graph(g, n);
}

/* Evaluates node ni; *done = 1 when its outputs became initializers. A node
 * that fails to infer or run is left for the session to report. */
static mn_status fold_node(mn_graph *g, int ni, const mn_op_def *def,
                           int *done, mn_ctx *ctx)
{
    const mn_node *n = &g->nodes[ni];
    int n_out = n->n_out;
    const mn_tensor **in = mn_calloc((size_t)n->n_in + 1, sizeof *in);
    mn_tensor *meta = mn_calloc((size_t)n->n_out + 1, sizeof *meta);
    mn_tensor **out = mn_calloc((size_t)n->n_out + 1, sizeof *out);
    size_t in_bytes = 0, out_bytes = 0;
    mn_exec ex = {.ctx = ctx};
    mn_ctx quiet = {{0}};
    mn_status st = MN_OK;
    *done = 0;
    if (!in || !meta || !out) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int j = 0; j < n->n_in; j++) {
        in[j] = n->in[j] >= 0 ? g->values[n->in[j]].init : NULL;
        if (in[j])
            in_bytes += mn_tensor_nbytes(in[j]);
    }
    for (int j = 0; j < n->n_out; j++)
        out[j] = &meta[j];
    if (def->infer(n, in, n->n_in, out, n->n_out, &quiet) != MN_OK)
        goto out;
    for (int j = 0; j < n->n_out; j++) {
        mn_tensor *t;
        st = mn_tensor_create(meta[j].dtype, meta[j].ndim, meta[j].dims, &t,
                              &quiet);
        if (st != MN_OK) { /* an invalid or huge shape: leave the node */
            st = st == MN_ERR_OOM ? mn_error(ctx, st, "%s", quiet.msg) : MN_OK;
            goto out;
        }
        out[j] = t;
        out_bytes += mn_tensor_nbytes(t);
    }
    if (n->op != MN_OP_CONSTANT && out_bytes > in_bytes &&
        out_bytes > FOLD_GROW_LIMIT)
        goto out;
    ex.scratch_bytes = def->scratch
                           ? def->scratch(n, in, n->n_in,
                                          (const mn_tensor *const *)out,
                                          n->n_out)
                           : 0;
    if (ex.scratch_bytes && !(ex.scratch = mn_malloc_aligned(ex.scratch_bytes))) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory (scratch)");
        goto out;
    }
    ex.ctx = &quiet;
    if (def->forward(n, in, n->n_in, out, n->n_out, &ex) != MN_OK)
        goto out;
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j] >= 0) {
            set_init(g, n->out[j], out[j]);
            out[j] = &meta[j]; /* moved */
        }
    mn_graph_remove_node(g, ni);
    *done = 1;
out:
    mn_free_aligned(ex.scratch);
    for (int j = 0; out && j < n_out; j++) /* n may be gone */
        if (out[j] != &meta[j])
            mn_tensor_destroy(out[j]);
    free(in);
    free(meta);
    free(out);
    return st;
}

/* ---- symbolic shape entries ---- */

enum { S_UNK = 0, S_CONST = 1, S_DIM = 2 };

typedef struct sym {
    int kind;
    int64_t c; /* S_CONST */
    int v, k;  /* S_DIM: dim k of value v */
} sym;

typedef struct symvec {
    int rank; /* 0: scalar, 1: vector */
    int n;
    sym e[MAX_SYM];
} symvec;

/* Constant integer input as a list; 0 when absent or unsuitable. */
static int const_ints(const mn_graph *g, int v, int64_t *vals, int *n,
                      int *rank)
{
    const mn_tensor *t;
    if (v < 0 || !(t = g->values[v].init))
        return 0;
    if ((t->dtype != MN_DT_I64 && t->dtype != MN_DT_I32) || t->ndim > 1)
        return 0;
    int64_t cnt = mn_tensor_numel(t);
    if (cnt > MAX_SYM)
        return 0;
    for (int64_t i = 0; i < cnt; i++)
        vals[i] = mn_tensor_get_i64(t, i);
    *n = (int)cnt;
    *rank = t->ndim;
    return 1;
}

/* Axes of Unsqueeze/Squeeze: attribute (opset < 13) or input 1. */
static int node_axes(const mn_graph *g, const mn_node *n, int64_t *axes,
                     int *na)
{
    const int64_t *a;
    int cnt = mn_node_attr_ints(n, "axes", &a), rank;
    if (cnt > 0) {
        if (cnt > MAX_SYM)
            return 0;
        memcpy(axes, a, (size_t)cnt * sizeof *a);
        *na = cnt;
        return 1;
    }
    if (n->n_in >= 2 && n->in[1] >= 0)
        return const_ints(g, n->in[1], axes, na, &rank);
    *na = 0;
    return 1;
}

static int64_t arith(int op, int64_t a, int64_t b, int *ok)
{
    const int64_t lim = (int64_t)1 << 31;
    *ok = a > -lim && a < lim && b > -lim && b < lim;
    switch (op) {
    case MN_OP_ADD: return a + b;
    case MN_OP_SUB: return a - b;
    case MN_OP_MUL: return a * b;
    default:
        *ok = *ok && b != 0;
        return *ok ? a / b : 0; /* ONNX integer Div truncates */
    }
}

static int track(const fold_ctx *f, int v, symvec *out, int depth);

static int track_slice(const fold_ctx *f, const mn_node *n, symvec *out,
                       int depth)
{
    const mn_graph *g = f->g;
    symvec x;
    int64_t st[MAX_SYM], en[MAX_SYM], ax[MAX_SYM], sp[MAX_SYM];
    int ns = 1, ne = 1, na = 1, nsp = 1, r;
    ax[0] = 0;
    sp[0] = 1;
    if (n->n_in < 3 || !track(f, n->in[0], &x, depth + 1) || x.rank != 1 ||
        !const_ints(g, n->in[1], st, &ns, &r) ||
        !const_ints(g, n->in[2], en, &ne, &r) ||
        (n->n_in > 3 && n->in[3] >= 0 && !const_ints(g, n->in[3], ax, &na, &r)) ||
        (n->n_in > 4 && n->in[4] >= 0 && !const_ints(g, n->in[4], sp, &nsp, &r)))
        return 0;
    if (ns != 1 || ne != 1 || na != 1 || nsp != 1 || (ax[0] != 0 && ax[0] != -1) ||
        sp[0] == 0)
        return 0;
    int64_t dim = x.n, s = st[0], e = en[0], step = sp[0];
    if (s < 0)
        s += dim;
    if (e < 0)
        e += dim;
    if (step > 0) {
        s = s < 0 ? 0 : s > dim ? dim : s;
        e = e < 0 ? 0 : e > dim ? dim : e;
    } else {
        s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
        e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
    }
    out->rank = 1;
    out->n = 0;
    for (int64_t i = s; step > 0 ? i < e : i > e; i += step)
        out->e[out->n++] = x.e[i];
    return 1;
}

static int track_node(const fold_ctx *f, const mn_node *n, symvec *out,
                      int depth)
{
    const mn_graph *g = f->g;
    symvec a, b;
    int64_t idx[MAX_SYM];
    int ni, r;
    memset(out, 0, sizeof *out);
    switch (n->op) {
    case MN_OP_SHAPE: {
        mn_tensor t;
        if (n->n_in < 1 || n->in[0] < 0 || f->shapes_state != 1 ||
            !mn_shapes_get(&f->shapes, n->in[0], &t))
            return 0;
        int64_t rk = t.ndim, s = mn_node_attr_int(n, "start", 0),
                e = mn_node_attr_int(n, "end", rk);
        s = s < 0 ? s + rk : s;
        e = e < 0 ? e + rk : e;
        s = s < 0 ? 0 : s > rk ? rk : s;
        e = e < 0 ? 0 : e > rk ? rk : e;
        out->rank = 1;
        for (int64_t k = s; k < e; k++) {
            sym *y = &out->e[out->n++];
            if (t.dims[k] >= 0) {
                y->kind = S_CONST;
                y->c = t.dims[k];
            } else {
                y->kind = S_DIM;
                y->v = n->in[0];
                y->k = (int)k;
            }
        }
        return 1;
    }
    case MN_OP_GATHER: {
        int64_t axis = mn_node_attr_int(n, "axis", 0);
        if (n->n_in < 2 || !track(f, n->in[0], &a, depth + 1) || a.rank != 1 ||
            (axis != 0 && axis != -1) || !const_ints(g, n->in[1], idx, &ni, &r))
            return 0;
        out->rank = r;
        for (int i = 0; i < ni; i++) {
            int64_t k = idx[i] < 0 ? idx[i] + a.n : idx[i];
            if (k < 0 || k >= a.n)
                return 0;
            out->e[out->n++] = a.e[k];
        }
        return 1;
    }
    case MN_OP_UNSQUEEZE:
    case MN_OP_SQUEEZE: {
        if (!track(f, n->in[0], &a, depth + 1) || !node_axes(g, n, idx, &ni))
            return 0;
        if (n->op == MN_OP_UNSQUEEZE) {
            if (a.rank != 0 || ni != 1 || (idx[0] != 0 && idx[0] != -1))
                return 0;
            *out = a;
            out->rank = 1;
            return 1;
        }
        if (a.rank != 1 || a.n != 1 || ni > 1 ||
            (ni == 1 && idx[0] != 0 && idx[0] != -1))
            return 0;
        *out = a;
        out->rank = 0;
        return 1;
    }
    case MN_OP_CONCAT: {
        int64_t axis = mn_node_attr_int(n, "axis", 0);
        if (axis != 0 && axis != -1)
            return 0;
        out->rank = 1;
        for (int j = 0; j < n->n_in; j++) {
            if (!track(f, n->in[j], &a, depth + 1) || a.rank != 1 ||
                out->n + a.n > MAX_SYM)
                return 0;
            memcpy(&out->e[out->n], a.e, (size_t)a.n * sizeof a.e[0]);
            out->n += a.n;
        }
        return 1;
    }
    case MN_OP_CAST: {
        int64_t to = mn_node_attr_int(n, "to", 0);
        if (to != MN_DT_I64 && to != MN_DT_I32)
            return 0;
        return track(f, n->in[0], out, depth + 1);
    }
    case MN_OP_IDENTITY:
        return track(f, n->in[0], out, depth + 1);
    case MN_OP_SLICE:
        return n->n_attrs == 0 && track_slice(f, n, out, depth);
    case MN_OP_ADD:
    case MN_OP_SUB:
    case MN_OP_MUL:
    case MN_OP_DIV: {
        if (n->n_in != 2 || !track(f, n->in[0], &a, depth + 1) ||
            !track(f, n->in[1], &b, depth + 1))
            return 0;
        if (a.n != b.n && a.n != 1 && b.n != 1)
            return 0;
        out->rank = a.rank > b.rank ? a.rank : b.rank;
        out->n = a.n > b.n ? a.n : b.n;
        for (int i = 0; i < out->n; i++) {
            const sym *x = &a.e[a.n == 1 ? 0 : i], *y = &b.e[b.n == 1 ? 0 : i];
            int ok = 0;
            if (x->kind == S_CONST && y->kind == S_CONST) {
                out->e[i].c = arith(n->op, x->c, y->c, &ok);
                out->e[i].kind = ok ? S_CONST : S_UNK;
            }
        }
        return 1;
    }
    default:
        return 0;
    }
}

/* Entries of the 0-D/1-D integer value v, or 0 when not trackable. */
static int track(const fold_ctx *f, int v, symvec *out, int depth)
{
    int64_t vals[MAX_SYM];
    int n, rank, p;
    memset(out, 0, sizeof *out);
    if (v < 0 || depth > MAX_DEPTH)
        return 0;
    if (f->g->values[v].init) {
        if (!const_ints(f->g, v, vals, &n, &rank))
            return 0;
        out->rank = rank;
        out->n = n;
        for (int i = 0; i < n; i++) {
            out->e[i].kind = S_CONST;
            out->e[i].c = vals[i];
        }
        return 1;
    }
    p = f->g->values[v].producer;
    if (p < 0)
        return 0;
    return track_node(f, &f->g->nodes[p], out, depth);
}

/* Dim j of value x is dim k of value d: the same value, or both symbolic
 * and equal under both placeholder batches. */
static int same_dim(const fold_ctx *f, int x, int j, int d, int k)
{
    const mn_tensor *x0, *x1, *d0, *d1;
    if (x == d && j == k)
        return 1;
    if (f->shapes_state != 1)
        return 0;
    x0 = &f->shapes.run[0][x];
    x1 = &f->shapes.run[1][x];
    d0 = &f->shapes.run[0][d];
    d1 = &f->shapes.run[1][d];
    if (x0->ndim <= j || x1->ndim <= j || d0->ndim <= k || d1->ndim <= k)
        return 0;
    return x0->dims[j] != x1->dims[j] && x0->dims[j] == d0->dims[k] &&
           x1->dims[j] == d1->dims[k];
}

/* ---- 2./3. Shape and Reshape ---- */

static mn_status fold_shape(fold_ctx *f, int ni, int *done, mn_ctx *ctx)
{
    mn_graph *g = f->g;
    const mn_node *n = &g->nodes[ni];
    symvec s;
    mn_tensor *t;
    mn_status st;
    *done = 0;
    if (n->n_out < 1 || n->out[0] < 0 || is_output_of_graph(g, n) ||
        !track_node(f, n, &s, 0))
        return MN_OK;
    for (int i = 0; i < s.n; i++)
        if (s.e[i].kind != S_CONST)
            return MN_OK;
    if ((st = mn_tensor_create(MN_DT_I64, 1, (int64_t[]){s.n}, &t, ctx)) != MN_OK)
        return st;
    for (int i = 0; i < s.n; i++)
        ((int64_t *)t->data)[i] = s.e[i].c;
    set_init(g, n->out[0], t);
    mn_graph_remove_node(g, ni);
    *done = 1;
    return MN_OK;
}

static mn_status fold_reshape(fold_ctx *f, int ni, int *done, mn_ctx *ctx)
{
    mn_graph *g = f->g;
    const mn_node *n = &g->nodes[ni];
    int allowzero = (int)mn_node_attr_int(n, "allowzero", 0), minus = 0, idx;
    int data = n->in[0];
    symvec s;
    int64_t vals[MAX_SYM];
    mn_tensor *t;
    mn_status st;
    char base[200];
    *done = 0;
    if (!track(f, n->in[1], &s, 0) || s.rank != 1)
        return MN_OK;
    for (int i = 0; i < s.n; i++) {
        const sym *e = &s.e[i];
        if (e->kind == S_CONST)
            vals[i] = e->c;
        else if (e->kind == S_DIM && !allowzero && data >= 0 &&
                 same_dim(f, e->v, e->k, data, i))
            vals[i] = 0;
        else
            return MN_OK;
        minus += vals[i] == -1;
    }
    if (minus > 1)
        return MN_OK; /* invalid; leave it for the session to report */
    if ((st = mn_tensor_create(MN_DT_I64, 1, (int64_t[]){s.n}, &t, ctx)) != MN_OK)
        return st;
    memcpy(t->data, vals, (size_t)s.n * sizeof vals[0]);
    snprintf(base, sizeof base, "%s_shape",
             n->name[0] ? n->name : g->values[n->out[0]].name);
    if ((st = mn_pass_add_init(g, base, t, &idx, ctx)) != MN_OK)
        return st;
    g->nodes[ni].in[1] = idx;
    mn_graph_relink(g);
    *done = 1;
    return MN_OK;
}

mn_status mn_pass_const_fold(mn_graph *g, int *changed, mn_ctx *ctx)
{
    fold_ctx f = {.g = g};
    mn_status st = MN_OK;
    for (int i = 0; i < g->n_nodes;) {
        const mn_node *n = &g->nodes[i];
        const mn_op_def *def = mn_op_get(n->op);
        mn_opcode op = n->op;
        int done = 0;
        if (foldable(g, n, def)) {
            if ((st = fold_node(g, i, def, &done, ctx)) != MN_OK)
                break;
        } else if (n->op == MN_OP_SHAPE ||
                   (n->op == MN_OP_RESHAPE && n->n_in >= 2 && n->in[1] >= 0 &&
                    !g->values[n->in[1]].init)) {
            if ((st = need_shapes(&f, ctx)) != MN_OK)
                break;
            st = n->op == MN_OP_SHAPE ? fold_shape(&f, i, &done, ctx)
                                      : fold_reshape(&f, i, &done, ctx);
            if (st != MN_OK)
                break;
            if (done && op == MN_OP_RESHAPE) { /* rewritten in place */
                (*changed)++;
                i++;
                continue;
            }
        }
        if (done)
            (*changed)++;
        else
            i++;
    }
    mn_shapes_free(&f.shapes);
    return st;
}
