/* Tests of the .mnw 1.2 storage: values at half width (float32 exact in
 * float16, int32 within int16, int64 within int32), deflated metadata
 * sections, 8-byte alignment of blobs a loader decodes, the 1.1-compatible
 * writer option, and hostile deflated sections. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "io/onnx_io.h"
#include "minnow/mnw.h"
#include "minnow/quant.h"
#include "mnw_test_util.h"
#include "test.h"

/* A graph whose constants test each half-width rule at its edges. */
static mn_graph *half_graph(void)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t d[1] = {40};
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return NULL;
    mn_tensor *f = add_const(g, "f_exact", MN_DT_F32, 1, d);
    mn_tensor *fx = add_const(g, "f_inexact", MN_DT_F32, 1, d);
    mn_tensor *i = add_const(g, "i_fits", MN_DT_I32, 1, d);
    mn_tensor *ix = add_const(g, "i_wide", MN_DT_I32, 1, d);
    mn_tensor *l = add_const(g, "l_fits", MN_DT_I64, 1, d);
    mn_tensor *lx = add_const(g, "l_wide", MN_DT_I64, 1, d);
    mn_tensor *n = add_const(g, "f_nan", MN_DT_F32, 1, d);
    if (!f || !fx || !i || !ix || !l || !lx || !n)
        return g;
    /* float16 holds: ±0, its largest and smallest (subnormal) values,
     * infinities, and 11-bit mantissas */
    const float fe[] = {0.0f, -0.0f, 65504.0f, 0x1p-24f, -0x1p-14f,
                        INFINITY, -INFINITY, 1.0f + 0x1p-10f, 0.333251953125f};
    for (int k = 0; k < 40; k++) {
        float *pf = f->data, *px = fx->data, *pn = n->data;
        pf[k] = k < 9 ? fe[k] : (float)(k - 20) * 0.25f;
        px[k] = pf[k];
        pn[k] = pf[k];
        ((int32_t *)i->data)[k] = k == 0 ? -32768 : k == 1 ? 32767 : k * 7 - 99;
        ((int32_t *)ix->data)[k] = k == 39 ? 32768 : k;
        ((int64_t *)l->data)[k] = k == 0 ? INT32_MIN : k == 1 ? INT32_MAX : -k;
        ((int64_t *)lx->data)[k] = k == 5 ? (int64_t)INT32_MAX + 1 : k;
    }
    ((float *)fx->data)[17] = 0.1f;           /* not a float16 value */
    ((float *)fx->data)[18] = 65520.0f;       /* beyond float16 */
    uint32_t nan = 0x7fc00001u;               /* payload float16 drops */
    memcpy((float *)n->data + 3, &nan, 4);
    mul_by_first_value(g, 1, d);
    return g;
}

TEST(mnw_half_width_values_round_trip_exactly)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = half_graph();
    mn_mnw_opts v11 = {.v1_1 = 1}, dense = {.dense = 1};
    void *f = NULL, *f11 = NULL;
    size_t len = 0, len11 = 0;
    struct {
        const char *name;
        int packing;
        uint64_t size;
    } want[] = {
        {"f_exact", MNW_PACK_HALF, 80},   {"f_inexact", MNW_PACK_NATIVE, 160},
        {"i_fits", MNW_PACK_HALF, 80},    {"i_wide", MNW_PACK_NATIVE, 160},
        {"l_fits", MNW_PACK_HALF, 160},   {"l_wide", MNW_PACK_NATIVE, 320},
        {"f_nan", MNW_PACK_NATIVE, 160},
    };
    if (!g)
        return;
    /* every value comes back bit for bit (graphs_identical compares the
     * tensors' bytes), with and without half width */
    CHECK(round_trip(g, NULL, NULL, "half") > 0);
    CHECK(round_trip(g, &v11, NULL, "half, 1.1") > 0);
    CHECK(round_trip(g, &dense, NULL, "half, dense") > 0);
    CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, &len, &ctx), &ctx);
    CHECK_OK(mn_graph_save_mnw_mem(g, &v11, &f11, &len11, &ctx), &ctx);
    for (size_t k = 0; f && f11 && k < sizeof want / sizeof want[0]; k++) {
        int layout = -1, packing = -1;
        uint64_t size = 0, off = 0;
        CHECK(find_blob(f, len, g, want[k].name, &layout, &packing, &size,
                        &off));
        if (packing != want[k].packing || size != want[k].size)
            mn_test_fail(__FILE__, __LINE__, "%s: packing %d size %llu, want "
                         "%d %llu", want[k].name, packing,
                         (unsigned long long)size, want[k].packing,
                         (unsigned long long)want[k].size);
        /* blobs a loader decodes sit at multiples of 8, in-place ones of
         * 64 when 64 bytes or more */
        CHECK_EQ_INT(off % (packing == MNW_PACK_NATIVE && size >= 64 ? 64 : 8),
                     0);
        /* the 1.1-compatible writer keeps full width and 64-alignment */
        CHECK(find_blob(f11, len11, g, want[k].name, &layout, &packing, &size,
                        &off));
        CHECK_EQ_INT(packing, MNW_PACK_NATIVE);
        CHECK_EQ_INT(off % 64, 0);
    }
    if (f && f11) {
        CHECK(mnw_get32((uint8_t *)f + 8) & MNW_FLAG_STORAGE_1_2);
        CHECK(!(mnw_get32((uint8_t *)f11 + 8) & MNW_FLAG_STORAGE_1_2));
        CHECK(len < len11);
    }
    free(f);
    free(f11);
    mn_graph_destroy(g);
}

/* Flags of each section of f by kind (0 when absent). */
static uint32_t sec_flags(const uint8_t *f, uint32_t kind, uint8_t **entry)
{
    const uint8_t *tab = f + mnw_get64(f + 32);
    for (uint32_t s = 0; s < mnw_get32(f + 28); s++)
        if (mnw_get32(tab + 32 * s) == kind) {
            if (entry)
                *entry = (uint8_t *)tab + 32 * s;
            return mnw_get32(tab + 32 * s + 4);
        }
    return 0;
}

static mn_status load_bad(uint8_t *f, size_t len, mn_ctx *ctx)
{
    mn_graph *g = NULL;
    mn_status st;
    mnw_put32(f + MNW_CRC_OFFSET, mnw_file_crc(f, len));
    st = mn_graph_load_mnw_mem(f, len, "bad.mnw", &g, ctx);
    if (st == MN_OK)
        mn_graph_destroy(g);
    else if (g || strncmp(ctx->msg, "bad.mnw: ", 9) != 0)
        mn_test_fail(__FILE__, __LINE__, "failure left a graph or the "
                     "message does not name the file: %s", ctx->msg);
    return st;
}

TEST(mnw_metadata_sections_are_deflated_and_checked)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = every_kind_graph();
    mn_mnw_opts v11 = {.v1_1 = 1};
    void *f = NULL, *f11 = NULL;
    size_t len = 0, len11 = 0;
    uint8_t *c = NULL, *e = NULL;
    if (!g)
        return;
    CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, &len, &ctx), &ctx);
    CHECK_OK(mn_graph_save_mnw_mem(g, &v11, &f11, &len11, &ctx), &ctx);
    if (!f || !f11 || !(c = malloc(len)))
        goto done;
    /* the names and records compress; the weights never are */
    CHECK(sec_flags(f, MNW_SEC_STRINGS, NULL) & MNW_SECF_DEFLATE);
    CHECK(sec_flags(f, MNW_SEC_VALUES, NULL) & MNW_SECF_DEFLATE);
    CHECK(!(sec_flags(f, MNW_SEC_WEIGHTS, NULL) & MNW_SECF_DEFLATE));
    CHECK(!(sec_flags(f11, MNW_SEC_VALUES, NULL) & MNW_SECF_DEFLATE));
    CHECK(mnw_get32((uint8_t *)f + 8) & MNW_FLAG_STORAGE_1_2);
    /* the inflated string table is the 1.1 file's byte for byte */
    {
        size_t n1 = 0, n2 = 0;
        uint8_t *o1 = NULL, *o2 = NULL;
        const uint8_t *s1 = mnw_test_section(f, len, MNW_SEC_STRINGS, &n1, &o1);
        const uint8_t *s2 =
            mnw_test_section(f11, len11, MNW_SEC_STRINGS, &n2, &o2);
        CHECK(s1 && s2 && o1 && !o2 && n1 == n2 && n1 > 100);
        CHECK(s1 && s2 && n1 == n2 && memcmp(s1, s2, n1) == 0);
        free(o1);
        free(o2);
    }
    /* damage behind a valid checksum: a byte of the zlib stream, the
     * declared size, a bomb-sized declaration, and the flag on sections
     * that are not deflated or may not be */
    memcpy(c, f, len);
    sec_flags(c, MNW_SEC_VALUES, &e);
    c[mnw_get64(e + 8) + mnw_get64(e + 16) / 2] ^= 0x55;
    CHECK(load_bad(c, len, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "section kind 3") &&
          strstr(ctx.msg, "damaged or does not inflate"));
    memcpy(c, f, len);
    sec_flags(c, MNW_SEC_VALUES, &e);
    mnw_put32(e + 28, mnw_get32(e + 28) + 1);
    CHECK(load_bad(c, len, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "does not inflate") != NULL);
    mnw_put32(e + 28, mnw_get32(e + 28) - 2);
    CHECK(load_bad(c, len, &ctx) == MN_ERR_PARSE);
    mnw_put32(e + 28, 0xFFFFFFFFu); /* refused before allocating 4 GiB */
    CHECK(load_bad(c, len, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "is not allowed") != NULL);
    memcpy(c, f, len);
    sec_flags(c, MNW_SEC_WEIGHTS, &e);
    mnw_put32(e + 4, mnw_get32(e + 4) | MNW_SECF_DEFLATE);
    mnw_put32(e + 28, 100);
    CHECK(load_bad(c, len, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "section kind 6") != NULL);
    memcpy(c, f, len);
    sec_flags(c, MNW_SEC_META, &e); /* 32 bytes: stored as they are */
    CHECK(!(mnw_get32(e + 4) & MNW_SECF_DEFLATE));
    mnw_put32(e + 4, mnw_get32(e + 4) | MNW_SECF_DEFLATE);
    mnw_put32(e + 28, 32);
    CHECK(load_bad(c, len, &ctx) == MN_ERR_PARSE);
    /* a half-width record on a dtype that has none (in the 1.1 file,
     * whose records are not deflated) */
    {
        const uint8_t *vs, *rec = NULL;
        int layout, packing;
        uint64_t size;
        uint8_t *c11 = malloc(len11), *o = NULL;
        if (c11) {
            memcpy(c11, f11, len11);
            vs = mnw_test_section(c11, len11, MNW_SEC_VALUES, NULL, &o);
            CHECK(vs && !o && find_in_values(vs, g, "w_i8", &layout, &packing,
                                             &size, NULL, &rec));
            if (rec) {
                c11[rec + 3 - c11] = MNW_PACK_HALF;
                CHECK(load_bad(c11, len11, &ctx) == MN_ERR_PARSE);
                CHECK(strstr(ctx.msg, "half-width packing of int8") != NULL);
                c11[rec + 3 - c11] = 3; /* an unknown packing */
                CHECK(load_bad(c11, len11, &ctx) == MN_ERR_UNSUPPORTED);
            }
        }
        free(c11);
    }
done:
    free(c);
    free(f);
    free(f11);
    mn_graph_destroy(g);
}

TEST(mnw_int8_model_stores_scales_and_biases_at_half_width)
{
    /* the quantizer puts weight scales on the float16 grid, so the file
     * stores them (and int32 biases within int16) at half width; the
     * model loads back identical and runs the same */
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_quant_opts qo = {.mode = MN_QUANT_DYNAMIC};
    mn_quant_report rep = {0};
    mn_mnw_opts v11 = {.v1_1 = 1};
    mn_tensor *x;
    size_t small, wide;
    int halves = 0;
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    CHECK_OK(mn_quantize(g, &qo, &rep, &ctx), &ctx);
    x = random_input(g);
    small = round_trip(g, NULL, x, "fashion_cnn dynamic");
    wide = round_trip(g, &v11, x, "fashion_cnn dynamic, 1.1");
    CHECK(small > 0 && wide > small);
    void *f = NULL;
    size_t len = 0;
    CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, &len, &ctx), &ctx);
    for (int v = 0; f && v < g->n_values; v++) {
        const mn_tensor *t = g->values[v].init;
        int layout = -1, packing = -1;
        uint64_t size = 0;
        if (!t || t->dtype != MN_DT_F32 || mn_tensor_numel(t) < 2 ||
            !strstr(g->values[v].name, "scale"))
            continue;
        CHECK(find_storage(f, len, g, g->values[v].name, &layout, &packing,
                           &size));
        halves += packing == MNW_PACK_HALF;
        CHECK_EQ_INT(packing, MNW_PACK_HALF);
    }
    CHECK(halves == 5); /* per-channel scales of the 3 convs and 2 FCs */
    free(f);
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}
