#pragma once
// Weights over a concatenation with repeated channels, applied to the distinct channels only.
// mDCSRN's concatenations repeat channels (block 0's output already contains conv0's features),
// but the dense feature buffer holds each channel once. A 1x1x1 convolution whose PyTorch weight
// W[o, c] spans the concatenation (c in [0, C)) equals one over the distinct channels with
// Wf[o, d] = sum of W[o, c] over the c with map[c] = d; its gradient is dW[o, c] = dWf[o, map[c]].
#include <cstdint>

#include "kernels/common.h"

namespace mdcsrn {
namespace cpu {

template <class T>
void fold_weights(const T* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, T* folded) {
  for (int64_t i = 0; i < outputs * distinct; ++i) folded[i] = T(0);
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t c = 0; c < concat; ++c) folded[o * distinct + map[c]] += w[o * concat + c];
}

template <class T>
void unfold_grads(const T* dfolded, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, T* dw, GradMode mode) {
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t c = 0; c < concat; ++c) store_grad(dw[o * concat + c], dfolded[o * distinct + map[c]], mode == GradMode::Accumulate);
}

}  // namespace cpu

// The GPU kernels (channel_fold.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void fold_weights(Context& ctx, const float* w, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct, float* folded);
template <class Context>
void unfold_grads(Context& ctx, const float* dfolded, const int32_t* map, int64_t outputs, int64_t concat, int64_t distinct,
                  float* dw, GradMode mode);
}  // namespace gpu

}  // namespace mdcsrn
