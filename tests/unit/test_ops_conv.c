/* Unit tests for Conv, Gemm, MatMul and BatchNormalization: each forward
 * against an independent naive implementation (direct loops in double) on
 * random shapes — odd sizes, strides, dilations, asymmetric padding,
 * auto_pad, groups, depthwise with multipliers, GEMM blocking edges — and
 * the shape-inference errors. */
#include "test.h"
#include "ops_test_util.h"

extern const mn_op_def mn_opdef_conv, mn_opdef_gemm, mn_opdef_matmul,
    mn_opdef_batchnorm;

TEST(conv_family_op_table)
{
    CHECK(mn_op_get(MN_OP_CONV) == &mn_opdef_conv);
    CHECK(mn_op_get(MN_OP_GEMM) == &mn_opdef_gemm);
    CHECK(mn_op_get(MN_OP_MATMUL) == &mn_opdef_matmul);
    CHECK(mn_op_get(MN_OP_BATCHNORM) == &mn_opdef_batchnorm);
    CHECK_EQ_INT(mn_op_lookup("", "Conv"), MN_OP_CONV);
    CHECK_EQ_INT(mn_op_lookup("ai.onnx", "BatchNormalization"),
                 MN_OP_BATCHNORM);
}

/* ---- Conv ---- */

typedef struct conv_case {
    int nsp;                       /* 1 or 2 spatial axes */
    int64_t n, c, h, w, m, kh, kw; /* h = kh = 1 for 1-D */
    int64_t sh, sw, dh, dw, pt, pl, pb, pr, group;
    int bias, give_kernel_shape;
    const char *auto_pad;          /* NULL: explicit pads */
} conv_case;

static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t d,
                        int64_t p0, int64_t p1)
{
    int64_t span = in + p0 + p1 - d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

/* Resolves auto_pad into explicit pads (ONNX rule), for the naive side. */
static void resolve_auto_pad(conv_case *cc)
{
    int64_t in[2] = {cc->h, cc->w}, k[2] = {cc->kh, cc->kw};
    int64_t s[2] = {cc->sh, cc->sw}, d[2] = {cc->dh, cc->dw};
    int64_t *pb[2] = {&cc->pt, &cc->pl}, *pe[2] = {&cc->pb, &cc->pr};
    if (!cc->auto_pad)
        return;
    for (int i = 0; i < 2; i++) {
        *pb[i] = *pe[i] = 0;
        if (strcmp(cc->auto_pad, "VALID") == 0)
            continue;
        int64_t out = (in[i] + s[i] - 1) / s[i];
        int64_t total = (out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - in[i];
        if (total < 0)
            total = 0;
        int upper = strcmp(cc->auto_pad, "SAME_UPPER") == 0;
        *pb[i] = upper ? total / 2 : total - total / 2;
        *pe[i] = total - *pb[i];
    }
}

static void naive_conv(const conv_case *cc, int64_t oh, int64_t ow,
                       const float *x, const float *w, const float *b,
                       double *y)
{
    int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
    for (int64_t n = 0; n < cc->n; n++)
        for (int64_t m = 0; m < cc->m; m++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double acc = b ? b[m] : 0.0;
                    int64_t g = m / mg;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t ki = 0; ki < cc->kh; ki++)
                            for (int64_t kj = 0; kj < cc->kw; kj++) {
                                int64_t ih = i * cc->sh - cc->pt + ki * cc->dh;
                                int64_t iw = j * cc->sw - cc->pl + kj * cc->dw;
                                if (ih < 0 || ih >= cc->h || iw < 0 ||
                                    iw >= cc->w)
                                    continue;
                                acc += (double)x[((n * cc->c + g * cg + c) *
                                                      cc->h + ih) * cc->w + iw] *
                                       w[((m * cg + c) * cc->kh + ki) * cc->kw +
                                         kj];
                            }
                    y[((n * cc->m + m) * oh + i) * ow + j] = acc;
                }
}

/* Builds the node and tensors for cc, runs Conv, compares with naive_conv.
 * Returns 0 when the case was skipped (window larger than the input). */
static int check_conv(conv_case cc, double tol)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    int one = cc.nsp == 1;
    conv_case r = cc;
    resolve_auto_pad(&r);
    int64_t oh = conv_out(r.h, r.kh, r.sh, r.dh, r.pt, r.pb);
    int64_t ow = conv_out(r.w, r.kw, r.sw, r.dw, r.pl, r.pr);
    if (oh < 1 || ow < 1)
        return 0;
    otu_node(&nd, "Conv");
    if (cc.give_kernel_shape)
        otu_ints(&nd, "kernel_shape", one ? &cc.kw : (int64_t[]){cc.kh, cc.kw},
                 cc.nsp);
    otu_ints(&nd, "strides", one ? &cc.sw : (int64_t[]){cc.sh, cc.sw}, cc.nsp);
    otu_ints(&nd, "dilations", one ? &cc.dw : (int64_t[]){cc.dh, cc.dw},
             cc.nsp);
    if (cc.auto_pad)
        otu_str_attr(&nd, "auto_pad", cc.auto_pad);
    else if (one)
        otu_ints(&nd, "pads", (int64_t[]){cc.pl, cc.pr}, 2);
    else
        otu_ints(&nd, "pads", (int64_t[]){cc.pt, cc.pl, cc.pb, cc.pr}, 4);
    otu_int_attr(&nd, "group", cc.group);
    mn_tensor *x = one ? otu_random(MN_DT_F32, 3, (int64_t[]){cc.n, cc.c, cc.w})
                       : otu_random(MN_DT_F32, 4,
                                    (int64_t[]){cc.n, cc.c, cc.h, cc.w});
    int64_t cg = cc.c / cc.group;
    mn_tensor *w = one ? otu_random(MN_DT_F32, 3, (int64_t[]){cc.m, cg, cc.kw})
                       : otu_random(MN_DT_F32, 4,
                                    (int64_t[]){cc.m, cg, cc.kh, cc.kw});
    mn_tensor *b = cc.bias ? otu_random(MN_DT_F32, 1, &cc.m) : NULL;
    const mn_tensor *in[3] = {x, w, b};
    CHECK_OK(otu_run(&mn_opdef_conv, &nd, in, cc.bias ? 3 : 2, out, 1, &ctx),
             &ctx);
    CHECK_EQ_INT(out[0].ndim, cc.nsp + 2);
    CHECK_EQ_INT(out[0].dims[1], cc.m);
    CHECK_EQ_INT(out[0].dims[out[0].ndim - 1], ow);
    if (!one)
        CHECK_EQ_INT(out[0].dims[2], oh);
    int64_t ny = cc.n * cc.m * oh * ow;
    double *ref = malloc((size_t)ny * sizeof *ref);
    if (ref && out[0].data && mn_tensor_numel(&out[0]) == ny) {
        naive_conv(&r, oh, ow, x->data, w->data, b ? b->data : NULL, ref);
        double e = otu_err(out[0].data, ref, ny);
        if (!(e <= tol))
            mn_test_fail(__FILE__, __LINE__,
                         "conv n%lld c%lld %lldx%lld m%lld k%lldx%lld s%lld,%lld "
                         "d%lld,%lld p%lld,%lld,%lld,%lld g%lld: err %g",
                         (long long)cc.n, (long long)cc.c, (long long)cc.h,
                         (long long)cc.w, (long long)cc.m, (long long)cc.kh,
                         (long long)cc.kw, (long long)cc.sh, (long long)cc.sw,
                         (long long)cc.dh, (long long)cc.dw, (long long)r.pt,
                         (long long)r.pl, (long long)r.pb, (long long)r.pr,
                         (long long)cc.group, e);
    }
    free(ref);
    otu_out_free(out, 1);
    mn_tensor_destroy(x);
    mn_tensor_destroy(w);
    mn_tensor_destroy(b);
    otu_node_free(&nd);
    return 1;
}

static conv_case random_conv(int kind, int nsp)
{
    conv_case cc = {0};
    cc.nsp = nsp;
    cc.n = otu_int(1, 2);
    if (kind == 0) {        /* ordinary */
        cc.group = 1;
        cc.c = otu_int(1, 7);
        cc.m = otu_int(1, 9);
    } else if (kind == 1) { /* grouped */
        cc.group = otu_int(2, 3);
        cc.c = cc.group * otu_int(1, 3);
        cc.m = cc.group * otu_int(1, 3);
    } else {                /* depthwise, multiplier 1..3 */
        cc.c = cc.group = otu_int(2, 6);
        cc.m = cc.c * otu_int(1, 3);
    }
    cc.h = nsp == 2 ? otu_int(1, 13) : 1;
    cc.w = otu_int(1, 17);
    cc.kh = nsp == 2 ? otu_int(1, 4) : 1;
    cc.kw = otu_int(1, 4);
    cc.sh = nsp == 2 ? otu_int(1, 3) : 1;
    cc.sw = otu_int(1, 3);
    cc.dh = nsp == 2 ? otu_int(1, 2) : 1;
    cc.dw = otu_int(1, 2);
    cc.pt = nsp == 2 ? otu_int(0, 2) : 0;
    cc.pb = nsp == 2 ? otu_int(0, 2) : 0;
    cc.pl = otu_int(0, 2);
    cc.pr = otu_int(0, 2);
    cc.bias = (int)otu_int(0, 1);
    cc.give_kernel_shape = (int)otu_int(0, 1);
    return cc;
}

TEST(conv_random_vs_naive)
{
    int ran = 0;
    otu_seed(1);
    for (int it = 0; it < 300; it++)
        ran += check_conv(random_conv(it % 3, it % 5 == 4 ? 1 : 2), 1e-5);
    CHECK(ran > 200);
}

TEST(conv_auto_pad_vs_naive)
{
    static const char *const modes[] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
    otu_seed(2);
    for (int it = 0; it < 60; it++) {
        conv_case cc = random_conv(it % 3, 2);
        cc.auto_pad = modes[it % 3];
        check_conv(cc, 1e-5);
    }
    /* SAME with stride 2 on an even input: the odd pad goes last (UPPER) or
     * first (LOWER). */
    conv_case cc = {.nsp = 2, .n = 1, .c = 2, .h = 6, .w = 7, .m = 3,
                    .kh = 3, .kw = 4, .sh = 2, .sw = 2, .dh = 1, .dw = 1,
                    .group = 1, .bias = 1, .auto_pad = "SAME_LOWER"};
    CHECK(check_conv(cc, 1e-5));
    cc.auto_pad = "SAME_UPPER";
    CHECK(check_conv(cc, 1e-5));
}

/* Shapes that cross the GEMM's blocking (m > 96, k > 256, n > 2048), the
 * pointwise path, and a large depthwise layer. */
TEST(conv_blocking_edges)
{
    otu_seed(3);
    conv_case big = {.nsp = 2, .n = 1, .c = 40, .h = 50, .w = 50, .m = 100,
                     .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                     .pt = 1, .pl = 1, .pb = 1, .pr = 1, .group = 1,
                     .bias = 1};
    CHECK(check_conv(big, 1e-4));
    conv_case pw = {.nsp = 2, .n = 2, .c = 300, .h = 7, .w = 9, .m = 97,
                    .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                    .group = 1, .bias = 0};
    CHECK(check_conv(pw, 1e-4));
    conv_case dw = {.nsp = 2, .n = 1, .c = 32, .h = 33, .w = 31, .m = 32,
                    .kh = 5, .kw = 5, .sh = 2, .sw = 2, .dh = 1, .dw = 1,
                    .pt = 2, .pl = 2, .pb = 2, .pr = 2, .group = 32,
                    .bias = 1};
    CHECK(check_conv(dw, 1e-5));
}

/* infer alone on the given shapes; returns its status. */
static mn_status conv_infer_status(mn_node *nd, int xr, const int64_t *xd,
                                   int wr, const int64_t *wd, int64_t bias_len)
{
    mn_ctx ctx = {{0}};
    mn_tensor x = {.dtype = MN_DT_F32, .ndim = xr};
    mn_tensor w = {.dtype = MN_DT_F32, .ndim = wr};
    mn_tensor b = {.dtype = MN_DT_F32, .ndim = 1, .dims = {bias_len}};
    mn_tensor o = {0}, *op = &o;
    memcpy(x.dims, xd, (size_t)xr * sizeof *xd);
    memcpy(w.dims, wd, (size_t)wr * sizeof *wd);
    const mn_tensor *in[3] = {&x, &w, &b};
    mn_status st = mn_opdef_conv.infer(nd, in, bias_len ? 3 : 2, &op, 1, &ctx);
    CHECK(st == MN_OK || ctx.msg[0]); /* every failure explains itself */
    return st;
}

TEST(conv_infer_errors)
{
    mn_node nd;
    otu_node(&nd, "Conv");
    /* W expects 3 channels, X has 4 */
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 4, 5, 5}, 4,
                                   (int64_t[]){2, 3, 3, 3}, 0), MN_ERR_SHAPE);
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 4, 5, 5}, 4,
                                   (int64_t[]){2, 4, 3, 3}, 0), MN_OK);
    /* bias of the wrong length */
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 4, 5, 5}, 4,
                                   (int64_t[]){2, 4, 3, 3}, 3), MN_ERR_SHAPE);
    /* kernel larger than the input */
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 4, 2, 5}, 4,
                                   (int64_t[]){2, 4, 3, 3}, 0), MN_ERR_SHAPE);
    /* 3-D convolution is unsupported, not malformed */
    CHECK_EQ_INT(conv_infer_status(&nd, 5, (int64_t[]){1, 4, 5, 5, 5}, 5,
                                   (int64_t[]){2, 4, 3, 3, 3}, 0),
                 MN_ERR_UNSUPPORTED);
    otu_int_attr(&nd, "group", 4);
    /* group 4 does not divide 6 input channels */
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 6, 5, 5}, 4,
                                   (int64_t[]){4, 2, 3, 3}, 0), MN_ERR_SHAPE);
    /* group 4 does not divide 6 output channels */
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 8, 5, 5}, 4,
                                   (int64_t[]){6, 2, 3, 3}, 0), MN_ERR_SHAPE);
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 8, 5, 5}, 4,
                                   (int64_t[]){8, 2, 3, 3}, 0), MN_OK);
    otu_node_free(&nd);

    otu_node(&nd, "Conv");
    otu_ints(&nd, "kernel_shape", (int64_t[]){3, 2}, 2); /* W says 3x3 */
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 4, 5, 5}, 4,
                                   (int64_t[]){2, 4, 3, 3}, 0), MN_ERR_SHAPE);
    otu_node_free(&nd);
    otu_node(&nd, "Conv");
    otu_ints(&nd, "pads", (int64_t[]){1, 1}, 2); /* 2-D needs 4 pads */
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 4, 5, 5}, 4,
                                   (int64_t[]){2, 4, 3, 3}, 0), MN_ERR_SHAPE);
    otu_node_free(&nd);
    otu_node(&nd, "Conv");
    otu_ints(&nd, "strides", (int64_t[]){0, 1}, 2);
    CHECK_EQ_INT(conv_infer_status(&nd, 4, (int64_t[]){1, 4, 5, 5}, 4,
                                   (int64_t[]){2, 4, 3, 3}, 0), MN_ERR_SHAPE);
    otu_node_free(&nd);
}

/* ---- Gemm ---- */

/* C shapes: 0 none, 1 scalar [], 2 [n], 3 [1,n], 4 [m,1], 5 [m,n], 6 [1]. */
static void check_gemm(int64_t m, int64_t n, int64_t k, int ta, int tb,
                       float alpha, float beta, int cshape)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    int64_t cd[6][2] = {{0}, {n}, {1, n}, {m, 1}, {m, n}, {1}};
    int cr[6] = {0, 1, 2, 2, 2, 1};
    otu_node(&nd, "Gemm");
    otu_int_attr(&nd, "transA", ta);
    otu_int_attr(&nd, "transB", tb);
    otu_float_attr(&nd, "alpha", alpha);
    otu_float_attr(&nd, "beta", beta);
    mn_tensor *a = otu_random(MN_DT_F32, 2, ta ? (int64_t[]){k, m}
                                               : (int64_t[]){m, k});
    mn_tensor *b = otu_random(MN_DT_F32, 2, tb ? (int64_t[]){n, k}
                                               : (int64_t[]){k, n});
    mn_tensor *c = cshape ? otu_random(MN_DT_F32, cr[cshape - 1],
                                       cd[cshape - 1])
                          : NULL;
    const mn_tensor *in[3] = {a, b, c};
    CHECK_OK(otu_run(&mn_opdef_gemm, &nd, in, c ? 3 : 2, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out[0].ndim, 2);
    CHECK_EQ_INT(out[0].dims[0], m);
    CHECK_EQ_INT(out[0].dims[1], n);
    double *ref = malloc((size_t)(m * n) * sizeof *ref);
    if (ref && out[0].data) {
        const float *ad = a->data, *bd = b->data;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0;
                for (int64_t p = 0; p < k; p++)
                    acc += (double)(ta ? ad[p * m + i] : ad[i * k + p]) *
                           (tb ? bd[j * k + p] : bd[p * n + j]);
                double cv = 0;
                if (c) {
                    const float *cdd = c->data;
                    int64_t r = c->ndim == 2 && c->dims[0] > 1 ? i : 0;
                    int64_t q = c->ndim >= 1 && c->dims[c->ndim - 1] > 1 ? j : 0;
                    int64_t ld = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
                    cv = cdd[r * ld + q];
                }
                ref[i * n + j] = alpha * acc + beta * cv;
            }
        double e = otu_err(out[0].data, ref, m * n);
        if (!(e <= 1e-5))
            mn_test_fail(__FILE__, __LINE__,
                         "gemm %lldx%lldx%lld ta%d tb%d C%d: err %g",
                         (long long)m, (long long)n, (long long)k, ta, tb,
                         cshape, e);
    }
    free(ref);
    otu_out_free(out, 1);
    mn_tensor_destroy(a);
    mn_tensor_destroy(b);
    mn_tensor_destroy(c);
    otu_node_free(&nd);
}

TEST(gemm_random_vs_naive)
{
    static const int64_t sizes[] = {1, 2, 5, 6, 16, 17, 97, 130, 300};
    otu_seed(4);
    for (int it = 0; it < 80; it++) {
        int64_t m = sizes[otu_int(0, 8)], n = sizes[otu_int(0, 8)];
        int64_t k = sizes[otu_int(0, 8)];
        check_gemm(m, n, k, it & 1, (it >> 1) & 1, 0.5f + otu_float(),
                   otu_float(), (int)otu_int(0, 6));
    }
    check_gemm(100, 2100, 260, 0, 0, 1.0f, 1.0f, 3); /* every blocking edge */
    check_gemm(7, 5, 3, 1, 1, 0.25f, 0.35f, 5);
    check_gemm(3, 4, 5, 0, 0, 1.0f, 0.0f, 5); /* beta 0: C ignored */
}

TEST(gemm_infer_errors)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor a = {.dtype = MN_DT_F32, .ndim = 2, .dims = {3, 4}};
    mn_tensor b = {.dtype = MN_DT_F32, .ndim = 2, .dims = {5, 6}};
    mn_tensor c = {.dtype = MN_DT_F32, .ndim = 2, .dims = {2, 6}};
    mn_tensor o = {0}, *op = &o;
    const mn_tensor *in[3] = {&a, &b, &c};
    otu_node(&nd, "Gemm");
    CHECK_EQ_INT(mn_opdef_gemm.infer(&nd, in, 2, &op, 1, &ctx), MN_ERR_SHAPE);
    b.dims[0] = 4;
    CHECK_EQ_INT(mn_opdef_gemm.infer(&nd, in, 2, &op, 1, &ctx), MN_OK);
    CHECK_EQ_INT(o.dims[0], 3);
    CHECK_EQ_INT(o.dims[1], 6);
    /* C [2,6] does not broadcast to [3,6] */
    CHECK_EQ_INT(mn_opdef_gemm.infer(&nd, in, 3, &op, 1, &ctx), MN_ERR_SHAPE);
    a.ndim = 3;
    CHECK_EQ_INT(mn_opdef_gemm.infer(&nd, in, 2, &op, 1, &ctx), MN_ERR_SHAPE);
    otu_node_free(&nd);
}

/* ---- MatMul ---- */

/* numpy.matmul in double with explicit broadcasting; returns out numel. */
static int64_t naive_matmul(const mn_tensor *a, const mn_tensor *b, double *y)
{
    int ar = a->ndim, br = b->ndim;
    int64_t ad[8], bd[8], od[8];
    int ra = ar < 2 ? 2 : ar, rb = br < 2 ? 2 : br;
    int nb = (ra > rb ? ra : rb) - 2;
    /* promote 1-D operands to matrices, left-pad batch dims with 1 */
    for (int i = 0; i < nb + 2; i++)
        ad[i] = bd[i] = 1;
    for (int i = 0; i < ar; i++)
        ad[nb + 2 - (ar == 1 ? 1 : ar) + i] = a->dims[i];
    if (br == 1)
        bd[nb] = b->dims[0];
    else
        for (int i = 0; i < br; i++)
            bd[nb + 2 - br + i] = b->dims[i];
    int64_t m = ad[nb], k = ad[nb + 1], n = bd[nb + 1], total = 1;
    for (int i = 0; i < nb; i++) {
        od[i] = ad[i] > bd[i] ? ad[i] : bd[i];
        total *= od[i];
    }
    const float *af = a->data, *bf = b->data;
    for (int64_t t = 0; t < total; t++) {
        int64_t rem = t, ao = 0, bo = 0, as = 1, bs = 1;
        for (int i = nb - 1; i >= 0; i--) {
            int64_t idx = rem % od[i];
            rem /= od[i];
            ao += (ad[i] == 1 ? 0 : idx) * as;
            bo += (bd[i] == 1 ? 0 : idx) * bs;
            as *= ad[i];
            bs *= bd[i];
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0;
                for (int64_t p = 0; p < k; p++)
                    acc += (double)af[ao * m * k + i * k + p] *
                           bf[bo * k * n + p * n + j];
                y[(t * m + i) * n + j] = acc;
            }
    }
    return total * m * n;
}

static void check_matmul(int ar, const int64_t *ad, int br, const int64_t *bd,
                         int orank, const int64_t *odims)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    otu_node(&nd, "MatMul");
    mn_tensor *a = otu_random(MN_DT_F32, ar, ad);
    mn_tensor *b = otu_random(MN_DT_F32, br, bd);
    const mn_tensor *in[2] = {a, b};
    CHECK_OK(otu_run(&mn_opdef_matmul, &nd, in, 2, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out[0].ndim, orank);
    for (int i = 0; i < orank && i < out[0].ndim; i++)
        CHECK_EQ_INT(out[0].dims[i], odims[i]);
    double *ref = malloc((size_t)(mn_tensor_numel(&out[0]) + 1) * sizeof *ref);
    if (ref && out[0].data && out[0].ndim == orank) {
        int64_t cnt = naive_matmul(a, b, ref);
        CHECK_EQ_INT(cnt, mn_tensor_numel(&out[0]));
        CHECK(otu_err(out[0].data, ref, cnt) <= 1e-5);
    }
    free(ref);
    otu_out_free(out, 1);
    mn_tensor_destroy(a);
    mn_tensor_destroy(b);
    otu_node_free(&nd);
}

TEST(matmul_numpy_semantics)
{
    otu_seed(5);
    check_matmul(2, (int64_t[]){3, 4}, 2, (int64_t[]){4, 5}, 2,
                 (int64_t[]){3, 5});
    check_matmul(3, (int64_t[]){2, 3, 4}, 2, (int64_t[]){4, 5}, 3,
                 (int64_t[]){2, 3, 5});
    check_matmul(1, (int64_t[]){4}, 2, (int64_t[]){4, 5}, 1, (int64_t[]){5});
    check_matmul(3, (int64_t[]){2, 3, 4}, 1, (int64_t[]){4}, 2,
                 (int64_t[]){2, 3});
    check_matmul(1, (int64_t[]){7}, 1, (int64_t[]){7}, 0, NULL);
    check_matmul(4, (int64_t[]){2, 1, 3, 4}, 3, (int64_t[]){5, 4, 6}, 4,
                 (int64_t[]){2, 5, 3, 6});
    check_matmul(3, (int64_t[]){1, 3, 4}, 3, (int64_t[]){2, 4, 6}, 3,
                 (int64_t[]){2, 3, 6});
    check_matmul(2, (int64_t[]){4, 5}, 3, (int64_t[]){3, 5, 2}, 3,
                 (int64_t[]){3, 4, 2});
    check_matmul(2, (int64_t[]){7, 300}, 2, (int64_t[]){300, 37}, 2,
                 (int64_t[]){7, 37});
    check_matmul(3, (int64_t[]){40, 5, 33}, 2, (int64_t[]){33, 19}, 3,
                 (int64_t[]){40, 5, 19});
}

TEST(matmul_int_and_errors)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[1];
    otu_node(&nd, "MatMul");
    int64_t av[6] = {1, -2, 3, 4, 5, -6}, bv[6] = {7, 8, 9, 10, -11, 12};
    mn_tensor a = {.dtype = MN_DT_I64, .ndim = 2, .dims = {2, 3}, .data = av};
    mn_tensor b = {.dtype = MN_DT_I64, .ndim = 2, .dims = {3, 2}, .data = bv};
    const mn_tensor *in[2] = {&a, &b};
    CHECK_OK(otu_run(&mn_opdef_matmul, &nd, in, 2, out, 1, &ctx), &ctx);
    if (out[0].data) {
        const int64_t *y = out[0].data;
        CHECK_EQ_INT(y[0], 1 * 7 - 2 * 9 - 3 * 11);
        CHECK_EQ_INT(y[1], 1 * 8 - 2 * 10 + 3 * 12);
        CHECK_EQ_INT(y[2], 4 * 7 + 5 * 9 + 6 * 11);
        CHECK_EQ_INT(y[3], 4 * 8 + 5 * 10 - 6 * 12);
    }
    otu_out_free(out, 1);
    int32_t a32[2] = {3, -4}, b32[2] = {5, 6};
    mn_tensor a2 = {.dtype = MN_DT_I32, .ndim = 1, .dims = {2}, .data = a32};
    mn_tensor b2 = {.dtype = MN_DT_I32, .ndim = 1, .dims = {2}, .data = b32};
    const mn_tensor *in2[2] = {&a2, &b2};
    CHECK_OK(otu_run(&mn_opdef_matmul, &nd, in2, 2, out, 1, &ctx), &ctx);
    CHECK_EQ_INT(out[0].ndim, 0);
    if (out[0].data)
        CHECK_EQ_INT(((int32_t *)out[0].data)[0], 3 * 5 - 4 * 6);
    otu_out_free(out, 1);
    /* inner dimension mismatch, batch mismatch, mixed dtypes */
    mn_tensor x = {.dtype = MN_DT_F32, .ndim = 2, .dims = {3, 4}};
    mn_tensor y = {.dtype = MN_DT_F32, .ndim = 2, .dims = {5, 6}};
    mn_tensor o = {0}, *op = &o;
    const mn_tensor *in3[2] = {&x, &y};
    CHECK_EQ_INT(mn_opdef_matmul.infer(&nd, in3, 2, &op, 1, &ctx), MN_ERR_SHAPE);
    x = (mn_tensor){.dtype = MN_DT_F32, .ndim = 3, .dims = {2, 3, 4}};
    y = (mn_tensor){.dtype = MN_DT_F32, .ndim = 3, .dims = {3, 4, 5}};
    CHECK_EQ_INT(mn_opdef_matmul.infer(&nd, in3, 2, &op, 1, &ctx), MN_ERR_SHAPE);
    y.dims[0] = 2;
    CHECK_EQ_INT(mn_opdef_matmul.infer(&nd, in3, 2, &op, 1, &ctx), MN_OK);
    y.dtype = MN_DT_I64;
    CHECK_EQ_INT(mn_opdef_matmul.infer(&nd, in3, 2, &op, 1, &ctx), MN_ERR_SHAPE);
    otu_node_free(&nd);
}

/* ---- BatchNormalization ---- */

TEST(batchnorm_inference)
{
    mn_node nd;
    mn_ctx ctx = {{0}};
    mn_tensor out[3];
    const int64_t c = 3, sz = 4 * 5;
    otu_seed(6);
    otu_node(&nd, "BatchNormalization");
    otu_float_attr(&nd, "epsilon", 1e-2f);
    mn_tensor *x = otu_random(MN_DT_F32, 4, (int64_t[]){2, c, 4, 5});
    mn_tensor *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = otu_random(MN_DT_F32, 1, &c);
    for (int i = 0; i < c; i++) /* variance must be positive */
        ((float *)p[3]->data)[i] = 0.5f + ((float *)p[3]->data)[i] * 0.4f;
    const mn_tensor *in[5] = {x, p[0], p[1], p[2], p[3]};
    CHECK_OK(otu_run(&mn_opdef_batchnorm, &nd, in, 5, out, 1, &ctx), &ctx);
    if (out[0].data) {
        const float *xd = x->data, *y = out[0].data;
        const float *s = p[0]->data, *b = p[1]->data, *mu = p[2]->data,
                    *var = p[3]->data;
        double ref[2 * 3 * 20];
        for (int64_t i = 0; i < 2 * c * sz; i++) {
            int64_t ch = i / sz % c;
            ref[i] = (xd[i] - mu[ch]) / sqrt(var[ch] + 1e-2) * s[ch] + b[ch];
        }
        CHECK(otu_err(y, ref, 2 * c * sz) <= 1e-6);
    }
    otu_out_free(out, 1);
    /* training-mode outputs, training_mode=1, and a wrong scale shape */
    CHECK_EQ_INT(otu_run(&mn_opdef_batchnorm, &nd, in, 5, out, 3, &ctx),
                 MN_ERR_UNSUPPORTED);
    otu_int_attr(&nd, "training_mode", 1);
    CHECK_EQ_INT(otu_run(&mn_opdef_batchnorm, &nd, in, 5, out, 1, &ctx),
                 MN_ERR_UNSUPPORTED);
    otu_node_free(&nd);
    otu_node(&nd, "BatchNormalization");
    p[0]->dims[0] = 2;
    CHECK_EQ_INT(otu_run(&mn_opdef_batchnorm, &nd, in, 5, out, 1, &ctx),
                 MN_ERR_SHAPE);
    p[0]->dims[0] = c;
    otu_node_free(&nd);
    mn_tensor_destroy(x);
    for (int i = 0; i < 4; i++)
        mn_tensor_destroy(p[i]);
}
