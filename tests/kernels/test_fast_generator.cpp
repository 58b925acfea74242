// The generator's fast forward (models/generator_fast.h) against the CPU reference in double, on
// the target of tests/kernels/target.h, and a training step whose backward is the reference
// generator's on the fast forward's features.
#include "models/generator_fast.h"
#include "tests/kernels/target.h"
#include "tests/network_support.h"

namespace mdcsrn::test {
namespace {

using TargetBackend = GpuBackendOn<TargetContext>;

// bf16 features and weights through a dozen layers and the batch statistics: measured 2.1e-3 to
// 3.0e-3 relative error in the outputs. The gradients (the reference backward at the bf16
// features): 2.9e-3 overall with ELU, 2.5e-2 with LeakyReLU, whose kink switches the slope of the
// pre-activations that bf16 moves across zero from 1 to 0.01; the worst single tensor, a
// BatchNorm bias (a sum that cancels), 6.1e-2. Bounds 2e-2, 5e-2 and 2e-1.
constexpr double kOutputTolerance = 2e-2, kGradientTolerance = 5e-2, kTensorGradientTolerance = 2e-1;

TEST_SUITE(MDCSRN_TARGET_SUITE("fast_generator")) {
  TEST_CASE("the fast path covers the paper's b4u4 and the authors' b4u5, not other growths") {
    CHECK(fast_path_unsupported(GeneratorLayout(GeneratorConfig::paper())) == "");
    CHECK(fast_path_unsupported(GeneratorLayout(GeneratorConfig::authors_code())) == "");
    CHECK(fast_path_unsupported(GeneratorLayout(GeneratorConfig{2, 2, 8, {Activation::Elu, 0.f}})) == "growth 8 (the fast units produce 16 channels)");
  }

  TEST_CASE("the fast forward and a step with the reference backward match the CPU in double") {
    for (const GeneratorConfig& config : {GeneratorConfig{2, 2, 16, {Activation::Elu, 0.f}}, GeneratorConfig{2, 3, 16, {Activation::LeakyRelu, 0.01f}}}) {
      CAPTURE(config.describe());
      const GeneratorLayout L(config);
      REQUIRE(fast_path_unsupported(L) == "");
      const Shape5 shape{2, 1, 10, 12, 16};  // depth 10: the last 4-deep tile is half outside
      const GeneratorCase c = generator_case(L, shape, 24, 23);
      const std::vector<float>& params = c.params;
      const HostTensor<float> &x = c.x, &dout = c.dout;
      HostTensor<float> out = c.x;

      TargetContext ctx;
      Buffer<float> p = target_copy(params), g = poisoned(int64_t(params.size()));
      TargetTensor xt(x), outt(out), doutt(dout), evalt(out);
      Generator<TargetBackend> backward_path(L, TargetBackend{&ctx}, shape);
      FastForward<TargetContext> fast(L, ctx, shape);
      fast.forward(p.data(), xt.in(), outt.view, NormMode::Train, backward_path);
      backward_path.backward(p.data(), g.data(), xt.in(), doutt.in(), NormMode::Train);
      ctx.synchronize();
      const std::vector<float> running_fast = [&] {
        std::vector<float> r(size_t(2 * L.bn_channels()));
        raw_copy(MemoryKind::Host, r.data(), kTargetMemory, backward_path.running_stats(), r.size() * sizeof(float));
        return r;
      }();
      fast.forward(p.data(), xt.in(), evalt.view, NormMode::Eval, backward_path);
      ctx.synchronize();

      std::string worst_name;
      const double e_out = relative_error(gather(outt.download(out)), gather(c.out));
      const double e_eval = relative_error(gather(evalt.download(out)), gather(c.eval));
      const double e_running = relative_error(convert<double>(running_fast), c.running);
      const std::vector<float> grads = g.download();
      const double worst = worst_parameter_error(L.table(), grads, c.grads, worst_name);
      const double e_grads = relative_error(convert<double>(grads), c.grads);
      MESSAGE(config.describe() << ": output " << e_out << ", eval output " << e_eval << ", running statistics " << e_running
                                << ", gradients " << e_grads << ", worst tensor " << worst << " (" << worst_name << ")");
      CHECK(e_out < kOutputTolerance);
      CHECK(e_eval < kOutputTolerance);
      CHECK(e_running < kOutputTolerance);
      CHECK(e_grads < kGradientTolerance);
      CHECK(worst < kTensorGradientTolerance);

      // The fused update: Adam's results as the plain kernel's, and bf16 weights for the next
      // forward exactly as the forward's own packing makes them (the second forward repacks).
      const int64_t count = L.table().padded_size();
      Buffer<float> p_plain = target_copy(params), m = target_copy(std::vector<float>(size_t(count), 0.f)), v = target_copy(std::vector<float>(size_t(count), 0.f));
      Buffer<float> m_plain = target_copy(std::vector<float>(size_t(count), 0.f)), v_plain = target_copy(std::vector<float>(size_t(count), 0.f));
      const AdamStep step = adam_step(AdamConfig{}, 1);
      gpu::adam(ctx, step, p_plain.data(), g.data(), m_plain.data(), v_plain.data(), count);
      fast.update(step, p.data(), g.data(), m.data(), v.data(), count);
      HostTensor<float> after_update = out, repacked = out;
      TargetTensor a(after_update), r(repacked);
      fast.forward(p.data(), xt.in(), a.view, NormMode::Eval, backward_path);
      fast.forward(p.data(), xt.in(), r.view, NormMode::Eval, backward_path);
      ctx.synchronize();
      // The same formula in two kernels; nvcc may fuse their multiply-adds differently: a few ulps.
      CHECK(relative_error(convert<double>(p.download()), convert<double>(p_plain.download())) < 1e-6);
      CHECK(relative_error(convert<double>(m.download()), convert<double>(m_plain.download())) < 1e-6);
      CHECK(gather(a.download(after_update)) == gather(r.download(repacked)));
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
