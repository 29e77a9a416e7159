/*
 * simd/block.h — copying small 2-D blocks of floats (the rows of im2col) and summing
 * shifted rows (the rows of col2im), in plain C for the ISA files that have no masked
 * loads: each compiles its own copy with its own flags, like update.h.
 */
#ifndef NN_SIMD_BLOCK_H
#define NN_SIMD_BLOCK_H

#include <stddef.h>

/* dst[r*dst_rs + j] = src[r*src_rs + j] for r < rows, j < cols */
static inline void nn_copy_block_loop(int rows, int cols, const float *src, ptrdiff_t src_rs,
                                      float *dst, ptrdiff_t dst_rs)
{
    for (int r = 0; r < rows; r++, src += src_rs, dst += dst_rs)
        for (int j = 0; j < cols; j++)
            dst[j] = src[j];
}

/* kernels.h's sum_shifted: each element's terms in order, from 0 or dst. */
static inline void nn_sum_shifted_loop(int n, int count, const ptrdiff_t *offset, const int *lo,
                                       const int *hi, int planes, const float *src,
                                       ptrdiff_t src_stride, int add, float *dst,
                                       ptrdiff_t dst_stride)
{
    for (int p = 0; p < planes; p++, src += src_stride, dst += dst_stride) {
        for (int x = 0; x < n && !add; x++)
            dst[x] = 0.0f;
        for (int t = 0; t < count; t++)
            for (int x = lo[t]; x < hi[t]; x++)
                dst[x] += src[offset[t] + x];
    }
}

/* kernels.h's transpose, 8 x 8 blocks at a time. */
static inline void nn_transpose_loop(int rows, int cols, const float *src, ptrdiff_t src_rs,
                                     float *dst, ptrdiff_t dst_rs)
{
    enum { B = 8 };
    for (int i0 = 0; i0 < rows; i0 += B)
        for (int j0 = 0; j0 < cols; j0 += B)
            for (int j = j0; j < j0 + B && j < cols; j++)
                for (int i = i0; i < i0 + B && i < rows; i++)
                    dst[j * dst_rs + i] = src[i * src_rs + j];
}

#endif /* NN_SIMD_BLOCK_H */
