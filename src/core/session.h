/* Internal view of a compiled session, for passes and statistics that need
 * the concrete shapes a compile found. */
#ifndef MN_CORE_SESSION_H
#define MN_CORE_SESSION_H

#include "core/graph.h"

enum { MN_VK_UNUSED = 0, MN_VK_CONST = 1, MN_VK_INPUT = 2, MN_VK_RUNTIME = 3 };

/* Meta (and data, for constants) of value v as compiled. */
const mn_tensor *mn_session_value(const mn_session *s, int v);
int mn_session_value_kind(const mn_session *s, int v);
/* Number of nodes that run at run time (after folding). */
int mn_session_num_steps(const mn_session *s);

/* One buffer of the memory plan: bytes live over steps [first, last]. */
typedef struct mn_plan_buf {
    size_t bytes;
    int first, last;
    size_t offset; /* out */
} mn_plan_buf;

/* Assigns offsets (64-byte aligned) so that buffers alive at the same step
 * never overlap; greedy by size, best fit. Returns the arena size. */
size_t mn_plan_arena(mn_plan_buf *bufs, int n);

#endif
