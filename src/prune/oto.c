/* Group-sparse training in the manner of Only-Train-Once (Chen et al.,
 * NeurIPS 2021; the target-driven selection of OTOv2's DHSPG): the
 * zero-invariant groups are the removable channels of the dependency
 * analysis (groups.c), each with its producing weight slice, bias,
 * BatchNorm gamma/beta and per-channel constants bound into the trainer's
 * flat parameter array. At the start of every epoch the channel-pruning
 * choice (structured.c, with the caller's criterion and target) selects
 * the groups to drive to zero; after every optimizer step they take a
 * proximal group-lasso step, the half-space projection, and a norm bound
 * falling linearly from the group's norm when selected to zero at the
 * zero_at step. A group at zero is held there, so the rest of the run
 * trains (and BatchNorm statistics settle) without it, and the removal
 * pass (mn_prune, method oto) meets the target and leaves the outputs
 * unchanged. The bound makes the target certain whatever lambda; with a
 * large enough lambda the groups reach zero before it. The loop itself is
 * mn_prune_train (finetune.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "prune/groups.h"
#include "prune/prune_int.h"

typedef struct oto {
    mn_prune_groups *gr;
    const mn_prune_opts *o;
    double lambda, eps, zero_at;
    int64_t nc, np;
    int64_t done, stop; /* steps taken; every selected group is zero once
                           stop steps are done */
    int64_t zero;      /* groups exactly zero after the last step */
    uint8_t *sel, *held;
    uint8_t *how;      /* per group: 1 zeroed by a step, 2 by the bound */
    double *norm, *n0; /* n0: norm when selected */
    int64_t *since;    /* step the group was selected at */
    float *before;
} oto;

static void zero_group(const oto *s, float *P, int64_t c)
{
    const int64_t *idx;
    int64_t k = mn_prune_groups_indices(s->gr, c, &idx);
    for (int64_t j = 0; j < k; j++)
        P[idx[j]] = 0.0f;
}

static void scale_group(const oto *s, float *P, int64_t c, float f)
{
    const int64_t *idx;
    int64_t k = mn_prune_groups_indices(s->gr, c, &idx);
    for (int64_t j = 0; j < k; j++)
        P[idx[j]] *= f;
}

static mn_status oto_start(void *user, mn_trainer *t, const mn_param_ref *lay,
                           int n_lay, int64_t steps, mn_ctx *ctx)
{
    oto *s = user;
    mn_status st = mn_prune_groups_bind(s->gr, lay, n_lay, ctx);
    if (st != MN_OK)
        return st;
    s->stop = (int64_t)ceil(s->zero_at * (double)steps);
    if (s->stop < 1)
        s->stop = 1;
    s->np = mn_trainer_num_params(t);
    s->before = mn_malloc((size_t)s->np * sizeof *s->before + 4);
    if (!s->before)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int64_t c = 0; c < s->nc; c++) {
        const int64_t *idx;
        if (mn_prune_groups_indices(s->gr, c, &idx) == 0) {
            char name[160];
            return mn_error(ctx, MN_ERR_UNSUPPORTED,
                            "%s: channel group %s has no trainable "
                            "parameter to drive to zero",
                            s->gr->g->source ? s->gr->g->source : "model",
                            mn_prune_groups_name(s->gr, c, name,
                                                 sizeof name));
        }
    }
    return MN_OK;
}

/* Selection on the weights as they are now (until the stop step); a held
 * group no longer selected trains again. */
static mn_status oto_epoch(void *user, mn_trainer *t, int ep, mn_ctx *ctx)
{
    oto *s = user;
    const float *P = mn_trainer_params(t);
    (void)ep;
    if (s->done >= s->stop)
        return MN_OK;
    mn_trainer_sync(t);
    mn_status st = mn_prune_structured_select(s->gr, s->o, s->sel, NULL, ctx);
    if (st != MN_OK)
        return st;
    mn_prune_groups_norms(s->gr, P, s->norm);
    for (int64_t c = 0; c < s->nc; c++) {
        if (!s->sel[c]) {
            s->held[c] = 0;
            s->how[c] = 0;
            s->since[c] = -1;
        } else if (s->since[c] < 0) {
            s->since[c] = s->done;
            s->n0[c] = s->norm[c];
        }
    }
    return MN_OK;
}

static mn_status oto_before(void *user, float *P, int64_t step, mn_ctx *ctx)
{
    oto *s = user;
    (void)step;
    (void)ctx;
    memcpy(s->before, P, (size_t)s->np * sizeof *P);
    return MN_OK;
}

static void oto_after(void *user, float *P, float lr)
{
    oto *s = user;
    for (int64_t c = 0; c < s->nc; c++)
        if (s->held[c])
            zero_group(s, P, c);
    if (s->lambda > 0)
        mn_prune_groups_prox(s->gr, s->sel, P, (double)lr * s->lambda);
    mn_prune_groups_halfspace(s->gr, s->sel, s->before, P, s->eps);
    mn_prune_groups_norms(s->gr, P, s->norm);
    for (int64_t c = 0; c < s->nc; c++) {
        if (!s->sel[c] || s->held[c])
            continue;
        if (s->norm[c] == 0.0) {
            s->held[c] = 1;
            s->how[c] = 1;
            continue;
        }
        /* the bound after this step */
        double left = (double)(s->stop - s->done - 1) /
                      (double)(s->stop - s->since[c]);
        double cap = left > 0 ? left * s->n0[c] : 0;
        if (cap <= 0) {
            zero_group(s, P, c);
            s->held[c] = 1;
            s->how[c] = 2;
        } else if (s->norm[c] > cap) {
            scale_group(s, P, c, (float)(cap / s->norm[c]));
        }
    }
    s->zero = 0;
    for (int64_t c = 0; c < s->nc; c++)
        s->zero += s->held[c] || s->norm[c] == 0.0;
    s->done++;
}

static double oto_level(void *user)
{
    const oto *s = user;
    return s->nc ? (double)s->zero / (double)s->nc : 0;
}

static mn_status check(const mn_prune_opts *o, const mn_prune_oto_opts *oo,
                       const mn_prune_finetune_opts *fo, mn_ctx *ctx)
{
    if (!(o->sparsity >= 0 && o->sparsity < 1))
        return mn_error(ctx, MN_ERR_ARG, "oto: sparsity %g is outside [0, 1)",
                        o->sparsity);
    if (!(o->target_macs_ratio == 0 ||
          (o->target_macs_ratio > 0 && o->target_macs_ratio < 1)))
        return mn_error(ctx, MN_ERR_ARG, "oto: MAC target %g is outside "
                        "(0, 1)", o->target_macs_ratio);
    if (o->sparsity == 0 && o->target_macs_ratio == 0)
        return mn_error(ctx, MN_ERR_ARG, "oto: needs a sparsity (fraction "
                        "of channels) or a MAC target");
    if (o->criterion == MN_PRUNE_TAYLOR)
        return mn_error(ctx, MN_ERR_ARG, "oto: the taylor criterion is not "
                        "available while training (use l1, l2 or bn)");
    if (!(oo->epsilon >= 0 && oo->epsilon < 1) || !isfinite(oo->lambda) ||
        !(oo->zero_at >= 0 && oo->zero_at <= 1))
        return mn_error(ctx, MN_ERR_ARG, "oto: epsilon %g outside [0, 1), "
                        "zero_at %g outside [0, 1] or lambda %g not finite",
                        oo->epsilon, oo->zero_at, oo->lambda);
    if (fo->schedule.final_sparsity > 0)
        return mn_error(ctx, MN_ERR_ARG, "oto: a gradual schedule is for "
                        "masked fine-tuning");
    return MN_OK;
}

mn_status mn_prune_oto_train(mn_graph *g, const mn_prune_opts *o,
                             const mn_prune_oto_opts *oo,
                             const mn_prune_finetune_opts *fo,
                             mn_prune_oto_result *res, mn_ctx *ctx)
{
    mn_prune_oto_opts none = {0};
    oto s = {.o = o};
    mn_status st;
    memset(res, 0, sizeof *res);
    res->train.test_accuracy = -1;
    if (!g || !o || !fo)
        return mn_error(ctx, MN_ERR_ARG, "oto: no graph or options");
    if (!oo)
        oo = &none;
    if ((st = check(o, oo, fo, ctx)) != MN_OK)
        return st;
    s.lambda = oo->lambda == 0 ? MN_PRUNE_OTO_DEFAULT_LAMBDA : oo->lambda;
    s.eps = oo->epsilon;
    s.zero_at = oo->zero_at > 0 ? oo->zero_at : 0.75;
    if ((st = mn_prune_groups_analyze(g, o->pin_unresolved, &s.gr, ctx)) !=
        MN_OK)
        return st;
    s.nc = mn_prune_groups_count(s.gr);
    if (!s.nc) {
        st = mn_error(ctx, MN_ERR_ARG, "%s: no removable channel",
                      g->source ? g->source : "model");
        goto out;
    }
    s.sel = mn_calloc((size_t)s.nc + 1, 1);
    s.held = mn_calloc((size_t)s.nc + 1, 1);
    s.how = mn_calloc((size_t)s.nc + 1, 1);
    s.norm = mn_calloc((size_t)s.nc + 1, sizeof *s.norm);
    s.n0 = mn_calloc((size_t)s.nc + 1, sizeof *s.n0);
    s.since = mn_malloc((size_t)(s.nc + 1) * sizeof *s.since);
    if (!s.sel || !s.held || !s.how || !s.norm || !s.n0 || !s.since) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int64_t c = 0; c < s.nc; c++)
        s.since[c] = -1;
    pr_hooks h = {.user = &s,
                  .start = oto_start,
                  .epoch = oto_epoch,
                  .before = oto_before,
                  .after = oto_after,
                  .level = oto_level};
    if ((st = mn_prune_train(g, fo, &h, &res->train, ctx)) != MN_OK)
        goto out;
    res->groups = s.nc;
    res->lambda = s.lambda > 0 ? s.lambda : 0;
    res->epsilon = s.eps;
    res->zero_at = s.zero_at;
    for (int64_t c = 0; c < s.nc; c++) {
        res->selected += s.sel[c];
        res->by_step += s.sel[c] && s.how[c] == 1;
        res->by_bound += s.sel[c] && s.how[c] == 2;
    }
    res->zero = s.zero;
out:
    mn_prune_groups_destroy(s.gr);
    free(s.sel);
    free(s.held);
    free(s.how);
    free(s.norm);
    free(s.n0);
    free(s.since);
    free(s.before);
    return st;
}
