/* The tape's memory (see tape_plan.h). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "core/status.h"
#include "train/tape_plan.h"

typedef struct {
    size_t size;
    int idx;
} by_size;

static int cmp_size(const void *a, const void *b)
{
    const by_size *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->idx - y->idx; /* ties: input order, so the plan is stable */
}

static int cmp_off(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

size_t mn_tape_plan_arena(const size_t *size, const int *first,
                          const int *last, int n, size_t *off)
{
    size_t total = 0;
    if (n <= 0)
        return 0;
    by_size *order = mn_malloc((size_t)n * sizeof *order);
    int *placed = mn_malloc((size_t)n * sizeof *placed);
    size_t *busy = mn_malloc(2 * (size_t)n * sizeof *busy); /* [off, end) */
    if (!order || !placed || !busy) {
        total = SIZE_MAX;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (size[i] > SIZE_MAX / 4) {
            total = SIZE_MAX;
            goto done;
        }
        order[i].size = (size[i] + 63) / 64 * 64;
        order[i].idx = i;
    }
    qsort(order, (size_t)n, sizeof *order, cmp_size);
    for (int k = 0; k < n; k++) {
        int i = order[k].idx, nb = 0;
        size_t sz = order[k].size, at = 0;
        /* The already placed buffers live at the same time as i. */
        for (int q = 0; q < k; q++) {
            int j = placed[q];
            if (first[j] <= last[i] && first[i] <= last[j]) {
                busy[2 * nb] = off[j];
                busy[2 * nb + 1] = off[j] + (size[j] + 63) / 64 * 64;
                nb++;
            }
        }
        qsort(busy, (size_t)nb, 2 * sizeof *busy, cmp_off);
        for (int q = 0; q < nb; q++) {
            if (busy[2 * q] >= at + sz)
                break; /* the gap before this one fits */
            if (busy[2 * q + 1] > at)
                at = busy[2 * q + 1];
        }
        off[i] = at;
        placed[k] = i;
        if (at + sz > total)
            total = at + sz;
    }
done:
    free(order);
    free(placed);
    free(busy);
    return total;
}

#define HUGE_SZ ((size_t)2 << 20)

/* Under AddressSanitizer every block comes from calloc, so that overruns
 * of tape buffers stay detectable. */
#if defined(__SANITIZE_ADDRESS__)
#define TAPE_MMAP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAPE_MMAP 0
#endif
#endif
#ifndef TAPE_MMAP
#define TAPE_MMAP 1
#endif

void *mn_tape_block_alloc(size_t bytes, void **handle, size_t *handle_len)
{
    if (bytes > SIZE_MAX - 2 * HUGE_SZ)
        return NULL;
    if (bytes < HUGE_SZ || !TAPE_MMAP) {
        char *raw = mn_calloc(1, (bytes ? bytes : 64) + 64);
        *handle = raw;
        *handle_len = 0;
        return raw ? raw + (64 - (uintptr_t)raw % 64) % 64 : NULL;
    }
    /* Anonymous mappings are zero; over-map by 2 MiB to align the start. */
    size_t len = (bytes + HUGE_SZ - 1) / HUGE_SZ * HUGE_SZ + HUGE_SZ;
    char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = raw + (HUGE_SZ - (uintptr_t)raw % HUGE_SZ) % HUGE_SZ;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len - (size_t)(p - raw), MADV_HUGEPAGE); /* a hint */
#endif
    *handle = raw;
    *handle_len = len;
    return p;
}

void mn_tape_block_free(void *handle, size_t handle_len)
{
    if (!handle)
        return;
    if (handle_len)
        munmap(handle, handle_len);
    else
        free(handle);
}
