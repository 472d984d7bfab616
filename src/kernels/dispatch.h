/* Run-time ISA selection for the fast kernels.
 *
 * The CPU's level comes from CPUID (and XGETBV: the OS must save the wider
 * registers). MINNOW_ISA=ref|avx2|avx512 in the environment lowers the level
 * (never above what the CPU and the build support). Kernels in
 * src/kernels/x86/ (files ending _avx2.c, _avx512.c, _avx512vnni.c) are
 * only called when the active level allows them; a build without them, or
 * a CPU without the instructions, runs the portable reference kernels
 * (src/kernels/ref).
 *
 * The level is process-wide (like the CPU it describes). Tests and
 * benchmarks may force it with mn_isa_force; that is not meant to be called
 * while another thread runs kernels. */
#ifndef MN_KERNELS_DISPATCH_H
#define MN_KERNELS_DISPATCH_H

typedef enum mn_isa {
    MN_ISA_REF = 0,        /* portable C reference kernels */
    MN_ISA_AVX2 = 1,       /* AVX2 + FMA (+F16C) */
    MN_ISA_AVX512 = 2,     /* AVX-512 F/BW/VL/DQ */
    MN_ISA_AVX512VNNI = 3, /* AVX-512 + VNNI (vpdpbusd) */
    MN_ISA_COUNT
} mn_isa;

/* Highest level the CPU, the OS and this build support. */
mn_isa mn_isa_detect(void);
/* Level the kernels use: detect() lowered by MINNOW_ISA (read once) and by
 * mn_isa_force. */
mn_isa mn_isa_active(void);
/* Forces the active level to min(level, detect()); MN_ISA_COUNT restores
 * the default (detect() lowered by MINNOW_ISA). Returns the new level. */
mn_isa mn_isa_force(mn_isa level);
const char *mn_isa_name(mn_isa level);
/* 1 when the CPU has AVX512_VBMI (byte permutes, vpermi2b) besides the
 * AVX-512 level; kernels using it also need mn_isa_active() >= AVX512. */
int mn_cpu_has_avx512vbmi(void);
/* Parses "ref", "avx2", "avx512", "avx512vnni"; MN_ISA_COUNT when unknown. */
mn_isa mn_isa_parse(const char *s);

#endif
