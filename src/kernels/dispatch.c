/* CPU feature detection (CPUID + XGETBV) and the process-wide kernel level,
 * see dispatch.h. MINNOW_ISA caps the level: "avx512" allows everything
 * AVX-512 the CPU has (VNNI included); "avx512f" excludes VNNI; an unknown
 * value is ignored (the library never prints). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/dispatch.h"

#if (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define MN_HAVE_X86 1
#else
#define MN_HAVE_X86 0
#endif

static atomic_int detected = -1; /* mn_isa, -1: not yet */
static atomic_int vbmi = -1;     /* AVX512_VBMI (vpermb), -1: not yet */
static atomic_int active = -1;

#if MN_HAVE_X86
static unsigned long long xgetbv0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static mn_isa detect_x86(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return MN_ISA_REF;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    int f16c = (c >> 29) & 1;
    if (!osxsave || !avx)
        return MN_ISA_REF;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) /* XMM and YMM state */
        return MN_ISA_REF;
    if (__get_cpuid_max(0, NULL) < 7)
        return MN_ISA_REF;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
    int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    int vnni = (c >> 11) & 1;
    atomic_store(&vbmi, (c >> 1) & 1);
    if (!(avx2 && fma && f16c))
        return MN_ISA_REF;
    /* opmask, upper ZMM0-15 and ZMM16-31 state */
    if ((xcr0 & 0xE0) != 0xE0 || !(avx512f && avx512dq && avx512bw && avx512vl))
        return MN_ISA_AVX2;
    return vnni ? MN_ISA_AVX512VNNI : MN_ISA_AVX512;
}
#endif

mn_isa mn_isa_detect(void)
{
    int v = atomic_load(&detected);
    if (v < 0) {
#if MN_HAVE_X86
        v = (int)detect_x86();
#else
        v = MN_ISA_REF;
#endif
        atomic_store(&detected, v);
    }
    return (mn_isa)v;
}

int mn_cpu_has_avx512vbmi(void)
{
    if (mn_isa_detect() < MN_ISA_AVX512) /* no usable AVX-512 state */
        return 0;
    return atomic_load(&vbmi) == 1;
}

mn_isa mn_isa_parse(const char *s)
{
    static const char *const names[] = {"ref", "avx2", "avx512f", "avx512vnni"};
    if (!s)
        return MN_ISA_COUNT;
    if (strcmp(s, "avx512") == 0)
        return MN_ISA_AVX512VNNI; /* the AVX-512 family, VNNI where present */
    for (int i = 0; i < MN_ISA_COUNT; i++)
        if (strcmp(s, names[i]) == 0)
            return (mn_isa)i;
    return MN_ISA_COUNT;
}

const char *mn_isa_name(mn_isa level)
{
    static const char *const names[] = {"ref", "avx2", "avx512", "avx512vnni"};
    return (int)level >= 0 && level < MN_ISA_COUNT ? names[level] : "?";
}

static mn_isa default_level(void)
{
    mn_isa cpu = mn_isa_detect();
    mn_isa cap = mn_isa_parse(getenv("MINNOW_ISA"));
    return cap < cpu ? cap : cpu;
}

mn_isa mn_isa_active(void)
{
    int v = atomic_load(&active);
    if (v < 0) {
        v = (int)default_level();
        atomic_store(&active, v);
    }
    return (mn_isa)v;
}

mn_isa mn_isa_force(mn_isa level)
{
    mn_isa cpu = mn_isa_detect();
    mn_isa v = (int)level < 0 || level >= MN_ISA_COUNT
                   ? default_level()
                   : (level < cpu ? level : cpu);
    atomic_store(&active, (int)v);
    return v;
}
