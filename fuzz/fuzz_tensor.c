/* libFuzzer target: the .pb (TensorProto) and .npy tensor readers on
 * arbitrary bytes. A .pb tensor that loads must save and load back equal.
 * Built by fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/status.h"
#include "io/onnx_io.h"

/* npy.c belongs to another part of the tree; tolerate its absence. */
#pragma weak mn_tensor_load_npy_mem

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mn_ctx ctx = {{0}};
    mn_tensor *t = NULL, *u = NULL;
    char *name = NULL, *name2 = NULL;
    void *buf = NULL;
    size_t len = 0;
    if (mn_tensor_load_pb_mem(data, size, &t, &name, &ctx) == MN_OK) {
        if (mn_tensor_save_pb_mem(t, name, &buf, &len, &ctx) != MN_OK ||
            mn_tensor_load_pb_mem(buf, len, &u, &name2, &ctx) != MN_OK)
            abort();
        if (u->dtype != t->dtype || u->ndim != t->ndim ||
            memcmp(u->dims, t->dims, sizeof t->dims[0] * (size_t)t->ndim) ||
            memcmp(u->data, t->data, mn_tensor_nbytes(t)) ||
            strcmp(name, name2))
            abort();
        free(buf);
        free(name);
        free(name2);
        mn_tensor_destroy(u);
        mn_tensor_destroy(t);
    }
    if (mn_tensor_load_npy_mem) {
        t = NULL;
        if (mn_tensor_load_npy_mem(data, size, &t, &ctx) == MN_OK)
            mn_tensor_destroy(t);
    }
    return 0;
}
