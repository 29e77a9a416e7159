/*
 * engine/cpu.c — which kernel sets this CPU and OS can run.
 *
 * Feature bits plus OS support (XGETBV), never the CPU family: a family table goes
 * stale with every new chip.  Compiled for the baseline ISA like the rest of engine/.
 */
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

typedef struct x86_features {
    int avx2_fma, avx512;
} x86_features;

static x86_features x86_detect(void)
{
    x86_features f = {0, 0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx)
        return f;
    unsigned long long xcr0 = xgetbv0();
    int os_ymm = (xcr0 & 0x6) == 0x6;    /* XMM and YMM state saved */
    int os_zmm = (xcr0 & 0xe6) == 0xe6;  /* plus opmask and both ZMM halves */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return f;
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
    int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    f.avx2_fma = os_ymm && avx2 && fma;
    f.avx512 = f.avx2_fma && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
    return f;
}

int nn_cpu_supports(nn_isa isa)
{
    x86_features f = x86_detect();
    switch (isa) {
    case NN_ISA_SCALAR: return 1;
    case NN_ISA_AVX2: return f.avx2_fma;
    case NN_ISA_AVX512: return f.avx512;
    default: return 0;
    }
}

#elif defined(__aarch64__)

int nn_cpu_supports(nn_isa isa)
{
    /* Advanced SIMD is mandatory in AArch64. */
    return isa == NN_ISA_SCALAR || isa == NN_ISA_NEON;
}

#else

int nn_cpu_supports(nn_isa isa) { return isa == NN_ISA_SCALAR; }

#endif

nn_isa nn_cpu_best_isa(void)
{
    static const nn_isa best_first[] = {NN_ISA_AVX512, NN_ISA_AVX2, NN_ISA_NEON};
    for (size_t i = 0; i < sizeof best_first / sizeof best_first[0]; i++)
        if (nn_cpu_supports(best_first[i]))
            return best_first[i];
    return NN_ISA_SCALAR;
}
