/*
 * test_metrics.c — confusion matrices from predictions, and accuracy, precision, recall
 * and F1 (per class and macro) from a hand-made matrix with known values.
 */
#include "../layers/internal.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

enum { K = 4 };

/* Rows: true class; columns: predicted.  Class 3 is never predicted.
 *        pred 0  1  2  3   row sum
 *  true 0    5  1  0  0      6
 *  true 1    2  3  1  0      6
 *  true 2    0  0  4  0      4
 *  true 3    1  0  1  0      2
 *  col sum   8  4  6  0     18, trace 12 */
static const int64_t hand[K * K] = {5, 1, 0, 0, 2, 3, 1, 0, 0, 0, 4, 0, 1, 0, 1, 0};

/* precision tp / col, recall tp / row, f1 2pr / (p + r), worked out by hand:
 * class 0: 5/8, 5/6, 2 (5/8)(5/6) / (5/8 + 5/6) = 5/7
 * class 1: 3/4, 1/2, 0.75 / 1.25 = 3/5
 * class 2: 2/3, 1,   (4/3) / (5/3) = 4/5
 * class 3: 0 (never predicted), 0, 0 */
static const double want_p[K] = {5.0 / 8, 3.0 / 4, 2.0 / 3, 0};
static const double want_r[K] = {5.0 / 6, 1.0 / 2, 1, 0};
static const double want_f[K] = {5.0 / 7, 3.0 / 5, 4.0 / 5, 0};

static void assert_near(double got, double want, const char *what, int k)
{
    cr_assert(fabs(got - want) < 1e-6, "%s [%d]: %.9g, want %.9g", what, k, got, want);
}

Test(metrics, hand_made_matrix)
{
    float metric[NN_METRIC_COUNT], p[K], r[K], f[K];
    nn_metrics_from_confusion(hand, K, metric, p, r, f);
    for (int k = 0; k < K; k++) {
        assert_near(p[k], want_p[k], "precision", k);
        assert_near(r[k], want_r[k], "recall", k);
        assert_near(f[k], want_f[k], "f1", k);
    }
    assert_near(metric[NN_METRIC_ACCURACY], 12.0 / 18, "accuracy", -1);
    assert_near(metric[NN_METRIC_PRECISION], (5.0 / 8 + 3.0 / 4 + 2.0 / 3) / 4, "macro p", -1);
    assert_near(metric[NN_METRIC_RECALL], (5.0 / 6 + 1.0 / 2 + 1) / 4, "macro r", -1);
    assert_near(metric[NN_METRIC_F1], (5.0 / 7 + 3.0 / 5 + 4.0 / 5) / 4, "macro f1", -1);
}

/* The per-class arrays are optional. */
Test(metrics, null_per_class_arrays)
{
    float metric[NN_METRIC_COUNT];
    nn_metrics_from_confusion(hand, K, metric, NULL, NULL, NULL);
    assert_near(metric[NN_METRIC_ACCURACY], 12.0 / 18, "accuracy", -1);
}

/* Nothing counted: every metric is 0, none NaN. */
Test(metrics, empty_matrix)
{
    int64_t zero[K * K] = {0};
    float metric[NN_METRIC_COUNT], p[K], r[K], f[K];
    nn_metrics_from_confusion(zero, K, metric, p, r, f);
    for (int m = 0; m < NN_METRIC_COUNT; m++)
        cr_assert(metric[m] == 0.0f, "%s = %g on an empty matrix", nn_metric_name(m), metric[m]);
    for (int k = 0; k < K; k++)
        cr_assert(p[k] == 0.0f && r[k] == 0.0f && f[k] == 0.0f, "class %d not 0", k);
}

Test(metrics, perfect_predictions)
{
    const int64_t diag[9] = {3, 0, 0, 0, 7, 0, 0, 0, 1};
    float metric[NN_METRIC_COUNT];
    nn_metrics_from_confusion(diag, 3, metric, NULL, NULL, NULL);
    for (int m = 0; m < NN_METRIC_COUNT; m++)
        cr_assert(metric[m] == 1.0f, "%s = %g, want 1", nn_metric_name(m), metric[m]);
}

/* A one-hot-ish output row whose largest entry is `cls`. */
static void output_row(float *row, int cls)
{
    for (int j = 0; j < K; j++) row[j] = 0.1f * (float)j;
    row[cls] = 2.0f;
}

/* The hand-made matrix again, built from 18 labelled predictions. */
Test(confusion, builds_hand_matrix_from_labels)
{
    enum { B = 18 };
    float y[B * K];
    int32_t labels[B];
    int b = 0;
    for (int t = 0; t < K; t++)
        for (int pr = 0; pr < K; pr++)
            for (int64_t c = 0; c < hand[t * K + pr]; c++, b++) {
                labels[b] = t;
                output_row(y + b * K, pr);
            }
    cr_assert(b == B, "built %d samples", b);
    int64_t conf[K * K] = {0};
    nn_confusion_add(conf, K, y, (nn_targets){.labels = labels}, 10);
    nn_confusion_add(conf, K, y + 10 * K, (nn_targets){.labels = labels + 10}, B - 10);
    cr_assert(memcmp(conf, hand, sizeof conf) == 0, "confusion differs from the hand matrix");
}

/* True classes from the argmax of one-hot targets; counts add to what is there. */
Test(confusion, one_hot_targets_accumulate)
{
    const float y[3 * 3] = {0.7f, 0.2f, 0.1f, 0.1f, 0.1f, 0.8f, 0.2f, 0.5f, 0.3f};
    const float t[3 * 3] = {1, 0, 0, 0, 1, 0, 0, 1, 0};
    int64_t conf[9] = {0, 0, 0, 0, 0, 0, 0, 0, 5};
    nn_confusion_add(conf, 3, y, (nn_targets){.y = t}, 3);
    const int64_t want[9] = {1, 0, 0, 0, 1, 1, 0, 0, 5};
    for (int i = 0; i < 9; i++)
        cr_assert(conf[i] == want[i], "cell %d = %lld, want %lld", i, (long long)conf[i],
                  (long long)want[i]);
}

/* Equal scores go to the lowest index, for predictions and for targets. */
Test(confusion, ties_pick_lowest_index)
{
    const float y[2 * 3] = {0.3f, 0.3f, 0.3f, 0.1f, 0.45f, 0.45f};
    const float t[2 * 3] = {0, 0.5f, 0.5f, 0, 0, 0};
    int64_t conf[9] = {0};
    nn_confusion_add(conf, 3, y, (nn_targets){.y = t}, 2);
    /* sample 0: true 1, predicted 0; sample 1: true 0, predicted 1 */
    cr_assert(conf[1 * 3 + 0] == 1 && conf[0 * 3 + 1] == 1, "ties not broken low: %lld %lld",
              (long long)conf[3], (long long)conf[1]);
}

/* A label outside [0, classes) is not counted (and writes nothing out of bounds). */
Test(confusion, bad_labels_skipped)
{
    const float y[3 * 2] = {1, 0, 0, 1, 1, 0};
    const int32_t labels[3] = {-1, 2, 1};
    int64_t conf[4] = {0};
    nn_confusion_add(conf, 2, y, (nn_targets){.labels = labels}, 3);
    cr_assert(conf[0] == 0 && conf[1] == 0 && conf[2] == 1 && conf[3] == 0,
              "confusion %lld %lld %lld %lld", (long long)conf[0], (long long)conf[1],
              (long long)conf[2], (long long)conf[3]);
}

Test(metrics, names)
{
    const char *names[NN_METRIC_COUNT] = {"accuracy", "precision", "recall", "f1"};
    for (int m = 0; m < NN_METRIC_COUNT; m++)
        cr_assert(strcmp(nn_metric_name((nn_metric)m), names[m]) == 0, "metric %d named %s", m,
                  nn_metric_name((nn_metric)m));
    cr_assert(nn_metric_name(NN_METRIC_COUNT) != NULL, "out-of-range name is NULL");
}
