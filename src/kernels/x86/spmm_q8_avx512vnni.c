/* AVX-512 VNNI sparse 8-bit convolution kernel (contract in
 * src/kernels/spmm_q8.h).
 *
 * One output row at a time over a tile of nv·16 virtual pixels; per
 * non-zero quad, one broadcast of its 4 int8 weights and nv vpdpbusd on
 * 64-byte loads of x4 at the quad's offset (16 pixels × 4 channels). Even
 * and odd quads go to two accumulator sets (twice the independent
 * vpdpbusd chains), added at the end. The last block compresses each
 * vector to its real output pixels and stores through store16, the dense
 * GEMM tile's requantizing store (q8_avx512_epi.h); earlier blocks keep
 * int32 partial sums. Built with -mavx512vnni (Makefile rule for
 * *_avx512vnni.c); compiled empty otherwise. */
#include "kernels/spmm_q8.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"

#define DP(A, V, W, P)                                                      \
    if (nv > V)                                                             \
        A##V = _mm512_dpbusd_epi32(A##V,                                    \
                                   _mm512_loadu_si512((P) + V * 64), W);

INL void conv_body(const int nv, int64_t mr, const int32_t *ptr,
                   const int32_t *off, const int32_t *w4,
                   const uint8_t *base, const mn_spq8_tile *t, int32_t *part,
                   int64_t ldp, int first, int last, const mn_qgemm_epi *e,
                   int64_t row0, char *y, int64_t rs)
{
    int es = e->mult ? 1 : 4;
    for (int64_t i = 0; i < mr; i++) {
        int32_t *pr = part + i * ldp;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        __m512i b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        if (!first) {
            a0 = _mm512_loadu_si512(pr);
            if (nv > 1)
                a1 = _mm512_loadu_si512(pr + 16);
            if (nv > 2)
                a2 = _mm512_loadu_si512(pr + 32);
            if (nv > 3)
                a3 = _mm512_loadu_si512(pr + 48);
        }
        int32_t x = ptr[i], x1 = ptr[i + 1];
        for (; x + 1 < x1; x += 2) {
            __m512i w = _mm512_set1_epi32(w4[x]);
            __m512i u = _mm512_set1_epi32(w4[x + 1]);
            const uint8_t *p = base + off[x], *q = base + off[x + 1];
            DP(a, 0, w, p) DP(a, 1, w, p) DP(a, 2, w, p) DP(a, 3, w, p)
            DP(b, 0, u, q) DP(b, 1, u, q) DP(b, 2, u, q) DP(b, 3, u, q)
        }
        if (x < x1) {
            __m512i w = _mm512_set1_epi32(w4[x]);
            const uint8_t *p = base + off[x];
            DP(a, 0, w, p) DP(a, 1, w, p) DP(a, 2, w, p) DP(a, 3, w, p)
        }
        __m512i acc[4] = {_mm512_add_epi32(a0, b0), _mm512_add_epi32(a1, b1),
                          _mm512_add_epi32(a2, b2), _mm512_add_epi32(a3, b3)};
        if (!last) {
            for (int v = 0; v < nv; v++)
                _mm512_storeu_si512(pr + 16 * v, acc[v]);
            continue;
        }
        char *yr = y + i * rs * es;
        for (int v = 0; v < nv; v++) {
            __mmask16 m = t->mask[v];
            if (!m)
                continue;
            __m512i c = m == 0xFFFF ? acc[v]
                                    : _mm512_maskz_compress_epi32(m, acc[v]);
            store16(c, e, row0 + i, __builtin_popcount(m),
                    yr + t->yoff[v] * es, 1);
        }
    }
}

#define CONV(V)                                                             \
    static void conv_##V(int64_t mr, const int32_t *ptr, const int32_t *off, \
                         const int32_t *w4, const uint8_t *base,            \
                         const mn_spq8_tile *t, int32_t *part, int64_t ldp, \
                         int first, int last, const mn_qgemm_epi *e,        \
                         int64_t row0, char *y, int64_t rs)                 \
    {                                                                       \
        conv_body(V, mr, ptr, off, w4, base, t, part, ldp, first, last, e,  \
                  row0, y, rs);                                             \
    }
CONV(1)
CONV(2)
CONV(3)
CONV(4)

static void conv_vnni(int64_t mr, const int32_t *ptr, const int32_t *off,
                      const int32_t *w4, const uint8_t *base,
                      const mn_spq8_tile *t, int32_t *part, int64_t ldp,
                      int first, int last, const mn_qgemm_epi *e,
                      int64_t row0, void *y, int64_t rs)
{
    static void (*const fn[4])(int64_t, const int32_t *, const int32_t *,
                               const int32_t *, const uint8_t *,
                               const mn_spq8_tile *, int32_t *, int64_t, int,
                               int, const mn_qgemm_epi *, int64_t, char *,
                               int64_t) = {conv_1, conv_2, conv_3, conv_4};
    fn[t->nv - 1](mr, ptr, off, w4, base, t, part, ldp, first, last, e, row0,
                  y, rs);
}

static const mn_spq8_kernels kernels = {
    .name = "qs8_spconv_c4__avx512vnni",
    .conv = conv_vnni,
};

const mn_spq8_kernels *mn_spq8_kernels_avx512vnni(void) { return &kernels; }

#else
const mn_spq8_kernels *mn_spq8_kernels_avx512vnni(void) { return 0; }
#endif
