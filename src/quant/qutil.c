/* mn_quantize (the entry point that dispatches to a mode's pass), the
 * names of modes and methods, and the small graph-editing helpers the
 * quantization passes share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/passes.h"
#include "ops/ops.h"
#include "quant/quant.h"

static const char *const mode_names[MN_QUANT_MODE_COUNT] = {
    [MN_QUANT_INT8] = "int8",       [MN_QUANT_DYNAMIC] = "dynamic",
    [MN_QUANT_FLOAT16] = "float16", [MN_QUANT_INT16X8] = "int16x8",
    [MN_QUANT_INT4] = "int4"};
static const char *const method_names[MN_CALIB_METHOD_COUNT] = {
    [MN_CALIB_MINMAX] = "minmax", [MN_CALIB_PERCENTILE] = "percentile",
    [MN_CALIB_ENTROPY] = "entropy", [MN_CALIB_MSE] = "mse"};
static const char *const format_names[MN_QFORMAT_COUNT] = {
    [MN_QFORMAT_QDQ] = "qdq", [MN_QFORMAT_QOP] = "qop"};

const char *mn_quant_mode_name(mn_quant_mode m)
{
    return (int)m >= 0 && m < MN_QUANT_MODE_COUNT ? mode_names[m] : "?";
}

const char *mn_calib_method_name(mn_calib_method m)
{
    return (int)m >= 0 && m < MN_CALIB_METHOD_COUNT ? method_names[m] : "?";
}

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

mn_status mn_quant_mode_parse(const char *s, mn_quant_mode *out,
                              mn_ctx *ctx)
{
    int i = lookup(s, mode_names, MN_QUANT_MODE_COUNT);
    if (i < 0)
        return mn_error(ctx, MN_ERR_ARG,
                        "unknown quantization mode '%s' (choose dynamic, "
                        "int8, float16, int16x8 or int4)", s ? s : "");
    *out = (mn_quant_mode)i;
    return MN_OK;
}

mn_status mn_calib_method_parse(const char *s, mn_calib_method *out,
                                mn_ctx *ctx)
{
    int i = lookup(s, method_names, MN_CALIB_METHOD_COUNT);
    if (i < 0)
        return mn_error(ctx, MN_ERR_ARG,
                        "unknown calibration method '%s' (choose minmax, "
                        "percentile, entropy or mse)", s ? s : "");
    *out = (mn_calib_method)i;
    return MN_OK;
}

mn_status mn_quant_format_parse(const char *s, mn_quant_format *out,
                                mn_ctx *ctx)
{
    int i = lookup(s, format_names, MN_QFORMAT_COUNT);
    if (i < 0)
        return mn_error(ctx, MN_ERR_ARG,
                        "unknown quantized format '%s' (choose qdq or qop)",
                        s ? s : "");
    *out = (mn_quant_format)i;
    return MN_OK;
}

/* ---- graph helpers ---- */

static char *unique(const mn_graph *g, const char *base, int nodes)
{
    size_t len = strlen(base) + 24;
    char *s = mn_malloc(len);
    unsigned k = 0;
    if (!s)
        return NULL;
    snprintf(s, len, "%s", base);
    for (;;) {
        int taken = 0;
        if (nodes) {
            for (int i = 0; i < g->n_nodes && !taken; i++)
                taken = g->nodes[i].name && !strcmp(g->nodes[i].name, s);
        } else {
            taken = mn_graph_find_value(g, s) >= 0;
        }
        if (!taken)
            return s;
        snprintf(s, len, "%s_%u", base, ++k);
    }
}

mn_status mn_q_add_const(mn_graph *g, const char *base, mn_dtype dt, int ndim,
                         const int64_t *dims, const void *data, int *idx,
                         mn_ctx *ctx)
{
    mn_tensor *t;
    mn_status st = mn_tensor_create(dt, ndim, dims, &t, ctx);
    if (st != MN_OK)
        return st;
    if (data)
        memcpy(t->data, data, mn_tensor_nbytes(t));
    return mn_pass_add_init(g, base, t, idx, ctx);
}

mn_status mn_q_add_value(mn_graph *g, const char *base, mn_dtype dt, int like,
                         int *idx, mn_ctx *ctx)
{
    char *name = unique(g, base, 0);
    mn_status st;
    if (!name)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if (like >= 0) {
        int64_t dims[MN_MAX_DIMS];
        const mn_value *l = &g->values[like];
        int nd = l->ndim;
        memcpy(dims, l->dims, sizeof dims);
        st = mn_graph_add_value(g, name, dt, nd, dims, idx, ctx);
        if (st == MN_OK)
            for (int k = 0; k < nd && k < MN_MAX_DIMS; k++)
                if (g->values[like].dim_param[k]) {
                    char *p = mn_strdup(g->values[like].dim_param[k]);
                    if (!p) {
                        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
                        break;
                    }
                    g->values[*idx].dim_param[k] = p;
                }
    } else {
        st = mn_graph_add_value(g, name, dt, -1, NULL, idx, ctx);
    }
    free(name);
    return st;
}

mn_status mn_q_add_node(mn_graph *g, const char *base, const char *op,
                        const int *in, int n_in, const int *out, int n_out,
                        int *idx, mn_ctx *ctx)
{
    char *name = unique(g, base, 1);
    mn_status st;
    int opset = g->opset > 0 ? (int)g->opset : 13;
    if (!name)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    st = mn_graph_add_node(g, name, op, "", opset, in, n_in, out, n_out, idx,
                           ctx);
    free(name);
    return st;
}

mn_status mn_q_set_attr_int(mn_graph *g, int ni, const char *name, int64_t v,
                            mn_ctx *ctx)
{
    mn_attr *a;
    mn_status st = mn_node_add_attr(&g->nodes[ni], name, MN_ATTR_INT, &a, ctx);
    if (st == MN_OK)
        a->i = v;
    return st;
}

int mn_q_sole_reader(const mn_graph *g, int v)
{
    int reader = -1, cnt = 0;
    if (v < 0 || g->values[v].is_output)
        return -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == v) {
                reader = i;
                cnt++;
            }
    return cnt == 1 ? reader : -1;
}

/* Ops whose meaning changed between opsets 11 and 13 (attribute → input,
 * Softmax's axis). */
static int changed_by_13(const char *op)
{
    static const char *const ops[] = {"Squeeze", "Unsqueeze", "Split",
                                      "ReduceSum", "Softmax", "LogSoftmax",
                                      "Hardmax"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(op, ops[i]))
            return 1;
    return 0;
}

mn_status mn_q_require_opset13(mn_graph *g, mn_ctx *ctx)
{
    if (g->opset >= 13)
        return MN_OK;
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_node *n = &g->nodes[i];
        if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
            continue;
        if (g->opset < 11 || changed_by_13(n->op_type)) {
            char lb[300];
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: the model uses ai.onnx opset %lld; "
                            "per-channel quantization needs opset 13 and "
                            "%s would change meaning; re-export the model at "
                            "opset 13 or newer", g->source,
                            (long long)g->opset,
                            mn_node_label(g, i, lb, sizeof lb));
        }
    }
    g->opset = 13;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].domain[0] || !strcmp(g->nodes[i].domain, "ai.onnx"))
            g->nodes[i].opset = 13;
    return MN_OK;
}

/* Reductions whose axes moved from an attribute to an input in opset 18
 * (ReduceSum moved in 13). */
static int axes_input_by_18(const char *op)
{
    static const char *const ops[] = {
        "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
        "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(op, ops[i]))
            return 1;
    return 0;
}

/* Ops whose meaning changed between 13 and 21 in a way not rewritten here
 * (RoiAlign 16's default coordinates, DFT 20's axis input, GridSample 20's
 * mode names, GroupNormalization 21's per-channel scale). */
static int changed_by_21(const char *op)
{
    static const char *const ops[] = {"RoiAlign", "DFT", "GridSample",
                                      "GroupNormalization"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(op, ops[i]))
            return 1;
    return 0;
}

/* Reduce*-(<18) node ni: the axes attribute becomes a constant int64
 * input (noop_with_empty_axes keeps its default 0: no axes still reduces
 * everything). */
static mn_status axes_to_input(mn_graph *g, int ni, mn_ctx *ctx)
{
    mn_node *n = &g->nodes[ni];
    const int64_t *ax;
    int na = mn_node_attr_ints(n, "axes", &ax), v, *in;
    int64_t d1[1];
    char nm[300];
    mn_status st;
    if (na < 0)
        return MN_OK; /* no axes: all of them, at every opset */
    d1[0] = na;
    snprintf(nm, sizeof nm, "%s_axes", n->name ? n->name : "reduce");
    if ((st = mn_q_add_const(g, nm, MN_DT_I64, 1, d1, ax, &v, ctx)) != MN_OK)
        return st;
    n = &g->nodes[ni];
    if (!(in = mn_realloc(n->in, 2 * sizeof *in)))
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    n->in = in;
    in[1] = v;
    n->n_in = 2;
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].name && !strcmp(n->attrs[a].name, "axes")) {
            mn_attr_clear(&n->attrs[a]);
            n->attrs[a] = n->attrs[--n->n_attrs];
            break;
        }
    return MN_OK;
}

mn_status mn_q_require_opset(mn_graph *g, int want, mn_ctx *ctx)
{
    mn_status st;
    if (g->opset >= want)
        return MN_OK;
    if ((st = mn_q_require_opset13(g, ctx)) != MN_OK || want <= 13)
        return st;
    for (int i = 0; i < g->n_nodes; i++) {
        const mn_node *n = &g->nodes[i];
        if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
            continue;
        if (changed_by_21(n->op_type)) {
            char lb[300];
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: raising ai.onnx opset %lld to %d would "
                            "change the meaning of %s", g->source,
                            (long long)g->opset, want,
                            mn_node_label(g, i, lb, sizeof lb));
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        mn_node *n = &g->nodes[i];
        if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
            continue;
        if (n->opset < 18 && want >= 18 && axes_input_by_18(n->op_type) &&
            (st = axes_to_input(g, i, ctx)) != MN_OK)
            return st;
        n = &g->nodes[i];
        /* Split-18 wants num_outputs or a split input */
        if (n->opset < 18 && want >= 18 && !strcmp(n->op_type, "Split") &&
            (n->n_in < 2 || n->in[1] < 0) &&
            !mn_node_attr(n, "num_outputs") &&
            (st = mn_q_set_attr_int(g, i, "num_outputs", n->n_out, ctx)) !=
                MN_OK)
            return st;
    }
    g->opset = want;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].domain[0] || !strcmp(g->nodes[i].domain, "ai.onnx"))
            g->nodes[i].opset = want;
    mn_graph_relink(g);
    return MN_OK;
}

int64_t mn_q_weight_bytes(const mn_graph *g)
{
    int64_t b = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].init)
            b += (int64_t)mn_tensor_nbytes(g->values[v].init);
    return b;
}

int mn_q_keep_float(const mn_graph *g, const mn_quant_opts *o, int ni)
{
    const char *name = g->nodes[ni].name;
    mn_qlayer l;
    for (int i = 0; o && name && i < o->n_keep_float; i++)
        if (o->keep_float[i] && !strcmp(o->keep_float[i], name))
            return 1;
    if (o && o->keep_first_last && mn_q_layer(g, ni, &l)) {
        int first = 1, last = 1;
        for (int i = 0; i < g->n_nodes && (first || last); i++)
            if (i != ni && mn_q_layer(g, i, &l)) {
                first &= i > ni;
                last &= i < ni;
            }
        return first || last;
    }
    return 0;
}

static int is_f32_init(const mn_graph *g, int v)
{
    return v >= 0 && g->values[v].init && g->values[v].init->dtype == MN_DT_F32;
}

int mn_q_layer(const mn_graph *g, int ni, mn_qlayer *l)
{
    const mn_node *n = &g->nodes[ni];
    l->b_slot = -1;
    l->w_slot = 1;
    if (n->n_in < 2 || n->n_out < 1 || n->in[0] < 0 ||
        g->values[n->in[0]].init || !is_f32_init(g, n->in[1]))
        return 0;
    const mn_tensor *w = g->values[n->in[1]].init;
    const mn_tensor *b = n->n_in > 2 && n->in[2] >= 0
                             ? g->values[n->in[2]].init
                             : NULL;
    if (n->n_in > 2 && n->in[2] >= 0 && !is_f32_init(g, n->in[2]))
        return 0;
    switch (n->op) {
    case MN_OP_CONV:
        if (w->ndim < 3 || w->dims[0] < 1)
            return 0;
        l->w_axis = 0;
        if (b) {
            if (mn_tensor_numel(b) != w->dims[0] || b->ndim != 1)
                return 0;
            l->b_slot = 2;
        }
        return 1;
    case MN_OP_GEMM: {
        int tb = mn_node_attr_int(n, "transB", 0) != 0;
        if (w->ndim != 2 || mn_node_attr_int(n, "transA", 0) != 0 ||
            mn_node_attr_float(n, "alpha", 1.0f) != 1.0f ||
            mn_node_attr_float(n, "beta", 1.0f) != 1.0f)
            return 0;
        l->w_axis = tb ? 0 : 1;
        if (b) {
            if (mn_tensor_numel(b) != w->dims[l->w_axis] || b->ndim < 1 ||
                b->dims[b->ndim - 1] != w->dims[l->w_axis])
                return 0;
            l->b_slot = 2;
        }
        return 1;
    }
    case MN_OP_MATMUL:
        if (w->ndim != 2 || n->n_in != 2)
            return 0;
        l->w_axis = 1;
        return 1;
    default:
        return 0;
    }
}

int mn_q_is_pass_op(const mn_node *n)
{
    switch (n->op) {
    case MN_OP_MAXPOOL:
        return n->n_out == 1 || (n->n_out == 2 && n->out[1] < 0);
    case MN_OP_RESHAPE: case MN_OP_FLATTEN: case MN_OP_TRANSPOSE:
    case MN_OP_SQUEEZE: case MN_OP_UNSQUEEZE: case MN_OP_IDENTITY:
        return 1;
    default:
        return 0;
    }
}

/* ---- evaluation as deployed ---- */

mn_status mn_quant_eval_accuracy(const mn_graph *g, const char *data_spec,
                                 const mn_data_opts *opts, int64_t limit,
                                 int batch, int threads, mn_eval_result *out,
                                 mn_ctx *ctx)
{
    mn_graph *low = NULL;
    mn_data_opts d = {0};
    mn_status st;
    if (opts)
        d = *opts;
    d.limit = limit;
    if ((st = mn_graph_clone(g, &low, ctx)) != MN_OK ||
        (st = mn_quant_lower(low, NULL, ctx)) != MN_OK) {
        mn_graph_destroy(low);
        return st;
    }
    st = mn_eval_accuracy(low, data_spec, &d, batch, threads, out, ctx);
    mn_graph_destroy(low);
    return st;
}

/* ---- entry point ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --keep-float names that ended up as integer operators (see
 * mn_quant_report.keep_float_int). */
static void count_keep_int(const mn_graph *g, const mn_quant_opts *o,
                           mn_quant_report *rep)
{
    rep->keep_float_int = 0;
    rep->keep_float_int_first = -1;
    for (int k = 0; k < o->n_keep_float; k++)
        for (int i = 0; i < g->n_nodes; i++)
            if (o->keep_float[k] && g->nodes[i].name &&
                !strcmp(g->nodes[i].name, o->keep_float[k]) &&
                !strncmp(g->nodes[i].op_type, "QLinear", 7)) {
                if (!rep->keep_float_int++)
                    rep->keep_float_int_first = k;
                break;
            }
}

mn_status mn_quantize(mn_graph *g, const mn_quant_opts *opts,
                      mn_quant_report *rep, mn_ctx *ctx)
{
    mn_quant_report local;
    double t0 = now_s();
    mn_status st;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!g)
        return mn_error(ctx, MN_ERR_ARG, "quantize: no graph");
    if (!opts)
        return mn_error(ctx, MN_ERR_ARG, "quantize: no options");
    if ((int)opts->mode < 0 || opts->mode >= MN_QUANT_MODE_COUNT ||
        (int)opts->method < 0 || opts->method >= MN_CALIB_METHOD_COUNT ||
        (int)opts->format < 0 || opts->format >= MN_QFORMAT_COUNT)
        return mn_error(ctx, MN_ERR_ARG, "quantize: invalid options");
    rep->mode = opts->mode;
    if ((st = mn_graph_optimize(g, ctx)) != MN_OK)
        return st;
    for (int k = 0; k < opts->n_keep_float; k++) {
        int found = 0;
        for (int i = 0; i < g->n_nodes && !found; i++)
            found = opts->keep_float[k] &&
                    !strcmp(g->nodes[i].name, opts->keep_float[k]);
        if (!found)
            return mn_error(ctx, MN_ERR_ARG,
                            "%s: no node named '%s' to keep in float",
                            g->source, opts->keep_float[k]
                                           ? opts->keep_float[k]
                                           : "(null)");
    }
    if (opts->equalize) {
        mn_equalize_report er;
        if ((st = mn_quant_equalize(g, NULL, &er, ctx)) != MN_OK)
            return st;
        rep->eq_pairs = er.pairs;
        rep->eq_skipped_clip = er.skipped_clip;
        rep->eq_spread_before = er.spread_before;
        rep->eq_spread_after = er.spread_after;
    }
    if (opts->bias_correct) {
        if (opts->mode != MN_QUANT_INT8 && opts->mode != MN_QUANT_INT16X8)
            return mn_error(ctx, MN_ERR_ARG,
                            "bias correction needs calibration data: modes "
                            "int8 and int16x8 only, not %s",
                            mn_quant_mode_name(opts->mode));
        if ((st = mn_quant_bias_correct(g, opts, &rep->bias_corrected,
                                        ctx)) != MN_OK)
            return st;
    }
    rep->weight_bytes_before = mn_q_weight_bytes(g);
    switch (opts->mode) {
    case MN_QUANT_INT8:
    case MN_QUANT_INT16X8:
        st = mn_quant_int8(g, opts, rep, ctx);
        break;
    case MN_QUANT_DYNAMIC:
        st = mn_quant_dynamic(g, opts, rep, ctx);
        break;
    case MN_QUANT_FLOAT16:
        st = mn_quant_fp16(g, opts, rep, ctx);
        break;
    case MN_QUANT_INT4:
        st = mn_quant_int4(g, opts, rep, ctx);
        break;
    default:
        st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                      "quantization mode %s is not implemented yet",
                      mn_quant_mode_name(opts->mode));
        break;
    }
    if (st != MN_OK)
        return st;
    if ((st = mn_graph_toposort(g, ctx)) != MN_OK ||
        (st = mn_graph_prune_dead(g, ctx)) != MN_OK)
        return st;
    if ((st = mn_graph_set_meta(g, "minnow.quant", mn_quant_mode_name(
                                    opts->mode), ctx)) != MN_OK)
        return st;
    rep->weight_bytes_after = mn_q_weight_bytes(g);
    if (opts->mode == MN_QUANT_INT8 && opts->format == MN_QFORMAT_QDQ) {
        /* what stays float once the QDQ patterns run as integer kernels
         * (as ONNX Runtime and mn_quant_lower run them) */
        mn_graph *low = NULL;
        if ((st = mn_graph_clone(g, &low, ctx)) == MN_OK &&
            (st = mn_quant_lower(low, NULL, ctx)) == MN_OK) {
            mn_quant_count_ops(low, rep);
            count_keep_int(low, opts, rep);
        }
        mn_graph_destroy(low);
        if (st != MN_OK)
            return st;
    } else {
        mn_quant_count_ops(g, rep);
        count_keep_int(g, opts, rep);
    }
    if (opts->strict && rep->float_ops > 0) {
        char kinds[256] = "";
        size_t at = 0;
        for (int k = 0; k < rep->n_float_kinds && at < sizeof kinds; k++)
            at += (size_t)snprintf(kinds + at, sizeof kinds - at, "%s%s×%d",
                                   k ? ", " : "", rep->float_kinds[k].op,
                                   rep->float_kinds[k].count);
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: %d ops have no integer form in minnow and would "
                        "stay float: %s", g->source, rep->float_ops, kinds);
    }
    rep->seconds = now_s() - t0;
    return MN_OK;
}

/* ---- helpers for the probe graphs of bias correction and analysis ---- */

mn_status mn_q_add_output(mn_graph *g, int v, mn_ctx *ctx)
{
    int *o = mn_realloc(g->outputs, (size_t)(g->n_outputs + 1) * sizeof *o);
    if (!o)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    g->outputs = o;
    o[g->n_outputs++] = v;
    g->values[v].is_output = 1;
    return MN_OK;
}

mn_status mn_q_copy_attrs(mn_node *dst, const mn_node *src, mn_ctx *ctx)
{
    for (int k = 0; k < src->n_attrs; k++) {
        const mn_attr *a = &src->attrs[k];
        mn_attr *b;
        mn_status st;
        if (a->type != MN_ATTR_INT && a->type != MN_ATTR_FLOAT &&
            a->type != MN_ATTR_INTS && a->type != MN_ATTR_FLOATS &&
            a->type != MN_ATTR_STRING)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "node '%s': attribute '%s' cannot be copied",
                            src->name ? src->name : "", a->name);
        if ((st = mn_node_add_attr(dst, a->name, a->type, &b, ctx)) != MN_OK)
            return st;
        b->i = a->i;
        b->f = a->f;
        if (a->type == MN_ATTR_INTS)
            st = mn_attr_set_ints(b, a->ints, a->n, ctx);
        else if (a->type == MN_ATTR_FLOATS)
            st = mn_attr_set_floats(b, a->floats, a->n, ctx);
        else if (a->type == MN_ATTR_STRING)
            st = mn_attr_set_string(b, a->s ? a->s : "", ctx);
        if (st != MN_OK)
            return st;
    }
    return MN_OK;
}
