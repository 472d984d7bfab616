/* Building the x4 form of an 8-bit convolution input (see q8_x4.h)
 * straight from the NCHW input: each x4 row is interleaved from four
 * source rows, a source row outside the input (padding, or a channel past
 * the group's) being a row of the padding byte, a row needing side
 * padding or a stride-phase gather first copied into a small buffer. The
 * (phase, channel quad) planes are independent tasks on the pool, or bands
 * of rows across all planes when the caller asks (its tasks split the
 * pixels: each thread then builds most of what it reads itself). */
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/q8_x4.h"
#include "kernels/qgemm.h"

/* Below this many x4 bytes the build stays on the calling thread. */
#define MIN_PAR_BYTES 65536

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static size_t round64(size_t v) { return (v + 63) / 64 * 64; }

void mn_q8_x4_init(const mn_conv_params *p, mn_q8_x4 *g)
{
    g->p = *p;
    g->taps4 = 0;
    g->c4n = ceil_div(p->c / p->group, 4);
    mn_q8_pad_dims(p, &g->hp, &g->wp);
    g->hq = ceil_div(g->hp, p->sh);
    g->wq = ceil_div(g->wp, p->sw);
    g->nvp = (p->oh - 1) * g->wq + p->ow;
}

int mn_q8_x4_taps4_can(const mn_conv_params *p)
{
    return p->group == 1 && p->dh == 1 && p->dw == 1 &&
           (p->sw == 1 || p->sw == 2 || p->sw == 4) && p->sh >= 1;
}

void mn_q8_x4_init_taps4(const mn_conv_params *p, mn_q8_x4 *g)
{
    g->p = *p;
    g->taps4 = 1;
    g->c4n = p->c;
    mn_q8_pad_dims(p, &g->hp, &g->wp);
    g->hq = ceil_div(g->hp, p->sh);
    /* the last column quad of the last output column stays in the row */
    g->wq = p->ow + (ceil_div(p->kw, 4) - 1) * 4 / p->sw;
    g->nvp = (p->oh - 1) * g->wq + p->ow;
}

/* Planes: stride phases × channel quads (taps4: row phases × channels). */
static int64_t planes(const mn_q8_x4 *g)
{
    return (g->taps4 ? g->p.sh : g->p.sh * g->p.sw) * g->c4n;
}

size_t mn_q8_x4_bytes(const mn_q8_x4 *g)
{
    return (size_t)(planes(g) * g->hq * g->wq) * 4;
}

int64_t mn_q8_x4_offset(const mn_q8_x4 *g, int64_t c4, int64_t ki,
                        int64_t kj)
{
    const mn_conv_params *p = &g->p;
    if (g->taps4)
        return (((ki % p->sh) * g->c4n + c4) * g->hq * g->wq +
                ki / p->sh * g->wq + kj * 4 / p->sw) * 4;
    int64_t ri = ki * p->dh, cj = kj * p->dw;
    int64_t ph = ri % p->sh * p->sw + cj % p->sw;
    return ((ph * g->c4n + c4) * g->hq * g->wq + ri / p->sh * g->wq +
            cj / p->sw) * 4;
}

/* One builder's row buffers: a row of the padding byte, four rows. */
static size_t row_bytes(const mn_q8_x4 *g)
{
    /* taps4: one padded input row, the 3 bytes the last quad reaches
     * past its first and a vector's slack */
    return round64((size_t)(g->taps4 ? g->wq * g->p.sw + 80 : g->wq + 16));
}

static size_t tmp_bytes(const mn_q8_x4 *g) { return 5 * row_bytes(g); }

size_t mn_q8_x4_scratch(const mn_q8_x4 *g)
{
    return tmp_bytes(g) + round64(mn_q8_x4_bytes(g) + MN_Q8_X4_SLACK);
}

/* Whether a tap reads stride phase (a, b) (1×1 stride 2: only (0, 0)). */
static int phase_used(const mn_conv_params *p, int64_t a, int64_t b)
{
    int ra = 0, rb = 0;
    for (int64_t ki = 0; ki < p->kh; ki++)
        ra |= ki * p->dh % p->sh == a;
    for (int64_t kj = 0; kj < p->kw; kj++)
        rb |= kj * p->dw % p->sw == b;
    return ra && rb;
}

/* Columns j < wq of phase b of padded input row `row` (h × w plane xc):
 * padded column u = j·sw + b is x column u − pl inside the row, else the
 * padding byte. Returns the row (tmp, or the input row itself when no
 * copy is needed). */
static const uint8_t *phase_row(const mn_q8_x4 *g, const uint8_t *xr,
                                int64_t b, uint8_t xpad, uint8_t *tmp)
{
    const mn_conv_params *p = &g->p;
    int64_t sw = p->sw, wq = g->wq;
    /* j in [j0, j1): columns inside the input */
    int64_t j0 = p->pl > b ? ceil_div(p->pl - b, sw) : 0;
    int64_t j1 = min64(wq, p->pl + p->w - b > 0
                               ? ceil_div(p->pl + p->w - b, sw) : 0);
    if (j1 < j0)
        j1 = j0;
    if (sw == 1 && j0 == 0 && j1 == wq)
        return xr + b - p->pl; /* pl == 0: the row itself */
    memset(tmp, xpad, (size_t)wq);
    if (j1 > j0) {
        const uint8_t *s = xr + (j0 * sw + b - p->pl);
        int64_t n = j1 - j0;
        if (sw == 1) {
            memcpy(tmp + j0, s, (size_t)n);
        } else {
            /* the vector gather may read one byte past its last: leave the
             * last one to a plain load (the row may end the tensor) */
            mn_q8_gather_row(s, n - 1, sw, tmp + j0);
            tmp[j1 - 1] = s[(n - 1) * sw];
        }
    }
    return tmp;
}

/* Whether x4's planes are the input planes themselves, interleaved
 * (stride 1, no padding): one row of h·w each. */
static int direct_input(const mn_q8_x4 *g)
{
    const mn_conv_params *p = &g->p;
    return !g->taps4 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0 &&
           g->hq == p->h && g->wq == p->w;
}

typedef struct x4_job {
    const mn_q8_x4 *g;
    const uint8_t *xg;
    uint8_t xpad, flip;
    uint8_t *x4;
    mn_pool *pool;
    uint8_t *tmp0;
    mn_q8_x4_row_fn row; /* the vector row builder, or NULL */
    mn_q8_x4_plane_fn plane; /* the vector plane builder (short rows) */
    mn_q8_x4_taps4_fn taps4; /* the vector taps4 row builder, or NULL */
    int64_t bands;       /* > 0: task t is band t of every plane (row) */
} x4_job;

/* Rows [i0, i1) of plane (phase ph, quad c4) with the vector row builder
 * (dword columns [i0, i1) of the one row when the planes are the input
 * planes themselves). */
static void build_rows(const x4_job *J, int64_t ph, int64_t c4, int64_t i0,
                       int64_t i1)
{
    const mn_q8_x4 *g = J->g;
    const mn_conv_params *p = &g->p;
    int64_t a = ph / p->sw, b = ph % p->sw, cg = p->c / p->group;
    int64_t wq = g->wq;
    uint8_t *dst = J->x4 + (ph * g->c4n + c4) * g->hq * wq * 4;
    if (direct_input(g)) { /* the planes are the rows */
        const uint8_t *r[4];
        for (int u = 0; u < 4; u++)
            r[u] = 4 * c4 + u < cg
                       ? J->xg + (4 * c4 + u) * p->h * p->w + i0 : NULL;
        J->row(r, p->h * p->w - i0, 0, 1, i1 - i0, J->xpad, J->flip,
               dst + i0 * 4);
        return;
    }
    if (J->plane && wq <= MN_Q8_X4_PLANE_WQ) {
        const uint8_t *r[4];
        for (int u = 0; u < 4; u++)
            r[u] = 4 * c4 + u < cg ? J->xg + (4 * c4 + u) * p->h * p->w
                                   : NULL;
        J->plane(r, p->h, p->w, a - p->pt, (int)p->sh, (int)p->sw,
                 b - p->pl, wq, i0, i1, J->xpad, J->flip, dst);
        return;
    }
    for (int64_t i = i0; i < i1; i++) {
        const uint8_t *r[4];
        int64_t row = i * p->sh + a - p->pt;
        for (int u = 0; u < 4; u++) {
            int64_t c = 4 * c4 + u;
            r[u] = c >= cg || row < 0 || row >= p->h
                       ? NULL : J->xg + (c * p->h + row) * p->w;
        }
        J->row(r, p->w, b - p->pl, (int)p->sw, wq, J->xpad, J->flip,
               dst + i * wq * 4);
    }
}

/* Rows [i0, i1) of taps4 plane (row phase a, channel ch), each through
 * its padded input row in tmp (dword j: its bytes j·sw .. j·sw + 3; the
 * VBMI builder where there is one, else a plain loop). */
static void taps4_rows(const x4_job *J, int64_t a, int64_t ch, int64_t i0,
                       int64_t i1, uint8_t *tmp)
{
    const mn_q8_x4 *g = J->g;
    const mn_conv_params *p = &g->p;
    int64_t wq = g->wq, sw = p->sw, len = (wq - 1) * sw + 4;
    uint8_t *dst = J->x4 + (a * g->c4n + ch) * g->hq * wq * 4;
    const uint8_t *xc = J->xg + ch * p->h * p->w;
    /* padded columns [u0, u1) hold the input row */
    int64_t u0 = min64(p->pl, len), u1 = min64(p->pl + p->w, len);
    for (int64_t i = i0; i < i1; i++) {
        int64_t r = i * p->sh + a - p->pt;
        uint8_t *o = dst + i * wq * 4;
        if (r < 0 || r >= p->h) {
            memset(o, J->xpad ^ J->flip, (size_t)(wq * 4));
            continue;
        }
        memset(tmp, J->xpad, (size_t)u0);
        if (u1 > u0)
            memcpy(tmp + u0, xc + r * p->w + (u0 - p->pl), (size_t)(u1 - u0));
        memset(tmp + (u1 > u0 ? u1 : u0), J->xpad,
               (size_t)(len - (u1 > u0 ? u1 : u0)));
        if (J->taps4) {
            J->taps4(tmp, wq, (int)sw, J->flip, o);
        } else {
            for (int64_t j = 0; j < wq; j++)
                for (int t = 0; t < 4; t++)
                    o[4 * j + t] = tmp[j * sw + t] ^ J->flip;
        }
    }
}

/* Task t: band t of every plane (J->bands > 0), or plane (phase t / c4n,
 * quad t % c4n); nothing for a phase no tap reads. */
static void x4_task(void *arg, int64_t t, int thread)
{
    const x4_job *J = arg;
    const mn_q8_x4 *g = J->g;
    const mn_conv_params *p = &g->p;
    if (g->taps4) {
        uint8_t *tmp = J->pool ? mn_pool_scratch(J->pool, thread) : J->tmp0;
        int64_t i0 = 0, i1 = g->hq;
        if (J->bands) {
            i0 = g->hq * t / J->bands, i1 = g->hq * (t + 1) / J->bands;
            for (int64_t a = 0; a < p->sh && a < p->kh; a++)
                for (int64_t ch = 0; ch < g->c4n; ch++)
                    taps4_rows(J, a, ch, i0, i1, tmp);
        } else if (t / g->c4n < p->kh) {
            taps4_rows(J, t / g->c4n, t % g->c4n, i0, i1, tmp);
        }
        return;
    }
    if (J->bands) {
        int64_t n = direct_input(g) ? p->h * p->w : g->hq;
        int64_t i0 = n * t / J->bands, i1 = n * (t + 1) / J->bands;
        for (int64_t ph = 0; ph < p->sh * p->sw; ph++)
            if (phase_used(p, ph / p->sw, ph % p->sw))
                for (int64_t c4 = 0; c4 < g->c4n; c4++)
                    build_rows(J, ph, c4, i0, i1);
        return;
    }
    int64_t ph = t / g->c4n, c4 = t % g->c4n;
    int64_t a = ph / p->sw, b = ph % p->sw, cg = p->c / p->group;
    int64_t wq = g->wq, rb = (int64_t)row_bytes(g);
    if (!phase_used(p, a, b))
        return;
    if (J->row) {
        build_rows(J, ph, c4, 0, direct_input(g) ? p->h * p->w : g->hq);
        return;
    }
    uint8_t *tmp = J->pool ? mn_pool_scratch(J->pool, thread) : J->tmp0;
    uint8_t *padrow = tmp + 4 * rb;
    uint8_t *dst = J->x4 + (ph * g->c4n + c4) * g->hq * wq * 4;
    memset(padrow, J->xpad, (size_t)wq);
    for (int64_t i = 0; i < g->hq; i++) {
        const uint8_t *r[4];
        int64_t row = i * p->sh + a - p->pt; /* input row */
        for (int u = 0; u < 4; u++) {
            int64_t c = 4 * c4 + u;
            if (c >= cg || row < 0 || row >= p->h)
                r[u] = padrow;
            else
                r[u] = phase_row(g, J->xg + (c * p->h + row) * p->w, b,
                                 J->xpad, tmp + u * rb);
        }
        mn_q8_interleave4(r, wq, (int)wq, 1, 0, J->flip, dst + i * wq * 4);
    }
}

uint8_t *mn_q8_x4_build(mn_pool *pool, const mn_q8_x4 *g, const uint8_t *xg,
                        uint8_t xpad, uint8_t flip, int bands, void *scratch)
{
    x4_job J = {.g = g, .xg = xg, .xpad = xpad, .flip = flip,
                .tmp0 = scratch,
                .x4 = (uint8_t *)scratch + tmp_bytes(g)};
    if (mn_isa_active() >= MN_ISA_AVX512 && g->p.sw <= 2) {
        J.row = mn_q8_x4_row_avx512();
        J.plane = mn_q8_x4_plane_avx512();
        if (mn_cpu_has_avx512vbmi())
            J.taps4 = mn_q8_x4_taps4_avx512vbmi();
    }
    if (mn_pool_threads(pool) > 1 && mn_q8_x4_bytes(g) >= MIN_PAR_BYTES &&
        mn_pool_scratch_bytes(pool) >= tmp_bytes(g))
        J.pool = pool;
    if (J.pool && J.row && bands > 1) {
        int64_t n = direct_input(g) ? g->p.h * g->p.w : g->hq;
        J.bands = min64(bands, n);
    }
    mn_pool_run(J.pool, x4_task, &J, J.bands ? J.bands : planes(g));
    /* the last vectors' lanes past the end read here (and are dropped) */
    memset(J.x4 + mn_q8_x4_bytes(g), 0, MN_Q8_X4_SLACK);
    return J.x4;
}
