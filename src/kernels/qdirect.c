/* The dense direct 8-bit convolution driver (see qdirect.h): quad offsets,
 * weight packing, and the tile loop over the pool. A task owns a run of
 * 32-pixel blocks (their x4 windows stay in L2) and a range of row panels;
 * per panel (in L1) it runs every block. */
#include <stdlib.h>
#include <string.h>
#include "kernels/qdirect.h"

#define BLOCK 32                /* virtual pixels per tile */
#define CV_CH 32                /* channels per channel-vector tile */
#define CV_PX 8                 /* output pixels per channel-vector tile */
#define MAX_TB 16               /* blocks per task */
/* x4 bytes one task's blocks read: in L1 (every row panel reads them
 * again), or in L2 when the weights are too big to be read once per
 * task from L2 (then they come from memory: fewer, wider tasks) */
#define WINDOW_L1 (32 << 10)
#define WINDOW_L2 (256 << 10)
#define A_L2 (256 << 10)
#define MIN_PAR_MACS 1048576.0  /* as qgemm.c */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* How many runs of `unit` consecutive (virtual) pixels fit in `window`
 * bytes of x4 (1 when none): per channel quad and stride phase, the runs'
 * pixels plus the taps' further rows and columns. */
static int64_t window_units(const mn_q8_x4 *g, int64_t unit, int64_t window)
{
    const mn_conv_params *p = &g->p;
    int64_t rows = (p->kh - 1) * p->dh / p->sh;
    int64_t cols = g->taps4 ? (ceil_div(p->kw, 4) - 1) * 4 / p->sw
                            : (p->kw - 1) * p->dw / p->sw;
    int64_t phases = min64(p->sh, p->kh) * (g->taps4 ? 1 : min64(p->sw, p->kw));
    int64_t per = 4 * phases * g->c4n * unit;
    int64_t fixed = 4 * phases * g->c4n * (rows * g->wq + cols);
    return window > fixed ? (window - fixed) / per : 1;
}

int mn_q8_direct_can(const mn_kernels_q8 *kr, const mn_conv_params *p)
{
    return kr && kr->direct && kr->a_layout == MN_QA_S8X4 &&
           !mn_ref_conv2d_is_depthwise(p) && p->oh > 0 && p->ow > 0;
}

/* Whether p takes column quads (taps4, q8_x4.h): fewer than 4 channels
 * (channel quads would be mostly padding), and no more quads than
 * channel quads would take. */
static int use_taps4(const mn_conv_params *p)
{
    int64_t cg = p->c / p->group;
    return cg < 4 && p->kw >= 2 && mn_q8_x4_taps4_can(p) &&
           cg * ceil_div(p->kw, 4) <= ceil_div(cg, 4) * p->kw;
}

int mn_q8_direct_ok(const mn_kernels_q8 *kr, const mn_conv_params *p)
{
    int64_t cg = p->c / p->group;
    /* channels padded to quads cost their share of the products: the
     * GEMM path pads k = cg·kh·kw only once (an input of 1 to 3
     * channels takes column quads instead, which read it without the
     * GEMM's gathers); and below half a tile of pixels (squeeze-excite's
     * 1×1 images) the GEMM's packing is trivial while x4 would still be
     * built */
    return mn_q8_direct_can(kr, p) &&
           (ceil_div(cg, 4) * 4 * 8 <= cg * 9 || use_taps4(p)) &&
           p->oh * p->ow >= BLOCK / 2;
}

/* x4's geometry for p, column quads or channel quads (before flat x4,
 * which create may take instead); returns the quads per kernel row: the
 * taps, or the column quads. */
static int64_t x4_geometry(const mn_conv_params *p, mn_q8_x4 *g)
{
    if (use_taps4(p)) {
        mn_q8_x4_init_taps4(p, g);
        return ceil_div(p->kw, 4);
    }
    mn_q8_x4_init(p, g);
    return p->kw;
}

size_t mn_q8_direct_scratch_for(const mn_conv_params *p)
{
    mn_q8_x4 g;
    x4_geometry(p, &g);
    return mn_q8_x4_scratch(&g);
}

void mn_q8_direct_destroy(mn_q8_direct *d)
{
    if (!d)
        return;
    free(d->off);
    free(d->pxoff);
    free(d);
}

/* Whether channel-vector tiles are the better choice: pixel tiles spend
 * 32 lanes per block of the Hq × Wq virtual grid, channel tiles 8 per 8
 * output pixels, with the same instructions per lane; their store costs
 * more (it transposes, and writes 8 bytes per channel row), about two
 * quads' worth per tile, so the lanes they save must outweigh it. */
static int cv_better(const mn_q8_x4 *g, int64_t kq)
{
    double ohw = (double)(g->p.oh * g->p.ow);
    double pix = ohw / (double)(ceil_div(g->nvp, BLOCK) * BLOCK);
    double ch = ohw / (double)(ceil_div(g->p.oh * g->p.ow, CV_PX) * CV_PX);
    return ch - pix >= 2.0 / (double)kq;
}

/* Whether every stride phase holds taps: flat x4 is then no bigger than
 * the phases (a 1×1 stride-2 layer reads one phase of four). */
static int phases_all_used(const mn_conv_params *p)
{
    uint32_t rows = 0, cols = 0;
    if (p->sh > 32 || p->sw > 32)
        return 0;
    for (int64_t ki = 0; ki < p->kh; ki++)
        rows |= 1u << (ki * p->dh % p->sh);
    for (int64_t kj = 0; kj < p->kw; kj++)
        cols |= 1u << (kj * p->dw % p->sw);
    return rows == (uint32_t)((1ull << p->sh) - 1) &&
           cols == (uint32_t)((1ull << p->sw) - 1);
}

mn_status mn_q8_direct_create(const mn_kernels_q8 *kr,
                              const mn_conv_params *p, int mode,
                              mn_q8_direct **out, mn_ctx *ctx)
{
    mn_q8_direct *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    d->p = *p;
    int64_t kw = x4_geometry(p, &d->g);
    d->kq = d->g.c4n * p->kh * kw;
    d->cv = kr && kr->direct_cv && mode != MN_Q8D_PIXEL &&
            (mode == MN_Q8D_CHANNEL || cv_better(&d->g, d->kq));
    int flat = d->cv && !d->g.taps4 && (p->sh > 1 || p->sw > 1) &&
               phases_all_used(p);
    if (flat) {
        /* flat: x4 of the stride-1 layer whose output rows and columns
         * reach as far into the padded input */
        mn_conv_params f = *p;
        f.sh = f.sw = 1;
        f.oh = (p->oh - 1) * p->sh + 1;
        f.ow = (p->ow - 1) * p->sw + 1;
        mn_q8_x4_init(&f, &d->g);
    }
    if (mn_q8_x4_bytes(&d->g) + MN_Q8_X4_SLACK >= INT32_MAX) {
        mn_q8_direct_destroy(d);
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "direct int8 convolution input too large");
    }
    int64_t ohw = p->oh * p->ow;
    d->off = malloc((size_t)(d->kq + 1) * sizeof *d->off);
    d->pxoff = d->cv ? malloc((size_t)ohw * sizeof *d->pxoff) : NULL;
    if (!d->off || (d->cv && !d->pxoff)) {
        mn_q8_direct_destroy(d);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    int64_t q = 0;
    for (int64_t c4 = 0; c4 < d->g.c4n; c4++)
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < kw; kj++)
                d->off[q++] = (int32_t)mn_q8_x4_offset(&d->g, c4, ki, kj);
    /* output pixel (i, j) is virtual pixel i·Wq + j, 4 bytes each (flat:
     * row i·sh, column j·sw) */
    int64_t fh = flat ? p->sh : 1, fw = flat ? p->sw : 1;
    for (int64_t i = 0; d->cv && i < p->oh; i++)
        for (int64_t j = 0; j < p->ow; j++)
            d->pxoff[i * p->ow + j] =
                (int32_t)(4 * (i * fh * d->g.wq + j * fw));
    *out = d;
    return MN_OK;
}

size_t mn_q8_direct_a_bytes(const mn_kernels_q8 *kr, const mn_q8_direct *d,
                            int64_t m)
{
    int64_t rows = d->cv ? CV_CH : kr->mr;
    return (size_t)(ceil_div(m, rows) * rows * d->kq * 4);
}

void mn_q8_direct_pack_a(const mn_kernels_q8 *kr, const mn_q8_direct *d,
                         int64_t m, const uint8_t *w, uint8_t flip,
                         void *dst)
{
    const mn_conv_params *p = &d->p;
    int64_t cg = p->c / p->group, khw = p->kh * p->kw;
    int64_t mr = d->cv ? CV_CH : kr->mr;
    int64_t npan = ceil_div(m, mr);
    /* taps4: quad q = (channel, kernel row, column quad u) holds columns
     * 4u .. 4u + 3 of that row */
    int64_t kq4 = d->g.taps4 ? ceil_div(p->kw, 4) : 0;
    int8_t *o = dst;
    for (int64_t pn = 0; pn < npan; pn++)
        for (int64_t q = 0; q < d->kq; q++) {
            int64_t c4 = q / khw, tap = q % khw;
            if (kq4) {
                c4 = q / (p->kh * kq4);
                tap = q / kq4 % p->kh * p->kw + q % kq4 * 4;
            }
            for (int64_t i = 0; i < mr; i++, o += 4) {
                int64_t r = pn * mr + i;
                for (int t = 0; t < 4; t++) {
                    int64_t c = kq4 ? c4 : 4 * c4 + t;
                    int in = kq4 ? (q % kq4) * 4 + t < p->kw : c < cg;
                    o[t] = r < m && in
                               ? (int8_t)(w[(r * cg + c) * khw + tap +
                                            (kq4 ? t : 0)] ^ flip)
                               : 0;
                }
            }
        }
}

size_t mn_q8_direct_scratch(const mn_q8_direct *d)
{
    return mn_q8_x4_scratch(&d->g);
}

typedef struct dc_job {
    const mn_kernels_q8 *kr;
    const mn_q8_direct *d;
    const uint8_t *a, *x4;
    size_t a_panel;
    const mn_qgemm_epi *e;
    char *y;       /* the group's first output channel */
    int64_t row0;  /* its epilogue row */
    int64_t mg, nb, tb, ntp, rows_per;
    int esize;
} dc_job;

/* Which lanes of block bi are output pixels, and where they go (one
 * division per vector, then a run of lanes per virtual row it meets). */
static void block_lanes(const mn_q8_x4 *g, int64_t bi, uint16_t mask[2],
                        int64_t yoff[2])
{
    int64_t ow = g->p.ow;
    for (int v = 0; v < 2; v++) {
        int64_t vp = bi * BLOCK + 16 * v, row = vp / g->wq, col = vp % g->wq;
        uint32_t m = 0;
        yoff[v] = -1;
        for (int64_t l = 0; l < 16 && vp + l < g->nvp; row++, col = 0) {
            /* lanes [l, l + n): this virtual row from column col, of
             * which the first k are output pixels */
            int64_t n = min64(min64(16 - l, g->wq - col), g->nvp - vp - l);
            int64_t k = min64(n, ow - col);
            if (k > 0) {
                m |= ((1u << k) - 1u) << l;
                if (yoff[v] < 0)
                    yoff[v] = row * ow + col;
            }
            l += n;
        }
        mask[v] = (uint16_t)m;
        if (yoff[v] < 0)
            yoff[v] = 0;
    }
}

/* Task t: (pixel tile t % ntp, row range t / ntp). */
static void dc_task(void *arg, int64_t t, int thread)
{
    const dc_job *J = arg;
    const mn_q8_direct *d = J->d;
    const mn_kernels_q8 *kr = J->kr;
    int64_t b0 = t % J->ntp * J->tb, b1 = min64(J->nb, b0 + J->tb);
    int64_t r0 = t / J->ntp * J->rows_per;
    int64_t r1 = min64(J->mg, r0 + J->rows_per);
    int64_t ohw = d->p.oh * d->p.ow;
    uint16_t mask[MAX_TB][2];
    int64_t yoff[MAX_TB][2];
    (void)thread;
    for (int64_t bi = b0; bi < b1; bi++)
        block_lanes(&d->g, bi, mask[bi - b0], yoff[bi - b0]);
    for (int64_t i = r0; i < r1; i += kr->mr) {
        const uint8_t *a = J->a + (size_t)(i / kr->mr) * J->a_panel;
        int mr = (int)min64(kr->mr, r1 - i);
        char *y = J->y + i * ohw * J->esize;
        for (int64_t bi = b0; bi < b1; bi++)
            kr->direct(d->kq, a, d->off, J->x4 + bi * BLOCK * 4, mr,
                       mask[bi - b0], yoff[bi - b0], J->e, J->row0 + i, y,
                       ohw);
    }
}

/* ---- channel-vector tiles ---- */

typedef struct cv_job {
    const mn_kernels_q8 *kr;
    const mn_q8_direct *d;
    const uint8_t *a, *x4;
    const mn_qgemm_epi *e;
    char *y;      /* the group's first output channel */
    int64_t row0; /* its epilogue row */
    int64_t mg, npt, ncp, pt_per, cp_per, ntp;
    int64_t chunk; /* pixel tiles whose x4 window stays in L1 */
    int esize;
    /* Each thread's own x4 (built on its first task, in its pool
     * scratch), or none (x4 shared): every task reads the whole x4, and a
     * line another core wrote is slow to read (the 2-vCPU machine we
     * measure on moves ~13 GB/s between cores, ~100 within one), so two
     * private builds from the input cost less than one shared build. */
    mn_pool *pool;
    const uint8_t *src; /* the group's input */
    uint8_t xpad, flip;
    const uint8_t *own[MN_POOL_MAX_THREADS];
} cv_job;

/* Task t: (pixel tiles t % ntp, channel panels t / ntp), by chunks of
 * pixel tiles: per chunk (its x4 window in L1), every panel. */
static void cv_task(void *arg, int64_t t, int thread)
{
    cv_job *J = arg;
    const mn_q8_direct *d = J->d;
    int64_t ohw = d->p.oh * d->p.ow;
    const uint8_t *x4 = J->x4;
    if (J->pool) {
        if (!J->own[thread]) /* only this thread writes its slot */
            J->own[thread] = mn_q8_x4_build(NULL, &d->g, J->src, J->xpad,
                                            J->flip, 0,
                                            mn_pool_scratch(J->pool, thread));
        x4 = J->own[thread];
    }
    int64_t t0 = t % J->ntp * J->pt_per, t1 = min64(J->npt, t0 + J->pt_per);
    int64_t c0 = t / J->ntp * J->cp_per, c1 = min64(J->ncp, c0 + J->cp_per);
    size_t panel = (size_t)d->kq * CV_CH * 4;
    for (int64_t k0 = t0; k0 < t1; k0 += J->chunk)
    for (int64_t c = c0; c < c1; c++) {
        const uint8_t *a = J->a + (size_t)c * panel;
        int nc = (int)min64(CV_CH, J->mg - c * CV_CH);
        int64_t k1 = min64(t1, k0 + J->chunk);
        /* the next panel's weights (or this task's first, for the next
         * chunk) into L2, spread over this panel's tiles */
        const uint8_t *nx = c + 1 < c1 ? a + panel
                            : k1 < t1  ? J->a + (size_t)c0 * panel
                                       : NULL;
        int64_t lines = nx ? (int64_t)panel / 64 : 0;
        for (int64_t pt = k0; pt < k1; pt++) {
            int64_t nl, l0 = mn_share(lines, k1 - k0, pt - k0, &nl);
            int64_t p0 = pt * CV_PX;
            int np = (int)min64(CV_PX, ohw - p0);
            const uint8_t *px[CV_PX];
            for (int j = 0; j < CV_PX; j++)
                px[j] = x4 + d->pxoff[p0 + (j < np ? j : 0)];
            J->kr->direct_cv(d->kq, a, d->off, px, np, nc, J->e,
                             J->row0 + c * CV_CH,
                             J->y + (c * CV_CH * ohw + p0) * J->esize, ohw,
                             nx ? nx + 64 * l0 : NULL, nl);
        }
    }
}

/* The tasks: channel panels first (each thread then reads only its share
 * of the weights, which a small image's layer is mostly made of), pixel
 * tiles when there are too few panels. */
static void cv_plan(cv_job *J, int threads)
{
    /* chunks of pixel tiles whose x4 stays in L1 */
    J->chunk = max64(1, window_units(&J->d->g, CV_PX, WINDOW_L1));
    int64_t want = threads > 1 ? 4 * (int64_t)threads : 1;
    int64_t cpt = min64(J->ncp, want);
    int64_t ppt = min64(J->npt, ceil_div(want, cpt));
    J->cp_per = ceil_div(J->ncp, cpt);
    J->pt_per = ceil_div(J->npt, ppt);
    J->ntp = ceil_div(J->npt, J->pt_per);
}

static void cv_run(const mn_kernels_q8 *kr, mn_pool *pool,
                   const mn_q8_direct *d, const uint8_t *a, size_t a_group,
                   const uint8_t *x, uint8_t xpad, uint8_t flip,
                   const mn_qgemm_epi *e, void *y, void *scratch)
{
    const mn_conv_params *p = &d->p;
    int64_t cg = p->c / p->group, ohw = p->oh * p->ow;
    cv_job J = {.kr = kr, .d = d, .e = e, .esize = e->mult ? 1 : 4,
                .mg = p->m / p->group};
    J.npt = ceil_div(ohw, CV_PX);
    J.ncp = ceil_div(J.mg, CV_CH);
    int threads = mn_pool_threads(pool);
    double macs = (double)J.mg * (double)ohw * (double)(d->kq * 4);
    if (threads < 2 || macs < MIN_PAR_MACS)
        threads = 1;
    cv_plan(&J, threads);
    int64_t tasks = J.ntp * ceil_div(J.ncp, J.cp_per);
    int own = threads > 1 &&
              mn_pool_scratch_bytes(pool) >= mn_q8_x4_scratch(&d->g);
    J.xpad = xpad;
    J.flip = flip;
    for (int64_t img = 0; img < p->n; img++)
        for (int64_t gr = 0; gr < p->group; gr++) {
            J.src = x + (img * p->c + gr * cg) * p->h * p->w;
            if (own) {
                J.pool = pool;
                memset(J.own, 0, sizeof J.own);
            } else {
                J.x4 = mn_q8_x4_build(pool, &d->g, J.src, xpad, flip, 0,
                                      scratch);
            }
            J.a = a + (size_t)gr * a_group;
            J.row0 = gr * J.mg;
            J.y = (char *)y + (img * p->m + gr * J.mg) * ohw * J.esize;
            mn_pool_run(threads > 1 ? pool : NULL, cv_task, &J, tasks);
        }
}

void mn_q8_direct_run(const mn_kernels_q8 *kr, mn_pool *pool,
                      const mn_q8_direct *d, const uint8_t *a,
                      size_t a_group, const uint8_t *x, uint8_t xpad,
                      uint8_t flip, const mn_qgemm_epi *e, void *y,
                      void *scratch)
{
    const mn_q8_x4 *g = &d->g;
    const mn_conv_params *p = &g->p;
    int64_t cg = p->c / p->group, ohw = p->oh * p->ow;
    if (d->cv) {
        cv_run(kr, pool, d, a, a_group, x, xpad, flip, e, y, scratch);
        return;
    }
    dc_job J = {.kr = kr, .d = d, .e = e, .esize = e->mult ? 1 : 4,
                .mg = p->m / p->group};
    J.a_panel = mn_q8_direct_a_bytes(kr, d, kr->mr);
    J.nb = ceil_div(g->nvp, BLOCK);
    int64_t window = (int64_t)J.a_panel * ceil_div(J.mg, kr->mr) > A_L2
                         ? WINDOW_L2 : WINDOW_L1;
    J.tb = window_units(g, BLOCK, window);
    J.tb = max64(1, min64(min64(J.tb, MAX_TB), J.nb));
    J.ntp = ceil_div(J.nb, J.tb);
    int64_t npan = ceil_div(J.mg, kr->mr), nrc = 1;
    int threads = mn_pool_threads(pool);
    double macs = (double)J.mg * (double)ohw * (double)(d->kq * 4);
    if (threads < 2 || macs < MIN_PAR_MACS)
        threads = 1;
    if (threads > 1 && J.ntp > 1) {
        /* pixel tiles: a multiple of the threads, at least two each (as
         * many blocks each as can be) */
        int64_t want = min64(J.nb, ceil_div(max64(J.ntp, 2 * threads),
                                            threads) * threads);
        J.tb = ceil_div(J.nb, want);
        J.ntp = ceil_div(J.nb, J.tb);
    }
    if (J.ntp < 2 * threads)
        nrc = min64(npan, ceil_div(2 * threads, J.ntp));
    J.rows_per = ceil_div(npan, nrc) * kr->mr;
    nrc = ceil_div(J.mg, J.rows_per);
    /* tasks split by pixel tiles only: x4 is built by bands of rows, so a
     * thread mostly reads the bands it built itself */
    int bands = threads > 1 && nrc == 1 ? 4 * threads : 0;
    for (int64_t img = 0; img < p->n; img++)
        for (int64_t gr = 0; gr < p->group; gr++) {
            J.x4 = mn_q8_x4_build(pool, g,
                                  x + (img * p->c + gr * cg) * p->h * p->w,
                                  xpad, flip, bands, scratch);
            J.a = a + (size_t)gr * a_group;
            J.row0 = gr * J.mg;
            J.y = (char *)y + (img * p->m + gr * J.mg) * ohw * J.esize;
            mn_pool_run(threads > 1 ? pool : NULL, dc_task, &J,
                        J.ntp * nrc);
        }
}
