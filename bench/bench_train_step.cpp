// Training-step benchmark: the mDCSRN generator step (sample, forward, L1, backward, Adam), batch 64
// of 32^3 by default. On the GPU: the reference path in fp32 and TF32 with deterministic cuDNN
// algorithms and in TF32 with any algorithm (train.deterministic=false), and the fast path (the
// fused bf16 forward, backward and Adam); on the CPU, the reference path in fp32. Median of timings
// after warm-up (CUDA events on the GPU) of the step and of its forward alone, patches/s, achieved
// TFLOP/s, the ratio to the ~6 ms roofline floor (DESIGN.md), peak memory. The JSON is rewritten
// after every variant, and a variant whose loss is not finite or that throws is recorded as such
// while the next one runs: a device run keeps every figure it measured.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include "bench/bench_main.h"
#include "bench/timing.h"
#include "cli/args.h"
#include "engine/device.h"
#include "engine/error.h"
#include "io/volume.h"
#include "models/generator_step.h"
#ifdef MDCSRN_HAVE_CUDA
#include "bench/timing_cuda.h"
#endif

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_train_step --manifest PATH [options]

Times the generator's training step, and its forward alone (sampling, generator, loss), on the
training split of a prepared dataset. Variants:
  fp32      the reference path in fp32 (FMA-only convolutions), deterministic cuDNN algorithms
  tf32      the reference path in TF32, deterministic cuDNN algorithms
  tf32-any  the reference path in TF32 with any algorithm cuDNN ranks first
  bf16      the fast path (train.precision=bf16: the fused bf16 forward, backward and Adam)
  bf16-host the fast path with the training data in pinned host memory (data.residence host): its
            time against bf16's is what keeping the dataset off the GPU costs
On the CPU only fp32 runs (the CPU backend, all OpenMP threads, host clock).
The roofline floor is DESIGN.md's ~6 ms for b4u4, batch 64 of 32^3 on an H100, scaled by the
batch's voxels. The JSON is rewritten after each variant; a variant whose loss is not finite, or
that fails, is recorded with its status and the next one runs (exit status 1 at the end).
bench/step_table.py puts the JSON beside bench/pytorch_reference.py's in one table.

options:
  --device D      cuda (default) or cpu
  --variants L    comma-separated, in this order (default: fp32,tf32,tf32-any,bf16,bf16-host on cuda; fp32 on cpu)
  --batch N       patches per step (default 64)
  --patch N       patch edge (default 32)
  --steps N       timed steps (default 50)
  --warmup N      untimed steps first (default 5)
  --json FILE     the results, rewritten after every variant
)";

// Forward FLOPs per output voxel: each conv weight is used once per voxel (2 FLOPs per MAC).
double forward_flops_per_voxel(const GeneratorLayout& layout) { return 2.0 * double(layout.table().parameter_count() - 2 * layout.bn_channels()); }

struct Variant {
  std::string name, math;
  bool tf32, deterministic, fast;
  Residence data = Residence::Device;
};
const Variant kVariants[] = {{"fp32", "fp32", false, true, false},
                             {"tf32", "tf32", true, true, false},
                             {"tf32-any", "tf32", true, false, false},
                             {"bf16", "bf16", true, true, true},
                             {"bf16-host", "bf16", true, true, true, Residence::Host}};

std::vector<Variant> chosen_variants(const std::string& list, bool cpu) {
  std::vector<Variant> out;
  std::stringstream in(list.empty() ? (cpu ? "fp32" : "fp32,tf32,tf32-any,bf16,bf16-host") : list);
  for (std::string name; std::getline(in, name, ',');) {
    const auto v = std::find_if(std::begin(kVariants), std::end(kVariants), [&](const Variant& k) { return k.name == name; });
    if (v == std::end(kVariants)) fail("option --variants: unknown variant '" + name + "' (fp32, tf32, tf32-any, bf16, bf16-host)");
    if (cpu && name != "fp32") fail("option --variants: the CPU runs fp32 only, not '" + name + "'");
    out.push_back(*v);
  }
  return out;
}

// What one variant measured: times, its memory, and the last step's loss.
struct Measured {
  double step_ms = 0, forward_ms = 0, memory_gib = 0, loss = 0;
};

// The step and its forward on a backend, timed by `time` (CUDA events or the host clock);
// `held_gib` is asked what is held while the step still lives.
template <class Backend, class Timer, class MemoryProbe>
Measured measure(const GeneratorLayout& layout, Backend be, CudaContext* ctx, const PatchDataset& data, int batch, int patch, bool fast,
                 int warmup, int steps, Timer&& time, MemoryProbe&& held_gib) {
  GeneratorStep<Backend> step(layout, be, ctx, batch, patch, LossKind::L1);
#ifdef MDCSRN_HAVE_CUDA
  if constexpr (std::is_same_v<Backend, GpuBackend>) {
    if (fast) step.enable_fast_path(*ctx);
  }
#endif
  const std::vector<float> params = initial_generator_parameters(layout, 0);
  raw_copy(Backend::memory, step.arena().params(), MemoryKind::Host, params.data(), params.size() * sizeof(float));
  int64_t next = 0;
  const AdamConfig adam;
  Measured m;
  m.step_ms = time(warmup, steps, [&] { step.run(data, next++, adam); });
  // The forward alone: sampling, the generator, the loss and its gradient.
  m.forward_ms = time(std::min(warmup, 2), std::max(steps / 2, 1), [&] { step.forward(data, next++); });
  m.loss = step.loss();
  m.memory_gib = held_gib();
  return m;
}

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"manifest", "device", "variants", "batch", "patch", "steps", "warmup", "json"}, {}, "bench_train_step");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string manifest = args.get("manifest"), json_path = args.get("json"), device = args.get("device", "cuda");
  const int batch = args.get_int("batch", 64), patch = args.get_int("patch", 32), steps = args.get_int("steps", 50);
  const int warmup = args.get_int("warmup", 5);
  if (manifest.empty()) fail("--manifest is required (see --help)");
  if (device != "cuda" && device != "cpu") fail("option --device: expected cuda or cpu");
  if (steps < 1 || warmup < 0) fail("options --steps and --warmup: expected at least 1 and 0");
  const bool cpu = device == "cpu";
  const std::vector<Variant> variants = chosen_variants(args.get("variants"), cpu);
#ifndef MDCSRN_HAVE_CUDA
  if (!cpu) fail("this build has no CUDA backend (--device cpu runs the CPU's fp32 step)");
#else
  if (!cpu && cuda_device_count() == 0) fail("no CUDA device visible");
#endif
  const DeviceKind kind = cpu ? DeviceKind::Cpu : DeviceKind::Cuda;
  const GeneratorLayout layout(GeneratorConfig::paper());
  const double voxels = double(batch) * patch * patch * patch;
  const double step_flops = 3.0 * forward_flops_per_voxel(layout) * voxels;
  const double floor_ms = 6.0 * voxels / (64.0 * 32 * 32 * 32);
  std::printf("device: %s\nmodel: %s, %lld parameters; batch %d of %d^3; %.2f TFLOP per step (3 x forward)\n", describe_device(kind).c_str(),
              layout.config().describe().c_str(), (long long)layout.table().parameter_count(), batch, patch, step_flops / 1e12);
  SamplerConfig sc;
  sc.patch = patch;
  sc.mode = SamplingMode::Balanced;
  const std::vector<SamplerSubject> subjects = load_split(Manifest::load(manifest), "train", false);
  nlohmann::json results = nlohmann::json::array();
  const auto write_json = [&] {
    if (json_path.empty()) return;
    write_text_atomically(json_path, nlohmann::json{{"device", describe_device(kind)}, {"batch", batch}, {"patch", patch},
                                                    {"step_tflop", step_flops / 1e12}, {"results", results}}.dump(2) + "\n");
  };
  std::printf("\n%-8s %-6s %-9s %-13s %10s %12s %12s %10s %14s %12s\n", "variant", "math", "path", "algorithms", "median ms", "forward ms",
              "patches/s", "TFLOP/s", "x floor (6ms)", "peak GiB");
  bool all_ok = true;
  for (const Variant& v : variants) {
    const char* path = v.fast ? "fast" : "reference";
    nlohmann::json row{{"variant", v.name}, {"math", v.math}, {"path", path}, {"deterministic", v.deterministic}, {"steps", steps},
                       {"data", cpu ? "host" : residence_name(v.data)}};
    try {
      Measured m;
      if (cpu) {
        const PatchDataset data(subjects, sc, MemoryKind::Host);
        m = measure(layout, CpuBackend<float>{}, nullptr, data, batch, patch, false, warmup, steps,
                    [](int w, int n, const std::function<void()>& f) { return time_cpu_ms(w, n, f); }, [] { return 0.0; });
      } else {
#ifdef MDCSRN_HAVE_CUDA
        size_t free_before = 0, free_after = 0, total = 0;
        MDCSRN_CUDA_CHECK(cudaMemGetInfo(&free_before, &total));
        CudaContext ctx;
        ctx.set_tf32(v.tf32);
        ctx.set_deterministic(v.deterministic);
        const PatchDataset data(subjects, sc, MemoryKind::Device, v.data);
        m = measure(layout, GpuBackend{&ctx}, &ctx, data, batch, patch, v.fast, warmup, steps,
                    [&](int w, int n, const std::function<void()>& f) { return time_gpu_ms(ctx, w, n, f); },
                    [&] {  // nothing is freed during steps, so what is held at their end is the peak
                      MDCSRN_CUDA_CHECK(cudaMemGetInfo(&free_after, &total));
                      return double(free_before - free_after) / double(1 << 30);
                    });
#endif
      }
      const bool finite = std::isfinite(m.loss);
      row.update({{"status", finite ? "ok" : "non-finite loss"}, {"median_ms", m.step_ms}, {"forward_ms", m.forward_ms},
                  {"patches_per_s", batch / (m.step_ms / 1000)}, {"tflops", step_flops / (m.step_ms / 1000) / 1e12},
                  {"ratio_to_floor", m.step_ms / floor_ms}, {"memory_gib", m.memory_gib}, {"loss", finite ? m.loss : 0.0}});
      all_ok = all_ok && finite;
      std::printf("%-8s %-6s %-9s %-13s %10.2f %12.2f %12.0f %10.1f %14.2f %12.2f%s\n", v.name.c_str(), v.math.c_str(), path,
                  v.deterministic ? "deterministic" : "any", m.step_ms, m.forward_ms, batch / (m.step_ms / 1000),
                  step_flops / (m.step_ms / 1000) / 1e12, m.step_ms / floor_ms, m.memory_gib, finite ? "" : "  (loss not finite)");
    } catch (const std::exception& e) {
      row["status"] = std::string("error: ") + e.what();
      all_ok = false;
      std::printf("%-8s failed: %s\n", v.name.c_str(), e.what());
    }
    std::fflush(stdout);
    results.push_back(row);
    write_json();
  }
  return all_ok ? 0 : 1;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_train_step", mdcsrn::bench::run, argc, argv); }
