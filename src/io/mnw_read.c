/* .mnw reader: minnow's own model file → mn_graph (docs/mnw-format.md).
 *
 * The file is untrusted: the header is checked (magic, version, size,
 * CRC-32) before anything else is read, every section must lie inside the
 * file without overlapping another, every count is checked against the
 * bytes that would have to hold it before anything is allocated, and
 * tensor blobs must come in file order without overlapping, so the memory
 * a file can make the loader allocate is a small multiple of its size.
 * Every tensor is expanded into an ordinary dense IR tensor. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "io/mnw_read.h"
#include "io/onnx_tensor.h"
#include "minnow/mnw.h"
#include "ops/ops.h"

mn_status mnw_truncated(reader *r, const char *what)
{
    return mn_error(r->ctx, MN_ERR_PARSE, "%s is truncated", what);
}

/* String index → string; NULL for MNW_NO_STRING when allow_none. */
mn_status mnw_get_str(reader *r, uint32_t k, int allow_none,
                      const char **out)
{
    *out = NULL;
    if (k == MNW_NO_STRING && allow_none)
        return MN_OK;
    if (k >= r->n_str)
        return mn_error(r->ctx, MN_ERR_PARSE, "string index %u is out of "
                        "range (%u strings)", k, r->n_str);
    *out = r->str[k];
    return MN_OK;
}

mn_status mnw_dup_str(reader *r, uint32_t k, int allow_none, char **out)
{
    const char *s;
    mn_status st = mnw_get_str(r, k, allow_none, &s);
    *out = NULL;
    if (st != MN_OK || !s)
        return st;
    if (!(*out = mn_strdup(s)))
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    return MN_OK;
}

/* ---- strings ---- */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Back-to-back NUL-terminated strings, no duplicates (the writer interns
 * them, and uniqueness of names then reduces to uniqueness of indices). */
static mn_status read_strings(reader *r)
{
    const mnw_section *s = &r->sec[MNW_SEC_STRINGS];
    const uint8_t *p = r->data[MNW_SEC_STRINGS], *end = p + s->size;
    uint32_t *ht = NULL;
    size_t cap = 16;
    mn_status st = MN_OK;
    if (s->count > s->size)
        return mn_error(r->ctx, MN_ERR_PARSE, "string table: %u strings do "
                        "not fit in %llu bytes", s->count,
                        (unsigned long long)s->size);
    while (cap < (size_t)s->count * 2 + 2)
        cap *= 2;
    r->str = mn_calloc(s->count ? s->count : 1, sizeof *r->str);
    r->stamp = mn_calloc(s->count ? s->count : 1, sizeof *r->stamp);
    ht = mn_calloc(cap, sizeof *ht);
    if (!r->str || !r->stamp || !ht) {
        free(ht);
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    }
    for (uint32_t i = 0; i < s->count; i++) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        size_t k;
        if (!nul) {
            st = mn_error(r->ctx, MN_ERR_PARSE, "string table: string #%u is "
                          "not terminated", i);
            goto out;
        }
        r->str[i] = (const char *)p;
        for (k = str_hash(r->str[i]) & (cap - 1); ht[k]; k = (k + 1) & (cap - 1))
            if (strcmp(r->str[ht[k] - 1], r->str[i]) == 0) {
                st = mn_error(r->ctx, MN_ERR_PARSE, "string table: string "
                              "#%u repeats #%u", i, ht[k] - 1);
                goto out;
            }
        ht[k] = i + 1;
        r->n_str = i + 1;
        p = nul + 1;
    }
    if (p != end && r->minor <= MNW_MINOR)
        st = mn_error(r->ctx, MN_ERR_PARSE, "string table: %zu bytes after "
                      "the last string", (size_t)(end - p));
out:
    free(ht);
    return st;
}

/* ---- tensors ---- */

static int dtype_ok(unsigned dt)
{
    return dt > 0 && dt < MN_DT_COUNT && mn_dtype_size((mn_dtype)dt) > 0;
}

/* An INT4 constant is stored as int8 codes in [-8, 7] (4-bit packed in
 * the file, see mnw_write.c): back into ONNX INT4 layout. */
static mn_status repack_int4(reader *r, mn_value *v)
{
    mn_tensor *t = v->init, *q = NULL;
    int64_t n = mn_tensor_numel(t);
    mn_status st;
    if (t->dtype != MN_DT_I8)
        return mn_error(r->ctx, MN_ERR_PARSE, "value '%s': int4 constant "
                        "stored as %s", v->name, mn_dtype_name(t->dtype));
    for (int64_t k = 0; k < n; k++)
        if (((int8_t *)t->data)[k] < -8 || ((int8_t *)t->data)[k] > 7)
            return mn_error(r->ctx, MN_ERR_PARSE, "value '%s': int4 code %d",
                            v->name, ((int8_t *)t->data)[k]);
    if ((st = mn_tensor_create(MN_DT_I4, t->ndim, t->dims, &q, r->ctx)) !=
        MN_OK)
        return st;
    for (int64_t k = 0; k < n; k++)
        ((uint8_t *)q->data)[k >> 1] |=
            (uint8_t)((((int8_t *)t->data)[k] & 15) << (k & 1 ? 4 : 0));
    mn_tensor_destroy(t);
    v->init = q;
    return MN_OK;
}

/* A tensor record (head, dims, tail) and its blob → a new tensor. */
mn_status mnw_read_tensor(reader *r, cursor *c, mn_tensor **out)
{
    const mnw_section *ws = &r->sec[MNW_SEC_WEIGHTS];
    uint8_t dt, ndim, layout, packing;
    uint32_t res;
    uint64_t nnz, off, size, dims64[MN_MAX_DIMS];
    int64_t dims[MN_MAX_DIMS];
    size_t numel = 1, es, want;
    mnw_blob bl;
    mn_status st;
    *out = NULL;
    if (!rd8(c, &dt) || !rd8(c, &ndim) || !rd8(c, &layout) ||
        !rd8(c, &packing) || !rd32(c, &res))
        return mnw_truncated(r, "tensor record");
    if (!dtype_ok(dt))
        return mn_error(r->ctx, MN_ERR_PARSE, "tensor has invalid dtype %u",
                        dt);
    if (ndim > MN_MAX_DIMS)
        return mn_error(r->ctx, MN_ERR_PARSE, "tensor rank %u exceeds %d",
                        ndim, MN_MAX_DIMS);
    if (layout > MNW_LAYOUT_GAPS || packing > MNW_PACK_HALF)
        return mn_error(r->ctx, MN_ERR_UNSUPPORTED, "tensor storage (layout "
                        "%u, packing %u) is not known to this minnow", layout,
                        packing);
    if (packing == MNW_PACK_NIBBLE && dt != MN_DT_I8 && dt != MN_DT_U8)
        return mn_error(r->ctx, MN_ERR_PARSE, "4-bit packing of %s",
                        mn_dtype_name((mn_dtype)dt));
    if (packing == MNW_PACK_HALF && !mnw_half_ok((mn_dtype)dt))
        return mn_error(r->ctx, MN_ERR_PARSE, "half-width packing of %s",
                        mn_dtype_name((mn_dtype)dt));
    es = mn_dtype_size((mn_dtype)dt);
    for (int k = 0; k < ndim; k++) {
        if (!rd64(c, &dims64[k]))
            return mnw_truncated(r, "tensor record");
        if (dims64[k] > INT64_MAX ||
            !mn_mul_size(numel, (size_t)dims64[k], &numel))
            return mn_error(r->ctx, MN_ERR_PARSE, "tensor dimension %llu is "
                            "too large", (unsigned long long)dims64[k]);
        dims[k] = (int64_t)dims64[k];
    }
    if (!rd64(c, &nnz) || !rd64(c, &off) || !rd64(c, &size))
        return mnw_truncated(r, "tensor record");
    if (off % MNW_BLOB_ALIGN_OF(layout, packing, size) ||
        off < r->blob_next ||
        off > ws->size ||
        size > ws->size - off)
        return mn_error(r->ctx, MN_ERR_PARSE, "tensor blob at %llu (+%llu "
                        "bytes) is misaligned, out of order or outside the "
                        "weights", (unsigned long long)off,
                        (unsigned long long)size);
    r->blob_next = off + size;
    if (numel > SIZE_MAX / 16) /* keeps the size sums exact */
        return mn_error(r->ctx, MN_ERR_PARSE, "tensor too large");
    if (layout == MNW_LAYOUT_DENSE ? nnz != numel : nnz > numel)
        return mn_error(r->ctx, MN_ERR_PARSE, "%s tensor of %zu elements "
                        "says it stores %llu", layout ? "sparse" : "dense",
                        numel, (unsigned long long)nnz);
    bl.layout = layout;
    bl.packing = packing;
    bl.nnz = (size_t)nnz;
    bl.ncodes = 0;
    if (layout == MNW_LAYOUT_GAPS) {
        uint64_t nc;
        if (size < 8)
            return mn_error(r->ctx, MN_ERR_PARSE, "gaps blob of %llu bytes "
                            "has no code count", (unsigned long long)size);
        nc = mnw_get64(r->buf + ws->offset + off);
        /* each stored value takes one code, each escape 15 elements */
        if (nc > nnz + numel / MNW_GAP_ESCAPE + 1)
            return mn_error(r->ctx, MN_ERR_PARSE, "%llu gap codes for %zu "
                            "elements and %llu values",
                            (unsigned long long)nc, numel,
                            (unsigned long long)nnz);
        /* codes cover at most 15 elements each, 14 more are implicit:
         * checked before the tensor is allocated, so a small blob cannot
         * make the reader allocate a huge one */
        if (numel > nc * MNW_GAP_ESCAPE + (MNW_GAP_ESCAPE - 1))
            return mn_error(r->ctx, MN_ERR_PARSE, "%llu gap codes cannot "
                            "cover %zu elements", (unsigned long long)nc,
                            numel);
        bl.ncodes = (size_t)nc;
    }
    if ((want = mnw_blob_size(&bl, numel, es)) != size)
        return mn_error(r->ctx, MN_ERR_PARSE, "tensor blob has %llu bytes, "
                        "its shape and storage need %zu",
                        (unsigned long long)size, want);
    st = mn_tensor_create((mn_dtype)dt, ndim, dims, out, r->ctx);
    if (st == MN_OK)
        st = mnw_blob_decode(r->buf + ws->offset + off, &bl, numel, *out,
                             r->ctx);
    if (st != MN_OK) {
        mn_tensor_destroy(*out);
        *out = NULL;
    }
    return st;
}

/* ---- values ---- */

static mn_status read_quant(reader *r, cursor *c, mn_value *v)
{
    uint8_t qt, bits;
    uint16_t res;
    uint32_t axis, n, block;
    mn_quant *q;
    if (!rd8(c, &qt) || !rd8(c, &bits) || !rd16(c, &res) || !rd32(c, &axis) ||
        !rd32(c, &n) || !rd32(c, &block))
        return mnw_truncated(r, "quantization record");
    if (!dtype_ok(qt) || (int32_t)axis < -1 ||
        (int32_t)axis >= MN_MAX_DIMS || n < 1 || n > INT_MAX)
        return mn_error(r->ctx, MN_ERR_PARSE, "invalid quantization "
                        "parameters (type %u, axis %d, %u scales)", qt,
                        (int)(int32_t)axis, n);
    if (block)
        return mn_error(r->ctx, MN_ERR_UNSUPPORTED, "grouped quantization "
                        "(block size %u) is not supported", block);
    if (!fits(c, n, 8))
        return mnw_truncated(r, "quantization record");
    /* bits is advisory (the IR has no field for it yet): the values are
     * stored and loaded at their dtype either way. */
    q = v->quant = mn_calloc(1, sizeof *q);
    if (!q || !(q->scale = mn_malloc((size_t)n * sizeof(float))) ||
        !(q->zero_point = mn_malloc((size_t)n * sizeof(int32_t))))
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    q->qtype = (mn_dtype)qt;
    q->axis = (int32_t)axis;
    q->n = (int)n;
    for (uint32_t k = 0; k < n; k++)
        rdf32(c, &q->scale[k]);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t z = 0;
        rd32(c, &z);
        q->zero_point[k] = (int32_t)z;
    }
    return MN_OK;
}

static mn_status read_value(reader *r, cursor *c, uint32_t i)
{
    mn_value *v = &r->g->values[i];
    uint32_t name, dp;
    uint8_t dt, flags, res;
    int8_t ndim;
    uint64_t prod = 1;
    mn_status st;
    v->producer = -1;
    if (!rd32(c, &name) || !rd8(c, &dt) || !rd8(c, (uint8_t *)&ndim) ||
        !rd8(c, &flags) || !rd8(c, &res))
        return mnw_truncated(r, "value record");
    if ((st = mnw_dup_str(r, name, 0, &v->name)) != MN_OK)
        return st;
    if (!v->name[0] || r->stamp[name])
        return mn_error(r->ctx, MN_ERR_PARSE, "value name '%s' is empty or "
                        "not unique", v->name);
    r->stamp[name] = 1;
    if ((dt && !dtype_ok(dt) && dt != MN_DT_I4) || ndim < -1 ||
        ndim > MN_MAX_DIMS || (flags & ~(MNW_VAL_INIT | MNW_VAL_QUANT)) ||
        (dt == MN_DT_I4 && !(flags & MNW_VAL_INIT)))
        return mn_error(r->ctx, MN_ERR_PARSE, "value '%s': invalid dtype %u, "
                        "rank %d or flags 0x%x", v->name, dt, ndim, flags);
    v->dtype = (mn_dtype)dt;
    v->ndim = ndim;
    if (flags & MNW_VAL_INIT) { /* shape: the tensor record's */
        if ((st = mnw_read_tensor(r, c, &v->init)) != MN_OK)
            return mn_error_prefix(r->ctx, st, "value '%s'", v->name);
        if (v->dtype == MN_DT_I4 && (st = repack_int4(r, v)) != MN_OK)
            return st;
        if (v->init->dtype != v->dtype || v->init->ndim != v->ndim)
            return mn_error(r->ctx, MN_ERR_PARSE, "value '%s': its constant's "
                            "type or rank differs from the value's", v->name);
        memcpy(v->dims, v->init->dims, sizeof v->dims);
        ndim = 0;
    }
    for (int k = 0; k < ndim; k++) {
        uint64_t d;
        if (!rd64(c, &d))
            return mnw_truncated(r, "value record");
        v->dims[k] = (int64_t)d;
        if (v->dims[k] < -1)
            return mn_error(r->ctx, MN_ERR_PARSE, "value '%s': dimension "
                            "%lld", v->name, (long long)v->dims[k]);
        if (v->dims[k] > 0 && prod > (uint64_t)INT64_MAX / d)
            return mn_error(r->ctx, MN_ERR_PARSE, "value '%s': the product of "
                            "the dimensions overflows", v->name);
        if (v->dims[k] > 0)
            prod *= d;
    }
    for (int k = 0; k < ndim; k++) {
        if (!rd32(c, &dp))
            return mnw_truncated(r, "value record");
        if ((st = mnw_dup_str(r, dp, 1, &v->dim_param[k])) != MN_OK)
            return st;
    }
    if ((flags & MNW_VAL_QUANT) && (st = read_quant(r, c, v)) != MN_OK)
        return mn_error_prefix(r->ctx, st, "value '%s'", v->name);
    return MN_OK;
}

static mn_status read_values(reader *r)
{
    const mnw_section *s = &r->sec[MNW_SEC_VALUES];
    cursor c = {r->data[MNW_SEC_VALUES], s->size, 0};
    mn_graph *g = r->g;
    mn_status st;
    if (!fits(&c, s->count, 8) || s->count > INT_MAX / 2)
        return mn_error(r->ctx, MN_ERR_PARSE, "%u values do not fit in their "
                        "section", s->count);
    g->values = mn_calloc(s->count ? s->count : 1, sizeof *g->values);
    if (!g->values)
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    g->cap_values = s->count ? (int)s->count : 1;
    for (uint32_t i = 0; i < s->count; i++) {
        g->n_values = (int)i + 1; /* so that destroy frees it on failure */
        if ((st = read_value(r, &c, i)) != MN_OK)
            return mn_error_prefix(r->ctx, st, "value #%u", i);
    }
    if (c.i != c.n && r->minor <= MNW_MINOR)
        return mn_error(r->ctx, MN_ERR_PARSE, "values: %zu bytes after the "
                        "last record", c.n - c.i);
    return MN_OK;
}

/* ---- header and section table ---- */

/* A deflated section's content into an owned buffer of exactly its
 * declared size (bounded by the compressed size before allocating). */
static mn_status inflate_section(reader *r, mnw_section *s, uint32_t raw)
{
    uLongf n = raw;
    uLong in = (uLong)s->size;
    uint8_t *buf;
    int z;
    if (s->kind == MNW_SEC_WEIGHTS || raw == 0 ||
        raw > s->size * MNW_MAX_INFLATE_RATIO + 65536)
        return mn_error(r->ctx, MN_ERR_PARSE, "section kind %u: deflated to "
                        "%llu bytes from %u is not allowed", s->kind,
                        (unsigned long long)s->size, raw);
    if (!(buf = mn_malloc(raw)))
        return mn_error(r->ctx, MN_ERR_OOM, "out of memory");
    z = uncompress2(buf, &n, r->buf + s->offset, &in);
    if (z != Z_OK || n != raw || in != s->size) {
        free(buf);
        return mn_error(r->ctx, MN_ERR_PARSE, "section kind %u: the deflated "
                        "data is damaged or does not inflate to its %u bytes",
                        s->kind, raw);
    }
    r->inflated[s->kind] = buf;
    r->data[s->kind] = buf;
    s->size = raw;
    return MN_OK;
}

static mn_status read_header(reader *r)
{
    const uint8_t *b = r->buf;
    uint64_t file_size, table, tsize;
    uint32_t flags, hsize, n_sec, esize, crc;
    unsigned major;
    if (r->len == 0)
        return mn_error(r->ctx, MN_ERR_PARSE, "empty file");
    if (memcmp(b, MNW_MAGIC, r->len < 4 ? r->len : 4) != 0)
        return mn_error(r->ctx, MN_ERR_PARSE, "not a minnow .mnw file (no "
                        "\"MNW1\" magic)");
    major = r->len >= 8 ? mnw_get16(b + 4) : MNW_MAJOR;
    r->minor = r->len >= 8 ? mnw_get16(b + 6) : 0;
    if (major != MNW_MAJOR)
        return mn_error(r->ctx, major > MNW_MAJOR ? MN_ERR_UNSUPPORTED
                                                  : MN_ERR_PARSE,
                        "format version %u.%u is not supported (this minnow "
                        "reads %d.x%s)", major, r->minor, MNW_MAJOR,
                        major > MNW_MAJOR ? "; upgrade minnow" : "");
    if (r->len < MNW_HEADER_SIZE)
        return mn_error(r->ctx, MN_ERR_PARSE, "truncated: %zu bytes, the "
                        "header alone has %d", r->len, MNW_HEADER_SIZE);
    flags = mnw_get32(b + 8);
    hsize = mnw_get32(b + 12);
    file_size = mnw_get64(b + 16);
    crc = mnw_get32(b + MNW_CRC_OFFSET);
    n_sec = mnw_get32(b + 28);
    table = mnw_get64(b + 32);
    esize = mnw_get32(b + 40);
    if (file_size > r->len)
        return mn_error(r->ctx, MN_ERR_PARSE, "truncated: %zu of %llu bytes",
                        r->len, (unsigned long long)file_size);
    if (file_size < r->len)
        return mn_error(r->ctx, MN_ERR_PARSE, "%llu unexpected bytes after "
                        "the end of the model",
                        (unsigned long long)(r->len - file_size));
    if (mnw_file_crc(b, r->len) != crc)
        return mn_error(r->ctx, MN_ERR_PARSE, "checksum mismatch");
    if (flags & MNW_FLAGS_INCOMPAT_MASK & ~MNW_FLAGS_INCOMPAT_KNOWN)
        return mn_error(r->ctx, MN_ERR_UNSUPPORTED, "the file uses features "
                        "(flags 0x%x) this minnow does not know", flags);
    if (hsize < MNW_HEADER_SIZE || esize < MNW_SECTION_ENTRY_SIZE ||
        n_sec > MNW_MAX_SECTIONS || table < hsize || table > r->len ||
        (tsize = (uint64_t)n_sec * esize) > r->len - table)
        return mn_error(r->ctx, MN_ERR_PARSE, "invalid header (header size "
                        "%u, %u sections of %u bytes at %llu)", hsize, n_sec,
                        esize, (unsigned long long)table);
    for (uint32_t i = 0; i < n_sec; i++) {
        const uint8_t *e = b + table + (uint64_t)i * esize;
        mnw_section s = {mnw_get32(e), mnw_get32(e + 4), mnw_get64(e + 8),
                         mnw_get64(e + 16), mnw_get32(e + 24),
                         mnw_get32(e + 28)};
        if (s.offset < table + tsize || s.offset > r->len ||
            s.size > r->len - s.offset || s.offset % MNW_SECTION_ALIGN ||
            (s.kind == MNW_SEC_WEIGHTS && s.offset % MNW_BLOB_ALIGN))
            return mn_error(r->ctx, MN_ERR_PARSE, "section #%u (kind %u) at "
                            "%llu (+%llu) is misplaced", i, s.kind,
                            (unsigned long long)s.offset,
                            (unsigned long long)s.size);
        for (uint32_t j = 0; j < i; j++) {
            const uint8_t *f = b + table + (uint64_t)j * esize;
            uint64_t o = mnw_get64(f + 8), z = mnw_get64(f + 16);
            if (s.offset < o + z && o < s.offset + s.size)
                return mn_error(r->ctx, MN_ERR_PARSE, "sections #%u and #%u "
                                "overlap", j, i);
        }
        if (s.kind >= 1 && s.kind <= MNW_SEC_WEIGHTS) {
            if (r->have[s.kind])
                return mn_error(r->ctx, MN_ERR_PARSE, "section kind %u appears "
                                "twice", s.kind);
            r->have[s.kind] = 1;
            r->data[s.kind] = b + s.offset;
            if (s.flags & MNW_SECF_DEFLATE) {
                mn_status st = inflate_section(r, &s, s.reserved);
                if (st != MN_OK)
                    return st;
            }
            r->sec[s.kind] = s;
        } else if (s.flags & MNW_SECF_REQUIRED)
            return mn_error(r->ctx, MN_ERR_UNSUPPORTED, "the file needs "
                            "section kind %u, which this minnow does not know",
                            s.kind);
    }
    for (int k = MNW_SEC_STRINGS; k <= MNW_SEC_WEIGHTS; k++)
        if (!r->have[k] && k != MNW_SEC_META)
            return mn_error(r->ctx, MN_ERR_PARSE, "section kind %d is missing",
                            k);
    return MN_OK;
}

int mn_mnw_is_mnw(const void *buf, size_t len)
{
    return buf && len >= 4 && memcmp(buf, MNW_MAGIC, 4) == 0;
}

mn_status mn_graph_load_mnw_mem(const void *buf, size_t len, const char *label,
                                mn_graph **out, mn_ctx *ctx)
{
    reader r;
    mn_status st;
    if (!out)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_load_mnw_mem: out is NULL");
    *out = NULL;
    if (!label)
        label = "<memory>";
    if (!buf && len)
        return mn_error(ctx, MN_ERR_ARG, "%s: NULL buffer", label);
    memset(&r, 0, sizeof r);
    r.buf = buf;
    r.len = len;
    r.label = label;
    r.ctx = ctx;
    st = read_header(&r);
    if (st == MN_OK)
        st = mn_graph_create(&r.g, ctx);
    if (st == MN_OK) {
        free(r.g->source);
        if (!(r.g->source = mn_strdup(label)))
            st = mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    if (st == MN_OK)
        st = read_strings(&r);
    if (st == MN_OK)
        st = read_values(&r);
    if (st == MN_OK)
        st = mnw_read_nodes(&r);
    if (st == MN_OK)
        st = mnw_read_graph(&r);
    if (st == MN_OK)
        st = mnw_read_meta(&r);
    if (st == MN_OK)
        st = mn_graph_toposort(r.g, ctx);
    for (int i = 0; st == MN_OK && i < r.g->n_outputs; i++) {
        const mn_value *v = &r.g->values[r.g->outputs[i]];
        if (!v->init && !v->is_input && v->producer < 0)
            st = mn_error(ctx, MN_ERR_PARSE, "graph output '%s' is not "
                          "produced by any node, input or constant", v->name);
    }
    free(r.str);
    free(r.stamp);
    for (int k = 0; k < 7; k++)
        free(r.inflated[k]);
    if (st != MN_OK) {
        mn_graph_destroy(r.g);
        return mn_error_prefix(ctx, st, "%s", label);
    }
    r.g->file_bytes = (int64_t)len;
    *out = r.g;
    return MN_OK;
}

mn_status mn_graph_load_mnw(const char *path, mn_graph **out, mn_ctx *ctx)
{
    void *buf = NULL;
    size_t len = 0;
    mn_status st;
    if (!out || !path)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_load_mnw: NULL argument");
    *out = NULL;
    st = mn_pb_read_file(path, &buf, &len, ctx);
    if (st != MN_OK)
        return st;
    st = mn_graph_load_mnw_mem(buf, len, path, out, ctx);
    free(buf);
    return st;
}
