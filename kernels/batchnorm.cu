#include "kernels/batchnorm.h"
#include "kernels/cuda_launch.cuh"

namespace mdcsrn::gpu {
namespace {

// Element j of channel c: sample j / spatial, position j % spatial.
__device__ inline int64_t channel_element(const Tensor<const float>& t, int64_t c, int64_t j) {
  const int64_t spatial = t.shape.spatial();
  return (j / spatial) * t.stride.n + c * t.stride.c + j % spatial;
}

struct MomentsLoader {
  Tensor<const float> x;
  __device__ void operator()(Moments<float>& acc, int64_t c, int64_t j) const { acc.push(x.data[channel_element(x, c, j)]); }
};

struct GradSumsLoader {
  Tensor<const float> x, dy;
  const float* mean;
  const float* invstd;
  __device__ void operator()(SumPair<float>& acc, int64_t c, int64_t j) const {
    const float g = dy.data[channel_element(dy, c, j)];
    acc.push(g, g * (x.data[channel_element(x, c, j)] - mean[c]) * invstd[c]);
  }
};

__global__ void finalize_stats_kernel(const Moments<float>* partials, int parts, BatchNormParams<float> p,
                                      float* save_mean, float* save_invstd, int64_t channels) {
  MDCSRN_GRID_LOOP(c, channels) {
    const Moments<float> m = merge_parts(partials, c, parts);
    const float var = m.variance();
    save_mean[c] = m.mean;
    save_invstd[c] = inverse_std(var, p.eps);
    const float unbiased = m.count > 1 ? var * float(m.count) / float(m.count - 1) : var;
    p.running_mean[c] = running_average(p.running_mean[c], m.mean, p.momentum);
    p.running_var[c] = running_average(p.running_var[c], unbiased, p.momentum);
  }
}

__global__ void eval_stats_kernel(BatchNormParams<float> p, float* save_mean, float* save_invstd, int64_t channels) {
  MDCSRN_GRID_LOOP(c, channels) {
    save_mean[c] = p.running_mean[c];
    save_invstd[c] = inverse_std(p.running_var[c], p.eps);
  }
}

__global__ void apply_kernel(Tensor<const float> x, const float* gamma, const float* beta, const float* mean,
                             const float* invstd, Tensor<float> y) {
  const int64_t spatial = x.shape.spatial();
  MDCSRN_GRID_LOOP(i, x.numel()) {
    const int64_t c = (i / spatial) % x.shape.c;
    y.data[element_offset(y, i)] = normalize_affine(x.data[element_offset(x, i)], mean[c], invstd[c], gamma[c], beta[c]);
  }
}

// Turns the per-channel sums into dgamma, dbeta and the two means the input gradient needs
// (stored back into the partials' first slot).
__global__ void finalize_grads_kernel(SumPair<float>* partials, int parts, const float* gamma, float count,
                                      bool batch_stats, float* dgamma, float* dbeta, bool accumulate, int64_t channels) {
  MDCSRN_GRID_LOOP(c, channels) {
    const SumPair<float> s = merge_parts(partials, c, parts);
    store_grad(dbeta[c], s.first, accumulate);
    store_grad(dgamma[c], s.second, accumulate);
    partials[c * parts] = SumPair<float>{batch_stats ? gamma[c] * s.first / count : 0.f,
                                         batch_stats ? gamma[c] * s.second / count : 0.f};
  }
}

__global__ void input_grad_kernel(Tensor<const float> x, Tensor<const float> dy, const float* gamma, const float* mean,
                                  const float* invstd, const SumPair<float>* means, int parts, Tensor<float> dx,
                                  bool accumulate) {
  const int64_t spatial = x.shape.spatial();
  MDCSRN_GRID_LOOP(i, x.numel()) {
    const int64_t c = (i / spatial) % x.shape.c;
    const float xhat = (x.data[element_offset(x, i)] - mean[c]) * invstd[c];
    const SumPair<float> m = means[c * parts];
    const float g = gamma[c] * dy.data[element_offset(dy, i)];
    store_grad(dx.data[element_offset(dx, i)], normalized_input_grad(g, xhat, invstd[c], m.first, m.second), accumulate);
  }
}

}  // namespace

void batchnorm_forward(CudaContext& ctx, NormMode mode, Tensor<const float> x, const BatchNormParams<float>& p,
                       float* save_mean, float* save_invstd, Tensor<float> y) {
  require_planes("batchnorm_forward", x, y);
  const int64_t channels = x.shape.c;
  if (mode == NormMode::Train) {
    int parts = 0;
    Moments<float>* partials = reduce_groups<Moments<float>>(ctx, MomentsLoader{x}, channels, x.shape.n * x.shape.spatial(), parts);
    finalize_stats_kernel<<<grid_for(channels), kThreads, 0, ctx.stream()>>>(partials, parts, p, save_mean, save_invstd, channels);
  } else {
    eval_stats_kernel<<<grid_for(channels), kThreads, 0, ctx.stream()>>>(p, save_mean, save_invstd, channels);
  }
  MDCSRN_KERNEL_CHECK();
  apply_kernel<<<grid_for(x.numel(), 4), kThreads, 0, ctx.stream()>>>(x, p.gamma, p.beta, save_mean, save_invstd, y);
  MDCSRN_KERNEL_CHECK();
}

void batchnorm_apply(CudaContext& ctx, Tensor<const float> x, const float* gamma, const float* beta, const float* mean,
                     const float* invstd, Tensor<float> y) {
  require_planes("batchnorm_apply", x, y);
  apply_kernel<<<grid_for(x.numel(), 4), kThreads, 0, ctx.stream()>>>(x, gamma, beta, mean, invstd, y);
  MDCSRN_KERNEL_CHECK();
}

void batchnorm_backward(CudaContext& ctx, NormMode mode, Tensor<const float> x, Tensor<const float> dy,
                        const float* gamma, const float* save_mean, const float* save_invstd, Tensor<float> dx,
                        float* dgamma, float* dbeta, GradMode grad_mode) {
  require_planes("batchnorm_backward", x, dy, dx);
  const int64_t channels = x.shape.c, count = x.shape.n * x.shape.spatial();
  const bool accumulate = grad_mode == GradMode::Accumulate;
  int parts = 0;
  SumPair<float>* partials =
      reduce_groups<SumPair<float>>(ctx, GradSumsLoader{x, dy, save_mean, save_invstd}, channels, count, parts);
  finalize_grads_kernel<<<grid_for(channels), kThreads, 0, ctx.stream()>>>(
      partials, parts, gamma, float(count), mode == NormMode::Train, dgamma, dbeta, accumulate, channels);
  MDCSRN_KERNEL_CHECK();
  input_grad_kernel<<<grid_for(x.numel(), 4), kThreads, 0, ctx.stream()>>>(x, dy, gamma, save_mean, save_invstd,
                                                                            partials, parts, dx, accumulate);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
