/* Sessions: compile a graph once for concrete input shapes, run it many times.
 *
 * Compile walks the nodes in topological order, infers every shape through the
 * op table, evaluates nodes whose inputs are all constant (constant folding
 * with the concrete batch size, so PyTorch's Shape→Gather→Concat→Reshape
 * chains disappear), and plans one arena for the remaining tensors from their
 * lifetimes. Reshape-like ops (MN_OPF_VIEW) alias their input's bytes. Run
 * binds the caller's input buffers, then calls each step's forward kernel; it
 * allocates nothing. Compressed weights of Conv/Gemm/MatMul layers are not
 * folded to float32 when the session keeps them compact
 * (session_wdecode.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/session_int.h"
#include "core/pool.h"
#include "kernels/qelem.h"
#include "kernels/wsrc.h"
#include "ops/ops.h"

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
        s->folded_bytes += mn_tensor_nbytes(out[j]);
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

mn_status mn_session_materialize(mn_session *s, int v, mn_ctx *ctx)
{
    const mn_tensor *in[4] = {0};
    mn_tensor *out[1];
    mn_status st;
    if (!s->deferred || v < 0 || !s->deferred[v])
        return MN_OK;
    int ni = s->producer[v];
    const mn_node *n = &s->g->nodes[ni];
    if (n->n_in > 4 || n->n_out != 1)
        return mn_error(ctx, MN_ERR_RUNTIME, "decode chain node");
    s->deferred[v] = 0;
    for (int j = 0; j < n->n_in; j++) {
        if (n->in[j] >= 0 &&
            (st = mn_session_materialize(s, n->in[j], ctx)) != MN_OK)
            return st;
        in[j] = n->in[j] >= 0 ? &s->vt[n->in[j]] : NULL;
    }
    out[0] = &s->vt[v];
    st = fold_node(s, ni, mn_op_get(n->op), in, out, ctx);
    return st != MN_OK ? node_error(s->g, ni, st, ctx) : MN_OK;
}

/* Prepares step sp: the weight source first when its weight is deferred;
 * declined, the weight is folded and prepare runs again without it. */
static mn_status prepare_step(mn_session *s, step *sp, const mn_tensor **in,
                              mn_tensor **out, mn_ctx *ctx)
{
    const mn_node *n = &s->g->nodes[sp->node];
    mn_prepare_info pi = {.sparse = s->sparse, .threads = s->threads};
    int wv = n->n_in > 1 ? n->in[1] : -1;
    mn_status st;
    if (s->deferred && wv >= 0 && s->deferred[wv] &&
        mn_session_wdecode_source(s, wv, &s->wsrcs[sp->node]))
        pi.wsrc = &s->wsrcs[sp->node];
    st = sp->def->prepare(n, in, n->n_in, (const mn_tensor *const *)out,
                          n->n_out, &pi, &sp->prep, ctx);
    if (st != MN_OK || !s->deferred || wv < 0 || !s->deferred[wv] ||
        sp->prep.wsrc)
        return st;
    if (sp->prep.release)
        sp->prep.release(sp->prep.priv);
    memset(&sp->prep, 0, sizeof sp->prep);
    if ((st = mn_session_materialize(s, wv, ctx)) != MN_OK)
        return st;
    pi.wsrc = NULL;
    return sp->def->prepare(n, in, n->n_in, (const mn_tensor *const *)out,
                            n->n_out, &pi, &sp->prep, ctx);
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
    s->prof = mn_calloc((size_t)(g->n_nodes + 1), sizeof *s->prof);
    s->in_ptrs = mn_calloc((size_t)(n_in_total + 1), sizeof *s->in_ptrs);
    s->out_ptrs = mn_calloc((size_t)(n_out_total + 1), sizeof *s->out_ptrs);
    s->dummies = mn_calloc((size_t)(n_out_total + 1), sizeof *s->dummies);
    if (!s->steps || !s->prof || !s->in_ptrs || !s->out_ptrs || !s->dummies)
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
        /* a deferred weight's data: only its chain and its layer's
         * prepare go without it */
        for (int j = 0; s->deferred && j < n->n_in; j++)
            if (n->in[j] >= 0 && s->deferred[n->in[j]] &&
                s->wd_node[ni] != WD_CHAIN &&
                !(j == 1 && s->wd_node[ni] == WD_CONSUMER && !all_const) &&
                (st = mn_session_materialize(s, n->in[j], ctx)) != MN_OK)
                return st;
        st = def->infer(n, in, n->n_in, out, n->n_out, ctx);
        if (st != MN_OK)
            return node_error(g, ni, st, ctx);
        for (int j = 0; j < n->n_out; j++)
            if ((st = check_meta(out[j], ctx)) != MN_OK)
                return node_error(g, ni, st, ctx);
        if (def->flags & MN_OPF_SHAPE_ONLY)
            all_const = 1;
        if (all_const && s->wd_node && s->wd_node[ni] == WD_CHAIN &&
            n->n_out == 1 && n->out[0] >= 0) {
            s->kind[n->out[0]] = MN_VK_CONST;
            s->deferred[n->out[0]] = 1;
            continue;
        }
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
        sp->bias = -1;
        sp->ln_gamma = -1;
        sp->in_scale = -1;
        sp->lut = NULL;
        sp->has_qres = 0;
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
            st = prepare_step(s, sp, in, out, ctx);
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
        /* a fused Mul's factor is read by the Conv after it */
        int f = sp->in_scale;
        if (f >= 0 && s->kind[f] == MN_VK_RUNTIME && last[s->root[f]] < k)
            last[s->root[f]] = k;
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
    {
        int w = opts ? opts->weights : MN_WEIGHTS_AUTO;
        const char *e = getenv("MINNOW_WEIGHTS");
        if (w == MN_WEIGHTS_AUTO && e && !strcmp(e, "compact"))
            w = MN_WEIGHTS_COMPACT;
        else if (w == MN_WEIGHTS_AUTO && e && !strcmp(e, "float"))
            w = MN_WEIGHTS_FLOAT;
        if (w == MN_WEIGHTS_AUTO)
            w = MN_WEIGHTS_DEFAULT;
        s->compact = w == MN_WEIGHTS_COMPACT && !s->training &&
                     !s->keep_values;
    }
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
    if (s->compact && (st = mn_session_wdecode_plan(s, ctx)) != MN_OK)
        goto fail;
    if ((st = compile_nodes(s, ctx)) != MN_OK)
        goto fail;
    for (int i = 0; i < g->n_outputs; i++)
        if (s->kind[g->outputs[i]] == MN_VK_UNUSED) {
            st = mn_error(ctx, MN_ERR_PARSE,
                          "%s: graph output '%s' is never computed", g->source,
                          g->values[g->outputs[i]].name);
            goto fail;
        }
    mn_session_fuse(s);
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
    free(s->prof);
    free(s->in_ptrs);
    free(s->out_ptrs);
    free(s->dummies);
    free(s->wd_node);
    free(s->deferred);
    free(s->producer);
    free(s->wsrcs);
    mn_pool_destroy(s->pool);
    free(s);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A fused lookup table over a step's 8-bit output, in place, in chunks
 * the pool shares out. */
typedef struct lut_job {
    const mn_kernels_qelem *kq;
    const uint8_t *t;
    uint8_t *y;
    int64_t n;
} lut_job;

#define LUT_CHUNK 32768

static void lut_task(void *arg, int64_t i, int thread)
{
    const lut_job *J = arg;
    int64_t lo = i * LUT_CHUNK, len = J->n - lo;
    (void)thread;
    J->kq->lut8(J->t, J->y + lo, len < LUT_CHUNK ? len : LUT_CHUNK,
                J->y + lo);
}

static void apply_lut(const mn_session *s, const uint8_t *t, mn_tensor *y)
{
    lut_job J = {mn_kernels_qelem_active(), t, y->data,
                 (int64_t)mn_tensor_nbytes(y)};
    int64_t chunks = (J.n + LUT_CHUNK - 1) / LUT_CHUNK;
    if (chunks > 1 && s->pool)
        mn_pool_run(s->pool, lut_task, &J, chunks);
    else
        J.kq->lut8(t, J.y, J.n, J.y);
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
        double t0 = s->prof_on ? now_s() : 0.0;
        mn_exec ex = {.ctx = ctx, .training = s->training, .pool = s->pool,
                      .act = sp->act, .priv = sp->prep.priv,
                      .wsrc = sp->prep.wsrc};
        if (sp->residual >= 0)
            ex.residual = s->vt[sp->residual].data;
        if (sp->bias >= 0)
            ex.bias = s->vt[sp->bias].data;
        if (sp->has_qres)
            ex.qres = &sp->qres;
        if (sp->in_scale >= 0)
            ex.in_scale = s->vt[sp->in_scale].data;
        if (sp->ln_gamma >= 0) {
            ex.ln_gamma = s->vt[sp->ln_gamma].data;
            ex.ln_slot = sp->ln_slot;
            ex.ln_eps = sp->ln_eps;
        }
        if (sp->scratch_buf >= 0) {
            ex.scratch = (char *)s->arena + s->bufs[sp->scratch_buf].offset;
            ex.scratch_bytes = sp->scratch_bytes;
        }
        mn_status st = sp->def->forward(n, s->in_ptrs + sp->in_off, n->n_in,
                                        out, n->n_out, &ex);
        if (st != MN_OK)
            return node_error(g, sp->node, st, ctx);
        if (sp->lut)
            apply_lut(s, sp->lut, out[0]);
        if (s->prof_on)
            s->prof[k] += now_s() - t0;
    }
    return MN_OK;
}

void mn_session_profile(mn_session *s, int on)
{
    s->prof_on = on != 0;
    memset(s->prof, 0, (size_t)s->n_steps * sizeof *s->prof);
}

int mn_session_profile_step(const mn_session *s, int k, int *node,
                            double *seconds)
{
    if (k < 0 || k >= s->n_steps)
        return 0;
    *node = s->steps[k].node;
    *seconds = s->prof[k];
    return 1;
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

size_t mn_session_weight_bytes(const mn_session *s)
{
    size_t b = s->folded_bytes;
    for (int v = 0; v < s->g->n_values; v++)
        if (s->g->values[v].init)
            b += mn_tensor_nbytes(s->g->values[v].init);
    for (int k = 0; k < s->n_steps; k++)
        b += s->steps[k].prep.bytes;
    return b;
}

int mn_session_weights_compact(const mn_session *s) { return s->compact; }

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
    out->bias = s->steps[k].bias;
    out->qadd_node = s->steps[k].has_qres ? s->steps[k].qadd_node : -1;
    out->lut = s->steps[k].lut;
    out->act = s->steps[k].act;
    out->runs_gelu = s->steps[k].def == mn_op_get(MN_OP_GELU) &&
                     s->g->nodes[s->steps[k].node].op != MN_OP_GELU;
    out->ln_gamma = s->steps[k].ln_gamma;
    out->ln_slot = s->steps[k].ln_slot;
    out->ln_eps = s->steps[k].ln_eps;
    out->in_scale = s->steps[k].in_scale;
    return 1;
}

const char *mn_session_node_kernel(const mn_session *s, int node)
{
    for (int k = 0; k < s->n_steps; k++)
        if (s->steps[k].node == node)
            return s->steps[k].prep.kernel;
    return NULL;
}
