/* Fast float32 2-D convolution driver (NCHW): dispatches to the depthwise
 * plane kernel (one task per output plane) or to the GEMM driver with an
 * implicit-im2col B operand — the packer gathers the GEMM's B panels
 * straight from the input, so no im2col matrix is ever materialized and
 * the scratch is one packed block per thread. 1×1 stride-1 unpadded
 * convolutions read the input as a plain matrix. With no fast kernels for
 * the active ISA level (MINNOW_ISA=ref, or a CPU without AVX2), the
 * reference kernel runs and the activation is applied after it.
 *
 * The weight may be a weight source (wsrc.h: float16 or int4 kept
 * compressed): the GEMM and direct paths decode one MR×kc A micro-panel
 * at a time, the depthwise kernel one channel's taps; the reference path
 * (and a depthwise kernel of more than DW_TAPS_MAX taps) decodes the whole
 * weight into the scratch first. */
#include <string.h>
#include "kernels/kernels_f32.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* One im2col row (kernel tap (c, ki, kj)) for output columns [j0, j0+nc)
 * into row[0..nc): runs of an output row are contiguous input (stride 1)
 * or strided, padding is 0. */
static void im2col_row(const mn_conv_params *p, const float *xc, int64_t ki,
                       int64_t kj, int64_t j0, int64_t nc, float *row)
{
    int64_t ioff = kj * p->dw - p->pl, lo, hi;
    mn_ref_valid_range(ioff, p->sw, p->w, p->ow, &lo, &hi);
    int64_t oh = j0 / p->ow, ow = j0 % p->ow;
    for (int64_t j = 0; j < nc; oh++, ow = 0) {
        int64_t run = min64(p->ow - ow, nc - j), end = ow + run;
        int64_t ih = oh * p->sh - p->pt + ki * p->dh;
        float *d = row + j - ow; /* d[o] for output column o */
        j += run;
        if (ih < 0 || ih >= p->h || hi <= lo) {
            for (int64_t o = ow; o < end; o++)
                d[o] = 0.0f;
            continue;
        }
        const float *xr = xc + ih * p->w + ioff;
        int64_t a = max64(ow, lo), b = min64(end, hi);
        for (int64_t o = ow; o < a && o < end; o++)
            d[o] = 0.0f;
        if (p->sw == 1) {
            if (b > a)
                memcpy(d + a, xr + a, (size_t)(b - a) * sizeof *d);
        } else {
            for (int64_t o = a; o < b; o++)
                d[o] = xr[o * p->sw];
        }
        for (int64_t o = b > a ? b : a; o < end; o++)
            d[o] = 0.0f;
    }
}

#define ROW_MAX 1024 /* ≥ the driver's column block (NC) */

static void pack_im2col(const mn_bsrc *bs, int64_t p0, int64_t kc, int64_t j0,
                        int64_t nc, int nr, int vec, float *dst)
{
    const mn_conv_bsrc *s = (const mn_conv_bsrc *)bs;
    const mn_conv_params *p = s->p;
    int64_t khw = p->kh * p->kw;
    int64_t npan = (nc + nr - 1) / nr, rest = nc - (npan - 1) * nr;
    int64_t wlast = (rest + vec - 1) / vec * vec;
    float row[ROW_MAX + 64];
    for (int64_t pp = 0; pp < kc; pp++) {
        int64_t q = p0 + pp, c = q / khw, r = q % khw;
        im2col_row(p, s->x + c * p->h * p->w, r / p->kw, r % p->kw, j0, nc,
                   row);
        for (int64_t jj = nc; jj < (npan - 1) * nr + wlast; jj++)
            row[jj] = 0.0f;
        /* full panels: nr floats at panel stride nr·kc */
        float *d = dst + pp * nr;
        int64_t pan = 0;
        if (nr == 48)
            for (; pan < npan - 1; pan++, d += 48 * kc)
                memcpy(d, row + pan * 48, 48 * sizeof *d);
        for (; pan < npan - 1; pan++, d += nr * kc)
            memcpy(d, row + pan * nr, (size_t)nr * sizeof *d);
        memcpy(dst + (npan - 1) * nr * kc + pp * wlast, row + (npan - 1) * nr,
               (size_t)wlast * sizeof *d);
    }
}

/* mn_bsrc_pack_matrix's panels (untransposed) of the pointwise input,
 * row p (input channel p) multiplied by scale[p] on the way. */
static void pack_scaled(const mn_bsrc *bs, int64_t p0, int64_t kc,
                        int64_t j0, int64_t nc, int nr, int vec, float *dst)
{
    const mn_conv_bsrc *s = (const mn_conv_bsrc *)bs;
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int64_t w = min64(nr, nc - jr), wp = (w + vec - 1) / vec * vec;
        float *d = dst + jr * kc;
        for (int64_t p = 0; p < kc; p++) {
            const float *src = bs->b + (p0 + p) * bs->ldb + j0 + jr;
            const float sc = s->scale[p0 + p];
            float *dp = d + p * wp;
            if (s->scale_fn)
                s->scale_fn(src, sc, dp, w);
            else
                for (int64_t j = 0; j < w; j++)
                    dp[j] = src[j] * sc;
            for (int64_t j = w; j < wp; j++)
                dp[j] = 0.0f;
        }
    }
}

void mn_conv_bsrc_init(mn_conv_bsrc *s, const mn_conv_params *p,
                       const float *xg)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->x = xg;
    if (mn_ref_conv2d_is_pointwise(p)) {
        s->base.pack = mn_bsrc_pack_matrix;
        s->base.b = xg;
        s->base.ldb = p->h * p->w;
    } else {
        s->base.pack = pack_im2col;
    }
}

/* ---- depthwise ---- */

#define DW_TAPS_MAX 256 /* one channel's taps decoded on the stack */

typedef struct dw_job {
    mn_dwconv_plane_fn fn;
    const mn_conv_params *p;
    const float *x, *w, *b;
    const mn_wsrc *ws; /* the weight as a source (w NULL) */
    const mn_act *act;
    float *y;
    int64_t per_task; /* output planes per task */
} dw_job;

/* Output planes [t·per_task, ...) of the n·m planes: a task per plane
 * would make the pool's per-task claim the cost on 7×7 planes. */
static void dw_task(void *arg, int64_t t, int thread)
{
    const dw_job *J = arg;
    const mn_conv_params *p = J->p;
    int64_t mult = p->m / p->c, lo = t * J->per_task;
    int64_t hi = min64(p->n * p->m, lo + J->per_task);
    int64_t khw = p->kh * p->kw;
    float taps[DW_TAPS_MAX];
    (void)thread;
    for (int64_t q = lo; q < hi; q++) {
        int64_t n = q / p->m, m = q % p->m;
        const float *w = J->w + m * khw;
        if (J->ws) {
            mn_wsrc_decode(J->ws, m * khw, khw, taps);
            w = taps;
        }
        J->fn(p, J->x + (n * p->c + m / mult) * p->h * p->w, w,
              J->b ? J->b[m] : 0.0f, J->act,
              J->y + (n * p->m + m) * p->oh * p->ow);
    }
}

/* Channel-vector depthwise tiles (small planes): task t is image
 * t / blocks, channels from 16·(t % blocks). */
typedef struct dwcv_job {
    mn_dwconv_cv_fn fn;
    const mn_conv_params *p;
    const float *x, *w, *b;
    const mn_wsrc *ws;
    const mn_act *act;
    float *y;
    mn_pool *pool;
    void *scratch0;
} dwcv_job;

static void dwcv_task(void *arg, int64_t t, int thread)
{
    const dwcv_job *J = arg;
    const mn_conv_params *p = J->p;
    int64_t blocks = (p->m + 15) / 16, img = t / blocks;
    int64_t m0 = 16 * (t % blocks), khw = p->kh * p->kw;
    int nc = (int)min64(16, p->m - m0);
    float taps[16 * 49]; /* kernels up to 7×7 */
    const float *w = J->ws ? taps : J->w + m0 * khw;
    if (J->ws)
        mn_wsrc_decode(J->ws, m0 * khw, nc * khw, taps);
    J->fn(p, J->x + img * p->c * p->h * p->w, w, J->b, J->act, m0, nc,
          J->y + img * p->m * p->oh * p->ow,
          J->pool ? mn_pool_scratch(J->pool, thread) : J->scratch0);
}

/* ---- entry points ---- */

static const mn_act act_none = {MN_ACT_NONE, 0.0f, 0.0f};

/* The path p takes on kr (NULL: reference); ws: a weight source. */
typedef enum conv_path {
    PATH_DW,     /* the depthwise plane kernel */
    PATH_REF,    /* the reference convolution (or depthwise) */
    PATH_DIRECT, /* conv_direct_f32.c */
    PATH_GEMM    /* the GEMM driver, implicit im2col */
} conv_path;

static conv_path path_of(const mn_kernels_f32 *kr, const mn_conv_params *p,
                         const mn_wsrc *ws)
{
    if (mn_ref_conv2d_is_depthwise(p))
        return mn_dwconv_f32_active(p) &&
                       (!ws || p->kh * p->kw <= DW_TAPS_MAX)
                   ? PATH_DW
                   : PATH_REF;
    if (!kr)
        return PATH_REF;
    return mn_conv_direct_f32_ok(kr, p) ? PATH_DIRECT : PATH_GEMM;
}

static size_t weight_floats(const mn_wsrc *ws)
{
    return (size_t)(ws->rows * ws->cols + 15) / 16 * 16;
}

static size_t scratch_of(const mn_conv_params *p, const mn_wsrc *ws)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    int64_t k = p->c / p->group * p->kh * p->kw;
    switch (path_of(kr, p, ws)) {
    case PATH_DW:
        return mn_dwconv_cv_f32_active(p) ? mn_dwconv_cv_f32_scratch(p) : 0;
    case PATH_REF: /* a weight source decodes whole in front */
        return mn_ref_conv2d_f32_scratch(p) +
               (ws ? weight_floats(ws) * sizeof(float) : 0);
    case PATH_DIRECT:
        return mn_conv_direct_f32_scratch(p) +
               (ws ? mn_conv_direct_f32_wsrc_extra(kr) : 0);
    default:
        return mn_sgemm_thread_scratch(kr, p->oh * p->ow, k) +
               (ws ? mn_sgemm_wsrc_extra(kr, p->m / p->group, p->oh * p->ow,
                                         k, 1, 0)
                   : 0);
    }
}

size_t mn_conv2d_f32_scratch(const mn_conv_params *p)
{
    return scratch_of(p, NULL);
}

size_t mn_conv2d_f32_wsrc_scratch(const mn_conv_params *p, const mn_wsrc *ws)
{
    return scratch_of(p, ws);
}

int mn_conv2d_f32_scales_input(const mn_conv_params *p)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    return kr && path_of(kr, p, NULL) == PATH_GEMM && p->group == 1 &&
           mn_ref_conv2d_is_pointwise(p) && p->m > 1 && p->oh * p->ow > 1;
}

/* xs: a fused input scale (mn_conv2d_f32_scaled), or NULL. */
static void conv2d(mn_pool *pool, const mn_conv_params *p, const float *x,
                   const float *xs, const float *w, const mn_wsrc *ws,
                   const float *b, const mn_act *act, const float *residual,
                   float *y, void *scratch)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    int64_t ny = p->n * p->m * p->oh * p->ow;
    if (!act)
        act = &act_none;
    switch (path_of(kr, p, ws)) {
    case PATH_DW: {
        /* small ones on one thread, as MIN_PAR_MACS in sgemm.c */
        double macs = (double)(p->n * p->m * p->oh * p->ow) *
                      (double)(p->kh * p->kw);
        mn_dwconv_cv_fn cv = mn_dwconv_cv_f32_active(p);
        if (cv) {
            dwcv_job C = {.fn = cv, .p = p, .x = x, .w = w, .ws = ws,
                          .b = b, .act = residual ? &act_none : act,
                          .y = y, .pool = pool, .scratch0 = scratch};
            if (macs < 262144.0 || mn_pool_scratch_bytes(pool) <
                                       mn_dwconv_cv_f32_scratch(p))
                C.pool = NULL;
            mn_pool_run(C.pool, dwcv_task, &C, p->n * ((p->m + 15) / 16));
            if (residual)
                mn_act_apply(act, residual, y, ny);
            return;
        }
        /* a residual after a depthwise conv is rare: added afterwards */
        dw_job J = {.fn = mn_dwconv_f32_active(p), .p = p, .x = x, .w = w,
                    .ws = ws, .b = b, .act = residual ? &act_none : act,
                    .y = y};
        int64_t planes = p->n * p->m, parts = 1;
        if (macs < 262144.0)
            pool = NULL;
        else /* up to 4 tasks per thread, for the pool to balance */
            parts = 4 * (int64_t)mn_pool_threads(pool);
        J.per_task = (planes + parts - 1) / parts;
        mn_pool_run(pool, dw_task, &J, (planes + J.per_task - 1) / J.per_task);
        if (residual)
            mn_act_apply(act, residual, y, ny);
        return;
    }
    case PATH_REF:
        if (ws) {
            float *wd = scratch;
            mn_wsrc_decode(ws, 0, ws->rows * ws->cols, wd);
            w = wd;
            scratch = wd + weight_floats(ws);
        }
        mn_ref_conv2d_f32(p, x, w, b, y, scratch);
        mn_act_apply(act, residual, y, ny);
        return;
    case PATH_DIRECT:
        mn_conv_direct_f32(kr, pool, p, x, w, ws, b, act, residual, y,
                           scratch);
        return;
    default:
        break;
    }
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, n = p->oh * p->ow, hw = p->h * p->w;
    for (int64_t in = 0; in < p->n; in++)
        for (int64_t g = 0; g < p->group; g++) {
            const float *xg = x + (in * p->c + g * cg) * hw;
            int64_t yo = (in * p->m + g * mg) * n;
            mn_epilogue epi = {.bias = b ? b + g * mg : NULL,
                               .residual = residual ? residual + yo : NULL,
                               .act = *act};
            mn_conv_bsrc src;
            mn_conv_bsrc_init(&src, p, xg);
            if (xs) { /* pointwise, one group (scales_input) */
                src.scale = xs + in * p->c;
                src.scale_fn = kr->scale;
                src.base.pack = pack_scaled;
            }
            mn_sgemm_run(kr, pool, mg, n, k, 1.0f, w ? w + g * mg * k : NULL,
                         k, ws, g * mg, &src.base, 0.0f, y + yo, n, &epi,
                         scratch);
        }
}

void mn_conv2d_f32(mn_pool *pool, const mn_conv_params *p, const float *x,
                   const float *w, const float *b, const mn_act *act,
                   const float *residual, float *y, void *scratch)
{
    conv2d(pool, p, x, NULL, w, NULL, b, act, residual, y, scratch);
}

void mn_conv2d_f32_scaled(mn_pool *pool, const mn_conv_params *p,
                          const float *x, const float *xs, const float *w,
                          const float *b, const mn_act *act,
                          const float *residual, float *y, void *scratch)
{
    conv2d(pool, p, x, xs, w, NULL, b, act, residual, y, scratch);
}

void mn_conv2d_f32_wsrc(mn_pool *pool, const mn_conv_params *p,
                        const float *x, const mn_wsrc *ws, const float *b,
                        const mn_act *act, const float *residual, float *y,
                        void *scratch)
{
    conv2d(pool, p, x, NULL, NULL, ws, b, act, residual, y, scratch);
}
