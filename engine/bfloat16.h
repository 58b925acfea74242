#pragma once
// bfloat16 storage as raw bits (the upper half of an IEEE binary32), converted by the same code on
// the CPU and the GPU, so that both round a value to the very same bits. Widening is exact;
// narrowing rounds to nearest even, and NaN stays a (quiet) NaN.
#include <cstdint>
#include <cstring>

#include "engine/hd.h"

namespace mdcsrn {

MDCSRN_HD float bf16_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

MDCSRN_HD uint16_t float_to_bf16(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

// Two bf16 values in one 32-bit register, as mma and ldmatrix fragments hold them: the element
// with the lower index in the low half.
MDCSRN_HD uint32_t pack_bf16x2(uint16_t low, uint16_t high) { return uint32_t(low) | (uint32_t(high) << 16); }
MDCSRN_HD uint16_t bf16x2_low(uint32_t pair) { return uint16_t(pair & 0xffffu); }
MDCSRN_HD uint16_t bf16x2_high(uint32_t pair) { return uint16_t(pair >> 16); }

}  // namespace mdcsrn
