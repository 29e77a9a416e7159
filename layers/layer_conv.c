/*
 * layers/layer_conv.c — the 2-D convolution layer on the engine's im2col + SGEMM
 * convolution (nn_conv2d_forward and its two backward halves).
 *
 * Shapes per sample: x [C, H, W], y [F, OH, OW] with F = filters, a square K x K kernel,
 * OH = (H + 2 P - K) / S + 1 (OW likewise).  Parameters: W [F, C*K*K] then b [F].
 * l->scratch is the engine's workspace (nn_conv2d_workspace_floats: a column matrix
 * [C*K*K, OH*OW] per sample group, and the groups' partial weight and bias gradients; with
 * a max pooling fused after the layer, nn_conv2d_maxpool_workspace_floats, which adds a
 * convolution output per group): its size does not depend on the batch, so it is fixed
 * (scratch_fixed), not per sample.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* The engine's descriptor for this layer and a batch (after infer). */
static nn_conv2d_desc conv_desc(const nn_layer *l, nn_shape in, int batch)
{
    int k = l->cfg.conv.kernel, s = l->cfg.conv.stride, p = l->cfg.conv.padding;
    return (nn_conv2d_desc){.batch = batch, .in_channels = in.dims[0], .height = in.dims[1],
                       .width = in.dims[2], .out_channels = l->cfg.conv.filters,
                       .kernel_h = k, .kernel_w = k, .stride_h = s, .stride_w = s,
                       .pad_h = p, .pad_w = p, .dilation_h = 1, .dilation_w = 1};
}

static nn_status conv_infer(nn_layer *l, nn_shape in)
{
    char got[64];
    nn_shape_format(in, got, sizeof got);
    if (in.rank == 1 && nn_shape_size(in) > 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       NN_LAYER_FMT ": expects a C x H x W input, got the flat %s; add "
                       "nn_reshape(nn_shape_3d(1, 28, 28)) (your image's C, H, W) first",
                       NN_LAYER_ARGS(l), got);
    if (in.rank != 3 || nn_shape_size(in) == 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, NN_LAYER_FMT ": expects a C x H x W input, got %s",
                       NN_LAYER_ARGS(l), got);
    nn_conv2d_desc c = conv_desc(l, in, 1);
    int oh, ow;
    if (nn_conv2d_output_size(&c, &oh, &ow) != NN_OK) {
        char why[256]; /* nn_fail rewrites the buffer nn_last_error points into */
        snprintf(why, sizeof why, "%s", nn_last_error());
        return nn_fail(NN_ERR_INVALID_ARGUMENT, NN_LAYER_FMT ": on input %s: %s",
                       NN_LAYER_ARGS(l), got, why);
    }
    l->in = in;
    l->out = nn_shape_3d(l->cfg.conv.filters, oh, ow);
    return NN_OK;
}

/* C*K*K: the inputs of one filter at one output pixel. */
static int conv_fan_in(const nn_layer *l)
{
    return l->in.dims[0] * l->cfg.conv.kernel * l->cfg.conv.kernel;
}

static size_t conv_param_count(const nn_layer *l)
{
    size_t f = (size_t)l->cfg.conv.filters;
    return f * (size_t)conv_fan_in(l) + f;
}

static size_t conv_scratch_fixed(const nn_layer *l)
{
    nn_conv2d_desc c = conv_desc(l, l->in, 1);
    return l->fused_pool ? nn_conv2d_maxpool_workspace_floats(&c) : nn_conv2d_workspace_floats(&c);
}

/* W from the initializer (fan_in C*K*K, fan_out F*K*K), b = 0. */
static void conv_init_params(nn_layer *l, nn_rng *rng)
{
    int f = l->cfg.conv.filters, k = l->cfg.conv.kernel;
    size_t wcount = (size_t)f * (size_t)conv_fan_in(l);
    nn_init_fill(l->cfg.conv.init, l->params, wcount, conv_fan_in(l), f * k * k, rng);
    memset(l->params + wcount, 0, (size_t)f * sizeof *l->params);
}

/* y [batch, F, OH, OW] = act(conv(x [batch, C, H, W], W [F, C*K*K]) + b [F]); with a
 * pooling fused, y is the pooled [batch, F, PH, PW] and its winners, when training, go
 * to the pooling's scratch for backward. */
static nn_status conv_forward(nn_layer *l, const float *x, float *y, int batch, int training)
{
    nn_conv2d_desc c = conv_desc(l, l->in, batch);
    const float *w = l->params, *b = w + (size_t)l->cfg.conv.filters * (size_t)conv_fan_in(l);
    const nn_layer *pool = l->fused_pool;
    if (!pool)
        return nn_conv2d_forward(&c, x, w, b, l->fused, y, l->scratch);
    return nn_conv2d_forward_maxpool(&c, pool->cfg.pool.size, pool->cfg.pool.stride, x, w, b,
                                     l->fused, y, training ? pool->scratch : NULL, l->scratch);
}

/* From dy [batch, F, OH, OW]: dW [F, C*K*K], db [F] and, if dx, dx [batch, C, H, W].
 * With an activation fused, dy is already the pre-activation gradient (see layer_dense.c).
 * With a pooling fused, dy and y are pooled, and the ReLU's backward is folded in when the
 * pooling has it (relu_backward). */
static nn_status conv_backward(nn_layer *l, const float *x, const float *y, const float *dy,
                               float *dx, int batch)
{
    nn_conv2d_desc c = conv_desc(l, l->in, batch);
    size_t wcount = (size_t)l->cfg.conv.filters * (size_t)conv_fan_in(l);
    const nn_layer *pool = l->fused_pool;
    if (pool)
        return nn_conv2d_backward_maxpool(&c, pool->cfg.pool.size, pool->cfg.pool.stride, x,
                                          l->params, dy, pool->scratch,
                                          pool->relu_backward ? y : NULL, dx, l->grads,
                                          l->grads + wcount, l->scratch);
    nn_status st = nn_conv2d_backward_weights(&c, x, dy, l->grads, l->grads + wcount, l->scratch);
    if (st != NN_OK || !dx)
        return st;
    return nn_conv2d_backward_data(&c, dy, l->params, dx, l->scratch);
}

/* "filters=32 kernel=3 stride=1 padding=0 init=he_normal" */
static int conv_describe(const nn_layer *l, char *buf, size_t size)
{
    return snprintf(buf, size, "filters=%d kernel=%d stride=%d padding=%d init=%s",
                    l->cfg.conv.filters, l->cfg.conv.kernel, l->cfg.conv.stride,
                    l->cfg.conv.padding, nn_init_name(l->cfg.conv.init));
}

static const nn_layer_ops conv_ops = {
    .kind = "conv2d",
    .infer = conv_infer,
    .param_count = conv_param_count,
    .scratch_fixed = conv_scratch_fixed,
    .init_params = conv_init_params,
    .forward = conv_forward,
    .backward = conv_backward,
    .describe = conv_describe,
};

nn_layer *nn_conv2d(int filters, int kernel, int stride, int padding, nn_init init)
{
    const char *bad = filters < 1 ? "filters" : kernel < 1 ? "kernel" : stride < 1 ? "stride" : NULL;
    if (bad) {
        nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_conv2d: %s must be at least 1, got %d", bad,
                filters < 1 ? filters : kernel < 1 ? kernel : stride);
        return NULL;
    }
    if (padding < 0) {
        nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_conv2d: padding must be >= 0, got %d", padding);
        return NULL;
    }
    if ((int)init < 0 || init > NN_INIT_ZEROS) {
        nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_conv2d: unknown initializer %d", (int)init);
        return NULL;
    }
    nn_layer *l = nn_layer_new(&conv_ops);
    if (l) {
        l->cfg.conv.filters = filters;
        l->cfg.conv.kernel = kernel;
        l->cfg.conv.stride = stride;
        l->cfg.conv.padding = padding;
        l->cfg.conv.init = init;
    }
    return l;
}
