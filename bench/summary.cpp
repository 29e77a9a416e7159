// nn_bench --summary: every benchmark with a short min time, progress on stderr, then
// tables on stdout: each GEMM, ours against the best peer and against the measured FMA
// peak; each convolution layer and phase, ours against oneDNN in milliseconds.
#include "bench.h"
#include "fma_peak.h"

#include <benchmark/benchmark.h>

#include <iostream>
#include <map>
#include <string>

namespace nnb {
namespace {

// Long enough for steady numbers on the small shapes, short enough that the whole
// table (about 160 benchmarks) takes a minute or two on two cores.
constexpr double kSummaryMinTime = 0.1;

// Shows Google Benchmark's usual lines on stderr and keeps each run's GFLOP/s.
class SummaryReporter : public benchmark::BenchmarkReporter {
public:
    SummaryReporter() : progress_(benchmark::ConsoleReporter::OO_None)
    {
        progress_.SetOutputStream(&std::cerr);
        progress_.SetErrorStream(&std::cerr);
    }
    bool ReportContext(const Context &context) override
    {
        return progress_.ReportContext(context);
    }
    void ReportRuns(const std::vector<Run> &runs) override
    {
        progress_.ReportRuns(runs);
        for (const Run &run : runs)
            keep(run);
    }
    // GFLOP/s of a benchmark, or a negative value if it did not run.
    double gflops(const std::string &name) const
    {
        auto found = gflops_.find(name);
        return found == gflops_.end() ? -1.0 : found->second;
    }
    // Milliseconds per iteration (real time), or a negative value if it did not run.
    double milliseconds(const std::string &name) const
    {
        auto found = milliseconds_.find(name);
        return found == milliseconds_.end() ? -1.0 : found->second;
    }

private:
    // Keyed by the name we registered (Google Benchmark appends "/min_time:..." and
    // "/real_time").  With --benchmark_repetitions, the median aggregate comes after
    // the repetitions and replaces them; the mean, stddev and cv are ignored.
    void keep(const Run &run)
    {
        auto counter = run.counters.find("GFLOP/s");
        if (counter == run.counters.end())  // absent when the run was skipped
            return;
        if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median")
            return;
        gflops_[run.run_name.function_name] = counter->second.value;
        milliseconds_[run.run_name.function_name] =
            run.GetAdjustedRealTime() * 1e3 / benchmark::GetTimeUnitMultiplier(run.time_unit);
    }

    benchmark::ConsoleReporter progress_;
    std::map<std::string, double> gflops_;
    std::map<std::string, double> milliseconds_;
};

std::string sgemm_name(const char *impl, const Shape &s, int threads)
{
    return std::string("sgemm/") + impl + "/" + s.name + "/threads:" + std::to_string(threads);
}

std::string peak_name(const char *isa, int threads)
{
    return std::string("peak/fma_") + (isa ? isa : "none") + "/threads:" + std::to_string(threads);
}

void print_row(const Shape &s, int threads, const SummaryReporter &results, double peak)
{
    double ours = results.gflops(sgemm_name("ours", s, threads));
    const char *best_name = "-";
    double best = -1.0;
    for (const Impl &peer : loaded_peers()) {
        double g = results.gflops(sgemm_name(peer.name, s, threads));
        if (g > best) {
            best = g;
            best_name = peer.name;
        }
    }
    if (ours < 0 && best < 0)
        return;  // filtered out
    std::printf("%-22s %7d ", s.name, threads);
    ours >= 0 ? std::printf("%9.1f  ", ours) : std::printf("%9s  ", "-");
    best >= 0 ? std::printf("%-9s %7.1f ", best_name, best) : std::printf("%-9s %7s ", "-", "-");
    ours >= 0 && best > 0 ? std::printf("%10.2fx ", ours / best) : std::printf("%11s ", "-");
    ours >= 0 && peak > 0 ? std::printf("%9.0f%%\n", 100.0 * ours / peak)
                          : std::printf("%10s\n", "-");
}

// Whether any GEMM ran at this thread count (a --benchmark_filter may exclude them all).
bool any_gemm(const SummaryReporter &results, int threads)
{
    for (const Shape &s : shapes()) {
        if (results.gflops(sgemm_name("ours", s, threads)) >= 0)
            return true;
        for (const Impl &peer : loaded_peers())
            if (results.gflops(sgemm_name(peer.name, s, threads)) >= 0)
                return true;
    }
    return false;
}

void print_table(const SummaryReporter &results)
{
    const char *isa = nn_bench_fma_peak_isa();
    bool header = false;
    for (int t : thread_counts()) {
        if (!any_gemm(results, t))
            continue;
        if (!header) {
            std::printf("\nnn_bench summary: GFLOP/s (higher is better), min time %.2f s per "
                        "benchmark, real time\n",
                        kSummaryMinTime);
            header = true;
        }
        double peak = results.gflops(peak_name(isa, t));
        std::printf("\n%d thread%s, measured FMA peak (%s): ", t, t == 1 ? "" : "s",
                    isa ? isa : "none");
        peak > 0 ? std::printf("%.1f GFLOP/s\n", peak) : std::printf("-\n");
        std::printf("%-22s %7s %9s  %-17s %11s %10s\n", "shape", "threads", "ours",
                    "best peer", "ours/best", "% of peak");
        for (const Shape &s : shapes())
            print_row(s, t, results, peak);
    }
}

// One line per layer, phase and thread count: ms per call (ours, oneDNN's direct and
// Winograd primitives), our GFLOP/s (direct-convolution flops), and the faster oneDNN
// time over ours (above 1: ours is faster; the GEMM table's ours/best).
void print_conv_table(const SummaryReporter &results)
{
    bool header = false;
    for (const ConvLayer &l : conv_layers()) {
        for (const char *phase : conv_phases()) {
            for (int t : thread_counts()) {
                double ours = results.milliseconds(conv_bench_name(l, phase, "ours", t));
                double dnnl = results.milliseconds(conv_bench_name(l, phase, "onednn", t));
                double wino = results.milliseconds(conv_bench_name(l, phase, "onednn_wino", t));
                if (ours < 0 && dnnl < 0 && wino < 0)
                    continue;  // filtered out
                if (!header) {
                    std::printf("\nconvolution layers, batch %d, NCHW fp32: ms per call (lower "
                                "is better); oneDNN in its own layouts, reorders untimed\n",
                                l.batch);
                    std::printf("%-12s %-17s %7s %9s %9s %9s %8s %12s\n", "layer", "phase",
                                "threads", "ours ms", "oneDNN ms", "wino ms", "GFLOP/s",
                                "oneDNN/ours");
                    header = true;
                }
                double best = dnnl > 0 && (wino <= 0 || dnnl < wino) ? dnnl : wino;
                std::printf("%-12s %-17s %7d ", l.name, phase, t);
                for (double ms : {ours, dnnl, wino})
                    ms >= 0 ? std::printf("%9.3f ", ms) : std::printf("%9s ", "-");
                ours > 0 ? std::printf("%8.1f ", conv_flops(l) / ours * 1e-6)
                         : std::printf("%8s ", "-");
                ours > 0 && best > 0 ? std::printf("%11.2fx\n", best / ours)
                                     : std::printf("%12s\n", "-");
            }
        }
    }
}

}  // namespace

int run_summary()
{
    register_benchmarks(kSummaryMinTime);
    register_conv_benchmarks(kSummaryMinTime);
    SummaryReporter results;
    benchmark::RunSpecifiedBenchmarks(&results);
    print_table(results);
    print_conv_table(results);
    return 0;
}

}  // namespace nnb
