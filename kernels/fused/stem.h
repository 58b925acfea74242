#pragma once
// conv0, the generator's first layer (3x3x3, one input channel, 2k = 32 outputs) on the fast path:
// a direct convolution of the fp32 input patches into channels [0, 32) of the NDHWC bf16 feature
// buffer, with the moments of the rounded outputs per tile merged into their batch statistics.
#include <cstdint>

#include "engine/collectives.h"
#include "engine/tensor.h"
#include "kernels/fused/channels_last.h"
#include "kernels/fused/deferred_gradient.h"
#include "kernels/fused/weight_gradient_partials.h"

namespace mdcsrn {

constexpr int kStemOutputs = 32;

namespace gpu {
// x: [N, 1, D, H, W] dense; weights: [32][1][3][3][3] (PyTorch's layout) in fp32.
template <class Context>
void stem_forward(Context& ctx, Tensor<const float> x, const float* weights, ChannelsLast out, float eps, float* mean, float* var,
                  float* invstd, const Collectives* ranks = nullptr);
// weight_grad[o][tap] = sum over voxels v of dY(v)[o] * x(v + tap) ([32][1][3][3][3], overwritten),
// dY the gradient of feature channels [0, 32), formed in fp32 from its deferred parts (stem_backward.cu).
template <class Context>
void stem_weight_gradient(Context& ctx, Tensor<const float> x, ChannelsLast features, const DeferredGradient& g, float* weight_grad,
                          int max_blocks = kWeightGradientBlocks);
}  // namespace gpu

}  // namespace mdcsrn
