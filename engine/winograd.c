/*
 * engine/winograd.c — 3x3 convolution at stride 1 by Winograd's F(4x4, 3x3), NCHW.
 *
 * The output is cut into 4 x 4 tiles (tiles_h x tiles_w per sample, the last row and
 * column of tiles cut short), each computed from a 6 x 6 input tile (zero outside the
 * input: the padding).  For a chunk of samples with T tiles in all:
 *   1. input transform (simd/winograd.h): V[p] [T x C], the 36 positions p of B^T d B
 *      for every tile and input channel, from each sample transposed to channels-last
 *      (H*W x C), so that the transform's lanes (channels) are contiguous;
 *   2. 36 GEMMs, one per position: M[p] [T x OC] = V[p] . U[p] [C x OC], by the ISA's
 *      register tile reading both operands in place (C is short: 32 for MNIST's conv2,
 *      so packing would cost about what it saves);
 *   3. output transform: y = A^T M A + bias, tile by tile, into a channels-last sample
 *      (P x OC), transposed into NCHW.
 * U[p] [C x OC] (the kernels' G g G^T) is made once per call by nn_wino_weights, from any
 * strided view of the kernels, so the backward-data pass (a full convolution of dy with
 * the kernels flipped and transposed) runs through the same code.
 *
 * Each output is a function of its own tile only, summed over the channels in order, so
 * the bits do not depend on the chunk, the thread or the tile's place in the GEMM.  The
 * arithmetic differs from direct convolution: F(4x4, 3x3) does 4 multiplies an output
 * where im2col does 9, at the price of transforms whose coefficients (up to 8 in A^T, 5
 * in B^T, 1/24 in G) let rounding errors grow several times over direct summation
 * (tests/test_conv.c bounds them).
 */
#include "internal.h"

int nn_wino_tiles(const nn_wino_shape *s)
{
    return ((s->out_h + NN_WINO_OUT - 1) / NN_WINO_OUT) * ((s->out_w + NN_WINO_OUT - 1) / NN_WINO_OUT);
}

size_t nn_wino_weights_floats(const nn_wino_shape *s)
{
    return (size_t)NN_WINO_POS * (size_t)s->in_ch * (size_t)s->out_ch;
}

/* V and M of one sample. */
static size_t sample_floats(const nn_wino_shape *s)
{
    return (size_t)NN_WINO_POS * (size_t)nn_wino_tiles(s) * ((size_t)s->in_ch + (size_t)s->out_ch);
}

/* A chunk's V and M should stay in the L2 next to U: 256k floats (1 MiB) at most, and
 * at most 8 samples (MNIST's conv2 forward: 8, 72 tiles; its backward-data: 4, 64). */
enum { CHUNK_FLOATS = 1 << 18, CHUNK_MAX = 8 };

int nn_wino_chunk(const nn_wino_shape *s)
{
    size_t fit = CHUNK_FLOATS / sample_floats(s);
    return fit < 1 ? 1 : fit > CHUNK_MAX ? CHUNK_MAX : (int)fit;
}

/* One sample channels-last: x (H*W x C, and a row of C zeros read as the padding) or y
 * (P x OC). */
static size_t channels_last_floats(const nn_wino_shape *s)
{
    size_t x = ((size_t)s->height * (size_t)s->width + 1) * (size_t)s->in_ch;
    size_t y = (size_t)s->out_h * (size_t)s->out_w * (size_t)s->out_ch;
    return x > y ? x : y;
}

size_t nn_wino_scratch_floats(const nn_wino_shape *s)
{
    return (size_t)nn_wino_chunk(s) * sample_floats(s) + channels_last_floats(s);
}

void nn_wino_weights(const nn_gemm_kernels *k, const nn_wino_shape *s, const float *w,
                     ptrdiff_t out_stride, ptrdiff_t in_stride, ptrdiff_t row_stride,
                     ptrdiff_t col_stride, float *u)
{
    ptrdiff_t u_stride = (ptrdiff_t)s->in_ch * s->out_ch;
    for (int c = 0; c < s->in_ch; c++)
        for (int o = 0; o < s->out_ch; o += NN_WINO_LANES) {
            int n = s->out_ch - o < NN_WINO_LANES ? s->out_ch - o : NN_WINO_LANES;
            k->wino_weights(n, w + c * in_stride + o * out_stride, row_stride, col_stride,
                            out_stride, u + (ptrdiff_t)c * s->out_ch + o, u_stride);
        }
}

/* The 36 input rows (C floats each) of tile (ti, tj) in the channels-last sample xt,
 * whose row H*W is zeros: the padding's. */
static void tile_sources(const nn_wino_shape *s, const float *xt, int ti, int tj,
                         const float *src[NN_WINO_POS])
{
    ptrdiff_t zeros = (ptrdiff_t)s->height * s->width;
    for (int r = 0; r < NN_WINO_IN; r++) {
        int row = ti * NN_WINO_OUT - s->pad_h + r;
        for (int c = 0; c < NN_WINO_IN; c++) {
            int col = tj * NN_WINO_OUT - s->pad_w + c;
            int inside = row >= 0 && row < s->height && col >= 0 && col < s->width;
            src[r * NN_WINO_IN + c] = xt + (inside ? (ptrdiff_t)row * s->width + col : zeros) * s->in_ch;
        }
    }
}

/* V[p] [T x C] for the chunk's samples x (T = samples * tiles), each first transposed into
 * xt. */
static void input_transform(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                            const float *x, float *v, float *xt)
{
    int tiles_w = (s->out_w + NN_WINO_OUT - 1) / NN_WINO_OUT, tiles = nn_wino_tiles(s);
    ptrdiff_t plane = (ptrdiff_t)s->height * s->width, C = s->in_ch;
    ptrdiff_t v_stride = (ptrdiff_t)samples * tiles * C;
    for (ptrdiff_t c = 0; c < C; c++)
        xt[plane * C + c] = 0.0f;
    for (int n = 0; n < samples; n++) {
        k->transpose((int)C, (int)plane, x + (size_t)n * (size_t)C * (size_t)plane, plane, xt, C);
        for (int t = 0; t < tiles; t++) {
            const float *src[NN_WINO_POS], *block[NN_WINO_POS];
            tile_sources(s, xt, t / tiles_w, t % tiles_w, src);
            float *v_t = v + ((ptrdiff_t)n * tiles + t) * C;
            for (int c = 0; c < C; c += NN_WINO_LANES) {
                for (int p = 0; p < NN_WINO_POS; p++)
                    block[p] = src[p] + c;
                k->wino_input(C - c < NN_WINO_LANES ? (int)(C - c) : NN_WINO_LANES, block,
                              v_t + c, v_stride);
            }
        }
    }
}

/* M[p] [T x OC] = V[p] [T x C] . U[p] [C x OC] for the 36 positions, register tile by
 * register tile, each a whole K = C sum. */
static void tile_products(const nn_gemm_kernels *k, const nn_wino_shape *s, int T,
                          const float *v, const float *u, float *m)
{
    int C = s->in_ch, OC = s->out_ch;
    /* OC in equal blocks of whole vectors, at most NR wide: 64 as 32 + 32, not 48 + 16,
     * whose narrow tile would wait on its eight broadcasts. */
    int blocks = (OC + k->nr - 1) / k->nr;
    int width = ((OC + blocks - 1) / blocks + k->vl - 1) / k->vl * k->vl;
    for (int p = 0; p < NN_WINO_POS; p++) {
        const float *v_p = v + (size_t)p * (size_t)T * (size_t)C;
        const float *u_p = u + (size_t)p * (size_t)C * (size_t)OC;
        float *m_p = m + (size_t)p * (size_t)T * (size_t)OC;
        for (int o = 0; o < OC; o += width)
            for (int t = 0; t < T; t += k->mr)
                k->gemm_tile(T - t < k->mr ? T - t : k->mr, OC - o < width ? OC - o : width, C,
                             v_p + (size_t)t * (size_t)C, C, u_p + o, OC,
                             m_p + (size_t)t * (size_t)OC + o, OC, 1.0f, 0.0f, NULL);
    }
}

/* y [samples, OC, out_h, out_w] = A^T M A + bias, tile by tile into the channels-last
 * yt [P x OC], then transposed. */
static void output_transform(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                             const float *m, const float *bias, float *y, float *yt)
{
    int tiles_w = (s->out_w + NN_WINO_OUT - 1) / NN_WINO_OUT, tiles = nn_wino_tiles(s);
    ptrdiff_t P = (ptrdiff_t)s->out_h * s->out_w, OC = s->out_ch;
    ptrdiff_t m_stride = (ptrdiff_t)samples * tiles * OC;
    for (int n = 0; n < samples; n++) {
        for (int t = 0; t < tiles; t++) {
            int oy = t / tiles_w * NN_WINO_OUT, ox = t % tiles_w * NN_WINO_OUT;
            int rows = s->out_h - oy < NN_WINO_OUT ? s->out_h - oy : NN_WINO_OUT;
            int cols = s->out_w - ox < NN_WINO_OUT ? s->out_w - ox : NN_WINO_OUT;
            const float *m_t = m + ((ptrdiff_t)n * tiles + t) * OC;
            float *yt_t = yt + ((ptrdiff_t)oy * s->out_w + ox) * OC;
            for (int o = 0; o < OC; o += NN_WINO_LANES)
                k->wino_output(OC - o < NN_WINO_LANES ? (int)(OC - o) : NN_WINO_LANES, m_t + o,
                               m_stride, bias ? bias + o : NULL, rows, cols, yt_t + o,
                               s->out_w * OC, OC);
        }
        k->transpose((int)P, (int)OC, yt, OC, y + (size_t)n * (size_t)OC * (size_t)P, P);
    }
}

void nn_wino_convolve(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                      const float *x, const float *u, const float *bias, float *y, float *scratch)
{
    int T = samples * nn_wino_tiles(s);
    float *v = scratch, *m = v + (size_t)NN_WINO_POS * (size_t)T * (size_t)s->in_ch;
    float *last = m + (size_t)NN_WINO_POS * (size_t)T * (size_t)s->out_ch;
    input_transform(k, s, samples, x, v, last);
    tile_products(k, s, T, v, u, m);
    output_transform(k, s, samples, m, bias, y, last);
}
