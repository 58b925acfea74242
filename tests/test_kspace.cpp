#include <complex>

#include "kernels/kspace.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

// The definition in double: DFT, zero the frequencies outside the band, inverse DFT, magnitude.
std::vector<double> naive_truncation(const std::vector<float>& v, const std::array<int64_t, 3>& d, const KspaceTruncation& t) {
  const int64_t n = d[0] * d[1] * d[2];
  const double pi = 3.14159265358979323846;
  std::vector<std::complex<double>> spectrum(static_cast<size_t>(n));
  auto coords = [&](int64_t x) { return std::array<int64_t, 3>{x % d[0], x / d[0] % d[1], x / (d[0] * d[1])}; };
  for (int64_t f = 0; f < n; ++f) {
    const auto kf = coords(f);
    std::complex<double> sum = 0;
    for (int64_t x = 0; x < n; ++x) {
      const auto kx = coords(x);
      double phase = 0;
      for (int a = 0; a < 3; ++a) phase += double(kf[size_t(a)] * kx[size_t(a)]) / double(d[size_t(a)]);
      sum += double(v[size_t(x)]) * std::polar(1.0, -2 * pi * phase);
    }
    double w = 1;
    for (int a = 0; a < 3; ++a)
      if (t.truncate[size_t(a)])
        w *= kspace_axis_weight(kf[size_t(a)], d[size_t(a)], kept_frequencies(d[size_t(a)], t.scale), t.window);
    spectrum[size_t(f)] = sum * w;
  }
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t x = 0; x < n; ++x) {
    const auto kx = coords(x);
    std::complex<double> sum = 0;
    for (int64_t f = 0; f < n; ++f) {
      const auto kf = coords(f);
      double phase = 0;
      for (int a = 0; a < 3; ++a) phase += double(kf[size_t(a)] * kx[size_t(a)]) / double(d[size_t(a)]);
      sum += spectrum[size_t(f)] * std::polar(1.0, 2 * pi * phase);
    }
    out[size_t(x)] = std::abs(sum) / double(n);
  }
  return out;
}

TEST_SUITE("kspace") {
  TEST_CASE("the kept band is the central floor(n / scale) frequencies") {
    CHECK(kept_frequencies(320, 4) == 80);
    CHECK(kept_frequencies(370, 4) == 92);
    CHECK(kept_frequencies(3, 4) == 1);
    for (int64_t n : {320, 301, 16, 17}) {
      const int64_t kept = kept_frequencies(n, 4);
      int64_t nonzero = 0;
      for (int64_t i = 0; i < n; ++i) nonzero += kspace_axis_weight(i, n, kept, KspaceWindow::None) > 0;
      CHECK(nonzero == kept);
      CHECK(kspace_axis_weight(0, n, kept, KspaceWindow::Hamming) == 1.f);  // DC always passes whole
    }
    // 320 samples, 80 kept: frequencies -40 .. 39, i.e. indices 0..39 and 280..319.
    CHECK(kspace_axis_weight(39, 320, 80, KspaceWindow::None) == 1.f);
    CHECK(kspace_axis_weight(40, 320, 80, KspaceWindow::None) == 0.f);
    CHECK(kspace_axis_weight(280, 320, 80, KspaceWindow::None) == 1.f);
    CHECK(kspace_axis_weight(279, 320, 80, KspaceWindow::None) == 0.f);
  }

  TEST_CASE("FFTW truncation matches the DFT definition (odd and even sizes, windows)") {
    std::mt19937_64 rng(91);
    const std::array<int64_t, 3> dims{6, 5, 4};
    const std::vector<float> v = random_values<float>(120, rng);
    for (KspaceWindow w : {KspaceWindow::None, KspaceWindow::Hamming, KspaceWindow::Tukey}) {
      CAPTURE(std::string(kspace_window_name(w)));
      const KspaceTruncation t{2, {false, true, true}, w};
      std::vector<float> lr(v.size());
      cpu::kspace_truncate(v.data(), lr.data(), dims, t);
      CHECK(relative_error(convert<double>(lr), naive_truncation(v, dims, t)) < 1e-5);
    }
  }

  TEST_CASE("scale 1 keeps the image; low frequencies pass and high ones are removed") {
    const std::array<int64_t, 3> dims{16, 20, 24};
    std::vector<float> image(16 * 20 * 24), lr(image.size());
    std::mt19937_64 rng(92);
    std::uniform_real_distribution<float> u(0.1f, 1.f);
    for (float& x : image) x = u(rng);
    cpu::kspace_truncate(image.data(), lr.data(), dims, KspaceTruncation{1, {true, true, true}, KspaceWindow::None});
    CHECK(relative_error(convert<double>(lr), convert<double>(image)) < 1e-6);

    // 2 + cos(2 pi 2 j / 20) survives scale 4 along j (5 kept: -2..2); 2 + cos(2 pi 3 j / 20) loses its wave.
    const double pi = 3.14159265358979323846;
    for (int f : {2, 3}) {
      for (int64_t k = 0; k < 24; ++k)
        for (int64_t j = 0; j < 20; ++j)
          for (int64_t i = 0; i < 16; ++i) image[size_t(i + 16 * (j + 20 * k))] = float(2 + std::cos(2 * pi * f * double(j) / 20));
      cpu::kspace_truncate(image.data(), lr.data(), dims, KspaceTruncation{4, {false, true, false}, KspaceWindow::None});
      std::vector<double> expected(image.size());
      for (size_t x = 0; x < image.size(); ++x) expected[x] = f == 2 ? image[x] : 2.0;
      CHECK(relative_error(convert<double>(lr), expected) < 1e-6);
    }
  }

  TEST_CASE("unknown windows are rejected") {
    CHECK_THROWS_WITH_AS(parse_kspace_window("hann"), doctest::Contains("unknown k-space window 'hann'"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
