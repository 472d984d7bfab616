/* Format-neutral model loading: picks the reader from the file's first
 * bytes (a .mnw file starts with "MNW1"; anything else is read as ONNX),
 * so a model keeps loading whatever its name says. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "core/status.h"
#include "minnow/mnw.h"

mn_status mn_graph_load_any(const char *path, mn_graph **out, mn_ctx *ctx)
{
    unsigned char magic[4];
    ssize_t got;
    int fd;
    if (!out || !path)
        return mn_error(ctx, MN_ERR_ARG, "mn_graph_load_any: NULL argument");
    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mn_error(ctx, MN_ERR_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    do
        got = read(fd, magic, sizeof magic);
    while (got < 0 && errno == EINTR);
    close(fd);
    if (got == (ssize_t)sizeof magic && mn_mnw_is_mnw(magic, sizeof magic))
        return mn_graph_load_mnw(path, out, ctx);
    return mn_graph_load_onnx(path, out, ctx);
}
