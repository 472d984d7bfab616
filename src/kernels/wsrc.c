/* Weight sources (wsrc.h): the scalar decode, which is the op table's
 * DequantizeLinear/Cast arithmetic element by element, cut into runs over
 * which the parameter index is constant or steps by one, so that the
 * AVX-512 run decoders can take them whole. */
#include <string.h>
#include "kernels/wsrc.h"
#include "kernels/dispatch.h"
#include "ops/ops.h"

static int32_t nibble(const uint8_t *q, int64_t i, int is_signed)
{
    int32_t v = (q[i >> 1] >> ((i & 1) * 4)) & 15;
    return is_signed ? (v ^ 8) - 8 : v;
}

float mn_wsrc_q4_one(const uint8_t *q, int64_t i, int is_signed, int32_t z,
                     float s, const void *sv, int s_f16, int half)
{
    if (sv)
        s = s_f16 ? mn_f16_to_f32(*(const uint16_t *)sv) : *(const float *)sv;
    float v = (float)(nibble(q, i, is_signed) - z) * s;
    return half ? mn_f16_to_f32(mn_f64_to_f16(v)) : v;
}

static float scale_at(const mn_wsrc *w, int64_t p)
{
    return w->scale_f16 ? mn_f16_to_f32(((const uint16_t *)w->scale)[p])
                        : ((const float *)w->scale)[p];
}

/* One value exactly as dq_forward (then Cast) computes it. */
static float q4_value(const mn_wsrc *w, int64_t i, int64_t p)
{
    int32_t z = w->zp ? nibble(w->zp, p, w->is_signed) : 0;
    float v = (float)(nibble(w->q, i, w->is_signed) - z) * scale_at(w, p);
    return w->scale_f16 ? mn_f16_to_f32(mn_f64_to_f16(v)) : v;
}

/* Where flat element i sits in [outer, pc, inner] (k = kb·blk + kr when
 * blocked), and the runs from there: the parameter index is constant over
 * a run (step 0) or advances by one per element (step 1). The position
 * advances without divisions: a panel row is a handful of runs, and a
 * 64-bit division costs as much as decoding a vector. */
typedef struct run_pos {
    int64_t o, k, j, kb, kr, nb;
} run_pos;

static void run_start(const mn_wsrc *w, int64_t i, run_pos *r)
{
    memset(r, 0, sizeof *r);
    if (w->per_tensor)
        return;
    r->j = i % w->inner;
    r->k = i / w->inner % w->pc;
    r->o = i / w->inner / w->pc;
    if (w->blk) {
        r->kb = r->k / w->blk;
        r->kr = r->k % w->blk;
        r->nb = (w->pc + w->blk - 1) / w->blk;
    }
}

static int64_t param_run(const mn_wsrc *w, const run_pos *r, int64_t *len,
                         int *step)
{
    *step = 0;
    if (w->per_tensor) {
        *len = INT64_MAX;
        return 0;
    }
    if (!w->blk) {
        if (w->inner > 1) {
            *len = w->inner - r->j;
            return r->k;
        }
        *len = w->pc - r->k;
        *step = 1;
        return r->k;
    }
    if (w->inner > 1) {
        *len = w->inner - r->j;
        *step = 1;
    } else {
        int64_t rb = w->blk - r->kr;
        *len = rb < w->pc - r->k ? rb : w->pc - r->k;
    }
    return (r->o * r->nb + r->kb) * w->inner + r->j;
}

/* Moves r by len elements, len never past the end of its run. */
static void run_advance(const mn_wsrc *w, run_pos *r, int64_t len)
{
    if (w->per_tensor)
        return;
    if (w->inner > 1) {
        r->j += len;
        if (r->j < w->inner)
            return;
        r->j = 0;
        len = 1;
    }
    r->k += len;
    if (w->blk) {
        r->kr += len;
        if (r->kr == w->blk) {
            r->kr = 0;
            r->kb++;
        }
    }
    if (r->k == w->pc) {
        r->k = r->kb = r->kr = 0;
        r->o++;
    }
}

static const mn_wsrc_kernels *active(void)
{
    mn_isa isa = mn_isa_active();
    const mn_wsrc_kernels *k = NULL;
    if (isa >= MN_ISA_AVX512)
        k = mn_wsrc_kernels_avx512();
    if (!k && isa >= MN_ISA_AVX2)
        k = mn_wsrc_kernels_avx2();
    return k;
}

void mn_wsrc_decode(const mn_wsrc *w, int64_t i, int64_t n, float *dst)
{
    const mn_wsrc_kernels *k = active();
    if (w->kind == MN_WSRC_F16) {
        const uint16_t *h = (const uint16_t *)w->q + i;
        if (k) {
            k->f16(h, n, dst);
            return;
        }
        for (int64_t t = 0; t < n; t++)
            dst[t] = mn_f16_to_f32(h[t]);
        return;
    }
    run_pos r;
    run_start(w, i, &r);
    /* minnow's int4 layout: blocks along rows, one call per row */
    while (k && w->blk && w->inner == 1 && !w->zp && w->blk % 16 == 0 &&
           !(i & 1) && r.kr % 16 == 0 && n > 0) {
        int64_t len = w->pc - r.k < n ? w->pc - r.k : n;
        const char *sp = (const char *)w->scale +
                         (r.o * r.nb + r.kb) * (w->scale_f16 ? 2 : 4);
        k->q4_blocked(w->q, i, len, w->is_signed, sp, w->scale_f16, w->blk,
                      r.kr, w->scale_f16, dst);
        if (len == n)
            return;
        i += len, dst += len, n -= len;
        run_start(w, i, &r);
    }
    while (n > 0) {
        int64_t len;
        int step;
        int64_t p = param_run(w, &r, &len, &step);
        if (len > n)
            len = n;
        if (k && (!step || !w->zp)) {
            int32_t z = w->zp && !step ? nibble(w->zp, p, w->is_signed) : 0;
            const void *sv = NULL;
            float s = 0.0f;
            if (step)
                sv = (const char *)w->scale + p * (w->scale_f16 ? 2 : 4);
            else
                s = scale_at(w, p);
            k->q4(w->q, i, len, w->is_signed, z, s, sv, w->scale_f16,
                  w->scale_f16, dst);
        } else {
            for (int64_t t = 0; t < len; t++)
                dst[t] = q4_value(w, i + t, p + step * t);
        }
        run_advance(w, &r, len);
        i += len;
        dst += len;
        n -= len;
    }
}

/* Byte offset of flat element i in w->q. */
static size_t q_byte(const mn_wsrc *w, int64_t i)
{
    return w->kind == MN_WSRC_F16 ? (size_t)i * 2 : (size_t)i / 2;
}

void mn_wsrc_rows(const mn_wsrc *w, int64_t r0, int64_t nr, int64_t c0,
                  int64_t nc, float *dst, int64_t ldd)
{
    if (nc == w->cols && ldd == nc && c0 == 0) { /* whole rows: one run */
        mn_wsrc_decode(w, r0 * w->cols, nr * nc, dst);
        return;
    }
    /* panels walk down the rows: fetch the next panel's short row
     * segments (strided, which the hardware prefetchers miss) meanwhile */
    int64_t pr = r0 + nr + nr <= w->rows ? nr : w->rows - r0 - nr;
    for (int64_t r = 0; r < nr; r++) {
        if (r < pr) {
            int64_t i = (r0 + nr + r) * w->cols + c0;
            const char *a = (const char *)w->q + q_byte(w, i);
            const char *b = (const char *)w->q + q_byte(w, i + nc - 1);
            for (; a <= b; a += 64)
                __builtin_prefetch(a);
            __builtin_prefetch(b);
        }
        mn_wsrc_decode(w, (r0 + r) * w->cols + c0, nc, dst + r * ldd);
    }
}

const mn_wsrc_kernels *mn_wsrc_dot(const mn_wsrc *w)
{
    const mn_wsrc_kernels *k = active();
    if (!k || !k->dot_rows)
        return NULL;
    if (w->kind == MN_WSRC_F16)
        return k;
    return w->blk && w->inner == 1 && w->pc == w->cols && !w->zp &&
                   !w->per_tensor && w->blk % 16 == 0 && !(w->cols & 1)
               ? k
               : NULL;
}

size_t mn_wsrc_bytes(const mn_wsrc *w)
{
    size_t n = (size_t)(w->rows * w->cols);
    if (w->kind == MN_WSRC_F16)
        return 2 * n;
    size_t np = 1;
    if (!w->per_tensor) {
        /* parameters: one per (outer, block or channel, inner) */
        int64_t outer = w->rows * w->cols / (w->pc * w->inner);
        int64_t per = w->blk ? (w->pc + w->blk - 1) / w->blk : w->pc;
        np = (size_t)(w->blk ? outer * per * w->inner : per);
    }
    return (n + 1) / 2 + np * (w->scale_f16 ? 2 : 4) +
           (w->zp ? (np + 1) / 2 : 0);
}

const char *mn_wsrc_name(const mn_wsrc *w)
{
    return w->kind == MN_WSRC_F16 ? "fp16" : "int4";
}
