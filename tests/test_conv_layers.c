/*
 * test_conv_layers.c — Conv2D, MaxPool2D and AvgPool2D: gradients on every ISA, shape
 * inference through a model, bad hyperparameters, learning a toy problem, model files.
 *
 * Gradient checks follow test_layers.c: one layer on its own buffers (batch 3), the
 * objective L = sum_i c_i y_i (so dL/dy = c), central differences in double over the
 * perturbed values as stored in float.  These layers are linear in their parameters and
 * inputs (max pooling too, while no perturbation changes a window's winner), so the
 * difference has no truncation error and a larger step, GRAD_H = 0.05, only shrinks the
 * rounding error.  Max pooling gets distinct inputs spaced 0.25 apart (> 2 GRAD_H), so no
 * step changes a winner and there are no ties.
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../layers/model_buffers.h"
#include "gradcheck.h"
#include "temp_dir.h"

#define GRAD_H 0.05
#define GRAD_TOL 1e-3
#define GRAD_FLOOR 0.1
#define BATCH 3

/* ---- A one-layer rig with its own buffers ---------------------------------------------- */

typedef struct rig {
    nn_layer *layer;
    double h; /* the finite differences' step */
    size_t in_size, out_size, params;
    float *x, *y, *c, *dx;
    nn_rng rng;
} rig;

static void rig_build(rig *g, nn_layer *l, nn_shape in, uint64_t seed, int distinct)
{
    cr_assert(l != NULL, "%s", nn_last_error());
    *g = (rig){.layer = l, .h = GRAD_H};
    nn_rng_seed(&g->rng, seed);
    l->index = 1;
    cr_assert(l->ops->infer(l, in) == NN_OK, "%s infer: %s", l->ops->kind, nn_last_error());
    g->params = l->ops->param_count ? l->ops->param_count(l) : 0;
    size_t per = l->ops->scratch_per_sample ? l->ops->scratch_per_sample(l) : 0;
    size_t fixed = l->ops->scratch_fixed ? l->ops->scratch_fixed(l) : 0;
    l->params = zalloc(g->params);
    l->grads = zalloc(g->params);
    l->scratch = zalloc(per * BATCH + fixed);
    l->rng = &g->rng;
    for (size_t i = 0; i < g->params; i++)
        l->params[i] = (float)(2 * nn_rng_uniform(&g->rng) - 1);
    g->in_size = nn_shape_size(l->in) * BATCH;
    g->out_size = nn_shape_size(l->out) * BATCH;
    g->x = zalloc(g->in_size);
    g->dx = zalloc(g->in_size);
    g->y = zalloc(g->out_size);
    g->c = zalloc(g->out_size);
    if (distinct) { /* a random permutation of 0.25 k, centred */
        for (size_t i = 0; i < g->in_size; i++)
            g->x[i] = (float)(0.25 * ((double)i - (double)g->in_size / 2));
        for (size_t i = g->in_size - 1; i > 0; i--) {
            size_t j = nn_rng_below(&g->rng, (uint32_t)(i + 1));
            float t = g->x[i];
            g->x[i] = g->x[j], g->x[j] = t;
        }
    } else {
        for (size_t i = 0; i < g->in_size; i++)
            g->x[i] = (float)(2 * nn_rng_uniform(&g->rng) - 1);
    }
    for (size_t i = 0; i < g->out_size; i++)
        g->c[i] = (float)(2 * nn_rng_uniform(&g->rng) - 1);
}

static void rig_free(rig *g)
{
    free(g->layer->params), free(g->layer->grads), free(g->layer->scratch);
    nn_layer_free(g->layer);
    free(g->x), free(g->y), free(g->c), free(g->dx);
}

static double rig_objective(rig *g)
{
    nn_layer *l = g->layer;
    cr_assert(l->ops->forward(l, g->x, g->y, BATCH, 1) == NN_OK, "%s forward: %s",
              l->ops->kind, nn_last_error());
    double sum = 0.0;
    for (size_t i = 0; i < g->out_size; i++)
        sum += (double)g->c[i] * g->y[i];
    return sum;
}

static double objective_of(void *g) { return rig_objective(g); }

static void check_values(rig *g, float *v, const float *grad, size_t n, const char *what)
{
    char label[128];
    snprintf(label, sizeof label, "%s on %s", g->layer->ops->kind, nn_isa_name(nn_get_isa()));
    gradcheck c = {objective_of, g, g->h, GRAD_TOL, GRAD_FLOOR, label};
    gradcheck_values(&c, v, grad, n, what);
}

static void rig_check(rig *g)
{
    nn_layer *l = g->layer;
    rig_objective(g);
    /* garbage in dx and the gradients: backward must overwrite, not add */
    for (size_t i = 0; i < g->in_size; i++)
        g->dx[i] = 1e3f;
    for (size_t i = 0; i < g->params; i++)
        l->grads[i] = 1e3f;
    cr_assert(l->ops->backward(l, g->x, g->y, g->c, g->dx, BATCH) == NN_OK, "%s backward: %s",
              l->ops->kind, nn_last_error());
    float *dx = zalloc(g->in_size), *grads = zalloc(g->params);
    memcpy(dx, g->dx, g->in_size * sizeof *dx);
    memcpy(grads, l->grads, g->params * sizeof *grads);
    check_values(g, l->params, grads, g->params, "params");
    check_values(g, g->x, dx, g->in_size, "input");
    free(dx), free(grads);
}

typedef nn_layer *(*layer_maker)(void);

static void check_on_every_isa_step(layer_maker make, nn_shape in, int distinct, double h)
{
    int ran = 0;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        cr_assert(nn_set_isa((nn_isa)isa) == NN_OK, "%s", nn_last_error());
        rig g;
        rig_build(&g, make(), in, 7 + (uint64_t)isa, distinct);
        g.h = h;
        rig_check(&g);
        rig_free(&g);
        ran++;
    }
    cr_assert(ran >= 1, "no ISA is supported");
}

static void check_on_every_isa(layer_maker make, nn_shape in, int distinct)
{
    check_on_every_isa_step(make, in, distinct, GRAD_H);
}

static nn_layer *conv3(void) { return nn_conv2d(3, 3, 1, 0, NN_INIT_HE_NORMAL); }
static nn_layer *conv3_s2(void) { return nn_conv2d(3, 3, 2, 0, NN_INIT_HE_NORMAL); }
static nn_layer *conv3_p1(void) { return nn_conv2d(3, 3, 1, 1, NN_INIT_HE_NORMAL); }
static nn_layer *conv3_s2_p1(void) { return nn_conv2d(3, 3, 2, 1, NN_INIT_HE_NORMAL); }
static nn_layer *conv1x1(void) { return nn_conv2d(4, 1, 1, 0, NN_INIT_HE_NORMAL); }
/* 16 or more channels in and out, 3x3 at stride 1: the engine's Winograd path */
static nn_layer *conv3_winograd(void) { return nn_conv2d(17, 3, 1, 1, NN_INIT_HE_NORMAL); }
static nn_layer *maxpool2(void) { return nn_maxpool2d(2, 2); }
static nn_layer *maxpool3s2(void) { return nn_maxpool2d(3, 2); }
static nn_layer *avgpool2(void) { return nn_avgpool2d(2, 2); }
static nn_layer *avgpool3s1(void) { return nn_avgpool2d(3, 1); }

static nn_shape img(void) { return nn_shape_3d(2, 6, 5); }

Test(gradient, conv2d) { check_on_every_isa(conv3, img(), 0); }
Test(gradient, conv2d_stride2) { check_on_every_isa(conv3_s2, img(), 0); }
Test(gradient, conv2d_padding1) { check_on_every_isa(conv3_p1, img(), 0); }
Test(gradient, conv2d_stride2_padding1) { check_on_every_isa(conv3_s2_p1, img(), 0); }
Test(gradient, conv2d_1x1) { check_on_every_isa(conv1x1, img(), 0); }
/* Winograd's forward rounds several times worse than a direct sum; the objective is
 * linear in every value, so a step of 1 (no truncation error either) keeps that rounding
 * out of the numeric derivative (at GRAD_H it moved it by 1.4e-3 relative). */
Test(gradient, conv2d_winograd) { check_on_every_isa_step(conv3_winograd, nn_shape_3d(16, 6, 5), 0, 1.0); }
Test(gradient, maxpool2d) { check_on_every_isa(maxpool2, img(), 1); }
Test(gradient, maxpool2d_overlapping) { check_on_every_isa(maxpool3s2, nn_shape_3d(2, 7, 7), 1); }
Test(gradient, avgpool2d) { check_on_every_isa(avgpool2, img(), 0); }
Test(gradient, avgpool2d_overlapping) { check_on_every_isa(avgpool3s1, img(), 0); }

/* ---- Forward values ---------------------------------------------------------------------- */

Test(conv2d, forward_matches_a_direct_loop_and_describes_itself)
{
    rig g;
    rig_build(&g, conv3_s2_p1(), img(), 3, 0);
    rig_objective(&g);
    nn_layer *l = g.layer;
    int C = 2, H = 6, W = 5, F = 3, K = 3, OH = l->out.dims[1], OW = l->out.dims[2];
    cr_assert(OH == 3 && OW == 3, "out %dx%d", OH, OW);
    const float *w = l->params, *b = w + F * C * K * K;
    for (int n = 0; n < BATCH; n++)
        for (int f = 0; f < F; f++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double s = b[f];
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < K; i++)
                            for (int j = 0; j < K; j++) {
                                int yy = oy * 2 - 1 + i, xx = ox * 2 - 1 + j;
                                if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                                    s += (double)w[((f * C + c) * K + i) * K + j] *
                                         g.x[((n * C + c) * H + yy) * W + xx];
                            }
                    float got = g.y[((n * F + f) * OH + oy) * OW + ox];
                    cr_assert(fabs(got - s) <= 1e-5 * fmax(1, fabs(s)), "y %g, direct %g", got, s);
                }
    char buf[128];
    l->ops->describe(l, buf, sizeof buf);
    cr_assert_str_eq(buf, "filters=3 kernel=3 stride=2 padding=1 init=he_normal");
    rig_free(&g);
}

Test(pooling, forward_values_and_describe)
{
    nn_layer *mp = nn_maxpool2d(2, 2), *ap = nn_avgpool2d(2, 2);
    float x[16], y[4], z[4], scratch[4];
    for (int i = 0; i < 16; i++)
        x[i] = (float)((i * 7) % 16); /* 0 7 14 5 / 12 3 10 1 / 8 15 6 13 / 4 11 2 9 */
    mp->scratch = scratch;
    cr_assert(mp->ops->infer(mp, nn_shape_3d(1, 4, 4)) == NN_OK);
    cr_assert(ap->ops->infer(ap, nn_shape_3d(1, 4, 4)) == NN_OK);
    cr_assert(mp->ops->forward(mp, x, y, 1, 0) == NN_OK);
    cr_assert(ap->ops->forward(ap, x, z, 1, 0) == NN_OK);
    float want_max[4] = {12, 14, 15, 13}, want_avg[4] = {5.5f, 7.5f, 9.5f, 7.5f};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(y[i], want_max[i], "max[%d] = %g", i, y[i]);
        cr_assert_eq(z[i], want_avg[i], "avg[%d] = %g", i, z[i]);
    }
    char buf[64];
    mp->ops->describe(mp, buf, sizeof buf);
    cr_assert_str_eq(buf, "size=2 stride=2");
    nn_layer_free(mp);
    nn_layer_free(ap);
}

Test(maxpool2d, nan_propagates_and_ties_go_to_the_first)
{
    nn_layer *mp = nn_maxpool2d(2, 2);
    float x[8] = {1, 2, NAN, 0, /* window 0: 1 2 / 3 4 -> NaN-free; window 1 has NaN */
                  3, 4, 5, 5};
    float y[2], scratch[2], dy[2] = {1, 1}, dx[8];
    mp->scratch = scratch;
    cr_assert(mp->ops->infer(mp, nn_shape_3d(1, 2, 4)) == NN_OK);
    cr_assert(mp->ops->forward(mp, x, y, 1, 1) == NN_OK);
    cr_assert_eq(y[0], 4.0f);
    cr_assert(isnan(y[1]), "a NaN in the window must reach the output, got %g", y[1]);
    float t[8] = {5, 5, 1, 1, 5, 5, 1, 1};
    cr_assert(mp->ops->forward(mp, t, y, 1, 1) == NN_OK);
    cr_assert(mp->ops->backward(mp, t, y, dy, dx, 1) == NN_OK);
    float want[8] = {1, 0, 1, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(dx[i], want[i], "dx[%d] = %g", i, dx[i]);
    nn_layer_free(mp);
}

/* The general window loop (any size) keeps the same rules as the 2 x 2 fast path. */
Test(maxpool2d, nan_and_ties_in_the_general_window_loop)
{
    nn_layer *mp = nn_maxpool2d(3, 3);
    float x[9] = {1, 7, 7, 2, NAN, 7, 0, 0, 9}, y[1], scratch[1], dy[1] = {1}, dx[9];
    mp->scratch = scratch;
    cr_assert(mp->ops->infer(mp, nn_shape_3d(1, 3, 3)) == NN_OK);
    cr_assert(mp->ops->forward(mp, x, y, 1, 1) == NN_OK);
    cr_assert(isnan(y[0]), "a NaN in the window must reach the output, got %g", y[0]);
    x[4] = 3;
    x[8] = 7;
    cr_assert(mp->ops->forward(mp, x, y, 1, 1) == NN_OK);
    cr_assert(mp->ops->backward(mp, x, y, dy, dx, 1) == NN_OK);
    cr_assert_eq(y[0], 7.0f);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(dx[i], i == 1 ? 1.0f : 0.0f, "dx[%d] = %g: the first 7 wins", i, dx[i]);
    nn_layer_free(mp);
}

/* compile fuses a ReLU into the convolution before it: the same bits as the two layers. */
Test(conv2d, fused_relu_gives_the_bits_of_the_two_layers)
{
    rig g;
    rig_build(&g, nn_conv2d(5, 3, 1, 1, NN_INIT_HE_NORMAL), nn_shape_3d(3, 9, 8), 11, 0);
    nn_layer *relu = nn_relu();
    cr_assert(relu->ops->infer(relu, g.layer->out) == NN_OK);
    float *apart = zalloc(g.out_size);
    cr_assert(g.layer->ops->forward(g.layer, g.x, apart, BATCH, 1) == NN_OK);
    cr_assert(relu->ops->forward(relu, apart, apart, BATCH, 1) == NN_OK);
    g.layer->fused = NN_ACT_RELU;
    cr_assert(g.layer->ops->forward(g.layer, g.x, g.y, BATCH, 1) == NN_OK);
    cr_assert(memcmp(apart, g.y, g.out_size * sizeof(float)) == 0);
    free(apart);
    nn_layer_free(relu);
    rig_free(&g);
}

/* compile folds a ReLU's backward into the max pooling after it: the same bits as the
 * ReLU's backward after the pooling's, with overlapping windows (a value winning several)
 * and inputs at or below zero. */
static void check_relu_folded_into_maxpool(int size, int stride)
{
    enum { C = 2, H = 7, W = 7, N = 2 };
    nn_layer *relu = nn_relu(), *mp = nn_maxpool2d(size, stride);
    cr_assert(relu->ops->infer(relu, nn_shape_3d(C, H, W)) == NN_OK);
    cr_assert(mp->ops->infer(mp, relu->out) == NN_OK);
    size_t in = (size_t)N * C * H * W, out = (size_t)N * nn_shape_size(mp->out);
    float *x = zalloc(in), *r = zalloc(in), *y = zalloc(out), *dy = zalloc(out);
    float *d_pool = zalloc(in), *apart = zalloc(in), *folded = zalloc(in);
    mp->scratch = zalloc(out);
    nn_rng rng;
    nn_rng_seed(&rng, 3);
    for (size_t i = 0; i < in; i++) /* a third of them exactly 0 after the ReLU */
        x[i] = i % 3 ? (float)(2 * nn_rng_uniform(&rng) - 1) : -1.0f;
    for (size_t i = 0; i < out; i++)
        dy[i] = (float)(2 * nn_rng_uniform(&rng) - 1);
    cr_assert(relu->ops->forward(relu, x, r, N, 1) == NN_OK);
    cr_assert(mp->ops->forward(mp, r, y, N, 1) == NN_OK);
    cr_assert(mp->ops->backward(mp, r, y, dy, d_pool, N) == NN_OK);
    cr_assert(relu->ops->backward(relu, x, r, d_pool, apart, N) == NN_OK);
    mp->relu_backward = 1;
    cr_assert(mp->ops->backward(mp, r, y, dy, folded, N) == NN_OK);
    cr_assert(memcmp(apart, folded, in * sizeof(float)) == 0, "size %d stride %d", size, stride);
    free(mp->scratch);
    free(x), free(r), free(y), free(dy), free(d_pool), free(apart), free(folded);
    nn_layer_free(relu);
    nn_layer_free(mp);
}

Test(maxpool2d, relu_backward_folded_in_gives_the_bits_of_the_two)
{
    check_relu_folded_into_maxpool(2, 2);
    check_relu_folded_into_maxpool(3, 2);
}

/* ---- Through a model --------------------------------------------------------------------- */

static void add_ok(nn_model *m, nn_layer *l)
{
    cr_assert(nn_model_add(m, l) == NN_OK, "%s", nn_last_error());
}

static nn_model *mnist_cnn(void)
{
    nn_model *m;
    cr_assert(nn_model_create(&m, nn_shape_3d(1, 28, 28)) == NN_OK, "%s", nn_last_error());
    add_ok(m, nn_conv2d(32, 3, 1, 0, NN_INIT_HE_NORMAL));
    add_ok(m, nn_relu());
    add_ok(m, nn_maxpool2d(2, 2));
    add_ok(m, nn_conv2d(64, 3, 1, 0, NN_INIT_HE_NORMAL));
    add_ok(m, nn_relu());
    add_ok(m, nn_maxpool2d(2, 2));
    add_ok(m, nn_flatten());
    add_ok(m, nn_dense(128, NN_INIT_HE_NORMAL));
    add_ok(m, nn_relu());
    add_ok(m, nn_dense(10, NN_INIT_GLOROT_UNIFORM));
    add_ok(m, nn_softmax());
    return m;
}

Test(model, cnn_shapes_are_inferred)
{
    nn_model *m = mnist_cnn();
    const char *want[] = {"32x26x26", "32x26x26", "32x13x13", "64x11x11", "64x11x11",
                          "64x5x5",   "1600",     "128",      "128",      "10",
                          "10"};
    cr_assert_eq(m->count, 11);
    for (int i = 0; i < m->count; i++) {
        char got[64];
        nn_shape_format(m->layers[i]->out, got, sizeof got);
        cr_assert_str_eq(got, want[i], "layer %d: %s, want %s", i, got, want[i]);
    }
    size_t params = (32 * 9 + 32) + (64 * 32 * 9 + 64) + (1600 * 128 + 128) + (128 * 10 + 10);
    nn_optimizer opt = nn_adam(1e-3f);
    cr_assert(nn_model_compile(m, &opt, NN_LOSS_CROSS_ENTROPY, 8, 1) == NN_OK, "%s",
              nn_last_error());
    cr_assert_eq(nn_model_param_count(m), params);
    char summary[4096];
    nn_model_summary(m, summary, sizeof summary);
    cr_assert(strstr(summary, "filters=32 kernel=3 stride=1 padding=0 init=he_normal"), "%s",
              summary);
    cr_assert(strstr(summary, "maxpool2d"), "%s", summary);
    /* Flatten is a view: the pooling's buffers under another shape, nothing copied */
    cr_assert(strstr(summary, "[a view of layer 5's output]"), "%s", summary);
    cr_assert(m->buffers->act[6] == m->buffers->act[5] && m->buffers->grad[6] == m->buffers->grad[5]);
    float x[2 * 784], y[20];
    for (int i = 0; i < 2 * 784; i++)
        x[i] = (float)(i % 17) / 17.0f;
    cr_assert(nn_model_predict(m, x, 2, y) == NN_OK, "%s", nn_last_error());
    for (int n = 0; n < 2; n++) {
        double s = 0;
        for (int k = 0; k < 10; k++)
            s += y[n * 10 + k];
        cr_assert(fabs(s - 1) < 1e-4, "softmax row sums to %g", s);
    }
    nn_model_free(m);
}

/* Inference runs in chunks sized to the caches (fewer samples than max_batch for this
 * network); every sample must get the bits it gets alone. */
Test(model, cnn_predicts_the_same_bits_in_chunks_as_alone)
{
    enum { N = 300 };
    nn_model *m = mnist_cnn();
    nn_optimizer opt = nn_adam(1e-3f);
    cr_assert(nn_model_compile(m, &opt, NN_LOSS_CROSS_ENTROPY, N, 1) == NN_OK, "%s",
              nn_last_error());
    static float x[N * 784], together[N * 10], alone[N * 10];
    for (int i = 0; i < N * 784; i++)
        x[i] = (float)((i * 7919) % 251) / 251.0f;
    cr_assert(nn_model_predict(m, x, N, together) == NN_OK, "%s", nn_last_error());
    for (int n = 0; n < N; n++)
        cr_assert(nn_model_predict(m, x + n * 784, 1, alone + n * 10) == NN_OK, "%s",
                  nn_last_error());
    cr_assert(memcmp(together, alone, sizeof alone) == 0,
              "a sample's prediction depends on the samples around it");
    nn_model_free(m);
}

/* A small CNN with both kinds of pooling fusion compile does (conv-ReLU-pool and
 * conv-pool), or, with `apart`, an identity Reshape before each pooling, which keeps
 * every layer to itself. */
static nn_model *pooled_cnn(int apart)
{
    nn_model *m;
    cr_assert(nn_model_create(&m, nn_shape_3d(2, 12, 11)) == NN_OK, "%s", nn_last_error());
    add_ok(m, nn_conv2d(4, 3, 1, 1, NN_INIT_HE_NORMAL));
    add_ok(m, nn_relu());
    if (apart)
        add_ok(m, nn_reshape(nn_shape_3d(4, 12, 11)));
    add_ok(m, nn_maxpool2d(2, 2));
    add_ok(m, nn_conv2d(6, 3, 1, 0, NN_INIT_HE_NORMAL));
    if (apart)
        add_ok(m, nn_reshape(nn_shape_3d(6, 4, 3)));
    add_ok(m, nn_maxpool2d(2, 1));
    add_ok(m, nn_flatten());
    add_ok(m, nn_dense(3, NN_INIT_GLOROT_UNIFORM));
    add_ok(m, nn_softmax());
    nn_optimizer opt = nn_adam(1e-2f);
    cr_assert(nn_model_compile(m, &opt, NN_LOSS_CROSS_ENTROPY, 16, 4) == NN_OK, "%s",
              nn_last_error());
    return m;
}

/* compile fuses each max pooling into the convolution before it; training and predicting
 * give the bits of the layers kept apart. */
Test(model, pooling_fused_into_the_convolution_gives_the_bits_of_the_layers_apart)
{
    enum { N = 40, FEATURES = 2 * 12 * 11 };
    static float x[N * FEATURES], fused_y[N * 3], apart_y[N * 3];
    static int32_t labels[N];
    nn_rng rng;
    nn_rng_seed(&rng, 8);
    for (int i = 0; i < N * FEATURES; i++)
        x[i] = (float)(2 * nn_rng_uniform(&rng) - 1);
    for (int i = 0; i < N; i++)
        labels[i] = i % 3;
    nn_model *fused = pooled_cnn(0), *apart = pooled_cnn(1);
    cr_assert(fused->layers[0]->fused_pool == fused->layers[2], "conv-ReLU-pool not fused");
    cr_assert(fused->layers[3]->fused_pool == fused->layers[4], "conv-pool not fused");
    cr_assert(!apart->layers[0]->fused_pool && !apart->layers[4]->fused_pool);
    char summary[4096];
    nn_model_summary(fused, summary, sizeof summary);
    cr_assert(strstr(summary, "[fused into layer 3]"), "%s", summary);
    nn_dataset d = {.x = x, .labels = labels, .count = N, .features = FEATURES, .targets = 3};
    nn_fit_options fo = {.epochs = 2, .batch = 16, .seed = 2};
    cr_assert(nn_model_fit(fused, &d, NULL, &fo, NULL) == NN_OK, "%s", nn_last_error());
    cr_assert(nn_model_fit(apart, &d, NULL, &fo, NULL) == NN_OK, "%s", nn_last_error());
    size_t params = nn_model_param_count(fused);
    cr_assert_eq(params, nn_model_param_count(apart));
    cr_assert(memcmp(fused->params, apart->params, params * sizeof(float)) == 0,
              "the trained parameters differ");
    cr_assert(nn_model_predict(fused, x, N, fused_y) == NN_OK, "%s", nn_last_error());
    cr_assert(nn_model_predict(apart, x, N, apart_y) == NN_OK, "%s", nn_last_error());
    cr_assert(memcmp(fused_y, apart_y, sizeof fused_y) == 0, "the predictions differ");
    nn_model_free(fused);
    nn_model_free(apart);
}

/* nn_model_add's status and message for layer l after input `in`. */
static nn_status add_after(nn_shape in, nn_layer *l, char *msg, size_t size)
{
    nn_model *m;
    cr_assert(nn_model_create(&m, in) == NN_OK);
    nn_status st = nn_model_add(m, l);
    snprintf(msg, size, "%s", nn_last_error());
    nn_model_free(m);
    return st;
}

Test(errors, bad_hyperparameters_name_the_layer)
{
    char msg[512];
    cr_assert_neq(add_after(nn_shape_3d(1, 4, 4), nn_conv2d(2, 5, 1, 0, NN_INIT_HE_NORMAL),
                            msg, sizeof msg), NN_OK);
    cr_assert(strstr(msg, "layer 0 (conv2d)"), "%s", msg);
    cr_assert(strstr(msg, "kernel"), "%s", msg);
    cr_assert_neq(add_after(nn_shape_1d(784), nn_conv2d(2, 3, 1, 0, NN_INIT_HE_NORMAL), msg,
                            sizeof msg), NN_OK);
    cr_assert(strstr(msg, "layer 0 (conv2d)") && strstr(msg, "nn_reshape(nn_shape_3d(1, 28, 28))"),
              "%s", msg);
    cr_assert_neq(add_after(nn_shape_3d(1, 3, 3), nn_maxpool2d(4, 1), msg, sizeof msg), NN_OK);
    cr_assert(strstr(msg, "layer 0 (maxpool2d)"), "%s", msg);
    cr_assert_neq(add_after(nn_shape_1d(9), nn_avgpool2d(2, 2), msg, sizeof msg), NN_OK);
    cr_assert(strstr(msg, "layer 0 (avgpool2d)"), "%s", msg);

    cr_assert_null(nn_conv2d(2, 3, 0, 0, NN_INIT_HE_NORMAL));
    cr_assert(strstr(nn_last_error(), "nn_conv2d") && strstr(nn_last_error(), "stride"),
              "%s", nn_last_error());
    cr_assert_null(nn_conv2d(2, 3, 1, -1, NN_INIT_HE_NORMAL));
    cr_assert(strstr(nn_last_error(), "padding"), "%s", nn_last_error());
    cr_assert_null(nn_conv2d(0, 3, 1, 0, NN_INIT_HE_NORMAL));
    cr_assert(strstr(nn_last_error(), "filters"), "%s", nn_last_error());
    cr_assert_null(nn_conv2d(2, 0, 1, 0, NN_INIT_HE_NORMAL));
    cr_assert(strstr(nn_last_error(), "kernel"), "%s", nn_last_error());
    cr_assert_null(nn_maxpool2d(2, 0));
    cr_assert(strstr(nn_last_error(), "nn_maxpool2d") && strstr(nn_last_error(), "stride"), "%s",
              nn_last_error());
    cr_assert_null(nn_avgpool2d(0, 1));
    cr_assert(strstr(nn_last_error(), "size"), "%s", nn_last_error());
}

/* ---- Learning ------------------------------------------------------------------------------ */

/* n 8x8 images: a bright vertical (label 0) or horizontal (label 1) bar at a random row or
 * column, on noise in [0, 0.3). */
static void bars(float *x, int32_t *labels, int n, nn_rng *rng)
{
    for (int s = 0; s < n; s++) {
        float *im = x + s * 64;
        for (int i = 0; i < 64; i++)
            im[i] = (float)(0.3 * nn_rng_uniform(rng));
        int label = (int)nn_rng_below(rng, 2), at = (int)nn_rng_below(rng, 8);
        for (int k = 0; k < 8; k++)
            im[label == 0 ? k * 8 + at : at * 8 + k] = 1.0f;
        labels[s] = label;
    }
}

static nn_model *tiny_cnn(int max_batch)
{
    nn_model *m;
    cr_assert(nn_model_create(&m, nn_shape_3d(1, 8, 8)) == NN_OK);
    add_ok(m, nn_conv2d(4, 3, 1, 1, NN_INIT_HE_NORMAL));
    add_ok(m, nn_relu());
    add_ok(m, nn_maxpool2d(2, 2));
    add_ok(m, nn_conv2d(8, 3, 1, 0, NN_INIT_GLOROT_UNIFORM));
    add_ok(m, nn_avgpool2d(1, 1));
    add_ok(m, nn_flatten());
    add_ok(m, nn_dense(2, NN_INIT_GLOROT_UNIFORM));
    add_ok(m, nn_softmax());
    nn_optimizer opt = nn_adam(1e-2f);
    cr_assert(nn_model_compile(m, &opt, NN_LOSS_CROSS_ENTROPY, max_batch, 42) == NN_OK, "%s",
              nn_last_error());
    return m;
}

Test(model, tiny_cnn_learns_bars)
{
    enum { TRAIN = 400, TEST = 200 };
    static float x[(TRAIN + TEST) * 64];
    static int32_t labels[TRAIN + TEST];
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    bars(x, labels, TRAIN + TEST, &rng);
    nn_model *m = tiny_cnn(16);
    nn_dataset train = {.x = x, .labels = labels, .count = TRAIN, .features = 64, .targets = 2};
    nn_dataset test = {.x = x + TRAIN * 64, .labels = labels + TRAIN, .count = TEST,
                       .features = 64, .targets = 2};
    nn_fit_options fo = {.epochs = 5, .batch = 16, .seed = 9};
    cr_assert(nn_model_fit(m, &train, NULL, &fo, NULL) == NN_OK, "%s", nn_last_error());
    nn_evaluation ev;
    cr_assert(nn_model_evaluate(m, &test, &ev) == NN_OK, "%s", nn_last_error());
    cr_assert(ev.metric[NN_METRIC_ACCURACY] > 0.95f, "accuracy %g",
              (double)ev.metric[NN_METRIC_ACCURACY]);
    nn_evaluation_free(&ev);
    nn_model_free(m);
}

/* ---- Model files --------------------------------------------------------------------------- */

TestSuite(file, .init = temp_dir_make, .fini = temp_dir_remove);

Test(file, cnn_round_trip_is_bit_exact)
{
    enum { N = 64 };
    static float x[N * 64];
    static int32_t labels[N];
    nn_rng rng;
    nn_rng_seed(&rng, 11);
    bars(x, labels, N, &rng);
    nn_model *a = tiny_cnn(8), *b;
    nn_dataset train = {.x = x, .labels = labels, .count = N, .features = 64, .targets = 2};
    nn_fit_options fo = {.epochs = 1, .batch = 8, .seed = 1};
    cr_assert(nn_model_fit(a, &train, NULL, &fo, NULL) == NN_OK, "%s", nn_last_error());
    char path[128];
    snprintf(path, sizeof path, "%s/cnn.safetensors", dir);
    cr_assert_eq(nn_model_save(a, path), NN_OK, "%s", nn_last_error());
    cr_assert_eq(nn_model_load(&b, path, 8), NN_OK, "%s", nn_last_error());
    cr_assert_eq(b->count, a->count);
    for (int i = 0; i < a->count; i++) {
        char da[128], db[128];
        a->layers[i]->ops->describe(a->layers[i], da, sizeof da);
        b->layers[i]->ops->describe(b->layers[i], db, sizeof db);
        cr_assert_str_eq(a->layers[i]->ops->kind, b->layers[i]->ops->kind);
        cr_assert_str_eq(da, db);
    }
    cr_assert_eq(a->param_count, b->param_count);
    cr_assert(memcmp(a->params, b->params, a->param_count * sizeof(float)) == 0,
              "parameters differ after the round trip");
    static float ya[N * 2], yb[N * 2];
    cr_assert(nn_model_predict(a, x, N, ya) == NN_OK, "%s", nn_last_error());
    cr_assert(nn_model_predict(b, x, N, yb) == NN_OK, "%s", nn_last_error());
    cr_assert(memcmp(ya, yb, sizeof ya) == 0, "predictions differ after the round trip");
    nn_model_free(a);
    nn_model_free(b);
}
