/* The .mnw reader's shared state (mnw_read.c: header, strings, tensors,
 * values and the entry points; mnw_read_graph.c: nodes, attributes, graph
 * inputs/outputs, metadata): the reader, and a cursor over one record with
 * bounds-checked little-endian reads. Internal to src/io. */
#ifndef MN_IO_MNW_READ_H
#define MN_IO_MNW_READ_H

#include <string.h>
#include "core/graph.h"
#include "io/mnw_format.h"

#define MNW_MAX_IO 65536 /* inputs or outputs of one node */

typedef struct cursor {
    const uint8_t *p;
    size_t n, i;
} cursor;

typedef struct reader {
    const uint8_t *buf;
    size_t len;
    const char *label;
    mn_ctx *ctx;
    unsigned minor;
    mnw_section sec[7];      /* known sections by kind; size 0 if absent
                                (a deflated one: its inflated size) */
    const uint8_t *data[7];  /* each known section's content */
    uint8_t *inflated[7];    /* owned content of deflated sections */
    int have[7];
    const char **str;        /* into buf, each NUL-terminated */
    uint32_t n_str;
    uint32_t *stamp;         /* per string: last owner + 1 (uniqueness) */
    uint64_t blob_next;      /* blobs must start at or after this */
    mn_graph *g;
} reader;

/* ---- cursor: bounds-checked little-endian reads ---- */

static inline const uint8_t *take(cursor *c, size_t n)
{
    const uint8_t *p;
    if (n > c->n - c->i)
        return NULL;
    p = c->p + c->i;
    c->i += n;
    return p;
}

static inline int rd8(cursor *c, uint8_t *v)
{
    const uint8_t *p = take(c, 1);
    if (p)
        *v = *p;
    return p != NULL;
}

static inline int rd16(cursor *c, uint16_t *v)
{
    const uint8_t *p = take(c, 2);
    if (p)
        *v = mnw_get16(p);
    return p != NULL;
}

static inline int rd32(cursor *c, uint32_t *v)
{
    const uint8_t *p = take(c, 4);
    if (p)
        *v = mnw_get32(p);
    return p != NULL;
}

static inline int rd64(cursor *c, uint64_t *v)
{
    const uint8_t *p = take(c, 8);
    if (p)
        *v = mnw_get64(p);
    return p != NULL;
}

static inline int rdf32(cursor *c, float *f)
{
    uint32_t u;
    if (!rd32(c, &u))
        return 0;
    memcpy(f, &u, 4);
    return 1;
}

/* 1 when `count` items of at least `each` bytes fit in what is left. */
static inline int fits(const cursor *c, uint64_t count, size_t each)
{
    return count <= (uint64_t)(c->n - c->i) / each;
}

mn_status mnw_truncated(reader *r, const char *what);
/* String index → string; NULL for MNW_NO_STRING when allow_none. */
mn_status mnw_get_str(reader *r, uint32_t k, int allow_none,
                      const char **out);
mn_status mnw_dup_str(reader *r, uint32_t k, int allow_none, char **out);
/* A tensor record (head, dims, tail) and its blob → a new tensor. */
mn_status mnw_read_tensor(reader *r, cursor *c, mn_tensor **out);
mn_status mnw_read_nodes(reader *r);
mn_status mnw_read_graph(reader *r);
mn_status mnw_read_meta(reader *r);

#endif
