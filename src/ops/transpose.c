/* Transpose: permutes axes (perm defaults to reversed). Works on any
 * fixed-size element type by element size. */
#include <string.h>
#include "ops/ops.h"

/* Reads perm (or the reversed default) for rank r; validates it. */
static mn_status get_perm(const mn_node *n, int r, int *perm, mn_ctx *ctx)
{
    const int64_t *p;
    int k = mn_node_attr_ints(n, "perm", &p);
    char seen[MN_MAX_DIMS] = {0};
    if (!mn_node_attr(n, "perm")) {
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
        return MN_OK;
    }
    if (k != r)
        return mn_error(ctx, MN_ERR_SHAPE, "perm has %d entries for rank %d", k,
                        r);
    for (int i = 0; i < k; i++) {
        if (p[i] < 0 || p[i] >= r || seen[p[i]])
            return mn_error(ctx, MN_ERR_SHAPE,
                            "perm is not a permutation of 0..%d", r - 1);
        seen[p[i]] = 1;
        perm[i] = (int)p[i];
    }
    return MN_OK;
}

static mn_status transpose_infer(const mn_node *n, const mn_tensor *const *in,
                                 int n_in, mn_tensor *const *out, int n_out,
                                 mn_ctx *ctx)
{
    int perm[MN_MAX_DIMS];
    mn_status st;
    (void)n_out;
    if (n_in < 1 || !in[0])
        return mn_error(ctx, MN_ERR_SHAPE, "missing data input");
    if ((st = get_perm(n, in[0]->ndim, perm, ctx)) != MN_OK)
        return st;
    out[0]->dtype = in[0]->dtype;
    out[0]->ndim = in[0]->ndim;
    for (int i = 0; i < in[0]->ndim; i++)
        out[0]->dims[i] = in[0]->dims[perm[i]];
    return MN_OK;
}

/* One output row: cnt elements read from src with element stride s. */
#define ROW(T)                                                              \
    do {                                                                    \
        const T *s_ = (const T *)src;                                       \
        T *d_ = (T *)dst;                                                   \
        for (int64_t j = 0; j < cnt; j++)                                   \
            d_[j] = s_[j * s];                                              \
    } while (0)

static void copy_row(const char *src, char *dst, int64_t cnt, int64_t s,
                     size_t es)
{
    switch (es) {
    case 1: ROW(uint8_t); break;
    case 2: ROW(uint16_t); break;
    case 4: ROW(uint32_t); break;
    case 8: ROW(uint64_t); break;
    default:
        for (int64_t j = 0; j < cnt; j++)
            memcpy(dst + (size_t)j * es, src + (size_t)(j * s) * es, es);
    }
}

static mn_status transpose_forward(const mn_node *n,
                                   const mn_tensor *const *in, int n_in,
                                   mn_tensor *const *out, int n_out,
                                   mn_exec *ex)
{
    const mn_tensor *x = in[0];
    mn_tensor *y = out[0];
    int perm[MN_MAX_DIMS], r = x->ndim;
    int64_t istride[MN_MAX_DIMS], s[MN_MAX_DIMS], idx[MN_MAX_DIMS] = {0};
    size_t es = mn_dtype_size(x->dtype);
    int64_t total = mn_tensor_numel(y), rows, cnt, last;
    const char *src = x->data;
    char *dst = y->data;
    (void)n_in, (void)n_out;
    if (total == 0)
        return MN_OK;
    if (r == 0) {
        memcpy(dst, src, es);
        return MN_OK;
    }
    if (get_perm(n, r, perm, ex->ctx) != MN_OK)
        return MN_ERR_SHAPE; /* infer accepted it; cannot happen */
    istride[r - 1] = 1;
    for (int i = r - 2; i >= 0; i--)
        istride[i] = istride[i + 1] * x->dims[i + 1];
    for (int i = 0; i < r; i++)
        s[i] = istride[perm[i]]; /* input stride of output axis i */
    cnt = y->dims[r - 1];
    last = s[r - 1];
    rows = total / cnt;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        for (int i = 0; i < r - 1; i++)
            off += idx[i] * s[i];
        copy_row(src + (size_t)off * es, dst, cnt, last, es);
        dst += (size_t)cnt * es;
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < y->dims[i])
                break;
            idx[i] = 0;
        }
    }
    return MN_OK;
}

const mn_op_def mn_opdef_transpose = {
    .name = "Transpose", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .flags = 0, .infer = transpose_infer, .forward = transpose_forward};
