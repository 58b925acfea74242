// The ranks of a data-parallel run (tests/CMakeLists.txt starts them with mpirun -np 2): their
// collectives, BatchNorm's statistics and backward over the ranks against one process's, and a
// failing rank. Run directly, the same cases check the single process.
#include <random>

#include "engine/communicator.h"
#include "models/sync_batchnorm.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("mpi_communicator") {
  TEST_CASE("sums and gathers over the ranks") {
    const Communicator& comm = Communicator::world();
    MESSAGE("rank " << comm.rank() << " of " << comm.size() << ", local rank " << comm.local_rank());
    std::vector<float> values{float(comm.rank() + 1), 0.5f};
    comm.allreduce_sum(values.data(), int64_t(values.size()));
    CHECK(values[0] == float(comm.size() * (comm.size() + 1) / 2));
    CHECK(values[1] == 0.5f * float(comm.size()));
    const int64_t mine = 100 + comm.rank();
    std::vector<int64_t> all(size_t(comm.size()));
    comm.allgather(&mine, sizeof mine, all.data());
    for (int r = 0; r < comm.size(); ++r) CHECK(all[size_t(r)] == 100 + r);
  }

  TEST_CASE_TEMPLATE("BatchNorm statistics over the ranks are one process's, bit for bit", T, float, double) {
    // The global batch of 8 samples, the same on every rank; rank r holds its share. In double,
    // merging the planes in another order than the sample order changes the last bits.
    const Communicator& comm = Communicator::world();
    const Shape5 global{8, 5, 3, 4, 6};
    REQUIRE(global.n % comm.size() == 0);
    std::mt19937_64 rng(61);
    HostTensor<T> x = HostTensor<T>::dense(global);
    fill_random(x, rng, 0.0, 3.0);
    for (T& v : x.storage) v += T(1.5);
    std::vector<T> mean(5), var(5), invstd(5);
    cpu::batchnorm_statistics<T>(x.in(), T(1e-5), mean.data(), var.data(), invstd.data());

    const int64_t share = global.n / comm.size();
    const Tensor<const T> local(x.storage.data() + comm.rank() * share * global.c * global.spatial(),
                                Shape5{share, global.c, global.d, global.h, global.w});
    std::vector<Moments<SumType<T>>> partials(size_t(global.c * share));
    cpu::batchnorm_plane_moments(local, partials.data());
    std::vector<T> synced_mean(5), synced_var(5), synced_invstd(5);
    merge_statistics_across<T>(comm, partials.data(), global.c, share, T(1e-5), synced_mean.data(), synced_var.data(), synced_invstd.data());
    CHECK(synced_mean == mean);
    CHECK(synced_var == var);
    CHECK(synced_invstd == invstd);
  }

  TEST_CASE_TEMPLATE("BatchNorm's backward over the ranks: one process's input gradients, bit for bit", T, float, double) {
    const Communicator& comm = Communicator::world();
    const Shape5 global{8, 3, 2, 5, 4};
    REQUIRE(global.n % comm.size() == 0);
    std::mt19937_64 rng(67);
    HostTensor<T> x = HostTensor<T>::dense(global), dy = x;
    fill_random(x, rng);
    fill_random(dy, rng);
    const std::vector<T> gamma = random_values<T>(3, rng, 0.5), beta = random_values<T>(3, rng), mean = random_values<T>(3, rng),
                         invstd = random_values<T>(3, rng, 0.5, 2.0);
    const BatchNormAffine<T> bn{gamma.data(), beta.data(), mean.data(), invstd.data()};
    const ActivationSpec elu{Activation::Elu, 0.f};
    HostTensor<T> dx = x;
    std::vector<T> dgamma(3), dbeta(3);
    cpu::batchnorm_activation_backward<T>(NormMode::Train, x.in(), dy.in(), bn, elu, dx.view, dgamma.data(), dbeta.data(), GradMode::Overwrite);

    // This rank's share: g in place of its dy, the sums over the whole batch, dx.
    const int64_t share = global.n / comm.size(), plane = global.c * global.spatial(), first = comm.rank() * share * plane;
    const Shape5 local{share, global.c, global.d, global.h, global.w};
    std::vector<T> g(dy.storage.begin() + first, dy.storage.begin() + first + share * plane), local_dx(g.size());
    const Tensor<const T> local_x(x.storage.data() + first, local);
    std::vector<SumPair<SumType<T>>> partials(size_t(global.c * share)), sums(3), own(3);
    cpu::batchnorm_activation_backward_sums(local_x, Tensor<T>(g.data(), local), bn, elu, partials.data());
    merge_backward_sums_across(comm, partials.data(), global.c, share, sums.data(), own.data());
    cpu::batchnorm_input_gradient<T>(NormMode::Train, local_x, Tensor<const T>(g.data(), local), bn, sums.data(), T(global.n * global.spatial()),
                                     Tensor<T>(local_dx.data(), local), GradMode::Overwrite);
    CHECK(local_dx == std::vector<T>(dx.storage.begin() + first, dx.storage.begin() + first + share * plane));
    // dgamma and dbeta: this rank's sums, which the gradient all-reduce adds (another order of
    // additions than one process's: a few ulps).
    std::vector<double> summed(6);
    for (int c = 0; c < 3; ++c) summed[size_t(c)] = double(own[size_t(c)].second), summed[size_t(3 + c)] = double(own[size_t(c)].first);
    comm.allreduce_sum(summed.data(), 6);
    for (int c = 0; c < 3; ++c) {
      CHECK(std::fabs(summed[size_t(c)] - double(dgamma[size_t(c)])) <= 1e-5 * std::fabs(double(dgamma[size_t(c)])) + 1e-12);
      CHECK(std::fabs(summed[size_t(3 + c)] - double(dbeta[size_t(c)])) <= 1e-5 * std::fabs(double(dbeta[size_t(c)])) + 1e-12);
    }
  }

  // Run on its own (tests/CMakeLists.txt): rank 1 fails while rank 0 waits in a collective.
  TEST_CASE("planted: a failing rank ends every rank" * doctest::skip()) {
    const Communicator& comm = Communicator::world();
    if (comm.rank() == 1) comm.abort("planted failure on rank 1");
    float x = 1.f;
    comm.allreduce_sum(&x, 1);
  }
}

}  // namespace
}  // namespace mdcsrn::test
