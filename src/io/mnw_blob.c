/* .mnw tensor blobs and checksum, shared by the writer and the reader:
 * choosing a tensor's storage (dense, bitmask or gaps; native width or
 * 4-bit nibbles), encoding it, checking and decoding it back into a dense
 * tensor, and the file CRC (docs/mnw-format.md, "Tensor record").
 *
 * GAPS codes the positions as 4-bit run lengths: for each stored element,
 * k codes 15 (each: 15 more zeros) then the remaining zeros before it
 * (0..14); the zeros after the last one are coded the same way until fewer
 * than 15 remain. At 90 % zeros that is ~0.63 bytes per stored element
 * against the bitmask's 1.25. */
#include <string.h>
#include <zlib.h>
#include "io/mnw_format.h"
#include "ops/ops.h"

uint32_t mnw_file_crc(const uint8_t *file, size_t len)
{
    static const uint8_t zero[4];
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t at = 0;
    while (at < len) {
        size_t n = len - at;
        if (at == MNW_CRC_OFFSET) { /* the crc32 field reads as zero */
            n = n < 4 ? n : 4;
            crc = crc32(crc, zero, (uInt)n);
            at += n;
            continue;
        }
        if (at < MNW_CRC_OFFSET && n > MNW_CRC_OFFSET - at)
            n = MNW_CRC_OFFSET - at;
        if (n > (1u << 30)) /* zlib takes uInt lengths */
            n = 1u << 30;
        crc = crc32(crc, file + at, (uInt)n);
        at += n;
    }
    return (uint32_t)crc;
}

static size_t pad8(size_t n) { return (n + 7) / 8 * 8; }

int mnw_half_ok(mn_dtype dt)
{
    return dt == MN_DT_F32 || dt == MN_DT_I32 || dt == MN_DT_I64;
}

size_t mnw_blob_size(const mnw_blob *b, size_t numel, size_t es)
{
    size_t vals = b->packing == MNW_PACK_NIBBLE ? (b->nnz + 1) / 2
                  : b->packing == MNW_PACK_HALF ? b->nnz * (es / 2)
                                                : b->nnz * es;
    if (b->layout == MNW_LAYOUT_DENSE)
        return vals;
    if (b->layout == MNW_LAYOUT_GAPS)
        return 8 + pad8((b->ncodes + 1) / 2) + vals;
    return pad8((numel + 7) / 8) + vals;
}

/* An element is zero when all its bytes are: -0.0 and NaNs are stored. */
static int elem_nonzero(const uint8_t *p, size_t es)
{
    for (size_t b = 0; b < es; b++)
        if (p[b])
            return 1;
    return 0;
}

/* 1 when every element fits 4 bits: int8 in [-8, 7], uint8 in [0, 15]. */
static int fits_nibble(const mn_tensor *t, size_t numel)
{
    if (t->dtype == MN_DT_I8) {
        for (size_t i = 0; i < numel; i++) {
            int8_t v = ((const int8_t *)t->data)[i];
            if (v < -8 || v > 7)
                return 0;
        }
        return 1;
    }
    if (t->dtype == MN_DT_U8) {
        for (size_t i = 0; i < numel; i++)
            if (((const uint8_t *)t->data)[i] > 15)
                return 0;
        return 1;
    }
    return 0;
}

/* Element i of a HALF-packable tensor at half width: the float16 bits,
 * or the low 16 (int32) or 32 (int64) bits; *exact: whether widening
 * gives back the same value (bit for bit for floats, so -0.0 stays and a
 * NaN whose payload float16 cannot hold is not exact). */
static uint32_t half_of(const mn_tensor *t, size_t i, int *exact)
{
    if (t->dtype == MN_DT_F32) {
        float f = ((const float *)t->data)[i], g;
        uint16_t h = mn_f64_to_f16((double)f);
        g = mn_f16_to_f32(h);
        *exact = memcmp(&f, &g, sizeof f) == 0;
        return h;
    }
    if (t->dtype == MN_DT_I32) {
        int32_t v = ((const int32_t *)t->data)[i];
        *exact = v >= INT16_MIN && v <= INT16_MAX;
        return (uint16_t)v;
    }
    int64_t v = ((const int64_t *)t->data)[i];
    *exact = v >= INT32_MIN && v <= INT32_MAX;
    return (uint32_t)v;
}

static int fits_half(const mn_tensor *t, size_t numel)
{
    int exact = 0;
    if (!mnw_half_ok(t->dtype))
        return 0;
    for (size_t i = 0; i < numel; i++)
        if (half_of(t, i, &exact), !exact)
            return 0;
    return 1;
}

/* Half-width element i of t into dst (es/2 bytes, little-endian). */
static void put_half(const mn_tensor *t, size_t i, uint8_t *dst)
{
    int exact;
    uint32_t v = half_of(t, i, &exact);
    for (size_t k = 0; k < mn_dtype_size(t->dtype) / 2; k++)
        dst[k] = (uint8_t)(v >> (8 * k));
}

void mnw_blob_plan(const mn_tensor *t, size_t numel, int allow_sparse,
                   int allow_gaps, int allow_pack4, int allow_half,
                   mnw_blob *b)
{
    size_t es = mn_dtype_size(t->dtype), nnz = 0, ncodes = 0, run = 0;
    size_t best, sz;
    for (size_t i = 0; i < numel; i++) {
        if (!elem_nonzero((const uint8_t *)t->data + i * es, es)) {
            run++;
            continue;
        }
        nnz++;
        ncodes += run / MNW_GAP_ESCAPE + 1;
        run = 0;
    }
    ncodes += run / MNW_GAP_ESCAPE;
    b->packing = allow_pack4 && fits_nibble(t, numel) ? MNW_PACK_NIBBLE
                 : allow_half && numel && fits_half(t, numel) ? MNW_PACK_HALF
                                                      : MNW_PACK_NATIVE;
    b->layout = MNW_LAYOUT_DENSE;
    b->nnz = numel;
    b->ncodes = 0;
    best = mnw_blob_size(b, numel, es);
    if (!allow_sparse)
        return;
    mnw_blob s = {MNW_LAYOUT_BITMASK, b->packing, nnz, 0};
    if ((sz = mnw_blob_size(&s, numel, es)) < best) {
        *b = s;
        best = sz;
    }
    s.layout = MNW_LAYOUT_GAPS;
    s.ncodes = ncodes;
    if (allow_gaps && mnw_blob_size(&s, numel, es) < best)
        *b = s;
    if (b->packing == MNW_PACK_HALF && b->nnz == 0) /* saves nothing */
        b->packing = MNW_PACK_NATIVE;
}

void mnw_blob_encode(const mn_tensor *t, size_t numel, const mnw_blob *b,
                     uint8_t *dst)
{
    size_t es = mn_dtype_size(t->dtype), j = 0;
    const uint8_t *src = t->data;
    int nib = b->packing == MNW_PACK_NIBBLE;
    int half = b->packing == MNW_PACK_HALF;
    uint8_t *vals = dst;
    if (b->layout == MNW_LAYOUT_DENSE && !nib && !half) {
        mnw_copy_le(dst, src, numel, es);
        return;
    }
    if (b->layout == MNW_LAYOUT_BITMASK)
        vals = dst + pad8((numel + 7) / 8);
    if (b->layout == MNW_LAYOUT_GAPS) {
        for (int k = 0; k < 8; k++) /* u64 LE code count */
            dst[k] = (uint8_t)((uint64_t)b->ncodes >> (8 * k));
        vals = dst + 8 + pad8((b->ncodes + 1) / 2);
    }
    size_t c = 0, run = 0;
    uint8_t *codes = dst + 8;
#define PUT_CODE(v) (codes[c / 2] |= (uint8_t)((v) << (4 * (c % 2))), c++)
    for (size_t i = 0; i < numel; i++) {
        if (b->layout == MNW_LAYOUT_BITMASK) {
            if (!elem_nonzero(src + i * es, es))
                continue;
            dst[i / 8] |= (uint8_t)(1u << (i % 8));
        } else if (b->layout == MNW_LAYOUT_GAPS) {
            if (!elem_nonzero(src + i * es, es)) {
                run++;
                continue;
            }
            for (; run >= MNW_GAP_ESCAPE; run -= MNW_GAP_ESCAPE)
                PUT_CODE(MNW_GAP_ESCAPE);
            PUT_CODE(run);
            run = 0;
        }
        if (nib)
            vals[j / 2] |= (uint8_t)((src[i] & 15) << (4 * (j % 2)));
        else if (half)
            put_half(t, i, vals + j * (es / 2));
        else
            mnw_copy_le(vals + j * es, src + i * es, 1, es);
        j++;
    }
    if (b->layout == MNW_LAYOUT_GAPS)
        for (; run >= MNW_GAP_ESCAPE; run -= MNW_GAP_ESCAPE)
            PUT_CODE(MNW_GAP_ESCAPE);
#undef PUT_CODE
}

static size_t popcount8(uint8_t b)
{
    size_t n = 0;
    for (; b; b &= (uint8_t)(b - 1))
        n++;
    return n;
}

/* One stored element j of the value array into d[i]. */
static void put_value(const uint8_t *vals, size_t j, const mnw_blob *b,
                      mn_dtype dt, uint8_t *d, size_t i)
{
    size_t es = mn_dtype_size(dt);
    if (b->packing == MNW_PACK_NIBBLE) {
        unsigned v = (vals[j / 2] >> (4 * (j % 2))) & 15;
        d[i] = (uint8_t)(dt == MN_DT_I8 ? (int)(v ^ 8) - 8 : (int)v);
    } else if (b->packing == MNW_PACK_HALF && dt == MN_DT_F32) {
        float f = mn_f16_to_f32(mnw_get16(vals + j * 2));
        memcpy(d + i * 4, &f, 4);
    } else if (b->packing == MNW_PACK_HALF && dt == MN_DT_I32) {
        int32_t v = (int16_t)mnw_get16(vals + j * 2);
        memcpy(d + i * 4, &v, 4);
    } else if (b->packing == MNW_PACK_HALF) {
        int64_t v = (int32_t)mnw_get32(vals + j * 4);
        memcpy(d + i * 8, &v, 8);
    } else {
        mnw_copy_le(d + i * es, vals + j * es, 1, es);
    }
}

/* The blob's size was checked against ncodes and nnz by the caller. */
static mn_status decode_gaps(const uint8_t *blob, const mnw_blob *b,
                             size_t numel, mn_tensor *t, mn_ctx *ctx)
{
    size_t pos = 0, j = 0;
    const uint8_t *codes = blob + 8;
    const uint8_t *vals = codes + pad8((b->ncodes + 1) / 2);
    if (b->ncodes % 2 && codes[b->ncodes / 2] >> 4)
        return mn_error(ctx, MN_ERR_PARSE, "unused last gap code is not "
                        "zero");
    if (b->packing == MNW_PACK_NIBBLE && b->nnz % 2 &&
        vals[b->nnz / 2] >> 4)
        return mn_error(ctx, MN_ERR_PARSE, "unused last nibble is not zero");
    for (size_t c = 0; c < b->ncodes; c++) {
        unsigned v = (codes[c / 2] >> (4 * (c % 2))) & 15;
        pos += v;
        if (pos > numel || (v != MNW_GAP_ESCAPE && pos == numel))
            return mn_error(ctx, MN_ERR_PARSE, "gap codes run past the "
                            "tensor's %zu elements", numel);
        if (v == MNW_GAP_ESCAPE)
            continue;
        if (j == b->nnz)
            return mn_error(ctx, MN_ERR_PARSE, "gap codes place more than "
                            "the %zu stored values", b->nnz);
        put_value(vals, j++, b, t->dtype, t->data, pos++);
    }
    if (j != b->nnz || numel - pos >= MNW_GAP_ESCAPE)
        return mn_error(ctx, MN_ERR_PARSE, "gap codes place %zu of %zu "
                        "values and leave %zu elements uncoded", j, b->nnz,
                        numel - pos);
    return MN_OK;
}

mn_status mnw_blob_decode(const uint8_t *blob, const mnw_blob *b,
                          size_t numel, mn_tensor *t, mn_ctx *ctx)
{
    size_t es = mn_dtype_size(t->dtype), mask = (numel + 7) / 8, set = 0;
    const uint8_t *vals = blob;
    uint8_t *d = t->data;
    int nib = b->packing == MNW_PACK_NIBBLE;
    if (b->layout == MNW_LAYOUT_DENSE && b->packing == MNW_PACK_NATIVE) {
        mnw_copy_le(d, blob, numel, es);
        return MN_OK;
    }
    if (b->layout == MNW_LAYOUT_BITMASK) {
        for (size_t k = 0; k < mask; k++)
            set += popcount8(blob[k]);
        if (set != b->nnz)
            return mn_error(ctx, MN_ERR_PARSE, "bitmask has %zu bits set but "
                            "%zu values are stored", set, b->nnz);
        if (numel % 8 && blob[mask - 1] >> (numel % 8))
            return mn_error(ctx, MN_ERR_PARSE, "bitmask has bits past the "
                            "last element");
        vals = blob + (mask + 7) / 8 * 8;
    }
    if (b->layout == MNW_LAYOUT_GAPS)
        return decode_gaps(blob, b, numel, t, ctx);
    if (nib && b->nnz % 2 && vals[b->nnz / 2] >> 4)
        return mn_error(ctx, MN_ERR_PARSE, "unused last nibble is not zero");
    for (size_t i = 0, j = 0; i < numel; i++) {
        if (b->layout == MNW_LAYOUT_BITMASK && !(blob[i / 8] >> (i % 8) & 1))
            continue;
        put_value(vals, j++, b, t->dtype, d, i);
    }
    return MN_OK;
}
