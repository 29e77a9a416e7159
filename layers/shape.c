/* layers/shape.c — per-sample shapes and dataset views. */
#include <stdio.h>

#include "internal.h"

nn_shape nn_shape_1d(int n) { return (nn_shape){.rank = 1, .dims = {n}}; }

nn_shape nn_shape_3d(int c, int h, int w) { return (nn_shape){.rank = 3, .dims = {c, h, w}}; }

size_t nn_shape_size(nn_shape s)
{
    if (s.rank < 1 || s.rank > NN_MAX_RANK)
        return 0;
    size_t size = 1;
    for (int i = 0; i < s.rank; i++) {
        if (s.dims[i] < 1)
            return 0;
        size *= (size_t)s.dims[i];
    }
    return size;
}

int nn_shape_format(nn_shape s, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%d", s.rank > 0 ? s.dims[0] : 0);
    for (int i = 1; i < s.rank && n >= 0; i++)
        n += snprintf(buf + ((size_t)n < size ? (size_t)n : size), (size_t)n < size ? size - (size_t)n : 0,
                      "x%d", s.dims[i]);
    return n;
}

nn_status nn_dataset_rows(const nn_dataset *d, int first, int count, nn_dataset *view)
{
    if (!d || !view)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_dataset_rows: NULL dataset or view");
    if (first < 0 || count < 0 || first > d->count || count > d->count - first)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_dataset_rows: rows [%d, %d) are outside a dataset of %d rows",
                       first, first + count, d->count);
    *view = *d;
    view->count = count;
    view->x = d->x ? d->x + (size_t)first * d->features : NULL;
    view->labels = d->labels ? d->labels + first : NULL;
    view->y = d->y ? d->y + (size_t)first * d->targets : NULL;
    return NN_OK;
}
