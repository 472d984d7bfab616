/* The tape's memory (src/train/tape_plan.c):
 *   - the lifetime planner on random buffers (sizes with odd byte counts,
 *     random step ranges): offsets are 64-byte aligned, two buffers whose
 *     step ranges intersect never overlap, the arena is no smaller than the
 *     largest total of buffers live at one step and no larger than the sum
 *     of all, and buffers that never live at the same time share memory;
 *   - huge-page blocks: aligned, zeroed, writable, for small and large
 *     sizes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "train/tape_plan.h"

static uint32_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

TEST(train_plan_arena_never_overlaps_live_buffers)
{
    uint64_t s = 12345;
    for (int round = 0; round < 200; round++) {
        int n = 1 + (int)(next(&s) % 60), steps = 1 + (int)(next(&s) % 40);
        size_t size[60], off[60], need = 0, sum = 0;
        int first[60], last[60];
        for (int i = 0; i < n; i++) {
            size[i] = next(&s) % 5 == 0 ? 0 : 1 + next(&s) % 5000;
            first[i] = (int)(next(&s) % (unsigned)steps);
            last[i] = first[i] + (int)(next(&s) % (unsigned)(steps - first[i]));
            sum += (size[i] + 63) / 64 * 64;
        }
        size_t total = mn_tape_plan_arena(size, first, last, n, off);
        for (int k = 0; k < steps; k++) {
            size_t live = 0;
            for (int i = 0; i < n; i++)
                if (first[i] <= k && k <= last[i])
                    live += (size[i] + 63) / 64 * 64;
            need = live > need ? live : need;
        }
        CHECK(total >= need);
        CHECK(total <= sum);
        for (int i = 0; i < n; i++) {
            CHECK(off[i] % 64 == 0);
            CHECK(off[i] + size[i] <= total);
            for (int j = 0; j < i; j++) {
                if (!(first[i] <= last[j] && first[j] <= last[i]) ||
                    !size[i] || !size[j])
                    continue;
                int apart = off[i] + size[i] <= off[j] ||
                            off[j] + size[j] <= off[i];
                if (!apart)
                    mn_test_fail(__FILE__, __LINE__,
                                 "round %d: buffers %d and %d overlap", round,
                                 i, j);
            }
        }
    }
    /* A chain where each buffer dies before the next two-step one starts:
     * alternating buffers can reuse the same memory. */
    size_t size[6] = {1000, 1000, 1000, 1000, 1000, 1000}, off[6];
    int first[6] = {0, 1, 2, 3, 4, 5}, last[6] = {1, 2, 3, 4, 5, 6};
    CHECK_EQ_INT(mn_tape_plan_arena(size, first, last, 6, off), 2 * 1024);
    CHECK_EQ_INT(mn_tape_plan_arena(size, first, last, 0, off), 0);
}

TEST(train_plan_blocks_zeroed_and_aligned)
{
    size_t sizes[] = {0, 1, 100, 4096, (2u << 20) - 1, 2u << 20,
                      (5u << 20) + 3};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        void *h = NULL;
        size_t hl = 0;
        unsigned char *p = mn_tape_block_alloc(sizes[k], &h, &hl);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK((uintptr_t)p % 64 == 0);
        if (sizes[k] >= (2u << 20))
            CHECK((uintptr_t)p % (2u << 20) == 0);
        size_t nz = 0;
        for (size_t i = 0; i < sizes[k]; i++)
            nz += p[i] != 0;
        CHECK_EQ_INT(nz, 0);
        if (sizes[k])
            memset(p, 0xab, sizes[k]);
        mn_tape_block_free(h, hl);
    }
}
