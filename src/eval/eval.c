/* Accuracy evaluation: runs a classifier over a data set in batches and
 * counts top-1 and top-5 hits of its first output ([N, classes] logits or
 * probabilities).
 *
 * The data set is opened at the model's input size (C, H, W); mean/std come
 * from the options or else from the model's metadata (minnow.mean,
 * minnow.std). One session is compiled at the batch size; the last partial
 * batch is padded with zeros and its padded rows are ignored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/graph.h"

#define EVAL_DEFAULT_BATCH 32

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Parses a comma list of at most max floats; returns the count, or -1. */
static int parse_floats(const char *s, float *v, int max)
{
    int n = 0;
    while (*s) {
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

static mn_status meta_floats(const mn_graph *g, const char *key, float *v,
                             int *n, mn_ctx *ctx)
{
    const char *s = mn_graph_meta(g, key);
    int k;
    if (!s)
        return MN_OK;
    k = parse_floats(s, v, 4);
    if (k <= 0)
        return mn_error(ctx, MN_ERR_PARSE,
                        "model metadata %s = '%s' is not a list of 1 to 4 "
                        "numbers", key, s);
    *n = k;
    return MN_OK;
}

/* Fills symbolic C/H/W (-1) from metadata minnow.input_size ("C,H,W",
 * "H,W" or "S"), where present. */
static void meta_input_size(const mn_graph *g, int64_t *c, int64_t *h,
                            int64_t *w)
{
    const char *s = mn_graph_meta(g, "minnow.input_size");
    float v[4];
    int n = s ? parse_floats(s, v, 4) : -1;
    int64_t mc = -1, mh = -1, mw = -1;
    for (int k = 0; k < n; k++)
        if (!(v[k] >= 1 && v[k] <= 65536))
            return;
    if (n == 3) {
        mc = (int64_t)v[0];
        mh = (int64_t)v[1];
        mw = (int64_t)v[2];
    } else if (n == 2) {
        mh = (int64_t)v[0];
        mw = (int64_t)v[1];
    } else if (n == 1) {
        mh = mw = (int64_t)v[0];
    }
    if (*c < 0)
        *c = mc;
    if (*h < 0)
        *h = mh;
    if (*w < 0)
        *w = mw;
}

/* Position of the label's score among the scores (0: top-1); ties go to
 * the lower index as in argmax; a NaN label score ranks last. */
static int64_t rank_of(const float *s, int64_t k, int64_t lab)
{
    float v = s[lab];
    int64_t r = 0;
    if (isnan(v))
        return k;
    for (int64_t j = 0; j < k; j++)
        if (s[j] > v || (s[j] == v && j < lab))
            r++;
    return r;
}

mn_status mn_eval_accuracy(const mn_graph *g, const char *data_spec,
                           const mn_data_opts *opts, int batch, int threads,
                           mn_eval_result *out, mn_ctx *ctx)
{
    double t0 = now_seconds();
    mn_data_opts o = {0};
    mn_dataset *ds = NULL;
    mn_session *s = NULL;
    mn_tensor *x = NULL, meta = {0};
    int64_t *y = NULL, dims[MN_MAX_DIMS] = {0}, n, b, top1 = 0, top5 = 0;
    int64_t mc = -1, mh = -1, mw = -1, classes = 0;
    int ndim = 0, dc, dh, dw;
    mn_dtype dt = MN_DT_UNDEF;
    mn_status st;
    memset(out, 0, sizeof *out);
    if (opts)
        o = *opts;
    if (mn_graph_num_inputs(g) != 1) {
        st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                      "%s: eval needs a model with one input, it has %d",
                      g->source ? g->source : "model", mn_graph_num_inputs(g));
        goto fail;
    }
    if ((st = mn_graph_input_shape(g, 0, &ndim, dims, &dt)) != MN_OK) {
        mn_error(ctx, st, "cannot read the model's input shape");
        goto fail;
    }
    if ((dt != MN_DT_F32 && dt != MN_DT_UNDEF) || ndim < 2 || ndim > 4) {
        st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                      "%s: eval needs a float32 input of rank 2 to 4 "
                      "(N×C×H×W, N×H×W or N×D), input '%s' is %s rank %d",
                      g->source ? g->source : "model",
                      mn_graph_input_name(g, 0), mn_dtype_name(dt), ndim);
        goto fail;
    }
    if (ndim == 4) {
        mc = dims[1];
        mh = dims[2];
        mw = dims[3];
    } else if (ndim == 3) {
        mc = 1;
        mh = dims[1];
        mw = dims[2];
    }
    if (ndim >= 3)
        meta_input_size(g, &mc, &mh, &mw);
    if (o.n_mean == 0 &&
        (st = meta_floats(g, "minnow.mean", o.mean, &o.n_mean, ctx)) != MN_OK)
        goto fail;
    if (o.n_std == 0 &&
        (st = meta_floats(g, "minnow.std", o.std, &o.n_std, ctx)) != MN_OK)
        goto fail;
    o.channels = mc > 0 && mc <= 4 ? (int)mc : 0;
    o.height = mh > 0 && mh <= 65536 ? (int)mh : 0;
    o.width = mw > 0 && mw <= 65536 ? (int)mw : 0;
    if ((st = mn_dataset_open(data_spec, &o, &ds, ctx)) != MN_OK)
        goto fail;
    if (mn_dataset_num_classes(ds) <= 0) {
        st = mn_error(ctx, MN_ERR_ARG, "%s: the data set has no labels",
                      data_spec);
        goto fail;
    }
    mn_dataset_sample_shape(ds, &dc, &dh, &dw);
    n = mn_dataset_size(ds);
    meta.dtype = MN_DT_F32;
    meta.ndim = ndim;
    if (ndim == 4) {
        meta.dims[1] = dc;
        meta.dims[2] = dh;
        meta.dims[3] = dw;
    } else if (ndim == 3) {
        meta.dims[1] = dh;
        meta.dims[2] = dw;
    } else {
        meta.dims[1] = (int64_t)dc * dh * dw;
        if (dims[1] >= 0 && dims[1] != meta.dims[1]) {
            st = mn_error(ctx, MN_ERR_SHAPE,
                          "%s: samples are %dx%dx%d (%lld values) but the "
                          "model's input '%s' takes %lld", data_spec, dc, dh,
                          dw, (long long)meta.dims[1],
                          mn_graph_input_name(g, 0), (long long)dims[1]);
            goto fail;
        }
    }
    if (dims[0] > 0) {
        b = dims[0];
    } else {
        b = batch > 0 ? batch : EVAL_DEFAULT_BATCH;
        if (b > n)
            b = n;
    }
    meta.dims[0] = b;
    {
        const mn_tensor *shapes[1] = {&meta};
        mn_session_opts so = {.batch = (int)b, .threads = threads,
                              .n_input_shapes = 1, .input_shapes = shapes};
        if ((st = mn_session_create(g, &so, &s, ctx)) != MN_OK)
            goto fail;
    }
    if ((st = mn_tensor_create(MN_DT_F32, ndim, meta.dims, &x, ctx)) != MN_OK)
        goto fail;
    y = mn_malloc((size_t)b * sizeof *y);
    if (!y) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    for (int64_t first = 0; first < n; first += b) {
        int64_t cnt = n - first < b ? n - first : b;
        size_t per = mn_tensor_nbytes(x) / (size_t)b;
        const mn_tensor *yo;
        if ((st = mn_dataset_read(ds, first, cnt, x->data, y, ctx)) != MN_OK)
            goto fail;
        if (cnt < b) /* pad the last batch; its extra rows are ignored */
            memset((char *)x->data + (size_t)cnt * per, 0,
                   (size_t)(b - cnt) * per);
        if ((st = mn_session_run(s, (const mn_tensor *const *)&x, 1, ctx)) !=
            MN_OK)
            goto fail;
        yo = mn_session_output(s, 0);
        if (!yo || yo->dtype != MN_DT_F32 || yo->ndim < 1 ||
            yo->dims[0] != b || mn_tensor_numel(yo) < b) {
            st = mn_error(ctx, MN_ERR_SHAPE,
                          "%s: output '%s' must be float32 [%lld, classes]",
                          g->source ? g->source : "model",
                          mn_graph_output_name(g, 0), (long long)b);
            goto fail;
        }
        classes = mn_tensor_numel(yo) / b;
        for (int64_t i = 0; i < cnt; i++) {
            const float *sc = (const float *)yo->data + i * classes;
            int64_t r;
            if (y[i] < 0 || y[i] >= classes) {
                st = mn_error(ctx, MN_ERR_SHAPE,
                              "%s: sample %lld has label %lld but the model "
                              "scores only %lld classes", data_spec,
                              (long long)(first + i), (long long)y[i],
                              (long long)classes);
                goto fail;
            }
            r = rank_of(sc, classes, y[i]);
            top1 += r == 0;
            top5 += r < 5;
        }
    }
    out->samples = n;
    out->accuracy = n ? (double)top1 / (double)n : 0;
    out->top5 = classes >= 5 && n ? (double)top5 / (double)n : -1;
    st = MN_OK;
fail:
    free(y);
    mn_tensor_destroy(x);
    mn_session_destroy(s);
    mn_dataset_destroy(ds);
    out->seconds = now_seconds() - t0;
    return st;
}
