#pragma once
// Adam with bias correction (torch.optim.Adam without weight decay) and WGAN weight clipping, each
// one flat pass over an arena section: parameters, gradients and moments share one layout.
#include <cmath>
#include <cstdint>

#include "kernels/common.h"

namespace mdcsrn {

struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  bool operator==(const AdamConfig&) const = default;
};

// The per-step constants: bias corrections depend on the step number t (1 for the first update)
// and are computed once per step in double precision: on the host, or on the device by a step
// graph (kernels/step_schedule.h).
struct AdamStep {
  float beta1, beta2, eps;
  float step_size;              // lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
};

MDCSRN_HD AdamStep adam_step(const AdamConfig& c, int64_t t) {
  const double bc1 = 1.0 - pow(double(c.beta1), double(t));
  const double bc2 = 1.0 - pow(double(c.beta2), double(t));
  return AdamStep{c.beta1, c.beta2, c.eps, float(double(c.lr) / bc1), float(sqrt(bc2))};
}

template <class T>
MDCSRN_HD void adam_update(const AdamStep& s, T& param, T grad, T& m, T& v) {
  m = T(s.beta1) * m + (T(1) - T(s.beta1)) * grad;
  v = T(s.beta2) * v + (T(1) - T(s.beta2)) * grad * grad;
#ifdef __CUDA_ARCH__
  const T denom = sqrt(v) / T(s.bias_correction2_sqrt) + T(s.eps);
#else
  // In double on the host, whatever was included before (kernels/normalization.h's inverse_std).
  const T denom = T(std::sqrt(double(v)) / T(s.bias_correction2_sqrt) + T(s.eps));
#endif
  param -= T(s.step_size) * m / denom;
}

template <class T>
MDCSRN_HD T clip_value(T x, T limit) {
  return x < -limit ? -limit : (x > limit ? limit : x);
}

namespace cpu {

template <class T>
void adam(const AdamStep& s, T* params, const T* grads, T* m, T* v, int64_t count) {
  parallel_for(count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) adam_update(s, params[i], grads[i], m[i], v[i]);
  });
}

template <class T>
void clip(T* params, int64_t count, T limit) {
  parallel_for(count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) params[i] = clip_value(params[i], limit);
  });
}

}  // namespace cpu

// The GPU kernels (optimizer.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void adam(Context& ctx, const AdamStep& s, float* params, const float* grads, float* m, float* v, int64_t count);
template <class Context>
void clip(Context& ctx, float* params, int64_t count, float limit);
// Adam with the step's constants read from device memory (a step graph's, or store_adam_step's),
// and for every parameter i with copy_index[i] >= 0 its updated value rounded to bf16 into
// copies[copy_index[i]]: the fast path's weights in the layout its kernels read, from the same pass.
template <class Context>
void adam_with_copies(Context& ctx, const AdamStep* s, float* params, const float* grads, float* m, float* v, int64_t count,
                      const int32_t* copy_index, uint16_t* copies);
// *device = s, in stream order.
template <class Context>
void store_adam_step(Context& ctx, const AdamStep& s, AdamStep* device);
}  // namespace gpu

}  // namespace mdcsrn
