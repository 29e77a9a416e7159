/*
 * engine/topology.c — physical cores and cache sizes, read once.
 *
 * hwloc when the build has it (-DNN_WITH_HWLOC=ON), otherwise Linux sysfs, otherwise
 * conservative defaults.  The GEMM blocks and the default thread count come from here.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#ifdef NN_WITH_HWLOC
#include <hwloc.h>
#endif

static nn_topology topo;
static pthread_once_t topo_once = PTHREAD_ONCE_INIT;

#ifdef NN_WITH_HWLOC
static size_t hwloc_cache_size(hwloc_topology_t t, hwloc_obj_type_t type)
{
    hwloc_obj_t obj = hwloc_get_next_obj_by_type(t, type, NULL);
    return obj && obj->attr ? (size_t)obj->attr->cache.size : 0;
}

static int read_hwloc(nn_topology *out)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0)
        return 0;
    if (hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        return 0;
    }
    out->physical_cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    out->logical_cpus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    out->l1d = hwloc_cache_size(t, HWLOC_OBJ_L1CACHE);
    out->l2 = hwloc_cache_size(t, HWLOC_OBJ_L2CACHE);
    out->l3 = hwloc_cache_size(t, HWLOC_OBJ_L3CACHE);
    out->source = "hwloc";
    hwloc_topology_destroy(t);
    return out->physical_cores > 0;
}
#endif

/* Reads a sysfs cache size like "48K" or "2048K"; 0 if absent. */
static size_t sysfs_size(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long value = 0;
    char unit = 0;
    int n = fscanf(f, "%llu%c", &value, &unit);
    fclose(f);
    if (n < 1)
        return 0;
    if (unit == 'K') value <<= 10;
    if (unit == 'M') value <<= 20;
    return (size_t)value;
}

static void read_sysfs_caches(nn_topology *out)
{
    for (int index = 0; index < 8; index++) {
        char path[128], type[32] = "";
        int level = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        int ok = fscanf(f, "%d", &level) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", index);
        if (!ok || !(f = fopen(path, "r")))
            continue;
        ok = fscanf(f, "%31s", type) == 1;
        fclose(f);
        if (!ok || strcmp(type, "Instruction") == 0)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
        size_t size = sysfs_size(path);
        if (level == 1) out->l1d = size;
        if (level == 2) out->l2 = size;
        if (level == 3) out->l3 = size;
    }
}

/* A CPU is the first thread of its core when it heads its own sibling list. */
static int count_physical_cores(int logical)
{
    int cores = 0;
    for (int cpu = 0; cpu < logical; cpu++) {
        char path[128];
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
        FILE *f = fopen(path, "r");
        int first = -1;
        if (f) {
            if (fscanf(f, "%d", &first) != 1)
                first = -1;
            fclose(f);
        }
        cores += first < 0 || first == cpu;
    }
    return cores;
}

static void read_sysfs(nn_topology *out)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    out->logical_cpus = online > 0 ? (int)online : 1;
    out->physical_cores = count_physical_cores(out->logical_cpus);
    read_sysfs_caches(out);
    out->source = "sysfs";
}

static void read_topology(void)
{
#ifdef NN_WITH_HWLOC
    if (!read_hwloc(&topo))
#endif
        read_sysfs(&topo);
    /* Defaults for whatever could not be read: a small, common machine. */
    if (topo.physical_cores < 1) topo.physical_cores = 1;
    if (topo.logical_cpus < topo.physical_cores) topo.logical_cpus = topo.physical_cores;
    if (topo.l1d == 0) topo.l1d = 32 << 10;
    if (topo.l2 == 0) topo.l2 = 512 << 10;
    if (topo.l3 == 0) topo.l3 = 8 << 20;
}

const nn_topology *nn_topology_get(void)
{
    pthread_once(&topo_once, read_topology);
    return &topo;
}
