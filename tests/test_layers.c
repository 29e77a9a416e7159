/*
 * test_layers.c — every layer's forward and backward, on every ISA this machine runs.
 *
 * Gradient checks: a rig of one layer (or Dense with an activation fused into it) on a
 * small random problem (batch 3); the objective is L = sum_i c_i y_i with random c, so
 * dL/dy = c.  Each parameter and input is moved by +-h and the central difference
 * (L+ - L-) / (v+ - v-) is taken in double, where v+- are the perturbed values as stored
 * in float (so the step has no rounding error) and L is summed in double.  The forward
 * itself is float, so the difference carries about FLT_EPSILON |L| / h of rounding and
 * h^2 |L'''| / 6 of truncation; h = 1e-2 balances the two (both ~1e-5 here).  Bound:
 *     |analytic - numeric| <= GRAD_TOL * max(|analytic|, |numeric|, GRAD_FLOOR)
 * with GRAD_TOL = 1e-3 and GRAD_FLOOR = 0.1 (an absolute 1e-4 for small gradients).
 * ReLU kinks: inputs and pre-activations are kept further than h from 0 (every
 * perturbation moves a pre-activation by at most h, as |x|, |W| <= 1).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../layers/internal.h"
#include "gradcheck.h"

#define GRAD_H 1e-2
#define GRAD_TOL 1e-3
#define GRAD_FLOOR 0.1
#define KINK_MARGIN (2 * GRAD_H)
#define BATCH 3

/* ---- A rig: up to two layers with their own buffers ---------------------------------- */

typedef struct rig {
    nn_layer *layer[2]; /* layer[1] may be NULL */
    int count, fused;   /* fused: layer[1]'s forward is skipped, as compile does */
    int batch, training;
    size_t in_size, mid_size, out_size;
    float *x, *mid, *y, *c, *dmid, *dx;
    nn_rng rng;         /* the layers' generator (dropout), reseeded before each forward */
} rig;

static size_t count_or_zero(size_t (*f)(const nn_layer *), const nn_layer *l)
{
    return f ? f(l) : 0;
}

/* Infers the shape, points params/grads/scratch at fresh buffers, fills params in [-1, 1]. */
static void attach(nn_layer *l, int index, nn_shape in, int batch, nn_rng *rng)
{
    l->index = index;
    cr_assert(l->ops->infer(l, in) == NN_OK, "%s infer: %s", l->ops->kind, nn_last_error());
    size_t n = count_or_zero(l->ops->param_count, l);
    l->params = zalloc(n);
    l->grads = zalloc(n);
    l->scratch = zalloc(count_or_zero(l->ops->scratch_per_sample, l) * (size_t)batch);
    l->rng = rng;
    for (size_t i = 0; i < n; i++)
        l->params[i] = (float)(2 * nn_rng_uniform(rng) - 1);
}

/* Random values of magnitude in [0.1, 1] and random sign: away from the ReLU kink. */
static void fill_away_from_zero(float *x, size_t n, nn_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        double m = 0.1 + 0.9 * nn_rng_uniform(rng);
        x[i] = (float)(nn_rng_uniform(rng) < 0.5 ? -m : m);
    }
}

static void rig_build(rig *g, nn_layer *l0, nn_layer *l1, int fused, nn_shape in, uint64_t seed)
{
    *g = (rig){.layer = {l0, l1}, .count = l1 ? 2 : 1, .fused = fused, .batch = BATCH};
    nn_rng_seed(&g->rng, seed);
    attach(l0, 1, in, g->batch, &g->rng);
    if (l1)
        attach(l1, 2, l0->out, g->batch, &g->rng);
    if (fused) {
        l0->fused = l1->cfg.activation.act;
        l1->fused_into_previous = 1;
    }
    nn_layer *last = l1 ? l1 : l0;
    g->in_size = nn_shape_size(l0->in) * g->batch;
    g->mid_size = nn_shape_size(l0->out) * g->batch;
    g->out_size = nn_shape_size(last->out) * g->batch;
    g->x = zalloc(g->in_size);
    g->dx = zalloc(g->in_size);
    g->mid = zalloc(g->mid_size);
    g->dmid = zalloc(g->mid_size);
    g->y = zalloc(g->out_size);
    g->c = zalloc(g->out_size);
    fill_away_from_zero(g->x, g->in_size, &g->rng);
    fill_away_from_zero(g->c, g->out_size, &g->rng);
}

/* Frees a layer made by attach. */
static void release(nn_layer *l)
{
    free(l->params);
    free(l->grads);
    free(l->scratch);
    nn_layer_free(l);
}

static void rig_free(rig *g)
{
    for (int i = 0; i < g->count; i++)
        release(g->layer[i]);
    free(g->x), free(g->dx), free(g->mid), free(g->dmid), free(g->y), free(g->c);
}

/* Runs the forward pass (the same dropout mask every time) and returns L = sum c y. */
static double rig_objective(rig *g)
{
    nn_layer *l0 = g->layer[0], *l1 = g->layer[1];
    nn_rng_seed(&g->rng, 0xD0D0);
    float *out0 = g->count == 1 || g->fused ? g->y : g->mid;
    cr_assert(l0->ops->forward(l0, g->x, out0, g->batch, g->training) == NN_OK, "%s forward: %s",
              l0->ops->kind, nn_last_error());
    if (g->count == 2 && !g->fused)
        cr_assert(l1->ops->forward(l1, g->mid, g->y, g->batch, g->training) == NN_OK,
                  "%s forward: %s", l1->ops->kind, nn_last_error());
    double sum = 0.0;
    for (size_t i = 0; i < g->out_size; i++)
        sum += (double)g->c[i] * g->y[i];
    return sum;
}

/* Forward, then backward from dy = c, as the model runs them: the activation's backward
 * from y, then Dense's from the pre-activation gradient. */
static void rig_backward(rig *g)
{
    nn_layer *l0 = g->layer[0], *l1 = g->layer[1];
    rig_objective(g);
    const float *dy0 = g->c, *y0 = g->y;
    if (g->count == 2) {
        const float *x1 = g->fused ? NULL : g->mid;
        cr_assert(l1->ops->backward(l1, x1, g->y, g->c, g->dmid, g->batch) == NN_OK,
                  "%s backward: %s", l1->ops->kind, nn_last_error());
        dy0 = g->dmid;
        y0 = g->fused ? g->y : g->mid;
    }
    cr_assert(l0->ops->backward(l0, g->x, y0, dy0, g->dx, g->batch) == NN_OK, "%s backward: %s",
              l0->ops->kind, nn_last_error());
}

static double objective_of(void *g) { return rig_objective(g); }

/* Asserts grad[i] matches the central difference in v[i] for n values. */
static void check_values(rig *g, float *v, const float *grad, size_t n, const char *what)
{
    char label[128];
    snprintf(label, sizeof label, "%s (%s) on %s", g->layer[0]->ops->kind,
             g->count == 2 ? g->layer[1]->ops->kind : "alone", nn_isa_name(nn_get_isa()));
    gradcheck c = {objective_of, g, GRAD_H, GRAD_TOL, GRAD_FLOOR, label};
    gradcheck_values(&c, v, grad, n, what);
}

/* Checks the input gradient and every layer's parameter gradients. */
static void rig_check(rig *g)
{
    rig_backward(g);
    float *dx = zalloc(g->in_size);
    memcpy(dx, g->dx, g->in_size * sizeof *dx);
    for (int k = 0; k < g->count; k++) {
        nn_layer *l = g->layer[k];
        size_t n = count_or_zero(l->ops->param_count, l);
        float *grads = zalloc(n);
        memcpy(grads, l->grads, n * sizeof *grads);
        check_values(g, l->params, grads, n, "params");
        free(grads);
    }
    check_values(g, g->x, dx, g->in_size, "input");
    free(dx);
}

/* ---- Running on every ISA -------------------------------------------------------------- */

typedef nn_layer *(*layer_maker)(void);

static nn_layer *dense4(void) { return nn_dense(4, NN_INIT_ZEROS); }

/* Smallest |pre-activation| of a Dense layer: its output with fusion turned off. */
static double min_abs_preactivation(rig *g)
{
    nn_activation fused = g->layer[0]->fused;
    g->layer[0]->fused = NN_ACT_NONE;
    cr_assert(g->layer[0]->ops->forward(g->layer[0], g->x, g->mid, g->batch, 0) == NN_OK);
    g->layer[0]->fused = fused;
    double m = INFINITY;
    for (size_t i = 0; i < g->mid_size; i++)
        m = fmin(m, fabs(g->mid[i]));
    return m;
}

/* Builds the rig from the first seed whose pre-activations stay clear of the ReLU kink. */
static void rig_build_kink_free(rig *g, layer_maker first, layer_maker second, int fused,
                                nn_shape in)
{
    for (uint64_t seed = 1; seed <= 100; seed++) {
        rig_build(g, first(), second ? second() : NULL, fused, in, seed);
        if (!second || min_abs_preactivation(g) > KINK_MARGIN)
            return;
        rig_free(g);
    }
    cr_assert_fail("no seed in 1..100 keeps the pre-activations away from 0");
}

/* Gradient check of first (then second, fused or not) on every supported ISA. */
static void check_on_every_isa(layer_maker first, layer_maker second, int fused, nn_shape in,
                               int training)
{
    int ran = 0;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        cr_assert(nn_set_isa((nn_isa)isa) == NN_OK, "%s", nn_last_error());
        rig g;
        rig_build_kink_free(&g, first, second, fused, in);
        g.training = training;
        rig_check(&g);
        rig_free(&g);
        ran++;
    }
    cr_assert(ran >= 1, "no ISA is supported");
}

static nn_shape flat5(void) { return nn_shape_1d(5); }

Test(gradient, dense) { check_on_every_isa(dense4, NULL, 0, flat5(), 0); }
Test(gradient, dense_relu_fused) { check_on_every_isa(dense4, nn_relu, 1, flat5(), 0); }
Test(gradient, dense_sigmoid_fused) { check_on_every_isa(dense4, nn_sigmoid, 1, flat5(), 0); }
Test(gradient, dense_tanh_fused) { check_on_every_isa(dense4, nn_tanh, 1, flat5(), 0); }
Test(gradient, dense_then_relu) { check_on_every_isa(dense4, nn_relu, 0, flat5(), 0); }
Test(gradient, relu) { check_on_every_isa(nn_relu, NULL, 0, flat5(), 0); }
Test(gradient, sigmoid) { check_on_every_isa(nn_sigmoid, NULL, 0, flat5(), 0); }
Test(gradient, tanh) { check_on_every_isa(nn_tanh, NULL, 0, flat5(), 0); }
Test(gradient, softmax) { check_on_every_isa(nn_softmax, NULL, 0, flat5(), 0); }
Test(gradient, softmax_3d) { check_on_every_isa(nn_softmax, NULL, 0, nn_shape_3d(2, 2, 3), 0); }
Test(gradient, flatten) { check_on_every_isa(nn_flatten, NULL, 0, nn_shape_3d(2, 2, 3), 0); }

static nn_layer *dropout_half(void) { return nn_dropout(0.5f); }
static nn_layer *reshape_3d(void) { return nn_reshape(nn_shape_3d(3, 2, 2)); }

/* Training: each forward draws the same mask (the rig reseeds the generator). */
Test(gradient, dropout_fixed_mask) { check_on_every_isa(dropout_half, NULL, 0, flat5(), 1); }
Test(gradient, reshape) { check_on_every_isa(reshape_3d, NULL, 0, nn_shape_1d(12), 0); }

/* ---- Fused equals unfused, bit for bit ------------------------------------------------ */

static nn_layer *dense37(void) { return nn_dense(37, NN_INIT_ZEROS); }

/* Dense(33 -> 37) with act fused vs. Dense then the activation layer, batch 3. */
static void check_fused_bits(layer_maker act)
{
    rig fused, apart;
    rig_build(&fused, dense37(), act(), 1, nn_shape_1d(33), 7);
    rig_build(&apart, dense37(), act(), 0, nn_shape_1d(33), 7);
    rig_objective(&fused);
    rig_objective(&apart);
    cr_assert(memcmp(fused.y, apart.y, fused.out_size * sizeof(float)) == 0,
              "%s: Dense with %s fused differs from Dense then %s", nn_isa_name(nn_get_isa()),
              fused.layer[1]->ops->kind, fused.layer[1]->ops->kind);
    rig_free(&fused);
    rig_free(&apart);
}

Test(dense, fused_forward_is_bit_identical)
{
    layer_maker acts[] = {nn_relu, nn_sigmoid, nn_tanh};
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        cr_assert(nn_set_isa((nn_isa)isa) == NN_OK, "%s", nn_last_error());
        for (int a = 0; a < 3; a++)
            check_fused_bits(acts[a]);
    }
}

/* ---- Dense details --------------------------------------------------------------------- */

Test(dense, params_init_and_describe)
{
    nn_layer *l = nn_dense(256, NN_INIT_HE_NORMAL);
    cr_assert(l != NULL, "%s", nn_last_error());
    nn_rng rng, same;
    nn_rng_seed(&rng, 42);
    attach(l, 1, nn_shape_1d(10), 1, &rng);
    cr_assert(l->ops->param_count(l) == 10 * 256 + 256);
    cr_assert(l->out.rank == 1 && l->out.dims[0] == 256);
    for (size_t i = 0; i < 10 * 256 + 256; i++)
        l->params[i] = 7.0f;
    nn_rng_seed(&rng, 42);
    l->ops->init_params(l, &rng);
    float *want = zalloc(10 * 256);
    nn_rng_seed(&same, 42);
    nn_init_fill(NN_INIT_HE_NORMAL, want, 10 * 256, 10, 256, &same);
    cr_assert(memcmp(want, l->params, 10 * 256 * sizeof(float)) == 0, "W is not nn_init_fill's");
    for (int j = 0; j < 256; j++)
        cr_assert(l->params[10 * 256 + j] == 0.0f, "bias %d = %g, want 0", j, l->params[2560 + j]);
    char buf[64];
    l->ops->describe(l, buf, sizeof buf);
    cr_assert_str_eq(buf, "units=256 init=he_normal");
    l->fused = NN_ACT_RELU;
    l->ops->describe(l, buf, sizeof buf);
    cr_assert_str_eq(buf, "units=256 init=he_normal fused=relu");
    free(want);
    release(l);
}

/* Backward writes (not adds) the gradients, and dx may be NULL. */
Test(dense, backward_overwrites_and_allows_null_dx)
{
    rig g;
    rig_build(&g, dense4(), NULL, 0, flat5(), 3);
    nn_layer *l = g.layer[0];
    rig_backward(&g);
    float first[24];
    memcpy(first, l->grads, sizeof first);
    cr_assert(l->ops->backward(l, g.x, g.y, g.c, NULL, g.batch) == NN_OK);
    cr_assert(memcmp(first, l->grads, sizeof first) == 0, "a second backward changed the grads");
    rig_free(&g);
}

Test(dense, rejects_non_flat_input_with_a_clear_message)
{
    nn_layer *l = nn_dense(8, NN_INIT_HE_NORMAL);
    l->index = 3;
    cr_assert(l->ops->infer(l, nn_shape_3d(32, 13, 13)) == NN_ERR_INVALID_ARGUMENT);
    cr_assert_str_eq(nn_last_error(), "layer 3 (dense): expects a flat input, got 32x13x13; "
                                      "add nn_flatten() before it");
    nn_layer_free(l);
}

Test(dense, rejects_bad_hyperparameters)
{
    cr_assert(nn_dense(0, NN_INIT_HE_NORMAL) == NULL, "units 0 accepted");
    cr_assert(strstr(nn_last_error(), "units") != NULL, "message: %s", nn_last_error());
    cr_assert(nn_dense(-3, NN_INIT_HE_NORMAL) == NULL, "units -3 accepted");
    cr_assert(nn_dense(4, (nn_init)99) == NULL, "initializer 99 accepted");
    cr_assert(strstr(nn_last_error(), "initializer") != NULL, "message: %s", nn_last_error());
}

/* ---- Activations and shape layers -------------------------------------------------------- */

Test(softmax, rows_sum_to_one_for_huge_inputs)
{
    rig g;
    rig_build(&g, nn_softmax(), NULL, 0, nn_shape_1d(4), 1);
    const float x[] = {1e4f, -1e4f, 0.0f, 1e4f};
    for (int r = 0; r < BATCH; r++)
        memcpy(g.x + 4 * r, x, sizeof x);
    rig_objective(&g);
    for (int r = 0; r < BATCH; r++) {
        const float *y = g.y + 4 * r;
        cr_assert(y[0] == 0.5f && y[1] == 0.0f && y[2] == 0.0f && y[3] == 0.5f,
                  "softmax(1e4, -1e4, 0, 1e4) = %g %g %g %g", y[0], y[1], y[2], y[3]);
    }
    rig_free(&g);
}

Test(dropout, identity_outside_training_and_scaled_mask_in_training)
{
    nn_layer *l = nn_dropout(0.25f);
    nn_rng rng;
    nn_rng_seed(&rng, 9);
    attach(l, 1, nn_shape_1d(1000), 4, &rng);
    cr_assert(l->ops->scratch_per_sample(l) == 1000);
    float *x = zalloc(4000), *y = zalloc(4000);
    for (int i = 0; i < 4000; i++)
        x[i] = 1.0f + (float)i;
    cr_assert(l->ops->forward(l, x, y, 4, 0) == NN_OK);
    cr_assert(memcmp(x, y, 4000 * sizeof(float)) == 0, "dropout changed values outside training");
    cr_assert(l->ops->forward(l, x, y, 4, 1) == NN_OK);
    int dropped = 0;
    for (int i = 0; i < 4000; i++) {
        cr_assert(y[i] == 0.0f || y[i] == x[i] * (1.0f / 0.75f), "y[%d] = %g", i, y[i]);
        dropped += y[i] == 0.0f;
    }
    /* 4000 draws at p = 0.25: mean 1000, sd 27; 6 sd either side. */
    cr_assert(dropped > 840 && dropped < 1160, "dropped %d of 4000 at rate 0.25", dropped);
    char buf[32];
    l->ops->describe(l, buf, sizeof buf);
    cr_assert_str_eq(buf, "rate=0.25");
    free(x), free(y);
    release(l);
}

Test(dropout, rejects_rates_outside_0_1)
{
    const float bad[] = {1.0f, -0.1f, 1.5f, NAN};
    for (int i = 0; i < 4; i++) {
        cr_assert(nn_dropout(bad[i]) == NULL, "rate %g accepted", (double)bad[i]);
        cr_assert(strstr(nn_last_error(), "rate") != NULL, "message: %s", nn_last_error());
    }
    nn_layer *zero = nn_dropout(0.0f);
    cr_assert(zero != NULL, "rate 0 refused: %s", nn_last_error());
    nn_layer_free(zero);
}

Test(shape, flatten_and_reshape_infer)
{
    nn_layer *f = nn_flatten(), *r = nn_reshape(nn_shape_3d(1, 28, 28));
    cr_assert(f->ops->infer(f, nn_shape_3d(32, 13, 13)) == NN_OK);
    cr_assert(f->out.rank == 1 && f->out.dims[0] == 32 * 13 * 13);
    cr_assert(r->ops->infer(r, nn_shape_1d(784)) == NN_OK);
    cr_assert(r->out.rank == 3 && r->out.dims[1] == 28);
    char buf[32];
    r->ops->describe(r, buf, sizeof buf);
    cr_assert_str_eq(buf, "shape=1x28x28");
    nn_layer_free(f);
    nn_layer_free(r);
}

Test(shape, reshape_to_another_size_is_an_error)
{
    nn_layer *r = nn_reshape(nn_shape_3d(1, 2, 3));
    r->index = 3;
    cr_assert(r->ops->infer(r, nn_shape_1d(7)) == NN_ERR_INVALID_ARGUMENT, "7 -> 6 accepted");
    cr_assert_str_eq(nn_last_error(),
                     "layer 3 (reshape): cannot reshape 7 (7 values) into 1x2x3 (6 values)");
    nn_layer_free(r);
    cr_assert(nn_reshape(nn_shape_3d(1, 0, 3)) == NULL, "a zero dimension accepted");
    cr_assert(nn_reshape((nn_shape){.rank = 0}) == NULL, "rank 0 accepted");
}

Test(shape, same_shape_layers_keep_the_shape)
{
    layer_maker makers[] = {nn_relu, nn_sigmoid, nn_tanh, nn_softmax, dropout_half};
    const char *kinds[] = {"relu", "sigmoid", "tanh", "softmax", "dropout"};
    for (int i = 0; i < 5; i++) {
        nn_layer *l = makers[i]();
        cr_assert_str_eq(l->ops->kind, kinds[i]);
        cr_assert(l->ops->infer(l, nn_shape_3d(2, 3, 4)) == NN_OK);
        cr_assert(l->out.rank == 3 && l->out.dims[2] == 4 && l->ops->param_count == NULL);
        nn_layer_free(l);
    }
}
