/*
 * simd/gemm_avx512.c — AVX-512F kernel set, 8 x 48 register tile.
 *
 * The tile is 8 rows of three zmm vectors: 24 accumulators, three B vectors and the
 * broadcast A value in 28 of the 32 registers.  Per k: 3 loads of B, 8 broadcasts of A,
 * 24 FMAs — enough independent chains to cover the FMA latency on both FMA ports.
 * Eight rows, not more: when ldc is a multiple of 1 KiB (N = 1024, 2048...) every row
 * of a C tile falls in the same L1 sets, and 8 rows still fit the 12 ways where the
 * 14 x 32 tile measured 12% slower.  Edge tiles use a kernel specialised for their row
 * count and column masks, so they cost what they compute and touch nothing outside C.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"
#include "pack.h"
#include "update.h"
#include "winograd.h"

enum { MR = 8, NR = 48, VL = 16, NV = NR / VL };

static inline int round_up_int(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

static inline __mmask16 first_lanes(int n)
{
    return n >= VL ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* Transposes the 16 x 16 block held in r[0..15] in place (row i becomes column i). */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        for (int h = 0; h < 2; h++) {
            __m512d lo = _mm512_castps_pd(t[i + h]), hi = _mm512_castps_pd(t[i + 2 + h]);
            r[i + h] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi));
            r[i + 2 + h] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi));
        }
    }
    /* Now each 128-bit lane holds a 4 x 4 block; move the lanes into place. */
    for (int i = 0; i < 4; i++) {
        __m512 a = r[i], b = r[i + 4], c = r[i + 8], d = r[i + 12];
        __m512 ab_lo = _mm512_shuffle_f32x4(a, b, 0x88), ab_hi = _mm512_shuffle_f32x4(a, b, 0xdd);
        __m512 cd_lo = _mm512_shuffle_f32x4(c, d, 0x88), cd_hi = _mm512_shuffle_f32x4(c, d, 0xdd);
        t[i] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88);
        t[i + 8] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xdd);
        t[i + 4] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xdd);
    }
    /* t[q] now holds column q with its two low bits swapped. */
    for (int i = 0; i < 16; i++)
        r[i] = t[(i & ~3) | ((i & 1) << 1) | ((i >> 1) & 1)];
}

/* Loads `lines` rows of up to 16 floats, `stride` apart, `count` floats each; the
 * rest of the 16 x 16 block is zero.  Never reads past the rows and counts given. */
static inline void load_block(__m512 r[16], const float *src, ptrdiff_t stride, int lines, int count)
{
    __mmask16 mask = first_lanes(count);
    for (int i = 0; i < 16; i++)
        r[i] = i < lines ? _mm512_maskz_loadu_ps(mask, src + i * stride) : _mm512_setzero_ps();
}

/* Panels of A: MR rows, stored column by column.  Not transposed, the rows are
 * contiguous in k, so 16 x 16 blocks are transposed in registers; transposed, each
 * panel column is MR contiguous floats: a masked copy. */
static void pack_a(int mc, int kc, const float *a, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    if (cs != 1 && rs != 1) {
        nn_pack_a_panels(MR, mc, kc, a, rs, cs, dst);
        return;
    }
    const __mmask16 panel_lanes = first_lanes(MR);
    for (int i0 = 0; i0 < mc; i0 += MR, dst += (ptrdiff_t)MR * kc) {
        int rows = nn_min_int(MR, mc - i0);
        if (rs == 1) {
            __mmask16 valid = first_lanes(rows);
            for (int k = 0; k < kc; k++)
                _mm512_mask_storeu_ps(dst + (ptrdiff_t)k * MR, panel_lanes,
                                      _mm512_maskz_loadu_ps(valid, a + i0 + k * cs));
            continue;
        }
        for (int k0 = 0; k0 < kc; k0 += VL) {
            int ks = nn_min_int(VL, kc - k0);
            __m512 r[16];
            load_block(r, a + i0 * rs + k0, rs, rows, ks);
            transpose16(r);
            for (int k = 0; k < ks; k++)
                _mm512_mask_storeu_ps(dst + (ptrdiff_t)(k0 + k) * MR, panel_lanes, r[k]);
        }
    }
}

/* Panels of B: NR columns, stored row by row (each row whole cache lines, aligned).
 * Not transposed, a row is NR contiguous floats: a masked copy; transposed, each
 * panel column is contiguous in k, so 16 x 16 blocks are transposed in registers. */
static void pack_b(int kc, int nc, const float *b, ptrdiff_t rs, ptrdiff_t cs, float *dst)
{
    if (cs != 1 && rs != 1) {
        nn_pack_b_panels(NR, kc, nc, b, rs, cs, dst);
        return;
    }
    if (cs == 1) {
        /* Row by row, each read left to right across all panels: rows of B can be far
         * apart (a page each), and a panel at a time would stride down them. */
        for (int k = 0; k < kc; k++) {
            const float *src = b + k * rs;
            float *row = dst + (ptrdiff_t)k * NR;
            for (int j = 0; j < nc; j += VL)
                _mm512_store_ps(row + (ptrdiff_t)(j / NR) * NR * kc + j % NR,
                                _mm512_maskz_loadu_ps(first_lanes(nc - j), src + j));
            /* Zero the rest of the last panel's row. */
            for (int j = round_up_int(nc, VL); j % NR; j += VL)
                _mm512_store_ps(row + (ptrdiff_t)(j / NR) * NR * kc + j % NR, _mm512_setzero_ps());
        }
        return;
    }
    for (int j0 = 0; j0 < nc; j0 += NR, dst += (ptrdiff_t)NR * kc) {
        int cols = nn_min_int(NR, nc - j0);
        for (int v0 = 0; v0 < NR; v0 += VL) {
            for (int k0 = 0; k0 < kc; k0 += VL) {
                int ks = nn_min_int(VL, kc - k0);
                __m512 r[16];
                load_block(r, b + (j0 + v0) * cs + k0, cs, cols - v0, ks);
                transpose16(r);
                for (int k = 0; k < ks; k++)
                    _mm512_store_ps(dst + (ptrdiff_t)(k0 + k) * NR + v0, r[k]);
            }
        }
    }
}

/* The tile for `rows` rows and `vecs` vectors of columns, reading A and B packed or in
 * place.  All four are compile-time constants at every call site, and every loop over
 * rows and vectors is unrolled, so the accumulators stay in registers from the first
 * FMA to the store. */
static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act);

/* The epilogue's biases and ReLU on result r of row i, vector v, in registers: the
 * epilogue kernel's arithmetic on the value it would have loaded. */
static inline __m512 finish_in_registers(const nn_tile_epilogue *ep, int i, int v,
                                         __mmask16 mask, __m512 r)
{
    if (ep->row_bias)
        r = _mm512_add_ps(r, _mm512_set1_ps(ep->row_bias[i]));
    if (ep->bias)
        r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, ep->bias + v * VL));
    return ep->act == NN_KACT_RELU ? _mm512_max_ps(_mm512_setzero_ps(), r) : r;
}

static inline __attribute__((always_inline)) void
tile(const int rows, const int vecs, const int a_packed, const int b_packed, int n, int kc,
     const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
     float alpha, float beta, const nn_tile_epilogue *ep)
{
    /* C comes from memory once per KC step: ask for it now, use it after the k loop. */
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 3
        for (int v = 0; v < vecs; v++)
            _mm_prefetch((const char *)(c + i * ldc + v * VL), _MM_HINT_T0);
    const ptrdiff_t a_row = a_packed ? 1 : lda, a_step = a_packed ? MR : 1;
    const ptrdiff_t b_step = b_packed ? NR : ldb;
    __mmask16 mask[NV];
    __m512 acc[MR][NV];
#pragma GCC unroll 3
    for (int v = 0; v < vecs; v++) {
        mask[v] = first_lanes(n - v * VL);
#pragma GCC unroll 8
        for (int i = 0; i < rows; i++)
            acc[i][v] = _mm512_setzero_ps();
    }
    /* Not unrolled: 8 broadcasts and 24 FMAs are body enough, and unrolled k loops
     * measured up to 8% slower (the body no longer fits the decoded-uop cache). */
#pragma GCC unroll 1
    for (int k = 0; k < kc; k++, a += a_step, b += b_step) {
        __m512 bv[NV];
#pragma GCC unroll 3
        for (int v = 0; v < vecs; v++)
            bv[v] = b_packed ? _mm512_load_ps(b + v * VL) : _mm512_maskz_loadu_ps(mask[v], b + v * VL);
#pragma GCC unroll 8
        for (int i = 0; i < rows; i++) {
            __m512 ai = _mm512_set1_ps(a[i * a_row]);
#pragma GCC unroll 3
            for (int v = 0; v < vecs; v++)
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    /* c = alpha * acc + beta * c, and with beta == 0 c is never read; then the epilogue:
     * biases and ReLU before the store, Sigmoid and Tanh (rare, and long) by the kernel
     * after it. */
    __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
    int read_c = beta != 0.0f, in_registers = ep && ep->act <= NN_KACT_RELU;
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++) {
#pragma GCC unroll 3
        for (int v = 0; v < vecs; v++) {
            float *cv = c + i * ldc + v * VL;
            __m512 r = _mm512_mul_ps(valpha, acc[i][v]);
            if (read_c)
                r = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(mask[v], cv), r);
            if (in_registers)
                r = finish_in_registers(ep, i, v, mask[v], r);
            _mm512_mask_storeu_ps(cv, mask[v], r);
        }
    }
    if (ep && !in_registers)
        epilogue(rows, n, c, ldc, ep->row_bias, ep->bias, ep->act);
}

#define ROWS_CASE(r, vecs, ap, bp) \
    case r: tile(r, vecs, ap, bp, n, kc, a, lda, b, ldb, c, ldc, alpha, beta, ep); break;
#define ALL_ROWS(v, ap, bp)                                                    \
    ROWS_CASE(1, v, ap, bp) ROWS_CASE(2, v, ap, bp) ROWS_CASE(3, v, ap, bp)   \
    ROWS_CASE(4, v, ap, bp) ROWS_CASE(5, v, ap, bp) ROWS_CASE(6, v, ap, bp)   \
    ROWS_CASE(7, v, ap, bp) ROWS_CASE(8, v, ap, bp)
#define ANY_SHAPE(ap, bp)                          \
    do {                                           \
        if (n > 2 * VL) {                          \
            switch (m) { ALL_ROWS(3, ap, bp) }     \
        } else if (n > VL) {                       \
            switch (m) { ALL_ROWS(2, ap, bp) }     \
        } else {                                   \
            switch (m) { ALL_ROWS(1, ap, bp) }     \
        }                                          \
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

/* ---- Small products, A in place -------------------------------------------------- */

/* One register tile of small_gemm: rows x vecs vectors, the last vector's lanes `last`.
 * tile()'s arithmetic, without its packing, prefetches, alpha and epilogue: for a whole-K
 * product of a few dozen k those cost it a quarter of its time. */
static inline __attribute__((always_inline)) void
small_tile(const int rows, const int vecs, __mmask16 last, int kc, const float *a,
           ptrdiff_t a_rs, ptrdiff_t a_ks, const float *b, ptrdiff_t ldb, float *c,
           ptrdiff_t ldc, int accumulate)
{
    __m512 acc[12][4];
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 4
        for (int v = 0; v < vecs; v++)
            acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 1
    for (int k = 0; k < kc; k++, a += a_ks, b += ldb) {
        __m512 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < vecs; v++)
            bv[v] = v < vecs - 1 ? _mm512_loadu_ps(b + v * VL)
                                 : _mm512_maskz_loadu_ps(last, b + v * VL);
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            __m512 ai = _mm512_set1_ps(a[i * a_rs]);
#pragma GCC unroll 4
            for (int v = 0; v < vecs; v++)
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 4
        for (int v = 0; v < vecs; v++) {
            __mmask16 lanes = v < vecs - 1 ? (__mmask16)0xffff : last;
            float *cv = c + i * ldc + v * VL;
            __m512 r = acc[i][v];
            if (accumulate)
                r = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, cv), r);
            _mm512_mask_storeu_ps(cv, lanes, r);
        }
}

/* Rows per tile for a block of vecs vectors: the accumulators fill 24 of the 32 zmm. */
enum { SMALL_ROWS_1 = 12, SMALL_ROWS_2 = 12, SMALL_ROWS_3 = 8, SMALL_ROWS_4 = 6 };

#define SMALL_CASE(r, v) \
    case r: small_tile(r, v, last, kc, a, a_rs, a_ks, b, ldb, c, ldc, accumulate); break;
#define SMALL_ROWS_TO_6(v) \
    SMALL_CASE(1, v) SMALL_CASE(2, v) SMALL_CASE(3, v) SMALL_CASE(4, v) SMALL_CASE(5, v) \
    SMALL_CASE(6, v)
#define SMALL_ROWS_TO_8(v) SMALL_ROWS_TO_6(v) SMALL_CASE(7, v) SMALL_CASE(8, v)
#define SMALL_ROWS_TO_12(v) \
    SMALL_ROWS_TO_8(v) SMALL_CASE(9, v) SMALL_CASE(10, v) SMALL_CASE(11, v) SMALL_CASE(12, v)

/* The tile of `rows` rows (at most SMALL_ROWS_<vecs>) and vecs vectors. */
static void small_block(int rows, int vecs, __mmask16 last, int kc, const float *a,
                        ptrdiff_t a_rs, ptrdiff_t a_ks, const float *b, ptrdiff_t ldb, float *c,
                        ptrdiff_t ldc, int accumulate)
{
    switch (vecs) {
    case 1: switch (rows) { SMALL_ROWS_TO_12(1) } break;
    case 2: switch (rows) { SMALL_ROWS_TO_12(2) } break;
    case 3: switch (rows) { SMALL_ROWS_TO_8(3) } break;
    default: switch (rows) { SMALL_ROWS_TO_6(4) } break;
    }
}

/* kernels.h's small_gemm: columns in blocks of up to four vectors, rows in the block's
 * tiles. */
static void small_gemm(int m, int n, int kc, const float *a, ptrdiff_t a_rs, ptrdiff_t a_ks,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate)
{
    static const int rows_for[5] = {0, SMALL_ROWS_1, SMALL_ROWS_2, SMALL_ROWS_3, SMALL_ROWS_4};
    for (int j = 0; j < n; j += 4 * VL) {
        int width = nn_min_int(4 * VL, n - j), vecs = (width + VL - 1) / VL;
        __mmask16 last = first_lanes(width - (vecs - 1) * VL);
        for (int i = 0; i < m; i += rows_for[vecs])
            small_block(nn_min_int(rows_for[vecs], m - i), vecs, last, kc, a + i * a_rs, a_rs,
                        a_ks, b + j, ldb, c + i * ldc + j, ldc, accumulate);
    }
}

/* ---- Activations --------------------------------------------------------------- */

/* e^x: x = n ln2 + r with |r| <= ln2/2, Cephes' degree-6 polynomial for e^r, then
 * scalef multiplies by 2^n exactly.  Inputs are clamped to [-87, 88]. */
static inline __m512 exp_ps(__m512 x)
{
    /* x86 min/max return their second operand when either is NaN: x goes second, so a
     * NaN input stays NaN through exp, sigmoid and tanh. */
    x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-87.0f), x));
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
    case NN_KACT_RELU: return _mm512_max_ps(_mm512_setzero_ps(), x); /* NaN stays NaN */
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

static void epilogue(int m, int n, float *c, ptrdiff_t ldc, const float *row_bias,
                     const float *bias, int act)
{
    for (int i = 0; i < m; i++, c += ldc) {
        for (int j = 0; j < n; j += VL) {
            __mmask16 mask = first_lanes(n - j);
            __m512 v = _mm512_maskz_loadu_ps(mask, c + j);
            if (row_bias)
                v = _mm512_add_ps(v, _mm512_set1_ps(row_bias[i]));
            if (bias)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias + j));
            _mm512_mask_storeu_ps(c + j, mask, activate_ps(v, act));
        }
    }
}

static void copy_block(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                       ptrdiff_t dst_rs)
{
    for (int r = 0; r < rows; r++, src += src_rs, dst += dst_rs)
        for (int j = 0; j < cols; j += VL) {
            __mmask16 mask = first_lanes(cols - j);
            _mm512_mask_storeu_ps(dst + j, mask, _mm512_maskz_loadu_ps(mask, src + j));
        }
}

/* A vector of dst at a time, each term a masked load (its lanes in [lo, hi)) added in
 * registers: no read-modify-write of dst per term, which a masked store could not
 * forward to the next term's load.  The masks are the same for every plane. */
static void sum_shifted(int n, int count, const ptrdiff_t *offset, const int *lo, const int *hi,
                        int planes, const float *src, ptrdiff_t src_stride, int add, float *dst,
                        ptrdiff_t dst_stride)
{
    __mmask16 in[NN_SUM_SHIFTED_TERMS];
    for (int j = 0; j < n; j += VL) {
        __mmask16 out = first_lanes(n - j);
        for (int t = 0; t < count; t++)
            in[t] = (__mmask16)(first_lanes(hi[t] - j) & ~first_lanes(lo[t] - j));
        const float *s = src + j;
        float *d = dst + j;
        for (int p = 0; p < planes; p++, s += src_stride, d += dst_stride) {
            __m512 acc = add ? _mm512_maskz_loadu_ps(out, d) : _mm512_setzero_ps();
            for (int t = 0; t < count; t++)
                acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(in[t], s + offset[t]));
            _mm512_mask_storeu_ps(d, out, acc);
        }
    }
}

/* Lanes i of *even and *odd = src[2i] and src[2i + 1], for i < count (count <= VL); the
 * rest zero.  Reads nothing past src[2 * count - 1]. */
static inline void load_pairs(const float *src, int count, __m512 *even, __m512 *odd)
{
    __m512 lo = _mm512_maskz_loadu_ps(first_lanes(2 * count), src);
    __m512 hi = _mm512_maskz_loadu_ps(first_lanes(2 * count - VL), src + VL);
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                            26, 28, 30);
    *even = _mm512_permutex2var_ps(lo, evens, hi);
    *odd = _mm512_permutex2var_ps(lo, _mm512_add_epi32(evens, _mm512_set1_epi32(1)), hi);
}

/* kernels.h's transpose: 16 x 16 blocks through registers. */
static void transpose(int rows, int cols, const float *src, ptrdiff_t src_rs, float *dst,
                      ptrdiff_t dst_rs)
{
    for (int i = 0; i < rows; i += VL) {
        int lines = nn_min_int(VL, rows - i);
        __mmask16 store = first_lanes(lines);
        for (int j = 0; j < cols; j += VL) {
            int count = nn_min_int(VL, cols - j);
            __m512 r[16];
            load_block(r, src + i * src_rs + j, src_rs, lines, count);
            transpose16(r);
            for (int q = 0; q < count; q++)
                _mm512_mask_storeu_ps(dst + (j + q) * dst_rs + i, store, r[q]);
        }
    }
}

/* 2 * lane for each lane: the first column of a vector of 2 x 2 windows, from its first. */
static inline __m512 twice_lane(void)
{
    return _mm512_setr_ps(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}

/* pool.h's rule, per lane: v larger than best, or v the first NaN. */
static inline __mmask16 takes_over(__m512 v, __m512 best)
{
    return _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
           (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
}

/* pool.h's rule over one vector of 2 x 2 windows, v = their top-left, top-right,
 * bottom-left and bottom-right values: y = the winners and, unless winner is NULL, winner
 * = top (each window's top-left offset) + the winner's place (0, 1, w or w + 1), as
 * floats. */
static inline void store_window_winners(const __m512 v[4], ptrdiff_t w, __m512 top,
                                        __mmask16 out, float *y, float *winner)
{
    const __m512 offsets[3] = {_mm512_set1_ps(1.0f), _mm512_set1_ps((float)w),
                               _mm512_set1_ps((float)w + 1.0f)};
    __m512 best = v[0], off = _mm512_setzero_ps();
    for (int i = 1; i < 4; i++) {
        __mmask16 t = takes_over(v[i], best);
        best = _mm512_mask_blend_ps(t, best, v[i]);
        off = _mm512_mask_blend_ps(t, off, offsets[i - 1]);
    }
    _mm512_mask_storeu_ps(y, out, best);
    if (winner)
        _mm512_mask_storeu_ps(winner, out, _mm512_add_ps(top, off));
}

/* A vector of 2 x 2 windows' pooled gradient, lanes `in`: dy + 0 (-0 becomes +0), or 0
 * where relu_y (unless NULL) is not > 0. */
static inline __m512 window_gradient(const float *dy, const float *relu_y, __mmask16 in)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 g = _mm512_add_ps(_mm512_maskz_loadu_ps(in, dy), zero);
    if (relu_y)
        g = _mm512_maskz_mov_ps(
            _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(in, relu_y), zero, _CMP_GT_OQ), g);
    return g;
}

/* Where each window's winner is within it: winner - (top_at + 2 * lane), which is 0, 1, w
 * or w + 1 (top-left, top-right, bottom-left, bottom-right; w the rows' width). */
static inline __m512 winner_places(const float *winner, __mmask16 in, int top_at)
{
    return _mm512_sub_ps(_mm512_maskz_loadu_ps(in, winner),
                         _mm512_add_ps(_mm512_set1_ps((float)top_at), twice_lane()));
}

/* One vector of 2 x 2 windows' gradients, lanes `in`: v = the gradient of their
 * top-left, top-right, bottom-left and bottom-right values, window_gradient at the winner
 * and +0 at the others. */
static inline void unpool_windows(const float *dy, const float *winner, const float *relu_y,
                                  __mmask16 in, ptrdiff_t w, int top_at, __m512 v[4])
{
    const __m512 places[4] = {_mm512_setzero_ps(), _mm512_set1_ps(1.0f),
                              _mm512_set1_ps((float)w), _mm512_set1_ps((float)w + 1.0f)};
    __m512 g = window_gradient(dy, relu_y, in), place = winner_places(winner, in, top_at);
    for (int i = 0; i < 4; i++)
        v[i] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(place, places[i], _CMP_EQ_OQ), g);
}

/* Sixteen windows a vector: the window's four values deinterleaved from two rows, the
 * winner and its offset (exact in a float: the engine keeps offsets below 2^24) chosen
 * with masked blends. */
static inline void maxpool_2x2_row(int n, const float *top, ptrdiff_t w, int top_at,
                                   float *y, float *winner)
{
    for (int o = 0; o < n; o += VL) {
        int count = nn_min_int(VL, n - o);
        __m512 v[4];
        load_pairs(top + 2 * o, count, &v[0], &v[1]);
        load_pairs(top + w + 2 * o, count, &v[2], &v[3]);
        __m512 top_left = _mm512_add_ps(_mm512_set1_ps((float)(top_at + 2 * o)), twice_lane());
        store_window_winners(v, w, top_left, first_lanes(count), y + o,
                             winner ? winner + o : NULL);
    }
}

/* Loads the four input rows 2r .. 2r + 3 of pooled row r, block o0 (count windows): in[i][s]
 * = x[2r + i][2o + s], s < 4, deinterleaved. */
static inline void conv1ch_rows(const float *x, int w, int r, int o0, int count, __m512 in[4][4])
{
    for (int i = 0; i < 4; i++) {
        const float *row = x + (ptrdiff_t)(2 * r + i) * w + 2 * o0;
        load_pairs(row, count, &in[i][0], &in[i][1]);
        load_pairs(row + 2, count, &in[i][2], &in[i][3]);
    }
}

/* Windows in a strip of conv1ch_3x3_maxpool: their patches take 16 KB of stack. */
enum { CONV1CH_STRIP = 256 };

/* The 4 x 4 input patches of windows [first, first + count) of the ph x pw pooled ones
 * (row-major, count <= CONV1CH_STRIP): patch[(i*4 + s)*CONV1CH_STRIP + k] = x[2r + i][2o +
 * s] for window first + k = (r, o); and top[k] = its top-left output, 2r * ow + 2o. */
static void conv1ch_patches(const float *x, int w, int pw, int first, int count, float *patch,
                            float *top)
{
    for (int at = first; at < first + count;) {
        int r = at / pw, o = at % pw;
        int n = nn_min_int(nn_min_int(VL, pw - o), first + count - at);
        __m512 in[4][4];
        conv1ch_rows(x, w, r, o, n, in);
        for (int p = 0; p < 16; p++)
            _mm512_mask_storeu_ps(patch + p * CONV1CH_STRIP + (at - first), first_lanes(n),
                                  in[p / 4][p % 4]);
        for (int k = 0; k < n; k++)
            top[at - first + k] = (float)(2 * r * (w - 2) + 2 * (o + k));
        at += n;
    }
}

/* kernels.h's conv1ch_3x3_maxpool.  Lanes are windows in row-major order, 16 at a time
 * across the pooled rows (pooled rows of 13, MNIST's, would leave 3 of 16 lanes idle):
 * each window's 4 x 4 input patch comes from x once per strip, deinterleaved (x[2o + s]
 * as the even and odd columns from 2o and 2o + 2), and a block's 16 patch vectors stay in
 * registers for every channel.  Per channel the window's four conv outputs are nine FMAs
 * each, in gemm_tile's tap order, and meet in registers. */
static void conv1ch_3x3_maxpool(int channels, int h, int w, const float *x, const float *wt,
                                const float *bias, int relu, float *y, float *winner)
{
    const int oh = h - 2, ow = w - 2, ph = oh / 2, pw = ow / 2, windows = ph * pw;
    float patch[16 * CONV1CH_STRIP], top[CONV1CH_STRIP];
    for (int strip = 0; strip < windows; strip += CONV1CH_STRIP) {
        int strip_windows = nn_min_int(CONV1CH_STRIP, windows - strip);
        conv1ch_patches(x, w, pw, strip, strip_windows, patch, top);
        for (int b = 0; b < strip_windows; b += VL) {
            __mmask16 out = first_lanes(strip_windows - b);
            __m512 in[4][4];
            for (int p = 0; p < 16; p++)
                in[p / 4][p % 4] = _mm512_maskz_loadu_ps(out, patch + p * CONV1CH_STRIP + b);
            __m512 top_left = _mm512_maskz_loadu_ps(out, top + b);
            for (int c = 0; c < channels; c++) {
                const float *k = wt + (ptrdiff_t)c * 9;
                __m512 v[4]; /* top even, top odd, bottom even, bottom odd */
                for (int q = 0; q < 4; q++) {
                    int di = q / 2, dj = q % 2;
                    __m512 acc = _mm512_setzero_ps();
                    for (int ki = 0; ki < 3; ki++)
                        for (int kj = 0; kj < 3; kj++)
                            acc = _mm512_fmadd_ps(_mm512_set1_ps(k[ki * 3 + kj]),
                                                  in[di + ki][dj + kj], acc);
                    if (bias)
                        acc = _mm512_add_ps(acc, _mm512_set1_ps(bias[c]));
                    v[q] = relu ? _mm512_max_ps(_mm512_setzero_ps(), acc) : acc;
                }
                ptrdiff_t at = (ptrdiff_t)c * windows + strip + b;
                __m512 plane = _mm512_set1_ps((float)(c * oh * ow));
                store_window_winners(v, ow, _mm512_add_ps(plane, top_left), out, y + at,
                                     winner ? winner + at : NULL);
            }
        }
    }
}

/* One block row of conv1ch_3x3_weights for one channel: d = dy at the blocks' top-left,
 * top-right, bottom-left, bottom-right outputs. */
static inline void conv1ch_accumulate(const __m512 in[4][4], const __m512 d[4], float *acc)
{
    for (int ki = 0; ki < 3; ki++)
        for (int kj = 0; kj < 3; kj++) {
            float *a = acc + (ki * 3 + kj) * VL;
            __m512 v = _mm512_loadu_ps(a);
            for (int q = 0; q < 4; q++)
                v = _mm512_fmadd_ps(d[q], in[q / 2 + ki][q % 2 + kj], v);
            _mm512_storeu_ps(a, v);
        }
    float *bias = acc + 9 * VL; /* 16 doubles, unaligned loads and stores */
    for (int half = 0; half < 2; half++) {
        __m512d b = _mm512_loadu_pd(bias + half * 16);
        for (int q = 0; q < 4; q++)
            b = _mm512_add_pd(b, _mm512_cvtps_pd(half ? _mm512_extractf32x8_ps(d[q], 1)
                                                      : _mm512_castps512_ps256(d[q])));
        _mm512_storeu_pd(bias + half * 16, b);
    }
}

/* kernels.h's conv1ch_3x3_weights: the blocks as above, then the outputs in none. */
static void conv1ch_3x3_weights(int channels, int h, int w, const float *x, const float *dy,
                                float *acc)
{
    const int oh = h - 2, ow = w - 2, ph = oh / 2, pw = ow / 2;
    for (int r = 0; r < ph; r++)
        for (int o0 = 0; o0 < pw; o0 += VL) {
            int count = nn_min_int(VL, pw - o0);
            __m512 in[4][4], d[4];
            conv1ch_rows(x, w, r, o0, count, in);
            for (int c = 0; c < channels; c++) {
                const float *top = dy + ((ptrdiff_t)c * oh + 2 * r) * ow + 2 * o0;
                load_pairs(top, count, &d[0], &d[1]);
                load_pairs(top + ow, count, &d[2], &d[3]);
                conv1ch_accumulate((const __m512(*)[4])in, d, acc + (ptrdiff_t)c * NN_CONV1CH_ACC);
            }
        }
    for (int c = 0; c < channels; c++) /* an odd last row or column: lane 0 */
        for (int y = 0; y < oh; y++)
            for (int xo = (y < 2 * ph ? 2 * pw : 0); xo < ow; xo++) {
                float g = dy[((ptrdiff_t)c * oh + y) * ow + xo], *a = acc + (ptrdiff_t)c * NN_CONV1CH_ACC;
                for (int k = 0; k < 9; k++)
                    a[k * VL] = fmaf(g, x[(ptrdiff_t)(y + k / 3) * w + xo + k % 3], a[k * VL]);
                double b; /* the workspace is only float-aligned */
                memcpy(&b, a + 9 * VL, sizeof b);
                b += g;
                memcpy(a + 9 * VL, &b, sizeof b);
            }
}

/* One block row of conv1ch_3x3_weights_pooled for one channel: g = the windows' pooled
 * gradient, which reaches only each window's winner, in the bottom row where `down` and
 * the right column where `right`.  The input under the winner is chosen by masked blends
 * and takes one FMA a tap where conv1ch_accumulate takes four: the three it skips add
 * products of +0, which leave the sums' bits as they are (a sum from +0 is never -0). */
static inline void conv1ch_accumulate_winners(const __m512 in[4][4], __mmask16 down,
                                              __mmask16 right, __m512 g, float *acc)
{
    __m512 rows[3][4];
    for (int ki = 0; ki < 3; ki++)
        for (int s = 0; s < 4; s++)
            rows[ki][s] = _mm512_mask_blend_ps(down, in[ki][s], in[ki + 1][s]);
    for (int ki = 0; ki < 3; ki++)
        for (int kj = 0; kj < 3; kj++) {
            float *a = acc + (ki * 3 + kj) * VL;
            __m512 x = _mm512_mask_blend_ps(right, rows[ki][kj], rows[ki][kj + 1]);
            _mm512_storeu_ps(a, _mm512_fmadd_ps(g, x, _mm512_loadu_ps(a)));
        }
    float *bias = acc + 9 * VL; /* 16 doubles, unaligned loads and stores */
    _mm512_storeu_pd(bias, _mm512_add_pd(_mm512_loadu_pd(bias),
                                         _mm512_cvtps_pd(_mm512_castps512_ps256(g))));
    _mm512_storeu_pd(bias + 16, _mm512_add_pd(_mm512_loadu_pd(bias + 16),
                                              _mm512_cvtps_pd(_mm512_extractf32x8_ps(g, 1))));
}

/* kernels.h's conv1ch_3x3_weights_pooled: per vector of windows their gradient and
 * their winners' places, then conv1ch_accumulate_winners. */
static void conv1ch_3x3_weights_pooled(int channels, int h, int w, const float *x,
                                       const float *dy, const float *winner,
                                       const float *relu_y, float *acc)
{
    const int oh = h - 2, ow = w - 2, ph = oh / 2, pw = ow / 2;
    const __m512 one = _mm512_set1_ps(1.0f), row = _mm512_set1_ps((float)ow),
                 row_one = _mm512_set1_ps((float)ow + 1.0f);
    for (int r = 0; r < ph; r++)
        for (int o0 = 0; o0 < pw; o0 += VL) {
            int count = nn_min_int(VL, pw - o0);
            __mmask16 lanes = first_lanes(count);
            __m512 in[4][4];
            conv1ch_rows(x, w, r, o0, count, in);
            for (int c = 0; c < channels; c++) {
                ptrdiff_t at = ((ptrdiff_t)c * ph + r) * pw + o0;
                __m512 g = window_gradient(dy + at, relu_y ? relu_y + at : NULL, lanes);
                __m512 place = winner_places(winner + at, lanes, (c * oh + 2 * r) * ow + 2 * o0);
                __mmask16 down = _mm512_cmp_ps_mask(place, row, _CMP_GE_OQ);
                __mmask16 right = _mm512_cmp_ps_mask(place, one, _CMP_EQ_OQ) |
                                  _mm512_cmp_ps_mask(place, row_one, _CMP_EQ_OQ);
                conv1ch_accumulate_winners((const __m512(*)[4])in, down, right, g,
                                           acc + (ptrdiff_t)c * NN_CONV1CH_ACC);
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
static inline void store_pairs(float *dst, int count, __m512 even, __m512 odd)
{
    const __m512i firsts = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22,
                                             7, 23);
    __m512 lo = _mm512_permutex2var_ps(even, firsts, odd);
    __m512 hi = _mm512_permutex2var_ps(even, _mm512_add_epi32(firsts, _mm512_set1_epi32(8)), odd);
    _mm512_mask_storeu_ps(dst, first_lanes(2 * count), lo);
    _mm512_mask_storeu_ps(dst + VL, first_lanes(2 * count - VL), hi);
}

/* Sixteen windows a vector: each window's offset of its winner, compared with the four
 * places, masks the gradient into four vectors, interleaved back into two rows. */
static inline void maxpool_2x2_backward_row(int n, const float *dy, const float *winner,
                                            const float *relu_y, ptrdiff_t w, int top_at,
                                            float *dx)
{
    for (int o = 0; o < n; o += VL) {
        int count = nn_min_int(VL, n - o);
        __m512 v[4];
        unpool_windows(dy + o, winner + o, relu_y ? relu_y + o : NULL, first_lanes(count), w,
                       top_at + 2 * o, v);
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

const nn_gemm_kernels nn_kernels_avx512 = {
    .name = "avx512", .mr = MR, .nr = NR, .vl = VL,
    .pack_a = pack_a, .pack_b = pack_b, .gemm_tile = gemm_tile, .small_gemm = small_gemm,
    .epilogue = epilogue, .activate = activate,
    .sgd_update = nn_sgd_update_loop, .adam_update = nn_adam_update_loop,
    .copy_block = copy_block, .sum_shifted = sum_shifted,
    .maxpool_2x2_rows = maxpool_2x2_rows, .maxpool_2x2_backward_rows = maxpool_2x2_backward_rows,
    .transpose = transpose, NN_WINO_KERNELS,
    .conv1ch_3x3_maxpool = conv1ch_3x3_maxpool, .conv1ch_3x3_weights = conv1ch_3x3_weights,
    .conv1ch_3x3_weights_pooled = conv1ch_3x3_weights_pooled,
};
