/*
 * FMA peak kernel for AVX2 + FMA, compiled with -mavx2 -mfma and called only after the
 * CPU check in fma_peak.c (on CPUs without AVX-512F).
 */
#include "fma_peak.h"

#include <immintrin.h>

/* 8 chains cover 4-cycle latency on two ports; 12 leave margin and, with the two
 * operands, fit in the 16 ymm registers. */
#define CHAINS 12

float nn_bench_fma_chains_avx2(long rounds, float scale, float offset, double *flops)
{
    const __m256 a = _mm256_set1_ps(scale), b = _mm256_set1_ps(offset);
    __m256 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps((float)c);
    /* acc = acc * scale + offset converges (scale < 1): no overflow, no denormals. */
    for (long r = 0; r < rounds; r++) {
#pragma GCC unroll 12 /* = CHAINS: pragmas do not expand macros */
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], a, b);
    }
    __m256 sum = acc[0];
    for (int c = 1; c < CHAINS; c++)
        sum = _mm256_add_ps(sum, acc[c]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    *flops += 2.0 * 8 * CHAINS * (double)rounds;
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] +
           lanes[7];
}
