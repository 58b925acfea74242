#include "kernels/block_reduce.h"
#include "kernels/flat_grid.h"
#include "kernels/fused/unit_backward.h"
#include "kernels/fused/unit_convolution.h"
#include "kernels/reduce.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

using Tile = VolumeTile;
constexpr int kWarps = 4;
constexpr size_t kGradientBytes = size_t(HaloRegion::kVoxels) * kSlotElements * 2;
using Sums = SumPair<float>;  // sum g, sum g * xhat

// A block takes one tile: it stages dY with its halo once, then for each 16-channel chunk of the
// inputs convolves it with the flipped, transposed weights and finishes the chunk in its epilogue.
MDCSRN_KERNEL void unit_data_gradient_kernel(UnitBackward u, UnitDataGradient d, Sums* partials) {
  const UnitInput& in = u.input;
  const Tile tile(in.shape, simt::block_idx().x);
  const int warp = int(simt::warp()), lane = int(simt::lane()), chunks = in.count / 16;
  stage_gradient<HaloRegion>(in.features, in.shape, in.stride, u.output_channel, u.gradient, tile,
                             simt::shared<simt::Words4>(0, HaloRegion::kVoxels * kSlotWords4));
  simt::barrier();
  const simt::Shared<uint16_t> staged = simt::shared<uint16_t>(0, HaloRegion::kVoxels * kSlotElements);
  for (int q = 0; q < chunks; ++q) {
    float acc[Tile::kDepth][2][4] = {};
    convolve_staged_chunk(acc, staged, d.weights, chunks, q);

    // This lane's channels: 16 q + 8 nt + 2 (lane % 4) + k.
    float scale[2][2], shift[2][2], mean[2][2], invstd[2][2];
    Sums lane_sums[2][2];
    for (int nt = 0; nt < 2; ++nt)
      for (int k = 0; k < 2; ++k) {
        const int c = 16 * q + 8 * nt + 2 * (lane % 4) + k;
        scale[nt][k] = in.scale[c], shift[nt][k] = in.shift[c], mean[nt][k] = d.mean[c], invstd[nt][k] = d.invstd[c];
      }
    MDCSRN_UNROLL
    for (int dd = 0; dd < Tile::kDepth; ++dd)
      for (int nt = 0; nt < 2; ++nt)
        for (int pair = 0; pair < 2; ++pair) {
          const simt::FragmentPosition p = simt::mma_c_position(lane, 2 * pair);
          const int64_t v = tile.voxel(in.shape, dd, 2 * warp + p.row / 8, p.row % 8);
          if (v < 0) continue;
          const int32_t channel = in.channel + 16 * q + 8 * nt + p.col;
          const uint32_t xs = *reinterpret_cast<const uint32_t*>(in.features + v * in.stride + channel);
          float* raw = u.gradient.raw_at(v, channel);
          for (int k = 0; k < 2; ++k) {
            const float x = bf16_to_float(k == 0 ? bf16x2_low(xs) : bf16x2_high(xs));
            const float g = mdcsrn::activation_backward(in.activation, unit_preactivation(x, scale[nt][k], shift[nt][k]), acc[dd][nt][2 * pair + k]);
            raw[k] += scale[nt][k] * g;
            lane_sums[nt][k].push(g, g * ((x - mean[nt][k]) * invstd[nt][k]));
          }
        }

    // Lanes 4 g + t hold the same channels: merge them into lanes 0-3, then the warps in order.
    const simt::Shared<Sums> warp_sums = simt::shared<Sums>(kGradientBytes + sizeof(Sums) * size_t(q % 2) * kWarps * 16, kWarps * 16);
    for (int nt = 0; nt < 2; ++nt)
      for (int k = 0; k < 2; ++k) {
        Sums s = lane_sums[nt][k];
        for (unsigned offset = 16; offset >= 4; offset /= 2) s.merge(shuffle_down_words(s, offset));
        if (lane < 4) warp_sums.store(warp * 16 + 8 * nt + 2 * lane + k, s);
      }
    simt::barrier();  // the sums of chunk q - 2, in the same buffer, were read before the last one
    const int t = int(simt::linear_thread());
    if (t < 16) {
      Sums s;
      for (int w = 0; w < kWarps; ++w) s.merge(warp_sums.load(w * 16 + t));
      partials[int64_t(simt::block_idx().x) * in.count + 16 * q + t] = s;
    }
  }
}

// A channel's sums over tiles [first, first + tiles), merged by the block in tile order.
MDCSRN_DEVICE Sums block_tile_sums(const Sums* partials, int64_t first, int64_t tiles, int32_t count, int c) {
  const int t = int(simt::linear_thread()), threads = int(simt::block_threads());
  Sums s;
  const int64_t begin = first + tiles * t / threads, end = first + tiles * (t + 1) / threads;
  for (int64_t b = begin; b < end; ++b) s.merge(partials[b * count + c]);
  return block_reduce(s, simt::shared<Sums>(0, (threads + 31) / 32));
}

// One block per input channel merges the tiles' sums in tile order and finishes BatchNorm's
// backward: dgamma = sum g xhat, dbeta = sum g, and dX = a g + b x + c with
// b = -a invstd mean(g xhat), c = -a mean(g) + a invstd mean mean(g xhat). Data-parallel, the
// partials are every rank's (ranks x tiles, rank by rank): the means are the global batch's,
// dgamma and dbeta this rank's sums.
MDCSRN_KERNEL void batchnorm_coefficients_kernel(UnitBackward u, UnitDataGradient d, const Sums* partials, int64_t tiles, int32_t ranks,
                                                 int32_t rank) {
  const DeferredGradient& g = u.gradient;
  const int c = int(simt::block_idx().x), t = int(simt::linear_thread());
  const int32_t count = u.input.count;
  const Sums s = block_tile_sums(partials, 0, tiles * ranks, count, c);
  simt::barrier();  // the block reduction's shared memory is used again
  const Sums own = ranks > 1 ? block_tile_sums(partials, tiles * rank, tiles, count, c) : s;
  if (t != 0) return;
  const float voxels = float(u.input.shape.voxels() * ranks);
  const float a = u.input.scale[c], mean_g = s.first / voxels, mean_g_xhat = s.second / voxels;
  d.gamma_grad[c] = own.second;
  d.beta_grad[c] = own.first;
  const int32_t channel = u.input.channel + c;
  g.b[channel] += -a * d.invstd[c] * mean_g_xhat;
  g.c[channel] += -a * mean_g + a * d.invstd[c] * d.mean[c] * mean_g_xhat;
}

MDCSRN_KERNEL void pack_data_gradient_weights_kernel(const float* w, int32_t input_channels, uint32_t* packed) {
  const int32_t chunks = input_channels / 16, words = 27 * chunks * 32 * 4;
  for (int32_t i = int32_t(flat_thread()); i < words; i += int32_t(flat_stride())) {
    const int32_t word = i % 4, lane = i / 4 % 32, q = i / 128 % chunks, flipped = i / (128 * chunks);
    // B fragment register `word % 2` of input-channel tile `word / 2`: column (input channel)
    // lane / 4, rows (outputs) 2 (lane % 4) + {0, 1}, +8 for register 1.
    const int32_t c = 16 * q + 8 * (word / 2) + lane / 4, o = 2 * (lane % 4) + 8 * (word % 2), tap = 26 - flipped;
    packed[i] = pack_bf16x2(float_to_bf16(w[(int64_t(o) * input_channels + c) * 27 + tap]),
                            float_to_bf16(w[(int64_t(o + 1) * input_channels + c) * 27 + tap]));
  }
}

}  // namespace

template <class Context>
void pack_unit_data_gradient_weights(Context& ctx, const float* weights, int input_channels, uint32_t* packed) {
  MDCSRN_ASSERT(input_channels % 16 == 0, "pack_unit_data_gradient_weights: " + std::to_string(input_channels) + " input channels");
  simt::launch(ctx, flat_launch(packed_unit_data_gradient_words(input_channels)), pack_data_gradient_weights_kernel, weights,
               int32_t(input_channels), packed);
}

template <class Context>
void unit_data_gradient(Context& ctx, const UnitBackward& u, const UnitDataGradient& d, const Collectives* ranks) {
  const int64_t tiles = check_unit_launch("unit_data_gradient", u.input, true, u.output_channel);
  MDCSRN_ASSERT(u.gradient.covers(u.output_channel, 16) && u.gradient.covers(u.input.channel, u.input.count),
                 "unit_data_gradient: the raw gradients do not cover the unit's channels");
  const int64_t count = tiles * u.input.count;
  auto* partials = static_cast<Sums*>(ctx.scratch(sizeof(Sums) * size_t(count * (ranks ? 1 + ranks->size() : 1))));
  const size_t shared = kGradientBytes + 2 * sizeof(Sums) * kWarps * 16;
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(tiles)), simt::Dim3(32 * kWarps), shared), unit_data_gradient_kernel, u, d,
               partials);
  const Sums* merged = partials;
  if (ranks) {
    ranks->allgather(partials, sizeof(Sums) * size_t(count), partials + count);
    merged = partials + count;
  }
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(u.input.count)), simt::Dim3(kThreads), block_reduce_shared_bytes<Sums>()),
               batchnorm_coefficients_kernel, u, d, merged, tiles, int32_t(ranks ? ranks->size() : 1), int32_t(ranks ? ranks->rank() : 0));
}

using simt::TargetContext;
template void pack_unit_data_gradient_weights(TargetContext&, const float*, int, uint32_t*);
template void unit_data_gradient(TargetContext&, const UnitBackward&, const UnitDataGradient&, const Collectives*);

}  // namespace mdcsrn::gpu
