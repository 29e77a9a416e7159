/*
 * mnist/report.h — what `mnist train` and `mnist eval` report: the per-epoch record,
 * printed as text, CSV (--log) or one JSON object (--json, with cJSON).
 */
#ifndef NN_MNIST_REPORT_H
#define NN_MNIST_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <nn/layers.h>

/* A training run: its configuration and, per epoch, what fit measured. */
typedef struct train_record {
    const char *model, *dataset, *optimizer, *schedule, *isa;
    int epochs, batch, threads;      /* epochs asked for */
    int train_count, val_count, test_count;
    float lr;
    uint64_t seed;
    int done;                        /* epochs finished */
    float *seconds, *train_loss, *train_accuracy, *val_loss, *val_accuracy; /* [epochs] */
    float test_loss, test_accuracy;
} train_record;

/* Allocates the per-epoch arrays of r (r->epochs entries, NaN).  0 on success. */
int train_record_alloc(train_record *r);
void train_record_free(train_record *r);

/* "epoch 3/15  train loss 0.1234 acc 96.51%  val loss 0.1100 acc 96.80%  1.23 s" */
void report_epoch_line(FILE *out, const train_record *r, int epoch);

/* The history as CSV: epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds. */
void report_train_csv(FILE *out, const train_record *r);

/* One JSON object (and a newline) with the configuration, the arrays and the test
 * result.  Returns 0, or -1 when out of memory. */
int report_train_json(FILE *out, const train_record *r);

/* Reads back what report_train_json wrote (numbers and per-epoch arrays; the strings
 * stay the caller's): 0, or -1 when the text is not such a record.  r is freed with
 * train_record_free either way. */
int report_read_train_json(const char *text, train_record *r);

/* compare: one network's row of the table. */
typedef struct compare_row {
    const char *model, *path;
    size_t params;
    int epochs;                          /* 0: no history (seconds and images/s unknown) */
    double seconds_per_epoch;            /* the median epoch */
    double images_per_second;            /* training images / seconds_per_epoch */
    float loss[3], accuracy[3];          /* the final model on train, val, test (NaN: none) */
} compare_row;

/* The networks side by side, as a text table or one JSON object. */
void report_compare_text(FILE *out, const char *dataset, const compare_row *rows, int n);
int report_compare_json(FILE *out, const char *dataset, const compare_row *rows, int n);

/* eval: loss, accuracy, the per-class precision/recall/F1 table and the confusion
 * matrix, as text or as one JSON object. */
void report_eval_text(FILE *out, const char *model, const char *dataset, const nn_evaluation *e);
int report_eval_json(FILE *out, const char *model, const char *dataset, const nn_evaluation *e);

#endif /* NN_MNIST_REPORT_H */
