/* mn_prune: option checks, the before/after statistics of the report, and
 * dispatch to the unstructured (unstructured.c) or structured
 * (structured.c) pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "prune/prune_int.h"

static const char *const method_names[MN_PRUNE_METHOD_COUNT] = {
    [MN_PRUNE_MAGNITUDE] = "magnitude", [MN_PRUNE_RANDOM] = "random",
    [MN_PRUNE_NM] = "nm",               [MN_PRUNE_CHANNEL] = "channel",
    [MN_PRUNE_ZERO] = "zero",           [MN_PRUNE_OTO] = "oto",
};

static const char *const criterion_names[MN_PRUNE_CRITERION_COUNT] = {
    [MN_PRUNE_L1] = "l1",
    [MN_PRUNE_L2] = "l2",
    [MN_PRUNE_BN] = "bn",
    [MN_PRUNE_TAYLOR] = "taylor",
};

void mn_prune_opts_default(mn_prune_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = MN_PRUNE_MAGNITUDE;
    o->scope = MN_PRUNE_LAYER;
    o->criterion = MN_PRUNE_L1;
    o->min_channels = 1;
}

const char *mn_prune_method_name(mn_prune_method m)
{
    return (unsigned)m < MN_PRUNE_METHOD_COUNT ? method_names[m] : "?";
}

const char *mn_prune_criterion_name(mn_prune_criterion c)
{
    return (unsigned)c < MN_PRUNE_CRITERION_COUNT ? criterion_names[c] : "?";
}

int mn_prune_method_parse(const char *s)
{
    for (int i = 0; s && i < MN_PRUNE_METHOD_COUNT; i++)
        if (!strcmp(s, method_names[i]))
            return i;
    return -1;
}

int mn_prune_criterion_parse(const char *s)
{
    for (int i = 0; s && i < MN_PRUNE_CRITERION_COUNT; i++)
        if (!strcmp(s, criterion_names[i]))
            return i;
    return -1;
}

void mn_prune_report_free(mn_prune_report *r)
{
    if (!r)
        return;
    free(r->layers);
    r->layers = NULL;
    r->n_layers = 0;
}

static mn_status check_opts(const mn_prune_opts *o, mn_ctx *ctx)
{
    int needs_sparsity = o->method == MN_PRUNE_MAGNITUDE ||
                         o->method == MN_PRUNE_RANDOM ||
                         (o->method == MN_PRUNE_CHANNEL &&
                          o->target_macs_ratio == 0) ||
                         (o->method == MN_PRUNE_NM && !o->n && !o->m);
    if ((unsigned)o->method >= MN_PRUNE_METHOD_COUNT)
        return mn_error(ctx, MN_ERR_ARG, "unknown pruning method %d",
                        (int)o->method);
    if ((unsigned)o->scope >= MN_PRUNE_SCOPE_COUNT ||
        (unsigned)o->criterion >= MN_PRUNE_CRITERION_COUNT)
        return mn_error(ctx, MN_ERR_ARG, "unknown pruning scope or criterion");
    if (!(o->sparsity >= 0 && o->sparsity < 1))
        return mn_error(ctx, MN_ERR_ARG,
                        "sparsity %g is outside [0, 1)", o->sparsity);
    if (needs_sparsity && o->sparsity == 0 && o->method == MN_PRUNE_NM)
        return mn_error(ctx, MN_ERR_ARG, "N:M pruning needs a pattern "
                                         "(n:m) or a sparsity");
    if (!(o->target_macs_ratio == 0 ||
          (o->target_macs_ratio > 0 && o->target_macs_ratio < 1)))
        return mn_error(ctx, MN_ERR_ARG,
                        "MAC target %g is outside (0, 1) (the fraction of "
                        "MACs to keep)", o->target_macs_ratio);
    if (o->min_channels < 0)
        return mn_error(ctx, MN_ERR_ARG, "min_channels %d is negative",
                        o->min_channels);
    if (o->n_grads < 0 || (o->n_grads > 0 && !o->grads))
        return mn_error(ctx, MN_ERR_ARG, "bad gradient list");
    return MN_OK;
}

/* Totals from the statistics pass; a graph minnow cannot compile leaves
 * them at -1 (pruning itself does not need to run it). */
static void totals(const mn_graph *g, int64_t *params, int64_t *nz,
                   int64_t *macs, mn_model_stats *keep)
{
    mn_ctx quiet = {{0}};
    mn_model_stats s;
    *params = *nz = *macs = -1;
    if (mn_model_stats_compute(g, &s, &quiet) != MN_OK)
        return;
    *params = s.params;
    *nz = s.nonzero_params;
    *macs = s.macs;
    if (keep)
        *keep = s;
    else
        mn_model_stats_free(&s);
}

/* Per-layer MACs (unstructured pruning does not change them). */
static void layer_macs(mn_prune_report *r, const mn_model_stats *s)
{
    for (int i = 0; i < r->n_layers; i++)
        for (int j = 0; j < s->n_layers; j++)
            if (!strcmp(r->layers[i].name, s->layers[j].name) &&
                !strcmp(r->layers[i].op, s->layers[j].op)) {
                r->layers[i].macs_before = r->layers[i].macs_after =
                    s->layers[j].macs;
                break;
            }
}

mn_status mn_prune(mn_graph *g, const mn_prune_opts *o, mn_prune_report *r,
                   mn_ctx *ctx)
{
    mn_prune_report local;
    mn_model_stats before;
    mn_status st;
    int structured;
    if (!r)
        r = &local;
    memset(r, 0, sizeof *r);
    memset(&before, 0, sizeof before);
    if (!g || !o)
        return mn_error(ctx, MN_ERR_ARG, "prune: no graph or options");
    if ((st = check_opts(o, ctx)) != MN_OK)
        return st;
    r->method = o->method;
    r->target_reached = 1;
    structured = o->method == MN_PRUNE_CHANNEL || o->method == MN_PRUNE_ZERO ||
                 o->method == MN_PRUNE_OTO;
    totals(g, &r->params_before, &r->nonzero_before, &r->macs_before,
           structured ? NULL : &before);
    st = structured ? mn_prune_structured(g, o, r, ctx)
                    : mn_prune_unstructured(g, o, r, ctx);
    if (st == MN_OK && !structured && before.layers)
        layer_macs(r, &before);
    mn_model_stats_free(&before);
    if (st != MN_OK) {
        mn_prune_report_free(r);
        return st;
    }
    totals(g, &r->params_after, &r->nonzero_after, &r->macs_after, NULL);
    if (r == &local)
        mn_prune_report_free(r);
    return MN_OK;
}
