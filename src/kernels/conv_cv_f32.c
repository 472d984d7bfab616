/* Channel-vector float32 convolution (one group, not depthwise, no
 * dilation, stride 1 or 2): the weights packed once into panels of 48
 * output channels (tap-major: per tap the panel's channels, a narrower
 * last panel rounded up to 16), the input as the direct convolution's
 * padded phase planes (a 1×1 stride-1 unpadded input is its own plane),
 * and tiles of 48 channels × 8 output pixels (mn_conv_cv_fn) that write y
 * directly: no wide grid, no lanes on padding columns.
 *
 * Tasks split the channel panels first (each thread then streams only its
 * share of the weights), then the pixel tiles. A task runs, per panel and
 * chunk of CHUNK tiles, the k blocks outermost (a block of the panel's
 * weights stays in cache for the chunk's tiles); between blocks a tile's
 * partial sums wait in the thread's buffer.
 * The k blocks are the ones the layer's other path uses — the direct
 * convolution's KC-tap blocks, or the GEMM's equal blocks of at most KC —
 * and each is summed from 0 then added to the total, as those tiles do,
 * then the bias, the residual and the activation: the same bits as
 * mn_conv2d_f32 (and as its weight-source twin), at any thread count. */
#include <string.h>
#include "kernels/kernels_f32.h"

#define CV_M 48
#define CV_PX 8
#define KC 256     /* sgemm.c's and conv_direct_f32.c's k block */
#define CHUNK 16   /* tiles whose partial sums (24 KiB) stay in cache */
#define MIN_PAR_MACS 262144.0

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static mn_conv_cv_fn cv_fn(const mn_kernels_f32 *kr)
{
    return kr && kr == mn_kernels_f32_avx512() ? mn_conv_cv_avx512() : NULL;
}

int mn_conv_cv_f32_can(const mn_conv_params *p)
{
    return cv_fn(mn_kernels_f32_active()) && p->group == 1 &&
           !mn_ref_conv2d_is_depthwise(p) && p->dh == 1 && p->dw == 1 &&
           p->sh == p->sw && (p->sh == 1 || p->sh == 2) && p->m > 1 &&
           p->oh * p->ow > 1; /* one row or column: the GEMV path's sums */
}

size_t mn_conv_cv_f32_packed_floats(const mn_conv_params *p)
{
    return (size_t)(ceil_div(p->m, CV_M) * CV_M * p->c * p->kh * p->kw);
}

/* Panel q's first channel and width (its channels rounded up to whole
 * vectors). Panels are 48 channels but when 16 would be left for the
 * last: then the last two take 32 each, since a one-vector tile is bound
 * by its 8 broadcasts (8 FMAs per 9 loads) where a two-vector one is not.
 * There are ceil(m / 48) panels either way, panel q stored at q·48·k. */
static int64_t panel_ch0(int64_t m, int64_t q)
{
    int64_t np = ceil_div(m, CV_M);
    return m > CV_M && m % CV_M == 16 && q == np - 1 ? q * CV_M - 16
                                                     : q * CV_M;
}

static int64_t panel_width(int64_t m, int64_t q)
{
    int64_t np = ceil_div(m, CV_M);
    if (m > CV_M && m % CV_M == 16 && q >= np - 2)
        return 32;
    return min64(CV_M, ceil_div(m - q * CV_M, 16) * 16);
}

void mn_conv_cv_f32_pack(const mn_conv_params *p, const float *w, float *dst)
{
    int64_t k = p->c * p->kh * p->kw;
    for (int64_t q = 0; q * CV_M < p->m; q++) {
        int64_t wd = panel_width(p->m, q);
        float *d = dst + q * CV_M * k;
        for (int64_t t = 0; t < k; t++)
            for (int64_t i = 0; i < wd; i++) {
                int64_t r = panel_ch0(p->m, q) + i;
                d[t * wd + i] = r < p->m ? w[r * k + t] : 0.0f;
            }
    }
}

static int64_t n_tiles(const mn_conv_params *p)
{
    return ceil_div(p->oh * p->ow, CV_PX);
}

/* One thread's partial sums: CHUNK tiles of 8 pixels × 48 channels. */
#define PARTIAL_FLOATS ((size_t)CHUNK * CV_PX * CV_M)

size_t mn_conv_cv_f32_scratch(const mn_conv_params *p)
{
    int64_t k = p->c * p->kh * p->kw;
    mn_conv_planes g;
    mn_conv_planes_geom(p, &g);
    size_t planes = mn_ref_conv2d_is_pointwise(p) ? 0 : (size_t)g.in_floats;
    return (planes + PARTIAL_FLOATS) * sizeof(float) +
           (size_t)k * sizeof(int64_t) + 64;
}

typedef struct cv_job {
    mn_conv_cv_fn fn;
    const mn_conv_params *p;
    mn_conv_planes g;
    const float *xp, *w, *b, *res;
    const int64_t *boff;
    const mn_act *act;
    float *y, *partial; /* the caller's partial sums (no pool) */
    mn_pool *pool;      /* NULL: one thread */
    int64_t k, kcb, ncp, ntl, cp_per, tl_per, ntp;
} cv_job;

/* Task t: (pixel tiles t % ntp, channel panels t / ntp). */
static void cv_task(void *arg, int64_t t, int thread)
{
    const cv_job *J = arg;
    const mn_conv_params *p = J->p;
    int64_t ohw = p->oh * p->ow;
    int64_t t0 = t % J->ntp * J->tl_per, t1 = min64(J->ntl, t0 + J->tl_per);
    int64_t c0 = t / J->ntp * J->cp_per, c1 = min64(J->ncp, c0 + J->cp_per);
    float *part = J->pool ? mn_pool_scratch(J->pool, thread) : J->partial;
    for (int64_t q = c0; q < c1; q++) {
        int64_t wd = panel_width(p->m, q), m0 = panel_ch0(p->m, q);
        int nc = (int)min64(wd, p->m - m0);
        const float *wq = J->w + q * CV_M * J->k;
        for (int64_t ch = t0; ch < t1; ch += CHUNK) {
            int64_t ch1 = min64(t1, ch + CHUNK);
            for (int64_t k0 = 0; k0 < J->k; k0 += J->kcb) {
                int64_t kc = min64(J->kcb, J->k - k0);
                int last = k0 + kc >= J->k;
                /* the weights the next block reads (this panel's next
                 * block, or the next panel's first: one stream), spread
                 * over this block's tiles */
                const float *nx = NULL;
                int64_t nx_lines = 0;
                if (!last || ch1 < t1 || q + 1 < c1) {
                    nx = !last ? wq + (k0 + kc) * wd
                               : ch1 < t1 ? wq : wq + CV_M * J->k;
                    int64_t nkc = !last ? min64(J->kcb, J->k - k0 - kc)
                                        : min64(J->kcb, J->k);
                    int64_t nwd = !last || ch1 < t1 ? wd
                                                    : panel_width(p->m, q + 1);
                    nx_lines = ceil_div(nkc * nwd, 16);
                }
                for (int64_t tl = ch; tl < ch1; tl++) {
                    int64_t nl;
                    int64_t l0 = mn_share(nx_lines, ch1 - ch, tl - ch, &nl);
                    int64_t p0 = tl * CV_PX;
                    int np = (int)min64(CV_PX, ohw - p0);
                    const float *px[CV_PX];
                    for (int j = 0; j < CV_PX; j++) {
                        int64_t pix = p0 + (j < np ? j : 0);
                        px[j] = J->xp + pix / p->ow * J->g.wq + pix % p->ow;
                    }
                    mn_conv_cv_epi e = {
                        .bias = J->b ? J->b + m0 : NULL,
                        .res = J->res ? J->res + m0 * ohw + p0 : NULL,
                        .act = *J->act,
                        .y = J->y + m0 * ohw + p0,
                        .rs = ohw};
                    J->fn(kc, wq + k0 * wd, wd, J->boff + k0, px, np, nc,
                          part + (tl - ch) * CV_PX * CV_M, k0 == 0,
                          last ? &e : NULL,
                          nx ? (const char *)(nx + 16 * l0) : NULL, nl);
                }
            }
        }
    }
}

void mn_conv_cv_f32(mn_pool *pool, const mn_conv_params *p, const float *x,
                    const float *wp, const float *b, const mn_act *act,
                    const float *residual, float *y, void *scratch)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    cv_job J = {.fn = cv_fn(kr), .p = p, .w = wp, .b = b, .act = act};
    int64_t ohw = p->oh * p->ow, hw = p->h * p->w;
    int pw = mn_ref_conv2d_is_pointwise(p);
    J.k = p->c * p->kh * p->kw;
    mn_conv_planes_geom(p, &J.g);
    float *xp = scratch;
    J.partial = xp + (pw ? 0 : J.g.in_floats);
    int64_t *boff = (int64_t *)(J.partial + PARTIAL_FLOATS);
    J.boff = boff;
    int64_t q = 0;
    for (int64_t c = 0; c < p->c; c++)
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < p->kw; kj++)
                boff[q++] = pw ? c * hw : mn_conv_planes_tap(&J.g, c, ki, kj);
    if (pw) /* the input is its own plane: rows of w = ow = wq floats */
        J.g.wq = p->w;
    J.ncp = ceil_div(p->m, CV_M);
    J.ntl = n_tiles(p);
    /* the k blocks of the path the layer would otherwise take */
    J.kcb = mn_conv_direct_f32_ok(kr, p) ? KC
                                         : ceil_div(J.k, ceil_div(J.k, KC));
    int threads = mn_pool_threads(pool);
    if ((double)p->m * (double)ohw * (double)J.k < MIN_PAR_MACS ||
        mn_pool_scratch_bytes(pool) < PARTIAL_FLOATS * sizeof(float))
        threads = 1;
    J.pool = threads > 1 ? pool : NULL;
    /* panels first, then pixel tiles, about 4 tasks per thread */
    int64_t want = threads > 1 ? 4 * (int64_t)threads : 1;
    int64_t cpt = min64(J.ncp, want);
    int64_t tpt = min64(J.ntl, ceil_div(want, cpt));
    J.cp_per = ceil_div(J.ncp, cpt);
    J.tl_per = ceil_div(J.ntl, tpt);
    J.ntp = ceil_div(J.ntl, J.tl_per);
    int64_t tasks = J.ntp * ceil_div(J.ncp, J.cp_per);
    for (int64_t in = 0; in < p->n; in++) {
        const float *xg = x + in * p->c * hw;
        if (pw) {
            J.xp = xg;
        } else {
            mn_conv_planes_build(kr, pool, p, xg, xp);
            J.xp = xp;
        }
        J.res = residual ? residual + in * p->m * ohw : NULL;
        J.y = y + in * p->m * ohw;
        mn_pool_run(J.pool, cv_task, &J, tasks);
    }
}

/* Where the tiles pay, per layer shape (1 and 2 threads, ResNet-18/50,
 * MobileNetV2/V3-small, EfficientNet-B0/V2-B0, ConvNeXt-Tiny at 224×224,
 * the layers timed both ways): outputs of at most 28×28, where the other
 * paths spend lanes on the wide grid's padding columns and on short last
 * tiles; strided k×k convolutions at any size (no wide grid to copy out).
 * But large outputs in rows of whole vectors (224×224 stems, 112 wide)
 * run faster on the direct path's row tiles (7×7 stride 2, 3 → 64:
 * 1.67 vs 1.74 ms, best run of 60, median of 8 alternating rounds).
 * Not 1×1 stride 2 (its phase planes copy four times the input it reads),
 * nor 1×1 on 28×28 with fewer than 256 taps (the transposing store's share
 * grows as the sums shrink). */
int mn_conv_cv_f32_want(const mn_conv_params *p)
{
    if (!mn_conv_cv_f32_can(p))
        return 0;
    int64_t ohw = p->oh * p->ow, k = p->c * p->kh * p->kw;
    if (p->kh * p->kw == 1)
        return p->sh == 1 && (ohw <= 196 || (ohw <= 784 && k >= 256));
    if (ohw > 784 && mn_conv_direct_f32_rows(mn_kernels_f32_active(), p))
        return 0; /* a large strided output in whole-vector rows (stems) */
    return ohw <= 784 || p->sh == 2;
}
