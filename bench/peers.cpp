// The peer libraries, loaded at run time with dlopen(RTLD_NOW | RTLD_LOCAL).
//
// Why not link them: OpenBLAS and BLIS both export cblas_sgemm (and sgemm_), so one
// process can hold both only if neither puts its symbols in the global scope.  CMake
// finds each library file at configure time and passes its path; a peer whose path is
// missing, or whose file will not load, is skipped and --info says why.
//
// All three are the OpenMP builds and share the process's libgomp with our engine:
// one thread pool, so no library oversubscribes the cores while another's threads spin.
#include "bench.h"

#include <dlfcn.h>
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace nnb {
namespace {

// CBLAS enum values (cblas.h), declared here because no CBLAS header is included.
enum { kCblasRowMajor = 101, kCblasNoTrans = 111, kCblasTrans = 112 };

using cblas_sgemm_fn = void (*)(int order, int trans_a, int trans_b, int M, int N, int K,
                                float alpha, const float *A, int lda, const float *B,
                                int ldb, float beta, float *C, int ldc);
// oneDNN's dnnl_sgemm: row-major, 64-bit sizes, 'N' / 'T' transposes, returns a status.
using dnnl_sgemm_fn = int (*)(char trans_a, char trans_b, int64_t M, int64_t N, int64_t K,
                              float alpha, const float *A, int64_t lda, const float *B,
                              int64_t ldb, float beta, float *C, int64_t ldc);
struct dnnl_version_t {  // the leading fields of oneDNN's dnnl_version_t
    int major, minor, patch;
    const char *hash;
};

// One peer: where CMake found it, whether it loaded, and what it says about itself.
struct Peer {
    Peer(const char *name_, const char *path_) : name(name_), path(path_) {}
    const char *name;
    const char *path;     // nullptr: not found at configure time
    void *handle = nullptr;
    std::string detail;   // version and configuration, or why it was skipped
};

// The paths CMake found (bench/CMakeLists.txt), nullptr where it found none.
#ifndef NN_BENCH_DNNL_PATH
#define NN_BENCH_DNNL_PATH nullptr
#endif
#ifndef NN_BENCH_OPENBLAS_PATH
#define NN_BENCH_OPENBLAS_PATH nullptr
#endif
#ifndef NN_BENCH_BLIS_PATH
#define NN_BENCH_BLIS_PATH nullptr
#endif
Peer g_dnnl("onednn", NN_BENCH_DNNL_PATH);
Peer g_openblas("openblas", NN_BENCH_OPENBLAS_PATH);
Peer g_blis("blis", NN_BENCH_BLIS_PATH);

dnnl_sgemm_fn dnnl_sgemm;
cblas_sgemm_fn openblas_sgemm;
void (*openblas_set_threads)(int);
cblas_sgemm_fn blis_sgemm;
void (*blis_set_threads)(int64_t);  // bli_thread_set_num_threads(dim_t), dim_t = int64

bool cpu_has_avx512f()
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

template <typename F>
F symbol(const Peer &peer, const char *name)
{
    return reinterpret_cast<F>(dlsym(peer.handle, name));
}

// dlopens peer.path; on failure records why and returns false.
bool open_peer(Peer &peer)
{
    if (!peer.path) {
        peer.detail = "skipped: not found at configure time";
        return false;
    }
    peer.handle = dlopen(peer.path, RTLD_NOW | RTLD_LOCAL);
    if (!peer.handle) {
        const char *why = dlerror();
        peer.detail = std::string("skipped: dlopen failed: ") + (why ? why : "?");
    }
    return peer.handle != nullptr;
}

// Drops a loaded peer that lacks a symbol we need.
bool require(Peer &peer, bool found, const char *what)
{
    if (!found) {
        peer.detail = std::string("skipped: no ") + what + " in " + peer.path;
        dlclose(peer.handle);
        peer.handle = nullptr;
    }
    return found;
}

void load_dnnl()
{
    if (!open_peer(g_dnnl))
        return;
    dnnl_sgemm = symbol<dnnl_sgemm_fn>(g_dnnl, "dnnl_sgemm");
    if (!require(g_dnnl, dnnl_sgemm != nullptr, "dnnl_sgemm"))
        return;
    g_dnnl.detail = "oneDNN (version unknown; threads: OpenMP)";
    auto version = symbol<const dnnl_version_t *(*)()>(g_dnnl, "dnnl_version");
    if (version) {
        const dnnl_version_t *v = version();
        g_dnnl.detail = "oneDNN " + std::to_string(v->major) + "." +
                        std::to_string(v->minor) + "." + std::to_string(v->patch) +
                        " (threads: OpenMP)";
    }
}

void load_openblas()
{
    // OpenBLAS is built with DYNAMIC_ARCH and picks its kernels by CPU model; under a
    // hypervisor that hides the model it can fall back to Haswell (AVX2) kernels.  The
    // comparison is meant against its AVX-512 kernels, so force them where the CPU has
    // AVX-512F; this must be set before the library's constructor runs.
    if (cpu_has_avx512f())
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    if (!open_peer(g_openblas))
        return;
    openblas_sgemm = symbol<cblas_sgemm_fn>(g_openblas, "cblas_sgemm");
    openblas_set_threads = symbol<void (*)(int)>(g_openblas, "openblas_set_num_threads");
    if (!require(g_openblas, openblas_sgemm && openblas_set_threads,
                 "cblas_sgemm/openblas_set_num_threads"))
        return;
    const char *coretype = std::getenv("OPENBLAS_CORETYPE");
    g_openblas.detail = std::string("OPENBLAS_CORETYPE=") + (coretype ? coretype : "(unset)");
    auto config = symbol<char *(*)()>(g_openblas, "openblas_get_config");
    auto corename = symbol<char *(*)()>(g_openblas, "openblas_get_corename");
    if (config)
        g_openblas.detail += std::string("; config: ") + config();
    if (corename)
        g_openblas.detail += std::string("; core: ") + corename();
}

void load_blis()
{
    if (!open_peer(g_blis))
        return;
    blis_sgemm = symbol<cblas_sgemm_fn>(g_blis, "cblas_sgemm");
    blis_set_threads = symbol<void (*)(int64_t)>(g_blis, "bli_thread_set_num_threads");
    if (!require(g_blis, blis_sgemm && blis_set_threads,
                 "cblas_sgemm/bli_thread_set_num_threads"))
        return;
    auto version = symbol<const char *(*)()>(g_blis, "bli_info_get_version_str");
    auto arch_id = symbol<int (*)()>(g_blis, "bli_arch_query_id");
    auto arch_name = symbol<const char *(*)(int)>(g_blis, "bli_arch_string");
    g_blis.detail = std::string("BLIS ") + (version ? version() : "?");
    if (!arch_id || !arch_name)
        return;
    std::string arch = arch_name(arch_id());
    g_blis.detail += "; arch: " + arch;
    // BLIS picks skx only when it can tell the core has two AVX-512 FMA units, which
    // it reads from the CPU's model name; a virtual CPU's generic name hides it.
    if (arch != "skx" && cpu_has_avx512f())
        g_blis.detail += " (AVX2 kernels on an AVX-512 CPU: BLIS_ARCH_DEBUG=1 says why)";
}

// ---- The Impl adapters ----------------------------------------------------------

const char *run_cblas(cblas_sgemm_fn sgemm, const Shape &s, const float *A,
                      const float *B, float *C)
{
    sgemm(kCblasRowMajor, s.trans_a ? kCblasTrans : kCblasNoTrans,
          s.trans_b ? kCblasTrans : kCblasNoTrans, s.M, s.N, s.K, 1.0f, A, lda(s), B,
          ldb(s), 0.0f, C, ldc(s));
    return nullptr;
}

const char *dnnl_run(const Shape &s, const float *A, const float *B, float *C)
{
    int status = dnnl_sgemm(s.trans_a ? 'T' : 'N', s.trans_b ? 'T' : 'N', s.M, s.N, s.K,
                            1.0f, A, lda(s), B, ldb(s), 0.0f, C, ldc(s));
    return status == 0 ? nullptr : "dnnl_sgemm failed";
}

const char *openblas_run(const Shape &s, const float *A, const float *B, float *C)
{
    return run_cblas(openblas_sgemm, s, A, B, C);
}

const char *blis_run(const Shape &s, const float *A, const float *B, float *C)
{
    return run_cblas(blis_sgemm, s, A, B, C);
}

// oneDNN takes its thread count from OpenMP (omp_get_max_threads at call time).
void dnnl_threads(int t) { omp_set_num_threads(t); }
void openblas_threads(int t) { openblas_set_threads(t); }
void blis_threads(int t) { blis_set_threads(t); }

}  // namespace

void load_peers()
{
    load_dnnl();
    load_openblas();
    load_blis();
}

std::vector<Impl> loaded_peers()
{
    std::vector<Impl> peers;
    if (g_dnnl.handle)
        peers.push_back({"onednn", dnnl_threads, dnnl_run});
    if (g_openblas.handle)
        peers.push_back({"openblas", openblas_threads, openblas_run});
    if (g_blis.handle)
        peers.push_back({"blis", blis_threads, blis_run});
    return peers;
}

void print_peer_info(std::FILE *out)
{
    std::fprintf(out, "peers (loaded with dlopen; OpenMP builds preferred):\n");
    for (const Peer *p : {&g_dnnl, &g_openblas, &g_blis}) {
        std::fprintf(out, "  %-9s %-7s %s\n", p->name, p->handle ? "loaded" : "absent",
                     p->path ? p->path : "-");
        std::fprintf(out, "            %s\n", p->detail.c_str());
    }
}

}  // namespace nnb
