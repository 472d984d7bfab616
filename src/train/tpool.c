/* A small fork-join thread pool for training: the caller hands out a task
 * range, the workers and the caller take tasks from a shared counter, and
 * the call returns when all are done. Each thread owns a fixed scratch
 * block (GEMM packing buffers), so tasks never allocate. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "train/grad.h"

struct mn_tpool {
    int threads;
    pthread_t *th;
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    uint64_t gen;
    int active; /* workers still busy with generation gen */
    int stop;
    mn_task_fn fn;
    void *arg;
    int64_t ntasks;
    atomic_llong next;
    float **scratch;
};

typedef struct worker_arg {
    mn_tpool *p;
    int id;
} worker_arg;

static void drain(mn_tpool *p, int id)
{
    for (;;) {
        int64_t t = (int64_t)atomic_fetch_add(&p->next, 1);
        if (t >= p->ntasks)
            break;
        p->fn(p->arg, t, id);
    }
}

static void *worker(void *varg)
{
    worker_arg *wa = varg;
    mn_tpool *p = wa->p;
    int id = wa->id;
    uint64_t seen = 0;
    free(wa);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen)
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        drain(p, id);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0)
            pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

mn_status mn_tpool_create(int threads, mn_tpool **out, mn_ctx *ctx)
{
    mn_tpool *p;
    mn_status st = MN_OK;
    *out = NULL;
    if (threads < 1 || threads > 256)
        return mn_error(ctx, MN_ERR_ARG, "thread count %d (1-256)", threads);
    p = mn_calloc(1, sizeof *p);
    if (!p)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (thread pool)");
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->next, 0);
    p->scratch = mn_calloc((size_t)threads, sizeof *p->scratch);
    p->th = mn_calloc((size_t)threads, sizeof *p->th);
    if (!p->scratch || !p->th) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory (thread pool)");
        goto fail;
    }
    for (int i = 0; i < threads; i++) {
        p->scratch[i] = mn_malloc_aligned(MN_TPOOL_SCRATCH);
        if (!p->scratch[i]) {
            st = mn_error(ctx, MN_ERR_OOM, "out of memory (thread scratch)");
            goto fail;
        }
    }
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = mn_malloc(sizeof *wa);
        if (!wa) {
            st = mn_error(ctx, MN_ERR_OOM, "out of memory (thread pool)");
            goto fail;
        }
        wa->p = p;
        wa->id = i;
        if (pthread_create(&p->th[i], NULL, worker, wa) != 0) {
            free(wa);
            st = mn_error(ctx, MN_ERR_RUNTIME, "cannot start thread %d", i);
            goto fail;
        }
        p->n_started = i;
    }
    *out = p;
    return MN_OK;
fail:
    mn_tpool_destroy(p);
    return st;
}

void mn_tpool_destroy(mn_tpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->n_started; i++)
        pthread_join(p->th[i], NULL);
    for (int i = 0; p->scratch && i < p->threads; i++)
        mn_free_aligned(p->scratch[i]);
    free(p->scratch);
    free(p->th);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    free(p);
}

int mn_tpool_threads(const mn_tpool *p) { return p ? p->threads : 1; }

float *mn_tpool_scratch(mn_tpool *p, int thread)
{
    return p ? p->scratch[thread] : NULL;
}

void mn_tpool_run(mn_tpool *p, mn_task_fn fn, void *arg, int64_t ntasks)
{
    if (ntasks <= 0)
        return;
    if (!p || p->threads == 1 || ntasks == 1) {
        for (int64_t t = 0; t < ntasks; t++)
            fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->active = p->threads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0)
        pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
