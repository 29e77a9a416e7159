/*
 * mnist/report.c — text, CSV and JSON output of training runs and evaluations.
 */
#include "report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- The training record ------------------------------------------------------------- */

int train_record_alloc(train_record *r)
{
    float **arrays[] = {&r->seconds, &r->train_loss, &r->train_accuracy, &r->val_loss,
                        &r->val_accuracy};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        *arrays[i] = malloc((size_t)r->epochs * sizeof(float));
        if (!*arrays[i])
            return train_record_free(r), -1;
        for (int e = 0; e < r->epochs; e++)
            (*arrays[i])[e] = NAN;
    }
    r->done = 0;
    r->test_loss = r->test_accuracy = NAN;
    return 0;
}

void train_record_free(train_record *r)
{
    free(r->seconds);
    free(r->train_loss);
    free(r->train_accuracy);
    free(r->val_loss);
    free(r->val_accuracy);
    r->seconds = r->train_loss = r->train_accuracy = r->val_loss = r->val_accuracy = NULL;
}

void report_epoch_line(FILE *out, const train_record *r, int e)
{
    fprintf(out, "epoch %d/%d  train loss %.4f acc %.2f%%", e + 1, r->epochs,
            (double)r->train_loss[e], 100.0 * r->train_accuracy[e]);
    if (r->val_count > 0)
        fprintf(out, "  val loss %.4f acc %.2f%%", (double)r->val_loss[e],
                100.0 * r->val_accuracy[e]);
    fprintf(out, "  %.2f s\n", (double)r->seconds[e]);
    fflush(out);
}

void report_train_csv(FILE *out, const train_record *r)
{
    fprintf(out, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n");
    for (int e = 0; e < r->done; e++)
        fprintf(out, "%d,%.6g,%.6g,%.6g,%.6g,%.4f\n", e + 1, (double)r->train_loss[e],
                (double)r->train_accuracy[e], (double)r->val_loss[e],
                (double)r->val_accuracy[e], (double)r->seconds[e]);
}

/* ---- JSON ------------------------------------------------------------------------------ */

/* A number to 7 significant digits (what a float holds; 0.0835 rather than
 * 0.083488181233406067), or null for NaN/Inf, which JSON lacks. */
static cJSON *number(double v)
{
    if (!isfinite(v))
        return cJSON_CreateNull();
    char text[32];
    snprintf(text, sizeof text, "%.7g", v);
    return cJSON_CreateNumber(strtod(text, NULL));
}

static cJSON *float_array(const float *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, number(v[i]));
    return a;
}

/* Prints j as one line to out and frees it; -1 if j or its text could not be built. */
static int print_json(FILE *out, cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return -1;
    fprintf(out, "%s\n", text);
    cJSON_free(text);
    fflush(out);
    return 0;
}

int report_train_json(FILE *out, const train_record *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", r->model);
    cJSON_AddStringToObject(j, "dataset", r->dataset);
    cJSON_AddNumberToObject(j, "epochs", r->done);
    cJSON_AddNumberToObject(j, "batch", r->batch);
    cJSON_AddStringToObject(j, "optimizer", r->optimizer);
    cJSON_AddItemToObject(j, "lr", number(r->lr));
    cJSON_AddNumberToObject(j, "threads", r->threads);
    cJSON_AddStringToObject(j, "isa", r->isa);
    cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    cJSON_AddNumberToObject(j, "train_count", r->train_count);
    cJSON_AddNumberToObject(j, "val_count", r->val_count);
    cJSON_AddNumberToObject(j, "test_count", r->test_count);
    cJSON_AddItemToObject(j, "epoch_seconds", float_array(r->seconds, r->done));
    cJSON_AddItemToObject(j, "train_loss", float_array(r->train_loss, r->done));
    cJSON_AddItemToObject(j, "train_accuracy", float_array(r->train_accuracy, r->done));
    cJSON_AddItemToObject(j, "val_loss", float_array(r->val_loss, r->done));
    cJSON_AddItemToObject(j, "val_accuracy", float_array(r->val_accuracy, r->done));
    cJSON_AddItemToObject(j, "test_loss", number(r->test_loss));
    cJSON_AddItemToObject(j, "test_accuracy", number(r->test_accuracy));
    return print_json(out, j);
}

/* ---- Evaluation ------------------------------------------------------------------------ */

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                              "Ankle boot"};

static int64_t support(const nn_evaluation *e, int c)
{
    int64_t n = 0;
    for (int k = 0; k < e->classes; k++)
        n += e->confusion[(size_t)c * (size_t)e->classes + (size_t)k];
    return n;
}

static void print_class_table(FILE *out, const char *dataset, const nn_evaluation *e)
{
    int named = strcmp(dataset, "fashion") == 0 && e->classes == 10;
    fprintf(out, "\n%-16s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
    for (int c = 0; c < e->classes; c++) {
        char name[32];
        snprintf(name, sizeof name, named ? "%d %s" : "%d", c, named ? fashion_names[c] : "");
        fprintf(out, "%-16s %9.4f %9.4f %9.4f %8lld\n", name, (double)e->precision[c],
                (double)e->recall[c], (double)e->f1[c], (long long)support(e, c));
    }
    fprintf(out, "%-16s %9.4f %9.4f %9.4f\n", "macro average",
            (double)e->metric[NN_METRIC_PRECISION], (double)e->metric[NN_METRIC_RECALL],
            (double)e->metric[NN_METRIC_F1]);
}

static void print_confusion(FILE *out, const nn_evaluation *e)
{
    fprintf(out, "\nconfusion matrix (rows: true class, columns: predicted)\n      ");
    for (int c = 0; c < e->classes; c++)
        fprintf(out, "%6d", c);
    fputc('\n', out);
    for (int t = 0; t < e->classes; t++) {
        fprintf(out, "%6d", t);
        for (int p = 0; p < e->classes; p++)
            fprintf(out, "%6lld", (long long)e->confusion[(size_t)t * (size_t)e->classes + (size_t)p]);
        fputc('\n', out);
    }
}

void report_eval_text(FILE *out, const char *model, const char *dataset, const nn_evaluation *e)
{
    fprintf(out, "%s on the %s test set: loss %.4f  accuracy %.2f%%\n", model, dataset,
            (double)e->loss, 100.0 * e->metric[NN_METRIC_ACCURACY]);
    if (!e->confusion)
        return;
    print_class_table(out, dataset, e);
    print_confusion(out, e);
}

static cJSON *per_class(const nn_evaluation *e)
{
    cJSON *a = cJSON_CreateArray();
    for (int c = 0; a && c < e->classes; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "class", c);
        cJSON_AddItemToObject(o, "precision", number(e->precision[c]));
        cJSON_AddItemToObject(o, "recall", number(e->recall[c]));
        cJSON_AddItemToObject(o, "f1", number(e->f1[c]));
        cJSON_AddNumberToObject(o, "support", (double)support(e, c));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *confusion(const nn_evaluation *e)
{
    cJSON *rows = cJSON_CreateArray();
    for (int t = 0; rows && t < e->classes; t++) {
        cJSON *row = cJSON_CreateArray();
        for (int p = 0; row && p < e->classes; p++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber(
                (double)e->confusion[(size_t)t * (size_t)e->classes + (size_t)p]));
        cJSON_AddItemToArray(rows, row);
    }
    return rows;
}

int report_eval_json(FILE *out, const char *model, const char *dataset, const nn_evaluation *e)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", model);
    cJSON_AddStringToObject(j, "dataset", dataset);
    cJSON_AddItemToObject(j, "test_loss", number(e->loss));
    cJSON_AddItemToObject(j, "test_accuracy", number(e->metric[NN_METRIC_ACCURACY]));
    if (e->confusion) {
        cJSON_AddItemToObject(j, "precision", number(e->metric[NN_METRIC_PRECISION]));
        cJSON_AddItemToObject(j, "recall", number(e->metric[NN_METRIC_RECALL]));
        cJSON_AddItemToObject(j, "f1", number(e->metric[NN_METRIC_F1]));
        cJSON_AddItemToObject(j, "per_class", per_class(e));
        cJSON_AddItemToObject(j, "confusion", confusion(e));
    }
    return print_json(out, j);
}
