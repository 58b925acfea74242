#include "kernels/fused/stem.h"
#include "kernels/fused/tile_statistics.h"
#include "kernels/fused/volume_tile.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

// A block computes a tile of output voxels: thread t takes 8 of the 32 outputs (group t % 4) at 4
// voxels consecutive along w (run t / 4), so that each weight it loads from shared memory serves
// 4 FMAs instead of 1 (the loads were the kernel's bound: bench/NOTES.md, issue 30).
using Tile = VolumeTile;
constexpr int kVoxels = Tile::kVoxels, kHalo = Tile::kHaloVoxels;
constexpr int kRunVoxels = 4, kOutputGroups = 4, kGroupOutputs = kStemOutputs / kOutputGroups;
static_assert(Tile::kWidth % kRunVoxels == 0 && (kVoxels / kRunVoxels) * kOutputGroups == kVoxels, "one thread a (run, output group)");
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

  const int group = t % kOutputGroups, run = t / kOutputGroups, runs_per_row = Tile::kWidth / kRunVoxels;
  const int dd = run / (Tile::kHeight * runs_per_row), hh = run / runs_per_row % Tile::kHeight, w0 = run % runs_per_row * kRunVoxels;
  // sums[j][o]: output group * 8 + o at voxel w0 + j, each over the taps in order. One input plane
  // of the run's neighbourhood at a time (3 x (4 + 2) values) keeps the registers low: 58 a thread
  // on sm_90, four blocks an SM (the whole neighbourhood took 130, one block).
  float sums[kRunVoxels][kGroupOutputs] = {};
  for (int kd = 0; kd < 3; ++kd) {
    float plane[3][kRunVoxels + 2];
    MDCSRN_UNROLL
    for (int kh = 0; kh < 3; ++kh)
      for (int x = 0; x < kRunVoxels + 2; ++x) plane[kh][x] = input.load(((dd + kd) * Tile::kHaloHeight + hh + kh) * Tile::kHaloWidth + w0 + x);
    MDCSRN_UNROLL
    for (int o = 0; o < kGroupOutputs; ++o)
      for (int kh = 0; kh < 3; ++kh)
        for (int kw = 0; kw < 3; ++kw) {
          const float weight = w.load((group * kGroupOutputs + o) * 27 + (kd * 3 + kh) * 3 + kw);
          MDCSRN_UNROLL
          for (int j = 0; j < kRunVoxels; ++j) sums[j][o] += weight * plane[kh][j + kw];
        }
  }
  MDCSRN_UNROLL
  for (int j = 0; j < kRunVoxels; ++j) {
    const int staged_voxel = (dd * Tile::kHeight + hh) * Tile::kWidth + w0 + j;
    uint32_t pairs[kGroupOutputs / 2];
    MDCSRN_UNROLL
    for (int o = 0; o < kGroupOutputs; o += 2) {
      const uint16_t lo = float_to_bf16(sums[j][o]), hi = float_to_bf16(sums[j][o + 1]);
      pairs[o / 2] = pack_bf16x2(lo, hi);
      staged.store(staged_voxel * kRow + group * kGroupOutputs + o, bf16_to_float(lo));
      staged.store(staged_voxel * kRow + group * kGroupOutputs + o + 1, bf16_to_float(hi));
    }
    const int64_t v = tile.voxel(shape, dd, hh, w0 + j);
    if (v >= 0) simt::store16(out.voxel(v) + kGroupOutputs * group, simt::Words4{pairs[0], pairs[1], pairs[2], pairs[3]});
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
