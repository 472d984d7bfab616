/* Counts heap allocations made by the library (the test binary is linked
 * with -Wl,--wrap=malloc,... so every call from libminnow.a lands here).
 * Lets tests assert that mn_session_run allocates nothing. */
#include <stddef.h>
#include <stdlib.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);

long mn_test_allocs;

void *__wrap_malloc(size_t n)
{
    mn_test_allocs++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t s)
{
    mn_test_allocs++;
    return __real_calloc(n, s);
}

void *__wrap_realloc(void *p, size_t n)
{
    mn_test_allocs++;
    return __real_realloc(p, n);
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    mn_test_allocs++;
    return __real_posix_memalign(p, a, n);
}
