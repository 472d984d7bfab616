/* ImageNet-style image folders as a data set reader (see dataset.h):
 * DIR/<class>/<image>.png|.jpg|.jpeg, classes and files sorted by name
 * (bytewise), labels are class indices. Images are decoded lazily, one per
 * sample, with libpng's simplified API and libjpeg(-turbo), into a buffer
 * the reader reuses; a file that does not decode is an error naming it. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include "io/dataset.h"

/* Largest decoded image accepted (bytes); guards against headers that claim
 * gigapixel images in a few bytes of file. */
#define FOLDER_MAX_IMAGE_BYTES ((size_t)1 << 28)

typedef struct folder_item {
    char *path;
    int label;
} folder_item;

typedef struct folder_data {
    folder_item *items;
    size_t n, cap;
    uint8_t *buf; /* decoded pixels of the last sample (HWC) */
    size_t buf_cap;
} folder_data;

/* ---- directory listing ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
                   !strcasecmp(dot, ".jpeg"));
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = mn_malloc(la + lb + 2);
    if (p) {
        memcpy(p, a, la);
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
    }
    return p;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Sorted names in dir: subdirectories (want_dirs) or image files. Hidden
 * entries are skipped. */
static mn_status list_dir(const char *dir, int want_dirs, char ***out,
                          size_t *n_out, mn_ctx *ctx)
{
    DIR *dp = opendir(dir);
    struct dirent *e;
    char **names = NULL, *full = NULL;
    size_t n = 0, cap = 0;
    mn_status st = MN_OK;
    *out = NULL;
    *n_out = 0;
    if (!dp)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open directory: %s", dir,
                        strerror(errno));
    while ((e = readdir(dp)) != NULL) {
        struct stat sb;
        if (e->d_name[0] == '.' || (!want_dirs && !is_image_name(e->d_name)))
            continue;
        if (!(full = join(dir, e->d_name))) {
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
            goto fail;
        }
        if (stat(full, &sb) != 0 ||
            (want_dirs ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))) {
            free(full);
            full = NULL;
            continue;
        }
        free(full);
        full = NULL;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = mn_realloc(names, ncap * sizeof *nn);
            if (!nn) {
                st = mn_error(ctx, MN_ERR_OOM, "out of memory");
                goto fail;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = mn_strdup(e->d_name))) {
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
            goto fail;
        }
        n++;
    }
    closedir(dp);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *n_out = n;
    return MN_OK;
fail:
    closedir(dp);
    free_names(names, n);
    return st;
}

/* ---- decoding ---- */

static mn_status grow_buf(folder_data *d, const char *path, int c, size_t h,
                          size_t w, mn_ctx *ctx)
{
    size_t bytes;
    if (!mn_mul_size(h, w, &bytes) || !mn_mul_size(bytes, (size_t)c, &bytes) ||
        bytes > FOLDER_MAX_IMAGE_BYTES || h == 0 || w == 0)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: image size %zux%zu is out of range", path, w, h);
    if (bytes > d->buf_cap) {
        uint8_t *nb = mn_realloc(d->buf, bytes);
        if (!nb)
            return mn_error(ctx, MN_ERR_OOM, "%s: out of memory", path);
        d->buf = nb;
        d->buf_cap = bytes;
    }
    return MN_OK;
}

/* PNG → 8-bit gray, gray+alpha, RGB or RGBA as stored. pixels NULL: header
 * only. */
static mn_status png_decode(folder_data *d, const char *path, mn_ds_image *img,
                            int header_only, mn_ctx *ctx)
{
    png_image im;
    mn_status st;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return mn_error(ctx, MN_ERR_PARSE, "%s: bad PNG image: %s", path,
                        im.message);
    im.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
    img->c = (int)PNG_IMAGE_PIXEL_CHANNELS(im.format);
    img->h = (int)im.height;
    img->w = (int)im.width;
    img->interleaved = 1;
    if ((st = grow_buf(d, path, img->c, im.height, im.width, ctx)) != MN_OK ||
        header_only) {
        png_image_free(&im);
        return st;
    }
    if (!png_image_finish_read(&im, NULL, d->buf, 0, NULL))
        return mn_error(ctx, MN_ERR_PARSE, "%s: bad PNG image: %s", path,
                        im.message);
    img->pix = d->buf;
    return MN_OK;
}

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_err_exit(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings are silent (the library never prints), except a truncated file,
 * which libjpeg would otherwise pad with gray. */
static void jpeg_err_emit(j_common_ptr c, int level)
{
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF)
        jpeg_err_exit(c);
}

static void jpeg_err_output(j_common_ptr c) { (void)c; }

/* Runs after the header is read; kept apart from the setjmp frame so no
 * local of that frame changes between setjmp and a longjmp. */
static mn_status jpeg_body(folder_data *d, const char *path,
                           struct jpeg_decompress_struct *ci, mn_ds_image *img,
                           int header_only, mn_ctx *ctx)
{
    mn_status st;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE:
        ci->out_color_space = JCS_GRAYSCALE;
        img->c = 1;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        ci->out_color_space = JCS_RGB;
        img->c = 3;
        break;
    default:
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "%s: JPEG colour space %d (CMYK?) is not supported",
                        path, (int)ci->jpeg_color_space);
    }
    img->h = (int)ci->image_height;
    img->w = (int)ci->image_width;
    img->interleaved = 1;
    if ((st = grow_buf(d, path, img->c, ci->image_height, ci->image_width,
                       ctx)) != MN_OK || header_only)
        return st;
    jpeg_start_decompress(ci);
    if (ci->output_width != ci->image_width ||
        ci->output_height != ci->image_height ||
        ci->output_components != img->c)
        return mn_error(ctx, MN_ERR_PARSE, "%s: unexpected JPEG output shape",
                        path);
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = d->buf + (size_t)ci->output_scanline *
                                    ci->output_width * (size_t)img->c;
        if (jpeg_read_scanlines(ci, &row, 1) != 1)
            return mn_error(ctx, MN_ERR_PARSE, "%s: JPEG decoding stalled",
                            path);
    }
    jpeg_finish_decompress(ci);
    img->pix = d->buf;
    return MN_OK;
}

static mn_status jpeg_decode(folder_data *d, const char *path,
                             mn_ds_image *img, int header_only, mn_ctx *ctx)
{
    struct jpeg_decompress_struct ci;
    jpeg_err err;
    mn_status st;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_err_exit;
    err.pub.emit_message = jpeg_err_emit;
    err.pub.output_message = jpeg_err_output;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return mn_error(ctx, MN_ERR_PARSE, "%s: bad JPEG image: %s", path,
                        err.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    st = jpeg_body(d, path, &ci, img, header_only, ctx);
    jpeg_destroy_decompress(&ci);
    fclose(f);
    return st;
}

static mn_status decode(folder_data *d, const char *path, mn_ds_image *img,
                        int header_only, mn_ctx *ctx)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strcasecmp(dot, ".png"))
        return png_decode(d, path, img, header_only, ctx);
    return jpeg_decode(d, path, img, header_only, ctx);
}

/* ---- reader ---- */

static mn_status folder_image(void *impl, int64_t i, mn_ds_image *img,
                              mn_ctx *ctx)
{
    folder_data *d = impl;
    return decode(d, d->items[i].path, img, 0, ctx);
}

static int64_t folder_label(const void *impl, int64_t i)
{
    return ((const folder_data *)impl)->items[i].label;
}

static void folder_destroy(void *impl)
{
    folder_data *d = impl;
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->items[i].path);
    free(d->items);
    free(d->buf);
    free(d);
}

static const mn_ds_reader_vt folder_vt = {folder_image, folder_label,
                                          folder_destroy};

static mn_status add_class(folder_data *d, const char *cdir, int label,
                           mn_ctx *ctx)
{
    char **files = NULL;
    size_t nf = 0;
    mn_status st = list_dir(cdir, 0, &files, &nf, ctx);
    if (st != MN_OK)
        return st;
    for (size_t k = 0; k < nf; k++) {
        if (d->n == d->cap) {
            size_t ncap = d->cap ? d->cap * 2 : 256;
            folder_item *ni = mn_realloc(d->items, ncap * sizeof *ni);
            if (!ni) {
                st = mn_error(ctx, MN_ERR_OOM, "out of memory");
                goto done;
            }
            d->items = ni;
            d->cap = ncap;
        }
        if (!(d->items[d->n].path = join(cdir, files[k]))) {
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
            goto done;
        }
        d->items[d->n++].label = label;
    }
done:
    free_names(files, nf);
    return st;
}

mn_status mn_ds_folder_open(const char *dir, mn_ds_reader *out, mn_ctx *ctx)
{
    char **classes = NULL, *cdir = NULL;
    size_t nc = 0;
    folder_data *d;
    mn_ds_image first;
    mn_status st;
    memset(out, 0, sizeof *out);
    d = mn_calloc(1, sizeof *d);
    if (!d)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    if ((st = list_dir(dir, 1, &classes, &nc, ctx)) != MN_OK)
        goto fail;
    if (nc == 0 || nc > INT32_MAX) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s: no class subdirectories (expected DIR/<class>/"
                      "<image>.png|.jpg)", dir);
        goto fail;
    }
    for (size_t k = 0; k < nc; k++) {
        if (!(cdir = join(dir, classes[k]))) {
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
            goto fail;
        }
        if ((st = add_class(d, cdir, (int)k, ctx)) != MN_OK)
            goto fail;
        free(cdir);
        cdir = NULL;
    }
    if (d->n == 0) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "%s: no .png/.jpg/.jpeg images in its class folders",
                      dir);
        goto fail;
    }
    /* the first image sets the natural sample shape */
    if ((st = decode(d, d->items[0].path, &first, 1, ctx)) != MN_OK)
        goto fail;
    free_names(classes, nc);
    out->vt = &folder_vt;
    out->impl = d;
    out->n = (int64_t)d->n;
    out->classes = (int)nc;
    out->c = first.c >= 3 ? 3 : 1;
    out->h = first.h;
    out->w = first.w;
    return MN_OK;
fail:
    free(cdir);
    free_names(classes, nc);
    folder_destroy(d);
    return st;
}
