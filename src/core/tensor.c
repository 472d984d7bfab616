/* Tensors and dtype traits. */
#include <stdlib.h>
#include <string.h>
#include "core/status.h"

static const struct {
    const char *name;
    int bits; /* 0: no storage (undefined, string, unsupported numbers) */
} dtypes[MN_DT_COUNT] = {
    [MN_DT_UNDEF] = {"undefined", 0}, [MN_DT_F32] = {"float32", 32},
    [MN_DT_U8] = {"uint8", 8},        [MN_DT_I8] = {"int8", 8},
    [MN_DT_U16] = {"uint16", 16},     [MN_DT_I16] = {"int16", 16},
    [MN_DT_I32] = {"int32", 32},      [MN_DT_I64] = {"int64", 64},
    [MN_DT_STRING] = {"string", 0},   [MN_DT_BOOL] = {"bool", 8},
    [MN_DT_F16] = {"float16", 16},    [MN_DT_F64] = {"float64", 64},
    [MN_DT_U32] = {"uint32", 32},     [MN_DT_U64] = {"uint64", 64},
    [MN_DT_U4] = {"uint4", 4},        [MN_DT_I4] = {"int4", 4},
};

const char *mn_dtype_name(mn_dtype dt)
{
    if ((int)dt < 0 || dt >= MN_DT_COUNT || !dtypes[dt].name)
        return "invalid";
    return dtypes[dt].name;
}

int mn_dtype_bits(mn_dtype dt)
{
    if ((int)dt < 0 || dt >= MN_DT_COUNT)
        return 0;
    return dtypes[dt].bits;
}

size_t mn_dtype_size(mn_dtype dt)
{
    int b = mn_dtype_bits(dt);
    return b % 8 ? 0 : (size_t)b / 8;
}

size_t mn_dtype_nbytes(mn_dtype dt, size_t n)
{
    size_t bits = (size_t)mn_dtype_bits(dt), r;
    if (bits % 8 == 0) {
        if (!mn_mul_size(n, bits / 8, &r))
            return SIZE_MAX;
        return r;
    }
    if (!mn_mul_size(n, bits, &r)) /* 4-bit: n * 4 bits, rounded up */
        return SIZE_MAX;
    return r / 8 + (r % 8 != 0);
}

int64_t mn_tensor_numel(const mn_tensor *t)
{
    /* Saturates instead of overflowing: any zero dim makes 0, and a product
     * past int64 reads as INT64_MAX (which no allocation can satisfy). */
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] == 0)
            return 0;
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] < 0 || __builtin_mul_overflow(n, t->dims[i], &n))
            return INT64_MAX;
    return n;
}

size_t mn_tensor_nbytes(const mn_tensor *t)
{
    int64_t n = mn_tensor_numel(t);
    if (n == INT64_MAX)
        return SIZE_MAX;
    return mn_dtype_nbytes(t->dtype, (size_t)n);
}

mn_status mn_tensor_create(mn_dtype dt, int ndim, const int64_t *dims,
                           mn_tensor **out, mn_ctx *ctx)
{
    mn_tensor *t;
    size_t n = 1, bytes;
    *out = NULL;
    if (ndim < 0 || ndim > MN_MAX_DIMS)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "rank %d exceeds %d", ndim,
                        MN_MAX_DIMS);
    if (mn_dtype_bits(dt) == 0)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "tensor dtype %s",
                        mn_dtype_name(dt));
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return mn_error(ctx, MN_ERR_SHAPE, "negative dimension %lld",
                            (long long)dims[i]);
        if (!mn_mul_size(n, (size_t)dims[i], &n))
            return mn_error(ctx, MN_ERR_OOM, "tensor size overflows");
    }
    bytes = mn_dtype_nbytes(dt, n);
    if (bytes == SIZE_MAX || bytes > MN_ALLOC_LIMIT)
        return mn_error(ctx, MN_ERR_OOM, "tensor of %zu elements is too large",
                        n);
    t = calloc(1, sizeof *t);
    if (!t)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    t->data = mn_malloc_aligned(bytes);
    if (!t->data) {
        free(t);
        return mn_error(ctx, MN_ERR_OOM, "out of memory (%zu bytes)", bytes);
    }
    memset(t->data, 0, bytes);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->dims[i] = dims[i];
    t->owns_data = 1;
    *out = t;
    return MN_OK;
}

mn_status mn_tensor_clone(const mn_tensor *src, mn_tensor **out, mn_ctx *ctx)
{
    mn_status st = mn_tensor_create(src->dtype, src->ndim, src->dims, out, ctx);
    if (st == MN_OK && src->data)
        memcpy((*out)->data, src->data, mn_tensor_nbytes(src));
    return st;
}

void mn_tensor_destroy(mn_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        mn_free_aligned(t->data);
    free(t);
}
