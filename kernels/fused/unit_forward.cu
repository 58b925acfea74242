#include "kernels/block_reduce.h"
#include "kernels/flat_grid.h"
#include "kernels/fused/tile_statistics.h"
#include "kernels/fused/unit_convolution.h"
#include "kernels/fused/unit_forward.h"
#include "kernels/simt/launch.h"
#include "kernels/simt/tensor_core.h"

namespace mdcsrn::gpu {
namespace {

using T = UnitTile;
using Tile = VolumeTile;

MDCSRN_KERNEL void unit_forward_kernel(UnitForward u, Moments<float>* partials) {
  const UnitInput& in = u.input;
  const Tile o(in.shape, simt::block_idx().x);
  const int warp = int(simt::warp()), lane = int(simt::lane()), chunks = in.count / T::kChunk;
  float acc[Tile::kDepth][2][4] = {};
  for (int q = 0; q < chunks; ++q) {
    const size_t buffer = size_t(q % 2) * T::kBufferBytes;
    stage_activation<HaloRegion>(in, o, q, simt::shared<simt::Words4>(buffer, HaloRegion::kVoxels * kSlotWords4));
    simt::barrier();
    convolve_staged_chunk(acc, simt::shared<uint16_t>(buffer, HaloRegion::kVoxels * kSlotElements), u.weights, chunks, q);
  }

  // Outputs, rounded to bf16, and this lane's moments of its four channels (2 t, 2 t + 1, and 8 more).
  ShiftedMoments<float> lane_moments[4];
  MDCSRN_UNROLL
  for (int d = 0; d < Tile::kDepth; ++d)
    for (int nt = 0; nt < 2; ++nt)
      for (int pair = 0; pair < 2; ++pair) {
        const simt::FragmentPosition p = simt::mma_c_position(lane, 2 * pair);
        const int64_t v = o.voxel(in.shape, d, 2 * warp + p.row / 8, p.row % 8);
        if (v < 0) continue;
        const uint16_t lo = float_to_bf16(acc[d][nt][2 * pair]), hi = float_to_bf16(acc[d][nt][2 * pair + 1]);
        *reinterpret_cast<uint32_t*>(u.output + v * in.stride + u.output_channel + 8 * nt + p.col) = pack_bf16x2(lo, hi);
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
  MDCSRN_ASSERT(input_channels % 16 == 0, "pack_unit_weights: " + std::to_string(input_channels) + " input channels");
  simt::launch(ctx, flat_launch(packed_unit_weight_words(input_channels)), pack_weights_kernel, weights, int32_t(input_channels), packed);
}

template <class Context>
void fold_batchnorm(Context& ctx, const float* gamma, const float* beta, const float* mean, const float* invstd, int64_t channels,
                    float* scale, float* shift) {
  simt::launch(ctx, flat_launch(channels), fold_kernel, gamma, beta, mean, invstd, channels, scale, shift);
}

template <class Context>
void unit_forward(Context& ctx, const UnitForward& u, float eps, float* mean, float* var, float* invstd, const Collectives* ranks) {
  const int64_t tiles = check_unit_launch("unit_forward", u.input, u.output == u.input.features, u.output_channel);
  Moments<float>* partials = tile_moments_scratch(ctx, tiles, T::kOutputs, ranks);
  const size_t shared = 2 * size_t(T::kBufferBytes) + sizeof(Moments<float>) * T::kWarps * T::kOutputs;
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(tiles)), simt::Dim3(32 * T::kWarps), shared), unit_forward_kernel, u, partials);
  finish_tile_statistics(ctx, partials, tiles, T::kOutputs, eps, mean, var, invstd, ranks);
}

using simt::TargetContext;
template void pack_unit_weights(TargetContext&, const float*, int, uint32_t*);
template void fold_batchnorm(TargetContext&, const float*, const float*, const float*, const float*, int64_t, float*, float*);
template void unit_forward(TargetContext&, const UnitForward&, float, float*, float*, float*, const Collectives*);

}  // namespace mdcsrn::gpu
