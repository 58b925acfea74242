#pragma once
// BatchNorm over the ranks of a data-parallel run, as SyncBatchNorm: every rank gathers every
// rank's per-(channel, sample) partials and merges them in global sample order (rank r holds
// samples r * n .. r * n + n - 1 of the global batch), so N ranks normalise with the very bits one
// process holding the whole batch computes (kernels/batchnorm.h), and their input gradients use
// the whole batch's sums. dgamma and dbeta stay each rank's own sums: the gradient all-reduce adds
// them like every other parameter's.
#include <cstdint>
#include <vector>

#include "engine/communicator.h"
#include "kernels/batchnorm.h"

namespace mdcsrn {

// The partials of every rank, [c][rank * samples + n], on every rank.
template <class Partial>
std::vector<Partial> gather_in_sample_order(const Communicator& comm, const Partial* local, int64_t channels, int64_t samples) {
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
void merge_statistics_across(const Communicator& comm, const Moments<SumType<T>>* local, int64_t channels, int64_t samples, T eps,
                             T* mean, T* var, T* invstd) {
  const std::vector<Moments<SumType<T>>> all = gather_in_sample_order(comm, local, channels, samples);
  cpu::batchnorm_merge_statistics(all.data(), channels, samples * comm.size(), eps, mean, var, invstd);
}

// The backward's sums: local, this rank's partials[c * samples + n]
// (cpu::batchnorm_activation_backward_sums); writes each channel's sums over the whole batch into
// `sums` and over this rank's samples into `local_sums` (for dgamma and dbeta).
template <class S>
void merge_backward_sums_across(const Communicator& comm, const SumPair<S>* local, int64_t channels, int64_t samples, SumPair<S>* sums,
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

// The generator's two batch-coupled BatchNorm steps over the ranks of comm, on host memory: what
// cpu::batchnorm_statistics and cpu::batchnorm_activation_backward (train mode) compute for the
// whole global batch, each rank holding x.shape.n of its samples.
template <class T>
class SyncBatchNorm {
 public:
  explicit SyncBatchNorm(const Communicator& comm) : comm_(comm) {}

  int ranks() const { return comm_.size(); }

  void statistics(Tensor<const T> x, T eps, T* mean, T* var, T* invstd) const {
    std::vector<Moments<SumType<T>>> partials(size_t(x.shape.c * x.shape.n));
    cpu::batchnorm_plane_moments(x, partials.data());
    merge_statistics_across(comm_, partials.data(), x.shape.c, x.shape.n, eps, mean, var, invstd);
  }

  // dy is overwritten (by g = dy act'(BN(x))); dgamma and dbeta are this rank's sums.
  void activation_backward(Tensor<const T> x, Tensor<T> dy, const BatchNormAffine<T>& bn, const ActivationSpec& a, Tensor<T> dx,
                           T* dgamma, T* dbeta, GradMode m) const {
    const int64_t channels = x.shape.c, samples = x.shape.n;
    std::vector<SumPair<SumType<T>>> partials(size_t(channels * samples)), sums(static_cast<size_t>(channels)), own(static_cast<size_t>(channels));
    cpu::batchnorm_activation_backward_sums(x, dy, bn, a, partials.data());
    merge_backward_sums_across(comm_, partials.data(), channels, samples, sums.data(), own.data());
    const bool accumulate = m == GradMode::Accumulate;
    for (int64_t c = 0; c < channels; ++c) {
      store_grad(dbeta[c], T(own[size_t(c)].first), accumulate);
      store_grad(dgamma[c], T(own[size_t(c)].second), accumulate);
    }
    cpu::batchnorm_input_gradient<T>(NormMode::Train, x, dy, bn, sums.data(), T(samples * ranks() * x.shape.spatial()), dx, m);
  }

 private:
  const Communicator& comm_;
};

}  // namespace mdcsrn
