// Data-pipeline benchmark: LR synthesis by k-space truncation of a 320x320x256 volume, and the
// patch sampler's throughput (batches of 64 patches of 32^3, LR and HR). CPU always; GPU when
// a device is present.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <random>

#include "bench/bench_main.h"
#include "bench/timing.h"
#include "cli/args.h"
#include "engine/device.h"
#include "engine/error.h"
#include "io/patch_dataset.h"
#include "kernels/kspace.h"
#ifdef MDCSRN_HAVE_CUDA
#include "bench/timing_cuda.h"
#endif

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_data [--manifest PATH] [--repeats N] [--json FILE]

Times LR synthesis (k-space truncation, scale 4, axes 1 and 2) of a 320x320x256 volume, and the
patch sampler (balanced mode, batches of 64 patches of 32^3) on the training split of a prepared
dataset (default data/colin27/manifest.json; run `mdcsrn prepare --preset colin27` first).
Medians after warm-up: host clock on the CPU, CUDA events on the GPU (device-resident data,
transfers excluded).
)";

struct Row {
  std::string what, device;
  double ms;
  std::string rate;
};

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"manifest", "repeats", "json"}, {}, "bench_data");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string manifest_path = args.get("manifest", "data/colin27/manifest.json"), json_path = args.get("json");
  const int repeats = args.get_int("repeats", 5);
  std::vector<Row> rows;
  const bool gpu = cuda_device_count() > 0;
  std::printf("CPU : %s\nCUDA: %s\n", describe_device(DeviceKind::Cpu).c_str(), describe_device(DeviceKind::Cuda).c_str());

  // LR synthesis.
  const std::array<int64_t, 3> dims{320, 320, 256};
  const int64_t n = dims[0] * dims[1] * dims[2];
  std::vector<float> hr(static_cast<size_t>(n)), lr(hr.size());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& x : hr) x = u(rng);
  const KspaceTruncation t{4, {false, true, true}, KspaceWindow::None};
  rows.push_back({"LR synthesis 320x320x256", "cpu (FFTW)", time_cpu_ms(1, repeats, [&] { cpu::kspace_truncate(hr.data(), lr.data(), dims, t); }), ""});
#ifdef MDCSRN_HAVE_CUDA
  if (gpu) {
    CudaContext ctx;
    Buffer<float> hr_d(MemoryKind::Device, n), lr_d(MemoryKind::Device, n);
    hr_d.upload(hr);
    rows.push_back({"LR synthesis 320x320x256", "cuda (cuFFT)", time_gpu_ms(ctx, 3, 20, [&] { gpu::kspace_truncate(ctx, hr_d.data(), lr_d.data(), dims, t); }), ""});
  }
#endif

  // Sampler.
  if (!std::filesystem::exists(manifest_path)) {
    std::printf("%s not found: sampler not timed (run mdcsrn prepare --preset colin27)\n", manifest_path.c_str());
  } else {
    const Manifest m = Manifest::load(manifest_path);
    SamplerConfig c;
    c.mode = SamplingMode::Balanced;
    const int batch = 64;
    const int64_t voxels = int64_t(batch) * 32 * 32 * 32;
    const std::vector<SamplerSubject> subjects = load_split(m, "train", false);
    const PatchDataset host(subjects, c, MemoryKind::Host);
    std::vector<float> lr_batch(static_cast<size_t>(voxels)), hr_batch(lr_batch);
    std::vector<int32_t> centres(batch * kCentreFields);
    int64_t next = 0;
    const double cpu_ms = time_cpu_ms(1, repeats * 4, [&] {
      host.sample(next, batch, lr_batch.data(), hr_batch.data(), centres.data(), nullptr);
      next += batch;
    });
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.0f patches/s", batch / (cpu_ms / 1000));
    rows.push_back({"sampler, batch 64 x 32^3 (" + m.dataset + ")", "cpu", cpu_ms, rate});
#ifdef MDCSRN_HAVE_CUDA
    if (gpu) {
      CudaContext ctx;
      const PatchDataset device(subjects, c, MemoryKind::Device);
      Buffer<float> lr_d(MemoryKind::Device, voxels), hr_d(MemoryKind::Device, voxels);
      Buffer<int32_t> centres_d(MemoryKind::Device, batch * kCentreFields);
      const double gpu_ms = time_gpu_ms(ctx, 5, 100, [&] {
        device.sample(next, batch, lr_d.data(), hr_d.data(), centres_d.data(), &ctx);
        next += batch;
      });
      std::snprintf(rate, sizeof rate, "%.0f patches/s", batch / (gpu_ms / 1000));
      rows.push_back({"sampler, batch 64 x 32^3 (" + m.dataset + ")", "cuda", gpu_ms, rate});
    }
#endif
  }

  std::printf("\n%-40s %-14s %12s  %s\n", "benchmark", "device", "median ms", "rate");
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows) {
    std::printf("%-40s %-14s %12.3f  %s\n", r.what.c_str(), r.device.c_str(), r.ms, r.rate.c_str());
    out.push_back({{"benchmark", r.what}, {"device", r.device}, {"median_ms", r.ms}, {"rate", r.rate}});
  }
  if (!json_path.empty()) {
    write_text_atomically(json_path, nlohmann::json{{"cpu", describe_device(DeviceKind::Cpu)},
                                                    {"cuda", describe_device(DeviceKind::Cuda)},
                                                    {"results", out}}.dump(2) + "\n");
  }
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_data", mdcsrn::bench::run, argc, argv); }
