/* engine/memory.c — 64-byte aligned buffers (one cache line, one AVX-512 vector). */
#include <stdlib.h>

#include "internal.h"

enum { NN_ALIGN = 64 };

void *nn_malloc(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    size_t rounded = (bytes + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
    if (rounded < bytes)
        return NULL; /* overflow */
    return aligned_alloc(NN_ALIGN, rounded);
}

void nn_free(void *p) { free(p); }
