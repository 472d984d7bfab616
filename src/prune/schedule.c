/* Gradual pruning: the polynomial sparsity schedule of Zhu & Gupta (2017),
 * as TF-MOT's PolynomialDecay defines it, and pruning masks over a
 * trainer's flat parameter array. The trainer calls mn_prune_mask_update
 * when the schedule says an update is due and mn_prune_mask_apply after
 * every optimizer step, so pruned weights stay zero while the others train
 * (masks fixed between updates). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "prune/prune_int.h"

#define DEFAULT_FREQUENCY 100
#define DEFAULT_POWER 3.0

static int64_t freq_of(const mn_prune_schedule *s)
{
    return s->frequency > 0 ? s->frequency : DEFAULT_FREQUENCY;
}

mn_status mn_prune_schedule_check(const mn_prune_schedule *s, mn_ctx *ctx)
{
    if (!(s->initial_sparsity >= 0 && s->initial_sparsity < 1) ||
        !(s->final_sparsity >= 0 && s->final_sparsity < 1))
        return mn_error(ctx, MN_ERR_ARG,
                        "schedule: sparsities %g → %g must lie in [0, 1)",
                        s->initial_sparsity, s->final_sparsity);
    if (s->initial_sparsity > s->final_sparsity)
        return mn_error(ctx, MN_ERR_ARG,
                        "schedule: initial sparsity %g exceeds final %g",
                        s->initial_sparsity, s->final_sparsity);
    if (s->begin_step < 0 || s->end_step <= s->begin_step)
        return mn_error(ctx, MN_ERR_ARG,
                        "schedule: need 0 <= begin_step (%lld) < end_step "
                        "(%lld)",
                        (long long)s->begin_step, (long long)s->end_step);
    if (s->frequency < 0 || !(s->power >= 0 && s->power <= 100))
        return mn_error(ctx, MN_ERR_ARG,
                        "schedule: frequency %lld and power %g must be "
                        "positive (0 for the defaults 100 and 3)",
                        (long long)s->frequency, s->power);
    return MN_OK;
}

double mn_prune_schedule_sparsity(const mn_prune_schedule *s, int64_t step)
{
    double power = s->power > 0 ? s->power : DEFAULT_POWER;
    int64_t f = freq_of(s);
    if (step < s->begin_step)
        return 0.0;
    if (step >= s->end_step)
        return s->final_sparsity;
    int64_t t = s->begin_step + (step - s->begin_step) / f * f;
    double p = (double)(t - s->begin_step) /
               (double)(s->end_step - s->begin_step);
    return s->final_sparsity + (s->initial_sparsity - s->final_sparsity) *
                                   pow(1.0 - p, power);
}

int mn_prune_schedule_due(const mn_prune_schedule *s, int64_t step)
{
    if (step < s->begin_step || step > s->end_step)
        return 0;
    return step == s->end_step || (step - s->begin_step) % freq_of(s) == 0;
}

/* ----------------------------------------------------------------- masks */

struct mn_prune_mask {
    mn_prune_opts o;
    pr_seg *segs;
    int n;
    int64_t total;
    int64_t *off;  /* segment k starts at params[off[k]] */
    uint8_t *keep; /* total, segment k at keep + segs[k].koff */
    int nm_n, nm_m;
};

void mn_prune_mask_destroy(mn_prune_mask *m)
{
    if (!m)
        return;
    free(m->segs);
    free(m->off);
    free(m->keep);
    free(m);
}

mn_status mn_prune_mask_create(const mn_graph *g, const mn_prune_opts *o,
                               const mn_param_ref *layout, int n_layout,
                               const float *params, mn_prune_mask **out,
                               mn_ctx *ctx)
{
    mn_prune_mask *m = mn_calloc(1, sizeof *m);
    mn_status st = MN_OK;
    *out = NULL;
    if (!m)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    m->o = *o;
    m->o.grads = NULL;
    if (o->method != MN_PRUNE_MAGNITUDE && o->method != MN_PRUNE_RANDOM &&
        o->method != MN_PRUNE_NM) {
        st = mn_error(ctx, MN_ERR_ARG, "masks need an unstructured method "
                                       "(magnitude, random or nm)");
        goto fail;
    }
    if (o->method == MN_PRUNE_NM &&
        (st = mn_prune_nm_pattern(o, &m->nm_n, &m->nm_m, ctx)) != MN_OK)
        goto fail;
    if ((st = mn_prune_select(g, o, &m->segs, &m->n, &m->total, ctx)) != MN_OK)
        goto fail;
    m->off = mn_calloc((size_t)m->n + 1, sizeof *m->off);
    m->keep = mn_malloc((size_t)m->total + 1);
    if (!m->off || !m->keep) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    for (int k = 0; k < m->n; k++) {
        const char *name = g->values[m->segs[k].value].name;
        int found = -1;
        for (int j = 0; j < n_layout && found < 0; j++)
            if (layout[j].name && !strcmp(layout[j].name, name))
                found = j;
        if (found < 0 || layout[found].numel != m->segs[k].n ||
            layout[found].offset < 0) {
            st = mn_error(ctx, MN_ERR_ARG,
                          "weight '%s' (%lld elements) of layer '%s' is %s "
                          "the parameter layout",
                          name, (long long)m->segs[k].n,
                          mn_prune_node_name(g, m->segs[k].node),
                          found < 0 ? "missing from" : "a different size in");
            goto fail;
        }
        m->off[k] = layout[found].offset;
        m->segs[k].nm_skipped =
            o->method == MN_PRUNE_NM && m->segs[k].I < m->nm_m;
        for (int64_t i = 0; i < m->segs[k].n; i++)
            m->keep[m->segs[k].koff + i] =
                m->segs[k].skipped || params[m->off[k] + i] != 0.0f;
    }
    *out = m;
    return MN_OK;
fail:
    mn_prune_mask_destroy(m);
    return st;
}

mn_status mn_prune_mask_update(mn_prune_mask *m, float *params,
                               double sparsity, mn_ctx *ctx)
{
    const float **data;
    mn_status st;
    if (!(sparsity >= 0 && sparsity < 1))
        return mn_error(ctx, MN_ERR_ARG, "sparsity %g is outside [0, 1)",
                        sparsity);
    data = mn_calloc((size_t)m->n + 1, sizeof *data);
    if (!data)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int k = 0; k < m->n; k++)
        data[k] = params + m->off[k];
    st = mn_prune_keep(m->segs, m->n, data, &m->o, sparsity, m->nm_n,
                       m->nm_m, m->keep, ctx);
    free(data);
    if (st == MN_OK)
        mn_prune_mask_apply(m, params);
    return st;
}

void mn_prune_mask_apply(const mn_prune_mask *m, float *x)
{
    for (int k = 0; k < m->n; k++) {
        const uint8_t *keep = m->keep + m->segs[k].koff;
        float *p = x + m->off[k];
        for (int64_t i = 0; i < m->segs[k].n; i++)
            if (!keep[i])
                p[i] = 0.0f;
    }
}

double mn_prune_mask_sparsity(const mn_prune_mask *m)
{
    int64_t z = 0, n = 0;
    for (int k = 0; k < m->n; k++) {
        if (m->segs[k].skipped)
            continue;
        for (int64_t i = 0; i < m->segs[k].n; i++)
            z += !m->keep[m->segs[k].koff + i];
        n += m->segs[k].n;
    }
    return n ? (double)z / (double)n : 0.0;
}
