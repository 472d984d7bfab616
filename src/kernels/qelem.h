/* Elementwise 8-bit kernels of the quantized graph's glue: linear
 * (de)quantization with one scale and zero point, QLinearAdd's fixed-point
 * sum (ONNX Runtime's MLAS arithmetic, see src/ops/qelementwise.c) and the
 * running maxima (8-bit and float32) and the stride-2 window maximum MaxPool
 * builds on. The portable reference
 * (ref/qelem_ref.c) is the oracle; the AVX2 table (x86/qelem_avx2.c) gives
 * the same bytes. Kernels never allocate and take any length n >= 0. */
#ifndef MN_KERNELS_QELEM_H
#define MN_KERNELS_QELEM_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "kernels/dispatch.h"

/* QLinearAdd in fixed point: acc = ma·(a - za) + mb·(b - zb), rounded
 * half away from zero by `shift` bits, saturated to int16, zc added with
 * int16 saturation, saturated to the 8-bit output type. */
typedef struct mn_qadd_fixed {
    int32_t ma, mb, za, zb, zc, shift; /* 1 <= shift <= 30 */
} mn_qadd_fixed;

/* QLinearMul: y = saturate(round_half_even(float((a - za)·(b - zb)) ·
 * ratio) + zc), ratio = sa·sb/sc in float32 (ONNX Runtime's arithmetic). */
typedef struct mn_qmul_p {
    int32_t za, zb, zc;
    float ratio;
} mn_qmul_p;

typedef struct mn_kernels_qelem {
    const char *name;
    /* y[i] = saturate(round_half_even(x[i] / s) + zp) (float32 arithmetic
     * as the ONNX reference; NaN gives zp); y int8 when i8, else uint8. */
    void (*quantize)(const float *x, int64_t n, float s, int32_t zp, int i8,
                     void *y);
    /* y[i] = (float)(x[i] - zp) · s, x int8 when i8, else uint8. */
    void (*dequantize)(const void *x, int64_t n, int i8, float s,
                       int32_t zp, float *y);
    /* y[i] = QLinearAdd(a[i], b[i]) by p. */
    void (*qadd)(const void *a, const void *b, int64_t n,
                 const mn_qadd_fixed *p, int i8, void *y);
    /* acc[i] = max(acc[i], x[i]) on int8 (i8) or uint8. */
    void (*vmax)(void *acc, const void *x, int64_t n, int i8);
    /* float32 running maximum that skips NaN: acc[i] = x[i] when acc[i]
     * is NaN or x[i] > acc[i] (MaxPool's vertical pass). */
    void (*vmaxf)(float *acc, const float *x, int64_t n);
    /* y[i] = QLinearMul(a[i], b[b_run ? i / b_run : i]) by p: b one value
     * per run of b_run elements (a squeeze-excite gate's per-channel scale
     * over the channel's plane; b_run >= n: one value for all), or
     * elementwise (b_run 0). */
    void (*qmul)(const void *a, const void *b, int64_t n, int64_t b_run,
                 const mn_qmul_p *p, int i8, void *y);
    /* y[i] = t[x[i]]: a 256-entry byte table (an int8 graph's lookup
     * activation; an int8 x indexes by its byte, i.e. x + 256 when
     * negative, as Gather does); y may be x. */
    void (*lut8)(const uint8_t *t, const uint8_t *x, int64_t n, uint8_t *y);
    /* The sum of n int8 (i8) or uint8 values, n < 2^23. */
    int32_t (*sum8)(const void *x, int64_t n, int i8);
    /* s[p] = sum8 of the p-th of `planes` consecutive runs of n values
     * (QLinearGlobalAveragePool's planes, several per call: a small
     * plane's sum costs less than its call and its reduction). */
    void (*sums8)(const void *x, int64_t planes, int64_t n, int i8,
                  int32_t *s);
    /* y[o] = max_{t < k} x[2·o + t] for o < n, int8 (i8) or uint8, k >= 1:
     * MaxPool's stride-2 horizontal pass over windows inside the row;
     * reads x[0 .. 2n − 2 + k) only. */
    void (*hmax2)(const void *x, int64_t n, int k, int i8, void *y);
    /* The float32 twin, k >= 1: y[o] = first[2·o] when that is NaN (the
     * window's first tap was NaN), else x[2·o] maxed in order with
     * x[2·o + t], t < k, by "larger replaces" (a later NaN is ignored):
     * MaxPool's float32 stride-2 horizontal pass over the vertical
     * maxima x of rows starting at first; reads x, first
     * [0 .. 2n − 2 + k). */
    void (*hmax2f)(const float *x, const float *first, int64_t n, int k,
                   float *y);
    /* A whole 8-bit MaxPool output row at stride 2 along the row, in one
     * call: y[o] = max over the nr input rows rows[i] (w values each) and
     * the taps t < k (1 <= k <= 4) of rows[i][c0 + 2·o + t], o < n, the
     * columns outside [0, w) skipped (the type's lowest value when none
     * is inside). Reads columns inside [0, w) only. NULL: not at this
     * level. */
    void (*maxrow2)(const void *const *rows, int nr, int64_t w, int64_t c0,
                    int64_t n, int k, int i8, void *y);
} mn_kernels_qelem;

const mn_kernels_qelem *mn_kernels_qelem_ref(void);
const mn_kernels_qelem *mn_kernels_qelem_avx2(void); /* NULL if not built */
/* AVX2's table with the AVX512_VBMI byte-table lookup (NULL if not built) */
const mn_kernels_qelem *mn_kernels_qelem_avx512vbmi(void);
/* The table for the active ISA level (never NULL). */
const mn_kernels_qelem *mn_kernels_qelem_active(void);

/* ONNX Runtime's (MLAS's) QLinearAdd parameters from the float32 ratios
 * ra = sa/sc, rb = sb/sc: shift = 21 - exponent(max(ra, rb)), ma, mb =
 * lrint(ratio · 2^shift). 0 when a ratio is outside [2^-14, 256) (ONNX
 * Runtime's range) or the shift would pass 30 bits (ratios below 2^-9);
 * the caller then computes in float. */
static inline int mn_qadd_fixed_init(float ra, float rb, mn_qadd_fixed *p)
{
    float g = ra > rb ? ra : rb, mul;
    uint32_t bits;
    int32_t e;
    if (!(ra >= 0x1.0p-14f && ra < 256.0f && rb >= 0x1.0p-14f &&
          rb < 256.0f))
        return 0;
    memcpy(&bits, &g, sizeof bits);
    e = (int32_t)(bits >> 23) - 127;
    p->shift = 21 - e;
    if (p->shift > 30)
        return 0;
    bits = (uint32_t)(21 - e + 127) << 23;
    memcpy(&mul, &bits, sizeof mul);
    p->ma = (int32_t)lrintf(ra * mul);
    p->mb = (int32_t)lrintf(rb * mul);
    return 1;
}

/* Whether |ma·(a − za)| + |mb·(b − zb)| + 2^(shift − 1) < 2^31 for all
 * 8-bit a, b (int8 when i8): then the sum and its rounding half stay in
 * int32, which the fused residual add's vector form (x86/qadd_avx512.h,
 * qres16) needs. Scale ratios below 1/4 with zero points at the type's
 * ends can break it; such an add is not fused. */
static inline int mn_qadd_fixed_vec_ok(const mn_qadd_fixed *p, int i8)
{
    int64_t lo = i8 ? -128 : 0, hi = i8 ? 127 : 255;
    int64_t ra = p->za - lo > hi - p->za ? p->za - lo : hi - p->za;
    int64_t rb = p->zb - lo > hi - p->zb ? p->zb - lo : hi - p->zb;
    return p->ma >= 0 && p->mb >= 0 && p->shift >= 1 && p->shift <= 30 &&
           (int64_t)p->ma * ra + (int64_t)p->mb * rb +
                   ((int64_t)1 << (p->shift - 1)) <
               ((int64_t)1 << 31);
}

/* One element of qadd (the reference arithmetic, shared by the kernels'
 * tails). */
static inline int32_t mn_qadd_fixed1(const mn_qadd_fixed *p, int32_t a,
                                     int32_t b, int i8)
{
    int32_t acc = (int32_t)((uint32_t)p->ma * (uint32_t)(a - p->za) +
                            (uint32_t)p->mb * (uint32_t)(b - p->zb));
    int32_t mask = (int32_t)((1u << p->shift) - 1);
    int32_t rem = (acc & mask) - (acc < 0);
    /* arithmetic shift of a negative value, written portably */
    int32_t v = (acc >= 0 ? acc >> p->shift : ~(~acc >> p->shift)) +
                (rem > (mask >> 1));
    int32_t lo = i8 ? -128 : 0, hi = i8 ? 127 : 255;
    v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
    v += p->zc;
    v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
    return v < lo ? lo : v > hi ? hi : v;
}

/* One element of qmul (the reference arithmetic). */
static inline int32_t mn_qmul1(const mn_qmul_p *p, int32_t a, int32_t b,
                               int i8)
{
    float r = rintf((float)((a - p->za) * (b - p->zb)) * p->ratio);
    int64_t v = !(r == r)              ? 0
                : r >= 2147483520.0f   ? INT32_MAX
                : r <= -2147483648.0f ? INT32_MIN
                                       : (int64_t)r;
    int32_t lo = i8 ? -128 : 0, hi = i8 ? 127 : 255;
    v += p->zc;
    v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

#endif
