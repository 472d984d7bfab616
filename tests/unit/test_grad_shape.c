/* Gradient checks: Flatten, Reshape, Squeeze, Unsqueeze, Identity,
 * Transpose, Concat, Split, Slice (steps and negative indices), Pad and
 * Expand. */
#include "grad_check.h"
#include "test.h"

static const int64_t XD[4] = {2, 3, 4, 5};

TEST(grad_views)
{
    mn_graph *g = gc_graph("Flatten", 13, 1, 1);
    gc_attr_int(g, "axis", 2);
    mn_tensor *in[2] = {gc_rand(4, XD, 1, -1, 1, 0)};
    GC_CHECK("Flatten", g, in, 1, 1u, NULL);

    g = gc_graph("Reshape", 14, 2, 1);
    in[0] = gc_rand(4, XD, 2, -1, 1, 0);
    in[1] = gc_i64((int64_t[]){6, -1}, 2);
    GC_CHECK("Reshape", g, in, 2, 1u, NULL);

    g = gc_graph("Unsqueeze", 13, 2, 1);
    in[0] = gc_rand(4, XD, 3, -1, 1, 0);
    in[1] = gc_i64((int64_t[]){0}, 1);
    GC_CHECK("Unsqueeze", g, in, 2, 1u, NULL);

    g = gc_graph("Squeeze", 13, 2, 1);
    in[0] = gc_rand(4, (int64_t[]){2, 1, 4, 1}, 4, -1, 1, 0);
    in[1] = gc_i64((int64_t[]){1, 3}, 2);
    GC_CHECK("Squeeze", g, in, 2, 1u, NULL);

    g = gc_graph("Identity", 13, 1, 1);
    in[0] = gc_rand(4, XD, 5, -1, 1, 0);
    GC_CHECK("Identity", g, in, 1, 1u, NULL);
}

TEST(grad_transpose)
{
    mn_graph *g = gc_graph("Transpose", 13, 1, 1);
    gc_attr_ints(g, "perm", (int64_t[]){0, 2, 3, 1}, 4);
    mn_tensor *in[1] = {gc_rand(4, XD, 6, -1, 1, 0)};
    GC_CHECK("Transpose NHWC", g, in, 1, 1u, NULL);
    /* batched 2-D forms (train/grad_shape.c's fast path) */
    g = gc_graph("Transpose", 13, 1, 1);
    gc_attr_ints(g, "perm", (int64_t[]){0, 3, 1, 2}, 4);
    in[0] = gc_rand(4, XD, 8, -1, 1, 0);
    GC_CHECK("Transpose NCHW", g, in, 1, 1u, NULL);
    g = gc_graph("Transpose", 13, 1, 1);
    gc_attr_ints(g, "perm", (int64_t[]){2, 3, 0, 1}, 4);
    in[0] = gc_rand(4, XD, 9, -1, 1, 0);
    GC_CHECK("Transpose (2,3,0,1)", g, in, 1, 1u, NULL);
    g = gc_graph("Transpose", 13, 1, 1);
    gc_attr_ints(g, "perm", (int64_t[]){0, 3, 2, 1}, 4);
    in[0] = gc_rand(4, XD, 10, -1, 1, 0);
    GC_CHECK("Transpose (0,3,2,1)", g, in, 1, 1u, NULL);
    g = gc_graph("Transpose", 13, 1, 1);
    in[0] = gc_rand(3, XD, 7, -1, 1, 0);
    GC_CHECK("Transpose reverse", g, in, 1, 1u, NULL);
}

TEST(grad_concat_split)
{
    mn_graph *g = gc_graph("Concat", 13, 3, 1);
    gc_attr_int(g, "axis", 1);
    mn_tensor *in[3] = {gc_rand(4, XD, 8, -1, 1, 0),
                        gc_rand(4, (int64_t[]){2, 1, 4, 5}, 9, -1, 1, 0),
                        gc_rand(4, (int64_t[]){2, 2, 4, 5}, 10, -1, 1, 0)};
    GC_CHECK("Concat axis 1", g, in, 3, 7u, NULL);

    g = gc_graph("Split", 13, 2, 2);
    gc_attr_int(g, "axis", -1);
    in[0] = gc_rand(4, XD, 11, -1, 1, 0);
    in[1] = gc_i64((int64_t[]){2, 3}, 2);
    GC_CHECK("Split 2+3", g, in, 2, 1u, NULL);

    g = gc_graph("Split", 11, 1, 3);
    gc_attr_int(g, "axis", 1);
    in[0] = gc_rand(4, XD, 12, -1, 1, 0);
    GC_CHECK("Split-11 thirds", g, in, 1, 1u, NULL);
}

TEST(grad_slice_pad_expand)
{
    mn_graph *g = gc_graph("Slice", 13, 5, 1);
    mn_tensor *in[5] = {gc_rand(4, XD, 13, -1, 1, 0),
                        gc_i64((int64_t[]){1, -1}, 2),
                        gc_i64((int64_t[]){4, 0}, 2),
                        gc_i64((int64_t[]){2, 3}, 2),
                        gc_i64((int64_t[]){2, -2}, 2)};
    GC_CHECK("Slice steps", g, in, 5, 1u, NULL);

    g = gc_graph("Slice", 13, 3, 1);
    in[0] = gc_rand(4, XD, 14, -1, 1, 0);
    in[1] = gc_i64((int64_t[]){0, 1, 1, 2}, 4);
    in[2] = gc_i64((int64_t[]){2, 3, 3, 100}, 4);
    GC_CHECK("Slice no axes", g, in, 3, 1u, NULL);

    g = gc_graph("Pad", 13, 2, 1);
    in[0] = gc_rand(4, XD, 15, -1, 1, 0);
    in[1] = gc_i64((int64_t[]){0, 0, 1, 2, 0, 0, 2, 1}, 8);
    GC_CHECK("Pad", g, in, 2, 1u, NULL);

    g = gc_graph("Expand", 13, 2, 1);
    in[0] = gc_rand(3, (int64_t[]){3, 1, 5}, 16, -1, 1, 0);
    in[1] = gc_i64((int64_t[]){2, 3, 4, 5}, 4);
    GC_CHECK("Expand", g, in, 2, 1u, NULL);
}
