#pragma once
// How the fast backward's weight gradients sum over voxels without float atomics: a fixed number
// of blocks (at most kWeightGradientBlocks, whatever the device) each takes a consecutive range of
// tiles and writes its sums as one partial; a second kernel adds the partials in block order. A
// run then repeats bit for bit, on any GPU.
#include <algorithm>
#include <cstdint>

#include "kernels/simt/simt.h"

namespace mdcsrn {

constexpr int kWeightGradientBlocks = 512;

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
// out[i] = the sum over b < blocks of partials[b * count + i], in block order.
template <class Context>
void sum_block_partials(Context& ctx, const float* partials, int64_t blocks, int64_t count, float* out);
}  // namespace gpu

}  // namespace mdcsrn
