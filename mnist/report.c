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
    cJSON_AddStringToObject(j, "schedule", r->schedule);
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

/* j[key] as a number (null reads as NaN); 0, or -1 when absent or of another type. */
static int read_number(const cJSON *j, const char *key, double *v)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(j, key);
    if (cJSON_IsNull(item))
        return *v = NAN, 0;
    if (!cJSON_IsNumber(item))
        return -1;
    *v = item->valuedouble;
    return 0;
}

static int read_int(const cJSON *j, const char *key, int min, int *v)
{
    double d;
    if (read_number(j, key, &d) != 0 || !(d >= min && d <= 1e9) || d != floor(d))
        return -1;
    *v = (int)d;
    return 0;
}

/* j[key]: an array of exactly n numbers (or nulls) into v. */
static int read_array(const cJSON *j, const char *key, float *v, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return -1;
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, a) {
        if (!cJSON_IsNumber(item) && !cJSON_IsNull(item))
            return -1;
        v[i++] = cJSON_IsNull(item) ? NAN : (float)item->valuedouble;
    }
    return 0;
}

static int read_record(const cJSON *j, train_record *r)
{
    double lr, test_loss, test_accuracy;
    if (read_int(j, "epochs", 1, &r->epochs) || read_int(j, "batch", 1, &r->batch) ||
        read_int(j, "threads", 1, &r->threads) || read_int(j, "train_count", 0, &r->train_count) ||
        read_int(j, "val_count", 0, &r->val_count) || read_int(j, "test_count", 0, &r->test_count) ||
        read_number(j, "lr", &lr) || read_number(j, "test_loss", &test_loss) ||
        read_number(j, "test_accuracy", &test_accuracy) || train_record_alloc(r) != 0)
        return -1;
    r->lr = (float)lr;
    r->done = r->epochs;
    r->test_loss = (float)test_loss;
    r->test_accuracy = (float)test_accuracy;
    float *arrays[] = {r->seconds, r->train_loss, r->train_accuracy, r->val_loss, r->val_accuracy};
    const char *keys[] = {"epoch_seconds", "train_loss", "train_accuracy", "val_loss",
                          "val_accuracy"};
    for (int i = 0; i < 5; i++)
        if (read_array(j, keys[i], arrays[i], r->epochs) != 0)
            return -1;
    return 0;
}

int report_read_train_json(const char *text, train_record *r)
{
    cJSON *j = cJSON_Parse(text);
    int rc = cJSON_IsObject(j) ? read_record(j, r) : -1;
    cJSON_Delete(j);
    return rc;
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

/* ---- Comparison ------------------------------------------------------------------------ */

static const char *const split_names[3] = {"train", "val", "test"};

/* One table line: a label, then per network the value (or "n/a" for NaN) in format. */
static void compare_line(FILE *out, const char *label, const compare_row *rows, int n,
                         double (*value)(const compare_row *, int), int k, const char *format)
{
    fprintf(out, "%-20s", label);
    for (int i = 0; i < n; i++) {
        double v = value(&rows[i], k);
        char cell[32];
        if (isfinite(v))
            snprintf(cell, sizeof cell, format, v);
        else
            snprintf(cell, sizeof cell, "n/a");
        fprintf(out, " %14s", cell);
    }
    fputc('\n', out);
}

static double row_params(const compare_row *r, int k) { return (void)k, (double)r->params; }
static double row_epochs(const compare_row *r, int k) { return (void)k, r->epochs ? r->epochs : NAN; }
static double row_seconds(const compare_row *r, int k) { return (void)k, r->seconds_per_epoch; }
static double row_rate(const compare_row *r, int k) { return (void)k, r->images_per_second; }
static double row_loss(const compare_row *r, int k) { return r->loss[k]; }
static double row_accuracy(const compare_row *r, int k) { return 100.0 * r->accuracy[k]; }

void report_compare_text(FILE *out, const char *dataset, const compare_row *rows, int n)
{
    fprintf(out, "\n%-20s", dataset);
    for (int i = 0; i < n; i++)
        fprintf(out, " %14s", rows[i].model);
    fputc('\n', out);
    compare_line(out, "parameters", rows, n, row_params, 0, "%.0f");
    compare_line(out, "epochs", rows, n, row_epochs, 0, "%.0f");
    compare_line(out, "seconds per epoch", rows, n, row_seconds, 0, "%.2f");
    compare_line(out, "images/s", rows, n, row_rate, 0, "%.0f");
    for (int k = 0; k < 3; k++) {
        char label[32];
        snprintf(label, sizeof label, "%s loss", split_names[k]);
        compare_line(out, label, rows, n, row_loss, k, "%.4f");
        snprintf(label, sizeof label, "%s accuracy", split_names[k]);
        compare_line(out, label, rows, n, row_accuracy, k, "%.2f%%");
    }
    fflush(out);
}

int report_compare_json(FILE *out, const char *dataset, const compare_row *rows, int n)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dataset", dataset);
    cJSON *models = cJSON_AddArrayToObject(j, "models");
    for (int i = 0; models && i < n; i++) {
        const compare_row *r = &rows[i];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(models, m);
        cJSON_AddStringToObject(m, "model", r->model);
        cJSON_AddStringToObject(m, "path", r->path);
        cJSON_AddNumberToObject(m, "parameters", (double)r->params);
        cJSON_AddItemToObject(m, "epochs", number(row_epochs(r, 0)));
        cJSON_AddItemToObject(m, "seconds_per_epoch", number(r->seconds_per_epoch));
        cJSON_AddItemToObject(m, "images_per_second", number(r->images_per_second));
        for (int k = 0; k < 3; k++) {
            cJSON *split = cJSON_CreateObject();
            cJSON_AddItemToObject(m, split_names[k], split);
            cJSON_AddItemToObject(split, "loss", number(r->loss[k]));
            cJSON_AddItemToObject(split, "accuracy", number(r->accuracy[k]));
        }
    }
    return print_json(out, j);
}
