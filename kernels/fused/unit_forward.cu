#include "kernels/block_reduce.h"
#include "kernels/flat_grid.h"
#include "kernels/fused/tile_statistics.h"
#include "kernels/fused/unit_forward.h"
#include "kernels/simt/launch.h"
#include "kernels/simt/tensor_core.h"

namespace mdcsrn::gpu {
namespace {

using T = UnitTile;
using Tile = VolumeTile;

MDCSRN_DEVICE uint32_t transform_pair(const ActivationSpec& a, uint32_t pair, float scale0, float shift0, float scale1, float shift1) {
  const float lo = mdcsrn::activation_forward(a, bf16_to_float(bf16x2_low(pair)) * scale0 + shift0);
  const float hi = mdcsrn::activation_forward(a, bf16_to_float(bf16x2_high(pair)) * scale1 + shift1);
  return pack_bf16x2(float_to_bf16(lo), float_to_bf16(hi));
}

// Stages input channels [16 q, 16 q + 16) of the tile and its halo, transformed, into `slots`
// (three 16-byte words per voxel slot). Thread t always takes the same 8 channels (t % 2).
MDCSRN_DEVICE void stage_chunk(const UnitForward& u, const Tile& o, int q, simt::Shared<simt::Words4> slots) {
  const int t = int(simt::linear_thread()), half = t % 2;
  const int first = 16 * q + 8 * half;
  float scale[8], shift[8];
  for (int k = 0; k < 8; ++k) {
    scale[k] = u.scale[first + k];
    shift[k] = u.shift[first + k];
  }
  for (int slot = t / 2; slot < Tile::kHaloVoxels; slot += int(simt::block_threads()) / 2) {
    const int dd = slot / (Tile::kHaloHeight * Tile::kHaloWidth), hh = slot / Tile::kHaloWidth % Tile::kHaloHeight, ww = slot % Tile::kHaloWidth;
    const int64_t v = o.voxel(u.shape, dd - 1, hh - 1, ww - 1);
    simt::Words4 staged{0, 0, 0, 0};
    if (v >= 0) {
      const simt::Words4 x = simt::load16(u.features + v * u.stride + u.input_channel + first);
      staged = simt::Words4{transform_pair(u.activation, x.x, scale[0], shift[0], scale[1], shift[1]),
                            transform_pair(u.activation, x.y, scale[2], shift[2], scale[3], shift[3]),
                            transform_pair(u.activation, x.z, scale[4], shift[4], scale[5], shift[5]),
                            transform_pair(u.activation, x.w, scale[6], shift[6], scale[7], shift[7])};
    }
    slots.store(slot * 3 + half, staged);
  }
}

MDCSRN_KERNEL void unit_forward_kernel(UnitForward u, Moments<float>* partials) {
  const Tile o(u.shape, simt::block_idx().x);
  const int warp = int(simt::warp()), lane = int(simt::lane()), chunks = u.input_channels / T::kChunk;
  // This lane's ldmatrix row: matrices 0/1 are A rows 0-7 / 8-15 with channels 0-7, matrices 2/3
  // the same rows with channels 8-15. Row r is output voxel (2 warp + r / 8, r % 8) of each depth.
  const int row = lane % 8 + 8 * ((lane / 8) % 2), half = lane / 16;
  const int lh = 2 * warp + row / 8, lw = row % 8;
  float acc[Tile::kDepth][2][4] = {};
  for (int q = 0; q < chunks; ++q) {
    const size_t buffer = size_t(q % 2) * T::kBufferBytes;
    stage_chunk(u, o, q, simt::shared<simt::Words4>(buffer, Tile::kHaloVoxels * 3));
    simt::barrier();
    const simt::Shared<uint16_t> tile = simt::shared<uint16_t>(buffer, Tile::kHaloVoxels * T::kSlotElements);
    // For each in-plane shift, the three kernel depths' B fragments stay in registers while the
    // warp slides down the input planes.
    for (int kh = 0; kh < 3; ++kh)
      for (int kw = 0; kw < 3; ++kw) {
        uint32_t b[3][2][2];
        MDCSRN_UNROLL
        for (int kd = 0; kd < 3; ++kd) {
          const int tap = (kd * 3 + kh) * 3 + kw;
          const simt::Words4 w = simt::load16(u.weights + ((int64_t(tap) * chunks + q) * 32 + lane) * 4);
          b[kd][0][0] = w.x, b[kd][0][1] = w.y, b[kd][1][0] = w.z, b[kd][1][1] = w.w;
        }
        MDCSRN_UNROLL
        for (int p = 0; p < Tile::kHaloDepth; ++p) {
          uint32_t a[4];
          simt::ldmatrix<4>(a, tile, ((p * Tile::kHaloHeight + lh + kh) * Tile::kHaloWidth + lw + kw) * T::kSlotElements + 8 * half);
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

  // Outputs, rounded to bf16, and this lane's moments of its four channels (2 t, 2 t + 1, and 8 more).
  ShiftedMoments<float> lane_moments[4];
  MDCSRN_UNROLL
  for (int d = 0; d < Tile::kDepth; ++d)
    for (int nt = 0; nt < 2; ++nt)
      for (int pair = 0; pair < 2; ++pair) {
        const simt::FragmentPosition p = simt::mma_c_position(lane, 2 * pair);
        const int64_t v = o.voxel(u.shape, d, 2 * warp + p.row / 8, p.row % 8);
        if (v < 0) continue;
        const uint16_t lo = float_to_bf16(acc[d][nt][2 * pair]), hi = float_to_bf16(acc[d][nt][2 * pair + 1]);
        *reinterpret_cast<uint32_t*>(u.output + v * u.stride + u.output_channel + 8 * nt + p.col) = pack_bf16x2(lo, hi);
        lane_moments[2 * nt].push(bf16_to_float(lo));
        lane_moments[2 * nt + 1].push(bf16_to_float(hi));
      }
  const simt::Shared<Moments<float>> warp_moments =
      simt::shared<Moments<float>>(2 * size_t(T::kBufferBytes), T::kWarps * T::kOutputs);
  store_warp_moments(lane_moments, warp_moments, T::kOutputs, [](int k, int t) { return 8 * (k / 2) + 2 * t + k % 2; });
  simt::barrier();
  store_tile_moments(warp_moments, T::kWarps, T::kOutputs, partials);
}

MDCSRN_KERNEL void pack_weights_kernel(const float* w, int32_t input_channels, uint32_t* packed) {
  const int32_t chunks = input_channels / 16, words = 27 * chunks * 32 * 4;
  for (int32_t i = int32_t(flat_thread()); i < words; i += int32_t(flat_stride())) {
    const int32_t word = i % 4, lane = i / 4 % 32, q = i / 128 % chunks, tap = i / (128 * chunks);
    // B fragment register `word % 2` of output tile `word / 2`: column (output) lane / 4, rows
    // (input channels) 2 (lane % 4) + {0, 1}, +8 for register 1.
    const int32_t o = 8 * (word / 2) + lane / 4, c = 16 * q + 2 * (lane % 4) + 8 * (word % 2);
    packed[i] = pack_bf16x2(float_to_bf16(w[(int64_t(o) * input_channels + c) * 27 + tap]),
                            float_to_bf16(w[(int64_t(o) * input_channels + c + 1) * 27 + tap]));
  }
}

MDCSRN_KERNEL void fold_kernel(const float* gamma, const float* beta, const float* mean, const float* invstd, int64_t channels, float* scale,
                               float* shift) {
  for (int64_t c = flat_thread(); c < channels; c += flat_stride()) {
    scale[c] = gamma[c] * invstd[c];
    shift[c] = beta[c] - mean[c] * scale[c];
  }
}

}  // namespace

template <class Context>
void pack_unit_weights(Context& ctx, const float* weights, int input_channels, uint32_t* packed) {
  MDCSRN_REQUIRE(input_channels % 16 == 0, "pack_unit_weights: " + std::to_string(input_channels) + " input channels");
  simt::launch(ctx, flat_launch(packed_unit_weight_words(input_channels)), pack_weights_kernel, weights, int32_t(input_channels), packed);
}

template <class Context>
void fold_batchnorm(Context& ctx, const float* gamma, const float* beta, const float* mean, const float* invstd, int64_t channels,
                    float* scale, float* shift) {
  simt::launch(ctx, flat_launch(channels), fold_kernel, gamma, beta, mean, invstd, channels, scale, shift);
}

template <class Context>
void unit_forward(Context& ctx, const UnitForward& u, float eps, float* mean, float* var, float* invstd) {
  MDCSRN_REQUIRE(unit_forward_supported(u.input_channels, UnitTile::kOutputs),
                 "unit_forward: " + std::to_string(u.input_channels) + " input channels (needs a multiple of 16)");
  MDCSRN_REQUIRE(u.stride % 8 == 0 && u.input_channel % 8 == 0 && u.output_channel % 2 == 0 &&
                     u.input_channel + u.input_channels <= u.stride && u.output_channel + UnitTile::kOutputs <= u.stride,
                 "unit_forward: channel offsets must be multiples of 8 inside the voxel stride");
  // Blocks read their neighbours' halo: no launch may write channels it reads.
  MDCSRN_REQUIRE(u.output != u.features || u.output_channel >= u.input_channel + u.input_channels ||
                     u.output_channel + UnitTile::kOutputs <= u.input_channel,
                 "unit_forward: the output channels overlap the input channels");
  const int64_t tiles = Tile::count(u.shape);
  MDCSRN_REQUIRE(tiles >= 1 && tiles < (int64_t(1) << 31), "unit_forward: volume " + std::to_string(u.shape.voxels()) + " voxels");
  auto* partials = static_cast<Moments<float>*>(ctx.scratch(sizeof(Moments<float>) * size_t(tiles * T::kOutputs)));
  const size_t shared = 2 * size_t(T::kBufferBytes) + sizeof(Moments<float>) * T::kWarps * T::kOutputs;
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(tiles)), simt::Dim3(32 * T::kWarps), shared), unit_forward_kernel, u, partials);
  simt::launch(ctx, tile_statistics_launch(T::kOutputs), tile_statistics_kernel, partials, tiles, int32_t(T::kOutputs), eps, mean, var,
               invstd);
}

using simt::TargetContext;
template void pack_unit_weights(TargetContext&, const float*, int, uint32_t*);
template void fold_batchnorm(TargetContext&, const float*, const float*, const float*, const float*, int64_t, float*, float*);
template void unit_forward(TargetContext&, const UnitForward&, float, float*, float*, float*);

}  // namespace mdcsrn::gpu
