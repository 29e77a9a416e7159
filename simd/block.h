/*
 * simd/block.h — copying small 2-D blocks of floats (the rows of im2col), in plain C for
 * the ISA files that have no masked loads: each compiles its own copy with its own
 * flags, like update.h.
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

#endif /* NN_SIMD_BLOCK_H */
