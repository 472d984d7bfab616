/* Static memory planner: tensor lifetimes → offsets in one arena.
 *
 * Greedy by size (largest first), each buffer placed in the lowest gap that
 * fits among the already placed buffers whose lifetimes overlap it — the
 * strategy TFLite Micro and others use; near-optimal for CNN chains. */
#include <stdlib.h>
#include "core/status.h"
#include "core/session.h"

#define ALIGN(x) (((x) + 63) & ~(size_t)63)

static int by_size_desc(const void *a, const void *b)
{
    const mn_plan_buf *x = *(const mn_plan_buf *const *)a;
    const mn_plan_buf *y = *(const mn_plan_buf *const *)b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return x->first - y->first;
}

static int by_offset(const void *a, const void *b)
{
    const mn_plan_buf *x = *(const mn_plan_buf *const *)a;
    const mn_plan_buf *y = *(const mn_plan_buf *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

size_t mn_plan_arena(mn_plan_buf *bufs, int n)
{
    mn_plan_buf **order, **live;
    size_t total = 0;
    if (n <= 0)
        return 0;
    order = malloc((size_t)n * sizeof *order);
    live = malloc((size_t)n * sizeof *live);
    if (!order || !live) {
        /* Fall back to no sharing: still correct. */
        for (int i = 0; i < n; i++) {
            bufs[i].offset = total;
            total += ALIGN(bufs[i].bytes);
        }
        free(order);
        free(live);
        return total;
    }
    for (int i = 0; i < n; i++)
        order[i] = &bufs[i];
    qsort(order, (size_t)n, sizeof *order, by_size_desc);
    for (int i = 0; i < n; i++) {
        mn_plan_buf *b = order[i];
        int nl = 0;
        size_t best = (size_t)-1, best_gap = (size_t)-1, prev_end = 0;
        size_t need = ALIGN(b->bytes);
        for (int j = 0; j < i; j++) {
            mn_plan_buf *o = order[j];
            if (o->first <= b->last && b->first <= o->last)
                live[nl++] = o;
        }
        qsort(live, (size_t)nl, sizeof *live, by_offset);
        for (int j = 0; j < nl; j++) {
            if (live[j]->offset >= prev_end) {
                size_t gap = live[j]->offset - prev_end;
                if (gap >= need && gap < best_gap) {
                    best = prev_end;
                    best_gap = gap;
                }
            }
            size_t end = live[j]->offset + ALIGN(live[j]->bytes);
            if (end > prev_end)
                prev_end = end;
        }
        b->offset = best != (size_t)-1 ? best : prev_end;
        if (b->offset + need > total)
            total = b->offset + need;
    }
    free(order);
    free(live);
    return total;
}
