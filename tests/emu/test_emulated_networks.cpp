// Whole networks on the GPU backend under the SIMT emulator (the kernels of kernels/*.cu, with
// the CPU's fp32 convolutions in cuDNN's place) against the CPU backend in double: what CI can
// check of the GPU backend's orchestration, shared BatchNorm statistics included.
#include "tests/network_support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("emu_networks") {
  TEST_CASE("a generator step on the emulated GPU backend matches the CPU in double, train and eval") {
    // fp32 against double over a dozen layers and the batch statistics: bound 1e-4, as on a device.
    const GeneratorLayout L(GeneratorConfig{3, 3, 8, {Activation::Elu, 0.f}});
    const Shape5 shape{2, 1, 16, 16, 16};
    const GeneratorCase c = generator_case(L, shape, 21, 22);

    simt::Emulator emu;
    std::vector<float> grads(c.params.size(), NAN);
    HostTensor<float> out = c.x, dx = c.x, eval = c.x;
    Generator<EmulatedGpuBackend> g(L, EmulatedGpuBackend{&emu}, shape);
    g.forward(c.params.data(), c.x.in(), out.view, NormMode::Train);
    g.backward(c.params.data(), grads.data(), c.x.in(), c.dout.in(), NormMode::Train, &dx.view);
    g.forward(c.params.data(), c.x.in(), eval.view, NormMode::Eval);

    std::string worst_name;
    const double worst = worst_parameter_error(L.table(), grads, c.grads, worst_name);
    const double e_out = relative_error(gather(out), gather(c.out)), e_dx = relative_error(gather(dx), gather(c.dx));
    const double e_eval = relative_error(gather(eval), gather(c.eval));
    MESSAGE("output " << e_out << ", input gradient " << e_dx << ", worst parameter gradient " << worst << " (" << worst_name
                      << "), eval output " << e_eval);
    CHECK(e_out < 1e-4);
    CHECK(e_dx < 1e-4);
    CHECK(worst < 1e-4);
    CHECK(e_eval < 1e-4);
  }

  TEST_CASE("the brain-age regressor on the emulated GPU backend matches the CPU in double, train and eval") {
    const AgeRegressorLayout L(AgeRegressorConfig{8, 4, 2, {2, 2}});
    const Shape5 shape{2, 1, 16, 20, 16};
    const AgeCase c = age_case(L, shape, 51, 52);

    simt::Emulator emu;
    std::vector<float> grads(c.params.size(), NAN);
    HostTensor<float> out = c.dout, eval = c.dout;
    std::fill(out.storage.begin(), out.storage.end(), NAN);  // outputs must be written
    std::fill(eval.storage.begin(), eval.storage.end(), NAN);
    AgeRegressor<EmulatedGpuBackend> model(L, EmulatedGpuBackend{&emu}, shape);
    model.forward(c.params.data(), c.x.in(), out.view, NormMode::Train);
    model.backward(c.params.data(), grads.data(), c.x.in(), c.dout.in(), NormMode::Train);
    model.forward(c.params.data(), c.x.in(), eval.view, NormMode::Eval);

    std::string worst_name;
    const double worst = worst_age_gradient_error(L, grads, c.grads, worst_name);
    const double e_out = relative_error(gather(out), gather(c.out)), e_eval = relative_error(gather(eval), gather(c.eval));
    MESSAGE("output " << e_out << ", eval output " << e_eval << ", worst parameter gradient " << worst << " (" << worst_name << ")");
    CHECK(e_out < 1e-4);
    CHECK(e_eval < 1e-4);
    CHECK(worst < 1e-4);
  }

  TEST_CASE("the critic on the emulated GPU backend, and its gradient penalty, match the CPU in double") {
    CriticConfig config;
    config.patch = 16;
    config.widths = {8, 16, 32, 64};
    config.hidden = 128;
    const CriticLayout L(config);
    const CriticCase c = critic_case(L, 3, 31, 32);

    simt::Emulator emu;
    std::vector<float> grads(c.params.size(), NAN);
    HostTensor<float> scores = c.dscores, dx = c.x;
    Critic<EmulatedGpuBackend> critic(L, EmulatedGpuBackend{&emu}, 3);
    critic.forward(c.params.data(), c.x.in(), scores.view);
    critic.backward(c.params.data(), grads.data(), GradMode::Overwrite, c.x.in(), c.dscores.in(), &dx.view);

    std::string worst_name;
    const double worst = worst_parameter_error(L.table(), grads, c.grads, worst_name);
    const double e_scores = relative_error(gather(scores), gather(c.scores)), e_dx = relative_error(gather(dx), gather(c.dx));
    MESSAGE("scores " << e_scores << ", input gradient " << e_dx << ", worst parameter gradient " << worst << " (" << worst_name << ")");
    CHECK(e_scores < 1e-4);
    CHECK(e_dx < 1e-4);
    CHECK(worst < 1e-4);

    // The gradient penalty's parameter gradients (the double backward's kernels) at the same x.
    const CriticPenalty reference = critic_penalty(L, c);
    Critic<EmulatedGpuBackend> second(L, EmulatedGpuBackend{&emu}, 3, CriticDerivatives::Second);
    HostTensor<float> ones = c.dscores, g = c.x, g_grad = c.x;
    std::fill(ones.storage.begin(), ones.storage.end(), 1.f);
    std::vector<float> penalty_grads(c.params.size(), 0.f), penalty(1, NAN);
    second.forward(c.params.data(), c.x.in(), scores.view);
    second.backward(c.params.data(), nullptr, std::nullopt, c.x.in(), ones.in(), &g.view);
    gpu::gradient_penalty(emu, g.in(), float(kPenaltyWeight), 1.f, penalty.data(), g_grad.view);
    second.backward_of_input_gradient(c.params.data(), penalty_grads.data(), c.x.in(), ones.in(), g_grad.in());
    const double penalty_worst = worst_parameter_error(L.table(), penalty_grads, reference.grads, worst_name);
    MESSAGE("gradient penalty " << penalty[0] << " (double " << reference.value << "), worst parameter gradient " << penalty_worst << " ("
                                << worst_name << ")");
    CHECK(penalty[0] == doctest::Approx(reference.value).epsilon(1e-5));
    CHECK(penalty_worst < 1e-4);
  }
}

}  // namespace
}  // namespace mdcsrn::test
