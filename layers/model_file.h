/*
 * layers/model_file.h — what model_file.c (the format, nn_model_save) and model_file_load.c
 * (nn_model_load) share; never installed.  The format is described in model_file.c.
 */
#ifndef NN_LAYERS_MODEL_FILE_H
#define NN_LAYERS_MODEL_FILE_H

#include "internal.h"

/* Which part of nn_layer.cfg a layer kind saves. */
typedef enum nn_file_config {
    NN_FILE_CFG_NONE,
    NN_FILE_CFG_DENSE,   /* units, init */
    NN_FILE_CFG_DROPOUT, /* rate */
    NN_FILE_CFG_RESHAPE, /* shape */
    NN_FILE_CFG_CONV,    /* filters, kernel, stride, padding, init */
    NN_FILE_CFG_POOL,    /* size, stride */
} nn_file_config;

typedef struct nn_file_kind {
    const char *kind;        /* nn_layer_ops.kind */
    nn_file_config cfg;
    nn_layer *(*make)(void); /* the constructor of NN_FILE_CFG_NONE kinds */
} nn_file_kind;

enum { NN_FILE_KIND_COUNT = 11, NN_FILE_SCHEDULE_COUNT = 3, NN_FILE_TENSORS_PER_LAYER = 2 };

/* The layer kinds a file may hold. */
extern const nn_file_kind nn_file_kinds[NN_FILE_KIND_COUNT];

/* The index of `kind` in nn_file_kinds, or -1. */
int nn_file_kind_find(const char *kind);

/* "constant", "step", "cosine": the nn_schedule_kind values, in order. */
extern const char *const nn_file_schedule_names[NN_FILE_SCHEDULE_COUNT];

/* One tensor of a model file: "layers.<i>.weight" or "layers.<i>.bias". */
typedef struct nn_file_tensor {
    char name[40];
    int rank;
    uint64_t dims[2];
    const nn_layer *layer;
    size_t first, count;    /* floats within layer->params */
    uint64_t begin;         /* load: its data_offsets[0], once seen in the header */
    int seen;
} nn_file_tensor;

/* Every tensor of a model whose shapes are inferred, in layer order (free *out). */
nn_status nn_file_tensors(const nn_model *m, nn_file_tensor **out, int *n);

/* Prefixes the last error with "<function>: '<path>': " and returns status. */
nn_status nn_file_with_path(nn_status status, const char *function, const char *path);

#endif /* NN_LAYERS_MODEL_FILE_H */
