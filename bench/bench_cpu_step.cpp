// CPU training-step benchmark: the generator's step (forward, L1, backward, Adam) on the CPU
// backend, on random patches, with the time split by op family. It is what sets the pace of the
// demo and of the tests on a machine without a GPU.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
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
#include "models/train_config.h"

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_cpu_step [--blocks 2] [--units 2] [--growth 8] [--batch 8] [--patch 16] [--steps 10]
                      [--precision fp32|bf16] [--json FILE]

Times the generator's training step on the CPU (all threads OpenMP gives it) on random patches:
median step time, patches/s and achieved GFLOP/s. fp32 (the default): the reference path, with
the share of each op family; bf16: the fused bf16 CPU kernels (kernels/cpu_fused; growth 16),
which the CPU must be able to run.
)";

// Host milliseconds spent in each op family, accumulated by ProfiledCpuBackend.
using OpTimes = std::map<std::string, double>;

// The float CPU backend with every call timed under its op family's name.
struct ProfiledCpuBackend : CpuBackend<float> {
  OpTimes* times = nullptr;

  template <class F>
  void timed(const char* name, F&& f) const {
    const auto start = std::chrono::steady_clock::now();
    f();
    (*times)[name] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  using Base = CpuBackend<float>;
  void conv_forward(const ConvParams& p, Tensor<const float> x, const float* w, const float* b, Tensor<float> y) const {
    timed(p.kernel == 1 ? "conv 1x1 forward" : "conv 3x3x3 forward", [&] { Base::conv_forward(p, x, w, b, y); });
  }
  void conv_backward_data(const ConvParams& p, const float* w, Tensor<const float> dy, Tensor<float> dx, GradMode m) const {
    timed(p.kernel == 1 ? "conv 1x1 backward-data" : "conv 3x3x3 backward-data", [&] { Base::conv_backward_data(p, w, dy, dx, m); });
  }
  void conv_backward_weight(const ConvParams& p, Tensor<const float> x, Tensor<const float> dy, float* dw, float* db, GradMode m) const {
    timed(p.kernel == 1 ? "conv 1x1 backward-weight" : "conv 3x3x3 backward-weight",
          [&] { Base::conv_backward_weight(p, x, dy, dw, db, m); });
  }
  void batchnorm_statistics(Tensor<const float> x, float eps, float* mean, float* var, float* invstd,
                            const Collectives* ranks = nullptr) const {
    timed("batchnorm statistics", [&] { Base::batchnorm_statistics(x, eps, mean, var, invstd, ranks); });
  }
  void batchnorm_activation_forward(Tensor<const float> x, const BatchNormAffine<float>& bn, const ActivationSpec& a,
                                    Tensor<float> y) const {
    timed("batchnorm + activation", [&] { Base::batchnorm_activation_forward(x, bn, a, y); });
  }
  void batchnorm_activation_backward(NormMode mode, Tensor<const float> x, Tensor<const float> dy, const BatchNormAffine<float>& bn,
                                     const ActivationSpec& a, Tensor<float> dx, float* dgamma, float* dbeta, GradMode m,
                                     const Collectives* ranks = nullptr) const {
    timed("batchnorm + activation backward", [&] { Base::batchnorm_activation_backward(mode, x, dy, bn, a, dx, dgamma, dbeta, m, ranks); });
  }
};

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"blocks", "units", "growth", "batch", "patch", "steps", "precision", "json"}, {}, "bench_cpu_step");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const GeneratorConfig config = cpu_bench_model(args);
  const int batch = args.get_int("batch", 8), patch = args.get_int("patch", 16), steps = args.get_int("steps", 10);
  const std::string precision = args.get("precision", "fp32");
  if (precision != "fp32" && precision != "bf16") fail("--precision '" + precision + "': expected fp32 or bf16");
  const GeneratorLayout layout(config);
  if (precision == "bf16") require_cpu_fused(layout);
  const Shape5 shape{batch, 1, patch, patch, patch};
  OpTimes times;
  ProfiledCpuBackend be;
  be.times = &times;
  Generator<ProfiledCpuBackend> generator(layout, be, shape);
  Arena arena(layout.table(), MemoryKind::Host);
  const std::vector<float> init = initial_generator_parameters(layout, 0);
  std::copy(init.begin(), init.end(), arena.params());
  std::vector<float> lr(size_t(shape.numel())), hr(lr.size()), sr(lr.size()), dsr(lr.size());
  for (size_t i = 0; i < lr.size(); ++i) {
    const PhiloxWords w = philox_draw(1, 0, i);
    hr[i] = uniform_open01(w.v[0]);
    lr[i] = hr[i] + 0.1f * (uniform_open01(w.v[1]) - 0.5f);
  }
  const Tensor<const float> x(lr.data(), shape), target(hr.data(), shape);
  const AdamConfig adam;
  int64_t step = 0;
  CpuFusedContext fused_ctx;
  std::optional<FastGenerator<CpuFusedContext>> fused;
  if (precision == "bf16") fused.emplace(layout, fused_ctx, shape);
  Generator<CpuBackend<float>> statistics(layout, CpuBackend<float>{}, shape);  // the fused path's running statistics
  const double ms = precision == "bf16" ? time_cpu_ms(1, steps, [&] {
    fused->forward(arena.params(), x, Tensor<float>(sr.data(), shape), NormMode::Train, statistics);
    cpu::loss_backward<float>(LossKind::L1, Tensor<const float>(sr.data(), shape), target, 1.f, Tensor<float>(dsr.data(), shape),
                              GradMode::Overwrite);
    fused->backward(arena.params(), arena.grads(), x, Tensor<const float>(dsr.data(), shape));
    fused->update(adam_step(adam, ++step), arena.params(), arena.grads(), arena.adam_m(), arena.adam_v(), arena.size());
  }) : time_cpu_ms(1, steps, [&] {
    generator.forward(arena.params(), x, Tensor<float>(sr.data(), shape), NormMode::Train);
    be.timed("loss", [&] {
      cpu::loss_backward<float>(LossKind::L1, Tensor<const float>(sr.data(), shape), target, 1.f, Tensor<float>(dsr.data(), shape),
                                GradMode::Overwrite);
    });
    generator.backward(arena.params(), arena.grads(), x, Tensor<const float>(dsr.data(), shape), NormMode::Train);
    be.timed("adam", [&] { be.adam(adam_step(adam, ++step), arena.params(), arena.grads(), arena.adam_m(), arena.adam_v(), arena.size()); });
  });
  const double weights = double(layout.table().parameter_count() - 2 * layout.bn_channels());
  const double flops = 3.0 * 2.0 * weights * double(shape.numel());
  double total = 0;
  for (const auto& [name, t] : times) total += t;
  std::printf("CPU, %d threads, %s; model %s (%lld parameters); batch %d of %d^3; %s\n", cpu_threads(), cpu_isa_name(cpu_isa()).c_str(),
              config.describe().c_str(), (long long)layout.table().parameter_count(), batch, patch,
              precision == "bf16" ? ("bf16, fused CPU kernels, " + cpu_fused_kernels()).c_str() : "fp32 reference path");
  std::printf("median step %.1f ms, %.1f patches/s, %.1f GFLOP/s (3 x forward)\n\n", ms, batch / (ms / 1000), flops / (ms / 1000) / 1e9);
  nlohmann::json ops;
  for (const auto& [name, t] : times) {
    std::printf("  %-28s %5.1f%%\n", name.c_str(), 100 * t / total);
    ops[name] = t / total;
  }
  const std::string json_path = args.get("json");
  if (!json_path.empty())
    write_text_atomically(json_path, nlohmann::json{{"model", config.describe()}, {"threads", cpu_threads()}, {"isa", cpu_isa_name(cpu_isa())}, {"precision", precision},
                                                    {"batch", batch}, {"patch", patch}, {"median_ms", ms},
                                                    {"gflops", flops / (ms / 1000) / 1e9}, {"share", ops}}.dump(2) + "\n");
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_cpu_step", mdcsrn::bench::run, argc, argv); }
