#include "kernels/cuda_launch.cuh"
#include "kernels/layernorm.h"

namespace mdcsrn::gpu {
namespace {

// Element j of sample n: channel j / spatial, position j % spatial (j is also the affine index).
__device__ inline int64_t sample_element(const Tensor<const float>& t, int64_t n, int64_t j) {
  const int64_t spatial = t.shape.spatial();
  return n * t.stride.n + (j / spatial) * t.stride.c + j % spatial;
}

struct MomentsLoader {
  Tensor<const float> x;
  __device__ void operator()(Moments<float>& acc, int64_t n, int64_t j) const { acc.push(x.data[sample_element(x, n, j)]); }
};

struct GradSumsLoader {
  Tensor<const float> x, dy;
  const float* weight;
  const float* mean;
  const float* invstd;
  __device__ void operator()(SumPair<float>& acc, int64_t n, int64_t j) const {
    const float g = dy.data[sample_element(dy, n, j)] * weight[j];
    acc.push(g, g * (x.data[sample_element(x, n, j)] - mean[n]) * invstd[n]);
  }
};

__global__ void finalize_stats_kernel(const Moments<float>* partials, int parts, float eps, float* save_mean,
                                      float* save_invstd, int64_t samples) {
  MDCSRN_GRID_LOOP(n, samples) {
    const Moments<float> m = merge_parts(partials, n, parts);
    save_mean[n] = m.mean;
    save_invstd[n] = inverse_std(m.variance(), eps);
  }
}

__global__ void apply_kernel(Tensor<const float> x, const float* weight, const float* bias, const float* mean,
                             const float* invstd, Tensor<float> y) {
  const int64_t per_sample = x.shape.c * x.shape.spatial();
  MDCSRN_GRID_LOOP(i, x.numel()) {
    const int64_t n = i / per_sample, e = i % per_sample;
    y.data[element_offset(y, i)] = normalize_affine(x.data[element_offset(x, i)], mean[n], invstd[n], weight[e], bias[e]);
  }
}

__global__ void finalize_means_kernel(SumPair<float>* partials, int parts, float count, int64_t samples) {
  MDCSRN_GRID_LOOP(n, samples) {
    const SumPair<float> s = merge_parts(partials, n, parts);
    partials[n * parts] = SumPair<float>{s.first / count, s.second / count};
  }
}

__global__ void input_grad_kernel(Tensor<const float> x, Tensor<const float> dy, const float* weight, const float* mean,
                                  const float* invstd, const SumPair<float>* means, int parts, Tensor<float> dx,
                                  bool accumulate) {
  const int64_t per_sample = x.shape.c * x.shape.spatial();
  MDCSRN_GRID_LOOP(i, x.numel()) {
    const int64_t n = i / per_sample, e = i % per_sample;
    const float xhat = (x.data[element_offset(x, i)] - mean[n]) * invstd[n];
    const SumPair<float> m = means[n * parts];
    store_grad(dx.data[element_offset(dx, i)],
               normalized_input_grad(dy.data[element_offset(dy, i)] * weight[e], xhat, invstd[n], m.first, m.second),
               accumulate);
  }
}

__global__ void affine_grad_kernel(Tensor<const float> x, Tensor<const float> dy, const float* mean, const float* invstd,
                                   float* dweight, float* dbias, bool accumulate) {
  const int64_t per_sample = x.shape.c * x.shape.spatial();
  MDCSRN_GRID_LOOP(e, per_sample) {
    float dw = 0.f, db = 0.f;
    for (int64_t n = 0; n < x.shape.n; ++n) {
      const float d = dy.data[sample_element(dy, n, e)];
      dw += d * (x.data[sample_element(x, n, e)] - mean[n]) * invstd[n];
      db += d;
    }
    store_grad(dweight[e], dw, accumulate);
    store_grad(dbias[e], db, accumulate);
  }
}

}  // namespace

void layernorm_forward(CudaContext& ctx, Tensor<const float> x, const float* weight, const float* bias, float eps,
                       float* save_mean, float* save_invstd, Tensor<float> y) {
  require_planes("layernorm_forward", x, y);
  const int64_t samples = x.shape.n;
  int parts = 0;
  Moments<float>* partials = reduce_groups<Moments<float>>(ctx, MomentsLoader{x}, samples, x.shape.c * x.shape.spatial(), parts);
  finalize_stats_kernel<<<grid_for(samples), kThreads, 0, ctx.stream()>>>(partials, parts, eps, save_mean, save_invstd, samples);
  MDCSRN_KERNEL_CHECK();
  apply_kernel<<<grid_for(x.numel(), 4), kThreads, 0, ctx.stream()>>>(x, weight, bias, save_mean, save_invstd, y);
  MDCSRN_KERNEL_CHECK();
}

void layernorm_backward(CudaContext& ctx, Tensor<const float> x, Tensor<const float> dy, const float* weight,
                        const float* save_mean, const float* save_invstd, Tensor<float> dx, float* dweight,
                        float* dbias, GradMode grad_mode) {
  require_planes("layernorm_backward", x, dy, dx);
  const int64_t samples = x.shape.n, per_sample = x.shape.c * x.shape.spatial();
  const bool accumulate = grad_mode == GradMode::Accumulate;
  int parts = 0;
  SumPair<float>* partials = reduce_groups<SumPair<float>>(ctx, GradSumsLoader{x, dy, weight, save_mean, save_invstd},
                                                           samples, per_sample, parts);
  finalize_means_kernel<<<grid_for(samples), kThreads, 0, ctx.stream()>>>(partials, parts, float(per_sample), samples);
  MDCSRN_KERNEL_CHECK();
  input_grad_kernel<<<grid_for(x.numel(), 4), kThreads, 0, ctx.stream()>>>(x, dy, weight, save_mean, save_invstd,
                                                                            partials, parts, dx, accumulate);
  MDCSRN_KERNEL_CHECK();
  affine_grad_kernel<<<grid_for(per_sample), kThreads, 0, ctx.stream()>>>(x, dy, save_mean, save_invstd, dweight, dbias, accumulate);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
