/* Conv for training: a threaded forward and the backward rule.
 *
 * Ordinary and grouped convolutions run per sample as im2col + GEMM
 * (pointwise ones skip im2col); depthwise ones (group == C) run as direct
 * loops, one channel per task. The forward splits the batch over threads.
 * The backward splits it into a fixed number of chunks (independent of the
 * thread count): each chunk sums its own weight gradient and the chunks
 * are added in order, so results do not depend on how many threads ran.
 * Depthwise ones at stride 1 (pads within the kernel) copy each channel
 * plane into a zero-padded plane and run tkern's plane kernels: the
 * forward and dX (dY padded, the kernel flipped) as a correlation, dW as
 * per-tap sums; per channel, in a fixed order.
 *   dW_g += dY_ng · col_ngᵀ      dcol = W_gᵀ · dY_ng → col2im → dX_n
 * (W_gᵀ transposed once per backward into the scratch).
 *   dB   = Σ dY (double). */
#include <string.h>
#include "kernels/ref/ref_kernels_conv.h"
#include "ops/conv_shape.h"
#include "train/grad.h"
#include "train/sgemm.h"
#include "train/tkern.h"

#define CONV_CHUNKS 8

static size_t al64(size_t b) { return (b + 63) / 64 * 64; }

#define DW_MAX_K 256 /* larger depthwise kernels take the grouped path */

static int depthwise(const mn_conv_params *p)
{
    return p->group > 1 && p->group == p->c && p->m % p->c == 0 &&
           p->kh * p->kw <= DW_MAX_K;
}

/* Depthwise at stride 1, dilation 1, one output per input channel, every
 * pad (the trailing ones implied by oh, ow) in [0, k). */
static int dw_planes(const mn_conv_params *p)
{
    int64_t pb = p->oh + p->kh - 1 - p->h - p->pt;
    int64_t pr = p->ow + p->kw - 1 - p->w - p->pl;
    return depthwise(p) && p->m == p->c && p->sh == 1 && p->sw == 1 &&
           p->dh == 1 && p->dw == 1 && p->pt >= 0 && p->pt < p->kh &&
           p->pl >= 0 && p->pl < p->kw && pb >= 0 && pb < p->kh &&
           pr >= 0 && pr < p->kw;
}

/* Per-thread bytes of the plane path: a padded plane (x for the forward
 * and dW, dY for dX) and the flipped kernel. */
static size_t dw_plane_bytes(const mn_conv_params *p)
{
    int64_t a = (p->oh + p->kh) * (p->ow + p->kw);
    int64_t b = (p->h + p->kh) * (p->w + p->kw);
    return al64((size_t)(p->kh * p->kw) * sizeof(float)) +
           al64((size_t)(a > b ? a : b) * sizeof(float));
}

/* dst (ph × pw) = 0 with src (h × w) at row top, column left. */
static void pad_plane(const float *src, int64_t h, int64_t w, float *dst,
                      int64_t ph, int64_t pw, int64_t top, int64_t left)
{
    memset(dst, 0, (size_t)(ph * pw) * sizeof *dst);
    for (int64_t r = 0; r < h; r++)
        memcpy(dst + (r + top) * pw + left, src + r * w,
               (size_t)w * sizeof *dst);
}

static int setup(const mn_node *n, const mn_tensor *const *in,
                 mn_conv_params *p)
{
    int64_t dims[MN_MAX_DIMS];
    return mn_conv_setup(n, in[0], in[1], p, dims, NULL) == MN_OK;
}

/* Per-thread region: GEMM packing, col, dcol. */
/* Small output planes: the GEMMs of nb samples run as one, their columns
 * side by side ([k][nb·s]), so the kernels see rows of about BATCH_COLS
 * columns instead of 16 or 49 (4×4, 7×7 planes) and dW sums over wide
 * rows instead of s-term ones. The forward and dX keep every element's
 * sum over k (the same bits as per sample); dW sums a sub-batch's
 * columns in one GEMM. group == 1 only. 0: per sample. */
#define BATCH_COLS 512

static int64_t batch_samples(const mn_conv_params *p)
{
    int64_t s = p->oh * p->ow;
    if (p->group != 1 || s < 2 || 2 * s > BATCH_COLS || p->n < 2)
        return 0;
    int64_t nb = (BATCH_COLS + s - 1) / s;
    return nb < p->n ? nb : p->n;
}

static size_t thread_bytes(const mn_conv_params *p)
{
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, s = p->oh * p->ow;
    int64_t nb = batch_samples(p);
    if (nb) { /* col, Y or dY, dcol, GEMM */
        int64_t l = nb * s;
        size_t g1 = mn_train_sgemm_scratch(p->m, l, k);
        size_t g2 = mn_train_sgemm_scratch(p->m, k, l);
        size_t g3 = mn_train_sgemm_scratch(k, l, p->m);
        size_t g = g1 > g2 ? g1 : g2;
        g = g > g3 ? g : g3;
        return al64(g) + 2 * al64((size_t)(k * l) * sizeof(float)) +
               al64((size_t)(p->m * l) * sizeof(float));
    }
    size_t g1 = mn_train_sgemm_scratch(mg, s, k);
    size_t g2 = mn_train_sgemm_scratch(mg, k, s);
    size_t g3 = mn_train_sgemm_scratch(k, s, mg);
    size_t g = g1 > g2 ? g1 : g2;
    g = g > g3 ? g : g3;
    return al64(g) + 2 * al64((size_t)(k * s) * sizeof(float));
}

/* col[(c·kh + i)·kw + j][oh·ow] = x[c][ih][iw], 0 outside the input; col's
 * rows ld floats apart. */
static void im2col(const mn_conv_params *p, const float *x, int64_t cg,
                   float *col, int64_t ld)
{
    int64_t s = ld;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < p->kw; kj++) {
                float *d = col + ((c * p->kh + ki) * p->kw + kj) * s;
                int64_t offw = kj * p->dw - p->pl, lo, hi;
                mn_ref_valid_range(offw, p->sw, p->w, p->ow, &lo, &hi);
                for (int64_t oh = 0; oh < p->oh; oh++) {
                    int64_t ih = oh * p->sh + ki * p->dh - p->pt;
                    float *dr = d + oh * p->ow;
                    if (ih < 0 || ih >= p->h) {
                        memset(dr, 0, (size_t)p->ow * sizeof *dr);
                        continue;
                    }
                    const float *xr = x + (c * p->h + ih) * p->w;
                    for (int64_t ow = 0; ow < lo; ow++)
                        dr[ow] = 0.0f;
                    if (p->sw == 1)
                        memcpy(dr + lo, xr + lo + offw,
                               (size_t)(hi - lo) * sizeof *dr);
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            dr[ow] = xr[ow * p->sw + offw];
                    for (int64_t ow = hi; ow < p->ow; ow++)
                        dr[ow] = 0.0f;
                }
            }
}

/* dx[c][ih][iw] += dcol[...]: the adjoint of im2col; dx zeroed first. */
static void col2im(const mn_conv_params *p, const float *dcol, int64_t cg,
                   float *dx, int64_t ld)
{
    int64_t s = ld;
    memset(dx, 0, (size_t)(cg * p->h * p->w) * sizeof *dx);
    for (int64_t c = 0; c < cg; c++)
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < p->kw; kj++) {
                const float *d = dcol + ((c * p->kh + ki) * p->kw + kj) * s;
                int64_t offw = kj * p->dw - p->pl, lo, hi;
                mn_ref_valid_range(offw, p->sw, p->w, p->ow, &lo, &hi);
                for (int64_t oh = 0; oh < p->oh; oh++) {
                    int64_t ih = oh * p->sh + ki * p->dh - p->pt;
                    if (ih < 0 || ih >= p->h)
                        continue;
                    float *xr = dx + (c * p->h + ih) * p->w;
                    const float *dr = d + oh * p->ow;
                    if (p->sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++)
                            xr[ow + offw] += dr[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            xr[ow * p->sw + offw] += dr[ow];
                }
            }
}

/* ---- forward ---- */

typedef struct conv_job {
    mn_conv_params p;
    const float *x, *w, *b, *dy;
    const float *wt; /* backward: per group W_gᵀ (k × mg) */
    float *y, *dx, *dw, *db;
    float *dwpart;   /* CONV_CHUNKS × numel(w) */
    double *dbpart;  /* CONV_CHUNKS × m */
    char *scratch;
    size_t tbytes;
    int64_t nchunks;
    int64_t nb; /* batch_samples */
} conv_job;

static void fwd_sample(void *arg, int64_t n, int thread)
{
    const conv_job *j = arg;
    const mn_conv_params *p = &j->p;
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, s = p->oh * p->ow;
    char *t = j->scratch + (size_t)thread * j->tbytes;
    float *col = (float *)t;
    float *gs = (float *)(t + 2 * al64((size_t)(k * s) * sizeof(float)));
    for (int64_t g = 0; g < p->group; g++) {
        const float *xg = j->x + (n * p->c + g * cg) * p->h * p->w;
        float *yg = j->y + (n * p->m + g * mg) * s;
        const float *src = xg;
        if (!mn_ref_conv2d_is_pointwise(p)) {
            im2col(p, xg, cg, col, s);
            src = col;
        }
        mn_train_sgemm(0, 0, mg, s, k, 1.0f, j->w + g * mg * k, k, src, s,
                        0.0f, yg, s, gs);
        if (j->b)
            for (int64_t m = 0; m < mg; m++) {
                float bv = j->b[g * mg + m];
                float *yr = yg + m * s;
                for (int64_t i = 0; i < s; i++)
                    yr[i] += bv;
            }
    }
}

/* Samples [n0, n1) as the columns of col ([k][(n1 - n0)·s]). */
static void gather_cols(const mn_conv_params *p, const float *x, int64_t n0,
                        int64_t n1, float *col)
{
    int64_t s = p->oh * p->ow, l = (n1 - n0) * s, hw = p->h * p->w;
    for (int64_t n = n0; n < n1; n++) {
        const float *xn = x + n * p->c * hw;
        if (mn_ref_conv2d_is_pointwise(p))
            for (int64_t c = 0; c < p->c; c++)
                memcpy(col + c * l + (n - n0) * s, xn + c * hw,
                       (size_t)s * sizeof *col);
        else
            im2col(p, xn, p->c, col + (n - n0) * s, l);
    }
}

static void fwd_batch(void *arg, int64_t t, int thread)
{
    const conv_job *j = arg;
    const mn_conv_params *p = &j->p;
    int64_t k = p->c * p->kh * p->kw, s = p->oh * p->ow, nb = j->nb;
    int64_t n0 = t * nb, n1 = n0 + nb < p->n ? n0 + nb : p->n;
    int64_t l = (n1 - n0) * s;
    char *tb = j->scratch + (size_t)thread * j->tbytes;
    size_t colb = al64((size_t)(k * nb * s) * sizeof(float));
    float *col = (float *)tb, *yc = (float *)(tb + 2 * colb);
    float *gs = (float *)(tb + 2 * colb +
                          al64((size_t)(p->m * nb * s) * sizeof(float)));
    gather_cols(p, j->x, n0, n1, col);
    mn_train_sgemm(0, 0, p->m, l, k, 1.0f, j->w, k, col, l, 0.0f, yc, l, gs);
    for (int64_t n = n0; n < n1; n++)
        for (int64_t m = 0; m < p->m; m++) {
            float *yr = j->y + (n * p->m + m) * s;
            memcpy(yr, yc + m * l + (n - n0) * s, (size_t)s * sizeof *yr);
            if (j->b) {
                float bv = j->b[m];
                for (int64_t i = 0; i < s; i++)
                    yr[i] += bv;
            }
        }
}

/* Depthwise: one input channel c and its output channels per task. */
static void dw_fwd_channel(void *arg, int64_t c, int thread)
{
    const conv_job *j = arg;
    const mn_conv_params *p = &j->p;
    int64_t mult = p->m / p->c, s = p->oh * p->ow;
    const mn_tkern *kn = mn_tkern_get();
    (void)thread;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t q = 0; q < mult; q++) {
            int64_t m = c * mult + q;
            const float *xc = j->x + (n * p->c + c) * p->h * p->w;
            const float *wm = j->w + m * p->kh * p->kw;
            float *ym = j->y + (n * p->m + m) * s;
            float bv = j->b ? j->b[m] : 0.0f;
            for (int64_t i = 0; i < s; i++)
                ym[i] = bv;
            for (int64_t ki = 0; ki < p->kh; ki++)
                for (int64_t kj = 0; kj < p->kw; kj++) {
                    float wv = wm[ki * p->kw + kj];
                    int64_t offw = kj * p->dw - p->pl, lo, hi;
                    mn_ref_valid_range(offw, p->sw, p->w, p->ow, &lo, &hi);
                    for (int64_t oh = 0; oh < p->oh; oh++) {
                        int64_t ih = oh * p->sh + ki * p->dh - p->pt;
                        if (ih < 0 || ih >= p->h)
                            continue;
                        const float *xr = xc + ih * p->w;
                        float *yr = ym + oh * p->ow;
                        if (p->sw == 1 && hi > lo)
                            kn->axpy(wv, xr + lo + offw, yr + lo, hi - lo);
                        else if (p->sw == 1)
                            continue;
                        else
                            for (int64_t ow = lo; ow < hi; ow++)
                                yr[ow] += wv * xr[ow * p->sw + offw];
                    }
                }
        }
}

/* Depthwise plane path, forward of channel c over the batch. */
static void dw_fwd_plane(void *arg, int64_t c, int thread)
{
    const conv_job *j = arg;
    const mn_conv_params *p = &j->p;
    int64_t s = p->oh * p->ow, kk = p->kh * p->kw;
    int64_t ph = p->oh + p->kh - 1, pw = p->ow + p->kw - 1;
    float *xp = (float *)(j->scratch + (size_t)thread * j->tbytes +
                          al64((size_t)kk * sizeof(float)));
    const mn_tkern *kn = mn_tkern_get();
    for (int64_t n = 0; n < p->n; n++) {
        pad_plane(j->x + (n * p->c + c) * p->h * p->w, p->h, p->w, xp, ph,
                  pw, p->pt, p->pl);
        kn->dw_plane(xp, pw, j->w + c * kk, p->kh, p->kw,
                     j->b ? j->b[c] : 0.0f, j->y + (n * p->m + c) * s,
                     p->oh, p->ow);
    }
}

static size_t conv_fwd_scratch(const mn_node *n, const mn_tensor *const *in,
                               int n_in, const mn_tensor *const *out,
                               int n_out, int threads)
{
    mn_conv_params p;
    (void)n_in, (void)out, (void)n_out;
    if (!setup(n, in, &p))
        return 0;
    if (dw_planes(&p))
        return (size_t)threads * dw_plane_bytes(&p);
    if (depthwise(&p))
        return 0;
    return (size_t)threads * thread_bytes(&p);
}

static mn_status conv_fwd(const mn_node *n, const mn_tensor *const *in,
                          int n_in, mn_tensor *const *out, int n_out,
                          mn_exec *ex)
{
    conv_job j = {0};
    mn_texec *te = mn_texec_of(ex);
    int64_t dims[MN_MAX_DIMS];
    mn_status st = mn_conv_setup(n, in[0], in[1], &j.p, dims, ex->ctx);
    (void)n_out;
    if (st != MN_OK)
        return st;
    j.x = mn_f32(in[0]);
    j.w = mn_f32(in[1]);
    j.b = n_in > 2 && in[2] ? mn_f32(in[2]) : NULL;
    j.y = mn_f32(out[0]);
    if (dw_planes(&j.p)) {
        j.scratch = ex->scratch;
        j.tbytes = dw_plane_bytes(&j.p);
        if (ex->scratch_bytes < (size_t)mn_tpool_threads(te->pool) * j.tbytes)
            return mn_error(ex->ctx, MN_ERR_RUNTIME, "Conv scratch too small");
        mn_tpool_run(te->pool, dw_fwd_plane, &j, j.p.c);
        return MN_OK;
    }
    if (depthwise(&j.p)) {
        mn_tpool_run(te->pool, dw_fwd_channel, &j, j.p.c);
        return MN_OK;
    }
    j.scratch = ex->scratch;
    j.tbytes = thread_bytes(&j.p);
    if (ex->scratch_bytes <
        (size_t)mn_tpool_threads(te->pool) * j.tbytes)
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "Conv scratch too small");
    if ((j.nb = batch_samples(&j.p)) > 0) {
        mn_tpool_run(te->pool, fwd_batch, &j, (j.p.n + j.nb - 1) / j.nb);
        return MN_OK;
    }
    mn_tpool_run(te->pool, fwd_sample, &j, j.p.n);
    return MN_OK;
}

/* ---- backward ---- */

static void bwd_chunk(void *arg, int64_t ch, int thread)
{
    const conv_job *j = arg;
    const mn_conv_params *p = &j->p;
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, s = p->oh * p->ow;
    int64_t per = (p->n + j->nchunks - 1) / j->nchunks;
    int64_t n0 = ch * per, n1 = n0 + per < p->n ? n0 + per : p->n;
    char *t = j->scratch + (size_t)thread * j->tbytes;
    size_t colb = al64((size_t)(k * s) * sizeof(float));
    float *col = (float *)t, *dcol = (float *)(t + colb);
    float *gs = (float *)(t + 2 * colb);
    float *dwp = j->dwpart ? j->dwpart + ch * p->m * k : NULL;
    double *dbp = j->dbpart ? j->dbpart + ch * p->m : NULL;
    if (dbp)
        memset(dbp, 0, (size_t)p->m * sizeof *dbp);
    for (int64_t n = n0; n < n1; n++)
        for (int64_t g = 0; g < p->group; g++) {
            const float *xg = j->x + (n * p->c + g * cg) * p->h * p->w;
            const float *dyg = j->dy + (n * p->m + g * mg) * s;
            if (dwp) {
                const float *src = xg;
                if (!mn_ref_conv2d_is_pointwise(p)) {
                    im2col(p, xg, cg, col, s);
                    src = col;
                }
                mn_train_sgemm(0, 1, mg, k, s, 1.0f, dyg, s, src, s,
                                n == n0 ? 0.0f : 1.0f, dwp + g * mg * k, k,
                                gs);
            }
            if (dbp)
                for (int64_t m = 0; m < mg; m++) {
                    double acc = 0;
                    const float *r = dyg + m * s;
                    for (int64_t i = 0; i < s; i++)
                        acc += r[i];
                    dbp[g * mg + m] += acc;
                }
            if (j->dx) {
                float *dxg = j->dx + (n * p->c + g * cg) * p->h * p->w;
                const float *wtg = j->wt + g * mg * k;
                if (mn_ref_conv2d_is_pointwise(p)) {
                    mn_train_sgemm(0, 0, k, s, mg, 1.0f, wtg, mg, dyg, s,
                                   0.0f, dxg, s, gs);
                } else {
                    mn_train_sgemm(0, 0, k, s, mg, 1.0f, wtg, mg, dyg, s,
                                   0.0f, dcol, s, gs);
                    col2im(p, dcol, cg, dxg, s);
                }
            }
        }
}

/* bwd_chunk for batch_samples(p) > 0: sub-batches of nb samples. */
static void bwd_chunk_batch(void *arg, int64_t ch, int thread)
{
    const conv_job *j = arg;
    const mn_conv_params *p = &j->p;
    int64_t k = p->c * p->kh * p->kw, s = p->oh * p->ow, nb = j->nb;
    int64_t hw = p->h * p->w;
    int64_t per = (p->n + j->nchunks - 1) / j->nchunks;
    int64_t n0 = ch * per, n1 = n0 + per < p->n ? n0 + per : p->n;
    char *tb = j->scratch + (size_t)thread * j->tbytes;
    size_t colb = al64((size_t)(k * nb * s) * sizeof(float));
    float *col = (float *)tb, *dcol = (float *)(tb + colb);
    float *dyc = (float *)(tb + 2 * colb);
    float *gs = (float *)(tb + 2 * colb +
                          al64((size_t)(p->m * nb * s) * sizeof(float)));
    float *dwp = j->dwpart ? j->dwpart + ch * p->m * k : NULL;
    double *dbp = j->dbpart ? j->dbpart + ch * p->m : NULL;
    if (dbp)
        memset(dbp, 0, (size_t)p->m * sizeof *dbp);
    for (int64_t b0 = n0; b0 < n1; b0 += nb) {
        int64_t b1 = b0 + nb < n1 ? b0 + nb : n1, l = (b1 - b0) * s;
        for (int64_t n = b0; n < b1; n++)
            for (int64_t m = 0; m < p->m; m++) {
                const float *r = j->dy + (n * p->m + m) * s;
                memcpy(dyc + m * l + (n - b0) * s, r, (size_t)s * sizeof *r);
                if (dbp) {
                    double acc = 0;
                    for (int64_t i = 0; i < s; i++)
                        acc += r[i];
                    dbp[m] += acc;
                }
            }
        if (dwp) {
            gather_cols(p, j->x, b0, b1, col);
            mn_train_sgemm(0, 1, p->m, k, l, 1.0f, dyc, l, col, l,
                           b0 == n0 ? 0.0f : 1.0f, dwp, k, gs);
        }
        if (!j->dx)
            continue;
        mn_train_sgemm(0, 0, k, l, p->m, 1.0f, j->wt, p->m, dyc, l, 0.0f,
                       dcol, l, gs);
        for (int64_t n = b0; n < b1; n++) {
            float *dxn = j->dx + n * p->c * hw;
            if (mn_ref_conv2d_is_pointwise(p))
                for (int64_t c = 0; c < p->c; c++)
                    memcpy(dxn + c * hw, dcol + c * l + (n - b0) * s,
                           (size_t)s * sizeof *dxn);
            else
                col2im(p, dcol + (n - b0) * s, p->c, dxn, l);
        }
    }
}

/* Depthwise backward for input channel c: its weights' gradient summed
 * over the whole batch in double, and dX of that channel. */
static void dw_bwd_channel(void *arg, int64_t c, int thread)
{
    const conv_job *j = arg;
    const mn_conv_params *p = &j->p;
    int64_t mult = p->m / p->c, s = p->oh * p->ow, kk = p->kh * p->kw;
    const mn_tkern *kn = mn_tkern_get();
    double accw[DW_MAX_K];
    (void)thread;
    for (int64_t q = 0; q < mult; q++) {
        int64_t m = c * mult + q;
        double accb = 0;
        for (int64_t i = 0; i < kk; i++)
            accw[i] = 0;
        for (int64_t n = 0; n < p->n; n++) {
            const float *xc = j->x + (n * p->c + c) * p->h * p->w;
            const float *dym = j->dy + (n * p->m + m) * s;
            float *dxc = j->dx ? j->dx + (n * p->c + c) * p->h * p->w : NULL;
            if (dxc && q == 0)
                memset(dxc, 0, (size_t)(p->h * p->w) * sizeof *dxc);
            if (j->db)
                for (int64_t i = 0; i < s; i++)
                    accb += dym[i];
            for (int64_t ki = 0; ki < p->kh; ki++)
                for (int64_t kj = 0; kj < p->kw; kj++) {
                    float wv = j->w[m * kk + ki * p->kw + kj];
                    int64_t offw = kj * p->dw - p->pl, lo, hi;
                    float sw = 0.0f;
                    mn_ref_valid_range(offw, p->sw, p->w, p->ow, &lo, &hi);
                    for (int64_t oh = 0; oh < p->oh; oh++) {
                        int64_t ih = oh * p->sh + ki * p->dh - p->pt;
                        if (ih < 0 || ih >= p->h)
                            continue;
                        const float *xr = xc + ih * p->w;
                        const float *gr = dym + oh * p->ow;
                        if (p->sw == 1) {
                            if (hi <= lo)
                                continue;
                            sw += kn->dot(gr + lo, xr + lo + offw, hi - lo);
                            if (dxc)
                                kn->axpy(wv, gr + lo,
                                         dxc + ih * p->w + offw + lo,
                                         hi - lo);
                        } else {
                            for (int64_t ow = lo; ow < hi; ow++)
                                sw += gr[ow] * xr[ow * p->sw + offw];
                            if (dxc) {
                                float *dr = dxc + ih * p->w + offw;
                                for (int64_t ow = lo; ow < hi; ow++)
                                    dr[ow * p->sw] += wv * gr[ow];
                            }
                        }
                    }
                    accw[ki * p->kw + kj] += sw;
                }
        }
        if (j->dw)
            for (int64_t i = 0; i < kk; i++)
                j->dw[m * kk + i] = (float)accw[i];
        if (j->db)
            j->dbpart[m] = accb;
    }
}

/* Depthwise plane path, backward of channel c: dW summed over the batch
 * (per-sample float sums added in double), dB likewise, dX per sample. */
static void dw_bwd_plane(void *arg, int64_t c, int thread)
{
    const conv_job *j = arg;
    const mn_conv_params *p = &j->p;
    int64_t s = p->oh * p->ow, kk = p->kh * p->kw, hw = p->h * p->w;
    char *t = j->scratch + (size_t)thread * j->tbytes;
    float *wf = (float *)t, *plane = (float *)(t + al64((size_t)kk * 4));
    const float *wc = j->w + c * kk;
    const mn_tkern *kn = mn_tkern_get();
    double accw[DW_MAX_K] = {0}, accb = 0;
    float tap[DW_MAX_K];
    for (int64_t i = 0; i < kk; i++)
        wf[i] = wc[kk - 1 - i];
    for (int64_t n = 0; n < p->n; n++) {
        const float *xc = j->x + (n * p->c + c) * hw;
        const float *dyc = j->dy + (n * p->m + c) * s;
        if (j->db)
            for (int64_t i = 0; i < s; i++)
                accb += dyc[i];
        if (j->dw) {
            int64_t ph = p->oh + p->kh - 1, pw = p->ow + p->kw - 1;
            pad_plane(xc, p->h, p->w, plane, ph, pw, p->pt, p->pl);
            kn->dw_plane_wgrad(plane, pw, dyc, p->oh, p->ow, p->kh, p->kw,
                               tap);
            for (int64_t i = 0; i < kk; i++)
                accw[i] += tap[i];
        }
        if (j->dx) {
            int64_t ph = p->h + p->kh - 1, pw = p->w + p->kw - 1;
            pad_plane(dyc, p->oh, p->ow, plane, ph, pw, p->kh - 1 - p->pt,
                      p->kw - 1 - p->pl);
            kn->dw_plane(plane, pw, wf, p->kh, p->kw, 0.0f,
                         j->dx + (n * p->c + c) * hw, p->h, p->w);
        }
    }
    if (j->dw)
        for (int64_t i = 0; i < kk; i++)
            j->dw[c * kk + i] = (float)accw[i];
    if (j->db)
        j->dbpart[c] = accb;
}

static size_t conv_bwd_scratch(const mn_node *n, const mn_tensor *const *in,
                               int n_in, const mn_tensor *const *out,
                               int n_out, int threads)
{
    mn_conv_params p;
    (void)n_in, (void)out, (void)n_out;
    if (!setup(n, in, &p))
        return 0;
    if (dw_planes(&p))
        return al64((size_t)p.m * sizeof(double)) +
               (size_t)threads * dw_plane_bytes(&p);
    if (depthwise(&p))
        return al64((size_t)p.m * sizeof(double));
    int64_t k = p.c / p.group * p.kh * p.kw;
    return (size_t)threads * thread_bytes(&p) +
           al64((size_t)(CONV_CHUNKS * p.m * k) * sizeof(float)) +
           al64((size_t)(CONV_CHUNKS * p.m) * sizeof(double)) +
           al64((size_t)(p.m * k) * sizeof(float));
}

static mn_status conv_bwd(const mn_node *n, const mn_tensor *const *in,
                          int n_in, const mn_tensor *const *out,
                          const mn_tensor *const *dout, int n_out,
                          mn_tensor *const *din, mn_exec *ex)
{
    conv_job j = {0};
    mn_texec *te = mn_texec_of(ex);
    int64_t dims[MN_MAX_DIMS];
    mn_status st = mn_conv_setup(n, in[0], in[1], &j.p, dims, ex->ctx);
    mn_tensor *dbt = n_in > 2 && in[2] ? din[2] : NULL;
    (void)out, (void)n_out;
    if (st != MN_OK)
        return st;
    const mn_conv_params *p = &j.p;
    int64_t k = p->c / p->group * p->kh * p->kw;
    size_t need = conv_bwd_scratch(n, in, n_in, out, n_out,
                                   mn_tpool_threads(te->pool));
    if (ex->scratch_bytes < need)
        return mn_error(ex->ctx, MN_ERR_RUNTIME, "Conv backward scratch");
    j.x = mn_f32(in[0]);
    j.w = mn_f32(in[1]);
    j.dy = dout[0] ? mn_f32(dout[0]) : NULL;
    j.dx = din[0] ? mn_f32(din[0]) : NULL;
    j.dw = din[1] ? mn_f32(din[1]) : NULL;
    j.db = dbt ? mn_f32(dbt) : NULL;
    if (!j.dy) {
        for (int i = 0; i < n_in; i++)
            if (din[i])
                memset(din[i]->data, 0, mn_tensor_nbytes(din[i]));
        return MN_OK;
    }
    if (depthwise(p)) {
        j.dbpart = ex->scratch;
        j.scratch = (char *)ex->scratch + al64((size_t)p->m * sizeof(double));
        j.tbytes = dw_plane_bytes(p);
        mn_tpool_run(te->pool, dw_planes(p) ? dw_bwd_plane : dw_bwd_channel,
                     &j, p->c);
        if (j.db)
            for (int64_t m = 0; m < p->m; m++)
                j.db[m] = (float)j.dbpart[m];
        return MN_OK;
    }
    j.tbytes = thread_bytes(p);
    j.scratch = ex->scratch;
    j.nchunks = p->n < CONV_CHUNKS ? p->n : CONV_CHUNKS;
    /* every chunk non-empty: per·(nchunks-1) < n */
    int64_t per = (p->n + j.nchunks - 1) / j.nchunks;
    j.nchunks = (p->n + per - 1) / per;
    char *base = j.scratch + (size_t)mn_tpool_threads(te->pool) * j.tbytes;
    if (j.dw)
        j.dwpart = (float *)base;
    base += al64((size_t)(CONV_CHUNKS * p->m * k) * sizeof(float));
    if (j.db)
        j.dbpart = (double *)base;
    base += al64((size_t)(CONV_CHUNKS * p->m) * sizeof(double));
    if (j.dx) { /* dX = W_gᵀ·dY: transpose W once, not per sample */
        int64_t mg = p->m / p->group;
        float *wt = (float *)base;
        for (int64_t g = 0; g < p->group; g++)
            mn_ttranspose(te->pool, mg, k, j.w + g * mg * k, k,
                          wt + g * mg * k, mg);
        j.wt = wt;
    }
    j.nb = batch_samples(p);
    mn_tpool_run(te->pool, j.nb ? bwd_chunk_batch : bwd_chunk, &j,
                 j.nchunks);
    if (j.dw) {
        int64_t nw = p->m * k;
        memcpy(j.dw, j.dwpart, (size_t)nw * sizeof *j.dw);
        for (int64_t c = 1; c < j.nchunks; c++) {
            const float *src = j.dwpart + c * nw;
            for (int64_t i = 0; i < nw; i++)
                j.dw[i] += src[i];
        }
    }
    if (j.db)
        for (int64_t m = 0; m < p->m; m++) {
            double acc = 0;
            for (int64_t c = 0; c < j.nchunks; c++)
                acc += j.dbpart[c * p->m + m];
            j.db[m] = (float)acc;
        }
    return MN_OK;
}

const mn_grad_def mn_grad_conv = {
    .forward = conv_fwd,
    .forward_scratch = conv_fwd_scratch,
    .backward = conv_bwd,
    .backward_scratch = conv_bwd_scratch,
    .diff_inputs = 7u,
    .bwd_ignores_out = 1,
};
