#pragma once
// Grids for kernels over flat arrays (optimiser sections, weight folds, per-channel constants):
// grid-stride loops with 64-bit indices and no division.
#include <algorithm>
#include <cstdint>

#include "kernels/plane_grid.h"
#include "kernels/simt/launch_config.h"
#include "kernels/simt/simt.h"

namespace mdcsrn {

MDCSRN_DEVICE int64_t flat_thread() { return int64_t(simt::block_idx().x) * simt::block_dim().x + simt::thread_idx().x; }
MDCSRN_DEVICE int64_t flat_stride() { return int64_t(simt::grid_dim().x) * simt::block_dim().x; }

// Enough blocks for `count` items at `per_thread` items a thread (at most 2^20 blocks; the loops stride).
inline simt::LaunchConfig flat_launch(int64_t count, int64_t per_thread = 1, std::source_location where = std::source_location::current()) {
  const int64_t blocks = (count + kThreads * per_thread - 1) / (kThreads * per_thread);
  return simt::LaunchConfig(simt::Dim3(unsigned(std::clamp<int64_t>(blocks, 1, 1 << 20))), simt::Dim3(kThreads), 0, where);
}

}  // namespace mdcsrn
