// CPU whole-volume inference benchmark: mdcsrn infer's path (models/inference.h: tiles of the
// patch size at stride patch - 2 margin, batches, stitching) on a random volume, with a freshly
// initialised generator in eval mode, timed end to end.
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <string>

#include "bench/bench_main.h"
#include "bench/cpu_bench_model.h"
#include "bench/timing.h"
#include "cli/args.h"
#include "engine/cpu_isa.h"
#include "engine/parallel.h"
#include "engine/philox.h"
#include "io/volume.h"
#include "models/generator.h"
#include "models/generator_fast.h"
#include "models/inference.h"

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_cpu_infer [--blocks 2] [--units 2] [--growth 8] [--volume 159x370x316] [--patch 32]
                       [--batch 16] [--precision fp32|bf16] [--repeats 1] [--json FILE]

Times mdcsrn infer's whole-volume inference on the CPU (all threads OpenMP gives it) on a random
volume of the given size (x, y, z; the default is the demo's test box) with a freshly initialised
generator: tiles of --patch voxels cropped by 3 at each side, --batch tiles per forward pass. fp32
(the default): the reference path; bf16: the fused bf16 CPU kernels (growth 16). Prints the
median of --repeats runs, after one warm-up run on a single batch of tiles.
)";

std::array<int64_t, 3> parse_volume(const std::string& text) {
  std::array<int64_t, 3> dims{};
  if (std::sscanf(text.c_str(), "%ldx%ldx%ld", &dims[0], &dims[1], &dims[2]) != 3 || dims[0] < 1 || dims[1] < 1 || dims[2] < 1)
    fail("--volume '" + text + "': expected XxYxZ with positive sizes, e.g. 159x370x316");
  return dims;
}

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"blocks", "units", "growth", "volume", "patch", "batch", "precision", "repeats", "json"}, {},
                       "bench_cpu_infer");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const GeneratorConfig config = cpu_bench_model(args);
  const std::array<int64_t, 3> dims = parse_volume(args.get("volume", "159x370x316"));
  InferenceOptions options;
  options.patch = args.get_int("patch", options.patch);
  options.batch = args.get_int("batch", options.batch);
  options.precision = args.get("precision", "fp32");
  if (options.precision != "fp32" && options.precision != "bf16") fail("--precision '" + options.precision + "': expected fp32 or bf16");
  check_inference_options(options);
  const int repeats = args.get_int("repeats", 1);
  if (repeats < 1) fail("--repeats " + std::to_string(repeats) + ": at least 1");
  const GeneratorLayout layout(config);
  if (options.precision == "bf16") require_cpu_fused(layout);
  GeneratorState state;
  state.params = initial_generator_parameters(layout, 0);
  state.running.assign(size_t(2 * layout.bn_channels()), 1.f);
  std::fill(state.running.begin(), state.running.begin() + layout.bn_channels(), 0.f);  // means 0, variances 1
  std::vector<float> volume(size_t(dims[0] * dims[1] * dims[2]));
  for (size_t i = 0; i < volume.size(); ++i) volume[i] = uniform_open01(philox_draw(2, 0, i).v[0]);
  std::string path;
  const std::array<int64_t, 3> warmup_dims{options.patch, options.patch, options.patch};
  super_resolve(config, state, std::vector<float>(size_t(options.patch) * options.patch * options.patch, 0.5f), warmup_dims, options,
                nullptr, &path);
  const double ms = time_cpu_ms(0, repeats, [&] { super_resolve(config, state, volume, dims, options, nullptr); });
  const double voxels = double(dims[0] * dims[1] * dims[2]);
  std::printf("CPU, %d threads, %s; model %s; volume %ldx%ldx%ld, patch %d, batch %d; %s\n", cpu_threads(), cpu_isa_name(cpu_isa()).c_str(),
              config.describe().c_str(), dims[0], dims[1], dims[2], options.patch, options.batch, path.c_str());
  std::printf("median %.1f s, %.2f Mvoxel/s of the volume\n", ms / 1000, voxels / (ms / 1000) / 1e6);
  const std::string json_path = args.get("json");
  if (!json_path.empty())
    write_text_atomically(json_path, nlohmann::json{{"model", config.describe()}, {"threads", cpu_threads()}, {"isa", cpu_isa_name(cpu_isa())},
                                                    {"precision", options.precision}, {"path", path}, {"volume", dims},
                                                    {"patch", options.patch}, {"batch", options.batch}, {"median_ms", ms}}.dump(2) + "\n");
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_cpu_infer", mdcsrn::bench::run, argc, argv); }
