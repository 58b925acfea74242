#pragma once
// A fully connected layer over pooled features, as PyTorch's Linear: y[n, o] = b[o] +
// sum_c W[o, c] x[n, c], with x [N, C, 1, 1, 1], y [N, O, 1, 1, 1] and W [O, C] row-major (the
// brain-age regressor's head, O = 1). Each output's sums run over its inputs in index order in
// SumType (double for float) on the CPU and float on the GPU; the weight gradient sums over the
// batch in sample order.
#include <string>

#include "kernels/common.h"
#include "kernels/reduce.h"

namespace mdcsrn {

// Checks that x and y are [N, C, 1, 1, 1] and [N, O, 1, 1, 1] for one N.
void check_linear_shapes(const char* op, const Shape5& x, const Shape5& y);

namespace linear_detail {

template <class T, class S>
MDCSRN_HD T output_at(Tensor<const T> x, const T* w, const T* b, int64_t n, int64_t o) {
  S sum = b ? S(b[o]) : S(0);
  for (int64_t c = 0; c < x.shape.c; ++c) sum += S(w[o * x.shape.c + c]) * S(x.at(n, c, 0, 0, 0));
  return T(sum);
}

template <class T, class S>
MDCSRN_HD T input_gradient_at(const T* w, Tensor<const T> dy, int64_t inputs, int64_t n, int64_t c) {
  S sum = 0;
  for (int64_t o = 0; o < dy.shape.c; ++o) sum += S(w[o * inputs + c]) * S(dy.at(n, o, 0, 0, 0));
  return T(sum);
}

// c < 0: the bias gradient of output o.
template <class T, class S>
MDCSRN_HD T weight_gradient_at(Tensor<const T> x, Tensor<const T> dy, int64_t o, int64_t c) {
  S sum = 0;
  for (int64_t n = 0; n < dy.shape.n; ++n) sum += S(dy.at(n, o, 0, 0, 0)) * (c < 0 ? S(1) : S(x.at(n, c, 0, 0, 0)));
  return T(sum);
}

}  // namespace linear_detail

namespace cpu {

template <class T>
void linear_forward(Tensor<const T> x, const T* weight, const T* bias, Tensor<T> y) {
  check_linear_shapes("linear_forward", x.shape, y.shape);
  for (int64_t n = 0; n < y.shape.n; ++n)
    for (int64_t o = 0; o < y.shape.c; ++o) y.at(n, o, 0, 0, 0) = linear_detail::output_at<T, SumType<T>>(x, weight, bias, n, o);
}

template <class T>
void linear_backward_data(const T* weight, Tensor<const T> dy, Tensor<T> dx, GradMode mode) {
  check_linear_shapes("linear_backward_data", dx.shape, dy.shape);
  for (int64_t n = 0; n < dx.shape.n; ++n)
    for (int64_t c = 0; c < dx.shape.c; ++c)
      store_grad(dx.at(n, c, 0, 0, 0), linear_detail::input_gradient_at<T, SumType<T>>(weight, dy, dx.shape.c, n, c),
                 mode == GradMode::Accumulate);
}

// Weight gradient, and the bias gradient when dbias is not null.
template <class T>
void linear_backward_weight(Tensor<const T> x, Tensor<const T> dy, T* dweight, T* dbias, GradMode mode) {
  check_linear_shapes("linear_backward_weight", x.shape, dy.shape);
  const bool accumulate = mode == GradMode::Accumulate;
  for (int64_t o = 0; o < dy.shape.c; ++o) {
    for (int64_t c = 0; c < x.shape.c; ++c)
      store_grad(dweight[o * x.shape.c + c], linear_detail::weight_gradient_at<T, SumType<T>>(x, dy, o, c), accumulate);
    if (dbias) store_grad(dbias[o], linear_detail::weight_gradient_at<T, SumType<T>>(x, dy, o, -1), accumulate);
  }
}

}  // namespace cpu

// The GPU kernels (linear.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void linear_forward(Context& ctx, Tensor<const float> x, const float* weight, const float* bias, Tensor<float> y);
template <class Context>
void linear_backward_data(Context& ctx, const float* weight, Tensor<const float> dy, Tensor<float> dx, GradMode mode);
template <class Context>
void linear_backward_weight(Context& ctx, Tensor<const float> x, Tensor<const float> dy, float* dweight, float* dbias, GradMode mode);
}  // namespace gpu

}  // namespace mdcsrn
