/*
 * layers/rng.c — the documented generator behind every random choice of the library.
 *
 * SplitMix64 (Steele, Lea, Flood 2014; the variant-13 mix of Stafford):
 *     state += 0x9e3779b97f4a7c15
 *     z = state
 *     z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
 *     z = (z ^ (z >> 27)) * 0x94d049bb133111eb
 *     return z ^ (z >> 31)
 * Everything else is built on nn_rng_next, so a seed fixes every number on every machine
 * (normals also depend on libm's log/cos/sin, which glibc rounds identically everywhere).
 */
#include "internal.h"

#include <math.h>

#define NN_TWO_PI 6.283185307179586476925286766559

void nn_rng_seed(nn_rng *rng, uint64_t seed)
{
    rng->state = seed;
    rng->has_spare = 0;
    rng->spare = 0.0;
}

uint64_t nn_rng_next(nn_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The top 53 bits as a multiple of 2^-53: every double k / 2^53, k in [0, 2^53). */
double nn_rng_uniform(nn_rng *rng)
{
    return (double)(nn_rng_next(rng) >> 11) * 0x1.0p-53;
}

/*
 * Box-Muller: for u1 in (0, 1] and u2 in [0, 1), r = sqrt(-2 ln u1), a = 2 pi u2 give two
 * independent N(0, 1) numbers r cos a (returned now) and r sin a (kept for the next call).
 */
double nn_rng_normal(nn_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u1 = 1.0 - nn_rng_uniform(rng); /* (0, 1]: log(u1) is finite */
    double u2 = nn_rng_uniform(rng);
    double r = sqrt(-2.0 * log(u1));
    double a = NN_TWO_PI * u2;
    rng->spare = r * sin(a);
    rng->has_spare = 1;
    return r * cos(a);
}

/*
 * Lemire's nearly divisionless method (2019): m = x * n for a 32-bit x maps x to m >> 32
 * in [0, n).  The low half of m says whether x fell in the short, biased part of its
 * bucket (low < 2^32 mod n); those x are rejected and drawn again, which leaves every
 * result exactly 2^32 div n preimages.  The modulo is computed only when low < n.
 */
uint32_t nn_rng_below(nn_rng *rng, uint32_t n)
{
    if (n == 0)
        return 0; /* outside the contract; answer something harmless */
    uint64_t m = (nn_rng_next(rng) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n; /* 2^32 mod n */
        while (low < threshold) {
            m = (nn_rng_next(rng) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
