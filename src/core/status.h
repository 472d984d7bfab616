/* Status messages and checked allocation helpers shared by the library. */
#ifndef MN_CORE_STATUS_H
#define MN_CORE_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include "minnow/minnow.h"

#if defined(__GNUC__)
#define MN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MN_PRINTF(a, b)
#endif

/* Formats a message into ctx (if non-NULL) and returns st. */
mn_status mn_error(mn_ctx *ctx, mn_status st, const char *fmt, ...)
    MN_PRINTF(3, 4);
/* Prefixes the message already in ctx with "prefix: ". Returns st. */
mn_status mn_error_prefix(mn_ctx *ctx, mn_status st, const char *fmt, ...)
    MN_PRINTF(3, 4);

/* Largest single allocation the library makes from untrusted sizes. */
#define MN_ALLOC_LIMIT ((size_t)1 << 34) /* 16 GiB */

/* Overflow-checked size arithmetic: return 0 on overflow. */
int mn_mul_size(size_t a, size_t b, size_t *out);
int mn_add_size(size_t a, size_t b, size_t *out);

/* malloc/calloc that fail (NULL) above MN_ALLOC_LIMIT; never abort. */
void *mn_malloc(size_t n);
void *mn_calloc(size_t n, size_t size);
void *mn_realloc(void *p, size_t n);
char *mn_strdup(const char *s);
/* 64-byte aligned allocation, freed with mn_free_aligned. */
void *mn_malloc_aligned(size_t n);
void mn_free_aligned(void *p);

#endif
