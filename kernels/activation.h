#pragma once
// ELU, LeakyReLU and ReLU. Backward takes the activation's input x (not its output), so the forward
// result need not be kept when it is recomputed.
#include <bit>
#include <cmath>
#include <type_traits>

#include "kernels/common.h"

namespace mdcsrn {

enum class Activation { Elu, LeakyRelu, Relu };

// ELU's alpha is 1 (PyTorch's default, as in mDCSRN); `slope` is LeakyReLU's negative slope (ReLU
// ignores it).
struct ActivationSpec {
  Activation kind = Activation::Elu;
  float slope = 0.01f;
};

template <class T>
MDCSRN_HD T expm1_of(T x) {
  if constexpr (sizeof(T) == sizeof(float))
    return expm1f(x);
  else
    return expm1(x);
}

template <class T>
MDCSRN_HD T activation_forward(const ActivationSpec& a, T x) {
  if (a.kind == Activation::Elu) return x > T(0) ? x : expm1_of(x);
  if (a.kind == Activation::Relu) return x > T(0) ? x : T(0);
  return x > T(0) ? x : T(a.slope) * x;
}

template <class T>
MDCSRN_HD T activation_backward(const ActivationSpec& a, T x, T dy) {
  if (x > T(0)) return dy;
  if (a.kind == Activation::Elu) return dy * (expm1_of(x) + T(1));
  if (a.kind == Activation::Relu) return T(0);
  return dy * T(a.slope);
}

namespace cpu {

// expm1(x) for x <= 0 (positive x are clamped to 0) within a few float ulps, in arithmetic a
// compiler can vectorise: libm's expm1f is a call per element and made ELU the slowest CPU op.
// x = k ln2 + r with |r| <= ln2 / 2; expm1(x) = 2^k expm1(r) + (2^k - 1), expm1(r) by its Taylor
// series to r^7 (truncation below 6e-9). Below -17, expm1 rounds to -1 in float.
inline float expm1_nonpositive(float x) {
  x = x < -17.f ? -17.f : x > 0.f ? 0.f : x;
  const float round_magic = 12582912.f;  // 1.5 * 2^23: adding it rounds to an integer
  const float k = (x * 1.44269504f + round_magic) - round_magic;
  const float r = (x - k * 0.693145752f) - k * 1.42860677e-6f;  // ln 2 split into exact and small parts
  const float p = r + r * r * (0.5f + r * (1.f / 6 + r * (1.f / 24 + r * (1.f / 120 + r * (1.f / 720 + r * (1.f / 5040))))));
  const float scale = std::bit_cast<float>(uint32_t(int32_t(k) + 127) << 23);  // 2^k, k in [-25, 0]
  return scale * p + (scale - 1.f);
}

// The activations as the CPU loops use them: value(x) and slope(x), with the kind fixed at compile
// time so that the loops have no branch on it and vectorise; for float ELU through the
// vectorisable expm1, both sides of x > 0 computed.
template <class T>
struct EluFunction {
  T value(T x) const {
    if constexpr (std::is_same_v<T, float>) {
      const float negative = expm1_nonpositive(x);
      return x > 0.f ? x : negative;
    }
    return mdcsrn::activation_forward(ActivationSpec{Activation::Elu, 0.f}, x);
  }
  T slope(T x) const {
    if constexpr (std::is_same_v<T, float>) {
      const float negative = expm1_nonpositive(x) + 1.f;
      return x > 0.f ? 1.f : negative;
    }
    return mdcsrn::activation_backward(ActivationSpec{Activation::Elu, 0.f}, x, T(1));
  }
};

template <class T>
struct ReluFunction {
  T value(T x) const { return x > T(0) ? x : T(0); }
  T slope(T x) const { return x > T(0) ? T(1) : T(0); }
};

template <class T>
struct LeakyReluFunction {
  T negative_slope;
  T value(T x) const { return x > T(0) ? x : negative_slope * x; }
  T slope(T x) const { return x > T(0) ? T(1) : negative_slope; }
};

// Calls body(f) with the activation function object for a.
template <class T, class Body>
void with_activation(const ActivationSpec& a, Body&& body) {
  if (a.kind == Activation::Elu)
    body(EluFunction<T>{});
  else if (a.kind == Activation::Relu)
    body(ReluFunction<T>{});
  else
    body(LeakyReluFunction<T>{T(a.slope)});
}

template <class T>
void activation_forward(const ActivationSpec& a, Tensor<const T> x, Tensor<T> y) {
  const int64_t spatial = x.shape.spatial();
  with_activation<T>(a, [&](const auto f) {
    for_each_plane(x.shape, [&](int64_t n, int64_t c) {
      const T* xp = x.plane(n, c);
      T* yp = y.plane(n, c);
      for (int64_t s = 0; s < spatial; ++s) yp[s] = f.value(xp[s]);
    });
  });
}

template <class T>
void activation_backward(const ActivationSpec& a, Tensor<const T> x, Tensor<const T> dy, Tensor<T> dx,
                         GradMode mode) {
  const int64_t spatial = x.shape.spatial();
  const bool accumulate = mode == GradMode::Accumulate;
  with_activation<T>(a, [&](const auto f) {
    for_each_plane(x.shape, [&](int64_t n, int64_t c) {
      const T* xp = x.plane(n, c);
      const T* dyp = dy.plane(n, c);
      T* dxp = dx.plane(n, c);
      for (int64_t s = 0; s < spatial; ++s) store_grad(dxp[s], dyp[s] * f.slope(xp[s]), accumulate);
    });
  });
}

}  // namespace cpu

// The GPU kernels (activation.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void activation_forward(Context& ctx, const ActivationSpec& a, Tensor<const float> x, Tensor<float> y);
template <class Context>
void activation_backward(Context& ctx, const ActivationSpec& a, Tensor<const float> x, Tensor<const float> dy,
                         Tensor<float> dx, GradMode mode);
}  // namespace gpu

}  // namespace mdcsrn
