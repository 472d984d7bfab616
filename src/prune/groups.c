/* Dependency groups: the union-find over channel ids and label arrays the
 * walk (groups_ops.c) builds, the analysis entry point that finalizes
 * classes (removable channels) and groups, and the flat-array helpers a
 * trainer uses for group-sparse (OTO) training: group norms, the proximal
 * group-lasso step and the half-space projection. See groups.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prune/groups.h"
#include "prune/prune_int.h"

/* ---------------------------------------------------------- union-find */

int64_t pg_find(mn_prune_groups *gr, int64_t id)
{
    int64_t r = id;
    while (gr->parent[r] != r)
        r = gr->parent[r];
    while (gr->parent[id] != r) { /* path compression */
        int64_t next = gr->parent[id];
        gr->parent[id] = r;
        id = next;
    }
    return r;
}

static int64_t bfind(mn_prune_groups *gr, int64_t b)
{
    while (gr->bparent[b] != b)
        b = gr->bparent[b] = gr->bparent[gr->bparent[b]];
    return b;
}

/* The smaller root wins, so classes do not depend on union order. */
void pg_union(mn_prune_groups *gr, int64_t a, int64_t b)
{
    int64_t ra = pg_find(gr, a), rb = pg_find(gr, b);
    if (ra != rb) {
        if (rb < ra) {
            int64_t t = ra;
            ra = rb;
            rb = t;
        }
        gr->parent[rb] = ra;
    }
    ra = bfind(gr, gr->block[a]);
    rb = bfind(gr, gr->block[b]);
    if (ra != rb)
        gr->bparent[ra > rb ? ra : rb] = ra < rb ? ra : rb;
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    int64_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    size_t bytes;
    if (!mn_mul_size((size_t)nc, elem, &bytes))
        return 0;
    void *q = mn_realloc(*p, bytes);
    if (!q)
        return 0;
    *p = q;
    *cap = nc;
    return 1;
}

static mn_status new_ids(mn_prune_groups *gr, int64_t n, int64_t *first,
                         mn_ctx *ctx)
{
    int64_t need = gr->n_ids + n;
    if (need > gr->cap_ids) {
        int64_t nc = gr->cap_ids ? gr->cap_ids : 256;
        while (nc < need)
            nc *= 2;
        int64_t *p = mn_realloc(gr->parent, (size_t)nc * sizeof *p);
        if (p)
            gr->parent = p;
        int64_t *b = p ? mn_realloc(gr->block, (size_t)nc * sizeof *b) : NULL;
        if (b)
            gr->block = b;
        int64_t *bp = b ? mn_realloc(gr->bparent, (size_t)nc * sizeof *bp)
                        : NULL;
        if (bp)
            gr->bparent = bp;
        uint8_t *pin = bp ? mn_realloc(gr->pin, (size_t)nc) : NULL;
        if (!pin)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        gr->pin = pin;
        gr->cap_ids = nc;
    }
    *first = gr->n_ids;
    for (int64_t i = gr->n_ids; i < need; i++) {
        gr->parent[i] = i;
        gr->block[i] = *first;
        gr->bparent[i] = i;
        gr->pin[i] = 0;
    }
    gr->n_ids = need;
    return MN_OK;
}

/* -------------------------------------------------------- label arrays */

mn_status pg_lab_new(mn_prune_groups *gr, int64_t n, int *lab, mn_ctx *ctx)
{
    int64_t cap = gr->cap_labs;
    pg_lab *L;
    if (n < 1 || !grow((void **)&gr->labs, &cap, gr->n_labs + 1, sizeof *L))
        return mn_error(ctx, n < 1 ? MN_ERR_SHAPE : MN_ERR_OOM,
                        n < 1 ? "empty channel axis" : "out of memory");
    gr->cap_labs = (int)cap;
    L = &gr->labs[gr->n_labs];
    L->n = n;
    L->id = mn_calloc((size_t)n, sizeof *L->id);
    L->zero = mn_calloc((size_t)n, 1);
    if (!L->id || !L->zero) {
        free(L->id);
        free(L->zero);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    *lab = gr->n_labs++;
    return MN_OK;
}

mn_status pg_fresh(mn_prune_groups *gr, int64_t n, int pinned, int *lab,
                   mn_ctx *ctx)
{
    int64_t first = 0;
    mn_status st = pg_lab_new(gr, n, lab, ctx);
    if (st != MN_OK || (st = new_ids(gr, n, &first, ctx)) != MN_OK)
        return st;
    for (int64_t i = 0; i < n; i++) {
        gr->labs[*lab].id[i] = first + i;
        gr->pin[first + i] = (uint8_t)pinned;
    }
    return MN_OK;
}

mn_status pg_copy(mn_prune_groups *gr, int src, int *lab, mn_ctx *ctx)
{
    mn_status st = pg_lab_new(gr, gr->labs[src].n, lab, ctx);
    if (st != MN_OK)
        return st;
    memcpy(gr->labs[*lab].id, gr->labs[src].id,
           (size_t)gr->labs[src].n * sizeof(int64_t));
    memcpy(gr->labs[*lab].zero, gr->labs[src].zero, (size_t)gr->labs[src].n);
    return MN_OK;
}

void pg_pin_lab(mn_prune_groups *gr, int lab)
{
    for (int64_t i = 0; i < gr->labs[lab].n; i++)
        gr->pin[gr->labs[lab].id[i]] = 1;
}

void pg_set(mn_prune_groups *gr, int v, int lab, int axis)
{
    if (v < 0)
        return;
    gr->vlab[v] = lab;
    gr->vaxis[v] = axis;
    if (gr->g->values[v].is_output)
        pg_pin_lab(gr, lab);
}

mn_status pg_member_add(mn_prune_groups *gr, int node, int slot, int axis,
                        pg_kind kind, int lab, int64_t elem, mn_ctx *ctx)
{
    int64_t cap = gr->cap_mem;
    if (!grow((void **)&gr->mem, &cap, gr->n_mem + 1, sizeof *gr->mem))
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    gr->cap_mem = (int)cap;
    gr->mem[gr->n_mem++] = (pg_member){node, slot, axis, kind, lab, elem};
    return MN_OK;
}

mn_status pg_mac_add(mn_prune_groups *gr, int node, int64_t macs, int lab_out,
                     int lab_in, mn_ctx *ctx)
{
    int64_t cap = gr->cap_macs;
    if (!grow((void **)&gr->macs, &cap, gr->n_macs + 1, sizeof *gr->macs))
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    gr->cap_macs = (int)cap;
    gr->macs[gr->n_macs++] = (pg_mac){node, macs, lab_out, lab_in};
    return MN_OK;
}

int pg_dims(const mn_prune_groups *gr, int v, mn_tensor *t)
{
    return v >= 0 && mn_shapes_get(&gr->shapes, v, t);
}

void pg_pin_inputs(mn_prune_groups *gr, int ni)
{
    const mn_node *n = &gr->g->nodes[ni];
    int any = 0;
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0 && gr->vlab[n->in[j]] >= 0) {
            pg_pin_lab(gr, gr->vlab[n->in[j]]);
            any = 1;
        }
    if (any && !gr->pinned_by[0])
        snprintf(gr->pinned_by, sizeof gr->pinned_by, "%s '%s'", n->op_type,
                 mn_prune_node_name(gr->g, ni));
}

void pg_unresolved(mn_prune_groups *gr, int ni, const char *why)
{
    const mn_node *n = &gr->g->nodes[ni];
    if (!gr->n_unresolved++)
        snprintf(gr->unresolved, sizeof gr->unresolved,
                 "layer '%s' (%s): %s", mn_prune_node_name(gr->g, ni),
                 n->op_type, why);
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0 && gr->vlab[n->in[j]] >= 0)
            pg_pin_lab(gr, gr->vlab[n->in[j]]);
}

/* ------------------------------------------------------------ analysis */

void mn_prune_groups_destroy(mn_prune_groups *gr)
{
    if (!gr)
        return;
    mn_shapes_free(&gr->shapes);
    for (int i = 0; i < gr->n_labs; i++) {
        free(gr->labs[i].id);
        free(gr->labs[i].zero);
    }
    free(gr->labs);
    free(gr->parent);
    free(gr->block);
    free(gr->bparent);
    free(gr->pin);
    free(gr->vlab);
    free(gr->vaxis);
    free(gr->mem);
    free(gr->macs);
    free(gr->cls_of);
    free(gr->cls_root);
    free(gr->cls_group);
    free(gr->bind_start);
    free(gr->bind_idx);
    free(gr);
}

/* Folds shape chains into constants (a Reshape after Shape→Gather→Concat
 * gets a constant shape) so the walk sees constants. */
static mn_status prepare(mn_graph *g, mn_ctx *ctx)
{
    int changed = 0;
    mn_status st = mn_graph_toposort(g, ctx);
    if (st == MN_OK)
        st = mn_pass_const_fold(g, &changed, ctx);
    if (st == MN_OK)
        st = mn_pass_simplify(g, &changed, ctx);
    if (st == MN_OK)
        st = mn_graph_prune_dead(g, ctx);
    if (st == MN_OK)
        st = mn_graph_toposort(g, ctx);
    return st;
}

/* Graph inputs with a channel axis (rank >= 2: axis 1) get pinned ids. */
static mn_status seed_inputs(mn_prune_groups *gr, mn_ctx *ctx)
{
    for (int i = 0; i < gr->g->n_inputs; i++) {
        int v = gr->g->inputs[i], lab;
        mn_tensor t;
        if (!pg_dims(gr, v, &t) || t.ndim < 2 || t.dims[1] < 1)
            continue;
        mn_status st = pg_fresh(gr, t.dims[1], 1, &lab, ctx);
        if (st != MN_OK)
            return st;
        pg_set(gr, v, lab, 1);
    }
    return MN_OK;
}

static mn_status finalize(mn_prune_groups *gr, mn_ctx *ctx)
{
    int64_t n = gr->n_ids;
    int *gmap = NULL;
    gr->cls_of = mn_malloc((size_t)(n + 1) * sizeof *gr->cls_of);
    gr->cls_root = mn_malloc((size_t)(n + 1) * sizeof *gr->cls_root);
    gr->cls_group = mn_malloc((size_t)(n + 1) * sizeof *gr->cls_group);
    gmap = mn_malloc((size_t)(n + 1) * sizeof *gmap);
    if (!gr->cls_of || !gr->cls_root || !gr->cls_group || !gmap) {
        free(gmap);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        if (gr->pin[i])
            gr->pin[pg_find(gr, i)] = 1;
    for (int64_t i = 0; i < n; i++) {
        gr->cls_of[i] = -1;
        gmap[i] = -1;
    }
    for (int64_t i = 0; i < n; i++) {
        if (pg_find(gr, i) != i)
            continue;
        if (gr->pin[i]) {
            gr->n_pinned++;
            continue;
        }
        int64_t b = bfind(gr, gr->block[i]);
        if (gmap[b] < 0)
            gmap[b] = gr->n_groups++;
        gr->cls_root[gr->n_cls] = i;
        gr->cls_group[gr->n_cls] = gmap[b];
        gr->cls_of[i] = gr->n_cls++;
    }
    for (int64_t i = 0; i < n; i++)
        gr->cls_of[i] = gr->cls_of[pg_find(gr, i)];
    free(gmap);
    return MN_OK;
}

mn_status mn_prune_groups_analyze(mn_graph *g, int pin_unresolved,
                                  mn_prune_groups **out, mn_ctx *ctx)
{
    mn_prune_groups *gr;
    mn_status st;
    *out = NULL;
    if (!g)
        return mn_error(ctx, MN_ERR_ARG, "groups: no graph");
    if ((st = prepare(g, ctx)) != MN_OK)
        return mn_error_prefix(ctx, st, "%s", g->source ? g->source : "model");
    if (!(gr = mn_calloc(1, sizeof *gr)))
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    gr->g = g;
    gr->pin_unresolved = pin_unresolved;
    gr->vlab = mn_malloc((size_t)(g->n_values + 1) * sizeof *gr->vlab);
    gr->vaxis = mn_calloc((size_t)(g->n_values + 1), sizeof *gr->vaxis);
    if (!gr->vlab || !gr->vaxis) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    for (int v = 0; v < g->n_values; v++)
        gr->vlab[v] = -1;
    if ((st = mn_shapes_compute(g, &gr->shapes, ctx)) != MN_OK) {
        st = mn_error_prefix(ctx, st, "channel analysis needs static shapes");
        goto fail;
    }
    if ((st = seed_inputs(gr, ctx)) != MN_OK)
        goto fail;
    for (int i = 0; i < g->n_nodes; i++)
        if ((st = pg_walk_node(gr, i, ctx)) != MN_OK) {
            char lb[300];
            st = mn_error_prefix(ctx, st, "%s: %s",
                                 g->source ? g->source : "model",
                                 mn_node_label(g, i, lb, sizeof lb));
            goto fail;
        }
    if (gr->n_unresolved && !pin_unresolved) {
        st = mn_error(ctx, MN_ERR_UNSUPPORTED,
                      "%s: cannot resolve the channel coupling at %s%s "
                      "(--pin-unresolved keeps those channels instead)",
                      g->source ? g->source : "model", gr->unresolved,
                      gr->n_unresolved > 1 ? " and elsewhere" : "");
        goto fail;
    }
    if ((st = finalize(gr, ctx)) != MN_OK)
        goto fail;
    *out = gr;
    return MN_OK;
fail:
    mn_prune_groups_destroy(gr);
    return st;
}

int64_t mn_prune_groups_count(const mn_prune_groups *gr)
{
    return gr ? gr->n_cls : 0;
}

const char *mn_prune_groups_name(const mn_prune_groups *gr, int64_t i,
                                 char *buf, size_t len)
{
    snprintf(buf, len, "channel group %lld", (long long)i);
    for (int k = 0; gr && i >= 0 && i < gr->n_cls && k < gr->n_mem; k++) {
        const pg_member *m = &gr->mem[k];
        if (m->kind != PG_W_OUT)
            continue;
        for (int64_t p = 0; p < gr->labs[m->lab].n; p++)
            if (pg_cls(gr, m->lab, p) == i) {
                snprintf(buf, len, "%s:%lld",
                         mn_prune_node_name(gr->g, m->node), (long long)p);
                return buf;
            }
    }
    return buf;
}

/* --------------------------------------------------- flat-array helpers */

static int zig_kind(pg_kind k)
{
    return k == PG_W_OUT || k == PG_BIAS || k == PG_BN_GAMMA ||
           k == PG_BN_BETA || k == PG_AFFINE;
}

/* Visits every element of the zero-invariant members found in the layout:
 * counts them per class into count[c + 1], or (count NULL) writes their
 * flat indices at fill[c]. */
static void for_bound(mn_prune_groups *gr, const mn_param_ref *layout,
                      int n_layout, int64_t *count, int64_t *fill)
{
    const mn_graph *g = gr->g;
    for (int k = 0; k < gr->n_mem; k++) {
        const pg_member *m = &gr->mem[k];
        if (!zig_kind(m->kind))
            continue;
        int v = g->nodes[m->node].in[m->slot], dup = 0, at = -1;
        if (v < 0 || !g->values[v].init)
            continue;
        for (int j = 0; j < k && !dup; j++)
            dup = zig_kind(gr->mem[j].kind) && gr->mem[j].axis == m->axis &&
                  g->nodes[gr->mem[j].node].in[gr->mem[j].slot] == v;
        const mn_tensor *t = g->values[v].init;
        for (int j = 0; j < n_layout && at < 0; j++)
            if (layout[j].name && !strcmp(layout[j].name, g->values[v].name) &&
                layout[j].numel == mn_tensor_numel(t))
                at = j;
        if (dup || at < 0 || t->dtype != MN_DT_F32)
            continue;
        int64_t inner = pg_inner(t, m->axis), dim = t->dims[m->axis];
        for (int64_t i = 0; i < mn_tensor_numel(t); i++) {
            int64_t c = pg_cls(gr, m->lab, (i / inner) % dim);
            if (c < 0)
                continue;
            if (count)
                count[c + 1]++;
            else
                gr->bind_idx[fill[c]++] = layout[at].offset + i;
        }
    }
}

mn_status mn_prune_groups_bind(mn_prune_groups *gr, const mn_param_ref *layout,
                               int n_layout, mn_ctx *ctx)
{
    int64_t *fill;
    free(gr->bind_start);
    free(gr->bind_idx);
    gr->bind_idx = NULL;
    gr->bind_start = mn_calloc((size_t)gr->n_cls + 2, sizeof(int64_t));
    fill = mn_calloc((size_t)gr->n_cls + 1, sizeof *fill);
    if (!gr->bind_start || !fill) {
        free(fill);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    for_bound(gr, layout, n_layout, gr->bind_start, NULL);
    for (int64_t c = 0; c < gr->n_cls; c++)
        gr->bind_start[c + 1] += gr->bind_start[c];
    gr->bind_idx = mn_malloc((size_t)gr->bind_start[gr->n_cls] * 8 + 8);
    if (!gr->bind_idx) {
        free(fill);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    memcpy(fill, gr->bind_start, (size_t)gr->n_cls * sizeof *fill);
    for_bound(gr, layout, n_layout, NULL, fill);
    free(fill);
    return MN_OK;
}

int64_t mn_prune_groups_indices(const mn_prune_groups *gr, int64_t i,
                                const int64_t **idx)
{
    *idx = NULL;
    if (!gr || !gr->bind_start || i < 0 || i >= gr->n_cls)
        return 0;
    *idx = gr->bind_idx + gr->bind_start[i];
    return gr->bind_start[i + 1] - gr->bind_start[i];
}

static double norm_of(const mn_prune_groups *gr, const float *x, int64_t c)
{
    double s = 0;
    for (int64_t k = gr->bind_start[c]; k < gr->bind_start[c + 1]; k++)
        s += (double)x[gr->bind_idx[k]] * x[gr->bind_idx[k]];
    return sqrt(s);
}

void mn_prune_groups_norms(const mn_prune_groups *gr, const float *params,
                           double *norms)
{
    for (int64_t c = 0; gr->bind_start && c < gr->n_cls; c++)
        norms[c] = norm_of(gr, params, c);
}

int64_t mn_prune_groups_prox(const mn_prune_groups *gr, const uint8_t *sel,
                             float *params, double t)
{
    int64_t zero = 0;
    for (int64_t c = 0; gr->bind_start && c < gr->n_cls; c++) {
        if (sel && !sel[c])
            continue;
        double nrm = norm_of(gr, params, c);
        float s = nrm > t ? (float)(1.0 - t / nrm) : 0.0f;
        for (int64_t k = gr->bind_start[c]; k < gr->bind_start[c + 1]; k++)
            params[gr->bind_idx[k]] *= s;
        zero += s == 0.0f;
    }
    return zero;
}

int64_t mn_prune_groups_halfspace(const mn_prune_groups *gr,
                                  const uint8_t *sel, const float *before,
                                  float *params, double eps)
{
    int64_t zero = 0;
    for (int64_t c = 0; gr->bind_start && c < gr->n_cls; c++) {
        double dot = 0, nb = 0;
        if (sel && !sel[c])
            continue;
        for (int64_t k = gr->bind_start[c]; k < gr->bind_start[c + 1]; k++) {
            int64_t i = gr->bind_idx[k];
            dot += (double)params[i] * before[i];
            nb += (double)before[i] * before[i];
        }
        if (nb > 0 && dot < eps * nb) {
            for (int64_t k = gr->bind_start[c]; k < gr->bind_start[c + 1];
                 k++)
                params[gr->bind_idx[k]] = 0.0f;
            zero++;
        }
    }
    return zero;
}
