/* C export: the text buffer and the constant arrays of the generated file.
 * Floats are printed with 9 significant digits (they read back to the same
 * float32), integers exactly; a weight matrix goes out dense or as a
 * bitmask (bit r·cols + j set when element [r][j] is non-zero, LSB first)
 * plus the non-zero values in row-major order plus each row's first value
 * index, whichever takes fewer bytes. That covers unstructured and N:M
 * sparsity alike. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/c_export_int.h"

static int reserve(cx_buf *b, size_t extra)
{
    if (b->oom)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = mn_realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void cx_printf(cx_buf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[512];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    if ((size_t)n < sizeof tmp) {
        memcpy(b->p + b->len, tmp, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void cx_puts(cx_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

void cx_buf_free(cx_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

mn_status cx_fail(cx *c, const char *fmt, ...)
{
    char msg[600], lb[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mn_error(c->ctx, MN_ERR_UNSUPPORTED, "%s: %s: C export: %s",
                    c->g->source,
                    mn_node_label(c->g, c->cur_node, lb, sizeof lb), msg);
}

const char *cx_ctype(mn_dtype dt)
{
    switch (dt) {
    case MN_DT_F32: return "float";
    case MN_DT_F64: return "double";
    case MN_DT_I8: return "int8_t";
    case MN_DT_U8: return "uint8_t";
    case MN_DT_I32: return "int32_t";
    case MN_DT_U32: return "uint32_t";
    case MN_DT_I16: return "int16_t";
    case MN_DT_U16: return "uint16_t";
    default: return NULL;
    }
}

static void put_float(cx_buf *b, float v)
{
    char t[48];
    if (v != v) {
        cx_puts(b, "NAN"); /* <math.h>, a constant expression */
        return;
    }
    if (isinf(v)) {
        cx_puts(b, v > 0 ? "HUGE_VALF" : "-HUGE_VALF");
        return;
    }
    snprintf(t, sizeof t, "%.9g", (double)v);
    if (!strpbrk(t, ".e"))
        strcat(t, ".0");
    cx_printf(b, "%sf", t);
}

static void put_elem(cx_buf *b, mn_dtype dt, const void *p, size_t i)
{
    switch (dt) {
    case MN_DT_F32: put_float(b, ((const float *)p)[i]); break;
    case MN_DT_I8: cx_printf(b, "%d", ((const int8_t *)p)[i]); break;
    case MN_DT_U8: cx_printf(b, "%u", ((const uint8_t *)p)[i]); break;
    case MN_DT_I16: cx_printf(b, "%d", ((const int16_t *)p)[i]); break;
    case MN_DT_U16: cx_printf(b, "%u", ((const uint16_t *)p)[i]); break;
    case MN_DT_F64: /* hex: the exact double */
        cx_printf(b, "%a", ((const double *)p)[i]);
        break;
    case MN_DT_U32:
        cx_printf(b, "%luu", (unsigned long)((const uint32_t *)p)[i]);
        break;
    default: {
        int32_t v = ((const int32_t *)p)[i];
        if (v == INT32_MIN)
            cx_puts(b, "(-2147483647 - 1)");
        else
            cx_printf(b, "%ld", (long)v);
    }
    }
}

int cx_array(cx *c, mn_dtype dt, const void *data, size_t n)
{
    int id = c->n_arrays++;
    size_t es = mn_dtype_size(dt);
    cx_printf(&c->data, "static const %s k%d[%zu] = {", cx_ctype(dt), id,
              n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        cx_puts(&c->data, i % 8 ? ", " : (i ? ",\n    " : "\n    "));
        put_elem(&c->data, dt, data, i);
    }
    cx_puts(&c->data, n ? "\n};\n" : "0};\n");
    c->data_bytes += (n ? n : 1) * es;
    return c->data.oom ? -1 : id;
}

static int is_zero(mn_dtype dt, const void *p, size_t i)
{
    if (dt == MN_DT_F32)
        return ((const float *)p)[i] == 0.0f;
    return ((const uint8_t *)p)[i] == 0; /* int8 and uint8 */
}

int cx_matrix(cx *c, mn_dtype dt, const void *data, size_t rows, size_t cols,
              int *vals, int *mask, int *rowp)
{
    size_t n = rows * cols, nnz = 0, es = mn_dtype_size(dt);
    *mask = *rowp = -1;
    for (size_t i = 0; i < n; i++)
        nnz += !is_zero(dt, data, i);
    size_t sparse = (n + 7) / 8 + nnz * es + rows * 4;
    if (c->dense || sparse >= n * es || nnz == n) {
        *vals = cx_array(c, dt, data, n);
        return *vals >= 0;
    }
    uint8_t *bits = mn_calloc((n + 7) / 8 + 1, 1);
    uint8_t *v = mn_malloc(nnz * es + 1);
    uint32_t *rp = mn_malloc(rows * sizeof *rp + 1);
    int ok = bits && v && rp;
    if (ok) {
        size_t k = 0;
        for (size_t r = 0; r < rows; r++) {
            rp[r] = (uint32_t)k;
            for (size_t j = 0; j < cols; j++) {
                size_t i = r * cols + j;
                if (is_zero(dt, data, i))
                    continue;
                bits[i >> 3] |= (uint8_t)(1u << (i & 7));
                memcpy(v + k * es, (const char *)data + i * es, es);
                k++;
            }
        }
        *vals = cx_array(c, dt, v, nnz);
        *mask = cx_array(c, MN_DT_U8, bits, (n + 7) / 8);
        *rowp = cx_array(c, MN_DT_U32, rp, rows);
        c->sparse_tensors++;
        ok = *vals >= 0 && *mask >= 0 && *rowp >= 0;
    }
    free(bits);
    free(v);
    free(rp);
    return ok;
}
