#include "io/manifest.h"
#include "io/patch_dataset.h"
#include "models/critic.h"
#include "models/wgan_step.h"
#include "tests/gpu/gpu_support.h"
#include "tests/io_support.h"
#include "tests/network_support.h"

namespace mdcsrn::test {
namespace {

// The default-width critic on 16^3 patches, forward and backward, and its gradient penalty's
// parameter gradients, GPU against CPU double from the same weights. fp32: eleven layers and LayerNorms over up to 32k elements, bound 1e-4. TF32 rounds
// the convolutions' inputs to 11 significant bits (4.9e-4) and every LayerNorm's backward subtracts
// its means, which cancel: on an H200 the input gradient and the first conv's bias gradient came
// within 5.0e-2 and 5.8e-2 (2026-12-04), bound 0.1; a wrong layout or algorithm errs by ~1.
void compare_critic(bool tf32, double tolerance) {
  CAPTURE(tf32);
  CriticConfig config;
  config.patch = 16;
  const CriticLayout L(config);
  const CriticCase c = critic_case(L, 3, 31, 32);

  CudaContext ctx;
  ctx.set_tf32(tf32);
  Buffer<float> p_dev = device_copy(c.params), g_dev(MemoryKind::Device, int64_t(c.params.size()));
  DeviceTensor x_dev(c.x), dx_dev(c.x), scores_dev(c.dscores), dscores_dev(c.dscores);
  Critic<GpuBackend> critic(L, GpuBackend{&ctx}, 3);
  critic.forward(p_dev.data(), x_dev.in(), scores_dev.view);
  critic.backward(p_dev.data(), g_dev.data(), GradMode::Overwrite, x_dev.in(), dscores_dev.in(), &dx_dev.view);
  ctx.synchronize();

  std::string worst_name;
  const double e_scores = relative_error(gather(scores_dev.download(c.dscores)), gather(c.scores));
  const double e_dx = relative_error(gather(dx_dev.download(c.x)), gather(c.dx));
  const double worst = worst_parameter_error(L.table(), g_dev.download(), c.grads, worst_name);
  MESSAGE((tf32 ? "TF32" : "fp32") << ": scores " << e_scores << ", input gradient " << e_dx << ", worst parameter gradient " << worst << " ("
                                   << worst_name << ")");
  CHECK(e_scores < tolerance);
  CHECK(e_dx < tolerance);
  CHECK(worst < tolerance);

  // The gradient penalty's parameter gradients at the same x (cuDNN's convolutions in its double
  // backward, the new LayerNorm and penalty kernels).
  const CriticPenalty reference = critic_penalty(L, c);
  Critic<GpuBackend> second(L, GpuBackend{&ctx}, 3, CriticDerivatives::Second);
  HostTensor<float> ones = c.dscores;
  std::fill(ones.storage.begin(), ones.storage.end(), 1.f);
  DeviceTensor ones_dev(ones), input_grad_dev(c.x), g_grad_dev(c.x);
  Buffer<float> penalty_grads = device_copy(std::vector<float>(c.params.size(), 0.f)), penalty(MemoryKind::Device, 1);
  second.forward(p_dev.data(), x_dev.in(), scores_dev.view);
  second.backward(p_dev.data(), nullptr, std::nullopt, x_dev.in(), ones_dev.in(), &input_grad_dev.view);
  gpu::gradient_penalty(ctx, input_grad_dev.in(), float(kPenaltyWeight), 1.f, penalty.data(), g_grad_dev.view);
  second.backward_of_input_gradient(p_dev.data(), penalty_grads.data(), x_dev.in(), ones_dev.in(), g_grad_dev.in());
  ctx.synchronize();
  const double penalty_worst = worst_parameter_error(L.table(), penalty_grads.download(), reference.grads, worst_name);
  const double penalty_error = std::fabs(double(penalty.download()[0]) - reference.value) / reference.value;
  MESSAGE((tf32 ? "TF32" : "fp32") << ": gradient penalty " << penalty_error << " off, worst parameter gradient " << penalty_worst << " ("
                                   << worst_name << ")");
  CHECK(penalty_error < tolerance);
  CHECK(penalty_worst < tolerance);
}

// One combined WGAN batch (critic step, then a generator step through the updated critic) on the
// GPU and on the CPU in float, from the same weights and the same sampled batch; the gradients the
// updates used are compared. The adversarial weight is raised to 10 and the clip to 1 so that the
// critic's share of the generator gradient is not lost under the L1 term's.
struct WganBatch {
  std::vector<float> generator_grads, critic_grads;
  WganStats stats;
};

template <class Backend>
WganBatch run_wgan_batch(Backend be, CudaContext* ctx, const std::string& manifest, const GeneratorLayout& gl, const CriticLayout& cl) {
  const MemoryKind kind = Backend::memory;
  SamplerConfig sampler;
  sampler.mode = SamplingMode::Balanced;
  sampler.patch = 16;
  const PatchDataset data(load_split(Manifest::load(manifest), "train", false), sampler, kind);
  GeneratorStep<Backend> generator(gl, be, ctx, 4, 16, LossKind::L1);
  WganStep<Backend> wgan(cl, be, generator, 10.f, CriticConstraint{Lipschitz::Clip, 1.f}, 0);
  const std::vector<float> gp = initial_generator_parameters(gl, 41), cp = initial_critic_parameters(cl, 42);
  raw_copy(kind, generator.arena().params(), MemoryKind::Host, gp.data(), gp.size() * sizeof(float));
  raw_copy(kind, wgan.arena().params(), MemoryKind::Host, cp.data(), cp.size() * sizeof(float));
  wgan.run(data, 0, AdamConfig{}, AdamConfig{}, 1, 1);
  WganBatch out;
  out.stats = wgan.stats();
  out.generator_grads.resize(size_t(generator.arena().size()));
  out.critic_grads.resize(size_t(wgan.arena().size()));
  raw_copy(MemoryKind::Host, out.generator_grads.data(), kind, generator.arena().grads(), out.generator_grads.size() * sizeof(float));
  raw_copy(MemoryKind::Host, out.critic_grads.data(), kind, wgan.arena().grads(), out.critic_grads.size() * sizeof(float));
  return out;
}

TEST_SUITE("gpu_critic") {
  TEST_CASE("the critic on the GPU matches the CPU reference, fp32") { compare_critic(false, 1e-4); }
  TEST_CASE("the critic on the GPU matches the CPU reference, TF32") { compare_critic(true, 0.1); }

  TEST_CASE("a combined WGAN batch on the GPU matches the CPU, fp32") {
    // Both sides in float; the CPU is not a higher-precision reference here, so the bound (1e-3)
    // covers two fp32 summation orders through both networks and the critic's update.
    TempDir dir("gpu-wgan");
    const std::string manifest = make_phantom_dataset(dir, 64, 56, 48);
    const GeneratorLayout gl(GeneratorConfig{2, 2, 8, {Activation::Elu, 0.f}});
    CriticConfig cc;
    cc.patch = 16;
    cc.widths = {16, 32, 32, 64};
    cc.hidden = 64;
    const CriticLayout cl(cc);
    CudaContext ctx;
    const auto gpu = run_wgan_batch(GpuBackend{&ctx}, &ctx, manifest, gl, cl);
    const auto cpu = run_wgan_batch(CpuBackend<float>{}, nullptr, manifest, gl, cl);
    std::string g_name, c_name;
    const double g_err = worst_parameter_error(gl.table(), gpu.generator_grads, convert<double>(cpu.generator_grads), g_name);
    const double c_err = worst_parameter_error(cl.table(), gpu.critic_grads, convert<double>(cpu.critic_grads), c_name);
    MESSAGE("critic loss GPU " << gpu.stats.critic_loss << ", CPU " << cpu.stats.critic_loss << "; adversarial term GPU " << gpu.stats.adversarial
                               << ", CPU " << cpu.stats.adversarial << "; worst generator gradient " << g_err << " (" << g_name
                               << "), worst critic gradient " << c_err << " (" << c_name << ")");
    CHECK(std::fabs(gpu.stats.critic_loss - cpu.stats.critic_loss) <= 1e-3 * std::fabs(cpu.stats.critic_loss) + 1e-7);
    CHECK(std::fabs(gpu.stats.adversarial - cpu.stats.adversarial) <= 1e-3 * std::fabs(cpu.stats.adversarial) + 1e-7);
    CHECK(g_err < 1e-3);
    CHECK(c_err < 1e-3);
  }
}

}  // namespace
}  // namespace mdcsrn::test
