#pragma once
// ELU and LeakyReLU. Backward takes the activation's input x (not its output), so the forward
// result need not be kept when it is recomputed.
#include <cmath>

#include "kernels/common.h"

namespace mdcsrn {

enum class Activation { Elu, LeakyRelu };

// ELU's alpha is 1 (PyTorch's default, as in mDCSRN); `slope` is LeakyReLU's negative slope.
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
  return x > T(0) ? x : T(a.slope) * x;
}

template <class T>
MDCSRN_HD T activation_backward(const ActivationSpec& a, T x, T dy) {
  if (x > T(0)) return dy;
  if (a.kind == Activation::Elu) return dy * (expm1_of(x) + T(1));
  return dy * T(a.slope);
}

namespace cpu {

template <class T>
void activation_forward(const ActivationSpec& a, Tensor<const T> x, Tensor<T> y) {
  const int64_t spatial = x.shape.spatial();
  for_each_plane(x.shape, [&](int64_t n, int64_t c) {
    const T* xp = x.plane(n, c);
    T* yp = y.plane(n, c);
    for (int64_t s = 0; s < spatial; ++s) yp[s] = mdcsrn::activation_forward(a, xp[s]);
  });
}

template <class T>
void activation_backward(const ActivationSpec& a, Tensor<const T> x, Tensor<const T> dy, Tensor<T> dx,
                         GradMode mode) {
  const int64_t spatial = x.shape.spatial();
  const bool accumulate = mode == GradMode::Accumulate;
  for_each_plane(x.shape, [&](int64_t n, int64_t c) {
    const T* xp = x.plane(n, c);
    const T* dyp = dy.plane(n, c);
    T* dxp = dx.plane(n, c);
    for (int64_t s = 0; s < spatial; ++s) store_grad(dxp[s], mdcsrn::activation_backward(a, xp[s], dyp[s]), accumulate);
  });
}

}  // namespace cpu

#ifdef MDCSRN_HAVE_CUDA
class CudaContext;
namespace gpu {
void activation_forward(CudaContext& ctx, const ActivationSpec& a, Tensor<const float> x, Tensor<float> y);
void activation_backward(CudaContext& ctx, const ActivationSpec& a, Tensor<const float> x, Tensor<const float> dy,
                         Tensor<float> dx, GradMode mode);
}  // namespace gpu
#endif

}  // namespace mdcsrn
