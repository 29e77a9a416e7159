/*
 * engine/update.c — optimizer updates: argument checks, then the kernel set's update
 * loop over the parameters, split across the team.
 *
 * The update is elementwise, so each thread takes one contiguous chunk (a multiple of
 * 16 floats: in 64-byte aligned buffers, like the model's, no two threads write the same
 * cache line) and the bits of every element are the same whatever the number of threads
 * (see simd/update.h).
 */
#include <math.h>
#include <omp.h>

#include "internal.h"

/* A chunk boundary falls on a multiple of this many floats: a 64-byte line. */
enum { CHUNK_FLOATS = 16 };

/* What one element costs, in the GEMM flops that nn_threads_for counts: a float read or
 * written takes about 40 ps on one core (plain SGD, 3 floats: 0.09-0.13 ns per parameter
 * on AVX-512), the time of 8 GEMM flops at ~200 GFLOP/s.  Adam moves 7 floats and adds
 * a divide and a square root: ~0.4 ns, as much as 10 floats moved. */
enum { FLOPS_PER_FLOAT_MOVED = 8 };

typedef struct update_job {
    const nn_gemm_kernels *k;
    nn_update_args args;
    int adam;
    float *p;
    const float *g;
    float *s1, *s2; /* SGD: velocity (or NULL), unused; Adam: m, v */
} update_job;

/* Elements [begin, end) of the job. */
static void update_range(const update_job *j, size_t begin, size_t end)
{
    size_t n = end - begin;
    if (j->adam)
        j->k->adam_update(n, &j->args, j->p + begin, j->g + begin, j->s1 + begin, j->s2 + begin);
    else
        j->k->sgd_update(n, &j->args, j->p + begin, j->g + begin, j->s1 ? j->s1 + begin : NULL);
}

/* Runs the job over n elements, each costing as much as moving `floats` floats, on the
 * threads that pays for; one thread never enters the OpenMP runtime. */
static void update_parallel(const update_job *j, size_t n, int floats)
{
    int threads = nn_threads_for((double)n * floats * FLOPS_PER_FLOAT_MOVED);
    size_t per_thread = (n + (size_t)threads - 1) / (size_t)threads;
    size_t chunk = (per_thread + CHUNK_FLOATS - 1) / CHUNK_FLOATS * CHUNK_FLOATS;
    if (threads == 1) {
        unsigned fp = nn_fp_enter_ftz();
        update_range(j, 0, n);
        nn_fp_restore(fp);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        unsigned fp = nn_fp_enter_ftz();
        /* The team may be smaller than asked; its threads then share the chunks. */
        for (int c = omp_get_thread_num(); c < threads; c += omp_get_num_threads()) {
            size_t begin = (size_t)c * chunk, end = begin + chunk < n ? begin + chunk : n;
            if (begin < end)
                update_range(j, begin, end);
        }
        nn_fp_restore(fp);
    }
}

nn_status nn_sgd_update(size_t n, const nn_sgd_args *args, float *params, const float *grads,
                        float *velocity)
{
    if (!args)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgd_update: args is NULL");
    int momentum = args->momentum > 0.0f;
    if (n > 0 && (!params || !grads || (momentum && !velocity)))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgd_update: %s is NULL with n=%zu",
                       !params ? "params" : !grads ? "grads" : "velocity (momentum > 0)", n);
    const nn_gemm_plan *plan;
    nn_status status = nn_gemm_plan_get(&plan);
    if (status != NN_OK || n == 0)
        return status;
    update_job j = {
        .k = plan->k,
        .args = {.lr = args->lr, .weight_decay = args->weight_decay,
                 .momentum = args->momentum, .nesterov = args->nesterov},
        .p = params, .g = grads, .s1 = momentum ? velocity : NULL,
    };
    update_parallel(&j, n, momentum ? 5 : 3); /* p, g (, v) in; p (, v) out */
    return NN_OK;
}

/* 1 / (1 - beta^t), in double, rounded once to float. */
static float inverse_bias_correction(float beta, long long step)
{
    return (float)(1.0 / (1.0 - pow((double)beta, (double)step)));
}

nn_status nn_adam_update(size_t n, const nn_adam_args *args, float *params, const float *grads,
                         float *m, float *v)
{
    if (!args)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_adam_update: args is NULL");
    if (args->step < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_adam_update: step = %lld, must be >= 1",
                       args->step);
    if (n > 0 && (!params || !grads || !m || !v))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_adam_update: %s is NULL with n=%zu",
                       !params ? "params" : !grads ? "grads" : !m ? "m" : "v", n);
    const nn_gemm_plan *plan;
    nn_status status = nn_gemm_plan_get(&plan);
    if (status != NN_OK || n == 0)
        return status;
    update_job j = {
        .k = plan->k,
        .args = {.lr = args->lr, .weight_decay = args->weight_decay, .beta1 = args->beta1,
                 .beta2 = args->beta2, .eps = args->eps, .decoupled = args->decoupled,
                 .inv_bc1 = inverse_bias_correction(args->beta1, args->step),
                 .inv_bc2 = inverse_bias_correction(args->beta2, args->step)},
        .adam = 1, .p = params, .g = grads, .s1 = m, .s2 = v,
    };
    update_parallel(&j, n, 10); /* p, g, m, v in; p, m, v out; divide, sqrt */
    return NN_OK;
}
