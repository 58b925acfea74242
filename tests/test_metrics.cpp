#include "kernels/metrics.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

// SSIM at one voxel from its definition: windowed means, variances and covariance with reflecting
// borders, written without separable filters.
double naive_ssim(const std::vector<float>& x, const std::vector<float>& y, const std::array<int64_t, 3>& d, int64_t i, int64_t j, int64_t k) {
  auto reflect = [](int64_t t, int64_t n) {
    while (t < 0 || t >= n) t = t < 0 ? -t - 1 : 2 * n - t - 1;
    return t;
  };
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (int64_t c = -3; c <= 3; ++c)
    for (int64_t b = -3; b <= 3; ++b)
      for (int64_t a = -3; a <= 3; ++a) {
        const size_t v = size_t(reflect(i + a, d[0]) + d[0] * (reflect(j + b, d[1]) + d[1] * reflect(k + c, d[2])));
        sx += x[v], sy += y[v], sxx += double(x[v]) * x[v], syy += double(y[v]) * y[v], sxy += double(x[v]) * y[v];
      }
  const double n = 343, ux = sx / n, uy = sy / n;
  const double vx = (sxx / n - ux * ux) * n / (n - 1), vy = (syy / n - uy * uy) * n / (n - 1), vxy = (sxy / n - ux * uy) * n / (n - 1);
  const double c1 = 1e-4, c2 = 9e-4;
  return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
}

TEST_SUITE("metrics") {
  TEST_CASE("the SSIM map matches its definition, borders included") {
    std::mt19937_64 rng(111);
    const std::array<int64_t, 3> d{9, 8, 10};
    const std::vector<float> x = random_values<float>(720, rng), y = random_values<float>(720, rng);
    std::vector<float> z(x);
    for (size_t v = 0; v < z.size(); ++v) z[v] = 0.8f * x[v] + 0.2f * y[v];
    const std::vector<double> s = ssim_map(x, z, d, 1.0, SsimWindow::Uniform7);
    for (const std::array<int64_t, 3> p : {std::array<int64_t, 3>{0, 0, 0}, {4, 3, 5}, {8, 7, 9}, {1, 6, 2}})
      CHECK(s[size_t(p[0] + 9 * (p[1] + 8 * p[2]))] == doctest::Approx(naive_ssim(x, z, d, p[0], p[1], p[2])).epsilon(1e-12));
  }

  TEST_CASE("identical volumes: SSIM 1, NRMSE 0, PSNR infinite; region metrics use the mask") {
    std::mt19937_64 rng(112);
    const std::array<int64_t, 3> d{12, 12, 12};
    std::vector<float> x = random_values<float>(1728, rng), y(x);
    const std::vector<double> s = ssim_map(x, x, d, 1.0, SsimWindow::Gaussian);
    const RegionMetrics same = region_metrics(x, x, s, d, nullptr, 1.0, SsimWindow::Gaussian);
    CHECK(same.ssim == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(same.nrmse == 0.0);
    CHECK(std::isinf(same.psnr));
    // An error of 0.1 on masked voxels only: PSNR 20 dB over the mask, infinite outside it.
    std::vector<uint8_t> mask(1728), outside(1728);
    for (size_t v = 0; v < mask.size(); ++v) {
      mask[v] = v % 3 == 0;
      outside[v] = !mask[v];
      if (mask[v]) y[v] += 0.1f;
    }
    const std::vector<double> s2 = ssim_map(x, y, d, 1.0, SsimWindow::Uniform7);
    CHECK(region_metrics(x, y, s2, d, mask.data(), 1.0, SsimWindow::Uniform7).psnr == doctest::Approx(20.0).epsilon(1e-5));
    CHECK(std::isinf(region_metrics(x, y, s2, d, outside.data(), 1.0, SsimWindow::Uniform7).psnr));
    CHECK(region_metrics(x, y, s2, d, mask.data(), 1.0, SsimWindow::Uniform7).voxels == 576);
  }

  TEST_CASE("HF energy: 1 for HR itself, and a spike blurred along one axis by hand") {
    // HR: one voxel of 1 at the centre of 5^3; its Laplacian is -6 there and 1 at its 6
    // neighbours: energy 42. X: that spike spread over three voxels along i (1/3 each); its
    // Laplacian: -4/3 at the centre, -5/3 at the two others, 2/3 at i = 0 and 4 (a face: the
    // missing neighbour mirrors the one inside), 1/3 at the 12 side neighbours: energy 86/9.
    const std::array<int64_t, 3> d{5, 5, 5};
    std::vector<float> hr(125, 0.f), x(125, 0.f);
    const auto at = [](int64_t i, int64_t j, int64_t k) { return size_t(i + 5 * (j + 5 * k)); };
    hr[at(2, 2, 2)] = 1.f;
    for (int64_t i = 1; i <= 3; ++i) x[at(i, 2, 2)] = 1.f / 3;
    const std::vector<double> s = ssim_map(hr, x, d, 1.0, SsimWindow::Uniform7);
    CHECK(region_metrics(hr, x, s, d, nullptr, 1.0, SsimWindow::Uniform7).hf_energy == doctest::Approx(86.0 / 9 / 42).epsilon(1e-6));
    CHECK(region_metrics(hr, hr, ssim_map(hr, hr, d, 1.0, SsimWindow::Uniform7), d, nullptr, 1.0, SsimWindow::Uniform7).hf_energy == 1.0);
    // Over a mask: only its voxels' Laplacians count (the centre alone: (4/3)^2 / 6^2).
    std::vector<uint8_t> centre(125, 0);
    centre[at(2, 2, 2)] = 1;
    CHECK(region_metrics(hr, x, s, d, centre.data(), 1.0, SsimWindow::Uniform7).hf_energy == doctest::Approx(16.0 / 9 / 36).epsilon(1e-6));
  }

  TEST_CASE("paired t-test p-values match scipy.stats.ttest_rel") {
    // Reference values: scipy 1.17.1, ttest_rel(a, b).pvalue.
    CHECK(paired_t_test({1, 2, 3, 4, 5}, {1.1, 2.3, 2.9, 4.5, 5.2}) == doctest::Approx(0.11611652351681556).epsilon(1e-10));
    CHECK(paired_t_test({34.2, 33.9, 34.8, 35.1, 34.0, 33.7}, {34.1, 34.2, 34.9, 35.5, 34.4, 33.9}) ==
          doctest::Approx(0.041056337480219134).epsilon(1e-10));
    CHECK(std::isnan(paired_t_test({1.0}, {2.0})));
    CHECK(std::isnan(paired_t_test({1, 2, 3}, {2, 3, 4})));  // constant difference: undefined
  }
}

}  // namespace
}  // namespace mdcsrn::test
