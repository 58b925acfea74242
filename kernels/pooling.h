#pragma once
// Global average pooling: (N, C, D, H, W) -> (N, C, 1, 1, 1).
#include "kernels/common.h"
#include "kernels/reduce.h"

namespace mdcsrn {

inline Shape5 pooled_shape(const Shape5& s) { return Shape5{s.n, s.c, 1, 1, 1}; }

namespace cpu {

template <class T>
void global_avg_pool_forward(Tensor<const T> x, Tensor<T> y) {
  require_planes("global_avg_pool_forward", x);
  MDCSRN_ASSERT(y.shape == pooled_shape(x.shape), "global_avg_pool_forward: output must be " + pooled_shape(x.shape).str());
  const int64_t spatial = x.shape.spatial();
  for_each_plane(x.shape, [&](int64_t n, int64_t c) {
    Sum<SumType<T>> sum;
    const T* xp = x.plane(n, c);
    for (int64_t s = 0; s < spatial; ++s) sum.push(xp[s]);
    y.at(n, c, 0, 0, 0) = T(sum.value / double(spatial));
  });
}

template <class T>
void global_avg_pool_backward(Tensor<const T> dy, Tensor<T> dx, GradMode mode) {
  require_planes("global_avg_pool_backward", dx);
  MDCSRN_ASSERT(dy.shape == pooled_shape(dx.shape), "global_avg_pool_backward: gradient must be " + pooled_shape(dx.shape).str());
  const int64_t spatial = dx.shape.spatial();
  const bool accumulate = mode == GradMode::Accumulate;
  for_each_plane(dx.shape, [&](int64_t n, int64_t c) {
    const T g = dy.at(n, c, 0, 0, 0) / T(spatial);
    T* dxp = dx.plane(n, c);
    for (int64_t s = 0; s < spatial; ++s) store_grad(dxp[s], g, accumulate);
  });
}

}  // namespace cpu

// The GPU kernels (pooling.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void global_avg_pool_forward(Context& ctx, Tensor<const float> x, Tensor<float> y);
template <class Context>
void global_avg_pool_backward(Context& ctx, Tensor<const float> dy, Tensor<float> dx, GradMode mode);
}  // namespace gpu

}  // namespace mdcsrn
