#pragma once
// LayerNorm over (C, D, H, W) of each sample with a per-element affine of shape [C, D, H, W], as
// torch.nn.LayerNorm([C, D, H, W]) in the WGAN critic.
#include "kernels/common.h"
#include "kernels/normalization.h"
#include "kernels/reduce.h"

namespace mdcsrn {
namespace cpu {

// Element e = c * D*H*W + s of the affine parameters pairs with channel c, position s.
template <class T>
void layernorm_forward(Tensor<const T> x, const T* weight, const T* bias, T eps, T* save_mean, T* save_invstd,
                       Tensor<T> y) {
  require_planes("layernorm_forward", x, y);
  const int64_t channels = x.shape.c, spatial = x.shape.spatial();
  parallel_for(x.shape.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      Moments<SumType<T>> sample;
      for (int64_t c = 0; c < channels; ++c) sample.merge(plane_moments(x.plane(n, c), spatial));
      save_mean[n] = T(sample.mean);
      save_invstd[n] = inverse_std(T(sample.variance()), eps);
      for (int64_t c = 0; c < channels; ++c) {
        const T* xp = x.plane(n, c);
        T* yp = y.plane(n, c);
        const T* wp = weight + c * spatial;
        const T* bp = bias + c * spatial;
        for (int64_t s = 0; s < spatial; ++s) yp[s] = normalize_affine(xp[s], save_mean[n], save_invstd[n], wp[s], bp[s]);
      }
    }
  });
}

template <class T>
void layernorm_backward(Tensor<const T> x, Tensor<const T> dy, const T* weight, const T* save_mean, const T* save_invstd,
                        Tensor<T> dx, T* dweight, T* dbias, GradMode grad_mode) {
  require_planes("layernorm_backward", x, dy, dx);
  const int64_t channels = x.shape.c, spatial = x.shape.spatial();
  const bool accumulate = grad_mode == GradMode::Accumulate;
  const T count = T(channels * spatial);
  parallel_for(x.shape.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const T mean = save_mean[n], invstd = save_invstd[n];
      SumPair<SumType<T>> sums;  // sum(g), sum(g * xhat) with g = dy * weight
      for (int64_t c = 0; c < channels; ++c) {
        SumPair<SumType<T>> plane;
        const T* xp = x.plane(n, c);
        const T* dyp = dy.plane(n, c);
        const T* wp = weight + c * spatial;
        for (int64_t s = 0; s < spatial; ++s) {
          const T g = dyp[s] * wp[s];
          plane.push(g, g * (xp[s] - mean) * invstd);
        }
        sums.merge(plane);
      }
      const T mean_g = T(sums.first / count), mean_g_xhat = T(sums.second / count);
      for (int64_t c = 0; c < channels; ++c) {
        const T* xp = x.plane(n, c);
        const T* dyp = dy.plane(n, c);
        const T* wp = weight + c * spatial;
        T* dxp = dx.plane(n, c);
        for (int64_t s = 0; s < spatial; ++s)
          store_grad(dxp[s], normalized_input_grad(dyp[s] * wp[s], (xp[s] - mean) * invstd, invstd, mean_g, mean_g_xhat),
                     accumulate);
      }
    }
  });
  // Affine gradients sum over the batch, element by element.
  parallel_for(channels * spatial, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t e = begin; e < end; ++e) {
      const int64_t c = e / spatial, s = e % spatial;
      SumType<T> dw = 0, db = 0;
      for (int64_t n = 0; n < x.shape.n; ++n) {
        const T d = dy.plane(n, c)[s];
        dw += d * (x.plane(n, c)[s] - save_mean[n]) * save_invstd[n];
        db += d;
      }
      store_grad(dweight[e], T(dw), accumulate);
      store_grad(dbias[e], T(db), accumulate);
    }
  });
}

}  // namespace cpu

// The GPU kernels (layernorm.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void layernorm_forward(Context& ctx, Tensor<const float> x, const float* weight, const float* bias, float eps, float* save_mean,
                       float* save_invstd, Tensor<float> y);
template <class Context>
void layernorm_backward(Context& ctx, Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* save_mean,
                        const float* save_invstd, Tensor<float> dx, float* dweight, float* dbias, GradMode grad_mode);
}  // namespace gpu

}  // namespace mdcsrn
