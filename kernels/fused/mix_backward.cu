#include "kernels/flat_grid.h"
#include "kernels/fused/mix.h"
#include "kernels/fused/slot_pieces.h"
#include "kernels/simt/launch.h"
#include "kernels/simt/tensor_core.h"

namespace mdcsrn::gpu {
namespace {

// Blocks of both GEMMs take 128 consecutive voxels; the weight gradient's four warps take 16 input
// channels each of a 64-channel chunk, the data gradient's 32 voxels each.
constexpr int kVoxels = 128, kWarps = 4, kChunk = 64;
// Staged rows are padded by 8 elements, so that rows fall an odd number of 16-byte bank groups
// apart and ldmatrix reads eight consecutive rows without bank conflicts.
constexpr int kGradientSlot = 32 + 8, kFeatureSlot = kChunk + 8;

MDCSRN_KERNEL void compressor_output_gradient_kernel(ChannelsLast f, DeferredGradient g, int32_t channel, MixGradients G, int32_t column) {
  for (int64_t i = flat_thread(); i < G.voxels * 4; i += flat_stride()) {
    const int64_t v = i / 4;
    const int32_t first = channel + 8 * int32_t(i % 4);
    const simt::Words4 x = simt::load16(f.voxel(v) + first);
    simt::store16(G.data + v * G.columns + column + 8 * (i % 4), deferred_gradient_bf16x8(g, v, first, Coefficients8(g, first), x));
  }
}

MDCSRN_KERNEL void reconstruction_output_gradient_kernel(const float* dout, MixGradients G, int32_t column) {
  for (int64_t v = flat_thread(); v < G.voxels; v += flat_stride()) {
    uint16_t* row = G.data + v * G.columns + column;
    simt::store16(row, simt::Words4{pack_bf16x2(float_to_bf16(dout[v]), 0), 0, 0, 0});
    simt::store16(row + 8, simt::Words4{0, 0, 0, 0});
  }
}

// Block b sums its tiles of 128 voxels into partials[b][outputs][inputs]. Per 16 voxels (a k step)
// a warp multiplies G^T (16 outputs x 16 voxels, per group of 16 columns) by its 16 channels of
// the features (16 voxels x 16 channels): ldmatrix.trans reads both from voxel-major rows.
MDCSRN_KERNEL void mix_weight_gradient_kernel(ChannelsLast f, int32_t inputs, MixGradients G, int32_t column, int32_t outputs, int64_t tiles,
                                              float* partials) {
  const int warp = int(simt::warp()), lane = int(simt::lane()), t = int(simt::linear_thread()), threads = int(simt::block_threads());
  const int column_groups = (outputs + 15) / 16;
  const TileRange range(tiles);
  const simt::Shared<uint16_t> gradient = simt::shared<uint16_t>(0, kVoxels * kGradientSlot);
  const simt::Shared<uint16_t> features = simt::shared<uint16_t>(sizeof(uint16_t) * kVoxels * kGradientSlot, kVoxels * kFeatureSlot);
  const simt::Shared<simt::Words4> gradient_words = simt::shared<simt::Words4>(0, kVoxels * kGradientSlot / 8);
  const simt::Shared<simt::Words4> feature_words =
      simt::shared<simt::Words4>(sizeof(uint16_t) * kVoxels * kGradientSlot, kVoxels * kFeatureSlot / 8);
  const int m = lane / 8;
  const int a_voxel = 8 * (m / 2) + lane % 8, a_column = 8 * (m % 2);
  const int b_voxel = 8 * (m % 2) + lane % 8, b_channel = 8 * (m / 2);
  float* block_partials = partials + int64_t(simt::block_idx().x) * outputs * inputs;
  const int64_t voxels = f.shape.voxels();

  for (int32_t chunk = 0; chunk < inputs; chunk += kChunk) {
    const int32_t first = chunk + 16 * warp;
    const bool active = first < inputs;  // the warp has channels in this chunk
    float acc[2][2][4] = {};
    for (int64_t tile = range.first; tile < range.end; ++tile) {
      const int64_t first_voxel = tile * kVoxels;
      simt::barrier();  // the previous tile's fragments are read
      for (int piece = t; piece < kVoxels * 2 * column_groups; piece += threads) {
        const SlotPiece at = slot_piece(piece, 2 * column_groups);
        const int r = at.voxel, part = at.part;
        const int64_t v = first_voxel + r;
        gradient_words.store(r * kGradientSlot / 8 + part,
                             v < voxels ? simt::load16(G.data + v * G.columns + column + 8 * part) : simt::Words4{0, 0, 0, 0});
      }
      for (int piece = t; piece < kVoxels * kChunk / 8; piece += threads) {
        const SlotPiece at = slot_piece(piece, kChunk / 8);
        const int r = at.voxel, part = at.part;
        const int64_t v = first_voxel + r;
        const int32_t c = chunk + 8 * part;
        feature_words.store(r * kFeatureSlot / 8 + part, v < voxels && c < inputs ? simt::load16(f.voxel(v) + c) : simt::Words4{0, 0, 0, 0});
      }
      simt::barrier();
      if (!active) continue;
      for (int step = 0; step < kVoxels / 16; ++step) {
        uint32_t b[4];
        simt::ldmatrix<4, true>(b, features, (16 * step + b_voxel) * kFeatureSlot + 16 * warp + b_channel);
        const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
        MDCSRN_UNROLL
        for (int mt = 0; mt < 2; ++mt) {
          if (mt >= column_groups) continue;
          uint32_t a[4];
          simt::ldmatrix<4, true>(a, gradient, (16 * step + a_voxel) * kGradientSlot + 16 * mt + a_column);
          simt::mma_m16n8k16_bf16(acc[mt][0], a, b0, acc[mt][0]);
          simt::mma_m16n8k16_bf16(acc[mt][1], a, b1, acc[mt][1]);
        }
      }
    }
    if (!active) continue;
    MDCSRN_UNROLL
    for (int mt = 0; mt < 2; ++mt)
      for (int nt = 0; nt < 2; ++nt)
        for (int e = 0; e < 4; ++e) {
          const simt::FragmentPosition p = simt::mma_c_position(lane, e);
          const int o = 16 * mt + p.row;
          if (o < outputs) block_partials[int64_t(o) * inputs + first + 8 * nt + p.col] = acc[mt][nt][e];
        }
  }
}

MDCSRN_KERNEL void pack_data_gradient_kernel(const float* folded, const int32_t* column_rows, int32_t columns, int32_t first_channel,
                                             int32_t channels, uint32_t* packed) {
  const int32_t groups = channels / 16, words = columns / 16 * groups * 32 * 4;
  for (int32_t i = int32_t(flat_thread()); i < words; i += int32_t(flat_stride())) {
    const int32_t word = i % 4, lane = i / 4 % 32, j = i / 128 % groups, step = i / (128 * groups);
    // B fragment register `word % 2` of channel tile `word / 2`: column (channel) lane / 4, rows
    // (gradient columns) 2 (lane % 4) + {0, 1}, +8 for register 1.
    const int32_t k = 16 * step + 2 * (lane % 4) + 8 * (word % 2), n = first_channel + 16 * j + 8 * (word / 2) + lane / 4;
    const float low = column_rows[k] >= 0 ? folded[column_rows[k] + n] : 0.f;
    const float high = column_rows[k + 1] >= 0 ? folded[column_rows[k + 1] + n] : 0.f;
    packed[i] = pack_bf16x2(float_to_bf16(low), float_to_bf16(high));
  }
}

// A block stages its voxels' gradient columns once and keeps its warp's A fragments of every k
// step in registers, then multiplies them by the weights, 16 channels at a time.
MDCSRN_KERNEL void mix_data_gradient_kernel(MixGradients G, int32_t first_column, const uint32_t* packed, DeferredGradient g,
                                            int32_t first_channel, int32_t channels) {
  constexpr int kMaxSteps = kMaxMixGradientColumns / 16;
  const int warp = int(simt::warp()), lane = int(simt::lane()), t = int(simt::linear_thread()), threads = int(simt::block_threads());
  const int columns = G.columns - first_column, steps = columns / 16, slot = columns + 8;
  const int64_t first_voxel = int64_t(simt::block_idx().x) * kVoxels;
  const simt::Shared<simt::Words4> words = simt::shared<simt::Words4>(0, kVoxels * slot / 8);
  for (int piece = t; piece < kVoxels * columns / 8; piece += threads) {
    const SlotPiece at = slot_piece(piece, columns / 8);
    const int r = at.voxel, part = at.part;
    const int64_t v = first_voxel + r;
    words.store(r * slot / 8 + part, v < G.voxels ? simt::load16(G.data + v * G.columns + first_column + 8 * part) : simt::Words4{0, 0, 0, 0});
  }
  simt::barrier();
  const simt::Shared<uint16_t> staged = simt::shared<uint16_t>(0, kVoxels * slot);
  const int row = lane % 8 + 8 * ((lane / 8) % 2), half = lane / 16;
  uint32_t a[kMaxSteps][2][4];
  MDCSRN_UNROLL
  for (int s = 0; s < kMaxSteps; ++s)
    for (int mt = 0; mt < 2; ++mt)
      if (s < steps) simt::ldmatrix<4>(a[s][mt], staged, (32 * warp + 16 * mt + row) * slot + 16 * s + 8 * half);
  for (int j = 0; j < channels / 16; ++j) {
    float acc[2][2][4] = {};
    MDCSRN_UNROLL
    for (int s = 0; s < kMaxSteps; ++s) {
      if (s >= steps) continue;
      const simt::Words4 w = simt::load16(packed + ((int64_t(s) * (channels / 16) + j) * 32 + lane) * 4);
      const uint32_t b0[2] = {w.x, w.y}, b1[2] = {w.z, w.w};
      for (int mt = 0; mt < 2; ++mt) {
        simt::mma_m16n8k16_bf16(acc[mt][0], a[s][mt], b0, acc[mt][0]);
        simt::mma_m16n8k16_bf16(acc[mt][1], a[s][mt], b1, acc[mt][1]);
      }
    }
    MDCSRN_UNROLL
    for (int mt = 0; mt < 2; ++mt)
      for (int nt = 0; nt < 2; ++nt)
        for (int pair = 0; pair < 2; ++pair) {
          const simt::FragmentPosition p = simt::mma_c_position(lane, 2 * pair);
          const int64_t v = first_voxel + 32 * warp + 16 * mt + p.row;
          if (v >= G.voxels) continue;
          float* out = g.raw_at(v, first_channel + 16 * j + 8 * nt + p.col);
          out[0] = acc[mt][nt][2 * pair];
          out[1] = acc[mt][nt][2 * pair + 1];
        }
  }
}

void check_gradients(const std::string& who, const MixGradients& G, int column, int width) {
  MDCSRN_ASSERT(G.columns % 16 == 0 && column % 16 == 0 && column + width <= G.columns,
                 who + ": columns [" + std::to_string(column) + ", +" + std::to_string(width) + ") of " + std::to_string(G.columns));
}

}  // namespace

template <class Context>
void compressor_output_gradient(Context& ctx, ChannelsLast features, const DeferredGradient& g, int channel, MixGradients G, int column) {
  check_gradients("compressor_output_gradient", G, column, kCompressorOutputs);
  MDCSRN_ASSERT(channel % 8 == 0 && channel + kCompressorOutputs <= features.stride && G.voxels == features.shape.voxels() &&
                     g.covers(channel, kCompressorOutputs),
                 "compressor_output_gradient: channels " + std::to_string(channel) + " of " + std::to_string(features.stride));
  simt::launch(ctx, flat_launch(G.voxels * 4), compressor_output_gradient_kernel, features, g, int32_t(channel), G, int32_t(column));
}

template <class Context>
void reconstruction_output_gradient(Context& ctx, const float* dout, MixGradients G, int column) {
  check_gradients("reconstruction_output_gradient", G, column, kReconstructionColumns);
  simt::launch(ctx, flat_launch(G.voxels), reconstruction_output_gradient_kernel, dout, G, int32_t(column));
}

template <class Context>
void mix_weight_gradient(Context& ctx, ChannelsLast features, int inputs, MixGradients G, int column, int outputs, float* folded_grad,
                         int max_blocks) {
  check_gradients("mix_weight_gradient", G, column, (outputs + 15) / 16 * 16);
  MDCSRN_ASSERT(outputs >= 1 && outputs <= 32 && inputs % 16 == 0 && inputs <= features.stride && G.voxels == features.shape.voxels(),
                 "mix_weight_gradient: " + std::to_string(outputs) + " outputs over " + std::to_string(inputs) + " inputs");
  const int64_t tiles = (G.voxels + kVoxels - 1) / kVoxels, blocks = weight_gradient_blocks(tiles, max_blocks);
  const int64_t weights = int64_t(outputs) * inputs;
  auto* partials = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(blocks * weights)));
  const size_t shared = sizeof(uint16_t) * kVoxels * (kGradientSlot + kFeatureSlot);
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(blocks)), simt::Dim3(32 * kWarps), shared), mix_weight_gradient_kernel, features,
               int32_t(inputs), G, int32_t(column), int32_t(outputs), tiles, partials);
  sum_block_partials(ctx, partials, blocks, weights, folded_grad);
}

template <class Context>
void pack_mix_data_gradient_weights(Context& ctx, const float* folded, const int32_t* column_rows, int columns, int first_channel,
                                    int channels, uint32_t* packed) {
  MDCSRN_ASSERT(columns % 16 == 0 && channels % 16 == 0 && columns <= kMaxMixGradientColumns,
                 "pack_mix_data_gradient_weights: " + std::to_string(columns) + " columns, " + std::to_string(channels) + " channels");
  simt::launch(ctx, flat_launch(packed_mix_data_gradient_words(columns, channels)), pack_data_gradient_kernel, folded, column_rows,
               int32_t(columns), int32_t(first_channel), int32_t(channels), packed);
}

template <class Context>
void mix_data_gradient(Context& ctx, MixGradients G, int first_column, const uint32_t* packed, const DeferredGradient& g, int first_channel,
                       int channels) {
  const int columns = G.columns - first_column;
  check_gradients("mix_data_gradient", G, first_column, columns);
  MDCSRN_ASSERT(columns >= 16 && columns <= kMaxMixGradientColumns && channels % 16 == 0 && g.covers(first_channel, channels),
                 "mix_data_gradient: " + std::to_string(columns) + " columns into channels [" + std::to_string(first_channel) + ", +" +
                     std::to_string(channels) + ") of the raw gradients [" + std::to_string(g.raw_first) + ", +" +
                     std::to_string(g.raw_stride) + ")");
  const int64_t tiles = (G.voxels + kVoxels - 1) / kVoxels;
  MDCSRN_ASSERT(tiles >= 1 && tiles < (int64_t(1) << 31), "mix_data_gradient: " + std::to_string(G.voxels) + " voxels");
  const size_t shared = sizeof(uint16_t) * kVoxels * (columns + 8);
  simt::launch(ctx, simt::LaunchConfig(simt::Dim3(unsigned(tiles)), simt::Dim3(32 * kWarps), shared), mix_data_gradient_kernel, G,
               int32_t(first_column), packed, g, int32_t(first_channel), int32_t(channels));
}

using simt::TargetContext;
template void compressor_output_gradient(TargetContext&, ChannelsLast, const DeferredGradient&, int, MixGradients, int);
template void reconstruction_output_gradient(TargetContext&, const float*, MixGradients, int);
template void mix_weight_gradient(TargetContext&, ChannelsLast, int, MixGradients, int, int, float*, int);
template void pack_mix_data_gradient_weights(TargetContext&, const float*, const int32_t*, int, int, int, uint32_t*);
template void mix_data_gradient(TargetContext&, MixGradients, int, const uint32_t*, const DeferredGradient&, int, int);

}  // namespace mdcsrn::gpu
