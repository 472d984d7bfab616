/* AVX-512 VNNI 8-bit GEMM tile (see qgemm.h): 8 rows × 32 columns, 16 zmm
 * accumulators; per quad of k, two loads of packed uint8 activations and 8
 * broadcasts of 4 int8 weights feed 16 vpdpbusd. The epilogue converts to
 * double (exact), adds the row addend, multiplies, rounds half-to-even
 * (vrndscalepd), adds the output zero point and saturates, as
 * mn_ref_requantize. Built with -mavx512vnni (Makefile rule for
 * *_avx512vnni.c); compiled empty otherwise. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"

#define MR 8
#define NR 32

static void qs8_gemm_8x32c4(int64_t kq, const void *a_, const uint8_t *b,
                            int mr, int nr, const mn_qgemm_epi *e,
                            int64_t row0, void *y_, int64_t rs, int64_t cs)
{
    const int32_t *a = a_;
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
            c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t q = 0; q < kq; q++, a += MR, b += NR * 4) {
        __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
        __m512i w;
#define ROW(i)                                                                 \
    w = _mm512_set1_epi32(a[i]);                                               \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, b0, w);                             \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, b1, w);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
    __m512i acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                          {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
    int es = e->mult ? 1 : 4;
    char *y = y_;
    q8_epi k = q8_epi_load(e);
    for (int i = 0; i < mr; i++) {
        char *yr = y + i * rs * es;
        q8_row r = q8_row_load(e, row0 + i);
        store16k(acc[i][0], &k, &r, nr < 16 ? nr : 16, yr, cs);
        if (nr > 16)
            store16k(acc[i][1], &k, &r, nr - 16, yr + 16 * cs * es, cs);
    }
}

static const mn_kernels_q8 kernels = {
    .name = "qs8_gemm_8x32c4__avx512vnni",
    .isa = MN_ISA_AVX512VNNI,
    .mr = MR,
    .nr = NR,
    .a_layout = MN_QA_S8X4,
    .tile = qs8_gemm_8x32c4,
    .dw = mn_q8_dwconv_avx512vnni,
    .direct = mn_q8_direct_avx512vnni,
    .gemv = mn_q8_gemv_avx512vnni,
};

const mn_kernels_q8 *mn_kernels_q8_avx512vnni(void) { return &kernels; }


#else
const mn_kernels_q8 *mn_kernels_q8_avx512vnni(void) { return 0; }
#endif
