/* Empirical bias correction (Nagel et al. 2019, section 4.2).
 *
 * Quantizing a layer's weights W to W_q shifts its output by (W_q - W) x,
 * whose mean over the data is not zero in general: the next layers see a
 * biased input. For every layer the int8 pass will quantize (Conv, Gemm),
 * E[(W_q - W) x] per output channel is measured on the calibration data
 * and subtracted from the bias.
 *
 * The mean is measured exactly, padding included: a probe copy of the graph
 * gets, beside each layer, the same operator applied to the layer's input
 * with the weight error W_q - W and no bias; the calibration loop streams
 * its outputs into per-channel sums (memory: one double per output channel
 * per layer, whatever the number of samples). W_q is what mn_quant_int8
 * makes of W (symmetric, 127 levels, per channel unless per_tensor), so
 * running this pass first and then quantizing uses the corrected biases.
 * The activations x are the fp32 network's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "core/session.h"
#include "quant/quant.h"

typedef struct bc_layer {
    int node;       /* in the graph being corrected */
    int probe_out;  /* value index in the probe graph */
    int64_t c;      /* output channels */
    double *sum;    /* c sums */
    int64_t count;  /* values summed per channel */
} bc_layer;

typedef struct bc_state {
    bc_layer *l;
    int n;
} bc_state;

/* dequantize(quantize(w)) - w, as mn_quant_int8 quantizes weights. */
static mn_status weight_error(const mn_tensor *w, int axis, int per_tensor,
                              mn_tensor **out, mn_ctx *ctx)
{
    mn_tensor *wq = NULL, *d = NULL;
    float *s = NULL;
    int64_t ns = 0, n = mn_tensor_numel(w), inner = 1, c;
    mn_status st = mn_q_weight_sym(w, axis, per_tensor, 127, 0, &wq, &s, &ns,
                                   ctx);
    if (st != MN_OK)
        return st;
    for (int k = axis + 1; k < w->ndim; k++)
        inner *= w->dims[k];
    c = w->dims[axis];
    if ((st = mn_tensor_create(MN_DT_F32, w->ndim, w->dims, &d, ctx)) ==
        MN_OK) {
        const float *x = w->data;
        const int8_t *q = wq->data;
        float *e = d->data;
        for (int64_t i = 0; i < n; i++) {
            float sc = s[ns > 1 ? (i / inner) % c : 0];
            e[i] = (float)q[i] * sc - x[i];
        }
        *out = d;
    }
    free(s);
    mn_tensor_destroy(wq);
    return st;
}

/* Adds to probe, for layer ni of g, op(x, W_q - W) as a graph output. */
static mn_status add_probe(mn_graph *probe, const mn_graph *g, int ni,
                           const mn_qlayer *l, int per_tensor, bc_layer *b,
                           mn_ctx *ctx)
{
    const mn_node *n = &g->nodes[ni];
    const mn_tensor *w = g->values[n->in[l->w_slot]].init;
    mn_tensor *e = NULL;
    int in[2], out, node;
    char base[300];
    mn_status st;
    if ((st = weight_error(w, l->w_axis, per_tensor, &e, ctx)) != MN_OK)
        return st;
    snprintf(base, sizeof base, "%s_weight_error", g->values[n->in[1]].name);
    if ((st = mn_pass_add_init(probe, base, e, &in[1], ctx)) != MN_OK)
        return st;
    in[0] = n->in[0];
    snprintf(base, sizeof base, "%s_error_out", n->name ? n->name : "layer");
    if ((st = mn_q_add_value(probe, base, MN_DT_F32, -1, &out, ctx)) != MN_OK ||
        (st = mn_q_add_node(probe, base, n->op_type, in, 2, &out, 1, &node,
                            ctx)) != MN_OK ||
        (st = mn_q_copy_attrs(&probe->nodes[node], n, ctx)) != MN_OK ||
        (st = mn_q_add_output(probe, out, ctx)) != MN_OK)
        return st;
    probe->nodes[node].opset = n->opset;
    b->node = ni;
    b->probe_out = out;
    b->c = w->dims[l->w_axis];
    b->sum = mn_calloc((size_t)b->c, sizeof *b->sum);
    if (!b->sum)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    return MN_OK;
}

static mn_status accumulate(void *user, mn_session *const *s, int ng,
                            int64_t cnt, mn_ctx *ctx)
{
    bc_state *bs = user;
    (void)ng;
    for (int k = 0; k < bs->n; k++) {
        bc_layer *b = &bs->l[k];
        const mn_tensor *t = mn_session_value(s[0], b->probe_out);
        int64_t inner = 1;
        const float *x;
        if (!t || !t->data || t->dtype != MN_DT_F32 || t->ndim < 2 ||
            t->dims[0] != cnt || t->dims[1] != b->c)
            return mn_error(ctx, MN_ERR_SHAPE,
                            "bias correction: unexpected output shape of the "
                            "weight-error probe %d", k);
        for (int d = 2; d < t->ndim; d++)
            inner *= t->dims[d];
        x = t->data;
        for (int64_t i = 0; i < cnt; i++)
            for (int64_t c = 0; c < b->c; c++) {
                const float *p = x + (i * b->c + c) * inner;
                double acc = 0;
                for (int64_t j = 0; j < inner; j++)
                    acc += p[j];
                b->sum[c] += acc;
            }
        b->count += cnt * inner;
    }
    return MN_OK;
}

/* b -= mean error on layer b->node of g (a zero bias added if absent). */
static mn_status apply(mn_graph *g, const bc_layer *b, mn_ctx *ctx)
{
    mn_node *n = &g->nodes[b->node];
    mn_tensor *bias;
    mn_status st;
    if (b->count <= 0)
        return MN_OK;
    if (n->n_in < 3 || n->in[2] < 0) {
        char base[300];
        int idx, *in;
        mn_tensor *z;
        if ((st = mn_tensor_create(MN_DT_F32, 1, &b->c, &z, ctx)) != MN_OK)
            return st;
        memset(z->data, 0, mn_tensor_nbytes(z));
        snprintf(base, sizeof base, "%s_bias", n->name ? n->name : "layer");
        if ((st = mn_pass_add_init(g, base, z, &idx, ctx)) != MN_OK)
            return st;
        n = &g->nodes[b->node];
        if (n->n_in < 3) {
            if (!(in = mn_realloc(n->in, 3 * sizeof *in)))
                return mn_error(ctx, MN_ERR_OOM, "out of memory");
            n->in = in;
            in[2] = -1;
            n->n_in = 3;
        }
        n->in[2] = idx;
    }
    if ((st = mn_pass_private_init(g, b->node, 2, &bias, ctx)) != MN_OK)
        return st;
    for (int64_t c = 0; c < b->c; c++)
        ((float *)bias->data)[c] -= (float)(b->sum[c] / (double)b->count);
    return MN_OK;
}

mn_status mn_quant_bias_correct(mn_graph *g, const mn_quant_opts *o,
                                int *corrected, mn_ctx *ctx)
{
    bc_state bs = {0};
    mn_graph *probe = NULL;
    mn_calib_run run;
    int64_t samples = 0;
    mn_status st;
    if (corrected)
        *corrected = 0;
    if (!g || !o)
        return mn_error(ctx, MN_ERR_ARG, "bias correction: no graph/options");
    run = (mn_calib_run){.spec = o->calib_spec, .count = o->calib_count,
                         .batch = o->batch, .threads = o->threads,
                         .data = o->data};
    bs.l = mn_calloc((size_t)g->n_nodes + 1, sizeof *bs.l);
    if (!bs.l)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if ((st = mn_graph_clone(g, &probe, ctx)) != MN_OK)
        goto out;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        mn_qlayer l;
        const mn_node *n = &g->nodes[ni];
        if ((n->op != MN_OP_CONV && n->op != MN_OP_GEMM) ||
            !mn_q_layer(g, ni, &l) || mn_q_keep_float(g, o, ni))
            continue;
        /* a Gemm's bias must be one value per output column */
        if (n->op == MN_OP_GEMM && l.b_slot >= 0 &&
            mn_tensor_numel(g->values[n->in[2]].init) !=
                g->values[n->in[1]].init->dims[l.w_axis])
            continue;
        if ((st = add_probe(probe, g, ni, &l, o->per_tensor, &bs.l[bs.n],
                            ctx)) != MN_OK) {
            bs.n++;
            goto out;
        }
        bs.n++;
    }
    if (!bs.n)
        goto out;
    if ((st = mn_graph_toposort(probe, ctx)) != MN_OK)
        goto out;
    {
        const mn_graph *gs[1] = {probe};
        if ((st = mn_calib_foreach(gs, 1, &run, accumulate, &bs, &samples,
                                   ctx)) != MN_OK) {
            mn_error_prefix(ctx, st, "bias correction");
            goto out;
        }
    }
    for (int k = 0; k < bs.n; k++)
        if ((st = apply(g, &bs.l[k], ctx)) != MN_OK)
            goto out;
    if (corrected)
        *corrected = bs.n;
out:
    for (int k = 0; k < bs.n; k++)
        free(bs.l[k].sum);
    free(bs.l);
    mn_graph_destroy(probe);
    return st;
}
