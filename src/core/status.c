/* Status strings, error messages and checked allocation. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/status.h"

const char *mn_status_str(mn_status st)
{
    static const char *const names[MN_STATUS_COUNT] = {
        [MN_OK] = "ok",
        [MN_ERR_PARSE] = "parse error",
        [MN_ERR_SHAPE] = "shape error",
        [MN_ERR_UNSUPPORTED] = "unsupported",
        [MN_ERR_IO] = "i/o error",
        [MN_ERR_OOM] = "out of memory",
        [MN_ERR_ARG] = "bad argument",
        [MN_ERR_RUNTIME] = "runtime error",
    };
    if ((int)st < 0 || st >= MN_STATUS_COUNT)
        return "unknown status";
    return names[st];
}

mn_status mn_error(mn_ctx *ctx, mn_status st, const char *fmt, ...)
{
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

mn_status mn_error_prefix(mn_ctx *ctx, mn_status st, const char *fmt, ...)
{
    if (ctx) {
        char pre[512], old[sizeof ctx->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pre, sizeof pre, fmt, ap);
        va_end(ap);
        size_t lp, lo;
        memcpy(old, ctx->msg, sizeof old);
        old[sizeof old - 1] = 0;
        lp = strlen(pre);
        lo = strlen(old);
        if (lp + 2 >= sizeof ctx->msg)
            lp = sizeof ctx->msg - 3;
        memcpy(ctx->msg, pre, lp);
        memcpy(ctx->msg + lp, ": ", 2);
        if (lp + 2 + lo >= sizeof ctx->msg)
            lo = sizeof ctx->msg - lp - 3;
        memcpy(ctx->msg + lp + 2, old, lo);
        ctx->msg[lp + 2 + lo] = 0;
    }
    return st;
}

int mn_mul_size(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

int mn_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return 0;
    *out = a + b;
    return 1;
}

void *mn_malloc(size_t n)
{
    if (n > MN_ALLOC_LIMIT)
        return NULL;
    return malloc(n ? n : 1);
}

void *mn_calloc(size_t n, size_t size)
{
    size_t total;
    if (!mn_mul_size(n, size, &total) || total > MN_ALLOC_LIMIT)
        return NULL;
    return calloc(total ? total : 1, 1);
}

void *mn_realloc(void *p, size_t n)
{
    if (n > MN_ALLOC_LIMIT)
        return NULL;
    return realloc(p, n ? n : 1);
}

char *mn_strdup(const char *s)
{
    size_t n;
    char *d;
    if (!s)
        s = "";
    n = strlen(s) + 1;
    d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void *mn_malloc_aligned(size_t n)
{
    void *p = NULL;
    if (n > MN_ALLOC_LIMIT)
        return NULL;
    n = (n + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, n ? n : 64) != 0)
        return NULL;
    return p;
}

void mn_free_aligned(void *p)
{
    free(p);
}
