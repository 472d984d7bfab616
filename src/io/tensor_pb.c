/* ONNX TensorProto <-> mn_tensor: the conversion shared by the ONNX
 * importer/exporter (initializers, TENSOR attributes, external data) and
 * the .pb tensor files of the ONNX backend test data (input_0.pb, ...). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/onnx_io.h"
#include "io/onnx_tensor.h"

static int host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

static void swap_elems(uint8_t *p, size_t n, size_t esz)
{
    for (size_t i = 0; i < n; i++, p += esz)
        for (size_t a = 0, b = esz - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Decimal non-negative integer, whole string. */
static int parse_u64(const char *s, uint64_t *v)
{
    uint64_t r = 0;
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (*s < '0' || *s > '9' || r > (UINT64_MAX - d) / 10)
            return 0;
        r = r * 10 + d;
    }
    *v = r;
    return 1;
}

/* A relative path that stays inside the model's directory. */
static int safe_location(const char *loc)
{
    const char *p = loc;
    if (!loc[0] || loc[0] == '/' || strchr(loc, '\\'))
        return 0;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += n;
        if (*p == '/')
            p++;
    }
    return 1;
}

/* Reads `bytes` bytes of external data described by tp into t->data. */
static mn_status read_external(const Onnx__TensorProto *tp, const char *dir,
                               size_t bytes, void *data, mn_ctx *ctx)
{
    const char *loc = NULL;
    uint64_t off = 0, length = 0;
    int have_len = 0, fd = -1;
    char *path = NULL;
    size_t dl, ll, got = 0;
    struct stat sb;
    mn_status st = MN_OK;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        const char *k = e->key ? e->key : "";
        if (strcmp(k, "location") == 0)
            loc = e->value;
        else if (strcmp(k, "offset") == 0) {
            if (!parse_u64(e->value, &off))
                return mn_error(ctx, MN_ERR_PARSE,
                                "external data offset '%s' is not a number",
                                e->value ? e->value : "");
        } else if (strcmp(k, "length") == 0) {
            if (!parse_u64(e->value, &length))
                return mn_error(ctx, MN_ERR_PARSE,
                                "external data length '%s' is not a number",
                                e->value ? e->value : "");
            have_len = 1;
        }
    }
    if (!loc || !loc[0])
        return mn_error(ctx, MN_ERR_PARSE, "external data without a location");
    if (!safe_location(loc))
        return mn_error(ctx, MN_ERR_PARSE,
                        "external data location '%s' must be a relative path "
                        "inside the model's directory",
                        loc);
    if (have_len && length != bytes)
        return mn_error(ctx, MN_ERR_PARSE,
                        "external data length %llu does not match the shape "
                        "(%zu bytes)",
                        (unsigned long long)length, bytes);
    dl = strlen(dir);
    ll = strlen(loc);
    path = mn_malloc(dl + ll + 2);
    if (!path)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    memcpy(path, dir, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, loc, ll + 1);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = mn_error(ctx, MN_ERR_IO, "cannot open external data '%s': %s",
                      path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0) {
        st = mn_error(ctx, MN_ERR_IO, "external data '%s' is not a regular "
                      "file", path);
        goto out;
    }
    if (off > (uint64_t)sb.st_size || bytes > (uint64_t)sb.st_size - off) {
        st = mn_error(ctx, MN_ERR_PARSE,
                      "external data [%llu, +%zu) lies beyond the end of '%s' "
                      "(%lld bytes)",
                      (unsigned long long)off, bytes, path,
                      (long long)sb.st_size);
        goto out;
    }
    while (got < bytes) {
        ssize_t r = pread(fd, (uint8_t *)data + got, bytes - got,
                          (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = mn_error(ctx, MN_ERR_IO, "reading external data '%s' failed",
                          path);
            goto out;
        }
        got += (size_t)r;
    }
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return st;
}

static const char *field_of(int src)
{
    static const char *const names[] = {"raw_data",   "float_data",
                                        "int32_data", "int64_data",
                                        "double_data", "uint64_data",
                                        "external data"};
    return names[src];
}

enum { SRC_RAW, SRC_FLOAT, SRC_INT32, SRC_INT64, SRC_DOUBLE, SRC_UINT64,
       SRC_EXT, SRC_NONE };

/* Which typed field may carry dtype dt (SRC_RAW/EXT carry any). */
static int typed_field_for(mn_dtype dt)
{
    switch (dt) {
    case MN_DT_F32: return SRC_FLOAT;
    case MN_DT_I32: case MN_DT_I8: case MN_DT_U8: case MN_DT_I16:
    case MN_DT_U16: case MN_DT_BOOL: case MN_DT_F16: return SRC_INT32;
    case MN_DT_I64: return SRC_INT64;
    case MN_DT_F64: return SRC_DOUBLE;
    case MN_DT_U32: case MN_DT_U64: return SRC_UINT64;
    default: return SRC_NONE;
    }
}

/* Narrows int32_data values into dt, checking their range. */
static mn_status fill_int32(mn_tensor *t, const int32_t *v, size_t n,
                            mn_ctx *ctx)
{
    int32_t lo = INT32_MIN, hi = INT32_MAX;
    switch (t->dtype) {
    case MN_DT_I8: lo = INT8_MIN; hi = INT8_MAX; break;
    case MN_DT_U8: lo = 0; hi = UINT8_MAX; break;
    case MN_DT_I16: lo = INT16_MIN; hi = INT16_MAX; break;
    case MN_DT_U16: lo = 0; hi = UINT16_MAX; break;
    case MN_DT_F16: lo = INT16_MIN; hi = UINT16_MAX; break; /* raw bits */
    default: break;
    }
    for (size_t i = 0; i < n; i++) {
        if (t->dtype != MN_DT_BOOL && (v[i] < lo || v[i] > hi))
            return mn_error(ctx, MN_ERR_PARSE,
                            "int32_data[%zu] = %d is out of range for %s", i,
                            (int)v[i], mn_dtype_name(t->dtype));
        switch (t->dtype) {
        case MN_DT_I8: ((int8_t *)t->data)[i] = (int8_t)v[i]; break;
        case MN_DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)v[i]; break;
        case MN_DT_BOOL: ((uint8_t *)t->data)[i] = v[i] != 0; break;
        case MN_DT_I16: ((int16_t *)t->data)[i] = (int16_t)v[i]; break;
        case MN_DT_U16: case MN_DT_F16:
            ((uint16_t *)t->data)[i] = (uint16_t)v[i];
            break;
        default: ((int32_t *)t->data)[i] = v[i]; break;
        }
    }
    return MN_OK;
}

mn_status mn_pb_tensor_decode(const Onnx__TensorProto *tp, const char *ext_dir,
                              mn_tensor **out, mn_ctx *ctx)
{
    int dt = tp->has_data_type ? tp->data_type : 0;
    size_t numel = 1, bytes, n_src = 0, have[SRC_NONE];
    int src = SRC_NONE, nsrc = 0, zero = 0;
    mn_tensor *t = NULL;
    mn_status st;
    *out = NULL;
    if (dt == MN_DT_STRING)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "string tensors are not supported");
    if (dt >= 14 && dt <= 16)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "data type %s is not supported",
                        dt == 14 ? "complex64" : dt == 15 ? "complex128"
                                                          : "bfloat16");
    if (dt <= 0 || dt >= MN_DT_COUNT)
        return mn_error(ctx, MN_ERR_PARSE, "invalid data type %d", dt);
    if (mn_dtype_bits((mn_dtype)dt) == 0)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "data type %d is not supported", dt);
    if (tp->n_dims > MN_MAX_DIMS)
        return mn_error(ctx, MN_ERR_UNSUPPORTED, "rank %zu exceeds %d",
                        tp->n_dims, MN_MAX_DIMS);
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return mn_error(ctx, MN_ERR_PARSE, "negative dimension %lld",
                            (long long)tp->dims[i]);
        zero |= tp->dims[i] == 0;
    }
    /* The product of the non-zero dims must fit even when a zero dim makes
     * the tensor empty: code that multiplies dims in order relies on it. */
    for (size_t i = 0; i < tp->n_dims; i++)
        if (tp->dims[i] &&
            ((uint64_t)tp->dims[i] > SIZE_MAX ||
             !mn_mul_size(numel, (size_t)tp->dims[i], &numel) ||
             numel > (size_t)INT64_MAX))
            return mn_error(ctx, MN_ERR_PARSE,
                            "the product of the dimensions overflows");
    if (zero)
        numel = 0;
    /* 4-bit types: two per byte, low nibble first, rounded up */
    if ((bytes = mn_dtype_nbytes((mn_dtype)dt, numel)) == SIZE_MAX)
        return mn_error(ctx, MN_ERR_PARSE, "tensor size overflows");
    if (tp->segment)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "segmented tensors are not supported");
    if (tp->n_string_data)
        return mn_error(ctx, MN_ERR_PARSE,
                        "string_data in a %s tensor", mn_dtype_name(dt));
    if (tp->has_data_location && tp->data_location != 0 &&
        tp->data_location != 1)
        return mn_error(ctx, MN_ERR_PARSE, "invalid data_location %d",
                        (int)tp->data_location);
    have[SRC_RAW] = tp->has_raw_data;
    have[SRC_FLOAT] = tp->n_float_data;
    have[SRC_INT32] = tp->n_int32_data;
    have[SRC_INT64] = tp->n_int64_data;
    have[SRC_DOUBLE] = tp->n_double_data;
    have[SRC_UINT64] = tp->n_uint64_data;
    have[SRC_EXT] = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    for (int s = 0; s < SRC_NONE; s++)
        if (have[s]) {
            nsrc++;
            src = s;
        }
    if (nsrc > 1)
        return mn_error(ctx, MN_ERR_PARSE, "tensor data is in more than one "
                        "field");
    if (src == SRC_EXT && !ext_dir)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "external data is only supported when loading from a "
                        "file");
    if (src == SRC_RAW && tp->raw_data.len != bytes)
        return mn_error(ctx, MN_ERR_PARSE,
                        "raw_data has %zu bytes; %zu elements of %s need %zu",
                        tp->raw_data.len, numel, mn_dtype_name(dt), bytes);
    if (src != SRC_RAW && src != SRC_EXT && src != SRC_NONE) {
        n_src = have[src];
        if (typed_field_for((mn_dtype)dt) != src)
            return mn_error(ctx, MN_ERR_PARSE, "%s cannot hold %s values",
                            field_of(src), mn_dtype_name(dt));
        if (n_src != numel)
            return mn_error(ctx, MN_ERR_PARSE,
                            "%s has %zu values; the shape needs %zu",
                            field_of(src), n_src, numel);
    }
    if (src == SRC_NONE && numel != 0)
        return mn_error(ctx, MN_ERR_PARSE,
                        "tensor has no data; the shape needs %zu elements",
                        numel);
    st = mn_tensor_create((mn_dtype)dt, (int)tp->n_dims, tp->dims, &t, ctx);
    if (st != MN_OK)
        return st;
    switch (src) {
    case SRC_RAW:
        if (bytes)
            memcpy(t->data, tp->raw_data.data, bytes);
        break;
    case SRC_EXT:
        st = read_external(tp, ext_dir, bytes, t->data, ctx);
        break;
    case SRC_FLOAT:
        memcpy(t->data, tp->float_data, bytes);
        break;
    case SRC_INT32:
        st = fill_int32(t, tp->int32_data, numel, ctx);
        break;
    case SRC_INT64:
        memcpy(t->data, tp->int64_data, bytes);
        break;
    case SRC_DOUBLE:
        memcpy(t->data, tp->double_data, bytes);
        break;
    case SRC_UINT64:
        for (size_t i = 0; i < numel && st == MN_OK; i++) {
            if (dt == MN_DT_U64)
                ((uint64_t *)t->data)[i] = tp->uint64_data[i];
            else if (tp->uint64_data[i] > UINT32_MAX)
                st = mn_error(ctx, MN_ERR_PARSE,
                              "uint64_data[%zu] is out of range for uint32",
                              i);
            else
                ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i];
        }
        break;
    default:
        break;
    }
    if (st == MN_OK && (src == SRC_RAW || src == SRC_EXT)) {
        if (host_big_endian() && mn_dtype_size((mn_dtype)dt) > 1)
            swap_elems(t->data, numel, mn_dtype_size((mn_dtype)dt));
        if (mn_dtype_bits((mn_dtype)dt) == 4 && numel % 2)
            ((uint8_t *)t->data)[bytes - 1] &= 0x0f; /* unused nibble */
        if (dt == MN_DT_BOOL)
            for (size_t i = 0; i < numel; i++)
                ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    }
    if (st != MN_OK) {
        mn_tensor_destroy(t);
        return st;
    }
    *out = t;
    return MN_OK;
}

mn_status mn_pb_tensor_encode(const mn_tensor *t, const char *name,
                              Onnx__TensorProto *tp, int64_t **dims_buf,
                              void **copy, mn_ctx *ctx)
{
    size_t esz = mn_dtype_size(t->dtype), bytes;
    onnx__tensor_proto__init(tp);
    *dims_buf = NULL;
    *copy = NULL;
    if (mn_dtype_bits(t->dtype) == 0 || t->ndim < 0 || t->ndim > MN_MAX_DIMS)
        return mn_error(ctx, MN_ERR_UNSUPPORTED,
                        "cannot write a %s tensor of rank %d",
                        mn_dtype_name(t->dtype), t->ndim);
    bytes = mn_tensor_nbytes(t);
    if (bytes && !t->data)
        return mn_error(ctx, MN_ERR_ARG, "tensor has no data");
    *dims_buf = mn_malloc((size_t)(t->ndim ? t->ndim : 1) * sizeof(int64_t));
    if (!*dims_buf)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    for (int i = 0; i < t->ndim; i++)
        (*dims_buf)[i] = t->dims[i];
    tp->n_dims = (size_t)t->ndim;
    tp->dims = *dims_buf;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    if (name && name[0])
        tp->name = (char *)name;
    tp->has_raw_data = 1;
    tp->raw_data.len = bytes;
    tp->raw_data.data = t->data;
    if (host_big_endian() && esz > 1 && bytes) {
        *copy = mn_malloc(bytes);
        if (!*copy) {
            free(*dims_buf);
            *dims_buf = NULL;
            return mn_error(ctx, MN_ERR_OOM, "out of memory");
        }
        memcpy(*copy, t->data, bytes);
        swap_elems(*copy, bytes / esz, esz);
        tp->raw_data.data = *copy;
    }
    return MN_OK;
}

/* ---- .pb tensor files ---- */

static mn_status load_pb(const void *buf, size_t len, const char *label,
                         const char *dir, mn_tensor **out, char **name,
                         mn_ctx *ctx)
{
    Onnx__TensorProto *tp = NULL;
    mn_tensor *t = NULL;
    mn_status st = mn_pb_unpack(&onnx__tensor_proto__descriptor, buf, len,
                                (ProtobufCMessage **)&tp, ctx);
    if (st != MN_OK)
        return mn_error_prefix(ctx, st, "%s", label);
    st = mn_pb_tensor_decode(tp, dir, &t, ctx);
    if (st != MN_OK) {
        if (tp->name && tp->name[0])
            mn_error_prefix(ctx, st, "%s: tensor '%s'", label, tp->name);
        else
            mn_error_prefix(ctx, st, "%s", label);
        goto fail;
    }
    if (name && !(*name = mn_strdup(tp->name ? tp->name : ""))) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory", label);
        goto fail;
    }
    protobuf_c_message_free_unpacked(&tp->base, NULL);
    *out = t;
    return MN_OK;
fail:
    mn_tensor_destroy(t);
    protobuf_c_message_free_unpacked(&tp->base, NULL);
    return st;
}

mn_status mn_tensor_load_pb_mem(const void *buf, size_t len, mn_tensor **out,
                                char **name, mn_ctx *ctx)
{
    *out = NULL;
    if (name)
        *name = NULL;
    return load_pb(buf, len, "<memory>", NULL, out, name, ctx);
}

mn_status mn_tensor_load_pb(const char *path, mn_tensor **out, char **name,
                            mn_ctx *ctx)
{
    void *buf = NULL;
    size_t len = 0;
    char *dir = NULL;
    mn_status st;
    *out = NULL;
    if (name)
        *name = NULL;
    st = mn_pb_read_file(path, &buf, &len, ctx);
    if (st != MN_OK)
        return st;
    dir = mn_pb_dirname(path);
    if (!dir)
        st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory", path);
    else
        st = load_pb(buf, len, path, dir, out, name, ctx);
    free(dir);
    free(buf);
    return st;
}

mn_status mn_tensor_save_pb_mem(const mn_tensor *t, const char *name,
                                void **buf, size_t *len, mn_ctx *ctx)
{
    Onnx__TensorProto tp;
    int64_t *dims = NULL;
    void *copy = NULL;
    mn_status st = mn_pb_tensor_encode(t, name, &tp, &dims, &copy, ctx);
    *buf = NULL;
    *len = 0;
    if (st == MN_OK)
        st = mn_pb_pack(&tp.base, buf, len, ctx);
    free(dims);
    free(copy);
    return st;
}

mn_status mn_tensor_save_pb(const char *path, const mn_tensor *t,
                            const char *name, mn_ctx *ctx)
{
    void *buf = NULL;
    size_t len = 0;
    mn_status st = mn_tensor_save_pb_mem(t, name, &buf, &len, ctx);
    if (st != MN_OK)
        return mn_error_prefix(ctx, st, "%s", path);
    st = mn_pb_write_atomic(path, buf, len, ctx);
    free(buf);
    return st;
}
