/*
 * simd/gemm_avx2.c — AVX2 + FMA kernel set, 6 x 16 register tile.
 *
 * 6 rows of two ymm vectors: 12 accumulators, two B vectors and a broadcast in 16
 * registers.  Edge tiles use a kernel specialised for their row count, and masked
 * loads/stores for their columns, so nothing outside C is read or written.
 */
#include <immintrin.h>

#include "kernels.h"
#include "pack.h"
#include "update.h"
#include "winograd.h"

enum { MR = 6, NR = 16, VL = 8 };

/* Lane mask for the first n lanes (all lanes if n >= 8, none if n <= 0). */
static inline __m256i first_lanes(int n)
{
    n = n < 0 ? 0 : n > VL ? VL : n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Transposes the 8 x 8 block held in r[0..7] in place (row i becomes column i). */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* Loads `lines` rows of `count` floats, `stride` apart, into an 8 x 8 block; the rest
 * is zero.  Never reads past the rows and counts given. */
static inline void load_block(__m256 r[8], const float *src, ptrdiff_t stride, int lines, int count)
{
    __m256i mask = first_lanes(count);
    for (int i = 0; i < 8; i++)
        r[i] = i < lines ? _mm256_maskload_ps(src + i * stride, mask) : _mm256_setzero_ps();
}

/* Panels of A (MR rows, stored column by column), as in gemm_avx512.c: 8 x 8 register
 * transposes when the rows of A are contiguous in k. */
static void pack_a(int mc, int kc, const float *a, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    if (cs != 1) {
        nn_pack_a_panels(MR, mc, kc, a, rs, cs, dst);
        return;
    }
    const __m256i panel_lanes = first_lanes(MR);
    for (int i0 = 0; i0 < mc; i0 += MR, dst += (ptrdiff_t)MR * kc) {
        int rows = nn_min_int(MR, mc - i0);
        for (int k0 = 0; k0 < kc; k0 += VL) {
            int ks = nn_min_int(VL, kc - k0);
            __m256 r[8];
            load_block(r, a + i0 * rs + k0, rs, rows, ks);
            transpose8(r);
            for (int k = 0; k < ks; k++)
                _mm256_maskstore_ps(dst + (ptrdiff_t)(k0 + k) * MR, panel_lanes, r[k]);
        }
    }
}

/* Panels of B (NR columns, stored row by row): rows read left to right across all
 * panels when contiguous in j (zero padded to whole panels), 8 x 8 register
 * transposes when contiguous in k. */
static void pack_b(int kc, int nc, const float *b, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    int padded = (nc + NR - 1) / NR * NR;
    if (cs == 1) {
        for (int k = 0; k < kc; k++) {
            float *row = dst + (ptrdiff_t)k * NR;
            for (int j = 0; j < padded; j += VL)
                _mm256_store_ps(row + (ptrdiff_t)(j / NR) * NR * kc + j % NR,
                                _mm256_maskload_ps(b + k * rs + j, first_lanes(nc - j)));
        }
        return;
    }
    if (rs != 1) {
        nn_pack_b_panels(NR, kc, nc, b, rs, cs, dst);
        return;
    }
    for (int j0 = 0; j0 < nc; j0 += NR, dst += (ptrdiff_t)NR * kc) {
        for (int v0 = 0; v0 < NR; v0 += VL) {
            for (int k0 = 0; k0 < kc; k0 += VL) {
                int ks = nn_min_int(VL, kc - k0);
                __m256 r[8];
                load_block(r, b + (j0 + v0) * cs + k0, cs, nc - j0 - v0, ks);
                transpose8(r);
                for (int k = 0; k < ks; k++)
                    _mm256_store_ps(dst + (ptrdiff_t)(k0 + k) * NR + v0, r[k]);
            }
        }
    }
}

/* The tile for `rows` rows and `vecs` vectors of columns, reading A and B packed or in
 * place (see simd/kernels.h); all four are compile-time constants at each call site. */
static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act);

/* The epilogue's biases and ReLU on result r of row i, vector v, in registers, as in the
 * AVX-512 file. */
static inline __m256 finish_in_registers(const nn_tile_epilogue *ep, int i, int v,
                                         __m256i mask, __m256 r)
{
    if (ep->row_bias)
        r = _mm256_add_ps(r, _mm256_set1_ps(ep->row_bias[i]));
    if (ep->bias)
        r = _mm256_add_ps(r, _mm256_maskload_ps(ep->bias + v * VL, mask));
    return ep->act == NN_KACT_RELU ? _mm256_max_ps(_mm256_setzero_ps(), r) : r;
}

static inline __attribute__((always_inline)) void
tile(const int rows, const int vecs, const int a_packed, const int b_packed, int n, int kc,
     const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
     float alpha, float beta, const nn_tile_epilogue *ep)
{
    const ptrdiff_t a_row = a_packed ? 1 : lda, a_step = a_packed ? MR : 1;
    const ptrdiff_t b_step = b_packed ? NR : ldb;
    __m256i mask0 = first_lanes(n), mask1 = first_lanes(n - VL);
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++)
        acc0[i] = acc1[i] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++, a += a_step, b += b_step) {
        __m256 b0 = b_packed ? _mm256_load_ps(b) : _mm256_maskload_ps(b, mask0);
        __m256 b1 = vecs == 1 ? b0 : b_packed ? _mm256_load_ps(b + VL)
                                              : _mm256_maskload_ps(b + VL, mask1);
#pragma GCC unroll 6
        for (int i = 0; i < rows; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * a_row);
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
            if (vecs > 1)
                acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
        }
    }
    /* Then the epilogue, as in the AVX-512 file: biases and ReLU in registers. */
    __m256 valpha = _mm256_set1_ps(alpha), vbeta = _mm256_set1_ps(beta);
    int in_registers = ep && ep->act <= NN_KACT_RELU;
    float *c0 = c;
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++, c += ldc) {
        __m256 r0 = _mm256_mul_ps(valpha, acc0[i]);
        __m256 r1 = _mm256_mul_ps(valpha, acc1[i]);
        if (beta != 0.0f) {
            r0 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(c, mask0), r0);
            if (vecs > 1)
                r1 = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(c + VL, mask1), r1);
        }
        if (in_registers) {
            r0 = finish_in_registers(ep, i, 0, mask0, r0);
            if (vecs > 1)
                r1 = finish_in_registers(ep, i, 1, mask1, r1);
        }
        _mm256_maskstore_ps(c, mask0, r0);
        if (vecs > 1)
            _mm256_maskstore_ps(c + VL, mask1, r1);
    }
    if (ep && !in_registers)
        epilogue(rows, n, c0, ldc, ep->row_bias, ep->bias, ep->act);
}

#define ROWS_CASE(r, vecs, ap, bp) \
    case r: tile(r, vecs, ap, bp, n, kc, a, lda, b, ldb, c, ldc, alpha, beta, ep); break;
#define ALL_ROWS(v, ap, bp)                                                    \
    ROWS_CASE(1, v, ap, bp) ROWS_CASE(2, v, ap, bp) ROWS_CASE(3, v, ap, bp)   \
    ROWS_CASE(4, v, ap, bp) ROWS_CASE(5, v, ap, bp) ROWS_CASE(6, v, ap, bp)
#define ANY_SHAPE(ap, bp)                       \
    do {                                        \
        if (n > VL) {                           \
            switch (m) { ALL_ROWS(2, ap, bp) }  \
        } else {                                \
            switch (m) { ALL_ROWS(1, ap, bp) }  \
        }                                       \
    } while (0)

static void gemm_tile(int m, int n, int kc, const float *a, ptrdiff_t lda, const float *b,
                      ptrdiff_t ldb, float *c, ptrdiff_t ldc, float alpha, float beta,
                      const nn_tile_epilogue *ep)
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

/* ---- Small products, A in place (as the AVX-512 file's; see there) ------------------ */

/* One register tile of small_gemm: rows x vecs vectors (vecs 1 or 2), the last vector's
 * lanes `last`; tile()'s arithmetic without its packing, alpha and epilogue. */
static inline __attribute__((always_inline)) void
small_tile(const int rows, const int vecs, __m256i last, int kc, const float *a, ptrdiff_t a_rs,
           ptrdiff_t a_ks, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
           int accumulate)
{
    const __m256i all = _mm256_set1_epi32(-1);
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 2
        for (int v = 0; v < vecs; v++)
            acc[i][v] = _mm256_setzero_ps();
#pragma GCC unroll 1
    for (int k = 0; k < kc; k++, a += a_ks, b += ldb) {
        __m256 bv[2];
#pragma GCC unroll 2
        for (int v = 0; v < vecs; v++)
            bv[v] = _mm256_maskload_ps(b + v * VL, v < vecs - 1 ? all : last);
#pragma GCC unroll 6
        for (int i = 0; i < rows; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * a_rs);
#pragma GCC unroll 2
            for (int v = 0; v < vecs; v++)
                acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 2
        for (int v = 0; v < vecs; v++) {
            __m256i lanes = v < vecs - 1 ? all : last;
            float *cv = c + i * ldc + v * VL;
            __m256 r = acc[i][v];
            if (accumulate)
                r = _mm256_add_ps(_mm256_maskload_ps(cv, lanes), r);
            _mm256_maskstore_ps(cv, lanes, r);
        }
}

#define SMALL_CASE(r, v) \
    case r: small_tile(r, v, last, kc, a, a_rs, a_ks, b, ldb, c, ldc, accumulate); break;
#define SMALL_ROWS(v)                                                               \
    SMALL_CASE(1, v) SMALL_CASE(2, v) SMALL_CASE(3, v) SMALL_CASE(4, v) SMALL_CASE(5, v) \
    SMALL_CASE(6, v)

/* The tile of `rows` rows (at most MR) and vecs vectors. */
static void small_block(int rows, int vecs, __m256i last, int kc, const float *a,
                        ptrdiff_t a_rs, ptrdiff_t a_ks, const float *b, ptrdiff_t ldb, float *c,
                        ptrdiff_t ldc, int accumulate)
{
    if (vecs == 2)
        switch (rows) { SMALL_ROWS(2) }
    else
        switch (rows) { SMALL_ROWS(1) }
}

/* kernels.h's small_gemm: columns in blocks of up to two vectors, rows in tiles of up to
 * MR: gemm_tile's 6 x 16 shape, with A read where it lies. */
static void small_gemm(int m, int n, int kc, const float *a, ptrdiff_t a_rs, ptrdiff_t a_ks,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate)
{
    for (int j = 0; j < n; j += NR) {
        int width = n - j < NR ? n - j : NR, vecs = (width + VL - 1) / VL;
        __m256i last = first_lanes(width - (vecs - 1) * VL);
        for (int i = 0; i < m; i += MR)
            small_block(m - i < MR ? m - i : MR, vecs, last, kc, a + i * a_rs, a_rs, a_ks, b + j,
                        ldb, c + i * ldc + j, ldc, accumulate);
    }
}

/* ---- Activations (same method as the AVX-512 file; see there) ----------------------- */

static inline __m256 exp_ps(__m256 x)
{
    /* x second: x86 min/max return it when either is NaN, so NaN stays NaN. */
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-87.0f), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^n from the exponent bits: n is in [-126, 127] after the clamp. */
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

static inline __m256 sigmoid_ps(__m256 x)
{
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

static inline __m256 tanh_ps(__m256 x)
{
    __m256 sign_bit = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    __m256 ax = _mm256_andnot_ps(sign_bit, x);
    __m256 e = exp_ps(_mm256_add_ps(ax, ax));
    __m256 far = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(62.0f / 2835.0f);
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-17.0f / 315.0f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.0f / 15.0f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.0f / 3.0f));
    __m256 near = _mm256_fmadd_ps(_mm256_mul_ps(p, x2), x, x);
    __m256 is_near = _mm256_cmp_ps(ax, _mm256_set1_ps(0.3f), _CMP_LT_OQ);
    __m256 signed_far = _mm256_or_ps(far, _mm256_and_ps(x, sign_bit));
    return _mm256_blendv_ps(signed_far, near, is_near);
}

static inline __m256 activate_ps(__m256 x, int act)
{
    switch (act) {
    case NN_KACT_RELU: return _mm256_max_ps(_mm256_setzero_ps(), x); /* NaN stays NaN */
    case NN_KACT_SIGMOID: return sigmoid_ps(x);
    case NN_KACT_TANH: return tanh_ps(x);
    default: return x;
    }
}

static void activate(size_t n, float *x, int act)
{
    for (size_t i = 0; i < n; i += VL) {
        __m256i mask = first_lanes((int)(n - i < VL ? n - i : VL));
        _mm256_maskstore_ps(x + i, mask, activate_ps(_mm256_maskload_ps(x + i, mask), act));
    }
}

static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act)
{
    for (int i = 0; i < m; i++, c += ldc) {
        for (int j = 0; j < n; j += VL) {
            __m256i mask = first_lanes(n - j);
            __m256 v = _mm256_maskload_ps(c + j, mask);
            if (row_bias)
                v = _mm256_add_ps(v, _mm256_set1_ps(row_bias[i]));
            if (bias)
                v = _mm256_add_ps(v, _mm256_maskload_ps(bias + j, mask));
            _mm256_maskstore_ps(c + j, mask, activate_ps(v, act));
        }
    }
}

static void copy_block(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                       ptrdiff_t dst_rs)
{
    for (int r = 0; r < rows; r++, src += src_rs, dst += dst_rs)
        for (int j = 0; j < cols; j += VL) {
            __m256i mask = first_lanes(cols - j);
            _mm256_maskstore_ps(dst + j, mask, _mm256_maskload_ps(src + j, mask));
        }
}

/* Whole vectors of dst, each term a masked load added in registers, as in the AVX-512
 * kernel. */
static void sum_shifted(int n, int count, const ptrdiff_t *offset, const int *lo, const int *hi,
                        int planes, const float *src, ptrdiff_t src_stride, int add, float *dst,
                        ptrdiff_t dst_stride)
{
    __m256i in[NN_SUM_SHIFTED_TERMS];
    for (int j = 0; j < n; j += VL) {
        __m256i out = first_lanes(n - j);
        for (int t = 0; t < count; t++)
            in[t] = _mm256_andnot_si256(first_lanes(lo[t] - j), first_lanes(hi[t] - j));
        const float *s = src + j;
        float *d = dst + j;
        for (int p = 0; p < planes; p++, s += src_stride, d += dst_stride) {
            __m256 acc = add ? _mm256_maskload_ps(d, out) : _mm256_setzero_ps();
            for (int t = 0; t < count; t++)
                acc = _mm256_add_ps(acc, _mm256_maskload_ps(s + offset[t], in[t]));
            _mm256_maskstore_ps(d, out, acc);
        }
    }
}

/* Lanes i of *even and *odd = src[2i] and src[2i + 1], for i < count (count <= VL); the
 * rest zero.  Reads nothing past src[2 * count - 1]. */
static inline void load_pairs(const float *src, int count, __m256 *even, __m256 *odd)
{
    __m256 lo = _mm256_maskload_ps(src, first_lanes(2 * count));
    __m256 hi = _mm256_maskload_ps(src + VL, first_lanes(2 * count - VL));
    /* Per 128-bit lane: lo = x0 x1 x2 x3 | x4 x5 x6 x7, hi = x8 .. | x12 ..; the shuffles
     * give x0 x2 x8 x10 | x4 x6 x12 x14, and swapping the middle 64-bit pairs orders them. */
    __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 d = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(d), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* kernels.h's transpose: 8 x 8 blocks through registers. */
static void transpose(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                      ptrdiff_t dst_rs)
{
    for (int i = 0; i < rows; i += VL) {
        int lines = nn_min_int(VL, rows - i);
        __m256i store = first_lanes(lines);
        for (int j = 0; j < cols; j += VL) {
            int count = nn_min_int(VL, cols - j);
            __m256 r[8];
            load_block(r, src + i * src_rs + j, src_rs, lines, count);
            transpose8(r);
            for (int q = 0; q < count; q++)
                _mm256_maskstore_ps(dst + (j + q) * dst_rs + i, store, r[q]);
        }
    }
}

/* pool.h's rule, per lane (all ones where it holds): v larger than best, or the first NaN. */
static inline __m256 takes_over(__m256 v, __m256 best)
{
    return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                        _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                                      _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
}

/* pool.h's rule over one vector of 2 x 2 windows, v = their top-left, top-right,
 * bottom-left and bottom-right values: y = the winners and, unless winner is NULL, winner
 * = top_at + 2 * lane + the winner's place (0, 1, w or w + 1), as floats. */
static inline void store_window_winners(const __m256 v[4], ptrdiff_t w, int top_at, __m256i out,
                                        float *y, float *winner)
{
    const __m256 twice_lane = _mm256_setr_ps(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256 offsets[3] = {_mm256_set1_ps(1.0f), _mm256_set1_ps((float)w),
                               _mm256_set1_ps((float)w + 1.0f)};
    __m256 best = v[0], off = _mm256_setzero_ps();
    for (int i = 1; i < 4; i++) {
        __m256 t = takes_over(v[i], best);
        best = _mm256_blendv_ps(best, v[i], t);
        off = _mm256_blendv_ps(off, offsets[i - 1], t);
    }
    _mm256_maskstore_ps(y, out, best);
    if (winner)
        _mm256_maskstore_ps(winner, out, _mm256_add_ps(_mm256_set1_ps((float)top_at),
                                                        _mm256_add_ps(twice_lane, off)));
}

/* Eight windows a vector, as in the AVX-512 kernel: deinterleave, then blend. */
static inline void maxpool_2x2_row(int n, const float *top, ptrdiff_t w, int top_at,
                                   float *y, float *winner)
{
    for (int o = 0; o < n; o += VL) {
        int count = n - o < VL ? n - o : VL;
        __m256 v[4];
        load_pairs(top + 2 * o, count, &v[0], &v[1]);
        load_pairs(top + w + 2 * o, count, &v[2], &v[3]);
        store_window_winners(v, w, top_at + 2 * o, first_lanes(count), y + o,
                             winner ? winner + o : NULL);
    }
}

/* kernels.h's conv1ch_3x3_maxpool, as gemm_avx512.c's with eight windows a vector. */
static void conv1ch_3x3_maxpool(int channels, int h, int w, const float *x, const float *wt,
                                const float *bias, int relu, float *y, float *winner)
{
    const int oh = h - 2, ow = w - 2, ph = oh / 2, pw = ow / 2;
    for (int r = 0; r < ph; r++)
        for (int o0 = 0; o0 < pw; o0 += VL) {
            int count = pw - o0 < VL ? pw - o0 : VL;
            __m256 in[4][4]; /* input row 2r + i: x[2o], x[2o + 1], x[2o + 2], x[2o + 3] */
            for (int i = 0; i < 4; i++) {
                const float *row = x + (ptrdiff_t)(2 * r + i) * w + 2 * o0;
                load_pairs(row, count, &in[i][0], &in[i][1]);
                load_pairs(row + 2, count, &in[i][2], &in[i][3]);
            }
            __m256i out = first_lanes(count);
            for (int c = 0; c < channels; c++) {
                const float *k = wt + (ptrdiff_t)c * 9;
                __m256 v[4]; /* top even, top odd, bottom even, bottom odd */
                for (int q = 0; q < 4; q++) {
                    int top = q / 2, odd = q % 2;
                    __m256 acc = _mm256_setzero_ps();
                    for (int ki = 0; ki < 3; ki++)
                        for (int kj = 0; kj < 3; kj++)
                            acc = _mm256_fmadd_ps(_mm256_set1_ps(k[ki * 3 + kj]),
                                                  in[top + ki][odd + kj], acc);
                    if (bias)
                        acc = _mm256_add_ps(acc, _mm256_set1_ps(bias[c]));
                    v[q] = relu ? _mm256_max_ps(_mm256_setzero_ps(), acc) : acc;
                }
                ptrdiff_t at = ((ptrdiff_t)c * ph + r) * pw + o0;
                store_window_winners(v, ow, (c * oh + 2 * r) * ow + 2 * o0, out, y + at,
                                     winner ? winner + at : NULL);
            }
        }
}

static void maxpool_2x2_rows(int rows, int n, const float *x, ptrdiff_t w, int top_at,
                             float *y, float *winner)
{
    for (int r = 0; r < rows; r++, x += 2 * w, top_at += 2 * (int)w, y += n)
        maxpool_2x2_row(n, x, w, top_at, y, winner ? winner + (ptrdiff_t)r * n : NULL);
}

/* dst[2i] = even lane i and dst[2i + 1] = odd lane i, for i < count (count <= VL). */
static inline void store_pairs(float *dst, int count, __m256 even, __m256 odd)
{
    __m256 a = _mm256_unpacklo_ps(even, odd); /* e0 o0 e1 o1 | e4 o4 e5 o5 */
    __m256 b = _mm256_unpackhi_ps(even, odd); /* e2 o2 e3 o3 | e6 o6 e7 o7 */
    _mm256_maskstore_ps(dst, first_lanes(2 * count), _mm256_permute2f128_ps(a, b, 0x20));
    _mm256_maskstore_ps(dst + VL, first_lanes(2 * count - VL), _mm256_permute2f128_ps(a, b, 0x31));
}

/* Eight windows a vector, as in the AVX-512 kernel. */
static inline void maxpool_2x2_backward_row(int n, const float *dy, const float *winner,
                                            const float *relu_y, ptrdiff_t w, int top_at,
                                            float *dx)
{
    const __m256 twice_lane = _mm256_setr_ps(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 places[4] = {zero, _mm256_set1_ps(1.0f), _mm256_set1_ps((float)w),
                              _mm256_set1_ps((float)w + 1.0f)};
    for (int o = 0; o < n; o += VL) {
        int count = n - o < VL ? n - o : VL;
        __m256i in = first_lanes(count);
        __m256 g = _mm256_add_ps(_mm256_maskload_ps(dy + o, in), zero);
        if (relu_y)
            g = _mm256_and_ps(g, _mm256_cmp_ps(_mm256_maskload_ps(relu_y + o, in), zero, _CMP_GT_OQ));
        __m256 off = _mm256_sub_ps(_mm256_maskload_ps(winner + o, in),
                                   _mm256_add_ps(_mm256_set1_ps((float)(top_at + 2 * o)), twice_lane));
        __m256 v[4];
        for (int i = 0; i < 4; i++)
            v[i] = _mm256_and_ps(g, _mm256_cmp_ps(off, places[i], _CMP_EQ_OQ));
        store_pairs(dx + 2 * o, count, v[0], v[1]);
        store_pairs(dx + w + 2 * o, count, v[2], v[3]);
    }
}

static void maxpool_2x2_backward_rows(int rows, int n, const float *dy, const float *winner,
                                      const float *relu_y, ptrdiff_t w, int top_at, float *dx)
{
    for (int r = 0; r < rows; r++, dy += n, winner += n, dx += 2 * w, top_at += 2 * (int)w)
        maxpool_2x2_backward_row(n, dy, winner, relu_y ? relu_y + (ptrdiff_t)r * n : NULL, w,
                                 top_at, dx);
}

const nn_gemm_kernels nn_kernels_avx2 = {
    .name = "avx2", .mr = MR, .nr = NR, .vl = VL,
    .pack_a = pack_a, .pack_b = pack_b, .gemm_tile = gemm_tile,
    .epilogue = epilogue, .activate = activate,
    .sgd_update = nn_sgd_update_loop, .adam_update = nn_adam_update_loop,
    .copy_block = copy_block, .sum_shifted = sum_shifted,
    .maxpool_2x2_rows = maxpool_2x2_rows, .maxpool_2x2_backward_rows = maxpool_2x2_backward_rows,
    .transpose = transpose, .small_gemm = small_gemm, NN_WINO_KERNELS,
    .conv1ch_3x3_maxpool = conv1ch_3x3_maxpool,
};
