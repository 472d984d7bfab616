/* Unstructured pruning: which weights are prunable, and which of their
 * elements survive under magnitude (per layer or one global threshold),
 * seeded random, or N:M (the n largest |w| of every m consecutive input
 * channels) pruning; then the pass that zeroes the others in the graph.
 *
 * Ties in |w| are broken by position so results never depend on the sort
 * implementation; the random method draws from a splitmix64 stream keyed by
 * the seed, so the same seed gives the same zeros. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prune/prune_int.h"

#define NM_MAX_M 256

const char *mn_prune_node_name(const mn_graph *g, int ni)
{
    const mn_node *n = &g->nodes[ni];
    if (n->name && n->name[0])
        return n->name;
    return n->n_out > 0 && n->out[0] >= 0 ? g->values[n->out[0]].name : "?";
}

/* ---------------------------------------------------------------- layers */

static const mn_tensor *f32_init(const mn_graph *g, const mn_node *n, int slot)
{
    int v = slot < n->n_in ? n->in[slot] : -1;
    const mn_tensor *t = v >= 0 ? g->values[v].init : NULL;
    return t && t->dtype == MN_DT_F32 && t->data ? t : NULL;
}

/* Fills s with the layout of node n's weight; 0 when n is not prunable. */
static int layer_layout(const mn_graph *g, const mn_node *n, pr_seg *s)
{
    const mn_tensor *w = f32_init(g, n, 1);
    if (!w || mn_tensor_numel(w) <= 0)
        return 0;
    s->n = mn_tensor_numel(w);
    s->value = n->in[1];
    switch (n->op) {
    case MN_OP_CONV:
        if (w->ndim < 3)
            return 0;
        s->O = w->dims[0];
        s->I = w->dims[1];
        s->S = s->n / (s->O * s->I);
        return 1;
    case MN_OP_GEMM:
        if (w->ndim != 2)
            return 0;
        if (mn_node_attr_int(n, "transB", 0)) {
            s->O = w->dims[0];
            s->I = w->dims[1];
            s->S = 1;
        } else {
            s->O = 1;
            s->I = w->dims[0];
            s->S = w->dims[1];
        }
        return 1;
    case MN_OP_MATMUL:
        if (w->ndim != 2 || (n->in[0] >= 0 && g->values[n->in[0]].init))
            return 0;
        s->O = 1;
        s->I = w->dims[0];
        s->S = w->dims[1];
        return 1;
    default:
        return 0;
    }
}

mn_status mn_prune_select(const mn_graph *g, const mn_prune_opts *o,
                          pr_seg **segs, int *n_segs, int64_t *total,
                          mn_ctx *ctx)
{
    pr_seg *s = mn_calloc((size_t)g->n_nodes + 1, sizeof *s);
    int n = 0, live = 0;
    *segs = NULL;
    *n_segs = 0;
    *total = 0;
    if (!s)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        pr_seg t = {.node = i};
        int dup = 0;
        if (!layer_layout(g, &g->nodes[i], &t))
            continue;
        for (int k = 0; k < n && !dup; k++)
            dup = s[k].value == t.value;
        if (!dup)
            s[n++] = t;
    }
    if (n > 0 && o->keep_first)
        s[0].skipped = 1;
    if (n > 0 && o->keep_last)
        s[n - 1].skipped = 1;
    for (int k = 0; k < n; k++) {
        s[k].koff = *total;
        *total += s[k].n;
        live += !s[k].skipped;
    }
    if (!n || !live) {
        free(s);
        return mn_error(ctx, MN_ERR_ARG,
                        "%s: no prunable layer%s (pruning needs Conv, Gemm "
                        "or MatMul layers with constant float32 weights)",
                        g->source ? g->source : "model",
                        n ? " left after keeping the first/last layer" : "");
    }
    *segs = s;
    *n_segs = n;
    return MN_OK;
}

mn_status mn_prune_nm_pattern(const mn_prune_opts *o, int *n, int *m,
                              mn_ctx *ctx)
{
    if (o->n || o->m) {
        if (o->n < 1 || o->m < 2 || o->n >= o->m || o->m > NM_MAX_M)
            return mn_error(ctx, MN_ERR_ARG,
                            "N:M pattern %d:%d: need 1 <= N < M <= %d", o->n,
                            o->m, NM_MAX_M);
        *n = o->n;
        *m = o->m;
        return MN_OK;
    }
    for (int mm = 4; mm <= 64; mm++) {
        double keep = (1.0 - o->sparsity) * mm;
        long nn = lround(keep);
        if (nn >= 1 && nn < mm && fabs(keep - (double)nn) < 1e-9) {
            *n = (int)nn;
            *m = mm;
            return MN_OK;
        }
    }
    return mn_error(ctx, MN_ERR_ARG,
                    "sparsity %g is not an N:M pattern with M <= 64; give "
                    "--nm N:M", o->sparsity);
}

/* ------------------------------------------------------------ selection */

typedef struct mag {
    float a;     /* |w|; NaN sorts last */
    int32_t seg;
    int64_t i;
} mag;

static int mag_cmp(const void *pa, const void *pb)
{
    const mag *x = pa, *y = pb;
    int nx = isnan(x->a), ny = isnan(y->a);
    if (nx != ny)
        return nx - ny;
    if (!nx && x->a != y->a)
        return x->a < y->a ? -1 : 1;
    if (x->seg != y->seg)
        return x->seg < y->seg ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias. */
static uint64_t rand_below(uint64_t *s, uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, r;
    do
        r = splitmix64(s);
    while (r >= lim);
    return r % n;
}

static int64_t count_of(double sparsity, int64_t n)
{
    int64_t k = llround(sparsity * (double)n);
    return k < 0 ? 0 : k > n ? n : k;
}

/* Magnitude over the given segments together (one segment: per layer). */
static mn_status magnitude(const pr_seg *segs, const int *which, int nw,
                           const float *const *data, double sparsity,
                           uint8_t *keep, mn_ctx *ctx)
{
    int64_t total = 0, at = 0;
    for (int k = 0; k < nw; k++)
        total += segs[which[k]].n;
    int64_t kill = count_of(sparsity, total);
    if (!kill)
        return MN_OK;
    size_t bytes;
    if (!mn_mul_size((size_t)total, sizeof(mag), &bytes))
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    mag *v = mn_malloc(bytes);
    if (!v)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (%lld weights)",
                        (long long)total);
    for (int k = 0; k < nw; k++) {
        const pr_seg *s = &segs[which[k]];
        for (int64_t i = 0; i < s->n; i++)
            v[at++] = (mag){fabsf(data[which[k]][i]), which[k], i};
    }
    qsort(v, (size_t)total, sizeof *v, mag_cmp);
    for (int64_t j = 0; j < kill; j++)
        keep[segs[v[j].seg].koff + v[j].i] = 0;
    free(v);
    return MN_OK;
}

/* A seeded uniform subset of the given segments' elements. */
static mn_status random_pick(const pr_seg *segs, const int *which, int nw,
                             uint64_t seed, double sparsity, uint8_t *keep,
                             mn_ctx *ctx)
{
    int64_t total = 0;
    for (int k = 0; k < nw; k++)
        total += segs[which[k]].n;
    int64_t kill = count_of(sparsity, total);
    uint64_t st = seed;
    if (!kill)
        return MN_OK;
    size_t bytes;
    if (!mn_mul_size((size_t)total, sizeof(int64_t), &bytes))
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    int64_t *p = mn_malloc(bytes);
    if (!p)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (%lld weights)",
                        (long long)total);
    /* positions in the concatenation of the chosen segments */
    for (int64_t i = 0; i < total; i++)
        p[i] = i;
    for (int64_t j = 0; j < kill; j++) { /* partial Fisher-Yates */
        int64_t r = j + (int64_t)rand_below(&st, (uint64_t)(total - j));
        int64_t t = p[j];
        p[j] = p[r];
        p[r] = t;
    }
    for (int64_t j = 0; j < kill; j++) {
        int64_t pos = p[j];
        int k = 0;
        while (pos >= segs[which[k]].n)
            pos -= segs[which[k++]].n;
        keep[segs[which[k]].koff + pos] = 0;
    }
    free(p);
    return MN_OK;
}

static float nm_key(float x)
{
    return isnan(x) ? INFINITY : fabsf(x);
}

/* Keeps the n largest |w| of every m consecutive input channels. */
static void nm_segment(const pr_seg *s, const float *w, int n, int m,
                       uint8_t *keep)
{
    int64_t idx[NM_MAX_M];
    for (int64_t o = 0; o < s->O; o++)
        for (int64_t sp = 0; sp < s->S; sp++)
            for (int64_t i0 = 0; i0 < s->I; i0 += m) {
                int r = (int)(s->I - i0 < m ? s->I - i0 : m);
                if (r <= n)
                    continue;
                for (int j = 0; j < r; j++)
                    idx[j] = (o * s->I + i0 + j) * s->S + sp;
                /* selection sort of the n largest to the front; rotating
                 * keeps the rest in channel order, so ties go to the lower
                 * channel */
                for (int a = 0; a < n; a++) {
                    int best = a;
                    for (int b = a + 1; b < r; b++)
                        if (nm_key(w[idx[b]]) > nm_key(w[idx[best]]))
                            best = b;
                    if (best > a) {
                        int64_t chosen = idx[best];
                        memmove(&idx[a + 1], &idx[a],
                                (size_t)(best - a) * sizeof *idx);
                        idx[a] = chosen;
                    }
                }
                for (int j = n; j < r; j++)
                    keep[idx[j]] = 0;
            }
}

mn_status mn_prune_keep(const pr_seg *segs, int n_segs,
                        const float *const *data, const mn_prune_opts *o,
                        double sparsity, int nm_n, int nm_m, uint8_t *keep,
                        mn_ctx *ctx)
{
    int *which = mn_calloc((size_t)n_segs + 1, sizeof *which), nw = 0;
    mn_status st = MN_OK;
    if (!which)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int k = 0; k < n_segs; k++) {
        memset(keep + segs[k].koff, 1, (size_t)segs[k].n);
        if (!segs[k].skipped)
            which[nw++] = k;
    }
    switch (o->method) {
    case MN_PRUNE_MAGNITUDE:
        if (o->scope == MN_PRUNE_GLOBAL) {
            st = magnitude(segs, which, nw, data, sparsity, keep, ctx);
            break;
        }
        for (int k = 0; k < nw && st == MN_OK; k++)
            st = magnitude(segs, &which[k], 1, data, sparsity, keep, ctx);
        break;
    case MN_PRUNE_RANDOM:
        if (o->scope == MN_PRUNE_GLOBAL) {
            st = random_pick(segs, which, nw, o->seed, sparsity, keep, ctx);
            break;
        }
        for (int k = 0; k < nw && st == MN_OK; k++)
            st = random_pick(segs, &which[k], 1,
                             o->seed ^ (0x100000001b3ULL * (uint64_t)(k + 1)),
                             sparsity, keep, ctx);
        break;
    case MN_PRUNE_NM:
        for (int k = 0; k < nw; k++)
            if (segs[which[k]].I >= nm_m)
                nm_segment(&segs[which[k]], data[which[k]], nm_n, nm_m,
                           keep + segs[which[k]].koff);
        break;
    default:
        st = mn_error(ctx, MN_ERR_ARG, "method %d is not unstructured",
                      (int)o->method);
    }
    free(which);
    return st;
}

/* ----------------------------------------------------------------- pass */

static int64_t zeros(const float *w, int64_t n)
{
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++)
        z += w[i] == 0.0f;
    return z;
}

mn_status mn_prune_unstructured(mn_graph *g, const mn_prune_opts *o,
                                mn_prune_report *r, mn_ctx *ctx)
{
    pr_seg *segs = NULL;
    int n = 0, nm_n = 0, nm_m = 0;
    int64_t total = 0, pz = 0, pn = 0;
    uint8_t *keep = NULL;
    const float **data = NULL;
    mn_status st;
    if (o->method == MN_PRUNE_NM &&
        (st = mn_prune_nm_pattern(o, &nm_n, &nm_m, ctx)) != MN_OK)
        return st;
    if ((st = mn_prune_select(g, o, &segs, &n, &total, ctx)) != MN_OK)
        return st;
    keep = mn_malloc((size_t)total + 1);
    data = mn_calloc((size_t)n + 1, sizeof *data);
    r->layers = mn_calloc((size_t)n + 1, sizeof *r->layers);
    if (!keep || !data || !r->layers) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    for (int k = 0; k < n; k++) {
        data[k] = g->values[segs[k].value].init->data;
        segs[k].nm_skipped = o->method == MN_PRUNE_NM && segs[k].I < nm_m;
    }
    st = mn_prune_keep(segs, n, data, o, o->sparsity, nm_n, nm_m, keep, ctx);
    if (st != MN_OK)
        goto fail;
    for (int k = 0; k < n; k++) {
        const mn_node *nd = &g->nodes[segs[k].node];
        float *w = g->values[segs[k].value].init->data;
        mn_prune_layer *L = &r->layers[r->n_layers++];
        snprintf(L->name, sizeof L->name, "%s",
                 mn_prune_node_name(g, segs[k].node));
        snprintf(L->op, sizeof L->op, "%s", nd->op_type);
        L->params = segs[k].n;
        L->zeros_before = zeros(w, segs[k].n);
        for (int64_t i = 0; i < segs[k].n; i++)
            if (!keep[segs[k].koff + i])
                w[i] = 0.0f;
        L->zeros_after = zeros(w, segs[k].n);
        L->skipped = segs[k].skipped || segs[k].nm_skipped;
        L->channels_before = L->channels_after = segs[k].O > 1
                                                     ? segs[k].O
                                                     : segs[k].S;
        if (!L->skipped) {
            pz += L->zeros_after;
            pn += L->params;
        }
    }
    r->sparsity = pn ? (double)pz / (double)pn : 0;
    r->n = nm_n;
    r->m = nm_m;
fail:
    free(keep);
    free(data);
    free(segs);
    return st;
}
