/* The runtime thread pool: an explicit handle (no globals) that runs a
 * fork-join batch of tasks on a fixed set of threads, the caller being
 * thread 0. Tasks are split statically — thread i owns the contiguous range
 * [i·n/T, (i+1)·n/T) and runs it in order — and a thread that has finished
 * its own range takes the not-yet-started tasks of the others, so a worker
 * the OS has descheduled never holds the caller up (on a loaded machine
 * that costs a scheduler time slice per op). Which thread runs a task thus
 * varies; kernels use the thread index only to pick scratch and cut their
 * work into tiles independently of the thread count, so they give the
 * same bits for any thread count and any schedule.
 * Each thread owns a fixed, 64-byte aligned scratch block (GEMM packing
 * buffers and the like) allocated at create time: run never allocates.
 * Idle workers spin briefly (a session runs many short ops back to back),
 * then sleep on a condition variable. */
#ifndef MN_CORE_POOL_H
#define MN_CORE_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

typedef struct mn_pool mn_pool;

/* fn(arg, task, thread): called once for every task in [0, ntasks); thread
 * in [0, threads) is the running thread (it selects the per-thread
 * scratch); a task's result must not depend on it. */
typedef void (*mn_pool_fn)(void *arg, int64_t task, int thread);

/* Per-thread scratch when create is given 0 bytes. */
#define MN_POOL_SCRATCH_DEFAULT ((size_t)2 << 20)
#define MN_POOL_MAX_THREADS 256

/* threads in [1, MN_POOL_MAX_THREADS]; scratch_bytes per thread (0 → the
 * default). One thread starts no worker: run then calls fn inline. */
mn_status mn_pool_create(int threads, size_t scratch_bytes, mn_pool **out,
                         mn_ctx *ctx);
void mn_pool_destroy(mn_pool *p);
int mn_pool_threads(const mn_pool *p); /* NULL → 1 */
/* Runs every task and returns when all are done; ntasks < 2^31. p == NULL
 * (or one thread, or one task) runs them in order on the caller's thread.
 * Not re-entrant: fn must not call mn_pool_run on the same pool, and one
 * pool serves one calling thread at a time. */
void mn_pool_run(mn_pool *p, mn_pool_fn fn, void *arg, int64_t ntasks);
/* Thread `thread`'s scratch block; NULL when p is NULL. */
void *mn_pool_scratch(mn_pool *p, int thread);
size_t mn_pool_scratch_bytes(const mn_pool *p); /* 0 when p is NULL */

/* Part i of n items cut into `parts` shares of ceil(n / parts): its first
 * item, and in *count how many (0 for parts past the last item). */
static inline int64_t mn_share(int64_t n, int64_t parts, int64_t i,
                               int64_t *count)
{
    int64_t per = parts > 0 ? (n + parts - 1) / parts : n;
    int64_t first = i * per < n ? i * per : n;
    *count = n - first < per ? n - first : per;
    return first;
}

#endif
