/* QLinearAdd's fixed point (mn_qadd_fixed1, kernels/qelem.h) on 16 int32
 * lanes, shared by the elementwise kernel (qelem_avx512vbmi.c) and the
 * 8-bit GEMM/conv store that fuses a residual add (q8_avx512_epi.h).
 * zc must be an 8-bit zero point (QLinearAdd's output's).
 * Included only from files built with AVX-512 F/BW. */
#ifndef MN_KERNELS_X86_QADD_AVX512_H
#define MN_KERNELS_X86_QADD_AVX512_H

#include <immintrin.h>
#include "kernels/qelem.h"

typedef struct qadd16_k {
    __m512i ma, mb, c, zc, lo, hi;
    __m128i sh1; /* shift − 1 */
} qadd16_k;

static inline __attribute__((always_inline)) qadd16_k
qadd16_load(const mn_qadd_fixed *p, int i8)
{
    qadd16_k k;
    /* ma·(a − za) + mb·(b − zb) = ma·a + mb·b + c modulo 2^32, the
     * reference's wrapping arithmetic */
    uint32_t c = 0u - (uint32_t)p->ma * (uint32_t)p->za -
                 (uint32_t)p->mb * (uint32_t)p->zb;
    k.ma = _mm512_set1_epi32(p->ma);
    k.mb = _mm512_set1_epi32(p->mb);
    k.c = _mm512_set1_epi32((int32_t)c);
    k.zc = _mm512_set1_epi32(p->zc);
    k.lo = _mm512_set1_epi32(i8 ? -128 : 0);
    k.hi = _mm512_set1_epi32(i8 ? 127 : 255);
    k.sh1 = _mm_cvtsi32_si128(p->shift - 1);
    return k;
}

/* a, b: the operands' values as int32. The rounding shift, + zc, and
 * [lo, hi]. The shift rounds half away from zero as the reference's
 * remainder test does: with acc' = acc − 1 for a negative acc,
 * v = ((acc' >> (shift − 1)) + 1) >> 1 (for acc >= 0, (acc + half) >>
 * shift; for acc < 0 the +1 comes only past the half). |acc| < 2^31
 * since |ma·(a − za)| and |mb·(b − zb)| stay below 2^22·255, so acc' and
 * the +1 cannot overflow. The reference's two int16 clamps are implied:
 * with zc an 8-bit zero point (|zc| <= 255) a shifted value beyond int16
 * lands beyond [lo, hi] on the same side with or without them, and the
 * shifted value (|·| < 2^31 >> 1) plus zc cannot overflow. */
static inline __attribute__((always_inline)) __m512i
qadd16(__m512i a, __m512i b, const qadd16_k *k)
{
    __m512i acc = _mm512_add_epi32(
        _mm512_add_epi32(_mm512_mullo_epi32(k->ma, a),
                         _mm512_mullo_epi32(k->mb, b)),
        k->c);
    acc = _mm512_add_epi32(acc, _mm512_srai_epi32(acc, 31));
    __m512i v = _mm512_srai_epi32(
        _mm512_add_epi32(_mm512_sra_epi32(acc, k->sh1), _mm512_set1_epi32(1)),
        1);
    v = _mm512_add_epi32(v, k->zc);
    return _mm512_min_epi32(_mm512_max_epi32(v, k->lo), k->hi);
}

#endif
