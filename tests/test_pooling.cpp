#include "kernels/pooling.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("pooling") {
  TEST_CASE("forward is the plane mean; gradients match finite differences (double)") {
    std::mt19937_64 rng(41);
    const Shape5 s{2, 3, 2, 3, 4};
    HostTensor<double> x = HostTensor<double>::slice(s, 5, 2), y = HostTensor<double>::dense(pooled_shape(s));
    HostTensor<double> dy = y, dx = x;
    fill_random(x, rng);
    fill_random(dy, rng);
    cpu::global_avg_pool_forward<double>(x.in(), y.view);
    double mean = 0;
    for (int64_t i = 0; i < s.spatial(); ++i) mean += x.view.plane(1, 2)[i] / double(s.spatial());
    CHECK(y.view.at(1, 2, 0, 0, 0) == doctest::Approx(mean).epsilon(1e-14));

    const std::vector<double> r = gather(dy);
    auto loss = [&] {
      cpu::global_avg_pool_forward<double>(x.in(), y.view);
      return weighted_sum(gather(y), r);
    };
    cpu::global_avg_pool_backward<double>(dy.in(), dx.view, GradMode::Overwrite);
    // Linear: only rounding error remains.
    check_finite_differences("dx", x.storage, view_offsets(x), dx.storage, loss, FdOptions{30, 1e-6, 1e-7, 1e-9});
  }

  TEST_CASE("fp32 matches double") {
    std::mt19937_64 rng(42);
    const Shape5 s{2, 4, 5, 6, 7};
    HostTensor<double> x = HostTensor<double>::dense(s), y = HostTensor<double>::dense(pooled_shape(s)), dy = y, dx = x;
    fill_random(x, rng);
    fill_random(dy, rng);
    HostTensor<float> xf = convert<float>(x), yf = convert<float>(y), dyf = convert<float>(dy), dxf = xf;
    cpu::global_avg_pool_forward<double>(x.in(), y.view);
    cpu::global_avg_pool_forward<float>(xf.in(), yf.view);
    cpu::global_avg_pool_backward<double>(dy.in(), dx.view, GradMode::Overwrite);
    cpu::global_avg_pool_backward<float>(dyf.in(), dxf.view, GradMode::Overwrite);
    CHECK(relative_error(gather(yf), gather(y)) < 1e-5);
    CHECK(relative_error(gather(dxf), gather(dx)) < 1e-6);
  }
}

}  // namespace
}  // namespace mdcsrn::test
