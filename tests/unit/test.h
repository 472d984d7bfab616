/* A minimal unit-test harness: TEST(name) registers a test; CHECK* record
 * failures and continue. The runner (main.c) prints "N passed, M failed". */
#ifndef MN_TEST_H
#define MN_TEST_H

#include <math.h>
#include <stdio.h>

void mn_test_register(const char *name, void (*fn)(void));
void mn_test_fail(const char *file, int line, const char *fmt, ...);
/* Directory of test data shipped in the repo (tests/data), or env override. */
const char *mn_test_data_dir(void);
/* A fresh temporary directory for this test process (removed at exit). */
const char *mn_test_tmp_dir(void);

#define TEST(name)                                                   \
    static void name(void);                                          \
    __attribute__((constructor)) static void reg_##name(void)        \
    {                                                                \
        mn_test_register(#name, name);                               \
    }                                                                \
    static void name(void)

#define CHECK(cond)                                                  \
    do {                                                             \
        if (!(cond))                                                 \
            mn_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                           \
    do {                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);          \
        if (a_ != b_)                                                \
            mn_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
                         #a, #b, a_, b_);                            \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                        \
    do {                                                             \
        double a_ = (double)(a), b_ = (double)(b);                   \
        if (!(fabs(a_ - b_) <= (tol)))                               \
            mn_test_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)", \
                         #a, #b, a_, b_, (double)(tol));             \
    } while (0)

/* CHECK that a call returned MN_OK, printing the context message if not. */
#define CHECK_OK(call, ctxp)                                         \
    do {                                                             \
        mn_status st_ = (call);                                      \
        if (st_ != MN_OK)                                            \
            mn_test_fail(__FILE__, __LINE__, "%s -> %d: %s", #call,  \
                         (int)st_, (ctxp)->msg);                     \
    } while (0)

#endif
