/* Tests of .npy tensor files and npy data sets. */
#include "data_test_util.h"

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
