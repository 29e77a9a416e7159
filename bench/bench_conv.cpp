// The convolution layers of the MNIST CNN, per phase: conv/<layer>/<phase>/<impl>/threads:<t>
// for ours (nn_conv2d_* of the public engine API) and oneDNN's convolution primitives.
//
// oneDNN is linked, not dlopened as for its GEMM (peers.cpp): its C API takes memory and
// operation descriptors that are structs of dnnl_types.h, so the header is needed anyway,
// and libdnnl exports no CBLAS symbol that could clash with OpenBLAS or BLIS (the reason
// the GEMM peers are dlopened).  Loading the same libdnnl.so.2 again with dlopen for its
// GEMM returns this same copy.  Built without libdnnl-dev, only ours is benchmarked.
//
// oneDNN runs as its users get it in a steady state: every primitive is created with
// format_tag any, so it picks its own layouts (blocked, e.g. nChw16c), and the inputs are
// reordered into them once, before timing; the timed loop is the primitive alone, without
// reorders.  Ours takes and returns plain NCHW / OIHW.  Both see the same numbers, and each
// result is checked against a double-precision direct convolution at sampled points.
#include "bench.h"

#include <benchmark/benchmark.h>
#include <nn/engine.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>

#ifdef NN_BENCH_HAVE_DNNL_CONV
#include <dnnl.h>
#include <dnnl_debug.h>
#endif

namespace nnb {
namespace {

enum class Phase { forward, backward_data, backward_weights };

// ---- Operands ---------------------------------------------------------------------

// One layer's tensors in plain layouts: x [N,C,H,W], w [F,C,K,K], bias [F],
// dy [N,F,OH,OW] are inputs (uniform in [-1, 1), seeded per layer, so every
// implementation sees the same numbers); y, dx, dw, dbias receive the results.
struct ConvData {
    size_t nx, nw, ny;
    Buffer x, w, bias, dy;
    Buffer y, dx, dw, dbias;
};

ConvData &conv_data(const ConvLayer &l)
{
    static std::map<const ConvLayer *, ConvData> cache;
    auto found = cache.find(&l);
    if (found != cache.end())
        return found->second;
    ConvData d;
    d.nx = size_t(l.batch) * l.channels * l.height * l.width;
    d.nw = size_t(l.filters) * l.channels * l.kernel * l.kernel;
    d.ny = size_t(l.batch) * l.filters * conv_out_h(l) * conv_out_w(l);
    std::mt19937 rng(static_cast<unsigned>(l.channels * 1009 + l.filters * 101 + l.height));
    d.x = random_floats(d.nx, rng);
    d.w = random_floats(d.nw, rng);
    d.bias = random_floats(size_t(l.filters), rng);
    d.dy = random_floats(d.ny, rng);
    d.y = aligned_floats(d.ny);
    d.dx = aligned_floats(d.nx);
    d.dw = aligned_floats(d.nw);
    d.dbias = aligned_floats(size_t(l.filters));
    return cache.emplace(&l, std::move(d)).first->second;
}

// The phase's outputs set to NaN, so a call that writes nothing fails the check.
void poison_outputs(const ConvLayer &l, Phase p, ConvData &d)
{
    const float nan = std::numeric_limits<float>::quiet_NaN();
    auto fill = [nan](float *a, size_t n) {
        for (size_t i = 0; i < n; i++)
            a[i] = nan;
    };
    if (p == Phase::forward)
        fill(d.y.get(), d.ny);
    else if (p == Phase::backward_data)
        fill(d.dx.get(), d.nx);
    else {
        fill(d.dw.get(), d.nw);
        fill(d.dbias.get(), size_t(l.filters));
    }
}

// ---- Checking a result against a direct convolution in double ---------------------

struct Sum {
    double value = 0, magnitude = 0;
    void add(double a, double b)
    {
        value += a * b;
        magnitude += std::fabs(a * b);
    }
    // float accumulation: far inside 1e-3 of the sum of magnitudes; a wrong layout or
    // index is off by a large fraction of it.
    bool matches(float got) const { return std::fabs(got - value) <= 1e-3 * magnitude + 1e-5; }
};

// Input pixel (ih, iw) of sample n, channel c: 0 in the zero padding.
double x_at(const ConvLayer &l, const ConvData &d, int n, int c, int ih, int iw)
{
    if (ih < 0 || iw < 0 || ih >= l.height || iw >= l.width)
        return 0.0;
    return d.x[((size_t(n) * l.channels + c) * l.height + ih) * l.width + iw];
}

// The entry at flat index i of a tensor with dims d0..d3, as 4 coordinates.
void unflatten(size_t i, const int dims[4], int out[4])
{
    for (int k = 3; k >= 0; k--) {
        out[k] = int(i % size_t(dims[k]));
        i /= size_t(dims[k]);
    }
}

Sum forward_ref(const ConvLayer &l, const ConvData &d, const int at[4])  // at: n, f, oh, ow
{
    Sum s;
    s.add(d.bias[at[1]], 1.0);
    for (int c = 0; c < l.channels; c++)
        for (int kh = 0; kh < l.kernel; kh++)
            for (int kw = 0; kw < l.kernel; kw++)
                s.add(x_at(l, d, at[0], c, at[2] * l.stride - l.pad + kh,
                           at[3] * l.stride - l.pad + kw),
                      d.w[((size_t(at[1]) * l.channels + c) * l.kernel + kh) * l.kernel + kw]);
    return s;
}

Sum backward_data_ref(const ConvLayer &l, const ConvData &d, const int at[4])  // n, c, ih, iw
{
    Sum s;
    const int oh_count = conv_out_h(l), ow_count = conv_out_w(l);
    for (int f = 0; f < l.filters; f++)
        for (int kh = 0; kh < l.kernel; kh++)
            for (int kw = 0; kw < l.kernel; kw++) {
                int th = at[2] + l.pad - kh, tw = at[3] + l.pad - kw;
                if (th < 0 || tw < 0 || th % l.stride || tw % l.stride)
                    continue;
                int oh = th / l.stride, ow = tw / l.stride;
                if (oh >= oh_count || ow >= ow_count)
                    continue;
                s.add(d.dy[((size_t(at[0]) * l.filters + f) * oh_count + oh) * ow_count + ow],
                      d.w[((size_t(f) * l.channels + at[1]) * l.kernel + kh) * l.kernel + kw]);
            }
    return s;
}

Sum backward_weights_ref(const ConvLayer &l, const ConvData &d, const int at[4])  // f, c, kh, kw
{
    Sum s;
    const int oh_count = conv_out_h(l), ow_count = conv_out_w(l);
    for (int n = 0; n < l.batch; n++)
        for (int oh = 0; oh < oh_count; oh++)
            for (int ow = 0; ow < ow_count; ow++)
                s.add(d.dy[((size_t(n) * l.filters + at[0]) * oh_count + oh) * ow_count + ow],
                      x_at(l, d, n, at[1], oh * l.stride - l.pad + at[2],
                           ow * l.stride - l.pad + at[3]));
    return s;
}

Sum bias_grad_ref(const ConvLayer &l, const ConvData &d, int f)
{
    Sum s;
    const size_t plane = size_t(conv_out_h(l)) * conv_out_w(l);
    for (int n = 0; n < l.batch; n++)
        for (size_t i = 0; i < plane; i++)
            s.add(d.dy[(size_t(n) * l.filters + f) * plane + i], 1.0);
    return s;
}

// Eight sampled entries of the phase's output (the first, the last, six at random).
const char *check_sample(const ConvLayer &l, Phase p, const ConvData &d)
{
    const int y_dims[4] = {l.batch, l.filters, conv_out_h(l), conv_out_w(l)};
    const int x_dims[4] = {l.batch, l.channels, l.height, l.width};
    const int w_dims[4] = {l.filters, l.channels, l.kernel, l.kernel};
    const int *dims = p == Phase::forward ? y_dims : p == Phase::backward_data ? x_dims : w_dims;
    const float *got = p == Phase::forward         ? d.y.get()
                       : p == Phase::backward_data ? d.dx.get()
                                                   : d.dw.get();
    const size_t count = p == Phase::forward ? d.ny : p == Phase::backward_data ? d.nx : d.nw;
    std::mt19937 rng(12345);
    for (int sample = 0; sample < 8; sample++) {
        size_t i = sample == 0 ? 0 : sample == 1 ? count - 1 : size_t(rng()) % count;
        int at[4];
        unflatten(i, dims, at);
        Sum ref = p == Phase::forward         ? forward_ref(l, d, at)
                  : p == Phase::backward_data ? backward_data_ref(l, d, at)
                                              : backward_weights_ref(l, d, at);
        if (!ref.matches(got[i]))
            return "wrong result (sampled outputs differ from a direct convolution)";
        if (p == Phase::backward_weights && !bias_grad_ref(l, d, at[0]).matches(d.dbias[at[0]]))
            return "wrong bias gradient (sampled entries differ from the reference)";
    }
    return nullptr;
}

// ---- The implementations ------------------------------------------------------------

// One phase of one layer, set up for repeated calls.  run() is what the benchmark times;
// fetch() leaves the results of the last run in ConvData's plain-layout outputs.
class ConvRun {
public:
    virtual ~ConvRun() = default;
    virtual const char *run() = 0;
    virtual const char *fetch() { return nullptr; }
    virtual std::string label() const { return ""; }
};

class OursRun final : public ConvRun {
public:
    OursRun(const ConvLayer &l, Phase p, ConvData &d) : phase_(p), d_(d)
    {
        desc_ = nn_conv2d_desc{l.batch, l.channels, l.height, l.width, l.filters,
                               l.kernel, l.kernel, l.stride, l.stride, l.pad,
                               l.pad, 1, 1};
        workspace_ = aligned_floats(nn_conv2d_workspace_floats(&desc_));
    }
    const char *run() override
    {
        nn_status status;
        if (phase_ == Phase::forward)
            status = nn_conv2d_forward(&desc_, d_.x.get(), d_.w.get(), d_.bias.get(),
                                       NN_ACT_NONE, d_.y.get(), workspace_.get());
        else if (phase_ == Phase::backward_data)
            status = nn_conv2d_backward_data(&desc_, d_.dy.get(), d_.w.get(), d_.dx.get(),
                                             workspace_.get());
        else
            status = nn_conv2d_backward_weights(&desc_, d_.x.get(), d_.dy.get(), d_.dw.get(),
                                                d_.dbias.get(), workspace_.get());
        return status == NN_OK ? nullptr : nn_last_error();
    }

private:
    Phase phase_;
    ConvData &d_;
    nn_conv2d_desc desc_;
    Buffer workspace_;
};

#ifdef NN_BENCH_HAVE_DNNL_CONV

struct DnnlContext {
    dnnl_engine_t engine = nullptr;
    dnnl_stream_t stream = nullptr;
};

// One CPU engine and stream for the process, made on first use.
const DnnlContext &dnnl_context()
{
    static DnnlContext context = [] {
        DnnlContext c;
        if (dnnl_engine_create(&c.engine, dnnl_cpu, 0) != dnnl_success ||
            dnnl_stream_create(&c.stream, c.engine, dnnl_stream_default_flags) != dnnl_success)
            c.engine = nullptr;
        return c;
    }();
    return context;
}

// Runs `call`; on failure, returns from the enclosing function with a message naming it.
#define NNB_DNNL(call)                                                                  \
    do {                                                                                \
        dnnl_status_t status_ = (call);                                                 \
        if (status_ != dnnl_success)                                                    \
            return std::string(#call " failed: ") + dnnl_status2str(status_);           \
    } while (0)

class DnnlRun final : public ConvRun {
public:
    // dnnl_convolution_direct (what PyTorch asks for) or dnnl_convolution_winograd.
    explicit DnnlRun(dnnl_alg_kind_t algorithm) : algorithm_(algorithm) {}

    ~DnnlRun() override
    {
        for (dnnl_primitive_t p : reorders_)
            dnnl_primitive_destroy(p);
        if (primitive_)
            dnnl_primitive_destroy(primitive_);
        for (dnnl_primitive_desc_t pd : {pd_, hint_pd_})
            if (pd)
                dnnl_primitive_desc_destroy(pd);
        for (dnnl_memory_t m : memories_)
            dnnl_memory_destroy(m);
    }

    // Creates the primitive (after the thread count is set: oneDNN plans its threads at
    // creation) and its memories; "" on success, else why it failed.
    std::string init(const ConvLayer &l, Phase p, ConvData &d)
    {
        const DnnlContext &ctx = dnnl_context();
        if (!ctx.engine)
            return "no oneDNN CPU engine";
        stream_ = ctx.stream;
        engine_ = ctx.engine;
        const dnnl_dims_t x_dims = {l.batch, l.channels, l.height, l.width};
        const dnnl_dims_t w_dims = {l.filters, l.channels, l.kernel, l.kernel};
        const dnnl_dims_t b_dims = {l.filters};
        const dnnl_dims_t y_dims = {l.batch, l.filters, conv_out_h(l), conv_out_w(l)};
        const dnnl_dims_t strides = {l.stride, l.stride}, pad = {l.pad, l.pad};
        NNB_DNNL(dnnl_memory_desc_init_by_tag(&x_, 4, x_dims, dnnl_f32, dnnl_nchw));
        NNB_DNNL(dnnl_memory_desc_init_by_tag(&w_, 4, w_dims, dnnl_f32, dnnl_oihw));
        NNB_DNNL(dnnl_memory_desc_init_by_tag(&b_, 1, b_dims, dnnl_f32, dnnl_x));
        NNB_DNNL(dnnl_memory_desc_init_by_tag(&y_, 4, y_dims, dnnl_f32, dnnl_nchw));
        dnnl_memory_desc_t x_any, w_any, b_any, y_any;
        NNB_DNNL(dnnl_memory_desc_init_by_tag(&x_any, 4, x_dims, dnnl_f32, dnnl_format_tag_any));
        NNB_DNNL(dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, dnnl_f32, dnnl_format_tag_any));
        NNB_DNNL(dnnl_memory_desc_init_by_tag(&b_any, 1, b_dims, dnnl_f32, dnnl_format_tag_any));
        NNB_DNNL(dnnl_memory_desc_init_by_tag(&y_any, 4, y_dims, dnnl_f32, dnnl_format_tag_any));

        // forward_training, as in a step.
        dnnl_convolution_desc_t fwd, bwd;
        NNB_DNNL(dnnl_convolution_forward_desc_init(&fwd, dnnl_forward_training,
                                                    algorithm_, &x_any, &w_any,
                                                    &b_any, &y_any, strides, pad, pad));
        if (p == Phase::forward) {
            NNB_DNNL(dnnl_primitive_desc_create(&pd_, &fwd, nullptr, engine_, nullptr));
        } else {
            // The backward primitives take the forward one as a hint; kept alive with them.
            NNB_DNNL(dnnl_primitive_desc_create(&hint_pd_, &fwd, nullptr, engine_, nullptr));
            if (p == Phase::backward_data)
                NNB_DNNL(dnnl_convolution_backward_data_desc_init(
                    &bwd, algorithm_, &x_any, &w_any, &y_any, strides, pad, pad));
            else
                NNB_DNNL(dnnl_convolution_backward_weights_desc_init(
                    &bwd, algorithm_, &x_any, &w_any, &b_any, &y_any, strides,
                    pad, pad));
            NNB_DNNL(dnnl_primitive_desc_create(&pd_, &bwd, nullptr, engine_, hint_pd_));
        }
        NNB_DNNL(dnnl_primitive_create(&primitive_, pd_));
        const char *impl = nullptr;
        if (dnnl_primitive_desc_query(pd_, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
            impl)
            impl_ = impl;

        struct Arg {
            int arg;
            const dnnl_memory_desc_t &plain;
            float *data;
            bool input;
        };
        const std::vector<Arg> args =
            p == Phase::forward ? std::vector<Arg>{{DNNL_ARG_SRC, x_, d.x.get(), true},
                                                   {DNNL_ARG_WEIGHTS, w_, d.w.get(), true},
                                                   {DNNL_ARG_BIAS, b_, d.bias.get(), true},
                                                   {DNNL_ARG_DST, y_, d.y.get(), false}}
            : p == Phase::backward_data
                ? std::vector<Arg>{{DNNL_ARG_DIFF_DST, y_, d.dy.get(), true},
                                   {DNNL_ARG_WEIGHTS, w_, d.w.get(), true},
                                   {DNNL_ARG_DIFF_SRC, x_, d.dx.get(), false}}
                : std::vector<Arg>{{DNNL_ARG_SRC, x_, d.x.get(), true},
                                   {DNNL_ARG_DIFF_DST, y_, d.dy.get(), true},
                                   {DNNL_ARG_DIFF_WEIGHTS, w_, d.dw.get(), false},
                                   {DNNL_ARG_DIFF_BIAS, b_, d.dbias.get(), false}};
        for (const Arg &a : args) {
            std::string error = bind(a.arg, a.plain, a.data, a.input);
            if (!error.empty())
                return error;
        }
        return "";
    }

    const char *run() override
    {
        if (dnnl_primitive_execute(primitive_, stream_, int(args_.size()), args_.data()) !=
                dnnl_success ||
            dnnl_stream_wait(stream_) != dnnl_success)
            return "dnnl_primitive_execute failed";
        return nullptr;
    }

    // Reorders the outputs from oneDNN's layouts into the plain ones.
    const char *fetch() override
    {
        for (size_t i = 0; i < reorders_.size(); i++) {
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, outputs_[i].first},
                                       {DNNL_ARG_TO, outputs_[i].second}};
            if (dnnl_primitive_execute(reorders_[i], stream_, 2, args) != dnnl_success ||
                dnnl_stream_wait(stream_) != dnnl_success)
                return "oneDNN reorder failed";
        }
        return nullptr;
    }

    std::string label() const override { return impl_; }

private:
    // Gives argument `arg` a memory in the layout the primitive chose; an input is
    // reordered into it from `plain` (the user's buffer `data`) now, an output gets a
    // reorder back for fetch().  "" on success.
    std::string bind(int arg, const dnnl_memory_desc_t &plain, float *data, bool input)
    {
        const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(pd_, dnnl_query_exec_arg_md, arg);
        if (!chosen)
            return "oneDNN has no memory for argument " + std::to_string(arg);
        dnnl_memory_t user = nullptr, mem = nullptr;
        NNB_DNNL(dnnl_memory_create(&user, &plain, engine_, data));
        memories_.push_back(user);
        NNB_DNNL(dnnl_memory_create(&mem, chosen, engine_, DNNL_MEMORY_ALLOCATE));
        memories_.push_back(mem);
        args_.push_back({arg, mem});

        dnnl_memory_t from = input ? user : mem, to = input ? mem : user;
        dnnl_primitive_desc_t reorder_pd = nullptr;
        NNB_DNNL(dnnl_reorder_primitive_desc_create(&reorder_pd, input ? &plain : chosen,
                                                    engine_, input ? chosen : &plain, engine_,
                                                    nullptr));
        dnnl_primitive_t reorder = nullptr;
        dnnl_status_t status = dnnl_primitive_create(&reorder, reorder_pd);
        dnnl_primitive_desc_destroy(reorder_pd);
        NNB_DNNL(status);
        if (!input) {
            reorders_.push_back(reorder);
            outputs_.push_back({from, to});
            return "";
        }
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        status = dnnl_primitive_execute(reorder, stream_, 2, args);
        if (status == dnnl_success)
            status = dnnl_stream_wait(stream_);
        dnnl_primitive_destroy(reorder);
        NNB_DNNL(status);
        return "";
    }

    dnnl_engine_t engine_ = nullptr;
    dnnl_stream_t stream_ = nullptr;
    dnnl_memory_desc_t x_, w_, b_, y_;  // plain layouts: nchw, oihw, x, nchw
    dnnl_primitive_desc_t pd_ = nullptr, hint_pd_ = nullptr;
    dnnl_primitive_t primitive_ = nullptr;
    std::vector<dnnl_memory_t> memories_;
    std::vector<dnnl_exec_arg_t> args_;
    std::vector<dnnl_primitive_t> reorders_;                       // outputs, back to plain
    std::vector<std::pair<dnnl_memory_t, dnnl_memory_t>> outputs_;  // from, to
    dnnl_alg_kind_t algorithm_;
    std::string impl_;
};

#undef NNB_DNNL

#endif  // NN_BENCH_HAVE_DNNL_CONV

// The implementation `impl` for one phase of one layer, or nullptr with `error` set.
std::unique_ptr<ConvRun> make_run(const std::string &impl, const ConvLayer &l, Phase p,
                                  ConvData &d, std::string &error)
{
    if (impl == "ours")
        return std::make_unique<OursRun>(l, p, d);
#ifdef NN_BENCH_HAVE_DNNL_CONV
    if (impl == "onednn" || impl == "onednn_wino") {
        auto run = std::make_unique<DnnlRun>(impl == "onednn" ? dnnl_convolution_direct
                                                              : dnnl_convolution_winograd);
        error = run->init(l, p, d);
        if (error.empty())
            return run;
        return nullptr;
    }
#endif
    error = "unknown implementation " + impl;
    return nullptr;
}

// ---- The benchmarks ---------------------------------------------------------------

void bench_conv(benchmark::State &state, const char *impl, const ConvLayer &l, Phase p,
                int threads)
{
    // The same settings for both, before either plans its work (as bench_sgemm.cpp does):
    // oneDNN reads OpenMP's thread count, ours the engine's.
    omp_set_num_threads(threads);
    nn_set_num_threads(threads);
    ConvData &d = conv_data(l);
    std::string error;
    std::unique_ptr<ConvRun> run = make_run(impl, l, p, d, error);
    if (!run) {
        state.SkipWithError(error.c_str());
        return;
    }
    // One untimed call (first-touch of buffers and scratchpads), then the check.
    poison_outputs(l, p, d);
    const char *failure = run->run();
    if (!failure)
        failure = run->fetch();
    if (!failure)
        failure = check_sample(l, p, d);
    if (failure) {
        state.SkipWithError(failure);
        return;
    }
    for (auto _ : state) {
        run->run();
        benchmark::ClobberMemory();
    }
    state.SetLabel(run->label());
    state.counters["GFLOP/s"] =
        benchmark::Counter(conv_flops(l) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

const std::vector<ConvLayer> &conv_layers()
{
    static const std::vector<ConvLayer> layers = {
        {"mnist_conv1", 64, 1, 28, 28, 32, 3, 1, 0, "CNN conv 1: 1x28x28 -> 32x26x26"},
        {"mnist_conv2", 64, 32, 13, 13, 64, 3, 1, 0, "CNN conv 2: 32x13x13 -> 64x11x11"},
    };
    return layers;
}

const std::vector<const char *> &conv_phases()
{
    static const std::vector<const char *> phases = {"forward", "backward_data",
                                                     "backward_weights"};
    return phases;
}

std::vector<const char *> conv_impls()
{
#ifdef NN_BENCH_HAVE_DNNL_CONV
    return {"ours", "onednn", "onednn_wino"};
#else
    return {"ours"};
#endif
}

std::string conv_bench_name(const ConvLayer &l, const char *phase, const char *impl, int threads)
{
    return std::string("conv/") + l.name + "/" + phase + "/" + impl + "/threads:" +
           std::to_string(threads);
}

void print_conv_info(std::FILE *out)
{
#ifdef NN_BENCH_HAVE_DNNL_CONV
    const dnnl_version_t *v = dnnl_version();
    std::fprintf(out,
                 "conv peer: oneDNN %d.%d.%d convolution primitives (linked; its own "
                 "layouts, reorders untimed)\n",
                 v->major, v->minor, v->patch);
#else
    std::fprintf(out, "conv peer: none (built without libdnnl-dev: only ours)\n");
#endif
}

void register_conv_benchmarks(double min_time)
{
    const Phase phases[] = {Phase::forward, Phase::backward_data, Phase::backward_weights};
    for (const ConvLayer &l : conv_layers()) {
        for (size_t p = 0; p < conv_phases().size(); p++) {
            for (int t : thread_counts()) {
                for (const char *impl : conv_impls()) {
                    std::string name = conv_bench_name(l, conv_phases()[p], impl, t);
                    auto *b = benchmark::RegisterBenchmark(name.c_str(), bench_conv, impl,
                                                           std::cref(l), phases[p], t);
                    b->UseRealTime()->Unit(benchmark::kMicrosecond);
                    if (min_time > 0)
                        b->MinTime(min_time);
                }
            }
        }
    }
}

}  // namespace nnb
