#include <cmath>

#include "kernels/window_pooling.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

const PoolWindow kMaxWindow{3, 2, 1};  // the DenseNet stem's
const PoolWindow kAvgWindow{2, 2, 0};  // its transitions'

// The definitions, written independently of the per-voxel window arithmetic: every window tap
// visited through signed coordinates, padding skipped (max) or counted as zero (average).
double naive_pool(bool max, const PoolWindow& w, const HostTensor<double>& x, int64_t n, int64_t c, int64_t od, int64_t oh, int64_t ow) {
  double best = -INFINITY, sum = 0;
  for (int kd = 0; kd < w.kernel; ++kd)
    for (int kh = 0; kh < w.kernel; ++kh)
      for (int kw = 0; kw < w.kernel; ++kw) {
        const int64_t d = od * w.stride - w.padding + kd, h = oh * w.stride - w.padding + kh, v = ow * w.stride - w.padding + kw;
        if (d < 0 || h < 0 || v < 0 || d >= x.view.shape.d || h >= x.view.shape.h || v >= x.view.shape.w) continue;
        best = std::max(best, x.view.at(n, c, d, h, v));
        sum += x.view.at(n, c, d, h, v);
      }
  return max ? best : sum / std::pow(w.kernel, 3);
}

struct PoolData {
  HostTensor<double> x, y, dy, dx;
  std::vector<int32_t> winners;
};

// x dense, y a channel slice of a wider buffer (as pooling writes into a dense block's features).
PoolData make_data(const PoolWindow& w, const Shape5& xs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Shape5 ys = pool_output_shape(xs, w);
  PoolData p{HostTensor<double>::dense(xs), HostTensor<double>::slice(ys, ys.c + 3, 2), HostTensor<double>::dense(ys),
             HostTensor<double>::dense(xs), std::vector<int32_t>(size_t(ys.numel()), -7)};
  fill_random(p.x, rng);
  fill_random(p.y, rng);
  fill_random(p.dy, rng);
  return p;
}

TEST_SUITE("window_pooling") {
  TEST_CASE("forward is the definition; only the output's channels are written") {
    for (const bool max : {true, false})
      for (const Shape5& xs : {Shape5{2, 3, 7, 6, 5}, Shape5{1, 2, 8, 8, 8}}) {
        CAPTURE(max);
        CAPTURE(xs.str());
        const PoolWindow w = max ? kMaxWindow : kAvgWindow;
        PoolData p = make_data(w, xs, 1);
        const std::vector<double> before = p.y.storage;
        if (max)
          cpu::max_pool_forward<double>(w, p.x.in(), p.y.view, p.winners.data());
        else
          cpu::avg_pool_forward<double>(w, p.x.in(), p.y.view);
        const Shape5& s = p.y.view.shape;
        double worst = 0;
        for (int64_t n = 0; n < s.n; ++n)
          for (int64_t c = 0; c < s.c; ++c)
            for (int64_t d = 0; d < s.d; ++d)
              for (int64_t h = 0; h < s.h; ++h)
                for (int64_t v = 0; v < s.w; ++v) worst = std::max(worst, std::fabs(p.y.view.at(n, c, d, h, v) - naive_pool(max, w, p.x, n, c, d, h, v)));
        CHECK(worst < 1e-15);
        std::vector<bool> inside(p.y.storage.size());
        for (int64_t i : view_offsets(p.y)) inside[size_t(i)] = true;
        for (size_t i = 0; i < before.size(); ++i)
          if (!inside[i]) REQUIRE(p.y.storage[i] == before[i]);
        if (max)  // every record names the voxel that holds the maximum
          for (int64_t i = 0; i < s.numel(); ++i) {
            const int64_t nc = i / s.spatial();
            REQUIRE(p.winners[size_t(i)] >= 0);
            CHECK(p.x.view.plane(nc / s.c, nc % s.c)[p.winners[size_t(i)]] == p.y.view.plane(nc / s.c, nc % s.c)[i % s.spatial()]);
          }
      }
  }

  TEST_CASE("gradients match finite differences (double), accumulate adds") {
    // Max pooling is linear in its winners away from ties: random values lie ~1e-2 apart, far
    // beyond the 1e-6 step, so central differences carry rounding only.
    const FdOptions fd{60, 1e-6, 1e-7, 1e-9};
    for (const bool max : {true, false}) {
      CAPTURE(max);
      const PoolWindow w = max ? kMaxWindow : kAvgWindow;
      PoolData p = make_data(w, {2, 2, 7, 6, 5}, 2);  // odd edges: average pooling drops the last voxel
      const std::vector<double> r = gather(p.dy);
      auto loss = [&] {
        if (max)
          cpu::max_pool_forward<double>(w, p.x.in(), p.y.view, p.winners.data());
        else
          cpu::avg_pool_forward<double>(w, p.x.in(), p.y.view);
        return weighted_sum(gather(p.y), r);
      };
      loss();
      auto backward = [&](HostTensor<double>& dx, GradMode mode) {
        if (max)
          cpu::max_pool_backward<double>(w, p.winners.data(), p.dy.in(), dx.view, mode);
        else
          cpu::avg_pool_backward<double>(w, p.dy.in(), dx.view, mode);
      };
      backward(p.dx, GradMode::Overwrite);
      std::vector<int64_t> all(p.x.storage.size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
      check_finite_differences("dx", p.x.storage, all, p.dx.storage, loss, fd);
      double routed = 0, total = 0;  // the whole output gradient reaches the input (max), or its kept part (average)
      for (double g : p.dx.storage) routed += g;
      for (double g : r) total += g;
      if (max) CHECK(routed == doctest::Approx(total).epsilon(1e-12));

      HostTensor<double> acc = p.dx;
      backward(acc, GradMode::Accumulate);
      for (size_t i = 0; i < acc.storage.size(); ++i) CHECK(acc.storage[i] == doctest::Approx(2 * p.dx.storage[i]));
    }
  }

  TEST_CASE("ties go to the first voxel, NaN wins, and padding never does") {
    HostTensor<float> x = HostTensor<float>::dense({1, 1, 2, 2, 2}), y = HostTensor<float>::dense({1, 1, 1, 1, 1});
    std::fill(x.storage.begin(), x.storage.end(), -5.f);
    int32_t winner = -1;
    cpu::max_pool_forward<float>(kMaxWindow, x.in(), y.view, &winner);
    CHECK(y.storage[0] == -5.f);  // the padded taps would have been 0 had they counted
    CHECK(winner == 0);
    x.storage[6] = NAN;
    cpu::max_pool_forward<float>(kMaxWindow, x.in(), y.view, &winner);
    CHECK(std::isnan(y.storage[0]));
    CHECK(winner == 6);
  }

  TEST_CASE("fp32 matches double") {
    for (const bool max : {true, false}) {
      const PoolWindow w = max ? kMaxWindow : kAvgWindow;
      PoolData p = make_data(w, {2, 3, 9, 8, 7}, 3);
      HostTensor<float> xf = convert<float>(p.x), yf = convert<float>(p.y), dyf = convert<float>(p.dy), dxf = convert<float>(p.dx);
      std::vector<int32_t> wf(p.winners.size());
      if (max) {
        cpu::max_pool_forward<double>(w, p.x.in(), p.y.view, p.winners.data());
        cpu::max_pool_forward<float>(w, xf.in(), yf.view, wf.data());
        CHECK(wf == p.winners);
        cpu::max_pool_backward<double>(w, p.winners.data(), p.dy.in(), p.dx.view, GradMode::Overwrite);
        cpu::max_pool_backward<float>(w, wf.data(), dyf.in(), dxf.view, GradMode::Overwrite);
      } else {
        cpu::avg_pool_forward<double>(w, p.x.in(), p.y.view);
        cpu::avg_pool_forward<float>(w, xf.in(), yf.view);
        cpu::avg_pool_backward<double>(w, p.dy.in(), p.dx.view, GradMode::Overwrite);
        cpu::avg_pool_backward<float>(w, dyf.in(), dxf.view, GradMode::Overwrite);
      }
      CHECK(relative_error(gather(yf), gather(p.y)) < 1e-7);
      CHECK(relative_error(gather(dxf), gather(p.dx)) < 1e-6);
    }
  }

  TEST_CASE("bad windows and shapes are rejected with a message") {
    HostTensor<float> x = HostTensor<float>::dense({1, 2, 4, 4, 4}), y = HostTensor<float>::dense({1, 2, 3, 2, 2});
    std::vector<int32_t> winners(8);
    CHECK_THROWS_WITH_AS(cpu::max_pool_forward<float>(kMaxWindow, x.in(), y.view, winners.data()),
                         doctest::Contains("max_pool_forward: output shape [1, 2, 3, 2, 2] should be [1, 2, 2, 2, 2]"), Error);
    CHECK_THROWS_WITH_AS(cpu::avg_pool_forward<float>({2, 2, 2}, x.in(), y.view), doctest::Contains("padding must be in [0, kernel / 2]"), Error);
    CHECK_THROWS_WITH_AS(cpu::avg_pool_forward<float>({5, 1, 0}, x.in(), y.view), doctest::Contains("smaller than the window"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
