/* The channel-vector tiles' requantizing store (included only from the
 * AVX-512 VNNI kernel files: qdirect_cv_avx512vnni.c, the depthwise
 * dwconv_q8_avx512vbmi.c): acc[v][j] holds output channels row0 + 16·v +
 * lane of pixel j (j < np <= 8, channels < nc <= 32). Requantized in
 * channel lanes (each lane its own multiplier and addend, loaded as
 * vectors), then transposed to 8-pixel rows — each vector holds two
 * channels' 8 pixels — where the fused residual add runs on the
 * residual's bytes as they lie, and each channel's 8 bytes are one 8-byte
 * store. Channel i's pixel j goes to y + (i·rs + j) elements. */
#ifndef MN_KERNELS_X86_Q8_CV_STORE_H
#define MN_KERNELS_X86_Q8_CV_STORE_H

#include "kernels/x86/q8_avx512_epi.h"

/* z (16 requantized int32 lanes before the zero point) plus the
 * residual's 16 bytes rr, by the fused QLinearAdd's constants rk (sgn:
 * int8 bytes): the 16 output bytes. */
INL __m128i cv_res16(__m512i z, __m128i rr, int sgn, const qres16_k *rk)
{
    return qres_pack1(qres16(z, _mm512_broadcast_i32x4(rr), rk, sgn), sgn);
}

/* The same with lanes 0-7 from the 8 bytes at ra and lanes 8-15 from the
 * 8 at rb (two channels' pixels), loaded straight into qres16's lanes. */
INL __m128i cv_res16ab(__m512i z, const char *ra, const char *rb, int sgn,
                       const qres16_k *rk)
{
    __m512i bb = _mm512_inserti64x4(
        _mm512_castsi256_si512(
            _mm256_broadcastq_epi64(_mm_loadl_epi64((const __m128i *)ra))),
        _mm256_broadcastq_epi64(_mm_loadl_epi64((const __m128i *)rb)), 1);
    return qres_pack1(qres16(z, bb, rk, sgn), sgn);
}

/* The channel-vector sums' 16 accumulators c<pixel><half> (cv_sums in
 * both kernel files) into acc[half][pixel]. */
#define Q8_CV_ACC_OUT(acc)                                                     \
    do {                                                                       \
        acc[0][0] = c00, acc[0][1] = c10, acc[0][2] = c20, acc[0][3] = c30;    \
        acc[0][4] = c40, acc[0][5] = c50, acc[0][6] = c60, acc[0][7] = c70;    \
        acc[1][0] = c01, acc[1][1] = c11, acc[1][2] = c21, acc[1][3] = c31;    \
        acc[1][4] = c41, acc[1][5] = c51, acc[1][6] = c61, acc[1][7] = c71;    \
    } while (0)

/* The whole tile's requantizing store (8 pixels, 32 channels, 8-bit
 * output), straight-line: rk the fused residual add's constants or NULL
 * (a constant when inlined); sgn (int8 output) a constant for the
 * residual add (without one, k->sgn tells). */
INL void
store_full(__m512i acc[2][8], const q8_epi *k, const mn_qgemm_epi *e,
           int64_t row0, char *y, int64_t rs, const qres16_k *rk,
           const int sgn)
{
    const int fast = !rk && k->fast;
    const __m512i zp16 = _mm512_set1_epi16((short)k->yzp);
#pragma GCC unroll 2
    for (int v = 0; v < 2; v++) {
        __m512i add = _mm512_loadu_si512(e->add + row0 + 16 * v);
        __m512 mult = _mm512_loadu_ps(e->mult + row0 + 16 * v);
        __m512i r[8], t[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            if (fast) {
                r[j] = requant16_nc(acc[v][j], add, mult);
                continue;
            }
            r[j] = requant16(acc[v][j], add, mult, k->l, k->h);
            if (!rk)
                r[j] = _mm512_add_epi32(r[j], k->zp);
        }
        mn_transpose8x16(r, t);
        if (fast) { /* no clamp; two rows of 16 narrowed at once */
#pragma GCC unroll 4
            for (int s = 0; s < 8; s += 2) {
                __m256i b = mn_sat_pack2_epi32(t[s], t[s + 1], zp16, k->sgn);
                __m128i b0 = _mm256_castsi256_si128(b);
                __m128i b1 = _mm256_extracti128_si256(b, 1);
                char *ya = y + (16 * v + mn_cv_ch_lo(s)) * rs;
                char *yc = y + (16 * v + mn_cv_ch_lo(s + 1)) * rs;
                _mm_storel_epi64((__m128i *)ya, b0);
                _mm_storeh_pi((__m64 *)(ya + 4 * rs), _mm_castsi128_ps(b0));
                _mm_storel_epi64((__m128i *)yc, b1);
                _mm_storeh_pi((__m64 *)(yc + 4 * rs), _mm_castsi128_ps(b1));
            }
            continue;
        }
#pragma GCC unroll 8
        for (int s = 0; s < 8; s++) {
            char *ya = y + (16 * v + mn_cv_ch_lo(s)) * rs, *yb = ya + 4 * rs;
            __m128i b;
            if (rk) {
                b = cv_res16ab(t[s], ya + k->res_off, yb + k->res_off, sgn,
                               rk);
            } else {
                b = _mm512_cvtepi32_epi8(t[s]); /* in range */
                __asm__("" : "+v"(b)); /* see store16k */
            }
            _mm_storel_epi64((__m128i *)ya, b);
            _mm_storeh_pi((__m64 *)yb, _mm_castsi128_ps(b));
        }
    }
}

/* The tile's store: straight-line for 8 pixels × 32 channels of 8-bit
 * output, lane-masked otherwise. */
INL void mn_q8_cv_store(__m512i acc[2][8], int np, int nc,
                        const mn_qgemm_epi *e, int64_t row0, void *y_,
                        int64_t rs)
{
    char *y = y_;
    const __mmask16 pm = mn_tail_mask16(np);
    q8_epi k = q8_epi_load(e);
    if (!k.i32 && np == 8 && nc == 32) {
        if (!k.res) {
            store_full(acc, &k, e, row0, y, rs, NULL, 0);
        } else {
            const qres16_k rk = q8_res_load(&k);
            if (k.sgn)
                store_full(acc, &k, e, row0, y, rs, &rk, 1);
            else
                store_full(acc, &k, e, row0, y, rs, &rk, 0);
        }
        return;
    }
    qres16_k rk;
    if (k.res)
        rk = q8_res_load(&k);
    for (int v = 0; v < 2 && 16 * v < nc; v++) {
        const __mmask16 cm = mn_tail_mask16(nc - 16 * v);
        const int64_t r0 = row0 + 16 * v;
        __m512i t[8];
        if (k.i32) {
            __m512i add = _mm512_maskz_loadu_epi32(cm, e->add_i32 + r0);
            for (int j = 0; j < 8; j++)
                acc[v][j] = _mm512_add_epi32(acc[v][j], add);
        } else {
            __m512i add = _mm512_maskz_loadu_epi32(cm, e->add + r0);
            __m512 mult = _mm512_maskz_loadu_ps(cm, e->mult + r0);
            for (int j = 0; j < 8; j++) {
                acc[v][j] = requant16(acc[v][j], add, mult, k.l, k.h);
                if (!k.res)
                    acc[v][j] = _mm512_add_epi32(acc[v][j], k.zp);
            }
        }
        mn_transpose8x16(acc[v], t);
        for (int s = 0; s < 8; s++) {
            /* t[s]: channel ca in lanes 0-7, cb = ca + 4 in lanes 8-15 */
            int ca = 16 * v + mn_cv_ch_lo(s), cb = ca + 4;
            if (ca >= nc)
                continue;
            if (k.i32) {
                char *ya = y + (int64_t)ca * rs * 4, *yb = y + cb * rs * 4;
                _mm256_mask_storeu_epi32(ya, (__mmask8)pm,
                                         _mm512_castsi512_si256(t[s]));
                if (cb < nc)
                    _mm256_mask_storeu_epi32(
                        yb, (__mmask8)pm, _mm512_extracti64x4_epi64(t[s], 1));
                continue;
            }
            char *ya = y + (int64_t)ca * rs, *yb = y + cb * rs;
            __m128i b;
            if (k.res) {
                __m128i ra = _mm_maskz_loadu_epi8(pm, ya + k.res_off);
                __m128i rb = cb < nc ? _mm_maskz_loadu_epi8(pm, yb + k.res_off)
                                     : _mm_setzero_si128();
                b = cv_res16(t[s], _mm_unpacklo_epi64(ra, rb), k.sgn, &rk);
            } else {
                b = _mm512_cvtepi32_epi8(t[s]); /* in range */
                __asm__("" : "+v"(b)); /* see store16k */
            }
            if (np == 8) {
                _mm_storel_epi64((__m128i *)ya, b);
                if (cb < nc)
                    _mm_storeh_pi((__m64 *)yb, _mm_castsi128_ps(b));
            } else {
                _mm_mask_storeu_epi8(ya, pm, b);
                if (cb < nc)
                    _mm_mask_storeu_epi8(yb, pm, _mm_srli_si128(b, 8));
            }
        }
    }
}

#endif
