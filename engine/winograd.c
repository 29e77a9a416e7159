/*
 * engine/winograd.c — 3x3 convolution at stride 1 by Winograd's F(4x4, 3x3), NCHW.
 *
 * The output is cut into 4 x 4 tiles (tiles_h x tiles_w per sample, the last row and
 * column of tiles cut short), each computed from a 6 x 6 input tile (zero outside the
 * input: the padding).  With B^T, G, A^T the transforms of simd/winograd.h, p one of the
 * 36 positions of a transformed tile and T the tiles of a chunk of samples:
 *
 *   forward           V[p] [T x C]  = (B^T d B)[p] of every tile and input channel
 *                     M[p] [T x OC] = V[p] . U[p] [C x OC],  U = G g G^T of the kernels
 *                     y = A^T M A (+ bias), tile by tile
 *   backward          dM[p] [T x OC] = (A dy A^T)[p]  (the output transform's adjoint; dy
 *                     may come unpooled from a 2 x 2 max pooling's gradient, tile by tile)
 *     bias            db = the sum over tiles of dM[7], position (1, 1): a tile's dy summed
 *     weights         dU[p] [C x OC] += V[p]^T . dM[p], summed over the chunks of a group,
 *                     then dW = G^T dU G over the groups' sums (nn_wino_weights_backward)
 *     data            dV[p] [T x C] = dM[p] . U[p]^T,  dx = B dV B^T, the overlapping
 *                     6 x 6 tiles added in tile order
 *
 * The transforms' lanes are channels: each sample is transposed to channels-last (H*W x
 * C) on the way in and back to NCHW on the way out.  The GEMMs are whole-K products (K =
 * C or OC, 32 and 64 for MNIST's conv2; T for the weight gradient) by the ISA's
 * small_gemm, every operand (V, dM or V^T; U, U^T or dM) read in place, or else on its
 * register tile with A packed.
 *
 * Bits: y and dx depend on their own tiles only, so not on the chunk, the thread or
 * where a tile falls in a GEMM; dW on the chunks and groups, which the batch fixes.  The
 * arithmetic differs from direct convolution: 4 multiplies an output where im2col does 9,
 * at the price of transforms whose coefficients (up to 8 in A^T, 5 in B^T, 1/24 in G) let
 * rounding errors grow several times over direct summation (tests/test_conv.c bounds
 * them).
 */
#include <string.h>

#include "internal.h"

static int tiles_across(const nn_wino_shape *s) { return (s->out_w + NN_WINO_OUT - 1) / NN_WINO_OUT; }

/* Where output tile t of a sample lies: its top-left output (oy, ox), and how many of its
 * rows and columns fall inside the output (the last row and column of tiles are cut). */
typedef struct tile_place {
    int oy, ox, rows, cols;
} tile_place;

static tile_place tile_place_of(const nn_wino_shape *s, int t)
{
    tile_place at = {t / tiles_across(s) * NN_WINO_OUT, t % tiles_across(s) * NN_WINO_OUT, 0, 0};
    at.rows = s->out_h - at.oy < NN_WINO_OUT ? s->out_h - at.oy : NN_WINO_OUT;
    at.cols = s->out_w - at.ox < NN_WINO_OUT ? s->out_w - at.ox : NN_WINO_OUT;
    return at;
}

/* Channels of the block starting at channel c of n: NN_WINO_LANES, or the rest. */
static int block_lanes(int n, int c) { return n - c < NN_WINO_LANES ? n - c : NN_WINO_LANES; }

/* 4 x 4 output tiles per sample. */
static int tiles_per_sample(const nn_wino_shape *s)
{
    return ((s->out_h + NN_WINO_OUT - 1) / NN_WINO_OUT) * tiles_across(s);
}

/* Floats from one of the 36 positions of a matrix of n floats to the next: n rounded up to
 * whole cache lines, an odd number of them, so that the 36 rows a transform reads or
 * writes at once fall in different L1 sets.  (At multiples of 4 KiB they share a set:
 * MNIST's dU positions 8 KiB apart took 12% of conv2's weight gradient to sum.) */
static ptrdiff_t pos_stride(size_t n)
{
    size_t lines = (n + 15) / 16;
    return (ptrdiff_t)(16 * (lines | 1));
}

static ptrdiff_t weights_stride(const nn_wino_shape *s)
{
    return pos_stride((size_t)s->in_ch * (size_t)s->out_ch);
}

size_t nn_wino_weights_floats(const nn_wino_shape *s)
{
    return (size_t)NN_WINO_POS * (size_t)weights_stride(s);
}

/* V (or dV) and M (or dM) of one sample, without the padding of pos_stride. */
static size_t sample_floats(const nn_wino_shape *s)
{
    return (size_t)NN_WINO_POS * (size_t)tiles_per_sample(s) * ((size_t)s->in_ch + (size_t)s->out_ch);
}

/* Where a chunk of T tiles keeps V (or dV), M (or dM), a channels-last sample and one
 * position's operand packed into the register tile's A panels. */
typedef struct chunk_tiles {
    int T;
    ptrdiff_t v_stride, m_stride; /* between positions */
    float *v, *m, *last, *packed;
} chunk_tiles;

enum { MR_MAX = 16 }; /* no ISA's register tile has more rows */

static size_t packed_floats(const nn_wino_shape *s, int T)
{
    size_t channels = (size_t)(s->in_ch > s->out_ch ? s->in_ch : s->out_ch);
    return ((size_t)T + MR_MAX) * (channels + MR_MAX);
}

static chunk_tiles chunk_tiles_in(const nn_wino_shape *s, int samples, float *scratch)
{
    chunk_tiles c = {.T = samples * tiles_per_sample(s)};
    c.v_stride = pos_stride((size_t)c.T * (size_t)s->in_ch);
    c.m_stride = pos_stride((size_t)c.T * (size_t)s->out_ch);
    c.v = scratch;
    c.m = c.v + NN_WINO_POS * c.v_stride;
    c.packed = c.m + NN_WINO_POS * c.m_stride;
    c.last = c.packed + packed_floats(s, c.T);
    return c;
}

/* A chunk's V and M should stay in the L2 next to U: 256k floats (1 MiB) at most, and
 * at most 8 samples (MNIST's conv2: 8, 72 tiles). */
enum { CHUNK_FLOATS = 1 << 18, CHUNK_MAX = 8 };

int nn_wino_chunk(const nn_wino_shape *s)
{
    size_t fit = CHUNK_FLOATS / sample_floats(s);
    return fit < 1 ? 1 : fit > CHUNK_MAX ? CHUNK_MAX : (int)fit;
}

/* One sample channels-last, with a row of zeros after it where it is read by tiles: x
 * (H*W x C, the zeros read as the padding), dy (P x OC, zeros past the edge) or y, dx. */
static size_t channels_last_floats(const nn_wino_shape *s)
{
    size_t x = ((size_t)s->height * (size_t)s->width + 1) * (size_t)s->in_ch;
    size_t y = ((size_t)s->out_h * (size_t)s->out_w + 1) * (size_t)s->out_ch;
    return x > y ? x : y;
}

size_t nn_wino_scratch_floats(const nn_wino_shape *s)
{
    chunk_tiles c = chunk_tiles_in(s, nn_wino_chunk(s), NULL);
    return (size_t)NN_WINO_POS * (size_t)(c.v_stride + c.m_stride) + packed_floats(s, c.T) +
           channels_last_floats(s);
}

/* The kernel transforms take their taps lanes contiguous, tap by tap: a block of up to
 * NN_WINO_LANES kernels, 9 floats each and out_stride apart in w, is one transpose away
 * (gathered float by float, U took 16.7 us for MNIST's conv2 against 11.5-12.9). */
void nn_wino_weights(const nn_gemm_kernels *k, int in_ch, int out_ch, const float *w,
                     ptrdiff_t out_stride, ptrdiff_t in_stride, float *u)
{
    ptrdiff_t u_stride = pos_stride((size_t)in_ch * (size_t)out_ch);
    float taps[9 * NN_WINO_LANES];
    for (int c = 0; c < in_ch; c++)
        for (int o = 0; o < out_ch; o += NN_WINO_LANES) {
            int n = block_lanes(out_ch, o);
            k->transpose(n, 9, w + c * in_stride + o * out_stride, out_stride, taps,
                         NN_WINO_LANES);
            k->wino_weights(n, taps, u + (ptrdiff_t)c * out_ch + o, u_stride);
        }
}

void nn_wino_weights_backward(const nn_gemm_kernels *k, const nn_wino_shape *s, int parts,
                              const float *du, ptrdiff_t part_stride, float *dw)
{
    int C = s->in_ch, OC = s->out_ch;
    /* Reading the parts dominates (MNIST's conv2: 8 x 295 KB); each of them a float moved,
     * at update.c's 8 flops apiece.  Each kernel's sum is one thread's, in part order. */
    int threads = nn_threads_for(8.0 * parts * (double)nn_wino_weights_floats(s));
#pragma omp parallel for num_threads(threads) if (threads > 1)
    for (int c = 0; c < C; c++)
        for (int o = 0; o < OC; o += NN_WINO_LANES) {
            int n = block_lanes(OC, o);
            float taps[9 * NN_WINO_LANES];
            k->wino_weights_backward(n, parts, du + (ptrdiff_t)c * OC + o, part_stride,
                                     weights_stride(s), taps);
            k->transpose(9, n, taps, NN_WINO_LANES, dw + ((ptrdiff_t)o * C + c) * 9,
                         9 * (ptrdiff_t)C);
        }
}

/* Rows of `channels` floats, in the channels-last sample xt, of the side x side tile at
 * (top, left) (which may reach outside: those read xt's zero row, at rows * cols, or
 * are NULL if zero_row is 0). */
static void tile_rows(float *xt, int rows, int cols, int channels, int top, int left, int side,
                      int zero_row, float **out)
{
    for (int r = 0; r < side; r++)
        for (int c = 0; c < side; c++) {
            int y = top + r, x = left + c;
            int inside = y >= 0 && y < rows && x >= 0 && x < cols;
            ptrdiff_t at = inside ? (ptrdiff_t)y * cols + x : (ptrdiff_t)rows * cols;
            out[r * side + c] = inside || zero_row ? xt + at * channels : NULL;
        }
}

/* Sample n of an NCHW tensor of `channels` x `plane` transposed channels-last into xt. */
static void to_channels_last(const nn_gemm_kernels *k, const float *x, int n, int channels,
                             int plane, float *xt)
{
    k->transpose(channels, plane, x + (size_t)n * (size_t)channels * (size_t)plane, plane, xt,
                 channels);
}

static void zero_row(float *xt, int channels, int plane)
{
    for (int c = 0; c < channels; c++)
        xt[(size_t)plane * (size_t)channels + (size_t)c] = 0.0f;
}

/* One tile's transform for n <= NN_WINO_LANES channels, from its rows of channels (at
 * src[i] + at) to the 36 positions dst[p*dst_stride + c]: the kernels' wino_input and
 * wino_output_backward. */
typedef void tile_transform(int n, const float *const *src, ptrdiff_t at, float *dst,
                            ptrdiff_t dst_stride);

/* Every tile of the chunk's samples of x [samples, channels, rows, cols] through fn: the
 * side x side window at (4 ti - top, 4 tj - left) of tile (ti, tj), from each sample
 * transposed channels-last into xt (outside it, zeros), into dst + tile * channels. */
static void transform_tiles(const nn_gemm_kernels *k, tile_transform *fn, const nn_wino_shape *s,
                            int samples, const float *x, int channels, int rows, int cols,
                            int side, int top, int left, float *dst, ptrdiff_t dst_stride,
                            float *xt)
{
    int tiles = tiles_per_sample(s);
    zero_row(xt, channels, rows * cols);
    for (int n = 0; n < samples; n++) {
        to_channels_last(k, x, n, channels, rows * cols, xt);
        for (int t = 0; t < tiles; t++) {
            tile_place at = tile_place_of(s, t);
            float *src[NN_WINO_POS];
            tile_rows(xt, rows, cols, channels, at.oy - top, at.ox - left, side, 1, src);
            float *dst_t = dst + ((ptrdiff_t)n * tiles + t) * channels;
            for (int c = 0; c < channels; c += NN_WINO_LANES)
                fn(block_lanes(channels, c), (const float *const *)src, c, dst_t + c, dst_stride);
        }
    }
}

/* V[p] [T x C] = (B^T d B)[p] for the chunk's samples x (T = samples * tiles). */
static void input_transform(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                            const float *x, float *v, ptrdiff_t v_stride, float *xt)
{
    transform_tiles(k, k->wino_input, s, samples, x, s->in_ch, s->height, s->width, NN_WINO_IN,
                    s->pad_h, s->pad_w, v, v_stride, xt);
}

/* The width of gemm_tile's column blocks for N columns: N in equal blocks of whole
 * vectors at most NR wide (64 as 32 + 32, not 48 + 16, whose narrow tile would wait on
 * its broadcasts: 4% slower for conv2). */
static int column_block(const nn_gemm_kernels *k, int N)
{
    int blocks = (N + k->nr - 1) / k->nr;
    return ((N + blocks - 1) / blocks + k->vl - 1) / k->vl * k->vl;
}

/* c [M x N] = (accumulate ? c : 0) + a . b [K x N], whole K, a(i, k) = a[i*a_rs + k*a_ks]:
 * by the ISA's small_gemm, else with a packed into gemm_tile's panels (read in place,
 * its eight rows' addresses outnumbered the registers and spilled) and b read in place,
 * in column_block's blocks. */
static void product(const nn_gemm_kernels *k, int M, int N, int K, const float *a,
                    ptrdiff_t a_rs, ptrdiff_t a_ks, const float *b, float *c, int accumulate,
                    float *packed)
{
    if (k->small_gemm) {
        k->small_gemm(M, N, K, a, a_rs, a_ks, b, N, c, N, accumulate);
        return;
    }
    int width = column_block(k, N);
    k->pack_a(M, K, a, a_rs, a_ks, packed);
    for (int j = 0; j < N; j += width)
        for (int i = 0; i < M; i += k->mr)
            k->gemm_tile(M - i < k->mr ? M - i : k->mr, N - j < width ? N - j : width, K,
                         packed + (size_t)i * (size_t)K, 0, b + j, N, c + (size_t)i * (size_t)N + j,
                         N, 1.0f, accumulate ? 1.0f : 0.0f, NULL);
}

/* c[p] [T x N] = a[p] [T x K] . b[p] [K x N] for the 36 positions (as, bs, cs floats
 * apart). */
static void products(const nn_gemm_kernels *k, int T, int K, int N, const float *a,
                     ptrdiff_t as, const float *b, ptrdiff_t bs, float *c, ptrdiff_t cs,
                     float *packed)
{
    for (int p = 0; p < NN_WINO_POS; p++)
        product(k, T, N, K, a + p * as, K, 1, b + p * bs, c + p * cs, 0, packed);
}

/* y [samples, OC, out_h, out_w] = A^T M A + bias, tile by tile into the channels-last
 * yt [P x OC], then transposed. */
static void output_transform(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                             const float *m, ptrdiff_t m_stride, const float *bias, float *y,
                             float *yt)
{
    int tiles = tiles_per_sample(s), OC = s->out_ch, P = s->out_h * s->out_w;
    for (int n = 0; n < samples; n++) {
        for (int t = 0; t < tiles; t++) {
            tile_place at = tile_place_of(s, t);
            const float *m_t = m + ((ptrdiff_t)n * tiles + t) * OC;
            float *yt_t = yt + ((ptrdiff_t)at.oy * s->out_w + at.ox) * OC;
            for (int o = 0; o < OC; o += NN_WINO_LANES)
                k->wino_output(block_lanes(OC, o), m_t + o, m_stride, bias ? bias + o : NULL,
                               at.rows, at.cols, yt_t + o, (ptrdiff_t)s->out_w * OC, OC);
        }
        k->transpose(P, OC, yt, OC, y + (size_t)n * (size_t)OC * (size_t)P, P);
    }
}

void nn_wino_convolve(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                      const float *x, const float *u, const float *bias, float *y, float *scratch)
{
    chunk_tiles c = chunk_tiles_in(s, samples, scratch);
    input_transform(k, s, samples, x, c.v, c.v_stride, c.last);
    products(k, c.T, s->in_ch, s->out_ch, c.v, c.v_stride, u, weights_stride(s), c.m, c.m_stride,
             c.packed);
    output_transform(k, s, samples, c.m, c.m_stride, bias, y, c.last);
}

/* y [samples, OC, PH, PW] = the 2 x 2 max pooling (stride 2) of act(A^T M A + bias), tile
 * by tile into the channels-last yt [PH*PW x OC], then transposed; the winners, unless
 * NULL, stay channels-last (nn_wino_convolve_pool).  A tile's 4 x 4 outputs hold whole
 * windows (tiles start at multiples of 4). */
static void output_pool_transform(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                                  const float *m, ptrdiff_t m_stride, const float *bias, int relu,
                                  float *y, float *winners, float *yt)
{
    int tiles = tiles_per_sample(s), OC = s->out_ch, P = s->out_h * s->out_w;
    int PH = s->out_h / 2, PW = s->out_w / 2;
    for (int n = 0; n < samples; n++) {
        size_t at = (size_t)n * (size_t)OC * (size_t)PH * (size_t)PW;
        for (int t = 0; t < tiles; t++) {
            tile_place tp = tile_place_of(s, t);
            ptrdiff_t first = ((ptrdiff_t)(tp.oy / 2) * PW + tp.ox / 2) * OC;
            const float *m_t = m + ((ptrdiff_t)n * tiles + t) * OC;
            for (int o = 0; o < OC; o += NN_WINO_LANES) {
                nn_wino_pool pool = {
                    .rows = tp.rows, .cols = tp.cols,
                    .y = yt + first + o, .winner = winners ? winners + at + first + o : NULL,
                    .y_rs = (ptrdiff_t)PW * OC, .y_cs = OC,
                    .at = (float)(o * P + tp.oy * s->out_w + tp.ox), .lane_step = (float)P,
                    .row_step = (float)s->out_w};
                k->wino_output_pool(block_lanes(OC, o), m_t + o, m_stride,
                                    bias ? bias + o : NULL, relu, &pool);
            }
        }
        k->transpose(PH * PW, OC, yt, OC, y + at, PH * PW);
    }
}

void nn_wino_convolve_pool(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                           const float *x, const float *u, const float *bias, int relu, float *y,
                           float *winners, float *scratch)
{
    chunk_tiles c = chunk_tiles_in(s, samples, scratch);
    input_transform(k, s, samples, x, c.v, c.v_stride, c.last);
    products(k, c.T, s->in_ch, s->out_ch, c.v, c.v_stride, u, weights_stride(s), c.m, c.m_stride,
             c.packed);
    output_pool_transform(k, s, samples, c.m, c.m_stride, bias, relu, y, winners, c.last);
}

/* dM[p] [T x OC] = (A dy A^T)[p] for the chunk's dy. */
static void output_gradient(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                            const float *dy, float *m, ptrdiff_t m_stride, float *dyt)
{
    transform_tiles(k, k->wino_output_backward, s, samples, dy, s->out_ch, s->out_h, s->out_w,
                    NN_WINO_OUT, 0, 0, m, m_stride, dyt);
}

/* dx [samples, C, H, W] = the sum over tiles of B dV B^T, added in tile order into the
 * zeroed channels-last dxt [H*W x C] (the padding's share dropped), then transposed. */
static void input_gradient(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                           const float *dv, ptrdiff_t v_stride, float *dx, float *dxt)
{
    int tiles = tiles_per_sample(s), C = s->in_ch, plane = s->height * s->width;
    for (int n = 0; n < samples; n++) {
        for (size_t i = 0; i < (size_t)plane * (size_t)C; i++)
            dxt[i] = 0.0f;
        for (int t = 0; t < tiles; t++) {
            tile_place at = tile_place_of(s, t);
            float *dst[NN_WINO_POS];
            tile_rows(dxt, s->height, s->width, C, at.oy - s->pad_h, at.ox - s->pad_w,
                      NN_WINO_IN, 0, dst);
            const float *v_t = dv + ((ptrdiff_t)n * tiles + t) * C;
            for (int c = 0; c < C; c += NN_WINO_LANES)
                k->wino_input_backward(block_lanes(C, c), v_t + c, v_stride, dst, c);
        }
        k->transpose(plane, C, dxt, C, dx + (size_t)n * (size_t)C * (size_t)plane, plane);
    }
}

/* The backward's products at position p: with du, du[p] [C x OC] = (accumulate ? du[p] :
 * 0) + V[p]^T . dM[p] (K = T, the chunk's tiles); then with ut, dV[p] [T x C] = dM[p] .
 * U^T[p], over V[p], which the first has used.  Position by position, dM[p] is still in
 * L1 for the second (the two products of MNIST's conv2 took 3-6% longer one after the
 * other). */
static void backward_products(const nn_gemm_kernels *k, const nn_wino_shape *s,
                              const chunk_tiles *c, int p, float *du, int accumulate,
                              const float *ut)
{
    const float *m = c->m + p * c->m_stride;
    float *v = c->v + p * c->v_stride;
    if (du)
        product(k, s->in_ch, s->out_ch, c->T, v, 1, s->in_ch, m, du + p * weights_stride(s),
                accumulate, c->packed);
    if (ut)
        product(k, c->T, s->in_ch, s->out_ch, m, s->out_ch, 1, ut + p * weights_stride(s), v, 0,
                c->packed);
}

/* dM[p] [T x OC] for the chunk from a 2 x 2 max pooling's gradient (g->pooled and relu_y,
 * each sample transposed channels-last into two [PH*PW x OC] blocks of last first, and
 * the winners, channels-last already): the convolution's output gradient is never
 * written. */
static void pooled_output_gradient(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                                   const nn_wino_dy *g, float *m, ptrdiff_t m_stride,
                                   float *last)
{
    int tiles = tiles_per_sample(s), OC = s->out_ch, P = s->out_h * s->out_w;
    int PH = s->out_h / 2, PW = s->out_w / 2, PP = PH * PW;
    float *dyt = last, *rt = dyt + (size_t)PP * (size_t)OC;
    for (int n = 0; n < samples; n++) {
        size_t at = (size_t)n * (size_t)OC * (size_t)PP;
        k->transpose(OC, PP, g->pooled + at, PP, dyt, OC);
        if (g->relu_y)
            k->transpose(OC, PP, g->relu_y + at, PP, rt, OC);
        for (int t = 0; t < tiles; t++) {
            tile_place tp = tile_place_of(s, t);
            ptrdiff_t first = ((ptrdiff_t)(tp.oy / 2) * PW + tp.ox / 2) * OC;
            float *m_t = m + ((ptrdiff_t)n * tiles + t) * OC;
            for (int o = 0; o < OC; o += NN_WINO_LANES) {
                nn_wino_unpool unpool = {
                    .rows = tp.rows, .cols = tp.cols,
                    .dy = dyt + first + o, .winner = g->winners + at + first + o,
                    .relu_y = g->relu_y ? rt + first + o : NULL,
                    .rs = (ptrdiff_t)PW * OC, .cs = OC,
                    .at = (float)(o * P + tp.oy * s->out_w + tp.ox), .lane_step = (float)P,
                    .row_step = (float)s->out_w};
                k->wino_output_pool_backward(block_lanes(OC, o), &unpool, m_t + o, m_stride);
            }
        }
    }
}

/* sums[o] (doubles at byte o * 8: the workspace is only float-aligned) = (accumulate ?
 * sums[o] : 0) + the chunk's dM[7][t][o] over its tiles t in order: position (1, 1) of A
 * dy A^T is the sum of the tile's 4 x 4 dy, so this sums dy over the outputs. */
static void add_bias_gradient(const nn_wino_shape *s, const chunk_tiles *c, int accumulate,
                              unsigned char *sums)
{
    enum { BLOCK = 64 };
    const float *m7 = c->m + 7 * c->m_stride;
    for (int o0 = 0; o0 < s->out_ch; o0 += BLOCK) {
        int n = s->out_ch - o0 < BLOCK ? s->out_ch - o0 : BLOCK;
        double acc[BLOCK] = {0};
        if (accumulate)
            memcpy(acc, sums + (size_t)o0 * sizeof(double), (size_t)n * sizeof(double));
        for (int t = 0; t < c->T; t++)
            for (int o = 0; o < n; o++)
                acc[o] += m7[(size_t)t * (size_t)s->out_ch + (size_t)(o0 + o)];
        memcpy(sums + (size_t)o0 * sizeof(double), acc, (size_t)n * sizeof(double));
    }
}

void nn_wino_backward(const nn_gemm_kernels *k, const nn_wino_shape *s, int samples,
                      const float *x, const nn_wino_dy *g, const float *ut, float *dx, float *du,
                      void *db_sums, int accumulate, float *scratch)
{
    chunk_tiles c = chunk_tiles_in(s, samples, scratch);
    if (g->dy)
        output_gradient(k, s, samples, g->dy, c.m, c.m_stride, c.last);
    else
        pooled_output_gradient(k, s, samples, g, c.m, c.m_stride, c.last);
    if (db_sums)
        add_bias_gradient(s, &c, accumulate, db_sums);
    if (du)
        input_transform(k, s, samples, x, c.v, c.v_stride, c.last);
    for (int p = 0; p < NN_WINO_POS; p++)
        backward_products(k, s, &c, p, du, accumulate, dx ? ut : NULL);
    if (dx)
        input_gradient(k, s, samples, c.v, c.v_stride, dx, c.last);
}
