// Spectral normalisation (kernels/spectral_norm.h, models/critic_spectral_norm.h) in double: the
// power iteration against a matrix of known singular values, the normalised weight's gradient and
// the whole normalised critic's against finite differences, u and v held fixed as PyTorch holds them.
#include <numeric>

#include "kernels/spectral_norm.h"
#include "models/critic.h"
#include "models/critic_spectral_norm.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

// Orthonormal columns from random vectors (Gram-Schmidt), `count` of them in `dim` dimensions.
std::vector<std::vector<double>> orthonormal(int count, int dim, std::mt19937_64& rng) {
  std::vector<std::vector<double>> out;
  while (int(out.size()) < count) {
    std::vector<double> x = random_values<double>(dim, rng);
    for (const auto& q : out) {
      double d = 0;
      for (int i = 0; i < dim; ++i) d += x[size_t(i)] * q[size_t(i)];
      for (int i = 0; i < dim; ++i) x[size_t(i)] -= d * q[size_t(i)];
    }
    double n = 0;
    for (const double e : x) n += e * e;
    for (double& e : x) e /= std::sqrt(n);
    out.push_back(x);
  }
  return out;
}

CriticConfig tiny_critic() {
  CriticConfig c;
  c.patch = 16;
  c.widths = {2, 3, 3, 4};
  c.hidden = 5;
  return c;
}

TEST_SUITE("spectral_norm") {
  TEST_CASE("power iteration finds the largest singular value and its vectors") {
    // W = 5 a b^T + 2 c d^T + 0.5 e f^T: singular values 5, 2, 0.5.
    std::mt19937_64 rng(11);
    const int rows = 6, columns = 12;
    const auto left = orthonormal(3, rows, rng), right = orthonormal(3, columns, rng);
    const double values[3] = {5, 2, 0.5};
    std::vector<double> w(size_t(rows * columns), 0.0);
    for (int k = 0; k < 3; ++k)
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < columns; ++j) w[size_t(i * columns + j)] += values[k] * left[size_t(k)][size_t(i)] * right[size_t(k)][size_t(j)];
    std::vector<double> u(size_t(rows), 0.0), v = random_values<double>(columns, rng);
    cpu::spectral_power_iteration<double>(w.data(), rows, columns, u.data(), v.data(), 40);
    std::vector<double> normalised(w.size());
    double sigma = 0;
    cpu::spectral_normalise<double>(w.data(), rows, columns, u.data(), v.data(), &sigma, normalised.data());
    CHECK(sigma == doctest::Approx(5.0).epsilon(1e-12));
    double along_a = 0, along_b = 0;
    for (int i = 0; i < rows; ++i) along_a += u[size_t(i)] * left[0][size_t(i)];
    for (int j = 0; j < columns; ++j) along_b += v[size_t(j)] * right[0][size_t(j)];
    CHECK(std::fabs(along_a) == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(std::fabs(along_b) == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(normalised[7] == doctest::Approx(w[7] / 5.0).epsilon(1e-12));
    // One iteration from a poor start is not yet there: the count matters.
    std::vector<double> u1(size_t(rows), 0.0), v1 = random_values<double>(columns, rng);
    cpu::spectral_power_iteration<double>(w.data(), rows, columns, u1.data(), v1.data(), 1);
    double sigma1 = 0;
    cpu::spectral_normalise<double>(w.data(), rows, columns, u1.data(), v1.data(), &sigma1, normalised.data());
    CHECK(sigma1 < 5.0 - 1e-6);
  }

  TEST_CASE("the normalised weight's gradient matches finite differences, u and v held fixed") {
    std::mt19937_64 rng(12);
    const int rows = 4, columns = 9;
    std::vector<double> w = random_values<double>(rows * columns, rng), u(static_cast<size_t>(rows)), v = random_values<double>(columns, rng);
    cpu::spectral_power_iteration<double>(w.data(), rows, columns, u.data(), v.data(), 2);
    const std::vector<double> r = random_values<double>(rows * columns, rng);
    std::vector<double> normalised(w.size());
    double sigma = 0;
    auto loss = [&] {
      cpu::spectral_normalise<double>(w.data(), rows, columns, u.data(), v.data(), &sigma, normalised.data());
      return weighted_sum(normalised, r);
    };
    loss();
    std::vector<double> grad = r;
    cpu::spectral_normalise_backward<double>(normalised.data(), rows, columns, u.data(), v.data(), &sigma, grad.data());
    std::vector<int64_t> all(w.size());
    std::iota(all.begin(), all.end(), int64_t(0));
    check_finite_differences("W", w, all, grad, loss, FdOptions{int(w.size()), 1e-6, 1e-7, 1e-10});
  }

  TEST_CASE("the critic under spectral normalisation: every raw parameter's gradient matches finite differences") {
    const CriticLayout L(tiny_critic());
    std::vector<double> params = convert<double>(initial_critic_parameters(L, 5));
    CriticSpectralNorm<CpuBackend<double>> spectral(L, {}, 1);
    const std::vector<float> start = initial_spectral_vectors(L, initial_critic_parameters(L, 5), 5);
    spectral.set_vectors(convert<double>(start));
    spectral.iterate(params.data());
    std::mt19937_64 rng(6);
    HostTensor<double> x = HostTensor<double>::dense({2, 1, 16, 16, 16}), scores = HostTensor<double>::dense({2, 1, 1, 1, 1});
    HostTensor<double> dscores = scores;
    fill_random(x, rng);
    fill_random(dscores, rng, 0.2);
    const std::vector<double> r = gather(dscores);
    Critic<CpuBackend<double>> critic(L, {}, 2);
    critic.read_weights_from(spectral.weights());
    auto loss = [&] {
      spectral.normalise(params.data());
      critic.forward(params.data(), x.in(), scores.view);
      return weighted_sum(gather(scores), r);
    };
    loss();
    std::vector<double> grads(params.size(), 0.0);
    critic.backward(params.data(), grads.data(), GradMode::Overwrite, x.in(), dscores.in());
    spectral.backward(grads.data());
    check_every_parameter(L.table(), params, grads, loss, FdOptions{8, 1e-6, 1e-5, 1e-9});
  }

  TEST_CASE("starting vectors: unit length, the seed's own, near the top singular vectors") {
    const CriticLayout L(tiny_critic());
    const std::vector<float> params = initial_critic_parameters(L, 3);
    const std::vector<float> a = initial_spectral_vectors(L, params, 3), b = initial_spectral_vectors(L, params, 3);
    CHECK(a == b);
    CHECK(a != initial_spectral_vectors(L, params, 4));
    const SpectralVectorLayout at(L);
    const std::vector<CriticWeightMatrix> matrices = L.weight_matrices();
    REQUIRE(matrices.size() == L.convs().size() + 2);
    for (size_t k = 0; k < matrices.size(); ++k) {
      CAPTURE(k);
      double uu = 0, vv = 0;
      for (int64_t i = 0; i < matrices[k].rows; ++i) uu += double(a[size_t(at.u[k] + i)]) * double(a[size_t(at.u[k] + i)]);
      for (int64_t j = 0; j < matrices[k].columns; ++j) vv += double(a[size_t(at.v[k] + j)]) * double(a[size_t(at.v[k] + j)]);
      CHECK(uu == doctest::Approx(1.0).epsilon(1e-6));
      CHECK(vv == doctest::Approx(1.0).epsilon(1e-6));
      // sigma from them within 5% of the largest singular value (300 iterations from elsewhere;
      // these small random matrices' top two singular values are close, so 15 iterations leave
      // up to 2.3%), where a random start gives a fraction of it.
      const std::vector<double> w(params.begin() + L.table().entry(matrices[k].weight).offset,
                                  params.begin() + L.table().entry(matrices[k].weight).offset + matrices[k].rows * matrices[k].columns);
      std::vector<double> normalised(w.size()), u(size_t(matrices[k].rows)), v(size_t(matrices[k].columns), 1.0);
      std::vector<double> u0(a.begin() + at.u[k], a.begin() + at.u[k] + matrices[k].rows);
      std::vector<double> v0(a.begin() + at.v[k], a.begin() + at.v[k] + matrices[k].columns);
      double top = 0, start = 0;
      cpu::spectral_power_iteration<double>(w.data(), matrices[k].rows, matrices[k].columns, u.data(), v.data(), 300);
      cpu::spectral_normalise<double>(w.data(), matrices[k].rows, matrices[k].columns, u.data(), v.data(), &top, normalised.data());
      cpu::spectral_normalise<double>(w.data(), matrices[k].rows, matrices[k].columns, u0.data(), v0.data(), &start, normalised.data());
      CHECK(start > 0.95 * top);
      CHECK(start <= top * (1 + 1e-6));  // the vectors are stored in fp32
    }
  }
}

}  // namespace
}  // namespace mdcsrn::test
