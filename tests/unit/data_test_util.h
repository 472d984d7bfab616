/* Helpers shared by the data-set, npy and evaluation tests: files written
 * byte by byte so expected values are known independently of the readers. */
#ifndef MN_DATA_TEST_UTIL_H
#define MN_DATA_TEST_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>
#include "core/graph.h"
#include "ops/ops.h"
#include "test.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* ---- helpers ---- */

static inline const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", mn_test_tmp_dir(), name);
    return buf[k];
}

static inline int write_file(const char *path, const void *p, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        int ok = f && (n == 0 || gzwrite(f, p, (unsigned)n) == (int)n);
        if (f && gzclose(f) != Z_OK)
            ok = 0;
        return ok;
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint8_t pix_at(int i) { return (uint8_t)((i * 37 + 11) % 256); }

/* IDX images file contents: n images of r×c with pixel k = pix_at(k). */
static inline uint8_t *idx_images(uint32_t magic, int n, int r, int c, size_t *len)
{
    size_t np = (size_t)n * r * c;
    uint8_t *b = malloc(16 + np);
    put_be32(b, magic);
    put_be32(b + 4, (uint32_t)n);
    put_be32(b + 8, (uint32_t)r);
    put_be32(b + 12, (uint32_t)c);
    for (size_t i = 0; i < np; i++)
        b[16 + i] = pix_at((int)i);
    *len = 16 + np;
    return b;
}

static inline uint8_t *idx_labels(int n, const uint8_t *lab, size_t *len)
{
    uint8_t *b = malloc(8 + (size_t)n);
    put_be32(b, 0x00000801);
    put_be32(b + 4, (uint32_t)n);
    memcpy(b + 8, lab, (size_t)n);
    *len = 8 + (size_t)n;
    return b;
}

static inline void write_idx_pair(const char *img, const char *lab, int n, int r,
                           int c, const uint8_t *labels, int gz_img,
                           int gz_lab)
{
    size_t li, ll;
    uint8_t *bi = idx_images(0x00000803, n, r, c, &li);
    uint8_t *bl = idx_labels(n, labels, &ll);
    CHECK(write_file(img, bi, li, gz_img));
    CHECK(write_file(lab, bl, ll, gz_lab));
    free(bi);
    free(bl);
}


static inline const char *spec2(const char *kind, const char *a, const char *b)
{
    static char spec_buf[2048];
    snprintf(spec_buf, sizeof spec_buf, "%s%s%s%s", kind, a, b ? "," : "",
             b ? b : "");
    return spec_buf;
}

static inline void save_f32(const char *path, int ndim, const int64_t *dims,
                     float base)
{
    mn_ctx ctx = {{0}};
    mn_tensor *t = NULL;
    CHECK_OK(mn_tensor_create(MN_DT_F32, ndim, dims, &t, &ctx), &ctx);
    if (!t)
        return;
    for (int64_t i = 0; i < mn_tensor_numel(t); i++)
        ((float *)t->data)[i] = base + 0.5f * (float)i;
    CHECK_OK(mn_tensor_save_npy(path, t, &ctx), &ctx);
    mn_tensor_destroy(t);
}

static inline void save_labels(const char *path, mn_dtype dt, int n,
                        const int64_t *v)
{
    mn_ctx ctx = {{0}};
    mn_tensor *t = NULL;
    CHECK_OK(mn_tensor_create(dt, 1, (int64_t[]){n}, &t, &ctx), &ctx);
    if (!t)
        return;
    for (int i = 0; i < n; i++) {
        if (dt == MN_DT_I64)
            ((int64_t *)t->data)[i] = v[i];
        else
            ((int32_t *)t->data)[i] = (int32_t)v[i];
    }
    CHECK_OK(mn_tensor_save_npy(path, t, &ctx), &ctx);
    mn_tensor_destroy(t);
}

#endif
