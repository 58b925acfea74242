#pragma once
// The WGAN gradient penalty (Gulrajani et al. 2017) on a critic's input gradients: the
// interpolates it is evaluated at, and lambda * mean over the batch of (||grad_x D(x_hat)|| - 1)^2
// with its gradient with respect to those input gradients (models/critic.h carries that gradient
// back to the critic's parameters).
#include <cmath>
#include <cstdint>

#include "engine/philox.h"
#include "kernels/common.h"
#include "kernels/reduce.h"

namespace mdcsrn {

constexpr uint32_t kStreamPenaltyMix = 0x6a9e1;

// The mixing weight of global sample k: element k of the uniform draws of its Philox stream
// (word k % 4 of draw k / 4, as philox_uniform), so that it does not depend on how the batch is
// split over ranks, nor on the device.
MDCSRN_HD float penalty_mix(uint64_t seed, int64_t sample) {
  const PhiloxWords w = philox_draw(seed, kStreamPenaltyMix, uint64_t(sample) / 4);
  return uniform_open01(w.v[sample % 4]);
}

// d/dg of (||g|| - 1)^2 is 2 (||g|| - 1) g / ||g||; at g = 0 (where PyTorch's norm has a
// subgradient of 0) the factor is 0.
template <class T>
MDCSRN_HD T penalty_gradient_factor(double norm) {
  return norm > 0 ? T(2 * (norm - 1) / norm) : T(0);
}

namespace cpu {

// out_i = e_i real_i + (1 - e_i) fake_i, e_i = penalty_mix(seed, first_sample + i), i over the batch.
template <class T>
void penalty_interpolates(uint64_t seed, int64_t first_sample, Tensor<const T> fake, Tensor<const T> real, Tensor<T> out) {
  require_planes("penalty_interpolates", fake, real, out);
  const int64_t per_sample = fake.shape.c * fake.shape.spatial();
  for (int64_t n = 0; n < fake.shape.n; ++n) {
    const T e = T(penalty_mix(seed, first_sample + n));
    const T *f = fake.plane(n, 0), *r = real.plane(n, 0);
    T* o = out.plane(n, 0);
    for (int64_t i = 0; i < per_sample; ++i) o[i] = e * r[i] + (T(1) - e) * f[i];
  }
}

// *penalty = lambda / n * sum_i (||g_i|| - 1)^2 over this process's n samples of the input
// gradients g; g_grad = d(lambda / n_global * sum_i (||g_i|| - 1)^2)/dg with n_global = n / share.
template <class T>
void gradient_penalty(Tensor<const T> g, T lambda, T share, T* penalty, Tensor<T> g_grad) {
  require_planes("gradient_penalty", g, g_grad);
  const int64_t samples = g.shape.n, per_sample = g.shape.c * g.shape.spatial();
  double total = 0;
  for (int64_t n = 0; n < samples; ++n) {
    const T* gp = g.plane(n, 0);
    Sum<double> squares;
    for (int64_t i = 0; i < per_sample; ++i) squares.push(double(gp[i]) * double(gp[i]));
    const double norm = std::sqrt(squares.value);
    total += (norm - 1) * (norm - 1);
    const T factor = T(double(lambda) * double(share) / double(samples)) * penalty_gradient_factor<T>(norm);
    T* out = g_grad.plane(n, 0);
    for (int64_t i = 0; i < per_sample; ++i) out[i] = factor * gp[i];
  }
  *penalty = T(double(lambda) * total / double(samples));
}

}  // namespace cpu

// The GPU kernels (gradient_penalty.cu), launched on a CudaContext or run by a simt::Emulator.
// *penalty stays on the device.
namespace gpu {
template <class Context>
void penalty_interpolates(Context& ctx, uint64_t seed, int64_t first_sample, Tensor<const float> fake, Tensor<const float> real,
                          Tensor<float> out);
template <class Context>
void gradient_penalty(Context& ctx, Tensor<const float> g, float lambda, float share, float* penalty, Tensor<float> g_grad);
}  // namespace gpu

}  // namespace mdcsrn
