/* Sessions: compile a graph once for concrete input shapes, run it many times.
 *
 * Compile walks the nodes in topological order, infers every shape through the
 * op table, evaluates nodes whose inputs are all constant (constant folding
 * with the concrete batch size, so PyTorch's Shape→Gather→Concat→Reshape
 * chains disappear), and plans one arena for the remaining tensors from their
 * lifetimes. Reshape-like ops (MN_OPF_VIEW) alias their input's bytes. Run
 * binds the caller's input buffers, then calls each step's forward kernel; it
 * allocates nothing. */
#include <stdlib.h>
#include <string.h>
#include "core/session.h"
#include "core/pool.h"
#include "ops/ops.h"

typedef struct step {
    int node;
    const mn_op_def *def;
    int in_off, out_off; /* into s->in_ptrs / s->out_ptrs */
    int view;            /* output 0 aliases input view_slot (0 unless a
                            fused Add's) */
    size_t scratch_bytes;
    int scratch_buf;     /* index into s->bufs, or -1 */
    mn_fused_act act;    /* activation fused into this step's store */
    int residual;        /* value added before act (fused Add), or -1 */
    int view_slot;       /* the input a view step's output aliases */
    mn_prepared prep;    /* from the op's prepare (packed weights) */
} step;

struct mn_session {
    const mn_graph *g;
    int threads;
    int keep_values, training;
    int sparse;            /* MN_SPARSE_* after MINNOW_SPARSE */
    mn_tensor *vt;         /* per value: meta + data */
    unsigned char *kind;   /* MN_VK_* */
    int *root;             /* runtime value → value owning its bytes */
    int *buf_of;           /* root value → index into bufs, or -1 */
    mn_plan_buf *bufs;
    int n_bufs;
    step *steps;
    int n_steps;
    const mn_tensor **in_ptrs;
    mn_tensor **out_ptrs;
    mn_tensor *dummies;     /* tensors for absent optional outputs */
    void **folded;          /* data of folded constants, owned */
    int n_folded;
    void *arena;
    mn_pool *pool;         /* threads > 1: the ops' thread pool */
    size_t arena_bytes;
};

static mn_status node_error(const mn_graph *g, int ni, mn_status st,
                            mn_ctx *ctx)
{
    char lb[300];
    return mn_error_prefix(ctx, st, "%s: %s", g->source,
                           mn_node_label(g, ni, lb, sizeof lb));
}

static mn_status bind_input_shape(mn_session *s, int i,
                                  const mn_session_opts *o, mn_ctx *ctx)
{
    const mn_graph *g = s->g;
    const mn_value *v = &g->values[g->inputs[i]];
    mn_tensor *t = &s->vt[g->inputs[i]];
    int batch = o && o->batch > 0 ? o->batch : 1;
    if (o && i < o->n_input_shapes && o->input_shapes && o->input_shapes[i]) {
        const mn_tensor *u = o->input_shapes[i];
        if (v->ndim >= 0 && u->ndim != v->ndim)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%s: input '%s' has rank %d, given %d", g->source,
                            v->name, v->ndim, u->ndim);
        for (int k = 0; v->ndim >= 0 && k < v->ndim; k++)
            if (v->dims[k] >= 0 && v->dims[k] != u->dims[k])
                return mn_error(ctx, MN_ERR_SHAPE,
                                "%s: input '%s' dim %d is %lld, given %lld",
                                g->source, v->name, k, (long long)v->dims[k],
                                (long long)u->dims[k]);
        if (v->dtype != MN_DT_UNDEF && u->dtype != v->dtype)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%s: input '%s' is %s, given %s", g->source,
                            v->name, mn_dtype_name(v->dtype),
                            mn_dtype_name(u->dtype));
        mn_tensor_copy_meta(t, u);
        return MN_OK;
    }
    if (v->ndim < 0)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "%s: input '%s' has no declared shape", g->source,
                        v->name);
    t->dtype = v->dtype;
    t->ndim = v->ndim;
    for (int k = 0; k < v->ndim; k++) {
        if (v->dims[k] >= 0)
            t->dims[k] = v->dims[k];
        else if (k == 0)
            t->dims[k] = batch;
        else
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%s: input '%s' dimension %d is symbolic (%s); "
                            "give a concrete input shape",
                            g->source, v->name, k,
                            v->dim_param[k] ? v->dim_param[k] : "?");
    }
    return MN_OK;
}

static mn_status check_meta(const mn_tensor *t, mn_ctx *ctx)
{
    size_t n = 1;
    if (t->ndim < 0 || t->ndim > MN_MAX_DIMS)
        return mn_error(ctx, MN_ERR_SHAPE, "output rank %d", t->ndim);
    if (mn_dtype_size(t->dtype) == 0)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "output dtype %s",
                        mn_dtype_name(t->dtype));
    size_t nz = 1; /* product of the non-zero dims: must not overflow either */
    for (int k = 0; k < t->ndim; k++) {
        if (t->dims[k] < 0)
            return mn_error(ctx, MN_ERR_SHAPE, "negative output dimension");
        if (!mn_mul_size(n, (size_t)t->dims[k], &n) ||
            (t->dims[k] && !mn_mul_size(nz, (size_t)t->dims[k], &nz)) ||
            nz > MN_ALLOC_LIMIT)
            return mn_error(ctx, MN_ERR_OOM, "output size overflows");
    }
    if (!mn_mul_size(n, mn_dtype_size(t->dtype), &n) || n > MN_ALLOC_LIMIT)
        return mn_error(ctx, MN_ERR_OOM, "output of %zu bytes is too large", n);
    return MN_OK;
}

/* Evaluates node ni now: all its inputs are constants. */
static mn_status fold_node(mn_session *s, int ni, const mn_op_def *def,
                           const mn_tensor **in, mn_tensor **out, mn_ctx *ctx)
{
    const mn_node *n = &s->g->nodes[ni];
    size_t sbytes = def->scratch
                        ? def->scratch(n, in, n->n_in,
                                       (const mn_tensor *const *)out, n->n_out)
                        : 0;
    void *scratch = NULL;
    mn_exec ex = {.ctx = ctx};
    mn_status st;
    for (int j = 0; j < n->n_out; j++) {
        void **nf = mn_realloc(s->folded,
                               (size_t)(s->n_folded + 1) * sizeof *nf);
        if (!nf)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        s->folded = nf;
        out[j]->data = mn_malloc_aligned(mn_tensor_nbytes(out[j]));
        if (!out[j]->data)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        s->folded[s->n_folded++] = out[j]->data;
    }
    if (sbytes) {
        scratch = mn_malloc_aligned(sbytes);
        if (!scratch)
            return mn_error(ctx, MN_ERR_OOM, "out of memory (scratch)");
    }
    ex.scratch = scratch;
    ex.scratch_bytes = sbytes;
    st = def->forward(n, in, n->n_in, out, n->n_out, &ex);
    mn_free_aligned(scratch);
    return st;
}

static mn_status compile_nodes(mn_session *s, mn_ctx *ctx)
{
    const mn_graph *g = s->g;
    int n_in_total = 0, n_out_total = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        n_in_total += g->nodes[i].n_in;
        n_out_total += g->nodes[i].n_out;
    }
    s->steps = mn_calloc((size_t)(g->n_nodes + 1), sizeof *s->steps);
    s->in_ptrs = mn_calloc((size_t)(n_in_total + 1), sizeof *s->in_ptrs);
    s->out_ptrs = mn_calloc((size_t)(n_out_total + 1), sizeof *s->out_ptrs);
    s->dummies = mn_calloc((size_t)(n_out_total + 1), sizeof *s->dummies);
    if (!s->steps || !s->in_ptrs || !s->out_ptrs || !s->dummies)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    int in_off = 0, out_off = 0;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const mn_node *n = &g->nodes[ni];
        const mn_op_def *def = mn_op_get(n->op);
        const mn_tensor **in = s->in_ptrs + in_off;
        mn_tensor **out = s->out_ptrs + out_off;
        int all_const = 1;
        mn_status st;
        if (!def || !def->forward)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: node '%s': op %s%s%s is not supported",
                            g->source, n->name, n->domain[0] ? n->domain : "",
                            n->domain[0] ? "." : "", n->op_type);
        if (n->n_in < def->min_in || n->n_in > def->max_in ||
            n->n_out < def->min_out || n->n_out > def->max_out)
            return node_error(g, ni,
                              mn_error(ctx, MN_ERR_PARSE,
                                       "%d inputs and %d outputs (expected "
                                       "%d-%d and %d-%d)",
                                       n->n_in, n->n_out, def->min_in,
                                       def->max_in, def->min_out,
                                       def->max_out),
                              ctx);
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            in[j] = v >= 0 ? &s->vt[v] : NULL;
            if (v >= 0 && s->kind[v] == MN_VK_UNUSED)
                return node_error(g, ni,
                                  mn_error(ctx, MN_ERR_PARSE,
                                           "input '%s' is not computed before "
                                           "use", g->values[v].name),
                                  ctx);
            if (v >= 0 && s->kind[v] != MN_VK_CONST)
                all_const = 0;
        }
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            out[j] = v >= 0 ? &s->vt[v] : &s->dummies[out_off + j];
            memset(out[j], 0, sizeof *out[j]);
        }
        st = def->infer(n, in, n->n_in, out, n->n_out, ctx);
        if (st != MN_OK)
            return node_error(g, ni, st, ctx);
        for (int j = 0; j < n->n_out; j++)
            if ((st = check_meta(out[j], ctx)) != MN_OK)
                return node_error(g, ni, st, ctx);
        if (def->flags & MN_OPF_SHAPE_ONLY)
            all_const = 1;
        if (all_const && !(def->flags & MN_OPF_NOFOLD)) {
            st = fold_node(s, ni, def, in, out, ctx);
            if (st != MN_OK)
                return node_error(g, ni, st, ctx);
            for (int j = 0; j < n->n_out; j++)
                if (n->out[j] >= 0)
                    s->kind[n->out[j]] = MN_VK_CONST;
            continue;
        }
        step *sp = &s->steps[s->n_steps++];
        sp->node = ni;
        sp->def = def;
        sp->in_off = in_off;
        sp->out_off = out_off;
        sp->scratch_buf = -1;
        sp->residual = -1;
        sp->view = (def->flags & MN_OPF_VIEW) && n->n_in > 0 && in[0] &&
                   n->out[0] >= 0 &&
                   mn_tensor_nbytes(out[0]) == mn_tensor_nbytes(in[0]);
        /* extra outputs (Dropout's mask) need the forward to run */
        for (int j = 1; j < n->n_out; j++)
            if (n->out[j] >= 0)
                sp->view = 0;
        if (def->scratch && !sp->view)
            sp->scratch_bytes = def->scratch(n, in, n->n_in,
                                             (const mn_tensor *const *)out,
                                             n->n_out);
        if (def->prepare && !sp->view && !s->training) {
            mn_prepare_info pi = {.sparse = s->sparse, .threads = s->threads};
            st = def->prepare(n, in, n->n_in, (const mn_tensor *const *)out,
                              n->n_out, &pi, &sp->prep, ctx);
            if (st != MN_OK)
                return node_error(g, ni, st, ctx);
            if (sp->prep.scratch_bytes > sp->scratch_bytes)
                sp->scratch_bytes = sp->prep.scratch_bytes;
        }
        for (int j = 0; j < n->n_out; j++) {
            if (n->out[j] >= 0) {
                s->kind[n->out[j]] = MN_VK_RUNTIME;
                continue;
            }
            /* An absent optional output still needs somewhere to go. */
            void **nf = mn_realloc(s->folded,
                                   (size_t)(s->n_folded + 1) * sizeof *nf);
            if (!nf)
                return mn_error(ctx, MN_ERR_OOM, "out of memory");
            s->folded = nf;
            out[j]->data = mn_malloc_aligned(mn_tensor_nbytes(out[j]));
            if (!out[j]->data)
                return mn_error(ctx, MN_ERR_OOM, "out of memory");
            s->folded[s->n_folded++] = out[j]->data;
        }
        in_off += n->n_in;
        out_off += n->n_out;
    }
    return MN_OK;
}

/* Reads a Clip bound: an attribute (opset < 11) or a constant scalar
 * input; absent means unbounded. Returns 0 when it is not a constant. */
static int clip_bound(const mn_session *s, const mn_node *c, int slot,
                      const char *attr, float dflt, float *out)
{
    *out = dflt;
    if (c->opset < 11) {
        *out = mn_node_attr_float(c, attr, dflt);
        return 1;
    }
    if (c->n_in <= slot || c->in[slot] < 0)
        return 1;
    const mn_tensor *t = &s->vt[c->in[slot]];
    if (s->kind[c->in[slot]] != MN_VK_CONST || t->dtype != MN_DT_F32 ||
        mn_tensor_numel(t) != 1 || !t->data)
        return 0;
    *out = *(const float *)t->data;
    return 1;
}

/* The step that reads value v, when exactly one step does (else NULL). */
static step *sole_reader(mn_session *s, int from, int v)
{
    const mn_graph *g = s->g;
    if (v < 0 || g->values[v].is_output || mn_graph_use_count(g, v) != 1)
        return NULL;
    for (int q = from; q < s->n_steps; q++) {
        const mn_node *c = &g->nodes[s->steps[q].node];
        for (int j = 0; j < c->n_in; j++)
            if (c->in[j] == v)
                return &s->steps[q];
    }
    return NULL;
}

/* Relu, Clip with constant bounds, Sigmoid, HardSigmoid or HardSwish
 * reading v as input 0. */
static int as_activation(const mn_session *s, const step *sq, int v,
                         mn_fused_act *act)
{
    const mn_node *c = &s->g->nodes[sq->node];
    if (c->in[0] != v || c->n_out != 1 || c->out[0] < 0)
        return 0;
    switch (c->op) {
    case MN_OP_RELU:
        act->kind = MN_FUSED_RELU;
        return 1;
    case MN_OP_SIGMOID:
        act->kind = MN_FUSED_SIGMOID;
        return 1;
    case MN_OP_HARDSWISH:
        act->kind = MN_FUSED_HARDSWISH;
        act->lo = 1.0f / 6.0f;
        act->hi = 0.5f;
        return 1;
    case MN_OP_HARDSIGMOID:
        act->kind = MN_FUSED_HARDSIGMOID;
        act->lo = mn_node_attr_float(c, "alpha", 0.2f);
        act->hi = mn_node_attr_float(c, "beta", 0.5f);
        return 1;
    case MN_OP_CLIP:
        act->kind = MN_FUSED_CLIP;
        return clip_bound(s, c, 1, "min", -3.402823466e38f, &act->lo) &&
               clip_bound(s, c, 2, "max", 3.402823466e38f, &act->hi);
    default:
        return 0;
    }
}

/* A self-gate as exported: v read by exactly G(v) → g and Mul(v, g)
 * (either order), g read only by that Mul; G is Sigmoid (SiLU) or
 * HardSigmoid (HardSwish before opset 14). Returns the Mul's step, sets
 * *sig to G's and *act. */
static step *as_gate(mn_session *s, int from, int v, step **sig,
                     mn_fused_act *act)
{
    const mn_graph *g = s->g;
    step *st[2] = {NULL, NULL};
    int n = 0;
    if (v < 0 || g->values[v].is_output || mn_graph_use_count(g, v) != 2)
        return NULL;
    for (int q = from; q < s->n_steps && n < 2; q++) {
        const mn_node *c = &g->nodes[s->steps[q].node];
        for (int j = 0; j < c->n_in; j++)
            if (c->in[j] == v) {
                st[n++] = &s->steps[q];
                break;
            }
    }
    if (n != 2)
        return NULL;
    const mn_node *a = &g->nodes[st[0]->node], *m = &g->nodes[st[1]->node];
    if ((a->op != MN_OP_SIGMOID && a->op != MN_OP_HARDSIGMOID) ||
        m->op != MN_OP_MUL || m->n_in != 2 ||
        a->in[0] != v || a->out[0] < 0 || m->out[0] < 0 ||
        sole_reader(s, (int)(st[0] - s->steps) + 1, a->out[0]) != st[1] ||
        !((m->in[0] == v && m->in[1] == a->out[0]) ||
          (m->in[1] == v && m->in[0] == a->out[0])))
        return NULL;
    *sig = st[0];
    act->kind = MN_FUSED_SILU;
    if (a->op == MN_OP_HARDSIGMOID) {
        act->kind = MN_FUSED_HARDSWISH;
        act->lo = mn_node_attr_float(a, "alpha", 0.2f);
        act->hi = mn_node_attr_float(a, "beta", 0.5f);
    }
    return st[1];
}

/* Add(v, r) or Add(r, v) with r of v's shape, ready before step k's node
 * runs: returns r's input slot's partner (the slot of v) or -1. */
static int as_residual_add(const mn_session *s, const step *sp,
                           const step *sq, int v, int *r)
{
    const mn_graph *g = s->g;
    const mn_node *c = &g->nodes[sq->node];
    if (c->op != MN_OP_ADD || c->n_in != 2 || c->n_out != 1 || c->out[0] < 0)
        return -1;
    int slot = c->in[0] == v ? 0 : 1, o = c->in[1 - slot];
    if (c->in[slot] != v || o < 0 || o == v)
        return -1;
    const mn_tensor *tv = &s->vt[v], *to = &s->vt[o];
    if (to->dtype != tv->dtype || to->ndim != tv->ndim ||
        s->kind[o] == MN_VK_UNUSED)
        return -1;
    for (int d = 0; d < tv->ndim; d++)
        if (to->dims[d] != tv->dims[d])
            return -1;
    if (g->values[o].producer >= sp->node) /* computed after the producer */
        return -1;
    *r = o;
    return slot;
}

/* Fuses into an MN_OPF_FUSE_ACT step (Conv, Gemm) whose float output has a
 * single reader: a residual Add of a same-shape value computed earlier,
 * then a Relu or constant-bound Clip — applied in the producer's store.
 * The fused steps become views (their output is the producer's buffer).
 * Not with keep_values (pre-activation values would be lost) nor
 * training. */
static void fuse_activations(mn_session *s)
{
    const mn_graph *g = s->g;
    if (s->keep_values || s->training)
        return;
    for (int k = 0; k + 1 < s->n_steps; k++) {
        step *sp = &s->steps[k];
        int v = g->nodes[sp->node].out[0], r = -1, slot;
        if (!(sp->def->flags & MN_OPF_FUSE_ACT) || sp->view || v < 0 ||
            s->vt[v].dtype != MN_DT_F32)
            continue;
        mn_fused_act gate = {MN_FUSED_NONE, 0.0f, 0.0f};
        step *sig = NULL, *sq = as_gate(s, k + 1, v, &sig, &gate);
        if (sq) {
            const mn_node *m = &g->nodes[sq->node];
            sp->act = gate;
            sig->view = sq->view = 1; /* both alias the producer's buffer */
            sig->view_slot = 0;
            sq->view_slot = m->in[0] == v ? 0 : 1;
            sig->scratch_bytes = sq->scratch_bytes = 0;
            continue;
        }
        sq = sole_reader(s, k + 1, v);
        if (!sq)
            continue;
        if ((slot = as_residual_add(s, sp, sq, v, &r)) >= 0) {
            sp->residual = r;
            sq->view = 1;
            sq->view_slot = slot;
            sq->scratch_bytes = 0;
            v = g->nodes[sq->node].out[0];
            sq = sole_reader(s, (int)(sq - s->steps) + 1, v);
            if (!sq)
                continue;
        }
        mn_fused_act act = {MN_FUSED_NONE, 0.0f, 0.0f};
        if (!as_activation(s, sq, v, &act))
            continue;
        sp->act = act;
        sq->view = 1; /* its output is the producer's, already activated */
        sq->view_slot = 0;
        sq->scratch_bytes = 0;
    }
}

static mn_status plan_memory(mn_session *s, mn_ctx *ctx)
{
    const mn_graph *g = s->g;
    int nv = g->n_values;
    int *first = NULL, *last = NULL;
    mn_status st = MN_OK;
    s->root = mn_malloc((size_t)(nv + 1) * sizeof *s->root);
    s->buf_of = mn_malloc((size_t)(nv + 1) * sizeof *s->buf_of);
    first = mn_malloc((size_t)(nv + 1) * sizeof *first);
    last = mn_malloc((size_t)(nv + 1) * sizeof *last);
    s->bufs = mn_calloc((size_t)(nv + s->n_steps + 1), sizeof *s->bufs);
    if (!s->root || !s->buf_of || !first || !last || !s->bufs) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int v = 0; v < nv; v++) {
        s->root[v] = v;
        s->buf_of[v] = -1;
        first[v] = last[v] = -1;
    }
    for (int k = 0; k < s->n_steps; k++) {
        const step *sp = &s->steps[k];
        const mn_node *n = &g->nodes[sp->node];
        if (sp->view)
            s->root[n->out[0]] = s->root[n->in[sp->view_slot]];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && first[n->out[j]] < 0)
                first[n->out[j]] = k;
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v >= 0 && s->kind[v] == MN_VK_RUNTIME && last[s->root[v]] < k)
                last[s->root[v]] = k;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (s->kind[v] == MN_VK_RUNTIME)
            last[s->root[v]] = s->n_steps;
    }
    if (s->keep_values)
        for (int v = 0; v < nv; v++)
            last[v] = s->n_steps;
    for (int v = 0; v < nv; v++) {
        if (s->kind[v] != MN_VK_RUNTIME || s->root[v] != v)
            continue;
        if (s->kind[v] == MN_VK_RUNTIME && first[v] >= 0) {
            mn_plan_buf *b = &s->bufs[s->n_bufs];
            b->bytes = mn_tensor_nbytes(&s->vt[v]);
            b->first = first[v];
            b->last = last[v] >= first[v] ? last[v] : first[v];
            s->buf_of[v] = s->n_bufs++;
        }
    }
    for (int k = 0; k < s->n_steps; k++) {
        step *sp = &s->steps[k];
        if (!sp->scratch_bytes)
            continue;
        mn_plan_buf *b = &s->bufs[s->n_bufs];
        b->bytes = sp->scratch_bytes;
        b->first = b->last = k;
        sp->scratch_buf = s->n_bufs++;
    }
    s->arena_bytes = mn_plan_arena(s->bufs, s->n_bufs);
    s->arena = mn_malloc_aligned(s->arena_bytes ? s->arena_bytes : 64);
    if (!s->arena) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: arena of %zu bytes", g->source,
                      s->arena_bytes);
        goto out;
    }
    for (int v = 0; v < nv; v++) {
        if (s->kind[v] != MN_VK_RUNTIME)
            continue;
        int r = s->root[v];
        if (s->kind[r] == MN_VK_RUNTIME && s->buf_of[r] >= 0)
            s->vt[v].data = (char *)s->arena + s->bufs[s->buf_of[r]].offset;
    }
out:
    free(first);
    free(last);
    return st;
}

mn_status mn_session_create(const mn_graph *g, const mn_session_opts *opts,
                            mn_session **out, mn_ctx *ctx)
{
    mn_session *s;
    mn_status st;
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    s->g = g;
    s->threads = opts && opts->threads > 0 ? opts->threads : 1;
    s->keep_values = opts && opts->keep_values;
    s->training = opts && opts->training;
    s->sparse = opts ? opts->sparse : MN_SPARSE_AUTO;
    if (s->sparse == MN_SPARSE_AUTO) {
        const char *e = getenv("MINNOW_SPARSE");
        if (e && !strcmp(e, "dense"))
            s->sparse = MN_SPARSE_DENSE;
        else if (e && !strcmp(e, "sparse"))
            s->sparse = MN_SPARSE_FORCE;
    }
    s->vt = mn_calloc((size_t)(g->n_values + 1), sizeof *s->vt);
    s->kind = mn_calloc((size_t)(g->n_values + 1), 1);
    if (!s->vt || !s->kind) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    for (int v = 0; v < g->n_values; v++) {
        const mn_value *val = &g->values[v];
        if (val->init) {
            s->vt[v] = *val->init;
            s->vt[v].owns_data = 0;
            s->kind[v] = MN_VK_CONST;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        if ((st = bind_input_shape(s, i, opts, ctx)) != MN_OK)
            goto fail;
        s->kind[g->inputs[i]] = MN_VK_INPUT;
    }
    if ((st = compile_nodes(s, ctx)) != MN_OK)
        goto fail;
    for (int i = 0; i < g->n_outputs; i++)
        if (s->kind[g->outputs[i]] == MN_VK_UNUSED) {
            st = mn_error(ctx, MN_ERR_PARSE,
                          "%s: graph output '%s' is never computed", g->source,
                          g->values[g->outputs[i]].name);
            goto fail;
        }
    fuse_activations(s);
    if ((st = plan_memory(s, ctx)) != MN_OK)
        goto fail;
    if (s->threads > 1 &&
        (st = mn_pool_create(s->threads, 0, &s->pool, ctx)) != MN_OK)
        goto fail;
    *out = s;
    return MN_OK;
fail:
    mn_session_destroy(s);
    return st;
}

void mn_session_destroy(mn_session *s)
{
    if (!s)
        return;
    for (int k = 0; s->steps && k < s->n_steps; k++)
        if (s->steps[k].prep.release)
            s->steps[k].prep.release(s->steps[k].prep.priv);
    for (int i = 0; i < s->n_folded; i++)
        mn_free_aligned(s->folded[i]);
    free(s->folded);
    mn_free_aligned(s->arena);
    free(s->vt);
    free(s->kind);
    free(s->root);
    free(s->buf_of);
    free(s->bufs);
    free(s->steps);
    free(s->in_ptrs);
    free(s->out_ptrs);
    free(s->dummies);
    mn_pool_destroy(s->pool);
    free(s);
}

mn_status mn_session_run(mn_session *s, const mn_tensor *const *inputs,
                         int n_inputs, mn_ctx *ctx)
{
    const mn_graph *g = s->g;
    if (n_inputs != g->n_inputs)
        return mn_error(ctx, MN_ERR_ARG, "%s: %d inputs given, model has %d",
                        g->source, n_inputs, g->n_inputs);
    for (int i = 0; i < n_inputs; i++) {
        mn_tensor *t = &s->vt[g->inputs[i]];
        const mn_tensor *u = inputs[i];
        int same = u && u->dtype == t->dtype && u->ndim == t->ndim;
        for (int k = 0; same && k < t->ndim; k++)
            same = u->dims[k] == t->dims[k];
        if (!same) {
            char a[128], b[128];
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%s: input '%s' expects %s %s, given %s %s",
                            g->source, g->values[g->inputs[i]].name,
                            mn_dtype_name(t->dtype), mn_shape_str(t, a, sizeof a),
                            u ? mn_dtype_name(u->dtype) : "nothing",
                            u ? mn_shape_str(u, b, sizeof b) : "");
        }
        t->data = u->data;
    }
    for (int k = 0; k < s->n_steps; k++) {
        const step *sp = &s->steps[k];
        const mn_node *n = &g->nodes[sp->node];
        mn_tensor **out = s->out_ptrs + sp->out_off;
        if (sp->view) {
            out[0]->data = s->in_ptrs[sp->in_off + sp->view_slot]->data;
            continue;
        }
        mn_exec ex = {.ctx = ctx, .training = s->training, .pool = s->pool,
                      .act = sp->act, .priv = sp->prep.priv};
        if (sp->residual >= 0)
            ex.residual = s->vt[sp->residual].data;
        if (sp->scratch_buf >= 0) {
            ex.scratch = (char *)s->arena + s->bufs[sp->scratch_buf].offset;
            ex.scratch_bytes = sp->scratch_bytes;
        }
        mn_status st = sp->def->forward(n, s->in_ptrs + sp->in_off, n->n_in,
                                        out, n->n_out, &ex);
        if (st != MN_OK)
            return node_error(g, sp->node, st, ctx);
    }
    return MN_OK;
}

int mn_session_num_outputs(const mn_session *s) { return s->g->n_outputs; }

const mn_tensor *mn_session_output(const mn_session *s, int i)
{
    if (i < 0 || i >= s->g->n_outputs)
        return NULL;
    return &s->vt[s->g->outputs[i]];
}

const mn_tensor *mn_session_input(const mn_session *s, int i)
{
    if (i < 0 || i >= s->g->n_inputs)
        return NULL;
    return &s->vt[s->g->inputs[i]];
}

size_t mn_session_arena_bytes(const mn_session *s) { return s->arena_bytes; }

const mn_tensor *mn_session_value(const mn_session *s, int v)
{
    return v >= 0 && v < s->g->n_values ? &s->vt[v] : NULL;
}

int mn_session_value_kind(const mn_session *s, int v)
{
    return v >= 0 && v < s->g->n_values ? s->kind[v] : MN_VK_UNUSED;
}

int mn_session_num_steps(const mn_session *s) { return s->n_steps; }

int mn_session_step_info(const mn_session *s, int k, mn_step_info *out)
{
    if (k < 0 || k >= s->n_steps)
        return 0;
    out->node = s->steps[k].node;
    out->view = s->steps[k].view;
    out->view_slot = s->steps[k].view_slot;
    out->residual = s->steps[k].residual;
    out->act = s->steps[k].act;
    return 1;
}

const char *mn_session_node_kernel(const mn_session *s, int node)
{
    for (int k = 0; k < s->n_steps; k++)
        if (s->steps[k].node == node)
            return s->steps[k].prep.kernel;
    return NULL;
}
