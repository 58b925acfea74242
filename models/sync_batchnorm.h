#pragma once
// BatchNorm's batch statistics over the ranks of a data-parallel run, as SyncBatchNorm: every
// rank gathers every rank's per-(channel, sample) moments and merges them in global sample order
// (rank r holds samples r * n .. r * n + n - 1 of the global batch), so N ranks normalise with the
// very bits one process holding the whole batch computes (kernels/batchnorm.h).
#include <cstdint>
#include <vector>

#include "engine/communicator.h"
#include "kernels/batchnorm.h"

namespace mdcsrn {

// local: this rank's partials[c * samples + n] (cpu::batchnorm_plane_moments).
template <class T>
void merge_statistics_across(const Communicator& comm, const Moments<SumType<T>>* local, int64_t channels, int64_t samples, T eps,
                             T* mean, T* var, T* invstd) {
  using M = Moments<SumType<T>>;
  const int ranks = comm.size();
  const int64_t per_rank = channels * samples;
  std::vector<M> gathered(size_t(per_rank * ranks));
  comm.allgather(local, sizeof(M) * size_t(per_rank), gathered.data());
  std::vector<M> ordered(gathered.size());  // [c][rank * samples + n]
  for (int r = 0; r < ranks; ++r)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t n = 0; n < samples; ++n)
        ordered[size_t(c * samples * ranks + r * samples + n)] = gathered[size_t(r * per_rank + c * samples + n)];
  cpu::batchnorm_merge_statistics(ordered.data(), channels, samples * ranks, eps, mean, var, invstd);
}

}  // namespace mdcsrn
