/*
 * layers/loss.c — the losses and their gradients, accumulated in double.
 *
 * Targets are either labels (one-hot implied: t_j = 1 for j == label, else 0) or a
 * [batch x width] matrix.  Labels must lie in [0, width): the model checks the data
 * first; a label outside gives a NaN loss and reads nothing out of bounds.
 *
 *   MSE            L = 1/batch sum_r sum_j (y - t)^2 / 2      dL/dy = (y - t) / batch
 *   cross-entropy  L = -1/batch sum_r sum_j t log max(y, CE_TINY)
 *                                                              dL/dy = -t / (max(y, CE_TINY) batch)
 *   with logits z  (a final softmax whose input was z):
 *                  L = 1/batch sum_r sum_j t (lse(z) - z_j), lse(z) = m + log sum_j exp(z_j - m),
 *                  m = max z: finite for any finite z.          dL/dz = (softmax(z) - t) / batch
 */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Cross-entropy clamps probabilities to this from below: log and 1/y stay finite. */
#define CE_TINY 1e-12

/* Target j of row r (width columns). */
static double target(nn_targets t, int r, int width, int j)
{
    if (t.y)
        return t.y[(size_t)r * (size_t)width + j];
    return j == t.labels[r] ? 1.0 : 0.0;
}

static int label_ok(nn_targets t, int r, int width)
{
    return t.y || (t.labels[r] >= 0 && t.labels[r] < width);
}

/* Row r's sum_j (y - t)^2 / 2; dy [width] = (y - t) * scale when dy != NULL. */
static double mse_row(const float *y, nn_targets t, int r, int width, double scale, float *dy)
{
    double sum = 0.0;
    for (int j = 0; j < width; j++) {
        double diff = (double)y[j] - target(t, r, width, j);
        sum += diff * diff / 2.0;
        if (dy)
            dy[j] = (float)(diff * scale);
    }
    return sum;
}

/* Row r's -sum_j t log max(y, CE_TINY); dy [width] = -t / max(y, CE_TINY) * scale. */
static double ce_row(const float *y, nn_targets t, int r, int width, double scale, float *dy)
{
    double sum = 0.0;
    for (int j = 0; j < width; j++) {
        double tj = target(t, r, width, j), p = y[j] < CE_TINY ? CE_TINY : y[j]; /* NaN stays */
        if (tj != 0.0)
            sum -= tj * log(p);
        if (dy)
            dy[j] = (float)(-tj / p * scale);
    }
    return sum;
}

/* Row r's sum_j t (lse(z) - z_j) from logits z [width]; dz [width] = (softmax(z) - t) * scale. */
static double ce_logits_row(const float *z, nn_targets t, int r, int width, double scale,
                            float *dz)
{
    double max = z[0], sum_exp = 0.0, loss = 0.0;
    for (int j = 1; j < width; j++)
        max = fmax(max, (double)z[j]);
    for (int j = 0; j < width; j++)
        sum_exp += exp((double)z[j] - max);
    double lse = max + log(sum_exp);
    for (int j = 0; j < width; j++) {
        double tj = target(t, r, width, j);
        if (tj != 0.0)
            loss += tj * (lse - (double)z[j]);
        if (dz)
            dz[j] = (float)((exp((double)z[j] - lse) - tj) * scale);
    }
    return loss;
}

double nn_loss_compute(nn_loss loss, const float *y, const float *logits, nn_targets t,
                       int batch, int width, float *dy)
{
    double total = 0.0, scale = 1.0 / batch;
    for (int r = 0; r < batch; r++) {
        size_t at = (size_t)r * (size_t)width;
        float *drow = dy ? dy + at : NULL;
        if (!label_ok(t, r, width))
            return NAN;
        if (loss == NN_LOSS_MSE)
            total += mse_row(y + at, t, r, width, scale, drow);
        else if (logits)
            total += ce_logits_row(logits + at, t, r, width, scale, drow);
        else
            total += ce_row(y + at, t, r, width, scale, drow);
    }
    return total * scale;
}

static const char *const loss_names[] = {"mse", "cross_entropy"};
enum { LOSS_COUNT = (int)(sizeof loss_names / sizeof loss_names[0]) };

const char *nn_loss_name(nn_loss loss)
{
    if ((int)loss < 0 || (int)loss >= LOSS_COUNT)
        return "unknown";
    return loss_names[loss];
}

nn_status nn_loss_parse(const char *name, nn_loss *loss)
{
    if (!name || !loss)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_loss_parse: NULL name or result");
    for (int i = 0; i < LOSS_COUNT; i++) {
        if (strcmp(name, loss_names[i]) == 0) {
            *loss = (nn_loss)i;
            return NN_OK;
        }
    }
    return nn_fail(NN_ERR_INVALID_ARGUMENT,
                   "unknown loss \"%s\" (expected mse or cross_entropy)", name);
}
