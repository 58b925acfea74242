#pragma once
// The dense unit's backward on tensor cores, for y = conv3x3x3(act(BN(x))) with batch statistics,
// over the NDHWC bf16 feature buffer and the deferred fp32 gradients (kernels/fused/deferred_gradient.h).
// Both kernels form the gradient of the unit's 16 outputs, dY = raw + b * y + c, while staging it.
// - Weight gradient: dW[o][c][tap] = sum over voxels v of dY(v)[o] * act(BN(x))(v + tap)[c], an
//   implicit GEMM (M = 16 outputs, N = input channels, K = voxels) whose prologue recomputes the
//   activation from the saved features and the forward's folded BatchNorm, so the forward stores
//   nothing else. Its sums over voxels follow kernels/fused/weight_gradient_partials.h.
// - Data gradient: dA = the transposed convolution of dY (M = voxels, N = input channels, K = 27 x
//   16), with the depth-sliding tap loop of the forward. Its epilogue takes g = act'(z) * dA with z
//   recomputed from x, adds a * g (a = gamma * invstd, the forward's scale) to the input channels'
//   raw gradient, and writes per-tile sums of g and g * xhat; a finalising kernel merges them in
//   tile order into dgamma, dbeta and the input channels' coefficients b and c.
#include <cstdint>

#include "engine/collectives.h"
#include "kernels/fused/deferred_gradient.h"
#include "kernels/fused/unit_staging.h"
#include "kernels/fused/weight_gradient_partials.h"

namespace mdcsrn {

struct UnitBackward {
  UnitInput input;             // the forward's input: features, folded BatchNorm (scale, shift), activation
  int32_t output_channel = 0;  // the unit's 16 outputs, in the same buffer
  // The feature channels' deferred gradient: the outputs' is read; the data gradient adds the
  // unit's contributions to the inputs'.
  DeferredGradient gradient;
};

// What the data gradient reads and writes beyond UnitBackward: the input channels' batch
// statistics and the unit's BatchNorm gradients (overwritten), all indexed from input.channel.
struct UnitDataGradient {
  const uint32_t* weights = nullptr;  // packed by pack_unit_data_gradient_weights
  const float* mean = nullptr;
  const float* invstd = nullptr;
  float* gamma_grad = nullptr;
  float* beta_grad = nullptr;
};

// Words of a unit's packed data-gradient weights: [27 flipped taps][Cin / 16][32 lanes][4], lane l's
// four words the mma B fragments (registers 0, 1) of input channels 16 q + 0-7 then 16 q + 8-15
// over the 16 outputs, tap t holding the weights of tap 26 - t.
inline int64_t packed_unit_data_gradient_words(int input_channels) { return int64_t(27) * (input_channels / 16) * 32 * 4; }

namespace gpu {
// weights: the PyTorch layout [16][Cin][3][3][3] in fp32, rounded to bf16 and packed.
template <class Context>
void pack_unit_data_gradient_weights(Context& ctx, const float* weights, int input_channels, uint32_t* packed);
// weight_grad: [16][Cin][3][3][3] fp32, overwritten. Tests lower max_blocks to give blocks several tiles.
template <class Context>
void unit_weight_gradient(Context& ctx, const UnitBackward& u, float* weight_grad, int max_blocks = kWeightGradientBlocks);
template <class Context>
void unit_data_gradient(Context& ctx, const UnitBackward& u, const UnitDataGradient& d, const Collectives* ranks = nullptr);
}  // namespace gpu

}  // namespace mdcsrn
