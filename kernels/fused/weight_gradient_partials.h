#pragma once
// How the fast backward's weight gradients sum over voxels without float atomics: a fixed number
// of blocks (at most kWeightGradientBlocks, whatever the device) each takes a consecutive range of
// tiles and writes its sums as one partial; two more kernels add the partials in a fixed order. A
// run then repeats bit for bit, on any GPU.
#include <algorithm>
#include <cstdint>

#include "kernels/simt/simt.h"

namespace mdcsrn {

// One whole wave on an H100 or H200 (132 SMs) of the unit weight gradient, which fits 3 blocks an
// SM (ptxas for sm_90: 156 registers a thread, 128 threads: 3 blocks by registers): 512 made 1.29
// waves, the second a third full.
constexpr int kWeightGradientBlocks = 3 * 132;

// Blocks for `tiles` tiles; tests lower max_blocks to give blocks several tiles.
inline int64_t weight_gradient_blocks(int64_t tiles, int max_blocks) {
  return std::clamp<int64_t>(max_blocks, 1, std::min<int64_t>(tiles, kWeightGradientBlocks));
}

// The tiles of this block: [first, end).
struct TileRange {
  int64_t first, end;
  MDCSRN_DEVICE explicit TileRange(int64_t tiles) {
    const int64_t blocks = simt::grid_dim().x, block = simt::block_idx().x;
    first = tiles * block / blocks;
    end = tiles * (block + 1) / blocks;
  }
};

namespace gpu {
// out[i] = the sum over b < blocks of partials[b * count + i]: over 16 consecutive ranges of blocks
// (fewer when there are fewer blocks), each in block order, then the ranges in order. The partials
// are consumed (overwritten).
template <class Context>
void sum_block_partials(Context& ctx, float* partials, int64_t blocks, int64_t count, float* out);
}  // namespace gpu

}  // namespace mdcsrn
