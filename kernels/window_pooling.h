#pragma once
// Windowed pooling over cubic windows, as PyTorch's MaxPool3d and AvgPool3d (floor mode): the
// brain-age DenseNet's 3^3 stride-2 max pooling (padding 1, padded taps never win) and its
// transitions' 2^3 stride-2 average pooling (no padding). Max pooling records the winning input
// voxel of every output (its offset in the input plane; the first of equal maxima, NaN wins), so
// that backward routes each output's gradient to it. Both backwards gather: every input voxel sums
// the gradients of the outputs whose windows cover it, in output order, so no two threads write
// one voxel and the GPU needs no atomics. The per-voxel functions below are the CPU loops' and the
// CUDA threads' alike.
#include <cstdint>
#include <limits>
#include <string>

#include "kernels/common.h"

namespace mdcsrn {

struct PoolWindow {
  int kernel = 2;
  int stride = 2;
  int padding = 0;
};

MDCSRN_HD int64_t pool_output_size(int64_t input, const PoolWindow& w) {
  return (input + 2 * w.padding - w.kernel) / w.stride + 1;
}

inline Shape5 pool_output_shape(const Shape5& x, const PoolWindow& w) {
  return Shape5{x.n, x.c, pool_output_size(x.d, w), pool_output_size(x.h, w), pool_output_size(x.w, w)};
}

// Checks the window and that y (and the max-pool record, when given) fit x: one-line errors naming op.
void check_pool_shapes(const char* op, const PoolWindow& w, const Shape5& x, const Shape5& y);

namespace pool_detail {

struct AxisRange {
  int64_t begin, end;
};

// The input positions of output o's window along one axis, clipped to [0, input).
MDCSRN_HD AxisRange window_taps(int64_t o, int64_t input, const PoolWindow& w) {
  const int64_t first = o * w.stride - w.padding;
  return AxisRange{first < 0 ? 0 : first, first + w.kernel < input ? first + w.kernel : input};
}

// The outputs whose windows cover input position i along one axis.
MDCSRN_HD AxisRange covering_outputs(int64_t i, int64_t output, const PoolWindow& w) {
  const int64_t lowest = i + w.padding - w.kernel + 1;  // o * stride >= lowest
  const int64_t begin = lowest <= 0 ? 0 : (lowest + w.stride - 1) / w.stride;
  const int64_t last = (i + w.padding) / w.stride;
  return AxisRange{begin, last + 1 < output ? last + 1 : output};
}

// Calls visit(flat offset) for the voxels of box rd x rh x rw of a plane of rows x width, in
// memory order: a pooling window of an input plane, or the covering outputs of an output plane.
template <class Visit>
MDCSRN_HD void for_each_in_box(const AxisRange& rd, const AxisRange& rh, const AxisRange& rw, int64_t rows, int64_t width, Visit&& visit) {
  for (int64_t d = rd.begin; d < rd.end; ++d)
    for (int64_t h = rh.begin; h < rh.end; ++h)
      for (int64_t i = (d * rows + h) * width + rw.begin, e = i + (rw.end - rw.begin); i < e; ++i) visit(i);
}

// Output (od, oh, ow) of one plane: its maximum, and in `winner` the offset of that input voxel.
template <class T>
MDCSRN_HD T max_pool_at(const PoolWindow& w, const T* x, const Shape5& xs, int64_t od, int64_t oh, int64_t ow, int32_t& winner) {
  const AxisRange rd = window_taps(od, xs.d, w), rh = window_taps(oh, xs.h, w), rw = window_taps(ow, xs.w, w);
  T best = -std::numeric_limits<T>::infinity();
  int64_t at = (rd.begin * xs.h + rh.begin) * xs.w + rw.begin;
  for_each_in_box(rd, rh, rw, xs.h, xs.w, [&](int64_t i) {
    const T v = x[i];
    if (v > best || (v != v && best == best)) {
      best = v;
      at = i;
    }
  });
  winner = int32_t(at);
  return best;
}

template <class T>
MDCSRN_HD T avg_pool_at(const PoolWindow& w, const T* x, const Shape5& xs, int64_t od, int64_t oh, int64_t ow) {
  T sum = 0;
  for_each_in_box(window_taps(od, xs.d, w), window_taps(oh, xs.h, w), window_taps(ow, xs.w, w), xs.h, xs.w, [&](int64_t i) { sum += x[i]; });
  return sum / T(w.kernel * w.kernel * w.kernel);
}

// The gradient of input voxel (id, ih, iw) of one plane: the outputs that chose it (max) or
// that cover it (average), dy and the record being the plane's.
template <class T>
MDCSRN_HD T max_pool_gradient_at(const PoolWindow& w, const int32_t* winners, const T* dy, const Shape5& ys, const Shape5& xs, int64_t id,
                                 int64_t ih, int64_t iw) {
  const int32_t self = int32_t((id * xs.h + ih) * xs.w + iw);
  T sum = 0;
  for_each_in_box(covering_outputs(id, ys.d, w), covering_outputs(ih, ys.h, w), covering_outputs(iw, ys.w, w), ys.h, ys.w, [&](int64_t o) {
    if (winners[o] == self) sum += dy[o];
  });
  return sum;
}

template <class T>
MDCSRN_HD T avg_pool_gradient_at(const PoolWindow& w, const T* dy, const Shape5& ys, int64_t id, int64_t ih, int64_t iw) {
  T sum = 0;
  for_each_in_box(covering_outputs(id, ys.d, w), covering_outputs(ih, ys.h, w), covering_outputs(iw, ys.w, w), ys.h, ys.w, [&](int64_t o) { sum += dy[o]; });
  return sum / T(w.kernel * w.kernel * w.kernel);
}

}  // namespace pool_detail

namespace cpu {

// Calls body(n, c, d, h, w, flat plane offset) for every voxel of every plane of shape s.
template <class Body>
void for_each_voxel(const Shape5& s, Body&& body) {
  for_each_plane(s, [&](int64_t n, int64_t c) {
    for (int64_t d = 0, i = 0; d < s.d; ++d)
      for (int64_t h = 0; h < s.h; ++h)
        for (int64_t w = 0; w < s.w; ++w, ++i) body(n, c, d, h, w, i);
  });
}

// winners: the dense record [N, C, output voxels], kept for backward.
template <class T>
void max_pool_forward(const PoolWindow& w, Tensor<const T> x, Tensor<T> y, int32_t* winners) {
  check_pool_shapes("max_pool_forward", w, x.shape, y.shape);
  require_planes("max_pool_forward", x);
  require_planes("max_pool_forward", y);
  const int64_t out = y.shape.spatial();
  for_each_voxel(y.shape, [&](int64_t n, int64_t c, int64_t d, int64_t h, int64_t ow, int64_t i) {
    y.plane(n, c)[i] = pool_detail::max_pool_at(w, x.plane(n, c), x.shape, d, h, ow, winners[(n * y.shape.c + c) * out + i]);
  });
}

template <class T>
void max_pool_backward(const PoolWindow& w, const int32_t* winners, Tensor<const T> dy, Tensor<T> dx, GradMode mode) {
  check_pool_shapes("max_pool_backward", w, dx.shape, dy.shape);
  require_planes("max_pool_backward", dx);
  require_planes("max_pool_backward", dy);
  const int64_t out = dy.shape.spatial();
  const bool accumulate = mode == GradMode::Accumulate;
  for_each_voxel(dx.shape, [&](int64_t n, int64_t c, int64_t d, int64_t h, int64_t iw, int64_t i) {
    const T g = pool_detail::max_pool_gradient_at(w, winners + (n * dy.shape.c + c) * out, dy.plane(n, c), dy.shape, dx.shape, d, h, iw);
    store_grad(dx.plane(n, c)[i], g, accumulate);
  });
}

template <class T>
void avg_pool_forward(const PoolWindow& w, Tensor<const T> x, Tensor<T> y) {
  check_pool_shapes("avg_pool_forward", w, x.shape, y.shape);
  require_planes("avg_pool_forward", x);
  require_planes("avg_pool_forward", y);
  for_each_voxel(y.shape, [&](int64_t n, int64_t c, int64_t d, int64_t h, int64_t ow, int64_t i) {
    y.plane(n, c)[i] = pool_detail::avg_pool_at(w, x.plane(n, c), x.shape, d, h, ow);
  });
}

template <class T>
void avg_pool_backward(const PoolWindow& w, Tensor<const T> dy, Tensor<T> dx, GradMode mode) {
  check_pool_shapes("avg_pool_backward", w, dx.shape, dy.shape);
  require_planes("avg_pool_backward", dx);
  require_planes("avg_pool_backward", dy);
  const bool accumulate = mode == GradMode::Accumulate;
  for_each_voxel(dx.shape, [&](int64_t n, int64_t c, int64_t d, int64_t h, int64_t iw, int64_t i) {
    store_grad(dx.plane(n, c)[i], pool_detail::avg_pool_gradient_at(w, dy.plane(n, c), dy.shape, d, h, iw), accumulate);
  });
}

}  // namespace cpu

// The GPU kernels (window_pooling.cu), launched on a CudaContext or run by a simt::Emulator.
namespace gpu {
template <class Context>
void max_pool_forward(Context& ctx, const PoolWindow& w, Tensor<const float> x, Tensor<float> y, int32_t* winners);
template <class Context>
void max_pool_backward(Context& ctx, const PoolWindow& w, const int32_t* winners, Tensor<const float> dy, Tensor<float> dx, GradMode mode);
template <class Context>
void avg_pool_forward(Context& ctx, const PoolWindow& w, Tensor<const float> x, Tensor<float> y);
template <class Context>
void avg_pool_backward(Context& ctx, const PoolWindow& w, Tensor<const float> dy, Tensor<float> dx, GradMode mode);
}  // namespace gpu

}  // namespace mdcsrn
