/* The layer library as the README shows it: the report's two networks, trained on a
 * toy set, saved.  Built and run by ctest, so the README's example keeps compiling. */
#include <nn/layers.h>
#include <stdio.h>
#include <stdlib.h>

/* The report's two networks, 784-32-10 (overfits) and 784-256-256-10 (fits well). */
static nn_model *report_network(int hidden_layers, int width)
{
    nn_model *m;
    if (nn_model_create(&m, nn_shape_1d(784)) != NN_OK)
        return NULL;
    for (int i = 0; i < hidden_layers; i++) {
        nn_model_add(m, nn_dense(width, NN_INIT_HE_NORMAL));
        nn_model_add(m, nn_relu());
    }
    nn_model_add(m, nn_dense(10, NN_INIT_GLOROT_UNIFORM));
    nn_model_add(m, nn_softmax());
    nn_model_watch(m, NN_METRIC_ACCURACY);
    nn_optimizer sgd = nn_sgd(0.04f);
    if (nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, 100, 42) != NN_OK) {
        fprintf(stderr, "compile: %s\n", nn_last_error());
        nn_model_free(m);
        return NULL;
    }
    return m;
}

int main(int argc, char **argv)
{
    enum { N = 2000 };
    float *x = malloc(sizeof(float) * N * 784);
    int32_t *labels = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) {                      /* a toy set: class = brightest block */
        labels[i] = i % 10;
        for (int j = 0; j < 784; j++)
            x[i * 784 + j] = (j / 79 == labels[i]) ? 0.9f : 0.1f * (float)((i * 7 + j) % 3);
    }
    nn_dataset all = {x, labels, NULL, N, 784, 10}, train, val;
    nn_dataset_rows(&all, 0, 1600, &train);
    nn_dataset_rows(&all, 1600, 400, &val);

    nn_model *small = report_network(1, 32), *wide = report_network(2, 256);
    char table[2048];
    nn_model_summary(wide, table, sizeof table);
    fputs(table, stdout);

    nn_history history;
    nn_fit_options options = {.epochs = 3, .batch = 100, .seed = 1};
    if (nn_model_fit(wide, &train, &val, &options, &history) != NN_OK)
        fprintf(stderr, "fit: %s\n", nn_last_error());
    for (int e = 0; e < history.epochs; e++)
        printf("epoch %d: loss %.4f, val accuracy %.3f\n", e + 1, history.train_loss[e],
               history.val_metric[NN_METRIC_ACCURACY][e]);
    if (nn_model_save(wide, argc > 1 ? argv[1] : "readme_example.safetensors") != NN_OK)
        fprintf(stderr, "save: %s\n", nn_last_error());
    nn_history_free(&history);
    nn_model_free(small);
    nn_model_free(wide);
    free(x);
    free(labels);
    return 0;
}
