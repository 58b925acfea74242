#include "kernels/optimizer.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("optimizer") {
  TEST_CASE("Adam follows the bias-corrected update over several steps") {
    std::mt19937_64 rng(61);
    const int64_t count = 257;
    const AdamConfig config{2e-3f, 0.9f, 0.999f, 1e-8f};
    std::vector<float> p = random_values<float>(count, rng), m(static_cast<size_t>(count)), v(static_cast<size_t>(count));
    // Textbook Adam in double: mhat = m / (1 - b1^t), vhat = v / (1 - b2^t), p -= lr mhat / (sqrt(vhat) + eps).
    std::vector<double> pr = convert<double>(p), mr(static_cast<size_t>(count)), vr(static_cast<size_t>(count));
    for (int t = 1; t <= 6; ++t) {
      const std::vector<float> g = random_values<float>(count, rng, 0.0, 0.1);
      cpu::adam(adam_step(config, t), p.data(), g.data(), m.data(), v.data(), count);
      for (size_t i = 0; i < size_t(count); ++i) {
        mr[i] = 0.9 * mr[i] + 0.1 * g[i];
        vr[i] = 0.999 * vr[i] + 0.001 * double(g[i]) * g[i];
        const double mhat = mr[i] / (1 - std::pow(0.9, t)), vhat = vr[i] / (1 - std::pow(0.999, t));
        pr[i] -= 2e-3 * mhat / (std::sqrt(vhat) + 1e-8);
      }
    }
    for (size_t i = 0; i < size_t(count); ++i) CHECK(double(p[i]) == doctest::Approx(pr[i]).epsilon(1e-6));
  }

  TEST_CASE("Adam's first step moves every parameter by about lr against its gradient") {
    std::vector<double> p = {0.5, -0.25, 1.0}, g = {3.0, -0.01, 1e-3}, m(3), v(3);
    cpu::adam(adam_step(AdamConfig{1e-3f, 0.9f, 0.999f, 1e-8f}, 1), p.data(), g.data(), m.data(), v.data(), 3);
    CHECK(p[0] == doctest::Approx(0.5 - 1e-3).epsilon(1e-6));
    CHECK(p[1] == doctest::Approx(-0.25 + 1e-3).epsilon(1e-6));
    CHECK(p[2] == doctest::Approx(1.0 - 1e-3).epsilon(1e-5));
  }

  TEST_CASE("clipping bounds every weight and leaves the others alone") {
    std::mt19937_64 rng(62);
    std::vector<float> p = random_values<float>(1000, rng, 0.0, 0.05);
    const std::vector<float> before = p;
    cpu::clip(p.data(), int64_t(p.size()), 0.01f);
    int clipped = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      REQUIRE(std::fabs(p[i]) <= 0.01f);
      if (std::fabs(before[i]) <= 0.01f) {
        CHECK(p[i] == before[i]);
      } else {
        ++clipped;
        CHECK(p[i] == std::copysign(0.01f, before[i]));
      }
    }
    CHECK(clipped > 500);  // the data really exercised the bound
  }
}

}  // namespace
}  // namespace mdcsrn::test
