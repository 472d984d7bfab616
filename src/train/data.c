/* Training data in memory (see data.h). Samples are read through the
 * mn_dataset front end with mean 0 and std 1, so each float is p/255 and is
 * stored back as the byte p; normalization and augmentation happen per
 * batch. npy specs hold preprocessed floats and are kept as they are. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "train/data.h"

#define CHUNK 1024

void mn_tdata_destroy(mn_tdata *d)
{
    if (!d)
        return;
    free(d->u8);
    free(d->f);
    free(d->y);
    free(d);
}

mn_status mn_tdata_load(const char *spec, int64_t limit, int c, int h, int w,
                        mn_tdata **out, mn_ctx *ctx)
{
    mn_data_opts o = {.n_mean = 1, .n_std = 1, .mean = {0}, .std = {1},
                      .channels = c, .height = h, .width = w, .limit = limit};
    mn_dataset *ds = NULL;
    mn_tdata *d = NULL;
    float *buf = NULL;
    mn_status st;
    int npy = strncmp(spec, "npy:", 4) == 0;
    *out = NULL;
    if ((st = mn_dataset_open(spec, &o, &ds, ctx)) != MN_OK)
        return st;
    d = mn_calloc(1, sizeof *d);
    if (!d) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    d->n = mn_dataset_size(ds);
    d->classes = mn_dataset_num_classes(ds);
    mn_dataset_sample_shape(ds, &d->c, &d->h, &d->w);
    if (d->classes <= 0) {
        st = mn_error(ctx, MN_ERR_ARG,
                      "%s: the data set has no labels; training needs them",
                      spec);
        goto fail;
    }
    if (d->n < 1) {
        st = mn_error(ctx, MN_ERR_ARG, "%s: the data set is empty", spec);
        goto fail;
    }
    size_t per = (size_t)d->c * d->h * d->w, total;
    if (!mn_mul_size(per, (size_t)d->n, &total)) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: data set too large", spec);
        goto fail;
    }
    d->y = mn_malloc((size_t)d->n * sizeof *d->y);
    buf = mn_malloc(per * CHUNK * sizeof *buf);
    if (npy)
        d->f = mn_malloc(total * sizeof *d->f);
    else
        d->u8 = mn_malloc(total);
    if (!d->y || !buf || (!d->f && !d->u8)) {
        st = mn_error(ctx, MN_ERR_OOM,
                      "%s: out of memory holding %lld samples", spec,
                      (long long)d->n);
        goto fail;
    }
    for (int64_t i = 0; i < d->n; i += CHUNK) {
        int64_t k = d->n - i < CHUNK ? d->n - i : CHUNK;
        if ((st = mn_dataset_read(ds, i, k, buf, d->y + i, ctx)) != MN_OK)
            goto fail;
        if (npy) {
            memcpy(d->f + (size_t)i * per, buf, (size_t)k * per * sizeof *buf);
            continue;
        }
        uint8_t *dst = d->u8 + (size_t)i * per;
        for (size_t e = 0; e < (size_t)k * per; e++) {
            float v = buf[e] * 255.0f;
            dst[e] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : lrintf(v));
        }
    }
    for (int64_t i = 0; i < d->n; i++)
        if (d->y[i] < 0 || d->y[i] >= d->classes) {
            st = mn_error(ctx, MN_ERR_ARG,
                          "%s: label %lld of sample %lld is out of range "
                          "[0, %d)", spec, (long long)d->y[i], (long long)i,
                          d->classes);
            goto fail;
        }
    free(buf);
    mn_dataset_destroy(ds);
    *out = d;
    return MN_OK;
fail:
    free(buf);
    mn_dataset_destroy(ds);
    mn_tdata_destroy(d);
    return st;
}

void mn_tdata_stats(const mn_tdata *d, float *mean, float *std)
{
    size_t plane = (size_t)d->h * d->w;
    for (int c = 0; c < d->c && c < 4; c++) {
        if (!d->u8) {
            mean[c] = 0.0f;
            std[c] = 1.0f;
            continue;
        }
        double s = 0, s2 = 0, cnt = (double)d->n * (double)plane;
        for (int64_t i = 0; i < d->n; i++) {
            const uint8_t *p = d->u8 + ((size_t)i * d->c + c) * plane;
            uint64_t a = 0, a2 = 0;
            for (size_t e = 0; e < plane; e++) {
                a += p[e];
                a2 += (uint64_t)p[e] * p[e];
            }
            s += (double)a;
            s2 += (double)a2;
        }
        double m = s / cnt / 255.0;
        double var = s2 / cnt / (255.0 * 255.0) - m * m;
        mean[c] = (float)m;
        std[c] = (float)(var > 1e-12 ? sqrt(var) : 1.0);
    }
}

void mn_tdata_batch(const mn_tdata *d, const int64_t *idx, int n,
                    const float *mean, const float *std, int crop_pad,
                    int flip, mn_rng *r, float *x, int64_t *y)
{
    int H = d->h, W = d->w;
    size_t plane = (size_t)H * W, per = plane * d->c;
    for (int b = 0; b < n; b++) {
        int64_t s = idx[b];
        int dy = 0, dx = 0, fl = 0;
        if (r && crop_pad > 0) {
            dy = (int)mn_rng_below(r, 2 * (uint64_t)crop_pad + 1) - crop_pad;
            dx = (int)mn_rng_below(r, 2 * (uint64_t)crop_pad + 1) - crop_pad;
        }
        if (r && flip)
            fl = mn_rng_uniform(r) < 0.5f;
        y[b] = d->y[s];
        for (int c = 0; c < d->c; c++) {
            float *o = x + (size_t)b * per + (size_t)c * plane;
            if (d->f) {
                memcpy(o, d->f + (size_t)s * per + (size_t)c * plane,
                       plane * sizeof *o);
                continue;
            }
            const uint8_t *p = d->u8 + (size_t)s * per + (size_t)c * plane;
            float sc = 1.0f / (255.0f * std[c]), off = -mean[c] / std[c];
            for (int i = 0; i < H; i++) {
                int si = i + dy;
                for (int j = 0; j < W; j++) {
                    int sj = (fl ? W - 1 - j : j) + dx;
                    float v = 0.0f;
                    if (si >= 0 && si < H && sj >= 0 && sj < W)
                        v = p[(size_t)si * W + sj];
                    o[(size_t)i * W + j] = v * sc + off;
                }
            }
        }
    }
}
