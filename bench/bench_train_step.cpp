// Training-step benchmark: the mDCSRN generator step (sample, forward, L1, backward, Adam) on the
// GPU, batch 64 of 32^3 by default: the reference path in fp32 and TF32 with deterministic cuDNN
// algorithms and in TF32 with any algorithm (train.deterministic=false), and the fast path (the
// fused bf16 forward, backward and Adam). Median of CUDA-event timings after warm-up of the step and
// of its forward alone, patches/s, achieved TFLOP/s, the ratio to the ~6 ms roofline floor
// (DESIGN.md), peak memory.
#include <nlohmann/json.hpp>

#include <cstdio>

#include "bench/bench_main.h"
#include "bench/timing.h"
#include "cli/args.h"
#include "engine/device.h"
#include "engine/error.h"
#include "io/volume.h"
#include "models/generator_step.h"

#include <algorithm>
#ifdef MDCSRN_HAVE_CUDA
#include "bench/timing_cuda.h"
#endif

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_train_step --manifest PATH [--batch 64] [--patch 32] [--steps 50] [--json FILE]

Times the generator's training step, and its forward alone (sampling, generator, loss), on the GPU
on the training split of a prepared dataset: the reference path in fp32 (FMA-only convolutions)
and TF32 with deterministic cuDNN algorithms (the default), in TF32 with any algorithm cuDNN ranks
first (train.deterministic=false), and the fast path (train.precision=bf16: the fused bf16
forward, backward and Adam). The roofline floor is DESIGN.md's ~6 ms for b4u4, batch
64 of 32^3 on an H100, scaled by the batch's voxels.
bench/step_table.py puts the JSON beside bench/pytorch_reference.py's in one table.
)";

// Forward FLOPs per output voxel: each conv weight is used once per voxel (2 FLOPs per MAC).
double forward_flops_per_voxel(const GeneratorLayout& layout) { return 2.0 * double(layout.table().parameter_count() - 2 * layout.bn_channels()); }

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"manifest", "batch", "patch", "steps", "json"}, {}, "bench_train_step");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string manifest = args.get("manifest"), json_path = args.get("json");
  const int batch = args.get_int("batch", 64), patch = args.get_int("patch", 32), steps = args.get_int("steps", 50);
  if (manifest.empty()) fail("--manifest is required (see --help)");
#ifndef MDCSRN_HAVE_CUDA
  fail("this build has no CUDA backend");
#else
  if (cuda_device_count() == 0) fail("no CUDA device visible");
  const GeneratorLayout layout(GeneratorConfig::paper());
  const double voxels = double(batch) * patch * patch * patch;
  const double step_flops = 3.0 * forward_flops_per_voxel(layout) * voxels;
  const double floor_ms = 6.0 * voxels / (64.0 * 32 * 32 * 32);
  std::printf("device: %s\nmodel: %s, %lld parameters; batch %d of %d^3; %.2f TFLOP per step (3 x forward)\n",
              describe_device(DeviceKind::Cuda).c_str(), layout.config().describe().c_str(),
              (long long)layout.table().parameter_count(), batch, patch, step_flops / 1e12);
  SamplerConfig sc;
  sc.patch = patch;
  sc.mode = SamplingMode::Balanced;
  const std::vector<SamplerSubject> subjects = load_split(Manifest::load(manifest), "train", false);
  nlohmann::json results = nlohmann::json::array();
  std::printf("\n%-6s %-9s %-13s %10s %12s %12s %10s %14s %12s\n", "math", "path", "algorithms", "median ms", "forward ms", "patches/s",
              "TFLOP/s", "x floor (6ms)", "peak GiB");
  struct Variant {
    const char* math;
    bool tf32, deterministic, fast;
  };
  const Variant variants[] = {{"fp32", false, true, false}, {"tf32", true, true, false}, {"tf32", true, false, false}, {"bf16", true, true, true}};
  for (const Variant& v : variants) {
    size_t free_before = 0, total = 0;
    MDCSRN_CUDA_CHECK(cudaMemGetInfo(&free_before, &total));
    CudaContext ctx;
    ctx.set_tf32(v.tf32);
    ctx.set_deterministic(v.deterministic);
    const PatchDataset data(subjects, sc, MemoryKind::Device);
    GeneratorStep<GpuBackend> step(layout, GpuBackend{&ctx}, &ctx, batch, patch, LossKind::L1);
    if (v.fast) step.enable_fast_path(ctx);
    const std::vector<float> params = initial_generator_parameters(layout, 0);
    raw_copy(MemoryKind::Device, step.arena().params(), MemoryKind::Host, params.data(), params.size() * sizeof(float));
    int64_t next = 0;
    const AdamConfig adam;
    const double ms = time_gpu_ms(ctx, 5, steps, [&] { step.run(data, next++, adam); });
    // The forward alone: sampling, the generator, the loss and its gradient.
    const double forward_ms = time_gpu_ms(ctx, 2, std::max(steps / 2, 5), [&] { step.forward(data, next++); });
    size_t free_after = 0;
    MDCSRN_CUDA_CHECK(cudaMemGetInfo(&free_after, &total));
    const double peak_gib = double(free_before - free_after) / double(1 << 30);  // nothing is freed during steps
    const double loss = step.loss();
    if (!std::isfinite(loss)) fail("the benchmark's loss is not finite");
    const char* path = v.fast ? "fast" : "reference";
    std::printf("%-6s %-9s %-13s %10.2f %12.2f %12.0f %10.1f %14.2f %12.2f\n", v.math, path, v.deterministic ? "deterministic" : "any", ms,
                forward_ms, batch / (ms / 1000), step_flops / (ms / 1000) / 1e12, ms / floor_ms, peak_gib);
    results.push_back({{"math", v.math}, {"path", path}, {"deterministic", v.deterministic}, {"median_ms", ms}, {"forward_ms", forward_ms},
                       {"patches_per_s", batch / (ms / 1000)}, {"tflops", step_flops / (ms / 1000) / 1e12}, {"ratio_to_floor", ms / floor_ms},
                       {"memory_gib", peak_gib}, {"steps", steps}});
  }
  if (!json_path.empty())
    write_text_atomically(json_path, nlohmann::json{{"device", describe_device(DeviceKind::Cuda)}, {"batch", batch}, {"patch", patch},
                                                    {"step_tflop", step_flops / 1e12}, {"results", results}}.dump(2) + "\n");
  return 0;
#endif
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_train_step", mdcsrn::bench::run, argc, argv); }
