/* Training's thread pool: the runtime's pool (src/core/pool.h) with
 * MN_TPOOL_SCRATCH bytes of scratch per thread. The same fork-join
 * contract — a task's result never depends on the thread that runs it —
 * so training keeps its thread-count-independent results; what the
 * runtime pool adds is static ranges with stealing, which suits a loaded
 * machine. */
#include <stdlib.h>
#include "core/pool.h"
#include "train/grad.h"

struct mn_tpool {
    mn_pool *p;
};

mn_status mn_tpool_create(int threads, mn_tpool **out, mn_ctx *ctx)
{
    mn_tpool *t;
    mn_status st;
    *out = NULL;
    if (threads < 1 || threads > 256)
        return mn_error(ctx, MN_ERR_ARG, "thread count %d (1-256)", threads);
    t = mn_calloc(1, sizeof *t);
    if (!t)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (thread pool)");
    if ((st = mn_pool_create(threads, MN_TPOOL_SCRATCH, &t->p, ctx)) !=
        MN_OK) {
        free(t);
        return st;
    }
    *out = t;
    return MN_OK;
}

void mn_tpool_destroy(mn_tpool *t)
{
    if (!t)
        return;
    mn_pool_destroy(t->p);
    free(t);
}

int mn_tpool_threads(const mn_tpool *t)
{
    return t ? mn_pool_threads(t->p) : 1;
}

float *mn_tpool_scratch(mn_tpool *t, int thread)
{
    return t ? mn_pool_scratch(t->p, thread) : NULL;
}

void mn_tpool_run(mn_tpool *t, mn_task_fn fn, void *arg, int64_t ntasks)
{
    if (ntasks <= 0)
        return;
    if (!t) {
        for (int64_t i = 0; i < ntasks; i++)
            fn(arg, i, 0);
        return;
    }
    mn_pool_run(t->p, fn, arg, ntasks);
}
