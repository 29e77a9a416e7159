/*
 * simd/gemm_scalar.c — the reference kernel set: portable C, 4 x 8 register tile.
 *
 * Every fast kernel set is tested against the double-precision reference and must
 * agree with this one within rounding; its activations use libm directly.
 */
#include <math.h>

#include "kernels.h"
#include "pack.h"
#include "block.h"
#include "pool.h"
#include "update.h"
#include "winograd.h"

enum { MR = 4, NR = 8 };

static void pack_a(int mc, int kc, const float *a, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    nn_pack_a_panels(MR, mc, kc, a, rs, cs, dst);
}

static void pack_b(int kc, int nc, const float *b, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    nn_pack_b_panels(NR, kc, nc, b, rs, cs, dst);
}

/* Defined with the activations below; gemm_tile runs it on a tile it has stored. */
static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act);

static void gemm_tile(int m, int n, int kc, const float *a, ptrdiff_t lda, const float *b,
                      ptrdiff_t ldb, float *c, ptrdiff_t ldc, float alpha, float beta,
                      const nn_tile_epilogue *ep)
{
    float acc[MR * NR] = {0};
    for (int k = 0; k < kc; k++) {
        /* Column k of the A tile and row k of the B tile, zero past m and n. */
        float ak[MR] = {0}, bk[NR] = {0};
        for (int i = 0; i < MR; i++)
            ak[i] = lda == 0 ? a[k * MR + i] : i < m ? a[i * lda + k] : 0.0f;
        for (int j = 0; j < NR; j++)
            bk[j] = ldb == 0 ? b[k * NR + j] : j < n ? b[k * ldb + j] : 0.0f;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i * NR + j] += ak[i] * bk[j];
    }
    nn_tile_update(m, n, acc, NR, c, ldc, alpha, beta);
    if (ep)
        epilogue(m, n, c, ldc, ep->row_bias, ep->bias, ep->act);
}

static float activate_one(float x, int act)
{
    switch (act) {
    case NN_KACT_RELU: return x < 0.0f ? 0.0f : x; /* NaN stays NaN */
    case NN_KACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case NN_KACT_TANH: return tanhf(x);
    default: return x;
    }
}

static void activate(size_t n, float *x, int act)
{
    for (size_t i = 0; i < n; i++)
        x[i] = activate_one(x[i], act);
}

static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act)
{
    for (int i = 0; i < m; i++, c += ldc) {
        for (int j = 0; row_bias && j < n; j++)
            c[j] += row_bias[i];
        for (int j = 0; bias && j < n; j++)
            c[j] += bias[j];
        activate((size_t)n, c, act);
    }
}

const nn_gemm_kernels nn_kernels_scalar = {
    .name = "scalar", .mr = MR, .nr = NR, .vl = 1,
    .pack_a = pack_a, .pack_b = pack_b, .gemm_tile = gemm_tile,
    .epilogue = epilogue, .activate = activate,
    .sgd_update = nn_sgd_update_loop, .adam_update = nn_adam_update_loop,
    .copy_block = nn_copy_block_loop, .sum_shifted = nn_sum_shifted_loop,
    .maxpool_2x2_rows = nn_maxpool_2x2_rows_loop,
    .maxpool_2x2_backward_rows = nn_maxpool_2x2_backward_rows_loop,
    .transpose = nn_transpose_loop, NN_WINO_KERNELS,
};
