// The benchmarks: sgemm/<impl>/<shape>/threads:<t> for every shape, implementation and
// thread count, and the measured FMA peak, all registered in loops from the tables.
#include "bench.h"
#include "fma_peak.h"

#include <benchmark/benchmark.h>
#include <nn/engine.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>

namespace nnb {

Buffer aligned_floats(size_t n)
{
    // aligned_alloc wants a multiple of the alignment, and some libcs a nonzero size.
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    return Buffer(static_cast<float *>(std::aligned_alloc(64, bytes ? bytes : 64)));
}

Buffer random_floats(size_t n, std::mt19937 &rng)
{
    Buffer buf = aligned_floats(n);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
        buf[i] = dist(rng);
    return buf;
}

namespace {

// ---- Operands -------------------------------------------------------------------

// A, B and C of one shape, stored as the shape says, A and B filled with uniform
// values in [-1, 1) from a seed fixed per shape: every implementation multiplies the
// very same matrices.
struct Operands {
    Buffer A, B, C;
};

// Made once per shape and kept (about 100 MB for the whole table), so repeated runs of
// a benchmark and the runs of other implementations pay nothing to set up.
const Operands &operands(const Shape &s)
{
    static std::map<const Shape *, Operands> cache;
    auto found = cache.find(&s);
    if (found != cache.end())
        return found->second;
    std::mt19937 rng(static_cast<unsigned>(s.M * 131 + s.N * 31 + s.K + s.trans_a * 7 +
                                           s.trans_b * 3));
    Operands ops;
    ops.A = random_floats(size_t(s.M) * s.K, rng);
    ops.B = random_floats(size_t(s.K) * s.N, rng);
    ops.C = aligned_floats(size_t(s.M) * s.N);
    return cache.emplace(&s, std::move(ops)).first->second;
}

// ---- Checking a result ------------------------------------------------------------

float a_at(const Shape &s, const float *A, int i, int k)
{
    return s.trans_a ? A[size_t(k) * s.M + i] : A[size_t(i) * s.K + k];
}

float b_at(const Shape &s, const float *B, int k, int j)
{
    return s.trans_b ? B[size_t(j) * s.K + k] : B[size_t(k) * s.N + j];
}

// Compares a few entries of C with a double-precision dot product: cheap enough to run
// for every benchmark, and it catches a transpose or leading dimension passed wrongly
// to a peer, which would otherwise give plausible GFLOP/s for the wrong product.
const char *check_sample(const Shape &s, const Operands &ops)
{
    std::mt19937 rng(12345);
    for (int sample = 0; sample < 8; sample++) {
        int i = sample == 0 ? 0 : sample == 1 ? s.M - 1 : int(rng() % unsigned(s.M));
        int j = sample == 0 ? 0 : sample == 1 ? s.N - 1 : int(rng() % unsigned(s.N));
        double dot = 0, magnitude = 0;
        for (int k = 0; k < s.K; k++) {
            double p = double(a_at(s, ops.A.get(), i, k)) * b_at(s, ops.B.get(), k, j);
            dot += p;
            magnitude += std::fabs(p);
        }
        // float accumulation over K terms: far inside 1e-3 of the sum of magnitudes,
        // while a wrong product is off by about sqrt(K) / 3.
        if (!(std::fabs(ops.C[size_t(i) * s.N + j] - dot) <= 1e-3 * magnitude + 1e-6))
            return "wrong result (sampled entries of C differ from the reference)";
    }
    return nullptr;
}

// ---- The benchmarks ---------------------------------------------------------------

void bench_sgemm(benchmark::State &state, Impl impl, const Shape &s, int threads)
{
    const Operands &ops = operands(s);
    // OpenBLAS's and oneDNN's thread settings both go through the shared OpenMP state,
    // so set it for every implementation before its own setting.
    omp_set_num_threads(threads);
    impl.set_threads(threads);

    // One untimed call: the libraries allocate their packing buffers on the first call.
    const char *error = impl.sgemm(s, ops.A.get(), ops.B.get(), ops.C.get());
    if (!error)
        error = check_sample(s, ops);
    if (error) {
        state.SkipWithError(error);
        return;
    }
    for (auto _ : state) {
        impl.sgemm(s, ops.A.get(), ops.B.get(), ops.C.get());
        benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops(s) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_fma_peak(benchmark::State &state, int threads)
{
    // About 134 MFLOP per thread per iteration: long enough that the parallel region's
    // start-up does not count, short enough for many iterations.
    const long rounds = 1L << 18;
    double done = 0;
    for (auto _ : state)
        done += nn_bench_fma_peak_run(threads, rounds);
    state.counters["GFLOP/s"] = benchmark::Counter(done * 1e-9, benchmark::Counter::kIsRate);
}

// ---- Ours -------------------------------------------------------------------------

const char *ours_run(const Shape &s, const float *A, const float *B, float *C)
{
    nn_status status = nn_sgemm(s.trans_a ? NN_TRANS : NN_NO_TRANS,
                                s.trans_b ? NN_TRANS : NN_NO_TRANS, s.M, s.N, s.K, 1.0f, A,
                                lda(s), B, ldb(s), 0.0f, C, ldc(s));
    return status == NN_OK ? nullptr : nn_last_error();
}

void ours_threads(int t) { nn_set_num_threads(t); }

benchmark::internal::Benchmark *configure(benchmark::internal::Benchmark *b, double min_time)
{
    b->UseRealTime();
    if (min_time > 0)
        b->MinTime(min_time);
    return b;
}

}  // namespace

Impl our_impl() { return {"ours", ours_threads, ours_run}; }

std::vector<int> thread_counts()
{
    std::vector<int> counts = {1, 2};
    nn_engine_info info;
    if (nn_engine_info_get(&info) == NN_OK && info.physical_cores > 2)
        counts.push_back(info.physical_cores);
    return counts;
}

void register_benchmarks(double min_time)
{
    std::vector<Impl> impls = {our_impl()};
    for (const Impl &peer : loaded_peers())
        impls.push_back(peer);
    const std::vector<int> threads = thread_counts();

    if (const char *isa = nn_bench_fma_peak_isa()) {
        for (int t : threads) {
            std::string name = std::string("peak/fma_") + isa + "/threads:" + std::to_string(t);
            configure(benchmark::RegisterBenchmark(name.c_str(), bench_fma_peak, t), min_time);
        }
    }
    for (const Shape &s : shapes()) {
        for (int t : threads) {
            for (const Impl &impl : impls) {
                std::string name = std::string("sgemm/") + impl.name + "/" + s.name +
                                   "/threads:" + std::to_string(t);
                configure(benchmark::RegisterBenchmark(name.c_str(), bench_sgemm, impl,
                                                       std::cref(s), t),
                          min_time);
            }
        }
    }
}

}  // namespace nnb
