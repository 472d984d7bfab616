/* Tests of tensor files (.npy), data set readers (IDX, Fashion-MNIST,
 * CIFAR-10, npy, image folders), preprocessing and accuracy evaluation.
 * Every input is written here, byte by byte, so expected values are known
 * independently of the readers. */
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

static const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", mn_test_tmp_dir(), name);
    return buf[k];
}

static int write_file(const char *path, const void *p, size_t n, int gz)
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

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t pix_at(int i) { return (uint8_t)((i * 37 + 11) % 256); }

/* IDX images file contents: n images of r×c with pixel k = pix_at(k). */
static uint8_t *idx_images(uint32_t magic, int n, int r, int c, size_t *len)
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

static uint8_t *idx_labels(int n, const uint8_t *lab, size_t *len)
{
    uint8_t *b = malloc(8 + (size_t)n);
    put_be32(b, 0x00000801);
    put_be32(b + 4, (uint32_t)n);
    memcpy(b + 8, lab, (size_t)n);
    *len = 8 + (size_t)n;
    return b;
}

static void write_idx_pair(const char *img, const char *lab, int n, int r,
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

static char spec_buf[2048];
static const char *spec2(const char *kind, const char *a, const char *b)
{
    snprintf(spec_buf, sizeof spec_buf, "%s%s%s%s", kind, a, b ? "," : "",
             b ? b : "");
    return spec_buf;
}

/* ---- IDX ---- */

TEST(data_idx_plain_and_gz_exact_pixels)
{
    const uint8_t lab[3] = {2, 0, 1};
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    float x[3 * 20];
    int64_t y[3];
    int c, h, w;
    for (int variant = 0; variant < 3; variant++) {
        /* plain+gz, gz+plain, gz+gz */
        write_idx_pair(tpath("a-img"), tpath("a-lab"), 3, 4, 5, lab,
                       variant != 0, variant != 1);
        CHECK_OK(mn_dataset_open(spec2("idx:", tpath("a-img"), tpath("a-lab")),
                                 NULL, &d, &ctx), &ctx);
        if (!d)
            return;
        CHECK_EQ_INT(mn_dataset_size(d), 3);
        CHECK_EQ_INT(mn_dataset_num_classes(d), 3);
        mn_dataset_sample_shape(d, &c, &h, &w);
        CHECK_EQ_INT(c, 1);
        CHECK_EQ_INT(h, 4);
        CHECK_EQ_INT(w, 5);
        CHECK_OK(mn_dataset_read(d, 0, 3, x, y, &ctx), &ctx);
        for (int i = 0; i < 60; i++)
            CHECK_NEAR(x[i], (float)pix_at(i) / 255.0f, 0);
        for (int i = 0; i < 3; i++)
            CHECK_EQ_INT(y[i], lab[i]);
        /* a window in the middle */
        CHECK_OK(mn_dataset_read(d, 1, 2, x, y, &ctx), &ctx);
        CHECK_NEAR(x[0], pix_at(20) / 255.0f, 0);
        CHECK_NEAR(x[39], pix_at(59) / 255.0f, 0);
        CHECK_EQ_INT(y[0], 0);
        CHECK_EQ_INT(y[1], 1);
        /* bounds */
        CHECK(mn_dataset_read(d, 2, 2, x, y, &ctx) == MN_ERR_ARG);
        CHECK(mn_dataset_read(d, -1, 1, x, y, &ctx) == MN_ERR_ARG);
        CHECK(mn_dataset_read(d, 1, INT64_MAX, x, y, &ctx) == MN_ERR_ARG);
        CHECK_OK(mn_dataset_read(d, 3, 0, x, NULL, &ctx), &ctx);
        mn_dataset_destroy(d);
        d = NULL;
    }
}

TEST(data_idx_normalisation_and_limit)
{
    const uint8_t lab[3] = {2, 0, 1};
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    mn_data_opts o = {.n_mean = 1, .mean = {0.25f}, .n_std = 1,
                      .std = {0.5f}, .limit = 2};
    float x[3 * 20];
    write_idx_pair(tpath("b-img"), tpath("b-lab"), 3, 4, 5, lab, 1, 1);
    CHECK_OK(mn_dataset_open(spec2("idx:", tpath("b-img"), tpath("b-lab")), &o,
                             &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_EQ_INT(mn_dataset_size(d), 2);
    CHECK(mn_dataset_read(d, 0, 3, x, NULL, &ctx) == MN_ERR_ARG);
    CHECK_OK(mn_dataset_read(d, 0, 2, x, NULL, &ctx), &ctx);
    for (int i = 0; i < 40; i++)
        CHECK_NEAR(x[i], ((double)pix_at(i) / 255.0 - 0.25) / 0.5, 1e-6);
    mn_dataset_destroy(d);

    /* three means for one channel is an error; so is std 0 */
    o.n_mean = 3;
    CHECK(mn_dataset_open(spec_buf, &o, &d, &ctx) == MN_ERR_ARG);
    CHECK(d == NULL);
    CHECK(strstr(ctx.msg, "mean") != NULL);
    o.n_mean = 1;
    o.std[0] = 0;
    CHECK(mn_dataset_open(spec_buf, &o, &d, &ctx) == MN_ERR_ARG);
    /* 1-channel data as 3 channels replicates; resize 4x5 → 8x10 */
    mn_data_opts o3 = {.channels = 3, .height = 8, .width = 10};
    float big[3 * 80];
    CHECK_OK(mn_dataset_open(spec_buf, &o3, &d, &ctx), &ctx);
    if (!d)
        return;
    int c, h, w;
    mn_dataset_sample_shape(d, &c, &h, &w);
    CHECK(c == 3 && h == 8 && w == 10);
    CHECK_OK(mn_dataset_read(d, 0, 1, big, NULL, &ctx), &ctx);
    for (int k = 0; k < 80; k++) {
        CHECK_NEAR(big[k], big[80 + k], 0);
        CHECK_NEAR(big[k], big[160 + k], 0);
    }
    /* 2× upsampling with half-pixel centres: output (0,0) is source (0,0);
     * output (1,1) sits at source (0.25, 0.25) */
    {
        double p00 = pix_at(0), p01 = pix_at(1), p10 = pix_at(5),
               p11 = pix_at(6);
        double want = 0.75 * (0.75 * p00 + 0.25 * p01) +
                      0.25 * (0.75 * p10 + 0.25 * p11);
        CHECK_NEAR(big[0], p00 / 255.0, 1e-6);
        CHECK_NEAR(big[1 * 10 + 1], want / 255.0, 1e-5);
        /* last output pixel clamps to the last source pixel */
        CHECK_NEAR(big[79], pix_at(19) / 255.0, 1e-6);
    }
    mn_dataset_destroy(d);
}

TEST(data_idx_errors_name_the_file)
{
    const uint8_t lab[3] = {2, 0, 1};
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    size_t li, ll;
    uint8_t *bi, *bl;
    char img[600], labp[600];
    snprintf(img, sizeof img, "%s", tpath("e-img"));
    snprintf(labp, sizeof labp, "%s", tpath("e-lab"));

    /* wrong magic: a labels file given as images */
    write_idx_pair(img, labp, 3, 4, 5, lab, 0, 0);
    CHECK(mn_dataset_open(spec2("idx:", labp, img), NULL, &d, &ctx) ==
          MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, labp) && strstr(ctx.msg, "magic"));
    CHECK(d == NULL);

    /* truncated, plain and gzipped */
    bi = idx_images(0x00000803, 3, 4, 5, &li);
    for (int gz = 0; gz < 2; gz++) {
        CHECK(write_file(img, bi, li - 1, gz));
        CHECK(mn_dataset_open(spec2("idx:", img, labp), NULL, &d, &ctx) ==
              MN_ERR_PARSE);
        CHECK(strstr(ctx.msg, img) && strstr(ctx.msg, "truncated"));
        /* trailing bytes */
        CHECK(write_file(img, bi, li, gz));
        {
            uint8_t *more = malloc(li + 3);
            memcpy(more, bi, li);
            memset(more + li, 7, 3);
            CHECK(write_file(img, more, li + 3, gz));
            free(more);
        }
        CHECK(mn_dataset_open(spec2("idx:", img, labp), NULL, &d, &ctx) ==
              MN_ERR_PARSE);
        CHECK(strstr(ctx.msg, img) != NULL);
        /* header cut short */
        CHECK(write_file(img, bi, 10, gz));
        CHECK(mn_dataset_open(spec2("idx:", img, labp), NULL, &d, &ctx) ==
              MN_ERR_PARSE);
    }
    /* a header announcing 2^29 images (10 GB) in a tiny gzip file */
    put_be32(bi + 4, 0x20000000u);
    CHECK(write_file(img, bi, li, 1));
    CHECK(mn_dataset_open(spec2("idx:", img, labp), NULL, &d, &ctx) ==
          MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "truncated") != NULL);
    put_be32(bi + 4, 3);
    /* gzip magic followed by garbage */
    {
        uint8_t junk[64] = {0x1f, 0x8b, 8, 0};
        for (int i = 10; i < 64; i++)
            junk[i] = (uint8_t)(i * 91);
        CHECK(write_file(img, junk, sizeof junk, 0));
        CHECK(mn_dataset_open(spec2("idx:", img, labp), NULL, &d, &ctx) ==
              MN_ERR_PARSE);
        CHECK(strstr(ctx.msg, img) != NULL);
    }
    /* count mismatch: 3 images, 2 labels */
    CHECK(write_file(img, bi, li, 1));
    bl = idx_labels(2, lab, &ll);
    CHECK(write_file(labp, bl, ll, 0));
    CHECK(mn_dataset_open(spec2("idx:", img, labp), NULL, &d, &ctx) ==
          MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, img) && strstr(ctx.msg, labp));
    CHECK(strstr(ctx.msg, "3") && strstr(ctx.msg, "2"));
    /* missing file */
    CHECK(mn_dataset_open(spec2("idx:", img, tpath("nope")), NULL, &d, &ctx) ==
          MN_ERR_IO);
    CHECK(strstr(ctx.msg, "nope") != NULL);
    free(bi);
    free(bl);
}

TEST(data_spec_errors_name_the_spec)
{
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    CHECK(mn_dataset_open("foo", NULL, &d, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "'foo'") &&
          strstr(ctx.msg, "expected fashion-mnist, idx:, cifar10:, npy:, "
                          "folder:"));
    CHECK(mn_dataset_open("fashion-mnist:val", NULL, &d, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "fashion-mnist:val") != NULL);
    CHECK(mn_dataset_open("idx:only-one", NULL, &d, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "idx:only-one") != NULL);
    CHECK(mn_dataset_open("npy:", NULL, &d, &ctx) == MN_ERR_ARG);
    CHECK(mn_dataset_open("cifar10:", NULL, &d, &ctx) == MN_ERR_ARG);
    CHECK(mn_dataset_open("", NULL, &d, &ctx) == MN_ERR_ARG);
    CHECK(d == NULL);
}

/* ---- Fashion-MNIST ---- */

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static void fashion_mnist_splits(void)
{
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    uint8_t hdr[16], first_px[784], first_label = 255;
    float x[784];
    int64_t y[2];
    struct stat sb;
    if (stat(FMNIST "/t10k-labels-idx1-ubyte.gz", &sb) != 0) {
        mn_test_fail(__FILE__, __LINE__, "Fashion-MNIST not at " FMNIST);
        return;
    }
    /* the expected values, read with zlib directly */
    gzFile f = gzopen(FMNIST "/t10k-labels-idx1-ubyte.gz", "rb");
    CHECK(f && gzread(f, hdr, 8) == 8 && gzread(f, &first_label, 1) == 1);
    gzclose(f);
    f = gzopen(FMNIST "/t10k-images-idx3-ubyte.gz", "rb");
    CHECK(f && gzread(f, hdr, 16) == 16 && gzread(f, first_px, 784) == 784);
    gzclose(f);
    CHECK_EQ_INT(first_label, 9);

    CHECK_OK(mn_dataset_open("fashion-mnist", NULL, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_EQ_INT(mn_dataset_size(d), 10000);
    CHECK_EQ_INT(mn_dataset_num_classes(d), 10);
    CHECK_OK(mn_dataset_read(d, 0, 1, x, y, &ctx), &ctx);
    CHECK_EQ_INT(y[0], first_label);
    for (int i = 0; i < 784; i++)
        CHECK_NEAR(x[i], first_px[i] / 255.0f, 0);
    mn_dataset_destroy(d);

    CHECK_OK(mn_dataset_open("fashion-mnist:test", NULL, &d, &ctx), &ctx);
    CHECK(d && mn_dataset_size(d) == 10000);
    mn_dataset_destroy(d);

    long before = rss_kb();
    CHECK_OK(mn_dataset_open("fashion-mnist:train", NULL, &d, &ctx), &ctx);
    long after = rss_kb();
    if (!d)
        return;
    CHECK_EQ_INT(mn_dataset_size(d), 60000);
    /* 47 MB of pixels; allow 12 MB on top for labels and allocator slack */
    if (getenv("MINNOW_SAN") == NULL && before > 0)
        CHECK(after - before < (47040000 + 12000000) / 1024);
    CHECK_OK(mn_dataset_read(d, 59999, 1, x, y, &ctx), &ctx);
    CHECK(y[0] >= 0 && y[0] < 10);
    mn_dataset_destroy(d);
}

TEST(data_fashion_mnist_splits)
{
    const char *old = getenv("MINNOW_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    unsetenv("MINNOW_DATA_DIR");
    fashion_mnist_splits();
    if (saved)
        setenv("MINNOW_DATA_DIR", saved, 1);
    free(saved);
}

TEST(data_fashion_mnist_data_dir_override)
{
    const uint8_t lab[2] = {9, 3}, bad[2] = {10, 3};
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/fm", mn_test_tmp_dir());
    mkdir(dir, 0755);
    write_idx_pair(tpath("fm/t10k-images-idx3-ubyte.gz"),
                   tpath("fm/t10k-labels-idx1-ubyte.gz"), 2, 3, 3, lab, 1, 1);
    const char *old = getenv("MINNOW_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("MINNOW_DATA_DIR", dir, 1);
    CHECK_OK(mn_dataset_open("fashion-mnist:test", NULL, &d, &ctx), &ctx);
    CHECK(d && mn_dataset_size(d) == 2 && mn_dataset_num_classes(d) == 10);
    mn_dataset_destroy(d);
    d = NULL;
    /* a label of 10 does not fit Fashion-MNIST's 10 classes */
    write_idx_pair(tpath("fm/t10k-images-idx3-ubyte.gz"),
                   tpath("fm/t10k-labels-idx1-ubyte.gz"), 2, 3, 3, bad, 1, 1);
    CHECK(mn_dataset_open("fashion-mnist", NULL, &d, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "label 10") != NULL);
    /* the training split is absent here */
    CHECK(mn_dataset_open("fashion-mnist:train", NULL, &d, &ctx) == MN_ERR_IO);
    CHECK(strstr(ctx.msg, "train-images") != NULL);
    if (saved) {
        setenv("MINNOW_DATA_DIR", saved, 1);
        free(saved);
    } else {
        unsetenv("MINNOW_DATA_DIR");
    }
}

/* ---- CIFAR-10 ---- */

static uint8_t cifar_px(int rec, int k) { return (uint8_t)(rec * 13 + k * 7); }

static void write_cifar(const char *path, int n, int first_rec, int bad_label)
{
    size_t len = (size_t)n * 3073;
    uint8_t *b = malloc(len);
    for (int r = 0; r < n; r++) {
        b[(size_t)r * 3073] = (uint8_t)((first_rec + r) % 10);
        for (int k = 0; k < 3072; k++)
            b[(size_t)r * 3073 + 1 + k] = cifar_px(first_rec + r, k);
    }
    if (bad_label)
        b[(size_t)(n - 1) * 3073] = 10;
    CHECK(write_file(path, b, len, 0));
    free(b);
}

TEST(data_cifar10_synthetic)
{
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    char dir[600], spec[700];
    static float x[10 * 3072];
    int64_t y[10];
    snprintf(dir, sizeof dir, "%s/cifar", mn_test_tmp_dir());
    mkdir(dir, 0755);
    write_cifar(tpath("cifar/test_batch.bin"), 3, 100, 0);
    for (int k = 1; k <= 5; k++) {
        char name[64];
        snprintf(name, sizeof name, "cifar/data_batch_%d.bin", k);
        write_cifar(tpath(name), 2, 2 * (k - 1), 0);
    }
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    CHECK_OK(mn_dataset_open(spec, NULL, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_EQ_INT(mn_dataset_size(d), 3);
    CHECK_EQ_INT(mn_dataset_num_classes(d), 10);
    CHECK_OK(mn_dataset_read(d, 0, 3, x, y, &ctx), &ctx);
    for (int r = 0; r < 3; r++) {
        CHECK_EQ_INT(y[r], (100 + r) % 10);
        /* planes R, G, B map to channels 0, 1, 2 */
        for (int k = 0; k < 3072; k += 97)
            CHECK_NEAR(x[r * 3072 + k], cifar_px(100 + r, k) / 255.0f, 0);
    }
    mn_dataset_destroy(d);

    /* training split: 5 files in order; per-channel mean/std; gray */
    snprintf(spec, sizeof spec, "cifar10:%s:train", dir);
    mn_data_opts o = {.n_mean = 3, .mean = {0.1f, 0.2f, 0.3f}, .n_std = 3,
                      .std = {0.5f, 0.25f, 2.0f}};
    CHECK_OK(mn_dataset_open(spec, &o, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_EQ_INT(mn_dataset_size(d), 10);
    CHECK_OK(mn_dataset_read(d, 0, 10, x, y, &ctx), &ctx);
    for (int r = 0; r < 10; r++) {
        CHECK_EQ_INT(y[r], r);
        for (int ch = 0; ch < 3; ch++) {
            int k = ch * 1024 + 5 * 32 + 7;
            CHECK_NEAR(x[r * 3072 + k],
                       (cifar_px(r, k) / 255.0 - o.mean[ch]) / o.std[ch], 1e-5);
        }
    }
    mn_dataset_destroy(d);

    mn_data_opts g = {.channels = 1, .height = 16, .width = 16};
    snprintf(spec, sizeof spec, "cifar10:%s:test", dir);
    CHECK_OK(mn_dataset_open(spec, &g, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_OK(mn_dataset_read(d, 1, 1, x, y, &ctx), &ctx);
    /* 2× downsampling with half-pixel centres averages each 2×2 block;
     * gray averages the three channels */
    for (int oy = 0; oy < 16; oy += 5)
        for (int ox = 0; ox < 16; ox += 3) {
            double sum = 0;
            for (int ch = 0; ch < 3; ch++)
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        sum += cifar_px(101, ch * 1024 + (2 * oy + dy) * 32 +
                                                 2 * ox + dx);
            CHECK_NEAR(x[oy * 16 + ox], sum / 12.0 / 255.0, 1e-5);
        }
    mn_dataset_destroy(d);

    /* bad label, bad size */
    write_cifar(tpath("cifar/test_batch.bin"), 2, 0, 1);
    CHECK(mn_dataset_open(spec, NULL, &d, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "test_batch.bin") && strstr(ctx.msg, "label 10"));
    {
        uint8_t junk[3000] = {0};
        CHECK(write_file(tpath("cifar/test_batch.bin"), junk, sizeof junk, 0));
    }
    CHECK(mn_dataset_open(spec, NULL, &d, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "test_batch.bin") != NULL);
    CHECK(d == NULL);
}

/* ---- npy ---- */

TEST(npy_round_trip_dtypes)
{
    static const mn_dtype dts[] = {MN_DT_F32, MN_DT_F64, MN_DT_I64, MN_DT_I32,
                                   MN_DT_I16, MN_DT_U16, MN_DT_U8,  MN_DT_I8,
                                   MN_DT_BOOL, MN_DT_F16};
    static const int64_t shapes[3][3] = {{2, 3, 4}, {5, 0, 0}, {0, 0, 0}};
    static const int ranks[3] = {3, 1, 0};
    mn_ctx ctx = {{0}};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++)
        for (int s = 0; s < 3; s++) {
            mn_tensor *t = NULL, *u = NULL, *v = NULL;
            CHECK_OK(mn_tensor_create(dts[k], ranks[s], shapes[s], &t, &ctx),
                     &ctx);
            if (!t)
                return;
            size_t nb = mn_tensor_nbytes(t);
            for (size_t i = 0; i < nb; i++)
                ((uint8_t *)t->data)[i] =
                    dts[k] == MN_DT_BOOL ? (uint8_t)(i % 2)
                                         : (uint8_t)(i * 29 + k);
            const char *p = tpath("rt.npy");
            CHECK_OK(mn_tensor_save_npy(p, t, &ctx), &ctx);
            CHECK_OK(mn_tensor_load_npy(p, &u, &ctx), &ctx);
            if (u) {
                CHECK_EQ_INT(u->dtype, dts[k]);
                CHECK_EQ_INT(u->ndim, ranks[s]);
                for (int i = 0; i < ranks[s]; i++)
                    CHECK_EQ_INT(u->dims[i], shapes[s][i]);
                CHECK(mn_tensor_nbytes(u) == nb &&
                      !memcmp(u->data, t->data, nb));
            }
            /* the same bytes through the memory loader; header alignment */
            FILE *f = fopen(p, "rb");
            uint8_t buf[512];
            size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
            if (f)
                fclose(f);
            size_t hl = 10 + (size_t)buf[8] + ((size_t)buf[9] << 8);
            CHECK_EQ_INT(hl % 64, 0);
            CHECK_EQ_INT(len, hl + nb);
            CHECK_EQ_INT(buf[hl - 1], '\n');
            CHECK_OK(mn_tensor_load_npy_mem(buf, len, &v, &ctx), &ctx);
            CHECK(v && mn_tensor_nbytes(v) == nb &&
                  !memcmp(v->data, t->data, nb));
            mn_tensor_destroy(t);
            mn_tensor_destroy(u);
            mn_tensor_destroy(v);
        }
    /* the header numpy would write */
    {
        mn_tensor *t = NULL;
        char buf[128];
        CHECK_OK(mn_tensor_create(MN_DT_F32, 2, (int64_t[]){2, 3}, &t, &ctx),
                 &ctx);
        CHECK_OK(mn_tensor_save_npy(tpath("h.npy"), t, &ctx), &ctx);
        FILE *f = fopen(tpath("h.npy"), "rb");
        CHECK(f && fread(buf, 1, 128, f) == 128);
        if (f)
            fclose(f);
        CHECK(!memcmp(buf, "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', "
                           "'fortran_order': False, 'shape': (2, 3), }",
                      10 + 59));
        mn_tensor_destroy(t);
    }
}

/* A v1 npy image with the given dict and `data` bytes of payload. */
static size_t npy_bytes(uint8_t *buf, const char *dict, size_t data)
{
    size_t n = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(n & 0xff);
    buf[9] = (uint8_t)(n >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, 0x3f, data);
    return 10 + n + data;
}

TEST(npy_hostile_headers)
{
    static const struct {
        const char *dict;
        size_t data;
        mn_status want;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, MN_OK},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7,
         MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9,
         MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8,
         MN_ERR_UNSUPPORTED},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8,
         MN_ERR_UNSUPPORTED},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16,
         MN_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': "
         "(4294967296, 4294967296, 4294967296), }", 8, MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': "
         "(99999999999999999999999,), }", 8, MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': "
         "(1000000000, 1000000000), }", 8, MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': "
         "(1,1,1,1,1,1,1,1,1), }", 4, MN_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8,
         MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False}", 4, MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8,
         MN_ERR_PARSE},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", 8,
         MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8,
         MN_ERR_PARSE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", 8,
         MN_ERR_PARSE},
        {"", 8, MN_ERR_PARSE},
    };
    uint8_t buf[512];
    mn_ctx ctx = {{0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mn_tensor *t = NULL;
        size_t len = npy_bytes(buf, cases[k].dict, cases[k].data);
        mn_status st = mn_tensor_load_npy_mem(buf, len, &t, &ctx);
        if (st != cases[k].want)
            mn_test_fail(__FILE__, __LINE__, "case %zu: status %d, want %d (%s)",
                         k, (int)st, (int)cases[k].want, ctx.msg);
        CHECK((t != NULL) == (st == MN_OK));
        mn_tensor_destroy(t);
        /* the same through a file: the message names it */
        CHECK(write_file(tpath("bad.npy"), buf, len, 0));
        st = mn_tensor_load_npy(tpath("bad.npy"), &t, &ctx);
        CHECK(st == cases[k].want);
        if (st != MN_OK)
            CHECK(strstr(ctx.msg, "bad.npy") != NULL);
        mn_tensor_destroy(t);
    }
    /* bad magic, unknown version, header length beyond the data, and every
     * truncation of a good file */
    size_t len = npy_bytes(buf, cases[0].dict, 8);
    mn_tensor *t = NULL;
    buf[1] = 'X';
    CHECK(mn_tensor_load_npy_mem(buf, len, &t, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "magic") != NULL);
    buf[1] = 'N';
    buf[6] = 9;
    CHECK(mn_tensor_load_npy_mem(buf, len, &t, &ctx) == MN_ERR_UNSUPPORTED);
    buf[6] = 2; /* v2: the 4-byte length now reads as huge */
    CHECK(mn_tensor_load_npy_mem(buf, len, &t, &ctx) == MN_ERR_PARSE);
    buf[6] = 1;
    buf[9] = 0x7f;
    CHECK(mn_tensor_load_npy_mem(buf, len, &t, &ctx) == MN_ERR_PARSE);
    buf[9] = 0;
    for (size_t cut = 0; cut < len; cut++) {
        CHECK(mn_tensor_load_npy_mem(buf, cut, &t, &ctx) != MN_OK);
        CHECK(t == NULL);
    }
    CHECK_OK(mn_tensor_load_npy_mem(buf, len, &t, &ctx), &ctx);
    mn_tensor_destroy(t);
    /* v2 and v3 headers */
    {
        uint8_t b2[256];
        size_t n = strlen(cases[0].dict);
        memcpy(b2, "\x93NUMPY\x03\x00", 8);
        b2[8] = (uint8_t)n;
        b2[9] = b2[10] = b2[11] = 0;
        memcpy(b2 + 12, cases[0].dict, n);
        memset(b2 + 12 + n, 0, 8);
        CHECK_OK(mn_tensor_load_npy_mem(b2, 12 + n + 8, &t, &ctx), &ctx);
        CHECK(t && t->dtype == MN_DT_F32 && t->ndim == 1 && t->dims[0] == 2);
        mn_tensor_destroy(t);
    }
    CHECK(mn_tensor_load_npy(tpath("absent.npy"), &t, &ctx) == MN_ERR_IO);
    CHECK(mn_tensor_save_npy(tpath("nodir/x.npy"), NULL, &ctx) == MN_ERR_ARG);
}

static void save_f32(const char *path, int ndim, const int64_t *dims,
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

static void save_labels(const char *path, mn_dtype dt, int n,
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

TEST(data_npy_source)
{
    const int64_t lab[4] = {1, 0, 4, 2}, neg[4] = {1, -1, 0, 0};
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    float x[24];
    int64_t y[4];
    int c, h, w;
    save_f32(tpath("X.npy"), 4, (int64_t[]){4, 1, 2, 3}, -3.0f);
    for (int v = 0; v < 2; v++) {
        save_labels(tpath("Y.npy"), v ? MN_DT_I32 : MN_DT_I64, 4, lab);
        /* mean/std are not applied to npy data */
        mn_data_opts o = {.n_mean = 1, .mean = {0.5f}, .n_std = 1,
                          .std = {0.1f}};
        CHECK_OK(mn_dataset_open(spec2("npy:", tpath("X.npy"), tpath("Y.npy")),
                                 &o, &d, &ctx), &ctx);
        if (!d)
            return;
        CHECK_EQ_INT(mn_dataset_size(d), 4);
        CHECK_EQ_INT(mn_dataset_num_classes(d), 5);
        mn_dataset_sample_shape(d, &c, &h, &w);
        CHECK(c == 1 && h == 2 && w == 3);
        CHECK_OK(mn_dataset_read(d, 1, 3, x, y, &ctx), &ctx);
        for (int i = 0; i < 18; i++)
            CHECK_NEAR(x[i], -3.0f + 0.5f * (float)(i + 6), 0);
        CHECK(y[0] == 0 && y[1] == 4 && y[2] == 2);
        mn_dataset_destroy(d);
        d = NULL;
    }
    /* unlabelled */
    CHECK_OK(mn_dataset_open(spec2("npy:", tpath("X.npy"), NULL), NULL, &d,
                             &ctx), &ctx);
    CHECK(d && mn_dataset_num_classes(d) == 0);
    if (d) {
        CHECK_OK(mn_dataset_read(d, 0, 1, x, y, &ctx), &ctx);
        CHECK_EQ_INT(y[0], -1);
    }
    mn_dataset_destroy(d);
    d = NULL;
    /* wrong size wanted, label count mismatch, negative label, float labels */
    mn_data_opts big = {.height = 4};
    CHECK(mn_dataset_open(spec2("npy:", tpath("X.npy"), NULL), &big, &d,
                          &ctx) == MN_ERR_SHAPE);
    save_labels(tpath("Y3.npy"), MN_DT_I64, 3, lab);
    CHECK(mn_dataset_open(spec2("npy:", tpath("X.npy"), tpath("Y3.npy")),
                          NULL, &d, &ctx) == MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "Y3.npy") != NULL);
    save_labels(tpath("Yn.npy"), MN_DT_I64, 4, neg);
    CHECK(mn_dataset_open(spec2("npy:", tpath("X.npy"), tpath("Yn.npy")),
                          NULL, &d, &ctx) == MN_ERR_PARSE);
    CHECK(mn_dataset_open(spec2("npy:", tpath("X.npy"), tpath("X.npy")),
                          NULL, &d, &ctx) == MN_ERR_SHAPE);
    CHECK(d == NULL);
}

/* ---- image folders ---- */

static int write_png(const char *path, int w, int h, int c, const uint8_t *px)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = c == 1   ? PNG_FORMAT_GRAY
                : c == 2 ? PNG_FORMAT_GA
                : c == 3 ? PNG_FORMAT_RGB
                         : PNG_FORMAT_RGBA;
    return png_image_write_to_file(&im, path, 0, px, 0, NULL);
}

static int write_jpeg(const char *path, int w, int h, int c, const uint8_t *px)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f) == 0;
}

static void mkdirs(const char *rel)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", mn_test_tmp_dir(), rel);
    mkdir(p, 0755);
}

TEST(data_image_folder)
{
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    char spec[700];
    uint8_t rgb[4 * 3 * 3], gray[4 * 3], flat[4 * 3 * 3], rgba[4 * 3 * 4];
    float x[6 * 3 * 12];
    int64_t y[6];
    int c, h, w;
    for (int i = 0; i < 36; i++) {
        rgb[i] = (uint8_t)(i * 7);
        flat[i] = (uint8_t)(i % 3 == 0 ? 200 : i % 3 == 1 ? 40 : 120);
    }
    for (int i = 0; i < 12; i++)
        gray[i] = (uint8_t)(255 - i * 20);
    for (int i = 0; i < 48; i++)
        rgba[i] = (uint8_t)(i % 4 == 3 ? 0 : i * 5);
    mkdirs("imgs");
    mkdirs("imgs/dog");
    mkdirs("imgs/cat");
    mkdirs("imgs/.hidden");
    CHECK(write_png(tpath("imgs/cat/a.png"), 4, 3, 3, rgb));
    CHECK(write_jpeg(tpath("imgs/cat/b.JPG"), 4, 3, 3, flat));
    CHECK(write_png(tpath("imgs/dog/c.png"), 4, 3, 1, gray));
    CHECK(write_png(tpath("imgs/dog/d.png"), 4, 3, 4, rgba));
    CHECK(write_jpeg(tpath("imgs/dog/e.jpeg"), 4, 3, 1, gray));
    CHECK(write_file(tpath("imgs/dog/notes.txt"), "hi", 2, 0));
    CHECK(write_png(tpath("imgs/.hidden/z.png"), 4, 3, 1, gray));
    snprintf(spec, sizeof spec, "folder:%s", tpath("imgs"));
    CHECK_OK(mn_dataset_open(spec, NULL, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_EQ_INT(mn_dataset_size(d), 5);
    CHECK_EQ_INT(mn_dataset_num_classes(d), 2);
    mn_dataset_sample_shape(d, &c, &h, &w);
    CHECK(c == 3 && h == 3 && w == 4);
    CHECK_OK(mn_dataset_read(d, 0, 4, x, y, &ctx), &ctx);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == 1);
    for (int ch = 0; ch < 3; ch++)
        for (int p = 0; p < 12; p++) {
            /* PNG is lossless: HWC → CHW exactly */
            CHECK_NEAR(x[ch * 12 + p], rgb[p * 3 + ch] / 255.0f, 0);
            /* JPEG at quality 100 of a flat colour: within 2 levels */
            CHECK_NEAR(x[36 + ch * 12 + p], flat[p * 3 + ch] / 255.0f,
                       2.5 / 255);
            /* gray replicated to RGB */
            CHECK_NEAR(x[72 + ch * 12 + p], gray[p] / 255.0f, 0);
            /* RGBA: alpha dropped */
            CHECK_NEAR(x[108 + ch * 12 + p], rgba[p * 4 + ch] / 255.0f, 0);
        }
    mn_dataset_destroy(d);

    /* one channel wanted: colour averages, gray JPEG stays */
    mn_data_opts g = {.channels = 1, .n_mean = 1, .mean = {0.5f}, .n_std = 1,
                      .std = {0.5f}};
    CHECK_OK(mn_dataset_open(spec, &g, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_OK(mn_dataset_read(d, 0, 1, x, y, &ctx), &ctx);
    for (int p = 0; p < 12; p++) {
        double avg = (rgb[3 * p] + rgb[3 * p + 1] + rgb[3 * p + 2]) / 3.0;
        CHECK_NEAR(x[p], (avg / 255.0 - 0.5) / 0.5, 1e-6);
    }
    CHECK_OK(mn_dataset_read(d, 4, 1, x, y, &ctx), &ctx);
    CHECK_EQ_INT(y[0], 1);
    for (int p = 0; p < 12; p++)
        CHECK_NEAR(x[p], (gray[p] / 255.0 - 0.5) / 0.5, 2 * 2.5 / 255);
    mn_dataset_destroy(d);

    /* a bad image fails on read, naming the file */
    CHECK(write_file(tpath("imgs/dog/f.png"), "not a png at all", 16, 0));
    CHECK_OK(mn_dataset_open(spec, NULL, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_EQ_INT(mn_dataset_size(d), 6);
    CHECK(mn_dataset_read(d, 0, 6, x, y, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "f.png") != NULL);
    mn_dataset_destroy(d);
    d = NULL;
    remove(tpath("imgs/dog/f.png"));
    /* a truncated JPEG too */
    {
        FILE *f = fopen(tpath("imgs/dog/e.jpeg"), "rb");
        uint8_t buf[4096];
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        CHECK(n > 200);
        CHECK(write_file(tpath("imgs/dog/e.jpeg"), buf, n - 40, 0));
    }
    CHECK_OK(mn_dataset_open(spec, NULL, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_OK(mn_dataset_read(d, 3, 1, x, y, &ctx), &ctx);
    CHECK(mn_dataset_read(d, 4, 1, x, y, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "e.jpeg") != NULL);
    mn_dataset_destroy(d);
    d = NULL;
    /* empty and missing folders */
    mkdirs("empty");
    mkdirs("empty/a");
    snprintf(spec, sizeof spec, "folder:%s", tpath("empty"));
    CHECK(mn_dataset_open(spec, NULL, &d, &ctx) == MN_ERR_PARSE);
    snprintf(spec, sizeof spec, "folder:%s", tpath("missing"));
    CHECK(mn_dataset_open(spec, NULL, &d, &ctx) == MN_ERR_IO);
    CHECK(strstr(ctx.msg, "missing") != NULL);
}

TEST(data_image_folder_resize)
{
    mn_ctx ctx = {{0}};
    mn_dataset *d = NULL;
    char spec[700];
    /* 2×1 gray [0, 255] resized to width 4: half-pixel centres sample
     * source x = -0.25, 0.25, 0.75, 1.25 → 0, 63.75, 191.25, 255 */
    const uint8_t two[2] = {0, 255};
    const double want[4] = {0, 63.75, 191.25, 255};
    float x[2 * 4 * 3];
    int64_t y;
    mkdirs("rs");
    mkdirs("rs/only");
    CHECK(write_png(tpath("rs/only/g.png"), 2, 1, 1, two));
    snprintf(spec, sizeof spec, "folder:%s", tpath("rs"));
    mn_data_opts o = {.height = 2, .width = 4, .channels = 3};
    CHECK_OK(mn_dataset_open(spec, &o, &d, &ctx), &ctx);
    if (!d)
        return;
    CHECK_OK(mn_dataset_read(d, 0, 1, x, &y, &ctx), &ctx);
    CHECK_EQ_INT(y, 0);
    for (int ch = 0; ch < 3; ch++)
        for (int r = 0; r < 2; r++)
            for (int i = 0; i < 4; i++)
                CHECK_NEAR(x[ch * 8 + r * 4 + i], want[i] / 255.0, 1e-6);
    mn_dataset_destroy(d);
    /* unsupported channel conversion */
    o.channels = 2;
    CHECK(mn_dataset_open(spec, &o, &d, &ctx) == MN_ERR_UNSUPPORTED);
}

/* ---- evaluation ---- */

/* x [N,1,2,2] → Flatten → [N,4] → Gemm(B [4,k], C [k]) → scores [N,k]
 * with score j = x[j] + bias[j] for j < 4 and bias[j] beyond. */
static mn_graph *linear_model(int k, const float *bias, mn_ctx *ctx)
{
    mn_graph *g = NULL;
    int xv, fv, bv, cv, yv, node;
    if (mn_graph_create(&g, ctx) != MN_OK)
        return NULL;
    mn_graph_add_value(g, "x", MN_DT_F32, 4, (int64_t[]){-1, 1, 2, 2}, &xv,
                       ctx);
    mn_graph_add_value(g, "f", MN_DT_F32, -1, NULL, &fv, ctx);
    mn_graph_add_value(g, "B", MN_DT_F32, 2, (int64_t[]){4, k}, &bv, ctx);
    mn_graph_add_value(g, "C", MN_DT_F32, 1, (int64_t[]){k}, &cv, ctx);
    mn_graph_add_value(g, "y", MN_DT_F32, -1, NULL, &yv, ctx);
    mn_tensor_create(MN_DT_F32, 2, (int64_t[]){4, k}, &g->values[bv].init,
                     ctx);
    mn_tensor_create(MN_DT_F32, 1, (int64_t[]){k}, &g->values[cv].init, ctx);
    for (int i = 0; i < 4 && i < k; i++)
        ((float *)g->values[bv].init->data)[i * k + i] = 1;
    for (int j = 0; j < k; j++)
        ((float *)g->values[cv].init->data)[j] = bias[j];
    mn_graph_add_node(g, "flat", "Flatten", "", 13, &xv, 1, &fv, 1, &node, ctx);
    mn_graph_add_node(g, "fc", "Gemm", "", 13, (int[]){fv, bv, cv}, 3, &yv, 1,
                      &node, ctx);
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    g->inputs[0] = xv;
    g->outputs[0] = yv;
    g->n_inputs = g->n_outputs = 1;
    mn_graph_relink(g);
    if (mn_graph_toposort(g, ctx) != MN_OK) {
        mn_graph_destroy(g);
        return NULL;
    }
    return g;
}

static int have_eval_ops(void)
{
    if (mn_op_get(MN_OP_FLATTEN) && mn_op_get(MN_OP_GEMM))
        return 1;
    mn_test_fail(__FILE__, __LINE__, "ops Flatten/Gemm missing");
    return 0;
}

TEST(eval_accuracy_top1_top5_partial_batch)
{
    /* 7 samples of 4 values; the label's rank among 6 scores is chosen:
     * bias puts classes 4, 5 at 0.5 and 0.25 */
    static const float xs[7][4] = {
        {1, 0, 0, 0},     /* best 0 */
        {0, 2, 0, 0},     /* best 1 */
        {0, 0, 0, 3},     /* best 3 */
        {0.1f, 0.2f, 0.3f, 0.4f}, /* best 4 (0.5) */
        {-1, -2, -3, -4}, /* order 4,5,0,1,2,3 */
        {0, 0, 0.9f, 0},  /* best 2 */
        {0.6f, 0, 0, 0},  /* best 0 */
    };
    /* labels: hit, hit, rank 1, hit, rank 5 (class 3), rank 1, rank 3 */
    static const int64_t labs[7] = {0, 1, 4, 4, 3, 4, 1};
    const float bias[6] = {0, 0, 0, 0, 0.5f, 0.25f};
    mn_ctx ctx = {{0}};
    mn_eval_result r;
    mn_graph *g;
    char spec[1200];
    if (!have_eval_ops())
        return;
    save_f32(tpath("ex.npy"), 4, (int64_t[]){7, 1, 2, 2}, 0);
    {
        mn_tensor *t = NULL;
        CHECK_OK(mn_tensor_load_npy(tpath("ex.npy"), &t, &ctx), &ctx);
        if (!t)
            return;
        memcpy(t->data, xs, sizeof xs);
        CHECK_OK(mn_tensor_save_npy(tpath("ex.npy"), t, &ctx), &ctx);
        mn_tensor_destroy(t);
    }
    save_labels(tpath("ey.npy"), MN_DT_I64, 7, labs);
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath("ex.npy"), tpath("ey.npy"));
    g = linear_model(6, bias, &ctx);
    CHECK(g != NULL);
    if (!g)
        return;
    for (int batch = 1; batch <= 8; batch += 2) {
        CHECK_OK(mn_eval_accuracy(g, spec, NULL, batch, 1, &r, &ctx), &ctx);
        CHECK_EQ_INT(r.samples, 7);
        CHECK_NEAR(r.accuracy, 3.0 / 7.0, 1e-12);
        CHECK_NEAR(r.top5, 6.0 / 7.0, 1e-12);
        CHECK(r.seconds >= 0);
    }
    mn_data_opts lim = {.limit = 2};
    CHECK_OK(mn_eval_accuracy(g, spec, &lim, 4, 1, &r, &ctx), &ctx);
    CHECK_EQ_INT(r.samples, 2);
    CHECK_NEAR(r.accuracy, 1.0, 0);
    mn_graph_destroy(g);

    /* 3 classes: no top-5; label 4 exceeds the model's classes */
    g = linear_model(3, bias, &ctx);
    if (!g)
        return;
    CHECK(mn_eval_accuracy(g, spec, NULL, 4, 1, &r, &ctx) == MN_ERR_SHAPE);
    CHECK(strstr(ctx.msg, "label 4") != NULL);
    static const int64_t small[7] = {0, 1, 2, 0, 0, 2, 0};
    save_labels(tpath("ey3.npy"), MN_DT_I64, 7, small);
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath("ex.npy"),
             tpath("ey3.npy"));
    CHECK_OK(mn_eval_accuracy(g, spec, NULL, 4, 1, &r, &ctx), &ctx);
    /* argmax over the first three scores: 0, 1, 0(tie), 2, 0, 2, 0 */
    CHECK_NEAR(r.accuracy, 5.0 / 7.0, 1e-12);
    CHECK(r.top5 < 0);
    mn_graph_destroy(g);
}

TEST(eval_uses_model_mean_std)
{
    /* one 2×2 image with pixels 128, 0, 0, 0 and label 0; bias favours
     * class 2 by 0.6. Raw: scores 0.502, 0, 0.6 → class 2 (miss).
     * With mean 0.5 std 0.5: 0.004, -1, -0.4 → class 0 (hit). */
    const uint8_t lab[1] = {0};
    uint8_t img[16 + 4] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2,
                           128, 0, 0, 0};
    uint8_t labf[9] = {0, 0, 8, 1, 0, 0, 0, 1, 0};
    const float bias[3] = {0, 0, 0.6f};
    mn_ctx ctx = {{0}};
    mn_eval_result r;
    mn_graph *g;
    (void)lab;
    if (!have_eval_ops())
        return;
    CHECK(write_file(tpath("m-img"), img, sizeof img, 0));
    CHECK(write_file(tpath("m-lab"), labf, sizeof labf, 1));
    const char *spec = spec2("idx:", tpath("m-img"), tpath("m-lab"));
    g = linear_model(3, bias, &ctx);
    if (!g)
        return;
    CHECK_OK(mn_eval_accuracy(g, spec, NULL, 8, 1, &r, &ctx), &ctx);
    CHECK_NEAR(r.accuracy, 0, 0);
    CHECK_OK(mn_graph_set_meta(g, "minnow.mean", "0.5", &ctx), &ctx);
    CHECK_OK(mn_graph_set_meta(g, "minnow.std", "0.5", &ctx), &ctx);
    CHECK_OK(mn_eval_accuracy(g, spec, NULL, 8, 1, &r, &ctx), &ctx);
    CHECK_NEAR(r.accuracy, 1, 0);
    CHECK_EQ_INT(r.samples, 1);
    /* options win over metadata */
    mn_data_opts o = {.n_mean = 1, .mean = {0}, .n_std = 1, .std = {1}};
    CHECK_OK(mn_eval_accuracy(g, spec, &o, 8, 1, &r, &ctx), &ctx);
    CHECK_NEAR(r.accuracy, 0, 0);
    /* malformed metadata is reported */
    CHECK_OK(mn_graph_set_meta(g, "minnow.std", "half", &ctx), &ctx);
    CHECK(mn_eval_accuracy(g, spec, NULL, 8, 1, &r, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "minnow.std") != NULL);
    mn_graph_destroy(g);
}
