#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "engine/hd.h"

namespace mdcsrn {

// Sizes of a 5-D activation tensor in (N, C, D, H, W) order.
struct Shape5 {
  int64_t n = 0, c = 0, d = 0, h = 0, w = 0;

  MDCSRN_HD int64_t spatial() const { return d * h * w; }
  MDCSRN_HD int64_t numel() const { return n * c * d * h * w; }
  bool operator==(const Shape5&) const = default;
  std::string str() const;
};

// Strides in elements for each of (N, C, D, H, W).
struct Strides5 {
  int64_t n = 0, c = 0, d = 0, h = 0, w = 0;
  bool operator==(const Strides5&) const = default;
};

MDCSRN_HD Strides5 dense_strides(const Shape5& s) {
  return Strides5{s.c * s.d * s.h * s.w, s.d * s.h * s.w, s.h * s.w, s.w, 1};
}

// A non-owning view of a 5-D tensor with explicit strides. A channel range of a wider buffer is a
// view of it (same strides, shifted pointer), which is how the dense blocks concatenate features
// without copies. Kernels require dense spatial strides; N and C strides are free.
template <class T>
struct Tensor {
  T* data = nullptr;
  Shape5 shape{};
  Strides5 stride{};

  Tensor() = default;
  MDCSRN_HD Tensor(T* data_, Shape5 shape_, Strides5 stride_) : data(data_), shape(shape_), stride(stride_) {}
  MDCSRN_HD Tensor(T* data_, Shape5 shape_) : data(data_), shape(shape_), stride(dense_strides(shape_)) {}

  // A view with const elements, so read-only arguments can take any tensor.
  template <class U>
  MDCSRN_HD Tensor(const Tensor<U>& other) : data(other.data), shape(other.shape), stride(other.stride) {}

  MDCSRN_HD int64_t numel() const { return shape.numel(); }
  MDCSRN_HD int64_t offset(int64_t n, int64_t c, int64_t d, int64_t h, int64_t w) const {
    return n * stride.n + c * stride.c + d * stride.d + h * stride.h + w * stride.w;
  }
  MDCSRN_HD T& at(int64_t n, int64_t c, int64_t d, int64_t h, int64_t w) const {
    return data[offset(n, c, d, h, w)];
  }
  // Start of the dense D*H*W block of sample n, channel c.
  MDCSRN_HD T* plane(int64_t n, int64_t c) const { return data + n * stride.n + c * stride.c; }

  MDCSRN_HD bool spatially_dense() const {
    return stride.w == 1 && stride.h == shape.w && stride.d == shape.h * shape.w;
  }
  MDCSRN_HD bool contiguous() const { return spatially_dense() && stride.c == shape.spatial() && stride.n == shape.c * shape.spatial(); }

  // Channels [first, first + count) of this tensor, sharing its storage.
  Tensor channels(int64_t first, int64_t count) const {
    Shape5 s = shape;
    s.c = count;
    return Tensor(data + first * stride.c, s, stride);
  }
};

}  // namespace mdcsrn
