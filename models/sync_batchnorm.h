#pragma once
// BatchNorm over the ranks of a data-parallel run, as SyncBatchNorm: every rank gathers every
// rank's per-(channel, sample) partials and merges them in global sample order (rank r holds
// samples r * n .. r * n + n - 1 of the global batch), so N ranks normalise with the very bits one
// process holding the whole batch computes (kernels/batchnorm.h), and their input gradients use
// the whole batch's sums. dgamma and dbeta stay each rank's own sums: the gradient all-reduce adds
// them like every other parameter's.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/collectives.h"
#include "kernels/batchnorm.h"

namespace mdcsrn {

// The partials of every rank, [c][rank * samples + n], on every rank.
template <class Partial>
std::vector<Partial> gather_in_sample_order(const Collectives& comm, const Partial* local, int64_t channels, int64_t samples) {
  const int ranks = comm.size();
  const int64_t per_rank = channels * samples;
  std::vector<Partial> gathered(size_t(per_rank * ranks)), ordered(gathered.size());
  comm.allgather(local, sizeof(Partial) * size_t(per_rank), gathered.data());
  for (int r = 0; r < ranks; ++r)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t n = 0; n < samples; ++n)
        ordered[size_t(c * samples * ranks + r * samples + n)] = gathered[size_t(r * per_rank + c * samples + n)];
  return ordered;
}

// The statistics: local, this rank's partials[c * samples + n] (cpu::batchnorm_plane_moments).
template <class T>
void merge_statistics_across(const Collectives& comm, const Moments<SumType<T>>* local, int64_t channels, int64_t samples, T eps,
                             T* mean, T* var, T* invstd) {
  const std::vector<Moments<SumType<T>>> all = gather_in_sample_order(comm, local, channels, samples);
  cpu::batchnorm_merge_statistics(all.data(), channels, samples * comm.size(), eps, mean, var, invstd);
}

// The backward's sums: local, this rank's partials[c * samples + n]
// (cpu::batchnorm_activation_backward_sums); writes each channel's sums over the whole batch into
// `sums` and over this rank's samples into `local_sums` (for dgamma and dbeta).
template <class S>
void merge_backward_sums_across(const Collectives& comm, const SumPair<S>* local, int64_t channels, int64_t samples, SumPair<S>* sums,
                                SumPair<S>* local_sums) {
  const std::vector<SumPair<S>> all = gather_in_sample_order(comm, local, channels, samples);
  const int64_t total = samples * comm.size();
  for (int64_t c = 0; c < channels; ++c) {
    SumPair<S> channel, own;
    for (int64_t n = 0; n < total; ++n) channel.merge(all[size_t(c * total + n)]);
    for (int64_t n = 0; n < samples; ++n) own.merge(local[c * samples + n]);
    sums[c] = channel;
    local_sums[c] = own;
  }
}

namespace cpu {

// What cpu::batchnorm_statistics and cpu::batchnorm_activation_backward compute for the whole
// global batch, x holding this rank's x.shape.n samples of it (host-memory ranks); dgamma and
// dbeta are this rank's sums.
template <class T>
void synced_batchnorm_statistics(const Collectives& ranks, Tensor<const T> x, T eps, T* mean, T* var, T* invstd) {
  std::vector<Moments<SumType<T>>> partials(size_t(x.shape.c * x.shape.n));
  batchnorm_plane_moments(x, partials.data());
  merge_statistics_across(ranks, partials.data(), x.shape.c, x.shape.n, eps, mean, var, invstd);
}

template <class T>
void synced_batchnorm_activation_backward(const Collectives& ranks, Tensor<const T> x, Tensor<const T> dy, const BatchNormAffine<T>& bn,
                                          const ActivationSpec& a, Tensor<T> dx, T* dgamma, T* dbeta, GradMode m) {
  const int64_t channels = x.shape.c, samples = x.shape.n;
  std::vector<T> g_storage(size_t(x.numel()));  // g = dy act'(BN(x)), beside dy (which stays as it was)
  const Tensor<T> g(g_storage.data(), x.shape);
  for_each_plane(x.shape, [&](int64_t n, int64_t c) { std::copy_n(dy.plane(n, c), x.shape.spatial(), g.plane(n, c)); });
  std::vector<SumPair<SumType<T>>> partials(size_t(channels * samples)), sums(static_cast<size_t>(channels)), own(static_cast<size_t>(channels));
  batchnorm_activation_backward_sums(x, g, bn, a, partials.data());
  merge_backward_sums_across(ranks, partials.data(), channels, samples, sums.data(), own.data());
  const bool accumulate = m == GradMode::Accumulate;
  for (int64_t c = 0; c < channels; ++c) {
    store_grad(dbeta[c], T(own[size_t(c)].first), accumulate);
    store_grad(dgamma[c], T(own[size_t(c)].second), accumulate);
  }
  batchnorm_input_gradient<T>(NormMode::Train, x, g, bn, sums.data(), T(samples * ranks.size() * x.shape.spatial()), dx, m);
}

}  // namespace cpu

}  // namespace mdcsrn
