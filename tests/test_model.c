/*
 * test_model.c — the sequential model without training: building (shape inference and
 * its errors at add time), compile (checks, fusion, parameter layout, seeding), the
 * summary, and evaluate/predict on a small network whose weights are set by hand.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <nn/layers.h>

#include "../layers/internal.h"

/* A 4-input model: dense(3) relu dense(2) softmax, compiled for batches of 5. */
static nn_model *small_model(uint64_t seed)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(4)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(3, NN_INIT_HE_NORMAL)), NN_OK, "%s", nn_last_error());
    cr_assert_eq(nn_model_add(m, nn_relu()), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(2, NN_INIT_GLOROT_UNIFORM)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_softmax()), NN_OK);
    nn_optimizer sgd = nn_sgd(0.1f);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 5, seed), NN_OK, "%s",
                 nn_last_error());
    return m;
}

/* ---- Building ------------------------------------------------------------------------ */

Test(build, shapes_are_inferred_at_add)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_3d(1, 4, 4)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_flatten()), NN_OK, "%s", nn_last_error());
    cr_assert_eq(nn_model_add(m, nn_dense(7, NN_INIT_HE_NORMAL)), NN_OK, "%s", nn_last_error());
    nn_shape out = nn_model_output_shape(m);
    cr_assert(out.rank == 1 && out.dims[0] == 7);
    cr_assert_eq(nn_model_param_count(m), 16 * 7 + 7);
    cr_assert_eq(m->layers[1]->index, 1);
    nn_model_free(m);
}

Test(build, mismatch_at_add_names_the_layer)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(10)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(6, NN_INIT_HE_NORMAL)), NN_OK);
    /* 6 values cannot become 2x2x2 */
    cr_assert_eq(nn_model_add(m, nn_reshape(nn_shape_3d(2, 2, 2))), NN_ERR_INVALID_ARGUMENT);
    const char *e = nn_last_error();
    cr_assert(strstr(e, "layer 1") && strstr(e, "reshape"), "message: %s", e);
    cr_assert_eq(m->count, 1, "the failed layer was not kept");
    /* a 3-d input straight into dense */
    nn_model *img;
    cr_assert_eq(nn_model_create(&img, nn_shape_3d(1, 2, 2)), NN_OK);
    cr_assert_eq(nn_model_add(img, nn_dense(3, NN_INIT_HE_NORMAL)), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "layer 0") && strstr(nn_last_error(), "dense"), "%s",
              nn_last_error());
    nn_model_free(img);
    nn_model_free(m);
}

Test(build, bad_arguments)
{
    nn_model *m = NULL;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(0)), NN_ERR_INVALID_ARGUMENT);
    cr_assert_null(m);
    cr_assert_eq(nn_model_create(NULL, nn_shape_1d(3)), NN_ERR_INVALID_ARGUMENT);
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(3)), NN_OK);
    cr_assert_eq(nn_model_add(m, NULL), NN_ERR_INVALID_ARGUMENT);
    cr_assert_eq(nn_model_add(NULL, nn_relu()), NN_ERR_INVALID_ARGUMENT); /* freed: no leak */
    cr_assert_eq(nn_model_watch(m, NN_METRIC_COUNT), NN_ERR_INVALID_ARGUMENT);
    nn_optimizer sgd = nn_sgd(0.1f);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_MSE, 4, 1), NN_ERR_INVALID_ARGUMENT,
                 "no layers");
    cr_assert(strstr(nn_last_error(), "no layers"), "%s", nn_last_error());
    cr_assert_eq(nn_model_add(m, nn_dense(1, NN_INIT_ZEROS)), NN_OK);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_MSE, 0, 1), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "max_batch"), "%s", nn_last_error());
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 4, 1), NN_ERR_INVALID_ARGUMENT,
                 "cross-entropy over one output");
    nn_optimizer bad = nn_sgd(-1.0f);
    cr_assert_eq(nn_model_compile(m, &bad, NN_LOSS_MSE, 4, 1), NN_ERR_INVALID_ARGUMENT);
    cr_assert_eq(m->compiled, 0);
    float x[3] = {0}, y[1];
    cr_assert_eq(nn_model_predict(m, x, 1, y), NN_ERR_INVALID_ARGUMENT, "predict before compile");
    nn_model_free(m);
}

Test(build, nothing_changes_after_compile)
{
    nn_model *m = small_model(1);
    cr_assert_eq(nn_model_add(m, nn_relu()), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "compiled"), "%s", nn_last_error());
    cr_assert_eq(nn_model_watch(m, NN_METRIC_F1), NN_ERR_INVALID_ARGUMENT);
    nn_optimizer sgd = nn_sgd(0.1f);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 5, 1), NN_ERR_INVALID_ARGUMENT);
    cr_assert_eq(m->count, 4);
    nn_model_free(m);
}

/* ---- Compile ------------------------------------------------------------------------- */

Test(compile, fuses_dense_and_activation)
{
    nn_model *m = small_model(1);
    cr_assert_eq(m->layers[0]->fused, NN_ACT_RELU);
    cr_assert_eq(m->layers[1]->fused_into_previous, 1);
    cr_assert_eq(m->layers[2]->fused, NN_ACT_NONE, "softmax is not an epilogue");
    cr_assert_eq(m->layers[3]->fused_into_previous, 0);
    nn_model_free(m);
}

Test(compile, one_flat_parameter_buffer)
{
    nn_model *m = small_model(1);
    cr_assert_eq(m->param_count, (size_t)(4 * 3 + 3 + 3 * 2 + 2));
    cr_assert_eq(m->layers[0]->params, m->params);
    cr_assert_eq(m->layers[2]->params, m->params + 15);
    cr_assert_eq(m->layers[2]->grads, m->grads + 15);
    cr_assert_null(m->layers[1]->params);
    cr_assert_eq((uintptr_t)m->params % 64, 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(m->params[12 + i], 0.0f, "biases start at zero");
    int nonzero = 0;
    for (int i = 0; i < 12; i++)
        nonzero += m->params[i] != 0.0f;
    cr_assert_gt(nonzero, 6, "weights are initialized");
    nn_model_free(m);
}

Test(compile, same_seed_same_model)
{
    nn_model *a = small_model(42), *b = small_model(42), *c = small_model(43);
    cr_assert(memcmp(a->params, b->params, a->param_count * sizeof(float)) == 0);
    cr_assert(memcmp(a->params, c->params, a->param_count * sizeof(float)) != 0);
    nn_model_free(a);
    nn_model_free(b);
    nn_model_free(c);
}

/* ---- Summary ------------------------------------------------------------------------- */

Test(summary, table_of_layers)
{
    nn_model *m = small_model(1);
    char buf[2048];
    int n = nn_model_summary(m, buf, sizeof buf);
    cr_assert_eq((size_t)n, strlen(buf));
    cr_assert(strstr(buf, "dense") && strstr(buf, "softmax") && strstr(buf, "relu"), "%s", buf);
    cr_assert(strstr(buf, "Total params: 23"), "%s", buf);
    cr_assert(strstr(buf, "fused into layer 0"), "%s", buf);
    cr_assert(strstr(buf, "units=3"), "describe() text is shown:\n%s", buf);
    char small[16];
    cr_assert_eq(nn_model_summary(m, small, sizeof small), n, "snprintf rules");
    cr_assert_eq(strlen(small), sizeof small - 1);
    cr_assert_eq(nn_model_summary(m, NULL, 0), n);
    nn_model_free(m);
}

/* ---- Evaluate and predict on weights set by hand -------------------------------------------- */

/* dense(2 -> 2) + softmax, W = [[1, 0], [0, 1]] (in x out), b = [0, 1]: logits = x + b. */
static nn_model *hand_model(int max_batch)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(2)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(2, NN_INIT_ZEROS)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_softmax()), NN_OK);
    nn_optimizer sgd = nn_sgd(0.1f);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, max_batch, 1), NN_OK);
    const float p[6] = {1, 0, 0, 1, 0, 1};
    memcpy(m->params, p, sizeof p);
    return m;
}

static const float hand_x[] = {2, 0, 0, 0, 0, 3, 1, 1, -1, 0};
static const int32_t hand_labels[] = {0, 1, 0, 1, 1};

static void expected_softmax(const float *x, double p[2])
{
    double z0 = x[0], z1 = x[1] + 1.0, mx = fmax(z0, z1);
    double e0 = exp(z0 - mx), e1 = exp(z1 - mx);
    p[0] = e0 / (e0 + e1);
    p[1] = e1 / (e0 + e1);
}

Test(inference, predict_in_chunks)
{
    nn_model *m = hand_model(2); /* 5 samples: chunks of 2, 2, 1 */
    float out[10];
    cr_assert_eq(nn_model_predict(m, hand_x, 5, out), NN_OK, "%s", nn_last_error());
    for (int r = 0; r < 5; r++) {
        double p[2];
        expected_softmax(hand_x + 2 * r, p);
        for (int j = 0; j < 2; j++)
            cr_assert_float_eq(out[2 * r + j], p[j], 1e-6, "sample %d class %d", r, j);
    }
    cr_assert_eq(nn_model_predict(m, hand_x, 0, out), NN_OK);
    cr_assert_eq(nn_model_predict(m, NULL, 1, out), NN_ERR_INVALID_ARGUMENT);
    nn_model_free(m);
}

Test(inference, evaluate_loss_metrics_confusion)
{
    nn_model *m = hand_model(2);
    nn_dataset d = {.x = hand_x, .labels = hand_labels, .count = 5, .features = 2, .targets = 2};
    nn_evaluation e;
    cr_assert_eq(nn_model_evaluate(m, &d, &e), NN_OK, "%s", nn_last_error());
    double loss = 0;
    int64_t confusion[4] = {0};
    for (int r = 0; r < 5; r++) {
        double p[2];
        expected_softmax(hand_x + 2 * r, p);
        loss -= log(p[hand_labels[r]]);
        confusion[hand_labels[r] * 2 + (p[1] > p[0])]++;
    }
    loss /= 5;
    cr_assert_float_eq(e.loss, loss, 1e-5);
    cr_assert_eq(e.classes, 2);
    cr_assert(memcmp(e.confusion, confusion, sizeof confusion) == 0);
    /* predictions: 0 (p0 > p1 as 2 > 1), 1, 1, 1, 1 -> true 0: [1, 1]; true 1: [0, 3] */
    cr_assert_eq(confusion[0], 1);
    cr_assert_eq(confusion[3], 3);
    cr_assert_float_eq(e.metric[NN_METRIC_ACCURACY], 0.8f, 1e-6);
    cr_assert_float_eq(e.recall[0], 0.5f, 1e-6);
    cr_assert_float_eq(e.precision[1], 0.75f, 1e-6);
    nn_evaluation_free(&e);
    cr_assert_null(e.confusion);
    nn_model_free(m);
}

Test(inference, evaluate_rejects_bad_data)
{
    nn_model *m = hand_model(4);
    int32_t bad[5] = {0, 1, 2, 0, 1};
    nn_dataset d = {.x = hand_x, .labels = bad, .count = 5, .features = 2, .targets = 2};
    nn_evaluation e;
    cr_assert_eq(nn_model_evaluate(m, &d, &e), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "label 2"), "%s", nn_last_error());
    d.labels = hand_labels;
    d.features = 3;
    cr_assert_eq(nn_model_evaluate(m, &d, &e), NN_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(nn_last_error(), "features"), "%s", nn_last_error());
    nn_model_free(m);
}

Test(inference, evaluate_with_targets_and_mse)
{
    nn_model *m;
    cr_assert_eq(nn_model_create(&m, nn_shape_1d(2)), NN_OK);
    cr_assert_eq(nn_model_add(m, nn_dense(1, NN_INIT_ZEROS)), NN_OK);
    nn_optimizer sgd = nn_sgd(0.1f);
    cr_assert_eq(nn_model_compile(m, &sgd, NN_LOSS_MSE, 3, 1), NN_OK);
    const float p[3] = {1, 2, 0.5f}; /* y = x0 + 2 x1 + 0.5 */
    memcpy(m->params, p, sizeof p);
    const float t[5] = {2.5f, 0.5f, 6.5f, 3.0f, 0.0f}; /* y: 2.5 0.5 6.5 3.5 -0.5 */
    nn_dataset d = {.x = hand_x, .y = t, .count = 5, .features = 2, .targets = 1};
    nn_evaluation e;
    cr_assert_eq(nn_model_evaluate(m, &d, &e), NN_OK, "%s", nn_last_error());
    cr_assert_float_eq(e.loss, (0.25 + 0.25) / 2 / 5, 1e-6); /* sum (y - t)^2 / 2, mean */
    cr_assert_null(e.confusion, "no classes to score with one target");
    cr_assert(isnan(e.metric[NN_METRIC_ACCURACY]));
    nn_evaluation_free(&e);
    nn_model_free(m);
}
