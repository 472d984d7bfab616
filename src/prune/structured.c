/* Structured (channel) pruning over dependency groups: score every
 * removable channel (L1/L2 of its weight slices, BatchNorm |gamma|, or the
 * first-order Taylor term from caller-supplied gradients), choose which to
 * remove (the same fraction of every group, or one global ranking, until a
 * channel fraction or a MAC target is met; or, for the zero and oto
 * methods, exactly the channels that are identically zero where other
 * channels read them), then slice every member so the graph is a smaller
 * dense model. The result is re-shaped and compiled before it is handed
 * back. mn_prune_structured_select makes the channel choice alone, for
 * group-sparse training (oto.c) to pick the groups it drives to zero. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/session.h"
#include "prune/groups.h"
#include "prune/prune_int.h"

typedef struct sp {
    mn_graph *g;
    mn_prune_groups *gr;
    const mn_prune_opts *o;
    double *score;     /* per class */
    uint8_t *removed;  /* per class */
    int64_t *gstart;   /* per group: its classes in gorder[gstart[k]..] */
    int64_t *gorder;   /* ascending score within each group */
    int64_t *gsorted;  /* all classes by normalized score (global scope) */
    int keep_min;
    int64_t macs_total;
} sp;

static const mn_tensor *member_tensor(const sp *s, const pg_member *m)
{
    if (m->slot < 0)
        return NULL;
    int v = s->g->nodes[m->node].in[m->slot];
    const mn_tensor *t = v >= 0 ? s->g->values[v].init : NULL;
    return t && t->dtype == MN_DT_F32 && t->ndim > m->axis ? t : NULL;
}

/* ------------------------------------------------------------- scoring */

static const mn_prune_grad *grad_of(const sp *s, const pg_member *m,
                                    const mn_tensor *t)
{
    const char *name = s->g->values[s->g->nodes[m->node].in[m->slot]].name;
    for (int k = 0; k < s->o->n_grads; k++)
        if (s->o->grads[k].name && !strcmp(s->o->grads[k].name, name) &&
            s->o->grads[k].numel == mn_tensor_numel(t) && s->o->grads[k].data)
            return &s->o->grads[k];
    return NULL;
}

/* Adds member m's per-class |w| sums (p=1), squared sums (p=2) or w·g sums
 * (taylor) into acc; returns 0 when the member has nothing to add. */
static int member_sums(const sp *s, const pg_member *m, int p, double *acc)
{
    const mn_tensor *t = member_tensor(s, m);
    const mn_prune_grad *gd = NULL;
    if (!t || (p == 0 && !(gd = grad_of(s, m, t))))
        return 0;
    const float *w = t->data;
    int64_t inner = pg_inner(t, m->axis), dim = t->dims[m->axis];
    for (int64_t i = 0; i < mn_tensor_numel(t); i++) {
        int64_t c = pg_cls(s->gr, m->lab, (i / inner) % dim);
        if (c < 0)
            continue;
        acc[c] += p == 1   ? fabs((double)w[i])
                  : p == 2 ? (double)w[i] * w[i]
                           : (double)w[i] * gd->data[i];
    }
    return 1;
}

/* L1 (p=1) or L2 (p=2) scores into out: every weight slice counts on an
 * equal footing, its per-channel norms divided by their mean over the
 * channels that weight holds. */
static mn_status norm_scores(const sp *s, int p, double *out, mn_ctx *ctx)
{
    mn_prune_groups *gr = s->gr;
    int64_t nc = gr->n_cls;
    double *acc = mn_calloc((size_t)nc + 1, sizeof *acc);
    uint8_t *seen = mn_calloc((size_t)nc + 1, 1);
    if (!acc || !seen) {
        free(acc);
        free(seen);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    for (int k = 0; k < gr->n_mem; k++) {
        const pg_member *m = &gr->mem[k];
        if (m->kind != PG_W_OUT && m->kind != PG_W_IN)
            continue;
        memset(acc, 0, (size_t)nc * sizeof *acc);
        memset(seen, 0, (size_t)nc);
        if (!member_sums(s, m, p, acc))
            continue;
        for (int64_t q = 0; q < gr->labs[m->lab].n; q++)
            if (pg_cls(gr, m->lab, q) >= 0)
                seen[pg_cls(gr, m->lab, q)] = 1;
        double tot = 0;
        int64_t cnt = 0;
        for (int64_t c = 0; c < nc; c++) {
            if (p == 2)
                acc[c] = sqrt(acc[c]);
            tot += acc[c];
            cnt += seen[c];
        }
        for (int64_t c = 0; c < nc && tot > 0; c++)
            out[c] += acc[c] * (double)cnt / tot;
    }
    free(acc);
    free(seen);
    return MN_OK;
}

static mn_status scores(sp *s, int *bn_fallback, mn_ctx *ctx)
{
    mn_prune_groups *gr = s->gr;
    int64_t nc = gr->n_cls;
    int crit = s->o->criterion, found = 0;
    if (crit == MN_PRUNE_L1 || crit == MN_PRUNE_L2)
        return norm_scores(s, crit == MN_PRUNE_L1 ? 1 : 2, s->score, ctx);
    if (crit == MN_PRUNE_TAYLOR) {
        /* (sum over the channel's parameters of w·dL/dw)^2 */
        for (int k = 0; k < gr->n_mem; k++) {
            const pg_member *m = &gr->mem[k];
            if (m->kind != PG_ATTR_GROUP && m->kind != PG_SHAPE &&
                m->kind != PG_BN_STAT)
                found += member_sums(s, m, 0, s->score);
        }
        if (!found)
            return mn_error(ctx, MN_ERR_ARG,
                            "the taylor criterion needs gradients: none of "
                            "the %d given matches a weight of the channel "
                            "groups", s->o->n_grads);
        for (int64_t c = 0; c < nc; c++)
            s->score[c] *= s->score[c];
        return MN_OK;
    }
    /* BatchNorm |gamma|; groups with a channel lacking one use L2 */
    uint8_t *has = mn_calloc((size_t)nc + 1, 1);
    uint8_t *gfb = mn_calloc((size_t)gr->n_groups + 1, 1);
    double *l2 = mn_calloc((size_t)nc + 1, sizeof *l2);
    mn_status st = MN_OK;
    if (!has || !gfb || !l2) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int k = 0; k < gr->n_mem; k++) {
        const pg_member *m = &gr->mem[k];
        const mn_tensor *t = member_tensor(s, m);
        if (m->kind != PG_BN_GAMMA || !t)
            continue;
        for (int64_t q = 0; q < t->dims[0]; q++) {
            int64_t c = pg_cls(gr, m->lab, q);
            if (c >= 0) {
                s->score[c] += fabs(((const float *)t->data)[q]);
                has[c] = 1;
            }
        }
    }
    for (int64_t c = 0; c < nc; c++)
        gfb[gr->cls_group[c]] |= !has[c];
    if ((st = norm_scores(s, 2, l2, ctx)) != MN_OK)
        goto out;
    for (int64_t c = 0; c < nc; c++)
        if (gfb[gr->cls_group[c]])
            s->score[c] = l2[c];
    for (int k = 0; k < gr->n_groups; k++)
        *bn_fallback += gfb[k];
out:
    free(has);
    free(gfb);
    free(l2);
    return st;
}

/* ----------------------------------------------------------- selection */

typedef struct ranked {
    double key;
    int64_t c;
} ranked;

static int by_key(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->c < y->c ? -1 : x->c > y->c;
}

/* Per-group orders by ascending score and one global order by the score
 * divided by its group's maximum; ties go to the lower class. */
static mn_status orders(sp *s, mn_ctx *ctx)
{
    mn_prune_groups *gr = s->gr;
    int64_t nc = gr->n_cls, *fill;
    double *gmax;
    ranked *rk;
    s->gstart = mn_calloc((size_t)gr->n_groups + 2, sizeof *s->gstart);
    s->gorder = mn_malloc((size_t)(nc + 1) * sizeof *s->gorder);
    s->gsorted = mn_malloc((size_t)(nc + 1) * sizeof *s->gsorted);
    fill = mn_calloc((size_t)gr->n_groups + 1, sizeof *fill);
    gmax = mn_calloc((size_t)gr->n_groups + 1, sizeof *gmax);
    rk = mn_malloc((size_t)(nc + 1) * sizeof *rk);
    if (!s->gstart || !s->gorder || !s->gsorted || !fill || !gmax || !rk) {
        free(fill);
        free(gmax);
        free(rk);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    for (int64_t c = 0; c < nc; c++) {
        int k = gr->cls_group[c];
        s->gstart[k + 1]++;
        if (s->score[c] > gmax[k])
            gmax[k] = s->score[c];
    }
    for (int k = 0; k < gr->n_groups; k++)
        s->gstart[k + 1] += s->gstart[k];
    for (int64_t c = 0; c < nc; c++) {
        int k = gr->cls_group[c];
        rk[s->gstart[k] + fill[k]++] = (ranked){s->score[c], c};
    }
    for (int k = 0; k < gr->n_groups; k++)
        qsort(rk + s->gstart[k], (size_t)(s->gstart[k + 1] - s->gstart[k]),
              sizeof *rk, by_key);
    for (int64_t j = 0; j < nc; j++)
        s->gorder[j] = rk[j].c;
    for (int64_t c = 0; c < nc; c++) {
        double mx = gmax[gr->cls_group[c]];
        rk[c] = (ranked){mx > 0 ? s->score[c] / mx : 0, c};
    }
    qsort(rk, (size_t)nc, sizeof *rk, by_key);
    for (int64_t j = 0; j < nc; j++)
        s->gsorted[j] = rk[j].c;
    free(fill);
    free(gmax);
    free(rk);
    return MN_OK;
}

/* Channels a group of T keeps when it would keep `kept`: at least
 * keep_min, rounded up to a multiple of round_to, at most T. */
static int64_t kept_count(const sp *s, int64_t T, int64_t kept)
{
    int64_t R = s->o->round_to > 1 ? s->o->round_to : 1;
    if (kept < s->keep_min)
        kept = s->keep_min;
    kept = (kept + R - 1) / R * R;
    return kept < T ? kept : T;
}

static void remove_uniform(sp *s, double f)
{
    memset(s->removed, 0, (size_t)s->gr->n_cls);
    for (int k = 0; k < s->gr->n_groups; k++) {
        int64_t T = s->gstart[k + 1] - s->gstart[k];
        int64_t r = T - kept_count(s, T, T - (int64_t)floor(f * (double)T +
                                                              1e-9));
        for (int64_t j = 0; j < r; j++)
            s->removed[s->gorder[s->gstart[k] + j]] = 1;
    }
}

static void remove_global(sp *s, int64_t K)
{
    int64_t *left = mn_calloc((size_t)s->gr->n_groups + 1, sizeof *left);
    memset(s->removed, 0, (size_t)s->gr->n_cls);
    if (!left)
        return; /* nothing removed; the caller's MAC check still holds */
    for (int k = 0; k < s->gr->n_groups; k++)
        left[k] = s->gstart[k + 1] - s->gstart[k];
    for (int64_t j = 0; j < s->gr->n_cls && K > 0; j++) {
        int64_t c = s->gsorted[j];
        int k = s->gr->cls_group[c];
        if (left[k] > s->keep_min) {
            s->removed[c] = 1;
            left[k]--;
            K--;
        }
    }
    /* rounding: give back each group's best removed channels */
    for (int k = 0; k < s->gr->n_groups; k++) {
        int64_t T = s->gstart[k + 1] - s->gstart[k];
        int64_t back = kept_count(s, T, left[k]) - left[k];
        for (int64_t j = T - 1; j >= 0 && back > 0; j--) {
            int64_t c = s->gorder[s->gstart[k] + j];
            if (s->removed[c]) {
                s->removed[c] = 0;
                back--;
            }
        }
    }
    free(left);
}

static int64_t kept_positions(const sp *s, int lab)
{
    int64_t kept = 0;
    for (int64_t p = 0; p < s->gr->labs[lab].n; p++) {
        int64_t c = pg_cls(s->gr, lab, p);
        kept += c < 0 || !s->removed[c];
    }
    return kept;
}

static double kept_frac(const sp *s, int lab)
{
    return lab < 0 ? 1.0
                   : (double)kept_positions(s, lab) / (double)s->gr->labs[lab].n;
}

static double est_macs(const sp *s)
{
    double t = 0;
    for (int k = 0; k < s->gr->n_macs; k++) {
        const pg_mac *m = &s->gr->macs[k];
        t += (double)m->macs * kept_frac(s, m->lab_out) * kept_frac(s, m->lab_in);
    }
    return t;
}

static void choose_channels(sp *s, int *target_reached)
{
    const mn_prune_opts *o = s->o;
    int global = o->scope == MN_PRUNE_GLOBAL;
    if (o->target_macs_ratio <= 0) {
        if (global)
            remove_global(s, (int64_t)floor(o->sparsity *
                                            (double)s->gr->n_cls + 1e-9));
        else
            remove_uniform(s, o->sparsity);
        return;
    }
    double target = o->target_macs_ratio * (double)s->macs_total;
    if (global) {
        int64_t lo = 0, hi = s->gr->n_cls;
        remove_global(s, hi);
        if (est_macs(s) > target) {
            *target_reached = 0;
            return;
        }
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            remove_global(s, mid);
            if (est_macs(s) <= target)
                hi = mid;
            else
                lo = mid + 1;
        }
        remove_global(s, hi);
        return;
    }
    double lo = 0, hi = 1;
    remove_uniform(s, 1);
    if (est_macs(s) > target) {
        *target_reached = 0;
        return;
    }
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        remove_uniform(s, mid);
        if (est_macs(s) <= target)
            hi = mid;
        else
            lo = mid;
    }
    remove_uniform(s, hi);
}

/* Zero method: channels identically zero (or multiplied by zero weights)
 * wherever a layer mixes channels, keeping keep_min per group. */
static mn_status choose_zero(sp *s, mn_ctx *ctx)
{
    mn_prune_groups *gr = s->gr;
    uint8_t *ok = mn_malloc((size_t)gr->n_cls + 1);
    if (!ok)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    memset(ok, 1, (size_t)gr->n_cls);
    for (int k = 0; k < gr->n_mem; k++) {
        const pg_member *m = &gr->mem[k];
        const mn_tensor *t = member_tensor(s, m);
        if (m->kind != PG_W_IN)
            continue;
        if (!t) { /* cannot check: keep the channels it reads */
            for (int64_t p = 0; p < gr->labs[m->lab].n; p++)
                if (pg_cls(gr, m->lab, p) >= 0)
                    ok[pg_cls(gr, m->lab, p)] = 0;
            continue;
        }
        int64_t inner = pg_inner(t, m->axis), dim = t->dims[m->axis];
        uint8_t *wnz = mn_calloc((size_t)dim + 1, 1);
        if (!wnz) {
            free(ok);
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        }
        for (int64_t i = 0; i < mn_tensor_numel(t); i++)
            if (((const float *)t->data)[i] != 0.0f)
                wnz[(i / inner) % dim] = 1;
        for (int64_t p = 0; p < dim; p++) {
            int64_t c = pg_cls(gr, m->lab, p);
            if (c >= 0 && wnz[p] && !gr->labs[m->lab].zero[p])
                ok[c] = 0;
        }
        free(wnz);
    }
    memset(s->removed, 0, (size_t)gr->n_cls);
    for (int k = 0; k < gr->n_groups; k++) {
        int64_t T = s->gstart[k + 1] - s->gstart[k], left = T;
        for (int64_t j = 0; j < T; j++) {
            int64_t c = s->gorder[s->gstart[k] + j];
            if (ok[c] && left > s->keep_min) {
                s->removed[c] = 1;
                left--;
            }
        }
    }
    free(ok);
    return MN_OK;
}

/* ------------------------------------------------------------- removal */

static mn_status slice_member(sp *s, const pg_member *m, mn_ctx *ctx)
{
    const pg_lab *L = &s->gr->labs[m->lab];
    int64_t kept = kept_positions(s, m->lab);
    mn_node *n = &s->g->nodes[m->node];
    mn_tensor *t, *nt;
    mn_status st;
    if (kept == L->n)
        return MN_OK;
    if (m->kind == PG_ATTR_GROUP) {
        for (int a = 0; a < n->n_attrs; a++)
            if (!strcmp(n->attrs[a].name, "group"))
                n->attrs[a].i = kept;
        return MN_OK;
    }
    if ((st = mn_pass_private_init(s->g, m->node, m->slot, &t, ctx)) != MN_OK)
        return st;
    if (m->kind == PG_SHAPE) {
        ((int64_t *)t->data)[m->elem] = kept;
        return MN_OK;
    }
    if (m->axis >= t->ndim || t->dims[m->axis] != L->n)
        return mn_error(ctx, MN_ERR_RUNTIME,
                        "internal: '%s' axis %d has %lld entries, the "
                        "channel map %lld",
                        mn_prune_node_name(s->g, m->node), m->axis,
                        (long long)(m->axis < t->ndim ? t->dims[m->axis] : -1),
                        (long long)L->n);
    int64_t dims[MN_MAX_DIMS];
    memcpy(dims, t->dims, sizeof dims);
    dims[m->axis] = kept;
    if ((st = mn_tensor_create(t->dtype, t->ndim, dims, &nt, ctx)) != MN_OK)
        return st;
    size_t blk = (size_t)pg_inner(t, m->axis) * mn_dtype_size(t->dtype);
    int64_t outer = 1, q = 0;
    for (int k = 0; k < m->axis; k++)
        outer *= t->dims[k];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t p = 0; p < L->n; p++) {
            int64_t c = pg_cls(s->gr, m->lab, p);
            if (c >= 0 && s->removed[c])
                continue;
            memcpy((char *)nt->data + (size_t)q++ * blk,
                   (const char *)t->data + (size_t)(o * L->n + p) * blk, blk);
        }
    int v = n->in[m->slot];
    mn_tensor_destroy(s->g->values[v].init);
    s->g->values[v].init = nt;
    s->g->values[v].ndim = nt->ndim;
    memcpy(s->g->values[v].dims, nt->dims, sizeof nt->dims);
    return MN_OK;
}

static mn_status apply(sp *s, mn_ctx *ctx)
{
    mn_graph *g = s->g;
    mn_session *sess = NULL;
    mn_session_opts so = {.batch = 1, .threads = 1};
    mn_status st;
    for (int k = 0; k < s->gr->n_mem; k++)
        if ((st = slice_member(s, &s->gr->mem[k], ctx)) != MN_OK)
            return st;
    for (int v = 0; v < g->n_values; v++) {
        mn_value *val = &g->values[v];
        if (val->init || val->is_input || val->is_output)
            continue;
        val->ndim = -1;
        for (int k = 0; k < MN_MAX_DIMS; k++) {
            free(val->dim_param[k]);
            val->dim_param[k] = NULL;
        }
    }
    if ((st = mn_graph_infer_shapes(g, ctx)) != MN_OK ||
        (st = mn_session_create(g, &so, &sess, ctx)) != MN_OK)
        return mn_error_prefix(ctx, MN_ERR_RUNTIME,
                               "internal: the pruned graph does not compile");
    mn_session_destroy(sess);
    return MN_OK;
}

/* ------------------------------------------------------------- report */

static mn_status report_layers(sp *s, mn_prune_report *r, int after,
                               mn_ctx *ctx)
{
    mn_prune_groups *gr = s->gr;
    if (!after) {
        r->layers = mn_calloc((size_t)gr->n_macs + 1, sizeof *r->layers);
        if (!r->layers)
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        r->n_layers = gr->n_macs;
    }
    for (int k = 0; k < gr->n_macs; k++) {
        const pg_mac *m = &gr->macs[k];
        const mn_node *n = &s->g->nodes[m->node];
        mn_prune_layer *L = &r->layers[k];
        const mn_tensor *w = n->n_in > 1 && n->in[1] >= 0
                                 ? s->g->values[n->in[1]].init
                                 : NULL;
        int64_t ch = m->lab_out >= 0 ? gr->labs[m->lab_out].n : 0;
        if (!after) {
            snprintf(L->name, sizeof L->name, "%s",
                     mn_prune_node_name(s->g, m->node));
            snprintf(L->op, sizeof L->op, "%s", n->op_type);
            L->params = w ? mn_tensor_numel(w) : 0;
            L->channels_before = ch;
            L->macs_before = m->macs;
            L->skipped = 1;
            for (int64_t p = 0; p < ch; p++)
                L->skipped &= pg_cls(gr, m->lab_out, p) < 0;
        } else {
            L->channels_after = m->lab_out >= 0
                                    ? kept_positions(s, m->lab_out)
                                    : 0;
            L->macs_after = (int64_t)llround(
                (double)m->macs * kept_frac(s, m->lab_out) *
                kept_frac(s, m->lab_in));
        }
    }
    return MN_OK;
}

static void sp_free(sp *s)
{
    free(s->score);
    free(s->removed);
    free(s->gstart);
    free(s->gorder);
    free(s->gsorted);
}

/* Scores (channel method), orders and the choice into s->removed. */
static mn_status choose(sp *s, int *bn_fallback, int *target_reached,
                        mn_ctx *ctx)
{
    const mn_prune_opts *o = s->o;
    mn_status st;
    s->keep_min = o->min_channels > 1 ? o->min_channels : 1;
    s->score = mn_calloc((size_t)s->gr->n_cls + 1, sizeof *s->score);
    s->removed = mn_calloc((size_t)s->gr->n_cls + 1, 1);
    if (!s->score || !s->removed)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int k = 0; k < s->gr->n_macs; k++)
        s->macs_total += s->gr->macs[k].macs;
    if (o->method == MN_PRUNE_CHANNEL &&
        (st = scores(s, bn_fallback, ctx)) != MN_OK)
        return st;
    if ((st = orders(s, ctx)) != MN_OK)
        return st;
    if (o->method == MN_PRUNE_CHANNEL) {
        choose_channels(s, target_reached);
        return MN_OK;
    }
    if ((st = choose_zero(s, ctx)) != MN_OK)
        return st;
    /* oto: whether training reached the MAC target it was given */
    if (o->method == MN_PRUNE_OTO && o->target_macs_ratio > 0)
        *target_reached =
            est_macs(s) <= o->target_macs_ratio * (double)s->macs_total + 0.5;
    return MN_OK;
}

mn_status mn_prune_structured_select(mn_prune_groups *gr,
                                     const mn_prune_opts *o, uint8_t *removed,
                                     int *target_reached, mn_ctx *ctx)
{
    mn_prune_opts oc = *o;
    int bn = 0, reached = 1;
    oc.method = MN_PRUNE_CHANNEL;
    sp s = {.g = gr->g, .gr = gr, .o = &oc};
    mn_status st = choose(&s, &bn, &reached, ctx);
    if (st == MN_OK)
        memcpy(removed, s.removed, (size_t)gr->n_cls);
    if (target_reached)
        *target_reached = reached;
    sp_free(&s);
    return st;
}

mn_status mn_prune_structured(mn_graph *g, const mn_prune_opts *o,
                              mn_prune_report *r, mn_ctx *ctx)
{
    sp s = {.g = g, .o = o};
    mn_status st;
    if ((st = mn_prune_groups_analyze(g, o->pin_unresolved, &s.gr, ctx)) !=
        MN_OK)
        return st;
    if (!s.gr->n_cls) {
        st = mn_error(ctx, MN_ERR_ARG,
                      "%s: no removable channel (%lld channels are pinned%s%s)",
                      g->source ? g->source : "model",
                      (long long)s.gr->n_pinned,
                      s.gr->pinned_by[0] ? ", e.g. by " : "",
                      s.gr->pinned_by);
        goto out;
    }
    if ((st = report_layers(&s, r, 0, ctx)) != MN_OK ||
        (st = choose(&s, &r->bn_fallback_groups, &r->target_reached, ctx)) !=
            MN_OK)
        goto out;
    r->groups = s.gr->n_groups;
    r->channels = s.gr->n_cls;
    r->channels_pinned = s.gr->n_pinned;
    for (int64_t c = 0; c < s.gr->n_cls; c++)
        r->channels_removed += s.removed[c];
    r->sparsity = (double)r->channels_removed / (double)s.gr->n_cls;
    if (s.gr->n_unresolved)
        snprintf(r->note, sizeof r->note, "pinned (unresolved): %s",
                 s.gr->unresolved);
    else if (s.gr->pinned_by[0])
        snprintf(r->note, sizeof r->note, "channels pinned by %s and others",
                 s.gr->pinned_by);
    if ((st = report_layers(&s, r, 1, ctx)) != MN_OK ||
        (st = apply(&s, ctx)) != MN_OK)
        goto out;
out:
    sp_free(&s);
    mn_prune_groups_destroy(s.gr);
    return st;
}
