#pragma once
// Eight floats in one AVX register (or sixteen in an AVX-512 one), through GCC/Clang vector
// extensions, for the fused CPU kernels: bf16 widening and rounding as engine/bfloat16.h does them
// (the same bits), and the activations' forward and backward. Included only inside a kernel file's
// target region (AVX2+FMA, see kernels/cpu_fused/unit.cpp, or AVX-512), with internal linkage, so
// that no other file can share these functions' vector code; nothing here runs on a CPU without
// AVX2.
#include <cstdint>
#include <cstring>

#include "kernels/activation.h"

// Vector arguments change the ABI between AVX and non-AVX code; these helpers are internal and
// inlined, so the warning about it does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace mdcsrn::cpu_fused {
namespace {

typedef float f8 __attribute__((vector_size(32)));
typedef uint32_t u8 __attribute__((vector_size(32)));
typedef uint16_t h8 __attribute__((vector_size(16)));

inline f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }
inline f8 splat(float s) { return f8{s, s, s, s, s, s, s, s}; }

// Eight bf16 values (16 bytes) widened exactly.
inline f8 load_bf16x8(const uint16_t* p) {
  h8 h;
  std::memcpy(&h, p, sizeof h);
  const u8 bits = __builtin_convertvector(h, u8) << 16;
  f8 v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Sixteen lanes, for the AVX-512 kernels (unit_avx512_bf16.cpp). The functions below take either
// width: F is f8 or f16.
typedef float f16 __attribute__((vector_size(64)));
typedef uint32_t u16x __attribute__((vector_size(64)));
typedef uint16_t h16 __attribute__((vector_size(32)));

template <class F>
inline F splat_as(float s) {
  return F{} + s;
}
// The unsigned integer lanes of the same width.
template <class F>
struct LanesOf;
template <>
struct LanesOf<f8> {
  using Unsigned = u8;
  using Bf16 = h8;
};
template <>
struct LanesOf<f16> {
  using Unsigned = u16x;
  using Bf16 = h16;
};

template <class F>
inline F load_as(const float* p) {
  F v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// As many bf16 values as F has lanes, widened exactly.
template <class F>
inline F load_bf16_as(const uint16_t* p) {
  typename LanesOf<F>::Bf16 h;
  std::memcpy(&h, p, sizeof h);
  const auto bits = __builtin_convertvector(h, typename LanesOf<F>::Unsigned) << 16;
  F v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Rounded to nearest even as float_to_bf16; NaN stays a quiet NaN.
template <class F>
inline typename LanesOf<F>::Bf16 to_bf16(F v) {
  using U = typename LanesOf<F>::Unsigned;
  U bits;
  std::memcpy(&bits, &v, sizeof bits);
  const U nan = (bits >> 16) | 0x40u;
  const U rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const U out = (bits & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
  return __builtin_convertvector(out, typename LanesOf<F>::Bf16);
}
inline void store_bf16x8(uint16_t* p, f8 v) {
  const h8 h = to_bf16(v);
  std::memcpy(p, &h, sizeof h);
}
// v rounded to bf16 and widened back: the value a bf16 store would keep.
template <class F>
inline F round_bf16(F v) {
  using U = typename LanesOf<F>::Unsigned;
  U bits;
  std::memcpy(&bits, &v, sizeof bits);
  const U nan = bits | 0x400000u;
  const U rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
  const U out = (bits & 0x7fffffffu) > 0x7f800000u ? (nan & 0xffff0000u) : rounded;
  F r;
  std::memcpy(&r, &out, sizeof r);
  return r;
}

// cpu::expm1_nonpositive lane by lane (the same steps).
template <class F>
inline F expm1_nonpositive(F x) {
  using I = decltype(F{} < F{});
  x = x < -17.f ? splat_as<F>(-17.f) : x;
  x = x > 0.f ? splat_as<F>(0.f) : x;
  const F magic = splat_as<F>(12582912.f);
  const F k = (x * 1.44269504f + magic) - magic;
  const F r = (x - k * 0.693145752f) - k * 1.42860677e-6f;
  const F p = r + r * r * (0.5f + r * (1.f / 6 + r * (1.f / 24 + r * (1.f / 120 + r * (1.f / 720 + r * (1.f / 5040))))));
  const I exponent = (__builtin_convertvector(k, I) + 127) << 23;
  F scale;
  std::memcpy(&scale, &exponent, sizeof scale);
  return scale * p + (scale - 1.f);
}

template <class F>
inline F lanes_activation_forward(const ActivationSpec& a, F x) {
  if (a.kind == Activation::Elu) return x > 0.f ? x : expm1_nonpositive(x);
  if (a.kind == Activation::Relu) return x > 0.f ? x : splat_as<F>(0.f);
  return x > 0.f ? x : x * a.slope;
}
// dy times the activation's derivative at x.
template <class F>
inline F lanes_activation_backward(const ActivationSpec& a, F x, F dy) {
  if (a.kind == Activation::Elu) return x > 0.f ? dy : dy * (expm1_nonpositive(x) + 1.f);
  if (a.kind == Activation::Relu) return x > 0.f ? dy : splat_as<F>(0.f);
  return x > 0.f ? dy : dy * a.slope;
}

inline float sum8(f8 v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }

}  // namespace
}  // namespace mdcsrn::cpu_fused
