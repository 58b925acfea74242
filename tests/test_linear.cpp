#include "kernels/linear.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("linear") {
  TEST_CASE("forward is the definition; gradients match finite differences (double); accumulate adds") {
    std::mt19937_64 rng(51);
    const int64_t batch = 3, inputs = 7, outputs = 2;
    // x a channel slice of a wider pooled buffer, as a head may read one.
    HostTensor<double> x = HostTensor<double>::slice({batch, inputs, 1, 1, 1}, inputs + 2, 1);
    HostTensor<double> y = HostTensor<double>::dense({batch, outputs, 1, 1, 1}), dy = y, dx = x;
    fill_random(x, rng);
    fill_random(dy, rng);
    std::vector<double> w = random_values<double>(outputs * inputs, rng), b = random_values<double>(outputs, rng);
    cpu::linear_forward<double>(x.in(), w.data(), b.data(), y.view);
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t o = 0; o < outputs; ++o) {
        double expected = b[size_t(o)];
        for (int64_t c = 0; c < inputs; ++c) expected += w[size_t(o * inputs + c)] * x.view.at(n, c, 0, 0, 0);
        CHECK(y.view.at(n, o, 0, 0, 0) == doctest::Approx(expected).epsilon(1e-14));
      }

    const std::vector<double> r = gather(dy);
    auto loss = [&] {
      cpu::linear_forward<double>(x.in(), w.data(), b.data(), y.view);
      return weighted_sum(gather(y), r);
    };
    std::vector<double> dw(w.size()), db(b.size());
    cpu::linear_backward_data<double>(w.data(), dy.in(), dx.view, GradMode::Overwrite);
    cpu::linear_backward_weight<double>(x.in(), dy.in(), dw.data(), db.data(), GradMode::Overwrite);
    const FdOptions fd{30, 1e-6, 1e-7, 1e-9};  // linear: rounding only
    check_finite_differences("dx", x.storage, view_offsets(x), dx.storage, loss, fd);
    std::vector<int64_t> all_w(w.size()), all_b(b.size());
    for (size_t i = 0; i < all_w.size(); ++i) all_w[i] = int64_t(i);
    for (size_t i = 0; i < all_b.size(); ++i) all_b[i] = int64_t(i);
    check_finite_differences("dw", w, all_w, dw, loss, fd);
    check_finite_differences("dbias", b, all_b, db, loss, fd);

    HostTensor<double> dx_acc = dx;
    std::vector<double> dw_acc = dw, db_acc = db;
    cpu::linear_backward_data<double>(w.data(), dy.in(), dx_acc.view, GradMode::Accumulate);
    cpu::linear_backward_weight<double>(x.in(), dy.in(), dw_acc.data(), db_acc.data(), GradMode::Accumulate);
    for (int64_t i : view_offsets(dx)) CHECK(dx_acc.storage[size_t(i)] == doctest::Approx(2 * dx.storage[size_t(i)]));
    for (size_t i = 0; i < dw.size(); ++i) CHECK(dw_acc[i] == doctest::Approx(2 * dw[i]));
    for (size_t i = 0; i < db.size(); ++i) CHECK(db_acc[i] == doctest::Approx(2 * db[i]));
  }

  TEST_CASE("shapes that are not pooled features are rejected with a message") {
    HostTensor<float> x = HostTensor<float>::dense({2, 4, 2, 1, 1}), y = HostTensor<float>::dense({2, 1, 1, 1, 1});
    std::vector<float> w(8);
    CHECK_THROWS_WITH_AS(cpu::linear_forward<float>(x.in(), w.data(), nullptr, y.view), doctest::Contains("must be [N, C, 1, 1, 1]"), Error);
    HostTensor<float> x3 = HostTensor<float>::dense({3, 4, 1, 1, 1});
    CHECK_THROWS_WITH_AS(cpu::linear_forward<float>(x3.in(), w.data(), nullptr, y.view), doctest::Contains("batch of"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
