/* .mnw tensor blobs and checksum, shared by the writer and the reader:
 * choosing a tensor's storage (dense or bitmask, native width or 4-bit
 * nibbles), encoding it, checking and decoding it back into a dense
 * tensor, and the file CRC (docs/mnw-format.md, "Tensor record"). */
#include <string.h>
#include <zlib.h>
#include "io/mnw_format.h"

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

size_t mnw_blob_size(const mnw_blob *b, size_t numel, size_t es)
{
    size_t vals = b->packing == MNW_PACK_NIBBLE ? (b->nnz + 1) / 2
                                                : b->nnz * es;
    if (b->layout == MNW_LAYOUT_DENSE)
        return vals;
    return ((numel + 7) / 8 + 7) / 8 * 8 + vals;
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

void mnw_blob_plan(const mn_tensor *t, size_t numel, int allow_sparse,
                   int allow_pack4, mnw_blob *b)
{
    size_t es = mn_dtype_size(t->dtype), nnz = 0, dense;
    for (size_t i = 0; i < numel; i++)
        nnz += elem_nonzero((const uint8_t *)t->data + i * es, es);
    b->packing = allow_pack4 && fits_nibble(t, numel) ? MNW_PACK_NIBBLE
                                                      : MNW_PACK_NATIVE;
    b->layout = MNW_LAYOUT_DENSE;
    b->nnz = numel;
    dense = mnw_blob_size(b, numel, es);
    b->layout = MNW_LAYOUT_BITMASK;
    b->nnz = nnz;
    if (allow_sparse && mnw_blob_size(b, numel, es) < dense)
        return;
    b->layout = MNW_LAYOUT_DENSE;
    b->nnz = numel;
}

void mnw_blob_encode(const mn_tensor *t, size_t numel, const mnw_blob *b,
                     uint8_t *dst)
{
    size_t es = mn_dtype_size(t->dtype), j = 0;
    const uint8_t *src = t->data;
    int nib = b->packing == MNW_PACK_NIBBLE;
    uint8_t *vals = dst;
    if (b->layout == MNW_LAYOUT_DENSE && !nib) {
        mnw_copy_le(dst, src, numel, es);
        return;
    }
    if (b->layout == MNW_LAYOUT_BITMASK)
        vals = dst + ((numel + 7) / 8 + 7) / 8 * 8;
    for (size_t i = 0; i < numel; i++) {
        if (b->layout == MNW_LAYOUT_BITMASK) {
            if (!elem_nonzero(src + i * es, es))
                continue;
            dst[i / 8] |= (uint8_t)(1u << (i % 8));
        }
        if (nib)
            vals[j / 2] |= (uint8_t)((src[i] & 15) << (4 * (j % 2)));
        else
            mnw_copy_le(vals + j * es, src + i * es, 1, es);
        j++;
    }
}

static size_t popcount8(uint8_t b)
{
    size_t n = 0;
    for (; b; b &= (uint8_t)(b - 1))
        n++;
    return n;
}

mn_status mnw_blob_decode(const uint8_t *blob, const mnw_blob *b,
                          size_t numel, mn_tensor *t, mn_ctx *ctx)
{
    size_t es = mn_dtype_size(t->dtype), mask = (numel + 7) / 8, set = 0;
    const uint8_t *vals = blob;
    uint8_t *d = t->data;
    int sgn = t->dtype == MN_DT_I8, nib = b->packing == MNW_PACK_NIBBLE;
    if (b->layout == MNW_LAYOUT_DENSE && !nib) {
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
    if (nib && b->nnz % 2 && vals[b->nnz / 2] >> 4)
        return mn_error(ctx, MN_ERR_PARSE, "unused last nibble is not zero");
    for (size_t i = 0, j = 0; i < numel; i++) {
        if (b->layout == MNW_LAYOUT_BITMASK && !(blob[i / 8] >> (i % 8) & 1))
            continue;
        if (nib) {
            unsigned v = (vals[j / 2] >> (4 * (j % 2))) & 15;
            d[i] = (uint8_t)(sgn ? (int)(v ^ 8) - 8 : (int)v);
        } else
            mnw_copy_le(d + i * es, vals + j * es, 1, es);
        j++;
    }
    return MN_OK;
}
