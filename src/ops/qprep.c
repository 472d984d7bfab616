/* The fast 8-bit ops' prepared state (see qprep.h). */
#include <stdlib.h>
#include <string.h>
#include "ops/qprep.h"

int mn_q8_weight_flip(const mn_tensor *w, const mn_tensor *zp, uint8_t *flip)
{
    int64_t want = w->dtype == MN_DT_I8 ? 0 : 128;
    int64_t n = zp ? mn_tensor_numel(zp) : 0;
    if (zp && !zp->data)
        return 0;
    if (!zp && want != 0)
        return 0;
    for (int64_t i = 0; i < n; i++)
        if (mn_tensor_get_i64(zp, i) != want)
            return 0;
    *flip = want ? 0x80 : 0;
    return 1;
}

void mn_q8_prep_destroy(void *prep)
{
    mn_q8_prep *q = prep;
    if (!q)
        return;
    mn_free_aligned(q->a);
    free(q->rowsum);
    free(q->add);
    free(q->mult);
    free(q->add_i32);
    free(q->taps);
    mn_free_aligned(q->dwq);
    mn_free_aligned(q->rw);
    free(q->rw_off);
    mn_spconv_q8_destroy(q->sp);
    mn_q8_direct_destroy(q->dc);
    free(q);
}

mn_status mn_q8_prep_create(const mn_kernels_q8 *kr, int64_t m, int64_t k,
                            int64_t groups, const uint8_t *w, int64_t ldw,
                            int transposed, uint8_t flip, mn_q8_prep **out,
                            mn_ctx *ctx)
{
    int64_t rows = m * groups;
    uint8_t *tw = NULL;
    mn_q8_prep *q = mn_calloc(1, sizeof *q);
    *out = NULL;
    if (!q)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    q->kr = kr;
    q->m = m;
    q->k = k;
    q->groups = groups;
    if (kr) {
        q->a_group = (mn_q8_pack_a_bytes(kr, m, k) + 63) / 64 * 64;
        q->a = mn_malloc_aligned(q->a_group * (size_t)groups);
    }
    q->rowsum = mn_calloc((size_t)rows, sizeof *q->rowsum);
    q->add = mn_calloc((size_t)rows, sizeof *q->add);
    q->mult = mn_calloc((size_t)rows, sizeof *q->mult);
    q->add_i32 = mn_calloc((size_t)rows, sizeof *q->add_i32);
    if (transposed)
        tw = mn_malloc((size_t)(rows * k));
    if ((kr && !q->a) || !q->rowsum || !q->add || !q->mult || !q->add_i32 ||
        (transposed && !tw)) {
        free(tw);
        mn_q8_prep_destroy(q);
        return mn_error(ctx, MN_ERR_OOM, "out of memory (packed weights)");
    }
    if (transposed) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t p = 0; p < k; p++)
                tw[r * k + p] = w[p * ldw + r];
        w = tw;
        ldw = k;
    }
    for (int64_t g = 0; kr && g < groups; g++)
        mn_q8_pack_a(kr, m, k, w + g * m * ldw, ldw, flip,
                     q->a + (size_t)g * q->a_group, q->rowsum + g * m);
    if (!kr)
        mn_q8_rowsum(rows, k, w, ldw, flip, q->rowsum);
    free(tw);
    *out = q;
    return MN_OK;
}

mn_status mn_q8_prep_sparse(mn_q8_prep *q, const mn_conv_params *p,
                            const uint8_t *w, uint8_t flip, mn_ctx *ctx)
{
    return mn_spconv_q8_create(p, w, flip, &q->sp, ctx);
}

mn_status mn_q8_prep_direct(mn_q8_prep *q, const mn_kernels_q8 *kr,
                            const mn_conv_params *p, const uint8_t *w,
                            uint8_t flip, mn_ctx *ctx)
{
    mn_status st = mn_q8_direct_create(kr, p, MN_Q8D_AUTO, &q->dc, ctx);
    if (st != MN_OK)
        return st;
    q->kr = kr;
    q->a_group = (mn_q8_direct_a_bytes(kr, q->dc, q->m) + 63) / 64 * 64;
    q->a = mn_malloc_aligned(q->a_group * (size_t)q->groups);
    if (!q->a)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (packed weights)");
    for (int64_t g = 0; g < q->groups; g++)
        mn_q8_direct_pack_a(kr, q->dc, q->m, w + g * q->m * q->k, flip,
                            q->a + (size_t)g * q->a_group);
    return MN_OK;
}

void mn_q8_prep_input(mn_q8_prep *q, const mn_tensor *x,
                      const mn_tensor *xzp, const int32_t *bias)
{
    int32_t zp = xzp ? (int32_t)mn_tensor_get_i64(xzp, 0) : 0;
    q->xpad = (uint8_t)zp;
    q->xflip = x->dtype == MN_DT_I8 ? 0x80 : 0;
    if (x->dtype == MN_DT_I8)
        zp += 128;
    for (int64_t r = 0; r < q->m * q->groups; r++) {
        int64_t corr = -(int64_t)zp * q->rowsum[r];
        /* wrapping, as the kernels' int32 sums (exact when it fits) */
        q->add[r] = (int32_t)(uint32_t)(uint64_t)((bias ? bias[r] : 0) + corr);
        q->add_i32[r] = (int32_t)(uint32_t)(uint64_t)corr;
    }
    q->epi.add = q->add;
    q->epi.add_i32 = q->add_i32;
}

void mn_q8_prep_requant(mn_q8_prep *q, const mn_tensor *xst,
                        const mn_tensor *wst, const mn_tensor *yst,
                        const mn_tensor *yz, mn_dtype out_dt)
{
    float xs = *(const float *)xst->data, ys = *(const float *)yst->data;
    const float *ws = wst->data;
    int64_t nws = mn_tensor_numel(wst);
    for (int64_t r = 0; r < q->m * q->groups; r++) {
        float prod = xs * ws[nws > 1 ? r : 0];
        q->mult[r] = prod / ys;
    }
    int sgn = out_dt == MN_DT_I8;
    q->epi.mult = q->mult;
    q->epi.yzp = yz ? (double)mn_tensor_get_i64(yz, 0) : 0.0;
    q->epi.lo = sgn ? -128.0 : 0.0;
    q->epi.hi = sgn ? 127.0 : 255.0;
    q->epi.out_signed = sgn;
    /* after mn_q8_prep_input (the addends) */
    q->epi.fast = mn_q8_epi_fast(&q->epi, q->m * q->groups, q->k);
}

mn_status mn_q8_prepared(mn_prepared *pp, mn_q8_prep *q)
{
    pp->priv = q;
    pp->release = mn_q8_prep_destroy; /* a no-op on NULL */
    pp->bytes = q && q->a ? q->a_group * (size_t)q->groups : 0;
    if (q && q->dwq)
        pp->bytes += q->dwq_bytes;
    if (q && q->rw)
        pp->bytes += q->rw_bytes;
    return MN_OK;
}
