/* QLinearAdd's fixed point (mn_qadd_fixed1, kernels/qelem.h) on 16 int32
 * lanes, shared by the elementwise kernel (qelem_avx512vbmi.c) and the
 * 8-bit GEMM/conv store that fuses a residual add (q8_avx512_epi.h).
 * zc must be an 8-bit zero point (QLinearAdd's output's).
 * Included only from files built with AVX-512 F/BW. */
#ifndef MN_KERNELS_X86_QADD_AVX512_H
#define MN_KERNELS_X86_QADD_AVX512_H

#include <immintrin.h>
#include "kernels/qelem.h"
#include "kernels/x86/avx512_util.h"

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

#ifdef __AVX512VNNI__
/* The fused residual add's form (the 8-bit conv stores): the same result
 * as qadd16 in fewer instructions, exact when mn_qadd_fixed_vec_ok holds
 * (session_fuse.c fuses only then). Operand a arrives as r, the conv's
 * requantized value before its zero point yzp (a = r + yzp, |r| <= 255);
 * b as the residual's bytes. Each lane's dword holds r in its low int16
 * and b's byte (xor 0x80 for int8, making it b + 128) in its high int16,
 * and with ma = 2^11·ma_h + ma_l (both below 2^11, as mb's)
 *   acc = (ma_h·r + mb_h·b') << 11 + (ma_l·r + mb_l·b' + c)
 * (vpmaddwd, vpdpwssd) is ma·(a − za) + mb·(b − zb) + 2^(shift−1), c
 * holding the zero points, the flip and the half. The reference rounds
 * half away from zero: v = (acc − [acc − half < 0]) >> shift, the
 * compare exact because the bound keeps acc in int32. */
typedef struct qres16_k {
    __m512i h, l, c, half, sh, zc, sel, wlo;
} qres16_k;

static inline __attribute__((always_inline)) qres16_k
qres16_load(const mn_qadd_fixed *p, int i8, int32_t yzp)
{
    qres16_k k;
    uint32_t ma = (uint32_t)p->ma, mb = (uint32_t)p->mb;
    uint32_t c = ma * (uint32_t)(yzp - p->za) -
                 mb * (uint32_t)(p->zb + (i8 ? 128 : 0)) +
                 (1u << (p->shift - 1));
    k.h = _mm512_set1_epi32((int32_t)((mb >> 11) << 16 | (ma >> 11)));
    k.l = _mm512_set1_epi32((int32_t)((mb & 2047u) << 16 | (ma & 2047u)));
    k.c = _mm512_set1_epi32((int32_t)c);
    k.half = _mm512_set1_epi32((int32_t)(1u << (p->shift - 1)));
    k.sh = _mm512_set1_epi32(p->shift);
    k.zc = _mm512_set1_epi32(p->zc);
    /* 128-bit lane q's dword j takes byte 4q + j into its third byte */
    k.sel = _mm512_set_epi32(
        (int32_t)0x800F8080, (int32_t)0x800E8080, (int32_t)0x800D8080,
        (int32_t)0x800C8080, (int32_t)0x800B8080, (int32_t)0x800A8080,
        (int32_t)0x80098080, (int32_t)0x80088080, (int32_t)0x80078080,
        (int32_t)0x80068080, (int32_t)0x80058080, (int32_t)0x80048080,
        (int32_t)0x80038080, (int32_t)0x80028080, (int32_t)0x80018080,
        (int32_t)0x80008080);
    k.wlo = _mm512_set1_epi32(0xFFFF);
    return k;
}

/* r: 16 requantized values without their zero point; bb: the residual's
 * 16 bytes, broadcast to the four 128-bit lanes (lane q's bytes 4q .. 4q
 * + 3 are used), sgn: int8. Returns v + zc, before the clamp to the
 * type (the saturating packs of qres_pack do it). */
static inline __attribute__((always_inline)) __m512i
qres16(__m512i r, __m512i bb, const qres16_k *k, int sgn)
{
    if (sgn)
        bb = _mm512_xor_si512(bb, _mm512_set1_epi8((char)0x80));
    /* (r & 0xFFFF) | b */
    __m512i ab = _mm512_ternarylogic_epi32(
        r, _mm512_shuffle_epi8(bb, k->sel), k->wlo, 0xEC);
    __m512i acc = _mm512_add_epi32(
        _mm512_slli_epi32(_mm512_madd_epi16(ab, k->h), 11),
        _mm512_dpwssd_epi32(k->c, ab, k->l));
    __mmask16 neg = _mm512_cmplt_epi32_mask(acc, k->half);
    acc = _mm512_mask_sub_epi32(acc, neg, acc, _mm512_set1_epi32(1));
    return _mm512_add_epi32(_mm512_srav_epi32(acc, k->sh), k->zc);
}

/* Two qres16 results (lanes 0-15, 16-31) saturated to the type: 32
 * bytes. */
static inline __attribute__((always_inline)) __m256i
qres_pack2(__m512i v0, __m512i v1, int sgn)
{
    return mn_sat_pack2_epi32(v0, v1, _mm512_setzero_si512(), sgn);
}

/* One qres16 result saturated to the type: 16 bytes. */
static inline __attribute__((always_inline)) __m128i
qres_pack1(__m512i v, int sgn)
{
    return mn_sat_pack1_epi32(v, _mm512_setzero_si512(), sgn);
}
#endif

#endif
