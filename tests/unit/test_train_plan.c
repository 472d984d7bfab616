/* The tape's memory (src/train/tape_plan.c):
 *   - the lifetime planner on random buffers (sizes with odd byte counts,
 *     random step ranges): offsets are 64-byte aligned, two buffers whose
 *     step ranges intersect never overlap, the arena is no smaller than the
 *     largest total of buffers live at one step and no larger than the sum
 *     of all, and buffers that never live at the same time share memory;
 *   - huge-page blocks: aligned, zeroed, writable, for small and large
 *     sizes;
 *   - in-place activations: a Clip (ReLU6) or Relu after BatchNormalization
 *     writes over the BatchNorm output when nothing else reads it, not when
 *     a second node does; the network's gradients pass finite differences
 *     (gc_net_run, h = 3e-3) either way. BatchNorm over a batch of 4 puts
 *     many values near the activations' kinks, where differences of a
 *     larger step straddle them: the seed is one whose inputs do not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "grad_check.h"
#include "test.h"
#include "train/arch.h"
#include "train/tape.h"
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
        if (sizes[k] >= (2u << 20) && hl) /* mapped (not under ASan) */
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

/* x → Conv → BN → ReLU6 → Conv → BN → Relu (→ + BN output when `leak`)
 * → GAP → Dense. */
static mn_graph *act_graph(int leak, int *bn_out, int *act_out, mn_ctx *ctx)
{
    mn_ab b;
    mn_graph *g = NULL;
    mn_arch_opts o = {.channels = 2, .height = 6, .width = 5, .classes = 3,
                      .seed = 4};
    int x = ab_begin(&b, "inplace", &o, ctx);
    x = ab_act(&b, ab_bn(&b, ab_conv(&b, x, 2, 3, 3, 1, 1, 0), 3), "Relu6");
    int y = ab_bn(&b, ab_conv(&b, x, 3, 4, 3, 2, 1, 0), 4);
    int z = ab_act(&b, y, "Relu");
    *bn_out = y;
    *act_out = z;
    if (leak)
        z = ab_add(&b, z, y);
    z = ab_dense(&b, ab_flatten(&b, ab_gap(&b, z)), 4, 3);
    if (ab_end(&b, z, &g) != MN_OK)
        return NULL;
    return g;
}

TEST(train_tape_inplace_activations)
{
    mn_ctx ctx = {{0}};
    static const int64_t y[4] = {0, 2, 1, 2};
    for (int leak = 0; leak < 2; leak++) {
        int bn_out, act_out;
        mn_graph *g = act_graph(leak, &bn_out, &act_out, &ctx);
        mn_tape *t = NULL;
        CHECK(g != NULL);
        if (!g)
            return;
        CHECK_OK(mn_tape_create(g, 4, NULL, 0, NULL, &t, &ctx), &ctx);
        if (t) {
            const void *a = mn_tape_value(t, bn_out)->data;
            const void *r = mn_tape_value(t, act_out)->data;
            CHECK(a != NULL && r != NULL);
            CHECK_EQ_INT(a == r, !leak);
            /* the first ReLU6 (a Clip) also runs in place */
            int clips = 0;
            for (int i = 0; i < g->n_nodes; i++)
                if (g->nodes[i].op == MN_OP_CLIP) {
                    clips++;
                    CHECK(mn_tape_value(t, g->nodes[i].in[0])->data ==
                          mn_tape_value(t, g->nodes[i].out[0])->data);
                }
            CHECK_EQ_INT(clips, 1);
        }
        mn_tape_destroy(t);
        gc_net_opts go = {.batch = 4, .y = y, .x_seed = 41 + (uint64_t)leak,
                          .h = 3e-3, .per_tensor = 12};
        gc_net_result res;
        gc_net_run(leak ? "inplace (leak)" : "inplace", g, &go, &res);
        CHECK(res.checked > 40);
        CHECK_EQ_INT(res.bad, 0);
        mn_graph_destroy(g);
    }
}
