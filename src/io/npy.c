/* NumPy .npy tensor files: load (v1/v2/v3 headers, little-endian, C order)
 * and atomic save (temp file + rename).
 *
 * The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * Files are untrusted: the header length is bounded, the dict is parsed by a
 * small strict tokenizer, dimensions are overflow-checked, and the data must
 * be exactly as long as the shape says. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/status.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER ((size_t)1 << 20) /* numpy itself stops at 10 000 */

static const struct {
    const char *descr;
    mn_dtype dt;
} descrs[] = {
    {"<f4", MN_DT_F32}, {"<f8", MN_DT_F64}, {"<i8", MN_DT_I64},
    {"<i4", MN_DT_I32}, {"<i2", MN_DT_I16}, {"<u2", MN_DT_U16},
    {"<u4", MN_DT_U32}, {"<u8", MN_DT_U64}, {"|u1", MN_DT_U8},
    {"|i1", MN_DT_I8},  {"|b1", MN_DT_BOOL}, {"<f2", MN_DT_F16},
};

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* ---- header parsing ---- */

typedef struct hparse {
    const char *p, *end;
} hparse;

static void skip_ws(hparse *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' ||
                             *h->p == '\r'))
        h->p++;
}

static int accept(hparse *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A quoted string (single or double quotes, no escapes) into buf. */
static int parse_str(hparse *h, char *buf, size_t len)
{
    char q;
    size_t n = 0;
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return 0;
    q = *h->p++;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || n + 1 >= len)
            return 0;
        buf[n++] = *h->p++;
    }
    if (h->p >= h->end)
        return 0;
    h->p++;
    buf[n] = 0;
    return 1;
}

static int parse_word(hparse *h, const char *w)
{
    size_t n = strlen(w);
    skip_ws(h);
    if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
        h->p += n;
        return 1;
    }
    return 0;
}

/* A tuple of non-negative integers: (), (3,), (3, 4), (3, 4,) */
static mn_status parse_shape(hparse *h, int *ndim, int64_t *dims,
                             const char *label, mn_ctx *ctx)
{
    int n = 0;
    if (!accept(h, '('))
        return mn_error(ctx, MN_ERR_PARSE, "%s: npy shape is not a tuple",
                        label);
    for (;;) {
        int64_t v = 0;
        int digits = 0;
        if (accept(h, ')'))
            break;
        skip_ws(h);
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            int d = *h->p++ - '0';
            if (v > (INT64_MAX - d) / 10)
                return mn_error(ctx, MN_ERR_PARSE,
                                "%s: npy dimension %d overflows", label, n);
            v = v * 10 + d;
            digits++;
        }
        if (h->p < h->end && *h->p == 'L') /* Python 2 longs */
            h->p++;
        if (!digits)
            return mn_error(ctx, MN_ERR_PARSE,
                            "%s: npy shape holds a non-integer", label);
        if (n >= MN_MAX_DIMS)
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: npy rank exceeds %d", label, MN_MAX_DIMS);
        dims[n++] = v;
        if (accept(h, ')'))
            break;
        if (!accept(h, ','))
            return mn_error(ctx, MN_ERR_PARSE, "%s: npy shape is malformed",
                            label);
    }
    *ndim = n;
    return MN_OK;
}

static mn_status parse_header(const char *hdr, size_t len, mn_dtype *dt,
                              int *ndim, int64_t *dims, const char *label,
                              mn_ctx *ctx)
{
    hparse h = {hdr, hdr + len};
    int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
    char key[32], descr[32];
    mn_status st;
    if (!accept(&h, '{'))
        return mn_error(ctx, MN_ERR_PARSE, "%s: npy header is not a dict",
                        label);
    for (;;) {
        if (accept(&h, '}'))
            break;
        if (!parse_str(&h, key, sizeof key) || !accept(&h, ':'))
            return mn_error(ctx, MN_ERR_PARSE, "%s: npy header is malformed",
                            label);
        if (!strcmp(key, "descr") && !have_descr) {
            if (!parse_str(&h, descr, sizeof descr))
                return mn_error(ctx, MN_ERR_UNSUPPORTED,
                                "%s: npy descr is not a simple type", label);
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order") && !have_order) {
            if (parse_word(&h, "True"))
                fortran = 1;
            else if (!parse_word(&h, "False"))
                return mn_error(ctx, MN_ERR_PARSE,
                                "%s: npy fortran_order is not a bool", label);
            have_order = 1;
        } else if (!strcmp(key, "shape") && !have_shape) {
            if ((st = parse_shape(&h, ndim, dims, label, ctx)) != MN_OK)
                return st;
            have_shape = 1;
        } else {
            return mn_error(ctx, MN_ERR_PARSE,
                            "%s: npy header has unexpected key '%s'", label,
                            key);
        }
        if (accept(&h, '}'))
            break;
        if (!accept(&h, ','))
            return mn_error(ctx, MN_ERR_PARSE, "%s: npy header is malformed",
                            label);
    }
    skip_ws(&h);
    if (h.p != h.end)
        return mn_error(ctx, MN_ERR_PARSE,
                        "%s: npy header has trailing characters", label);
    if (!have_descr || !have_order || !have_shape)
        return mn_error(ctx, MN_ERR_PARSE,
                        "%s: npy header lacks descr, fortran_order or shape",
                        label);
    if (fortran)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: npy file is in Fortran order; save it C-ordered "
                        "(np.ascontiguousarray)", label);
    *dt = MN_DT_UNDEF;
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        if (!strcmp(descr, descrs[i].descr))
            *dt = descrs[i].dt;
    if (*dt == MN_DT_UNDEF)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: npy dtype '%s' is not supported (little-endian "
                        "numeric types only)", label, descr);
    return MN_OK;
}

/* Reads the fixed preamble: returns the offset of the header text and its
 * length in *hoff, *hlen. `avail` is how many bytes of buf are valid. */
static mn_status parse_preamble(const unsigned char *buf, size_t avail,
                                size_t *hoff, size_t *hlen, const char *label,
                                mn_ctx *ctx)
{
    if (avail < 10 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return mn_error(ctx, MN_ERR_PARSE, "%s: not an npy file (bad magic)",
                        label);
    if (buf[6] == 1) {
        *hoff = 10;
        *hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if (buf[6] == 2 || buf[6] == 3) {
        if (avail < 12)
            return mn_error(ctx, MN_ERR_PARSE, "%s: npy header is truncated",
                            label);
        *hoff = 12;
        *hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
                (size_t)buf[11] << 24;
    } else {
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: npy format version %d.%d is not supported", label,
                        buf[6], buf[7]);
    }
    if (*hlen == 0 || *hlen > NPY_MAX_HEADER)
        return mn_error(ctx, MN_ERR_PARSE, "%s: npy header length %zu is "
                        "out of range", label, *hlen);
    return MN_OK;
}

/* Creates the tensor for a parsed header, checking that `data_bytes` bytes
 * of data follow. */
static mn_status make_tensor(const char *hdr, size_t hlen, size_t data_bytes,
                             mn_tensor **out, const char *label, mn_ctx *ctx)
{
    mn_dtype dt;
    int ndim = 0;
    int64_t dims[MN_MAX_DIMS] = {0};
    size_t n = 1, bytes;
    mn_status st;
    if (!host_is_little_endian())
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: npy loading needs a little-endian host", label);
    if ((st = parse_header(hdr, hlen, &dt, &ndim, dims, label, ctx)) != MN_OK)
        return st;
    for (int i = 0; i < ndim; i++)
        if (!mn_mul_size(n, (size_t)dims[i], &n))
            return mn_error(ctx, MN_ERR_PARSE, "%s: npy shape overflows",
                            label);
    if (!mn_mul_size(n, mn_dtype_size(dt), &bytes))
        return mn_error(ctx, MN_ERR_PARSE, "%s: npy shape overflows", label);
    if (bytes != data_bytes)
        return mn_error(ctx, MN_ERR_PARSE,
                        "%s: npy shape needs %zu data bytes, file has %zu",
                        label, bytes, data_bytes);
    if ((st = mn_tensor_create(dt, ndim, dims, out, ctx)) != MN_OK)
        return mn_error_prefix(ctx, st, "%s", label);
    return MN_OK;
}

mn_status mn_tensor_load_npy_mem(const void *buf, size_t len, mn_tensor **out,
                                 mn_ctx *ctx)
{
    const unsigned char *b = buf;
    const char *label = "npy buffer";
    size_t hoff = 0, hlen = 0, start;
    mn_status st;
    *out = NULL;
    if (!buf && len)
        return mn_error(ctx, MN_ERR_ARG, "%s: NULL data", label);
    if ((st = parse_preamble(b, len, &hoff, &hlen, label, ctx)) != MN_OK)
        return st;
    if (!mn_add_size(hoff, hlen, &start) || start > len)
        return mn_error(ctx, MN_ERR_PARSE, "%s: npy header is truncated",
                        label);
    if ((st = make_tensor((const char *)b + hoff, hlen, len - start, out, label,
                          ctx)) != MN_OK)
        return st;
    if (len > start)
        memcpy((*out)->data, b + start, len - start);
    return MN_OK;
}

mn_status mn_tensor_load_npy(const char *path, mn_tensor **out, mn_ctx *ctx)
{
    unsigned char pre[12];
    char *hdr = NULL;
    size_t hoff = 0, hlen = 0, got, start, fsize;
    struct stat sb;
    mn_status st;
    FILE *f;
    *out = NULL;
    f = fopen(path, "rb");
    if (!f)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = mn_error(ctx, MN_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    fsize = (size_t)sb.st_size;
    got = fread(pre, 1, sizeof pre, f);
    if ((st = parse_preamble(pre, got, &hoff, &hlen, path, ctx)) != MN_OK)
        goto fail;
    if (!mn_add_size(hoff, hlen, &start) || start > fsize) {
        st = mn_error(ctx, MN_ERR_PARSE, "%s: npy header is truncated", path);
        goto fail;
    }
    hdr = mn_malloc(hlen);
    if (!hdr) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory", path);
        goto fail;
    }
    if (fseek(f, (long)hoff, SEEK_SET) != 0 || fread(hdr, 1, hlen, f) != hlen) {
        st = mn_error(ctx, MN_ERR_IO, "%s: cannot read npy header", path);
        goto fail;
    }
    if ((st = make_tensor(hdr, hlen, fsize - start, out, path, ctx)) != MN_OK)
        goto fail;
    got = fsize - start;
    if (got && fread((*out)->data, 1, got, f) != got) {
        st = mn_error(ctx, MN_ERR_IO, "%s: short read of npy data", path);
        goto fail;
    }
    free(hdr);
    fclose(f);
    return MN_OK;
fail:
    mn_tensor_destroy(*out);
    *out = NULL;
    free(hdr);
    fclose(f);
    return st;
}

/* ---- saving ---- */

static const char *descr_of(mn_dtype dt)
{
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        if (descrs[i].dt == dt)
            return descrs[i].descr;
    return NULL;
}

/* Builds the padded header (preamble included) into buf; returns its total
 * length, a multiple of 64, or 0 when it does not fit. */
static size_t build_header(const mn_tensor *t, const char *descr, char *buf,
                           size_t cap)
{
    char dict[MN_MAX_DIMS * 24 + 128];
    size_t n, total, hoff;
    int k = snprintf(dict, sizeof dict,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < t->ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld%s",
                      (long long)t->dims[i],
                      t->ndim == 1 ? "," : i + 1 < t->ndim ? ", " : "");
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    n = (size_t)k;
    hoff = n + 1 + 10 > 65535 ? 12 : 10;
    total = (hoff + n + 1 + 63) / 64 * 64; /* +1 for the closing '\n' */
    if (total > cap)
        return 0;
    memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
    buf[6] = hoff == 10 ? 1 : 2;
    buf[7] = 0;
    size_t hlen = total - hoff;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)((hlen >> 8) & 0xff);
    if (hoff == 12) {
        buf[10] = (char)((hlen >> 16) & 0xff);
        buf[11] = (char)((hlen >> 24) & 0xff);
    }
    memcpy(buf + hoff, dict, n);
    memset(buf + hoff + n, ' ', total - hoff - n - 1);
    buf[total - 1] = '\n';
    return total;
}

mn_status mn_tensor_save_npy(const char *path, const mn_tensor *t, mn_ctx *ctx)
{
    char hdr[1024], *tmp = NULL;
    const char *descr;
    size_t hl, bytes, plen;
    mn_status st;
    FILE *f = NULL;
    int fd = -1;
    if (!t || t->ndim < 0 || t->ndim > MN_MAX_DIMS || (!t->data &&
                                                       mn_tensor_numel(t)))
        return mn_error(ctx, MN_ERR_ARG, "%s: invalid tensor to save", path);
    descr = descr_of(t->dtype);
    if (!descr || !host_is_little_endian())
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: cannot save %s tensors as npy", path,
                        mn_dtype_name(t->dtype));
    hl = build_header(t, descr, hdr, sizeof hdr);
    if (!hl)
        return mn_error(ctx, MN_ERR_ARG, "%s: npy header too long", path);
    bytes = mn_tensor_nbytes(t);
    plen = strlen(path);
    tmp = mn_malloc(plen + 16);
    if (!tmp)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    fd = mkstemp(tmp);
    if (fd < 0) {
        st = mn_error(ctx, MN_ERR_IO, "%s: cannot create temporary file: %s",
                      path, strerror(errno));
        goto fail;
    }
    /* mkstemp makes 0600; give the file the mode of a plain fopen */
    if (fchmod(fd, 0644) != 0 || !(f = fdopen(fd, "wb"))) {
        st = mn_error(ctx, MN_ERR_IO, "%s: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    if (fwrite(hdr, 1, hl, f) != hl ||
        (bytes && fwrite(t->data, 1, bytes, f) != bytes) || fflush(f) != 0) {
        st = mn_error(ctx, MN_ERR_IO, "%s: write failed: %s", path,
                      strerror(errno));
        goto fail;
    }
    if (fclose(f) != 0) {
        f = NULL;
        st = mn_error(ctx, MN_ERR_IO, "%s: write failed: %s", path,
                      strerror(errno));
        goto fail;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        st = mn_error(ctx, MN_ERR_IO, "%s: cannot rename temporary file: %s",
                      path, strerror(errno));
        goto fail;
    }
    free(tmp);
    return MN_OK;
fail:
    if (f)
        fclose(f);
    if (fd >= 0)
        unlink(tmp);
    free(tmp);
    return st;
}
