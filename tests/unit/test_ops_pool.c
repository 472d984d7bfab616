/* Unit tests for MaxPool (float32/uint8/int8, Indices), AveragePool and
 * GlobalAveragePool: forwards against a naive implementation that visits
 * every tap of every window and tests bounds (1-3 spatial axes, strides,
 * dilations, asymmetric pads, ceil_mode, auto_pad, count_include_pad), the
 * ONNX examples for ceil_mode, and shape-inference errors. */
#include "test.h"
#include "ops_test_util.h"
#include "core/pool.h"
#include "kernels/dispatch.h"

extern const mn_op_def mn_opdef_maxpool, mn_opdef_avgpool,
    mn_opdef_globalavgpool;

typedef struct pool_case {
    int nsp;
    int64_t n, c, in[3], k[3], s[3], d[3], pb[3], pe[3];
    int ceil_mode, include_pad, col_major;
    const char *auto_pad;
} pool_case;

/* Output sizes and (for auto_pad) effective pads, per the ONNX text. */
static int pool_geometry(pool_case *pc, int64_t *out)
{
    for (int i = 0; i < pc->nsp; i++) {
        int64_t eff = pc->d[i] * (pc->k[i] - 1) + 1, s = pc->s[i];
        if (pc->auto_pad && strcmp(pc->auto_pad, "VALID") != 0) {
            out[i] = (pc->in[i] + s - 1) / s;
            int64_t total = (out[i] - 1) * s + eff - pc->in[i];
            total = total < 0 ? 0 : total;
            pc->pb[i] = strcmp(pc->auto_pad, "SAME_UPPER") == 0
                            ? total / 2 : total - total / 2;
            pc->pe[i] = total - pc->pb[i];
            continue;
        }
        if (pc->auto_pad)
            pc->pb[i] = pc->pe[i] = 0;
        double span = (double)(pc->in[i] + pc->pb[i] + pc->pe[i] - eff);
        if (span < 0)
            return 0;
        out[i] = (int64_t)(pc->ceil_mode ? ceil(span / s) : floor(span / s)) + 1;
        if (pc->ceil_mode && (out[i] - 1) * s >= pc->in[i] + pc->pb[i])
            out[i]--;
    }
    return 1;
}

/* Visits every tap; padding is skipped for max and for the average unless
 * count_include_pad (then taps inside the padded extent count). A window
 * with no input tap gives -FLT_MAX / index -1 (max) or 0 (average). */
static void naive_pool(const pool_case *pc, const int64_t *out, int is_max,
                       const float *x, double *y, int64_t *idx)
{
    int64_t in[3] = {1, 1, 1}, o3[3] = {1, 1, 1}, k3[3] = {1, 1, 1};
    int64_t s3[3] = {1, 1, 1}, d3[3] = {1, 1, 1}, b3[3] = {0}, e3[3] = {0};
    int lead = 3 - pc->nsp;
    for (int i = 0; i < pc->nsp; i++) {
        in[lead + i] = pc->in[i];
        o3[lead + i] = out[i];
        k3[lead + i] = pc->k[i];
        s3[lead + i] = pc->s[i];
        d3[lead + i] = pc->d[i];
        b3[lead + i] = pc->pb[i];
        e3[lead + i] = pc->pe[i];
    }
    int64_t psz = in[0] * in[1] * in[2], osz = o3[0] * o3[1] * o3[2];
    for (int64_t p = 0; p < pc->n * pc->c; p++)
        for (int64_t o = 0; o < osz; o++) {
            int64_t oi[3] = {o / (o3[1] * o3[2]), o / o3[2] % o3[1], o % o3[2]};
            double best = -3.4028234663852886e38, sum = 0;
            int64_t bi = -1, cnt = 0, pcnt = 0;
            for (int64_t t = 0; t < k3[0] * k3[1] * k3[2]; t++) {
                int64_t ti[3] = {t / (k3[1] * k3[2]), t / k3[2] % k3[1],
                                 t % k3[2]};
                int64_t pos[3];
                int inside = 1, padded = 1;
                for (int a = 0; a < 3; a++) {
                    pos[a] = oi[a] * s3[a] - b3[a] + ti[a] * d3[a];
                    inside &= pos[a] >= 0 && pos[a] < in[a];
                    padded &= pos[a] >= -b3[a] && pos[a] < in[a] + e3[a];
                }
                pcnt += padded;
                if (!inside)
                    continue;
                double v = x[p * psz + (pos[0] * in[1] + pos[1]) * in[2] +
                             pos[2]];
                sum += v;
                cnt++;
                if (bi < 0 || v > best) {
                    best = v;
                    bi = pc->col_major
                             ? (pos[2] * in[1] + pos[1]) * in[0] + pos[0]
                             : (pos[0] * in[1] + pos[1]) * in[2] + pos[2];
                }
            }
            int64_t div = pc->include_pad ? pcnt : cnt;
            y[p * osz + o] = is_max ? best : div ? sum / (double)div : 0;
            if (idx)
                idx[p * osz + o] = bi < 0 ? -1 : p * psz + bi;
        }
}

static void pool_attrs(mn_node *nd, const pool_case *pc, int is_max)
{
    otu_node(nd, is_max ? "MaxPool" : "AveragePool");
    otu_ints(nd, "kernel_shape", pc->k, pc->nsp);
    otu_ints(nd, "strides", pc->s, pc->nsp);
    int dilated = 0;
    for (int i = 0; i < pc->nsp; i++)
        dilated |= pc->d[i] > 1;
    if (is_max || dilated) /* AveragePool has dilations from opset 19 */
        otu_ints(nd, "dilations", pc->d, pc->nsp);
    if (pc->auto_pad) {
        otu_str_attr(nd, "auto_pad", pc->auto_pad);
    } else {
        int64_t pads[6];
        for (int i = 0; i < pc->nsp; i++) {
            pads[i] = pc->pb[i];
            pads[pc->nsp + i] = pc->pe[i];
        }
        otu_ints(nd, "pads", pads, 2 * pc->nsp);
    }
    otu_int_attr(nd, "ceil_mode", pc->ceil_mode);
    if (!is_max)
        otu_int_attr(nd, "count_include_pad", pc->include_pad);
    if (is_max && pc->col_major)
        otu_int_attr(nd, "storage_order", 1);
}

/* Runs one case; dt picks the MaxPool input type (AveragePool: float32). */
static void check_pool(pool_case pc, int is_max, mn_dtype dt, int indices)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[2];
    int64_t od[3], xd[5] = {pc.n, pc.c};
    pool_case r = pc;
    if (!pool_geometry(&r, od))
        return;
    pool_attrs(&nd, &pc, is_max);
    for (int i = 0; i < pc.nsp; i++)
        xd[2 + i] = pc.in[i];
    mn_tensor *x = otu_random(dt, pc.nsp + 2, xd);
    int64_t nx = mn_tensor_numel(x), ny = pc.n * pc.c;
    for (int i = 0; i < pc.nsp; i++)
        ny *= od[i];
    float *xf = malloc((size_t)nx * sizeof *xf);
    double *ref = malloc((size_t)(ny + 1) * sizeof *ref);
    int64_t *ridx = malloc((size_t)(ny + 1) * sizeof *ridx);
    for (int64_t i = 0; xf && i < nx; i++)
        xf[i] = (float)mn_tensor_get_f64(x, i);
    const mn_tensor *in[1] = {x};
    CHECK_OK(otu_run(is_max ? &mn_opdef_maxpool : &mn_opdef_avgpool, &nd, in,
                     1, out, indices ? 2 : 1, &ctx), &ctx);
    CHECK_EQ_INT(mn_tensor_numel(&out[0]), ny);
    CHECK_EQ_INT(out[0].dtype, dt);
    if (xf && ref && ridx && out[0].data && mn_tensor_numel(&out[0]) == ny) {
        naive_pool(&r, od, is_max, xf, ref, ridx);
        int bad = 0;
        for (int64_t i = 0; i < ny; i++) {
            double g = mn_tensor_get_f64(&out[0], i);
            double want = dt == MN_DT_U8 && ref[i] < 0 ? 0
                          : dt == MN_DT_I8 && ref[i] < -128 ? -128 : ref[i];
            bad += fabs(g - want) > 1e-5 * (1 + fabs(want));
            if (indices)
                bad += ((int64_t *)out[1].data)[i] != ridx[i];
        }
        if (bad)
            mn_test_fail(__FILE__, __LINE__,
                         "%s nsp%d in %lld,%lld,%lld k%lld,%lld,%lld "
                         "s%lld,%lld,%lld ceil%d pad%d: %d wrong",
                         is_max ? "max" : "avg", pc.nsp, (long long)pc.in[0],
                         (long long)pc.in[1], (long long)pc.in[2],
                         (long long)pc.k[0], (long long)pc.k[1],
                         (long long)pc.k[2], (long long)pc.s[0],
                         (long long)pc.s[1], (long long)pc.s[2], pc.ceil_mode,
                         pc.include_pad, bad);
    }
    free(xf);
    free(ref);
    free(ridx);
    otu_out_free(out, indices ? 2 : 1);
    mn_tensor_destroy(x);
    otu_node_free(&nd);
}

static pool_case random_pool(int nsp, int dil)
{
    pool_case pc = {.nsp = nsp, .n = otu_int(1, 2), .c = otu_int(1, 3)};
    for (int i = 0; i < nsp; i++) {
        pc.in[i] = otu_int(1, nsp == 3 ? 6 : 11);
        pc.k[i] = otu_int(1, 4);
        pc.s[i] = otu_int(1, 3);
        pc.d[i] = dil ? otu_int(1, 2) : 1;
        pc.pb[i] = otu_int(0, pc.k[i] - 1);
        pc.pe[i] = otu_int(0, pc.k[i] - 1);
    }
    pc.ceil_mode = (int)otu_int(0, 1);
    pc.include_pad = (int)otu_int(0, 1);
    return pc;
}

TEST(maxpool_random_vs_naive)
{
    otu_seed(11);
    for (int it = 0; it < 240; it++) {
        pool_case pc = random_pool(1 + it % 3, 1);
        mn_dtype dt = it % 4 == 1 ? MN_DT_U8 : it % 4 == 2 ? MN_DT_I8
                                                         : MN_DT_F32;
        pc.col_major = pc.nsp == 2 && (it & 8);
        check_pool(pc, 1, dt, it % 2 == 0);
    }
}

/* The row-wise fast path (2-D, no dilation, no Indices; rows wider than a
 * vector) at every ISA level, float32, uint8 and int8. */
TEST(maxpool_q8_fast_vs_naive)
{
    static const mn_isa lv[] = {MN_ISA_REF, MN_ISA_AVX2, MN_ISA_AVX512VNNI};
    otu_seed(14);
    for (size_t l = 0; l < sizeof lv / sizeof lv[0]; l++) {
        mn_isa_force(lv[l]);
        for (int it = 0; it < 40; it++) {
            pool_case pc = random_pool(2, 0);
            pc.in[0] = otu_int(1, 9);
            pc.in[1] = otu_int(1, 80);
            check_pool(pc, 1, it % 3 == 0 ? MN_DT_F32
                              : it % 3 == 1 ? MN_DT_I8
                                            : MN_DT_U8, 0);
        }
    }
    mn_isa_force(MN_ISA_COUNT);
}

/* The 8-bit fast path on the pool (planes as tasks) gives the one-thread
 * bytes. */
static void check_maxpool_pool(const pool_case *pc, mn_dtype dt,
                               mn_pool *pool)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1], o2 = {0}, *op = &o2;
    int64_t xd[4] = {pc->n, pc->c, pc->in[0], pc->in[1]};
    pool_attrs(&nd, pc, 1);
    mn_tensor *x = otu_random(dt, 4, xd);
    const mn_tensor *in[1] = {x};
    CHECK_OK(otu_run(&mn_opdef_maxpool, &nd, in, 1, out, 1, &ctx), &ctx);
    CHECK_OK(mn_opdef_maxpool.infer(&nd, in, 1, &op, 1, &ctx), &ctx);
    size_t nb = mn_tensor_nbytes(&o2);
    size_t sb = mn_opdef_maxpool.scratch(&nd, in, 1,
                                         (const mn_tensor *const *)&op, 1);
    o2.data = malloc(nb);
    void *s = malloc(sb);
    if (o2.data && s && out[0].data) {
        mn_exec ex = {.ctx = &ctx, .scratch = s, .scratch_bytes = sb,
                      .pool = pool};
        memset(o2.data, 0xC3, nb);
        CHECK_OK(mn_opdef_maxpool.forward(&nd, in, 1, &op, 1, &ex), &ctx);
        CHECK(memcmp(o2.data, out[0].data, nb) == 0);
    }
    free(o2.data);
    free(s);
    otu_out_free(out, 1);
    mn_tensor_destroy(x);
    otu_node_free(&nd);
}

/* ResNet's 3×3/2 pad 1 and the 2×2/2 window over rows wide enough for the
 * vector stride-2 pass (hmax2), odd and even widths, ceil mode, uint8 and
 * int8, at every ISA level, one thread against the naive pooling and the
 * pool against one thread. */
TEST(maxpool_q8_stride2_wide_rows)
{
    static const mn_isa lv[] = {MN_ISA_REF, MN_ISA_AVX2, MN_ISA_AVX512VNNI};
    static const int64_t widths[] = {112, 113, 67, 66, 150, 35};
    mn_ctx ctx = {{0}};
    mn_pool *pool = NULL;
    CHECK_OK(mn_pool_create(2, 0, &pool, &ctx), &ctx);
    otu_seed(15);
    for (size_t l = 0; l < sizeof lv / sizeof lv[0]; l++) {
        mn_isa_force(lv[l]);
        for (int it = 0; it < 24; it++) {
            int64_t k = 2 + it % 2, pad = it / 2 % 2;
            pool_case pc = {.nsp = 2, .n = 1 + it % 3 / 2, .c = 3 + it % 5,
                            .in = {7 + it % 6, widths[it % 6]},
                            .k = {k, k}, .s = {2, 2}, .d = {1, 1},
                            .pb = {pad, pad}, .pe = {pad, k == 3 ? pad : 0},
                            .ceil_mode = it / 4 % 2};
            mn_dtype dt = it % 3 == 1 ? MN_DT_I8 : MN_DT_U8;
            check_pool(pc, 1, dt, 0);
            if (pc.n * pc.c * pc.in[0] * pc.in[1] < 65536)
                pc.c = 65536 / (pc.in[0] * pc.in[1]) + 1; /* pool's share */
            check_maxpool_pool(&pc, dt, pool);
        }
    }
    mn_isa_force(MN_ISA_COUNT);
    mn_pool_destroy(pool);
}

TEST(avgpool_random_vs_naive)
{
    otu_seed(12);
    for (int it = 0; it < 240; it++)
        check_pool(random_pool(1 + it % 3, it % 4 == 0), 0, MN_DT_F32, 0);
}

TEST(pool_auto_pad_vs_naive)
{
    static const char *const modes[] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
    otu_seed(13);
    for (int it = 0; it < 90; it++) {
        pool_case pc = random_pool(2, 0);
        pc.auto_pad = modes[it % 3];
        pc.ceil_mode = 0;
        check_pool(pc, it & 1, MN_DT_F32, 0);
    }
}

/* The ONNX examples: 4x4 input 1..16, kernel 3, stride 2, ceil_mode. */
TEST(pool_ceil_mode_onnx_examples)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    float xv[16];
    for (int i = 0; i < 16; i++)
        xv[i] = (float)(i + 1);
    mn_tensor x = {.dtype = MN_DT_F32, .ndim = 4, .dims = {1, 1, 4, 4},
                   .data = xv};
    const mn_tensor *in[1] = {&x};
    static const float want_max[4] = {11, 12, 15, 16};
    static const float want_avg[4] = {6, 7.5f, 12, 13.5f};
    for (int is_max = 0; is_max < 2; is_max++) {
        otu_node(&nd, is_max ? "MaxPool" : "AveragePool");
        otu_ints(&nd, "kernel_shape", (int64_t[]){3, 3}, 2);
        otu_ints(&nd, "strides", (int64_t[]){2, 2}, 2);
        otu_int_attr(&nd, "ceil_mode", 1);
        CHECK_OK(otu_run(is_max ? &mn_opdef_maxpool : &mn_opdef_avgpool, &nd,
                         in, 1, out, 1, &ctx), &ctx);
        CHECK_EQ_INT(out[0].dims[2], 2);
        CHECK_EQ_INT(out[0].dims[3], 2);
        for (int i = 0; out[0].data && i < 4; i++)
            CHECK_NEAR(((float *)out[0].data)[i],
                       is_max ? want_max[i] : want_avg[i], 1e-6);
        otu_out_free(out, 1);
        otu_node_free(&nd);
    }
}

/* MaxPool 2×2 (stride s) of the 1×1×h×w plane xv at the reference and
 * AVX2 levels: the four outputs must be want (NaN: a NaN). */
static void check_maxpool_2x2(float *xv, int64_t h, int64_t w, int64_t s,
                              const float want[4])
{
    static const mn_isa lv[] = {MN_ISA_REF, MN_ISA_AVX2};
    mn_tensor x = {.dtype = MN_DT_F32, .ndim = 4, .dims = {1, 1, h, w},
                   .data = xv};
    const mn_tensor *in[1] = {&x};
    for (size_t l = 0; l < sizeof lv / sizeof lv[0]; l++) {
        mn_node nd;
        mn_ctx ctx = {{0}};
        mn_tensor out[1];
        mn_isa_force(lv[l]);
        otu_node(&nd, "MaxPool");
        otu_ints(&nd, "kernel_shape", (int64_t[]){2, 2}, 2);
        if (s != 1)
            otu_ints(&nd, "strides", (int64_t[]){s, s}, 2);
        CHECK_OK(otu_run(&mn_opdef_maxpool, &nd, in, 1, out, 1, &ctx), &ctx);
        const float *y = out[0].data;
        CHECK_EQ_INT(out[0].dims[3], 2);
        for (int k = 0; y && k < 4; k++)
            CHECK(want[k] != want[k] ? y[k] != y[k] : y[k] == want[k]);
        otu_out_free(out, 1);
        otu_node_free(&nd);
    }
    mn_isa_force(MN_ISA_COUNT);
}

/* NaN in MaxPool as the tap scan defines it (first tap NaN → NaN, later
 * NaNs skipped), through the row-wise float32 path at each ISA level:
 * 2×2 windows, stride 1, over
 *   [ 1  N  3 ]       window (0,0): 1 N / 4 5 → 5 (N skipped)
 *   [ 4  5  N ]       window (0,1): N 3 / 5 N → NaN (first tap)
 *   [ N  8  2 ]       window (1,0): 4 5 / N 8 → 8;  (1,1): 5 N / 8 2 → 8 */
TEST(maxpool_f32_nan_as_tap_scan)
{
    float xv[9] = {1, NAN, 3, 4, 5, NAN, NAN, 8, 2};
    check_maxpool_2x2(xv, 3, 3, 1, (const float[4]){5, NAN, 8, 8});
}

/* The same rule through the 2×2/2 shortcut, over
 *   [ 1  N  3  4 ]    window (0,0): 1 N / 4 5 → 5;  (0,1): 3 4 / N 1 → 4
 *   [ 4  5  N  1 ]    window (1,0): N 8 / 7 6 → NaN (first tap)
 *   [ N  8  2  9 ]    window (1,1): 2 9 / 5 N → 9
 *   [ 7  6  5  N ]  (and a 5-wide copy whose last column no window reads) */
TEST(maxpool_f32_2x2_stride2_nan_as_tap_scan)
{
    const float v[16] = {1, NAN, 3, 4, 4, 5, NAN, 1,
                         NAN, 8, 2, 9, 7, 6, 5, NAN};
    float xv[20];
    for (int wide = 0; wide < 2; wide++) {
        int w = 4 + wide;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < w; c++)
                xv[r * w + c] = c < 4 ? v[r * 4 + c] : 100.0f;
        check_maxpool_2x2(xv, 4, w, 2, (const float[4]){5, 4, NAN, 9});
    }
}

/* The stride-2 row kernel (hmax2f) on rows wide enough for its vector
 * steps, windows of 2-4 taps with and without padding, about 8 % NaN:
 * the tap scan's NaN rule and maxima at every ISA level. */
TEST(maxpool_f32_stride2_wide_rows_nan)
{
    static const mn_isa lv[] = {MN_ISA_REF, MN_ISA_AVX2, MN_ISA_AVX512};
    otu_seed(58);
    for (int it = 0; it < 24; it++) {
        pool_case pc = {.nsp = 2, .n = 1, .c = 2};
        pc.in[0] = otu_int(3, 9), pc.in[1] = otu_int(20, 75);
        for (int a = 0; a < 2; a++) {
            pc.k[a] = otu_int(2, 4), pc.s[a] = 2, pc.d[a] = 1;
            pc.pb[a] = it % 2 ? otu_int(0, pc.k[a] - 1) : 0;
            pc.pe[a] = it % 3 ? otu_int(0, pc.k[a] - 1) : 0;
        }
        int64_t out[2];
        if (!pool_geometry(&pc, out))
            continue;
        int64_t nx = pc.c * pc.in[0] * pc.in[1], ny = pc.c * out[0] * out[1];
        float *xv = malloc((size_t)nx * sizeof *xv);
        double *want = malloc((size_t)ny * sizeof *want);
        for (int64_t i = 0; xv && i < nx; i++)
            xv[i] = otu_int(0, 99) < 8 ? NAN : otu_float();
        if (!xv || !want) {
            CHECK(0);
            free(xv), free(want);
            return;
        }
        naive_pool(&pc, out, 1, xv, want, NULL);
        mn_tensor x = {.dtype = MN_DT_F32, .ndim = 4,
                       .dims = {1, pc.c, pc.in[0], pc.in[1]}, .data = xv};
        const mn_tensor *in[1] = {&x};
        for (size_t l = 0; l < sizeof lv / sizeof lv[0]; l++) {
            mn_node nd;
            mn_ctx ctx = {{0}};
            mn_tensor o[1];
            mn_isa_force(lv[l]);
            pool_attrs(&nd, &pc, 1);
            CHECK_OK(otu_run(&mn_opdef_maxpool, &nd, in, 1, o, 1, &ctx),
                     &ctx);
            const float *y = o[0].data;
            int bad = 0;
            for (int64_t i = 0; y && i < ny; i++)
                bad += want[i] != want[i] ? y[i] == y[i]
                                          : (double)y[i] != want[i];
            if (bad)
                mn_test_fail(__FILE__, __LINE__,
                             "maxpool %lldx%lld k%lldx%lld pads %lld,%lld "
                             "level %d: %d wrong",
                             (long long)pc.in[0], (long long)pc.in[1],
                             (long long)pc.k[0], (long long)pc.k[1],
                             (long long)pc.pb[1], (long long)pc.pe[1],
                             (int)lv[l], bad);
            otu_out_free(o, 1);
            otu_node_free(&nd);
        }
        mn_isa_force(MN_ISA_COUNT);
        free(xv), free(want);
    }
}

TEST(globalavgpool_mean)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    otu_seed(14);
    otu_node(&nd, "GlobalAveragePool");
    mn_tensor *x = otu_random(MN_DT_F32, 4, (int64_t[]){2, 3, 5, 7});
    const mn_tensor *in[1] = {x};
    CHECK_OK(otu_run(&mn_opdef_globalavgpool, &nd, in, 1, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out[0].ndim, 4);
    CHECK_EQ_INT(out[0].dims[1], 3);
    CHECK_EQ_INT(out[0].dims[2], 1);
    CHECK_EQ_INT(out[0].dims[3], 1);
    for (int p = 0; out[0].data && p < 6; p++) {
        double s = 0;
        for (int i = 0; i < 35; i++)
            s += ((float *)x->data)[p * 35 + i];
        CHECK_NEAR(((float *)out[0].data)[p], s / 35, 1e-6);
    }
    otu_out_free(out, 1);
    mn_tensor_destroy(x);
    otu_node_free(&nd);
}

/* GlobalAveragePool sums as ReduceMean does (mn_sum_run_f32: element j
 * into chain j % 16 in double, a tail into chain 0, a pairwise tree):
 * the same bits at the reference level and with AVX-512 (two vectors of
 * 8 chains), on planes with and without tails. */
TEST(gap_sum_order_same_bits_every_level)
{
    static const int64_t hw[][2] = {{1, 1}, {3, 5}, {4, 4}, {7, 7},
                                    {5, 13}, {14, 14}, {56, 57}};
    mn_ctx ctx = {{0}};
    mn_node nd;
    otu_seed(15);
    otu_node(&nd, "GlobalAveragePool");
    for (size_t c = 0; c < sizeof hw / sizeof *hw; c++) {
        int64_t sz = hw[c][0] * hw[c][1];
        mn_tensor *x = otu_random(MN_DT_F32, 4,
                                  (int64_t[]){1, 3, hw[c][0], hw[c][1]});
        const mn_tensor *in[1] = {x};
        for (int64_t i = 0; i < 3 * sz; i++) /* spread the magnitudes */
            ((float *)x->data)[i] *= (float)(1 + i % 1000);
        float want[3];
        for (int p = 0; p < 3; p++) {
            const float *xp = (const float *)x->data + p * sz;
            double ch[16] = {0};
            int64_t j = 0;
            for (; j + 16 <= sz; j += 16)
                for (int k = 0; k < 16; k++)
                    ch[k] += xp[j + k];
            for (; j < sz; j++)
                ch[0] += xp[j];
            for (int w = 8; w >= 1; w /= 2)
                for (int k = 0; k < w; k++)
                    ch[k] = ch[k] + ch[k + w];
            want[p] = (float)(ch[0] / (double)sz);
        }
        for (int lv = MN_ISA_REF; lv < MN_ISA_COUNT; lv++) {
            if (mn_isa_force((mn_isa)lv) != (mn_isa)lv)
                continue;
            mn_tensor out[1];
            CHECK_OK(otu_run(&mn_opdef_globalavgpool, &nd, in, 1, out, 1,
                             &ctx), &ctx);
            for (int p = 0; out[0].data && p < 3; p++)
                CHECK(memcmp(&((float *)out[0].data)[p], &want[p], 4) == 0);
            otu_out_free(out, 1);
        }
        mn_isa_force(MN_ISA_COUNT);
        mn_tensor_destroy(x);
    }
    otu_node_free(&nd);
}

TEST(pool_infer_errors)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor x = {.dtype = MN_DT_F32, .ndim = 4, .dims = {1, 2, 5, 5}};
    mn_tensor o[2], *op[2] = {&o[0], &o[1]};
    const mn_tensor *in[1] = {&x};
    otu_node(&nd, "MaxPool"); /* no kernel_shape */
    CHECK_EQ_INT(mn_opdef_maxpool.infer(&nd, in, 1, op, 1, &ctx), MN_ERR_SHAPE);
    otu_ints(&nd, "kernel_shape", (int64_t[]){3, 3}, 2);
    CHECK_EQ_INT(mn_opdef_maxpool.infer(&nd, in, 1, op, 2, &ctx), MN_OK);
    CHECK_EQ_INT(o[1].dtype, MN_DT_I64);
    CHECK_EQ_INT(o[1].dims[3], 3);
    otu_int_attr(&nd, "storage_order", 2);
    CHECK_EQ_INT(mn_opdef_maxpool.infer(&nd, in, 1, op, 1, &ctx), MN_ERR_SHAPE);
    otu_node_free(&nd);
    otu_node(&nd, "AveragePool");
    otu_ints(&nd, "kernel_shape", (int64_t[]){3, 6}, 2); /* wider than 5 */
    CHECK_EQ_INT(mn_opdef_avgpool.infer(&nd, in, 1, op, 1, &ctx), MN_ERR_SHAPE);
    otu_node_free(&nd);
    otu_node(&nd, "AveragePool");
    otu_ints(&nd, "kernel_shape", (int64_t[]){3}, 1); /* rank mismatch */
    CHECK_EQ_INT(mn_opdef_avgpool.infer(&nd, in, 1, op, 1, &ctx), MN_ERR_SHAPE);
    x.ndim = 2;
    CHECK_EQ_INT(mn_opdef_globalavgpool.infer(&nd, in, 1, op, 1, &ctx),
                 MN_ERR_SHAPE);
    x.ndim = 4;
    x.dtype = MN_DT_U8; /* AveragePool is float only */
    CHECK_EQ_INT(mn_opdef_avgpool.infer(&nd, in, 1, op, 1, &ctx),
                 MN_ERR_UNSUPPORTED);
    otu_node_free(&nd);
}
