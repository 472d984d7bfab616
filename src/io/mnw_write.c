/* .mnw writer: mn_graph → minnow's own model file (docs/mnw-format.md).
 *
 * Each section is built in its own growing buffer (strings are interned as
 * they are met, so every name is stored once), then header, section table
 * and sections are concatenated and the CRC filled in. Tensor blobs go to
 * the WEIGHTS buffer in the order their records appear (values first,
 * then node attributes), each in the smallest of: dense, bitmask or gaps +
 * non-zero values, the values at full width, 4-bit packed (int8/uint8
 * within 4 bits) or at half width (float32 exact in float16, int32 within
 * int16, int64 within int32); blobs usable in place at 64-byte aligned
 * offsets, the others at multiples of 8. The metadata sections are
 * deflated when that makes them smaller. Output depends only on the graph
 * (and zlib's deflate at level 9). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "io/onnx_tensor.h"
#include "minnow/mnw.h"

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

typedef struct writer {
    const mn_graph *g;
    mn_mnw_opts o;
    mn_ctx *ctx;
    int oom;                 /* a buffer failed to grow */
    wbuf sec[7];             /* indexed by MNW_SEC_* */
    uint32_t n_str, n_blobs, flags;
    size_t *str_off;         /* offset of string i in sec[STRINGS] */
    uint32_t *ht;            /* open addressing: string index + 1, 0 empty */
    size_t ht_cap, off_cap;
} writer;

/* ---- growing buffers ---- */

static uint8_t *wb_grow(writer *w, wbuf *b, size_t n)
{
    size_t need;
    if (w->oom || !mn_add_size(b->n, n, &need)) {
        w->oom = 1;
        return NULL;
    }
    if (need > b->cap || !b->p) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need && cap <= SIZE_MAX / 2)
            cap *= 2;
        if (cap < need)
            cap = need;
        uint8_t *p = mn_realloc(b->p, cap);
        if (!p) {
            w->oom = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->n;
    memset(at, 0, n);
    b->n = need;
    return at;
}

static void wb_bytes(writer *w, wbuf *b, const void *src, size_t n)
{
    uint8_t *p = wb_grow(w, b, n);
    if (p && n)
        memcpy(p, src, n);
}

static void wb_u8(writer *w, wbuf *b, uint8_t v) { wb_bytes(w, b, &v, 1); }

static void wb_u16(writer *w, wbuf *b, uint16_t v)
{
    uint8_t *p = wb_grow(w, b, 2);
    if (p)
        mnw_put16(p, v);
}

static void wb_u32(writer *w, wbuf *b, uint32_t v)
{
    uint8_t *p = wb_grow(w, b, 4);
    if (p)
        mnw_put32(p, v);
}

static void wb_u64(writer *w, wbuf *b, uint64_t v)
{
    uint8_t *p = wb_grow(w, b, 8);
    if (p)
        mnw_put64(p, v);
}

static void wb_f32(writer *w, wbuf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    wb_u32(w, b, u);
}

static void wb_align(writer *w, wbuf *b, size_t a)
{
    if (b->n % a)
        wb_grow(w, b, a - b->n % a);
}

/* ---- strings ---- */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int ht_rehash(writer *w)
{
    size_t cap = w->ht_cap ? w->ht_cap * 2 : 1024;
    uint32_t *ht = mn_calloc(cap, sizeof *ht);
    if (!ht)
        return 0;
    for (size_t i = 0; i < w->ht_cap; i++) {
        if (!w->ht[i])
            continue;
        const char *s = (const char *)w->sec[MNW_SEC_STRINGS].p +
                        w->str_off[w->ht[i] - 1];
        size_t k = str_hash(s) & (cap - 1);
        while (ht[k])
            k = (k + 1) & (cap - 1);
        ht[k] = w->ht[i];
    }
    free(w->ht);
    w->ht = ht;
    w->ht_cap = cap;
    return 1;
}

/* Index of s in the string table (added when new); MNW_NO_STRING for NULL. */
static uint32_t str_index(writer *w, const char *s)
{
    wbuf *b = &w->sec[MNW_SEC_STRINGS];
    size_t k;
    if (!s || w->oom)
        return MNW_NO_STRING;
    if ((size_t)w->n_str * 2 >= w->ht_cap && !ht_rehash(w)) {
        w->oom = 1;
        return MNW_NO_STRING;
    }
    for (k = str_hash(s) & (w->ht_cap - 1); w->ht[k];
         k = (k + 1) & (w->ht_cap - 1))
        if (strcmp((const char *)b->p + w->str_off[w->ht[k] - 1], s) == 0)
            return w->ht[k] - 1;
    if (w->n_str == w->off_cap) {
        size_t cap = w->off_cap ? w->off_cap * 2 : 1024;
        size_t *o = mn_realloc(w->str_off, cap * sizeof *o);
        if (!o) {
            w->oom = 1;
            return MNW_NO_STRING;
        }
        w->str_off = o;
        w->off_cap = cap;
    }
    w->str_off[w->n_str] = b->n;
    wb_bytes(w, b, s, strlen(s) + 1);
    if (w->oom)
        return MNW_NO_STRING;
    w->ht[k] = w->n_str + 1;
    return w->n_str++;
}

static void wb_str(writer *w, wbuf *b, const char *s)
{
    wb_u32(w, b, str_index(w, s));
}

/* ---- tensors ---- */

/* Writes t's blob into WEIGHTS and its record into rec. */
static mn_status put_tensor(writer *w, wbuf *rec, const mn_tensor *t)
{
    wbuf *wt = &w->sec[MNW_SEC_WEIGHTS];
    size_t es = mn_dtype_size(t->dtype), numel = 1, off, size;
    mnw_blob bl;
    uint8_t *blob;
    if (t->ndim < 0 || t->ndim > MN_MAX_DIMS || es == 0)
        return mn_error(w->ctx, MN_ERR_ARG, "tensor of %s, rank %d cannot be "
                        "written", mn_dtype_name(t->dtype), t->ndim);
    for (int k = 0; k < t->ndim; k++)
        if (t->dims[k] < 0 || !mn_mul_size(numel, (size_t)t->dims[k], &numel))
            return mn_error(w->ctx, MN_ERR_ARG, "tensor has an invalid shape");
    if (numel && !t->data)
        return mn_error(w->ctx, MN_ERR_ARG, "tensor has no data");
    if (numel > SIZE_MAX / 16)
        return mn_error(w->ctx, MN_ERR_OOM, "tensor too large");
    mnw_blob_plan(t, numel, !w->o.dense, !w->o.no_gaps, !w->o.no_pack4,
                  !w->o.v1_1, &bl);
    size = mnw_blob_size(&bl, numel, es);
    wb_align(w, wt, w->o.v1_1 && size >= MNW_BLOB_ALIGN
                        ? MNW_BLOB_ALIGN
                        : MNW_BLOB_ALIGN_OF(bl.layout, bl.packing, size));
    off = wt->n;
    if (!(blob = wb_grow(w, wt, size)))
        return mn_error(w->ctx, MN_ERR_OOM, "out of memory");
    mnw_blob_encode(t, numel, &bl, blob);
    if (bl.layout != MNW_LAYOUT_DENSE)
        w->flags |= MNW_FLAG_SPARSE;
    if (bl.layout == MNW_LAYOUT_GAPS ||
        (off % MNW_BLOB_ALIGN && size < MNW_BLOB_ALIGN))
        w->flags |= MNW_FLAG_STORAGE_1_1;
    if (bl.packing == MNW_PACK_HALF ||
        (off % MNW_BLOB_ALIGN && size >= MNW_BLOB_ALIGN))
        w->flags |= MNW_FLAG_STORAGE_1_2;
    if (bl.packing == MNW_PACK_NIBBLE)
        w->flags |= MNW_FLAG_PACK4;
    w->n_blobs++;
    /* mnw_tensor_head, dims, mnw_tensor_tail */
    wb_u8(w, rec, (uint8_t)t->dtype);
    wb_u8(w, rec, (uint8_t)t->ndim);
    wb_u8(w, rec, (uint8_t)bl.layout);
    wb_u8(w, rec, (uint8_t)bl.packing);
    wb_u32(w, rec, 0);
    for (int k = 0; k < t->ndim; k++)
        wb_u64(w, rec, (uint64_t)t->dims[k]);
    wb_u64(w, rec, bl.nnz);
    wb_u64(w, rec, off);
    wb_u64(w, rec, size);
    return w->oom ? mn_error(w->ctx, MN_ERR_OOM, "out of memory") : MN_OK;
}

/* ---- records ---- */

/* An ONNX INT4 constant as int8 codes: the file's own 4-bit packing
 * (put_tensor) stores it at 4 bits again; the value record keeps dtype
 * int4 and the reader packs the codes back into an INT4 tensor. */
static mn_status unpack_int4(const mn_tensor *t, mn_tensor **out,
                             mn_ctx *ctx)
{
    int64_t n = mn_tensor_numel(t);
    const uint8_t *p = t->data;
    mn_status st = mn_tensor_create(MN_DT_I8, t->ndim, t->dims, out, ctx);
    for (int64_t k = 0; st == MN_OK && k < n; k++)
        ((int8_t *)(*out)->data)[k] =
            (int8_t)((int8_t)(uint8_t)(p[k >> 1] << (k & 1 ? 0 : 4)) >> 4);
    return st;
}

static mn_status put_value(writer *w, int i)
{
    const mn_value *v = &w->g->values[i];
    wbuf *b = &w->sec[MNW_SEC_VALUES];
    const mn_quant *q = v->quant;
    int ndim = v->init ? v->init->ndim : v->ndim;
    mn_dtype dt = v->init ? v->init->dtype : v->dtype;
    mn_tensor *i8 = NULL;
    mn_status st = MN_OK;
    if (!v->name || !v->name[0])
        return mn_error(w->ctx, MN_ERR_ARG, "value #%d has no name", i);
    if (v->init && dt == MN_DT_I4) {
        if ((st = unpack_int4(v->init, &i8, w->ctx)) != MN_OK)
            return mn_error_prefix(w->ctx, st, "value '%s'", v->name);
    }
    /* 4-bit values other than INT4 constants have no .mnw form */
    if (ndim < -1 || ndim > MN_MAX_DIMS || (int)dt < 0 || dt >= MN_DT_COUNT ||
        (dt != MN_DT_UNDEF && mn_dtype_size(dt) == 0 && !i8)) {
        mn_tensor_destroy(i8);
        return mn_error(w->ctx, MN_ERR_ARG, "value '%s': %s of rank %d cannot "
                        "be written", v->name, mn_dtype_name(dt), ndim);
    }
    if (q && (q->n < 1 || !q->scale || !q->zero_point || q->axis < -1 ||
              mn_dtype_size(q->qtype) == 0)) {
        mn_tensor_destroy(i8);
        return mn_error(w->ctx, MN_ERR_ARG, "value '%s': invalid quantization "
                        "parameters", v->name);
    }
    wb_str(w, b, v->name);
    wb_u8(w, b, (uint8_t)dt);
    wb_u8(w, b, (uint8_t)(int8_t)ndim);
    wb_u8(w, b, (uint8_t)((v->init ? MNW_VAL_INIT : 0) |
                          (q ? MNW_VAL_QUANT : 0)));
    wb_u8(w, b, 0);
    /* a constant's shape is its tensor record's */
    for (int k = 0; !v->init && k < ndim; k++)
        wb_u64(w, b, (uint64_t)v->dims[k]);
    for (int k = 0; !v->init && k < ndim; k++)
        wb_str(w, b, v->dim_param[k]);
    if (v->init)
        st = put_tensor(w, b, i8 ? i8 : v->init);
    mn_tensor_destroy(i8);
    if (st != MN_OK)
        return mn_error_prefix(w->ctx, st, "value '%s'", v->name);
    if (q) {
        wb_u8(w, b, (uint8_t)q->qtype);
        wb_u8(w, b, 0); /* bits: implied by qtype (the IR has no int4 flag) */
        wb_u16(w, b, 0);
        wb_u32(w, b, (uint32_t)q->axis);
        wb_u32(w, b, (uint32_t)q->n);
        wb_u32(w, b, 0);
        for (int k = 0; k < q->n; k++)
            wb_f32(w, b, q->scale[k]);
        for (int k = 0; k < q->n; k++)
            wb_u32(w, b, (uint32_t)q->zero_point[k]);
    }
    return MN_OK;
}

static mn_status put_attr(writer *w, wbuf *b, const mn_attr *a)
{
    if (!a->name || !a->name[0])
        return mn_error(w->ctx, MN_ERR_ARG, "attribute without a name");
    if (a->n < 0 ||
        (a->n > 0 && ((a->type == MN_ATTR_INTS && !a->ints) ||
                      (a->type == MN_ATTR_FLOATS && !a->floats) ||
                      (a->type == MN_ATTR_STRINGS && !a->strings))))
        return mn_error(w->ctx, MN_ERR_ARG, "attribute '%s' is inconsistent",
                        a->name);
    wb_str(w, b, a->name);
    wb_u8(w, b, (uint8_t)a->type);
    wb_grow(w, b, 3);
    switch (a->type) {
    case MN_ATTR_FLOAT:
        wb_f32(w, b, a->f);
        break;
    case MN_ATTR_INT:
        wb_u64(w, b, (uint64_t)a->i);
        break;
    case MN_ATTR_STRING:
        wb_str(w, b, a->s);
        break;
    case MN_ATTR_TENSOR: {
        mn_status st;
        if (!a->t)
            return mn_error(w->ctx, MN_ERR_ARG, "attribute '%s' has no tensor",
                            a->name);
        if ((st = put_tensor(w, b, a->t)) != MN_OK)
            return mn_error_prefix(w->ctx, st, "attribute '%s'", a->name);
        break;
    }
    case MN_ATTR_FLOATS:
        wb_u32(w, b, (uint32_t)a->n);
        for (int k = 0; k < a->n; k++)
            wb_f32(w, b, a->floats[k]);
        break;
    case MN_ATTR_INTS:
        wb_u32(w, b, (uint32_t)a->n);
        for (int k = 0; k < a->n; k++)
            wb_u64(w, b, (uint64_t)a->ints[k]);
        break;
    case MN_ATTR_STRINGS:
        wb_u32(w, b, (uint32_t)a->n);
        for (int k = 0; k < a->n; k++)
            wb_str(w, b, a->strings[k]);
        break;
    default:
        return mn_error(w->ctx, MN_ERR_UNSUPPORTED,
                        "attribute '%s' of type %d cannot be written", a->name,
                        (int)a->type);
    }
    return MN_OK;
}

static mn_status put_node(writer *w, int i)
{
    const mn_graph *g = w->g;
    const mn_node *n = &g->nodes[i];
    wbuf *b = &w->sec[MNW_SEC_NODES];
    char lb[300];
    mn_status st = MN_OK;
    if (!n->op_type || !n->op_type[0] || n->n_in < 0 || n->n_out < 0 ||
        n->n_attrs < 0)
        st = mn_error(w->ctx, MN_ERR_ARG, "invalid node");
    for (int j = 0; j < n->n_in && st == MN_OK; j++)
        if (n->in[j] < -1 || n->in[j] >= g->n_values)
            st = mn_error(w->ctx, MN_ERR_ARG, "input %d is not a value", j);
    for (int j = 0; j < n->n_out && st == MN_OK; j++)
        if (n->out[j] < -1 || n->out[j] >= g->n_values)
            st = mn_error(w->ctx, MN_ERR_ARG, "output %d is not a value", j);
    if (st != MN_OK)
        return mn_error_prefix(w->ctx, st, "%s",
                               mn_node_label(g, i, lb, sizeof lb));
    wb_str(w, b, n->name);
    wb_str(w, b, n->op_type);
    wb_str(w, b, n->domain ? n->domain : "");
    /* the IR's opcode, which may differ from what op_type alone would give
     * (e.g. com.microsoft QuantizeLinear runs minnow's QuantizeLinear) */
    wb_u16(w, b, n->op > 0 && n->op < 0xFFFF ? (uint16_t)n->op : 0);
    wb_u16(w, b, 0);
    wb_u32(w, b, (uint32_t)n->opset);
    wb_u32(w, b, (uint32_t)n->n_in);
    wb_u32(w, b, (uint32_t)n->n_out);
    wb_u32(w, b, (uint32_t)n->n_attrs);
    for (int j = 0; j < n->n_in; j++)
        wb_u32(w, b, (uint32_t)n->in[j]);
    for (int j = 0; j < n->n_out; j++)
        wb_u32(w, b, (uint32_t)n->out[j]);
    for (int k = 0; k < n->n_attrs && st == MN_OK; k++)
        st = put_attr(w, b, &n->attrs[k]);
    if (st != MN_OK)
        return mn_error_prefix(w->ctx, st, "%s",
                               mn_node_label(g, i, lb, sizeof lb));
    return MN_OK;
}

static mn_status put_graph(writer *w)
{
    const mn_graph *g = w->g;
    wbuf *b = &w->sec[MNW_SEC_GRAPH];
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] < 0 || g->inputs[i] >= g->n_values)
            return mn_error(w->ctx, MN_ERR_ARG, "graph input %d is not a "
                            "value", i);
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] < 0 || g->outputs[i] >= g->n_values)
            return mn_error(w->ctx, MN_ERR_ARG, "graph output %d is not a "
                            "value", i);
    wb_str(w, b, g->name);
    wb_str(w, b, g->producer_name);
    wb_str(w, b, g->producer_version);
    wb_u32(w, b, 0);
    wb_u64(w, b, (uint64_t)g->ir_version);
    wb_u64(w, b, (uint64_t)g->opset);
    wb_u32(w, b, (uint32_t)g->n_inputs);
    wb_u32(w, b, (uint32_t)g->n_outputs);
    for (int i = 0; i < g->n_inputs; i++)
        wb_u32(w, b, (uint32_t)g->inputs[i]);
    for (int i = 0; i < g->n_outputs; i++)
        wb_u32(w, b, (uint32_t)g->outputs[i]);
    return MN_OK;
}

static mn_status put_meta(writer *w)
{
    wbuf *b = &w->sec[MNW_SEC_META];
    for (int i = 0; i < w->g->n_meta; i++) {
        if (!w->g->meta[i].key || !w->g->meta[i].key[0])
            return mn_error(w->ctx, MN_ERR_ARG, "metadata entry #%d has no "
                            "key", i);
        wb_str(w, b, w->g->meta[i].key);
        wb_str(w, b, w->g->meta[i].value ? w->g->meta[i].value : "");
    }
    return MN_OK;
}

/* Names must be unique: the loader refuses a file where they are not. */
static mn_status check_names(writer *w)
{
    const mn_graph *g = w->g;
    char *seen = NULL;
    mn_status st = MN_OK;
    if (w->n_str && !(seen = mn_calloc(w->n_str, 1)))
        return mn_error(w->ctx, MN_ERR_OOM, "out of memory");
    /* every value name is interned by now: look each up again */
    for (int i = 0; i < g->n_values && st == MN_OK; i++) {
        uint32_t k = str_index(w, g->values[i].name);
        if (k >= w->n_str || seen[k])
            st = mn_error(w->ctx, MN_ERR_ARG, "value name '%s' is not unique",
                          g->values[i].name);
        else
            seen[k] = 1;
    }
    free(seen);
    return st;
}

/* Section order in the file; WEIGHTS last (64-byte aligned). */
static const int order[] = {MNW_SEC_STRINGS, MNW_SEC_GRAPH, MNW_SEC_VALUES,
                            MNW_SEC_NODES, MNW_SEC_META, MNW_SEC_WEIGHTS};
#define N_SECTIONS ((int)(sizeof order / sizeof order[0]))

/* Replaces section s by its zlib stream when that is smaller (never
 * WEIGHTS; not for v1_1 files); *raw gets the inflated size, 0 when the
 * section stays as it is. */
static mn_status deflate_section(writer *w, int s, uint32_t *raw)
{
    wbuf *b = &w->sec[s];
    uLongf n;
    uint8_t *z;
    *raw = 0;
    if (w->o.v1_1 || s == MNW_SEC_WEIGHTS || b->n < 64 || b->n > UINT32_MAX)
        return MN_OK;
    n = compressBound((uLong)b->n);
    if (!(z = mn_malloc(n)))
        return mn_error(w->ctx, MN_ERR_OOM, "out of memory");
    if (compress2(z, &n, b->p, (uLong)b->n, 9) != Z_OK || n >= b->n) {
        free(z);
        return MN_OK;
    }
    *raw = (uint32_t)b->n;
    free(b->p);
    b->p = z;
    b->n = b->cap = n;
    w->flags |= MNW_FLAG_STORAGE_1_2;
    return MN_OK;
}

static mn_status assemble(writer *w, void **out, size_t *out_len)
{
    const mn_graph *g = w->g;
    size_t pos = MNW_HEADER_SIZE + N_SECTIONS * MNW_SECTION_ENTRY_SIZE;
    size_t offs[N_SECTIONS];
    uint32_t counts[7] = {0}, raw[7] = {0};
    uint8_t *f, *h;
    mn_status st;
    for (int s = 0; s < N_SECTIONS; s++)
        if ((st = deflate_section(w, order[s], &raw[order[s]])) != MN_OK)
            return st;
    counts[MNW_SEC_STRINGS] = w->n_str;
    counts[MNW_SEC_GRAPH] = 1;
    counts[MNW_SEC_VALUES] = (uint32_t)g->n_values;
    counts[MNW_SEC_NODES] = (uint32_t)g->n_nodes;
    counts[MNW_SEC_META] = (uint32_t)g->n_meta;
    counts[MNW_SEC_WEIGHTS] = w->n_blobs;
    for (int s = 0; s < N_SECTIONS; s++) {
        size_t a = order[s] == MNW_SEC_WEIGHTS ? MNW_BLOB_ALIGN
                                               : MNW_SECTION_ALIGN;
        pos = (pos + a - 1) / a * a;
        offs[s] = pos;
        if (!mn_add_size(pos, w->sec[order[s]].n, &pos))
            return mn_error(w->ctx, MN_ERR_OOM, "model too large");
    }
    if (!(f = mn_calloc(pos, 1)))
        return mn_error(w->ctx, MN_ERR_OOM, "out of memory (%zu bytes)", pos);
    memcpy(f, MNW_MAGIC, 4);
    mnw_put16(f + 4, MNW_MAJOR);
    mnw_put16(f + 6, MNW_MINOR);
    mnw_put32(f + 8, w->flags);
    mnw_put32(f + 12, MNW_HEADER_SIZE);
    mnw_put64(f + 16, pos);
    mnw_put32(f + 28, N_SECTIONS);
    mnw_put64(f + 32, MNW_HEADER_SIZE);
    mnw_put32(f + 40, MNW_SECTION_ENTRY_SIZE);
    for (int s = 0; s < N_SECTIONS; s++) {
        const wbuf *b = &w->sec[order[s]];
        h = f + MNW_HEADER_SIZE + s * MNW_SECTION_ENTRY_SIZE;
        mnw_put32(h, (uint32_t)order[s]);
        mnw_put32(h + 4, MNW_SECF_REQUIRED |
                             (raw[order[s]] ? MNW_SECF_DEFLATE : 0));
        mnw_put64(h + 8, offs[s]);
        mnw_put64(h + 16, b->n);
        mnw_put32(h + 24, counts[order[s]]);
        mnw_put32(h + 28, raw[order[s]]);
        if (b->n)
            memcpy(f + offs[s], b->p, b->n);
    }
    mnw_put32(f + MNW_CRC_OFFSET, mnw_file_crc(f, pos));
    *out = f;
    *out_len = pos;
    return MN_OK;
}

mn_status mn_graph_save_mnw_mem(const mn_graph *g, const mn_mnw_opts *opts,
                                void **buf, size_t *len, mn_ctx *ctx)
{
    writer w;
    mn_status st = MN_OK;
    if (!buf || !len)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_save_mnw_mem: NULL argument");
    *buf = NULL;
    *len = 0;
    if (!g)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_save_mnw_mem: NULL graph");
    memset(&w, 0, sizeof w);
    w.g = g;
    w.ctx = ctx;
    if (opts)
        w.o = *opts;
    if (g->n_values < 0 || g->n_nodes < 0 || g->n_meta < 0 ||
        g->n_inputs < 0 || g->n_outputs < 0)
        st = mn_error(ctx, MN_ERR_ARG, "inconsistent graph");
    for (int i = 0; i < g->n_values && st == MN_OK; i++)
        st = put_value(&w, i);
    if (st == MN_OK)
        st = check_names(&w);
    for (int i = 0; i < g->n_nodes && st == MN_OK; i++)
        st = put_node(&w, i);
    if (st == MN_OK)
        st = put_graph(&w);
    if (st == MN_OK)
        st = put_meta(&w);
    if (st == MN_OK && w.oom)
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
    if (st == MN_OK)
        st = assemble(&w, buf, len);
    for (int s = 0; s < 7; s++)
        free(w.sec[s].p);
    free(w.str_off);
    free(w.ht);
    return st;
}

mn_status mn_graph_save_mnw(const mn_graph *g, const char *path,
                            const mn_mnw_opts *opts, mn_ctx *ctx)
{
    void *buf = NULL;
    size_t len = 0;
    mn_status st;
    if (!path)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_save_mnw: NULL path");
    st = mn_graph_save_mnw_mem(g, opts, &buf, &len, ctx);
    if (st != MN_OK)
        return mn_error_prefix(ctx, st, "%s", path);
    st = mn_pb_write_atomic(path, buf, len, ctx);
    free(buf);
    return st;
}
