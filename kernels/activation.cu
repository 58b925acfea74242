#include "kernels/activation.h"
#include "kernels/cuda_launch.cuh"

namespace mdcsrn::gpu {
namespace {

__global__ void activation_forward_kernel(ActivationSpec a, Tensor<const float> x, Tensor<float> y) {
  MDCSRN_GRID_LOOP(i, x.numel()) {
    y.data[element_offset(y, i)] = activation_forward(a, x.data[element_offset(x, i)]);
  }
}

__global__ void activation_backward_kernel(ActivationSpec a, Tensor<const float> x, Tensor<const float> dy,
                                           Tensor<float> dx, bool accumulate) {
  MDCSRN_GRID_LOOP(i, x.numel()) {
    const float g = activation_backward(a, x.data[element_offset(x, i)], dy.data[element_offset(dy, i)]);
    store_grad(dx.data[element_offset(dx, i)], g, accumulate);
  }
}

}  // namespace

void activation_forward(CudaContext& ctx, const ActivationSpec& a, Tensor<const float> x, Tensor<float> y) {
  require_planes("activation_forward", x, y);
  activation_forward_kernel<<<grid_for(x.numel(), 4), kThreads, 0, ctx.stream()>>>(a, x, y);
  MDCSRN_KERNEL_CHECK();
}

void activation_backward(CudaContext& ctx, const ActivationSpec& a, Tensor<const float> x, Tensor<const float> dy,
                         Tensor<float> dx, GradMode mode) {
  require_planes("activation_backward", x, dy, dx);
  activation_backward_kernel<<<grid_for(x.numel(), 4), kThreads, 0, ctx.stream()>>>(a, x, dy, dx, mode == GradMode::Accumulate);
  MDCSRN_KERNEL_CHECK();
}

}  // namespace mdcsrn::gpu
