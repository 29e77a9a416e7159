/* engine/internal.h — what the engine's own files share; never installed. */
#ifndef NN_ENGINE_INTERNAL_H
#define NN_ENGINE_INTERNAL_H

#include <nn/engine.h>

#include "kernels.h"

/* ---- cpu.c: what the CPU and OS can run ---- */
int nn_cpu_supports(nn_isa isa);
nn_isa nn_cpu_best_isa(void);

/* ---- topology.c: cores and caches, read once ---- */
typedef struct nn_topology {
    int physical_cores, logical_cpus;
    size_t l1d, l2, l3;
    const char *source;
} nn_topology;
const nn_topology *nn_topology_get(void);

/* ---- dispatch.c: the kernel table and cache blocks in use ---- */
typedef struct nn_gemm_plan {
    const nn_gemm_kernels *k;
    int mc, kc, nc; /* MC multiple of MR, NC multiple of NR */
    int nc_one_pass; /* NC when M is one MC block: packed B is used once, from L2 */
} nn_gemm_plan;

/* The plan for the current ISA; fails if NN_ISA asked for an unusable one. */
nn_status nn_gemm_plan_get(const nn_gemm_plan **plan);

/* ---- gemm.c ---- */
/* C = A B (+ the epilogue), A and B not transposed, with the tiles reading B as stored
 * however often they reuse it, never packed: for a B laid out for that, rows starting on
 * cache lines an odd number of lines apart (conv.c's column matrix), which the tiles read
 * about as fast as a packed panel, so the copy is saved. */
nn_status nn_sgemm_b_in_place(int M, int N, int K, const float *A, int lda, const float *B,
                              int ldb, float *C, int ldc, const nn_gemm_epilogue *ep);

/* ---- winograd.c: 3x3 convolution at stride 1 by F(4x4, 3x3) ---- */
/* One convolution as winograd.c sees it: x [in_ch, height, width] zero padded by pad_h,
 * pad_w on both sides, y [out_ch, out_h, out_w] (out_h = height + 2*pad_h - 2, likewise
 * out_w). */
typedef struct nn_wino_shape {
    int in_ch, out_ch, height, width, pad_h, pad_w, out_h, out_w;
} nn_wino_shape;

int nn_wino_chunk(const nn_wino_shape *s); /* samples nn_wino_convolve takes at once */
size_t nn_wino_weights_floats(const nn_wino_shape *s);  /* U: 36 * in_ch * out_ch */
size_t nn_wino_scratch_floats(const nn_wino_shape *s);  /* one chunk's tiles */

/* U [36][in_ch x out_ch] (the positions nn_wino_weights_floats / 36 apart), the
 * transformed kernels, from the 3 x 3 kernel (row-major) of
 * output o and input channel c at w + o*out_stride + c*in_stride. */
void nn_wino_weights(const nn_gemm_kernels *k, int in_ch, int out_ch, const float *w,
                     ptrdiff_t out_stride, ptrdiff_t in_stride, float *u);

/* y = conv(x, w) + bias (bias may be NULL) for samples <= nn_wino_chunk(s) consecutive
 * samples of x and y, with U from nn_wino_weights(in_ch, out_ch) and
 * nn_wino_scratch_floats of scratch. */
void nn_wino_convolve(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                      const float *x, const float *u, const float *bias, float *y,
                      float *scratch);

/* nn_wino_convolve with a ReLU (relu non-zero) or none, then 2 x 2 max pooling at stride
 * 2, as nn_maxpool2d_forward does it per sample (the same bits): y [samples, out_ch, out_h
 * / 2, out_w / 2] and, unless winners is NULL, nn_maxpool2d_forward's winners, but
 * channels-last: [samples, out_h / 2 * out_w / 2, out_ch] (the backward reads them so;
 * NCHW, they cost a transpose each way). */
void nn_wino_convolve_pool(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                           const float *x, const float *u, const float *bias, int relu, float *y,
                           float *winners, float *scratch);

/* The gradient a backward pass starts from, for a chunk: the convolution's output
 * gradient dy [samples, out_ch, out_h, out_w], or, with dy NULL, that of a 2 x 2 max
 * pooling at stride 2 after it: its gradient `pooled` and, unless NULL, the pooled ReLU
 * output relu_y, [samples, out_ch, out_h / 2, out_w / 2] each, and the winners of
 * nn_wino_convolve_pool (channels-last).  Both give the same bits. */
typedef struct nn_wino_dy {
    const float *dy, *pooled, *winners, *relu_y;
} nn_wino_dy;

/* The backward of nn_wino_convolve for such a chunk, from *g: with dx non-NULL, dx
 * (overwritten) from ut = nn_wino_weights(out_ch, in_ch) of the kernels with their
 * channels swapped; with du non-NULL (laid out as U), du = (accumulate ? du : 0) + the
 * chunk's share of the weight gradient, from x; with db_sums non-NULL (out_ch doubles,
 * any alignment), the same for the bias gradient, the chunk's tiles summed in order in
 * double. */
void nn_wino_backward(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                      const float *x, const nn_wino_dy *g, const float *ut, float *dx, float *du,
                      void *db_sums, int accumulate, float *scratch);

/* dw [out_ch, in_ch, 3, 3] = G^T (du_0 + du_1 + ... ) G over `parts` partial du of
 * nn_wino_backward, part_stride floats apart, added in order. */
void nn_wino_weights_backward(const nn_gemm_kernels *k, const nn_wino_shape *s, int parts,
                              const float *du, ptrdiff_t part_stride, float *dw);

/* ---- threads.c ---- */
/* Threads worth starting for `flops` of work: at most nn_get_num_threads(), 1 inside
 * a parallel region. */
int nn_threads_for(double flops);

/* Flush-to-zero and denormals-are-zero for the calling thread; returns the old mode. */
unsigned nn_fp_enter_ftz(void);
void nn_fp_restore(unsigned saved);

#endif /* NN_ENGINE_INTERNAL_H */
