/* MNIST-format IDX image/label pairs (Fashion-MNIST, MNIST, ...), gzipped
 * or plain, as a data set reader (see dataset.h).
 *
 * Images: magic 0x00000803, then count, rows, cols (big-endian u32), then
 * count*rows*cols bytes. Labels: magic 0x00000801, count, then count bytes.
 * A file must hold exactly the announced bytes. Gzip is detected by its
 * magic; the inflated data grows its buffer only as bytes really arrive, so
 * a hostile header cannot make us allocate more than the file inflates to. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "io/dataset.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_GZ_CHUNK ((size_t)1 << 24)

typedef struct idx_data {
    uint8_t *pix;    /* n × rows × cols */
    uint8_t *labels; /* n */
    int rows, cols;
} idx_data;

/* A file opened for reading, gzipped or plain. */
typedef struct idx_file {
    const char *path;
    FILE *f;
    gzFile gz;
    size_t plain_size; /* file size when plain */
} idx_file;

static mn_status idx_file_open(idx_file *xf, const char *path, mn_ctx *ctx)
{
    unsigned char m[2] = {0, 0};
    struct stat sb;
    memset(xf, 0, sizeof *xf);
    xf->path = path;
    xf->f = fopen(path, "rb");
    if (!xf->f)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    if (fstat(fileno(xf->f), &sb) != 0 || !S_ISREG(sb.st_mode))
        return mn_error(ctx, MN_ERR_IO, "%s: not a regular file", path);
    xf->plain_size = (size_t)sb.st_size;
    if (fread(m, 1, 2, xf->f) == 2 && m[0] == 0x1f && m[1] == 0x8b) {
        fclose(xf->f);
        xf->f = NULL;
        xf->gz = gzopen(path, "rb");
        if (!xf->gz)
            return mn_error(ctx, MN_ERR_IO, "%s: cannot open: %s", path,
                            strerror(errno));
        gzbuffer(xf->gz, 1 << 17);
    } else {
        rewind(xf->f);
    }
    return MN_OK;
}

static void idx_file_close(idx_file *xf)
{
    if (xf->f)
        fclose(xf->f);
    if (xf->gz)
        gzclose(xf->gz);
    xf->f = NULL;
    xf->gz = NULL;
}

/* Reads up to len bytes; returns how many arrived, or -1 on a gzip error
 * (message in ctx). */
static int64_t idx_read(idx_file *xf, void *buf, size_t len, mn_ctx *ctx)
{
    size_t got = 0;
    if (xf->f)
        return (int64_t)fread(buf, 1, len, xf->f);
    while (got < len) {
        size_t want = len - got > (1u << 30) ? (1u << 30) : len - got;
        int r = gzread(xf->gz, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *m = gzerror(xf->gz, &zerr);
            mn_error(ctx, MN_ERR_PARSE, "%s: corrupt gzip data: %s", xf->path,
                     m ? m : "unknown error");
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* Reads the header (magic + ndims u32 dims) and then exactly the announced
 * payload into *out (malloc'd). dims gets the dimensions. */
static mn_status idx_load(const char *path, uint32_t magic, int ndims,
                          uint32_t *dims, uint8_t **out, mn_ctx *ctx)
{
    idx_file xf;
    unsigned char hdr[16], extra;
    size_t hbytes = 4 + 4 * (size_t)ndims, need = 1, have = 0, cap;
    uint8_t *buf = NULL;
    int64_t r;
    mn_status st;
    *out = NULL;
    if ((st = idx_file_open(&xf, path, ctx)) != MN_OK)
        goto fail;
    /* the magic first, so a swapped or foreign file says so */
    r = idx_read(&xf, hdr, 4, ctx);
    if (r >= 4 && be32(hdr) != magic) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s: bad IDX magic 0x%08x (expected 0x%08x for %s)",
                      path, be32(hdr), magic,
                      magic == IDX_IMAGES_MAGIC ? "images" : "labels");
        goto fail;
    }
    if (r == 4) {
        int64_t r2 = idx_read(&xf, hdr + 4, hbytes - 4, ctx);
        r = r2 < 0 ? r2 : r + r2;
    }
    if (r < 0) {
        st = MN_ERR_PARSE;
        goto fail;
    }
    if (r != (int64_t)hbytes) {
        st = mn_error(ctx, MN_ERR_PARSE, "%s: truncated IDX header", path);
        goto fail;
    }
    for (int k = 0; k < ndims; k++) {
        dims[k] = be32(hdr + 4 + 4 * k);
        if (dims[k] == 0 || dims[k] > INT32_MAX) {
            st = mn_error(ctx, MN_ERR_PARSE, "%s: IDX dimension %d is %u",
                          path, k, dims[k]);
            goto fail;
        }
        if (!mn_mul_size(need, dims[k], &need) || need > MN_ALLOC_LIMIT) {
            st = mn_error(ctx, MN_ERR_PARSE,
                          "%s: IDX header announces more than %zu bytes",
                          path, (size_t)MN_ALLOC_LIMIT);
            goto fail;
        }
    }
    if (xf.f && xf.plain_size != hbytes + need) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s: %s: IDX header announces %zu data bytes, file has "
                      "%zu", path,
                      xf.plain_size < hbytes + need ? "truncated"
                                                    : "trailing bytes",
                      need, xf.plain_size - hbytes);
        goto fail;
    }
    /* plain: the size is known; gzip: grow as data arrives */
    cap = xf.f ? need : (need < IDX_GZ_CHUNK ? need : IDX_GZ_CHUNK);
    buf = mn_malloc(cap);
    if (!buf) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory", path);
        goto fail;
    }
    while (have < need) {
        if (have == cap) {
            size_t ncap = cap * 2 < need ? cap * 2 : need;
            uint8_t *nb = mn_realloc(buf, ncap);
            if (!nb) {
                st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory", path);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        r = idx_read(&xf, buf + have, cap - have, ctx);
        if (r < 0) {
            st = MN_ERR_PARSE;
            goto fail;
        }
        if (r == 0)
            break;
        have += (size_t)r;
    }
    if (have < need) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s: truncated: IDX header announces %zu data bytes, "
                      "file has %zu", path, need, have);
        goto fail;
    }
    r = idx_read(&xf, &extra, 1, ctx);
    if (r != 0) {
        st = r < 0 ? MN_ERR_PARSE
                   : mn_error(ctx, MN_ERR_PARSE,
                              "%s: trailing bytes after the %zu announced "
                              "IDX data bytes", path, need);
        goto fail;
    }
    idx_file_close(&xf);
    *out = buf;
    return MN_OK;
fail:
    idx_file_close(&xf);
    free(buf);
    return st;
}

static mn_status idx_image(void *impl, int64_t i, mn_ds_image *img,
                           mn_ctx *ctx)
{
    const idx_data *d = impl;
    (void)ctx;
    img->pix = d->pix + (size_t)i * (size_t)d->rows * (size_t)d->cols;
    img->c = 1;
    img->h = d->rows;
    img->w = d->cols;
    img->interleaved = 0;
    return MN_OK;
}

static int64_t idx_label(const void *impl, int64_t i)
{
    return ((const idx_data *)impl)->labels[i];
}

static void idx_destroy(void *impl)
{
    idx_data *d = impl;
    if (!d)
        return;
    free(d->pix);
    free(d->labels);
    free(d);
}

static const mn_ds_reader_vt idx_vt = {idx_image, idx_label, idx_destroy};

mn_status mn_ds_idx_open(const char *images, const char *labels, int classes,
                         mn_ds_reader *out, mn_ctx *ctx)
{
    uint32_t idims[3], ldims[1];
    idx_data *d;
    mn_status st;
    int maxl = 0;
    memset(out, 0, sizeof *out);
    d = mn_calloc(1, sizeof *d);
    if (!d)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if ((st = idx_load(images, IDX_IMAGES_MAGIC, 3, idims, &d->pix, ctx)) !=
            MN_OK ||
        (st = idx_load(labels, IDX_LABELS_MAGIC, 1, ldims, &d->labels, ctx)) !=
            MN_OK)
        goto fail;
    if (idims[0] != ldims[0]) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s holds %u images but %s holds %u labels", images,
                      idims[0], labels, ldims[0]);
        goto fail;
    }
    for (uint32_t i = 0; i < ldims[0]; i++) {
        int l = d->labels[i];
        if (classes > 0 && l >= classes) {
            st = mn_error(ctx, MN_ERR_PARSE,
                          "%s: label %d of sample %u is not below %d classes",
                          labels, l, i, classes);
            goto fail;
        }
        if (l > maxl)
            maxl = l;
    }
    d->rows = (int)idims[1];
    d->cols = (int)idims[2];
    out->vt = &idx_vt;
    out->impl = d;
    out->n = idims[0];
    out->classes = classes > 0 ? classes : maxl + 1;
    out->c = 1;
    out->h = d->rows;
    out->w = d->cols;
    return MN_OK;
fail:
    idx_destroy(d);
    return st;
}
