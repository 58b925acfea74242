#include "engine/error.h"
#include "kernels/fused/stem.h"
#include "kernels/fused/volume_tile.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

using Tile = VolumeTile;
// Thread t: tap group t % 8 (taps t % 8 + 8 j), outputs 2 p and 2 p + 1 (p = t / 8 % 16), over half
// t / 128 of each tile's voxels: each gradient value it loads serves up to four taps and each input
// value two outputs (the loads were the kernel's bound: bench/NOTES.md, issue 30).
constexpr int kTapGroups = 8, kTapsPerThread = (27 + kTapGroups - 1) / kTapGroups, kOutputsPerThread = 2, kVoxelHalves = 2;
constexpr int kBlockThreads = kTapGroups * (kStemOutputs / kOutputsPerThread) * kVoxelHalves;
static_assert(kBlockThreads == Tile::kVoxels, "one thread per tile voxel stages the gradient");
// A staged voxel's gradients, one row of the shared table, padded by a word: the lanes of a warp,
// consecutive voxels, then store each output into 32 different banks (unpadded, the 128-byte rows
// put all 32 in one bank).
constexpr int kGradientRow = kStemOutputs + 1;

// Block b sums its range of tiles into partials[b][32][27], each half of the voxels apart and the
// two halves added at the end (a fixed order).
MDCSRN_KERNEL void stem_weight_gradient_kernel(Tensor<const float> x, ChannelsLast f, DeferredGradient g, int64_t tiles, float* partials) {
  const VolumeShape shape = f.shape;
  const int t = int(simt::linear_thread()), group = t % kTapGroups, o = kOutputsPerThread * (t / kTapGroups % (kStemOutputs / kOutputsPerThread));
  const int half = t / (kBlockThreads / kVoxelHalves), half_voxels = Tile::kVoxels / kVoxelHalves;
  const simt::Shared<float> input = simt::shared<float>(0, Tile::kHaloVoxels);
  const simt::Shared<float> gradient = simt::shared<float>(sizeof(float) * Tile::kHaloVoxels, Tile::kVoxels * kGradientRow);
  float acc[kTapsPerThread][kOutputsPerThread] = {};
  const TileRange range(tiles);
  for (int64_t index = range.first; index < range.end; ++index) {
    const Tile tile(shape, unsigned(index));
    simt::barrier();  // the previous tile is read
    for (int i = t; i < Tile::kHaloVoxels; i += kBlockThreads) {
      const int64_t v = tile.voxel(shape, i / (Tile::kHaloHeight * Tile::kHaloWidth) - 1, i / Tile::kHaloWidth % Tile::kHaloHeight - 1,
                                   i % Tile::kHaloWidth - 1);
      input.store(i, v >= 0 ? x.data[v] : 0.f);
    }
    const int64_t v = tile.voxel(shape, t / (Tile::kHeight * Tile::kWidth), t / Tile::kWidth % Tile::kHeight, t % Tile::kWidth);
    for (int part = 0; part < kStemOutputs / 8; ++part) {
      float dy[8] = {};
      if (v >= 0) {
        const Coefficients8 k8(g, 8 * part);
        const simt::Float4 r0 = simt::load4(g.raw_at(v, 8 * part)), r1 = simt::load4(g.raw_at(v, 8 * part + 4));
        const float raw[8] = {r0.x, r0.y, r0.z, r0.w, r1.x, r1.y, r1.z, r1.w};
        const simt::Words4 xs = simt::load16(f.voxel(v) + 8 * part);
        const uint32_t pairs[4] = {xs.x, xs.y, xs.z, xs.w};
        for (int k = 0; k < 8; ++k) {
          const float feature = bf16_to_float(k % 2 == 0 ? bf16x2_low(pairs[k / 2]) : bf16x2_high(pairs[k / 2]));
          dy[k] = deferred_gradient_value(raw[k], k8.b[k], feature, k8.c[k]);
        }
      }
      for (int k = 0; k < 8; ++k) gradient.store(t * kGradientRow + 8 * part + k, dy[k]);
    }
    simt::barrier();
    for (int r = half * half_voxels; r < (half + 1) * half_voxels; ++r) {
      const int dd = r / (Tile::kHeight * Tile::kWidth), hh = r / Tile::kWidth % Tile::kHeight, ww = r % Tile::kWidth;
      const float dy0 = gradient.load(r * kGradientRow + o), dy1 = gradient.load(r * kGradientRow + o + 1);
      MDCSRN_UNROLL
      for (int j = 0; j < kTapsPerThread; ++j) {
        const int tap = group + kTapGroups * j;
        if (tap >= 27) continue;
        const float in = input.load(((dd + tap / 9) * Tile::kHaloHeight + hh + tap / 3 % 3) * Tile::kHaloWidth + ww + tap % 3);
        acc[j][0] += dy0 * in;
        acc[j][1] += dy1 * in;
      }
    }
  }
  // The second half's sums through shared memory (the gradient table, read by now), added to the first's.
  simt::barrier();
  const simt::Shared<float> second = simt::shared<float>(sizeof(float) * Tile::kHaloVoxels, kStemOutputs * 27);
  for (int j = 0; j < kTapsPerThread; ++j) {
    const int tap = group + kTapGroups * j;
    if (half == 1 && tap < 27)
      for (int k = 0; k < kOutputsPerThread; ++k) second.store((o + k) * 27 + tap, acc[j][k]);
  }
  simt::barrier();
  if (half == 1) return;
  float* block_partials = partials + int64_t(simt::block_idx().x) * kStemOutputs * 27;
  for (int j = 0; j < kTapsPerThread; ++j) {
    const int tap = group + kTapGroups * j;
    if (tap < 27)
      for (int k = 0; k < kOutputsPerThread; ++k) block_partials[(o + k) * 27 + tap] = acc[j][k] + second.load((o + k) * 27 + tap);
  }
}

}  // namespace

template <class Context>
void stem_weight_gradient(Context& ctx, Tensor<const float> x, ChannelsLast features, const DeferredGradient& g, float* weight_grad,
                          int max_blocks) {
  MDCSRN_ASSERT(x.shape.c == 1 && x.contiguous() && volume_shape(x.shape).voxels() == features.shape.voxels() &&
                     features.stride % 8 == 0 && features.stride >= kStemOutputs && g.covers(0, kStemOutputs),
                 "stem_weight_gradient: the feature buffer does not match the input " + x.shape.str());
  const int64_t tiles = Tile::count(features.shape), blocks = weight_gradient_blocks(tiles, max_blocks), weights = kStemOutputs * 27;
  auto* partials = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(blocks * weights)));
  const size_t shared = sizeof(float) * (Tile::kHaloVoxels + Tile::kVoxels * kGradientRow);
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(blocks)), simt::Dim3(kBlockThreads), shared), stem_weight_gradient_kernel, x,
               features, g, tiles, partials);
  sum_block_partials(ctx, partials, blocks, weights, weight_grad);
}

template void stem_weight_gradient(simt::TargetContext&, Tensor<const float>, ChannelsLast, const DeferredGradient&, float*, int);

}  // namespace mdcsrn::gpu
