#include "kernels/cuda_launch.cuh"
#include "kernels/pooling.h"

namespace mdcsrn::gpu {
namespace {

// One block per (sample, channel) plane.
__global__ void __launch_bounds__(kThreads) pool_forward_kernel(Tensor<const float> x, Tensor<float> y) {
  const int64_t n = blockIdx.x / x.shape.c, c = blockIdx.x % x.shape.c, spatial = x.shape.spatial();
  const float* xp = x.plane(n, c);
  Sum<float> sum;
  for (int64_t s = threadIdx.x; s < spatial; s += kThreads) sum.push(xp[s]);
  sum = block_reduce(sum);
  if (threadIdx.x == 0) y.at(n, c, 0, 0, 0) = sum.value / float(spatial);
}

__global__ void pool_backward_kernel(Tensor<const float> dy, Tensor<float> dx, bool accumulate) {
  const int64_t spatial = dx.shape.spatial();
  MDCSRN_GRID_LOOP(i, dx.numel()) {
    const int64_t nc = i / spatial;
    const float g = dy.at(nc / dx.shape.c, nc % dx.shape.c, 0, 0, 0) / float(spatial);
    store_grad(dx.data[element_offset(dx, i)], g, accumulate);
  }
}

}  // namespace

void global_avg_pool_forward(CudaContext& ctx, Tensor<const float> x, Tensor<float> y) {
  require_planes("global_avg_pool_forward", x);
  MDCSRN_REQUIRE(y.shape == pooled_shape(x.shape), "global_avg_pool_forward: output must be " + pooled_shape(x.shape).str());
  pool_forward_kernel<<<unsigned(x.shape.n * x.shape.c), kThreads, 0, ctx.stream()>>>(x, y);
  MDCSRN_KERNEL_CHECK();
}

void global_avg_pool_backward(CudaContext& ctx, Tensor<const float> dy, Tensor<float> dx, GradMode mode) {
  require_planes("global_avg_pool_backward", dx);
  MDCSRN_REQUIRE(dy.shape == pooled_shape(dx.shape), "global_avg_pool_backward: gradient must be " + pooled_shape(dx.shape).str());
  pool_backward_kernel<<<grid_for(dx.numel(), 4), kThreads, 0, ctx.stream()>>>(dy, dx, mode == GradMode::Accumulate);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
