/* minnow conformance DIR... [--quiet] [--expect FILE]: runs ONNX backend
 * test directories and prints a verdict per test, then
 * "N passed, M failed, K skipped". With --expect, every test named in FILE
 * (one directory name per line, '#' comments) must pass, and skipping one of
 * them counts as a failure. Exit 1 when anything failed. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "eval/conformance.h"

static const char *const USAGE = "DIR... [--quiet] [--expect FILE]";

static char **read_list(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    char line[1024], **v = NULL;
    *n = 0;
    if (!f)
        return NULL;
    while (fgets(line, sizeof line, f)) {
        char *p = line, *e;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        e = p + strcspn(p, " \t\r\n#");
        *e = 0;
        char **nv = realloc(v, (size_t)(*n + 1) * sizeof *nv);
        if (!nv)
            break;
        v = nv;
        v[(*n)++] = strdup(p);
    }
    fclose(f);
    return v;
}

static const char *base_name(const char *p)
{
    size_t l = strlen(p);
    while (l > 1 && p[l - 1] == '/')
        l--;
    const char *b = p + l;
    while (b > p && b[-1] != '/')
        b--;
    return b;
}

int cmd_conformance(int argc, char **argv)
{
    int quiet = 0, passed = 0, failed = 0, skipped = 0, n_expect = 0;
    const char *expect_path = NULL;
    char **expect = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
            expect_path = argv[++i];
        else if (!strcmp(argv[i], "--help"))
            return cli_usage("conformance", USAGE), CLI_OK;
    }
    if (expect_path) {
        expect = read_list(expect_path, &n_expect);
        if (!expect) {
            fprintf(stderr, "minnow: cannot read %s\n", expect_path);
            return CLI_ERR;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet"))
            continue;
        if (!strcmp(argv[i], "--expect")) {
            i++;
            continue;
        }
        mn_conf_verdict v;
        char why[1200];
        const char *name = base_name(argv[i]);
        int expected = 0;
        mn_conformance_run(argv[i], &v, why, sizeof why);
        for (int k = 0; k < n_expect; k++)
            if (!strncmp(expect[k], name, strlen(expect[k])) &&
                (name[strlen(expect[k])] == 0 || name[strlen(expect[k])] == '/'))
                expected = 1;
        if (v == MN_CONF_SKIP && expected)
            v = MN_CONF_FAIL;
        if (v == MN_CONF_PASS) {
            passed++;
            if (!quiet)
                printf("PASS %s\n", name);
        } else if (v == MN_CONF_SKIP) {
            skipped++;
            if (!quiet)
                printf("SKIP %s: %s\n", name, why);
        } else {
            failed++;
            printf("FAIL %s: %s\n", name, why);
        }
    }
    for (int k = 0; k < n_expect; k++)
        free(expect[k]);
    free(expect);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? CLI_ERR : CLI_OK;
}
