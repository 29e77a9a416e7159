/*
 * simd/winograd.h — the transforms of Winograd's F(4x4, 3x3) convolution (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016), in plain C that each ISA
 * file compiles with its own flags, like update.h.  A 6 x 6 input tile d and a 3 x 3
 * kernel g give the 4 x 4 outputs A^T [(G g G^T) . (B^T d B)] A, where . multiplies
 * element by element; summed over input channels, the 36 element-wise products become
 * 36 small GEMMs (engine/winograd.c), 4 multiplies per output where direct convolution
 * takes 9.  The matrices, for the interpolation points 0, 1, -1, 2, -2 and infinity:
 *
 *   B^T = | 4  0 -5  0  1  0 |   G = | 1/4     0     0 |   A^T = | 1  1  1  1  1  0 |
 *         | 0 -4 -4  1  1  0 |       | -1/6 -1/6  -1/6 |         | 0  1 -1  2 -2  0 |
 *         | 0  4 -4 -1  1  0 |       | -1/6  1/6  -1/6 |         | 0  1  1  4  4  0 |
 *         | 0 -2 -1  2  1  0 |       | 1/24  1/12  1/6 |         | 0  1 -1  8 -8  1 |
 *         | 0  2 -1 -2  1  0 |       | 1/24 -1/12  1/6 |
 *         | 0  4  0 -5  0  1 |       | 0     0     1   |
 *
 * Every function here works on NN_WINO_LANES channels at once (the last block of a layer
 * may be shorter) in GCC's vector extension: one lane per channel, the same arithmetic
 * in every lane, so a value's bits do not depend on its lane.
 */
#ifndef NN_SIMD_WINOGRAD_H
#define NN_SIMD_WINOGRAD_H

#include <string.h>

#include "kernels.h"

/* NN_WINO_LANES floats, one per channel, that GCC and Clang keep in the ISA's vectors
 * (one zmm, two ymm, four NEON or SSE registers). */
typedef float nn_wino_vec __attribute__((vector_size(NN_WINO_LANES * sizeof(float))));

/* *v = the first n lanes from p, the rest 0 (n == NN_WINO_LANES: one plain load).  The
 * vectors go by pointer: passed by value, their ABI would depend on the ISA's flags. */
static inline void nn_wino_load(nn_wino_vec *v, const float *p, int n)
{
    if (n == NN_WINO_LANES) { /* a constant size: the compiler inlines it */
        memcpy(v, p, sizeof *v);
        return;
    }
    *v = (nn_wino_vec){0};
    memcpy(v, p, (size_t)n * sizeof(float));
}

static inline void nn_wino_store(float *p, const nn_wino_vec *v, int n)
{
    if (n == NN_WINO_LANES)
        memcpy(p, v, sizeof *v);
    else
        memcpy(p, v, (size_t)n * sizeof(float));
}

/* o[k*os] = (B^T a)[k] for the six vectors a[i*as]. */
static inline void nn_wino_bt(const nn_wino_vec *a, int as, nn_wino_vec *o, int os)
{
    nn_wino_vec a0 = a[0], a1 = a[as], a2 = a[2 * as], a3 = a[3 * as], a4 = a[4 * as],
                a5 = a[5 * as];
    o[0] = 4.0f * a0 - 5.0f * a2 + a4;
    o[os] = (a3 + a4) - 4.0f * (a1 + a2);
    o[2 * os] = 4.0f * (a1 - a2) + (a4 - a3);
    o[3 * os] = 2.0f * (a3 - a1) + (a4 - a2);
    o[4 * os] = 2.0f * (a1 - a3) + (a4 - a2);
    o[5 * os] = 4.0f * a1 - 5.0f * a3 + a5;
}

/* o[i*os] = (A^T a)[i], i < 4, for the six vectors a[k*as]. */
static inline void nn_wino_at(const nn_wino_vec *a, int as, nn_wino_vec *o, int os)
{
    nn_wino_vec s12 = a[as] + a[2 * as], d12 = a[as] - a[2 * as];
    nn_wino_vec s34 = a[3 * as] + a[4 * as], d34 = a[3 * as] - a[4 * as];
    o[0] = a[0] + s12 + s34;
    o[os] = d12 + 2.0f * d34;
    o[2 * os] = s12 + 4.0f * s34;
    o[3 * os] = d12 + 8.0f * d34 + a[5 * as];
}

/* o[k*os] = (G a)[k], k < 6, for the three vectors a[i*as]. */
static inline void nn_wino_g(const nn_wino_vec *a, int as, nn_wino_vec *o, int os)
{
    nn_wino_vec a0 = a[0], a1 = a[as], a2 = a[2 * as], s02 = a0 + a2;
    o[0] = a0 * (1.0f / 4.0f);
    o[os] = -(s02 + a1) * (1.0f / 6.0f);
    o[2 * os] = -(s02 - a1) * (1.0f / 6.0f);
    o[3 * os] = a0 * (1.0f / 24.0f) + a1 * (1.0f / 12.0f) + a2 * (1.0f / 6.0f);
    o[4 * os] = a0 * (1.0f / 24.0f) - a1 * (1.0f / 12.0f) + a2 * (1.0f / 6.0f);
    o[5 * os] = a2;
}

/* One input tile, n <= NN_WINO_LANES channels: v[p*v_stride + c] = (B^T d B)[p / 6][p % 6]
 * of channel c, where d[r][s] = src[r*6 + s][c] (padding points at zeros). */
static inline void nn_wino_input_loop(int n, const float *const src[NN_WINO_POS], float *v,
                                      ptrdiff_t v_stride)
{
    nn_wino_vec d[NN_WINO_POS], t[NN_WINO_POS];
    for (int p = 0; p < NN_WINO_POS; p++)
        nn_wino_load(&d[p], src[p], n);
    for (int s = 0; s < NN_WINO_IN; s++) /* columns: t = B^T d */
        nn_wino_bt(d + s, NN_WINO_IN, t + s, NN_WINO_IN);
    for (int k = 0; k < NN_WINO_IN; k++) /* rows: d = t B */
        nn_wino_bt(t + k * NN_WINO_IN, 1, d + k * NN_WINO_IN, 1);
    for (int p = 0; p < NN_WINO_POS; p++)
        nn_wino_store(v + p * v_stride, &d[p], n);
}

/* One output tile, n <= NN_WINO_LANES channels: the rows x cols corner of A^T m A + bias,
 * with m[p] = m[p*m_stride + c] for channel c and bias[c] (or 0 where bias is NULL),
 * stored as y[i*y_rs + j*y_cs + c] for i < rows, j < cols. */
static inline void nn_wino_output_loop(int n, const float *m, ptrdiff_t m_stride,
                                       const float *bias, int rows, int cols, float *y,
                                       ptrdiff_t y_rs, ptrdiff_t y_cs)
{
    nn_wino_vec d[NN_WINO_POS], t[NN_WINO_OUT * NN_WINO_IN], o[NN_WINO_OUT * NN_WINO_OUT];
    nn_wino_vec b = {0};
    if (bias)
        nn_wino_load(&b, bias, n);
    for (int p = 0; p < NN_WINO_POS; p++)
        nn_wino_load(&d[p], m + p * m_stride, n);
    for (int l = 0; l < NN_WINO_IN; l++) /* columns: t = A^T m */
        nn_wino_at(d + l, NN_WINO_IN, t + l, NN_WINO_IN);
    for (int i = 0; i < NN_WINO_OUT; i++) /* rows: o = t A */
        nn_wino_at(t + i * NN_WINO_IN, 1, o + i * NN_WINO_OUT, 1);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            nn_wino_vec r = o[i * NN_WINO_OUT + j] + b;
            nn_wino_store(y + i * y_rs + j * y_cs, &r, n);
        }
}

/* n <= NN_WINO_LANES kernels: u[p*u_stride + c] = (G g G^T)[p / 6][p % 6] of kernel c,
 * whose 3 x 3 taps are g[r][s] = w[r*w_rs + s*w_cs + c * lane_stride]. */
static inline void nn_wino_weights_loop(int n, const float *w, ptrdiff_t w_rs, ptrdiff_t w_cs,
                                        ptrdiff_t lane_stride, float *u, ptrdiff_t u_stride)
{
    nn_wino_vec g[9], t[NN_WINO_IN * 3], o[NN_WINO_POS];
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++) {
            float lanes[NN_WINO_LANES] = {0};
            for (int c = 0; c < n; c++)
                lanes[c] = w[r * w_rs + s * w_cs + c * lane_stride];
            nn_wino_load(&g[r * 3 + s], lanes, NN_WINO_LANES);
        }
    for (int s = 0; s < 3; s++) /* columns: t = G g, 6 x 3 */
        nn_wino_g(g + s, 3, t + s, 3);
    for (int k = 0; k < NN_WINO_IN; k++) /* rows: o = t G^T, 6 x 6 */
        nn_wino_g(t + k * 3, 1, o + k * NN_WINO_IN, 1);
    for (int p = 0; p < NN_WINO_POS; p++)
        nn_wino_store(u + p * u_stride, &o[p], n);
}

#endif /* NN_SIMD_WINOGRAD_H */
