#pragma once
// Batch statistics from a producer's epilogue: each block (tile) of a producing kernel writes the
// moments of its bf16-rounded outputs, per channel, to partials[tile][channels]; a second kernel
// merges every tile's partials of a channel in tile order (Chan's formula), so a run repeats bit
// for bit and no separate statistics pass reads the outputs again.
#include <cstdint>

#include "engine/collectives.h"
#include "kernels/block_reduce.h"
#include "kernels/normalization.h"
#include "kernels/reduce.h"
#include "kernels/simt/launch.h"
#include "kernels/simt/launch_config.h"
#include "kernels/simt/simt.h"

namespace mdcsrn {

// Within a warp, lanes 4 g + t (g = 0..7) of an mma C fragment hold values of the same channels:
// merges them into lanes 0-3, which store channel_of(k, t)'s moments at warp * channels + channel.
template <int K, class ChannelOf>
MDCSRN_DEVICE void store_warp_moments(const ShiftedMoments<float> (&lane_moments)[K], simt::Shared<Moments<float>> warp_moments,
                                      int channels, ChannelOf channel_of) {
  const int lane = int(simt::lane()), warp = int(simt::warp());
  for (int k = 0; k < K; ++k) {
    Moments<float> m = lane_moments[k].result();
    for (unsigned offset = 16; offset >= 4; offset /= 2) m.merge(shuffle_down_words(m, offset));
    if (lane < 4) warp_moments.store(warp * channels + channel_of(k, lane), m);
  }
}

// After a barrier that follows store_warp_moments (or any per-group moments laid out
// [group][channels]): threads below `channels` merge the groups in order into this tile's partials.
MDCSRN_DEVICE void store_tile_moments(simt::Shared<Moments<float>> group_moments, int groups, int channels, Moments<float>* partials) {
  const int t = int(simt::linear_thread());
  if (t >= channels) return;
  Moments<float> m;
  for (int g = 0; g < groups; ++g) m.merge(group_moments.load(g * channels + t));
  partials[int64_t(simt::block_idx().x) * channels + t] = m;
}

// A kernel defined in a header: each translation unit that launches it keeps its own copy.
namespace {

// One block per channel: its threads merge consecutive ranges of the tiles' partials, then the
// block merges its threads in order.
MDCSRN_KERNEL void tile_statistics_kernel(const Moments<float>* partials, int64_t tiles, int32_t channels, float eps, float* mean,
                                          float* var, float* invstd) {
  const int c = int(simt::block_idx().x), t = int(simt::linear_thread()), threads = int(simt::block_threads());
  Moments<float> m;
  const int64_t begin = tiles * t / threads, end = tiles * (t + 1) / threads;
  for (int64_t b = begin; b < end; ++b) m.merge(partials[b * channels + c]);
  m = block_reduce(m, simt::shared<Moments<float>>(0, (threads + 31) / 32));
  if (t == 0) {
    mean[c] = m.mean;
    var[c] = m.variance();
    invstd[c] = inverse_std(var[c], eps);
  }
}

}  // namespace

inline simt::LaunchConfig tile_statistics_launch(int channels, std::source_location where = std::source_location::current()) {
  return simt::LaunchConfig(simt::Dim3(unsigned(channels)), simt::Dim3(kThreads), block_reduce_shared_bytes<Moments<float>>(), where);
}

// A producer's tile partials in scratch, with room after them for every rank's when ranks (the
// collectives of a data-parallel run, over the context's memory) gather them.
template <class Context>
Moments<float>* tile_moments_scratch(Context& ctx, int64_t tiles, int channels, const Collectives* ranks) {
  const int64_t count = tiles * channels;
  return static_cast<Moments<float>*>(ctx.scratch(sizeof(Moments<float>) * size_t(count * (ranks ? 1 + ranks->size() : 1))));
}

// The channels' statistics from the tiles' partials (from tile_moments_scratch): this process's
// batch, or with ranks the global batch's, every rank's partials gathered after this rank's and
// merged rank by rank: the global batch's tiles in order.
template <class Context>
void finish_tile_statistics(Context& ctx, Moments<float>* partials, int64_t tiles, int channels, float eps, float* mean, float* var,
                            float* invstd, const Collectives* ranks, std::source_location where = std::source_location::current()) {
  const Moments<float>* merged = partials;
  if (ranks) {
    Moments<float>* gathered = partials + tiles * channels;
    ranks->allgather(partials, sizeof(Moments<float>) * size_t(tiles * channels), gathered);
    merged = gathered;
    tiles *= ranks->size();
  }
  simt::launch(ctx, tile_statistics_launch(channels, where), tile_statistics_kernel, merged, tiles, int32_t(channels), eps, mean, var,
               invstd);
}

}  // namespace mdcsrn
