#pragma once
// BatchNorm3d with PyTorch's semantics: batch statistics over (N, D, H, W) in training (biased
// variance for normalising, unbiased for the running average), running statistics in eval.
#include <vector>

#include "kernels/common.h"
#include "kernels/normalization.h"
#include "kernels/reduce.h"

namespace mdcsrn {

template <class T>
struct BatchNormParams {
  const T* gamma = nullptr;
  const T* beta = nullptr;
  T* running_mean = nullptr;  // updated in training mode
  T* running_var = nullptr;
  T momentum = T(0.1);
  T eps = T(1e-5);
};

namespace cpu {

// Writes y and, per channel, the mean and inverse std used (batch statistics in Train mode, the
// running ones in Eval mode), which backward reads.
template <class T>
void batchnorm_forward(NormMode mode, Tensor<const T> x, const BatchNormParams<T>& p, T* save_mean, T* save_invstd,
                       Tensor<T> y) {
  require_planes("batchnorm_forward", x, y);
  const int64_t channels = x.shape.c, spatial = x.shape.spatial();
  parallel_for(channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      if (mode == NormMode::Train) {
        Moments<SumType<T>> channel;
        for (int64_t n = 0; n < x.shape.n; ++n) channel.merge(plane_moments(x.plane(n, c), spatial));
        const T mean = T(channel.mean), var = T(channel.variance());
        save_mean[c] = mean;
        save_invstd[c] = inverse_std(var, p.eps);
        const T unbiased = channel.count > 1 ? var * T(channel.count) / T(channel.count - 1) : var;
        p.running_mean[c] = running_average(p.running_mean[c], mean, p.momentum);
        p.running_var[c] = running_average(p.running_var[c], unbiased, p.momentum);
      } else {
        save_mean[c] = p.running_mean[c];
        save_invstd[c] = inverse_std(p.running_var[c], p.eps);
      }
      for (int64_t n = 0; n < x.shape.n; ++n) {
        const T* xp = x.plane(n, c);
        T* yp = y.plane(n, c);
        for (int64_t s = 0; s < spatial; ++s)
          yp[s] = normalize_affine(xp[s], save_mean[c], save_invstd[c], p.gamma[c], p.beta[c]);
      }
    }
  });
}

// y = (x - mean) * invstd * gamma + beta with given per-channel statistics (e.g. those a training
// forward saved): what a recomputing backward needs.
template <class T>
void batchnorm_apply(Tensor<const T> x, const T* gamma, const T* beta, const T* mean, const T* invstd, Tensor<T> y) {
  require_planes("batchnorm_apply", x, y);
  const int64_t spatial = x.shape.spatial();
  for_each_plane(x.shape, [&](int64_t n, int64_t c) {
    const T* xp = x.plane(n, c);
    T* yp = y.plane(n, c);
    for (int64_t s = 0; s < spatial; ++s) yp[s] = normalize_affine(xp[s], mean[c], invstd[c], gamma[c], beta[c]);
  });
}

template <class T>
void batchnorm_backward(NormMode mode, Tensor<const T> x, Tensor<const T> dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, Tensor<T> dx, T* dgamma, T* dbeta, GradMode grad_mode) {
  require_planes("batchnorm_backward", x, dy, dx);
  const int64_t channels = x.shape.c, spatial = x.shape.spatial();
  const bool accumulate = grad_mode == GradMode::Accumulate;
  const T count = T(x.shape.n * spatial);
  parallel_for(channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const T mean = save_mean[c], invstd = save_invstd[c];
      SumPair<SumType<T>> sums;  // sum(dy), sum(dy * xhat)
      for (int64_t n = 0; n < x.shape.n; ++n) {
        SumPair<SumType<T>> plane;
        const T* xp = x.plane(n, c);
        const T* dyp = dy.plane(n, c);
        for (int64_t s = 0; s < spatial; ++s) plane.push(dyp[s], dyp[s] * (xp[s] - mean) * invstd);
        sums.merge(plane);
      }
      store_grad(dbeta[c], T(sums.first), accumulate);
      store_grad(dgamma[c], T(sums.second), accumulate);
      // g = gamma * dy, so the means of g and g * xhat are gamma times those of dy.
      const bool batch_stats = mode == NormMode::Train;
      const T mean_g = batch_stats ? T(gamma[c] * sums.first / count) : T(0);
      const T mean_g_xhat = batch_stats ? T(gamma[c] * sums.second / count) : T(0);
      for (int64_t n = 0; n < x.shape.n; ++n) {
        const T* xp = x.plane(n, c);
        const T* dyp = dy.plane(n, c);
        T* dxp = dx.plane(n, c);
        for (int64_t s = 0; s < spatial; ++s)
          store_grad(dxp[s],
                     normalized_input_grad(gamma[c] * dyp[s], (xp[s] - mean) * invstd, invstd, mean_g, mean_g_xhat),
                     accumulate);
      }
    }
  });
}

}  // namespace cpu

#ifdef MDCSRN_HAVE_CUDA
class CudaContext;
namespace gpu {
void batchnorm_forward(CudaContext& ctx, NormMode mode, Tensor<const float> x, const BatchNormParams<float>& p,
                       float* save_mean, float* save_invstd, Tensor<float> y);
void batchnorm_apply(CudaContext& ctx, Tensor<const float> x, const float* gamma, const float* beta, const float* mean,
                     const float* invstd, Tensor<float> y);
void batchnorm_backward(CudaContext& ctx, NormMode mode, Tensor<const float> x, Tensor<const float> dy,
                        const float* gamma, const float* save_mean, const float* save_invstd, Tensor<float> dx,
                        float* dgamma, float* dbeta, GradMode grad_mode);
}  // namespace gpu
#endif

}  // namespace mdcsrn
