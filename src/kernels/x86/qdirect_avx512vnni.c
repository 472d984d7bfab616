/* AVX-512 VNNI direct 8-bit convolution tile (contract in qgemm.h,
 * mn_q8_direct_fn): 8 output channels × 32 virtual pixels, the GEMM tile's
 * sums (q8_tile_avx512vnni.h) with the activations read in place from the
 * x4 input (two 64-byte loads at base + off[q] per quad) instead of a
 * packed panel. The store compresses each vector to
 * its output pixels and goes through store16k, the requantizing store of
 * the other 8-bit kernels (q8_avx512_epi.h). Built with -mavx512vnni
 * (Makefile rule for *_avx512vnni.c); compiled empty otherwise. */
#include "kernels/qgemm.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include "kernels/x86/q8_avx512_epi.h"
#include "kernels/x86/q8_tile_avx512vnni.h"

#define MR 8

/* The common block: both vectors whole and one contiguous run of 32 8-bit
 * outputs per row (no wide-grid columns in it), stored as one 32-byte
 * write per row with the per-vector branches of store16k hoisted; rk the
 * fused residual add's constants or NULL (a constant when inlined). */
static inline __attribute__((always_inline)) void
store_block32(__m512i acc[MR][2], int mr, const q8_epi *k,
              const mn_qgemm_epi *e, int64_t row0, char *y, int64_t rs,
              const qres16_k *rk)
{
    for (int i = 0; i < mr; i++, y += rs) {
        q8_row r = q8_row_load(e, row0 + i);
        if (!rk && k->fast) {
            _mm256_storeu_si256(
                (__m256i *)y,
                mn_sat_pack2_epi32(requant16_nc(acc[i][0], r.add, r.mult),
                                   requant16_nc(acc[i][1], r.add, r.mult),
                                   _mm512_set1_epi16((short)k->yzp), k->sgn));
            continue;
        }
        __m512i r0 = requant16(acc[i][0], r.add, r.mult, k->l, k->h);
        __m512i r1 = requant16(acc[i][1], r.add, r.mult, k->l, k->h);
        if (rk) {
            const __m128i *rp = (const __m128i *)(y + k->res_off);
            r0 = qres16(r0, _mm512_broadcast_i32x4(_mm_loadu_si128(rp)), rk,
                        k->sgn);
            r1 = qres16(r1, _mm512_broadcast_i32x4(_mm_loadu_si128(rp + 1)),
                        rk, k->sgn);
            _mm256_storeu_si256((__m256i *)y, qres_pack2(r0, r1, k->sgn));
            continue;
        }
        r0 = _mm512_add_epi32(r0, k->zp);
        r1 = _mm512_add_epi32(r1, k->zp);
        __m128i b0 = _mm512_cvtepi32_epi8(r0);
        __m128i b1 = _mm512_cvtepi32_epi8(r1);
        __asm__("" : "+v"(b0), "+v"(b1)); /* see store16k */
        _mm256_storeu_si256(
            (__m256i *)y,
            _mm256_inserti128_si256(_mm256_castsi128_si256(b0), b1, 1));
    }
}

void mn_q8_direct_avx512vnni(int64_t kq, const void *a_, const int32_t *off,
                             const uint8_t *base, int mr,
                             const uint16_t *mask, const int64_t *yoff,
                             const mn_qgemm_epi *e, int64_t row0, void *y_,
                             int64_t rs)
{
    __m512i acc[MR][2];
    q8_tile8x32(kq, a_, base, off, acc);
    int es = e->mult ? 1 : 4;
    char *y = y_;
    q8_epi k = q8_epi_load(e);
    if (!k.i32 && mask[0] == 0xFFFF && mask[1] == 0xFFFF &&
        yoff[1] == yoff[0] + 16) {
        if (k.res) {
            const qres16_k rk = q8_res_load(&k);
            store_block32(acc, mr, &k, e, row0, y + yoff[0], rs, &rk);
        } else {
            store_block32(acc, mr, &k, e, row0, y + yoff[0], rs, NULL);
        }
        return;
    }
    qres16_k rk;
    if (k.res)
        rk = q8_res_load(&k);
    const int n0 = __builtin_popcount(mask[0]);
    const int n1 = __builtin_popcount(mask[1]);
    for (int i = 0; i < mr; i++) {
        q8_row r = q8_row_load(e, row0 + i);
        if (n0)
            store16kr(n0 == 16 ? acc[i][0]
                               : _mm512_maskz_compress_epi32(mask[0], acc[i][0]),
                      &k, &r, n0, y + (i * rs + yoff[0]) * es, 1,
                      k.res ? &rk : NULL);
        if (n1)
            store16kr(n1 == 16 ? acc[i][1]
                               : _mm512_maskz_compress_epi32(mask[1], acc[i][1]),
                      &k, &r, n1, y + (i * rs + yoff[1]) * es, 1,
                      k.res ? &rk : NULL);
    }
}

#endif
