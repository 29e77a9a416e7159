/*
 * simd/gemm_neon.c — AArch64 Advanced SIMD (NEON) kernel set, 8 x 12 register tile.
 *
 * 8 rows of three q vectors: 24 accumulators, two A vectors (the 8 rows of one k) and
 * three B vectors in 29 of the 32 q registers.  Each k loads 5 vectors for 24 FMAs by
 * lane (vfmaq_laneq_f32), the best load/FMA ratio that fits, and BLIS's armv8a choice.
 * Operands read in place (not packed) use broadcast loads for A and partial loads for
 * B's last columns.  The tile is summed in registers, then updated through one 4-lane
 * routine: full tiles in place, edge tiles on a zero-padded copy of their rows, so
 * nothing outside A, B or C is touched and edge elements get the arithmetic of the rest.
 */
#include <arm_neon.h>
#include <string.h>

#include "kernels.h"
#include "pack.h"
#include "block.h"
#include "pool.h"
#include "update.h"
#include "winograd.h"

enum { MR = 8, NR = 12, VL = 4 };

static void pack_a(int mc, int kc, const float *a, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    nn_pack_a_panels(MR, mc, kc, a, rs, cs, dst);
}

static void pack_b(int kc, int nc, const float *b, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    nn_pack_b_panels(NR, kc, nc, b, rs, cs, dst);
}

/* One row of the tile into C: c = alpha * acc + beta * c (beta == 0: c is not read).
 * A row narrower than NR goes through a padded copy: columns past n are not touched. */
static inline void update_row(float32x4_t r0, float32x4_t r1, float32x4_t r2, float *c, int n,
                              float alpha, float beta)
{
    float edge[NR] = {0};
    float *dst = n == NR ? c : edge;
    if (n < NR && beta != 0.0f)
        memcpy(edge, c, (size_t)n * sizeof(float));
    r0 = vmulq_n_f32(r0, alpha);
    r1 = vmulq_n_f32(r1, alpha);
    r2 = vmulq_n_f32(r2, alpha);
    if (beta != 0.0f) {
        r0 = vfmaq_n_f32(r0, vld1q_f32(dst), beta);
        r1 = vfmaq_n_f32(r1, vld1q_f32(dst + VL), beta);
        r2 = vfmaq_n_f32(r2, vld1q_f32(dst + 2 * VL), beta);
    }
    vst1q_f32(dst, r0);
    vst1q_f32(dst + VL, r1);
    vst1q_f32(dst + 2 * VL, r2);
    if (n < NR)
        memcpy(c, edge, (size_t)n * sizeof(float));
}

/*
 * The tile from A and B packed or in place (see simd/kernels.h); a_packed and b_narrow
 * are constants at each call site.  In place, rows of A past m re-read row m - 1 and a
 * narrow B's columns past n re-read column n - 1: those results are dropped, and every
 * kept element gets the same FMAs in the same order either way, so the same bits.
 * Every accumulator index is a constant, so all 24 stay in registers.
 */
static inline __attribute__((always_inline)) void
tile(const int a_packed, const int b_narrow, int m, int n, int kc, const float *a,
     ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, float alpha,
     float beta)
{
    const ptrdiff_t a_step = a_packed ? MR : 1, b_step = ldb ? ldb : NR;
    const float *row[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        row[i] = a + (ptrdiff_t)(i < m ? i : m - 1) * lda;
    float32x4_t acc[MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = acc[i][2] = vdupq_n_f32(0.0f);
#define FMA_ROW(i, av, lane)                                  \
    acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, av, lane);    \
    acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, av, lane);    \
    acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, av, lane);
#define FMA_ROW_IN_PLACE(i) { float32x4_t ai = vld1q_dup_f32(row[i] + k); FMA_ROW(i, ai, 0) }
    for (int k = 0; k < kc; k++, a += a_step, b += b_step) {
        float bk[NR];
        const float *bv = b;
        if (b_narrow) {
            for (int j = 0; j < NR; j++)
                bk[j] = b[j < n ? j : n - 1];
            bv = bk;
        }
        float32x4_t b0 = vld1q_f32(bv), b1 = vld1q_f32(bv + VL), b2 = vld1q_f32(bv + 2 * VL);
        if (a_packed) {
            float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + VL);
            FMA_ROW(0, a0, 0) FMA_ROW(1, a0, 1) FMA_ROW(2, a0, 2) FMA_ROW(3, a0, 3)
            FMA_ROW(4, a1, 0) FMA_ROW(5, a1, 1) FMA_ROW(6, a1, 2) FMA_ROW(7, a1, 3)
        } else {
            FMA_ROW_IN_PLACE(0) FMA_ROW_IN_PLACE(1) FMA_ROW_IN_PLACE(2) FMA_ROW_IN_PLACE(3)
            FMA_ROW_IN_PLACE(4) FMA_ROW_IN_PLACE(5) FMA_ROW_IN_PLACE(6) FMA_ROW_IN_PLACE(7)
        }
    }
#define UPDATE_ROW(i) \
    if (i < m) update_row(acc[i][0], acc[i][1], acc[i][2], c + i * ldc, n, alpha, beta);
    UPDATE_ROW(0) UPDATE_ROW(1) UPDATE_ROW(2) UPDATE_ROW(3)
    UPDATE_ROW(4) UPDATE_ROW(5) UPDATE_ROW(6) UPDATE_ROW(7)
#undef UPDATE_ROW
#undef FMA_ROW_IN_PLACE
#undef FMA_ROW
}

/* Defined with the activations below; gemm_tile runs it on a tile it has stored. */
static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act);

static void gemm_tile(int m, int n, int kc, const float *a, ptrdiff_t lda, const float *b,
                      ptrdiff_t ldb, float *c, ptrdiff_t ldc, float alpha, float beta,
                      const nn_tile_epilogue *ep)
{
    int b_narrow = ldb != 0 && n < NR;
    if (lda == 0 && !b_narrow)
        tile(1, 0, m, n, kc, a, lda, b, ldb, c, ldc, alpha, beta);
    else if (lda == 0)
        tile(1, 1, m, n, kc, a, lda, b, ldb, c, ldc, alpha, beta);
    else if (!b_narrow)
        tile(0, 0, m, n, kc, a, lda, b, ldb, c, ldc, alpha, beta);
    else
        tile(0, 1, m, n, kc, a, lda, b, ldb, c, ldc, alpha, beta);
    if (ep)
        epilogue(m, n, c, ldc, ep->row_bias, ep->bias, ep->act);
}

/* ---- Activations (the method of the AVX2/AVX-512 files) ------------------------------ */

/* Cephes expf: n = round(x / ln 2), a degree-5 polynomial on the remainder, 2^n from
 * the exponent bits (n is in [-126, 127] after the clamp).  NaN stays NaN. */
static inline float32x4_t exp_f32(float32x4_t x)
{
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.0f)), vdupq_n_f32(88.0f));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(bits));
}

static inline float32x4_t sigmoid_f32(float32x4_t x)
{
    float32x4_t one = vdupq_n_f32(1.0f);
    return vdivq_f32(one, vaddq_f32(one, exp_f32(vnegq_f32(x))));
}

/* tanh: a Taylor polynomial below |x| = 0.3 (no cancellation), else
 * sign(x) * (1 - 2 / (e^2|x| + 1)). */
static inline float32x4_t tanh_f32(float32x4_t x)
{
    float32x4_t one = vdupq_n_f32(1.0f), ax = vabsq_f32(x);
    float32x4_t far = vsubq_f32(one, vdivq_f32(vdupq_n_f32(2.0f),
                                               vaddq_f32(exp_f32(vaddq_f32(ax, ax)), one)));
    float32x4_t x2 = vmulq_f32(x, x);
    float32x4_t p = vdupq_n_f32(62.0f / 2835.0f);
    p = vfmaq_f32(vdupq_n_f32(-17.0f / 315.0f), p, x2);
    p = vfmaq_f32(vdupq_n_f32(2.0f / 15.0f), p, x2);
    p = vfmaq_f32(vdupq_n_f32(-1.0f / 3.0f), p, x2);
    float32x4_t near = vfmaq_f32(x, vmulq_f32(p, x2), x);
    uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    float32x4_t signed_far = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(far), sign));
    return vbslq_f32(vcltq_f32(ax, vdupq_n_f32(0.3f)), near, signed_far);
}

static inline float32x4_t activate_f32(float32x4_t x, int act)
{
    switch (act) {
    case NN_KACT_RELU: /* x < 0 ? 0 : x, every ISA's rule: NaN and -0 stay (vmaxq: +0) */
        return vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), vdupq_n_f32(0.0f), x);
    case NN_KACT_SIGMOID: return sigmoid_f32(x);
    case NN_KACT_TANH: return tanh_f32(x);
    default: return x;
    }
}

/* x[j] = act((x[j] + row_bias) + bias[j]) for j < n (either may be NULL: no add).  The
 * tail runs the same vector code on a zero-padded copy: each element's result depends on
 * its value only. */
static void activate_row(size_t n, float *x, const float *row_bias, const float *bias, int act)
{
    size_t j = 0;
    for (; j + VL <= n; j += VL) {
        float32x4_t v = vld1q_f32(x + j);
        if (row_bias)
            v = vaddq_f32(v, vdupq_n_f32(*row_bias));
        if (bias)
            v = vaddq_f32(v, vld1q_f32(bias + j));
        vst1q_f32(x + j, activate_f32(v, act));
    }
    if (j < n) {
        float xt[VL] = {0}, bt[VL] = {0};
        size_t bytes = (n - j) * sizeof(float);
        memcpy(xt, x + j, bytes);
        if (bias)
            memcpy(bt, bias + j, bytes);
        activate_row(VL, xt, row_bias, bias ? bt : NULL, act);
        memcpy(x + j, xt, bytes);
    }
}

static void activate(size_t n, float *x, int act) { activate_row(n, x, NULL, NULL, act); }

static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act)
{
    for (int i = 0; i < m; i++, c += ldc)
        activate_row((size_t)n, c, row_bias ? row_bias + i : NULL, bias, act);
}

const nn_gemm_kernels nn_kernels_neon = {
    .name = "neon", .mr = MR, .nr = NR, .vl = VL,
    .pack_a = pack_a, .pack_b = pack_b, .gemm_tile = gemm_tile,
    .epilogue = epilogue, .activate = activate,
    .sgd_update = nn_sgd_update_loop, .adam_update = nn_adam_update_loop,
    .copy_block = nn_copy_block_loop, .sum_shifted = nn_sum_shifted_loop,
    .maxpool_2x2_rows = nn_maxpool_2x2_rows_loop,
    .maxpool_2x2_backward_rows = nn_maxpool_2x2_backward_rows_loop,
    .transpose = nn_transpose_loop, NN_WINO_KERNELS,
};
