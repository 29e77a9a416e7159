/*
 * The measured FMA peak: what the cores sustain on independent fused multiply-adds,
 * the ceiling "% of peak" is measured against (a nominal peak from the spec sheet
 * ignores the AVX-512 clock drop and the hypervisor).
 */
#ifndef NN_BENCH_FMA_PEAK_H
#define NN_BENCH_FMA_PEAK_H

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel this CPU runs, "avx512" or "avx2", or NULL if it has neither (or the
 * build is not for x86-64). */
const char *nn_bench_fma_peak_isa(void);

/* Runs `rounds` rounds of independent FMA chains on each of `threads` OpenMP threads.
 * @return the floating-point operations done (2 per lane per FMA), 0 without a kernel. */
double nn_bench_fma_peak_run(int threads, long rounds);

/* The per-ISA kernels (fma_peak_avx512.c, fma_peak_avx2.c): `rounds` rounds on the
 * calling thread; add the operations done to *flops and return a value to keep. */
float nn_bench_fma_chains_avx512(long rounds, float scale, float offset, double *flops);
float nn_bench_fma_chains_avx2(long rounds, float scale, float offset, double *flops);

#ifdef __cplusplus
}
#endif

#endif /* NN_BENCH_FMA_PEAK_H */
