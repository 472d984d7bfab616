/* Calibration: the streaming histogram observer (exact re-binning, memory
 * that does not grow with the data), the range methods (min–max,
 * percentile, KL entropy, MSE) against independently computed
 * expectations, affine parameters, and float16 rounding against the Cast
 * op. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "quant/quant.h"
#include "test.h"

extern long mn_test_allocs;

static uint64_t qrng = 0x2545F4914F6CDD1DULL;
static double urand(void) /* [0, 1) */
{
    qrng ^= qrng << 13;
    qrng ^= qrng >> 7;
    qrng ^= qrng << 17;
    return (double)(qrng >> 11) / 9007199254740992.0;
}

static double nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* The bin a value falls into for a histogram of `bins` over [-r, r]. */
static int ref_bin(double x, double r, int bins)
{
    double f = (x + r) / (2 * r) * bins;
    return f <= 0 ? 0 : f >= bins ? bins - 1 : (int)f;
}

TEST(quant_observer_rebinning_is_exact)
{
    enum { BINS = 64, N = 4000 };
    mn_observer o;
    mn_ctx ctx = {{0}};
    static float x[N];
    uint64_t want[BINS] = {0}, total = 0;
    double lo = 0, hi = 0;
    CHECK_OK(mn_observer_init(&o, BINS, &ctx), &ctx);
    /* batches of growing magnitude force several doublings; values are
     * multiples of 1/64 so that no value sits near a bin edge ambiguity */
    for (int b = 0; b < 8; b++) {
        double mag = b == 0 ? 0 : ldexp(1.0, b); /* first batch all zero */
        for (int i = 0; i < N / 8; i++) {
            double v = b == 0 ? 0 : floor((urand() * 2 - 1) * mag * 64) / 64;
            x[b * (N / 8) + i] = (float)v;
        }
        mn_observer_update(&o, x + b * (N / 8), N / 8);
    }
    CHECK_EQ_INT(o.count, N);
    for (int i = 0; i < N; i++) {
        want[ref_bin(x[i], o.range, BINS)]++;
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    /* the range doubled from the first non-zero batch's max |x| */
    CHECK(o.range >= fabs(lo) && o.range >= hi);
    for (int k = 0; k < BINS; k++) {
        total += o.hist[k];
        if (o.hist[k] != want[k])
            mn_test_fail(__FILE__, __LINE__, "bin %d: %llu, want %llu", k,
                         (unsigned long long)o.hist[k],
                         (unsigned long long)want[k]);
    }
    CHECK_EQ_INT(total, N);
    CHECK_NEAR(o.min, lo, 0);
    CHECK_NEAR(o.max, hi, 0);
    mn_observer_free(&o);
}

TEST(quant_observer_memory_is_bounded)
{
    mn_observer o;
    mn_ctx ctx = {{0}};
    static float x[1024];
    long before;
    size_t bytes;
    CHECK_OK(mn_observer_init(&o, 2048, &ctx), &ctx);
    bytes = mn_observer_bytes(&o);
    before = mn_test_allocs;
    for (int b = 0; b < 500; b++) {
        for (int i = 0; i < 1024; i++)
            x[i] = (float)(nrand() * (1 + b)); /* keeps growing the range */
        mn_observer_update(&o, x, 1024);
    }
    CHECK_EQ_INT(mn_test_allocs - before, 0);
    CHECK_EQ_INT(mn_observer_bytes(&o), bytes);
    CHECK_EQ_INT(o.count, 500 * 1024);
    /* non-finite values are counted apart and never enter the histogram */
    x[0] = NAN;
    x[1] = INFINITY;
    mn_observer_update(&o, x, 2);
    CHECK_EQ_INT(o.nonfinite, 2);
    CHECK_EQ_INT(o.count, 500 * 1024);
    mn_observer_free(&o);
    CHECK(mn_observer_init(&o, 30, &ctx) == MN_ERR_ARG); /* not /4 */
    mn_observer_free(&o);
}

static void observe(mn_observer *o, const float *x, int n)
{
    mn_ctx ctx = {{0}};
    CHECK_OK(mn_observer_init(o, 4096, &ctx), &ctx);
    mn_observer_update(o, x, n);
}

static void range_of(const mn_observer *o, mn_calib_method m, double p,
                     float *lo, float *hi)
{
    mn_ctx ctx = {{0}};
    mn_calib_cfg c = {.method = m, .percentile = p, .qt = MN_DT_U8};
    CHECK_OK(mn_calib_range(o, &c, lo, hi, &ctx), &ctx);
}

TEST(quant_calib_minmax_and_percentile)
{
    enum { N = 100000 };
    static float x[N];
    mn_observer o;
    float lo, hi;
    /* uniform [0, 1) plus 0.5 % outliers at 50 */
    for (int i = 0; i < N; i++)
        x[i] = i % 200 == 0 ? 50.0f : (float)urand();
    observe(&o, x, N);
    range_of(&o, MN_CALIB_MINMAX, 0, &lo, &hi);
    CHECK_NEAR(lo, 0, 0); /* the range always holds 0 */
    CHECK_NEAR(hi, 50, 0);
    /* 99 % of |x| lies below 0.99/0.995 ≈ 0.995 (uniform part) */
    range_of(&o, MN_CALIB_PERCENTILE, 99.0, &lo, &hi);
    CHECK_NEAR(hi, 0.99 / 0.995, 0.02);
    CHECK_NEAR(lo, 0, 0);
    /* above the outliers' share nothing is clipped */
    range_of(&o, MN_CALIB_PERCENTILE, 100.0, &lo, &hi);
    CHECK_NEAR(hi, 50, 50.0 / 2048 + 1e-6);
    mn_observer_free(&o);

    /* a symmetric signed tensor: both sides clip at the same |x| */
    for (int i = 0; i < N; i++)
        x[i] = (float)nrand();
    observe(&o, x, N);
    range_of(&o, MN_CALIB_PERCENTILE, 99.0, &lo, &hi);
    CHECK_NEAR(hi, 2.576, 0.06); /* P(|z| < 2.576) = 0.99 */
    CHECK_NEAR(lo, -2.576, 0.06);
    mn_observer_free(&o);
}

/* Squared error of quantize→dequantize over the raw samples. */
static double raw_mse(const float *x, int n, float lo, float hi)
{
    float s;
    int32_t zp;
    double e = 0;
    mn_quant_params(lo, hi, MN_DT_U8, &s, &zp);
    for (int i = 0; i < n; i++) {
        int32_t q = mn_quant_value(x[i], s, zp, 0, 255);
        double d = x[i] - (double)(q - zp) * s;
        e += d * d;
    }
    return e / n;
}

TEST(quant_calib_mse_minimizes_error)
{
    enum { N = 200000 };
    static float x[N];
    mn_observer o;
    float lo, hi, mlo, mhi;
    double e;
    /* ReLU of a Laplacian: a long tail */
    for (int i = 0; i < N; i++) {
        double u = urand() - 0.5;
        double v = -copysign(1.0, u) * log(1 - 2 * fabs(u));
        x[i] = (float)(v > 0 ? v : 0);
    }
    observe(&o, x, N);
    range_of(&o, MN_CALIB_MINMAX, 0, &mlo, &mhi);
    range_of(&o, MN_CALIB_MSE, 0, &lo, &hi);
    CHECK_NEAR(lo, 0, 0);
    CHECK(hi <= mhi);
    /* judged on the raw samples, not on the histogram it optimised: no
     * clip on a grid does better (the expected optimum solves
     * c·e^c = 255²·12·(1/2)/(1/2), c ≈ 11, i.e. near the sample max) */
    e = raw_mse(x, N, lo, hi);
    CHECK(e <= raw_mse(x, N, mlo, mhi) * 1.001);
    for (int k = 1; k <= 60; k++) {
        float h = mhi * (float)k / 60;
        if (!(e <= raw_mse(x, N, 0, h) * 1.02))
            mn_test_fail(__FILE__, __LINE__, "clip %g: %g beats chosen %g: %g",
                         h, raw_mse(x, N, 0, h), hi, e);
    }
    mn_observer_free(&o);

    /* uniform data: nothing to clip, MSE keeps (almost) the full range */
    for (int i = 0; i < N; i++)
        x[i] = (float)urand() * 4;
    observe(&o, x, N);
    range_of(&o, MN_CALIB_MSE, 0, &lo, &hi);
    CHECK(hi > 3.9f);
    mn_observer_free(&o);
}

/* KL(P‖Q) of TensorRT's procedure computed directly over the |x| bins,
 * written independently of calib.c (plain loops, no prefix sums). */
static double ref_kl(const double *h, int used, int i, int nq)
{
    double total = 0, qtot = 0, kl = 0;
    double *p = calloc((size_t)i, sizeof *p), *q = calloc((size_t)i, sizeof *q);
    for (int j = 0; j < used; j++)
        total += h[j];
    for (int j = 0; j < i; j++) {
        p[j] = h[j];
        qtot += h[j];
    }
    for (int j = i; j < used; j++)
        p[i - 1] += h[j];
    for (int k = 0; k < nq; k++) {
        int s = k * i / nq, e = (k + 1) * i / nq, nz = 0;
        double sum = 0;
        for (int j = s; j < e; j++) {
            sum += h[j];
            nz += h[j] > 0;
        }
        for (int j = s; j < e; j++)
            q[j] = h[j] > 0 ? sum / nz : 0;
    }
    for (int j = 0; j < i; j++) {
        double pj = p[j] / total, qj = q[j] / qtot;
        if (pj <= 0)
            continue;
        kl += pj * log(pj / (qj > 1e-12 ? qj : 1e-12));
    }
    free(p);
    free(q);
    return kl;
}

TEST(quant_calib_entropy_matches_reference_search)
{
    enum { N = 100000, BINS = 2048 };
    static float x[N];
    mn_observer o;
    mn_ctx ctx = {{0}};
    mn_calib_cfg c = {.method = MN_CALIB_ENTROPY, .qt = MN_DT_U8};
    float lo, hi;
    double h[BINS / 2], best = INFINITY, width;
    int used = 0, best_i = -1;
    /* non-negative with a long tail: ReLU(N(0,1)) plus rare far outliers */
    for (int i = 0; i < N; i++) {
        double v = nrand();
        x[i] = (float)(i % 5000 == 0 ? 40 + 20 * urand() : v > 0 ? v : 0);
    }
    CHECK_OK(mn_observer_init(&o, BINS, &ctx), &ctx);
    mn_observer_update(&o, x, N);
    CHECK_OK(mn_calib_range(&o, &c, &lo, &hi, &ctx), &ctx);
    /* reference: the |x| histogram is the upper half (no negatives) */
    for (int j = 0; j < BINS / 2; j++) {
        h[j] = (double)o.hist[BINS / 2 + j] + (double)o.hist[BINS / 2 - 1 - j];
        if (h[j] > 0)
            used = j + 1;
    }
    h[0] = h[1]; /* the zero spike is flattened before the search */
    {   /* then box-smoothed over half a quantization step each side */
        int hw = (used + 255) / 256 / 2;
        double sm[BINS / 2];
        for (int j = 0; j < used; j++) {
            double sum = 0;
            int cnt = 0;
            for (int k = j - hw; k <= j + hw; k++)
                if (k >= 0 && k < used) {
                    sum += h[k];
                    cnt++;
                }
            sm[j] = sum / cnt;
        }
        memcpy(h, sm, (size_t)used * sizeof *h);
    }
    for (int i = 256; i <= used; i++) {
        double kl = ref_kl(h, used, i, 256);
        if (kl < best) {
            best = kl;
            best_i = i;
        }
    }
    width = o.range / (BINS / 2);
    CHECK(best_i > 0);
    CHECK_NEAR(hi, best_i * width, 1e-4);
    CHECK(hi < o.max); /* the spikes are clipped */
    CHECK(hi > 3.0);   /* the Gaussian bulk is not */
    CHECK_NEAR(lo, 0, 0);
    mn_observer_free(&o);
}

/* Point masses inside the range (a constant background through a conv:
 * many pixels give exactly the same value) must not make KL prefer a
 * threshold just above the spike, where the spike has a chunk to itself.
 * Without the smoothing, the search clipped MobileNetV2's first depthwise
 * output from 6 to 0.72 (a 3.6 % spike at 0.715) and the model fell to
 * 37 % top-1. */
TEST(quant_calib_entropy_point_mass_keeps_bulk)
{
    enum { N = 200000, BINS = 8192 };
    static float x[N];
    mn_observer o;
    mn_ctx ctx = {{0}};
    mn_calib_cfg c = {.method = MN_CALIB_ENTROPY, .qt = MN_DT_U8};
    float lo, hi;
    static const double spike[3] = {0.3, 0.715, 1.1};
    for (int i = 0; i < N; i++) {
        double v = -0.3 * log(1 - urand()); /* exponential, mean 0.3 */
        x[i] = (float)(i % 28 < 3 ? spike[i % 28] : v > 6 ? 6 : v);
    }
    x[3] = 6;
    CHECK_OK(mn_observer_init(&o, BINS, &ctx), &ctx);
    mn_observer_update(&o, x, N);
    CHECK_OK(mn_calib_range(&o, &c, &lo, &hi, &ctx), &ctx);
    /* the unsmoothed search stops just above the spike at 1.1, clipping
     * 2.5 % of the values; P(x > 2.5) is 2.4e-4 */
    CHECK(hi > 2.5f);
    CHECK(hi <= 6.0f);
    mn_observer_free(&o);
}

TEST(quant_params_known_values)
{
    float s;
    int32_t zp;
    mn_quant_params(0, 2.55f, MN_DT_U8, &s, &zp);
    CHECK_NEAR(s, 0.01, 1e-8);
    CHECK_EQ_INT(zp, 0);
    mn_quant_params(-1, 1, MN_DT_U8, &s, &zp);
    CHECK_NEAR(s, 2.0 / 255, 1e-8);
    /* 1/s is 127.5 up to the float rounding of s */
    CHECK_EQ_INT(zp, (int32_t)rint(1.0 / (double)s));
    CHECK(zp == 127 || zp == 128);
    mn_quant_params(-1, 1, MN_DT_I8, &s, &zp);
    CHECK_EQ_INT(zp, (int32_t)rint(-128.0 + 1.0 / (double)s));
    mn_quant_params(0.5f, 2, MN_DT_U8, &s, &zp); /* range extended to 0 */
    CHECK_NEAR(s, 2.0 / 255, 1e-8);
    CHECK_EQ_INT(zp, 0);
    mn_quant_params(-3, -1, MN_DT_U8, &s, &zp);
    CHECK_EQ_INT(zp, 255);
    mn_quant_params(0, 0, MN_DT_U8, &s, &zp); /* degenerate: still valid */
    CHECK(s > 0);
    mn_quant_params(-2, 1, MN_DT_I16, &s, &zp);
    CHECK_NEAR(s, 2.0 / 32767, 1e-9);
    CHECK_EQ_INT(zp, 0);
    /* 0 is exact: quantize(0) dequantizes to 0 */
    mn_quant_params(-0.37f, 5.1f, MN_DT_U8, &s, &zp);
    CHECK_NEAR((mn_quant_value(0, s, zp, 0, 255) - zp) * s, 0, 0);
    CHECK_EQ_INT(mn_quant_value(1000, s, zp, 0, 255), 255);
    CHECK_EQ_INT(mn_quant_value(-1000, s, zp, 0, 255), 0);
    CHECK_EQ_INT(mn_quant_value(NAN, s, zp, 0, 255), zp);
    CHECK_EQ_INT(mn_quant_value(2.5f, 1, 0, -127, 127), 2); /* half even */
    CHECK_EQ_INT(mn_quant_value(-3.5f, 1, 0, -127, 127), -4);
    CHECK_NEAR(mn_quant_sym_scale(12.7f, 127), 0.1, 1e-7);
    CHECK_NEAR(mn_quant_sym_scale(0, 127), 1, 0);
}

TEST(quant_f32_to_f16_matches_cast_op)
{
    enum { N = 20000 };
    const mn_op_def *cast = mn_op_get(MN_OP_CAST);
    mn_node n;
    mn_attr *a = NULL;
    mn_ctx ctx = {{0}};
    mn_tensor *x = NULL, *y = NULL;
    int64_t d[1] = {N};
    if (!cast) {
        mn_test_fail(__FILE__, __LINE__, "no Cast op");
        return;
    }
    memset(&n, 0, sizeof n);
    n.name = (char *)"cast";
    n.op_type = (char *)"Cast";
    n.domain = (char *)"";
    n.opset = 13;
    CHECK_OK(mn_node_add_attr(&n, "to", MN_ATTR_INT, &a, &ctx), &ctx);
    if (a)
        a->i = MN_DT_F16;
    CHECK_OK(mn_tensor_create(MN_DT_F32, 1, d, &x, &ctx), &ctx);
    CHECK_OK(mn_tensor_create(MN_DT_F16, 1, d, &y, &ctx), &ctx);
    if (x && y) {
        uint32_t *xb = x->data;
        const mn_tensor *in[1] = {x};
        mn_tensor *out[1] = {y};
        mn_exec ex = {.ctx = &ctx};
        int bad = 0;
        for (int i = 0; i < N; i++) {
            /* random bit patterns over all exponents incl. subnormals,
             * ties, overflow, inf and NaN */
            qrng ^= qrng << 13;
            qrng ^= qrng >> 7;
            qrng ^= qrng << 17;
            xb[i] = (uint32_t)(qrng >> 17);
            if (i % 4 == 0) /* near float16's range */
                xb[i] = (xb[i] & 0x80ffffffu) | ((uint32_t)(100 + i % 60) << 23);
            if (i % 7 == 0) /* exact ties */
                xb[i] &= 0xffffe000u, xb[i] |= 0x1000u;
            if (isnan(((float *)x->data)[i]))
                xb[i] = 0x7fc00000u;
        }
        CHECK_OK(cast->forward(&n, in, 1, out, 1, &ex), &ctx);
        for (int i = 0; i < N && bad < 5; i++) {
            uint16_t mine = mn_q_f32_to_f16(((float *)x->data)[i]);
            uint16_t ref = ((uint16_t *)y->data)[i];
            if (mine != ref) {
                mn_test_fail(__FILE__, __LINE__,
                             "f16(%08x): %04x, Cast gives %04x",
                             (unsigned)xb[i], mine, ref);
                bad++;
            }
        }
    }
    CHECK_EQ_INT(mn_q_f32_to_f16(1.0f), 0x3C00);
    CHECK_EQ_INT(mn_q_f32_to_f16(65504.0f), 0x7BFF);
    CHECK_EQ_INT(mn_q_f32_to_f16(65520.0f), 0x7C00); /* rounds to inf */
    CHECK_EQ_INT(mn_q_f32_to_f16(5.9604645e-8f), 0x0001);
    mn_tensor_destroy(x);
    mn_tensor_destroy(y);
    for (int i = 0; i < n.n_attrs; i++)
        mn_attr_clear(&n.attrs[i]);
    free(n.attrs);
}

TEST(quant_names_parse)
{
    mn_ctx ctx = {{0}};
    mn_quant_mode m;
    mn_calib_method c;
    mn_quant_format f;
    CHECK_OK(mn_quant_mode_parse("float16", &m, &ctx), &ctx);
    CHECK_EQ_INT(m, MN_QUANT_FLOAT16);
    CHECK(mn_quant_mode_parse("int3", &m, &ctx) == MN_ERR_ARG);
    CHECK(strstr(ctx.msg, "int3") != NULL);
    CHECK_OK(mn_calib_method_parse("entropy", &c, &ctx), &ctx);
    CHECK_EQ_INT(c, MN_CALIB_ENTROPY);
    CHECK(mn_calib_method_parse("kl", &c, &ctx) == MN_ERR_ARG);
    CHECK_OK(mn_quant_format_parse("qop", &f, &ctx), &ctx);
    CHECK_EQ_INT(f, MN_QFORMAT_QOP);
    CHECK(!strcmp(mn_quant_mode_name(MN_QUANT_DYNAMIC), "dynamic"));
    CHECK(!strcmp(mn_calib_method_name(MN_CALIB_MSE), "mse"));
}
