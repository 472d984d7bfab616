/* The runtime thread pool (see pool.h).
 *
 * A job is published under a generation number, seqlock style: the caller
 * makes gen odd, writes the job (function, argument, task count, and one
 * claim counter per thread range tagged with the job number), then makes
 * gen even again. A worker that sees a new even gen reads the job and
 * keeps it only if gen did not move meanwhile. Tasks are claimed with a
 * compare-and-swap on a range's counter that also checks the job tag, so a
 * worker waking up late for a finished job claims nothing. The caller
 * returns when the count of finished tasks reaches the task count. Sleep
 * and wake-up hand-shakes are the Dekker pattern on sequentially consistent
 * atomics: each side publishes its state, then reads the other's. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/pool.h"

/* How long an idle thread spins before it sleeps (a session's ops run back
 * to back: sleeping between them would cost a wake-up per op). */
#define SPIN_NS 300000

typedef struct range_ctr {
    atomic_ullong v; /* job << 32 | next task of the range */
    char pad[64 - sizeof(atomic_ullong)];
} range_ctr;

struct mn_pool {
    int threads;
    size_t scratch_bytes;
    void **scratch;
    pthread_t *th;
    int n_started;
    unsigned job;               /* caller side: number of the last job */
    range_ctr *next;            /* per thread range */
    /* Written once per job, read by the spinning workers: one line. */
    _Alignas(64) _Atomic(mn_pool_fn) fn; /* the published job */
    _Atomic(void *) arg;
    atomic_llong ntasks;
    atomic_ullong gen;          /* 2·job when published, odd while writing */
    atomic_int stop;
    atomic_int sleepers;        /* workers blocked (or about to) on cv_work */
    /* Updated once per thread and job (not per task), spun on by the
     * caller: its own line, so those updates do not disturb the workers'
     * spin on gen. */
    _Alignas(64) atomic_llong done; /* tasks finished in the current job */
    atomic_int waiting;         /* caller blocked (or about to) on cv_done */
    char pad_[64 - sizeof(atomic_llong) - sizeof(atomic_int)];
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
};

typedef struct worker_arg {
    mn_pool *p;
    int id;
} worker_arg;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claims the next task of range r of job `job` (below hi). */
static int claim(mn_pool *p, int r, unsigned job, int64_t hi, int64_t *task)
{
    unsigned long long v = atomic_load(&p->next[r].v);
    for (;;) {
        if ((unsigned)(v >> 32) != job || (int64_t)(v & 0xFFFFFFFFu) >= hi)
            return 0;
        if (atomic_compare_exchange_weak(&p->next[r].v, &v, v + 1)) {
            *task = (int64_t)(v & 0xFFFFFFFFu);
            return 1;
        }
    }
}

/* Runs tasks of job `job`: this thread's range first, then what is left
 * of the others'. */
static void participate(mn_pool *p, int id, unsigned job, mn_pool_fn fn,
                        void *arg, int64_t n)
{
    int64_t t, T = p->threads, ran = 0;
    for (int k = 0; k < T; k++) {
        int r = (int)((id + k) % T);
        int64_t hi = n * (r + 1) / T;
        while (claim(p, r, job, hi, &t)) {
            fn(arg, t, id);
            ran++;
        }
    }
    /* one update of the shared count per thread, after its last task (every
     * task is claimed by then, so nothing of this job is left to run) */
    if (ran && atomic_fetch_add(&p->done, ran) + ran == n &&
        atomic_load(&p->waiting)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Waits (spin, then sleep) until gen is even and differs from seen. */
static unsigned long long wait_gen(mn_pool *p, unsigned long long seen)
{
    int64_t t0 = 0;
    for (unsigned i = 1;; i++) {
        unsigned long long g = atomic_load(&p->gen);
        if (g != seen && !(g & 1))
            return g;
        cpu_relax();
        if ((i & 255) != 0)
            continue;
        int64_t t = now_ns();
        if (!t0) {
            t0 = t;
            continue;
        }
        if (t - t0 < SPIN_NS)
            continue;
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->sleepers, 1);
        while ((g = atomic_load(&p->gen)) == seen || (g & 1))
            pthread_cond_wait(&p->cv_work, &p->mu);
        atomic_fetch_sub(&p->sleepers, 1);
        pthread_mutex_unlock(&p->mu);
        return g;
    }
}

static void *worker(void *varg)
{
    worker_arg *wa = varg;
    mn_pool *p = wa->p;
    int id = wa->id;
    unsigned long long seen = 0;
    free(wa);
    for (;;) {
        unsigned long long g = wait_gen(p, seen);
        if (atomic_load(&p->stop))
            break;
        mn_pool_fn fn = atomic_load(&p->fn);
        void *arg = atomic_load(&p->arg);
        int64_t n = atomic_load(&p->ntasks);
        if (atomic_load(&p->gen) != g)
            continue; /* republished while reading: take the newer job */
        seen = g;
        participate(p, id, (unsigned)(g >> 1), fn, arg, n);
    }
    return NULL;
}

/* Publishes a new generation (even) and wakes sleeping workers. */
static void publish(mn_pool *p, unsigned long long g)
{
    atomic_store(&p->gen, g);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }
}

mn_status mn_pool_create(int threads, size_t scratch_bytes, mn_pool **out,
                         mn_ctx *ctx)
{
    mn_pool *p;
    mn_status st = MN_OK;
    *out = NULL;
    if (threads < 1 || threads > MN_POOL_MAX_THREADS)
        return mn_error(ctx, MN_ERR_ARG, "thread count %d (1-%d)", threads,
                        MN_POOL_MAX_THREADS);
    if (!scratch_bytes)
        scratch_bytes = MN_POOL_SCRATCH_DEFAULT;
    scratch_bytes = (scratch_bytes + 63) & ~(size_t)63;
    p = mn_malloc_aligned(sizeof *p); /* 64-byte aligned: its cache lines */
    if (!p)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (thread pool)");
    memset(p, 0, sizeof *p);
    p->threads = threads;
    p->scratch_bytes = scratch_bytes;
    atomic_init(&p->fn, NULL);
    atomic_init(&p->arg, NULL);
    atomic_init(&p->ntasks, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->waiting, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->scratch = mn_calloc((size_t)threads, sizeof *p->scratch);
    p->th = mn_calloc((size_t)threads, sizeof *p->th);
    p->next = mn_malloc_aligned((size_t)threads * sizeof *p->next);
    if (!p->scratch || !p->th || !p->next) {
        st = mn_error(ctx, MN_ERR_OOM, "out of memory (thread pool)");
        goto fail;
    }
    for (int i = 0; i < threads; i++)
        atomic_init(&p->next[i].v, 0);
    for (int i = 0; i < threads; i++) {
        p->scratch[i] = mn_malloc_aligned(scratch_bytes);
        if (!p->scratch[i]) {
            st = mn_error(ctx, MN_ERR_OOM,
                          "out of memory (%zu bytes of thread scratch)",
                          scratch_bytes);
            goto fail;
        }
        memset(p->scratch[i], 0, scratch_bytes); /* fault the pages in now */
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
    mn_pool_destroy(p);
    return st;
}

void mn_pool_destroy(mn_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    publish(p, atomic_load(&p->gen) + 2);
    for (int i = 1; i <= p->n_started; i++)
        pthread_join(p->th[i], NULL);
    for (int i = 0; p->scratch && i < p->threads; i++)
        mn_free_aligned(p->scratch[i]);
    free(p->scratch);
    free(p->th);
    mn_free_aligned(p->next);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    mn_free_aligned(p);
}

int mn_pool_threads(const mn_pool *p) { return p ? p->threads : 1; }

void *mn_pool_scratch(mn_pool *p, int thread)
{
    return p && thread >= 0 && thread < p->threads ? p->scratch[thread] : NULL;
}

size_t mn_pool_scratch_bytes(const mn_pool *p)
{
    return p ? p->scratch_bytes : 0;
}

void mn_pool_run(mn_pool *p, mn_pool_fn fn, void *arg, int64_t ntasks)
{
    if (ntasks <= 0)
        return;
    /* (the claim counters hold 32-bit task indices) */
    if (!p || p->threads == 1 || ntasks == 1 || ntasks > 0x7FFFFFFF) {
        for (int64_t t = 0; t < ntasks; t++)
            fn(arg, t, 0);
        return;
    }
    unsigned job = ++p->job;
    if (job == 0) /* the 32-bit tag wrapped: 0 is the counters' initial tag */
        job = ++p->job;
    unsigned long long g = (unsigned long long)job << 1;
    atomic_store(&p->gen, g - 1); /* odd: being written */
    atomic_store(&p->fn, fn);
    atomic_store(&p->arg, arg);
    atomic_store(&p->ntasks, ntasks);
    atomic_store(&p->done, 0);
    for (int r = 0; r < p->threads; r++)
        atomic_store(&p->next[r].v, (unsigned long long)job << 32 |
                                        (unsigned long long)(ntasks * r /
                                                             p->threads));
    publish(p, g);
    participate(p, 0, job, fn, arg, ntasks);
    int64_t t0 = 0;
    for (unsigned i = 1; atomic_load(&p->done) < ntasks; i++) {
        cpu_relax();
        if ((i & 255) != 0)
            continue;
        int64_t t = now_ns();
        if (!t0) {
            t0 = t;
            continue;
        }
        if (t - t0 < SPIN_NS) {
            if (t - t0 > SPIN_NS / 4)
                sched_yield();
            continue;
        }
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->waiting, 1);
        while (atomic_load(&p->done) < ntasks)
            pthread_cond_wait(&p->cv_done, &p->mu);
        atomic_store(&p->waiting, 0);
        pthread_mutex_unlock(&p->mu);
        break;
    }
}
