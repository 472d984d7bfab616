/* The 8-bit GEMM driver (see qgemm.h): kernel selection, weight packing,
 * activation packing (plain, transposed, or implicit im2col straight from
 * an NCHW input: no im2col matrix is materialized) and the tiling over the
 * thread pool. A task owns one column tile: it packs that tile's B (all k)
 * into its thread's scratch and runs every A panel of its row range over
 * it. Integer sums are exact, so any tiling gives the same bits. */
#include <math.h>
#include <string.h>
#include "kernels/qgemm.h"
#if defined(__SSE2__)
#include <emmintrin.h> /* baseline on x86-64: no per-file ISA flag */
#endif

#define NC_MAX 512            /* columns per task tile (row buffers below) */
#define B_BUDGET (256u << 10) /* bytes of one packed B tile (L2) */
#define MIN_PAR_MACS 1048576.0

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t v, int64_t m) { return ceil_div(v, m) * m; }

const mn_kernels_q8 *mn_kernels_q8_active(void)
{
    mn_isa isa = mn_isa_active();
    const mn_kernels_q8 *k = NULL;
    if (isa >= MN_ISA_AVX512VNNI)
        k = mn_kernels_q8_avx512vnni();
    if (!k && isa >= MN_ISA_AVX2)
        k = mn_kernels_q8_avx2();
    return k;
}

int mn_q8_dw_ok(const mn_kernels_q8 *kr, const mn_conv_params *p)
{
    return kr && kr->dw && mn_ref_conv2d_is_depthwise(p) &&
           (p->sw == 1 || p->sw == 2);
}

int64_t mn_q8_dwcv_rows(const mn_conv_params *p)
{
    return (p->oh - 1) * p->sh + p->kh;
}

size_t mn_q8_dwcv_scratch(const mn_conv_params *p)
{
    return (size_t)(2 * mn_q8_dwcv_rows(p) * ((p->kw + 3) / 4) * p->ow) * 64;
}

int mn_q8_dwcv_ok(const mn_kernels_q8 *kr, const mn_conv_params *p)
{
    return kr && kr->dw_cv && mn_q8_dw_ok(kr, p) && p->dh == 1 &&
           p->dw == 1 && (p->sh == 1 || p->sh == 2) && p->kh <= 8 &&
           p->kw <= 8 && p->ow <= 16 && p->oh <= 64 &&
           mn_cpu_has_avx512vbmi();
}

size_t mn_q8_dwcv_pack_bytes(const mn_conv_params *p)
{
    return (size_t)(ceil_div(p->m, 32) * p->kh * ((p->kw + 3) / 4)) * 128;
}

void mn_q8_dwcv_pack(const mn_conv_params *p, const int32_t *taps,
                     int8_t *dst)
{
    int64_t Q = (p->kw + 3) / 4, kk = p->kh * p->kw;
    int8_t *d = dst;
    for (int64_t t = 0; t < ceil_div(p->m, 32); t++)
        for (int64_t i = 0; i < p->kh; i++)
            for (int64_t g = 0; g < Q; g++)
                for (int64_t c = 0; c < 32; c++) /* half c/16, lane c%16 */
                    for (int64_t b = 0; b < 4; b++, d++) {
                        int64_t ch = 32 * t + c, j = 4 * g + b;
                        *d = ch < p->m && j < p->kw
                                 ? (int8_t)taps[ch * kk + i * p->kw + j]
                                 : 0;
                    }
}

int mn_q8_epi_fast(const mn_qgemm_epi *e, int64_t rows, int64_t k)
{
    double acc = (double)k * 255.0 * 128.0;
    if (!e->mult || !e->add || acc >= 2147483647.0)
        return 0;
    for (int64_t r = 0; r < rows; r++) {
        double m = fabs((double)e->mult[r]);
        double s = fabs((double)e->add[r]) + acc;
        /* s must not wrap in int32 either */
        if (!(m <= 3.4e38) || s >= 2147483647.0 || s * m >= 1073741824.0)
            return 0;
    }
    return 1;
}

void mn_qgemm_store1(const mn_qgemm_epi *e, int64_t row, int32_t acc,
                     void *y)
{
    if (!e->mult) {
        int32_t v = (int32_t)((uint32_t)acc + (uint32_t)e->add_i32[row]);
        memcpy(y, &v, 4);
        return;
    }
    int32_t v = mn_ref_requantize((int64_t)acc + (int64_t)e->add[row],
                                  e->mult[row], (int32_t)e->yzp,
                                  (int32_t)e->lo, (int32_t)e->hi);
    if (e->res)
        v = mn_q8_res1(e->res, e->out_signed, v,
                       (const char *)y + e->res_off);
    *(uint8_t *)y = e->out_signed ? (uint8_t)(int8_t)v : (uint8_t)v;
}

/* ---- A ---- */

static int64_t quads(int64_t k) { return ceil_div(k, 4); }

size_t mn_q8_pack_a_bytes(const mn_kernels_q8 *kr, int64_t m, int64_t k)
{
    int per = kr->a_layout == MN_QA_S8X4 ? 4 : 8;
    return (size_t)(ceil_div(m, kr->mr) * kr->mr * quads(k) * per);
}

void mn_q8_pack_a(const mn_kernels_q8 *kr, int64_t m, int64_t k,
                  const uint8_t *w, int64_t ldw, uint8_t flip, void *dst,
                  int32_t *rowsum)
{
    int64_t kq = quads(k), mr = kr->mr, npan = ceil_div(m, mr);
    for (int64_t pn = 0; pn < npan; pn++)
        for (int64_t q = 0; q < kq; q++)
            for (int64_t i = 0; i < mr; i++) {
                int64_t r = pn * mr + i;
                int8_t v[4] = {0, 0, 0, 0};
                for (int t = 0; t < 4 && r < m; t++)
                    if (4 * q + t < k)
                        v[t] = (int8_t)(w[r * ldw + 4 * q + t] ^ flip);
                int64_t at = (pn * kq + q) * mr + i;
                if (kr->a_layout == MN_QA_S8X4) {
                    memcpy((int8_t *)dst + at * 4, v, 4);
                } else {
                    int16_t s[4] = {v[0], v[2], v[1], v[3]};
                    memcpy((int16_t *)dst + at * 4, s, sizeof s);
                }
            }
    if (rowsum)
        mn_q8_rowsum(m, k, w, ldw, flip, rowsum);
}

void mn_q8_rowsum(int64_t m, int64_t k, const uint8_t *w, int64_t ldw,
                  uint8_t flip, int32_t *rowsum)
{
    for (int64_t r = 0; r < m; r++) {
        int32_t s = 0;
        for (int64_t p = 0; p < k; p++)
            s += (int8_t)(w[r * ldw + p] ^ flip);
        rowsum[r] = s;
    }
}

/* ---- B ---- */

void mn_q8_pad_dims(const mn_conv_params *p, int64_t *hp, int64_t *wp)
{
    *hp = max64(p->h + p->pt, (p->oh - 1) * p->sh + (p->kh - 1) * p->dh + 1);
    *wp = max64(p->w + p->pl, (p->ow - 1) * p->sw + (p->kw - 1) * p->dw + 1);
}

size_t mn_q8_pad_bytes(const mn_conv_params *p)
{
    int64_t hp, wp;
    mn_q8_pad_dims(p, &hp, &wp);
    return (size_t)(p->c / p->group * hp * wp + 64);
}

void mn_q8_pad_input(const mn_conv_params *p, const uint8_t *x, uint8_t pad,
                     uint8_t *dst)
{
    int64_t hp, wp, cg = p->c / p->group;
    mn_q8_pad_dims(p, &hp, &wp);
    for (int64_t c = 0; c < cg; c++) {
        uint8_t *d = dst + c * hp * wp;
        const uint8_t *s = x + c * p->h * p->w;
        memset(d, pad, (size_t)(p->pt * wp));
        for (int64_t i = 0; i < p->h; i++) {
            uint8_t *r = d + (p->pt + i) * wp;
            /* the side pads are a byte or two: no library calls for them */
            for (int64_t k = 0; k < p->pl; k++)
                r[k] = pad;
            memcpy(r + p->pl, s + i * p->w, (size_t)p->w);
            for (int64_t k = p->pl + p->w; k < wp; k++)
                r[k] = pad;
        }
        memset(d + (p->pt + p->h) * wp, pad,
               (size_t)((hp - p->pt - p->h) * wp));
    }
    memset(dst + cg * hp * wp, pad, 64);
}

void mn_q8_gather_row(const uint8_t *src, int64_t n, int64_t stride,
                      uint8_t *dst)
{
    int64_t o = 0;
    if (stride == 2) {
#if defined(__SSE2__)
        /* even bytes of 32: reads at most one byte past the last one
         * taken */
        const __m128i even = _mm_set1_epi16(0x00FF);
        for (; o + 16 <= n; o += 16) {
            __m128i v0 = _mm_loadu_si128((const __m128i *)(src + 2 * o));
            __m128i v1 = _mm_loadu_si128((const __m128i *)(src + 2 * o + 16));
            _mm_storeu_si128((__m128i *)(dst + o),
                             _mm_packus_epi16(_mm_and_si128(v0, even),
                                              _mm_and_si128(v1, even)));
        }
#endif
    }
    for (; o < n; o++)
        dst[o] = src[o * stride];
}

/* One im2col row (tap ki, kj of padded channel plane xc, wp wide) for
 * output columns [j0, j0 + nc). May write up to 16 bytes past nc. */
static void im2col_row_u8(const mn_conv_params *p, const uint8_t *xc,
                          int64_t wp, int64_t ki, int64_t kj, int64_t j0,
                          int64_t nc, uint8_t *row)
{
    int64_t oh = j0 / p->ow, ow = j0 % p->ow;
    for (int64_t j = 0; j < nc; oh++, ow = 0) {
        int64_t run = min64(p->ow - ow, nc - j);
        const uint8_t *src =
            xc + (oh * p->sh + ki * p->dh) * wp + ow * p->sw + kj * p->dw;
        uint8_t *d = row + j;
        if (p->sw != 1) {
            mn_q8_gather_row(src, run, p->sw, d);
        } else if (run <= 16) {
#if defined(__SSE2__)
            _mm_storeu_si128((__m128i *)d,
                             _mm_loadu_si128((const __m128i *)src));
#else
            memcpy(d, src, (size_t)run);
#endif
        } else {
            memcpy(d, src, (size_t)run);
        }
        j += run;
    }
}

void mn_q8_interleave4(const uint8_t *const r[4], int64_t nc, int nr,
                        int64_t kq, int64_t q, uint8_t flip, uint8_t *dst)
{
    uint32_t f = flip * 0x01010101u;
    for (int64_t j0 = 0, pan = 0; j0 < nc; j0 += nr, pan++) {
        uint32_t *d = (uint32_t *)(dst + (pan * kq + q) * nr * 4);
        int64_t w = min64(nr, nc - j0);
        const uint8_t *a = r[0] + j0, *b = r[1] + j0, *c = r[2] + j0,
                      *e = r[3] + j0;
        int64_t j = 0;
#if defined(__SSE2__)
        __m128i fv = _mm_set1_epi8((char)flip);
        for (; j + 16 <= w; j += 16) {
            __m128i va = _mm_loadu_si128((const __m128i *)(a + j));
            __m128i vb = _mm_loadu_si128((const __m128i *)(b + j));
            __m128i vc = _mm_loadu_si128((const __m128i *)(c + j));
            __m128i ve = _mm_loadu_si128((const __m128i *)(e + j));
            __m128i ab0 = _mm_unpacklo_epi8(va, vb);
            __m128i ab1 = _mm_unpackhi_epi8(va, vb);
            __m128i ce0 = _mm_unpacklo_epi8(vc, ve);
            __m128i ce1 = _mm_unpackhi_epi8(vc, ve);
            __m128i q0 = _mm_unpacklo_epi16(ab0, ce0);
            __m128i q1 = _mm_unpackhi_epi16(ab0, ce0);
            __m128i q2 = _mm_unpacklo_epi16(ab1, ce1);
            __m128i q3 = _mm_unpackhi_epi16(ab1, ce1);
            __m128i *o = (__m128i *)(d + j);
            _mm_storeu_si128(o, _mm_xor_si128(q0, fv));
            _mm_storeu_si128(o + 1, _mm_xor_si128(q1, fv));
            _mm_storeu_si128(o + 2, _mm_xor_si128(q2, fv));
            _mm_storeu_si128(o + 3, _mm_xor_si128(q3, fv));
        }
#endif
        for (; j < w; j++)
            d[j] = ((uint32_t)a[j] | (uint32_t)b[j] << 8 |
                    (uint32_t)c[j] << 16 | (uint32_t)e[j] << 24) ^ f;
        for (j = w; j < nr; j++)
            d[j] = 0;
    }
}

static void pack_b(const mn_q8_bsrc *s, int64_t k, int64_t j0, int64_t nc,
                   int nr, uint8_t *dst)
{
    static const uint8_t zeros[NC_MAX];
    int64_t kq = quads(k);
    if (s->kind == MN_Q8B_TRANS) {
        uint32_t f = s->flip * 0x01010101u;
        for (int64_t jb = 0, pan = 0; jb < nc; jb += nr, pan++) {
            int64_t w = min64(nr, nc - jb);
            for (int64_t q = 0; q < kq; q++) {
                uint32_t *d = (uint32_t *)(dst + (pan * kq + q) * nr * 4);
                int64_t t = min64(4, k - 4 * q);
                for (int64_t j = 0; j < w; j++) {
                    const uint8_t *src =
                        s->b + (j0 + jb + j) * s->ldb + 4 * q;
                    uint32_t v = 0;
                    if (t == 4)
                        memcpy(&v, src, 4);
                    else
                        for (int64_t u = 0; u < t; u++)
                            v |= (uint32_t)src[u] << (8 * u);
                    d[j] = v ^ f;
                }
                for (int64_t j = w; j < nr; j++)
                    d[j] = 0;
            }
        }
        return;
    }
    uint8_t rows[4][NC_MAX + 16];
    const mn_conv_params *p = s->p;
    int64_t khw = p ? p->kh * p->kw : 1, hp = 0, wp = 0;
    if (p)
        mn_q8_pad_dims(p, &hp, &wp);
    for (int64_t q = 0; q < kq; q++) {
        const uint8_t *r[4];
        for (int t = 0; t < 4; t++) {
            int64_t kk = 4 * q + t;
            if (kk >= k) {
                r[t] = zeros; /* times a zero weight */
            } else if (s->kind == MN_Q8B_MATRIX) {
                r[t] = s->b + kk * s->ldb + j0;
            } else {
                int64_t c = kk / khw, rr = kk % khw;
                im2col_row_u8(p, s->b + c * hp * wp, wp, rr / p->kw,
                              rr % p->kw, j0, nc, rows[t]);
                r[t] = rows[t];
            }
        }
        mn_q8_interleave4(r, nc, nr, kq, q, s->flip, dst);
    }
}

/* ---- driver ---- */

static int64_t tile_cols(const mn_kernels_q8 *kr, int64_t n, int64_t k)
{
    int64_t per = quads(k) * 4;
    int64_t nc = (int64_t)B_BUDGET / per / kr->nr * kr->nr;
    nc = min64(max64(nc, kr->nr), NC_MAX);
    return min64(nc, round_up(n, kr->nr));
}

size_t mn_q8_thread_scratch(const mn_kernels_q8 *kr, int64_t n, int64_t k)
{
    return (size_t)(quads(k) * 4 * tile_cols(kr, n, k));
}

typedef struct job {
    const mn_kernels_q8 *kr;
    int64_t m, n, k, nc, ntn, rows_per; /* rows_per: multiple of MR */
    const uint8_t *a;
    size_t a_panel;                     /* bytes of one A panel */
    const mn_q8_bsrc *bs;
    const mn_qgemm_epi *e;
    int64_t row0, rs, cs;
    char *y;
    int esize;
    mn_pool *pool;
    void *scratch0;
} job;

static void task(void *arg, int64_t t, int thread)
{
    const job *J = arg;
    const mn_kernels_q8 *kr = J->kr;
    int64_t nt = t % J->ntn, mt = t / J->ntn;
    int64_t j0 = nt * J->nc, nc = min64(J->nc, J->n - j0);
    int64_t r0 = mt * J->rows_per, r1 = min64(J->m, r0 + J->rows_per);
    int64_t kq = quads(J->k);
    uint8_t *bp = J->pool ? mn_pool_scratch(J->pool, thread) : J->scratch0;
    pack_b(J->bs, J->k, j0, nc, kr->nr, bp);
    for (int64_t i = r0; i < r1; i += kr->mr) {
        const uint8_t *a = J->a + (size_t)(i / kr->mr) * J->a_panel;
        int mr = (int)min64(kr->mr, r1 - i);
        for (int64_t jb = 0; jb < nc; jb += kr->nr) {
            int nr = (int)min64(kr->nr, nc - jb);
            char *y = J->y + (i * J->rs + (j0 + jb) * J->cs) * J->esize;
            kr->tile(kq, a, bp + jb * kq * 4, mr, nr, J->e, J->row0 + i, y,
                     J->rs, J->cs);
        }
    }
}

/* One column: B's bytes gathered once, panels of rows over the pool. */
typedef struct gemv_job {
    const mn_kernels_q8 *kr;
    int64_t m, kq, rows_per, row0, rs;
    const uint8_t *a, *x;
    size_t a_panel;
    const mn_qgemm_epi *e;
    char *y;
} gemv_job;

static void gemv_task(void *arg, int64_t t, int thread)
{
    const gemv_job *J = arg;
    int64_t r = t * J->rows_per, es = J->e->mult ? 1 : 4;
    (void)thread;
    J->kr->gemv(J->kq, J->a + (size_t)(r / J->kr->mr) * J->a_panel,
                min64(J->rows_per, J->m - r), J->x, J->e, J->row0 + r,
                J->y + r * J->rs * es, J->rs);
}

static void gemv_run(const mn_kernels_q8 *kr, mn_pool *pool, int64_t m,
                     int64_t k, const void *a, const mn_q8_bsrc *bs,
                     const mn_qgemm_epi *e, int64_t row0, void *y,
                     int64_t rs, uint8_t *x)
{
    int64_t kq = quads(k);
    const uint8_t *b = bs->b;
    for (int64_t p = 0; p < 4 * kq; p++)
        x[p] = p < k ? (uint8_t)(b[bs->kind == MN_Q8B_TRANS ? p : p * bs->ldb] ^
                                 bs->flip)
                     : 0;
    gemv_job J = {.kr = kr, .m = m, .kq = kq, .rows_per = m, .row0 = row0,
                  .rs = rs, .a = a, .x = x,
                  .a_panel = mn_q8_pack_a_bytes(kr, kr->mr, k), .e = e,
                  .y = y};
    int threads = mn_pool_threads(pool);
    if (threads > 1 && (double)m * (double)k >= MIN_PAR_MACS)
        J.rows_per = ceil_div(ceil_div(m, 4 * threads), 4 * kr->mr) * 4 *
                     kr->mr;
    else
        pool = NULL;
    mn_pool_run(pool, gemv_task, &J, ceil_div(m, J.rows_per));
}

void mn_q8_gemm_run(const mn_kernels_q8 *kr, mn_pool *pool, int64_t m,
                    int64_t n, int64_t k, const void *a, const mn_q8_bsrc *bs,
                    const mn_qgemm_epi *e, int64_t row0, void *y, int64_t rs,
                    int64_t cs, void *scratch)
{
    if (m <= 0 || n <= 0)
        return;
    if (n == 1 && kr->gemv && scratch &&
        (bs->kind == MN_Q8B_MATRIX || bs->kind == MN_Q8B_TRANS)) {
        gemv_run(kr, pool, m, k, a, bs, e, row0, y, rs, scratch);
        return;
    }
    job J = {.kr = kr, .m = m, .n = n, .k = k, .a = a, .bs = bs, .e = e,
             .row0 = row0, .rs = rs, .cs = cs, .y = y,
             .esize = e->mult ? 1 : 4, .pool = pool, .scratch0 = scratch};
    J.nc = tile_cols(kr, n, k);
    J.ntn = ceil_div(n, J.nc);
    J.a_panel = mn_q8_pack_a_bytes(kr, kr->mr, k);
    int64_t npan = ceil_div(m, kr->mr), ntm = 1;
    int threads = mn_pool_threads(pool);
    if (threads < 2 || (double)m * (double)n * (double)k < MIN_PAR_MACS ||
        mn_pool_scratch_bytes(pool) < mn_q8_thread_scratch(kr, n, k))
        J.pool = pool = NULL;
    else if (J.ntn < 2 * threads)
        ntm = min64(npan, ceil_div(2 * threads, J.ntn));
    J.rows_per = ceil_div(npan, ntm) * kr->mr;
    ntm = ceil_div(m, J.rows_per);
    mn_pool_run(pool, task, &J, ntm * J.ntn);
}
