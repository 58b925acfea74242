// WGAN iteration benchmark: the cost of mDCSRN-WGAN training per batch (a critic step on every
// batch, a generator step through the critic on every n_critic-th) beside the generator-only
// step, with the same generator, batch and data. Medians after warm-up; CUDA events on the GPU
// (fp32 and TF32), host clocks on the CPU.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "bench/bench_main.h"
#include "bench/timing.h"
#include "cli/args.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "io/volume.h"
#include "models/critic.h"
#include "models/wgan_step.h"
#ifdef MDCSRN_HAVE_CUDA
#include "bench/timing_cuda.h"
#endif

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_wgan_step --manifest PATH [--config FILE] [--set KEY=VALUE ...] [--device cpu|cuda] [--steps 20]
                       [--json FILE]

Times, on the training split of a prepared dataset, the generator-only training step and the
mDCSRN-WGAN iteration amortised per batch (n_critic batches: the critic steps on each, the
generator on the first), with the generator, critic, batch and patch of a training configuration
(default configs/paper_wgan_balanced.json: b4u4, the 16.6M-parameter critic, batch 64 of 32^3;
--set overrides a setting, e.g. --set wgan.lipschitz="spectral").
On the GPU both fp32 and TF32 are measured. The JSON is rewritten after each; one whose losses
are not finite, or that fails, is recorded with its status (exit status 1 at the end).
)";

struct Timing {
  double generator_ms = 0, wgan_ms = 0;
  bool finite = true;  // the last generator and critic losses
};

template <class Backend>
Timing measure(Backend be, CudaContext* ctx, const TrainConfig& c, const std::vector<SamplerSubject>& subjects, int steps,
               const std::function<double(int, int, const std::function<void()>&)>& time_ms) {
  const GeneratorLayout gl(c.model);
  const CriticLayout cl(c.wgan.critic);
  const PatchDataset data(subjects, c.sampler, Backend::memory);
  GeneratorStep<Backend> generator(gl, be, ctx, c.batch, c.sampler.patch, c.loss);
  WganStep<Backend> wgan(cl, be, generator, c.wgan.adversarial_weight, c.wgan.constraint, c.seed);
  const std::vector<float> gp = initial_generator_parameters(gl, c.seed), cp = initial_critic_parameters(cl, c.seed);
  raw_copy(Backend::memory, generator.arena().params(), MemoryKind::Host, gp.data(), gp.size() * sizeof(float));
  raw_copy(Backend::memory, wgan.arena().params(), MemoryKind::Host, cp.data(), cp.size() * sizeof(float));
  if (CriticSpectralNorm<Backend>* spectral = wgan.spectral()) spectral->set_vectors(initial_spectral_vectors(cl, cp, c.seed));
  Timing t;
  int64_t step = 0;
  t.generator_ms = time_ms(2, steps, [&] { generator.run(data, step++, c.adam); });
  const WganSchedule schedule{0, c.wgan.n_critic};
  step = 0;
  const double cycle_ms = time_ms(1, std::max(3, steps / c.wgan.n_critic), [&] {
    for (int b = 0; b < c.wgan.n_critic; ++b, ++step)
      wgan.run(data, step, c.adam, c.wgan.critic_adam, schedule.critic_update(step),
               schedule.generator_updates(step) ? schedule.generator_update(step) : 0);
  });
  t.wgan_ms = cycle_ms / c.wgan.n_critic;
  t.finite = std::isfinite(generator.loss()) && std::isfinite(wgan.stats().critic_loss);
  return t;
}

}  // namespace

int run(int argc, char** argv) {
  std::vector<char*> rest;
  std::vector<std::string> overrides = cli::take_repeated(argc, argv, "--set", "section.key=value", rest);
  const cli::Args args(int(rest.size()), rest.data(), 1, {"manifest", "config", "device", "steps", "json"}, {}, "bench_wgan_step");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string manifest = args.get("manifest"), device = args.get("device", cuda_device_count() > 0 ? "cuda" : "cpu");
  if (manifest.empty()) fail("--manifest is required (see --help)");
  if (device != "cpu" && device != "cuda") fail("--device: expected cpu or cuda, got '" + device + "'");
  const int steps = args.get_int("steps", 20);
  overrides.push_back("data.manifest=\"" + manifest + "\"");
  const nlohmann::json j = merge_train_config(args.get("config", "configs/paper_wgan_balanced.json"), overrides);
  const TrainConfig c = parse_train_config(j);
  if (!c.wgan.enabled) fail(args.get("config", "configs/paper_wgan_balanced.json") + ": wgan.enabled is false");
  const std::vector<SamplerSubject> subjects = load_split(Manifest::load(manifest), c.train_split, false);
  const CriticLayout cl(c.wgan.critic);
  std::printf("generator %s; %s (%lld parameters), %s, n_critic %d; batch %d of %d^3\n", c.model.describe().c_str(),
              c.wgan.critic.describe().c_str(), (long long)cl.table().parameter_count(),
              c.wgan.constraint.kind == Lipschitz::Clip ? "clipped" : "spectrally normalised", c.wgan.n_critic, c.batch, c.sampler.patch);
  const std::string machine = describe_device(device == "cpu" ? DeviceKind::Cpu : DeviceKind::Cuda);
  std::printf("device: %s\n", machine.c_str());
  nlohmann::json results = nlohmann::json::array();
  const std::string json_path = args.get("json");
  std::printf("\n%-10s %18s %22s %8s\n", "math", "generator step ms", "WGAN ms per batch", "ratio");
  // Each variant is recorded as it ends, with its status (a non-finite loss, an error), and the
  // JSON rewritten, so that one failing variant leaves the others' figures.
  bool all_ok = true;
  auto variant = [&](const std::string& math, const std::function<Timing()>& run) {
    nlohmann::json row{{"math", math}};
    try {
      const Timing t = run();
      row.update({{"status", t.finite ? "ok" : "non-finite loss"}, {"generator_step_ms", t.generator_ms}, {"wgan_ms_per_batch", t.wgan_ms},
                  {"ratio", t.wgan_ms / t.generator_ms}});
      all_ok = all_ok && t.finite;
      std::printf("%-10s %18.2f %22.2f %8.2f%s\n", math.c_str(), t.generator_ms, t.wgan_ms, t.wgan_ms / t.generator_ms,
                  t.finite ? "" : "  (losses not finite)");
    } catch (const std::exception& e) {
      row["status"] = std::string("error: ") + e.what();
      all_ok = false;
      std::printf("%-10s failed: %s\n", math.c_str(), e.what());
    }
    results.push_back(row);
    if (!json_path.empty())
      write_text_atomically(json_path, nlohmann::json{{"device", machine}, {"config", j}, {"results", results}}.dump(2) + "\n");
  };
  if (device == "cpu") {
    variant("fp32 (CPU)", [&] { return measure(CpuBackend<float>{}, nullptr, c, subjects, steps, time_cpu_ms); });
  } else {
#ifdef MDCSRN_HAVE_CUDA
    for (bool tf32 : {false, true})
      variant(tf32 ? "TF32" : "fp32", [&] {
        CudaContext ctx;
        ctx.set_tf32(tf32);
        const auto time = [&](int warmup, int repeats, const std::function<void()>& f) { return time_gpu_ms(ctx, warmup, repeats, f); };
        return measure(GpuBackend{&ctx}, &ctx, c, subjects, steps, time);
      });
#else
    fail("--device cuda: this build has no CUDA backend");
#endif
  }
  return all_ok ? 0 : 1;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_wgan_step", mdcsrn::bench::run, argc, argv); }
