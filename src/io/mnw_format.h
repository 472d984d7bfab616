/* The on-disk layout of minnow's own model file (.mnw), shared by the
 * writer (mnw_write.c) and the reader (mnw_read.c). docs/mnw-format.md is
 * the specification; this header is its machine-readable half.
 *
 * All integers and floats are little-endian. The structs below list the
 * fields of each fixed-size part in file order; they are naturally aligned
 * so they have no padding (checked by the static asserts), but the code
 * never reads them with memcpy: mnw_rd / mnw_wr encode field by field, so
 * the format is the same on any host. Variable-length records (values,
 * nodes, attributes, tensors) are a fixed head followed by arrays whose
 * lengths the head gives. */
#ifndef MN_IO_MNW_FORMAT_H
#define MN_IO_MNW_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "core/status.h"

#define MNW_MAGIC "MNW1"
#define MNW_MAJOR 1 /* incompatible changes: readers refuse a newer major */
#define MNW_MINOR 2 /* compatible additions (see docs/mnw-format.md);
                            1: the GAPS layout, small blobs 8-aligned;
                            2: HALF packing, deflated metadata sections,
                            blobs not usable in place 8-aligned */

#define MNW_HEADER_SIZE 64
#define MNW_SECTION_ENTRY_SIZE 32
#define MNW_SECTION_ALIGN 8  /* every section starts at a multiple of 8 */
#define MNW_BLOB_ALIGN 64    /* the WEIGHTS section and every blob of at
                                least MNW_BLOB_ALIGN bytes in it */
#define MNW_SMALL_BLOB_ALIGN 8 /* blobs under MNW_BLOB_ALIGN bytes (1.1),
                                  and blobs a loader must decode (1.2) */
/* The alignment a blob of `size` bytes starts at: 64 for one usable in
 * place from a mapped file (DENSE and NATIVE, at least 64 bytes), else 8. */
#define MNW_BLOB_ALIGN_OF(layout, packing, size)                          \
    ((size) >= MNW_BLOB_ALIGN && (layout) == MNW_LAYOUT_DENSE &&          \
             (packing) == MNW_PACK_NATIVE                                 \
         ? MNW_BLOB_ALIGN                                                 \
         : MNW_SMALL_BLOB_ALIGN)
#define MNW_MAX_SECTIONS 64
#define MNW_NO_STRING 0xFFFFFFFFu /* string index meaning "absent" (NULL) */
#define MNW_CRC_OFFSET 24         /* header.crc32, zero while computing it */

/* header.flags: bits 0..15 are compatible (a reader ignores the ones it
 * does not know), bits 16..31 incompatible (a reader refuses the file when
 * one it does not know is set). */
#define MNW_FLAG_SPARSE 0x1u /* some tensor uses MNW_LAYOUT_BITMASK or
                                GAPS */
#define MNW_FLAG_PACK4 0x2u  /* some tensor uses MNW_PACK_NIBBLE */
/* Incompatible: some blob uses storage 1.0 readers would misread or
 * refuse as damaged (the GAPS layout, a blob under 64 bytes at a multiple
 * of 8 only); they refuse the file by this flag instead. */
#define MNW_FLAG_STORAGE_1_1 0x10000u
/* Incompatible: 1.2 storage (HALF packing, a deflated section, a blob of
 * 64 bytes or more that is not DENSE NATIVE at a multiple of 8 only). */
#define MNW_FLAG_STORAGE_1_2 0x20000u
#define MNW_FLAGS_INCOMPAT_MASK 0xFFFF0000u
#define MNW_FLAGS_INCOMPAT_KNOWN (MNW_FLAG_STORAGE_1_1 | MNW_FLAG_STORAGE_1_2)

typedef struct mnw_header {     /* at offset 0, 64 bytes */
    uint8_t magic[4];           /* "MNW1" */
    uint16_t major, minor;
    uint32_t flags;
    uint32_t header_size;       /* >= 64; bytes up to the section table */
    uint64_t file_size;         /* exact size of the file */
    uint32_t crc32;             /* zlib crc32 of file_size bytes, this field 0 */
    uint32_t n_sections;
    uint64_t section_table;     /* offset of n_sections section entries */
    uint32_t section_entry_size;/* >= 32 */
    uint32_t reserved[5];       /* 0 */
} mnw_header;

/* Section kinds. A known kind appears at most once. */
enum {
    MNW_SEC_STRINGS = 1, /* count strings, each NUL-terminated, back to back */
    MNW_SEC_GRAPH = 2,   /* one mnw_graph_head + input and output lists */
    MNW_SEC_VALUES = 3,  /* count value records */
    MNW_SEC_NODES = 4,   /* count node records */
    MNW_SEC_META = 5,    /* count (key, value) string-index pairs */
    MNW_SEC_WEIGHTS = 6  /* tensor blobs, each 64-byte aligned */
};
#define MNW_SECF_REQUIRED 0x1u /* an unknown kind with this flag: refuse */
/* 1.2: the section's bytes are one zlib (RFC 1950) stream that inflates
 * to exactly `reserved` bytes, the section's content (never WEIGHTS). */
#define MNW_SECF_DEFLATE 0x2u
#define MNW_SECF_KNOWN (MNW_SECF_REQUIRED | MNW_SECF_DEFLATE)
/* a deflated section inflates to at most this many times its size plus
 * 64 KiB (zlib's own limit is about 1032:1) */
#define MNW_MAX_INFLATE_RATIO 1100

typedef struct mnw_section {    /* 32 bytes */
    uint32_t kind;
    uint32_t flags;
    uint64_t offset;            /* from the start of the file */
    uint64_t size;
    uint32_t count;             /* records in the section */
    uint32_t reserved;          /* MNW_SECF_DEFLATE: the inflated size */
} mnw_section;

typedef struct mnw_graph_head { /* 40 bytes, then u32 inputs[], outputs[] */
    uint32_t name, producer_name, producer_version; /* string indices */
    uint32_t reserved;
    int64_t ir_version;
    int64_t opset;              /* ai.onnx opset of the graph */
    uint32_t n_inputs, n_outputs;
} mnw_graph_head;

/* Value record: head; then for a constant (MNW_VAL_INIT) its tensor record
 * (which gives the shape; head dtype and ndim repeat the tensor's), else
 * i64 dims[ndim] and u32 dim_param[ndim] (string or MNW_NO_STRING); then a
 * quant record when MNW_VAL_QUANT. */
#define MNW_VAL_INIT 0x1u
#define MNW_VAL_QUANT 0x2u
typedef struct mnw_value_head { /* 8 bytes */
    uint32_t name;
    uint8_t dtype;              /* mn_dtype; 0 = unknown */
    int8_t ndim;                /* -1 = unknown rank, else 0..8 */
    uint8_t flags;              /* MNW_VAL_* */
    uint8_t reserved;
} mnw_value_head;

/* Tensor record: head, i64 dims[ndim], then mnw_tensor_tail. */
enum { MNW_LAYOUT_DENSE = 0, MNW_LAYOUT_BITMASK = 1, MNW_LAYOUT_GAPS = 2 };
#define MNW_GAP_ESCAPE 15 /* GAPS code: 15 more zeros, no value */
/* NIBBLE: int8/uint8 at 4 bits. HALF (1.2): float32 as float16, int32 as
 * int16, int64 as int32, only when every value converts back exactly. */
enum { MNW_PACK_NATIVE = 0, MNW_PACK_NIBBLE = 1, MNW_PACK_HALF = 2 };
typedef struct mnw_tensor_head { /* 8 bytes */
    uint8_t dtype;
    uint8_t ndim;               /* 0..8 */
    uint8_t layout;             /* MNW_LAYOUT_* */
    uint8_t packing;            /* MNW_PACK_* */
    uint32_t reserved;
} mnw_tensor_head;
typedef struct mnw_tensor_tail { /* 24 bytes */
    uint64_t nnz;               /* values stored in the blob */
    uint64_t offset;            /* from the start of WEIGHTS; multiple of 64
                                   (of 8 for blobs under 64 bytes) */
    uint64_t size;              /* bytes of the blob */
} mnw_tensor_tail;

/* Quant record: head, f32 scale[n], i32 zero_point[n]. */
typedef struct mnw_quant_head { /* 16 bytes */
    uint8_t qtype;              /* mn_dtype of the quantized values */
    uint8_t bits;               /* 0: implied by qtype; 4 or 8 (advisory) */
    uint16_t reserved;
    int32_t axis;               /* -1: per tensor */
    uint32_t n;                 /* number of scales */
    uint32_t block_size;        /* 0; grouped scales (refused until used) */
} mnw_quant_head;

/* Node record: head, i32 in[n_in], i32 out[n_out] (value index or -1 for
 * an absent optional one), then n_attrs attribute records. */
typedef struct mnw_node_head {  /* 32 bytes */
    uint32_t name, op_type, domain; /* string indices */
    uint16_t opcode;            /* mn_opcode at write time; 0 unknown */
    uint16_t reserved;
    int32_t opset;
    uint32_t n_in, n_out, n_attrs;
} mnw_node_head;

/* Attribute record: head, then by type: FLOAT f32; INT i64; STRING u32
 * string; TENSOR a tensor record; FLOATS u32 n + f32[n]; INTS u32 n +
 * i64[n]; STRINGS u32 n + u32 string[n]. */
typedef struct mnw_attr_head {  /* 8 bytes */
    uint32_t name;
    uint8_t type;               /* mn_attr_type (ONNX AttributeType) */
    uint8_t reserved[3];
} mnw_attr_head;

_Static_assert(sizeof(mnw_header) == MNW_HEADER_SIZE, "mnw_header layout");
_Static_assert(offsetof(mnw_header, crc32) == MNW_CRC_OFFSET, "crc offset");
_Static_assert(sizeof(mnw_section) == MNW_SECTION_ENTRY_SIZE, "section");
_Static_assert(sizeof(mnw_graph_head) == 40, "mnw_graph_head layout");
_Static_assert(sizeof(mnw_value_head) == 8, "mnw_value_head layout");
_Static_assert(sizeof(mnw_tensor_head) == 8, "mnw_tensor_head layout");
_Static_assert(sizeof(mnw_tensor_tail) == 24, "mnw_tensor_tail layout");
_Static_assert(sizeof(mnw_quant_head) == 16, "mnw_quant_head layout");
_Static_assert(sizeof(mnw_node_head) == 32, "mnw_node_head layout");
_Static_assert(sizeof(mnw_attr_head) == 8, "mnw_attr_head layout");

/* ---- little-endian scalars ---- */

static inline uint16_t mnw_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t mnw_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t mnw_get64(const uint8_t *p)
{
    return (uint64_t)mnw_get32(p) | (uint64_t)mnw_get32(p + 4) << 32;
}
static inline void mnw_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void mnw_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void mnw_put64(uint8_t *p, uint64_t v)
{
    mnw_put32(p, (uint32_t)v);
    mnw_put32(p + 4, (uint32_t)(v >> 32));
}

static inline int mnw_host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Copies n elements of `width` bytes, swapping byte order on big-endian
 * hosts (file data is little-endian). */
static inline void mnw_copy_le(void *dst, const void *src, size_t n,
                               size_t width)
{
    if (mnw_host_is_le() || width == 1) {
        if (n)
            memcpy(dst, src, n * width);
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < width; b++)
            ((uint8_t *)dst)[i * width + b] =
                ((const uint8_t *)src)[i * width + width - 1 - b];
}

/* ---- shared by writer and reader (mnw_blob.c) ---- */

/* zlib's crc32 of the whole file with header.crc32 read as zero. */
uint32_t mnw_file_crc(const uint8_t *file, size_t len);

/* How one tensor's elements are stored. */
typedef struct mnw_blob {
    unsigned layout;  /* MNW_LAYOUT_* */
    unsigned packing; /* MNW_PACK_* */
    size_t nnz;       /* stored values (numel when dense) */
    size_t ncodes;    /* GAPS: 4-bit position codes */
} mnw_blob;

/* Bytes of the blob for numel elements of es bytes; numel <= SIZE_MAX/16
 * (GAPS: ncodes <= 2·numel + 2). */
size_t mnw_blob_size(const mnw_blob *b, size_t numel, size_t es);
/* The smallest storage for t's numel elements: 4-bit when every value
 * fits (and allowed); then bitmask when strictly smaller than dense, gaps
 * when strictly smaller than both (each when allowed). */
void mnw_blob_plan(const mn_tensor *t, size_t numel, int allow_sparse,
                   int allow_gaps, int allow_pack4, int allow_half,
                   mnw_blob *b);
/* 1 when HALF packing is defined for the dtype (float32, int32, int64). */
int mnw_half_ok(mn_dtype dt);
/* Writes t's blob into dst (mnw_blob_size bytes, zeroed). */
void mnw_blob_encode(const mn_tensor *t, size_t numel, const mnw_blob *b,
                     uint8_t *dst);
/* Fills t (dense, zeroed, numel elements) from a blob of the right size;
 * MN_ERR_PARSE (cause only) when the bitmask disagrees with nnz or unused
 * bits are set. */
mn_status mnw_blob_decode(const uint8_t *blob, const mnw_blob *b,
                          size_t numel, mn_tensor *t, mn_ctx *ctx);

#endif
