/* A teacher for knowledge distillation: a private copy of a trained graph
 * whose inference-mode logits (BatchNorm with running statistics, Dropout
 * off) the training loops hand to mn_trainer_step. The copy keeps the
 * caller's graph untouched and lets the student be the same model (prune
 * fine-tuning distils from the unpruned original). */
#include <stdlib.h>
#include "minnow/train.h"
#include "core/graph.h"

struct mn_teacher {
    mn_graph *g;
    mn_trainer *t;
};

mn_status mn_teacher_create(const mn_graph *g, int batch, int threads,
                            mn_teacher **out, mn_ctx *ctx)
{
    mn_teacher *te = mn_calloc(1, sizeof *te);
    mn_trainer_opts to = {.batch = batch > 0 ? batch : 1,
                          .threads = threads};
    mn_status st;
    *out = NULL;
    if (!te)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (teacher)");
    if ((st = mn_graph_clone(g, &te->g, ctx)) != MN_OK ||
        (st = mn_trainer_create(te->g, &to, &te->t, ctx)) != MN_OK) {
        mn_teacher_destroy(te);
        return mn_error_prefix(ctx, st, "teacher");
    }
    *out = te;
    return MN_OK;
}

mn_status mn_teacher_logits(mn_teacher *te, const float *x, int n,
                            int classes, const float **logits, mn_ctx *ctx)
{
    int k = 0;
    mn_status st = mn_trainer_predict(te->t, x, n, logits, &k, ctx);
    if (st != MN_OK)
        return mn_error_prefix(ctx, st, "teacher");
    if (k != classes)
        return mn_error(ctx, MN_ERR_ARG,
                        "the teacher has %d classes, the student %d", k,
                        classes);
    return MN_OK;
}

void mn_teacher_destroy(mn_teacher *te)
{
    if (!te)
        return;
    mn_trainer_destroy(te->t);
    mn_graph_destroy(te->g);
    free(te);
}
