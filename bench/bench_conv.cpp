// Convolution micro-benchmark: every distinct convolution of the mDCSRN generator's training step
// (forward, backward-data, backward-filter), timed as the step runs them (channel slices of the
// dense feature buffer, heuristic algorithm) and on packed tensors, in fp32 and TF32, beside the
// fastest algorithm cuDNN's exhaustive search finds for the same tensors. It tells where the
// step's convolution time goes and what layout or algorithm choice would move it.
#include <cudnn.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "bench/timing_cuda.h"
#include "cli/args.h"
#include "engine/device.h"
#include "engine/memory.h"
#include "kernels/conv3d.h"
#include "io/volume.h"
#include "models/generator_layout.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_conv [--batch 64] [--patch 32] [--repeats 20] [--json FILE]

Times each distinct convolution of the b4u4 generator's step on the GPU: forward, backward-data
and backward-filter, with the tensors laid out as the step has them (slices of the dense feature
buffer) and packed, in fp32 and TF32; beside each, the fastest deterministic algorithm found by
cuDNN's exhaustive search on the same tensors. The last table sums each per step (times the number
of convolutions of that shape).
)";

struct ConvCase {
  std::string name;
  ConvParams p;
  int in_channels, out_channels;
  int in_buffer_channels, out_buffer_channels;  // channel count of the buffers the step slices
  int per_step;                                  // how many convolutions of this shape a step runs
};

std::vector<ConvCase> generator_cases(const GeneratorLayout& L) {
  const int k = L.config().growth, F = L.feature_channels();
  std::vector<ConvCase> cases;
  auto add = [&](ConvCase c) {
    for (ConvCase& e : cases)
      if (e.name == c.name) {
        ++e.per_step;
        return;
      }
    cases.push_back(c);
  };
  add({"conv0 1->" + std::to_string(2 * k), {3, 1, 1}, 1, 2 * k, 1, F, 1});
  for (const auto& block : L.units())
    for (const UnitLayout& u : block)
      add({"unit " + std::to_string(u.input_channels) + "->" + std::to_string(k), {3, 1, 1}, u.input_channels, k,
           u.input_channels, F, 1});
  for (const MixLayout& m : L.compressors())
    add({"1x1 " + std::to_string(m.distinct) + "->" + std::to_string(m.outputs), {1, 1, 0}, m.distinct, m.outputs, F, F, 1});
  add({"1x1 " + std::to_string(L.reconstruction().distinct) + "->1", {1, 1, 0}, L.reconstruction().distinct, 1, F, 1, 1});
  return cases;
}

cudnnTensorDescriptor_t describe(const Tensor<const float>& t) {
  const int dims[5] = {int(t.shape.n), int(t.shape.c), int(t.shape.d), int(t.shape.h), int(t.shape.w)};
  const int strides[5] = {int(t.stride.n), int(t.stride.c), int(t.stride.d), int(t.stride.h), int(t.stride.w)};
  cudnnTensorDescriptor_t d;
  MDCSRN_CUDA_CHECK(cudnnCreateTensorDescriptor(&d));
  MDCSRN_CUDA_CHECK(cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT, 5, dims, strides));
  return d;
}

// The fastest deterministic algorithm of cuDNN's exhaustive search, in ms, for each direction.
struct SearchResult {
  double forward = 0, backward_data = 0, backward_filter = 0;
};

template <class Perf>
double best_time(const std::vector<Perf>& perf, int found, bool tf32) {
  for (int i = 0; i < found; ++i) {
    const Perf& r = perf[size_t(i)];
    if (r.status != CUDNN_STATUS_SUCCESS || r.determinism != CUDNN_DETERMINISTIC) continue;
    if (!tf32 && r.mathType == CUDNN_TENSOR_OP_MATH) continue;
    return r.time;
  }
  return -1;
}

SearchResult exhaustive_search(CudaContext& ctx, const ConvParams& p, Tensor<const float> x, Tensor<const float> y,
                               const float* w, float* dx, float* dy_out, float* dw) {
  cudnnTensorDescriptor_t xd = describe(x), yd = describe(y);
  cudnnFilterDescriptor_t wd;
  const int wdims[5] = {int(y.shape.c), int(x.shape.c), p.kernel, p.kernel, p.kernel};
  MDCSRN_CUDA_CHECK(cudnnCreateFilterDescriptor(&wd));
  MDCSRN_CUDA_CHECK(cudnnSetFilterNdDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 5, wdims));
  cudnnConvolutionDescriptor_t cd;
  const int pad[3] = {p.padding, p.padding, p.padding}, stride[3] = {p.stride, p.stride, p.stride}, dil[3] = {1, 1, 1};
  MDCSRN_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&cd));
  MDCSRN_CUDA_CHECK(cudnnSetConvolutionNdDescriptor(cd, 3, pad, stride, dil, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  MDCSRN_CUDA_CHECK(cudnnSetConvolutionMathType(cd, ctx.tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  const size_t workspace_bytes = size_t(1) << 30;
  void* workspace = ctx.scratch(workspace_bytes);
  SearchResult r;
  int found = 0;
  std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  MDCSRN_CUDA_CHECK(cudnnFindConvolutionForwardAlgorithmEx(ctx.cudnn(), xd, x.data, wd, w, cd, yd, dy_out, int(fwd.size()), &found,
                                                           fwd.data(), workspace, workspace_bytes));
  r.forward = best_time(fwd, found, ctx.tf32());
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> bwd(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
  MDCSRN_CUDA_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(ctx.cudnn(), wd, w, yd, y.data, cd, xd, dx, int(bwd.size()), &found,
                                                                bwd.data(), workspace, workspace_bytes));
  r.backward_data = best_time(bwd, found, ctx.tf32());
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> flt(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
  MDCSRN_CUDA_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(ctx.cudnn(), xd, x.data, yd, y.data, cd, wd, dw, int(flt.size()),
                                                                  &found, flt.data(), workspace, workspace_bytes));
  r.backward_filter = best_time(flt, found, ctx.tf32());
  cudnnDestroyTensorDescriptor(xd);
  cudnnDestroyTensorDescriptor(yd);
  cudnnDestroyFilterDescriptor(wd);
  cudnnDestroyConvolutionDescriptor(cd);
  return r;
}

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"batch", "patch", "repeats", "json"}, {}, "bench_conv");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const int batch = args.get_int("batch", 64), patch = args.get_int("patch", 32), repeats = args.get_int("repeats", 20);
  const std::string json_path = args.get("json");
  if (cuda_device_count() == 0) fail("no CUDA device visible");
  const GeneratorLayout layout(GeneratorConfig::paper());
  const std::vector<ConvCase> cases = generator_cases(layout);
  std::printf("device: %s\nbatch %d of %d^3; times in ms (median of %d after warm-up)\n", describe_device(DeviceKind::Cuda).c_str(), batch,
              patch, repeats);
  const int64_t spatial = int64_t(patch) * patch * patch;
  const int F = layout.feature_channels();
  // Big enough for any case's input, output and gradients, sliced or packed.
  Buffer<float> in(MemoryKind::Device, int64_t(batch) * F * spatial), out(MemoryKind::Device, int64_t(batch) * F * spatial);
  Buffer<float> din(MemoryKind::Device, int64_t(batch) * F * spatial), weights(MemoryKind::Device, 1 << 20),
      dweights(MemoryKind::Device, 1 << 20);
  for (Buffer<float>* b : {&in, &out, &din, &weights}) {
    std::vector<float> host(size_t(b->size()));
    for (size_t i = 0; i < host.size(); ++i) host[i] = float((i * 2654435761u) % 1000) / 1000.f - 0.5f;
    b->upload(host);
  }

  nlohmann::json rows = nlohmann::json::array();
  std::printf("\n%-14s %-6s %-6s %5s | %9s %9s %9s | %9s %9s %9s | %9s\n", "conv", "math", "layout", "count", "fwd", "bwd-data",
              "bwd-filt", "best fwd", "best bwdd", "best bwdf", "per step");
  for (bool tf32 : {false, true}) {
    double step_total[2] = {0, 0}, step_best[2] = {0, 0};
    for (const ConvCase& c : cases) {
      for (int packed = 0; packed < 2; ++packed) {
        CudaContext ctx;
        ctx.set_tf32(tf32);
        const int in_c = packed ? c.in_channels : c.in_buffer_channels, out_c = packed ? c.out_channels : c.out_buffer_channels;
        const Tensor<float> x = Tensor<float>(in.data(), Shape5{batch, in_c, patch, patch, patch}).channels(0, c.in_channels);
        const Tensor<float> dx = Tensor<float>(din.data(), Shape5{batch, in_c, patch, patch, patch}).channels(0, c.in_channels);
        const Tensor<float> y = Tensor<float>(out.data(), Shape5{batch, out_c, patch, patch, patch}).channels(0, c.out_channels);
        const double fwd = time_gpu_ms(ctx, 3, repeats, [&] { gpu::conv3d_forward(ctx, c.p, x, weights.data(), nullptr, y); });
        const double bwd_data = time_gpu_ms(ctx, 3, repeats, [&] {
          gpu::conv3d_backward_data(ctx, c.p, weights.data(), y, dx, GradMode::Overwrite);
        });
        const double bwd_filter = time_gpu_ms(ctx, 3, repeats, [&] {
          gpu::conv3d_backward_weight(ctx, c.p, x, y, dweights.data(), nullptr, GradMode::Accumulate);
        });
        const SearchResult best = exhaustive_search(ctx, c.p, x, y, weights.data(), dx.data, y.data, dweights.data());
        const double ours = c.per_step * (fwd + bwd_data + bwd_filter);
        const double found = c.per_step * (best.forward + best.backward_data + best.backward_filter);
        step_total[packed] += ours;
        step_best[packed] += found;
        std::printf("%-14s %-6s %-6s %5d | %9.3f %9.3f %9.3f | %9.3f %9.3f %9.3f | %9.2f\n", c.name.c_str(), tf32 ? "TF32" : "fp32",
                    packed ? "packed" : "slice", c.per_step, fwd, bwd_data, bwd_filter, best.forward, best.backward_data,
                    best.backward_filter, ours);
        rows.push_back({{"conv", c.name}, {"math", tf32 ? "tf32" : "fp32"}, {"layout", packed ? "packed" : "slice"},
                        {"per_step", c.per_step}, {"forward_ms", fwd}, {"backward_data_ms", bwd_data},
                        {"backward_filter_ms", bwd_filter}, {"search_forward_ms", best.forward},
                        {"search_backward_data_ms", best.backward_data}, {"search_backward_filter_ms", best.backward_filter}});
      }
    }
    std::printf("%s per step: slice %.1f ms (search best %.1f), packed %.1f ms (search best %.1f)\n\n", tf32 ? "TF32" : "fp32",
                step_total[0], step_best[0], step_total[1], step_best[1]);
  }
  if (!json_path.empty())
    write_text_atomically(json_path, nlohmann::json{{"device", describe_device(DeviceKind::Cuda)}, {"batch", batch}, {"patch", patch},
                                                    {"rows", rows}}.dump(2) + "\n");
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_conv", mdcsrn::bench::run, argc, argv); }
