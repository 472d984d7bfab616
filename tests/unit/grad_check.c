/* Finite-difference gradient checker shared by tests/unit/test_grad_*.c
 * (see grad_check.h for the method and its tolerances). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "grad_check.h"
#include "ops/ops.h"
#include "test.h"
#include "train/grad.h"
#include "train/tape.h"
#include "train/rng.h"

mn_graph *gc_graph(const char *op, int opset, int n_in, int n_out)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int in[16], out[16], idx;
    char name[32];
    if (mn_graph_create(&g, &ctx) != MN_OK)
        return NULL;
    for (int i = 0; i < n_in; i++) {
        snprintf(name, sizeof name, "i%d", i);
        if (mn_graph_add_value(g, name, MN_DT_F32, -1, NULL, &in[i], &ctx))
            goto fail;
    }
    for (int j = 0; j < n_out; j++) {
        snprintf(name, sizeof name, "o%d", j);
        if (mn_graph_add_value(g, name, MN_DT_F32, -1, NULL, &out[j], &ctx))
            goto fail;
    }
    if (mn_graph_add_node(g, "node", op, "", opset, in, n_in, out, n_out,
                          &idx, &ctx) != MN_OK)
        goto fail;
    return g;
fail:
    mn_test_fail(__FILE__, __LINE__, "gc_graph: %s", ctx.msg);
    mn_graph_destroy(g);
    return NULL;
}

mn_node *gc_node(mn_graph *g) { return &g->nodes[0]; }

static mn_attr *attr(mn_graph *g, const char *name, mn_attr_type t)
{
    mn_attr *a = NULL;
    mn_ctx ctx = {{0}};
    if (mn_node_add_attr(gc_node(g), name, t, &a, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "attr %s: %s", name, ctx.msg);
    return a;
}

void gc_attr_int(mn_graph *g, const char *name, int64_t v)
{
    mn_attr *a = attr(g, name, MN_ATTR_INT);
    if (a)
        a->i = v;
}

void gc_attr_float(mn_graph *g, const char *name, float v)
{
    mn_attr *a = attr(g, name, MN_ATTR_FLOAT);
    if (a)
        a->f = v;
}

void gc_attr_ints(mn_graph *g, const char *name, const int64_t *v, int n)
{
    mn_ctx ctx = {{0}};
    mn_attr *a = attr(g, name, MN_ATTR_INTS);
    if (a && mn_attr_set_ints(a, v, n, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "attr %s: %s", name, ctx.msg);
}

void gc_attr_string(mn_graph *g, const char *name, const char *s)
{
    mn_ctx ctx = {{0}};
    mn_attr *a = attr(g, name, MN_ATTR_STRING);
    if (a && mn_attr_set_string(a, s, &ctx) != MN_OK)
        mn_test_fail(__FILE__, __LINE__, "attr %s: %s", name, ctx.msg);
}

mn_tensor *gc_rand(int ndim, const int64_t *dims, uint64_t seed, float lo,
                   float hi, float gap)
{
    mn_tensor *t = NULL;
    mn_ctx ctx = {{0}};
    mn_rng r;
    if (mn_tensor_create(MN_DT_F32, ndim, dims, &t, &ctx) != MN_OK)
        return NULL;
    mn_rng_seed(&r, seed, 17, 0);
    float *d = t->data;
    for (int64_t i = 0; i < mn_tensor_numel(t); i++) {
        float v;
        do
            v = lo + (hi - lo) * mn_rng_uniform(&r);
        while (gap > 0 && fabsf(v) < gap);
        d[i] = v;
    }
    return t;
}

mn_tensor *gc_spread(int ndim, const int64_t *dims, uint64_t seed,
                     float step)
{
    mn_tensor *t = NULL;
    mn_ctx ctx = {{0}};
    mn_rng r;
    if (mn_tensor_create(MN_DT_F32, ndim, dims, &t, &ctx) != MN_OK)
        return NULL;
    int64_t n = mn_tensor_numel(t);
    float *d = t->data;
    for (int64_t i = 0; i < n; i++)
        d[i] = ((float)i - (float)n / 2) * step;
    mn_rng_seed(&r, seed, 23, 0);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)mn_rng_below(&r, (uint64_t)i + 1);
        float tmp = d[i];
        d[i] = d[j];
        d[j] = tmp;
    }
    return t;
}

mn_tensor *gc_i64(const int64_t *v, int n)
{
    mn_tensor *t = NULL;
    mn_ctx ctx = {{0}};
    int64_t dims[1] = {n};
    if (mn_tensor_create(MN_DT_I64, 1, dims, &t, &ctx) != MN_OK)
        return NULL;
    memcpy(t->data, v, (size_t)n * sizeof *v);
    return t;
}

mn_tensor *gc_f32(const float *v, int ndim, const int64_t *dims)
{
    mn_tensor *t = NULL;
    mn_ctx ctx = {{0}};
    if (mn_tensor_create(MN_DT_F32, ndim, dims, &t, &ctx) != MN_OK)
        return NULL;
    memcpy(t->data, v, mn_tensor_nbytes(t));
    return t;
}

typedef struct gc_state {
    const mn_node *n;
    const mn_op_def *def;
    const mn_grad_def *gd;
    const mn_tensor *in[16];
    mn_tensor outs[8], *out[8];
    mn_texec te;
    int n_in, n_out, training;
    float *r[8];
} gc_state;

static mn_status fwd(gc_state *s, double *loss)
{
    mn_forward_fn f = s->def->forward;
    if (s->gd && s->gd->forward && (s->training || !s->gd->train_only))
        f = s->gd->forward;
    s->te.ex.training = s->training;
    mn_status st = f(s->n, s->in, s->n_in, s->out, s->n_out, &s->te.ex);
    if (st != MN_OK || !loss)
        return st;
    double l = 0;
    for (int j = 0; j < s->n_out; j++) {
        if (s->out[j]->dtype != MN_DT_F32)
            continue;
        const float *y = s->out[j]->data;
        for (int64_t i = 0; i < mn_tensor_numel(s->out[j]); i++)
            l += (double)y[i] * s->r[j][i];
    }
    *loss = l;
    return MN_OK;
}

int gc_run(const char *where, mn_graph *g, mn_tensor **in, int n_in,
           unsigned check, const gc_opts *o)
{
    gc_opts opt = o ? *o : (gc_opts){0};
    gc_state s;
    mn_ctx ctx = {{0}};
    mn_tpool *pool = NULL;
    mn_tensor douts[8], *din[16] = {0};
    const mn_tensor *dout[8];
    void *scratch = NULL, *priv = NULL;
    int bad = 0;
    mn_rng r;
    if (opt.h == 0)
        opt.h = 1e-2;
    if (opt.atol == 0)
        opt.atol = 2e-3;
    if (opt.rtol == 0)
        opt.rtol = 2e-2;
    if (opt.max_elems == 0)
        opt.max_elems = 64;
    memset(&s, 0, sizeof s);
    memset(douts, 0, sizeof douts);
    if (!g) {
        mn_test_fail(__FILE__, __LINE__, "%s: no graph", where);
        bad = 1;
        goto done;
    }
    s.n = gc_node(g);
    s.def = mn_op_get(s.n->op);
    s.gd = mn_grad_get(s.n->op);
    s.n_in = n_in;
    s.n_out = s.n->n_out;
    s.training = opt.training;
    if (!s.def || !s.def->forward || !s.gd || !s.gd->backward) {
        mn_test_fail(__FILE__, __LINE__, "%s: op %s has no %s", where,
                     s.n->op_type, !s.def || !s.def->forward ? "forward"
                                                             : "backward");
        bad = 1;
        goto done;
    }
    for (int i = 0; i < n_in; i++)
        s.in[i] = in[i];
    for (int j = 0; j < s.n_out; j++)
        s.out[j] = &s.outs[j];
    if (s.def->infer(s.n, s.in, n_in, s.out, s.n_out, &ctx) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "%s: infer: %s", where, ctx.msg);
        bad = 1;
        goto done;
    }
    mn_rng_seed(&r, opt.seed + 99, 5, 0);
    for (int j = 0; j < s.n_out; j++) {
        int64_t cnt = mn_tensor_numel(s.out[j]);
        s.out[j]->data = mn_malloc_aligned(mn_tensor_nbytes(s.out[j]) + 64);
        s.r[j] = malloc((size_t)(cnt + 1) * sizeof(float));
        mn_tensor_copy_meta(&douts[j], s.out[j]);
        douts[j].data = s.r[j];
        dout[j] = s.out[j]->dtype == MN_DT_F32 ? &douts[j] : NULL;
        for (int64_t i = 0; i < cnt; i++)
            s.r[j][i] = 2.0f * mn_rng_uniform(&r) - 1.0f;
    }
    int threads = opt.threads ? opt.threads : 2;
    if (mn_tpool_create(threads, &pool, &ctx) != MN_OK) {
        bad = 1;
        goto done;
    }
    const mn_tensor *const *cout = (const mn_tensor *const *)s.out;
    size_t sb = s.def->scratch ? s.def->scratch(s.n, s.in, n_in, cout,
                                                s.n_out)
                               : 0, t;
    if (s.gd->forward_scratch &&
        (t = s.gd->forward_scratch(s.n, s.in, n_in, cout, s.n_out,
                                   threads)) > sb)
        sb = t;
    if (s.gd->backward_scratch &&
        (t = s.gd->backward_scratch(s.n, s.in, n_in, cout, s.n_out,
                                    threads)) > sb)
        sb = t;
    scratch = mn_malloc_aligned(sb + 64);
    size_t pb = s.gd->priv_bytes ? s.gd->priv_bytes(s.n, s.in, n_in, cout,
                                                    s.n_out)
                                 : 0;
    priv = pb ? calloc(1, pb) : NULL;
    s.te.ex.ctx = &ctx;
    s.te.ex.scratch = scratch;
    s.te.ex.scratch_bytes = sb;
    s.te.ex.priv = priv;
    s.te.pool = pool;
    s.te.seed = opt.seed + 1;
    /* A forward override must agree with the op table's forward. */
    if (s.gd->forward && !s.gd->train_only) {
        mn_tensor ref = *s.out[0];
        ref.data = mn_malloc_aligned(mn_tensor_nbytes(&ref) + 64);
        mn_exec ex = {.ctx = &ctx, .scratch = scratch, .scratch_bytes = sb};
        s.def->forward(s.n, s.in, n_in, (mn_tensor *const[]){&ref}, 1, &ex);
        fwd(&s, NULL);
        const float *a = ref.data, *b = s.out[0]->data;
        for (int64_t i = 0; i < mn_tensor_numel(&ref); i++)
            if (fabsf(a[i] - b[i]) > 1e-4f * (1.0f + fabsf(a[i]))) {
                mn_test_fail(__FILE__, __LINE__,
                             "%s: override forward [%lld] %g vs op table %g",
                             where, (long long)i, b[i], a[i]);
                bad++;
                break;
            }
        mn_free_aligned(ref.data);
    }
    double l0;
    if (fwd(&s, &l0) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "%s: forward: %s", where, ctx.msg);
        bad++;
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        if (!((check >> i) & 1u))
            continue;
        din[i] = calloc(1, sizeof(mn_tensor));
        mn_tensor_copy_meta(din[i], in[i]);
        din[i]->data = calloc((size_t)mn_tensor_numel(in[i]) + 1,
                              sizeof(float));
        /* poison: the rule must overwrite */
        for (int64_t e = 0; e < mn_tensor_numel(in[i]); e++)
            ((float *)din[i]->data)[e] = 12345.0f;
    }
    if (s.gd->backward(s.n, s.in, n_in, cout, dout, s.n_out, din,
                       &s.te.ex) != MN_OK) {
        mn_test_fail(__FILE__, __LINE__, "%s: backward: %s", where, ctx.msg);
        bad++;
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        if (!din[i])
            continue;
        float *x = in[i]->data;
        const float *ga = din[i]->data;
        int64_t cnt = mn_tensor_numel(in[i]);
        int64_t stride = cnt > opt.max_elems ? cnt / opt.max_elems : 1;
        for (int64_t e = 0; e < cnt; e += stride) {
            float keep = x[e];
            double lp, lm;
            x[e] = (float)(keep + opt.h);
            fwd(&s, &lp);
            x[e] = (float)(keep - opt.h);
            fwd(&s, &lm);
            x[e] = keep;
            double hp = (double)(float)(keep + opt.h) - keep;
            double hm = keep - (double)(float)(keep - opt.h);
            double num = (lp - lm) / (hp + hm);
            double a = ga[e];
            double tol = opt.atol + opt.rtol * fmax(fabs(a), fabs(num));
            if (!(fabs(a - num) <= tol)) {
                if (bad < 8)
                    mn_test_fail(__FILE__, __LINE__,
                                 "%s: d/d input %d [%lld]: analytic %.6g, "
                                 "numeric %.6g", where, i, (long long)e, a,
                                 num);
                bad++;
            }
        }
    }
done:
    for (int i = 0; i < 16; i++)
        if (din[i]) {
            free(din[i]->data);
            free(din[i]);
        }
    for (int j = 0; j < 8 && j < s.n_out; j++) {
        mn_free_aligned(s.out[j] ? s.out[j]->data : NULL);
        free(s.r[j]);
    }
    mn_free_aligned(scratch);
    free(priv);
    mn_tpool_destroy(pool);
    for (int i = 0; i < n_in; i++)
        mn_tensor_destroy(in[i]);
    mn_graph_destroy(g);
    return bad;
}

/* ---- whole networks through the tape ---- */

static double net_loss(mn_tape *t, const float *x, const int64_t *y,
                       int grad, mn_ctx *ctx)
{
    double l = 0;
    CHECK_OK(mn_tape_forward(t, x, 1, 7, ctx), ctx);
    const mn_tensor *out = mn_tape_output(t, 0);
    CHECK_OK(mn_loss_softmax_ce(out->data, y, out->dims[0],
                                (int)out->dims[1], 0.1f,
                                grad ? mn_tape_output_grad(t) : NULL, &l,
                                NULL, ctx),
             ctx);
    return l;
}

void gc_net_run(const char *where, mn_graph *g, const gc_net_opts *o,
                gc_net_result *r)
{
    mn_ctx ctx = {{0}};
    mn_tape *t = NULL;
    mn_tpool *pool = NULL;
    enum { MAXB = 256 };
    mn_tape_bind binds[MAXB];
    float *gdata[MAXB], *x = NULL;
    int nb = 0;
    memset(r, 0, sizeof *r);
    for (int v = 0; v < g->n_values && nb < MAXB; v++) {
        mn_tensor *it = g->values[v].init;
        if (!it || mn_tensor_numel(it) <= 1)
            continue; /* scalar constants (GELU's sqrt 2, Clip bounds) */
        const char *vn = g->values[v].name;
        int state = strstr(vn, "bn_mean") || strstr(vn, "bn_var");
        if (o->layer_scale > 0 && strstr(vn, "layer_scale"))
            for (int64_t i = 0; i < mn_tensor_numel(it); i++)
                ((float *)it->data)[i] = o->layer_scale;
        gdata[nb] = state ? NULL : calloc((size_t)mn_tensor_numel(it), 4);
        binds[nb] = (mn_tape_bind){v, it->data, gdata[nb]};
        nb++;
    }
    CHECK(nb < MAXB);
    const mn_value *in = &g->values[g->inputs[0]];
    int64_t nx = o->batch;
    for (int d = 1; d < in->ndim; d++)
        nx *= in->dims[d];
    x = malloc((size_t)nx * sizeof *x);
    CHECK(x != NULL);
    CHECK_OK(mn_tpool_create(2, &pool, &ctx), &ctx);
    CHECK_OK(mn_tape_create(g, o->batch, binds, nb, pool, &t, &ctx), &ctx);
    if (!t || !x)
        goto done;
    mn_rng rng;
    mn_rng_seed(&rng, o->x_seed, 0, 0);
    for (int64_t i = 0; i < nx; i++)
        x[i] = 2 * mn_rng_uniform(&rng) - 1;
    net_loss(t, x, o->y, 1, &ctx);
    CHECK_OK(mn_tape_backward(t, &ctx), &ctx);
    for (int i = 0; i < nb; i++) {
        if (!gdata[i])
            continue;
        float *p = binds[i].data;
        int64_t n = mn_tensor_numel(g->values[binds[i].value].init);
        int64_t step = n > o->per_tensor ? n / o->per_tensor : 1;
        r->tensors++;
        for (int64_t e = o->stagger ? (int64_t)i % 3 : 0; e < n; e += step) {
            float keep = p[e];
            p[e] = keep + (float)o->h;
            double lp = net_loss(t, x, o->y, 0, &ctx);
            p[e] = keep - (float)o->h;
            double lm = net_loss(t, x, o->y, 0, &ctx);
            p[e] = keep;
            double num = (lp - lm) / (2 * o->h), a = gdata[i][e];
            r->checked++;
            if (fabs(a - num) > 1e-3 + 3e-2 * fmax(fabs(a), fabs(num)) &&
                r->bad++ < 6)
                mn_test_fail(__FILE__, __LINE__,
                             "%s %s[%lld]: analytic %.6g numeric %.6g", where,
                             g->values[binds[i].value].name, (long long)e, a,
                             num);
        }
    }
done:
    mn_tape_destroy(t);
    mn_tpool_destroy(pool);
    for (int i = 0; i < nb; i++)
        free(gdata[i]);
    free(x);
}
