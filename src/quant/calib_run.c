/* The calibration run: feeds samples of a data set through the fp32 graph
 * in batches (one session with every value kept) and streams the chosen
 * values into their observers. Memory: the session, one input batch and
 * the observers' fixed histograms — independent of the number of samples.
 *
 * The data set is opened at the model's input size with the model's
 * mean/std (metadata minnow.mean / minnow.std / minnow.input_size), as
 * mn_eval_accuracy does. A last partial batch runs through a second
 * session compiled at its size, so no padding enters the histograms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/session.h"
#include "quant/quant.h"

#define CALIB_DEFAULT_BATCH 32

/* TODO(lead): eval.c has the same metadata parsing as static helpers;
 * replace this with a shared one (e.g. mn_data_opts_for_model) once it is
 * exported. */
static int parse_list(const char *s, float *v, int max)
{
    int n = 0;
    while (s && *s) {
        char *end;
        double d = strtod(s, &end);
        if (end == s || n >= max || !isfinite(d))
            return -1;
        v[n++] = (float)d;
        while (*end == ' ')
            end++;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return n;
}

static mn_status model_data_opts(const mn_graph *g, mn_data_opts *o,
                                 int ndim, const int64_t *dims, mn_ctx *ctx)
{
    static const char *const keys[2] = {"minnow.mean", "minnow.std"};
    float sz[4];
    const char *s = mn_graph_meta(g, "minnow.input_size");
    int k = s ? parse_list(s, sz, 4) : -1;
    for (int i = 0; i < 2; i++) {
        int *n = i ? &o->n_std : &o->n_mean;
        float *v = i ? o->std : o->mean;
        const char *m = mn_graph_meta(g, keys[i]);
        if (*n || !m)
            continue;
        if ((*n = parse_list(m, v, 4)) <= 0)
            return mn_error(ctx, MN_ERR_PARSE,
                            "model metadata %s = '%s' is not a list of 1 to 4 "
                            "numbers", keys[i], m);
    }
    if (ndim == 4) {
        o->channels = dims[1] > 0 && dims[1] <= 4 ? (int)dims[1] : 0;
        o->height = dims[2] > 0 && dims[2] <= 65536 ? (int)dims[2] : 0;
        o->width = dims[3] > 0 && dims[3] <= 65536 ? (int)dims[3] : 0;
    } else if (ndim == 3) {
        o->channels = 1;
        o->height = dims[1] > 0 && dims[1] <= 65536 ? (int)dims[1] : 0;
        o->width = dims[2] > 0 && dims[2] <= 65536 ? (int)dims[2] : 0;
    }
    if (k == 3 && ndim == 4 && !o->channels && sz[0] >= 1 && sz[0] <= 4)
        o->channels = (int)sz[0];
    if (k >= 2 && !o->height && sz[k - 2] >= 1 && sz[k - 2] <= 65536)
        o->height = (int)sz[k - 2];
    if (k >= 2 && !o->width && sz[k - 1] >= 1 && sz[k - 1] <= 65536)
        o->width = (int)sz[k - 1];
    return MN_OK;
}

static mn_status make_session(const mn_graph *g, const mn_calib_run *r,
                              mn_tensor *meta, int64_t b, mn_session **s,
                              mn_ctx *ctx)
{
    const mn_tensor *shapes[1] = {meta};
    mn_session_opts so = {.batch = (int)b, .threads = r->threads,
                          .n_input_shapes = 1, .input_shapes = shapes,
                          .keep_values = 1};
    meta->dims[0] = b;
    return mn_session_create(g, &so, s, ctx);
}

/* Runs one batch of cnt samples starting at first through every session
 * and hands them to the callback. */
static mn_status run_batch(mn_session *const *s, int ng, mn_dataset *ds,
                           mn_tensor *x, int64_t first, int64_t cnt,
                           mn_calib_fn fn, void *user, mn_ctx *ctx)
{
    mn_status st;
    int64_t dims0 = x->dims[0];
    x->dims[0] = cnt;
    st = mn_dataset_read(ds, first, cnt, x->data, NULL, ctx);
    for (int k = 0; k < ng && st == MN_OK; k++)
        st = mn_session_run(s[k], (const mn_tensor *const *)&x, 1, ctx);
    x->dims[0] = dims0;
    if (st != MN_OK)
        return st;
    return fn(user, s, ng, cnt, ctx);
}

typedef struct observe_ctx {
    const int *vals;
    mn_observer *obs;
    int n;
} observe_ctx;

static mn_status observe_cb(void *user, mn_session *const *s, int ng,
                            int64_t cnt, mn_ctx *ctx)
{
    const observe_ctx *o = user;
    (void)ng, (void)cnt, (void)ctx;
    for (int k = 0; k < o->n; k++) {
        const mn_tensor *t = mn_session_value(s[0], o->vals[k]);
        if (!t || !t->data || t->dtype != MN_DT_F32)
            continue;
        mn_observer_update(&o->obs[k], t->data, mn_tensor_numel(t));
    }
    return MN_OK;
}

mn_status mn_calib_observe(const mn_graph *g, const mn_calib_run *r,
                           const int *vals, mn_observer *obs, int n,
                           int64_t *samples, mn_ctx *ctx)
{
    observe_ctx oc = {vals, obs, n};
    return mn_calib_foreach(&g, 1, r, observe_cb, &oc, samples, ctx);
}

mn_status mn_calib_foreach(const mn_graph *const *gs, int ng,
                           const mn_calib_run *r, mn_calib_fn fn, void *user,
                           int64_t *samples, mn_ctx *ctx)
{
    const mn_graph *g = gs[0];
    mn_data_opts o = r->data;
    mn_dataset *ds = NULL;
    mn_session *s[MN_CALIB_MAX_GRAPHS] = {0};
    mn_tensor *x = NULL, meta = {0};
    int64_t dims[MN_MAX_DIMS] = {0}, total, b, full;
    int ndim = 0, dc, dh, dw;
    mn_dtype dt = MN_DT_UNDEF;
    mn_status st;
    const char *src = g->source ? g->source : "model";
    *samples = 0;
    if (ng < 1 || ng > MN_CALIB_MAX_GRAPHS)
        return mn_error(ctx, MN_ERR_ARG, "calibration: %d graphs", ng);
    if (!r->spec || !r->spec[0])
        return mn_error(ctx, MN_ERR_ARG,
                        "int8 quantization needs calibration data (--calib)");
    if (mn_graph_num_inputs(g) != 1)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: calibration needs a model with one input, it has "
                        "%d", src, mn_graph_num_inputs(g));
    if ((st = mn_graph_input_shape(g, 0, &ndim, dims, &dt)) != MN_OK)
        return st;
    if ((dt != MN_DT_F32 && dt != MN_DT_UNDEF) || ndim < 2 || ndim > 4)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: calibration needs a float32 input of rank 2 to "
                        "4, input '%s' is %s rank %d", src,
                        mn_graph_input_name(g, 0), mn_dtype_name(dt), ndim);
    if ((st = model_data_opts(g, &o, ndim, dims, ctx)) != MN_OK)
        return st;
    o.limit = 0;
    if ((st = mn_dataset_open(r->spec, &o, &ds, ctx)) != MN_OK)
        return mn_error_prefix(ctx, st, "calibration data");
    mn_dataset_sample_shape(ds, &dc, &dh, &dw);
    meta.dtype = MN_DT_F32;
    meta.ndim = ndim;
    if (ndim == 4) {
        meta.dims[1] = dc, meta.dims[2] = dh, meta.dims[3] = dw;
    } else if (ndim == 3) {
        meta.dims[1] = dh, meta.dims[2] = dw;
        if (dc != 1) {
            st = mn_error(ctx, MN_ERR_SHAPE,
                          "calibration data %s: samples have %d channels, the "
                          "model's input '%s' takes 1", r->spec, dc,
                          mn_graph_input_name(g, 0));
            goto out;
        }
    } else {
        meta.dims[1] = (int64_t)dc * dh * dw;
    }
    for (int k = 1; k < ndim; k++)
        if (dims[k] >= 0 && dims[k] != meta.dims[k]) {
            st = mn_error(ctx, MN_ERR_SHAPE,
                          "calibration data %s: samples are %dx%dx%d but "
                          "dimension %d of the model's input '%s' is %lld",
                          r->spec, dc, dh, dw, k, mn_graph_input_name(g, 0),
                          (long long)dims[k]);
            goto out;
        }
    total = r->count > 0 ? r->count : MN_QUANT_DEFAULT_CALIB_COUNT;
    if (total > mn_dataset_size(ds))
        total = mn_dataset_size(ds);
    if (total <= 0) {
        st = mn_error(ctx, MN_ERR_ARG, "calibration data %s is empty",
                      r->spec);
        goto out;
    }
    if (dims[0] > 0) { /* a fixed batch: whole batches only */
        b = dims[0];
        total = total >= b ? total / b * b : b;
        if (total > mn_dataset_size(ds)) {
            st = mn_error(ctx, MN_ERR_SHAPE,
                          "calibration data %s has %lld samples, the model's "
                          "fixed batch is %lld", r->spec,
                          (long long)mn_dataset_size(ds), (long long)b);
            goto out;
        }
    } else {
        b = r->batch > 0 ? r->batch : CALIB_DEFAULT_BATCH;
        if (b > total)
            b = total;
    }
    full = total / b * b;
    for (int k = 0; k < ng; k++)
        if ((st = make_session(gs[k], r, &meta, b, &s[k], ctx)) != MN_OK)
            goto out;
    if ((st = mn_tensor_create(MN_DT_F32, ndim, meta.dims, &x, ctx)) != MN_OK)
        goto out;
    for (int64_t first = 0; first < full; first += b)
        if ((st = run_batch(s, ng, ds, x, first, b, fn, user, ctx)) != MN_OK)
            goto out;
    if (full < total) {
        for (int k = 0; k < ng; k++) {
            mn_session_destroy(s[k]);
            s[k] = NULL;
        }
        for (int k = 0; k < ng; k++)
            if ((st = make_session(gs[k], r, &meta, total - full, &s[k],
                                   ctx)) != MN_OK)
                goto out;
        if ((st = run_batch(s, ng, ds, x, full, total - full, fn, user,
                            ctx)) != MN_OK)
            goto out;
    }
    *samples = total;
out:
    mn_tensor_destroy(x);
    for (int k = 0; k < ng; k++)
        mn_session_destroy(s[k]);
    mn_dataset_destroy(ds);
    return st;
}
