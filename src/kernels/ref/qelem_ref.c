/* Reference elementwise 8-bit kernels (see kernels/qelem.h): the oracle
 * the vector tables are tested against. */
#include <math.h>
#include <stddef.h>
#include "kernels/qelem.h"

static void quantize_ref(const float *x, int64_t n, float s, int32_t zp,
                         int i8, void *y)
{
    float lo = i8 ? -128.0f : 0.0f, hi = i8 ? 127.0f : 255.0f;
    float z = (float)zp;
    for (int64_t i = 0; i < n; i++) {
        float v = rintf(x[i] / s) + z;
        if (v != v)
            v = z;
        v = v < lo ? lo : v > hi ? hi : v;
        if (i8)
            ((int8_t *)y)[i] = (int8_t)v;
        else
            ((uint8_t *)y)[i] = (uint8_t)v;
    }
}

static void dequantize_ref(const void *x, int64_t n, int i8, float s,
                           int32_t zp, float *y)
{
    for (int64_t i = 0; i < n; i++) {
        int32_t q = i8 ? ((const int8_t *)x)[i] : ((const uint8_t *)x)[i];
        y[i] = (float)(q - zp) * s;
    }
}

static void qadd_ref(const void *a, const void *b, int64_t n,
                     const mn_qadd_fixed *p, int i8, void *y)
{
    for (int64_t i = 0; i < n; i++) {
        if (i8)
            ((int8_t *)y)[i] = (int8_t)mn_qadd_fixed1(
                p, ((const int8_t *)a)[i], ((const int8_t *)b)[i], 1);
        else
            ((uint8_t *)y)[i] = (uint8_t)mn_qadd_fixed1(
                p, ((const uint8_t *)a)[i], ((const uint8_t *)b)[i], 0);
    }
}

static void vmax_ref(void *acc, const void *x, int64_t n, int i8)
{
    if (i8) {
        int8_t *d = acc;
        const int8_t *s = x;
        for (int64_t i = 0; i < n; i++)
            d[i] = s[i] > d[i] ? s[i] : d[i];
    } else {
        uint8_t *d = acc;
        const uint8_t *s = x;
        for (int64_t i = 0; i < n; i++)
            d[i] = s[i] > d[i] ? s[i] : d[i];
    }
}

static void vmaxf_ref(float *acc, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (x[i] > acc[i] || acc[i] != acc[i])
            acc[i] = x[i];
}

static void qmul_ref(const void *a, const void *b, int64_t n, int64_t b_run,
                     const mn_qmul_p *p, int i8, void *y)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t j = b_run ? i / b_run : i;
        if (i8)
            ((int8_t *)y)[i] = (int8_t)mn_qmul1(
                p, ((const int8_t *)a)[i], ((const int8_t *)b)[j], 1);
        else
            ((uint8_t *)y)[i] = (uint8_t)mn_qmul1(
                p, ((const uint8_t *)a)[i], ((const uint8_t *)b)[j], 0);
    }
}

static void lut8_ref(const uint8_t *t, const uint8_t *x, int64_t n,
                     uint8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = t[x[i]];
}

static int32_t sum8_ref(const void *x, int64_t n, int i8)
{
    int32_t acc = 0;
    for (int64_t i = 0; i < n; i++)
        acc += i8 ? ((const int8_t *)x)[i] : ((const uint8_t *)x)[i];
    return acc;
}

static void sums8_ref(const void *x, int64_t planes, int64_t n, int i8,
                      int32_t *s)
{
    for (int64_t p = 0; p < planes; p++)
        s[p] = sum8_ref((const uint8_t *)x + p * n, n, i8);
}

static void hmax2_ref(const void *x, int64_t n, int k, int i8, void *y)
{
    for (int64_t o = 0; o < n; o++) {
        const uint8_t *w = (const uint8_t *)x + 2 * o;
        uint8_t best = w[0];
        for (int t = 1; t < k; t++)
            if (i8 ? (int8_t)w[t] > (int8_t)best : w[t] > best)
                best = w[t];
        ((uint8_t *)y)[o] = best;
    }
}

static void hmax2f_ref(const float *x, const float *first, int64_t n, int k,
                       float *y)
{
    for (int64_t o = 0; o < n; o++) {
        const float *w = x + 2 * o;
        float best = w[0];
        if (first[2 * o] != first[2 * o]) {
            y[o] = first[2 * o];
            continue;
        }
        for (int t = 1; t < k; t++)
            if (w[t] > best)
                best = w[t];
        y[o] = best;
    }
}

static void maxrow2_ref(const void *const *rows, int nr, int64_t w,
                        int64_t c0, int64_t n, int k, int i8, void *y)
{
    for (int64_t o = 0; o < n; o++) {
        int best = i8 ? -128 : 0;
        for (int i = 0; i < nr; i++)
            for (int t = 0; t < k; t++) {
                int64_t c = c0 + 2 * o + t;
                if (c < 0 || c >= w)
                    continue;
                const uint8_t *r = rows[i];
                int v = i8 ? (int8_t)r[c] : r[c];
                best = v > best ? v : best;
            }
        ((uint8_t *)y)[o] = (uint8_t)best;
    }
}

static const mn_kernels_qelem kernels = {
    .name = "ref",       .quantize = quantize_ref, .dequantize = dequantize_ref,
    .qadd = qadd_ref,    .vmax = vmax_ref,         .vmaxf = vmaxf_ref,
    .qmul = qmul_ref,    .lut8 = lut8_ref,         .sum8 = sum8_ref,
    .sums8 = sums8_ref,
    .hmax2 = hmax2_ref,  .hmax2f = hmax2f_ref,  .maxrow2 = maxrow2_ref};

const mn_kernels_qelem *mn_kernels_qelem_ref(void) { return &kernels; }

const mn_kernels_qelem *mn_kernels_qelem_active(void)
{
    const mn_kernels_qelem *k = NULL;
    if (mn_isa_active() >= MN_ISA_AVX512 && mn_cpu_has_avx512vbmi())
        k = mn_kernels_qelem_avx512vbmi();
    if (!k && mn_isa_active() >= MN_ISA_AVX2)
        k = mn_kernels_qelem_avx2();
    return k ? k : &kernels;
}
