/* layers/layer_common.c — allocating and freeing a layer (the model owns its memory),
 * and the one way layers spread a loop over threads. */
#include "internal.h"

#include <omp.h>
#include <stdlib.h>

/* Below this many floats of work a loop stays on one thread: a parallel region costs a
 * few microseconds, about what one core streams 16k floats in. */
enum { PARALLEL_MIN_FLOATS = 1 << 14 };

void nn_parallel_ranges(size_t count, size_t floats, nn_range_fn fn, void *ctx)
{
    int threads = floats < PARALLEL_MIN_FLOATS || omp_in_parallel() ? 1 : nn_get_num_threads();
    if ((size_t)threads > count)
        threads = (int)count;
    if (threads <= 1) {
        fn(ctx, 0, count);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
        fn(ctx, count * t / n, count * (t + 1) / n);
    }
}

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
