#include "kernels/cuda_launch.cuh"
#include "kernels/optimizer.h"

namespace mdcsrn::gpu {
namespace {

__global__ void adam_kernel(AdamStep s, float* params, const float* grads, float* m, float* v, int64_t count) {
  MDCSRN_GRID_LOOP(i, count) { adam_update(s, params[i], grads[i], m[i], v[i]); }
}

__global__ void clip_kernel(float* params, int64_t count, float limit) {
  MDCSRN_GRID_LOOP(i, count) { params[i] = clip_value(params[i], limit); }
}

}  // namespace

void adam(CudaContext& ctx, const AdamStep& s, float* params, const float* grads, float* m, float* v, int64_t count) {
  adam_kernel<<<grid_for(count, 4), kThreads, 0, ctx.stream()>>>(s, params, grads, m, v, count);
  MDCSRN_KERNEL_CHECK();
}

void clip(CudaContext& ctx, float* params, int64_t count, float limit) {
  clip_kernel<<<grid_for(count, 4), kThreads, 0, ctx.stream()>>>(params, count, limit);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
