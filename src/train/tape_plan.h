/* Memory for the tape: a greedy lifetime planner (gradient buffers share
 * one arena) and large zeroed blocks backed by transparent huge pages. */
#ifndef MN_TRAIN_TAPE_PLAN_H
#define MN_TRAIN_TAPE_PLAN_H

#include <stddef.h>

/* Places n buffers in one arena: buffer i (size[i] bytes) is live over the
 * steps first[i]..last[i] (inclusive, first <= last); two buffers whose
 * step ranges intersect never overlap in memory. Greedy by size (largest
 * first, lowest offset that fits), offsets aligned to 64 bytes. Writes
 * off[i] and returns the arena size. Deterministic. Fails (returns
 * SIZE_MAX) only when out of memory or on size overflow. */
size_t mn_tape_plan_arena(const size_t *size, const int *first,
                          const int *last, int n, size_t *off);

/* A zeroed block of at least bytes bytes, 64-byte aligned; blocks of
 * 2 MiB and more are mapped on 2 MiB boundaries and advised for huge
 * pages (fewer page faults on first touch, fewer TLB misses), except under
 * AddressSanitizer (calloc, so overruns stay detectable). *handle and
 * *handle_len receive what mn_tape_block_free needs. NULL when out of
 * memory. */
void *mn_tape_block_alloc(size_t bytes, void **handle, size_t *handle_len);
void mn_tape_block_free(void *handle, size_t handle_len);

#endif
