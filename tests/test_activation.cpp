#include "kernels/activation.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

const ActivationSpec kSpecs[] = {{Activation::Elu, 0.f}, {Activation::LeakyRelu, 0.01f}, {Activation::LeakyRelu, 0.2f}, {Activation::Relu, 0.f}};

TEST_SUITE("activation") {
  TEST_CASE("forward values") {
    for (const ActivationSpec& a : kSpecs) {
      const double neg = a.kind == Activation::Elu ? std::expm1(-1.5) : a.kind == Activation::Relu ? 0.0 : -1.5 * double(a.slope);
      CHECK(activation_forward(a, -1.5) == doctest::Approx(neg).epsilon(1e-15));
      CHECK(activation_forward(a, 0.75) == 0.75);
    }
  }

  TEST_CASE("gradients match finite differences (double)") {
    // Inputs keep |x| >= 1e-3, a thousand steps away from the (Leaky)ReLU's kink; the smooth parts leave
    // a truncation error ~ step^2 = 1e-12, and rounding a loss of size ~10 over the 2e-6 step
    // leaves ~1e-9: so 1e-6 relative + 1e-8 absolute.
    const FdOptions fd{40, 1e-6, 1e-6, 1e-8};
    for (const ActivationSpec& a : kSpecs) {
      CAPTURE(int(a.kind));
      CAPTURE(a.slope);
      std::mt19937_64 rng(11);
      const Shape5 s{2, 3, 3, 4, 5};
      HostTensor<double> x = HostTensor<double>::slice(s, 5, 1), y = HostTensor<double>::dense(s);
      HostTensor<double> dy = HostTensor<double>::dense(s), dx = HostTensor<double>::slice(s, 5, 1);
      fill_random(x, rng, 1e-3, 2.0);
      fill_random(dy, rng);
      const std::vector<double> r = gather(dy);
      auto loss = [&] {
        cpu::activation_forward<double>(a, x.in(), y.view);
        return weighted_sum(gather(y), r);
      };
      cpu::activation_backward<double>(a, x.in(), dy.in(), dx.view, GradMode::Overwrite);
      check_finite_differences("dx", x.storage, view_offsets(x), dx.storage, loss, fd);

      // Accumulate adds onto what is there.
      HostTensor<double> acc = dx;
      cpu::activation_backward<double>(a, x.in(), dy.in(), acc.view, GradMode::Accumulate);
      for (int64_t i : view_offsets(dx)) CHECK(acc.storage[size_t(i)] == doctest::Approx(2 * dx.storage[size_t(i)]));
    }
  }

  TEST_CASE("the vectorisable float expm1 is within a few ulps of expm1 in double") {
    double worst = 0;
    for (int i = 0; i <= 400000; ++i) {
      const float x = -20.f * float(i) / 400000.f;
      const double exact = std::expm1(double(x));
      const double error = std::fabs(double(cpu::expm1_nonpositive(x)) - exact) / std::max(std::fabs(exact), 1e-30);
      worst = std::max(worst, error);
    }
    CAPTURE(worst);
    CHECK(worst < 3e-7);  // float's unit roundoff is 6e-8: about 4 ulps
    CHECK(cpu::expm1_nonpositive(0.f) == 0.f);
    CHECK(cpu::expm1_nonpositive(-1e-6f) == doctest::Approx(std::expm1(-1e-6)).epsilon(1e-6));
  }

  TEST_CASE("fp32 matches double") {
    for (const ActivationSpec& a : kSpecs) {
      std::mt19937_64 rng(12);
      const Shape5 s{2, 2, 4, 3, 5};
      HostTensor<double> x = HostTensor<double>::dense(s), y = x, dy = x, dx = x;
      fill_random(x, rng, 0.0, 3.0);
      fill_random(dy, rng);
      HostTensor<float> xf = convert<float>(x), yf = xf, dyf = convert<float>(dy), dxf = xf;
      cpu::activation_forward<double>(a, x.in(), y.view);
      cpu::activation_forward<float>(a, xf.in(), yf.view);
      cpu::activation_backward<double>(a, x.in(), dy.in(), dx.view, GradMode::Overwrite);
      cpu::activation_backward<float>(a, xf.in(), dyf.in(), dxf.view, GradMode::Overwrite);
      CHECK(relative_error(gather(yf), gather(y)) < 1e-6);
      CHECK(relative_error(gather(dxf), gather(dx)) < 1e-6);
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
