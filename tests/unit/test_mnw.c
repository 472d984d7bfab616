/* Tests of minnow's own model file (.mnw): exact round trips of real
 * models (same outputs, same bytes on re-save), every weight storage
 * (float32/16, int8, packed int4, int32, sparse bitmask) bit for bit, the
 * sizes sparse and 4-bit storage reach, atomic saving and format selection
 * by magic. Hostile files: test_mnw_hostile.c. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "io/onnx_io.h"
#include "minnow/mnw.h"
#include "minnow/quant.h"
#include "mnw_test_util.h"
#include "test.h"

/* ---- real models ---- */

TEST(mnw_round_trip_fashion_cnn_same_outputs_and_bytes)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_tensor *x;
    size_t n;
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    x = random_input(g);
    n = round_trip(g, NULL, x, "fashion_cnn");
    CHECK(n > 0);
    /* 167 338 fp32 parameters: the file is the weights plus little else */
    CHECK(n >= 167338 * 4 && n < 167338 * 4 + 16384);
    /* fixed-width records take a little more than protobuf's varints */
    CHECK(n < (size_t)file_size("models/fashion_cnn.onnx") * 1.01);
    CHECK_OK(mn_graph_optimize(g, &ctx), &ctx);
    n = round_trip(g, NULL, x, "fashion_cnn optimized");
    CHECK(n > 0 && n < (size_t)file_size("models/fashion_cnn.onnx"));
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

TEST(mnw_round_trip_peer_models_same_outputs_and_bytes)
{
    char dir[1024], path[2048];
    int models = 0;
    struct dirent *e;
    DIR *d;
    snprintf(dir, sizeof dir, "%s/peers", mn_test_data_dir());
    if (!(d = opendir(dir))) {
        mn_test_fail(__FILE__, __LINE__, "no %s", dir);
        return;
    }
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        mn_ctx ctx = {{0}};
        mn_graph *g = NULL;
        mn_tensor *x = NULL;
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx"))
            continue;
        snprintf(path, sizeof path, "%s/%.*s.input.npy", dir, (int)(l - 5),
                 e->d_name);
        CHECK_OK(mn_tensor_load_npy(path, &x, &ctx), &ctx);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        CHECK_OK(mn_graph_load_onnx(path, &g, &ctx), &ctx);
        if (g && x) {
            CHECK(round_trip(g, NULL, x, e->d_name) > 0);
            models++;
        }
        mn_graph_destroy(g);
        mn_tensor_destroy(x);
    }
    closedir(d);
    CHECK(models >= 5);
}

TEST(mnw_every_storage_round_trips_exactly)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = every_kind_graph();
    mn_mnw_opts dense = {.dense = 1}, nopack = {.no_pack4 = 1};
    void *f = NULL;
    size_t len = 0;
    struct {
        const char *name;
        int layout, packing;
        uint64_t size;
    } want[] = {
        {"w_f32", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 288 * 4},
        {"w_f32_special", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 4000},
        {"w_f16", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 231 * 2},
        {"w_i8", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 288},
        {"w_i4", MNW_LAYOUT_DENSE, MNW_PACK_NIBBLE, 116}, /* 231 → 116 */
        {"w_u4", MNW_LAYOUT_DENSE, MNW_PACK_NIBBLE, 500},
        {"w_u8", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 1000},
        {"b_i32", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 4000},
        /* 1000 zeros: 66 escape codes (33 → 40 bytes) after the count */
        {"all_zero", MNW_LAYOUT_GAPS, MNW_PACK_NATIVE, 48},
        {"empty", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 0},
        {"scalar", MNW_LAYOUT_DENSE, MNW_PACK_NATIVE, 4},
    };
    if (!g)
        return;
    CHECK(round_trip(g, NULL, NULL, "every kind") > 0);
    CHECK(round_trip(g, &dense, NULL, "every kind dense") > 0);
    CHECK(round_trip(g, &nopack, NULL, "every kind 8-bit") > 0);
    CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, &len, &ctx), &ctx);
    for (size_t k = 0; f && k < sizeof want / sizeof want[0]; k++) {
        int layout = -1, packing = -1;
        uint64_t size = 0;
        if (!find_storage(f, len, g, want[k].name, &layout, &packing, &size)) {
            mn_test_fail(__FILE__, __LINE__, "%s not found", want[k].name);
            continue;
        }
        if (layout != want[k].layout || packing != want[k].packing ||
            size != want[k].size)
            mn_test_fail(__FILE__, __LINE__, "%s: layout %d packing %d size "
                         "%llu, want %d %d %llu", want[k].name, layout,
                         packing, (unsigned long long)size, want[k].layout,
                         want[k].packing, (unsigned long long)want[k].size);
    }
    /* the sparse ones (~10 % non-zeros): gap codes (a u64 count, one code
     * per value plus one per 15 zeros skipped, packed two per byte, padded
     * to 8) + non-zeros at width; with no_gaps the bitmask (125 bytes →
     * 128) + non-zeros */
    const char *sp[] = {"sp_f32", "sp_i8", "sp_i4"};
    mn_mnw_opts nogaps = {.no_gaps = 1};
    void *fb = NULL;
    size_t lenb = 0;
    CHECK(round_trip(g, &nogaps, NULL, "every kind, bitmask") > 0);
    CHECK_OK(mn_graph_save_mnw_mem(g, &nogaps, &fb, &lenb, &ctx), &ctx);
    for (int k = 0; f && fb && k < 3; k++) {
        int layout = -1, packing = -1;
        uint64_t size = 0;
        const mn_tensor *t =
            g->values[mn_graph_find_value(g, sp[k])].init;
        size_t es = mn_dtype_size(t->dtype);
        int64_t nnz = 0, codes = 0, run = 0, vals;
        for (int64_t i = 0; i < 1000; i++) {
            int nz = 0;
            for (size_t b = 0; b < es; b++)
                nz |= ((const uint8_t *)t->data)[(size_t)i * es + b];
            nnz += nz != 0;
            if (nz) {
                codes += run / 15 + 1;
                run = 0;
            } else {
                run++;
            }
        }
        codes += run / 15;
        vals = k == 0 ? nnz * 4 : k == 1 ? nnz : (nnz + 1) / 2;
        CHECK(nnz > 50 && nnz < 150);
        CHECK(find_storage(f, len, g, sp[k], &layout, &packing, &size));
        CHECK_EQ_INT(layout, MNW_LAYOUT_GAPS);
        CHECK_EQ_INT(packing, k == 2 ? MNW_PACK_NIBBLE : MNW_PACK_NATIVE);
        CHECK_EQ_INT(size, 8 + ((codes + 1) / 2 + 7) / 8 * 8 + vals);
        CHECK(size < 128 + (uint64_t)vals);
        CHECK(find_storage(fb, lenb, g, sp[k], &layout, &packing, &size));
        CHECK_EQ_INT(layout, MNW_LAYOUT_BITMASK);
        CHECK_EQ_INT(size, 128 + vals);
    }
    CHECK(f && (mnw_get32((uint8_t *)f + 8) & (MNW_FLAG_SPARSE |
                                                MNW_FLAG_PACK4)) ==
                   (MNW_FLAG_SPARSE | MNW_FLAG_PACK4));
    free(f);
    free(fb);
    mn_graph_destroy(g);
}

/* ---- sizes ---- */

/* Zeroes 90% of every float weight with ≥ 1000 elements (random places). */
static void prune90(mn_graph *g)
{
    for (int v = 0; v < g->n_values; v++) {
        mn_tensor *t = g->values[v].init;
        if (!t || t->dtype != MN_DT_F32 || mn_tensor_numel(t) < 1000)
            continue;
        for (int64_t i = 0; i < mn_tensor_numel(t); i++)
            if (rnd() % 10)
                ((float *)t->data)[i] = 0;
    }
}

TEST(mnw_sparse_90_percent_is_6x_smaller_than_dense_fp32)
{
    mn_ctx ctx = {{0}};
    mn_mnw_opts dense = {.dense = 1};
    mn_graph *g = NULL;
    mn_tensor *x;
    size_t sparse_sz, dense_sz, onnx_sz;
    void *buf = NULL;
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    CHECK_OK(mn_graph_optimize(g, &ctx), &ctx); /* BatchNorm folded */
    prune90(g);
    x = random_input(g);
    sparse_sz = round_trip(g, NULL, x, "fashion_cnn 90% sparse");
    dense_sz = round_trip(g, &dense, x, "fashion_cnn 90% sparse, dense");
    CHECK_OK(mn_graph_save_onnx_mem(g, &buf, &onnx_sz, &ctx), &ctx);
    free(buf);
    /* fp32 dense 4 B/weight; bitmask + 10 % of values: 0.525 B/weight */
    CHECK(sparse_sz > 0 && dense_sz > 0);
    CHECK(dense_sz >= 6 * sparse_sz);
    CHECK(onnx_sz >= 6 * sparse_sz);
    CHECK((double)sparse_sz < (double)dense_sz * 0.14 + 8192);
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

TEST(mnw_int8_sparse_and_int4_sizes)
{
    /* one 100 000-weight tensor: the file sizes follow the formulas */
    mn_ctx ctx = {{0}};
    int64_t d[1] = {100000};
    size_t sz[4];
    mn_dtype dts[4] = {MN_DT_F32, MN_DT_F32, MN_DT_I8, MN_DT_I8};
    int sparse[4] = {0, 1, 1, 0};
    for (int k = 0; k < 4; k++) {
        mn_graph *g = NULL;
        void *f = NULL;
        CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
        mn_tensor *t = add_const(g, "w", dts[k], 1, d);
        fill(t, sparse[k] ? 10 : 1, k == 3 ? -7 : -127, k == 3 ? 7 : 127);
        mul_by_first_value(g, 1, d);
        CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, &sz[k], &ctx), &ctx);
        CHECK(round_trip(g, NULL, NULL, "one tensor") == sz[k]);
        free(f);
        mn_graph_destroy(g);
    }
    /* dense fp32 400 000 B; 90 % sparse: gap codes ~1.26 per value
     * (≈ 6 300 B) + 40 000 (fp32) or 10 000 (int8); int4 dense 50 000 */
    CHECK(sz[0] >= 400000 && sz[0] < 401024);
    CHECK(sz[1] >= 44000 && sz[1] < 50000);
    CHECK(sz[2] >= 14500 && sz[2] < 19000);
    CHECK(sz[3] >= 50000 && sz[3] < 51024);
    CHECK(sz[0] >= 6 * sz[1]);  /* sparse fp32 vs dense fp32 */
    CHECK(sz[0] >= 12 * sz[2]); /* sparse int8 vs dense fp32 */
    CHECK(sz[0] >= 7.8 * sz[3]); /* packed int4 vs dense fp32 */
}

TEST(mnw_int4_quantized_model_packs_and_runs_the_same)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    mn_quant_opts qo = {.mode = MN_QUANT_INT4};
    mn_quant_report rep = {0};
    mn_mnw_opts nopack = {.no_pack4 = 1};
    mn_tensor *x;
    size_t packed, unpacked;
    long fp32 = file_size("models/fashion_cnn.onnx");
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    CHECK_OK(mn_quantize(g, &qo, &rep, &ctx), &ctx);
    CHECK(rep.quantized_layers == 5);
    x = random_input(g);
    packed = round_trip(g, NULL, x, "fashion_cnn int4");
    unpacked = round_trip(g, &nopack, x, "fashion_cnn int4 8-bit");
    CHECK(packed > 0 && unpacked > packed);
    /* 167 338 weights, nearly all of them in Conv/Gemm: 4 bits each */
    CHECK(fp32 > 0 && (double)fp32 / (double)packed >= 6.5);
    CHECK((double)unpacked / (double)packed > 1.7);
    mn_tensor_destroy(x);
    mn_graph_destroy(g);
}

/* ---- files, format selection ---- */

TEST(mnw_file_save_is_atomic_and_load_any_goes_by_magic)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL, *h = NULL, *k = NULL;
    char p1[1024], p2[1024], p3[1024];
    DIR *d;
    struct dirent *e;
    int stray = 0;
    snprintf(p1, sizeof p1, "%s/model_mnw.onnx", mn_test_tmp_dir());
    snprintf(p2, sizeof p2, "%s/model_onnx.mnw", mn_test_tmp_dir());
    snprintf(p3, sizeof p3, "%s/no/such/dir/m.mnw", mn_test_tmp_dir());
    CHECK_OK(mn_graph_load_onnx("models/fashion_cnn.onnx", &g, &ctx), &ctx);
    if (!g)
        return;
    /* names lie on purpose: the first bytes decide */
    CHECK_OK(mn_graph_save_mnw(g, p1, NULL, &ctx), &ctx);
    CHECK_OK(mn_graph_save_onnx(g, p2, &ctx), &ctx);
    CHECK_OK(mn_graph_load_any(p1, &h, &ctx), &ctx);
    CHECK_OK(mn_graph_load_any(p2, &k, &ctx), &ctx);
    CHECK(h && graphs_identical(g, h, "load_any mnw"));
    CHECK(h && h->file_bytes == file_size(p1) && !strcmp(h->source, p1));
    CHECK(k && k->n_nodes == g->n_nodes && k->file_bytes == file_size(p2));
    mn_graph_destroy(h);
    h = NULL;
    CHECK(mn_graph_load_mnw(p2, &h, &ctx) == MN_ERR_PARSE && !h);
    CHECK(strstr(ctx.msg, p2) && strstr(ctx.msg, "MNW1"));
    CHECK(mn_graph_save_mnw(g, p3, NULL, &ctx) == MN_ERR_IO);
    CHECK(strstr(ctx.msg, p3) != NULL);
    CHECK(mn_graph_load_any(p3, &h, &ctx) == MN_ERR_IO && !h);
    d = opendir(mn_test_tmp_dir());
    while (d && (e = readdir(d)))
        stray += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    CHECK_EQ_INT(stray, 0);
    mn_graph_destroy(k);
    mn_graph_destroy(g);
}
