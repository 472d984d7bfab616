/* AVX-512 float32 depthwise convolution: one output plane at a time, 64
 * output columns in four zmm accumulators, rows outer. Borders and tails
 * are masked loads (zero outside the input; computed once per column
 * block), so no padded copy of the input is made and the kernel needs no
 * scratch. Horizontal stride 2 loads 32 inputs and keeps the even lanes.
 * Narrow planes keep 2 or 4 output rows in registers instead. Any kernel
 * size up to 16 columns, any vertical stride and dilation; 3×3, 5×5 and
 * 7×7 are the ones CNNs use. */
#include "kernels/kernels_f32.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__FMA__)
#include "kernels/x86/avx512_util.h"

#define VL MN_VL16
#define DW_NV 4 /* output vectors kept in registers: 64 columns */
#define DW_KW_MAX 16

/* Output vector V of tap (i, j) from input row pointer XR: masked loads
 * (stride 1) or 32 loaded inputs with the even lanes kept (stride 2). */
#define DW_X(XR, V)                                                         \
    (sw == 1 ? _mm512_maskz_loadu_ps(mk[j][V][0], (XR) + j * dw + V * VL)    \
             : _mm512_permutex2var_ps(                                      \
                   _mm512_maskz_loadu_ps(mk[j][V][0],                       \
                                         (XR) + j * dw + V * 2 * VL),       \
                   even,                                                    \
                   _mm512_maskz_loadu_ps(mk[j][V][1], (XR) + j * dw +      \
                                                          V * 2 * VL + VL)))

/* Accumulator K = output row K / nv, vector K % nv of the R·nv ≤ 4 kept in
 * registers (several rows when the block is narrow, so that the FMA
 * latency is covered). */
#define DW_FMA(K)                                                           \
    if (K < R * nv && xr[K / nv])                                           \
        a##K = _mm512_fmadd_ps(wv, DW_X(xr[K / nv], K % nv), a##K);
#define DW_STORE(K)                                                         \
    if (K < R * nv)                                                         \
        _mm512_mask_storeu_ps(y + (oh + K / nv) * p->ow + ow0 + (K % nv) * VL, \
                              ms[K % nv], mn_act512(a##K, act));

/* Output rows [oh0, oh1) (a multiple of R) of one block of nv vectors;
 * sw, nv and R are compile-time constants. Each output sums its taps in
 * the same (i, j) order whatever R is. */
MN_INLINE void dw_block(const int sw, const int nv, const int R,
                        const mn_conv_params *p, const float *x,
                        const float *w, float bias, const mn_act *act,
                        float *y, int64_t ow0, int64_t oh0, int64_t oh1,
                        __mmask16 mk[DW_KW_MAX][DW_NV][2])
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14,
                                          12, 10, 8, 6, 4, 2, 0);
    const int64_t dw = p->dw, kw = p->kw;
    __mmask16 ms[DW_NV];
    for (int v = 0; v < DW_NV; v++)
        ms[v] = mn_tail_mask16(p->ow - ow0 - v * VL);
    for (int64_t oh = oh0; oh < oh1; oh += R) {
        __m512 a0 = _mm512_set1_ps(bias), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < p->kh; i++) {
            const float *xr[4] = {NULL, NULL, NULL, NULL};
            for (int r = 0; r < R; r++) {
                int64_t ih = (oh + r) * p->sh - p->pt + i * p->dh;
                if (ih >= 0 && ih < p->h)
                    xr[r] = x + ih * p->w + ow0 * sw - p->pl;
            }
            const float *wr = w + i * kw;
            for (int64_t j = 0; j < kw; j++) {
                __m512 wv = _mm512_set1_ps(wr[j]);
                DW_FMA(0) DW_FMA(1) DW_FMA(2) DW_FMA(3)
            }
        }
        DW_STORE(0) DW_STORE(1) DW_STORE(2) DW_STORE(3)
    }
}

typedef void (*dw_block_fn)(const mn_conv_params *, const float *,
                            const float *, float, const mn_act *, float *,
                            int64_t, int64_t, int64_t,
                            __mmask16[DW_KW_MAX][DW_NV][2]);
#define DW_BLOCK(SW, NV, R)                                                 \
    static void dw_block_##SW##_##NV##_##R(                                 \
        const mn_conv_params *p, const float *x, const float *w,            \
        float bias, const mn_act *act, float *y, int64_t ow0, int64_t oh0,  \
        int64_t oh1, __mmask16 mk[DW_KW_MAX][DW_NV][2])                     \
    {                                                                       \
        dw_block(SW, NV, R, p, x, w, bias, act, y, ow0, oh0, oh1, mk);      \
    }
DW_BLOCK(1, 1, 4) DW_BLOCK(1, 2, 2) DW_BLOCK(1, 3, 1) DW_BLOCK(1, 4, 1)
DW_BLOCK(1, 1, 1) DW_BLOCK(1, 2, 1)
DW_BLOCK(2, 1, 4) DW_BLOCK(2, 2, 2) DW_BLOCK(2, 3, 1) DW_BLOCK(2, 4, 1)
DW_BLOCK(2, 1, 1) DW_BLOCK(2, 2, 1)
/* [stride - 1][vectors - 1]: the many-row kernel and its one-row tail */
static const dw_block_fn dw_main[2][DW_NV] = {
    {dw_block_1_1_4, dw_block_1_2_2, dw_block_1_3_1, dw_block_1_4_1},
    {dw_block_2_1_4, dw_block_2_2_2, dw_block_2_3_1, dw_block_2_4_1}};
static const dw_block_fn dw_tail[2][DW_NV] = {
    {dw_block_1_1_1, dw_block_1_2_1, dw_block_1_3_1, dw_block_1_4_1},
    {dw_block_2_1_1, dw_block_2_2_1, dw_block_2_3_1, dw_block_2_4_1}};
static const int dw_rows[DW_NV] = {4, 2, 1, 1};

static void dw_plane(const mn_conv_params *p, const float *x, const float *w,
                     float bias, const mn_act *act, float *y)
{
    /* input-column masks per (kernel column, vector, half) */
    __mmask16 mk[DW_KW_MAX][DW_NV][2];
    for (int64_t ow0 = 0; ow0 < p->ow; ow0 += DW_NV * VL) {
        int nv = (int)((p->ow - ow0 + VL - 1) / VL);
        if (nv > DW_NV)
            nv = DW_NV;
        for (int v = 0; v < nv; v++)
            for (int64_t j = 0; j < p->kw; j++) {
                int64_t base = (ow0 + v * VL) * p->sw + j * p->dw - p->pl;
                mk[j][v][0] = mn_range_mask16(base, p->w);
                mk[j][v][1] = mn_range_mask16(base + VL, p->w);
            }
        int64_t R = dw_rows[nv - 1], oh_main = p->oh / R * R;
        dw_main[p->sw - 1][nv - 1](p, x, w, bias, act, y, ow0, 0, oh_main, mk);
        if (oh_main < p->oh)
            dw_tail[p->sw - 1][nv - 1](p, x, w, bias, act, y, ow0, oh_main,
                                       p->oh, mk);
    }
}

mn_dwconv_plane_fn mn_dwconv_f32_avx512(const mn_conv_params *p)
{
    if ((p->sw != 1 && p->sw != 2) || p->kw > DW_KW_MAX)
        return 0;
    return dw_plane;
}

#else
mn_dwconv_plane_fn mn_dwconv_f32_avx512(const mn_conv_params *p)
{
    (void)p;
    return 0;
}
#endif
