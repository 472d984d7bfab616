/* AVX-512 VBMI builder of one taps4 x4 row (see q8_x4.h): from a padded
 * input row, dword j = bytes j·sw .. j·sw + 3 (4 adjacent columns,
 * stride 1 or 2). Per 16 dwords one load of the 19 or 34 bytes they read
 * (masked to the row), one vpermb, the flip, one store. Gives the
 * portable builder's bytes. Built with -mavx512vbmi (Makefile rule for
 * *_avx512vbmi.c); compiled empty otherwise. */
#include "kernels/q8_x4.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VBMI__)
#include <immintrin.h>
#include "kernels/x86/avx512_util.h"

/* byte 4l + t of the output takes byte s·l + t of the load */
#define Q4(s, l) (s) * (l), (s) * (l) + 1, (s) * (l) + 2, (s) * (l) + 3
#define Q16(s) Q4(s, 0), Q4(s, 1), Q4(s, 2), Q4(s, 3), Q4(s, 4), Q4(s, 5), \
    Q4(s, 6), Q4(s, 7), Q4(s, 8), Q4(s, 9), Q4(s, 10), Q4(s, 11),         \
    Q4(s, 12), Q4(s, 13), Q4(s, 14), Q4(s, 15)
static const uint8_t quad_idx[2][64] = {{Q16(1)}, {Q16(2)}};

static void taps4_row(const uint8_t *t, int64_t wq, int sw, uint8_t flip,
                      uint8_t *dst)
{
    const __m512i ix = _mm512_loadu_si512(quad_idx[sw - 1]);
    const __m512i fv = _mm512_set1_epi8((char)flip);
    int64_t len = (wq - 1) * sw + 4;
    for (int64_t j = 0; j < wq; j += 16) {
        int64_t b = j * sw;
        __m512i v = _mm512_maskz_loadu_epi8(mn_tail_mask64(len - b), t + b);
        _mm512_mask_storeu_epi32(
            dst + 4 * j, mn_tail_mask16(wq - j),
            _mm512_xor_si512(_mm512_permutexvar_epi8(ix, v), fv));
    }
}

mn_q8_x4_taps4_fn mn_q8_x4_taps4_avx512vbmi(void) { return taps4_row; }

#else
mn_q8_x4_taps4_fn mn_q8_x4_taps4_avx512vbmi(void) { return 0; }
#endif
