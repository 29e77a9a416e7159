/*
 * simd/pool.h — max pooling's rule for a window's winner, and the plain-C kernel for one
 * output row of 2 x 2 windows at stride 2, for the ISA files without a vector one (each
 * compiles its own copy with its own flags, like block.h) and for the engine's general
 * windows.
 *
 * The rule: a value takes over from the running winner when it is larger, or when it is
 * the first NaN (so a NaN reaches the output); the first maximum in window order wins
 * ties.  Branch-free: winners are data-dependent, and GCC compiled a plain ?: on floats
 * into jumps (measured: max pooling cost more than the convolution before it).
 */
#ifndef NN_SIMD_POOL_H
#define NN_SIMD_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Whether v takes over from the running winner `best`: larger, or the first NaN. */
static inline int nn_pool_takes_over(float v, float best)
{
    return (v > best) | ((v != v) & (best == best));
}

/* t ? v : best, through the bits. */
static inline float nn_pool_take_if(int t, float v, float best)
{
    uint32_t a, b, mask = 0u - (uint32_t)t;
    memcpy(&a, &v, sizeof a);
    memcpy(&b, &best, sizeof b);
    a = (a & mask) | (b & ~mask);
    memcpy(&v, &a, sizeof v);
    return v;
}

/* One output row of kernels.h's maxpool_2x2_rows: y[o] = the winner of top[2o],
 * top[2o + 1], top[w + 2o], top[w + 2o + 1] (in that order) for o < n; with winner
 * non-NULL, winner[o] = top_at + 2o + (0, 1, w or w + 1: where it was), as a float. */
static inline void nn_maxpool_2x2_row_loop(int n, const float *top, ptrdiff_t w, int top_at,
                                           float *y, float *winner)
{
    const float *bottom = top + w;
    for (int o = 0; o < n; o++) {
        float best = top[2 * o];
        int off = 0, t = nn_pool_takes_over(top[2 * o + 1], best);
        best = nn_pool_take_if(t, top[2 * o + 1], best), off = t ? 1 : off;
        t = nn_pool_takes_over(bottom[2 * o], best);
        best = nn_pool_take_if(t, bottom[2 * o], best), off = t ? (int)w : off;
        t = nn_pool_takes_over(bottom[2 * o + 1], best);
        best = nn_pool_take_if(t, bottom[2 * o + 1], best), off = t ? (int)w + 1 : off;
        y[o] = best;
        if (winner)
            winner[o] = (float)(top_at + 2 * o + off);
    }
}

/* kernels.h's maxpool_2x2_rows, a row at a time. */
static inline void nn_maxpool_2x2_rows_loop(int rows, int n, const float *x, ptrdiff_t w,
                                            int top_at, float *y, float *winner)
{
    for (int r = 0; r < rows; r++, x += 2 * w, top_at += 2 * (int)w, y += n)
        nn_maxpool_2x2_row_loop(n, x, w, top_at, y, winner ? winner + (ptrdiff_t)r * n : NULL);
}

/* One output row of kernels.h's maxpool_2x2_backward_rows.  g + 0 turns -0 into +0, as
 * adding g to a zeroed dx does (the general windows' way). */
static inline void nn_maxpool_2x2_backward_row_loop(int n, const float *dy, const float *winner,
                                                    const float *relu_y, ptrdiff_t w, int top_at,
                                                    float *dx)
{
    for (int o = 0; o < n; o++) {
        float g = relu_y && !(relu_y[o] > 0.0f) ? 0.0f : dy[o] + 0.0f;
        ptrdiff_t off = (ptrdiff_t)winner[o] - (top_at + 2 * o);
        float *top = dx + 2 * o;
        top[0] = off == 0 ? g : 0.0f;
        top[1] = off == 1 ? g : 0.0f;
        top[w] = off == w ? g : 0.0f;
        top[w + 1] = off == w + 1 ? g : 0.0f;
    }
}

/* kernels.h's maxpool_2x2_backward_rows, a row at a time. */
static inline void nn_maxpool_2x2_backward_rows_loop(int rows, int n, const float *dy,
                                                     const float *winner, const float *relu_y,
                                                     ptrdiff_t w, int top_at, float *dx)
{
    for (int r = 0; r < rows; r++, dy += n, winner += n, dx += 2 * w, top_at += 2 * (int)w)
        nn_maxpool_2x2_backward_row_loop(n, dy, winner, relu_y ? relu_y + (ptrdiff_t)r * n : NULL,
                                         w, top_at, dx);
}

#endif /* NN_SIMD_POOL_H */
