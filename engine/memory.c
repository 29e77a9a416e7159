/* engine/memory.c — 64-byte aligned buffers (one cache line, one AVX-512 vector); large
 * ones on transparent huge pages where Linux offers them. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "internal.h"

enum { NN_ALIGN = 64 };

/* From this size on, a buffer starts on a 2 MiB boundary and is advised as huge pages:
 * a training step reads and writes some 30 MB spread over its buffers (the model's
 * arena, the convolution workspaces), far more than 4 KiB pages' TLB reaches.  The MNIST
 * CNN trained 3% faster so (bench/RESULTS.md).  The price is at the first touch, where
 * the kernel may compact memory to find huge pages: a buffer read only here and there is
 * better allocated elsewhere (mnist's data set is), and a buffer's last huge page may hold
 * up to 2 MiB past its end.  With THP set to "never" the advice does nothing, and the
 * rounding costs only address space. */
#define HUGE_PAGE ((size_t)2 << 20)

void *nn_malloc(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : NN_ALIGN;
    size_t rounded = (bytes + align - 1) / align * align; /* aligned_alloc's rule */
    if (rounded < bytes)
        return NULL; /* overflow */
    void *p = aligned_alloc(align, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p && align == HUGE_PAGE)
        (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice: nothing changes if refused */
#endif
    return p;
}

void nn_free(void *p) { free(p); }
