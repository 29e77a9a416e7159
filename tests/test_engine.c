/*
 * test_engine.c — ISA dispatch (API and NN_ISA), threads (API, NN_NUM_THREADS,
 * OMP_NUM_THREADS), nn_engine_info_get / nn_engine_describe, status strings, nn_malloc.
 *
 * Criterion runs each test in a fresh forked process, so a test that sets an environment
 * variable before its first engine call sees the engine choose from it.
 */
#define _POSIX_C_SOURCE 200809L
#include "gemm_reference.h"

#include <stdint.h>

/* Forgets every variable the engine reads, so defaults are tested as defaults. */
static void clear_engine_env(void) {
    unsetenv("NN_ISA");
    unsetenv("NN_NUM_THREADS");
    unsetenv("OMP_NUM_THREADS");
}

/* A valid 3x4x5 GEMM; returns its status. */
static nn_status small_gemm(void) {
    float a[15], b[20], c[12];
    test_rng rng = {3};
    fill_uniform(a, 15, &rng);
    fill_uniform(b, 20, &rng);
    return nn_sgemm(NN_NO_TRANS, NN_NO_TRANS, 3, 4, 5, 1.0f, a, 5, b, 4, 0.0f, c, 4);
}

/* ---- Kernel sets through the API --------------------------------------------------- */

Test(dispatch, names_parse_back) {
    for (int i = 0; i < NN_ISA_COUNT; i++) {
        nn_isa parsed = NN_ISA_COUNT;
        const char *name = nn_isa_name((nn_isa)i);
        cr_assert(name != NULL && name[0] != '\0', "ISA %d has no name", i);
        cr_assert(nn_isa_parse(name, &parsed) == NN_OK && parsed == (nn_isa)i,
                  "nn_isa_parse(\"%s\") gave %d, want %d", name, parsed, i);
    }
    nn_isa parsed;
    cr_assert(nn_isa_parse("bogus", &parsed) == NN_ERR_INVALID_ARGUMENT, "\"bogus\" parsed");
    cr_assert(nn_isa_parse("", &parsed) == NN_ERR_INVALID_ARGUMENT, "\"\" parsed");
}

Test(dispatch, scalar_always_supported) {
    cr_assert(nn_isa_supported(NN_ISA_SCALAR) == 1, "scalar kernels reported unsupported");
}

/* No CPU runs both x86 AVX2 and Arm NEON, so at least one set is refused here. */
Test(dispatch, unsupported_isa_refused) {
    int refused = 0;
    clear_engine_env();
    nn_isa before = nn_get_isa();
    for (int i = 0; i < NN_ISA_COUNT; i++) {
        if (nn_isa_supported((nn_isa)i)) continue;
        nn_status st = nn_set_isa((nn_isa)i);
        cr_assert(st == NN_ERR_UNSUPPORTED, "nn_set_isa(%s) = %d, want unsupported",
                  nn_isa_name((nn_isa)i), st);
        cr_assert(nn_last_error()[0] != '\0', "nn_set_isa(%s) refused without a message",
                  nn_isa_name((nn_isa)i));
        cr_assert(nn_get_isa() == before, "a refused nn_set_isa changed the ISA");
        refused++;
    }
    cr_assert(refused >= 1, "every ISA claims to be supported, NEON and AVX2 included");
    cr_assert(nn_set_isa(NN_ISA_COUNT) != NN_OK, "nn_set_isa(NN_ISA_COUNT) accepted");
    cr_assert(nn_set_isa((nn_isa)-1) != NN_OK, "nn_set_isa(-1) accepted");
}

/* Each supported set can be chosen, is reported back and runs a GEMM. */
Test(dispatch, supported_isa_selected) {
    FOR_EACH_SUPPORTED_ISA(isa) {
        nn_engine_info info;
        cr_assert(nn_set_isa(isa) == NN_OK, "nn_set_isa(%s): %s", nn_isa_name(isa), nn_last_error());
        cr_assert(nn_get_isa() == isa, "nn_get_isa() = %d after setting %s", nn_get_isa(), nn_isa_name(isa));
        cr_assert(nn_engine_info_get(&info) == NN_OK && info.isa == isa, "info.isa = %d, want %s",
                  info.isa, nn_isa_name(isa));
        cr_assert(small_gemm() == NN_OK, "%s: 3x4x5 GEMM failed: %s", nn_isa_name(isa), nn_last_error());
    }
}

/* Without NN_ISA the engine picks the best set the CPU supports (the highest enum). */
Test(dispatch, default_is_best_supported) {
    nn_isa best = NN_ISA_SCALAR;
    clear_engine_env();
    for (int i = 0; i < NN_ISA_COUNT; i++)
        if (nn_isa_supported((nn_isa)i)) best = (nn_isa)i;
    cr_assert(nn_get_isa() == best, "default ISA %s, best supported %s", nn_isa_name(nn_get_isa()),
              nn_isa_name(best));
}

/* ---- Kernel sets through NN_ISA ------------------------------------------------------ */

/* An engine call under an unusable NN_ISA fails and says NN_ISA is the reason. */
static void expect_env_isa_refused(const char *value) {
    nn_engine_info info;
    clear_engine_env();
    setenv("NN_ISA", value, 1);
    nn_status st = small_gemm();
    cr_assert(st == NN_ERR_UNSUPPORTED || st == NN_ERR_INVALID_ARGUMENT,
              "NN_ISA=%s: nn_sgemm returned %d", value, st);
    cr_assert(strstr(nn_last_error(), "NN_ISA") != NULL, "NN_ISA=%s: message \"%s\" does not name NN_ISA",
              value, nn_last_error());
    st = nn_engine_info_get(&info);
    cr_assert(st == NN_ERR_UNSUPPORTED || st == NN_ERR_INVALID_ARGUMENT,
              "NN_ISA=%s: nn_engine_info_get returned %d", value, st);
}

Test(dispatch_env, bogus_name_fails_clearly) { expect_env_isa_refused("bogus"); }

/* The name of a set this CPU lacks (NEON on x86, AVX2 on Arm). */
Test(dispatch_env, unsupported_name_fails_clearly) {
    for (int i = 0; i < NN_ISA_COUNT; i++)
        if (!nn_isa_supported((nn_isa)i)) {
            expect_env_isa_refused(nn_isa_name((nn_isa)i));
            return;
        }
    cr_assert_fail("no unsupported ISA found");
}

Test(dispatch_env, scalar_forced) {
    clear_engine_env();
    setenv("NN_ISA", "scalar", 1);
    cr_assert(nn_get_isa() == NN_ISA_SCALAR, "NN_ISA=scalar gave %s", nn_isa_name(nn_get_isa()));
    cr_assert(small_gemm() == NN_OK, "NN_ISA=scalar: GEMM failed: %s", nn_last_error());
}

ParameterizedTestParameters(dispatch_env, each_supported_name_forced) {
    static nn_isa isas[NN_ISA_COUNT];
    for (int i = 0; i < NN_ISA_COUNT; i++) isas[i] = (nn_isa)i;
    return cr_make_param_array(nn_isa, isas, NN_ISA_COUNT);
}

ParameterizedTest(nn_isa *isa, dispatch_env, each_supported_name_forced) {
    require_isa(*isa);
    clear_engine_env();
    setenv("NN_ISA", nn_isa_name(*isa), 1);
    cr_assert(nn_get_isa() == *isa, "NN_ISA=%s gave %s", nn_isa_name(*isa), nn_isa_name(nn_get_isa()));
    cr_assert(small_gemm() == NN_OK, "NN_ISA=%s: GEMM failed: %s", nn_isa_name(*isa), nn_last_error());
}

/* ---- Threads --------------------------------------------------------------------- */

Test(threads, set_get_and_restore_default) {
    clear_engine_env();
    int initial = nn_get_num_threads();
    cr_assert(initial >= 1, "nn_get_num_threads() = %d", initial);
    cr_assert(nn_set_num_threads(-1) == NN_ERR_INVALID_ARGUMENT, "nn_set_num_threads(-1) accepted");
    cr_assert(nn_last_error()[0] != '\0', "nn_set_num_threads(-1) refused without a message");
    cr_assert(nn_get_num_threads() == initial, "a refused call changed the thread count");
    cr_assert(nn_set_num_threads(3) == NN_OK && nn_get_num_threads() == 3, "set 3, got %d",
              nn_get_num_threads());
    cr_assert(nn_set_num_threads(0) == NN_OK && nn_get_num_threads() == initial,
              "set 0 gave %d, default is %d", nn_get_num_threads(), initial);
}

/* With no variable set, the default is the number of physical cores. */
Test(threads, default_is_physical_cores) {
    nn_engine_info info;
    clear_engine_env();
    cr_assert(nn_engine_info_get(&info) == NN_OK, "%s", nn_last_error());
    cr_assert(nn_get_num_threads() == info.physical_cores, "default %d threads, %d physical cores",
              nn_get_num_threads(), info.physical_cores);
}

/* Sets the given variables (NULL: unset) and expects that default thread count. */
static void expect_env_threads(const char *nn_value, const char *omp_value, int want) {
    clear_engine_env();
    if (nn_value) setenv("NN_NUM_THREADS", nn_value, 1);
    if (omp_value) setenv("OMP_NUM_THREADS", omp_value, 1);
    cr_assert(nn_get_num_threads() == want, "NN_NUM_THREADS=%s OMP_NUM_THREADS=%s: %d threads, want %d",
              nn_value ? nn_value : "(unset)", omp_value ? omp_value : "(unset)", nn_get_num_threads(), want);
}

Test(threads, nn_num_threads_env) { expect_env_threads("3", NULL, 3); }
Test(threads, omp_num_threads_env) { expect_env_threads(NULL, "2", 2); }
Test(threads, nn_env_wins_over_omp_env) { expect_env_threads("3", "2", 3); }

/* ---- Engine info ------------------------------------------------------------------ */

static void check_info_sane(const nn_engine_info *info) {
    cr_assert(info->mr > 0 && info->nr > 0, "register tile %d x %d", info->mr, info->nr);
    cr_assert(info->mc > 0 && info->kc > 0 && info->nc > 0, "blocks mc %d kc %d nc %d", info->mc,
              info->kc, info->nc);
    cr_assert(info->l1d_bytes > 0 && info->l2_bytes > 0 && info->l3_bytes > 0,
              "caches L1d %zu L2 %zu L3 %zu", info->l1d_bytes, info->l2_bytes, info->l3_bytes);
    cr_assert(info->physical_cores >= 1 && info->logical_cpus >= info->physical_cores,
              "%d physical cores, %d logical CPUs", info->physical_cores, info->logical_cpus);
    cr_assert(info->threads >= 1, "threads %d", info->threads);
    cr_assert(info->topology_source != NULL && (strcmp(info->topology_source, "hwloc") == 0 ||
                                                strcmp(info->topology_source, "sysfs") == 0),
              "topology_source \"%s\"", info->topology_source ? info->topology_source : "(null)");
}

Test(info, sane_for_every_isa) {
    FOR_EACH_SUPPORTED_ISA(isa) {
        nn_engine_info info;
        use_engine(isa, 2);
        cr_assert(nn_engine_info_get(&info) == NN_OK, "%s: %s", nn_isa_name(isa), nn_last_error());
        cr_assert(info.isa == isa, "info.isa %d, want %s", info.isa, nn_isa_name(isa));
        cr_assert(info.threads == 2, "info.threads %d after nn_set_num_threads(2)", info.threads);
        check_info_sane(&info);
    }
}

Test(info, null_refused) {
    cr_assert(nn_engine_info_get(NULL) == NN_ERR_INVALID_ARGUMENT, "nn_engine_info_get(NULL) accepted");
}

/* Returns the length it needs, truncates with a NUL, and names the ISA in use. */
Test(info, describe_truncates_and_terminates) {
    char small[8], big[4096];
    memset(small, 'x', sizeof small);
    int need = nn_engine_describe(NULL, 0);
    cr_assert(need > 0 && need < (int)sizeof big, "nn_engine_describe(NULL, 0) = %d", need);
    cr_assert(nn_engine_describe(small, sizeof small) == need, "length changed with a small buffer");
    cr_assert(small[sizeof small - 1] == '\0' && strlen(small) == sizeof small - 1,
              "small buffer not filled and terminated: \"%.8s\"", small);
    cr_assert(nn_engine_describe(big, sizeof big) == need && strlen(big) == (size_t)need,
              "full report: returned %d, strlen %zu", need, strlen(big));
    cr_assert(strstr(big, nn_isa_name(nn_get_isa())) != NULL, "report does not name the ISA:\n%s", big);
}

/* ---- Status strings and memory ------------------------------------------------------ */

Test(status, every_status_has_a_name) {
    for (int s = NN_OK; s <= NN_ERR_NUMERIC; s++) {
        const char *name = nn_status_string((nn_status)s);
        cr_assert(name != NULL && name[0] != '\0', "status %d has no name", s);
    }
    cr_assert(strcmp(nn_status_string(NN_OK), nn_status_string(NN_ERR_INVALID_ARGUMENT)) != 0,
              "two statuses share a name");
}

Test(memory, aligned_and_usable) {
    cr_assert(nn_malloc(0) == NULL, "nn_malloc(0) returned a pointer");
    for (size_t bytes = 1; bytes <= 1u << 20; bytes = bytes * 7 + 3) {
        unsigned char *p = nn_malloc(bytes);
        cr_assert(p != NULL, "nn_malloc(%zu) failed", bytes);
        cr_assert((uintptr_t)p % 64 == 0, "nn_malloc(%zu) = %p is not 64-byte aligned", bytes, (void *)p);
        memset(p, 0xA5, bytes);
        cr_assert(p[bytes - 1] == 0xA5, "last byte not writable");
        nn_free(p);
    }
    nn_free(NULL);
}
