/* AVX-512 sparse float32 kernels (contract in src/kernels/spmm_f32.h).
 *
 * Conv panel kernel: one output row at a time, nt/16 vectors of output
 * pixels; per non-zero, one broadcast of the weight and nt/16 loads of the
 * panel row it selects. Even and odd non-zeros go to two accumulator sets
 * (twice the independent FMA chains), added at the end. Tails are masked
 * loads/stores. Gemm kernel: 16 non-zeros at a time, x gathered by index.
 * Built with -mavx512f/bw/vl/dq -mfma (Makefile rule for *_avx512.c);
 * compiled empty otherwise. */
#include "kernels/spmm_f32.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__FMA__)
#include "kernels/x86/avx512_util.h"

#define VL MN_VL16

#define SP_FMA(A, V, W, P)                                                  \
    if (nv > V)                                                             \
        A##V = _mm512_fmadd_ps(W, _mm512_loadu_ps((P) + V * VL), A##V);

MN_INLINE void panel_body(const int nv, int64_t mr, const int32_t *ptr,
                          const int32_t *idx, const float *val,
                          const float *panel, int64_t nc, const float *bias,
                          const float *res, int64_t ldy, float *y, int first,
                          int last, const mn_act *act)
{
    const int64_t nt = (int64_t)nv * VL;
    __mmask16 m0 = mn_tail_mask16(nc), m1 = mn_tail_mask16(nc - VL);
    __mmask16 m2 = mn_tail_mask16(nc - 2 * VL);
    __mmask16 m3 = mn_tail_mask16(nc - 3 * VL);
    for (int64_t i = 0; i < mr; i++) {
        float *yr = y + i * ldy;
        __m512 a0, a1 = _mm512_setzero_ps(), a2 = a1, a3 = a1;
        __m512 b0 = a1, b1 = a1, b2 = a1, b3 = a1;
        if (first) {
            a0 = _mm512_set1_ps(bias ? bias[i] : 0.0f);
            a1 = a2 = a3 = a0;
        } else {
            a0 = _mm512_maskz_loadu_ps(m0, yr);
            if (nv > 1)
                a1 = _mm512_maskz_loadu_ps(m1, yr + VL);
            if (nv > 2)
                a2 = _mm512_maskz_loadu_ps(m2, yr + 2 * VL);
            if (nv > 3)
                a3 = _mm512_maskz_loadu_ps(m3, yr + 3 * VL);
        }
        int32_t e = ptr[i], e1 = ptr[i + 1];
        for (; e + 1 < e1; e += 2) {
            __m512 w = _mm512_set1_ps(val[e]), u = _mm512_set1_ps(val[e + 1]);
            const float *p = panel + (int64_t)idx[e] * nt;
            const float *q = panel + (int64_t)idx[e + 1] * nt;
            SP_FMA(a, 0, w, p) SP_FMA(a, 1, w, p)
            SP_FMA(a, 2, w, p) SP_FMA(a, 3, w, p)
            SP_FMA(b, 0, u, q) SP_FMA(b, 1, u, q)
            SP_FMA(b, 2, u, q) SP_FMA(b, 3, u, q)
        }
        if (e < e1) {
            __m512 w = _mm512_set1_ps(val[e]);
            const float *p = panel + (int64_t)idx[e] * nt;
            SP_FMA(a, 0, w, p) SP_FMA(a, 1, w, p)
            SP_FMA(a, 2, w, p) SP_FMA(a, 3, w, p)
        }
        a0 = _mm512_add_ps(a0, b0);
        if (nv > 1)
            a1 = _mm512_add_ps(a1, b1);
        if (nv > 2)
            a2 = _mm512_add_ps(a2, b2);
        if (nv > 3)
            a3 = _mm512_add_ps(a3, b3);
        if (last) {
            if (res) {
                const float *rr = res + i * ldy;
                a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(m0, rr));
                if (nv > 1)
                    a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(m1, rr + VL));
                if (nv > 2)
                    a2 = _mm512_add_ps(a2,
                                       _mm512_maskz_loadu_ps(m2, rr + 2 * VL));
                if (nv > 3)
                    a3 = _mm512_add_ps(a3,
                                       _mm512_maskz_loadu_ps(m3, rr + 3 * VL));
            }
            if (act && act->kind != MN_ACT_NONE) {
                a0 = mn_act512(a0, act);
                if (nv > 1)
                    a1 = mn_act512(a1, act);
                if (nv > 2)
                    a2 = mn_act512(a2, act);
                if (nv > 3)
                    a3 = mn_act512(a3, act);
            }
        }
        _mm512_mask_storeu_ps(yr, m0, a0);
        if (nv > 1)
            _mm512_mask_storeu_ps(yr + VL, m1, a1);
        if (nv > 2)
            _mm512_mask_storeu_ps(yr + 2 * VL, m2, a2);
        if (nv > 3)
            _mm512_mask_storeu_ps(yr + 3 * VL, m3, a3);
    }
}

#define PANEL(V)                                                            \
    static void panel_##V(int64_t mr, const int32_t *ptr, const int32_t *idx, \
                          const float *val, const float *panel, int64_t nc, \
                          const float *bias, const float *res, int64_t ldy, \
                          float *y, int first, int last, const mn_act *act) \
    {                                                                       \
        panel_body(V, mr, ptr, idx, val, panel, nc, bias, res, ldy, y,      \
                   first, last, act);                                       \
    }
PANEL(1)
PANEL(2)
PANEL(3)
PANEL(4)

static void panel_avx512(int64_t mr, const int32_t *ptr, const int32_t *idx,
                         const float *val, const float *panel, int nt,
                         int64_t nc, const float *bias, const float *res,
                         int64_t ldy, float *y, int first, int last,
                         const mn_act *act)
{
    switch (nt) {
    case 16:
        panel_1(mr, ptr, idx, val, panel, nc, bias, res, ldy, y, first, last,
                act);
        break;
    case 32:
        panel_2(mr, ptr, idx, val, panel, nc, bias, res, ldy, y, first, last,
                act);
        break;
    case 48:
        panel_3(mr, ptr, idx, val, panel, nc, bias, res, ldy, y, first, last,
                act);
        break;
    default:
        panel_4(mr, ptr, idx, val, panel, nc, bias, res, ldy, y, first, last,
                act);
        break;
    }
}

static void spmv_avx512(int64_t mr, const int32_t *ptr, const int32_t *idx,
                        const float *val, const float *x, const float *bias,
                        const float *res, const mn_act *act, float *y)
{
    for (int64_t i = 0; i < mr; i++) {
        __m512 acc = _mm512_setzero_ps();
        int32_t e = ptr[i], e1 = ptr[i + 1];
        for (; e + VL <= e1; e += VL) {
            __m512i iv = _mm512_loadu_si512((const void *)(idx + e));
            __m512 xv = _mm512_i32gather_ps(iv, x, 4);
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(val + e), xv, acc);
        }
        if (e < e1) {
            __mmask16 m = mn_tail_mask16(e1 - e);
            __m512i iv = _mm512_maskz_loadu_epi32(m, idx + e);
            __m512 xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, iv,
                                                 x, 4);
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, val + e), xv, acc);
        }
        float v = _mm512_reduce_add_ps(acc);
        v += (bias ? bias[i] : 0.0f) + (res ? res[i] : 0.0f);
        y[i] = act ? mn_act_scalar(act, v) : v;
    }
}

static const mn_spmm_kernels kernels = {
    .name = "avx512",
    .panel = panel_avx512,
    .spmv = spmv_avx512,
};

const mn_spmm_kernels *mn_spmm_kernels_avx512(void) { return &kernels; }

#else
const mn_spmm_kernels *mn_spmm_kernels_avx512(void) { return 0; }
#endif
