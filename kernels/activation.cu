#include "kernels/activation.h"
#include "kernels/plane_grid.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

MDCSRN_KERNEL void activation_forward_kernel(PlaneGrid g, ActivationSpec a, Tensor<const float> x, Tensor<float> y) {
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    Lanes<W> v = load_lanes<W>(x.plane(p.n, p.c) + s);
    for (int k = 0; k < W; ++k) v.v[k] = mdcsrn::activation_forward(a, v.v[k]);
    store_lanes<W>(y.plane(p.n, p.c) + s, v);
  });
}

MDCSRN_KERNEL void activation_backward_kernel(PlaneGrid g, ActivationSpec a, Tensor<const float> x, Tensor<const float> dy,
                                              Tensor<float> dx, bool accumulate) {
  for_each_plane_chunk(g, [&](const PlaneCoords& p, int32_t s, auto width) {
    constexpr int W = decltype(width)::value;
    const Lanes<W> xv = load_lanes<W>(x.plane(p.n, p.c) + s), dyv = load_lanes<W>(dy.plane(p.n, p.c) + s);
    float* out = dx.plane(p.n, p.c) + s;
    Lanes<W> g = accumulate ? load_lanes<W>(out) : Lanes<W>{};
    for (int k = 0; k < W; ++k) store_grad(g.v[k], mdcsrn::activation_backward(a, xv.v[k], dyv.v[k]), accumulate);
    store_lanes<W>(out, g);
  });
}

}  // namespace

template <class Context>
void activation_forward(Context& ctx, const ActivationSpec& a, Tensor<const float> x, Tensor<float> y) {
  require_planes("activation_forward", x, y);
  const int width = vector_width(x, y);
  simt::launch(ctx, plane_launch(x.shape, elementwise_parts(x.shape, width)), activation_forward_kernel, plane_grid(x.shape, width),
               a, x, y);
}

template <class Context>
void activation_backward(Context& ctx, const ActivationSpec& a, Tensor<const float> x, Tensor<const float> dy, Tensor<float> dx,
                         GradMode mode) {
  require_planes("activation_backward", x, dy, dx);
  const int width = vector_width(x, dy, dx);
  simt::launch(ctx, plane_launch(x.shape, elementwise_parts(x.shape, width)), activation_backward_kernel, plane_grid(x.shape, width),
               a, x, dy, dx, mode == GradMode::Accumulate);
}

template void activation_forward(simt::TargetContext&, const ActivationSpec&, Tensor<const float>, Tensor<float>);
template void activation_backward(simt::TargetContext&, const ActivationSpec&, Tensor<const float>, Tensor<const float>,
                                  Tensor<float>, GradMode);

}  // namespace mdcsrn::gpu
