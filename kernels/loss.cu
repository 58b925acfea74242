#include "kernels/cuda_launch.cuh"
#include "kernels/loss.h"

namespace mdcsrn::gpu {
namespace {

struct LossLoader {
  LossKind kind;
  Tensor<const float> prediction, target;
  __device__ void operator()(Sum<double>& acc, int64_t, int64_t i) const {
    acc.push(loss_term(kind, prediction.data[element_offset(prediction, i)], target.data[element_offset(target, i)]));
  }
};

struct ScoreLoader {
  const float* scores;
  __device__ void operator()(Sum<double>& acc, int64_t, int64_t i) const { acc.push(double(scores[i])); }
};

__global__ void finalize_mean_kernel(const Sum<double>* partials, int parts, double count, float* result) {
  if (blockIdx.x == 0 && threadIdx.x == 0) result[0] = float(merge_parts(partials, 0, parts).value / count);
}

__global__ void loss_backward_kernel(LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float scale,
                                     Tensor<float> dprediction, bool accumulate) {
  MDCSRN_GRID_LOOP(i, prediction.numel()) {
    const float g = loss_grad(kind, prediction.data[element_offset(prediction, i)], target.data[element_offset(target, i)], scale);
    store_grad(dprediction.data[element_offset(dprediction, i)], g, accumulate);
  }
}

__global__ void fill_grad_kernel(float* d, int64_t count, float value, bool accumulate) {
  MDCSRN_GRID_LOOP(i, count) { store_grad(d[i], value, accumulate); }
}

template <class Loader>
void mean_of(CudaContext& ctx, Loader load, int64_t count, float* result) {
  int parts = 0;
  Sum<double>* partials = reduce_groups<Sum<double>>(ctx, load, 1, count, parts);
  finalize_mean_kernel<<<1, 1, 0, ctx.stream()>>>(partials, parts, double(count), result);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace

void loss_forward(CudaContext& ctx, LossKind kind, Tensor<const float> prediction, Tensor<const float> target, float* loss) {
  require_planes("loss_forward", prediction, target);
  mean_of(ctx, LossLoader{kind, prediction, target}, prediction.numel(), loss);
}

void loss_backward(CudaContext& ctx, LossKind kind, Tensor<const float> prediction, Tensor<const float> target,
                   float weight, Tensor<float> dprediction, GradMode mode) {
  require_planes("loss_backward", prediction, target, dprediction);
  loss_backward_kernel<<<grid_for(prediction.numel(), 4), kThreads, 0, ctx.stream()>>>(
      kind, prediction, target, weight / float(prediction.numel()), dprediction, mode == GradMode::Accumulate);
  MDCSRN_KERNEL_CHECK();
}

void mean_score(CudaContext& ctx, const float* scores, int64_t count, float* result) {
  mean_of(ctx, ScoreLoader{scores}, count, result);
}

void mean_score_backward(CudaContext& ctx, int64_t count, float weight, float* dscores, GradMode mode) {
  fill_grad_kernel<<<grid_for(count), kThreads, 0, ctx.stream()>>>(dscores, count, weight / float(count), mode == GradMode::Accumulate);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
