#pragma once
// The tap loop the unit's forward and data gradient share: a 3x3x3 convolution of one staged
// 16-channel chunk (the tile and its halo, kernels/fused/unit_staging.h) into 16 output channels on
// tensor cores. A warp owns 16 output voxels (2 rows of 8) at all 4 depths of the tile. For each
// in-plane shift (kh, kw) the B fragments of the three kernel depths stay in registers while the
// warp slides down the staged planes: the A fragment of plane p feeds output depths p - kd, so each
// fragment loaded from shared memory serves up to three kernel depths.
#include <cstdint>

#include "kernels/fused/unit_staging.h"
#include "kernels/fused/volume_tile.h"
#include "kernels/simt/tensor_core.h"

namespace mdcsrn {

// weights: packed B fragments, word ((tap * chunks + q) * 32 + lane) * 4 + 2 * nt + reg for output
// channels 8 nt..8 nt + 7 (kernels/fused/unit_forward.h and unit_backward.h pack them).
MDCSRN_DEVICE void convolve_staged_chunk(float (&acc)[VolumeTile::kDepth][2][4], simt::Shared<uint16_t> staged, const uint32_t* weights,
                                         int chunks, int q) {
  using Tile = VolumeTile;
  const int warp = int(simt::warp()), lane = int(simt::lane());
  // This lane's ldmatrix row: matrices 0/1 are A rows 0-7 / 8-15 with channels 0-7, matrices 2/3
  // the same rows with channels 8-15. Row r is output voxel (2 warp + r / 8, r % 8) of each depth.
  const int row = lane % 8 + 8 * ((lane / 8) % 2), half = lane / 16;
  const int lh = 2 * warp + row / 8, lw = row % 8;
  for (int kh = 0; kh < 3; ++kh)
    for (int kw = 0; kw < 3; ++kw) {
      uint32_t b[3][2][2];
      MDCSRN_UNROLL
      for (int kd = 0; kd < 3; ++kd) {
        const int tap = (kd * 3 + kh) * 3 + kw;
        const simt::Words4 w = simt::load16(weights + ((int64_t(tap) * chunks + q) * 32 + lane) * 4);
        b[kd][0][0] = w.x, b[kd][0][1] = w.y, b[kd][1][0] = w.z, b[kd][1][1] = w.w;
      }
      MDCSRN_UNROLL
      for (int p = 0; p < Tile::kHaloDepth; ++p) {
        uint32_t a[4];
        simt::ldmatrix<4>(a, staged, ((p * Tile::kHaloHeight + lh + kh) * Tile::kHaloWidth + lw + kw) * kSlotElements + 8 * half);
        MDCSRN_UNROLL
        for (int kd = 0; kd < 3; ++kd) {
          const int d = p - kd;
          if (d < 0 || d >= Tile::kDepth) continue;
          simt::mma_m16n8k16_bf16(acc[d][0], a, b[kd][0], acc[d][0]);
          simt::mma_m16n8k16_bf16(acc[d][1], a, b[kd][1], acc[d][1]);
        }
      }
    }
}

}  // namespace mdcsrn
