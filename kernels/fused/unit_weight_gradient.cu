#include "kernels/fused/unit_backward.h"
#include "kernels/fused/weight_gradient_partials.h"
#include "kernels/simt/launch.h"
#include "kernels/simt/tensor_core.h"

namespace mdcsrn::gpu {
namespace {

using Tile = VolumeTile;
constexpr int kWarps = 4;
constexpr int kTapsPerWarp = (27 + kWarps - 1) / kWarps;  // warp w takes taps w, w + 4, ...
constexpr size_t kActivationBytes = size_t(HaloRegion::kVoxels) * kSlotElements * 2;
constexpr size_t kGradientBytes = size_t(TileRegion::kVoxels) * kSlotElements * 2;

// Block b sums tiles [b T / B, (b + 1) T / B) into partials[b][16][Cin][27] (the weights' layout),
// one 16-channel input chunk at a time. For 16 voxels of the tile (a k step) the warp loads the A
// fragment dY^T (16 outputs x 16 voxels) once and multiplies it by the shifted activations of each
// of its taps (16 voxels x 16 channels, two B fragments): ldmatrix.trans reads both from the
// voxel-major slots.
MDCSRN_KERNEL void unit_weight_gradient_kernel(UnitBackward u, int64_t tiles, float* partials) {
  const UnitInput& in = u.input;
  const int warp = int(simt::warp()), lane = int(simt::lane()), chunks = in.count / 16;
  const TileRange range(tiles);
  const simt::Shared<simt::Words4> activation_slots = simt::shared<simt::Words4>(0, HaloRegion::kVoxels * kSlotWords4);
  const simt::Shared<simt::Words4> gradient_slots = simt::shared<simt::Words4>(kActivationBytes, TileRegion::kVoxels * kSlotWords4);
  const simt::Shared<uint16_t> activation = simt::shared<uint16_t>(0, HaloRegion::kVoxels * kSlotElements);
  const simt::Shared<uint16_t> gradient = simt::shared<uint16_t>(kActivationBytes, TileRegion::kVoxels * kSlotElements);
  // ldmatrix rows: matrix m = lane / 8. For A, voxel 8 (m / 2) + lane % 8 and outputs 8 (m % 2)..;
  // for B, voxel 8 (m % 2) + lane % 8 and channels 8 (m / 2)...
  const int m = lane / 8;
  const int a_voxel = 8 * (m / 2) + lane % 8, a_channel = 8 * (m % 2);
  const int b_voxel = 8 * (m % 2) + lane % 8, b_channel = 8 * (m / 2);
  float* block_partials = partials + int64_t(simt::block_idx().x) * 16 * in.count * 27;

  for (int q = 0; q < chunks; ++q) {
    float acc[kTapsPerWarp][2][4] = {};
    for (int64_t t = range.first; t < range.end; ++t) {
      const Tile tile(in.shape, unsigned(t));
      simt::barrier();  // the previous tile's fragments are read
      stage_activation<HaloRegion>(in, tile, q, activation_slots);
      stage_gradient<TileRegion>(in.features, in.shape, in.stride, u.output_channel, u.gradient, tile, gradient_slots);
      simt::barrier();
      for (int step = 0; step < TileRegion::kVoxels / 16; ++step) {
        uint32_t a[4];
        simt::ldmatrix<4, true>(a, gradient, (16 * step + a_voxel) * kSlotElements + a_channel);
        const int r = 16 * step + b_voxel;
        const int dd = r / (Tile::kHeight * Tile::kWidth), hh = r / Tile::kWidth % Tile::kHeight, ww = r % Tile::kWidth;
        MDCSRN_UNROLL
        for (int j = 0; j < kTapsPerWarp; ++j) {
          const int tap = warp + kWarps * j;
          if (tap >= 27) continue;
          const int kd = tap / 9, kh = tap / 3 % 3, kw = tap % 3;
          uint32_t b[4];
          simt::ldmatrix<4, true>(
              b, activation, (((dd + kd) * Tile::kHaloHeight + hh + kh) * Tile::kHaloWidth + ww + kw) * kSlotElements + b_channel);
          const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
          simt::mma_m16n8k16_bf16(acc[j][0], a, b0, acc[j][0]);
          simt::mma_m16n8k16_bf16(acc[j][1], a, b1, acc[j][1]);
        }
      }
    }
    MDCSRN_UNROLL
    for (int j = 0; j < kTapsPerWarp; ++j) {
      const int tap = warp + kWarps * j;
      if (tap >= 27) continue;
      for (int nt = 0; nt < 2; ++nt)
        for (int e = 0; e < 4; ++e) {
          const simt::FragmentPosition p = simt::mma_c_position(lane, e);
          const int c = 16 * q + 8 * nt + p.col;
          block_partials[(int64_t(p.row) * in.count + c) * 27 + tap] = acc[j][nt][e];
        }
    }
  }
}

}  // namespace

template <class Context>
void unit_weight_gradient(Context& ctx, const UnitBackward& u, float* weight_grad, int max_blocks) {
  const int64_t tiles = check_unit_launch("unit_weight_gradient", u.input, true, u.output_channel);
  MDCSRN_ASSERT(u.gradient.covers(u.output_channel, 16), "unit_weight_gradient: the raw gradients do not cover the outputs");
  const int64_t blocks = weight_gradient_blocks(tiles, max_blocks), weights = int64_t(16) * u.input.count * 27;
  auto* partials = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(blocks * weights)));
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(blocks)), simt::Dim3(32 * kWarps), kActivationBytes + kGradientBytes),
               unit_weight_gradient_kernel, u, tiles, partials);
  sum_block_partials(ctx, partials, blocks, weights, weight_grad);
}

using simt::TargetContext;
template void unit_weight_gradient(TargetContext&, const UnitBackward&, float*, int);

}  // namespace mdcsrn::gpu
