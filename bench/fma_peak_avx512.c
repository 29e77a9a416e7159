/*
 * FMA peak kernel for AVX-512F, compiled with -mavx512f -mfma and called only after
 * the CPU check in fma_peak.c.
 */
#include "fma_peak.h"

#include <immintrin.h>

/* An FMA takes 4 cycles and two can start per cycle, so 8 chains keep both ports
 * busy; 16 leave margin and, with the two operands, fit in the 32 zmm registers. */
#define CHAINS 16

float nn_bench_fma_chains_avx512(long rounds, float scale, float offset, double *flops)
{
    const __m512 a = _mm512_set1_ps(scale), b = _mm512_set1_ps(offset);
    __m512 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    /* acc = acc * scale + offset converges (scale < 1): no overflow, no denormals. */
    for (long r = 0; r < rounds; r++) {
#pragma GCC unroll 16 /* = CHAINS: pragmas do not expand macros */
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], a, b);
    }
    __m512 sum = acc[0];
    for (int c = 1; c < CHAINS; c++)
        sum = _mm512_add_ps(sum, acc[c]);
    *flops += 2.0 * 16 * CHAINS * (double)rounds;
    return _mm512_reduce_add_ps(sum);
}
