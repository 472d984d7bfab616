/* Per-layer quantization sensitivity and greedy mixed precision.
 *
 * mn_quant_analyze quantizes, for each quantizable layer in turn, a copy of
 * the model with every other layer kept in float (the --keep-float
 * mechanism of the int8 pass, lowered to the same integer operators the
 * deployed model runs), and measures
 *  - the SQNR of that layer's output (after an absorbed ReLU/Clip) against
 *    the fp32 model, 10 log10(Σ y² / Σ (y - y_q)²), streamed over the
 *    calibration data (two sessions side by side, sums only);
 *  - the top-1 accuracy on held-out labelled data, and its drop from fp32.
 * Layers are ranked by accuracy drop, then by SQNR (lower first).
 *
 * The layer output is read through an Identity "tap" that is a graph
 * output: in the quantized copy the tap reads the DequantizeLinear that
 * replaced the layer's output, so it sees exactly the integer layer's
 * result. Taps are added after BatchNorm folding and equalization (both
 * would otherwise see an extra reader or remove the Identity), and the
 * copies go through the int8 pass directly.
 *
 * mn_quant_mixed keeps the most sensitive layers in float, one more at a
 * time, until the held-out drop is at most the budget.
 *
 * The held-out data must not overlap the calibration samples: the specs
 * are compared (same source, overlapping @A:B slices → error). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/passes.h"
#include "core/session.h"
#include "quant/quant.h"

#define TAP_PREFIX "mn_tap_"

/* ---- held-out data must differ from the calibration data ---- */

/* Splits "SPEC@A:B" into the source (default split made explicit) and the
 * sample range [*a, *b) (*b = -1: to the end). */
static void spec_range(const char *spec, char *src, size_t n, int64_t *a,
                       int64_t *b)
{
    const char *at = strrchr(spec, '@');
    long long x = 0, y = -1;
    int used = 0;
    size_t len = strlen(spec);
    *a = 0, *b = -1;
    if (at && sscanf(at, "@%lld:%n", &x, &used) == 1 && used > 0) {
        const char *p = at + used;
        if (!*p || sscanf(p, "%lld", &y) == 1) {
            len = (size_t)(at - spec);
            *a = x, *b = *p ? y : -1;
        }
    }
    snprintf(src, n, "%.*s", (int)len, spec);
    if (!strcmp(src, "fashion-mnist"))
        snprintf(src, n, "fashion-mnist:test");
}

static mn_status check_disjoint(const mn_quant_opts *o, const char *eval,
                                int64_t eval_count, mn_ctx *ctx)
{
    char s1[512], s2[512];
    int64_t a1, b1, a2, b2, n1;
    spec_range(o->calib_spec, s1, sizeof s1, &a1, &b1);
    spec_range(eval, s2, sizeof s2, &a2, &b2);
    if (strcmp(s1, s2))
        return MN_OK;
    n1 = o->calib_count > 0 ? o->calib_count : MN_QUANT_DEFAULT_CALIB_COUNT;
    b1 = b1 >= 0 && b1 < a1 + n1 ? b1 : a1 + n1;
    if (eval_count > 0 && (b2 < 0 || a2 + eval_count < b2))
        b2 = a2 + eval_count;
    if (b2 >= 0 ? (a1 < b2 && a2 < b1) : b1 > a2)
        return mn_error(ctx, MN_ERR_ARG,
                        "held-out data %s overlaps the calibration data %s "
                        "(samples %lld..%lld are used for calibration); take "
                        "another slice, e.g. %s@%lld:", eval, o->calib_spec,
                        (long long)a1, (long long)b1 - 1, s1, (long long)b1);
    return MN_OK;
}

/* ---- layers, names and taps ---- */

/* Names unnamed nodes "<op>_<index>" so --keep-float can address them. */
static mn_status name_layers(mn_graph *g, mn_ctx *ctx)
{
    for (int ni = 0; ni < g->n_nodes; ni++) {
        char buf[64];
        if (g->nodes[ni].name && g->nodes[ni].name[0])
            continue;
        snprintf(buf, sizeof buf, "%s_%d", g->nodes[ni].op_type, ni);
        free(g->nodes[ni].name);
        if (!(g->nodes[ni].name = mn_strdup(buf)))
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    return MN_OK;
}

/* The fp32 graph as the analysis compares against: optimized, equalized
 * when asked, unnamed layers named. */
static mn_status prepare(const mn_graph *g, const mn_quant_opts *o,
                         mn_graph **out, mn_ctx *ctx)
{
    mn_status st = mn_graph_clone(g, out, ctx);
    if (st == MN_OK)
        st = mn_graph_optimize(*out, ctx);
    if (st == MN_OK && o->equalize)
        st = mn_quant_equalize(*out, NULL, NULL, ctx);
    if (st == MN_OK)
        st = name_layers(*out, ctx);
    return st;
}

/* Adds Identity taps (graph outputs TAP_PREFIX<k>) on the output of each
 * listed layer, after its ReLU/Clip when that is the sole reader. */
static mn_status add_taps(mn_graph *g, const int *layers, int n, mn_ctx *ctx)
{
    for (int k = 0; k < n; k++) {
        int v = g->nodes[layers[k]].out[0], r = mn_q_sole_reader(g, v), t;
        char name[64];
        mn_status st;
        if (r >= 0 && (g->nodes[r].op == MN_OP_RELU ||
                       g->nodes[r].op == MN_OP_CLIP))
            v = g->nodes[r].out[0];
        snprintf(name, sizeof name, TAP_PREFIX "%d", k);
        if ((st = mn_q_add_value(g, name, MN_DT_F32, v, &t, ctx)) != MN_OK ||
            (st = mn_q_add_node(g, name, "Identity", &v, 1, &t, 1, NULL,
                                ctx)) != MN_OK ||
            (st = mn_q_add_output(g, t, ctx)) != MN_OK)
            return st;
    }
    return MN_OK;
}

/* A quantized copy of base: the pass sequence of mn_quantize after
 * optimization (bias correction, the int8 pass, clean-up). */
static mn_status quantize_copy(const mn_graph *base, const mn_quant_opts *o,
                               mn_graph **out, mn_ctx *ctx)
{
    mn_quant_report rep;
    mn_status st;
    memset(&rep, 0, sizeof rep);
    if ((st = mn_graph_clone(base, out, ctx)) != MN_OK)
        return st;
    if (o->bias_correct &&
        (st = mn_quant_bias_correct(*out, o, NULL, ctx)) != MN_OK)
        return st;
    if ((st = mn_quant_int8(*out, o, &rep, ctx)) != MN_OK)
        return st;
    if ((st = mn_graph_toposort(*out, ctx)) != MN_OK)
        return st;
    return mn_graph_prune_dead(*out, ctx);
}

/* ---- SQNR over the calibration data ---- */

typedef struct sqnr_acc {
    int ref, q; /* tap value indices in the two graphs */
    double sig, noise;
} sqnr_acc;

static mn_status sqnr_cb(void *user, mn_session *const *s, int ng,
                         int64_t cnt, mn_ctx *ctx)
{
    sqnr_acc *a = user;
    const mn_tensor *r = mn_session_value(s[0], a->ref);
    const mn_tensor *q = mn_session_value(s[1], a->q);
    (void)ng, (void)cnt;
    if (!r || !q || !r->data || !q->data || r->dtype != MN_DT_F32 ||
        q->dtype != MN_DT_F32 || mn_tensor_numel(r) != mn_tensor_numel(q))
        return mn_error(ctx, MN_ERR_SHAPE,
                        "analysis: layer output of the quantized copy does "
                        "not match the fp32 one");
    for (int64_t i = 0; i < mn_tensor_numel(r); i++) {
        double y = ((const float *)r->data)[i], e = y - ((const float *)q->data)[i];
        a->sig += y * y;
        a->noise += e * e;
    }
    return MN_OK;
}

static int cmp_sens(const void *pa, const void *pb)
{
    const mn_quant_layer_sens *a = pa, *b = pb;
    if (a->drop != b->drop)
        return a->drop > b->drop ? -1 : 1;
    if (a->sqnr_db != b->sqnr_db)
        return a->sqnr_db < b->sqnr_db ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Options for a copy with only layer `only` quantized (-1: all that o
 * quantizes); every other node, integer-capable elementwise ops and pools
 * included, stays float, so the drop measured is the layer's own (its
 * weights and its input/output activations). *names receives the
 * keep-float list (caller frees). */
static mn_status only_opts(const mn_graph *base, const mn_quant_opts *o,
                           const int *layers, int n, int only,
                           mn_quant_opts *out, const char ***names,
                           mn_ctx *ctx)
{
    int m = 0;
    (void)n;
    const char **v = mn_malloc(
        (size_t)(base->n_nodes + o->n_keep_float + 1) * sizeof *v);
    if (!v)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int k = 0; k < o->n_keep_float; k++)
        v[m++] = o->keep_float[k];
    for (int ni = 0; only >= 0 && ni < base->n_nodes; ni++)
        if (ni != layers[only])
            v[m++] = base->nodes[ni].name;
    *out = *o;
    out->keep_float = v;
    out->n_keep_float = m;
    out->strict = 0;
    *names = v;
    return MN_OK;
}

static mn_status eval_of(const mn_graph *g, const mn_quant_opts *o,
                         const char *spec, int64_t count, mn_eval_result *ev,
                         mn_ctx *ctx)
{
    mn_status st = mn_quant_eval_accuracy(g, spec, &o->data, count, 32,
                                          o->threads > 0 ? o->threads : 1, ev,
                                          ctx);
    return st == MN_OK ? st : mn_error_prefix(ctx, st, "held-out data");
}

mn_status mn_quant_analyze(const mn_graph *g, const mn_quant_opts *o,
                           const char *eval_spec, int64_t eval_count,
                           mn_quant_analysis *out, mn_ctx *ctx)
{
    mn_graph *base = NULL, *q = NULL;
    int *layers = NULL, n = 0;
    const char **names = NULL;
    mn_eval_result ev;
    mn_status st;
    memset(out, 0, sizeof *out);
    if (!g || !o)
        return mn_error(ctx, MN_ERR_ARG, "analysis: no graph/options");
    if (o->mode != MN_QUANT_INT8 && o->mode != MN_QUANT_INT16X8)
        return mn_error(ctx, MN_ERR_ARG,
                        "analysis needs a calibrated mode (int8, int16x8), "
                        "not %s", mn_quant_mode_name(o->mode));
    if (!o->calib_spec || !o->calib_spec[0] || !eval_spec || !eval_spec[0])
        return mn_error(ctx, MN_ERR_ARG,
                        "analysis needs calibration data (--calib) and "
                        "held-out labelled data (--eval-data)");
    if ((st = check_disjoint(o, eval_spec, eval_count, ctx)) != MN_OK)
        return st;
    if ((st = prepare(g, o, &base, ctx)) != MN_OK)
        goto out;
    layers = mn_malloc((size_t)(base->n_nodes + 1) * sizeof *layers);
    if (!layers) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int ni = 0; ni < base->n_nodes; ni++) {
        mn_qlayer l;
        if (mn_q_layer(base, ni, &l) && !mn_q_keep_float(base, o, ni))
            layers[n++] = ni;
    }
    if (!n) {
        st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                      "%s: no layer to analyze", g->source ? g->source : "");
        goto out;
    }
    out->layers = mn_calloc((size_t)n, sizeof *out->layers);
    if (!out->layers) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int k = 0; k < n; k++) {
        snprintf(out->layers[k].name, sizeof out->layers[k].name, "%s",
                 base->nodes[layers[k]].name);
        snprintf(out->layers[k].op, sizeof out->layers[k].op, "%s",
                 base->nodes[layers[k]].op_type);
    }
    out->n = n;
    /* fp32 and all-quantized accuracy (taps not needed) */
    if ((st = eval_of(base, o, eval_spec, eval_count, &ev, ctx)) != MN_OK)
        goto out;
    out->fp32_accuracy = ev.accuracy;
    out->eval_samples = ev.samples;
    {
        mn_quant_opts oa;
        if ((st = only_opts(base, o, layers, n, -1, &oa, &names, ctx)) !=
                MN_OK ||
            (st = quantize_copy(base, &oa, &q, ctx)) != MN_OK ||
            (st = eval_of(q, o, eval_spec, eval_count, &ev, ctx)) != MN_OK)
            goto out;
        out->quant_accuracy = ev.accuracy;
        free(names);
        names = NULL;
        mn_graph_destroy(q);
        q = NULL;
    }
    if ((st = add_taps(base, layers, n, ctx)) != MN_OK)
        goto out;
    for (int k = 0; k < n; k++) {
        mn_quant_layer_sens *s = &out->layers[k];
        mn_calib_run run = {.spec = o->calib_spec, .count = o->calib_count,
                            .batch = o->batch, .threads = o->threads,
                            .data = o->data};
        mn_quant_opts ok;
        sqnr_acc acc = {0};
        char tap[64];
        const mn_graph *gs[2];
        if ((st = only_opts(base, o, layers, n, k, &ok, &names, ctx)) !=
                MN_OK ||
            (st = quantize_copy(base, &ok, &q, ctx)) != MN_OK)
            goto out;
        snprintf(tap, sizeof tap, TAP_PREFIX "%d", k);
        acc.ref = mn_graph_find_value(base, tap);
        acc.q = mn_graph_find_value(q, tap);
        gs[0] = base, gs[1] = q;
        if (acc.ref < 0 || acc.q < 0) {
            st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                          "analysis: lost the output of layer '%s'", s->name);
            goto out;
        }
        if ((st = mn_calib_foreach(gs, 2, &run, sqnr_cb, &acc,
                                   &out->calib_samples, ctx)) != MN_OK ||
            (st = eval_of(q, o, eval_spec, eval_count, &ev, ctx)) != MN_OK)
            goto out;
        s->sqnr_db = acc.noise > 0 ? 10.0 * log10(acc.sig / acc.noise)
                                   : INFINITY;
        s->accuracy = ev.accuracy;
        s->drop = 100.0 * (out->fp32_accuracy - ev.accuracy);
        free(names);
        names = NULL;
        mn_graph_destroy(q);
        q = NULL;
    }
    qsort(out->layers, (size_t)n, sizeof *out->layers, cmp_sens);
out:
    free(names);
    free(layers);
    mn_graph_destroy(q);
    mn_graph_destroy(base);
    if (st != MN_OK)
        mn_quant_analysis_free(out);
    return st;
}

void mn_quant_analysis_free(mn_quant_analysis *a)
{
    if (!a)
        return;
    free(a->layers);
    a->layers = NULL;
    a->n = 0;
}

mn_status mn_quant_mixed(const mn_graph *g, const mn_quant_opts *o,
                         const char *eval_spec, int64_t eval_count,
                         double max_drop, const mn_quant_analysis *a,
                         mn_graph **out, mn_quant_report *rep,
                         mn_mixed_result *res, mn_ctx *ctx)
{
    const char **names = NULL;
    mn_graph *c = NULL;
    mn_status st = MN_OK;
    *out = NULL;
    memset(res, 0, sizeof *res);
    if (!(max_drop >= 0))
        return mn_error(ctx, MN_ERR_ARG, "mixed precision: the accuracy "
                        "budget must be >= 0 percentage points");
    names = mn_malloc((size_t)(a->n + o->n_keep_float + 1) * sizeof *names);
    if (!names)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int k = 0; k < o->n_keep_float; k++)
        names[k] = o->keep_float[k];
    for (int nf = 0; nf <= a->n; nf++) {
        mn_quant_opts om = *o;
        mn_eval_result ev;
        for (int k = 0; k < nf; k++)
            names[o->n_keep_float + k] = a->layers[k].name;
        om.keep_float = names;
        om.n_keep_float = o->n_keep_float + nf;
        if ((st = prepare(g, o, &c, ctx)) != MN_OK)
            break;
        om.equalize = 0; /* done by prepare */
        if (nf == a->n) { /* everything float: the fp32 model */
            res->n_float = nf;
            res->accuracy = a->fp32_accuracy;
            res->drop = 0;
            if (rep)
                memset(rep, 0, sizeof *rep);
            *out = c;
            c = NULL;
            break;
        }
        if ((st = mn_quantize(c, &om, rep, ctx)) != MN_OK ||
            (st = eval_of(c, o, eval_spec, eval_count, &ev, ctx)) != MN_OK)
            break;
        res->n_float = nf;
        res->accuracy = ev.accuracy;
        res->drop = 100.0 * (a->fp32_accuracy - ev.accuracy);
        res->steps++;
        if (res->drop <= max_drop) {
            *out = c;
            c = NULL;
            break;
        }
        mn_graph_destroy(c);
        c = NULL;
    }
    if (rep && o->equalize && st == MN_OK && *out) {
        /* prepare() equalized; report as mn_quantize would have */
        mn_graph *t = NULL;
        mn_equalize_report er;
        if (mn_graph_clone(g, &t, ctx) == MN_OK &&
            mn_graph_optimize(t, ctx) == MN_OK &&
            mn_quant_equalize(t, NULL, &er, ctx) == MN_OK) {
            rep->eq_pairs = er.pairs;
            rep->eq_skipped_clip = er.skipped_clip;
            rep->eq_spread_before = er.spread_before;
            rep->eq_spread_after = er.spread_after;
        }
        mn_graph_destroy(t);
    }
    mn_graph_destroy(c);
    free(names);
    return st;
}
