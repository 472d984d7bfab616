/* Direct float32 convolution for undilated k×k convolutions (k > 1, not
 * depthwise) with stride 1 or 2.
 *
 * The group's input is copied once into zero-padded phase planes: for
 * stride s, s×s planes per channel, plane (u, v) holding the padded input
 * at rows i·s + u and columns j·s + v, Hq = OH + (kh−1)/s rows of
 * Wq = OW + (kw−1)/s columns (stride 1: one plane, the padded input).
 * Output pixel (oh, ow) then reads tap (c, ki, kj) at
 *     plane (c, ki % s, kj % s) [oh + ki/s][ow + kj/s],
 * so for a run of output pixels the input of every tap is one contiguous
 * run, at a fixed offset boff[tap] from the run's start, and the GEMM tile
 * reads B straight from the planes (kr->tile_off): no im2col matrix, no
 * packed panels.
 *
 * Tiles of 8 channels × 48 pixels run over the "wide" grid of Hq×Wq
 * positions j = oh·Wq + ow, whose columns ow ≥ OW are computed and
 * dropped (so every tile but the last uses all its vector lanes, even for
 * 7×7 outputs). A residual is first copied into a second grid, which the
 * last k block's store adds after the bias (the sum, then the bias, then
 * the residual, then the activation: the unfused Conv → Add order), and
 * the valid columns are then copied into y.
 * Reductions run in blocks of KC taps; a task is a range of output
 * channels × a range of wide positions, looping over the k blocks
 * outermost so each block of weights is reused across its positions. The
 * task also does the copies of its own part of the grid (the residual in
 * before its tiles, the result out after them) while that part is in
 * cache, so a convolution is two fork-joins: building the planes (split
 * by plane, or by bands of rows when the tasks are split by positions),
 * then the tasks.
 *
 * Per output element the sum runs over the taps in order, in the same k
 * blocks whatever the partition: results do not depend on the thread
 * count. They can differ from the im2col path by float rounding only.
 *
 * A weight source (wsrc.h) is decoded one MR×kc micro-panel per task, k
 * block and row block, then used by all the task's tiles: into the pool
 * thread's scratch, or the tail of the scratch when one thread runs. */
#include <string.h>
#include "kernels/kernels_f32.h"

#define KC 256        /* taps per reduction block */
#define MIN_PAR_MACS 262144.0

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

typedef struct geom {
    int64_t s, hq, wq, plane_q; /* stride, phase plane rows, cols, size */
    int64_t in_floats;          /* the planes of one group */
    int64_t out_floats;         /* the wide-grid output of one group */
} geom;

static geom geometry(const mn_conv_params *p)
{
    geom g;
    g.s = p->sh;
    g.hq = p->oh + (p->kh - 1) / g.s;
    g.wq = p->ow + (p->kw - 1) / g.s;
    g.plane_q = g.hq * g.wq;
    g.in_floats = (p->c / p->group * g.s * g.s * g.plane_q + 15) / 16 * 16;
    g.out_floats = (p->m / p->group * g.plane_q + 15) / 16 * 16;
    return g;
}

int mn_conv_direct_f32_ok(const mn_kernels_f32 *kr, const mn_conv_params *p)
{
    return kr && kr->tile_off && p->sh == p->sw && (p->sh == 1 || p->sh == 2) &&
           p->dh == 1 && p->dw == 1 && p->kh * p->kw > 1 &&
           !mn_ref_conv2d_is_depthwise(p) && p->oh >= 1 && p->ow >= 1;
}

/* Rows of whole vectors, at least two: every lane used, and no grid to
 * copy out (on a large output that copy goes through memory). */
int mn_conv_direct_f32_rows(const mn_kernels_f32 *kr, const mn_conv_params *p)
{
    return mn_conv_direct_f32_ok(kr, p) && p->ow % kr->vec == 0 &&
           p->ow >= 2 * kr->vec;
}

size_t mn_conv_direct_f32_wsrc_extra(const mn_kernels_f32 *kr)
{
    return (size_t)kr->mr * KC * sizeof(float);
}

size_t mn_conv_direct_f32_scratch(const mn_conv_params *p)
{
    const mn_kernels_f32 *kr = mn_kernels_f32_active();
    int64_t k = p->c / p->group * p->kh * p->kw;
    geom g;
    if (!mn_conv_direct_f32_ok(kr, p))
        return 0;
    g = geometry(p);
    return (size_t)(g.in_floats + 2 * g.out_floats) * sizeof(float) +
           (size_t)k * sizeof(int64_t);
}

typedef struct direct_job {
    const mn_kernels_f32 *kr;
    const mn_conv_params *p;
    geom g;
    const float *xg;                /* the group's input */
    const float *xp, *w, *b, *res;  /* planes; the group's w, b, residual */
    const mn_wsrc *ws;              /* or the weight source (w NULL) */
    int64_t ws_row0;                /* the group's first row in ws */
    mn_pool *pool;                  /* NULL: one thread, panel at apanel */
    float *apanel;
    const int64_t *boff;
    const mn_act *act;
    float *y, *wy;   /* the group's output; wide-grid scratch */
    float *rg;       /* the residual in the grid's layout */
    int64_t k, mg;   /* taps, output channels per group */
    int64_t tm, tj, ntm; /* task extents: channels, wide positions */
    int64_t span;    /* wide positions in use: (oh − 1)·wq + ow */
    int64_t pad_per_task, n_planes; /* phase planes per pad task, in all */
    int64_t pad_bands; /* > 0: pad task t builds band t of rows instead */
    int rows;          /* tiles within output rows, stored straight to y */
} direct_job;

/* Channels [m_lo, m_hi) × wide positions [j_lo, j_hi) between y's layout
 * and the grid: into the grid (the residual, before the tiles) or out of
 * it (the result, after them). Positions in the dropped columns are not
 * copied. */
static void copy_part(const direct_job *J, int64_t m_lo, int64_t m_hi,
                      int64_t j_lo, int64_t j_hi, int into_grid)
{
    const mn_conv_params *p = J->p;
    int64_t plane = p->oh * p->ow, wq = J->g.wq;
    for (int64_t m = m_lo; m < m_hi; m++)
        for (int64_t oh = j_lo / wq; oh < p->oh && oh * wq < j_hi; oh++) {
            int64_t c0 = max64(0, j_lo - oh * wq);
            int64_t c1 = min64(p->ow, j_hi - oh * wq);
            if (c1 <= c0)
                continue;
            float *g = (into_grid ? J->rg : J->wy) + m * J->g.plane_q +
                       oh * wq + c0;
            size_t bytes = (size_t)(c1 - c0) * sizeof *g;
            if (into_grid)
                memcpy(g, J->res + m * plane + oh * p->ow + c0, bytes);
            else
                memcpy(J->y + m * plane + oh * p->ow + c0, g, bytes);
        }
}

/* Rows [m0, m0 + mr) × taps [p0, p0 + kc) of the weights, and their
 * stride: in place, or a weight source's decoded once into ap for all
 * the task's tiles. */
static const float *weights(const direct_job *J, int64_t m0, int mr,
                            int64_t p0, int64_t kc, float *ap, int64_t *lda)
{
    if (J->ws) {
        mn_wsrc_rows(J->ws, J->ws_row0 + m0, mr, p0, kc, ap, kc);
        *lda = kc;
        return ap;
    }
    *lda = J->k;
    return J->w + m0 * J->k + p0;
}

/* One row of tiles over the task's positions for output channels
 * [m0, m0 + mr) and one k block (weights a, lda): the grid mode's tiles
 * over wide positions [j_lo, j_hi) (tw wide, into the grid), or in row
 * mode each output row of [r_lo, r_hi) split into tiles of whole vectors
 * — nt tiles of v vectors as equal as they go (`base` or base + 1, the
 * first `extra` wider), so no one-vector tile unless the row is one
 * vector — stored straight into y, the residual read from its own layout
 * (the same sums and epilogue as through the grid, so the same bits). */
typedef struct sweep {
    int64_t j_lo, j_hi, tw;          /* grid mode */
    int64_t r_lo, r_hi, nt, base, extra; /* row mode */
} sweep;

static void tiles(const direct_job *J, const sweep *w, int64_t m0, int mr,
                  int64_t p0, int64_t kc, const float *a, int64_t lda,
                  mn_tile_epi *e)
{
    const mn_kernels_f32 *kr = J->kr;
    const mn_conv_params *p = J->p;
    if (!J->rows) {
        int64_t pq = J->g.plane_q;
        for (int64_t j = w->j_lo; j < w->j_hi; j += w->tw) {
            e->res = J->res && e->last ? J->rg + m0 * pq + j : NULL;
            kr->tile_off(kc, a, lda, J->xp + j, J->boff + p0,
                         J->wy + m0 * pq + j, pq, mr,
                         (int)min64(w->tw, w->j_hi - j), e);
        }
        return;
    }
    int64_t plane = p->oh * p->ow;
    for (int64_t r = w->r_lo; r < w->r_hi; r++)
        for (int64_t i = 0, x0 = 0; i < w->nt; i++) {
            int64_t wd = min64((w->base + (i < w->extra)) * kr->vec,
                               p->ow - x0);
            int64_t o = m0 * plane + r * p->ow + x0;
            e->res = J->res && e->last ? J->res + o : NULL;
            kr->tile_off(kc, a, lda, J->xp + r * J->g.wq + x0, J->boff + p0,
                         J->y + o, plane, mr, (int)wd, e);
            x0 += wd;
        }
}

static void direct_task(void *arg, int64_t t, int thread)
{
    const direct_job *J = arg;
    const mn_kernels_f32 *kr = J->kr;
    int64_t m_lo = (t % J->ntm) * J->tm, m_hi = min64(J->mg, m_lo + J->tm);
    sweep w;
    /* wide positions [j_lo, j_hi) of the grid's used part */
    w.j_lo = (t / J->ntm) * J->tj;
    w.j_hi = min64(J->span, w.j_lo + J->tj);
    /* tiles of equal width in whole vectors (61 positions: 32 + 29, not
     * 48 + 13, whose one-vector tile is bound by its 8 broadcasts) */
    int64_t nt = ceil_div(w.j_hi - w.j_lo, kr->nr);
    w.tw = ceil_div(ceil_div(w.j_hi - w.j_lo, nt), kr->vec) * kr->vec;
    /* row mode: j_lo is a row's start, j_hi in or past the last */
    int64_t v = ceil_div(J->p->ow, kr->vec);
    w.r_lo = w.j_lo / J->g.wq;
    w.r_hi = ceil_div(w.j_hi, J->g.wq);
    w.nt = ceil_div(v, kr->nr / kr->vec);
    w.base = v / w.nt;
    w.extra = v % w.nt;
    float *ap = J->pool ? mn_pool_scratch(J->pool, thread) : J->apanel;
    if (J->res && !J->rows)
        copy_part(J, m_lo, m_hi, w.j_lo, w.j_hi, 1);
    for (int64_t p0 = 0; p0 < J->k; p0 += KC) {
        int64_t kc = min64(KC, J->k - p0);
        mn_tile_epi e = {.alpha = 1.0f, .beta = 0.0f,
                         .accumulate = p0 > 0, .last = p0 + kc >= J->k,
                         .act = *J->act};
        for (int64_t m0 = m_lo; m0 < m_hi; m0 += kr->mr) {
            int mr = (int)min64(kr->mr, m_hi - m0);
            int64_t lda;
            const float *a = weights(J, m0, mr, p0, kc, ap, &lda);
            e.bias_row = J->b ? J->b + m0 : NULL;
            tiles(J, &w, m0, mr, p0, kc, a, lda, &e);
        }
    }
    if (!J->rows)
        copy_part(J, m_lo, m_hi, w.j_lo, w.j_hi, 0);
}

/* Rows [i0, i1) of phase plane q = (c·s + u)·s + v of the group's input:
 * plane column j is padded column j·s + v, i.e. input column
 * j·s + v − pl, valid for j in [lo, hi); rows likewise. */
static void pad_plane(const mn_kernels_f32 *kr, const mn_conv_params *p,
                      const geom *g, const float *xg, int64_t q, int64_t i0,
                      int64_t i1, float *xp)
{
    int64_t s = g->s, v = q % s, u = q / s % s, c = q / (s * s);
    float *d = xp + q * g->plane_q;
    int64_t lo = ceil_div(max64(0, p->pl - v), s);
    int64_t hi = max64(lo, min64(g->wq, ceil_div(p->w + p->pl - v, s)));
    lo = min64(lo, g->wq);
    d += i0 * g->wq;
    for (int64_t i = i0; i < i1; i++, d += g->wq) {
        int64_t ih = i * s + u - p->pt;
        if (ih < 0 || ih >= p->h) {
            memset(d, 0, (size_t)g->wq * sizeof *d);
            continue;
        }
        const float *src = xg + (c * p->h + ih) * p->w;
        for (int64_t j = 0; j < lo; j++) /* a pad or two */
            d[j] = 0.0f;
        if (s == 1)
            memcpy(d + lo, src + lo - p->pl, (size_t)(hi - lo) * sizeof *d);
        else if (kr->even && hi > lo)
            kr->even(src + lo * s + v - p->pl, d + lo, hi - lo);
        else
            for (int64_t j = lo; j < hi; j++)
                d[j] = src[j * s + v - p->pl];
        for (int64_t j = hi; j < g->wq; j++)
            d[j] = 0.0f;
    }
}

static void pad_task(void *arg, int64_t t, int thread)
{
    const direct_job *J = arg;
    (void)thread;
    if (J->pad_bands) { /* band t of rows, in every plane */
        int64_t i0 = J->g.hq * t / J->pad_bands;
        int64_t i1 = J->g.hq * (t + 1) / J->pad_bands;
        for (int64_t q = 0; q < J->n_planes; q++)
            pad_plane(J->kr, J->p, &J->g, J->xg, q, i0, i1, (float *)J->xp);
        return;
    }
    int64_t lo = t * J->pad_per_task;
    int64_t hi = min64(J->n_planes, lo + J->pad_per_task);
    for (int64_t q = lo; q < hi; q++)
        pad_plane(J->kr, J->p, &J->g, J->xg, q, 0, J->g.hq, (float *)J->xp);
}

/* ---- the planes, for the channel-vector driver (conv_cv_f32.c) ---- */

void mn_conv_planes_geom(const mn_conv_params *p, mn_conv_planes *out)
{
    geom g = geometry(p);
    out->s = g.s;
    out->hq = g.hq;
    out->wq = g.wq;
    out->plane_q = g.plane_q;
    out->in_floats = g.in_floats;
}

int64_t mn_conv_planes_tap(const mn_conv_planes *g, int64_t c, int64_t ki,
                           int64_t kj)
{
    return ((c * g->s + ki % g->s) * g->s + kj % g->s) * g->plane_q +
           ki / g->s * g->wq + kj / g->s;
}

void mn_conv_planes_build(const mn_kernels_f32 *kr, mn_pool *pool,
                          const mn_conv_params *p, const float *xg,
                          float *xp)
{
    int threads = mn_pool_threads(pool);
    direct_job J = {.kr = kr, .p = p, .g = geometry(p), .xg = xg, .xp = xp,
                    .n_planes = p->c / p->group * p->sh * p->sh};
    J.pad_per_task = ceil_div(J.n_planes, min64(J.n_planes, 4 * threads));
    mn_pool_run(threads > 1 ? pool : NULL, pad_task, &J,
                ceil_div(J.n_planes, J.pad_per_task));
}

/* The task grid: up to 4 tasks per thread so the pool can balance them.
 * Every task reads its channels' weights and its positions' planes (all
 * input channels), so the split goes along the larger of the two
 * operands: by positions (in whole tiles) when the planes outweigh the
 * weights (early layers), else by channels (in whole tile rows). */
static void partition(direct_job *J, int threads)
{
    const mn_kernels_f32 *kr = J->kr;
    int64_t parts = 4 * (int64_t)threads;
    int64_t tiles = ceil_div(J->span, kr->nr), rows = ceil_div(J->mg, kr->mr);
    double wbytes = (double)J->mg * (double)J->k;
    double pbytes = (double)J->g.in_floats;
    J->tm = J->mg;
    J->tj = J->span;
    if (threads > 1) {
        if ((pbytes >= wbytes && tiles >= 2 * threads) || rows < 2 * threads)
            J->tj = J->rows ? ceil_div(J->p->oh, min64(parts, J->p->oh)) *
                                  J->g.wq
                            : ceil_div(tiles, min64(parts, tiles)) * kr->nr;
        else
            J->tm = ceil_div(rows, min64(parts, rows)) * kr->mr;
    }
    J->ntm = ceil_div(J->mg, J->tm);
}

void mn_conv_direct_f32(const mn_kernels_f32 *kr, mn_pool *pool,
                        const mn_conv_params *p, const float *x,
                        const float *w, const mn_wsrc *ws, const float *b,
                        const mn_act *act, const float *residual, float *y,
                        void *scratch)
{
    int64_t cg = p->c / p->group, mg = p->m / p->group;
    int64_t k = cg * p->kh * p->kw, plane = p->oh * p->ow;
    geom g = geometry(p);
    float *xp = scratch, *wy = xp + g.in_floats, *rg = wy + g.out_floats;
    int64_t *boff = (int64_t *)(rg + g.out_floats);
    double macs = (double)mg * (double)plane * (double)k;
    int threads = macs >= MIN_PAR_MACS ? mn_pool_threads(pool) : 1;
    int64_t q = 0, pad_tasks;
    direct_job J = {.kr = kr, .p = p, .g = g, .xp = xp, .boff = boff,
                    .act = act, .wy = wy, .rg = rg, .k = k, .mg = mg,
                    .span = (p->oh - 1) * g.wq + p->ow,
                    .n_planes = cg * g.s * g.s};
    J.rows = mn_conv_direct_f32_rows(kr, p);
    if (threads == 1 || (ws && mn_pool_scratch_bytes(pool) <
                                   mn_conv_direct_f32_wsrc_extra(kr)))
        pool = NULL;
    J.ws = ws;
    J.pool = pool;
    J.apanel = (float *)(boff + k); /* mn_conv_direct_f32_wsrc_extra */
    for (int64_t c = 0; c < cg; c++)
        for (int64_t ki = 0; ki < p->kh; ki++)
            for (int64_t kj = 0; kj < p->kw; kj++)
                boff[q++] = ((c * g.s + ki % g.s) * g.s + kj % g.s) *
                                g.plane_q + ki / g.s * g.wq + kj / g.s;
    partition(&J, threads);
    J.pad_per_task = ceil_div(J.n_planes, min64(J.n_planes, 4 * threads));
    pad_tasks = ceil_div(J.n_planes, J.pad_per_task);
    if (threads > 1 && J.tj < J.span) {
        /* tasks split by positions: pad by bands of rows too, so that the
         * thread that runs a range of rows (the pool hands each thread
         * its own range of tasks first) finds most of their planes in its
         * own cache, not the other core's */
        J.pad_bands = min64(J.g.hq, 4 * threads);
        pad_tasks = J.pad_bands;
    }
    for (int64_t in = 0; in < p->n; in++)
        for (int64_t gi = 0; gi < p->group; gi++) {
            int64_t yo = (in * p->m + gi * mg) * plane;
            J.xg = x + (in * p->c + gi * cg) * p->h * p->w;
            mn_pool_run(pool, pad_task, &J, pad_tasks);
            J.w = w ? w + gi * mg * k : NULL;
            J.ws_row0 = gi * mg;
            J.b = b ? b + gi * mg : NULL;
            J.res = residual ? residual + yo : NULL;
            J.y = y + yo;
            mn_pool_run(pool, direct_task, &J,
                        J.ntm * ceil_div(J.span, J.tj));
        }
}
