/* Fine-tuning a pruned model with its masks held: the training engine's
 * trainer (minnow/train.h) runs the optimizer steps, and after every step
 * the pruning mask zeroes the pruned weights again in the trainer's flat
 * parameter array (TF-MOT's scheme); with a schedule the mask is
 * recomputed at the due steps, so sparsity rises gradually while training.
 *
 * The trainer does not publish where each initializer sits in its flat
 * array, so it is located through the documented mn_trainer_sync: the
 * array is filled with each element's own index (as bits), synced into the
 * graph, read back from the weights, then restored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "minnow/train.h"
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

/* Where the prunable weights sit in the trainer's parameter array. */
static mn_status locate(ft *f, const mn_prune_opts *o, mn_ctx *ctx)
{
    int64_t np = mn_trainer_num_params(f->t), total;
    float *P = mn_trainer_params(f->t), *save;
    pr_seg *segs = NULL;
    int n = 0;
    mn_status st = MN_OK;
    if (np <= 0 || np > (int64_t)UINT32_MAX)
        return mn_error(ctx, MN_ERR_ARG, "trainer has %lld parameters",
                        (long long)np);
    if ((st = mn_prune_select(f->g, o, &segs, &n, &total, ctx)) != MN_OK)
        return st;
    save = mn_malloc((size_t)np * sizeof *save);
    f->lay = mn_calloc((size_t)n + 1, sizeof *f->lay);
    if (!save || !f->lay) {
        free(save);
        free(segs);
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    }
    memcpy(save, P, (size_t)np * sizeof *P);
    for (int64_t i = 0; i < np; i++) {
        uint32_t u = (uint32_t)i;
        memcpy(&P[i], &u, sizeof u);
    }
    mn_trainer_sync(f->t);
    for (int k = 0; k < n && st == MN_OK; k++) {
        const mn_value *v = &f->g->values[segs[k].value];
        const float *d = v->init->data;
        uint32_t at, u;
        memcpy(&at, &d[0], sizeof at);
        int ok = (int64_t)at + segs[k].n <= np;
        for (int64_t j = 1; ok && j < segs[k].n; j++) {
            memcpy(&u, &d[j], sizeof u);
            ok = u == at + (uint32_t)j;
        }
        if (!ok)
            st = mn_error(ctx, MN_ERR_RUNTIME,
                          "weight '%s' is not a trainable parameter",
                          v->name);
        f->lay[f->n_lay++] = (mn_param_ref){v->name, at, segs[k].n};
    }
    memcpy(P, save, (size_t)np * sizeof *P);
    mn_trainer_sync(f->t);
    free(save);
    free(segs);
    return st;
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

static mn_status epoch(ft *f, mn_prune_mask *m, const mn_prune_finetune_opts *fo,
                       int ep, int batch, int64_t n, int64_t *step,
                       int64_t total, mn_prune_finetune_result *res,
                       mn_ctx *ctx)
{
    int c, h, w;
    uint64_t rs = fo->seed * 0x100000001b3ULL + (uint64_t)ep + 1;
    int64_t per = n / batch, hits = 0;
    mn_lr_opts lo = {.kind = MN_LR_COSINE};
    float lr = fo->lr > 0 ? fo->lr : MN_PRUNE_DEFAULT_FT_LR;
    float *P = mn_trainer_params(f->t);
    mn_status st;
    mn_dataset_sample_shape(f->data, &c, &h, &w);
    size_t chw = (size_t)c * h * w;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(mix(&rs) % (uint64_t)(i + 1)), t = f->perm[i];
        f->perm[i] = f->perm[j];
        f->perm[j] = t;
    }
    for (int64_t b = 0; b < per; b++, (*step)++) {
        mn_step_result sr;
        for (int k = 0; k < batch; k++)
            if ((st = mn_dataset_read(f->data, f->perm[b * batch + k], 1,
                                      f->x + (size_t)k * chw, f->y + k,
                                      ctx)) != MN_OK)
                return st;
        if (fo->schedule.final_sparsity > 0 &&
            mn_prune_schedule_due(&fo->schedule, *step) &&
            (st = mn_prune_mask_update(
                 m, P, mn_prune_schedule_sparsity(&fo->schedule, *step),
                 ctx)) != MN_OK)
            return st;
        float r = mn_lr_at(&lo, lr, *step, per, total);
        const float *tl = NULL;
        if ((f->teach && (st = mn_teacher_logits(f->teach, f->x, batch,
                                                 mn_trainer_classes(f->t),
                                                 &tl, ctx)) != MN_OK) ||
            (st = mn_trainer_step(f->t, f->x, f->y, tl, r, &sr, ctx)) !=
                MN_OK)
            return mn_error_prefix(ctx, st, "fine-tuning epoch %d, step %lld",
                                   ep + 1, (long long)b + 1);
        mn_prune_mask_apply(m, P);
        hits += sr.correct;
    }
    res->train_accuracy = per ? (double)hits / (double)(per * batch) : 0;
    return MN_OK;
}

mn_status mn_prune_finetune(mn_graph *g, const mn_prune_opts *o,
                            const mn_prune_finetune_opts *fo,
                            mn_prune_finetune_result *res, mn_ctx *ctx)
{
    ft f = {.g = g};
    mn_prune_mask *m = NULL;
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
        return mn_error(ctx, MN_ERR_ARG, "fine-tuning needs data and epochs");
    if (fo->schedule.final_sparsity > 0 &&
        (st = mn_prune_schedule_check(&fo->schedule, ctx)) != MN_OK)
        return st;
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
    int c, h, w;
    mn_dataset_sample_shape(f.data, &c, &h, &w);
    f.x = mn_malloc((size_t)batch * c * h * w * sizeof *f.x);
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
    if ((st = mn_trainer_create(g, &to, &f.t, ctx)) != MN_OK ||
        (st = locate(&f, o, ctx)) != MN_OK ||
        (st = mn_prune_mask_create(g, o, f.lay, f.n_lay,
                                   mn_trainer_params(f.t), &m, ctx)) != MN_OK)
        goto out;
    int64_t total = (n / batch) * fo->epochs;
    for (int ep = 0; ep < fo->epochs && st == MN_OK; ep++) {
        st = epoch(&f, m, fo, ep, batch, n, &step, total, res, ctx);
        if (st == MN_OK && fo->progress)
            fo->progress(fo->user, ep + 1, fo->epochs, res->train_accuracy,
                         mn_prune_mask_sparsity(m), now_s() - t0);
    }
    if (st != MN_OK)
        goto out;
    mn_trainer_sync(f.t);
    res->sparsity = mn_prune_mask_sparsity(m);
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
    mn_prune_mask_destroy(m);
    mn_trainer_destroy(f.t);
    mn_dataset_destroy(f.data);
    free(f.lay);
    free(f.x);
    free(f.y);
    free(f.perm);
    return st;
}
