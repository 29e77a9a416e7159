/*
 * layers/metrics.c — the confusion matrix and the metrics read from it.
 *
 * confusion[true * classes + predicted] counts samples.  For class k:
 *     tp = confusion[k][k],  fp = column k sum - tp,  fn = row k sum - tp
 *     precision = tp / (tp + fp),  recall = tp / (tp + fn),  f1 = 2 p r / (p + r)
 * each 0 where its denominator is 0.  Accuracy = trace / total (0 for an empty matrix);
 * the macro precision, recall and F1 are plain means over all classes.
 */
#include "internal.h"

static const char *const metric_names[NN_METRIC_COUNT] = {
    [NN_METRIC_ACCURACY] = "accuracy",
    [NN_METRIC_PRECISION] = "precision",
    [NN_METRIC_RECALL] = "recall",
    [NN_METRIC_F1] = "f1",
};

const char *nn_metric_name(nn_metric metric)
{
    if ((int)metric < 0 || metric >= NN_METRIC_COUNT)
        return "unknown";
    return metric_names[metric];
}

/* The index of the largest of n values; ties (and NaNs) go to the lowest index. */
static int argmax(const float *x, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (x[j] > x[best])
            best = j;
    return best;
}

/* Samples whose label lies outside [0, classes) are not counted. */
void nn_confusion_add(int64_t *confusion, int classes, const float *y, nn_targets t, int batch)
{
    if (classes < 1 || (!t.labels && !t.y))
        return;
    for (int i = 0; i < batch; i++) {
        size_t row = (size_t)i * (size_t)classes;
        int truth = t.labels ? t.labels[i] : argmax(t.y + row, classes);
        if (truth < 0 || truth >= classes)
            continue;
        int predicted = argmax(y + row, classes);
        confusion[(size_t)truth * (size_t)classes + (size_t)predicted]++;
    }
}

static double ratio(int64_t num, int64_t den) { return den > 0 ? (double)num / (double)den : 0.0; }

void nn_metrics_from_confusion(const int64_t *confusion, int classes,
                               float metric[NN_METRIC_COUNT], float *precision,
                               float *recall, float *f1)
{
    int64_t total = 0, correct = 0;
    double sum_p = 0.0, sum_r = 0.0, sum_f = 0.0;
    for (int k = 0; k < classes; k++) {
        int64_t tp = confusion[(size_t)k * (size_t)classes + (size_t)k], row = 0, col = 0;
        for (int j = 0; j < classes; j++) {
            row += confusion[(size_t)k * (size_t)classes + (size_t)j];
            col += confusion[(size_t)j * (size_t)classes + (size_t)k];
        }
        double p = ratio(tp, col), r = ratio(tp, row);
        double f = p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0;
        if (precision) precision[k] = (float)p;
        if (recall) recall[k] = (float)r;
        if (f1) f1[k] = (float)f;
        sum_p += p, sum_r += r, sum_f += f;
        total += row, correct += tp;
    }
    if (!metric)
        return;
    double c = classes > 0 ? (double)classes : 1.0;
    metric[NN_METRIC_ACCURACY] = (float)ratio(correct, total);
    metric[NN_METRIC_PRECISION] = (float)(sum_p / c);
    metric[NN_METRIC_RECALL] = (float)(sum_r / c);
    metric[NN_METRIC_F1] = (float)(sum_f / c);
}
