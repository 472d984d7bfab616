/* AVX-512 VNNI 8-bit GEMM tile (see qgemm.h): 8 rows × 32 columns, the
 * sums of q8_tile_avx512vnni.h over a packed activation panel, stored
 * through store16k, the requantizing store of the 8-bit kernels
 * (q8_avx512_epi.h: the same values as mn_ref_requantize). Built with
 * -mavx512vnni (Makefile rule for *_avx512vnni.c); compiled empty
 * otherwise. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"
#include "kernels/x86/q8_tile_avx512vnni.h"

#define MR 8
#define NR 32

static void qs8_gemm_8x32c4(int64_t kq, const void *a_, const uint8_t *b,
                            int mr, int nr, const mn_qgemm_epi *e,
                            int64_t row0, void *y_, int64_t rs, int64_t cs)
{
    __m512i acc[MR][2];
    q8_tile8x32(kq, a_, b, NULL, acc);
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
    .dw_cv = mn_q8_dwcv_avx512vbmi,
    .direct = mn_q8_direct_avx512vnni,
    .direct_cv = mn_q8_direct_cv_avx512vnni,
    .rows_cv = mn_q8_rows_cv_avx512vnni,
    .gemv = mn_q8_gemv_avx512vnni,
    .pad = mn_q8_pad_plane_avx512,
};

const mn_kernels_q8 *mn_kernels_q8_avx512vnni(void) { return &kernels; }


#else
const mn_kernels_q8 *mn_kernels_q8_avx512vnni(void) { return 0; }
#endif
