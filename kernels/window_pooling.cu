#include "kernels/flat_grid.h"
#include "kernels/simt/launch.h"
#include "kernels/window_pooling.h"

namespace mdcsrn::gpu {
namespace {

// Element i (in N, C, D, H, W order) of a shape: its plane and voxel.
struct Voxel {
  int64_t n, c, d, h, w, offset;  // offset: within the plane
};
MDCSRN_HD Voxel voxel_of(const Shape5& s, int64_t i) {
  const int64_t spatial = s.spatial(), offset = i % spatial, nc = i / spatial;
  return Voxel{nc / s.c, nc % s.c, offset / (s.h * s.w), (offset / s.w) % s.h, offset % s.w, offset};
}

// One thread per output voxel.
MDCSRN_KERNEL void max_pool_forward_kernel(PoolWindow w, Tensor<const float> x, Tensor<float> y, int32_t* winners) {
  for (int64_t i = flat_thread(); i < y.numel(); i += flat_stride()) {
    const Voxel v = voxel_of(y.shape, i);
    y.plane(v.n, v.c)[v.offset] = pool_detail::max_pool_at(w, x.plane(v.n, v.c), x.shape, v.d, v.h, v.w, winners[i]);
  }
}

// One thread per input voxel.
MDCSRN_KERNEL void max_pool_backward_kernel(PoolWindow w, const int32_t* winners, Tensor<const float> dy, Tensor<float> dx, bool accumulate) {
  const int64_t out = dy.shape.spatial();
  for (int64_t i = flat_thread(); i < dx.numel(); i += flat_stride()) {
    const Voxel v = voxel_of(dx.shape, i);
    const float g = pool_detail::max_pool_gradient_at(w, winners + (v.n * dy.shape.c + v.c) * out, dy.plane(v.n, v.c), dy.shape, dx.shape,
                                                      v.d, v.h, v.w);
    store_grad(dx.plane(v.n, v.c)[v.offset], g, accumulate);
  }
}

MDCSRN_KERNEL void avg_pool_forward_kernel(PoolWindow w, Tensor<const float> x, Tensor<float> y) {
  for (int64_t i = flat_thread(); i < y.numel(); i += flat_stride()) {
    const Voxel v = voxel_of(y.shape, i);
    y.plane(v.n, v.c)[v.offset] = pool_detail::avg_pool_at(w, x.plane(v.n, v.c), x.shape, v.d, v.h, v.w);
  }
}

MDCSRN_KERNEL void avg_pool_backward_kernel(PoolWindow w, Tensor<const float> dy, Tensor<float> dx, bool accumulate) {
  for (int64_t i = flat_thread(); i < dx.numel(); i += flat_stride()) {
    const Voxel v = voxel_of(dx.shape, i);
    store_grad(dx.plane(v.n, v.c)[v.offset], pool_detail::avg_pool_gradient_at(w, dy.plane(v.n, v.c), dy.shape, v.d, v.h, v.w), accumulate);
  }
}

void check_planes(const char* op, const PoolWindow& w, const Tensor<const float>& x, const Tensor<const float>& y) {
  check_pool_shapes(op, w, x.shape, y.shape);
  require_planes(op, x);
  require_planes(op, y);
}

}  // namespace

template <class Context>
void max_pool_forward(Context& ctx, const PoolWindow& w, Tensor<const float> x, Tensor<float> y, int32_t* winners) {
  check_planes("max_pool_forward", w, x, y);
  simt::launch(ctx, flat_launch(y.numel()), max_pool_forward_kernel, w, x, y, winners);
}

template <class Context>
void max_pool_backward(Context& ctx, const PoolWindow& w, const int32_t* winners, Tensor<const float> dy, Tensor<float> dx, GradMode mode) {
  check_planes("max_pool_backward", w, dx, dy);
  simt::launch(ctx, flat_launch(dx.numel()), max_pool_backward_kernel, w, winners, dy, dx, mode == GradMode::Accumulate);
}

template <class Context>
void avg_pool_forward(Context& ctx, const PoolWindow& w, Tensor<const float> x, Tensor<float> y) {
  check_planes("avg_pool_forward", w, x, y);
  simt::launch(ctx, flat_launch(y.numel()), avg_pool_forward_kernel, w, x, y);
}

template <class Context>
void avg_pool_backward(Context& ctx, const PoolWindow& w, Tensor<const float> dy, Tensor<float> dx, GradMode mode) {
  check_planes("avg_pool_backward", w, dx, dy);
  simt::launch(ctx, flat_launch(dx.numel()), avg_pool_backward_kernel, w, dy, dx, mode == GradMode::Accumulate);
}

using simt::TargetContext;
template void max_pool_forward(TargetContext&, const PoolWindow&, Tensor<const float>, Tensor<float>, int32_t*);
template void max_pool_backward(TargetContext&, const PoolWindow&, const int32_t*, Tensor<const float>, Tensor<float>, GradMode);
template void avg_pool_forward(TargetContext&, const PoolWindow&, Tensor<const float>, Tensor<float>);
template void avg_pool_backward(TargetContext&, const PoolWindow&, Tensor<const float>, Tensor<float>, GradMode);

}  // namespace mdcsrn::gpu
