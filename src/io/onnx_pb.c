/* protobuf-c plumbing for the ONNX reader/writer: a depth-checked,
 * allocation-bounded unpack of untrusted bytes, packing, whole-file reads
 * and atomic (temp file + rename) writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/onnx_tensor.h"

/* ---- depth pre-scan ---- */

static int read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*i >= len)
            return 0;
        uint8_t b = p[(*i)++];
        if (shift < 64)
            r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0; /* more than 10 bytes */
}

/* Walks the wire format, descending into fields the descriptor declares as
 * messages. Returns 0 when malformed or nested deeper than the limit. */
static int scan_message(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                        size_t len, int depth)
{
    size_t i = 0;
    if (depth > MN_PB_MAX_DEPTH)
        return 0;
    while (i < len) {
        uint64_t key, v;
        if (!read_varint(p, len, &i, &key))
            return 0;
        switch (key & 7) {
        case 0:
            if (!read_varint(p, len, &i, &v))
                return 0;
            break;
        case 1:
            if (len - i < 8)
                return 0;
            i += 8;
            break;
        case 5:
            if (len - i < 4)
                return 0;
            i += 4;
            break;
        case 2: {
            const ProtobufCFieldDescriptor *f = NULL;
            if (!read_varint(p, len, &i, &v) || v > len - i)
                return 0;
            if ((key >> 3) <= 0x1fffffff)
                f = protobuf_c_message_descriptor_get_field(
                    d, (unsigned)(key >> 3));
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !scan_message(f->descriptor, p + i, (size_t)v, depth + 1))
                return 0;
            i += (size_t)v;
            break;
        }
        default: /* groups (3/4) and invalid wire types */
            return 0;
        }
    }
    return 1;
}

/* ---- bounded allocator ---- */

typedef struct budget {
    size_t left;
    int exceeded;
} budget;

static void *budget_alloc(void *data, size_t size)
{
    budget *b = data;
    if (size > b->left) {
        b->exceeded = 1;
        return NULL;
    }
    b->left -= size;
    return malloc(size ? size : 1);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

mn_status mn_pb_unpack(const ProtobufCMessageDescriptor *desc, const void *buf,
                       size_t len, ProtobufCMessage **out, mn_ctx *ctx)
{
    budget b;
    ProtobufCAllocator al = {budget_alloc, budget_free, &b};
    static const uint8_t empty[1];
    *out = NULL;
    if (!buf)
        buf = empty;
    if (!scan_message(desc, buf, len, 0))
        return mn_error(ctx, MN_ERR_PARSE,
                        "not a valid %s (malformed protobuf or nesting "
                        "deeper than %d)",
                        desc->short_name, MN_PB_MAX_DEPTH);
    /* Everything protobuf-c allocates derives from bytes present; tiny
     * messages expand ~100x into C structs, so cap the expansion. */
    if (!mn_mul_size(len, 64, &b.left) ||
        !mn_add_size(b.left, (size_t)64 << 20, &b.left) ||
        b.left > MN_ALLOC_LIMIT)
        b.left = MN_ALLOC_LIMIT;
    b.exceeded = 0;
    *out = protobuf_c_message_unpack(desc, &al, len, buf);
    if (!*out)
        return b.exceeded
                   ? mn_error(ctx, MN_ERR_OOM,
                              "%s of %zu bytes needs too much memory to parse",
                              desc->short_name, len)
                   : mn_error(ctx, MN_ERR_PARSE,
                              "not a valid %s (protobuf parse failed)",
                              desc->short_name);
    return MN_OK;
}

mn_status mn_pb_pack(const ProtobufCMessage *msg, void **buf, size_t *len,
                     mn_ctx *ctx)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *p = mn_malloc(n ? n : 1);
    *buf = NULL;
    *len = 0;
    if (!p)
        return mn_error(ctx, MN_ERR_OOM, "out of memory (%zu bytes)", n);
    if (protobuf_c_message_pack(msg, p) != n) {
        free(p);
        return mn_error(ctx, MN_ERR_RUNTIME, "protobuf packing failed");
    }
    *buf = p;
    *len = n;
    return MN_OK;
}

/* ---- files ---- */

mn_status mn_pb_read_file(const char *path, void **buf, size_t *len,
                          mn_ctx *ctx)
{
    struct stat sb;
    uint8_t *p = NULL;
    size_t n, got = 0;
    mn_status st = MN_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *buf = NULL;
    *len = 0;
    if (fd < 0)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = mn_error(ctx, MN_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > MN_ALLOC_LIMIT) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: file too large (%lld bytes)", path,
                      (long long)sb.st_size);
        goto fail;
    }
    n = (size_t)sb.st_size;
    p = mn_malloc(n ? n : 1);
    if (!p) {
        st = mn_error(ctx, MN_ERR_OOM, "%s: out of memory (%zu bytes)", path,
                      n);
        goto fail;
    }
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = mn_error(ctx, MN_ERR_IO, "%s: read failed: %s", path,
                          r < 0 ? strerror(errno) : "file shrank");
            goto fail;
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = p;
    *len = n;
    return MN_OK;
fail:
    free(p);
    close(fd);
    return st;
}

mn_status mn_pb_write_atomic(const char *path, const void *buf, size_t len,
                             mn_ctx *ctx)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t pl = strlen(path), done = 0;
    char *tmp = mn_malloc(pl + sizeof suffix);
    const uint8_t *p = buf;
    mn_status st = MN_OK;
    int fd = -1;
    if (!tmp)
        return mn_error(ctx, MN_ERR_OOM, "out of memory");
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, suffix, sizeof suffix);
    fd = mkstemp(tmp);
    if (fd < 0) {
        st = mn_error(ctx, MN_ERR_IO, "%s: cannot create temporary file: %s",
                      path, strerror(errno));
        free(tmp);
        return st;
    }
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = mn_error(ctx, MN_ERR_IO, "%s: write failed: %s", path,
                          w < 0 ? strerror(errno) : "no progress");
            goto fail;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, 0644) != 0) {
        st = mn_error(ctx, MN_ERR_IO, "%s: chmod failed: %s", path,
                      strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = mn_error(ctx, MN_ERR_IO, "%s: write failed: %s", path,
                      strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = mn_error(ctx, MN_ERR_IO, "%s: cannot rename temporary file: %s",
                      path, strerror(errno));
        goto fail;
    }
    free(tmp);
    return MN_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return st;
}

char *mn_pb_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *d;
    size_t n;
    if (!slash)
        return mn_strdup(".");
    n = slash == path ? 1 : (size_t)(slash - path);
    d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}
