// Roofline of the fast path's kernels (kernels/fused): each kernel of the b4u4 generator's training
// step, at the step's shapes, timed alone by CUDA events (median after warm-up), with its FLOPs
// and the bytes it must move at least, beside the device's copy bandwidth and bf16 GEMM rate
// measured in the same run. The per-step sum over every kernel instance says how far the kernels
// alone are from the step's floor, and which bound stops each.
#include <cublas_v2.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "bench/timing_cuda.h"
#include "cli/args.h"
#include "engine/device.h"
#include "engine/memory.h"
#include "io/volume.h"
#include "kernels/loss.h"
#include "kernels/optimizer.h"
#include "models/generator_fast.h"

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_fused_kernels [--batch 64] [--patch 32] [--repeats 20] [--json FILE] [--markdown FILE]

Times every kernel of the fast path's training step (b4u4, batch 64 of 32^3 by default) on the GPU,
alone, at the step's shapes: the units' forward, weight and data gradients at each width, the stem,
the compressors, the 1x1 layers' backward, the loss and Adam. For each: FLOPs and the bytes it must
move at least, over its median time, as TFLOP/s and GB/s and as fractions of the bf16 GEMM rate
(cuBLAS, 8192^3) and the copy bandwidth (a 1 GiB device-to-device copy) measured in the same run;
the larger fraction names its bound. The last row sums the instances of one step.
)";

struct Row {
  std::string kernel;
  int per_step;
  double flop, bytes, ms;
};

// A buffer of `count` elements with every byte `pattern` (0x3c: bf16 0.0115, fp32 0.0115).
template <class T>
Buffer<T> filled(int64_t count, int pattern) {
  Buffer<T> b(MemoryKind::Device, count);
  MDCSRN_CUDA_CHECK(cudaMemset(b.data(), pattern, sizeof(T) * size_t(count)));
  return b;
}

double copy_gbps(CudaContext& ctx, int repeats) {
  const size_t bytes = size_t(1) << 30;
  Buffer<unsigned char> a = filled<unsigned char>(int64_t(bytes), 1), b = filled<unsigned char>(int64_t(bytes), 0);
  const double ms = time_gpu_ms(ctx, 2, repeats, [&] { MDCSRN_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, ctx.stream())); });
  return 2.0 * double(bytes) / (ms * 1e6);  // read and write
}

double gemm_tflops(CudaContext& ctx, int repeats) {
  const int n = 8192;
  Buffer<uint16_t> a = filled<uint16_t>(int64_t(n) * n, 0x3c), b = filled<uint16_t>(int64_t(n) * n, 0x3c);
  Buffer<float> c(MemoryKind::Device, int64_t(n) * n);
  const float one = 1.f, zero = 0.f;
  MDCSRN_CUDA_CHECK(cublasSetMathMode(ctx.cublas(), CUBLAS_DEFAULT_MATH));
  const double ms = time_gpu_ms(ctx, 2, repeats, [&] {
    MDCSRN_CUDA_CHECK(cublasGemmEx(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.data(), CUDA_R_16BF, n, b.data(), CUDA_R_16BF, n,
                                   &zero, c.data(), CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  });
  return 2.0 * double(n) * n * n / (ms * 1e9);
}

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"batch", "patch", "repeats", "json", "markdown"}, {}, "bench_fused_kernels");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const int batch = args.get_int("batch", 64), patch = args.get_int("patch", 32), repeats = args.get_int("repeats", 20);
  if (cuda_device_count() == 0) fail("no CUDA device visible");
  const GeneratorLayout L(GeneratorConfig::paper());
  CudaContext ctx;
  const double copy = copy_gbps(ctx, repeats), gemm = gemm_tflops(ctx, repeats);
  std::printf("device: %s\nbatch %d of %d^3; copy %.0f GB/s, bf16 GEMM %.0f TFLOP/s (measured now)\n", describe_device(DeviceKind::Cuda).c_str(),
              batch, patch, copy, gemm);

  const VolumeShape shape{batch, patch, patch, patch};
  const int64_t V = shape.voxels();
  const int F = L.feature_channels(), columns = mix_gradient_columns(L);
  const double v = double(V);
  Buffer<uint16_t> features = filled<uint16_t>(V * F, 0x3c), gradients = filled<uint16_t>(V * columns, 0x3c);
  Buffer<float> raw = filled<float>(V * 112, 0), x = filled<float>(V, 0x3c), y = filled<float>(V, 0), dy = filled<float>(V, 0);
  Buffer<float> ones = filled<float>(F, 0), zeros = filled<float>(F, 0), stats(MemoryKind::Device, 3 * F);
  {
    const std::vector<float> one(size_t(F), 1.f);
    ones.upload(one);
  }
  Buffer<float> weights = filled<float>(1 << 20, 0x3c), grads(MemoryKind::Device, 1 << 20), moments = filled<float>(1 << 21, 0);
  Buffer<uint32_t> packed = filled<uint32_t>(1 << 20, 0x3c);
  Buffer<int32_t> rows = filled<int32_t>(columns, 0), copy_index = filled<int32_t>(1 << 20, 0xff);  // -1: no copies
  Buffer<uint16_t> copies(MemoryKind::Device, 1 << 20);
  Buffer<AdamStep> step_constants(MemoryKind::Device, 1);
  gpu::store_adam_step(ctx, adam_step(AdamConfig{}, 1), step_constants.data());
  const ChannelsLast f{features.data(), shape, F};
  const MixGradients G{gradients.data(), V, columns};
  const Tensor<const float> input(x.data(), Shape5{batch, 1, patch, patch, patch});

  std::vector<Row> rows_out;
  auto measure = [&](const std::string& name, int per_step, double flop, double bytes, const std::function<void()>& work) {
    rows_out.push_back({name, per_step, flop, bytes, time_gpu_ms(ctx, 3, repeats, work)});
  };
  const ActivationSpec act = L.config().activation;
  measure("stem forward (conv0)", 1, 2 * v * 27 * 32, v * (4 + 64),
       [&] { gpu::stem_forward(ctx, input, weights.data(), f, 1e-5f, stats.data(), stats.data() + F, stats.data() + 2 * F); });
  for (int width : {32, 48, 64, 80}) {
    const std::string w = std::to_string(width);
    UnitForward uf;
    uf.input = UnitInput{f.data, shape, F, 0, width, ones.data(), zeros.data(), act};
    uf.weights = packed.data();
    uf.output = f.data;
    uf.output_channel = width;
    const double flop = 2 * v * 27 * width * 16;
    measure("unit forward, " + w + " inputs", 4, flop, v * (2 * width + 32),
         [&] { gpu::unit_forward(ctx, uf, 1e-5f, stats.data(), stats.data() + F, stats.data() + 2 * F); });
    UnitBackward ub;
    ub.input = uf.input;
    ub.output_channel = width;
    ub.gradient = DeferredGradient{raw.data(), 112, 0, zeros.data(), zeros.data()};
    measure("unit weight gradient, " + w + " inputs", 4, flop, v * (2 * width + 16 * (4 + 2)), [&] { gpu::unit_weight_gradient(ctx, ub, grads.data()); });
    UnitDataGradient d;
    d.weights = packed.data();
    d.mean = zeros.data();
    d.invstd = ones.data();
    d.gamma_grad = grads.data();
    d.beta_grad = grads.data() + F;
    measure("unit data gradient, " + w + " inputs", 4, flop, v * (16 * (4 + 2) + width * (2 + 8)), [&] { gpu::unit_data_gradient(ctx, ub, d); });
  }
  for (const MixLayout& m : L.compressors()) {
    const std::string k = std::to_string(m.distinct);
    measure("compressor forward, " + k + " inputs", 1, 2 * v * m.distinct * 32, v * (2 * m.distinct + 64), [&] {
      gpu::compressor_forward(ctx, f, m.distinct, packed.data(), m.output_channel, 1e-5f, stats.data(), stats.data() + F, stats.data() + 2 * F);
    });
    measure("compressor weight gradient, " + k + " inputs", 1, 2 * v * 32 * m.distinct, v * (64 + 2 * m.distinct),
         [&] { gpu::mix_weight_gradient(ctx, f, m.distinct, G, 0, 32, grads.data()); });
    measure("compressor output gradient", 1, 0, v * 32 * (4 + 2 + 2), [&] {
      gpu::compressor_output_gradient(ctx, f, DeferredGradient{raw.data(), 112, m.output_channel, zeros.data(), zeros.data()}, m.output_channel,
                                      G, 0);
    });
  }
  measure("reconstruction forward", 1, 2 * v * F, v * (2 * F + 4), [&] { gpu::reconstruction_forward(ctx, f, F, weights.data(), y.data()); });
  measure("reconstruction weight gradient", 1, 2 * v * 16 * F, v * (32 + 2 * F),
       [&] { gpu::mix_weight_gradient(ctx, f, F, G, columns - kReconstructionColumns, 1, grads.data()); });
  measure("reconstruction output gradient", 1, 0, v * (4 + 32), [&] { gpu::reconstruction_output_gradient(ctx, dy.data(), G, columns - kReconstructionColumns); });
  for (size_t b = 0; b < L.units().size(); ++b) {
    const int first_column = kCompressorOutputs * int(b), k = columns - first_column, n = 96;
    measure("1x1 data gradient, block " + std::to_string(b) + " (" + std::to_string(k) + " columns)", 1, 2 * v * k * n, v * (2 * k + 4 * n), [&] {
      gpu::mix_data_gradient(ctx, G, first_column, packed.data(), DeferredGradient{raw.data(), 112, 0, zeros.data(), zeros.data()}, 0, n);
    });
  }
  measure("stem weight gradient", 1, 2 * v * 32 * 27, v * (4 + 32 * (4 + 2)),
       [&] { gpu::stem_weight_gradient(ctx, input, f, DeferredGradient{raw.data(), 112, 0, zeros.data(), zeros.data()}, grads.data()); });
  measure("L1 loss, forward and backward", 1, 0, v * 12, [&] {
    gpu::loss_forward_backward(ctx, LossKind::L1, Tensor<const float>(y.data(), input.shape), input, 1.f, stats.data(),
                               Tensor<float>(dy.data(), input.shape), GradMode::Overwrite);
  });
  const int64_t params = L.table().padded_size();
  measure("Adam with the bf16 copies", 1, 0, double(params) * 4 * 7, [&] {
    gpu::adam_with_copies(ctx, step_constants.data(), weights.data(), grads.data(), moments.data(), moments.data() + params, params, copy_index.data(),
                          copies.data());
  });

  std::string table = "Device: " + describe_device(DeviceKind::Cuda) + "; batch " + std::to_string(batch) + " of " + std::to_string(patch) +
                      "^3; measured ceilings: copy " + std::to_string(int(copy)) + " GB/s, bf16 GEMM " + std::to_string(int(gemm)) +
                      " TFLOP/s.\n\n| kernel | per step | GFLOP | GB (least) | median ms | TFLOP/s | % GEMM | GB/s | % copy | bound |\n"
                      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  nlohmann::json json_rows = nlohmann::json::array();
  double step_ms = 0, step_flop = 0, step_bytes = 0;
  for (const Row& r : rows_out) {
    const double tflops = r.flop / (r.ms * 1e9), gbps = r.bytes / (r.ms * 1e6);
    const double gemm_share = tflops / gemm, copy_share = gbps / copy;
    char line[320];
    std::snprintf(line, sizeof line, "| %s | %d | %.1f | %.2f | %.3f | %.1f | %.0f%% | %.0f | %.0f%% | %s |\n", r.kernel.c_str(), r.per_step, r.flop / 1e9,
                  r.bytes / 1e9, r.ms, tflops, 100 * gemm_share, gbps, 100 * copy_share, gemm_share > copy_share ? "compute" : "memory");
    table += line;
    json_rows.push_back({{"kernel", r.kernel}, {"per_step", r.per_step}, {"gflop", r.flop / 1e9}, {"gbytes", r.bytes / 1e9}, {"median_ms", r.ms},
                         {"tflops", tflops}, {"gbps", gbps}, {"gemm_fraction", gemm_share}, {"copy_fraction", copy_share}});
    step_ms += r.per_step * r.ms;
    step_flop += r.per_step * r.flop;
    step_bytes += r.per_step * r.bytes;
  }
  char total[320];
  std::snprintf(total, sizeof total, "| **one step's kernels** | | %.0f | %.1f | %.2f | %.1f | %.0f%% | %.0f | %.0f%% | |\n", step_flop / 1e9,
                step_bytes / 1e9, step_ms, step_flop / (step_ms * 1e9), 100 * step_flop / (step_ms * 1e9) / gemm, step_bytes / (step_ms * 1e6),
                100 * step_bytes / (step_ms * 1e6) / copy);
  table += total;
  std::fputs(("\n" + table).c_str(), stdout);
  if (args.has("markdown")) write_text_atomically(args.get("markdown"), table);
  if (args.has("json"))
    write_text_atomically(args.get("json"), nlohmann::json{{"device", describe_device(DeviceKind::Cuda)}, {"batch", batch}, {"patch", patch},
                                                           {"copy_gbps", copy}, {"gemm_tflops", gemm}, {"kernels", json_rows},
                                                           {"step_kernel_ms", step_ms}}.dump(2) + "\n");
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_fused_kernels", mdcsrn::bench::run, argc, argv); }
