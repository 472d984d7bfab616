/* The tape (see tape.h): compile a graph for training, run forward and
 * backward. Compilation mirrors the session's — shape inference through the
 * op table, folding of nodes whose inputs are all true constants — except
 * that bound values (parameters, running statistics) are never constants
 * and every value keeps its buffer. Gradient buffers live only from their
 * first write to their producer's backward step, so they share one arena
 * laid out by a lifetime planner (tape_plan.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "train/tape.h"
#include "train/tape_fuse.h"
#include "train/tape_plan.h"
#include "train/tkern.h"

enum { K_UNUSED = 0, K_CONST, K_BOUND, K_INPUT, K_RUNTIME };

typedef struct tstep {
    int node;            /* graph node (the last of a fused chain) */
    const mn_node *n;    /* what runs: g's node or a fused one */
    const mn_op_def *def;
    const mn_grad_def *gd;
    const mn_tensor **in;
    mn_tensor **out;
    void *priv;
    int grad; /* some output carries a gradient */
} tstep;

struct mn_tape {
    const mn_graph *g;
    int batch;
    mn_tpool *pool;
    mn_tensor *vt;       /* per value: meta + data */
    mn_tensor *gt;       /* per value: gradient meta + data (NULL data: none) */
    unsigned char *kind;
    unsigned char *needs; /* value needs a gradient */
    unsigned char *gset;  /* backward: gradient written */
    int *contrib;         /* gradient contributions per value */
    tstep *steps;
    int n_steps;
    const mn_tensor **in_ptrs;
    mn_tensor **out_ptrs;
    mn_tensor *dummies;
    void **owned;         /* blocks to free (mn_tape_block_free) */
    size_t *owned_len;
    int n_owned, cap_owned;
    int *gprod, *glast;   /* per value: producing step, last grad reader */
    int *uses;            /* per value: readers in the graph (+1: output) */
    void *scratch;
    size_t scratch_bytes;
    float *temp;          /* gradient accumulation temporaries */
    size_t temp_bytes;
    mn_tape_fusion fuse;  /* chains compiled as one step */
    int x_value, y_value;
};

static mn_status node_err(const mn_graph *g, int ni, mn_status st,
                          mn_ctx *ctx)
{
    char lb[300];
    return mn_error_prefix(ctx, st, "%s: %s", g->source ? g->source : "model",
                           mn_node_label(g, ni, lb, sizeof lb));
}

/* A zeroed, 64-byte aligned buffer the tape frees. Not malloc + memset:
 * large blocks come from the OS already zero and are not touched until
 * used, so creating a tape costs no pass over gigabytes. */
static void *own(mn_tape *t, size_t bytes)
{
    if (t->n_owned == t->cap_owned) {
        int cap = t->cap_owned ? 2 * t->cap_owned : 64;
        void **nb = mn_realloc(t->owned, (size_t)cap * sizeof *nb);
        if (!nb)
            return NULL;
        t->owned = nb;
        size_t *nl = mn_realloc(t->owned_len, (size_t)cap * sizeof *nl);
        if (!nl)
            return NULL;
        t->owned_len = nl;
        t->cap_owned = cap;
    }
    void *h;
    size_t hl;
    void *p = mn_tape_block_alloc(bytes, &h, &hl);
    if (!p)
        return NULL;
    t->owned[t->n_owned] = h;
    t->owned_len[t->n_owned++] = hl;
    return p;
}

static mn_status check_meta(const mn_tensor *t, mn_ctx *ctx)
{
    size_t n = 1;
    if (t->ndim < 0 || t->ndim > MN_MAX_DIMS || mn_dtype_size(t->dtype) == 0)
        return mn_error(ctx, MN_ERR_SHAPE, "bad output type or rank");
    for (int k = 0; k < t->ndim; k++) {
        if (t->dims[k] < 0 || !mn_mul_size(n, (size_t)t->dims[k], &n))
            return mn_error(ctx, MN_ERR_SHAPE, "bad output dimension");
    }
    if (!mn_mul_size(n, mn_dtype_size(t->dtype), &n) || n > MN_ALLOC_LIMIT)
        return mn_error(ctx, MN_ERR_OOM, "output of %zu bytes", n);
    return MN_OK;
}

static mn_status bind_values(mn_tape *t, const mn_tape_bind *b, int nb,
                             mn_ctx *ctx)
{
    const mn_graph *g = t->g;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].init) {
            t->vt[v] = *g->values[v].init;
            t->vt[v].owns_data = 0;
            t->kind[v] = K_CONST;
        }
    for (int i = 0; i < nb; i++) {
        int v = b[i].value;
        if (v < 0 || v >= g->n_values || !g->values[v].init ||
            g->values[v].init->dtype != MN_DT_F32)
            return mn_error(ctx, MN_ERR_ARG,
                            "bound value %d is not a float initializer", v);
        t->kind[v] = K_BOUND;
        t->vt[v].data = b[i].data;
        if (b[i].grad) {
            t->needs[v] = 1;
            t->gt[v] = t->vt[v];
            t->gt[v].data = b[i].grad;
        }
    }
    if (g->n_inputs != 1)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "training needs a model with one input, it has %d",
                        g->n_inputs);
    int x = g->inputs[0];
    const mn_value *xv = &g->values[x];
    if (xv->dtype != MN_DT_F32 || xv->ndim < 1)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "input '%s' must be float32 with a batch dimension",
                        xv->name);
    t->x_value = x;
    t->kind[x] = K_INPUT;
    t->vt[x].dtype = MN_DT_F32;
    t->vt[x].ndim = xv->ndim;
    for (int k = 0; k < xv->ndim; k++) {
        if (k == 0)
            t->vt[x].dims[0] = t->batch;
        else if (xv->dims[k] < 0)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "input '%s' dimension %d is not fixed", xv->name,
                            k);
        else
            t->vt[x].dims[k] = xv->dims[k];
    }
    if (g->n_outputs < 1)
        return mn_error(ctx, MN_ERR_ARG, "model has no output");
    t->y_value = g->outputs[0];
    return MN_OK;
}

static mn_status fold(mn_tape *t, const mn_node *n, const mn_op_def *def,
                      const mn_tensor **in, mn_tensor **out, mn_ctx *ctx)
{
    size_t sb = def->scratch ? def->scratch(n, in, n->n_in,
                                            (const mn_tensor *const *)out,
                                            n->n_out)
                             : 0;
    mn_exec ex = {.ctx = ctx};
    for (int j = 0; j < n->n_out; j++)
        if (!(out[j]->data = own(t, mn_tensor_nbytes(out[j]))))
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if (sb) {
        ex.scratch = mn_malloc_aligned(sb);
        if (!ex.scratch)
            return mn_error(ctx, MN_ERR_OOM, "out of memory (scratch)");
        ex.scratch_bytes = sb;
    }
    mn_status st = def->forward(n, in, n->n_in, out, n->n_out, &ex);
    mn_free_aligned(ex.scratch);
    return st;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* The step may write its output over input 0 (grad.h's inplace): the
 * input is a computed value that only this step reads, whose producer's
 * backward does not read it (or does not run), of the output's type. */
static int can_overwrite_input(const mn_tape *t, const tstep *sp)
{
    const mn_node *n = sp->n;
    int u = n->n_in > 0 ? n->in[0] : -1;
    if (!sp->gd || !sp->gd->inplace || n->n_out != 1 || u < 0 ||
        t->kind[u] != K_RUNTIME || t->uses[u] != 1 || n->out[0] < 0 ||
        t->vt[u].dtype != sp->out[0]->dtype ||
        mn_tensor_nbytes(&t->vt[u]) != mn_tensor_nbytes(sp->out[0]))
        return 0;
    for (int j = 1; j < n->n_in; j++)
        if (n->in[j] == u)
            return 0;
    const tstep *p = &t->steps[t->gprod[u]];
    return !p->grad || (p->gd && p->gd->bwd_ignores_out);
}

/* The gradient of a computed value is written first by the backward of
 * its last differentiable reader (glast) and read last by its producer's
 * (gprod); outside that range of steps its memory is free for others. */
static mn_status plan_grads(mn_tape *t, mn_ctx *ctx)
{
    const mn_graph *g = t->g;
    int n = 0, *vals = mn_malloc((size_t)g->n_values * sizeof *vals + 1);
    size_t *size = mn_malloc((size_t)g->n_values * sizeof *size + 1);
    size_t *off = mn_malloc((size_t)g->n_values * sizeof *off + 1);
    int *first = mn_malloc((size_t)g->n_values * sizeof *first + 1);
    int *last = mn_malloc((size_t)g->n_values * sizeof *last + 1);
    mn_status st = MN_OK;
    if (!vals || !size || !off || !first || !last) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++)
        if ((t->needs[v] || v == t->y_value) && t->kind[v] == K_RUNTIME) {
            vals[n] = v;
            size[n] = mn_tensor_nbytes(&t->gt[v]);
            first[n] = t->gprod[v];
            last[n] = t->glast[v];
            n++;
        }
    size_t total = mn_tape_plan_arena(size, first, last, n, off);
    char *arena = total == SIZE_MAX ? NULL : own(t, total);
    if (!arena) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory (%zu bytes gradients)",
                      total);
        goto done;
    }
    for (int i = 0; i < n; i++)
        t->gt[vals[i]].data = arena + off[i];
done:
    free(vals);
    free(size);
    free(off);
    free(first);
    free(last);
    return st;
}

static mn_status compile(mn_tape *t, mn_ctx *ctx)
{
    const mn_graph *g = t->g;
    int threads = mn_tpool_threads(t->pool), nin = 0, nout = 0;
    mn_status st;
    for (int i = 0; i < g->n_nodes; i++) {
        nin += g->nodes[i].n_in;
        nout += g->nodes[i].n_out;
    }
    t->steps = mn_calloc((size_t)g->n_nodes + 1, sizeof *t->steps);
    t->in_ptrs = mn_calloc((size_t)nin + 1, sizeof *t->in_ptrs);
    t->out_ptrs = mn_calloc((size_t)nout + 1, sizeof *t->out_ptrs);
    t->dummies = mn_calloc((size_t)nout + 1, sizeof *t->dummies);
    if (!t->steps || !t->in_ptrs || !t->out_ptrs || !t->dummies)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if ((st = mn_tape_fuse_plan(g, &t->fuse, ctx)) != MN_OK)
        return st;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] >= 0)
                t->uses[g->nodes[i].in[j]]++;
    for (int i = 0; i < g->n_outputs; i++)
        t->uses[g->outputs[i]]++;
    int in_off = 0, out_off = 0;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        int role = t->fuse.role[ni];
        if (role == MN_FUSE_ABSORBED)
            continue;
        const mn_node *n = role >= 0 ? &t->fuse.nodes[role] : &g->nodes[ni];
        const mn_op_def *def = mn_op_get(n->op);
        const mn_tensor **in = t->in_ptrs + in_off;
        mn_tensor **out = t->out_ptrs + out_off;
        int all_const = 1;
        void *saved[16] = {0};
        if (!def || !def->forward)
            return node_err(g, ni,
                            mn_error(ctx, MN_ERR_UNSUPPORTED,
                                     "op %s is not supported", n->op_type),
                            ctx);
        if (n->n_in < def->min_in || n->n_in > def->max_in ||
            n->n_out < def->min_out || n->n_out > def->max_out)
            return node_err(g, ni,
                            mn_error(ctx, MN_ERR_PARSE,
                                     "%d inputs, %d outputs", n->n_in,
                                     n->n_out),
                            ctx);
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            in[j] = v >= 0 ? &t->vt[v] : NULL;
            if (v >= 0 && t->kind[v] == K_UNUSED)
                return node_err(g, ni,
                                mn_error(ctx, MN_ERR_PARSE,
                                         "input '%s' is not computed before "
                                         "use", g->values[v].name),
                                ctx);
            if (v >= 0 && t->kind[v] != K_CONST)
                all_const = 0;
        }
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            out[j] = v >= 0 ? &t->vt[v] : &t->dummies[out_off + j];
            memset(out[j], 0, sizeof *out[j]);
        }
        /* Bound values are not compile-time constants: hide their data. */
        for (int j = 0; j < n->n_in && j < 16; j++)
            if (n->in[j] >= 0 && t->kind[n->in[j]] == K_BOUND) {
                saved[j] = t->vt[n->in[j]].data;
                t->vt[n->in[j]].data = NULL;
            }
        st = def->infer(n, in, n->n_in, out, n->n_out, ctx);
        for (int j = 0; j < n->n_in && j < 16; j++)
            if (saved[j])
                t->vt[n->in[j]].data = saved[j];
        if (st != MN_OK)
            return node_err(g, ni, st, ctx);
        for (int j = 0; j < n->n_out; j++)
            if ((st = check_meta(out[j], ctx)) != MN_OK)
                return node_err(g, ni, st, ctx);
        if (all_const && !(def->flags & MN_OPF_NOFOLD)) {
            if ((st = fold(t, n, def, in, out, ctx)) != MN_OK)
                return node_err(g, ni, st, ctx);
            for (int j = 0; j < n->n_out; j++)
                if (n->out[j] >= 0)
                    t->kind[n->out[j]] = K_CONST;
            in_off += n->n_in;
            out_off += n->n_out;
            continue;
        }
        tstep *sp = &t->steps[t->n_steps++];
        sp->node = ni;
        sp->n = n;
        sp->def = def;
        sp->gd = mn_grad_get(n->op);
        sp->in = in;
        sp->out = out;
        for (int j = 0; j < n->n_out; j++) {
            if (j == 0 && can_overwrite_input(t, sp))
                out[0]->data = in[0]->data;
            else if (!(out[j]->data = own(t, mn_tensor_nbytes(out[j]))))
                return mn_error(ctx, MN_ERR_OOM, "out of memory");
            if (n->out[j] >= 0) {
                t->kind[n->out[j]] = K_RUNTIME;
                t->gprod[n->out[j]] = t->n_steps - 1;
            }
        }
        const mn_tensor *const *cin = in;
        const mn_tensor *const *cout = (const mn_tensor *const *)out;
        size_t sb = def->scratch ? def->scratch(n, cin, n->n_in, cout,
                                                n->n_out)
                                 : 0;
        if (sp->gd) {
            if (sp->gd->forward_scratch)
                sb = max_sz(sb, sp->gd->forward_scratch(n, cin, n->n_in, cout,
                                                        n->n_out, threads));
            if (sp->gd->backward_scratch)
                sb = max_sz(sb, sp->gd->backward_scratch(n, cin, n->n_in,
                                                         cout, n->n_out,
                                                         threads));
            if (sp->gd->priv_bytes) {
                size_t pb = sp->gd->priv_bytes(n, cin, n->n_in, cout,
                                               n->n_out);
                if (!(sp->priv = own(t, pb)))
                    return mn_error(ctx, MN_ERR_OOM, "out of memory");
            }
        }
        t->scratch_bytes = max_sz(t->scratch_bytes, sb);
        /* Gradient flow: outputs need one when a differentiable input
         * does. */
        int flows = 0;
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v >= 0 && t->needs[v] &&
                (!sp->gd || (sp->gd->diff_inputs >> j) & 1u))
                flows = 1;
        }
        if (flows) {
            if (!sp->gd || !sp->gd->backward)
                return node_err(g, ni,
                                mn_error(ctx, MN_ERR_UNSUPPORTED,
                                         "op %s has no gradient rule; a "
                                         "gradient must flow through it",
                                         n->op_type),
                                ctx);
            sp->grad = 1;
            for (int j = 0; j < n->n_out; j++) {
                int v = n->out[j];
                if (v < 0 || out[j]->dtype != MN_DT_F32)
                    continue;
                t->needs[v] = 1;
                t->gt[v] = *out[j];
                t->gt[v].data = NULL; /* placed by plan_grads */
                t->glast[v] = t->n_steps - 1;
            }
            for (int j = 0; j < n->n_in; j++) {
                int v = n->in[j];
                if (v >= 0 && t->needs[v] && (sp->gd->diff_inputs >> j) & 1u) {
                    t->contrib[v]++;
                    t->glast[v] = t->n_steps - 1;
                }
            }
        }
        in_off += n->n_in;
        out_off += n->n_out;
    }
    if (t->kind[t->y_value] != K_RUNTIME ||
        t->vt[t->y_value].dtype != MN_DT_F32)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "output '%s' is not a computed float tensor",
                        g->values[t->y_value].name);
    if (!t->needs[t->y_value]) { /* written, never read */
        t->gt[t->y_value] = t->vt[t->y_value];
        t->gt[t->y_value].data = NULL;
        t->gprod[t->y_value] = t->n_steps - 1;
    }
    /* The caller writes the output's gradient before the backward. */
    t->glast[t->y_value] = t->n_steps;
    if ((st = plan_grads(t, ctx)) != MN_OK)
        return st;
    /* Temporaries: per step, the inputs that may need summing. */
    for (int k = 0; k < t->n_steps; k++) {
        const mn_node *n = t->steps[k].n;
        size_t s = 0;
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (v >= 0 && t->contrib[v] > 1)
                s += (mn_tensor_nbytes(&t->vt[v]) + 63) / 64 * 64;
        }
        t->temp_bytes = max_sz(t->temp_bytes, s);
    }
    if (!(t->scratch = own(t, t->scratch_bytes)) ||
        !(t->temp = own(t, t->temp_bytes)))
        return mn_error(ctx, MN_ERR_OOM, "out of memory (%zu bytes scratch)",
                        t->scratch_bytes);
    return MN_OK;
}

mn_status mn_tape_create(const mn_graph *g, int batch,
                         const mn_tape_bind *binds, int n_binds,
                         mn_tpool *pool, mn_tape **out, mn_ctx *ctx)
{
    mn_tape *t;
    mn_status st;
    *out = NULL;
    if (batch < 1)
        return mn_error(ctx, MN_ERR_ARG, "batch %d", batch);
    t = mn_calloc(1, sizeof *t);
    if (!t)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    t->g = g;
    t->batch = batch;
    t->pool = pool;
    size_t nv = (size_t)g->n_values + 1;
    t->vt = mn_calloc(nv, sizeof *t->vt);
    t->gt = mn_calloc(nv, sizeof *t->gt);
    t->kind = mn_calloc(nv, 1);
    t->needs = mn_calloc(nv, 1);
    t->gset = mn_calloc(nv, 1);
    t->contrib = mn_calloc(nv, sizeof *t->contrib);
    t->gprod = mn_calloc(nv, sizeof *t->gprod);
    t->glast = mn_calloc(nv, sizeof *t->glast);
    t->uses = mn_calloc(nv, sizeof *t->uses);
    if (!t->vt || !t->gt || !t->kind || !t->needs || !t->gset ||
        !t->contrib || !t->gprod || !t->glast || !t->uses) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    if ((st = bind_values(t, binds, n_binds, ctx)) != MN_OK ||
        (st = compile(t, ctx)) != MN_OK)
        goto fail;
    *out = t;
    return MN_OK;
fail:
    mn_tape_destroy(t);
    return st;
}

void mn_tape_destroy(mn_tape *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_owned; i++)
        mn_tape_block_free(t->owned[i], t->owned_len[i]);
    free(t->owned);
    free(t->owned_len);
    free(t->gprod);
    free(t->glast);
    free(t->uses);
    free(t->vt);
    free(t->gt);
    free(t->kind);
    free(t->needs);
    free(t->gset);
    free(t->contrib);
    free(t->steps);
    free(t->in_ptrs);
    free(t->out_ptrs);
    free(t->dummies);
    mn_tape_fusion_free(&t->fuse);
    free(t);
}

int mn_tape_batch(const mn_tape *t) { return t->batch; }

const mn_tensor *mn_tape_input(const mn_tape *t) { return &t->vt[t->x_value]; }

const mn_tensor *mn_tape_output(const mn_tape *t, int i)
{
    if (i < 0 || i >= t->g->n_outputs)
        return NULL;
    return &t->vt[t->g->outputs[i]];
}

const mn_tensor *mn_tape_value(const mn_tape *t, int v)
{
    return v >= 0 && v < t->g->n_values ? &t->vt[v] : NULL;
}

float *mn_tape_output_grad(mn_tape *t) { return t->gt[t->y_value].data; }

static mn_texec make_exec(mn_tape *t, const tstep *sp, uint64_t seed,
                          mn_ctx *ctx)
{
    mn_texec te;
    memset(&te, 0, sizeof te);
    te.ex.ctx = ctx;
    te.ex.scratch = t->scratch;
    te.ex.scratch_bytes = t->scratch_bytes;
    te.ex.priv = sp->priv;
    te.pool = t->pool;
    te.seed = seed ^ ((uint64_t)(sp->node + 1) * 0x9E3779B97F4A7C15ull);
    return te;
}

mn_status mn_tape_forward(mn_tape *t, const float *x, int training,
                          uint64_t seed, mn_ctx *ctx)
{
    const mn_graph *g = t->g;
    t->vt[t->x_value].data = (void *)x;
    for (int k = 0; k < t->n_steps; k++) {
        const tstep *sp = &t->steps[k];
        const mn_node *n = sp->n;
        mn_texec te = make_exec(t, sp, seed, ctx);
        te.ex.training = training;
        mn_forward_fn fw = sp->def->forward;
        if (sp->gd && sp->gd->forward && (training || !sp->gd->train_only))
            fw = sp->gd->forward;
        mn_status st = fw(n, sp->in, n->n_in, sp->out, n->n_out, &te.ex);
        if (st != MN_OK)
            return node_err(g, sp->node, st, ctx);
    }
    return MN_OK;
}

/* dst += src over the pool: tkern's axpy with a = 1 (1·x is exact, so
 * the same bits as dst[i] + src[i]). */
#define ADD_CHUNK 16384

typedef struct add_job {
    float *dst;
    const float *src;
    int64_t n;
} add_job;

static void add_task(void *arg, int64_t task, int thread)
{
    const add_job *j = arg;
    int64_t i0 = task * ADD_CHUNK;
    int64_t cnt = j->n - i0 < ADD_CHUNK ? j->n - i0 : ADD_CHUNK;
    (void)thread;
    mn_tkern_get()->axpy(1.0f, j->src + i0, j->dst + i0, cnt);
}

static void add_into(mn_tpool *p, float *dst, const float *src, int64_t n)
{
    add_job j = {.dst = dst, .src = src, .n = n};
    mn_tpool_run(n < 2 * ADD_CHUNK ? NULL : p, add_task, &j,
                 (n + ADD_CHUNK - 1) / ADD_CHUNK);
}

mn_status mn_tape_backward(mn_tape *t, mn_ctx *ctx)
{
    const mn_graph *g = t->g;
    const mn_tensor *dout[64];
    mn_tensor din_t[64], *din[64];
    memset(t->gset, 0, (size_t)g->n_values);
    for (int v = 0; v < g->n_values; v++)
        if (t->kind[v] == K_BOUND && t->gt[v].data)
            memset(t->gt[v].data, 0, mn_tensor_nbytes(&t->gt[v]));
    t->gset[t->y_value] = 1;
    for (int k = t->n_steps - 1; k >= 0; k--) {
        const tstep *sp = &t->steps[k];
        const mn_node *n = sp->n;
        int any = 0;
        if (!sp->grad)
            continue;
        if (n->n_out > 64 || n->n_in > 64)
            return node_err(g, sp->node,
                            mn_error(ctx, MN_ERR_UNSUPPORTED,
                                     "more than 64 inputs or outputs"),
                            ctx);
        for (int j = 0; j < n->n_out; j++) {
            int v = n->out[j];
            dout[j] = v >= 0 && t->gset[v] ? &t->gt[v] : NULL;
            any |= dout[j] != NULL;
        }
        if (!any)
            continue;
        char *tmp = (char *)t->temp;
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            din[j] = NULL;
            if (v < 0 || !t->needs[v] || !((sp->gd->diff_inputs >> j) & 1u))
                continue;
            int again = t->gset[v];
            for (int i = 0; i < j; i++)
                again |= n->in[i] == v && din[i] != NULL;
            din_t[j] = t->gt[v];
            if (again) {
                din_t[j].data = tmp;
                tmp += (mn_tensor_nbytes(&t->vt[v]) + 63) / 64 * 64;
            }
            din[j] = &din_t[j];
        }
        mn_texec te = make_exec(t, sp, 0, ctx);
        te.ex.training = 1;
        mn_status st = sp->gd->backward(n, sp->in, n->n_in,
                                        (const mn_tensor *const *)sp->out,
                                        dout, n->n_out, din, &te.ex);
        if (st != MN_OK)
            return node_err(g, sp->node, st, ctx);
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            if (!din[j])
                continue;
            if (din_t[j].data != t->gt[v].data)
                add_into(t->pool, t->gt[v].data, din_t[j].data,
                         mn_tensor_numel(&t->vt[v]));
            t->gset[v] = 1;
        }
    }
    return MN_OK;
}
