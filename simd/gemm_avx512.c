/*
 * simd/gemm_avx512.c — AVX-512F kernel set, 14 x 32 register tile.
 *
 * The tile is 14 rows of two zmm vectors: 28 accumulators, two B vectors and the
 * broadcast A value fill the 32 registers.  Per k: 2 loads of B, 14 broadcasts of A,
 * 28 FMAs — enough independent chains to cover the FMA latency on both FMA ports.
 * Edge tiles use a kernel specialised for their row count and column masks, so they
 * cost what they compute and touch nothing outside C.
 */
#include <immintrin.h>

#include "kernels.h"
#include "pack.h"

enum { MR = 14, NR = 32, VL = 16 };

static void pack_a(int mc, int kc, const float *a, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    nn_pack_a_panels(MR, mc, kc, a, rs, cs, dst);
}

static void pack_b(int kc, int nc, const float *b, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    nn_pack_b_panels(NR, kc, nc, b, rs, cs, dst);
}

static inline __mmask16 first_lanes(int n)
{
    return n >= VL ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* Scales the accumulators into one row of C: c = alpha * acc + beta * c. */
static inline __attribute__((always_inline)) void
store_row(const int vecs, __m512 acc0, __m512 acc1, float *c, __mmask16 mask0, __mmask16 mask1,
          __m512 valpha, __m512 vbeta, int read_c)
{
    __m512 r0 = _mm512_mul_ps(valpha, acc0), r1 = _mm512_mul_ps(valpha, acc1);
    if (read_c) {
        r0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(mask0, c), r0);
        if (vecs > 1)
            r1 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(mask1, c + VL), r1);
    }
    _mm512_mask_storeu_ps(c, mask0, r0);
    if (vecs > 1)
        _mm512_mask_storeu_ps(c + VL, mask1, r1);
}

/* The tile for `rows` rows and `vecs` vectors of columns, reading A and B packed or in
 * place.  All four are compile-time constants at every call site, and every row loop
 * is unrolled, so the accumulators stay in registers from the first FMA to the store. */
static inline __attribute__((always_inline)) void
tile(const int rows, const int vecs, const int a_packed, const int b_packed, int n, int kc,
     const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
     float alpha, float beta)
{
    /* Start pulling the C tile towards L1 now; it is needed only after the k loop. */
#pragma GCC unroll 14
    for (int i = 0; i < rows; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
    const ptrdiff_t a_row = a_packed ? 1 : lda, a_step = a_packed ? MR : 1;
    const ptrdiff_t b_step = b_packed ? NR : ldb;
    __mmask16 mask0 = first_lanes(n), mask1 = first_lanes(n - VL);
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
    for (int i = 0; i < rows; i++)
        acc0[i] = acc1[i] = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++, a += a_step, b += b_step) {
        __m512 b0 = b_packed ? _mm512_load_ps(b) : _mm512_maskz_loadu_ps(mask0, b);
        __m512 b1 = vecs == 1 ? b0 : b_packed ? _mm512_load_ps(b + VL)
                                              : _mm512_maskz_loadu_ps(mask1, b + VL);
#pragma GCC unroll 14
        for (int i = 0; i < rows; i++) {
            __m512 ai = _mm512_set1_ps(a[i * a_row]);
            acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
            if (vecs > 1)
                acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
        }
    }
    __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
    if (beta == 0.0f) {
#pragma GCC unroll 14
        for (int i = 0; i < rows; i++)
            store_row(vecs, acc0[i], acc1[i], c + i * ldc, mask0, mask1, valpha, vbeta, 0);
    } else {
#pragma GCC unroll 14
        for (int i = 0; i < rows; i++)
            store_row(vecs, acc0[i], acc1[i], c + i * ldc, mask0, mask1, valpha, vbeta, 1);
    }
}

#define ROWS_CASE(r, vecs, ap, bp) \
    case r: tile(r, vecs, ap, bp, n, kc, a, lda, b, ldb, c, ldc, alpha, beta); break;
#define ALL_ROWS(v, ap, bp)                                                                 \
    ROWS_CASE(1, v, ap, bp) ROWS_CASE(2, v, ap, bp) ROWS_CASE(3, v, ap, bp)                \
    ROWS_CASE(4, v, ap, bp) ROWS_CASE(5, v, ap, bp) ROWS_CASE(6, v, ap, bp)                \
    ROWS_CASE(7, v, ap, bp) ROWS_CASE(8, v, ap, bp) ROWS_CASE(9, v, ap, bp)                \
    ROWS_CASE(10, v, ap, bp) ROWS_CASE(11, v, ap, bp) ROWS_CASE(12, v, ap, bp)             \
    ROWS_CASE(13, v, ap, bp) ROWS_CASE(14, v, ap, bp)
#define ANY_SHAPE(ap, bp)                       \
    do {                                        \
        if (n > VL) {                           \
            switch (m) { ALL_ROWS(2, ap, bp) }  \
        } else {                                \
            switch (m) { ALL_ROWS(1, ap, bp) }  \
        }                                       \
    } while (0)

static void gemm_tile(int m, int n, int kc, const float *a, ptrdiff_t lda, const float *b,
                      ptrdiff_t ldb, float *c, ptrdiff_t ldc, float alpha, float beta)
{
    if (lda == 0 && ldb == 0)
        ANY_SHAPE(1, 1);
    else if (ldb == 0)
        ANY_SHAPE(0, 1);
    else if (lda == 0)
        ANY_SHAPE(1, 0);
    else
        ANY_SHAPE(0, 0);
}

/* ---- Activations --------------------------------------------------------------- */

/* e^x: x = n ln2 + r with |r| <= ln2/2, Cephes' degree-6 polynomial for e^r, then
 * scalef multiplies by 2^n exactly.  Inputs are clamped to [-87, 88]. */
static inline __m512 exp_ps(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

static inline __m512 sigmoid_ps(__m512 x)
{
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* tanh: an odd Taylor polynomial near 0 (where 1 - 2/(e^2x + 1) cancels), else that. */
static inline __m512 tanh_ps(__m512 x)
{
    __m512 ax = _mm512_abs_ps(x), one = _mm512_set1_ps(1.0f);
    __m512 e = exp_ps(_mm512_add_ps(ax, ax));
    __m512 far = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(62.0f / 2835.0f);
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-17.0f / 315.0f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.0f / 15.0f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
    __m512 near = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), x, x);
    __mmask16 is_near = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.3f), _CMP_LT_OQ);
    /* Copy x's sign onto the far value: tanh is odd. */
    __m512 sign = _mm512_and_ps(x, _mm512_set1_ps(-0.0f));
    return _mm512_mask_blend_ps(is_near, _mm512_or_ps(far, sign), near);
}

static inline __m512 activate_ps(__m512 x, int act)
{
    switch (act) {
    case NN_KACT_RELU: return _mm512_max_ps(x, _mm512_setzero_ps());
    case NN_KACT_SIGMOID: return sigmoid_ps(x);
    case NN_KACT_TANH: return tanh_ps(x);
    default: return x;
    }
}

static void activate(size_t n, float *x, int act)
{
    for (size_t i = 0; i < n; i += VL) {
        __mmask16 mask = first_lanes((int)(n - i < VL ? n - i : VL));
        _mm512_mask_storeu_ps(x + i, mask, activate_ps(_mm512_maskz_loadu_ps(mask, x + i), act));
    }
}

static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *bias, int act)
{
    for (int i = 0; i < m; i++, c += ldc) {
        for (int j = 0; j < n; j += VL) {
            __mmask16 mask = first_lanes(n - j);
            __m512 v = _mm512_maskz_loadu_ps(mask, c + j);
            if (bias)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias + j));
            _mm512_mask_storeu_ps(c + j, mask, activate_ps(v, act));
        }
    }
}

const nn_gemm_kernels nn_kernels_avx512 = {
    .name = "avx512", .mr = MR, .nr = NR,
    .pack_a = pack_a, .pack_b = pack_b, .gemm_tile = gemm_tile,
    .epilogue = epilogue, .activate = activate,
};
