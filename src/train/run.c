/* Whole training runs (mn_train_run): load the data, build or copy the
 * model, train for N epochs with seeded shuffling and augmentation, test
 * after every epoch, checkpoint, and hand back the inference graph with its
 * preprocessing in the metadata.
 *
 * Every random draw comes from (seed, epoch, batch) streams, and the
 * kernels' reductions do not depend on the thread count, so the same seed
 * gives the same model, and a run resumed from an epoch checkpoint
 * continues exactly as the uninterrupted run would have. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "core/graph.h"
#include "minnow/train.h"
#include "train/data.h"

#define EVAL_BATCH 250

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void mn_train_opts_default(mn_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 15;
    o->batch = 128;
    o->threads = 1;
    o->lr = 0.1f;
    o->seed = 1;
    o->optim.kind = MN_OPTIM_SGD;
    o->optim.momentum = 0.9f;
    o->optim.nesterov = 1;
    o->optim.weight_decay = 5e-4f;
    o->sched.kind = MN_LR_ONECYCLE;
    o->label_smoothing = 0.1f;
    o->crop_pad = 2;
    o->flip = -1; /* auto: on for colour images */
}

/* "fashion-mnist" / "cifar10:DIR" without a split name the train split for
 * training and the test split for testing; other kinds have no test set
 * unless one is given. */
static int split_spec(const char *spec, const char *split, char *buf,
                      size_t len)
{
    size_t n = strlen(spec);
    int fm = strncmp(spec, "fashion-mnist", 13) == 0;
    int cf = strncmp(spec, "cifar10:", 8) == 0;
    if (!fm && !cf)
        return 0;
    const char *base_end = spec + n;
    if (n > 6 && !strcmp(spec + n - 6, ":train"))
        base_end = spec + n - 6;
    else if (n > 5 && !strcmp(spec + n - 5, ":test"))
        base_end = spec + n - 5;
    if ((size_t)(base_end - spec) + strlen(split) + 2 > len)
        return 0;
    snprintf(buf, len, "%.*s:%s", (int)(base_end - spec), spec, split);
    return 1;
}

static mn_status set_meta(mn_graph *g, const mn_tdata *d, const float *mean,
                          const float *std, mn_ctx *ctx)
{
    char m[128] = "", s[128] = "", sz[64];
    for (int c = 0; c < d->c && c < 4; c++) {
        size_t lm = strlen(m), ls = strlen(s);
        snprintf(m + lm, sizeof m - lm, "%s%.6g", c ? "," : "", mean[c]);
        snprintf(s + ls, sizeof s - ls, "%s%.6g", c ? "," : "", std[c]);
    }
    snprintf(sz, sizeof sz, "%d,%d,%d", d->c, d->h, d->w);
    mn_status st;
    if (d->u8 && ((st = mn_graph_set_meta(g, "minnow.mean", m, ctx)) != MN_OK ||
                  (st = mn_graph_set_meta(g, "minnow.std", s, ctx)) != MN_OK))
        return st;
    return mn_graph_set_meta(g, "minnow.input_size", sz, ctx);
}

/* Inference accuracy over a whole data set in batches of EVAL_BATCH (the
 * last batch padded). */
static mn_status test_accuracy(mn_trainer *t, const mn_tdata *d,
                               const float *mean, const float *std,
                               float *x, double *acc, mn_ctx *ctx)
{
    int64_t hits = 0, idx[EVAL_BATCH], y[EVAL_BATCH];
    size_t per = (size_t)d->c * d->h * d->w;
    for (int64_t i = 0; i < d->n; i += EVAL_BATCH) {
        int k = (int)(d->n - i < EVAL_BATCH ? d->n - i : EVAL_BATCH);
        const float *logits;
        int classes;
        for (int b = 0; b < k; b++)
            idx[b] = i + b;
        mn_tdata_batch(d, idx, k, mean, std, 0, 0, NULL, x, y);
        memset(x + (size_t)k * per, 0, (EVAL_BATCH - k) * per * sizeof *x);
        mn_status st = mn_trainer_predict(t, x, EVAL_BATCH, &logits, &classes,
                                          ctx);
        if (st != MN_OK)
            return st;
        for (int b = 0; b < k; b++) {
            const float *z = logits + (size_t)b * classes;
            int arg = 0;
            for (int j = 1; j < classes; j++)
                if (z[j] > z[arg])
                    arg = j;
            hits += arg == y[b];
        }
    }
    *acc = (double)hits / (double)d->n;
    return MN_OK;
}

/* Every label must name one of the model's outputs (a data set's own
 * class count comes from its largest label, an --init model's from its
 * logits); caught here, before any epoch, with the data set's name and
 * the sample's index. */
static mn_status check_labels(const mn_tdata *d, const char *spec,
                              int classes, mn_ctx *ctx)
{
    for (int64_t i = 0; i < d->n; i++)
        if (d->y[i] < 0 || d->y[i] >= classes)
            return mn_error(ctx, MN_ERR_ARG,
                            "%s: label %lld of sample %lld is out of range: "
                            "the model has %d classes", spec,
                            (long long)d->y[i], (long long)i, classes);
    return MN_OK;
}

static mn_status make_model(const mn_train_opts *o, const mn_tdata *d,
                            mn_graph **g, mn_ctx *ctx)
{
    if (o->init) {
        mn_status st = mn_graph_clone(o->init, g, ctx);
        if (st != MN_OK)
            return st;
        const mn_value *in = (*g)->n_inputs == 1
                                 ? &(*g)->values[(*g)->inputs[0]] : NULL;
        if (!in || in->ndim != 4 || (in->dims[1] >= 0 && in->dims[1] != d->c) ||
            (in->dims[2] >= 0 && in->dims[2] != d->h) ||
            (in->dims[3] >= 0 && in->dims[3] != d->w)) {
            mn_graph_destroy(*g);
            *g = NULL;
            return mn_error(ctx, MN_ERR_SHAPE,
                            "%s: the model's input does not take the data's "
                            "%dx%dx%d samples", o->init->source, d->c, d->h,
                            d->w);
        }
        return MN_OK;
    }
    mn_arch_opts ao = o->arch_opts;
    ao.channels = d->c;
    ao.height = d->h;
    ao.width = d->w;
    ao.classes = d->classes;
    if (!ao.seed)
        ao.seed = o->seed;
    return mn_arch_build(o->arch, &ao, g, ctx);
}

mn_status mn_train_run(const mn_train_opts *o, mn_graph **out,
                       mn_train_result *res, mn_ctx *ctx)
{
    mn_tdata *tr = NULL, *te = NULL;
    mn_graph *g = NULL;
    mn_trainer *t = NULL;
    mn_teacher *teach = NULL;
    float *x = NULL, mean[4] = {0}, std[4] = {1, 1, 1, 1};
    int64_t *y = NULL, *perm = NULL, *idx;
    mn_status st;
    char spec[4096], tspec[4096];
    int64_t start = 0;
    double t0 = now_s(), train_s = 0, images = 0;
    memset(res, 0, sizeof *res);
    *out = NULL;
    if (!o->data || (!o->arch && !o->init))
        return mn_error(ctx, MN_ERR_ARG, "training needs data and a model");
    if (o->epochs < 0 || o->batch < 1 || !(o->lr > 0))
        return mn_error(ctx, MN_ERR_ARG, "epochs %d, batch %d, lr %g",
                        o->epochs, o->batch, o->lr);
    const char *trs = split_spec(o->data, "train", spec, sizeof spec)
                          ? spec : o->data;
    if ((st = mn_tdata_load(trs, o->limit, 0, 0, 0, &tr, ctx)) != MN_OK)
        goto fail;
    if (tr->n < o->batch) {
        st = mn_error(ctx, MN_ERR_ARG,
                      "%s: %lld samples, fewer than one batch of %d", trs,
                      (long long)tr->n, o->batch);
        goto fail;
    }
    const char *tes = o->test_data;
    if (!tes && split_spec(o->data, "test", tspec, sizeof tspec))
        tes = tspec;
    if (tes && (st = mn_tdata_load(tes, o->test_limit, tr->c, tr->h, tr->w,
                                   &te, ctx)) != MN_OK)
        goto fail;
    mn_tdata_stats(tr, mean, std);
    for (int c = 0; c < tr->c && c < 4; c++) {
        if (o->n_mean)
            mean[c] = o->mean[o->n_mean == 1 ? 0 : c % o->n_mean];
        if (o->n_std)
            std[c] = o->std[o->n_std == 1 ? 0 : c % o->n_std];
    }
    if ((st = make_model(o, tr, &g, ctx)) != MN_OK)
        goto fail;
    mn_trainer_opts to = {
        .batch = o->batch, .threads = o->threads, .seed = o->seed,
        .optim = o->optim, .label_smoothing = o->label_smoothing,
        .distill_alpha = o->distill_alpha > 0 ? o->distill_alpha
                                              : MN_DISTILL_DEFAULT_ALPHA,
        .distill_temperature = o->distill_temperature > 0
                                   ? o->distill_temperature
                                   : MN_DISTILL_DEFAULT_TEMPERATURE};
    if (o->teacher && (st = mn_teacher_create(o->teacher, o->batch,
                                              o->threads, &teach, ctx)) !=
                          MN_OK)
        goto fail;
    if ((st = mn_trainer_create(g, &to, &t, ctx)) != MN_OK ||
        (st = check_labels(tr, trs, mn_trainer_classes(t), ctx)) != MN_OK ||
        (te && (st = check_labels(te, tes, mn_trainer_classes(t), ctx)) !=
                   MN_OK))
        goto fail;
    size_t per = (size_t)tr->c * tr->h * tr->w;
    size_t xb = (size_t)(o->batch > EVAL_BATCH ? o->batch : EVAL_BATCH);
    x = mn_malloc(xb * per * sizeof *x);
    y = mn_malloc(xb * sizeof *y);
    perm = mn_malloc((size_t)tr->n * sizeof *perm);
    if (!x || !y || !perm) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory");
        goto fail;
    }
    struct stat sb;
    if (o->checkpoint && o->resume && stat(o->checkpoint, &sb) == 0 &&
        (st = mn_trainer_load(t, o->checkpoint, &start, ctx)) != MN_OK)
        goto fail;
    int flip = o->flip >= 0 ? o->flip : tr->c >= 3;
    int64_t per_epoch = tr->n / o->batch;
    int64_t total = per_epoch * o->epochs;
    res->test_accuracy = -1;
    int64_t last = o->stop_epoch > 0 && o->stop_epoch < o->epochs
                       ? o->stop_epoch : o->epochs;
    for (int64_t ep = start; ep < last; ep++) {
        mn_rng r;
        double lsum = 0, te_acc = -1, e0 = now_s();
        int64_t hits = 0, seen = 0;
        mn_rng_seed(&r, o->seed, 0x5EED, (uint64_t)ep);
        for (int64_t i = 0; i < tr->n; i++)
            perm[i] = i;
        for (int64_t i = tr->n - 1; i > 0; i--) {
            int64_t j = (int64_t)mn_rng_below(&r, (uint64_t)i + 1);
            int64_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        for (int64_t b = 0; b < per_epoch; b++) {
            mn_rng ar;
            mn_step_result sr;
            int64_t step = ep * per_epoch + b;
            float lr = mn_lr_at(&o->sched, o->lr, step, per_epoch, total);
            idx = perm + b * o->batch;
            mn_rng_seed(&ar, o->seed, (uint64_t)ep + 1, (uint64_t)b + 1);
            mn_tdata_batch(tr, idx, o->batch, mean, std, o->crop_pad, flip,
                           &ar, x, y);
            const float *tl = NULL;
            if ((teach && (st = mn_teacher_logits(teach, x, o->batch,
                                                  mn_trainer_classes(t), &tl,
                                                  ctx)) != MN_OK) ||
                (st = mn_trainer_step(t, x, y, tl, lr, &sr, ctx)) != MN_OK) {
                mn_error_prefix(ctx, st, "epoch %lld, batch %lld",
                                (long long)ep + 1, (long long)b + 1);
                goto fail;
            }
            lsum += sr.loss * o->batch;
            hits += sr.correct;
            seen += o->batch;
            if (o->progress) {
                double el = train_s + (now_s() - e0);
                mn_train_progress p = {
                    .epoch = (int)ep + 1, .epochs = o->epochs, .batch = b + 1,
                    .batches = per_epoch, .loss = lsum / (double)seen,
                    .accuracy = (double)hits / (double)seen,
                    .images_per_s = el > 0 ? (images + seen) / el : 0,
                    .lr = lr, .test_accuracy = -1, .seconds = now_s() - t0};
                o->progress(o->user, &p);
            }
        }
        train_s += now_s() - e0;
        images += (double)seen;
        if (te && (st = test_accuracy(t, te, mean, std, x, &te_acc, ctx)) !=
                      MN_OK)
            goto fail;
        res->train_accuracy = seen ? (double)hits / (double)seen : 0;
        res->final_loss = seen ? lsum / (double)seen : 0;
        res->test_accuracy = te_acc;
        if (o->checkpoint &&
            (st = mn_trainer_save(t, o->checkpoint, ep + 1, ctx)) != MN_OK)
            goto fail;
        if (o->progress) {
            mn_train_progress p = {
                .epoch = (int)ep + 1, .epochs = o->epochs,
                .batch = per_epoch, .batches = per_epoch,
                .loss = res->final_loss, .accuracy = res->train_accuracy,
                .images_per_s = train_s > 0 ? images / train_s : 0,
                .lr = mn_lr_at(&o->sched, o->lr, (ep + 1) * per_epoch - 1,
                               per_epoch, total),
                .epoch_done = 1, .test_accuracy = te_acc,
                .seconds = now_s() - t0};
            o->progress(o->user, &p);
        }
    }
    if (te && res->test_accuracy < 0 &&
        (st = test_accuracy(t, te, mean, std, x, &res->test_accuracy, ctx)) !=
            MN_OK)
        goto fail;
    mn_trainer_sync(t);
    if ((st = set_meta(g, tr, mean, std, ctx)) != MN_OK)
        goto fail;
    res->epochs = (int)(last > start ? last : start);
    res->seconds = now_s() - t0;
    res->images_per_s = train_s > 0 ? images / train_s : 0;
    res->params = mn_trainer_num_params(t);
    *out = g;
    g = NULL;
    st = MN_OK;
fail:
    mn_teacher_destroy(teach);
    mn_trainer_destroy(t);
    mn_graph_destroy(g);
    mn_tdata_destroy(tr);
    mn_tdata_destroy(te);
    free(x);
    free(y);
    free(perm);
    return st;
}
