#pragma once
// The 4 x 8 x 8 output tiles the stem and the unit kernels give their blocks: block b takes tile b,
// counting w fastest, then h, d and the sample; reads reach one voxel past the tile (the halo).
#include <cstdint>

#include "kernels/fused/channels_last.h"
#include "kernels/simt/simt.h"

namespace mdcsrn {

struct VolumeTile {
  static constexpr int kDepth = 4, kHeight = 8, kWidth = 8, kVoxels = kDepth * kHeight * kWidth;
  static constexpr int kHaloDepth = kDepth + 2, kHaloHeight = kHeight + 2, kHaloWidth = kWidth + 2;
  static constexpr int kHaloVoxels = kHaloDepth * kHaloHeight * kHaloWidth;

  int32_t n, d, h, w;  // the tile's first voxel

  MDCSRN_DEVICE VolumeTile(const VolumeShape& s, unsigned block) {
    const unsigned tiles_w = (unsigned(s.w) + kWidth - 1) / kWidth, tiles_h = (unsigned(s.h) + kHeight - 1) / kHeight;
    const unsigned tiles_d = (unsigned(s.d) + kDepth - 1) / kDepth;
    const unsigned across = block / tiles_w, down = across / tiles_h, deep = down / tiles_d;
    w = int32_t(block - across * tiles_w) * kWidth;
    h = int32_t(across - down * tiles_h) * kHeight;
    d = int32_t(down - deep * tiles_d) * kDepth;
    n = int32_t(deep);
  }
  // The linear voxel index of tile-relative (dd, hh, ww), or -1 outside the volume.
  MDCSRN_DEVICE int64_t voxel(const VolumeShape& s, int dd, int hh, int ww) const {
    const int z = d + dd, y = h + hh, x = w + ww;
    if (z < 0 || y < 0 || x < 0 || z >= s.d || y >= s.h || x >= s.w) return -1;
    return ((int64_t(n) * s.d + z) * s.h + y) * s.w + x;
  }

  // How many tiles cover a volume: the grid's blocks.
  static int64_t count(const VolumeShape& s) {
    return int64_t(s.n) * ((s.d + kDepth - 1) / kDepth) * ((s.h + kHeight - 1) / kHeight) * ((s.w + kWidth - 1) / kWidth);
  }
};

}  // namespace mdcsrn
