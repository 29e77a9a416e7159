/* layers/layer_common.c — allocating and freeing a layer (the model owns its memory). */
#include "internal.h"

#include <stdlib.h>

nn_layer *nn_layer_new(const nn_layer_ops *ops)
{
    nn_layer *l = calloc(1, sizeof *l);
    if (!l) {
        nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_%s: out of memory", ops->kind);
        return NULL;
    }
    l->ops = ops;
    return l;
}

void nn_layer_free(nn_layer *layer) { free(layer); }
