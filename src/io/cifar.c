/* CIFAR-10 binary version as a data set reader (see dataset.h).
 *
 * Each file is a sequence of 3073-byte records: one label byte (0..9) and a
 * 32×32 image as three 1024-byte planes (R, G, B). The training split is
 * data_batch_1.bin .. data_batch_5.bin, the test split test_batch.bin. The
 * pixels stay as bytes in memory (150 MB for the training split). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/dataset.h"

#define CIFAR_SIDE 32
#define CIFAR_PIX (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_REC (1 + CIFAR_PIX)
#define CIFAR_CLASSES 10

typedef struct cifar_data {
    uint8_t *pix; /* n × 3 × 32 × 32 */
    uint8_t *labels;
} cifar_data;

static mn_status cifar_image(void *impl, int64_t i, mn_ds_image *img,
                             mn_ctx *ctx)
{
    const cifar_data *d = impl;
    (void)ctx;
    img->pix = d->pix + (size_t)i * CIFAR_PIX;
    img->c = 3;
    img->h = CIFAR_SIDE;
    img->w = CIFAR_SIDE;
    img->interleaved = 0;
    return MN_OK;
}

static int64_t cifar_label(const void *impl, int64_t i)
{
    return ((const cifar_data *)impl)->labels[i];
}

static void cifar_destroy(void *impl)
{
    cifar_data *d = impl;
    if (!d)
        return;
    free(d->pix);
    free(d->labels);
    free(d);
}

static const mn_ds_reader_vt cifar_vt = {cifar_image, cifar_label,
                                         cifar_destroy};

/* Number of records in path, or an error when it is not a whole number. */
static mn_status cifar_count(const char *path, size_t *n, mn_ctx *ctx)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return mn_error(ctx, MN_ERR_IO, "%s: not a regular file", path);
    if (sb.st_size == 0 || sb.st_size % CIFAR_REC != 0)
        return mn_error(ctx, MN_ERR_PARSE,
                        "%s: size %lld is not a whole number of %d-byte "
                        "CIFAR-10 records", path, (long long)sb.st_size,
                        CIFAR_REC);
    *n = (size_t)(sb.st_size / CIFAR_REC);
    return MN_OK;
}

static mn_status cifar_read_file(const char *path, size_t count,
                                 cifar_data *d, size_t first, mn_ctx *ctx)
{
    unsigned char rec[CIFAR_REC];
    FILE *f = fopen(path, "rb");
    mn_status st = MN_OK;
    if (!f)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    for (size_t i = 0; i < count; i++) {
        if (fread(rec, 1, CIFAR_REC, f) != CIFAR_REC) {
            st = mn_error(ctx, MN_ERR_IO, "%s: short read at record %zu",
                          path, i);
            break;
        }
        if (rec[0] >= CIFAR_CLASSES) {
            st = mn_error(ctx, MN_ERR_PARSE,
                          "%s: record %zu has label %d; CIFAR-10 labels are "
                          "0..9", path, i, rec[0]);
            break;
        }
        d->labels[first + i] = rec[0];
        memcpy(d->pix + (first + i) * CIFAR_PIX, rec + 1, CIFAR_PIX);
    }
    fclose(f);
    return st;
}

mn_status mn_ds_cifar_open(const char *dir, int train, mn_ds_reader *out,
                           mn_ctx *ctx)
{
    char paths[5][4096];
    size_t counts[5], total = 0, bytes, at = 0;
    int nf = train ? 5 : 1;
    cifar_data *d = NULL;
    mn_status st;
    memset(out, 0, sizeof *out);
    for (int k = 0; k < nf; k++) {
        int len = train ? snprintf(paths[k], sizeof paths[k],
                                   "%s/data_batch_%d.bin", dir, k + 1)
                        : snprintf(paths[k], sizeof paths[k],
                                   "%s/test_batch.bin", dir);
        if (len < 0 || (size_t)len >= sizeof paths[k])
            return mn_error(ctx, MN_ERR_ARG, "%s: path too long", dir);
        if ((st = cifar_count(paths[k], &counts[k], ctx)) != MN_OK)
            return st;
        total += counts[k];
    }
    d = mn_calloc(1, sizeof *d);
    if (!d || !mn_mul_size(total, CIFAR_PIX, &bytes) ||
        !(d->pix = mn_malloc(bytes)) || !(d->labels = mn_malloc(total))) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory", dir);
        goto fail;
    }
    for (int k = 0; k < nf; k++) {
        if ((st = cifar_read_file(paths[k], counts[k], d, at, ctx)) != MN_OK)
            goto fail;
        at += counts[k];
    }
    out->vt = &cifar_vt;
    out->impl = d;
    out->n = (int64_t)total;
    out->classes = CIFAR_CLASSES;
    out->c = 3;
    out->h = CIFAR_SIDE;
    out->w = CIFAR_SIDE;
    return MN_OK;
fail:
    cifar_destroy(d);
    return st;
}
