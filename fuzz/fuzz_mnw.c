/* libFuzzer target: the .mnw reader on arbitrary bytes. Each input is tried
 * as given (header, size and checksum checks) and, when it starts with the
 * magic, again with its size and CRC fields made to fit, so the fuzzer
 * reaches the section parsers behind the checksum. Whatever loads must save,
 * load again and save to the same bytes. Built by fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "minnow/mnw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const mn_graph *g)
{
    mn_ctx ctx = {{0}};
    mn_graph *h = NULL;
    void *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    if (mn_graph_save_mnw_mem(g, NULL, &a, &la, &ctx) != MN_OK)
        abort(); /* a loaded graph must be writable */
    if (mn_graph_load_mnw_mem(a, la, "fuzz-copy.mnw", &h, &ctx) != MN_OK)
        abort(); /* and what we write must load again */
    if (mn_graph_save_mnw_mem(h, NULL, &b, &lb, &ctx) != MN_OK || la != lb ||
        memcmp(a, b, la) != 0)
        abort(); /* to the same bytes */
    free(a);
    free(b);
    mn_graph_destroy(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    uint8_t *fixed;
    if (mn_graph_load_mnw_mem(data, size, "fuzz.mnw", &g, &ctx) == MN_OK) {
        check_round_trip(g);
        mn_graph_destroy(g);
        return 0;
    }
    if (size < MNW_HEADER_SIZE || !mn_mnw_is_mnw(data, size))
        return 0;
    if (!(fixed = malloc(size)))
        return 0;
    memcpy(fixed, data, size);
    mnw_put64(fixed + 16, size);
    mnw_put32(fixed + MNW_CRC_OFFSET, mnw_file_crc(fixed, size));
    if (mn_graph_load_mnw_mem(fixed, size, "fuzz.mnw", &g, &ctx) == MN_OK) {
        check_round_trip(g);
        mn_graph_destroy(g);
    }
    free(fixed);
    return 0;
}
