// What the files of nn_bench share: the SGEMM shapes, the implementations under test
// (ours and the peers loaded with dlopen), and the benchmark registration.
#ifndef NN_BENCH_BENCH_H
#define NN_BENCH_BENCH_H

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace nnb {

// ---- Operands (bench_sgemm.cpp) ------------------------------------------------------

struct FreeDeleter {
    void operator()(float *p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

// n floats, 64-byte aligned.
Buffer aligned_floats(size_t n);
// n floats uniform in [-1, 1) from rng: seeded per problem, so that every
// implementation sees the very same numbers.
Buffer random_floats(size_t n, std::mt19937 &rng);

// One SGEMM problem, row-major: C (M x N) = op(A) (M x K) * op(B) (K x N).
// A transposed operand is stored transposed: A as K x M, B as N x K.
struct Shape {
    const char *name;   // in benchmark names: sgemm/<impl>/<name>/threads:<t>
    int M, N, K;
    bool trans_a, trans_b;
    const char *origin; // where the MNIST models meet this product
};

// Every shape benchmarked, in table order (the one place they are listed).
const std::vector<Shape> &shapes();

inline int lda(const Shape &s) { return s.trans_a ? s.M : s.K; }
inline int ldb(const Shape &s) { return s.trans_b ? s.K : s.N; }
inline int ldc(const Shape &s) { return s.N; }
inline double flops(const Shape &s) { return 2.0 * s.M * s.N * s.K; }

// An SGEMM under test.  sgemm computes C = op(A) op(B) (alpha 1, beta 0) and returns
// nullptr, or a message if the library refused the call.
struct Impl {
    const char *name;   // "ours", "onednn", "openblas", "blis"
    void (*set_threads)(int threads);
    const char *(*sgemm)(const Shape &s, const float *A, const float *B, float *C);
};

// Peers (peers.cpp).  load_peers() dlopens every peer found at configure time;
// call it once, before anything else runs OpenMP code.
void load_peers();
std::vector<Impl> loaded_peers();
void print_peer_info(std::FILE *out);

// Ours (bench_sgemm.cpp).
Impl our_impl();

// Thread counts every benchmark runs with: 1, 2 and the physical cores if more.
std::vector<int> thread_counts();

// Registers sgemm/<impl>/<shape>/threads:<t> for every shape, impl and thread count,
// and peak/fma_<isa>/threads:<t>.  min_time > 0 overrides Google Benchmark's default.
void register_benchmarks(double min_time);

// Training step of the report's MLP (bench_train.cpp): registers
// train/mlp_784_256_256_10/batch:100/threads:<t>, and prints where a step's time goes.
void register_train_benchmarks(double min_time);
int run_train_profile();

// ---- Convolution layers (bench_conv.cpp) -------------------------------------------

// One convolution layer, NCHW fp32, square kernel, the same stride and zero padding on
// both axes: x [batch, channels, height, width] -> y [batch, filters, out_h, out_w].
struct ConvLayer {
    const char *name;   // in benchmark names: conv/<name>/<phase>/<impl>/threads:<t>
    int batch, channels, height, width;
    int filters, kernel, stride, pad;
    const char *origin; // where the MNIST models meet this layer
};

inline int conv_out(int size, int kernel, int stride, int pad)
{
    return (size + 2 * pad - kernel) / stride + 1;
}
inline int conv_out_h(const ConvLayer &l) { return conv_out(l.height, l.kernel, l.stride, l.pad); }
inline int conv_out_w(const ConvLayer &l) { return conv_out(l.width, l.kernel, l.stride, l.pad); }
// 2 * multiply-adds; every phase (forward, backward-data, backward-weights) does as many.
inline double conv_flops(const ConvLayer &l)
{
    return 2.0 * l.batch * l.filters * conv_out_h(l) * conv_out_w(l) * l.channels * l.kernel *
           l.kernel;
}

// Every layer benchmarked, in table order, and the phases, in table order
// ("forward", "backward_data", "backward_weights").
const std::vector<ConvLayer> &conv_layers();
const std::vector<const char *> &conv_phases();
// "ours", and "onednn" when nn_bench was built against libdnnl.
std::vector<const char *> conv_impls();
std::string conv_bench_name(const ConvLayer &l, const char *phase, const char *impl,
                            int threads);
// oneDNN's convolution build, or why it is absent (for --info).
void print_conv_info(std::FILE *out);

// Registers conv/<layer>/<phase>/<impl>/threads:<t> for every layer, phase, impl and
// thread count.  min_time > 0 overrides Google Benchmark's default.
void register_conv_benchmarks(double min_time);

// Runs everything registered with a short min time and prints the summary table
// (summary.cpp).  Returns the process exit status.
int run_summary();

}  // namespace nnb

#endif  // NN_BENCH_BENCH_H
