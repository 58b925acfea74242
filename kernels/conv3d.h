#pragma once
// 3-D convolution (cross-correlation, as PyTorch's Conv3d): cubic kernel of size 1, 3 or 7 (the
// brain-age DenseNet's stem), stride 1 or 2, zero padding, optional bias. Weights are
// [C_out, C_in, k, k, k], contiguous. On the CPU, stride 1 with kernels 1 and 3 runs register-blocked
// kernels (conv3d_cpu_blocked.cpp) and everything else the direct convolution, which is also the
// reference every other path is tested against; the GPU path is cuDNN (conv3d_cudnn.cpp).
#include <algorithm>

#include "kernels/common.h"
#include "kernels/reduce.h"

namespace mdcsrn {

struct ConvParams {
  int kernel = 3;
  int stride = 1;
  int padding = 1;

  bool operator==(const ConvParams&) const = default;
};

inline int64_t conv_output_size(int64_t input, const ConvParams& p) {
  return (input + 2 * p.padding - p.kernel) / p.stride + 1;
}

inline Shape5 conv_output_shape(const Shape5& x, int64_t out_channels, const ConvParams& p) {
  return Shape5{x.n, out_channels, conv_output_size(x.d, p), conv_output_size(x.h, p), conv_output_size(x.w, p)};
}

inline int64_t conv_weight_count(int64_t in_channels, int64_t out_channels, const ConvParams& p) {
  return out_channels * in_channels * p.kernel * p.kernel * p.kernel;
}

void check_conv_shapes(const char* op, const ConvParams& p, const Shape5& x, const Shape5& y);

namespace cpu {
namespace conv_detail {

// Output positions o whose input position o * stride - padding + k lies inside [0, input).
struct ValidRange {
  int64_t begin, end;
};
inline ValidRange valid_outputs(int64_t output, int64_t input, const ConvParams& p, int k) {
  const int64_t offset = k - p.padding;  // input = o * stride + offset
  int64_t begin = offset >= 0 ? 0 : (-offset + p.stride - 1) / p.stride;
  int64_t end = (input - 1 - offset) >= 0 ? (input - 1 - offset) / p.stride + 1 : 0;
  return ValidRange{std::min(begin, output), std::min(end, output)};
}

// The shapes the register-blocked kernels cover.
inline bool blocked_conv(const ConvParams& p) { return p.stride == 1 && p.kernel <= 3; }

// Visits every (output row, input row) pair that kernel tap (kd, kh, kw) connects, with the range
// of output columns that stay inside the input: body(out_row, in_row, ow_begin, ow_end, in_col_offset).
template <class Body>
void for_each_tap_row(const Shape5& x, const Shape5& y, const ConvParams& p, int kd, int kh, int kw, Body&& body) {
  const ValidRange rd = valid_outputs(y.d, x.d, p, kd);
  const ValidRange rh = valid_outputs(y.h, x.h, p, kh);
  const ValidRange rw = valid_outputs(y.w, x.w, p, kw);
  for (int64_t od = rd.begin; od < rd.end; ++od) {
    const int64_t id = od * p.stride - p.padding + kd;
    for (int64_t oh = rh.begin; oh < rh.end; ++oh) {
      const int64_t ih = oh * p.stride - p.padding + kh;
      body((od * y.h + oh) * y.w, (id * x.h + ih) * x.w, rw.begin, rw.end, int64_t(kw) - p.padding);
    }
  }
}

}  // namespace conv_detail

// dbias[co] (+)= the sum of dy over samples and voxels.
template <class T>
void conv3d_bias_gradient(Tensor<const T> dy, T* dbias, GradMode mode) {
  const int64_t spatial = dy.shape.spatial();
  for (int64_t co = 0; co < dy.shape.c; ++co) {
    SumType<T> total = 0;
    for (int64_t n = 0; n < dy.shape.n; ++n) {
      const T* g = dy.plane(n, co);
      SumType<T> plane = 0;
      for (int64_t i = 0; i < spatial; ++i) plane += g[i];
      total += plane;
    }
    store_grad(dbias[co], T(total), mode == GradMode::Accumulate);
  }
}

// The direct convolution: any stride, obviously correct, slow. The reference for every other path.
namespace reference {

template <class T>
void conv3d_forward(const ConvParams& p, Tensor<const T> x, const T* weight, const T* bias, Tensor<T> y) {
  check_conv_shapes("conv3d_forward", p, x.shape, y.shape);
  const int64_t cin = x.shape.c, taps = int64_t(p.kernel) * p.kernel * p.kernel, spatial = y.shape.spatial();
  const int64_t s = p.stride;
  for_each_plane(y.shape, [&](int64_t n, int64_t co) {
    T* yp = y.plane(n, co);
    std::fill(yp, yp + spatial, bias ? bias[co] : T(0));
    for (int64_t ci = 0; ci < cin; ++ci) {
      const T* xp = x.plane(n, ci);
      const T* wp = weight + (co * cin + ci) * taps;
      for (int kd = 0; kd < p.kernel; ++kd)
        for (int kh = 0; kh < p.kernel; ++kh)
          for (int kw = 0; kw < p.kernel; ++kw) {
            const T wv = wp[(kd * p.kernel + kh) * p.kernel + kw];
            conv_detail::for_each_tap_row(x.shape, y.shape, p, kd, kh, kw,
                                          [&](int64_t yrow, int64_t xrow, int64_t ow0, int64_t ow1, int64_t col) {
                                            T* out = yp + yrow;
                                            const T* in = xp + xrow + col;
                                            for (int64_t ow = ow0; ow < ow1; ++ow) out[ow] += wv * in[ow * s];
                                          });
          }
    }
  });
}

template <class T>
void conv3d_backward_data(const ConvParams& p, const T* weight, Tensor<const T> dy, Tensor<T> dx, GradMode mode) {
  check_conv_shapes("conv3d_backward_data", p, dx.shape, dy.shape);
  const int64_t cin = dx.shape.c, cout = dy.shape.c, taps = int64_t(p.kernel) * p.kernel * p.kernel;
  const int64_t s = p.stride;
  for_each_plane(dx.shape, [&](int64_t n, int64_t ci) {
    T* dxp = dx.plane(n, ci);
    if (mode == GradMode::Overwrite) std::fill(dxp, dxp + dx.shape.spatial(), T(0));
    for (int64_t co = 0; co < cout; ++co) {
      const T* dyp = dy.plane(n, co);
      const T* wp = weight + (co * cin + ci) * taps;
      for (int kd = 0; kd < p.kernel; ++kd)
        for (int kh = 0; kh < p.kernel; ++kh)
          for (int kw = 0; kw < p.kernel; ++kw) {
            const T wv = wp[(kd * p.kernel + kh) * p.kernel + kw];
            conv_detail::for_each_tap_row(dx.shape, dy.shape, p, kd, kh, kw,
                                          [&](int64_t yrow, int64_t xrow, int64_t ow0, int64_t ow1, int64_t col) {
                                            const T* g = dyp + yrow;
                                            T* out = dxp + xrow + col;
                                            for (int64_t ow = ow0; ow < ow1; ++ow) out[ow * s] += wv * g[ow];
                                          });
          }
    }
  });
}

template <class T>
void conv3d_backward_weight(const ConvParams& p, Tensor<const T> x, Tensor<const T> dy, T* dweight, T* dbias,
                            GradMode mode) {
  check_conv_shapes("conv3d_backward_weight", p, x.shape, dy.shape);
  const int64_t cin = x.shape.c, cout = dy.shape.c, taps = int64_t(p.kernel) * p.kernel * p.kernel;
  const int64_t s = p.stride;
  const bool accumulate = mode == GradMode::Accumulate;
  parallel_for(cout * cin, 1, [&](int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t co = pair / cin, ci = pair % cin;
      for (int kd = 0; kd < p.kernel; ++kd)
        for (int kh = 0; kh < p.kernel; ++kh)
          for (int kw = 0; kw < p.kernel; ++kw) {
            T total = 0;
            for (int64_t n = 0; n < x.shape.n; ++n) {
              const T* xp = x.plane(n, ci);
              const T* dyp = dy.plane(n, co);
              conv_detail::for_each_tap_row(x.shape, dy.shape, p, kd, kh, kw,
                                            [&](int64_t yrow, int64_t xrow, int64_t ow0, int64_t ow1, int64_t col) {
                                              const T* g = dyp + yrow;
                                              const T* in = xp + xrow + col;
                                              T row = 0;
                                              for (int64_t ow = ow0; ow < ow1; ++ow) row += g[ow] * in[ow * s];
                                              total += row;
                                            });
            }
            store_grad(dweight[pair * taps + (kd * p.kernel + kh) * p.kernel + kw], total, accumulate);
          }
    }
  });
  if (dbias) conv3d_bias_gradient<T>(dy, dbias, mode);
}

}  // namespace reference

namespace blocked {
// Stride 1, kernels 1 and 3 only; the weight gradient without the bias.
template <class T>
void conv3d_forward(const ConvParams& p, Tensor<const T> x, const T* weight, const T* bias, Tensor<T> y);
template <class T>
void conv3d_backward_data(const ConvParams& p, const T* weight, Tensor<const T> dy, Tensor<T> dx, GradMode mode);
template <class T>
void conv3d_backward_weight(const ConvParams& p, Tensor<const T> x, Tensor<const T> dy, T* dweight, GradMode mode);
}  // namespace blocked

template <class T>
void conv3d_forward(const ConvParams& p, Tensor<const T> x, const T* weight, const T* bias, Tensor<T> y) {
  check_conv_shapes("conv3d_forward", p, x.shape, y.shape);
  if (conv_detail::blocked_conv(p)) return blocked::conv3d_forward<T>(p, x, weight, bias, y);
  reference::conv3d_forward<T>(p, x, weight, bias, y);
}

template <class T>
void conv3d_backward_data(const ConvParams& p, const T* weight, Tensor<const T> dy, Tensor<T> dx, GradMode mode) {
  check_conv_shapes("conv3d_backward_data", p, dx.shape, dy.shape);
  if (conv_detail::blocked_conv(p)) return blocked::conv3d_backward_data<T>(p, weight, dy, dx, mode);
  reference::conv3d_backward_data<T>(p, weight, dy, dx, mode);
}

// Weight gradient, and the bias gradient when dbias is not null.
template <class T>
void conv3d_backward_weight(const ConvParams& p, Tensor<const T> x, Tensor<const T> dy, T* dweight, T* dbias, GradMode mode) {
  check_conv_shapes("conv3d_backward_weight", p, x.shape, dy.shape);
  if (!conv_detail::blocked_conv(p)) return reference::conv3d_backward_weight<T>(p, x, dy, dweight, dbias, mode);
  blocked::conv3d_backward_weight<T>(p, x, dy, dweight, mode);
  if (dbias) conv3d_bias_gradient<T>(dy, dbias, mode);
}

}  // namespace cpu

namespace simt {
class Emulator;
}
namespace gpu {
// Under the SIMT emulator the CPU convolutions (fp32) stand in for cuDNN (conv3d_emulated.cpp).
void conv3d_forward(simt::Emulator& ctx, const ConvParams& p, Tensor<const float> x, const float* weight, const float* bias,
                    Tensor<float> y);
void conv3d_backward_data(simt::Emulator& ctx, const ConvParams& p, const float* weight, Tensor<const float> dy, Tensor<float> dx,
                          GradMode mode);
void conv3d_backward_weight(simt::Emulator& ctx, const ConvParams& p, Tensor<const float> x, Tensor<const float> dy, float* dweight,
                            float* dbias, GradMode mode);
}  // namespace gpu

#ifdef MDCSRN_HAVE_CUDA
class CudaContext;
namespace gpu {
// cuDNN; per shape, the first deterministic algorithm of cuDNN's heuristic ranking, cached in ctx.
void conv3d_forward(CudaContext& ctx, const ConvParams& p, Tensor<const float> x, const float* weight,
                    const float* bias, Tensor<float> y);
void conv3d_backward_data(CudaContext& ctx, const ConvParams& p, const float* weight, Tensor<const float> dy,
                          Tensor<float> dx, GradMode mode);
void conv3d_backward_weight(CudaContext& ctx, const ConvParams& p, Tensor<const float> x, Tensor<const float> dy,
                            float* dweight, float* dbias, GradMode mode);
}  // namespace gpu
#endif

}  // namespace mdcsrn
