/*
 * simd/kernels.h — the contract between the portable GEMM driver (engine/) and the
 * per-ISA kernels (one file per ISA in simd/).  Nothing here knows about the engine.
 *
 * Packed layouts (both zero padded, so kernels never look past a panel's end):
 *   A: ceil(mc/MR) panels; panel p holds rows p*MR .. p*MR+MR-1 of the block,
 *      stored k-major: a[k*MR + i] = op(A)(p*MR + i, k).
 *   B: ceil(nc/NR) panels; panel q holds columns q*NR .. q*NR+NR-1,
 *      stored k-major: b[k*NR + j] = op(B)(k, q*NR + j).
 */
#ifndef NN_SIMD_KERNELS_H
#define NN_SIMD_KERNELS_H

#include <stddef.h>

/* The most terms one sum_shifted call takes. */
enum { NN_SUM_SHIFTED_TERMS = 32 };

/* conv1ch_3x3_weights' accumulators per output channel: 9 taps x 16 float lanes, then the
 * bias's 16 lanes as doubles (32 floats' room). */
enum { NN_CONV1CH_ACC = 9 * 16 + 32 };

/* Winograd F(4x4, 3x3) (winograd.h): input and output tile sides, the 36 element-wise
 * products of a tile, and the channels one transform call takes at most. */
enum { NN_WINO_IN = 6, NN_WINO_OUT = 4, NN_WINO_POS = 36, NN_WINO_LANES = 16 };

/* Activation codes; engine/ checks they match the public nn_activation values. */
enum { NN_KACT_NONE = 0, NN_KACT_RELU, NN_KACT_SIGMOID, NN_KACT_TANH };

/* One optimizer step's settings, as the update kernels read them (formulas: update.h). */
typedef struct nn_update_args {
    float lr, weight_decay;
    float momentum;           /* SGD: unless > 0, the velocity is not touched */
    int nesterov;             /* SGD with momentum > 0 */
    float beta1, beta2, eps;  /* Adam */
    float inv_bc1, inv_bc2;   /* Adam's bias corrections 1 / (1 - beta^t), from double */
    int decoupled;            /* AdamW: weight decay applied to p, not added to g */
} nn_update_args;

/* What gemm_tile applies to its results before it stores them, on a GEMM's last KC step:
 * c[i][j] = act((r + row_bias[i]) + bias[j]), the epilogue kernel's arithmetic, with
 * row_bias and bias already offset to the tile (either may be NULL). */
typedef struct nn_tile_epilogue {
    const float *row_bias, *bias;
    int act;
} nn_tile_epilogue;

/* Where wino_output_pool puts one tile's 2 x 2 max pooling (pool.h's rule) of its rows x
 * cols corner of conv outputs: pooled window (a, b) of lane c (2a + 1 < rows, 2b + 1 <
 * cols) at y[a*y_rs + b*y_cs + c], and, unless winner is NULL, the winner's offset as a
 * float at the same place in winner: at + c*lane_step + (2a + di)*row_step + 2b + dj for
 * the window's place (di, dj) that won. */
typedef struct nn_wino_pool {
    int rows, cols;
    float *y, *winner;
    ptrdiff_t y_rs, y_cs;
    float at, lane_step, row_step;
} nn_wino_pool;

/* What wino_output_pool_backward reads for one tile: the 2 x 2 windows (a, b) it holds
 * (2a + 1 < rows, 2b + 1 < cols), window (a, b) of lane c at [a*rs + b*cs + c] of the
 * pooled gradient dy, the winners and (unless NULL) the pooled ReLU output relu_y; the
 * winner's place (di, dj) is where winner = at + c*lane_step + (2a + di)*row_step + 2b +
 * dj, as nn_wino_pool writes it. */
typedef struct nn_wino_unpool {
    int rows, cols;
    const float *dy, *winner, *relu_y;
    ptrdiff_t rs, cs;
    float at, lane_step, row_step;
} nn_wino_unpool;

typedef struct nn_gemm_kernels {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    int mr, nr;       /* register tile of gemm_tile */
    int vl;           /* floats per vector: a tile whose width is a multiple of it
                         costs about its share of a full one */

    /* Packs the mc x kc block op(A)(i, k) = a[i*rs + k*cs] into MR-row panels. */
    void (*pack_a)(int mc, int kc, const float *a, ptrdiff_t rs, ptrdiff_t cs, float *dst);

    /* Packs the kc x nc block op(B)(k, j) = b[k*rs + j*cs] into NR-column panels. */
    void (*pack_b)(int kc, int nc, const float *b, ptrdiff_t rs, ptrdiff_t cs, float *dst);

    /* One register tile: c[0..m) x [0..n) = alpha * op(A) op(B) + beta * c, m <= MR,
     * n <= NR, summed over k = 0, 1, ... kc-1 in order; beta == 0: c is not read.
     * Each operand is either a packed panel (ld == 0) or read in place from the
     * caller's matrix (ld > 0): A as a[i*lda + k], B as b[k*ldb + j], touching only
     * rows i < m and columns j < n.  Both ways give the same bits.  With ep non-NULL
     * the tile then gets the epilogue, with the bits of the epilogue kernel run after. */
    void (*gemm_tile)(int m, int n, int kc, const float *a, ptrdiff_t lda,
                      const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                      float alpha, float beta, const nn_tile_epilogue *ep);

    /* c[i][j] = act((c[i][j] + row_bias[i]) + bias[j]) over an m x n block; either bias
     * may be NULL (then its add is skipped, not done with zero). */
    void (*epilogue)(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act);

    /* x[i] = act(x[i]) over n contiguous floats; same arithmetic as epilogue. */
    void (*activate)(size_t n, float *x, int act);

    /* One SGD step over n parameters p with gradients g and velocity v (unused, may be
     * NULL, without momentum).  Arrays do not overlap. */
    void (*sgd_update)(size_t n, const nn_update_args *a, float *p, const float *g, float *v);

    /* One Adam or AdamW step over n parameters with moments m and v.  Arrays do not
     * overlap. */
    void (*adam_update)(size_t n, const nn_update_args *a, float *p, const float *g,
                        float *m, float *v);

    /* dst[r*dst_rs + j] = src[r*src_rs + j] over rows x cols: the row runs of im2col,
     * often shorter than a vector (MNIST's conv2: 11 floats), which the AVX ISAs copy
     * with one masked load and store.  The blocks do not overlap. */
    void (*copy_block)(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                       ptrdiff_t dst_rs);

    /* For each plane p < planes, with s = src + p*src_stride and d = dst + p*dst_stride:
     * d[x] for x < n = (add ? d[x] : 0) + the terms t < count in order, where term t is
     * s[offset[t] + x] for lo[t] <= x < hi[t] and nothing elsewhere (0 <= lo, hi <= n,
     * count <= NN_SUM_SHIFTED_TERMS): the same row of col2im in every channel, gathered in
     * registers and stored once.  s[offset[t] + x] is read only inside [lo[t], hi[t]). */
    void (*sum_shifted)(int n, int count, const ptrdiff_t *offset, const int *lo, const int *hi,
                        int planes, const float *src, ptrdiff_t src_stride, int add, float *dst,
                        ptrdiff_t dst_stride);

    /* Output rows r < rows of 2 x 2 max pooling at stride 2, in a plane of row length w
     * whose offset top_at holds x[0]: y[r*n + o] = the winner (pool.h's rule) of x[t],
     * x[t + 1], x[t + w], x[t + w + 1] with t = 2r*w + 2o, for o < n; with winner
     * non-NULL, winner[r*n + o] = top_at + t + 0, 1, w or w + 1 (where it was) as a
     * float.  Reads no input past the last window. */
    void (*maxpool_2x2_rows)(int rows, int n, const float *x, ptrdiff_t w, int top_at, float *y,
                             float *winner);

    /* Its backward, same geometry: for r < rows, o < n, window (r, o)'s four dx values
     * (dx[t], dx[t + 1], dx[t + w], dx[t + w + 1], t = 2r*w + 2o) are written: g + 0 at
     * the winner (winner[r*n + o] - top_at), 0 at the others, where g = dy[r*n + o], or 0
     * if relu_y is not NULL and relu_y[r*n + o] is not > 0.  Writes nothing else. */
    void (*maxpool_2x2_backward_rows)(int rows, int n, const float *dy, const float *winner,
                                      const float *relu_y, ptrdiff_t w, int top_at, float *dx);

    /* dst[j*dst_rs + i] = src[i*src_rs + j] for i < rows, j < cols; no overlap. */
    void (*transpose)(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                      ptrdiff_t dst_rs);

    /* Optional (NULL: the engine packs A and runs gemm_tile, the same bits): c[m x n] =
     * a . b (+ c if accumulate), whole K = kc, a(i, k) = a[i*a_rs + k*a_ks] read in place,
     * b(k, j) = b[k*ldb + j]; each result is gemm_tile's, an FMA chain over k from 0, then
     * c added.  For Winograd's products, too small to amortize packing: T x C . C x OC and
     * their transposes. */
    void (*small_gemm)(int m, int n, int kc, const float *a, ptrdiff_t a_rs, ptrdiff_t a_ks,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);

    /* Winograd F(4x4, 3x3)'s transforms, each for n <= NN_WINO_LANES channels, contiguous
     * (winograd.h has the arithmetic and the exact layouts): one 6 x 6 input tile, its
     * points at src[p] + at, into its 36 positions v[p*v_stride + c]; one output tile from
     * its 36 positions, plus the bias, into a rows x cols corner of y; a block of 3 x 3
     * kernels, taps[t*NN_WINO_LANES + c] the tap t (row-major) of kernel c, into their 36
     * positions.  (The tile's points are the same for every block of its channels: `at`
     * picks the block.) */
    void (*wino_input)(int n, const float *const src[NN_WINO_POS], ptrdiff_t at, float *v,
                       ptrdiff_t v_stride);
    void (*wino_output)(int n, const float *m, ptrdiff_t m_stride, const float *bias, int rows,
                        int cols, float *y, ptrdiff_t y_rs, ptrdiff_t y_cs);
    void (*wino_weights)(int n, const float taps[9 * NN_WINO_LANES], float *u,
                         ptrdiff_t u_stride);
    /* wino_output's tile, with relu non-zero passed through a ReLU (x < 0 ? 0 : x, the
     * activate kernel's), then max pooled 2 x 2 at stride 2 as *pool says. */
    void (*wino_output_pool)(int n, const float *m, ptrdiff_t m_stride, const float *bias,
                             int relu, const nn_wino_pool *pool);
    /* Optional (NULL: the engine runs im2col, the GEMM and the pooling instead, which
     * give the same bits): one sample's single-channel 3 x 3 convolution at stride 1
     * without padding, x [h x w] into `channels` outputs with kernels wt [channels x 9]
     * and bias (or NULL), through a ReLU if relu, max pooled 2 x 2 at stride 2 (pool.h's
     * rule) into y [channels x ph x pw], ph = (h - 2) / 2, pw = (w - 2) / 2; winners
     * (unless NULL) as maxpool_2x2_rows keeps them, offsets in the [channels, h - 2, w -
     * 2] convolution output.  Each conv output is gemm_tile's: nine FMAs from 0 in tap
     * order, then the bias added, then the ReLU. */
    void (*conv1ch_3x3_maxpool)(int channels, int h, int w, const float *x, const float *wt,
                                const float *bias, int relu, float *y, float *winner);
    /* Optional, both or neither: the weight and bias gradient of that convolution for one
     * sample, added into acc [channels x NN_CONV1CH_ACC] (the engine sums the lanes): lane
     * l takes, window by window of the 2 x 2 blocks of outputs (rows of blocks in order,
     * block columns l, l + 16, ...), each block's four outputs in row-major order, tap
     * (ki, kj) by an FMA of dy and x; the bias the same dy in double.  Outputs in no block
     * (an odd last row or column) go to lane 0 after the blocks, in row-major order.  The
     * second takes dy as max pooling's backward would write it (maxpool_2x2_backward_rows'
     * bits) from the pooled gradient, winners and ReLU output (or NULL) [channels x ph x
     * pw], for even h - 2 and w - 2 (no outputs outside the blocks): the same bits,
     * without writing dy. */
    void (*conv1ch_3x3_weights)(int channels, int h, int w, const float *x, const float *dy,
                                float *acc);
    void (*conv1ch_3x3_weights_pooled)(int channels, int h, int w, const float *x,
                                       const float *dy, const float *winner,
                                       const float *relu_y, float *acc);
    /* Their adjoints, for the backward passes: an output tile's gradient (points at src[i]
     * + at) into its 36 positions; one tile's 36 positions added into the input's
     * gradient (at dst[p] + at); the kernels' gradients from their 36 positions, summed
     * over `parts` partial sums in order, into taps laid out as wino_weights takes them. */
    void (*wino_output_backward)(int n, const float *const src[NN_WINO_OUT * NN_WINO_OUT],
                                 ptrdiff_t at, float *m, ptrdiff_t m_stride);
    /* wino_output_backward of the tile's convolution-output gradient that max pooling's
     * backward (maxpool_2x2_backward_rows, its bits) would write from *unpool, without
     * writing it: per window g = dy + 0, or 0 where relu_y is not > 0, at the winner's
     * place, +0 at the other three and wherever no window reaches. */
    void (*wino_output_pool_backward)(int n, const nn_wino_unpool *unpool, float *m,
                                      ptrdiff_t m_stride);
    void (*wino_input_backward)(int n, const float *v, ptrdiff_t v_stride,
                                float *const dst[NN_WINO_POS], ptrdiff_t at);
    void (*wino_weights_backward)(int n, int parts, const float *u, ptrdiff_t part_stride,
                                  ptrdiff_t u_stride, float taps[9 * NN_WINO_LANES]);
} nn_gemm_kernels;

/* Defined by each ISA file that the build compiles (see simd/CMakeLists.txt). */
extern const nn_gemm_kernels nn_kernels_scalar;
extern const nn_gemm_kernels nn_kernels_avx2;
extern const nn_gemm_kernels nn_kernels_avx512;
extern const nn_gemm_kernels nn_kernels_neon;

#endif /* NN_SIMD_KERNELS_H */
