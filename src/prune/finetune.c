/* Pruning-aware training on the training engine (minnow/train.h): one loop
 * (mn_prune_train) runs the trainer's optimizer steps over a shuffled data
 * set and calls the caller's hooks around them. Fine-tuning with masks
 * (mn_prune_finetune) is that loop with the pruning mask re-applied after
 * every step, so pruned weights stay exactly zero (TF-MOT's scheme); with a
 * schedule the mask is recomputed at the due steps, so sparsity rises
 * gradually while training. Group-sparse (OTO) training (oto.c) is the
 * same loop with group-lasso and half-space steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "prune/prune_int.h"

typedef struct ft {
    mn_graph *g;
    mn_trainer *t;
    mn_teacher *teach;
    mn_param_ref *lay;
    int n_lay;
    mn_dataset *data;
    float *x;
    int64_t *y, *perm;
} ft;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Where every trainable initializer sits in the trainer's flat array. */
static mn_status locate(ft *f, mn_ctx *ctx)
{
    int n = mn_trainer_num_tensors(f->t);
    f->lay = mn_calloc((size_t)n + 1, sizeof *f->lay);
    if (!f->lay)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int k = 0; k < n; k++) {
        mn_param_ref *r = &f->lay[f->n_lay++];
        r->name = f->g->values[mn_trainer_tensor(f->t, k, &r->offset,
                                                 &r->numel)].name;
    }
    return MN_OK;
}

static void model_norm(const mn_graph *g, mn_data_opts *d)
{
    const char *keys[2] = {"minnow.mean", "minnow.std"};
    float *dst[2] = {d->mean, d->std};
    int *cnt[2] = {&d->n_mean, &d->n_std};
    for (int k = 0; k < 2; k++) {
        const char *s = mn_graph_meta(g, keys[k]);
        char *end;
        while (s && *s && *cnt[k] < 4) {
            float v = strtof(s, &end);
            if (end == s)
                break;
            dst[k][(*cnt[k])++] = v;
            s = *end == ',' ? end + 1 : end;
        }
    }
    if (!d->n_mean || !d->n_std)
        d->n_mean = d->n_std = 0;
}

static mn_status epoch(ft *f, const pr_hooks *h,
                       const mn_prune_finetune_opts *fo, int ep, int batch,
                       int64_t n, int64_t *step, int64_t total,
                       mn_prune_finetune_result *res, mn_ctx *ctx)
{
    int c, hh, w;
    uint64_t rs = fo->seed * 0x100000001b3ULL + (uint64_t)ep + 1;
    int64_t per = n / batch, hits = 0;
    mn_lr_opts lo = {.kind = MN_LR_COSINE};
    float lr = fo->lr > 0 ? fo->lr : MN_PRUNE_DEFAULT_FT_LR;
    float *P = mn_trainer_params(f->t);
    mn_status st;
    mn_dataset_sample_shape(f->data, &c, &hh, &w);
    size_t chw = (size_t)c * hh * w;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(mix(&rs) % (uint64_t)(i + 1)), t = f->perm[i];
        f->perm[i] = f->perm[j];
        f->perm[j] = t;
    }
    if (h->epoch && (st = h->epoch(h->user, f->t, ep, ctx)) != MN_OK)
        return st;
    for (int64_t b = 0; b < per; b++, (*step)++) {
        mn_step_result sr;
        for (int k = 0; k < batch; k++)
            if ((st = mn_dataset_read(f->data, f->perm[b * batch + k], 1,
                                      f->x + (size_t)k * chw, f->y + k,
                                      ctx)) != MN_OK)
                return st;
        if (h->before && (st = h->before(h->user, P, *step, ctx)) != MN_OK)
            return st;
        float r = mn_lr_at(&lo, lr, *step, per, total);
        const float *tl = NULL;
        if ((f->teach && (st = mn_teacher_logits(f->teach, f->x, batch,
                                                 mn_trainer_classes(f->t),
                                                 &tl, ctx)) != MN_OK) ||
            (st = mn_trainer_step(f->t, f->x, f->y, tl, r, &sr, ctx)) !=
                MN_OK)
            return mn_error_prefix(ctx, st, "training epoch %d, step %lld",
                                   ep + 1, (long long)b + 1);
        if (h->after)
            h->after(h->user, P, r);
        hits += sr.correct;
    }
    res->train_accuracy = per ? (double)hits / (double)(per * batch) : 0;
    return MN_OK;
}

mn_status mn_prune_train(mn_graph *g, const mn_prune_finetune_opts *fo,
                         const pr_hooks *h, mn_prune_finetune_result *res,
                         mn_ctx *ctx)
{
    ft f = {.g = g};
    mn_data_opts dopt;
    mn_train_opts defaults;
    mn_status st;
    double t0 = now_s();
    int batch = fo->batch > 0 ? fo->batch : 128;
    int64_t n, step = 0;
    memset(res, 0, sizeof *res);
    memset(&dopt, 0, sizeof dopt);
    res->test_accuracy = -1;
    if (!fo->data || fo->epochs < 1)
        return mn_error(ctx, MN_ERR_ARG, "training needs data and epochs");
    model_norm(g, &dopt);
    if ((st = mn_dataset_open(fo->data, &dopt, &f.data, ctx)) != MN_OK)
        return st;
    n = mn_dataset_size(f.data);
    if (fo->limit > 0 && fo->limit < n)
        n = fo->limit;
    if (n < batch) {
        st = mn_error(ctx, MN_ERR_ARG, "%s: %lld samples, fewer than one "
                      "batch of %d", fo->data, (long long)n, batch);
        goto out;
    }
    mn_train_opts_default(&defaults);
    mn_trainer_opts to = {.batch = batch,
                          .threads = fo->threads > 0 ? fo->threads : 1,
                          .seed = fo->seed,
                          .label_smoothing = defaults.label_smoothing,
                          .optim = defaults.optim,
                          .distill_alpha = fo->distill_alpha > 0
                                               ? fo->distill_alpha
                                               : MN_DISTILL_DEFAULT_ALPHA,
                          .distill_temperature =
                              fo->distill_temperature > 0
                                  ? fo->distill_temperature
                                  : MN_DISTILL_DEFAULT_TEMPERATURE};
    int c, hh, w;
    mn_dataset_sample_shape(f.data, &c, &hh, &w);
    f.x = mn_malloc((size_t)batch * c * hh * w * sizeof *f.x);
    f.y = mn_malloc((size_t)batch * sizeof *f.y);
    f.perm = mn_malloc((size_t)n * sizeof *f.perm);
    if (!f.x || !f.y || !f.perm) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++)
        f.perm[i] = i;
    if (fo->teacher && (st = mn_teacher_create(fo->teacher, batch,
                                               to.threads, &f.teach, ctx)) !=
                           MN_OK)
        goto out;
    int64_t total = (n / batch) * fo->epochs;
    if ((st = mn_trainer_create(g, &to, &f.t, ctx)) != MN_OK ||
        (st = locate(&f, ctx)) != MN_OK ||
        (h->start &&
         (st = h->start(h->user, f.t, f.lay, f.n_lay, total, ctx)) != MN_OK))
        goto out;
    for (int ep = 0; ep < fo->epochs && st == MN_OK; ep++) {
        st = epoch(&f, h, fo, ep, batch, n, &step, total, res, ctx);
        if (st == MN_OK && fo->progress)
            fo->progress(fo->user, ep + 1, fo->epochs, res->train_accuracy,
                         h->level ? h->level(h->user) : 0, now_s() - t0);
    }
    if (st != MN_OK)
        goto out;
    mn_trainer_sync(f.t);
    res->sparsity = h->level ? h->level(h->user) : 0;
    res->steps = step;
    mn_trainer_destroy(f.t);
    f.t = NULL;
    if (fo->test_data) {
        mn_eval_result ev;
        dopt.limit = fo->test_limit;
        if ((st = mn_eval_accuracy(g, fo->test_data, &dopt, 100, to.threads,
                                   &ev, ctx)) != MN_OK)
            goto out;
        res->test_accuracy = ev.accuracy;
    }
    res->seconds = now_s() - t0;
out:
    mn_teacher_destroy(f.teach);
    mn_trainer_destroy(f.t);
    mn_dataset_destroy(f.data);
    free(f.lay);
    free(f.x);
    free(f.y);
    free(f.perm);
    return st;
}

/* ---- fine-tuning with the mask held ---- */

typedef struct masked {
    const mn_graph *g;
    const mn_prune_opts *o;
    const mn_prune_schedule *sched;
    mn_prune_mask *m;
} masked;

static mn_status mask_start(void *user, mn_trainer *t,
                            const mn_param_ref *lay, int n_lay, int64_t steps,
                            mn_ctx *ctx)
{
    masked *k = user;
    (void)steps;
    return mn_prune_mask_create(k->g, k->o, lay, n_lay, mn_trainer_params(t),
                                &k->m, ctx);
}

static mn_status mask_before(void *user, float *P, int64_t step, mn_ctx *ctx)
{
    masked *k = user;
    if (k->sched->final_sparsity > 0 &&
        mn_prune_schedule_due(k->sched, step))
        return mn_prune_mask_update(
            k->m, P, mn_prune_schedule_sparsity(k->sched, step), ctx);
    return MN_OK;
}

static void mask_after(void *user, float *P, float lr)
{
    (void)lr;
    mn_prune_mask_apply(((masked *)user)->m, P);
}

static double mask_level(void *user)
{
    return mn_prune_mask_sparsity(((masked *)user)->m);
}

mn_status mn_prune_finetune(mn_graph *g, const mn_prune_opts *o,
                            const mn_prune_finetune_opts *fo,
                            mn_prune_finetune_result *res, mn_ctx *ctx)
{
    masked k = {.g = g, .o = o, .sched = &fo->schedule};
    pr_hooks h = {.user = &k,
                  .start = mask_start,
                  .before = mask_before,
                  .after = mask_after,
                  .level = mask_level};
    mn_status st;
    memset(res, 0, sizeof *res);
    res->test_accuracy = -1;
    if (fo->schedule.final_sparsity > 0 &&
        (st = mn_prune_schedule_check(&fo->schedule, ctx)) != MN_OK)
        return st;
    st = mn_prune_train(g, fo, &h, res, ctx);
    mn_prune_mask_destroy(k.m);
    return st;
}
