/* Tests of .mnw loading from hostile bytes: every prefix, every
 * single-byte flip, versions, flags and unknown sections, and crafted
 * fields behind a valid checksum all fail with a message naming the file,
 * never a crash or a graph. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/graph.h"
#include "io/mnw_format.h"
#include "io/onnx_io.h"
#include "minnow/mnw.h"
#include "minnow/quant.h"
#include "mnw_test_util.h"
#include "test.h"

/* ---- hostile files ---- */

static void *small_file(size_t *len)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = every_kind_graph();
    void *f = NULL;
    *len = 0;
    if (g)
        CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, len, &ctx), &ctx);
    mn_graph_destroy(g);
    return f;
}

static void recrc(uint8_t *f, size_t len)
{
    mnw_put32(f + MNW_CRC_OFFSET, mnw_file_crc(f, len));
}

static mn_status try_load(const void *f, size_t len, mn_ctx *ctx)
{
    mn_graph *g = NULL;
    mn_status st = mn_graph_load_mnw_mem(f, len, "bad.mnw", &g, ctx);
    if (st == MN_OK)
        mn_graph_destroy(g);
    else if (g || strncmp(ctx->msg, "bad.mnw: ", 9) != 0)
        mn_test_fail(__FILE__, __LINE__, "failure left a graph or the "
                     "message does not name the file: %s", ctx->msg);
    return st;
}

TEST(mnw_every_prefix_fails_cleanly)
{
    size_t len;
    uint8_t *f = small_file(&len);
    mn_ctx ctx = {{0}};
    int bad = 0;
    if (!f)
        return;
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = malloc(n ? n : 1); /* exact size: ASan sees overreads */
        memcpy(p, f, n);
        if (try_load(p, n, &ctx) != MN_ERR_PARSE)
            bad++;
        else if (n >= 8 && !strstr(ctx.msg, "truncated"))
            bad++;
        free(p);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(try_load(f, len, &ctx) == MN_OK);
    free(f);
}

TEST(mnw_every_byte_flip_fails_with_a_checksum_error)
{
    size_t len;
    uint8_t *f = small_file(&len);
    mn_ctx ctx = {{0}};
    int bad = 0, shown = 0;
    if (!f)
        return;
    for (size_t i = 0; i < len; i++) {
        f[i] ^= 0x5a;
        mn_status st = try_load(f, len, &ctx);
        if (i >= 16 && i < 24) /* file_size: the length no longer fits */
            bad += st != MN_ERR_PARSE || !strstr(ctx.msg, "bytes");
        else if (i < 4)
            bad += st != MN_ERR_PARSE || !strstr(ctx.msg, "MNW1");
        else if (i < 6) /* major version */
            bad += st == MN_OK || !strstr(ctx.msg, "version");
        else
            bad += st != MN_ERR_PARSE ||
                   strcmp(ctx.msg, "bad.mnw: checksum mismatch") != 0;
        if (bad && !shown++)
            fprintf(stderr, "  flip at %zu: %s\n", i, ctx.msg);
        f[i] ^= 0x5a;
    }
    CHECK_EQ_INT(bad, 0);
    free(f);
}

TEST(mnw_versions_flags_and_unknown_sections)
{
    size_t len;
    uint8_t *f = small_file(&len), *tab;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int meta = -1;
    if (!f)
        return;
    tab = f + mnw_get64(f + 32);
    /* a newer major: refused, and says so */
    mnw_put16(f + 4, 2);
    mnw_put16(f + 6, 0);
    recrc(f, len);
    CHECK(try_load(f, len, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "version 2.0") && strstr(ctx.msg, "upgrade"));
    /* a newer minor of the same major: read */
    mnw_put16(f + 4, 1);
    mnw_put16(f + 6, 7);
    recrc(f, len);
    CHECK_OK(try_load(f, len, &ctx), &ctx);
    /* an unknown compatible flag is ignored, an incompatible one refused */
    mnw_put32(f + 8, mnw_get32(f + 8) | 0x8000u);
    recrc(f, len);
    CHECK_OK(try_load(f, len, &ctx), &ctx);
    mnw_put32(f + 8, mnw_get32(f + 8) | 0x40000u);
    recrc(f, len);
    CHECK(try_load(f, len, &ctx) == MN_ERR_UNSUPPORTED);
    mnw_put32(f + 8, mnw_get32(f + 8) & 0xffffu);
    /* an unknown optional section is skipped (META renamed to kind 99) */
    for (int s = 0; s < (int)mnw_get32(f + 28); s++)
        if (mnw_get32(tab + 32 * s) == MNW_SEC_META)
            meta = s;
    CHECK(meta >= 0);
    mnw_put32(tab + 32 * meta, 99);
    mnw_put32(tab + 32 * meta + 4, 0);
    recrc(f, len);
    CHECK_OK(mn_graph_load_mnw_mem(f, len, "x.mnw", &g, &ctx), &ctx);
    CHECK(g && g->n_meta == 0 && g->n_nodes == 2);
    mn_graph_destroy(g);
    /* ... and a required one is refused */
    mnw_put32(tab + 32 * meta + 4, MNW_SECF_REQUIRED);
    recrc(f, len);
    CHECK(try_load(f, len, &ctx) == MN_ERR_UNSUPPORTED);
    CHECK(strstr(ctx.msg, "section kind 99") != NULL);
    /* trailing bytes after the declared end */
    mnw_put32(tab + 32 * meta, MNW_SEC_META);
    recrc(f, len);
    uint8_t *g2 = malloc(len + 3);
    memcpy(g2, f, len);
    memset(g2 + len, 0, 3);
    CHECK(try_load(g2, len + 3, &ctx) == MN_ERR_PARSE);
    CHECK(strstr(ctx.msg, "3 unexpected bytes") != NULL);
    free(g2);
    free(f);
}

/* Crafted files with a valid checksum: structure errors must be caught by
 * the checks, not by the CRC. */
TEST(mnw_crafted_fields_with_valid_checksum_fail_cleanly)
{
    size_t len;
    uint8_t *f = small_file(&len), *copy;
    mn_ctx ctx = {{0}};
    int ok = 0, failed = 0;
    if (!f)
        return;
    copy = malloc(len);
    /* every byte after the header, set to several hostile values */
    static const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80, 0x01, 0x40};
    for (size_t i = 28; i < len; i++)
        for (size_t k = 0; k < sizeof vals; k++) {
            memcpy(copy, f, len);
            if (copy[i] == vals[k])
                continue;
            copy[i] = vals[k];
            recrc(copy, len);
            if (try_load(copy, len, &ctx) == MN_OK)
                ok++; /* e.g. a float or a weight byte: still a valid file */
            else
                failed++;
        }
    CHECK(failed > 1000);
    CHECK(ok > 1000);
    free(copy);
    free(f);
}

/* A GAPS blob whose codes or count are damaged (checksum fixed up) is
 * refused with a message saying what is wrong; the intact one loads. */
static uint8_t *gaps_file(size_t *len, uint8_t **blob)
{
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    int64_t d[1] = {198};
    void *f = NULL;
    uint8_t *p;
    *len = 0;
    CHECK_OK(mn_graph_create(&g, &ctx), &ctx);
    if (!g)
        return NULL;
    mn_tensor *t = add_const(g, "w", MN_DT_F32, 1, d);
    for (int i = 0; t && i < 198; i++) /* 10 values at 3, 23, ..., 183 */
        ((float *)t->data)[i] = i % 20 == 3 ? (float)i : 0.0f;
    mul_by_first_value(g, 1, d);
    CHECK_OK(mn_graph_save_mnw_mem(g, NULL, &f, len, &ctx), &ctx);
    mn_graph_destroy(g);
    p = f;
    *blob = NULL;
    for (uint32_t s = 0; p && s < mnw_get32(p + 28); s++) {
        const uint8_t *e = p + mnw_get64(p + 32) + 32 * s;
        if (mnw_get32(e) == MNW_SEC_WEIGHTS)
            *blob = p + mnw_get64(e + 8); /* the only blob, at offset 0 */
    }
    return f;
}

TEST(mnw_gaps_blob_damage_fails_cleanly)
{
    size_t len;
    uint8_t *blob = NULL, *f = gaps_file(&len, &blob), *c;
    mn_ctx ctx = {{0}};
    mn_graph *g = NULL;
    struct {
        int at;      /* byte of the blob to set (-1: the count) */
        uint8_t v;
        const char *why;
    } cases[] = {
        {-1, 0, "cannot cover"},     /* count 0: checked before allocating */
        {-2, 0, "gap codes for"},    /* count 2^40 */
        {8, 0xff, "gap codes place 9 of 10"}, /* 3, 15 → 15, 15 */
        {17, 0xf0, "unused last gap code"}, /* 19 codes: code 18 is the low
                                               nibble of byte 8 + 9 */
    };
    if (!f || !blob)
        return;
    /* 19 codes: 3, then (15, 4) × 9; the 14 zeros after 183 need none */
    CHECK_EQ_INT(mnw_get64(blob), 19);
    /* 1.0 readers must refuse the file by the incompatible flag */
    CHECK(mnw_get32(f + 8) & MNW_FLAG_STORAGE_1_1);
    CHECK_EQ_INT(mnw_get16(f + 6), MNW_MINOR);
    CHECK_OK(mn_graph_load_mnw_mem(f, len, "g.mnw", &g, &ctx), &ctx);
    if (g) {
        const mn_tensor *t = g->values[0].init;
        for (int i = 0; t && i < 198; i++)
            CHECK_NEAR(((const float *)t->data)[i], i % 20 == 3 ? i : 0, 0);
        mn_graph_destroy(g);
    }
    c = malloc(len);
    for (size_t k = 0; c && k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *b = c + (blob - f);
        memcpy(c, f, len);
        if (cases[k].at == -1)
            mnw_put64(b, 0);
        else if (cases[k].at == -2)
            mnw_put64(b, (uint64_t)1 << 40);
        else if (cases[k].at == 17)
            b[17] = (uint8_t)(b[17] | cases[k].v); /* the unused nibble */
        else
            b[cases[k].at] = cases[k].v;
        recrc(c, len);
        CHECK(try_load(c, len, &ctx) == MN_ERR_PARSE);
        if (!strstr(ctx.msg, cases[k].why))
            mn_test_fail(__FILE__, __LINE__, "case %zu: '%s' not in '%s'", k,
                         cases[k].why, ctx.msg);
    }
    free(c);
    free(f);
}
