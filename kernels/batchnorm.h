#pragma once
// BatchNorm3d with PyTorch's semantics (batch statistics over (N, D, H, W) in training, biased
// variance for normalising and unbiased for the running average; running statistics in eval),
// split the way mDCSRN's dense blocks use it: a feature channel's batch statistics are computed
// once, and every unit that reads the channel normalises it with its own gamma and beta and
// applies its activation in the same pass. Backward folds the activation's slope into
// BatchNorm's input gradient, so neither BatchNorm's nor the activation's output is ever stored.
#include <vector>

#include "engine/collectives.h"
#include "kernels/activation.h"
#include "kernels/common.h"
#include "kernels/normalization.h"
#include "kernels/reduce.h"

namespace mdcsrn {

// What a unit applies to its input channels: y = act((x - mean) * invstd * gamma + beta).
template <class T>
struct BatchNormAffine {
  const T* gamma = nullptr;
  const T* beta = nullptr;
  const T* mean = nullptr;
  const T* invstd = nullptr;
};

namespace cpu {

// The statistics in two halves, so that data-parallel ranks can exchange the first: each
// (channel, sample) plane's moments, partials[c * N + n]; then per channel the merge of `samples`
// planes' moments in sample order. Ranks that gather their planes' moments in rank order and
// merge them get the very bits of one process holding the whole batch.
template <class T>
void batchnorm_plane_moments(Tensor<const T> x, Moments<SumType<T>>* partials) {
  require_planes("batchnorm_plane_moments", x);
  const int64_t spatial = x.shape.spatial();
  parallel_for(x.shape.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c)
      for (int64_t n = 0; n < x.shape.n; ++n) partials[c * x.shape.n + n] = plane_moments(x.plane(n, c), spatial);
  });
}

template <class T>
void batchnorm_merge_statistics(const Moments<SumType<T>>* partials, int64_t channels, int64_t samples, T eps, T* mean, T* var, T* invstd) {
  for (int64_t c = 0; c < channels; ++c) {
    Moments<SumType<T>> channel;
    for (int64_t n = 0; n < samples; ++n) channel.merge(partials[c * samples + n]);
    mean[c] = T(channel.mean);
    var[c] = T(channel.variance());
    invstd[c] = inverse_std(var[c], eps);
  }
}

// Batch statistics of every channel of x: mean, biased variance, 1 / sqrt(var + eps).
template <class T>
void batchnorm_statistics(Tensor<const T> x, T eps, T* mean, T* var, T* invstd) {
  std::vector<Moments<SumType<T>>> partials(size_t(x.shape.c * x.shape.n));
  batchnorm_plane_moments(x, partials.data());
  batchnorm_merge_statistics(partials.data(), x.shape.c, x.shape.n, eps, mean, var, invstd);
}

// running = (1 - momentum) running + momentum batch, with the unbiased batch variance.
template <class T>
void batchnorm_update_running(const T* mean, const T* var, int64_t count, T momentum, T* running_mean, T* running_var,
                              int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    running_mean[c] = running_average(running_mean[c], mean[c], momentum);
    running_var[c] = running_average(running_var[c], unbiased_variance(var[c], count), momentum);
  }
}

// Eval mode: the constants of the running statistics.
template <class T>
void batchnorm_running_statistics(const T* running_mean, const T* running_var, T eps, T* mean, T* invstd, int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    mean[c] = running_mean[c];
    invstd[c] = inverse_std(running_var[c], eps);
  }
}

template <class T>
void batchnorm_activation_forward(Tensor<const T> x, const BatchNormAffine<T>& bn, const ActivationSpec& a, Tensor<T> y) {
  require_planes("batchnorm_activation_forward", x, y);
  const int64_t spatial = x.shape.spatial();
  with_activation<T>(a, [&](const auto f) {
    for_each_plane(x.shape, [&](int64_t n, int64_t c) {
      const T* xp = x.plane(n, c);
      T* yp = y.plane(n, c);
      const T mean = bn.mean[c], invstd = bn.invstd[c], gamma = bn.gamma[c], beta = bn.beta[c];
      for (int64_t s = 0; s < spatial; ++s) yp[s] = f.value(normalize_affine(xp[s], mean, invstd, gamma, beta));
    });
  });
}

// dy is the gradient of y = act(BN(x)). Writes dx and (accumulating or not, like dx) dgamma and
// dbeta. In Train mode the statistics are the batch's, so dx includes their dependence on x.
template <class T>
void batchnorm_activation_backward(NormMode mode, Tensor<const T> x, Tensor<const T> dy, const BatchNormAffine<T>& bn,
                                   const ActivationSpec& a, Tensor<T> dx, T* dgamma, T* dbeta, GradMode grad_mode) {
  require_planes("batchnorm_activation_backward", x, dy, dx);
  const int64_t channels = x.shape.c, spatial = x.shape.spatial();
  const bool accumulate = grad_mode == GradMode::Accumulate;
  const T count = T(x.shape.n * spatial);
  with_activation<T>(a, [&](const auto f) {
    parallel_for(channels, 1, [&](int64_t begin, int64_t end) {
      // The channel's g = dL/d(BN output), computed once in loops of their own so that they vectorise.
      std::vector<T> g(static_cast<size_t>(x.shape.n * spatial));
      for (int64_t c = begin; c < end; ++c) {
        const T mean = bn.mean[c], invstd = bn.invstd[c], gamma = bn.gamma[c], beta = bn.beta[c];
        SumPair<SumType<T>> sums;  // sum(g), sum(g * xhat)
        for (int64_t n = 0; n < x.shape.n; ++n) {
          const T* xp = x.plane(n, c);
          const T* dyp = dy.plane(n, c);
          T* gp = g.data() + n * spatial;
          for (int64_t s = 0; s < spatial; ++s) gp[s] = dyp[s] * f.slope(normalize_affine(xp[s], mean, invstd, gamma, beta));
          SumPair<SumType<T>> plane;
          for (int64_t s = 0; s < spatial; ++s) plane.push(gp[s], gp[s] * (xp[s] - mean) * invstd);
          sums.merge(plane);
        }
        store_grad(dbeta[c], T(sums.first), accumulate);
        store_grad(dgamma[c], T(sums.second), accumulate);
        // The normalised value's gradient is gamma * g, so its means are gamma times those of g.
        const bool batch_stats = mode == NormMode::Train;
        const T mean_g = batch_stats ? T(gamma * sums.first / count) : T(0);
        const T mean_g_xhat = batch_stats ? T(gamma * sums.second / count) : T(0);
        for (int64_t n = 0; n < x.shape.n; ++n) {
          const T* xp = x.plane(n, c);
          const T* gp = g.data() + n * spatial;
          T* dxp = dx.plane(n, c);
          for (int64_t s = 0; s < spatial; ++s)
            store_grad(dxp[s], normalized_input_grad(gamma * gp[s], (xp[s] - mean) * invstd, invstd, mean_g, mean_g_xhat), accumulate);
        }
      }
    });
  });
}

// The backward in two halves, for data-parallel ranks (models/sync_batchnorm.h), which exchange
// the first's sums; with the sums of the whole batch they give batchnorm_activation_backward's bits.
// First: g = dy * act'(BN(x)) in place of dy, and each (channel, sample) plane's sums of g and
// g * xhat, partials[c * N + n].
template <class T>
void batchnorm_activation_backward_sums(Tensor<const T> x, Tensor<T> dy, const BatchNormAffine<T>& bn, const ActivationSpec& a,
                                        SumPair<SumType<T>>* partials) {
  require_planes("batchnorm_activation_backward_sums", x, dy);
  const int64_t spatial = x.shape.spatial();
  with_activation<T>(a, [&](const auto f) {
    parallel_for(x.shape.c, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const T mean = bn.mean[c], invstd = bn.invstd[c], gamma = bn.gamma[c], beta = bn.beta[c];
        for (int64_t n = 0; n < x.shape.n; ++n) {
          const T* xp = x.plane(n, c);
          T* gp = dy.plane(n, c);
          for (int64_t s = 0; s < spatial; ++s) gp[s] = gp[s] * f.slope(normalize_affine(xp[s], mean, invstd, gamma, beta));
          SumPair<SumType<T>> plane;
          for (int64_t s = 0; s < spatial; ++s) plane.push(gp[s], gp[s] * (xp[s] - mean) * invstd);
          partials[c * x.shape.n + n] = plane;
        }
      }
    });
  });
}

// Second: dx from g and each channel's sums (sum g, sum g * xhat) over `count` elements.
template <class T>
void batchnorm_input_gradient(NormMode mode, Tensor<const T> x, Tensor<const T> g, const BatchNormAffine<T>& bn,
                              const SumPair<SumType<T>>* sums, T count, Tensor<T> dx, GradMode grad_mode) {
  require_planes("batchnorm_input_gradient", x, g, dx);
  const int64_t spatial = x.shape.spatial();
  const bool accumulate = grad_mode == GradMode::Accumulate, batch_stats = mode == NormMode::Train;
  parallel_for(x.shape.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const T mean = bn.mean[c], invstd = bn.invstd[c], gamma = bn.gamma[c];
      const T mean_g = batch_stats ? T(gamma * sums[c].first / count) : T(0);
      const T mean_g_xhat = batch_stats ? T(gamma * sums[c].second / count) : T(0);
      for (int64_t n = 0; n < x.shape.n; ++n) {
        const T* xp = x.plane(n, c);
        const T* gp = g.plane(n, c);
        T* dxp = dx.plane(n, c);
        for (int64_t s = 0; s < spatial; ++s)
          store_grad(dxp[s], normalized_input_grad(gamma * gp[s], (xp[s] - mean) * invstd, invstd, mean_g, mean_g_xhat), accumulate);
      }
    }
  });
}

}  // namespace cpu

// The GPU kernels (batchnorm.cu), launched on a CudaContext or run by a simt::Emulator. With
// ranks (collectives over the context's kind of memory), x is this rank's share of a global batch:
// the statistics, and in train mode the input gradient, are the whole batch's (each rank's
// partials gathered, merged rank by rank), while dgamma and dbeta are this rank's sums.
namespace gpu {
template <class Context>
void batchnorm_statistics(Context& ctx, Tensor<const float> x, float eps, float* mean, float* var, float* invstd,
                          const Collectives* ranks = nullptr);
template <class Context>
void batchnorm_update_running(Context& ctx, const float* mean, const float* var, int64_t count, float momentum, float* running_mean,
                              float* running_var, int64_t channels);
template <class Context>
void batchnorm_running_statistics(Context& ctx, const float* running_mean, const float* running_var, float eps, float* mean,
                                  float* invstd, int64_t channels);
template <class Context>
void batchnorm_activation_forward(Context& ctx, Tensor<const float> x, const BatchNormAffine<float>& bn, const ActivationSpec& a,
                                  Tensor<float> y);
template <class Context>
void batchnorm_activation_backward(Context& ctx, NormMode mode, Tensor<const float> x, Tensor<const float> dy,
                                   const BatchNormAffine<float>& bn, const ActivationSpec& a, Tensor<float> dx, float* dgamma,
                                   float* dbeta, GradMode grad_mode, const Collectives* ranks = nullptr);
}  // namespace gpu

}  // namespace mdcsrn
