/*
 * engine/dispatch.c — the one place that picks a kernel set and its cache blocks.
 *
 * The choice is made once, thread-safely: NN_ISA from the environment if set, else the
 * best set the CPU supports.  nn_set_isa() may switch sets later (tests do, per case).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

_Static_assert((int)NN_ACT_NONE == NN_KACT_NONE && (int)NN_ACT_RELU == NN_KACT_RELU &&
                   (int)NN_ACT_SIGMOID == NN_KACT_SIGMOID && (int)NN_ACT_TANH == NN_KACT_TANH,
               "public and kernel activation codes must agree");

static const char *const isa_names[NN_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

/* The kernel sets this build compiled, by ISA (NULL: not in this build). */
static const nn_gemm_kernels *const compiled[NN_ISA_COUNT] = {
    [NN_ISA_SCALAR] = &nn_kernels_scalar,
#if defined(__x86_64__)
    [NN_ISA_AVX2] = &nn_kernels_avx2,
    [NN_ISA_AVX512] = &nn_kernels_avx512,
#elif defined(__aarch64__)
    [NN_ISA_NEON] = &nn_kernels_neon,
#endif
};

static nn_gemm_plan plans[NN_ISA_COUNT];
static atomic_int active_isa = -1; /* -1: NN_ISA named something unusable */
static char env_error[256];        /* why, when active_isa is -1 */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int round_down(int value, int multiple)
{
    int r = value / multiple * multiple;
    return r > 0 ? r : multiple;
}

static int clamp(int value, int lo, int hi) { return value < lo ? lo : value > hi ? hi : value; }

/*
 * BLIS-style blocks from the caches: a KC x NR micro-panel of B stays in L1 while
 * MR-row panels of A stream past it; the MC x KC block of packed A fits half of L2;
 * the KC x NC block of packed B fits a share of L3, since every MC block of A reuses
 * it.  When M is a single MC block, packed B is used once, right after packing, and
 * should not leave L2 in between: then NC fits half of L2 instead.
 */
static nn_gemm_plan plan_for(const nn_gemm_kernels *k, const nn_topology *t)
{
    nn_gemm_plan p = {.k = k};
    int tile_bytes_per_k = (k->mr + k->nr) * (int)sizeof(float);
    p.kc = round_down(clamp((int)(t->l1d * 3 / 4) / tile_bytes_per_k, 64, 1024), 16);
    p.mc = round_down(clamp((int)(t->l2 / 2 / ((size_t)p.kc * sizeof(float))), k->mr, 4096), k->mr);
    size_t l3_share = t->l3 / 2;
    p.nc = round_down(clamp((int)(l3_share / ((size_t)p.kc * sizeof(float))), k->nr, 8192), k->nr);
    int l2_nc = round_down((int)(t->l2 / 2 / ((size_t)p.kc * sizeof(float))), k->nr);
    p.nc_one_pass = l2_nc < p.nc ? l2_nc : p.nc;
    return p;
}

static void choose_isa(void)
{
    const nn_topology *t = nn_topology_get();
    for (int isa = 0; isa < NN_ISA_COUNT; isa++)
        if (compiled[isa])
            plans[isa] = plan_for(compiled[isa], t);

    const char *forced = getenv("NN_ISA");
    if (!forced || !*forced) {
        atomic_store(&active_isa, (int)nn_cpu_best_isa());
        return;
    }
    nn_isa isa;
    if (nn_isa_parse(forced, &isa) != NN_OK)
        snprintf(env_error, sizeof env_error,
                 "NN_ISA='%s' is not a kernel set (expected scalar, avx2, avx512 or neon)", forced);
    else if (!nn_isa_supported(isa))
        snprintf(env_error, sizeof env_error,
                 "NN_ISA='%s' asks for kernels this CPU or build cannot run (best here: %s)",
                 forced, isa_names[nn_cpu_best_isa()]);
    else
        atomic_store(&active_isa, (int)isa);
}

const char *nn_isa_name(nn_isa isa)
{
    return isa >= 0 && isa < NN_ISA_COUNT ? isa_names[isa] : "unknown";
}

nn_status nn_isa_parse(const char *name, nn_isa *isa)
{
    for (int i = 0; name && i < NN_ISA_COUNT; i++) {
        if (strcmp(name, isa_names[i]) == 0) {
            *isa = (nn_isa)i;
            return NN_OK;
        }
    }
    return nn_fail(NN_ERR_INVALID_ARGUMENT, "unknown ISA '%s' (expected scalar, avx2, avx512 or neon)",
                   name ? name : "(null)");
}

int nn_isa_supported(nn_isa isa)
{
    return isa >= 0 && isa < NN_ISA_COUNT && compiled[isa] && nn_cpu_supports(isa);
}

nn_isa nn_get_isa(void)
{
    pthread_once(&init_once, choose_isa);
    int isa = atomic_load(&active_isa);
    return isa >= 0 ? (nn_isa)isa : NN_ISA_SCALAR;
}

nn_status nn_set_isa(nn_isa isa)
{
    pthread_once(&init_once, choose_isa);
    if (isa < 0 || isa >= NN_ISA_COUNT)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_set_isa: %d is not an nn_isa", (int)isa);
    if (!compiled[isa])
        return nn_fail(NN_ERR_UNSUPPORTED, "nn_set_isa: this build has no %s kernels",
                       isa_names[isa]);
    if (!nn_cpu_supports(isa))
        return nn_fail(NN_ERR_UNSUPPORTED, "nn_set_isa: this CPU cannot run %s kernels",
                       isa_names[isa]);
    atomic_store(&active_isa, (int)isa);
    return NN_OK;
}

nn_status nn_gemm_plan_get(const nn_gemm_plan **plan)
{
    pthread_once(&init_once, choose_isa);
    int isa = atomic_load(&active_isa);
    if (isa < 0)
        return nn_fail(NN_ERR_UNSUPPORTED, "%s", env_error);
    *plan = &plans[isa];
    return NN_OK;
}
