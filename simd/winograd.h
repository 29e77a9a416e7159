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
 * The backward passes use the adjoints: A dy A^T for the output gradient, B dV B^T for
 * the input's, G^T dU G for the kernels'.  The output transform and its adjoint also come
 * with 2 x 2 max pooling folded in (a 4 x 4 tile holds whole windows), bit for bit what
 * the separate pooling kernels compute.
 *
 * Every kernel takes a block of NN_WINO_LANES channels (the last block of a layer may be
 * shorter) and works on NN_WINO_WIDTH of them at a time, in GCC's vector extension: one
 * lane per channel, the same arithmetic in every lane, so a value's bits depend neither
 * on its lane nor on the width.
 */
#ifndef NN_SIMD_WINOGRAD_H
#define NN_SIMD_WINOGRAD_H

#include <stdint.h>
#include <string.h>

#include "kernels.h"

/* Channels a vector holds: one register of the ISA (a zmm; a ymm; a NEON or SSE
 * register).  A transform keeps its tile's 16 to 36 vectors live, which fit the 32 zmm
 * but not twice as many ymm: with AVX2 a 16-lane vector spilled the pooling transforms
 * to the stack, 40% of an AVX2 epoch. */
#if defined(__AVX512F__)
#define NN_WINO_WIDTH 16
#define NN_WINO_WHOLE_BLOCK 1 /* NN_WINO_LANES (an enum, which #if cannot see) */
#elif defined(__AVX__)
#define NN_WINO_WIDTH 8
#define NN_WINO_WHOLE_BLOCK 0
#else
#define NN_WINO_WIDTH 4
#define NN_WINO_WHOLE_BLOCK 0
#endif
_Static_assert(NN_WINO_LANES % NN_WINO_WIDTH == 0 &&
                   NN_WINO_WHOLE_BLOCK == (NN_WINO_WIDTH == NN_WINO_LANES),
               "a block of NN_WINO_LANES channels is a whole number of vectors");

/* NN_WINO_WIDTH floats, one per channel. */
typedef float nn_wino_vec __attribute__((vector_size(NN_WINO_WIDTH * sizeof(float))));

/* Each kernel is a body for n <= NN_WINO_WIDTH channels that its table entry runs over
 * the block NN_WINO_WIDTH channels at a time, inlined twice (NN_WINO_SPLIT): with n the
 * constant NN_WINO_WIDTH, where every load and store is one vector move, and for a short
 * last part.  (Through one copy that takes any n, the tile transforms of MNIST's conv2
 * took 20% longer.) */
#define NN_WINO_BODY static inline __attribute__((always_inline)) void
#define NN_WINO_SPLIT(body, n, ...)           \
    do {                                      \
        if ((n) == NN_WINO_WIDTH)             \
            body(NN_WINO_WIDTH, __VA_ARGS__); \
        else                                  \
            body(n, __VA_ARGS__);             \
    } while (0)

/* The channels of part h (a multiple of NN_WINO_WIDTH) of a block of n. */
static inline int nn_wino_part(int n, int h)
{
    return n - h < NN_WINO_WIDTH ? n - h : NN_WINO_WIDTH;
}

/* *v = the first n lanes from p, the rest 0 (n == NN_WINO_WIDTH: one plain load).  The
 * vectors go by pointer: passed by value, their ABI would depend on the ISA's flags. */
NN_WINO_BODY nn_wino_load(nn_wino_vec *v, const float *p, int n)
{
    if (n == NN_WINO_WIDTH) { /* a constant size: the compiler inlines it */
        memcpy(v, p, sizeof *v);
        return;
    }
    *v = (nn_wino_vec){0};
    memcpy(v, p, (size_t)n * sizeof(float));
}

NN_WINO_BODY nn_wino_store(float *p, const nn_wino_vec *v, int n)
{
    if (n == NN_WINO_WIDTH)
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

/* z[k*zs] = (A y)[k], k < 6, for the four vectors y[i*ys]: the output transform's
 * adjoint. */
static inline void nn_wino_a(const nn_wino_vec *y, int ys, nn_wino_vec *z, int zs)
{
    nn_wino_vec y0 = y[0], y1 = y[ys], y2 = y[2 * ys], y3 = y[3 * ys];
    nn_wino_vec s02 = y0 + y2, s13 = y1 + y3, e = y0 + 4.0f * y2, o = y1 + 4.0f * y3;
    z[0] = y0;
    z[zs] = s02 + s13;
    z[2 * zs] = s02 - s13;
    z[3 * zs] = e + 2.0f * o;
    z[4 * zs] = e - 2.0f * o;
    z[5 * zs] = y3;
}

/* e[r*es] = (B v)[r] for the six vectors v[k*vs]: the input transform's adjoint. */
static inline void nn_wino_b(const nn_wino_vec *v, int vs, nn_wino_vec *e, int es)
{
    nn_wino_vec v0 = v[0], v1 = v[vs], v2 = v[2 * vs], v3 = v[3 * vs], v4 = v[4 * vs],
                v5 = v[5 * vs];
    e[0] = 4.0f * v0;
    e[es] = 4.0f * (v2 - v1) + 2.0f * (v4 - v3) + 4.0f * v5;
    e[2 * es] = -5.0f * v0 - 4.0f * (v1 + v2) - (v3 + v4);
    e[3 * es] = (v1 - v2) + 2.0f * (v3 - v4) - 5.0f * v5;
    e[4 * es] = v0 + (v1 + v2) + (v3 + v4);
    e[5 * es] = v5;
}

/* w[r*ws] = (G^T u)[r], r < 3, for the six vectors u[k*us]: the weight transform's
 * adjoint. */
static inline void nn_wino_gt(const nn_wino_vec *u, int us, nn_wino_vec *w, int ws)
{
    nn_wino_vec s12 = u[us] + u[2 * us], d21 = u[2 * us] - u[us];
    nn_wino_vec s34 = u[3 * us] + u[4 * us], d34 = u[3 * us] - u[4 * us];
    w[0] = u[0] * (1.0f / 4.0f) - s12 * (1.0f / 6.0f) + s34 * (1.0f / 24.0f);
    w[ws] = d21 * (1.0f / 6.0f) + d34 * (1.0f / 12.0f);
    w[2 * ws] = (s34 - s12) * (1.0f / 6.0f) + u[5 * us];
}

/* One input tile, n <= NN_WINO_WIDTH channels: v[p*v_stride + c] = (B^T d B)[p / 6][p % 6]
 * of channel c, where d[r][s] = src[r*6 + s][at + c] (padding points at zeros). */
NN_WINO_BODY nn_wino_input_body(int n, const float *const src[NN_WINO_POS], ptrdiff_t at,
                                float *v, ptrdiff_t v_stride)
{
    nn_wino_vec t[NN_WINO_POS];
    for (int s = 0; s < NN_WINO_IN; s++) { /* columns: t = B^T d */
        nn_wino_vec d[NN_WINO_IN];
        for (int r = 0; r < NN_WINO_IN; r++)
            nn_wino_load(&d[r], src[r * NN_WINO_IN + s] + at, n);
        nn_wino_bt(d, 1, t + s, NN_WINO_IN);
    }
    for (int k = 0; k < NN_WINO_IN; k++) { /* rows: v = t B */
        nn_wino_vec o[NN_WINO_IN];
        nn_wino_bt(t + k * NN_WINO_IN, 1, o, 1);
        for (int s = 0; s < NN_WINO_IN; s++)
            nn_wino_store(v + (k * NN_WINO_IN + s) * v_stride, &o[s], n);
    }
}

/* The 16 conv outputs of one tile, A^T m A + bias, n <= NN_WINO_WIDTH channels (with bias
 * NULL nothing is added: adding 0 would turn -0 into +0, as the GEMM epilogue does not). */
NN_WINO_BODY nn_wino_output_tile(int n, const float *m, ptrdiff_t m_stride, const float *bias,
                                 nn_wino_vec o[NN_WINO_OUT * NN_WINO_OUT])
{
    nn_wino_vec t[NN_WINO_OUT * NN_WINO_IN], b;
    for (int l = 0; l < NN_WINO_IN; l++) { /* columns: t = A^T m */
        nn_wino_vec d[NN_WINO_IN];
        for (int k = 0; k < NN_WINO_IN; k++)
            nn_wino_load(&d[k], m + (k * NN_WINO_IN + l) * m_stride, n);
        nn_wino_at(d, 1, t + l, NN_WINO_IN);
    }
    for (int i = 0; i < NN_WINO_OUT; i++) /* rows: o = t A */
        nn_wino_at(t + i * NN_WINO_IN, 1, o + i * NN_WINO_OUT, 1);
    if (!bias)
        return;
    nn_wino_load(&b, bias, n);
    for (int i = 0; i < NN_WINO_OUT * NN_WINO_OUT; i++)
        o[i] += b;
}

/* One output tile, n <= NN_WINO_WIDTH channels: the rows x cols corner of A^T m A + bias,
 * with m[p] = m[p*m_stride + c] for channel c and bias[c] (or 0 where bias is NULL),
 * stored as y[i*y_rs + j*y_cs + c] for i < rows, j < cols. */
NN_WINO_BODY nn_wino_output_body(int n, const float *m, ptrdiff_t m_stride,
                                 const float *bias, int rows, int cols, float *y,
                                 ptrdiff_t y_rs, ptrdiff_t y_cs)
{
    nn_wino_vec o[NN_WINO_OUT * NN_WINO_OUT];
    nn_wino_output_tile(n, m, m_stride, bias, o);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            nn_wino_store(y + i * y_rs + j * y_cs, &o[i * NN_WINO_OUT + j], n);
}

/* Lane masks of the vector comparisons (all ones where true). */
typedef int32_t nn_wino_mask __attribute__((vector_size(NN_WINO_WIDTH * sizeof(float))));

/* take ? v : best, lane by lane, through the bits. */
static inline void nn_wino_take(nn_wino_vec *best, const nn_wino_vec *v, nn_wino_mask take)
{
    *best = (nn_wino_vec)(((nn_wino_mask)*v & take) | ((nn_wino_mask)*best & ~take));
}

/* kernels.h's wino_output_pool. */
NN_WINO_BODY nn_wino_output_pool_body(int n, const float *m, ptrdiff_t m_stride,
                                      const float *bias, int relu, const nn_wino_pool *pool)
{
    nn_wino_vec o[NN_WINO_OUT * NN_WINO_OUT], lane;
    nn_wino_output_tile(n, m, m_stride, bias, o);
    for (int i = 0; relu && i < NN_WINO_OUT * NN_WINO_OUT; i++) {
        nn_wino_vec zero = {0};
        nn_wino_take(&o[i], &zero, o[i] < zero);
    }
    for (int c = 0; c < NN_WINO_WIDTH; c++)
        lane[c] = (float)c * pool->lane_step + pool->at;
    for (int a = 0; 2 * a + 1 < pool->rows; a++)
        for (int b = 0; 2 * b + 1 < pool->cols; b++) {
            const nn_wino_vec *top = &o[2 * a * NN_WINO_OUT + 2 * b];
            const nn_wino_vec *window[4] = {top, top + 1, top + NN_WINO_OUT, top + NN_WINO_OUT + 1};
            const float place[4] = {0.0f, 1.0f, pool->row_step, pool->row_step + 1.0f};
            nn_wino_vec best = *window[0], off = {0};
            for (int q = 1; q < 4; q++) { /* pool.h's rule: larger, or the first NaN */
                nn_wino_vec v = *window[q], at = (nn_wino_vec){0} + place[q];
                nn_wino_mask take = (v > best) | ((v != v) & (best == best));
                nn_wino_take(&best, &v, take);
                nn_wino_take(&off, &at, take);
            }
            ptrdiff_t to = a * pool->y_rs + b * pool->y_cs;
            nn_wino_store(pool->y + to, &best, n);
            if (pool->winner) {
                nn_wino_vec w = lane + ((float)(2 * a) * pool->row_step + (float)(2 * b) + off);
                nn_wino_store(pool->winner + to, &w, n);
            }
        }
}

/* n <= NN_WINO_WIDTH kernels: u[p*u_stride + c] = (G g G^T)[p / 6][p % 6] of kernel c,
 * whose 3 x 3 taps are g[r][s] = taps[(r*3 + s)*NN_WINO_LANES + c]. */
NN_WINO_BODY nn_wino_weights_body(int n, const float taps[9 * NN_WINO_LANES], float *u,
                                  ptrdiff_t u_stride)
{
    nn_wino_vec g[9], t[NN_WINO_IN * 3], o[NN_WINO_POS];
    for (int i = 0; i < 9; i++)
        nn_wino_load(&g[i], taps + i * NN_WINO_LANES, n);
    for (int s = 0; s < 3; s++) /* columns: t = G g, 6 x 3 */
        nn_wino_g(g + s, 3, t + s, 3);
    for (int k = 0; k < NN_WINO_IN; k++) /* rows: o = t G^T, 6 x 6 */
        nn_wino_g(t + k * 3, 1, o + k * NN_WINO_IN, 1);
    for (int p = 0; p < NN_WINO_POS; p++)
        nn_wino_store(u + p * u_stride, &o[p], n);
}

/* m[p*m_stride + c] = (A dy A^T)[p / 6][p % 6] for the 4 x 4 tile dy, lane c < n. */
NN_WINO_BODY nn_wino_output_gradient(int n, const nn_wino_vec dy[NN_WINO_OUT * NN_WINO_OUT],
                                     float *m, ptrdiff_t m_stride)
{
    nn_wino_vec t[NN_WINO_IN * NN_WINO_OUT];
    for (int j = 0; j < NN_WINO_OUT; j++) /* columns: t = A dy, 6 x 4 */
        nn_wino_a(dy + j, NN_WINO_OUT, t + j, NN_WINO_OUT);
    for (int k = 0; k < NN_WINO_IN; k++) { /* rows: m = t A^T, 6 x 6 */
        nn_wino_vec o[NN_WINO_IN];
        nn_wino_a(t + k * NN_WINO_OUT, 1, o, 1);
        for (int l = 0; l < NN_WINO_IN; l++)
            nn_wino_store(m + (k * NN_WINO_IN + l) * m_stride, &o[l], n);
    }
}

/* The output transform's adjoint for one tile, n <= NN_WINO_WIDTH channels: m[p*m_stride +
 * c] = (A dy A^T)[p / 6][p % 6] of channel c, where dy[i][j] = src[i*4 + j][at + c]
 * (outputs past the edge point at zeros). */
NN_WINO_BODY nn_wino_output_backward_body(int n, const float *const src[16], ptrdiff_t at,
                                          float *m, ptrdiff_t m_stride)
{
    nn_wino_vec d[NN_WINO_OUT * NN_WINO_OUT];
    for (int i = 0; i < NN_WINO_OUT * NN_WINO_OUT; i++)
        nn_wino_load(&d[i], src[i] + at, n);
    nn_wino_output_gradient(n, d, m, m_stride);
}

/* kernels.h's wino_output_pool_backward. */
NN_WINO_BODY nn_wino_output_pool_backward_body(int n, const nn_wino_unpool *u, float *m,
                                               ptrdiff_t m_stride)
{
    nn_wino_vec d[NN_WINO_OUT * NN_WINO_OUT] = {{0}}, lane, zero = {0};
    for (int c = 0; c < NN_WINO_WIDTH; c++)
        lane[c] = (float)c * u->lane_step + u->at;
    for (int a = 0; 2 * a + 1 < u->rows; a++)
        for (int b = 0; 2 * b + 1 < u->cols; b++) {
            ptrdiff_t at = a * u->rs + b * u->cs;
            nn_wino_vec g, winner, relu;
            nn_wino_load(&g, u->dy + at, n);
            g += zero; /* the pooling backward's g + 0: -0 becomes +0 */
            if (u->relu_y) {
                nn_wino_load(&relu, u->relu_y + at, n);
                nn_wino_take(&g, &zero, ~(relu > zero));
            }
            nn_wino_load(&winner, u->winner + at, n);
            nn_wino_vec off = winner - (lane + ((float)(2 * a) * u->row_step + (float)(2 * b)));
            const float place[4] = {0.0f, 1.0f, u->row_step, u->row_step + 1.0f};
            for (int q = 0; q < 4; q++) {
                nn_wino_vec v = zero;
                nn_wino_take(&v, &g, off == zero + place[q]);
                d[(2 * a + q / 2) * NN_WINO_OUT + 2 * b + q % 2] = v;
            }
        }
    nn_wino_output_gradient(n, d, m, m_stride);
}

/* The input transform's adjoint for one tile, n <= NN_WINO_WIDTH channels: dst[p][at + c]
 * += (B dv B^T)[p / 6][p % 6] of channel c, where dv[p] = v[p*v_stride + c]; a NULL dst[p]
 * (padding) is skipped. */
NN_WINO_BODY nn_wino_input_backward_body(int n, const float *v, ptrdiff_t v_stride,
                                         float *const dst[NN_WINO_POS], ptrdiff_t at)
{
    nn_wino_vec t[NN_WINO_POS];
    for (int l = 0; l < NN_WINO_IN; l++) { /* columns: t = B dv */
        nn_wino_vec d[NN_WINO_IN];
        for (int k = 0; k < NN_WINO_IN; k++)
            nn_wino_load(&d[k], v + (k * NN_WINO_IN + l) * v_stride, n);
        nn_wino_b(d, 1, t + l, NN_WINO_IN);
    }
    for (int r = 0; r < NN_WINO_IN; r++) { /* rows: dst += t B^T */
        nn_wino_vec o[NN_WINO_IN];
        nn_wino_b(t + r * NN_WINO_IN, 1, o, 1);
        for (int s = 0; s < NN_WINO_IN; s++) {
            float *to = dst[r * NN_WINO_IN + s];
            if (!to)
                continue;
            nn_wino_vec sum;
            nn_wino_load(&sum, to + at, n);
            sum += o[s];
            nn_wino_store(to + at, &sum, n);
        }
    }
}

/* The weight transform's adjoint for n <= NN_WINO_WIDTH kernels, over parts summed in
 * order: taps[(r*3 + s)*NN_WINO_LANES + c] = (G^T u G)[r][s] of kernel c, where u[p] = the
 * sum over q < parts of u[q*part_stride + p*u_stride + c]. */
NN_WINO_BODY nn_wino_weights_backward_body(int n, int parts, const float *u,
                                           ptrdiff_t part_stride, ptrdiff_t u_stride,
                                           float taps[9 * NN_WINO_LANES])
{
    nn_wino_vec d[NN_WINO_POS], t[3 * NN_WINO_IN], o[9];
    for (int p = 0; p < NN_WINO_POS; p++) {
        nn_wino_load(&d[p], u + p * u_stride, n);
        for (int q = 1; q < parts; q++) {
            nn_wino_vec part;
            nn_wino_load(&part, u + q * part_stride + p * u_stride, n);
            d[p] += part;
        }
    }
    for (int l = 0; l < NN_WINO_IN; l++) /* columns: t = G^T u, 3 x 6 */
        nn_wino_gt(d + l, NN_WINO_IN, t + l, NN_WINO_IN);
    for (int r = 0; r < 3; r++) /* rows: o = t G, 3 x 3 */
        nn_wino_gt(t + r * NN_WINO_IN, 1, o + r * 3, 1);
    for (int i = 0; i < 9; i++)
        nn_wino_store(taps + i * NN_WINO_LANES, &o[i], n);
}

/* The kernel-table entries, the same in every ISA's table.  Where a vector holds the
 * whole block, each is its body split on n (NN_WINO_SPLIT): through the loop over parts
 * below, GCC compiled AVX-512's output transforms with twice the spills, 30% slower. */
#if NN_WINO_WHOLE_BLOCK
static inline void nn_wino_input_loop(int n, const float *const src[NN_WINO_POS], ptrdiff_t at,
                                      float *v, ptrdiff_t v_stride)
{
    NN_WINO_SPLIT(nn_wino_input_body, n, src, at, v, v_stride);
}

static inline void nn_wino_output_loop(int n, const float *m, ptrdiff_t m_stride,
                                       const float *bias, int rows, int cols, float *y,
                                       ptrdiff_t y_rs, ptrdiff_t y_cs)
{
    NN_WINO_SPLIT(nn_wino_output_body, n, m, m_stride, bias, rows, cols, y, y_rs, y_cs);
}

static inline void nn_wino_output_pool_loop(int n, const float *m, ptrdiff_t m_stride,
                                            const float *bias, int relu, const nn_wino_pool *pool)
{
    NN_WINO_SPLIT(nn_wino_output_pool_body, n, m, m_stride, bias, relu, pool);
}

static inline void nn_wino_weights_loop(int n, const float taps[9 * NN_WINO_LANES], float *u,
                                        ptrdiff_t u_stride)
{
    NN_WINO_SPLIT(nn_wino_weights_body, n, taps, u, u_stride);
}

static inline void nn_wino_output_backward_loop(int n, const float *const src[16], ptrdiff_t at,
                                                float *m, ptrdiff_t m_stride)
{
    NN_WINO_SPLIT(nn_wino_output_backward_body, n, src, at, m, m_stride);
}

static inline void nn_wino_output_pool_backward_loop(int n, const nn_wino_unpool *u, float *m,
                                                     ptrdiff_t m_stride)
{
    NN_WINO_SPLIT(nn_wino_output_pool_backward_body, n, u, m, m_stride);
}

static inline void nn_wino_input_backward_loop(int n, const float *v, ptrdiff_t v_stride,
                                               float *const dst[NN_WINO_POS], ptrdiff_t at)
{
    NN_WINO_SPLIT(nn_wino_input_backward_body, n, v, v_stride, dst, at);
}

static inline void nn_wino_weights_backward_loop(int n, int parts, const float *u,
                                                 ptrdiff_t part_stride, ptrdiff_t u_stride,
                                                 float taps[9 * NN_WINO_LANES])
{
    NN_WINO_SPLIT(nn_wino_weights_backward_body, n, parts, u, part_stride, u_stride, taps);
}

#else /* the block NN_WINO_WIDTH channels at a time, each channel pointer moved to the part */
static inline void nn_wino_input_loop(int n, const float *const src[NN_WINO_POS], ptrdiff_t at,
                                      float *v, ptrdiff_t v_stride)
{
    for (int h = 0; h < n; h += NN_WINO_WIDTH)
        NN_WINO_SPLIT(nn_wino_input_body, nn_wino_part(n, h), src, at + h, v + h, v_stride);
}

static inline void nn_wino_output_loop(int n, const float *m, ptrdiff_t m_stride,
                                       const float *bias, int rows, int cols, float *y,
                                       ptrdiff_t y_rs, ptrdiff_t y_cs)
{
    for (int h = 0; h < n; h += NN_WINO_WIDTH)
        NN_WINO_SPLIT(nn_wino_output_body, nn_wino_part(n, h), m + h, m_stride,
                      bias ? bias + h : NULL, rows, cols, y + h, y_rs, y_cs);
}

static inline void nn_wino_output_pool_loop(int n, const float *m, ptrdiff_t m_stride,
                                            const float *bias, int relu, const nn_wino_pool *pool)
{
    for (int h = 0; h < n; h += NN_WINO_WIDTH) {
        nn_wino_pool part = *pool;
        part.y += h;
        part.winner = part.winner ? part.winner + h : NULL;
        part.at += (float)h * part.lane_step; /* exact: offsets stay below 2^24 */
        NN_WINO_SPLIT(nn_wino_output_pool_body, nn_wino_part(n, h), m + h, m_stride,
                      bias ? bias + h : NULL, relu, &part);
    }
}

static inline void nn_wino_weights_loop(int n, const float taps[9 * NN_WINO_LANES], float *u,
                                        ptrdiff_t u_stride)
{
    for (int h = 0; h < n; h += NN_WINO_WIDTH)
        NN_WINO_SPLIT(nn_wino_weights_body, nn_wino_part(n, h), taps + h, u + h, u_stride);
}

static inline void nn_wino_output_backward_loop(int n, const float *const src[16], ptrdiff_t at,
                                                float *m, ptrdiff_t m_stride)
{
    for (int h = 0; h < n; h += NN_WINO_WIDTH)
        NN_WINO_SPLIT(nn_wino_output_backward_body, nn_wino_part(n, h), src, at + h, m + h,
                      m_stride);
}

static inline void nn_wino_output_pool_backward_loop(int n, const nn_wino_unpool *u, float *m,
                                                     ptrdiff_t m_stride)
{
    for (int h = 0; h < n; h += NN_WINO_WIDTH) {
        nn_wino_unpool part = *u;
        part.dy += h;
        part.winner += h;
        part.relu_y = part.relu_y ? part.relu_y + h : NULL;
        part.at += (float)h * part.lane_step; /* exact: offsets stay below 2^24 */
        NN_WINO_SPLIT(nn_wino_output_pool_backward_body, nn_wino_part(n, h), &part, m + h,
                      m_stride);
    }
}

static inline void nn_wino_input_backward_loop(int n, const float *v, ptrdiff_t v_stride,
                                               float *const dst[NN_WINO_POS], ptrdiff_t at)
{
    for (int h = 0; h < n; h += NN_WINO_WIDTH)
        NN_WINO_SPLIT(nn_wino_input_backward_body, nn_wino_part(n, h), v + h, v_stride, dst,
                      at + h);
}

static inline void nn_wino_weights_backward_loop(int n, int parts, const float *u,
                                                 ptrdiff_t part_stride, ptrdiff_t u_stride,
                                                 float taps[9 * NN_WINO_LANES])
{
    for (int h = 0; h < n; h += NN_WINO_WIDTH)
        NN_WINO_SPLIT(nn_wino_weights_backward_body, nn_wino_part(n, h), parts, u + h,
                      part_stride, u_stride, taps + h);
}
#endif

/* The table entries as one initializer. */
#define NN_WINO_KERNELS                                                                    \
    .wino_input = nn_wino_input_loop, .wino_output = nn_wino_output_loop,                  \
    .wino_weights = nn_wino_weights_loop, .wino_output_pool = nn_wino_output_pool_loop,    \
    .wino_output_backward = nn_wino_output_backward_loop,                                  \
    .wino_output_pool_backward = nn_wino_output_pool_backward_loop,                        \
    .wino_input_backward = nn_wino_input_backward_loop,                                    \
    .wino_weights_backward = nn_wino_weights_backward_loop

#endif /* NN_SIMD_WINOGRAD_H */
