/* libFuzzer target: the ONNX importer on arbitrary bytes; whatever loads
 * must also export and load again. Built by fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include "core/graph.h"
#include "io/onnx_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL, *h = NULL;
    void *buf = NULL;
    size_t len = 0;
    if (mn_graph_load_onnx_mem(data, size, "fuzz.onnx", &g, &ctx) != MN_OK)
        return 0;
    if (mn_graph_save_onnx_mem(g, &buf, &len, &ctx) != MN_OK)
        abort(); /* a loaded graph must be writable */
    if (mn_graph_load_onnx_mem(buf, len, "fuzz-copy.onnx", &h, &ctx) != MN_OK)
        abort(); /* and what we write must load again */
    if (h->n_nodes != g->n_nodes || h->n_inputs != g->n_inputs ||
        h->n_outputs != g->n_outputs)
        abort();
    free(buf);
    mn_graph_destroy(h);
    mn_graph_destroy(g);
    return 0;
}
