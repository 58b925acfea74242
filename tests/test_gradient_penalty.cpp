#include "kernels/gradient_penalty.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("gradient_penalty") {
  TEST_CASE("interpolates mix each sample by its own weight in (0, 1), the same however the batch is split") {
    std::mt19937_64 rng(51);
    const Shape5 s{4, 1, 4, 4, 4};
    HostTensor<double> fake = HostTensor<double>::dense(s), real = fake, out = fake;
    fill_random(fake, rng);
    fill_random(real, rng);
    cpu::penalty_interpolates<double>(9, 100, fake.in(), real.in(), out.view);
    std::vector<double> mixes;
    for (int64_t n = 0; n < s.n; ++n) {
      const double e = penalty_mix(9, 100 + n);
      CHECK(e > 0);
      CHECK(e < 1);
      mixes.push_back(e);
      for (int64_t i = 0; i < s.spatial(); ++i)
        CHECK(out.view.plane(n, 0)[i] == doctest::Approx(e * real.view.plane(n, 0)[i] + (1 - e) * fake.view.plane(n, 0)[i]).epsilon(1e-15));
    }
    std::sort(mixes.begin(), mixes.end());
    CHECK(std::adjacent_find(mixes.begin(), mixes.end()) == mixes.end());  // distinct per sample
    // Samples 102 and 103 as the first two of a second rank's half-batch: the same values.
    HostTensor<double> half = HostTensor<double>::dense({2, 1, 4, 4, 4}), half_fake = half, half_real = half;
    std::copy_n(fake.storage.begin() + 2 * s.spatial(), 2 * s.spatial(), half_fake.storage.begin());
    std::copy_n(real.storage.begin() + 2 * s.spatial(), 2 * s.spatial(), half_real.storage.begin());
    cpu::penalty_interpolates<double>(9, 102, half_fake.in(), half_real.in(), half.view);
    CHECK(std::equal(half.storage.begin(), half.storage.end(), out.storage.begin() + 2 * s.spatial()));
    CHECK(penalty_mix(10, 100) != penalty_mix(9, 100));  // and the seed's own
  }

  TEST_CASE("the penalty is lambda * mean (||g|| - 1)^2, and its gradient matches finite differences (double)") {
    std::mt19937_64 rng(52);
    const Shape5 s{3, 1, 3, 4, 5};
    HostTensor<double> g = HostTensor<double>::dense(s), g_grad = g;
    fill_random(g, rng);
    for (double& v : g.storage) v *= 0.4;  // norms near 1 on both sides
    const double lambda = 10, share = 0.5;
    double penalty = 0;
    cpu::gradient_penalty<double>(g.in(), lambda, share, &penalty, g_grad.view);
    double plain = 0;
    for (int64_t n = 0; n < s.n; ++n) {
      double squares = 0;
      for (int64_t i = 0; i < s.spatial(); ++i) squares += g.view.plane(n, 0)[i] * g.view.plane(n, 0)[i];
      plain += lambda / double(s.n) * (std::sqrt(squares) - 1) * (std::sqrt(squares) - 1);
    }
    CHECK(penalty == doctest::Approx(plain).epsilon(1e-14));
    // The gradient is of this process's share of the global mean: share * penalty.
    HostTensor<double> scratch = g;
    auto loss = [&] {
      double p = 0;
      cpu::gradient_penalty<double>(g.in(), lambda, share, &p, scratch.view);
      return share * p;
    };
    check_finite_differences("g", g.storage, view_offsets(g), g_grad.storage, loss, FdOptions{60, 1e-6, 1e-6, 1e-9});
    // A zero gradient has a zero penalty gradient (not NaN).
    std::fill(g.storage.begin(), g.storage.begin() + s.spatial(), 0.0);
    cpu::gradient_penalty<double>(g.in(), lambda, share, &penalty, g_grad.view);
    CHECK(std::all_of(g_grad.storage.begin(), g_grad.storage.begin() + s.spatial(), [](double v) { return v == 0; }));
  }
}

}  // namespace
}  // namespace mdcsrn::test
