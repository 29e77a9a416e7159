// The training step of the report's well-fitting MLP, 784-256-256-10 (ReLU, ReLU,
// Softmax; He, He, Glorot uniform; SGD 0.04, cross-entropy) at batch 100:
//   train/mlp_784_256_256_10/batch:100/threads:<t>   images/s through nn_model_fit
//   --train (and --summary)   where a step spends its time, per layer and phase, and how
//                             much of it the step's eight GEMMs take when timed alone
// The data is random (MNIST-sized rows, ten classes): the time of a step does not depend
// on the values.
#include "bench.h"

#include <benchmark/benchmark.h>
#include <nn/layers.h>

extern "C" {
#include "internal.h"  // nn_step_profile, the model's layers
}

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace nnb {
namespace {

constexpr int kBatch = 100;
constexpr int kSamples = 5000;  // 50 steps per fit call
constexpr int kInputs = 784, kClasses = 10;

struct ModelDeleter {
    void operator()(nn_model *m) const { nn_model_free(m); }
};
using Model = std::unique_ptr<nn_model, ModelDeleter>;

// Random pixels in [0, 1) and labels in [0, 10), fixed seed.
struct Data {
    std::vector<float> x;
    std::vector<int32_t> labels;
    nn_dataset set;

    Data() : x(size_t(kSamples) * kInputs), labels(kSamples)
    {
        std::mt19937 gen(7);
        std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
        for (float &v : x)
            v = pixel(gen);
        for (int32_t &l : labels)
            l = int32_t(gen() % kClasses);
        set = nn_dataset{x.data(), labels.data(), nullptr, kSamples, kInputs, kClasses};
    }
};

const Data &data()
{
    static const Data d;
    return d;
}

// The report's network, compiled for batches of 100; nullptr (message printed) on failure.
Model make_mlp()
{
    nn_model *m = nullptr;
    if (nn_model_create(&m, nn_shape_1d(kInputs)) != NN_OK)
        return nullptr;
    Model model(m);
    nn_layer *layers[] = {nn_dense(256, NN_INIT_HE_NORMAL), nn_relu(),
                          nn_dense(256, NN_INIT_HE_NORMAL), nn_relu(),
                          nn_dense(kClasses, NN_INIT_GLOROT_UNIFORM), nn_softmax()};
    for (nn_layer *l : layers)
        if (nn_model_add(m, l) != NN_OK)
            return nullptr;
    nn_optimizer sgd = nn_sgd(0.04f);
    if (nn_model_compile(m, &sgd, NN_LOSS_CROSS_ENTROPY, kBatch, 1) != NN_OK)
        return nullptr;
    return model;
}

nn_status fit_once(nn_model *m)
{
    nn_fit_options options = {1, kBatch, 1, nullptr, nullptr, nullptr};
    return nn_model_fit(m, &data().set, nullptr, &options, nullptr);
}

void train_benchmark(benchmark::State &state, int threads)
{
    nn_set_num_threads(threads);
    Model model = make_mlp();
    if (!model || fit_once(model.get()) != NN_OK) {  // the untimed first call warms up
        state.SkipWithError(nn_last_error());
        return;
    }
    for (auto _ : state)
        if (fit_once(model.get()) != NN_OK)
            state.SkipWithError(nn_last_error());
    state.counters["images/s"] = benchmark::Counter(
        kSamples, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- The profile ---------------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Best-of-5 seconds of one nn_sgemm call (of `reps` back to back), C = op(A) op(B).
double gemm_seconds(int M, int N, int K, bool ta, bool tb)
{
    std::vector<float> a(size_t(M) * K, 0.5f), b(size_t(K) * N, 0.25f), c(size_t(M) * N);
    const int reps = 50;
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        auto start = std::chrono::steady_clock::now();
        for (int r = 0; r < reps; r++)
            nn_sgemm(ta ? NN_TRANS : NN_NO_TRANS, tb ? NN_TRANS : NN_NO_TRANS, M, N, K, 1.0f,
                     a.data(), ta ? M : K, b.data(), tb ? K : N, 0.0f, c.data(), N);
        best = std::min(best, seconds_since(start) / reps);
    }
    return best;
}

// The step's GEMMs, per Dense layer in -> out: forward Y = X W (batch x out x in), the
// weight gradient dW = X^T dY (in x out x batch), and the input gradient dX = dY W^T
// (batch x in x out) for every layer but the first.
double step_gemm_seconds(const nn_model *m)
{
    double total = 0;
    for (int i = 0; i < m->count; i++) {
        const nn_layer *l = m->layers[i];
        if (std::string(l->ops->kind) != "dense")
            continue;
        int in = l->in.dims[0], out = l->out.dims[0];
        total += gemm_seconds(kBatch, out, in, false, false);
        total += gemm_seconds(in, out, kBatch, true, false);
        if (i > 0)
            total += gemm_seconds(kBatch, in, out, false, true);
    }
    return total;
}

void print_profile(int threads)
{
    nn_set_num_threads(threads);
    Model model = make_mlp();
    if (!model || fit_once(model.get()) != NN_OK) {
        std::printf("training profile failed: %s\n", nn_last_error());
        return;
    }
    nn_model *m = model.get();
    std::vector<double> forward(size_t(m->count)), backward(size_t(m->count));
    nn_step_profile profile = {forward.data(), backward.data(), 0, 0, 0};
    m->profile = &profile;
    auto start = std::chrono::steady_clock::now();
    const int epochs = 4;
    for (int e = 0; e < epochs; e++)
        fit_once(m);
    double wall = seconds_since(start);
    m->profile = nullptr;

    double steps = double(profile.steps), per_step_ms = 1e3 / steps, step_total = 0;
    std::printf("\ntraining step, 784-256-256-10, batch %d, %d thread%s: %.0f images/s "
                "(fit, shuffling and gathering included)\n",
                kBatch, threads, threads > 1 ? "s" : "", epochs * kSamples / wall);
    std::printf("  %-22s %12s %12s\n", "layer", "forward ms", "backward ms");
    for (int i = 0; i < m->count; i++) {
        const nn_layer *l = m->layers[i];
        std::string name = std::to_string(i) + " " + l->ops->kind +
                           (l->fused_into_previous ? " (fused)" : "");
        std::printf("  %-22s %12.4f %12.4f\n", name.c_str(), forward[i] * per_step_ms,
                    backward[i] * per_step_ms);
        step_total += forward[i] + backward[i];
    }
    step_total += profile.loss + profile.update;
    std::printf("  %-22s %12.4f\n  %-22s %12.4f\n", "loss (softmax + CE)",
                profile.loss * per_step_ms, "optimizer update", profile.update * per_step_ms);
    double gemm = step_gemm_seconds(m);
    std::printf("  step %.4f ms; its 8 GEMMs alone %.4f ms: GEMM share %.0f%%; the rest of "
                "fit (shuffle, gather) %.0f%% of wall time\n",
                step_total * per_step_ms, gemm * 1e3, 100.0 * gemm / (step_total / steps),
                100.0 * (1.0 - step_total / wall));
}

}  // namespace

void register_train_benchmarks(double min_time)
{
    for (int threads : thread_counts()) {
        std::string name = "train/mlp_784_256_256_10/batch:100/threads:" + std::to_string(threads);
        auto *b = benchmark::RegisterBenchmark(name.c_str(), train_benchmark, threads);
        b->UseRealTime()->Unit(benchmark::kMillisecond);
        if (min_time > 0)
            b->MinTime(min_time);
    }
}

int run_train_profile()
{
    for (int threads : thread_counts())
        print_profile(threads);
    return 0;
}

}  // namespace nnb
