/*
 * layers/layer_pool.c — 2-D pooling per channel: max and mean over size x size windows
 * moved by stride, no padding.
 *
 * Shapes per sample: x [C, H, W], y [C, OH, OW] with OH = (H - size) / stride + 1 (OW
 * likewise).  No parameters.
 *
 * Max pooling is the engine's nn_maxpool2d_forward, sample by sample: the first maximum
 * in row-major window order wins ties and the first NaN wins over any number, so a NaN
 * input reaches the output and fit's NaN check.  A training forward keeps, for each
 * output value, the offset of its winner within the sample's input (0 .. C*H*W - 1) in
 * l->scratch [batch, C, OH, OW], stored as a float: exact, since infer refuses inputs of
 * 2^24 floats or more.  Backward routes each dy to its winner.  After a convolution,
 * compile fuses the max pooling into it (fused_pool in internal.h): the convolution then
 * pools and keeps the winners here, and these functions do not run.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

enum { POOL_MAX_INDEX = 1 << 24 }; /* integers below this are exact in a float */

static nn_status pool_infer(nn_layer *l, nn_shape in)
{
    char got[64];
    nn_shape_format(in, got, sizeof got);
    int size = l->cfg.pool.size, stride = l->cfg.pool.stride;
    if (in.rank != 3 || nn_shape_size(in) == 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": expects a C x H x W input, got %s%s", NN_LAYER_ARGS(l),
                       got, in.rank == 1 ? "; add nn_reshape(nn_shape_3d(C, H, W)) first" : "");
    if (size > in.dims[1] || size > in.dims[2])
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": window size %d is larger than the %d x %d input (%s)",
                       NN_LAYER_ARGS(l), size, in.dims[1], in.dims[2], got);
    if (nn_shape_size(in) >= POOL_MAX_INDEX)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": input %s holds 2^24 or more values per sample",
                       NN_LAYER_ARGS(l), got);
    l->in = in;
    l->out = nn_shape_3d(in.dims[0], (in.dims[1] - size) / stride + 1,
                         (in.dims[2] - size) / stride + 1);
    return NN_OK;
}

/* "size=2 stride=2" */
static int pool_describe(const nn_layer *l, char *buf, size_t size)
{
    return snprintf(buf, size, "size=%d stride=%d", l->cfg.pool.size, l->cfg.pool.stride);
}

/* ---- Max --------------------------------------------------------------------------- */

static size_t maxpool_scratch_per_sample(const nn_layer *l) { return nn_shape_size(l->out); }

typedef struct pool_job {
    nn_layer *l;
    const float *x, *dy, *pooled; /* pooled: the forward's y, read by backward */
    float *y, *dx;
    float *winners; /* max forward: l->scratch when training, else NULL */
} pool_job;

/* Samples [first, end): y = window maxima of x, and when training, scratch = their
 * offsets (job->winners). */
static void maxpool_forward_samples(void *ctx, size_t first, size_t end)
{
    const pool_job *j = ctx;
    const nn_layer *l = j->l;
    size_t in_n = nn_shape_size(l->in), out_n = nn_shape_size(l->out);
    for (size_t n = first; n < end; n++)
        /* Cannot fail: infer checked the sizes, and the pointers are the model's. */
        (void)nn_maxpool2d_forward(l->in.dims[0], l->in.dims[1], l->in.dims[2],
                                   l->cfg.pool.size, l->cfg.pool.stride, j->x + n * in_n,
                                   j->y + n * out_n, j->winners ? j->winners + n * out_n : NULL);
}

/* y [batch, C, OH, OW] = window maxima of x [batch, C, H, W]; when training, scratch =
 * their offsets (inference skips them: a third of the stores). */
static nn_status maxpool_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    pool_job job = {.l = l, .x = x, .y = y, .winners = training ? l->scratch : NULL};
    nn_parallel_ranges((size_t)batch, (size_t)batch * nn_shape_size(l->in),
                       maxpool_forward_samples, &job);
    return NN_OK;
}

/* Samples [first, end): dx from dy through the winners of the forward; with the ReLU
 * before folded in (l->relu_backward), only where the winner, y, is > 0: the ReLU's mask
 * there, the same for every window that winner wins. */
static void maxpool_backward_samples(void *ctx, size_t first, size_t end)
{
    const pool_job *j = ctx;
    const nn_layer *l = j->l;
    size_t in_n = nn_shape_size(l->in), out_n = nn_shape_size(l->out);
    for (size_t n = first; n < end; n++)
        /* Cannot fail: infer checked the sizes, and the pointers are the model's. */
        (void)nn_maxpool2d_backward(l->in.dims[0], l->in.dims[1], l->in.dims[2],
                                    l->cfg.pool.size, l->cfg.pool.stride, j->dy + n * out_n,
                                    l->scratch + n * out_n,
                                    l->relu_backward ? j->pooled + n * out_n : NULL,
                                    j->dx + n * in_n);
}

/* dx [batch, C, H, W] from dy [batch, C, OH, OW], through the forward's winners. */
static nn_status maxpool_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                                  float *dx, int batch)
{
    (void)x;
    if (!dx)
        return NN_OK;
    pool_job job = {.l = l, .pooled = y, .dy = dy, .dx = dx};
    nn_parallel_ranges((size_t)batch, (size_t)batch * nn_shape_size(l->in),
                       maxpool_backward_samples, &job);
    return NN_OK;
}

static const nn_layer_ops maxpool_ops = {
    .kind = "maxpool2d",
    .infer = pool_infer,
    .scratch_per_sample = maxpool_scratch_per_sample,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .describe = pool_describe,
};

/* ---- Average ----------------------------------------------------------------------- */

/* y [batch, C, OH, OW] = window means of x [batch, C, H, W]. */
static nn_status avgpool_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    (void)training;
    int h = l->in.dims[1], w = l->in.dims[2], oh = l->out.dims[1], ow = l->out.dims[2];
    int size = l->cfg.pool.size, stride = l->cfg.pool.stride;
    int planes = batch * l->in.dims[0];
    float scale = 1.0f / (float)(size * size);
    for (int p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * (size_t)h * (size_t)w;
        float *yp = y + (size_t)p * (size_t)oh * (size_t)ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float sum = 0.0f;
                for (int i = 0; i < size; i++)
                    for (int j = 0; j < size; j++)
                        sum += xp[(oy * stride + i) * w + ox * stride + j];
                yp[oy * ow + ox] = sum * scale;
            }
    }
    return NN_OK;
}

/* dx [batch, C, H, W] = 0, then dy / size^2 added over each window. */
static nn_status avgpool_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                                  float *dx, int batch)
{
    (void)x, (void)y;
    if (!dx)
        return NN_OK;
    int h = l->in.dims[1], w = l->in.dims[2], oh = l->out.dims[1], ow = l->out.dims[2];
    int size = l->cfg.pool.size, stride = l->cfg.pool.stride;
    int planes = batch * l->in.dims[0];
    float scale = 1.0f / (float)(size * size);
    memset(dx, 0, (size_t)planes * (size_t)h * (size_t)w * sizeof *dx);
    for (int p = 0; p < planes; p++) {
        float *dxp = dx + (size_t)p * (size_t)h * (size_t)w;
        const float *dyp = dy + (size_t)p * (size_t)oh * (size_t)ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float g = dyp[oy * ow + ox] * scale;
                for (int i = 0; i < size; i++)
                    for (int j = 0; j < size; j++)
                        dxp[(oy * stride + i) * w + ox * stride + j] += g;
            }
    }
    return NN_OK;
}

static const nn_layer_ops avgpool_ops = {
    .kind = "avgpool2d",
    .infer = pool_infer,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .describe = pool_describe,
};

/* ---- Constructors ------------------------------------------------------------------ */

static nn_layer *pool_new(const nn_layer_ops *ops, const char *who, int size, int stride)
{
    if (size < 1 || stride < 1) {
        nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %s must be at least 1, got %d", who,
                size < 1 ? "size" : "stride", size < 1 ? size : stride);
        return NULL;
    }
    nn_layer *l = nn_layer_new(ops);
    if (l) {
        l->cfg.pool.size = size;
        l->cfg.pool.stride = stride;
    }
    return l;
}

nn_layer *nn_maxpool2d(int size, int stride)
{
    return pool_new(&maxpool_ops, "nn_maxpool2d", size, stride);
}

nn_layer *nn_avgpool2d(int size, int stride)
{
    return pool_new(&avgpool_ops, "nn_avgpool2d", size, stride);
}
