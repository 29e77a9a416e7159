// nn_bench: nn_sgemm against oneDNN, OpenBLAS and BLIS on the shapes of bench/shapes.cpp,
// the MNIST CNN's convolution layers against oneDNN's, and the training step of the
// report's MLP.
//   nn_bench --info      what the engine chose and which peers loaded
//   nn_bench --summary   a short run of every GEMM and conv, readable tables, the training profile
//   nn_bench --train     where a training step spends its time
//   nn_bench [--benchmark_...]   Google Benchmark itself (filter, repetitions, JSON, ...)
#include "bench.h"
#include "fma_peak.h"

#include <benchmark/benchmark.h>
#include <nn/engine.h>

#include <cstring>
#include <vector>

namespace {

enum class Mode { benchmark, info, summary, train };

void usage(std::FILE *out)
{
    std::fprintf(out,
                 "usage: nn_bench [--info | --summary | --train] [--benchmark_OPTION ...]\n"
                 "  --info      print the engine's configuration and the peers loaded, exit\n"
                 "  --summary   run every GEMM and conv benchmark briefly, print the tables, then --train\n"
                 "  --train     time the MLP training step by layer and phase, with its GEMM share\n"
                 "  otherwise   run Google Benchmark: --benchmark_filter=REGEX,\n"
                 "              --benchmark_repetitions=N, --benchmark_format=json, ...\n"
                 "              (--benchmark_list_tests=true lists the names)\n");
}

int print_info()
{
    int length = nn_engine_describe(nullptr, 0);
    std::vector<char> text(length > 0 ? size_t(length) + 1 : 1);
    nn_engine_describe(text.data(), text.size());
    std::printf("%s\n", text.data());
    nnb::print_peer_info(stdout);
    nnb::print_conv_info(stdout);
    const char *isa = nn_bench_fma_peak_isa();
    std::printf("FMA peak kernel: %s\n", isa ? isa : "none (not x86-64 with AVX2/AVX-512)");
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    Mode mode = Mode::benchmark;
    std::vector<char *> rest = {argv[0]};  // what Google Benchmark gets
    for (int i = 1; i < argc; i++) {
        Mode asked = std::strcmp(argv[i], "--info") == 0      ? Mode::info
                     : std::strcmp(argv[i], "--summary") == 0 ? Mode::summary
                     : std::strcmp(argv[i], "--train") == 0   ? Mode::train
                                                              : Mode::benchmark;
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (asked == Mode::benchmark) {
            rest.push_back(argv[i]);
        } else if (mode != Mode::benchmark && mode != asked) {
            usage(stderr);  // two modes at once
            return 2;
        } else {
            mode = asked;
        }
    }
    int rest_count = int(rest.size());
    rest.push_back(nullptr);
    benchmark::Initialize(&rest_count, rest.data());
    if (benchmark::ReportUnrecognizedArguments(rest_count, rest.data())) {
        usage(stderr);
        return 2;
    }

    nnb::load_peers();  // before any OpenMP code: it sets OPENBLAS_CORETYPE
    if (mode == Mode::info)
        return print_info();
    int status = 0;
    if (mode == Mode::summary) {
        status = nnb::run_summary();
        if (status == 0)
            status = nnb::run_train_profile();
    } else if (mode == Mode::train) {
        status = nnb::run_train_profile();
    } else {
        nnb::register_benchmarks(0.0);
        nnb::register_conv_benchmarks(0.0);
        nnb::register_train_benchmarks(0.0);
        benchmark::RunSpecifiedBenchmarks();
    }
    benchmark::Shutdown();
    return status;
}
