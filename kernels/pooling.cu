#include "kernels/block_reduce.h"
#include "kernels/plane_grid.h"
#include "kernels/pooling.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

// One block per plane.
MDCSRN_KERNEL void pool_forward_kernel(PlaneGrid g, Tensor<const float> x, Tensor<float> y) {
  Sum<float> sum;
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    const Lanes<W> v = load_lanes<W>(x.plane(p.n, p.c) + s);
    for (int k = 0; k < W; ++k) sum.push(v.v[k]);
  });
  sum = block_reduce(sum, simt::shared<Sum<float>>(0, int((simt::block_threads() + 31) / 32)));
  const PlaneCoords p = g.plane();
  if (simt::linear_thread() == 0) y.at(p.n, p.c, 0, 0, 0) = sum.value / float(g.spatial);
}

MDCSRN_KERNEL void pool_backward_kernel(PlaneGrid g, Tensor<const float> dy, Tensor<float> dx, bool accumulate) {
  const PlaneCoords plane = g.plane();
  const float value = dy.at(plane.n, plane.c, 0, 0, 0) / float(g.spatial);
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    float* out = dx.plane(p.n, p.c) + s;
    Lanes<W> d = accumulate ? load_lanes<W>(out) : Lanes<W>{};
    for (int k = 0; k < W; ++k) store_grad(d.v[k], value, accumulate);
    store_lanes<W>(out, d);
  });
}

}  // namespace

template <class Context>
void global_avg_pool_forward(Context& ctx, Tensor<const float> x, Tensor<float> y) {
  require_planes("global_avg_pool_forward", x);
  MDCSRN_ASSERT(y.shape == pooled_shape(x.shape), "global_avg_pool_forward: output must be " + pooled_shape(x.shape).str());
  simt::launch(ctx, plane_launch(x.shape, 1, block_reduce_shared_bytes<Sum<float>>()), pool_forward_kernel,
               plane_grid(x.shape, vector_width(x)), x, y);
}

template <class Context>
void global_avg_pool_backward(Context& ctx, Tensor<const float> dy, Tensor<float> dx, GradMode mode) {
  require_planes("global_avg_pool_backward", dx);
  MDCSRN_ASSERT(dy.shape == pooled_shape(dx.shape), "global_avg_pool_backward: gradient must be " + pooled_shape(dx.shape).str());
  const int width = vector_width(dx);
  simt::launch(ctx, plane_launch(dx.shape, elementwise_parts(dx.shape, width)), pool_backward_kernel, plane_grid(dx.shape, width), dy,
               dx, mode == GradMode::Accumulate);
}

using simt::TargetContext;
template void global_avg_pool_forward(TargetContext&, Tensor<const float>, Tensor<float>);
template void global_avg_pool_backward(TargetContext&, Tensor<const float>, Tensor<float>, GradMode);

}  // namespace mdcsrn::gpu
