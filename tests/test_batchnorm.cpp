#include "kernels/batchnorm.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

struct BnData {
  HostTensor<double> x, y, dy;
  std::vector<double> gamma, beta, running_mean, running_var;
};

BnData make_data(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Shape5 s{3, 4, 3, 4, 5};
  BnData d;
  d.x = HostTensor<double>::slice(s, 7, 2);  // a channel range of a dense-block buffer
  d.y = HostTensor<double>::dense(s);
  d.dy = HostTensor<double>::dense(s);
  fill_random(d.x, rng, 0.0, 2.0);
  for (int64_t i : view_offsets(d.x)) d.x.storage[size_t(i)] += 0.5;  // non-zero mean
  fill_random(d.dy, rng);
  d.gamma = random_values<double>(s.c, rng, 0.2);
  d.beta = random_values<double>(s.c, rng);
  d.running_mean = random_values<double>(s.c, rng);
  d.running_var = random_values<double>(s.c, rng);
  for (auto& v : d.running_var) v = std::fabs(v) + 0.5;
  return d;
}

const ActivationSpec kActivations[] = {{Activation::Elu, 0.f}, {Activation::LeakyRelu, 0.2f}, {Activation::Relu, 0.f}};

// Statistics for `mode` (batch or running), then the fused normalisation and activation.
template <class T>
void normalise(NormMode mode, Tensor<const T> x, const std::vector<T>& gamma, const std::vector<T>& beta, std::vector<T>& rm,
               std::vector<T>& rv, const ActivationSpec& a, std::vector<T>& mean, std::vector<T>& invstd, Tensor<T> y) {
  const int64_t channels = x.shape.c;
  std::vector<T> var(static_cast<size_t>(channels));
  if (mode == NormMode::Train) {
    cpu::batchnorm_statistics<T>(x, T(1e-5), mean.data(), var.data(), invstd.data());
    cpu::batchnorm_update_running<T>(mean.data(), var.data(), x.shape.n * x.shape.spatial(), T(0.1), rm.data(), rv.data(), channels);
  } else {
    cpu::batchnorm_running_statistics<T>(rm.data(), rv.data(), T(1e-5), mean.data(), invstd.data(), channels);
  }
  cpu::batchnorm_activation_forward<T>(x, {gamma.data(), beta.data(), mean.data(), invstd.data()}, a, y);
}

TEST_SUITE("batchnorm") {
  TEST_CASE("training: batch statistics, running averages and the fused normalisation + activation") {
    for (const ActivationSpec& a : kActivations) {
      BnData d = make_data(21);
      const Shape5 s = d.x.view.shape;
      std::vector<double> mean(static_cast<size_t>(s.c)), invstd(mean), rm = d.running_mean, rv = d.running_var;
      normalise<double>(NormMode::Train, d.x.in(), d.gamma, d.beta, rm, rv, a, mean, invstd, d.y.view);
      const double count = double(s.n * s.spatial());
      for (int64_t c = 0; c < s.c; ++c) {
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < s.n; ++n)
          for (int64_t i = 0; i < s.spatial(); ++i) sum += d.x.view.plane(n, c)[i];
        const double m = sum / count;
        for (int64_t n = 0; n < s.n; ++n)
          for (int64_t i = 0; i < s.spatial(); ++i) sq += std::pow(d.x.view.plane(n, c)[i] - m, 2);
        const double var = sq / count;
        CHECK(mean[size_t(c)] == doctest::Approx(m).epsilon(1e-13));
        CHECK(invstd[size_t(c)] == doctest::Approx(1 / std::sqrt(var + 1e-5)).epsilon(1e-13));
        CHECK(rm[size_t(c)] == doctest::Approx(0.9 * d.running_mean[size_t(c)] + 0.1 * m).epsilon(1e-13));
        CHECK(rv[size_t(c)] == doctest::Approx(0.9 * d.running_var[size_t(c)] + 0.1 * sq / (count - 1)).epsilon(1e-13));
        const double x0 = d.x.view.at(1, c, 2, 1, 3);
        const double z = (x0 - m) / std::sqrt(var + 1e-5) * d.gamma[size_t(c)] + d.beta[size_t(c)];
        const double expected = z > 0 ? z : a.kind == Activation::Elu ? std::expm1(z) : a.kind == Activation::Relu ? 0.0 : double(a.slope) * z;
        CHECK(d.y.view.at(1, c, 2, 1, 3) == doctest::Approx(expected).epsilon(1e-12));
      }
    }
  }

  TEST_CASE("gradients match finite differences (double)") {
    // Smooth in every input except at LeakyReLU's kink, which random inputs miss by far more than
    // the step: truncation ~ step^2 and rounding ~ 1e-10 on a loss of size ~10.
    const FdOptions fd{30, 1e-6, 1e-6, 1e-8};
    for (const ActivationSpec& a : kActivations)
      for (NormMode mode : {NormMode::Train, NormMode::Eval}) {
        CAPTURE(int(mode));
        CAPTURE(int(a.kind));
        BnData d = make_data(22);
        const Shape5 s = d.x.view.shape;
        const std::vector<double> r = gather(d.dy);
        std::vector<double> mean(static_cast<size_t>(s.c)), invstd(mean);
        auto loss = [&] {
          std::vector<double> rm = d.running_mean, rv = d.running_var;
          normalise<double>(mode, d.x.in(), d.gamma, d.beta, rm, rv, a, mean, invstd, d.y.view);
          return weighted_sum(gather(d.y), r);
        };
        loss();
        HostTensor<double> dx = d.x;
        std::vector<double> dgamma(static_cast<size_t>(s.c)), dbeta(static_cast<size_t>(s.c));
        cpu::batchnorm_activation_backward<double>(mode, d.x.in(), d.dy.in(), {d.gamma.data(), d.beta.data(), mean.data(), invstd.data()},
                                                   a, dx.view, dgamma.data(), dbeta.data(), GradMode::Overwrite);
        std::vector<int64_t> channels(static_cast<size_t>(s.c));
        for (size_t i = 0; i < channels.size(); ++i) channels[i] = int64_t(i);
        check_finite_differences("dx", d.x.storage, view_offsets(d.x), dx.storage, loss, fd);
        check_finite_differences("dgamma", d.gamma, channels, dgamma, loss, fd);
        check_finite_differences("dbeta", d.beta, channels, dbeta, loss, fd);

        // Accumulate adds onto what is there.
        HostTensor<double> dx2 = dx;
        std::vector<double> dgamma2 = dgamma, dbeta2 = dbeta;
        cpu::batchnorm_activation_backward<double>(mode, d.x.in(), d.dy.in(), {d.gamma.data(), d.beta.data(), mean.data(), invstd.data()},
                                                   a, dx2.view, dgamma2.data(), dbeta2.data(), GradMode::Accumulate);
        for (int64_t i : view_offsets(dx)) CHECK(dx2.storage[size_t(i)] == doctest::Approx(2 * dx.storage[size_t(i)]));
        CHECK(dgamma2[0] == doctest::Approx(2 * dgamma[0]));
      }
  }

  TEST_CASE("fp32 matches double") {
    for (const ActivationSpec& a : kActivations) {
      BnData d = make_data(23);
      const Shape5 s = d.x.view.shape;
      const size_t c = size_t(s.c);
      HostTensor<float> xf = convert<float>(d.x), yf = convert<float>(d.y), dyf = convert<float>(d.dy), dxf = xf;
      std::vector<float> gf = convert<float>(d.gamma), bf = convert<float>(d.beta), rmf = convert<float>(d.running_mean),
                         rvf = convert<float>(d.running_var), meanf(c), invstdf(c), dgf(c), dbf(c);
      std::vector<double> rm = d.running_mean, rv = d.running_var, mean(c), invstd(c), dg(c), db(c);
      HostTensor<double> dx = d.x;
      normalise<double>(NormMode::Train, d.x.in(), d.gamma, d.beta, rm, rv, a, mean, invstd, d.y.view);
      normalise<float>(NormMode::Train, xf.in(), gf, bf, rmf, rvf, a, meanf, invstdf, yf.view);
      cpu::batchnorm_activation_backward<double>(NormMode::Train, d.x.in(), d.dy.in(), {d.gamma.data(), d.beta.data(), mean.data(), invstd.data()},
                                                 a, dx.view, dg.data(), db.data(), GradMode::Overwrite);
      cpu::batchnorm_activation_backward<float>(NormMode::Train, xf.in(), dyf.in(), {gf.data(), bf.data(), meanf.data(), invstdf.data()}, a,
                                                dxf.view, dgf.data(), dbf.data(), GradMode::Overwrite);
      CHECK(relative_error(gather(yf), gather(d.y)) < 1e-5);
      CHECK(relative_error(gather(dxf), gather(dx)) < 1e-5);
      CHECK(relative_error(convert<double>(dgf), dg) < 1e-5);
      CHECK(relative_error(convert<double>(dbf), db) < 1e-5);
      CHECK(relative_error(convert<double>(rvf), rv) < 1e-5);
    }
  }

  TEST_CASE("fp32 statistics of 32^3 patches with a large mean stay at fp32 rounding") {
    // A paper-sized batch (4 x 32^3 voxels per channel) whose mean is 300 times its spread.
    std::mt19937_64 rng(24);
    HostTensor<double> x = HostTensor<double>::dense({4, 2, 32, 32, 32});
    fill_random(x, rng);
    for (double& v : x.storage) v = 3.0 + 0.01 * v;
    std::vector<double> mean(2), var(2), invstd(2);
    std::vector<float> meanf(2), varf(2), invstdf(2);
    cpu::batchnorm_statistics<double>(x.in(), 1e-5, mean.data(), var.data(), invstd.data());
    const HostTensor<float> xf = convert<float>(x);
    cpu::batchnorm_statistics<float>(xf.in(), 1e-5f, meanf.data(), varf.data(), invstdf.data());
    // As for LayerNorm, the inputs' own rounding sets the floor; an fp32 Welford pass over the
    // 131k voxels put the mean 1.2e-6 off (and the normalised output 6.2e-4).
    CHECK(relative_error(convert<double>(meanf), mean) < 1e-7);
    CHECK(relative_error(convert<double>(varf), var) < 3e-5);
  }
}

}  // namespace
}  // namespace mdcsrn::test
