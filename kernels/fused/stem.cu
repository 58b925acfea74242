#include "kernels/fused/stem.h"
#include "kernels/fused/tile_statistics.h"
#include "kernels/fused/volume_tile.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

// A block computes a tile of output voxels, one per thread.
using Tile = VolumeTile;
constexpr int kVoxels = Tile::kVoxels, kHalo = Tile::kHaloVoxels;
constexpr int kRow = kStemOutputs + 1;  // staged outputs per voxel, padded against bank conflicts
constexpr int kGroups = kVoxels / 32;   // statistics: each thread takes one channel of 32 voxels

MDCSRN_KERNEL void stem_kernel(Tensor<const float> x, const float* weights, ChannelsLast out, Moments<float>* partials) {
  const VolumeShape shape = volume_shape(x.shape);
  const Tile tile(shape, simt::block_idx().x);
  const int t = int(simt::linear_thread()), threads = int(simt::block_threads());
  const simt::Shared<float> input = simt::shared<float>(0, kHalo);
  const simt::Shared<float> w = simt::shared<float>(sizeof(float) * kHalo, kStemOutputs * 27);
  const size_t staged_at = sizeof(float) * (kHalo + kStemOutputs * 27);
  const simt::Shared<float> staged = simt::shared<float>(staged_at, kVoxels * kRow);
  const simt::Shared<Moments<float>> group_moments =
      simt::shared<Moments<float>>(staged_at + sizeof(float) * kVoxels * kRow, kGroups * kStemOutputs);
  for (int i = t; i < kHalo; i += threads) {
    const int64_t v = tile.voxel(shape, i / (Tile::kHaloHeight * Tile::kHaloWidth) - 1, i / Tile::kHaloWidth % Tile::kHaloHeight - 1,
                                 i % Tile::kHaloWidth - 1);
    input.store(i, v >= 0 ? x.data[v] : 0.f);
  }
  for (int i = t; i < kStemOutputs * 27; i += threads) w.store(i, weights[i]);
  simt::barrier();

  const int dd = t / (Tile::kHeight * Tile::kWidth), hh = t / Tile::kWidth % Tile::kHeight, ww = t % Tile::kWidth;
  float neighbours[27];
  MDCSRN_UNROLL
  for (int k = 0; k < 27; ++k)
    neighbours[k] = input.load(((dd + k / 9) * Tile::kHaloHeight + hh + k / 3 % 3) * Tile::kHaloWidth + ww + k % 3);
  const int64_t v = tile.voxel(shape, dd, hh, ww);
  uint32_t pairs[kStemOutputs / 2];
  MDCSRN_UNROLL
  for (int o = 0; o < kStemOutputs; o += 2) {
    float sum0 = 0.f, sum1 = 0.f;
    for (int k = 0; k < 27; ++k) {
      sum0 += w.load(o * 27 + k) * neighbours[k];
      sum1 += w.load((o + 1) * 27 + k) * neighbours[k];
    }
    const uint16_t lo = float_to_bf16(sum0), hi = float_to_bf16(sum1);
    pairs[o / 2] = pack_bf16x2(lo, hi);
    staged.store(t * kRow + o, bf16_to_float(lo));
    staged.store(t * kRow + o + 1, bf16_to_float(hi));
  }
  if (v >= 0) {
    MDCSRN_UNROLL
    for (int q = 0; q < kStemOutputs / 8; ++q)
      simt::store16(out.voxel(v) + 8 * q, simt::Words4{pairs[4 * q], pairs[4 * q + 1], pairs[4 * q + 2], pairs[4 * q + 3]});
  }
  simt::barrier();

  // Thread (g, c): channel c over voxels 32 g .. 32 g + 31 of the tile.
  const int c = t % kStemOutputs, g = t / kStemOutputs;
  ShiftedMoments<float> m;
  for (int r = 32 * g; r < 32 * g + 32; ++r)
    if (tile.voxel(shape, r / (Tile::kHeight * Tile::kWidth), r / Tile::kWidth % Tile::kHeight, r % Tile::kWidth) >= 0)
      m.push(staged.load(r * kRow + c));
  group_moments.store(g * kStemOutputs + c, m.result());
  simt::barrier();
  store_tile_moments(group_moments, kGroups, kStemOutputs, partials);
}

}  // namespace

template <class Context>
void stem_forward(Context& ctx, Tensor<const float> x, const float* weights, ChannelsLast out, float eps, float* mean, float* var,
                  float* invstd, const Collectives* ranks) {
  MDCSRN_ASSERT(x.shape.c == 1 && x.contiguous(), "stem_forward: the input is [N, 1, D, H, W], dense");
  MDCSRN_ASSERT(out.shape.n == x.shape.n && out.shape.d == x.shape.d && out.shape.h == x.shape.h && out.shape.w == x.shape.w &&
                     out.stride % 8 == 0 && out.stride >= kStemOutputs,
                 "stem_forward: the feature buffer does not match the input " + x.shape.str());
  const int64_t tiles = Tile::count(out.shape);
  Moments<float>* partials = tile_moments_scratch(ctx, tiles, kStemOutputs, ranks);
  const size_t shared = sizeof(float) * (kHalo + kStemOutputs * 27 + kVoxels * kRow) + sizeof(Moments<float>) * kGroups * kStemOutputs;
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(tiles)), simt::Dim3(kVoxels), shared), stem_kernel, x, weights, out, partials);
  finish_tile_statistics(ctx, partials, tiles, kStemOutputs, eps, mean, var, invstd, ranks);
}

template void stem_forward(simt::TargetContext&, Tensor<const float>, const float*, ChannelsLast, float, float*, float*, float*,
                           const Collectives*);

}  // namespace mdcsrn::gpu
