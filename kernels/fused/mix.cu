#include "kernels/fused/mix.h"
#include "kernels/fused/slot_pieces.h"
#include "kernels/fused/tile_statistics.h"
#include "kernels/flat_grid.h"
#include "kernels/simt/launch.h"
#include "kernels/simt/tensor_core.h"

namespace mdcsrn::gpu {
namespace {

// A compressor block: 128 consecutive voxels, four warps of 32 voxels (two m-tiles) x 32 outputs
// (four n-tiles); input channels come 32 at a time, double-buffered by cp.async.
constexpr int kVoxels = 128, kWarps = 4, kChunk = 32;
// A staged voxel's 32 channels take 64 bytes of an 80-byte slot: eight consecutive slots fall in
// distinct 16-byte bank groups for ldmatrix.
constexpr int kSlotElements = 40;
constexpr size_t kBufferBytes = size_t(kVoxels) * kSlotElements * 2;

// Thread t brings 16-byte pieces t, t + 128, ... of the chunk (slot_piece's order): a voxel's
// channels 8 part. Past the volume's end or the last input channel, a zero-filled copy that reads
// nothing (from a valid address): zeros times the zero-padded weights.
MDCSRN_DEVICE void issue_chunk(const ChannelsLast& f, int32_t inputs, int64_t first_voxel, int q, simt::Shared<uint16_t> buffer) {
  const int64_t voxels = f.shape.voxels();
  for (int piece = int(simt::linear_thread()); piece < kVoxels * kChunk / 8; piece += int(simt::block_threads())) {
    const SlotPiece at = slot_piece(piece, kChunk / 8);
    const int r = at.voxel, part = at.part, channel = kChunk * q + 8 * part;
    const int64_t v = first_voxel + r;
    const bool present = v < voxels && channel < inputs;
    simt::cp_async<16>(buffer, r * kSlotElements + 8 * part, f.voxel(present ? v : 0) + (present ? channel : 0), present ? 16 : 0);
  }
}

MDCSRN_KERNEL void compressor_kernel(ChannelsLast f, int32_t inputs, const uint32_t* packed, int32_t output_channel,
                                     Moments<float>* partials) {
  const int64_t first_voxel = int64_t(simt::block_idx().x) * kVoxels;
  const int warp = int(simt::warp()), lane = int(simt::lane()), chunks = (inputs + kChunk - 1) / kChunk;
  const int row = lane % 8 + 8 * ((lane / 8) % 2), half = lane / 16;  // this lane's ldmatrix row and channel half
  float acc[2][4][4] = {};
  issue_chunk(f, inputs, first_voxel, 0, simt::shared<uint16_t>(0, kVoxels * kSlotElements));
  simt::cp_async_commit();
  for (int q = 0; q < chunks; ++q) {
    if (q + 1 < chunks)
      issue_chunk(f, inputs, first_voxel, q + 1, simt::shared<uint16_t>(((q + 1) % 2) * kBufferBytes, kVoxels * kSlotElements));
    simt::cp_async_commit();
    simt::cp_async_wait<1>();  // chunk q has landed (this thread's part of it)
    simt::barrier();           // and every thread's
    const simt::Shared<uint16_t> tile = simt::shared<uint16_t>((q % 2) * kBufferBytes, kVoxels * kSlotElements);
    MDCSRN_UNROLL
    for (int k = 0; k < kChunk / 16; ++k) {
      uint32_t b[4][2];
      const int64_t step = int64_t(q) * (kChunk / 16) + k;
      const simt::Words4 low = simt::load16(packed + (step * 32 + lane) * 8), high = simt::load16(packed + (step * 32 + lane) * 8 + 4);
      b[0][0] = low.x, b[0][1] = low.y, b[1][0] = low.z, b[1][1] = low.w;
      b[2][0] = high.x, b[2][1] = high.y, b[3][0] = high.z, b[3][1] = high.w;
      MDCSRN_UNROLL
      for (int mt = 0; mt < 2; ++mt) {
        uint32_t a[4];
        simt::ldmatrix<4>(a, tile, (32 * warp + 16 * mt + row) * kSlotElements + 16 * k + 8 * half);
        MDCSRN_UNROLL
        for (int nt = 0; nt < 4; ++nt) simt::mma_m16n8k16_bf16(acc[mt][nt], a, b[nt], acc[mt][nt]);
      }
    }
    simt::barrier();  // everyone is done with this buffer before it is refilled
  }
  simt::cp_async_wait<0>();

  ShiftedMoments<float> lane_moments[8];  // channel 8 nt + 2 t + j at k = 2 nt + j
  const int64_t voxels = f.shape.voxels();
  MDCSRN_UNROLL
  for (int mt = 0; mt < 2; ++mt)
    for (int nt = 0; nt < 4; ++nt)
      for (int pair = 0; pair < 2; ++pair) {
        const simt::FragmentPosition p = simt::mma_c_position(lane, 2 * pair);
        const int64_t v = first_voxel + 32 * warp + 16 * mt + p.row;
        if (v >= voxels) continue;
        const uint16_t lo = float_to_bf16(acc[mt][nt][2 * pair]), hi = float_to_bf16(acc[mt][nt][2 * pair + 1]);
        *reinterpret_cast<uint32_t*>(f.voxel(v) + output_channel + 8 * nt + p.col) = pack_bf16x2(lo, hi);
        lane_moments[2 * nt].push(bf16_to_float(lo));
        lane_moments[2 * nt + 1].push(bf16_to_float(hi));
      }
  const simt::Shared<Moments<float>> warp_moments = simt::shared<Moments<float>>(2 * kBufferBytes, kWarps * kCompressorOutputs);
  store_warp_moments(lane_moments, warp_moments, kCompressorOutputs, [](int k, int t) { return 8 * (k / 2) + 2 * t + k % 2; });
  simt::barrier();
  store_tile_moments(warp_moments, kWarps, kCompressorOutputs, partials);
}

MDCSRN_KERNEL void pack_kernel(const float* folded, int32_t inputs, int32_t words, uint32_t* packed) {
  for (int32_t i = int32_t(flat_thread()); i < words; i += int32_t(flat_stride())) {
    const int32_t word = i % 8, lane = i / 8 % 32, step = i / 256;
    // Register word % 2 of output tile word / 2: output 8 (word / 2) + lane / 4, inputs
    // 16 step + 2 (lane % 4) + {0, 1}, +8 for register 1; zero past the last input.
    const int32_t o = 8 * (word / 2) + lane / 4, c = 16 * step + 2 * (lane % 4) + 8 * (word % 2);
    packed[i] = c < inputs ? pack_bf16x2(float_to_bf16(folded[int64_t(o) * inputs + c]), float_to_bf16(folded[int64_t(o) * inputs + c + 1]))
                           : 0u;
  }
}

// One thread per voxel: the dot product of its first `inputs` channels with the weights.
MDCSRN_KERNEL void reconstruction_kernel(ChannelsLast f, int32_t inputs, const float* weights, float* out) {
  const simt::Shared<float> w = simt::shared<float>(0, inputs);
  for (int c = int(simt::linear_thread()); c < inputs; c += int(simt::block_threads())) w.store(c, weights[c]);
  simt::barrier();
  const int64_t v = flat_thread();
  if (v >= f.shape.voxels()) return;
  float sum = 0.f;
  for (int c = 0; c < inputs; c += 8) {
    const simt::Words4 x = simt::load16(f.voxel(v) + c);
    const uint32_t pairs[4] = {x.x, x.y, x.z, x.w};
    for (int j = 0; j < 4; ++j) {
      sum += w.load(c + 2 * j) * bf16_to_float(bf16x2_low(pairs[j]));
      sum += w.load(c + 2 * j + 1) * bf16_to_float(bf16x2_high(pairs[j]));
    }
  }
  out[v] = sum;
}

}  // namespace

template <class Context>
void pack_compressor_weights(Context& ctx, const float* folded, int inputs, uint32_t* packed) {
  MDCSRN_ASSERT(inputs % 16 == 0, "pack_compressor_weights: " + std::to_string(inputs) + " inputs (needs a multiple of 16)");
  const int64_t words = packed_compressor_weight_words(inputs);
  simt::launch(ctx, flat_launch(words), pack_kernel, folded, int32_t(inputs), int32_t(words), packed);
}

template <class Context>
void compressor_forward(Context& ctx, ChannelsLast features, int inputs, const uint32_t* packed, int output_channel, float eps, float* mean,
                        float* var, float* invstd, const Collectives* ranks) {
  MDCSRN_ASSERT(inputs % 16 == 0 && inputs <= features.stride && features.stride % 8 == 0 && output_channel % 2 == 0 &&
                     output_channel + kCompressorOutputs <= features.stride,
                 "compressor_forward: " + std::to_string(inputs) + " inputs, output at channel " + std::to_string(output_channel) +
                     " of " + std::to_string(features.stride));
  // Channels past `inputs` are zero-filled, never read, so the outputs may follow the inputs at once.
  MDCSRN_ASSERT(output_channel >= inputs, "compressor_forward: the output channels overlap the inputs");
  const int64_t tiles = (features.shape.voxels() + kVoxels - 1) / kVoxels;
  MDCSRN_ASSERT(tiles >= 1 && tiles < (int64_t(1) << 31), "compressor_forward: " + std::to_string(features.shape.voxels()) + " voxels");
  Moments<float>* partials = tile_moments_scratch(ctx, tiles, kCompressorOutputs, ranks);
  const size_t shared = 2 * kBufferBytes + sizeof(Moments<float>) * kWarps * kCompressorOutputs;
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(tiles)), simt::Dim3(32 * kWarps), shared), compressor_kernel, features,
               int32_t(inputs), packed, int32_t(output_channel), partials);
  finish_tile_statistics(ctx, partials, tiles, kCompressorOutputs, eps, mean, var, invstd, ranks);
}

template <class Context>
void reconstruction_forward(Context& ctx, ChannelsLast features, int inputs, const float* weights, float* out) {
  MDCSRN_ASSERT(inputs % 8 == 0 && inputs <= features.stride && features.stride % 8 == 0,
                 "reconstruction_forward: " + std::to_string(inputs) + " inputs of " + std::to_string(features.stride));
  const int64_t voxels = features.shape.voxels();
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned((voxels + kThreads - 1) / kThreads)), simt::Dim3(kThreads), sizeof(float) * inputs),
               reconstruction_kernel, features, int32_t(inputs), weights, out);
}

using simt::TargetContext;
template void pack_compressor_weights(TargetContext&, const float*, int, uint32_t*);
template void compressor_forward(TargetContext&, ChannelsLast, int, const uint32_t*, int, float, float*, float*, float*, const Collectives*);
template void reconstruction_forward(TargetContext&, ChannelsLast, int, const float*, float*);

}  // namespace mdcsrn::gpu
