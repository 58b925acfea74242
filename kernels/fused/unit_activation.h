#pragma once
// A unit's input activation act(x * scale + shift) of one feature value (BatchNorm folded into a
// per-channel scale and shift), in fp32 with the multiply-add fused explicitly: a device, the
// emulator on any host and the tests' references then round it alike, so a reference built from
// "the kernels' bf16 operands" has exactly those operands.
#include <cmath>

#include "engine/hd.h"
#include "kernels/activation.h"

namespace mdcsrn {

MDCSRN_HD float unit_preactivation(float x, float scale, float shift) { return fmaf(x, scale, shift); }

MDCSRN_HD float unit_activation(const ActivationSpec& a, float x, float scale, float shift) {
  return activation_forward(a, unit_preactivation(x, scale, shift));
}

}  // namespace mdcsrn
