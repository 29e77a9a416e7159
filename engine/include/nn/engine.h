/*
 * <nn/engine.h> — the compute engine: SGEMM with fused epilogues, ISA dispatch,
 * threads and topology.  Link with -lnn_engine; needs nothing from the layer library.
 *
 * Conventions used by every function in this header:
 *  - Matrices are row-major.  Sizes and leading dimensions are `int`.
 *  - Functions that can fail return an nn_status.  On failure they leave a readable
 *    message for the calling thread in nn_last_error(); on success they leave it alone.
 *  - Results are bit-identical for a given ISA whatever the thread count.
 */
#ifndef NN_ENGINE_H
#define NN_ENGINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status ----------------------------------------------------------------- */

typedef enum nn_status {
    NN_OK = 0,
    NN_ERR_INVALID_ARGUMENT, /* a size, pointer or option the function cannot accept */
    NN_ERR_OUT_OF_MEMORY,    /* an allocation failed */
    NN_ERR_UNSUPPORTED,      /* e.g. an ISA this CPU (or this build) lacks */
    NN_ERR_IO,               /* a file could not be read or written */
    NN_ERR_FORMAT,           /* a file or buffer is malformed */
    NN_ERR_NUMERIC,          /* a NaN or Inf where a finite value is required */
} nn_status;

/* The message left by the last failing call on this thread ("" if none). */
const char *nn_last_error(void);

/* A short constant name for a status, e.g. "invalid argument". */
const char *nn_status_string(nn_status status);

/* For code built on the engine (the layer library, applications): records a printf-style
 * message for nn_last_error() on this thread and returns `status`, so a failure reads
 * `return nn_fail(NN_ERR_IO, "%s: %s", path, strerror(errno));`. */
nn_status nn_fail(nn_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- Instruction sets and kernels ----------------------------------------------- */

typedef enum nn_isa {
    NN_ISA_SCALAR = 0, /* portable C reference kernels, always available */
    NN_ISA_AVX2,       /* x86-64 AVX2 + FMA */
    NN_ISA_AVX512,     /* x86-64 AVX-512F */
    NN_ISA_NEON,       /* AArch64 Advanced SIMD */
    NN_ISA_COUNT
} nn_isa;

/* "scalar", "avx2", "avx512", "neon". */
const char *nn_isa_name(nn_isa isa);

/* Parses an ISA name as accepted by NN_ISA. @return NN_ERR_INVALID_ARGUMENT if unknown. */
nn_status nn_isa_parse(const char *name, nn_isa *isa);

/* 1 if this CPU and OS (and this build) can run the kernel set, else 0. */
int nn_isa_supported(nn_isa isa);

/* The kernel set in use.  The first call chooses it: NN_ISA from the environment if set
 * (an unsupported or unknown value makes engine calls fail with a clear message),
 * otherwise the best set this CPU supports. */
nn_isa nn_get_isa(void);

/* Forces a kernel set for the whole process.
 * @return NN_ERR_UNSUPPORTED if this CPU cannot run it. */
nn_status nn_set_isa(nn_isa isa);

/* ---- Threads ------------------------------------------------------------------- */

/* Sets the number of threads engine calls use; 0 restores the default, which is
 * NN_NUM_THREADS, else OMP_NUM_THREADS, else the number of physical cores.
 * Calls made from inside an OpenMP parallel region always run on one thread. */
nn_status nn_set_num_threads(int threads);
int nn_get_num_threads(void);

/* ---- What the engine found and chose --------------------------------------------- */

typedef struct nn_engine_info {
    nn_isa isa;                 /* kernel set in use */
    int threads;                /* threads a large engine call uses */
    int physical_cores;
    int logical_cpus;
    size_t l1d_bytes, l2_bytes, l3_bytes; /* per core for L1d/L2, per package for L3 */
    const char *topology_source;          /* "hwloc" or "sysfs" */
    int mr, nr;                 /* register tile of the GEMM microkernel */
    int mc, kc, nc;             /* cache blocks of the GEMM driver */
} nn_engine_info;

/* Fills *info.  Fails like any engine call if NN_ISA named an unusable set. */
nn_status nn_engine_info_get(nn_engine_info *info);

/* Writes a human-readable multi-line report of nn_engine_info into buf (always
 * NUL-terminated when size > 0). @return the length it needed, like snprintf. */
int nn_engine_describe(char *buf, size_t size);

/* ---- SGEMM ------------------------------------------------------------------- */

typedef enum nn_trans {
    NN_NO_TRANS = 0, /* use the matrix as stored */
    NN_TRANS = 1     /* use its transpose */
} nn_trans;

typedef enum nn_activation {
    NN_ACT_NONE = 0,
    NN_ACT_RELU,
    NN_ACT_SIGMOID,
    NN_ACT_TANH,
} nn_activation;

/* What to apply to each finished tile of C while it is still in cache:
 *   C[i][j] = act((C[i][j] + row_bias[i]) + bias[j])
 * (either bias may be NULL: none).  A convolution's bias is per output channel, a row
 * of its C; a dense layer's is per unit, a column. */
typedef struct nn_gemm_epilogue {
    const float *bias;      /* N floats, or NULL */
    nn_activation activation;
    const float *row_bias;  /* M floats, or NULL */
} nn_gemm_epilogue;

/*
 * C = alpha * op(A) * op(B) + beta * C, row-major, with op(X) = X or X^T.
 *   op(A) is M x K: A is M x K (lda >= K) or, transposed, K x M (lda >= M).
 *   op(B) is K x N: B is K x N (ldb >= N) or, transposed, N x K (ldb >= K).
 *   C is M x N (ldc >= N).
 * beta == 0 overwrites C without reading it (NaN in C is ignored).  Any of M, N, K may
 * be 0; K == 0 (or alpha == 0) scales C by beta.  Pointers may be NULL only where
 * nothing is read or written through them.
 * @return NN_ERR_INVALID_ARGUMENT for negative sizes, small leading dimensions,
 *         NULL matrices with non-zero sizes, or a bad transpose value.
 */
nn_status nn_sgemm(nn_trans trans_a, nn_trans trans_b, int M, int N, int K,
                   float alpha, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc);

/* nn_sgemm followed by the epilogue (NULL: none), fused into the tile loop. */
nn_status nn_sgemm_ex(nn_trans trans_a, nn_trans trans_b, int M, int N, int K,
                      float alpha, const float *A, int lda, const float *B, int ldb,
                      float beta, float *C, int ldc, const nn_gemm_epilogue *epilogue);

/* ---- Vector math (the same kernels the epilogue uses) -------------------------- */

/* x[i] = act(x[i]) for n contiguous floats, in place, with the very kernels the GEMM
 * epilogue uses: a separate activation gives the same bits as a fused one. */
nn_status nn_vec_activate(nn_activation activation, size_t n, float *x);

/* ---- Convolution (im2col + SGEMM, or Winograd) ------------------------------------ */

/*
 * A 2-D convolution (cross-correlation, as in every framework).  Layout NCHW, batch
 * first, all arrays dense and row-major:
 *   x  [batch, in_channels, height, width]        input
 *   w  [out_channels, in_channels * kernel_h * kernel_w]   (i.e. [OC, C, KH, KW])
 *   y  [batch, out_channels, out_h, out_w]        output
 * with out_h = (height + 2 pad_h - dilation_h (kernel_h - 1) - 1) / stride_h + 1 (out_w
 * likewise).  Padding is zeros.  Dilation 1 is the ordinary convolution.
 *
 * 3x3 kernels at stride 1 and dilation 1 with 16 or more channels in and out run all
 * three passes by Winograd's F(4x4, 3x3), 4 multiplies an output instead of 9, on 4 x 4
 * output tiles; its rounding errors are several times those of a direct sum (still
 * within the bounds tests/test_conv.c checks).  Every other shape runs by im2col and
 * the GEMM.  The choice depends on the descriptor only.
 */
typedef struct nn_conv2d_desc {
    int batch, in_channels, height, width;
    int out_channels, kernel_h, kernel_w;
    int stride_h, stride_w;     /* >= 1 */
    int pad_h, pad_w;           /* >= 0, zeros on both sides */
    int dilation_h, dilation_w; /* >= 1 */
} nn_conv2d_desc;

/* Output height and width (either pointer may be NULL).
 * @return NN_ERR_INVALID_ARGUMENT, naming the field and its value, for a size, stride or
 *         dilation < 1, a negative padding, a dilated kernel larger than the padded input,
 *         or sizes whose products do not fit an int. */
nn_status nn_conv2d_output_size(const nn_conv2d_desc *c, int *out_h, int *out_w);

/* The calls below split the batch into min(batch, NN_CONV2D_GROUPS) fixed groups of
 * consecutive samples, run on up to that many threads. */
#define NN_CONV2D_GROUPS 8

/* Floats of workspace every nn_conv2d_* call below needs for this descriptor:
 * NN_CONV2D_GROUPS column matrices (C*KH*KW rows of out_h*out_w floats, each row rounded
 * up to an odd number of 64-byte lines; none with Winograd) and as many partial weight
 * and bias gradients (out_channels * (C*KH*KW + 1) each); with Winograd, per group the
 * transformed kernels (36 * C * OC floats, a little more with padding: a copy for each
 * thread), a partial gradient of them and the tiles of up to 8 samples.  It does not
 * depend on the batch or the thread count, so a layer allocates it once (it may ask with
 * batch 1).  0 for an invalid descriptor.  Any float alignment works; 64 bytes
 * (nn_malloc) is fastest. */
size_t nn_conv2d_workspace_floats(const nn_conv2d_desc *c);

/*
 * y = act(conv(x, w) + bias): per sample, y_n = W . im2col(x_n) by nn_sgemm_ex, whose
 * epilogue adds the bias (out_channels floats, or NULL) per output channel (row_bias)
 * and applies the activation with nn_vec_activate's kernels; or by Winograd, a chunk of
 * samples at a time.
 * The sample groups run in parallel (each GEMM on one thread; with one group, one
 * threaded GEMM per sample); results are bit-identical for any thread count.  Nothing
 * is allocated.
 * @return NN_ERR_INVALID_ARGUMENT for a bad descriptor (see nn_conv2d_output_size),
 *         a NULL x, w, y or workspace, or an unknown activation.
 */
nn_status nn_conv2d_forward(const nn_conv2d_desc *c, const float *x, const float *w,
                            const float *bias, nn_activation act, float *y, float *workspace);

/* dx [batch, C, H, W] = gradient of the loss for x, given dy [batch, OC, out_h, out_w]:
 * per sample dcol = W^T . dy_n, then col2im, or by Winograd (dx is overwritten, not
 * accumulated). */
nn_status nn_conv2d_backward_data(const nn_conv2d_desc *c, const float *dy, const float *w,
                                  float *dx, float *workspace);

/* dw [OC, C*KH*KW] = sum over samples of dy_n . im2col(x_n)^T, and, if dbias is not
 * NULL, dbias [OC] = sum of dy over samples and pixels (both overwritten).  Each sample
 * group sums its samples in order into a partial dW (GEMM with beta = 1; with Winograd,
 * a partial of the transformed kernels' gradient, chunk by chunk) and a partial db (in
 * double; with Winograd, tile by tile from the transformed gradient), and the partials are
 * added in group order; the groups do not depend on the thread count, so neither do the
 * bits. */
nn_status nn_conv2d_backward_weights(const nn_conv2d_desc *c, const float *x, const float *dy,
                                     float *dw, float *dbias, float *workspace);

/* ---- Max pooling --------------------------------------------------------------- */

/*
 * y [planes, OH, OW] = the maxima of x [planes, H, W] over size x size windows moved by
 * stride, no padding: OH = (H - size) / stride + 1, OW likewise.  The first maximum in
 * row-major window order wins ties; the first NaN wins over any number, so a NaN input
 * reaches y.  With winner non-NULL, winner[o] = the offset in x of o's maximum
 * (plane * H * W + row * W + column), as a float, exact since planes * H * W must then be
 * below 2^24.  One thread (callers split the planes, e.g. by sample); 2 x 2 windows at
 * stride 2 run the ISA's vector kernel, other windows a plain loop.
 * @return NN_ERR_INVALID_ARGUMENT for sizes < 1 (planes < 0), a window larger than the
 *         plane, 2^24 values or more with winners, or a NULL x or y.
 */
nn_status nn_maxpool2d_forward(int planes, int height, int width, int size, int stride,
                               const float *x, float *y, float *winner);

/* dx [planes, H, W] = the gradient for x of the forward above, given dy [planes, OH, OW]
 * and that forward's winners: each dy goes to its window's winner (summed where windows
 * overlap), zero elsewhere; dx is overwritten.  With relu_y non-NULL (the forward's y,
 * with a ReLU before the pooling folded in), dy passes only where relu_y > 0.  One
 * thread, like the forward.
 * @return NN_ERR_INVALID_ARGUMENT as the forward, or for a NULL dy, winner or dx. */
nn_status nn_maxpool2d_backward(int planes, int height, int width, int size, int stride,
                                const float *dy, const float *winner, const float *relu_y,
                                float *dx);

/* ---- Convolution with max pooling fused after it ---------------------------------- */

/* Floats of workspace nn_conv2d_forward_maxpool and nn_conv2d_backward_maxpool need: the
 * plain calls' (above), then per sample group one convolution output (out_channels *
 * out_h * out_w floats; with Winograd, a chunk's: up to 8) and out_channels doubles.  Like the plain size, independent of
 * the batch and the thread count; 0 for an invalid descriptor. */
size_t nn_conv2d_maxpool_workspace_floats(const nn_conv2d_desc *c);

/*
 * y = maxpool(act(conv(x, w) + bias)), sample by sample (or Winograd chunk by chunk), so that the convolution's output
 * stays in the workspace, in cache, and only the pooled values are stored: y [batch,
 * out_channels, PH, PW] with PH = (out_h - pool_size) / pool_stride + 1 (PW likewise), and
 * when winners is not NULL each pooled value's winner as nn_maxpool2d_forward keeps it
 * (its offset in the sample's [out_channels, out_h, out_w] output), batch * out_channels
 * * PH * PW of them, for nn_conv2d_backward_maxpool: their order within a sample is the
 * engine's (NCHW, or channels-last where Winograd's tiles pool them, which then read them
 * back without a transpose each way).  The same bits as nn_conv2d_forward then
 * nn_maxpool2d_forward per sample.
 * @return NN_ERR_INVALID_ARGUMENT as nn_conv2d_forward, or for a pool window < 1 or
 *         larger than the convolution's output, or 2^24 output values a sample or more
 *         with winners.
 */
nn_status nn_conv2d_forward_maxpool(const nn_conv2d_desc *c, int pool_size, int pool_stride,
                                    const float *x, const float *w, const float *bias,
                                    nn_activation act, float *y, float *winners,
                                    float *workspace);

/* Its backward, from dy [batch, out_channels, PH, PW] and the forward's winners, sample by
 * sample: nn_maxpool2d_backward into the workspace (with relu_y, the forward's y, dy
 * passes only where relu_y > 0: the backward of a ReLU activation; with Winograd and 2 x 2
 * windows at stride 2, inside its tiles instead, never stored), then the weight gradient
 * (dw, and dbias unless NULL, both overwritten) and, unless dx is NULL, dx.  The
 * same bits as nn_maxpool2d_backward then nn_conv2d_backward_weights and _data; the
 * same for any thread count. */
nn_status nn_conv2d_backward_maxpool(const nn_conv2d_desc *c, int pool_size, int pool_stride,
                                     const float *x, const float *w, const float *dy,
                                     const float *winners, const float *relu_y, float *dx,
                                     float *dw, float *dbias, float *workspace);

/* ---- Optimizer updates (one vectorized, threaded pass over the parameters) ------- */

/* SGD settings, in PyTorch's convention. */
typedef struct nn_sgd_args {
    float lr;
    float momentum;     /* 0: plain SGD (no velocity) */
    int nesterov;       /* 1: Nesterov momentum (only with momentum > 0) */
    float weight_decay; /* L2: added to the gradient as weight_decay * p */
} nn_sgd_args;

/*
 * One SGD step over n parameters, elementwise in float (wd = weight_decay, mu = momentum):
 *   g = grads + wd params
 *   mu = 0:  params -= lr g                       (velocity is not used; may be NULL)
 *   mu > 0:  velocity = mu velocity + g           (start it at 0)
 *            params -= lr (nesterov ? g + mu velocity : velocity)
 * The arrays must not overlap.  Settings are used as given (no range checks).
 * @return NN_ERR_INVALID_ARGUMENT for a NULL args, or a NULL array that is needed with n > 0.
 */
nn_status nn_sgd_update(size_t n, const nn_sgd_args *args, float *params, const float *grads,
                        float *velocity);

/* Adam and AdamW settings. */
typedef struct nn_adam_args {
    float lr, beta1, beta2, eps; /* usually beta1 0.9, beta2 0.999, eps 1e-8 */
    float weight_decay;
    int decoupled;               /* 0: Adam, L2 decay added to the gradient; 1: AdamW */
    long long step;              /* this step's number t, counted from 1 */
} nn_adam_args;

/*
 * One Adam (Kingma, Ba 2015) or AdamW (Loshchilov, Hutter 2019) step over n parameters,
 * elementwise in float, with first and second moments m and v (start them at 0):
 *   AdamW:  params -= lr weight_decay params, then g = grads
 *   Adam:   g = grads + weight_decay params
 *   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
 *   params -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * The bias corrections are computed once, in double.  The arrays must not overlap.
 * Settings are used as given (no range checks).
 * @return NN_ERR_INVALID_ARGUMENT for a NULL args or array with n > 0, or step < 1.
 */
nn_status nn_adam_update(size_t n, const nn_adam_args *args, float *params, const float *grads,
                         float *m, float *v);

/* ---- Memory -------------------------------------------------------------------- */

/* 64-byte aligned allocation (NULL on failure or size 0); free with nn_free.  On Linux,
 * buffers of 2 MiB or more are 2 MiB aligned and advised as transparent huge pages (fewer
 * TLB misses in a training step; the first touch may cost the kernel a compaction). */
void *nn_malloc(size_t bytes);
void nn_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* NN_ENGINE_H */
