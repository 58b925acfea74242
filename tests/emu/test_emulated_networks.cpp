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
    std::mt19937_64 rng(22);
    const std::vector<float> params = perturbed_generator_parameters(L, 21, rng);
    const Shape5 shape{2, 1, 16, 16, 16};
    HostTensor<float> x = HostTensor<float>::dense(shape), dout = x, out = x;
    fill_random(x, rng);
    fill_random(dout, rng);

    const std::vector<double> pd = convert<double>(params);
    HostTensor<double> xd = convert<double>(x), outd = xd, doutd = convert<double>(dout), dxd = xd, evald = xd;
    std::vector<double> gd(pd.size());
    Generator<CpuBackend<double>> reference(L, {}, shape);
    reference.forward(pd.data(), xd.in(), outd.view, NormMode::Train);
    reference.backward(pd.data(), gd.data(), xd.in(), doutd.in(), NormMode::Train, &dxd.view);
    reference.forward(pd.data(), xd.in(), evald.view, NormMode::Eval);

    simt::Emulator emu;
    std::vector<float> grads(params.size(), NAN);
    HostTensor<float> dx = x, eval = x;
    Generator<EmulatedGpuBackend> g(L, EmulatedGpuBackend{&emu}, shape);
    g.forward(params.data(), x.in(), out.view, NormMode::Train);
    g.backward(params.data(), grads.data(), x.in(), dout.in(), NormMode::Train, &dx.view);
    g.forward(params.data(), x.in(), eval.view, NormMode::Eval);

    std::string worst_name;
    const double worst = worst_parameter_error(L.table(), grads, gd, worst_name);
    const double e_out = relative_error(gather(out), gather(outd)), e_dx = relative_error(gather(dx), gather(dxd));
    const double e_eval = relative_error(gather(eval), gather(evald));
    MESSAGE("output " << e_out << ", input gradient " << e_dx << ", worst parameter gradient " << worst << " (" << worst_name
                      << "), eval output " << e_eval);
    CHECK(e_out < 1e-4);
    CHECK(e_dx < 1e-4);
    CHECK(worst < 1e-4);
    CHECK(e_eval < 1e-4);
  }

  TEST_CASE("the critic on the emulated GPU backend matches the CPU in double") {
    CriticConfig config;
    config.patch = 16;
    config.widths = {8, 16, 32, 64};
    config.hidden = 128;
    const CriticLayout L(config);
    std::mt19937_64 rng(32);
    const std::vector<float> params = perturbed_critic_parameters(L, 31, rng);
    HostTensor<float> x = HostTensor<float>::dense({3, 1, 16, 16, 16}), scores = HostTensor<float>::dense({3, 1, 1, 1, 1}), dscores = scores;
    fill_random(x, rng);
    fill_random(dscores, rng, 0.2);

    const std::vector<double> pd = convert<double>(params);
    HostTensor<double> xd = convert<double>(x), dxd = xd, scoresd = convert<double>(scores), dscoresd = convert<double>(dscores);
    std::vector<double> gd(pd.size());
    Critic<CpuBackend<double>> reference(L, {}, 3);
    reference.forward(pd.data(), xd.in(), scoresd.view);
    reference.backward(pd.data(), gd.data(), GradMode::Overwrite, xd.in(), dscoresd.in(), &dxd.view);

    simt::Emulator emu;
    std::vector<float> grads(params.size(), NAN);
    HostTensor<float> dx = x;
    Critic<EmulatedGpuBackend> critic(L, EmulatedGpuBackend{&emu}, 3);
    critic.forward(params.data(), x.in(), scores.view);
    critic.backward(params.data(), grads.data(), GradMode::Overwrite, x.in(), dscores.in(), &dx.view);

    std::string worst_name;
    const double worst = worst_parameter_error(L.table(), grads, gd, worst_name);
    const double e_scores = relative_error(gather(scores), gather(scoresd)), e_dx = relative_error(gather(dx), gather(dxd));
    MESSAGE("scores " << e_scores << ", input gradient " << e_dx << ", worst parameter gradient " << worst << " (" << worst_name << ")");
    CHECK(e_scores < 1e-4);
    CHECK(e_dx < 1e-4);
    CHECK(worst < 1e-4);
  }
}

}  // namespace
}  // namespace mdcsrn::test
