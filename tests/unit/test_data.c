/* Tests of the data set readers (IDX, Fashion-MNIST, CIFAR-10, image
 * folders) and preprocessing. */
#include "data_test_util.h"


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
    CHECK(mn_dataset_open(spec2("idx:", tpath("b-img"), tpath("b-lab")), &o, &d, &ctx) == MN_ERR_ARG);
    CHECK(d == NULL);
    CHECK(strstr(ctx.msg, "mean") != NULL);
    o.n_mean = 1;
    o.std[0] = 0;
    CHECK(mn_dataset_open(spec2("idx:", tpath("b-img"), tpath("b-lab")), &o, &d, &ctx) == MN_ERR_ARG);
    /* 1-channel data as 3 channels replicates; resize 4x5 → 8x10 */
    mn_data_opts o3 = {.channels = 3, .height = 8, .width = 10};
    float big[3 * 80];
    CHECK_OK(mn_dataset_open(spec2("idx:", tpath("b-img"), tpath("b-lab")), &o3, &d, &ctx), &ctx);
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

/* SPEC@A:B: samples [A, B) of the data set, labels included; "@A:" runs to
 * the end; a reversed or out-of-range slice is an error naming the spec. */
TEST(data_spec_slice)
{
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL, *y = NULL;
    mn_dataset *d = NULL;
    int64_t dx[4] = {10, 1, 2, 3}, dy[1] = {10}, lab[3];
    float buf[3 * 6];
    char px[512], py[512], spec[1200];
    CHECK_OK(mn_tensor_create(MN_DT_F32, 4, dx, &x, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(MN_DT_I64, 1, dy, &y, &ctx), &ctx);
    if (!x || !y)
        return;
    for (int i = 0; i < 60; i++)
        ((float *)x->data)[i] = (float)i;
    for (int i = 0; i < 10; i++)
        ((int64_t *)y->data)[i] = 9 - i;
    snprintf(px, sizeof px, "%s/slice_x.npy", mn_test_tmp_dir());
    snprintf(py, sizeof py, "%s/slice_y.npy", mn_test_tmp_dir());
    CHECK_OK(mn_tensor_save_npy(px, x, &ctx), &ctx);
    CHECK_OK(mn_tensor_save_npy(py, y, &ctx), &ctx);
    snprintf(spec, sizeof spec, "npy:%s,%s@4:7", px, py);
    CHECK_OK(mn_dataset_open(spec, NULL, &d, &ctx), &ctx);
    if (d) {
        CHECK_EQ_INT(mn_dataset_size(d), 3);
        CHECK_OK(mn_dataset_read(d, 0, 3, buf, lab, &ctx), &ctx);
        CHECK_NEAR(buf[0], 24.0f, 0);  /* sample 4 */
        CHECK_NEAR(buf[17], 41.0f, 0); /* last value of sample 6 */
        CHECK_EQ_INT(lab[0], 5);
        CHECK_EQ_INT(lab[2], 3);
        CHECK(mn_dataset_read(d, 2, 2, buf, lab, &ctx) == MN_ERR_ARG);
        mn_dataset_destroy(d);
    }
    snprintf(spec, sizeof spec, "npy:%s,%s@8:", px, py);
    CHECK_OK(mn_dataset_open(spec, &(mn_data_opts){.limit = 5}, &d, &ctx),
             &ctx);
    if (d)
        CHECK_EQ_INT(mn_dataset_size(d), 2);
    mn_dataset_destroy(d);
    d = NULL;
    snprintf(spec, sizeof spec, "npy:%s,%s@7:4", px, py);
    CHECK(mn_dataset_open(spec, NULL, &d, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "@7:4") != NULL);
    snprintf(spec, sizeof spec, "npy:%s,%s@5:11", px, py);
    CHECK(mn_dataset_open(spec, NULL, &d, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "outside") != NULL);
    mn_tensor_destroy(x);
    mn_tensor_destroy(y);
}
