// The training steps of the two MNIST networks:
//   the report's well-fitting MLP, 784-256-256-10 (ReLU, ReLU, Softmax; He, He, Glorot
//   uniform; SGD 0.04, cross-entropy) at batch 100, and the CNN of `mnist train --model
//   cnn` (Conv 32 3x3-ReLU-MaxPool 2, Conv 64 3x3-ReLU-MaxPool 2, Dense 128-ReLU,
//   Dense 10-Softmax; Adam 1e-3) at batch 64:
//   train/<net>/batch:<b>/threads:<t>   images/s through nn_model_fit
//   infer/<net>/batch:1000/threads:<t>  images/s through nn_model_predict (batches of 1000)
//   --train (and --summary)   where a step spends its time, per layer and phase, and for
//                             the MLP how much of it its eight GEMMs take when timed alone
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
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace nnb {
namespace {

constexpr int kSamples = 5000;  // 50 MLP steps (79 CNN steps) per fit call
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

// A network, its batch, and how it is built.
struct Net {
    const char *name;
    int batch;
    Model (*make)(int batch);
    bool dense_only;  // every GEMM is a Dense layer's: the profile can time them alone
};

// Adds the layers (each is freed by the model or here), compiles; nullptr on failure.
Model build(nn_shape input, std::initializer_list<nn_layer *> layers, const nn_optimizer &opt,
            int batch)
{
    nn_model *m = nullptr;
    if (nn_model_create(&m, input) != NN_OK) {
        for (nn_layer *l : layers)
            nn_layer_free(l);
        return nullptr;
    }
    Model model(m);
    bool ok = true;
    for (nn_layer *l : layers) {
        if (ok)
            ok = nn_model_add(m, l) == NN_OK;
        else
            nn_layer_free(l);
    }
    if (!ok || nn_model_compile(m, &opt, NN_LOSS_CROSS_ENTROPY, batch, 1) != NN_OK)
        return nullptr;
    return model;
}

Model make_mlp(int batch)
{
    return build(nn_shape_1d(kInputs),
                 {nn_dense(256, NN_INIT_HE_NORMAL), nn_relu(), nn_dense(256, NN_INIT_HE_NORMAL),
                  nn_relu(), nn_dense(kClasses, NN_INIT_GLOROT_UNIFORM), nn_softmax()},
                 nn_sgd(0.04f), batch);
}

Model make_cnn(int batch)
{
    return build(nn_shape_3d(1, 28, 28),
                 {nn_conv2d(32, 3, 1, 0, NN_INIT_HE_NORMAL), nn_relu(), nn_maxpool2d(2, 2),
                  nn_conv2d(64, 3, 1, 0, NN_INIT_HE_NORMAL), nn_relu(), nn_maxpool2d(2, 2),
                  nn_flatten(), nn_dense(128, NN_INIT_HE_NORMAL), nn_relu(),
                  nn_dense(kClasses, NN_INIT_GLOROT_UNIFORM), nn_softmax()},
                 nn_adam(1e-3f), batch);
}

const Net kNets[] = {{"mlp_784_256_256_10", 100, make_mlp, true},
                     {"cnn_32_64_128_10", 64, make_cnn, false}};

nn_status fit_once(nn_model *m, int batch)
{
    nn_fit_options options = {1, batch, 1, nullptr, nullptr, nullptr};
    return nn_model_fit(m, &data().set, nullptr, &options, nullptr);
}

void train_benchmark(benchmark::State &state, const Net *net, int threads)
{
    nn_set_num_threads(threads);
    Model model = net->make(net->batch);
    if (!model || fit_once(model.get(), net->batch) != NN_OK) {  // the untimed first call warms up
        state.SkipWithError(nn_last_error());
        return;
    }
    for (auto _ : state)
        if (fit_once(model.get(), net->batch) != NN_OK)
            state.SkipWithError(nn_last_error());
    state.counters["images/s"] = benchmark::Counter(
        kSamples, benchmark::Counter::kIsIterationInvariantRate);
}

// Inference: nn_model_predict over the 5000 samples, in batches of kInferBatch (the
// model compiled for that batch: predict runs in chunks of its max_batch).
constexpr int kInferBatch = 1000;

void infer_benchmark(benchmark::State &state, const Net *net, int threads)
{
    nn_set_num_threads(threads);
    Model model = net->make(kInferBatch);
    std::vector<float> out(size_t(kSamples) * kClasses);
    auto predict = [&] { return nn_model_predict(model.get(), data().x.data(), kSamples, out.data()); };
    if (!model || predict() != NN_OK) {  // the untimed first call warms up
        state.SkipWithError(nn_last_error());
        return;
    }
    for (auto _ : state)
        if (predict() != NN_OK)
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
double step_gemm_seconds(const nn_model *m, int batch)
{
    double total = 0;
    for (int i = 0; i < m->count; i++) {
        const nn_layer *l = m->layers[i];
        if (std::string(l->ops->kind) != "dense")
            continue;
        int in = l->in.dims[0], out = l->out.dims[0];
        total += gemm_seconds(batch, out, in, false, false);
        total += gemm_seconds(in, out, batch, true, false);
        if (i > 0)
            total += gemm_seconds(batch, in, out, false, true);
    }
    return total;
}

void print_profile(const Net &net, int threads)
{
    nn_set_num_threads(threads);
    Model model = net.make(net.batch);
    if (!model || fit_once(model.get(), net.batch) != NN_OK) {
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
        fit_once(m, net.batch);
    double wall = seconds_since(start);
    m->profile = nullptr;

    double steps = double(profile.steps), per_step_ms = 1e3 / steps, step_total = 0;
    std::printf("\ntraining step, %s, batch %d, %d thread%s: %.0f images/s "
                "(fit, shuffling and gathering included)\n",
                net.name, net.batch, threads, threads > 1 ? "s" : "", epochs * kSamples / wall);
    std::printf("  %-22s %12s %12s\n", "layer", "forward ms", "backward ms");
    for (int i = 0; i < m->count; i++) {
        const nn_layer *l = m->layers[i];
        std::string name = std::to_string(i) + " " + l->ops->kind +
                           (l->fused_into_previous || l->pooled_by ? " (fused)"
                            : l->view                              ? " (view)"
                                                                   : "");
        std::printf("  %-22s %12.4f %12.4f\n", name.c_str(), forward[i] * per_step_ms,
                    backward[i] * per_step_ms);
        step_total += forward[i] + backward[i];
    }
    step_total += profile.loss + profile.update;
    std::printf("  %-22s %12.4f\n  %-22s %12.4f\n", "loss (softmax + CE)",
                profile.loss * per_step_ms, "optimizer update", profile.update * per_step_ms);
    std::printf("  step %.4f ms; the rest of fit (shuffle, gather) %.0f%% of wall time\n",
                step_total * per_step_ms, 100.0 * (1.0 - step_total / wall));
    if (!net.dense_only)
        return;
    double gemm = step_gemm_seconds(m, net.batch);
    std::printf("  its 8 GEMMs alone %.4f ms: GEMM share %.0f%%\n", gemm * 1e3,
                100.0 * gemm / (step_total / steps));
}

}  // namespace

void register_train_benchmarks(double min_time)
{
    for (const Net &net : kNets)
        for (int threads : thread_counts()) {
            std::string name = std::string("train/") + net.name + "/batch:" +
                               std::to_string(net.batch) + "/threads:" + std::to_string(threads);
            auto *b = benchmark::RegisterBenchmark(name.c_str(), train_benchmark, &net, threads);
            b->UseRealTime()->Unit(benchmark::kMillisecond);
            if (min_time > 0)
                b->MinTime(min_time);
            name = std::string("infer/") + net.name + "/batch:" + std::to_string(kInferBatch) +
                   "/threads:" + std::to_string(threads);
            b = benchmark::RegisterBenchmark(name.c_str(), infer_benchmark, &net, threads);
            b->UseRealTime()->Unit(benchmark::kMillisecond);
            if (min_time > 0)
                b->MinTime(min_time);
        }
}

int run_train_profile()
{
    for (const Net &net : kNets)
        for (int threads : thread_counts())
            print_profile(net, threads);
    return 0;
}

}  // namespace nnb
