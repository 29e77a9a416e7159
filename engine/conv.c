/*
 * engine/conv.c — 2-D convolution by im2col + GEMM, NCHW, batch first; 3x3 kernels at
 * stride 1 with enough channels go to Winograd's F(4x4, 3x3) instead (winograd.c, with
 * the same groups, workspace and thread rules; see use_winograd).
 *
 * Per sample n, with K = C*KH*KW rows and P = OH*OW columns in the column matrix:
 *   forward:          y_n  [OC x P] = W [OC x K] . col(x_n) [K x P]  (+ b per row, act)
 *   backward-data:    dcol [K x P]  = W^T . dy_n [OC x P],  then dx_n = col2im(dcol)
 *   backward-weights: dW  [OC x K] += dy_n . col(x_n)^T,  db [OC] += sum_p dy_n
 *
 * Threading: the batch is split into G = min(batch, NN_CONV2D_GROUPS) fixed groups of
 * consecutive samples (group i holds samples [batch*i/G, batch*(i+1)/G)), and up to G
 * threads take whole groups; each group has its own column matrix in the workspace, and
 * the per-sample GEMMs inside a group run on one thread (nn_threads_for answers 1 inside
 * a parallel region).  With one group or one thread OpenMP is never entered and each
 * GEMM threads itself, as before.  Forward and backward-data are per sample, so any
 * split gives the same bits.  The weight gradient sums each group's samples in order
 * (beta 0, then 1) into that group's partial dW, then dw = partial 0 + partial 1 + ...
 * in group order; G does not depend on the thread count, so the bits do not either.
 * When K < OC (a first layer: conv1 has K = 9, OC = 32) the partials are dW^T [K x OC]
 * = col . dy_n^T: the GEMM's wide dimension is then OC, not K, which fills the
 * microkernel's vectors (9 of 48 lanes the other way round); the final sum transposes.
 * The bias gradient is summed the same way: per group (in double, sample by sample), then
 * the groups in order.
 *
 * Workspace: G column matrices (K rows of P floats, col_ld apart) and G partial dW and
 * db (OC*K + OC floats each), with G = NN_CONV2D_GROUPS whatever the batch, so a layer
 * can size it once, for any batch and any thread count.
 *
 * Measured (2 cores, AVX-512, Release, batch 64, best of 30; ms for 1 -> 2 threads):
 *   before (samples in order, each GEMM threaded):
 *   64x1x28x28 -> 32 3x3:    forward 0.57 -> 0.58, backward-data 0.43 -> 0.42,
 *                            backward-weights 1.31 -> 1.35
 *   64x32x13x13 -> 64 3x3:   forward 3.97 -> 3.53, backward-data 3.30 -> 3.19,
 *                            backward-weights 3.84 -> 3.26
 *   after (batch split, 8 groups):
 *   64x1x28x28 -> 32 3x3:    forward 0.60 -> 0.32, backward-data 0.40 -> 0.21,
 *                            backward-weights 1.38 -> 1.10
 *   64x32x13x13 -> 64 3x3:   forward 3.86 -> 1.92, backward-data 3.30 -> 1.64,
 *                            backward-weights 3.83 -> 2.14
 * MNIST cnn training at 2 threads: 17.5 -> 12.4 s/epoch.
 *   then im2col/col2im without a library call per row, and a vectorizable bias sum:
 *   64x1x28x28 -> 32 3x3:    forward 0.69 -> 0.35, backward-weights 0.82 -> 0.52
 *   64x32x13x13 -> 64 3x3:   forward 3.15 -> 1.58, backward-data 2.92 -> 1.53,
 *                            backward-weights 2.91 -> 1.58
 *   then the epilogue's row bias, im2col's masked block copy (A/B, 2 threads: conv2
 *   forward 1.37 -> 1.15, backward-weights 1.36 -> 1.16) and, for conv1, the transposed
 *   weight gradient with the bias summed per group (backward-weights 0.48 -> 0.28).
 *   then the row bias added by the ISA's epilogue kernel in the same pass as the
 *   activation (it was a scalar loop in the driver): conv1 forward 0.60 -> 0.46 at 1
 *   thread, 0.33 -> 0.27 at 2 (conv2: within 2%).
 *   bench/RESULTS.md has the comparison with oneDNN's convolution primitives.
 *
 * Tried and measured slower, so not used: several samples per GEMM (the chunk's column
 * matrices side by side, [K x S*P], as many as fit half the L2: S = 8 for conv1, 6 for
 * conv2).  The wider GEMM fills the last 48-column panel better (conv2's P = 121 leaves
 * it half empty) and packs W once per chunk, but the output block must then be copied
 * into NCHW (and dy gathered out of it), and the larger B panel leaves L1.  Batch 64,
 * best of 30, ms at 1 thread, per sample -> chunked: conv1 backward-data 0.45 -> 0.71,
 * backward-weights 0.88 -> 1.25 (conv1 is store-bound: K = 9); conv2 forward 3.42 ->
 * 3.54, backward-data 3.18 -> 3.26, backward-weights 3.14 -> 3.53.  Also measured and
 * not kept (bench/RESULTS.md): one block-copy call per tap for all channels (no gain;
 * conv1 slower), conv2's weight gradient transposed (slower).
 */
#include <omp.h>
#include <string.h>

#include "internal.h"

/* The sizes every step needs, derived once per call from the descriptor. */
typedef struct conv_geom {
    nn_conv2d_desc d;
    int oh, ow;
    int K, P;               /* rows and columns of the column matrix */
    size_t in_floats;       /* C*H*W: one sample of x */
    size_t out_floats;      /* OC*P: one sample of y */
    const nn_gemm_kernels *k; /* the ISA's block copies (conv_geom_for_compute) */
} conv_geom;

/* ---- Descriptor checks -------------------------------------------------------- */

static nn_status check_positive(const char *fn, const char *field, int value)
{
    if (value > 0)
        return NN_OK;
    return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %s = %d, must be > 0", fn, field, value);
}

/* Output extent along one axis, or -1 when the dilated kernel does not fit. */
static int out_extent(int in, int pad, int kernel, int stride, int dilation)
{
    long long span = (long long)dilation * (kernel - 1) + 1;
    long long padded = (long long)in + 2LL * pad;
    return padded < span ? -1 : (int)((padded - span) / stride + 1);
}

static nn_status check_sizes(const char *fn, const nn_conv2d_desc *c)
{
    const char *names[] = {"batch", "in_channels", "height", "width", "out_channels",
                           "kernel_h", "kernel_w", "stride_h", "stride_w",
                           "dilation_h", "dilation_w"};
    const int values[] = {c->batch, c->in_channels, c->height, c->width, c->out_channels,
                          c->kernel_h, c->kernel_w, c->stride_h, c->stride_w,
                          c->dilation_h, c->dilation_w};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        nn_status status = check_positive(fn, names[i], values[i]);
        if (status != NN_OK)
            return status;
    }
    if (c->pad_h < 0 || c->pad_w < 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %s = %d, must be >= 0", fn,
                       c->pad_h < 0 ? "pad_h" : "pad_w", c->pad_h < 0 ? c->pad_h : c->pad_w);
    return NN_OK;
}

/* The dilated kernel must fit in the padded input along each axis. */
static nn_status check_fit(const char *fn, const char *axis, int in, int pad, int kernel,
                           int dilation)
{
    if (out_extent(in, pad, kernel, 1, dilation) > 0)
        return NN_OK;
    return nn_fail(NN_ERR_INVALID_ARGUMENT,
                   "%s: kernel_%s = %d (dilation_%s = %d, span %lld) is larger than the "
                   "padded input (%s %d + 2 * pad_%s %d = %lld)",
                   fn, axis, kernel, axis, dilation, (long long)dilation * (kernel - 1) + 1,
                   axis[0] == 'h' ? "height" : "width", in, axis, pad, (long long)in + 2LL * pad);
}

/* Checks the descriptor and fills *g; the products must fit the GEMM's int sizes. */
static nn_status conv_geom_init(const char *fn, const nn_conv2d_desc *c, conv_geom *g)
{
    if (!c)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: descriptor is NULL", fn);
    nn_status status = check_sizes(fn, c);
    if (status == NN_OK)
        status = check_fit(fn, "h", c->height, c->pad_h, c->kernel_h, c->dilation_h);
    if (status == NN_OK)
        status = check_fit(fn, "w", c->width, c->pad_w, c->kernel_w, c->dilation_w);
    if (status != NN_OK)
        return status;
    g->d = *c;
    g->oh = out_extent(c->height, c->pad_h, c->kernel_h, c->stride_h, c->dilation_h);
    g->ow = out_extent(c->width, c->pad_w, c->kernel_w, c->stride_w, c->dilation_w);
    long long K = (long long)c->in_channels * c->kernel_h * c->kernel_w;
    long long P = (long long)g->oh * g->ow;
    long long big = (long long)c->in_channels * c->height * c->width;
    if (K > 0x7fffffff || P > 0x7fffffff || big > 0x7fffffff)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "%s: too large (C*KH*KW = %lld, OH*OW = %lld, C*H*W = %lld; "
                       "each must fit an int)", fn, K, P, big);
    g->K = (int)K;
    g->P = (int)P;
    g->in_floats = (size_t)big;
    g->out_floats = (size_t)c->out_channels * (size_t)P;
    return NN_OK;
}

/* conv_geom_init, and the kernels of the ISA in use for im2col and col2im. */
static nn_status conv_geom_for_compute(const char *fn, const nn_conv2d_desc *c, conv_geom *g)
{
    nn_status status = conv_geom_init(fn, c, g);
    const nn_gemm_plan *plan;
    if (status == NN_OK && (status = nn_gemm_plan_get(&plan)) == NN_OK)
        g->k = plan->k;
    return status;
}

static nn_status check_pointers(const char *fn, const char *const names[],
                                const void *const ptrs[], int count)
{
    for (int i = 0; i < count; i++)
        if (!ptrs[i])
            return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, names[i]);
    return NN_OK;
}

nn_status nn_conv2d_output_size(const nn_conv2d_desc *c, int *out_h, int *out_w)
{
    conv_geom g;
    nn_status status = conv_geom_init("nn_conv2d_output_size", c, &g);
    if (status != NN_OK)
        return status;
    if (out_h)
        *out_h = g.oh;
    if (out_w)
        *out_w = g.ow;
    return NN_OK;
}

/* Whether the weight gradient may go to the ISA's conv1ch_3x3_weights kernels: one input
 * channel, 3x3, stride 1, no padding (MNIST's conv1, whose im2col GEMM has 9 rows and
 * whose pooling's backward wrote its whole output gradient).  The workspace is sized by
 * the shape alone; single_channel_weights also asks the ISA. */
static int single_channel_shape(const conv_geom *g)
{
    const nn_conv2d_desc *d = &g->d;
    return d->in_channels == 1 && d->kernel_h == 3 && d->kernel_w == 3 && d->stride_h == 1 &&
           d->stride_w == 1 && d->dilation_h == 1 && d->dilation_w == 1 && d->pad_h == 0 &&
           d->pad_w == 0 && g->oh >= 2 && g->ow >= 2;
}

static int single_channel_weights(const conv_geom *g)
{
    return single_channel_shape(g) && g->k->conv1ch_3x3_weights;
}

/* One group's partial gradients: dW (or dW^T) [OC*K], then db [OC]; then, for
 * single_channel_shape, the kernels' accumulators [OC x NN_CONV1CH_ACC]. */
static size_t partial_floats(const conv_geom *g)
{
    size_t oc = (size_t)g->d.out_channels;
    return oc * ((size_t)g->K + 1) + (single_channel_shape(g) ? oc * NN_CONV1CH_ACC : 0);
}

/* The column matrix's row stride: P floats rounded up to whole cache lines, an odd number
 * of them (rows an even number of lines apart would crowd into half the L1 sets), so the
 * forward's GEMM reads it in place, unpacked (nn_sgemm_b_in_place).  MNIST's conv2: P =
 * 121, 144 floats.  Measured against packing it (rows P apart), conv2 forward at batch
 * 64, A/B three times: 2.34-2.49 -> 2.18-2.36 ms at 1 thread, 1.23-1.29 -> 1.11-1.20 at 2
 * (an earlier try with rows 128 floats apart gained about half of that). */
static int col_ld(const conv_geom *g)
{
    int lines = (g->P + 15) / 16;
    return 16 * (lines % 2 ? lines : lines + 1);
}

/* ---- Winograd ----------------------------------------------------------------- */

/* A 3x3 kernel at stride 1 with at least WINO_MIN_CHANNELS channels on either side runs
 * all three passes by Winograd's F(4x4, 3x3) (winograd.c): 4 multiplies an output
 * instead of 9.  With fewer, its GEMMs are too thin and its transforms fill half their
 * lanes.  Measured (batch 64, padding 1, one thread, best of 30, us forward / data /
 * weights, im2col -> Winograd): 8 -> 8 channels 16x16: 359 / 321 / 503 -> 529 / 817 /
 * 492; 8 -> 32 at 28x28: 2130 / 2261 / 2656 -> 2256 / 4229 / 2204; 16 -> 16 at 16x16:
 * 990 / 903 / 1183 -> 574 / 646 / 570; 32 -> 8 at 28x28: 4453 / 4897 / 5992 -> 3135 /
 * 3145 / 3152; 64 -> 64 at 8x8: 3168 / 2690 / 3284 -> 985 / 1022 / 1188. */
enum { WINO_MIN_CHANNELS = 16 };

static int use_winograd(const conv_geom *g)
{
    const nn_conv2d_desc *d = &g->d;
    return d->kernel_h == 3 && d->kernel_w == 3 && d->stride_h == 1 && d->stride_w == 1 &&
           d->dilation_h == 1 && d->dilation_w == 1 && d->in_channels >= WINO_MIN_CHANNELS &&
           d->out_channels >= WINO_MIN_CHANNELS;
}

/* A group's column matrix: none with Winograd, which runs every pass. */
static size_t col_floats(const conv_geom *g)
{
    return use_winograd(g) ? 0 : (size_t)g->K * (size_t)col_ld(g);
}

/* ---- Winograd's workspace ------------------------------------------------------ */

static nn_wino_shape wino_forward_shape(const conv_geom *g)
{
    const nn_conv2d_desc *d = &g->d;
    return (nn_wino_shape){d->in_channels, d->out_channels, d->height, d->width,
                           d->pad_h, d->pad_w, g->oh, g->ow};
}

static size_t round_up_16(size_t n) { return (n + 15) / 16 * 16; }

static int wino_chunk(const conv_geom *g)
{
    nn_wino_shape s = wino_forward_shape(g);
    return nn_wino_chunk(&s);
}

/* OC doubles, in floats. */
static size_t bias_sums_floats(const conv_geom *g)
{
    return round_up_16((size_t)g->d.out_channels * (sizeof(double) / sizeof(float)));
}

/* One group's Winograd region: a thread's U (or backward-data's U^T: thread t keeps its
 * copy in group t's region), the group's partial weight gradient dU, its bias-gradient
 * sums, then a chunk's tiles. */
static size_t wino_group_floats(const conv_geom *g)
{
    nn_wino_shape s = wino_forward_shape(g);
    return 2 * round_up_16(nn_wino_weights_floats(&s)) + bias_sums_floats(g) +
           round_up_16(nn_wino_scratch_floats(&s));
}

/* Workspace layout: the G column matrices and partial gradients; with Winograd, the G
 * groups' regions; with a fused pooling, its G regions (after plain_floats). */
static size_t im2col_floats(const conv_geom *g)
{
    return round_up_16(NN_CONV2D_GROUPS * (col_floats(g) + partial_floats(g)));
}

static size_t plain_floats(const conv_geom *g)
{
    if (!use_winograd(g))
        return im2col_floats(g);
    return im2col_floats(g) + NN_CONV2D_GROUPS * wino_group_floats(g);
}

/* Group `group`'s region, starting with thread `group`'s U; then the group's partial dU,
 * bias sums and tiles. */
static float *wino_u_in(const conv_geom *g, float *workspace, int group)
{
    return workspace + im2col_floats(g) + (size_t)group * wino_group_floats(g);
}

static float *wino_du_in(const conv_geom *g, float *workspace, int group)
{
    nn_wino_shape f = wino_forward_shape(g);
    return wino_u_in(g, workspace, group) + round_up_16(nn_wino_weights_floats(&f));
}

static float *wino_db_in(const conv_geom *g, float *workspace, int group)
{
    nn_wino_shape f = wino_forward_shape(g);
    return wino_du_in(g, workspace, group) + round_up_16(nn_wino_weights_floats(&f));
}

static float *wino_tiles_in(const conv_geom *g, float *workspace, int group)
{
    return wino_db_in(g, workspace, group) + bias_sums_floats(g);
}

/* Which transformed kernels a pass's Winograd products take: none (no Winograd, or the
 * weight gradient alone), U [36][C x OC] (forward) or U^T [36][OC x C] (backward-data). */
typedef enum wino_weights { WINO_NONE, WINO_U, WINO_U_T } wino_weights;

/* Thread `thread`'s copy of U or U^T from w [OC, C, 3, 3], in its region; NULL for
 * WINO_NONE.  Every thread transforms the kernels itself, at the same time: one copy for
 * all, made before the threads start, took as long and left the other threads reading
 * it from its core's cache (MNIST's conv2 at 2 threads: see bench/RESULTS.md). */
static const float *wino_thread_weights(const conv_geom *g, wino_weights which, const float *w,
                                        float *workspace, int thread)
{
    if (which == WINO_NONE)
        return NULL;
    float *u = wino_u_in(g, workspace, thread);
    ptrdiff_t out_stride = 9 * (ptrdiff_t)g->d.in_channels, in_stride = 9;
    if (which == WINO_U)
        nn_wino_weights(g->k, g->d.in_channels, g->d.out_channels, w, out_stride, in_stride, u);
    else
        nn_wino_weights(g->k, g->d.out_channels, g->d.in_channels, w, in_stride, out_stride, u);
    return u;
}

size_t nn_conv2d_workspace_floats(const nn_conv2d_desc *c)
{
    conv_geom g;
    if (conv_geom_init("nn_conv2d_workspace_floats", c, &g) != NN_OK)
        return 0;
    return plain_floats(&g);
}

/* ---- im2col / col2im ---------------------------------------------------------- */

/* Outputs o in [*lo, *hi) read input o*stride - pad + offset inside [0, in). */
static void valid_range(int in, int out, int pad, int offset, int stride, int *lo, int *hi)
{
    int first = pad - offset; /* smallest o*stride that lands at input 0 */
    int l = first > 0 ? (first + stride - 1) / stride : 0;
    int last = in - 1 + pad - offset; /* largest o*stride inside */
    int h = last < 0 ? 0 : last / stride + 1;
    *lo = l < out ? l : out;
    *hi = h < out ? h : out;
    if (*hi < *lo)
        *hi = *lo;
}

/* Where one kernel tap (ki, kj) reads inside the input: output rows [oh_lo, oh_hi) and
 * columns [ow_lo, ow_hi) land in bounds; the rest read padding.  The same for every
 * channel, so im2col and col2im work it out once per tap. */
typedef struct tap_window {
    int oh_lo, oh_hi, ow_lo, ow_hi;
    ptrdiff_t shift; /* input offset of output (0, 0): (ki*dil_h - pad_h)*W + kj*dil_w - pad_w */
} tap_window;

static tap_window tap_window_of(const conv_geom *g, int ki, int kj)
{
    const nn_conv2d_desc *d = &g->d;
    tap_window t;
    int off_h = ki * d->dilation_h, off_w = kj * d->dilation_w;
    valid_range(d->height, g->oh, d->pad_h, off_h, d->stride_h, &t.oh_lo, &t.oh_hi);
    valid_range(d->width, g->ow, d->pad_w, off_w, d->stride_w, &t.ow_lo, &t.ow_hi);
    t.shift = (ptrdiff_t)(off_h - d->pad_h) * d->width + off_w - d->pad_w;
    return t;
}

/* One row of the column matrix (a channel x_ch [H, W] under tap t): OH x OW floats,
 * zero where the tap reads padding.  With stride_w 1 the in-bounds part is a block of
 * short rows (11 floats for MNIST's conv2), copied by the ISA's masked block copy. */
static void im2col_row(const conv_geom *g, const tap_window *t, const float *x_ch, float *row)
{
    const nn_conv2d_desc *d = &g->d;
    int ow = g->ow, rows = t->oh_hi - t->oh_lo, cols = t->ow_hi - t->ow_lo;
    ptrdiff_t in_rs = (ptrdiff_t)d->stride_h * d->width;
    const float *in = x_ch + t->oh_lo * in_rs + t->shift;
    float *out = row + (size_t)t->oh_lo * (size_t)ow;
    memset(row, 0, (size_t)t->oh_lo * (size_t)ow * sizeof *row);
    memset(out + (size_t)rows * (size_t)ow, 0,
           (size_t)(g->oh - t->oh_hi) * (size_t)ow * sizeof *row);
    for (int r = 0; r < rows && (t->ow_lo > 0 || t->ow_hi < ow); r++) {
        float *o = out + (size_t)r * (size_t)ow;
        for (int i = 0; i < t->ow_lo; i++)
            o[i] = 0.0f;
        for (int i = t->ow_hi; i < ow; i++)
            o[i] = 0.0f;
    }
    if (d->stride_w == 1) {
        g->k->copy_block(rows, cols, in + t->ow_lo, in_rs, out + t->ow_lo, ow);
        return;
    }
    for (int r = 0; r < rows; r++, in += in_rs, out += ow)
        for (int i = t->ow_lo; i < t->ow_hi; i++)
            out[i] = in[(ptrdiff_t)i * d->stride_w];
}

/* col [K x P] (rows ld floats apart) from one sample x_n [C, H, W]; padding reads as zero. */
static void im2col(const conv_geom *g, const float *x_n, float *col, int ld)
{
    const nn_conv2d_desc *d = &g->d;
    size_t plane = (size_t)d->height * (size_t)d->width, taps = (size_t)d->kernel_h * d->kernel_w;
    for (int ki = 0; ki < d->kernel_h; ki++)
        for (int kj = 0; kj < d->kernel_w; kj++) {
            tap_window t = tap_window_of(g, ki, kj);
            float *row = col + ((size_t)ki * d->kernel_w + kj) * (size_t)ld;
            for (int ch = 0; ch < d->in_channels; ch++, row += taps * (size_t)ld)
                im2col_row(g, &t, x_n + (size_t)ch * plane, row);
        }
}

/* Adds one row of the column matrix back into its input channel dx_ch [H, W] (the taps
 * that read padding are dropped): col2im's way for strides_w > 1. */
static void col2im_row(const conv_geom *g, const tap_window *t, const float *row, float *dx_ch)
{
    const nn_conv2d_desc *d = &g->d;
    int ow = g->ow, rows = t->oh_hi - t->oh_lo, stride = d->stride_w;
    ptrdiff_t out_rs = (ptrdiff_t)d->stride_h * d->width;
    float *out = dx_ch + t->oh_lo * out_rs + t->shift;
    const float *in = row + (size_t)t->oh_lo * (size_t)ow;
    for (int r = 0; r < rows; r++, in += ow, out += out_rs)
        for (int i = t->ow_lo; i < t->ow_hi; i++)
            out[(ptrdiff_t)i * stride] += in[i];
}

/* col2im for stride_w 1, input row y of every channel at a time: the terms that reach a
 * dx row are column-matrix row segments shifted by the tap's column, one per tap (ki,
 * kj) whose output row oh = (y + pad_h - ki*dil_h) / stride_h is whole and in range,
 * and they are the same for every channel but for where the channel's rows start.  The
 * ISA's sum_shifted adds them in registers, in tap order from 0 (the bits of zeroing dx
 * and adding the taps in order), and stores each row once.  Against that scatter (plain
 * loops: neighbouring taps add into the same values one float apart, and a masked store
 * cannot forward to the next tap's load, so a vector scatter was slower still), conv2's
 * backward-data at batch 64: 2.87-2.92 -> 2.34-2.39 ms at 1 thread, 1.42-1.50 ->
 * 1.19-1.24 ms at 2.  Terms worked out per channel row instead of once per y, and a
 * kernel call per channel, measured half that gain. */
enum { COL2IM_TERMS = NN_SUM_SHIFTED_TERMS }; /* per call; larger kernels take several */

/* The terms of input row y's col2im, as sum_shifted takes them, for channel 0 (channel
 * ch's are C*KH*KW*P floats later), from the taps [*next_tap, KH*KW) in order, at most
 * COL2IM_TERMS: returns how many, and moves *next_tap past the taps it looked at. */
static int row_terms(const conv_geom *g, int y, int *next_tap, ptrdiff_t *offset, int *lo,
                     int *hi)
{
    const nn_conv2d_desc *d = &g->d;
    int count = 0, taps = d->kernel_h * d->kernel_w;
    for (; *next_tap < taps && count < COL2IM_TERMS; ++*next_tap) {
        int ki = *next_tap / d->kernel_w, kj = *next_tap % d->kernel_w;
        int r = y + d->pad_h - ki * d->dilation_h;
        if (r < 0 || r % d->stride_h || r / d->stride_h >= g->oh)
            continue;
        /* dx column x takes output column x - shift, inside [0, OW) */
        int shift = kj * d->dilation_w - d->pad_w;
        int first = shift > 0 ? shift : 0, end = g->ow + shift < d->width ? g->ow + shift : d->width;
        if (first >= end)
            continue;
        offset[count] = (ptrdiff_t)*next_tap * g->P + (ptrdiff_t)(r / d->stride_h) * g->ow - shift;
        lo[count] = first;
        hi[count++] = end;
    }
    return count;
}

static void col2im_gathered(const conv_geom *g, const float *col, float *dx_n)
{
    const nn_conv2d_desc *d = &g->d;
    size_t plane = (size_t)d->height * (size_t)d->width;
    size_t channel_rows = (size_t)d->kernel_h * (size_t)d->kernel_w * (size_t)g->P;
    ptrdiff_t offset[COL2IM_TERMS];
    int lo[COL2IM_TERMS], hi[COL2IM_TERMS];
    for (int y = 0; y < d->height; y++) {
        int next_tap = 0, add = 0, count;
        do { /* one pass per COL2IM_TERMS terms, the first from 0, the rest adding */
            count = row_terms(g, y, &next_tap, offset, lo, hi);
            if (count == 0 && add)
                break;
            g->k->sum_shifted(d->width, count, offset, lo, hi, d->in_channels, col,
                              (ptrdiff_t)channel_rows, add, dx_n + (size_t)y * (size_t)d->width,
                              (ptrdiff_t)plane);
            add = 1;
        } while (next_tap < d->kernel_h * d->kernel_w);
    }
}

/* dx_n [C, H, W] = col2im(col [K x P]): the taps accumulated in row-major order, from 0
 * (the same order either way).  With stride_w > 1, zeroed then scattered: every input
 * value gets its terms in that order, channel by channel or not, so the loop can take
 * the taps outermost and work out each one's window once. */
static void col2im(const conv_geom *g, const float *col, float *dx_n)
{
    const nn_conv2d_desc *d = &g->d;
    size_t plane = (size_t)d->height * (size_t)d->width, taps = (size_t)d->kernel_h * d->kernel_w;
    if (d->stride_w == 1) {
        col2im_gathered(g, col, dx_n);
        return;
    }
    memset(dx_n, 0, g->in_floats * sizeof *dx_n);
    for (int ki = 0; ki < d->kernel_h; ki++)
        for (int kj = 0; kj < d->kernel_w; kj++) {
            tap_window t = tap_window_of(g, ki, kj);
            const float *row = col + ((size_t)ki * d->kernel_w + kj) * (size_t)g->P;
            for (int ch = 0; ch < d->in_channels; ch++, row += taps * (size_t)g->P)
                col2im_row(g, &t, row, dx_n + (size_t)ch * plane);
        }
}

/* ---- Batch split -------------------------------------------------------------- */

/* One group's samples [first, end) and its share of the workspace. */
typedef struct conv_group {
    int first, end;
    float *col;          /* column matrix [K x P] */
    float *dw_part;      /* partial dW (or dW^T) [OC*K], then db [OC] */
    const float *wino_u; /* Winograd: the running thread's U or U^T (job's wino_kernels) */
    float *wino;         /* Winograd: the tiles of a chunk of samples */
    float *wino_du;      /* Winograd: the group's partial dU [36][OC x C] */
    float *wino_db;      /* Winograd: the group's bias-gradient sums, OC doubles (as bytes) */
    float *conv_out;     /* fused pooling: the convolution output or its gradient [OC x P] of
                            a sample, or of a Winograd chunk */
    float *bias_sum;     /* fused pooling: the group's bias-gradient sums, OC doubles (as
                            bytes) */
} conv_group;

/* One call's arguments; run() does one group. */
typedef struct conv_job {
    conv_geom g;
    const float *x, *w, *bias, *dy;
    wino_weights wino_kernels; /* what Winograd's products take (a group finds its grp->wino_u) */
    nn_activation act;
    int want_bias; /* backward-weights: sum db too */
    float *y, *dx, *dw;
    /* The fused max pooling (pool_size 0: none): where the forward keeps its winners
     * (unless NULL), the winners the backward reads, and the pooled y whose > 0 is a
     * ReLU's mask (backward, or NULL). */
    int pool_size, pool_stride;
    float *winners_out;
    const float *winners, *relu_y;
    nn_status (*run)(const struct conv_job *j, const conv_group *grp);
} conv_job;

static int conv_groups(const conv_geom *g)
{
    return g->d.batch < NN_CONV2D_GROUPS ? g->d.batch : NN_CONV2D_GROUPS;
}

/* One sample's pooled output: OC planes of the pooling's output. */
static size_t pooled_floats(const conv_job *j)
{
    const conv_geom *g = &j->g;
    size_t ph = (size_t)((g->oh - j->pool_size) / j->pool_stride + 1);
    size_t pw = (size_t)((g->ow - j->pool_size) / j->pool_stride + 1);
    return (size_t)g->d.out_channels * ph * pw;
}


/* Samples the fused pooling handles at once: a Winograd chunk, or one. */
static int pool_chunk(const conv_geom *g) { return use_winograd(g) ? wino_chunk(g) : 1; }

/* One group's region for the fused pooling: the bias sums, then pool_chunk convolution
 * outputs. */
static size_t pool_group_floats(const conv_geom *g)
{
    size_t oc = (size_t)g->d.out_channels;
    return round_up_16(oc * (sizeof(double) / sizeof(float)) +
                       (size_t)pool_chunk(g) * oc * (size_t)g->P);
}

size_t nn_conv2d_maxpool_workspace_floats(const nn_conv2d_desc *c)
{
    conv_geom g;
    if (conv_geom_init("nn_conv2d_maxpool_workspace_floats", c, &g) != NN_OK)
        return 0;
    return plain_floats(&g) + NN_CONV2D_GROUPS * pool_group_floats(&g);
}

/* Group `group`, run by thread `thread`: what outlives the group's run (its partial
 * gradients and sums) is in the group's share of the workspace; what it only works in
 * (the column matrix, Winograd's tiles, the fused pooling's convolution output) in the
 * thread's, the same for each of the thread's groups, so it stays in that core's cache
 * (as the group's own, each of a thread's 1 MB of Winograd tiles was cold again). */
static nn_status run_group(const conv_job *j, int group, int groups, int thread,
                           const float *wino_u, float *workspace)
{
    const conv_geom *g = &j->g;
    conv_group grp = {
        .wino_u = wino_u,
        .first = (int)((long long)g->d.batch * group / groups),
        .end = (int)((long long)g->d.batch * (group + 1) / groups),
        .col = workspace + (size_t)thread * col_floats(g),
        .dw_part = workspace + NN_CONV2D_GROUPS * col_floats(g) + (size_t)group * partial_floats(g),
    };
    if (use_winograd(g)) {
        grp.wino = wino_tiles_in(g, workspace, thread);
        grp.wino_du = wino_du_in(g, workspace, group);
        grp.wino_db = wino_db_in(g, workspace, group);
    }
    if (j->pool_size) {
        size_t sums = (size_t)g->d.out_channels * (sizeof(double) / sizeof(float));
        grp.bias_sum = workspace + plain_floats(g) + (size_t)group * pool_group_floats(g);
        grp.conv_out = workspace + plain_floats(g) + (size_t)thread * pool_group_floats(g) + sums;
    }
    return j->run(j, &grp);
}

/* Thread `thread` of `threads`: its U for the job, then its groups. */
static void run_thread_groups(const conv_job *j, int thread, int threads, float *workspace,
                              nn_status *st)
{
    int groups = conv_groups(&j->g);
    const float *u = wino_thread_weights(&j->g, j->wino_kernels, j->w, workspace, thread);
    for (int group = thread; group < groups; group += threads)
        st[group] = run_group(j, group, groups, thread, u, workspace);
}

/* Runs every group, on as many threads as `flops` pays for (at most one per group); one
 * thread never enters the OpenMP runtime. */
static nn_status run_groups(const char *fn, const conv_job *j, double flops, float *workspace)
{
    int groups = conv_groups(&j->g);
    int threads = nn_threads_for(flops);
    if (threads > groups)
        threads = groups;
    nn_status st[NN_CONV2D_GROUPS];
    if (threads == 1) {
        run_thread_groups(j, 0, 1, workspace, st);
    } else {
#pragma omp parallel num_threads(threads)
        run_thread_groups(j, omp_get_thread_num(), omp_get_num_threads(), workspace, st);
    }
    for (int group = 0; group < groups; group++)
        if (st[group] != NN_OK) /* the GEMM's message was set on its own thread */
            return nn_fail(st[group], "%s: a GEMM failed (cannot allocate packing space); "
                                      "the output is partly computed", fn);
    return NN_OK;
}

/* ---- Forward ------------------------------------------------------------------ */

/* y_n [OC x P] = act(W . col + bias): the bias is per output channel, a row of y_n, and
 * the GEMM's epilogue adds it and applies the activation on each tile while it is in
 * cache (before, the rows were filled with the bias for a beta = 1 GEMM and the
 * activation was a second pass: conv1, with K = 9, is bound by those stores). */
static nn_status forward_sample(const conv_geom *g, const float *x_n, const float *w,
                                const float *bias, nn_activation act, float *y_n, float *col)
{
    im2col(g, x_n, col, col_ld(g));
    nn_gemm_epilogue epilogue = {.activation = act, .row_bias = bias};
    return nn_sgemm_b_in_place(g->d.out_channels, g->P, g->K, w, g->K, col, col_ld(g), y_n, g->P,
                               &epilogue);
}

/* y [count, OC, OH, OW] = the outputs of samples [first, first + count): by Winograd, a
 * chunk at a time, or sample by sample. */
static nn_status forward_samples(const conv_job *j, const conv_group *grp, int first, int count,
                                 float *y)
{
    const conv_geom *g = &j->g;
    if (grp->wino_u) {
        nn_wino_shape s = wino_forward_shape(g);
        for (int i = 0, chunk = nn_wino_chunk(&s); i < count; i += chunk) {
            int n = count - i < chunk ? count - i : chunk;
            float *y_i = y + (size_t)i * g->out_floats;
            nn_wino_convolve(g->k, &s, n, j->x + (size_t)(first + i) * g->in_floats, grp->wino_u,
                             j->bias, y_i, grp->wino);
            if (j->act != NN_ACT_NONE)
                g->k->activate((size_t)n * g->out_floats, y_i, (int)j->act);
        }
        return NN_OK;
    }
    nn_status status = NN_OK;
    for (int i = 0; status == NN_OK && i < count; i++)
        status = forward_sample(g, j->x + (size_t)(first + i) * g->in_floats, j->w, j->bias,
                                j->act, y + (size_t)i * g->out_floats, grp->col);
    return status;
}

static nn_status forward_run(const conv_job *j, const conv_group *grp)
{
    return forward_samples(j, grp, grp->first, grp->end - grp->first,
                           j->y + (size_t)grp->first * j->g.out_floats);
}

nn_status nn_conv2d_forward(const nn_conv2d_desc *c, const float *x, const float *w,
                            const float *bias, nn_activation act, float *y, float *workspace)
{
    static const char fn[] = "nn_conv2d_forward";
    conv_job j = {.x = x, .w = w, .bias = bias, .act = act, .y = y, .run = forward_run};
    nn_status status = conv_geom_for_compute(fn, c, &j.g);
    const char *const names[] = {"x", "w", "y", "workspace"};
    const void *const ptrs[] = {x, w, y, workspace};
    if (status == NN_OK)
        status = check_pointers(fn, names, ptrs, 4);
    if (status == NN_OK && (act < NN_ACT_NONE || act > NN_ACT_TANH))
        status = nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", fn, (int)act);
    if (status != NN_OK)
        return status;
    j.wino_kernels = use_winograd(&j.g) ? WINO_U : WINO_NONE;
    return run_groups(fn, &j, 2.0 * c->batch * j.g.out_floats * j.g.K, workspace);
}

/* ---- Backward ----------------------------------------------------------------- */

/* dx_n = col2im(W^T [K x OC] . dy_n [OC x P]), through col. */
static nn_status data_sample(const conv_geom *g, const float *w, const float *dy_n, float *col,
                             float *dx_n)
{
    nn_status status = nn_sgemm(NN_TRANS, NN_NO_TRANS, g->K, g->P, g->d.out_channels, 1.0f, w,
                                g->K, dy_n, g->P, 0.0f, col, g->P);
    if (status == NN_OK)
        col2im(g, col, dx_n);
    return status;
}

/* dx of samples [first, first + count) from their dy [count, OC, OH, OW]: by Winograd, a
 * chunk at a time, or sample by sample. */
static nn_status data_samples(const conv_job *j, const conv_group *grp, int first, int count,
                              const float *dy)
{
    const conv_geom *g = &j->g;
    float *dx = j->dx + (size_t)first * g->in_floats;
    if (grp->wino_u) {
        nn_wino_shape s = wino_forward_shape(g);
        for (int i = 0, chunk = nn_wino_chunk(&s); i < count; i += chunk) {
            nn_wino_dy from = {.dy = dy + (size_t)i * g->out_floats};
            nn_wino_backward(g->k, &s, count - i < chunk ? count - i : chunk, NULL, &from,
                             grp->wino_u, dx + (size_t)i * g->in_floats, NULL, NULL, 0, grp->wino);
        }
        return NN_OK;
    }
    nn_status status = NN_OK;
    for (int i = 0; status == NN_OK && i < count; i++)
        status = data_sample(g, j->w, dy + (size_t)i * g->out_floats, grp->col,
                             dx + (size_t)i * g->in_floats);
    return status;
}

static nn_status data_run(const conv_job *j, const conv_group *grp)
{
    return data_samples(j, grp, grp->first, grp->end - grp->first,
                        j->dy + (size_t)grp->first * j->g.out_floats);
}

nn_status nn_conv2d_backward_data(const nn_conv2d_desc *c, const float *dy, const float *w,
                                  float *dx, float *workspace)
{
    static const char fn[] = "nn_conv2d_backward_data";
    conv_job j = {.dy = dy, .w = w, .dx = dx, .run = data_run};
    nn_status status = conv_geom_for_compute(fn, c, &j.g);
    const char *const names[] = {"dy", "w", "dx", "workspace"};
    const void *const ptrs[] = {dy, w, dx, workspace};
    if (status == NN_OK)
        status = check_pointers(fn, names, ptrs, 4);
    if (status != NN_OK)
        return status;
    j.wino_kernels = use_winograd(&j.g) ? WINO_U_T : WINO_NONE;
    return run_groups(fn, &j, 2.0 * c->batch * j.g.out_floats * j.g.K, workspace);
}

/* The sum of r[0 .. n): 16 running lanes (each a plain in-order sum, which the compiler
 * can keep in vector registers without reassociating anything), then a fixed tree. */
static float row_sum(const float *r, int n)
{
    enum { LANES = 16 };
    float lane[LANES] = {0};
    int p = 0;
    for (; p + LANES <= n; p += LANES)
        for (int i = 0; i < LANES; i++)
            lane[i] += r[p + i];
    float tail = 0.0f;
    for (; p < n; p++)
        tail += r[p];
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int i = 0; i < width; i++)
            lane[i] += lane[i + width];
    return lane[0] + tail;
}

/* Whether the weight gradient is summed transposed, as dW^T [K x OC] (see the top). */
static int weights_transposed(const conv_geom *g) { return g->K < g->d.out_channels; }

/* db_part [OC] = the group's samples' sums of dy: per channel, in double, in order. */
static void bias_partial(const conv_geom *g, const float *dy, int first, int end, float *db_part)
{
    for (int oc = 0; oc < g->d.out_channels; oc++) {
        double sum = 0.0;
        for (int n = first; n < end; n++)
            sum += row_sum(dy + (size_t)n * g->out_floats + (size_t)oc * (size_t)g->P, g->P);
        db_part[oc] = (float)sum;
    }
}

/* dW_part [OC x K] (or dW^T [K x OC]) = beta * dW_part + dy_n . col_n^T (or col_n .
 * dy_n^T), with col_n = im2col(x_n) in col. */
static nn_status weights_sample(const conv_geom *g, const float *x_n, const float *dy_n,
                                float beta, float *col, float *dw_part)
{
    int oc = g->d.out_channels;
    im2col(g, x_n, col, g->P);
    if (weights_transposed(g))
        return nn_sgemm(NN_NO_TRANS, NN_TRANS, g->K, oc, g->P, 1.0f, col, g->P, dy_n, g->P, beta,
                        dw_part, oc);
    return nn_sgemm(NN_NO_TRANS, NN_TRANS, oc, g->K, g->P, 1.0f, dy_n, g->P, col, g->P, beta,
                    dw_part, g->K);
}

/* single_channel_weights' accumulators, after the group's partial db. */
static float *single_channel_acc(const conv_geom *g, const conv_group *grp)
{
    return grp->dw_part + (size_t)g->d.out_channels * ((size_t)g->K + 1);
}

/* The group's dW (or dW^T) and db partials from the accumulators: each one's 16 lanes
 * summed by halves (8, 4, 2, 1 apart), db's in double. */
static void store_single_channel_partials(const conv_geom *g, const conv_group *grp,
                                          int want_bias)
{
    enum { LANES = 16 };
    int oc = g->d.out_channels, K = g->K, transposed = weights_transposed(g);
    float *db_part = grp->dw_part + (size_t)oc * (size_t)K;
    for (int o = 0; o < oc; o++) {
        const float *a = single_channel_acc(g, grp) + (size_t)o * NN_CONV1CH_ACC;
        for (int k = 0; k < 9; k++) {
            float lane[LANES];
            memcpy(lane, a + k * LANES, sizeof lane);
            for (int width = LANES / 2; width >= 1; width /= 2)
                for (int i = 0; i < width; i++)
                    lane[i] += lane[i + width];
            grp->dw_part[transposed ? (size_t)k * oc + o : (size_t)o * K + k] = lane[0];
        }
        if (want_bias) {
            double lane[LANES];
            memcpy(lane, a + 9 * LANES, sizeof lane);
            for (int width = LANES / 2; width >= 1; width /= 2)
                for (int i = 0; i < width; i++)
                    lane[i] += lane[i + width];
            db_part[o] = (float)lane[0];
        }
    }
}

/* The group's weight gradient by the single-channel kernels: from each sample's dy, or,
 * in a fused pooling without dx, from the pooled gradient directly (the same bits; the
 * kernel needs every output in a 2 x 2 block); with dx, each sample's pooling backward
 * first, into conv_out. */
static nn_status single_channel_run(const conv_job *j, const conv_group *grp)
{
    const conv_geom *g = &j->g;
    int oc = g->d.out_channels, fused = j->pool_size != 0;
    int in_kernel = fused && !j->dx && j->pool_size == 2 && j->pool_stride == 2 &&
                    g->oh % 2 == 0 && g->ow % 2 == 0;
    size_t pooled = fused ? pooled_floats(j) : 0;
    float *acc = single_channel_acc(g, grp);
    memset(acc, 0, (size_t)oc * NN_CONV1CH_ACC * sizeof *acc);
    nn_status status = NN_OK;
    for (int n = grp->first; status == NN_OK && n < grp->end; n++) {
        const float *x_n = j->x + (size_t)n * g->in_floats, *dy_n = j->dy + (size_t)n * g->out_floats;
        size_t at = (size_t)n * pooled;
        if (in_kernel) {
            g->k->conv1ch_3x3_weights_pooled(oc, g->d.height, g->d.width, x_n, j->dy + at,
                                             j->winners + at, j->relu_y ? j->relu_y + at : NULL,
                                             acc);
            continue;
        }
        if (fused) {
            status = nn_maxpool2d_backward(oc, g->oh, g->ow, j->pool_size, j->pool_stride,
                                           j->dy + at, j->winners + at,
                                           j->relu_y ? j->relu_y + at : NULL, grp->conv_out);
            dy_n = grp->conv_out;
        }
        if (status == NN_OK)
            g->k->conv1ch_3x3_weights(oc, g->d.height, g->d.width, x_n, dy_n, acc);
        if (status == NN_OK && fused && j->dx)
            status = data_sample(g, j->w, grp->conv_out, grp->col, j->dx + (size_t)n * g->in_floats);
    }
    if (status == NN_OK)
        store_single_channel_partials(g, grp, j->want_bias);
    return status;
}

/* The group's db partial from its sums (OC doubles as bytes). */
static void store_bias_partial(const conv_geom *g, const conv_group *grp, const void *sums)
{
    float *db_part = grp->dw_part + (size_t)g->d.out_channels * (size_t)g->K;
    for (int oc = 0; oc < g->d.out_channels; oc++) {
        double sum;
        memcpy(&sum, (const char *)sums + (size_t)oc * sizeof sum, sizeof sum);
        db_part[oc] = (float)sum;
    }
}

/* Winograd's backward for samples [first, first + count) of the group, from *from: dx if
 * the job wants it, and the group's dU and bias sums, from 0 at the group's first
 * sample. */
static void wino_backward_samples(const conv_job *j, const conv_group *grp, int first, int count,
                                  const nn_wino_dy *from)
{
    const conv_geom *g = &j->g;
    nn_wino_shape s = wino_forward_shape(g);
    nn_wino_backward(g->k, &s, count, j->x + (size_t)first * g->in_floats, from, grp->wino_u,
                     j->dx ? j->dx + (size_t)first * g->in_floats : NULL, grp->wino_du,
                     j->want_bias ? grp->wino_db : NULL, first > grp->first, grp->wino);
}

/* dW_part = the sum over the group's samples, in order, of their weight gradients; then
 * the group's db after it. */
static nn_status weights_run(const conv_job *j, const conv_group *grp)
{
    const conv_geom *g = &j->g;
    nn_status status = NN_OK;
    if (use_winograd(g)) { /* the group's dU and db, chunk by chunk, from dM */
        int chunk = wino_chunk(g);
        for (int n = grp->first; n < grp->end; n += chunk) {
            nn_wino_dy from = {.dy = j->dy + (size_t)n * g->out_floats};
            wino_backward_samples(j, grp, n, grp->end - n < chunk ? grp->end - n : chunk, &from);
        }
        if (j->want_bias)
            store_bias_partial(g, grp, grp->wino_db);
        return NN_OK;
    }
    if (single_channel_weights(g))
        return single_channel_run(j, grp);
    if (j->want_bias)
        bias_partial(g, j->dy, grp->first, grp->end,
                     grp->dw_part + (size_t)g->d.out_channels * (size_t)g->K);
    for (int n = grp->first; status == NN_OK && n < grp->end; n++)
        status = weights_sample(g, j->x + (size_t)n * g->in_floats,
                                j->dy + (size_t)n * g->out_floats, n == grp->first ? 0.0f : 1.0f,
                                grp->col, grp->dw_part);
    return status;
}

/* dw [OC x K] = partial 0 + partial 1 + ... in group order, each read transposed when the
 * partials are dW^T. */
static void sum_weight_partials(const conv_geom *g, const float *parts, float *dw)
{
    int oc = g->d.out_channels, K = g->K, transposed = weights_transposed(g);
    for (int group = 0; group < conv_groups(g); group++) {
        const float *part = parts + (size_t)group * partial_floats(g);
        for (int o = 0; o < oc; o++)
            for (int k = 0; k < K; k++) {
                float v = transposed ? part[(size_t)k * oc + o] : part[(size_t)o * K + k];
                float *d = &dw[(size_t)o * K + k];
                *d = group == 0 ? v : *d + v;
            }
    }
}

/* dw from the groups' partials (Winograd's dU summed in group order and transformed
 * back, or sum_weight_partials); db likewise, in double, when asked for. */
static void sum_partials(const conv_geom *g, float *workspace, float *dw, float *dbias)
{
    const float *parts = workspace + NN_CONV2D_GROUPS * col_floats(g);
    int oc = g->d.out_channels;
    if (use_winograd(g)) {
        nn_wino_shape s = wino_forward_shape(g);
        nn_wino_weights_backward(g->k, &s, conv_groups(g), wino_du_in(g, workspace, 0),
                                 (ptrdiff_t)wino_group_floats(g), dw);
    } else {
        sum_weight_partials(g, parts, dw);
    }
    for (int o = 0; dbias && o < oc; o++) {
        double sum = 0.0;
        for (int group = 0; group < conv_groups(g); group++)
            sum += parts[(size_t)group * partial_floats(g) + (size_t)oc * (size_t)g->K + (size_t)o];
        dbias[o] = (float)sum;
    }
}

nn_status nn_conv2d_backward_weights(const nn_conv2d_desc *c, const float *x, const float *dy,
                                     float *dw, float *dbias, float *workspace)
{
    static const char fn[] = "nn_conv2d_backward_weights";
    conv_job j = {.x = x, .dy = dy, .dw = dw, .want_bias = dbias != NULL, .run = weights_run};
    nn_status status = conv_geom_for_compute(fn, c, &j.g);
    const char *const names[] = {"x", "dy", "dw", "workspace"};
    const void *const ptrs[] = {x, dy, dw, workspace};
    if (status == NN_OK)
        status = check_pointers(fn, names, ptrs, 4);
    if (status == NN_OK)
        status = run_groups(fn, &j, 2.0 * c->batch * j.g.out_floats * j.g.K, workspace);
    if (status != NN_OK)
        return status;
    sum_partials(&j.g, workspace, dw, dbias);
    return status;
}

/* ---- Max pooling fused after the convolution ----------------------------------- */


/* The pooling's window against the convolution's output, before anything runs (the
 * pooling calls inside the groups then cannot fail). */
static nn_status check_pool_window(const char *fn, const conv_job *j)
{
    const conv_geom *g = &j->g;
    if (j->pool_size < 1 || j->pool_stride < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: pool_size %d, pool_stride %d; both must be >= 1",
                       fn, j->pool_size, j->pool_stride);
    if (j->pool_size > g->oh || j->pool_size > g->ow)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "%s: pool window %d is larger than the %d x %d convolution output", fn,
                       j->pool_size, g->oh, g->ow);
    if ((j->winners || j->winners_out) && g->out_floats >= (size_t)1 << 24)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "%s: the convolution's output holds 2^24 or more values per sample, too "
                       "many for exact float winner offsets", fn);
    return NN_OK;
}

/* Whether the winners are kept as Winograd's tiles keep them, channels-last per sample
 * (nn_wino_convolve_pool), and unpooled in its tiles on the way back: 2 x 2 windows at
 * stride 2, which never straddle its 4 x 4 tiles, on Winograd's path.  Forward and
 * backward decide alike (the backward does not know the activation). */
static int winners_in_tiles(const conv_job *j)
{
    return use_winograd(&j->g) && j->pool_size == 2 && j->pool_stride == 2;
}

/* Whether Winograd's output transform pools its tiles itself: winners_in_tiles after a
 * ReLU or nothing.  Against the convolution's output transposed to NCHW and pooled from
 * there, MNIST's conv2 at batch 64: see bench/RESULTS.md. */
static int pools_in_tiles(const conv_job *j)
{
    return winners_in_tiles(j) && (j->act == NN_ACT_NONE || j->act == NN_ACT_RELU);
}

/* Whether the ISA's conv1ch_3x3_maxpool takes the whole fused forward: a first layer
 * of one channel (MNIST's conv1: K = 9 keeps its GEMM bound by storing 32 x 676 outputs
 * a sample, which the pooling then reads back; the kernel keeps them in registers). */
static int pools_in_registers(const conv_job *j)
{
    const nn_conv2d_desc *d = &j->g.d;
    return j->g.k->conv1ch_3x3_maxpool && d->in_channels == 1 && d->kernel_h == 3 &&
           d->kernel_w == 3 && d->stride_h == 1 && d->stride_w == 1 && d->dilation_h == 1 &&
           d->dilation_w == 1 && d->pad_h == 0 && d->pad_w == 0 && j->pool_size == 2 &&
           j->pool_stride == 2 && (j->act == NN_ACT_NONE || j->act == NN_ACT_RELU);
}

/* A sample's `pooled` winners [OC x PP] rearranged channels-last, [PP x OC], in place
 * through `spare` (as many floats): winners_in_tiles' layout after an activation that the
 * tiles do not pool. */
static void winners_to_channels_last(const conv_geom *g, size_t pooled, float *winners,
                                     float *spare)
{
    int oc = g->d.out_channels, pp = (int)(pooled / (size_t)oc);
    memcpy(spare, winners, pooled * sizeof *winners);
    g->k->transpose(oc, pp, spare, pp, winners, oc);
}

/* Per chunk (forward_samples'; one sample without Winograd): the convolution into
 * conv_out, then each sample's pooling from there (its slice of conv_out free after it);
 * or pooled in Winograd's tiles, or in the single-channel kernel's registers. */
static nn_status forward_pooled_run(const conv_job *j, const conv_group *grp)
{
    const conv_geom *g = &j->g;
    size_t pooled = pooled_floats(j);
    int chunk = pool_chunk(g);
    nn_status status = NN_OK;
    if (pools_in_registers(j)) {
        for (int n = grp->first; n < grp->end; n++)
            g->k->conv1ch_3x3_maxpool(g->d.out_channels, g->d.height, g->d.width,
                                      j->x + (size_t)n * g->in_floats, j->w, j->bias,
                                      j->act == NN_ACT_RELU, j->y + (size_t)n * pooled,
                                      j->winners_out ? j->winners_out + (size_t)n * pooled : NULL);
        return NN_OK;
    }
    if (pools_in_tiles(j)) {
        nn_wino_shape s = wino_forward_shape(g);
        for (int n0 = grp->first; n0 < grp->end; n0 += chunk)
            nn_wino_convolve_pool(g->k, &s, grp->end - n0 < chunk ? grp->end - n0 : chunk,
                                  j->x + (size_t)n0 * g->in_floats, grp->wino_u, j->bias,
                                  j->act == NN_ACT_RELU, j->y + (size_t)n0 * pooled,
                                  j->winners_out ? j->winners_out + (size_t)n0 * pooled : NULL,
                                  grp->wino);
        return NN_OK;
    }
    for (int n0 = grp->first; status == NN_OK && n0 < grp->end; n0 += chunk) {
        int count = grp->end - n0 < chunk ? grp->end - n0 : chunk;
        status = forward_samples(j, grp, n0, count, grp->conv_out);
        for (int i = 0; status == NN_OK && i < count; i++) {
            size_t at = (size_t)(n0 + i) * pooled;
            float *conv_i = grp->conv_out + (size_t)i * g->out_floats;
            status = nn_maxpool2d_forward(g->d.out_channels, g->oh, g->ow, j->pool_size,
                                          j->pool_stride, conv_i, j->y + at,
                                          j->winners_out ? j->winners_out + at : NULL);
            if (status == NN_OK && j->winners_out && winners_in_tiles(j))
                winners_to_channels_last(g, pooled, j->winners_out + at, conv_i);
        }
    }
    return status;
}

nn_status nn_conv2d_forward_maxpool(const nn_conv2d_desc *c, int pool_size, int pool_stride,
                                    const float *x, const float *w, const float *bias,
                                    nn_activation act, float *y, float *winners,
                                    float *workspace)
{
    static const char fn[] = "nn_conv2d_forward_maxpool";
    conv_job j = {.x = x, .w = w, .bias = bias, .act = act, .y = y, .pool_size = pool_size,
                  .pool_stride = pool_stride, .winners_out = winners, .run = forward_pooled_run};
    nn_status status = conv_geom_for_compute(fn, c, &j.g);
    const char *const names[] = {"x", "w", "y", "workspace"};
    const void *const ptrs[] = {x, w, y, workspace};
    if (status == NN_OK)
        status = check_pointers(fn, names, ptrs, 4);
    if (status == NN_OK)
        status = check_pool_window(fn, &j);
    if (status == NN_OK && (act < NN_ACT_NONE || act > NN_ACT_TANH))
        status = nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", fn, (int)act);
    if (status != NN_OK)
        return status;
    j.wino_kernels = use_winograd(&j.g) ? WINO_U : WINO_NONE;
    return run_groups(fn, &j, 2.0 * c->batch * j.g.out_floats * j.g.K, workspace);
}

/* sums[oc] (doubles, kept as bytes: the workspace is only float-aligned) += the sum of
 * dy_n's row oc, or = it for the group's first sample: bias_partial's order. */
static void add_bias_sums(const conv_geom *g, const float *dy_n, int first, float *sums)
{
    for (int oc = 0; oc < g->d.out_channels; oc++) {
        double sum = 0.0;
        if (!first)
            memcpy(&sum, (char *)sums + (size_t)oc * sizeof sum, sizeof sum);
        sum += row_sum(dy_n + (size_t)oc * (size_t)g->P, g->P);
        memcpy((char *)sums + (size_t)oc * sizeof sum, &sum, sizeof sum);
    }
}

/* Per chunk (Winograd's, or one sample): the pooling's backward into conv_out (the
 * convolution's output gradient, in cache) sample by sample, then the weight gradient
 * and dx from it; the group's db last.  Two shapes skip writing that gradient: a single
 * input channel (single_channel_run) and Winograd with 2 x 2 windows at stride 2, whose
 * tiles unpool the pooled gradient themselves. */
static nn_status backward_pooled_run(const conv_job *j, const conv_group *grp)
{
    const conv_geom *g = &j->g;
    size_t pooled = pooled_floats(j);
    int chunk = pool_chunk(g), wino = use_winograd(g);
    nn_status status = NN_OK;
    if (single_channel_weights(g))
        return single_channel_run(j, grp);
    if (winners_in_tiles(j)) {
        for (int n0 = grp->first; n0 < grp->end; n0 += chunk) {
            size_t at = (size_t)n0 * pooled;
            nn_wino_dy from = {.pooled = j->dy + at, .winners = j->winners + at,
                               .relu_y = j->relu_y ? j->relu_y + at : NULL};
            wino_backward_samples(j, grp, n0, grp->end - n0 < chunk ? grp->end - n0 : chunk,
                                  &from);
        }
        if (j->want_bias)
            store_bias_partial(g, grp, grp->wino_db);
        return NN_OK;
    }
    for (int n0 = grp->first; status == NN_OK && n0 < grp->end; n0 += chunk) {
        int count = grp->end - n0 < chunk ? grp->end - n0 : chunk;
        for (int i = 0; status == NN_OK && i < count; i++) {
            int n = n0 + i;
            size_t at = (size_t)n * pooled;
            float *dconv = grp->conv_out + (size_t)i * g->out_floats;
            status = nn_maxpool2d_backward(g->d.out_channels, g->oh, g->ow, j->pool_size,
                                           j->pool_stride, j->dy + at, j->winners + at,
                                           j->relu_y ? j->relu_y + at : NULL, dconv);
            if (status == NN_OK && j->want_bias && !wino)
                add_bias_sums(g, dconv, n == grp->first, grp->bias_sum);
            if (status == NN_OK && !wino)
                status = weights_sample(g, j->x + (size_t)n * g->in_floats, dconv,
                                        n == grp->first ? 0.0f : 1.0f, grp->col, grp->dw_part);
        }
        if (status == NN_OK && wino) {
            nn_wino_dy from = {.dy = grp->conv_out};
            wino_backward_samples(j, grp, n0, count, &from);
        } else if (status == NN_OK && j->dx) {
            status = data_samples(j, grp, n0, count, grp->conv_out);
        }
    }
    if (status == NN_OK && j->want_bias)
        store_bias_partial(g, grp, wino ? grp->wino_db : grp->bias_sum);
    return status;
}

nn_status nn_conv2d_backward_maxpool(const nn_conv2d_desc *c, int pool_size, int pool_stride,
                                     const float *x, const float *w, const float *dy,
                                     const float *winners, const float *relu_y, float *dx,
                                     float *dw, float *dbias, float *workspace)
{
    static const char fn[] = "nn_conv2d_backward_maxpool";
    conv_job j = {.x = x, .w = w, .dy = dy, .dx = dx, .dw = dw, .want_bias = dbias != NULL,
                  .pool_size = pool_size, .pool_stride = pool_stride,
                  .winners = winners, .relu_y = relu_y,
                  .run = backward_pooled_run};
    nn_status status = conv_geom_for_compute(fn, c, &j.g);
    const char *const names[] = {"x", "w", "dy", "winners", "dw", "workspace"};
    const void *const ptrs[] = {x, w, dy, winners, dw, workspace};
    if (status == NN_OK)
        status = check_pointers(fn, names, ptrs, 6);
    if (status == NN_OK)
        status = check_pool_window(fn, &j);
    double flops = 2.0 * c->batch * j.g.out_floats * j.g.K * (dx ? 2 : 1);
    if (status != NN_OK)
        return status;
    if (dx && use_winograd(&j.g))
        j.wino_kernels = WINO_U_T;
    status = run_groups(fn, &j, flops, workspace);
    if (status != NN_OK)
        return status;
    sum_partials(&j.g, workspace, dw, dbias);
    return status;
}
