/*
 * engine/threads.c — how many threads an engine call uses, and the float mode of
 * each worker.
 *
 * One OpenMP team per call, never nested: a call made from inside a parallel region
 * (the caller is already threaded) runs on its own thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

/* Below this much work per thread, starting a thread costs more than it saves. */
static const double min_flops_per_thread = 2e6;

static atomic_int requested_threads; /* 0: the default */
static int default_threads;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

/* A positive thread count from the environment, or 0 (with a warning if malformed). */
static int env_threads(const char *name)
{
    const char *text = getenv(name);
    if (!text || !*text)
        return 0;
    char *end;
    long value = strtol(text, &end, 10);
    if (*end != '\0' || value < 1 || value > 4096) {
        fprintf(stderr, "nn: ignoring %s='%s' (expected a positive integer)\n", name, text);
        return 0;
    }
    return (int)value;
}

static void choose_default(void)
{
    default_threads = env_threads("NN_NUM_THREADS");
    if (!default_threads)
        default_threads = env_threads("OMP_NUM_THREADS");
    if (!default_threads)
        default_threads = nn_topology_get()->physical_cores;
}

nn_status nn_set_num_threads(int threads)
{
    if (threads < 0)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_set_num_threads: %d threads (expected >= 1, or 0 for the default)",
                       threads);
    atomic_store(&requested_threads, threads);
    return NN_OK;
}

int nn_get_num_threads(void)
{
    int threads = atomic_load(&requested_threads);
    if (threads > 0)
        return threads;
    pthread_once(&default_once, choose_default);
    return default_threads;
}

int nn_threads_for(double flops)
{
    if (omp_in_parallel())
        return 1;
    int threads = nn_get_num_threads();
    double useful = flops / min_flops_per_thread;
    if (useful < threads)
        threads = useful < 1 ? 1 : (int)useful;
    return threads;
}

#if defined(__x86_64__) || defined(__i386__)
unsigned nn_fp_enter_ftz(void)
{
    unsigned saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
    return saved;
}

void nn_fp_restore(unsigned saved) { _mm_setcsr(saved); }

#elif defined(__aarch64__)
unsigned nn_fp_enter_ftz(void)
{
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("msr fpcr, %0" ::"r"(fpcr | (1ul << 24))); /* FZ */
    return (unsigned)fpcr;
}

void nn_fp_restore(unsigned saved)
{
    unsigned long fpcr = saved;
    __asm__ volatile("msr fpcr, %0" ::"r"(fpcr));
}

#else
unsigned nn_fp_enter_ftz(void) { return 0; }
void nn_fp_restore(unsigned saved) { (void)saved; }
#endif
