/* The explicit thread pool (src/core/pool.[ch]): every task runs exactly
 * once on a valid thread, per-thread scratch, a stalled worker does not
 * hold the caller up, the NULL pool, argument errors; and mn_share, the
 * even split of n items into parts. */
#include <string.h>
#include <time.h>
#include "core/pool.h"
#include "test.h"

typedef struct pool_probe {
    int slow;         /* tasks on workers sleep this many ms */
    int count[1000];
    int thread_of[1000];
} pool_probe;

static void probe_task(void *arg, int64_t t, int thread)
{
    pool_probe *p = arg;
    p->count[t]++;
    p->thread_of[t] = thread;
    if (p->slow && thread != 0) {
        struct timespec ts = {0, p->slow * 1000000L};
        nanosleep(&ts, NULL);
    }
}

TEST(pool_runs_every_task_exactly_once)
{
    mn_ctx ctx = {{0}};
    static pool_probe pp;
    for (int threads = 1; threads <= 3; threads++) {
        mn_pool *p = NULL;
        CHECK_OK(mn_pool_create(threads, 4096, &p, &ctx), &ctx);
        if (!p)
            return;
        CHECK_EQ_INT(mn_pool_threads(p), threads);
        CHECK(mn_pool_scratch_bytes(p) >= 4096);
        for (int t = 0; t < threads; t++) {
            char *s = mn_pool_scratch(p, t);
            CHECK(s != NULL && (uintptr_t)s % 64 == 0);
            if (s)
                memset(s, t, 4096); /* owned, writable, distinct */
        }
        CHECK(mn_pool_scratch(p, threads) == NULL);
        for (int t = 0; t < threads; t++)
            CHECK(((char *)mn_pool_scratch(p, t))[4095] == (char)t);
        /* many rounds, sizes below and above the thread count */
        for (int round = 0; round < 2000; round++) {
            int64_t n = round % 7 == 0 ? 1 : (round * 37) % 1000;
            memset(&pp, 0, sizeof pp);
            mn_pool_run(p, probe_task, &pp, n);
            int ok = 1;
            for (int64_t t = 0; t < n; t++)
                ok &= pp.count[t] == 1 && pp.thread_of[t] >= 0 &&
                      pp.thread_of[t] < threads;
            for (int64_t t = n; t < 1000; t++)
                ok &= pp.count[t] == 0;
            if (!ok) {
                CHECK(!"a task ran twice, never, or on a bad thread");
                break;
            }
        }
        if (threads > 1) {
            /* a stalled worker does not hold the caller up: the caller
             * takes the worker's unstarted tasks */
            memset(&pp, 0, sizeof pp);
            pp.slow = 50;
            mn_pool_run(p, probe_task, &pp, 12);
            int on0 = 0;
            for (int t = 0; t < 12; t++) {
                CHECK_EQ_INT(pp.count[t], 1);
                on0 += pp.thread_of[t] == 0;
            }
            CHECK(on0 >= 12 - 2 * (threads - 1));
        }
        mn_pool_destroy(p);
    }
    /* NULL pool: in order on the caller */
    memset(&pp, 0, sizeof pp);
    mn_pool_run(NULL, probe_task, &pp, 10);
    for (int t = 0; t < 10; t++)
        CHECK(pp.count[t] == 1 && pp.thread_of[t] == 0);
    CHECK_EQ_INT(mn_pool_threads(NULL), 1);
    CHECK(mn_pool_scratch(NULL, 0) == NULL);
    mn_pool *bad = NULL;
    CHECK(mn_pool_create(0, 0, &bad, &ctx) == MN_ERR_ARG && bad == NULL);
    CHECK(mn_pool_create(MN_POOL_MAX_THREADS + 1, 0, &bad, &ctx) ==
          MN_ERR_ARG);
    mn_pool_destroy(NULL);
}

TEST(pool_share_covers_every_item_once)
{
    for (int64_t n = 0; n <= 50; n++)
        for (int64_t parts = 1; parts <= 9; parts++) {
            int64_t next = 0, per = (n + parts - 1) / parts;
            for (int64_t i = 0; i < parts + 2; i++) { /* parts past the end */
                int64_t cnt, first = mn_share(n, parts, i, &cnt);
                CHECK(cnt >= 0 && cnt <= per);
                CHECK_EQ_INT(first, next); /* contiguous, in order */
                next = first + cnt;
            }
            CHECK_EQ_INT(next, n);
        }
}
