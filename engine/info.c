/* engine/info.c — what the engine found (topology) and chose (kernels, blocks, threads). */
#include <stdio.h>

#include "internal.h"

nn_status nn_engine_info_get(nn_engine_info *info)
{
    if (!info)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_engine_info_get: info is NULL");
    const nn_gemm_plan *plan;
    nn_status status = nn_gemm_plan_get(&plan);
    if (status != NN_OK)
        return status;
    const nn_topology *t = nn_topology_get();
    *info = (nn_engine_info){
        .isa = nn_get_isa(),
        .threads = nn_get_num_threads(),
        .physical_cores = t->physical_cores,
        .logical_cpus = t->logical_cpus,
        .l1d_bytes = t->l1d, .l2_bytes = t->l2, .l3_bytes = t->l3,
        .topology_source = t->source,
        .mr = plan->k->mr, .nr = plan->k->nr,
        .mc = plan->mc, .kc = plan->kc, .nc = plan->nc,
    };
    return NN_OK;
}

int nn_engine_describe(char *buf, size_t size)
{
    nn_engine_info i;
    if (nn_engine_info_get(&i) != NN_OK)
        return snprintf(buf, size, "engine unusable: %s\n", nn_last_error());
    return snprintf(buf, size,
                    "isa:      %s (best supported: %s)\n"
                    "threads:  %d (physical cores %d, logical CPUs %d)\n"
                    "caches:   L1d %zu KiB, L2 %zu KiB, L3 %zu KiB (from %s)\n"
                    "gemm:     MR x NR = %d x %d, MC %d, KC %d, NC %d\n",
                    nn_isa_name(i.isa), nn_isa_name(nn_cpu_best_isa()), i.threads,
                    i.physical_cores, i.logical_cpus, i.l1d_bytes >> 10, i.l2_bytes >> 10,
                    i.l3_bytes >> 10, i.topology_source, i.mr, i.nr, i.mc, i.kc, i.nc);
}
