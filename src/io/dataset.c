/* Data sets: parses a data spec (docs/cli.md, "Data specs"), opens the
 * matching reader, and turns samples into normalised N×C×H×W floats batch
 * by batch.
 *
 * Two kinds share one mn_dataset: image sources (IDX, CIFAR-10, folders),
 * which hand out 8-bit pixels that are channel-converted, resized
 * (bilinear, half-pixel centres) and normalised here as
 * x = (p/255 - mean[c]) / std[c]; and npy sources, whose floats are used
 * as they are. Only the uint8 pixels stay in memory. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/dataset.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define FMNIST_CLASSES 10
#define DS_MAX_SAMPLE ((size_t)1 << 28) /* floats per sample */

typedef struct ds_kind {
    const char *name;
    mn_status (*read)(mn_dataset *d, int64_t first, int64_t n, float *x,
                      int64_t *y, mn_ctx *ctx);
    void (*destroy)(mn_dataset *d);
} ds_kind;

struct mn_dataset {
    const ds_kind *kind;
    char *spec;
    int64_t n;
    int classes;
    int c, h, w;                 /* sample shape after preprocessing */
    float mean[4], std[4];       /* per output channel (image kinds) */
    mn_ds_reader rd;             /* image kinds */
    mn_tensor *npx;              /* npy kind: N×... float32 */
    int64_t *npy_labels;         /* npy kind: N labels or NULL */
    int64_t first;               /* SPEC@A:B slice: samples start at A */
    int64_t n_slice_end;         /* B, or -1 for "to the end" */
};

/* ---- image kinds: 8-bit pixels → floats ---- */

/* Pixel (y, x) of output channel oc, converting the source's channels:
 * gray → colour replicates, colour → gray averages R, G, B, alpha is
 * dropped. */
static float src_px(const mn_ds_image *im, int dc, int oc, int y, int x)
{
    const uint8_t *p = im->pix;
    size_t plane = (size_t)im->h * (size_t)im->w, at = (size_t)y * im->w + x;
    size_t step = im->interleaved ? 1 : plane;
    if (im->interleaved)
        at *= (size_t)im->c;
    if (dc == im->c)
        return p[at + (size_t)oc * step];
    if (im->c < 3)
        return p[at];
    if (dc == 1)
        return ((float)p[at] + (float)p[at + step] + (float)p[at + 2 * step]) /
               3.0f;
    return p[at + (size_t)oc * step];
}

static int channels_convertible(int from, int to)
{
    return from == to || to == 1 || to == 3;
}

/* Source coordinate of output index i for bilinear resizing with
 * half-pixel centres: index i0, i1 and weight f of i1. */
static void src_coord(int i, int src, int dst, int *i0, int *i1, float *f)
{
    double s = ((double)i + 0.5) * (double)src / (double)dst - 0.5;
    int a;
    if (s < 0)
        s = 0;
    a = (int)s;
    if (a > src - 1)
        a = src - 1;
    *i0 = a;
    *i1 = a + 1 < src ? a + 1 : src - 1;
    *f = (float)(s - a);
    if (*i1 == a)
        *f = 0;
}

static void image_to_floats(const mn_dataset *d, const mn_ds_image *im,
                            float *out)
{
    int same = im->h == d->h && im->w == d->w;
    for (int oc = 0; oc < d->c; oc++) {
        float m = d->mean[oc], inv = 1.0f / d->std[oc];
        float *o = out + (size_t)oc * d->h * d->w;
        for (int y = 0; y < d->h; y++) {
            int y0 = y, y1 = y;
            float fy = 0;
            if (!same)
                src_coord(y, im->h, d->h, &y0, &y1, &fy);
            for (int x = 0; x < d->w; x++) {
                float v;
                if (same) {
                    v = src_px(im, d->c, oc, y, x);
                } else {
                    int x0, x1;
                    float fx;
                    src_coord(x, im->w, d->w, &x0, &x1, &fx);
                    float top = (1 - fx) * src_px(im, d->c, oc, y0, x0) +
                                fx * src_px(im, d->c, oc, y0, x1);
                    float bot = (1 - fx) * src_px(im, d->c, oc, y1, x0) +
                                fx * src_px(im, d->c, oc, y1, x1);
                    v = (1 - fy) * top + fy * bot;
                }
                o[(size_t)y * d->w + x] = (v / 255.0f - m) * inv;
            }
        }
    }
}

static mn_status image_read(mn_dataset *d, int64_t first, int64_t n, float *x,
                            int64_t *y, mn_ctx *ctx)
{
    size_t per = (size_t)d->c * d->h * d->w;
    for (int64_t i = 0; i < n; i++) {
        mn_ds_image im = {0};
        mn_status st = d->rd.vt->image(d->rd.impl, first + i, &im, ctx);
        if (st != MN_OK)
            return st;
        if (!channels_convertible(im.c, d->c))
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: sample %lld has %d channels, cannot convert "
                            "to %d", d->spec, (long long)(first + i), im.c,
                            d->c);
        if (x)
            image_to_floats(d, &im, x + (size_t)i * per);
        if (y)
            y[i] = d->rd.vt->label(d->rd.impl, first + i);
    }
    return MN_OK;
}

static void image_destroy(mn_dataset *d)
{
    if (d->rd.vt)
        d->rd.vt->destroy(d->rd.impl);
}

static const ds_kind image_kind = {"images", image_read, image_destroy};

/* ---- npy kind ---- */

static mn_status npy_read(mn_dataset *d, int64_t first, int64_t n, float *x,
                          int64_t *y, mn_ctx *ctx)
{
    size_t per = (size_t)d->c * d->h * d->w;
    (void)ctx;
    if (x && n)
        memcpy(x, (const float *)d->npx->data + (size_t)first * per,
               (size_t)n * per * sizeof(float));
    for (int64_t i = 0; y && i < n; i++)
        y[i] = d->npy_labels ? d->npy_labels[first + i] : -1;
    return MN_OK;
}

static void npy_destroy(mn_dataset *d)
{
    mn_tensor_destroy(d->npx);
    free(d->npy_labels);
}

static const ds_kind npy_kind = {"npy", npy_read, npy_destroy};

static int64_t label_at(const mn_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MN_DT_I64: return ((const int64_t *)t->data)[i];
    case MN_DT_I32: return ((const int32_t *)t->data)[i];
    case MN_DT_I16: return ((const int16_t *)t->data)[i];
    case MN_DT_U16: return ((const uint16_t *)t->data)[i];
    case MN_DT_I8: return ((const int8_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
    }
}

static mn_status open_npy(mn_dataset *d, const char *xpath, const char *ypath,
                          mn_ctx *ctx)
{
    mn_tensor *yt = NULL, *x;
    mn_status st;
    int64_t maxl = -1;
    if ((st = mn_tensor_load_npy(xpath, &d->npx, ctx)) != MN_OK)
        return st;
    x = d->npx;
    if (x->dtype != MN_DT_F32 || x->ndim < 2 || x->ndim > 4 || x->dims[0] == 0)
        return mn_error(ctx, MN_ERR_SHAPE,
                        "%s: data must be non-empty float32 N×C×H×W (or N×H×W, "
                        "N×D), got %s rank %d", xpath,
                        mn_dtype_name(x->dtype), x->ndim);
    for (int k = 1; k < x->ndim; k++)
        if (x->dims[k] <= 0 || x->dims[k] > INT32_MAX)
            return mn_error(ctx, MN_ERR_SHAPE, "%s: dimension %d is %lld",
                            xpath, k, (long long)x->dims[k]);
    d->n = x->dims[0];
    d->c = x->ndim == 4 ? (int)x->dims[1] : 1;
    d->h = x->ndim >= 3 ? (int)x->dims[x->ndim - 2] : 1;
    d->w = (int)x->dims[x->ndim - 1];
    if (!ypath)
        return MN_OK;
    if ((st = mn_tensor_load_npy(ypath, &yt, ctx)) != MN_OK)
        return st;
    if (yt->dtype != MN_DT_I64 && yt->dtype != MN_DT_I32 &&
        yt->dtype != MN_DT_I16 && yt->dtype != MN_DT_U16 &&
        yt->dtype != MN_DT_I8 && yt->dtype != MN_DT_U8) {
        st = mn_error(ctx, MN_ERR_SHAPE, "%s: labels must be integers (int64 "
                      "or int32), got %s", ypath, mn_dtype_name(yt->dtype));
        goto done;
    }
    if (!(yt->ndim == 1 || (yt->ndim == 2 && yt->dims[1] == 1)) ||
        yt->dims[0] != d->n) {
        st = mn_error(ctx, MN_ERR_SHAPE,
                      "%s: expected %lld labels (shape N), got rank %d with %lld",
                      ypath, (long long)d->n, yt->ndim,
                      (long long)(yt->ndim ? yt->dims[0] : 1));
        goto done;
    }
    d->npy_labels = mn_malloc((size_t)d->n * sizeof(int64_t));
    if (!d->npy_labels) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < d->n; i++) {
        int64_t l = label_at(yt, i);
        if (l < 0 || l > INT32_MAX - 1) {
            st = mn_error(ctx, MN_ERR_PARSE, "%s: label %lld of sample %lld "
                          "is out of range", ypath, (long long)l, (long long)i);
            goto done;
        }
        d->npy_labels[i] = l;
        if (l > maxl)
            maxl = l;
    }
    d->classes = (int)(maxl + 1);
done:
    mn_tensor_destroy(yt);
    return st;
}

/* ---- spec parsing ---- */

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Finds NAME(.gz) of Fashion-MNIST in $MINNOW_DATA_DIR, its fashion-mnist
 * subfolder, or the Debian folder. */
static mn_status fmnist_path(const char *name, char *out, size_t len,
                             mn_ctx *ctx)
{
    const char *env = getenv("MINNOW_DATA_DIR");
    const char *dir = env && env[0] ? env : FMNIST_DIR;
    static const char *const subs[] = {"", "/fashion-mnist"};
    static const char *const exts[] = {".gz", ""};
    for (int s = 0; s < 2; s++)
        for (int e = 0; e < 2; e++) {
            snprintf(out, len, "%s%s/%s%s", dir, subs[s], name, exts[e]);
            if (file_exists(out))
                return MN_OK;
        }
    return mn_error(ctx, MN_ERR_IO,
                    "fashion-mnist: %s/%s.gz not found (install the Debian "
                    "package dataset-fashion-mnist or set MINNOW_DATA_DIR)",
                    dir, name);
}

/* Strips a trailing ":train" / ":test" from s (in place); default test. */
static void split_of(char *s, int *train)
{
    size_t n = strlen(s);
    *train = 0;
    if (n >= 6 && !strcmp(s + n - 6, ":train")) {
        s[n - 6] = 0;
        *train = 1;
    } else if (n >= 5 && !strcmp(s + n - 5, ":test")) {
        s[n - 5] = 0;
    }
}

static mn_status bad_spec(const char *spec, const char *why, mn_ctx *ctx)
{
    return mn_error(ctx, MN_ERR_ARG, "bad data spec '%s': %s", spec, why);
}

static mn_status open_source(mn_dataset *d, char *body, mn_ctx *ctx)
{
    const char *spec = d->spec;
    char *comma;
    int train;
    if (!strncmp(body, "fashion-mnist", 13) &&
        (body[13] == 0 || body[13] == ':')) {
        char im[4096], lb[4096];
        mn_status st;
        split_of(body, &train);
        if (strcmp(body, "fashion-mnist") != 0)
            return bad_spec(spec, "expected fashion-mnist[:train|:test]", ctx);
        if ((st = fmnist_path(train ? "train-images-idx3-ubyte"
                                    : "t10k-images-idx3-ubyte",
                              im, sizeof im, ctx)) != MN_OK ||
            (st = fmnist_path(train ? "train-labels-idx1-ubyte"
                                    : "t10k-labels-idx1-ubyte",
                              lb, sizeof lb, ctx)) != MN_OK)
            return st;
        d->kind = &image_kind;
        return mn_ds_idx_open(im, lb, FMNIST_CLASSES, &d->rd, ctx);
    }
    if (!strncmp(body, "idx:", 4)) {
        body += 4;
        comma = strchr(body, ',');
        if (!comma || comma == body || !comma[1])
            return bad_spec(spec, "expected idx:IMAGES,LABELS", ctx);
        *comma = 0;
        d->kind = &image_kind;
        return mn_ds_idx_open(body, comma + 1, 0, &d->rd, ctx);
    }
    if (!strncmp(body, "cifar10:", 8)) {
        body += 8;
        split_of(body, &train);
        if (!body[0])
            return bad_spec(spec, "expected cifar10:DIR[:train|:test]", ctx);
        d->kind = &image_kind;
        return mn_ds_cifar_open(body, train, &d->rd, ctx);
    }
    if (!strncmp(body, "npy:", 4)) {
        body += 4;
        comma = strchr(body, ',');
        if (comma)
            *comma = 0;
        if (!body[0] || (comma && !comma[1]))
            return bad_spec(spec, "expected npy:X.npy[,Y.npy]", ctx);
        d->kind = &npy_kind;
        return open_npy(d, body, comma ? comma + 1 : NULL, ctx);
    }
    if (!strncmp(body, "folder:", 7)) {
        body += 7;
        if (!body[0])
            return bad_spec(spec, "expected folder:DIR", ctx);
        d->kind = &image_kind;
        return mn_ds_folder_open(body, &d->rd, ctx);
    }
    return mn_error(ctx, MN_ERR_ARG,
                    "unknown data spec '%s': expected fashion-mnist, idx:, "
                    "cifar10:, npy:, folder:", spec);
}

/* Target shape and normalisation from opts (image kinds). */
static mn_status apply_opts(mn_dataset *d, const mn_data_opts *o, mn_ctx *ctx)
{
    const mn_data_opts z = {0};
    size_t per;
    if (!o)
        o = &z;
    if (o->limit < 0 || o->channels < 0 || o->height < 0 || o->width < 0 ||
        o->n_mean < 0 || o->n_mean > 4 || o->n_std < 0 || o->n_std > 4)
        return mn_error(ctx, MN_ERR_ARG, "%s: invalid data options", d->spec);
    if (d->kind == &image_kind) {
        d->n = d->rd.n;
        d->classes = d->rd.classes;
        d->c = o->channels ? o->channels : d->rd.c;
        d->h = o->height ? o->height : d->rd.h;
        d->w = o->width ? o->width : d->rd.w;
        if (!channels_convertible(d->rd.c, d->c))
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: cannot convert %d-channel images to %d "
                            "channels", d->spec, d->rd.c, d->c);
    } else if ((o->channels && o->channels != d->c) ||
               (o->height && o->height != d->h) ||
               (o->width && o->width != d->w)) {
        return mn_error(ctx, MN_ERR_SHAPE,
                        "%s: samples are %dx%dx%d but %dx%dx%d are wanted "
                        "(npy data is used as is)", d->spec, d->c, d->h, d->w,
                        o->channels ? o->channels : d->c,
                        o->height ? o->height : d->h,
                        o->width ? o->width : d->w);
    }
    if (!mn_mul_size((size_t)d->c, (size_t)d->h, &per) ||
        !mn_mul_size(per, (size_t)d->w, &per) || per > DS_MAX_SAMPLE)
        return mn_error(ctx, MN_ERR_ARG, "%s: sample size %dx%dx%d is too "
                        "large", d->spec, d->c, d->h, d->w);
    if (d->first >= 0) { /* SPEC@A:B: first/last parsed, checked here */
        int64_t a = d->first, e = d->n_slice_end >= 0 ? d->n_slice_end : d->n;
        if (a > e || e > d->n)
            return mn_error(ctx, MN_ERR_ARG,
                            "%s: slice %lld:%lld is outside the %lld samples",
                            d->spec, (long long)a, (long long)e,
                            (long long)d->n);
        d->n = e - a;
    } else {
        d->first = 0;
    }
    if (o->limit && o->limit < d->n)
        d->n = o->limit;
    if (d->kind != &image_kind)
        return MN_OK;
    if (d->c > 4)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "%s: %d channels", d->spec,
                        d->c);
    if ((o->n_mean > 1 && o->n_mean != d->c) ||
        (o->n_std > 1 && o->n_std != d->c))
        return mn_error(ctx, MN_ERR_ARG,
                        "%s: %d mean and %d std values for %d-channel data "
                        "(give 1 or %d)", d->spec, o->n_mean, o->n_std, d->c,
                        d->c);
    for (int k = 0; k < d->c; k++) {
        d->mean[k] = o->n_mean ? o->mean[o->n_mean == 1 ? 0 : k] : 0.0f;
        d->std[k] = o->n_std ? o->std[o->n_std == 1 ? 0 : k] : 1.0f;
        if (!isfinite(d->mean[k]) || !isfinite(d->std[k]) || d->std[k] == 0)
            return mn_error(ctx, MN_ERR_ARG,
                            "%s: mean %g / std %g of channel %d are not usable",
                            d->spec, (double)d->mean[k], (double)d->std[k], k);
    }
    return MN_OK;
}

/* ---- public API ---- */

/* A trailing "@A:B" (or "@A:") selects samples [A, B) of the data set, so
 * that calibration and held-out evaluation can take disjoint parts of one
 * split. The suffix is cut from body; d->first = -1 when there is none. A
 * '@' followed by anything else stays part of the spec (a path). */
static mn_status parse_slice(mn_dataset *d, char *body, mn_ctx *ctx)
{
    char *at = strrchr(body, '@'), *p, *end;
    long long a, e = -1;
    d->first = -1;
    d->n_slice_end = -1;
    if (!at || !isdigit((unsigned char)at[1]))
        return MN_OK;
    p = at + 1;
    errno = 0;
    a = strtoll(p, &end, 10);
    if (*end != ':')
        return MN_OK;
    p = end + 1;
    if (*p) {
        if (!isdigit((unsigned char)*p))
            return MN_OK;
        e = strtoll(p, &end, 10);
        if (*end)
            return MN_OK;
    }
    if (errno || a < 0 || (e >= 0 && e < a))
        return mn_error(ctx, MN_ERR_ARG, "%s: bad slice '@%s' (want @FIRST:END "
                        "with FIRST <= END)", d->spec, at + 1);
    *at = '\0';
    d->first = a;
    d->n_slice_end = e;
    return MN_OK;
}

mn_status mn_dataset_open(const char *spec, const mn_data_opts *opts,
                          mn_dataset **out, mn_ctx *ctx)
{
    mn_dataset *d = NULL;
    char *body = NULL;
    mn_status st;
    *out = NULL;
    if (!spec || !spec[0])
        return mn_error(ctx, MN_ERR_ARG, "empty data spec: expected "
                        "fashion-mnist, idx:, cifar10:, npy:, folder:");
    d = mn_calloc(1, sizeof *d);
    if (!d || !(d->spec = mn_strdup(spec)) || !(body = mn_strdup(spec))) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    if ((st = parse_slice(d, body, ctx)) != MN_OK ||
        (st = open_source(d, body, ctx)) != MN_OK ||
        (st = apply_opts(d, opts, ctx)) != MN_OK)
        goto fail;
    free(body);
    *out = d;
    return MN_OK;
fail:
    free(body);
    mn_dataset_destroy(d);
    return st;
}

void mn_dataset_destroy(mn_dataset *d)
{
    if (!d)
        return;
    if (d->kind)
        d->kind->destroy(d);
    free(d->spec);
    free(d);
}

int64_t mn_dataset_size(const mn_dataset *d) { return d->n; }

int mn_dataset_num_classes(const mn_dataset *d) { return d->classes; }

void mn_dataset_sample_shape(const mn_dataset *d, int *c, int *h, int *w)
{
    if (c)
        *c = d->c;
    if (h)
        *h = d->h;
    if (w)
        *w = d->w;
}

mn_status mn_dataset_read(mn_dataset *d, int64_t first, int64_t n, float *x,
                          int64_t *y, mn_ctx *ctx)
{
    if (first < 0 || n < 0 || first > d->n || n > d->n - first)
        return mn_error(ctx, MN_ERR_ARG,
                        "%s: cannot read %lld samples from sample %lld of "
                        "%lld", d->spec, (long long)n, (long long)first,
                        (long long)d->n);
    if (!x && n)
        return mn_error(ctx, MN_ERR_ARG, "%s: no output buffer", d->spec);
    return d->kind->read(d, d->first + first, n, x, y, ctx);
}
