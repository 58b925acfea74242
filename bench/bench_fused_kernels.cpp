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
#include <map>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "bench/json_file.h"
#include "bench/fused_kernel_rows.h"
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

constexpr const char* kHelp = R"(usage: bench_fused_kernels [--batch 64] [--patch 32] [--repeats 20] [--predicted FILE] [--json FILE] [--markdown FILE]

Times every kernel of the fast path's training step (b4u4, batch 64 of 32^3 by default) on the GPU,
alone, at the step's shapes: the units' forward, weight and data gradients at each width, the stem,
the compressors, the 1x1 layers' backward, the loss and Adam. For each: FLOPs and the bytes it must
move at least, over its median time, as TFLOP/s and GB/s and as fractions of the bf16 GEMM rate
(cuBLAS, 8192^3) and the copy bandwidth (a 1 GiB device-to-device copy) measured in the same run;
the larger fraction names its bound. The last row sums the instances of one step.

--predicted FILE (bench_kernel_counts --json's file, e.g. bench/predicted_roofline.json, made
under the SIMT emulator without a GPU) adds each kernel's predicted time for this device (its
H200 column on an H200, else its H100 column) and the ratio measured / predicted, row by row.
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

// Kernel -> predicted microseconds for this device, from bench_kernel_counts --json.
std::map<std::string, double> read_predictions(const std::string& path, const std::string& device, int batch, int patch) {
  const nlohmann::json doc = read_json_file(path, "predictions file");
  if (!doc.contains("kernels") || !doc.at("kernels").is_array()) fail(path + ": no \"kernels\" list (bench_kernel_counts --json)");
  if (doc.value("batch", 0) != batch || doc.value("patch", 0) != patch)
    fail(path + ": predictions for batch " + std::to_string(doc.value("batch", 0)) + " of " + std::to_string(doc.value("patch", 0)) +
         "^3, not the " + std::to_string(batch) + " of " + std::to_string(patch) + "^3 measured");
  const std::string column = device.find("H200") != std::string::npos ? "h200" : "h100";
  std::map<std::string, double> predicted;
  for (const nlohmann::json& k : doc.at("kernels")) predicted[k.at("kernel").get<std::string>()] = k.at("predicted_us").at(column).get<double>();
  return predicted;
}

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"batch", "patch", "repeats", "predicted", "json", "markdown"}, {}, "bench_fused_kernels");
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

  const std::map<std::string, double> predicted_us =
      args.has("predicted") ? read_predictions(args.get("predicted"), describe_device(DeviceKind::Cuda), batch, patch) : std::map<std::string, double>{};
  const bool predicted = !predicted_us.empty();
  const VolumeShape shape{batch, patch, patch, patch};
  FusedKernelOperands<CudaContext> operands(L, shape);
  std::vector<Row> rows_out;
  for (const FusedKernelRow& row : fused_kernel_rows(ctx, L, shape, operands))
    rows_out.push_back({row.kernel, row.per_step, row.flop, row.bytes, time_gpu_ms(ctx, 3, repeats, row.run)});

  std::string table = "Device: " + describe_device(DeviceKind::Cuda) + "; batch " + std::to_string(batch) + " of " + std::to_string(patch) +
                      "^3; measured ceilings: copy " + std::to_string(int(copy)) + " GB/s, bf16 GEMM " + std::to_string(int(gemm)) +
                      " TFLOP/s.\n\n| kernel | per step | GFLOP | GB (least) | median ms | TFLOP/s | % GEMM | GB/s | % copy | bound |" +
                      std::string(predicted ? " predicted ms | measured / predicted |" : "") + "\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |" +
                      std::string(predicted ? " --- | --- |" : "") + "\n";
  nlohmann::json json_rows = nlohmann::json::array();
  double step_ms = 0, step_flop = 0, step_bytes = 0, step_predicted_ms = 0;
  for (const Row& r : rows_out) {
    const double tflops = r.flop / (r.ms * 1e9), gbps = r.bytes / (r.ms * 1e6);
    const double gemm_share = tflops / gemm, copy_share = gbps / copy;
    char line[320];
    std::snprintf(line, sizeof line, "| %s | %d | %.1f | %.2f | %.3f | %.1f | %.0f%% | %.0f | %.0f%% | %s |", r.kernel.c_str(), r.per_step, r.flop / 1e9,
                  r.bytes / 1e9, r.ms, tflops, 100 * gemm_share, gbps, 100 * copy_share, gemm_share > copy_share ? "compute" : "memory");
    table += line;
    json_rows.push_back({{"kernel", r.kernel}, {"per_step", r.per_step}, {"gflop", r.flop / 1e9}, {"gbytes", r.bytes / 1e9}, {"median_ms", r.ms},
                         {"tflops", tflops}, {"gbps", gbps}, {"gemm_fraction", gemm_share}, {"copy_fraction", copy_share}});
    if (predicted) {
      const auto p = predicted_us.find(r.kernel);
      if (p == predicted_us.end()) {
        table += " - | - |";
      } else {
        std::snprintf(line, sizeof line, " %.3f | %.2f |", p->second / 1e3, r.ms / (p->second / 1e3));
        table += line;
        json_rows.back()["predicted_ms"] = p->second / 1e3;
        step_predicted_ms += r.per_step * p->second / 1e3;
      }
    }
    table += "\n";
    step_ms += r.per_step * r.ms;
    step_flop += r.per_step * r.flop;
    step_bytes += r.per_step * r.bytes;
  }
  char total[320];
  std::snprintf(total, sizeof total, "| **one step's kernels** | | %.0f | %.1f | %.2f | %.1f | %.0f%% | %.0f | %.0f%% | |", step_flop / 1e9,
                step_bytes / 1e9, step_ms, step_flop / (step_ms * 1e9), 100 * step_flop / (step_ms * 1e9) / gemm, step_bytes / (step_ms * 1e6),
                100 * step_bytes / (step_ms * 1e6) / copy);
  table += total;
  if (predicted) {
    std::snprintf(total, sizeof total, " %.2f | %.2f |", step_predicted_ms, step_ms / step_predicted_ms);
    table += total;
  }
  table += "\n";
  std::fputs(("\n" + table).c_str(), stdout);
  if (args.has("markdown")) write_text_atomically(args.get("markdown"), table);
  if (args.has("json"))
    write_text_atomically(args.get("json"), nlohmann::json{{"device", describe_device(DeviceKind::Cuda)}, {"batch", batch}, {"patch", patch},
                                                           {"copy_gbps", copy}, {"gemm_tflops", gemm}, {"kernels", json_rows},
                                                           {"step_kernel_ms", step_ms},
                                                           {"step_predicted_ms", predicted ? nlohmann::json(step_predicted_ms) : nlohmann::json()}}.dump(2) + "\n");
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_fused_kernels", mdcsrn::bench::run, argc, argv); }
