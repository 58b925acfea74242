#include "kernels/loss.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("loss") {
  TEST_CASE("L1 and L2: values and gradients match finite differences (double)") {
    for (LossKind kind : {LossKind::L1, LossKind::L2}) {
      CAPTURE(int(kind));
      std::mt19937_64 rng(51);
      const Shape5 s{2, 1, 3, 4, 5};
      HostTensor<double> pred = HostTensor<double>::dense(s), target = pred, dpred = pred;
      fill_random(target, rng);
      // |pred - target| >= 1e-3 keeps L1 away from its kink.
      const std::vector<double> offsets = random_values<double>(s.numel(), rng, 1e-3);
      for (size_t i = 0; i < pred.storage.size(); ++i) pred.storage[i] = target.storage[i] + offsets[i];
      double expected = 0;
      for (double o : offsets) expected += (kind == LossKind::L1 ? std::fabs(o) : o * o) / double(s.numel());
      CHECK(cpu::loss_forward<double>(kind, pred.in(), target.in()) == doctest::Approx(expected).epsilon(1e-14));

      const double weight = 0.7;
      auto loss = [&] { return weight * cpu::loss_forward<double>(kind, pred.in(), target.in()); };
      cpu::loss_backward<double>(kind, pred.in(), target.in(), weight, dpred.view, GradMode::Overwrite);
      check_finite_differences("dpred", pred.storage, view_offsets(pred), dpred.storage, loss, FdOptions{40, 1e-6, 1e-6, 1e-10});
    }
  }

  TEST_CASE("mean critic score and its gradient") {
    std::mt19937_64 rng(52);
    std::vector<double> scores = random_values<double>(6, rng);
    double expected = 0;
    for (double v : scores) expected += v / 6.0;
    CHECK(cpu::mean_score(scores.data(), 6) == doctest::Approx(expected).epsilon(1e-15));
    // The critic's loss uses weight +1 on D(SR) and -1 on D(HR); check a negative weight.
    std::vector<double> grad(6);
    cpu::mean_score_backward<double>(6, -1.0, grad.data(), GradMode::Overwrite);
    std::vector<int64_t> all = {0, 1, 2, 3, 4, 5};
    check_finite_differences("dscores", scores, all, grad, [&] { return -cpu::mean_score(scores.data(), 6); },
                             FdOptions{6, 1e-6, 1e-8, 1e-10});
  }

  TEST_CASE("fp32 matches double") {
    std::mt19937_64 rng(53);
    const Shape5 s{4, 1, 8, 8, 8};
    HostTensor<double> pred = HostTensor<double>::dense(s), target = pred, dpred = pred;
    fill_random(pred, rng);
    fill_random(target, rng);
    HostTensor<float> pf = convert<float>(pred), tf = convert<float>(target), dpf = pf;
    for (LossKind kind : {LossKind::L1, LossKind::L2}) {
      const double ref = cpu::loss_forward<double>(kind, pred.in(), target.in());
      CHECK(std::fabs(cpu::loss_forward<float>(kind, pf.in(), tf.in()) - ref) < 1e-6 * ref);
      cpu::loss_backward<double>(kind, pred.in(), target.in(), 1.0, dpred.view, GradMode::Overwrite);
      cpu::loss_backward<float>(kind, pf.in(), tf.in(), 1.0f, dpf.view, GradMode::Overwrite);
      CHECK(relative_error(gather(dpf), gather(dpred)) < 1e-6);
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
