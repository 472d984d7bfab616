/* Unit-test runner: runs every registered test (or those whose name contains
 * argv[1]) and ends with the line "N passed, M failed". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"

#define MAX_TESTS 2048
static struct {
    const char *name;
    void (*fn)(void);
} tests[MAX_TESTS];
static int n_tests;
static int cur_failed;
static char tmp_dir[256];

void mn_test_register(const char *name, void (*fn)(void))
{
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void mn_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cur_failed++;
}

const char *mn_test_data_dir(void)
{
    const char *d = getenv("MINNOW_TEST_DATA");
    return d ? d : "tests/data";
}

static void rm_tmp(void)
{
    if (tmp_dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp_dir);
    }
}

const char *mn_test_tmp_dir(void)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/minnow-test-XXXXXX");
        if (!mkdtemp(tmp_dir)) {
            tmp_dir[0] = 0;
            return "/tmp";
        }
        atexit(rm_tmp);
    }
    return tmp_dir;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const char *const *)a)[0], ((const char *const *)b)[0]);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    qsort(tests, (size_t)n_tests, sizeof tests[0], by_name);
    for (int i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        cur_failed = 0;
        tests[i].fn();
        if (cur_failed) {
            fprintf(stderr, "FAIL %s\n", tests[i].name);
            failed++;
        } else {
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
