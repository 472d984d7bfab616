/* C export: the portable C99 kernels a generated model may contain, as
 * text. Each is a direct loop (no scratch, no allocation); geometry comes in
 * a static const int32_t array per call. The integer ones repeat minnow's
 * reference arithmetic exactly: int32 sums of zero-point-shifted 8-bit
 * products (src/kernels/ref/conv_q8_ref.c), requantization in float32 as
 * round_half_even(clamp((float)acc · mult)) + zp with mult = x_scale·
 * w_scale / y_scale computed by the generator (src/ops/qconv.c,
 * qmatmul.c), QuantizeLinear as round_half_even(x / scale) + zp in float32
 * (src/ops/quantize.c); the rounding is written out so no libm is needed.
 * Float kernels sum in a different order than minnow's GEMMs, so they agree
 * within float rounding, not bit for bit. */
#include <string.h>
#include "io/c_export_int.h"

static const char K_LD8[] =
    "#define CX_LD8(p, s, i) ((s) ? (int32_t)((const int8_t *)(p))[i] \\\n"
    "                             : (int32_t)((const uint8_t *)(p))[i])\n"
    "#define CX_ST8(p, s, i, v) do { if (s) ((int8_t *)(p))[i] = (int8_t)(v); \\\n"
    "    else ((uint8_t *)(p))[i] = (uint8_t)(v); } while (0)\n\n";

static const char K_RINT[] =
    "/* round half to even, as rintf in the default rounding mode */\n"
    "static float cx_rint_f32(float v)\n"
    "{\n"
    "    if (v > -8388608.0f && v < 8388608.0f) {\n"
    "        int32_t t = (int32_t)v;\n"
    "        float f = v - (float)t;\n"
    "        if (f > 0.5f || (f == 0.5f && t % 2 != 0))\n"
    "            t++;\n"
    "        else if (f < -0.5f || (f == -0.5f && t % 2 != 0))\n"
    "            t--;\n"
    "        return (float)t;\n"
    "    }\n"
    "    return v; /* integral already, or inf/NaN */\n"
    "}\n\n";

static const char K_REQUANT[] =
    "/* float32 as ONNX Runtime: s = acc wrapped to int32, v = (float)s * mult\n"
    " * clamped to [lo - zp, hi - zp] (NaN: lo), round_half_even(v) + zp */\n"
    "static int32_t cx_requant(int64_t acc, float mult, int32_t zp, int32_t lo,\n"
    "                          int32_t hi)\n"
    "{\n"
    "    float v = (float)(int32_t)(uint32_t)(uint64_t)acc * mult;\n"
    "    if (!(v >= (float)(lo - zp))) /* also NaN */\n"
    "        return lo;\n"
    "    if (v > (float)(hi - zp))\n"
    "        return hi;\n"
    "    return (int32_t)cx_rint_f32(v) + zp;\n"
    "}\n\n";

/* The activation switch, with only the cases the model uses. */
static void emit_act(const cx *c, cx_buf *b)
{
    static const char *const cases[CXA_COUNT] = {
        NULL,
        "    case 1: return v > 0.0f ? v : 0.0f;\n",
        "    case 2: return v < lo ? lo : v > hi ? hi : v;\n",
        "    case 3: return 1.0f / (1.0f + expf(-v));\n",
        "    case 4: return v / (1.0f + expf(-v));\n",
        "    case 5: v = lo * v + hi; return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;\n",
        "    case 6: t = lo * v + hi;\n"
        "        return v * (t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t);\n",
        "    case 7: return 0.5f * v * (1.0f + erff(v * 0.70710678f));\n",
        "    case 8: return v >= 0.0f ? v : lo * v;\n",
        "    case 9: return tanhf(v);\n",
        "    case 10: return v * v;\n",
        "    case 11: return powf(v, lo);\n",
        "    case 12: return sqrtf(v);\n",
        "    case 13: return erff(v);\n",
    };
    cx_puts(b, "static float act_f32(float v, int kind, float lo, float hi)\n"
               "{\n    float t = 0.0f;\n    (void)lo, (void)hi, (void)t;\n"
               "    switch (kind) {\n");
    for (int k = 1; k < CXA_COUNT; k++)
        if (c->act_used & (1u << k))
            cx_puts(b, cases[k]);
    cx_puts(b, "    default: return v;\n    }\n}\n\n");
}

static const char K_CONV_F32[] =
    "/* y = act(conv(x, w) + b + res); w dense [M][C/G·KH·KW] or, with mask,\n"
    " * its non-zeros (row m starts at rowp[m]); xs: x's channels scaled by\n"
    " * xs[n·C + c] (a fused squeeze-excite Mul), or NULL. p: N C H W M OH OW\n"
    " * KH KW SH SW DH DW PT PL G */\n"
    "static void conv_f32(const float *x, const float *xs, const float *w,\n"
    "                     const uint8_t *mask, const uint32_t *rowp,\n"
    "                     const float *b, const float *res, float *y,\n"
    "                     const int32_t *p, int act, float lo, float hi)\n"
    "{\n"
    "    long N = p[0], C = p[1], H = p[2], W = p[3], M = p[4], OH = p[5];\n"
    "    long OW = p[6], KH = p[7], KW = p[8], SH = p[9], SW = p[10], DH = p[11];\n"
    "    long DW = p[12], PT = p[13], PL = p[14], G = p[15];\n"
    "    long cg = C / G, mg = M / G, K = cg * KH * KW;\n"
    "    for (long n = 0; n < N; n++)\n"
    "        for (long m = 0; m < M; m++) {\n"
    "            const float *xg = x + (n * C + m / mg * cg) * H * W;\n"
    "            const float *wm = mask ? w + rowp[m] : w + m * K;\n"
    "            for (long oh = 0; oh < OH; oh++)\n"
    "                for (long ow = 0; ow < OW; ow++) {\n"
    "                    float acc = b ? b[m] : 0.0f;\n"
    "                    const float *wp = wm;\n"
    "                    for (long c = 0; c < cg; c++)\n"
    "                        for (long ki = 0; ki < KH; ki++) {\n"
    "                            long ih = oh * SH - PT + ki * DH;\n"
    "                            for (long kj = 0; kj < KW; kj++) {\n"
    "                                long i = (c * KH + ki) * KW + kj;\n"
    "                                long iw = ow * SW - PL + kj * DW;\n"
    "                                float wv;\n"
    "                                if (mask) {\n"
    "                                    unsigned long bit = (unsigned long)(m * K + i);\n"
    "                                    if (!((mask[bit >> 3] >> (bit & 7)) & 1))\n"
    "                                        continue;\n"
    "                                    wv = *wp++;\n"
    "                                } else {\n"
    "                                    wv = wm[i];\n"
    "                                }\n"
    "                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)\n"
    "                                    continue;\n"
    "                                float xv = xg[(c * H + ih) * W + iw];\n"
    "                                if (xs)\n"
    "                                    xv *= xs[n * C + m / mg * cg + c];\n"
    "                                acc += wv * xv;\n"
    "                            }\n"
    "                        }\n"
    "                    long o = ((n * M + m) * OH + oh) * OW + ow;\n"
    "                    if (res)\n"
    "                        acc += res[o];\n"
    "                    y[o] = act_f32(acc, act, lo, hi);\n"
    "                }\n"
    "        }\n"
    "}\n\n";

static const char K_GEMM_F32[] =
    "/* y[r][j] = act(alpha * sum_k a[r][k] w[j][k] + bias + res); a is [K][R]\n"
    " * when ta; bias one row (p[4] = 0) or [R][J]. p: R K J ta bias_rows */\n"
    "static void gemm_f32(const float *a, const float *w, const uint8_t *mask,\n"
    "                     const uint32_t *rowp, const float *bias,\n"
    "                     const float *res, float *y, const int32_t *p,\n"
    "                     float alpha, int act, float lo, float hi)\n"
    "{\n"
    "    long R = p[0], K = p[1], J = p[2], ta = p[3], brows = p[4];\n"
    "    for (long r = 0; r < R; r++)\n"
    "        for (long j = 0; j < J; j++) {\n"
    "            const float *wj = mask ? w + rowp[j] : w + j * K, *wp = wj;\n"
    "            float acc = 0.0f;\n"
    "            for (long k = 0; k < K; k++) {\n"
    "                float wv;\n"
    "                if (mask) {\n"
    "                    unsigned long bit = (unsigned long)(j * K + k);\n"
    "                    if (!((mask[bit >> 3] >> (bit & 7)) & 1))\n"
    "                        continue;\n"
    "                    wv = *wp++;\n"
    "                } else {\n"
    "                    wv = wj[k];\n"
    "                }\n"
    "                acc += (ta ? a[k * R + r] : a[r * K + k]) * wv;\n"
    "            }\n"
    "            acc *= alpha;\n"
    "            if (bias)\n"
    "                acc += bias[brows > 1 ? r * J + j : j];\n"
    "            if (res)\n"
    "                acc += res[r * J + j];\n"
    "            y[r * J + j] = act_f32(acc, act, lo, hi);\n"
    "        }\n"
    "}\n\n";

static const char K_UNARY_F32[] =
    "static void unary_f32(const float *x, float *y, long n, int act, float lo,\n"
    "                      float hi)\n"
    "{\n"
    "    for (long i = 0; i < n; i++)\n"
    "        y[i] = act_f32(x[i], act, lo, hi);\n"
    "}\n\n";

static const char K_BINARY_F32[] =
    "/* y = a op b with numpy broadcasting: p = nd, dims[nd], a strides[nd],\n"
    " * b strides[nd] (0 along broadcast axes); op 0 + 1 - 2 * 3 / */\n"
    "static void binary_f32(int op, const float *a, const float *b, float *y,\n"
    "                       const int32_t *p)\n"
    "{\n"
    "    long nd = p[0], n = 1, ia = 0, ib = 0, idx[8];\n"
    "    const int32_t *dims = p + 1, *sa = p + 1 + nd, *sb = p + 1 + 2 * nd;\n"
    "    for (long d = 0; d < nd; d++) {\n"
    "        n *= dims[d];\n"
    "        idx[d] = 0;\n"
    "    }\n"
    "    for (long i = 0; i < n; i++) {\n"
    "        float u = a[ia], v = b[ib];\n"
    "        y[i] = op == 0 ? u + v : op == 1 ? u - v : op == 2 ? u * v : u / v;\n"
    "        for (long d = nd - 1; d >= 0; d--) {\n"
    "            ia += sa[d];\n"
    "            ib += sb[d];\n"
    "            if (++idx[d] < dims[d])\n"
    "                break;\n"
    "            ia -= sa[d] * dims[d];\n"
    "            ib -= sb[d] * dims[d];\n"
    "            idx[d] = 0;\n"
    "        }\n"
    "    }\n"
    "}\n\n";

static const char K_AFFINE_F32[] =
    "/* per-channel y = x * sc[c] + sh[c] (BatchNorm): p = N C inner */\n"
    "static void affine_f32(const float *x, const float *sc, const float *sh,\n"
    "                       float *y, const int32_t *p)\n"
    "{\n"
    "    long i = 0;\n"
    "    for (long n = 0; n < p[0]; n++)\n"
    "        for (long c = 0; c < p[1]; c++)\n"
    "            for (long j = 0; j < p[2]; j++, i++)\n"
    "                y[i] = x[i] * sc[c] + sh[c];\n"
    "}\n\n";

/* TYPE and SUF are replaced per element type. */
static const char K_MAXPOOL[] =
    "/* p: planes IH IW OH OW KH KW SH SW DH DW PT PL; taps outside the input\n"
    " * are skipped (a window wholly outside gives LOWEST) */\n"
    "static void maxpool_SUF(const TYPE *x, TYPE *y, const int32_t *p)\n"
    "{\n"
    "    long IH = p[1], IW = p[2], OH = p[3], OW = p[4], KH = p[5], KW = p[6];\n"
    "    long SH = p[7], SW = p[8], DH = p[9], DW = p[10], PT = p[11], PL = p[12];\n"
    "    for (long pl = 0; pl < p[0]; pl++) {\n"
    "        const TYPE *xp = x + pl * IH * IW;\n"
    "        for (long oh = 0; oh < OH; oh++)\n"
    "            for (long ow = 0; ow < OW; ow++) {\n"
    "                TYPE best = LOWEST;\n"
    "                int any = 0;\n"
    "                for (long ki = 0; ki < KH; ki++) {\n"
    "                    long ih = oh * SH - PT + ki * DH;\n"
    "                    if (ih < 0 || ih >= IH)\n"
    "                        continue;\n"
    "                    for (long kj = 0; kj < KW; kj++) {\n"
    "                        long iw = ow * SW - PL + kj * DW;\n"
    "                        if (iw < 0 || iw >= IW)\n"
    "                            continue;\n"
    "                        if (!any || xp[ih * IW + iw] > best)\n"
    "                            best = xp[ih * IW + iw];\n"
    "                        any = 1;\n"
    "                    }\n"
    "                }\n"
    "                y[(pl * OH + oh) * OW + ow] = best;\n"
    "            }\n"
    "    }\n"
    "}\n\n";

static const char K_AVGPOOL_F32[] =
    "/* p: planes IH IW OH OW KH KW SH SW DH DW PT PL PB PR count_include_pad */\n"
    "static void avgpool_f32(const float *x, float *y, const int32_t *p)\n"
    "{\n"
    "    long IH = p[1], IW = p[2], OH = p[3], OW = p[4], KH = p[5], KW = p[6];\n"
    "    long SH = p[7], SW = p[8], DH = p[9], DW = p[10], PT = p[11], PL = p[12];\n"
    "    long PB = p[13], PR = p[14], inc = p[15];\n"
    "    for (long pl = 0; pl < p[0]; pl++) {\n"
    "        const float *xp = x + pl * IH * IW;\n"
    "        for (long oh = 0; oh < OH; oh++)\n"
    "            for (long ow = 0; ow < OW; ow++) {\n"
    "                float sum = 0.0f;\n"
    "                long cnt = 0, ch = 0, cw = 0;\n"
    "                for (long ki = 0; ki < KH; ki++) {\n"
    "                    long ih = oh * SH - PT + ki * DH;\n"
    "                    ch += ih >= -PT && ih < IH + PB;\n"
    "                    if (ih < 0 || ih >= IH)\n"
    "                        continue;\n"
    "                    for (long kj = 0; kj < KW; kj++) {\n"
    "                        long iw = ow * SW - PL + kj * DW;\n"
    "                        if (iw < 0 || iw >= IW)\n"
    "                            continue;\n"
    "                        sum += xp[ih * IW + iw];\n"
    "                        cnt++;\n"
    "                    }\n"
    "                }\n"
    "                for (long kj = 0; kj < KW; kj++) {\n"
    "                    long iw = ow * SW - PL + kj * DW;\n"
    "                    cw += iw >= -PL && iw < IW + PR;\n"
    "                }\n"
    "                if (inc)\n"
    "                    cnt = ch * cw;\n"
    "                y[(pl * OH + oh) * OW + ow] = cnt > 0 ? sum / (float)cnt : 0.0f;\n"
    "            }\n"
    "    }\n"
    "}\n\n";

static const char K_GAP_F32[] =
    "static void gap_f32(const float *x, float *y, long planes, long size)\n"
    "{\n"
    "    for (long pl = 0; pl < planes; pl++) {\n"
    "        float sum = 0.0f;\n"
    "        for (long i = 0; i < size; i++)\n"
    "            sum += x[pl * size + i];\n"
    "        y[pl] = size > 0 ? sum / (float)size : 0.0f;\n"
    "    }\n"
    "}\n\n";

static const char K_CONCAT[] =
    "/* one input of a Concat: outer chunks of `chunk` bytes, dst row stride */\n"
    "static void concat_part(unsigned char *dst, const unsigned char *src,\n"
    "                        long outer, long chunk, long stride)\n"
    "{\n"
    "    for (long o = 0; o < outer; o++)\n"
    "        memcpy(dst + o * stride, src + o * chunk, (size_t)chunk);\n"
    "}\n\n";

static const char K_SOFTMAX_F32[] =
    "static void softmax_f32(const float *x, float *y, long outer, long n)\n"
    "{\n"
    "    for (long o = 0; o < outer; o++) {\n"
    "        const float *xo = x + o * n;\n"
    "        float *yo = y + o * n, mx = xo[0], sum = 0.0f;\n"
    "        for (long i = 1; i < n; i++)\n"
    "            mx = xo[i] > mx ? xo[i] : mx;\n"
    "        for (long i = 0; i < n; i++)\n"
    "            sum += yo[i] = expf(xo[i] - mx);\n"
    "        for (long i = 0; i < n; i++)\n"
    "            yo[i] /= sum;\n"
    "    }\n"
    "}\n\n";

static const char K_TRANSPOSE[] =
    "/* y = x with permuted axes: p = nd, element size, output dims[nd], x's\n"
    " * stride (in elements) along each output axis[nd] */\n"
    "static void transpose(const void *x, void *y, const int32_t *p)\n"
    "{\n"
    "    long nd = p[0], es = p[1], n = 1, ix = 0, idx[8];\n"
    "    const int32_t *dims = p + 2, *st = p + 2 + nd;\n"
    "    for (long d = 0; d < nd; d++) {\n"
    "        n *= dims[d];\n"
    "        idx[d] = 0;\n"
    "    }\n"
    "    for (long i = 0; i < n; i++) {\n"
    "        memcpy((unsigned char *)y + i * es,\n"
    "               (const unsigned char *)x + ix * es, (size_t)es);\n"
    "        for (long d = nd - 1; d >= 0; d--) {\n"
    "            ix += st[d];\n"
    "            if (++idx[d] < dims[d])\n"
    "                break;\n"
    "            ix -= st[d] * dims[d];\n"
    "            idx[d] = 0;\n"
    "        }\n"
    "    }\n"
    "}\n\n";

static const char K_REDUCEMEAN_F32[] =
    "/* mean over the middle axis of [outer, len, inner] */\n"
    "static void reducemean_f32(const float *x, float *y, long outer, long len,\n"
    "                           long inner)\n"
    "{\n"
    "    for (long o = 0; o < outer; o++)\n"
    "        for (long i = 0; i < inner; i++) {\n"
    "            float sum = 0.0f;\n"
    "            for (long l = 0; l < len; l++)\n"
    "                sum += x[(o * len + l) * inner + i];\n"
    "            y[o * inner + i] = len ? sum / (float)len : 0.0f;\n"
    "        }\n"
    "}\n\n";

static const char K_LAYERNORM_F32[] =
    "/* rows of n: y = (x - mean) / sqrt(var + eps) * sc + b (b may be NULL) */\n"
    "static void layernorm_f32(const float *x, const float *sc, const float *b,\n"
    "                          float *y, long outer, long n, float eps)\n"
    "{\n"
    "    for (long o = 0; o < outer; o++) {\n"
    "        const float *xr = x + o * n;\n"
    "        float mean = 0.0f, var = 0.0f, inv;\n"
    "        for (long i = 0; i < n; i++)\n"
    "            mean += xr[i];\n"
    "        mean /= (float)n;\n"
    "        for (long i = 0; i < n; i++)\n"
    "            var += (xr[i] - mean) * (xr[i] - mean);\n"
    "        inv = 1.0f / sqrtf(var / (float)n + eps);\n"
    "        for (long i = 0; i < n; i++)\n"
    "            y[o * n + i] = (xr[i] - mean) * inv * sc[i] + (b ? b[i] : 0.0f);\n"
    "    }\n"
    "}\n\n";

static const char K_QUANT[] =
    "/* QuantizeLinear to int8 (sgn) or uint8: p = outer C inner, scale and\n"
    " * zero point per C */\n"
    "static void quant_f32(const float *x, void *y, int sgn, const float *s,\n"
    "                      const int32_t *z, const int32_t *p)\n"
    "{\n"
    "    float lo = sgn ? -128.0f : 0.0f, hi = sgn ? 127.0f : 255.0f;\n"
    "    long i = 0;\n"
    "    for (long o = 0; o < p[0]; o++)\n"
    "        for (long c = 0; c < p[1]; c++) {\n"
    "            float sc = s[c], zp = z ? (float)z[c] : 0.0f;\n"
    "            for (long j = 0; j < p[2]; j++, i++) {\n"
    "                float q = x[i] / sc;\n"
    "                float v = cx_rint_f32(q) + zp;\n"
    "                if (v != v)\n"
    "                    v = zp;\n"
    "                else\n"
    "                    v = v < lo ? lo : v > hi ? hi : v;\n"
    "                CX_ST8(y, sgn, i, (int32_t)v);\n"
    "            }\n"
    "        }\n"
    "}\n\n";

static const char K_DEQUANT[] =
    "/* DequantizeLinear from int8 (sgn) or uint8: p = outer C inner */\n"
    "static void dequant_f32(const void *x, int sgn, float *y, const float *s,\n"
    "                        const int32_t *z, const int32_t *p)\n"
    "{\n"
    "    long i = 0;\n"
    "    for (long o = 0; o < p[0]; o++)\n"
    "        for (long c = 0; c < p[1]; c++) {\n"
    "            float sc = s[c];\n"
    "            int32_t zp = z ? z[c] : 0;\n"
    "            for (long j = 0; j < p[2]; j++, i++)\n"
    "                y[i] = (float)(CX_LD8(x, sgn, i) - zp) * sc;\n"
    "        }\n"
    "}\n\n";

static const char K_QCONV[] =
    "/* QLinearConv: acc = sum (x - xz)(w - wz[m]) over taps inside the input,\n"
    " * y = cx_requant(acc + bias[m], mult[m], yz); w dense [M][C/G·KH·KW] or\n"
    " * its non-zeros with mask/rowp (only when wz is absent). sg: bits 1 2 4\n"
    " * set when x w y are int8 (else uint8). p as conv_f32 */\n"
    "static void qconv(const void *x, int32_t xz, const void *w,\n"
    "                  const int32_t *wz, const uint8_t *mask,\n"
    "                  const uint32_t *rowp, const int32_t *bias,\n"
    "                  const float *mult, int32_t yz, void *y, int sg,\n"
    "                  const int32_t *p)\n"
    "{\n"
    "    long N = p[0], C = p[1], H = p[2], W = p[3], M = p[4], OH = p[5];\n"
    "    long OW = p[6], KH = p[7], KW = p[8], SH = p[9], SW = p[10], DH = p[11];\n"
    "    long DW = p[12], PT = p[13], PL = p[14], G = p[15];\n"
    "    long cg = C / G, mg = M / G, K = cg * KH * KW;\n"
    "    int32_t lo = (sg & 4) ? -128 : 0, hi = (sg & 4) ? 127 : 255;\n"
    "    for (long n = 0; n < N; n++)\n"
    "        for (long m = 0; m < M; m++) {\n"
    "            long xo = (n * C + m / mg * cg) * H * W;\n"
    "            long wo = mask ? (long)rowp[m] : m * K;\n"
    "            int32_t wzm = wz ? wz[m] : 0;\n"
    "            for (long oh = 0; oh < OH; oh++)\n"
    "                for (long ow = 0; ow < OW; ow++) {\n"
    "                    int32_t acc = 0;\n"
    "                    long wp = wo;\n"
    "                    for (long c = 0; c < cg; c++)\n"
    "                        for (long ki = 0; ki < KH; ki++) {\n"
    "                            long ih = oh * SH - PT + ki * DH;\n"
    "                            for (long kj = 0; kj < KW; kj++) {\n"
    "                                long i = (c * KH + ki) * KW + kj;\n"
    "                                long iw = ow * SW - PL + kj * DW;\n"
    "                                int32_t wv;\n"
    "                                if (mask) {\n"
    "                                    unsigned long bit = (unsigned long)(m * K + i);\n"
    "                                    if (!((mask[bit >> 3] >> (bit & 7)) & 1))\n"
    "                                        continue;\n"
    "                                    wv = CX_LD8(w, (sg & 2), wp);\n"
    "                                    wp++;\n"
    "                                } else {\n"
    "                                    wv = CX_LD8(w, (sg & 2), wo + i);\n"
    "                                }\n"
    "                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)\n"
    "                                    continue;\n"
    "                                acc += (CX_LD8(x, (sg & 1), xo + (c * H + ih) * W + iw)\n"
    "                                        - xz) * (wv - wzm);\n"
    "                            }\n"
    "                        }\n"
    "                    long o = ((n * M + m) * OH + oh) * OW + ow;\n"
    "                    int32_t v = cx_requant((int64_t)acc + (bias ? bias[m] : 0),\n"
    "                                           mult[m], yz, lo, hi);\n"
    "                    CX_ST8(y, (sg & 4), o, v);\n"
    "                }\n"
    "        }\n"
    "}\n\n";

static const char K_QGEMM[] =
    "/* QLinearMatMul with a constant b, stored as w[J][K]: y[r][j] =\n"
    " * cx_requant(sum_k (a[r][k] - az)(w[j][k] - wz[j]), mult[j], yz).\n"
    " * sg: bits 1 2 4 set when a w y are int8. p: R K J */\n"
    "static void qgemm(const void *a, int32_t az, const void *w,\n"
    "                  const int32_t *wz, const uint8_t *mask,\n"
    "                  const uint32_t *rowp, const float *mult, int32_t yz,\n"
    "                  void *y, int sg, const int32_t *p)\n"
    "{\n"
    "    long R = p[0], K = p[1], J = p[2];\n"
    "    int32_t lo = (sg & 4) ? -128 : 0, hi = (sg & 4) ? 127 : 255;\n"
    "    for (long r = 0; r < R; r++)\n"
    "        for (long j = 0; j < J; j++) {\n"
    "            long wp = mask ? (long)rowp[j] : j * K;\n"
    "            int32_t acc = 0, wzj = wz ? wz[j] : 0, wv;\n"
    "            for (long k = 0; k < K; k++) {\n"
    "                if (mask) {\n"
    "                    unsigned long bit = (unsigned long)(j * K + k);\n"
    "                    if (!((mask[bit >> 3] >> (bit & 7)) & 1))\n"
    "                        continue;\n"
    "                    wv = CX_LD8(w, (sg & 2), wp);\n"
    "                    wp++;\n"
    "                } else {\n"
    "                    wv = CX_LD8(w, (sg & 2), j * K + k);\n"
    "                }\n"
    "                acc += (CX_LD8(a, (sg & 1), r * K + k) - az) * (wv - wzj);\n"
    "            }\n"
    "            CX_ST8(y, (sg & 4), r * J + j,\n"
    "                   cx_requant(acc, mult[j], yz, lo, hi));\n"
    "        }\n"
    "}\n\n";

static const char K_QADD[] =
    "/* QLinearAdd in ONNX Runtime's fixed point, inputs of one shape:\n"
    " * acc = ma(a - za) + mb(b - zb), rounded half away from zero by shift\n"
    " * bits, saturated to int16, zc added with int16 saturation, saturated\n"
    " * to 8 bits. p = ma mb za zb zc shift; sgn: int8 (else uint8) */\n"
    "static void qadd(const void *a, const void *b, void *y, int sgn,\n"
    "                 const int32_t *p, long n)\n"
    "{\n"
    "    int32_t lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;\n"
    "    int32_t mask = (int32_t)((1u << p[5]) - 1);\n"
    "    for (long i = 0; i < n; i++) {\n"
    "        int32_t acc = (int32_t)(\n"
    "            (uint32_t)p[0] * (uint32_t)(CX_LD8(a, sgn, i) - p[2]) +\n"
    "            (uint32_t)p[1] * (uint32_t)(CX_LD8(b, sgn, i) - p[3]));\n"
    "        int32_t rem = (acc & mask) - (acc < 0);\n"
    "        int32_t v = (acc >= 0 ? acc >> p[5] : ~(~acc >> p[5])) +\n"
    "                    (rem > (mask >> 1));\n"
    "        v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;\n"
    "        v += p[4];\n"
    "        v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;\n"
    "        CX_ST8(y, sgn, i, v < lo ? lo : v > hi ? hi : v);\n"
    "    }\n"
    "}\n\n";

static const char K_QGAP[] =
    "/* QLinearGlobalAveragePool over nc planes of hw: acc = sum x - zx hw,\n"
    " * y = round_half_even(acc s) + zy, the value clamped to the output\n"
    " * range first (ONNX Runtime's arithmetic) */\n"
    "static void qgap(const void *x, void *y, int sgn, long nc, long hw,\n"
    "                 int32_t zx, float s, int32_t zy)\n"
    "{\n"
    "    float lo = (float)((sgn ? -128 : 0) - zy);\n"
    "    float hi = (float)((sgn ? 127 : 255) - zy);\n"
    "    for (long k = 0; k < nc; k++) {\n"
    "        int32_t acc = -zx * (int32_t)hw;\n"
    "        for (long j = 0; j < hw; j++)\n"
    "            acc += CX_LD8(x, sgn, k * hw + j);\n"
    "        float v = (float)acc * s;\n"
    "        v = !(v == v) ? 0.0f : v < lo ? lo : v > hi ? hi : v;\n"
    "        CX_ST8(y, sgn, k, (int32_t)cx_rint_f32(v) + zy);\n"
    "    }\n"
    "}\n\n";

static const char K_LUT8[] =
    "/* y[i] = t[x[i]] over bytes (an int8 value indexes by its byte) */\n"
    "static void lut8(const uint8_t *t, const void *x, void *y, long n)\n"
    "{\n"
    "    for (long i = 0; i < n; i++)\n"
    "        ((uint8_t *)y)[i] = t[((const uint8_t *)x)[i]];\n"
    "}\n\n";

static const char K_QMUL[] =
    "/* QLinearMul: saturate(round_half_even(float((a - za)(b - zb)) r) +\n"
    " * zc); p = za zb zc; b is one value per row of `inner` when bc */\n"
    "static void qmul(const void *a, const void *b, void *y, int sgn,\n"
    "                 const int32_t *p, float r, long outer, long inner,\n"
    "                 int bc)\n"
    "{\n"
    "    int32_t lo = sgn ? -128 : 0, hi = sgn ? 127 : 255;\n"
    "    for (long o = 0; o < outer; o++)\n"
    "        for (long i = 0; i < inner; i++) {\n"
    "            long k = o * inner + i;\n"
    "            float f = cx_rint_f32((float)((CX_LD8(a, sgn, k) - p[0]) *\n"
    "                                 (CX_LD8(b, sgn, bc ? o : k) - p[1])) * r);\n"
    "            int64_t v = !(f == f) ? 0\n"
    "                        : f >= 2147483520.0f ? 2147483647\n"
    "                        : f <= -2147483648.0f ? -2147483647 - 1\n"
    "                        : (int64_t)f;\n"
    "            v += p[2];\n"
    "            v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;\n"
    "            CX_ST8(y, sgn, k, v < lo ? lo : v > hi ? hi : v);\n"
    "        }\n"
    "}\n\n";

static void emit_maxpool(cx_buf *b, const char *type, const char *suf,
                         const char *lowest)
{
    for (const char *p = K_MAXPOOL; *p;) {
        if (!strncmp(p, "TYPE", 4)) {
            cx_puts(b, type);
            p += 4;
        } else if (!strncmp(p, "SUF", 3)) {
            cx_puts(b, suf);
            p += 3;
        } else if (!strncmp(p, "LOWEST", 6)) {
            cx_puts(b, lowest);
            p += 6;
        } else {
            char one[2] = {*p++, 0};
            cx_puts(b, one);
        }
    }
}

void cx_emit_kernels(const cx *c, cx_buf *b)
{
    static const char *const text[CXK_COUNT] = {
        [CXK_CONV_F32] = K_CONV_F32,     [CXK_GEMM_F32] = K_GEMM_F32,
        [CXK_UNARY_F32] = K_UNARY_F32,   [CXK_BINARY_F32] = K_BINARY_F32,
        [CXK_AFFINE_F32] = K_AFFINE_F32, [CXK_AVGPOOL_F32] = K_AVGPOOL_F32,
        [CXK_GAP_F32] = K_GAP_F32,       [CXK_CONCAT] = K_CONCAT,
        [CXK_SOFTMAX_F32] = K_SOFTMAX_F32, [CXK_LD8] = K_LD8,
        [CXK_RINT] = K_RINT,             [CXK_REQUANT] = K_REQUANT,
        [CXK_QUANT] = K_QUANT,           [CXK_DEQUANT] = K_DEQUANT,
        [CXK_QCONV] = K_QCONV,           [CXK_QGEMM] = K_QGEMM,
        [CXK_TRANSPOSE] = K_TRANSPOSE,
        [CXK_REDUCEMEAN_F32] = K_REDUCEMEAN_F32,
        [CXK_LAYERNORM_F32] = K_LAYERNORM_F32,
        [CXK_QADD] = K_QADD,             [CXK_QGAP] = K_QGAP,
        [CXK_LUT8] = K_LUT8,             [CXK_QMUL] = K_QMUL,
    };
    /* helpers first, in dependency order */
    static const cx_kernel order[] = {
        CXK_LD8, CXK_RINT, CXK_REQUANT, CXK_ACT, CXK_CONV_F32, CXK_GEMM_F32,
        CXK_UNARY_F32, CXK_BINARY_F32, CXK_AFFINE_F32, CXK_MAXPOOL_F32,
        CXK_MAXPOOL_I8, CXK_MAXPOOL_U8, CXK_AVGPOOL_F32, CXK_GAP_F32,
        CXK_CONCAT, CXK_SOFTMAX_F32, CXK_TRANSPOSE, CXK_REDUCEMEAN_F32,
        CXK_LAYERNORM_F32, CXK_QUANT, CXK_DEQUANT, CXK_QCONV,
        CXK_QGEMM, CXK_QADD, CXK_QGAP, CXK_LUT8, CXK_QMUL};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        cx_kernel k = order[i];
        if (!c->used[k])
            continue;
        if (k == CXK_ACT)
            emit_act(c, b);
        else if (k == CXK_MAXPOOL_F32)
            emit_maxpool(b, "float", "f32", "-FLT_MAX");
        else if (k == CXK_MAXPOOL_I8)
            emit_maxpool(b, "int8_t", "i8", "-128");
        else if (k == CXK_MAXPOOL_U8)
            emit_maxpool(b, "uint8_t", "u8", "0");
        else
            cx_puts(b, text[k]);
    }
}
