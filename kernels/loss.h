#pragma once
// Losses, each the mean over its elements: L1 and L2 between a prediction and a target, and the
// mean critic score from which the WGAN terms are built (critic: mean D(SR) - mean D(HR);
// generator: -mean D(SR)). Backward scales by `weight`, so signs and loss weights need no
// extra pass. Sums run in double on both devices.
#include <cmath>

#include "kernels/common.h"
#include "kernels/reduce.h"

namespace mdcsrn {

enum class LossKind { L1, L2 };

template <class T>
MDCSRN_HD double loss_term(LossKind kind, T prediction, T target) {
  const double d = double(prediction) - double(target);
  return kind == LossKind::L1 ? fabs(d) : d * d;
}

// d(loss)/d(prediction) for one element, times weight / count (the mean's factor).
template <class T>
MDCSRN_HD T loss_grad(LossKind kind, T prediction, T target, T scale) {
  const T d = prediction - target;
  if (kind == LossKind::L2) return T(2) * d * scale;
  return d > T(0) ? scale : (d < T(0) ? -scale : T(0));
}

namespace cpu {

template <class T>
T loss_forward(LossKind kind, Tensor<const T> prediction, Tensor<const T> target) {
  require_planes("loss_forward", prediction, target);
  const int64_t spatial = prediction.shape.spatial();
  double total = 0;
  for (int64_t n = 0; n < prediction.shape.n; ++n)
    for (int64_t c = 0; c < prediction.shape.c; ++c) {
      const T* p = prediction.plane(n, c);
      const T* t = target.plane(n, c);
      for (int64_t s = 0; s < spatial; ++s) total += loss_term(kind, p[s], t[s]);
    }
  return T(total / double(prediction.numel()));
}

template <class T>
void loss_backward(LossKind kind, Tensor<const T> prediction, Tensor<const T> target, T weight, Tensor<T> dprediction,
                   GradMode mode) {
  require_planes("loss_backward", prediction, target, dprediction);
  const int64_t spatial = prediction.shape.spatial();
  const T scale = weight / T(prediction.numel());
  const bool accumulate = mode == GradMode::Accumulate;
  for_each_plane(prediction.shape, [&](int64_t n, int64_t c) {
    const T* p = prediction.plane(n, c);
    const T* t = target.plane(n, c);
    T* d = dprediction.plane(n, c);
    for (int64_t s = 0; s < spatial; ++s) store_grad(d[s], loss_grad(kind, p[s], t[s], scale), accumulate);
  });
}

template <class T>
T mean_score(const T* scores, int64_t count) {
  double total = 0;
  for (int64_t i = 0; i < count; ++i) total += double(scores[i]);
  return T(total / double(count));
}

template <class T>
void mean_score_backward(int64_t count, T weight, T* dscores, GradMode mode) {
  for (int64_t i = 0; i < count; ++i) store_grad(dscores[i], weight / T(count), mode == GradMode::Accumulate);
}

}  // namespace cpu

// The GPU kernels (loss.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
// Results stay on the device (no synchronisation): *loss is a device pointer.
template <class Context>
void loss_forward(Context& ctx, LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float* loss);
template <class Context>
void loss_backward(Context& ctx, LossKind kind, Tensor<const float> prediction, Tensor<const float> target,
                   float weight, Tensor<float> dprediction, GradMode mode);
// Both in one pass (the fast path's step): *loss and the gradient of weight x loss.
template <class Context>
void loss_forward_backward(Context& ctx, LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float weight,
                           float* loss, Tensor<float> dprediction, GradMode mode);
template <class Context>
void mean_score(Context& ctx, const float* scores, int64_t count, float* result);
template <class Context>
void mean_score_backward(Context& ctx, int64_t count, float weight, float* dscores, GradMode mode);
}  // namespace gpu

}  // namespace mdcsrn
