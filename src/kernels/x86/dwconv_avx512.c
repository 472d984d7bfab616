/* AVX-512 float32 depthwise convolution: one output plane at a time, 64
 * output columns in four zmm accumulators, rows outer. Borders and tails
 * are masked loads (zero outside the input; computed once per column
 * block), so no padded copy of the input is made and the kernel needs no
 * scratch. Horizontal stride 2 loads 32 inputs and keeps the even lanes.
 * Narrower blocks keep 2, 4 or 8 output rows in registers. Any kernel
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
    (sw == 1 ? _mm512_maskz_loadu_ps(mj[V][0], (XR) + j * dw + V * VL)        \
             : _mm512_permutex2var_ps(                                      \
                   _mm512_maskz_loadu_ps(mj[V][0],                           \
                                         (XR) + j * dw + V * 2 * VL),       \
                   even,                                                    \
                   _mm512_maskz_loadu_ps(mj[V][1], (XR) + j * dw +          \
                                                      V * 2 * VL + VL)))

/* Accumulator K = output row K / nv, vector K % nv of the R·nv ≤ 8 kept in
 * registers (several rows when the block is narrow: eight independent FMA
 * chains cover the FMA latency on both pipes). Rows past the block's end
 * and rows in the vertical padding have xr NULL. */
#define DW_FMA(K)                                                           \
    if (K < R * nv && xr[K / nv])                                           \
        a##K = _mm512_fmadd_ps(wv, DW_X(xr[K / nv], K % nv), a##K);
#define DW_STORE(K)                                                         \
    if (K < R * nv && K / nv < rows)                                        \
        _mm512_mask_storeu_ps(y + (oh + K / nv) * p->ow + ow0 + (K % nv) * VL, \
                              ms[K % nv], mn_act512(a##K, act));

/* Output rows [oh0, oh1) of one block of nv vectors, R rows at a time (the
 * last pass may have fewer); sw, nv and R are compile-time constants. Each
 * output sums its taps in the same (i, j) order whatever R is. */
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
        int rows = oh1 - oh < R ? (int)(oh1 - oh) : R;
        __m512 a0 = _mm512_set1_ps(bias), a1 = a0, a2 = a0, a3 = a0;
        __m512 a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int64_t i = 0; i < p->kh; i++) {
            const float *xr[8] = {NULL, NULL, NULL, NULL,
                                  NULL, NULL, NULL, NULL};
            for (int r = 0; r < rows; r++) {
                int64_t ih = (oh + r) * p->sh - p->pt + i * p->dh;
                if (ih >= 0 && ih < p->h)
                    xr[r] = x + ih * p->w + ow0 * sw - p->pl;
            }
            const float *wr = w + i * kw;
            for (int64_t j = 0; j < kw; j++) {
                __m512 wv = _mm512_set1_ps(wr[j]);
                /* this column's masks, loaded once for the R rows */
                __mmask16 mj[DW_NV][2];
                for (int v = 0; v < nv; v++)
                    mj[v][0] = mk[j][v][0], mj[v][1] = mk[j][v][1];
                DW_FMA(0) DW_FMA(1) DW_FMA(2) DW_FMA(3)
                DW_FMA(4) DW_FMA(5) DW_FMA(6) DW_FMA(7)
            }
        }
        DW_STORE(0) DW_STORE(1) DW_STORE(2) DW_STORE(3)
        DW_STORE(4) DW_STORE(5) DW_STORE(6) DW_STORE(7)
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
DW_BLOCK(1, 1, 8) DW_BLOCK(1, 2, 4) DW_BLOCK(1, 3, 2) DW_BLOCK(1, 4, 2)
DW_BLOCK(2, 1, 8) DW_BLOCK(2, 2, 4) DW_BLOCK(2, 3, 2) DW_BLOCK(2, 4, 2)
/* [stride - 1][vectors - 1] */
static const dw_block_fn dw_fns[2][DW_NV] = {
    {dw_block_1_1_8, dw_block_1_2_4, dw_block_1_3_2, dw_block_1_4_2},
    {dw_block_2_1_8, dw_block_2_2_4, dw_block_2_3_2, dw_block_2_4_2}};

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
        dw_fns[p->sw - 1][nv - 1](p, x, w, bias, act, y, ow0, 0, p->oh, mk);
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
