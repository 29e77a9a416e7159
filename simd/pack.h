/*
 * simd/pack.h — packing and tile-update loops shared by the ISA files.
 *
 * Only static inline functions: each ISA file compiles its own copy with its own
 * target flags, so no AVX-512 instruction can leak into code the baseline CPU runs.
 * The register tile (mr, nr) is passed as a constant by each file, so the compiler
 * unrolls and vectorizes for it.
 */
#ifndef NN_SIMD_PACK_H
#define NN_SIMD_PACK_H

#include <stddef.h>
#include <string.h>

static inline int nn_min_int(int a, int b) { return a < b ? a : b; }

/* ceil(mc/mr) panels of mr rows: dst[k*mr + i] = a[i*rs + k*cs], rows past mc zero. */
static inline void nn_pack_a_panels(const int mr, int mc, int kc, const float *a,
                                    ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    for (int i0 = 0; i0 < mc; i0 += mr, dst += (ptrdiff_t)mr * kc) {
        int rows = nn_min_int(mr, mc - i0);
        const float *panel = a + i0 * rs;
        if (cs == 1) {
            /* Rows of A are contiguous in k: read each row once, write it strided. */
            for (int i = 0; i < rows; i++)
                for (int k = 0; k < kc; k++)
                    dst[(ptrdiff_t)k * mr + i] = panel[i * rs + k];
        } else {
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < rows; i++)
                    dst[(ptrdiff_t)k * mr + i] = panel[i * rs + k * cs];
        }
        for (int k = 0; rows < mr && k < kc; k++)
            memset(dst + (ptrdiff_t)k * mr + rows, 0, (size_t)(mr - rows) * sizeof(float));
    }
}

/* ceil(nc/nr) panels of nr columns: dst[k*nr + j] = b[k*rs + j*cs], columns past nc zero. */
static inline void nn_pack_b_panels(const int nr, int kc, int nc, const float *b,
                                    ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    for (int j0 = 0; j0 < nc; j0 += nr, dst += (ptrdiff_t)nr * kc) {
        int cols = nn_min_int(nr, nc - j0);
        const float *panel = b + j0 * cs;
        if (cs == 1) {
            /* Rows of B are contiguous in j: a copy per k. */
            for (int k = 0; k < kc; k++) {
                memcpy(dst + (ptrdiff_t)k * nr, panel + k * rs, (size_t)cols * sizeof(float));
                memset(dst + (ptrdiff_t)k * nr + cols, 0, (size_t)(nr - cols) * sizeof(float));
            }
        } else {
            /* Columns contiguous in k (B transposed): read each once, write strided. */
            for (int j = 0; j < cols; j++)
                for (int k = 0; k < kc; k++)
                    dst[(ptrdiff_t)k * nr + j] = panel[j * cs + k * rs];
            for (int k = 0; cols < nr && k < kc; k++)
                memset(dst + (ptrdiff_t)k * nr + cols, 0, (size_t)(nr - cols) * sizeof(float));
        }
    }
}

/* c = alpha * acc + beta * c over m x n (beta == 0: c is overwritten, never read). */
static inline void nn_tile_update(int m, int n, const float *acc, int acc_ld, float *c,
                                  ptrdiff_t ldc, float alpha, float beta)
{
    for (int i = 0; i < m; i++) {
        float *row = c + i * ldc;
        const float *src = acc + i * acc_ld;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++)
                row[j] = alpha * src[j];
        else
            for (int j = 0; j < n; j++)
                row[j] = alpha * src[j] + beta * row[j];
    }
}

#endif /* NN_SIMD_PACK_H */
