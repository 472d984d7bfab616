/* Unit tests for QLinearConv, ConvInteger, QLinearMatMul and MatMulInteger:
 * bit-exact against naive integer loops (int64 sums, requantization with
 * round-half-to-even) over uint8/int8 combinations, per-channel / per-row /
 * per-column zero points and scales, groups, depthwise, padding and
 * batching; the ONNX QLinearMatMul example; and shape-inference errors. */
#include "test.h"
#include "ops_test_util.h"

extern const mn_op_def mn_opdef_qlinearconv, mn_opdef_convinteger,
    mn_opdef_qlinearmatmul, mn_opdef_matmulinteger;

static mn_dtype q8(int sgn) { return sgn ? MN_DT_I8 : MN_DT_U8; }

/* A 1-element (or n-element) zero point of dtype dt with random values. */
static mn_tensor *zp_tensor(mn_dtype dt, int64_t n)
{
    return n == 1 ? otu_random(dt, 0, NULL) : otu_random(dt, 1, &n);
}

static mn_tensor *scale_tensor(int64_t n, float lo, float hi)
{
    mn_tensor *t = n == 1 ? otu_tensor(MN_DT_F32, 0, NULL)
                          : otu_tensor(MN_DT_F32, 1, &n);
    for (int64_t i = 0; t && i < n; i++)
        ((float *)t->data)[i] = lo + (hi - lo) * (otu_float() + 1) / 2;
    return t;
}

static int64_t requant(int64_t acc, float xs, float ws, float ys, int64_t zp,
                       int sgn)
{
    /* float32 throughout, as ONNX Runtime's x86 requantization */
    float m = (float)(xs * ws) / ys, v = (float)acc * m;
    float lo = (float)((sgn ? -128 : 0) - zp), hi = (float)((sgn ? 127 : 255) - zp);
    v = v < lo ? lo : v > hi ? hi : v;
    return (int64_t)nearbyintf(v) + zp;
}

/* ---- convolutions ---- */

typedef struct qconv_case {
    int64_t n, c, h, w, m, kh, kw, s, d, pt, pl, pb, pr, group;
    int xs, ws, ys;          /* signedness of x, w, y */
    int per_channel, bias;
} qconv_case;

static qconv_case random_qconv(int kind)
{
    qconv_case q = {.n = otu_int(1, 2), .h = otu_int(1, 9), .w = otu_int(1, 9),
                    .kh = otu_int(1, 3), .kw = otu_int(1, 3),
                    .s = otu_int(1, 2), .d = otu_int(1, 2),
                    .pt = otu_int(0, 2), .pl = otu_int(0, 2),
                    .pb = otu_int(0, 2), .pr = otu_int(0, 2)};
    q.group = kind == 0 ? 1 : otu_int(2, 3);
    q.c = q.group * otu_int(1, 3);
    q.m = q.group * otu_int(1, 3);
    if (kind == 2) { /* depthwise */
        q.c = q.group = otu_int(2, 5);
        q.m = q.c * otu_int(1, 2);
    }
    q.xs = (int)otu_int(0, 1);
    q.ws = (int)otu_int(0, 1);
    q.ys = (int)otu_int(0, 1);
    q.per_channel = (int)otu_int(0, 1);
    q.bias = (int)otu_int(0, 1);
    return q;
}

/* Σ (x - xzp)(w - wzp[m]) per output, padding contributing 0. */
static void naive_qconv(const qconv_case *q, int64_t oh, int64_t ow,
                        const mn_tensor *x, int64_t xzp, const mn_tensor *w,
                        const mn_tensor *wzp, int64_t *acc)
{
    int64_t cg = q->c / q->group, mg = q->m / q->group;
    for (int64_t n = 0; n < q->n; n++)
        for (int64_t m = 0; m < q->m; m++)
            for (int64_t i = 0; i < oh * ow; i++) {
                int64_t s = 0, zw = wzp ? mn_tensor_get_i64(
                                              wzp, mn_tensor_numel(wzp) > 1 ? m : 0)
                                        : 0;
                for (int64_t c = 0; c < cg; c++)
                    for (int64_t ki = 0; ki < q->kh; ki++)
                        for (int64_t kj = 0; kj < q->kw; kj++) {
                            int64_t ih = i / ow * q->s - q->pt + ki * q->d;
                            int64_t iw = i % ow * q->s - q->pl + kj * q->d;
                            if (ih < 0 || ih >= q->h || iw < 0 || iw >= q->w)
                                continue;
                            int64_t xv = mn_tensor_get_i64(
                                x, ((n * q->c + m / mg * cg + c) * q->h + ih) *
                                       q->w + iw);
                            int64_t wv = mn_tensor_get_i64(
                                w, ((m * cg + c) * q->kh + ki) * q->kw + kj);
                            s += (xv - xzp) * (wv - zw);
                        }
                acc[(n * q->m + m) * oh * ow + i] = s;
            }
}

static void check_qconv(qconv_case q, int qlinear)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    int64_t sh = q.h + q.pt + q.pb - q.d * (q.kh - 1) - 1;
    int64_t sw = q.w + q.pl + q.pr - q.d * (q.kw - 1) - 1;
    if (sh < 0 || sw < 0)
        return;
    int64_t oh = sh / q.s + 1, ow = sw / q.s + 1;
    otu_node(&nd, qlinear ? "QLinearConv" : "ConvInteger");
    otu_ints(&nd, "strides", (int64_t[]){q.s, q.s}, 2);
    otu_ints(&nd, "dilations", (int64_t[]){q.d, q.d}, 2);
    otu_ints(&nd, "pads", (int64_t[]){q.pt, q.pl, q.pb, q.pr}, 4);
    otu_int_attr(&nd, "group", q.group);
    int64_t nch = q.per_channel ? q.m : 1;
    mn_tensor *x = otu_random(q8(q.xs), 4, (int64_t[]){q.n, q.c, q.h, q.w});
    mn_tensor *w = otu_random(q8(q.ws), 4,
                              (int64_t[]){q.m, q.c / q.group, q.kh, q.kw});
    mn_tensor *xz = zp_tensor(q8(q.xs), 1), *wz = zp_tensor(q8(q.ws), nch);
    mn_tensor *yz = zp_tensor(q8(q.ys), 1);
    mn_tensor *xsc = scale_tensor(1, 0.01f, 0.05f);
    mn_tensor *wsc = scale_tensor(nch, 0.002f, 0.01f);
    mn_tensor *ysc = scale_tensor(1, 0.05f, 0.5f);
    mn_tensor *b = q.bias ? otu_tensor(MN_DT_I32, 1, &q.m) : NULL;
    for (int64_t i = 0; b && i < q.m; i++)
        ((int32_t *)b->data)[i] = (int32_t)otu_int(-20000, 20000);
    const mn_tensor *qin[9] = {x, xsc, xz, w, wsc, wz, ysc, yz, b};
    const mn_tensor *cin[4] = {x, w, xz, wz};
    mn_status st = qlinear ? otu_run(&mn_opdef_qlinearconv, &nd, qin,
                                     q.bias ? 9 : 8, out, 1, &ctx)
                           : otu_run(&mn_opdef_convinteger, &nd, cin, 4, out,
                                     1, &ctx);
    CHECK_OK(st, &ctx);
    int64_t ny = q.n * q.m * oh * ow;
    int64_t *acc = malloc((size_t)ny * sizeof *acc);
    if (acc && st == MN_OK && mn_tensor_numel(&out[0]) == ny) {
        CHECK_EQ_INT(out[0].dtype, qlinear ? q8(q.ys) : MN_DT_I32);
        naive_qconv(&q, oh, ow, x, mn_tensor_get_i64(xz, 0), w, wz, acc);
        int bad = 0;
        for (int64_t i = 0; i < ny; i++) {
            int64_t m = i / (oh * ow) % q.m, want = acc[i];
            if (qlinear)
                want = requant(acc[i] + (b ? ((int32_t *)b->data)[m] : 0),
                               ((float *)xsc->data)[0],
                               ((float *)wsc->data)[nch > 1 ? m : 0],
                               ((float *)ysc->data)[0],
                               mn_tensor_get_i64(yz, 0), q.ys);
            bad += mn_tensor_get_i64(&out[0], i) != want;
        }
        if (bad)
            mn_test_fail(__FILE__, __LINE__,
                         "%s c%lld m%lld g%lld %lldx%lld k%lldx%lld: %d wrong",
                         qlinear ? "QLinearConv" : "ConvInteger",
                         (long long)q.c, (long long)q.m, (long long)q.group,
                         (long long)q.h, (long long)q.w, (long long)q.kh,
                         (long long)q.kw, bad);
    }
    free(acc);
    otu_out_free(out, 1);
    mn_tensor *all[] = {x, w, xz, wz, yz, xsc, wsc, ysc, b};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        mn_tensor_destroy(all[i]);
    otu_node_free(&nd);
}

TEST(qlinearconv_random_exact)
{
    otu_seed(21);
    for (int it = 0; it < 150; it++)
        check_qconv(random_qconv(it % 3), 1);
    qconv_case big = {.n = 1, .c = 64, .h = 12, .w = 11, .m = 9, .kh = 3,
                      .kw = 3, .s = 1, .d = 1, .pt = 1, .pl = 1, .pb = 1,
                      .pr = 1, .group = 1, .per_channel = 1, .bias = 1};
    check_qconv(big, 1);
}

TEST(convinteger_random_exact)
{
    otu_seed(22);
    for (int it = 0; it < 150; it++)
        check_qconv(random_qconv(it % 3), 0);
}

TEST(qconv_infer_errors)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor x = {.dtype = MN_DT_U8, .ndim = 4, .dims = {1, 4, 5, 5}};
    mn_tensor w = {.dtype = MN_DT_I8, .ndim = 4, .dims = {3, 4, 3, 3}};
    mn_tensor s1 = {.dtype = MN_DT_F32, .ndim = 0};
    mn_tensor zx = {.dtype = MN_DT_U8, .ndim = 0};
    mn_tensor zw = {.dtype = MN_DT_I8, .ndim = 1, .dims = {2}};
    mn_tensor zy = {.dtype = MN_DT_U8, .ndim = 0};
    mn_tensor o = {0}, *op = &o;
    const mn_tensor *in[8] = {&x, &s1, &zx, &w, &s1, &zw, &s1, &zy};
    otu_node(&nd, "QLinearConv");
    /* 2 weight zero points for 3 output channels */
    CHECK_EQ_INT(mn_opdef_qlinearconv.infer(&nd, in, 8, &op, 1, &ctx),
                 MN_ERR_SHAPE);
    zw.dims[0] = 3;
    CHECK_EQ_INT(mn_opdef_qlinearconv.infer(&nd, in, 8, &op, 1, &ctx), MN_OK);
    CHECK_EQ_INT(o.dtype, MN_DT_U8);
    CHECK_EQ_INT(o.dims[1], 3);
    zx.dtype = MN_DT_I8; /* x zero point must have x's type */
    CHECK_EQ_INT(mn_opdef_qlinearconv.infer(&nd, in, 8, &op, 1, &ctx),
                 MN_ERR_SHAPE);
    zx.dtype = MN_DT_U8;
    w.dims[1] = 3; /* channel mismatch */
    CHECK_EQ_INT(mn_opdef_qlinearconv.infer(&nd, in, 8, &op, 1, &ctx),
                 MN_ERR_SHAPE);
    /* a reduction too long for exact int32 accumulation */
    x.dims[1] = w.dims[1] = 40000;
    x.dims[2] = x.dims[3] = w.dims[2] = w.dims[3] = 1;
    CHECK_EQ_INT(mn_opdef_convinteger.infer(&nd, in + 0, 1, &op, 1, &ctx),
                 MN_ERR_SHAPE); /* only x: w missing */
    const mn_tensor *cin[2] = {&x, &w};
    CHECK_EQ_INT(mn_opdef_convinteger.infer(&nd, cin, 2, &op, 1, &ctx),
                 MN_ERR_UNSUPPORTED);
    x.dtype = MN_DT_F32;
    x.dims[1] = w.dims[1] = 4;
    CHECK_EQ_INT(mn_opdef_convinteger.infer(&nd, cin, 2, &op, 1, &ctx),
                 MN_ERR_UNSUPPORTED);
    otu_node_free(&nd);
}

/* ---- matrix multiplies ---- */

/* The ONNX QLinearMatMul example (2-D, uint8, per tensor). */
TEST(qlinearmatmul_onnx_example)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    uint8_t av[8] = {208, 236, 0, 238, 3, 214, 255, 29};
    uint8_t bv[12] = {152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247};
    float as = 0.0066f, bs = 0.00705f, ys = 0.0107f;
    uint8_t az = 113, bz = 114, yz = 118;
    static const uint8_t want[6] = {168, 115, 255, 1, 66, 151};
    mn_tensor a = {.dtype = MN_DT_U8, .ndim = 2, .dims = {2, 4}, .data = av};
    mn_tensor b = {.dtype = MN_DT_U8, .ndim = 2, .dims = {4, 3}, .data = bv};
    mn_tensor tas = {.dtype = MN_DT_F32, .ndim = 1, .dims = {1}, .data = &as};
    mn_tensor tbs = {.dtype = MN_DT_F32, .ndim = 1, .dims = {1}, .data = &bs};
    mn_tensor tys = {.dtype = MN_DT_F32, .ndim = 1, .dims = {1}, .data = &ys};
    mn_tensor taz = {.dtype = MN_DT_U8, .ndim = 1, .dims = {1}, .data = &az};
    mn_tensor tbz = {.dtype = MN_DT_U8, .ndim = 1, .dims = {1}, .data = &bz};
    mn_tensor tyz = {.dtype = MN_DT_U8, .ndim = 1, .dims = {1}, .data = &yz};
    const mn_tensor *in[8] = {&a, &tas, &taz, &b, &tbs, &tbz, &tys, &tyz};
    otu_node(&nd, "QLinearMatMul");
    CHECK_OK(otu_run(&mn_opdef_qlinearmatmul, &nd, in, 8, out, 1, &ctx), &ctx);
    for (int i = 0; out[0].data && i < 6; i++)
        CHECK_EQ_INT(((uint8_t *)out[0].data)[i], want[i]);
    otu_out_free(out, 1);
    otu_node_free(&nd);
}

/* a [.., m, k] x b [k, n] (or batched b); per-row a / per-column b params
 * when per != 0. */
static void check_qmatmul(int ar, const int64_t *ad, int br, const int64_t *bd,
                          int per, int qlinear)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    int sa = (int)otu_int(0, 1), sb = (int)otu_int(0, 1), sy = (int)otu_int(0, 1);
    int64_t m = ad[ar - 2], k = ad[ar - 1], n = bd[br - 1];
    int64_t nbatch = 1;
    for (int i = 0; i < ar - 2; i++)
        nbatch *= ad[i];
    mn_tensor *a = otu_random(q8(sa), ar, ad), *b = otu_random(q8(sb), br, bd);
    mn_tensor *az = zp_tensor(q8(sa), per ? m : 1);
    mn_tensor *bz = zp_tensor(q8(sb), per ? n : 1);
    mn_tensor *yz = zp_tensor(q8(sy), 1);
    mn_tensor *as = scale_tensor(per ? m : 1, 0.01f, 0.05f);
    mn_tensor *bs = scale_tensor(per ? n : 1, 0.01f, 0.05f);
    mn_tensor *ys = scale_tensor(1, 0.02f, 0.3f);
    const mn_tensor *qin[8] = {a, as, az, b, bs, bz, ys, yz};
    const mn_tensor *iin[4] = {a, b, az, bz};
    otu_node(&nd, qlinear ? "QLinearMatMul" : "MatMulInteger");
    mn_status st = otu_run(qlinear ? &mn_opdef_qlinearmatmul
                                   : &mn_opdef_matmulinteger,
                           &nd, qlinear ? qin : iin, qlinear ? 8 : 4, out, 1,
                           &ctx);
    CHECK_OK(st, &ctx);
    CHECK_EQ_INT(mn_tensor_numel(&out[0]), nbatch * m * n);
    int bad = 0;
    int64_t bmat = br > 2 ? k * n : 0; /* b batched along with a */
    for (int64_t t = 0; st == MN_OK && t < nbatch; t++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t acc = 0;
                int64_t zi = mn_tensor_get_i64(az, per ? i : 0);
                int64_t zj = mn_tensor_get_i64(bz, per ? j : 0);
                for (int64_t p = 0; p < k; p++)
                    acc += (mn_tensor_get_i64(a, (t * m + i) * k + p) - zi) *
                           (mn_tensor_get_i64(b, t * bmat + p * n + j) - zj);
                int64_t want = acc;
                if (qlinear)
                    want = requant(acc, ((float *)as->data)[per ? i : 0],
                                   ((float *)bs->data)[per ? j : 0],
                                   ((float *)ys->data)[0],
                                   mn_tensor_get_i64(yz, 0), sy);
                bad += mn_tensor_get_i64(&out[0], (t * m + i) * n + j) != want;
            }
    CHECK_EQ_INT(bad, 0);
    otu_out_free(out, 1);
    mn_tensor *all[] = {a, b, az, bz, yz, as, bs, ys};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        mn_tensor_destroy(all[i]);
    otu_node_free(&nd);
}

TEST(qmatmul_random_exact)
{
    otu_seed(23);
    for (int q = 0; q < 2; q++)
        for (int per = 0; per < 2; per++) {
            check_qmatmul(2, (int64_t[]){5, 7}, 2, (int64_t[]){7, 3}, per, q);
            check_qmatmul(3, (int64_t[]){3, 4, 9}, 2, (int64_t[]){9, 6}, per,
                          q);
            check_qmatmul(3, (int64_t[]){2, 3, 300}, 3,
                          (int64_t[]){2, 300, 257}, per, q);
            check_qmatmul(2, (int64_t[]){1, 1}, 2, (int64_t[]){1, 1}, per, q);
        }
}

/* The product is rounded to float32 before the rounding to an integer,
 * as in ONNX Runtime: 30588 · 0x1.b0cb02p-10 is 50.5000010 in double but
 * exactly 50.5 in float32, so the result is 50 (half to even), not 51.
 * QLinearConv through its bias (1·1 + 30587) and QLinearMatMul through
 * its sum (252·121 + 96·1). */
TEST(qlinear_requantizes_in_float32)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    uint32_t mbits = 0x3ad86581u;
    float one = 1.0f, mult;
    memcpy(&mult, &mbits, 4);
    uint8_t xv[2] = {252, 96}, zero8 = 0;
    int8_t wv[2] = {121, 1};
    int32_t bias = 30587;
    mn_tensor x = {.dtype = MN_DT_U8, .ndim = 4, .dims = {1, 1, 1, 1},
                   .data = xv};
    mn_tensor w = {.dtype = MN_DT_I8, .ndim = 4, .dims = {1, 1, 1, 1},
                   .data = wv};
    uint8_t one8 = 1;
    mn_tensor x1 = {.dtype = MN_DT_U8, .ndim = 4, .dims = {1, 1, 1, 1},
                    .data = &one8};
    int8_t w1 = 1;
    mn_tensor wc = {.dtype = MN_DT_I8, .ndim = 4, .dims = {1, 1, 1, 1},
                    .data = &w1};
    mn_tensor s1 = {.dtype = MN_DT_F32, .ndim = 0, .data = &one};
    mn_tensor sm = {.dtype = MN_DT_F32, .ndim = 0, .data = &mult};
    mn_tensor zx = {.dtype = MN_DT_U8, .ndim = 0, .data = &zero8};
    int8_t zero_s = 0;
    mn_tensor zw = {.dtype = MN_DT_I8, .ndim = 0, .data = &zero_s};
    mn_tensor b = {.dtype = MN_DT_I32, .ndim = 1, .dims = {1}, .data = &bias};
    const mn_tensor *in[9] = {&x1, &s1, &zx, &wc, &sm, &zw, &s1, &zx, &b};
    otu_node(&nd, "QLinearConv");
    CHECK_OK(otu_run(&mn_opdef_qlinearconv, &nd, in, 9, out, 1, &ctx), &ctx);
    if (out[0].data)
        CHECK_EQ_INT(((uint8_t *)out[0].data)[0], 50);
    otu_out_free(out, 1);
    otu_node_free(&nd);
    /* [1,2] x [2,1] */
    x.ndim = w.ndim = 2;
    x.dims[0] = 1, x.dims[1] = 2;
    w.dims[0] = 2, w.dims[1] = 1;
    const mn_tensor *mm[8] = {&x, &s1, &zx, &w, &sm, &zw, &s1, &zx};
    otu_node(&nd, "QLinearMatMul");
    CHECK_OK(otu_run(&mn_opdef_qlinearmatmul, &nd, mm, 8, out, 1, &ctx), &ctx);
    if (out[0].data)
        CHECK_EQ_INT(((uint8_t *)out[0].data)[0], 50);
    otu_out_free(out, 1);
    otu_node_free(&nd);
}

/* Requantization ties go to even: with a multiplier of exactly 0.5, acc =
 * ±1, ±3, ±5 lands on .5 (round() would move every one of them away from
 * zero). QLinearConv 1x1 and QLinearMatMul over the same values. */
TEST(qlinear_rounds_half_to_even)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    uint8_t xv[6] = {11, 13, 15, 9, 7, 5}, wv = 1, xz = 10, wz = 0, yz = 100;
    float one = 1.0f, half = 0.5f;
    static const uint8_t want[6] = {100, 102, 102, 100, 98, 98};
    mn_tensor x = {.dtype = MN_DT_U8, .ndim = 4, .dims = {1, 1, 1, 6},
                   .data = xv};
    mn_tensor w = {.dtype = MN_DT_U8, .ndim = 4, .dims = {1, 1, 1, 1},
                   .data = &wv};
    mn_tensor s1 = {.dtype = MN_DT_F32, .ndim = 0, .data = &one};
    mn_tensor sh = {.dtype = MN_DT_F32, .ndim = 0, .data = &half};
    mn_tensor zx = {.dtype = MN_DT_U8, .ndim = 0, .data = &xz};
    mn_tensor zw = {.dtype = MN_DT_U8, .ndim = 0, .data = &wz};
    mn_tensor zy = {.dtype = MN_DT_U8, .ndim = 0, .data = &yz};
    const mn_tensor *in[8] = {&x, &s1, &zx, &w, &sh, &zw, &s1, &zy};
    otu_node(&nd, "QLinearConv");
    CHECK_OK(otu_run(&mn_opdef_qlinearconv, &nd, in, 8, out, 1, &ctx), &ctx);
    for (int i = 0; out[0].data && i < 6; i++)
        CHECK_EQ_INT(((uint8_t *)out[0].data)[i], want[i]);
    otu_out_free(out, 1);
    otu_node_free(&nd);
    /* the same as a [6,1] x [1,1] QLinearMatMul */
    x.ndim = 2;
    x.dims[0] = 6;
    x.dims[1] = 1;
    w.ndim = 2;
    w.dims[0] = w.dims[1] = 1;
    otu_node(&nd, "QLinearMatMul");
    CHECK_OK(otu_run(&mn_opdef_qlinearmatmul, &nd, in, 8, out, 1, &ctx), &ctx);
    for (int i = 0; out[0].data && i < 6; i++)
        CHECK_EQ_INT(((uint8_t *)out[0].data)[i], want[i]);
    otu_out_free(out, 1);
    otu_node_free(&nd);
}

/* a_zero_point of shape [2,3,1] for a [2,3,4]: one per row of each matrix. */
TEST(matmulinteger_per_matrix_row_zero_points)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    otu_seed(24);
    mn_tensor *a = otu_random(MN_DT_U8, 3, (int64_t[]){2, 3, 4});
    mn_tensor *b = otu_random(MN_DT_I8, 2, (int64_t[]){4, 5});
    mn_tensor *za = otu_random(MN_DT_U8, 3, (int64_t[]){2, 3, 1});
    const mn_tensor *in[3] = {a, b, za};
    otu_node(&nd, "MatMulInteger");
    CHECK_OK(otu_run(&mn_opdef_matmulinteger, &nd, in, 3, out, 1, &ctx), &ctx);
    int bad = 0;
    for (int64_t r = 0; out[0].data && r < 6; r++)
        for (int64_t j = 0; j < 5; j++) {
            int64_t acc = 0, z = ((uint8_t *)za->data)[r];
            for (int64_t p = 0; p < 4; p++)
                acc += (((uint8_t *)a->data)[r * 4 + p] - z) *
                       ((int8_t *)b->data)[p * 5 + j];
            bad += ((int32_t *)out[0].data)[r * 5 + j] != acc;
        }
    CHECK_EQ_INT(bad, 0);
    otu_out_free(out, 1);
    mn_tensor_destroy(a);
    mn_tensor_destroy(b);
    mn_tensor_destroy(za);
    otu_node_free(&nd);
}

TEST(qmatmul_infer_errors)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor a = {.dtype = MN_DT_U8, .ndim = 2, .dims = {4, 5}};
    mn_tensor b = {.dtype = MN_DT_I8, .ndim = 2, .dims = {5, 3}};
    mn_tensor za = {.dtype = MN_DT_U8, .ndim = 1, .dims = {3}};
    mn_tensor zb = {.dtype = MN_DT_I8, .ndim = 1, .dims = {3}};
    mn_tensor o = {0}, *op = &o;
    const mn_tensor *in[4] = {&a, &b, &za, &zb};
    otu_node(&nd, "MatMulInteger");
    /* a has 4 rows: 3 zero points are neither per tensor nor per row */
    CHECK_EQ_INT(mn_opdef_matmulinteger.infer(&nd, in, 4, &op, 1, &ctx),
                 MN_ERR_UNSUPPORTED);
    za.dims[0] = 4;
    CHECK_EQ_INT(mn_opdef_matmulinteger.infer(&nd, in, 4, &op, 1, &ctx),
                 MN_OK);
    CHECK_EQ_INT(o.dtype, MN_DT_I32);
    b.dims[0] = 6;
    CHECK_EQ_INT(mn_opdef_matmulinteger.infer(&nd, in, 2, &op, 1, &ctx),
                 MN_ERR_SHAPE);
    otu_node_free(&nd);
}
