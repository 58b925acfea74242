#pragma once
// The fast backward's feature gradients, kept deferred. BatchNorm's input gradient in training is,
// per channel, dX = a * g + b * x + c with a = gamma * invstd known in advance and b, c set by batch
// sums of g and g * xhat. Each consumer of a channel adds its a * g to the channel's raw gradient and
// its b and c to the channel's coefficients; the channel's gradient raw + b * x + c is formed only
// where it is consumed, by its producer's backward, so no BatchNorm-backward pass runs over the
// features.
#include <cmath>
#include <cstdint>

#include "engine/bfloat16.h"
#include "engine/hd.h"
#include "kernels/simt/simt.h"

namespace mdcsrn {

// The raw gradients may cover only some channels (one dense block's, say): channel k of voxel v
// sits at raw[v * raw_stride + k - raw_first]. The coefficients cover every feature channel.
struct DeferredGradient {
  float* raw = nullptr;  // fp32
  int32_t raw_stride = 0, raw_first = 0;
  float* b = nullptr;  // [feature channels]
  float* c = nullptr;

  MDCSRN_HD float* raw_at(int64_t v, int32_t channel) const { return raw + v * raw_stride + (channel - raw_first); }
  // Whether channels [first, first + count) are covered, with 16-byte aligned groups of 8.
  bool covers(int32_t first, int32_t count) const {
    return raw_stride % 8 == 0 && raw_first % 8 == 0 && first % 8 == 0 && first >= raw_first && first + count <= raw_first + raw_stride;
  }
};

// One channel's gradient raw + b * x + c in fp32, with the multiply-add fused explicitly, so that
// every target (a device, the emulator on any host) and the tests' references round it alike.
MDCSRN_HD float deferred_gradient_value(float raw, float b, float x, float c) { return fmaf(b, x, raw) + c; }

// The coefficients of 8 consecutive channels, loaded once by a thread that forms their gradient
// at many voxels.
struct Coefficients8 {
  float b[8], c[8];
  MDCSRN_DEVICE Coefficients8(const DeferredGradient& g, int32_t channel) {
    for (int k = 0; k < 8; ++k) {
      b[k] = g.b[channel + k];
      c[k] = g.c[channel + k];
    }
  }
};

// Channels [channel, channel + 8) of voxel v's gradient (8-aligned), given those channels'
// features x, rounded to bf16 and packed two to a word, lower channel first.
MDCSRN_DEVICE simt::Words4 deferred_gradient_bf16x8(const DeferredGradient& g, int64_t v, int32_t channel, const Coefficients8& k8,
                                                    simt::Words4 x) {
  const float* raw = g.raw_at(v, channel);
  const float* b = k8.b;
  const float* c = k8.c;
  const simt::Float4 r0 = simt::load4(raw), r1 = simt::load4(raw + 4);
  const float r[8] = {r0.x, r0.y, r0.z, r0.w, r1.x, r1.y, r1.z, r1.w};
  const uint32_t xs[4] = {x.x, x.y, x.z, x.w};
  uint32_t out[4];
  for (int k = 0; k < 4; ++k) {
    const float lo = deferred_gradient_value(r[2 * k], b[2 * k], bf16_to_float(bf16x2_low(xs[k])), c[2 * k]);
    const float hi = deferred_gradient_value(r[2 * k + 1], b[2 * k + 1], bf16_to_float(bf16x2_high(xs[k])), c[2 * k + 1]);
    out[k] = pack_bf16x2(float_to_bf16(lo), float_to_bf16(hi));
  }
  return simt::Words4{out[0], out[1], out[2], out[3]};
}

}  // namespace mdcsrn
