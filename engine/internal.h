/* engine/internal.h — what the engine's own files share; never installed. */
#ifndef NN_ENGINE_INTERNAL_H
#define NN_ENGINE_INTERNAL_H

#include <nn/engine.h>

#include "kernels.h"

/* ---- cpu.c: what the CPU and OS can run ---- */
int nn_cpu_supports(nn_isa isa);
nn_isa nn_cpu_best_isa(void);

/* ---- topology.c: cores and caches, read once ---- */
typedef struct nn_topology {
    int physical_cores, logical_cpus;
    size_t l1d, l2, l3;
    const char *source;
} nn_topology;
const nn_topology *nn_topology_get(void);

/* ---- dispatch.c: the kernel table and cache blocks in use ---- */
typedef struct nn_gemm_plan {
    const nn_gemm_kernels *k;
    int mc, kc, nc; /* MC multiple of MR, NC multiple of NR */
    int nc_one_pass; /* NC when M is one MC block: packed B is used once, from L2 */
} nn_gemm_plan;

/* The plan for the current ISA; fails if NN_ISA asked for an unusable one. */
nn_status nn_gemm_plan_get(const nn_gemm_plan **plan);

/* ---- gemm.c ---- */
/* C = A B (+ the epilogue), A and B not transposed, with the tiles reading B as stored
 * however often they reuse it, never packed: for a B laid out for that, rows starting on
 * cache lines an odd number of lines apart (conv.c's column matrix), which the tiles read
 * about as fast as a packed panel, so the copy is saved. */
nn_status nn_sgemm_b_in_place(int M, int N, int K, const float *A, int lda, const float *B,
                              int ldb, float *C, int ldc, const nn_gemm_epilogue *ep);

/* ---- threads.c ---- */
/* Threads worth starting for `flops` of work: at most nn_get_num_threads(), 1 inside
 * a parallel region. */
int nn_threads_for(double flops);

/* Flush-to-zero and denormals-are-zero for the calling thread; returns the old mode. */
unsigned nn_fp_enter_ftz(void);
void nn_fp_restore(unsigned saved);

#endif /* NN_ENGINE_INTERNAL_H */
