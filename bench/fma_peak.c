/*
 * The FMA peak driver, compiled for the baseline ISA: it checks the CPU before calling
 * a kernel built with wider flags (fma_peak_avx512.c, fma_peak_avx2.c).
 */
#include "fma_peak.h"

#include <stddef.h>

typedef float (*fma_kernel)(long rounds, float scale, float offset, double *flops);

/* Keeps the kernels' results alive, so the compiler cannot drop the work. */
static volatile float sink;

static fma_kernel pick_kernel(const char **isa)
{
#ifdef NN_BENCH_HAVE_X86_FMA
    /* GCC's cpu model also checks XGETBV, i.e. that the OS saves the wide registers. */
    if (__builtin_cpu_supports("avx512f")) {
        *isa = "avx512";
        return nn_bench_fma_chains_avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *isa = "avx2";
        return nn_bench_fma_chains_avx2;
    }
#endif
    *isa = NULL;
    return NULL;
}

const char *nn_bench_fma_peak_isa(void)
{
    const char *isa;
    pick_kernel(&isa);
    return isa;
}

double nn_bench_fma_peak_run(int threads, long rounds)
{
    const char *isa;
    fma_kernel kernel = pick_kernel(&isa);
    if (!kernel)
        return 0.0;
    double flops = 0.0;
    float keep = 0.0f;
    /* Each thread counts what it did itself: the team may be smaller than asked. */
#pragma omp parallel num_threads(threads) reduction(+ : flops, keep)
    keep += kernel(rounds, 0.999999f, 1e-6f, &flops);
    sink = keep;
    return flops;
}
