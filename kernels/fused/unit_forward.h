#pragma once
// The dense unit's forward on tensor cores: y = conv3x3x3(act(BN(x))), 16 output channels, stride 1
// and zero padding, as an implicit GEMM (M = voxels, N = 16, K = 27 x Cin) over the NDHWC bf16
// feature buffer, with mma.sync m16n8k16 (bf16 inputs, fp32 accumulation).
// - Prologue: staging the input tile (with its one-voxel halo) into shared memory turns each value
//   into act(x * scale + shift), BatchNorm folded into a per-channel scale and shift (batch
//   statistics in training, running ones in eval). Voxels outside the volume are zero after the
//   transform: the convolution pads the activation, and act(BN(0)) is not 0.
// - Depth sliding (kernels/fused/unit_convolution.h): each A fragment loaded from shared memory
//   serves up to three kernel depths.
// - Epilogue: the 16 channels in bf16 into the buffer, and per-block moments of the rounded values,
//   merged in block order into the new channels' batch statistics: no separate statistics pass.
#include <cstdint>

#include "engine/collectives.h"
#include "kernels/fused/unit_staging.h"
#include "kernels/normalization.h"
#include "kernels/reduce.h"

namespace mdcsrn {

// A block: one VolumeTile of output voxels (4 x 8 x 8), four warps of two rows each; input
// channels staged 16 at a time.
struct UnitTile {
  static constexpr int kWarps = 4, kChunk = 16, kOutputs = 16;
  static_assert(2 * kWarps == VolumeTile::kHeight, "each warp takes two rows of the tile");
  static constexpr int kBufferBytes = HaloRegion::kVoxels * kSlotElements * 2;  // one staged chunk with its halo
};

struct UnitForward {
  UnitInput input;                    // act(x * scale + shift) of the NDHWC bf16 buffer's channels
  const uint32_t* weights = nullptr;  // packed by pack_unit_weights
  uint16_t* output = nullptr;         // NDHWC bf16, the same voxel stride (usually the same buffer)
  int32_t output_channel = 0;
};

// Words of the packed weights for `input_channels` inputs: [27 taps][Cin / 16][32 lanes][4], lane
// l's four words the mma B fragments (registers 0, 1) of output channels 0-7 then 8-15.
inline int64_t packed_unit_weight_words(int input_channels) { return int64_t(27) * (input_channels / 16) * 32 * 4; }

// Where weight (output o, input c, tap t) of a unit with `input_channels` inputs sits in its packed
// weights, counted in bf16 elements (two to a word, the lower input channel in the low half).
inline int64_t packed_unit_weight_element(int input_channels, int o, int c, int tap) {
  const int q = c / 16, cc = c % 16, reg = cc / 8, tg = cc % 8 / 2, nt = o / 8, lane = 4 * (o % 8) + tg;
  const int64_t word = ((int64_t(tap) * (input_channels / 16) + q) * 32 + lane) * 4 + 2 * nt + reg;
  return 2 * word + cc % 2;
}

// Whether the tensor-core unit covers a unit of this width and growth.
inline bool unit_forward_supported(int input_channels, int growth) {
  return growth == UnitTile::kOutputs && input_channels % UnitTile::kChunk == 0 && input_channels > 0;
}

namespace gpu {
// weights: the PyTorch layout [16][Cin][3][3][3] in fp32, rounded to bf16 and packed.
template <class Context>
void pack_unit_weights(Context& ctx, const float* weights, int input_channels, uint32_t* packed);
// scale = gamma * invstd, shift = beta - mean * scale, per channel.
template <class Context>
void fold_batchnorm(Context& ctx, const float* gamma, const float* beta, const float* mean, const float* invstd, int64_t channels,
                    float* scale, float* shift);
// The unit's 16 output channels, and their batch statistics (mean, biased variance, 1/sqrt(var + eps)).
template <class Context>
void unit_forward(Context& ctx, const UnitForward& u, float eps, float* mean, float* var, float* invstd, const Collectives* ranks = nullptr);
}  // namespace gpu

}  // namespace mdcsrn
