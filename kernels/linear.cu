#include "kernels/flat_grid.h"
#include "kernels/linear.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::gpu {
namespace {

// One thread per output (n, o), per input (n, c), per weight (o, c) and bias (c = -1 on row o).
MDCSRN_KERNEL void linear_forward_kernel(Tensor<const float> x, const float* w, const float* b, Tensor<float> y) {
  for (int64_t i = flat_thread(); i < y.numel(); i += flat_stride()) {
    const int64_t n = i / y.shape.c, o = i % y.shape.c;
    y.at(n, o, 0, 0, 0) = linear_detail::output_at<float, float>(x, w, b, n, o);
  }
}

MDCSRN_KERNEL void linear_backward_data_kernel(const float* w, Tensor<const float> dy, Tensor<float> dx, bool accumulate) {
  for (int64_t i = flat_thread(); i < dx.numel(); i += flat_stride()) {
    const int64_t n = i / dx.shape.c, c = i % dx.shape.c;
    store_grad(dx.at(n, c, 0, 0, 0), linear_detail::input_gradient_at<float, float>(w, dy, dx.shape.c, n, c), accumulate);
  }
}

// Row o holds the weights (o, 0..C-1) and then the bias of o.
MDCSRN_KERNEL void linear_backward_weight_kernel(Tensor<const float> x, Tensor<const float> dy, float* dw, float* db, bool accumulate) {
  const int64_t row = x.shape.c + 1;
  for (int64_t i = flat_thread(); i < dy.shape.c * row; i += flat_stride()) {
    const int64_t o = i / row, c = i % row;
    if (c < x.shape.c)
      store_grad(dw[o * x.shape.c + c], linear_detail::weight_gradient_at<float, float>(x, dy, o, c), accumulate);
    else if (db)
      store_grad(db[o], linear_detail::weight_gradient_at<float, float>(x, dy, o, -1), accumulate);
  }
}

}  // namespace

template <class Context>
void linear_forward(Context& ctx, Tensor<const float> x, const float* weight, const float* bias, Tensor<float> y) {
  check_linear_shapes("linear_forward", x.shape, y.shape);
  simt::launch(ctx, flat_launch(y.numel()), linear_forward_kernel, x, weight, bias, y);
}

template <class Context>
void linear_backward_data(Context& ctx, const float* weight, Tensor<const float> dy, Tensor<float> dx, GradMode mode) {
  check_linear_shapes("linear_backward_data", dx.shape, dy.shape);
  simt::launch(ctx, flat_launch(dx.numel()), linear_backward_data_kernel, weight, dy, dx, mode == GradMode::Accumulate);
}

template <class Context>
void linear_backward_weight(Context& ctx, Tensor<const float> x, Tensor<const float> dy, float* dweight, float* dbias, GradMode mode) {
  check_linear_shapes("linear_backward_weight", x.shape, dy.shape);
  simt::launch(ctx, flat_launch(dy.shape.c * (x.shape.c + 1)), linear_backward_weight_kernel, x, dy, dweight, dbias,
               mode == GradMode::Accumulate);
}

using simt::TargetContext;
template void linear_forward(TargetContext&, Tensor<const float>, const float*, const float*, Tensor<float>);
template void linear_backward_data(TargetContext&, const float*, Tensor<const float>, Tensor<float>, GradMode);
template void linear_backward_weight(TargetContext&, Tensor<const float>, Tensor<const float>, float*, float*, GradMode);

}  // namespace mdcsrn::gpu
